"""Property test: fit_growth()'s log-likelihood is never below statsmodels MixedLM's.

Small random designs (5-30 patients, 2-8 sessions each from a schedule of 8, random intercept
or random slope, REML or ML, with or without one patient-level covariate and its interaction
with time). For the same model, statsmodels' REML log-likelihood equals lme4's ``-REMLcrit / 2``
and its ML log-likelihood ``-deviance / 2`` (checked on sleepstudy: -871.814136 and -875.969672,
both sides), so our maximised log-likelihood must be at least statsmodels' (statsmodels'
optimiser often stops short or fails on such small data). Examples where statsmodels raises or
returns a non-finite llf are discarded with ``assume`` and counted (``event``; see
``--hypothesis-show-statistics``, and the count check at the end of the file). Derandomized: the
same 25 examples on every run, plus 5 explicit examples on which the engine before the optimiser
rewrite failed.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from iatrogenic._threads import one_blas_thread
from iatrogenic.core.growth import fit_growth

sm_formula = pytest.importorskip("statsmodels.formula.api")

_COUNTS = {"compared": 0, "statsmodels_failed": 0, "statsmodels_not_converged": 0}


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    # statsmodels' small linear algebra: a threaded OpenBLAS on busy cores only stalls it
    # (the growth engine limits itself)
    with one_blas_thread():
        yield


@st.composite
def designs(draw):
    return {
        "n_patients": draw(st.integers(5, 30)),
        "min_sessions": draw(st.integers(2, 4)),
        "max_sessions": draw(st.integers(4, 8)),
        "random": draw(st.sampled_from(["intercept", "slope"])),
        "method": draw(st.sampled_from(["REML", "ML"])),
        "covariate": draw(st.booleans()),
        "sd_intercept": draw(st.sampled_from([0.0, 1.0, 4.0])),
        "sd_slope": draw(st.sampled_from([0.0, 0.1, 0.5, 1.5])),
        "corr": draw(st.sampled_from([-0.9, -0.3, 0.0, 0.5])),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def _simulate(d: dict) -> pd.DataFrame:
    rng = np.random.default_rng(d["seed"])
    n = d["n_patients"]
    z = rng.standard_normal((n, 2))
    b0 = d["sd_intercept"] * z[:, 0]
    rho = d["corr"]
    b1 = d["sd_slope"] * (rho * z[:, 0] + math.sqrt(1 - rho * rho) * z[:, 1])
    x = np.round(rng.normal(0, 1, n), 4)
    rows = []
    for i in range(n):
        k = int(rng.integers(d["min_sessions"], d["max_sessions"] + 1))
        times = np.sort(rng.choice(np.arange(8), size=k, replace=False))
        for t in times:
            y = 10 + b0[i] + 0.5 * x[i] + (-0.5 + b1[i] - 0.2 * x[i]) * t + rng.normal(0, 2)
            rows.append((i + 1, float(t), round(float(y), 4), x[i]))
    return pd.DataFrame(rows, columns=["patient", "session", "score", "x"])


def _case(n, lo, hi, random, method, cov, sd0, sd1, corr, seed):
    return {"n_patients": n, "min_sessions": lo, "max_sessions": hi, "random": random,
            "method": method, "covariate": cov, "sd_intercept": sd0, "sd_slope": sd1,
            "corr": corr, "seed": seed}


# Explicit examples: designs on which the engine before the optimiser rewrite (e96ae34) ended
# 1.8-2.9 log-likelihood units below statsmodels (it did so on 67 of 400 random designs of this
# strategy; the 25 derandomized examples alone happen to miss them).
@example(_case(24, 2, 8, "slope", "REML", False, 4.0, 0.5, 0.5, 61651175))
@example(_case(13, 4, 6, "slope", "REML", True, 4.0, 0.5, 0.0, 1410786649))
@example(_case(25, 2, 8, "slope", "ML", False, 4.0, 0.5, -0.3, 29579488))
@example(_case(29, 4, 6, "intercept", "ML", True, 1.0, 0.0, -0.3, 1616777500))
@example(_case(5, 3, 4, "intercept", "REML", False, 0.0, 0.0, -0.9, 0))
@settings(max_examples=25, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(designs())
def test_loglik_at_least_statsmodels(d):
    data = _simulate(d)
    covs = ["x"] if d["covariate"] else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # singular fits warn; convergence is asserted below
        ours = fit_growth(data, random=d["random"], method=d["method"], covariates=covs)
    reml = d["method"] == "REML"
    formula = "score ~ session * x" if d["covariate"] else "score ~ session"
    re_formula = "~session" if d["random"] == "slope" else "1"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sm_fit = sm_formula.mixedlm(formula, data, groups=data["patient"],
                                        re_formula=re_formula).fit(reml=reml)
        llf = float(sm_fit.llf)
    except Exception as exc:  # any failure of statsmodels discards the example
        _COUNTS["statsmodels_failed"] += 1
        event(f"statsmodels raised {type(exc).__name__}")
        assume(False)
        return
    if not math.isfinite(llf):
        _COUNTS["statsmodels_failed"] += 1
        event("statsmodels llf not finite")
        assume(False)
    if not sm_fit.converged:
        _COUNTS["statsmodels_not_converged"] += 1
        event("statsmodels did not converge (compared anyway)")
    _COUNTS["compared"] += 1
    assert ours.converged_
    # Python: smf.mixedlm(<formula>, data, groups=patient, re_formula=<"~session" | "1">)
    #         .fit(reml=<REML>).llf  == lme4's -REMLcrit/2 (REML) or -deviance/2 (ML):
    # ours is at least as high (we maximise the same likelihood exactly).
    assert ours.loglik_ >= llf - 1e-6 * abs(llf), (d, ours.loglik_, llf)


def test_statsmodels_examples_were_compared():
    # The property test above discards examples where statsmodels fails; most must be compared.
    if _COUNTS["compared"] == 0:
        pytest.skip("run together with test_loglik_at_least_statsmodels")
    assert _COUNTS["compared"] >= 20, _COUNTS
