"""Vectorised helpers over the sorted long rows of many patients at once.

Rows are sorted by patient (``codes``) and occasion, as ``prepare_long`` leaves them; every helper
works on whole columns, restarting at each patient, so detectors never loop over patients.
"""

from __future__ import annotations

import numpy as np

from .base import ScreenInput

__all__ = [
    "column_values",
    "group_starts",
    "observed_rows",
    "onsets",
    "position_in_group",
    "previous_in_group",
    "run_lengths",
    "within_patient_cumsum",
]


def column_values(data: ScreenInput, keyword: str) -> np.ndarray:
    """The values of the optional column given as ``keyword=``, aligned with ``long.frame``.

    ``prepare_long`` does not copy a column twice: when the caller names the score, time or
    patient column again (``alliance="score"``), it is found under its canonical name.
    """
    name = data.columns[keyword]
    canonical = {column: key for key, column in data.long.columns.items() if column}
    frame = data.long.frame
    return frame[canonical.get(name, name)].to_numpy()


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
    index = np.arange(len(flag))
    # The last position before the current run could start: a False entry, or the position just
    # before the patient's first entry (runs never cross patients).
    barrier = np.where(~flag, index, np.where(group_starts(codes), index - 1, -1))
    last_barrier = np.maximum.accumulate(barrier) if len(flag) else barrier
    return np.where(flag, index - last_barrier, 0)


def observed_rows(values: np.ndarray) -> np.ndarray:
    """Positions of the non-missing entries of a float column."""
    return np.flatnonzero(~np.isnan(values))


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
