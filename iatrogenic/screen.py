"""``ia.screen``: run every applicable detector over long data and return one event table."""

from __future__ import annotations

import time as time_module
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, cast, overload

import numpy as np
import pandas as pd

from . import instruments as _instruments
from ._progress import check_enabled
from ._progress import progress as progress_bar
from ._validation import (
    MAX_ROWS_SHOWN,
    LongData,
    check_columns,
    check_dataframe,
    describe_rows,
    prepare_long,
    resolve_better,
)
from .dask import dispatch, is_dask_frame
from .detectors.base import EVENT_COLUMNS, Detector, ScreenInput, empty_events
from .detectors.disengagement import attendance_at, attendance_in
from .detectors.registry import get_detector, registered_names
from .exceptions import DataQualityWarning, ParameterError, ParameterTypeError

__all__ = ["screen", "screen_summary"]

#: Optional column keywords of the screen (API.md), in the order they are documented.
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "risk_item",
    "alliance",
    "attendance",
    "date",
    "therapist",
    "age",
    "ending",
)
NUMERIC_COLUMNS = frozenset({"risk_item", "alliance", "age"})


def _resolve_detectors(detectors: str | Detector | Iterable[str | Detector]) -> list[Detector]:
    if isinstance(detectors, (str, Detector)):
        if detectors == "all":
            return [get_detector(name) for name in registered_names()]
        return [get_detector(detectors)]
    if not isinstance(detectors, Iterable):
        raise ParameterTypeError(
            "The 'detectors' parameter of screen() must be 'all', a detector name, a Detector, or "
            f"a list of them. Got {detectors!r}."
        )
    return [get_detector(d) for d in detectors]


def _sort_events(events: pd.DataFrame, long: LongData) -> pd.DataFrame:
    """Order events by patient (as ``LongData.patients``), then session, then detector.

    Sessions are ordered by ``long.order`` of the patient's row at that session; an event whose
    session is not among its patient's rows goes last for that patient.
    """
    code = long.patients.get_indexer(pd.Index(events["patient"]))
    detector_rank, detectors = pd.factorize(events["detector"].to_numpy(), sort=True)
    ranked = _numeric_session_rank(events, code, long)
    if ranked is None:
        order = _session_order_by_merge(events, code, long)
        # lexsort is stable and puts NaN (an unknown session) last, as sort_values did
        permutation = np.lexsort((detector_rank, order, code))
    else:
        # One int64 key (patient, occasion rank, detector): the events of each detector come
        # sorted, and a stable sort of one key merges such runs fast.
        rank, n_ranks = ranked
        key = ((code + 1) * (n_ranks + 1) + rank) * len(detectors) + detector_rank
        permutation = np.argsort(key, kind="stable")
    return events.take(permutation).reset_index(drop=True)


def _numeric_session_rank(
    events: pd.DataFrame, code: np.ndarray, long: LongData
) -> tuple[np.ndarray, int] | None:
    """For numeric occasions, each event's session as a rank among all occasions; else None.

    Numeric occasions are their own order key (``prepare_long``), so ranking the events'
    sessions among the distinct keys orders them as ``long.order`` does, provided the patient
    has a row at that session: found by a binary search over the rows, which are sorted by
    patient and then by that key. Events without such a row get the last rank, ``n_ranks``.
    Sessions that are not all numbers (text, dates) return None, for the general lookup.
    """
    time = long.frame["time"]
    if pd.api.types.is_bool_dtype(time) or not pd.api.types.is_numeric_dtype(time):
        return None
    sessions = events["session"].to_numpy()
    kind = pd.api.types.infer_dtype(sessions, skipna=False)
    if kind not in {"integer", "floating", "mixed-integer-float", "boolean"}:
        return None
    session_key = np.asarray(sessions, dtype=np.float64)
    distinct = np.sort(pd.unique(long.order))  # a hash, then a sort of the few occasions
    n_ranks = len(distinct)
    # (patient code, rank of the occasion) as one int64 key, sorted like the rows
    row_key = long.codes * (n_ranks + 1) + np.searchsorted(distinct, long.order)
    rank = np.searchsorted(distinct, session_key)
    known = (code >= 0) & (rank < n_ranks)
    known[known] &= distinct[rank[known]] == session_key[known]
    event_key = code[known] * (n_ranks + 1) + rank[known]
    position = np.minimum(np.searchsorted(row_key, event_key), len(row_key) - 1)
    found = np.zeros(len(events), dtype=bool)
    found[known] = row_key[position] == event_key
    return np.where(found, rank, n_ranks), n_ranks


