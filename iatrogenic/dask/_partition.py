"""Partitions that hold whole patients, the first pass over them, and the per-partition map.

Every per-patient function runs on Dask in two passes:

1. :func:`first_pass` computes, in one read of the data, each partition's patient ids, the
   library's validation of the partition and whatever the function needs from the whole sample
   (for example each patient's intake score). When the same patient turns up in two partitions
   the data are shuffled by patient and the pass is repeated on the shuffled partitions. Errors
   found in several partitions are reported together, as pandas would report them on the whole
   table (:func:`raise_merged`).
2. :func:`map_patients` runs the pandas function on every partition with the sample-wide values
   as explicit arguments, lazily, and returns a Dask DataFrame with a fixed ``meta``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._validation import check_dataframe
from ..exceptions import IatrogenicError

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = [
    "INSTALL_HINT",
    "FirstPass",
    "Inspection",
    "conform",
    "first_pass",
    "gather_by_patient",
    "map_patients",
    "require_dask",
]

INSTALL_HINT = "pip install 'iatrogenic[dask]'"
#: Patients of each partition whose rows are kept to build the output's ``meta``.
_PROBE_PATIENTS = 3


def require_dask() -> None:
    """Import dask.dataframe, or fail with the install hint."""
    try:
        import dask.dataframe  # noqa: F401
    except ImportError as error:  # pragma: no cover - dask is part of the test extra
        raise ImportError(
            f"Dask DataFrames need the optional Dask extra: {INSTALL_HINT}"
        ) from error


@dataclass
class Inspection:
    """What the first pass learns from one partition."""

    ids: np.ndarray
    n_rows: int
    result: Any = None
    error: IatrogenicError | None = None
    suspects: pd.DataFrame | None = None
    probe: pd.DataFrame | None = None


@dataclass
class FirstPass:
    """The partitions to map over and the first pass's findings, one per partition."""

    frame: dd.DataFrame
    inspections: list[Inspection]
    shuffled: bool
    #: the rows of a few patients of the first non-empty partition, to build the output's meta
    probe: pd.DataFrame

    @property
    def results(self) -> list[Any]:
        """The inspect function's result of each non-empty partition."""
        return [i.result for i in self.inspections if i.n_rows]


