"""Funnel plot drawing (optional extra: ``pip install 'iatrogenic[plot]'``).

matplotlib is imported inside :func:`plot_funnel` and :func:`plot_cusum`, never at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..exceptions import ParameterError, ParameterTypeError, UnknownNameError
from ..plotting import _axes
from .cusum import ProviderCusum
from .funnel import funnel_limits

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["FUNNEL_COLORS", "plot_cusum", "plot_funnel"]

#: Colours of the limit pairs and points, from the Okabe-Ito palette (distinct under the common
#: colour-vision deficiencies); outliers differ by marker too (triangle up: high, down: low), so
#: that colour is never the only cue.
FUNNEL_COLORS: dict[str, str] = {
    "95": "#56B4E9",
    "998": "#009E73",
    "target": "#404040",
    "point": "#0072B2",
    "high": "#D55E00",
    "low": "#E69F00",
}
_OUTLIER_MARKERS = {"high": "^", "low": "v"}
_Y_LABELS = {"PR": "Proportion", "SR": "Standardised ratio", "RC": "Ratio"}


def plot_funnel(
    result: pd.DataFrame,
    ax: Axes | None = None,
    *,
    label: bool = True,
    title: str | None = None,
    n: int = 1000,
) -> Axes:
    """Draw a funnel plot: one point per unit, the target and the 95% and 99.8% limits.

    Parameters
    ----------
    result : pandas.DataFrame
        The output of :func:`iatrogenic.funnel`, or the therapist table of
        :func:`iatrogenic.therapist_outcomes` (its funnel of observed against expected harm:
        the therapists with funnel limits are drawn; those whose counts were suppressed are
        left out, since their point would give the count away, and the title says how many).
    ax : matplotlib Axes, optional
        Where to draw; by default a new 7 x 5 inch figure.
    label : bool, default True
        Write the group name next to each outlier.
    title : str, optional
        Title; by default says whether the limits are overdispersion-adjusted.
    n : int, default 1000
        Points on each limit curve.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on. Artists carry ids (``get_gid()``): ``"target"``, ``"lower95"``,
        ``"upper95"``, ``"lower998"``, ``"upper998"`` for the lines, ``"units"`` and
        ``"outliers"`` for the points, ``"label:<group>"`` for the outlier labels.

    See Also
    --------
    iatrogenic.funnel, iatrogenic.funnel_limits

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> table = pd.DataFrame({"unit": list("abcdef"), "events": [3, 10, 4, 30, 2, 40],
    ...                       "patients": [40, 90, 60, 150, 30, 160]})
    >>> ax = ia.plot_funnel(ia.funnel(table, numerator="events", denominator="patients",
    ...                               group="unit"))
    >>> sorted(line.get_gid() for line in ax.get_lines())
    ['lower95', 'lower998', 'target', 'upper95', 'upper998']
    """
    result, hidden = _funnel_form(result)
    curves = funnel_limits(result, n=n)
    axes = _axes(ax, figsize=(7.0, 5.0), caller="plot_funnel")
    attrs: dict[str, Any] = {str(key): value for key, value in result.attrs.items()}
    x = curves["denominator"].to_numpy()
    axes.axhline(float(attrs["target"]), color=FUNNEL_COLORS["target"], lw=1, gid="target")
    for level, name, style in (("95", "95%", "--"), ("998", "99.8%", "-")):
        for side in ("lower", "upper"):
            axes.plot(
                x,
                curves[f"{side}{level}"].to_numpy(),
                color=FUNNEL_COLORS[level],
                ls=style,
                lw=1.2,
                gid=f"{side}{level}",
                label=f"{name} limits" if side == "lower" else None,
            )
    outlier = result["outlier"].to_numpy(dtype=object)
    flagged = np.array([value is not None and value == value for value in outlier], dtype=bool)
    axes.scatter(
        result.loc[~flagged, "denominator"],
        result.loc[~flagged, "ratio"],
        s=18,
        color=FUNNEL_COLORS["point"],
        alpha=0.8,
        gid="units",
        label="units",
        zorder=3,
    )
    for side in ("high", "low"):
        rows = flagged & (outlier == side)
        if rows.any():
            axes.scatter(
                result.loc[rows, "denominator"],
                result.loc[rows, "ratio"],
                s=36,
                marker=_OUTLIER_MARKERS[side],
                color=FUNNEL_COLORS[side],
                edgecolor="black",
                linewidths=0.5,
                gid="outliers",
                label=f"{side} outliers",
                zorder=4,
            )
    if flagged.any() and label:
        for _, row in result.loc[flagged].iterrows():
            axes.annotate(
                str(row["group"]),
                (row["denominator"], row["ratio"]),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=8,
                gid=f"label:{row['group']}",
            )
    data_type = str(attrs.get("data_type", "PR"))
    axes.set_xlabel("Expected" if data_type == "SR" else "Denominator")
    axes.set_ylabel(_Y_LABELS.get(data_type, "Ratio"))
    if title is None:
        adjusted = "overdispersion-adjusted" if attrs.get("adjusted") else "unadjusted"
        title = f"Funnel plot ({adjusted} limits, phi = {float(attrs['phi']):.2f})"
        if hidden:
            title += f"\n{hidden} with counts under the suppression threshold not shown"
    axes.set_title(title)
    # FunnelPlotR's automatic range: 0.7 to 1.3 times the target, widened to 0.9 times the
    # smallest and 1.1 times the largest ratio
    ratio = result["ratio"].to_numpy(dtype=float)
    finite = ratio[np.isfinite(ratio)]
    target = float(attrs["target"])
    if len(finite) and target > 0:
        axes.set_ylim(
            min(0.7 * target, 0.9 * float(finite.min())),
            max(1.3 * target, 1.1 * float(finite.max())),
        )
    axes.legend(loc="best", fontsize=8)
    return axes


def _funnel_form(result: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``result`` as :func:`iatrogenic.funnel` returns it, and the number of units hidden.

    A therapist table of :func:`iatrogenic.therapist_outcomes` becomes its funnel of observed
    against expected (``denominator`` is the expected count); rows without funnel limits (too
    few patients) are not on the funnel, and suppressed rows are hidden.
    """
    if not isinstance(result, pd.DataFrame):
        raise ParameterTypeError(
            "The 'result' parameter of plot_funnel() must be the DataFrame returned by "
            f"ia.funnel(...) or ia.therapist_outcomes(...). Got {type(result).__name__} instead."
        )
    therapist_table = {"therapist", "expected", "ratio", "upper998"} <= set(result.columns)
    if "denominator" in result.columns or not therapist_table:
        return result, 0
    on_funnel = np.isfinite(result["upper998"].to_numpy(dtype=float))
    suppressed = (
        result["suppressed"].to_numpy(dtype=bool) if "suppressed" in result.columns
        else np.zeros(len(result), dtype=bool)
    )
    shown = on_funnel & ~suppressed
    frame = pd.DataFrame(
        {
            "group": result["therapist"].to_numpy(dtype=object)[shown],
            "denominator": result["expected"].to_numpy(dtype=float)[shown],
            "ratio": result["ratio"].to_numpy(dtype=float)[shown],
            "outlier": result["outlier"].to_numpy(dtype=object)[shown],
        }
    )
    frame.attrs = {**result.attrs, "data_type": "SR", "target": 1.0}
    if "phi" not in frame.attrs:
        raise ParameterError(
            "The therapist table passed to plot_funnel() has no funnel (fewer than 2 therapists "
            "with min_patients scored patients, or its attrs were dropped). Suggestion: pass the "
            "DataFrame returned by ia.therapist_outcomes(...) itself, with a smaller "
            "min_patients if needed."
        )
    return frame, int((on_funnel & suppressed).sum())


