"""``ia.Monitor``: screen patients live, one session at a time, with state that survives in JSON.

A service calls :meth:`Monitor.update` when a questionnaire arrives and gets back, at once, the
events that session raises (the columns of :func:`iatrogenic.screen`). Between requests it can
persist the whole monitor with :meth:`Monitor.to_json` and restore it with
:meth:`Monitor.from_json`. See ``docs/expected-response.md``.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from . import _serialize
from . import instruments as _instruments
from ._validation import LongData, check_choice
from .core.expected_response import (
    ExpectedResponseModel,
    _Resolved,
    _signal_one,
)
from .detectors.base import EVENT_COLUMNS, Detector, ScreenInput, empty_events
from .detectors.disengagement import ATTENDANCE_VALUES, ENDING_VALUES
from .detectors.off_track import OffTrack, off_track_evidence
from .detectors.registry import get_detector, registered_names
from .detectors.risk_item import RiskItemSignal
from .exceptions import (
    ColumnTypeError,
    IatrogenicError,
    InvalidValueError,
    OutOfRangeError,
    ParameterError,
    ParameterTypeError,
    UnknownNameError,
)

__all__ = ["FAST_DETECTORS", "MAX_STATE_SIZE", "SCHEMA_VERSION", "Monitor"]

#: Version of the monitor's state layout (the ``schema_version`` field of the payload written by
#: :meth:`Monitor.to_json`). A state without the field (written before it existed) has the same
#: layout and is read as version 1.
SCHEMA_VERSION = 1
#: Default limit on the size of the text :meth:`Monitor.from_json` reads: 100 million characters
#: (bytes, for bytes input), about 200,000 patients of ten sessions. ``max_size=`` changes it.
MAX_STATE_SIZE = 100_000_000
#: Sessions are numbers within +-2**53: the integers a float holds exactly.
_MAX_SESSION = 2**53
_MAX_PARAM_DEPTH = 16

_KIND = "Monitor"
_RESERVED = ("patient", "session", "score")
#: Screen keywords of optional columns a monitor can pass on to the detectors.
OPTIONAL_COLUMNS = ("risk_item", "alliance", "attendance", "date", "therapist", "age", "ending")
#: Detectors with a fast incremental path: ``off_track`` runs entirely in the monitor; for the
#: others a cheap test decides whether the session can raise an event at all, and only then is
#: the detector run on the patient's history.
FAST_DETECTORS = ("off_track", "reliable_deterioration", "risk_item")
#: Optional columns that must hold numbers (as in the screen); values of the categorical ones.
_NUMERIC_KEYWORDS = frozenset({"risk_item", "alliance", "age"})
_CATEGORIES: dict[str, tuple[str, ...]] = {
    "attendance": ATTENDANCE_VALUES,
    "ending": ENDING_VALUES,
}


#: What is wrong with a value: the error to raise and its message (without the value's place).
_Problem = tuple[type[Exception], str]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _patient_id(patient: Any, caller: str) -> Any:
    """A patient id as a plain str or int, or a clear error (ids key a dict and go to JSON)."""
    patient = _plain(patient)
    if isinstance(patient, str) or (isinstance(patient, int) and not isinstance(patient, bool)):
        return patient
    raise ParameterTypeError(
        f"The 'patient' parameter of {caller}() must be a patient id, a string or an integer. "
        f"Got {patient!r} of type {type(patient).__name__} instead. Suggestion: pass one id "
        "per call, e.g. str(patient_id)."
    )


def _given(check: str, name: str) -> str:
    """How a message names an update's value: ``column 'x' (given as risk_item=)``."""
    if check in OPTIONAL_COLUMNS:
        return f"column {name!r} (given as {check}=)"
    return f"column {name!r} (a covariate of the model)"


def _is_missing(value: Any) -> bool:
    """None, NaN or NaT: a missing value (as pandas reads it)."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    return value is pd.NaT


def _text_hint(value: str) -> str:
    """The suggestion for a number stored as text (refused, as by the DataFrame functions)."""
    try:
        number = float(value)
    except ValueError:
        return "pass a number."
    if math.isfinite(number):
        shown = int(number) if number.is_integer() else number
        return (
            f"pass the number itself ({shown!r}, e.g. float({value!r})): numbers stored as text "
            "are not converted, as the DataFrame functions do not convert them."
        )
    return "pass a finite number."


def _exact_number(value: Any) -> int | float | None:
    """A Decimal or Fraction as int (integral) or float; None when it is no real number."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, numbers.Real)):
        return None
    exact: Any = value
    try:
        number = float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf
    except (ValueError, TypeError):  # Decimal('sNaN')
        return math.nan
    if isinstance(exact, (int, float)):
        return exact
    if math.isfinite(number) and number.is_integer():
        return int(exact)
    return number


def _session(value: Any, caller: str) -> int | float:
    """A session number as int or float (finite, within +-2**53), or the library's error."""
    kind = type(value)
    if (kind is int or kind is float) and -_MAX_SESSION <= value <= _MAX_SESSION:
        return value
    start = f"The 'session' parameter of {caller}() must be a session number"
    if isinstance(value, (np.datetime64, np.timedelta64, _dt.date, _dt.timedelta)):
        raise ParameterTypeError(
            f"{start}, not a date or duration. Got {value!r}. Suggestion: pass the session "
            "number (1, 2, ... or weeks since intake, in the reference model's unit); to keep "
            "the date, name a date column, Monitor(..., columns={'date': 'date'}), and pass "
            "update(patient, session, score, date=...)."
        )
    value = _plain(value)
    if value is None or value is pd.NA or value is pd.NaT:
        raise ParameterTypeError(
            f"{start}; got {value!r} (missing). Suggestion: every update needs the number of "
            "its session; pass score=None for a session without a score."
        )
    if isinstance(value, str):
        raise ParameterTypeError(
            f"{start}, not text. Got {value!r}. Suggestion: {_text_hint(value)}"
        )
    number = _exact_number(value)
    if number is None:
        raise ParameterTypeError(
            f"{start} (int or float). Got {value!r} of type {type(value).__name__} instead."
        )
    if not -_MAX_SESSION <= number <= _MAX_SESSION:  # also NaN
        raise ParameterError(
            f"{start}: finite and within +-2**53 (the integers a float holds exactly). Got "
            f"{value!r}. Suggestion: pass the session number (1, 2, ...) or the time since "
            "intake."
        )
    return number


def _score(value: Any) -> float:
    """A score as float, NaN for missing; the library's error for anything else."""
    kind = type(value)
    if kind is float:
        number: float = value
    elif kind is int and -_MAX_SESSION <= value <= _MAX_SESSION:
        return float(value)
    else:
        number = _score_slow(value)
    if math.isinf(number):
        raise ParameterError(
            f"The 'score' parameter of Monitor.update() must be finite or None (missing). Got "
            f"{value!r}."
        )
    return number


