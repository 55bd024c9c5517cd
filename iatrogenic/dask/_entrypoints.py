"""The per-patient entry points on Dask DataFrames: the pandas functions run per partition.

Each function has the signature of the pandas function of the same name (see its docstring for
the parameters and the output columns) and returns a lazy Dask DataFrame with the same columns
and dtypes. The first pass (validation, partition check, sample-wide values) runs when the
function is called; the per-patient work runs on ``.compute()``.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from .. import instruments as _instruments
from .._validation import check_choice, check_columns, prepare_long
from ..core.reliable_change import (
    HLMFit,
    SampleStatistics,
    _hlm_times,
    _missing_occasion,
    _raise_no_hlm_patients,
    _reliable_change,
    hlm_fit,
    sample_statistics,
)
from ..core.sudden_changes import (
    SELECTS,
    _first_scores,
    _get_instrument,
    _prepare,
    resolve_cutoff,
)
from ..core.sudden_changes import sudden_changes as _sudden_changes
from ..core.talking_therapies import talking_therapies_outcomes as _talking_therapies
from ..detectors.base import EVENT_COLUMNS, Detector, empty_events
from ..exceptions import IatrogenicWarning, ParameterError, ParameterTypeError
from ._partition import (
    SuspectRule,
    first_pass,
    gather_by_patient,
    map_patients,
    meta_of,
    require_dask,
)

if TYPE_CHECKING:
    import dask.dataframe as dd

    from ..core.expected_response import ExpectedResponseModel

__all__ = [
    "SAMPLE_WIDE_DETECTORS",
    "reliable_change",
    "screen",
    "sudden_changes",
    "talking_therapies_outcomes",
    "track",
]

#: Detectors whose events depend on every patient of the data at once (a growth model refitted
#: on the whole sample at each occasion): they cannot run per partition.
SAMPLE_WIDE_DETECTORS = ("worsening_trajectory",)


def _range_of(instrument: Any) -> tuple[float | None, float | None]:
    if instrument is None:
        return (None, None)
    inst = _instruments.get(instrument)
    return (inst.low, inst.high)


def _validate(part: pd.DataFrame, function: Any) -> None:
    """Run ``function`` on the partition for its validation only."""
    function(part)


def _first_observed(values: np.ndarray, codes: np.ndarray, n_patients: int) -> np.ndarray:
    """Each patient's first non-missing value (rows sorted by patient and occasion)."""
    rows = np.flatnonzero(~np.isnan(values))
    row_codes = codes[rows]
    first = np.r_[True, row_codes[1:] != row_codes[:-1]] if len(rows) else np.zeros(0, bool)
    out = np.full(n_patients, np.nan)
    out[row_codes[first]] = values[rows[first]]
    return out


def _observed_sd(intake: np.ndarray) -> float:
    """The SD (``ddof=1``) of the observed intake scores, as the detectors compute it."""
    observed = intake[~np.isnan(intake)]
    return float(np.std(observed, ddof=1)) if len(observed) > 1 else math.nan


# ------------------------------------------------------------------------------------------------
# reliable_change
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pairs:
    """A partition's patients with a pre and a post score, and its named occasions."""

    pairs: pd.DataFrame
    found: dict[str, bool]
    occasions: Any
    first_patient: Any


def _pairs(part: pd.DataFrame, arguments: dict[str, Any]) -> _Pairs:
    pairs = _reliable_change(part, **arguments, pairs_only=True)
    used = pairs.loc[pairs["used"].to_numpy(), ["patient", "pre", "post"]]
    used.attrs = {}  # the occasions stay here: pandas compares attrs when it concatenates
    return _Pairs(
        pairs=used,
        found=pairs.attrs["found"],
        occasions=pairs.attrs["occasions"],
        first_patient=pairs["patient"].iloc[0],
    )


def _check_occasions(parts: list[_Pairs], arguments: dict[str, Any]) -> None:
    """Refuse a named occasion that no partition has, as pandas refuses it on the whole data."""
    for keyword in ("pre", "post"):
        occasion = arguments.get(keyword)
        if occasion is None or any(p.found[keyword] for p in parts):
            continue
        try:
            ordered = sorted(parts, key=lambda p: p.first_patient)
        except TypeError:  # ids of mixed types
            ordered = parts
        occasions = pd.unique(np.concatenate([np.asarray(p.occasions, dtype=object)
                                              for p in ordered]))
        raise _missing_occasion(keyword, occasion, occasions)


