"""fit_growth() against lme4 1.1.31 (R 4.2.2): sleepstudy (REML and ML) and a 20k-patient fit.

References in ``tests/refs/lme4`` (``lme4_sleepstudy_fits.csv``, ``lme4_growth_ref.json``; see
``tests/refs/README.md`` for the exact calls and the data generator). Where lme4's optimiser (bobyqa
/ nloptwrap) stops short of the optimum our criterion is lower or equal; the tolerances are set by
lme4's own precision.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from iatrogenic.core.growth import fit_growth


@pytest.fixture(scope="module")
def sleepstudy(refs_dir) -> pd.DataFrame:
    return pd.read_csv(refs_dir / "datasets" / "lme4__sleepstudy.csv")


@pytest.fixture(scope="module")
def sleep_ref(refs_dir) -> pd.DataFrame:
    return pd.read_csv(refs_dir / "lme4" / "lme4_sleepstudy_fits.csv")


def ref_value(ref: pd.DataFrame, model: str, kind: str, name: str) -> float:
    row = ref[(ref["model"] == model) & (ref["kind"] == kind) & (ref["name"] == name)]
    return float(row["value"].iloc[0])


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_sleepstudy_against_lme4(sleepstudy, sleep_ref, method):
    fit = fit_growth(sleepstudy, patient="Subject", time="Days", score="Reaction", method=method)
    key = method.lower()
    assert fit.converged_
    # R: fixef(lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = <method == "REML">))
    assert_allclose(fit.fixed_effects_["intercept"], ref_value(sleep_ref, key, "fixef",
                                                                "(Intercept)"), rtol=1e-10)
    assert_allclose(fit.fixed_effects_["time"], ref_value(sleep_ref, key, "fixef", "Days"),
                    rtol=1e-10)
    # R: as.data.frame(VarCorr(fit))$vcov
    cov = fit.random_effects_cov_
    assert_allclose(cov.loc["intercept", "intercept"],
                    ref_value(sleep_ref, key, "vcov", "Subject:(Intercept)"), rtol=1e-4)
    assert_allclose(cov.loc["time", "time"], ref_value(sleep_ref, key, "vcov", "Subject:Days"),
                    rtol=1e-4)
    assert_allclose(cov.loc["intercept", "time"],
                    ref_value(sleep_ref, key, "vcov", "Subject:(Intercept):Days"), rtol=1e-4)
    assert_allclose(fit.residual_variance_, ref_value(sleep_ref, key, "vcov", "Residual"),
                    rtol=1e-5)
    if method == "REML":
        # R: sqrt(diag(vcov(fit)))
        assert_allclose(fit.fixed_effects_se_["intercept"],
                        ref_value(sleep_ref, key, "se", "(Intercept)"), rtol=1e-5)
        assert_allclose(fit.fixed_effects_se_["time"], ref_value(sleep_ref, key, "se", "Days"),
                        rtol=1e-5)
        # R: REMLcrit(fit)
        crit = ref_value(sleep_ref, key, "crit", "REML")
        assert fit.reml_criterion_ is not None
        assert_allclose(fit.reml_criterion_, crit, rtol=1e-10)
        assert fit.reml_criterion_ <= crit + 1e-9
    else:
        # R: deviance(fit)
        crit = ref_value(sleep_ref, key, "crit", "deviance")
        assert fit.deviance_ is not None
        assert_allclose(fit.deviance_, crit, rtol=1e-10)
        assert fit.deviance_ <= crit + 1e-9


@pytest.fixture(scope="module")
def growth_fit(refs_dir):
    data = pd.read_csv(refs_dir / "lme4" / "lme4_growth_data.csv.gz")
    ref = json.loads((refs_dir / "lme4" / "lme4_growth_ref.json").read_text())
    fit = fit_growth(data, patient="id", time="session", time_transform="log1p")
    return fit, ref


def test_20k_growth_against_lme4(growth_fit):
    fit, ref = growth_fit
    assert fit.converged_ and fit.n_obs_ == 240_000 and fit.n_patients_ == 20_000
    # R: REMLcrit(lmer(score ~ log1p(session) + (1 + log1p(session) | id), data = d, REML = TRUE))
    assert_allclose(fit.reml_criterion_, ref["reml_criterion"], rtol=1e-6)
    assert fit.reml_criterion_ <= ref["reml_criterion"] + 1e-6
    assert_allclose(fit.loglik_, ref["logLik_REML"], rtol=1e-6)
    # R: fixef(fit); sqrt(diag(vcov(fit)))
    assert_allclose(fit.fixed_effects_["intercept"], ref["fixed_effects"]["(Intercept)"],
                    rtol=1e-5)
    assert_allclose(fit.fixed_effects_["time"], ref["fixed_effects"]["log1p(session)"],
                    rtol=1e-5)
    assert_allclose(fit.fixed_effects_se_.to_numpy(),
                    list(ref["fixed_effects_se"].values()), rtol=1e-5)
    # R: as.data.frame(VarCorr(fit))$vcov
    vc = {(c["var1"], c["var2"]): c["vcov"] for c in ref["variance_components"]}
    cov = fit.random_effects_cov_
    assert_allclose(cov.loc["intercept", "intercept"], vc[("(Intercept)", None)], rtol=1e-4)
    assert_allclose(cov.loc["time", "time"], vc[("log1p(session)", None)], rtol=1e-4)
    assert_allclose(cov.loc["intercept", "time"], vc[("(Intercept)", "log1p(session)")],
                    rtol=1e-4)
    assert_allclose(fit.residual_variance_, vc[(None, None)], rtol=1e-4)
    # R: getME(fit, "theta")
    assert_allclose(fit.theta_, ref["theta"], rtol=1e-4)


def test_20k_random_effects_shape(growth_fit):
    fit, _ = growth_fit
    re = fit.random_effects_
    assert len(re) == 20_000 and (re["n_obs"] == 12).all()
    assert np.isfinite(re[["intercept", "time", "intercept_sd", "time_sd"]].to_numpy()).all()
