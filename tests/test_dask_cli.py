"""The command line's Dask engine: partitioned parquet in, events as parquet and a summary out."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia

dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("pyarrow")

from iatrogenic.dask.cli import screen_parquet  # noqa: E402

OPTIONS = {"score": "phq9", "instrument": "phq9", "attendance": "attendance", "date": "date",
           "alliance": "srs"}


def write_by_patient(data: pd.DataFrame, folder, buckets: int = 4) -> None:
    """Parquet partitioned by patient, as docs/dask.md advises: a bucket column from the id."""
    codes = pd.factorize(data["patient"], sort=True)[0]
    data.assign(bucket=codes % buckets).to_parquet(folder, partition_cols=["bucket"], index=False)


def test_screen_parquet_writes_the_pandas_events(tmp_path):
    data, _ = ia.datasets.simulate(200, seed=8)
    data = data.assign(patient=data["patient"].astype(str))
    write_by_patient(data, tmp_path / "visits")
    result = screen_parquet(tmp_path / "visits", out=tmp_path / "out", **OPTIONS)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ia.screen(data, **OPTIONS)
    expected = expected[expected["detector"] != "worsening_trajectory"]
    written = pd.read_parquet(result.events_path)
    keys = ["patient", "session", "detector", "value"]
    left = expected.sort_values(keys).reset_index(drop=True)
    right = written.sort_values(keys).reset_index(drop=True)
    assert result.n_events == len(left) == len(right) > 50
    assert right["session"].dtype == np.int64  # the data's sessions, not Python objects
    for column in ("patient", "detector", "level", "evidence"):
        assert right[column].tolist() == left[column].astype(str).tolist()
    np.testing.assert_array_equal(right["value"].to_numpy(), left["value"].to_numpy())
    assert result.n_partitions == 4
    text = result.summary_path.read_text()
    assert f"events: {len(left)}" in text
    counts = left.groupby(["detector", "level"]).size().sum()
    assert int(result.counts["events"].sum()) == counts


def test_screen_parquet_rejects_the_summary_option(tmp_path):
    with pytest.raises(ia.exceptions.ParameterError, match="summary"):
        screen_parquet(tmp_path, out=tmp_path / "out", summary=True)


def test_command_line_engine_dask(tmp_path, capsys):
    from iatrogenic.cli import main

    data, _ = ia.datasets.simulate(120, seed=9)
    data = data.assign(patient=data["patient"].astype(str))
    write_by_patient(data, tmp_path / "visits", buckets=3)
    # iatrogenic screen "visits" --engine dask --score phq9 --instrument phq9 --out out
    status = main(["screen", str(tmp_path / "visits"), "--engine", "dask", "--score", "phq9",
                   "--instrument", "phq9", "--detectors", "reliable_deterioration,sudden_loss",
                   "--out", str(tmp_path / "out")])
    assert status == 0
    written = pd.read_parquet(tmp_path / "out" / "events")
    expected = ia.screen(data, score="phq9", instrument="phq9",
                         detectors=["reliable_deterioration", "sudden_loss"])
    assert len(written) == len(expected) > 0
    assert sorted(written["patient"]) == sorted(expected["patient"].astype(str))
    assert "events:" in capsys.readouterr().out

    # flags that the Dask engine cannot honour are refused in the command line's words
    assert main(["screen", "--example", "--engine", "dask"]) == 2
    assert "pass FILE" in capsys.readouterr().err
    assert main(["screen", "--example", "--scheduler", "tcp://localhost:8786"]) == 2
    assert "--scheduler needs --engine dask" in capsys.readouterr().err


def test_progress_bar_on_request_only(tmp_path, capsys):
    data, _ = ia.datasets.simulate(60, seed=4)
    write_by_patient(data.assign(patient=data["patient"].astype(str)), tmp_path / "visits")
    options = {"score": "phq9", "instrument": "phq9", "detectors": ["reliable_deterioration"]}
    quiet = screen_parquet(tmp_path / "visits", out=tmp_path / "a", progress=False, **options)
    assert "Completed" not in capsys.readouterr().err
    shown = screen_parquet(tmp_path / "visits", out=tmp_path / "b", progress=True, **options)
    assert "Completed" in capsys.readouterr().err  # dask's bar: "[####] | 100% Completed"
    assert shown.n_events == quiet.n_events > 0
    with pytest.raises(ia.exceptions.ParameterTypeError, match="'progress'"):
        screen_parquet(tmp_path / "visits", out=tmp_path / "c", progress="yes", **options)
