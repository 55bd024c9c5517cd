"""Latent-class growth analysis (LCGA): a few classes of courses, each with its own curve.

Each patient belongs to one of ``K`` latent classes; within class ``k`` the scores follow a
fixed-effect curve on the time terms of :func:`~iatrogenic.fit_growth` with independent normal
residuals::

    y_it = x_it' b_k + e_it,   e_it ~ N(0, s2_k)   (s2_k = s2 with variance="equal")

and the class is drawn with probabilities ``pi_k`` (Nagin's group-based trajectory model;
flexmix's ``FLXMRglm`` with a patient grouping). With ``random="intercept"`` a patient-level
random intercept ``u_i ~ N(0, t2)`` is added within the classes (a growth mixture model, lcmm's
``hlme(..., mixture=, random=~1)``). The model is fitted by EM from many random starts on
per-patient sufficient statistics. See ``docs/trajectory-classes.md``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .. import instruments as _instruments
from .._validation import (
    LongData,
    check_choice,
    check_column_list,
    check_number,
    check_patient_level,
    describe_rows,
    numeric_time,
    prepare_long,
    resolve_better,
)
from ..core.growth import TIME_TRANSFORMS, _Covariates, _plan_covariates, _time_columns
from ..exceptions import (
    ConvergenceWarning,
    EmptyDataError,
    InvalidValueError,
    ParameterError,
    ParameterTypeError,
)
from . import _engine as eng

__all__ = ["RANDOM", "VARIANCES", "TrajectoryClassModel", "fit_trajectory_classes"]

#: Accepted ``variance`` values.
VARIANCES = ("equal", "class")
#: Accepted ``random`` values (None: no random effect within classes).
RANDOM = (None, "intercept")
#: A growth mixture fit counts as converged only when a Newton step from it would gain less
#: log-likelihood than this (half the Newton decrement ``g' I^-1 g``, from the analytic score
#: and the observed information).
GRADIENT_TOL = 1e-4

_CALLER = "fit_trajectory_classes"
#: z of the reliable-change criterion used for the default deterioration threshold.
_Z_RC = 1.96
#: Default deterioration threshold without an instrument, in SDs of the first scores.
_HALF_SD = 0.5


# ------------------------------------------------------------------------------------------------
# Design
# ------------------------------------------------------------------------------------------------


def _check_times(
    t: np.ndarray, transform: str, frame: pd.DataFrame, column: str, caller: str
) -> None:
    if transform == "log":
        bad, need = np.flatnonzero(~(t > 0)), "> 0"
    elif transform == "log1p":
        bad, need = np.flatnonzero(~(t > -1)), "> -1"
    else:
        return
    if len(bad):
        raise InvalidValueError(
            f"time_transform={transform!r} in {caller}() needs times {need} in column "
            f"{column!r} (given as time=); {describe_rows(frame, bad, ['patient', 'time'])}. "
            "Suggestion: use time_transform='log1p' for sessions counted from 0, or shift the "
            "times."
        )


@dataclass
class _Spec:
    """How rows become design columns (kept with the model for prediction)."""

    time_transform: str
    knot: float | None
    covariates: list[str]
    covariate_spec: list[tuple[str, str, Any]]
    terms: list[str] = field(default_factory=list)

    def design(self, frame: pd.DataFrame, t: np.ndarray) -> tuple[np.ndarray, list[str]]:
        time_cols = _time_columns(t, self.time_transform, self.knot)
        cols = [np.ones_like(t)] + [c for _, c in time_cols]
        names = ["intercept"] + [n for n, _ in time_cols]
        cov_names = [
            str(c) if kind == "numeric" else f"{c}[T.{level}]"
            for c, kind, level in self.covariate_spec
        ]
        covs = _Covariates(names=cov_names, spec=self.covariate_spec).columns(frame)
        cols += covs
        names += cov_names
        for cname, cov in zip(cov_names, covs, strict=True):
            for tname, tcol in time_cols:
                cols.append(cov * tcol)
                names.append(f"{cname}:{tname}")
        return np.column_stack(cols), names

    def point(self, t: float, cov_means: np.ndarray) -> np.ndarray:
        """Design row at raw time ``t`` with covariates at ``cov_means``."""
        terms = _time_columns(np.array([t]), self.time_transform, self.knot)
        time_cols = [float(c[0]) for _, c in terms]
        row = [1.0, *time_cols, *cov_means.tolist()]
        for cm in cov_means:
            row += [cm * c for c in time_cols]
        return np.array(row)


def _validated(
    data: Any,
    *,
    patient: str,
    time: str,
    score: str,
    spec: _Spec,
    caller: str,
    instrument: _instruments.Instrument | None,
) -> tuple[LongData, np.ndarray, np.ndarray, np.ndarray, eng.Stats]:
    """Validated data, rows used, design, per-patient statistics of the patients with rows."""
    extra: dict[str, str | None] = {c: c for c in spec.covariates}
    long = prepare_long(
        data,
        patient=patient,
        time=time,
        score=score,
        caller=caller,
        extra=extra,
        instrument=instrument,
    )
    frame = long.frame
    t = numeric_time(long, caller=caller)
    for column in spec.covariates:
        check_patient_level(
            frame[column], long.codes, long.patients, column=column, keyword="covariates",
            caller=caller,
        )
    if not spec.covariate_spec and spec.covariates:
        spec.covariate_spec = _plan_covariates(frame, spec.covariates).spec
    y = frame["score"].to_numpy(dtype=np.float64)
    scored = np.flatnonzero(~np.isnan(y))
    _check_times(
        t[scored], spec.time_transform, frame.iloc[scored].reset_index(drop=True),
        long.columns["time"], caller,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        X, names = spec.design(frame, t)
    valid = ~np.isnan(y) & np.isfinite(X).all(axis=1)
    spec.terms = names
    rows = np.flatnonzero(valid)
    codes = long.codes[rows]
    counts = np.bincount(codes, minlength=long.n_patients)
    present = np.flatnonzero(counts > 0)
    if len(rows):
        st = eng.stats_from_rows(X[rows], y[rows], np.searchsorted(codes, present))
    else:
        p = X.shape[1]
        st = eng.Stats(np.zeros((0, p * p)), np.zeros((0, p)), np.zeros(0), np.zeros(0), p)
    return long, counts, present, t, st


def _reasons(long: LongData, counts: np.ndarray, has_cov: bool) -> np.ndarray:
    reasons = np.full(long.n_patients, None, dtype=object)
    none = counts == 0
    if none.any():
        scored = ~np.isnan(long.frame["score"].to_numpy(dtype=np.float64))
        n_scored = np.bincount(long.codes[scored], minlength=long.n_patients)
        reasons[none] = "covariate missing" if has_cov else "no observed score"
        reasons[none & (n_scored == 0)] = "no observed score"
    return reasons


# ------------------------------------------------------------------------------------------------
# Fitted model
# ------------------------------------------------------------------------------------------------


@dataclass
class _ClassState:
    """Everything a fitted model is: plain arrays and values (easy to serialise)."""

    columns: dict[str, str]
    time_transform: str
    knot: float | None
    covariates: list[str]
    covariate_spec: list[tuple[str, str, Any]]
    terms: list[str]
    variance: str
    better: str
    instrument: str | None
    threshold: float | None  # the user's deterioration threshold (None: default rule)
    rc_threshold: float | None  # the instrument's reliable change, when known
    baseline_sd: float  # SD of the patients' first scores
    B: np.ndarray  # (K, p)
    s2: np.ndarray  # (K,)
    logpi: np.ndarray  # (K,)
    cov: np.ndarray  # (d, d) covariance of all parameters (NaN when not invertible)
    loglik: float
    converged: bool
    n_iter: int
    message: str
    selection: dict[str, np.ndarray]
    patients: np.ndarray
    tau: np.ndarray  # (N_all, K), NaN rows for patients without rows
    n_patient_obs: np.ndarray
    reasons: np.ndarray
    t_first: float
    t_last: float
    cov_means: np.ndarray
    n_obs: int
    seed: int | None = None
    random: str | None = None
    t2: float | None = None  # random-intercept variance (random="intercept")


class TrajectoryClassModel:
    """A fitted latent-class growth or growth mixture model (from :func:`fit_trajectory_classes`).

    Attributes
    ----------
    selection_ : DataFrame
        One row per number of classes tried: ``n_classes``, ``loglik`` (maximised
        log-likelihood), ``n_parameters``, ``bic``, ``icl``, ``entropy`` (relative entropy in
        [0, 1]; missing for one class), ``smallest_class_share`` (smallest estimated class
        probability), ``converged``, ``n_iter`` (SQUAREM steps of the best start), ``n_starts``
        (starts that ran), ``n_degenerate`` (starts abandoned: an empty class or a zero
        variance), ``message`` (with ``random``: the Newton decrement of the convergence
        check). Missing statistics for a number of classes that no start could fit.
    n_classes_ : int
        The chosen number of classes (smallest ``bic``).
    loglik_ : float
        Maximised log-likelihood of the chosen model.
    class_curves_ : DataFrame
        One row per class and term: ``class`` (1..K), ``term`` (``intercept``, ``time``,
        ``time2``...), ``estimate``, ``se`` (from the observed information: Louis' formula; with
        ``random``, central differences of the analytic score), ``ci_lower``, ``ci_upper`` (95%
        Wald).
    residual_variance_ : Series
        Residual variance per class (all equal with ``variance="equal"``).
    random_ : str or None
        ``"intercept"`` for a growth mixture model, else None.
    random_intercept_variance_ : float or None
        Variance of the random intercept within classes (shared by the classes); None without
        ``random``.
    class_sizes_ : DataFrame
        One row per class: ``class``, ``prior`` (estimated class probability ``pi_k``),
        ``n_patients`` (patients whose modal class it is), ``share`` (their fraction).
    class_changes_ : DataFrame
        One row per class: ``class``, ``start`` and ``end`` (class mean at the typical first and
        last observed time), ``change`` (``end - start``), ``harmful_change`` (the change in the
        harmful direction: positive means worse), ``threshold``, ``worsening``
        (``harmful_change > threshold``).
    deteriorating_class_ : int or None
        The worsening class with the largest harmful change; None when no class worsens.
    posterior_ : DataFrame
        One row per patient of the input: ``patient``, ``p_class_1`` ... ``p_class_K``,
        ``modal_class`` (nullable integer), ``n_obs`` (rows used), ``reason`` (why a patient has
        no probabilities, else missing).
    converged_ : bool
    n_obs_, n_patients_ : int
    """

    def __init__(self, state: _ClassState) -> None:
        self._state = s = state
        K, p = s.B.shape
        self.n_classes_ = int(K)
        self.variance_ = s.variance
        self.time_transform_ = s.time_transform
        self.better_ = s.better
        self.instrument_ = s.instrument
        self.loglik_ = float(s.loglik)
        self.converged_ = bool(s.converged)
        self.n_iter_ = int(s.n_iter)
        self.optimizer_message_ = s.message
        self.n_obs_ = int(s.n_obs)
        self.n_patients_ = int(np.sum(s.n_patient_obs > 0))
        self.selection_ = pd.DataFrame(s.selection)
        for col in ("n_classes", "n_parameters", "n_iter", "n_starts", "n_degenerate"):
            self.selection_[col] = self.selection_[col].astype(np.int64)
        self.selection_["converged"] = self.selection_["converged"].astype(bool)
        classes = np.arange(1, K + 1)
        se = np.sqrt(np.clip(np.diag(s.cov)[: K * p], 0, None)).reshape(K, p)
        est = s.B
        z = stats.norm.ppf(0.975)
        self.class_curves_ = pd.DataFrame(
            {
                "class": np.repeat(classes, p),
                "term": np.tile(np.array(s.terms, dtype=object), K),
                "estimate": est.ravel(),
                "se": se.ravel(),
                "ci_lower": (est - z * se).ravel(),
                "ci_upper": (est + z * se).ravel(),
            }
        )
        self.residual_variance_ = pd.Series(
            s.s2, index=pd.Index(classes, name="class"), name="residual_variance"
        )
        self.random_ = s.random
        self.random_intercept_variance_ = None if s.t2 is None else float(s.t2)
        prior = np.exp(s.logpi)
        has = s.n_patient_obs > 0
        modal = np.full(len(s.patients), -1, dtype=np.int64)
        if has.any():
            modal[has] = np.argmax(s.tau[has], axis=1) + 1
        n_modal = np.bincount(modal[has], minlength=K + 1)[1:]
        self.class_sizes_ = pd.DataFrame(
            {
                "class": classes,
                "prior": prior,
                "n_patients": n_modal.astype(np.int64),
                "share": n_modal / max(int(has.sum()), 1),
            }
        )
        spec = self._spec()
        x0 = spec.point(s.t_first, s.cov_means)
        x1 = spec.point(s.t_last, s.cov_means)
        m0, m1 = s.B @ x0, s.B @ x1
        change = m1 - m0
        harmful = change if s.better == "lower" else -change
        if s.threshold is not None:
            thr = np.full(K, float(s.threshold))
        elif s.rc_threshold is not None:
            thr = np.full(K, float(s.rc_threshold))
        else:
            thr = np.full(K, _HALF_SD * s.baseline_sd)
        worse = harmful > thr
        self.class_changes_ = pd.DataFrame(
            {
                "class": classes,
                "start": m0,
                "end": m1,
                "change": change,
                "harmful_change": harmful,
                "threshold": thr,
                "worsening": worse,
            }
        )
        self.deteriorating_class_: int | None = (
            int(np.argmax(np.where(worse, harmful, -np.inf))) + 1 if worse.any() else None
        )
        columns: dict[str, Any] = {"patient": s.patients}
        for k in range(K):
            columns[f"p_class_{k + 1}"] = s.tau[:, k]
        columns["modal_class"] = pd.array(np.where(modal > 0, modal, 0), dtype="Int64")
        columns["modal_class"][modal <= 0] = pd.NA
        columns["n_obs"] = s.n_patient_obs.astype(np.int64)
        columns["reason"] = pd.Series(s.reasons, dtype=object)
        self.posterior_ = pd.DataFrame(columns)

    def _spec(self) -> _Spec:
        s = self._state
        return _Spec(
            time_transform=s.time_transform,
            knot=s.knot,
            covariates=list(s.covariates),
            covariate_spec=list(s.covariate_spec),
            terms=list(s.terms),
        )

    def __repr__(self) -> str:
        return (
            f"TrajectoryClassModel(n_classes={self.n_classes_}, time_transform="
            f"{self.time_transform_!r}, variance={self.variance_!r}, random={self.random_!r}, "
            f"n_patients={self.n_patients_}, loglik={self.loglik_:.6g}, deteriorating_class="
            f"{self.deteriorating_class_}, converged={self.converged_})"
        )

    def class_means(self, times: Sequence[float] | np.ndarray) -> pd.DataFrame:
        """Mean curve of each class at raw ``times`` (covariates at their sample means).

        Returns
        -------
        DataFrame
            One row per class and time: ``class``, ``session`` (the time), ``mean``.
        """
        s = self._state
        t = np.asarray(times, dtype=np.float64).ravel()
        spec = self._spec()
        X = np.array([spec.point(float(v), s.cov_means) for v in t]).reshape(len(t), -1)
        K = s.B.shape[0]
        return pd.DataFrame(
            {
                "class": np.repeat(np.arange(1, K + 1), len(t)),
                "session": np.tile(t, K),
                "mean": (s.B @ X.T).ravel(),
            }
        )

    def predict_proba(
        self,
        data: pd.DataFrame,
        *,
        patient: str | None = None,
        time: str | None = None,
        score: str | None = None,
    ) -> pd.DataFrame:
        """Posterior class probabilities of (new) patients from the rows given only.

        The fitted class curves, variances and class probabilities are fixed; each patient's
        probabilities use only its own rows in ``data``, so calling this on the first ``j``
        sessions gives what was knowable after session ``j`` (causal).

        Parameters
        ----------
        data : DataFrame
            Long format with the patient, time and score columns (names as in the fit unless
            given) and the covariate columns of the fit.
        patient, time, score : str, optional
            Column names; default those used in the fit.

        Returns
        -------
        DataFrame
            Same columns as ``posterior_``: ``patient``, ``p_class_1``..., ``modal_class``,
            ``n_obs``, ``reason``.
        """
        s = self._state
        caller = "TrajectoryClassModel.predict_proba"
        spec = self._spec()
        inst = _instruments.get(s.instrument) if s.instrument else None
        long, counts, present, _, st = _validated(
            data,
            patient=patient or s.columns.get("patient", "patient"),
            time=time or s.columns.get("time", "session"),
            score=score or s.columns.get("score", "score"),
            spec=spec,
            caller=caller,
            instrument=inst,
        )
        K = s.B.shape[0]
        tau = np.full((long.n_patients, K), np.nan)
        if len(present):
            L, _ = eng.loglik_matrix(st, eng.Params(s.B, s.s2, s.logpi, s.t2))
            tau[present] = eng.posterior(L)[0].T
        reasons = _reasons(long, counts, bool(s.covariates))
        columns: dict[str, Any] = {"patient": long.patients.to_numpy()}
        for k in range(K):
            columns[f"p_class_{k + 1}"] = tau[:, k]
        modal = pd.array(np.zeros(long.n_patients, dtype=np.int64), dtype="Int64")
        modal[:] = pd.NA
        if len(present):
            modal[present] = np.argmax(tau[present], axis=1) + 1
        columns["modal_class"] = modal
        columns["n_obs"] = counts.astype(np.int64)
        columns["reason"] = pd.Series(reasons, dtype=object)
        return pd.DataFrame(columns)

    def _running_posterior(
        self, long: LongData, caller: str, min_count: int = 1
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Class probabilities after every row, from the patient's rows up to it (causal).

        ``long`` is validated data (rows sorted by patient and time, with the model's covariate
        columns). Returns the probabilities, (rows, K), NaN except at usable rows with at least
        ``min_count`` usable rows so far; the number of usable rows up to each row; and which
        rows are usable (score and design finite: e.g. a time of 0 is not usable with
        ``time_transform="log"``).

        The per-patient statistics are running sums over each patient's rows, formed one row
        position at a time for all patients at once: every row's sums are the same additions
        in the same order whatever other rows the data hold, so data cut at session ``t`` give
        bit-identical probabilities up to ``t``.
        """
        s = self._state
        frame = long.frame
        t = numeric_time(long, caller=caller)
        y = frame["score"].to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            X, _ = self._spec().design(frame, t)
        usable = ~np.isnan(y) & np.isfinite(X).all(axis=1)
        X = np.where(usable[:, None], X, 0.0)
        y = np.where(usable, y, 0.0)
        n_rows, p = X.shape
        # one block [X'X | X'y | y'y | n] per row, summed in place
        sums = np.empty((n_rows, p * p + p + 2))
        sums[:, : p * p] = (X[:, :, None] * X[:, None, :]).reshape(n_rows, p * p)
        sums[:, p * p : p * p + p] = X * y[:, None]
        sums[:, -2] = y * y
        sums[:, -1] = usable
        position = np.arange(n_rows) - long.starts[long.codes]
        by_position = np.argsort(position, kind="stable")
        bounds = np.searchsorted(position[by_position], np.arange(int(position.max(initial=0)) + 2))
        for j in range(1, len(bounds) - 1):
            rows = by_position[bounds[j] : bounds[j + 1]]
            sums[rows] += sums[rows - 1]
        XX, Xy = sums[:, : p * p], sums[:, p * p : p * p + p]
        yy, n = sums[:, -2], sums[:, -1]
        K = s.B.shape[0]
        tau = np.full((n_rows, K), np.nan)
        seen = np.flatnonzero(usable & (n >= max(min_count, 1)))
        if len(seen):
            st = eng.Stats(XX[seen], Xy[seen], yy[seen], n[seen], p)
            L, _ = eng.loglik_matrix(st, eng.Params(s.B, s.s2, s.logpi, s.t2))
            tau[seen] = eng.posterior(L)[0].T
        return tau, n, usable

    def to_json(self) -> str:
        """The fitted model as JSON text (plain ``json``, exact floats, no pickle)."""
        from ._json import classes_to_json

        return classes_to_json(self)

    @classmethod
    def from_json(cls, text: str) -> TrajectoryClassModel:
        """Read a model written by :meth:`to_json` (validated; clear errors on bad input)."""
        from ._json import classes_from_json

        return classes_from_json(text)