def plot_cusum(
    result: ProviderCusum,
    therapists: Any = None,
    ax: Axes | None = None,
    *,
    title: str | None = None,
) -> Axes:
    """Draw each therapist's risk-adjusted CUSUM path against its patients, with the limit h.

    Parameters
    ----------
    result : ProviderCusum
        The output of :func:`iatrogenic.provider_cusum`.
    therapists : therapist id or list of ids, optional
        The therapists drawn; by default those with a signal, or every therapist when none
        signalled.
    ax : matplotlib Axes, optional
        Where to draw; by default a new 8 x 4.5 inch figure.
    title : str, optional
        Title; by default gives the odds ratio tested and ``h``.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on. Artists carry ids (``get_gid()``): ``"cusum:<therapist>"`` for each
        path (x: the patient's position ``n`` within the therapist; y: ``S_t``), ``"limit"`` for
        the horizontal line at ``h`` and ``"signals"`` for the markers of the signals.

    Raises
    ------
    iatrogenic.exceptions.ParameterTypeError
        ``result`` is not a :class:`~iatrogenic.providers.cusum.ProviderCusum`.
    iatrogenic.exceptions.UnknownNameError
        A therapist of ``therapists`` has no row in the path.

    See Also
    --------
    iatrogenic.provider_cusum, iatrogenic.plot_funnel

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> rng = np.random.default_rng(0)
    >>> tab = pd.DataFrame({"patient": range(400), "therapist": np.repeat(["a", "b"], 200),
    ...                     "intake": rng.normal(15, 5, 400)})
    >>> tab["harm"] = rng.random(400) < np.where(tab["therapist"] == "b", 0.35, 0.12)
    >>> result = ia.provider_cusum(tab, therapist="therapist", outcome="harm",
    ...                            severity="intake", limit=3.0)
    >>> ax = ia.plot_cusum(result, therapists=["a", "b"])
    >>> sorted(line.get_gid() for line in ax.get_lines())
    ['cusum:a', 'cusum:b', 'limit']
    """
    if not isinstance(result, ProviderCusum):
        raise ParameterTypeError(
            "The 'result' parameter of plot_cusum() must be the output of ia.provider_cusum(). "
            f"Got {type(result).__name__} instead. Suggestion: result = "
            "ia.provider_cusum(data, therapist=...); ia.plot_cusum(result)."
        )
    path = result.path
    known = pd.unique(path["therapist"].dropna())
    if therapists is None:
        signalled = pd.unique(path.loc[path["signal"], "therapist"])
        chosen = list(signalled) if len(signalled) else list(known)
    else:
        chosen = [therapists] if isinstance(therapists, (str, int, np.integer)) else list(
            therapists
        )
        missing = [t for t in chosen if t not in set(known)]
        if missing:
            raise UnknownNameError(
                f"The 'therapists' parameter of plot_cusum() names therapists without patients "
                f"in the result: {missing[:5]!r} ({len(missing)} in all). Valid values are the "
                f"therapists of result.path, e.g. {list(known[:5])!r}. Suggestion: check the ids."
            )
    axes = _axes(ax, figsize=(8.0, 4.5), caller="plot_cusum")
    h = float(result.limit)
    for therapist in chosen:
        rows = path[path["therapist"] == therapist]
        axes.plot(
            rows["n"].to_numpy(),
            rows["cusum"].to_numpy(dtype=float),
            lw=1.2,
            drawstyle="steps-post",
            gid=f"cusum:{therapist}",
            label=str(therapist),
        )
    axes.axhline(h, color=FUNNEL_COLORS["high"], ls="--", lw=1, gid="limit", label=f"h = {h:.2f}")
    hits = path[path["signal"] & path["therapist"].isin(chosen)]
    if len(hits):
        axes.scatter(
            hits["n"].to_numpy(),
            hits["cusum"].to_numpy(dtype=float),
            marker="v",
            s=40,
            color=FUNNEL_COLORS["high"],
            edgecolor="black",
            linewidths=0.5,
            gid="signals",
            label="signals",
            zorder=4,
        )
    axes.set_xlabel("Patients of the therapist, in the order they finished")
    axes.set_ylabel("Risk-adjusted CUSUM")
    if title is None:
        title = f"Risk-adjusted CUSUM (odds ratio {result.odds_ratio:g} against 1, h = {h:.2f})"
    axes.set_title(title)
    if len(chosen) <= 12:
        axes.legend(loc="best", fontsize=8)
    return axes
