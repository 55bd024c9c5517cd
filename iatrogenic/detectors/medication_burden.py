"""Medication harm: polypharmacy, duplicate classes, long benzodiazepines, abrupt stops, minors."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_dataframe, check_number, describe_rows
from ..exceptions import (
    ColumnNotFoundError,
    ColumnTypeError,
    DataQualityWarning,
    InvalidValueError,
    ParameterError,
    ParameterTypeError,
)
from ..instruments.atc import CLASS_LABELS, atc_for_drug, classify_many, is_valid_atc
from ._sequences import patient_ids
from .base import Detector, ScreenInput, empty_events, make_events
from .registry import register_detector

__all__ = ["RULES", "MedicationBurden", "prepare_medications"]

_CALLER = "medication_burden"
_NS_PER_DAY = 86_400_000_000_000

#: The rules of the detector, in the order their events are listed at one session.
RULES: tuple[str, ...] = (
    "polypharmacy",
    "same_class",
    "long_benzodiazepine",
    "abrupt_stop",
    "minor",
)

#: Classes pooled for the duplicate-class and stop rules: a benzodiazepine and a Z-drug act on the
#: same GABA-A receptor site and NICE NG215 and the BNF manage them as one group.
_POOLED: dict[str, str] = {
    "benzodiazepine": "benzodiazepine or Z-drug",
    "z_drug": "benzodiazepine or Z-drug",
}
_SEDATIVES = ("benzodiazepine", "z_drug")


def _group_of(drug_class: str) -> str:
    return _POOLED.get(drug_class, drug_class)


def _per_value(values: np.ndarray, func: Callable[[Any], Any]) -> np.ndarray:
    """``[func(v) for v in values]`` as an object array, calling ``func`` once per distinct value.

    A medication table repeats a few hundred drug names and codes over a million rows. Missing
    entries, and any non-text value (pandas would merge 1, 1.0 and True), get ``func`` one by one.
    """
    values = np.asarray(values, dtype=object)
    codes, distinct = pd.factorize(values)
    if pd.api.types.infer_dtype(distinct, skipna=True) not in {"string", "empty"}:
        return np.array([func(value) for value in values], dtype=object)
    mapped = np.empty(len(distinct) + 1, dtype=object)
    mapped[:-1] = [func(value) for value in distinct]
    out = mapped[codes]  # code -1 (missing) takes the spare last slot, filled below
    missing = np.flatnonzero(codes < 0)
    out[missing] = [func(value) for value in values[missing]]
    return out


# --------------------------------------------------------------------------------------------------
# The medication table
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Medications:
    """A validated medication table as aligned arrays (one element per prescription row).

    Dates are in days since 1970-01-01 (float); an open-ended prescription has ``stop = inf``.
    ``stop`` is the last day the drug was taken (inclusive).
    """

    frame: pd.DataFrame
    patient: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    drug: np.ndarray
    atc: np.ndarray
    drug_class: np.ndarray
    dose: np.ndarray
    age: np.ndarray | None


def _days(
    values: pd.Series,
    column: str,
    table: pd.DataFrame,
    caller: str,
    where: str = "of the medications table",
) -> np.ndarray:
    """Parse a date column to float days; NaN where missing. Unparseable values are an error."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        raise ColumnTypeError(
            f"Column {column!r} {where} passed to {caller}() must hold dates; "
            f"it holds numbers ({values.dtype}). The medication rules are defined in days (NICE: "
            "benzodiazepines 2-4 weeks), so session numbers cannot be used. Suggestion: convert "
            f"to dates, e.g. pd.to_datetime(medications[{column!r}])."
        )
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    parsed = pd.to_datetime(values, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy() & values.notna().to_numpy())
    if len(bad):
        raise InvalidValueError(
            f"Column {column!r} {where} passed to {caller}() has values that are not dates;"
            f" {describe_rows(table, bad, ['patient', column])}. Suggestion: fix them, "
            f"or parse the column first with pd.to_datetime(medications[{column!r}], format=...)."
        )
    # the int64 view, not a copy: only the float array is new
    ns = parsed.to_numpy(dtype="datetime64[ns]").view(np.int64).astype(np.float64)
    ns[parsed.isna().to_numpy()] = np.nan
    return ns / _NS_PER_DAY


def _numbers(table: pd.DataFrame, column: str, caller: str) -> np.ndarray:
    values = table[column]
    converted = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(converted.isna().to_numpy() & values.notna().to_numpy())
    if len(bad) or pd.api.types.is_bool_dtype(values):
        raise ColumnTypeError(
            f"Column {column!r} of the medications table passed to {caller}() must hold numbers; "
            f"{describe_rows(table, bad if len(bad) else np.arange(1), ['patient', column])}. "
            f"Suggestion: pd.to_numeric(medications[{column!r}], errors='coerce')."
        )
    out = converted.to_numpy(dtype=np.float64, na_value=np.nan)
    negative = np.flatnonzero(out < 0)
    if len(negative):
        raise InvalidValueError(
            f"Column {column!r} of the medications table passed to {caller}() has negative "
            f"values; {describe_rows(table, negative, ['patient', column])}."
        )
    return out


