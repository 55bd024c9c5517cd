"""Tests of fit_trajectory_classes(random="intercept"): the growth mixture model.

No peer run: R's lcmm (``hlme(score ~ time, mixture = ~time, random = ~1, subject =
"patient", ng = K)``) is not a Debian package and is not installed here. The checks are instead
brute force and internal consistency:

- the closed-form marginal likelihood against numerical integration over the random intercept;
- K = 1 against ``fit_growth(random="intercept", method="ML")`` (itself tested against lme4);
- the fitted optimum against perturbation and a finite-difference gradient;
- the boundary ``t2 = 0`` against latent-class growth analysis (LCGA).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from numpy.testing import assert_allclose
from scipy import integrate, stats

import iatrogenic as ia
from iatrogenic.classes import TrajectoryClassModel, fit_trajectory_classes
from iatrogenic.classes import _engine as eng
from iatrogenic.classes.lcga import _Spec, _validated
from iatrogenic.exceptions import ParameterError

SEED = 1234567890


def _simulate(
    n: int = 300,
    s: int = 8,
    seed: int = 3,
    tau_sd: float = 2.0,
    unbalanced: bool = True,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Two classes (improving 70%, worsening 30%) with a random intercept of SD ``tau_sd``."""
    rng = np.random.default_rng(seed)
    cls = rng.choice(2, n, p=[0.7, 0.3])
    t = np.tile(np.arange(1, s + 1), n).astype(float)
    u = np.repeat(rng.normal(0.0, tau_sd, n), s)
    slope = np.array([-4.0, 2.0])[np.repeat(cls, s)]
    y = 15.0 + u + slope * np.log(t) + rng.normal(0.0, 1.5, n * s)
    data = pd.DataFrame({"patient": np.repeat(np.arange(n), s), "session": t, "score": y})
    if unbalanced:
        keep = t <= np.repeat(rng.integers(2, s + 1, n), s)
        data = data[keep].reset_index(drop=True)
    return data, cls


def _stats(data: pd.DataFrame) -> eng.Stats:
    spec = _Spec(time_transform="log", knot=None, covariates=[], covariate_spec=[])
    *_, st = _validated(
        data, patient="patient", time="session", score="score", spec=spec, caller="test",
        instrument=None,
    )
    return st


def _params(model: TrajectoryClassModel) -> eng.Params:
    s = model._state
    return eng.Params(s.B, s.s2, s.logpi, s.t2)


def _loglik(st: eng.Stats, par: eng.Params) -> float:
    L, _ = eng.loglik_matrix(st, par)
    return float(eng.posterior(L)[1].sum())


_FITS: dict[tuple[str, int], TrajectoryClassModel] = {}


def _fit(variance: str, k: int) -> TrajectoryClassModel:
    if (variance, k) not in _FITS:
        data, _ = _simulate()
        _FITS[variance, k] = fit_trajectory_classes(
            data, n_classes=k, random="intercept", variance=variance, seed=SEED, n_init=8
        )
    return _FITS[variance, k]


# ------------------------------------------------------------------------------------------------
# The closed form against brute force
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("t2", [0.0, 0.3, 4.0])
def test_closed_form_likelihood_against_numerical_integration(t2: float) -> None:
    # log f_k(y_i) = log int prod_t N(y_it; x_it'b_k + u, s2_k) N(u; 0, t2) du, by adaptive
    # quadrature (scipy.integrate.quad) about the conditional mode of u, against the
    # Sherman-Morrison closed form of the engine; patients with 1 to 7 observations.
    data, _ = _simulate(n=12, s=7, seed=11)
    st = _stats(data)
    par = eng.Params(
        B=np.array([[16.0, -3.5], [14.0, 1.5]]),
        s2=np.array([2.0, 3.5]),
        logpi=np.log([0.6, 0.4]),
        t2=t2,
    )
    L, _ = eng.loglik_matrix(st, par)
    closed = L - par.logpi[:, None]
    codes = data["patient"].to_numpy()
    X = np.column_stack([np.ones(len(data)), np.log(data["session"].to_numpy())])
    y = data["score"].to_numpy()
    assert len(np.unique(np.bincount(codes))) >= 4  # unbalanced: several numbers of rows
    for i in range(st.n_patients):
        yi, Xi = y[codes == i], X[codes == i]
        for k in range(2):
            mean, s2 = Xi @ par.B[k], par.s2[k]
            if t2 == 0.0:
                brute = float(stats.norm.logpdf(yi, mean, math.sqrt(s2)).sum())
            else:
                n_i, r = len(yi), yi - mean

                def log_integrand(u: float, r: np.ndarray = r, s2: float = s2) -> float:
                    return float(
                        stats.norm.logpdf(r, u, math.sqrt(s2)).sum()
                        + stats.norm.logpdf(u, 0.0, math.sqrt(t2))
                    )

                mode = t2 * r.sum() / (s2 + n_i * t2)
                sd = math.sqrt(t2 * s2 / (s2 + n_i * t2))
                shift = log_integrand(mode)
                value, _ = integrate.quad(
                    lambda u, shift=shift, f=log_integrand: math.exp(f(u) - shift),
                    mode - 14 * sd, mode + 14 * sd, epsabs=0.0, epsrel=1e-13, limit=200,
                )
                brute = shift + math.log(value)
            assert abs(closed[k, i] - brute) < 1e-8, (i, k, closed[k, i], brute)


