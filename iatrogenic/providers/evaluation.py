"""``ia.evaluate_providers``: score therapist-level events against the therapist truth.

:func:`iatrogenic.evaluate` scores patient-level detectors; a provider signal concerns a
therapist, so it is scored against one row per therapist (harmful or ordinary), the truth that
``ia.datasets.simulate(harmful_therapists=..., harmful_from_halfway=...)`` returns in
``truth.attrs["therapists"]``. Kept apart from :func:`iatrogenic.evaluate` so that the
patient-level contract (columns, one row per detector and patient) does not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_fraction
from ..core.summary import wilson_interval
from ..detectors.base import LEVELS
from ..exceptions import ColumnNotFoundError, InvalidValueError, ParameterError

__all__ = ["PROVIDER_DETECTORS", "PROVIDER_EVALUATION_COLUMNS", "evaluate_providers"]

_CALLER = "evaluate_providers"

#: The provider detectors of :func:`iatrogenic.screen_providers`, scored by default.
PROVIDER_DETECTORS: tuple[str, ...] = ("provider_cusum", "provider_funnel")

#: Columns of the table returned by :func:`evaluate_providers`, in order.
PROVIDER_EVALUATION_COLUMNS: tuple[str, ...] = (
    "detector",
    "n_therapists",
    "n_harmful",
    "n_ordinary",
    "detected",
    "sensitivity",
    "sensitivity_low",
    "sensitivity_high",
    "detected_start",
    "n_start",
    "detected_halfway",
    "n_halfway",
    "flagged_before_onset",
    "false_flags",
    "false_flag_rate",
    "false_flag_low",
    "false_flag_high",
    "median_patients_to_detection",
    "n_timed",
)

_EVENT_NEEDS = ("therapist", "detector", "session", "level")
_TRUTH_NEEDS = ("therapist", "harmful", "pattern", "onset", "onset_date")


def _require(frame: Any, columns: Sequence[str], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidValueError(
            f"The {name!r} parameter of {_CALLER}() must be a DataFrame. Got "
            f"{type(frame).__name__} instead."
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        source = (
            "ia.screen_providers()" if name == "events"
            else "ia.datasets.simulate(harmful_therapists=...) in truth.attrs['therapists']"
        )
        raise ColumnNotFoundError(
            f"The {name!r} table of {_CALLER}() lacks the column(s) "
            f"{', '.join(map(repr, missing))}. Suggestion: pass the table returned by {source}."
        )


def _plain(values: Any) -> np.ndarray:
    return np.asarray(pd.Series(values).astype(object).to_numpy(), dtype=object)


def _finish_positions(
    data: pd.DataFrame, therapist: str, patient: str, order: str
) -> dict[Any, np.ndarray]:
    """Per therapist, the sorted finishing values of its patients (``order``'s largest value)."""
    for column in (therapist, patient, order):
        if column not in data.columns:
            raise ColumnNotFoundError(
                f"The 'data' table of {_CALLER}() has no column {column!r}. Suggestion: name "
                "the columns with therapist=, patient= and order=."
            )
    frame = pd.DataFrame(
        {"t": _plain(data[therapist]), "p": _plain(data[patient]), "o": data[order].to_numpy()}
    )
    finish = frame.groupby(["t", "p"], sort=False)["o"].max().reset_index()
    return {t: np.sort(g["o"].to_numpy()) for t, g in finish.groupby("t", sort=False)}


def evaluate_providers(
    events: pd.DataFrame,
    therapist_truth: pd.DataFrame,
    *,
    data: pd.DataFrame | None = None,
    detectors: Sequence[str] = PROVIDER_DETECTORS,
    levels: str | Sequence[str] = ("alarm",),
    therapist: str = "therapist",
    patient: str = "patient",
    order: str = "date",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Sensitivity, false flags and patients to detection of each provider detector.

    A harmful therapist is *detected* by a detector when it has at least one event of that
    detector at one of ``levels`` dated at or after the harm's onset (the ``session`` of a
    provider event holds the ``order`` value of the patient at which it fired, compared with the
    truth's ``onset_date``); a flag of a therapist whose harm rises halfway, raised before the
    onset, is counted in ``flagged_before_onset`` instead. An ordinary therapist with any event
    at those levels is a false flag.

    Parameters
    ----------
    events : DataFrame
        The events of :func:`iatrogenic.screen_providers` (columns ``therapist, detector,
        session, level``), run with ``order=`` the finishing-date column (``"date"`` on
        simulated data), so that ``session`` holds dates.
    therapist_truth : DataFrame
        One row per therapist screened: ``truth.attrs["therapists"]`` of
        :func:`iatrogenic.datasets.simulate` (columns ``therapist, harmful, pattern, onset,
        onset_date``; ``pattern`` is ``"none"``, ``"start"`` or ``"halfway"``, ``onset`` the
        number of the first exposed patient in finishing order).
    data : DataFrame, optional
        The screened long data. Needed only for ``median_patients_to_detection``: each
        therapist's patients are put in finishing order (their largest ``order`` value).
    detectors : sequence of str, default ("provider_cusum", "provider_funnel")
        Detectors to score (one row each, even without events).
    levels : str or sequence of str, default ("alarm",)
        Event levels that count as a flag (``"warning"`` adds the funnel's 95% outliers).
    therapist, patient, order : str
        Columns of ``data``: therapist, patient and the finishing order (default ``"date"``).
    confidence : float, default 0.95
        Level of the Wilson intervals.

    Returns
    -------
    DataFrame
        One row per detector, columns :data:`PROVIDER_EVALUATION_COLUMNS`:

        - ``n_therapists``, ``n_harmful``, ``n_ordinary``: therapists in the truth.
        - ``detected``, ``sensitivity`` (``detected / n_harmful``) with its Wilson interval
          ``sensitivity_low``, ``sensitivity_high``; ``detected_start`` of ``n_start`` and
          ``detected_halfway`` of ``n_halfway`` split it by pattern.
        - ``flagged_before_onset``: harmful therapists flagged before their onset (only
          possible for ``"halfway"``).
        - ``false_flags``: ordinary therapists flagged; ``false_flag_rate`` (of ``n_ordinary``)
          with its Wilson interval ``false_flag_low``, ``false_flag_high``.
        - ``median_patients_to_detection``: over detected therapists, the number of the
          therapist's patients from the onset patient to the patient at the first flag at or
          after the onset, both included (patients finishing on the flag's date all count);
          NaN without ``data``. A funnel event is dated at the end of the period, so for the
          funnel this is the whole caseload since the onset. ``n_timed``: therapists it covers.

        ``attrs["patients_to_detection"]`` maps each detector to the per-therapist counts behind
        the median (in truth order), so that several runs can be pooled.

    Raises
    ------
    iatrogenic.exceptions.ColumnNotFoundError
        A table lacks a needed column.
    iatrogenic.exceptions.InvalidValueError
        An event names a therapist missing from the truth.
    iatrogenic.exceptions.ParameterError
        An unknown level.

    See Also
    --------
    iatrogenic.evaluate : the patient-level counterpart.

    Examples
    --------
    >>> import pandas as pd
    >>> truth = pd.DataFrame({
    ...     "therapist": ["A", "B", "C"], "harmful": [True, False, False],
    ...     "pattern": ["start", "none", "none"], "onset": [1, 0, 0],
    ...     "onset_date": pd.to_datetime(["2024-01-01", None, None])})
    >>> events = pd.DataFrame({
    ...     "therapist": ["A", "C"], "detector": "provider_cusum",
    ...     "session": pd.to_datetime(["2024-03-01", "2024-05-01"]), "level": "alarm"})
    >>> table = evaluate_providers(events, truth, detectors=["provider_cusum"])
    >>> table[["detected", "sensitivity", "false_flags", "false_flag_rate"]].to_dict("records")
    [{'detected': 1, 'sensitivity': 1.0, 'false_flags': 1, 'false_flag_rate': 0.5}]
    """
    _require(events, _EVENT_NEEDS, "events")
    _require(therapist_truth, _TRUTH_NEEDS, "therapist_truth")
    chosen = (levels,) if isinstance(levels, str) else tuple(levels)
    unknown = [lv for lv in chosen if lv not in LEVELS]
    if unknown or not chosen:
        raise ParameterError(
            f"The 'levels' parameter of {_CALLER}() must name one or more of "
            f"{', '.join(map(repr, LEVELS))}. Got {levels!r} instead."
        )
    confidence = float(check_fraction(confidence, name="confidence", caller=_CALLER))
    ids = _plain(therapist_truth["therapist"])
    index = pd.Index(ids)
    if index.has_duplicates:
        raise InvalidValueError(
            f"The 'therapist_truth' table of {_CALLER}() must have one row per therapist; "
            f"{index[index.duplicated()][0]!r} is repeated."
        )
    harmful = therapist_truth["harmful"].to_numpy(dtype=bool)
    pattern = therapist_truth["pattern"].astype(str).to_numpy()
    onset = therapist_truth["onset"].to_numpy(dtype=np.int64)
    onset_date = pd.to_datetime(therapist_truth["onset_date"]).to_numpy()
    event_ids = _plain(events["therapist"])
    outside = pd.Index(pd.unique(event_ids)).difference(index)
    if len(outside):
        raise InvalidValueError(
            f"The 'events' table of {_CALLER}() has {len(outside)} therapist(s) missing from "
            f"the truth (e.g. {outside[0]!r}). Suggestion: pass the therapist truth of the "
            "simulated data that was screened."
        )
    positions = (
        _finish_positions(data, therapist, patient, order) if data is not None else None
    )
    n_harmful = int(harmful.sum())
    n_ordinary = len(ids) - n_harmful
    rows: list[dict[str, Any]] = []
    delays: dict[str, list[int]] = {}
    kept = events.loc[events["level"].isin(chosen).to_numpy()]
    for name in detectors:
        mine = kept.loc[(kept["detector"].astype(str) == str(name)).to_numpy()]
        code = index.get_indexer(pd.Index(_plain(mine["therapist"])))
        when = pd.to_datetime(pd.Series(mine["session"].to_numpy())).to_numpy()
        flagged = np.zeros(len(ids), dtype=bool)
        flagged[code] = True
        detected = np.zeros(len(ids), dtype=bool)
        before = np.zeros(len(ids), dtype=bool)
        first_after = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")
        for j in np.flatnonzero(harmful & flagged):
            times = np.sort(when[code == j])
            start = onset_date[j]
            after = times[times >= start] if not np.isnat(start) else times
            detected[j] = len(after) > 0
            before[j] = bool(len(times) > len(after))
            if len(after):
                first_after[j] = after[0]
        counts: list[int] = []
        if positions is not None:
            for j in np.flatnonzero(detected):
                finish = positions.get(ids[j])
                if finish is None:
                    continue
                rank = int(np.searchsorted(finish, first_after[j], side="right"))
                counts.append(rank - int(max(onset[j], 1)) + 1)
        n_detected = int(detected.sum())
        false_flags = int((flagged & ~harmful).sum())
        sens_low, sens_high = wilson_interval(n_detected, n_harmful, confidence=confidence)
        ff_low, ff_high = wilson_interval(false_flags, n_ordinary, confidence=confidence)
        start_mask, half_mask = pattern == "start", pattern == "halfway"
        rows.append(
            {
                "detector": str(name),
                "n_therapists": len(ids),
                "n_harmful": n_harmful,
                "n_ordinary": n_ordinary,
                "detected": n_detected,
                "sensitivity": n_detected / n_harmful if n_harmful else np.nan,
                "sensitivity_low": float(sens_low),
                "sensitivity_high": float(sens_high),
                "detected_start": int((detected & start_mask).sum()),
                "n_start": int((harmful & start_mask).sum()),
                "detected_halfway": int((detected & half_mask).sum()),
                "n_halfway": int((harmful & half_mask).sum()),
                "flagged_before_onset": int(before.sum()),
                "false_flags": false_flags,
                "false_flag_rate": false_flags / n_ordinary if n_ordinary else np.nan,
                "false_flag_low": float(ff_low),
                "false_flag_high": float(ff_high),
                "median_patients_to_detection": (
                    float(np.median(counts)) if counts else np.nan
                ),
                "n_timed": len(counts),
            }
        )
        delays[str(name)] = counts
    table = pd.DataFrame(rows, columns=list(PROVIDER_EVALUATION_COLUMNS))
    table.attrs["patients_to_detection"] = delays
    return table
