"""Mixed-effects growth models for longitudinal outcomes, fast and exact (lme4's estimates).

The model is ``y_i = X_i beta + Z_i b_i (+ c_k) + e_i`` for patient ``i`` (of cluster ``k``), with
``b_i ~ N(0, sigma^2 Lambda Lambda')``, an optional cluster intercept ``c_k ~ N(0, sigma^2
theta_c^2)`` and ``e_i ~ N(0, sigma^2 I)``. ``Lambda`` is lower triangular with the relative
Cholesky factor ``theta`` exactly as lme4 parametrises it. The (RE)ML criterion is profiled over
``beta`` and ``sigma^2`` and evaluated from per-patient sufficient statistics: each evaluation
costs a few vector operations over patients (Woodbury identity with closed-form 1x1 / 2x2
algebra), never a pass over the rows nor a large sparse matrix. See ``docs/growth.md``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .._threads import one_blas_thread
from .._validation import (
    LongData,
    check_choice,
    check_column_list,
    check_columns,
    check_dataframe,
    check_fraction,
    check_number,
    check_patient_level,
    describe_rows,
    numeric_time,
    prepare_long,
)
from ..dask import dispatch, is_dask_frame
from ..exceptions import (
    ConvergenceWarning,
    EmptyDataError,
    InvalidValueError,
    ParameterError,
    ParameterTypeError,
    SingularFitWarning,
)

__all__ = [
    "METHODS",
    "RANDOM",
    "TIME_TRANSFORMS",
    "GrowthModel",
    "fit_growth",
]

#: Accepted ``time_transform`` values.
TIME_TRANSFORMS = ("linear", "log", "log1p", "quadratic", "piecewise")
#: Accepted ``random`` values.
RANDOM = ("intercept", "slope")
#: Accepted ``method`` values.
METHODS = ("REML", "ML")

_CALLER = "fit_growth"
_LOG_2PI = math.log(2.0 * math.pi)


# ------------------------------------------------------------------------------------------------
# Design
# ------------------------------------------------------------------------------------------------


def _time_columns(
    t: np.ndarray, transform: str, knot: float | None
) -> list[tuple[str, np.ndarray]]:
    """The fixed-effect time terms of ``transform`` evaluated at raw times ``t``."""
    if transform == "linear":
        return [("time", t)]
    if transform == "log":
        return [("time", np.log(t))]
    if transform == "log1p":
        return [("time", np.log1p(t))]
    if transform == "quadratic":
        return [("time", t), ("time2", t * t)]
    return [("time", t), ("time_after_knot", np.maximum(t - float(knot or 0.0), 0.0))]


def _check_times(t: np.ndarray, transform: str, frame: pd.DataFrame, column: str) -> None:
    if transform == "log":
        bad = np.flatnonzero(~(t > 0))
        need = "> 0"
    elif transform == "log1p":
        bad = np.flatnonzero(~(t > -1))
        need = "> -1"
    else:
        return
    if len(bad):
        raise InvalidValueError(
            f"time_transform={transform!r} in {_CALLER}() needs times {need} in column "
            f"{column!r} (given as time=); {describe_rows(frame, bad, ['patient', 'time'])}. "
            "Suggestion: use time_transform='log1p' for sessions counted from 0, or shift the "
            "times."
        )


@dataclass
class _Covariates:
    """Patient-level covariates as numeric design columns (dummy coded)."""

    names: list[str]
    spec: list[tuple[str, str, Any]]  # (column, kind, level): kind "numeric" or "level"

    def columns(self, frame: pd.DataFrame) -> list[np.ndarray]:
        out = []
        for column, kind, level in self.spec:
            values = frame[column]
            if kind == "numeric":
                out.append(values.to_numpy(dtype=np.float64, na_value=np.nan))
            else:
                missing = values.isna().to_numpy()
                col = (values == level).to_numpy(dtype=np.float64, na_value=0.0)
                col[missing] = np.nan
                out.append(col)
        return out


def _plan_covariates(frame: pd.DataFrame, covariates: Sequence[str]) -> _Covariates:
    names: list[str] = []
    spec: list[tuple[str, str, Any]] = []
    for column in covariates:
        values = frame[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric:
            names.append(str(column))
            spec.append((column, "numeric", None))
            continue
        if isinstance(values.dtype, pd.CategoricalDtype):
            levels = [lv for lv in values.cat.categories if (values == lv).any()]
        else:
            try:
                levels = sorted(pd.unique(values.dropna()))
            except TypeError:
                levels = list(pd.unique(values.dropna()))
        for level in levels[1:]:  # first level is the reference
            names.append(f"{column}[T.{level}]")
            spec.append((column, "level", level))
    return _Covariates(names=names, spec=spec)


# ------------------------------------------------------------------------------------------------
# Engine on arrays
# ------------------------------------------------------------------------------------------------


@dataclass
class _Stats:
    """Per-patient sufficient statistics of ``[X y]`` against ``Z`` (``Z = X[:, :q]``)."""

    n_obs: int
    p: int
    q: int
    B: list[np.ndarray]  # q arrays (p + 1, N): per patient sum of Xy[:, j] * Z[:, k]
    XyXy: np.ndarray  # (p + 1, p + 1) summed over all rows
    cluster_starts: np.ndarray | None = None  # patients sorted by cluster: segment starts
    cluster_order: np.ndarray | None = None  # permutation of patients sorted by cluster



def _moments_by_patient(Xy: np.ndarray, starts: np.ndarray, q: int) -> list[np.ndarray]:
    """Per-patient sums of ``Xy[:, j] * Xy[:, k]`` for each random effect k < q (the random-effect
    design is the first q columns of ``Xy``, the first being 1): one (columns x patients) array
    per random effect; rows sorted by patient, ``starts`` each patient's first row."""
    a = Xy.shape[1]
    B: list[np.ndarray] = []
    for k in range(q):
        Bk = np.empty((a, len(starts)))
        for j in range(a):
            if k == 0:
                Bk[j] = np.add.reduceat(Xy[:, j], starts)
            elif j < k:
                Bk[j] = B[j][k]  # symmetric: sum X_j Z_k = sum X_k Z_j
            else:
                Bk[j] = np.add.reduceat(Xy[:, j] * Xy[:, k], starts)
        B.append(Bk)
    return B

def _sufficient_stats(
    Xy: np.ndarray,
    q: int,
    starts: np.ndarray,
    cluster_codes: np.ndarray | None = None,
) -> _Stats:
    """Sufficient statistics from rows sorted by patient (``starts``: segment starts, no empty)."""
    a = Xy.shape[1]
    B = _moments_by_patient(Xy, starts, q)
    XyXy = Xy.T @ Xy
    out = _Stats(n_obs=len(Xy), p=a - 1, q=q, B=B, XyXy=XyXy)
    if cluster_codes is not None:
        order = np.argsort(cluster_codes, kind="stable")
        sorted_codes = cluster_codes[order]
        out.cluster_order = order
        out.cluster_starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    return out


def _lambda(theta: np.ndarray, q: int) -> np.ndarray:
    lam = np.zeros((q, q))
    if q == 1:
        lam[0, 0] = theta[0]
    else:
        lam[0, 0], lam[1, 0], lam[1, 1] = theta[0], theta[1], theta[2]
    return lam


def _n_theta(q: int) -> int:
    return 1 if q == 1 else 3


@dataclass
class _Eval:
    crit: float
    r2: float
    beta: np.ndarray
    A: np.ndarray
    W: tuple[np.ndarray, ...] = ()
    vc: np.ndarray | None = None  # per cluster 1' V_k^-1 [X y] (patients' part), (n_clusters, a)
    grad: np.ndarray | None = None
    Q: np.ndarray | None = None  # (q, q) gradient of the criterion with respect to Psi


def _evaluate(
    theta: np.ndarray, st: _Stats | _GroupedStats, reml: bool, *, gradient: bool = False
) -> _Eval | None:
    """The profiled criterion at ``theta`` (None where it is undefined).

    With ``gradient=True`` (no cluster) also its analytic gradient: with ``Psi = Lambda
    Lambda'``, ``d crit = tr(Q dPsi)`` where ``Q = sum_i [H_i - E_i A^-1 E_i' - k e_i e_i']``,
    ``H_i = Z_i'V_i^-1 Z_i``, ``E_i = Z_i'V_i^-1 X_i``, ``e_i = Z_i'V_i^-1 (y_i - X_i beta)``,
    ``k = (n - p) / r^2`` (REML; ``n / r^2`` and no ``A^-1`` term for ML).
    """
    if isinstance(st, _GroupedStats):
        return _evaluate_grouped(theta, st, reml, gradient=gradient)
    if isinstance(st, _PooledStats):
        return _evaluate_pooled(theta, st, reml, gradient=gradient)
    q, p = st.q, st.p
    B0 = st.B[0]
    g00 = B0[0]
    if q == 1:
        l0 = float(theta[0])
        m = 1.0 + (l0 * l0) * g00
        logdet_m = np.log(m)
        w00 = (l0 * l0) / m
        C = w00 * B0
        T = B0 @ C.T
        W: tuple[np.ndarray, ...] = (w00,)
        v = B0 - g00 * C if st.cluster_starts is not None else None
    else:
        B1 = st.B[1]
        g01, g11 = B1[0], B1[1]
        l0, l1, l2 = float(theta[0]), float(theta[1]), float(theta[2])
        s00 = (l0 * l0) * g00 + (2.0 * l0 * l1) * g01 + (l1 * l1) * g11
        s01 = l2 * (l0 * g01 + l1 * g11)
        s11 = (l2 * l2) * g11
        m00, m11 = 1.0 + s00, 1.0 + s11
        det = m00 * m11 - s01 * s01
        logdet_m = np.log(det)
        inv_det = 1.0 / det
        i00, i01, i11 = m11 * inv_det, -s01 * inv_det, m00 * inv_det
        w00 = (l0 * l0) * i00
        w01 = l0 * (l1 * i00 + l2 * i01)
        w11 = (l1 * l1) * i00 + (2.0 * l1 * l2) * i01 + (l2 * l2) * i11
        C = w00 * B0 + w01 * B1
        D = w01 * B0 + w11 * B1
        T = B0 @ C.T + B1 @ D.T
        W = (w00, w01, w11)
        v = B0 - (g00 * C + g01 * D) if st.cluster_starts is not None else None
    G = st.XyXy - T
    logdet_v = float(np.sum(logdet_m))
    vc = None
    if st.cluster_starts is not None and v is not None and st.cluster_order is not None:
        tau2 = float(theta[-1]) ** 2
        vc = np.add.reduceat(v[:, st.cluster_order], st.cluster_starts, axis=1).T
        denom = 1.0 + tau2 * vc[:, 0]
        if np.any(denom <= 0):
            return None
        G = G - (vc * (tau2 / denom)[:, None]).T @ vc
        logdet_v += float(np.sum(np.log(denom)))
    n = st.n_obs
    profiled = _profile(G, logdet_v, n, p, reml)
    if profiled is None:
        return None
    crit, r2, beta, A = profiled
    ev = _Eval(crit, r2, beta, A, W, vc)
    if gradient and st.cluster_starts is None:
        u = np.append(-beta, 1.0)
        k = (n - p if reml else n) / r2
        a_inv = np.linalg.inv(A)
        if q == 1:
            kk = 1.0 - g00 * w00
            E = [kk * B0]
            H = np.array([[float(np.sum(kk * g00))]])
        else:
            k00 = 1.0 - (g00 * w00 + g01 * w01)
            k01 = -(g00 * w01 + g01 * w11)
            k10 = -(g01 * w00 + g11 * w01)
            k11 = 1.0 - (g01 * w01 + g11 * w11)
            E = [k00 * B0 + k01 * B1, k10 * B0 + k11 * B1]
            h00 = float(np.sum(k00 * g00 + k01 * g01))
            h01 = float(np.sum(k00 * g01 + k01 * g11))
            h11 = float(np.sum(k10 * g01 + k11 * g11))
            H = np.array([[h00, h01], [h01, h11]])
        e = np.vstack([u @ Ek for Ek in E])  # (q, N)
        Q = H - k * (e @ e.T)
        if reml:
            F = np.vstack([Ek[:p] for Ek in E])  # (q p, N)
            P = (F @ F.T).reshape(q, p, q, p)
            Q = Q - np.einsum("lm,jlkm->jk", a_inv, P)
        lam = _lambda(theta, q)
        QL = 2.0 * (Q @ lam)
        ev.grad = np.array([QL[0, 0]]) if q == 1 else np.array([QL[0, 0], QL[1, 0], QL[1, 1]])
        ev.Q = 0.5 * (Q + Q.T)
    return ev


