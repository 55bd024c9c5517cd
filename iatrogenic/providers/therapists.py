"""Therapist outcome rates adjusted for case mix: observed / expected, funnel and shrinkage.

:func:`patient_outcomes` derives one outcome per patient from the library itself (reliable
deterioration, harm, a detector's alarm, dropout after deterioration, or a column of the user)
and the patient's expected probability from a case-mix model; :func:`therapist_outcomes`
aggregates them per therapist, places each therapist on a funnel of standardised ratios
(:func:`iatrogenic.providers.funnel.funnel` with ``data_type="SR"``) and gives an
empirical-Bayes shrunken ratio so that a small caseload is not ranked on noise.
:func:`suppress_counts` blanks small counts in a therapist table before publication.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy.special import gammaincinv

from .._validation import (
    check_choice,
    check_column_list,
    check_columns,
    check_dataframe,
    check_number,
    describe_rows,
    prepare_long,
)
from ..exceptions import (
    ColumnTypeError,
    InvalidValueError,
    ParameterError,
)
from .casemix import CasemixModel, fit_casemix

__all__ = [
    "OUTCOMES",
    "patient_outcomes",
    "suppress_counts",
    "therapist_outcomes",
]

#: Values of the ``ending=`` column that mean a dropout (``outcome="dropout_after_deterioration"``).
DROPOUT_VALUES = ("unplanned", "dropout", "dropped_out")

#: Outcomes the library derives itself; any other string must name a boolean column of ``data``.
OUTCOMES: tuple[str, ...] = (
    "reliable_deterioration",
    "harmed",
    "alarm",
    "dropout_after_deterioration",
)

#: Columns that reveal a therapist's observed count (given the expected count shown beside them).
_REVEALING = (
    "observed",
    "ratio",
    "rate",
    "z",
    "z_adjusted",
    "shrunken_ratio",
    "shrunken_lower",
    "shrunken_upper",
    "shrunken_rate",
)
_LIMITS = ("lower95", "upper95", "lower998", "upper998")


@dataclass(frozen=True)
class _Patients:
    """Per-patient table plus the fitted case-mix model (internal)."""

    table: pd.DataFrame
    order_key: np.ndarray
    model: CasemixModel | None
    terms: list[str]


# --------------------------------------------------------------------------------------------
# Per-patient outcomes
# --------------------------------------------------------------------------------------------


def _patient_level(
    frame: pd.DataFrame,
    codes: np.ndarray,
    starts: np.ndarray,
    column: str,
    keyword: str,
    patients: pd.Index,
    caller: str,
) -> np.ndarray:
    """One value per patient of a column that must be constant within patient (rows sorted).

    Missing values are ignored (a value given on one row only is fine); the value is the first
    non-missing one, or missing when the patient has none.
    """
    values = frame[column]
    raw = values.to_numpy()
    n = len(starts) - 1
    if n == 0:
        return raw[:0]
    key, _ = pd.factorize(values, use_na_sentinel=True)
    present = key >= 0
    pos = np.where(present, np.arange(len(key)), len(key))
    first = np.minimum.reduceat(pos, starts[:-1])
    has = first < len(key)
    safe = np.minimum(first, len(key) - 1)
    ref = np.where(has, key[safe], -1)
    conflict = present & (key != ref[codes])
    if conflict.any():
        where = int(np.flatnonzero(conflict)[0])
        raise InvalidValueError(
            f"Column {column!r} (given as {keyword}=) passed to {caller}() must have one value "
            f"per patient, but patient {patients[codes[where]]!r} has more than one "
            f"({int(conflict.sum())} conflicting rows in all). Suggestion: pass a patient-level "
            "column (e.g. the intake value or the treating therapist)."
        )
    taken = raw[safe]
    if has.all():
        return taken
    if taken.dtype.kind in "fc":
        taken = taken.copy()
        taken[~has] = np.nan
    elif taken.dtype.kind in "mM":
        taken = taken.copy()
        taken[~has] = np.datetime64("NaT")
    elif taken.dtype.kind in "biu":
        taken = taken.astype(float)
        taken[~has] = np.nan
    else:
        taken = taken.astype(object)
        taken[~has] = None
    return taken


def _group_rows(
    data: pd.DataFrame, patient: str, caller: str
) -> tuple[np.ndarray, pd.Index, np.ndarray, np.ndarray]:
    """Stable sort of the rows by patient: (permutation, patients, codes, starts)."""
    ids = data[patient]
    missing = np.flatnonzero(ids.isna().to_numpy())
    if len(missing):
        raise InvalidValueError(
            f"Column {patient!r} (given as patient=) passed to {caller}() has missing values; "
            f"{describe_rows(data, missing, [patient])}. Suggestion: drop or fill these rows."
        )
    try:
        codes, patients = pd.factorize(ids, sort=True)
    except TypeError:
        codes, patients = pd.factorize(ids, sort=False)
    perm = np.argsort(codes, kind="stable")
    codes = codes[perm]
    starts = np.searchsorted(codes, np.arange(len(patients) + 1)).astype(np.int64)
    return perm, pd.Index(patients), codes, starts


def _boolean_outcome(
    values: pd.Series, column: str, frame: pd.DataFrame, caller: str
) -> np.ndarray:
    """A 0/1/NaN float array from a boolean-like column; errors name the offending rows."""
    if values.dtype == object:
        # a nullable boolean column comes back as objects (True, False, <NA>)
        with contextlib.suppress(TypeError, ValueError):
            values = pd.Series(pd.array(values.to_numpy(), dtype="boolean"), index=values.index)
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        numeric = values.to_numpy(dtype=float, na_value=np.nan)
        bad = np.flatnonzero(~np.isnan(numeric) & (numeric != 0) & (numeric != 1))
        if len(bad) == 0:
            return numeric
        raise InvalidValueError(
            f"Column {column!r} (given as outcome=) passed to {caller}() must hold True/False "
            f"(or 1/0) values; {describe_rows(frame, bad, [column])}. Suggestion: build a boolean "
            f"column, e.g. data[{column!r}] > threshold."
        )
    raise ColumnTypeError(
        f"Column {column!r} (given as outcome=) passed to {caller}() must be boolean (or 0/1), "
        f"but has dtype {values.dtype}. Suggestion: convert it, e.g. data[{column!r}] == 'yes', or "
        f"name one of the library's outcomes: {', '.join(repr(o) for o in OUTCOMES)}."
    )


def _prepare_patients(
    data: Any,
    *,
    therapist: str,
    outcome: str,
    casemix: str | Sequence[str] | None,
    severity: str | None,
    order: str | None,
    patient: str,
    time: str,
    score: str,
    instrument: Any,
    better: str | None,
    method: str,
    reliability: float | None,
    sd: float | None,
    cutoff: Any,
    detector: str | None,
    ending: str | None,
    dropout: Sequence[Any],
    screen_options: Mapping[str, Any] | None,
    caller: str,
) -> _Patients:
    """Per-patient outcome, covariates, order and expected probability (the shared engine)."""
    frame_in = check_dataframe(data, caller=caller)
    if not isinstance(outcome, str):
        raise ParameterError(
            f"The 'outcome' parameter of {caller}() must be one of "
            f"{', '.join(repr(o) for o in OUTCOMES)} or the name of a boolean column. "
            f"Got {outcome!r} instead."
        )
    user_column = outcome not in OUTCOMES
    if user_column and outcome not in frame_in.columns:
        check_choice(outcome, list(OUTCOMES), name="outcome", caller=caller)
    covariates = check_column_list(casemix, name="casemix", caller=caller)
    if severity is not None and not isinstance(severity, str):
        raise ParameterError(
            f"The 'severity' parameter of {caller}() must be 'first', a column name or None. "
            f"Got {severity!r} instead."
        )
    named = {"therapist": therapist, **{f"casemix[{c}]": c for c in covariates}}
    if severity not in (None, "first"):
        named["severity"] = str(severity)
    if order is not None:
        named["order"] = order
    if ending is not None:
        named["ending"] = ending
    if outcome == "dropout_after_deterioration" and ending is None:
        raise ParameterError(
            f"outcome='dropout_after_deterioration' in {caller}() needs ending=, the column "
            "saying how treatment ended (e.g. 'planned' / 'unplanned' on the last row). "
            "Suggestion: pass ending='end_reason'."
        )
    if outcome == "alarm" and detector is None:
        raise ParameterError(
            f"outcome='alarm' in {caller}() needs detector=, the name of the detector whose "
            "alarms count (see ia.list_detectors()). Suggestion: detector='reliable_deterioration'."
        )
    check_columns(frame_in, {"patient": patient, **named}, caller=caller)
    has_time = time in frame_in.columns
    has_score = score in frame_in.columns

    carried: dict[str, str | None] = dict(named)
    if user_column:
        carried["outcome"] = outcome
    if has_time and (not user_column or has_score):
        long = prepare_long(
            frame_in,
            patient=patient,
            time=time,
            score=score if has_score else None,
            caller=caller,
            extra=carried,
        )
        frame = long.frame
        patients, codes, starts = long.patients, long.codes, long.starts
        ends = starts[1:] - 1
        last_time = frame["time"].to_numpy()[ends] if len(frame) else np.array([])
        last_key = long.order[ends] if len(frame) else np.array([])
        first_scores = has_score
    else:
        if not user_column:
            check_columns(frame_in, {"time": time, "score": score}, caller=caller)
        perm, patients, codes, starts = _group_rows(frame_in, patient, caller)
        used = list(dict.fromkeys([patient, *carried.values()]))
        frame = frame_in.loc[:, used].iloc[perm].reset_index(drop=True)
        last_time = None
        last_key = perm[starts[:-1]].astype(float) if len(perm) else np.array([])
        first_scores = False
    n = len(patients)
    reason = np.full(n, None, dtype=object)

    def level(column: str, keyword: str) -> np.ndarray:
        return _patient_level(frame, codes, starts, column, keyword, patients, caller)

    therapists = level(therapist, "therapist")
    no_therapist = pd.isna(therapists)
    reason[no_therapist] = f"no therapist in column {therapist!r}"

    # ---- outcome -----------------------------------------------------------------------
    y = np.full(n, np.nan)
    if user_column:
        rows = _boolean_outcome(frame[outcome], outcome, frame, caller)
        seen = ~np.isnan(rows)
        count = np.bincount(codes[seen], minlength=n)
        hits = np.bincount(codes[seen], weights=rows[seen], minlength=n)
        y = np.where(count > 0, (hits > 0).astype(float), np.nan)
        reason[(count == 0) & (reason == None)] = f"outcome {outcome!r} missing"  # noqa: E711
    else:
        y, why = _library_outcome(
            frame_in, outcome=outcome, patients=patients, patient=patient, time=time,
            score=score, instrument=instrument, better=better, method=method,
            reliability=reliability, sd=sd, cutoff=cutoff, detector=detector,
            therapist=therapist, screen_options=screen_options, caller=caller,
        )
        fill = (why != None) & (reason == None)  # noqa: E711
        reason[fill] = why[fill]
        if outcome == "dropout_after_deterioration":
            if ending is None:
                raise ParameterError(
                    f"outcome='dropout_after_deterioration' in {caller}() needs the 'ending' "
                    "parameter: the column saying how each course ended. Suggestion: "
                    "ending='<your column>'."
                )
            ends_value = _last_value(frame[ending], codes, n)
            no_end = pd.isna(ends_value)
            dropped = np.isin(ends_value.astype(object), list(dropout))
            y = np.where(no_end, np.nan, np.where(np.isnan(y), np.nan, y * dropped))
            reason[no_end & (reason == None)] = f"no ending recorded in column {ending!r}"  # noqa: E711

    # ---- severity and case mix ------------------------------------------------------------
    table = pd.DataFrame({"patient": patients, "therapist": therapists})
    terms: list[str] = []
    if severity == "first":
        if not first_scores:
            raise ParameterError(
                f"severity='first' in {caller}() takes the first observed score, which needs "
                f"the occasion and score columns ({time!r}, {score!r}). Suggestion: name a column "
                "holding intake severity (severity='intake_phq9'), or severity=None to adjust "
                "for casemix= only."
            )
        scores = frame["score"].to_numpy(dtype=float)
        finite = np.isfinite(scores)
        pos = np.where(finite, np.arange(len(scores)), len(scores))
        first = np.full(n, len(scores), dtype=np.int64)
        if len(scores):
            first = np.minimum.reduceat(pos, starts[:-1])
        safe = np.minimum(first, max(len(scores) - 1, 0))
        intake = np.where(first < len(scores), scores[safe], np.nan)
        table["intake"] = intake
        terms.append("intake")
    elif severity is not None:
        given = pd.Series(level(severity, "severity"))
        if not (pd.api.types.is_numeric_dtype(given.dtype) or given.isna().all()):
            given = pd.to_numeric(given, errors="coerce")
        table["intake"] = given.to_numpy(dtype=float)
        terms.append("intake")
    for column in covariates:
        values = level(column, "casemix")
        if column in table.columns:
            raise ParameterError(
                f"Case-mix column {column!r} passed to {caller}() clashes with an output column. "
                "Suggestion: rename it."
            )
        original = frame_in[column].dtype
        if isinstance(original, pd.CategoricalDtype):
            table[column] = pd.Categorical(values, dtype=original)
        else:
            table[column] = values
        terms.append(column)
    for column in terms:
        miss = table[column].isna().to_numpy() & (reason == None)  # noqa: E711
        label = "intake severity" if column == "intake" else f"case-mix value {column!r}"
        reason[miss] = f"missing {label}"

    # ---- order ----------------------------------------------------------------------------
    if order is not None:
        raw = frame[order]
        dated = pd.api.types.is_datetime64_any_dtype(raw.dtype)
        if not (pd.api.types.is_numeric_dtype(raw.dtype) or dated):
            raise ColumnTypeError(
                f"Column {order!r} (given as order=) passed to {caller}() must be numeric or a "
                f"date, but has dtype {raw.dtype}. Suggestion: parse dates with pd.to_datetime."
            )
        last = raw.groupby(codes, sort=True).max()
        order_values = last.reindex(range(n)).to_numpy()
        missing = pd.isna(order_values)
        if dated:
            order_key = pd.Series(order_values).to_numpy(dtype="datetime64[ns]").astype(float)
        else:
            order_key = np.asarray(order_values, dtype=float)
        order_key[missing] = np.nan
        missing_order = np.isnan(order_key) & (reason == None)  # noqa: E711
        reason[missing_order] = f"missing order in column {order!r}"
        table["order"] = order_values
    elif last_time is not None:
        table["order"] = last_time
        order_key = np.asarray(last_key, dtype=float)
    else:
        # a per-patient table without time: the order of the rows
        order_key = np.asarray(last_key, dtype=float)
        ranks = np.empty(n, dtype=np.int64)
        ranks[np.argsort(order_key, kind="stable")] = np.arange(1, n + 1)
        table["order"] = ranks

    table["outcome"] = y
    expected = np.full(n, np.nan)
    ok = (reason == None) & ~np.isnan(y)  # noqa: E711
    model: CasemixModel | None = None
    if ok.any():
        fit_frame = table.loc[ok, terms].copy()
        fit_frame["__y"] = y[ok]
        model = fit_casemix(
            fit_frame,
            outcome="__y",
            columns=terms,
            caller=caller,
            keywords={t: ("severity" if t == "intake" else "casemix") for t in terms},
        )
        expected[ok] = model.probabilities_
    table["expected"] = expected
    table["reason"] = reason
    return _Patients(table=table, order_key=order_key, model=model, terms=terms)


def _last_value(values: pd.Series, codes: np.ndarray, n: int) -> np.ndarray:
    """Each patient's last non-missing value (rows sorted by patient and occasion)."""
    present = ~values.isna().to_numpy()
    pos = np.flatnonzero(present)
    out = np.full(n, None, dtype=object)
    if len(pos):
        last = np.full(n, -1, dtype=np.int64)
        np.maximum.at(last, codes[pos], pos)
        got = last >= 0
        out[got] = values.to_numpy()[last[got]]
    return out