def _stripped(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _stripped_upper(value: Any) -> str | None:
    return value.strip().upper() if isinstance(value, str) and value.strip() else None


def prepare_medications(medications: Any, *, caller: str = _CALLER) -> Medications:
    """Validate a medication table and classify its drugs.

    Parameters
    ----------
    medications : DataFrame
        One row per prescription: ``patient``, ``start``, ``stop`` (dates; ``stop`` is the last
        day taken, missing when still ongoing), ``drug`` (name) and/or ``atc`` (code), and
        optional ``dose`` (numeric, same unit for every row of one drug) and ``age`` (years, at
        ``start``). A row's class comes from ``atc`` when given, else from the drug name via
        :data:`iatrogenic.instruments.atc.DRUG_ATC`.
    caller : str
        Name used in error messages.

    Returns
    -------
    Medications

    Raises
    ------
    ParameterTypeError, EmptyDataError
        Not a DataFrame, or no rows.
    ColumnNotFoundError
        A required column is missing.
    ColumnTypeError, InvalidValueError
        Dates that cannot be parsed, a stop before its start, a missing start or patient, a
        malformed ATC code, a row with neither drug nor ATC code, non-numeric doses or ages.

    Examples
    --------
    >>> import pandas as pd
    >>> meds = pd.DataFrame({"patient": [1], "start": ["2024-01-01"], "stop": ["2023-12-01"],
    ...                      "drug": ["sertraline"]})
    >>> prepare_medications(meds)
    Traceback (most recent call last):
    ...
    iatrogenic.exceptions.InvalidValueError: Column 'stop' of the medications table ...
    """
    table = check_dataframe(medications, caller=caller, name="medications")
    required = ["patient", "start", "stop"]
    missing = [c for c in required if c not in table.columns]
    if "drug" not in table.columns and "atc" not in table.columns:
        missing.append("drug (or atc)")
    if missing:
        hint = (
            " The table has a 'session' column: the medication rules need dates (start, stop)."
            if "session" in table.columns
            else ""
        )
        raise ColumnNotFoundError(
            f"The medications table passed to {caller}() lacks column(s) "
            f"{', '.join(map(repr, missing))}. Required: 'patient', 'start', 'stop', and 'drug' "
            f"or 'atc' (optional: 'dose', 'age'). Available columns: "
            f"{', '.join(repr(str(c)) for c in table.columns)}.{hint} Suggestion: rename your "
            "columns, e.g. medications.rename(columns={'start_date': 'start'})."
        )
    table = table.reset_index(drop=True)
    no_patient = np.flatnonzero(table["patient"].isna().to_numpy())
    if len(no_patient):
        raise InvalidValueError(
            f"Column 'patient' of the medications table passed to {caller}() has missing values; "
            f"{describe_rows(table, no_patient, ['patient', 'start'])}."
        )
    start = _days(table["start"], "start", table, caller)
    stop = _days(table["stop"], "stop", table, caller)
    no_start = np.flatnonzero(np.isnan(start))
    if len(no_start):
        raise InvalidValueError(
            f"Column 'start' of the medications table passed to {caller}() has missing dates; "
            f"{describe_rows(table, no_start, ['patient', 'start'])}. Every prescription needs a "
            "start date (a missing stop means the drug is still taken)."
        )
    backwards = np.flatnonzero(stop < start)
    if len(backwards):
        raise InvalidValueError(
            f"Column 'stop' of the medications table passed to {caller}() has dates before "
            f"'start'; {describe_rows(table, backwards, ['patient', 'start', 'stop'])}. "
            "Suggestion: correct or swap the dates."
        )
    stop = np.where(np.isnan(stop), np.inf, stop)

    n = len(table)
    drug = (
        table["drug"].to_numpy(dtype=object)
        if "drug" in table.columns
        else np.full(n, None, dtype=object)
    )
    drug = _per_value(drug, _stripped)
    if "atc" in table.columns:
        given = table["atc"].to_numpy(dtype=object)
        raw = given
        given = _per_value(raw, _stripped_upper)
        malformed = np.flatnonzero(
            np.where(
                pd.isna(given), pd.notna(raw), ~_per_value(given, is_valid_atc).astype(bool)
            )
        )
        if len(malformed):
            raise InvalidValueError(
                f"Column 'atc' of the medications table passed to {caller}() has values that are "
                f"not ATC codes; {describe_rows(table, malformed, ['patient', 'atc'])}. An ATC "
                "code looks like 'N06AB06' (or a prefix such as 'N06A'); leave it missing to look "
                "the drug name up."
            )
    else:
        given = np.full(n, None, dtype=object)
    looked_up = _per_value(drug, atc_for_drug)
    atc = np.where(pd.isna(given), looked_up, given)
    nameless = np.flatnonzero(pd.isna(drug) & pd.isna(given))
    if len(nameless):
        raise InvalidValueError(
            f"The medications table passed to {caller}() has rows with neither a 'drug' name nor "
            f"an 'atc' code; {describe_rows(table, nameless, ['patient', 'start'])}."
        )
    drug = np.where(pd.isna(drug), atc, drug)
    dose = _numbers(table, "dose", caller) if "dose" in table.columns else np.full(n, np.nan)
    age = _numbers(table, "age", caller) if "age" in table.columns else None
    return Medications(
        frame=table,
        patient=table["patient"].to_numpy(dtype=object),
        start=start,
        stop=stop,
        drug=drug,
        atc=atc,
        drug_class=_per_value(atc, lambda code: classify_many([code])[0]),
        dose=dose,
        age=age,
    )


# --------------------------------------------------------------------------------------------------
# Interval arithmetic, vectorised over all patients
# --------------------------------------------------------------------------------------------------


def _keys(*arrays: np.ndarray) -> np.ndarray:
    """One integer key per distinct combination of the arrays' values."""
    if len(arrays[0]) == 0:
        return np.zeros(0, dtype=np.int64)
    # The rank of each combination in lexicographic order of the values, as np.unique(axis=0)
    # of the stacked codes would give, from one int64 combination per row.
    combined = np.zeros(len(arrays[0]), dtype=np.int64)
    for values in arrays:
        codes, distinct = pd.factorize(np.asarray(values), sort=True)
        combined = combined * (len(distinct) + 1) + (codes + 1)  # a missing value (-1) first
    return np.unique(combined, return_inverse=True)[1].ravel().astype(np.int64)


@dataclass(frozen=True)
class _Courses:
    """Runs of rows of one key whose intervals overlap or follow within ``gap`` days."""

    of_row: np.ndarray  # course index of each input row
    key: np.ndarray
    start: np.ndarray
    end: np.ndarray  # inf when open


def _courses(key: np.ndarray, start: np.ndarray, stop: np.ndarray, gap: float) -> _Courses:
    """Merge rows into courses: a row joins the previous course when it starts at most ``gap``
    days after that course's last day."""
    n = len(key)
    if n == 0:
        empty = np.zeros(0)
        return _Courses(np.zeros(0, np.int64), np.zeros(0, np.int64), empty, empty)
    order = np.lexsort((start, key))
    k, s, e = key[order], start[order], stop[order]
    finite_max = np.nanmax(np.r_[s, e[np.isfinite(e)]])
    big = finite_max + 10.0 * (gap + 1) + 1e6
    e = np.where(np.isinf(e), big, e)
    new_key = np.r_[True, k[1:] != k[:-1]]
    rank = np.cumsum(new_key) - 1
    # A running maximum of stop within each key: offsetting each key by more than the span of
    # dates makes one global accumulate respect the key boundaries.
    width = big - float(np.min(s)) + 1.0
    reach = np.maximum.accumulate(e + rank * width) - rank * width
    previous = np.r_[-np.inf, reach[:-1]]
    begins = new_key | (s > previous + gap)
    course = np.cumsum(begins) - 1
    first = np.flatnonzero(begins)
    end = np.maximum.reduceat(e, first)
    end = np.where(end >= big, np.inf, end)
    of_row = np.empty(n, dtype=np.int64)
    of_row[order] = course
    return _Courses(of_row, k[first], s[first], end)


def _onsets(
    key: np.ndarray, start: np.ndarray, end: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days on which the number of courses of a key active that day reaches ``n``.

    A course is active from ``start`` to ``end`` inclusive. Returns key, day and count for each
    entry into the state "at least n active"; the count on a day uses only courses started on or
    before it and ends on or before the day before (causal).
    """
    closed = np.isfinite(end)
    ev_key = np.r_[key, key[closed]]
    ev_day = np.r_[start, end[closed] + 1.0]
    delta = np.r_[np.ones(len(key)), -np.ones(int(closed.sum()))]
    if len(ev_key) == 0:
        return ev_key, ev_day, delta
    order = np.lexsort((ev_day, ev_key))
    k, d, dl = ev_key[order], ev_day[order], delta[order]
    total = np.cumsum(dl)
    new_key = np.r_[True, k[1:] != k[:-1]]
    before = (total - dl)[new_key][np.cumsum(new_key) - 1]
    count = total - before
    # The count of a day is the count after all of that day's starts and ends.
    last = np.r_[(k[1:] != k[:-1]) | (d[1:] != d[:-1]), True]
    k, d, count = k[last], d[last], count[last]
    state = count >= n
    same = np.r_[False, k[1:] == k[:-1]]
    onset = state & ~(np.r_[False, state[:-1]] & same)
    return k[onset], d[onset], count[onset]


def _dates(days: np.ndarray) -> np.ndarray:
    """Float days -> 'YYYY-MM-DD' strings ('ongoing' for inf)."""
    # each distinct day formatted once: strftime is slow and the days repeat
    codes, distinct = pd.factorize(np.asarray(days, dtype=np.float64), use_na_sentinel=False)
    return _distinct_dates(np.asarray(distinct, dtype=np.float64))[codes]


def _distinct_dates(days: np.ndarray) -> np.ndarray:
    out = np.full(len(days), "ongoing", dtype=object)
    finite = np.isfinite(days)
    if finite.any():
        stamps = pd.to_datetime(np.floor(days[finite] * _NS_PER_DAY).astype(np.int64), unit="ns")
        out[finite] = stamps.strftime("%Y-%m-%d").to_numpy(dtype=object)
    return out


def _check_names(value: Any, allowed: Sequence[str], *, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not value:
        raise ParameterTypeError(
            f"The {name!r} parameter of MedicationBurden() must be a non-empty list of names from "
            f"{', '.join(map(repr, allowed))}. Got {value!r} instead."
        )
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise ParameterError(
            f"The {name!r} parameter of MedicationBurden() must hold names from "
            f"{', '.join(map(repr, allowed))}. Got {unknown!r}."
        )
    return tuple(dict.fromkeys(value))


# --------------------------------------------------------------------------------------------------
# The detector
# --------------------------------------------------------------------------------------------------


@register_detector
class MedicationBurden(Detector):
    """Flag harmful prescribing patterns in a medication table, at the session they become visible.

    Rules (``rules=`` selects them):

    ``polypharmacy`` (**alarm**)
        ``n_concurrent`` (3) or more distinct psychotropic drugs taken on the same day. Three or
        more concurrent psychotropics is the polypharmacy level tracked by Mojtabai & Olfson
        (2010).
    ``same_class`` (**warning**)
        Two or more distinct drugs of the same class on the same day (two antidepressants, two
        antipsychotics, a benzodiazepine with another benzodiazepine or a Z-drug). NICE CG178
        (1.3.6.x) advises against regular combined antipsychotics except for short periods such as
        a switch; a cross-taper therefore raises this warning too, by design.
    ``long_benzodiazepine`` (**warning**)
        Continuous benzodiazepine or Z-drug use beyond ``max_days`` (28): benzodiazepines are
        indicated for the short-term relief (2-4 weeks only) of severe anxiety or insomnia (CSM
        1988, BNF "Hypnotics and anxiolytics"; NICE CG113 allows them in GAD only as a short-term
        measure during crises; NICE TA77: Z-drugs for short-term insomnia). Raised on day
        ``start + max_days`` of an unbroken course (switches between benzodiazepines and Z-drugs
        do not reset it); ``value`` is the days of use so far.
    ``abrupt_stop`` (**alarm**; **warning** when doses are not recorded)
        An antidepressant or benzodiazepine/Z-drug course (classes ``stop_classes``, pooled so
        that a switch within the class is not a stop) of at least ``min_course_days`` that ends
        without a taper. NICE NG215 (2022): these medicines "should not be stopped abruptly"; NICE
        NG222 (2022): reduce antidepressants in steps. A **taper** is a dose reduction recorded as
        a separate row: a row whose dose is lower than the previous row of the same drug, starting
        within ``taper_days`` before the stop. Without doses (no ``dose`` column, or a row without
        one) a taper cannot be seen and the stop is a warning. A course restarted within
        ``restart_days`` of its stop (a late repeat prescription) has not stopped; so the stop is
        raised on day ``stop + restart_days``, the first day it is certain.
    ``minor`` (**warning**)
        A psychotropic course in a patient younger than ``adult_age`` (18), with the age from the
        medication table's ``age`` column (age at the start) or else from the screen's ``age=``
        column (at the session the course is reported). Under-18s are "children and young people"
        in NICE NG134 (2019), which restricts antidepressants to fluoxetine first-line alongside
        psychological therapy; the MHRA (2003) and FDA (2004) warned of suicidality with
        antidepressants in this group. Without an age the rule does not apply.

    Dates and sessions. Every rule gives an event date; the event is reported at the patient's
    first session on or after that date (from the screen's ``date=`` column), so an event at a
    session uses only prescriptions started, changed or stopped up to that session's date: the
    detector is causal. A course already running at intake is reported at the first session.
    Events dated after a patient's last session are not reported (they will be once a later
    session exists, as in a live monitor). Medication tables with session numbers instead of dates
    are not supported: the rules are defined in days. Rows of the same drug that overlap or follow
    on the next day are one course; ``stop`` is the last day taken (inclusive, as OMOP's
    ``drug_exposure_end_date``); a missing stop means the drug is still taken.

    Drugs are classified by ATC code (:mod:`iatrogenic.instruments.atc`): the ``atc`` column, else
    the drug name through the built-in lookup. Rows that are not in a psychotropic class (other
    medicines) are ignored; rows with an unknown drug name and no ATC code are ignored with a
    :class:`~iatrogenic.exceptions.DataQualityWarning`, as are patients of the medication table
    who are not in the data.

    Parameters
    ----------
    rules : list of str, default all
        Rules to apply, from :data:`RULES`.
    n_concurrent : int, default 3
        Concurrent psychotropics for the polypharmacy alarm (Mojtabai & Olfson 2010).
    max_days : int, default 28
        Longest benzodiazepine / Z-drug course without a warning (2-4 weeks: CSM 1988, BNF).
    min_course_days : int, default 28
        Shortest course whose untapered stop is flagged. A project choice: withdrawal symptoms are
        described after use for 4 weeks or more, while the NHS advises a 1-2 week taper even for
        antidepressant courses under 8 weeks; 28 days keeps short trial courses out.
    taper_days : int, default 56
        A dose reduction counts as a taper when it starts at most this many days before the stop.
        A project choice: the NHS advises tapering over 6-8 weeks after 6-8 months of treatment.
    restart_days : int, default 7
        A drug restarted within this many days of its stop has not stopped. A project choice
        (NHS: withdrawal symptoms usually begin within 5 days of stopping).
    adult_age : float, default 18
        Age below which the ``minor`` rule applies (NICE NG134: children and young people).
    psychotropic : list of str, default all classes
        Classes (:data:`iatrogenic.instruments.atc.CLASS_LABELS`) counted as psychotropic by the
        polypharmacy, same-class and minor rules.
    stop_classes : list of str, default ("antidepressant", "benzodiazepine", "z_drug")
        Classes whose untapered stop is flagged.

    Notes
    -----
    ``value`` and ``threshold``: number of concurrent drugs and ``n_concurrent`` (polypharmacy) or
    2 (same class); days of use and ``max_days`` (long benzodiazepine); course length in days and
    ``min_course_days`` (abrupt stop); age and ``adult_age`` (minor).

    References
    ----------
    Mojtabai R, Olfson M (2010). National trends in psychotropic medication polypharmacy in
    office-based psychiatry. Arch Gen Psychiatry 67(1):26-36.
    Committee on Safety of Medicines (1988). Benzodiazepines, dependence and withdrawal symptoms.
    Current Problems 21; British National Formulary, "Hypnotics and anxiolytics".
    NICE CG113 (2011, updated 2019). Generalised anxiety disorder and panic disorder in adults.
    NICE TA77 (2004). Zaleplon, zolpidem and zopiclone for the short-term management of insomnia.
    NICE NG215 (2022). Medicines associated with dependence or withdrawal symptoms: safe
    prescribing and withdrawal management for adults.
    NICE NG222 (2022). Depression in adults: treatment and management (1.9, stopping
    antidepressants).
    NICE CG178 (2014). Psychosis and schizophrenia in adults: prevention and management.
    NICE NG134 (2019). Depression in children and young people: identification and management.

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> from iatrogenic.detectors.medication_burden import MedicationBurden
    >>> data = pd.DataFrame({"patient": 1, "session": [1, 2, 3],
    ...                      "date": pd.to_datetime(["2024-01-01", "2024-01-15", "2024-02-12"]),
    ...                      "score": [15, 14, 13]})
    >>> meds = pd.DataFrame({"patient": 1, "drug": ["sertraline", "quetiapine", "lorazepam"],
    ...                      "start": ["2023-12-01", "2024-01-10", "2024-01-12"],
    ...                      "stop": [None, None, "2024-03-01"]})
    >>> events = ia.screen(data, instrument="phq9", date="date", medications=meds,
    ...                    detectors=[MedicationBurden()])
    >>> events[["session", "level", "value", "threshold"]]
      session    level  value  threshold
    0       2    alarm    3.0        3.0
    1       3  warning   32.0       28.0
    >>> print(events["evidence"][1])
    continuous benzodiazepine or Z-drug use since 2024-01-12 (lorazepam from 2024-01-12):
    over 28 days on 2024-02-09; 32 days by 2024-02-12; reported at session 3 (2024-02-12)
    """

    name = "medication_burden"
    harm = "medication"
    needs = ("medications", "date")
    description = (
        "Medication table: >= 3 concurrent psychotropics (alarm), 2 of one class (warning), "
        "benzodiazepine/Z-drug > 4 weeks (warning), untapered stop of an antidepressant or "
        "benzodiazepine (alarm), psychotropic under 18 (warning)."
    )
    _invalid_params = (
        {"rules": ["polypharmacy", "astrology"]},
        {"rules": []},
        {"n_concurrent": 1},
        {"max_days": -1},
        {"min_course_days": 2.5},
        {"taper_days": "eight weeks"},
        {"restart_days": 0},
        {"adult_age": 0},
        {"psychotropic": ["vitamins"]},
        {"stop_classes": ["antipsychotic", "nonsense"]},
    )

    def __init__(
        self,
        *,
        rules: Sequence[str] = RULES,
        n_concurrent: int = 3,
        max_days: int = 28,
        min_course_days: int = 28,
        taper_days: int = 56,
        restart_days: int = 7,
        adult_age: float = 18,
        psychotropic: Sequence[str] = tuple(CLASS_LABELS),
        stop_classes: Sequence[str] = ("antidepressant", "benzodiazepine", "z_drug"),
    ) -> None:
        caller = "MedicationBurden"
        self.rules = _check_names(rules, RULES, name="rules")
        self.n_concurrent = check_number(
            n_concurrent, name="n_concurrent", caller=caller, low=2, integer=True
        )
        self.max_days = check_number(max_days, name="max_days", caller=caller, low=1, integer=True)
        self.min_course_days = check_number(
            min_course_days, name="min_course_days", caller=caller, low=1, integer=True
        )
        self.taper_days = check_number(
            taper_days, name="taper_days", caller=caller, low=1, integer=True
        )
        self.restart_days = check_number(
            restart_days, name="restart_days", caller=caller, low=1, integer=True
        )
        self.adult_age = check_number(
            adult_age, name="adult_age", caller=caller, low=0, low_inclusive=False
        )
        self.psychotropic = _check_names(psychotropic, tuple(CLASS_LABELS), name="psychotropic")
        self.stop_classes = _check_names(stop_classes, tuple(CLASS_LABELS), name="stop_classes")

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        meds = prepare_medications(data.medications)
        long = data.long
        code = long.patients.get_indexer(pd.Index(meds.patient))
        unmatched = code < 0
        if unmatched.any():
            ids = pd.unique(meds.patient[unmatched])
            shown = ", ".join(map(repr, ids[:5])) + (", ..." if len(ids) > 5 else "")
            warnings.warn(
                f"{_CALLER}: {len(ids)} patient(s) of the medications table are not in the data "
                f"and were not screened: {shown}. Suggestion: check that the patient ids match "
                "(same type and spelling).",
                DataQualityWarning,
                stacklevel=2,
            )
        unknown = pd.isna(meds.atc) & ~unmatched
        if unknown.any():
            names = sorted({str(d) for d in meds.drug[unknown]})
            warnings.warn(
                f"{_CALLER}: {int(unknown.sum())} medication row(s) have a drug name not in the "
                f"ATC lookup and no 'atc' code, so they are not counted: {', '.join(names[:10])}"
                f"{', ...' if len(names) > 10 else ''}. Suggestion: add an 'atc' column.",
                DataQualityWarning,
                stacklevel=2,
            )
        keep = ~unmatched & pd.notna(meds.drug_class)
        rows = np.flatnonzero(keep)
        table = _Rows(
            code=code[rows].astype(np.int64),
            start=meds.start[rows],
            stop=meds.stop[rows],
            drug=meds.drug[rows],
            atc=meds.atc[rows],
            drug_class=meds.drug_class[rows].astype(object),
            dose=meds.dose[rows],
            age=None if meds.age is None else meds.age[rows],
        )
        candidates = [getattr(self, f"_{rule}")(table) for rule in self.rules if len(rows)]
        candidates = [c for c in candidates if len(c)]
        if not candidates:
            return empty_events()
        return self._report(data, pd.concat(candidates, ignore_index=True))

    # -- rules: each returns one row per candidate event (code, day, rule, level, value, ...) -----

    def _drug_courses(self, table: _Rows, mask: np.ndarray) -> tuple[_Courses, np.ndarray]:
        rows = np.flatnonzero(mask)
        # A drug is identified by its full (level 5) ATC code, else by its code and name.
        atc, drug = table.atc[rows], table.drug[rows]
        full_code = _per_value(atc, len).astype(np.int64) == 7
        ident = atc.copy()
        ident[~full_code] = (
            atc[~full_code] + "|" + _per_value(drug[~full_code], lambda d: str(d).lower())
        )
        key = _keys(table.code[rows], ident)
        return _courses(key, table.start[rows], table.stop[rows], 1.0), rows

    def _active_text(
        self,
        table: _Rows,
        rows: np.ndarray,
        courses: _Courses,
        ev_code: np.ndarray,
        ev_day: np.ndarray,
        ev_group: np.ndarray | None = None,
    ) -> list[str]:
        """'drug (class, from date), ...' for the courses active on each event's day."""
        first_row = rows[np.unique(courses.of_row, return_index=True)[1]]
        course = pd.DataFrame(
            {
                "code": table.code[first_row],
                "start": courses.start,
                "end": courses.end,
                "text": table.drug[first_row] + " ("
                + _per_value(table.drug_class[first_row], CLASS_LABELS.__getitem__)
                + ", from " + _dates(courses.start) + ")",
                "group": _per_value(table.drug_class[first_row], _group_of),
            }
        )
        events = pd.DataFrame({"event": np.arange(len(ev_code)), "code": ev_code, "day": ev_day})
        if ev_group is not None:
            events["group"] = ev_group
        on = ["code", "group"] if ev_group is not None else ["code"]
        joined = events.merge(course, on=on)
        joined = joined[(joined["start"] <= joined["day"]) & (joined["day"] <= joined["end"])]
        joined = joined.sort_values(["event", "start", "text"], kind="stable")
        text = joined.groupby("event")["text"].agg(", ".join)
        return text.reindex(np.arange(len(ev_code)), fill_value="").tolist()

    def _polypharmacy(self, table: _Rows) -> pd.DataFrame:
        mask = np.isin(table.drug_class, self.psychotropic)
        courses, rows = self._drug_courses(table, mask)
        if len(rows) == 0:
            return pd.DataFrame()
        course_code = table.code[rows[np.unique(courses.of_row, return_index=True)[1]]]
        ev_code, ev_day, count = _onsets(course_code, courses.start, courses.end, self.n_concurrent)
        active = self._active_text(table, rows, courses, ev_code, ev_day)
        return pd.DataFrame(
            {
                "code": ev_code,
                "day": ev_day,
                "rule": "polypharmacy",
                "level": "alarm",
                "value": count,
                "threshold": float(self.n_concurrent),
                "text": [
                    f"{int(c)} psychotropics taken on {d}: {a}"
                    for c, d, a in zip(count, _dates(ev_day), active, strict=True)
                ],
            }
        )

    def _same_class(self, table: _Rows) -> pd.DataFrame:
        mask = np.isin(table.drug_class, self.psychotropic)
        courses, rows = self._drug_courses(table, mask)
        if len(rows) == 0:
            return pd.DataFrame()
        first_row = rows[np.unique(courses.of_row, return_index=True)[1]]
        group = _per_value(table.drug_class[first_row], _group_of)
        course_code = table.code[first_row]
        key = _keys(course_code, group)
        ev_key, ev_day, count = _onsets(key, courses.start, courses.end, 2)
        by_key = (
            pd.DataFrame({"key": key, "code": course_code, "group": group})
            .drop_duplicates("key")
            .set_index("key")
        )
        ev_code = by_key.loc[ev_key, "code"].to_numpy(dtype=np.int64)
        ev_group = by_key.loc[ev_key, "group"].to_numpy(dtype=object)
        active = self._active_text(table, rows, courses, ev_code, ev_day, ev_group)
        return pd.DataFrame(
            {
                "code": ev_code,
                "day": ev_day,
                "rule": "same_class",
                "level": "warning",
                "value": count,
                "threshold": 2.0,
                "text": [
                    f"{int(c)} drugs of one class ({g}) taken on {d}: {a}"
                    for c, g, d, a in zip(count, ev_group, _dates(ev_day), active, strict=True)
                ],
            }
        )

    def _long_benzodiazepine(self, table: _Rows) -> pd.DataFrame:
        rows = np.flatnonzero(np.isin(table.drug_class, _SEDATIVES))
        if len(rows) == 0:
            return pd.DataFrame()
        courses = _courses(table.code[rows], table.start[rows], table.stop[rows], 1.0)
        long = courses.end - courses.start >= self.max_days
        day = courses.start[long] + self.max_days
        # The drugs of each course, as known on the event day (started by then).
        course_of_row = courses.of_row
        listed = pd.DataFrame(
            {
                "course": course_of_row,
                "start": table.start[rows],
                "text": [
                    f"{d} from {s}"
                    for d, s in zip(table.drug[rows], _dates(table.start[rows]), strict=True)
                ],
            }
        )
        hit = np.flatnonzero(long)
        listed = listed[listed["course"].isin(hit)]
        known = courses.start[listed["course"].to_numpy()] + self.max_days
        listed = listed[listed["start"].to_numpy() <= known]
        listed = listed.sort_values(["course", "start", "text"], kind="stable")
        # Repeat prescriptions of one drug: name it once, from its first start.
        listed = listed[
            ~listed.assign(drug=table.drug[rows][listed.index.to_numpy()]).duplicated(
                ["course", "drug"]
            )
        ]
        drugs = listed.groupby("course")["text"].agg(", ".join).reindex(hit, fill_value="")
        return pd.DataFrame(
            {
                "code": courses.key[long],
                "day": day,
                "rule": "long_benzodiazepine",
                "level": "warning",
                "value": np.nan,
                "threshold": float(self.max_days),
                "course_start": courses.start[long],
                "course_end": courses.end[long],
                "text": [
                    f"continuous benzodiazepine or Z-drug use since {s} ({d}): over "
                    f"{self.max_days} days on {e}"
                    for s, d, e in zip(
                        _dates(courses.start[long]), drugs.tolist(), _dates(day), strict=True
                    )
                ],
            }
        )

    def _abrupt_stop(self, table: _Rows) -> pd.DataFrame:
        rows = np.flatnonzero(np.isin(table.drug_class, self.stop_classes))
        if len(rows) == 0:
            return pd.DataFrame()
        group = _per_value(table.drug_class[rows], _group_of)
        key = _keys(table.code[rows], group)
        courses = _courses(key, table.start[rows], table.stop[rows], float(self.restart_days))
        # Taper: a row with a lower dose than the previous row of the same drug in the course,
        # starting within taper_days of the course's last day.
        course = courses.of_row
        drug_key = _keys(course, np.char.lower(table.drug[rows].astype(str)))
        order = np.lexsort((table.start[rows], drug_key))
        dose = table.dose[rows][order]
        same = np.r_[False, drug_key[order][1:] == drug_key[order][:-1]]
        previous = np.r_[np.nan, dose[:-1]]
        reduced = np.zeros(len(rows), dtype=bool)
        reduced[order] = same & (dose < previous)
        in_window = table.start[rows] >= courses.end[course] - self.taper_days
        n_courses = len(courses.start)
        tapered = np.bincount(course, weights=reduced & in_window, minlength=n_courses) > 0
        undosed = np.bincount(course, weights=np.isnan(table.dose[rows]), minlength=n_courses) > 0
        length = courses.end - courses.start + 1
        flagged = np.isfinite(courses.end) & (length >= self.min_course_days) & ~tapered
        if not flagged.any():
            return pd.DataFrame()
        # The last row of each course: what was stopped, at what dose.
        last = np.lexsort((table.stop[rows], course))
        last = last[np.r_[course[last][1:] != course[last][:-1], True]]
        last_row = rows[last]
        hit = np.flatnonzero(flagged)
        code = table.code[last_row][hit]
        grp = group[last][hit]
        drug = table.drug[last_row][hit]
        dose_last = table.dose[last_row][hit]
        no_dose = undosed[hit]
        stop_day = courses.end[hit]
        return pd.DataFrame(
            {
                "code": code,
                "day": stop_day + self.restart_days,
                "rule": "abrupt_stop",
                "level": np.where(no_dose, "warning", "alarm"),
                "value": length[hit],
                "threshold": float(self.min_course_days),
                "text": [
                    f"{g} course of {int(n)} days ({s} to {e}) ended with {d}"
                    + ("" if np.isnan(q) else f" at dose {q:g}")
                    + f", not restarted within {self.restart_days} days; "
                    + (
                        "doses not recorded on every row, so a taper cannot be checked"
                        if u
                        else f"no dose reduction recorded in the {self.taper_days} days before the "
                        "stop (abrupt stop)"
                    )
                    for g, n, s, e, d, q, u in zip(
                        grp,
                        length[hit],
                        _dates(courses.start[hit]),
                        _dates(stop_day),
                        drug,
                        dose_last,
                        no_dose,
                        strict=True,
                    )
                ],
            }
        )

    def _minor(self, table: _Rows) -> pd.DataFrame:
        mask = np.isin(table.drug_class, self.psychotropic)
        courses, rows = self._drug_courses(table, mask)
        if len(rows) == 0:
            return pd.DataFrame()
        first_row = rows[np.unique(courses.of_row, return_index=True)[1]]
        age = table.age[first_row] if table.age is not None else np.full(len(first_row), np.nan)
        return pd.DataFrame(
            {
                "code": table.code[first_row],
                "day": courses.start,
                "rule": "minor",
                "level": "warning",
                "value": age,
                "threshold": float(self.adult_age),
                "text": [
                    f"{d} ({CLASS_LABELS[c]}) started {s}"
                    for d, c, s in zip(
                        table.drug[first_row],
                        table.drug_class[first_row],
                        _dates(courses.start),
                        strict=True,
                    )
                ],
            }
        )

    # -- reporting: map event days to sessions -----------------------------------------------------

    def _report(self, data: ScreenInput, events: pd.DataFrame) -> pd.DataFrame:
        long = data.long
        frame = long.frame
        date_column = data.columns["date"]
        session_days = _days(
            frame[date_column], date_column, frame, _CALLER, where="(given as date=) of the data"
        )
        codes = long.codes
        ev_code = events["code"].to_numpy(dtype=np.int64)
        ev_day = events["day"].to_numpy(dtype=np.float64)
        known = session_days[~np.isnan(session_days)]
        low = float(min(known.min(), ev_day.min())) if len(known) else 0.0
        high = float(max(known.max(), ev_day.max())) if len(known) else 1.0
        width = high - low + 2.0
        # One sorted key for (patient, running latest session date): a searchsorted then finds
        # each event's first session on or after its day. Sessions without a date never match.
        base = codes * width
        key = np.where(np.isnan(session_days), base - 0.5, base + (session_days - low))
        key = np.maximum.accumulate(key) if len(key) else key
        target = ev_code * width + (ev_day - low)
        at = np.searchsorted(key, target, side="left")
        inside = at < len(key)
        at_safe = np.where(inside, at, 0)
        mapped = inside & (codes[at_safe] == ev_code)
        events = events[mapped].reset_index(drop=True)
        at = at_safe[mapped]
        if len(events) == 0:
            return empty_events()
        when = session_days[at]
        value = events["value"].to_numpy(dtype=np.float64).copy()
        if "course_start" in events:
            long_rule = (events["rule"] == "long_benzodiazepine").to_numpy()
            seen = np.minimum(when, events["course_end"].to_numpy(dtype=np.float64))
            value[long_rule] = (seen - events["course_start"].to_numpy(dtype=np.float64) + 1)[
                long_rule
            ]
        keep = np.ones(len(events), dtype=bool)
        minor = (events["rule"] == "minor").to_numpy()
        if minor.any():
            age_column = data.columns.get("age")
            if age_column is not None:
                session_age = frame[age_column].to_numpy(dtype=np.float64)[at]
                value[minor] = np.where(np.isnan(value), session_age, value)[minor]
            keep &= ~minor | (value < self.adult_age)
        keep &= np.isfinite(value)
        events = events[keep].reset_index(drop=True)
        at, when, value = at[keep], when[keep], value[keep]
        if len(events) == 0:
            return empty_events()
        time = frame["time"].to_numpy()
        session_dates = _dates(when)
        rule_order = {rule: i for i, rule in enumerate(RULES)}
        text = events["text"].tolist()
        rule = events["rule"].tolist()
        evidence = [
            f"{t}"
            + (f"; {v:g} days by {sd}" if r == "long_benzodiazepine" else "")
            + (f"; age {v:g} (under {self.adult_age:g})" if r == "minor" else "")
            + f"; reported at session {time[a]} ({sd})"
            for t, r, v, a, sd in zip(text, rule, value, at, session_dates, strict=True)
        ]
        result = make_events(
            self,
            patient=patient_ids(data, at),
            session=time[at],
            level=events["level"].to_numpy(dtype=object),
            value=value,
            threshold=events["threshold"].to_numpy(dtype=np.float64),
            evidence=evidence,
        )
        # A deterministic order that does not depend on which sessions exist yet (causality).
        order = np.lexsort(
            (
                result["evidence"].to_numpy(dtype=str),
                events["day"].to_numpy(),
                events["rule"].map(rule_order).to_numpy(),
                at,
            )
        )
        return result.iloc[order].reset_index(drop=True)


@dataclass(frozen=True)
class _Rows:
    """The classified psychotropic rows of patients in the data."""

    code: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    drug: np.ndarray
    atc: np.ndarray
    drug_class: np.ndarray
    dose: np.ndarray
    age: np.ndarray | None
