"""``evaluate``: detector events scored against the ground truth, on hand-made cases with known
answers, on edge cases and on a simulated cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic.core.summary import wilson_interval
from iatrogenic.detectors.base import EVENT_COLUMNS, empty_events
from iatrogenic.evaluation import DEFAULT_TARGETS, EVALUATION_COLUMNS, evaluate

PATIENTS = [f"p{i}" for i in range(1, 11)]


def _events(rows: list[tuple[str, str, str, float, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["patient", "detector", "harm", "session", "level"])
    frame["value"] = 1.0
    frame["threshold"] = 1.0
    frame["evidence"] = "test"
    return frame.astype(EVENT_COLUMNS)


def _truth(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["patient", "harm", "onset"])
    frame["magnitude"] = 1.0
    return frame


@pytest.fixture
def case() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Ten patients, sessions 1-10 (p9 and p10 end at 6); four with deterioration.

    detector "det" (deterioration): alarms for p1 (onset 3, flagged 5), p2 (onset 4, flagged 4
    and again 8), p5 (not harmed), a warning for p3 (harmed, onset 6, warning at 7). p4 (onset
    2) is missed. "jump" (sudden_worsening): an alarm for p6 only, who has no sudden worsening.
    """
    data = pd.DataFrame(
        [(p, s) for p in PATIENTS for s in range(1, (7 if p in ("p9", "p10") else 11))],
        columns=["patient", "session"],
    )
    events = _events(
        [
            ("p1", "det", "deterioration", 5, "alarm"),
            ("p2", "det", "deterioration", 4, "alarm"),
            ("p2", "det", "deterioration", 8, "alarm"),
            ("p3", "det", "deterioration", 7, "warning"),
            ("p5", "det", "deterioration", 2, "alarm"),
            ("p6", "jump", "sudden_worsening", 3, "alarm"),
        ]
    )
    truth = _truth(
        [
            ("p1", "deterioration", 3),
            ("p2", "deterioration", 4),
            ("p3", "deterioration", 6),
            ("p4", "deterioration", 2),
            ("p9", "self_harm", 2),
        ]
    )
    return events, truth, data


def test_known_counts_rates_and_timing(case):
    events, truth, data = case
    result = evaluate(events, truth, data=data).set_index("detector")
    det = result.loc["det"]
    assert det["harm"] == "deterioration"
    assert (det["n_patients"], det["n_true"], det["n_flagged"]) == (10, 4, 3)
    assert (det["tp"], det["fp"], det["fn"], det["tn"]) == (2, 1, 2, 5)
    assert det["sensitivity"] == pytest.approx(2 / 4)
    assert det["specificity"] == pytest.approx(5 / 6)
    assert det["ppv"] == pytest.approx(2 / 3)
    assert det["npv"] == pytest.approx(5 / 7)
    low, high = wilson_interval(2, 4)
    assert det["sensitivity_low"] == pytest.approx(float(low))
    assert det["sensitivity_high"] == pytest.approx(float(high))
    # Delays: p1 5 - 3 = 2, p2 4 - 4 = 0 (first flag) -> median 1.
    assert det["median_delay"] == 1.0
    assert det["flagged_before_onset"] == 0
    # Lead to the end of treatment: p1 10 - 5 = 5, p2 10 - 4 = 6 -> 5.5.
    assert det["median_lead_to_end"] == 5.5


def test_warnings_count_when_asked(case):
    events, truth, data = case
    det = evaluate(events, truth, data=data, levels=("warning", "alarm")).iloc[0]
    assert (det["tp"], det["fp"], det["fn"], det["tn"]) == (3, 1, 1, 5)
    # p3: 7 - 6 = 1 -> delays 2, 0, 1.
    assert det["median_delay"] == 1.0
    assert det["median_lead_to_end"] == 5.0  # 5, 6, 3
    only_warnings = evaluate(events, truth, data=data, levels="warning").iloc[0]
    assert only_warnings["n_flagged"] == 1 and only_warnings["tp"] == 1


def test_detector_without_matching_truth(case):
    events, truth, data = case
    jump = evaluate(events, truth, data=data).set_index("detector").loc["jump"]
    assert jump["harm"] == "sudden_worsening"
    assert (jump["n_true"], jump["n_flagged"], jump["tp"], jump["fp"]) == (0, 1, 0, 1)
    assert np.isnan(jump["sensitivity"]) and np.isnan(jump["sensitivity_low"])
    assert jump["ppv"] == 0.0
    assert jump["specificity"] == pytest.approx(9 / 10)
    assert np.isnan(jump["median_delay"]) and np.isnan(jump["median_lead_to_end"])
    assert jump["flagged_before_onset"] == 0


