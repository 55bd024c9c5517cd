"""The off_track detector: spells, defaults, inputs, and lead time against the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic.core.expected_response import fit_expected_response, load_reference_model
from iatrogenic.detectors.off_track import OffTrack  # registers the detector


def test_registered():
    assert "off_track" in set(ia.list_detectors()["name"])
    detector = ia.get_detector("off_track")
    assert isinstance(detector, OffTrack) and detector.harm == "off_track"


def test_events_at_the_first_session_of_each_spell():
    data = pd.DataFrame(
        {"patient": 1, "session": range(1, 9), "phq9": [16, 14, 17, 19, 24, np.nan, 15, 17]}
    )
    tracked = load_reference_model().track(data)
    assert tracked["signal"].fillna("-").tolist() == [
        "green", "green", "yellow", "red", "red", "-", "green", "yellow",
    ]  # fmt: skip
    events = ia.screen(data, score="phq9", instrument="phq9", detectors=["off_track"])
    assert events["session"].tolist() == [3, 4, 8]
    assert events["level"].tolist() == ["warning", "alarm", "warning"]
    np.testing.assert_allclose(events["value"], [17, 19, 17])
    np.testing.assert_allclose(events["threshold"].iloc[1], tracked["upper"].iloc[3])
    np.testing.assert_allclose(events["threshold"].iloc[0], tracked["warning_upper"].iloc[2])
    assert "90% band up to" in events["evidence"].iloc[1]


def test_bundled_model_only_for_phq9():
    data = pd.DataFrame({"patient": 1, "session": [1, 2, 3], "gad7": [10.0, 12.0, 20.0]})
    events = ia.screen(data, score="gad7", instrument="gad7", detectors=["off_track"])
    (skip,) = events.attrs["skipped"]
    assert skip["reason"].startswith("needs ") and "reference model" in skip["reason"]


def test_own_model_and_direction_check():
    example = ia.datasets.load_example()
    model = fit_expected_response(example, score="phq9")
    flipped = example.assign(phq9=27 - example["phq9"])
    events = ia.screen(flipped, score="phq9", better="higher", detectors=[OffTrack(model=model)])
    assert "better='higher'" in events.attrs["skipped"][0]["reason"]
    events = ia.screen(example, score="phq9", detectors=[OffTrack(model=model)])
    assert len(events) > 0 and set(events["harm"]) == {"off_track"}


def test_bad_parameters():
    with pytest.raises(exc.ParameterTypeError, match="model"):
        OffTrack(model="bundled")  # type: ignore[arg-type]
    with pytest.raises(exc.ParameterError, match="warning_level"):
        OffTrack(warning_level=0.95)


def test_flags_deterioration_before_the_end_of_treatment():
    # Reference: another simulated service of the same kind (its own harms included). The pre/post
    # reliable-deterioration classification is possible only at the last session (lead 0); the
    # off_track alarm comes a median of several sessions earlier.
    data, truth = ia.datasets.simulate(n_patients=800, seed=101)
    reference, _ = ia.datasets.simulate(n_patients=800, seed=102)
    model = fit_expected_response(reference, score="phq9", instrument="phq9")
    events = ia.screen(data, score="phq9", instrument="phq9", detectors=[OffTrack(model=model)])
    events = events.assign(harm="deterioration")  # score it against deterioration
    result = ia.evaluate(events, truth, data=data).iloc[0]
    assert result["sensitivity"] >= 0.9
    assert result["median_lead_to_end"] >= 1
    assert result["median_delay"] <= 2
    assert 0.2 <= result["ppv"] <= 1.0  # lead/PPV numbers: see docs/expected-response.md
