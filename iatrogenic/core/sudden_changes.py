"""Sudden gains and sudden losses (Tang & DeRubeis 1999), as suddengains 0.7.2 identifies them.

The whole computation is vectorised across patients: the long data become a patients x occasions
matrix (NaN for a missing score or beyond the patient's last occasion) and every between-session
interval of every patient is tested at once with sliding windows of at most three scores. There is
no Python loop over patients, intervals or events. See ``docs/sudden-changes.md`` for the rules, the
missing-data rules and the documented differences from suddengains.

Examples
--------
>>> import pandas as pd
>>> from iatrogenic.core.sudden_changes import sudden_changes
>>> data = pd.DataFrame({"patient": 1, "session": range(1, 9),
...                      "score": [30, 31, 29, 18, 17, 16, 18, 15]})
>>> sudden_changes(data, cutoff=7)[["patient", "session_pre", "session_post", "magnitude"]]
   patient  session_pre  session_post  magnitude
0        1            3             4       11.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as _t_dist

from .._validation import LongData, check_choice, check_number, prepare_long, resolve_better
from ..dask import dispatch, is_dask_frame
from ..exceptions import ParameterError, ParameterTypeError
from ..instruments import Instrument
from ..instruments import get as _get_instrument

__all__ = [
    "EVENT_COLUMNS",
    "INTERVAL_COLUMNS",
    "KINDS",
    "PERSON_COLUMNS",
    "SELECTS",
    "SuddenChangeCutoff",
    "count_sudden_change_intervals",
    "sudden_change_cutoff",
    "sudden_change_intervals",
    "sudden_changes",
    "sudden_changes_by_person",
]

#: Kinds of sudden change: ``"gain"`` (improvement) or ``"loss"`` (worsening).
KINDS = ("gain", "loss")
#: How one event per patient is chosen (suddengains' ``multiple_sg_select``).
SELECTS = ("first", "last", "largest", "smallest")

#: Columns of the event table (:func:`sudden_changes`), in order.
EVENT_COLUMNS = (
    "patient", "kind", "session_pre", "session_post", "score_pre", "score_post", "magnitude",
    "reversal", "occasion_pre", "score_minus2", "score_minus1", "score_plus2", "score_plus3",
    "change", "tx_change", "change_proportion", "reversal_value", "n_events", "detectable_at",
    "n_pre", "n_post", "mean_pre", "mean_post", "sd_pooled", "critical_value",
)
#: Columns of the per-interval table (:func:`sudden_change_intervals`), in order.
INTERVAL_COLUMNS = (
    "patient", "kind", "session_pre", "session_post", "occasion_pre", "score_pre", "score_post",
    "change", "crit1", "crit2", "crit3", "event", "n_pre", "n_post", "mean_pre", "mean_post",
    "sd_pooled", "critical_value",
)
#: Columns of the per-patient table (:func:`sudden_changes_by_person`), in order.
PERSON_COLUMNS = (
    "patient", "kind", "has_event", "n_events", "n_intervals", "n_occasions",
    *EVENT_COLUMNS[2:17], *EVENT_COLUMNS[18:], "reason",
)

#: z used by suddengains' ``define_crit1_cutoff`` (two-sided 5%).
_Z_RCI = 1.96


# --------------------------------------------------------------------------------------------
# Cut-off for criterion 1
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuddenChangeCutoff:
    """The reliable-change cut-off for criterion 1 and the numbers behind it.

    Attributes
    ----------
    sd : float
        Standard deviation used (given, or of the scores passed).
    reliability : float
        Reliability of the measure.
    standard_error_measurement : float
        ``sd * sqrt(1 - reliability)``.
    standard_error_difference : float
        ``sqrt(2) * standard_error_measurement``.
    reliable_change_value : float
        ``1.96 * standard_error_difference``: the cut-off (``float(result)`` gives it).
    """

    sd: float
    reliability: float
    standard_error_measurement: float
    standard_error_difference: float
    reliable_change_value: float

    def __float__(self) -> float:
        return float(self.reliable_change_value)


def sudden_change_cutoff(
    *,
    sd: float | None = None,
    reliability: float | None = None,
    scores: Any = None,
    instrument: str | Instrument | None = None,
) -> SuddenChangeCutoff:
    """Criterion-1 cut-off as the reliable change value (suddengains' ``define_crit1_cutoff``).

    Parameters
    ----------
    sd : float, optional
        Standard deviation of the measure (e.g. of a clinical sample at intake).
    reliability : float, optional
        Reliability of the measure, in (0, 1).
    scores : array-like, optional
        Scores whose sample SD (``ddof=1``, missing values dropped) is used when ``sd`` is not
        given, as suddengains' ``data_sd``; typically the intake scores.
    instrument : str or Instrument, optional
        Takes ``sd`` and ``reliability`` from the instrument registry; explicit values override.

    Returns
    -------
    SuddenChangeCutoff
        ``sd``, ``reliability``, ``standard_error_measurement``, ``standard_error_difference``
        and ``reliable_change_value`` (the cut-off; ``float(result)`` returns it).

    Notes
    -----
    ``SE = sd * sqrt(1 - r)``, ``S_diff = sqrt(2 SE^2)``, cut-off ``= 1.96 * S_diff``
    (Jacobson & Truax 1991; Stiles et al. 2003), exactly as suddengains 0.7.2.

    Examples
    --------
    >>> from iatrogenic.core.sudden_changes import sudden_change_cutoff
    >>> round(float(sudden_change_cutoff(sd=10.5, reliability=0.931)), 4)
    7.6451
    """
    caller = "sudden_change_cutoff"
    inst = _get_instrument(instrument) if instrument is not None else None
    if reliability is None and inst is not None:
        reliability = inst.reliability
    if sd is None and inst is not None:
        sd = inst.sd
    if sd is None and scores is not None:
        values = np.asarray(scores, dtype=np.float64)
        values = values[~np.isnan(values)]
        if len(values) < 2:
            raise ParameterError(
                f"The 'scores' parameter of {caller}() needs at least two non-missing scores to "
                f"compute an SD. Got {len(values)}."
            )
        sd = float(np.std(values, ddof=1))
    if sd is None or reliability is None:
        raise ParameterError(
            f"{caller}() needs an SD and a reliability: pass sd= (or scores=) and reliability=, "
            f"or an instrument= whose registry entry has them. Got sd={sd!r}, "
            f"reliability={reliability!r}."
        )
    sd = check_number(sd, name="sd", caller=caller, low=0, low_inclusive=False)
    reliability = check_number(
        reliability, name="reliability", caller=caller, low=0, high=1, low_inclusive=False,
        high_inclusive=False,
    )
    sem = sd * np.sqrt(1.0 - reliability)
    sdiff = np.sqrt(2.0 * sem**2)
    return SuddenChangeCutoff(
        sd=float(sd),
        reliability=float(reliability),
        standard_error_measurement=float(sem),
        standard_error_difference=float(sdiff),
        reliable_change_value=float(_Z_RCI * sdiff),
    )


def resolve_cutoff(
    *,
    cutoff: float | None,
    sd: float | None,
    reliability: float | None,
    instrument: Instrument | None,
    intake: np.ndarray | None,
    caller: str,
    intake_sd: float | None = None,
) -> tuple[float, str]:
    """The criterion-1 cut-off and where it came from.

    Order: ``cutoff``; the reliable change value from ``sd`` and ``reliability`` (each from the
    argument or the instrument); the instrument's published fixed reliable-change rule; the
    reliable change value from the SD of the intake scores and the reliability: ``intake_sd``
    when given (the whole sample's, for one part of it), else the SD of ``intake``.
    """
    if cutoff is not None:
        return float(cutoff), f"cut-off {cutoff:g} points"
    rel = reliability
    if rel is None and instrument is not None:
        rel = instrument.reliability
    sd_value = sd if sd is not None else (instrument.sd if instrument else None)
    if rel is not None and sd_value is not None:
        value = float(sudden_change_cutoff(sd=sd_value, reliability=rel))
        return value, f"reliable change {value:.2f} points (SD {sd_value:g}, reliability {rel:g})"
    if instrument is not None and instrument.fixed_rule is not None:
        points = float(instrument.fixed_rule.points)
        return points, f"{instrument.label} reliable-change rule {points:g} points"
    if rel is not None and (intake is not None or intake_sd is not None):
        if intake_sd is None and intake is not None:
            observed = intake[~np.isnan(intake)]
            intake_sd = float(np.std(observed, ddof=1)) if len(observed) > 1 else float("nan")
        if intake_sd is not None and np.isfinite(intake_sd) and intake_sd > 0:
            value = float(sudden_change_cutoff(sd=intake_sd, reliability=rel))
            return value, (
                f"reliable change {value:.2f} points (SD of intake scores, reliability {rel:g})"
            )
    raise ParameterError(
        f"{caller}() needs a cut-off for criterion 1: pass cutoff= (points), or sd= and "
        "reliability=, or an instrument= with a reliability (and an SD or a fixed "
        "reliable-change rule). Suggestion: cutoff=7 is Tang & DeRubeis' (1999) value for the BDI."
    )


# --------------------------------------------------------------------------------------------
# The engine: patients x occasions matrix and all intervals at once
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """Scores as a patients x occasions matrix.

    ``scores[p, j]`` is the score of patient ``p`` at its ``j``-th occasion (0-based rank of the
    row within the patient), NaN when missing or when the patient has fewer occasions; ``rows``
    holds the row of ``long.frame`` (-1 beyond the patient's last occasion).
    """

    long: LongData
    scores: np.ndarray
    rows: np.ndarray
    lengths: np.ndarray


def make_grid(
    long: LongData, patients: tuple[int, int] | None = None, width: int | None = None
) -> Grid:
    """Build the :class:`Grid` of validated long data (rows sorted by patient and occasion).

    ``patients=(lo, hi)`` builds it for patients ``lo .. hi - 1`` only (grid row ``p`` is patient
    ``lo + p``), so that a caller can work through many patients in blocks of bounded memory;
    ``width`` (at least the longest patient's number of rows) fixes the number of columns.
    """
    lo, hi = (0, long.n_patients) if patients is None else patients
    first, last = int(long.starts[lo]), int(long.starts[hi])
    lengths = np.diff(long.starts[lo : hi + 1])
    if width is None:
        width = max(int(lengths.max()) if len(lengths) else 1, 1)
    row = np.arange(first, last, dtype=np.int64)
    codes = long.codes[first:last]
    rank = row - long.starts[codes]
    local = codes - lo
    scores = np.full((hi - lo, width), np.nan)
    rows = np.full((hi - lo, width), -1, dtype=np.int64)
    scores[local, rank] = long.frame["score"].to_numpy(dtype=np.float64)[first:last]
    rows[local, rank] = row
    return Grid(long=long, scores=scores, rows=rows, lengths=lengths)


@dataclass(frozen=True)
class Settings:
    """Resolved criteria of one call."""

    kind: str
    sign: float  # +1 when lower scores are better, -1 when higher are better
    cutoff: float
    relative: float | None
    criterion3: bool
    alpha: float
    adjust: bool
    critical_value: float | None
    include_first_interval: bool

    def t_critical(self, df: np.ndarray) -> np.ndarray:
        """Critical value of criterion 3 for ``df = n_pre + n_post - 2`` (NaN where df < 1)."""
        if not self.adjust:
            fixed = (
                self.critical_value
                if self.critical_value is not None
                else float(_t_dist.ppf(1.0 - self.alpha / 2.0, 4))
            )
            return np.where(df >= 1, fixed, np.nan)
        table = np.full(7, np.nan)
        table[1:] = _t_dist.ppf(1.0 - self.alpha / 2.0, np.arange(1, 7))
        return table[np.clip(df, 0, 6)]


@dataclass(frozen=True)
class Intervals:
    """Every interval of every patient: arrays of shape (patients, occasions - 1).

    Column ``i`` is the interval from occasion ``i`` to ``i + 1`` (0-based).
    """

    tested: np.ndarray
    crit1: np.ndarray
    crit2: np.ndarray
    crit3: np.ndarray
    known1: np.ndarray
    known2: np.ndarray
    known3: np.ndarray
    event: np.ndarray
    decided: np.ndarray
    improvement: np.ndarray
    n_pre: np.ndarray
    n_post: np.ndarray
    mean_pre: np.ndarray
    mean_post: np.ndarray
    sd_pooled: np.ndarray
    critical: np.ndarray
    last_post: np.ndarray


def _window(
    padded: np.ndarray, present: np.ndarray, filled: np.ndarray, offsets: range, width: int
) -> tuple[np.ndarray, ...]:
    """Count, mean and sum of squared deviations over the given row offsets.

    ``padded`` holds occasions in rows (patients along contiguous memory); ``present`` is
    ``~np.isnan(padded)`` as bytes and ``filled`` is ``padded`` with 0 for NaN, both computed
    once per grid. The sums are formed in place.
    """
    shape = (width, padded.shape[1])
    counted = np.zeros(shape, dtype=np.uint8)
    total = np.zeros(shape)
    for o in offsets:
        counted += present[o : o + width]
        total += filled[o : o + width]
    count = counted.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    squares = np.zeros(shape)
    deviation = np.empty(shape)
    for o in offsets:
        np.subtract(padded[o : o + width], mean, out=deviation)
        np.multiply(deviation, deviation, out=deviation)
        # NaN (a missing score) becomes 0; a square (never negative nor -0.0) stays as it is
        np.fmax(deviation, 0.0, out=deviation)
        squares += deviation
    return count, mean, squares


def compute_intervals(grid: Grid, settings: Settings, *, max_post: int = 3) -> Intervals:
    """Test every interval of every patient at once.

    ``max_post`` (2 or 3) limits the post-change window of criterion 3: the causal detector
    evaluates it with the scores up to ``n + 2`` and up to ``n + 3``.
    """
    scores = grid.scores
    n_patients, width = scores.shape
    k = max(width - 1, 0)
    # Occasions first (patients along contiguous memory): every window below is a slice of
    # whole rows. The results are returned transposed, (patients, intervals) as views.
    padded = np.full((width + 4, n_patients), np.nan)
    padded[2 : 2 + width] = scores.T
    # Interval i: pre score at row i + 2 of ``padded``, post score at row i + 3.
    pre = padded[2 : 2 + k]
    post = padded[3 : 3 + k]
    s = settings.sign
    raw = s * (pre - post)  # improvement from pre to post (positive = better)
    amount = raw if settings.kind == "gain" else -raw
    known12 = ~np.isnan(raw)
    crit1 = known12 & (amount >= settings.cutoff)
    if settings.relative is not None:
        crit2 = known12 & (amount >= settings.relative * np.abs(pre))
        known2 = known12
    else:
        crit2 = np.zeros_like(known12)
        known2 = np.zeros_like(known12)

    present = ~np.isnan(padded)
    filled = np.where(present, padded, 0.0)
    counted = present.view(np.uint8)
    n_pre, mean_pre, ss_pre = _window(padded, counted, filled, range(0, 3), k)
    n_post, mean_post, ss_post = _window(padded, counted, filled, range(3, 3 + max_post), k)
    df = n_pre + n_post - 2
    with np.errstate(invalid="ignore", divide="ignore"):
        sd_pooled = np.sqrt((ss_pre + ss_post) / df)
    critical = settings.t_critical(df)
    if settings.criterion3:
        known3 = (n_pre >= 2) & (n_post >= 2)
        shift = s * (mean_pre - mean_post)
        if settings.kind == "loss":
            shift = -shift
        with np.errstate(invalid="ignore"):
            crit3 = known3 & (shift > critical * sd_pooled)
    else:
        known3 = np.zeros_like(known12)
        crit3 = np.zeros_like(known12)

    index = np.arange(k)
    first = 0 if settings.include_first_interval else 1
    tested = (index[:, None] >= first) & (index[:, None] <= grid.lengths[None, :] - 3)
    decided = tested & known12 & (known2 | (settings.relative is None))
    if settings.criterion3:
        decided &= known3
    event = decided & crit1 & (crit2 | (settings.relative is None))
    if settings.criterion3:
        event &= crit3
    # Last occasion with a score inside the post window (0-based), for ``detectable_at``.
    last_post = np.full((k, n_patients), -1, dtype=np.int64)
    reach = max_post if settings.criterion3 else 1
    for o in range(reach):
        last_post = np.where(present[3 + o : 3 + o + k], index[:, None] + 1 + o, last_post)
    return Intervals(
        tested=tested.T, crit1=crit1.T, crit2=crit2.T, crit3=crit3.T, known1=known12.T,
        known2=known2.T, known3=known3.T, event=event.T, decided=decided.T, improvement=raw.T,
        n_pre=n_pre.T, n_post=n_post.T, mean_pre=mean_pre.T, mean_post=mean_post.T,
        sd_pooled=sd_pooled.T, critical=critical.T, last_post=last_post.T,
    )


# --------------------------------------------------------------------------------------------
# Argument handling shared by the public functions
# --------------------------------------------------------------------------------------------


def _check_bool(value: Any, *, name: str, caller: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterTypeError(
            f"The {name!r} parameter of {caller}() must be True or False. Got {value!r} instead."
        )
    return bool(value)


def _prepare(
    data: Any,
    *,
    caller: str,
    patient: str,
    time: str,
    score: str,
    kind: str,
    cutoff: float | None,
    relative: float | None,
    instrument: str | Instrument | None,
    sd: float | None,
    reliability: float | None,
    critical_value: float | None,
    alpha: float,
    adjust: bool,
    criterion3: bool,
    include_first_interval: bool,
    better: str | None,
) -> tuple[Grid, Settings]:
    kind = check_choice(kind, KINDS, name="kind", caller=caller)
    cutoff = check_number(
        cutoff, name="cutoff", caller=caller, low=0, low_inclusive=False, allow_none=True
    )
    relative = check_number(relative, name="relative", caller=caller, low=0, allow_none=True)
    sd = check_number(sd, name="sd", caller=caller, low=0, low_inclusive=False, allow_none=True)
    reliability = check_number(
        reliability, name="reliability", caller=caller, low=0, high=1, low_inclusive=False,
        high_inclusive=False, allow_none=True,
    )
    critical_value = check_number(
        critical_value, name="critical_value", caller=caller, low=0, low_inclusive=False,
        allow_none=True,
    )
    alpha = check_number(
        alpha, name="alpha", caller=caller, low=0, high=1, low_inclusive=False,
        high_inclusive=False,
    )
    adjust = _check_bool(adjust, name="adjust", caller=caller)
    criterion3 = _check_bool(criterion3, name="criterion3", caller=caller)
    include_first_interval = _check_bool(
        include_first_interval, name="include_first_interval", caller=caller
    )
    if critical_value is not None and adjust:
        raise ParameterError(
            f"The 'critical_value' parameter of {caller}() is a fixed critical value and is used "
            "only with adjust=False; with adjust=True the critical value is the t quantile for "
            f"the scores available. Got critical_value={critical_value!r} with adjust=True. "
            "Suggestion: pass adjust=False (e.g. critical_value=2.776, adjust=False)."
        )
    inst = _get_instrument(instrument) if instrument is not None else None
    better = resolve_better(better, inst, caller=caller)
    long = prepare_long(
        data, patient=patient, time=time, score=score, caller=caller, instrument=inst
    )
    grid = make_grid(long)
    value, _ = resolve_cutoff(
        cutoff=cutoff, sd=sd, reliability=reliability, instrument=inst,
        intake=_first_scores(grid), caller=caller,
    )
    settings = Settings(
        kind=kind,
        sign=1.0 if better == "lower" else -1.0,
        cutoff=value,
        relative=relative,
        criterion3=criterion3,
        alpha=alpha,
        adjust=adjust,
        critical_value=critical_value,
        include_first_interval=include_first_interval,
    )
    return grid, settings


def _first_scores(grid: Grid) -> np.ndarray:
    """Each patient's first observed score (NaN when none)."""
    scored = ~np.isnan(grid.scores)
    first = np.argmax(scored, axis=1)
    out = grid.scores[np.arange(len(first)), first]
    return out


def _take(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``values[rows]`` with NaN where ``rows`` is -1 (a float result)."""
    out = np.full(rows.shape, np.nan)
    ok = rows >= 0
    out[ok] = values[rows[ok]]
    return out


def _grid_at(grid: Grid, patients: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Scores at (patient, column), NaN for a column outside the matrix."""
    width = grid.scores.shape[1]
    inside = (columns >= 0) & (columns < width)
    out = np.full(len(patients), np.nan)
    out[inside] = grid.scores[patients[inside], columns[inside]]
    return out


def event_table(grid: Grid, settings: Settings, iv: Intervals, mask: np.ndarray) -> pd.DataFrame:
    """One row per interval selected by ``mask`` (patients x intervals), with the event columns."""
    p_idx, i_idx = np.nonzero(mask)  # row-major: sorted by patient, then occasion
    long = grid.long
    times = long.frame["time"].to_numpy()
    s = settings.sign
    score_pre = grid.scores[p_idx, i_idx]
    score_post = grid.scores[p_idx, i_idx + 1]
    change = score_post - score_pre
    magnitude = np.abs(change)
    reversal_value = (score_pre + score_post) / 2.0
    # Reversal: a later score (from the second occasion after the post-change score on) falls
    # back beyond the midpoint of the change.
    later = np.arange(grid.scores.shape[1])[None, :] >= (i_idx + 3)[:, None]
    back = s * (grid.scores[p_idx] - reversal_value[:, None])
    if settings.kind == "loss":
        back = -back
    reversal = np.any(later & (back > 0), axis=1)
    first_score = grid.scores[p_idx, 0]
    last_score = grid.scores[p_idx, grid.lengths[p_idx] - 1]
    tx_change = s * (first_score - last_score)
    with np.errstate(invalid="ignore", divide="ignore"):
        change_proportion = np.where(tx_change != 0, magnitude / tx_change, np.nan)
    n_events = np.bincount(p_idx, minlength=grid.scores.shape[0])[p_idx]
    detect_rows = grid.rows[p_idx, iv.last_post[p_idx, i_idx]]
    columns: dict[str, Any] = {
        "patient": long.patients.take(p_idx),
        "kind": np.full(len(p_idx), settings.kind, dtype=object),
        "session_pre": times[grid.rows[p_idx, i_idx]],
        "session_post": times[grid.rows[p_idx, i_idx + 1]],
        "score_pre": score_pre,
        "score_post": score_post,
        "magnitude": magnitude,
        "reversal": reversal,
        "occasion_pre": i_idx + 1,
        "score_minus2": _grid_at(grid, p_idx, i_idx - 2),
        "score_minus1": _grid_at(grid, p_idx, i_idx - 1),
        "score_plus2": _grid_at(grid, p_idx, i_idx + 2),
        "score_plus3": _grid_at(grid, p_idx, i_idx + 3),
        "change": change,
        "tx_change": tx_change,
        "change_proportion": change_proportion,
        "reversal_value": reversal_value,
        "n_events": n_events,
        "detectable_at": times[detect_rows],
        "n_pre": iv.n_pre[p_idx, i_idx],
        "n_post": iv.n_post[p_idx, i_idx],
        "mean_pre": iv.mean_pre[p_idx, i_idx],
        "mean_post": iv.mean_post[p_idx, i_idx],
        "sd_pooled": iv.sd_pooled[p_idx, i_idx],
        "critical_value": iv.critical[p_idx, i_idx],
    }
    frame = pd.DataFrame(columns)
    if not settings.criterion3:
        frame[["n_pre", "n_post"]] = frame[["n_pre", "n_post"]].astype("Int64")
        for col in ("n_pre", "n_post"):
            frame[col] = pd.array([pd.NA] * len(frame), dtype="Int64")
        for col in ("mean_pre", "mean_post", "sd_pooled", "critical_value"):
            frame[col] = np.nan
    frame.attrs["cutoff"] = settings.cutoff
    return frame


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------

_COMMON_PARAMETERS = """
    data : DataFrame
        Long format: one row per patient and occasion. A row with a missing score is a missed
        session; an absent row is not (see Notes). A ``dask.dataframe.DataFrame`` gives a lazy
        Dask DataFrame of the same rows, criterion 1's cut-off computed over every partition
        first (see ``docs/dask.md``).
    patient, time, score : str
        Column names of the patient id, the occasion (session) and the score.
    kind : {"gain", "loss"}, default "gain"
        Sudden gains (improvement) or sudden losses (worsening).
    cutoff : float, optional
        Criterion 1: the least change, in points (positive for both kinds). Default: the
        reliable change value ``1.96 * sd * sqrt(2 (1 - reliability))`` from ``sd`` and
        ``reliability`` (or the instrument's), else the instrument's fixed reliable-change
        rule, else the reliable change value from the SD of the patients' first scores.
    relative : float or None, default 0.25
        Criterion 2: the change must be at least this fraction of the pre-change score
        (``|score_pre|``). ``None`` switches criterion 2 off.
    instrument : str or Instrument, optional
        Takes direction, score range, reliability, SD and fixed rule from the registry.
    sd, reliability : float, optional
        For the default cut-off; override the instrument's.
    critical_value : float, optional
        Fixed critical value of criterion 3, only with ``adjust=False`` (2.776 is the t
        quantile for 3 + 3 scores). Default with ``adjust=False``: ``t(1 - alpha/2, 4)``.
    alpha : float, default 0.05
        Two-sided level of the critical t value of criterion 3.
    adjust : bool, default True
        Criterion 3's critical value is ``t(1 - alpha/2, n_pre + n_post - 2)`` for the scores
        available (2.776, 3.182, 4.303 at alpha 0.05 for 6, 5, 4 scores).
    criterion3 : bool, default True
        ``False`` switches criterion 3 off.
    include_first_interval : bool, default False
        Also test the interval from each patient's first to second occasion. suddengains never
        tests it (its ``identify_sg_1to2 = TRUE`` only renames the intervals when the first
        column is a baseline; in long format sessions carry their own labels, so passing the
        baseline as the first occasion reproduces that call with the default). Criterion 3 can
        never hold there (one pre-change score), so this matters with ``criterion3=False``.
    better : {"lower", "higher"}, optional
        Direction of improvement; default the instrument's, else ``"lower"``. With ``"higher"``
        every rule is mirrored (a gain is an increase)."""


def _doc(func: Any) -> Any:
    if func.__doc__:  # None under python -OO
        func.__doc__ = func.__doc__.replace("    {common}", _COMMON_PARAMETERS.strip("\n"))
    return func


@_doc
def sudden_changes(
    data: pd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    kind: str = "gain",
    cutoff: float | None = None,
    relative: float | None = 0.25,
    instrument: str | Instrument | None = None,
    sd: float | None = None,
    reliability: float | None = None,
    critical_value: float | None = None,
    alpha: float = 0.05,
    adjust: bool = True,
    criterion3: bool = True,
    include_first_interval: bool = False,
    better: str | None = None,
    select: str | None = None,
) -> pd.DataFrame:
    """Find sudden gains or sudden losses (Tang & DeRubeis 1999), as suddengains 0.7.2 does.

    An interval from occasion ``n`` (pre) to ``n + 1`` (post) of a patient is a sudden change
    when the three criteria hold; see Notes.

    Parameters
    ----------
    {common}
    select : {"first", "last", "largest", "smallest"}, optional
        Return one row per patient instead (see :func:`sudden_changes_by_person`).

    Returns
    -------
    DataFrame
        One row per sudden change, sorted by patient (by id when ids sort) and occasion:

        - ``patient``: patient id.
        - ``kind``: ``"gain"`` or ``"loss"``.
        - ``session_pre``, ``session_post``: the occasions (values of the ``time`` column)
          before and after the change.
        - ``score_pre``, ``score_post``: the scores there.
        - ``magnitude``: size of the change in points, positive for gains and losses
          (suddengains' ``sg_magnitude`` is ``score_pre - score_post``, negative for losses).
        - ``reversal``: True when a score from occasion ``n + 3`` on (the second occasion after
          the post-change one) falls back beyond ``reversal_value``: at least half of the
          change was lost (for a loss: regained) later.
        - ``occasion_pre``: rank ``n`` of the pre-change occasion within the patient, from 1
          (suddengains' ``sg_session_n``).
        - ``score_minus2``, ``score_minus1``, ``score_plus2``, ``score_plus3``: scores at
          occasions ``n - 2``, ``n - 1``, ``n + 2``, ``n + 3`` (NaN when missing or outside the
          course), suddengains' ``sg_<x>_2n``, ``_1n``, ``_n2``, ``_n3``.
        - ``change``: ``score_post - score_pre``.
        - ``tx_change``: improvement over the course, first minus last occasion's score (mirrored
          for ``better="higher"``); NaN when either is missing (``sg_<x>_tx_change``).
        - ``change_proportion``: ``magnitude / tx_change``; NaN when ``tx_change`` is 0.
        - ``reversal_value``: midpoint of the change, ``(score_pre + score_post) / 2``.
        - ``n_events``: number of sudden changes of this kind of the patient
          (``sg_freq_byperson``).
        - ``detectable_at``: the occasion of the last score that the decision used (the last
          scored occasion of the post-change window of criterion 3, or ``session_post``
          without criterion 3).
        - ``n_pre``, ``n_post``: scores available among the 3 occasions before (``n - 2 .. n``)
          and after (``n + 1 .. n + 3``) the change.
        - ``mean_pre``, ``mean_post``, ``sd_pooled``: their means and pooled SD.
        - ``critical_value``: the critical value criterion 3 used.

        ``attrs["cutoff"]`` holds the criterion-1 cut-off.

    See Also
    --------
    sudden_changes_by_person : one row per patient, one selected change.
    sudden_change_intervals : every tested interval with each criterion.
    sudden_change_cutoff : the reliable-change cut-off of criterion 1.

    Notes
    -----
    For a gain (lower is better; every sign is mirrored for losses and ``better="higher"``):

    1. ``x[n] - x[n+1] >= cutoff``;
    2. ``x[n] - x[n+1] >= relative * |x[n]|``;
    3. ``mean(pre) - mean(post) > t * sqrt(((n_pre - 1) s_pre^2 + (n_post - 1) s_post^2)
       / (n_pre + n_post - 2))`` with ``pre = x[n-2..n]``, ``post = x[n+1..n+3]``, missing
       scores dropped, and at least 2 scores on each side (else criterion 3 is undecided and the
       interval is not a change).

    Occasions are the patient's rows in time order; the ``n``-th row is occasion ``n``. A row
    with a missing score is a missed session: criteria 1 and 2 cannot be decided for the
    intervals next to it and criterion 3 uses the remaining scores. A gap in the session
    numbers (1, 2, 4) without a row is *not* a missed session: session 4 directly follows
    session 2. Like suddengains, the intervals from occasion 2 to the one before the last are
    tested (``include_first_interval`` adds the first).

    For losses, criterion 2 is the mirrored rule (the loss is at least ``relative`` of the pre
    score). suddengains 0.7.2 codes ``x[n] - x[n+1] <= 0.25 x[n]`` for losses, which any
    increase satisfies; its ``sg_crit2_pct = -0.25`` gives our rule.

    References
    ----------
    Tang, T. Z., & DeRubeis, R. J. (1999). Sudden gains and critical sessions in
    cognitive-behavioral therapy for depression. *J Consult Clin Psychol*, 67(6), 894-904.
    Wiedemann, M., Thew, G. R., Stott, R., & Ehlers, A. (2020). suddengains: An R package to
    identify sudden gains in longitudinal data. *PLOS ONE*, 15(3), e0230276.

    Examples
    --------
    >>> import pandas as pd
    >>> from iatrogenic.core.sudden_changes import sudden_changes
    >>> data = pd.DataFrame({
    ...     "patient": [1] * 8 + [2] * 8,
    ...     "session": list(range(1, 9)) * 2,
    ...     "score": [30, 31, 29, 18, 17, 16, 24, 15,
    ...               10, 11, 9, 20, 21, 22, 20, 23]})
    >>> gains = sudden_changes(data, cutoff=7)
    >>> gains[["patient", "session_pre", "session_post", "magnitude", "reversal"]]
       patient  session_pre  session_post  magnitude  reversal
    0        1            3             4       11.0      True
    >>> losses = sudden_changes(data, kind="loss", cutoff=7)
    >>> losses[["patient", "session_pre", "session_post", "magnitude", "detectable_at"]]
       patient  session_pre  session_post  magnitude  detectable_at
    0        2            3             4       11.0              6
    """
    if is_dask_frame(data):
        return dispatch("sudden_changes", locals())
    caller = "sudden_changes"
    if select is not None:
        select = check_choice(select, SELECTS, name="select", caller=caller)
    grid, settings = _prepare(
        data, caller=caller, patient=patient, time=time, score=score, kind=kind, cutoff=cutoff,
        relative=relative, instrument=instrument, sd=sd, reliability=reliability,
        critical_value=critical_value, alpha=alpha, adjust=adjust, criterion3=criterion3,
        include_first_interval=include_first_interval, better=better,
    )
    iv = compute_intervals(grid, settings)
    events = event_table(grid, settings, iv, iv.event)
    if select is None:
        return events
    return _by_person(grid, settings, iv, events, select)


@_doc
def sudden_changes_by_person(
    data: pd.DataFrame,
    *,
    select: str = "first",
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    kind: str = "gain",
    cutoff: float | None = None,
    relative: float | None = 0.25,
    instrument: str | Instrument | None = None,
    sd: float | None = None,
    reliability: float | None = None,
    critical_value: float | None = None,
    alpha: float = 0.05,
    adjust: bool = True,
    criterion3: bool = True,
    include_first_interval: bool = False,
    better: str | None = None,
) -> pd.DataFrame:
    """One row per patient with one selected sudden change (suddengains' ``create_byperson``).

    Every patient of the input keeps a row, with or without a sudden change.

    Parameters
    ----------
    select : {"first", "last", "largest", "smallest"}, default "first"
        Which change to keep when a patient has several: the earliest, the latest, or the
        largest or smallest ``magnitude`` (ties: the earliest).
    {common}

    Returns
    -------
    DataFrame
        One row per patient (sorted by id when ids sort):

        - ``patient``, ``kind``: the patient and the kind of change searched.
        - ``has_event``: True when the patient has at least one change (``sg_crit123``).
        - ``n_events``: number of changes (``sg_freq_byperson``), 0 when none.
        - ``n_intervals``: number of intervals that could be decided.
        - ``n_occasions``: number of occasions (rows) of the patient.
        - the selected change's columns as in :func:`sudden_changes` (``session_pre`` ...
          ``change_proportion``, ``reversal_value``, ``detectable_at`` ... ``critical_value``),
          missing when the patient has none.
        - ``reason``: why no interval could be decided (fewer than 4 occasions, or too many
          missing scores), missing otherwise.

    Notes
    -----
    suddengains 0.7.2 compares the signed ``sg_magnitude`` (negative for losses), so its
    "largest" loss is the smallest in size; here ``largest`` is always the largest in size.

    Examples
    --------
    >>> import pandas as pd
    >>> from iatrogenic.core.sudden_changes import sudden_changes_by_person
    >>> data = pd.DataFrame({"patient": [1] * 8 + [2] * 2, "session": list(range(1, 9)) + [1, 2],
    ...                      "score": [30, 31, 29, 18, 17, 16, 8, 7, 20, 19]})
    >>> by = sudden_changes_by_person(data, cutoff=7, select="largest")
    >>> by[["patient", "n_events", "session_pre", "magnitude", "reason"]]
       patient  n_events  session_pre  magnitude                 reason
    0        1         2          3.0       11.0                   None
    1        2         0          NaN        NaN  fewer than 4 occasions
    """
    caller = "sudden_changes_by_person"
    select = check_choice(select, SELECTS, name="select", caller=caller)
    grid, settings = _prepare(
        data, caller=caller, patient=patient, time=time, score=score, kind=kind, cutoff=cutoff,
        relative=relative, instrument=instrument, sd=sd, reliability=reliability,
        critical_value=critical_value, alpha=alpha, adjust=adjust, criterion3=criterion3,
        include_first_interval=include_first_interval, better=better,
    )
    iv = compute_intervals(grid, settings)
    events = event_table(grid, settings, iv, iv.event)
    return _by_person(grid, settings, iv, events, select)


def _by_person(
    grid: Grid, settings: Settings, iv: Intervals, events: pd.DataFrame, select: str
) -> pd.DataFrame:
    long = grid.long
    n = long.n_patients
    codes = long.patients.get_indexer(pd.Index(events["patient"]))
    position = events["occasion_pre"].to_numpy()
    magnitude = events["magnitude"].to_numpy()
    if select == "first":
        order = np.lexsort((position, codes))
    elif select == "last":
        order = np.lexsort((-position, codes))
    elif select == "largest":
        order = np.lexsort((position, -magnitude, codes))
    else:
        order = np.lexsort((position, magnitude, codes))
    sorted_codes = codes[order]
    keep = order[np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]] if len(order) else order
    chosen = events.iloc[keep].reset_index(drop=True)
    target = np.full(n, -1, dtype=np.int64)
    target[codes[keep]] = np.arange(len(keep))
    spread = chosen.reindex(target).reset_index(drop=True)  # -1 -> all-missing row

    n_events = np.bincount(codes, minlength=n)
    n_intervals = (iv.decided & iv.tested).sum(axis=1) if iv.tested.size else np.zeros(n, int)
    lengths = grid.lengths
    n_scores = (~np.isnan(grid.scores)).sum(axis=1)
    reason = np.select(
        [n_scores == 0, lengths < 4],
        ["no observed score", "fewer than 4 occasions"],
        "no interval could be decided (too many missing scores around every interval)",
    ).astype(object)
    reason[n_intervals > 0] = None
    out = pd.DataFrame(
        {
            "patient": long.patients,
            "kind": np.full(n, settings.kind, dtype=object),
            "has_event": n_events > 0,
            "n_events": n_events,
            "n_intervals": np.asarray(n_intervals, dtype=np.int64),
            "n_occasions": lengths,
        }
    )
    carried = [c for c in PERSON_COLUMNS if c not in out.columns and c != "reason"]
    for col in carried:
        out[col] = spread[col].to_numpy()
    out["reversal"] = out["reversal"].astype("boolean")
    out["occasion_pre"] = out["occasion_pre"].astype("Int64")
    out["reason"] = pd.Series(reason, dtype=object)
    out.attrs["cutoff"] = settings.cutoff
    out.attrs["select"] = select
    return out[list(PERSON_COLUMNS)]


@_doc
def sudden_change_intervals(
    data: pd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    kind: str = "gain",
    cutoff: float | None = None,
    relative: float | None = 0.25,
    instrument: str | Instrument | None = None,
    sd: float | None = None,
    reliability: float | None = None,
    critical_value: float | None = None,
    alpha: float = 0.05,
    adjust: bool = True,
    criterion3: bool = True,
    include_first_interval: bool = False,
    better: str | None = None,
) -> pd.DataFrame:
    """Every tested interval with each criterion (suddengains' ``crit123_details``).

    Parameters
    ----------
    {common}

    Returns
    -------
    DataFrame
        One row per patient and tested interval (occasion ``n`` to ``n + 1``, ``n`` from 2 to
        the patient's number of occasions minus 2), sorted by patient and occasion:

        - ``patient``, ``kind``, ``session_pre``, ``session_post``, ``occasion_pre``,
          ``score_pre``, ``score_post``, ``change``: as in :func:`sudden_changes`.
        - ``crit1``, ``crit2``, ``crit3``: each criterion (nullable boolean; missing when it
          cannot be decided for lack of scores, or when it is switched off).
        - ``event``: all criteria in use hold (True), one fails (False), or one in use is
          missing (missing); suddengains' ``sg_<n>to<n+1>`` as 1 / 0 / NA.
        - ``n_pre``, ``n_post``, ``mean_pre``, ``mean_post``, ``sd_pooled``,
          ``critical_value``: the numbers behind criterion 3 (as in :func:`sudden_changes`).

    Examples
    --------
    >>> import pandas as pd
    >>> from iatrogenic.core.sudden_changes import sudden_change_intervals
    >>> data = pd.DataFrame({"patient": 1, "session": range(1, 7),
    ...                      "score": [30, 31, 29, 18, 17, None]})
    >>> sudden_change_intervals(data, cutoff=7)[["session_pre", "crit1", "crit2", "crit3",
    ...                                          "event"]]
       session_pre  crit1  crit2  crit3  event
    0            2  False  False  False  False
    1            3   True   True   True   True
    2            4  False  False   <NA>   <NA>
    """
    caller = "sudden_change_intervals"
    grid, settings = _prepare(
        data, caller=caller, patient=patient, time=time, score=score, kind=kind, cutoff=cutoff,
        relative=relative, instrument=instrument, sd=sd, reliability=reliability,
        critical_value=critical_value, alpha=alpha, adjust=adjust, criterion3=criterion3,
        include_first_interval=include_first_interval, better=better,
    )
    iv = compute_intervals(grid, settings)
    p_idx, i_idx = np.nonzero(iv.tested)
    times = grid.long.frame["time"].to_numpy()

    def flag(value: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
        return pd.arrays.BooleanArray(value[p_idx, i_idx], ~known[p_idx, i_idx])

    score_pre = grid.scores[p_idx, i_idx]
    score_post = grid.scores[p_idx, i_idx + 1]
    in_use = [(iv.crit1, iv.known1)]
    if settings.relative is not None:
        in_use.append((iv.crit2, iv.known2))
    if settings.criterion3:
        in_use.append((iv.crit3, iv.known3))
    any_false = np.zeros(len(p_idx), dtype=bool)
    any_missing = np.zeros(len(p_idx), dtype=bool)
    for value, known in in_use:
        any_false |= known[p_idx, i_idx] & ~value[p_idx, i_idx]
        any_missing |= ~known[p_idx, i_idx]
    # R's product of 1/0/NA: NA as soon as one factor is NA.
    event = pd.arrays.BooleanArray(~any_false & ~any_missing, any_missing)
    frame = pd.DataFrame(
        {
            "patient": grid.long.patients.take(p_idx),
            "kind": np.full(len(p_idx), settings.kind, dtype=object),
            "session_pre": times[grid.rows[p_idx, i_idx]],
            "session_post": times[grid.rows[p_idx, i_idx + 1]],
            "occasion_pre": i_idx + 1,
            "score_pre": score_pre,
            "score_post": score_post,
            "change": score_post - score_pre,
            "crit1": flag(iv.crit1, iv.known1),
            "crit2": flag(iv.crit2, iv.known2),
            "crit3": flag(iv.crit3, iv.known3),
            "event": event,
            "n_pre": iv.n_pre[p_idx, i_idx],
            "n_post": iv.n_post[p_idx, i_idx],
            "mean_pre": iv.mean_pre[p_idx, i_idx],
            "mean_post": iv.mean_post[p_idx, i_idx],
            "sd_pooled": iv.sd_pooled[p_idx, i_idx],
            "critical_value": np.where(
                iv.known3[p_idx, i_idx], iv.critical[p_idx, i_idx], np.nan
            ),
        }
    )
    frame.attrs["cutoff"] = settings.cutoff
    return frame


def count_sudden_change_intervals(
    data: pd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    include_first_interval: bool = False,
) -> dict[str, int]:
    """Count the intervals that can be tested for sudden changes (suddengains' ``count_intervals``).

    An interval can be tested when both its scores exist and criterion 3 has at least 2 scores
    on each side. The count does not depend on the cut-off or on the kind of change.

    Parameters
    ----------
    data : DataFrame
        Long format, as for :func:`sudden_changes`.
    patient, time, score : str
        Column names.
    include_first_interval : bool, default False
        Count the first interval of each patient as suddengains' ``identify_sg_1to2 = TRUE``
        does (subtracting one instead of two intervals per patient).

    Returns
    -------
    dict
        ``total_between_sess_intervals`` (occasions - 1, summed over patients),
        ``total_between_sess_intervals_sg`` (minus 2 per patient, or 1 with
        ``include_first_interval``), ``available_between_sess_intervals_sg`` (testable) and
        ``not_available_between_sess_intervals_sg`` (tested positions that cannot be decided).

    Examples
    --------
    >>> import pandas as pd
    >>> from iatrogenic.core.sudden_changes import count_sudden_change_intervals
    >>> data = pd.DataFrame({"patient": 1, "session": range(1, 7),
    ...                      "score": [30, 31, None, 18, 17, 16]})
    >>> count_sudden_change_intervals(data)
    {'total_between_sess_intervals': 5, 'total_between_sess_intervals_sg': 3, \
'available_between_sess_intervals_sg': 1, 'not_available_between_sess_intervals_sg': 2}
    """
    caller = "count_sudden_change_intervals"
    include_first_interval = _check_bool(
        include_first_interval, name="include_first_interval", caller=caller
    )
    long = prepare_long(data, patient=patient, time=time, score=score, caller=caller)
    grid = make_grid(long)
    settings = Settings(
        kind="gain", sign=1.0, cutoff=1.0, relative=0.25, criterion3=True, alpha=0.05,
        adjust=True, critical_value=None, include_first_interval=False,
    )
    iv = compute_intervals(grid, settings)
    lengths = grid.lengths
    total = int(np.maximum(lengths - 1, 0).sum())
    per_patient = 1 if include_first_interval else 2
    total_sg = int(np.maximum(lengths - 1 - per_patient, 0).sum())
    available = int((iv.tested & iv.decided).sum())
    not_available = int((iv.tested & ~iv.decided).sum())
    return {
        "total_between_sess_intervals": total,
        "total_between_sess_intervals_sg": total_sg,
        "available_between_sess_intervals_sg": available,
        "not_available_between_sess_intervals_sg": not_available,
    }
