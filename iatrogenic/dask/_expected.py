"""The expected-response model fitted on a Dask DataFrame, in three passes over the partitions.

1. Each partition's patients' intake features (intake score, covariates) and whether they have
   scores after intake; the client takes the intake mean and SD and the features' centres from
   every patient, as the in-memory fit does.
2. With the centres given, each partition's growth sufficient statistics
   (:mod:`iatrogenic.dask._growth`); the client fits the growth model.
3. With the fit given, each partition's patients' residual sums about their own courses.

The client then assembles the model with the in-memory fit's code.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.expected_response import (
    _CALLER,
    ExpectedResponseModel,
    _assemble,
    _checked_options,
    _reference_long,
    _ReferenceRows,
    _ReferenceSummary,
    _used_patients,
)
from ..core.growth import (
    GrowthModel,
    _Covariates,
    _design_rows,
    _fit_sums,
    _growth_inputs,
    _patient_sums,
)
from ._growth import _combine, _PartitionSums
from ._partition import SuspectRule, first_pass, require_dask

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["fit_expected_response"]


@dataclass
class _Intakes:
    """One partition's patients (sorted), their features and whether they have later scores."""

    patients: np.ndarray
    features: np.ndarray
    has_rows: np.ndarray


def _partition_rows(part: Any, columns: dict[str, Any]) -> tuple[Any, _ReferenceRows]:
    long = _reference_long(part, **columns)
    return long, _ReferenceRows.of(long, columns["covs"])


def _intakes(part: Any, columns: dict[str, Any]) -> _Intakes:
    long, rows = _partition_rows(part, columns)
    has_rows = np.bincount(rows.codes[rows.rows], minlength=long.n_patients) > 0
    return _Intakes(long.patients.to_numpy(), rows.features, has_rows)


def _growth_sums(
    part: Any,
    columns: dict[str, Any],
    centers: np.ndarray,
    growth_arguments: dict[str, Any],
    plan: _Covariates,
) -> _PartitionSums | None:
    long, rows = _partition_rows(part, columns)
    names = ["intake", *columns["covs"]]
    frame = rows.fit_frame(centers, names)
    # the partition's patients as the pandas growth fit sees them: their rows' patient codes
    frame["patient"] = long.patients.to_numpy()[frame["patient"].to_numpy()]
    if not len(frame):
        return None
    inputs = _growth_inputs(frame, **growth_arguments, plan=plan)
    fit_rows, Xy, term_names = _design_rows(
        inputs.long.frame, inputs.t, inputs.valid, inputs.cov_cols, plan.names,
        inputs.time_transform, inputs.knot, inputs.time_interactions,
    )
    sums = _patient_sums(Xy, 2, inputs.long.codes[fit_rows], inputs.long.n_patients)
    n_scored = np.bincount(inputs.long.codes, minlength=inputs.long.n_patients)
    return _PartitionSums(inputs.long.patients.to_numpy(), n_scored, sums, term_names)


