"""The growth engine on Dask: per-patient sufficient statistics per partition, one fit.

A growth fit needs each patient's sums of ``[X y]`` against ``Z`` and of ``[X y]'[X y]``
(:func:`iatrogenic.core.growth._patient_sums`), never the rows themselves. Each partition
(holding whole patients) computes its patients' sums; the client puts them in the pandas path's
patient order and runs the same optimiser and effects (:func:`iatrogenic.core.growth._fit_sums`)
as the in-memory fit. The sums of a patient depend only on that patient's rows, so the
estimates are the in-memory fit's, to the last bit.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._validation import check_column_list, check_columns
from ..core.growth import (
    _CALLER,
    GrowthModel,
    _Covariates,
    _design_rows,
    _fit_sums,
    _growth_inputs,
    _patient_sums,
    _PatientSums,
    _plan_covariates,
)
from ..exceptions import ParameterError
from ._partition import SuspectRule, first_pass, require_dask

if TYPE_CHECKING:
    import dask.dataframe as dd

    from ..core.expected_response import ExpectedResponseModel

__all__ = ["fit_expected_response", "fit_growth"]


@dataclass
class _PartitionSums:
    """One partition's patients (sorted) and their sums."""

    patients: np.ndarray
    n_scored: np.ndarray
    sums: _PatientSums
    names: list[str]


def _growth_partition(
    part: pd.DataFrame, arguments: dict[str, Any], plan: _Covariates
) -> _PartitionSums:
    inputs = _growth_inputs(part, **arguments, plan=plan)
    long = inputs.long
    rows, Xy, names = _design_rows(
        long.frame, inputs.t, inputs.valid, inputs.cov_cols, plan.names,
        inputs.time_transform, inputs.knot, inputs.time_interactions,
    )
    q = 1 if inputs.random == "intercept" else 2
    sums = _patient_sums(Xy, q, long.codes[rows], long.n_patients)
    scored = ~np.isnan(long.frame["score"].to_numpy())
    n_scored = np.add.reduceat(scored.astype(np.int64), long.starts[:-1])
    return _PartitionSums(long.patients.to_numpy(), n_scored, sums, names)


def _combine(parts: Sequence[_PartitionSums]) -> tuple[np.ndarray, np.ndarray, _PatientSums]:
    """Every partition's sums in the order of the patient ids (the pandas path's order)."""
    patients = np.concatenate([p.patients for p in parts])
    try:
        order = np.argsort(patients, kind="stable")
    except TypeError:  # ids of mixed types: pandas keeps first appearance too
        order = np.arange(len(patients))
    counts = np.concatenate([p.sums.counts for p in parts])
    n_scored = np.concatenate([p.n_scored for p in parts])
    # the patients with rows, in the same order
    present_order = np.argsort(np.argsort(order, kind="stable")[counts > 0], kind="stable")
    q = parts[0].sums.q
    # contiguous as the in-memory arrays: BLAS products then sum in the same order
    B = [
        np.ascontiguousarray(np.concatenate([p.sums.B[k] for p in parts], axis=1)[:, present_order])
        for k in range(q)
    ]
    cross = np.concatenate([p.sums.cross for p in parts], axis=2)[:, :, present_order]
    sums = _PatientSums(q, counts[order], B, np.ascontiguousarray(cross))
    return patients[order], n_scored[order], sums


def _global_plan(data: dd.DataFrame, covariates: list[str]) -> _Covariates:
    """The covariates' coding from the whole data: the levels of every partition."""
    meta = data._meta
    names: list[str] = []
    spec: list[tuple[str, str, Any]] = []
    for column in covariates:
        dtype = meta[column].dtype
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        if numeric:
            values = meta[[column]]
        else:
            levels = data[column].dropna().unique().compute()
            values = pd.DataFrame({column: pd.Series(np.asarray(levels), dtype=dtype)})
        plan = _plan_covariates(values, [column])
        names += plan.names
        spec += plan.spec
    return _Covariates(names=names, spec=spec)


def fit_growth(
    data: dd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    time_transform: str = "linear",
    random: str = "slope",
    covariates: str | Sequence[str] | None = None,
    cluster: str | None = None,
    method: str = "REML",
    knot: float | None = None,
    time_interactions: bool = True,
    maxiter: int = 1000,
    start: Sequence[float] | None = None,
) -> GrowthModel:
    """:func:`iatrogenic.fit_growth` on a Dask DataFrame: the same fitted model.

    Each partition's patients' sufficient statistics are computed where the partition is, put
    together on the client in patient order, and fitted by the in-memory engine; the client
    holds a few numbers per patient, never the rows. ``cluster`` (a random intercept per
    therapist, whose patients span partitions) is not available on Dask.
    """
    require_dask()
    if cluster is not None:
        raise ParameterError(
            f"cluster= in {_CALLER}() is not available on a Dask DataFrame: a cluster's patients "
            "are spread over partitions. Suggestion: fit without cluster=, or fit a sample of "
            "patients in memory with pandas."
        )
    cov_list = check_column_list(covariates, name="covariates", caller=_CALLER)
    for name in cov_list:
        check_columns(data._meta, {"covariates": name}, caller=_CALLER)
    plan = _global_plan(data, cov_list)
    arguments: dict[str, Any] = {
        "patient": patient, "time": time, "score": score, "time_transform": time_transform,
        "random": random, "covariates": covariates, "cluster": None, "method": method,
        "knot": knot, "time_interactions": time_interactions, "maxiter": maxiter,
    }
    passed = first_pass(
        data, patient=patient, caller=_CALLER,
        inspect=functools.partial(_growth_partition, arguments=arguments, plan=plan),
        rule=SuspectRule(patient, time),
    )
    parts = [r for r in passed.results if r is not None]
    patients, n_scored, sums = _combine(parts)
    # the options as validated by the partitions (the same on every partition)
    options = _growth_inputs(passed.probe, **arguments, plan=plan)
    model = _fit_sums(
        sums,
        patients=patients,
        n_scored=n_scored,
        names=parts[0].names,
        cov_names=plan.names,
        columns={"patient": patient, "time": time, "score": score},
        time_transform=options.time_transform,
        random=options.random,
        knot=options.knot,
        reml=options.method == "REML",
        time_interactions=options.time_interactions,
        maxiter=options.maxiter,
        start=None if start is None else np.asarray(start, dtype=np.float64),
        missing_reason="covariate missing" if cov_list else None,
    )
    model._state.covariates = cov_list
    model._state.covariate_spec = plan.spec
    return model


def fit_expected_response(reference: dd.DataFrame, **arguments: Any) -> ExpectedResponseModel:
    """:func:`iatrogenic.fit_expected_response` on a Dask DataFrame: the same fitted model."""
    from ._expected import fit_expected_response as _fit

    return _fit(reference, **arguments)
