"""``ia.Monitor``: screen patients live, one session at a time, with state that survives in JSON.

A service calls :meth:`Monitor.update` when a questionnaire arrives and gets back, at once, the
events that session raises (the columns of :func:`iatrogenic.screen`). Between requests it can
persist the whole monitor with :meth:`Monitor.to_json` and restore it with
:meth:`Monitor.from_json`. See ``docs/expected-response.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import _serialize
from . import instruments as _instruments
from ._validation import check_choice
from .core.expected_response import (
    ExpectedResponseModel,
    _Resolved,
    _signal_one,
)
from .detectors.base import EVENT_COLUMNS, Detector, empty_events
from .detectors.off_track import OffTrack, off_track_evidence
from .detectors.registry import get_detector
from .exceptions import OutOfRangeError, ParameterError, ParameterTypeError

__all__ = ["FAST_DETECTORS", "Monitor"]

_KIND = "Monitor"
_RESERVED = ("patient", "session", "score")
#: Screen keywords of optional columns a monitor can pass on to the detectors.
OPTIONAL_COLUMNS = ("risk_item", "alliance", "attendance", "date", "therapist", "age", "ending")
#: Detectors with a fast incremental path: ``off_track`` runs entirely in the monitor; for the
#: others a cheap test decides whether the session can raise an event at all, and only then is
#: the detector run on the patient's history.
FAST_DETECTORS = ("off_track", "reliable_deterioration", "risk_item")


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


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
        ``ending``; default the instrument's risk item (``{"risk_item": "phq9_item9"}``). The
        updates pass the values as keyword arguments named by the column.

    Notes
    -----
    **Speed.** ``off_track`` runs in the monitor itself: the expected course of a patient is
    computed once, at intake, as nine coefficients; each later session costs a few float
    operations. ``reliable_deterioration`` and ``risk_item`` have a cheap test that a session
    must pass to raise anything (a score worse than intake; a non-zero risk item); only then is
    the detector run on the patient's history. Every other detector runs on the patient's
    history at every session (correct, but milliseconds per call).

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

    # -- construction helpers ----------------------------------------------------------------

    def _check_columns(self, columns: Mapping[str, str] | None) -> dict[str, str]:
        out: dict[str, str] = {}
        inst = self.instrument
        if columns is None and inst is not None and inst.risk_item is not None:
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
        """
        patient = _plain(patient)
        state = self._patients.get(patient)
        if state is None:
            _serialize.encode_scalar(patient)  # a JSON-safe id, or a clear error
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
        session = _plain(session)
        if (
            isinstance(session, bool)
            or not isinstance(session, (int, float))
            or not math.isfinite(session)
        ):
            raise ParameterTypeError(
                f"The 'session' parameter of Monitor.update() must be a finite number (session "
                f"number or time since a fixed origin). Got {session!r}."
            )
        sessions = state["sessions"]
        if sessions and session <= sessions[-1]:
            raise ParameterError(
                f"Monitor.update() got session {session!r} for patient {patient!r}, whose last "
                f"session is {sessions[-1]!r}: sessions must arrive in increasing order."
            )
        y = _number(score)
        inst = self.instrument
        if inst is not None and y == y and not inst.low <= y <= inst.high:
            raise OutOfRangeError(
                f"Monitor.update() got score {score!r} for patient {patient!r} at session "
                f"{session!r}, outside the range of instrument {inst.name!r}, "
                f"[{inst.low:g}, {inst.high:g}]."
            )
        for name in columns:
            if name in _RESERVED:
                raise ParameterError(
                    f"Monitor.update() got a column named {name!r}; that name is reserved."
                )
        n_before = len(sessions)
        sessions.append(session)
        state["scores"].append(y)
        extra = state["extra"]
        for name, value in columns.items():
            column = extra.get(name)
            if column is None:
                column = extra[name] = [None] * n_before
            column.append(_plain(value))
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
        patient = _plain(patient)
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