def test_flag_before_onset_gives_negative_delay():
    events = _events([("a", "det", "deterioration", 2, "alarm")])
    truth = _truth([("a", "deterioration", 5)])
    row = evaluate(events, truth, patients=["a", "b"]).iloc[0]
    assert row["median_delay"] == -3.0
    assert row["flagged_before_onset"] == 1
    assert np.isnan(row["median_lead_to_end"])  # no data: end of treatment unknown


def test_no_events():
    truth = _truth([("a", "deterioration", 2)])
    result = evaluate(empty_events(), truth, patients=["a", "b"])
    assert list(result.columns) == list(EVALUATION_COLUMNS)
    assert len(result) == 0


def test_detectors_that_ran_silently_get_a_row():
    events = empty_events()
    events.attrs["detectors"] = ["reliable_deterioration"]
    truth = _truth([("a", "deterioration", 2)])
    row = evaluate(events, truth, patients=["a", "b", "c"]).iloc[0]
    assert row["detector"] == "reliable_deterioration" and row["harm"] == "deterioration"
    assert (row["n_true"], row["n_flagged"], row["tp"], row["fn"], row["tn"]) == (1, 0, 0, 1, 2)
    assert row["sensitivity"] == 0.0 and np.isnan(row["ppv"])


def test_empty_truth():
    events = _events([("a", "det", "deterioration", 2, "alarm")])
    row = evaluate(events, _truth([]), patients=["a", "b"]).iloc[0]
    assert row["n_true"] == 0 and row["fp"] == 1 and row["tn"] == 1


def test_output_columns_and_dtypes(case):
    events, truth, data = case
    result = evaluate(events, truth, data=data)
    assert list(result.columns) == list(EVALUATION_COLUMNS)
    counts = ["n_patients", "n_true", "n_flagged", "tp", "fp", "fn", "tn", "flagged_before_onset"]
    for column in result.columns:
        text = ("detector", "harm", "target")
        expected = "str" if column in text else "int64" if column in counts else "float64"
        assert str(result[column].dtype) == expected, column
    assert result["detector"].tolist() == ["det", "jump"]  # order of first appearance
    assert result.index.equals(pd.RangeIndex(2))
    rates = result.filter(regex="^(sensitivity|specificity|ppv|npv)").to_numpy()
    assert np.nanmin(rates) >= 0 and np.nanmax(rates) <= 1


def test_documented_columns():
    doc = evaluate.__doc__ or ""
    returns = doc[doc.index("Returns\n") : doc.index("Raises\n")]
    for column in EVALUATION_COLUMNS:
        if column.endswith(("_low", "_high")):
            continue
        assert f"``{column}``" in returns, column
    assert "``<measure>_low``" in returns


def test_categorical_ids_and_duplicate_truth(case):
    events, truth, data = case
    categories = pd.CategoricalDtype(PATIENTS)
    as_categories = evaluate(
        events,
        pd.concat([truth, truth.iloc[:1].assign(onset=9)]).astype({"patient": categories}),
        data=data.astype({"patient": categories}),
    )
    pd.testing.assert_frame_equal(as_categories, evaluate(events, truth, data=data))