def test_closed_form_against_multivariate_normal() -> None:
    # The same marginal density written as a multivariate normal with covariance
    # s2 I + t2 11' (scipy.stats.multivariate_normal): an independent second check.
    data, _ = _simulate(n=10, s=6, seed=12)
    st = _stats(data)
    par = eng.Params(np.array([[16.0, -3.5]]), np.array([2.0]), np.array([0.0]), 1.7)
    L, _ = eng.loglik_matrix(st, par)
    codes = data["patient"].to_numpy()
    X = np.column_stack([np.ones(len(data)), np.log(data["session"].to_numpy())])
    y = data["score"].to_numpy()
    for i in range(st.n_patients):
        n_i = int((codes == i).sum())
        cov = 2.0 * np.eye(n_i) + 1.7 * np.ones((n_i, n_i))
        mvn = stats.multivariate_normal(X[codes == i] @ par.B[0], cov)
        assert abs(L[0, i] - mvn.logpdf(y[codes == i])) < 1e-10


@settings(max_examples=40, deadline=None)
@given(
    sizes=hst.lists(hst.integers(1, 9), min_size=1, max_size=6),
    s2=hst.floats(0.05, 50.0),
    t2=hst.floats(0.0, 50.0),
    slope=hst.floats(-5.0, 5.0),
    seed=hst.integers(0, 2**31 - 1),
)
def test_closed_form_equals_multivariate_normal_property(
    sizes: list[int], s2: float, t2: float, slope: float, seed: int
) -> None:
    # Any numbers of rows, variances (t2 = 0 included) and scores far from the curve: the
    # Sherman-Morrison form equals the dense multivariate normal log-density.
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(len(sizes)), sizes)
    t = np.concatenate([np.sort(rng.choice(np.arange(1, 20), n, replace=False)) for n in sizes])
    X = np.column_stack([np.ones(len(t)), np.log(t)])
    y = rng.normal(10.0, 8.0, len(t))
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    st = eng.stats_from_rows(X, y, starts)
    B = np.array([[12.0, slope]])
    L, _ = eng.loglik_matrix(st, eng.Params(B, np.array([s2]), np.array([0.0]), t2))
    for i, n_i in enumerate(sizes):
        cov = s2 * np.eye(n_i) + t2 * np.ones((n_i, n_i))
        rows = codes == i
        expected = stats.multivariate_normal(X[rows] @ B[0], cov).logpdf(y[rows])
        assert L[0, i] == pytest.approx(expected, rel=1e-10, abs=1e-9)


# ------------------------------------------------------------------------------------------------
# The fit
# ------------------------------------------------------------------------------------------------


def test_one_class_equals_fit_growth_random_intercept_ml() -> None:
    # K = 1 is the linear mixed model score ~ log(session) + (1 | patient), fitted by ML:
    # fit_growth(random="intercept", method="ML") (tested against lme4's lmer(REML = FALSE)).
    data, _ = _simulate(n=250, seed=21)
    growth = ia.fit_growth(data, time_transform="log", random="intercept", method="ML")
    model = fit_trajectory_classes(data, n_classes=1, random="intercept", seed=SEED)
    assert model.converged_
    assert_allclose(model.loglik_, growth.loglik_, rtol=1e-6)
    curve = model.class_curves_.set_index("term")["estimate"]
    assert_allclose(curve[["intercept", "time"]], growth.fixed_effects_[["intercept", "time"]],
                    rtol=1e-6)
    assert_allclose(model.residual_variance_.iloc[0], growth.residual_variance_, rtol=1e-5)
    assert_allclose(
        model.random_intercept_variance_, growth.random_effects_cov_.iloc[0, 0], rtol=1e-5
    )
    se = model.class_curves_.set_index("term")["se"]
    assert_allclose(se[["intercept", "time"]], growth.fixed_effects_se_[["intercept", "time"]],
                    rtol=1e-3)


