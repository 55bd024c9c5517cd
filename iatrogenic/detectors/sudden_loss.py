"""Sudden losses (Tang & DeRubeis criteria mirrored), raised as soon as the data confirm them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import LongData, check_number
from ..core.sudden_changes import (
    Grid,
    Settings,
    _check_bool,
    compute_intervals,
    make_grid,
    resolve_cutoff,
)
from ..exceptions import ParameterError
from .base import Detector, ScreenInput, empty_events, labels, make_events
from .registry import register_detector

__all__ = ["SuddenLoss"]

#: Patients x occasions cells screened at once (about 2 MB per interval array).
_BLOCK_CELLS = 2**18


def _intake(long: LongData) -> np.ndarray:
    """Each patient's first observed score (NaN when none), as ``_first_scores`` of the grid."""
    scores = long.frame["score"].to_numpy(dtype=np.float64)
    rows = np.flatnonzero(~np.isnan(scores))
    codes = long.codes[rows]
    first = np.r_[True, codes[1:] != codes[:-1]] if len(rows) else np.zeros(0, dtype=bool)
    out = np.full(long.n_patients, np.nan)
    out[codes[first]] = scores[rows[first]]
    return out


@register_detector
class SuddenLoss(Detector):
    """Flag a sudden loss: a large, abrupt worsening between two adjacent sessions.

    The loss from session ``n`` to ``n + 1`` must satisfy the sudden-gain criteria of Tang &
    DeRubeis (1999) mirrored (see :func:`iatrogenic.core.sudden_changes.sudden_changes`):
    (1) it is at least ``cutoff`` points, (2) at least ``relative`` of the pre-loss score, and
    (3) the mean of up to 3 scores after the loss exceeds the mean of the 3 before by more than a
    critical t value times their pooled SD (at least 2 scores on each side).

    The rule is causal. Criterion 3 is evaluated with the data available at session ``n + 2``
    (post-loss scores ``n + 1, n + 2``) and, if it did not hold then, again at ``n + 3``
    (``n + 1 .. n + 3``); the alarm is raised at the first of these sessions where it holds. Later
    data never withdraw an alarm, so a screen of data up to session ``t`` gives exactly the events
    up to ``t`` of the full screen. The retrospective analysis (``sudden_changes``) evaluates
    criterion 3 once with all 3 post-loss scores; every loss it finds is also found here (at
    session ``n + 2`` or ``n + 3``), and a few losses confirmed at ``n + 2`` may not meet it with
    the third score. With ``early_warning`` a warning is raised at session ``n + 1`` when criteria
    1 and 2 hold and criterion 3 can still be evaluated (2 or more pre-loss scores).

    Cut-off (criterion 1), in order: ``cutoff``; the reliable change value
    ``1.96 * sd * sqrt(2 (1 - reliability))`` with ``sd`` and ``reliability`` from the arguments
    or the instrument; the instrument's published fixed reliable-change rule (PHQ-9: 6 points,
    GAD-7: 4 points); the reliable change value with the SD of all patients' first scores. When
    none is available the detector is skipped.

    Parameters
    ----------
    cutoff : float, optional
        Least loss in points.
    reliability, sd : float, optional
        For the reliable-change cut-off; override the instrument's.
    relative : float or None, default 0.25
        Criterion 2: the loss is at least this fraction of the pre-loss score; None: off.
    alpha : float, default 0.05
        Two-sided level of criterion 3's critical t value.
    adjust : bool, default True
        Critical value for the scores available (t with ``n_pre + n_post - 2`` df).
    critical_value : float, optional
        Fixed critical value (with ``adjust=False``).
    criterion3 : bool, default True
        False: an alarm at session ``n + 1`` on criteria 1 and 2 alone.
    early_warning : bool, default True
        Raise a warning at session ``n + 1`` while criterion 3 is pending.

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> from iatrogenic.detectors.sudden_loss import SuddenLoss
    >>> data = pd.DataFrame({"patient": 1, "session": range(1, 8),
    ...                      "score": [10, 9, 10, 18, 19, 18, 19]})
    >>> events = ia.screen(data, instrument="phq9", detectors=[SuddenLoss()])
    >>> events[["patient", "session", "level", "value", "threshold"]]
      patient session    level  value  threshold
    0       1       4  warning    8.0        6.0
    1       1       5    alarm    8.0        6.0
    """

    name = "sudden_loss"
    harm = "sudden_worsening"
    needs = ("score",)
    description = (
        "Sudden loss between adjacent sessions (Tang-DeRubeis criteria mirrored, as suddengains "
        "identify_sl): alarm once criterion 3 is confirmed by the next sessions, warning before."
    )
    _invalid_params = (
        {"cutoff": -7.0},
        {"relative": -0.25},
        {"alpha": 0.0},
        {"reliability": 1.5},
        {"sd": 0.0},
        {"critical_value": 2.776},  # needs adjust=False
        {"criterion3": "yes"},
    )

    def __init__(
        self,
        *,
        cutoff: float | None = None,
        reliability: float | None = None,
        sd: float | None = None,
        relative: float | None = 0.25,
        alpha: float = 0.05,
        adjust: bool = True,
        critical_value: float | None = None,
        criterion3: bool = True,
        early_warning: bool = True,
    ) -> None:
        caller = "SuddenLoss"
        self.cutoff = check_number(
            cutoff, name="cutoff", caller=caller, low=0, low_inclusive=False, allow_none=True
        )
        self.reliability = check_number(
            reliability, name="reliability", caller=caller, low=0, high=1, low_inclusive=False,
            high_inclusive=False, allow_none=True,
        )
        self.sd = check_number(
            sd, name="sd", caller=caller, low=0, low_inclusive=False, allow_none=True
        )
        self.relative = check_number(
            relative, name="relative", caller=caller, low=0, allow_none=True
        )
        self.alpha = check_number(
            alpha, name="alpha", caller=caller, low=0, high=1, low_inclusive=False,
            high_inclusive=False,
        )
        self.adjust = _check_bool(adjust, name="adjust", caller=caller)
        self.critical_value = check_number(
            critical_value, name="critical_value", caller=caller, low=0, low_inclusive=False,
            allow_none=True,
        )
        if self.critical_value is not None and self.adjust:
            raise ParameterError(
                f"The 'critical_value' parameter of {caller}() is used only with adjust=False. "
                f"Got critical_value={critical_value!r} with adjust=True. Suggestion: "
                "SuddenLoss(critical_value=2.776, adjust=False)."
            )
        self.criterion3 = _check_bool(criterion3, name="criterion3", caller=caller)
        self.early_warning = _check_bool(early_warning, name="early_warning", caller=caller)

    def missing_inputs(self, data: ScreenInput) -> list[str]:
        missing = super().missing_inputs(data)
        inst = data.instrument
        has_rel = self.reliability is not None or (inst is not None and inst.reliability)
        has_rule = inst is not None and inst.fixed_rule is not None
        if self.cutoff is None and not has_rel and not has_rule:
            missing.append(
                "a cut-off for criterion 1 (pass cutoff=, or instrument= / reliability=)"
            )
        return missing

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        long = data.long
        width = max(int(long.sizes.max()) if long.n_patients else 1, 1)
        if width < 2:
            return empty_events()
        cutoff, source = resolve_cutoff(
            cutoff=self.cutoff, sd=self.sd, reliability=self.reliability,
            instrument=data.instrument, intake=_intake(long), caller="SuddenLoss",
            intake_sd=data.intake_sds.get("score"),
        )
        settings = Settings(
            kind="loss", sign=1.0 if data.better == "lower" else -1.0, cutoff=cutoff,
            relative=self.relative, criterion3=self.criterion3, alpha=self.alpha,
            adjust=self.adjust, critical_value=self.critical_value,
            include_first_interval=False,
        )
        times = long.frame["time"].to_numpy()
        # The criteria are per patient, so patients are screened in blocks: the grid and the
        # interval arrays (a few dozen patients x occasions arrays) then take a bounded amount
        # of memory whatever the number of patients.
        block = max(1, _BLOCK_CELLS // width)
        blocks = (
            self._detect_block(long, (lo, min(lo + block, long.n_patients)), width, settings,
                               times, source)
            for lo in range(0, long.n_patients, block)
        )
        parts = [part for part in blocks if part is not None]
        if not parts:
            return empty_events()
        p_idx, session, level, magnitude, evidence = (
            np.concatenate([part[c] for part in parts]) for c in range(5)
        )
        return make_events(
            self,
            patient=long.patients.take(p_idx).to_numpy(),
            session=session,
            level=level,
            value=magnitude,
            threshold=cutoff,
            evidence=evidence,
        )

    def _detect_block(
        self,
        long: LongData,
        patients: tuple[int, int],
        width: int,
        settings: Settings,
        times: np.ndarray,
        source: str,
    ) -> tuple[np.ndarray, ...] | None:
        """Events of patients ``lo .. hi - 1``: patient index, session, level, value, evidence."""
        grid = make_grid(long, patients, width)
        k = width - 1
        index = np.arange(k)[None, :]
        lengths = grid.lengths[:, None]
        has_post = (index >= 1) & (index + 1 <= lengths - 1)
        iv2 = compute_intervals(grid, settings, max_post=2)
        crit12 = iv2.crit1 & (iv2.crit2 if self.relative is not None else True)
        # (patient, interval, session column where raised, level)
        hits: list[tuple[np.ndarray, np.ndarray, np.ndarray, str]] = []
        if not self.criterion3:
            p, i = np.nonzero(crit12 & has_post)
            hits.append((p, i, i + 1, "alarm"))
        else:
            iv3 = compute_intervals(grid, settings, max_post=3)
            at2 = iv2.event
            at3 = ~at2 & iv3.event & (index + 3 <= lengths - 1)
            p, i = np.nonzero(at2)
            hits.append((p, i, i + 2, "alarm"))
            p, i = np.nonzero(at3)
            hits.append((p, i, i + 3, "alarm"))
            if self.early_warning:
                pending = crit12 & has_post & (iv2.n_pre >= 2)
                p, i = np.nonzero(pending)
                hits.append((p, i, i + 1, "warning"))
        p_idx = np.concatenate([h[0] for h in hits])
        if len(p_idx) == 0:
            return None
        i_idx = np.concatenate([h[1] for h in hits])
        at = np.concatenate([h[2] for h in hits])
        level = np.concatenate([np.full(len(h[0]), h[3], dtype=object) for h in hits])
        order = np.lexsort((at, p_idx))
        p_idx, i_idx, at, level = p_idx[order], i_idx[order], at[order], level[order]

        pre = grid.scores[p_idx, i_idx]
        post = grid.scores[p_idx, i_idx + 1]
        magnitude = np.abs(post - pre)
        evidence = np.asarray(
            self._evidence(grid, times, p_idx, i_idx, at, level, source), dtype=object
        )
        session = times[grid.rows[p_idx, at]]
        return p_idx + patients[0], session, level, magnitude, evidence

    def _evidence(
        self,
        grid: Grid,
        times: np.ndarray,
        p_idx: np.ndarray,
        i_idx: np.ndarray,
        at: np.ndarray,
        level: np.ndarray,
        source: str,
    ) -> list[str]:
        scores = grid.scores
        rows = grid.rows
        width = scores.shape[1]

        def text(column: np.ndarray) -> pd.Series[str]:
            inside = (column >= 0) & (column < width) & (column <= at)
            values = np.full(len(column), np.nan)
            values[inside] = scores[p_idx[inside], column[inside]]
            shown = labels(values, lambda v: "NA" if np.isnan(v) else f"{v:g}")
            return pd.Series(shown, dtype=object)

        around = text(i_idx - 2)
        for offset in (-1, 0, 1, 2, 3):
            around = around + ", " + text(i_idx + offset)
        session_pre = pd.Series(times[rows[p_idx, i_idx]]).astype(str)
        session_post = pd.Series(times[rows[p_idx, i_idx + 1]]).astype(str)
        session_at = pd.Series(times[rows[p_idx, at]]).astype(str)
        status = pd.Series(
            np.where(
                level == "alarm",
                "criteria 1-3 met, detectable at session ",
                "criteria 1-2 met, criterion 3 pending (needs the next sessions), at session ",
            ),
            dtype=object,
        ).astype(str)
        text_out = (
            "sudden loss between session " + session_pre + " and " + session_post
            + " (scores n-2..n+3 known so far: " + around + "); " + status + session_at
            + f"; {source}"
        )
        return text_out.tolist()
