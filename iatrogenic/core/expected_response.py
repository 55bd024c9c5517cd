"""Expected treatment response: each patient's course against the course expected for patients like
them, with tolerance bands and OQ-45-style signals (white, green, yellow, red).

:func:`fit_expected_response` fits a model on a reference sample;
:meth:`ExpectedResponseModel.track` compares new patients with it, session by session. Two methods:

- ``"hlm"``: a growth model on time since intake with the intake score as a covariate of
  intercept and slope (Finch, Lambert & Schaalje 2001; the OQ-45 clinical support tools);
- ``"neighbors"``: the same model, with the expected course and band taken from the k reference
  patients most similar at intake (Lutz et al. 2005, 2006; the Trier Treatment Navigator).

See ``docs/expected-response.md``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from .. import _progress, _serialize
from .. import instruments as _instruments
from .._validation import (
    check_choice,
    check_column_list,
    check_dataframe,
    check_fraction,
    check_number,
    check_positive,
    numeric_time,
    prepare_long,
    resolve_better,
)
from ..dask import dispatch, is_dask_frame
from ..exceptions import (
    EmptyDataError,
    InvalidValueError,
    ParameterError,
    ParameterTypeError,
)
from .growth import GrowthModel, fit_growth
from .rci import critical_difference

__all__ = [
    "DETERIORATION_RULES",
    "DISTANCES",
    "METHODS",
    "SIGNALS",
    "TIME_TRANSFORMS",
    "WEIGHTS",
    "ExpectedResponseModel",
    "SignalRules",
    "fit_expected_response",
    "load_reference_model",
]

#: Accepted ``method`` values.
METHODS = ("hlm", "neighbors")
#: Accepted ``time_transform`` values: ``log`` is log1p(time since intake), ``linear`` is time.
TIME_TRANSFORMS = ("log", "linear")
#: Accepted neighbour ``weights``.
WEIGHTS = ("tricube", "uniform")
#: Accepted neighbour ``distance`` values.
DISTANCES = ("euclidean", "mahalanobis")
#: Accepted ``deterioration`` rules of the red signal.
DETERIORATION_RULES = ("auto", "fixed", "statistical", "none")
#: The signals, from best to worst.
SIGNALS = ("white", "green", "yellow", "red")

_CALLER = "fit_expected_response"
_CACHE_SIZE = 65536
_KIND = "ExpectedResponseModel"
_RESERVED = ("patient", "tau", "score", "intake")
#: Reference model bundled with the package (``iatrogenic/datasets/data``).
REFERENCE_MODEL_FILE = "reference_model.json"
#: The call that made the bundled reference model (on ``ia.datasets.load_example()``).
REFERENCE_MODEL_ARGS: dict[str, Any] = {
    "method": "hlm",
    "score": "phq9",
    "instrument": "phq9",
    "time_transform": "log",
}


#: Rows per block of :meth:`ExpectedResponseModel._track_arrays`.
_TRACK_BLOCK_ROWS = 1 << 16


@dataclass(frozen=True)
class _PatientCourses:
    """Per patient: intake score and time, expected-course parameters, covariate missing."""

    intake: np.ndarray
    t0: np.ndarray
    params: np.ndarray
    cov_missing: np.ndarray


def _f(tau: Any, transform: str) -> Any:
    """The time function of time since intake: ``log1p(tau)`` or ``tau``."""
    return np.log1p(tau) if transform == "log" else tau


# ------------------------------------------------------------------------------------------------
# Signal rules
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalRules:
    """How a tracked score becomes a signal (white, green, yellow, red).

    Parameters
    ----------
    level : float, default 0.90
        Level of the alarm band: a fraction ``1 - level`` of on-course patients lies beyond its
        harmful edge (above ``upper`` when lower scores are better). Beyond it: red.
    warning_level : float, default 0.80
        Level of the warning band (below ``level``). Beyond it: yellow.
    deterioration : {"auto", "fixed", "statistical", "none"}, default "auto"
        Reliable deterioration from intake also gives red. ``"fixed"``: the instrument's
        published rule (PHQ-9: 6 points or more); ``"statistical"``: the Jacobson-Truax critical
        difference at alpha 0.05 from the model's reliability and SD (strictly exceeded);
        ``"auto"``: fixed when the instrument has a rule, else statistical when a reliability is
        known, else none.
    functional : bool, default True
        White when the score is in the functional range (below the instrument's caseness, or the
        model's ``cutoff``); no white without a cut-off.
    functional_first : bool, default False
        False: red and yellow take precedence over white (a worsening patient below the cut-off
        is not hidden). True: white first, as the OQ-45 tools order their messages.
    """

    level: float = 0.90
    warning_level: float = 0.80
    deterioration: str = "auto"
    functional: bool = True
    functional_first: bool = False

    def __post_init__(self) -> None:
        caller = "SignalRules"
        object.__setattr__(self, "level", check_fraction(self.level, name="level", caller=caller))
        object.__setattr__(
            self,
            "warning_level",
            check_fraction(self.warning_level, name="warning_level", caller=caller),
        )
        if not self.warning_level < self.level:
            raise ParameterError(
                f"The 'warning_level' parameter of {caller}() must be below 'level' (the warning "
                f"band lies inside the alarm band). Got warning_level={self.warning_level!r} "
                f"and level={self.level!r}."
            )
        if self.warning_level <= 0.5:
            raise ParameterError(
                f"The 'warning_level' parameter of {caller}() must be above 0.5 (a one-sided "
                f"quantile on the harmful side). Got {self.warning_level!r}."
            )
        object.__setattr__(
            self,
            "deterioration",
            check_choice(
                self.deterioration, DETERIORATION_RULES, name="deterioration", caller=caller
            ),
        )
        for name in ("functional", "functional_first"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ParameterTypeError(
                    f"The {name!r} parameter of {caller}() must be True or False. Got "
                    f"{getattr(self, name)!r} instead."
                )

    @property
    def z(self) -> float:
        """Standard-normal quantile of ``level``."""
        return float(ndtri(self.level))

    @property
    def z_warning(self) -> float:
        """Standard-normal quantile of ``warning_level``."""
        return float(ndtri(self.warning_level))


@dataclass(frozen=True)
class _Resolved:
    """Signal rules resolved against a model: plain numbers for the hot loops."""

    level: float
    warning_level: float
    z: float
    z_warning: float
    sign: float  # +1 when lower is better: harm is sign * (score - expected) > 0
    points: float | None  # deterioration threshold in points (None: off)
    inclusive: bool  # deterioration at >= points (fixed rule) or > points (RCI)
    cutoff: float | None  # functional iff sign * (score - cutoff) < 0 (or <= 0, see below)
    cutoff_inclusive: bool  # functional also at the cut-off itself
    functional_first: bool
    rule_text: str  # for evidence


# ------------------------------------------------------------------------------------------------
# Model
# ------------------------------------------------------------------------------------------------


class ExpectedResponseModel:
    """A fitted expected-treatment-response model (returned by :func:`fit_expected_response`).

    Attributes
    ----------
    method_ : {"hlm", "neighbors"}
    time_transform_ : {"log", "linear"}
    covariates_ : list of str
        Patient-level covariates besides the intake score.
    better_ : {"lower", "higher"}
    instrument_ : str or None
        Name of the instrument of the reference scores.
    fixed_effects_ : Series
        Growth-model fixed effects: ``intercept``, ``time``, ``intake`` (centred at
        ``intake_mean_``), covariates (centred), ``intake:time``, ``<cov>:time``.
    fixed_effects_cov_ : DataFrame
    random_effects_cov_ : DataFrame
        Covariance of the patient intercept and slope given intake (and covariates).
    residual_variance_ : float
    growth_ : GrowthModel
        The underlying growth model (patients with at least one score after intake).
    intake_mean_, intake_sd_ : float
        Mean and SD (ddof 1) of the reference patients' intake scores.
    n_patients_, n_obs_ : int
        Reference patients and post-intake scores in the growth model.
    k_, weights_, distance_ : int, str, str
        Neighbour settings (``method="neighbors"``; stored for every method).
    reliability_, sd_ : float or None
        Reliability and SD of the statistical deterioration rule (SD: the ``sd`` given, else the
        instrument's, else ``intake_sd_``).
    fixed_rule_ : float or None
        The instrument's fixed reliable-change threshold in points.
    cutoff_ : float or None
        Functional / clinical cut-off (white signal).
    columns_ : dict
        The reference's ``patient``, ``time`` and ``score`` column names (defaults of
        :meth:`track`).
    """

    def __init__(self, state: dict[str, Any]) -> None:
        self._s = state
        s = state
        terms = pd.Index(s["terms"])
        self.method_: str = s["method"]
        self.time_transform_: str = s["time_transform"]
        self.covariates_: list[str] = list(s["covariates"])
        self.better_: str = s["better"]
        self.instrument_: str | None = s["instrument"]
        self.fixed_effects_ = pd.Series(s["beta"], index=terms, name="estimate")
        self.fixed_effects_cov_ = pd.DataFrame(s["beta_cov"], index=terms, columns=terms)
        names = ["intercept", "time"]
        self.random_effects_cov_ = pd.DataFrame(s["D"], index=names, columns=names)
        self.residual_variance_: float = float(s["sigma2"])
        self.growth_: GrowthModel = s["growth"]
        self.intake_mean_: float = float(s["intake_mean"])
        self.intake_sd_: float = float(s["intake_sd"])
        self.n_patients_: int = int(s["n_patients"])
        self.n_obs_: int = int(s["n_obs"])
        self.k_: int = int(s["k"])
        self.weights_: str = s["weights"]
        self.distance_: str = s["distance"]
        self.reliability_: float | None = s["reliability"]
        self.sd_: float | None = s["sd"]
        self.fixed_rule_: float | None = s["fixed_rule"]
        self.cutoff_: float | None = s["cutoff"]
        self.columns_: dict[str, str] = dict(s["columns"])
        self._tree: Any = None
        self._resolved_cache: dict[SignalRules, _Resolved] = {}
        # Neighbourhood summaries and course coefficients by feature row: pure functions of the
        # fitted state, cached because intakes repeat (a PHQ-9 intake has 28 possible values).
        self._local_cache: dict[tuple[float, ...], np.ndarray] = {}
        self._params_cache: dict[tuple[float, ...], list[float]] = {}

    def __repr__(self) -> str:
        extra = (
            f", k={self.k_}, weights={self.weights_!r}, distance={self.distance_!r}"
            if self.method_ == "neighbors"
            else ""
        )
        return (
            f"ExpectedResponseModel(method={self.method_!r}, time_transform="
            f"{self.time_transform_!r}, instrument={self.instrument_!r}, better={self.better_!r}, "
            f"n_patients={self.n_patients_}{extra})"
        )

    # -- rules -------------------------------------------------------------------------------

    def _resolve(self, rules: SignalRules) -> _Resolved:
        cached = self._resolved_cache.get(rules)
        if cached is not None:
            return cached
        points: float | None = None
        inclusive = False
        text = "no deterioration rule"
        rule = rules.deterioration
        if rule in ("auto", "fixed") and self.fixed_rule_ is not None:
            points, inclusive = float(self.fixed_rule_), True
            text = f"reliable deterioration: >= {points:g} points worse than intake (fixed rule)"
        elif rule == "fixed":
            raise ParameterError(
                "deterioration='fixed' needs the instrument's fixed reliable-change rule, but the "
                f"model (instrument={self.instrument_!r}) has none. Suggestion: use "
                "deterioration='statistical' or 'none'."
            )
        elif rule in ("auto", "statistical") and self.reliability_ is not None:
            sd = float(self.sd_) if self.sd_ is not None else self.intake_sd_
            points, inclusive = critical_difference(sd, self.reliability_, alpha=0.05), False
            text = f"reliable deterioration: > {points:.2f} points worse than intake (RCI)"
        elif rule == "statistical":
            raise ParameterError(
                "deterioration='statistical' needs a reliability, but the model has none. "
                "Suggestion: fit with instrument= or reliability=, or use deterioration='none'."
            )
        sign = 1.0 if self.better_ == "lower" else -1.0
        cutoff = self.cutoff_ if rules.functional else None
        out = _Resolved(
            level=rules.level,
            warning_level=rules.warning_level,
            z=rules.z,
            z_warning=rules.z_warning,
            sign=sign,
            points=points,
            inclusive=inclusive,
            cutoff=cutoff,
            cutoff_inclusive=False,
            functional_first=bool(rules.functional_first),
            rule_text=text,
        )
        self._resolved_cache[rules] = out
        return out

    # -- course parameters -------------------------------------------------------------------

    def _features(self, intake: np.ndarray, covs: np.ndarray) -> np.ndarray:
        """Raw patient features (intake, covariates) as an (n, p) array."""
        return np.column_stack([intake, covs]) if covs.size else intake[:, None]

    def _neighbourhood(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices and normalised weights of the neighbours of one transformed feature row."""
        s = self._s
        nb = s["neighbors"]
        ref = nb["phi"]
        n = len(ref)
        k = self.k_
        if k >= n:
            idx = np.arange(n)
            d = np.sqrt(np.sum((ref - phi) ** 2, axis=1))
        else:
            if self._tree is None:
                from scipy.spatial import cKDTree

                self._tree = cKDTree(ref)
            dist, ind = self._tree.query(phi, k=k + 1)
            if dist[k] > dist[k - 1]:
                idx, d = ind[:k], dist[:k]
            else:  # ties at the k-th distance: take them all (order-free neighbourhood)
                radius = dist[k - 1] * (1.0 + 1e-12) + 1e-300
                idx = np.array(sorted(self._tree.query_ball_point(phi, r=radius)), dtype=np.int64)
                d = np.sqrt(np.sum((ref[idx] - phi) ** 2, axis=1))
        if self.weights_ == "uniform":
            w = np.ones(len(idx))
        else:
            h = float(d.max()) if len(d) else 0.0
            w = np.ones(len(idx)) if h <= 0 else (1.0 - np.clip(d / h, 0.0, 1.0) ** 3) ** 3
            if not np.any(w > 0):
                w = np.ones(len(idx))
        return idx, w / w.sum()

    def _course_params(
        self, features: np.ndarray, progress: bool | None = False
    ) -> np.ndarray:
        """Per patient (rows of ``features``): the coefficients of its expected course.

        ``progress`` draws a bar over the distinct intake features whose neighbours are found
        (neighbours method; see :func:`iatrogenic._progress.progress`).

        Columns: ``a0, a1`` (mean = a0 + a1 f), ``q0, q1, q2`` (fixed-effect variance x'Vx =
        q0 + q1 f + q2 f^2), ``m0, m1, m2`` (neighbours' effect moment z'Mz, global for hlm),
        ``s2`` (residual variance). NaN rows for missing features.
        """
        s = self._s
        n, p = features.shape
        beta, vb = s["beta"], s["beta_cov"]
        centred = features - s["centers"]
        u = np.zeros((n, 2 + 2 * p))
        v = np.zeros((n, 2 + 2 * p))
        u[:, 0] = 1.0
        u[:, 2 : 2 + p] = centred
        v[:, 1] = 1.0
        v[:, 2 + p :] = centred
        out = np.empty((n, 9))
        out[:, 0] = u @ beta
        out[:, 1] = v @ beta
        uv = u @ vb
        out[:, 2] = np.einsum("ij,ij->i", uv, u)
        out[:, 3] = 2.0 * np.einsum("ij,ij->i", uv, v)
        out[:, 4] = np.einsum("ij,ij->i", v @ vb, v)
        glob = s["m_global"]
        out[:, 5:8] = glob
        out[:, 8] = s["sigma2"]
        if self.method_ == "neighbors":
            nb = s["neighbors"]
            ok = ~np.isnan(features).any(axis=1)
            uniq, inverse = np.unique(features[ok], axis=0, return_inverse=True)
            phi = (uniq - nb["shift"]) @ nb["transform"]
            rows = np.empty((len(uniq), 6))
            cache = self._local_cache
            for j in _progress.progress(
                range(len(uniq)), total=len(uniq), desc="neighbours", enabled=progress
            ):
                key = tuple(uniq[j].tolist())
                row = cache.get(key)
                if row is None:
                    idx, w = self._neighbourhood(phi[j])
                    mean, m, ratio = _local_moments(nb, idx, w)
                    row = np.empty(6)
                    row[:2] = mean
                    row[2:5] = m
                    row[5] = s["sigma2"] * ratio / nb["ratio_global"]
                    if len(cache) >= _CACHE_SIZE:
                        cache.clear()
                    cache[key] = row
                rows[j] = row
            sel = np.flatnonzero(ok)
            local = rows[inverse.reshape(-1)]
            out[sel, 0] += local[:, 0]
            out[sel, 1] += local[:, 1]
            out[sel, 5:8] = local[:, 2:5]
            out[sel, 8] = local[:, 5]
        out[np.isnan(features).any(axis=1)] = np.nan
        return out

    def _params_one(self, features: tuple[float, ...]) -> list[float]:
        """:meth:`_course_params` of one patient as floats (cached; the monitor's intake path)."""
        cache = self._params_cache
        params = cache.get(features)
        if params is None:
            row = self._course_params(np.array([features], dtype=np.float64))[0]
            params = [float(v) for v in row]
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[features] = params
        return params

    def _moments(self, params: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected score and its SD at time-function values ``f`` (rows aligned with params)."""
        d00, d01, d11 = self._s["D_flat"]
        g0, g1, g2 = self._s["m_global"]
        mean = params[:, 0] + params[:, 1] * f
        fixed = params[:, 2] + f * (params[:, 3] + f * params[:, 4])
        zdz = d00 + f * (2.0 * d01 + f * d11)
        if self.method_ == "neighbors":
            loc = params[:, 5] + f * (2.0 * params[:, 6] + f * params[:, 7])
            glo = g0 + f * (2.0 * g1 + f * g2)
            zdz = zdz * loc / glo
        var = fixed + zdz + params[:, 8]
        return mean, np.sqrt(var)

    # -- public ------------------------------------------------------------------------------

    def course(
        self,
        intake: float,
        time_since_intake: Any,
        *,
        covariates: dict[str, float] | None = None,
        level: float = 0.90,
        warning_level: float = 0.80,
    ) -> pd.DataFrame:
        """The expected course and bands of a new patient with this intake score.

        Parameters
        ----------
        intake : float
            The patient's intake (first) score.
        time_since_intake : array-like of float
            Times since intake (sessions since the first, in the reference's time unit), >= 0.
        covariates : dict, optional
            ``{name: value}`` for every covariate of the model.
        level, warning_level : float
            Band levels (see :class:`SignalRules`).

        Returns
        -------
        DataFrame
            ``time_since_intake``, ``expected``, ``lower``, ``upper`` (alarm band),
            ``warning_lower``, ``warning_upper`` and ``sd`` (SD of a new score around
            ``expected``).

        Examples
        --------
        >>> from iatrogenic.core.expected_response import load_reference_model
        >>> model = load_reference_model()
        >>> model.course(18, [0, 4, 10]).round(1)[["time_since_intake", "expected", "upper"]]
           time_since_intake  expected  upper
        0                0.0      ...
        1                4.0      ...
        2               10.0      ...
        """
        caller = "ExpectedResponseModel.course"
        rules = SignalRules(level=level, warning_level=warning_level, deterioration="none")
        x = check_number(intake, name="intake", caller=caller)
        times = np.atleast_1d(np.asarray(time_since_intake, dtype=np.float64))
        if np.any(~np.isfinite(times)) or np.any(times < 0):
            raise ParameterError(
                f"The 'time_since_intake' parameter of {caller}() must hold finite times >= 0. "
                f"Got {time_since_intake!r}."
            )
        covs = self._covariate_values(covariates or {}, caller)
        params = self._course_params(self._features(np.array([x]), covs[None, :]))
        params = np.repeat(params, len(times), axis=0)
        mean, sd = self._moments(params, _f(times, self.time_transform_))
        return pd.DataFrame(
            {
                "time_since_intake": times,
                "expected": mean,
                "lower": mean - rules.z * sd,
                "upper": mean + rules.z * sd,
                "warning_lower": mean - rules.z_warning * sd,
                "warning_upper": mean + rules.z_warning * sd,
                "sd": sd,
            }
        )

    def _covariate_values(self, given: dict[str, Any], caller: str) -> np.ndarray:
        missing = [c for c in self.covariates_ if c not in given]
        if missing:
            raise ParameterError(
                f"{caller}() needs a value for every covariate of the model; missing "
                f"{', '.join(map(repr, missing))}."
            )
        return np.array(
            [check_number(given[c], name=c, caller=caller) for c in self.covariates_],
            dtype=np.float64,
        )

    def track(
        self,
        data: pd.DataFrame,
        *,
        patient: str | None = None,
        time: str | None = None,
        score: str | None = None,
        level: float = 0.90,
        warning_level: float = 0.80,
        deterioration: str = "auto",
        functional: bool = True,
        functional_first: bool = False,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Compare every patient's scores with the course expected from their intake.

        Intake is each patient's first observed score and time since intake is ``time`` minus the
        time of that score. From intake alone (and the covariates) the model gives the expected
        score at every later session and the bands around it; the patient's later scores are
        never used for their own expectation, so every row is causal.

        Parameters
        ----------
        data : DataFrame
            Long format, one row per patient and session (numeric sessions), with the model's
            covariate columns. Rows without a score keep their row (no signal). A
            ``dask.dataframe.DataFrame`` gives a lazy Dask DataFrame of the same rows (see
            ``docs/dask.md``).
        patient, time, score : str, optional
            Column names; default those of the reference sample.
        level, warning_level, deterioration, functional, functional_first
            The signal rules: see :class:`SignalRules`.
        progress : bool or None, default None
            A progress bar over the neighbourhoods searched (``method="neighbors"``): ``None``
            draws one only when standard error is a terminal (``pip install
            'iatrogenic[progress]'``).

        Returns
        -------
        DataFrame
            One row per row of ``data``, sorted by patient and session:

            - ``patient``, ``session``, ``score``: as in ``data``.
            - ``expected``: the expected score (at intake: the intake score itself).
            - ``lower``, ``upper``: the alarm band, ``expected -/+ z(level) * sd``. Its harmful
              edge (``upper`` when lower is better) is the ``level`` quantile of on-course
              patients' scores; the other edge mirrors it. Missing at intake.
            - ``signal``: ``"white"`` (functional range), ``"green"`` (on track), ``"yellow"``
              (beyond the warning band), ``"red"`` (beyond the alarm band, or reliable
              deterioration from intake); missing where there is no score.
            - ``warning_lower``, ``warning_upper``: the warning band (``warning_level``).
            - ``sd``: the SD of a score around ``expected`` (fixed-effect, random-effect and
              residual variance).
            - ``intake``: the patient's intake score; ``time_since_intake``.
            - ``deteriorated``: the score is reliably worse than intake (the rule of
              ``deterioration``); missing where there is no score.
            - ``reason``: why a row has no expectation or no signal (``"no observed score"``
              for patients without any score, ``"before intake"``, ``"missing score"``,
              ``"covariate missing"``), else missing.

        Examples
        --------
        >>> import pandas as pd
        >>> from iatrogenic.core.expected_response import load_reference_model
        >>> model = load_reference_model()   # PHQ-9, fitted on the example data
        >>> data = pd.DataFrame({"patient": 1, "session": [1, 2, 3, 4, 5, 6],
        ...                      "phq9": [16, 14, 17, 19, 24, 15]})
        >>> tracked = model.track(data)
        >>> tracked["signal"].tolist()
        ['green', 'green', 'yellow', 'red', 'red', 'green']
        >>> bool((tracked["upper"] > tracked["expected"]).iloc[1:].all())
        True
        """
        if is_dask_frame(data):
            return dispatch("track", locals())
        caller = "ExpectedResponseModel.track"
        rules = SignalRules(
            level=level,
            warning_level=warning_level,
            deterioration=deterioration,
            functional=functional,
            functional_first=functional_first,
        )
        self._resolve(rules)  # fail early on a rule the model cannot apply
        progress = _progress.check_enabled(progress, caller=caller)
        cols = self.columns_
        patient = patient or cols.get("patient", "patient")
        time = time or cols.get("time", "session")
        score = score or cols.get("score", "score")
        check_dataframe(data, caller=caller)
        long = prepare_long(
            data,
            patient=patient,
            time=time,
            score=score,
            caller=caller,
            instrument=_instruments.get(self.instrument_) if self.instrument_ else None,
            extra={f"covariates[{i}]": c for i, c in enumerate(self.covariates_)},
            numeric_extra=[f"covariates[{i}]" for i in range(len(self.covariates_))],
        )
        return self._track_long(long, rules, caller, progress=progress)

    def _track_arrays(
        self, long: Any, rules: SignalRules, caller: str, progress: bool | None = False
    ) -> dict[str, np.ndarray]:
        """:meth:`track`'s columns as arrays aligned with ``long.frame`` (no DataFrame).

        ``signal`` holds positions in :data:`SIGNALS`, ``deteriorated`` 0 or 1 (both
        :data:`_UNSCORED` at unscored rows), and ``reason`` positions in :data:`_REASONS`.
        """
        n = len(long.codes)
        out: dict[str, np.ndarray] = {}
        for begin, block in self._track_blocks(long, rules, caller, progress=progress):
            rows = slice(begin, begin + len(block["score"]))
            for name, values in block.items():
                if name not in out:
                    out[name] = np.empty(n, dtype=values.dtype)
                out[name][rows] = values
        return out

    def _track_blocks(
        self, long: Any, rules: SignalRules, caller: str, progress: bool | None = False
    ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """:meth:`_track_arrays` over blocks of whole patients: each block's first row in
        ``long.frame`` and its columns (at least one block, empty without rows).

        Every column is a function of the row and its patient's values, so blocks of about
        ``_TRACK_BLOCK_ROWS`` rows keep the temporaries in cache (2x faster on millions of rows);
        the off-track detector reads the blocks as they come, without full-length columns.
        """
        resolved = self._resolve(rules)
        frame = long.frame
        t = numeric_time(long, caller=caller)
        y = frame["score"].to_numpy(dtype=np.float64)
        codes = long.codes
        intake_p, t0_p, covs_p = _intake(long, y, t, self.covariates_)
        features = self._features(intake_p, covs_p)
        per_patient = _PatientCourses(
            intake=intake_p,
            t0=t0_p,
            params=self._course_params(features, progress=progress),
            cov_missing=np.isnan(features).any(axis=1) & ~np.isnan(intake_p),
        )
        starts = long.starts
        heads = starts[np.searchsorted(starts, np.arange(0, len(y), _TRACK_BLOCK_ROWS))]
        edges = np.unique(np.r_[0, heads, len(y)])
        for begin, end in itertools.pairwise(edges if len(edges) > 1 else [0, 0]):
            rows = slice(int(begin), int(end))
            block = self._track_rows(y[rows], t[rows], codes[rows], per_patient, resolved)
            yield int(begin), {"score": y[rows], **block}

    def _track_rows(
        self,
        y: np.ndarray,
        t: np.ndarray,
        codes: np.ndarray,
        per_patient: _PatientCourses,
        resolved: _Resolved,
    ) -> dict[str, np.ndarray]:
        """:meth:`_track_arrays`' columns (but the score) at rows with scores ``y``, times ``t``
        and patient ``codes``."""
        tau = t - per_patient.t0[codes]
        params = per_patient.params[codes]
        f = _f(np.maximum(tau, 0.0), self.time_transform_)
        mean, sd = self._moments(params, f)
        intake_row = per_patient.intake[codes]
        has_intake = ~np.isnan(intake_row)
        before = has_intake & (tau < 0)
        at_intake = has_intake & (tau == 0)
        mean[before] = np.nan
        sd[before | at_intake] = np.nan
        mean[at_intake] = intake_row[at_intake]
        columns = _track_columns(y, mean, sd, intake_row, at_intake, resolved)
        reason = np.zeros(len(y), dtype=np.int8)
        reason[np.isnan(y)] = 1
        reason[before] = 2
        reason[per_patient.cov_missing[codes]] = 3
        reason[~has_intake] = 4
        return {
            "expected": mean,
            "lower": columns["lower"],
            "upper": columns["upper"],
            "signal": columns["signal"],
            "warning_lower": columns["warning_lower"],
            "warning_upper": columns["warning_upper"],
            "sd": sd,
            "intake": intake_row,
            "time_since_intake": np.where(has_intake, tau, np.nan),
            "deteriorated": columns["deteriorated"],
            "reason": reason,
        }

    def _track_long(
        self, long: Any, rules: SignalRules, caller: str, progress: bool | None = False
    ) -> pd.DataFrame:
        """:meth:`track` on validated long data (the frame has the covariate columns)."""
        arrays = self._track_arrays(long, rules, caller, progress=progress)
        frame = long.frame
        deteriorated = _texts(arrays["deteriorated"], [False, True])
        out = pd.DataFrame(
            {
                "patient": frame["patient"].to_numpy(),
                "session": frame["time"].to_numpy(),
                **arrays,
                "signal": _texts(arrays["signal"], SIGNALS),
                "deteriorated": pd.array(deteriorated, dtype="boolean"),
                "reason": _REASONS[arrays["reason"]],
            }
        )
        out.attrs["level"] = rules.level
        out.attrs["warning_level"] = rules.warning_level
        out.attrs["deterioration_rule"] = self._resolve(rules).rule_text
        return out

    # -- serialisation -----------------------------------------------------------------------

    def to_json(self) -> str:
        """The whole fitted model as JSON text (plain ``json``, exact floats, no pickle).

        Examples
        --------
        >>> from iatrogenic.core.expected_response import (
        ...     ExpectedResponseModel, load_reference_model)
        >>> model = load_reference_model()
        >>> again = ExpectedResponseModel.from_json(model.to_json())
        >>> again.fixed_effects_.equals(model.fixed_effects_)
        True
        """
        s = self._s
        payload: dict[str, Any] = {
            key: s[key]
            for key in (
                "method",
                "time_transform",
                "covariates",
                "better",
                "instrument",
                "k",
                "weights",
                "distance",
                "reliability",
                "sd",
                "fixed_rule",
                "cutoff",
                "intake_mean",
                "intake_sd",
                "sigma2",
                "terms",
                "n_patients",
                "n_obs",
                "columns",
            )
        }
        for key in ("centers", "beta", "beta_cov", "D", "D_flat", "m_global"):
            payload[key] = _serialize.encode_array(s[key])
        nb = s["neighbors"]
        payload["neighbors"] = (
            None
            if nb is None
            else {
                key: (_serialize.encode_array(v) if isinstance(v, np.ndarray) else v)
                for key, v in nb.items()
            }
        )
        payload["growth"] = _serialize.growth_to_dict(s["growth"])
        return _serialize.dumps(payload, kind=_KIND)

    @classmethod
    def from_json(cls, text: str) -> ExpectedResponseModel:
        """Read a model written by :meth:`to_json` (validated; clear errors on bad input)."""
        payload = _serialize.loads(text, kind=_KIND)
        keys = (
            "method", "time_transform", "covariates", "better", "instrument", "k", "weights",
            "distance", "reliability", "sd", "fixed_rule", "cutoff", "intake_mean", "intake_sd",
            "sigma2", "terms", "n_patients", "n_obs", "columns", "centers", "beta", "beta_cov",
            "D", "D_flat", "m_global", "neighbors", "growth",
        )  # fmt: skip
        _serialize.require(payload, keys, kind=_KIND)
        state = dict(payload)
        for key in ("centers", "beta", "beta_cov", "D", "D_flat", "m_global"):
            state[key] = _serialize.decode_array(payload[key], name=key)
        if payload["method"] not in METHODS:
            raise ParameterError(
                f"Malformed {_KIND} document: unknown method {payload['method']!r}."
            )
        nb = payload["neighbors"]
        if payload["method"] == "neighbors":
            if not isinstance(nb, dict):
                raise ParameterError(f"Malformed {_KIND} document: 'neighbors' data missing.")
            state["neighbors"] = {
                key: (_serialize.decode_array(v, name=key) if isinstance(v, dict) else v)
                for key, v in nb.items()
            }
        else:
            state["neighbors"] = None
        state["growth"] = _serialize.growth_from_dict(payload["growth"])
        return cls(state)


# ------------------------------------------------------------------------------------------------
# Vectorised pieces shared with the detector
# ------------------------------------------------------------------------------------------------


def _local_moments(
    nb: dict[str, Any], idx: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Neighbours' weighted mean effect, effect moment (``M00, M01, M11``), residual ratio."""
    eff = nb["effects"][idx]
    cov = nb["effects_cov"][idx]
    mean = w @ eff
    dev = eff - mean
    m = np.array(
        [
            w @ (dev[:, 0] * dev[:, 0] + cov[:, 0]),
            w @ (dev[:, 0] * dev[:, 1] + cov[:, 1]),
            w @ (dev[:, 1] * dev[:, 1] + cov[:, 2]),
        ]
    )
    ratio = float((w @ nb["rss"][idx]) / (w @ nb["nobs"][idx]))
    return mean, m, ratio


def _intake(
    long: Any, y: np.ndarray, t: np.ndarray, covariates: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per patient: intake score (first observed), its time, covariates at the intake row."""
    n_pat = long.n_patients
    codes = long.codes
    rows = np.flatnonzero(~np.isnan(y))
    rc = codes[rows]
    first = np.r_[True, rc[1:] != rc[:-1]] if len(rows) else np.zeros(0, dtype=bool)
    intake = np.full(n_pat, np.nan)
    t0 = np.full(n_pat, np.nan)
    intake[rc[first]] = y[rows[first]]
    t0[rc[first]] = t[rows[first]]
    covs = np.full((n_pat, len(covariates)), np.nan)
    frame = long.frame
    for j, name in enumerate(covariates):
        values = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        _check_constant(values, codes, frame, name)
        covs[rc[first], j] = values[rows[first]]
    return intake, t0, covs


def _check_constant(values: np.ndarray, codes: np.ndarray, frame: pd.DataFrame, name: str) -> None:
    ok = ~np.isnan(values)
    v, c = values[ok], codes[ok]
    if len(v) < 2:
        return
    change = (c[1:] == c[:-1]) & (v[1:] != v[:-1])
    if change.any():
        where = np.flatnonzero(ok)[int(np.flatnonzero(change)[0]) + 1]
        raise InvalidValueError(
            f"Covariate column {name!r} must be constant within each patient (a patient-level "
            f"characteristic), but patient {frame['patient'].iloc[where]!r} has more than one "
            "value. Suggestion: use the value at intake for every row of the patient."
        )


#: Code of an unscored row in the ``signal`` and ``deteriorated`` codes of :func:`_track_columns`.
_UNSCORED = -1
#: Reasons a row is not judged, by their code in :meth:`ExpectedResponseModel._track_arrays`,
#: later ones taking precedence; code 0 (None) is a judged row.
_REASONS = np.array(
    [None, "missing score", "before intake", "covariate missing", "no observed score"],
    dtype=object,
)


def _texts(codes: np.ndarray, texts: Sequence[Any]) -> np.ndarray:
    """``texts[codes]`` as an object array, None where the code is :data:`_UNSCORED`."""
    return np.array([*texts, None], dtype=object)[codes]


def _track_columns(
    y: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
    intake: np.ndarray,
    at_intake: np.ndarray,
    r: _Resolved,
) -> dict[str, np.ndarray]:
    """Bands and signals, vectorised (the same rules as :func:`_signal_one`)."""
    lower = mean - r.z * sd
    upper = mean + r.z * sd
    wl = mean - r.z_warning * sd
    wu = mean + r.z_warning * sd
    scored = ~np.isnan(y)
    harm = r.sign * (y - mean)
    with np.errstate(invalid="ignore"):
        red = harm > r.z * sd
        yellow = harm > r.z_warning * sd
        worse = r.sign * (y - intake)
        if r.points is None:
            det = np.zeros(len(y), dtype=bool)
        else:
            det = worse >= r.points if r.inclusive else worse > r.points
        red = (red | det) & ~at_intake
        yellow = yellow & ~at_intake
        white = (
            np.zeros(len(y), dtype=bool) if r.cutoff is None else r.sign * (y - r.cutoff) < 0
        )
    # positions in SIGNALS (white, green, yellow, red): the text is made where a caller needs it
    if r.functional_first:
        signal = np.select([white, red, yellow], [0, 3, 2], 1).astype(np.int8)
    else:
        signal = np.select([red, yellow, white], [3, 2, 0], 1).astype(np.int8)
    signal[~scored] = _UNSCORED
    deteriorated = det.astype(np.int8)
    deteriorated[~scored] = _UNSCORED
    return {
        "lower": lower,
        "upper": upper,
        "warning_lower": wl,
        "warning_upper": wu,
        "signal": signal,
        "deteriorated": deteriorated,
    }


def _signal_one(
    y: float, mean: float, sd: float, intake: float, at_intake: bool, r: _Resolved
) -> tuple[str, bool]:
    """Signal of one scored row (the monitor's hot path; same rules as :func:`_track_columns`)."""
    harm = r.sign * (y - mean)
    if r.points is None:
        det = False
    else:
        worse = r.sign * (y - intake)
        det = worse >= r.points if r.inclusive else worse > r.points
    red = (harm > r.z * sd or det) and not at_intake
    yellow = harm > r.z_warning * sd and not at_intake
    white = r.cutoff is not None and r.sign * (y - r.cutoff) < 0
    if r.functional_first and white:
        return "white", det
    if red:
        return "red", det
    if yellow:
        return "yellow", det
    if white:
        return "white", det
    return "green", det


# ------------------------------------------------------------------------------------------------
# Fitting
# ------------------------------------------------------------------------------------------------


def _check_covariates(value: Any) -> list[str]:
    names = check_column_list(value, name="covariates", caller=_CALLER)
    for name in names:
        if name in _RESERVED:
            raise ParameterError(
                f"The 'covariates' parameter of {_CALLER}() cannot name a column {name!r}: the "
                f"names {', '.join(map(repr, _RESERVED))} are used internally. Suggestion: "
                "rename the column."
            )
    return names


def fit_expected_response(
    reference: pd.DataFrame,
    *,
    method: str = "hlm",
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    covariates: str | Sequence[str] | None = None,
    instrument: str | _instruments.Instrument | None = None,
    better: str | None = None,
    time_transform: str = "log",
    k: int = 50,
    weights: str = "tricube",
    distance: str = "euclidean",
    reliability: float | None = None,
    sd: float | None = None,
    cutoff: float | None = None,
    maxiter: int = 1000,
) -> ExpectedResponseModel:
    """Fit the expected treatment response of a reference sample.

    Parameters
    ----------
    reference : DataFrame
        Long format: one row per patient and session of the reference patients (numeric
        sessions). Each patient's first observed score is its intake; the growth model is fitted
        on the later scores. A ``dask.dataframe.DataFrame`` is fitted from per-patient sums
        gathered over its partitions, to the same model (see ``docs/dask.md``).
    method : {"hlm", "neighbors"}, default "hlm"
        ``"hlm"``: the expected course of a new patient is the growth model's fixed part at the
        patient's intake (and covariates). ``"neighbors"``: it is corrected by the ``k`` reference
        patients most similar at intake (see Notes).
    patient, time, score : str
        Column names (also the defaults of :meth:`ExpectedResponseModel.track`).
    covariates : str or list of str, optional
        Numeric patient-level columns (constant within patient) entering, like intake, as
        covariates of intercept and slope, and as neighbour features. Dummy-code categories
        first.
    instrument : str or Instrument, optional
        Gives ``better``, the score range, the caseness cut-off (white signal), the fixed
        reliable-change rule and the reliability (red signal).
    better : {"lower", "higher"}, optional
        Direction of improvement; default the instrument's, else ``"lower"``.
    time_transform : {"log", "linear"}, default "log"
        Time function of time since intake ``tau``: ``"log"`` is ``log(1 + tau)`` (fast early
        change that levels off, the usual shape of psychotherapy dose-response), ``"linear"`` is
        ``tau``.
    k : int, default 50
        Number of neighbours (``method="neighbors"``); ties at the k-th distance are all
        included. ``k`` at least the number of reference patients uses them all.
    weights : {"tricube", "uniform"}, default "tricube"
        Neighbour weights: tricube ``(1 - (d / d_max)^3)^3`` of the distance relative to the
        farthest neighbour (Cleveland's loess), or equal.
    distance : {"euclidean", "mahalanobis"}, default "euclidean"
        Euclidean distance on features standardised by the reference SDs, or Mahalanobis
        distance (whitened by the reference covariance of the features).
    reliability, sd : float, optional
        Reliability and SD of the statistical deterioration rule; default the instrument's, the
        SD else the reference's intake SD.
    cutoff : float, optional
        Functional cut-off of the white signal (functional when the score is below it, above it
        when higher is better); default the instrument's caseness threshold.
    maxiter : int, default 1000
        Iteration limit of the growth model's optimiser.

    Returns
    -------
    ExpectedResponseModel

    Raises
    ------
    ParameterError, ParameterTypeError
        A bad keyword value.
    ColumnNotFoundError, ColumnTypeError, InvalidValueError, EmptyDataError
        Bad data (non-numeric sessions, covariates varying within a patient, no post-intake
        scores).

    See Also
    --------
    iatrogenic.fit_growth : the growth engine.
    iatrogenic.Monitor : live monitoring with a fitted model.

    Notes
    -----
    **hlm.** With ``tau`` the time since intake, ``f = f(tau)``, ``x`` the intake score and
    ``c`` the covariates (all centred at their reference means), the model fitted on the
    post-intake scores (``tau > 0``) is::

        y = b0 + b1 f + bx x + bc c + bxt x f + bct c f + u0 + u1 f + e

    with ``(u0, u1) ~ N(0, D)`` and ``e ~ N(0, sigma^2)`` (:func:`~iatrogenic.fit_growth`, REML).
    For a new patient with intake ``x`` the expected score at ``tau`` is the fixed part
    ``x_tau' beta`` and its variance is::

        x_tau' Var(beta) x_tau + z_tau' D z_tau + sigma^2,    z_tau = (1, f)

    ``D`` is the random-effect covariance *given intake*: intake explains part of where a
    patient goes, and the rest is unknown for a new patient. Two approximations: intake's own
    measurement error is not modelled (the intake score is conditioned on as observed, which is
    exact when the joint distribution is normal, as here), and ``Var(beta)`` treats the variance
    components as known. Bands are normal quantiles; scores bounded by the instrument's range
    (floor effects) make them approximate near the ends.

    **neighbors.** The reference patients are described by features (intake, covariates),
    standardised. For a new patient, the ``k`` nearest (ties included) get weights ``w_j``
    (summing to 1). With ``b_j`` the neighbours' empirical-Bayes effects, ``C_j`` their
    conditional covariances and ``r_j`` their residual variance about their own fitted curves:

    - expected ``= x_tau' beta + z_tau' sum_j w_j b_j``: each neighbour's fitted curve, moved to
      the new patient's intake by the model's intake effect, averaged;
    - random-effect variance ``= z' D z * (z' M_w z) / (z' M z)`` with ``M_w = sum_j w_j
      [(b_j - b_w)(b_j - b_w)' + C_j]`` (the neighbours' spread of courses) and ``M`` the same
      with equal weights over the whole reference;
    - residual variance ``= sigma^2 * (sum_j w_j RSS_j / sum_j w_j n_j) / (sum RSS / sum n)``.

    With ``k`` equal to the reference size and uniform weights, ``sum_j b_j = 0`` exactly (the
    GLS normal equations: ``sum_i Z_i' V_i^-1 (y_i - X_i beta) = 0`` because ``Z`` is part of
    ``X``, and ``b_i = D Z_i' V_i^-1 (y_i - X_i beta)``), ``M_w = M`` and the residual ratio is
    1: the method reduces to hlm up to rounding (tested to 1e-9).

    References
    ----------
    Finch AE, Lambert MJ, Schaalje BG (2001). Psychotherapy quality control: the statistical
    generation of expected recovery curves for integration into an early warning system.
    Clinical Psychology & Psychotherapy 8(4):231-242.

    Lutz W, Leach C, Barkham M, et al. (2005). Predicting change for individual psychotherapy
    clients on the basis of their nearest neighbors. Journal of Consulting and Clinical
    Psychology 73(5):904-913.

    Lutz W, Lambert MJ, Harmon SC, et al. (2006). The probability of treatment success, failure
    and duration - what can be learned from empirical data to support decision making in
    clinical practice? Clinical Psychology & Psychotherapy 13(4):223-232.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> from iatrogenic.core.expected_response import fit_expected_response
    >>> data = ia.datasets.load_example()
    >>> model = fit_expected_response(data, score="phq9", instrument="phq9")
    >>> model.fixed_effects_.index.tolist()
    ['intercept', 'time', 'intake', 'intake:time']
    >>> tracked = model.track(data)
    >>> sorted(tracked["signal"].dropna().unique())
    ['green', 'red', 'white', 'yellow']
    """
    if is_dask_frame(reference):
        return dispatch("fit_expected_response", locals())
    options = _checked_options(
        method=method, time_transform=time_transform, weights=weights, distance=distance, k=k,
        covariates=covariates, instrument=instrument, better=better, reliability=reliability,
        sd=sd, cutoff=cutoff,
    )
    method, time_transform, weights, distance = (
        options["method"], options["time_transform"], options["weights"], options["distance"]
    )
    k, covs, inst, better = options["k"], options["covs"], options["inst"], options["better"]
    reliability, sd, cutoff = options["reliability"], options["sd"], options["cutoff"]
    long = _reference_long(reference, patient=patient, time=time, score=score, covs=covs,
                           inst=inst)
    rows = _ReferenceRows.of(long, covs)
    features_p = rows.features
    used = _used_patients(rows.codes[rows.rows])
    summary = _ReferenceSummary.of(features_p, used)
    names = ["intake", *covs]
    growth = fit_growth(
        rows.fit_frame(summary.centers, names),
        patient="patient",
        time="tau",
        score="score",
        time_transform="log1p" if time_transform == "log" else "linear",
        random="slope",
        covariates=names,
        maxiter=maxiter,
    )
    keep = growth._state.n_patient_obs > 0
    g_codes = np.asarray(growth._state.patients, dtype=np.int64)[keep]
    rss, nobs = rows.residual_sums(
        summary.centers, growth, g_codes, np.arange(long.n_patients), time_transform
    )
    return _assemble(
        growth=growth,
        features_p=features_p,
        summary=summary,
        rss=rss,
        nobs=nobs,
        n_obs=len(rows.rows),
        method=method,
        time_transform=time_transform,
        covs=covs,
        better=better,
        inst=inst,
        k=k,
        weights=weights,
        distance=distance,
        reliability=reliability,
        sd=sd,
        cutoff=cutoff,
        columns={"patient": patient, "time": time, "score": score},
    )


def _checked_options(
    *,
    method: str,
    time_transform: str,
    weights: str,
    distance: str,
    k: int,
    covariates: str | Sequence[str] | None,
    instrument: str | _instruments.Instrument | None,
    better: str | None,
    reliability: float | None,
    sd: float | None,
    cutoff: float | None,
) -> dict[str, Any]:
    """:func:`fit_expected_response`'s keywords, checked (``covs`` the covariate list, ``inst``
    the instrument)."""
    inst = _instruments.get(instrument) if instrument is not None else None
    return {
        "method": check_choice(method, METHODS, name="method", caller=_CALLER),
        "time_transform": check_choice(
            time_transform, TIME_TRANSFORMS, name="time_transform", caller=_CALLER
        ),
        "weights": check_choice(weights, WEIGHTS, name="weights", caller=_CALLER),
        "distance": check_choice(distance, DISTANCES, name="distance", caller=_CALLER),
        "k": check_number(k, name="k", caller=_CALLER, low=1, integer=True),
        "covs": _check_covariates(covariates),
        "inst": inst,
        "better": resolve_better(better, inst, caller=_CALLER),
        "reliability": check_fraction(
            reliability, name="reliability", caller=_CALLER, allow_none=True
        ),
        "sd": check_positive(sd, name="sd", caller=_CALLER, allow_none=True),
        "cutoff": check_number(cutoff, name="cutoff", caller=_CALLER, allow_none=True),
    }


def _reference_long(
    reference: Any,
    *,
    patient: str,
    time: str,
    score: str,
    covs: list[str],
    inst: _instruments.Instrument | None,
) -> Any:
    """The reference sample, validated (:func:`prepare_long` with the covariates)."""
    check_dataframe(reference, caller=_CALLER, name="reference")
    for name in covs:
        if name in (patient, time, score):
            raise ParameterError(
                f"Column {name!r} passed to {_CALLER}() as a covariate is also the patient, time "
                "or score column."
            )
    return prepare_long(
        reference,
        patient=patient,
        time=time,
        score=score,
        caller=_CALLER,
        instrument=inst,
        extra={f"covariates[{i}]": c for i, c in enumerate(covs)},
        numeric_extra=[f"covariates[{i}]" for i in range(len(covs))],
    )


@dataclass
class _ReferenceRows:
    """The rows of a reference sample a fit uses, and each patient's intake features.

    ``features`` is ``(intake, covariates...)`` per patient; ``rows`` are the scores after
    intake of patients with every feature; ``codes`` and ``tau`` (time since intake) are per
    row of the validated frame. Everything is per patient, so partitions holding whole patients
    give the same numbers.
    """

    codes: np.ndarray
    tau: np.ndarray
    y: np.ndarray
    features: np.ndarray
    rows: np.ndarray

    @classmethod
    def of(cls, long: Any, covs: Sequence[str]) -> _ReferenceRows:
        t = numeric_time(long, caller=_CALLER)
        y = long.frame["score"].to_numpy(dtype=np.float64)
        intake_p, t0_p, covs_p = _intake(long, y, t, covs)
        codes = long.codes
        tau = t - t0_p[codes]
        features = np.column_stack([intake_p, covs_p])
        ok_p = ~np.isnan(features).any(axis=1)
        rows = np.flatnonzero(~np.isnan(y) & (tau > 0) & ok_p[codes])
        return cls(codes=codes, tau=tau, y=y, features=features, rows=rows)

    def fit_frame(self, centers: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
        """The growth model's data: post-intake scores with the centred features."""
        rows, codes = self.rows, self.codes
        centred = self.features - centers
        frame = pd.DataFrame({"patient": codes[rows], "tau": self.tau[rows], "score": self.y[rows]})
        for j, name in enumerate(names):
            frame[name] = centred[codes[rows], j]
        return frame

    def residual_sums(
        self,
        centers: np.ndarray,
        growth: GrowthModel,
        g_codes: np.ndarray,
        global_codes: np.ndarray,
        time_transform: str,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Residual sum of squares and number of rows of every patient in ``g_codes``, about
        their own fitted course; ``global_codes`` maps this data's patient codes to the codes of
        the growth model (those of the whole reference)."""
        gs = growth._state
        beta = np.asarray(gs.beta, dtype=np.float64)
        keep = gs.n_patient_obs > 0
        eff = np.asarray(gs.effects, dtype=np.float64)[keep]
        rows = self.rows
        centred = self.features - centers
        pos = np.searchsorted(g_codes, global_codes[self.codes[rows]])
        f_rows = _f(self.tau[rows], time_transform)
        p = centred.shape[1]
        X = np.empty((len(rows), 2 + 2 * p))
        X[:, 0] = 1.0
        X[:, 1] = f_rows
        X[:, 2 : 2 + p] = centred[self.codes[rows]]
        X[:, 2 + p :] = centred[self.codes[rows]] * f_rows[:, None]
        resid = self.y[rows] - X @ beta - eff[pos, 0] - eff[pos, 1] * f_rows
        rss = np.bincount(pos, weights=resid * resid, minlength=len(g_codes))
        nobs = np.bincount(pos, minlength=len(g_codes)).astype(np.float64)
        return rss, nobs


def _used_patients(codes_of_rows: np.ndarray) -> np.ndarray:
    """The patients with scores after intake; refuse a reference with (almost) none."""
    if len(codes_of_rows) == 0:
        raise EmptyDataError(
            f"The reference passed to {_CALLER}() has no score after intake (each patient's "
            "first observed score): nothing to learn a course from. Suggestion: pass patients "
            "with at least two observed sessions."
        )
    used = np.unique(codes_of_rows)
    if len(used) < 3:
        raise EmptyDataError(
            f"The reference passed to {_CALLER}() has {len(used)} patient(s) with scores after "
            "intake; a growth model needs many more. Suggestion: pass a larger reference sample."
        )
    return used


@dataclass(frozen=True)
class _ReferenceSummary:
    """Sample-wide values of a reference: intake mean and SD, the features' centres."""

    intake_mean: float
    intake_sd: float
    centers: np.ndarray

    @classmethod
    def of(cls, features_p: np.ndarray, used: np.ndarray) -> _ReferenceSummary:
        intake_p = features_p[:, 0]
        intake_all = intake_p[~np.isnan(intake_p)]
        return cls(
            intake_mean=float(np.mean(intake_all)),
            intake_sd=float(np.std(intake_all, ddof=1)) if len(intake_all) > 1 else float("nan"),
            centers=features_p[used].mean(axis=0),
        )


def _assemble(
    *,
    growth: GrowthModel,
    features_p: np.ndarray,
    summary: _ReferenceSummary,
    rss: np.ndarray,
    nobs: np.ndarray,
    n_obs: int,
    method: str,
    time_transform: str,
    covs: list[str],
    better: str,
    inst: _instruments.Instrument | None,
    k: int,
    weights: str,
    distance: str,
    reliability: float | None,
    sd: float | None,
    cutoff: float | None,
    columns: dict[str, str],
) -> ExpectedResponseModel:
    """The fitted model from the growth fit and the reference patients' residual sums."""
    names = ["intake", *covs]
    centers = summary.centers
    gs = growth._state
    beta = np.asarray(gs.beta, dtype=np.float64)
    beta_cov = np.asarray(gs.beta_cov, dtype=np.float64)
    D = growth.random_effects_cov_.to_numpy(dtype=np.float64)
    sigma2 = float(gs.sigma2)

    # Per reference patient (of the growth model, in its order): effects, residual sums.
    g_codes = np.asarray(gs.patients, dtype=np.int64)
    eff = np.asarray(gs.effects, dtype=np.float64)
    ecov = np.asarray(gs.effects_cov, dtype=np.float64)
    keep = gs.n_patient_obs > 0
    g_codes, eff, ecov = g_codes[keep], eff[keep], ecov[keep]
    p = len(names)
    ecov_flat = np.column_stack([ecov[:, 0, 0], ecov[:, 0, 1], ecov[:, 1, 1]])
    state: dict[str, Any] = {
        "method": method,
        "time_transform": time_transform,
        "covariates": covs,
        "better": better,
        "instrument": inst.name if inst is not None else None,
        "k": int(k),
        "weights": weights,
        "distance": distance,
        "reliability": (
            reliability if reliability is not None else (inst.reliability if inst else None)
        ),
        "sd": sd if sd is not None else (inst.sd if inst is not None else None),
        "fixed_rule": (
            float(inst.fixed_rule.points) if inst is not None and inst.fixed_rule else None
        ),
        "cutoff": cutoff if cutoff is not None else _caseness_cutoff(inst, better),
        "intake_mean": summary.intake_mean,
        "intake_sd": summary.intake_sd,
        "sigma2": sigma2,
        "terms": [str(term) for term in gs.terms],
        "n_patients": len(g_codes),
        "n_obs": n_obs,
        "columns": dict(columns),
        "centers": centers,
        "beta": beta,
        "beta_cov": beta_cov,
        "D": D,
        "D_flat": np.array([D[0, 0], D[0, 1], D[1, 1]]),
        "growth": growth,
    }
    uniform = np.full(len(g_codes), 1.0 / len(g_codes))
    nb: dict[str, Any] = {
        "effects": eff,
        "effects_cov": ecov_flat,
        "rss": rss,
        "nobs": nobs,
    }
    _, m_global, ratio_global = _local_moments(nb, np.arange(len(g_codes)), uniform)
    state["m_global"] = m_global
    if method == "neighbors":
        raw = features_p[g_codes]
        shift = raw.mean(axis=0)
        if distance == "euclidean":
            scale = raw.std(axis=0, ddof=1) if len(raw) > 1 else np.ones(p)
            scale = np.where(scale > 0, scale, 1.0)
            transform = np.diag(1.0 / scale)
        else:
            cov = np.atleast_2d(np.cov(raw, rowvar=False))
            try:
                chol = np.linalg.cholesky(cov)
            except np.linalg.LinAlgError as error:
                raise InvalidValueError(
                    f"distance='mahalanobis' in {_CALLER}() needs features with a non-singular "
                    "covariance (a covariate is constant or collinear with another). "
                    "Suggestion: drop it or use distance='euclidean'."
                ) from error
            transform = np.linalg.inv(chol).T
        nb.update(
            {
                "features": raw,
                "shift": shift,
                "transform": transform,
                "phi": (raw - shift) @ transform,
                "ratio_global": ratio_global,
            }
        )
        state["neighbors"] = nb
    else:
        state["neighbors"] = None
    return ExpectedResponseModel(state)


def _caseness_cutoff(inst: _instruments.Instrument | None, better: str) -> float | None:
    """The instrument's caseness threshold as a functional cut-off, when it fits ``better``.

    Functional means ``score < threshold`` (lower is better) or ``score > threshold`` (higher is
    better); a caseness written the other way round is not used (white is then never given).
    """
    if inst is None or inst.caseness is None:
        return None
    case = inst.caseness
    if better == "lower" and case.clinical_if == ">=":
        return float(case.threshold)
    if better == "higher" and case.clinical_if == "<=":
        return float(case.threshold)
    return None


# ------------------------------------------------------------------------------------------------
# Bundled reference model
# ------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _reference_text() -> str:
    resource = files("iatrogenic.datasets").joinpath("data", REFERENCE_MODEL_FILE)
    return resource.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _reference_model() -> ExpectedResponseModel:
    return ExpectedResponseModel.from_json(_reference_text())


def load_reference_model() -> ExpectedResponseModel:
    """The bundled PHQ-9 expected-response model, for screening without a reference sample.

    Fitted by ``fit_expected_response(load_example(), method="hlm", score="phq9",
    instrument="phq9", time_transform="log")`` and stored as JSON in the package.

    **Limits.** It comes from *simulated* data (600 patients of 30 therapists, weekly sessions,
    planned courses of 6-16 sessions, log-shaped recovery), including the example's injected
    harms (8% deteriorate), not from a real service. Its expected courses and bands are only
    as right for your patients as that simulation is like your service: it knows PHQ-9 only,
    assumes sessions counted one per week from intake, and has no case-mix covariates. For real
    decisions fit your own model on your own service's past patients with
    :func:`fit_expected_response`.

    Returns
    -------
    ExpectedResponseModel
        A shared, cached instance: do not modify it.

    Examples
    --------
    >>> from iatrogenic.core.expected_response import load_reference_model
    >>> model = load_reference_model()
    >>> model.instrument_, model.method_, model.n_patients_
    ('phq9', 'hlm', ...)
    """
    return _reference_model()


def _write_reference_model() -> None:  # pragma: no cover - maintenance helper
    """Refit the bundled reference model from the example data and write it."""
    from pathlib import Path

    from ..datasets import load_example

    model = fit_expected_response(load_example(), **REFERENCE_MODEL_ARGS)
    path = Path(str(files("iatrogenic.datasets").joinpath("data", REFERENCE_MODEL_FILE)))
    path.write_text(model.to_json(), encoding="utf-8")
    _reference_text.cache_clear()
    _reference_model.cache_clear()