def _reliable_change_part(
    part: pd.DataFrame,
    arguments: dict[str, Any],
    sample: SampleStatistics,
    hlm: HLMFit | None,
) -> pd.DataFrame:
    return _reliable_change(part, **arguments, sample=sample, hlm=hlm)


def _hlm_rows(part: pd.DataFrame, arguments: dict[str, Any]) -> pd.DataFrame:
    """The rows the HLM method fits: observed scores of patients with 3 or more."""
    used = _reliable_change(part, **arguments, pairs_only=True)["used"].to_numpy()
    instrument = arguments.get("instrument")
    long = prepare_long(
        part, patient=arguments.get("patient", "patient"), time=arguments.get("time", "session"),
        score=arguments.get("score", "score"), caller="reliable_change",
        instrument=_instruments.get(instrument) if instrument is not None else None,
    )
    scores = long.frame["score"].to_numpy(dtype=np.float64)
    rows = ~np.isnan(scores) & used[long.codes]
    times = _hlm_times(long.frame, arguments.get("time", "session"))
    return pd.DataFrame({
        "patient": long.frame["patient"].to_numpy()[rows],
        "session": times.to_numpy(dtype=np.float64)[rows],
        "score": scores[rows],
    })


def _hlm_fit(frame: dd.DataFrame, arguments: dict[str, Any]) -> HLMFit:
    """The HLM method's growth fit over every partition (the growth engine on Dask)."""
    from ._growth import fit_growth

    rows = frame.map_partitions(
        _hlm_rows, arguments,
        meta=pd.DataFrame({"patient": frame._meta[arguments.get("patient", "patient")].to_numpy(),
                           "session": pd.Series(dtype=np.float64),
                           "score": pd.Series(dtype=np.float64)}),
    )
    model = fit_growth(rows, time_transform="linear", random="slope", method="REML")
    return hlm_fit(model)


def reliable_change(data: dd.DataFrame, **arguments: Any) -> dd.DataFrame:
    """:func:`iatrogenic.reliable_change` on a Dask DataFrame (same keywords and columns).

    The statistics of the pre and post scores over the patients used (means, SDs, the HA
    correlation: the SD of the RCI when ``sd`` is not given, the clinical norm when taken from
    the data) are computed in a first pass over every partition and given to each partition;
    ``method="HLM"``'s growth model is fitted over every partition
    (:func:`iatrogenic.dask.fit_growth`) and its index given to each partition.
    """
    require_dask()
    patient = arguments.get("patient", "patient")
    inspect = functools.partial(_pairs, arguments=arguments)
    rule = SuspectRule(
        patient,
        arguments.get("time", "session"),
        ((arguments.get("score", "score"), *_range_of(arguments.get("instrument"))),),
    )
    passed = first_pass(
        data, patient=patient, caller="reliable_change", inspect=inspect, rule=rule
    )
    _check_occasions(passed.results, arguments)
    pairs = gather_by_patient([p.pairs for p in passed.results])
    if len(pairs):
        sample = sample_statistics(
            pairs["pre"].to_numpy(dtype=np.float64),
            pairs["post"].to_numpy(dtype=np.float64),
            correlation=arguments.get("method", "JT") == "HA",
        )
    else:
        sample = SampleStatistics(0, math.nan, math.nan, math.nan, math.nan)
    hlm = None
    if arguments.get("method", "JT") == "HLM":
        if not sample.n_used:
            _raise_no_hlm_patients(sum(len(i.ids) for i in passed.inspections))
        hlm = _hlm_fit(passed.frame, arguments)
    function = functools.partial(
        _reliable_change_part, arguments=arguments, sample=sample, hlm=hlm
    )
    meta = meta_of(function(passed.probe), categorical=["reason"])
    return map_patients(passed.frame, function, meta)