@dataclass
class _GroupedStats:
    """Sufficient statistics of the linear random-slope model (q = 2, no cluster) by group.

    Patients with the same observed times have the same ``Z_i'Z_i`` and hence the same weights
    ``W_i(theta)``; every patient sum of :func:`_evaluate` is then a sum over groups of the
    weights times the members' first and second moments of ``(sum y, sum t y)``. An evaluation
    costs O(groups) instead of O(patients): with sessions numbered 1..12 there are at most 2^12
    groups whatever the number of patients. Mathematically the same criterion and gradient as
    ``_Stats`` of the same rows (only the order of floating-point sums differs).
    """

    n_obs: int
    n: np.ndarray  # members per group
    b0: np.ndarray  # (3, G): member Z'X row 0 = (n_i, sum t) and the members' mean sum y
    b1: np.ndarray  # (3, G): (sum t, sum t^2) and the members' mean sum t y
    scatter: np.ndarray  # (3, G): centred sums of squares/products of (sum y, sum t y)
    XyXy: np.ndarray  # (3, 3) summed over all rows
    p: int = 2
    q: int = 2


def _grouped_stats(
    group: np.ndarray,
    n_groups: int,
    per_patient: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    yy: float,
) -> _GroupedStats:
    """Pool per-patient statistics ``(n_i, sum t, sum t^2, sum y, sum t y)`` into groups.

    ``group`` (dense ids ``0..n_groups-1``) must only join patients with identical first three
    statistics; ``yy`` is the sum of ``y^2`` over all rows.
    """
    g00, g01, g11, y0, y1 = per_patient
    n = np.bincount(group, minlength=n_groups).astype(np.float64)
    member = np.empty(n_groups, dtype=np.int64)
    member[group] = np.arange(len(group))  # any member: they share n_i, sum t, sum t^2
    m0 = np.bincount(group, weights=y0, minlength=n_groups) / n
    m1 = np.bincount(group, weights=y1, minlength=n_groups) / n
    # centred, so that a group of many similar patients loses no precision
    d0 = y0 - m0[group]
    d1 = y1 - m1[group]
    scatter = np.vstack(
        [
            np.bincount(group, weights=d0 * d0, minlength=n_groups),
            np.bincount(group, weights=d0 * d1, minlength=n_groups),
            np.bincount(group, weights=d1 * d1, minlength=n_groups),
        ]
    )
    s00, s01, s11 = g00[member], g01[member], g11[member]
    XyXy = np.empty((3, 3))
    XyXy[0] = [n @ s00, n @ s01, float(np.sum(y0))]
    XyXy[1] = [XyXy[0, 1], n @ s11, float(np.sum(y1))]
    XyXy[2] = [XyXy[0, 2], XyXy[1, 2], yy]
    return _GroupedStats(
        n_obs=round(float(XyXy[0, 0])),
        n=n,
        b0=np.vstack([s00, s01, m0]),
        b1=np.vstack([s01, s11, m1]),
        scatter=scatter,
        XyXy=XyXy,
    )


