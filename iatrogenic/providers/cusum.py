"""Risk-adjusted Bernoulli CUSUM per therapist (Steiner, Cook, Farewell & Treasure, 2000).

For each therapist, patients are taken in the order they finish treatment. Patient ``t`` has an
outcome ``y_t`` (1 = harm, e.g. reliable deterioration) and a case-mix probability ``p_t`` from
the logistic model of :mod:`iatrogenic.providers.casemix`. The CUSUM tests odds ratio 1 (the
therapist's patients fare as the service predicts) against ``R_A`` (their odds of harm are
multiplied by ``R_A``) with the log-likelihood-ratio weight

    W_t = y_t log(R_A) - log(1 - p_t + R_A p_t),

accumulates ``S_t = max(0, S_{t-1} + W_t)`` from ``S_0 = 0`` and signals when ``S_t >= h``,
after which ``S`` restarts at 0.

The recursion is vectorised across therapists: patients are ranked within their therapist and
one step processes the rank-``t`` patient of every therapist at once, so the Python loop runs
over the largest caseload, not over patients. The control limit ``h`` is given, or calibrated by
simulation so that the in-control average run length (ARL, in patients) is ``arl``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_number
from ..exceptions import InvalidValueError, ParameterError
from .therapists import DROPOUT_VALUES, _prepare_patients

__all__ = [
    "ProviderCusum",
    "cusum_arl",
    "cusum_limit",
    "cusum_path",
    "cusum_weights",
    "provider_cusum",
]

_CHUNK = 256  # simulated steps generated at once during calibration


@dataclass(frozen=True)
class ProviderCusum:
    """Result of :func:`provider_cusum`; unpacks as ``path, signals = result``.

    Attributes
    ----------
    path : pandas.DataFrame
        One row per therapist and patient (see :func:`provider_cusum`).
    signals : pandas.DataFrame
        One row per signal.
    limit : float
        The control limit ``h`` used.
    odds_ratio : float
        The odds ratio ``R_A`` the chart is tuned to detect.
    arl : float or None
        The target in-control ARL when ``h`` was calibrated, else None.
    arl_estimate : float or None
        The simulated in-control ARL at ``limit`` (when calibrated).
    """

    path: pd.DataFrame
    signals: pd.DataFrame
    limit: float
    odds_ratio: float
    arl: float | None = None
    arl_estimate: float | None = None

    def __iter__(self) -> Iterator[pd.DataFrame]:
        yield self.path
        yield self.signals


def cusum_weights(y: Any, p: Any, odds_ratio: float) -> np.ndarray:
    """Steiner et al.'s log-likelihood-ratio weights ``y log R - log(1 - p + R p)``.

    Parameters
    ----------
    y : array-like of 0/1
        Outcomes.
    p : array-like of float
        Expected probabilities under the null (odds ratio 1), in (0, 1).
    odds_ratio : float
        The alternative odds ratio ``R_A`` (> 0, != 1).

    Returns
    -------
    numpy.ndarray
        The weights.

    Examples
    --------
    >>> w = cusum_weights([1, 0], [0.1, 0.1], 2.0)
    >>> np.round(w, 6).tolist()
    [0.597837, -0.09531]
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    log_r = float(np.log(odds_ratio))
    return np.asarray(y * log_r - np.log1p((odds_ratio - 1.0) * p))


