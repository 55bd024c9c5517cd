"""The detector contract: one small class per harm signal, one event table shape for all.

A detector has a string ``name``, the ``harm`` it signals (a key of :data:`HARMS`), the inputs it
``needs`` and keyword-only parameters set in ``__init__``. Its :meth:`Detector.detect` takes a
:class:`ScreenInput` (validated data plus the optional columns named by the caller) and returns a
DataFrame with exactly :data:`EVENT_COLUMNS`.

Every detector is causal: an event at session t uses only the data up to t, so the same code serves
a batch screen and a live monitor.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._validation import LongData
from ..instruments import Instrument

__all__ = [
    "EVENT_COLUMNS",
    "HARMS",
    "LEVELS",
    "Detector",
    "ScreenInput",
    "empty_events",
    "label",
    "make_events",
]

#: Harm types of the taxonomy (``shared/design/HARMS.md``): key -> what the data shows.
HARMS: dict[str, str] = {
    "deterioration": "symptoms worsen: reliable deterioration, or functional to clinical range",
    "sudden_worsening": "a sudden loss between adjacent sessions",
    "off_track": "score beyond the expected-treatment-response band for similar patients",
    "worsening_course": "patient-level slope credibly in the harmful direction",
    "symptom_emergence": "items low at intake become elevated; a second measure reaches caseness",
    "self_harm": "the instrument's risk item rises from zero, jumps or reaches its maximum",
    "disengagement": "missed sessions accumulate, gaps lengthen, unplanned ending",
    "alliance_rupture": "alliance below its concern threshold or dropping",
    "dependency": "treatment far past the expected dose without reliable improvement",
    "secondary_worsening": "a second measure (hopelessness, stigma, self-esteem) reliably worsens",
    "provider": "a therapist's clients deteriorate more often than their case mix predicts",
    "medication": "polypharmacy, long benzodiazepine courses, abrupt stops, minors",
}

LEVELS: tuple[str, ...] = ("warning", "alarm")

#: Columns of every event table, in order, with their dtypes.
EVENT_COLUMNS: dict[str, str] = {
    "patient": "object",
    "detector": "object",
    "harm": "object",
    "session": "object",
    "level": "object",
    "value": "float64",
    "threshold": "float64",
    "evidence": "object",
}


@dataclass(frozen=True)
class ScreenInput:
    """What a detector sees: validated long data and the caller's optional inputs.

    Attributes
    ----------
    long : LongData
        Validated, sorted copy of the data (``frame`` has ``patient``, ``time``, ``score`` and the
        optional columns under their own names).
    columns : dict
        Optional inputs present in the data, ``{keyword: column}`` (``risk_item``, ``alliance``,
        ``attendance``, ``date``, ``therapist``, ``age``...).
    instrument : Instrument or None
        The instrument of the score column.
    better : {"lower", "higher"}
        Direction of improvement of the score.
    medications : DataFrame or None
        The medication table, when given.
    options : dict
        Any further keyword inputs (``items``, ``secondary``...).
    """

    long: LongData
    better: str = "lower"
    instrument: Instrument | None = None
    columns: dict[str, str] = field(default_factory=dict)
    medications: pd.DataFrame | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # per-row arrays derived from the input that several detectors need (read-only)
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def derived(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per screen: an array several detectors read (made read-only)."""
        if key not in self._derived:
            value = compute()
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            self._derived[key] = value
        return self._derived[key]

    def has(self, need: str) -> bool:
        """True when the input ``need`` ("score", a column keyword, "medications") exists."""
        if need == "score":
            return bool(self.long.columns.get("score"))
        if need == "medications":
            return self.medications is not None
        return need in self.columns or need in self.options


class Detector(ABC):
    """Base class of every detector.

    Subclasses set the class attributes ``name``, ``harm``, ``needs`` and ``description``, take
    their parameters as explicit keyword-only arguments of ``__init__`` (validated there) and
    implement :meth:`detect`.
    """

    name: ClassVar[str]
    harm: ClassVar[str]
    #: Inputs required: ``"score"``, ``"medications"`` or a column keyword of the screen;
    #: ``"a|b"`` means either.
    needs: ClassVar[tuple[str, ...]] = ("score",)
    description: ClassVar[str] = ""
    #: Parameter sets that ``__init__`` must reject with a clear error (used by the contract test).
    _invalid_params: ClassVar[tuple[dict[str, Any], ...]] = ()

    def missing_inputs(self, data: ScreenInput) -> list[str]:
        """The inputs this detector needs that ``data`` lacks (empty when it can run).

        A need written ``"attendance|date"`` is met by either input.
        """
        missing = []
        for need in self.needs:
            alternatives = need.split("|")
            if not any(data.has(alternative) for alternative in alternatives):
                if len(alternatives) == 1:
                    missing.append(need)
                else:
                    keywords = " or ".join(f"{a}=" for a in alternatives)
                    missing.append(f"{' or '.join(alternatives)} (pass {keywords})")
        return missing

    @abstractmethod
    def detect(self, data: ScreenInput) -> pd.DataFrame:
        """Return the events found in ``data`` (columns :data:`EVENT_COLUMNS`)."""

    def get_params(self) -> dict[str, Any]:
        """The parameters given to ``__init__``, by name."""
        import inspect

        signature = inspect.signature(type(self).__init__)
        return {
            name: getattr(self, name)
            for name in signature.parameters
            if name != "self" and hasattr(self, name)
        }

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def label(value: Any) -> str:
    """A session or score as it reads in evidence text: ``3``, ``pre``, ``2024-01-08``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return (
            str(pd.Timestamp(value).date())
            if pd.Timestamp(value).time() == pd.Timestamp(0).time()
            else str(pd.Timestamp(value))
        )
    return str(value)


def empty_events() -> pd.DataFrame:
    """An event table with no rows and the contract's columns and dtypes."""
    return pd.DataFrame({col: pd.Series(dtype=dtype) for col, dtype in EVENT_COLUMNS.items()})


def make_events(
    detector: Detector,
    *,
    patient: Any,
    session: Any,
    level: Any,
    value: Any,
    threshold: Any,
    evidence: Any,
) -> pd.DataFrame:
    """Build an event table from aligned arrays (scalars are broadcast)."""
    patient = np.asarray(patient, dtype=object)
    n = len(patient)
    if n == 0:
        return empty_events()
    frame = pd.DataFrame(
        {
            "patient": patient,
            "detector": np.full(n, detector.name, dtype=object),
            "harm": np.full(n, detector.harm, dtype=object),
            "session": np.asarray(session, dtype=object),
            "level": np.broadcast_to(np.asarray(level, dtype=object), (n,)).copy(),
            "value": np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy(),
            "threshold": np.broadcast_to(np.asarray(threshold, dtype=np.float64), (n,)).copy(),
            "evidence": np.asarray(evidence, dtype=object),
        }
    )
    return frame.astype(EVENT_COLUMNS)
