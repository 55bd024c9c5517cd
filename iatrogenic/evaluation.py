"""``ia.evaluate``: score detector events against the ground truth of who was harmed, and when.

Each detector is judged at the patient level for the harm it targets: a patient is *flagged* when
the detector raised at least one event at the chosen levels, and *harmed* when the truth has a row
for that harm (or for the truth harm it is mapped to by ``targets``, see :data:`DEFAULT_TARGETS`).
Sensitivity, specificity and predictive values come with Wilson score intervals;
timing is measured from the harm's onset to the first flag, and from the first flag to the end of
treatment (when a pre/post classification such as reliable deterioration would first be made).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._validation import check_dataframe, check_fraction
from .core.summary import wilson_interval
from .detectors.base import LEVELS
from .detectors.registry import list_detectors
from .exceptions import (
    ColumnNotFoundError,
    InvalidValueError,
    ParameterError,
    ParameterTypeError,
    UnknownNameError,
)

__all__ = ["DEFAULT_TARGETS", "EVALUATION_COLUMNS", "evaluate"]

_CALLER = "evaluate"

#: Columns of the table returned by :func:`evaluate`, in order.
EVALUATION_COLUMNS: tuple[str, ...] = (
    "detector",
    "harm",
    "target",
    "n_patients",
    "n_true",
    "n_flagged",
    "tp",
    "fp",
    "fn",
    "tn",
    "sensitivity",
    "sensitivity_low",
    "sensitivity_high",
    "specificity",
    "specificity_low",
    "specificity_high",
    "ppv",
    "ppv_low",
    "ppv_high",
    "npv",
    "npv_low",
    "npv_high",
    "median_delay",
    "flagged_before_onset",
    "median_lead_to_end",
)

#: The truth harm each detector harm is scored against when ``targets`` is not given: a harm not
#: listed is scored against the truth rows of the same name. A worsening course (the growth-model
#: slope of ``worsening_trajectory``) is how the simulator's injected deterioration shows over
#: time, so it is scored against the ``deterioration`` truth.
DEFAULT_TARGETS: Mapping[str, str] = {
    "worsening_course": "deterioration",
    "off_track": "deterioration",
}

_EVENT_NEEDS = ("patient", "detector", "harm", "session", "level")
_TRUTH_NEEDS = ("patient", "harm", "onset")


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    repeated = [c for c in columns if int((frame.columns == c).sum()) > 1]
    if repeated:
        raise InvalidValueError(
            f"The {name!r} table of {_CALLER}() has repeated column names "
            f"({', '.join(map(repr, repeated))}), so which one to use is not known. Suggestion: "
            f"rename or drop the repeated columns, e.g. "
            f"{name}.loc[:, ~{name}.columns.duplicated()]."
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ColumnNotFoundError(
            f"The {name!r} table of {_CALLER}() lacks the column(s) "
            f"{', '.join(map(repr, missing))}; it has {', '.join(map(repr, frame.columns))}. "
            f"Suggestion: pass the table returned by "
            f"{'ia.screen()' if name == 'events' else 'ia.datasets.simulate()'}."
        )


def _plain(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """Patient ids as a plain object array (categories and strings compare alike)."""
    return np.asarray(pd.Series(values).astype(object).to_numpy(), dtype=object)


def _numeric(values: pd.Series, what: str) -> np.ndarray:
    first = values.dropna().iloc[0] if values.notna().any() else None
    if pd.api.types.is_datetime64_any_dtype(values) or isinstance(
        first, (pd.Timestamp, np.datetime64)
    ):
        raise InvalidValueError(
            f"The {what} column of {_CALLER}() must hold session numbers, not dates (got "
            f"{first!r}): delays and leads are counted in sessions. Suggestion: screen with "
            "time='session' (the session number column) and keep dates in date=."
        )
    number = pd.to_numeric(values, errors="coerce")
    bad = number.isna() & values.notna()
    if bad.any():
        raise InvalidValueError(
            f"The {what} column of {_CALLER}() must hold session numbers. Got "
            f"{values[bad].iloc[0]!r}. Suggestion: map occasion labels to numbers first."
        )
    return np.asarray(number, dtype=np.float64)


def _check_levels(levels: Any) -> tuple[str, ...]:
    if isinstance(levels, str):
        levels = (levels,)
    if not isinstance(levels, Iterable):
        raise ParameterTypeError(
            f"The 'levels' parameter of {_CALLER}() must be a sequence of levels, e.g. "
            f"('alarm',) or ('warning', 'alarm'). Got {levels!r} instead."
        )
    chosen = tuple(levels)
    unknown = [lv for lv in chosen if lv not in LEVELS]
    if unknown or not chosen:
        raise ParameterError(
            f"The 'levels' parameter of {_CALLER}() must name one or more of "
            f"{', '.join(map(repr, LEVELS))}. Got {levels!r} instead."
        )
    return chosen


def _population(
    data: pd.DataFrame | None, patients: Iterable[Any] | None, patient: str
) -> pd.Index:
    """The evaluated patients, in order of appearance."""
    if data is not None and patients is not None:
        raise ParameterError(
            f"Give {_CALLER}() either 'data' or 'patients', not both: the patients evaluated are "
            "those of data, or the list in patients."
        )
    if data is not None:
        check_dataframe(data, caller=_CALLER)
        if patient not in data.columns:
            raise ColumnNotFoundError(
                f"The 'data' table of {_CALLER}() has no patient column {patient!r}. Suggestion: "
                "name it with patient=."
            )
        ids = _plain(data[patient])
        return pd.Index(pd.unique(ids))
    if patients is None:
        raise ParameterError(
            f"{_CALLER}() needs the patients who were screened, to count those not flagged: pass "
            "data= (the screened data) or patients= (a list of ids)."
        )
    if isinstance(patients, (str, bytes)) or not isinstance(patients, Iterable):
        raise ParameterTypeError(
            f"The 'patients' parameter of {_CALLER}() must be a list of patient ids. "
            f"Got {patients!r} instead."
        )
    index = pd.Index(pd.unique(_plain(pd.Series(list(patients), dtype=object))))
    if len(index) == 0:
        raise ParameterError(f"The 'patients' parameter of {_CALLER}() is empty.")
    return index


def _last_sessions(data: pd.DataFrame, patient: str, time: str) -> pd.Series:
    if time not in data.columns:
        raise ColumnNotFoundError(
            f"The 'data' table of {_CALLER}() has no session column {time!r}. Suggestion: name "
            "it with time=."
        )
    sessions = _numeric(data[time], f"data[{time!r}]")
    frame = pd.DataFrame({"patient": _plain(data[patient]), "session": sessions})
    return frame.groupby("patient", sort=False)["session"].max()


def _unknown(ids: np.ndarray, population: pd.Index, table: str) -> None:
    outside = pd.Index(pd.unique(ids)).difference(population)
    if len(outside):
        shown = ", ".join(map(repr, list(outside[:3])))
        raise InvalidValueError(
            f"The {table!r} table of {_CALLER}() has {len(outside)} patient(s) that are not among "
            f"the evaluated patients (e.g. {shown}). Suggestion: check that the ids have the same "
            "type (e.g. 'P00001', not 1) and that data= is the data that was screened."
        )


def _harm_of_detectors(events: pd.DataFrame) -> list[tuple[str, str]]:
    """(detector, harm) pairs: those with events, then those that ran without any (screen attrs)."""
    pairs = list(
        dict.fromkeys(zip(events["detector"].astype(str), events["harm"].astype(str), strict=True))
    )
    ran = events.attrs.get("detectors", []) if hasattr(events, "attrs") else []
    seen = {detector for detector, _ in pairs}
    silent = [name for name in ran if isinstance(name, str) and name not in seen]
    if silent:
        registry = list_detectors().set_index("name")["harm"]
        pairs += [(name, str(registry[name])) for name in silent if name in registry.index]
    return pairs


def _check_event_levels(events: pd.DataFrame) -> None:
    """Every event has a known level: an event of another level would be dropped silently."""
    values = events["level"]
    bad = np.flatnonzero((values.notna() & ~values.isin(LEVELS)).to_numpy())
    if len(bad):
        shown = "; ".join(
            f"index {events.index[i]!r} (patient={events['patient'].iloc[i]!r}, "
            f"level={values.iloc[i]!r})"
            for i in bad[:5]
        ) + ("; ..." if len(bad) > 5 else "")
        raise InvalidValueError(
            f"The events['level'] column of {_CALLER}() must hold "
            f"{', '.join(map(repr, LEVELS))}; {len(bad)} row{'s' if len(bad) > 1 else ''}, "
            f"first: {shown}. Suggestion: pass the table returned by ia.screen() unchanged."
        )


def _check_target_keys(mapping: Mapping[str, str], events: pd.DataFrame) -> None:
    """A ``targets`` key names a detector or a harm (registered or in the events)."""
    registry = list_detectors()
    known = set(map(str, registry["name"])) | set(map(str, registry["harm"]))
    known |= set(events["detector"].astype(str)) | set(events["harm"].astype(str))
    unknown = sorted(key for key in mapping if key not in known)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(
            f"The 'targets' parameter of {_CALLER}() maps {', '.join(map(repr, unknown))}, which "
            f"is neither a detector nor a harm.{hint} Suggestion: use detector names or harms "
            f"as keys, e.g. {{'off_track': 'deterioration'}} (see ia.list_detectors())."
        )


def _check_targets(targets: Any) -> dict[str, str]:
    if targets is None:
        return dict(DEFAULT_TARGETS)
    if not isinstance(targets, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in targets.items()
    ):
        raise ParameterTypeError(
            f"The 'targets' parameter of {_CALLER}() must map detector names or harms (str) to "
            f"truth harms (str), e.g. {{'worsening_course': 'deterioration'}}. Got {targets!r} "
            "instead."
        )
    return dict(targets)


def evaluate(
    events: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    data: pd.DataFrame | None = None,
    patients: Iterable[Any] | None = None,
    levels: str | Sequence[str] = ("alarm",),
    targets: Mapping[str, str] | None = None,
    patient: str = "patient",
    time: str = "session",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Sensitivity, specificity, predictive values and timing of each detector against the truth.

    For every detector in ``events`` and the harm it targets (the events' ``harm`` column), the
    patients are split four ways: flagged (at least one event of the detector at one of
    ``levels``) or not, and harmed (a ``truth`` row for the target harm) or not. The target harm
    is the detector's harm unless ``targets`` maps the detector or its harm to another truth harm
    (by default ``worsening_course`` and ``off_track`` are scored against ``deterioration``,
    the harm that makes a course worsen and leave its expected band). Every patient of
    ``data`` (or ``patients``) that is not harmed is a negative, including patients with other
    harms.

    Parameters
    ----------
    events : DataFrame
        The events of :func:`iatrogenic.screen` (columns ``patient, detector, harm, session,
        level``; others are ignored). Detectors that ran without raising an event (listed in
        ``events.attrs["detectors"]`` by the screen) get a row too.
    truth : DataFrame
        The ground truth: one row per patient and harm with the ``onset`` session (columns
        ``patient, harm, onset``), as :func:`iatrogenic.datasets.simulate` returns.
    data : DataFrame, optional
        The data that was screened: its patients are the evaluated population, and each one's
        last session (largest ``time``) is the end of treatment for ``median_lead_to_end``.
    patients : list, optional
        The evaluated patients' ids, instead of ``data`` (then ``median_lead_to_end`` is NaN).
    levels : str or sequence of str, default ("alarm",)
        Event levels that count as a flag: ``("alarm",)`` or ``("warning", "alarm")``.
    targets : dict, optional
        ``{detector name or harm: truth harm}``: score a detector against truth rows of another
        harm. A detector name takes precedence over its harm; an unlisted detector is scored
        against its own harm. Default :data:`DEFAULT_TARGETS`,
        ``{"worsening_course": "deterioration", "off_track": "deterioration"}``; pass ``{}`` to
        score every detector against its own harm only. A given mapping replaces the default
        (include the default's entries to keep them).
    patient, time : str, default "patient" and "session"
        Patient and session columns of ``data``.
    confidence : float, default 0.95
        Confidence level of the Wilson score intervals.

    Returns
    -------
    DataFrame
        One row per detector and harm, in the order the detectors first appear in ``events``:

        - ``detector`` (str), ``harm`` (str): the detector and the harm it targets.
        - ``target`` (str): the truth harm it was scored against (``harm`` unless ``targets``
          maps it to another).
        - ``n_patients`` (int64): patients evaluated.
        - ``n_true`` (int64): patients with a truth row for the target harm.
        - ``n_flagged`` (int64): patients flagged by the detector.
        - ``tp``, ``fp``, ``fn``, ``tn`` (int64): flagged and harmed, flagged and not harmed,
          harmed and not flagged, neither.
        - ``sensitivity`` (float64): ``tp / n_true``; NaN when no patient has the harm.
        - ``specificity`` (float64): ``tn / (tn + fp)``.
        - ``ppv`` (float64): positive predictive value ``tp / n_flagged``; NaN when none flagged.
        - ``npv`` (float64): negative predictive value ``tn / (tn + fn)``.
        - ``<measure>_low``, ``<measure>_high`` (float64): Wilson score interval of each of the
          four at ``confidence``.
        - ``median_delay`` (float64): over the true positives, the median of first flag session
          minus onset session. 0: flagged at the onset; positive: sessions of delay; negative:
          the first flag came before the onset (an early warning, or a flag for something else).
        - ``flagged_before_onset`` (int64): true positives whose first flag came before the onset.
        - ``median_lead_to_end`` (float64): over the true positives, the median of the last
          session minus the first flag session: how many sessions before the end of treatment
          (when a pre/post classification such as reliable deterioration is first possible) the
          detector raised the flag. NaN without ``data``.

    Raises
    ------
    ColumnNotFoundError
        When ``events``, ``truth`` or ``data`` lacks a needed column.
    InvalidValueError
        When sessions or onsets are not numbers, or ``events`` or ``truth`` name patients that are
        not evaluated.
    ParameterError, ParameterTypeError
        For bad parameters, or when neither ``data`` nor ``patients`` is given.

    See Also
    --------
    iatrogenic.screen : raises the events.
    iatrogenic.datasets.simulate : simulated data with the ground truth.

    Examples
    --------
    >>> import pandas as pd
    >>> from iatrogenic.evaluation import evaluate
    >>> events = pd.DataFrame({
    ...     "patient": ["a", "b", "c"], "detector": "reliable_deterioration",
    ...     "harm": "deterioration", "session": [4, 6, 3], "level": "alarm"})
    >>> truth = pd.DataFrame({"patient": ["a", "b", "d"], "harm": "deterioration",
    ...                       "onset": [3, 3, 2]})
    >>> result = evaluate(events, truth, patients=["a", "b", "c", "d", "e"])
    >>> result.loc[0, ["n_true", "n_flagged", "tp", "fp", "fn", "tn"]].tolist()
    [3, 3, 2, 1, 1, 1]
    >>> float(result.loc[0, "sensitivity"]), float(result.loc[0, "median_delay"])
    (0.6666666666666666, 2.0)

    A worsening course is scored against the deterioration truth by default:

    >>> slope = events.assign(detector="worsening_trajectory", harm="worsening_course")
    >>> scored = evaluate(slope, truth, patients=list("abcde"))
    >>> scored.loc[0, ["harm", "target"]].tolist(), int(scored.loc[0, "tp"])
    (['worsening_course', 'deterioration'], 2)
    >>> int(evaluate(slope, truth, patients=list("abcde"), targets={}).loc[0, "n_true"])
    0
    """
    if not isinstance(events, pd.DataFrame):
        raise ParameterTypeError(
            f"The 'events' parameter of {_CALLER}() must be the DataFrame returned by "
            f"ia.screen(). Got {type(events).__name__} instead."
        )
    if not isinstance(truth, pd.DataFrame):
        raise ParameterTypeError(
            f"The 'truth' parameter of {_CALLER}() must be a DataFrame (patient, harm, onset). "
            f"Got {type(truth).__name__} instead."
        )
    _require(events, _EVENT_NEEDS, "events")
    _require(truth, _TRUTH_NEEDS, "truth")
    chosen = _check_levels(levels)
    mapping = _check_targets(targets)
    _check_event_levels(events)
    _check_target_keys(mapping, events)
    confidence = check_fraction(confidence, name="confidence", caller=_CALLER)
    population = _population(data, patients, patient)
    last = _last_sessions(data, patient, time) if data is not None else None

    event_patients = _plain(events["patient"])
    truth_patients = _plain(truth["patient"])
    _unknown(event_patients, population, "events")
    _unknown(truth_patients, population, "truth")

    flags = pd.DataFrame(
        {
            "detector": events["detector"].astype(str).to_numpy(),
            "harm": events["harm"].astype(str).to_numpy(),
            "patient": event_patients,
            "session": _numeric(events["session"], "events['session']"),
        }
    )[events["level"].isin(chosen).to_numpy()]
    first_flag: dict[tuple[str, str], pd.Series] = {
        (str(detector), str(harm)): group.groupby("patient", sort=False)["session"].min()
        for (detector, harm), group in flags.groupby(["detector", "harm"], sort=False)
    }
    onset_table = pd.DataFrame(
        {
            "harm": truth["harm"].astype(str).to_numpy(),
            "patient": truth_patients,
            "onset": _numeric(truth["onset"], "truth['onset']"),
        }
    )
    onsets: dict[str, pd.Series] = {
        str(harm): group.groupby("patient", sort=False)["onset"].min()
        for harm, group in onset_table.groupby("harm", sort=False)
    }
    no_patients = pd.Series(dtype=np.float64, index=pd.Index([], dtype=object))

    n = len(population)
    records: list[dict[str, Any]] = []
    for detector, harm in _harm_of_detectors(events):
        target = mapping.get(detector, mapping.get(harm, harm))
        harmed = onsets.get(target, no_patients)
        flagged = first_flag.get((detector, harm), no_patients)
        hit = flagged.index.intersection(harmed.index)
        tp = len(hit)
        n_true, n_flagged = len(harmed), len(flagged)
        fp, fn = n_flagged - tp, n_true - tp
        tn = n - tp - fp - fn
        if tp:
            delay = flagged.loc[hit].to_numpy() - harmed.loc[hit].to_numpy()
            median_delay = float(np.nanmedian(delay)) if np.isfinite(delay).any() else np.nan
            before = int(np.sum(delay < 0))
            if last is not None:
                lead = last.loc[hit].to_numpy() - flagged.loc[hit].to_numpy()
                lead_to_end = float(np.nanmedian(lead)) if np.isfinite(lead).any() else np.nan
            else:
                lead_to_end = np.nan
        else:
            median_delay, before, lead_to_end = np.nan, 0, np.nan
        records.append(
            {
                "detector": detector,
                "harm": harm,
                "target": target,
                "n_patients": n,
                "n_true": n_true,
                "n_flagged": n_flagged,
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "tn": tn,
                "median_delay": median_delay,
                "flagged_before_onset": before,
                "median_lead_to_end": lead_to_end,
            }
        )

    rates = ("sensitivity", "specificity", "ppv", "npv")
    table = pd.DataFrame.from_records(
        records, columns=[c for c in EVALUATION_COLUMNS if not c.startswith(rates)]
    )
    counts = ["n_patients", "n_true", "n_flagged", "tp", "fp", "fn", "tn", "flagged_before_onset"]
    table[counts] = table[counts].astype(np.int64)
    for column in ("median_delay", "median_lead_to_end"):
        table[column] = table[column].astype(np.float64)
    table["detector"] = table["detector"].astype(str)
    table["harm"] = table["harm"].astype(str)
    table["target"] = table["target"].astype(str)
    n_tp, n_fp = table["tp"].to_numpy(), table["fp"].to_numpy()
    n_fn, n_tn = table["fn"].to_numpy(), table["tn"].to_numpy()
    for name, count, total in (
        ("sensitivity", n_tp, n_tp + n_fn),
        ("specificity", n_tn, n_tn + n_fp),
        ("ppv", n_tp, n_tp + n_fp),
        ("npv", n_tn, n_tn + n_fn),
    ):
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(total > 0, count / np.maximum(total, 1), np.nan)
        low, high = wilson_interval(count, total, confidence=confidence)
        table[name] = share.astype(np.float64)
        table[f"{name}_low"] = np.asarray(low, dtype=np.float64)
        table[f"{name}_high"] = np.asarray(high, dtype=np.float64)
    return table.loc[:, list(EVALUATION_COLUMNS)].reset_index(drop=True)
