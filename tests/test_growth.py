"""fit_growth(): the fast mixed-effects engine against statsmodels MixedLM, known truths, errors.

lme4 comparisons are in ``test_growth_vs_lme4.py``; clinicalsignificance's HLM method in
``test_hlm_vs_R.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import iatrogenic.exceptions as exc
from iatrogenic.core.growth import GrowthModel, fit_growth


def simulate(
    n: int = 60, sessions: int = 6, seed: int = 1, *, unbalanced: bool = True
) -> pd.DataFrame:
    """Random intercept and slope data; with ``unbalanced`` sessions are missing at random."""
    rng = np.random.default_rng(seed)
    b0 = rng.normal(0, 4, n)
    b1 = rng.normal(0, 1, n)
    group = rng.choice(["cbt", "tau"], n)
    intake = rng.normal(15, 3, n)
    patient = np.repeat(np.arange(n), sessions)
    t = np.tile(np.arange(sessions), n).astype(float)
    effect = np.where(group[patient] == "cbt", -0.5, 0.0)
    y = (
        18 + 0.3 * (intake[patient] - 15) + b0[patient] + (-1 + effect + b1[patient]) * t
        + rng.normal(0, 2, n * sessions)
    )
    data = pd.DataFrame({
        "patient": [f"p{i:03d}" for i in patient], "session": t, "score": y,
        "group": group[patient], "intake": intake[patient],
    })
    if unbalanced:
        keep = rng.random(len(data)) > 0.25
        keep[t == 0] = True
        data = data[keep].reset_index(drop=True)
    return data


def statsmodels_fit(data: pd.DataFrame, formula: str, re_formula: str, reml: bool):
    sm = pytest.importorskip("statsmodels.formula.api")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.mixedlm(formula, data, groups="patient", re_formula=re_formula)
        return model.fit(reml=reml, method=["lbfgs"], gtol=1e-10)


# --- agreement with statsmodels MixedLM --------------------------------------------------------

@pytest.mark.parametrize("method", ["REML", "ML"])
def test_random_slope_against_statsmodels_unbalanced(method):
    data = simulate()
    ours = fit_growth(data, method=method)
    # statsmodels: mixedlm("score ~ session", data, groups="patient", re_formula="~session")
    ref = statsmodels_fit(data, "score ~ session", "~session", reml=method == "REML")
    # statsmodels stops at a looser tolerance: we must match its estimates to its precision and
    # reach at least its (RE)ML log-likelihood.
    assert ours.loglik_ >= ref.llf - 1e-9 * abs(ref.llf)
    assert_allclose(ours.fixed_effects_.to_numpy(), ref.fe_params.to_numpy(), rtol=1e-5)
    # statsmodels takes the SEs from the joint Hessian of all parameters; lme4 (and we) from
    # sigma^2 (X'V^-1 X)^-1 given theta, so they differ slightly (see test_growth_vs_lme4.py).
    assert_allclose(ours.fixed_effects_se_.to_numpy(), ref.bse_fe.to_numpy(), rtol=2e-3)
    assert_allclose(ours.random_effects_cov_.to_numpy(), ref.cov_re.to_numpy(), rtol=1e-3,
                    atol=1e-4)
    assert_allclose(ours.residual_variance_, ref.scale, rtol=1e-4)
    assert_allclose(ours.loglik_, ref.llf, rtol=1e-9)
    # empirical-Bayes effects: statsmodels' random_effects are the conditional means
    ranef = pd.DataFrame(ref.random_effects).T.loc[ours.random_effects_["patient"]]
    assert_allclose(ours.random_effects_[["intercept", "time"]].to_numpy(), ranef.to_numpy(),
                    rtol=1e-4, atol=1e-3)  # to statsmodels precision


def test_random_intercept_with_covariates_against_statsmodels():
    data = simulate(seed=4)
    ours = fit_growth(data, random="intercept", covariates=["intake", "group"])
    assert list(ours.fixed_effects_.index) == [
        "intercept", "time", "intake", "group[T.tau]", "intake:time", "group[T.tau]:time"
    ]
    # statsmodels: mixedlm("score ~ session * (intake + group)", data, groups="patient")
    ref = statsmodels_fit(data, "score ~ session * (intake + group)", "1", reml=True)
    names = ["Intercept", "session", "intake", "group[T.tau]", "session:intake",
             "session:group[T.tau]"]
    assert ours.loglik_ >= ref.llf - 1e-9 * abs(ref.llf)
    assert_allclose(ours.fixed_effects_.to_numpy(), ref.fe_params[names].to_numpy(), rtol=1e-5)
    assert_allclose(ours.random_effects_cov_.iloc[0, 0], ref.cov_re.iloc[0, 0], rtol=1e-3)
    assert_allclose(ours.loglik_, ref.llf, rtol=1e-9)


@pytest.mark.parametrize(
    ("transform", "extra", "terms"),
    [
        ("quadratic", {}, ["intercept", "time", "time2"]),
        ("piecewise", {"knot": 2.0}, ["intercept", "time", "time_after_knot"]),
        ("log1p", {}, ["intercept", "time"]),
        ("log", {}, ["intercept", "time"]),
    ],
)
def test_time_transforms_against_statsmodels(transform, extra, terms):
    data = simulate(seed=5)
    data = data.assign(session=data["session"] + (1.0 if transform == "log" else 0.0))
    ours = fit_growth(data, time_transform=transform, **extra)
    assert list(ours.fixed_effects_.index) == terms
    t = data["session"]
    design = {
        "quadratic": lambda: {"time": t, "time2": t**2},
        "piecewise": lambda: {"time": t, "time_after_knot": np.maximum(t - 2.0, 0)},
        "log1p": lambda: {"time": np.log1p(t)},
        "log": lambda: {"time": np.log(t)},
    }[transform]()
    frame = data.assign(**design)
    fixed = " + ".join(terms[1:])
    # statsmodels: mixedlm("score ~ <terms>", frame, groups="patient", re_formula="~time")
    ref = statsmodels_fit(frame, f"score ~ {fixed}", "~time", reml=True)
    assert_allclose(ours.fixed_effects_.to_numpy(), ref.fe_params.to_numpy(), rtol=1e-5)
    assert_allclose(ours.loglik_, ref.llf, rtol=1e-8)


# --- three levels -----------------------------------------------------------------------------

def simulate_three_level(seed: int, therapists: int = 40, per: int = 15) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    cluster_effect = rng.normal(0, 2.0, therapists)  # therapist variance 4
    for k in range(therapists):
        for j in range(per):
            b0, b1 = rng.normal(0, 3), rng.normal(0, 0.8)
            for s in range(int(rng.integers(3, 8))):
                y = 20 + cluster_effect[k] + b0 + (-1 + b1) * s + rng.normal(0, 2)
                rows.append((f"T{k:02d}-p{j:02d}", f"T{k:02d}", s, y))
    return pd.DataFrame(rows, columns=["patient", "therapist", "session", "score"])


def test_three_level_against_statsmodels():
    data = simulate_three_level(seed=3, therapists=12, per=8)
    ours = fit_growth(data, random="intercept", cluster="therapist")
    sm = pytest.importorskip("statsmodels.formula.api")
    # statsmodels: mixedlm("score ~ session", data, groups="therapist", re_formula="1",
    #                      vc_formula={"patient": "0 + C(patient)"}).fit(reml=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.mixedlm("score ~ session", data, groups="therapist", re_formula="1",
                         vc_formula={"patient": "0 + C(patient)"}).fit(reml=True,
                                                                       method=["lbfgs"])
    assert_allclose(ours.fixed_effects_.to_numpy(), ref.fe_params.to_numpy(), rtol=1e-6)
    assert_allclose(ours.cluster_variance_, ref.cov_re.iloc[0, 0], rtol=1e-4)
    assert_allclose(ours.random_effects_cov_.iloc[0, 0], ref.vcomp[0], rtol=1e-4)
    assert_allclose(ours.residual_variance_, ref.scale, rtol=1e-5)
    assert_allclose(ours.loglik_, ref.llf, rtol=1e-9)


def test_three_level_recovers_therapist_variance():
    data = simulate_three_level(seed=11)
    model = fit_growth(data, cluster="therapist")
    assert model.converged_
    assert model.cluster_variance_ == pytest.approx(4.0, rel=0.5)
    assert model.random_effects_cov_.loc["intercept", "intercept"] == pytest.approx(9.0, rel=0.3)
    assert model.random_effects_cov_.loc["time", "time"] == pytest.approx(0.64, rel=0.3)
    assert model.residual_variance_ == pytest.approx(4.0, rel=0.1)
    assert model.cluster_effects_ is not None and len(model.cluster_effects_) == 40
    assert set(model.random_effects_["cluster"]) == set(data["therapist"])


# --- outputs -----------------------------------------------------------------------------------

def test_outputs_documented_columns():
    data = simulate()
    data.loc[len(data)] = ["zzz", 0.0, np.nan, "cbt", 10.0]  # a patient without any score
    model = fit_growth(data)
    assert isinstance(model, GrowthModel)
    assert list(model.fixed_effects_table_.columns) == [
        "estimate", "se", "z", "p_value", "ci_lower", "ci_upper"]
    re = model.random_effects_
    assert list(re.columns) == [
        "patient", "intercept", "time", "intercept_sd", "time_sd", "n_obs", "reason"]
    assert len(re) == data["patient"].nunique()
    last = re.set_index("patient").loc["zzz"]
    assert last["n_obs"] == 0 and np.isnan(last["time"]) and last["reason"] == "no observed score"
    assert model.reml_criterion_ is not None and model.deviance_ is None
    assert model.aic_ == pytest.approx(model.reml_criterion_ + 2 * 6)
    ml = fit_growth(data, method="ML")
    assert ml.reml_criterion_ is None and ml.deviance_ == pytest.approx(-2 * ml.loglik_)
    assert model.cluster_variance_ is None


def test_predict_population_and_patient():
    data = simulate(n=40)
    model = fit_growth(data)
    new = pd.DataFrame({"patient": ["p000", "p000", "new"], "session": [1.0, 8.0, 2.0]})
    pop = model.predict(new, level="population")
    pat = model.predict(new, level="patient")
    new = new.sort_values(["patient", "session"]).reset_index(drop=True)  # output order
    assert list(pop.columns) == ["patient", "session", "predicted", "lower", "upper"]
    beta = model.fixed_effects_
    assert_allclose(pop["predicted"], beta["intercept"] + beta["time"] * new["session"])
    eb = model.random_effects_.set_index("patient").loc["p000"]
    assert_allclose(pat["predicted"].iloc[1],
                    beta["intercept"] + eb["intercept"] + (beta["time"] + eb["time"]) * 1.0)
    assert pat["predicted"].iloc[0] == pytest.approx(pop["predicted"].iloc[0])  # unknown patient
    assert (pat["upper"] - pat["lower"]).iloc[1] < (pop["upper"] - pop["lower"]).iloc[1]
    assert ((pop["lower"] < pop["predicted"]) & (pop["predicted"] < pop["upper"])).all()


# --- convergence and errors -------------------------------------------------------------------

def test_convergence_failure_is_warned_and_recorded():
    data = simulate()
    with pytest.warns(exc.ConvergenceWarning, match="did not converge"):
        model = fit_growth(data, maxiter=1)
    assert model.converged_ is False
    assert model.optimizer_message_


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"time_transform": "cubic"}, exc.ParameterError, "time_transform"),
        ({"random": "curve"}, exc.ParameterError, "random"),
        ({"method": "bayes"}, exc.ParameterError, "method"),
        ({"time_transform": "piecewise"}, exc.ParameterError, "knot"),
        ({"knot": 3}, exc.ParameterError, "knot"),
        ({"maxiter": 0}, exc.ParameterError, "maxiter"),
        ({"covariates": 3}, exc.ParameterTypeError, "covariates"),
        ({"covariates": ["nope"]}, exc.ColumnNotFoundError, "nope"),
        ({"covariates": ["session"]}, exc.ParameterError, "session"),
        ({"time_transform": "log"}, exc.InvalidValueError, "> 0"),
        ({"start": [1.0]}, exc.ParameterError, "start"),
    ],
)
def test_bad_arguments_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        fit_growth(simulate(n=10), **kwargs)


def test_bad_data_raise():
    data = simulate(n=10)
    with pytest.raises(exc.ColumnTypeError, match="numeric"):
        fit_growth(data.assign(session=data["session"].map(lambda s: f"s{s}")))
    varying = data.assign(intake=np.arange(len(data), dtype=float))
    with pytest.raises(exc.InvalidValueError, match="constant within each patient"):
        fit_growth(varying, covariates="intake")
    with pytest.raises(exc.InvalidValueError, match=r"covariate 'one'.*constant"):
        fit_growth(data.assign(one=1.0), covariates="one", time_interactions=False)
    with pytest.raises(exc.EmptyDataError):
        fit_growth(data.assign(score=np.nan))
    with pytest.raises(exc.DuplicateRowsError):
        fit_growth(pd.concat([data, data.head(1)]))


# --- properties --------------------------------------------------------------------------------

BASE = simulate(n=30, seed=9)
BASE_FIT = fit_growth(BASE)


@settings(max_examples=10, derandomize=True, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(seed):
    shuffled = BASE.sample(frac=1.0, random_state=np.random.RandomState(seed))
    fit = fit_growth(shuffled)
    assert_allclose(fit.fixed_effects_, BASE_FIT.fixed_effects_, rtol=1e-12)
    assert fit.reml_criterion_ == BASE_FIT.reml_criterion_


@settings(max_examples=10, derandomize=True, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_patient_relabelling_does_not_matter(seed):
    ids = BASE["patient"].unique()
    new = dict(zip(ids, np.random.default_rng(seed).permutation(len(ids)), strict=True))
    fit = fit_growth(BASE.assign(patient=BASE["patient"].map(new)))
    assert_allclose(fit.fixed_effects_, BASE_FIT.fixed_effects_, rtol=1e-7)
    assert_allclose(fit.reml_criterion_, BASE_FIT.reml_criterion_, rtol=1e-12)
    eb = fit.random_effects_.set_index("patient").loc[[new[i] for i in ids], ["time", "time_sd"]]
    ref = BASE_FIT.random_effects_.set_index("patient").loc[ids, ["time", "time_sd"]]
    assert_allclose(eb.to_numpy(), ref.to_numpy(), rtol=1e-5, atol=1e-7)
