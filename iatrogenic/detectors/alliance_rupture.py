"""Alliance rupture: the alliance score falls below its concern threshold or drops sharply."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import instruments as _instruments
from .._validation import check_number
from ..exceptions import UnknownNameError
from ._sequences import column_values, observed_rows, onsets, patient_ids, previous_in_group
from .base import Detector, ScreenInput, empty_events, join_texts, label, labels, make_events
from .registry import register_detector

__all__ = ["AllianceRupture"]


def _srs_threshold() -> float | None:
    """The SRS concern threshold from the instrument registry (36), if registered."""
    try:
        caseness = _instruments.get("srs").caseness
    except UnknownNameError:  # a user may have unregistered it
        return None
    return float(caseness.threshold) if caseness is not None else None


@register_detector
class AllianceRupture(Detector):
    """Flag a session whose alliance rating is low or has dropped sharply since the last one.

    The alliance score is read from the column given to the screen as ``alliance=`` (e.g. the
    Session Rating Scale total, 0-40). Higher is better, as on the SRS and most alliance measures.
    Sessions without a rating are skipped: "previous" means the previous *rated* session.

    - **Alarm**: the score fell by ``drop`` points or more since the previous rating (a sharp
      fall is the pattern of a rupture, whatever the level it starts from).
    - **Warning**: the score is below ``threshold`` (raised when it gets there, not again while
      it stays below; a later drop still raises an alarm).

    One event per session: a drop that also lands below the threshold is one alarm whose
    evidence says both. ``value`` is the drop in points (alarm) or the score (warning);
    ``threshold`` is ``drop`` or ``threshold`` accordingly.

    Each rule uses the current and earlier ratings only, so the detector is causal.

    Parameters
    ----------
    threshold : float, optional
        Concern threshold: a score below it is a warning. Default the SRS threshold of the
        instrument registry, 36 (Duncan et al. 2003; PCOMS guidance: a total below 36 flags a
        possible alliance problem to discuss with the client). Give it for another measure.
    drop : float or None, default 5
        Least fall between consecutive ratings that raises an alarm; None: off. Project
        default: no published session-to-session threshold for the SRS could be confirmed, so 5
        points is taken from the reliable-change value of its sister scale, the ORS (Miller et
        al. 2003), which has the same four 0-10 visual-analogue items.

    References
    ----------
    Duncan BL, Miller SD, Sparks JA, Claud DA, Reynolds LR, Brown J, Johnson LD (2003). The
    Session Rating Scale: preliminary psychometric properties of a "working" alliance measure.
    Journal of Brief Therapy 3(1):3-12.

    Miller SD, Duncan BL, Brown J, Sparks JA, Claud DA (2003). The Outcome Rating Scale: a
    preliminary study of the reliability, validity, and feasibility of a brief visual analog
    measure. Journal of Brief Therapy 2(2):91-100.

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> from iatrogenic.detectors.alliance_rupture import AllianceRupture
    >>> data = pd.DataFrame({"patient": 1, "session": [1, 2, 3, 4, 5],
    ...                      "phq9": [15, 14, 14, 13, 12], "srs": [38, 35, 34, 39, 33]})
    >>> events = ia.screen(data, score="phq9", alliance="srs", detectors=[AllianceRupture()])
    >>> events[["session", "level", "value", "threshold"]]
      session    level  value  threshold
    0       2  warning   35.0       36.0
    1       5    alarm    6.0        5.0
    """

    name = "alliance_rupture"
    harm = "alliance_rupture"
    needs = ("alliance",)
    description = (
        "Alliance score (e.g. SRS) below its concern threshold (warning; SRS < 36) or falling "
        "by 5 points or more since the previous session (alarm)."
    )
    _invalid_params = ({"threshold": "36"}, {"drop": 0}, {"drop": -5.0})

    def __init__(self, *, threshold: float | None = None, drop: float | None = 5) -> None:
        caller = "AllianceRupture"
        self.threshold = check_number(threshold, name="threshold", caller=caller, allow_none=True)
        self.drop = check_number(
            drop, name="drop", caller=caller, low=0, low_inclusive=False, allow_none=True
        )

    def _threshold(self) -> float | None:
        return float(self.threshold) if self.threshold is not None else _srs_threshold()

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        column = data.columns["alliance"]
        values = np.asarray(column_values(data, "alliance"), dtype=np.float64)
        rows = observed_rows(values)
        if len(rows) == 0:
            return empty_events()
        score = values[rows]
        codes = data.long.codes[rows]
        prev = previous_in_group(score, codes)
        fall = prev - score
        threshold = self._threshold()

        dropped = fall >= self.drop if self.drop is not None else np.zeros(len(rows), bool)
        below = score < threshold if threshold is not None else np.zeros(len(rows), bool)
        low_onset = onsets(below, codes)
        hit = dropped | low_onset
        if not hit.any():
            return empty_events()

        picked = np.flatnonzero(hit)
        frame = data.long.frame
        times = frame["time"].to_numpy()
        prev_rows = previous_in_group(rows, codes, fill=-1).astype(np.int64)
        previous = prev_rows[picked]
        has_previous = previous >= 0
        before = np.full(len(picked), " (first rating)", dtype=object)
        before[has_previous] = (
            " (previous " + labels(values[previous[has_previous]]) + " at session "
            + labels(times[previous[has_previous]]) + ")"
        )
        reasons = join_texts(
            len(picked),
            [
                (dropped[picked], "fell " + labels(fall[picked][dropped[picked]])
                 + f" points (>= {label(self.drop)})"),
                (below[picked], f"below the concern threshold {label(threshold)}"),
            ],
        )
        evidence = (
            f"{column} " + labels(score[picked]) + " at session " + labels(times[rows[picked]])
            + before + ": " + reasons
        )
        return make_events(
            self,
            patient=patient_ids(data, rows[picked]),
            session=times[rows[picked]],
            level=np.where(dropped[picked], "alarm", "warning"),
            value=np.where(dropped[picked], fall[picked], score[picked]),
            threshold=np.where(
                dropped[picked],
                self.drop if self.drop is not None else np.nan,
                threshold if threshold is not None else np.nan,
            ),
            evidence=evidence,
        )
