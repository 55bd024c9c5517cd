"""Instrument registry: ranges, directions, reliabilities, cut-offs and risk items, with sources.

Examples
--------
>>> import iatrogenic as ia
>>> ia.instruments.get("phq9").caseness.threshold
10
"""

from __future__ import annotations

from . import atc
from ._builtin import BUILTIN_INSTRUMENTS
from .registry import (
    Caseness,
    FixedRule,
    Instrument,
    RiskItem,
    SeverityBand,
    get,
    list,
    names,
    register,
    unregister,
    with_overrides,
)

__all__ = [
    "Caseness",
    "FixedRule",
    "Instrument",
    "RiskItem",
    "SeverityBand",
    "atc",
    "get",
    "list",
    "names",
    "register",
    "unregister",
    "with_overrides",
]

for _instrument in BUILTIN_INSTRUMENTS:
    register(_instrument)
del _instrument
