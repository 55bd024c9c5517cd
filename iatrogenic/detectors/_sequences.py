"""Vectorised helpers over the sorted long rows of many patients at once.

Rows are sorted by patient (``codes``) and occasion, as ``prepare_long`` leaves them; every helper
works on whole columns, restarting at each patient, so detectors never loop over patients.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import ScreenInput

__all__ = [
    "BLOCK_ROWS",
    "column_series",
    "column_values",
    "group_starts",
    "observed_rows",
    "onsets",
    "patient_blocks",
    "patient_ids",
    "position_in_group",
    "previous_in_group",
    "run_lengths",
    "within_patient_cumsum",
]


def column_series(data: ScreenInput, keyword: str) -> pd.Series:
    """The optional column given as ``keyword=``, as a column of ``long.frame``.

    ``prepare_long`` does not copy a column twice: when the caller names the score, time or
    patient column again (``alliance="score"``), it is found under its canonical name.
    """
    name = data.columns[keyword]
    canonical = {column: key for key, column in data.long.columns.items() if column}
    return data.long.frame[canonical.get(name, name)]


def column_values(data: ScreenInput, keyword: str) -> np.ndarray:
    """The values of the optional column given as ``keyword=``, aligned with ``long.frame``."""
    return column_series(data, keyword).to_numpy()


def patient_ids(data: ScreenInput, rows: np.ndarray) -> np.ndarray:
    """The patient id at each of ``rows`` of ``long.frame``, as ``frame["patient"]`` holds it.

    Read from ``long.patients`` (one entry per patient, converted once per screen): the patient
    column itself is usually Arrow-backed text, and turning all of it into Python strings costs
    about a second per 10 million rows, for every detector that did it.
    """
    ids = data.derived("patient_ids", lambda: data.long.patients.to_numpy())
    return ids[data.long.codes[rows]]


def group_starts(codes: np.ndarray) -> np.ndarray:
    """True at the first of consecutive entries of each patient code."""
    return np.r_[True, codes[1:] != codes[:-1]] if len(codes) else np.zeros(0, dtype=bool)


def previous_in_group(values: np.ndarray, codes: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """The previous entry of the same patient (``fill`` at each patient's first entry)."""
    out = np.empty(len(values), dtype=np.result_type(values, np.asarray(fill)))
    if len(values):
        out[0] = fill
        out[1:] = values[:-1]
        out[group_starts(codes)] = fill
    return out


def onsets(state: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """True where ``state`` switches on: true now, false (or no entry) just before."""
    return state & ~previous_in_group(state, codes, fill=False).astype(bool)


def run_lengths(flag: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Length of the run of consecutive True entries of the same patient ending at each entry.

    Examples
    --------
    >>> run_lengths(np.array([1, 1, 0, 1, 1, 1], bool), np.array([0, 0, 0, 0, 1, 1])).tolist()
    [1, 2, 0, 1, 1, 2]
    """
    # The last position before the current run could start: a False entry, or the position just
    # before the patient's first entry (runs never cross patients). At a False entry it is the
    # entry itself, so the length there is 0.
    barrier = np.full(len(flag), -1, dtype=np.int64)
    first = np.flatnonzero(group_starts(codes))
    barrier[first] = first - 1
    off = np.flatnonzero(~flag)
    barrier[off] = off
    if len(flag):
        np.maximum.accumulate(barrier, out=barrier)
    return np.subtract(np.arange(len(flag)), barrier, out=barrier)


def observed_rows(values: np.ndarray) -> np.ndarray:
    """Positions of the non-missing entries of a float column."""
    return np.flatnonzero(~np.isnan(values))


#: Rows per block of :func:`patient_blocks`: 65,536 rows of float64 are 512 kB, so a block's
#: temporaries stay in cache and no full-length array (fresh memory, page faults) is made.
BLOCK_ROWS = 65_536


def patient_blocks(starts: np.ndarray, block_rows: int | None = None) -> np.ndarray:
    """Edges of blocks of about ``block_rows`` rows (default :data:`BLOCK_ROWS`) cut at patient
    boundaries.

    ``starts`` is ``LongData.starts`` (each patient's first row, then the number of rows); the
    blocks are ``edges[i]:edges[i + 1]``, whole patients each (``[0]`` when there are no rows).

    Examples
    --------
    >>> patient_blocks(np.array([0, 3, 5, 9]), block_rows=4).tolist()
    [0, 5, 9]
    """
    rows = int(starts[-1])
    size = BLOCK_ROWS if block_rows is None else block_rows
    heads = starts[np.searchsorted(starts, np.arange(0, rows, size))]
    return np.unique(np.r_[0, heads, rows]).astype(np.int64)


def within_patient_cumsum(values: np.ndarray, data: ScreenInput) -> np.ndarray:
    """Cumulative sum of ``values`` over each patient's rows (restarting at every patient)."""
    total = np.cumsum(values)
    starts = data.long.starts[:-1]
    before = total[starts] - values[starts] if len(starts) else total[:0]
    total -= before[data.long.codes]  # in place: one row-length array fewer
    return total


def position_in_group(codes: np.ndarray) -> np.ndarray:
    """0, 1, 2... along each patient's entries."""
    index = np.arange(len(codes))
    first = np.maximum.accumulate(np.where(group_starts(codes), index, 0)) if len(codes) else index
    return index - first


#: Largest window :func:`rolling_median` takes with a strided view (memory ``rows x window``).
_STRIDED_WINDOW = 64


def rolling_median(values: np.ndarray, codes: np.ndarray, window: int) -> np.ndarray:
    """Median of the last ``window`` values within each group, NaN until ``window`` exist.

    As ``groupby(codes).rolling(window, min_periods=window).median()`` (a window holding a NaN
    gives NaN) on rows sorted by group, but without pandas' Python loop over groups.
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if window > _STRIDED_WINDOW:
        return (
            pd.Series(values)
            .groupby(codes, sort=False)
            .rolling(window, min_periods=window)
            .median()
            .reset_index(level=0, drop=True)
            .sort_index()
            .to_numpy()
        )
    result = np.full(n, np.nan)
    if n < window:
        return result
    complete = np.flatnonzero(position_in_group(codes) >= window - 1)
    view = np.lib.stride_tricks.sliding_window_view(values, window)
    for start in range(0, len(complete), 1 << 20):  # in chunks: a copy of rows x window
        rows = complete[start : start + (1 << 20)]
        result[rows] = np.median(view[rows - window + 1], axis=1)
    return result


def expanding_median(values: np.ndarray, codes: np.ndarray, min_periods: int) -> np.ndarray:
    """Median of the values so far within each group, NaN until ``min_periods`` are observed.

    As ``groupby(codes).expanding(min_periods=min_periods).median()`` on rows sorted by group
    whose only missing values open a group (intervals between contacts), without pandas' Python
    loop over groups: the rows at each position within their group are taken together. Other
    inputs (a NaN later in a group, groups longer than :data:`_STRIDED_WINDOW`) go to pandas.
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    position = position_in_group(codes)
    opens = position == 0
    if n == 0 or np.isnan(values[~opens]).any() or position.max() > _STRIDED_WINDOW:
        return (
            pd.Series(values)
            .groupby(codes, sort=False)
            .expanding(min_periods=min_periods)
            .median()
            .reset_index(level=0, drop=True)
            .sort_index()
            .to_numpy()
        )
    # Observed values so far: those after the group's first row, plus the first if observed.
    first_observed = ~np.isnan(values[opens])
    first_of_row = first_observed[np.cumsum(opens) - 1]
    result = np.full(n, np.nan)
    # Rows grouped by (position, first observed): one strided view per pair. The key fits in a
    # byte (position <= _STRIDED_WINDOW), which numpy's stable sort orders by radix, in one pass.
    key = (2 * position + first_of_row).astype(np.uint8)
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(2 * (int(position.max()) + 1) + 1))
    for k in range(len(bounds) - 1):
        p, with_first = divmod(k, 2)
        rows = order[bounds[k] : bounds[k + 1]]
        if len(rows) == 0 or p + with_first < max(min_periods, 1):
            continue
        view = np.lib.stride_tricks.sliding_window_view(values, p + 1)[:, 1 - with_first :]
        for start in range(0, len(rows), 1 << 20):  # in chunks: a copy of rows x (p + 1)
            chunk = rows[start : start + (1 << 20)]
            result[chunk] = np.median(view[chunk - p], axis=1)
    return result
