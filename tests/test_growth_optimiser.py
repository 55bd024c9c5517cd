"""The growth optimiser finds the optimum or says it did not.

These tests need no peer: they use exact invariances of the model (a shift of time is a
reparametrisation, so the criterion and the slope variance cannot change; neither can patient
order or ids), the optimiser's own optimality check, and hand-made degenerate designs. The
comparison with lme4 on 120+ random designs is in ``test_growth_random_designs.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import iatrogenic as ia
import iatrogenic.exceptions as exc
from iatrogenic.core import growth
from iatrogenic.core.growth import fit_growth
from iatrogenic.detectors.worsening_trajectory import WorseningTrajectory

# Each example fits models; shrinking a failure would take minutes, the example is printed anyway
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]


def waves(seed: int, n: int = 2000, first: int = 1, missing: float = 0.03) -> pd.DataFrame:
    """Four waves at ``first .. first + 3``, correlated intercept and slope, some missing."""
    rng = np.random.default_rng(seed)
    t = np.tile(np.arange(first, first + 4), n).astype(float)
    pid = np.repeat(np.arange(n), 4)
    b0 = rng.normal(0, 6, n)
    b1 = rng.normal(0, 1.5, n) + 0.3 * b0 / 6
    y = 25 + b0[pid] + (-2 + b1[pid]) * (t - first) + rng.normal(0, 2.5, 4 * n)
    data = pd.DataFrame({"patient": pid, "session": t, "score": y})
    return data[rng.random(len(data)) >= missing].reset_index(drop=True)


def unbalanced(seed: int, n: int = 1500) -> pd.DataFrame:
    """3-20 sessions sampled from 1..24, a covariate acting on log time, and an unmodelled
    therapist effect that inflates the intercept variance."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 21, n)
    pid = np.repeat(np.arange(n), sizes)
    keys = rng.random((n, 24)).argsort(axis=1)  # a random subset of sessions per patient
    mask = np.arange(24)[None, :] < sizes[:, None]
    chosen = np.where(mask, keys, 99)
    t = (np.sort(chosen, axis=1)[mask.sum(axis=1)[:, None] > np.arange(24)] + 1).astype(float)
    t = t[: len(pid)]
    therapist = rng.integers(0, 40, n)
    x = rng.normal(0, 1, n)
    b0, b1 = rng.normal(0, 4, n), rng.normal(0, 1, n)
    y = (20 + rng.normal(0, 4, 40)[therapist][pid] + b0[pid] + x[pid]
         + (-2 + b1[pid] + 0.5 * x[pid]) * np.log(t) + rng.normal(0, 3, len(t)))
    return pd.DataFrame({"patient": pid, "session": t, "score": y, "x": x[pid]})


@pytest.mark.parametrize("seed", [0, 1])
def test_time_shift_is_a_reparametrisation(seed):
    # Times 1..4 stopped the old engine at a singular point 1,700 criterion units above the
    # optimum (correlation +1); times 0..3 fit well. The model is the same: the criterion, the
    # slope and its variance must not depend on the origin of time.
    late = fit_growth(waves(seed, first=1))
    early = fit_growth(waves(seed, first=0))
    assert late.converged_ and early.converged_
    assert not late.singular_ and not early.singular_
    assert_allclose(late.reml_criterion_, early.reml_criterion_, rtol=1e-10)
    assert_allclose(late.fixed_effects_["time"], early.fixed_effects_["time"], rtol=1e-7)
    assert_allclose(late.random_effects_cov_.loc["time", "time"],
                    early.random_effects_cov_.loc["time", "time"], rtol=1e-6)
    assert_allclose(late.residual_variance_, early.residual_variance_, rtol=1e-7)


def test_unbalanced_log_time_with_covariate_reaches_the_best_of_many_starts():
    data = unbalanced(3)
    model = fit_growth(data, time_transform="log", covariates="x")
    assert model.converged_ and not model.singular_
    corr = model.random_effects_cov_.to_numpy()
    assert abs(corr[0, 1] / np.sqrt(corr[0, 0] * corr[1, 1])) < 0.99
    # no start of a dense grid does better than the fit
    stats = _stats_of(data, transform="log", covariate="x")
    grid = [np.array([a, b, c]) for a in (0.3, 1.0, 3.0) for b in (-1.0, 0.0, 1.0)
            for c in (0.05, 0.3, 1.0)]
    best = min(growth._optimise(stats, True, start=x, maxiter=1000, has_cluster=False).ev.crit
               for x in grid)
    assert model.reml_criterion_ <= best + 1e-9 * abs(best)


def _stats_of(data: pd.DataFrame, transform: str, covariate: str | None = None):
    data = data.sort_values(["patient", "session"])
    t = data["session"].to_numpy(float)
    tt = np.log(t) if transform == "log" else t
    cols = [np.ones_like(tt), tt]
    if covariate is not None:
        x = data[covariate].to_numpy(float)
        cols += [x, x * tt]
    codes = data["patient"].to_numpy()
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    return growth._sufficient_stats(
        np.column_stack([*cols, data["score"].to_numpy()]), 2, starts)


