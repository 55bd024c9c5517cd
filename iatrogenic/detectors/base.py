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
from collections.abc import Callable, Iterable, Sequence
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
    "formatted",
    "join_texts",
    "label",
    "labels",
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
    intake_sds : dict
        The whole sample's SDs of the intake (first observed) scores by column (``"score"`` or a
        secondary column), when this input is one part of the data (a partition of the Dask
        engine); empty otherwise. See :meth:`intake_sd`.
    """

    long: LongData
    better: str = "lower"
    instrument: Instrument | None = None
    columns: dict[str, str] = field(default_factory=dict)
    medications: pd.DataFrame | None = None
    options: dict[str, Any] = field(default_factory=dict)
    intake_sds: dict[str, float] = field(default_factory=dict)
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

    def intake_sd(self, column: str, intake: np.ndarray) -> float:
        """The SD (``ddof=1``) of the patients' intake scores on ``column`` (``"score"`` or a
        secondary column): the whole sample's when :attr:`intake_sds` has it, else that of the
        observed values of ``intake`` (NaN with fewer than two)."""
        if column in self.intake_sds:
            return float(self.intake_sds[column])
        observed = intake[~np.isnan(intake)]
        return float(np.std(observed, ddof=1)) if len(observed) > 1 else float("nan")

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
    """A session or score as it reads in evidence text: ``3``, ``pre``, ``2024-01-08``.

    Examples
    --------
    >>> label(np.float64(3.0)), label("pre"), label(np.datetime64("2024-01-08T00:00", "ns"))
    ('3', 'pre', '2024-01-08')
    """
    if isinstance(value, np.datetime64):
        # not .item(): a nanosecond datetime64 would become an integer of nanoseconds
        value = pd.Timestamp(value)
    elif isinstance(value, np.generic):
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


def labels(values: Any, text: Callable[[Any], str] = label) -> np.ndarray:
    """``text`` (default :func:`label`) of every entry of an array, as an object array of str.

    Each distinct value is turned into text once (an array of sessions or scores holds few), so
    the evidence of a million events costs a few thousand calls; the result is exactly
    ``[text(v) for v in values]``.

    Examples
    --------
    >>> labels(np.array([3.0, 2.5, 3.0])).tolist()
    ['3', '2.5', '3']
    >>> labels(np.array([14.0, 2.25]), lambda v: f"{v:.1f}").tolist()
    ['14.0', '2.2']
    """
    values = np.asarray(values)
    # Distinct values of an object array are only safe to share when all are str: pandas would
    # merge 1, 1.0 and True (or None and NaN), whose texts differ.
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) != "string":
        return np.array([text(value) for value in values.ravel()], dtype=object).reshape(
            values.shape
        )
    if values.dtype.kind == "f":
        # by bit pattern: pandas would merge -0.0 with 0.0, which format differently
        codes, bits = pd.factorize(values.ravel().view(f"i{values.dtype.itemsize}"))
        distinct = np.asarray(bits).view(values.dtype)
    else:
        codes, distinct = pd.factorize(values.ravel(), use_na_sentinel=False)
        # iterate over an array of the input's dtype, so ``text`` sees the input's scalar types
        distinct = np.asarray(distinct, dtype=values.dtype)
    texts = np.empty(len(distinct), dtype=object)
    texts[:] = [text(value) for value in distinct]
    return texts[codes].reshape(values.shape)


def formatted(values: Any, spec: str) -> np.ndarray:
    """``format(v, spec)`` of every entry of an array (e.g. ``spec="g"``), as an object array.

    Examples
    --------
    >>> formatted(np.array([14.0, 2.25]), "g").tolist()
    ['14', '2.25']
    """
    return labels(values, lambda value: format(value, spec))


def join_texts(n: int, parts: Iterable[tuple[np.ndarray, Any]], sep: str = "; ") -> np.ndarray:
    """Per event, the texts of the parts that apply to it, joined by ``sep``.

    Each part is ``(applies, texts)``: a boolean mask over the ``n`` events and the texts (an
    object array of str, or one str) of the events where it applies. Events without any part get
    ``""``.

    Examples
    --------
    >>> join_texts(3, [(np.array([True, False, True]), np.array(["a", "b"], dtype=object)),
    ...                (np.array([True, True, False]), "c")]).tolist()
    ['a; c', 'c', 'b']
    """
    out = np.full(n, "", dtype=object)
    started = np.zeros(n, dtype=bool)
    for applies, texts in parts:
        separator = np.where(started[applies], sep, "").astype(object)
        out[applies] = out[applies] + separator + texts
        started |= applies
    return out


def bundled_model_gap(
    data: ScreenInput, *, given: bool, reference_instrument: str, what: str, fit_hint: str
) -> list[str]:
    """The gap of a detector without a model of its own when the bundled one does not apply.

    The bundled reference models are fitted on one instrument; on another, the detector needs a
    model fitted by the caller (``fit_hint`` says how). Worded for the screen's skipped list.
    """
    inst = data.instrument.name if data.instrument is not None else None
    if given or inst == reference_instrument:
        return []
    return [f"{what} (the bundled one is for instrument={reference_instrument!r}; pass {fit_hint})"]


def model_input_gaps(
    data: ScreenInput,
    *,
    covariates: Sequence[str],
    model_better: str,
    predict_call: str,
    sessions_for: str,
) -> list[str]:
    """What ``data`` lacks for a fitted reference model: its covariate columns among the screen's
    inputs, numeric sessions, and the same direction of improvement."""
    gaps = []
    frame = data.long.frame
    absent = [c for c in covariates if c not in frame.columns]
    if absent:
        gaps.append(
            f"the model's covariate columns {', '.join(map(repr, absent))} (pass them to the "
            f"screen as named inputs, e.g. age=, or use {predict_call})"
        )
    time = frame["time"]
    if pd.api.types.is_bool_dtype(time) or not pd.api.types.is_numeric_dtype(time):
        gaps.append(f"numeric sessions ({sessions_for})")
    if model_better != data.better:
        gaps.append(f"a model with better={data.better!r} (the model has better={model_better!r})")
    return gaps


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
    columns = {
        "patient": patient,
        "detector": np.full(n, detector.name, dtype=object),
        "harm": np.full(n, detector.harm, dtype=object),
        "session": np.asarray(session, dtype=object),
        "level": np.broadcast_to(np.asarray(level, dtype=object), (n,)).copy(),
        "value": np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy(),
        "threshold": np.broadcast_to(np.asarray(threshold, dtype=np.float64), (n,)).copy(),
        "evidence": np.asarray(evidence, dtype=object),
    }
    # Each column as a Series of its final dtype: from a bare object array of str, pandas 3
    # would infer its Arrow string dtype, and turning that back into objects costs about a
    # second per million events and column.
    return pd.DataFrame(
        {
            name: pd.Series(column, dtype=EVENT_COLUMNS[name], copy=False)
            for name, column in columns.items()
        }
    )
