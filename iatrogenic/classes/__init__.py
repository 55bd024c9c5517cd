"""Trajectory classes: latent-class growth analysis of patients' courses.

See :func:`fit_trajectory_classes` and ``docs/trajectory-classes.md``.
"""

from __future__ import annotations

from .lcga import RANDOM, VARIANCES, TrajectoryClassModel, fit_trajectory_classes
from .plot import plot_trajectory_classes

__all__ = [
    "RANDOM",
    "VARIANCES",
    "TrajectoryClassModel",
    "fit_trajectory_classes",
    "plot_trajectory_classes",
]