def test_check_refuses_the_old_stopping_point():
    stats = _stats_of(waves(0, first=1), transform="linear")
    problem = growth._Criterion(stats, True, False)
    # L-BFGS-B alone from lme4's start ends on the boundary (slope diagonal 0, correlation +1),
    # where the gradient of theta is 0 by symmetry: its flag says "converged"
    stuck, _, _ = problem.lbfgs(growth._default_start(2, False), 1000)
    assert stuck[2] == 0.0
    ok, reason = problem.check(stuck)
    assert not ok and "boundary" in reason
    fit = growth._optimise(stats, True, start=None, maxiter=1000, has_cluster=False)
    assert fit.converged and fit.theta[2] > 0.1
    assert fit.ev.crit < problem.value(stuck) - 100


@pytest.mark.parametrize("start", [[1.77, 0.33, 0.0], [5.0, -3.0, 0.01], [0.1, 0.1, 0.1],
                                   [1.0, 0.0, 1.0]])
def test_warm_start_does_not_change_the_result(start):
    data = waves(0, n=800)
    cold = fit_growth(data)
    warm = fit_growth(data, start=start)
    assert warm.converged_
    assert_allclose(warm.theta_, cold.theta_, rtol=1e-8)
    assert_allclose(warm.fixed_effects_, cold.fixed_effects_, rtol=1e-8)
    assert_allclose(warm.reml_criterion_, cold.reml_criterion_, rtol=1e-12)


def test_singular_truth_is_a_verified_boundary_fit():
    rng = np.random.default_rng(0)
    n, s = 150, 6
    pid = np.repeat(np.arange(n), s)
    t = np.tile(np.arange(s), n).astype(float)
    slope = rng.normal(0, 1, n)  # no intercept variance: the truth is singular
    data = pd.DataFrame({"patient": pid, "session": t,
                         "score": 10 + (slope[pid] - 1) * t + rng.normal(0, 2, n * s)})
    with pytest.warns(exc.SingularFitWarning, match="singular"):
        model = fit_growth(data)
    assert model.converged_ and model.singular_
    # R: isSingular(fit) is TRUE when a bounded theta is below 1e-4
    assert min(model.theta_[0], model.theta_[2]) < 1e-4
    assert "starts" in model.optimizer_message_
    stats = _stats_of(data, transform="linear")
    problem = growth._Criterion(stats, True, False)
    assert problem.check(model.theta_)[0]
    # no interior point next to it is lower
    crit = model.reml_criterion_
    assert all(problem.value(x) >= crit - 1e-9 for x in problem.escape_points(model.theta_))


def test_boundary_and_interior_fits_of_a_cluster_model():
    rng = np.random.default_rng(3)
    n, s = 200, 6
    pid = np.repeat(np.arange(n), s)
    t = np.tile(np.arange(s), n).astype(float)
    b0, b1 = rng.normal(0, 3, n), rng.normal(0, 1, n)
    cluster = (np.arange(n) % 10)[pid]
    noise = rng.normal(0, 2, n * s)
    data = pd.DataFrame({"patient": pid, "session": t, "cluster": cluster,
                         "score": 10 + b0[pid] + (b1[pid] - 1) * t + noise})
    with pytest.warns(exc.SingularFitWarning):
        flat = fit_growth(data, cluster="cluster")  # no therapist effect at all
    assert flat.converged_ and flat.singular_ and flat.cluster_variance_ < 1e-6
    effect = rng.normal(0, 3, 10)[cluster]
    real = fit_growth(data.assign(score=data["score"] + effect), cluster="cluster")
    assert real.converged_ and not real.singular_ and real.cluster_variance_ > 1.0


def _simple(n: int = 30, s: int = 5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.arange(n), s)
    t = np.tile(np.arange(s), n).astype(float)
    return pd.DataFrame({"patient": pid, "session": t,
                         "score": 10 + rng.normal(0, 3, n)[pid] - t + rng.normal(0, 2, n * s)})


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (lambda d: d.assign(score=7.0), {}, r"score column 'score'.*all scores equal"),
        (lambda d: d.assign(score=10 + d["patient"] * 0.5 - d["session"] * (d["patient"] % 3)),
         {}, r"own line \(intercept and slope\).*residual variance is 0"),
        (lambda d: d.assign(score=d["patient"] * 1.0), {"random": "intercept"},
         r"own constant.*residual variance is 0"),
        (lambda d: d[d["patient"] == 0], {}, r"at least 2 patients \(column 'patient'"),
        (lambda d: d[d["session"] < 2], {}, r"400|random intercept and slope.*random='intercept'"),
        (lambda d: d[d["session"] < 1], {"random": "intercept"}, r"random intercept per patient"),
        (lambda d: d.assign(age=40.0), {"covariates": "age"},
         r"covariate 'age' \(given as covariates=\) is constant"),
        (lambda d: d.assign(group=np.where(d["patient"] < 15, "a", "b"),
                            group2=np.where(d["patient"] < 15, "c", "d")),
         {"covariates": ["group", "group2"]}, r"covariate 'group2'"),
    ],
)
def test_degenerate_designs_are_refused_with_their_cause(change, kwargs, match):
    data = _simple()
    before = data.copy()
    with pytest.raises(exc.InvalidValueError, match=match):
        fit_growth(change(data), **kwargs)
    pd.testing.assert_frame_equal(data, before)