def _session_order_by_merge(
    events: pd.DataFrame, code: np.ndarray, long: LongData
) -> np.ndarray:
    """``long.order`` at each event's (patient, session) by a merge on the session values."""
    # The occasion order of each event's session, looked up among the rows of the patients with
    # events only: these are few, and the lookup turns sessions into Python objects.
    with_events = np.zeros(long.n_patients, dtype=bool)
    with_events[code[code >= 0]] = True
    rows = np.flatnonzero(with_events[long.codes])
    keys = pd.DataFrame(
        {
            "_code": long.codes[rows],
            # explicitly object, as the events' session: pandas would turn datetimes into a
            # datetime64 column that cannot be merged with it
            "session": pd.Series(long.frame["time"].take(rows).to_numpy(dtype=object),
                                 dtype=object),
            "_order": long.order[rows],
        }
    )
    merged = pd.DataFrame(
        {"_code": code, "session": pd.Series(events["session"].to_numpy(), dtype=object)}
    ).merge(keys, on=["_code", "session"], how="left")
    return merged["_order"].to_numpy(dtype=np.float64)


@overload
def screen(
    data: pd.DataFrame,
    *,
    detectors: str | Detector | Sequence[str | Detector] = ...,
    instrument: str | _instruments.Instrument | None = ...,
    medications: pd.DataFrame | None = ...,
    patient: str = ...,
    time: str = ...,
    score: str = ...,
    better: str | None = ...,
    risk_item: str | None = ...,
    alliance: str | None = ...,
    attendance: str | None = ...,
    date: str | None = ...,
    therapist: str | None = ...,
    age: str | None = ...,
    ending: str | None = ...,
    items: Sequence[str] | None = ...,
    secondary: Mapping[str, str | None] | None = ...,
    summary: Literal[False] = ...,
    progress: bool | None = ...,
) -> pd.DataFrame: ...


@overload
def screen(
    data: pd.DataFrame,
    *,
    detectors: str | Detector | Sequence[str | Detector] = ...,
    instrument: str | _instruments.Instrument | None = ...,
    medications: pd.DataFrame | None = ...,
    patient: str = ...,
    time: str = ...,
    score: str = ...,
    better: str | None = ...,
    risk_item: str | None = ...,
    alliance: str | None = ...,
    attendance: str | None = ...,
    date: str | None = ...,
    therapist: str | None = ...,
    age: str | None = ...,
    ending: str | None = ...,
    items: Sequence[str] | None = ...,
    secondary: Mapping[str, str | None] | None = ...,
    summary: Literal[True],
    progress: bool | None = ...,
) -> tuple[pd.DataFrame, pd.DataFrame]: ...


