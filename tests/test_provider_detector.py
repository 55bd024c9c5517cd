"""The registered ``provider`` detector (unit "therapist") and its home, ia.screen_providers."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt
import pytest

import iatrogenic as ia
from iatrogenic._validation import prepare_long
from iatrogenic.core.expected_response import load_reference_model
from iatrogenic.detectors.base import ScreenInput
from iatrogenic.detectors.registry import get_detector, registered_names
from iatrogenic.exceptions import ParameterError, ParameterTypeError, UnknownNameError
from iatrogenic.providers import ProviderDetector


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    data, _ = ia.datasets.simulate(n_patients=1200, n_therapists=12, seed=5, harmful_therapists=2)
    return data


def test_registered_with_unit_therapist() -> None:
    table = ia.list_detectors().set_index("name")
    assert table.columns.tolist() == ["harm", "unit", "needs", "description"]
    assert table.loc["provider", "unit"] == "therapist"
    assert table.loc["provider", "harm"] == "provider"
    assert table.loc["provider", "needs"] == "score, therapist"
    assert (table.drop(index="provider")["unit"] == "patient").all()
    assert "provider" not in registered_names()
    assert registered_names("therapist") == ("provider",)
    assert set(registered_names(None)) == set(table.index)
    with pytest.raises(UnknownNameError, match="Unknown detector unit 'clinic'"):
        registered_names("clinic")


def test_get_detector_asks_for_the_unit() -> None:
    with pytest.raises(ParameterError, match=r"concerns therapists.*screen_providers"):
        get_detector("provider")
    with pytest.raises(ParameterError, match="--therapist COLUMN"):
        get_detector(ProviderDetector())
    with pytest.raises(ParameterError, match="concerns patients, not therapists"):
        get_detector("sudden_loss", unit="therapist")
    with pytest.raises(UnknownNameError, match="Unknown detector unit"):
        get_detector("provider", unit="therapists")
    detector = get_detector("provider", unit="therapist", odds_ratio=3.0, min_patients=5)
    assert isinstance(detector, ProviderDetector)
    assert (detector.odds_ratio, detector.min_patients) == (3.0, 5)
    assert get_detector("provider", unit=None).name == "provider"


def test_patient_screen_and_monitor_refuse_it(simulated: pd.DataFrame) -> None:
    for detectors in (["provider"], [ProviderDetector()], "provider"):
        with pytest.raises(ParameterError, match=r"ia\.screen_providers"):
            ia.screen(simulated, score="phq9", therapist="therapist", detectors=detectors)
    with pytest.raises(ParameterError, match=r"ia\.screen_providers"):
        ia.Monitor(load_reference_model(), ["off_track", "provider"])
    # "all" is every patient detector: no therapist events in the patient screen
    events = ia.screen(simulated, score="phq9", therapist="therapist")
    assert "patient" in events.columns and "provider" not in set(events["harm"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"odds_ratio": 1.0}, "must differ from 1"),
        ({"arl": 0.5}, "'arl'"),
        ({"sr_method": "shmi2"}, "'sr_method'"),
        ({"trim_by": 0.5}, "'trim_by'"),
        ({"seed": -1}, "'seed'"),
    ],
)
def test_invalid_settings_are_named_in_the_callers_terms(
    simulated: pd.DataFrame, params: dict, message: str
) -> None:
    with pytest.raises(ParameterError, match=message) as direct:
        ProviderDetector(**params)
    assert "ProviderDetector()" in str(direct.value)
    with pytest.raises(ParameterError, match=message) as through:
        ia.screen_providers(simulated, therapist="therapist", score="phq9", **params)
    assert "screen_providers()" in str(through.value)
    assert "ProviderDetector" not in str(through.value)
    assert type(through.value) is type(direct.value)


def test_od_adjust_and_summary_must_be_booleans(simulated: pd.DataFrame) -> None:
    with pytest.raises(ParameterTypeError, match="'od_adjust'"):
        ProviderDetector(od_adjust="yes")  # type: ignore[arg-type]
    with pytest.raises(ParameterTypeError, match="'summary'"):
        ProviderDetector().screen(simulated, therapist="therapist", score="phq9",
                                  summary="yes")  # type: ignore[arg-type]


def test_detector_screen_equals_screen_providers(simulated: pd.DataFrame) -> None:
    settings = {"odds_ratio": 3.0, "limit": 2.5, "min_patients": 8, "casemix": "age"}
    # ia.screen_providers(data, therapist="therapist", score="phq9", instrument="phq9", ...)
    expected, expected_table = ia.screen_providers(
        simulated, therapist="therapist", score="phq9", instrument="phq9", summary=True,
        **settings,
    )
    detector = get_detector("provider", unit="therapist", **settings)
    events, table = detector.screen(simulated, therapist="therapist", score="phq9",
                                    instrument="phq9", summary=True)
    pdt.assert_frame_equal(events, expected)
    pdt.assert_frame_equal(table, expected_table)
    assert len(expected) > 0
    assert events.attrs["cusum_limit"] == 2.5


def test_detect_on_the_screens_input_equals_screen_providers(simulated: pd.DataFrame) -> None:
    columns = {"therapist": "therapist", "age": "age"}
    long = prepare_long(simulated, patient="patient", time="session", score="phq9",
                        caller="test", extra=columns)
    screen_input = ScreenInput(long=long, better="lower",
                               instrument=ia.instruments.get("phq9"), columns=columns)
    detector = ProviderDetector(casemix="age", limit=2.5)
    assert detector.missing_inputs(screen_input) == []
    events = detector.detect(screen_input)
    expected = ia.screen_providers(simulated, therapist="therapist", score="phq9",
                                   instrument="phq9", casemix="age", limit=2.5)
    assert len(expected) > 0
    pdt.assert_frame_equal(events, expected)

    without = ScreenInput(long=long, better="lower", instrument=ia.instruments.get("phq9"),
                          columns={"age": "age"})
    assert detector.missing_inputs(without) == ["therapist"]
    with pytest.raises(ParameterError, match="therapist="):
        detector.detect(without)
