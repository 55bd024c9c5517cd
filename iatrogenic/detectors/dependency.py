"""Dependency: treatment runs past the expected dose, or sessions quicken, without gain."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_number
from ..exceptions import ParameterError, ParameterTypeError
from ._sequences import group_starts, onsets, patient_ids, rolling_median, within_patient_cumsum
from .base import Detector, ScreenInput, empty_events, join_texts, label, labels, make_events
from .disengagement import (
    ScoreCourse,
    attendance_in,
    check_reliable,
    dates_in_days,
    describe_change,
    position_in_group,
    score_course,
)
from .registry import register_detector

__all__ = ["DEFAULT_EXPECTED_SESSIONS", "Dependency"]

#: Default expected dose in sessions: the upper end of the 16-20 sessions NICE CG90 gives for
#: individual CBT for depression (see :class:`Dependency` for the status of this source).
DEFAULT_EXPECTED_SESSIONS = 20

_PERCENTILE = re.compile(r"^p([1-9][0-9]?)$")


@register_detector
class Dependency(Detector):
    """Flag treatment that runs past the expected dose, or quickens, without reliable gain.

    **Past the expected dose.** The dose at a session is the number of sessions attended so far
    (with an attendance column: rows marked ``attended``; without one: every row). At the first
    session where the dose exceeds ``expected_sessions`` and the latest score is not reliably
    better than at intake, a warning is raised; an alarm if the latest score is reliably *worse*
    than at intake. Each is raised again only if the state ends (e.g. the patient improves) and
    starts again.

    **Sessions quicken without gain** (needs ``date=``). Intervals are measured between attended
    sessions (every row without attendance). Once a patient has ``2 * window`` intervals, a
    warning is raised at the session where the median of the last ``window`` intervals falls
    below ``frequency_factor`` times the median of the first ``window``, with no reliable
    improvement from intake.

    Reliable improvement and deterioration use the rule of
    :class:`~iatrogenic.detectors.reliable_deterioration.ReliableDeterioration` (same
    parameters and defaults), from the first observed score (intake) to the latest one.

    One event per session: when both triggers hold, the level is the highest; ``value`` and
    ``threshold`` are the dose and the expected dose, or for the frequency trigger the recent
    median interval and ``frequency_factor`` x the first one (days).

    Parameters
    ----------
    expected_sessions : int or str, default 20
        The expected dose. Default: 20, the upper end of "typically 16 to 20 sessions over 3 to
        4 months" that NICE CG90 (2009, rec. 1.5.1.2) gives for individual CBT for depression;
        this wording was recalled, not re-read during this review, so treat 20 as a project
        default and set the number your service plans (e.g. the NHS Talking Therapies course
        length for the treatment). ``"p90"`` (any ``"pNN"``, 1-99) uses that percentile of the
        course lengths (sessions attended) of all patients in the data: this is cohort
        information and depends on how far the data run, so it is **not causal** (a screen of
        data cut at session t sees shorter courses and a lower percentile). Use it for
        retrospective audits only.
    window : int or None, default 4
        Intervals in each of the two medians of the frequency trigger; None: off. Project
        default.
    frequency_factor : float, default 0.5
        The recent median interval must be below this fraction of the first (0.5: sessions at
        least twice as frequent as at the start). Project default.
    rule, reliability, sd, alpha, points
        The reliable-change rule, as ``ReliableDeterioration``: ``rule="statistical"`` (the
        Jacobson-Truax critical difference at ``alpha``, the instrument's reliability and SD,
        else the SD of all patients' intake scores) or ``"fixed"`` (``points`` or the
        instrument's published rule, e.g. 6 points on the PHQ-9). Without a reliability or a
        fixed rule the detector is skipped.

    Notes
    -----
    With the default expected dose the detector is causal: a flag at session t uses the
    patient's sessions and scores up to t (and, for ``rule="statistical"`` without an
    instrument SD, every patient's intake score, which a screen of data cut at any session
    still contains).

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> from iatrogenic.detectors.dependency import Dependency
    >>> data = pd.DataFrame({"patient": 1, "session": range(1, 8),
    ...                      "phq9": [16, 15, 15, 16, 14, 17, 23]})
    >>> rule = Dependency(expected_sessions=5, rule="fixed")  # PHQ-9: 6 points or more
    >>> events = ia.screen(data, score="phq9", instrument="phq9", detectors=[rule])
    >>> events[["session", "level", "value", "threshold"]]
      session    level  value  threshold
    0       6  warning    6.0        5.0
    1       7    alarm    7.0        5.0
    """

    name = "dependency"
    harm = "dependency"
    needs = ("score",)
    description = (
        "Treatment past the expected dose (default 20 sessions) without reliable improvement "
        "(warning; alarm if reliably worse), or sessions becoming twice as frequent without "
        "gain (needs dates)."
    )
    _invalid_params = (
        {"expected_sessions": 0},
        {"expected_sessions": "p100"},
        {"expected_sessions": 12.5},
        {"window": 0},
        {"frequency_factor": 1.5},
        {"rule": "magic"},
        {"reliability": 1.5},
    )

    def __init__(
        self,
        *,
        expected_sessions: int | str = DEFAULT_EXPECTED_SESSIONS,
        window: int | None = 4,
        frequency_factor: float = 0.5,
        rule: str = "statistical",
        reliability: float | None = None,
        sd: float | None = None,
        alpha: float = 0.05,
        points: float | None = None,
    ) -> None:
        caller = "Dependency"
        self.expected_sessions = self._check_expected(expected_sessions, caller)
        self.window = check_number(
            window, name="window", caller=caller, low=1, integer=True, allow_none=True
        )
        self.frequency_factor = check_number(
            frequency_factor, name="frequency_factor", caller=caller, low=0, high=1,
            low_inclusive=False, high_inclusive=False,
        )
        self._reliable = check_reliable(
            caller, rule=rule, reliability=reliability, sd=sd, alpha=alpha, points=points
        )
        self.rule = self._reliable.rule
        self.reliability = reliability
        self.sd = sd
        self.alpha = alpha
        self.points = points

    @staticmethod
    def _check_expected(value: Any, caller: str) -> int | str:
        if isinstance(value, str):
            if _PERCENTILE.match(value.strip().lower()):
                return value.strip().lower()
            raise ParameterError(
                f"The 'expected_sessions' parameter of {caller}() must be a number of sessions "
                f"or a percentile of the cohort's course lengths written 'p1' to 'p99' (e.g. "
                f"'p90'). Got {value!r} instead."
            )
        if isinstance(value, (float, np.floating)) and not float(value).is_integer():
            raise ParameterTypeError(
                f"The 'expected_sessions' parameter of {caller}() must be a whole number of "
                f"sessions or 'p90'. Got {value!r} instead."
            )
        return int(check_number(value, name="expected_sessions", caller=caller, low=1))

    def missing_inputs(self, data: ScreenInput) -> list[str]:
        return self._reliable.missing_inputs(data)

    def _expected(self, dose: np.ndarray, data: ScreenInput) -> tuple[float, str]:
        if isinstance(self.expected_sessions, str):
            q = float(self.expected_sessions[1:])
            lengths = dose[data.long.starts[1:] - 1]
            value = float(np.percentile(lengths, q))
            return value, (
                f"expected dose {label(round(value, 1))} sessions = {self.expected_sessions} of "
                "the course lengths in these data (not causal)"
            )
        value = float(self.expected_sessions)
        source = (
            " (default: NICE CG90 16-20 sessions of CBT)"
            if self.expected_sessions == DEFAULT_EXPECTED_SESSIONS
            else ""
        )
        return value, f"expected dose {label(value)} sessions{source}"

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        long = data.long
        codes = long.codes
        n = len(codes)
        attended = attendance_in(data, ["attended"])
        if attended is None:
            attended = np.ones(n, dtype=bool)
        dose = within_patient_cumsum(attended.astype(np.int64), data)
        expected, expected_text = self._expected(dose, data)
        course = score_course(data, self._reliable)
        has_intake = course.intake_row >= 0
        not_improved = has_intake & ~course.improved
        deteriorated = has_intake & course.deteriorated

        over = dose > expected
        dose_alarm = onsets(over & deteriorated, codes)
        dose_warn = onsets(over & not_improved, codes) & ~dose_alarm

        days = dates_in_days(data)
        freq = np.zeros(n, dtype=bool)
        recent_median = first_median = np.zeros(n)
        if days is not None and self.window is not None:
            freq, recent_median, first_median = self._quickening(
                data, attended, days, not_improved
            )

        hit = dose_alarm | dose_warn | freq
        if not hit.any():
            return empty_events()
        dose_hit = dose_alarm | dose_warn
        picked = np.flatnonzero(hit)
        frame = long.frame
        times = frame["time"].to_numpy()
        scores = frame["score"].to_numpy(dtype=np.float64)

        window = self.window
        at_dose, quick = dose_hit[picked], freq[picked]
        parts = join_texts(
            len(picked),
            [
                (at_dose, labels(dose[picked[at_dose]])
                 + f" sessions attended, past the {expected_text}"),
                (quick, f"median interval of the last {window} sessions "
                 + labels(np.round(recent_median[picked[quick]], 1))
                 + f" days < {label(self.frequency_factor)} x "
                 + labels(np.round(first_median[picked[quick]], 1))
                 + f" days over the first {window}"),
            ],
        )
        evidence = (
            "session " + labels(times[picked]) + ": " + parts + "; "
            + self._gain_texts(picked, course, scores, times)
        )
        factor = float(self.frequency_factor)
        return make_events(
            self,
            patient=patient_ids(data, picked),
            session=times[picked],
            level=np.where(dose_alarm[picked], "alarm", "warning"),
            value=np.where(dose_hit[picked], dose[picked], recent_median[picked]),
            threshold=np.where(dose_hit[picked], expected, factor * first_median[picked]),
            evidence=evidence,
        )

    def _quickening(
        self, data: ScreenInput, attended: np.ndarray, days: np.ndarray, not_improved: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        window = int(self.window or 0)
        codes = data.long.codes
        n = len(codes)
        contact_rows = np.flatnonzero(attended & ~np.isnan(days))
        contact_codes = codes[contact_rows]
        interval = np.diff(days[contact_rows], prepend=np.nan)
        interval[group_starts(contact_codes)] = np.nan
        # Rolling median per patient, vectorised over all patients at once.
        recent = rolling_median(interval, contact_codes, window)
        # Interval m ends at the patient's contact m (0-based); the first window is intervals
        # 1..window, complete at m == window; the two windows do not overlap from m == 2 window.
        m = position_in_group(contact_codes)
        first_of_patient = np.full(data.long.n_patients, np.nan)
        complete = m == window
        first_of_patient[contact_codes[complete]] = recent[complete]
        first = first_of_patient[contact_codes]
        with np.errstate(invalid="ignore"):
            quick = (
                (m >= 2 * window)
                & (recent < float(self.frequency_factor) * first)
                & not_improved[contact_rows]
            )
        flagged = np.zeros(n, dtype=bool)
        flagged[contact_rows[onsets(quick, contact_codes)]] = True
        recent_all, first_all = np.zeros(n), np.zeros(n)
        recent_all[contact_rows] = np.nan_to_num(recent)
        first_all[contact_rows] = np.nan_to_num(first)
        return flagged, recent_all, first_all

    @staticmethod
    def _gain_texts(
        rows: np.ndarray, course: ScoreCourse, scores: np.ndarray, times: np.ndarray
    ) -> np.ndarray:
        """The change from intake at each of ``rows``, in words."""
        latest, intake = course.latest_row[rows], course.intake_row[rows]
        verdict = np.where(
            course.deteriorated[rows], "reliably worse", "no reliable improvement"
        ).astype(object)
        return (
            "score " + labels(scores[latest]) + " at session " + labels(times[latest])
            + " vs intake " + labels(scores[intake]) + " at session " + labels(times[intake])
            + ": " + labels(course.worsening[rows], describe_change) + ", " + verdict
            + f" ({course.rule})"
        )
