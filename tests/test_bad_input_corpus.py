"""A corpus of bad inputs for every public entry point (issue 10).

Each case feeds one bad input to one entry point and asserts four things:

- the exception is the library's (a subclass of :class:`iatrogenic.exceptions.IatrogenicError`
  and of ``ValueError`` or ``TypeError``), of the expected class;
- the message names the column, parameter or field at fault and, for row problems, shows the rows
  (their count and the first few);
- the message says what to do: a ``Suggestion:``, a "did you mean", or the values that are valid
  (``must be one of ...``, ``must be in the range ...``);
- the input was not mutated (compared with a deep copy taken before the call; a file's bytes for
  the command line, the saved state for a monitor).

Inputs that are odd but valid (missing scores, one patient, huge session numbers, mixed id types,
...) are in a second table: they must give every patient a row and leave the input unchanged.
Defects owned by files this corpus may not fix are strict xfails naming the file.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic.cli import main as cli_main
from iatrogenic.core.expected_response import load_reference_model

#: What counts as saying what to do.
SUGGESTION = re.compile(
    r"Suggestion:|Did you mean|must (?:be|hold|name|have|map|identify)\b|\bneeds\b|\b[Pp]ass |"
    r"\buse ",
)
#: How a message shows offending rows (``describe_rows``) or lines (the command line).
ROWS = re.compile(r"\d+ rows?, first: (?:index|line|row) ")


# ------------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------------


def long(**columns: Any) -> pd.DataFrame:
    """Three patients with four sessions each; keyword arguments replace or add columns."""
    frame = pd.DataFrame(
        {
            "patient": [1] * 4 + [2] * 4 + [3] * 4,
            "session": [1, 2, 3, 4] * 3,
            "score": [20, 18, 15, 10, 12, 14, 17, 22, 15, 15, 14, 13.0],
            "gad7": [10, 9, 8, 7, 8, 9, 10, 12, 9, 9, 8, 8.0],
        }
    )
    for name, values in columns.items():
        frame[name] = pd.Series(values, dtype=object) if isinstance(values, list) else values
    return frame


def with_value(column: str, position: int, value: Any) -> Callable[[], pd.DataFrame]:
    """The long data with one cell replaced (the column becomes object when needed)."""

    def make() -> pd.DataFrame:
        frame = long()
        values = frame[column].astype(object)
        values.iloc[position] = value
        frame[column] = values
        return frame

    return make


def build(**columns: Any) -> Callable[[], pd.DataFrame]:
    return lambda: long(**columns)


def repeated(column: str) -> Callable[[], pd.DataFrame]:
    return lambda: pd.concat([long(), long()[[column]]], axis=1)


def multiindex() -> pd.DataFrame:
    frame = long()
    frame.columns = pd.MultiIndex.from_tuples([("visit", c) for c in frame.columns])
    return frame


def rows_removed(make: Callable[[], pd.DataFrame], rows: Any) -> Callable[[], pd.DataFrame]:
    return lambda: make().drop(index=rows)


@cache
def reference_model() -> ia.ExpectedResponseModel:
    return load_reference_model()


@cache
def growth_model() -> ia.GrowthModel:
    return ia.fit_growth(long())


@cache
def screened() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    data, truth = ia.datasets.simulate(seed=1)
    data = data[data["patient"].isin(data["patient"].unique()[:40])]
    truth = truth[truth["patient"].isin(data["patient"])]
    return ia.screen(data, instrument="phq9", score="phq9"), truth, data


def wide() -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [1, 2], "phq9_s1": [20, 12], "phq9_s2": [15, 14], "phq9_s3": [10, 17]}
    )


def funnel_table(**columns: Any) -> pd.DataFrame:
    table = pd.DataFrame({"events": [1, 2, 3], "n": [20, 40, 50], "unit": ["a", "b", "c"]})
    for name, values in columns.items():
        table[name] = values
    return table


# ------------------------------------------------------------------------------------------------
# The checks
# ------------------------------------------------------------------------------------------------


def assert_unchanged(value: Any, before: Any) -> None:
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(value, before)
        assert value.attrs == before.attrs
    elif isinstance(value, pd.Series):
        pd.testing.assert_series_equal(value, before)
    elif isinstance(value, np.ndarray):
        np.testing.assert_array_equal(value, before)
    else:
        assert value == before


@dataclass
class Case:
    """One bad input: ``call(make())`` must raise ``error`` with a message matching ``names``."""

    id: str
    make: Callable[[], Any]
    call: Callable[[Any], Any]
    error: type[Exception]
    names: tuple[str, ...]
    rows: bool = False
    xfail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def check(case: Case) -> None:
    value = case.make()
    before = copy.deepcopy(value)
    with pytest.raises(exc.IatrogenicError) as info:
        case.call(value)
    error = info.value
    assert isinstance(error, case.error), f"{type(error).__name__}: {error}"
    assert isinstance(error, (ValueError, TypeError))
    message = str(error)
    for name in case.names:
        assert re.search(name, message), (name, message)
    if case.rows:
        assert ROWS.search(message), message
    assert SUGGESTION.search(message), message
    assert_unchanged(value, before)


def params(cases: list[Case]) -> list[Any]:
    out = []
    for case in cases:
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


# ------------------------------------------------------------------------------------------------
# 1. Bad long data x every DataFrame entry point
# ------------------------------------------------------------------------------------------------

#: Every function taking long data, called with valid keywords; the name its messages use.
ENTRY_POINTS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "reliable_change": (lambda d: ia.reliable_change(d, instrument="phq9"), "reliable_change"),
    "percentage_change": (lambda d: ia.percentage_change(d, improvement=0.5), "percentage_change"),
    "anchor_change": (lambda d: ia.anchor_change(d, improvement=5), "anchor_change"),
    "talking_therapies": (
        lambda d: ia.talking_therapies_outcomes(d, depression="score"),
        "talking_therapies_outcomes",
    ),
    "sudden_changes": (lambda d: ia.sudden_changes(d, cutoff=5), "sudden_changes"),
    "sudden_by_person": (
        lambda d: ia.sudden_changes_by_person(d, cutoff=5),
        "sudden_changes_by_person",
    ),
    "sudden_intervals": (
        lambda d: ia.sudden_change_intervals(d, cutoff=5),
        "sudden_change_intervals",
    ),
    "sudden_cases": (lambda d: ia.sudden_change_cases(d), "sudden_change_cases"),
    "describe_sudden": (lambda d: ia.describe_sudden_changes(d, cutoff=5), "sudden_changes"),
    "fit_growth": (lambda d: ia.fit_growth(d), "fit_growth"),
    "fit_expected": (
        lambda d: ia.fit_expected_response(d, instrument="phq9", method="neighbors", k=2),
        "fit_expected_response",
    ),
    "screen": (lambda d: ia.screen(d, instrument="phq9"), "screen"),
}

SCORE = r"Column 'score' \(given as score=\)"
SESSION = r"Column 'session' \(given as time=\)"
PATIENT = r"Column 'patient' \(given as patient=\)"

#: (id, input, error, patterns the message must match, rows shown)
BAD_DATA: list[tuple[str, Callable[[], Any], type[Exception], tuple[str, ...], bool]] = [
    ("score_inf", with_value("score", 3, np.inf), exc.InvalidValueError,
     (SCORE, "infinite", r"score=inf"), True),
    ("score_minus_inf", with_value("score", 5, -np.inf), exc.InvalidValueError,
     (SCORE, "infinite", r"score=-inf"), True),
    ("score_text", with_value("score", 2, "twelve"), exc.ColumnTypeError,
     (SCORE, "not numbers", "'twelve'"), True),
    ("score_numeric_text", build(score=[str(v) for v in long()["score"].astype(int)]),
     exc.ColumnTypeError, (SCORE, "numbers stored as text", "pd.to_numeric"), True),
    ("score_bool", build(score=np.array([True, False] * 6)), exc.ColumnTypeError,
     (SCORE, "booleans"), True),
    ("score_complex", build(score=long()["score"].to_numpy() + 1j), exc.ColumnTypeError,
     (SCORE, "complex"), True),
    ("score_datetime", build(score=pd.date_range("2024-01-01", periods=12)), exc.ColumnTypeError,
     (SCORE, "dates"), True),
    ("score_column_repeated", repeated("score"), exc.InvalidValueError,
     (r"Column 'score' \(given as score=\) appears 2 times", "duplicated"), False),
    ("session_column_repeated", repeated("session"), exc.InvalidValueError,
     (r"Column 'session' \(given as time=\) appears 2 times",), False),
    ("multiindex_columns", multiindex, exc.ColumnNotFoundError,
     (PATIENT, "MultiIndex", "flatten"), False),
    ("score_column_missing", lambda: long().drop(columns="score"), exc.ColumnNotFoundError,
     (SCORE, "Available columns"), False),
    ("session_nan", with_value("session", 2, np.nan), exc.InvalidValueError,
     (SESSION, "missing", r"session=nan"), True),
    ("session_inf", with_value("session", 2, np.inf), exc.InvalidValueError,
     (SESSION, "infinite"), True),
    ("session_mixed_types", build(session=[1, "2", 3, 4.0] * 3), exc.ColumnTypeError,
     (SESSION, "'int'", "'str'"), True),
    ("session_unordered_text", build(session=["a", "b", "c", "d"] * 3), exc.InvalidValueError,
     (SESSION, "order is not known", "pd.Categorical"), True),
    ("session_date_text", build(session=[f"2024-01-0{i}" for i in range(1, 5)] * 3),
     exc.ColumnTypeError, (SESSION, "dates stored as text", "pd.to_datetime"), True),
    ("session_complex", build(session=np.array([1, 2, 3, 4] * 3) + 0j), exc.ColumnTypeError,
     (SESSION, "complex"), True),
    ("session_repeated_row", with_value("session", 1, 1), exc.DuplicateRowsError,
     ("'patient' and 'session'", "more than once", "drop_duplicates"), True),
    ("ids_none", build(patient=[1] * 4 + [None] * 4 + [3] * 4), exc.InvalidValueError,
     (PATIENT, "missing", "patient=None"), True),
    ("ids_nan", build(patient=np.array([1.0] * 4 + [np.nan] * 4 + [3.0] * 4)),
     exc.InvalidValueError, (PATIENT, "missing", "patient=nan"), True),
    ("empty_frame", lambda: long().iloc[:0], exc.EmptyDataError, ("has no rows",), False),
    ("empty_no_columns", lambda: pd.DataFrame(), exc.EmptyDataError, ("has no rows",), False),
]

#: Not a DataFrame at all.
NOT_FRAMES: list[tuple[str, Callable[[], Any], str]] = [
    ("series", lambda: long()["score"], "Series"),
    ("ndarray", lambda: long().to_numpy(), "ndarray"),
    ("dict", lambda: long().to_dict("list"), "dict"),
    ("list_of_records", lambda: long().to_dict("records"), "list"),
    ("none", lambda: None, "NoneType"),
]


def _data_cases() -> list[Case]:
    cases = []
    for entry, (call, caller) in ENTRY_POINTS.items():
        for bad_id, make, error, names, rows in BAD_DATA:
            cases.append(
                Case(f"{entry}-{bad_id}", make, call, error, (*names, rf"{caller}\(\)"), rows)
            )
        for kind_id, make, type_name in NOT_FRAMES:
            cases.append(
                Case(
                    f"{entry}-not_a_frame-{kind_id}", make, call, exc.ParameterTypeError,
                    (r"'(?:data|reference|events_or_data)' parameter", "DataFrame",
                     f"Got {type_name}"),
                )
            )
    return cases


@pytest.mark.parametrize("case", params(_data_cases()))
def test_bad_long_data(case: Case) -> None:
    check(case)


def test_polars_frame_is_converted_or_refused_clearly() -> None:
    pl = pytest.importorskip("polars")
    frame = pl.from_pandas(long())
    before = frame.clone()
    try:
        result = ia.reliable_change(frame, instrument="phq9")
    except exc.ParameterTypeError as error:
        assert "DataFrame" in str(error) and SUGGESTION.search(str(error))
    else:
        assert result["patient"].tolist() == [1, 2, 3]
    assert frame.equals(before)


# ------------------------------------------------------------------------------------------------
# 2. Odd but valid data: every patient keeps a row, nothing is mutated
# ------------------------------------------------------------------------------------------------

PER_PATIENT: dict[str, Callable[[Any], pd.DataFrame]] = {
    "reliable_change": lambda d: ia.reliable_change(d, sd=5, reliability=0.8),
    "percentage_change": lambda d: ia.percentage_change(d, improvement=0.5),
    "anchor_change": lambda d: ia.anchor_change(d, improvement=5),
    "talking_therapies": lambda d: ia.talking_therapies_outcomes(d, depression="score"),
    "sudden_by_person": lambda d: ia.sudden_changes_by_person(d, cutoff=5),
    "sudden_cases": lambda d: ia.sudden_change_cases(d),
}

ODD_DATA: list[tuple[str, Callable[[], pd.DataFrame]]] = [
    ("score_nan", with_value("score", 3, np.nan)),
    ("score_all_nan", build(score=np.full(12, np.nan))),
    ("every_patient_one_score", lambda: long().iloc[[0, 4, 8]]),
    ("one_patient", lambda: long().iloc[:4]),
    ("session_float", build(session=np.array([1, 2, 3, 4] * 3) + 0.5)),
    ("session_negative", build(session=np.array([1, 2, 3, 4] * 3) - 3)),
    ("session_huge", build(session=np.array([1, 2, 3, 4] * 3) * 10**15)),
    ("session_huge_python_int", build(session=[s * 2**70 for s in [1, 2, 3, 4] * 3])),
    ("session_tz_aware", build(session=pd.date_range("2024-03-28", periods=12, freq="D",
                                                     tz="Europe/London"))),
    ("ids_int_and_str", build(patient=[1] * 4 + ["1"] * 4 + ["C-3"] * 4)),
    ("ids_huge_int", build(patient=[2**70] * 4 + [2**71] * 4 + [3] * 4)),
    ("index_repeated", lambda: long().set_axis([0] * 12, axis=0)),
]


def id_set(values: Any) -> set[tuple[str, str]]:
    """Patient ids by type and text: 1 and "1" stay apart, np.int64(1) and 1 do not."""
    plain = (v.item() if isinstance(v, np.generic) else v for v in values)
    return {(type(v).__name__, str(v)) for v in plain}


@pytest.mark.parametrize("entry", list(PER_PATIENT))
@pytest.mark.parametrize(("odd_id", "make"), ODD_DATA, ids=[o[0] for o in ODD_DATA])
def test_odd_data_keeps_every_patient(odd_id: str, make: Callable[[], pd.DataFrame],
                                      entry: str) -> None:
    data = make()
    before = copy.deepcopy(data)
    result = PER_PATIENT[entry](data)
    assert_unchanged(data, before)
    patients = list(pd.unique(data["patient"]))
    assert len(result) == len(patients)
    assert id_set(result["patient"]) == id_set(patients)
    if "reason" in result.columns and "category" in result.columns:
        # a patient without a category says why
        assert result.loc[result["category"].isna(), "reason"].notna().all()


def test_every_patient_one_score_reports_why_in_attrs() -> None:
    result = ia.reliable_change(long().iloc[[0, 4, 8]], instrument="phq9")
    assert result["reason"].tolist() == ["only one observed score"] * 3
    assert result["category"].isna().all() and result["rci"].isna().all()
    assert result.attrs["n_used"] == 0 and "both" in result.attrs["not_evaluated"]
    # the summary of such a result has no evaluable patient rather than failing
    assert ia.change_summary(result)["n"].sum() == 0


def test_ids_int_and_str_are_not_merged() -> None:
    data = long(patient=[1] * 4 + ["1"] * 4 + ["C-3"] * 4)
    result = ia.reliable_change(data, sd=5, reliability=0.8)
    assert len(result) == 3
    assert id_set(result["patient"]) == {("int", "1"), ("str", "1"), ("str", "C-3")}


# ------------------------------------------------------------------------------------------------
# 3. Bad keyword values
# ------------------------------------------------------------------------------------------------


def kw(entry: str, error: type[Exception], name: str, call: Callable[[pd.DataFrame], Any],
       *, named: str | None = None, xfail: str | None = None) -> Case:
    """A bad keyword ``name`` ("keyword=what"); the message must name the keyword (or ``named``)."""
    return Case(f"{entry}-{name}", long, call, error, (named or re.escape(name.split("=")[0]),),
                xfail=xfail)


RC = ia.reliable_change
KEYWORD_CASES: list[Case] = [
    kw("reliable_change", exc.ParameterError, "method=unknown",
       lambda d: RC(d, instrument="phq9", method="XX")),
    kw("reliable_change", exc.ParameterError, "method=int", lambda d: RC(d, instrument="phq9",
                                                                         method=3)),
    kw("reliable_change", exc.ParameterError, "reliability=1.5",
       lambda d: RC(d, sd=5, reliability=1.5)),
    kw("reliable_change", exc.ParameterTypeError, "reliability=text",
       lambda d: RC(d, sd=5, reliability="0.8")),
    kw("reliable_change", exc.ParameterError, "sd=negative", lambda d: RC(d, reliability=0.8,
                                                                          sd=-1)),
    kw("reliable_change", exc.ParameterError, "sd=nan", lambda d: RC(d, reliability=0.8,
                                                                     sd=np.nan)),
    kw("reliable_change", exc.ParameterError, "alpha=0", lambda d: RC(d, instrument="phq9",
                                                                      alpha=0)),
    kw("reliable_change", exc.ParameterTypeError, "alpha=True",
       lambda d: RC(d, instrument="phq9", alpha=True)),
    kw("reliable_change", exc.UnknownNameError, "instrument=phq99",
       lambda d: RC(d, instrument="phq99")),
    kw("reliable_change", exc.ParameterTypeError, "instrument=int",
       lambda d: RC(d, instrument=9)),
    kw("reliable_change", exc.ParameterError, "better=down",
       lambda d: RC(d, instrument="phq9", better="down")),
    kw("reliable_change", exc.ParameterError, "cutoff=text",
       lambda d: RC(d, instrument="phq9", cutoff="ten")),
    kw("reliable_change", exc.ParameterError, "cutoff_type=d",
       lambda d: RC(d, instrument="phq9", cutoff_type="d")),
    kw("reliable_change", exc.ParameterTypeError, "clinical=triple",
       lambda d: RC(d, instrument="phq9", cutoff_type="a", clinical=(1, 2, 3))),
    kw("reliable_change", exc.ParameterError, "pre=absent",
       lambda d: RC(d, instrument="phq9", pre=99)),
    kw("reliable_change", exc.ParameterError, "pre=after_post",
       lambda d: RC(d, instrument="phq9", pre=4, post=1)),
    kw("reliable_change", exc.ParameterError, "pre=same_as_post",
       lambda d: RC(d, instrument="phq9", pre=2, post=2)),
    kw("reliable_change", exc.ColumnNotFoundError, "patient=int",
       lambda d: RC(d, instrument="phq9", patient=1)),
    kw("reliable_change", exc.ParameterTypeError, "score=list",
       lambda d: RC(d, instrument="phq9", score=["score"])),
    kw("reliable_change", exc.ParameterError, "rule=x", lambda d: RC(d, instrument="phq9",
                                                                     rule="x")),
    kw("reliable_change", exc.ParameterError, "boundary=x",
       lambda d: RC(d, instrument="phq9", boundary="x")),
    kw("reliable_change", exc.ColumnNotFoundError, "group=absent",
       lambda d: RC(d, instrument="phq9", group="arm")),
    kw("reliable_change", exc.InvalidValueError, "group=varies",
       lambda d: RC(d, instrument="phq9", group="gad7")),
    kw("reliable_change", exc.ParameterError, "fixed_points=-1",
       lambda d: RC(d, instrument="phq9", rule="fixed", fixed_points=-1)),
    kw("reliable_change", exc.ParameterError, "cutoff_sd=x",
       lambda d: RC(d, instrument="phq9", cutoff_sd="x")),
    kw("reliable_change", exc.ParameterError, "method=HLM_with_pre",
       lambda d: RC(d, instrument="phq9", method="HLM", pre=1)),
    kw("percentage_change", exc.ParameterTypeError, "improvement=text",
       lambda d: ia.percentage_change(d, improvement="half")),
    kw("percentage_change", exc.ParameterError, "improvement=50",
       lambda d: ia.percentage_change(d, improvement=50)),
    kw("percentage_change", exc.ParameterError, "improvement=nan",
       lambda d: ia.percentage_change(d, improvement=np.nan)),
    kw("percentage_change", exc.ParameterError, "deterioration=0",
       lambda d: ia.percentage_change(d, improvement=0.5, deterioration=0)),
    kw("percentage_change", exc.ParameterError, "better=x",
       lambda d: ia.percentage_change(d, improvement=0.5, better="x")),
    kw("anchor_change", exc.ParameterError, "improvement=inf",
       lambda d: ia.anchor_change(d, improvement=np.inf)),
    kw("anchor_change", exc.ParameterTypeError, "improvement=None",
       lambda d: ia.anchor_change(d, improvement=None)),
    kw("anchor_change", exc.ColumnNotFoundError, "group=absent",
       lambda d: ia.anchor_change(d, improvement=5, group="g")),
    kw("talking_therapies", exc.ParameterError, "min_sessions=0",
       lambda d: ia.talking_therapies_outcomes(d, depression="score", min_sessions=0)),
    kw("talking_therapies", exc.ParameterTypeError, "min_sessions=2.5",
       lambda d: ia.talking_therapies_outcomes(d, depression="score", min_sessions=2.5)),
    kw("talking_therapies", exc.UnknownNameError, "anxiety_instrument=gadd7",
       lambda d: ia.talking_therapies_outcomes(d, depression="score",
                                               anxiety_instrument="gadd7"),
       named="'gadd7'"),
    kw("talking_therapies", exc.ParameterError, "depression_points=-3",
       lambda d: ia.talking_therapies_outcomes(d, depression="score", depression_points=-3)),
    kw("talking_therapies", exc.ColumnNotFoundError, "anxiety=absent",
       lambda d: ia.talking_therapies_outcomes(d.drop(columns="gad7"), depression="score")),
    kw("sudden_changes", exc.ParameterError, "kind=gains",
       lambda d: ia.sudden_changes(d, cutoff=5, kind="gains")),
    kw("sudden_changes", exc.ParameterError, "cutoff=-5", lambda d: ia.sudden_changes(d,
                                                                                    cutoff=-5)),
    kw("sudden_changes", exc.ParameterTypeError, "cutoff=text",
       lambda d: ia.sudden_changes(d, cutoff="5")),
    kw("sudden_changes", exc.ParameterError, "cutoff=none", lambda d: ia.sudden_changes(d)),
    kw("sudden_changes", exc.ParameterError, "alpha=1",
       lambda d: ia.sudden_changes(d, cutoff=5, alpha=1)),
    kw("sudden_changes", exc.ParameterTypeError, "adjust=yes",
       lambda d: ia.sudden_changes(d, cutoff=5, adjust="yes")),
    kw("sudden_changes", exc.ParameterError, "select=firsts",
       lambda d: ia.sudden_changes(d, cutoff=5, select="firsts")),
    kw("sudden_changes", exc.ParameterError, "critical_value=-1",
       lambda d: ia.sudden_changes(d, cutoff=5, critical_value=-1)),
    kw("sudden_by_person", exc.ParameterError, "select=x",
       lambda d: ia.sudden_changes_by_person(d, cutoff=5, select="x")),
    kw("sudden_intervals", exc.ParameterError, "kind=x",
       lambda d: ia.sudden_change_intervals(d, cutoff=5, kind="x")),
    kw("sudden_cases", exc.ParameterError, "method=x",
       lambda d: ia.sudden_change_cases(d, method="x")),
    kw("sudden_cases", exc.ParameterError, "min_sessions=-1",
       lambda d: ia.sudden_change_cases(d, method="min_sessions", min_sessions=-1)),
    kw("sudden_cases", exc.ParameterTypeError, "min_sessions=text",
       lambda d: ia.sudden_change_cases(d, method="min_sessions", min_sessions="3")),
    kw("sudden_cases", exc.ParameterError, "min_sessions=None",
       lambda d: ia.sudden_change_cases(d, method="min_sessions")),
    kw("describe_sudden", exc.ParameterError, "digits=-1",
       lambda d: ia.describe_sudden_changes(d, cutoff=5, digits=-1)),
    kw("describe_sudden", exc.ParameterTypeError, "digits=text",
       lambda d: ia.describe_sudden_changes(d, cutoff=5, digits="2")),
    kw("describe_sudden", exc.ParameterTypeError, "cutof=typo",
       lambda d: ia.describe_sudden_changes(d, cutof=5)),
    kw("describe_sudden", exc.ParameterError, "select=x",
       lambda d: ia.describe_sudden_changes(d, cutoff=5, select="x")),
    kw("describe_sudden", exc.ParameterError, "kind=with_events_table",
       lambda d: ia.describe_sudden_changes(ia.sudden_changes(d, cutoff=5), kind="loss")),
    kw("describe_sudden", exc.ParameterTypeError, "events_or_data=list",
       lambda d: ia.describe_sudden_changes(d.to_dict("records"))),
    kw("fit_growth", exc.ParameterError, "time_transform=cubic",
       lambda d: ia.fit_growth(d, time_transform="cubic")),
    kw("fit_growth", exc.ParameterError, "random=x", lambda d: ia.fit_growth(d, random="x")),
    kw("fit_growth", exc.ParameterError, "method=OLS", lambda d: ia.fit_growth(d, method="OLS")),
    kw("fit_growth", exc.ParameterError, "maxiter=0", lambda d: ia.fit_growth(d, maxiter=0)),
    kw("fit_growth", exc.ColumnNotFoundError, "covariates=absent",
       lambda d: ia.fit_growth(d, covariates=["age"]), named=r"given as covariates"),
    kw("fit_growth", exc.ParameterTypeError, "covariates=int",
       lambda d: ia.fit_growth(d, covariates=3)),
    kw("fit_growth", exc.ColumnNotFoundError, "cluster=absent",
       lambda d: ia.fit_growth(d, cluster="th")),
    kw("fit_growth", exc.ParameterTypeError, "knot=text",
       lambda d: ia.fit_growth(d, time_transform="piecewise", knot="2")),
    kw("fit_growth", exc.ParameterError, "start=short", lambda d: ia.fit_growth(d, start=[1, 2])),
    kw("fit_growth", exc.InvalidValueError, "time_transform=log",
       lambda d: ia.fit_growth(d.assign(session=d["session"] - 1), time_transform="log")),
    kw("fit_growth", exc.ColumnTypeError, "time=tz_dates",
       lambda d: ia.fit_growth(d.assign(session=pd.date_range("2024", periods=12, tz="UTC")))),
    kw("fit_growth", exc.InvalidValueError, "patient=one_patient",
       lambda d: ia.fit_growth(d.iloc[:4])),
    kw("fit_expected", exc.ParameterError, "method=knn",
       lambda d: ia.fit_expected_response(d, method="knn")),
    kw("fit_expected", exc.ParameterError, "k=0",
       lambda d: ia.fit_expected_response(d, method="neighbors", k=0)),
    kw("fit_expected", exc.ParameterTypeError, "k=text",
       lambda d: ia.fit_expected_response(d, method="neighbors", k="5")),
    kw("fit_expected", exc.ParameterError, "weights=x",
       lambda d: ia.fit_expected_response(d, method="neighbors", weights="x")),
    kw("fit_expected", exc.ParameterError, "distance=x",
       lambda d: ia.fit_expected_response(d, method="neighbors", distance="x")),
    kw("fit_expected", exc.UnknownNameError, "instrument=x",
       lambda d: ia.fit_expected_response(d, instrument="x")),
    kw("screen", exc.UnknownNameError, "detectors=off_trak",
       lambda d: ia.screen(d, instrument="phq9", detectors=["off_trak"]),
       named="detector 'off_trak'"),
    kw("screen", exc.ParameterTypeError, "detectors=int",
       lambda d: ia.screen(d, instrument="phq9", detectors=3)),
    kw("screen", exc.ColumnNotFoundError, "risk_item=absent",
       lambda d: ia.screen(d, instrument="phq9", risk_item="q9")),
    kw("screen", exc.ParameterTypeError, "items=str",
       lambda d: ia.screen(d, instrument="phq9", items="q1")),
    kw("screen", exc.ParameterTypeError, "secondary=list",
       lambda d: ia.screen(d, instrument="phq9", secondary=["gad7"])),
    kw("screen", exc.UnknownNameError, "secondary=unknown_instrument",
       lambda d: ia.screen(d, instrument="phq9", secondary={"gad7": "gadx"}),
       named="'gadx'"),
    kw("screen", exc.ParameterTypeError, "summary=text",
       lambda d: ia.screen(d, instrument="phq9", summary="yes")),
    kw("screen", exc.ParameterTypeError, "medications=list",
       lambda d: ia.screen(d, instrument="phq9", medications=[1, 2])),
    kw("screen", exc.ParameterError, "better=x",
       lambda d: ia.screen(d, instrument="phq9", better="x")),
    kw("screen", exc.InvalidValueError, "attendance=codes",
       lambda d: ia.screen(d.assign(att="yes"), instrument="phq9", attendance="att")),
    kw("screen", exc.ColumnTypeError, "alliance=text",
       lambda d: ia.screen(d.assign(srs="high"), instrument="phq9", alliance="srs")),
    kw("screen", exc.ColumnTypeError, "age=text",
       lambda d: ia.screen(d.assign(age="old"), instrument="phq9", age="age")),
    kw("screen", exc.InvalidValueError, "phq9_item9=inf",
       lambda d: ia.screen(d.assign(phq9_item9=np.inf), instrument="phq9")),
    kw("screen", exc.ColumnTypeError, "phq9_item9=text",
       lambda d: ia.screen(d.assign(phq9_item9="3"), instrument="phq9")),
    kw("screen", exc.OutOfRangeError, "phq9_item9=9",
       lambda d: ia.screen(d.assign(phq9_item9=9), instrument="phq9")),
    kw("screen", exc.OutOfRangeError, "score=out_of_range",
       lambda d: ia.screen(d.assign(score=d["score"] + 20), instrument="phq9")),
    kw("reliable_change", exc.OutOfRangeError, "score=negative",
       lambda d: RC(d.assign(score=d["score"] - 30), instrument="phq9")),
]


@pytest.mark.parametrize("case", params(KEYWORD_CASES))
def test_bad_keyword(case: Case) -> None:
    check(case)


# ------------------------------------------------------------------------------------------------
# 4. Tables of results: change_summary, evaluate, from_wide, funnel
# ------------------------------------------------------------------------------------------------


def rc_result() -> pd.DataFrame:
    return ia.reliable_change(long(), instrument="phq9")


def events_of(edit: Callable[[pd.DataFrame], pd.DataFrame] = lambda e: e) -> Callable[[], Any]:
    return lambda: edit(screened()[0].copy())


def truth_of(edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[], Any]:
    return lambda: edit(screened()[1].copy())


def evaluate_events(events: Any, **options: Any) -> Any:
    _, truth, data = screened()
    return ia.evaluate(events, truth, data=data, **options)


def evaluate_truth(truth: Any, **options: Any) -> Any:
    events, _, data = screened()
    return ia.evaluate(events, truth, data=data, **options)


PATTERN = r"phq9_s(\d+)"
TABLE_CASES: list[Case] = [
    # change_summary
    Case("change_summary-not_a_frame", lambda: [1], ia.change_summary, exc.ParameterTypeError,
         ("'result'", "ia.reliable_change")),
    Case("change_summary-raw_data", long, ia.change_summary, exc.ParameterTypeError,
         ("'result'", "'category'")),
    Case("change_summary-confidence=2", rc_result, lambda r: ia.change_summary(r, confidence=2),
         exc.ParameterError, ("'confidence'",)),
    Case("change_summary-digits=-1", rc_result, lambda r: ia.change_summary(r, digits=-1),
         exc.ParameterError, ("'digits'",)),
    Case("change_summary-by=absent", rc_result, lambda r: ia.change_summary(r, by="arm"),
         exc.ColumnNotFoundError, ("'arm'", "by=")),
    Case("change_summary-category_repeated",
         lambda: pd.concat([rc_result(), rc_result()[["category"]]], axis=1),
         ia.change_summary, exc.InvalidValueError, ("'category'", "repeated")),
    Case("change_summary-unknown_category", lambda: rc_result().assign(category="great"),
         ia.change_summary, exc.InvalidValueError, ("'category'", "'great'"), rows=True),
    # evaluate
    Case("evaluate-events=list", lambda: [1], evaluate_events, exc.ParameterTypeError,
         ("'events'", "list")),
    Case("evaluate-truth=None", lambda: None, evaluate_truth, exc.ParameterTypeError,
         ("'truth'", "NoneType")),
    Case("evaluate-truth_columns_missing", lambda: pd.DataFrame({"x": [1]}), evaluate_truth,
         exc.ColumnNotFoundError, ("'truth'", "'onset'")),
    Case("evaluate-events_columns_missing", lambda: pd.DataFrame({"x": [1]}), evaluate_events,
         exc.ColumnNotFoundError, ("'events'", "'detector'")),
    Case("evaluate-events_patient_repeated",
         events_of(lambda e: pd.concat([e, e[["patient"]]], axis=1)), evaluate_events,
         exc.InvalidValueError, ("'events'", "'patient'", "repeated")),
    Case("evaluate-truth_harm_repeated",
         truth_of(lambda t: pd.concat([t, t[["harm"]]], axis=1)), evaluate_truth,
         exc.InvalidValueError, ("'truth'", "'harm'", "repeated")),
    Case("evaluate-events_level_unknown", events_of(lambda e: e.assign(level="red")),
         evaluate_events, exc.InvalidValueError, (r"events\['level'\]", "'red'"), rows=True),
    Case("evaluate-events_session_text", events_of(lambda e: e.assign(session="x")),
         evaluate_events, exc.InvalidValueError, (r"events\['session'\]", "'x'")),
    Case("evaluate-truth_onset_text", truth_of(lambda t: t.assign(onset="x")), evaluate_truth,
         exc.InvalidValueError, (r"truth\['onset'\]", "'x'")),
    Case("evaluate-truth_unknown_patient", truth_of(lambda t: t.assign(patient=-5)),
         evaluate_truth, exc.InvalidValueError, ("'truth'", "-5")),
    Case("evaluate-levels=red", events_of(), lambda e: evaluate_events(e, levels="red"),
         exc.ParameterError, ("'levels'",)),
    Case("evaluate-levels=int", events_of(), lambda e: evaluate_events(e, levels=3),
         exc.ParameterTypeError, ("'levels'",)),
    Case("evaluate-confidence=5", events_of(), lambda e: evaluate_events(e, confidence=5),
         exc.ParameterError, ("'confidence'",)),
    Case("evaluate-targets_key_typo", events_of(),
         lambda e: evaluate_events(e, targets={"off_trak": "deterioration"}),
         exc.UnknownNameError, ("'targets'", "'off_trak'", "'off_track'")),
    Case("evaluate-targets=list", events_of(), lambda e: evaluate_events(e, targets=["x"]),
         exc.ParameterTypeError, ("'targets'",)),
    Case("evaluate-no_population", events_of(),
         lambda e: ia.evaluate(e, screened()[1]), exc.ParameterError, ("data=", "patients=")),
    Case("evaluate-patients=str", events_of(),
         lambda e: ia.evaluate(e, screened()[1], patients="abc"), exc.ParameterTypeError,
         ("'patients'",)),
    # from_wide
    Case("from_wide-series", lambda: wide()["id"],
         lambda w: ia.from_wide(w, patient="id", pattern=PATTERN), exc.ParameterTypeError,
         ("'data'", "Series")),
    Case("from_wide-empty", lambda: wide().iloc[:0],
         lambda w: ia.from_wide(w, patient="id", pattern=PATTERN), exc.EmptyDataError,
         ("'data'", "no rows")),
    Case("from_wide-neither", wide, lambda w: ia.from_wide(w, patient="id"),
         exc.ParameterError, ("columns=", "pattern=", "neither")),
    Case("from_wide-both", wide,
         lambda w: ia.from_wide(w, patient="id", columns=["phq9_s1"], pattern=PATTERN),
         exc.ParameterError, ("columns=", "pattern=", "both")),
    Case("from_wide-pattern_no_group", wide,
         lambda w: ia.from_wide(w, patient="id", pattern=r"phq9_s\d+"), exc.ParameterError,
         ("'pattern'", "group")),
    Case("from_wide-pattern_invalid", wide,
         lambda w: ia.from_wide(w, patient="id", pattern=r"phq9_s(\d+"), exc.ParameterError,
         ("'pattern'", "missing \\)")),
    Case("from_wide-pattern_no_match", wide,
         lambda w: ia.from_wide(w, patient="id", pattern=r"gad_s(\d+)"),
         exc.ColumnNotFoundError, ("'pattern'", "Available columns")),
    Case("from_wide-patient_absent", wide,
         lambda w: ia.from_wide(w, patient="client", pattern=PATTERN), exc.ColumnNotFoundError,
         (r"'client' \(given as patient=\)",)),
    Case("from_wide-columns=str", wide, lambda w: ia.from_wide(w, patient="id",
                                                               columns="phq9_s1"),
         exc.ParameterTypeError, ("'columns'", "pattern=")),
    Case("from_wide-columns_absent", wide,
         lambda w: ia.from_wide(w, patient="id", columns=["phq9_s9"]), exc.ColumnNotFoundError,
         ("'phq9_s9'",)),
    Case("from_wide-ids_repeated", lambda: pd.concat([wide(), wide()], ignore_index=True),
         lambda w: ia.from_wide(w, patient="id", pattern=PATTERN), exc.DuplicateRowsError,
         (r"'id' \(given as patient=\)",), rows=True),
    Case("from_wide-id_none", lambda: wide().astype({"id": object}).assign(id=[None, 2]),
         lambda w: ia.from_wide(w, patient="id", pattern=PATTERN), exc.InvalidValueError,
         (r"'id' \(given as patient=\)", "missing"), rows=True),
    Case("from_wide-columns_repeated",
         lambda: pd.concat([wide(), wide()[["phq9_s1"]]], axis=1),
         lambda w: ia.from_wide(w, patient="id", pattern=PATTERN), exc.InvalidValueError,
         ("'phq9_s1'", "repeated")),
    Case("from_wide-score_name_clash", wide,
         lambda w: ia.from_wide(w, patient="id", pattern=PATTERN, score="id"),
         exc.ParameterError, ("'id'",)),
    Case("from_wide-multiindex",
         lambda: wide().set_axis(pd.MultiIndex.from_tuples([("a", c) for c in wide().columns]),
                                 axis=1),
         lambda w: ia.from_wide(w, patient="id", pattern=PATTERN), exc.ColumnNotFoundError,
         (r"'id' \(given as patient=\)", "MultiIndex")),
    # funnel
    Case("funnel-list", lambda: [1],
         lambda t: ia.funnel(t, numerator="events", denominator="n", group="unit"),
         exc.ParameterTypeError, ("'table'",)),
    Case("funnel-group_absent", lambda: funnel_table().drop(columns="unit"),
         lambda t: ia.funnel(t, numerator="events", denominator="n", group="unit"),
         exc.ColumnNotFoundError, (r"'unit' \(given as group=\)",)),
    Case("funnel-negative", lambda: funnel_table(events=[-1, 2, 3]),
         lambda t: ia.funnel(t, numerator="events", denominator="n", group="unit"),
         exc.InvalidValueError, (r"'events' \(given as numerator=\)",), rows=True),
    Case("funnel-inf", lambda: funnel_table(n=[20, np.inf, 50]),
         lambda t: ia.funnel(t, numerator="events", denominator="n", group="unit"),
         exc.InvalidValueError, (r"'n' \(given as denominator=\)", "infinite"), rows=True),
    Case("funnel-numerator_above_denominator", lambda: funnel_table(events=[30, 2, 3]),
         lambda t: ia.funnel(t, numerator="events", denominator="n", group="unit"),
         exc.InvalidValueError, (r"'events' \(given as numerator=\)",), rows=True),
    Case("funnel-limit=50", funnel_table,
         lambda t: ia.funnel(t, numerator="events", denominator="n", group="unit", limit=50),
         exc.ParameterError, ("'limit'",)),
    Case("funnel-data_type=XX", funnel_table,
         lambda t: ia.funnel(t, numerator="events", denominator="n", group="unit",
                             data_type="XX"),
         exc.ParameterError, ("'data_type'",)),
    Case("funnel-empty", lambda: funnel_table().iloc[:0],
         lambda t: ia.funnel(t, numerator="events", denominator="n", group="unit"),
         exc.EmptyDataError, ("no rows",)),
    Case("funnel-numeric_text", lambda: funnel_table(events=["1", "2", "3"]),
         lambda t: ia.funnel(t, numerator="events", denominator="n", group="unit"),
         exc.ColumnTypeError, (r"'events' \(given as numerator=\)",)),
]


@pytest.mark.parametrize("case", params(TABLE_CASES))
def test_bad_table(case: Case) -> None:
    check(case)


# ------------------------------------------------------------------------------------------------
# 5. Fitted models: ExpectedResponseModel.track, GrowthModel.predict
# ------------------------------------------------------------------------------------------------


def track(data: Any, **options: Any) -> Any:
    return reference_model().track(data, score="score", **options)


def predict(data: Any, **options: Any) -> Any:
    return growth_model().predict(data, **options)


MODEL_CASES: list[Case] = [
    Case("track-series", lambda: long()["score"], track, exc.ParameterTypeError,
         ("'data'", "Series", r"track\(\)")),
    Case("track-empty", lambda: long().iloc[:0], track, exc.EmptyDataError, ("no rows",)),
    Case("track-score_numeric_text", build(score=[str(int(v)) for v in long()["score"]]),
         track, exc.ColumnTypeError, (SCORE, "stored as text"), rows=True),
    Case("track-score_inf", with_value("score", 1, np.inf), track, exc.InvalidValueError,
         (SCORE, "infinite"), rows=True),
    Case("track-score_out_of_range", with_value("score", 1, 40.0), track, exc.OutOfRangeError,
         (SCORE, "outside"), rows=True),
    Case("track-score_repeated", repeated("score"), track, exc.InvalidValueError,
         (SCORE, "appears 2 times")),
    Case("track-session_absent", lambda: long().drop(columns="session"), track,
         exc.ColumnNotFoundError, (SESSION,)),
    Case("track-session_text", build(session=["a", "b", "c", "d"] * 3), track,
         exc.InvalidValueError, (SESSION, "order is not known"), rows=True),
    Case("track-level=1.5", long, lambda d: track(d, level=1.5), exc.ParameterError,
         ("'level'",)),
    Case("track-warning_level_above_level", long,
         lambda d: track(d, level=0.5, warning_level=0.8), exc.ParameterError,
         ("'warning_level'",)),
    Case("track-deterioration=x", long, lambda d: track(d, deterioration="x"),
         exc.ParameterError, ("'deterioration'",)),
    Case("track-functional=text", long, lambda d: track(d, functional="yes"),
         exc.ParameterTypeError, ("'functional'",)),
    Case("predict-series", lambda: long()["session"], predict, exc.ParameterTypeError,
         ("'data'", "Series", r"predict\(\)")),
    Case("predict-empty", lambda: long().iloc[:0], predict, exc.EmptyDataError, ("no rows",)),
    Case("predict-session_absent", lambda: long().drop(columns="session"), predict,
         exc.ColumnNotFoundError, (SESSION,)),
    Case("predict-session_repeated", repeated("session"), predict, exc.InvalidValueError,
         (SESSION, "appears 2 times")),
    Case("predict-session_text", build(session=["a"] * 12), predict, exc.InvalidValueError,
         (SESSION,), rows=True),
    Case("predict-session_inf", with_value("session", 0, np.inf), predict,
         exc.InvalidValueError, (SESSION, "infinite"), rows=True),
    Case("predict-level=x", long, lambda d: predict(d, level="x"), exc.ParameterError,
         ("'level'",)),
    Case("predict-interval=2", long, lambda d: predict(d, interval=2), exc.ParameterError,
         ("'interval'",)),
]


@pytest.mark.parametrize("case", params(MODEL_CASES))
def test_bad_model_input(case: Case) -> None:
    check(case)


# ------------------------------------------------------------------------------------------------
# 6. Monitor.update (the state's own tampering cases are in test_monitor_state.py)
# ------------------------------------------------------------------------------------------------


@dataclass
class Update:
    id: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    error: type[Exception]
    names: tuple[str, ...]
    xfail: str | None = None


UPDATES: list[Update] = [
    Update("score_numeric_text", ("A", 2, "12"), {}, exc.ParameterTypeError,
           ("'score'", "text")),
    Update("score_date", ("A", 2, pd.Timestamp("2024-01-01")), {}, exc.ParameterTypeError,
           ("'score'", "date")),
    Update("score_inf", ("A", 2, np.inf), {}, exc.ParameterError, ("'score'", "finite")),
    Update("score_bool", ("A", 2, True), {}, exc.ParameterTypeError, ("'score'", "bool")),
    Update("score_complex", ("A", 2, 3 + 1j), {}, exc.ParameterTypeError, ("'score'",)),
    Update("score_out_of_range", ("A", 2, 99), {}, exc.OutOfRangeError, ("score 99", "phq9")),
    Update("session_text", ("A", "two", 12), {}, exc.ParameterTypeError, ("'session'", "text")),
    Update("session_nan", ("A", np.nan, 12), {}, exc.ParameterError, ("'session'", "finite")),
    Update("session_huge", ("A", 10**30, 12), {}, exc.ParameterError, ("'session'", "2\\*\\*53")),
    Update("session_repeated", ("A", 1, 12), {}, exc.ParameterError,
           ("session 1", "increasing order")),
    Update("patient_none", (None, 2, 12), {}, exc.ParameterTypeError, ("'patient'", "None")),
    Update("patient_list", ([1], 2, 12), {}, exc.ParameterTypeError, ("'patient'",)),
    Update("keyword_unknown", ("A", 2, 12), {"phq9_q9": 3}, exc.UnknownNameError,
           ("phq9_q9", "phq9_item9")),
    Update("risk_item_text", ("A", 2, 12), {"phq9_item9": "3"}, exc.ColumnTypeError,
           ("'phq9_item9'", "text")),
    Update("risk_item_out_of_range", ("A", 2, 12), {"phq9_item9": 9}, exc.OutOfRangeError,
           ("'phq9_item9'", r"\[0, 3\]")),
]


@pytest.mark.parametrize(
    "update",
    [pytest.param(u, id=u.id, marks=[pytest.mark.xfail(strict=True, reason=u.xfail)]
                  if u.xfail else []) for u in UPDATES],
)
def test_monitor_update_refuses(update: Update) -> None:
    monitor = ia.Monitor(reference_model(), ["off_track", "risk_item"], instrument="phq9")
    monitor.update("A", 1, 20)
    state = monitor.to_json()
    args, kwargs = copy.deepcopy(update.args), copy.deepcopy(update.kwargs)
    with pytest.raises(update.error) as info:
        monitor.update(*update.args, **update.kwargs)
    assert isinstance(info.value, exc.IatrogenicError)
    message = str(info.value)
    for name in update.names:
        assert re.search(name, message), (name, message)
    assert SUGGESTION.search(message), message
    assert monitor.to_json() == state  # nothing recorded
    assert repr(update.args) == repr(args) and update.kwargs == kwargs


# ------------------------------------------------------------------------------------------------
# 7. The command line
# ------------------------------------------------------------------------------------------------

CSV = long().drop(columns="gad7").to_csv(index=False)


@dataclass
class CliCase:
    id: str
    files: dict[str, bytes | None]  # name -> content (None: a directory)
    target: str
    args: list[str]
    names: tuple[str, ...]
    rows: bool = False
    xfail: str | None = None


CLI_CASES: list[CliCase] = [
    CliCase("directory", {"export": None}, "export", [], ("is a directory", "pass a CSV")),
    CliCase("empty_file", {"e.csv": b""}, "e.csv", [], ("e.csv", "empty", "pass a file")),
    CliCase("binary_file", {"b.csv": bytes(range(256)) * 4}, "b.csv", [],
            ("b.csv", "binary", "--encoding")),
    CliCase("unknown_encoding", {"ok.csv": CSV.encode()}, "ok.csv", ["--encoding", "klingon"],
            ("'klingon'", "--encoding")),
    CliCase("score_flag_absent_column", {"ok.csv": CSV.encode()}, "ok.csv", ["--score", "phq"],
            (r"'phq' \(given as --score\)", "--score <your column name>")),
    CliCase("patient_flag_absent_column", {"ok.csv": CSV.encode()}, "ok.csv",
            ["--patient", "client_id"], (r"'client_id' \(given as --patient\)",)),
    CliCase("sd_negative", {"ok.csv": CSV.encode()}, "ok.csv", ["--sd", "-1"], ("--sd",)),
    CliCase("reliability_above_one", {"ok.csv": CSV.encode()}, "ok.csv",
            ["--reliability", "2"], ("--reliability",)),
    CliCase("unknown_instrument", {"ok.csv": CSV.encode()}, "ok.csv",
            ["--instrument", "phq99"], ("'phq99'",)),
    CliCase("ambiguous_dates",
            {"d.csv": b"patient,session,score\n1,01/02/2024,10\n1,03/02/2024,12\n"},
            "d.csv", [], (r"'session' \(given as --time\)", "--dayfirst", "--date-format")),
    CliCase("score_text",
            {"t.csv": b"patient,session,score\n1,1,10\n1,2,x\n2,1,9\n2,2,20\n"}, "t.csv", [],
            (r"'score' \(given as --score\)", "score='x'"), rows=True),
    CliCase("session_missing",
            {"n.csv": b"patient,session,score\n1,1,10\n1,,12\n2,1,9\n2,2,20\n"}, "n.csv", [],
            (r"'session' \(given as --time\)", "missing", "line 3"), rows=True),
    CliCase("header_repeated", {"h.csv": b"patient,session,score,score\n1,1,10,3\n1,2,12,4\n"},
            "h.csv", [], ("'score'", "twice")),
    CliCase("wide_pattern_no_match", {"ok.csv": CSV.encode()}, "ok.csv",
            ["--wide", r"phq(\d+)"], ("phq", "Available columns")),
    CliCase("missing_file", {}, "nope.csv", [], ("nope.csv", "no such file", "pass")),
    CliCase("header_only", {"h.csv": b"patient,session,score\n"}, "h.csv", [],
            ("h.csv", "no rows", "pass")),
    CliCase("repeated_rows_lines",
            {"r.csv": b"patient,session,score\n1,1,10\n1,1,12\n2,1,9\n2,2,20\n"}, "r.csv", [],
            ("more than once", "line 2 ", "line 3 "), rows=True),
]


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)]
                  if c.xfail else []) for c in CLI_CASES],
)
def test_cli_refuses(case: CliCase, tmp_path: Path) -> None:
    for name, content in case.files.items():
        if content is None:
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_bytes(content)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        status = cli_main(["screen", str(tmp_path / case.target), "--instrument", "phq9",
                           *case.args, "--out", str(tmp_path / "out")])
    message = err.getvalue().strip()
    assert status == 2, message
    assert message.startswith("iatrogenic: error:") and "\n" not in message
    assert "Traceback" not in message
    for name in case.names:
        assert re.search(name, message), (name, message)
    if case.rows:
        assert ROWS.search(message), message
    assert SUGGESTION.search(message), message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
