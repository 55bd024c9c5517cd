"""ia.screen and the reliable_deterioration detector."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic.core.rci import critical_difference


def _course(scores_by_patient: dict, **columns) -> pd.DataFrame:
    rows = [
        {"patient": p, "session": s + 1, "score": v}
        for p, scores in scores_by_patient.items()
        for s, v in enumerate(scores)
    ]
    return pd.DataFrame(rows).assign(**columns)


def test_threshold_is_the_jacobson_truax_critical_difference():
    # sd = 5, r = 0.8: 1.959964 * 5 * sqrt(2 * 0.2) = 6.19795...
    expected = 1.959963984540054 * 5 * np.sqrt(0.4)
    assert critical_difference(5, 0.8) == pytest.approx(expected, rel=1e-12)
    data = _course({"a": [10, 16, 17, 12], "b": [10, 10, 16.1, 16.3]})
    events = ia.screen(
        data, detectors=[ia.get_detector("reliable_deterioration", reliability=0.8, sd=5.0)]
    )
    # a: +6 is not > 6.198, +7 is; b: +6.1 no, +6.3 yes.
    assert events["patient"].tolist() == ["a", "b"]
    assert events["session"].tolist() == [3, 4]
    np.testing.assert_allclose(events["value"], [7.0, 6.3])
    np.testing.assert_allclose(events["threshold"], expected, rtol=1e-12)
    assert (events["level"] == "alarm").all()
    assert "17 at session 3 vs intake 10 at session 1" in events["evidence"].iloc[0]


def test_fixed_rule_boundary():
    data = _course({"a": [8, 14], "b": [8, 13]})
    strict = ia.screen(
        data,
        instrument="phq9",
        detectors=[ia.get_detector("reliable_deterioration", rule="fixed", boundary="strict")],
    )
    assert strict.empty  # PHQ-9 rule is 6 points; strict needs more than 6
    # Default for the fixed rule: inclusive, as published ("6 points or more").
    inclusive = ia.screen(
        data,
        instrument="phq9",
        detectors=[ia.get_detector("reliable_deterioration", rule="fixed")],
    )
    assert inclusive["patient"].tolist() == ["a"]
    assert inclusive["threshold"].tolist() == [6.0]
    assert "harmed" in inclusive["evidence"].iloc[0]  # 8 (functional) -> 14 (clinical)


def test_new_spell_of_deterioration_raises_a_new_event():
    data = _course({"a": [5, 15, 6, 16]})
    events = ia.screen(
        data, detectors=[ia.get_detector("reliable_deterioration", reliability=0.9, sd=4.0)]
    )
    assert events["session"].tolist() == [2, 4]


def test_missing_scores_are_skipped_not_fatal():
    data = _course({"a": [np.nan, 5, np.nan, 15], "b": [np.nan, np.nan]})
    events = ia.screen(
        data, detectors=[ia.get_detector("reliable_deterioration", reliability=0.9, sd=4.0)]
    )
    assert events["session"].tolist() == [4]
    assert "intake 5 at session 2" in events["evidence"].iloc[0]


def test_skipped_detector_is_reported():
    data = _course({"a": [5, 15]})
    events = ia.screen(data)
    assert events.empty
    assert {
        "detector": "reliable_deterioration",
        "reason": "needs reliability (pass instrument= or reliability=)",
    } in events.attrs["skipped"]


def test_named_but_absent_column_is_an_error():
    data = _course({"a": [5, 15]})
    with pytest.raises(exc.ColumnNotFoundError, match="risk_item="):
        ia.screen(data, instrument="phq9", risk_item="item9")


def test_unknown_instrument_lists_valid_names():
    with pytest.raises(exc.UnknownNameError, match="phq9"):
        ia.screen(_course({"a": [5, 15]}), instrument="phq-10")


def test_scores_outside_instrument_range():
    with pytest.raises(exc.OutOfRangeError, match="instrument 'phq9'"):
        ia.screen(_course({"a": [5, 35]}), instrument="phq9")


def test_events_sorted_by_patient_then_session():
    data, _ = ia.datasets.simulate(n_patients=200, n_therapists=5, seed=11)
    events = ia.screen(data, score="phq9", instrument="phq9")
    order = data.drop_duplicates("patient")["patient"].sort_values().tolist()
    rank = {p: i for i, p in enumerate(order)}
    keys = list(zip(events["patient"].map(rank), events["session"].astype(float), strict=True))
    assert keys == sorted(keys)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 27), min_size=2, max_size=10))
def test_direction_symmetry(scores):
    """better='higher' on negated scores raises the same events as better='lower'."""
    data = _course({"a": scores})
    detector = ia.get_detector("reliable_deterioration", reliability=0.85, sd=5.0)
    lower = ia.screen(data, detectors=[detector], better="lower")
    higher = ia.screen(data.assign(score=-data["score"]), detectors=[detector], better="higher")
    pd.testing.assert_frame_equal(lower.drop(columns="evidence"), higher.drop(columns="evidence"))


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(0, 10_000))
def test_patient_relabelling(offset):
    data, _ = ia.datasets.simulate(n_patients=40, n_therapists=4, seed=5)
    relabel = {p: f"X{i + offset}" for i, p in enumerate(sorted(data["patient"].unique()))}
    detector = ia.get_detector("reliable_deterioration", reliability=0.89, sd=5.0)
    base = ia.screen(data, detectors=[detector], score="phq9")
    renamed = ia.screen(
        data.assign(patient=data["patient"].map(relabel)), detectors=[detector], score="phq9"
    )
    back = {v: k for k, v in relabel.items()}
    restored = renamed.assign(patient=renamed["patient"].map(back))
    key = ["patient", "session"]
    pd.testing.assert_frame_equal(
        base.sort_values(key, key=lambda c: c.astype(str)).reset_index(drop=True),
        restored.sort_values(key, key=lambda c: c.astype(str)).reset_index(drop=True),
        check_dtype=False,
    )


def test_screen_summary_keeps_every_patient():
    data = _course({"a": [5, 15, 16], "b": [10, 9], "c": [np.nan, np.nan]})
    detector = ia.get_detector("reliable_deterioration", reliability=0.9, sd=4.0)
    _, patients = ia.screen(data, detectors=[detector], summary=True)
    assert patients["patient"].tolist() == ["a", "b", "c"]
    assert patients["worst_level"].tolist() == ["alarm", "none", "none"]
    assert patients["n_alarms"].tolist() == [1, 0, 0]
    assert patients["harms"].tolist() == ["deterioration", "", ""]
    assert patients["first_alarm_session"].tolist()[0] == 2
    assert pd.isna(patients["first_alarm_session"].iloc[1])


def test_screen_summary_of_hand_made_events():
    events = pd.DataFrame(
        {
            "patient": ["x", "x", "y"],
            "detector": ["d1", "d2", "d1"],
            "harm": ["self_harm", "deterioration", "self_harm"],
            "session": [2, 5, 3],
            "level": ["warning", "alarm", "warning"],
            "value": [1.0, 8.0, 1.0],
            "threshold": [0.0, 6.0, 0.0],
            "evidence": ["e", "e", "e"],
        }
    )
    table = ia.screen_summary(events, ["x", "y", "z"])
    assert table["worst_level"].tolist() == ["alarm", "warning", "none"]
    assert table["harms"].tolist() == ["deterioration, self_harm", "self_harm", ""]
    assert table["first_event_session"].tolist()[:2] == [2, 3]
    assert table["first_alarm_session"].tolist()[0] == 5
    with pytest.raises(exc.ParameterError, match="missing from 'patients'"):
        ia.screen_summary(events, ["x"])


def test_auto_rule_uses_the_published_rule_when_the_instrument_has_no_sd():
    # PHQ-9 has no SD in the registry: "auto" takes its 6-point rule, the same for any batch.
    data = _course({"a": [10, 16]})
    events = ia.screen(data, instrument="phq9", detectors=["reliable_deterioration"])
    assert events["threshold"].tolist() == [6.0]
    assert "fixed rule: >= 6 points" in events["evidence"].iloc[0]


def test_one_patient_without_an_sd_is_skipped_not_fatal():
    data = _course({"a": [10, 12, 20]})
    # The RCI asked for explicitly, no SD given, one patient: no SD can be had from the data.
    detector = ia.get_detector("reliable_deterioration", rule="statistical")
    events = ia.screen(data, detectors=[detector, "sudden_loss"], instrument="phq9")
    (skip,) = [s for s in events.attrs["skipped"] if s["detector"] == "reliable_deterioration"]
    assert "an SD for the reliable change index" in skip["reason"]
    assert "sudden_loss" in events.attrs["detectors"]


def test_items_and_secondary_of_the_wrong_type():
    data = _course({"a": [5, 15]}, item1=[0, 1], gad7=[3, 9])
    with pytest.raises(exc.ParameterTypeError, match="list of item columns"):
        ia.screen(data, items="item1")
    with pytest.raises(exc.ParameterTypeError, match="dict mapping each secondary column"):
        ia.screen(data, secondary=["gad7"])


def test_track_checks_the_instrument_range():
    data = _course({"a": [15, 40]})
    with pytest.raises(exc.OutOfRangeError, match="instrument 'phq9'"):
        ia.load_reference_model().track(data, score="score")


def test_a_score_on_a_missed_session_is_reported_not_dropped():
    data = pd.DataFrame({
        "pid": [1] * 5 + [2] * 5,
        "visit": list(range(1, 6)) * 2,
        "phq9": [20, 18, 17, 15, 14, 12, 13, 14, 15, 16],
        "att": ["attended", "attended", "dna", "attended", "cancelled"] * 2,
    })
    before = data.copy()
    with pytest.warns(exc.DataQualityWarning, match=r"4 row\(s\).*column 'att' \(given as "
                      r"attendance=\).*pid=1, visit=3, att='dna', phq9=17.*Suggestion"):
        events = ia.screen(data, patient="pid", time="visit", score="phq9", instrument="phq9",
                           attendance="att")
    assert events.attrs["data_problems"][0]["rows"] == 4
    pd.testing.assert_frame_equal(data, before)
    clean = data.assign(att="attended")
    assert ia.screen(clean, patient="pid", time="visit", score="phq9", instrument="phq9",
                     attendance="att").attrs["data_problems"] == []


def test_whole_sample_intake_sds_make_a_part_screen_as_the_whole():
    # A part of the data (a Dask partition) screened with the whole sample's intake SD gives
    # exactly the whole screen's events for its patients; with its own SD it would not.
    from iatrogenic.detectors import ReliableDeterioration, SuddenLoss
    from iatrogenic.screen import _screen

    data, _ = ia.datasets.simulate(n_patients=300, n_therapists=10, seed=3)
    detectors = [ReliableDeterioration(reliability=0.84), SuddenLoss(reliability=0.84)]
    options = {"score": "phq9", "detectors": detectors}
    whole = ia.screen(data, **options)
    first = data.groupby("patient")["phq9"].first()
    sd = float(np.std(first.dropna().to_numpy(), ddof=1))
    patients = sorted(data["patient"].unique())[:60]
    part = data[data["patient"].isin(patients)]
    expected = whole[whole["patient"].isin(patients)].reset_index(drop=True)
    assert len(expected) > 5

    given = _screen(part, **{**_defaults(), **options}, intake_sds={"score": sd})
    pd.testing.assert_frame_equal(given.reset_index(drop=True), expected)
    own = ia.screen(part, **options)
    assert not own["threshold"].equals(given["threshold"])


def _defaults() -> dict:
    import inspect

    return {
        name: parameter.default
        for name, parameter in inspect.signature(ia.screen).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
