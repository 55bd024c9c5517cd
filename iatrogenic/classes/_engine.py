"""EM engine of latent-class growth analysis on per-patient sufficient statistics.

Everything here works on arrays over patients: per patient ``i`` the engine keeps
``X_i'X_i`` (flattened), ``X_i'y_i``, ``y_i'y_i`` and ``n_i``. For class ``k`` with coefficients
``b_k`` and residual variance ``s2_k`` the patient's log-likelihood is::

    l_ik = -n_i/2 log(2 pi s2_k) - (y_i'y_i - 2 b_k'X_i'y_i + b_k'X_i'X_i b_k) / (2 s2_k)

so one E-step is a few matrix products of shape (patients x terms) and the M-step a weighted
least squares from pooled weighted statistics. No loop over patients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Fit",
    "Stats",
    "em_fit",
    "information",
    "loglik_matrix",
    "posterior",
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

    def __post_init__(self) -> None:
        self.XXT = np.ascontiguousarray(self.XX.T)
        self.XyT = np.ascontiguousarray(self.Xy.T)

    @property
    def n_patients(self) -> int:
        return len(self.yy)

    def take(self, rows: slice | np.ndarray) -> Stats:
        return Stats(self.XX[rows], self.Xy[rows], self.yy[rows], self.n[rows], self.p)


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

    def pack(self) -> np.ndarray:
        return np.concatenate([self.B.ravel(), np.log(self.s2), self.logpi])

    @staticmethod
    def unpack(theta: np.ndarray, K: int, p: int) -> Params:
        B = theta[: K * p].reshape(K, p)
        s2 = np.exp(theta[K * p : K * p + K])
        logpi = theta[K * p + K :]
        logpi = logpi - _logsumexp(logpi)
        return Params(B.copy(), s2, logpi)


def _logsumexp(v: np.ndarray) -> float:
    m = float(np.max(v))
    return m + math.log(float(np.sum(np.exp(v - m))))


def loglik_matrix(st: Stats, par: Params) -> tuple[np.ndarray, np.ndarray]:
    """``log pi_k + l_ik`` and the residual sums of squares, both (K, N): classes first."""
    B = par.B
    K, p = B.shape
    Q = (B[:, :, None] * B[:, None, :]).reshape(K, p * p)
    rss = Q @ st.XXT
    rss -= 2.0 * (B @ st.XyT)
    rss += st.yy
    np.maximum(rss, 0.0, out=rss)
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


@dataclass
class _MStep:
    params: Params
    degenerate: str | None


def m_step(st: Stats, tau: np.ndarray, equal: bool, s2_floor: float) -> _MStep:
    """Weighted least squares per class from pooled weighted statistics; ``tau`` is (K, N)."""
    K = tau.shape[0]
    p = st.p
    W = (tau @ st.XX).reshape(K, p, p)
    R = tau @ st.Xy
    nk = tau @ st.n
    wk = tau.sum(axis=1)
    bad = nk <= p
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        return _MStep(_fallback(K, p), f"class {k + 1} empty ({nk[k]:.3g} weighted rows)")
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


def _fallback(K: int, p: int) -> Params:
    return Params(np.zeros((K, p)), np.ones(K), np.full(K, -math.log(K)))


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
    st: Stats, theta: np.ndarray, K: int, equal: bool, s2_floor: float
) -> tuple[np.ndarray, float, np.ndarray, str | None]:
    par = Params.unpack(theta, K, st.p)
    L, _ = loglik_matrix(st, par)
    tau, lli = posterior(L)
    ms = m_step(st, tau, equal, s2_floor)
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
    theta = start.pack()
    ll_old = -np.inf
    message = "maximum number of iterations reached"
    converged = False
    it = 0
    tau = np.empty((st.n_patients, K))
    ptol = math.sqrt(tol)
    for it in range(1, max_iter + 1):
        t1, ll0, tau, deg = _em_map(st, theta, K, equal, s2_floor)
        if deg:
            return Fit(Params.unpack(theta, K, st.p), ll0, tau.T, False, it, deg, deg)
        t2, ll1, _, deg = _em_map(st, t1, K, equal, s2_floor)
        if deg:
            return Fit(Params.unpack(t1, K, st.p), ll1, tau.T, False, it, deg, deg)
        r = t1 - theta
        v = t2 - t1 - r
        nv = float(np.sqrt(v @ v))
        new = t2
        if nv > 0:
            alpha = min(-float(np.sqrt(r @ r)) / nv, -1.0)
            if alpha < -1.0:
                ext = theta - 2.0 * alpha * r + alpha * alpha * v
                t3, ll3, _, deg3 = _em_map(st, ext, K, equal, s2_floor)
                if deg3 is None and np.isfinite(ll3) and ll3 >= ll1:
                    new = t3
        step = np.max(np.abs(new - theta) / (1.0 + np.abs(theta)))
        theta = new
        if abs(ll0 - ll_old) <= tol * (1.0 + abs(ll0)) and step <= ptol:
            converged = True
            message = f"converged after {it} SQUAREM steps"
            break
        ll_old = ll0
    par = Params.unpack(theta, K, st.p)
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
) -> Params | None:
    """A random start: k-means++ seeding on the patients' own curves, then one M-step.

    ``coef`` holds each patient's own (ridge-stabilised) least-squares coefficients. The first
    seed is a random patient; each next one is drawn with probability proportional to the
    patient's mean squared residual about the nearest seed curve. Patients are then assigned to
    the nearest seed curve and the M-step gives the class parameters. ``partition=True``:
    flexmix's start instead, a random partition of the patients.
    """
    N = st.n_patients
    if partition:
        return _partition_start(st, K, rng, equal, s2_floor)
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
    tau = np.zeros((K, N))
    tau[label, np.arange(N)] = 1.0
    ms = m_step(st, tau, equal, s2_floor)
    if ms.degenerate is None:
        return ms.params
    # a seed captured too few patients: fall back to a random partition (flexmix's start)
    return _partition_start(st, K, rng, equal, s2_floor)


def _partition_start(
    st: Stats, K: int, rng: np.random.Generator, equal: bool, s2_floor: float
) -> Params | None:
    N = st.n_patients
    label = rng.integers(K, size=N)
    tau = np.zeros((K, N))
    tau[label, np.arange(N)] = 1.0
    ms = m_step(st, tau, equal, s2_floor)
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