@pytest.mark.parametrize("variance", ["equal", "class"])
def test_optimum_against_perturbation_and_finite_differences(variance: str) -> None:
    model = _fit(variance, 2)
    data, _ = _simulate()
    st = _stats(data)
    equal = variance == "equal"
    par = _params(model)
    ll = _loglik(st, par)
    assert_allclose(ll, model.loglik_, rtol=1e-12)
    x0 = eng._free_params(par, equal)
    K, p = par.B.shape
    gradient = eng.score_vector(st, par, equal)
    for j in range(len(x0)):
        h = 1e-4 * (abs(x0[j]) + 1.0)
        lls = []
        for sign in (-1.0, 1.0):
            x = x0.copy()
            x[j] += sign * h
            lls.append(_loglik(st, eng._params_from(x, K, p, equal)))
        # no perturbation of one parameter raises the log-likelihood (beyond rounding)
        assert max(lls) <= ll + 1e-8 * abs(ll), j
        # the finite-difference gradient is near zero and matches the analytic score
        fd = (lls[1] - lls[0]) / (2.0 * h)
        assert abs(fd) * (abs(x0[j]) + 1.0) < 1e-3, (j, fd)
        assert abs(fd - gradient[j]) * (abs(x0[j]) + 1.0) < 1e-3, (j, fd, gradient[j])
    assert model.converged_
    assert "Newton decrement" in model.optimizer_message_


def test_score_against_finite_differences_away_from_optimum() -> None:
    # The analytic score (Fisher's identity) against central differences at arbitrary values.
    data, _ = _simulate(n=80, seed=31)
    st = _stats(data)
    for equal in (True, False):
        par = eng.Params(
            np.array([[15.5, -3.0], [14.0, 1.0]]), np.array([2.5, 1.5]), np.log([0.55, 0.45]),
            2.2,
        )
        if equal:
            par.s2 = np.full(2, 2.5)
        x0 = eng._free_params(par, equal)
        g = eng.score_vector(st, par, equal)
        for j in range(len(x0)):
            h = 1e-6 * (abs(x0[j]) + 1.0)
            up, down = x0.copy(), x0.copy()
            up[j] += h
            down[j] -= h
            fd = (_loglik(st, eng._params_from(up, 2, 2, equal))
                  - _loglik(st, eng._params_from(down, 2, 2, equal))) / (2.0 * h)
            assert_allclose(g[j], fd, rtol=1e-5, atol=1e-5)


def test_recovers_classes_and_variances() -> None:
    model = _fit("equal", 2)
    _, cls = _simulate()
    curves = model.class_curves_.pivot(index="class", columns="term", values="estimate")
    # class 1 (largest) improves: 15 - 4 log t; class 2 worsens: 15 + 2 log t
    assert_allclose(curves.loc[1, ["intercept", "time"]], [15.0, -4.0], atol=0.4)
    assert_allclose(curves.loc[2, ["intercept", "time"]], [15.0, 2.0], atol=0.6)
    assert model.random_intercept_variance_ == pytest.approx(4.0, rel=0.25)
    assert model.residual_variance_.iloc[0] == pytest.approx(2.25, rel=0.1)
    modal = model.posterior_["modal_class"].to_numpy(dtype=int) - 1
    agreement = max(np.mean(modal == cls), np.mean(modal != cls))
    assert agreement > 0.95
    assert model.deteriorating_class_ == 2


def test_gmm_loglik_at_least_lcga_and_better_with_random_intercept() -> None:
    # With a true random intercept (SD 2) the growth mixture model's likelihood is far above
    # LCGA's at the same K; never below it (LCGA is the boundary t2 = 0).
    data, _ = _simulate()
    for k in (1, 2, 3):
        gmm = fit_trajectory_classes(data, n_classes=k, random="intercept", seed=SEED, n_init=6)
        lcga = fit_trajectory_classes(data, n_classes=k, seed=SEED, n_init=6)
        assert gmm.loglik_ >= lcga.loglik_ - 1e-6
        assert gmm.loglik_ > lcga.loglik_ + 100.0