def _score_slow(value: Any) -> float:
    start = "The 'score' parameter of Monitor.update() must be a number or None (missing)"
    if isinstance(value, (np.datetime64, np.timedelta64, _dt.date, _dt.timedelta)):
        raise ParameterTypeError(
            f"{start}, not a date or duration. Got {value!r}. Suggestion: check that you pass "
            "the total score, not the date of the session."
        )
    value = _plain(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return math.nan
    if isinstance(value, str):
        raise ParameterTypeError(
            f"{start}, not text. Got {value!r}. Suggestion: {_text_hint(value)}"
        )
    number = _exact_number(value)
    if number is None:
        raise ParameterTypeError(
            f"{start}. Got {value!r} of type {type(value).__name__} instead."
            + (" Booleans are not scores." if isinstance(value, bool) else "")
        )
    return float(number)


def _event_frame_public(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The event table of ``records`` built through pandas' public API (about 1 ms)."""
    frame = pd.DataFrame.from_records(records, columns=list(EVENT_COLUMNS))
    return frame.astype(EVENT_COLUMNS)


#: Whether the fast construction gives exactly the public one (None: not checked yet).
_FAST_FRAME: list[bool | None] = [None]


def _event_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The event table of ``records``, with the dtypes of :data:`EVENT_COLUMNS`.

    Building a one-row DataFrame through ``from_records(...).astype(...)`` costs about 1 ms,
    which made the few updates that raise an event dominate the monitor's mean time per update
    (issue 10: mean 130 us, median 26 us). The columns are built here as numpy arrays of their
    final dtypes and assembled without re-inference (about 50 us). That assembly uses pandas'
    ``DataFrame._from_arrays``; the first table built in a process is compared with the public
    construction, and any difference (or a pandas without it) falls back to the public path.
    """
    fast = _FAST_FRAME[0]
    if fast is False:
        return _event_frame_public(records)
    n = len(records)
    arrays = []
    try:
        for name, dtype in EVENT_COLUMNS.items():
            array = np.empty(n, dtype=dtype)
            for i, record in enumerate(records):
                array[i] = record[name]
            arrays.append(array)
    except (TypeError, ValueError):  # a value numpy cannot take as is (pd.NA): let pandas do it
        return _event_frame_public(records)
    try:
        frame = pd.DataFrame._from_arrays(  # type: ignore[attr-defined]
            arrays,
            columns=pd.Index(list(EVENT_COLUMNS)),
            index=pd.RangeIndex(n),
            verify_integrity=False,
        )
    except (AttributeError, TypeError, ValueError):
        _FAST_FRAME[0] = False
        return _event_frame_public(records)
    if fast is None:
        public = _event_frame_public(records)
        same = (
            frame.columns.equals(public.columns)
            and frame.columns.dtype == public.columns.dtype
            and frame.dtypes.equals(public.dtypes)
            and frame.index.equals(public.index)
            and frame.equals(public)
        )
        _FAST_FRAME[0] = bool(same)
        if not same:
            return public
    return frame


class Monitor:
    """A live monitor: events for each new session, with its whole state in JSON.

    Parameters
    ----------
    model : ExpectedResponseModel
        A fitted expected-response model (:func:`~iatrogenic.fit_expected_response` or
        :func:`~iatrogenic.load_reference_model`); it drives the ``off_track`` detector.
    detectors : sequence of str or Detector, default ("off_track",)
        The detectors to run, by name or as configured instances. An ``off_track`` detector
        without a model gets the monitor's model.
    instrument : str, optional
        The instrument of the scores; default the model's.
    better : {"lower", "higher"}, optional
        Direction of improvement; default the model's (they must agree).
    columns : dict, optional
        Optional screen inputs the updates carry, ``{keyword: column}`` with keywords among
        ``risk_item``, ``alliance``, ``attendance``, ``date``, ``therapist``, ``age``,
        ``ending``. The instrument's risk item is added unless ``risk_item`` is given
        (``{"risk_item": "phq9_item9"}`` for PHQ-9). The updates pass the values as keyword
        arguments named by the column. A detector that needs an input missing here (e.g.
        ``alliance_rupture`` without ``columns={"alliance": ...}``, or ``medication_burden``,
        which needs a medication table) is an error at construction.

    Notes
    -----
    **Speed.** ``off_track`` runs in the monitor itself: the expected course of a patient is
    computed once, at intake, as nine coefficients; each later session costs a few float
    operations. ``reliable_deterioration`` and ``risk_item`` have a cheap test that a session
    must pass to raise anything (a score worse than intake; a non-zero risk item); only then is
    the detector run on the patient's history. Every other detector runs on the patient's
    history at every session (correct, but milliseconds per call).

    **Failed updates change nothing.** An update is checked in full (patient id, session,
    score and every further value, as :func:`~iatrogenic.screen` checks its columns) before
    anything is recorded, and undone if a detector still fails, so an update that raises leaves
    the monitor exactly as it was (``to_json()`` unchanged) and the same session can be sent
    again, corrected.

    **Equivalence with the screen.** For detectors whose events depend only on the patient's
    own data, feeding a cohort session by session gives the events of
    :func:`~iatrogenic.screen` on the whole cohort. Detectors that use other patients (a growth
    model over the cohort, the SD of the cohort's intake scores) see only one patient here:
    ``reliable_deterioration`` with the statistical rule and no SD (PHQ-9 has none in the
    registry) uses the model's SD (``model.sd_``, else its reference intake SD) instead of the
    cohort's.

    Examples
    --------
    >>> from iatrogenic.core.expected_response import load_reference_model
    >>> from iatrogenic.monitor import Monitor
    >>> monitor = Monitor(load_reference_model(), detectors=["off_track"])
    >>> for session, score in [(1, 16), (2, 14), (3, 17)]:
    ...     events = monitor.update("p1", session, score)
    >>> events[["patient", "session", "level", "value"]]
      patient session    level  value
    0      p1       3  warning   17.0
    >>> saved = monitor.to_json()                 # persist between requests
    >>> restored = Monitor.from_json(saved)
    >>> restored.update("p1", 4, 19)[["session", "level"]]
      session  level
    0       4  alarm
    """

    def __init__(
        self,
        model: ExpectedResponseModel,
        detectors: Sequence[str | Detector] | str | Detector = ("off_track",),
        *,
        instrument: str | None = None,
        better: str | None = None,
        columns: Mapping[str, str] | None = None,
    ) -> None:
        caller = "Monitor"
        if not isinstance(model, ExpectedResponseModel):
            raise ParameterTypeError(
                f"The 'model' parameter of {caller}() must be a fitted ExpectedResponseModel "
                f"(ia.fit_expected_response(...) or ia.load_reference_model()). Got "
                f"{type(model).__name__} instead."
            )
        self.model = model
        name = instrument if instrument is not None else model.instrument_
        self.instrument = _instruments.get(name) if name is not None else None
        if better is None:
            better = model.better_
        self.better = check_choice(better, ["lower", "higher"], name="better", caller=caller)
        if self.better != model.better_:
            raise ParameterError(
                f"The 'better' parameter of {caller}() ({self.better!r}) contradicts the model's "
                f"direction (better={model.better_!r})."
            )
        self.columns = self._check_columns(columns)
        if isinstance(detectors, (str, Detector)):
            detectors = [detectors]
        if not isinstance(detectors, Iterable):
            raise ParameterTypeError(
                f"The 'detectors' parameter of {caller}() must be a list of detector names or "
                f"instances. Got {detectors!r}."
            )
        self.detectors: list[Detector] = [self._adopt(get_detector(d)) for d in detectors]
        if not self.detectors:
            raise ParameterError(f"The 'detectors' parameter of {caller}() is empty.")
        self._check_inputs()
        self._kinds = [d.name if d.name in FAST_DETECTORS else "other" for d in self.detectors]
        self._resolved: list[_Resolved | None] = [
            model._resolve(d.rules) if isinstance(d, OffTrack) else None for d in self.detectors
        ]
        d = model._s["D_flat"]
        g = model._s["m_global"]
        self._d = (float(d[0]), float(d[1]), float(d[2]))
        self._g = (float(g[0]), float(g[1]), float(g[2]))
        self._log = model.time_transform_ == "log"
        self._neighbors = model.method_ == "neighbors"
        self._patients: dict[Any, dict[str, Any]] = {}
        self._empty = empty_events()
        # The checks each update applies to its further values, by column name.
        checks: dict[str, list[str]] = {}
        for keyword, column in self.columns.items():
            if keyword in _NUMERIC_KEYWORDS or keyword in _CATEGORIES or keyword == "date":
                checks.setdefault(column, []).append(keyword)
        for covariate in model.covariates_:
            checks.setdefault(covariate, []).append("covariate")
        self._checks: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in checks.items()}
        #: The names an update may carry: the columns of ``columns=`` and the model's covariates.
        self._allowed = frozenset([*self.columns.values(), *model.covariates_])
        highs = [self._risk_maximum(d) for d in self.detectors if isinstance(d, RiskItemSignal)]
        self._risk_range: tuple[float, float | None] | None = None
        if highs:
            finite = [h for h in highs if h is not None]
            self._risk_range = (0.0, min(finite) if finite else None)

    # -- construction helpers ----------------------------------------------------------------

    def _check_columns(self, columns: Mapping[str, str] | None) -> dict[str, str]:
        out: dict[str, str] = {}
        inst = self.instrument
        if columns is not None and not isinstance(columns, Mapping):
            raise ParameterTypeError(
                "The 'columns' parameter of Monitor() must be a dict {keyword: column}, e.g. "
                f"columns={{'alliance': 'srs'}}. Got {columns!r}."
            )
        if inst is not None and inst.risk_item is not None and "risk_item" not in (columns or {}):
            out["risk_item"] = inst.risk_item.column
        for keyword, column in (columns or {}).items():
            check_choice(keyword, OPTIONAL_COLUMNS, name="columns", caller="Monitor")
            if not isinstance(column, str) or column in _RESERVED:
                raise ParameterError(
                    f"The 'columns' parameter of Monitor() maps {keyword!r} to {column!r}; "
                    f"columns must be names other than {', '.join(map(repr, _RESERVED))}."
                )
            out[keyword] = column
        return out

    def _check_inputs(self) -> None:
        """Raise if a detector needs an input the monitor's updates will never carry."""
        names = ["patient", "time", "score", *self.columns.values(), *self.model.covariates_]
        frame = pd.DataFrame({name: pd.Series(dtype=np.float64) for name in dict.fromkeys(names)})
        long = LongData(
            frame=frame,
            patients=pd.Index([]),
            codes=np.zeros(0, dtype=np.int64),
            order=np.zeros(0),
            starts=np.zeros(1, dtype=np.int64),
            columns={"patient": "patient", "time": "session", "score": "score"},
        )
        given = ScreenInput(
            long=long, better=self.better, instrument=self.instrument, columns=dict(self.columns)
        )
        for detector in self.detectors:
            missing = detector.missing_inputs(given)
            if not missing:
                continue
            wanted = [
                alternative
                for need in detector.needs
                for alternative in need.split("|")
                if alternative in OPTIONAL_COLUMNS and alternative not in self.columns
            ]
            others = [
                alternative
                for need in detector.needs
                for alternative in need.split("|")
                if alternative not in OPTIONAL_COLUMNS and alternative != "score"
            ]
            message = (
                f"Detector {detector.name!r} given to Monitor() needs {', '.join(missing)}, "
                "which the monitor does not have."
            )
            if wanted and not others:
                example = ", ".join(f"{k!r}: '<column>'" for k in wanted)
                message += (
                    f" Suggestion: name the column the updates will carry, e.g. "
                    f"Monitor(model, detectors=[..., {detector.name!r}], columns={{{example}}}), "
                    "then pass its value with each update, monitor.update(patient, session, "
                    "score, <column>=value)."
                )
            elif others:
                inputs = " or ".join(f"{other}=" for other in others)
                message += (
                    f" A monitor takes no {inputs} (inputs of ia.screen()): run this detector "
                    "with ia.screen() on the accumulated data instead."
                )
            raise ParameterError(message)

    def _risk_maximum(self, detector: RiskItemSignal) -> float | None:
        """The highest value of the risk item ``detector`` accepts (None: no upper bound)."""
        if detector.maximum is not None:
            return float(detector.maximum)
        item = self.instrument.risk_item if self.instrument is not None else None
        return float(item.high) if item is not None else None

    def _adopt(self, detector: Detector) -> Detector:
        """Give ``off_track`` the monitor's model; give RCI deterioration a fixed SD."""
        if isinstance(detector, OffTrack):
            if detector.model is None:
                return OffTrack(
                    model=self.model,
                    level=detector.level,
                    warning_level=detector.warning_level,
                    deterioration=detector.deterioration,
                )
            if detector.model is not self.model:
                raise ParameterError(
                    "An off_track detector given to Monitor() has its own model, not the "
                    "monitor's. Suggestion: pass OffTrack() without a model, or build the "
                    "monitor with that model."
                )
            return detector
        params = detector.get_params()
        if (
            detector.name == "reliable_deterioration"
            and params.get("rule") == "statistical"
            and params.get("sd") is None
            and (self.instrument is None or self.instrument.sd is None)
        ):
            sd = self.model.sd_ if self.model.sd_ is not None else self.model.intake_sd_
            return type(detector)(**{**params, "sd": sd})
        return detector

    # -- updates -----------------------------------------------------------------------------

    def update(self, patient: Any, session: Any, score: Any = None, **columns: Any) -> pd.DataFrame:
        """Record one session of one patient and return the events it raises.

        Parameters
        ----------
        patient : str or int
            Patient id.
        session : int or float
            Session number (time, in the reference model's unit); larger than the patient's
            previous session; finite and within +-2**53. numpy numbers, ``Decimal`` and
            ``Fraction`` are converted; booleans, text (``"12"``), dates and None are refused.
        score : float or None
            The total score; None, NaN or ``pd.NA`` for a session without one (e.g. a missed
            session). Numbers as for ``session``; booleans, text and infinities are refused.
        **columns
            Further values of this session, by column name: the model's covariates (needed at
            intake), and the columns of ``columns=`` (e.g. ``phq9_item9=2``). Any other name is
            an error (:class:`~iatrogenic.exceptions.UnknownNameError`, with a suggestion).

        Returns
        -------
        DataFrame
            The new events of this patient at this session, with the columns of
            :func:`iatrogenic.screen` (``patient, detector, harm, session, level, value,
            threshold, evidence``), in the order of the detectors; no rows when nothing fires.

        Raises
        ------
        ParameterTypeError, ParameterError, OutOfRangeError, ColumnTypeError, InvalidValueError
            A bad patient id (not a str or int), session (not a number, or not after the
            patient's last one), score (not a number, outside the instrument's range), a keyword
            that names no column of the monitor (``UnknownNameError``) or further
            value (a number column holding text, an infinite value, a risk item outside the
            item's range, an attendance or ending value not allowed, a date that cannot be
            read). The monitor is then left unchanged.
        """
        caller = "Monitor.update"
        patient = _patient_id(patient, caller)
        session = _session(session, caller)
        state = self._patients.get(patient)
        if state is not None:
            sessions = state["sessions"]
            if sessions and session <= sessions[-1]:
                raise ParameterError(
                    f"{caller}() got session {session!r} for patient {patient!r}, whose last "
                    f"session is {sessions[-1]!r}: sessions must arrive in increasing order. "
                    "Suggestion: send each session once, in order; to correct a score already "
                    "sent, rebuild the monitor from the corrected history."
                )
        y = _score(score)
        inst = self.instrument
        if inst is not None and y == y and not inst.low <= y <= inst.high:
            raise OutOfRangeError(
                f"{caller}() got score {score!r} for patient {patient!r} at session "
                f"{session!r}, outside the range of instrument {inst.name!r}, "
                f"[{inst.low:g}, {inst.high:g}]. Suggestion: check the score (a total of another "
                "instrument, or a typing error); nothing was recorded."
            )
        values = self._check_values(columns, state, patient, session) if columns else columns
        # Everything is valid: record the session, run the detectors, and undo the whole
        # update if anything still fails, so that a failed call leaves the state unchanged.
        new = state is None
        if state is None:
            state = {
                "sessions": [],
                "scores": [],
                "extra": {},
                "intake": None,
                "intake_session": None,
                "params": None,
                "levels": [0] * len(self.detectors),
            }
            self._patients[patient] = state
        extra = state["extra"]
        n_before = len(state["sessions"])
        n_extra = len(extra)
        saved = (state["intake"], state["intake_session"], state["params"], list(state["levels"]))
        try:
            return self._record(state, patient, session, y, values, n_before)
        except BaseException:
            if new:
                del self._patients[patient]
            else:
                del state["sessions"][n_before:]
                del state["scores"][n_before:]
                for name in list(extra)[n_extra:]:
                    del extra[name]
                for column in extra.values():
                    del column[n_before:]
                state["intake"], state["intake_session"], state["params"] = saved[:3]
                state["levels"][:] = saved[3]
            raise

    def _record(
        self,
        state: dict[str, Any],
        patient: Any,
        session: Any,
        y: float,
        columns: Mapping[str, Any],
        n_before: int,
    ) -> pd.DataFrame:
        """Append a validated session to ``state`` and return its events (may modify state)."""
        state["sessions"].append(session)
        state["scores"].append(y)
        extra = state["extra"]
        for name, value in columns.items():
            column = extra.get(name)
            if column is None:
                column = extra[name] = [None] * n_before
            column.append(value)
        for column in extra.values():
            if len(column) == n_before:
                column.append(None)
        records: list[dict[str, Any]] = []
        for i, detector in enumerate(self.detectors):
            kind = self._kinds[i]
            if kind == "off_track":
                record = self._off_track(i, detector, state, patient, session, y, columns)
                if record is not None:
                    records.append(record)
            elif self._gate(kind, state, y, columns):
                records.extend(self._run(detector, state, patient, session))
        if not records:
            return self._empty.copy()
        return _event_frame(records)

    def _check_values(
        self, columns: Mapping[str, Any], state: dict[str, Any] | None, patient: Any, session: Any
    ) -> dict[str, Any]:
        """The further values of an update, checked as the screen checks its columns.

        Returns them as plain Python values (numeric text as float); raises on the first bad
        one, naming the column, the patient and the session.
        """
        out: dict[str, Any] = {}
        checks = self._checks
        allowed = self._allowed
        for name, raw in columns.items():
            if name not in allowed:
                raise self._unknown_keyword(name, raw)
            value = raw
            problem: _Problem | None = None
            if type(raw) is not float and type(raw) is not int:  # else the common case: done
                value = pd.Timestamp(raw) if isinstance(raw, np.datetime64) else _plain(raw)
                if value is pd.NA or value is pd.NaT:
                    value = None
                elif isinstance(value, (Decimal, numbers.Rational)) and not isinstance(value, int):
                    value = _exact_number(value)
            if not (value is None or isinstance(value, (int, float, str))):
                try:
                    _serialize.encode_scalar(value)
                except ParameterTypeError:
                    problem = (
                        ParameterTypeError,
                        "values must be numbers, strings, dates or None (missing), to be kept in "
                        f"the monitor's JSON state; got type {type(value).__name__}.",
                    )
            if problem is None:
                for check in checks.get(name, ()):
                    value, problem = self._check_value(check, name, value, state)
                    if problem is not None:
                        problem = (problem[0], f"{_given(check, name)} {problem[1]}")
                        break
            if problem is not None:
                error, text = problem
                raise error(
                    f"Monitor.update() got {name}={value!r} for patient {patient!r} at session "
                    f"{session!r}; {text}"
                )
            out[name] = value
        return out

    def _unknown_keyword(self, name: str, value: Any) -> UnknownNameError:
        """The error for an update's keyword that no detector of the monitor reads."""
        names = sorted(self._allowed)
        # a screen keyword (risk_item=) instead of its column (phq9_item9=) is the likeliest slip
        by_keyword = {keyword: column for keyword, column in self.columns.items()}
        guess: str | None = by_keyword.get(name)
        if guess is None:
            close = difflib.get_close_matches(name, [*names, *by_keyword], n=1, cutoff=0.6)
            guess = by_keyword.get(close[0], close[0]) if close else None
        message = f"Monitor.update() got an unknown keyword {name}={value!r}."
        if guess is not None:
            message += f" Did you mean {guess}=?"
        if names:
            read = ", ".join(
                f"{column}= ({', '.join(k for k, c in self.columns.items() if c == column)})"
                if column in self.columns.values()
                else f"{column}= (covariate of the model)"
                for column in names
            )
            message += f" This monitor's detectors and model read: {read}."
        else:
            message += " This monitor reads nothing beyond patient, session and score."
        message += (
            " Suggestion: pass the value under one of these names, or build the monitor with "
            f"the column named, e.g. Monitor(model, detectors, columns={{'<keyword>': {name!r}}})."
        )
        return UnknownNameError(message)

    def _check_value(
        self, check: str, name: str, value: Any, state: dict[str, Any] | None
    ) -> tuple[Any, _Problem | None]:
        """``value`` checked (numbers as int or float), or what is wrong with it."""
        if value is None or (type(value) is float and value != value):  # missing
            return value, None
        if check == "date":
            return value, self._date_problem(name, value, state)
        if check in _CATEGORIES:
            allowed = _CATEGORIES[check]
            if isinstance(value, str) and value.strip().lower() in allowed:
                return value, None
            return value, (
                InvalidValueError,
                f"must hold {', '.join(map(repr, allowed))} or None (missing). "
                "Suggestion: recode the value, e.g. 'did not attend' -> 'dna'.",
            )
        # a number: the risk item, alliance, age, or a covariate of the model (NaN: missing)
        number = value
        if isinstance(value, str):
            return value, (
                ColumnTypeError,
                f"must hold numbers or None (missing), not text. Suggestion: {_text_hint(value)}",
            )
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            return value, (
                ColumnTypeError,
                f"must hold numbers or None (missing); got type {type(value).__name__}.",
            )
        if isinstance(number, int) and not -_MAX_SESSION <= number <= _MAX_SESSION:
            number = float(number) if abs(number) < 1e300 else math.inf
        if number != number:
            return number, None
        if math.isinf(number):
            return value, (
                InvalidValueError,
                "must be finite. Suggestion: pass None (missing) or a valid value.",
            )
        if check == "risk_item" and self._risk_range is not None:
            low, high = self._risk_range
            if number < low or (high is not None and number > high):
                shown = "inf" if high is None else f"{high:g}"
                return value, (
                    OutOfRangeError,
                    f"must be within the item's range [{low:g}, {shown}]. Suggestion: "
                    "check that the value is the self-harm item scored from 0, or pass "
                    "RiskItemSignal(maximum=...) for an item with another range.",
                )
        return number, None

    @staticmethod
    def _date_problem(name: str, value: Any, state: dict[str, Any] | None) -> _Problem | None:
        if isinstance(value, bool) or not isinstance(value, (int, float, str, _dt.date)):
            return (
                ColumnTypeError,
                "must hold dates (or day numbers) or None (missing); got type "
                f"{type(value).__name__}.",
            )
        is_number = isinstance(value, (int, float))
        if isinstance(value, int) and not -_MAX_SESSION <= value <= _MAX_SESSION:
            return InvalidValueError, "must be a day number within +-2**53."
        if isinstance(value, float) and math.isinf(value):
            return InvalidValueError, "must be finite."
        if isinstance(value, str):
            try:
                parsed = not pd.isna(pd.Timestamp(value))
            except (ValueError, TypeError, OverflowError):
                parsed = False
            if not parsed:
                return (
                    ColumnTypeError,
                    "must hold dates. Suggestion: pass a datetime, a pd.Timestamp or "
                    "an ISO date such as '2024-01-08'.",
                )
        earlier = state["extra"].get(name, ()) if state is not None else ()
        first = next((v for v in earlier if not _is_missing(v)), None)
        if first is not None and isinstance(first, (int, float)) != is_number:
            kinds = ("day numbers", "dates") if is_number else ("dates", "day numbers")
            return (
                ColumnTypeError,
                f"holds {kinds[1]} for this patient so far (e.g. {first!r}), not "
                f"{kinds[0]}. Suggestion: pass every date the same way.",
            )
        return None

    def _off_track(
        self,
        i: int,
        detector: Detector,
        state: dict[str, Any],
        patient: Any,
        session: Any,
        y: float,
        columns: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        if y != y:  # missing score: nothing to compare, the spell goes on
            return None
        if state["intake"] is None:
            state["intake"] = y
            state["intake_session"] = session
            state["params"] = self._params(y, columns)
            return None
        params = state["params"]
        if params is None:
            return None
        r = self._resolved[i]
        if r is None:  # pragma: no cover - set for every OffTrack
            return None
        tau = float(session - state["intake_session"])
        f = math.log1p(tau) if self._log else tau
        a0, a1, q0, q1, q2, m0, m1, m2, s2 = params
        d00, d01, d11 = self._d
        mean = a0 + a1 * f
        fixed = q0 + f * (q1 + f * q2)
        zdz = d00 + f * (2.0 * d01 + f * d11)
        if self._neighbors:
            g0, g1, g2 = self._g
            zdz = zdz * (m0 + f * (2.0 * m1 + f * m2)) / (g0 + f * (2.0 * g1 + f * g2))
        sd = math.sqrt(fixed + zdz + s2)
        intake = state["intake"]
        signal, det = _signal_one(y, mean, sd, intake, False, r)
        level = 2 if signal == "red" else (1 if signal == "yellow" else 0)
        previous = state["levels"][i]
        state["levels"][i] = level
        if level == 2 and previous < 2:
            kind = "alarm"
        elif level == 1 and previous == 0:
            kind = "warning"
        else:
            return None
        lower_better = r.sign > 0
        edge = mean + r.z * sd if lower_better else mean - r.z * sd
        wedge = mean + r.z_warning * sd if lower_better else mean - r.z_warning * sd
        model = self.model
        return {
            "patient": patient,
            "detector": detector.name,
            "harm": detector.harm,
            "session": session,
            "level": kind,
            "value": y,
            "threshold": edge if kind == "alarm" else wedge,
            "evidence": off_track_evidence(
                score=y,
                session=session,
                expected=mean,
                intake=intake,
                tau=tau,
                edge=edge,
                warning_edge=wedge,
                signal=signal,
                deteriorated=det,
                better=model.better_,
                level=r.level,
                warning_level=r.warning_level,
                method=model.method_,
                n_reference=model.n_patients_,
            ),
        }

    def _params(self, intake: float, columns: Mapping[str, Any]) -> list[float] | None:
        """The nine course coefficients of a patient with this intake (None: covariate missing)."""
        covs = []
        for name in self.model.covariates_:
            value = columns.get(name)
            if value is None:
                return None
            number = float(value)
            if number != number:
                return None
            covs.append(number)
        return list(self.model._params_one((float(intake), *covs)))

    def _gate(self, kind: str, state: dict[str, Any], y: float, columns: Mapping[str, Any]) -> bool:
        """Can this session raise an event of the detector at all? (a cheap superset test)"""
        if kind == "reliable_deterioration":
            scores = state["scores"]
            if y != y:
                return False
            first = next((s for s in scores if s == s), None)
            sign = 1.0 if self.better == "lower" else -1.0
            return first is not None and sign * (y - first) > 0
        if kind == "risk_item":
            column = self.columns.get("risk_item")
            value = columns.get(column) if column is not None else None
            if value is None:
                return False
            number = float(value)
            return number == number and number > 0
        return True

    def _run(
        self, detector: Detector, state: dict[str, Any], patient: Any, session: Any
    ) -> list[dict[str, Any]]:
        """Run a detector on the patient's history; keep the events at ``session``."""
        from .screen import screen

        n = len(state["sessions"])
        history: dict[str, Any] = {
            "patient": [patient] * n,
            "session": state["sessions"],
            "score": state["scores"],
        }
        for name, values in state["extra"].items():
            history[name] = values
        frame = pd.DataFrame(history)
        named: dict[str, Any] = {k: c for k, c in self.columns.items() if c in frame.columns}
        events = screen(
            frame,
            detectors=[detector],
            instrument=self.instrument,
            better=self.better,
            patient="patient",
            time="session",
            score="score",
            **named,
        )
        if not isinstance(events, pd.DataFrame) or len(events) == 0:
            return []
        now = events[events["session"].map(lambda s: s == session)]
        return [{str(k): v for k, v in record.items()} for record in now.to_dict("records")]

    # -- inspection --------------------------------------------------------------------------

    @property
    def patients(self) -> list[Any]:
        """Ids of the patients seen, in order of first update."""
        return list(self._patients)

    def history(self, patient: Any) -> pd.DataFrame:
        """The sessions recorded for ``patient``: ``patient, session, score`` and extra columns."""
        patient = _patient_id(patient, "Monitor.history")
        if patient not in self._patients:
            raise ParameterError(f"Monitor.history(): patient {patient!r} has no update yet.")
        state = self._patients[patient]
        n = len(state["sessions"])
        return pd.DataFrame(
            {
                "patient": [patient] * n,
                "session": state["sessions"],
                "score": state["scores"],
                **state["extra"],
            }
        )

    def __repr__(self) -> str:
        names = [d.name for d in self.detectors]
        return f"Monitor(model={self.model!r}, detectors={names}, patients={len(self._patients)})"

    # -- serialisation -----------------------------------------------------------------------

    def to_json(self) -> str:
        """The whole monitor (model, detectors, every patient's state) as JSON text.

        ``Monitor.from_json(monitor.to_json())`` behaves exactly as ``monitor`` on every later
        update (floats are written exactly). The layout is version :data:`SCHEMA_VERSION` of the
        monitor's state (``docs/expected-response.md``).
        """
        detectors = []
        for detector in self.detectors:
            params = {k: v for k, v in detector.get_params().items() if k != "model"}
            try:
                encoded = {k: _encode_param(v) for k, v in params.items()}
            except ParameterTypeError as error:
                raise ParameterError(
                    f"Monitor.to_json() cannot write the parameters of detector "
                    f"{detector.name!r} ({error})."
                ) from error
            detectors.append({"name": detector.name, "params": encoded})
        patients = []
        encode = _serialize.encode_scalar
        for pid, state in self._patients.items():
            patients.append(
                [
                    encode(pid),
                    {
                        "sessions": list(state["sessions"]),
                        "scores": [None if s != s else s for s in state["scores"]],
                        "extra": {
                            name: [encode(v) for v in values]
                            for name, values in state["extra"].items()
                        },
                        "intake": state["intake"],
                        "intake_session": state["intake_session"],
                        "params": state["params"],
                        "levels": list(state["levels"]),
                    },
                ]
            )
        payload = {
            "schema_version": SCHEMA_VERSION,
            "model": json.loads(self.model.to_json()),
            "detectors": detectors,
            "instrument": self.instrument.name if self.instrument is not None else None,
            "better": self.better,
            "columns": dict(self.columns),
            "patients": patients,
        }
        return _serialize.dumps(payload, kind=_KIND)

    @classmethod
    def from_json(cls, text: str | bytes, *, max_size: int | None = MAX_STATE_SIZE) -> Monitor:
        """Restore a monitor written by :meth:`to_json`, after validating the whole state.

        Parameters
        ----------
        text : str or bytes
            The text returned by :meth:`to_json` (bytes are read as UTF-8).
        max_size : int or None, default :data:`MAX_STATE_SIZE` (100,000,000)
            The longest text read, in characters (bytes for bytes); None for no limit.

        Returns
        -------
        Monitor
            A monitor that behaves exactly as the one that wrote ``text``.

        Raises
        ------
        ParameterTypeError
            ``text`` is not a str or bytes.
        ParameterError
            Anything wrong with the state, naming the field's path (e.g.
            ``patients.P1.sessions[1]``) and what is wrong: text too long or nested too
            deeply, not JSON, not a monitor, an unknown schema version, a missing or unknown
            field, a value of the wrong type, lists of different lengths, sessions not in
            increasing order, a score not finite or outside the instrument's range, an unknown
            detector, a patient's intake that is not its first score. Nothing is loaded then.

        Examples
        --------
        >>> from iatrogenic.core.expected_response import load_reference_model
        >>> monitor = Monitor(load_reference_model())
        >>> _ = monitor.update("P1", 1, 16)
        >>> Monitor.from_json(monitor.to_json()).patients
        ['P1']
        >>> Monitor.from_json(monitor.to_json().replace('"scores":[16.0]', '"scores":[99]'))
        Traceback (most recent call last):
        ...
        iatrogenic.exceptions.ParameterError: Monitor.from_json(): invalid state at ...
        """
        payload = _parse_state(text, max_size)
        try:
            return _read_state(cls, payload)
        except RecursionError as error:
            raise _bad("(document)", "it is nested too deeply") from error

    # -- serialisation helpers ---------------------------------------------------------------


_GENERIC_HINT = "pass the unmodified text returned by Monitor.to_json()"
_STATE_KEYS = ("model", "detectors", "instrument", "better", "columns", "patients")
_PATIENT_KEYS = ("sessions", "scores", "extra", "intake", "intake_session", "params", "levels")
_PARAM_FORMS = '({"value": ...}, {"list": [...]} or {"dict": {...}})'
_SIMPLE_ID = re.compile(r"[A-Za-z0-9_.\-]+")


def _bad(path: str, what: str, hint: str = _GENERIC_HINT) -> ParameterError:
    """The error for a defect of a monitor state: where, what is wrong, what to do.

    ``what`` may be another error's message with its own suggestion; it is then kept as is.
    """
    what = what.rstrip(". ")
    tail = "." if "Suggestion:" in what else f". Suggestion: {hint}."
    return ParameterError(f"Monitor.from_json(): invalid state at {path}: {what}{tail}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if type(value) in names:
        return names[type(value)]
    if isinstance(value, (int, float)):
        return f"the number {_short(value)}"
    return type(value).__name__


class _NonFinite(ValueError):
    """A JSON number that does not fit a float (1e999)."""


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _NonFinite(text)
    return number


def _refuse_constant(name: str) -> NoReturn:
    raise _NonFinite(name)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key!r} appears twice in one JSON object")
            seen.add(key)
    return out


def _nonfinite_path(text: str) -> str:
    """Where the first number too large for a float is (used on the error path only)."""
    try:
        document = json.loads(text, parse_constant=float)
    except (ValueError, RecursionError):
        return "(document)"
    payload = document.get("payload") if isinstance(document, dict) else None
    roots: list[tuple[Any, str]] = [(document, "(document)")]
    if isinstance(payload, dict):
        roots = []
        for key, value in payload.items():
            if key != "patients" or not isinstance(value, list):
                roots.append((value, str(key)))
                continue
            for i, entry in enumerate(value):
                if isinstance(entry, list) and len(entry) == 2:
                    pid = entry[0]
                    named = isinstance(pid, (str, int)) and not isinstance(pid, bool)
                    roots.append((pid, f"patients[{i}][0]"))
                    roots.append((entry[1], _patient_path(pid) if named else f"patients[{i}][1]"))
                else:
                    roots.append((entry, f"patients[{i}]"))
    for root, path in roots:
        stack = [(root, path)]
        while stack:
            node, where = stack.pop()
            if isinstance(node, float) and not math.isfinite(node):
                return where
            if isinstance(node, dict):
                stack.extend((v, f"{where}.{k}") for k, v in reversed(list(node.items())))
            elif isinstance(node, list):
                stack.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(node))))
    return "(document)"


def _parse_state(text: Any, max_size: int | None) -> dict[str, Any]:
    """The payload of a monitor document: size, encoding, JSON and envelope checked."""
    caller = "Monitor.from_json"
    if max_size is not None and (
        isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1
    ):
        raise ParameterError(
            f"The 'max_size' parameter of {caller}() must be a positive int (characters) or "
            f"None (no limit). Got {max_size!r}."
        )
    if not isinstance(text, (str, bytes, bytearray)):
        raise ParameterTypeError(
            f"{caller}() takes the JSON text written by Monitor.to_json() (a str, or bytes in "
            f"UTF-8). Got {type(text).__name__} instead. Suggestion: "
            "Monitor.from_json(path.read_text())."
        )
    if max_size is not None and len(text) > max_size:
        raise _bad(
            "(document)",
            f"the text is {len(text):,} {'characters' if isinstance(text, str) else 'bytes'} "
            f"long, over the limit max_size={max_size:,}",
            f"if the state is genuine, pass a larger limit, Monitor.from_json(text, "
            f"max_size={len(text)}) (or max_size=None)",
        )
    if not isinstance(text, str):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise _bad(
                "(document)",
                f"the bytes are not UTF-8 text ({error})",
                "pass the text written by Monitor.to_json(), as str or encoded in UTF-8",
            ) from error
    try:
        document = json.loads(
            text,
            parse_float=_finite_float,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except _NonFinite as error:
        raise _bad(
            _nonfinite_path(text),
            f"the number {str(error)[:40]} is not finite (NaN, Infinity and numbers too large "
            "for a float are not valid in a state; a missing score is null)",
        ) from error
    except json.JSONDecodeError as error:
        raise ParameterError(
            f"{caller}() got text that is not valid JSON ({error}). Suggestion: {_GENERIC_HINT}."
        ) from error
    except RecursionError as error:
        raise _bad("(document)", "the JSON is nested too deeply") from error
    except ValueError as error:  # a duplicated key, or an integer of more than 4300 digits
        what = str(error)
        if "digits" in what:
            what = f"a number is too long to read ({what.split(';')[0]})"
        raise _bad("(document)", what) from error
    return _serialize.check_envelope(document, kind=_KIND)


def _patient_path(pid: Any) -> str:
    if isinstance(pid, int) or (isinstance(pid, str) and _SIMPLE_ID.fullmatch(pid)):
        return f"patients.{pid}"
    return f"patients[{pid!r}]"


def _fields(value: Any, path: str, keys: Sequence[str], optional: Sequence[str] = ()) -> None:
    """``value`` must be an object with exactly ``keys`` (and maybe ``optional``)."""
    if not isinstance(value, dict):
        raise _bad(path or "(payload)", f"must be a JSON object, not {_type_name(value)}")
    prefix = f"{path}." if path else ""
    missing = [k for k in keys if k not in value]
    if missing:
        raise _bad(
            prefix + missing[0],
            f"the field is missing (missing: {', '.join(map(repr, missing))})",
        )
    unknown = [k for k in value if k not in keys and k not in optional]
    if unknown:
        raise _bad(
            prefix + unknown[0],
            f"unknown field (a state has {', '.join(map(repr, [*keys, *optional]))})",
        )


def _number_at(value: Any, path: str, what: str = "a number") -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(path, f"must be {what}, not {_type_name(value)}")
    return value


def _list_at(value: Any, path: str, length: int | None = None, what: str = "") -> list[Any]:
    if not isinstance(value, list):
        raise _bad(path, f"must be a list, not {_type_name(value)}")
    if length is not None and len(value) != length:
        raise _bad(path, f"has {len(value)} values, not {length} ({what})")
    return value


def _read_state(cls: type[Monitor], payload: dict[str, Any]) -> Monitor:
    version = payload.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _bad("schema_version", f"unknown schema version {_short(version)}")
    if version > SCHEMA_VERSION:
        raise _bad(
            "schema_version",
            f"the state has schema version {version}, written by a newer iatrogenic; this one "
            f"reads version {SCHEMA_VERSION} (and states without a version, as version 1)",
            "upgrade iatrogenic",
        )
    _fields(payload, "", _STATE_KEYS, optional=("schema_version",))
    model = _read_model(payload["model"])
    detectors = _read_detectors(payload["detectors"])
    instrument = payload["instrument"]
    if instrument is not None:
        if not isinstance(instrument, str):
            raise _bad(
                "instrument", f"must be an instrument name or null, not {_type_name(instrument)}"
            )
        try:
            _instruments.get(instrument)
        except IatrogenicError as error:
            raise _bad("instrument", str(error)) from error
    better = payload["better"]
    if better not in ("lower", "higher"):
        raise _bad("better", f"must be 'lower' or 'higher', not {_short(better)}")
    if better != model.better_:
        raise _bad("better", f"{better!r} contradicts the model's better={model.better_!r}")
    columns = payload["columns"]
    if not isinstance(columns, dict):
        raise _bad("columns", f"must be a JSON object, not {_type_name(columns)}")
    for keyword, column in columns.items():
        if keyword not in OPTIONAL_COLUMNS:
            close = difflib.get_close_matches(keyword, OPTIONAL_COLUMNS, n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            raise _bad(
                f"columns.{keyword}",
                f"unknown keyword{guess}; keywords are {', '.join(map(repr, OPTIONAL_COLUMNS))}",
            )
        if not isinstance(column, str) or column in _RESERVED:
            raise _bad(f"columns.{keyword}", f"must name a column, not {_short(column)}")
    try:
        monitor = cls(model, detectors, instrument=instrument, better=better, columns=columns)
    except IatrogenicError as error:
        raise _bad(
            "detectors", f"the detectors and columns do not make a monitor: {error}"
        ) from error
    monitor._patients = _read_patients(monitor, payload["patients"])
    return monitor


def _read_model(value: Any) -> ExpectedResponseModel:
    if not isinstance(value, dict):
        raise _bad("model", f"must be the model's JSON object, not {_type_name(value)}")
    try:
        return ExpectedResponseModel.from_json(json.dumps(value, allow_nan=False))
    except IatrogenicError as error:
        raise _bad("model", str(error)) from error
    except (
        KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError,
        ZeroDivisionError, RecursionError,
    ) as error:  # fmt: skip
        raise _bad("model", f"the model is malformed ({type(error).__name__}: {error})") from error


def _read_detectors(value: Any) -> list[Detector]:
    entries = _list_at(value, "detectors")
    if not entries:
        raise _bad("detectors", "the list is empty (a monitor has at least one detector)")
    names = registered_names()
    detectors = []
    for i, entry in enumerate(entries):
        path = f"detectors[{i}]"
        _fields(entry, path, ("name", "params"))
        name = entry["name"]
        if not isinstance(name, str) or name not in names:
            close = difflib.get_close_matches(str(name), names, n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            raise UnknownNameError(
                f"Monitor.from_json(): invalid state at {path}.name: unknown detector "
                f"{_short(name)}{guess}; known detectors: {', '.join(map(repr, names))}. "
                f"Suggestion: {_GENERIC_HINT} (custom detectors cannot be saved by name)."
            )
        raw = entry["params"]
        if not isinstance(raw, dict):
            raise _bad(f"{path}.params", f"must be a JSON object, not {_type_name(raw)}")
        params = {k: _decode_param(v, f"{path}.params.{k}") for k, v in raw.items()}
        try:
            detectors.append(get_detector(name, **params))
        except (IatrogenicError, TypeError, ValueError) as error:
            raise _bad(f"{path}.params", f"detector {name!r} refuses them: {error}") from error
    return detectors


def _read_scalar(value: Any, path: str) -> Any:
    """A value of an extra column, as :func:`_serialize.encode_scalar` writes it."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        if key == "float" and inner in ("nan", "inf", "-inf"):
            return float(inner)
        if key == "datetime" and isinstance(inner, str):
            try:
                stamp: Any = pd.Timestamp(inner)
            except (ValueError, TypeError, OverflowError):
                stamp = pd.NaT
            if not pd.isna(stamp):
                return stamp
            raise _bad(path, f"{_short(inner)} is not a date (ISO 8601, e.g. '2024-01-08')")
    raise _bad(
        path,
        f"{_short(value)} is not a value (a number, string, boolean, null, "
        '{"float": "nan"} or {"datetime": "<ISO 8601>"})',
    )


def _read_patients(monitor: Monitor, value: Any) -> dict[Any, dict[str, Any]]:
    entries = _list_at(value, "patients")
    patients: dict[Any, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, list) or len(entry) != 2:
            raise _bad(f"patients[{i}]", f"must be a pair [id, state], not {_short(entry)}")
        pid = entry[0]
        if isinstance(pid, bool) or not isinstance(pid, (str, int)):
            raise _bad(
                f"patients[{i}][0]",
                f"a patient id is a string or an integer, not {_type_name(pid)}",
            )
        if pid in patients:
            raise _bad(f"patients[{i}][0]", f"the patient id {pid!r} appears twice")
        patients[pid] = _read_patient(monitor, _patient_path(pid), entry[1])
    return patients


def _read_patient(monitor: Monitor, path: str, raw: Any) -> dict[str, Any]:
    _fields(raw, path, _PATIENT_KEYS)
    sessions = _list_at(raw["sessions"], f"{path}.sessions")
    if not sessions:
        raise _bad(f"{path}.sessions", "the list is empty (a patient has at least one session)")
    previous: int | float | None = None
    for j, session in enumerate(sessions):
        where = f"{path}.sessions[{j}]"
        _number_at(session, where, "a session number")
        if not -_MAX_SESSION <= session <= _MAX_SESSION:
            raise _bad(where, f"session {_short(session)} is not within +-2**53")
        if previous is not None and session <= previous:
            raise _bad(
                where,
                f"session {session!r} does not come after session {previous!r} "
                f"(sessions[{j - 1}]): sessions must be strictly increasing, without duplicates",
            )
        previous = session
    n = len(sessions)
    inst = monitor.instrument
    scores = []
    for j, score in enumerate(_list_at(raw["scores"], f"{path}.scores", n, "one per session")):
        if score is None:
            scores.append(math.nan)
            continue
        where = f"{path}.scores[{j}]"
        y = float(_number_at(score, where, "a score or null (missing)"))
        if inst is not None and not inst.low <= y <= inst.high:
            raise _bad(
                where,
                f"score {score!r} is outside the range of instrument {inst.name!r}, "
                f"[{inst.low:g}, {inst.high:g}]",
            )
        scores.append(y)
    extra_raw = raw["extra"]
    if not isinstance(extra_raw, dict):
        raise _bad(f"{path}.extra", f"must be a JSON object, not {_type_name(extra_raw)}")
    extra: dict[str, list[Any]] = {}
    for name, values in extra_raw.items():
        where = f"{path}.extra.{name}"
        if name not in monitor._allowed:
            read = ", ".join(map(repr, sorted(monitor._allowed))) or "none"
            raise _bad(where, f"unknown column (the monitor's updates carry: {read})")
        column: list[Any] = []
        partial = {"extra": {name: column}}
        for j, item in enumerate(_list_at(values, where, n, "one per session")):
            value = _read_scalar(item, f"{where}[{j}]")
            for check in monitor._checks.get(name, ()):
                _, problem = monitor._check_value(check, name, value, partial)
                if problem is not None:
                    raise _bad(
                        f"{where}[{j}]", f"{_short(value)}: {_given(check, name)} {problem[1]}"
                    )
            column.append(value)
        extra[name] = column
    levels = _list_at(raw["levels"], f"{path}.levels", len(monitor.detectors), "one per detector")
    for k, level in enumerate(levels):
        if isinstance(level, bool) or level not in (0, 1, 2) or not isinstance(level, int):
            raise _bad(f"{path}.levels[{k}]", f"must be 0, 1 or 2, not {_short(level)}")
    # what off_track derives from the history: the intake score, its session, the course
    first = next((j for j, y in enumerate(scores) if y == y), None)
    has_off_track = "off_track" in monitor._kinds
    intake = scores[first] if has_off_track and first is not None else None
    intake_session = sessions[first] if intake is not None and first is not None else None
    params = None
    if intake is not None and first is not None:
        covariates = {
            name: extra[name][first] for name in monitor.model.covariates_ if name in extra
        }
        params = monitor._params(intake, covariates)
    stored = raw["intake"]
    if stored is not None:
        _number_at(stored, f"{path}.intake", "a score or null")
    if stored != intake:
        what = (
            f"the first score, {intake!r} at session {intake_session!r}"
            if intake is not None
            else "null"
        )
        if not has_off_track:
            what = "null (the monitor has no off_track detector)"
        raise _bad(f"{path}.intake", f"is {_short(stored)}, but must be {what}")
    if raw["intake_session"] != intake_session or isinstance(raw["intake_session"], bool):
        raise _bad(
            f"{path}.intake_session",
            f"is {_short(raw['intake_session'])}, but must be {intake_session!r} (the session of "
            "the first score)",
        )
    stored_params = raw["params"]
    if params is None:
        if stored_params is not None:
            raise _bad(
                f"{path}.params", f"must be null (no expected course), not {_short(stored_params)}"
            )
    else:
        _list_at(stored_params, f"{path}.params", len(params), "the course's coefficients")
        for k, (a, b) in enumerate(zip(stored_params, params, strict=True)):
            _number_at(a, f"{path}.params[{k}]")
            if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
                raise _bad(
                    f"{path}.params[{k}]",
                    f"{a!r} is not the model's course for this intake ({b!r})",
                )
    for k, kind in enumerate(monitor._kinds):
        if levels[k] and (kind != "off_track" or params is None):
            raise _bad(
                f"{path}.levels[{k}]",
                f"must be 0 (detector {monitor.detectors[k].name!r} keeps no level here), "
                f"not {levels[k]!r}",
            )
    return {
        "sessions": list(sessions),
        "scores": scores,
        "extra": extra,
        "intake": intake,
        "intake_session": intake_session,
        "params": params if stored_params is None else list(map(float, stored_params)),
        "levels": list(levels),
    }


def _encode_param(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return {"list": [_encode_param(v) for v in value]}
    if isinstance(value, Mapping):
        return {"dict": {str(k): _encode_param(v) for k, v in value.items()}}
    return {"value": _serialize.encode_scalar(value)}


def _decode_param(value: Any, path: str, depth: int = 0) -> Any:
    if depth > _MAX_PARAM_DEPTH:
        raise _bad(path, f"parameters nested more than {_MAX_PARAM_DEPTH} levels deep")
    if not isinstance(value, dict) or len(value) != 1:
        raise _bad(path, f"{_short(value)} is not a parameter {_PARAM_FORMS}")
    ((kind, inner),) = value.items()
    if kind == "list" and isinstance(inner, list):
        return [_decode_param(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(inner)]
    if kind == "dict" and isinstance(inner, dict):
        return {k: _decode_param(v, f"{path}.{k}", depth + 1) for k, v in inner.items()}
    if kind == "value":
        return _read_scalar(inner, path)
    raise _bad(path, f"{_short(value)} is not a parameter {_PARAM_FORMS}")