def _slope_weights(
    theta: np.ndarray, g00: np.ndarray, g01: np.ndarray, g11: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``det M_i`` and ``W_i = Lambda M_i^-1 Lambda'`` (entries 00, 01, 11) of the linear
    random-slope model, from ``theta`` and a patient's ``Z_i'Z_i = [[n_i, sum t], [sum t,
    sum t^2]]`` (``M_i = I + Lambda' Z_i'Z_i Lambda``); elementwise, for patients or groups.

    ``W_i`` gives the empirical-Bayes effects ``b_i = W_i Z_i'(y_i - X_i beta)`` and their
    conditional covariance ``sigma^2 W_i``.
    """
    l0, l1, l2 = float(theta[0]), float(theta[1]), float(theta[2])
    s00 = (l0 * l0) * g00 + (2.0 * l0 * l1) * g01 + (l1 * l1) * g11
    s01 = l2 * (l0 * g01 + l1 * g11)
    s11 = (l2 * l2) * g11
    m00, m11 = 1.0 + s00, 1.0 + s11
    det = m00 * m11 - s01 * s01
    inv_det = 1.0 / det
    i00, i01, i11 = m11 * inv_det, -s01 * inv_det, m00 * inv_det
    w00 = (l0 * l0) * i00
    w01 = l0 * (l1 * i00 + l2 * i01)
    w11 = (l1 * l1) * i00 + (2.0 * l1 * l2) * i01 + (l2 * l2) * i11
    return det, w00, w01, w11


def _evaluate_grouped(
    theta: np.ndarray, st: _GroupedStats, reml: bool, *, gradient: bool = False
) -> _Eval | None:
    """:func:`_evaluate` on grouped statistics (``W`` is returned per group)."""
    p, n = st.p, st.n
    b0, b1 = st.b0, st.b1
    g00, g01, g11 = b0[0], b0[1], b1[1]
    det, w00, w01, w11 = _slope_weights(theta, g00, g01, g11)
    C = w00 * b0 + w01 * b1
    D = w01 * b0 + w11 * b1
    T = (n * b0) @ C.T + (n * b1) @ D.T
    c00, c01, c11 = st.scatter
    # members differ from the group means only in sum y and sum t y (row 2 of B0 and B1)
    T[2, 2] += float(np.sum(w00 * c00 + 2.0 * w01 * c01 + w11 * c11))
    logdet_v = float(n @ np.log(det))
    profiled = _profile(st.XyXy - T, logdet_v, st.n_obs, p, reml)
    if profiled is None:
        return None
    crit, r2, beta, A = profiled
    ev = _Eval(crit, r2, beta, A, (w00, w01, w11))
    if gradient:
        n_obs = st.n_obs
        u = np.append(-beta, 1.0)
        k = (n_obs - p if reml else n_obs) / r2
        k00 = 1.0 - (g00 * w00 + g01 * w01)
        k01 = -(g00 * w01 + g01 * w11)
        k10 = -(g01 * w00 + g11 * w01)
        k11 = 1.0 - (g01 * w01 + g11 * w11)
        h00 = float(n @ (k00 * g00 + k01 * g01))
        h01 = float(n @ (k00 * g01 + k01 * g11))
        h11 = float(n @ (k10 * g01 + k11 * g11))
        H = np.array([[h00, h01], [h01, h11]])
        # e_i = K (u'B0_i, u'B1_i)': the group mean part plus the members' centred scatter
        v0, v1 = u @ b0, u @ b1
        e0, e1 = k00 * v0 + k01 * v1, k10 * v0 + k11 * v1
        ee00 = float(
            n @ (e0 * e0) + np.sum(k00 * k00 * c00 + 2.0 * k00 * k01 * c01 + k01 * k01 * c11)
        )
        ee01 = float(
            n @ (e0 * e1)
            + np.sum(k00 * k10 * c00 + (k00 * k11 + k01 * k10) * c01 + k01 * k11 * c11)
        )
        ee11 = float(
            n @ (e1 * e1) + np.sum(k10 * k10 * c00 + 2.0 * k10 * k11 * c01 + k11 * k11 * c11)
        )
        Q = H - k * np.array([[ee00, ee01], [ee01, ee11]])
        if reml:
            a_inv = np.linalg.inv(A)
            F = np.vstack([k00 * b0[:p] + k01 * b1[:p], k10 * b0[:p] + k11 * b1[:p]])
            P = ((F * n) @ F.T).reshape(2, p, 2, p)
            Q = Q - np.einsum("lm,jlkm->jk", a_inv, P)
        QL = 2.0 * (Q @ _lambda(theta, 2))
        ev.grad = np.array([QL[0, 0], QL[1, 0], QL[1, 1]])
        ev.Q = 0.5 * (Q + Q.T)
    return ev


@dataclass
class _PooledStats(_Stats):
    """:class:`_Stats` plus second moments pooled over patients with the same ``Z_i'Z_i``.

    Patients with the same times (and, for a random intercept, the same number of rows) have
    the same weights ``W_i(theta)``, so every patient sum of :func:`_evaluate` is a sum over
    groups of the weights times the members' moments ``M_kl = sum_i B_ik B_il'``. An evaluation
    costs O(groups x (p + 1)^2) instead of O(patients x (p + 1)): a balanced design of a
    million patients is one group. Used without clusters when there are few groups.
    """

    group: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    n: np.ndarray = field(default_factory=lambda: np.empty(0))  # members per group
    g: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # (3 or 1, G) Z'Z entries
    M: np.ndarray = field(default_factory=lambda: np.empty(0))  # (q, q, G, a, a)


def _pool(st: _Stats) -> _PooledStats | None:
    """Pool ``st`` by identical ``Z_i'Z_i`` when that leaves few groups (else None)."""
    if st.cluster_starts is not None:
        return None
    q = st.q
    a = st.p + 1
    n_patients = st.B[0].shape[1]
    keys = st.B[0][:1] if q == 1 else np.vstack([st.B[0][:2], st.B[1][1:2]])
    _, first, group = np.unique(keys.T, axis=0, return_index=True, return_inverse=True)
    n_groups = len(first)
    if n_groups * a > n_patients // 2:
        return None
    group = group.reshape(-1).astype(np.int64)
    M = np.empty((q, q, n_groups, a, a))
    for k in range(q):
        for m in range(k, q):
            for r in range(a):
                for c in range(a):
                    if k == m and c < r:
                        M[k, m, :, r, c] = M[k, m, :, c, r]
                        continue
                    M[k, m, :, r, c] = np.bincount(
                        group, weights=st.B[k][r] * st.B[m][c], minlength=n_groups
                    )
            if m != k:
                M[m, k] = np.swapaxes(M[k, m], 1, 2)
    return _PooledStats(
        n_obs=st.n_obs,
        p=st.p,
        q=q,
        B=st.B,
        XyXy=st.XyXy,
        group=group,
        n=np.bincount(group, minlength=n_groups).astype(np.float64),
        g=keys[:, first],
        M=M,
    )


def _evaluate_pooled(
    theta: np.ndarray, st: _PooledStats, reml: bool, *, gradient: bool = False
) -> _Eval | None:
    """:func:`_evaluate` on pooled moments (``W`` is returned per group)."""
    q, p, n = st.q, st.p, st.n
    M = st.M
    if q == 1:
        g00 = st.g[0]
        l0 = float(theta[0])
        det = 1.0 + (l0 * l0) * g00
        w00 = (l0 * l0) / det
        W: tuple[np.ndarray, ...] = (w00,)
        T = np.einsum("g,gij->ij", w00, M[0, 0])
    else:
        g00, g01, g11 = st.g
        det, w00, w01, w11 = _slope_weights(theta, g00, g01, g11)
        W = (w00, w01, w11)
        T = (
            np.einsum("g,gij->ij", w00, M[0, 0])
            + np.einsum("g,gij->ij", w01, M[0, 1] + M[1, 0])
            + np.einsum("g,gij->ij", w11, M[1, 1])
        )
    logdet_v = float(n @ np.log(det))
    profiled = _profile(st.XyXy - T, logdet_v, st.n_obs, p, reml)
    if profiled is None:
        return None
    crit, r2, beta, A = profiled
    ev = _Eval(crit, r2, beta, A, W)
    if not gradient:
        return ev
    n_obs = st.n_obs
    u = np.append(-beta, 1.0)
    k = (n_obs - p if reml else n_obs) / r2
    if q == 1:
        K = np.array([[1.0 - g00 * w00]])  # (1, 1, G)
        H = np.array([[float(n @ (K[0, 0] * g00))]])
    else:
        k00 = 1.0 - (g00 * w00 + g01 * w01)
        k01 = -(g00 * w01 + g01 * w11)
        k10 = -(g01 * w00 + g11 * w01)
        k11 = 1.0 - (g01 * w01 + g11 * w11)
        K = np.array([[k00, k01], [k10, k11]])  # (q, q, G): K[j, r] per group
        H = np.array(
            [
                [float(n @ (k00 * g00 + k01 * g01)), float(n @ (k00 * g01 + k01 * g11))],
                [float(n @ (k00 * g01 + k01 * g11)), float(n @ (k10 * g01 + k11 * g11))],
            ]
        )
    Mu = np.einsum("i,rsgij,j->rsg", u, M, u)  # u' M_rs u per group
    # sum_i e_ji e_li = sum_g sum_rs K_jr K_ls u'M_rs u
    ee = np.einsum("jrg,lsg,rsg->jl", K, K, Mu)
    Q = H - k * ee
    if reml:
        a_inv = np.linalg.inv(A)
        P = np.einsum("jrg,ksg,rsglm->jlkm", K, K, M[:, :, :, :p, :p])
        Q = Q - np.einsum("lm,jlkm->jk", a_inv, P)
    QL = 2.0 * (Q @ _lambda(theta, q))
    ev.grad = np.array([QL[0, 0]]) if q == 1 else np.array([QL[0, 0], QL[1, 0], QL[1, 1]])
    ev.Q = 0.5 * (Q + Q.T)
    return ev


def _profile(
    G: np.ndarray, logdet_v: float, n: int, p: int, reml: bool
) -> tuple[float, float, np.ndarray, np.ndarray] | None:
    """Criterion, ``r^2``, ``beta`` and ``A`` from ``G = [X y]'V^-1[X y]`` (None if undefined)."""
    G = 0.5 * (G + G.T)
    A, c, d = G[:p, :p], G[:p, p], G[p, p]
    try:
        chol = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        return None
    beta = np.linalg.solve(chol.T, np.linalg.solve(chol, c))
    r2 = float(d - c @ beta)
    if not (r2 > 0 and np.isfinite(r2) and np.isfinite(logdet_v)):
        return None
    logdet_a = 2.0 * float(np.sum(np.log(np.diag(chol))))
    if reml:
        dof = n - p
        crit = logdet_v + logdet_a + dof * (1.0 + _LOG_2PI + math.log(r2 / dof))
    else:
        crit = logdet_v + n * (1.0 + _LOG_2PI + math.log(r2 / n))
    return crit, r2, beta, A


def _collinear_terms(XX: np.ndarray) -> list[int]:
    """Fixed-effect terms (positions) that are linear combinations of the terms before them."""
    d = np.sqrt(np.maximum(np.diag(XX), 0.0))
    bad: list[int] = []
    keep: list[int] = []
    for j in range(len(d)):
        if d[j] == 0.0:
            bad.append(j)
            continue
        terms = [*keep, j]
        scaled = XX[np.ix_(terms, terms)] / np.outer(d[terms], d[terms])
        residual = scaled[-1, -1]
        if keep:
            residual -= (
                scaled[-1, :-1] @ np.linalg.lstsq(scaled[:-1, :-1], scaled[:-1, -1], rcond=None)[0]
            )
        if residual <= 1e-10:
            bad.append(j)
        else:
            keep.append(j)
    return bad


def _residual_limits(st: _Stats | _GroupedStats) -> tuple[float, float]:
    """Residual sums of squares of the pooled least-squares fit (``theta = 0``) and of the fit
    with every patient's own intercept (and slope) free (``theta -> infinity``).

    When the second is 0 the scores lie exactly on each patient's own line: the residual
    variance goes to 0 and the likelihood has no maximum.
    """
    p = st.p
    XyXy = st.XyXy
    pooled = XyXy - _within_projection(st)
    rss = []
    for G in (XyXy, pooled):
        A, c = G[:p, :p], G[:p, p]
        coef = np.linalg.lstsq(A, c, rcond=None)[0]
        rss.append(max(0.0, float(G[p, p] - c @ coef)))
    return rss[0], rss[1]


def _within_projection(st: _Stats | _GroupedStats) -> np.ndarray:
    """``sum_i B_i' (Z_i'Z_i)^+ B_i`` (``B_i = Z_i'[X y]``): the part of ``[X y]'[X y]`` that
    the patients' own intercepts (and slopes) explain."""
    if isinstance(st, _GroupedStats):
        b0, b1, n = st.b0, st.b1, st.n
        p00, p01, p11, _ = _pinv2(b0[0], b0[1], b1[1])
        out = (n * p00 * b0) @ b0.T + (n * p01 * b0) @ b1.T + (n * p01 * b1) @ b0.T
        out += (n * p11 * b1) @ b1.T
        c00, c01, c11 = st.scatter
        out[2, 2] += float(np.sum(p00 * c00 + 2.0 * p01 * c01 + p11 * c11))
        return out
    B0 = st.B[0]
    if st.q == 1:
        return (B0 / B0[0]) @ B0.T
    B1 = st.B[1]
    p00, p01, p11, _ = _pinv2(B0[0], B1[0], B1[1])
    return (p00 * B0) @ B0.T + (p01 * B0) @ B1.T + (p01 * B1) @ B0.T + (p11 * B1) @ B1.T


def _n_units(st: _Stats | _GroupedStats) -> int:
    return round(float(np.sum(st.n))) if isinstance(st, _GroupedStats) else st.B[0].shape[1]


def _design_problem(st: _Stats | _GroupedStats) -> tuple[str, Any] | None:
    """Why the model cannot be estimated from these statistics, or None.

    ``("patients", N)``: fewer than two patients (lme4: a grouping factor needs more than one
    level). ``("collinear", positions)``: fixed-effect terms that are linear combinations of
    earlier ones. ``("constant", None)``: the fixed effects fit every score exactly (e.g. all
    scores equal). ``("exact", None)``: every patient's scores lie exactly on their own line
    (intercept with ``random="intercept"``), so the residual variance is 0.
    """
    n_patients = _n_units(st)
    if n_patients < 2:
        return ("patients", n_patients)
    bad = _collinear_terms(st.XyXy[: st.p, : st.p])
    if bad:
        return ("collinear", bad)
    pooled, within = _residual_limits(st)
    total = float(st.XyXy[st.p, st.p])
    if pooled <= 1e-13 * total:
        return ("constant", None)
    if within <= 1e-12 * pooled:
        return ("exact", None)
    return None


@dataclass
class _Fit:
    theta: np.ndarray
    ev: _Eval
    converged: bool
    n_iter: int
    n_eval: int
    message: str
    n_starts: int = 1


def _default_start(q: int, has_cluster: bool) -> np.ndarray:
    x0 = np.ones(_n_theta(q) + (1 if has_cluster else 0))
    if q == 2:
        x0[1] = 0.0
    return x0


def _diagonal_positions(q: int, has_cluster: bool) -> np.ndarray:
    """Positions in theta of the diagonal of Lambda (bounded below by 0)."""
    positions = [0] if q == 1 else [0, 2]
    if has_cluster:
        positions.append(_n_theta(q))
    return np.array(positions)


def _is_singular(theta: np.ndarray, q: int, has_cluster: bool, tol: float = 1e-4) -> bool:
    """lme4's ``isSingular(fit, tol = 1e-4)``: a bounded element of ``theta`` below ``tol``."""
    return bool(np.any(theta[_diagonal_positions(q, has_cluster)] < tol))


def _pinv2(g00: np.ndarray, g01: np.ndarray, g11: np.ndarray) -> tuple[np.ndarray, ...]:
    """Moore-Penrose inverse of symmetric PSD 2x2 matrices ``[[g00, g01], [g01, g11]]``.

    Rank-deficient ones (a patient seen once, or always at the same time) have ``G^+ = G /
    tr(G)^2``.
    """
    det = g00 * g11 - g01 * g01
    trace = g00 + g11
    full = det > 1e-10 * trace * trace
    safe_det = np.where(full, det, 1.0)
    rank1 = np.where(trace > 0, 1.0 / np.maximum(trace, 1e-300) ** 2, 0.0)
    p00 = np.where(full, g11 / safe_det, g00 * rank1)
    p01 = np.where(full, -g01 / safe_det, g01 * rank1)
    p11 = np.where(full, g00 / safe_det, g11 * rank1)
    return p00, p01, p11, full


@dataclass
class _Units:
    """Patients (or groups of patients with the same times) as the optimiser's start needs them.

    ``weight`` members share ``G = Z_i'Z_i``; ``s0, s1`` are the members' mean ``Z_i'r_i`` for
    the OLS residuals ``r``; ``c00, c01, c11`` the members' centred scatter of it.
    """

    weight: np.ndarray
    g00: np.ndarray
    g01: np.ndarray
    g11: np.ndarray
    s0: np.ndarray
    s1: np.ndarray
    c00: np.ndarray
    c01: np.ndarray
    c11: np.ndarray


def _units(st: _Stats | _GroupedStats, beta: np.ndarray) -> _Units:
    p = st.p
    if isinstance(st, _GroupedStats):
        b0, b1 = st.b0, st.b1
        c00, c01, c11 = st.scatter
        return _Units(
            st.n, b0[0], b0[1], b1[1], b0[2] - beta @ b0[:2], b1[2] - beta @ b1[:2], c00, c01, c11
        )
    B0 = st.B[0]
    zeros = np.zeros(B0.shape[1])
    s0 = B0[p] - beta @ B0[:p]
    if st.q == 1:
        return _Units(np.ones_like(zeros), B0[0], zeros, zeros, s0, zeros, zeros, zeros, zeros)
    B1 = st.B[1]
    return _Units(
        np.ones_like(zeros), B0[0], B1[0], B1[1], s0, B1[p] - beta @ B1[:p], zeros, zeros, zeros
    )


def _moment_start(st: _Stats | _GroupedStats, has_cluster: bool) -> np.ndarray | None:
    """An interior start from per-patient least squares (method of moments), or None.

    Each patient's own OLS intercept (and slope) on the residuals of the pooled OLS fit varies
    by ``Psi + sigma^2 (Z_i'Z_i)^-1``; the pooled within-patient residual variance estimates
    ``sigma^2``. Eigenvalues are floored so that the start is inside the parameter space.
    """
    p, q = st.p, st.q
    XX, Xy = st.XyXy[:p, :p], st.XyXy[:p, p]
    try:
        beta = np.linalg.solve(XX, Xy)
    except np.linalg.LinAlgError:
        return None
    rss = float(st.XyXy[p, p] - Xy @ beta)
    u = _units(st, beta)
    w = u.weight
    if q == 1:
        usable = u.g00 > 0
        inv = np.where(usable, 1.0 / np.where(usable, u.g00, 1.0), 0.0)
        projected = float(w @ (inv * u.s0 * u.s0) + np.sum(inv * u.c00))
        rank = float(np.sum(w * usable))
    else:
        p00, p01, p11, usable = _pinv2(u.g00, u.g01, u.g11)
        projected = float(
            w @ (p00 * u.s0 * u.s0 + 2 * p01 * u.s0 * u.s1 + p11 * u.s1 * u.s1)
            + np.sum(p00 * u.c00 + 2 * p01 * u.c01 + p11 * u.c11)
        )
        rank = float(w @ np.where(usable, 2.0, np.where(u.g00 + u.g11 > 0, 1.0, 0.0)))
    dof = st.n_obs - rank
    if dof <= 0:
        return None
    sigma2 = (rss - projected) / dof
    if not (sigma2 > 0 and np.isfinite(sigma2)):
        return None
    n_use = float(np.sum(w * usable))
    if n_use < 2:
        return None
    wu = w * usable
    if q == 1:
        b = inv * u.s0
        moment = float(wu @ (b * b) + np.sum(usable * inv * inv * u.c00)) / n_use
        centre = float(wu @ b) / n_use
        variance = moment - centre * centre - sigma2 * float(wu @ inv) / n_use
        theta = np.array([math.sqrt(max(variance, 0.01 * sigma2) / sigma2)])
    else:
        b0 = p00 * u.s0 + p01 * u.s1
        b1 = p01 * u.s0 + p11 * u.s1
        # members' scatter mapped through G^+: sum_m (G^+ d_m)(G^+ d_m)'
        m00 = p00 * p00 * u.c00 + 2 * p00 * p01 * u.c01 + p01 * p01 * u.c11
        m01 = p00 * p01 * u.c00 + (p00 * p11 + p01 * p01) * u.c01 + p01 * p11 * u.c11
        m11 = p01 * p01 * u.c00 + 2 * p01 * p11 * u.c01 + p11 * p11 * u.c11
        mean = np.array([wu @ b0, wu @ b1]) / n_use
        second = (
            np.array(
                [
                    [wu @ (b0 * b0) + usable @ m00, wu @ (b0 * b1) + usable @ m01],
                    [wu @ (b0 * b1) + usable @ m01, wu @ (b1 * b1) + usable @ m11],
                ]
            )
            / n_use
        )
        noise = sigma2 * np.array([[wu @ p00, wu @ p01], [wu @ p01, wu @ p11]]) / n_use
        psi = second - np.outer(mean, mean) - noise
        values, vectors = np.linalg.eigh(0.5 * (psi + psi.T))
        floor = max(0.05 * float(values[-1]), 0.01 * sigma2)
        psi = (vectors * np.maximum(values, floor)) @ vectors.T
        chol = np.linalg.cholesky(psi / sigma2)
        theta = np.array([chol[0, 0], chol[1, 0], chol[1, 1]])
    if not np.all(np.isfinite(theta)):
        return None
    return np.append(theta, 0.5) if has_cluster else theta


class _Criterion:
    """The profiled criterion of one fit as a function of ``theta``, with the steps that find
    and verify its minimum (see :func:`_optimise`)."""

    def __init__(self, st: _Stats | _GroupedStats, reml: bool, has_cluster: bool) -> None:
        self.st, self.reml, self.q = st, reml, st.q
        self.k = _n_theta(st.q) + (1 if has_cluster else 0)
        self.diagonal = _diagonal_positions(st.q, has_cluster)
        self.lower = np.full(self.k, -np.inf)
        self.lower[self.diagonal] = 0.0
        self.analytic = not has_cluster
        self.n_eval = 0
        self._recent: dict[bytes, tuple[_Eval | None, bool]] = {}  # the last evaluations
        # (point, free coordinates, Hessian) of the latest Newton step, for the check
        self.last_hessian: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None

    def evaluate(self, x: np.ndarray, gradient: bool = False) -> _Eval | None:
        gradient = gradient and self.analytic
        key = np.asarray(x, dtype=np.float64).tobytes()
        cached = self._recent.get(key)
        if cached is not None and (cached[1] or not gradient):
            return cached[0]
        self.n_eval += 1
        ev = _evaluate(x, self.st, self.reml, gradient=gradient)
        if len(self._recent) >= 8:
            self._recent.pop(next(iter(self._recent)))
        self._recent[key] = (ev, gradient)
        return ev

    def value(self, x: np.ndarray) -> float:
        ev = self.evaluate(x)
        return math.inf if ev is None else ev.crit

    def noise(self, crit: float) -> float:
        """Rounding noise of the criterion: differences below it mean nothing."""
        return 1e-11 * max(1.0, abs(crit))

    @staticmethod
    def _step(x: np.ndarray, relative: float) -> np.ndarray:
        return relative * np.maximum(np.abs(x), 0.1)

    def gradient(self, x: np.ndarray, ev: _Eval | None = None) -> np.ndarray | None:
        if self.analytic:
            if ev is None or ev.grad is None:
                ev = self.evaluate(x, gradient=True)
            return None if ev is None else ev.grad
        h = self._step(x, 1e-5)
        g = np.empty(self.k)
        for j in range(self.k):
            up, down = x.copy(), x.copy()
            up[j] += h[j]
            down[j] -= h[j]
            g[j] = (self.value(up) - self.value(down)) / (2.0 * h[j])
        return g if np.all(np.isfinite(g)) else None

    def hessian(self, x: np.ndarray, free: np.ndarray) -> np.ndarray | None:
        """Second derivatives over the ``free`` coordinates by central differences (of the
        analytic gradient where there is one)."""
        idx = np.flatnonzero(free)
        m = len(idx)
        H = np.empty((m, m))
        if self.analytic:
            h = self._step(x, 1e-5)
            for a, j in enumerate(idx):
                up, down = x.copy(), x.copy()
                up[j] += h[j]
                down[j] -= h[j]
                g_up, g_down = self.gradient(up), self.gradient(down)
                if g_up is None or g_down is None:
                    return None
                H[:, a] = (g_up[idx] - g_down[idx]) / (2.0 * h[j])
        else:
            h = self._step(x, 1e-4)
            f0 = self.value(x)
            for a, j in enumerate(idx):
                for b, m in enumerate(idx[: a + 1]):
                    if j == m:
                        up, down = x.copy(), x.copy()
                        up[j] += h[j]
                        down[j] -= h[j]
                        H[a, a] = (self.value(up) - 2.0 * f0 + self.value(down)) / h[j] ** 2
                        continue
                    corners = []
                    for sj, sm in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                        y = x.copy()
                        y[j] += sj * h[j]
                        y[m] += sm * h[m]
                        corners.append(self.value(y))
                    H[a, b] = H[b, a] = (corners[0] - corners[1] - corners[2] + corners[3]) / (
                        4.0 * h[j] * h[m]
                    )
        H = 0.5 * (H + H.T)
        return H if np.all(np.isfinite(H)) else None

    def canonical(self, x: np.ndarray) -> np.ndarray:
        """The same covariance with a canonical ``theta``: diagonal entries at rounding level
        are put on the boundary, and when the intercept's diagonal is 0, ``Psi`` depends on
        ``theta[1]^2 + theta[2]^2`` only, so all of it goes in ``theta[2]``."""
        x = x.copy()
        # a diagonal entry at rounding level is the boundary (its effect on Psi is its square)
        tiny = self.diagonal[x[self.diagonal] <= 1e-10 * (1.0 + float(np.max(np.abs(x))))]
        x[tiny] = 0.0
        if self.q == 2 and x[0] == 0.0 and x[1] != 0.0:
            x[2], x[1] = math.hypot(x[1], x[2]), 0.0
        return x

    def lbfgs(self, x0: np.ndarray, maxiter: int) -> tuple[np.ndarray, int, str]:
        """L-BFGS-B from ``x0``: the search. Its stopping flag is not trusted (see check)."""
        base = self.evaluate(x0)
        shift = 0.0 if base is None else base.crit
        scale = max(1.0, float(self.st.n_obs))
        k, analytic = self.k, self.analytic

        def objective(x: np.ndarray) -> Any:
            ev = self.evaluate(x, gradient=analytic)
            if ev is None:
                return (1e10, np.zeros(k)) if analytic else 1e10
            value = (ev.crit - shift) / scale
            if analytic and ev.grad is not None:
                return value, ev.grad / scale
            return value

        result = optimize.minimize(
            objective,
            x0,
            method="L-BFGS-B",
            jac=True if analytic else "3-point",
            bounds=optimize.Bounds(self.lower, np.full(k, np.inf)),
            options={"maxiter": maxiter, "ftol": 1e-12, "gtol": 1e-8, "maxls": 50},
        )
        x = np.maximum(np.asarray(result.x, dtype=np.float64), self.lower)
        return x, int(result.nit), str(result.message)

    def free(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Coordinates that may move: off the bound, or on it with a descent direction inward."""
        on_bound = x <= self.lower
        return ~on_bound | (g < 0)

    def newton(self, x: np.ndarray, steps: int) -> tuple[np.ndarray, int]:
        """Newton steps (Hessian by differences, negative curvature reflected) until the step
        is at rounding level: from the search's end this takes one to three steps and makes the
        result independent of the start to ~1e-10."""
        ev = self.evaluate(x, gradient=True)
        if ev is None:
            return x, 0
        f = ev.crit
        done = 0
        H: np.ndarray | None = None
        held: np.ndarray | None = None  # free set of H; H is kept while full steps succeed
        for _ in range(steps):
            g = self.gradient(x, ev)
            if g is None:
                break
            free = self.free(x, g)
            if not free.any():
                break
            if H is None or held is None or not np.array_equal(free, held):
                H, held = self.hessian(x, free), free
                self.last_hessian = (x.copy(), free, H)
            if H is None:
                break
            values, vectors = np.linalg.eigh(H)
            floor = 1e-10 * max(1.0, float(np.max(np.abs(values))))
            curvature = np.maximum(np.abs(values), floor)
            step_free = -vectors @ ((vectors.T @ g[free]) / curvature)
            if float(np.max(np.abs(step_free))) <= 1e-11 * (1.0 + float(np.max(np.abs(x)))):
                break  # the optimum to rounding: nothing left to move
            step = np.zeros(self.k)
            step[free] = step_free
            # stop at the bound rather than cross it
            crossing = x + step < self.lower
            t = 1.0
            if crossing.any():
                t = float(np.min((x[crossing] - self.lower[crossing]) / -step[crossing]))
            accepted = None
            for _ in range(40):
                trial = np.maximum(x + t * step, self.lower)
                if crossing.any() and t == 1.0:
                    trial[crossing] = self.lower[crossing]
                ev_new = self.evaluate(trial, gradient=True)
                if ev_new is not None and ev_new.crit <= f + self.noise(f):
                    accepted = (trial, ev_new)
                    break
                t *= 0.5
            if accepted is None:
                break
            if t < 1.0:
                H = None  # the quadratic model was poor: differentiate again at the new point
            moved = float(np.max(np.abs(accepted[0] - x)))
            gained = f - accepted[1].crit
            x, ev = accepted
            f = ev.crit
            done += 1
            if moved <= 1e-11 * (1.0 + float(np.max(np.abs(x)))):
                break
            if not self.analytic and gained <= self.noise(f):
                break  # differenced gradients: further steps would chase rounding noise
        return x, done

    def escape_points(self, x: np.ndarray) -> list[np.ndarray]:
        """Interior points next to a boundary solution, in every direction that leaves it."""
        points = []
        size = max(1.0, float(np.max(np.abs(x))))
        for j in self.diagonal:
            if x[j] > self.lower[j]:
                continue
            for delta in (1e-3, 1e-2, 1e-1, 1.0):
                y = x.copy()
                y[j] = delta * size
                points.append(y)
                if self.q == 2 and j == 0:
                    for sign in (1.0, -1.0):
                        z = y.copy()
                        z[1] = sign * delta * size
                        points.append(z)
        return points

    def check(self, x: np.ndarray) -> tuple[bool, str]:
        """First- and second-order optimality at ``x`` (Karush-Kuhn-Tucker on the bounds).

        Off the boundary: the Newton decrement ``g' H^-1 g`` (twice the criterion still to be
        gained) is at rounding level and the Hessian has no negative curvature. On the boundary
        (a variance at 0) the gradient of ``theta`` says nothing (it is 0 there by symmetry), so
        the test is on the covariance itself: the gradient ``Q`` of the criterion with respect
        to ``Psi`` must be positive semi-definite on the null space of ``Psi`` (no direction of
        extra variance lowers the criterion), and no interior point next to ``x`` is lower.
        """
        ev = self.evaluate(x, gradient=True)
        if ev is None:
            return False, "the criterion is undefined at the end point"
        f = ev.crit
        g = self.gradient(x, ev)
        if g is None:
            return False, "the gradient is undefined at the end point"
        tol = 1e-9 * max(1.0, abs(f))
        free = self.free(x, g)
        if free.any():
            H = None
            if self.last_hessian is not None:
                at, held, kept = self.last_hessian
                near = float(np.max(np.abs(at - x))) <= 1e-4 * (1.0 + float(np.max(np.abs(x))))
                if near and np.array_equal(held, free):
                    H = kept  # the Hessian changes negligibly over the last Newton steps
            if H is None:
                H = self.hessian(x, free)
            if H is None:
                return False, "the Hessian is undefined at the end point"
            values, vectors = np.linalg.eigh(H)
            scale = max(1.0, float(np.max(np.abs(values))))
            projected = vectors.T @ g[free]
            curved = values > 1e-10 * scale
            decrement = float(np.sum(projected[curved] ** 2 / values[curved]))
            if decrement > 2.0 * tol:
                return False, f"Newton decrement {decrement:.3g} above {2 * tol:.3g}"
            if np.any(values < -1e-6 * scale):
                return False, "negative curvature at the end point (a saddle point)"
            flat = np.abs(projected[~curved])
            if flat.size and float(np.max(flat)) > 1e-6 * max(1.0, float(np.max(np.abs(g)))):
                return False, "non-zero gradient along a flat direction"
        on_bound = x <= self.lower
        if on_bound.any():
            if ev.Q is not None:
                lam = _lambda(x[: _n_theta(self.q)], self.q)
                psi = lam @ lam.T
                w, v = np.linalg.eigh(psi)
                null = v[:, w <= 1e-12 * max(1.0, float(np.max(np.abs(w))))]
                if null.shape[1]:
                    curvature = float(np.min(np.linalg.eigvalsh(null.T @ ev.Q @ null)))
                    if curvature < -1e-7 * max(1.0, float(self.st.n_obs)):
                        return False, (
                            f"a variance is on the boundary but extra variance lowers the "
                            f"criterion (curvature {curvature:.3g})"
                        )
            lowest = min((self.value(y) for y in self.escape_points(x)), default=math.inf)
            if lowest < f - self.noise(f):
                return False, "an interior point next to the boundary solution is lower"
        return True, "optimality verified (projected gradient and boundary checks)"


def _optimise(
    st: _Stats | _GroupedStats,
    reml: bool,
    *,
    start: np.ndarray | None,
    maxiter: int,
    has_cluster: bool,
) -> _Fit:
    """Minimise the profiled criterion over ``theta`` and verify the minimum.

    The search is L-BFGS-B on lme4's ``theta`` (diagonal of ``Lambda`` >= 0) with the exact
    gradient (by differences with clusters), finished by Newton steps. Its flag is not
    trusted: :meth:`_Criterion.check` decides convergence. A solution on the boundary, or one
    that fails the check, is accepted only after searches from lme4's start, from a
    method-of-moments start and from interior points next to it fail to beat it; the best
    verified point wins. A warm ``start`` may save iterations but cannot change the result
    beyond the Newton steps' precision.
    """
    with one_blas_thread():
        return _optimise_on(st, reml, start=start, maxiter=maxiter, has_cluster=has_cluster)


def _optimise_on(
    st: _Stats | _GroupedStats,
    reml: bool,
    *,
    start: np.ndarray | None,
    maxiter: int,
    has_cluster: bool,
) -> _Fit:
    problem = _Criterion(st, reml, has_cluster)
    k = problem.k
    default = _default_start(st.q, has_cluster)
    if start is not None and len(start) != k:
        raise ParameterError(
            f"The 'start' parameter of {_CALLER}() must have {k} values (lme4's theta for this "
            f"model). Got {len(start)}."
        )
    x0 = default if start is None else np.array(start, dtype=np.float64)
    # The Cholesky parametrisation has a zero gradient in a diagonal entry that is exactly 0
    # (a stationary point on the boundary), so never start on the boundary.
    x0 = np.maximum(x0, problem.lower)
    x0[problem.diagonal] = np.maximum(x0[problem.diagonal], 0.1)
    if problem.evaluate(x0) is None:
        x0 = default
    if problem.evaluate(x0) is None:
        raise InvalidValueError(
            f"{_CALLER}() cannot evaluate the model at its start (theta={x0.tolist()})."
        )
    n_iter = 0
    n_starts = 0

    def run(x: np.ndarray) -> tuple[np.ndarray, float, bool, str]:
        nonlocal n_iter, n_starts
        n_starts += 1
        x, nit, message = problem.lbfgs(x, maxiter)
        x, steps = problem.newton(x, max(0, min(20, maxiter - nit)))
        n_iter += nit + steps
        x = problem.canonical(x)
        ok, detail = problem.check(x)
        return x, problem.value(x), ok, f"{message}; {detail}"

    best = run(x0)
    rounds = 0
    while rounds < 3 and (not best[2] or np.any(best[0] <= problem.lower)):
        rounds += 1
        # interior points next to the solution, nearest in criterion first
        escapes = sorted(problem.escape_points(best[0]), key=problem.value)
        starts = escapes[: 1 if best[2] else 2]
        if rounds == 1:
            for other in (_moment_start(st, has_cluster), default):
                if other is not None and not np.allclose(other, x0):
                    starts.insert(0, other)
                    break
        improved = False
        for x in starts:
            candidate = run(x)
            noise = problem.noise(best[1])
            better = candidate[1] < best[1] - noise
            verified = candidate[2] and not best[2] and candidate[1] <= best[1] + noise
            if better or verified:
                best, improved = candidate, True
        if not improved:
            break
    x, _, converged, message = best
    ev = problem.evaluate(x)
    if ev is None:  # pragma: no cover - check() refuses undefined points
        raise InvalidValueError(f"{_CALLER}() ended at an undefined point theta={x.tolist()}.")
    if n_starts > 1:
        message = f"{message} (best of {n_starts} starts)"
    return _Fit(x, ev, converged, n_iter, problem.n_eval, message, n_starts)


# ------------------------------------------------------------------------------------------------
# Fitted model
# ------------------------------------------------------------------------------------------------


@dataclass
class _State:
    """Everything a fitted model is: plain arrays and values (easy to serialise)."""

    method: str
    time_transform: str
    random: str
    knot: float | None
    covariates: list[str]
    covariate_spec: list[tuple[str, str, Any]]
    time_interactions: bool
    terms: list[str]
    beta: np.ndarray
    beta_cov: np.ndarray
    theta: np.ndarray
    sigma2: float
    criterion: float
    n_obs: int
    converged: bool
    n_iter: int
    n_eval: int
    message: str
    patients: np.ndarray
    effects: np.ndarray  # (N, q) EB effects (NaN for patients without rows)
    effects_cov: np.ndarray  # (N, q, q) conditional covariances
    n_patient_obs: np.ndarray
    reasons: np.ndarray  # object: reason or None
    cluster: str | None = None
    clusters: np.ndarray | None = None
    cluster_effects: np.ndarray | None = None
    cluster_effects_var: np.ndarray | None = None
    patient_cluster: np.ndarray | None = None  # cluster position of each patient (-1 unknown)
    columns: dict[str, str] = field(default_factory=dict)


class GrowthModel:
    """A fitted linear mixed-effects growth model (returned by :func:`fit_growth`).

    Attributes
    ----------
    fixed_effects_ : Series
        Estimates indexed ``intercept``, ``time`` (``time2`` for the quadratic term,
        ``time_after_knot`` for the piecewise one), then ``<cov>`` and ``<cov>:time``.
    fixed_effects_se_ : Series
        Standard errors, ``sqrt(diag(sigma^2 (sum X_i' V_i^-1 X_i)^-1))`` (as lme4's ``vcov``).
    fixed_effects_cov_ : DataFrame
        Covariance matrix of the fixed effects.
    fixed_effects_table_ : DataFrame
        Tidy table: ``estimate``, ``se``, ``z``, ``p_value``, ``ci_lower``, ``ci_upper`` (95%
        Wald); :meth:`summary` gives other levels.
    random_effects_cov_ : DataFrame
        Covariance of the patient random effects over ``intercept`` (and ``time``).
    residual_variance_ : float
    cluster_variance_ : float or None
        Variance of the cluster (e.g. therapist) intercept; None without ``cluster``.
    reml_criterion_ : float or None
        -2 REML log-likelihood at the optimum (lme4's ``REMLcrit``); None for ML fits.
    deviance_ : float or None
        -2 log-likelihood (lme4's ``deviance``) of an ML fit; None for REML fits.
    loglik_, aic_, bic_ : float
        Log-likelihood (REML or ML, as fitted) and the information criteria lme4 reports.
    random_effects_ : DataFrame
        One row per patient of the input: ``patient``, the empirical-Bayes effects
        ``intercept`` (and ``time``), their conditional SDs ``intercept_sd`` (``time_sd``),
        ``n_obs`` (observations used), ``cluster`` (with a cluster) and ``reason`` (why a patient
        has no effects, else missing).
    cluster_effects_ : DataFrame or None
        One row per cluster: ``cluster``, ``intercept``, ``intercept_sd``.
    theta_ : ndarray
        lme4's relative Cholesky factor (patients; then the cluster SD ratio).
    converged_ : bool
        Whether the optimum was verified: the Newton decrement is at rounding level, the
        Hessian has no negative curvature, and on the boundary no direction of extra variance
        lowers the criterion (checked on the covariance, and from interior points). Never the
        optimiser's own flag. ``optimizer_message_`` (the last search's message, the check's
        verdict and the number of starts), ``n_iter_``, ``n_evaluations_`` give the details.
    singular_ : bool
        lme4's ``isSingular(fit, tol = 1e-4)``: a diagonal element of ``theta`` (a variance,
        or the part of the slope not explained by the intercept) below 1e-4. A singular fit
        emits :class:`~iatrogenic.exceptions.SingularFitWarning`; it is accepted only after
        searches from lme4's start, a method-of-moments start and interior points next to it
        fail to beat it.
    n_obs_, n_patients_ : int
    """

    def __init__(self, state: _State) -> None:
        self._state = state
        s = state
        terms = pd.Index(s.terms)
        self.method_ = s.method
        self.time_transform_ = s.time_transform
        self.random_ = s.random
        self.knot_ = s.knot
        self.fixed_effects_ = pd.Series(s.beta, index=terms, name="estimate")
        self.fixed_effects_cov_ = pd.DataFrame(s.beta_cov, index=terms, columns=terms)
        self.fixed_effects_se_ = pd.Series(np.sqrt(np.diag(s.beta_cov)), index=terms, name="se")
        self.fixed_effects_table_ = self.summary()
        q = 1 if s.random == "intercept" else 2
        re_names = ["intercept", "time"][:q]
        lam = _lambda(s.theta, q)
        self.random_effects_cov_ = pd.DataFrame(
            s.sigma2 * lam @ lam.T, index=re_names, columns=re_names
        )
        self.residual_variance_ = float(s.sigma2)
        self.cluster_variance_ = (
            float(s.sigma2 * s.theta[-1] ** 2) if s.cluster is not None else None
        )
        self.theta_ = s.theta.copy()
        self.converged_ = s.converged
        self.optimizer_message_ = s.message
        self.n_iter_ = s.n_iter
        self.n_evaluations_ = s.n_eval
        self.n_obs_ = s.n_obs
        self.n_patients_ = int(np.sum(s.n_patient_obs > 0))
        reml = s.method == "REML"
        self.reml_criterion_ = float(s.criterion) if reml else None
        self.deviance_ = None if reml else float(s.criterion)
        self.loglik_ = -0.5 * float(s.criterion)
        n_par = len(s.beta) + len(s.theta) + 1
        self.aic_ = float(s.criterion + 2 * n_par)
        self.bic_ = float(s.criterion + n_par * math.log(s.n_obs))
        self.singular_ = _is_singular(s.theta, q, s.cluster is not None)
        columns: dict[str, Any] = {"patient": s.patients}
        for j, name in enumerate(re_names):
            columns[name] = s.effects[:, j]
        for j, name in enumerate(re_names):
            columns[f"{name}_sd"] = np.sqrt(s.effects_cov[:, j, j])
        columns["n_obs"] = s.n_patient_obs
        if s.cluster is not None and s.clusters is not None and s.patient_cluster is not None:
            pc = s.patient_cluster
            columns["cluster"] = np.where(pc >= 0, s.clusters[np.maximum(pc, 0)], None)
        columns["reason"] = s.reasons
        self.random_effects_ = pd.DataFrame(columns)
        if s.cluster is not None and s.clusters is not None:
            ce = s.cluster_effects if s.cluster_effects is not None else np.empty(0)
            cv = s.cluster_effects_var if s.cluster_effects_var is not None else np.empty(0)
            self.cluster_effects_: pd.DataFrame | None = pd.DataFrame(
                {"cluster": s.clusters, "intercept": ce, "intercept_sd": np.sqrt(cv)}
            )
        else:
            self.cluster_effects_ = None

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Fixed effects as a tidy table with Wald z tests and confidence intervals.

        Parameters
        ----------
        level : float, default 0.95
            Confidence level of ``ci_lower`` / ``ci_upper``.

        Returns
        -------
        DataFrame
            Indexed by term: ``estimate``, ``se``, ``z`` (estimate / se), ``p_value`` (two-sided,
            normal), ``ci_lower``, ``ci_upper``.
        """
        level = check_fraction(level, name="level", caller="GrowthModel.summary")
        est = self.fixed_effects_.to_numpy()
        se = self.fixed_effects_se_.to_numpy()
        z = est / se
        crit = stats.norm.ppf(0.5 + level / 2)
        return pd.DataFrame(
            {
                "estimate": est,
                "se": se,
                "z": z,
                "p_value": 2 * stats.norm.sf(np.abs(z)),
                "ci_lower": est - crit * se,
                "ci_upper": est + crit * se,
            },
            index=self.fixed_effects_.index,
        )

    def __repr__(self) -> str:
        crit = (
            f"REML criterion {self.reml_criterion_:.6g}"
            if self.reml_criterion_ is not None
            else f"deviance {self.deviance_:.6g}"
        )
        return (
            f"GrowthModel(time_transform={self.time_transform_!r}, random={self.random_!r}, "
            f"method={self.method_!r}, n_obs={self.n_obs_}, n_patients={self.n_patients_}, "
            f"{crit}, converged={self.converged_})"
        )

    # -- prediction ----------------------------------------------------------------------------

    def _design(self, frame: pd.DataFrame, t: np.ndarray) -> np.ndarray:
        s = self._state
        time_cols = _time_columns(t, s.time_transform, s.knot)
        cols = [np.ones_like(t)] + [c for _, c in time_cols]
        covs = _Covariates(names=[], spec=s.covariate_spec).columns(frame)
        cols += covs
        if s.time_interactions:
            for cov in covs:
                cols += [cov * c for _, c in time_cols]
        return np.column_stack(cols)

    def to_json(self) -> str:
        """The fitted model as JSON text (plain ``json``, exact floats, no pickle)."""
        from .._serialize import growth_to_json

        return growth_to_json(self)

    @classmethod
    def from_json(cls, text: str) -> GrowthModel:
        """Read a model written by :meth:`to_json` (validated; clear errors on bad input)."""
        from .._serialize import growth_from_json

        return growth_from_json(text)

    def predict(
        self,
        data: pd.DataFrame,
        *,
        patient: str | None = None,
        time: str | None = None,
        level: str = "patient",
        interval: float | None = 0.95,
    ) -> pd.DataFrame:
        """Predicted scores with prediction intervals.

        Parameters
        ----------
        data : DataFrame
            Long format with the patient and time columns (names as in the fit unless given)
            and the covariate columns of the fit; a score column is not needed.
        patient, time : str, optional
            Column names; default those used in the fit.
        level : {"patient", "population"}, default "patient"
            ``"population"``: ``X beta`` for a new patient. ``"patient"``: adds the patient's
            empirical-Bayes effects (and its cluster's); patients not in the fit get the
            population prediction.
        interval : float or None, default 0.95
            Level of the prediction interval for a new observation. The variance adds the
            residual variance, ``x' Var(beta) x`` and either the random-effect covariance
            (population) or the effects' conditional covariance (patient); the covariance of
            ``beta`` and the effects is ignored, as in lme4's ``condVar``.

        Returns
        -------
        DataFrame
            One row per row of ``data`` (sorted by patient and time): ``patient``, ``session``
            (the time value), ``predicted``, ``lower``, ``upper`` (missing when
            ``interval=None``).
        """
        s = self._state
        caller = "GrowthModel.predict"
        level = check_choice(level, ("patient", "population"), name="level", caller=caller)
        if interval is not None:
            interval = check_fraction(interval, name="interval", caller=caller)
        extra: dict[str, str | None] = {c: c for c in s.covariates}
        long = prepare_long(
            data,
            patient=patient or s.columns.get("patient", "patient"),
            time=time or s.columns.get("time", "session"),
            score=None,
            caller=caller,
            extra=extra,
        )
        frame = long.frame
        t = numeric_time(long, caller=caller)
        _check_times(t, s.time_transform, frame, long.columns["time"])
        X = self._design(frame, t)
        mean = X @ s.beta
        var = np.einsum("ij,jk,ik->i", X, s.beta_cov, X) + s.sigma2
        q = 1 if s.random == "intercept" else 2
        Z = X[:, :q]
        lam = _lambda(s.theta, q)
        psi = s.sigma2 * lam @ lam.T
        tau2 = s.sigma2 * s.theta[-1] ** 2 if s.cluster is not None else 0.0
        index = pd.Index(s.patients).get_indexer(frame["patient"].to_numpy())
        known = index >= 0
        if level == "patient":
            known &= s.n_patient_obs[np.maximum(index, 0)] > 0
        pop_re = np.einsum("ij,jk,ik->i", Z, psi, Z) + tau2
        if level == "population":
            var = var + pop_re
        else:
            pos = np.maximum(index, 0)
            eff = np.where(known[:, None], s.effects[pos], 0.0)
            cov = np.where(known[:, None, None], s.effects_cov[pos], 0.0)
            mean = mean + np.einsum("ij,ij->i", Z, eff)
            re_var = np.einsum("ij,ijk,ik->i", Z, cov, Z)
            if s.cluster is not None and s.patient_cluster is not None:
                pc = s.patient_cluster[pos]
                has_c = known & (pc >= 0)
                ce = s.cluster_effects if s.cluster_effects is not None else np.zeros(1)
                cv = s.cluster_effects_var if s.cluster_effects_var is not None else np.zeros(1)
                mean = mean + np.where(has_c, ce[np.maximum(pc, 0)], 0.0)
                re_var = re_var + np.where(has_c, cv[np.maximum(pc, 0)], 0.0)
            var = var + np.where(known, re_var, pop_re)
        if interval is None:
            lower = upper = np.full(len(mean), np.nan)
        else:
            half = stats.norm.ppf(0.5 + interval / 2) * np.sqrt(var)
            lower, upper = mean - half, mean + half
        return pd.DataFrame(
            {
                "patient": frame["patient"].to_numpy(),
                "session": frame["time"].to_numpy(),
                "predicted": mean,
                "lower": lower,
                "upper": upper,
            }
        )


# ------------------------------------------------------------------------------------------------
# Public entry point
# ------------------------------------------------------------------------------------------------


def fit_growth(
    data: pd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    time_transform: str = "linear",
    random: str = "slope",
    covariates: str | Sequence[str] | None = None,
    cluster: str | None = None,
    method: str = "REML",
    knot: float | None = None,
    time_interactions: bool = True,
    maxiter: int = 1000,
    start: Sequence[float] | None = None,
) -> GrowthModel:
    """Fit a linear mixed-effects growth model (patients' trajectories over time).

    The model is lme4's ``score ~ f(time) * covariates + (1 + f(time) | patient)`` (plus
    ``(1 | cluster)`` with ``cluster``), fitted by REML or ML with lme4's profiled criterion and
    parametrisation, on per-patient sufficient statistics: the estimates are lme4's (to the
    optimiser's tolerance) and a fit of a million patients takes seconds.

    Parameters
    ----------
    data : DataFrame
        Long format: one row per patient and occasion. Rows with a missing score (or missing
        covariate) are not used. A ``dask.dataframe.DataFrame`` is fitted from per-patient
        sums gathered over its partitions, to the same estimates (see ``docs/dask.md``).
    patient, time, score : str
        Column names. ``time`` must be numeric (session number, weeks, days).
    time_transform : {"linear", "log", "log1p", "quadratic", "piecewise"}, default "linear"
        Fixed time terms: ``time`` = t, log(t) (t > 0), log1p(t) (t > -1); quadratic adds
        ``time2`` = t²; piecewise adds ``time_after_knot`` = max(t - knot, 0).
    random : {"intercept", "slope"}, default "slope"
        Random intercept, or intercept and slope on ``time`` (the transformed first time term)
        with an unstructured 2x2 covariance.
    covariates : str or list of str, optional
        Patient-level columns (constant within patient). Numeric columns enter as ``<cov>``;
        others are dummy coded against their first level (sorted, or the categorical order) as
        ``<cov>[T.<level>]``. Each enters as a main effect and (``time_interactions=True``) in an
        interaction with every time term, ``<cov>:time`` (``<cov>:time2``...).
    cluster : str, optional
        Patient-level column (e.g. therapist) given a random intercept: sessions in patients in
        clusters. Fitted exactly on the same fast path.
    method : {"REML", "ML"}, default "REML"
    knot : float, optional
        Knot of ``time_transform="piecewise"`` (required there), in raw time units.
    time_interactions : bool, default True
        Whether covariates also interact with the time terms.
    maxiter : int, default 1000
        Iteration limit of each search (L-BFGS-B iterations plus Newton steps). When the
        optimum cannot be verified a :class:`~iatrogenic.exceptions.ConvergenceWarning` is
        emitted and ``converged_`` is False.
    start : sequence of float, optional
        Starting ``theta`` (lme4's parametrisation; default lme4's, 1 on the diagonal). A warm
        start saves iterations; it does not change the result beyond rounding (~1e-10).

    Returns
    -------
    GrowthModel
        See its attributes (``fixed_effects_``, ``random_effects_cov_``, ``residual_variance_``,
        ``reml_criterion_``/``deviance_``, ``random_effects_``...) and :meth:`GrowthModel.predict`.

    Raises
    ------
    ParameterError, ParameterTypeError
        A bad keyword value.
    ColumnNotFoundError, ColumnTypeError, InvalidValueError, DuplicateRowsError, EmptyDataError
        Bad data (non-numeric time, non-positive times for ``log``, covariates varying within a
        patient, no usable rows) and designs that cannot be estimated, each named with its
        cause and column: fewer than 2 patients; no more observations than random effects
        (lme4's ``check.nobs.vs.nRE``: e.g. two scores per patient with ``random="slope"``); a
        constant covariate or time term; scores that every patient's own line (or constant)
        fits exactly, so that the residual variance is 0.

    Warns
    -----
    ConvergenceWarning
        The optimum could not be verified (``converged_`` is False).
    SingularFitWarning
        A verified boundary optimum (``singular_`` is True).

    See Also
    --------
    iatrogenic.reliable_change : ``method="HLM"`` uses this engine.

    Notes
    -----
    With ``V_i = I + Z_i Lambda Lambda' Z_i'`` (``sigma^2`` factored out) and ``r^2(theta) =
    min_beta sum_i (y_i - X_i beta)' V_i^-1 (y_i - X_i beta)``, the criteria are lme4's::

        REML: log|V| + log|X'V^-1 X| + (n - p) (1 + log(2 pi r^2 / (n - p)))
        ML:   log|V| + n (1 + log(2 pi r^2 / n))

    with ``log|V| = sum_i log|I + Lambda' Z_i' Z_i Lambda|`` (+ ``sum_k log(1 + theta_c^2
    1' V_k^-1 1)`` for clusters). Empirical-Bayes effects are the conditional modes
    ``Lambda M_i^-1 Lambda' Z_i' (y_i - X_i beta)`` and their conditional covariance
    ``sigma^2 Lambda M_i^-1 Lambda'`` (lme4's ``ranef(condVar = TRUE)``, given ``beta``).

    References
    ----------
    Bates, Mächler, Bolker & Walker (2015). Fitting linear mixed-effects models using lme4.
    Journal of Statistical Software 67(1).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from iatrogenic.core.growth import fit_growth
    >>> rng = np.random.default_rng(1)
    >>> n, s = 200, 6
    >>> b0, b1 = rng.normal(0, 3, n), rng.normal(0, 1, n)
    >>> t = np.tile(np.arange(s), n)
    >>> y = 20 + np.repeat(b0, s) + (-1.5 + np.repeat(b1, s)) * t + rng.normal(0, 2, n * s)
    >>> data = pd.DataFrame({"patient": np.repeat(np.arange(n), s), "session": t, "score": y})
    >>> model = fit_growth(data)
    >>> model.fixed_effects_.round(1)
    intercept    19.8
    time         -1.6
    Name: estimate, dtype: float64
    >>> round(model.residual_variance_, 1), model.converged_
    (4.3, True)
    >>> model.random_effects_.columns.tolist()
    ['patient', 'intercept', 'time', 'intercept_sd', 'time_sd', 'n_obs', 'reason']
    """
    if is_dask_frame(data):
        return dispatch("fit_growth", locals())
    inputs = _growth_inputs(
        data,
        patient=patient,
        time=time,
        score=score,
        time_transform=time_transform,
        random=random,
        covariates=covariates,
        cluster=cluster,
        method=method,
        knot=knot,
        time_interactions=time_interactions,
        maxiter=maxiter,
    )
    start_theta = None if start is None else np.asarray(start, dtype=np.float64)
    model = _fit_long(
        inputs.long,
        t=inputs.t,
        valid=inputs.valid,
        cov_names=inputs.plan.names,
        cov_cols=inputs.cov_cols,
        time_transform=inputs.time_transform,
        random=inputs.random,
        knot=inputs.knot,
        reml=inputs.method == "REML",
        time_interactions=inputs.time_interactions,
        maxiter=inputs.maxiter,
        start=start_theta,
        cluster=cluster,
        missing_reason="covariate missing" if inputs.covariates else None,
    )
    model._state.covariates = inputs.covariates
    model._state.covariate_spec = inputs.plan.spec
    return model


@dataclass
class _GrowthInputs:
    """Validated options and data of a growth fit (what :func:`_growth_inputs` returns)."""

    long: LongData
    t: np.ndarray
    valid: np.ndarray
    plan: _Covariates
    cov_cols: list[np.ndarray]
    covariates: list[str]
    time_transform: str
    random: str
    method: str
    knot: float | None
    time_interactions: bool
    maxiter: int


def _growth_inputs(
    data: Any,
    *,
    patient: str,
    time: str,
    score: str,
    time_transform: str,
    random: str,
    covariates: str | Sequence[str] | None,
    cluster: str | None,
    method: str,
    knot: float | None,
    time_interactions: bool,
    maxiter: int,
    plan: _Covariates | None = None,
) -> _GrowthInputs:
    """Check :func:`fit_growth`'s options and data; the rows a fit can use.

    ``plan`` fixes the covariates' dummy coding (the Dask path takes the levels from the whole
    data, not from one partition).
    """
    time_transform = check_choice(
        time_transform, TIME_TRANSFORMS, name="time_transform", caller=_CALLER
    )
    random = check_choice(random, RANDOM, name="random", caller=_CALLER)
    method = check_choice(method, METHODS, name="method", caller=_CALLER)
    maxiter = check_number(maxiter, name="maxiter", caller=_CALLER, low=1, integer=True)
    if not isinstance(time_interactions, (bool, np.bool_)):
        raise ParameterTypeError(
            f"The 'time_interactions' parameter of {_CALLER}() must be True or False. Got "
            f"{time_interactions!r} instead."
        )
    if time_transform == "piecewise":
        if knot is None:
            raise ParameterError(
                f"time_transform='piecewise' in {_CALLER}() needs the 'knot' parameter (the time "
                "where the slope may change), e.g. knot=4."
            )
        knot = check_number(knot, name="knot", caller=_CALLER)
    elif knot is not None:
        raise ParameterError(
            f"The 'knot' parameter of {_CALLER}() only applies to time_transform='piecewise'. "
            f"Got knot={knot!r} with time_transform={time_transform!r}."
        )
    cov_list = check_column_list(covariates, name="covariates", caller=_CALLER)
    if cluster is not None and not isinstance(cluster, str):
        raise ParameterTypeError(
            f"The 'cluster' parameter of {_CALLER}() must be a column name. Got {cluster!r}."
        )
    for name in cov_list + ([cluster] if cluster else []):
        if name in (patient, time, score):
            raise ParameterError(
                f"Column {name!r} passed to {_CALLER}() as a covariate or cluster is also the "
                "patient, time or score column. Suggestion: pass a different column."
            )
    # covariates are named by their keyword in errors, not by their column
    for name in cov_list:
        check_columns(check_dataframe(data, caller=_CALLER), {"covariates": name},
                      caller=_CALLER)
    extra: dict[str, str | None] = {c: c for c in cov_list}
    if cluster is not None:
        extra["cluster"] = cluster
    long = prepare_long(data, patient=patient, time=time, score=score, caller=_CALLER, extra=extra)
    frame = long.frame
    t = numeric_time(long, caller=_CALLER)
    for keyword, column in [*(("covariates", c) for c in cov_list), ("cluster", cluster)]:
        if column is not None:
            check_patient_level(
                frame[column],
                long.codes,
                long.patients,
                column=column,
                keyword=keyword,
                caller=_CALLER,
            )
    if plan is None:
        plan = _plan_covariates(frame, cov_list)
    cov_cols = plan.columns(frame)
    valid = ~np.isnan(frame["score"].to_numpy())
    for col in cov_cols:
        valid &= ~np.isnan(col)
    if cluster is not None:
        valid &= frame[cluster].notna().to_numpy()
    return _GrowthInputs(
        long=long,
        t=t,
        valid=valid,
        plan=plan,
        cov_cols=cov_cols,
        covariates=cov_list,
        time_transform=time_transform,
        random=random,
        method=method,
        knot=knot,
        time_interactions=bool(time_interactions),
        maxiter=int(maxiter),
    )


def _fit_long(
    long: LongData,
    *,
    t: np.ndarray,
    valid: np.ndarray,
    cov_names: list[str],
    cov_cols: list[np.ndarray],
    time_transform: str,
    random: str,
    knot: float | None,
    reml: bool,
    time_interactions: bool,
    maxiter: int,
    start: np.ndarray | None,
    cluster: str | None,
    missing_reason: str | None = None,
    quiet: bool = False,
) -> GrowthModel:
    """Fit on validated long data; ``valid`` marks the rows used.

    The fit is :func:`_patient_sums` (per-patient sufficient statistics) followed by
    :func:`_fit_sums` (the optimiser and the per-patient effects); the Dask path computes the
    same sums per partition and calls :func:`_fit_sums` on them.
    """
    frame = long.frame
    rows, Xy, names = _design_rows(
        frame, t, valid, cov_cols, cov_names, time_transform, knot, time_interactions
    )
    if len(rows) == 0:
        _raise_no_rows()
    q = 1 if random == "intercept" else 2
    codes = long.codes[rows]
    sums = _patient_sums(Xy, q, codes, long.n_patients)
    cluster_codes = None
    clusters = None
    patient_cluster = None
    if cluster is not None:
        first_rows = long.starts[:-1]
        cvals = frame[cluster].to_numpy()[first_rows]
        ckey, clusters_idx = pd.factorize(pd.Series(cvals), sort=True)
        patient_cluster = ckey.astype(np.int64)
        clusters = np.asarray(clusters_idx, dtype=object)
        cluster_codes = patient_cluster[sums.counts > 0]
    scored = ~np.isnan(frame["score"].to_numpy())
    n_scored = np.add.reduceat(scored.astype(np.int64), long.starts[:-1])
    return _fit_sums(
        sums,
        patients=long.patients.to_numpy(),
        n_scored=n_scored,
        names=names,
        cov_names=cov_names,
        columns=dict(long.columns),
        time_transform=time_transform,
        random=random,
        knot=knot,
        reml=reml,
        time_interactions=time_interactions,
        maxiter=maxiter,
        start=start,
        missing_reason=missing_reason,
        quiet=quiet,
        cluster=cluster,
        clusters=clusters,
        patient_cluster=patient_cluster,
        cluster_codes=cluster_codes,
    )


def _raise_no_rows() -> None:
    raise EmptyDataError(
        f"No row of the data passed to {_CALLER}() has a score (and covariates) to fit. "
        "Suggestion: check the score column."
    )


def _design_rows(
    frame: pd.DataFrame,
    t: np.ndarray,
    valid: np.ndarray,
    cov_cols: list[np.ndarray],
    cov_names: list[str],
    time_transform: str,
    knot: float | None,
    time_interactions: bool,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The rows used, their design ``[X y]`` and the names of the fixed-effect terms."""
    rows = np.flatnonzero(valid)
    if len(rows):
        _check_times(t[rows], time_transform, frame.iloc[rows].reset_index(drop=True), "time")
    tr = t[rows]
    time_cols = _time_columns(tr, time_transform, knot)
    cols = [np.ones(len(rows))] + [c for _, c in time_cols]
    names = ["intercept"] + [n for n, _ in time_cols]
    covs = [c[rows] for c in cov_cols]
    cols += covs
    names += cov_names
    if time_interactions:
        for cname, cov in zip(cov_names, covs, strict=True):
            for tname, tcol in time_cols:
                cols.append(cov * tcol)
                names.append(f"{cname}:{tname}")
    cols.append(frame["score"].to_numpy()[rows])
    return rows, np.column_stack(cols), names


@dataclass
class _PatientSums:
    """Per-patient sufficient statistics of ``[X y]``: what a fit needs from the rows.

    ``counts`` covers every patient of the input (rows used per patient); ``B`` (as
    :attr:`_Stats.B`) and ``cross`` (``(a, a, N)``: each patient's ``[X y]'[X y]``) cover the
    patients with rows (``counts > 0``), in patient order. Each patient's sums depend on that
    patient's rows only, so partitions holding whole patients give the same numbers.
    """

    q: int
    counts: np.ndarray
    B: list[np.ndarray]
    cross: np.ndarray

    @property
    def n_obs(self) -> int:
        return int(self.counts.sum())


def _patient_sums(Xy: np.ndarray, q: int, codes: np.ndarray, n_patients: int) -> _PatientSums:
    """:class:`_PatientSums` of rows sorted by patient (``codes``: patient of each row)."""
    counts = np.bincount(codes, minlength=n_patients)
    a = Xy.shape[1]
    present = np.flatnonzero(counts > 0)
    if not len(present):
        return _PatientSums(q, counts, [np.empty((a, 0)) for _ in range(q)], np.empty((a, a, 0)))
    starts = np.searchsorted(codes, present)
    B = _moments_by_patient(Xy, starts, q)
    cross = np.empty((a, a, len(starts)))
    for j in range(a):
        for k in range(j, a):
            if j < q:
                cross[j, k] = B[j][k]
            else:
                cross[j, k] = np.add.reduceat(Xy[:, j] * Xy[:, k], starts)
            cross[k, j] = cross[j, k]
    return _PatientSums(q, counts, B, cross)


def _fit_sums(
    sums: _PatientSums,
    *,
    patients: np.ndarray,
    n_scored: np.ndarray,
    names: list[str],
    cov_names: list[str],
    columns: dict[str, str],
    time_transform: str,
    random: str,
    knot: float | None,
    reml: bool,
    time_interactions: bool,
    maxiter: int,
    start: np.ndarray | None,
    missing_reason: str | None = None,
    quiet: bool = False,
    cluster: str | None = None,
    clusters: np.ndarray | None = None,
    patient_cluster: np.ndarray | None = None,
    cluster_codes: np.ndarray | None = None,
) -> GrowthModel:
    """Optimise on per-patient sums and compute every patient's effects.

    ``patients`` and ``n_scored`` (rows with a score) cover every patient of the input, in the
    order of ``sums.counts``.
    """
    q = sums.q
    p = sums.cross.shape[0] - 1
    n_rows = sums.n_obs
    if n_rows == 0:
        _raise_no_rows()
    if n_rows <= p:
        raise InvalidValueError(
            f"{_CALLER}() has {n_rows} usable rows for {p} fixed effects. Suggestion: use "
            "more data or fewer covariates."
        )
    counts = sums.counts
    n_pat_all = len(counts)
    present = np.flatnonzero(counts > 0)
    st = _Stats(n_obs=n_rows, p=p, q=q, B=sums.B, XyXy=sums.cross.sum(axis=-1))
    if cluster_codes is not None:
        order = np.argsort(cluster_codes, kind="stable")
        in_order = cluster_codes[order]
        st.cluster_order = order
        st.cluster_starts = np.flatnonzero(np.r_[True, in_order[1:] != in_order[:-1]])
    _raise_design_problem(st, columns, names, cov_names, random)
    pooled = _pool(st)
    fit = _optimise(
        pooled if pooled is not None else st,
        reml,
        start=start,
        maxiter=maxiter,
        has_cluster=cluster is not None,
    )
    if not fit.converged and not quiet:
        warnings.warn(
            f"{_CALLER}() did not converge ({fit.message}) after {fit.n_iter} iterations; the "
            "estimates are those at the best point found and model.converged_ is False. "
            "Suggestion: raise maxiter=, rescale time, or simplify the random effects.",
            ConvergenceWarning,
            stacklevel=4,
        )
    elif _is_singular(fit.theta, q, cluster is not None) and not quiet:
        warnings.warn(
            f"{_CALLER}(): boundary (singular) fit: a random-effect variance is 0 or the "
            "intercept-slope correlation is +-1 (model.singular_ is True; the optimum was "
            "verified" + (f" from {fit.n_starts} starts" if fit.n_starts > 1 else "") + "). The "
            "data do not support this random-effects structure. Suggestion: random='intercept', "
            "or drop cluster= if its variance is 0.",
            SingularFitWarning,
            stacklevel=4,
        )
    ev = fit.ev
    n = st.n_obs
    sigma2 = ev.r2 / (n - p if reml else n)
    a_inv = np.linalg.inv(ev.A)
    beta_cov = sigma2 * 0.5 * (a_inv + a_inv.T)
    beta = ev.beta
    # residual projections s_i = Z_i'(y_i - X_i beta), (N, q)
    s = np.column_stack([Bk[p] - beta @ Bk[:p] for Bk in st.B])
    weights = ev.W if pooled is None else tuple(w[pooled.group] for w in ev.W)
    if q == 1:
        (w00,) = weights
        Wm = w00[:, None, None] * np.ones((1, 1, 1))
    else:
        w00, w01, w11 = weights
        Wm = np.empty((len(w00), 2, 2))
        Wm[:, 0, 0], Wm[:, 0, 1], Wm[:, 1, 0], Wm[:, 1, 1] = w00, w01, w01, w11
    eff = np.einsum("nij,nj->ni", Wm, s)
    cond = sigma2 * Wm
    cl_eff = cl_var = None
    if cluster is not None and ev.vc is not None and st.cluster_order is not None:
        tau2 = fit.theta[-1] ** 2
        vc = ev.vc
        s_c = vc[:, p] - vc[:, :p] @ beta
        S_c = vc[:, 0]
        k_c = tau2 * s_c / (1.0 + tau2 * S_c)
        n_cl = len(clusters) if clusters is not None else 0
        # positions of the clusters that have data
        sorted_codes = cluster_codes[st.cluster_order] if cluster_codes is not None else None
        cl_with_data = sorted_codes[st.cluster_starts] if sorted_codes is not None else None
        cl_eff = np.full(n_cl, np.nan)
        cl_var = np.full(n_cl, np.nan)
        cl_eff[cl_with_data] = k_c
        cl_var[cl_with_data] = sigma2 * tau2 / (1.0 + tau2 * S_c)
        # patient effects given the cluster: b_i = W s_i - W g0 k_c
        g0 = np.column_stack([Bk[0] for Bk in st.B])
        wg0 = np.einsum("nij,nj->ni", Wm, g0)
        kc_pat = cl_eff[cluster_codes] if cluster_codes is not None else 0.0
        eff = eff - wg0 * np.asarray(kc_pat)[:, None]
        fac = tau2 / (1.0 + tau2 * S_c)
        fac_pat = np.full(n_cl, 0.0)
        fac_pat[cl_with_data] = fac
        fp = fac_pat[cluster_codes] if cluster_codes is not None else 0.0
        cond = cond + sigma2 * np.asarray(fp)[:, None, None] * np.einsum("ni,nj->nij", wg0, wg0)
    effects = np.full((n_pat_all, q), np.nan)
    effects_cov = np.full((n_pat_all, q, q), np.nan)
    effects[present] = eff
    effects_cov[present] = cond
    reasons = np.full(n_pat_all, None, dtype=object)
    no_rows = counts == 0
    if no_rows.any():
        reasons[no_rows] = missing_reason or "no observed score"
        reasons[no_rows & (n_scored == 0)] = "no observed score"
    state = _State(
        method="REML" if reml else "ML",
        time_transform=time_transform,
        random=random,
        knot=knot,
        covariates=[],
        covariate_spec=[],
        time_interactions=time_interactions,
        terms=names,
        beta=beta,
        beta_cov=beta_cov,
        theta=fit.theta,
        sigma2=float(sigma2),
        criterion=float(ev.crit),
        n_obs=n,
        converged=fit.converged,
        n_iter=fit.n_iter,
        n_eval=fit.n_eval,
        message=fit.message,
        patients=patients,
        effects=effects,
        effects_cov=effects_cov,
        n_patient_obs=counts.astype(np.int64),
        reasons=reasons,
        cluster=cluster,
        clusters=clusters,
        cluster_effects=cl_eff,
        cluster_effects_var=cl_var,
        patient_cluster=patient_cluster,
        columns=dict(columns),
    )
    return GrowthModel(state)


def _raise_too_few_observations(n_obs: int, n_patients: int, q: int, where: str) -> None:
    """lme4's ``check.nobs.vs.nRE``: the random effects would absorb every observation."""
    effects = "intercept and slope" if q == 2 else "intercept"
    raise InvalidValueError(
        f"{_CALLER}() cannot estimate a random {effects} per patient from {where}: {n_obs} "
        f"observations for {q * n_patients} random effects leave nothing to estimate the "
        "residual variance (lme4 refuses the same model). Suggestion: "
        + ("use random='intercept', or " if q == 2 else "")
        + "keep patients with more scores."
    )


def _raise_design_problem(
    st: _Stats, columns: dict[str, str], names: list[str], cov_names: list[str], random: str
) -> None:
    """Refuse a model that cannot be estimated, naming the cause and the column."""
    problem = _design_problem(st)
    n_patients = st.B[0].shape[1]
    q = st.q
    where = f"the {st.n_obs} usable rows of {n_patients} patient{'s' if n_patients != 1 else ''}"
    if problem is None:
        if st.n_obs <= q * n_patients:
            _raise_too_few_observations(st.n_obs, n_patients, q, where)
        return
    kind, detail = problem
    if kind != "patients" and st.n_obs <= q * n_patients:
        _raise_too_few_observations(st.n_obs, n_patients, q, where)
    if kind == "patients":
        raise InvalidValueError(
            f"{_CALLER}() needs scores from at least 2 patients (column {columns['patient']!r}, "
            f"given as patient=) to estimate how patients vary; {where}. Suggestion: fit "
            "several patients together, or use ordinary regression for one patient."
        )
    if kind == "collinear":
        terms = [names[j] for j in detail]
        described = []
        for term in terms:
            base = term.split(":")[0].split("[T.")[0]
            if term in ("intercept",) or term.startswith("time"):
                described.append(
                    f"the time term {term!r} (column {columns['time']!r}, given as time=) does "
                    "not vary or repeats another time term"
                )
            elif any(name.split("[T.")[0] == base for name in cov_names):
                which = "" if term == base else f"the term {term!r} of "
                described.append(
                    f"{which}covariate {base!r} (given as covariates=) is constant or a "
                    "combination of other terms"
                )
            else:  # pragma: no cover - every term is the intercept, a time term or a covariate
                described.append(f"the term {term!r} is a combination of other terms")
        raise InvalidValueError(
            f"{_CALLER}() cannot separate the fixed effects on {where}: "
            + "; ".join(described)
            + ". Suggestion: drop that covariate, or use data with more than one time."
        )
    own = "own line (intercept and slope)" if random == "slope" else "own constant"
    if kind == "constant":
        cause = "the fixed effects reproduce every score exactly (for example all scores equal)"
    else:
        cause = f"every patient's scores lie exactly on the patient's {own}"
    raise InvalidValueError(
        f"{_CALLER}() cannot fit score column {columns['score']!r} (given as score=): {cause}, "
        f"so the residual variance is 0 and the likelihood has no maximum ({where}). "
        "Suggestion: check for copied or imputed scores"
        + (", or use random='intercept'." if random == "slope" else ".")
    )


def _fit_slopes(
    codes: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    *,
    start: np.ndarray | None = None,
    maxiter: int = 1000,
) -> dict[str, Any] | None:
    """Linear random-slope REML fit on raw arrays (rows sorted by patient code, no NaN).

    For internal use by detectors: no validation, no pandas. Returns per present patient the
    total slope ``beta_time + b_i`` and its variance ``Var(beta_time) + condVar(b_i)``, or None
    when the model cannot be fitted (too few rows, a constant time).
    """
    if len(y) < 4:
        return None
    present_mask = np.r_[True, codes[1:] != codes[:-1]]
    starts = np.flatnonzero(present_mask)
    Xy = np.column_stack([np.ones_like(t), t, y])
    st = _sufficient_stats(Xy, 2, starts)
    (g00, g01, y0), (_, g11, y1) = st.B[0], st.B[1]
    # patients with the same (n_i, sum t, sum t^2) share their weights: pool them
    _, group = np.unique(np.column_stack([g00, g01, g11]), axis=0, return_inverse=True)
    group = group.reshape(-1)
    per_patient = (g00, g01, g11, y0, y1)
    grouped = _grouped_stats(group, int(group.max()) + 1, per_patient, float(st.XyXy[2, 2]))
    fit = _fit_slopes_grouped(grouped, start=start, maxiter=maxiter)
    if fit is None:
        return None
    slope, variance = _patient_slopes(fit, per_patient)
    return {
        "patients": codes[starts],
        "n": np.diff(np.r_[starts, len(codes)]),
        "slope": slope,
        "variance": variance,
        "fixed": fit["fixed"],
        "theta": fit["theta"],
        "converged": fit["converged"],
    }


def _fit_slopes_grouped(
    st: _GroupedStats, *, start: np.ndarray | None = None, maxiter: int = 1000
) -> dict[str, Any] | None:
    """REML fit of the linear random-slope model on grouped statistics (None if impossible).

    Returns what :func:`_patient_slopes` needs: ``theta``, ``beta``, ``sigma2`` and
    ``var_fixed`` (``[X'V^-1X]^-1`` of the slope, in units of ``sigma^2``), plus ``fixed`` (the
    slope's fixed effect) and ``converged``.
    """
    if st.n_obs < 4 or _design_problem(st) is not None:
        return None
    try:
        fit = _optimise(st, True, start=start, maxiter=maxiter, has_cluster=False)
    except InvalidValueError:
        return None
    ev = fit.ev
    return {
        "beta": ev.beta,
        "sigma2": ev.r2 / (st.n_obs - st.p),
        "var_fixed": float(np.linalg.inv(ev.A)[1, 1]),
        "fixed": float(ev.beta[1]),
        "theta": fit.theta,
        "converged": fit.converged,
    }


def _patient_slopes(
    fit: dict[str, Any],
    per_patient: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Total slope ``beta_time + b_i`` and its variance for the patients given.

    ``per_patient`` (``n_i, sum t, sum t^2, sum y, sum t y``) as for :func:`_grouped_stats`,
    restricted to the patients wanted; they need not be the rows ``fit`` was fitted to. The
    empirical-Bayes slope ``b_i`` is the closed form given the fit's ``theta``, ``beta`` and
    ``sigma2`` (held fixed); its conditional variance is ``sigma2 * W_i[1, 1]``, and
    ``Var(beta_time)`` is the fit's. On the fitted rows this is lme4's ``ranef`` + ``fixef``.
    """
    g00, g01, g11, y0, y1 = per_patient
    beta = fit["beta"]
    _, _, w01, w11 = _slope_weights(fit["theta"], g00, g01, g11)
    # residual projections Z_i'(y_i - X_i beta)
    s0 = y0 - (beta[0] * g00 + beta[1] * g01)
    s1 = y1 - (beta[0] * g01 + beta[1] * g11)
    slope = beta[1] + (w01 * s0 + w11 * s1)
    variance = fit["sigma2"] * (fit["var_fixed"] + w11)
    return slope, variance
