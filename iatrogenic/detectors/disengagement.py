"""Disengagement: missed sessions accumulate, gaps lengthen, the course ends unplanned.

This module also holds the helpers that read attendance and dates and follow a patient's score
from intake, which the dependency detector shares.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .._validation import (
    check_choice,
    check_fraction,
    check_number,
    check_positive,
    describe_rows,
)
from ..exceptions import ColumnTypeError, InvalidValueError, ParameterTypeError
from ._sequences import (
    BLOCK_ROWS,
    column_series,
    column_values,
    expanding_median,
    group_starts,
    onsets,
    patient_blocks,
    patient_ids,
    position_in_group,
    run_lengths,
)
from .base import Detector, ScreenInput, empty_events, join_texts, label, labels, make_events
from .registry import register_detector
from .reliable_deterioration import ReliableDeterioration

__all__ = ["ATTENDANCE_VALUES", "ENDING_VALUES", "Disengagement"]

#: Values of an attendance column (case-insensitive); missing values are allowed.
ATTENDANCE_VALUES: tuple[str, ...] = ("attended", "cancelled", "dna")
#: Values of an ending column (case-insensitive); missing values are allowed.
ENDING_VALUES: tuple[str, ...] = ("planned", "unplanned")


# --------------------------------------------------------------------------------------------
# Helpers shared with the dependency detector (private).
# --------------------------------------------------------------------------------------------


def _bad_values(data: ScreenInput, keyword: str, text: np.ndarray, allowed: Sequence[str]) -> None:
    bad = np.flatnonzero((text != "") & ~np.isin(text, list(allowed)))
    if len(bad):
        column = data.columns[keyword]
        frame = data.long.frame
        shown = pd.DataFrame(
            {"patient": frame["patient"], "session": frame["time"], column: text}
        )
        raise InvalidValueError(
            f"Column {column!r} (given as {keyword}=) must hold "
            f"{', '.join(map(repr, allowed))} or missing values; "
            f"{describe_rows(shown, bad, ['patient', 'session', column])}. Suggestion: recode "
            f"the column, e.g. data[{column!r}].replace({{'did not attend': 'dna'}})."
        )


def category_text(data: ScreenInput, keyword: str, allowed: Sequence[str]) -> np.ndarray:
    """The column given as ``keyword=`` as lower-case text ('' where missing), checked."""
    codes, texts = category_codes(data, keyword, allowed)
    return texts[codes]


def category_codes(
    data: ScreenInput, keyword: str, allowed: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`category_text` as ``(codes, texts)``: the text of row ``i`` is ``texts[codes[i]]``.

    Masks then cost a comparison of the few texts and an integer lookup per row, not a string
    comparison per row. A missing value has code -1, which indexes the last text, "".
    """
    column = column_series(data, keyword)
    if isinstance(column.dtype, pd.CategoricalDtype):
        # the column's own codes (unused categories are checked only where used, below)
        codes = column.cat.codes.to_numpy()
        uniques: Any = column.cat.categories
    else:
        codes, uniques = pd.factorize(column)
    distinct = np.asarray(uniques, dtype=object)
    if pd.api.types.infer_dtype(distinct, skipna=True) not in {"string", "empty"}:
        # pandas would merge 1, 1.0 and True, whose texts differ: one value at a time
        values = pd.Series(column_values(data, keyword), dtype=object)
        text = values.where(values.notna(), "").astype(str).str.strip().str.lower().to_numpy()
        _bad_values(data, keyword, text, allowed)
        text_codes, text_uniques = pd.factorize(text.astype(object))
        return text_codes, np.asarray(text_uniques, dtype=object)
    # Each distinct value cleaned and checked once; missing values (code -1) get the last, "".
    cleaned = pd.Series(distinct, dtype=object).astype(str).str.strip().str.lower()
    texts = np.append(cleaned.to_numpy(dtype=object), "")
    bad = (texts != "") & ~np.isin(texts, list(allowed))
    if bad[codes].any():
        _bad_values(data, keyword, texts[codes], allowed)
    return codes, texts


