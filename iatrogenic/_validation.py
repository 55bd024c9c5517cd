"""The one place where input is checked.

Every public entry point passes its ``data`` and keyword arguments through these helpers, so all
errors look alike: they name the column or parameter, count and show the first offending rows, and
say what to do. Nothing here mutates the caller's objects.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

import numpy as np
import pandas as pd

from .exceptions import (
    ColumnNotFoundError,
    ColumnTypeError,
    DuplicateRowsError,
    EmptyDataError,
    InvalidValueError,
    OutOfRangeError,
    ParameterError,
    ParameterTypeError,
)
from .instruments.registry import Instrument

__all__ = [
    "LongData",
    "check_choice",
    "check_column_list",
    "check_columns",
    "check_dataframe",
    "check_fraction",
    "check_number",
    "check_pair",
    "check_patient_level",
    "check_positive",
    "describe_rows",
    "numeric_time",
    "prepare_long",
    "resolve_better",
]

T = TypeVar("T")

#: How many offending rows an error message shows.
MAX_ROWS_SHOWN = 5


def _quote_list(values: Iterable[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def check_choice(value: T, choices: Sequence[T], *, name: str, caller: str) -> T:
    """Return ``value`` if it is one of ``choices``, else raise :class:`ParameterError`.

    String choices are matched case-insensitively and the canonical spelling is returned.

    Examples
    --------
    >>> check_choice("jt", ["JT", "HA"], name="method", caller="reliable_change")
    'JT'
    """
    for choice in choices:
        if value == choice:
            return choice
        if isinstance(value, str) and isinstance(choice, str) and value.lower() == choice.lower():
            return choice
    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(
            value, [c for c in choices if isinstance(c, str)], n=1, cutoff=0.6
        )
        if close:
            hint = f" Did you mean {close[0]!r}?"
    raise ParameterError(
        f"The {name!r} parameter of {caller}() must be one of {_quote_list(choices)}. "
        f"Got {value!r} instead.{hint}"
    )


def check_number(
    value: Any,
    *,
    name: str,
    caller: str,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_none: bool = False,
    integer: bool = False,
) -> Any:
    """Check that ``value`` is a finite real number within bounds and return it as float (or int).

    Examples
    --------
    >>> check_number(0.8, name="reliability", caller="reliable_change", low=0, high=1)
    0.8
    """
    if value is None:
        if allow_none:
            return None
        raise ParameterTypeError(
            f"The {name!r} parameter of {caller}() must be a number. Got None instead."
        )
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterTypeError(
            f"The {name!r} parameter of {caller}() must be {kind}. "
            f"Got {value!r} of type {type(value).__name__} instead."
        )
    if integer and not float(value).is_integer():
        raise ParameterTypeError(
            f"The {name!r} parameter of {caller}() must be {kind}. Got {value!r} instead."
        )
    number = int(value) if integer else float(value)
    if not np.isfinite(number):
        raise ParameterError(
            f"The {name!r} parameter of {caller}() must be finite. Got {value!r} instead."
        )
    too_low = low is not None and (number < low or (not low_inclusive and number == low))
    too_high = high is not None and (number > high or (not high_inclusive and number == high))
    if too_low or too_high:
        left = "(-inf" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
        right = "inf)" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
        raise ParameterError(
            f"The {name!r} parameter of {caller}() must be in the range {left}, {right}. "
            f"Got {value!r} instead."
        )
    return number


@overload
def check_fraction(
    value: Any, *, name: str, caller: str, allow_none: Literal[False] = ...
) -> float: ...
@overload
def check_fraction(value: Any, *, name: str, caller: str, allow_none: bool) -> float | None: ...
def check_fraction(value: Any, *, name: str, caller: str, allow_none: bool = False) -> float | None:
    """Check a number strictly between 0 and 1 (a reliability, a significance level).

    Examples
    --------
    >>> check_fraction(0.05, name="alpha", caller="screen")
    0.05
    """
    return check_number(
        value,
        name=name,
        caller=caller,
        low=0,
        high=1,
        low_inclusive=False,
        high_inclusive=False,
        allow_none=allow_none,
    )


@overload
def check_positive(
    value: Any, *, name: str, caller: str, allow_none: Literal[False] = ...
) -> float: ...
@overload
def check_positive(value: Any, *, name: str, caller: str, allow_none: bool) -> float | None: ...
def check_positive(value: Any, *, name: str, caller: str, allow_none: bool = False) -> float | None:
    """Check a finite number above 0 (an SD, a threshold in points).

    Examples
    --------
    >>> check_positive(4.5, name="sd", caller="screen")
    4.5
    """
    return check_number(
        value, name=name, caller=caller, low=0, low_inclusive=False, allow_none=allow_none
    )


def resolve_better(better: Any, instrument: Instrument | None, *, caller: str) -> str:
    """The direction of improvement: ``better`` if given, else the instrument's, else "lower".

    Examples
    --------
    >>> resolve_better(None, None, caller="screen")
    'lower'
    """
    if better is None:
        return instrument.better if instrument is not None else "lower"
    return check_choice(better, ["lower", "higher"], name="better", caller=caller)


def check_patient_level(
    values: pd.Series,
    codes: np.ndarray,
    patients: pd.Index,
    *,
    column: str,
    keyword: str,
    caller: str,
) -> None:
    """Check that a column is constant within each patient (sorted rows, ``codes`` per row)."""
    key, _ = pd.factorize(values, use_na_sentinel=True)
    changes = (key[1:] != key[:-1]) & (codes[1:] == codes[:-1])
    if changes.any():
        where = int(np.flatnonzero(changes)[0]) + 1
        raise InvalidValueError(
            f"Column {column!r} (given as {keyword}=) passed to {caller}() must be constant "
            f"within each patient, but patient {_plain(patients[codes[where]])!r} has more than "
            f"one value ({int(changes.sum())} changes in all). Suggestion: pass a patient-level "
            "column only (e.g. intake score, treatment arm, therapist)."
        )


def check_column_list(value: Any, *, name: str, caller: str) -> list[str]:
    """A column name or list of column names as a list (None gives an empty list).

    Examples
    --------
    >>> check_column_list("age", name="covariates", caller="fit_growth")
    ['age']
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ParameterTypeError(
            f"The {name!r} parameter of {caller}() must be a column name or a list of column "
            f"names. Got {value!r} instead."
        )
    return list(value)


