"""Wide tables (one row per patient, one column per session) to the library's long format."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_columns, describe_rows
from ..exceptions import (
    ColumnNotFoundError,
    DuplicateRowsError,
    EmptyDataError,
    InvalidValueError,
    ParameterError,
    ParameterTypeError,
)

__all__ = ["from_wide"]

_CALLER = "from_wide"

#: What a session column specification may be: a list of columns (sessions 1..k), a dict
#: ``{column: session}`` or a regular expression whose one group captures the session number.
SessionSpec = Sequence[str] | Mapping[str, Any] | str | re.Pattern[str]


def _session_value(value: Any, *, where: str) -> int | float | str:
    """A session given in a dict: a finite real number or a non-empty text label."""
    if isinstance(value, (bool, np.bool_)):
        raise ParameterTypeError(f"{where} must be a session number or label. Got {value!r}.")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise ParameterError(f"{where} must be a finite session number. Got {value!r}.")
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, str) and value.strip():
        return value
    raise ParameterTypeError(
        f"{where} must be a session number or a text label. Got {value!r} of type "
        f"{type(value).__name__}."
    )


def _from_pattern(data: pd.DataFrame, pattern: Any, *, name: str) -> dict[str, int | float]:
    """``{column: session}`` for the columns whose whole name matches ``pattern``."""
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError) as error:
        raise ParameterError(
            f"The {name!r} parameter of {_CALLER}() must be a regular expression with one group "
            f"capturing the session number, e.g. r'phq9_s(\\d+)'. Got {pattern!r} ({error})."
        ) from None
    if compiled.groups != 1:
        raise ParameterError(
            f"The {name!r} parameter of {_CALLER}() must have exactly one group (...) capturing "
            f"the session number, e.g. r'phq9_s(\\d+)'. Got {compiled.pattern!r} with "
            f"{compiled.groups} groups. Suggestion: make other groups non-capturing, (?:...)."
        )
    found: dict[str, int | float] = {}
    for column in data.columns:
        match = compiled.fullmatch(str(column))
        if match is None:
            continue
        captured = match.group(1)
        try:
            number = float(captured)
        except (TypeError, ValueError):
            number = float("nan")
        if not np.isfinite(number):
            raise ParameterError(
                f"The {name!r} parameter of {_CALLER}() must capture a session number, but in "
                f"column {column!r} it captures {captured!r}. Suggestion: capture digits only, "
                "e.g. r'phq9_s(\\d+)', or pass columns={column: session, ...} to give the "
                "sessions yourself."
            )
        found[str(column)] = int(number) if number.is_integer() else number
    if not found:
        available = [str(c) for c in data.columns]
        shown = ", ".join(repr(c) for c in available[:20]) + (
            ", ..." if len(available) > 20 else ""
        )
        close = difflib.get_close_matches(compiled.pattern, available, n=3, cutoff=0.4)
        hint = f" Columns with similar names: {', '.join(map(repr, close))}." if close else ""
        raise ColumnNotFoundError(
            f"No column of the data passed to {_CALLER}() matches the {name!r} pattern "
            f"{compiled.pattern!r} (the whole column name must match). Available columns: "
            f"{shown}.{hint} Suggestion: check the pattern, e.g. r'phq9_s(\\d+)' for phq9_s1, "
            "phq9_s2, ..."
        )
    return found


def _sessions(data: pd.DataFrame, spec: Any, *, name: str) -> dict[str, int | float | str]:
    """Resolve a ``columns=`` or ``pattern=``-like specification to ``{column: session}``."""
    if isinstance(spec, (str, re.Pattern)) and name != "columns":
        return dict(_from_pattern(data, spec, name=name))
    if isinstance(spec, Mapping):
        mapping = {}
        for column, session in spec.items():
            mapping[column] = _session_value(session, where=f"The session of column {column!r}")
        if not mapping:
            raise ParameterError(f"The {name!r} parameter of {_CALLER}() names no column.")
    elif isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
        if not spec:
            raise ParameterError(f"The {name!r} parameter of {_CALLER}() names no column.")
        mapping = {column: k + 1 for k, column in enumerate(spec)}
        if len(mapping) < len(spec):
            repeated = sorted({c for c in spec if list(spec).count(c) > 1}, key=str)
            raise ParameterError(
                f"The {name!r} parameter of {_CALLER}() names column(s) "
                f"{', '.join(map(repr, repeated))} more than once. Pass each session column once."
            )
    else:
        raise ParameterTypeError(
            f"The {name!r} parameter of {_CALLER}() must be a list of columns (in session "
            f"order) or a dict {{column: session}}. Got {spec!r}."
        )
    check_columns(data, {f"{name}[{column!r}]": column for column in mapping}, caller=_CALLER)
    return mapping


def _check_sessions(mapping: dict[str, Any], *, name: str) -> list[Any]:
    """The sessions of a mapping in time order; they must be distinct and of one kind."""
    sessions = list(mapping.values())
    text = [isinstance(s, str) for s in sessions]
    if any(text) and not all(text):
        raise ParameterTypeError(
            f"The sessions given by {name}= to {_CALLER}() mix numbers and text labels "
            f"({', '.join(map(repr, sessions[:6]))}). Suggestion: use session numbers only, or "
            "text labels only (in time order)."
        )
    seen: dict[Any, str] = {}
    for column, session in mapping.items():
        if session in seen:
            raise ParameterError(
                f"Columns {seen[session]!r} and {column!r} given by {name}= to {_CALLER}() are "
                f"both session {session!r}. Suggestion: keep one column per session (or combine "
                "them first)."
            )
        seen[session] = column
    return sessions if all(text) else sorted(sessions)


def _stack(data: pd.DataFrame, columns: list[str | None], n: int) -> pd.Series:
    """The columns stacked patient by patient: row ``i * k + j`` is patient i, session j.

    ``None`` stands for a session without a column (all missing).
    """
    k = len(columns)
    parts = [
        data[c].reset_index(drop=True) if c is not None else pd.Series(np.nan, index=range(n))
        for c in columns
    ]
    stacked = pd.concat(parts, ignore_index=True)
    patient_major = (np.arange(n)[:, None] + np.arange(k)[None, :] * n).ravel()
    return stacked.iloc[patient_major].reset_index(drop=True)


def from_wide(
    data: pd.DataFrame,
    *,
    patient: str,
    columns: Sequence[str] | Mapping[str, Any] | None = None,
    pattern: str | re.Pattern[str] | None = None,
    score: str = "score",
    time: str = "session",
    carry: Mapping[str, SessionSpec] | None = None,
) -> pd.DataFrame:
    r"""Turn a wide table (one row per patient, one column per session) into long format.

    Parameters
    ----------
    data : DataFrame
        One row per patient; the scores of each session in their own column.
    patient : str
        The column of patient ids (one row per patient).
    columns : list of str or dict, optional
        The score columns. A list gives them in session order: they become sessions 1, 2, ...,
        k. A dict ``{column: session}`` gives each column's session: numbers (session numbers,
        weeks) or text labels, which become an ordered categorical in the dict's order.
    pattern : str or compiled regular expression, optional
        Instead of ``columns``: a regular expression matched against whole column names whose
        one group captures the session number, e.g. ``r"phq9_s(\d+)"``.
    score : str, default "score"
        Name of the score column of the result.
    time : str, default "session"
        Name of the session column of the result.
    carry : dict, optional
        Further per-session values to carry along, ``{name: columns}``: ``columns`` is a
        pattern (its group captures the session number), a list aligned with the sessions
        of the scores, in time order, or a dict ``{column: session}``. A session without a column
        gets a missing value; a column of a session without a score column is an error.

    Returns
    -------
    DataFrame
        One row per patient and session, sorted by patient (in the order of ``data``) then
        session, with a fresh index. Columns:

        - ``<patient>``: the patient id, as in ``data``;
        - ``<time>``: the session (integers for a list or integral session numbers; floats;
          or an ordered categorical for text labels);
        - ``<score>``: the score at that session, missing (NaN) where the cell was empty;
        - one column per ``carry`` name;
        - every other column of ``data`` (patient-level values such as age or therapist),
          repeated on each of the patient's rows.

        Nothing is dropped: a patient with no score at all keeps one row per session with
        missing scores, so that per-patient results list it with a reason.

    Raises
    ------
    ParameterTypeError, ParameterError
        ``columns`` and ``pattern`` both or neither given, a pattern without one group, a
        session given twice, clashing column names.
    ColumnNotFoundError
        A named column is missing, or no column matches the pattern.
    InvalidValueError, DuplicateRowsError
        Missing or repeated patient ids.
    EmptyDataError
        ``data`` has no rows.

    See Also
    --------
    iatrogenic.reliable_change, iatrogenic.screen : take the long format.

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> wide = pd.DataFrame(
    ...     {
    ...         "id": ["C-01", "C-02"],
    ...         "phq9_s1": [18, 20],
    ...         "phq9_s2": [15, None],
    ...         "phq9_s3": [9, 22],
    ...         "q9_s1": [0, 1],
    ...         "q9_s3": [0, 2],
    ...         "therapist": ["T1", "T2"],
    ...     }
    ... )
    >>> long = ia.from_wide(
    ...     wide, patient="id", pattern=r"phq9_s(\d+)", carry={"phq9_item9": r"q9_s(\d+)"}
    ... )
    >>> long
         id  session  score  phq9_item9 therapist
    0  C-01        1   18.0         0.0        T1
    1  C-01        2   15.0         NaN        T1
    2  C-01        3    9.0         0.0        T1
    3  C-02        1   20.0         1.0        T2
    4  C-02        2    NaN         NaN        T2
    5  C-02        3   22.0         2.0        T2
    >>> ia.reliable_change(long, patient="id", instrument="phq9")[["patient", "pre", "post"]]
      patient   pre  post
    0  C-01  18.0   9.0
    1  C-02  20.0  22.0
    """
    if not isinstance(data, pd.DataFrame):
        raise ParameterTypeError(
            f"The 'data' parameter of {_CALLER}() must be a pandas DataFrame in wide format (one "
            f"row per patient, one column per session). Got {type(data).__name__} instead. "
            "Suggestion: pd.DataFrame(...) or pd.read_csv(...)."
        )
    if len(data) == 0:
        raise EmptyDataError(
            f"The 'data' table passed to {_CALLER}() has no rows. Suggestion: pass a table "
            "with at least one patient."
        )
    for name, value in (("patient", patient), ("score", score), ("time", time)):
        if not isinstance(value, str):
            raise ParameterTypeError(
                f"The {name!r} parameter of {_CALLER}() must be a column name (str). Got {value!r}."
            )
    repeated = data.columns[data.columns.duplicated()]
    if len(repeated):
        raise InvalidValueError(
            f"The data passed to {_CALLER}() has repeated column names "
            f"({', '.join(map(repr, dict.fromkeys(repeated)))}). Suggestion: rename them so "
            "that each is unique."
        )
    if (columns is None) == (pattern is None):
        raise ParameterError(
            f"{_CALLER}() needs exactly one of columns=[...] (the score columns in session "
            "order, or a dict {column: session}) and pattern=r'...(\\d+)' (a regular expression "
            f"capturing the session number). Got {'both' if columns is not None else 'neither'}."
        )
    check_columns(data, {"patient": patient}, caller=_CALLER)
    if columns is not None:
        if isinstance(columns, str):
            raise ParameterTypeError(
                f"The 'columns' parameter of {_CALLER}() must be a list of columns or a dict "
                f"{{column: session}}. Got the string {columns!r}; for a regular expression, "
                "pass pattern=."
            )
        mapping = _sessions(data, columns, name="columns")
    else:
        mapping = _sessions(data, pattern, name="pattern")
    sessions = _check_sessions(mapping, name="columns" if columns is not None else "pattern")
    by_session = {session: column for column, session in mapping.items()}

    carried: dict[str, list[str | None]] = {}
    used = set(mapping) | {patient}
    for name, spec in (carry or {}).items():
        if not isinstance(name, str):
            raise ParameterTypeError(
                f"The keys of the 'carry' parameter of {_CALLER}() must be column names (str). "
                f"Got {name!r}."
            )
        if isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
            if len(spec) != len(sessions):
                raise ParameterError(
                    f"carry[{name!r}] passed to {_CALLER}() lists {len(spec)} columns for "
                    f"{len(sessions)} sessions. Suggestion: list one column per session, in "
                    "session order, or pass a dict {column: session} or a pattern."
                )
            check_columns(data, {f"carry[{name!r}]": c for c in spec}, caller=_CALLER)
            extra: dict[str, Any] = dict(zip(spec, sessions, strict=True))
        else:
            extra = _sessions(data, spec, name=f"carry[{name!r}]")
            _check_sessions(extra, name=f"carry[{name!r}]")
        unknown = [s for s in extra.values() if s not in by_session]
        if unknown:
            raise ParameterError(
                f"carry[{name!r}] passed to {_CALLER}() has columns for session(s) "
                f"{', '.join(map(repr, unknown[:5]))}, which have no score column (sessions: "
                f"{', '.join(map(repr, sessions[:10]))}). Suggestion: check the pattern or "
                "columns of the scores and of carry."
            )
        clash = used & set(extra)
        if clash:
            raise ParameterError(
                f"carry[{name!r}] passed to {_CALLER}() uses column(s) "
                f"{', '.join(map(repr, sorted(clash)))}, already used as patient or session "
                "columns. Suggestion: make the patterns more specific."
            )
        used |= set(extra)
        by_column = {s: c for c, s in extra.items()}
        carried[name] = [by_column.get(s) for s in sessions]
    level = [c for c in data.columns if c not in used]

    names = [patient, time, score, *carried, *level]
    seen: set[Any] = set()
    for column in names:
        if column in seen:
            raise ParameterError(
                f"The result of {_CALLER}() would have two columns named {column!r} (from "
                "patient=, time=, score=, carry= or a patient-level column of data). Suggestion: "
                "pass another time= or score= name, or rename that column first."
            )
        seen.add(column)

    ids = data[patient]
    missing = np.flatnonzero(ids.isna().to_numpy())
    if len(missing):
        raise InvalidValueError(
            f"Column {patient!r} (given as patient=) passed to {_CALLER}() has missing values; "
            f"{describe_rows(data, missing, [patient])}. Suggestion: drop or fill these rows."
        )
    repeated_ids = ids.duplicated(keep=False).to_numpy()
    if repeated_ids.any():
        raise DuplicateRowsError(
            f"Column {patient!r} (given as patient=) passed to {_CALLER}() must identify one row "
            f"per patient in a wide table, but some ids repeat; "
            f"{describe_rows(data, np.flatnonzero(repeated_ids), [patient])}. Suggestion: "
            "remove or combine the repeated rows."
        )

    n, k = len(data), len(sessions)
    rows = np.repeat(np.arange(n), k)
    out: dict[str, Any] = {patient: ids.iloc[rows].reset_index(drop=True)}
    if all(isinstance(s, str) for s in sessions):
        out[time] = pd.Categorical(
            np.tile(np.array(sessions, dtype=object), n), categories=sessions, ordered=True
        )
    else:
        out[time] = np.tile(np.array(sessions), n)
    out[score] = _stack(data, [by_session[s] for s in sessions], n)
    for name, sources in carried.items():
        out[name] = _stack(data, sources, n)
    for column in level:
        out[column] = data[column].iloc[rows].reset_index(drop=True)
    return pd.DataFrame(out)