# ------------------------------------------------------------------------------------------------
# Public entry point
# ------------------------------------------------------------------------------------------------


def _check_n_classes(n_classes: Any) -> list[int]:
    if isinstance(n_classes, (bool, np.bool_)):
        values: Any = None
    elif isinstance(n_classes, (int, np.integer)):
        values = [int(n_classes)]
    elif isinstance(n_classes, (range, Sequence, np.ndarray)) and not isinstance(n_classes, str):
        values = list(n_classes)
    else:
        values = None
    if (
        not values
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)
        or min(values) < 1
    ):
        raise ParameterError(
            f"The 'n_classes' parameter of {_CALLER}() must be a positive integer or a range / "
            f"list of positive integers. Got {n_classes!r} instead. Suggestion: "
            "n_classes=range(1, 6) or n_classes=3."
        )
    return sorted({int(v) for v in values})


def fit_trajectory_classes(
    data: pd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    n_classes: int | Sequence[int] = range(1, 6),
    time_transform: str = "log",
    knot: float | None = None,
    variance: str = "equal",
    random: str | None = None,
    covariates: str | Sequence[str] | None = None,
    n_init: int = 20,
    seed: int | None = None,
    max_iter: int = 500,
    tol: float = 1e-10,
    better: str | None = None,
    instrument: str | _instruments.Instrument | None = None,
    deterioration: float | None = None,
) -> TrajectoryClassModel:
    """Latent-class growth analysis: classes of courses, each with its own curve.

    Every patient belongs to one of ``K`` latent classes; class ``k`` has its own fixed-effect
    curve on the time terms of :func:`~iatrogenic.fit_growth` and a residual variance. The model
    is fitted by maximum likelihood (EM from ``n_init`` random starts) for each number of
    classes in ``n_classes``; the number with the smallest BIC is chosen.

    Parameters
    ----------
    data : DataFrame
        Long format: one row per patient and occasion. Rows with a missing score (or
        covariate) are not used.
    patient, time, score : str
        Column names. ``time`` must be numeric.
    n_classes : int or sequence of int, default range(1, 6)
        Numbers of classes to fit; an int fits that number only.
    time_transform : {"linear", "log", "log1p", "quadratic", "piecewise"}, default "log"
        Time terms of each class curve, as in :func:`~iatrogenic.fit_growth`: ``time`` = t,
        log(t) (t > 0), log1p(t); quadratic adds ``time2`` = t²; piecewise adds
        ``time_after_knot`` = max(t - knot, 0).
    knot : float, optional
        Knot of ``time_transform="piecewise"`` (required there).
    variance : {"equal", "class"}, default "equal"
        One residual variance shared by the classes, or one per class (as flexmix's
        ``FLXMRglm``).
    random : {None, "intercept"}, default None
        ``"intercept"`` adds a patient-level random intercept within the classes, a growth
        mixture model (lcmm's ``hlme(..., mixture=, random=~1)``): scores of a patient in class
        ``k`` are normal about the class curve with covariance ``s2_k I + t2 11'``. Its variance
        ``t2`` is shared by the classes (lcmm's default ``nwg=FALSE``); it may be 0, where the
        model is LCGA. ``variance=`` still sets the residual variance.
    covariates : str or list of str, optional
        Patient-level columns entering each class curve as main effects and interactions with
        every time term (dummy coded like :func:`~iatrogenic.fit_growth`); class-specific
        coefficients. They do not predict class membership.
    n_init : int, default 20
        Random starts per number of classes. Each start seeds the classes k-means++-style on the
        patients' own least-squares curves and runs SQUAREM-accelerated EM until it converges
        or is clearly beaten by the best start so far (below it and, at its current pace, more
        than 50 rounds of 10 steps from overtaking it). With more than 20,000 patients the
        starts run on a random subset of 20,000 and the 3 best continue on all patients.
    seed : int, optional
        Seed of the random starts; the same seed gives identical output.
    max_iter : int, default 500
        Iteration limit (SQUAREM steps, each 2-3 EM steps) of each start.
    tol : float, default 1e-10
        Converged when the log-likelihood changes by less than ``tol * (1 + |loglik|)`` in a
        step and no parameter (coefficient, log variance, log class probability) by more than
        ``sqrt(tol) * (1 + |value|)``.
    better : {"lower", "higher"}, optional
        Direction of improvement; default the instrument's, else ``"lower"``.
    instrument : str or Instrument, optional
        The score's instrument: its range is checked, its direction is the default ``better``
        and its reliable change the default ``deterioration``: its published fixed rule
        (PHQ-9: 6 points), else ``1.96 sd sqrt(2 (1 - reliability))``.
    deterioration : float, optional
        Harmful change of a class mean (points, from the typical first to the typical last
        observed time) beyond which the class is "worsening". Default: the instrument's reliable
        change; without one, half the standard deviation of the patients' first scores (the
        "half a standard deviation" minimally important difference of Norman et al. 2003).

    Returns
    -------
    TrajectoryClassModel
        ``selection_``, ``n_classes_``, ``loglik_``, ``class_curves_``, ``class_sizes_``,
        ``class_changes_``, ``deteriorating_class_``, ``posterior_`` and
        :meth:`~TrajectoryClassModel.predict_proba`.

    Raises
    ------
    ParameterError, ParameterTypeError
        A bad keyword value.
    ColumnNotFoundError, ColumnTypeError, InvalidValueError, DuplicateRowsError, EmptyDataError
        Bad data: non-numeric time, non-positive times for ``log``, covariates varying within a
        patient, no usable rows, fewer patients than classes.

    Warns
    -----
    ConvergenceWarning
        The chosen model's best start did not converge within ``max_iter`` (with ``random``:
        or its gradient check failed).

    See Also
    --------
    iatrogenic.fit_growth : one population curve with random effects.

    Notes
    -----
    Per patient ``i`` only ``X_i'X_i``, ``X_i'y_i``, ``y_i'y_i`` and ``n_i`` are needed. The
    log-likelihood is ``sum_i log sum_k pi_k f_k(y_i)`` with ``f_k`` the normal density of the
    patient's scores about class curve ``k``. The number of parameters is ``K p + (1 or K) +
    K - 1`` (+ 1 with ``random``). With ``N`` patients and posteriors ``tau_ik``:

    - ``bic = -2 loglik + n_parameters log N`` (patients, as lcmm and Mplus; flexmix counts
      rows);
    - ``icl = bic - 2 sum_i log max_k tau_ik`` (the classification likelihood of Biernacki et
      al. 2000 in the form of flexmix's and mclust's ``ICL``);
    - ``entropy = 1 - sum_ik (-tau_ik log tau_ik) / (N log K)`` (relative entropy, as flexmix's
      ``EIC``, lcmm and Mplus; 1 is perfect separation).

    Standard errors come from the observed information (Louis 1982), exact at the maximum:
    complete-data information minus the conditional variance of the complete-data scores.

    With ``random="intercept"`` the marginal density of a patient in class ``k`` is normal with
    covariance ``V = s2_k I + t2 11'``; by Sherman-Morrison, with residuals ``r`` about the
    class curve and ``lam = s2_k + n_i t2``, ``log det V = (n_i - 1) log s2_k + log lam`` and
    ``r'V^-1 r = (r'r - (1'r)^2/n_i) / s2_k + (1'r)^2 / (n_i lam)``, so the same per-patient
    statistics suffice. EM is then an ECM (Meng & Rubin 1993): generalised least squares of the
    class curves at the current variances, then a projected Newton maximisation over the
    variances (``t2 >= 0``). Convergence is verified: besides EM's criterion, half the Newton
    decrement ``g' I^-1 g`` of the observed log-likelihood (analytic score ``g``, information
    ``I`` by central differences of the score; ``t2`` left out at the boundary 0 when the score
    points outwards) must be below ``1e-4``; the standard errors use that ``I``.

    A start is abandoned when a class becomes empty (weighted rows not above the number of
    terms) or its residual variance reaches ``1e-10`` of the score variance; these are counted
    in ``n_degenerate``. Small classes are kept (flexmix's default ``minprior = 0.05`` would
    remove them; a small deteriorating class is the point).

    References
    ----------
    Nagin DS (1999). Analyzing developmental trajectories: a semiparametric, group-based
    approach. Psychological Methods 4(2):139-157.

    Grün B, Leisch F (2008). FlexMix version 2: finite mixtures with concomitant variables and
    varying and constant parameters. Journal of Statistical Software 28(4).

    Norman GR, Sloan JA, Wyrwich KW (2003). Interpretation of changes in health-related
    quality of life: the remarkable universality of half a standard deviation. Medical Care
    41(5):582-592.

    Biernacki C, Celeux G, Govaert G (2000). Assessing a mixture model for clustering with the
    integrated completed likelihood. IEEE TPAMI 22(7):719-725.

    Louis TA (1982). Finding the observed information matrix when using the EM algorithm.
    JRSS B 44(2):226-233.

    Meng XL, Rubin DB (1993). Maximum likelihood estimation via the ECM algorithm: a general
    framework. Biometrika 80(2):267-278.

    Proust-Lima C, Philipps V, Liquet B (2017). Estimation of extended mixed models using
    latent classes and latent processes: the R package lcmm. Journal of Statistical Software
    78(2).

    Varadhan R, Roland C (2008). Simple and globally convergent methods for accelerating the
    convergence of any EM algorithm. Scandinavian Journal of Statistics 35(2):335-353.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import iatrogenic as ia
    >>> rng = np.random.default_rng(4)
    >>> n, s = 300, 8
    >>> cls = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    >>> t = np.tile(np.arange(1, s + 1), n)
    >>> slope = np.array([-5.0, -1.0, 3.0])[np.repeat(cls, s)]
    >>> y = 18 + slope * np.log(t) + rng.normal(0, 2, n * s)
    >>> data = pd.DataFrame({"patient": np.repeat(np.arange(n), s), "session": t, "score": y})
    >>> model = ia.fit_trajectory_classes(data, n_classes=range(1, 5), seed=1)
    >>> model.n_classes_, model.deteriorating_class_
    (3, 3)
    >>> model.class_sizes_.n_patients.tolist()
    [156, 101, 43]
    >>> model.posterior_.columns.tolist()
    ['patient', 'p_class_1', 'p_class_2', 'p_class_3', 'modal_class', 'n_obs', 'reason']
    """
    time_transform = check_choice(
        time_transform, TIME_TRANSFORMS, name="time_transform", caller=_CALLER
    )
    variance = check_choice(variance, VARIANCES, name="variance", caller=_CALLER)
    if random is not None and (not isinstance(random, str) or random not in RANDOM):
        raise ParameterError(
            f"The 'random' parameter of {_CALLER}() must be None (latent-class growth analysis) "
            f"or 'intercept' (a random intercept within classes: a growth mixture model). Got "
            f"{random!r} instead."
        )
    has_random = random is not None
    ks = _check_n_classes(n_classes)
    n_init = check_number(n_init, name="n_init", caller=_CALLER, low=1, integer=True)
    max_iter = check_number(max_iter, name="max_iter", caller=_CALLER, low=1, integer=True)
    tol = check_number(tol, name="tol", caller=_CALLER, low=0, low_inclusive=False, high=1e-2)
    deterioration = check_number(
        deterioration, name="deterioration", caller=_CALLER, low=0, allow_none=True
    )
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise ParameterTypeError(
            f"The 'seed' parameter of {_CALLER}() must be a non-negative integer or None. Got "
            f"{seed!r} instead."
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
    inst = _instruments.get(instrument) if instrument is not None else None
    better = resolve_better(better, inst, caller=_CALLER)
    cov_list = check_column_list(covariates, name="covariates", caller=_CALLER)
    for name in cov_list:
        if name in (patient, time, score):
            raise ParameterError(
                f"Column {name!r} passed to {_CALLER}() as a covariate is also the patient, time "
                "or score column. Suggestion: pass a different column."
            )
    spec = _Spec(time_transform=time_transform, knot=knot, covariates=cov_list, covariate_spec=[])
    long, counts, present, t, st = _validated(
        data, patient=patient, time=time, score=score, spec=spec, caller=_CALLER, instrument=inst
    )
    N = st.n_patients
    if N == 0:
        raise EmptyDataError(
            f"No row of the data passed to {_CALLER}() has a score (and covariates) to fit. "
            "Suggestion: check the score column."
        )
    if max(ks) > N:
        raise InvalidValueError(
            f"{_CALLER}() has {N} patients with scores, fewer than n_classes={max(ks)}. "
            "Suggestion: use fewer classes (n_classes=range(1, N + 1)) or more data."
        )
    p = st.p
    XXp = st.XX.sum(axis=0).reshape(p, p)
    if np.linalg.matrix_rank(XXp) < p:
        raise InvalidValueError(
            f"The design of {_CALLER}() (terms {spec.terms}) is rank deficient: a time term or "
            "covariate is constant or collinear. Suggestion: check the time column (are all "
            "times equal?) and drop constant covariates."
        )
    n_obs = float(st.n.sum())
    y_var = (st.yy.sum() - (st.Xy[:, 0].sum() ** 2) / n_obs) / n_obs
    if not y_var > 0:
        raise InvalidValueError(
            f"Column {score!r} (given as score=) passed to {_CALLER}() is constant. "
            "Suggestion: check the score column."
        )
    s2_floor = 1e-10 * y_var
    equal = variance == "equal"
    if has_random:
        # patients sorted by their number of rows: the M-step sums over each number
        by_rows = np.argsort(st.n, kind="stable")
        st, present = st.take(by_rows), present[by_rows]
    rng = np.random.default_rng(seed)
    coef = eng.own_coefficients(st)
    log_n = math.log(N)
    rows: list[dict[str, Any]] = []
    fits: dict[int, eng.Fit] = {}
    informations: dict[int, np.ndarray] = {}
    for K in ks:
        n_par = K * p + (1 if equal else K) + K - 1 + int(has_random)
        fit, info = _fit_k(
            st, K, rng, coef, equal, s2_floor, int(n_init), int(max_iter), tol, has_random
        )
        row: dict[str, Any] = {"n_classes": K, "n_parameters": n_par, **info}
        if fit is None or n_par >= n_obs:
            row.update(
                loglik=np.nan, bic=np.nan, icl=np.nan, entropy=np.nan,
                smallest_class_share=np.nan, converged=False,
            )
        else:
            if has_random:
                fit, information = _checked(st, fit, equal)
                informations[K] = information
                row["message"] = fit.message
            fits[K] = fit
            tau = fit.tau
            bic = -2.0 * fit.loglik + n_par * log_n
            with np.errstate(divide="ignore", invalid="ignore"):
                ent = -np.nansum(np.where(tau > 0, tau * np.log(tau), 0.0))
            row.update(
                loglik=fit.loglik,
                bic=bic,
                icl=bic - 2.0 * float(np.sum(np.log(np.maximum(tau.max(axis=1), 1e-300)))),
                entropy=(1.0 - ent / (N * math.log(K))) if K > 1 else np.nan,
                smallest_class_share=float(np.exp(fit.params.logpi).min()),
                converged=fit.converged,
            )
        rows.append(row)
    if not fits:
        raise InvalidValueError(
            f"{_CALLER}() could not fit any number of classes in {ks}: every start ended in an "
            "empty class or a zero residual variance. Suggestion: use fewer classes or more "
            "patients."
        )
    table = pd.DataFrame(rows)
    order = [
        "n_classes", "loglik", "n_parameters", "bic", "icl", "entropy",
        "smallest_class_share", "converged", "n_iter", "n_starts", "n_degenerate", "message",
    ]
    table = table[order]
    bics = table["bic"].to_numpy(dtype=np.float64)
    chosen = int(table["n_classes"].to_numpy()[int(np.nanargmin(bics))])
    fit = fits[chosen]
    if not fit.converged:
        warnings.warn(
            f"{_CALLER}(): the best start with {chosen} classes did not converge within "
            f"max_iter={max_iter} ({fit.message}); model.converged_ is False. Suggestion: raise "
            "max_iter= or tol=.",
            ConvergenceWarning,
            stacklevel=2,
        )
    par = fit.params
    try:
        information = informations[chosen] if has_random else eng.information(st, par, equal)
        cov = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        cov = np.full((1, 1), np.nan)
    d = chosen * p + (1 if equal else chosen) + chosen - 1 + int(has_random)
    if cov.shape != (d, d):
        cov = np.full((d, d), np.nan)
    tau_all = np.full((long.n_patients, chosen), np.nan)
    tau_all[present] = fit.tau
    firsts = t[long.starts[:-1]] if len(t) else np.zeros(0)
    lasts = t[long.starts[1:] - 1] if len(t) else np.zeros(0)
    has = counts > 0
    frame = long.frame
    cov_cols = _Covariates(names=[], spec=spec.covariate_spec).columns(frame)
    first_rows = long.starts[:-1][present]
    cov_means = np.array([float(np.nanmean(c[first_rows])) for c in cov_cols])
    y_all = frame["score"].to_numpy(dtype=np.float64)
    scored_rows = np.flatnonzero(~np.isnan(y_all))
    first_scored = scored_rows[np.r_[True, np.diff(long.codes[scored_rows]) != 0]]
    baseline_sd = float(np.std(y_all[first_scored], ddof=1)) if len(first_scored) > 1 else 0.0
    rc = None
    if inst is not None and inst.fixed_rule is not None:
        rc = float(inst.fixed_rule.points)
    elif inst is not None and inst.reliability is not None and inst.sd is not None:
        rc = _Z_RC * inst.sd * math.sqrt(2.0 * (1.0 - inst.reliability))
    state = _ClassState(
        columns=dict(long.columns),
        time_transform=time_transform,
        knot=knot,
        covariates=cov_list,
        covariate_spec=spec.covariate_spec,
        terms=spec.terms,
        variance=variance,
        better=better,
        instrument=inst.name if inst is not None else None,
        threshold=deterioration,
        rc_threshold=rc,
        baseline_sd=baseline_sd,
        B=par.B,
        s2=par.s2,
        logpi=par.logpi,
        cov=cov,
        loglik=fit.loglik,
        converged=fit.converged,
        n_iter=fit.n_iter,
        message=fit.message,
        selection={c: table[c].to_numpy() for c in table.columns},
        patients=long.patients.to_numpy(),
        tau=tau_all,
        n_patient_obs=counts.astype(np.int64),
        reasons=_reasons(long, counts, bool(cov_list)),
        t_first=float(np.median(firsts[has])),
        t_last=float(np.median(lasts[has])),
        cov_means=cov_means,
        n_obs=int(n_obs),
        seed=None if seed is None else int(seed),
        random=random,
        t2=par.t2,
    )
    return TrajectoryClassModel(state)


def _checked(st: eng.Stats, fit: eng.Fit, equal: bool) -> tuple[eng.Fit, np.ndarray]:
    """A growth mixture fit with its convergence verified from the gradient.

    EM's small relative change is not enough: the fit counts as converged only when half the
    Newton decrement of the observed log-likelihood (analytic score, information by central
    differences of the score) is below ``GRADIENT_TOL``. Returns the observed information too.
    """
    decrement, information = eng.newton_decrement(st, fit.params, equal)
    verified = fit.converged and decrement <= GRADIENT_TOL
    if math.isinf(decrement):
        message = (
            f"{fit.message}; observed information not positive definite (a flat ridge: "
            "over-fitted classes or a degenerate solution)"
        )
    else:
        message = f"{fit.message}; Newton decrement {decrement:.2g}"
        if fit.converged and not verified:
            message += f" > {GRADIENT_TOL:g}: not at a maximum"
    checked = eng.Fit(
        fit.params, fit.loglik, fit.tau, verified, fit.n_iter, fit.degenerate, message
    )
    return checked, information


def _canonical(fit: eng.Fit) -> eng.Fit:
    """Classes ordered by prior (largest first), ties by the coefficients."""
    par = fit.params
    keys = [par.B[:, j] for j in range(par.B.shape[1] - 1, -1, -1)] + [-np.round(par.logpi, 12)]
    order = np.lexsort(keys)
    par = eng.Params(par.B[order], par.s2[order], par.logpi[order], par.t2)
    return eng.Fit(par, fit.loglik, fit.tau[:, order], fit.converged, fit.n_iter, fit.degenerate,
                   fit.message)


def _fit_k(
    st: eng.Stats,
    K: int,
    rng: np.random.Generator,
    coef: np.ndarray,
    equal: bool,
    s2_floor: float,
    n_init: int,
    max_iter: int,
    tol: float,
    random: bool,
) -> tuple[eng.Fit | None, dict[str, Any]]:
    """Best of ``n_init`` starts for ``K`` classes.

    Every start runs (on a random subset of ``SUBSAMPLE`` patients when there are more; then
    the ``N_FINAL`` best continue on all patients) until it converges, or until it is below the
    best optimum found so far and would need more than ``PATIENCE`` rounds at its current pace
    to overtake it.
    """
    n_deg = 0
    n_starts = 1 if K == 1 else n_init
    N = st.n_patients
    if N > eng.SUBSAMPLE:
        idx = np.sort(rng.choice(N, eng.SUBSAMPLE, replace=False))
        sub, sub_coef = st.take(idx), coef[idx]
    else:
        sub, sub_coef = st, coef
    first: list[eng.Fit] = []
    best_ll = -np.inf
    for i in range(n_starts):
        start = eng.start_params(
            sub, K, rng, sub_coef, equal, s2_floor, partition=i % 2 == 1, random=random
        )
        if start is None:
            n_deg += 1
            continue
        f = _run(sub, start, best_ll, equal, max_iter, tol, s2_floor)
        if f is None:
            continue
        if f.degenerate:
            n_deg += 1
            continue
        first.append(f)
        best_ll = max(best_ll, f.loglik)
    if sub is st:
        finals = first
    else:
        finals, best_ll = [], -np.inf
        for f in sorted(first, key=lambda f: -f.loglik)[: eng.N_FINAL]:
            g = _run(st, f.params, best_ll, equal, max_iter, tol, s2_floor)
            if g is None:
                continue
            if g.degenerate:
                n_deg += 1
                continue
            finals.append(g)
            best_ll = max(best_ll, g.loglik)
    info: dict[str, Any] = {"n_starts": n_starts, "n_degenerate": n_deg}
    if not finals:
        info.update(n_iter=0, message="every start degenerate")
        return None, info
    best = max(finals, key=lambda f: f.loglik)
    info.update(n_iter=best.n_iter, message=best.message)
    return _canonical(best), info


def _run(
    st: eng.Stats,
    start: eng.Params,
    best_ll: float,
    equal: bool,
    max_iter: int,
    tol: float,
    s2_floor: float,
) -> eng.Fit | None:
    """EM from ``start`` in rounds; None when abandoned as hopeless against ``best_ll``."""
    params, used, prev = start, 0, -np.inf
    while True:
        g = eng.em_fit(st, params, equal=equal, max_iter=min(eng.ROUND, max_iter - used),
                       tol=tol, s2_floor=s2_floor)
        used += g.n_iter
        if g.degenerate:
            return g
        if g.converged or used >= max_iter:
            g.n_iter = used
            g.message = (
                f"converged after {used} SQUAREM steps" if g.converged
                else f"not converged after {used} SQUAREM steps (max_iter={max_iter})"
            )
            return g
        if g.loglik < best_ll and g.loglik + eng.PATIENCE * (g.loglik - prev) < best_ll:
            return None
        params, prev = g.params, g.loglik
