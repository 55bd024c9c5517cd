"""iatrogenic: find harm in longitudinal mental-health outcome data.

Functions take tidy long DataFrames (one row per patient and session) and return tidy DataFrames.

Examples
--------
>>> import iatrogenic as ia
>>> data = ia.datasets.load_example()
>>> change = ia.reliable_change(data, score="phq9", instrument="phq9")
>>> list(change.columns[:7])
['patient', 'pre', 'post', 'change', 'rci', 'category', 'reason']
"""

from __future__ import annotations

# first, so that submodules can read it while the package initialises
__version__ = "0.1.0"

from . import datasets, detectors, exceptions, instruments
from .classes import TrajectoryClassModel, fit_trajectory_classes, plot_trajectory_classes
from .core.expected_response import (
    ExpectedResponseModel,
    fit_expected_response,
    load_reference_model,
)
from .core.growth import GrowthModel, fit_growth
from .core.percentage_anchor import anchor_change, anchor_group_change, percentage_change
from .core.reliable_change import reliable_change
from .core.sudden_change_summary import describe_sudden_changes, sudden_change_cases
from .core.sudden_changes import (
    count_sudden_change_intervals,
    sudden_change_cutoff,
    sudden_change_intervals,
    sudden_changes,
    sudden_changes_by_person,
)
from .core.summary import change_summary, ha_group_summary
from .core.talking_therapies import talking_therapies_outcomes, talking_therapies_summary
from .detectors import get_detector, list_detectors
from .evaluation import evaluate
from .io import from_wide
from .monitor import Monitor
from .plotting import plot_change, plot_course, plot_expected
from .providers import (
    ProviderCusum,
    evaluate_providers,
    funnel,
    funnel_limits,
    patient_outcomes,
    plot_cusum,
    plot_funnel,
    provider_cusum,
    screen_providers,
    suppress_counts,
    therapist_outcomes,
)
from .report import html_report
from .screen import screen, screen_summary

__all__ = [
    "ExpectedResponseModel",
    "GrowthModel",
    "Monitor",
    "ProviderCusum",
    "TrajectoryClassModel",
    "__version__",
    "anchor_change",
    "anchor_group_change",
    "change_summary",
    "count_sudden_change_intervals",
    "datasets",
    "describe_sudden_changes",
    "detectors",
    "evaluate",
    "evaluate_providers",
    "exceptions",
    "fit_expected_response",
    "fit_growth",
    "fit_trajectory_classes",
    "from_wide",
    "funnel",
    "funnel_limits",
    "get_detector",
    "ha_group_summary",
    "html_report",
    "instruments",
    "list_detectors",
    "load_reference_model",
    "patient_outcomes",
    "percentage_change",
    "plot_change",
    "plot_course",
    "plot_cusum",
    "plot_expected",
    "plot_funnel",
    "plot_trajectory_classes",
    "provider_cusum",
    "reliable_change",
    "screen",
    "screen_providers",
    "screen_summary",
    "sudden_change_cases",
    "sudden_change_cutoff",
    "sudden_change_intervals",
    "sudden_changes",
    "sudden_changes_by_person",
    "suppress_counts",
    "talking_therapies_outcomes",
    "talking_therapies_summary",
    "therapist_outcomes",
]
