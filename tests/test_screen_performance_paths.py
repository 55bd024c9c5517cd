"""The fast paths of issue 5 give the results of the straightforward computations they replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import iatrogenic as ia
from iatrogenic._validation import _patient_codes, prepare_long
from iatrogenic.core import expected_response, growth
from iatrogenic.detectors import disengagement, sudden_loss, symptom_emergence
from iatrogenic.detectors._sequences import run_lengths
from iatrogenic.detectors.base import ScreenInput, formatted, join_texts, label, labels
from iatrogenic.detectors.disengagement import score_course
from iatrogenic.detectors.reliable_deterioration import ReliableDeterioration

screen_module = __import__("sys").modules["iatrogenic.screen"]


def _long_scores(seed: int, n: int, sessions: int = 10, missing: float = 0.2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    slope = np.where(rng.random(n) < 0.15, rng.normal(1.0, 0.5, n), rng.normal(-0.8, 0.4, n))
    t = np.arange(1, sessions + 1)
    score = rng.normal(15, 4, n)[:, None] + slope[:, None] * t + rng.normal(0, 2, (n, sessions))
    score[rng.random(score.shape) < missing] = np.nan
    return pd.DataFrame({"patient": np.repeat(np.arange(n), sessions),
                         "session": np.tile(t, n), "score": np.clip(score, 0, 27).ravel()})


def _stats(data: pd.DataFrame) -> tuple[growth._Stats, growth._GroupedStats]:
    kept = data.dropna(subset=["score"])
    codes = kept["patient"].to_numpy()
    t = kept["session"].to_numpy(dtype=float)
    y = kept["score"].to_numpy()
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    st = growth._sufficient_stats(np.column_stack([np.ones_like(t), t, y]), 2, starts)
    (g00, g01, y0), (_, g11, y1) = st.B[0], st.B[1]
    _, group = np.unique(np.column_stack([g00, g01, g11]), axis=0, return_inverse=True)
    group = group.reshape(-1)
    grouped = growth._grouped_stats(group, int(group.max()) + 1, (g00, g01, g11, y0, y1),
                                    float(st.XyXy[2, 2]))
    return st, grouped


@pytest.mark.parametrize("theta", [[1.0, 0.0, 1.0], [0.6, -0.3, 0.2], [2.0, 0.5, 0.01]])
@pytest.mark.parametrize("reml", [True, False])
def test_grouped_criterion_and_gradient_equal_the_per_patient_ones(theta, reml):
    st, grouped = _stats(_long_scores(1, 3000))
    assert len(grouped.n) < 3000  # patients were pooled
    full = growth._evaluate(np.array(theta), st, reml, gradient=True)
    pooled = growth._evaluate(np.array(theta), grouped, reml, gradient=True)
    assert full is not None and pooled is not None
    assert pooled.crit == pytest.approx(full.crit, rel=1e-12)
    assert pooled.r2 == pytest.approx(full.r2, rel=1e-10)
    np.testing.assert_allclose(pooled.beta, full.beta, rtol=1e-10)
    np.testing.assert_allclose(pooled.grad, full.grad, rtol=1e-7, atol=1e-7)


def _reference_events(data: pd.DataFrame, min_sessions: int = 3, alpha: float = 0.05):
    """Worsening trajectory as first written: a per-patient REML refit at every occasion, from
    the rows up to it, warm-started from the previous fit."""
    z = float(stats.norm.ppf(1 - alpha / 2))
    kept = data.dropna(subset=["score"]).sort_values(["patient", "session"])
    flagged_before: dict = {}
    out = []
    start = None
    for occasion in np.unique(kept["session"]):
        upto = kept[kept["session"] <= occasion]
        codes, t, y = (upto["patient"].to_numpy(), upto["session"].to_numpy(float),
                       upto["score"].to_numpy())
        counts = upto.groupby("patient").size()
        now = upto[(upto["session"] == occasion)]
        judged = now[counts.loc[now["patient"]].to_numpy() >= min_sessions]
        if judged.empty:
            continue
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        st = growth._sufficient_stats(np.column_stack([np.ones_like(t), t, y]), 2, starts)
        fit = growth._optimise(st, True, start=start, maxiter=1000, has_cluster=False)
        assert fit.converged
        start = fit.theta
        ev = fit.ev
        sigma2 = ev.r2 / (st.n_obs - 2)
        _, w01, w11 = ev.W
        s0 = st.B[0][2] - ev.beta @ st.B[0][:2]
        s1 = st.B[1][2] - ev.beta @ st.B[1][:2]
        where = np.searchsorted(codes[starts], judged["patient"].to_numpy())
        slope = ev.beta[1] + (w01 * s0 + w11 * s1)[where]
        sd = np.sqrt(sigma2 * (np.linalg.inv(ev.A)[1, 1] + w11[where]))
        for patient, s, d in zip(judged["patient"], slope, sd, strict=True):
            flag = s - z * d > 0
            if flag and not flagged_before.get(patient, False):
                out.append((patient, occasion, s))
            flagged_before[patient] = flag
    return pd.DataFrame(out, columns=["patient", "session", "value"]).sort_values(
        ["patient", "session"], ignore_index=True)


def test_worsening_trajectory_matches_refits_from_the_rows():
    data = _long_scores(7, 400)
    events = ia.screen(data, detectors=["worsening_trajectory"])
    reference = _reference_events(data)
    assert len(reference) > 20
    assert events["patient"].tolist() == reference["patient"].tolist()
    assert events["session"].astype(int).tolist() == reference["session"].tolist()
    np.testing.assert_allclose(events["value"], reference["value"], rtol=1e-6)


def test_worsening_trajectory_with_dates_and_text_occasions():
    data = _long_scores(3, 150, sessions=8)
    by_number = ia.screen(data, detectors=["worsening_trajectory"])
    assert len(by_number) > 0
    labels = {s: f"visit {s:02d}" for s in range(1, 9)}
    text = data.assign(session=data["session"].map(labels))
    by_text = ia.screen(text, detectors=["worsening_trajectory"])
    # ranks 0..7 instead of 1..8: the same slopes
    assert by_text["patient"].tolist() == by_number["patient"].tolist()
    np.testing.assert_allclose(by_text["value"], by_number["value"], rtol=1e-6)
    # Dates: screen() used to fail on merging the events' datetime sessions (fixed with issue 5).
    # Here only that the screen runs is checked; test_worsening_trajectory covers date sessions.
    dated = data.assign(session=pd.Timestamp("2024-01-01") + pd.to_timedelta(
        7 * data["session"], unit="D"))
    by_date = ia.screen(dated, detectors=["worsening_trajectory", "reliable_deterioration"],
                        instrument="phq9")
    assert set(by_date["session"]) <= set(dated["session"])
    slopes = by_date[by_date["detector"] == "worsening_trajectory"]
    assert slopes["evidence"].str.contains("points per day").all()


@pytest.mark.parametrize(
    "ids",
    [np.array([1, 1, 2, 5, 5, 5, 9]), np.array([0.5, 0.5, 2.0, 3.0]), np.array([3, 1, 1, 2]),
     np.array(["b", "a", "a"], dtype=object)],
)
def test_patient_codes_equal_sorted_factorize(ids):
    codes, patients = _patient_codes(pd.Series(ids))
    expected_codes, expected = pd.factorize(pd.Series(ids), sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert codes.dtype == np.int64
    pd.testing.assert_index_equal(pd.Index(patients), pd.Index(expected))


def test_sorted_input_is_shared_not_copied_and_stays_safe():
    data = _long_scores(2, 50)
    before = data.copy(deep=True)
    long = prepare_long(data, patient="patient", time="session", score="score", caller="t")
    assert np.shares_memory(long.frame["score"].to_numpy(), data["score"].to_numpy())
    long.frame.loc[0, "score"] = 99.0  # copy-on-write: the caller's data must not change
    pd.testing.assert_frame_equal(data, before)
    shuffled = data.sample(frac=1.0, random_state=1)
    again = prepare_long(shuffled, patient="patient", time="session", score="score", caller="t")
    expected = prepare_long(before, patient="patient", time="session", score="score",
                            caller="t")
    pd.testing.assert_frame_equal(again.frame, expected.frame)


def test_sudden_loss_in_blocks_equals_one_block(monkeypatch):
    data, _ = ia.datasets.simulate(n_patients=150, n_therapists=5, seed=11)
    whole = ia.screen(data, detectors=["sudden_loss"], score="phq9", instrument="phq9")
    monkeypatch.setattr(sudden_loss, "_BLOCK_CELLS", 40)  # a few patients per block
    blocks = ia.screen(data, detectors=["sudden_loss"], score="phq9", instrument="phq9")
    assert len(whole) > 0
    pd.testing.assert_frame_equal(blocks, whole, check_exact=True)


def test_score_course_matches_a_row_by_row_reading():
    data = _long_scores(5, 60, sessions=6, missing=0.4)
    data.loc[data["patient"] == 3, "score"] = np.nan  # a patient with no score at all
    long = prepare_long(data, patient="patient", time="session", score="score", caller="t")
    course = score_course(ScreenInput(long=long, instrument=ia.instruments.get("phq9")),
                          ReliableDeterioration())
    scores = long.frame["score"].to_numpy()
    for p in range(long.n_patients):
        first_seen = latest = -1
        for row in range(long.starts[p], long.starts[p + 1]):
            if not np.isnan(scores[row]):
                latest = row
                first_seen = row if first_seen < 0 else first_seen
            assert course.latest_row[row] == latest
            assert course.intake_row[row] == (first_seen if latest >= 0 else -1)
            if latest < 0:
                assert np.isnan(course.worsening[row])
            else:
                assert course.worsening[row] == scores[latest] - scores[first_seen]



def test_disengagement_in_blocks_equals_one_block(monkeypatch):
    # attendance, dates and endings, so every trigger and the score course are read by block
    data, _, medications = ia.datasets.simulate(
        n_patients=150, n_therapists=5, seed=11, return_medications=True
    )
    options = ia.datasets.screen_options(medications)
    whole = ia.screen(data, detectors=["disengagement"], **options)
    long = prepare_long(data, patient="patient", time="session", score="phq9", caller="t")
    course = score_course(ScreenInput(long=long, instrument=ia.instruments.get("phq9")),
                          ReliableDeterioration())
    monkeypatch.setattr(disengagement, "_BLOCK_ROWS", 7)  # one patient (or two) per block
    blocks = ia.screen(data, detectors=["disengagement"], **options)
    in_blocks = score_course(ScreenInput(long=long, instrument=ia.instruments.get("phq9")),
                             ReliableDeterioration())
    assert set(whole["level"]) == {"warning", "alarm"}
    pd.testing.assert_frame_equal(blocks, whole, check_exact=True)
    for field in ("intake_row", "latest_row", "worsening"):
        np.testing.assert_array_equal(getattr(in_blocks, field), getattr(course, field))


# -- issue 12: evidence text by distinct value, the event sort, attendance text ------------------

_FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from(
    [0.0, -0.0, 1.0, 2.5, 1e16, 1e-7, np.nan, -np.nan]
)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(_FLOATS, max_size=40), spec=st.sampled_from(["g", "+g", ".1f", "+.2f"]))
def test_labels_and_formatted_equal_one_value_at_a_time(values, spec):
    array = np.array(values, dtype=np.float64)
    assert labels(array).tolist() == [label(v) for v in array]
    assert formatted(array, spec).tolist() == [format(v, spec) for v in array]
    with np.errstate(over="ignore"):
        as_float32 = array.astype(np.float32)
    assert formatted(as_float32, "g").tolist() == [format(v, "g") for v in as_float32]


@pytest.mark.parametrize(
    "values",
    [
        np.array([3, 1, 3, -2], dtype=np.int64),
        np.array([1, 1.0, True, None, np.nan, "a", pd.NaT], dtype=object),  # merged by pandas
        np.array(["pre", "post", "pre"], dtype=object),
        pd.to_datetime(["2024-01-08", "2024-01-08T10:30", None], format="ISO8601").to_numpy(),
        np.array([True, False, True]),
        np.zeros(0),
    ],
)
def test_labels_of_other_dtypes_equal_one_value_at_a_time(values):
    assert labels(values).tolist() == [label(v) for v in values]


def test_dated_sessions_read_as_dates_in_evidence():
    data = ia.datasets.load_example()
    events = ia.screen(data, score="phq9", instrument="phq9", time="date",
                       detectors=["reliable_deterioration", "risk_item"])
    assert len(events) > 0
    sessions = events["evidence"].str.findall(r"at session (\S+?)[ :)]").explode()
    assert sessions.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all(), sessions.head()


def test_join_texts_keeps_the_order_of_the_parts():
    first = np.array([True, False, True, False])
    second = np.array([True, True, False, False])
    joined = join_texts(4, [(first, np.array(["a0", "a2"], dtype=object)),
                            (second, np.array(["b0", "b1"], dtype=object))], sep=" | ")
    assert joined.tolist() == ["a0 | b0", "b1", "a2", ""]


def _sort_by_merge(events: pd.DataFrame, long) -> pd.DataFrame:
    """The event order of issue 5 (a merge on the session objects, then sort_values)."""
    code = long.patients.get_indexer(pd.Index(events["patient"]))
    keys = pd.DataFrame({"_code": long.codes,
                         "session": pd.Series(long.frame["time"].to_numpy(dtype=object),
                                              dtype=object),
                         "_order": long.order})
    ordered = events.assign(_code=code).merge(keys, on=["_code", "session"], how="left")
    return (ordered.sort_values(["_code", "_order", "detector"], kind="stable",
                                na_position="last")
            .drop(columns=["_code", "_order"]).reset_index(drop=True))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_event_sort_equals_the_merge_and_sort(seed):
    rng = np.random.default_rng(seed)
    data = _long_scores(seed, 40, sessions=6)
    data["session"] = data["session"] * 2.0  # float occasions 2, 4, ... 12
    long = prepare_long(data, patient="patient", time="session", score="score", caller="test")
    n = 300
    sessions = rng.choice([2, 4.0, 6, 8.0, 10, 12, 3, 99], n).astype(object)  # 3, 99: no such row
    events = pd.DataFrame({
        "patient": pd.Series(rng.integers(0, 40, n), dtype=object),
        "detector": pd.Series(rng.choice(["b", "a", "c"], n), dtype=object),
        "session": pd.Series(sessions, dtype=object),
        "value": np.arange(n, dtype=np.float64),
    })
    code = long.patients.get_indexer(pd.Index(events["patient"]))
    assert screen_module._numeric_session_rank(events, code, long) is not None  # the fast path
    pd.testing.assert_frame_equal(
        screen_module._sort_events(events, long), _sort_by_merge(events, long)
    )
    # sessions that are not numbers take the merge path
    texts = events.assign(session=events["session"].map(lambda s: f"s{s}"))
    assert screen_module._numeric_session_rank(texts, code, long) is None


def test_attendance_text_with_numbers_falls_back_to_each_value():
    data = pd.DataFrame({"patient": [1, 1, 1], "session": [1, 2, 3], "score": [10.0, 12, 14],
                         "attendance": pd.Series([1, 1.0, True], dtype=object)})
    # 1, 1.0 and True are one value to pandas' factorize, but three different texts
    message = r"attendance='1'\).*attendance='1\.0'\).*attendance='true'\)"
    with pytest.raises(ia.exceptions.InvalidValueError, match=message):
        ia.screen(data, attendance="attendance", detectors=["disengagement"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.booleans()), max_size=40))
def test_run_lengths_equal_a_row_by_row_count(entries):
    codes = np.sort(np.array([c for c, _ in entries], dtype=np.int64))
    flag = np.array([f for _, f in entries], dtype=bool)
    expected, run = [], 0
    for i in range(len(flag)):
        run = 0 if not flag[i] else (run + 1 if i > 0 and codes[i] == codes[i - 1] else 1)
        expected.append(run)
    result = run_lengths(flag, codes)
    assert result.dtype == np.int64
    assert result.tolist() == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.sampled_from([np.nan, 0.0, 1.0, 2.0, 3.0])),
             max_size=40),
    st.integers(1, 3),
)
def test_symptom_runs_equal_a_row_by_row_reading(entries, persist):
    codes = np.sort(np.array([c for c, _ in entries], dtype=np.int64))
    values = np.array([v for _, v in entries], dtype=np.float64)
    expected = []  # (row, alarm, run start, intake row)
    intake = start = -1
    run = 0
    for i, value in enumerate(values):
        if i == 0 or codes[i] != codes[i - 1]:
            intake, run = -1, 0
        if np.isnan(value):
            continue  # skipped, not a break
        if intake < 0:
            intake = i
            continue
        if values[intake] <= 1 and value >= 2:
            run += 1
            start = i if run == 1 else start
            if run == 1 and persist > 1:
                expected.append((i, False, start, intake))
            if run == persist:
                expected.append((i, True, start, intake))
        else:
            run = 0
    rows, alarm, starts, intakes = symptom_emergence._runs(
        values, codes, lambda v: v <= 1, lambda v: v >= 2, persist
    )
    assert list(zip(rows.tolist(), alarm.tolist(), starts.tolist(), intakes.tolist(),
                    strict=True)) == expected


@pytest.mark.filterwarnings("ignore::iatrogenic.exceptions.DataQualityWarning")
def test_categorical_attendance_equals_its_text():
    # The categorical column's own codes (with unused, missing and untidy categories) give the
    # events of the same column as text.
    data, _ = ia.datasets.simulate(300, 10, seed=5)
    data["attendance"] = data["attendance"].astype(object)
    data.loc[data.index[::17], "attendance"] = np.nan
    data.loc[data.index[::23], "attendance"] = " DNA "
    as_category = data.assign(
        attendance=pd.Categorical(data["attendance"],
                                  categories=["unused", " DNA ", "attended", "dna", "cancelled"])
    )
    text = ia.screen(data, score="phq9", attendance="attendance", date="date",
                     detectors=["disengagement", "dependency"])
    category = ia.screen(as_category, score="phq9", attendance="attendance", date="date",
                         detectors=["disengagement", "dependency"])
    assert len(text) > 0
    pd.testing.assert_frame_equal(text, category)


def test_track_in_blocks_equals_one_block(monkeypatch):
    # The expected-response columns and the off-track events are computed over blocks of whole
    # patients; the block size does not change them.
    data, _ = ia.datasets.simulate(200, 10, seed=9)
    data.loc[data.index[::11], "phq9"] = np.nan
    model = ia.load_reference_model()
    whole = model.track(data, score="phq9")
    events = ia.screen(data, score="phq9", instrument="phq9", detectors=["off_track"])
    monkeypatch.setattr(expected_response, "_TRACK_BLOCK_ROWS", 7)
    pd.testing.assert_frame_equal(model.track(data, score="phq9"), whole, check_exact=True)
    blocked = ia.screen(data, score="phq9", instrument="phq9", detectors=["off_track"])
    pd.testing.assert_frame_equal(blocked, events, check_exact=True)
    assert whole["signal"].notna().any() and whole["reason"].notna().any() and len(events) > 0


def test_risk_item_in_blocks_equals_one_block(monkeypatch):
    # blocks of whole patients: with 7-row blocks the events are those of one block
    from iatrogenic.detectors import _sequences

    data, _ = ia.datasets.simulate(n_patients=300, n_therapists=10, seed=21)
    detector = ia.get_detector("risk_item", jump=1, persist=2)
    one = ia.screen(data, score="phq9", instrument="phq9", detectors=[detector])
    assert {"alarm", "warning"} <= set(one["level"])
    monkeypatch.setattr(_sequences, "BLOCK_ROWS", 7)
    assert len(_sequences.patient_blocks(np.array([0, 12, 24, 36]))) == 4
    small = ia.screen(data, score="phq9", instrument="phq9", detectors=[detector])
    pd.testing.assert_frame_equal(small, one, check_exact=True)
