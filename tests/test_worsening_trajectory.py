"""The worsening_trajectory detector: causal growth-model slopes credibly on the harmful side."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import iatrogenic as ia
import iatrogenic.exceptions as exc
from iatrogenic.core import growth
from iatrogenic.core.growth import fit_growth
from iatrogenic.detectors import EVENT_COLUMNS
from iatrogenic.detectors import worsening_trajectory as wt
from iatrogenic.detectors.worsening_trajectory import WorseningTrajectory


def cohort(seed: int = 2, n: int = 60, sessions: int = 10) -> pd.DataFrame:
    """Most patients improve by 1 point per session; patients w00..w04 worsen by 1.5."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        worse = i < 5
        slope = 1.5 if worse else -1.0 + rng.normal(0, 0.3)
        start = rng.normal(18, 3)
        for s in range(1, sessions + 1):
            rows.append((f"{'w' if worse else 'p'}{i:02d}", s,
                         start + slope * (s - 1) + rng.normal(0, 1.5)))
    return pd.DataFrame(rows, columns=["patient", "session", "score"])


def dated_cohort(seed: int = 4, n: int = 80, sessions: int = 9) -> pd.DataFrame:
    """Calendar dates: staggered intakes over ~10 months, 5-10 days between sessions, so there
    are far more distinct dates (occasions) than sessions. Patients w00..w05 worsen by 0.2 a day.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        worse = i < 6
        slope = 0.2 if worse else -0.12 + rng.normal(0, 0.03)
        start = rng.normal(18, 3)
        day = int(rng.integers(0, 300))
        intake = day
        for _ in range(sessions):
            rows.append((f"{'w' if worse else 'p'}{i:02d}", pd.Timestamp("2025-01-06")
                         + pd.Timedelta(days=day), start + slope * (day - intake)
                         + rng.normal(0, 1.5)))
            day += int(rng.integers(5, 11))
    return pd.DataFrame(rows, columns=["patient", "session", "score"])


def screen(data: pd.DataFrame, **params) -> pd.DataFrame:
    return ia.screen(data, detectors=[WorseningTrajectory(**params)])


def count_fits(monkeypatch) -> list[int]:
    """Record the number of patient groups of every population refit."""
    calls: list[int] = []
    fit = wt._fit_slopes_grouped

    def counted(st, **kwargs):
        calls.append(len(st.n))
        return fit(st, **kwargs)

    monkeypatch.setattr(wt, "_fit_slopes_grouped", counted)
    return calls


def test_flags_the_worsening_patients_once_each():
    events = screen(cohort())
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert set(events["patient"]) == {f"w{i:02d}" for i in range(5)}
    assert events["patient"].is_unique  # one spell each: an alarm at its first session
    assert (events["harm"] == "worsening_course").all() and (events["level"] == "alarm").all()
    assert (events["value"] > 0).all() and (events["threshold"] == 0).all()
    assert (events["session"].astype(int) >= 3).all()
    assert events["evidence"].str.contains("95% interval").all()


def test_event_matches_a_refit_on_the_data_so_far():
    data = cohort()
    events = screen(data)
    first = events.iloc[0]
    so_far = data[data["session"] <= first["session"]]
    model = fit_growth(so_far)
    eb = model.random_effects_.set_index("patient").loc[first["patient"]]
    slope = model.fixed_effects_["time"] + eb["time"]
    assert first["value"] == pytest.approx(slope, rel=1e-6)
    sd = np.sqrt(model.fixed_effects_se_["time"] ** 2 + eb["time_sd"] ** 2)
    assert slope - 1.959963984540054 * sd > 0
    # and not yet credible one session earlier
    earlier = data[data["session"] <= first["session"] - 1]
    assert first["patient"] not in set(screen(earlier)["patient"])


def test_causal_under_truncation():
    data = cohort(seed=5)
    full = screen(data)
    for t in (3, 4, 6, 8):
        truncated = screen(data[data["session"] <= t])
        expected = full[full["session"].astype(float) <= t].reset_index(drop=True)
        pd.testing.assert_frame_equal(truncated, expected)


def test_higher_is_better_mirrors():
    data = cohort()
    mirrored = data.assign(score=100 - data["score"])
    lower = screen(data)
    higher = ia.screen(mirrored, detectors=[WorseningTrajectory()], better="higher")
    assert lower["patient"].tolist() == higher["patient"].tolist()
    assert lower["session"].tolist() == higher["session"].tolist()
    # value is the slope in the harmful direction: positive = worsening, whichever is better
    np.testing.assert_allclose(higher["value"], lower["value"], rtol=1e-6)
    assert (higher["value"] > 0).all() and (higher["threshold"] == 0).all()
    assert lower["evidence"].str.contains(r"its lower bound \+[0-9.]+ > 0").all()
    assert higher["evidence"].str.contains(r"its upper bound -[0-9.]+ < 0").all()
    assert higher["evidence"].str.contains("slope -").all()


def test_min_sessions_and_alpha():
    data = cohort()
    late = screen(data, min_sessions=6)
    assert (late["session"].astype(int) >= 6).all()
    strict = screen(data, alpha=0.001)
    assert set(strict["patient"]) <= set(screen(data)["patient"])


def test_nothing_to_flag_in_improving_or_tiny_data():
    data = cohort()
    improving = data[data["patient"].str.startswith("p")]
    assert len(screen(improving)) == 0
    tiny = pd.DataFrame({"patient": [1, 1], "session": [1, 2], "score": [3.0, 5.0]})
    assert len(screen(tiny)) == 0


@pytest.mark.parametrize(
    ("params", "error"),
    [({"min_sessions": 1}, exc.ParameterError), ({"min_sessions": 2.5}, exc.ParameterTypeError),
     ({"alpha": 0.0}, exc.ParameterError), ({"alpha": "0.05"}, exc.ParameterTypeError),
     ({"max_fits": 0}, exc.ParameterError), ({"max_fits": -3}, exc.ParameterError),
     ({"max_fits": 2.5}, exc.ParameterTypeError), ({"max_fits": None}, exc.ParameterTypeError)],
)
def test_bad_parameters(params, error):
    with pytest.raises(error, match=next(iter(params))):
        WorseningTrajectory(**params)
    with pytest.raises(TypeError):
        WorseningTrajectory(0.05)  # type: ignore[misc]


def test_contract_cohort_is_fast_and_finds_events():
    data, _ = ia.datasets.simulate(n_patients=120, n_therapists=6, seed=20261127)
    begin = time.perf_counter()
    events = ia.screen(data, detectors=[WorseningTrajectory()], score="phq9", instrument="phq9",
                       therapist="therapist")
    assert time.perf_counter() - begin < 3.0  # ~0.6 s on an idle 2-core machine
    assert len(events) > 0
    shuffled = data.sample(frac=1.0, random_state=3)
    again = ia.screen(shuffled, detectors=[WorseningTrajectory()], score="phq9",
                      instrument="phq9", therapist="therapist")
    pd.testing.assert_frame_equal(events, again)


def _all_refits(data: pd.DataFrame, min_sessions: int = 3, alpha: float = 0.05) -> pd.DataFrame:
    """The rule refitted at every occasion, from the rows: ``(patient, session, value)``."""
    z = float(stats.norm.ppf(1 - alpha / 2))
    kept = data.dropna(subset=["score"]).sort_values(["patient", "session"])
    flagged: dict = {}
    out = []
    start = None
    for occasion in np.unique(kept["session"]):
        upto = kept[kept["session"] <= occasion]
        codes, patients = pd.factorize(upto["patient"], sort=True)
        counts = np.bincount(codes)
        now = (upto["session"] == occasion).to_numpy()
        judged = now & (counts[codes] >= min_sessions)
        if not judged.any():
            continue
        fit = growth._fit_slopes(codes, upto["session"].to_numpy(float),
                                 upto["score"].to_numpy(), start=start)
        assert fit is not None and fit["converged"]
        start = fit["theta"]
        for code in codes[judged]:
            slope, sd = fit["slope"][code], np.sqrt(fit["variance"][code])
            flag = slope - z * sd > 0
            if flag and not flagged.get(code, False):
                out.append((patients[code], occasion, slope))
            flagged[code] = flag
    return pd.DataFrame(out, columns=["patient", "session", "value"]).sort_values(
        ["patient", "session"], ignore_index=True)


def test_few_occasions_refit_every_occasion_as_before(monkeypatch):
    data = cohort(seed=9, n=80, sessions=12)  # 12 occasions <= max_fits
    calls = count_fits(monkeypatch)
    events = screen(data)
    assert len(calls) == 10  # sessions 3..12, where patients are first judged
    reference = _all_refits(data)
    assert len(reference) >= 5
    assert events["patient"].tolist() == reference["patient"].tolist()
    assert events["session"].tolist() == reference["session"].tolist()
    np.testing.assert_allclose(events["value"], reference["value"], rtol=1e-6)
    # any max_fits >= the number of occasions is the same rule
    for max_fits in (12, 13, 10_000):
        pd.testing.assert_frame_equal(screen(data, max_fits=max_fits), events,
                                      check_exact=True)
    # and with fewer, the events up to the max_fits-th occasion are unchanged (causality)
    fewer = screen(data, max_fits=6)
    pd.testing.assert_frame_equal(
        fewer[fewer["session"].astype(int) <= 6].reset_index(drop=True),
        events[events["session"].astype(int) <= 6].reset_index(drop=True), check_exact=True)


@pytest.mark.parametrize("max_fits", [1, 3, 10, 40])
def test_max_fits_bounds_the_number_of_refits(monkeypatch, max_fits):
    data = dated_cohort()
    n = data["session"].nunique()
    assert n > 200
    calls = count_fits(monkeypatch)
    screen(data, max_fits=max_fits)
    bound = max_fits + int(np.floor(4 * np.log2(n / max_fits)))
    assert 0 < len(calls) <= bound
    assert len(calls) < n / 3
    schedule = wt._refit_schedule(n, max_fits)
    assert schedule.sum() <= bound
    if max_fits >= 6:  # no two scheduled ranks coincide: the schedule attains the bound
        assert schedule.sum() == bound
    assert schedule[:max_fits].all()


def test_refit_schedule_is_a_prefix_rule():
    full = wt._refit_schedule(5000, 7)
    for n in (1, 7, 8, 50, 333, 4999):
        np.testing.assert_array_equal(wt._refit_schedule(n, 7), full[:n])
    gaps = np.diff(np.flatnonzero(full) + 1)
    ranks = np.flatnonzero(full)[1:] + 1
    assert (gaps <= np.ceil(0.19 * ranks)).all()  # never more than ~19% stale


def test_causal_under_truncation_with_dates():
    data = dated_cohort(seed=6)
    for max_fits in (4, 40):
        full = screen(data, max_fits=max_fits)
        assert len(full) > 0
        assert {f"w{i:02d}" for i in range(6)} <= set(full["patient"])
        dates = np.sort(data["session"].unique())
        for t in (dates[40], dates[120], dates[-30], full["session"].iloc[0],
                  full["session"].iloc[-1]):
            truncated = screen(data[data["session"] <= t], max_fits=max_fits)
            expected = full[full["session"] <= t].reset_index(drop=True)
            pd.testing.assert_frame_equal(truncated, expected, check_exact=True)


def test_judgement_between_refits_holds_the_latest_fit(monkeypatch):
    """At an occasion without a refit, the slope is the empirical-Bayes slope of the patient's
    rows so far under the latest fit's theta, beta and sigma^2 (lme4's formulas, from V)."""
    data = dated_cohort(seed=6)
    fits: dict[int, dict] = {}  # rows fitted: the fit
    fit = wt._fit_slopes_grouped

    def recorded(st, **kwargs):
        fits[st.n_obs] = fit(st, **kwargs)
        return fits[st.n_obs]

    monkeypatch.setattr(wt, "_fit_slopes_grouped", recorded)
    events = screen(data, max_fits=4)
    fitted_up_to = pd.to_datetime(events["evidence"].str.extract(r"all data up to day (.+)$")[0])
    stale = events[fitted_up_to < events["session"]]
    assert len(stale) >= 3
    # the model time: weeks since the earliest date (slopes are reported per day)
    weeks = (data["session"] - data["session"].min()).dt.days.astype(float) / 7
    for _, event in stale.head(3).iterrows():
        cutoff = fitted_up_to[event.name]
        latest = fits[int((data["session"] <= cutoff).sum())]
        # the fit held is the REML fit of all rows up to the refit occasion
        model = fit_growth(data.assign(t=weeks)[data["session"] <= cutoff], time="t",
                           start=latest["theta"])
        np.testing.assert_allclose(model.theta_, latest["theta"], rtol=1e-5, atol=1e-7)
        beta = model.fixed_effects_.to_numpy()
        G = model.random_effects_cov_.to_numpy()
        own = data[(data["patient"] == event["patient"]) & (data["session"] <= event["session"])]
        assert (own["session"] > cutoff).any()  # scores after the fit count
        t = weeks[own.index].to_numpy()
        Z = np.column_stack([np.ones_like(t), t])
        V = Z @ G @ Z.T + model.residual_variance_ * np.eye(len(t))
        b = G @ Z.T @ np.linalg.solve(V, own["score"].to_numpy() - Z @ beta)
        cond = G - G @ Z.T @ np.linalg.solve(V, Z @ G)
        slope = beta[1] + b[1]
        assert event["value"] == pytest.approx(slope / 7, rel=1e-4)  # per day
        sd = np.sqrt(model.fixed_effects_se_["time"] ** 2 + cond[1, 1])
        assert slope - 1.959963984540054 * sd > 0
        assert f"{len(own)} scores" in event["evidence"]


def test_dates_are_fast(monkeypatch):
    data, _ = ia.datasets.simulate(n_patients=300, n_therapists=6, seed=5)
    calls = count_fits(monkeypatch)
    begin = time.perf_counter()
    events = ia.screen(data, time="date", score="phq9", instrument="phq9",
                       detectors=[WorseningTrajectory()])
    assert time.perf_counter() - begin < 5.0  # ~0.5 s on an idle 2-core machine
    assert data["date"].nunique() > 150 and len(calls) <= 40 + 4 * 3
    assert events["evidence"].str.contains("points per day").all()
