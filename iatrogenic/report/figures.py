"""The figures of the HTML report, drawn with the library's plots and inlined as PNG data URIs.

matplotlib is imported inside each function (the ``report`` extra): ``import iatrogenic`` and
``import iatrogenic.report`` stay light. Figures are drawn on a ``matplotlib.figure.Figure``
that pyplot does not track, so rendering a report leaves no open figures behind, and saved
without a software stamp so that the same input gives byte-identical PNGs.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..exceptions import IatrogenicError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "INSTALL_HINT", "change_figure", "course_figure", "funnel_figure", "mask_legend_counts",
]

INSTALL_HINT = "pip install 'iatrogenic[report]'"

#: Resolution of the inlined PNGs: sharp on a laptop screen, small enough to inline twenty.
DPI = 96



def require_matplotlib() -> None:
    """Fail with the install hint when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"The HTML report needs matplotlib and jinja2. Install them with: {INSTALL_HINT}"
        ) from error


def _png(
    draw: Callable[[Axes], None], size: tuple[float, float], margins: dict[str, float]
) -> str:
    """Draw on a fresh Axes and return the figure as a ``data:image/png;base64`` URI.

    Fixed ``margins`` (``Figure.subplots_adjust``) rather than a layout engine: twenty course
    plots in a report, and constrained layout would draw each one twice.
    """
    require_matplotlib()
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context({"font.size": 9, "axes.titlesize": 10, "legend.fontsize": 8}):
        figure = Figure(figsize=size)
        figure.subplots_adjust(**margins)
        draw(figure.subplots())
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def change_figure(change: pd.DataFrame, *, suppress: int) -> str:
    """The Jacobson plot (:func:`iatrogenic.plot_change`) of a ``reliable_change`` result,
    its legend's counts from 1 to ``suppress - 1`` shown as ``n<suppress``."""
    from ..plotting import plot_change

    def draw(ax: Axes) -> None:
        plot_change(change, ax=ax, title="First against last score")
        mask_legend_counts(ax, suppress)

    return _png(draw, (7.2, 5.0), {"left": 0.09, "right": 0.66, "bottom": 0.1, "top": 0.93})


def mask_legend_counts(ax: Axes, suppress: int) -> None:
    """Write legend counts ``(n=k)`` from 1 to ``suppress - 1`` as ``(n<suppress)``."""
    legend = ax.get_legend()
    for text in legend.get_texts() if legend is not None else []:
        text.set_text(re.sub(
            r"\(n=(\d+)\)",
            lambda m: f"(n<{suppress})" if 1 <= int(m[1]) < suppress else m[0],
            text.get_text(),
        ))


def funnel_figure(result: pd.DataFrame, *, top: float | None = None) -> str:
    """The funnel plot (:func:`iatrogenic.plot_funnel`) of a funnel-shaped table, its vertical
    axis from 0 up to at least ``top`` (e.g. the highest upper limit at the units' expected
    counts, which the automatic range cuts off when few points are drawn)."""
    from ..providers.plot import plot_funnel

    def draw(ax: Axes) -> None:
        plot_funnel(result, ax=ax, title="Therapists: observed / expected reliable deterioration")
        ax.set_xlabel("Expected number of patients with reliable deterioration (case mix)")
        ax.set_ylabel("Observed / expected")
        if top is not None and np.isfinite(top):
            ax.set_ylim(0.0, max(ax.get_ylim()[1], 1.05 * top))

    return _png(draw, (7.0, 4.5), {"left": 0.1, "right": 0.97, "bottom": 0.12, "top": 0.92})


def course_figure(
    rows: pd.DataFrame,
    patient_id: Any,
    *,
    patient: str,
    time: str,
    score: str,
    alarms: Sequence[float],
    warnings: Sequence[float],
    model: Any = None,
    score_label: str | None = None,
) -> tuple[str, bool]:
    """One patient's course with its events marked; returns the PNG URI and whether the
    expected band of ``model`` is drawn (the plain course when the model cannot track the
    patient, e.g. a covariate it needs is missing)."""
    from matplotlib.ticker import MaxNLocator

    from ..plotting import plot_course, plot_expected

    banded = [False]

    def draw(ax: Axes) -> None:
        title = f"Patient {patient_id}"
        if model is not None:
            try:
                plot_expected(model, rows, patient_id, patient=patient, time=time, score=score,
                              ax=ax, title=title, legend=False)
                banded[0] = True
            except IatrogenicError:
                ax.clear()
        if not banded[0]:
            plot_course(rows, patient_id, patient=patient, time=time, score=score, ax=ax,
                        title=title)
        _mark_events(ax, alarms, warnings)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("session")
        ax.set_ylabel(score_label or score)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)

    margins = {"left": 0.08, "right": 0.72, "bottom": 0.16, "top": 0.88}
    return _png(draw, (8.0, 2.8), margins), banded[0]


def _mark_events(ax: Axes, alarms: Sequence[float], warnings: Sequence[float]) -> None:
    """Triangles along the top edge at the sessions of events: filled for alarms, open for
    warnings, with a dotted line down through each alarm's session."""
    transform = ax.get_xaxis_transform()  # x in data, y in axes fraction
    for session in sorted(set(alarms)):
        ax.axvline(session, color="#000000", lw=0.6, ls=":", zorder=1)
    # shape and fill tell the levels apart without colour
    if len(warnings):
        ax.scatter(list(warnings), np.full(len(warnings), 0.97), transform=transform,
                   marker="v", s=46, facecolors="white", edgecolors="#000000", clip_on=False,
                   zorder=4, label="warning (open triangle)")
    if len(alarms):
        ax.scatter(list(alarms), np.full(len(alarms), 0.97), transform=transform,
                   marker="v", s=46, color="#000000", clip_on=False, zorder=5,
                   label="alarm (filled triangle)")