def _library_outcome(
    data: pd.DataFrame,
    *,
    outcome: str,
    patients: pd.Index,
    patient: str,
    time: str,
    score: str,
    instrument: Any,
    better: str | None,
    method: str,
    reliability: float | None,
    sd: float | None,
    cutoff: Any,
    detector: str | None,
    therapist: str,
    screen_options: Mapping[str, Any] | None,
    caller: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Outcome (0/1/NaN) and reason per patient, in the order of ``patients``."""
    n = len(patients)
    if outcome == "alarm":
        from ..screen import screen

        options = dict(screen_options or {})
        events = screen(
            data, detectors=[str(detector)], patient=patient, time=time, score=score,
            instrument=instrument, better=better, **options,
        )
        events = cast(pd.DataFrame, events)  # summary=False: the event table only
        alarmed = pd.Index(events.loc[events["level"] == "alarm", "patient"].unique())
        y = np.asarray(patients.isin(alarmed), dtype=float)
        return y, np.full(n, None, dtype=object)

    from ..core.reliable_change import reliable_change

    if outcome == "harmed" and cutoff is None:
        if instrument is None:
            raise ParameterError(
                f"outcome='harmed' in {caller}() needs a clinical cut-off: pass instrument= "
                "(its caseness cut-off is used) or cutoff=. Suggestion: instrument='phq9'."
            )
        cutoff = "caseness"
    rc = reliable_change(
        data, patient=patient, time=time, score=score, instrument=instrument,
        better=cast(Any, better), method=method, reliability=reliability, sd=sd,
        cutoff=cutoff if outcome == "harmed" else None,
    )
    rc = rc.set_index("patient").reindex(patients)
    category = rc["category"]
    if outcome == "harmed":
        y = (category == "harmed").to_numpy(dtype=float)
    else:
        y = category.isin(["deteriorated", "harmed"]).to_numpy(dtype=float)
    unscored = category.isna().to_numpy()
    y[unscored] = np.nan
    why = np.full(n, None, dtype=object)
    why[unscored] = rc["reason"].to_numpy(dtype=object)[unscored]
    return y, why


def _common_checks(
    min_patients: Any, suppress: Any, level: Any, caller: str
) -> tuple[int, int | None, float]:
    mp = check_number(min_patients, name="min_patients", caller=caller, low=1, integer=True)
    sp = check_number(
        suppress, name="suppress", caller=caller, low=1, integer=True, allow_none=True
    )
    lv = check_number(
        level, name="level", caller=caller, low=0, high=1, low_inclusive=False,
        high_inclusive=False,
    )
    return int(mp), (None if sp is None else int(sp)), float(lv)


def patient_outcomes(
    data: pd.DataFrame,
    *,
    therapist: str,
    outcome: str = "reliable_deterioration",
    casemix: str | Sequence[str] | None = None,
    severity: str | None = "first",
    order: str | None = None,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    instrument: Any = None,
    better: str | None = None,
    method: str = "JT",
    reliability: float | None = None,
    sd: float | None = None,
    cutoff: Any = None,
    detector: str | None = None,
    ending: str | None = None,
    dropout: Sequence[Any] = DROPOUT_VALUES,
    screen_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One outcome per patient, with its case-mix expected probability.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data (one row per patient and occasion), or a per-patient table when ``outcome``
        names a column (then ``time`` and ``score`` are optional). Not modified.
    therapist : str
        Column of the treating therapist (one per patient).
    outcome : str, default "reliable_deterioration"
        ``"reliable_deterioration"``: the last score reliably worse than the first
        (:func:`iatrogenic.reliable_change` categories ``deteriorated`` or ``harmed``, with
        ``method``, ``better`` and ``instrument``); ``"harmed"``: reliably worse and crossed into
        the clinical range (category ``harmed``; the cut-off is ``cutoff`` or the instrument's
        caseness); ``"alarm"``: any ``"alarm"`` event of the detector ``detector`` in
        :func:`iatrogenic.screen`; ``"dropout_after_deterioration"``: reliably deteriorated and
        treatment ended with a value of ``ending`` in ``dropout``; or the name of a boolean (0/1)
        column, true for a patient when any of its rows is true.
    casemix : str or list of str, optional
        Patient-level covariates: numeric columns enter linearly, text and categorical columns
        are dummy-coded against their first level.
    severity : str or None, default "first"
        Intake severity in the model (output column ``intake``): ``"first"`` is the patient's
        first observed score, a column name takes a patient-level column (e.g. on a per-patient
        table), None leaves it out.
    order : str, optional
        Column ordering patients within a therapist (e.g. the date treatment ended); the
        patient's largest value is used. By default, the patient's last occasion of ``time``
        (on a per-patient table without ``time``, the row order).
    patient, time, score : str
        Column names, as everywhere in the library.
    instrument, better, method, reliability, sd, cutoff
        Passed to :func:`iatrogenic.reliable_change` for the deterioration outcomes.
    detector : str, optional
        With ``outcome="alarm"``: the detector's name (:func:`iatrogenic.list_detectors`).
    ending : str, optional
        With ``outcome="dropout_after_deterioration"``: how treatment ended (the patient's last
        non-missing value).
    dropout : sequence, default ("unplanned", "dropout", "dropped_out")
        Values of ``ending`` that mean the patient dropped out.
    screen_options : mapping, optional
        More keywords for :func:`iatrogenic.screen` with ``outcome="alarm"`` (e.g. ``risk_item``).

    Returns
    -------
    pandas.DataFrame
        One row per patient of the input (sorted by patient), with columns:

        - ``patient``, ``therapist``.
        - ``order``: the value that orders the patient within the therapist.
        - ``intake``: intake severity (absent with ``severity=None``).
        - one column per ``casemix`` covariate.
        - ``outcome``: 1.0 or 0.0, missing when it cannot be derived.
        - ``expected``: the case-mix model's probability of the outcome; missing when the patient
          is not in the analysis.
        - ``reason``: why the patient is not in the analysis (missing outcome, severity,
          covariate or therapist), else None. A patient enters the therapist counts exactly
          when ``reason`` is None.

        ``attrs["coefficients"]`` and ``attrs["standard_errors"]`` hold the fitted model
        (dicts).

    See Also
    --------
    therapist_outcomes : the per-therapist table.
    iatrogenic.providers.casemix.fit_casemix : the case-mix model.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> data, _ = ia.datasets.simulate(n_patients=300, n_therapists=10, seed=3)
    >>> pat = patient_outcomes(data, therapist="therapist", score="phq9", instrument="phq9",
    ...                        casemix="age")
    >>> pat.columns.tolist()
    ['patient', 'therapist', 'order', 'intake', 'age', 'outcome', 'expected', 'reason']
    >>> bool(np.isclose(pat["expected"].sum(), pat.loc[pat.reason.isna(), "outcome"].sum()))
    True
    """
    prepared = _prepare_patients(
        data, therapist=therapist, outcome=outcome, casemix=casemix, severity=severity,
        order=order, patient=patient, time=time, score=score, instrument=instrument,
        better=better, method=method, reliability=reliability, sd=sd, cutoff=cutoff,
        detector=detector, ending=ending, dropout=dropout, screen_options=screen_options,
        caller="patient_outcomes",
    )
    return _patient_frame(prepared)


def _patient_frame(prepared: _Patients) -> pd.DataFrame:
    table = prepared.table
    columns = ["patient", "therapist", "order", *prepared.terms, "outcome", "expected", "reason"]
    out = table.loc[:, columns].copy()
    if prepared.model is not None:
        out.attrs["coefficients"] = prepared.model.coefficients_.to_dict()
        out.attrs["standard_errors"] = prepared.model.standard_errors_.to_dict()
    return out


# --------------------------------------------------------------------------------------------
# Therapist table
# --------------------------------------------------------------------------------------------


def _shrink(
    observed: np.ndarray, expected: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """Gamma-Poisson empirical Bayes for standardised ratios (Marshall 1991 moments)."""
    use = expected > 0
    out = [np.full(len(observed), np.nan) for _ in range(4)]
    info = {"eb_mean": np.nan, "eb_variance": np.nan, "eb_shape": np.nan, "eb_rate": np.nan}
    if not use.any():
        return out[0], out[1], out[2], out[3], info
    o, e = observed[use], expected[use]
    m = o.sum() / e.sum()
    r = o / e
    s2 = np.sum(e * (r - m) ** 2) / e.sum()
    v = max(s2 - m / e.mean(), 0.0)
    info.update(eb_mean=float(m), eb_variance=float(v))
    if v <= 0 or m <= 0:
        # No heterogeneity beyond Poisson noise: every therapist is shrunk to the mean.
        shrunk = np.full(len(o), m)
        lower = upper = shrunk
        weight = np.zeros(len(o))
    else:
        beta = m / v
        alpha = m * beta
        info.update(eb_shape=float(alpha), eb_rate=float(beta))
        a_post, b_post = alpha + o, beta + e
        shrunk = a_post / b_post
        tail = (1 - level) / 2
        lower = gammaincinv(a_post, tail) / b_post
        upper = gammaincinv(a_post, 1 - tail) / b_post
        weight = e / (e + beta)
    for target, values in zip(out, (shrunk, lower, upper, weight), strict=True):
        target[use] = values
    return out[0], out[1], out[2], out[3], info


def _therapist_table(
    prepared: _Patients,
    *,
    min_patients: int,
    suppress: int | None,
    level: float,
    limit: int,
    od_adjust: bool,
    sr_method: str,
    trim_by: float,
) -> pd.DataFrame:
    from .funnel import funnel

    table = prepared.table
    has_therapist = table["therapist"].notna().to_numpy()
    try:
        codes, labels = pd.factorize(table["therapist"], sort=True)
    except TypeError:
        codes, labels = pd.factorize(table["therapist"], sort=False)
    k = len(labels)
    included = table["reason"].isna().to_numpy()
    tc = codes[has_therapist]
    n_patients = np.bincount(tc, minlength=k)
    inc = included & has_therapist
    n_scored = np.bincount(codes[inc], minlength=k)
    y = table["outcome"].to_numpy(dtype=float)
    p = table["expected"].to_numpy(dtype=float)
    observed = np.bincount(codes[inc], weights=y[inc], minlength=k)
    expected = np.bincount(codes[inc], weights=p[inc], minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, observed / expected, np.nan)
        rate = np.where(n_scored > 0, observed / n_scored, np.nan)
    out = pd.DataFrame(
        {
            "therapist": labels,
            "n_patients": n_patients,
            "n_scored": n_scored,
            "observed": observed.round().astype(np.int64),
            "expected": expected,
            "ratio": ratio,
            "rate": rate,
        }
    )
    eligible = (n_scored >= min_patients) & (expected > 0)
    reason = np.full(k, None, dtype=object)
    reason[n_scored < min_patients] = [
        f"fewer than min_patients={min_patients} scored patients ({c})"
        for c in n_scored[n_scored < min_patients]
    ]
    for column in ("z", "z_adjusted", *_LIMITS):
        out[column] = np.nan
    out["outlier"] = pd.Series([None] * k, dtype=object)
    attrs: dict[str, Any] = {}
    if eligible.sum() >= 2:
        f = funnel(
            out.loc[eligible, ["therapist", "observed", "expected"]],
            numerator="observed", denominator="expected", group="therapist", data_type="SR",
            limit=limit, od_adjust=od_adjust, sr_method=sr_method, trim_by=trim_by,
        )
        f = f.set_index("group").reindex(out.loc[eligible, "therapist"])
        idx = np.flatnonzero(eligible)
        for column in ("z", "z_adjusted", *_LIMITS):
            out.loc[idx, column] = f[column].to_numpy(dtype=float)
        out.loc[idx, "outlier"] = f["outlier"].to_numpy(dtype=object)
        keys = ("phi", "tau2", "adjusted", "sr_method", "trim_by", "limit")
        attrs.update({key: f.attrs.get(key) for key in keys})
    else:
        few = (reason == None) & (expected > 0)  # noqa: E711
        reason[few] = "fewer than 2 eligible therapists for the funnel"
    reason[(reason == None) & ~(expected > 0)] = "expected count is 0"  # noqa: E711
    shrunk, lower, upper, weight, info = _shrink(observed, expected, level)
    overall = observed.sum() / max(n_scored.sum(), 1)
    out["shrunken_ratio"] = shrunk
    out["shrunken_lower"] = lower
    out["shrunken_upper"] = upper
    out["shrunken_rate"] = shrunk * overall
    out["shrinkage"] = 1 - weight
    out["reason"] = reason
    attrs.update(info)
    attrs.update(level=level, min_patients=min_patients, overall_rate=float(overall))
    if prepared.model is not None:
        attrs["coefficients"] = prepared.model.coefficients_.to_dict()
        attrs["standard_errors"] = prepared.model.standard_errors_.to_dict()
    out.attrs.update(attrs)
    for column in ("n_patients", "n_scored", "observed"):
        out[column] = out[column].astype("Int64")
    if suppress is not None:
        out = suppress_counts(out, threshold=suppress)
    else:
        out["suppressed"] = False
    return out


def _as_float(values: pd.Series) -> np.ndarray:
    return np.asarray(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan))


def suppress_counts(table: pd.DataFrame, *, threshold: int = 5) -> pd.DataFrame:
    """Blank small counts in a therapist table before it is published.

    A therapist's row is suppressed when its observed count, or its count of patients without
    the outcome (``n_scored - observed``), lies between 1 and ``threshold - 1``: the count and
    every column from which it could be recomputed given the expected count shown beside it
    (``observed``, ``ratio``, ``rate``, ``z``, ``z_adjusted`` and the ``shrunken_*`` columns) are
    set to missing. ``n_patients`` and ``n_scored`` below the threshold are blanked too. The
    control limits, the expected count and the ``outlier`` flag stay.

    Parameters
    ----------
    table : pandas.DataFrame
        A table from :func:`therapist_outcomes` (computed with ``suppress=None``). Not modified.
    threshold : int, default 5
        Counts from 1 to ``threshold - 1`` are blanked; 0 is shown.

    Returns
    -------
    pandas.DataFrame
        A copy with the cells blanked and a boolean column ``suppressed``.

    Notes
    -----
    The default (counts 1 to 4 blanked) is a project choice. NHS Digital's former disclosure
    control for Hospital Episode Statistics replaced counts from 1 to 5 with ``*`` and applied
    secondary suppression (``threshold=6``); since September 2018 it suppresses 1 to 7 and rounds
    the rest to the nearest 5 (NHS Digital, "Disclosure control methodology for Hospital Episode
    Statistics (HES) and Emergency Care Data Set (ECDS)", https://digital.nhs.uk/data-and-information/data-tools-and-services/data-services/hospital-episode-statistics/change-to-disclosure-control-methodology-for-hes-and-ecds-from-september-2018).
    Use the threshold your data controller requires.

    Examples
    --------
    >>> t = pd.DataFrame({"therapist": ["a", "b"], "n_patients": [40, 3], "n_scored": [40, 3],
    ...                   "observed": [12, 1], "expected": [10.0, 1.2], "ratio": [1.2, 0.83]})
    >>> suppress_counts(t, threshold=5)[["observed", "ratio", "suppressed"]]
       observed  ratio  suppressed
    0        12    1.2       False
    1      <NA>    NaN        True
    """
    threshold = int(
        check_number(threshold, name="threshold", caller="suppress_counts", low=1, integer=True)
    )
    out = table.copy()
    observed = _as_float(out["observed"])
    base = "n_scored" if "n_scored" in out.columns else "n_patients"
    rest = _as_float(out[base]) - observed if base in out.columns else np.full(len(out), np.nan)
    small = ((observed >= 1) & (observed < threshold)) | ((rest >= 1) & (rest < threshold))
    for column in _REVEALING:
        if column in out.columns:
            if pd.api.types.is_integer_dtype(out[column].dtype):
                out[column] = out[column].astype("Int64")
            out.loc[small, column] = pd.NA if out[column].dtype == "Int64" else np.nan
    for column in ("n_patients", "n_scored"):
        if column in out.columns:
            values = _as_float(out[column])
            out[column] = out[column].astype("Int64")
            out.loc[(values >= 1) & (values < threshold), column] = pd.NA
    out["suppressed"] = small
    out.attrs["suppress"] = threshold
    return out


def therapist_outcomes(
    data: pd.DataFrame,
    *,
    therapist: str,
    outcome: str = "reliable_deterioration",
    casemix: str | Sequence[str] | None = None,
    min_patients: int = 10,
    suppress: int | None = 5,
    level: float = 0.95,
    limit: int = 99,
    od_adjust: bool = True,
    sr_method: str = "CQC",
    trim_by: float = 0.1,
    severity: str | None = "first",
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    instrument: Any = None,
    better: str | None = None,
    method: str = "JT",
    reliability: float | None = None,
    sd: float | None = None,
    cutoff: Any = None,
    detector: str | None = None,
    ending: str | None = None,
    dropout: Sequence[Any] = DROPOUT_VALUES,
    screen_options: Mapping[str, Any] | None = None,
    return_patients: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Case-mix adjusted outcome rates per therapist: O/E, funnel and a shrunken rate.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, or a per-patient table when ``outcome`` names a column. Not modified.
    therapist : str
        Column of the treating therapist.
    outcome : str, default "reliable_deterioration"
        The patient outcome counted (see :func:`patient_outcomes`): one of
        ``"reliable_deterioration"``, ``"harmed"``, ``"alarm"`` (with ``detector=``),
        ``"dropout_after_deterioration"`` (with ``ending=``), or a boolean column.
    casemix : str or list of str, optional
        Patient-level covariates of the case-mix model, besides intake severity.
    min_patients : int, default 10
        Therapists with fewer scored patients are reported (counts and shrunken rate) but not
        placed on the funnel: their ``z``, limits and ``outlier`` are missing, with a ``reason``.
    suppress : int or None, default 5
        Blank counts from 1 to ``suppress - 1`` and the columns revealing them
        (:func:`suppress_counts`) for publication; None keeps every count.
    level : float, default 0.95
        Coverage of the shrunken rate's interval.
    limit, od_adjust, sr_method, trim_by
        Passed to :func:`iatrogenic.providers.funnel.funnel` (``data_type="SR"``). The default
        ``sr_method="CQC"`` (square root) is defined for therapists with no event, where
        SHMI's log is not.
    severity, patient, time, score, instrument, better, method, reliability, sd, cutoff,
    detector, ending, dropout, screen_options
        As in :func:`patient_outcomes`.
    return_patients : bool, default False
        Also return the per-patient table of :func:`patient_outcomes`.

    Returns
    -------
    pandas.DataFrame or (pandas.DataFrame, pandas.DataFrame)
        One row per therapist (sorted), with columns:

        - ``therapist``.
        - ``n_patients``: patients of the therapist; ``n_scored``: those in the analysis.
        - ``observed``: patients with the outcome; ``expected``: the sum of their case-mix
          probabilities.
        - ``ratio``: ``observed / expected``; ``rate``: ``observed / n_scored``.
        - ``z``, ``z_adjusted``: the funnel z-scores (without and with overdispersion).
        - ``lower95``, ``upper95``, ``lower998``, ``upper998``: funnel limits of the ratio at the
          therapist's expected count.
        - ``outlier``: ``"high"``, ``"low"`` or None (None too when not on the funnel).
        - ``shrunken_ratio``, ``shrunken_lower``, ``shrunken_upper``: the empirical-Bayes
          posterior mean of the therapist's true O/E and its ``level`` interval.
        - ``shrunken_rate``: ``shrunken_ratio`` times the service's overall rate.
        - ``shrinkage``: the weight of the service mean in ``shrunken_ratio``, from 0 (none) to 1.
        - ``reason``: why the therapist is not on the funnel, else None.
        - ``suppressed``: whether counts of the row were blanked.

        ``attrs`` holds the funnel's ``phi``, ``tau2``, ``adjusted``; the empirical-Bayes
        ``eb_mean``, ``eb_variance``, ``eb_shape``, ``eb_rate``; ``overall_rate``, ``level``,
        ``min_patients``, ``suppress`` and the case-mix ``coefficients`` and
        ``standard_errors``.

    Raises
    ------
    iatrogenic.exceptions.ColumnNotFoundError
        A named column is not in ``data``.
    iatrogenic.exceptions.InvalidValueError
        A therapist or covariate varies within a patient, the outcome is constant, or the
        case-mix model cannot be fitted (constant or collinear covariates, separation).
    iatrogenic.exceptions.ParameterError
        An unknown outcome, or a missing ``detector``/``ending`` for the outcome chosen.

    See Also
    --------
    patient_outcomes : the per-patient outcomes and probabilities.
    provider_cusum : the sequential counterpart.
    iatrogenic.providers.funnel.funnel : the funnel statistics.

    Notes
    -----
    Case mix: ``logit p_i = b0 + b1 intake_i + sum_k b_k x_ik`` over all patients (statsmodels
    GLM, Binomial; see :mod:`iatrogenic.providers.casemix`). For therapist ``j``,
    ``O_j = sum y_i`` and ``E_j = sum p_i`` over its patients; ``O_j / E_j`` is an indirectly
    standardised ratio, placed on a funnel as FunnelPlotR's ``data_type="SR"``.

    Shrinkage (gamma-Poisson empirical Bayes, the standard model for standardised ratios;
    Clayton & Kaldor 1987): ``O_j ~ Poisson(theta_j E_j)``, ``theta_j ~ Gamma(alpha, beta)``
    with mean ``m = sum O / sum E`` and variance ``v`` by Marshall's (1991) moments,
    ``v = max(0, sum E_j (R_j - m)^2 / sum E_j - m / mean(E_j))``, ``beta = m / v``,
    ``alpha = m beta``. The posterior is ``Gamma(alpha + O_j, beta + E_j)``: its mean
    ``(alpha + O_j) / (beta + E_j) = w_j R_j + (1 - w_j) m`` with ``w_j = E_j / (E_j + beta)``,
    and its quantiles give the interval. A therapist with few patients has a small ``E_j`` and is
    pulled towards ``m`` (``shrinkage = 1 - w_j``). When ``v = 0`` every therapist is shrunk to
    ``m``.

    References
    ----------
    Clayton, D., & Kaldor, J. (1987). Empirical Bayes estimates of age-standardized relative
    risks for use in disease mapping. Biometrics, 43, 671-681.
    Marshall, R. J. (1991). Mapping disease and mortality rates using empirical Bayes
    estimators. Applied Statistics, 40, 283-294.
    Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
    Statistics in Medicine, 24, 1185-1202.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> data, _ = ia.datasets.simulate(n_patients=600, n_therapists=12, seed=5)
    >>> tab = therapist_outcomes(data, therapist="therapist", score="phq9", instrument="phq9",
    ...                          casemix="age", suppress=None)
    >>> tab[["therapist", "n_patients", "observed"]].head(3)
      therapist  n_patients  observed
    0       T01          37         5
    1       T02          28         1
    2       T03          52         6
    >>> bool(np.isclose(tab["observed"].sum(), tab["expected"].sum()))
    True
    """
    caller = "therapist_outcomes"
    min_patients, suppress, level = _common_checks(min_patients, suppress, level, caller)
    prepared = _prepare_patients(
        data, therapist=therapist, outcome=outcome, casemix=casemix, severity=severity,
        order=None, patient=patient, time=time, score=score, instrument=instrument,
        better=better, method=method, reliability=reliability, sd=sd, cutoff=cutoff,
        detector=detector, ending=ending, dropout=dropout, screen_options=screen_options,
        caller=caller,
    )
    table = _therapist_table(
        prepared, min_patients=min_patients, suppress=suppress, level=level, limit=limit,
        od_adjust=od_adjust, sr_method=sr_method, trim_by=trim_by,
    )
    if return_patients:
        return table, _patient_frame(prepared)
    return table
