"""The disengagement and dependency detectors on small hand-made data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic._validation import prepare_long
from iatrogenic.detectors import EVENT_COLUMNS, ScreenInput
from iatrogenic.detectors.alliance_rupture import AllianceRupture  # noqa: F401  (registers)
from iatrogenic.detectors.dependency import Dependency
from iatrogenic.detectors.disengagement import Disengagement
from iatrogenic.detectors.risk_item import RiskItemSignal  # noqa: F401  (registers)

SHOWN = ["patient", "session", "level", "value", "threshold"]
A, C, D = "attended", "cancelled", "dna"


def _course(
    patient: str,
    attendance: list[str] | None = None,
    *,
    days: list[float] | None = None,
    scores: list[float] | None = None,
) -> pd.DataFrame:
    n = len(attendance if attendance is not None else days if days is not None else scores or [])
    data = pd.DataFrame({"patient": patient, "session": np.arange(1, n + 1)})
    if scores is None:
        scores = [12.0] * n
    data["phq9"] = [
        s if attendance is None or status == A else np.nan
        for s, status in zip(scores, attendance or [A] * n, strict=True)
    ]
    if attendance is not None:
        data["attendance"] = attendance
    if days is not None:
        data["date"] = pd.Timestamp("2024-01-08") + pd.to_timedelta(days, unit="D")
    return data


def _screen(data: pd.DataFrame, detector, **kwargs) -> pd.DataFrame:
    options = {"score": "phq9", "instrument": "phq9"}
    if "attendance" in data.columns:
        options["attendance"] = "attendance"
    if "date" in data.columns:
        options["date"] = "date"
    options.update(kwargs)
    return ia.screen(data, detectors=[detector], **options)


def _rows(events: pd.DataFrame) -> list[list]:
    return events[SHOWN].values.tolist()


# --------------------------------------------------------------------------------------------
# disengagement
# --------------------------------------------------------------------------------------------


def test_consecutive_misses_warning_then_alarm():
    data = _course("A", [A, D, C, D, A, D])
    events = _screen(data, Disengagement(window=None))
    assert _rows(events) == [["A", 3, "warning", 2.0, 2.0], ["A", 4, "alarm", 3.0, 3.0]]
    assert events.loc[1, "evidence"] == (
        "session 4 (dna): 3 missed sessions in a row (sessions 2 to 4)"
    )


def test_triggers_at_the_same_session_make_one_event():
    data = _course("A", [A, A, A, A, A, A, A, D, C])
    events = _screen(data, Disengagement())
    assert _rows(events) == [["A", 9, "warning", 2.0, 2.0]]
    assert events.loc[0, "evidence"] == (
        "session 9 (cancelled): 2 missed sessions in a row (sessions 8 to 9); 2 of the last 4 "
        "sessions missed (sessions 6 to 9) vs 0 of the 5 before"
    )


def test_cancellations_count_only_when_asked():
    data = _course("A", [A, D, C, D])
    events = _screen(data, Disengagement(window=None, missed=("dna",)))
    assert len(events) == 0


def test_missing_status_breaks_a_run():
    data = _course("A", [A, D, None, D, D])  # type: ignore[list-item]
    events = _screen(data, Disengagement(window=None))
    assert _rows(events) == [["A", 5, "warning", 2.0, 2.0]]


def test_rising_miss_rate():
    data = _course("B", [A, A, A, A, A, A, D, A, D, A, A])
    events = _screen(data, Disengagement())
    # Session 9: 2 of sessions 6-9 missed vs 0 of the 5 before. Session 10 keeps the rate up:
    # no new event. No two misses in a row.
    assert _rows(events) == [["B", 9, "warning", 2.0, 2.0]]
    assert events.loc[0, "evidence"] == (
        "session 9 (dna): 2 of the last 4 sessions missed (sessions 6 to 9) vs 0 of the 5 before"
    )
    # The earlier spell must be a full window: at session 7 (2 of 4 missed, 3 before) too short.
    assert len(_screen(_course("B", [A, A, A, A, D, A, D]), Disengagement())) == 0


def test_rising_miss_rate_needs_an_earlier_spell():
    # Misses from the start: never a rise relative to an earlier spell of fewer misses.
    data = _course("B", [A, D, A, D, A, D, A, D])
    assert len(_screen(data, Disengagement(consecutive_warning=3))) == 0


def test_long_gap_from_dates_alone_boundary_and_min_gaps():
    # Intervals 7, 7, 7, 14 (not > 2 x 7), then 15 (> 2 x median(7, 7, 7, 14) = 14).
    data = _course("C", days=[0, 7, 14, 21, 35, 50])
    events = _screen(data, Disengagement())
    assert _rows(events) == [["C", 6, "warning", 15.0, 14.0]]
    assert events.loc[0, "evidence"] == (
        "session 6: 15 days since the last session (session 5), > 2 x the usual interval 7 days"
    )
    # Two earlier intervals are too few to know the patient's usual interval (min_gaps=3).
    assert len(_screen(_course("C", days=[0, 7, 14, 40]), Disengagement())) == 0
    assert _rows(_screen(_course("C", days=[0, 7, 14, 40]), Disengagement(min_gaps=2))) == [
        ["C", 4, "warning", 26.0, 14.0]
    ]


def test_long_gap_counts_from_the_last_attended_session():
    data = _course("D", [A, A, A, A, D, D, A], days=[0, 7, 14, 21, 28, 35, 43])
    events = _screen(data, Disengagement())
    # Session 6: 2 misses in a row; 14 days without contact is not > 14. Session 7: attended
    # 22 days after session 4, the last attended one.
    assert _rows(events) == [["D", 6, "warning", 2.0, 2.0], ["D", 7, "warning", 22.0, 14.0]]
    assert "22 days since the last attended session (session 4)" in events.loc[1, "evidence"]


def _ending_input(data: pd.DataFrame) -> ScreenInput:
    """A ScreenInput with an ``ending`` column (until ia.screen takes ``ending=``)."""
    columns = {"attendance": "attendance", "ending": "ending"}
    long = prepare_long(data, patient="patient", time="session", score="phq9", caller="test",
                        extra=columns)
    return ScreenInput(long=long, better="lower", instrument=ia.instruments.get("phq9"),
                       columns=columns)


def test_unplanned_ending_alarm_after_deterioration_warning_otherwise():
    worse = _course("E1", [A, A, A, A], scores=[10, 12, 14, 17])
    same = _course("E2", [A, A, A, A], scores=[10, 12, 11, 12])
    planned = _course("E3", [A, A, A, A], scores=[10, 12, 14, 17])
    data = pd.concat([worse, same, planned], ignore_index=True)
    data["ending"] = None
    data.loc[[3, 7], "ending"] = "Unplanned"
    data.loc[11, "ending"] = "planned"
    events = Disengagement(rule="fixed").detect(_ending_input(data))
    assert _rows(events) == [
        ["E1", 4, "alarm", 7.0, 6.0],  # 17 vs intake 10: 7 points >= the PHQ-9 rule of 6
        ["E2", 4, "warning", 2.0, 6.0],
    ]
    assert events.loc[0, "evidence"] == (
        "session 4 (attended): unplanned ending after reliable deterioration (score 17 at "
        "session 4 vs intake 10 at session 1: 7 points worse; fixed rule: >= 6 points)"
    )


def test_unplanned_ending_flagged_once_at_the_marked_row():
    data = _course("F", [A, A, D], scores=[10, 11, 12])
    data["ending"] = [None, "unplanned", "unplanned"]
    events = Disengagement(window=None, rule="fixed").detect(_ending_input(data))
    assert _rows(events) == [["F", 2, "warning", 1.0, 6.0]]


def test_bad_ending_and_attendance_values_name_the_column():
    data = _course("G", [A, A])
    data["ending"] = ["", "dropout"]
    with pytest.raises(exc.InvalidValueError, match="'ending'"):
        Disengagement().detect(_ending_input(data))
    bad = _course("G", [A, "late"])
    with pytest.raises(exc.InvalidValueError, match="'attendance'"):
        _screen(bad, Disengagement())


def test_bad_dates_name_the_column():
    data = _course("G", days=[0, 7])
    data["date"] = ["2024-01-08", "someday"]
    with pytest.raises(exc.ColumnTypeError, match="'date'"):
        _screen(data, Disengagement())


def test_disengagement_skipped_without_attendance_or_dates():
    data = _course("H", scores=[10, 11])
    events = ia.screen(data, score="phq9", detectors=["disengagement"])
    assert len(events) == 0 and list(events.columns) == list(EVENT_COLUMNS)
    assert events.attrs["skipped"] == [
        {"detector": "disengagement", "reason": "needs attendance or date (pass attendance= or "
         "date=)"}
    ]
    # Either input is enough.
    for column in ("attendance", "date"):
        data = _course("H", [A, A], days=[0, 7]).drop(columns=column)
        ran = _screen(data, "disengagement")
        assert ran.attrs["detectors"] == ["disengagement"]


# --------------------------------------------------------------------------------------------
# dependency
# --------------------------------------------------------------------------------------------


def test_dose_without_improvement_warning_then_alarm_when_worse():
    data = _course("P", scores=[16, 15, 15, 16, 14, 17, 23, 22])
    events = _screen(data, Dependency(expected_sessions=5, rule="fixed"))
    assert _rows(events) == [["P", 6, "warning", 6.0, 5.0], ["P", 7, "alarm", 7.0, 5.0]]
    assert events.loc[0, "evidence"] == (
        "session 6: 6 sessions attended, past the expected dose 5 sessions; score 17 at session "
        "6 vs intake 16 at session 1: 1 points worse, no reliable improvement (fixed rule: >= 6 "
        "points)"
    )


def test_dose_with_reliable_improvement_is_not_flagged_until_it_is_lost():
    # Improved by 6 (the PHQ-9 rule, inclusive) past the dose; loses it at session 8.
    data = _course("Q", scores=[16, 14, 12, 11, 10, 10, 10, 11])
    events = _screen(data, Dependency(expected_sessions=5, rule="fixed"))
    assert _rows(events) == [["Q", 8, "warning", 8.0, 5.0]]


def test_dose_counts_attended_sessions_only():
    data = _course("R", [A, D, A, C, A, A, A], scores=[12] * 7)
    events = _screen(data, Dependency(expected_sessions=4, rule="fixed"))
    assert _rows(events) == [["R", 7, "warning", 5.0, 4.0]]


def test_default_expected_dose_is_20_sessions():
    assert Dependency().expected_sessions == 20
    data = _course("S", scores=[12] * 22)
    assert _rows(_screen(data, Dependency(rule="fixed"))) == [["S", 21, "warning", 21.0, 20.0]]


def test_statistical_rule_by_default():
    # PHQ-9 has no registered SD: the SD of the intake scores is used, as in
    # reliable_deterioration. Intakes 10 and 20 (SD 7.07), alpha .89: critical difference
    # 1.96 * 7.07 * sqrt(2 * 0.11) = 6.50 points.
    data = pd.concat(
        [_course("T1", scores=[10, 10, 16]), _course("T2", scores=[20, 20, 27])],
        ignore_index=True,
    )
    events = _screen(data, Dependency(expected_sessions=2))
    assert _rows(events) == [["T1", 3, "warning", 3.0, 2.0], ["T2", 3, "alarm", 3.0, 2.0]]
    assert "RCI critical difference 6.50 points at alpha 0.05" in events.loc[0, "evidence"]


def test_sessions_quicken_without_gain():
    # Intervals 14, 14, then 6, 6: median of the last 2 (6) < 0.5 x median of the first 2 (14).
    quick = _course("U", days=[0, 14, 28, 34, 40], scores=[15, 15, 14, 15, 15])
    events = _screen(quick, Dependency(window=2, rule="fixed"))
    assert _rows(events) == [["U", 5, "warning", 6.0, 7.0]]
    assert "median interval of the last 2 sessions 6 days < 0.5 x 14 days" in (
        events.loc[0, "evidence"]
    )
    # Boundary: 7 is not below 0.5 x 14.
    even = _course("U", days=[0, 14, 28, 35, 42], scores=[15] * 5)
    assert len(_screen(even, Dependency(window=2, rule="fixed"))) == 0
    # With reliable improvement more sessions are not dependency.
    better = _course("U", days=[0, 14, 28, 34, 40], scores=[15, 13, 11, 10, 9])
    assert len(_screen(better, Dependency(window=2, rule="fixed"))) == 0


def test_percentile_expected_dose_uses_the_cohort():
    data = pd.concat(
        [_course("V1", scores=[12] * 4), _course("V2", scores=[12] * 6),
         _course("V3", scores=[12] * 10)],
        ignore_index=True,
    )
    events = _screen(data, Dependency(expected_sessions="p50", rule="fixed"))
    assert _rows(events) == [["V3", 7, "warning", 7.0, 6.0]]
    assert "p50 of the course lengths in these data (not causal)" in events.loc[0, "evidence"]


def test_dependency_skipped_without_a_reliable_change_rule():
    data = _course("W", scores=[12] * 3)
    events = ia.screen(data, score="phq9", detectors=["dependency"])
    assert len(events) == 0
    (skip,) = events.attrs["skipped"]
    assert skip["detector"] == "dependency" and skip["reason"].startswith("needs reliability")


# --------------------------------------------------------------------------------------------
# Both: causality, patients independent, parameters, the full screen
# --------------------------------------------------------------------------------------------


@pytest.fixture
def cohort() -> pd.DataFrame:
    rng = np.random.default_rng(1234567890)
    n_patients, n_sessions = 40, 14
    patient = np.repeat([f"P{i:02d}" for i in range(n_patients)], n_sessions)
    session = np.tile(np.arange(1, n_sessions + 1), n_patients)
    status = rng.choice(np.array([A, A, A, A, C, D]), size=len(patient))
    status[session == 1] = A
    gaps = rng.choice([7, 7, 7, 3, 14, 21], size=(n_patients, n_sessions))
    days = np.cumsum(gaps, axis=1).ravel()
    drift = rng.normal(0, 1.5, n_patients)[np.repeat(np.arange(n_patients), n_sessions)]
    scores = np.clip(np.rint(15 + drift * session + rng.normal(0, 2, len(patient))), 0, 27)
    data = pd.DataFrame(
        {"patient": patient, "session": session, "attendance": status,
         "date": pd.Timestamp("2024-01-08") + pd.to_timedelta(days, unit="D"),
         "phq9": np.where(status == A, scores, np.nan)}
    )
    return data.sample(frac=1.0, random_state=2)


DETECTORS = {
    "disengagement": Disengagement,
    "dependency": lambda: Dependency(expected_sessions=6, window=3),
    "dependency_fixed": lambda: Dependency(expected_sessions=6, window=3, rule="fixed"),
}


@pytest.mark.parametrize("key", DETECTORS)
def test_causal_truncation(cohort, key):
    def run(data: pd.DataFrame) -> pd.DataFrame:
        return _screen(data, DETECTORS[key]())

    full = run(cohort)
    assert len(full) > 10 and set(full["level"]) == {"warning", "alarm"}
    for t in (2, 4, 6, 9, 12):
        truncated = run(cohort[cohort["session"] <= t])
        expected = full[full["session"].astype(float) <= t].reset_index(drop=True)
        pd.testing.assert_frame_equal(truncated, expected)


@pytest.mark.parametrize("key", ["disengagement", "dependency_fixed"])
def test_patients_are_independent(cohort, key):
    together = _screen(cohort, DETECTORS[key]())
    for patient in ("P00", "P21", "P39"):
        alone = _screen(cohort[cohort["patient"] == patient], DETECTORS[key]())
        mine = together[together["patient"] == patient].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone, mine)


@pytest.mark.parametrize(
    ("cls", "params", "error"),
    [
        (Disengagement, {"consecutive_warning": 0}, exc.ParameterError),
        (Disengagement, {"consecutive_alarm": 1}, exc.ParameterError),
        (Disengagement, {"window": 1}, exc.ParameterError),
        (Disengagement, {"window_misses": 5}, exc.ParameterError),
        (Disengagement, {"gap_factor": 1.0}, exc.ParameterError),
        (Disengagement, {"min_gaps": 1.5}, exc.ParameterTypeError),
        (Disengagement, {"missed": ("dna", "late")}, exc.ParameterError),
        (Disengagement, {"missed": "dna"}, exc.ParameterTypeError),
        (Disengagement, {"rule": "magic"}, exc.ParameterError),
        (Disengagement, {"alpha": 0}, exc.ParameterError),
        (Dependency, {"expected_sessions": 0}, exc.ParameterError),
        (Dependency, {"expected_sessions": "p100"}, exc.ParameterError),
        (Dependency, {"expected_sessions": 12.5}, exc.ParameterTypeError),
        (Dependency, {"window": 0}, exc.ParameterError),
        (Dependency, {"frequency_factor": 1.0}, exc.ParameterError),
        (Dependency, {"reliability": 1.5}, exc.ParameterError),
        (Dependency, {"points": -6}, exc.ParameterError),
    ],
)
def test_bad_parameters_name_the_parameter(cls, params, error):
    with pytest.raises(error) as info:
        cls(**params)
    assert repr(next(iter(params))) in str(info.value)
    assert cls.__name__ in str(info.value)


def test_parameters_are_reported():
    assert Dependency(expected_sessions="P90").get_params()["expected_sessions"] == "p90"
    params = Disengagement(missed=["DNA"]).get_params()
    assert params["missed"] == ("dna",) and params["consecutive_alarm"] == 3


def test_all_six_detectors_in_one_screen():
    data, _ = ia.datasets.simulate(n_patients=120, n_therapists=6, seed=20261127)
    if "srs" not in data.columns:  # the simulator does not make one yet
        rng = np.random.default_rng(5)
        srs = np.clip(np.rint(37.5 + rng.normal(0, 2.5, len(data))), 0, 40)
        data = data.assign(srs=np.where(data["phq9"].isna(), np.nan, srs))
    names = ["risk_item", "alliance_rupture", "disengagement", "dependency",
             "reliable_deterioration", "sudden_loss"]
    events = ia.screen(
        data, detectors=names, score="phq9", instrument="phq9", therapist="therapist",
        alliance="srs", attendance="attendance", date="date",
    )
    assert events.attrs["detectors"] == names and events.attrs["skipped"] == []
    assert list(events.columns) == list(EVENT_COLUMNS)
    found = set(events["detector"])
    assert {"risk_item", "alliance_rupture", "disengagement", "reliable_deterioration"} <= found
    assert np.isfinite(events["value"]).all()
    assert events["evidence"].map(len).gt(0).all()
