"""Detectors: one small class per harm signal, registered by name.

Importing this package registers the built-in detectors.
"""

from __future__ import annotations

from .base import EVENT_COLUMNS, HARMS, LEVELS, Detector, ScreenInput, empty_events, make_events
from .registry import get_detector, list_detectors, register_detector, registered_names
from .reliable_deterioration import ReliableDeterioration
from .sudden_loss import SuddenLoss

__all__ = [
    "EVENT_COLUMNS",
    "HARMS",
    "LEVELS",
    "Detector",
    "ReliableDeterioration",
    "ScreenInput",
    "SuddenLoss",
    "empty_events",
    "get_detector",
    "list_detectors",
    "make_events",
    "register_detector",
    "registered_names",
]
