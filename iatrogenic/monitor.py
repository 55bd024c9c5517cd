"""``ia.Monitor``: screen patients live, one session at a time, with state that survives in JSON.

A service calls :meth:`Monitor.update` when a questionnaire arrives and gets back, at once, the
events that session raises (the columns of :func:`iatrogenic.screen`). Between requests it can
persist the whole monitor with :meth:`Monitor.to_json` and restore it with
:meth:`Monitor.from_json`. See ``docs/expected-response.md``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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
from .detectors.registry import get_detector
from .detectors.risk_item import RiskItemSignal
from .exceptions import (
    ColumnTypeError,
    InvalidValueError,
    OutOfRangeError,
    ParameterError,
    ParameterTypeError,
)

__all__ = ["FAST_DETECTORS", "Monitor"]

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


def _number(value: Any) -> float:
    """A score as float, NaN for missing; raise for anything else."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterTypeError(
            f"The 'score' parameter of Monitor.update() must be a number or None (missing). Got "
            f"{value!r} of type {type(value).__name__} instead."
        )
    number = float(value)
    if math.isinf(number):
        raise ParameterError(
            f"The 'score' parameter of Monitor.update() must be finite or None. Got {value!r}."
        )
    return number


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
            previous session.
        score : float or None
            The total score; None or NaN for a session without one (e.g. a missed session).
        **columns
            Further values of this session, by column name: the model's covariates (needed at
            intake), and the columns of ``columns=`` (e.g. ``phq9_item9=2``).

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
            patient's last one), score (not a number, outside the instrument's range) or further
            value (a number column holding text, an infinite value, a risk item outside the
            item's range, an attendance or ending value not allowed, a date that cannot be
            read). The monitor is then left unchanged.
        """
        caller = "Monitor.update"
        patient = _patient_id(patient, caller)
        session = _plain(session)
        if (
            isinstance(session, bool)
            or not isinstance(session, (int, float))
            or not math.isfinite(session)
        ):
            raise ParameterTypeError(
                f"The 'session' parameter of {caller}() must be a finite number (session "
                f"number or time since a fixed origin). Got {session!r}."
            )
        state = self._patients.get(patient)
        if state is not None:
            sessions = state["sessions"]
            if sessions and session <= sessions[-1]:
                raise ParameterError(
                    f"{caller}() got session {session!r} for patient {patient!r}, whose last "
                    f"session is {sessions[-1]!r}: sessions must arrive in increasing order."
                )
        y = _number(score)
        inst = self.instrument
        if inst is not None and y == y and not inst.low <= y <= inst.high:
            raise OutOfRangeError(
                f"{caller}() got score {score!r} for patient {patient!r} at session "
                f"{session!r}, outside the range of instrument {inst.name!r}, "
                f"[{inst.low:g}, {inst.high:g}]."
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
        frame = pd.DataFrame.from_records(records, columns=list(EVENT_COLUMNS))
        return frame.astype(EVENT_COLUMNS)

    def _check_values(
        self, columns: Mapping[str, Any], state: dict[str, Any] | None, patient: Any, session: Any
    ) -> dict[str, Any]:
        """The further values of an update, checked as the screen checks its columns.

        Returns them as plain Python values (numeric text as float); raises on the first bad
        one, naming the column, the patient and the session.
        """
        out: dict[str, Any] = {}
        checks = self._checks
        for name, raw in columns.items():
            if name in _RESERVED:
                raise ParameterError(
                    f"Monitor.update() got a column named {name!r}; that name is reserved."
                )
            value = raw
            problem: _Problem | None = None
            if type(raw) is not float and type(raw) is not int:  # else the common case: done
                value = pd.Timestamp(raw) if isinstance(raw, np.datetime64) else _plain(raw)
                if value is pd.NA or value is pd.NaT:
                    value = None
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
            try:
                number = float(value)
            except ValueError:
                number = None
        if number is None or isinstance(number, bool) or not isinstance(number, (int, float)):
            return value, (
                ColumnTypeError,
                f"must hold numbers or None (missing); got type {type(value).__name__}.",
            )
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
        if isinstance(value, (int, float)) and math.isinf(value):
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
        update (floats are written exactly).
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
        for pid, state in self._patients.items():
            patients.append(
                [
                    _serialize.encode_scalar(pid),
                    {
                        "sessions": [_serialize.encode_scalar(s) for s in state["sessions"]],
                        "scores": [None if s != s else s for s in state["scores"]],
                        "extra": {
                            name: [_serialize.encode_scalar(v) for v in values]
                            for name, values in state["extra"].items()
                        },
                        "intake": state["intake"],
                        "intake_session": _serialize.encode_scalar(state["intake_session"]),
                        "params": state["params"],
                        "levels": list(state["levels"]),
                    },
                ]
            )
        payload = {
            "model": json.loads(self.model.to_json()),
            "detectors": detectors,
            "instrument": self.instrument.name if self.instrument is not None else None,
            "better": self.better,
            "columns": dict(self.columns),
            "patients": patients,
        }
        return _serialize.dumps(payload, kind=_KIND)

    @classmethod
    def from_json(cls, text: str) -> Monitor:
        """Restore a monitor written by :meth:`to_json` (validated; clear errors)."""
        payload = _serialize.loads(text, kind=_KIND)
        _serialize.require(
            payload,
            ("model", "detectors", "instrument", "better", "columns", "patients"),
            kind=_KIND,
        )
        model = ExpectedResponseModel.from_json(json.dumps(payload["model"]))
        detectors = []
        for entry in payload["detectors"]:
            if not isinstance(entry, dict) or "name" not in entry or "params" not in entry:
                raise ParameterError(f"Malformed {_KIND} document: bad detector entry {entry!r}.")
            params = {k: _decode_param(v) for k, v in entry["params"].items()}
            detectors.append(get_detector(entry["name"], **params))
        monitor = cls(
            model,
            detectors,
            instrument=payload["instrument"],
            better=payload["better"],
            columns=payload["columns"],
        )
        for pid, state in payload["patients"]:
            n_det = len(monitor.detectors)
            levels = list(state["levels"])
            if len(levels) != n_det:
                raise ParameterError(f"Malformed {_KIND} document: levels do not match detectors.")
            monitor._patients[_serialize.decode_scalar(pid)] = {
                "sessions": [_serialize.decode_scalar(s) for s in state["sessions"]],
                "scores": [math.nan if s is None else float(s) for s in state["scores"]],
                "extra": {
                    name: [_serialize.decode_scalar(v) for v in values]
                    for name, values in state["extra"].items()
                },
                "intake": state["intake"],
                "intake_session": _serialize.decode_scalar(state["intake_session"]),
                "params": state["params"],
                "levels": levels,
            }
        return monitor


def _encode_param(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return {"list": [_encode_param(v) for v in value]}
    if isinstance(value, Mapping):
        return {"dict": {str(k): _encode_param(v) for k, v in value.items()}}
    return {"value": _serialize.encode_scalar(value)}


def _decode_param(value: Any) -> Any:
    if not isinstance(value, dict) or len(value) != 1:
        raise ParameterError(f"Malformed {_KIND} document: bad detector parameter {value!r}.")
    ((kind, inner),) = value.items()
    if kind == "list":
        return [_decode_param(v) for v in inner]
    if kind == "dict":
        return {k: _decode_param(v) for k, v in inner.items()}
    if kind == "value":
        return _serialize.decode_scalar(inner)
    raise ParameterError(f"Malformed {_KIND} document: bad detector parameter {value!r}.")