def numeric_time(long: LongData, *, caller: str) -> np.ndarray:
    """The occasion column of validated data as numbers, for models of time."""
    values = long.frame["time"]
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        raise ColumnTypeError(
            f"Column {long.columns['time']!r} (given as time=) passed to {caller}() must be "
            f"numeric (session number, weeks or days since intake); got dtype {values.dtype}. "
            "Suggestion: number the sessions (data.groupby('patient').cumcount() + 1) or "
            "convert dates to days ((data['date'] - data['date'].min()).dt.days)."
        )
    return values.to_numpy(dtype=np.float64)


def check_pair(value: Any, *, name: str, caller: str) -> tuple[float, float] | None:
    """Check a ``(mean, sd)`` norm: two finite numbers, the SD positive.

    Examples
    --------
    >>> check_pair((7.69, 7.52), name="functional", caller="reliable_change")
    (7.69, 7.52)
    """
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ParameterTypeError(
            f"The {name!r} parameter of {caller}() must be a (mean, sd) pair, for example "
            f"{name}=(7.69, 7.52). Got {value!r} instead."
        )
    mean = check_number(value[0], name=f"{name}[0] (mean)", caller=caller)
    sd = check_number(value[1], name=f"{name}[1] (sd)", caller=caller, low=0, low_inclusive=False)
    return (mean, sd)


