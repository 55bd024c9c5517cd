"""New symptoms: items low at intake become elevated; a second measure reaches caseness."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import instruments as _instruments
from .._validation import check_number
from ..exceptions import ParameterError, ParameterTypeError
from ._sequences import patient_ids
from .base import Detector, ScreenInput, empty_events, formatted, labels, make_events
from .registry import register_detector

__all__ = ["SymptomEmergence"]


def _runs(
    values: np.ndarray, codes: np.ndarray, intake_ok: Any, elevated: Any, persist: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flags of runs of consecutive elevated observations after a low intake, per patient.

    ``values`` is one column of the sorted long frame; missing values are skipped. A run's first
    observation is flagged (a warning, when ``persist > 1``) and so is its ``persist``-th (the
    alarm). Returns, in frame order, the frame rows flagged, whether each is the alarm, the
    frame row at which its run began and the row of the patient's intake (the first observed
    value).

    Only the runs' first and last observations are located over all rows; the rest is per run.
    """
    observed = np.flatnonzero(~np.isnan(values))
    row_codes = codes[observed]
    first = np.ones(len(observed), dtype=bool)
    np.not_equal(row_codes[1:], row_codes[:-1], out=first[1:])
    intake_rows = np.full(int(codes[-1]) + 1 if len(codes) else 0, -1, dtype=np.int64)
    intake_rows[row_codes[first]] = observed[first]
    eligible = np.zeros(len(intake_rows), dtype=bool)
    eligible[row_codes[first]] = intake_ok(values[observed[first]])
    hot = elevated(values[observed]) & eligible[row_codes]
    hot &= ~first
    # A patient's intake is never hot, so runs never cross patients.
    onset = hot.copy()
    onset[1:] &= ~hot[:-1]
    end = hot.copy()
    end[:-1] &= ~hot[1:]
    run_first, run_last = np.flatnonzero(onset), np.flatnonzero(end)
    long_enough = run_last - run_first + 1 >= persist
    alarms = run_first[long_enough] + (persist - 1)
    warnings = run_first if persist > 1 else run_first[:0]
    positions = np.concatenate([warnings, alarms])
    began = np.concatenate([warnings, run_first[long_enough]])
    is_alarm = np.r_[np.zeros(len(warnings), dtype=bool), np.ones(len(alarms), dtype=bool)]
    order = np.argsort(positions, kind="stable")
    positions, began, is_alarm = positions[order], began[order], is_alarm[order]
    return (
        observed[positions], is_alarm, observed[began], intake_rows[row_codes[positions]]
    )