def screen(
    data: pd.DataFrame,
    *,
    detectors: str | Detector | Sequence[str | Detector] = "all",
    instrument: str | _instruments.Instrument | None = None,
    medications: pd.DataFrame | None = None,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    better: str | None = None,
    risk_item: str | None = None,
    alliance: str | None = None,
    attendance: str | None = None,
    date: str | None = None,
    therapist: str | None = None,
    age: str | None = None,
    ending: str | None = None,
    items: Sequence[str] | None = None,
    secondary: Mapping[str, str | None] | None = None,
    summary: bool = False,
    progress: bool | None = None,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Screen long-format outcome data for every kind of harm the detectors know.

    Each detector whose inputs are present runs on a validated, sorted copy of ``data``; the others
    are skipped and listed, with the reason, in ``events.attrs["skipped"]``.

    Parameters
    ----------
    data : DataFrame
        Long format: one row per patient and session. A ``dask.dataframe.DataFrame`` is screened
        partition by partition and gives a lazy Dask DataFrame of the same events (see
        ``docs/dask.md``; ``pip install 'iatrogenic[dask]'``).
    detectors : "all", str, Detector or list, default "all"
        Which detectors to run: names from :func:`ia.list_detectors` or configured instances.
    instrument : str or Instrument, optional
        The instrument of the score column (direction, reliability, cut-offs, risk item).
    medications : DataFrame, optional
        Medication table (``patient, start, stop, drug``, optional ``atc``, ``dose``).
    patient, time, score : str
        Column names of the patient id, the session (occasion) and the total score.
    better : {"lower", "higher"}, optional
        Direction of improvement; default the instrument's, else ``"lower"``.
    risk_item, alliance, attendance, date, therapist, age : str, optional
        Columns with the instrument's self-harm item (default: the instrument's risk item column
        when present in ``data``), an alliance score, attendance status, session dates, the
        therapist id and age. A named column that is absent is an error.
    ending : str, optional
        Column marking how a course ended, ``"planned"`` or ``"unplanned"`` on the last row of a
        course (missing elsewhere); only an explicit ending counts, since a patient's last row in
        the data may just be the latest session so far.
    items : list of str, optional
        Item score columns (for symptom emergence).
    secondary : dict, optional
        Secondary measures: ``{column: instrument name or None}``.
    summary : bool, default False
        Also return the per-patient summary of :func:`screen_summary` (every patient of the
        input, including those without events).
    progress : bool or None, default None
        A progress bar over the detectors, on standard error, showing the one running (needs
        tqdm: ``pip install 'iatrogenic[progress]'``). ``None``: only when standard error is a
        terminal; ``False``: never; ``True``: whenever tqdm is installed (without it, a warning
        and no bar). The events are the same either way.

    Returns
    -------
    events : DataFrame
        One row per harm event, sorted by patient and session:

        - ``patient``: patient id.
        - ``detector``: name of the detector that raised it.
        - ``harm``: the harm type (key of the taxonomy, see ``iatrogenic.detectors.HARMS``).
        - ``session``: the session at which the event is raised (the first at which the data
          needed for it exist).
        - ``level``: ``"warning"`` or ``"alarm"``.
        - ``value``: the statistic that crossed its threshold (e.g. points of worsening).
        - ``threshold``: the threshold it crossed.
        - ``evidence``: the scores or rows behind the event, in words.

        ``events.attrs["skipped"]`` lists the detectors that could not run, as dicts
        ``{"detector": name, "reason": why}``; ``events.attrs["detectors"]`` the ones that ran;
        ``events.attrs["seconds"]`` the run time of each.
    patients : DataFrame
        Only with ``summary=True``: see :func:`screen_summary`.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> data = ia.datasets.load_example()
    >>> events = ia.screen(data, score="phq9", instrument="phq9")
    >>> sorted(events.columns) == sorted(
    ...     ["patient", "detector", "harm", "session", "level", "value", "threshold", "evidence"])
    True
    """
    if is_dask_frame(data):
        return cast("pd.DataFrame", dispatch("screen", locals()))
    return _screen(
        data,
        detectors=detectors,
        instrument=instrument,
        medications=medications,
        patient=patient,
        time=time,
        score=score,
        better=better,
        risk_item=risk_item,
        alliance=alliance,
        attendance=attendance,
        date=date,
        therapist=therapist,
        age=age,
        ending=ending,
        items=items,
        secondary=secondary,
        summary=summary,
        progress=progress,
        intake_sds=None,
    )


def _screen(
    data: pd.DataFrame,
    *,
    detectors: str | Detector | Sequence[str | Detector] = "all",
    instrument: str | _instruments.Instrument | None = None,
    medications: pd.DataFrame | None = None,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    better: str | None = None,
    risk_item: str | None = None,
    alliance: str | None = None,
    attendance: str | None = None,
    date: str | None = None,
    therapist: str | None = None,
    age: str | None = None,
    ending: str | None = None,
    items: Sequence[str] | None = None,
    secondary: Mapping[str, str | None] | None = None,
    summary: bool = False,
    progress: bool | None = None,
    intake_sds: Mapping[str, float] | None,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`screen`, with the whole sample's intake SDs when ``data`` is one part of it.

    ``intake_sds`` (``{"score" or a secondary column: SD}``) is computed by the Dask engine in a
    first pass over every partition and given to each one, so that the detectors that take an
    SD from the intake scores use the whole sample's, as the pandas screen does.
    """
    caller = "screen"
    check_dataframe(data, caller=caller)
    if not isinstance(summary, (bool, np.bool_)):
        raise ParameterTypeError(
            f"The 'summary' parameter of {caller}() must be True or False. Got {summary!r} "
            "instead. Suggestion: pass summary=True to get the per-patient summary too."
        )
    progress = check_enabled(progress, caller=caller)
    detector_list = _resolve_detectors(detectors)
    inst = _instruments.get(instrument) if instrument is not None else None
    better = resolve_better(better, inst, caller=caller)
    if medications is not None:
        check_dataframe(medications, caller=caller, name="medications")

    named: dict[str, str | None] = {
        "risk_item": risk_item,
        "alliance": alliance,
        "attendance": attendance,
        "date": date,
        "therapist": therapist,
        "age": age,
        "ending": ending,
    }
    explicit = {key: col for key, col in named.items() if col is not None}
    check_columns(data, explicit, caller=caller)
    default_risk = inst.risk_item.column if inst is not None and inst.risk_item else None
    if risk_item is None and default_risk is not None and default_risk in data.columns:
        explicit["risk_item"] = default_risk
    options: dict[str, Any] = {}
    if items is not None:
        if isinstance(items, str) or not isinstance(items, Iterable):
            raise ParameterTypeError(
                f"The 'items' parameter of {caller}() must be a list of item columns, e.g. "
                f"items=['phq9_item1', 'phq9_item2']. Got {items!r} instead."
            )
        check_columns(data, {f"items[{i}]": col for i, col in enumerate(items)}, caller=caller)
        options["items"] = list(items)
    if secondary is not None:
        if not isinstance(secondary, Mapping):
            raise ParameterTypeError(
                f"The 'secondary' parameter of {caller}() must be a dict mapping each secondary "
                "column to its instrument name (or None), e.g. secondary={'gad7': 'gad7', "
                f"'bhs': 'bhs'}}. Got {secondary!r} instead."
            )
        check_columns(data, {f"secondary[{col!r}]": col for col in secondary}, caller=caller)
        options["secondary"] = dict(secondary)
    carried = {**explicit, **{f"item:{c}": c for c in options.get("items", [])}}
    carried.update({f"secondary:{c}": c for c in options.get("secondary", {})})

    long = prepare_long(
        data,
        patient=patient,
        time=time,
        score=score,
        caller=caller,
        instrument=inst,
        extra=carried,
        numeric_extra=[k for k in carried if k in NUMERIC_COLUMNS or ":" in k],
    )
    screen_input = ScreenInput(
        long=long,
        better=better,
        instrument=inst,
        columns=explicit,
        medications=medications,
        options=options,
        intake_sds=dict(intake_sds or {}),
    )

    problems = _scores_on_missed_sessions(screen_input, caller)

    tables = []
    ran: list[str] = []
    skipped: list[dict[str, str]] = []
    seconds: dict[str, float] = {}
    for detector in progress_bar(
        detector_list, desc="screen", enabled=progress, postfix=lambda d: d.name
    ):
        missing = detector.missing_inputs(screen_input)
        if missing:
            skipped.append({"detector": detector.name, "reason": "needs " + ", ".join(missing)})
            continue
        started = time_module.perf_counter()
        tables.append(detector.detect(screen_input))
        seconds[detector.name] = time_module.perf_counter() - started
        ran.append(detector.name)

    non_empty = [t for t in tables if len(t)]
    events = pd.concat(non_empty, ignore_index=True) if non_empty else empty_events()
    if len(events):
        events = _sort_events(events, long)
    events = events.astype(EVENT_COLUMNS)
    events.attrs["skipped"] = skipped
    events.attrs["detectors"] = ran
    events.attrs["seconds"] = seconds
    events.attrs["data_problems"] = problems
    if summary:
        return events, screen_summary(events, long.patients)
    return events


