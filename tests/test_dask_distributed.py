"""The Dask entry points on a distributed cluster of two worker processes.

One ``LocalCluster`` for the module (it takes seconds to start): the results equal pandas, the
growth fit equals the in-memory fit, and errors raised in a worker process reach the caller as
the library's own exception with its message.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic.exceptions import DuplicateRowsError, InvalidValueError

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from iatrogenic.dask._partition import map_patients  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as connected:
        yield connected
    cluster.close()


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    frame, _ = ia.datasets.simulate(seed=5)
    return frame


def test_reliable_change_and_growth_on_workers(client, data):
    parts = dd.from_pandas(data, npartitions=4, sort=False)  # patients cut in two: shuffled
    expected = ia.reliable_change(data, score="phq9", reliability=0.85)
    result = ia.reliable_change(parts, score="phq9", reliability=0.85).compute()
    result = result.sort_values("patient").reset_index(drop=True)
    pd.testing.assert_series_equal(result["rci"], expected["rci"], check_exact=True)
    assert result["category"].astype(object).equals(expected["category"].astype(object))

    fitted = ia.fit_growth(parts, score="phq9")
    in_memory = ia.fit_growth(data, score="phq9")
    pd.testing.assert_series_equal(fitted.fixed_effects_, in_memory.fixed_effects_, rtol=1e-10)
    assert fitted.residual_variance_ == pytest.approx(in_memory.residual_variance_, rel=1e-10)


def test_validation_error_from_workers(client, data):
    twice = pd.concat([data.iloc[:30], data.iloc[[2, 3]]])
    parts = dd.from_pandas(twice, npartitions=1)
    with pytest.raises(DuplicateRowsError) as expected:
        ia.sudden_changes(parts.compute(), score="phq9", cutoff=5)
    with pytest.raises(DuplicateRowsError) as result:
        ia.sudden_changes(parts, score="phq9", cutoff=5)
    assert str(result.value) == str(expected.value)


def _refuse(part: pd.DataFrame) -> pd.DataFrame:
    raise InvalidValueError(f"partition of {len(part)} rows refused")


def test_error_raised_in_a_worker_task_keeps_its_class_and_message(client, data):
    parts = dd.from_pandas(data, npartitions=2)
    meta = pd.DataFrame({"patient": pd.Series(dtype=object)})
    lazy = map_patients(parts, _refuse, meta)
    with pytest.raises(InvalidValueError, match=r"partition of \d+ rows refused"):
        lazy.compute()


def test_screen_on_workers(client, data):
    from iatrogenic.dask import screen

    options = {"score": "phq9", "instrument": "phq9", "detectors": ["reliable_deterioration",
                                                                   "sudden_loss", "risk_item"]}
    expected = ia.screen(data, **options)
    result = screen(dd.from_pandas(data, npartitions=3), **options).compute()
    keys = ["patient", "session", "detector"]
    left = expected.sort_values(keys).reset_index(drop=True)
    right = result.sort_values(keys).reset_index(drop=True)
    assert len(left) > 20
    pd.testing.assert_frame_equal(left, right, check_exact=True)
    assert np.array_equal(left["threshold"].to_numpy(), right["threshold"].to_numpy())
