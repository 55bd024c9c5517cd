"""symptom_emergence and secondary_worsening on small hand-made data with known events."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic.detectors import EVENT_COLUMNS
from iatrogenic.detectors.secondary_worsening import SecondaryWorsening
from iatrogenic.detectors.symptom_emergence import SymptomEmergence


def _long(**patients: dict[str, list]) -> pd.DataFrame:
    """One frame from {patient: {column: values}}; sessions numbered from 1."""
    frames = []
    for pid, columns in patients.items():
        n = len(next(iter(columns.values())))
        frame = pd.DataFrame({"patient": pid, "session": range(1, n + 1), **columns})
        if "score" not in frame:
            frame["score"] = 10.0
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _events(data: pd.DataFrame, detector, **kwargs) -> pd.DataFrame:
    return ia.screen(data, detectors=[detector], instrument="phq9", **kwargs)


def _rows(events: pd.DataFrame) -> list[tuple]:
    return [
        (p, int(s), lvl, v)
        for p, s, lvl, v in events[["patient", "session", "level", "value"]].itertuples(index=False)
    ]


# --------------------------------------------------------------------------------------------------
# symptom_emergence: items
# --------------------------------------------------------------------------------------------------


def test_item_low_at_intake_warning_then_alarm_when_persistent():
    data = _long(a={"item": [0, 1, 2, 3, 1]}, b={"item": [1, 2, 1, 1, 1]})
    events = _events(data, SymptomEmergence(), items=["item"])
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert _rows(events) == [
        ("a", 3, "warning", 2.0),
        ("a", 4, "alarm", 3.0),
        ("b", 2, "warning", 2.0),  # elevated once: a warning, never an alarm
    ]
    assert set(events["harm"]) == {"symptom_emergence"}
    assert (events["threshold"] == 2.0).all()
    assert "intake 0 at session 1" in events["evidence"][1]
    assert "since session 3" in events["evidence"][1]


def test_item_elevated_at_intake_is_not_emergence():
    data = _long(a={"item": [2, 3, 3, 3]}, b={"item": [3, 0, 3, 3]})
    assert len(_events(data, SymptomEmergence(), items=["item"])) == 0


def test_item_boundaries_low_and_high_inclusive():
    # intake exactly low (1) qualifies; a score exactly high (2) is elevated; 1.5 is not.
    data = _long(a={"item": [1, 2, 2]}, b={"item": [0, 1.5, 1.5]})
    assert _rows(_events(data, SymptomEmergence(), items=["item"])) == [
        ("a", 2, "warning", 2.0),
        ("a", 3, "alarm", 2.0),
    ]


def test_item_missing_sessions_are_skipped_and_a_drop_restarts_the_run():
    data = _long(a={"item": [0, 2, np.nan, 2, 0, 3, 3]})
    assert _rows(_events(data, SymptomEmergence(), items=["item"])) == [
        ("a", 2, "warning", 2.0),
        ("a", 4, "alarm", 2.0),  # sessions 2 and 4 are consecutive observed sessions
        ("a", 6, "warning", 3.0),
        ("a", 7, "alarm", 3.0),
    ]


def test_item_intake_is_first_observed_value():
    data = _long(a={"item": [np.nan, 0, 2, 2]})
    events = _events(data, SymptomEmergence(), items=["item"])
    assert _rows(events) == [("a", 3, "warning", 2.0), ("a", 4, "alarm", 2.0)]
    assert "intake 0 at session 2" in events["evidence"][0]


def test_item_persist_one_and_custom_thresholds():
    data = _long(a={"item": [0, 2, 3]})
    assert _rows(_events(data, SymptomEmergence(persist=1), items=["item"])) == [
        ("a", 2, "alarm", 2.0)
    ]
    assert _rows(_events(data, SymptomEmergence(low=0, high=3, persist=1), items=["item"])) == [
        ("a", 3, "alarm", 3.0)
    ]
    assert _rows(_events(data, SymptomEmergence(persist=3), items=["item"])) == [
        ("a", 2, "warning", 2.0)
    ]


def test_several_item_columns_are_screened_separately():
    data = _long(a={"i1": [0, 2, 2], "i2": [0, 0, 3]})
    events = _events(data, SymptomEmergence(), items=["i1", "i2"])
    found = zip(events["session"], events["level"], events["evidence"].str[:7], strict=True)
    assert sorted(found) == [
        (2, "warning", "item i1"),
        (3, "alarm", "item i1"),
        (3, "warning", "item i2"),
    ]


# --------------------------------------------------------------------------------------------------
# symptom_emergence: secondary measure crossing into caseness
# --------------------------------------------------------------------------------------------------


def test_gad7_crossing_into_caseness():
    # GAD-7 caseness is >= 8 (NHS Talking Therapies).
    data = _long(a={"gad7": [5, 7, 8, 12]}, b={"gad7": [9, 12, 14, 15]}, c={"gad7": [7, 8, 7, 6]})
    events = _events(data, SymptomEmergence(), secondary={"gad7": "gad7"})
    assert _rows(events) == [
        ("a", 3, "warning", 8.0),
        ("a", 4, "alarm", 12.0),
        ("c", 2, "warning", 8.0),
    ]
    assert (events["threshold"] == 8.0).all()
    assert events["evidence"][0].startswith("GAD-7 (gad7) = 8 at session 3 (caseness >= 8)")


def test_secondary_without_caseness_is_ignored_and_use_caseness_off():
    data = _long(a={"gad7": [5, 9, 9], "bhs": [1, 15, 18]})
    events = _events(data, SymptomEmergence(), secondary={"gad7": "gad7", "bhs": None})
    assert len(events) == 2 and events["evidence"].str.contains("gad7").all()
    skipped = _events(data, SymptomEmergence(use_caseness=False), secondary={"gad7": "gad7"})
    assert skipped.attrs["skipped"][0]["detector"] == "symptom_emergence"


def test_symptom_emergence_skips_with_reason_without_inputs():
    data = _long(a={"bhs": [1, 2, 3]})
    for kwargs in ({}, {"secondary": {"bhs": None}}):
        events = _events(data, "symptom_emergence", **kwargs)
        assert len(events) == 0
        (skip,) = events.attrs["skipped"]
        assert skip["detector"] == "symptom_emergence"
        assert "items=" in skip["reason"] and "caseness" in skip["reason"]


def test_symptom_emergence_unknown_secondary_instrument_is_an_error():
    data = _long(a={"gad7": [1, 2, 3]})
    with pytest.raises(exc.UnknownNameError, match="gad-8"):
        _events(data, SymptomEmergence(), secondary={"gad7": "gad-8"})


def test_symptom_emergence_is_causal():
    data = _long(
        a={"item": [0, 2, 3, 3, 0, 2, 2], "gad7": [3, 8, 9, 4, 9, 10, 12]},
        b={"item": [1, 1, 2, 2, 2, 0, 3], "gad7": [12, 3, 3, 9, 9, 9, 9]},
    )
    kwargs = {"items": ["item"], "secondary": {"gad7": "gad7"}}
    full = _events(data, SymptomEmergence(), **kwargs)
    assert len(full) > 4
    for t in range(1, 8):
        truncated = _events(data[data["session"] <= t], SymptomEmergence(), **kwargs)
        expected = full[full["session"].astype(int) <= t].reset_index(drop=True)
        pd.testing.assert_frame_equal(truncated, expected)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"low": 2, "high": 1}, "low"),
        ({"high": "2"}, "high"),
        ({"persist": 0}, "persist"),
        ({"persist": 2.5}, "persist"),
        ({"use_caseness": 1}, "use_caseness"),
    ],
)
def test_symptom_emergence_bad_parameters(params, name):
    with pytest.raises((exc.ParameterError, exc.ParameterTypeError), match=name):
        SymptomEmergence(**params)


# --------------------------------------------------------------------------------------------------
# secondary_worsening
# --------------------------------------------------------------------------------------------------


def test_secondary_worsening_with_explicit_reliability_and_sd():
    # Critical difference 1.959964 * 5 * sqrt(2 * (1 - 0.93)) = 3.6668 points (Jacobson-Truax).
    threshold = 1.959963984540054 * 5.0 * math.sqrt(2 * (1 - 0.93))
    data = _long(
        a={"bhs": [6, 9, 13, 8, 12]},  # +3 no, +7 yes, +2 back, +6 again
        b={"bhs": [6, 6 + 3.6, 6 + 3.7]},  # just below, then just above the critical difference
    )
    detector = SecondaryWorsening(reliabilities={"bhs": 0.93}, sds={"bhs": 5.0})
    events = _events(data, detector, secondary={"bhs": None})
    assert _rows(events) == [
        ("a", 3, "alarm", 7.0),
        ("a", 5, "alarm", 6.0),
        ("b", 3, "alarm", pytest.approx(3.7)),
    ]
    np.testing.assert_allclose(events["threshold"], threshold, rtol=1e-12)
    assert set(events["harm"]) == {"secondary_worsening"}
    assert events["evidence"][0].startswith("bhs 13 at session 3 vs intake 6 at session 1: +7")
    assert "reliability 0.93, sd given 5.00" in events["evidence"][0]


def test_secondary_worsening_with_registry_instrument_and_data_sd():
    # GAD-7: reliability .92 from the registry, no registered SD: the SD of intake scores.
    data = _long(a={"gad7": [4, 9]}, b={"gad7": [10, 11]}, c={"gad7": [14, 6]})
    sd = float(np.std([4, 10, 14], ddof=1))
    threshold = 1.959963984540054 * sd * math.sqrt(2 * (1 - 0.92))
    events = _events(data, SecondaryWorsening(), secondary={"gad7": "gad7"})
    assert _rows(events) == [("a", 2, "alarm", 5.0)]
    assert events["threshold"][0] == pytest.approx(threshold)
    assert "GAD-7 (gad7)" in events["evidence"][0]
    assert "SD of intake scores in the data" in events["evidence"][0]


def test_secondary_worsening_fixed_rule_is_inclusive_and_falls_back():
    data = _long(a={"gad7": [5, 8, 9], "bhs": [3, 9, 12]})
    detector = SecondaryWorsening(rule="fixed", reliabilities={"bhs": 0.93}, sds={"bhs": 5.0})
    events = _events(data, detector, secondary={"gad7": "gad7", "bhs": None})
    gad = events[events["evidence"].str.contains("gad7")]
    bhs = events[events["evidence"].str.contains("bhs")]
    assert list(gad["session"]) == [3] and gad["threshold"].iloc[0] == 4.0  # 9 - 5 = 4 points
    assert "fixed rule: >= 4 points" in gad["evidence"].iloc[0]
    assert list(bhs["session"]) == [2]
    assert "no fixed rule, so RCI" in bhs["evidence"].iloc[0]
    with_points = SecondaryWorsening(rule="fixed", points={"bhs": 10})
    events = _events(data, with_points, secondary={"bhs": None})
    assert len(events) == 0  # worsening of 6 and 9 points, below 10
    events = _events(
        data, SecondaryWorsening(rule="fixed", points={"bhs": 9}), secondary={"bhs": None}
    )
    assert _rows(events) == [("a", 3, "alarm", 9.0)]


def test_secondary_worsening_direction_higher_is_better():
    data = _long(a={"rses": [25, 20, 15]})
    detector = SecondaryWorsening(
        reliabilities={"rses": 0.88}, sds={"rses": 4.0}, better={"rses": "higher"}
    )
    events = _events(data, detector, secondary={"rses": None})
    assert _rows(events) == [("a", 2, "alarm", 5.0)]  # falls of 5 and 10; entered once
    assert "lower is worse" in events["evidence"][0]


def test_secondary_worsening_unusable_column_warns_and_all_unusable_skips():
    data = _long(a={"gad7": [4, 15], "bhs": [1, 19]}, b={"gad7": [10, 9], "bhs": [2, 2]})
    with pytest.warns(exc.DataQualityWarning, match="'bhs'"):
        events = _events(data, SecondaryWorsening(), secondary={"gad7": "gad7", "bhs": None})
    assert len(events) == 1 and "gad7" in events["evidence"][0]
    events = _events(data, SecondaryWorsening(), secondary={"bhs": None})
    assert len(events) == 0
    (skip,) = events.attrs["skipped"]
    assert "reliabilities={'bhs'" in skip["reason"]
    events = _events(data, "secondary_worsening")
    assert events.attrs["skipped"][0]["reason"].startswith("needs secondary")


def test_secondary_worsening_is_causal():
    data = _long(
        a={"bhs": [6, 9, 13, 8, 12, 15, 4]},
        b={"bhs": [10, 16, 10, 16, 16, 9, 17]},
    )
    detector = SecondaryWorsening(reliabilities={"bhs": 0.93}, sds={"bhs": 5.0})
    full = _events(data, detector, secondary={"bhs": None})
    assert len(full) >= 4
    for t in range(1, 8):
        truncated = _events(data[data["session"] <= t], detector, secondary={"bhs": None})
        expected = full[full["session"].astype(int) <= t].reset_index(drop=True)
        pd.testing.assert_frame_equal(truncated, expected)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"reliabilities": {"bhs": 1.0}}, "reliabilities"),
        ({"reliabilities": 0.9}, "reliabilities"),
        ({"reliabilities": {1: 0.9}}, "reliabilities"),
        ({"sds": {"bhs": 0}}, "sds"),
        ({"better": {"bhs": "up"}}, "better"),
        ({"alpha": 1.0}, "alpha"),
        ({"rule": "rci"}, "rule"),
        ({"points": {"bhs": -2}}, "points"),
    ],
)
def test_secondary_worsening_bad_parameters(params, name):
    with pytest.raises((exc.ParameterError, exc.ParameterTypeError), match=name):
        SecondaryWorsening(**params)