def _scores_on_missed_sessions(screen_input: ScreenInput, caller: str) -> list[dict[str, Any]]:
    """Report scores recorded on sessions marked 'dna' or 'cancelled' (warn, keep the rows).

    A score on a missed session is usually a data-entry error (the wrong row, or a score copied
    forward). The score-based detectors still use it, as given: nothing is dropped silently,
    and the caller is told which rows to check.
    """
    missed_session = attendance_in(screen_input, ["dna", "cancelled"])
    if missed_session is None:
        return []
    frame = screen_input.long.frame
    missed = missed_session & frame["score"].notna().to_numpy()
    if not missed.any():
        return []
    rows = np.flatnonzero(missed)
    column = screen_input.columns["attendance"]
    names = screen_input.long.columns
    # only the rows the message shows, not a copy of whole columns
    first = rows[:MAX_ROWS_SHOWN]
    shown = pd.DataFrame(
        {
            str(names.get("patient", "patient")): frame["patient"].iloc[first].to_numpy(),
            str(names.get("time", "time")): frame["time"].iloc[first].to_numpy(),
            str(column): attendance_at(screen_input, first),
            str(names.get("score", "score")): frame["score"].iloc[first].to_numpy(),
        },
        index=frame.index[first],
    )
    # positions into ``shown`` (its first rows), and as many as there are rows to report
    positions = np.arange(len(rows))
    message = (
        f"{len(rows)} row(s) passed to {caller}() have a score although column {column!r} "
        f"(given as attendance=) marks the session 'dna' or 'cancelled'; "
        f"{describe_rows(shown, positions, list(shown.columns))}. The scores are used as given. "
        "Suggestion: check these rows; if the patient did attend, correct the attendance, "
        "otherwise remove the score."
    )
    warnings.warn(message, DataQualityWarning, stacklevel=3)
    return [{"problem": "score on a missed session", "rows": len(rows), "message": message}]


