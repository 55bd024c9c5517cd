"""The one place where input is checked.

Every public entry point passes its ``data`` and keyword arguments through these helpers, so all
errors look alike: they name the column or parameter, count and show the first offending rows, and
say what to do. Nothing here mutates the caller's objects.
"""

from __future__ import annotations

import difflib
import re
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
    "wide_hint",
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
            "convert dates to days ((data['date'] - data['date'].min()).dt.days); for labels "
            "such as 'week 4', take their number: "
            f"data[{long.columns['time']!r}].str.extract(r'(\\d+)')[0].astype(float)."
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
        library = type(data).__module__.split(".")[0]
        kind = type(data).__name__
        if library not in ("builtins", "pandas", "numpy"):
            kind = f"{library}.{kind}"
        # polars, pyarrow and other frame libraries convert themselves; say how
        convert = "data.to_pandas()" if hasattr(data, "to_pandas") else (
            "pd.DataFrame(...) or pd.read_csv(...)"
        )
        raise ParameterTypeError(
            f"The {name!r} parameter of {caller}() must be a pandas DataFrame in long format "
            f"(one row per patient and occasion). Got {kind} instead. Suggestion: {convert}."
        )
    if len(data) == 0:
        raise EmptyDataError(
            f"The {name!r} table passed to {caller}() has no rows. "
            "Suggestion: pass a table with at least one patient and occasion."
        )
    return data


