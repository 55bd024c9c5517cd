"""The command line's Dask engine: screen a partitioned parquet data set too large for memory.

``iatrogenic screen "visits/*.parquet" --engine dask [--scheduler ADDRESS]`` calls
:func:`screen_parquet`: the data are read lazily, screened partition by partition, and the
events written as parquet (one file per partition) with a short text summary; no step holds the
whole data set.
"""

from __future__ import annotations

import contextlib
import sys
import time as time_module
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..exceptions import ParameterError
from ._partition import require_dask

__all__ = ["DaskScreenResult", "screen_parquet"]


@dataclass(frozen=True)
class DaskScreenResult:
    """What :func:`screen_parquet` wrote and found.

    Attributes
    ----------
    events_path : Path
        Directory of the events as parquet (``part.<n>.parquet``, one file per partition).
    summary_path : Path
        The text summary (``summary.txt``).
    n_events : int
        Number of events.
    counts : DataFrame
        Events per detector and level (``detector, level, events``).
    n_partitions : int
        Partitions screened.
    seconds : float
        Wall time of the screen (read, screen, write).
    summary : str
        The text of ``summary.txt``.
    """

    events_path: Path
    summary_path: Path
    n_events: int
    counts: pd.DataFrame
    n_partitions: int
    seconds: float
    summary: str


def screen_parquet(
    source: str | Path,
    *,
    out: str | Path,
    scheduler: str | None = None,
    progress: bool | None = None,
    **screen_options: Any,
) -> DaskScreenResult:
    """Screen a (partitioned) parquet data set with Dask and write the events as parquet.

    Parameters
    ----------
    source : str or Path
        A parquet file, a directory of them or a glob (``"visits/*.parquet"``), read lazily with
        ``dask.dataframe.read_parquet``. Files written by patient (see ``docs/dask.md``) are
        screened without a shuffle.
    out : str or Path
        Output directory: ``events/`` (parquet) and ``summary.txt`` are written into it.
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler (``tcp://host:8786``); default the
        threaded scheduler of this process.
    progress : bool or None, default None
        A progress bar over the partitions' tasks on standard error: dask's own (no extra
        needed). ``None``: only when standard error is a terminal; ``False``: never; ``True``:
        always.
    **screen_options
        Keywords of :func:`iatrogenic.screen` (``score=``, ``instrument=``, ``patient=``,
        optional columns, ``detectors=``...).

    Returns
    -------
    DaskScreenResult

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import iatrogenic as ia
    >>> from iatrogenic.dask.cli import screen_parquet
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> ia.datasets.load_example().to_parquet(folder / "visits.parquet")
    >>> result = screen_parquet(folder / "visits.parquet", out=folder / "out", score="phq9",
    ...                         instrument="phq9", detectors=["reliable_deterioration"])
    >>> result.n_events > 0, (folder / "out" / "summary.txt").exists()
    (True, True)
    """
    require_dask()
    import dask
    import dask.dataframe as dd

    from .._progress import _bar_wanted, check_enabled

    bar = _bar_wanted(check_enabled(progress, caller="screen_parquet"))

    from . import screen

    if "summary" in screen_options:
        raise ParameterError(
            "screen_parquet() writes its own summary; the 'summary' option of screen() does not "
            "apply. Suggestion: drop it."
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    events_path = out / "events"
    started = time_module.perf_counter()
    client = None
    if scheduler is not None:
        from distributed import Client

        client = Client(scheduler)
    try:
        data = dd.read_parquet(str(source))
        with warnings.catch_warnings():
            # the warning about detectors left out is repeated in the summary
            warnings.simplefilter("ignore")
            events = screen(data, **screen_options)
        # split_out=1: a tree reduction of a few rows per partition; dask would otherwise choose
        # a shuffle of the events for a groupby over many partitions
        counts_lazy = events.groupby(["detector", "level"], observed=True).size(split_out=1)
        write = _typed(events, data, screen_options).to_parquet(
            str(events_path), write_index=False, compute=False
        )
        if client is not None:
            futures = client.compute([write, counts_lazy])
            if bar:
                from distributed import progress as show_progress

                show_progress(futures)
            _, counts_series = client.gather(futures)
        else:
            with _dask_bar(bar):
                _, counts_series = dask.compute(write, counts_lazy)
    finally:
        if client is not None:
            client.close()
    seconds = time_module.perf_counter() - started
    counts = (
        counts_series.rename("events").reset_index().sort_values(["detector", "level"])
        .reset_index(drop=True)
    )
    n_events = int(counts["events"].sum()) if len(counts) else 0
    lines = [
        f"iatrogenic screen (Dask engine) of {source}",
        f"partitions: {data.npartitions}; events: {n_events}; {seconds:.1f} s",
        "events per detector and level:",
        *(f"  {row.detector:<28} {row.level:<8} {row.events}" for row in counts.itertuples()),
        "worsening_trajectory is not run on Dask (it refits a growth model on the whole sample).",
        f"events written to {events_path}",
    ]
    summary = "\n".join(lines) + "\n"
    summary_path = out / "summary.txt"
    summary_path.write_text(summary, encoding="utf-8")
    return DaskScreenResult(
        events_path=events_path,
        summary_path=summary_path,
        n_events=n_events,
        counts=counts,
        n_partitions=data.npartitions,
        seconds=seconds,
        summary=summary,
    )


def _dask_bar(wanted: bool) -> Any:
    """dask's progress bar on standard error for a local scheduler, or a no-op context."""
    if not wanted:
        return contextlib.nullcontext()
    from dask.diagnostics import ProgressBar

    return ProgressBar(out=sys.stderr)


def _plain_dtype(dtype: Any) -> Any:
    """A column's dtype for parquet: a categorical's categories' dtype."""
    return dtype.categories.dtype if isinstance(dtype, pd.CategoricalDtype) else dtype


def _typed(events: Any, data: Any, options: dict[str, Any]) -> Any:
    """The events with parquet-ready dtypes: ``patient`` and ``session`` as the data's columns,
    the text columns as text (the event table holds them as Python objects)."""
    meta = data._meta
    text = pd.Series(["text"]).dtype
    dtypes = {name: text for name in ("detector", "harm", "level", "evidence")}
    dtypes["patient"] = _plain_dtype(meta[options.get("patient", "patient")].dtype)
    dtypes["session"] = _plain_dtype(meta[options.get("time", "session")].dtype)
    return events.astype(dtypes)
