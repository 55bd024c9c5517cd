"""Which patients can have a sudden change, and descriptives of sudden changes found.

:func:`sudden_change_cases` is suddengains' ``select_cases`` (which patients have enough data to
look for sudden gains) and :func:`describe_sudden_changes` its ``describe_sg`` (counts and
percentages of events, multiple events, reversals, and the magnitude), both on the long format of
:mod:`iatrogenic.core.sudden_changes`. See ``docs/sudden-changes.md``.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_choice, check_number, prepare_long
from ..exceptions import ParameterError, ParameterTypeError
from .sudden_changes import make_grid, sudden_changes, sudden_changes_by_person

__all__ = [
    "CASE_COLUMNS",
    "CASE_METHODS",
    "CASE_PATTERNS",
    "DESCRIBE_COLUMNS",
    "describe_sudden_changes",
    "sudden_change_cases",
]

#: Methods of :func:`sudden_change_cases` (suddengains' ``"pattern"`` and ``"min_sess"``).
CASE_METHODS = ("pattern", "min_sessions")
#: suddengains' ``select_cases(method = "pattern")``: runs of observed (1) and missing (0) scores
#: of consecutive occasions, one of which a patient needs.
CASE_PATTERNS = ((1, 1, 1, 1), (1, 1, 1, 0, 1), (1, 0, 1, 1, 1), (1, 0, 1, 1, 0, 1))
#: Columns of :func:`sudden_change_cases`, in order.
CASE_COLUMNS = ("patient", "selected", "n_occasions", "n_scores", "reason")
#: Columns of :func:`describe_sudden_changes`, in order.
DESCRIBE_COLUMNS = (
    "table", "kind", "n_rows", "n_events", "n_patients_with_event", "pct_with_event",
    "n_multiple", "pct_multiple", "n_reversals", "pct_reversals", "magnitude_mean",
    "magnitude_sd",
)

_PATTERN_REASON = (
    "no run of observed scores that lets criterion 3 be tested (4 consecutive occasions "
    "scored, or the patterns 11101, 10111, 101101)"
)


def sudden_change_cases(
    data: pd.DataFrame,
    *,
    method: str = "pattern",
    min_sessions: int | None = None,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
) -> pd.DataFrame:
    """Which patients have enough data to look for sudden changes (suddengains' ``select_cases``).

    Parameters
    ----------
    data : DataFrame
        Long format: one row per patient and occasion; a row with a missing score is a missed
        session (as in :func:`~iatrogenic.core.sudden_changes.sudden_changes`).
    method : {"pattern", "min_sessions"}, default "pattern"
        ``"pattern"``: the patient's occasions, in time order, contain one of the runs of
        observed (1) and missing (0) scores ``1111``, ``11101``, ``10111`` or ``101101`` (see
        Notes). ``"min_sessions"``: at least ``min_sessions`` observed scores. suddengains'
        spelling ``"min_sess"`` is accepted.
    min_sessions : int, optional
        Least number of observed scores, with ``method="min_sessions"`` only. It may not exceed
        the largest number of occasions of a patient (suddengains: the number of
        ``sg_var_list`` columns).
    patient, time, score : str
        Column names of the patient id, the occasion and the score.

    Returns
    -------
    DataFrame
        One row per patient (sorted by id when ids sort), columns:

        - ``patient``: patient id.
        - ``selected``: True when the patient has enough data (suddengains' ``sg_select``).
        - ``n_occasions``: the patient's number of occasions (rows).
        - ``n_scores``: the number of observed scores.
        - ``reason``: why the patient was not selected, missing (None) when selected.

        ``attrs["method"]`` and ``attrs["min_sessions"]`` hold the rule.

    Raises
    ------
    ParameterError
        Unknown ``method``; ``min_sessions`` missing with ``method="min_sessions"``, given with
        ``method="pattern"``, or larger than the longest course.
    ParameterTypeError
        ``min_sessions`` is not an integer.

    See Also
    --------
    iatrogenic.core.sudden_changes.sudden_changes_by_person : ``n_intervals`` counts the
        intervals a patient can be tested on.

    Notes
    -----
    The four patterns are exactly the ways in which one interval ``n -> n + 1`` can be tested
    with all three criteria: both its scores observed, at least one of the two scores before
    (``n - 2``, ``n - 1``) and one of the two after (``n + 2``, ``n + 3``). A patient is
    therefore selected by ``"pattern"`` exactly when
    ``sudden_changes_by_person(...)["n_intervals"] > 0``. Occasions are rows: a gap in the
    session numbers without a row is not a missed session.

    Examples
    --------
    >>> import pandas as pd
    >>> from iatrogenic.core.sudden_change_summary import sudden_change_cases
    >>> data = pd.DataFrame({
    ...     "patient": [1] * 6 + [2] * 6,
    ...     "session": list(range(1, 7)) * 2,
    ...     "score": [20, 18, None, 12, 11, 10,
    ...               20, None, 15, None, 12, None]})
    >>> sudden_change_cases(data)[["patient", "selected", "n_scores"]]
       patient  selected  n_scores
    0        1      True         5
    1        2     False         3
    >>> sudden_change_cases(data, method="min_sessions", min_sessions=4)["selected"].tolist()
    [True, False]
    """
    caller = "sudden_change_cases"
    if isinstance(method, str) and method.lower() == "min_sess":
        method = "min_sessions"
    method = check_choice(method, CASE_METHODS, name="method", caller=caller)
    long = prepare_long(data, patient=patient, time=time, score=score, caller=caller)
    grid = make_grid(long)
    present = ~np.isnan(grid.scores)
    n_scores = present.sum(axis=1)
    lengths = np.asarray(grid.lengths, dtype=np.int64)
    n = long.n_patients

    if method == "pattern":
        if min_sessions is not None:
            raise ParameterError(
                f"The 'min_sessions' parameter of {caller}() is used only with "
                f"method='min_sessions'. Got min_sessions={min_sessions!r} with "
                "method='pattern'. Suggestion: drop min_sessions=, or pass "
                "method='min_sessions'."
            )
        selected = np.zeros(n, dtype=bool)
        width = present.shape[1]
        for pattern in CASE_PATTERNS:
            m = len(pattern)
            if width < m:
                continue
            hit = np.ones((n, width - m + 1), dtype=bool)
            for offset, wanted in enumerate(pattern):
                block = present[:, offset : offset + width - m + 1]
                hit &= block if wanted else ~block
            selected |= hit.any(axis=1)
        reason = np.where(n_scores == 0, "no observed score", _PATTERN_REASON).astype(object)
    else:
        if min_sessions is None:
            raise ParameterError(
                f"{caller}() with method='min_sessions' needs the least number of observed "
                "scores. Suggestion: pass min_sessions= (e.g. min_sessions=4)."
            )
        min_sessions = check_number(
            min_sessions, name="min_sessions", caller=caller, low=1, integer=True
        )
        longest = int(lengths.max()) if len(lengths) else 0
        if min_sessions > longest:
            raise ParameterError(
                f"The 'min_sessions' parameter of {caller}() is larger than the number of "
                f"occasions of every patient (at most {longest}). Got min_sessions="
                f"{min_sessions!r}. Suggestion: pass min_sessions={longest} or less."
            )
        selected = n_scores >= min_sessions
        reason = np.array(
            [f"fewer than {min_sessions} observed scores"] * n, dtype=object
        )
    reason[selected] = None
    out = pd.DataFrame(
        {
            "patient": long.patients,
            "selected": selected,
            "n_occasions": lengths,
            "n_scores": np.asarray(n_scores, dtype=np.int64),
            "reason": pd.Series(reason, dtype=object),
        }
    )
    out.attrs["method"] = method
    out.attrs["min_sessions"] = min_sessions
    return out


def _table_type(frame: pd.DataFrame) -> str | None:
    columns = set(frame.columns)
    if {"patient", "has_event", "n_events", "magnitude", "reversal"} <= columns:
        return "persons"
    if {"patient", "n_events", "magnitude", "reversal"} <= columns:
        return "events"
    return None


def describe_sudden_changes(
    events_or_data: pd.DataFrame,
    *,
    digits: int | None = None,
    select: str | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Descriptives of sudden changes: counts, multiple changes, reversals, magnitude.

    The numbers of suddengains' ``describe_sg`` for its by-gain table (``create_bysg``) and its
    by-person table (``create_byperson``).

    Parameters
    ----------
    events_or_data : DataFrame
        The event table of :func:`~iatrogenic.core.sudden_changes.sudden_changes` (one row per
        change; ``describe_sg(sg_data_structure = "bysg")``), or the per-patient table of
        :func:`~iatrogenic.core.sudden_changes.sudden_changes_by_person` (one row per patient;
        ``"byperson"``), or long data, which are passed to ``sudden_changes`` (or, with
        ``select``, to ``sudden_changes_by_person``) with ``options``.
    digits : int, optional
        Round the percentages and the magnitude's mean and SD to this many decimals
        (``describe_sg`` rounds to 2). Default: no rounding.
    select : {"first", "last", "largest", "smallest"}, optional
        With long data only: describe one change per patient (by-person table).
    **options
        With long data only: arguments of ``sudden_changes`` (``cutoff=``, ``kind=``,
        ``patient=`` ...).

    Returns
    -------
    DataFrame
        One row; columns (suddengains' names in brackets):

        - ``table``: ``"events"`` or ``"persons"``; ``kind``: ``"gain"`` or ``"loss"``
          (missing for an empty event table).
        - ``n_rows``: rows of the table, events or patients (``total_n``).
        - ``n_events``: number of changes (``sg_total_n``); for the per-patient table the sum of
          ``n_events``, all changes, not only the selected ones.
        - ``n_patients_with_event``: patients with at least one change (``sg_n``).
        - ``pct_with_event``: ``100 * rows with a change / n_rows`` (``sg_pct``; 100 for the
          event table).
        - ``n_multiple``: rows whose patient has more than one change (``sg_multiple_n``);
          ``pct_multiple``: ``100 * n_multiple / n_rows`` (``sg_multiple_pct``).
        - ``n_reversals``: reversed changes among the rows (``sg_reversal_n``);
          ``pct_reversals``: ``100 * n_reversals`` / number of changes in the rows (event
          table: all, per-patient table: the selected ones) (``sg_reversal_pct``).
        - ``magnitude_mean``, ``magnitude_sd``: mean and SD (``ddof=1``) of ``magnitude`` over the
          changes in the rows (``sg_magnitude_m``, ``sg_magnitude_sd``). ``magnitude`` is
          positive for gains and losses; suddengains' ``sg_magnitude`` is negative for losses,
          so its mean is ``-magnitude_mean`` there (same SD).

        A percentage, mean or SD without a denominator (no rows, no change, one change for the
        SD) is NaN, as R's ``NaN``/``NA``.

    Raises
    ------
    ParameterTypeError
        ``events_or_data`` is not a DataFrame.
    ParameterError
        ``select`` or ``options`` given with a table of sudden changes.

    Examples
    --------
    >>> import pandas as pd
    >>> from iatrogenic.core.sudden_changes import sudden_changes
    >>> from iatrogenic.core.sudden_change_summary import describe_sudden_changes
    >>> data = pd.DataFrame({
    ...     "patient": [1] * 8 + [2] * 8,
    ...     "session": list(range(1, 9)) * 2,
    ...     "score": [30, 31, 29, 18, 17, 16, 24, 15,
    ...               32, 30, 31, 22, 21, 20, 20, 19]})
    >>> events = sudden_changes(data, cutoff=7)
    >>> describe_sudden_changes(events, digits=2).iloc[0]
    table                    events
    kind                       gain
    n_rows                        2
    n_events                      2
    n_patients_with_event         2
    pct_with_event            100.0
    n_multiple                    0
    pct_multiple                0.0
    n_reversals                   1
    pct_reversals              50.0
    magnitude_mean             10.0
    magnitude_sd               1.41
    Name: 0, dtype: object
    """
    caller = "describe_sudden_changes"
    if not isinstance(events_or_data, pd.DataFrame):
        raise ParameterTypeError(
            f"The 'events_or_data' parameter of {caller}() must be a DataFrame: the result of "
            "ia.sudden_changes() or ia.sudden_changes_by_person(), or long data. Got "
            f"{type(events_or_data).__name__} instead. Suggestion: "
            f"{caller}(ia.sudden_changes(data, cutoff=...))."
        )
    if digits is not None:
        digits = check_number(digits, name="digits", caller=caller, low=0, integer=True)
    table = _table_type(events_or_data)
    if table is None:
        target = sudden_changes if select is None else sudden_changes_by_person
        known = [n for n in inspect.signature(target).parameters if n not in ("data", "select")]
        unknown = sorted(set(options) - set(known))
        if unknown:
            close = difflib.get_close_matches(unknown[0], known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterTypeError(
                f"{caller}() got the unknown argument(s) {', '.join(map(repr, unknown))}, passed "
                f"on to {target.__name__}() with long data.{hint} Suggestion: use only "
                f"{', '.join(known)}."
            )
        if select is None:
            frame = sudden_changes(events_or_data, **options)
            table = "events"
        else:
            frame = sudden_changes_by_person(events_or_data, select=select, **options)
            table = "persons"
    else:
        if select is not None or options:
            given = ["select"] if select is not None else []
            given += sorted(options)
            raise ParameterError(
                f"{caller}() got a table of sudden changes ({table}) and the arguments "
                f"{', '.join(given)}, which are only for long data. Suggestion: drop them, or "
                "pass the long data instead of the table."
            )
        frame = events_or_data

    n_rows = len(frame)
    per_patient = frame["n_events"].to_numpy(dtype=np.float64, na_value=np.nan)
    if table == "events":
        with_event = np.ones(n_rows, dtype=bool)
        n_events = n_rows
        n_patients = int(frame["patient"].nunique())
    else:
        with_event = frame["has_event"].to_numpy(dtype=bool)
        n_events = int(np.nansum(per_patient))
        n_patients = int(with_event.sum())
    n_with = int(with_event.sum())
    n_multiple = int((per_patient > 1).sum())
    reversal = frame["reversal"].to_numpy(dtype=np.float64, na_value=np.nan)[with_event]
    n_reversals = int(np.nansum(reversal))
    magnitude = frame["magnitude"].to_numpy(dtype=np.float64, na_value=np.nan)[with_event]
    magnitude = magnitude[~np.isnan(magnitude)]

    def ratio(count: float, total: float) -> float:
        return 100.0 * count / total if total > 0 else float("nan")

    values = {
        "pct_with_event": ratio(n_with, n_rows),
        "pct_multiple": ratio(n_multiple, n_rows),
        "pct_reversals": ratio(n_reversals, n_with),
        "magnitude_mean": float(np.mean(magnitude)) if len(magnitude) else float("nan"),
        "magnitude_sd": float(np.std(magnitude, ddof=1)) if len(magnitude) > 1 else float("nan"),
    }
    if digits is not None:
        values = {key: float(np.round(value, digits)) for key, value in values.items()}
    kinds = frame["kind"].dropna().unique() if "kind" in frame.columns else []
    out = pd.DataFrame(
        {
            "table": [table],
            "kind": [kinds[0] if len(kinds) == 1 else None],
            "n_rows": [n_rows],
            "n_events": [n_events],
            "n_patients_with_event": [n_patients],
            "pct_with_event": [values["pct_with_event"]],
            "n_multiple": [n_multiple],
            "pct_multiple": [values["pct_multiple"]],
            "n_reversals": [n_reversals],
            "pct_reversals": [values["pct_reversals"]],
            "magnitude_mean": [values["magnitude_mean"]],
            "magnitude_sd": [values["magnitude_sd"]],
        }
    )
    return out[list(DESCRIBE_COLUMNS)]
