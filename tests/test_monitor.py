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
from iatrogenic.detectors.base import EVENT_COLUMNS
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
    detectors = [ia.get_detector("reliable_deterioration", rule="fixed"), "risk_item"]
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
