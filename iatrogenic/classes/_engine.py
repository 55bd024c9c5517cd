"""EM engine of latent-class growth models on per-patient sufficient statistics.

Everything here works on arrays over patients: per patient ``i`` the engine keeps
``X_i'X_i`` (flattened), ``X_i'y_i``, ``y_i'y_i`` and ``n_i``. For class ``k`` with coefficients
``b_k`` and residual variance ``s2_k`` the patient's log-likelihood is::

    l_ik = -n_i/2 log(2 pi s2_k) - (y_i'y_i - 2 b_k'X_i'y_i + b_k'X_i'X_i b_k) / (2 s2_k)

so one E-step is a few matrix products of shape (patients x terms) and the M-step a weighted
least squares from pooled weighted statistics. No loop over patients.

With a random intercept within classes (growth mixture model, ``Params.t2`` set) the
patient's scores in class ``k`` are normal with covariance ``V = s2_k I + t2 11'``. With
``r = y_i - X_i b_k``, ``sr = 1'r`` (the first column of ``X`` is the intercept, so ``1'X_i``
is the first row of ``X_i'X_i`` and ``1'y_i`` the first entry of ``X_i'y_i``) and
``lam = s2_k + n_i t2``::

    log det V = (n_i - 1) log s2_k + log lam
    r'V^-1 r = (r'r - sr^2 / n_i) / s2_k + sr^2 / (n_i lam)      (Sherman-Morrison)

so the same statistics suffice. The M-step is then a conditional maximisation (ECM, Meng &
Rubin 1993): generalised least squares of each class curve at the current variances, then the
variances by a projected Newton iteration on the expected log-likelihood, which depends on the
patients only through weighted sums per number of observations.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

__all__ = [
    "Fit",
    "Params",
    "Stats",
    "em_fit",
    "information",
    "information_numeric",
    "loglik_matrix",
    "posterior",
    "running_probability",
    "score_vector",
    "stats_from_rows",
]

_LOG_2PI = math.log(2.0 * math.pi)
#: Number of best starts (on the subset) iterated to convergence on all patients.
N_FINAL = 3
#: Patients the short runs use (a random subset when there are more).
SUBSAMPLE = 20_000
#: SQUAREM steps per round (a start may be abandoned between rounds).
ROUND = 10
#: A start below the best optimum found is abandoned when, at its last round's gain, it would
#: need more than this many rounds to overtake it.
PATIENCE = 50.0
#: Patients per block when forming per-patient score vectors (memory bound).
_CHUNK = 20_000
#: Newton steps of the variance update of the growth mixture model's M-step.
_VARIANCE_STEPS = 50


@dataclass
class Stats:
    """Per-patient sufficient statistics (patients with at least one usable row).

    Stored patients-last as well (``XXT``, ``XyT``) so that the E-step works on (K, N) arrays,
    whose reductions over classes run along contiguous memory.
    """

    XX: np.ndarray  # (N, p*p)
    Xy: np.ndarray  # (N, p)
    yy: np.ndarray  # (N,)
    n: np.ndarray  # (N,) float
    p: int
    XXT: np.ndarray = field(init=False, repr=False)
    XyT: np.ndarray = field(init=False, repr=False)
    #: ``(B.tobytes(), r'r, 1'r)`` of the last curves asked for (see :func:`residuals`)
    residual_cache: tuple[bytes, np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.XXT = np.ascontiguousarray(self.XX.T)
        self.XyT = np.ascontiguousarray(self.Xy.T)

    @property
    def n_patients(self) -> int:
        return len(self.yy)

    def take(self, rows: slice | np.ndarray) -> Stats:
        return Stats(self.XX[rows], self.Xy[rows], self.yy[rows], self.n[rows], self.p)

    # Random-intercept statistics: ``1'X_i`` (the first row of ``X_i'X_i``) and ``1'y_i``.
    @cached_property
    def ones_x_T(self) -> np.ndarray:  # (p, N)
        return np.ascontiguousarray(self.XXT[: self.p])

    @cached_property
    def ones_x_outer(self) -> np.ndarray:  # (N, p*p): (1'X_i)'(1'X_i)
        a = self.XX[:, : self.p]
        return (a[:, :, None] * a[:, None, :]).reshape(len(a), self.p * self.p)

    @cached_property
    def ones_x_ones_y(self) -> np.ndarray:  # (N, p): (1'X_i)' 1'y_i
        return self.XX[:, : self.p] * self.Xy[:, :1]

    @cached_property
    def n_groups(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Patients grouped by their number of observations.

        The distinct numbers, the order that sorts the patients by them (None when they are
        sorted already, as the growth mixture fit arranges) and where each group starts in it.
        """
        order = np.argsort(self.n, kind="stable")
        ordered = self.n[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        is_sorted = bool(np.all(order == np.arange(len(order))))
        return ordered[starts], None if is_sorted else order, starts


def stats_from_rows(X: np.ndarray, y: np.ndarray, starts: np.ndarray) -> Stats:
    """Sufficient statistics from rows sorted by patient; ``starts`` are segment starts."""
    n_rows, p = X.shape
    outer = (X[:, :, None] * X[:, None, :]).reshape(n_rows, p * p)
    XX = np.add.reduceat(outer, starts, axis=0)
    Xy = np.add.reduceat(X * y[:, None], starts, axis=0)
    yy = np.add.reduceat(y * y, starts)
    n = np.diff(np.append(starts, n_rows)).astype(np.float64)
    return Stats(XX=XX, Xy=Xy, yy=yy, n=n, p=p)


@dataclass
class Params:
    B: np.ndarray  # (K, p)
    s2: np.ndarray  # (K,) (all equal with equal variance)
    logpi: np.ndarray  # (K,)
    t2: float | None = None  # random-intercept variance (shared by the classes); None: LCGA

    def pack(self) -> np.ndarray:
        """Unconstrained vector; the random intercept enters by its SD, so that 0 is inside."""
        parts = [self.B.ravel(), np.log(self.s2), self.logpi]
        if self.t2 is not None:
            parts.append(np.array([math.sqrt(self.t2)]))
        return np.concatenate(parts)

    @staticmethod
    def unpack(theta: np.ndarray, K: int, p: int, random: bool = False) -> Params:
        B = theta[: K * p].reshape(K, p)
        s2 = np.exp(theta[K * p : K * p + K])
        logpi = theta[K * p + K : K * p + 2 * K]
        logpi = logpi - _logsumexp(logpi)
        t2 = float(theta[-1]) ** 2 if random else None
        return Params(B.copy(), s2, logpi, t2)


def _logsumexp(v: np.ndarray) -> float:
    m = float(np.max(v))
    return m + math.log(float(np.sum(np.exp(v - m))))


def residual_sums(st: Stats, B: np.ndarray) -> np.ndarray:
    """Residual sums of squares ``r'r`` about each class curve, (K, N)."""
    K, p = B.shape
    Q = (B[:, :, None] * B[:, None, :]).reshape(K, p * p)
    rss = Q @ st.XXT
    rss -= 2.0 * (B @ st.XyT)
    rss += st.yy
    np.maximum(rss, 0.0, out=rss)
    return rss


def residual_totals(st: Stats, B: np.ndarray) -> np.ndarray:
    """Sums of residuals ``1'r`` about each class curve, (K, N)."""
    return st.XyT[0] - B @ st.ones_x_T


def residuals(st: Stats, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``r'r`` and ``1'r`` about each class curve, (K, N) each: read-only, cached per ``B``.

    An ECM step ends by computing them at its new curves, and the next E-step starts from the
    same curves: the one-entry cache saves that second pass.
    """
    key = B.tobytes()
    if st.residual_cache is None or st.residual_cache[0] != key:
        rss, totals = residual_sums(st, B), residual_totals(st, B)
        rss.setflags(write=False)
        totals.setflags(write=False)
        st.residual_cache = (key, rss, totals)
    return st.residual_cache[1], st.residual_cache[2]


def split_rss(st: Stats, B: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``r'r``, the within-patient part ``r'r - (1'r)^2/n`` and the between part ``(1'r)^2/n``."""
    rss, totals = residuals(st, B)
    between = np.square(totals)
    between /= st.n
    within = np.subtract(rss, between)
    np.maximum(within, 0.0, out=within)
    return rss, within, between


def loglik_matrix(st: Stats, par: Params) -> tuple[np.ndarray, np.ndarray]:
    """``log pi_k + l_ik`` and the residual sums of squares, both (K, N): classes first."""
    if par.t2 is not None:
        # in place: the (K, N) temporaries are the cost on large data
        rss, L, between = split_rss(st, par.B)
        log_s2 = np.log(par.s2)
        L /= par.s2[:, None]
        lam = np.multiply.outer(np.full(len(par.s2), par.t2), st.n)
        lam += par.s2[:, None]
        between /= lam
        L += between
        L += np.log(lam, out=lam)
        L += np.multiply.outer(log_s2 + _LOG_2PI, st.n)
        L -= log_s2[:, None]
        L *= -0.5
        L += par.logpi[:, None]
        return L, rss
    rss = residual_sums(st, par.B)
    s2 = par.s2[:, None]
    L = rss * (-0.5 / s2)
    L -= (0.5 * (_LOG_2PI + np.log(par.s2)))[:, None] * st.n
    L += par.logpi[:, None]
    return L, rss


def posterior(L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior probabilities (K, N) and each patient's log-likelihood (N,) from (K, N) ``L``."""
    m = L.max(axis=0)
    ex = np.exp(L - m)
    s = ex.sum(axis=0)
    ex /= s
    return ex, m + np.log(s)


#: Rows per block of patients in :func:`running_probability`: its temporaries (the running sums
#: and the (classes x rows) likelihood arrays) are this long, whatever the data's size, and
#: stay in cache (4x faster than blocks of 65,536 rows).
_RUNNING_BLOCK_ROWS = 1 << 14


def running_probability(
    X: np.ndarray,
    y: np.ndarray,
    usable: np.ndarray,
    starts: np.ndarray,
    par: Params,
    classes: np.ndarray,
    min_count: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior probability of ``classes`` after every row, from the patient's rows up to it.

    ``X`` (rows, p) and ``y`` are rows sorted by patient, ``starts`` each patient's first row
    followed by the number of rows, ``usable`` the rows that count (elsewhere ``X`` and ``y`` are
    ignored) and ``classes`` a boolean mask over the classes of ``par``. Returns the usable rows
    with at least ``min_count`` usable rows so far, the summed posterior probability of
    ``classes`` at them, and the number of usable rows up to each row (float).

    The per-patient statistics are running sums over each patient's rows, formed one row
    position at a time: every row's sums are the same additions in the same order whatever
    other rows the data hold, so data cut at a session give bit-identical probabilities up to
    it. Patients are taken in blocks of about ``_RUNNING_BLOCK_ROWS`` rows, which bounds the
    memory and keeps the temporaries in cache.
    """
    n_rows, p = X.shape
    pp = p * p
    n_scores = np.empty(n_rows)
    n_patients = len(starts) - 1
    block_heads = np.searchsorted(starts[:-1], np.arange(0, n_rows, _RUNNING_BLOCK_ROWS))
    edges = np.unique(np.append(block_heads, n_patients))
    found_rows: list[np.ndarray] = []
    found_probability: list[np.ndarray] = []
    for first, last in itertools.pairwise(edges):
        begin, end = int(starts[first]), int(starts[last])
        counts = usable[begin:end]
        XT = np.where(counts, X[begin:end].T, 0.0)
        yb = np.where(counts, y[begin:end], 0.0)
        size = end - begin
        # the statistics [X'X | X'y | y'y | n] of each row, one row of ``sums`` per statistic
        # (so that Stats takes them without a copy), summed in place
        sums = np.empty((pp + p + 2, size))
        np.multiply(XT[:, None, :], XT[None, :, :], out=sums[:pp].reshape(p, p, size))
        np.multiply(XT, yb, out=sums[pp : pp + p])
        np.multiply(yb, yb, out=sums[-2])
        sums[-1] = counts
        lengths = np.diff(starts[first : last + 1])
        longest_first = np.argsort(-lengths, kind="stable")
        heads = starts[first:last][longest_first] - begin
        # patients with more than j rows: a prefix of the longest-first order
        longer = np.searchsorted(-lengths[longest_first], -np.arange(int(lengths.max())), "left")
        for position in range(1, len(longer)):
            rows = heads[: longer[position]] + position
            sums[:, rows] += sums[:, rows - 1]
        n = sums[-1]
        n_scores[begin:end] = n
        seen = np.flatnonzero(counts & (n >= max(min_count, 1)))
        if len(seen) == 0:
            continue
        block = sums[:, seen]
        st = Stats(block[:pp].T, block[pp : pp + p].T, block[-2], block[-1], p)
        tau = posterior(loglik_matrix(st, par)[0])[0]
        found_rows.append(seen + begin)
        found_probability.append(np.ascontiguousarray(tau[classes].T).sum(axis=1))
    if not found_rows:
        return np.empty(0, dtype=np.int64), np.empty(0), n_scores
    return np.concatenate(found_rows), np.concatenate(found_probability), n_scores


@dataclass
class _MStep:
    params: Params
    degenerate: str | None


def m_step(
    st: Stats, tau: np.ndarray, equal: bool, s2_floor: float, prev: Params | None = None
) -> _MStep:
    """Weighted least squares per class from pooled weighted statistics; ``tau`` is (K, N).

    With ``prev`` carrying a random-intercept variance the conditional maximisation step of the
    growth mixture model instead (:func:`_m_step_random`).
    """
    K = tau.shape[0]
    p = st.p
    nk = tau @ st.n
    bad = nk <= p
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        degenerate = f"class {k + 1} empty ({nk[k]:.3g} weighted rows)"
        return _MStep(_fallback(K, p, prev is not None), degenerate)
    if prev is not None and prev.t2 is not None:
        return _m_step_random(st, tau, equal, s2_floor, prev)
    W = (tau @ st.XX).reshape(K, p, p)
    R = tau @ st.Xy
    wk = tau.sum(axis=1)
    try:
        B = np.linalg.solve(W, R[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        return _MStep(_fallback(K, p), "singular class design")
    yyk = tau @ st.yy
    wrss = yyk - 2.0 * np.einsum("kp,kp->k", B, R) + np.einsum("ka,kab,kb->k", B, W, B)
    wrss = np.maximum(wrss, 0.0)
    s2 = np.full(K, wrss.sum() / nk.sum()) if equal else wrss / nk
    if np.any(s2 <= s2_floor) or not np.all(np.isfinite(B)):
        return _MStep(_fallback(K, p), "zero residual variance")
    logpi = np.log(wk / wk.sum())
    return _MStep(Params(B, s2, logpi), None)


def _m_step_random(
    st: Stats, tau: np.ndarray, equal: bool, s2_floor: float, prev: Params
) -> _MStep:
    """ECM step of the growth mixture model (random intercept ``t2`` shared by the classes).

    1. Class curves by generalised least squares at the previous variances:
       ``X'V^-1 X = (X'X - g (1'X)'(1'X)) / s2`` with ``g = t2 / (s2 + n t2)``.
    2. Variances at the new curves by maximising the expected log-likelihood
       (:func:`_variance_step`).
    """
    K = tau.shape[0]
    p = st.p
    t2 = float(prev.t2 or 0.0)
    g = t2 / (prev.s2[:, None] + st.n * t2)
    tg = tau * g
    W = (tau @ st.XX - tg @ st.ones_x_outer).reshape(K, p, p)
    R = tau @ st.Xy - tg @ st.ones_x_ones_y
    try:
        B = np.linalg.solve(W, R[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        return _MStep(_fallback(K, p, True), "singular class design")
    if not np.all(np.isfinite(B)):
        return _MStep(_fallback(K, p, True), "singular class design")
    _, within, between = split_rss(st, B)
    levels, order, starts = st.n_groups
    # weighted patients, within and between sums per class and number of observations
    weighted = np.empty((3 * K, st.n_patients))
    weighted[:K] = tau
    np.multiply(tau, within, out=weighted[K : 2 * K])
    np.multiply(tau, between, out=weighted[2 * K :])
    if order is not None:
        weighted = weighted[:, order]
    sums = np.add.reduceat(weighted, starts, axis=1)
    wg, dg, eg = sums[:K], sums[K : 2 * K], sums[2 * K :]
    if equal:
        wg, dg, eg = (a.sum(axis=0, keepdims=True) for a in (wg, dg, eg))
        s2_start = prev.s2[:1]
    else:
        s2_start = prev.s2
    s2, t2 = _variance_step(wg, dg, eg, levels, s2_start, t2)
    s2 = np.full(K, s2[0]) if equal else s2
    if np.any(s2 <= s2_floor) or not np.all(np.isfinite(s2)):
        return _MStep(_fallback(K, p, True), "zero residual variance")
    wk = tau.sum(axis=1)
    return _MStep(Params(B, s2, np.log(wk / wk.sum()), t2), None)


def _variance_objective(
    x: np.ndarray, wg: np.ndarray, dg: np.ndarray, eg: np.ndarray, n: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """``-2 Q`` over (log s2_1..m, t2) with its gradient and Hessian.

    Per cell (variance group, number of observations ``n``) with weighted patient count ``w``,
    within sum ``D`` and between sum ``E`` (residual sums of the current curves) and
    ``lam = s2 + n t2``: ``w (n - 1) log s2 + D / s2 + w log lam + E / lam``.
    """
    m = wg.shape[0]
    # a trial step of the line search may overflow: its f is then not finite and rejected
    with np.errstate(all="ignore"):
        s = np.exp(x[:m])[:, None]
        t = x[m]
        lam = s + n * t
        f = float(np.sum(wg * (n - 1.0) * np.log(s) + dg / s + wg * np.log(lam) + eg / lam))
        d_lam = wg / lam - eg / lam**2
        d2_lam = -wg / lam**2 + 2.0 * eg / lam**3
        f_s = wg * (n - 1.0) / s - dg / s**2 + d_lam
        f_ss = -wg * (n - 1.0) / s**2 + 2.0 * dg / s**3 + d2_lam
    grad = np.empty(m + 1)
    grad[:m] = (s * f_s).sum(axis=1)
    grad[m] = float(np.sum(n * d_lam))
    H = np.zeros((m + 1, m + 1))
    H[np.arange(m), np.arange(m)] = (s * f_s + s**2 * f_ss).sum(axis=1)
    H[:m, m] = H[m, :m] = (s * n * d2_lam).sum(axis=1)
    H[m, m] = float(np.sum(n * n * d2_lam))
    return f, grad, H


def _variance_step(
    wg: np.ndarray,
    dg: np.ndarray,
    eg: np.ndarray,
    levels: np.ndarray,
    s2: np.ndarray,
    t2: float,
) -> tuple[np.ndarray, float]:
    """Maximise the expected log-likelihood over the variances: projected Newton, ``t2 >= 0``.

    Starts at the previous values and accepts only steps that lower ``-2 Q`` (so the ECM step
    never lowers the likelihood). ``t2`` is held at 0 while the gradient pushes it below.
    """
    m = wg.shape[0]
    n = levels[None, :].astype(np.float64)
    x = np.append(np.log(s2), t2)
    f, grad, H = _variance_objective(x, wg, dg, eg, n)
    for _ in range(_VARIANCE_STEPS):
        free = np.ones(m + 1, dtype=bool)
        if x[m] <= 0.0 and grad[m] >= 0.0:
            free[m] = False
        gf = grad[free]
        w, V = np.linalg.eigh(H[np.ix_(free, free)])
        w = np.maximum(np.abs(w), 1e-12 * max(float(np.abs(w).max()), 1e-300))
        step = -(V @ ((V.T @ gf) / w))
        decrement = -float(gf @ step)
        if decrement <= 1e-13 * (1.0 + abs(f)):
            break
        alpha = 1.0
        while alpha > 1e-10:
            trial = x.copy()
            trial[free] += alpha * step
            trial[m] = max(trial[m], 0.0)
            f_new, g_new, H_new = _variance_objective(trial, wg, dg, eg, n)
            if np.isfinite(f_new) and f_new <= f:
                break
            alpha *= 0.5
        else:
            break
        x, f, grad, H = trial, f_new, g_new, H_new
    return np.exp(x[:m]), float(x[m])


def _fallback(K: int, p: int, random: bool = False) -> Params:
    return Params(np.zeros((K, p)), np.ones(K), np.full(K, -math.log(K)), 0.0 if random else None)


@dataclass
class Fit:
    params: Params
    loglik: float
    tau: np.ndarray
    converged: bool
    n_iter: int
    degenerate: str | None
    message: str


def _em_map(
    st: Stats, theta: np.ndarray, K: int, equal: bool, s2_floor: float, random: bool
) -> tuple[np.ndarray, float, np.ndarray, str | None]:
    par = Params.unpack(theta, K, st.p, random)
    L, _ = loglik_matrix(st, par)
    tau, lli = posterior(L)
    ms = m_step(st, tau, equal, s2_floor, par if random else None)
    return ms.params.pack(), float(lli.sum()), tau, ms.degenerate


def em_fit(
    st: Stats,
    start: Params,
    *,
    equal: bool,
    max_iter: int,
    tol: float,
    s2_floor: float,
) -> Fit:
    """EM accelerated by SQUAREM (Varadhan & Roland 2008, scheme S3), kept monotone.

    Each step: two EM maps, an extrapolation, one EM map from the extrapolated point; the
    extrapolated step is used only if its log-likelihood is not below that of the plain EM
    path (else the two plain EM steps are kept). Converged when the log-likelihood changes by
    less than ``tol * (1 + |loglik|)`` and no parameter (coefficients, log variances, log
    class shares) by more than ``sqrt(tol) * (1 + |value|)``.
    """
    K = start.B.shape[0]
    random = start.t2 is not None
    theta = start.pack()
    ll_old = -np.inf
    message = "maximum number of iterations reached"
    converged = False
    it = 0
    tau = np.empty((st.n_patients, K))
    ptol = math.sqrt(tol)
    for it in range(1, max_iter + 1):
        t1, ll0, tau, deg = _em_map(st, theta, K, equal, s2_floor, random)
        if deg:
            return Fit(Params.unpack(theta, K, st.p, random), ll0, tau.T, False, it, deg, deg)
        t2, ll1, _, deg = _em_map(st, t1, K, equal, s2_floor, random)
        if deg:
            return Fit(Params.unpack(t1, K, st.p, random), ll1, tau.T, False, it, deg, deg)
        r = t1 - theta
        v = t2 - t1 - r
        nv = float(np.sqrt(v @ v))
        new = t2
        if nv > 0:
            alpha = min(-float(np.sqrt(r @ r)) / nv, -1.0)
            if alpha < -1.0:
                ext = theta - 2.0 * alpha * r + alpha * alpha * v
                t3, ll3, _, deg3 = _em_map(st, ext, K, equal, s2_floor, random)
                if deg3 is None and np.isfinite(ll3) and ll3 >= ll1:
                    new = t3
        step = np.max(np.abs(new - theta) / (1.0 + np.abs(theta)))
        theta = new
        if abs(ll0 - ll_old) <= tol * (1.0 + abs(ll0)) and step <= ptol:
            converged = True
            message = f"converged after {it} SQUAREM steps"
            break
        ll_old = ll0
    par = Params.unpack(theta, K, st.p, random)
    L, _ = loglik_matrix(st, par)
    tau, lli = posterior(L)
    return Fit(par, float(lli.sum()), np.ascontiguousarray(tau.T), converged, it, None, message)


def start_params(
    st: Stats,
    K: int,
    rng: np.random.Generator,
    coef: np.ndarray,
    equal: bool,
    s2_floor: float,
    partition: bool = False,
    random: bool = False,
) -> Params | None:
    """A random start: k-means++ seeding on the patients' own curves, then one M-step.

    ``coef`` holds each patient's own (ridge-stabilised) least-squares coefficients. The first
    seed is a random patient; each next one is drawn with probability proportional to the
    patient's mean squared residual about the nearest seed curve. Patients are then assigned to
    the nearest seed curve and the M-step gives the class parameters. ``partition=True``:
    flexmix's start instead, a random partition of the patients. ``random``: a growth mixture
    start (the same, then one ECM step from a zero random-intercept variance).
    """
    N = st.n_patients
    if partition:
        return _partition_start(st, K, rng, equal, s2_floor, random)
    seeds = [int(rng.integers(N))]
    dist = None
    for _ in range(1, K):
        par = Params(coef[seeds], np.ones(len(seeds)), np.zeros(len(seeds)))
        _, rss = loglik_matrix(st, par)
        dist = (rss / st.n).min(axis=0)
        total = dist.sum()
        if not total > 0:
            seeds.append(int(rng.integers(N)))
            continue
        seeds.append(int(rng.choice(N, p=dist / total)))
    par = Params(coef[seeds], np.ones(K), np.zeros(K))
    _, rss = loglik_matrix(st, par)
    label = np.argmin(rss / st.n, axis=0)
    start = _labelled_start(st, K, label, equal, s2_floor, random)
    if start is not None:
        return start
    # a seed captured too few patients: fall back to a random partition (flexmix's start)
    return _partition_start(st, K, rng, equal, s2_floor, random)


def _partition_start(
    st: Stats, K: int, rng: np.random.Generator, equal: bool, s2_floor: float, random: bool
) -> Params | None:
    label = rng.integers(K, size=st.n_patients)
    return _labelled_start(st, K, label, equal, s2_floor, random)


def _labelled_start(
    st: Stats, K: int, label: np.ndarray, equal: bool, s2_floor: float, random: bool
) -> Params | None:
    """One M-step from a hard assignment; with ``random`` then one ECM step from ``t2 = 0``."""
    N = st.n_patients
    tau = np.zeros((K, N))
    tau[label, np.arange(N)] = 1.0
    ms = m_step(st, tau, equal, s2_floor)
    if ms.degenerate is None and random:
        par = ms.params
        ms = m_step(st, tau, equal, s2_floor, Params(par.B, par.s2, par.logpi, 0.0))
    return ms.params if ms.degenerate is None else None


def own_coefficients(st: Stats) -> np.ndarray:
    """Each patient's least-squares coefficients, shrunk to the pooled fit where not identified."""
    p = st.p
    XX = st.XX.reshape(-1, p, p)
    pooled_XX = XX.sum(axis=0)
    pooled = np.linalg.lstsq(pooled_XX, st.Xy.sum(axis=0), rcond=None)[0]
    scale = np.trace(pooled_XX) / max(st.n.sum(), 1.0)
    lam = 1e-6 * scale
    A = XX + lam * np.eye(p)
    rhs = st.Xy + lam * pooled
    return np.linalg.solve(A, rhs[:, :, None])[:, :, 0]


def information(st: Stats, par: Params, equal: bool) -> np.ndarray:
    """Observed information of the mixture log-likelihood by Louis' (1982) formula.

    Parameters in order: the class coefficients (class by class), the residual variances
    (one, or one per class, on the variance scale) and the log-odds of classes 2..K against
    class 1. ``I = sum_i [ E(-H_c | y_i) - Var(s_c | y_i) ]`` with ``H_c``, ``s_c`` the
    complete-data Hessian and score of patient ``i``.
    """
    K, p = par.B.shape
    nv = 1 if equal else K
    d = K * p + nv + K - 1
    pi = np.exp(par.logpi)
    info = np.zeros((d, d))
    onehot = np.eye(K)[:, 1:] - pi[1:]  # (K, K-1): d log pi_k / d eta_j
    N = st.n_patients
    for lo in range(0, N, _CHUNK):
        ch = st.take(slice(lo, lo + _CHUNK))
        m = ch.n_patients
        L, rss = loglik_matrix(ch, par)
        tau = posterior(L)[0].T
        rss = rss.T
        XX = ch.XX.reshape(m, p, p)
        S = np.zeros((m, K, d))
        for k in range(K):
            s2 = par.s2[k]
            v = K * p + (0 if equal else k)
            r = ch.Xy - XX @ par.B[k]
            S[:, k, k * p : (k + 1) * p] = r / s2
            S[:, k, v] = -0.5 * ch.n / s2 + 0.5 * rss[:, k] / s2**2
            S[:, k, K * p + nv :] = onehot[k]
            w = tau[:, k]
            bl = slice(k * p, (k + 1) * p)
            info[bl, bl] += (w @ ch.XX).reshape(p, p) / s2
            cross = (w @ r) / s2**2
            info[bl, v] += cross
            info[v, bl] += cross
            info[v, v] += float(w @ (-0.5 * ch.n / s2**2 + rss[:, k] / s2**3))
        sw = (S * np.sqrt(tau)[:, :, None]).reshape(m * K, d)
        sbar = np.einsum("nk,nkd->nd", tau, S)
        info -= sw.T @ sw - sbar.T @ sbar
    if K > 1:
        mix = slice(K * p + nv, d)
        info[mix, mix] += N * (np.diag(pi[1:]) - np.outer(pi[1:], pi[1:]))
    return 0.5 * (info + info.T)


def _free_params(par: Params, equal: bool) -> np.ndarray:
    """The growth mixture model's parameters in the order of :func:`score_vector`."""
    s2 = par.s2[:1] if equal else par.s2
    eta = par.logpi[1:] - par.logpi[0]
    return np.concatenate([par.B.ravel(), s2, [float(par.t2 or 0.0)], eta])


def _params_from(x: np.ndarray, K: int, p: int, equal: bool) -> Params:
    nv = 1 if equal else K
    B = x[: K * p].reshape(K, p)
    s2 = np.full(K, x[K * p]) if equal else x[K * p : K * p + K].copy()
    t2 = float(x[K * p + nv])
    eta = np.append(0.0, x[K * p + nv + 1 :])
    return Params(B.copy(), s2, eta - _logsumexp(eta), t2)


def score_vector(st: Stats, par: Params, equal: bool) -> np.ndarray:
    """Gradient of the growth mixture model's log-likelihood (Fisher's identity).

    Parameters in order: the class coefficients (class by class), the residual variances (one,
    or one per class, variance scale), the random-intercept variance, the log-odds of classes
    2..K against class 1. ``sum_i sum_k tau_ik d log f_k(y_i) / d theta``, all from pooled
    weighted statistics.
    """
    K, p = par.B.shape
    nv = 1 if equal else K
    t2 = float(par.t2 or 0.0)
    L, _ = loglik_matrix(st, par)
    tau = posterior(L)[0]
    _, within, between = split_rss(st, par.B)
    _, sr = residuals(st, par.B)
    s = par.s2[:, None]
    lam = s + st.n * t2
    g = np.zeros(K * p + nv + 1 + K - 1)
    for k in range(K):
        XXk = (tau[k] @ st.XX).reshape(p, p)
        Xrk = tau[k] @ st.Xy - XXk @ par.B[k]
        corr = (tau[k] * (t2 / lam[k]) * sr[k]) @ st.ones_x_T.T
        g[k * p : (k + 1) * p] = (Xrk - corr) / par.s2[k]
    d_s = -0.5 * (
        (st.n - 1.0) / s - within / s**2 + 1.0 / lam - between / lam**2
    )
    per_class = (tau * d_s).sum(axis=1)
    g[K * p : K * p + nv] = per_class.sum() if equal else per_class
    g[K * p + nv] = float(np.sum(tau * (-0.5 * st.n * (1.0 / lam - between / lam**2))))
    pi = np.exp(par.logpi)
    g[K * p + nv + 1 :] = tau[1:].sum(axis=1) - st.n_patients * pi[1:]
    return g


def information_numeric(st: Stats, par: Params, equal: bool) -> np.ndarray:
    """Observed information of the growth mixture model: central differences of the score.

    Parameters as :func:`score_vector`. Steps ``1e-5 (|x| + scale)`` per parameter.
    """
    K, p = par.B.shape
    x0 = _free_params(par, equal)
    d = len(x0)
    scale = np.abs(x0).copy()
    nv = 1 if equal else K
    scale[K * p + nv] = max(scale[K * p + nv], float(par.s2.mean()))
    scale = np.maximum(scale, 1e-3)
    J = np.empty((d, d))
    for j in range(d):
        h = 1e-5 * scale[j]
        up, down = x0.copy(), x0.copy()
        up[j] += h
        down[j] -= h
        J[:, j] = (
            score_vector(st, _params_from(up, K, p, equal), equal)
            - score_vector(st, _params_from(down, K, p, equal), equal)
        ) / (2.0 * h)
    return -0.5 * (J + J.T)


def newton_decrement(st: Stats, par: Params, equal: bool) -> tuple[float, np.ndarray]:
    """Half the Newton decrement ``g' I^-1 g / 2`` and the observed information ``I``.

    The decrement is the log-likelihood a Newton step would still gain: near zero at a
    maximum. At the boundary ``t2 = 0`` with the score pushing ``t2`` below zero the
    random-intercept variance is left out (the Karush-Kuhn-Tucker condition). Infinite when
    the information is not positive definite on the free parameters.
    """
    K, p = par.B.shape
    nv = 1 if equal else K
    g = score_vector(st, par, equal)
    info = information_numeric(st, par, equal)
    free = np.ones(len(g), dtype=bool)
    if float(par.t2 or 0.0) <= 0.0 and g[K * p + nv] <= 0.0:
        free[K * p + nv] = False
    try:
        chol = np.linalg.cholesky(info[np.ix_(free, free)])
    except np.linalg.LinAlgError:
        return math.inf, info
    z = np.linalg.solve(chol, g[free])
    return 0.5 * float(z @ z), info
