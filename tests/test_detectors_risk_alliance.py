"""The risk-item and alliance-rupture detectors on small hand-made data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic.detectors import EVENT_COLUMNS
from iatrogenic.detectors.alliance_rupture import AllianceRupture
from iatrogenic.detectors.risk_item import RiskItemSignal, run_lengths

SHOWN = ["patient", "session", "level", "value", "threshold"]


def _table(rows: list[tuple]) -> pd.DataFrame:
    expected = pd.DataFrame(rows, columns=SHOWN)
    return expected.astype({"patient": object, "session": object, "level": object,
                            "value": "float64", "threshold": "float64"})


def _course(patient: str, items: list[float], *, column: str = "phq9_item9") -> pd.DataFrame:
    n = len(items)
    return pd.DataFrame(
        {"patient": patient, "session": np.arange(1, n + 1), "phq9": np.full(n, 12.0),
         column: items}
    )


def _risk(data: pd.DataFrame, detector: RiskItemSignal | None = None, **kwargs) -> pd.DataFrame:
    options = {"score": "phq9", "instrument": "phq9"}
    options.update(kwargs)
    return ia.screen(data, detectors=[detector or RiskItemSignal()], **options)


# --------------------------------------------------------------------------------------------
# risk_item
# --------------------------------------------------------------------------------------------


def test_risk_item_each_trigger():
    events = _risk(_course("A", [0, 1, 1, 0, 2, 3]))
    expected = _table(
        [
            ("A", 2, "alarm", 1.0, 0.0),  # rise from zero: value = item, threshold 0
            ("A", 3, "warning", 2.0, 2.0),  # non-zero at 2 consecutive sessions
            ("A", 5, "alarm", 2.0, 2.0),  # 0 -> 2: a jump of 2 (leads) and a rise from zero
            ("A", 6, "alarm", 3.0, 3.0),  # the PHQ-9 item maximum 3 (leads), also persistent
        ]
    )
    pd.testing.assert_frame_equal(events[SHOWN], expected)
    evidence = events["evidence"].tolist()
    assert evidence[0] == (
        "phq9_item9 1 at session 2 (previous 0 at session 1): rose from 0 (any positive "
        "response warrants assessment)"
    )
    assert "jump of 2 (>= 2)" in evidence[2] and "rose from 0" in evidence[2]
    assert "reached the item's maximum 3" in evidence[3]
    assert "non-zero at 2 consecutive observed sessions" in evidence[3]


def test_risk_item_jump_boundary_and_persistence_once_per_run():
    data = _course("B", [1, 2, 4, 5, 5, 5])
    events = _risk(data, RiskItemSignal(maximum=6))
    # 1 -> 2 is a rise of 1 (< 2): only the 2-session persistence warning; 2 -> 4 is a jump of 2;
    # the run of non-zero values goes on without another warning.
    expected = _table([("B", 2, "warning", 2.0, 2.0), ("B", 3, "alarm", 2.0, 2.0)])
    pd.testing.assert_frame_equal(events[SHOWN], expected)


def test_risk_item_maximum_raised_on_entry_only():
    events = _risk(_course("C", [3, 3, 2, 3]))
    # At the maximum at the first observation (alarm), still there (persistence warning only),
    # below it, then back at it (alarm again).
    expected = _table(
        [("C", 1, "alarm", 3.0, 3.0), ("C", 2, "warning", 2.0, 2.0), ("C", 4, "alarm", 3.0, 3.0)]
    )
    pd.testing.assert_frame_equal(events[SHOWN], expected)


def test_risk_item_skips_missing_values():
    events = _risk(_course("D", [0, np.nan, 1]))
    assert events[SHOWN].values.tolist() == [["D", 3, "alarm", 1.0, 0.0]]
    assert "(previous 0 at session 1)" in events.loc[0, "evidence"]


def test_risk_item_first_nonzero_value_alone_is_not_flagged():
    assert len(_risk(_course("E", [1, 0, 0]))) == 0


def test_risk_item_switches():
    data = _course("F", [0, 1, 1, 3])
    off = _risk(data, RiskItemSignal(jump=None, persist=None))
    assert off[SHOWN].values.tolist() == [
        ["F", 2, "alarm", 1.0, 0.0],
        ["F", 4, "alarm", 3.0, 3.0],
    ]
    longer = _risk(data, RiskItemSignal(persist=3))
    assert longer["level"].tolist() == ["alarm", "alarm"]  # run reaches 3 at session 4 (alarm)


def test_risk_item_without_registry_range_skips_the_maximum_rule():
    data = _course("G", [0, 3, 3], column="item9")
    events = ia.screen(data, score="phq9", risk_item="item9", detectors=[RiskItemSignal()])
    # No instrument: no registered maximum, so 3 is not "the maximum" (it would not be causal to
    # take the largest value seen); the jump of 3 from zero is still an alarm.
    assert events[SHOWN].values.tolist() == [
        ["G", 2, "alarm", 3.0, 2.0],
        ["G", 3, "warning", 2.0, 2.0],
    ]
    with_max = ia.screen(
        data, score="phq9", risk_item="item9", detectors=[RiskItemSignal(maximum=3)]
    )
    assert with_max["threshold"].tolist()[0] == 3.0


def test_risk_item_default_column_comes_from_the_registry():
    events = ia.screen(_course("H", [0, 2]), score="phq9", instrument="phq9",
                       detectors=["risk_item"])
    assert events["evidence"].str.startswith("phq9_item9").all() and len(events) == 1


def test_risk_item_out_of_range_is_an_error_naming_the_column():
    with pytest.raises(exc.OutOfRangeError, match="phq9_item9"):
        _risk(_course("I", [0, 4]))
    with pytest.raises(exc.OutOfRangeError, match="phq9_item9"):
        _risk(_course("I", [0, -1]))


def test_risk_item_skipped_with_reason_when_the_column_is_absent():
    data = _course("J", [0, 1]).drop(columns="phq9_item9")
    events = ia.screen(data, score="phq9", instrument="phq9", detectors=["risk_item"])
    assert len(events) == 0 and list(events.columns) == list(EVENT_COLUMNS)
    assert events.attrs["skipped"] == [{"detector": "risk_item", "reason": "needs risk_item"}]


# --------------------------------------------------------------------------------------------
# alliance_rupture
# --------------------------------------------------------------------------------------------


def _alliance_course(patient: str, srs: list[float]) -> pd.DataFrame:
    n = len(srs)
    return pd.DataFrame(
        {"patient": patient, "session": np.arange(1, n + 1), "phq9": np.full(n, 12.0), "srs": srs}
    )


def _alliance(data: pd.DataFrame, detector: AllianceRupture | None = None) -> pd.DataFrame:
    return ia.screen(data, score="phq9", alliance="srs", detectors=[detector or AllianceRupture()])


def test_alliance_each_trigger_and_boundaries():
    events = _alliance(_alliance_course("A", [38, 35, 34, 39, 33, 40, 35, 36, 32]))
    expected = _table(
        [
            ("A", 2, "warning", 35.0, 36.0),  # below 36 (onset); the fall of 3 is < 5
            ("A", 5, "alarm", 6.0, 5.0),  # fell 6 points (and below 36)
            ("A", 7, "alarm", 5.0, 5.0),  # fell exactly 5: counts
            ("A", 9, "warning", 32.0, 36.0),  # fell 4 (< 5), re-entered the concern range
        ]
    )
    # Session 3 (34) stays below: no new warning. Session 8 (36) is not below 36.
    pd.testing.assert_frame_equal(events[SHOWN], expected)
    assert events.loc[1, "evidence"] == (
        "srs 33 at session 5 (previous 39 at session 4): fell 6 points (>= 5); below the "
        "concern threshold 36"
    )


def test_alliance_threshold_default_is_the_registered_srs_threshold():
    assert ia.instruments.get("srs").caseness.threshold == 36
    events = _alliance(_alliance_course("B", [36, 35.5]))
    assert events[SHOWN].values.tolist() == [["B", 2, "warning", 35.5, 36.0]]


def test_alliance_direction_higher_is_better():
    # A rise is never flagged; a first rating below the threshold is a warning.
    events = _alliance(_alliance_course("C", [30, 38, 40]))
    assert events[SHOWN].values.tolist() == [["C", 1, "warning", 30.0, 36.0]]
    assert events.loc[0, "evidence"].endswith("(first rating): below the concern threshold 36")


def test_alliance_custom_parameters():
    data = _alliance_course("D", [38, 31, 29, 20])
    only_low = _alliance(data, AllianceRupture(threshold=30, drop=None))
    assert only_low[SHOWN].values.tolist() == [["D", 3, "warning", 29.0, 30.0]]
    big_drop = _alliance(data, AllianceRupture(threshold=10, drop=8))
    assert big_drop[SHOWN].values.tolist() == [["D", 4, "alarm", 9.0, 8.0]]


def test_alliance_skips_missing_ratings():
    events = _alliance(_alliance_course("E", [38, np.nan, 32]))
    assert events[SHOWN].values.tolist() == [["E", 3, "alarm", 6.0, 5.0]]
    assert "(previous 38 at session 1)" in events.loc[0, "evidence"]


def test_alliance_skipped_with_reason_when_the_column_is_absent():
    data = _alliance_course("F", [38, 30]).drop(columns="srs")
    events = ia.screen(data, score="phq9", detectors=["alliance_rupture"])
    assert len(events) == 0
    assert events.attrs["skipped"] == [
        {"detector": "alliance_rupture", "reason": "needs alliance"}
    ]


# --------------------------------------------------------------------------------------------
# Both: causality, multi-patient vectorisation, parameters
# --------------------------------------------------------------------------------------------


@pytest.fixture
def cohort() -> pd.DataFrame:
    rng = np.random.default_rng(1234567890)
    n_patients, n_sessions = 40, 10
    patient = np.repeat([f"P{i:02d}" for i in range(n_patients)], n_sessions)
    session = np.tile(np.arange(1, n_sessions + 1), n_patients)
    item = rng.choice([0, 0, 0, 1, 2, 3], size=len(patient)).astype(float)
    srs = np.clip(np.rint(rng.normal(36, 3, size=len(patient))), 0, 40)
    item[rng.random(len(patient)) < 0.1] = np.nan
    data = pd.DataFrame(
        {"patient": patient, "session": session, "phq9": rng.integers(5, 20, len(patient)),
         "phq9_item9": item, "srs": srs}
    )
    return data.sample(frac=1.0, random_state=2)  # unsorted input


@pytest.mark.parametrize("name", ["risk_item", "alliance_rupture"])
def test_causal_truncation(cohort, name):
    def run(data: pd.DataFrame) -> pd.DataFrame:
        return ia.screen(data, score="phq9", instrument="phq9", alliance="srs", detectors=[name])

    full = run(cohort)
    assert len(full) > 20
    for t in (2, 4, 6, 9):
        truncated = run(cohort[cohort["session"] <= t])
        expected = full[full["session"].astype(float) <= t].reset_index(drop=True)
        pd.testing.assert_frame_equal(truncated, expected)


@pytest.mark.parametrize("name", ["risk_item", "alliance_rupture"])
def test_patients_are_independent(cohort, name):
    """Screening all patients at once gives each patient's own events (no leak across rows)."""
    options = {"score": "phq9", "instrument": "phq9", "alliance": "srs", "detectors": [name]}
    together = ia.screen(cohort, **options)
    for patient in ("P00", "P17", "P39"):
        alone = ia.screen(cohort[cohort["patient"] == patient], **options)
        mine = together[together["patient"] == patient].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone, mine)