def _residuals(
    part: Any,
    columns: dict[str, Any],
    centers: np.ndarray,
    growth: GrowthModel,
    ids: np.ndarray,
    time_transform: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    long, rows = _partition_rows(part, columns)
    global_codes = np.searchsorted(ids, long.patients.to_numpy())
    gs = growth._state
    g_codes = np.asarray(gs.patients, dtype=np.int64)[gs.n_patient_obs > 0]
    mine = np.unique(global_codes[rows.codes[rows.rows]])
    # the growth model of the partition's own patients: their effects, in code order
    subset = _subset_growth(growth, g_codes, mine)
    rss, nobs = rows.residual_sums(centers, subset, mine, global_codes, time_transform)
    return mine, rss, nobs


def _subset_growth(growth: GrowthModel, g_codes: np.ndarray, mine: np.ndarray) -> GrowthModel:
    """The growth model restricted to the patients ``mine`` (global codes, sorted)."""
    import copy

    gs = growth._state
    keep = np.flatnonzero(gs.n_patient_obs > 0)
    positions = keep[np.searchsorted(g_codes, mine)]
    state = copy.copy(gs)
    state.patients = np.asarray(gs.patients)[positions]
    state.effects = np.asarray(gs.effects)[positions]
    state.n_patient_obs = np.asarray(gs.n_patient_obs)[positions]
    subset = copy.copy(growth)
    subset._state = state
    return subset


def fit_expected_response(
    reference: dd.DataFrame,
    *,
    method: str = "hlm",
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    covariates: Any = None,
    instrument: Any = None,
    better: str | None = None,
    time_transform: str = "log",
    k: int = 50,
    weights: str = "tricube",
    distance: str = "euclidean",
    reliability: float | None = None,
    sd: float | None = None,
    cutoff: float | None = None,
    maxiter: int = 1000,
) -> ExpectedResponseModel:
    """:func:`iatrogenic.fit_expected_response` on a Dask DataFrame: the same fitted model.

    Three passes over the partitions (intake features; growth statistics given the features'
    centres; residual sums given the fit). The model holds a few numbers per reference patient
    (as the in-memory model does), so the reference's patients must fit in memory, its rows
    need not.
    """
    require_dask()
    options = _checked_options(
        method=method, time_transform=time_transform, weights=weights, distance=distance, k=k,
        covariates=covariates, instrument=instrument, better=better, reliability=reliability,
        sd=sd, cutoff=cutoff,
    )
    covs = options["covs"]
    columns = {"patient": patient, "time": time, "score": score, "covs": covs,
               "inst": options["inst"]}
    inst = options["inst"]
    rule = SuspectRule(patient, time, ((score, inst.low, inst.high),) if inst else ())
    passed = first_pass(
        reference, patient=patient, caller=_CALLER, name="reference",
        inspect=functools.partial(_intakes, columns=columns), rule=rule,
    )
    parts: list[_Intakes] = [r for r in passed.results if r is not None]
    ids = np.concatenate([p.patients for p in parts])
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    features = np.concatenate([p.features for p in parts])[order]
    has_rows = np.concatenate([p.has_rows for p in parts])[order]
    used = _used_patients(np.flatnonzero(has_rows))
    summary = _ReferenceSummary.of(features, used)

    names = ["intake", *covs]
    growth_arguments: dict[str, Any] = {
        "patient": "patient", "time": "tau", "score": "score",
        "time_transform": "log1p" if options["time_transform"] == "log" else "linear",
        "random": "slope", "covariates": names, "cluster": None, "method": "REML",
        "knot": None, "time_interactions": True, "maxiter": maxiter,
    }
    plan = _Covariates(names=list(names), spec=[(n, "numeric", None) for n in names])
    sums_parts = _compute_each(
        passed.frame,
        functools.partial(_growth_sums, columns=columns, centers=summary.centers,
                          growth_arguments=growth_arguments, plan=plan),
    )
    sums_parts = [p for p in sums_parts if p is not None]
    patients, n_scored, sums = _combine(sums_parts)
    codes = np.searchsorted(ids, patients)
    growth = _fit_sums(
        sums,
        patients=codes,
        n_scored=n_scored,
        names=sums_parts[0].names,
        cov_names=names,
        columns={"patient": "patient", "time": "tau", "score": "score"},
        time_transform=growth_arguments["time_transform"],
        random="slope",
        knot=None,
        reml=True,
        time_interactions=True,
        maxiter=int(maxiter),
        start=None,
    )
    growth._state.covariates = list(names)
    growth._state.covariate_spec = plan.spec

    residual_parts = _compute_each(
        passed.frame,
        functools.partial(_residuals, columns=columns, centers=summary.centers, growth=growth,
                          ids=ids, time_transform=options["time_transform"]),
    )
    g_codes = np.asarray(growth._state.patients, dtype=np.int64)
    rss = np.zeros(len(g_codes))
    nobs = np.zeros(len(g_codes))
    for mine, part_rss, part_nobs in (r for r in residual_parts if r is not None):
        where = np.searchsorted(g_codes, mine)
        rss[where] = part_rss
        nobs[where] = part_nobs
    return _assemble(
        growth=growth,
        features_p=features,
        summary=summary,
        rss=rss,
        nobs=nobs,
        n_obs=int(nobs.sum()),
        method=options["method"],
        time_transform=options["time_transform"],
        covs=covs,
        better=options["better"],
        inst=inst,
        k=options["k"],
        weights=options["weights"],
        distance=options["distance"],
        reliability=options["reliability"],
        sd=options["sd"],
        cutoff=options["cutoff"],
        columns={"patient": patient, "time": time, "score": score},
    )


def _compute_each(frame: dd.DataFrame, function: Any) -> list[Any]:
    """``function`` of every non-empty partition, computed together."""
    import dask

    def run(part: Any) -> Any:
        return function(part) if len(part) else None

    return list(dask.compute(*[dask.delayed(run)(p) for p in frame.to_delayed()]))
