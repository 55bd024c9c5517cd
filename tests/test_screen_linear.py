"""The full screen is linear in the number of rows (issue 12, "First, linear on one machine").

Wall time is not tested (it is noisy); the work is counted instead. While a detector runs,
every call of a function of the library adds the number of array elements it returns, a proxy
for the rows it computes over. Per-event work that scans every row (the cause of the quadratic
screen: a property recomputing a comparison over all rows, read once per event while writing
the evidence) makes this count grow with the square of the data; linear work makes it grow in
proportion.
"""

from __future__ import annotations

import os
import sys
from types import FrameType
from typing import Any

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic.detectors._sequences import expanding_median, rolling_median
from iatrogenic.detectors.disengagement import ScoreCourse

PACKAGE = os.path.dirname(ia.__file__)
SMALL, LARGE = 400, 1600  # patients; the large data set is 4x the small one


def _simulated(n: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    data, _truth, medications = ia.datasets.simulate(
        n, 20, n_sessions=12, seed=11, return_medications=True
    )
    return data, ia.datasets.screen_options(medications)


def _size(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, pd.Series | pd.Index):
        return len(value)
    return 0


def _returned(value: Any) -> int:
    if isinstance(value, tuple | list) and len(value) < 16:
        return sum(_size(v) for v in value)
    return _size(value)


def _rows_touched(data: pd.DataFrame, options: dict[str, Any], detector: str) -> tuple[int, int]:
    """(array elements returned by library functions, library calls) while screening."""
    counts = [0, 0]

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if event == "return" and frame.f_code.co_filename.startswith(PACKAGE):
            counts[0] += _returned(arg)
            counts[1] += 1

    sys.setprofile(hook)
    try:
        ia.screen(data, detectors=[detector], **options)
    finally:
        sys.setprofile(None)
    return counts[0], counts[1]


@pytest.fixture(scope="module")
def cohorts() -> tuple[tuple[pd.DataFrame, dict[str, Any]], tuple[pd.DataFrame, dict[str, Any]]]:
    return _simulated(SMALL), _simulated(LARGE)


DETECTORS = [
    "reliable_deterioration", "sudden_loss", "dependency", "worsening_trajectory", "off_track",
    "disengagement", "alliance_rupture", "risk_item", "symptom_emergence",
    "secondary_worsening", "medication_burden", "worsening_class",
]


@pytest.mark.parametrize("detector", DETECTORS)
def test_work_grows_linearly(cohorts: Any, detector: str) -> None:
    if detector not in ia.list_detectors()["name"].tolist():
        pytest.skip(f"{detector} is not registered")
    (small, options), (large, _) = cohorts
    rows = len(large) / len(small)
    elements_small, calls_small = _rows_touched(small, options, detector)
    elements_large, calls_large = _rows_touched(large, options, detector)
    # Linear: about 4x (fixed costs make it less); quadratic would be about 16x.
    assert elements_large / elements_small < 1.5 * rows, (elements_small, elements_large)
    assert calls_large / calls_small < 1.5 * rows, (calls_small, calls_large)


def test_score_course_reads_are_cached() -> None:
    """The reliable-change flags are computed once, however many events read them."""
    course = ScoreCourse(
        intake_row=np.zeros(3, dtype=np.int64), latest_row=np.zeros(3, dtype=np.int64),
        worsening=np.array([1.0, 6.0, -6.0]), threshold=5.0, inclusive=False, rule="rule",
    )
    assert course.deteriorated is course.deteriorated
    assert course.improved is course.improved
    assert course.deteriorated.tolist() == [False, True, False]
    assert course.improved.tolist() == [False, False, True]


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_medians_equal_pandas(seed: int) -> None:
    """The rolling and expanding medians of intervals equal pandas' per-patient ones exactly."""
    rng = np.random.default_rng(seed)
    n = 3000
    codes = np.sort(rng.integers(0, 300 if seed < 3 else 40, n))  # seed 3: long groups
    values = np.round(rng.exponential(7, n), 1)
    opens = np.r_[True, codes[1:] != codes[:-1]]
    values[opens & (rng.random(n) < 0.7)] = np.nan
    grouped = pd.Series(values).groupby(codes, sort=False)

    def aligned(result: pd.Series) -> np.ndarray:
        return result.reset_index(level=0, drop=True).sort_index().to_numpy()

    for window in (1, 2, 3, 4, 7, 70):
        expected = aligned(grouped.rolling(window, min_periods=window).median())
        np.testing.assert_array_equal(rolling_median(values, codes, window), expected)
    for min_periods in (0, 1, 2, 3, 5):
        expected = aligned(grouped.expanding(min_periods=min_periods).median())
        np.testing.assert_array_equal(expanding_median(values, codes, min_periods), expected)
    later = values.copy()
    later[np.flatnonzero(~opens)[:5]] = np.nan  # a gap inside a group: pandas' path
    gapped = pd.Series(later).groupby(codes, sort=False)
    expected = aligned(gapped.expanding(min_periods=2).median())
    np.testing.assert_array_equal(expanding_median(later, codes, 2), expected)