def check_dataframe(data: Any, *, caller: str, name: str = "data") -> pd.DataFrame:
    """Check that ``data`` is a non-empty DataFrame."""
    if not isinstance(data, pd.DataFrame):
        raise ParameterTypeError(
            f"The {name!r} parameter of {caller}() must be a pandas DataFrame in long format "
            f"(one row per patient and occasion). Got {type(data).__name__} instead. "
            "Suggestion: pd.DataFrame(...) or pd.read_csv(...)."
        )
    if len(data) == 0:
        raise EmptyDataError(
            f"The {name!r} table passed to {caller}() has no rows. "
            "Pass a table with at least one patient and occasion."
        )
    return data


def check_columns(data: pd.DataFrame, columns: dict[str, str], *, caller: str) -> None:
    """Check that every column named by a keyword (``{keyword: column}``) is in ``data``."""
    available = [str(c) for c in data.columns]
    for keyword, column in columns.items():
        if column in data.columns:
            continue
        close = difflib.get_close_matches(str(column), available, n=3, cutoff=0.5)
        hint = f" Did you mean {_quote_list(close)}?" if close else ""
        shown = _quote_list(available[:20]) + (", ..." if len(available) > 20 else "")
        raise ColumnNotFoundError(
            f"Column {column!r} (given as {keyword}=) is not in the data passed to {caller}(). "
            f"Available columns: {shown}.{hint} Suggestion: pass {keyword}='<your column name>'."
        )


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so messages read ``2`` not ``np.int64(2)``."""
    return value.item() if isinstance(value, np.generic) else value


def describe_rows(frame: pd.DataFrame, positions: np.ndarray, columns: Sequence[str]) -> str:
    """Describe offending rows for an error message: their count and the first few.

    ``positions`` are integer positions in ``frame``; rows are shown with their index label.

    Examples
    --------
    >>> df = pd.DataFrame({"patient": [1, 1, 2], "score": [3.0, -1.0, -2.0]})
    >>> describe_rows(df, np.array([1, 2]), ["patient", "score"])
    '2 rows, first: index 1 (patient=1, score=-1.0); index 2 (patient=2, score=-2.0)'
    """
    positions = np.asarray(positions)
    shown = []
    for pos in positions[:MAX_ROWS_SHOWN]:
        values = ", ".join(f"{col}={_plain(frame[col].iloc[pos])!r}" for col in columns)
        shown.append(f"index {_plain(frame.index[pos])!r} ({values})")
    noun = "row" if len(positions) == 1 else "rows"
    more = "; ..." if len(positions) > MAX_ROWS_SHOWN else ""
    return f"{len(positions)} {noun}, first: " + "; ".join(shown) + more


@dataclass(frozen=True)
class LongData:
    """Validated long-format data, sorted by patient and occasion, on a copy.

    Attributes
    ----------
    frame : DataFrame
        Columns ``patient``, ``time``, ``score`` (canonical names) followed by the extra columns
        requested, under their own names; sorted by patient, then occasion; a fresh RangeIndex.
    patients : Index
        Every patient of the input once, in output order (sorted when the ids are sortable).
    codes : ndarray of int64
        For each row of ``frame``, the position of its patient in ``patients``.
    order : ndarray of float64
        For each row, a key that orders occasions within a patient (numeric or datetime values,
        the categories' order, or the order of first appearance for text occasions).
    starts : ndarray of int64
        Position in ``frame`` of each patient's first row; ``starts[-1]`` is ``len(frame)``.
    columns : dict
        The caller's names for ``patient``, ``time`` and ``score``.
    """

    frame: pd.DataFrame
    patients: pd.Index
    codes: np.ndarray
    order: np.ndarray
    starts: np.ndarray
    columns: dict[str, str]

    @property
    def n_patients(self) -> int:
        return len(self.patients)

    @property
    def sizes(self) -> np.ndarray:
        """Number of rows per patient."""
        return np.diff(self.starts)


def _time_order(values: pd.Series, codes: np.ndarray, *, column: str, caller: str) -> np.ndarray:
    """A float key ordering the occasions of ``values`` (rows in the caller's order).

    Numbers, dates and ordered categoricals order themselves; so do unordered categoricals whose
    categories are numbers or dates. Text labels (``"baseline"``, ``"week4"``) have no order of
    their own: each patient's rows, in the order given, say which label comes first, and the
    labels are ranked consistently with every patient (labels never seen together keep the order
    of their first appearance). Patients that contradict each other are an error.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        if values.cat.ordered:
            return values.cat.codes.to_numpy(dtype=np.float64)
        if pd.api.types.is_numeric_dtype(categories) or pd.api.types.is_datetime64_any_dtype(
            categories
        ):
            ranks = np.argsort(np.argsort(categories.to_numpy(), kind="stable"), kind="stable")
            return ranks[values.cat.codes.to_numpy()].astype(np.float64)
    elif pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values):
        return values.to_numpy().astype("datetime64[ns]").astype(np.int64).astype(np.float64)
    elif pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.float64)
    labels, uniques = pd.factorize(values, sort=False)
    return _label_ranks(labels, codes, uniques, column=column, caller=caller)[labels]