def test_confidence_level(case):
    events, truth, data = case
    narrow = evaluate(events, truth, data=data, confidence=0.5).iloc[0]
    wide = evaluate(events, truth, data=data, confidence=0.99).iloc[0]
    assert wide["sensitivity_low"] < narrow["sensitivity_low"] < narrow["sensitivity"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"events": "events"}, exc.ParameterTypeError, "events"),
        ({"truth": [1, 2]}, exc.ParameterTypeError, "truth"),
        ({"events_drop": "level"}, exc.ColumnNotFoundError, "level"),
        ({"truth_drop": "onset"}, exc.ColumnNotFoundError, "onset"),
        ({"levels": ("alert",)}, exc.ParameterError, "levels"),
        ({"levels": ()}, exc.ParameterError, "levels"),
        ({"levels": 3}, exc.ParameterTypeError, "levels"),
        ({"confidence": 1.5}, exc.ParameterError, "confidence"),
        ({"data": None}, exc.ParameterError, "data= .* or patients="),
        ({"patients": ["p1"]}, exc.ParameterError, "not both"),
        ({"data": None, "patients": "p1"}, exc.ParameterTypeError, "patients"),
        ({"data": None, "patients": []}, exc.ParameterError, "empty"),
        ({"data": None, "patients": ["p1", "p2"]}, exc.InvalidValueError, "not among"),
        ({"patient": "id"}, exc.ColumnNotFoundError, "'id'"),
        ({"time": "visit"}, exc.ColumnNotFoundError, "'visit'"),
        ({"events_session": "pre"}, exc.InvalidValueError, "session numbers"),
        ({"targets": ["deterioration"]}, exc.ParameterTypeError, "targets"),
        ({"targets": {"det": 3}}, exc.ParameterTypeError, "targets"),
    ],
)
def test_bad_input(case, kwargs, error, match):
    events, truth, data = case
    kwargs = dict(kwargs)
    if "events_drop" in kwargs:
        events = events.drop(columns=kwargs.pop("events_drop"))
    if "truth_drop" in kwargs:
        truth = truth.drop(columns=kwargs.pop("truth_drop"))
    if "events_session" in kwargs:
        events = events.assign(session=kwargs.pop("events_session"))
    call = {"events": events, "truth": truth, "data": data, **kwargs}
    with pytest.raises(error, match=match):
        evaluate(**call)


def test_ids_of_another_type_are_an_error(case):
    events, truth, data = case
    with pytest.raises(exc.InvalidValueError, match="same type"):
        evaluate(events, truth.assign(patient=range(len(truth))), data=data)


def test_simulated_cohort_end_to_end():
    data, truth = ia.datasets.simulate(n_patients=400, n_therapists=8, seed=3)
    events = ia.screen(data, score="phq9", instrument="phq9", detectors=["reliable_deterioration"])
    row = evaluate(events, truth, data=data).iloc[0]
    assert row["harm"] == "deterioration"
    assert row["n_patients"] == 400 and row["n_true"] == 32
    assert row["sensitivity"] > 0.6 and row["specificity"] > 0.8
    assert row["tp"] + row["fp"] + row["fn"] + row["tn"] == 400
    assert row["median_lead_to_end"] >= 0


def test_targets_score_a_detector_against_another_truth_harm(case):
    events, truth, data = case
    slope = events.assign(
        detector=events["detector"].where(events["detector"] != "det", "worsening_trajectory"),
        harm=events["harm"].where(events["harm"] != "deterioration", "worsening_course"),
    )
    assert DEFAULT_TARGETS == {"worsening_course": "deterioration", "off_track": "deterioration"}
    default = evaluate(slope, truth, data=data).set_index("detector")
    plain = evaluate(events, truth, data=data).set_index("detector")
    row = default.loc["worsening_trajectory"]
    assert (row["harm"], row["target"]) == ("worsening_course", "deterioration")
    counts = ["n_true", "n_flagged", "tp", "fp", "fn", "tn", "median_delay"]
    assert row[counts].tolist() == plain.loc["det", counts].tolist()
    assert plain.loc["det", "target"] == "deterioration"  # unmapped: its own harm
    # {} turns the default off; a detector name wins over its harm.
    off = evaluate(slope, truth, data=data, targets={}).set_index("detector")
    assert off.loc["worsening_trajectory", "n_true"] == 0
    by_name = evaluate(
        slope,
        truth,
        data=data,
        targets={"worsening_course": "deterioration", "worsening_trajectory": "self_harm"},
    ).set_index("detector")
    assert by_name.loc["worsening_trajectory", "target"] == "self_harm"
    assert by_name.loc["worsening_trajectory", "n_true"] == 1
    jump = evaluate(events, truth, data=data, targets={"sudden_worsening": "deterioration"})
    assert jump.set_index("detector").loc["jump", ["target", "fp"]].tolist() == ["deterioration", 1]


def test_date_sessions_are_refused_with_a_clear_error():
    events = pd.DataFrame(
        {"patient": ["a"], "detector": ["d"], "harm": ["deterioration"],
         "session": [pd.Timestamp("2024-01-08")], "level": ["alarm"]}
    )
    truth = pd.DataFrame({"patient": ["a"], "harm": ["deterioration"], "onset": [2]})
    with pytest.raises(exc.InvalidValueError, match="not dates"):
        evaluate(events, truth, patients=["a", "b"])
