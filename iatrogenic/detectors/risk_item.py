"""The instrument's self-harm item: a rise from zero, a jump, the maximum, or persistence."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_number, describe_rows
from ..exceptions import OutOfRangeError
from ._sequences import (
    column_values,
    observed_rows,
    onsets,
    patient_blocks,
    patient_ids,
    previous_in_group,
    run_lengths,
)
from .base import Detector, ScreenInput, empty_events, join_texts, label, labels, make_events
from .registry import register_detector

__all__ = ["RiskItemSignal"]


@register_detector
class RiskItemSignal(Detector):
    """Flag changes of the instrument's self-harm item (e.g. PHQ-9 item 9).

    The item is read from the column given to the screen as ``risk_item=`` (by default the
    instrument's registered risk-item column, e.g. ``phq9_item9``, when it is in the data).
    Sessions where the item is missing are skipped: "previous" means the previous *observed*
    value of the same patient.

    **Alarm** at a session where any of these holds:

    - *rise from zero*: the previous observed value was 0 and this one is above 0;
    - *jump*: the item rose by ``jump`` points or more since the previous observed value;
    - *maximum*: the item reaches ``maximum`` (raised when it gets there, not again while it
      stays there).

    **Warning** at the session where the item has been non-zero at ``persist`` consecutive
    observed sessions (once per run of non-zero values).

    One event per session: when several triggers hold, the level is the highest and the evidence
    lists them all; ``value`` and ``threshold`` are those of the first in the order maximum
    (item, maximum), jump (rise in points, ``jump``), rise from zero (item, 0), persistence (run
    length, ``persist``).

    Every trigger compares the current value with earlier ones only, so the detector is causal.

    Parameters
    ----------
    jump : float or None, default 2
        Least rise between consecutive observed values that raises an alarm; None: off. Project
        default: 2 points is two response categories on a 0-3 item ("not at all" to "more than
        half the days"), the step Simon et al. (2013) found to separate markedly higher risk.
    maximum : float, optional
        The item's maximum; default the instrument's registered risk-item range (3 for PHQ-9 item
        9, Kroenke et al. 2001). When neither is known the maximum rule is skipped (the largest
        value seen so far would not be causal).
    persist : int or None, default 2
        Number of consecutive observed non-zero values that raises a warning; None: off. Project
        default, following the guidance that any positive response warrants assessment
        (Kroenke et al. 2001; Simon et al. 2013): two sessions in a row means it has not resolved.

    Notes
    -----
    The item must be scored from 0 (absent); values below 0 or above ``maximum`` are an error.
    A non-zero value at the first observation raises nothing by itself (the harm screened for is
    ideation that appears or grows during therapy); it counts towards persistence.

    References
    ----------
    Kroenke K, Spitzer RL, Williams JBW (2001). The PHQ-9: validity of a brief depression severity
    measure. J Gen Intern Med 16(9):606-613.

    Simon GE, Rutter CM, Peterson D, et al. (2013). Does response on the PHQ-9 depression
    questionnaire predict subsequent suicide attempt or suicide death? Psychiatr Serv
    64(12):1195-1202. doi:10.1176/appi.ps.201200587

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> from iatrogenic.detectors.risk_item import RiskItemSignal
    >>> data = pd.DataFrame({"patient": 1, "session": [1, 2, 3, 4],
    ...                      "phq9": [14, 15, 17, 18], "phq9_item9": [0, 1, 1, 3]})
    >>> events = ia.screen(data, score="phq9", instrument="phq9", detectors=[RiskItemSignal()])
    >>> events[["session", "level", "value", "threshold"]]
      session    level  value  threshold
    0       2    alarm    1.0        0.0
    1       3  warning    2.0        2.0
    2       4    alarm    3.0        3.0
    """

    name = "risk_item"
    harm = "self_harm"
    needs = ("risk_item",)
    description = (
        "The instrument's self-harm item rises from zero, jumps (>= 2 points) or reaches its "
        "maximum (alarm), or stays non-zero at consecutive sessions (warning)."
    )
    _invalid_params = (
        {"jump": 0},
        {"jump": "two"},
        {"maximum": -1.0},
        {"persist": 1},
        {"persist": 2.5},
    )

    def __init__(
        self,
        *,
        jump: float | None = 2,
        maximum: float | None = None,
        persist: int | None = 2,
    ) -> None:
        caller = "RiskItemSignal"
        self.jump = check_number(
            jump, name="jump", caller=caller, low=0, low_inclusive=False, allow_none=True
        )
        self.maximum = check_number(
            maximum, name="maximum", caller=caller, low=0, low_inclusive=False, allow_none=True
        )
        self.persist = check_number(
            persist, name="persist", caller=caller, low=2, integer=True, allow_none=True
        )

    def _maximum(self, data: ScreenInput) -> float | None:
        if self.maximum is not None:
            return float(self.maximum)
        item = data.instrument.risk_item if data.instrument is not None else None
        return float(item.high) if item is not None else None

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        column = data.columns["risk_item"]
        values = np.asarray(column_values(data, "risk_item"), dtype=np.float64)
        maximum = self._maximum(data)
        self._check_range(data, values, column, maximum)

        # blocks of whole patients: the per-row work stays in cache, and only the flagged rows
        # (a few) are kept, so no full-length temporary is made
        found = [
            self._block_hits(values, data.long.codes, begin, end, maximum)
            for begin, end in itertools.pairwise(patient_blocks(data.long.starts))
        ]
        if not found:
            return empty_events()
        hits = {key: np.concatenate([block[key] for block in found]) for key in found[0]}
        if len(hits["row"]) == 0:
            return empty_events()
        frame = data.long.frame
        rows = hits["row"]
        times = frame["time"].to_numpy()
        at_max, jumped = hits["at_max"], hits["jumped"]
        from_zero, persistent = hits["from_zero"], hits["persistent"]
        item, rise, run = hits["item"], hits["rise"], hits["run"]
        value = np.select([at_max, jumped, from_zero], [item, rise, item], run.astype(float))
        threshold = np.select(
            [at_max, jumped, from_zero],
            [maximum if maximum is not None else np.nan,
             self.jump if self.jump is not None else np.nan, 0.0],
            float(self.persist or 0),
        )
        evidence = self._evidence(
            column, rows, item, times, values, hits["previous"],
            [
                (at_max, f"reached the item's maximum {label(maximum)}"),
                (jumped, "jump of " + labels(rise[jumped]) + f" (>= {label(self.jump)})"),
                (from_zero, "rose from 0 (any positive response warrants assessment)"),
                (persistent, "non-zero at " + labels(run[persistent])
                 + f" consecutive observed sessions (>= {label(self.persist)})"),
            ],
        )
        return make_events(
            self,
            patient=patient_ids(data, rows),
            session=times[rows],
            level=np.where(at_max | jumped | from_zero, "alarm", "warning"),
            value=value,
            threshold=threshold,
            evidence=evidence,
        )

    def _block_hits(
        self, values: np.ndarray, codes: np.ndarray, begin: int, end: int,
        maximum: float | None,
    ) -> dict[str, np.ndarray]:
        """The flagged rows of rows ``begin:end`` (whole patients) and what their events need."""
        rows = observed_rows(values[begin:end]) + begin
        item = values[rows]
        row_codes = codes[rows]
        prev = previous_in_group(item, row_codes)
        rise = item - prev
        from_zero = (prev == 0) & (item > 0)
        jumped = rise >= self.jump if self.jump is not None else np.zeros(len(rows), bool)
        at_max = (
            onsets(item >= maximum, row_codes) if maximum is not None
            else np.zeros(len(rows), bool)
        )
        run = run_lengths(item > 0, row_codes)
        persistent = run == self.persist if self.persist is not None else np.zeros(len(rows), bool)
        picked = np.flatnonzero(from_zero | jumped | at_max | persistent)
        previous = previous_in_group(rows, row_codes, fill=-1).astype(np.int64)
        return {
            "row": rows[picked], "item": item[picked], "rise": rise[picked], "run": run[picked],
            "at_max": at_max[picked], "jumped": jumped[picked], "from_zero": from_zero[picked],
            "persistent": persistent[picked], "previous": previous[picked],
        }

    @staticmethod
    def _evidence(
        column: str,
        rows: np.ndarray,
        item: np.ndarray,
        times: np.ndarray,
        values: np.ndarray,
        previous: np.ndarray,
        reasons: list[tuple[np.ndarray, Any]],
    ) -> np.ndarray:
        """The evidence of the events at ``rows`` (``previous``: the prior observed row or -1)."""
        before = np.full(len(rows), " (first observed value)", dtype=object)
        known = previous >= 0
        before[known] = (
            " (previous " + labels(values[previous[known]]) + " at session "
            + labels(times[previous[known]]) + ")"
        )
        return (
            f"{column} " + labels(item) + " at session " + labels(times[rows]) + before + ": "
            + join_texts(len(rows), reasons)
        )

    @staticmethod
    def _check_range(
        data: ScreenInput, values: np.ndarray, column: str, maximum: float | None
    ) -> None:
        outside = values < 0
        if maximum is not None:
            outside |= values > maximum
        bad = np.flatnonzero(outside)
        if len(bad):
            frame = data.long.frame
            shown = pd.DataFrame(
                {"patient": frame["patient"], "session": frame["time"], column: values}
            )
            high = "inf" if maximum is None else label(maximum)
            raise OutOfRangeError(
                f"Column {column!r} (given as risk_item=) has values outside the item's range "
                f"[0, {high}]; {describe_rows(shown, bad, ['patient', 'session', column])}. "
                "Suggestion: check that the column is the self-harm item scored from 0, or pass "
                "RiskItemSignal(maximum=...) for an item with another range."
            )