def _label_ranks(
    labels: np.ndarray, codes: np.ndarray, uniques: Any, *, column: str, caller: str
) -> np.ndarray:
    """Rank text labels so that every patient's rows (in the order given) run forwards."""
    n_labels = len(uniques)
    within = np.argsort(codes, kind="stable")  # each patient's rows, in the caller's order
    before, after = labels[within][:-1], labels[within][1:]
    same = (codes[within][:-1] == codes[within][1:]) & (before != after)
    edges = np.unique(before[same] * n_labels + after[same])
    successors: list[list[int]] = [[] for _ in range(n_labels)]
    indegree = np.zeros(n_labels, dtype=np.int64)
    for edge in edges.tolist():
        successors[edge // n_labels].append(edge % n_labels)
        indegree[edge % n_labels] += 1
    # Kahn's algorithm over the (few) distinct labels; ties go to the first label to appear.
    ranks = np.full(n_labels, -1, dtype=np.int64)
    ready = sorted(np.flatnonzero(indegree == 0).tolist())
    for rank in range(n_labels):
        if not ready:
            stuck = [repr(uniques[k]) for k in np.flatnonzero(ranks < 0)[:4]]
            raise InvalidValueError(
                f"Column {column!r} (given as time=) passed to {caller}() has text occasions "
                f"({', '.join(stuck)}, ...) that come in a different order for different "
                "patients, so their order cannot be known. Suggestion: pass session numbers or "
                f"dates, or an ordered categorical: pd.Categorical(data[{column!r}], "
                "categories=[...in time order...], ordered=True)."
            )
        label = ready.pop(0)
        ranks[label] = rank
        for successor in successors[label]:
            indegree[successor] -= 1
            if indegree[successor] == 0:
                ready.append(successor)
                ready.sort()
    return ranks.astype(np.float64)


def _numeric_scores(frame: pd.DataFrame, column: str, keyword: str, caller: str) -> np.ndarray:
    values = frame[column]
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        converted = pd.to_numeric(values, errors="coerce")
        bad = np.flatnonzero(converted.isna().to_numpy() & values.notna().to_numpy())
        if len(bad) or pd.api.types.is_bool_dtype(values):
            rows = describe_rows(
                frame, bad if len(bad) else np.arange(min(len(frame), 5)), [column]
            )
            raise ColumnTypeError(
                f"Column {column!r} (given as {keyword}=) passed to {caller}() must hold numbers; "
                f"{rows}. Suggestion: clean these values or convert the column with "
                f"pd.to_numeric(data[{column!r}], errors='coerce') to treat them as missing."
            )
        values = converted
    scores = values.to_numpy(dtype=np.float64, na_value=np.nan)
    infinite = np.flatnonzero(np.isinf(scores))
    if len(infinite):
        raise InvalidValueError(
            f"Column {column!r} (given as {keyword}=) passed to {caller}() has infinite values; "
            f"{describe_rows(frame, infinite, [column])}. Suggestion: replace them with NaN "
            "(missing) or a valid score."
        )
    return scores


def _patient_codes(ids: pd.Series) -> tuple[np.ndarray, pd.Index | np.ndarray]:
    """Codes of the patient ids (int64) and the ids in code order, sorted when sortable.

    Numeric ids that are already in ascending order (data exported sorted by patient) are coded
    by counting the changes: the same result as ``pd.factorize(sort=True)`` without its hash
    table and sort, which take several times the column's memory on millions of rows.
    """
    values = ids.to_numpy() if isinstance(ids.dtype, np.dtype) else None
    if (
        values is not None
        and values.dtype.kind in "iuf"
        and len(values)
        and bool(np.all(values[1:] >= values[:-1]))
    ):
        change = values[1:] != values[:-1]
        codes = np.zeros(len(values), dtype=np.int64)
        np.cumsum(change, out=codes[1:])
        return codes, values[np.r_[True, change]]
    try:
        codes, patients = pd.factorize(ids, sort=True)
    except TypeError:  # ids of mixed types cannot be sorted: keep first appearance
        codes, patients = pd.factorize(ids, sort=False)
    return codes.astype(np.int64, copy=False), patients


def _sort_rows(codes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Permutation that sorts rows by patient code, then occasion.

    One int64 key and an unstable sort are about twice as fast as ``np.lexsort`` on millions of
    rows. The result is still deterministic: duplicate (patient, occasion) keys are an error
    raised right after, so every key that matters is unique.
    """
    span = float(order.max() - order.min()) if len(order) else 0.0
    whole = bool(np.all(order == np.floor(order)))
    if whole and span < 2**20:
        rank = (order - order.min()).astype(np.int64)
        levels = int(span) + 1
    else:
        _, rank = np.unique(order, return_inverse=True)
        levels = int(rank.max()) + 1 if len(rank) else 1
    if (int(codes.max()) + 1) * levels >= 2**62:
        return np.lexsort((order, codes))
    return np.argsort(codes * levels + rank)


def prepare_long(
    data: Any,
    *,
    patient: str,
    time: str,
    score: str | None,
    caller: str,
    score_range: tuple[float | None, float | None] | None = None,
    range_source: str = "",
    instrument: Instrument | None = None,
    extra: dict[str, str | None] | None = None,
    numeric_extra: Iterable[str] = (),
) -> LongData:
    """Validate long-format data and return a sorted copy under canonical column names.

    Parameters
    ----------
    data : DataFrame
        One row per patient and occasion.
    patient, time, score : str
        The caller's column names; ``score=None`` when the caller needs no score.
    caller : str
        Name of the public function, used in messages.
    score_range : (low, high), optional
        Possible range of the score (e.g. from the instrument); either end may be None.
    range_source : str
        Where the range comes from, for the message (e.g. ``"instrument 'phq9'"``).
    instrument : Instrument, optional
        The score's instrument: its range is checked (unless ``score_range`` is given).
    extra : dict, optional
        Extra columns to carry along, ``{keyword: column}``; a None column is ignored.
    numeric_extra : iterable of str
        Keywords in ``extra`` whose columns must be numeric (checked like the score).

    Returns
    -------
    LongData

    Raises
    ------
    ParameterTypeError, EmptyDataError, ColumnNotFoundError, ColumnTypeError,
    InvalidValueError, DuplicateRowsError, OutOfRangeError

    Examples
    --------
    >>> raw = pd.DataFrame({"id": [2, 1, 1], "week": [0, 4, 0], "phq": [12, 9, 15]})
    >>> long = prepare_long(raw, patient="id", time="week", score="phq", caller="example")
    >>> long.frame
       patient  time  score
    0        1     0   15.0
    1        1     4    9.0
    2        2     0   12.0
    >>> long.starts.tolist()
    [0, 2, 3]
    """
    frame_in = check_dataframe(data, caller=caller)
    carried: dict[str, str] = {k: v for k, v in (extra or {}).items() if v is not None}
    named = {"patient": patient, "time": time}
    if score is not None:
        named["score"] = score
    named.update(carried)
    check_columns(frame_in, named, caller=caller)
    used = list(dict.fromkeys(named.values()))
    frame = frame_in.loc[:, used]

    for keyword in ("patient", "time"):
        column = named[keyword]
        missing = np.flatnonzero(frame[column].isna().to_numpy())
        if len(missing):
            raise InvalidValueError(
                f"Column {column!r} (given as {keyword}=) passed to {caller}() has missing "
                f"values; {describe_rows(frame, missing, [patient, time])}. Suggestion: drop or "
                f"fill these rows, e.g. data.dropna(subset=[{column!r}])."
            )

    codes, patients = _patient_codes(frame[patient])
    order = _time_order(frame[time], codes, column=time, caller=caller)

    if np.any(codes[1:] < codes[:-1]) or np.any(
        (codes[1:] == codes[:-1]) & (order[1:] < order[:-1])
    ):
        permutation = _sort_rows(codes, order)
        codes, order = codes[permutation], order[permutation]
    else:
        permutation = None

    same = (codes[1:] == codes[:-1]) & (order[1:] == order[:-1])
    if same.any():
        dup = np.flatnonzero(np.r_[same, False] | np.r_[False, same])
        positions = dup if permutation is None else permutation[dup]
        raise DuplicateRowsError(
            f"Columns {patient!r} and {time!r} passed to {caller}() must identify one row per "
            f"patient and occasion, but some occasions appear more than once; "
            f"{describe_rows(frame, np.sort(positions), [patient, time])}. Suggestion: remove "
            f"the duplicates (data.drop_duplicates(subset=[{patient!r}, {time!r}])) or aggregate "
            "them first."
        )

    columns: dict[str, Any] = {"patient": frame[patient].to_numpy(), "time": frame[time].to_numpy()}
    if score is not None:
        scores = _numeric_scores(frame, score, "score", caller)
        if score_range is None and instrument is not None:
            score_range = (instrument.low, instrument.high)
            range_source = range_source or f"instrument {instrument.name!r}"
        if score_range is not None:
            low, high = score_range
            outside = np.zeros(len(scores), dtype=bool)
            if low is not None:
                outside |= scores < low
            if high is not None:
                outside |= scores > high
            bad = np.flatnonzero(outside)
            if len(bad):
                source = f" of {range_source}" if range_source else ""
                raise OutOfRangeError(
                    f"Column {score!r} (given as score=) passed to {caller}() has scores outside "
                    f"the range{source}, [{low}, {high}]; "
                    f"{describe_rows(frame, bad, [patient, time, score])}. Suggestion: check that "
                    "the instrument is the right one and the scores are totals, or correct the "
                    "values."
                )
        columns["score"] = scores
    numeric_keywords = set(numeric_extra)
    for keyword, column in carried.items():
        if column in (patient, time, score):
            continue
        if keyword in numeric_keywords:
            columns[column] = _numeric_scores(frame, column, keyword, caller)
        else:
            columns[column] = frame[column].to_numpy()

    sources = {"patient": patient, "time": time, "score": score}
    if permutation is not None:
        columns = {name: values[permutation] for name, values in columns.items()}
    else:
        # Rows already in order: share the caller's unchanged columns instead of copying them
        # (copy-on-write: neither side can then modify the other's data).
        for name, values in columns.items():
            caller_column = sources.get(name)
            original = frame[name if caller_column is None else caller_column]
            if (
                isinstance(original.dtype, np.dtype)
                and original.dtype == values.dtype
                and np.may_share_memory(original.to_numpy(), values)
            ):
                columns[name] = original.reset_index(drop=True)
    out = pd.DataFrame(columns, copy=False)
    # Keep categorical and datetime dtypes of the caller's occasion column.
    time_dtype = frame[time].dtype
    if isinstance(time_dtype, pd.CategoricalDtype) or pd.api.types.is_datetime64_any_dtype(
        time_dtype
    ):
        out["time"] = out["time"].astype(time_dtype)
    starts = np.searchsorted(codes, np.arange(len(patients) + 1)).astype(np.int64)
    return LongData(
        frame=out,
        patients=pd.Index(patients),
        codes=codes,
        order=order,
        starts=starts,
        columns={"patient": patient, "time": time, "score": score or ""},
    )