def attendance_in(data: ScreenInput, values: Sequence[str]) -> np.ndarray | None:
    """True where the attendance is one of ``values``; None without an attendance column."""
    if "attendance" not in data.columns:
        return None
    codes, texts = _attendance_codes(data)
    return np.isin(texts, list(values))[codes]


def attendance_at(data: ScreenInput, rows: np.ndarray) -> np.ndarray | None:
    """Attendance as lower-case text at ``rows`` only; None without an attendance column."""
    if "attendance" not in data.columns:
        return None
    codes, texts = _attendance_codes(data)
    return texts[codes[rows]]


def _attendance_codes(data: ScreenInput) -> tuple[np.ndarray, np.ndarray]:
    return data.derived(
        "attendance_codes", lambda: category_codes(data, "attendance", ATTENDANCE_VALUES)
    )


def dates_in_days(data: ScreenInput) -> np.ndarray | None:
    """Session dates as float days (NaN where missing), or None without a date column.

    Datetimes and date strings are converted; plain numbers are taken as day numbers.
    """
    source = _date_source(data)
    return None if source is None else _days_at(source, slice(None))


def _date_source(data: ScreenInput) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The date column, checked, as ``(day numbers, None)`` for plain numbers or as
    ``(nanoseconds, missing)`` for dates, for :func:`_days_at`; None without a date column."""
    if "date" not in data.columns:
        return None
    values = pd.Series(column_values(data, "date"))
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.float64, na_value=np.nan), None
    stamps = pd.to_datetime(values, errors="coerce")
    missing = stamps.isna().to_numpy()
    bad = np.flatnonzero(missing & values.notna().to_numpy())
    if len(bad):
        column = data.columns["date"]
        frame = data.long.frame
        shown = pd.DataFrame(
            {"patient": frame["patient"], "session": frame["time"], column: values}
        )
        raise ColumnTypeError(
            f"Column {column!r} (given as date=) must hold dates; "
            f"{describe_rows(shown, bad, ['patient', 'session', column])}. Suggestion: "
            f"convert it with pd.to_datetime(data[{column!r}], format=...)."
        )
    # the int64 view, not a copy: the float days are made where needed (:func:`_days_at`)
    return stamps.to_numpy(dtype="datetime64[ns]").view(np.int64), missing


def _days_at(source: tuple[np.ndarray, np.ndarray | None], rows: slice) -> np.ndarray:
    """The float days of ``rows`` from a :func:`_date_source`."""
    values, missing = source
    if missing is None:
        return values[rows]
    days = values[rows].astype(np.float64)
    days[missing[rows]] = np.nan
    days /= 86_400e9
    return days


def check_reliable(
    caller: str,
    *,
    rule: str,
    reliability: float | None,
    sd: float | None,
    alpha: float,
    points: float | None,
) -> ReliableDeterioration:
    """Validate the reliable-change parameters under ``caller``'s name; return the rule."""
    return ReliableDeterioration(
        reliability=check_fraction(reliability, name="reliability", caller=caller, allow_none=True),
        sd=check_positive(sd, name="sd", caller=caller, allow_none=True),
        alpha=check_fraction(alpha, name="alpha", caller=caller),
        rule=check_choice(rule, ["statistical", "fixed"], name="rule", caller=caller),
        points=check_positive(points, name="points", caller=caller, allow_none=True),
    )


