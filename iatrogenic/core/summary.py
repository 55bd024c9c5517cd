"""Summaries of :func:`~iatrogenic.core.reliable_change.reliable_change` results.

:func:`change_summary` counts patients per category (as clinicalsignificance's individual level
summary, with Wilson score intervals); :func:`ha_group_summary` gives Hageman & Arrindell's
group-level percentages changed and functional (clinicalsignificance's ``group_level_summary``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from .._validation import check_number
from ..exceptions import (
    ColumnNotFoundError,
    InvalidValueError,
    ParameterError,
    ParameterTypeError,
)
from .reliable_change import CATEGORIES_CHANGE, CATEGORIES_COMBINED

__all__ = ["change_summary", "ha_group_summary", "wilson_interval"]


def wilson_interval(
    count: Any, total: Any, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (vectorised); NaN where ``total`` is 0.

    Examples
    --------
    >>> low, high = wilson_interval(18, 40)
    >>> round(float(low), 4), round(float(high), 4)
    (0.3071, 0.6017)
    """
    count = np.asarray(count, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    z = float(ndtri(1.0 - (1.0 - confidence) / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = count / total
        denominator = 1.0 + z**2 / total
        centre = (p + z**2 / (2.0 * total)) / denominator
        half = z / denominator * np.sqrt(p * (1.0 - p) / total + z**2 / (4.0 * total**2))
    # the bounds are exactly 0 at count 0 and 1 at count = total (rounding gives -7e-18)
    low = np.where(count == 0, 0.0, centre - half)
    high = np.where(count == total, 1.0, centre + half)
    missing = ~(total > 0)
    return np.where(missing, np.nan, low), np.where(missing, np.nan, high)


def _check_result(result: Any, caller: str) -> pd.DataFrame:
    if not isinstance(result, pd.DataFrame) or "category" not in result.columns:
        what = "a DataFrame without a 'category' column" if isinstance(
            result, pd.DataFrame) else type(result).__name__
        raise ParameterTypeError(
            f"The 'result' parameter of {caller}() must be the table returned by "
            f"ia.reliable_change(). Got {what} instead. Suggestion: "
            f"{caller}(ia.reliable_change(data, ...))."
        )
    repeated = list(dict.fromkeys(result.columns[result.columns.duplicated()]))
    if repeated:
        raise InvalidValueError(
            f"The result passed to {caller}() has repeated column names "
            f"({', '.join(map(repr, repeated))}). Suggestion: pass the table returned by "
            "ia.reliable_change() unchanged, or drop the repeated columns, e.g. "
            "result.loc[:, ~result.columns.duplicated()]."
        )
    return result


def _check_categories(result: pd.DataFrame, categories: list[Any], caller: str) -> None:
    """Every non-missing category must be one of the analysis' categories: none is dropped."""
    values = result["category"]
    unknown = np.flatnonzero((values.notna() & ~values.isin(categories)).to_numpy())
    if len(unknown):
        shown = "; ".join(
            f"index {result.index[i]!r} (category={values.iloc[i]!r})" for i in unknown[:5]
        ) + ("; ..." if len(unknown) > 5 else "")
        raise InvalidValueError(
            f"Column 'category' of the result passed to {caller}() has values that are not "
            f"categories of the analysis ({', '.join(map(repr, categories))}); "
            f"{len(unknown)} row{'s' if len(unknown) > 1 else ''}, first: {shown}. Suggestion: "
            "pass the table returned by ia.reliable_change() unchanged."
        )


def _group_order(values: pd.Series) -> list[Any]:
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique())
        return [c for c in values.cat.categories if c in present]
    uniques = list(pd.unique(values.dropna()))
    try:
        return sorted(uniques)
    except TypeError:
        return uniques


def change_summary(
    result: pd.DataFrame,
    *,
    by: str | None = None,
    confidence: float = 0.95,
    digits: int | None = None,
) -> pd.DataFrame:
    """Number and share of patients per category, with Wilson score intervals.

    Counts only evaluable patients (a category that is not missing), as clinicalsignificance
    does; ``result.attrs["n_original"]`` minus the total gives the patients left out, each with
    its ``reason`` in ``result``.

    Parameters
    ----------
    result : DataFrame
        Output of :func:`~iatrogenic.core.reliable_change.reliable_change`.
    by : str, optional
        Column of ``result`` to group by. Default: ``"group"`` when ``result`` has it (the
        ``group=`` of ``reliable_change``, as R summarises grouped analyses), else no grouping.
    confidence : float, default 0.95
        Confidence level of the Wilson intervals.
    digits : int, optional
        Round ``percent`` (and ``percent_by_group``) to this many decimals; clinicalsignificance
        rounds to 4. Default: no rounding.

    Returns
    -------
    DataFrame
        One row per category (every category of the analysis, zero counts included, in
        clinicalsignificance's order), and per group when grouped (groups in the order of their
        categories when categorical, else sorted). Columns: ``group`` (when grouped),
        ``category``, ``n``, ``percent`` (fraction of all evaluable patients, 0-1, as R's
        ``percent``), ``percent_by_group`` (fraction within the group, when grouped), ``ci_low``,
        ``ci_high`` (Wilson interval of ``percent``, or of ``percent_by_group`` when grouped).

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> data = pd.DataFrame({"patient": [1, 1, 2, 2, 3, 3], "session": [1, 2] * 3,
    ...                      "score": [20, 8, 15, 14, 9, 19]})
    >>> result = ia.reliable_change(data, reliability=0.89, sd=5.0)
    >>> ia.change_summary(result)[["category", "n", "percent"]]
           category  n   percent
    0      improved  1  0.333333
    1     unchanged  1  0.333333
    2  deteriorated  1  0.333333
    """
    caller = "change_summary"
    result = _check_result(result, caller)
    confidence = check_number(confidence, name="confidence", caller=caller, low=0, high=1,
                              low_inclusive=False, high_inclusive=False)
    if digits is not None:
        digits = check_number(digits, name="digits", caller=caller, low=0, integer=True)
    if by is None and "group" in result.columns:
        by = "group"
    if by is not None and by not in result.columns:
        raise ColumnNotFoundError(
            f"Column {by!r} (given as by=) is not in the result passed to {caller}(). "
            f"Available columns: {', '.join(map(repr, result.columns))}. Suggestion: pass "
            "by='<a column of the result>' (e.g. reliable_change(..., group='arm') adds 'group')."
        )
    categories = result.attrs.get("categories")
    if not categories:
        if isinstance(result["category"].dtype, pd.CategoricalDtype):
            categories = result["category"].cat.categories
        else:  # e.g. a result saved to CSV and read back: the categories of its approach
            present = set(result["category"].dropna())
            categories = CATEGORIES_CHANGE if present <= set(CATEGORIES_CHANGE) else (
                CATEGORIES_COMBINED)
    categories = list(categories)
    _check_categories(result, categories, caller)
    category = pd.Categorical(result["category"], categories=categories)
    evaluable = ~pd.isna(category)
    codes = np.asarray(category.codes)[evaluable]
    total = int(evaluable.sum())
    k = len(categories)

    def rounded(values: np.ndarray) -> np.ndarray:
        return np.round(values, digits) if digits is not None else values

    if by is None:
        counts = np.bincount(codes, minlength=k)
        low, high = wilson_interval(counts, total, confidence=confidence)
        with np.errstate(divide="ignore", invalid="ignore"):
            percent = counts / total
        out = pd.DataFrame({"category": categories, "n": counts, "percent": rounded(percent),
                            "ci_low": low, "ci_high": high})
    else:
        groups_col = result[by][evaluable]
        order = _group_order(result[by])
        position = {g: i for i, g in enumerate(order)}
        gcodes = np.array([position[g] for g in groups_col], dtype=np.int64) if len(
            groups_col) < 10_000 else pd.Index(order).get_indexer(groups_col)
        counts = np.bincount(gcodes * k + codes, minlength=len(order) * k).reshape(-1, k)
        group_totals = counts.sum(axis=1, keepdims=True)
        low, high = wilson_interval(counts, np.broadcast_to(group_totals, counts.shape),
                                    confidence=confidence)
        with np.errstate(divide="ignore", invalid="ignore"):
            by_group = counts / group_totals
        out = pd.DataFrame({
            "group": np.repeat(np.array(order, dtype=object), k),
            "category": categories * len(order),
            "n": counts.ravel(),
            "percent": rounded(counts.ravel() / total),
            "percent_by_group": rounded(by_group.ravel()),
            "ci_low": low.ravel(),
            "ci_high": high.ravel(),
        })
    out["category"] = pd.Categorical(out["category"], categories=categories, ordered=True)
    out.attrs.update(n_evaluable=total, n_not_evaluable=int(len(result) - total),
                     confidence=confidence)
    return out


def ha_group_summary(result: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Hageman & Arrindell's group-level estimates: share of patients changed and functional.

    As clinicalsignificance's ``group_level_summary`` for HA with a cut-off:
    ``z_changed = -mean(change) / (sd(change) * sqrt(r_dd))`` and
    ``z_functional = (cutoff - mean(post)) / (sd(post) * sqrt(r_post))``, where ``r_post`` is the
    HA reliability of the post scores; with lower-is-better the percentages are
    ``Phi(z)``, with higher-is-better ``1 - Phi(z)``. Means and SDs are per group, ``r_dd``,
    ``r_post`` and the cut-off pooled.

    Parameters
    ----------
    result : DataFrame
        Output of ``reliable_change(..., method="HA", cutoff_type=...)``.
    by : str, optional
        Grouping column; default ``"group"`` when present.

    Returns
    -------
    DataFrame
        Columns ``group`` (when grouped), ``category`` (``"changed"``, ``"functional"``),
        ``percent`` (fraction 0-1).
    """
    caller = "ha_group_summary"
    result = _check_result(result, caller)
    attrs = result.attrs
    if attrs.get("method") != "HA" or attrs.get("cutoff") is None:
        raise ParameterError(
            f"{caller}() needs a result of reliable_change(..., method='HA') with a cut-off "
            f"(cutoff_type= or cutoff=). Got method={attrs.get('method')!r}, "
            f"cutoff={attrs.get('cutoff')!r}."
        )
    if by is None and "group" in result.columns:
        by = "group"
    used = result["category"].notna().to_numpy()
    frame = result.loc[used, ["change", "post"] + ([by] if by else [])]
    r_dd = float(attrs["r_dd"])
    se = float(attrs["se_measurement"])
    sd_post_all = float(attrs["sd_post"])
    r_post = (sd_post_all**2 - se**2) / sd_post_all**2
    cutoff = float(attrs["cutoff"])
    lower = attrs["direction"] == -1

    def estimates(part: pd.DataFrame) -> tuple[float, float]:
        change = part["change"].to_numpy()
        post = part["post"].to_numpy()
        z_changed = -change.mean() / (change.std(ddof=1) * math.sqrt(r_dd))
        z_functional = (cutoff - post.mean()) / (post.std(ddof=1) * math.sqrt(r_post))
        changed, functional = float(ndtr(z_changed)), float(ndtr(z_functional))
        return (changed, functional) if lower else (1.0 - changed, 1.0 - functional)

    rows: list[dict[str, Any]] = []
    if by is None:
        changed, functional = estimates(frame)
        rows = [{"category": "changed", "percent": changed},
                {"category": "functional", "percent": functional}]
    else:
        for value in _group_order(result[by]):
            changed, functional = estimates(frame[frame[by] == value])
            rows += [{"group": value, "category": "changed", "percent": changed},
                     {"group": value, "category": "functional", "percent": functional}]
    return pd.DataFrame(rows)