def screen_summary(events: pd.DataFrame, patients: Iterable[Any] | None = None) -> pd.DataFrame:
    """One row per patient: the worst level, the harms seen and the first alarm.

    Parameters
    ----------
    events : DataFrame
        The event table of :func:`screen`.
    patients : iterable, optional
        Every patient to report, in order (e.g. ``data["patient"].unique()``); patients without
        events get a row with ``worst_level="none"``. Default: the patients with events.

    Returns
    -------
    DataFrame
        - ``patient``: patient id.
        - ``worst_level``: ``"alarm"``, ``"warning"`` or ``"none"``.
        - ``n_alarms``, ``n_warnings``: numbers of events of each level.
        - ``harms``: the harm types seen, sorted, ``", "``-joined (empty when none).
        - ``detectors``: the detectors that raised events, sorted, ``", "``-joined.
        - ``first_alarm_session``: the session of the patient's first alarm (missing if none).
        - ``first_event_session``: the session of the first event of any level.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> data = ia.datasets.load_example()
    >>> events, patients = ia.screen(data, score="phq9", instrument="phq9", summary=True)
    >>> len(patients) == data["patient"].nunique()
    True
    >>> sorted(patients["worst_level"].unique())
    ['alarm', 'none', 'warning']
    """
    columns = [
        "patient",
        "worst_level",
        "n_alarms",
        "n_warnings",
        "harms",
        "detectors",
        "first_alarm_session",
        "first_event_session",
    ]
    ids = pd.Index(
        pd.unique(np.asarray(events["patient"], dtype=object))
        if patients is None
        else np.asarray(list(patients), dtype=object)
    )
    code = ids.get_indexer(pd.Index(events["patient"]))
    if (code < 0).any():
        unknown = pd.unique(events["patient"].to_numpy()[code < 0])[:5]
        raise ParameterError(
            f"screen_summary() got events for patients missing from 'patients', e.g. "
            f"{[_plain(p) for p in unknown]}. Pass every patient of the data, or leave "
            "patients=None."
        )
    n = len(ids)
    alarm = (events["level"] == "alarm").to_numpy()
    n_alarms = np.bincount(code[alarm], minlength=n)
    n_warnings = np.bincount(code[~alarm], minlength=n)
    worst = np.where(n_alarms > 0, "alarm", np.where(n_warnings > 0, "warning", "none"))
    # Events arrive sorted by patient and session, so the first row per patient is the first event.
    first_event = pd.Series(events["session"].to_numpy(), index=code).groupby(level=0).first()
    first_alarm = (
        pd.Series(events["session"].to_numpy()[alarm], index=code[alarm]).groupby(level=0).first()
    )
    joined = (
        events.assign(_code=code)
        .groupby("_code")
        .agg(harms=("harm", _join_sorted), detectors=("detector", _join_sorted))
    )
    out = pd.DataFrame(
        {
            "patient": ids.to_numpy(),
            "worst_level": worst,
            "n_alarms": n_alarms,
            "n_warnings": n_warnings,
            "harms": joined["harms"].reindex(range(n), fill_value="").to_numpy(),
            "detectors": joined["detectors"].reindex(range(n), fill_value="").to_numpy(),
            "first_alarm_session": first_alarm.reindex(range(n)).to_numpy(dtype=object),
            "first_event_session": first_event.reindex(range(n)).to_numpy(dtype=object),
        },
        columns=columns,
    )
    return out


def _join_sorted(values: pd.Series) -> str:
    return ", ".join(sorted(set(values)))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