# ------------------------------------------------------------------------------------------------
# sudden_changes
# ------------------------------------------------------------------------------------------------

#: Keywords of sudden_changes() that _prepare() takes.
_SUDDEN_PREPARE = (
    "patient", "time", "score", "kind", "cutoff", "relative", "instrument", "sd", "reliability",
    "critical_value", "alpha", "adjust", "criterion3", "include_first_interval", "better",
)
_SUDDEN_DEFAULTS: dict[str, Any] = {
    "patient": "patient", "time": "session", "score": "score", "kind": "gain", "cutoff": None,
    "relative": 0.25, "instrument": None, "sd": None, "reliability": None,
    "critical_value": None, "alpha": 0.05, "adjust": True, "criterion3": True,
    "include_first_interval": False, "better": None,
}


def _intake_scores(part: pd.DataFrame, arguments: dict[str, Any]) -> pd.DataFrame:
    """Validate as sudden_changes() does and return each patient's first observed score."""
    if arguments.get("select") is not None:
        check_choice(arguments["select"], SELECTS, name="select", caller="sudden_changes")
    prepared = {**_SUDDEN_DEFAULTS, **{k: v for k, v in arguments.items() if k in _SUDDEN_PREPARE}}
    if prepared["cutoff"] is None:
        # any valid cut-off: the real one needs every partition's intake scores
        prepared["cutoff"] = 1.0
    grid, _ = _prepare(part, caller="sudden_changes", **prepared)
    return pd.DataFrame({"patient": grid.long.patients.to_numpy(),
                         "intake": _first_scores(grid)})


def _sudden_changes_part(part: pd.DataFrame, arguments: dict[str, Any]) -> pd.DataFrame:
    return _sudden_changes(part, **arguments)


def sudden_changes(data: dd.DataFrame, **arguments: Any) -> dd.DataFrame:
    """:func:`iatrogenic.sudden_changes` on a Dask DataFrame (same keywords and columns).

    Criterion 1's cut-off, when it comes from the SD of the intake scores, is computed from
    every partition's intake scores in a first pass and given to each partition.
    """
    require_dask()
    patient = arguments.get("patient", "patient")
    rule = SuspectRule(
        patient,
        arguments.get("time", "session"),
        ((arguments.get("score", "score"), *_range_of(arguments.get("instrument"))),),
    )
    passed = first_pass(
        data, patient=patient, caller="sudden_changes",
        inspect=functools.partial(_intake_scores, arguments=arguments), rule=rule,
    )
    intake = gather_by_patient(passed.results)
    instrument = arguments.get("instrument")
    cutoff, _ = resolve_cutoff(
        cutoff=arguments.get("cutoff"), sd=arguments.get("sd"),
        reliability=arguments.get("reliability"),
        instrument=_get_instrument(instrument) if instrument is not None else None,
        intake=intake["intake"].to_numpy(dtype=np.float64), caller="sudden_changes",
    )
    function = functools.partial(_sudden_changes_part, arguments={**arguments, "cutoff": cutoff})
    if arguments.get("select") is None:
        # the meta from events: the probe's patients with criteria 1 and 2 relaxed, so that the
        # example likely has rows (an empty event table has no dtypes for the sessions)
        changed = {"cutoff": 1e-12, "relative": 0.0, "include_first_interval": True}
    else:
        # one row per patient: the dtypes of a table with patients without a change (missing
        # sessions), as every partition with such a patient gives
        changed = {"cutoff": 1e300}
    example = _sudden_changes_part(passed.probe, {**arguments, **changed})
    if not len(example):
        example = function(passed.probe)
    meta = meta_of(example, text=["kind"])
    return map_patients(passed.frame, function, meta)


# ------------------------------------------------------------------------------------------------
# talking_therapies_outcomes and the expected-response model's track()
# ------------------------------------------------------------------------------------------------


def _talking_therapies_part(part: pd.DataFrame, arguments: dict[str, Any]) -> pd.DataFrame:
    return _talking_therapies(part, **arguments)


