"""One contract for every registered detector (river's test_estimators, ruptures' product tests).

Any detector added to the registry is checked here automatically.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic.detectors import EVENT_COLUMNS, HARMS, Detector
from iatrogenic.detectors.registry import registered_names

NAMES = registered_names()


SIMULATED = ia.datasets.simulate(
    n_patients=120, n_therapists=6, seed=20261127, return_medications=True
)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return SIMULATED[0]


def _screen(data: pd.DataFrame, name: str) -> pd.DataFrame:
    """Screen with every optional input the simulated cohort carries, so each detector runs."""
    medications = SIMULATED[2]
    options = ia.datasets.screen_options(medications[medications["patient"].isin(data["patient"])])
    options["secondary"] = {"gad7": "gad7"}
    return ia.screen(data, detectors=[name], **options)


@pytest.mark.parametrize("name", NAMES)
def test_class_attributes(name):
    detector = ia.get_detector(name)
    assert isinstance(detector, Detector)
    assert detector.name == name
    assert detector.harm in HARMS
    assert detector.description
    assert all(isinstance(need, str) for need in detector.needs)
    row = ia.list_detectors().set_index("name").loc[name]
    assert row["harm"] == detector.harm


@pytest.mark.parametrize("name", NAMES)
def test_event_columns_and_dtypes(cohort, name):
    events = _screen(cohort, name)
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert {str(t) for t in events.dtypes} <= {"object", "float64"}
    assert dict(events.dtypes.astype(str)) == EVENT_COLUMNS
    assert events.attrs["detectors"] == [name], events.attrs["skipped"]
    assert len(events) > 0, f"{name} found nothing in a simulated cohort with injected harm"
    assert set(events["level"]) <= {"warning", "alarm"}
    assert set(events["detector"]) == {name}
    assert set(events["patient"]) <= set(cohort["patient"])
    assert events["evidence"].map(lambda e: isinstance(e, str) and len(e) > 0).all()
    assert np.isfinite(events["value"]).all()


@pytest.mark.parametrize("name", NAMES)
def test_deterministic(cohort, name):
    pd.testing.assert_frame_equal(_screen(cohort, name), _screen(cohort, name))


@pytest.mark.parametrize("name", NAMES)
def test_input_not_mutated(cohort, name):
    before = cohort.copy(deep=True)
    _screen(cohort, name)
    pd.testing.assert_frame_equal(cohort, before)


@pytest.mark.parametrize("name", NAMES)
def test_row_order_invariant(cohort, name):
    shuffled = cohort.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(_screen(cohort, name), _screen(shuffled, name))


@pytest.mark.parametrize("name", NAMES)
def test_causal(cohort, name):
    full = _screen(cohort, name)
    for t in (2, 4, 6, 9):
        truncated = _screen(cohort[cohort["session"] <= t], name)
        expected = full[full["session"].astype(float) <= t].reset_index(drop=True)
        pd.testing.assert_frame_equal(truncated, expected, check_like=False)


@pytest.mark.parametrize("name", NAMES)
def test_missing_inputs_are_skipped_with_reason(cohort, name):
    detector = ia.get_detector(name)
    bare = cohort[["patient", "session", "phq9"]]
    events = ia.screen(bare, detectors=[name], score="phq9")  # no instrument, no extra columns
    if events.attrs["detectors"] == [name]:
        assert detector.needs == ("score",), f"{name} ran without its inputs {detector.needs}"
        return
    (skip,) = events.attrs["skipped"]
    assert skip["detector"] == name and skip["reason"].startswith("needs ")
    assert len(events) == 0


@pytest.mark.parametrize("name", NAMES)
def test_bad_parameters_raise_clear_errors(name):
    with pytest.raises(TypeError):
        ia.get_detector(name, no_such_parameter=1)
    cls = type(ia.get_detector(name))
    for params in getattr(cls, "_invalid_params", ()):
        with pytest.raises((exc.ParameterError, exc.ParameterTypeError)) as info:
            cls(**params)
        assert any(key in str(info.value) for key in params)


def test_all_detectors_declare_invalid_params():
    for name in NAMES:
        cls = type(ia.get_detector(name))
        assert getattr(cls, "_invalid_params", ()), f"{name} declares no _invalid_params example"


def test_unknown_detector_lists_valid_names():
    with pytest.raises(exc.UnknownNameError, match="reliable_deterioration"):
        ia.screen(
            pd.DataFrame({"patient": [1], "session": [1], "score": [1.0]}), detectors=["nope"]
        )