@dataclass(frozen=True)
class ScoreCourse:
    """Each row's view of the patient's score so far (causal: only rows up to it).

    ``intake_row`` and ``latest_row`` are the rows of the first and the last observed score up to
    and including each row (-1 when none); ``worsening`` is ``latest - intake`` in the harmful
    direction (NaN when unknown); ``threshold`` is the reliable-change threshold in points (None
    when it cannot be computed), ``inclusive`` whether a change equal to it counts, ``rule`` a
    description for evidence text.
    """

    intake_row: np.ndarray
    latest_row: np.ndarray
    worsening: np.ndarray
    threshold: float | None
    inclusive: bool
    rule: str

    def reliably(self, change: np.ndarray) -> np.ndarray:
        """True where a change (positive in the direction of interest) is reliable."""
        if self.threshold is None:
            return np.zeros(len(change), dtype=bool)
        return change >= self.threshold if self.inclusive else change > self.threshold

    # Cached: evidence text reads one element per event, so recomputing the comparison over
    # every row on each access made the screen quadratic.
    @cached_property
    def deteriorated(self) -> np.ndarray:
        return self.reliably(self.worsening)

    @cached_property
    def improved(self) -> np.ndarray:
        return self.reliably(-self.worsening)


def score_course(data: ScreenInput, reliable: ReliableDeterioration) -> ScoreCourse:
    """Intake, latest score and reliable change at every row (the rule of ``reliable``)."""
    long = data.long
    scores = long.frame["score"].to_numpy(dtype=np.float64)
    codes, starts = long.codes, long.starts
    n = len(scores)
    latest = np.empty(n, dtype=np.int64)
    intake = np.empty(n, dtype=np.int64)
    worsening = np.empty(n)
    intake_of_patient = np.full(long.n_patients, -1, dtype=np.int64)
    sign = 1.0 if data.better == "lower" else -1.0
    # Block by block (whole patients): the temporaries stay in cache (millions of rows).
    for begin, end in itertools.pairwise(_patient_blocks(starts)):
        rows = slice(begin, end)
        first, last = np.searchsorted(starts, [begin, end])
        block_latest = latest[rows]
        np.copyto(block_latest, np.where(np.isnan(scores[rows]), -1, np.arange(begin, end)))
        np.maximum.accumulate(block_latest, out=block_latest)  # last observed row so far
        # ``block_latest`` never decreases, so a patient's first observed row is the first
        # value of it that falls inside the patient's rows.
        position = np.searchsorted(block_latest, starts[first:last])
        has_intake = position < starts[first + 1 : last + 1] - begin
        patients_intake = intake_of_patient[first:last]
        patients_intake[has_intake] = block_latest[position[has_intake]]
        # nothing observed yet for this patient
        block_latest[block_latest < starts[codes[rows]]] = -1
        unknown = block_latest < 0
        block_intake = intake[rows]
        np.copyto(block_intake, intake_of_patient[codes[rows]])
        block_intake[unknown] = -1
        block_worsening = worsening[rows]
        np.copyto(block_worsening, scores[block_latest])
        block_worsening -= scores[block_intake]
        block_worsening *= sign
        block_worsening[unknown] = np.nan

    has_intake = intake_of_patient >= 0
    intake_scores = np.full(long.n_patients, np.nan)
    intake_scores[has_intake] = scores[intake_of_patient[has_intake]]
    threshold = reliable._threshold(data, intake_scores)
    if threshold is not None and not np.isfinite(threshold):
        threshold = None
    if threshold is None:
        rule = "no reliable-change rule (pass instrument=, reliability= or points=)"
    elif reliable.resolved_rule(data) == "fixed":
        rule = f"fixed rule: >= {threshold:g} points"
    else:
        rule = f"RCI critical difference {threshold:.2f} points at alpha {reliable.alpha:g}"
    return ScoreCourse(
        intake_row=intake,
        latest_row=latest,
        worsening=worsening,
        threshold=threshold,
        inclusive=reliable.resolved_boundary(data) == "inclusive",
        rule=rule,
    )


def describe_change(worsening: float) -> str:
    """A change from intake in words: ``"3 points worse"``, ``"2 points better"``."""
    if worsening == 0:
        return "unchanged"
    return f"{abs(worsening):g} points {'worse' if worsening > 0 else 'better'}"