def test_run_lengths_restart_at_each_patient():
    flag = np.array([1, 1, 1, 1, 0, 1], dtype=bool)
    codes = np.array([0, 0, 1, 1, 1, 1])
    assert run_lengths(flag, codes).tolist() == [1, 2, 1, 2, 0, 1]


@pytest.mark.parametrize(
    ("cls", "params", "error"),
    [
        (RiskItemSignal, {"jump": 0}, exc.ParameterError),
        (RiskItemSignal, {"jump": "2"}, exc.ParameterTypeError),
        (RiskItemSignal, {"maximum": 0}, exc.ParameterError),
        (RiskItemSignal, {"persist": 1}, exc.ParameterError),
        (RiskItemSignal, {"persist": 2.5}, exc.ParameterTypeError),
        (AllianceRupture, {"threshold": "36"}, exc.ParameterTypeError),
        (AllianceRupture, {"drop": 0}, exc.ParameterError),
        (AllianceRupture, {"drop": -5}, exc.ParameterError),
    ],
)
def test_bad_parameters_name_the_parameter(cls, params, error):
    with pytest.raises(error) as info:
        cls(**params)
    assert repr(next(iter(params))) in str(info.value)


def test_parameters_are_keyword_only_and_reported():
    with pytest.raises(TypeError):
        RiskItemSignal(2)  # type: ignore[misc]
    assert ia.get_detector("risk_item", jump=3).get_params() == {
        "jump": 3.0, "maximum": None, "persist": 2
    }
    assert ia.get_detector("alliance_rupture").get_params() == {"threshold": None, "drop": 5.0}