def talking_therapies_outcomes(data: dd.DataFrame, **arguments: Any) -> dd.DataFrame:
    """:func:`iatrogenic.talking_therapies_outcomes` on a Dask DataFrame.

    Every statistic is per patient: the first pass only validates and checks the partitions.
    """
    require_dask()
    patient = arguments.get("patient", "patient")
    function = functools.partial(_talking_therapies_part, arguments=arguments)
    ranges = (
        (arguments.get("depression", "phq9"),
         *_range_of(arguments.get("depression_instrument", "phq9"))),
        (arguments.get("anxiety", "gad7"), *_range_of(arguments.get("anxiety_instrument", "gad7"))),
    )
    passed = first_pass(
        data, patient=patient, caller="talking_therapies_outcomes",
        inspect=functools.partial(_validate, function=function),
        rule=SuspectRule(patient, arguments.get("time", "session"), ranges),
    )
    meta = meta_of(function(passed.probe), text=["reason"])
    return map_patients(passed.frame, function, meta)


def _track_part(
    part: pd.DataFrame, model: ExpectedResponseModel, arguments: dict[str, Any]
) -> pd.DataFrame:
    return model.track(part, **arguments)


def track(model: ExpectedResponseModel, data: dd.DataFrame, **arguments: Any) -> dd.DataFrame:
    """:meth:`ExpectedResponseModel.track` on a Dask DataFrame (one row per row of ``data``).

    The model is fitted beforehand and every row's expectation uses its own patient's intake
    only: the first pass only validates and checks the partitions.
    """
    require_dask()
    columns = model.columns_
    patient = arguments.get("patient") or columns.get("patient", "patient")
    time = arguments.get("time") or columns.get("time", "session")
    score = arguments.get("score") or columns.get("score", "score")
    # one bar per partition would be noise: dask.diagnostics.ProgressBar shows the partitions
    function = functools.partial(
        _track_part, model=model, arguments={**arguments, "progress": False}
    )
    passed = first_pass(
        data, patient=patient, caller="ExpectedResponseModel.track",
        inspect=functools.partial(_validate, function=function),
        rule=SuspectRule(patient, time, ((score, *_range_of(model.instrument_)),)),
    )
    meta = meta_of(function(passed.probe), text=["signal", "reason"])
    return map_patients(passed.frame, function, meta)


# ------------------------------------------------------------------------------------------------
# screen
# ------------------------------------------------------------------------------------------------


def _screen_intakes(
    part: pd.DataFrame, arguments: dict[str, Any], columns: Sequence[str]
) -> pd.DataFrame | None:
    """Validate as the screen does; return each patient's first observed score per column."""
    from ..screen import screen as _screen

    with warnings.catch_warnings():
        # the data-quality warnings of the screen are raised by the second pass, once
        warnings.simplefilter("ignore")
        _screen(part, **{**arguments, "detectors": [], "summary": False, "medications": None})
    if not columns:
        return None
    patient = arguments.get("patient", "patient")
    time = arguments.get("time", "session")
    extra: dict[str, str | None] = {f"intake:{c}": c for c in columns if c != "score"}
    long = prepare_long(part, patient=patient, time=time, score=arguments.get("score", "score"),
                        caller="screen", extra=extra, numeric_extra=list(extra))
    table = {"patient": long.patients.to_numpy()}
    for column in columns:
        values = long.frame["score" if column == "score" else column].to_numpy(dtype=np.float64)
        table[column] = _first_observed(values, long.codes, long.n_patients)
    return pd.DataFrame(table)


def _screen_part(
    part: pd.DataFrame,
    arguments: dict[str, Any],
    detectors: list[Detector],
    intake_sds: dict[str, float],
    medications: pd.DataFrame | None,
) -> pd.DataFrame:
    from ..screen import _screen

    patient = arguments.get("patient", "patient")
    if medications is not None:
        ids = pd.unique(part[patient].to_numpy())
        medications = medications.loc[medications["patient"].isin(ids).to_numpy()]
    keywords = {**_SCREEN_DEFAULTS, **arguments, "detectors": detectors,
                "medications": medications, "summary": False}
    # summary=False: the event table alone
    return cast("pd.DataFrame", _screen(part, **keywords, intake_sds=intake_sds))


