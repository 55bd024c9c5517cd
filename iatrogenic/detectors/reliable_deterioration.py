"""Reliable deterioration from intake, session by session."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import check_choice, check_fraction, check_positive
from ..core.rci import critical_difference
from ..exceptions import ParameterError
from ._sequences import patient_ids
from .base import Detector, ScreenInput, empty_events, formatted, labels, make_events
from .registry import register_detector

__all__ = ["ReliableDeterioration"]


def _intake_scores(data: ScreenInput) -> np.ndarray:
    """Each patient's first observed score (NaN for a patient with none)."""
    scores = data.long.frame["score"].to_numpy()
    rows = np.flatnonzero(~np.isnan(scores))
    codes = data.long.codes[rows]
    first = np.r_[True, codes[1:] != codes[:-1]] if len(rows) else np.zeros(0, dtype=bool)
    intake = np.full(data.long.n_patients, np.nan)
    intake[codes[first]] = scores[rows[first]]
    return intake


@register_detector
class ReliableDeterioration(Detector):
    """Flag the session at which a patient's score becomes reliably worse than at intake.

    At every session with a score, the change from the patient's first observed score (intake) is
    compared with the Jacobson & Truax (1991) critical difference
    ``z(1 - alpha/2) * sd * sqrt(2 * (1 - reliability))``, or with the instrument's published fixed
    rule (e.g. 6 points on the PHQ-9). By default (``rule="auto"``) the RCI is used when an SD is
    known (``sd=`` or the instrument's), else the instrument's published rule, else the RCI with
    the SD of all patients' intake scores; the first two keep every patient's result independent
    of who else is in the batch. An alarm is raised each time the patient
    enters the deteriorated state (so a patient who recovers and deteriorates again is flagged
    again). The evidence says "harmed" when the patient also crossed from the functional into the
    clinical range of the instrument.

    The rule uses only the intake and the current score, so it is causal.

    Parameters
    ----------
    reliability : float, optional
        Reliability for the RCI; default the instrument's.
    sd : float, optional
        SD for the RCI; default the instrument's, else the SD of all patients' intake scores.
    alpha : float, default 0.05
        Two-sided significance level of the RCI (0.05 gives z = 1.96).
    rule : {"auto", "statistical", "fixed"}, default "auto"
        ``"statistical"``: the RCI; ``"fixed"``: ``points`` or the instrument's published
        reliable-change threshold; ``"auto"``: as described above.
    points : float, optional
        Fixed threshold in points for ``rule="fixed"``.
    boundary : {"strict", "inclusive"}, optional
        Whether a change exactly at the threshold counts (``"inclusive"``) or must exceed it.
        Default: strict for the RCI (``|RCI| > z``, as clinicalsignificance), inclusive for the
        fixed rules, which are published as "6 points or more".

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> data = pd.DataFrame({"patient": [1, 1, 1, 2, 2], "session": [1, 2, 3, 1, 2],
    ...                      "score": [10, 14, 19, 12, 8]})
    >>> rule = ia.get_detector("reliable_deterioration", rule="fixed")  # PHQ-9: 6 points or more
    >>> events = ia.screen(data, instrument="phq9", detectors=[rule])
    >>> events[["patient", "session", "value", "threshold"]]
      patient session  value  threshold
    0       1       3    9.0        6.0
    """

    name = "reliable_deterioration"
    harm = "deterioration"
    needs = ("score",)
    description = (
        "Score reliably worse than at intake (Jacobson-Truax RCI or the instrument's fixed rule); "
        "notes 'harmed' when the patient also moved from the functional to the clinical range."
    )
    _invalid_params = (
        {"alpha": 1.5},
        {"reliability": 1.2},
        {"sd": -1.0},
        {"rule": "magic"},
        {"boundary": "soft"},
    )

    def __init__(
        self,
        *,
        reliability: float | None = None,
        sd: float | None = None,
        alpha: float = 0.05,
        rule: str = "auto",
        points: float | None = None,
        boundary: str | None = None,
    ) -> None:
        caller = "ReliableDeterioration"
        self.reliability = check_fraction(
            reliability, name="reliability", caller=caller, allow_none=True
        )
        self.sd = check_positive(sd, name="sd", caller=caller, allow_none=True)
        self.alpha = check_fraction(alpha, name="alpha", caller=caller)
        self.rule = check_choice(
            rule, ["auto", "statistical", "fixed"], name="rule", caller=caller
        )
        self.points = check_positive(points, name="points", caller=caller, allow_none=True)
        self.boundary = (
            None
            if boundary is None
            else check_choice(boundary, ["strict", "inclusive"], name="boundary", caller=caller)
        )

    def resolved_rule(self, data: ScreenInput) -> str:
        """The rule applied to ``data``: ``"statistical"`` or ``"fixed"``."""
        if self.rule != "auto":
            return self.rule
        instrument = data.instrument
        has_sd = self.sd is not None or (instrument is not None and instrument.sd is not None)
        has_fixed = self.points is not None or (
            instrument is not None and instrument.fixed_rule is not None
        )
        return "fixed" if has_fixed and not has_sd else "statistical"

    def resolved_boundary(self, data: ScreenInput) -> str:
        """Strict for the RCI (as clinicalsignificance), inclusive for published fixed rules."""
        if self.boundary is not None:
            return self.boundary
        return "inclusive" if self.resolved_rule(data) == "fixed" else "strict"

    def missing_inputs(self, data: ScreenInput) -> list[str]:
        missing = super().missing_inputs(data)
        instrument = data.instrument
        if self.resolved_rule(data) == "fixed":
            if self.points is None and (instrument is None or instrument.fixed_rule is None):
                missing.append("points (a fixed reliable-change rule: pass points= or instrument=)")
        elif self.reliability is None and (instrument is None or instrument.reliability is None):
            missing.append("reliability (pass instrument= or reliability=)")
        elif not missing and self._threshold(data, _intake_scores(data)) is None:
            missing.append(
                "an SD for the reliable change index (pass sd=, an instrument with an SD or a "
                "fixed rule; the intake scores here are too few or all equal to give one)"
            )
        return missing

    def _threshold(self, data: ScreenInput, intake: np.ndarray) -> float | None:
        """The change in points that counts as reliable; None when no SD can be had."""
        instrument = data.instrument
        if self.resolved_rule(data) == "fixed":
            if self.points is not None:
                return float(self.points)
            if instrument is not None and instrument.fixed_rule is not None:
                return float(instrument.fixed_rule.points)
        reliability = self.reliability
        if reliability is None and instrument is not None:
            reliability = instrument.reliability
        sd = self.sd if self.sd is not None else (instrument.sd if instrument else None)
        if sd is None:
            sd = data.intake_sd("score", intake)
        if reliability is None or not np.isfinite(sd) or sd <= 0:
            return None
        return critical_difference(sd, reliability, alpha=self.alpha)

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        frame = data.long.frame
        scores = frame["score"].to_numpy()
        codes = data.long.codes
        scored = ~np.isnan(scores)
        if not scored.any():
            return empty_events()
        # Intake = first observed score of each patient (rows are sorted by patient and time).
        rows = np.flatnonzero(scored)
        row_codes = codes[rows]
        first_of_patient = np.r_[True, row_codes[1:] != row_codes[:-1]]
        intake_by_patient = np.full(data.long.n_patients, np.nan)
        intake_by_patient[row_codes[first_of_patient]] = scores[rows[first_of_patient]]
        threshold = self._threshold(data, intake_by_patient)
        if threshold is None:
            raise ParameterError(
                "ReliableDeterioration needs a reliability and a positive SD: pass instrument=, "
                "or reliability= and sd= (the SD of intake scores could not be computed)."
            )

        intake = intake_by_patient[row_codes]
        sign = 1.0 if data.better == "lower" else -1.0
        worsening = sign * (scores[rows] - intake)
        if self.resolved_boundary(data) == "strict":
            deteriorated = worsening > threshold
        else:
            deteriorated = worsening >= threshold
        # An event where the state switches on: deteriorated now, not at the previous scored visit.
        previous = np.r_[False, deteriorated[:-1]] & ~first_of_patient
        onset = deteriorated & ~previous
        hits = rows[onset]
        if len(hits) == 0:
            return empty_events()

        intake_rows = rows[first_of_patient][
            np.searchsorted(row_codes[first_of_patient], codes[hits])
        ]
        evidence = self._evidence(data, hits, intake_rows, worsening[onset], threshold)
        return make_events(
            self,
            patient=patient_ids(data, hits),
            session=frame["time"].to_numpy()[hits],
            level="alarm",
            value=worsening[onset],
            threshold=threshold,
            evidence=evidence,
        )

    def _evidence(
        self,
        data: ScreenInput,
        hits: np.ndarray,
        intake_rows: np.ndarray,
        worsening: np.ndarray,
        threshold: float,
    ) -> np.ndarray:
        frame = data.long.frame
        score = frame["score"].to_numpy()
        time = frame["time"].to_numpy()
        inclusive = self.resolved_boundary(data) == "inclusive"
        rule = (
            f"fixed rule: {'>=' if inclusive else '>'} {threshold:g} points"
            if self.resolved_rule(data) == "fixed"
            else f"RCI critical difference {threshold:.2f} points at alpha {self.alpha:g}"
        )
        harmed = np.zeros(len(hits), dtype=bool)
        caseness = data.instrument.caseness if data.instrument else None
        if caseness is not None:
            harmed = ~caseness.is_clinical(score[intake_rows]) & caseness.is_clinical(score[hits])
        return (
            "score " + formatted(score[hits], "g") + " at session " + labels(time[hits])
            + " vs intake " + formatted(score[intake_rows], "g") + " at session "
            + labels(time[intake_rows]) + ": " + formatted(worsening, "+g")
            + f" points worse ({rule})"
            + np.where(
                harmed, "; moved from the functional into the clinical range (harmed)", ""
            ).astype(object)
        )