def test_detector_skips_a_refit_it_cannot_estimate():
    # exact lines: the engine used by worsening_trajectory returns no fit instead of a
    # residual variance of 1e-10 that would seed later warm starts
    data = _simple(n=8, s=3)
    exact = data.assign(score=10 + data["patient"] - 0.5 * data["session"] * data["patient"])
    codes = exact["patient"].to_numpy()
    assert growth._fit_slopes(codes, exact["session"].to_numpy(float),
                              exact["score"].to_numpy()) is None


# --- invariances over random designs ---------------------------------------------------------

@st.composite
def designs(draw):
    """Small unbalanced designs: 8-40 patients, 2-9 sessions from 1..12, some missing."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(8, 40))
    sizes = rng.integers(2, 10, n)
    rows = []
    for i in range(n):  # a test generator: loops over patients are fine here
        sessions = np.sort(rng.choice(np.arange(1, 13), size=sizes[i], replace=False))
        base, slope = rng.normal(15, 4), rng.normal(draw(st.sampled_from([-1.0, 0.0, 0.5])),
                                                    draw(st.sampled_from([0.0, 0.3, 1.0])))
        for s in sessions:
            rows.append((i, float(s), base + slope * s + rng.normal(0, 2)))
    data = pd.DataFrame(rows, columns=["patient", "session", "score"])
    data.loc[rng.random(len(data)) < 0.05, "score"] = np.nan
    return data, seed


def _relabelled(data: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed + 1)
    ids = data["patient"].unique()
    new = {old: f"id-{code}" for old, code in zip(ids, rng.permutation(len(ids)), strict=True)}
    shuffled = data.assign(patient=data["patient"].map(new))
    return shuffled.sample(frac=1.0, random_state=seed % 1000).reset_index(drop=True), new


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(designs(), st.sampled_from(["intercept", "slope"]), st.sampled_from(["REML", "ML"]))
def test_fit_does_not_depend_on_row_order_or_ids(design, random, method):
    data, seed = design
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", exc.SingularFitWarning)
        try:
            first = fit_growth(data, random=random, method=method)
        except exc.InvalidValueError:
            return  # a degenerate draw: refused, whatever the order (checked below)
        other, mapping = _relabelled(data, seed)
        second = fit_growth(other, random=random, method=method)
    assert first.converged_ and second.converged_
    crit = first.reml_criterion_ if method == "REML" else first.deviance_
    crit2 = second.reml_criterion_ if method == "REML" else second.deviance_
    assert_allclose(crit2, crit, rtol=1e-10)
    assert_allclose(second.fixed_effects_, first.fixed_effects_, rtol=1e-6, atol=1e-8)
    assert_allclose(second.theta_, first.theta_, rtol=1e-5, atol=1e-6)
    assert first.singular_ == second.singular_
    effects = first.random_effects_.assign(patient=first.random_effects_["patient"].map(mapping))
    merged = effects.merge(second.random_effects_, on="patient", suffixes=("", "_2"))
    assert len(merged) == len(effects)
    assert_allclose(merged["intercept_2"], merged["intercept"], rtol=1e-5, atol=1e-6)


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(designs())
def test_worsening_trajectory_does_not_depend_on_row_order_or_ids(design):
    data, seed = design
    detector = [WorseningTrajectory(min_sessions=3)]
    first = ia.screen(data, detectors=detector)
    other, mapping = _relabelled(data, seed)
    second = ia.screen(other, detectors=detector)
    first = first.assign(patient=first["patient"].map(mapping))
    key = ["patient", "session"]
    first = first.sort_values(key, ignore_index=True)
    second = second.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(first[key], second[key], check_dtype=False)
    assert_allclose(second["value"], first["value"], rtol=1e-6, atol=1e-9)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(designs())
def test_expected_response_does_not_depend_on_row_order_or_ids(design):
    data, seed = design
    data = data.dropna(subset=["score"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", exc.SingularFitWarning)
        try:
            first = ia.fit_expected_response(data, better="lower")
        except exc.InvalidValueError:
            return
        other, mapping = _relabelled(data, seed)
        second = ia.fit_expected_response(other, better="lower")
    probe = data.assign(patient=data["patient"].map(mapping))
    a = first.track(probe).sort_values(["patient", "session"], ignore_index=True)
    b = second.track(probe).sort_values(["patient", "session"], ignore_index=True)
    assert list(a.columns) == list(b.columns)
    numeric = a.select_dtypes("number").columns
    assert_allclose(b[numeric].to_numpy(float), a[numeric].to_numpy(float), rtol=1e-6,
                    atol=1e-8)
    assert (a["signal"] == b["signal"]).all()
