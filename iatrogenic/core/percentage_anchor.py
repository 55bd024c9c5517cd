"""Percentage-change and anchor-based change, as clinicalsignificance 3.0.0 computes them.

:func:`percentage_change` (R's ``cs_percentage``) and :func:`anchor_change` (R's ``cs_anchor``
with ``target = "individual"``) categorise each patient's pre-post change against a threshold: a
proportion of the pre score, or a minimal important difference (MID) in points found with an
external anchor. :func:`anchor_group_change` gives the group-level anchor results of
``cs_anchor(target = "group", bayesian = FALSE)``: a paired (within) or Welch (between) t
interval of the mean difference compared with the MID.

The pre and post scores are picked exactly as :func:`~iatrogenic.core.reliable_change.
reliable_change` picks them (same ``pre``/``post`` semantics, same validation, every patient keeps
a row and the ones that cannot be evaluated carry a ``reason``). The formulas and the few
deliberate differences from R are in ``docs/reliable-change.md``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import check_choice, check_number, describe_rows
from ..exceptions import (
    ColumnNotFoundError,
    EmptyDataError,
    IatrogenicError,
    InvalidValueError,
    ParameterError,
)
from .reliable_change import CATEGORIES_CHANGE, reliable_change

__all__ = [
    "ANCHOR_GROUP_CATEGORIES",
    "anchor_change",
    "anchor_group_change",
    "percentage_change",
]

#: Categories of the group-level anchor results (clinicalsignificance's wording).
ANCHOR_GROUP_CATEGORIES = (
    "Statistically not significant",
    "Statistically significant but not clinically relevant",
    "Not significantly less than the threshold",
    "Not significantly greater than the threshold",
    "Probably clinically significant effect",
    "Large clinically significant effect",
)


def _pre_post(
    data: pd.DataFrame, *, caller: str, patient: str, time: str, score: str, pre: Any,
    post: Any, better: str, group: str | None,
) -> pd.DataFrame:
    """Each patient's pre and post score (and reason), chosen and validated as reliable_change.

    The JT statistics computed on the way are discarded; a message of reliable_change() is
    re-raised with the caller's name.
    """
    try:
        out = reliable_change(
            data, patient=patient, time=time, score=score, pre=pre, post=post,
            better="lower" if better == "lower" else "higher", group=group, method="JT",
            reliability=0.5, sd=1.0,
        )
    except IatrogenicError as error:
        raise type(error)(str(error).replace("reliable_change()", f"{caller}()")) from None
    keep = ["patient", "pre", "post", "change", "reason"] + (["group"] if group else [])
    result = out[keep].copy()
    result.attrs.update({k: out.attrs[k] for k in ("better", "direction", "n_original",
                                                     "n_used", "pre", "post")})
    return result


def _categorise(
    result: pd.DataFrame, improved: np.ndarray, deteriorated: np.ndarray, caller: str
) -> pd.DataFrame:
    evaluable = result["reason"].isna().to_numpy()
    code = np.where(improved, 0, np.where(deteriorated, 2, 1))
    code[~evaluable] = -1
    category = pd.Categorical.from_codes(code, categories=pd.Index(CATEGORIES_CHANGE),
                                         ordered=True)
    columns = list(result.columns)
    result.insert(columns.index("reason"), "category", pd.Series(category, index=result.index))
    for position, name in enumerate(CATEGORIES_CHANGE):
        result[name] = pd.arrays.BooleanArray(code == position, ~evaluable)
    result.attrs["categories"] = list(CATEGORIES_CHANGE)
    result.attrs["approach"] = caller
    return result


def _threshold(value: Any, name: str, caller: str, high: float | None) -> float:
    return float(check_number(value, name=name, caller=caller, low=0, high=high,
                              low_inclusive=False))


def percentage_change(
    data: pd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    pre: Any = None,
    post: Any = None,
    improvement: float,
    deterioration: float | None = None,
    better: Literal["lower", "higher"] = "lower",
    group: str | None = None,
) -> pd.DataFrame:
    """Percentage change of every patient and its category (R's ``cs_percentage``).

    ``pct_change = (post - pre) / pre``; a patient **improved** when ``d * pct_change >=
    improvement`` and **deteriorated** when ``d * pct_change <= -deterioration`` (``d = -1`` when
    lower scores are better, ``+1`` when higher are), else **unchanged**; a patient whose score
    did not change is unchanged. The boundaries are inclusive, as in R.

    Parameters
    ----------
    data : DataFrame
        Long format: one row per patient and occasion.
    patient, time, score : str
        Column names of the patient id, the occasion and the score.
    pre, post : scalar, optional
        Occasions compared, as in :func:`~iatrogenic.core.reliable_change.reliable_change`
        (default: each patient's first and last observed score).
    improvement : float
        Proportion of the pre score, in (0, 1], that counts as improvement (0.5 = 50 %).
    deterioration : float, optional
        Proportion in (0, 1] that counts as deterioration; default ``improvement`` (as R).
    better : {"lower", "higher"}, default "lower"
        Direction of improvement.
    group : str, optional
        Column of a patient-level grouping, copied to the output (for
        :func:`~iatrogenic.core.summary.change_summary`).

    Returns
    -------
    DataFrame
        One row per patient: ``patient``, ``pre``, ``post``, ``change``, ``pct_change``,
        ``category`` (``improved`` / ``unchanged`` / ``deteriorated``, NaN when not evaluable),
        ``reason`` (why not evaluable, else missing), the flags ``improved``, ``unchanged``,
        ``deteriorated`` and ``group`` when given. ``attrs``: ``improvement``,
        ``deterioration``, ``better``, ``direction``, ``n_original``, ``n_used``, ``pre``,
        ``post``, ``categories``.

    Raises
    ------
    ParameterError, ParameterTypeError
        A threshold outside (0, 1] or of the wrong type, a bad ``better``.
    InvalidValueError
        A negative pre score (a percentage of it has no meaning); the message lists the patients.
    ColumnNotFoundError, ColumnTypeError, DuplicateRowsError, EmptyDataError
        Bad data, as in ``reliable_change``.

    Notes
    -----
    A pre score of 0 makes ``pct_change`` infinite (any change is "100 %" or more): the patient
    improved or deteriorated by the sign of the change. clinicalsignificance 3.0.0 counts every
    rise from 0 as improved even when lower is better (its ``(pre == 0 & post > 0)`` clause),
    which we do not copy.

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> data = pd.DataFrame({
    ...     "patient": [1, 1, 2, 2, 3, 3, 4],
    ...     "session": [1, 2, 1, 2, 1, 2, 1],
    ...     "score": [20, 10, 15, 14, 10, 12, 12],
    ... })
    >>> out = ia.percentage_change(data, improvement=0.5, deterioration=0.2)
    >>> out[["patient", "pct_change", "category", "reason"]]
       patient  pct_change      category                   reason
    0        1   -0.500000      improved                      NaN
    1        2   -0.066667     unchanged                      NaN
    2        3    0.200000  deteriorated                      NaN
    3        4         NaN           NaN  only one observed score
    """
    caller = "percentage_change"
    better = check_choice(better, ("lower", "higher"), name="better", caller=caller)
    improvement = _threshold(improvement, "improvement", caller, 1.0)
    deterioration = improvement if deterioration is None else _threshold(
        deterioration, "deterioration", caller, 1.0)
    result = _pre_post(data, caller=caller, patient=patient, time=time, score=score, pre=pre,
                       post=post, better=better, group=group)
    pre_scores = result["pre"].to_numpy(dtype=np.float64)
    post_scores = result["post"].to_numpy(dtype=np.float64)
    negative = np.flatnonzero(pre_scores < 0)
    if negative.size:
        raise InvalidValueError(
            f"{caller}() divides by the pre score, but column {score!r} (given as score=) has "
            f"negative pre scores: {describe_rows(result, negative, ['patient', 'pre'])}. "
            "A percentage of a negative score has no meaning. Suggestion: use a scale whose "
            "zero is 'no symptoms', or ia.anchor_change() / ia.reliable_change()."
        )
    change = post_scores - pre_scores
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = change / pre_scores
    direction = result.attrs["direction"]
    same = change == 0
    improved = (direction * pct >= improvement) & ~same
    deteriorated = (direction * pct <= -deterioration) & ~same
    result.insert(4, "pct_change", pct)
    result = _categorise(result, improved, deteriorated, caller)
    result.attrs.update(improvement=improvement, deterioration=deterioration)
    return result


def anchor_change(
    data: pd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    pre: Any = None,
    post: Any = None,
    improvement: float,
    deterioration: float | None = None,
    better: Literal["lower", "higher"] = "lower",
    group: str | None = None,
) -> pd.DataFrame:
    """Anchor-based change of every patient (clinicalsignificance's individual ``cs_anchor``).

    A patient **improved** when ``d * (post - pre) >= improvement`` and **deteriorated** when
    ``d * (post - pre) <= -deterioration`` (``d = -1`` when lower scores are better), else
    **unchanged**: the thresholds are minimal important differences (MID) in points, found with
    an external anchor. Boundaries are inclusive, as in R.

    Parameters
    ----------
    data : DataFrame
        Long format: one row per patient and occasion.
    patient, time, score : str
        Column names of the patient id, the occasion and the score.
    pre, post : scalar, optional
        Occasions compared, as in :func:`~iatrogenic.core.reliable_change.reliable_change`.
    improvement : float
        MID for improvement in score points (> 0).
    deterioration : float, optional
        MID for deterioration in points (> 0); default ``improvement`` (as R).
    better : {"lower", "higher"}, default "lower"
        Direction of improvement.
    group : str, optional
        Column of a patient-level grouping, copied to the output.

    Returns
    -------
    DataFrame
        One row per patient: ``patient``, ``pre``, ``post``, ``change``, ``category``,
        ``reason``, the flags ``improved``, ``unchanged``, ``deteriorated`` and ``group`` when
        given. ``attrs``: ``improvement``, ``deterioration``, ``better``, ``direction``,
        ``n_original``, ``n_used``, ``pre``, ``post``, ``categories``.

    Raises
    ------
    ParameterError, ParameterTypeError
        A threshold that is not a positive number, a bad ``better``.
    ColumnNotFoundError, ColumnTypeError, DuplicateRowsError, EmptyDataError
        Bad data, as in ``reliable_change``.

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> data = pd.DataFrame({
    ...     "patient": [1, 1, 2, 2, 3, 3],
    ...     "session": [1, 2, 1, 2, 1, 2],
    ...     "score": [20, 15, 15, 13, 10, 13],
    ... })
    >>> ia.anchor_change(data, improvement=5, deterioration=3)[["patient", "change", "category"]]
       patient  change      category
    0        1    -5.0      improved
    1        2    -2.0     unchanged
    2        3     3.0  deteriorated
    """
    caller = "anchor_change"
    better = check_choice(better, ("lower", "higher"), name="better", caller=caller)
    improvement = _threshold(improvement, "improvement", caller, None)
    deterioration = improvement if deterioration is None else _threshold(
        deterioration, "deterioration", caller, None)
    result = _pre_post(data, caller=caller, patient=patient, time=time, score=score, pre=pre,
                       post=post, better=better, group=group)
    moved = result.attrs["direction"] * result["change"].to_numpy(dtype=np.float64)
    result = _categorise(result, moved >= improvement, moved <= -deterioration, caller)
    result.attrs.update(improvement=improvement, deterioration=deterioration)
    return result


def _group_category(lower: float, upper: float, difference: float, threshold: float,
                    direction: int) -> str | None:
    """clinicalsignificance's group-level anchor categories (``calc_anchor.cs_anchor_group_*``).

    For higher-is-better R has no "Statistically not significant" rule (an interval containing
    0 can be called a clinically significant effect); we apply it in both directions.
    """
    if np.sign(lower) != np.sign(upper):
        return "Statistically not significant"
    if direction == -1:
        if lower > threshold:
            return "Statistically significant but not clinically relevant"
        if upper > threshold and difference > threshold and lower < threshold:
            return "Not significantly less than the threshold"
        if upper > threshold and difference < threshold and lower < threshold:
            return "Probably clinically significant effect"
        if upper < threshold:
            return "Large clinically significant effect"
        return None
    if upper < threshold:
        return "Statistically significant but not clinically relevant"
    if lower < threshold and difference < threshold and upper > threshold:
        return "Not significantly greater than the threshold"
    if lower < threshold and difference > threshold and upper > threshold:
        return "Probably clinically significant effect"
    if lower > threshold:
        return "Large clinically significant effect"
    return None


def anchor_group_change(
    data: pd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    pre: Any = None,
    post: Any = None,
    improvement: float,
    better: Literal["lower", "higher"] = "lower",
    group: str | None = None,
    effect: Literal["within", "between"] = "within",
    reference: Any = None,
    ci_level: float = 0.95,
) -> pd.DataFrame:
    """Group-level anchor-based results (``cs_anchor(target = "group", bayesian = FALSE)``).

    ``effect="within"``: per group (or overall), the mean pre-post difference of the patients
    with both scores and its paired t interval. ``effect="between"``: the difference of mean
    scores at the ``post`` occasion between each group and the ``reference`` group, with the
    Welch t interval. The interval is compared with the MID ``d * improvement`` (``d = -1`` when
    lower is better) as clinicalsignificance does.

    Parameters
    ----------
    data : DataFrame
        Long format: one row per patient and occasion.
    patient, time, score : str
        Column names of the patient id, the occasion and the score.
    pre, post : scalar, optional
        Occasions; ``post`` is required for ``effect="between"`` (the occasion compared).
    improvement : float
        MID in points (> 0).
    better : {"lower", "higher"}, default "lower"
        Direction of improvement.
    group : str, optional
        Group column; required for ``effect="between"``.
    effect : {"within", "between"}, default "within"
        Pre-post change within groups, or post scores between groups.
    reference : scalar, optional
        Reference group of ``effect="between"``; default the first group (first category of a
        categorical column, else the smallest value), as R. The other groups follow in the
        same order (categories, else sorted), as R.
    ci_level : float, default 0.95
        Confidence level of the t interval.

    Returns
    -------
    DataFrame
        ``within``: ``group`` (when grouped; groups in order of first appearance in patient
        order, as R), ``difference`` (mean of post - pre), ``lower``,
        ``upper``, ``ci``, ``n``, ``category``. ``between``: ``reference``, ``comparison``,
        ``difference`` (comparison minus reference), ``lower``, ``upper``, ``ci``,
        ``n_reference``, ``n_comparison``, ``category``.

    Raises
    ------
    ParameterError, ParameterTypeError
        Bad thresholds, ``effect="between"`` without ``group`` or ``post``, an unknown
        ``reference``, fewer than 2 scores in a group.

    Notes
    -----
    clinicalsignificance's default is Bayesian (``bayesian = TRUE``: posterior median and
    credible interval of ``BayesFactor::ttestBF`` by MCMC); only its ``bayesian = FALSE``
    (frequentist) variant is reproduced here.

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> data = pd.DataFrame({
    ...     "patient": [1, 1, 2, 2, 3, 3, 4, 4],
    ...     "session": [1, 2] * 4,
    ...     "score": [20, 12, 18, 11, 22, 15, 19, 13],
    ... })
    >>> out = ia.anchor_group_change(data, improvement=5)
    >>> out[["difference", "n", "category"]]
       difference  n                            category
    0        -7.0  4  Large clinically significant effect
    """
    caller = "anchor_group_change"
    better = check_choice(better, ("lower", "higher"), name="better", caller=caller)
    effect = check_choice(effect, ("within", "between"), name="effect", caller=caller)
    improvement = _threshold(improvement, "improvement", caller, None)
    ci_level = float(check_number(ci_level, name="ci_level", caller=caller, low=0, high=1,
                                  low_inclusive=False, high_inclusive=False))
    direction = -1 if better == "lower" else 1
    threshold = direction * improvement
    rows: list[dict[str, Any]] = []
    if effect == "within":
        result = _pre_post(data, caller=caller, patient=patient, time=time, score=score,
                           pre=pre, post=post, better=better, group=group)
        used = result[result["reason"].isna()]
        # R: tidyr::nest(.by = group) -> groups in order of first appearance (patient order)
        parts = [(None, used)] if group is None else [
            (g, used[used["group"] == g]) for g in pd.unique(used["group"].dropna())]
        for name, part in parts:
            change = part["change"].to_numpy(dtype=np.float64)
            _need(len(change), caller, f"group {name!r}" if group else "the data")
            mean = float(change.mean())
            half = float(stats.t.ppf(0.5 + ci_level / 2, len(change) - 1)) * float(
                change.std(ddof=1)) / np.sqrt(len(change))
            row = {"group": name} if group is not None else {}
            row.update(difference=mean, lower=mean - half, upper=mean + half, ci=ci_level,
                       n=len(change))
            rows.append(row)
    else:
        if group is None or post is None:
            raise ParameterError(
                f"effect='between' in {caller}() compares the groups' scores at one occasion: "
                f"pass group=<column> and post=<occasion> (got group={group!r}, post={post!r})."
            )
        for column, keyword in ((group, "group"), (time, "time"), (score, "score")):
            if column not in data.columns:
                raise ColumnNotFoundError(
                    f"Column {column!r} (given as {keyword}=) is not in the data passed to "
                    f"{caller}(). Available columns: {', '.join(map(repr, data.columns))}."
                )
        at_post = data.loc[data[time] == post, [group, score]]
        if at_post.empty:
            raise ParameterError(
                f"The 'post' parameter of {caller}() names occasion {post!r}, but column "
                f"{time!r} (given as time=) has no such value."
            )
        order = _groups(data[group])
        if reference is None:
            reference = order[0]
        elif reference not in order:
            raise ParameterError(
                f"The 'reference' parameter of {caller}() must be one of the groups "
                f"{order!r}; got {reference!r}."
            )
        ref = at_post.loc[at_post[group] == reference, score].dropna().to_numpy(np.float64)
        _need(len(ref), caller, f"reference group {reference!r}")
        for name in order:  # R: tidyr::crossing() sorts the comparison groups
            if name == reference:
                continue
            comp = at_post.loc[at_post[group] == name, score].dropna().to_numpy(np.float64)
            _need(len(comp), caller, f"group {name!r}")
            v1, v2 = comp.var(ddof=1) / len(comp), ref.var(ddof=1) / len(ref)
            se = float(np.sqrt(v1 + v2))
            df = (v1 + v2) ** 2 / (v1 ** 2 / (len(comp) - 1) + v2 ** 2 / (len(ref) - 1))
            diff = float(comp.mean() - ref.mean())
            half = float(stats.t.ppf(0.5 + ci_level / 2, df)) * se
            rows.append({"reference": reference, "comparison": name, "difference": diff,
                         "lower": diff - half, "upper": diff + half, "ci": ci_level,
                         "n_reference": len(ref), "n_comparison": len(comp)})
    out = pd.DataFrame(rows)
    out["category"] = [
        _group_category(lo, up, dif, threshold, direction)
        for lo, up, dif in zip(out["lower"], out["upper"], out["difference"], strict=True)
    ]
    out.attrs.update(improvement=improvement, better=better, direction=direction,
                     threshold=threshold, effect=effect, ci_level=ci_level)
    return out


def _groups(values: pd.Series) -> list[Any]:
    """Groups in R's order: the categories of a categorical column, else sorted values."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique())
        return [c for c in values.cat.categories if c in present]
    return sorted(pd.unique(values.dropna()))


def _need(n: int, caller: str, what: str) -> None:
    if n < 2:
        raise EmptyDataError(
            f"{caller}() needs at least 2 scores in {what} for a t interval; got {n}. "
            "Suggestion: merge small groups or drop group=."
        )
