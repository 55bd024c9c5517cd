"""Core statistics: reliable change, clinical significance and their summaries."""

from .rci import critical_difference
from .reliable_change import reliable_change
from .summary import change_summary, ha_group_summary, wilson_interval
from .talking_therapies import talking_therapies_outcomes, talking_therapies_summary

__all__ = [
    "change_summary",
    "critical_difference",
    "ha_group_summary",
    "reliable_change",
    "talking_therapies_outcomes",
    "talking_therapies_summary",
    "wilson_interval",
]
