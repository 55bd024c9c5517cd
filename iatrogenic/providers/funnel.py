"""Funnel plots for comparing providers (Spiegelhalter 2005), exact to FunnelPlotR 0.6.0.

A funnel plot shows each unit's rate (a proportion, a standardised ratio or a ratio of counts)
against its denominator, with control limits that narrow as the denominator grows. Limits are
widened for overdispersion by an additive random-effects model: the dispersion ratio ``phi`` is
estimated from Winsorised (or, for SHMI, truncated) z-scores and the between-unit variance
``tau2`` by DerSimonian and Laird's moment estimator.

Every formula follows the R package FunnelPlotR 0.6.0 (Mainey et al., MIT licence), and the
tests compare every number with FunnelPlotR's ``source_data()``, ``phi()``, ``tau2()`` and
``limits()``. The few places where FunnelPlotR is wrong or reports less are listed in
:func:`funnel`'s Notes and in ``docs/providers.md``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaincinv
from scipy.stats import rankdata

from .._validation import (
    _numeric_scores,
    check_choice,
    check_columns,
    check_dataframe,
    check_number,
    describe_rows,
)
from ..exceptions import (
    EmptyDataError,
    InvalidValueError,
    ParameterError,
    ParameterTypeError,
)

__all__ = ["DATA_TYPES", "SR_METHODS", "funnel", "funnel_limits"]

#: Data types, as FunnelPlotR's ``data_type``: proportions, indirectly standardised ratios,
#: ratios of counts.
DATA_TYPES: tuple[str, ...] = ("PR", "SR", "RC")
#: Transformations for standardised ratios, as FunnelPlotR's ``sr_method``.
SR_METHODS: tuple[str, ...] = ("SHMI", "CQC")

# FunnelPlotR hard-codes the normal quantiles rounded to 7 significant digits; we use the same
# constants so that limits agree to machine precision (the exact quantiles differ by < 2e-7).
_Z95 = 1.959964
_Z998 = 3.090232
_CALLER = "funnel"
_LIMIT_COLUMNS = ("lower95", "upper95", "lower998", "upper998")


# --------------------------------------------------------------------------------------------
# Pure array computations (no pandas), shared by funnel() and funnel_limits()
# --------------------------------------------------------------------------------------------


def _r_quantile7(values: np.ndarray, prob: float) -> float:
    """R's ``quantile(x, prob)`` (type 7) with R's own arithmetic, so results agree to the bit."""
    x = np.sort(values)
    n = len(x)
    index = 1 + max(n - 1, 0) * prob
    lo = math.floor(index)
    hi = math.ceil(index)
    q = float(x[lo - 1])
    upper = float(x[hi - 1])
    if index > lo and upper != q:
        h = index - lo
        q = (1 - h) * q + h * upper
    return q


def _transform(
    numerator: np.ndarray, denominator: np.ndarray, data_type: str, sr_method: str
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Transformed value ``Y``, its standard error ``s``, the transformed target and z-scores."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if data_type == "SR" and sr_method == "SHMI":
            y = np.log(numerator / denominator)
            s = 1 / np.sqrt(denominator)
            target_t = 0.0
            z = np.sqrt(denominator) * np.log(numerator / denominator)
            return y, s, target_t, z
        if data_type == "SR":
            y = np.sqrt(numerator / denominator)
            s = 1 / (2 * np.sqrt(denominator))
            target_t = 1.0
        elif data_type == "PR":
            target_t = float(np.arcsin(np.sqrt(numerator.sum() / denominator.sum())))
            y = np.arcsin(np.sqrt(numerator / denominator))
            s = 1 / (2 * np.sqrt(denominator))
        else:  # RC
            target_t = float(np.log(numerator.sum() / denominator.sum()))
            y = np.log((numerator + 0.5) / (denominator + 0.5))
            s = np.sqrt(
                (numerator / ((numerator + 0.5) ** 2)) + (denominator / ((denominator + 0.5) ** 2))
            )
        z = (y - target_t) / s
    return y, s, target_t, z


def _trim(z: np.ndarray, *, truncate: bool, trim_by: float) -> tuple[np.ndarray, np.ndarray]:
    """Winsorised z-scores (NaN where truncated) and a flag of the units trimmed.

    Winsorising (PR, RC, SR with CQC) clips z to its ``trim_by`` and ``1 - trim_by`` quantiles;
    truncation (SR with SHMI, NHS Digital's method) drops the units in the outer ``trim_by``
    groups of ranks.
    """
    if truncate:
        k = 1 / trim_by
        maxk = k - 1
        rk = rankdata(z, method="average")
        sp = np.floor(rk * k / (len(rk) + 1))
        trimmed = ~((sp > 0) & (sp < maxk))
        return np.where(trimmed, np.nan, z), trimmed
    lz = _r_quantile7(z, trim_by)
    uz = _r_quantile7(z, 1 - trim_by)
    wz = np.where(z < lz, lz, np.where(z > uz, uz, z))
    return wz, (z < lz) | (z > uz)


def _phi_tau2(wz: np.ndarray, s: np.ndarray) -> tuple[float, float, int]:
    """Dispersion ratio phi and DerSimonian-Laird tau2 from the kept (Winsorised) z-scores."""
    keep = ~np.isnan(wz)
    n = int(keep.sum())
    kept = wz[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = float((1 / n) * np.sum(kept**2)) if n else math.nan
        if n == 0:
            return phi, 0.0, n
        if (n * phi) < (n - 1):
            return phi, 0.0, n
        w = 1 / (s[keep] ** 2)
        tau2 = max(0.0, float(((n * phi) - (n - 1)) / (w.sum() - (np.sum(w**2) / w.sum()))))
    return phi, tau2, n


def _poisson_limits(x: np.ndarray) -> dict[str, np.ndarray]:
    """Exact Poisson limits for a standardised ratio with expected count ``x`` (target 1).

    ``qchisq(p, 2x) / 2 == qgamma(p, x)``, computed here with the regularised incomplete gamma.
    """
    return {
        "lower95": gammaincinv(x, 0.025) / x,
        "upper95": gammaincinv(x + 1, 0.975) / x,
        "lower998": gammaincinv(x, 0.001) / x,
        "upper998": gammaincinv(x + 1, 0.999) / x,
    }


def _normal_limits(
    x: np.ndarray, *, data_type: str, sr_method: str, target: float, tau2: float
) -> dict[str, np.ndarray]:
    """Limits from the normal approximation on the transformed scale, widened by ``tau2``.

    ``centre +/- q sqrt(s(x)^2 + tau2)`` on the transformed scale, back-transformed. Two of
    these differ from FunnelPlotR 0.6.0 (see :func:`funnel`, Notes): CQC limits are squared back
    from the square-root scale, and RC limits use the log-scale standard error of the z-score.
    """
    out: dict[str, np.ndarray] = {}
    for name, q in (("95", _Z95), ("998", _Z998)):
        if data_type == "SR" and sr_method == "SHMI":
            half = q * np.sqrt((1 / x) + tau2)
            out["lower" + name] = np.exp(-half)
            out["upper" + name] = np.exp(half)
        elif data_type == "SR":  # CQC: square root; below 0 on that scale the limit is 0
            half = q * np.sqrt((1 / (2 * np.sqrt(x))) ** 2 + tau2)
            out["lower" + name] = np.where(1 - half < 0, 0.0, (1 - half) ** 2)
            out["upper" + name] = (1 + half) ** 2
        elif data_type == "RC":  # log; the z-score's standard error at the target ratio
            expected = target * x
            s2 = (expected / ((expected + 0.5) ** 2)) + (x / ((x + 0.5) ** 2))
            half = q * np.sqrt(s2 + tau2)
            out["lower" + name] = np.exp(math.log(target) - half)
            out["upper" + name] = np.exp(math.log(target) + half)
        else:  # PR: arcsine square root; the limit is 0 (1) once the arc passes 0 (pi / 2)
            half = q * np.sqrt((1 / (2 * np.sqrt(x))) ** 2 + tau2)
            centre = math.asin(math.sqrt(target))
            low_arc = centre - half
            high_arc = centre + half
            out["lower" + name] = np.where(low_arc < 0, 0.0, np.sin(low_arc) ** 2)
            out["upper" + name] = np.where(high_arc > math.pi / 2, 1.0, np.sin(high_arc) ** 2)
    return {key: out[key] for key in _LIMIT_COLUMNS}


def _limits(
    x: np.ndarray,
    *,
    data_type: str,
    sr_method: str,
    target: float,
    tau2: float,
    adjusted: bool,
) -> dict[str, np.ndarray]:
    """The limits in force at denominators ``x``: adjusted by ``tau2`` or not."""
    if adjusted:
        return _normal_limits(x, data_type=data_type, sr_method=sr_method, target=target, tau2=tau2)
    if data_type == "SR":
        return _poisson_limits(x)
    return _normal_limits(x, data_type=data_type, sr_method=sr_method, target=target, tau2=0.0)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _numeric_column(frame: pd.DataFrame, column: str, keyword: str, group: str) -> np.ndarray:
    values = frame[column]
    if pd.api.types.is_bool_dtype(values):  # record-level outcomes (True = an event)
        array = values.to_numpy(dtype=float, na_value=np.nan)
    else:
        # numbers stored as text are refused, as by every other DataFrame function
        array = _numeric_scores(frame, column, keyword, _CALLER)
    missing = np.flatnonzero(np.isnan(array))
    if len(missing):
        raise InvalidValueError(
            f"Column {column!r} (given as {keyword}=) of {_CALLER}() has missing values in "
            f"{describe_rows(frame, missing, [group, column])}. A funnel needs a count for every "
            "row. Suggestion: drop those rows or fill them (e.g. with 0 events) before calling."
        )
    infinite = np.flatnonzero(~np.isfinite(array))
    if len(infinite):
        raise InvalidValueError(
            f"Column {column!r} (given as {keyword}=) of {_CALLER}() has infinite values in "
            f"{describe_rows(frame, infinite, [group, column])}. Suggestion: fix those rows."
        )
    negative = np.flatnonzero(array < 0)
    if len(negative):
        raise InvalidValueError(
            f"Column {column!r} (given as {keyword}=) of {_CALLER}() must not be negative. "
            f"Negative values in {describe_rows(frame, negative, [group, column])}. "
            "Suggestion: counts and expected counts are >= 0; check the column."
        )
    return array


def _check_table(
    table: Any, numerator: Any, denominator: Any, group: Any, data_type: str
) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    frame = check_dataframe(table, caller=_CALLER, name="table")
    for keyword, value in (
        ("numerator", numerator),
        ("denominator", denominator),
        ("group", group),
    ):
        if not isinstance(value, str):
            raise ParameterTypeError(
                f"The {keyword!r} parameter of {_CALLER}() must be a column name (str). "
                f"Got {value!r} of type {type(value).__name__} instead."
            )
    check_columns(
        frame, {"numerator": numerator, "denominator": denominator, "group": group}, caller=_CALLER
    )
    if numerator == denominator:
        raise ParameterError(
            f"The 'numerator' and 'denominator' parameters of {_CALLER}() name the same column "
            f"{numerator!r}. Suggestion: pass the events column as numerator= and the population "
            "(PR, RC) or expected count (SR) as denominator=."
        )
    groups = frame[group]
    missing_group = np.flatnonzero(groups.isna().to_numpy())
    if len(missing_group):
        raise InvalidValueError(
            f"Column {group!r} (given as group=) of {_CALLER}() has missing values in "
            f"{describe_rows(frame, missing_group, [group, numerator, denominator])}. "
            "Suggestion: give every row a unit (provider, therapist) or drop those rows."
        )
    num = _numeric_column(frame, numerator, "numerator", group)
    den = _numeric_column(frame, denominator, "denominator", group)
    return num, den, groups


def _check_aggregated(
    labels: pd.Index, num: np.ndarray, den: np.ndarray, data_type: str, columns: tuple[str, str]
) -> None:
    numerator, denominator = columns
    shown = pd.DataFrame({"group": labels, numerator: num, denominator: den})
    zero = np.flatnonzero(den <= 0)
    if len(zero):
        raise InvalidValueError(
            f"Column {denominator!r} (given as denominator=) of {_CALLER}() sums to 0 for "
            f"{describe_rows(shown, zero, ['group', numerator, denominator])} "
            "(after summing by group). A funnel needs a positive denominator for every unit. "
            "Suggestion: drop units with no patients (or no expected events) before calling."
        )
    if data_type == "PR":
        over = np.flatnonzero(num > den)
        if len(over):
            raise InvalidValueError(
                f"Column {numerator!r} (given as numerator=) of {_CALLER}() exceeds the "
                f"denominator for {describe_rows(shown, over, ['group', numerator, denominator])} "
                "(after summing by group), which a proportion cannot. Suggestion: check the "
                "columns, or use data_type='SR' (observed / expected) or 'RC' (ratio of counts)."
            )
    if len(labels) < 2:
        raise EmptyDataError(
            f"{_CALLER}() needs at least 2 units (groups) to estimate the target and the "
            f"overdispersion; the table has {len(labels)}. Suggestion: check the group= column."
        )


def _raise_phi(
    labels: pd.Index, num: np.ndarray, wz: np.ndarray, data_type: str, sr_method: str
) -> None:
    """Explain why phi is not a finite number (a log of 0 that the trimming did not remove)."""
    if data_type == "SR" and sr_method == "SHMI":
        zero = np.flatnonzero((num == 0) & ~np.isnan(wz))
        raise InvalidValueError(
            f"{_CALLER}() cannot estimate phi: with sr_method='SHMI' the z-score of a unit with "
            f"0 observed events is log(0) = -inf, and {len(zero)} such unit(s) were not "
            f"truncated, first: {list(labels[zero][:5])!r}. Suggestion: use sr_method='CQC' "
            "(square root, defined at 0), a larger trim_by, or od_adjust=False."
        )
    raise InvalidValueError(
        f"{_CALLER}() cannot estimate phi: the z-scores are not finite (for example every "
        "numerator is 0, so the target ratio is 0). Suggestion: check the numerator= column."
    )


def _check_options(
    data_type: Any, limit: Any, od_adjust: Any, sr_method: Any, trim_by: Any, shmi_rounding: Any
) -> tuple[str, int, str, float]:
    data_type = check_choice(data_type, DATA_TYPES, name="data_type", caller=_CALLER)
    sr_method = check_choice(sr_method, SR_METHODS, name="sr_method", caller=_CALLER)
    if limit == 99.8:  # the level the 99 limits stand for
        limit = 99
    limit = check_choice(limit, (95, 99), name="limit", caller=_CALLER)
    for name, value in (("od_adjust", od_adjust), ("shmi_rounding", shmi_rounding)):
        if not isinstance(value, (bool, np.bool_)):
            raise ParameterTypeError(
                f"The {name!r} parameter of {_CALLER}() must be True or False. "
                f"Got {value!r} instead."
            )
    truncates = data_type == "SR" and sr_method == "SHMI"
    trim = check_number(
        trim_by,
        name="trim_by",
        caller=_CALLER,
        low=0,
        high=0.5,
        low_inclusive=not truncates,
        high_inclusive=False,
    )
    return data_type, int(limit), sr_method, float(trim)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def funnel(
    table: pd.DataFrame,
    *,
    numerator: str,
    denominator: str,
    group: str,
    data_type: str = "PR",
    limit: int = 99,
    od_adjust: bool = True,
    sr_method: str = "SHMI",
    trim_by: float = 0.1,
    shmi_rounding: bool = True,
) -> pd.DataFrame:
    """Funnel-plot statistics per unit, with overdispersion-adjusted limits (FunnelPlotR 0.6.0).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per unit, or record-level rows that are summed by ``group``. Not modified.
    numerator : str
        Column of events: the count of a proportion (``"PR"``), the observed count of a
        standardised ratio (``"SR"``), or the numerator count of a ratio of counts (``"RC"``).
    denominator : str
        Column of the population (``"PR"``), the expected count (``"SR"``, e.g. the sum of
        case-mix model probabilities) or the denominator count (``"RC"``).
    group : str
        Column naming the unit (provider, therapist, service).
    data_type : {"PR", "SR", "RC"}, default "PR"
        Proportions (arcsine square-root transform, target the pooled proportion), indirectly
        standardised ratios O/E (target 1), or ratios of counts (log transform, target the
        pooled ratio).
    limit : {99, 95}, default 99
        Which limits flag outliers: 99 (or 99.8) means the 99.8% limits (z = 3.09), 95 the 95%
        limits, as FunnelPlotR's ``limit``.
    od_adjust : bool, default True
        Widen the limits for overdispersion (additive random effects) when phi exceeds 1.
    sr_method : {"SHMI", "CQC"}, default "SHMI"
        For ``data_type="SR"``: NHS Digital's SHMI method (log transform, z-scores truncated by
        rank before estimating phi, expected counts rounded to 2 decimals) or the CQC method
        (square-root transform, z-scores Winsorised).
    trim_by : float, default 0.1
        Share of units Winsorised (or truncated, for SHMI) at each end before phi is estimated.
    shmi_rounding : bool, default True
        With SHMI, round the expected counts to 2 decimals as NHS Digital does (FunnelPlotR's
        ``SHMI_rounding``).

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted by group, with columns:

        - ``group``: the unit.
        - ``numerator``, ``denominator``: the summed counts (with SHMI rounding, the rounded
          expected count, which sets the limits).
        - ``ratio``: the plotted value, numerator / denominator (before SHMI rounding).
        - ``z``: z-score on the transformed scale, without overdispersion.
        - ``z_adjusted``: z-score with the between-unit variance ``tau2`` added to the unit's
          variance; equal to ``z`` when the limits are not adjusted.
        - ``z_winsorised``: the z-score that entered phi (Winsorised; missing when truncated).
        - ``trimmed``: whether that z-score was Winsorised or truncated.
        - ``lower95``, ``upper95``, ``lower998``, ``upper998``: the 95% and 99.8% limits at the
          unit's denominator, on the ratio scale: overdispersion-adjusted when
          ``attrs["adjusted"]``, else unadjusted (exact Poisson limits for ``"SR"``).
        - ``outlier``: ``"high"`` or ``"low"`` when the ratio lies outside the chosen limits
          (limits themselves count as inside), else None (object column).

        ``attrs`` holds ``phi`` (dispersion ratio), ``tau2`` (DerSimonian-Laird between-unit
        variance), ``n_phi`` (units that entered phi), ``adjusted`` (whether the limits are
        widened: ``od_adjust`` and phi > 1), ``target`` (centre line on the ratio scale),
        ``data_type``, ``sr_method``, ``trim_by``, ``limit``, ``od_adjust``.

    Raises
    ------
    iatrogenic.exceptions.ColumnNotFoundError
        A named column is not in ``table``.
    iatrogenic.exceptions.InvalidValueError
        Missing, infinite or negative counts, a missing group, a unit whose denominator sums to
        0, or (``"PR"``) a numerator above its denominator.
    iatrogenic.exceptions.ParameterError
        An unknown ``data_type``, ``sr_method`` or ``limit``, or ``trim_by`` outside [0, 0.5).

    See Also
    --------
    funnel_limits : the smooth limit curves over a grid of denominators.
    plot_funnel : draw the funnel.

    Notes
    -----
    With ``Y`` a unit's transformed value, ``s`` its standard error and ``theta`` the
    transformed target:

    - PR: ``Y = asin(sqrt(O / n))``, ``s = 1 / (2 sqrt(n))``,
      ``theta = asin(sqrt(sum O / sum n))``;
    - SR, SHMI: ``Y = log(O / E)``, ``s = 1 / sqrt(E)``, ``theta = 0``;
    - SR, CQC: ``Y = sqrt(O / E)``, ``s = 1 / (2 sqrt(E))``, ``theta = 1``;
    - RC: ``Y = log((O + 0.5) / (n + 0.5))``, ``s = sqrt(O / (O + 0.5)^2 + n / (n + 0.5)^2)``,
      ``theta = log(sum O / sum n)``.

    ``z = (Y - theta) / s``. Over the ``N`` z-scores left after Winsorising (or truncating),
    ``phi = sum(z^2) / N`` and, with ``w = 1 / s^2``,
    ``tau2 = max(0, (N phi - (N - 1)) / (sum w - sum w^2 / sum w))`` (0 when
    ``N phi < N - 1``). The limits are ``theta +/- q sqrt(s(x)^2 + tau2)`` back-transformed,
    with ``s(x)`` the standard error at denominator ``x``; when phi <= 1 (or
    ``od_adjust=False``) no adjustment is made, and for ``"SR"`` the unadjusted limits are the
    exact Poisson ones, ``qgamma(p, x) / x`` and ``qgamma(1 - p, x + 1) / x``.

    Differences from FunnelPlotR 0.6.0 (all tested):

    - Proportion limits are 0 (or 1) wherever the arcsine limit passes 0 (or pi / 2).
      FunnelPlotR detects this by comparing each grid row with the next, which misses the
      largest denominator and the row where the limit crosses 0, and there returns a wrong
      positive lower limit (so a unit with 0 events can be flagged low).
    - SR with CQC, adjusted: the limits are ``(1 +/- q sqrt(1 / (4E) + tau2))^2``, the
      square-root-scale bound squared back (0 when negative). FunnelPlotR omits the square, so
      its limits are half as wide as they should be and disagree with its own z-scores.
    - RC: the limits use the z-score's standard error at the target ratio ``r``,
      ``s(x)^2 = r x / (r x + 0.5)^2 + x / (x + 0.5)^2``, on the log scale. FunnelPlotR uses
      ``1 / (4x)``, the square-root-scale variance, which makes its limits at least twice too
      narrow.
    - ``phi`` and ``tau2`` are reported even with ``od_adjust=False`` (FunnelPlotR reports 0).

    The outlier flags follow from the limits, so they differ where the limits do. In the other
    cases every number equals FunnelPlotR's to 1e-8 (in practice to 1e-13).

    References
    ----------
    Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance. Statistics in
    Medicine 24(8):1185-1202. doi:10.1002/sim.1970

    Spiegelhalter DJ et al. (2012). Statistical methods for healthcare regulation: rating,
    screening and surveillance. JRSS A 175(1):1-47. doi:10.1111/j.1467-985X.2011.01010.x

    DerSimonian R, Laird N (1986). Meta-analysis in clinical trials. Controlled Clinical Trials
    7(3):177-188. doi:10.1016/0197-2456(86)90046-2

    Mainey C et al. (2025). FunnelPlotR 0.6.0. https://github.com/nhs-r-community/FunnelPlotR

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import iatrogenic as ia
    >>> rng = np.random.default_rng(1234567890)
    >>> n = rng.integers(20, 400, size=30)
    >>> p = rng.uniform(0.03, 0.2, size=30)
    >>> table = pd.DataFrame({"therapist": [f"T{i:02d}" for i in range(30)], "patients": n,
    ...                       "deteriorated": rng.binomial(n, p)})
    >>> result = ia.funnel(table, numerator="deteriorated", denominator="patients",
    ...                    group="therapist")
    >>> list(result.columns[:6])
    ['group', 'numerator', 'denominator', 'ratio', 'z', 'z_adjusted']
    >>> round(result.attrs["phi"], 3), round(result.attrs["tau2"], 5), result.attrs["adjusted"]
    (4.172, 0.00406, True)
    >>> cols = ["group", "numerator", "denominator", "ratio", "z_adjusted", "outlier"]
    >>> result.loc[result["outlier"].notna(), cols].round(3)
      group  numerator  denominator  ratio  z_adjusted outlier
    2   T02        0.0         53.0    0.0      -3.532     low
    """
    data_type, limit, sr_method, trim = _check_options(
        data_type, limit, od_adjust, sr_method, trim_by, shmi_rounding
    )
    num_rows, den_rows, groups = _check_table(table, numerator, denominator, group, data_type)
    summed = (
        pd.DataFrame({"numerator": num_rows, "denominator": den_rows}, index=groups.to_numpy())
        .groupby(level=0, sort=True)
        .sum()
    )
    labels = summed.index
    num = summed["numerator"].to_numpy(dtype=float)
    den_raw = summed["denominator"].to_numpy(dtype=float)
    _check_aggregated(labels, num, den_raw, data_type, (numerator, denominator))

    ratio = num / den_raw
    truncates = data_type == "SR" and sr_method == "SHMI"
    den = np.round(den_raw, 2) if truncates and shmi_rounding else den_raw
    if truncates and np.any(den <= 0):
        bad = np.flatnonzero(den <= 0)
        raise InvalidValueError(
            f"Column {denominator!r} (given as denominator=) of {_CALLER}() rounds to 0 "
            f"expected events for {len(bad)} unit(s), first: {list(labels[bad][:5])!r}. "
            "Suggestion: pass shmi_rounding=False, or drop units with < 0.005 expected events."
        )
    target = 1.0 if data_type == "SR" else float(num.sum() / den.sum())

    y, s, target_t, z = _transform(num, den, data_type, sr_method)
    wz, trimmed = _trim(z, truncate=truncates, trim_by=trim)
    phi, tau2, n_phi = _phi_tau2(wz, s)
    if not math.isfinite(phi):
        if od_adjust:
            _raise_phi(labels, num, wz, data_type, sr_method)
        phi, tau2 = math.nan, math.nan  # not needed without the adjustment
    adjusted = bool(od_adjust) and phi > 1

    limits = _limits(
        den, data_type=data_type, sr_method=sr_method, target=target, tau2=tau2, adjusted=adjusted
    )
    if adjusted:
        with np.errstate(divide="ignore", invalid="ignore"):
            z_adjusted = (y - target_t) / np.sqrt(s**2 + tau2)
    else:
        z_adjusted = z.copy()
    lower, upper = ("lower95", "upper95") if limit == 95 else ("lower998", "upper998")
    outlier = np.full(len(num), None, dtype=object)
    outlier[ratio > limits[upper]] = "high"
    outlier[ratio < limits[lower]] = "low"

    result = pd.DataFrame(
        {
            "group": labels.to_numpy(),
            "numerator": num,
            "denominator": den,
            "ratio": ratio,
            "z": z,
            "z_adjusted": z_adjusted,
            "z_winsorised": wz,
            "trimmed": trimmed,
            **limits,
            "outlier": pd.Series(outlier, dtype=object),  # None when inside, in every case
        }
    )
    result.attrs = {
        "phi": phi,
        "tau2": tau2,
        "n_phi": n_phi,
        "adjusted": adjusted,
        "target": target,
        "data_type": data_type,
        "sr_method": sr_method,
        "trim_by": trim,
        "limit": limit,
        "od_adjust": bool(od_adjust),
    }
    return result


def funnel_limits(result: pd.DataFrame, denominators: Any = None, *, n: int = 1000) -> pd.DataFrame:
    """The funnel's control limits over a grid of denominators, for drawing smooth curves.

    Parameters
    ----------
    result : pandas.DataFrame
        The output of :func:`funnel` (its ``attrs`` and ``denominator`` column are used).
    denominators : array-like of float, optional
        Denominators at which to compute the limits. By default FunnelPlotR's grid: ``n``
        equally spaced values from 3 (1.1 for ``"SR"``) to the largest denominator rounded up,
        together with the units' own denominators.
    n : int, default 1000
        Size of the default grid.

    Returns
    -------
    pandas.DataFrame
        One row per denominator (sorted, unique), with columns ``denominator``; ``lower95``,
        ``upper95``, ``lower998``, ``upper998`` (the limits in force, as in :func:`funnel`);
        the same four with suffix ``_adjusted`` (widened by ``attrs["tau2"]``, whether or not
        that adjustment is in force) and with suffix ``_unadjusted`` (no overdispersion; exact
        Poisson limits for ``"SR"``). ``attrs`` is copied from ``result``.

    See Also
    --------
    funnel, plot_funnel

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> table = pd.DataFrame({"unit": list("abcd"), "events": [3, 10, 4, 30],
    ...                       "patients": [40, 90, 60, 150]})
    >>> result = ia.funnel(table, numerator="events", denominator="patients", group="unit")
    >>> curves = ia.funnel_limits(result, [50, 100, 200])
    >>> curves[["denominator", "lower998", "upper998"]].round(4)
       denominator  lower998  upper998
    0         50.0    0.0082    0.3868
    1        100.0    0.0182    0.3439
    2        200.0    0.0257    0.3198
    """
    caller = "funnel_limits"
    if not isinstance(result, pd.DataFrame) or "denominator" not in result.columns:
        raise ParameterTypeError(
            f"The 'result' parameter of {caller}() must be the DataFrame returned by "
            f"ia.funnel(...). Got {type(result).__name__} instead."
        )
    attrs = result.attrs
    needed = ("data_type", "sr_method", "target", "tau2", "adjusted")
    absent = [key for key in needed if key not in attrs]
    if absent:
        raise ParameterError(
            f"The 'result' passed to {caller}() lacks attrs {absent!r}; pandas drops attrs in "
            "some operations. Suggestion: pass the DataFrame returned by ia.funnel(...) itself."
        )
    data_type = str(attrs["data_type"])
    if denominators is None:
        size = check_number(n, name="n", caller=caller, low=2, integer=True)
        data_den = result["denominator"].to_numpy(dtype=float)
        start = 1.1 if data_type == "SR" else 3.0
        grid = np.linspace(start, math.ceil(float(data_den.max())), size)
        x = np.unique(np.concatenate([grid, data_den]))
    else:
        x = np.unique(np.asarray(denominators, dtype=float).ravel())
        if len(x) == 0 or not np.all(np.isfinite(x)) or np.any(x <= 0):
            raise ParameterError(
                f"The 'denominators' parameter of {caller}() must hold finite numbers above 0. "
                f"Got {denominators!r} instead."
            )
    sr_method = str(attrs["sr_method"])
    target, tau2 = float(attrs["target"]), float(attrs["tau2"])
    adjusted_limits = _limits(
        x, data_type=data_type, sr_method=sr_method, target=target, tau2=tau2, adjusted=True
    )
    unadjusted = _limits(
        x, data_type=data_type, sr_method=sr_method, target=target, tau2=tau2, adjusted=False
    )
    in_force = adjusted_limits if attrs["adjusted"] else unadjusted
    frame = pd.DataFrame(
        {
            "denominator": x,
            **in_force,
            **{f"{key}_adjusted": value for key, value in adjusted_limits.items()},
            **{f"{key}_unadjusted": value for key, value in unadjusted.items()},
        }
    )
    frame.attrs = dict(attrs)
    return frame