def _check_int(value: object, name: str, caller: str, low: int, allow_none: bool = False) -> Any:
    return check_number(
        value, name=name, caller=caller, low=low, integer=True, allow_none=allow_none
    )


#: Rows per block of whole patients in :func:`score_course` and :meth:`Disengagement.detect`
#: (a longer patient is a block of its own).
_BLOCK_ROWS = BLOCK_ROWS

#: The per-event arrays a block of rows yields (see :meth:`Disengagement._block_events`).
_EVENT_FIELDS = (
    "row", "alarm", "value", "threshold", "ending", "run_on", "run", "rate_on", "recent",
    "earlier", "n_earlier", "gap_on", "since", "usual", "last_contact",
)


def _patient_blocks(starts: np.ndarray) -> np.ndarray:
    """:func:`patient_blocks` of :data:`_BLOCK_ROWS` rows (a test makes the blocks small)."""
    return patient_blocks(starts, _BLOCK_ROWS)


def _cumsum_in_groups(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at each group of consecutive equal ``codes``."""
    total = np.cumsum(values)
    first = np.flatnonzero(group_starts(codes))
    before = total[first] - values[first]
    total -= np.repeat(before, np.diff(np.r_[first, len(values)]))
    return total


# --------------------------------------------------------------------------------------------


@register_detector
class Disengagement(Detector):
    """Flag missed sessions piling up, lengthening gaps and unplanned endings.

    Needs an attendance column (``attendance=``, values ``attended``, ``cancelled``, ``dna``)
    or session dates (``date=``), or both; each trigger runs when its input is present. Rows are
    the patient's scheduled sessions in order.

    Triggers, at the session where each becomes true:

    ==================  =======================================================  ============
    trigger             rule                                                     level
    ==================  =======================================================  ============
    consecutive misses  ``consecutive_warning`` missed sessions in a row         warning
                        ``consecutive_alarm`` in a row                            alarm
    rising miss rate    ``window_misses`` or more of the last ``window``         warning
                        sessions missed, a higher rate than in all the earlier
                        sessions (at least ``window`` of them)
    long gap            days since the last attended session (with attendance;   warning
                        the previous row without) exceed ``gap_factor`` times
                        the median interval between the patient's earlier
                        sessions (at least ``min_gaps`` intervals)
    unplanned ending    the ending column (``ending`` keyword) says              warning
                        ``unplanned`` on this row
                        ... after a reliable deterioration from intake           alarm
    ==================  =======================================================  ============

    A session is missed when its status is in ``missed``; a missing status neither counts as a
    miss nor as attended (it breaks a run of misses). The rising miss rate and the long gap are
    raised when their condition starts to hold, not again while it keeps holding.

    One event per session: when several triggers hold, the level is the highest and the evidence
    lists them all; ``value`` and ``threshold`` belong to the first in the order unplanned
    ending (points of worsening since intake, the reliable-change threshold), consecutive misses
    (misses in a row, the count that was reached), rising miss rate (misses in the window,
    ``window_misses``), long gap (days, ``gap_factor`` x the usual interval).

    Causality: every trigger uses the rows up to the current one. The end of a course is known
    only from an explicit ending column: the last row of a patient in the data is *not* taken as
    an ending, because in a live service (or in data cut at any date) the last row so far is just
    the latest session. The ending column is read row by row: mark the row at which the course
    ended (``"unplanned"`` or ``"planned"``) and leave the others missing; the first row marked
    ``"unplanned"`` is flagged. A patient-level column repeated on every row would be flagged at
    the first session, so reduce it to the last row first.

    Parameters
    ----------
    consecutive_warning : int, default 2
        Missed sessions in a row that raise a warning.
    consecutive_alarm : int or None, default 3
        Missed sessions in a row that raise an alarm (at least ``consecutive_warning``); None:
        off. The defaults follow common NHS did-not-attend policies: two consecutive missed
        appointments prompt a case review, three lead to discharge (e.g. the GIC did-not-attend
        policy, gic.nhs.uk).
    window : int or None, default 4
        Number of recent scheduled sessions for the rising miss rate; None: off. Project default.
    window_misses : int, default 2
        Least misses in the window (at most ``window``). Project default.
    gap_factor : float or None, default 2.0
        A gap longer than this multiple of the patient's usual interval is a warning; None: off.
        Project default (a missed weekly session doubles the interval).
    min_gaps : int, default 3
        Earlier intervals needed before the usual interval is trusted. Project default.
    missed : sequence of str, default ("dna", "cancelled")
        Attendance values that count as a missed session.
    rule, reliability, sd, alpha, points
        The reliable-deterioration rule that makes an unplanned ending an alarm: as
        :class:`~iatrogenic.detectors.reliable_deterioration.ReliableDeterioration` (same defaults:
        Jacobson-Truax critical difference at alpha 0.05 with the instrument's reliability).
        Without a usable rule, unplanned endings are warnings and the evidence says why.

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> from iatrogenic.detectors.disengagement import Disengagement
    >>> data = pd.DataFrame({
    ...     "patient": 1, "session": range(1, 8), "phq9": [15, 13, 12, 12, None, None, None],
    ...     "attendance": ["attended"] * 4 + ["dna", "cancelled", "dna"],
    ...     "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22",
    ...                             "2024-02-06", "2024-02-19", "2024-03-04"])})
    >>> events = ia.screen(data, score="phq9", instrument="phq9", attendance="attendance",
    ...                    date="date", detectors=[Disengagement()])
    >>> events[["session", "level", "value", "threshold"]]
      session    level  value  threshold
    0       5  warning   15.0       14.0
    1       6  warning    2.0        2.0
    2       7    alarm    3.0        3.0
    >>> print(events.loc[0, "evidence"])
    session 5 (dna): 15 days since the last attended session (session 4), > 2 x the usual
    interval 7 days
    """

    name = "disengagement"
    harm = "disengagement"
    #: Either input is enough ("|" reads "or"); see :meth:`missing_inputs`.
    needs = ("attendance|date",)
    description = (
        "Missed sessions in a row (2: warning, 3: alarm), a rising miss rate, gaps longer than "
        "twice the patient's usual interval, and unplanned endings (alarm after reliable "
        "deterioration)."
    )
    _invalid_params = (
        {"consecutive_warning": 0},
        {"consecutive_alarm": 1},
        {"window": 1},
        {"window_misses": 9},
        {"gap_factor": 0.5},
        {"min_gaps": 0},
        {"missed": ("dna", "late")},
        {"missed": "dna"},
        {"rule": "magic"},
        {"alpha": 2.0},
    )

    def __init__(
        self,
        *,
        consecutive_warning: int = 2,
        consecutive_alarm: int | None = 3,
        window: int | None = 4,
        window_misses: int = 2,
        gap_factor: float | None = 2.0,
        min_gaps: int = 3,
        missed: Sequence[str] = ("dna", "cancelled"),
        rule: str = "statistical",
        reliability: float | None = None,
        sd: float | None = None,
        alpha: float = 0.05,
        points: float | None = None,
    ) -> None:
        caller = "Disengagement"
        self.consecutive_warning = _check_int(consecutive_warning, "consecutive_warning", caller, 1)
        self.consecutive_alarm = _check_int(
            consecutive_alarm, "consecutive_alarm", caller, self.consecutive_warning,
            allow_none=True,
        )
        self.window = _check_int(window, "window", caller, 2, allow_none=True)
        self.window_misses = check_number(
            window_misses, name="window_misses", caller=caller, low=1,
            high=self.window if self.window is not None else None, integer=True,
        )
        self.gap_factor = check_number(
            gap_factor, name="gap_factor", caller=caller, low=1, low_inclusive=False,
            allow_none=True,
        )
        self.min_gaps = _check_int(min_gaps, "min_gaps", caller, 1)
        if isinstance(missed, str) or not isinstance(missed, Sequence) or not missed:
            raise ParameterTypeError(
                f"The 'missed' parameter of {caller}() must be a non-empty list of attendance "
                f"values, e.g. missed=('dna',). Got {missed!r} instead."
            )
        self.missed = tuple(
            check_choice(value, ["dna", "cancelled"], name="missed", caller=caller)
            for value in missed
        )
        self.rule = rule
        self.reliability = reliability
        self.sd = sd
        self.alpha = alpha
        self.points = points
        self._reliable = check_reliable(
            caller, rule=rule, reliability=reliability, sd=sd, alpha=alpha, points=points
        )
        self.rule = self._reliable.rule

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        long = data.long
        dates = _date_source(data)
        missed_codes = attended_codes = None
        if "attendance" in data.columns:
            codes, texts = _attendance_codes(data)
            missed_codes = (codes, np.isin(texts, list(self.missed)))
            attended_codes = (codes, np.isin(texts, ["attended"]))
        # Unplanned endings (explicit column only, see the class notes).
        unplanned_codes = None
        course: ScoreCourse | None = None
        if "ending" in data.columns:
            codes, texts = category_codes(data, "ending", ENDING_VALUES)
            unplanned_codes = (codes, texts == "unplanned")
            course = score_course(data, self._reliable)

        # Blocks of whole patients: every trigger reads only the patient's rows, and blocks keep
        # the row temporaries in cache instead of freshly mapped memory (flat time per row).
        edges = _patient_blocks(long.starts)
        frame = long.frame
        times = frame["time"].to_numpy()
        scores = frame["score"].to_numpy(dtype=np.float64)
        # Evidence too is built per block: its strings then fill memory freed by the last block.
        blocks = []
        for begin, end in itertools.pairwise(edges):
            found = self._block_events(
                int(begin), int(end), long.codes[begin:end], dates, missed_codes,
                attended_codes, unplanned_codes, course,
            )
            if len(found["row"]):
                found["evidence"] = self._evidence(
                    found["row"], times, scores, attendance_at(data, found["row"]), course, found
                )
                blocks.append(found)
        if not blocks:
            return empty_events()
        events = {
            key: np.concatenate([block[key] for block in blocks])
            for key in ("row", "alarm", "value", "threshold", "evidence")
        }
        picked = events["row"]
        return make_events(
            self,
            patient=patient_ids(data, picked),
            session=times[picked],
            level=np.where(events["alarm"], "alarm", "warning"),
            value=events["value"],
            threshold=events["threshold"],
            evidence=events["evidence"],
        )

    def _block_events(
        self,
        begin: int,
        end: int,
        codes: np.ndarray,
        dates: tuple[np.ndarray, np.ndarray | None] | None,
        missed_codes: tuple[np.ndarray, np.ndarray] | None,
        attended_codes: tuple[np.ndarray, np.ndarray] | None,
        unplanned_codes: tuple[np.ndarray, np.ndarray] | None,
        course: ScoreCourse | None,
    ) -> dict[str, np.ndarray]:
        """The events of rows ``begin:end`` (whole patients; ``codes`` their patient codes),
        as the per-event arrays of :data:`_EVENT_FIELDS` (``row`` and ``last_contact`` are rows
        of the whole data)."""
        rows = slice(begin, end)
        n = end - begin
        none = np.zeros(n, dtype=bool)

        # Consecutive misses and the rising miss rate.
        run = np.zeros(n, dtype=np.int64)
        rate_on = none
        recent = earlier = n_earlier = np.zeros(n)
        if missed_codes is not None:
            miss = missed_codes[1][missed_codes[0][rows]]
            run = run_lengths(miss, codes)
            if self.window is not None:
                rate_on, recent, earlier, n_earlier = self._rising_rate(codes, miss)
        run_warn = run == self.consecutive_warning
        run_alarm = (
            run == self.consecutive_alarm if self.consecutive_alarm is not None else none
        )

        # Gaps longer than usual.
        gap_on, since, usual, last_contact = none, np.zeros(n), np.zeros(n), np.full(n, -1)
        if dates is not None and self.gap_factor is not None:
            attended = (
                attended_codes[1][attended_codes[0][rows]] if attended_codes is not None else None
            )
            gap_on, since, usual, last_contact = self._long_gaps(
                codes, _days_at(dates, rows), attended
            )

        ending = none
        if unplanned_codes is not None:
            ended = unplanned_codes[1][unplanned_codes[0][rows]]
            ending = ended & (_cumsum_in_groups(ended.astype(np.int64), codes) == 1)
        deteriorated = course.deteriorated[rows] if course is not None else none

        alarm = run_alarm | (ending & deteriorated)
        run_on = run_alarm | run_warn
        picked = np.flatnonzero(alarm | run_warn | rate_on | gap_on | ending)
        k = len(picked)
        worsening = course.worsening[rows][picked] if course is not None else np.full(k, np.nan)
        rc_threshold = (
            course.threshold if course is not None and course.threshold is not None else np.nan
        )
        value = np.select(
            [ending[picked], run_on[picked], rate_on[picked]],
            [np.nan_to_num(worsening, nan=0.0), run[picked].astype(np.float64), recent[picked]],
            since[picked],
        )
        threshold = np.select(
            [ending[picked], run_alarm[picked], run_warn[picked], rate_on[picked]],
            [np.full(k, rc_threshold), np.full(k, float(self.consecutive_alarm or 0)),
             np.full(k, float(self.consecutive_warning)),
             np.full(k, float(self.window_misses))],
            (self.gap_factor or 0.0) * usual[picked],
        )
        contact = last_contact[picked]
        return {
            "row": picked + begin,
            "alarm": alarm[picked],
            "value": value,
            "threshold": threshold,
            "ending": ending[picked],
            "run_on": run_on[picked],
            "run": run[picked],
            "rate_on": rate_on[picked],
            "recent": recent[picked],
            "earlier": earlier[picked],
            "n_earlier": n_earlier[picked],
            "gap_on": gap_on[picked],
            "since": since[picked],
            "usual": usual[picked],
            "last_contact": np.where(contact >= 0, contact + begin, -1),
        }

    def _evidence(
        self,
        picked: np.ndarray,
        times: np.ndarray,
        scores: np.ndarray,
        status: np.ndarray | None,  # attendance text at the rows ``picked``
        course: ScoreCourse | None,
        found: dict[str, np.ndarray],  # the fields of :data:`_EVENT_FIELDS` at ``picked``
    ) -> np.ndarray:
        """The evidence text of the events at rows ``picked``, built column-wise."""
        parts: list[tuple[np.ndarray, Any]] = []
        if course is not None:
            applies = found["ending"]
            parts.append((applies, self._ending_texts(picked[applies], course, scores, times)))
        applies = found["run_on"]
        rows, run = picked[applies], found["run"][applies]
        parts.append((
            applies,
            labels(run) + " missed sessions in a row (sessions "
            + labels(times[rows - run + 1]) + " to " + labels(times[rows]) + ")",
        ))
        applies = found["rate_on"]
        rows = picked[applies]
        window = int(self.window or 0)
        parts.append((
            applies,
            labels(found["recent"][applies]) + f" of the last {window} sessions missed (sessions "
            + labels(times[rows - window + 1]) + " to " + labels(times[rows]) + ") vs "
            + labels(found["earlier"][applies]) + " of the " + labels(found["n_earlier"][applies])
            + " before",
        ))
        applies = found["gap_on"]
        since_what = "attended session" if status is not None else "session"
        parts.append((
            applies,
            labels(np.round(found["since"][applies], 1))
            + f" days since the last {since_what} (session "
            + labels(times[found["last_contact"][applies]])
            + f"), > {label(self.gap_factor)} x the usual "
            + "interval " + labels(np.round(found["usual"][applies], 1)) + " days",
        ))
        state: Any = ""
        if status is not None:
            shown = status
            state = np.where(shown.astype(bool), " (" + shown + ")", "").astype(object)
        return "session " + labels(times[picked]) + state + ": " + join_texts(len(picked), parts)

    def _rising_rate(
        self, codes: np.ndarray, miss: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Onsets of a rising miss rate; misses in the window, before it, and rows before it."""
        window = int(self.window or 0)
        misses = _cumsum_in_groups(miss.astype(np.int64), codes).astype(np.float64)
        position = position_in_group(codes)
        # A rate needs an earlier spell to rise from: at least a full window before this one.
        enough = position >= 2 * window - 1
        before = np.zeros(len(codes))
        shifted = np.flatnonzero(enough)
        before[shifted] = misses[shifted - window]
        recent = misses - before
        earlier_rate = np.divide(
            before, position - window + 1, out=np.zeros(len(codes)), where=enough
        )
        rising = enough & (recent >= self.window_misses) & (recent / window > earlier_rate)
        n_before = np.where(enough, position - window + 1, 0).astype(np.float64)
        return onsets(rising, codes), recent, before, n_before

    def _long_gaps(
        self, codes: np.ndarray, days: np.ndarray, attended: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        dated = ~np.isnan(days)
        contact = dated & (attended if attended is not None else True)
        contact_rows = np.flatnonzero(contact)
        contact_codes = codes[contact_rows]
        interval = np.diff(days[contact_rows], prepend=np.nan)
        interval[group_starts(contact_codes)] = np.nan
        # Median of the intervals up to each contact, once min_gaps of them exist (vectorised
        # over all patients at once).
        usual_at_contact = expanding_median(interval, contact_codes, self.min_gaps)
        # The last contact strictly before each row, within the same patient: only the rows
        # that have one (``after``) are computed; the others keep -1, 0 and no gap.
        contacts_before = np.cumsum(contact)
        contacts_before -= contact
        first_row = np.arange(len(codes)) - position_in_group(codes)
        after = np.flatnonzero(contacts_before > contacts_before[first_row])
        j = contacts_before[after] - 1
        n = len(codes)
        last_contact = np.full(n, -1, dtype=np.int64)
        last_contact[after] = contact_rows[j]
        usual_after = usual_at_contact[j]
        since_after = days[after] - days[last_contact[after]]
        long_gap = np.zeros(n, dtype=bool)
        with np.errstate(invalid="ignore"):
            long_gap[after] = (
                dated[after]
                & (usual_after > 0)
                & (since_after > float(self.gap_factor or 0) * usual_after)
            )
        since, usual = np.zeros(n), np.zeros(n)
        since[after] = np.nan_to_num(since_after)
        usual[after] = np.nan_to_num(usual_after)
        return onsets(long_gap, codes), since, usual, last_contact

    def _ending_texts(
        self, rows: np.ndarray, course: ScoreCourse, scores: np.ndarray, times: np.ndarray
    ) -> np.ndarray:
        """The unplanned-ending text of the events at ``rows``."""
        latest, intake = course.latest_row[rows], course.intake_row[rows]
        out = np.full(len(rows), "unplanned ending (no score to judge deterioration)", dtype=object)
        scored = latest >= 0
        latest, intake, worsening = latest[scored], intake[scored], course.worsening[rows[scored]]
        change = (
            "score " + labels(scores[latest]) + " at session " + labels(times[latest])
            + " vs intake " + labels(scores[intake]) + " at session " + labels(times[intake])
            + ": " + labels(worsening, describe_change)
        )
        if course.threshold is None:
            out[scored] = (
                "unplanned ending (" + change + f"; deterioration not assessed: {course.rule})"
            )
            return out
        out[scored] = np.where(
            course.deteriorated[rows[scored]],
            "unplanned ending after reliable deterioration (" + change + f"; {course.rule})",
            "unplanned ending, not reliably worse than intake (" + change + f"; {course.rule})",
        )
        return out