@pytest.mark.parametrize("seed", [0, 3, 4, 6])
def test_boundary_zero_variance_equals_lcga(seed: int) -> None:
    # Without a random intercept in the truth, data sets where the maximum sits on the boundary
    # t2 = 0 (these seeds): the growth mixture model is LCGA there, to rounding.
    data, _ = _simulate(n=200, s=6, seed=seed, tau_sd=0.0)
    gmm = fit_trajectory_classes(data, n_classes=2, random="intercept", seed=0, n_init=6)
    lcga = fit_trajectory_classes(data, n_classes=2, seed=0, n_init=6)
    assert gmm.random_intercept_variance_ == 0.0
    assert gmm.converged_
    assert_allclose(gmm.loglik_, lcga.loglik_, rtol=1e-10)
    assert_allclose(gmm.class_curves_["estimate"], lcga.class_curves_["estimate"], rtol=1e-6)
    # Karush-Kuhn-Tucker: at t2 = 0 the score of t2 does not point inside
    st = _stats(data)
    g = eng.score_vector(st, _params(gmm), True)
    assert g[2 * 2 + 1] <= 1e-6


@pytest.mark.parametrize("seed", [1, 2, 5, 7])
def test_no_true_random_intercept_gives_lcga_within_tolerance(seed: int) -> None:
    # Interior estimates of t2 without a true random intercept: small, and the likelihood gain
    # over LCGA is chance (under the null 2 * gain is a 50:50 mixture of 0 and chi-square(1)).
    data, _ = _simulate(n=200, s=6, seed=seed, tau_sd=0.0)
    gmm = fit_trajectory_classes(data, n_classes=2, random="intercept", seed=0, n_init=6)
    lcga = fit_trajectory_classes(data, n_classes=2, seed=0, n_init=6)
    assert 0.0 <= gmm.loglik_ - lcga.loglik_ < 3.0
    assert gmm.random_intercept_variance_ < 0.1 * gmm.residual_variance_.iloc[0]


def test_reproducible_json_and_predict_proba() -> None:
    data, _ = _simulate(n=120, seed=41)
    a = fit_trajectory_classes(data, n_classes=range(1, 3), random="intercept", seed=7, n_init=4)
    b = fit_trajectory_classes(data, n_classes=range(1, 3), random="intercept", seed=7, n_init=4)
    pd.testing.assert_frame_equal(a.selection_, b.selection_)
    pd.testing.assert_frame_equal(a.posterior_, b.posterior_)
    again = TrajectoryClassModel.from_json(a.to_json())
    assert again.random_ == "intercept"
    assert again.random_intercept_variance_ == a.random_intercept_variance_
    pd.testing.assert_frame_equal(again.predict_proba(data), a.predict_proba(data))
    # the posterior of the fit is predict_proba on the same rows
    pd.testing.assert_frame_equal(a.predict_proba(data), a.posterior_)
    assert a.selection_["n_parameters"].tolist() == [4, 7]
    assert "random='intercept'" in repr(a)


def test_lcga_json_without_random_fields_still_loads() -> None:
    data, _ = _simulate(n=60, seed=42, tau_sd=0.0)
    model = fit_trajectory_classes(data, n_classes=2, seed=0, n_init=2)
    d = ia.classes._json.classes_to_dict(model)
    del d["random"], d["t2"]
    again = ia.classes._json.classes_from_dict(d)
    assert again.random_ is None and again.random_intercept_variance_ is None


def test_random_errors() -> None:
    data, _ = _simulate(n=40, seed=43)
    for bad in ("slope", ["intercept"], 1):
        with pytest.raises(ParameterError, match="'random'"):
            fit_trajectory_classes(data, n_classes=2, random=bad)  # type: ignore[arg-type]


def test_plot_growth_mixture_model() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data, _ = _simulate(n=80, seed=44)
    model = fit_trajectory_classes(data, n_classes=2, random="intercept", seed=0, n_init=2)
    ax = ia.plot_trajectory_classes(model, data, n_patients=10)
    assert len(ax.collections) == 2  # one band per class, from the GMM's information
    assert len(ax.lines) == 2 + 10
    plt.close(ax.figure)
