"""Risk-adjusted Bernoulli CUSUM (Steiner et al. 2000): path, calibration of h, detection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import iatrogenic as ia
from iatrogenic.exceptions import ParameterError
from iatrogenic.providers.cusum import (
    ProviderCusum,
    cusum_arl,
    cusum_limit,
    cusum_path,
    cusum_weights,
    provider_cusum,
)

PATH_COLUMNS = ["therapist", "patient", "order", "n", "p", "y", "weight", "cusum", "signal",
                "reason"]
SIGNAL_COLUMNS = ["therapist", "patient", "order", "n", "value", "threshold"]


def _expit(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _reference_cusum(y: list[float], p: list[float], ratio: float, h: float) -> list[float]:
    """Steiner et al. (2000), one patient at a time, written out as in the paper."""
    s, out = 0.0, []
    for yt, pt in zip(y, p, strict=True):
        w = yt * np.log(ratio) - np.log(1 - pt + ratio * pt)
        s = max(0.0, s + w)
        out.append(s)
        if s >= h:
            s = 0.0
    return out


def _lattice(ratio: float, m: int) -> tuple[float, float]:
    """A constant p at which the CUSUM moves on a lattice: (p, unit).

    With ``1 - p + R p = R^(1/m)`` the weights are ``-unit`` (y = 0) and ``(m - 1) unit``
    (y = 1), ``unit = log(R) / m``, so the chart is an integer Markov chain (in units).
    """
    return (ratio ** (1 / m) - 1) / (ratio - 1), float(np.log(ratio) / m)


def _markov_arl(p: float, m: int, n_states: int) -> float:
    """Brook & Evans (1972): ARL of the Bernoulli CUSUM from 0 by its Markov chain.

    States 0 .. n_states - 1 are the chart's values (in units) below the limit; y = 1 moves up
    ``m - 1`` units (absorbed at ``n_states`` or above), y = 0 down one unit (floored at 0).
    ARL = [(I - Q)^-1 1]_0, exact for this lattice.
    """
    q = np.zeros((n_states, n_states))
    states = np.arange(n_states)
    up = states + m - 1
    inside = up < n_states
    q[states[inside], up[inside]] += p
    q[states, np.maximum(states - 1, 0)] += 1 - p
    return float(np.linalg.solve(np.eye(n_states) - q, np.ones(n_states))[0])


def _states(h: float, unit: float) -> int:
    """Number of lattice states below the limit h (S >= h iff k unit >= h)."""
    return int(np.ceil(h / unit - 1e-9))


# ------------------------------------------------------------------------------- (a) path


def test_path_matches_hand_computation() -> None:
    # two therapists, outcomes and probabilities chosen by hand; h = 0.25, R_A = 2
    table = pd.DataFrame(
        {
            "patient": ["a1", "a2", "a3", "a4", "a5", "b1", "b2", "b3"],
            "therapist": ["A"] * 5 + ["B"] * 3,
            "end": [5, 1, 3, 2, 4, 2, 1, 3],
            "harm": [True, True, True, False, True, False, False, True],
            "intake": [10.0, 14, 20, 9, 12, 11, 15, 13],
        }
    )
    res = provider_cusum(
        table, therapist="therapist", outcome="harm", severity="intake", order="end",
        limit=0.25, odds_ratio=2.0,
    )
    path = res.path
    assert path.columns.tolist() == PATH_COLUMNS
    doc = provider_cusum.__doc__ or ""
    for column in PATH_COLUMNS + SIGNAL_COLUMNS:
        assert f"``{column}``" in doc, column
    assert path["patient"].tolist() == ["a2", "a4", "a3", "a5", "a1", "b2", "b1", "b3"]
    assert path["n"].tolist() == [1, 2, 3, 4, 5, 1, 2, 3]
    for therapist, rows in path.groupby("therapist"):
        p, y = rows["p"].tolist(), rows["y"].tolist()
        # by hand: W = y log 2 - log(1 + p); S = max(0, S + W); reset after S >= 0.25
        want = _reference_cusum(y, p, 2.0, 0.25)
        assert_allclose(rows["cusum"], want, rtol=1e-14, err_msg=str(therapist))
        assert_allclose(rows["weight"], np.array(y) * np.log(2) - np.log1p(p), rtol=1e-14)
    assert_allclose(path["p"], _expected_from_glm(table), rtol=1e-8)
    signals = res.signals
    assert signals.columns.tolist() == SIGNAL_COLUMNS
    assert (signals["value"] >= 0.25).all() and (signals["threshold"] == 0.25).all()
    assert signals[["therapist", "n"]].apply(tuple, axis=1).tolist() == [
        tuple(r) for r in path.loc[path["signal"], ["therapist", "n"]].to_numpy()
    ]
    assert signals["patient"].tolist() == ["a5", "a1"]  # a reset between the two
    # unpacking
    path2, signals2 = res
    assert path2 is res.path and signals2 is res.signals


def _expected_from_glm(table: pd.DataFrame) -> np.ndarray:
    import statsmodels.api as sm

    x = sm.add_constant(table["intake"].to_numpy())
    fit = sm.GLM(table["harm"].to_numpy(float), x, family=sm.families.Binomial()).fit()
    order = table.sort_values(["therapist", "end"]).index
    return np.asarray(fit.fittedvalues)[order]


def test_reset_and_exact_values_small() -> None:
    # a hand-made sequence: weights +1, +1 (signal at 2 >= 1.5, reset), -0.5, +2 (signal)
    s, sig = cusum_path([1.0, 1.0, -0.5, 2.0, 0.3], [0, 0, 0, 0, 1], [0, 1, 2, 3, 0], 1.5)
    assert s.tolist() == [1.0, 2.0, 0.0, 2.0, 0.3]
    assert sig.tolist() == [False, True, False, True, False]
    w = cusum_weights([1, 0, 1], [0.2, 0.2, 0.5], 3.0)
    assert_allclose(w, [np.log(3) - np.log(1.4), -np.log(1.4), np.log(3) - np.log(2.0)])


def test_vectorised_equals_one_therapist_at_a_time() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    groups = rng.integers(0, 57, n)
    w = rng.normal(0, 0.7, n)
    rank = np.zeros(n, dtype=int)
    for g in np.unique(groups):
        rank[groups == g] = np.arange((groups == g).sum())
    s, sig = cusum_path(w, groups, rank, 2.0)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        state, want = 0.0, []
        for wt in w[idx]:
            state = max(0.0, state + wt)
            want.append(state)
            if state >= 2.0:
                state = 0.0
        assert_allclose(s[idx], want, rtol=1e-12)
        assert (sig[idx] == (np.array(want) >= 2.0)).all()


# --------------------------------------------------------------------- (b) ARL calibration


def test_calibrated_limit_against_brute_force_run_lengths() -> None:
    rng = np.random.default_rng(11)
    pool = rng.beta(2, 14, 500)
    target = 200.0
    h, est = cusum_limit(pool, 2.0, target, seed=3)
    assert abs(est / target - 1) < 0.02
    # brute force: independent paths, each run from 0 until its first signal, no reset
    gen = np.random.default_rng(12345)
    n_runs, cap = 3000, 6000
    s = np.zeros(n_runs)
    length = np.zeros(n_runs, dtype=int)
    alive = np.ones(n_runs, dtype=bool)
    for t in range(1, cap + 1):
        p = pool[gen.integers(0, len(pool), n_runs)]
        y = gen.random(n_runs) < p
        s = np.where(alive, np.maximum(0, s + cusum_weights(y, p, 2.0)), s)
        hit = alive & (s >= h)
        length[hit] = t
        alive &= ~hit
        if not alive.any():
            break
    assert not alive.any()
    brute = length.mean()
    # in-control ARL within 6% of the target (brute-force standard error ~ 1.8%)
    assert abs(brute / target - 1) < 0.06, (h, brute)


def test_calibration_reproducible_with_seed() -> None:
    pool = np.linspace(0.02, 0.3, 50)
    assert cusum_limit(pool, 2.0, 300, seed=7) == cusum_limit(pool, 2.0, 300, seed=7)


# -------------------------------------------------------- (c) Markov chain (Brook & Evans)


@pytest.mark.parametrize(("ratio", "m", "target"), [(2.0, 20, 300.0), (3.0, 30, 500.0)])
def test_constant_p_against_markov_chain(ratio: float, m: int, target: float) -> None:
    """For constant p the chart is the standard Bernoulli CUSUM: check h against its chain."""
    p, unit = _lattice(ratio, m)
    assert_allclose(cusum_weights([1, 0], [p, p], ratio), [(m - 1) * unit, -unit], rtol=1e-12)
    h, est = cusum_limit(np.array([p]), ratio, target, seed=5)
    exact = _markov_arl(p, m, _states(h, unit))
    # the simulated ARL at the calibrated h agrees with the exact chain (simulation error ~2%)
    assert abs(est / exact - 1) < 0.05, (h, est, exact)
    # the target lies within the chain's ARL step containing h (the ARL is a step function)
    below = _markov_arl(p, m, _states(h, unit) - 1)
    assert below * 0.95 <= target <= exact * 1.05, (below, target, exact)
    # and the simulated ARL at a fixed limit agrees with the chain
    fixed = 2.5
    sim = cusum_arl(np.array([p]), ratio, fixed, n_paths=2000, n_steps=2000, seed=8)
    assert abs(sim / _markov_arl(p, m, _states(fixed, unit)) - 1) < 0.04


# ---------------------------------------------------------------- (d) detection on data


@pytest.fixture(scope="module")
def injected() -> tuple[pd.DataFrame, str]:
    """Simulated patients (ia.datasets.simulate) with a harmful therapist injected (OR 3)."""
    data, _ = ia.datasets.simulate(n_patients=3000, n_therapists=20, seed=21)
    pat = data.groupby("patient", observed=True).agg(
        therapist=("therapist", "first"), intake=("phq9", "first"), age=("age", "first"),
        end=("date", "max"),
    ).reset_index()
    pat["therapist"] = pat["therapist"].astype(str)
    bad = sorted(pat["therapist"].unique())[3]
    rng = np.random.default_rng(22)
    eta = -2.4 - 0.06 * (pat["intake"] - 15) + 0.01 * (pat["age"] - 40)
    eta = eta + np.log(3.0) * (pat["therapist"] == bad)
    pat["harm"] = rng.random(len(pat)) < _expit(eta.to_numpy())
    return pat, bad


def test_harmful_therapist_signals_quickly(injected: tuple[pd.DataFrame, str]) -> None:
    pat, bad = injected
    res = provider_cusum(
        pat, therapist="therapist", outcome="harm", severity="intake", casemix="age",
        order="end", arl=3000, seed=1,
    )
    assert isinstance(res, ProviderCusum) and res.arl == 3000
    assert abs(res.arl_estimate / 3000 - 1) < 0.05
    first = res.signals.groupby("therapist")["n"].min()
    assert bad in first.index and first[bad] <= 100
    ordinary = first.drop(bad, errors="ignore")
    # 19 ordinary therapists x ~156 patients at ARL 3000: about 1 false signal expected
    assert len(ordinary) <= 2
    # path order follows the end date within each therapist
    rows = res.path[res.path["therapist"] == bad]
    assert rows["order"].is_monotonic_increasing


def test_limit_given_no_simulation_and_errors(injected: tuple[pd.DataFrame, str]) -> None:
    pat, _ = injected
    res = provider_cusum(pat, therapist="therapist", outcome="harm", severity="intake", limit=4.0)
    assert res.limit == 4.0 and res.arl is None and res.arl_estimate is None
    assert res.path.attrs["limit"] == 4.0
    with pytest.raises(ParameterError, match="odds_ratio"):
        provider_cusum(pat, therapist="therapist", outcome="harm", odds_ratio=1.0, limit=4.0)
    with pytest.raises(ParameterError, match="'limit'"):
        provider_cusum(pat, therapist="therapist", outcome="harm", limit=-1.0)


def test_long_data_unscored_patients_carry_the_chart() -> None:
    data, _ = ia.datasets.simulate(n_patients=400, n_therapists=5, seed=2)
    before = data.copy()
    res = provider_cusum(
        data, therapist="therapist", score="phq9", instrument="phq9", order="date",
        limit=3.0,
    )
    pd.testing.assert_frame_equal(data, before)
    path = res.path
    assert len(path) == data["patient"].nunique()
    unscored = path["reason"].notna()
    assert unscored.any()
    assert path.loc[unscored, ["p", "y", "weight"]].isna().all().all()
    # the chart is unchanged by an unscored patient
    prev = path.groupby("therapist", observed=True)["cusum"].shift(1).fillna(0.0)
    was_signal = path.groupby("therapist", observed=True)["signal"].shift(1, fill_value=False)
    prev = prev.where(~was_signal.astype(bool), 0.0)
    assert_allclose(path.loc[unscored, "cusum"], prev[unscored])
