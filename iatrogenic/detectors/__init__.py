"""Detectors: one small class per harm signal, registered by name.

Importing this package registers the built-in detectors.
"""

from __future__ import annotations

from .alliance_rupture import AllianceRupture
from .base import EVENT_COLUMNS, HARMS, LEVELS, Detector, ScreenInput, empty_events, make_events
from .dependency import Dependency
from .disengagement import Disengagement
from .medication_burden import MedicationBurden
from .off_track import OffTrack
from .registry import get_detector, list_detectors, register_detector, registered_names
from .reliable_deterioration import ReliableDeterioration
from .risk_item import RiskItemSignal
from .secondary_worsening import SecondaryWorsening
from .sudden_loss import SuddenLoss
from .symptom_emergence import SymptomEmergence
from .worsening_class import WorseningClass
from .worsening_trajectory import WorseningTrajectory

__all__ = [
    "EVENT_COLUMNS",
    "HARMS",
    "LEVELS",
    "AllianceRupture",
    "Dependency",
    "Detector",
    "Disengagement",
    "MedicationBurden",
    "OffTrack",
    "ReliableDeterioration",
    "RiskItemSignal",
    "ScreenInput",
    "SecondaryWorsening",
    "SuddenLoss",
    "SymptomEmergence",
    "WorseningClass",
    "WorseningTrajectory",
    "empty_events",
    "get_detector",
    "list_detectors",
    "make_events",
    "register_detector",
    "registered_names",
]
