"""Therapist outcomes: per-patient outcomes, case mix, O/E, funnel, shrinkage, suppression."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from numpy.testing import assert_allclose
from scipy import stats

import iatrogenic as ia
from iatrogenic.exceptions import (
    ColumnNotFoundError,
    ColumnTypeError,
    InvalidValueError,
    ParameterError,
)
from iatrogenic.providers.casemix import fit_casemix
from iatrogenic.providers.funnel import funnel
from iatrogenic.providers.therapists import (
    patient_outcomes,
    suppress_counts,
    therapist_outcomes,
)

THERAPIST_COLUMNS = [
    "therapist", "n_patients", "n_scored", "observed", "expected", "ratio", "rate", "z",
    "z_adjusted", "lower95", "upper95", "lower998", "upper998", "outlier", "shrunken_ratio",
    "shrunken_lower", "shrunken_upper", "shrunken_rate", "shrinkage", "reason", "suppressed",
]


def _expit(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _per_patient(
    n_therapists: int = 40, per: int = 60, seed: int = 1, bad: dict[int, float] | None = None,
    sd: float = 0.0,
) -> pd.DataFrame:
    """A per-patient table with a known logistic outcome model and therapist effects."""
    rng = np.random.default_rng(seed)
    n = n_therapists * per
    therapist = np.repeat([f"T{i:03d}" for i in range(n_therapists)], per)
    intake = rng.normal(15, 5, n)
    sex = rng.choice(["f", "m", "x"], n, p=[0.6, 0.35, 0.05])
    effect = rng.normal(0, sd, n_therapists)
    for k, log_or in (bad or {}).items():
        effect[k] = log_or
    eta = -2.5 + 0.08 * (intake - 15) + 0.4 * (sex == "m") + np.repeat(effect, per)
    y = rng.random(n) < _expit(eta)
    return pd.DataFrame(
        {"patient": np.arange(n), "therapist": therapist, "intake": intake, "sex": sex, "harm": y}
    )


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    data, _ = ia.datasets.simulate(n_patients=600, n_therapists=12, seed=5)
    return data


# ----------------------------------------------------------------------------- columns


def test_therapist_columns_as_documented(simulated: pd.DataFrame) -> None:
    tab = therapist_outcomes(
        simulated, therapist="therapist", score="phq9", instrument="phq9", casemix="age"
    )
    assert tab.columns.tolist() == THERAPIST_COLUMNS
    doc = therapist_outcomes.__doc__ or ""
    for column in THERAPIST_COLUMNS:
        assert f"``{column}``" in doc, column
    for key in ("phi", "tau2", "eb_mean", "eb_variance", "coefficients", "suppress"):
        assert key in tab.attrs


def test_patient_columns_and_every_patient_kept(simulated: pd.DataFrame) -> None:
    pat = patient_outcomes(
        simulated, therapist="therapist", score="phq9", instrument="phq9", casemix="age"
    )
    assert pat.columns.tolist() == [
        "patient", "therapist", "order", "intake", "age", "outcome", "expected", "reason",
    ]
    assert sorted(pat["patient"]) == sorted(simulated["patient"].unique())
    rc = ia.reliable_change(simulated, score="phq9", instrument="phq9").set_index("patient")
    unscored = rc.index[rc["category"].isna()]
    assert len(unscored) > 0
    rows = pat.set_index("patient").loc[unscored]
    assert rows["outcome"].isna().all() and rows["expected"].isna().all()
    assert (rows["reason"] == rc.loc[unscored, "reason"]).all()


def test_input_not_modified(simulated: pd.DataFrame) -> None:
    before = simulated.copy()
    therapist_outcomes(simulated, therapist="therapist", score="phq9", instrument="phq9")
    pd.testing.assert_frame_equal(simulated, before)
    table = _per_patient()
    before = table.copy()
    therapist_outcomes(table, therapist="therapist", outcome="harm", severity="intake")
    pd.testing.assert_frame_equal(table, before)


# ------------------------------------------------------------------------------ outcomes


def test_reliable_deterioration_is_the_library_category(simulated: pd.DataFrame) -> None:
    pat = patient_outcomes(simulated, therapist="therapist", score="phq9", instrument="phq9")
    rc = ia.reliable_change(simulated, score="phq9", instrument="phq9").set_index("patient")
    expected = rc["category"].isin(["deteriorated", "harmed"]).astype(float)
    expected[rc["category"].isna()] = np.nan
    assert_allclose(pat.set_index("patient")["outcome"].loc[rc.index], expected, equal_nan=True)
    # better= flows through: with 'higher', the deteriorated become the improved
    flipped = patient_outcomes(
        simulated, therapist="therapist", score="phq9", instrument="phq9", better="higher"
    )
    rc2 = ia.reliable_change(simulated, score="phq9", instrument="phq9", better="higher")
    assert flipped["outcome"].sum() == rc2["category"].eq("deteriorated").sum()


def test_harmed_uses_caseness_cutoff(simulated: pd.DataFrame) -> None:
    pat = patient_outcomes(
        simulated, therapist="therapist", score="phq9", instrument="phq9", outcome="harmed"
    )
    rc = ia.reliable_change(
        simulated, score="phq9", instrument="phq9", cutoff="caseness"
    ).set_index("patient")
    assert pat["outcome"].sum() == (rc["category"] == "harmed").sum() > 0
    with pytest.raises(ParameterError, match="cut-off"):
        patient_outcomes(simulated, therapist="therapist", score="phq9", outcome="harmed")


def test_alarm_outcome_matches_screen(simulated: pd.DataFrame) -> None:
    pat = patient_outcomes(
        simulated, therapist="therapist", score="phq9", instrument="phq9", outcome="alarm",
        detector="sudden_loss",
    )
    events = ia.screen(simulated, score="phq9", instrument="phq9", detectors=["sudden_loss"])
    assert isinstance(events, pd.DataFrame)
    alarmed = set(events.loc[events["level"] == "alarm", "patient"])
    assert set(pat.loc[pat["outcome"] == 1, "patient"]) == alarmed
    with pytest.raises(ParameterError, match="detector="):
        patient_outcomes(simulated, therapist="therapist", score="phq9", outcome="alarm")


def test_dropout_after_deterioration(simulated: pd.DataFrame) -> None:
    pat = patient_outcomes(
        simulated, therapist="therapist", score="phq9", instrument="phq9",
        outcome="dropout_after_deterioration", ending="end_reason",
    ).set_index("patient")
    det = patient_outcomes(simulated, therapist="therapist", score="phq9", instrument="phq9")
    det = det.set_index("patient")["outcome"]
    ending = simulated.dropna(subset=["end_reason"]).groupby("patient")["end_reason"].last()
    want = (det == 1) & (ending.reindex(det.index) == "unplanned")
    scored = pat["reason"].isna()
    assert (pat.loc[scored, "outcome"] == want[scored].astype(float)).all()
    assert 0 < pat["outcome"].sum() < det.sum()
    with pytest.raises(ParameterError, match="ending="):
        patient_outcomes(
            simulated, therapist="therapist", score="phq9",
            outcome="dropout_after_deterioration",
        )


def test_boolean_column_any_row_true() -> None:
    long = pd.DataFrame(
        {
            "patient": [1, 1, 2, 2, 3, 3],
            "session": [1, 2, 1, 2, 1, 2],
            "score": [10.0, 12, 14, 9, 20, 18],
            "therapist": ["a", "a", "a", "a", "b", "b"],
            "event": [False, True, False, False, np.nan, np.nan],
        }
    )
    long["event"] = long["event"].astype("boolean")
    pat = patient_outcomes(long, therapist="therapist", outcome="event", severity=None)
    assert pat["outcome"].tolist()[:2] == [1.0, 0.0]
    assert np.isnan(pat["outcome"].iloc[2])
    assert pat["reason"].iloc[2] == "outcome 'event' missing"


def test_outcome_errors(simulated: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match="Did you mean 'harmed'"):
        therapist_outcomes(simulated, therapist="therapist", score="phq9", outcome="harmd")
    bad = simulated.assign(flag="yes")
    with pytest.raises(ColumnTypeError, match="'flag'"):
        therapist_outcomes(bad, therapist="therapist", score="phq9", outcome="flag")
    with pytest.raises(ColumnNotFoundError, match="therapist="):
        therapist_outcomes(simulated, therapist="clinician", score="phq9")
    moved = simulated.astype({"therapist": str})
    moved.loc[1, "therapist"] = "T99"
    with pytest.raises(InvalidValueError, match=r"'therapist'.*P00001"):
        therapist_outcomes(moved, therapist="therapist", score="phq9")
    table = _per_patient().assign(harm=lambda d: d["harm"].astype(int) * 2)
    with pytest.raises(InvalidValueError, match="True/False"):
        therapist_outcomes(table, therapist="therapist", outcome="harm", severity="intake")


# ------------------------------------------------------------------------------ case mix


def test_casemix_matches_statsmodels_formula() -> None:
    table = _per_patient(seed=3)
    pat = patient_outcomes(
        table, therapist="therapist", outcome="harm", severity="intake", casemix=["sex"]
    )
    # statsmodels: glm("harm ~ intake + C(sex)", family=Binomial())
    ref = smf.glm(
        "y ~ intake + C(sex)", data=table.assign(y=table["harm"].astype(float)),
        family=sm.families.Binomial(),
    ).fit()
    assert_allclose(pat["expected"], ref.fittedvalues, rtol=1e-8)
    coef = pd.Series(pat.attrs["coefficients"])
    names = {"Intercept": "intercept", "intake": "intake", "C(sex)[T.m]": "sex[m]",
             "C(sex)[T.x]": "sex[x]"}
    want = ref.params.rename(index=names).reindex(coef.index)
    assert_allclose(coef.to_numpy(), want.to_numpy(), rtol=1e-6, atol=1e-8)
    assert coef.index.tolist() == ["intercept", "intake", "sex[m]", "sex[x]"]
    assert_allclose(pat["expected"].sum(), table["harm"].sum(), rtol=1e-9)


def test_casemix_errors() -> None:
    table = _per_patient(seed=4)
    with pytest.raises(InvalidValueError, match=r"'site'.*constant"):
        therapist_outcomes(
            table.assign(site=1.0), therapist="therapist", outcome="harm", casemix="site",
            severity="intake",
        )
    with pytest.raises(InvalidValueError, match=r"'group'.*single level"):
        therapist_outcomes(
            table.assign(group="a"), therapist="therapist", outcome="harm", casemix="group",
            severity="intake",
        )
    with pytest.raises(InvalidValueError, match="collinear"):
        therapist_outcomes(
            table.assign(double=table["intake"] * 2), therapist="therapist", outcome="harm",
            casemix="double", severity="intake",
        )
    separated = table.assign(marker=table["harm"].astype(float))
    with pytest.raises(InvalidValueError, match=r"separated.*'marker'"):
        therapist_outcomes(
            separated, therapist="therapist", outcome="harm", casemix="marker",
            severity="intake",
        )
    with pytest.raises(InvalidValueError, match="is 0 for all"):
        therapist_outcomes(
            table.assign(harm=False), therapist="therapist", outcome="harm", severity="intake"
        )
    with pytest.raises(ColumnTypeError, match="'when'"):
        therapist_outcomes(
            table.assign(when=pd.Timestamp("2024-01-01")), therapist="therapist",
            outcome="harm", casemix="when", severity="intake",
        )


def test_fit_casemix_rare_level_quasi_separation() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.normal(size=300), "grp": ["a"] * 297 + ["b"] * 3})
    frame["y"] = (rng.random(300) < 0.3) & (frame["grp"] == "a")
    with pytest.raises(InvalidValueError, match=r"grp\[b\]"):
        fit_casemix(frame, outcome="y", columns=["x", "grp"])


def test_missing_covariate_keeps_row_with_reason() -> None:
    table = _per_patient(seed=5)
    table.loc[[3, 7], "sex"] = None
    pat = patient_outcomes(
        table, therapist="therapist", outcome="harm", severity="intake", casemix="sex"
    )
    assert pat.loc[[3, 7], "reason"].tolist() == ["missing case-mix value 'sex'"] * 2
    assert pat.loc[[3, 7], "expected"].isna().all()
    tab = therapist_outcomes(
        table, therapist="therapist", outcome="harm", severity="intake", casemix="sex",
        suppress=None,
    )
    assert tab.loc[0, "n_patients"] == 60 and tab.loc[0, "n_scored"] == 58


# ------------------------------------------------------------------------- O/E and funnel


def test_observed_expected_and_funnel_by_hand() -> None:
    table = _per_patient(seed=6, bad={0: np.log(3)})
    tab, pat = therapist_outcomes(
        table, therapist="therapist", outcome="harm", severity="intake", casemix="sex",
        suppress=None, return_patients=True,
    )
    grouped = pat.groupby("therapist").agg(o=("outcome", "sum"), e=("expected", "sum"))
    assert_allclose(tab["observed"].to_numpy(dtype=float), grouped["o"])
    assert_allclose(tab["expected"], grouped["e"], rtol=1e-12)
    assert_allclose(tab["ratio"], grouped["o"] / grouped["e"], rtol=1e-12)
    f = funnel(
        tab[["therapist", "observed", "expected"]].astype({"observed": float}),
        numerator="observed", denominator="expected", group="therapist", data_type="SR",
        sr_method="CQC",
    )
    for column in ("z", "z_adjusted", "lower95", "upper95", "lower998", "upper998"):
        assert_allclose(tab[column], f[column], rtol=1e-12)
    assert tab.loc[0, "outlier"] == "high"
    assert tab["outlier"].eq("high").sum() <= 2
    assert tab.attrs["phi"] == f.attrs["phi"]


def test_min_patients_reported_not_flagged() -> None:
    table = _per_patient(seed=7, bad={0: np.log(6)})
    small = table[table["therapist"] != "T000"]
    few = table[table["therapist"] == "T000"].head(8)
    data = pd.concat([small, few])
    tab = therapist_outcomes(
        data, therapist="therapist", outcome="harm", severity="intake", suppress=None,
        min_patients=10,
    )
    row = tab.set_index("therapist").loc["T000"]
    assert row["n_scored"] == 8 and row["observed"] >= 0
    assert row["outlier"] is None and np.isnan(row["z"]) and np.isnan(row["upper998"])
    assert row["reason"] == "fewer than min_patients=10 scored patients (8)"
    assert np.isfinite(row["shrunken_ratio"])
    assert tab.drop(index=0)["reason"].isna().all()


# ----------------------------------------------------------------------------- shrinkage


def test_shrinkage_formulas_by_hand() -> None:
    table = _per_patient(seed=8, sd=0.5)
    tab = therapist_outcomes(
        table, therapist="therapist", outcome="harm", severity="intake", suppress=None,
        level=0.9,
    )
    o = tab["observed"].to_numpy(dtype=float)
    e = tab["expected"].to_numpy()
    m = o.sum() / e.sum()
    s2 = np.sum(e * (o / e - m) ** 2) / e.sum()
    v = s2 - m / e.mean()
    assert v > 0
    beta, alpha = m / v, m * m / v
    assert_allclose(tab.attrs["eb_variance"], v, rtol=1e-10)
    assert_allclose(tab["shrunken_ratio"], (alpha + o) / (beta + e), rtol=1e-10)
    lower = stats.gamma.ppf(0.05, alpha + o, scale=1 / (beta + e))
    upper = stats.gamma.ppf(0.95, alpha + o, scale=1 / (beta + e))
    assert_allclose(tab["shrunken_lower"], lower, rtol=1e-8)
    assert_allclose(tab["shrunken_upper"], upper, rtol=1e-8)
    assert_allclose(tab["shrinkage"], beta / (beta + e), rtol=1e-10)
    assert_allclose(tab["shrunken_rate"], tab["shrunken_ratio"] * o.sum() / len(table))


def test_small_caseload_shrunk_more_than_large() -> None:
    """A therapist with 6 patients is pulled to the mean more than one with 200."""
    rng = np.random.default_rng(9)
    parts = [_per_patient(n_therapists=30, per=60, seed=9, sd=0.5)]
    for name, n in (("SMALL", 6), ("LARGE", 200)):
        intake = rng.normal(15, 5, n)
        parts.append(
            pd.DataFrame(
                {
                    "patient": [f"{name}{i}" for i in range(n)],
                    "therapist": name,
                    "intake": intake,
                    "sex": "f",
                    # both at twice the base rate, exactly
                    "harm": np.arange(n) < round(n * 2 * 0.08),
                }
            )
        )
    data = pd.concat(parts, ignore_index=True).astype({"patient": str})
    tab = therapist_outcomes(
        data, therapist="therapist", outcome="harm", severity="intake", suppress=None,
        min_patients=5,
    ).set_index("therapist")
    small, large = tab.loc["SMALL"], tab.loc["LARGE"]
    assert small["shrinkage"] > large["shrinkage"]
    m = tab.attrs["eb_mean"]
    pull_small = (small["ratio"] - small["shrunken_ratio"]) / (small["ratio"] - m)
    pull_large = (large["ratio"] - large["shrunken_ratio"]) / (large["ratio"] - m)
    assert pull_small > 0.5 > pull_large > 0
    width_small = small["shrunken_upper"] - small["shrunken_lower"]
    width_large = large["shrunken_upper"] - large["shrunken_lower"]
    assert width_small > width_large


def test_no_heterogeneity_shrinks_all_to_mean() -> None:
    table = _per_patient(seed=10, sd=0.0, per=30)
    tab = therapist_outcomes(
        table, therapist="therapist", outcome="harm", severity="intake", suppress=None
    )
    if tab.attrs["eb_variance"] == 0:
        assert_allclose(tab["shrunken_ratio"], tab.attrs["eb_mean"])
        assert_allclose(tab["shrinkage"], 1.0)


# ---------------------------------------------------------------------------- suppression


def test_suppress_blanks_small_counts_and_revealing_columns() -> None:
    table = _per_patient(n_therapists=20, per=25, seed=11)
    full = therapist_outcomes(
        table, therapist="therapist", outcome="harm", severity="intake", suppress=None
    )
    shown = therapist_outcomes(
        table, therapist="therapist", outcome="harm", severity="intake", suppress=5
    )
    obs = full["observed"].to_numpy(dtype=float)
    rest = full["n_scored"].to_numpy(dtype=float) - obs
    small = ((obs >= 1) & (obs < 5)) | ((rest >= 1) & (rest < 5))
    assert small.any() and (~small).any()
    assert shown["suppressed"].tolist() == small.tolist()
    for column in ("observed", "ratio", "rate", "z", "z_adjusted", "shrunken_ratio",
                   "shrunken_lower", "shrunken_upper", "shrunken_rate"):
        assert shown.loc[small, column].isna().all(), column
        pd.testing.assert_series_equal(
            shown.loc[~small, column], full.loc[~small, column], check_dtype=False
        )
    for column in ("expected", "lower95", "upper998", "outlier", "shrinkage"):
        pd.testing.assert_series_equal(shown[column], full[column])
    assert shown.attrs["suppress"] == 5
    # zero is shown; the function alone, on a copy
    zero = full.assign(observed=pd.array([0] * len(full), dtype="Int64"), n_scored=25)
    before = zero.copy()
    out = suppress_counts(zero, threshold=5)
    assert (out["observed"] == 0).all() and not out["suppressed"].any()
    pd.testing.assert_frame_equal(zero, before)
    assert "digital.nhs.uk" in re.sub(r"\s+", "", suppress_counts.__doc__ or "")


def test_grouped_fit_equals_patient_level_fit() -> None:
    """Integer intake scores and categories: the pattern-level fit is the patient-level one."""
    rng = np.random.default_rng(13)
    n = 4000
    frame = pd.DataFrame(
        {"intake": rng.integers(0, 28, n), "site": rng.choice(["n", "s", "e"], n)}
    )
    frame["y"] = rng.random(n) < _expit(-2 + 0.05 * (frame["intake"] - 14) + 0.3 * (
        frame["site"] == "e"))
    model = fit_casemix(frame, outcome="y", columns=["intake", "site"])
    x = np.column_stack([
        np.ones(n), frame["intake"], frame["site"] == "n", frame["site"] == "s",
    ]).astype(float)
    # statsmodels, one row per patient: GLM(y, X, family=Binomial()).fit()
    ref = sm.GLM(frame["y"].to_numpy(float), x, family=sm.families.Binomial()).fit()
    assert_allclose(model.coefficients_.to_numpy(), ref.params, rtol=1e-8, atol=1e-10)
    assert_allclose(model.standard_errors_.to_numpy(), ref.bse, rtol=1e-6)
    assert_allclose(model.probabilities_, ref.fittedvalues, rtol=1e-8)


def test_casemix_predict_reproduces_fitted_probabilities() -> None:
    table = _per_patient(seed=14)
    model = fit_casemix(table, outcome="harm", columns=["intake", "sex"])
    assert_allclose(model.predict(table), model.probabilities_, rtol=1e-12)
    assert model.levels == {"sex": ["f", "m", "x"]}


def test_per_patient_table_needs_a_severity_column() -> None:
    table = _per_patient(seed=15)
    with pytest.raises(ParameterError, match=r"severity='first'.*'session'"):
        therapist_outcomes(table, therapist="therapist", outcome="harm")
    with pytest.raises(ColumnNotFoundError, match="patient="):
        therapist_outcomes(table, therapist="therapist", outcome="harm", patient="id")
    tab = therapist_outcomes(table, therapist="therapist", outcome="harm", severity=None,
                             casemix="intake", suppress=None)
    assert list(tab.attrs["coefficients"]) == ["intercept", "intake"]
