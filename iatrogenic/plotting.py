"""Plots (optional extra): ``pip install 'iatrogenic[plot]'``.

matplotlib is imported inside each plotting function, never at module level, so that
``import iatrogenic`` works without it and costs nothing when nobody plots. Every function takes
``ax=None`` (a new figure is made) or an existing Axes, draws on it and returns it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._validation import (
    check_choice,
    check_columns,
    check_dataframe,
    check_number,
    prepare_long,
)
from .exceptions import ParameterError, ParameterTypeError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "CATEGORY_COLORS",
    "CATEGORY_MARKERS",
    "SIGNAL_COLORS",
    "SIGNAL_MARKERS",
    "plot_change",
    "plot_course",
    "plot_expected",
]

#: Colour of each reliable-change category, from the Okabe-Ito palette (Okabe & Ito 2008,
#: "Color Universal Design"), which stays distinct under the common colour-vision deficiencies:
#: blues for better, grey for no reliable change, orange and vermillion for worse. A red-green
#: scale would fail the 1 in 12 men with a red-green deficiency exactly where it matters.
CATEGORY_COLORS: dict[str, str] = {
    "recovered": "#0072B2",
    "improved": "#56B4E9",
    "unchanged": "#999999",
    "deteriorated": "#E69F00",
    "harmed": "#D55E00",
}
#: Marker of each category, so that colour is never the only cue: square (recovered) and circle
#: (improved) for better, a dot for no reliable change, up-triangle (deteriorated) and diamond
#: (harmed) for worse.
CATEGORY_MARKERS: dict[str, str] = {
    "recovered": "s",
    "improved": "o",
    "unchanged": ".",
    "deteriorated": "^",
    "harmed": "D",
}
_OTHER_COLOR = "#4c72b0"  # categories outside the map (e.g. a user's own labels)
_LINE_COLOR = "#404040"
INSTALL_HINT = "pip install 'iatrogenic[plot]'"


def _require_matplotlib() -> ModuleType:
    """Import and return ``matplotlib.pyplot``, or fail with the install hint."""
    try:
        import matplotlib  # noqa: F401
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            f"Plotting needs matplotlib, which is not installed. Install it with: {INSTALL_HINT}"
        ) from error
    return plt


def _axes(ax: Any, *, figsize: tuple[float, float], caller: str) -> Axes:
    """The Axes to draw on: the caller's, or a new figure's."""
    plt = _require_matplotlib()
    if ax is None:
        _figure, new_ax = plt.subplots(figsize=figsize)
        return new_ax
    from matplotlib.axes import Axes as _Axes

    if not isinstance(ax, _Axes):
        raise ParameterTypeError(
            f"The 'ax' parameter of {caller}() must be a matplotlib Axes or None. "
            f"Got {type(ax).__name__} instead. Suggestion: fig, ax = plt.subplots()."
        )
    return ax


def _finite_attr(attrs: Mapping[Any, Any], key: str) -> float | None:
    """``attrs[key]`` as a finite float, or None when absent, missing or not a number."""
    value = attrs.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _band_from_attrs(attrs: Mapping[Any, Any]) -> float | None:
    """Half-width in points of the reliable-change band stored by ``reliable_change``.

    A fixed rule stores ``points``; the statistical JT rule stores ``critical_value`` and
    ``s_diff``. Other methods (GLN, HLL, EN, NK, HA) have no band parallel to the diagonal, so
    none is drawn for them unless the caller passes ``band=``.
    """
    points = _finite_attr(attrs, "points")
    if attrs.get("rule") == "fixed" and points is not None:
        return points
    critical, s_diff = _finite_attr(attrs, "critical_value"), _finite_attr(attrs, "s_diff")
    if critical is not None and s_diff is not None:
        return critical * s_diff
    if points is not None and attrs.get("rule") is None:
        return points
    return None


def plot_change(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    band: float | None = None,
    cutoff: float | None = None,
    better: str | None = None,
    label: str | None = None,
    limits: tuple[float, float] | None = None,
    jitter: float = 0.0,
    title: str | None = None,
    legend: bool = True,
) -> Axes:
    """Jacobson plot: each patient's post score against the pre score, coloured by category.

    Draws the no-change diagonal, the reliable-change band (two lines parallel to it, ``band``
    points away), the clinical cut-off as a vertical and a horizontal line when there is one, and
    one point per evaluated patient, coloured by category (recovered, improved, unchanged,
    deteriorated, harmed; see :data:`CATEGORY_COLORS`). Patients without a pre or post score are
    not drawn; the legend counts the patients of each category that are.

    Parameters
    ----------
    result : DataFrame
        The output of :func:`iatrogenic.reliable_change`: columns ``pre``, ``post`` and
        ``category``; its ``attrs`` supply the band, the cut-off and the direction.
    ax : matplotlib Axes, optional
        Where to draw; by default a new 7.5 x 5.5 inch figure (the legend sits to the right).
    band : float, optional
        Half-width of the reliable-change band in points. By default from ``result.attrs``:
        ``points`` for a fixed rule, else ``critical_value * s_diff`` (JT). Methods without a
        band parallel to the diagonal get none unless it is given here.
    cutoff : float, optional
        Clinical cut-off in points; by default ``result.attrs["cutoff"]`` when present.
    better : {"lower", "higher"}, optional
        Direction of improvement, for the corner labels; by default ``result.attrs["better"]``,
        else ``"lower"``.
    label : str, optional
        Name of the score for the axis labels, e.g. ``"PHQ-9"``.
    limits : (low, high), optional
        Range of both axes, e.g. ``(0, 27)``; by default the data, cut-off and a margin.
    jitter : float, default 0
        Random shift of up to this many points added to each drawn point (not to the lines), so
        that patients with the same integer scores do not hide one another. Seeded: the same
        call draws the same picture.
    title : str, optional
        Title; by default ``"Reliable change (<method>)"`` when ``attrs`` names the method.
    legend : bool, default True
        Draw the legend.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on. Its artists carry ids (``get_gid()``): ``"no_change"``,
        ``"band_upper"``, ``"band_lower"``, ``"cutoff_pre"``, ``"cutoff_post"`` for the lines,
        ``"category:<name>"`` for the points.

    Raises
    ------
    ImportError
        When matplotlib is not installed (install the ``plot`` extra).
    ParameterError, ParameterTypeError, ColumnNotFoundError
        For a bad keyword or a result without the columns above.

    Notes
    -----
    Jacobson & Truax (1991): a patient's change is reliable when it exceeds
    ``z * s_diff = z * SD * sqrt(2 * (1 - r))``; the points outside the band are the reliably
    changed patients, those beyond the cut-off lines changed range.

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Clinical significance: a statistical approach to
    defining meaningful change in psychotherapy research. Journal of Consulting and Clinical
    Psychology, 59(1), 12-19.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from iatrogenic.plotting import plot_change
    >>> result = pd.DataFrame({
    ...     "patient": [1, 2, 3], "pre": [20.0, 12.0, 6.0], "post": [8.0, 11.0, 14.0],
    ...     "category": ["recovered", "unchanged", "harmed"],
    ... })
    >>> result.attrs.update(critical_value=1.96, s_diff=2.35, cutoff=10, method="JT")
    >>> ax = plot_change(result, label="PHQ-9")
    >>> ax.get_xlabel()
    'PHQ-9 (pre)'
    >>> sorted(line.get_gid() for line in ax.get_lines())
    ['band_lower', 'band_upper', 'cutoff_post', 'cutoff_pre', 'no_change']
    """
    caller = "plot_change"
    check_dataframe(result, caller=caller, name="result")
    check_columns(result, {"pre": "pre", "post": "post", "category": "category"}, caller=caller)
    attrs: Mapping[Any, Any] = result.attrs
    band = check_number(band, name="band", caller=caller, low=0.0, allow_none=True)
    if band is None:
        band = _band_from_attrs(attrs)
    cutoff = check_number(cutoff, name="cutoff", caller=caller, allow_none=True)
    if cutoff is None:
        cutoff = _finite_attr(attrs, "cutoff")
    if better is None:
        better = attrs.get("better") if attrs.get("better") in ("lower", "higher") else "lower"
    better = check_choice(better, ["lower", "higher"], name="better", caller=caller)
    jitter = float(check_number(jitter, name="jitter", caller=caller, low=0.0))
    if limits is not None:
        if not isinstance(limits, (tuple, list)) or len(limits) != 2:
            raise ParameterTypeError(
                f"The 'limits' parameter of {caller}() must be a (low, high) pair, e.g. "
                f"limits=(0, 27). Got {limits!r} instead."
            )
        low = check_number(limits[0], name="limits[0]", caller=caller)
        high = check_number(limits[1], name="limits[1]", caller=caller, low=low,
                            low_inclusive=False)
        limits = (low, high)

    own_figure = ax is None
    ax = _axes(ax, figsize=(7.5, 5.5), caller=caller)

    pre = pd.to_numeric(result["pre"], errors="coerce").to_numpy(dtype=np.float64)
    post = pd.to_numeric(result["post"], errors="coerce").to_numpy(dtype=np.float64)
    category = result["category"].astype(object).to_numpy()
    drawn = np.isfinite(pre) & np.isfinite(post) & pd.notna(category)

    if limits is None:
        values = np.concatenate([pre[drawn], post[drawn]])
        if cutoff is not None:
            values = np.append(values, cutoff)
        low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        margin = max(1.0, 0.05 * (high - low))
        limits = (low - margin, high + margin)
    low, high = limits
    span = np.array([low, high])

    ax.plot(span, span, color=_LINE_COLOR, linewidth=1.0, label="no change", gid="no_change")
    if band is not None and band > 0:
        band_label = f"reliable change band (±{band:.2f})"
        ax.plot(span, span + band, color=_LINE_COLOR, linewidth=0.8, linestyle="--",
                label=band_label, gid="band_upper")
        ax.plot(span, span - band, color=_LINE_COLOR, linewidth=0.8, linestyle="--",
                gid="band_lower")
    if cutoff is not None:
        cut_label = f"cut-off ({cutoff:.4g})"
        ax.axvline(cutoff, color=_LINE_COLOR, linewidth=0.8, linestyle=":", label=cut_label,
                   gid="cutoff_pre")
        ax.axhline(cutoff, color=_LINE_COLOR, linewidth=0.8, linestyle=":", gid="cutoff_post")

    x, y = pre[drawn], post[drawn]
    if jitter > 0:
        shake = np.random.default_rng(0)
        x = x + shake.uniform(-jitter, jitter, size=len(x))
        y = y + shake.uniform(-jitter, jitter, size=len(y))
    kinds = category[drawn]
    present = set(kinds.tolist())
    order = [name for name in CATEGORY_COLORS if name in present]
    order += sorted(str(name) for name in present if name not in CATEGORY_COLORS)
    for name in order:
        mask = kinds == name
        ax.scatter(x[mask], y[mask], s=18, alpha=0.8, linewidths=0,
                   color=CATEGORY_COLORS.get(name, _OTHER_COLOR),
                   marker=CATEGORY_MARKERS.get(name, "o"),
                   label=f"{name} (n={int(mask.sum())})", gid=f"category:{name}", zorder=3)

    # Corner labels say which side of the diagonal is better, so the plot reads the same for
    # scales where higher is better (e.g. ORS, WEMWBS).
    worse_y, better_y = (0.97, 0.03) if better == "lower" else (0.03, 0.97)
    ax.text(0.97, worse_y, "worse", transform=ax.transAxes, ha="right",
            va="top" if worse_y > 0.5 else "bottom", color="#7f7f7f", fontsize="small")
    ax.text(0.97, better_y, "better", transform=ax.transAxes, ha="right",
            va="top" if better_y > 0.5 else "bottom", color="#7f7f7f", fontsize="small")

    ax.set_xlabel(f"{label} (pre)" if label else "pre score")
    ax.set_ylabel(f"{label} (post)" if label else "post score")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal", adjustable="box")
    if title is None and isinstance(attrs.get("method"), str):
        title = f"Reliable change ({attrs['method']})"
    if title:
        ax.set_title(title)
    if legend:
        # Outside the square: inside, it would hide the upper-left corner, where the
        # deteriorated patients are.
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  fontsize="small", frameon=False)
    if own_figure:
        from matplotlib.figure import Figure

        if isinstance(ax.figure, Figure):
            ax.figure.tight_layout()
    return ax


#: Colours of sudden changes in plot_course (gain: improvement, loss: worsening).
_CHANGE_COLORS = {"gain": "#1a9850", "loss": "#d73027"}


def plot_course(
    data: pd.DataFrame,
    patient_id: Any,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    events: pd.DataFrame | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Axes:
    """Plot one patient's scores over the sessions, with sudden gains and losses marked.

    Parameters
    ----------
    data : DataFrame
        Long format: one row per patient and session.
    patient_id : object
        The patient to plot (a value of the ``patient`` column).
    patient, time, score : str
        Column names of the patient id, the session and the score.
    events : DataFrame, optional
        Output of :func:`sudden_changes` (gains, losses, or both concatenated): the patient's
        rows are drawn as thick coloured segments from ``(session_pre, score_pre)`` to
        ``(session_post, score_post)``, green for gains and red for losses, reversed ones
        dashed.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure when None.
    title : str, optional
        Default ``"Patient <id>"``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from iatrogenic.core.sudden_changes import sudden_changes
    >>> from iatrogenic.plotting import plot_course
    >>> data = pd.DataFrame({"patient": 1, "session": range(1, 9),
    ...                      "score": [30, 31, 29, 18, 17, 16, 17, 15]})
    >>> ax = plot_course(data, 1, events=sudden_changes(data, cutoff=7))
    >>> len(ax.lines)
    2
    """
    caller = "plot_course"
    long = prepare_long(data, patient=patient, time=time, score=score, caller=caller)
    rows = long.frame[long.frame["patient"] == patient_id]
    if len(rows) == 0:
        shown = ", ".join(repr(p) for p in long.patients[:5])
        raise ParameterError(
            f"The 'patient_id' parameter of {caller}() must be a patient in the data (column "
            f"{patient!r}). Got {patient_id!r}; patients include {shown}."
        )
    ax = _axes(ax, figsize=(7.0, 3.5), caller=caller)
    scored = rows[rows["score"].notna()]
    ax.plot(scored["time"], scored["score"], color=_LINE_COLOR, marker="o", lw=1.2, ms=4,
            label="score")
    if events is not None and len(events):
        mine = events[events["patient"] == patient_id]
        labelled: set[str] = set()
        for kind, color in _CHANGE_COLORS.items():
            chosen = mine[mine["kind"] == kind]
            if len(chosen) == 0:
                continue
            xs = np.column_stack([chosen["session_pre"], chosen["session_post"],
                                  np.full(len(chosen), np.nan)]).ravel()
            ys = np.column_stack([chosen["score_pre"], chosen["score_post"],
                                  np.full(len(chosen), np.nan)]).ravel()
            ax.plot(xs, ys, color=color, lw=3.5, solid_capstyle="round",
                    label=f"sudden {kind}")
            labelled.add(kind)
            reversed_ = chosen[chosen["reversal"].astype(bool)]
            if len(reversed_):
                ax.scatter(reversed_["session_post"], reversed_["score_post"], marker="x",
                           color=color, zorder=3, label=f"{kind} later reversed")
    ax.set_xlabel(long.columns["time"])
    ax.set_ylabel(long.columns["score"])
    ax.set_title(title if title is not None else f"Patient {patient_id}")
    ax.legend(loc="best", fontsize="small", frameon=False)
    return ax


#: Colour of each expected-response signal: the OQ-45 tools' traffic-light names, drawn in
#: Okabe-Ito hues (bluish green, yellow, vermillion) that stay apart under colour-vision
#: deficiencies; white is light grey with a dark edge so that it shows on a white background.
SIGNAL_COLORS: dict[str, str] = {
    "white": "#f0f0f0",
    "green": "#009E73",
    "yellow": "#F0E442",
    "red": "#D55E00",
}
#: Marker of each signal, so that the level reads without colour: circle (white, green),
#: diamond (yellow), up-triangle (red).
SIGNAL_MARKERS: dict[str, str] = {"white": "o", "green": "o", "yellow": "D", "red": "^"}


def _marker_path(marker: str) -> Any:
    from matplotlib.markers import MarkerStyle

    style = MarkerStyle(marker)
    return style.get_path().transformed(style.get_transform())


def plot_expected(
    model: Any,
    data: pd.DataFrame,
    patient_id: Any,
    *,
    patient: str | None = None,
    time: str | None = None,
    score: str | None = None,
    level: float = 0.90,
    warning_level: float = 0.80,
    ax: Any = None,
    title: str | None = None,
    legend: bool = True,
) -> Axes:
    """Plot one patient's course on its expected curve, with both bands and coloured signals.

    The expected course from the patient's intake (a line that starts at the intake score, as
    :meth:`ExpectedResponseModel.track` does), the warning band (darker shading) and the alarm
    band (lighter shading), from the first session after intake to the patient's last session;
    the scores are joined by a grey line and each session's marker has the colour of its
    signal (see :data:`SIGNAL_COLORS`).

    Parameters
    ----------
    model : ExpectedResponseModel
        A fitted model (:func:`iatrogenic.fit_expected_response`,
        :func:`iatrogenic.load_reference_model`).
    data : DataFrame
        Long format with the patient's rows (other patients are ignored).
    patient_id : object
        The patient to plot (a value of the ``patient`` column).
    patient, time, score : str, optional
        Column names; default those of the model's reference sample.
    level, warning_level : float, default 0.90 and 0.80
        Band levels (as in :meth:`ExpectedResponseModel.track`).
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure when None.
    title : str, optional
        Default ``"Patient <id>"``.
    legend : bool, default True

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from iatrogenic.core.expected_response import load_reference_model
    >>> data = pd.DataFrame({"patient": 1, "session": range(1, 7),
    ...                      "phq9": [16, 14, 17, 19, 24, 15]})
    >>> ax = plot_expected(load_reference_model(), data, 1)
    >>> len(ax.collections)   # two bands, one marker layer
    3
    """
    from iatrogenic.core.expected_response import ExpectedResponseModel

    caller = "plot_expected"
    if not isinstance(model, ExpectedResponseModel):
        raise ParameterTypeError(
            f"The 'model' parameter of {caller}() must be a fitted ExpectedResponseModel. Got "
            f"{type(model).__name__} instead."
        )
    patient_col = patient or model.columns_.get("patient", "patient")
    tracked = model.track(
        data,
        patient=patient_col,
        time=time,
        score=score,
        level=level,
        warning_level=warning_level,
    )
    rows = tracked[tracked["patient"] == patient_id]
    if len(rows) == 0:
        shown = ", ".join(repr(p) for p in pd.unique(tracked["patient"])[:5])
        raise ParameterError(
            f"The 'patient_id' parameter of {caller}() must be a patient in the data (column "
            f"{patient_col!r}). Got {patient_id!r}; patients include {shown}."
        )
    ax = _axes(ax, figsize=(7.0, 3.5), caller=caller)
    if rows["intake"].notna().any():
        intake = float(rows["intake"].dropna().iloc[0])
        start = float(rows.loc[rows["time_since_intake"] == 0, "session"].iloc[0])
        end = float(rows["session"].max())
        # as track(): at intake the expected score is the intake itself, with no band; the
        # curve and its bands start at the first session after intake
        since = rows["time_since_intake"].to_numpy(dtype=float)
        first = float(np.nanmin(since[since > 0])) if np.any(since > 0) else 1.0
        grid = np.linspace(first, max(end - start, first), 100)
        covariates = {
            c: float(data.loc[data[patient_col] == patient_id, c].dropna().iloc[0])
            for c in model.covariates_
        }
        course = model.course(
            intake, grid, covariates=covariates, level=level, warning_level=warning_level
        )
        x = start + grid
        ax.fill_between(x, course["lower"], course["upper"], color="#4c72b0", alpha=0.15, lw=0,
                        label=f"{level * 100:g}% band")
        ax.fill_between(x, course["warning_lower"], course["warning_upper"], color="#4c72b0",
                        alpha=0.25, lw=0, label=f"{warning_level * 100:g}% band")
        ax.plot(np.r_[start, x], np.r_[intake, course["expected"]], color="#4c72b0", lw=1.5,
                label="expected")
    scored = rows[rows["score"].notna()]
    ax.plot(scored["session"], scored["score"], color="#404040", lw=1.0, zorder=2)
    signals = [str(s) for s in scored["signal"]]
    colors = [SIGNAL_COLORS.get(s, "#969696") for s in signals]
    points = ax.scatter(scored["session"], scored["score"], c=colors, edgecolors="#404040",
                        s=36, zorder=3, label="score (signal colour and shape)")
    # one collection, one marker per point: the shape carries the signal without colour
    points.set_paths([_marker_path(SIGNAL_MARKERS.get(s, "o")) for s in signals])
    ax.set_xlabel(time or model.columns_.get("time", "session"))
    ax.set_ylabel(score or model.columns_.get("score", "score"))
    ax.set_title(title if title is not None else f"Patient {patient_id}")
    if legend:
        ax.legend(loc="best", fontsize="small", frameon=False)
    return ax