def cusum_path(
    weights: Any, groups: Any, rank: Any, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Run the reset CUSUM on many independent sequences at once.

    Parameters
    ----------
    weights : array-like of float
        One weight per observation (0 leaves a sequence unchanged).
    groups : array-like of int
        Sequence code of each observation, in ``0 .. n_groups - 1``.
    rank : array-like of int
        Position of each observation within its sequence (0, 1, 2, ...; unique per sequence).
    limit : float
        The control limit ``h``.

    Returns
    -------
    cusum : numpy.ndarray
        ``S_t`` after each observation (its value at a signal, before the reset).
    signal : numpy.ndarray of bool
        Whether ``S_t >= h``.

    Examples
    --------
    >>> s, sig = cusum_path([1.0, 1.0, -0.5, 2.0], [0, 0, 0, 1], [0, 1, 2, 0], 1.5)
    >>> s.tolist(), sig.tolist()
    ([1.0, 2.0, 0.0, 2.0], [False, True, False, True])
    """
    w = np.asarray(weights, dtype=float)
    g = np.asarray(groups, dtype=np.int64)
    r = np.asarray(rank, dtype=np.int64)
    n = len(w)
    cusum = np.zeros(n)
    signal = np.zeros(n, dtype=bool)
    if n == 0:
        return cusum, signal
    by_step = np.lexsort((g, r))
    steps = r[by_step]
    bounds = np.searchsorted(steps, np.arange(int(steps[-1]) + 2))
    state = np.zeros(int(g.max()) + 1)
    for t in range(len(bounds) - 1):
        idx = by_step[bounds[t] : bounds[t + 1]]
        gi = g[idx]
        s = np.maximum(state[gi] + w[idx], 0.0)
        hit = s >= limit
        cusum[idx] = s
        signal[idx] = hit
        state[gi] = np.where(hit, 0.0, s)
    return cusum, signal


def _weight_blocks(
    p_pool: np.ndarray, odds_ratio: float, *, n_paths: int, n_steps: int, seed: Any
) -> Iterator[np.ndarray]:
    """In-control weights, ``_CHUNK`` steps x ``n_paths`` at a time (p resampled, y ~ B(p))."""
    rng = np.random.default_rng(seed)
    log_r = float(np.log(odds_ratio))
    w0_pool = -np.log1p((odds_ratio - 1.0) * p_pool)
    done = 0
    while done < n_steps:
        rows = min(_CHUNK, n_steps - done)
        pick = rng.integers(0, len(p_pool), size=(rows, n_paths))
        event = rng.random((rows, n_paths)) < p_pool[pick]
        yield w0_pool[pick] + event * log_r
        done += rows


def _signal_counts(blocks: Iterable[np.ndarray], limits: np.ndarray, n_paths: int) -> np.ndarray:
    """Signals of the reset CUSUM at each limit over the simulated in-control paths.

    Every limit sees the same weights, so the counts are comparable across limits.
    """
    h = np.asarray(limits, dtype=float)[:, None]
    state = np.zeros((len(h), n_paths))
    hit = np.zeros(state.shape, dtype=bool)
    counts = np.zeros(state.shape, dtype=np.int64)
    for w in blocks:
        for t in range(w.shape[0]):
            np.add(state, w[t], out=state)
            np.maximum(state, 0.0, out=state)
            np.greater_equal(state, h, out=hit)
            counts += hit
            np.copyto(state, 0.0, where=hit)
    return np.asarray(counts.sum(axis=1))


def cusum_arl(
    p: Any,
    odds_ratio: float,
    limit: float,
    *,
    n_paths: int = 1000,
    n_steps: int | None = None,
    seed: Any = None,
) -> float:
    """Simulated in-control average run length of the risk-adjusted CUSUM at ``limit``.

    In-control patients have probabilities drawn with replacement from ``p`` and outcomes
    ``y ~ Bernoulli(p)``. The estimate is the renewal ratio: steps simulated divided by signals,
    over ``n_paths`` paths of ``n_steps`` patients, the chart restarting at 0 after each signal
    (runs are independent and identically distributed, so this is consistent).

    Parameters
    ----------
    p : array-like of float
        The patients' expected probabilities.
    odds_ratio : float
        ``R_A``.
    limit : float
        ``h``.
    n_paths : int, default 1000
        Simulated paths (vectorised).
    n_steps : int, optional
        Patients per path; default 5000.
    seed : int or numpy.random.Generator, optional
        Random seed.

    Returns
    -------
    float
        The estimated ARL (``inf`` when no path signalled).

    Examples
    --------
    >>> arl = cusum_arl(np.full(10, 0.1), 2.0, 2.0, n_paths=200, n_steps=2000, seed=1)
    >>> 50 < arl < 500
    True
    """
    pool = _check_pool(p, "cusum_arl")
    steps = 5000 if n_steps is None else int(n_steps)
    blocks = _weight_blocks(pool, odds_ratio, n_paths=n_paths, n_steps=steps, seed=seed)
    count = _signal_counts(blocks, np.array([limit]), n_paths)
    return float(n_paths * steps / count[0]) if count[0] else float("inf")


def _check_pool(p: Any, caller: str) -> np.ndarray:
    pool = np.asarray(p, dtype=float).ravel()
    pool = pool[np.isfinite(pool)]
    if len(pool) == 0:
        raise InvalidValueError(
            f"{caller}() needs at least one finite expected probability to simulate in-control "
            "patients. Suggestion: check that patients could be scored."
        )
    if np.any((pool <= 0) | (pool >= 1)):
        raise InvalidValueError(
            f"The expected probabilities passed to {caller}() must lie strictly between 0 and 1."
        )
    return pool


def cusum_limit(
    p: Any,
    odds_ratio: float,
    arl: float,
    *,
    n_paths: int = 500,
    n_steps: int | None = None,
    seed: Any = None,
    n_grid: int = 12,
    n_rounds: int = 3,
) -> tuple[float, float]:
    """Control limit ``h`` whose simulated in-control ARL is ``arl`` patients.

    Parameters
    ----------
    p : array-like of float
        The patients' expected probabilities (in-control patients are resampled from them).
    odds_ratio : float
        ``R_A``.
    arl : float
        Target in-control average run length, in patients.
    n_paths : int, default 500
        Simulated paths.
    n_steps : int, optional
        Patients per path; default ``max(4 arl, 2000)``, so that at least 2000 signals are
        simulated (standard error of the ARL about 2%) and the renewal estimate's bias, of the
        order of the time to climb from 0 to ``h`` divided by the path length, stays near 1%.
    seed : int or numpy.random.Generator, optional
        Random seed; the same seed gives the same limit.
    n_grid, n_rounds : int
        The search: a first round evaluates ``2 n_grid`` limits over [0, 8] (extended while the
        target is not reached), each further round ``n_grid`` limits in the cell that straddles
        the target, all at once on the same simulated paths (common random numbers): a
        vectorised bisection. The answer interpolates ``log ARL`` linearly in the last cell.

    Returns
    -------
    limit : float
        ``h``.
    arl_estimate : float
        The simulated ARL at ``h`` (on the same paths).

    Examples
    --------
    >>> h, est = cusum_limit(np.full(10, 0.1), 2.0, 200, n_paths=300, seed=1)
    >>> round(h, 2)
    1.84
    """
    pool = _check_pool(p, "cusum_limit")
    arl = float(check_number(arl, name="arl", caller="cusum_limit", low=1, low_inclusive=False))
    steps = max(int(4 * arl), 2000) if n_steps is None else int(n_steps)
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**63))
    seq = np.random.SeedSequence(seed)
    total = n_paths * steps

    # The same weights for every evaluation (common random numbers): kept in memory up to
    # 2e7 values (160 MB), else regenerated from the same seed.
    cached = (
        list(_weight_blocks(pool, odds_ratio, n_paths=n_paths, n_steps=steps, seed=seq))
        if total <= 20_000_000
        else None
    )

    def arls(limits: np.ndarray) -> np.ndarray:
        blocks = cached if cached is not None else _weight_blocks(
            pool, odds_ratio, n_paths=n_paths, n_steps=steps, seed=seq
        )
        counts = _signal_counts(blocks, limits, n_paths)
        with np.errstate(divide="ignore"):
            return np.where(counts > 0, total / np.maximum(counts, 1), np.inf)

    # Bracket: a grid over [0, 8], extended until it straddles the target.
    low, high = 0.0, 8.0
    grid = np.linspace(low, high, 2 * n_grid)
    values = arls(grid)
    while values[-1] < arl:
        low, high = high, high * 2
        if high > 1e3:
            raise InvalidValueError(
                "cusum_limit() could not reach the target ARL; the weights are degenerate."
            )
        grid = np.linspace(low, high, 2 * n_grid)
        values = arls(grid)
    for round_ in range(n_rounds):
        above = int(np.argmax(values >= arl))
        if above == 0:  # only when the target is below the ARL at the grid's start
            low = high = float(grid[0])
            break
        low, high = float(grid[above - 1]), float(grid[above])
        ends = values[above - 1 : above + 1]
        if round_ == n_rounds - 1:
            break
        grid = np.linspace(low, high, n_grid)
        values = arls(grid)
    if high == low or not np.all(np.isfinite(ends)) or ends[0] == ends[1]:
        h = high
    else:
        frac = (np.log(arl) - np.log(ends[0])) / (np.log(ends[1]) - np.log(ends[0]))
        h = float(low + np.clip(frac, 0.0, 1.0) * (high - low))
    estimate = float(arls(np.array([h]))[0])
    return h, estimate


def provider_cusum(
    data: pd.DataFrame,
    *,
    therapist: str,
    outcome: str = "reliable_deterioration",
    casemix: str | Sequence[str] | None = None,
    odds_ratio: float = 2.0,
    limit: float | None = None,
    arl: float = 2000.0,
    order: str | None = None,
    seed: Any = None,
    n_paths: int = 500,
    severity: str | None = "first",
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    instrument: Any = None,
    better: str | None = None,
    method: str = "JT",
    reliability: float | None = None,
    sd: float | None = None,
    cutoff: Any = None,
    detector: str | None = None,
    ending: str | None = None,
    dropout: Sequence[Any] = DROPOUT_VALUES,
    screen_options: Mapping[str, Any] | None = None,
) -> ProviderCusum:
    """Risk-adjusted Bernoulli CUSUM of each therapist's patients, in the order they finish.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, or a per-patient table when ``outcome`` names a column. Not modified.
    therapist : str
        Column of the treating therapist.
    outcome : str, default "reliable_deterioration"
        The harm counted (see :func:`iatrogenic.providers.therapists.patient_outcomes`).
    casemix : str or list of str, optional
        Case-mix covariates besides intake severity.
    odds_ratio : float, default 2.0
        ``R_A``: the chart is tuned to detect the odds of harm multiplied by this (> 1; a value
        below 1 watches for fewer harms than expected).
    limit : float, optional
        The control limit ``h``; by default calibrated by simulation to ``arl``.
    arl : float, default 2000
        Target in-control average run length, in patients of one therapist: a therapist whose
        patients fare as the case-mix model predicts raises a false signal once every ``arl``
        patients on average.
    order : str, optional
        Column ordering each therapist's patients (e.g. the date treatment ended; the
        patient's largest value). By default the patient's last occasion of ``time``: the
        finishing date when ``time`` holds dates, but only the number of sessions when it holds
        session numbers, so pass a date column then. Ties keep the order of the patient ids.
    seed : int, optional
        Seed of the calibration; the same seed gives the same limit.
    n_paths : int, default 500
        Simulated in-control paths for the calibration (each ``max(4 arl, 2000)`` patients).
    severity, patient, time, score, instrument, better, method, reliability, sd, cutoff,
    detector, ending, dropout, screen_options
        As in :func:`iatrogenic.providers.therapists.patient_outcomes`.

    Returns
    -------
    ProviderCusum
        ``path, signals = result``, with ``result.limit`` the ``h`` used.

        ``path``: one row per patient, sorted by therapist and ``n``, with columns

        - ``therapist``, ``patient``.
        - ``order``: the value ordering the patient; ``n``: its position (1, 2, ...) within the
          therapist.
        - ``p``: the case-mix expected probability; ``y``: the outcome (1.0 / 0.0).
        - ``weight``: ``W_t``; ``cusum``: ``S_t`` (the value that crossed ``h`` at a signal,
          before the reset).
        - ``signal``: whether ``S_t >= h``.
        - ``reason``: why the patient is not in the analysis (then ``p``, ``y``, ``weight``
          are missing and the chart is unchanged), else None.

        ``signals``: one row per signal, with columns ``therapist``, ``patient``, ``order``,
        ``n``, ``value`` (``S_t``) and ``threshold`` (``h``).

    Raises
    ------
    iatrogenic.exceptions.ParameterError
        ``odds_ratio`` not positive or equal to 1, ``limit`` not positive, ``arl`` not above 1.
    iatrogenic.exceptions.InvalidValueError
        As :func:`iatrogenic.providers.therapists.therapist_outcomes` (case-mix model).

    See Also
    --------
    therapist_outcomes : the cross-sectional counterpart (funnel).
    cusum_limit : the calibration of ``h``.

    Notes
    -----
    ``W_t = y_t log R_A - log(1 - p_t + R_A p_t)``, ``S_t = max(0, S_{t-1} + W_t)``, signal when
    ``S_t >= h`` and restart at 0 (Steiner et al. 2000, eq. 2-3). The calibration resamples the
    expected probabilities of all scored patients (all therapists), draws in-control outcomes
    ``y ~ Bernoulli(p)`` on ``n_paths`` paths and searches ``h`` (see :func:`cusum_limit`) so that
    the renewal estimate of the ARL equals ``arl``; with the defaults its standard error is
    about 2%.

    References
    ----------
    Steiner, S. H., Cook, R. J., Farewell, V. T., & Treasure, T. (2000). Monitoring surgical
    performance using risk-adjusted cumulative sum charts. Biostatistics, 1(4), 441-452.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> tab = pd.DataFrame({"patient": range(400), "therapist": np.repeat(["a", "b"], 200),
    ...                     "intake": rng.normal(15, 5, 400)})
    >>> risk = 1 / (1 + np.exp(-(-2 + 0.05 * (tab["intake"] - 15))))
    >>> risk[tab["therapist"] == "b"] *= 3
    >>> tab["harm"] = rng.random(400) < risk
    >>> path, signals = provider_cusum(tab, therapist="therapist", outcome="harm",
    ...                                severity="intake", limit=3.0)
    >>> path.columns.tolist()
    ['therapist', 'patient', 'order', 'n', 'p', 'y', 'weight', 'cusum', 'signal', 'reason']
    >>> sorted(signals["therapist"].unique())
    ['b']
    """
    caller = "provider_cusum"
    ratio = float(
        check_number(odds_ratio, name="odds_ratio", caller=caller, low=0, low_inclusive=False)
    )
    if ratio == 1.0:
        raise ParameterError(
            f"The 'odds_ratio' parameter of {caller}() must differ from 1 (the null). Got 1.0 "
            "instead. Suggestion: odds_ratio=2.0 to detect a doubling of the odds of harm."
        )
    if limit is not None:
        limit = float(check_number(limit, name="limit", caller=caller, low=0, low_inclusive=False))
    arl = float(check_number(arl, name="arl", caller=caller, low=1, low_inclusive=False))
    n_paths = int(check_number(n_paths, name="n_paths", caller=caller, low=1, integer=True))
    prepared = _prepare_patients(
        data, therapist=therapist, outcome=outcome, casemix=casemix, severity=severity,
        order=order, patient=patient, time=time, score=score, instrument=instrument,
        better=better, method=method, reliability=reliability, sd=sd, cutoff=cutoff,
        detector=detector, ending=ending, dropout=dropout, screen_options=screen_options,
        caller=caller,
    )
    table = prepared.table
    keep = table["therapist"].notna().to_numpy()
    try:
        codes, labels = pd.factorize(table["therapist"], sort=True)
    except TypeError:
        codes, labels = pd.factorize(table["therapist"], sort=False)
    included = table["reason"].isna().to_numpy()
    p = table["expected"].to_numpy(dtype=float)
    y = table["outcome"].to_numpy(dtype=float)
    w = np.where(included, cusum_weights(np.nan_to_num(y), np.where(included, p, 0.5), ratio), 0.0)

    arl_target: float | None = None
    estimate: float | None = None
    if limit is None:
        h, estimate = cusum_limit(p[included], ratio, arl, n_paths=n_paths, seed=seed)
        arl_target = arl
    else:
        h = limit

    rows = np.flatnonzero(keep)
    okey = prepared.order_key[rows]
    perm = rows[np.lexsort((np.arange(len(rows)), okey, codes[rows]))]
    g = codes[perm]
    group_start = np.searchsorted(g, np.arange(len(labels) + 1))
    rank = np.arange(len(perm)) - group_start[g]
    cusum, signal = cusum_path(w[perm], g, rank, h)
    path = pd.DataFrame(
        {
            "therapist": table["therapist"].to_numpy()[perm],
            "patient": table["patient"].to_numpy()[perm],
            "order": table["order"].to_numpy()[perm],
            "n": rank + 1,
            "p": np.where(included[perm], p[perm], np.nan),
            "y": np.where(included[perm], y[perm], np.nan),
            "weight": np.where(included[perm], w[perm], np.nan),
            "cusum": cusum,
            "signal": signal,
            "reason": table["reason"].to_numpy()[perm],
        }
    )
    signals = path.loc[signal, ["therapist", "patient", "order", "n", "cusum"]].rename(
        columns={"cusum": "value"}
    )
    signals["threshold"] = h
    signals = signals.reset_index(drop=True)
    for frame in (path, signals):
        frame.attrs.update(limit=h, odds_ratio=ratio, arl=arl_target, arl_estimate=estimate)
    return ProviderCusum(
        path=path, signals=signals, limit=h, odds_ratio=ratio, arl=arl_target, arl_estimate=estimate
    )
