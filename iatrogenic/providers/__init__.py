"""Provider (therapist, service) analytics: funnels, case-mix-adjusted outcomes, CUSUM charts.

:func:`funnel` computes FunnelPlotR-compatible funnel statistics, :func:`funnel_limits` the
smooth limit curves and :func:`plot_funnel` draws them (matplotlib, an optional extra, is
imported only when a plot is drawn). :func:`therapist_outcomes` compares each therapist's
observed outcomes with those expected from the case mix (:func:`fit_casemix`), on a funnel and
with empirical-Bayes shrinkage; :func:`provider_cusum` is its sequential counterpart, the
risk-adjusted Bernoulli CUSUM of Steiner et al. (2000). Both feed the registered ``provider``
detector (:class:`ProviderDetector`, unit ``"therapist"``), which :func:`screen_providers` runs.
"""

from __future__ import annotations

from .casemix import CasemixModel, fit_casemix
from .cusum import ProviderCusum, cusum_arl, cusum_limit, cusum_path, cusum_weights, provider_cusum
from .detector import ProviderDetector
from .evaluation import evaluate_providers
from .funnel import DATA_TYPES, SR_METHODS, funnel, funnel_limits
from .plot import plot_cusum, plot_funnel
from .screen import screen_providers
from .therapists import OUTCOMES, patient_outcomes, suppress_counts, therapist_outcomes

__all__ = [
    "DATA_TYPES",
    "OUTCOMES",
    "SR_METHODS",
    "CasemixModel",
    "ProviderCusum",
    "ProviderDetector",
    "cusum_arl",
    "cusum_limit",
    "cusum_path",
    "cusum_weights",
    "evaluate_providers",
    "fit_casemix",
    "funnel",
    "funnel_limits",
    "patient_outcomes",
    "plot_cusum",
    "plot_funnel",
    "provider_cusum",
    "screen_providers",
    "suppress_counts",
    "therapist_outcomes",
]