def wide_hint(columns: Iterable[Any]) -> str:
    """A hint at :func:`iatrogenic.from_wide` when column names look like one column per session.

    Three or more columns whose names differ only in their last number (``phq9_s1``,
    ``phq9_s2``, ``phq9_s3``) make a table look wide; the hint gives the ``pattern=`` to pass.

    Examples
    --------
    >>> hint = wide_hint(["id", "phq9_s1", "phq9_s2", "phq9_s3"])
    >>> print(hint[hint.index("ia.from_wide"):])
    ia.from_wide(data, patient=..., pattern=r'phq9_s(\\d+)').
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for column in columns:
        match = _LAST_NUMBER.match(str(column))
        if match is not None:
            groups.setdefault((match.group(1), match.group(3)), []).append(str(column))
    if not groups:
        return ""
    (prefix, suffix), names = max(groups.items(), key=lambda item: len(item[1]))
    if len(names) < 3:
        return ""
    pattern = re.escape(prefix) + r"(\d+)" + re.escape(suffix)
    shown = _quote_list(names[:4]) + (", ..." if len(names) > 4 else "")
    return (
        f" The data look wide (one column per session: {shown}). Suggestion: convert them to "
        f"long format first with ia.from_wide(data, patient=..., pattern=r'{pattern}')."
    )


_LAST_NUMBER = re.compile(r"^(.*?)(\d+)(\D*)$", re.DOTALL)


def check_columns(data: pd.DataFrame, columns: dict[str, str], *, caller: str) -> None:
    """Check that every column named by a keyword (``{keyword: column}``) is in ``data``.

    When the table looks wide (one column per session), the message points to
    :func:`iatrogenic.from_wide`.
    """
    available = [str(c) for c in data.columns]
    for keyword, column in columns.items():
        try:
            found = column in data.columns
        except TypeError:  # an unhashable name, e.g. a list
            raise ParameterTypeError(
                f"The {keyword!r} parameter of {caller}() must be a column name. Got {column!r} "
                f"of type {type(column).__name__} instead. Suggestion: pass "
                f"{keyword}='<your column name>'."
            ) from None
        if found:
            if not data.columns.is_unique and int((data.columns == column).sum()) > 1:
                positions = np.flatnonzero(data.columns == column).tolist()
                raise InvalidValueError(
                    f"Column {column!r} (given as {keyword}=) appears {len(positions)} times in "
                    f"the data passed to {caller}() (at column positions "
                    f"{_quote_list(positions)}), so which one to use is not known. Suggestion: "
                    "rename or drop the repeated columns, e.g. "
                    "data.loc[:, ~data.columns.duplicated()]."
                )
            continue
        close = difflib.get_close_matches(str(column), available, n=3, cutoff=0.5)
        hint = f" Did you mean {_quote_list(close)}?" if close else ""
        shown = _quote_list(available[:20]) + (", ..." if len(available) > 20 else "")
        wide = wide_hint(data.columns)
        suggestion = "" if wide else f" Suggestion: pass {keyword}='<your column name>'."
        if column in [name for name in data.index.names if name is not None]:
            suggestion = f" Suggestion: {column!r} is the index; pass data.reset_index() instead."
        if isinstance(data.columns, pd.MultiIndex):
            suggestion = (
                f" The columns are a MultiIndex ({data.columns.nlevels} levels). Suggestion: "
                "flatten them first, e.g. data.columns = ['_'.join(map(str, c)) for c in "
                "data.columns], or select one level with data.droplevel(0, axis=1)."
            )
        raise ColumnNotFoundError(
            f"Column {column!r} (given as {keyword}=) is not in the data passed to {caller}(). "
            f"Available columns: {shown}.{hint}{suggestion}{wide}"
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
        For each row, a key that orders occasions within a patient: numeric or datetime values,
        the categories' order, or the rank of text labels by their number or known word (see
        docs/input-data.md). It never depends on the order of the rows.
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


#: Words accepted as text occasions, with their rank in time (0 comes first). Labels are matched
#: after lower-casing and removing spaces, underscores, hyphens and dots ("Follow-up" is
#: "followup"). Words of one rank name the same occasion. Documented in docs/input-data.md.
OCCASION_WORDS: dict[str, int] = {
    # the start of treatment
    "pre": 0,
    "pretreatment": 0,
    "pretherapy": 0,
    "baseline": 0,
    "intake": 0,
    "start": 0,
    "first": 0,
    "before": 0,
    "admission": 0,
    # its middle
    "mid": 1,
    "midtreatment": 1,
    "midtherapy": 1,
    "midpoint": 1,
    "interim": 1,
    # its end
    "post": 2,
    "posttreatment": 2,
    "posttherapy": 2,
    "end": 2,
    "endoftreatment": 2,
    "endoftherapy": 2,
    "final": 2,
    "last": 2,
    "after": 2,
    "discharge": 2,
    # after the end
    "followup": 3,
    "fu": 3,
}

#: How many labels an error message about text occasions shows.
MAX_LABELS_SHOWN = 8

_SEPARATORS = re.compile(r"[\s_.\-]+")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
# A number, negative when its minus sign starts the label or follows a space ("week -1").
_LABEL_NUMBER = re.compile(r"(?:(?<!\S)-)?\d+(?:\.\d+)?")
_ORDINAL = re.compile(r"^(?:st|nd|rd|th)(?![a-z])")
_DATE_LIKE = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{1,2}[-\s/](jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[-\s/,]*\d{2,4}"
    r"|(19|20)\d{6}|\d{4}(19|20)\d{2})"  # 8 digits: yyyymmdd, ddmmyyyy, mmddyyyy
    r"([\sT]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?\s*$",
    re.IGNORECASE,
)
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d.%m.%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d-%m-%y",
    "%d.%m.%y",
    "%d %b %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %B %Y",
    "%Y%m%d",
    "%d%m%Y",
    "%m%d%Y",
)
_TIME_SUFFIXES = ("", " %H:%M", " %H:%M:%S", "T%H:%M:%S", "T%H:%M")


def _show_labels(labels: Sequence[Any]) -> str:
    """The first labels in sorted order: a message must not depend on the order of the rows."""
    labels = sorted(labels, key=str)
    shown = _quote_list(_plain(v) for v in labels[:MAX_LABELS_SHOWN])
    more = f", ... ({len(labels)} labels in all)" if len(labels) > MAX_LABELS_SHOWN else ""
    return shown + more


def _date_formats(labels: Sequence[str]) -> list[str]:
    """``pd.to_datetime`` keywords (``"format='%Y-%m-%d'"``) of the formats reading every label."""
    found = []
    text = pd.Series(labels, dtype=object).str.strip()
    for date_format in _DATE_FORMATS:
        for suffix in _TIME_SUFFIXES:
            full = date_format + suffix
            parsed = pd.to_datetime(text, format=full, errors="coerce")
            if parsed.notna().all():
                found.append(f"format={full!r}")
    if not found:  # ISO 8601 with time zones or fractions of a second
        try:
            iso = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        except (TypeError, ValueError):  # pragma: no cover - errors="coerce" should not raise
            return found
        if iso.notna().all():
            found.append("format='ISO8601', utc=True")
    return found


def _label_number(label: str) -> tuple[float, str] | None:
    """The one number in a label and the text around it (normalised), or None.

    ``"Week 4"`` gives ``(4.0, "week")``, ``"s12"`` ``(12.0, "s")``, ``"2nd session"``
    ``(2.0, "session")``, ``"-1"`` ``(-1.0, "")``; a label with no number or several gives None.
    """
    lowered = label.strip().lower()
    numbers = _LABEL_NUMBER.findall(lowered)
    if len(numbers) != 1:
        return None
    match = _LABEL_NUMBER.search(lowered)
    if match is None:  # pragma: no cover - findall found one
        return None
    rest = _ORDINAL.sub("", lowered[match.end() :])
    template = _SEPARATORS.sub("", lowered[: match.start()] + "#" + rest)
    return float(match.group()), template


def _text_occasion_error(
    frame: pd.DataFrame,
    *,
    labels: np.ndarray,
    uniques: Sequence[Any],
    culprits: Sequence[int],
    patient: str,
    column: str,
    caller: str,
    why: str,
) -> InvalidValueError:
    rows = describe_rows(frame, np.flatnonzero(np.isin(labels, culprits)), [patient, column])
    return InvalidValueError(
        f"Column {column!r} (given as time=) passed to {caller}() holds text occasions whose "
        f"order is not known: {why}. Labels: {_show_labels(list(uniques))}; rows: {rows}. "
        "iatrogenic never guesses the order of occasions: numbers and dates order themselves, "
        "text labels only when each holds one number counting the same unit ('1', 'week 4', "
        "'s12') or when all are known words (pre/mid/post, baseline/end/follow-up, "
        "intake/discharge, before/after, first/last; see docs/input-data.md). Suggestion: pass "
        "session numbers or dates, or give the order with an ordered categorical: "
        f"data[{column!r}] = pd.Categorical(data[{column!r}], categories=[...the labels in time "
        "order...], ordered=True)."
    )


def _label_ranks(
    frame: pd.DataFrame,
    labels: np.ndarray,
    uniques: Sequence[Any],
    *,
    patient: str,
    column: str,
    caller: str,
) -> np.ndarray:
    """Rank text labels by the rule of docs/input-data.md, or raise: the order is never guessed.

    ``labels`` are the codes of the rows into ``uniques`` (every unique a str); the result holds
    one float rank per unique. The loops run over the distinct labels, not the rows.
    """
    texts = [str(u) for u in uniques]
    in_order = sorted(range(len(texts)), key=texts.__getitem__)  # messages: never row order
    error: dict[str, Any] = {
        "frame": frame,
        "labels": labels,
        "uniques": uniques,
        "patient": patient,
        "column": column,
        "caller": caller,
    }
    dated = [k for k in in_order if _DATE_LIKE.match(texts[k])]
    if dated:
        formats = _date_formats([texts[k] for k in dated])
        where = f"data[{column!r}]"
        if len(formats) == 1:
            how = f"pd.to_datetime({where}, {formats[0]})"
        elif formats:
            how = " or ".join(f"pd.to_datetime({where}, {f})" for f in formats[:2])
            how += (
                " (the labels fit more than one format, e.g. day first or month first: "
                "check which your export uses)"
            )
        else:
            how = f"pd.to_datetime({where}, format='...') with the format of your export"
        rows = describe_rows(frame, np.flatnonzero(np.isin(labels, dated)), [patient, column])
        raise ColumnTypeError(
            f"Column {column!r} (given as time=) passed to {caller}() holds dates stored as text "
            f"({_show_labels([texts[k] for k in dated])}; {rows}). Text is not ordered as time, "
            f"so iatrogenic does not guess. Suggestion: convert the column first: {where} = "
            f"{how}."
        )

    as_numbers = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    if np.isfinite(as_numbers).all():
        return as_numbers
    numbered = [_label_number(text) for text in texts]
    words = [OCCASION_WORDS.get(_SEPARATORS.sub("", text.strip().lower())) for text in texts]
    has_number = [k for k in in_order if numbered[k] is not None]
    if len(has_number) == len(texts):
        templates = [n[1] for n in numbered if n is not None]
        if len(set(templates)) > 1:
            example: dict[str, str] = {}
            for k in in_order:
                example.setdefault(templates[k], texts[k])
            counts = {t: templates.count(t) for t in sorted(example)}
            main = max(counts, key=counts.__getitem__)
            raise _text_occasion_error(
                **error,
                culprits=[k for k in in_order if templates[k] != main],
                why="their numbers come with different texts ("
                + _quote_list(sorted(example.values())[:4])
                + "), which may count different things (weeks, months, sessions)",
            )
        return np.array([n[0] for n in numbered if n is not None], dtype=np.float64)
    if all(w is not None for w in words):
        return np.array(words, dtype=np.float64)
    unknown = [k for k in in_order if words[k] is None and numbered[k] is None]
    if unknown:
        why = f"{_quote_list(texts[k] for k in unknown[:4])} " + (
            "is neither a known word nor a label with one number"
            if len(unknown) == 1
            else "are neither known words nor labels with one number"
        )
        several = [k for k in unknown if len(_DIGITS.findall(texts[k])) > 1]
        if several:
            why += f" ({texts[several[0]]!r} holds several numbers)"
        raise _text_occasion_error(**error, culprits=unknown, why=why)
    word_labels = [k for k in in_order if words[k] is not None]
    raise _text_occasion_error(
        **error,
        culprits=word_labels,
        why="words (" + _quote_list(texts[k] for k in word_labels[:4]) + ") are mixed with "
        "numbered labels (" + _quote_list(texts[k] for k in has_number[:4]) + "), whose "
        "relative order is not known",
    )


def _datetime_key(values: Any) -> np.ndarray:
    """Datetimes (naive or timezone-aware, any unit) as float nanoseconds since 1970 (UTC)."""
    return pd.DatetimeIndex(values).as_unit("ns").asi8.astype(np.float64)


def _time_order(frame: pd.DataFrame, column: str, *, patient: str, caller: str) -> np.ndarray:
    """A float key ordering the occasions of ``frame[column]`` (rows in the caller's order).

    Numbers, dates and ordered categoricals order themselves; so do unordered categoricals whose
    categories are numbers or dates. Text labels are ordered only when their order is known (see
    :func:`_label_ranks` and docs/input-data.md); anything else is an error. The key never
    depends on the order of the rows.
    """
    values = frame[column]
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        if dtype.ordered:
            return codes.astype(np.float64)
        categories = dtype.categories
        if pd.api.types.is_datetime64_any_dtype(categories):
            return _datetime_key(categories)[codes]
        ranks = _unique_ranks(
            frame, codes, list(categories), patient=patient, column=column, caller=caller
        )
        return ranks[codes]
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _datetime_key(values)
    if pd.api.types.is_timedelta64_dtype(dtype):
        return pd.TimedeltaIndex(values).as_unit("ns").asi8.astype(np.float64)
    if isinstance(dtype, pd.PeriodDtype):
        return values.array.asi8.astype(np.float64)
    if pd.api.types.is_complex_dtype(dtype):
        raise ColumnTypeError(
            f"Column {column!r} (given as time=) passed to {caller}() holds complex numbers "
            f"(dtype {dtype}), which have no order in time; "
            f"{describe_rows(frame, np.arange(min(len(frame), MAX_ROWS_SHOWN)), [column])}. "
            "Suggestion: pass session numbers, days since intake or dates."
        )
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return _finite_time(frame, values.to_numpy(dtype=np.float64), column, caller)
    labels, uniques = pd.factorize(values, sort=False)
    ranks = _unique_ranks(
        frame, labels, list(uniques), patient=patient, column=column, caller=caller
    )
    return ranks[labels]


def _unique_ranks(
    frame: pd.DataFrame,
    labels: np.ndarray,
    uniques: list[Any],
    *,
    patient: str,
    column: str,
    caller: str,
) -> np.ndarray:
    """A float key for each distinct occasion value (object, string or category values).

    A loop over the distinct values, never over the rows: ``labels`` (the rows' codes into
    ``uniques``) only serves to show the offending rows.
    """
    kind = pd.api.types.infer_dtype(uniques, skipna=True)
    where = f"Column {column!r} (given as time=) passed to {caller}()"
    if kind in ("integer", "floating", "mixed-integer-float", "decimal", "boolean"):
        numbers = pd.to_numeric(pd.Series(uniques, dtype=object)).to_numpy(dtype=np.float64)
        _finite_time(frame, numbers[labels], column, caller)
        return numbers
    if kind in ("datetime", "datetime64", "date"):
        try:
            return _datetime_key(pd.to_datetime(pd.Series(uniques, dtype=object)))
        except (TypeError, ValueError) as error:
            raise ColumnTypeError(
                f"{where} holds dates that cannot be compared with each other ({error}). "
                f"Suggestion: convert the column with pd.to_datetime(data[{column!r}], utc=True)."
            ) from None
    if kind == "string":
        return _label_ranks(frame, labels, uniques, patient=patient, column=column, caller=caller)
    by_type: dict[str, list[int]] = {}
    for k, value in enumerate(uniques):
        by_type.setdefault(type(value).__name__, []).append(k)
    types = sorted(by_type)
    shown = np.sort([np.flatnonzero(np.isin(labels, by_type[name]))[0] for name in types])
    raise ColumnTypeError(
        f"{where} must hold numbers, dates or text labels of one kind, but holds values of types "
        f"{_quote_list(types)}; {describe_rows(frame, shown, [patient, column])}. Suggestion: "
        f"convert the column to one type, e.g. pd.to_numeric(data[{column!r}]) for session "
        f"numbers, or data[{column!r}].astype(str) for labels."
    )


def _finite_time(frame: pd.DataFrame, key: np.ndarray, column: str, caller: str) -> np.ndarray:
    infinite = np.flatnonzero(np.isinf(key))
    if len(infinite):
        raise InvalidValueError(
            f"Column {column!r} (given as time=) passed to {caller}() has infinite values; "
            f"{describe_rows(frame, infinite, [column])}. Suggestion: correct or drop these rows."
        )
    return key


def _scores_error(
    frame: pd.DataFrame,
    column: str,
    keyword: str,
    caller: str,
    what: str,
    rows: np.ndarray,
    suggestion: str,
) -> ColumnTypeError:
    return ColumnTypeError(
        f"Column {column!r} (given as {keyword}=) passed to {caller}() must hold numbers, but "
        f"{what}; {describe_rows(frame, rows, [column])}. Suggestion: {suggestion}"
    )


def _numeric_scores(frame: pd.DataFrame, column: str, keyword: str, caller: str) -> np.ndarray:
    """A score-like column as float64 (NaN for missing), or a clear error.

    Numbers (of any numeric dtype, or Python numbers in an object column, or a categorical of
    numbers) are accepted. Everything else is refused, including numbers stored as text
    (``"12"``), as :meth:`iatrogenic.Monitor.update` refuses them: convert with
    ``pd.to_numeric`` first. Booleans, dates, durations and complex numbers are refused.
    """
    values = frame[column]
    dtype = values.dtype
    first = np.arange(min(len(frame), MAX_ROWS_SHOWN))
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        if (
            pd.api.types.is_numeric_dtype(categories)
            and not pd.api.types.is_bool_dtype(categories)
            and not pd.api.types.is_complex_dtype(categories)
        ):
            codes = values.cat.codes.to_numpy()
            scores = np.append(categories.to_numpy(dtype=np.float64), np.nan)[codes]
            return _finite_scores(frame, scores, column, keyword, caller)
        values = values.astype(object)
        dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise _scores_error(
            frame,
            column,
            keyword,
            caller,
            f"it holds booleans (dtype {dtype})",
            first,
            "check that this is the score column; convert with .astype(int) if True/False "
            "really are scores of 1/0.",
        )
    if (
        pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
    ):
        raise _scores_error(
            frame,
            column,
            keyword,
            caller,
            f"it holds dates or durations (dtype {dtype})",
            first,
            f"check that {keyword}= names the score column and not a date column.",
        )
    if pd.api.types.is_complex_dtype(dtype):
        raise _scores_error(
            frame,
            column,
            keyword,
            caller,
            f"it holds complex numbers (dtype {dtype})",
            first,
            "pass real scores (np.real(...) if every imaginary part is 0).",
        )
    if pd.api.types.is_numeric_dtype(dtype):
        scores = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return _finite_scores(frame, scores, column, keyword, caller)
    labels, uniques = pd.factorize(values, sort=False)
    kind = pd.api.types.infer_dtype(uniques, skipna=True)
    if kind in ("integer", "floating", "mixed-integer-float", "decimal", "empty"):
        scores = pd.to_numeric(values).to_numpy(dtype=np.float64, na_value=np.nan)
        return _finite_scores(frame, scores, column, keyword, caller)
    # The error path: sort the distinct values into numbers stored as text and the rest.
    real = (int, float, np.integer, np.floating)
    numeric_text, other = [], []
    for k, value in enumerate(uniques):
        if isinstance(value, real) and not isinstance(value, (bool, np.bool_)):
            continue
        if (
            isinstance(value, str)
            and np.isfinite(
                pd.to_numeric(pd.Series([value], dtype=object), errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
            ).all()
        ):
            numeric_text.append(k)
        else:
            other.append(k)
    if other:
        shown = np.flatnonzero(np.isin(labels, other))
        extra = (
            f" ({int(np.isin(labels, numeric_text).sum())} more rows hold numbers stored as "
            "text, which are refused too)"
            if numeric_text
            else ""
        )
        raise _scores_error(
            frame,
            column,
            keyword,
            caller,
            f"some values are not numbers{extra}",
            shown,
            "clean these values or convert the column with "
            f"pd.to_numeric(data[{column!r}], errors='coerce') to treat them as missing.",
        )
    shown = np.flatnonzero(np.isin(labels, numeric_text))
    raise _scores_error(
        frame,
        column,
        keyword,
        caller,
        "it holds numbers stored as text",
        shown,
        f"convert the column first: data[{column!r}] = pd.to_numeric(data[{column!r}]). "
        "iatrogenic does not convert text to numbers silently (as Monitor.update does not).",
    )


def _finite_scores(
    frame: pd.DataFrame, scores: np.ndarray, column: str, keyword: str, caller: str
) -> np.ndarray:
    infinite = np.flatnonzero(np.isinf(scores))
    if len(infinite):
        raise InvalidValueError(
            f"Column {column!r} (given as {keyword}=) passed to {caller}() has infinite values; "
            f"{describe_rows(frame, infinite, [column])}. Suggestion: replace them with NaN "
            "(missing) or a valid score."
        )
    return scores


def _column_array(values: pd.Series) -> Any:
    """The column's values to carry into the long frame: a numpy array, or, for categorical
    columns, the Categorical itself (its codes are taken, not its values copied as objects)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.array
    return values.to_numpy()


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
    order = _time_order(frame, time, patient=patient, caller=caller)

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

    columns: dict[str, Any] = {
        "patient": _column_array(frame[patient]),
        "time": frame[time].to_numpy(),
    }
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
            columns[column] = _column_array(frame[column])

    sources = {"patient": patient, "time": time, "score": score}
    if permutation is not None:
        columns = {name: values[permutation] for name, values in columns.items()}
        for name, values in columns.items():
            caller_column = sources.get(name)
            original = frame[name if caller_column is None else caller_column]
            if values.dtype == object and original.dtype == object:
                # an object column stays one (pandas would infer text columns as str)
                columns[name] = pd.Series(values, dtype=object, copy=False)
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