@dataclass(frozen=True)
class SuspectRule:
    """Which rows can cause a validation error, so that errors merge across partitions.

    Rows with a missing patient or occasion, rows sharing a patient and occasion, and scores
    outside ``ranges`` (``{column: (low, high)}``).
    """

    patient: str
    time: str
    ranges: tuple[tuple[str, float | None, float | None], ...] = ()

    def mask(self, part: pd.DataFrame) -> np.ndarray:
        mask = np.zeros(len(part), dtype=bool)
        keys = [c for c in (self.patient, self.time) if c in part.columns]
        for column in keys:
            mask |= part[column].isna().to_numpy()
        if len(keys) == 2:
            mask |= part.duplicated(keys, keep=False).to_numpy()
        for column, low, high in self.ranges:
            if column not in part.columns:
                continue
            values = pd.to_numeric(part[column], errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            mask |= ~np.isfinite(values) & part[column].notna().to_numpy()
            if low is not None:
                mask |= values < low
            if high is not None:
                mask |= values > high
        return mask


def _inspect(
    part: pd.DataFrame,
    patient: str,
    inspect: Callable[[pd.DataFrame], Any],
    rule: SuspectRule,
) -> Inspection:
    ids = pd.unique(part[patient].dropna().to_numpy()) if patient in part.columns else np.array([])
    found = Inspection(ids=np.asarray(ids), n_rows=len(part))
    if not len(part):
        return found
    try:
        found.result = inspect(part)
    except IatrogenicError as error:
        found.error = error
        found.suspects = part.loc[rule.mask(part)]
        return found
    first = ids[:_PROBE_PATIENTS]
    found.probe = part.loc[part[patient].isin(first).to_numpy()]
    return found


def _inspect_all(
    frame: dd.DataFrame, patient: str, inspect: Callable[[pd.DataFrame], Any], rule: SuspectRule
) -> list[Inspection]:
    import dask

    tasks = [dask.delayed(_inspect)(part, patient, inspect, rule) for part in frame.to_delayed()]
    return list(dask.compute(*tasks))


def _split_patients(inspections: Sequence[Inspection]) -> bool:
    """Whether some patient has rows in more than one partition."""
    ids = [i.ids for i in inspections if len(i.ids)]
    if len(ids) < 2:
        return False
    everyone = np.concatenate([np.asarray(i, dtype=object) for i in ids])
    return len(pd.unique(everyone)) < len(everyone)


def first_pass(
    frame: dd.DataFrame,
    *,
    patient: str,
    caller: str,
    inspect: Callable[[pd.DataFrame], Any],
    rule: SuspectRule,
    name: str = "data",
) -> FirstPass:
    """Bring each patient's rows into one partition and run ``inspect`` on every partition.

    ``inspect`` validates a partition (raising the library's errors, as the pandas function
    would) and returns what the caller needs from it. Partitions are shuffled by ``patient``
    only when some patient has rows in two of them; the check is exact (the patient ids of the
    partitions, compared on the client).
    """
    inspections = _inspect_all(frame, patient, inspect, rule)
    shuffled = False
    if _split_patients(inspections):
        frame = frame.shuffle(on=patient)
        inspections = _inspect_all(frame, patient, inspect, rule)
        shuffled = True
    if not any(i.n_rows for i in inspections):
        check_dataframe(frame._meta, caller=caller, name=name)  # raises as pandas on no rows
    raise_merged(inspections, inspect)
    probe = next(
        (i.probe for i in inspections if i.probe is not None and len(i.probe)), frame._meta
    )
    return FirstPass(frame=frame, inspections=inspections, shuffled=shuffled, probe=probe)


def raise_merged(inspections: Sequence[Inspection], inspect: Callable[[pd.DataFrame], Any]) -> None:
    """Raise the validation error of the whole table, from the partitions' errors.

    The rows that can cause an error (duplicates, missing ids, scores out of range) are gathered
    from every failing partition, in partition order and with their index labels, and validated
    again together: the error then counts and shows rows across partitions, with the class and
    message pandas gives on the whole table. An error of another kind (a column's type) is the
    first failing partition's, unchanged.
    """
    errors = [i.error for i in inspections if i.error is not None]
    if not errors:
        return
    first = errors[0]
    suspects = [i.suspects for i in inspections if i.suspects is not None and len(i.suspects)]
    if suspects:
        together = pd.concat(suspects)
        try:
            inspect(together)
        except IatrogenicError as merged:
            if type(merged) is type(first):
                raise merged from None
        except Exception:  # the suspect rows alone may fail otherwise: keep the original error
            pass
    raise first


def gather_by_patient(frames: Sequence[pd.DataFrame], patient: str = "patient") -> pd.DataFrame:
    """Concatenate per-patient tables of the partitions in the pandas path's patient order.

    The pandas functions order patients by sorted id; sums over patients taken in that order
    are then the same floating-point numbers on both paths.
    """
    non_empty = [f for f in frames if f is not None and len(f)]
    if not non_empty:
        return frames[0] if frames else pd.DataFrame()
    table = pd.concat(non_empty, ignore_index=True)
    ids = table[patient].to_numpy()
    try:
        order = np.argsort(ids, kind="stable")
    except TypeError:  # ids of mixed types: pandas keeps first appearance too
        return table
    return table.take(order).reset_index(drop=True)


def conform(out: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """``out`` with the columns and dtypes of ``meta`` (categoricals may differ in categories)."""
    out = out.reset_index(drop=True)
    columns = {}
    for name in meta.columns:
        column = out[name]
        wanted = meta[name].dtype
        if isinstance(wanted, pd.CategoricalDtype):
            if not isinstance(column.dtype, pd.CategoricalDtype):
                column = column.astype("category")
            categories = column.cat.categories
            if categories.dtype != wanted.categories.dtype:
                # dask unions the partitions' categories: they must share one dtype
                column = pd.Series(
                    pd.Categorical(
                        column.astype(object),
                        categories=pd.Index(list(categories), dtype=wanted.categories.dtype),
                        ordered=column.cat.ordered,
                    ),
                    index=column.index,
                )
        elif column.dtype != wanted:
            column = column.astype(wanted)
        columns[name] = column
    return pd.DataFrame(columns, index=out.index)


@dataclass(frozen=True)
class _PartitionTask:
    function: Callable[[pd.DataFrame], pd.DataFrame]
    meta: pd.DataFrame


def _run_partition(part: pd.DataFrame, task: _PartitionTask, **shared: Any) -> pd.DataFrame:
    if not len(part):
        return task.meta.copy()
    return conform(task.function(part, **shared), task.meta)


def meta_of(
    example: pd.DataFrame, categorical: Sequence[str] = (), text: Sequence[str] = ()
) -> pd.DataFrame:
    """An empty frame with the columns and dtypes of ``example``.

    ``categorical`` columns become categoricals (their categories may differ by partition) and
    ``text`` columns (strings or missing) take pandas' dtype for text, which pandas infers when
    a value is present and which an example without one would miss.
    """
    meta = example.iloc[:0].reset_index(drop=True)
    text_dtype = pd.Series(["text"]).dtype
    for name in categorical:
        if name in meta.columns:
            meta[name] = pd.Categorical([], categories=pd.Index([], dtype=text_dtype))
    for name in text:
        if name in meta.columns:
            meta[name] = meta[name].astype(text_dtype)
    meta.attrs = {}
    return meta


def map_patients(
    frame: dd.DataFrame,
    function: Callable[..., pd.DataFrame],
    meta: pd.DataFrame,
    **shared: Any,
) -> dd.DataFrame:
    """Run ``function`` (a pandas function of whole patients) on every partition, lazily.

    ``shared`` objects (a large table every partition reads, such as the medications) are
    passed to ``function`` as keywords through one graph key each (``dask.delayed``), so that a
    worker receives each of them once, not once per task inside the task's arguments.
    """
    import dask

    task = _PartitionTask(function=function, meta=meta)
    keywords = {name: dask.delayed(value, traverse=False) for name, value in shared.items()}
    return frame.map_partitions(_run_partition, task, meta=meta, **keywords)
