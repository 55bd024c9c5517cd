"""ia.Monitor: same events as the screen, exact JSON round trip, clear errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic.core.expected_response import fit_expected_response, load_reference_model
from iatrogenic.detectors.base import EVENT_COLUMNS, Detector, empty_events
from iatrogenic.detectors.off_track import OffTrack
from iatrogenic.monitor import Monitor

COHORT, _TRUTH = ia.datasets.simulate(n_patients=40, seed=5)


def _missing(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _feed(monitor: Monitor, data: pd.DataFrame) -> pd.DataFrame:
    """Feed ``data`` session by session (all patients' session 1, then 2, ...)."""
    rows = data.sort_values(["session", "patient"])
    tables = []
    columns = [rows[c] for c in ("patient", "session", "phq9", "phq9_item9")]
    for p, s, y, item in zip(*columns, strict=True):
        events = monitor.update(p, int(s), _missing(y), phq9_item9=_missing(item))
        assert list(events.columns) == list(EVENT_COLUMNS)
        if len(events):
            tables.append(events)
    return pd.concat(tables, ignore_index=True)


def _sorted(events: pd.DataFrame) -> pd.DataFrame:
    return (
        events.assign(patient=events["patient"].astype(str))
        .sort_values(["patient", "session", "detector"], kind="stable")
        .reset_index(drop=True)
    )


@pytest.fixture(scope="module")
def models() -> dict[str, object]:
    reference, _ = ia.datasets.simulate(n_patients=300, seed=6)
    return {
        method: fit_expected_response(reference, score="phq9", instrument="phq9", method=method)
        for method in ("hlm", "neighbors")
    }


@pytest.mark.parametrize("method", ["hlm", "neighbors"])
def test_same_events_as_the_screen(models, method):
    model = models[method]
    detectors: list[str | Detector] = [
        ia.get_detector("reliable_deterioration", rule="fixed"),
        "risk_item",
    ]
    screened = ia.screen(
        COHORT, score="phq9", instrument="phq9", detectors=[OffTrack(model=model), *detectors]
    )
    monitor = Monitor(model, ["off_track", *detectors])
    live = _feed(monitor, COHORT)
    assert set(live["detector"]) == {"off_track", "reliable_deterioration", "risk_item"}
    pd.testing.assert_frame_equal(_sorted(live), _sorted(screened))


def test_json_round_trip_continues_identically(models):
    model = models["neighbors"]
    rows = COHORT.sort_values(["session", "patient"])
    half = rows["session"] <= 5
    first = Monitor(model, ["off_track", "risk_item"])
    _feed(first, rows[half])
    text = first.to_json()
    second = Monitor.from_json(text)
    assert second.to_json() == text
    assert second.patients == first.patients
    pd.testing.assert_frame_equal(_feed(first, rows[~half]), _feed(second, rows[~half]))
    document = json.loads(text)
    assert document["kind"] == "Monitor" and document["format_version"] == 1


def test_missing_scores_and_history():
    monitor = Monitor(load_reference_model())
    assert len(monitor.update("a", 1, None)) == 0  # no intake yet
    assert len(monitor.update("a", 2, 16)) == 0  # intake
    assert len(monitor.update("a", 3, float("nan"))) == 0
    events = monitor.update("a", 4, 26)
    assert events["level"].tolist() == ["alarm"]
    history = monitor.history("a")
    assert history["session"].tolist() == [1, 2, 3, 4]
    assert np.isnan(history["score"].iloc[0])
    restored = Monitor.from_json(monitor.to_json())
    pd.testing.assert_frame_equal(restored.history("a"), history)


def test_covariates_are_taken_at_intake():
    example = ia.datasets.load_example()
    data = example.assign(older=(example["age"] >= 40).astype(float))
    model = fit_expected_response(data, score="phq9", covariates="older")
    monitor = Monitor(model)
    monitor.update(1, 1, 15, older=1.0)
    state = monitor._patients[1]
    assert state["params"] is not None
    monitor.update(2, 1, 15)  # covariate missing at intake: no expectation, no events
    assert monitor._patients[2]["params"] is None
    assert len(monitor.update(2, 2, 27)) == 0


def test_errors():
    model = load_reference_model()
    monitor = Monitor(model)
    monitor.update("a", 2, 10)
    with pytest.raises(exc.ParameterError, match="increasing"):
        monitor.update("a", 2, 11)
    with pytest.raises(exc.ParameterTypeError, match="score"):
        monitor.update("a", 3, "ten")
    with pytest.raises(exc.OutOfRangeError):
        monitor.update("a", 3, 40)
    with pytest.raises(exc.ParameterTypeError, match="session"):
        monitor.update("a", "third", 12)
    with pytest.raises(exc.ParameterTypeError, match="model"):
        Monitor("model")  # type: ignore[arg-type]
    other = fit_expected_response(ia.datasets.load_example(), score="phq9", instrument="phq9")
    with pytest.raises(exc.ParameterError, match="own model"):
        Monitor(model, [OffTrack(model=other)])
    with pytest.raises(exc.ParameterError, match="better"):
        Monitor(model, better="higher")
    with pytest.raises(exc.ParameterError, match="not valid JSON"):
        Monitor.from_json("{")
    with pytest.raises(exc.ParameterError, match="ExpectedResponseModel"):
        Monitor.from_json(model.to_json())


# -- failed updates leave the monitor unchanged --------------------------------------------------

_COLUMNS = {"alliance": "srs", "attendance": "att", "date": "when"}
_DETECTORS = ["off_track", "risk_item", "alliance_rupture", "disengagement"]


def _started() -> Monitor:
    """P1 at intake and one session later (risk item 0, alliance fine, attended)."""
    monitor = Monitor(load_reference_model(), _DETECTORS, columns=_COLUMNS)
    monitor.update("P1", 1, 16, phq9_item9=0, srs=38, att="attended", when="2024-01-01")
    monitor.update("P1", 2, 17, phq9_item9=0, srs=38, att="attended", when="2024-01-08")
    return monitor


_GOOD = {"phq9_item9": 1, "srs": 38, "att": "attended", "when": "2024-01-15"}


@pytest.mark.parametrize(
    ("session", "score", "values", "error", "match"),
    [
        (3, 26, {"phq9_item9": 7}, exc.OutOfRangeError, r"phq9_item9=7 .* range \[0, 3\]"),
        (3, 26, {"phq9_item9": -1}, exc.OutOfRangeError, "range"),
        (3, 26, {"phq9_item9": "two"}, exc.ColumnTypeError, "numbers"),
        (3, 26, {"phq9_item9": True}, exc.ColumnTypeError, "numbers"),
        (3, 26, {"phq9_item9": math.inf}, exc.InvalidValueError, "finite"),
        (3, 26, {"phq9_item9": [1]}, exc.ParameterTypeError, "JSON"),
        (3, 26, {"srs": "high"}, exc.ColumnTypeError, r"'srs' \(given as alliance=\)"),
        (3, 26, {"att": "DNA!"}, exc.InvalidValueError, "'attended', 'cancelled', 'dna'"),
        (3, 26, {"when": "not a date"}, exc.ColumnTypeError, "dates"),
        (3, 26, {"when": 15}, exc.ColumnTypeError, "not day numbers"),
        (3, "26", {}, exc.ParameterTypeError, "score"),
        (3, 40, {}, exc.OutOfRangeError, "score 40"),
        (2, 26, {}, exc.ParameterError, "increasing"),
        ("3", 26, {}, exc.ParameterTypeError, "session"),
    ],
)
def test_failed_update_changes_nothing(session, score, values, error, match):
    monitor = _started()
    before = monitor.to_json()
    with pytest.raises(error, match=match):
        monitor.update("P1", session, score, **{**_GOOD, **values})
    assert monitor.to_json() == before
    # the same session, corrected, gives the events of a monitor that never saw the bad one
    events = monitor.update("P1", 3, 26, **_GOOD)
    reference = _started()
    pd.testing.assert_frame_equal(events, reference.update("P1", 3, 26, **_GOOD))
    assert monitor.to_json() == reference.to_json()
    assert events[["detector", "level"]].values.tolist() == [
        ["off_track", "alarm"],
        ["risk_item", "alarm"],
    ]


def test_failed_first_update_adds_no_patient():
    monitor = _started()
    before = monitor.to_json()
    with pytest.raises(exc.OutOfRangeError):
        monitor.update("P2", 1, 16, phq9_item9=9)
    with pytest.raises(exc.OutOfRangeError):
        monitor.update("P2", 1, 30)
    assert monitor.patients == ["P1"]
    assert monitor.to_json() == before
    assert len(monitor.update("P2", 1, 16, phq9_item9=0)) == 0
    assert monitor.patients == ["P1", "P2"]


def test_the_reported_sequence():
    monitor = Monitor(load_reference_model(), detectors=["off_track", "risk_item"])
    monitor.update("P1", 1, 16, phq9_item9=0)
    with pytest.raises(exc.OutOfRangeError, match="phq9_item9"):
        monitor.update("P1", 2, 18, phq9_item9=7)
    events = monitor.update("P1", 2, 18, phq9_item9=1)
    # the off_track warning was not used up by the failed call
    assert events[["session", "detector", "level"]].values.tolist() == [
        [2, "off_track", "warning"],
        [2, "risk_item", "alarm"],
    ]
    events = monitor.update("P1", 3, 20, phq9_item9=1)
    assert events[["session", "detector", "level"]].values.tolist() == [
        [3, "off_track", "alarm"],
        [3, "risk_item", "warning"],
    ]
    assert monitor.history("P1")["phq9_item9"].tolist() == [0, 1, 1]


class _Fails(Detector):
    """Fails on any score above 20, after the monitor has checked the update."""

    name = "fails"
    harm = "deterioration"

    def detect(self, data):
        if (data.long.frame["score"] > 20).any():
            raise exc.InvalidValueError("a detector failed")
        return empty_events()


def test_detector_failure_is_rolled_back():
    monitor = Monitor(load_reference_model(), ["off_track", _Fails()], columns={"alliance": "srs"})
    assert len(monitor.update("a", 1, 16)) == 0
    before = monitor.to_json()
    with pytest.raises(exc.InvalidValueError, match="a detector failed"):
        monitor.update("a", 2, 26, srs=30)  # a new column, off_track alarm, then the failure
    assert monitor.to_json() == before
    assert list(monitor.history("a").columns) == ["patient", "session", "score"]
    with pytest.raises(exc.InvalidValueError):
        monitor.update("b", 1, 25)  # a new patient
    assert monitor.patients == ["a"]
    assert monitor.to_json() == before
    # the off_track alarm was not used up by the failed update
    events = monitor.update("a", 2, 20)
    assert events[["detector", "level"]].values.tolist() == [["off_track", "alarm"]]
    reference = Monitor(
        load_reference_model(), ["off_track", _Fails()], columns={"alliance": "srs"}
    )
    reference.update("a", 1, 16)
    pd.testing.assert_frame_equal(events, reference.update("a", 2, 20))
    assert monitor.to_json() == reference.to_json()


@pytest.mark.parametrize("patient", [["a"], {"a": 1}, 1.5, None, True, ("a", 1)])
def test_patient_ids_are_strings_or_integers(patient):
    monitor = Monitor(load_reference_model())
    with pytest.raises(exc.ParameterTypeError, match="'patient' parameter"):
        monitor.update(patient, 1, 10)
    assert monitor.patients == []
    with pytest.raises(exc.ParameterTypeError, match="'patient' parameter"):
        monitor.history(patient)
    monitor.update(np.int64(7), 1, 10)
    monitor.update(np.str_("x"), 1, 10)
    assert monitor.patients == [7, "x"]


def test_values_are_normalised_and_missing_values_accepted():
    monitor = Monitor(load_reference_model(), _DETECTORS, columns=_COLUMNS)
    monitor.update(
        "a",
        1,
        16,
        phq9_item9=np.int64(0),
        srs=np.float64(38),
        att=" Attended ",
        when=pd.Timestamp("2024-01-01"),
    )
    monitor.update("a", 2, 16, phq9_item9=None, srs=math.nan, att=None, when=pd.NaT)
    monitor.update(
        "a", 3, 16, phq9_item9=np.nan, srs=pd.NA, att=math.nan, when=np.datetime64("2024-01-15")
    )
    history = monitor.history("a")
    assert history["phq9_item9"].iloc[0] == 0.0
    assert history["when"].iloc[2] == pd.Timestamp("2024-01-15")
    restored = Monitor.from_json(monitor.to_json())
    assert restored.to_json() == monitor.to_json()


# -- detectors need their inputs --------------------------------------------------------------


def test_detector_without_its_column_is_an_error():
    model = load_reference_model()
    with pytest.raises(exc.ParameterError, match=r"'alliance_rupture'.*alliance.*columns=\{"):
        Monitor(model, detectors=["alliance_rupture"])
    with pytest.raises(exc.ParameterError, match=r"'disengagement'.*attendance or date"):
        Monitor(model, detectors=["off_track", "disengagement"], columns={"alliance": "srs"})
    with pytest.raises(exc.ParameterError, match=r"medications=.*ia\.screen\(\)"):
        Monitor(model, detectors=["medication_burden"], columns={"date": "date"})
    with pytest.raises(exc.ParameterError, match="'symptom_emergence'"):
        Monitor(model, detectors=["symptom_emergence"])
    monitor = Monitor(model, ["alliance_rupture", "risk_item"], columns={"alliance": "srs"})
    # the instrument's risk item stays the default when other columns are named
    assert monitor.columns == {"risk_item": "phq9_item9", "alliance": "srs"}


def test_optional_columns_give_the_screens_events():
    data, _ = ia.datasets.simulate(n_patients=8, seed=5)
    data = data.assign(attendance=data["attendance"].astype(object))
    detectors = ["off_track", "alliance_rupture", "disengagement"]
    screened = ia.screen(
        data,
        score="phq9",
        instrument="phq9",
        detectors=detectors,
        alliance="srs",
        attendance="attendance",
        date="date",
    )
    columns = {"alliance": "srs", "attendance": "attendance", "date": "date"}
    monitor = Monitor(load_reference_model(), detectors, columns=columns)
    rows = data.sort_values(["session", "patient"])
    names = ("patient", "session", "phq9", "srs", "attendance", "date")
    tables = []
    for p, s, y, srs, attendance, date in zip(*(rows[n].tolist() for n in names), strict=True):
        events = monitor.update(
            p, s, _missing(y), srs=_missing(srs), attendance=attendance, date=date
        )
        tables.append(events)
    live = pd.concat([t for t in tables if len(t)], ignore_index=True)
    assert {"alliance_rupture", "disengagement"} <= set(live["detector"])
    pd.testing.assert_frame_equal(_sorted(live), _sorted(screened))