#: The keywords of :func:`iatrogenic.screen` besides data, with their defaults.
_SCREEN_DEFAULTS: dict[str, Any] = {
    "instrument": None, "patient": "patient", "time": "session", "score": "score",
    "better": None, "risk_item": None, "alliance": None, "attendance": None, "date": None,
    "therapist": None, "age": None, "ending": None, "items": None, "secondary": None,
    "progress": None,
}


def screen(
    data: dd.DataFrame,
    *,
    detectors: str | Detector | Sequence[str | Detector] = "all",
    medications: pd.DataFrame | None = None,
    summary: bool = False,
    **arguments: Any,
) -> dd.DataFrame:
    """:func:`iatrogenic.screen` on a Dask DataFrame: the event table, lazily.

    Same keywords as the pandas screen. The SDs of the intake scores (of the score and of each
    secondary column), which a detector takes from the data when no SD is given or registered,
    are computed over every partition in a first pass and given to each partition's screen
    (``ScreenInput.intake_sds``), so that every partition uses the whole sample's. The
    ``worsening_trajectory`` detector refits one growth model on the whole
    sample at every occasion and cannot run per partition: ``detectors="all"`` leaves it out
    with a warning, and naming it is an error. ``summary=True`` is not available: compute the
    events, then call :func:`iatrogenic.screen_summary`. The event table's ``attrs`` (detectors
    run and skipped, timings) are not kept.
    """
    require_dask()
    from ..screen import _resolve_detectors

    if summary is not False:
        raise ParameterError(
            "summary=True in screen() is not available on a Dask DataFrame (the summary needs "
            "every patient of the data in memory). Suggestion: events = ia.screen(data, "
            "...).compute(); then ia.screen_summary(events, patients) with patients = "
            "data[patient].unique().compute()."
        )
    if medications is not None and not isinstance(medications, pd.DataFrame):
        raise ParameterTypeError(
            "The 'medications' parameter of screen() must be a pandas DataFrame (it is given "
            f"to every partition) when data is a Dask DataFrame. Got {type(medications)!r}."
        )
    chosen = _resolve_detectors(detectors)
    wide = [d for d in chosen if d.name in SAMPLE_WIDE_DETECTORS]
    if wide and detectors != "all":
        raise ParameterError(
            f"The detector {wide[0].name!r} passed to screen() refits a growth model on the whole "
            "sample at every occasion and cannot run per partition of a Dask DataFrame. "
            "Suggestion: leave it out, or run it with pandas on the patients it should see."
        )
    if wide:
        warnings.warn(
            f"screen() on a Dask DataFrame leaves out {', '.join(d.name for d in wide)}: it "
            "refits a growth model on the whole sample at every occasion and cannot run per "
            "partition. Run it with pandas on the patients it should see.",
            IatrogenicWarning,
            stacklevel=3,
        )
        chosen = [d for d in chosen if d.name not in SAMPLE_WIDE_DETECTORS]
    # the SDs of the intake scores that detectors take from the data when none is given: the
    # whole sample's, from the first pass, for every partition (ScreenInput.intake_sds)
    secondary = arguments.get("secondary") or {}
    needs = ["score", *[column for column in secondary if column != "score"]]
    patient = arguments.get("patient", "patient")
    ranges: list[tuple[str, float | None, float | None]] = [
        (arguments.get("score", "score"), *_range_of(arguments.get("instrument")))
    ]
    passed = first_pass(
        data, patient=patient, caller="screen",
        inspect=functools.partial(_screen_intakes, arguments=arguments, columns=needs),
        rule=SuspectRule(patient, arguments.get("time", "session"), tuple(ranges)),
    )
    if medications is not None:
        check_columns(medications, {"patient": "patient"}, caller="screen")
    intakes = gather_by_patient(passed.results)
    intake_sds = {
        column: _observed_sd(intakes[column].to_numpy(dtype=np.float64)) for column in needs
    }
    function = functools.partial(
        _screen_part, arguments=arguments, detectors=chosen, intake_sds=intake_sds
    )
    meta = empty_events().astype(EVENT_COLUMNS)
    # the medication table goes to each worker once (one graph key), not into every task
    return map_patients(passed.frame, function, meta, medications=medications)
