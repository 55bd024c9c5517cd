"""Reliable change and clinical significance per patient, as clinicalsignificance 3.0.0 computes it.

One vectorised pass: pick each patient's pre and post score, compute the reliable change index of
the chosen method, compare it with the critical value, optionally compare the scores with a
clinical cut-off, and categorise. Every patient of the input keeps a row; those that cannot be
evaluated carry a ``reason``. See ``docs/reliable-change.md`` for the formulas and the documented
differences from clinicalsignificance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._validation import (
    check_choice,
    check_number,
    check_pair,
    check_patient_level,
    prepare_long,
    resolve_better,
)
from ..dask import dispatch, is_dask_frame
from ..exceptions import EmptyDataError, InvalidValueError, ParameterError, ParameterTypeError
from ..instruments import registry
from . import rci as _rci
from .cutoffs import cutoff_ha, cutoff_jt

__all__ = ["CATEGORIES_CHANGE", "CATEGORIES_COMBINED", "METHODS", "reliable_change"]

#: RCI methods accepted by ``method=``.
METHODS = ("JT", "GLN", "HLL", "EN", "NK", "HA", "HLM")
#: Categories without a clinical cut-off (and of the cut-off-only statistical approach).
CATEGORIES_CHANGE = ("improved", "unchanged", "deteriorated")
#: Categories when the RCI is combined with a clinical cut-off.
CATEGORIES_COMBINED = ("recovered", "improved", "unchanged", "deteriorated", "harmed")

_CALLER = "reliable_change"
#: Minimum number of observed scores of a patient for the HLM method (as clinicalsignificance).
_HLM_MIN_SCORES = 3


@dataclass(frozen=True)
class SampleStatistics:
    """Statistics of the pre and post scores over the patients with both (as R computes them).

    The RCI methods other than JT, the HA cut-offs and the norms taken from the data use them;
    they depend on the whole sample, so the Dask path computes them once over every partition.
    """

    n_used: int
    m_pre: float
    m_post: float
    sd_pre: float
    sd_post: float
    correlation: float = math.nan


def sample_statistics(
    pre_used: np.ndarray, post_used: np.ndarray, *, correlation: bool = False
) -> SampleStatistics:
    """Means, SDs (``ddof=1``) and, for HA, the pre-post correlation of the patients used.

    ``pre_used`` and ``post_used`` are in patient order (as the pandas path holds them), so that
    the sums are the same floating-point numbers on every path.
    """
    n_used = len(pre_used)
    m_pre, m_post = float(pre_used.mean()), float(post_used.mean())
    sd_pre = float(pre_used.std(ddof=1)) if n_used > 1 else math.nan
    sd_post = float(post_used.std(ddof=1)) if n_used > 1 else math.nan
    rho = math.nan
    # HA checks the post SD before it needs the correlation
    if correlation and n_used > 1 and sd_post > 0:
        centred_pre, centred_post = pre_used - m_pre, post_used - m_post
        rho = float(np.dot(centred_pre, centred_post) / math.sqrt(
            np.dot(centred_pre, centred_pre) * np.dot(centred_post, centred_post)))
    return SampleStatistics(n_used, m_pre, m_post, sd_pre, sd_post, rho)


def _plain(value: Any) -> Any:
    """A numpy scalar as the matching Python scalar (for ``attrs`` and messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _occasion_rows(
    times: pd.Series,
    occasion: Any,
    codes: np.ndarray,
    n_patients: int,
    keyword: str,
    must_exist: bool = True,
) -> np.ndarray:
    """Row of each patient at ``occasion`` (-1 where the patient has no such row).

    ``must_exist=False`` (a partition of the data, whose other partitions may have the
    occasion) returns -1 everywhere instead of refusing an occasion no row has.
    """
    try:
        mask = (times == occasion).to_numpy(dtype=bool, na_value=False)
    except (TypeError, ValueError) as error:
        raise ParameterTypeError(
            f"The {keyword!r} parameter of {_CALLER}() must be a value of the occasion column; "
            f"{occasion!r} cannot be compared with it ({error})."
        ) from None
    if not mask.any() and must_exist:
        raise _missing_occasion(keyword, occasion, pd.unique(times))
    rows = np.full(n_patients, -1, dtype=np.int64)
    positions = np.flatnonzero(mask)
    rows[codes[positions]] = positions
    return rows


def _missing_occasion(keyword: str, occasion: Any, occasions: Any) -> ParameterError:
    """The error for an occasion no row has; ``occasions`` in the sorted data's order."""
    shown = ", ".join(repr(_plain(v)) for v in list(occasions)[:10])
    return ParameterError(
        f"The {keyword!r} parameter of {_CALLER}() names occasion {occasion!r}, but the "
        f"occasion column (given as time=) has no such value. Occasions in the data "
        f"include: {shown}. Suggestion: pass {keyword}= one of these, or leave it None for "
        f"the {'first' if keyword == 'pre' else 'last'} observed score."
    )


def _first_last(
    eligible: np.ndarray, starts: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """First and last eligible row of each patient (-1 where none), without a Python loop."""
    index = np.arange(n_rows, dtype=np.int64)
    first = np.minimum.reduceat(np.where(eligible, index, n_rows), starts[:-1])
    last = np.maximum.reduceat(np.where(eligible, index, -1), starts[:-1])
    first[first == n_rows] = -1
    return first, last


def _take(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = values[np.maximum(rows, 0)]
    if out.dtype.kind == "f":
        out[rows < 0] = np.nan
    return out


def _boolean(values: np.ndarray, missing: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(values.astype(bool, copy=False), missing)


def _resolve_norm(
    value: Any, default: tuple[float, float] | None, name: str
) -> tuple[float, float] | None:
    pair = check_pair(value, name=name, caller=_CALLER)
    return pair if pair is not None else default


def reliable_change(
    data: pd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    pre: Any = None,
    post: Any = None,
    instrument: str | registry.Instrument | None = None,
    reliability: float | None = None,
    reliability_post: float | None = None,
    sd: float | None = None,
    method: str | None = "JT",
    cutoff: float | Literal["caseness"] | None = None,
    cutoff_type: Literal["a", "b", "c"] | None = None,
    cutoff_method: Literal["JT", "HA"] | None = None,
    clinical: tuple[float, float] | None = None,
    functional: tuple[float, float] | None = None,
    better: Literal["lower", "higher"] | None = None,
    alpha: float = 0.05,
    rule: Literal["statistical", "fixed"] = "statistical",
    boundary: Literal["strict", "inclusive"] = "strict",
    group: str | None = None,
    cutoff_sd: Literal["functional", "clinical"] = "functional",
    fixed_points: float | None = None,
) -> pd.DataFrame:
    """Reliable change index and clinical significance category of every patient.

    Reproduces the R package clinicalsignificance 3.0.0 (``cs_distribution``, ``cs_statistical``,
    ``cs_combined``) to floating-point precision, with the documented differences listed in
    ``docs/reliable-change.md`` (cut-off b uses the functional SD by default; patients without a
    pre or post score keep a row with a ``reason``).

    Parameters
    ----------
    data : DataFrame
        Long format: one row per patient and occasion. A ``dask.dataframe.DataFrame`` gives a
        lazy Dask DataFrame of the same rows, the sample-wide statistics computed over every
        partition first (see ``docs/dask.md``).
    patient, time, score : str
        Column names of the patient id, the occasion and the score.
    pre, post : scalar, optional
        Occasions (values of the ``time`` column, e.g. ``1`` and ``4`` or ``"pre"`` and
        ``"post"``) whose scores are compared. Default: each patient's first and last observed
        (non-missing) score; with only ``pre`` given, the last observed score after it, with only
        ``post`` given, the first observed score before it.
    instrument : str or Instrument, optional
        Registry instrument supplying the reliability, SD, direction, range (scores outside it
        raise :class:`~iatrogenic.exceptions.OutOfRangeError`), caseness cut-off (``cutoff=
        "caseness"``), clinical and functional norms and the fixed rule. Explicit arguments win.
    reliability : float, optional
        Reliability in [0, 1). Needed by every RCI method and by HA cut-offs.
    reliability_post : float, optional
        Reliability at post, NK method only; defaults to ``reliability``.
    sd : float, optional
        SD used by the RCI. Default: the instrument's SD, else the SD of the pre scores of the
        patients used (as clinicalsignificance). For HA it replaces the pre SD only.
    method : {"JT", "GLN", "HLL", "EN", "NK", "HA", "HLM"} or None, default "JT"
        RCI method. ``None`` is the cut-off-only "statistical approach" (``cs_statistical``) and
        needs a cut-off. ``"HLM"`` is clinicalsignificance's hierarchical linear model method:
        ``lmer(score ~ time + (time | patient), REML = TRUE)`` on the raw (numeric) occasion
        values of the patients with at least 3 observed scores (fitted by
        :func:`~iatrogenic.core.growth.fit_growth`); ``rci`` is the patient's empirical-Bayes
        slope deviation divided by its conditional SD and is compared with 1.96 (R's literal);
        ``pre``/``post`` are the first and last observed scores, and the output gains an
        ``n_obs`` column. It needs no reliability; ``pre=``, ``post=`` and ``rule="fixed"`` do
        not apply.
    cutoff : float or "caseness", optional
        A cut-off score, overriding ``cutoff_type``; ``"caseness"`` takes the instrument's
        caseness threshold and its own comparison (PHQ-9 ``>= 10`` is clinical).
    cutoff_type : {"a", "b", "c"}, optional
        Jacobson & Truax cut-off computed from the norms. Giving it (or ``cutoff``) switches on
        the five clinical significance categories.
    cutoff_method : {"JT", "HA"}, optional
        How the cut-off is computed and applied; default ``"HA"`` with ``method="HA"``, else
        ``"JT"`` (as clinicalsignificance).
    clinical, functional : (mean, sd), optional
        Norms of the clinical and functional populations. ``clinical`` defaults to the
        instrument's clinical norm, else the mean and SD of the pre scores used (as R);
        ``functional`` to the instrument's functional norm; b and c need one.
    better : {"lower", "higher"}, optional
        Direction of improvement; default the instrument's, else ``"lower"``.
    alpha : float, default 0.05
        Significance level: critical value ``z_{1-alpha/2}`` (1.96), for HA one-sided
        ``z_{1-alpha}`` (1.645), as clinicalsignificance.
    rule : {"statistical", "fixed"}, default "statistical"
        ``"fixed"`` replaces the RCI test by the instrument's published threshold in points
        (``instrument.fixed_rule.points`` or ``fixed_points``): reliable change when
        ``|change| >= points`` (inclusive, as the published rules read "6 or more points" for
        PHQ-9); ``rci`` is then ``change / points`` so that ``|rci| >= 1`` marks reliable change.
    boundary : {"strict", "inclusive"}, default "strict"
        ``"strict"``: reliable when ``|rci| > critical`` and a score is clinical at pre when
        strictly beyond the cut-off, functional at post when strictly on the better side (as
        clinicalsignificance); ``"inclusive"`` uses ``>=`` / ``<=`` for all of these.
    group : str, optional
        Column of a patient-level grouping (e.g. treatment arm), copied to the output for
        :func:`~iatrogenic.core.summary.change_summary`. Statistics stay pooled (as R).
    cutoff_sd : {"functional", "clinical"}, default "functional"
        SD in cut-off b: the functional SD (Jacobson & Truax 1991) or the clinical SD
        (clinicalsignificance 3.0.0).
    fixed_points : float, optional
        Threshold of ``rule="fixed"`` when no instrument supplies one.

    Returns
    -------
    DataFrame
        One row per patient of the input, in patient order, with columns:

        - ``patient``: the id;
        - ``pre``, ``post``: the scores compared (NaN when absent);
        - ``change``: ``post - pre``;
        - ``rci``: the method's index (z-like; NaN when not evaluable or ``method=None``;
          ``change / points`` with ``rule="fixed"``);
        - ``category`` (categorical): ``improved`` / ``unchanged`` / ``deteriorated``; with a
          cut-off and an RCI ``recovered`` / ``improved`` / ``unchanged`` / ``deteriorated`` /
          ``harmed``; with ``method=None`` the cut-off-only categories of ``cs_statistical``
          (improved = crossed from clinical to functional, deteriorated = started functional and
          ended outside the functional range); NaN when not evaluable;
        - ``reason``: why the patient could not be evaluated (e.g. ``"no score at pre occasion
          1"``, ``"only one observed score"``), missing otherwise;
        - ``improved``, ``deteriorated``, ``unchanged`` (nullable boolean): the category as
          flags (``improved`` excludes recovered, ``deteriorated`` excludes harmed, as R);
        - with a cut-off: ``clinical_pre`` (pre score in the clinical range),
          ``functional_post`` (post score in the functional range; for HA cut-offs: reliably, by
          ``cs_indiv``), ``recovered`` (clinical at pre, functional at post and reliably
          improved), ``harmed`` (not clinical at pre, not functional at post and reliably
          deteriorated);
        - with an HA cut-off: ``cs_indiv`` (Hageman & Arrindell's individual clinical
          significance index) and ``clinical_post`` (started outside the clinical range and
          reliably ended in it);
        - ``group`` when ``group`` is given.

        ``result.attrs`` holds the constants: ``approach`` ("distribution", "combined" or
        "statistical"), ``method``, ``rule``, ``boundary``, ``better``, ``direction`` (-1 or 1),
        ``alpha``, ``critical_value``, ``reliability``, ``reliability_post``, ``sd``,
        ``sd_source``, ``m_pre``, ``sd_pre``, ``m_post``, ``sd_post``, ``n_original``,
        ``n_used``, ``pre``, ``post``, ``categories``, the method's ``s_diff``,
        ``se_measurement``, ``se_prediction``, ``se_nk``, ``r_dd`` (whichever apply), ``points``
        (fixed rule), and with a cut-off ``cutoff``, ``cutoff_type``, ``cutoff_method``,
        ``cutoff_sd``, ``m_clinical``, ``sd_clinical``, ``m_functional``, ``sd_functional``,
        and for HA cut-offs ``reliability_clinical``, ``reliability_functional``,
        ``reliability_post_ha``, ``se_measurement_cutoff``, ``critical_value_cutoff``; for HLM
        the fit's ``hlm_fixef_intercept``, ``hlm_fixef_time``, ``hlm_se_intercept``,
        ``hlm_se_time``, ``hlm_var_intercept``, ``hlm_var_time``, ``hlm_cov_intercept_time``,
        ``hlm_residual_variance``, ``hlm_reml_criterion``, ``hlm_converged`` and
        ``critical_value_hlm`` (the threshold applied, 1.96 at alpha 0.05).

    Raises
    ------
    ParameterError, ParameterTypeError, UnknownNameError
        A bad keyword value (the message names it and says what to pass).
    ColumnNotFoundError, ColumnTypeError, InvalidValueError, DuplicateRowsError,
    OutOfRangeError, EmptyDataError
        Bad data (see :func:`iatrogenic._validation.prepare_long`).

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> data = pd.DataFrame({
    ...     "patient": [1, 1, 2, 2, 3, 3, 4],
    ...     "session": [1, 2, 1, 2, 1, 2, 1],
    ...     "score": [20, 8, 15, 14, 9, 19, 12],
    ... })
    >>> out = ia.reliable_change(data, instrument="phq9", sd=5.0)
    >>> out[["patient", "change", "category", "reason"]]
       patient  change      category                   reason
    0        1   -12.0      improved                      NaN
    1        2    -1.0     unchanged                      NaN
    2        3    10.0  deteriorated                      NaN
    3        4     NaN           NaN  only one observed score
    >>> round(out.attrs["critical_value"] * out.attrs["s_diff"], 2)
    4.6
    """
    if is_dask_frame(data):
        return dispatch("reliable_change", locals())
    return _reliable_change(
        data,
        patient=patient,
        time=time,
        score=score,
        pre=pre,
        post=post,
        instrument=instrument,
        reliability=reliability,
        reliability_post=reliability_post,
        sd=sd,
        method=method,
        cutoff=cutoff,
        cutoff_type=cutoff_type,
        cutoff_method=cutoff_method,
        clinical=clinical,
        functional=functional,
        better=better,
        alpha=alpha,
        rule=rule,
        boundary=boundary,
        group=group,
        cutoff_sd=cutoff_sd,
        fixed_points=fixed_points,
    )


def _reliable_change(
    data: pd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    pre: Any = None,
    post: Any = None,
    instrument: str | registry.Instrument | None = None,
    reliability: float | None = None,
    reliability_post: float | None = None,
    sd: float | None = None,
    method: str | None = "JT",
    cutoff: float | Literal["caseness"] | None = None,
    cutoff_type: Literal["a", "b", "c"] | None = None,
    cutoff_method: Literal["JT", "HA"] | None = None,
    clinical: tuple[float, float] | None = None,
    functional: tuple[float, float] | None = None,
    better: Literal["lower", "higher"] | None = None,
    alpha: float = 0.05,
    rule: Literal["statistical", "fixed"] = "statistical",
    boundary: Literal["strict", "inclusive"] = "strict",
    group: str | None = None,
    cutoff_sd: Literal["functional", "clinical"] = "functional",
    fixed_points: float | None = None,
    sample: SampleStatistics | None = None,
    pairs_only: bool = False,
    hlm: HLMFit | None = None,
) -> pd.DataFrame:
    """:func:`reliable_change`, optionally with the sample statistics given.

    ``sample`` replaces the statistics over the patients used that the pandas path computes
    from ``data`` (the Dask path computes them over every partition first); ``pairs_only``
    returns each patient's pre and post score and whether both exist (``patient, pre, post,
    used``) right after they are chosen, for that first pass; it takes ``data`` as a part of
    the data, where a named occasion may be absent. ``hlm`` gives the HLM method's
    fit of the whole sample (the Dask path fits it over every partition).
    """
    method = check_choice(method, (*METHODS, None), name="method", caller=_CALLER)
    if method == "HLM":
        _check_hlm_options(pre=pre, post=post, rule=rule)
    rule = check_choice(rule, ("statistical", "fixed"), name="rule", caller=_CALLER)
    boundary = check_choice(boundary, ("strict", "inclusive"), name="boundary", caller=_CALLER)
    cutoff_sd = check_choice(cutoff_sd, ("functional", "clinical"), name="cutoff_sd",
                             caller=_CALLER)
    alpha = check_number(alpha, name="alpha", caller=_CALLER, low=0, high=1,
                         low_inclusive=False, high_inclusive=False)
    inst = registry.get(instrument) if instrument is not None else None
    direction_name = resolve_better(better, inst, caller=_CALLER)
    direction = -1 if direction_name == "lower" else 1

    if reliability is None and inst is not None:
        reliability = inst.reliability
    reliability = check_number(reliability, name="reliability", caller=_CALLER, low=0, high=1,
                               high_inclusive=False, allow_none=True)
    reliability_post = check_number(reliability_post, name="reliability_post", caller=_CALLER,
                                    low=0, high=1, high_inclusive=False, allow_none=True)
    sd_arg = check_number(sd, name="sd", caller=_CALLER, low=0, low_inclusive=False,
                          allow_none=True)
    sd_source = "argument"
    if sd_arg is None and inst is not None and inst.sd is not None:
        sd_arg, sd_source = float(inst.sd), f"instrument {inst.name!r}"

    # --- cut-off configuration -------------------------------------------------------------
    caseness = None
    cutoff_value: float | None = None
    if isinstance(cutoff, str):
        if cutoff.lower() != "caseness":
            raise ParameterError(
                f"The 'cutoff' parameter of {_CALLER}() must be a number or 'caseness'. Got "
                f"{cutoff!r} instead."
            )
        if inst is None or inst.caseness is None:
            raise ParameterError(
                f"cutoff='caseness' in {_CALLER}() needs an instrument with a caseness "
                f"threshold; got instrument={instrument!r}. Pass instrument='phq9' (for example) "
                "or a number, e.g. cutoff=10."
            )
        caseness = inst.caseness
        cutoff_value = float(caseness.threshold)
    elif cutoff is not None:
        cutoff_value = check_number(cutoff, name="cutoff", caller=_CALLER)
    if cutoff_type is not None:
        cutoff_type = check_choice(cutoff_type, ("a", "b", "c"), name="cutoff_type",
                                   caller=_CALLER)
    use_cutoff = cutoff_value is not None or cutoff_type is not None
    if method is None and not use_cutoff:
        raise ParameterError(
            f"method=None in {_CALLER}() is the cut-off-only (statistical) approach and needs a "
            "cut-off. Pass cutoff_type='a', 'b' or 'c' (with functional=(mean, sd) for b and c), "
            "or cutoff=<score>; or choose an RCI method such as method='JT'."
        )
    if not use_cutoff:
        for name, value in (("clinical", clinical), ("functional", functional),
                            ("cutoff_method", cutoff_method)):
            if value is not None:
                raise ParameterError(
                    f"The {name!r} parameter of {_CALLER}() only matters with a cut-off, but "
                    f"no cut-off was asked for (got {name}={value!r}). Pass cutoff_type='a', "
                    "'b' or 'c' (or cutoff=<score>) to use it, or drop it."
                )
    if cutoff_method is None:
        cutoff_method = "HA" if method == "HA" else "JT"
    else:
        cutoff_method = check_choice(cutoff_method, ("JT", "HA"), name="cutoff_method",
                                     caller=_CALLER)
    clinical_norm = _resolve_norm(clinical, inst.clinical_norm if inst else None, "clinical")
    functional_norm = _resolve_norm(functional, inst.functional_norm if inst else None,
                                    "functional")
    if use_cutoff and cutoff_value is None and cutoff_type in ("b", "c") and (
        functional_norm is None
    ):
        raise ParameterError(
            f"cutoff_type={cutoff_type!r} in {_CALLER}() needs the mean and SD of a functional "
            "(non-clinical) population. Pass functional=(mean, sd), e.g. functional=(7.69, 7.52), "
            "or use cutoff_type='a'."
        )

    # --- the change criterion ---------------------------------------------------------------
    points: float | None = None
    if rule == "fixed":
        if fixed_points is not None:
            points = check_number(fixed_points, name="fixed_points", caller=_CALLER, low=0,
                                  low_inclusive=False)
        elif inst is not None and inst.fixed_rule is not None:
            points = float(inst.fixed_rule.points)
        else:
            raise ParameterError(
                f"rule='fixed' in {_CALLER}() needs a threshold in points: pass "
                "instrument='phq9' (6 points) or fixed_points=<points>."
            )
    needs_reliability = (method not in (None, "HLM") and rule == "statistical") or (
        use_cutoff and cutoff_method == "HA"
    )
    if needs_reliability and reliability is None:
        what = f"method={method!r}" if method is not None else "cutoff_method='HA'"
        raise ParameterError(
            f"{_CALLER}() with {what} needs the instrument's reliability. Pass reliability=<r> "
            "(e.g. reliability=0.85), or instrument=<name> of a registered instrument with a "
            "reliability; or use rule='fixed' with a published threshold in points."
        )
    if method == "NK" and reliability_post is None:
        reliability_post = reliability

    # --- data ------------------------------------------------------------------------------
    long = prepare_long(
        data, patient=patient, time=time, score=score, caller=_CALLER, instrument=inst,
        extra={"group": group},
    )
    frame, codes, starts = long.frame, long.codes, long.starts
    n_rows, n_pat = len(frame), long.n_patients
    scores = frame["score"].to_numpy(dtype=np.float64)
    valid = ~np.isnan(scores)
    order = long.order

    # a part of the data (the Dask path) may lack a named occasion that others have
    whole = sample is None and not pairs_only
    if pre is not None and post is not None and _plain(pre) == _plain(post):
        raise ParameterError(
            f"The 'pre' and 'post' parameters of {_CALLER}() name the same occasion "
            f"({pre!r}). Pass two different occasions."
        )
    reason_codes = np.full(n_pat, -1, dtype=np.int64)
    reasons: list[str] = []

    def add_reason(mask: np.ndarray, text: str) -> None:
        mask = mask & (reason_codes < 0)
        if mask.any():
            reasons.append(text)
            reason_codes[mask] = len(reasons) - 1

    if pre is not None:
        pre_rows = _occasion_rows(frame["time"], pre, codes, n_pat, "pre", whole)
    if post is not None:
        post_rows = _occasion_rows(frame["time"], post, codes, n_pat, "post", whole)
    if pre is not None and post is not None and (pre_rows >= 0).any() and (post_rows >= 0).any():
        pre_key = order[pre_rows[pre_rows >= 0][0]]
        post_key = order[post_rows[post_rows >= 0][0]]
        if pre_key > post_key:
            raise ParameterError(
                f"The 'pre' occasion ({_plain(pre)!r}) passed to {_CALLER}() comes after the "
                f"'post' occasion ({_plain(post)!r}) in the time column. Suggestion: swap them "
                f"(pre={_plain(post)!r}, post={_plain(pre)!r})."
            )
    if pre is None and post is None:
        first, last = _first_last(valid, starts, n_rows)
        pre_rows, post_rows = first, np.where(last > first, last, -1)
        n_valid = np.add.reduceat(valid.astype(np.int64), starts[:-1])
        add_reason(n_valid == 0, "no observed score")
        add_reason(n_valid == 1, "only one observed score")
        if method == "HLM":
            add_reason(n_valid < _HLM_MIN_SCORES, f"fewer than {_HLM_MIN_SCORES} observed scores "
                       "(the HLM method needs 3)")
    elif post is None:
        has_pre = (pre_rows >= 0) & valid[np.maximum(pre_rows, 0)]
        add_reason(~has_pre, f"no score at pre occasion {_plain(pre)}")
        limit = np.where(pre_rows >= 0, order[np.maximum(pre_rows, 0)], -np.inf)
        post_rows = _first_last(valid & (order > limit[codes]), starts, n_rows)[1]
        add_reason(post_rows < 0, f"no observed score after pre occasion {_plain(pre)}")
    elif pre is None:
        has_post = (post_rows >= 0) & valid[np.maximum(post_rows, 0)]
        add_reason(~has_post, f"no score at post occasion {_plain(post)}")
        limit = np.where(post_rows >= 0, order[np.maximum(post_rows, 0)], np.inf)
        pre_rows = _first_last(valid & (order < limit[codes]), starts, n_rows)[0]
        add_reason(pre_rows < 0, f"no observed score before post occasion {_plain(post)}")
    else:
        has_pre = (pre_rows >= 0) & valid[np.maximum(pre_rows, 0)]
        has_post = (post_rows >= 0) & valid[np.maximum(post_rows, 0)]
        add_reason(~has_pre & ~has_post, f"no score at pre occasion {_plain(pre)} nor at "
                                         f"post occasion {_plain(post)}")
        add_reason(~has_pre, f"no score at pre occasion {_plain(pre)}")
        add_reason(~has_post, f"no score at post occasion {_plain(post)}")
    pre_scores = _take(scores, pre_rows)
    post_scores = _take(scores, post_rows)
    change = post_scores - pre_scores
    used = ~np.isnan(change)
    if method == "HLM":
        used &= n_valid >= _HLM_MIN_SCORES
    n_used = int(used.sum())
    if pairs_only:
        pairs = pd.DataFrame({"patient": long.patients.to_numpy(), "pre": pre_scores,
                              "post": post_scores, "used": used})
        # which named occasions this part of the data has, and its occasions for the message
        pairs.attrs["found"] = {"pre": bool((pre_rows >= 0).any()),
                                "post": bool((post_rows >= 0).any())}
        pairs.attrs["occasions"] = pd.unique(frame["time"])
        return pairs
    if sample is not None:
        n_used = sample.n_used
    if n_used == 0 and method == "HLM":
        _raise_no_hlm_patients(n_pat)
    if n_used == 0:
        # Every patient keeps its row and reason, as when only some patients lack a pair
        # (issue 10); what needs data (an SD from the data, HA, a cut-off from the data, the
        # categories) stays missing, and attrs["not_evaluated"] says why.
        add_reason(~used, "no pre and post score")
        use_combined = use_cutoff and not (method is None and rule == "statistical")
        no_pairs = CATEGORIES_COMBINED if use_combined else CATEGORIES_CHANGE
        missing = np.ones(n_pat, dtype=bool)
        columns_empty: dict[str, Any] = {
            "patient": long.patients.to_numpy(), "pre": pre_scores, "post": post_scores,
            "change": change, "rci": np.full(n_pat, np.nan),
            "category": pd.Categorical.from_codes(np.full(n_pat, -1, dtype=np.int8),
                                                  categories=pd.Index(no_pairs), ordered=True),
            "reason": pd.Categorical.from_codes(reason_codes, categories=pd.Index(reasons)),
        }
        flags = ["improved", "deteriorated", "unchanged"]
        if use_cutoff:
            flags += ["clinical_pre", "functional_post", "recovered", "harmed"]
        for name in flags:
            columns_empty[name] = _boolean(np.zeros(n_pat, dtype=bool), missing)
        if group is not None:
            canonical = {patient: "patient", time: "time", score: "score"}.get(group, group)
            columns_empty["group"] = _patient_groups(frame[canonical], group, data, long, codes)
        empty = pd.DataFrame(columns_empty, copy=False)
        empty.attrs.update({k: _plain(v) for k, v in {
            "method": method, "rule": rule, "boundary": boundary, "better": direction_name,
            "direction": direction, "alpha": alpha, "reliability": reliability,
            "sd": sd_arg, "sd_source": None if sd_arg is None else sd_source,
            "n_original": n_pat, "n_used": 0, "pre": pre, "post": post, "points": points,
            "categories": list(no_pairs),
            "approach": "distribution" if not use_cutoff else (
                "combined" if use_combined else "statistical"),
            "not_evaluated": "no patient has both a pre and a post score",
        }.items()})
        return empty

    # --- sample statistics over the patients used (as clinicalsignificance) ------------------
    if sample is None:
        sample = sample_statistics(pre_scores[used], post_scores[used],
                                   correlation=method == "HA")
    m_pre, m_post, sd_pre, sd_post = sample.m_pre, sample.m_post, sample.sd_pre, sample.sd_post
    if sd_arg is None:
        sd_value, sd_source = sd_pre, "data"
    else:
        sd_value = sd_arg

    def need(value: float, what: str, fix: str) -> float:
        if not math.isfinite(value) or value <= 0:
            raise InvalidValueError(
                f"{_CALLER}() cannot compute {what} from the {n_used} patient(s) with both "
                f"scores (got {value!r}). Suggestion: {fix}"
            )
        return value

    attrs: dict[str, Any] = {
        "method": method, "rule": rule, "boundary": boundary, "better": direction_name,
        "direction": direction, "alpha": alpha, "reliability": reliability,
        "reliability_post": reliability_post if method == "NK" else None,
        "sd": None, "sd_source": None, "m_pre": m_pre, "sd_pre": sd_pre, "m_post": m_post,
        "sd_post": sd_post, "n_original": n_pat, "n_used": n_used,
        "pre": _plain(pre), "post": _plain(post), "points": points,
    }

    # --- reliable change ---------------------------------------------------------------------
    rci = np.full(n_pat, np.nan)
    critical = math.nan
    if rule == "fixed" and points is not None:
        rci = change / points
        critical = 1.0
    elif method == "HLM":
        if hlm is None:
            rci, consts = _rci_hlm(frame, codes, valid, used, time)
        else:
            _hlm_times(frame, time)
            rci = hlm.rci.reindex(long.patients).to_numpy(dtype=np.float64, na_value=np.nan)
            consts = dict(hlm.constants)
        attrs.update(consts)
        attrs["n_obs"] = n_valid
        # clinicalsignificance compares the HLM z with the literal 1.96 (its .calc_improvement
        # default) while reporting qnorm(1 - alpha/2) as the critical value.
        critical = 1.96 if alpha == 0.05 else _rci.critical_value(alpha)
        attrs["critical_value"] = _rci.critical_value(alpha)
        attrs["critical_value_hlm"] = critical
    elif method is not None:
        sd_value = need(sd_value, "the SD of the pre scores",
                        "pass sd=<SD of a clinical sample> (or an instrument with an SD).")
        attrs["sd"], attrs["sd_source"] = sd_value, sd_source
        r = float(reliability)
        if method == "JT":
            rci, consts = _rci.rci_jt(pre_scores, post_scores, sd=sd_value, reliability=r)
        elif method == "GLN":
            rci, consts = _rci.rci_gln(pre_scores, post_scores, sd=sd_value, reliability=r,
                                       m_pre=m_pre)
        elif method == "HLL":
            rci, consts = _rci.rci_hll(pre_scores, post_scores, sd=sd_value, reliability=r,
                                       m_pre=m_pre, m_post=m_post)
        elif method == "EN":
            rci, consts = _rci.rci_en(pre_scores, post_scores, sd=sd_value, reliability=r,
                                      m_pre=m_pre)
        elif method == "NK":
            rci, consts = _rci.rci_nk(pre_scores, post_scores, sd=sd_value, reliability=r,
                                      reliability_post=float(reliability_post or reliability),
                                      m_pre=m_pre)
        else:  # HA
            need(sd_post, "the SD of the post scores", "HA needs at least two patients with "
                 "both scores and varying post scores; use method='JT'.")
            correlation = sample.correlation
            rci, consts = _rci.rci_ha(pre_scores, post_scores, sd=sd_value, reliability=r,
                                      m_pre=m_pre, m_post=m_post, sd_post=sd_post,
                                      correlation=correlation)
            need(consts["r_dd"], "the reliability of the difference r_dd", "HA needs a "
                 "positive r_dd (post scores more variable than measurement error); use "
                 "method='JT'.")
            attrs["correlation"] = correlation
        attrs.update(consts)
        critical = _rci.critical_value(alpha, one_sided=method == "HA")
    else:  # cut-off only: R still reports the critical value of the cut-off method
        attrs["critical_value"] = _rci.critical_value(alpha, one_sided=cutoff_method == "HA")
    attrs.setdefault("critical_value", critical)
    n_obs_hlm = attrs.pop("n_obs", None)

    if boundary == "strict" and rule == "statistical":
        rci_better = direction * rci > critical
        rci_worse = direction * rci < -critical
    else:
        rci_better = direction * rci >= critical
        rci_worse = direction * rci <= -critical

    # --- clinical cut-off --------------------------------------------------------------------
    extra: dict[str, Any] = {}
    approach = "distribution" if not use_cutoff else ("statistical" if method is None
                                                      and rule == "statistical" else "combined")
    if use_cutoff:
        if clinical_norm is not None:
            m_clin, sd_clin = clinical_norm
        else:
            m_clin, sd_clin = m_pre, sd_pre
        m_func, sd_func = functional_norm if functional_norm is not None else (None, None)
        attrs.update(cutoff_type=cutoff_type if cutoff is None else None,
                     cutoff_method=cutoff_method, cutoff_sd=cutoff_sd, m_clinical=m_clin,
                     sd_clinical=sd_clin, m_functional=m_func, sd_functional=sd_func)
        if cutoff_method == "HA":
            need(sd_clin, "the clinical SD", "pass clinical=(mean, sd).")
            need(sd_post, "the SD of the post scores", "use cutoff_method='JT'.")
            se_c = _rci.se_measurement(sd_clin, float(reliability))
            r_clin = _rci.ha_reliability(sd_clin, se_c)
            r_post = need(_rci.ha_reliability(sd_post, se_c), "the HA post reliability",
                          "use cutoff_method='JT'.")
            r_func = _rci.ha_reliability(sd_func, se_c) if sd_func is not None else None
            if cutoff_value is None:
                cutoff_value = cutoff_ha(
                    str(cutoff_type), m_clinical=m_clin, sd_clinical=sd_clin,
                    reliability_clinical=r_clin, m_functional=m_func, sd_functional=sd_func,
                    reliability_functional=r_func, direction=direction,
                    use_clinical_for_b=cutoff_sd == "clinical",
                )
            crit_ha = _rci.critical_value(alpha, one_sided=True)
            attrs.update(reliability_clinical=r_clin, reliability_functional=r_func,
                         reliability_post_ha=r_post, se_measurement_cutoff=se_c,
                         critical_value_cutoff=crit_ha)
        elif cutoff_value is None:
            need(sd_clin, "the clinical SD", "pass clinical=(mean, sd).")
            cutoff_value = cutoff_jt(
                str(cutoff_type), m_clinical=m_clin, sd_clinical=sd_clin, m_functional=m_func,
                sd_functional=sd_func, direction=direction,
                sd_b=sd_clin if cutoff_sd == "clinical" else sd_func,
            )
        attrs["cutoff"] = cutoff_value
        if caseness is not None:
            clinical_pre = np.asarray(caseness.is_clinical(pre_scores))
            outside_post = np.asarray(caseness.is_clinical(post_scores))
            functional_post = ~outside_post & ~np.isnan(post_scores)
        elif boundary == "strict":
            clinical_pre = direction * pre_scores < direction * cutoff_value
            functional_post = direction * post_scores > direction * cutoff_value
        else:
            clinical_pre = direction * pre_scores <= direction * cutoff_value
            functional_post = direction * post_scores >= direction * cutoff_value
        if cutoff_method == "HA":
            cs_indiv = (m_post + (post_scores - m_post) * r_post - cutoff_value) / (
                math.sqrt(r_post) * se_c
            )
            if boundary == "strict":
                functional_post = clinical_pre & (direction * cs_indiv > crit_ha)
                clinical_post = ~clinical_pre & (direction * cs_indiv < -crit_ha)
            else:
                functional_post = clinical_pre & (direction * cs_indiv >= crit_ha)
                clinical_post = ~clinical_pre & (direction * cs_indiv <= -crit_ha)
            extra["cs_indiv"] = cs_indiv
            extra["clinical_post"] = clinical_post
        if approach == "statistical":
            if cutoff_method == "HA":
                better_mask, worse_mask = functional_post, clinical_post
            else:
                better_mask = clinical_pre & functional_post
                worse_mask = ~clinical_pre & ~functional_post
            recovered, harmed = better_mask, worse_mask
        else:
            if cutoff_method == "HA":
                recovered = functional_post & rci_better
                harmed = clinical_post & rci_worse
            else:
                recovered = clinical_pre & functional_post & rci_better
                harmed = ~clinical_pre & ~functional_post & rci_worse
            better_mask = rci_better & ~recovered
            worse_mask = rci_worse & ~harmed
    else:
        better_mask, worse_mask = rci_better, rci_worse
        recovered = harmed = None

    evaluable = used & (np.isfinite(rci) if approach != "statistical" else True)
    not_evaluable = ~evaluable
    add_reason(not_evaluable, "reliable change index undefined")

    # --- categories ---------------------------------------------------------------------------
    if approach == "combined":
        categories: tuple[str, ...] = CATEGORIES_COMBINED
        cat = np.full(n_pat, 2, dtype=np.int8)
        cat[better_mask] = 1
        cat[worse_mask] = 3
        cat[recovered] = 0
        cat[harmed] = 4
    else:
        categories = CATEGORIES_CHANGE
        cat = np.full(n_pat, 1, dtype=np.int8)
        cat[better_mask] = 0
        cat[worse_mask] = 2
    cat[not_evaluable] = -1
    attrs["categories"] = list(categories)
    attrs["approach"] = approach

    columns: dict[str, Any] = {
        "patient": long.patients.to_numpy(),
        "pre": pre_scores,
        "post": post_scores,
        "change": change,
        "rci": rci,
        "category": pd.Categorical.from_codes(cat, categories=pd.Index(categories),
                                              ordered=True),
        "reason": pd.Categorical.from_codes(reason_codes, categories=pd.Index(reasons))
        if reasons else np.full(n_pat, None, dtype=object),
        "improved": _boolean(cat == categories.index("improved"), not_evaluable),
        "deteriorated": _boolean(cat == categories.index("deteriorated"), not_evaluable),
        "unchanged": _boolean(cat == categories.index("unchanged"), not_evaluable),
    }
    if use_cutoff and recovered is not None and harmed is not None:
        columns["clinical_pre"] = _boolean(clinical_pre, np.isnan(pre_scores))
        columns["functional_post"] = _boolean(functional_post, np.isnan(post_scores))
        columns["recovered"] = _boolean(recovered, not_evaluable)
        columns["harmed"] = _boolean(harmed, not_evaluable)
        if "cs_indiv" in extra:
            columns["cs_indiv"] = extra["cs_indiv"]
            columns["clinical_post"] = _boolean(extra["clinical_post"], np.isnan(post_scores))
    if n_obs_hlm is not None:
        columns["n_obs"] = n_obs_hlm
    if group is not None:
        canonical = {patient: "patient", time: "time", score: "score"}.get(group, group)
        columns["group"] = _patient_groups(frame[canonical], group, data, long, codes)
    out = pd.DataFrame(columns, copy=False)
    out.attrs.update({k: _plain(v) for k, v in attrs.items()})
    return out


def _patient_groups(
    column: pd.Series, group: str, data: pd.DataFrame, long: Any, codes: np.ndarray
) -> Any:
    """The group of each patient (its value on the patient's first row), checked constant."""
    check_patient_level(
        column, codes, long.patients, column=group, keyword="group", caller=_CALLER
    )
    values = column.to_numpy()[long.starts[:-1]]
    dtype = data[group].dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Categorical(values, dtype=dtype)
    return values


def _raise_no_hlm_patients(n_patients: int) -> None:
    raise EmptyDataError(
        f"No patient in the data passed to {_CALLER}() has the {_HLM_MIN_SCORES} observed "
        f"scores that method='HLM' needs ({n_patients} patients). Suggestion: use a pre-post "
        "method such as method='JT'."
    )


def _check_hlm_options(*, pre: Any, post: Any, rule: str) -> None:
    """HLM uses every observed occasion and a statistical criterion."""
    for name, value in (("pre", pre), ("post", post)):
        if value is not None:
            raise ParameterError(
                f"method='HLM' in {_CALLER}() models every observed occasion, so the {name!r} "
                f"parameter does not apply (got {name}={value!r}). Suggestion: drop it, or "
                "select the occasions in the data first."
            )
    if rule != "statistical":
        raise ParameterError(
            f"method='HLM' in {_CALLER}() tests the empirical-Bayes slope against its conditional "
            f"SD; rule={rule!r} does not apply. Suggestion: drop rule= or use method='JT'."
        )


def _rci_hlm(
    frame: pd.DataFrame, codes: np.ndarray, valid: np.ndarray, used: np.ndarray, time: str
) -> tuple[np.ndarray, dict[str, Any]]:
    """clinicalsignificance's HLM index: EB slope / conditional SD of ``lmer(y ~ t + (t | id))``.

    Fitted by REML on the raw time values of the patients in ``used`` (at least 3 observed
    scores), with :func:`iatrogenic.core.growth.fit_growth`.
    """
    from .growth import fit_growth

    times = _hlm_times(frame, time)
    rows = valid & used[codes]
    subset = pd.DataFrame({
        "patient": codes[rows],
        "session": times.to_numpy(dtype=np.float64)[rows],
        "score": frame["score"].to_numpy(dtype=np.float64)[rows],
    })
    model = fit_growth(subset, time_transform="linear", random="slope", method="REML")
    fit = hlm_fit(model)
    rci = np.full(len(used), np.nan)
    rci[fit.rci.index.to_numpy(dtype=np.int64)] = fit.rci.to_numpy()
    return rci, dict(fit.constants)


def _hlm_times(frame: pd.DataFrame, time: str) -> pd.Series:
    """The occasion column, which HLM fits on as raw numbers."""
    times = frame["time"]
    if pd.api.types.is_bool_dtype(times) or not pd.api.types.is_numeric_dtype(times):
        raise ParameterError(
            f"method='HLM' in {_CALLER}() fits a linear growth model on the raw occasion values, "
            f"so column {time!r} (given as time=) must be numeric; got dtype {times.dtype}. "
            "Suggestion: code the occasions as numbers (e.g. 0, 1, 2...)."
        )
    return times


@dataclass(frozen=True)
class HLMFit:
    """The HLM method's index per patient (``rci``, indexed by patient) and the fit's constants
    (``hlm_*`` attributes)."""

    rci: pd.Series
    constants: dict[str, Any]


def hlm_fit(model: Any) -> HLMFit:
    """The HLM index (EB slope / its conditional SD) and constants of a fitted growth model."""
    effects = model.random_effects_
    rci = pd.Series((effects["time"] / effects["time_sd"]).to_numpy(),
                    index=pd.Index(effects["patient"].to_numpy()))
    cov = model.random_effects_cov_.to_numpy()
    consts: dict[str, Any] = {
        "hlm_fixef_intercept": float(model.fixed_effects_["intercept"]),
        "hlm_fixef_time": float(model.fixed_effects_["time"]),
        "hlm_se_intercept": float(model.fixed_effects_se_["intercept"]),
        "hlm_se_time": float(model.fixed_effects_se_["time"]),
        "hlm_var_intercept": float(cov[0, 0]),
        "hlm_var_time": float(cov[1, 1]),
        "hlm_cov_intercept_time": float(cov[0, 1]),
        "hlm_residual_variance": float(model.residual_variance_),
        "hlm_reml_criterion": float(model.reml_criterion_ or math.nan),
        "hlm_converged": bool(model.converged_),
    }
    return HLMFit(rci=rci, constants=consts)