@register_detector
class SymptomEmergence(Detector):
    """Flag symptoms that were absent at intake and emerge during treatment.

    Two signals, each computed per column:

    * **Items** (``items=`` of the screen): an item scored ``<= low`` at intake (the patient's
      first observed score on that item) that rises to ``>= high``. A **warning** is raised at the
      first elevated session; an **alarm** when the item has stayed ``>= high`` for ``persist``
      consecutive observed sessions (missing scores are skipped, not counted as a break). A fall
      below ``high`` ends the run; a later rise starts a new warning.
    * **Secondary measures** (``secondary=`` of the screen) whose registry instrument has a caseness
      cut-off, e.g. ``{"gad7": "gad7"}`` (GAD-7 >= 8): a patient below caseness at intake whose
      score moves into caseness, e.g. clinically significant anxiety emerging in a patient treated
      for depression. Warning and alarm as for items. Secondary measures without a caseness
      cut-off (``None`` or an instrument without one) are left to ``secondary_worsening``.

    Every flag uses the intake and the scores up to the current session only, so the rule is
    causal: a screen of data up to session t gives exactly the full screen's events up to t.

    Parameters
    ----------
    low : float, default 1
        Highest intake item score counted as "absent or low". On the PHQ-9 and GAD-7 items
        (0 not at all, 1 several days, 2 more than half the days, 3 nearly every day; Spitzer et
        al. 1999, Kroenke et al. 2001, Spitzer et al. 2006) 1 means "several days", below the
        threshold at which the PHQ's diagnostic algorithm counts a symptom as present.
    high : float, default 2
        Lowest item score counted as elevated: "more than half the days", the threshold at which
        the PHQ diagnostic algorithm counts a symptom as present (Spitzer et al. 1999; Kroenke et
        al. 2001). Must exceed ``low``.
    persist : int, default 2
        Consecutive observed sessions at ``>= high`` (or in caseness) before the alarm. A project
        choice: one elevated score can be measurement noise (a PHQ-9 item has no published
        reliable-change value), two in a row is the smallest run that shows persistence. With
        ``persist=1`` the first elevation raises the alarm and no warning.
    use_caseness : bool, default True
        Also screen the secondary measures that have a caseness cut-off.

    Notes
    -----
    ``value`` is the item score (or secondary score) at the flagged session and ``threshold`` is
    ``high`` (or the instrument's caseness cut-off).

    References
    ----------
    Spitzer RL, Kroenke K, Williams JBW (1999). Validation and utility of a self-report version of
    PRIME-MD: the PHQ primary care study. JAMA 282(18):1737-1744.
    Kroenke K, Spitzer RL, Williams JBW (2001). The PHQ-9. J Gen Intern Med 16(9):606-613.
    Spitzer RL, Kroenke K, Williams JBW, Löwe B (2006). The GAD-7. Arch Intern Med
    166(10):1092-1097.

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> from iatrogenic.detectors.symptom_emergence import SymptomEmergence
    >>> data = pd.DataFrame({"patient": 1, "session": [1, 2, 3, 4],
    ...                      "score": [12, 13, 15, 16], "item4": [0, 1, 2, 3]})
    >>> events = ia.screen(data, instrument="phq9", items=["item4"],
    ...                    detectors=[SymptomEmergence()])
    >>> events[["patient", "session", "level", "value", "threshold"]]
      patient session    level  value  threshold
    0       1       3  warning    2.0        2.0
    1       1       4    alarm    3.0        2.0
    """

    name = "symptom_emergence"
    harm = "symptom_emergence"
    needs = ("items|secondary",)
    description = (
        "Item low at intake (<= 1 of 3) becomes elevated (>= 2): warning, alarm when it persists "
        "for 2 observed sessions; same for a secondary measure crossing into caseness."
    )
    _invalid_params = (
        {"low": "one"},
        {"high": float("nan")},
        {"low": 2.0, "high": 2.0},
        {"persist": 0},
        {"persist": 1.5},
        {"use_caseness": "yes"},
    )

    def __init__(
        self,
        *,
        low: float = 1,
        high: float = 2,
        persist: int = 2,
        use_caseness: bool = True,
    ) -> None:
        caller = "SymptomEmergence"
        self.low = check_number(low, name="low", caller=caller)
        self.high = check_number(high, name="high", caller=caller)
        if not self.low < self.high:
            raise ParameterError(
                f"The 'low' parameter of {caller}() must be below 'high'. Got low={low!r}, "
                f"high={high!r}. Suggestion: low=1, high=2 for items scored 0-3."
            )
        self.persist = check_number(persist, name="persist", caller=caller, low=1, integer=True)
        if not isinstance(use_caseness, (bool, np.bool_)):
            raise ParameterTypeError(
                f"The 'use_caseness' parameter of {caller}() must be True or False. "
                f"Got {use_caseness!r} instead."
            )
        self.use_caseness = bool(use_caseness)

    def _caseness_columns(self, data: ScreenInput) -> dict[str, _instruments.Instrument]:
        if not self.use_caseness:
            return {}
        secondary = data.options.get("secondary") or {}
        out = {}
        for column, name in secondary.items():
            if name is None:
                continue
            instrument = _instruments.get(name)
            if instrument.caseness is not None:
                out[column] = instrument
        return out

    def missing_inputs(self, data: ScreenInput) -> list[str]:
        if data.options.get("items") or self._caseness_columns(data):
            return []
        return [
            "items= (item score columns) or secondary= with an instrument that has a caseness "
            "cut-off (e.g. secondary={'gad7': 'gad7'})"
        ]

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        frame = data.long.frame
        codes = data.long.codes
        time = frame["time"].to_numpy()
        tables = []
        for column in data.options.get("items") or []:
            tables.append(
                self._column_events(
                    frame[column].to_numpy(dtype=np.float64),
                    codes,
                    time,
                    data,
                    what=f"item {column}",
                    intake_ok=lambda v: v <= self.low,
                    elevated=lambda v: v >= self.high,
                    intake_text=f"<= {self.low:g}",
                    high_text=f">= {self.high:g}",
                    threshold=self.high,
                )
            )
        for column, inst in self._caseness_columns(data).items():
            caseness = inst.caseness
            if caseness is None:  # pragma: no cover - filtered by _caseness_columns
                continue
            tables.append(
                self._column_events(
                    frame[column].to_numpy(dtype=np.float64),
                    codes,
                    time,
                    data,
                    what=f"{inst.label} ({column})",
                    intake_ok=lambda v, c=caseness: ~c.is_clinical(v),
                    elevated=lambda v, c=caseness: c.is_clinical(v),
                    intake_text="below caseness",
                    high_text=f"caseness {caseness.clinical_if} {caseness.threshold:g}",
                    threshold=float(caseness.threshold),
                )
            )
        tables = [t for t in tables if len(t)]
        if not tables:
            return empty_events()
        return pd.concat(tables, ignore_index=True)

    def _column_events(
        self,
        values: np.ndarray,
        codes: np.ndarray,
        time: np.ndarray,
        data: ScreenInput,
        *,
        what: str,
        intake_ok: Any,
        elevated: Any,
        intake_text: str,
        high_text: str,
        threshold: float,
    ) -> pd.DataFrame:
        hits, is_alarm, starts, intakes = _runs(
            values, codes, intake_ok, elevated, self.persist
        )
        if len(hits) == 0:
            return empty_events()
        level = np.where(is_alarm, "alarm", "warning")
        n = self.persist
        course = np.full(
            len(hits),
            f"first elevated session; alarm if still {high_text} for {n} observed sessions",
            dtype=object,
        )
        course[is_alarm] = (
            f"elevated for {n} consecutive observed session{'s' if n > 1 else ''} since session "
            + labels(time[starts[is_alarm]])
        )
        evidence = (
            f"{what} = " + formatted(values[hits], "g") + " at session " + labels(time[hits])
            + f" ({high_text}); intake " + formatted(values[intakes], "g") + " at session "
            + labels(time[intakes]) + f" ({intake_text}); " + course
        )
        return make_events(
            self,
            patient=patient_ids(data, hits),
            session=time[hits],
            level=level,
            value=values[hits],
            threshold=threshold,
            evidence=evidence,
        )
