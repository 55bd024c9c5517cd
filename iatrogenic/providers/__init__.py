"""Provider (therapist, service) analytics: funnel plots of outcome rates.

:func:`funnel` computes FunnelPlotR-compatible funnel statistics, :func:`funnel_limits` the
smooth limit curves and :func:`plot_funnel` draws them (matplotlib, an optional extra, is
imported only when a plot is drawn).
"""

from __future__ import annotations

from .funnel import DATA_TYPES, SR_METHODS, funnel, funnel_limits
from .plot import plot_funnel

__all__ = ["DATA_TYPES", "SR_METHODS", "funnel", "funnel_limits", "plot_funnel"]
