"""Expected treatment response: band calibration, neighbours vs hlm, signals, JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic._serialize import growth_from_json, growth_to_json
from iatrogenic.core.expected_response import (
    REFERENCE_MODEL_ARGS,
    ExpectedResponseModel,
    SignalRules,
    fit_expected_response,
    load_reference_model,
)

NO_HARM = {
    "deterioration_rate": 0.0,
    "sudden_loss_rate": 0.0,
    "risk_rate": 0.0,
    "disengagement_rate": 0.0,
    "alliance_rupture_rate": 0.0,
    "dependency_rate": 0.0,
    "symptom_emergence_rate": 0.0,
    "secondary_worsening_rate": 0.0,
    "medication_rate": 0.0,
}
TRACK_COLUMNS = [
    "patient", "session", "score", "expected", "lower", "upper", "signal", "warning_lower",
    "warning_upper", "sd", "intake", "time_since_intake", "deteriorated", "reason",
]  # fmt: skip


@pytest.fixture(scope="module")
def on_course() -> tuple[pd.DataFrame, pd.DataFrame]:
    """4,000 simulated patients without any injected harm, split in two halves."""
    data, _ = ia.datasets.simulate(n_patients=4000, n_therapists=40, seed=20261127, **NO_HARM)
    ids = data["patient"].cat.categories
    first = data["patient"].isin(ids[::2])
    return data[first], data[~first]


@pytest.fixture(scope="module")
def example() -> pd.DataFrame:
    return ia.datasets.load_example()


def _beyond(tracked: pd.DataFrame) -> tuple[float, float, int]:
    post = tracked[(tracked["time_since_intake"] > 0) & tracked["score"].notna()]
    above = float((post["score"] > post["upper"]).mean())
    above_warning = float((post["score"] > post["warning_upper"]).mean())
    return above, above_warning, len(post)


@pytest.mark.parametrize("method", ["hlm", "neighbors"])
def test_band_calibration_on_simulated_on_course_patients(on_course, method):
    # Fit on one half, track the other: 10% of on-course scores lie above the 90% band and 20%
    # above the 80% band (the simulator's course is intake + slope * log(session) = log1p(time
    # since intake), the model's default time function).
    reference, new = on_course
    model = fit_expected_response(reference, score="phq9", instrument="phq9", method=method)
    above, above_warning, n = _beyond(model.track(new))
    assert n > 10_000
    assert abs(above - 0.10) <= 0.025, above
    assert abs(above_warning - 0.20) <= 0.025, above_warning


def test_band_calibration_lower_side_mirrors(on_course):
    reference, new = on_course
    tracked = fit_expected_response(reference, score="phq9", instrument="phq9").track(new)
    post = tracked[(tracked["time_since_intake"] > 0) & tracked["score"].notna()]
    assert abs(float((post["score"] < post["lower"]).mean()) - 0.10) <= 0.025
    assert abs(float((post["score"] < post["warning_lower"]).mean()) - 0.20) <= 0.025


def test_neighbors_with_whole_reference_and_uniform_weights_reduces_to_hlm(example):
    hlm = fit_expected_response(example, score="phq9", instrument="phq9")
    everyone = fit_expected_response(
        example, score="phq9", instrument="phq9", method="neighbors", k=10**6, weights="uniform"
    )
    a, b = hlm.track(example), everyone.track(example)
    for column in ["expected", "lower", "upper", "warning_lower", "warning_upper", "sd"]:
        np.testing.assert_allclose(b[column], a[column], rtol=0, atol=1e-9, err_msg=column)
    assert a["signal"].equals(b["signal"])


def test_empirical_bayes_effects_sum_to_zero(example):
    # The GLS normal equations make sum_i b_i = 0 exactly: this is why neighbors(k = N) = hlm.
    model = fit_expected_response(example, score="phq9", method="neighbors")
    effects = model._s["neighbors"]["effects"]
    np.testing.assert_allclose(effects.sum(axis=0), 0.0, atol=1e-8)


def test_neighbors_differ_from_hlm_with_small_k(example):
    hlm = fit_expected_response(example, score="phq9")
    near = fit_expected_response(example, score="phq9", method="neighbors", k=30)
    a, b = hlm.track(example), near.track(example)
    assert np.nanmax(np.abs(a["expected"] - b["expected"])) > 0.1


def test_neighbors_do_not_depend_on_reference_row_order(example):
    shuffled = example.sample(frac=1.0, random_state=2)
    a = fit_expected_response(example, score="phq9", method="neighbors", k=40)
    b = fit_expected_response(shuffled, score="phq9", method="neighbors", k=40)
    pd.testing.assert_frame_equal(a.track(example), b.track(example), rtol=1e-9)


def test_track_columns_and_rows(example):
    model = load_reference_model()
    tracked = model.track(example)
    assert list(tracked.columns) == TRACK_COLUMNS
    assert len(tracked) == len(example)
    assert set(tracked["signal"].dropna()) <= {"white", "green", "yellow", "red"}
    missing = tracked["score"].isna()
    assert tracked.loc[missing, "signal"].isna().all()
    assert (tracked.loc[missing, "reason"] == "missing score").all()
    intake = tracked["time_since_intake"] == 0
    assert (tracked.loc[intake, "expected"] == tracked.loc[intake, "score"]).all()
    assert tracked.loc[intake, "upper"].isna().all()
    assert tracked.attrs["level"] == 0.9


def test_every_patient_keeps_its_rows_with_a_reason():
    data = pd.DataFrame(
        {
            "patient": [1, 1, 1, 2, 2],
            "session": [1, 2, 3, 1, 2],
            "phq9": [np.nan, 15, 12, np.nan, np.nan],
        }
    )
    tracked = load_reference_model().track(data)
    assert tracked["reason"].fillna("-").tolist() == [
        "before intake", "-", "-", "no observed score", "no observed score",
    ]  # fmt: skip
    assert tracked["time_since_intake"].tolist()[1:3] == [0.0, 1.0]


def test_signal_rules():
    model = load_reference_model()
    data = pd.DataFrame({"patient": 1, "session": [1, 2, 3, 4], "phq9": [3.0, 2.0, 9.0, 12.0]})
    tracked = model.track(data)
    # intake 3 and 2 are functional (PHQ-9 < 10); 9 is still functional but 6 points worse than
    # intake (the PHQ-9 fixed rule), and beyond the alarm band: red wins over white by default.
    assert tracked["signal"].tolist() == ["white", "white", "red", "red"]
    assert tracked["deteriorated"].tolist() == [False, False, True, True]
    first = model.track(data, functional_first=True)
    assert first["signal"].tolist()[:3] == ["white", "white", "white"]
    plain = model.track(data, deterioration="none", functional=False)
    assert plain["deteriorated"].tolist() == [False] * 4
    assert plain["signal"].iloc[0] == "green"


def test_signal_rules_validation():
    with pytest.raises(exc.ParameterError, match="warning_level"):
        SignalRules(level=0.8, warning_level=0.9)
    with pytest.raises(exc.ParameterError, match="level"):
        SignalRules(level=1.2)
    with pytest.raises(exc.ParameterError, match="deterioration"):
        SignalRules(deterioration="sometimes")
    no_rule = fit_expected_response(ia.datasets.load_example(), score="phq9")
    with pytest.raises(exc.ParameterError, match="fixed"):
        no_rule.track(ia.datasets.load_example(), deterioration="fixed")


def test_better_higher_mirrors_better_lower(example):
    flipped = example.assign(wellbeing=27 - example["phq9"])
    low = fit_expected_response(example, score="phq9", reliability=0.89, cutoff=10)
    high = fit_expected_response(
        flipped, score="wellbeing", better="higher", reliability=0.89, cutoff=17
    )
    a, b = low.track(example), high.track(flipped)
    np.testing.assert_allclose(27 - b["expected"], a["expected"], atol=1e-8)
    np.testing.assert_allclose(27 - b["upper"], a["lower"], atol=1e-8)
    np.testing.assert_allclose(27 - b["lower"], a["upper"], atol=1e-8)
    assert a["signal"].equals(b["signal"])


def test_track_is_causal(example):
    model = load_reference_model()
    full = model.track(example)
    for t in (3, 7):
        part = model.track(example[example["session"] <= t])
        expected = full[full["session"] <= t].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, expected)


def test_covariates(example):
    data = example.copy()
    data["older"] = (data["age"] >= 40).astype(float)
    model = fit_expected_response(data, score="phq9", covariates=["older"], method="neighbors")
    assert model.fixed_effects_.index.tolist() == [
        "intercept", "time", "intake", "older", "intake:time", "older:time",
    ]  # fmt: skip
    tracked = model.track(data)
    assert tracked["expected"].notna().sum() > 0
    missing = data.assign(older=np.where(data["patient"] == "P00001", np.nan, data["older"]))
    reasons = model.track(missing).query("patient == 'P00001'")["reason"]
    assert (reasons.dropna() == "covariate missing").any()
    varying = data.assign(older=np.arange(len(data)) % 2)
    with pytest.raises(exc.InvalidValueError, match="constant within each patient"):
        fit_expected_response(varying, score="phq9", covariates="older")
    with pytest.raises(exc.ParameterError, match="intake"):
        fit_expected_response(data, score="phq9", covariates="intake")


def test_bad_parameters(example):
    with pytest.raises(exc.ParameterError, match="method"):
        fit_expected_response(example, score="phq9", method="knn")
    with pytest.raises(exc.ParameterError, match="'k'"):
        fit_expected_response(example, score="phq9", k=0)
    with pytest.raises(exc.ParameterError, match="weights"):
        fit_expected_response(example, score="phq9", weights="gaussian")
    with pytest.raises(exc.ColumnNotFoundError):
        fit_expected_response(example, score="nope")
    with pytest.raises(exc.EmptyDataError):
        fit_expected_response(example[example["session"] == 1], score="phq9")
    with pytest.raises(exc.ColumnTypeError, match="numeric"):
        fit_expected_response(example.assign(session=example["date"]), score="phq9")


def test_course_matches_track():
    model = load_reference_model()
    data = pd.DataFrame({"patient": 1, "session": [1, 3, 6], "phq9": [18.0, 15.0, 14.0]})
    tracked = model.track(data)
    course = model.course(18, [2, 5])
    np.testing.assert_allclose(course["expected"], tracked["expected"].iloc[1:], rtol=1e-12)
    np.testing.assert_allclose(course["upper"], tracked["upper"].iloc[1:], rtol=1e-12)


@pytest.mark.parametrize("method", ["hlm", "neighbors"])
def test_json_round_trip_is_exact(example, method):
    data = example.assign(older=(example["age"] >= 40).astype(float))
    model = fit_expected_response(
        data, score="phq9", instrument="phq9", method=method, covariates="older", k=25
    )
    text = model.to_json()
    assert "pickle" not in text
    again = ExpectedResponseModel.from_json(text)
    pd.testing.assert_frame_equal(again.track(data), model.track(data), check_exact=True)
    assert again.to_json() == text
    document = json.loads(text)
    assert document["format_version"] == 1 and document["library_version"] == ia.__version__


def test_json_errors():
    text = load_reference_model().to_json()
    with pytest.raises(exc.ParameterError, match="not valid JSON"):
        ExpectedResponseModel.from_json(text[:-5])
    with pytest.raises(exc.ParameterTypeError):
        ExpectedResponseModel.from_json(42)  # type: ignore[arg-type]
    document = json.loads(text)
    with pytest.raises(exc.ParameterError, match="Monitor"):
        ExpectedResponseModel.from_json(json.dumps({**document, "kind": "Monitor"}))
    with pytest.raises(exc.ParameterError, match="upgrade"):
        ExpectedResponseModel.from_json(json.dumps({**document, "format_version": 99}))
    del document["payload"]["beta"]
    with pytest.raises(exc.ParameterError, match="'beta'"):
        ExpectedResponseModel.from_json(json.dumps(document))


def test_growth_model_json_round_trip(example):
    data = example[example["phq9"].notna()].assign(older=lambda d: d["age"] >= 40)
    model = ia.fit_growth(
        data, score="phq9", time_transform="log", covariates=["older"], cluster="therapist"
    )
    again = growth_from_json(growth_to_json(model))
    pd.testing.assert_series_equal(again.fixed_effects_, model.fixed_effects_, check_exact=True)
    pd.testing.assert_frame_equal(again.random_effects_, model.random_effects_, check_exact=True)
    pd.testing.assert_frame_equal(again.predict(data), model.predict(data), check_exact=True)
    assert again.cluster_variance_ == model.cluster_variance_
    assert again.reml_criterion_ == model.reml_criterion_


def test_bundled_reference_model_is_current(example):
    # The bundled JSON must be what REFERENCE_MODEL_ARGS gives on the bundled example data. After
    # a deliberate change, rewrite it with
    # python -c "from iatrogenic.core.expected_response import _write_reference_model as w; w()"
    bundled = load_reference_model()
    refit = fit_expected_response(example, **REFERENCE_MODEL_ARGS)
    np.testing.assert_allclose(bundled.fixed_effects_, refit.fixed_effects_, rtol=1e-6)
    np.testing.assert_allclose(bundled.random_effects_cov_, refit.random_effects_cov_, rtol=1e-5)
    assert bundled.instrument_ == "phq9" and bundled.method_ == "hlm"
    assert "simulated" in (load_reference_model.__doc__ or "")
