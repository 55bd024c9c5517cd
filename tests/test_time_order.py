"""How time order is decided (docs/input-data.md), and the input rules that go with it.

Time order is never guessed: numbers and dates order themselves; text occasions only when their
order is known (an ordered categorical, one number per label, or documented words). Everything
else is an error that names the column, shows the labels and rows, and says how to give the order.
The order of the rows never changes a result, and the caller's frame is never modified.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic._validation import OCCASION_WORDS, numeric_time, prepare_long

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _prepare(frame, **kwargs):
    options = {"patient": "patient", "time": "session", "score": "score", "caller": "test"}
    options.update(kwargs)
    return prepare_long(frame, **options)


def _two(sessions, scores=(8, 20), **columns):
    return pd.DataFrame({"patient": [1, 1], "session": list(sessions), "score": list(scores)})


def _rc(frame, **kwargs):
    return ia.reliable_change(frame, instrument="phq9", sd=5, **kwargs)


def _order_of(labels):
    """The labels sorted by the library's time order (one patient holding every label)."""
    frame = pd.DataFrame(
        {"patient": 1, "session": labels, "score": np.arange(len(labels), dtype=float)}
    )
    return _prepare(frame).frame["time"].tolist()


def _raises_unmutated(error, frame, call, *patterns):
    before = frame.copy(deep=True)
    with pytest.raises(error) as info:
        call(frame)
    pd.testing.assert_frame_equal(frame, before)
    message = str(info.value)
    for pattern in patterns:
        assert re.search(pattern, message), (pattern, message)
    return message


# --- the silent wrong answers of issue 10 --------------------------------------------------------


def test_text_occasions_never_follow_row_order():
    # Issue 10: rows ["post", "pre"] gave pre 8, post 20, "deteriorated", for a patient who
    # improved from 20 to 8.
    raw = pd.DataFrame({"patient": [1, 1], "session": ["post", "pre"], "score": [8, 20]})
    before = raw.copy(deep=True)
    result = _rc(raw)
    pd.testing.assert_frame_equal(raw, before)
    assert result.loc[0, ["pre", "post"]].tolist() == [20.0, 8.0]
    assert result.loc[0, "category"] == "improved"


def test_session_numbers_stored_as_text_sort_as_numbers():
    labels = [str(k) for k in range(1, 13)]
    raw = pd.DataFrame({"patient": 1, "session": labels, "score": np.arange(12.0) + 1})
    shuffled = raw.iloc[::-1]  # "9" > "12" as text
    assert _prepare(shuffled).frame["time"].tolist() == labels
    result = _rc(shuffled)
    assert result.loc[0, ["pre", "post"]].tolist() == [1.0, 12.0]


@pytest.mark.parametrize(
    ("labels", "formats"),
    [
        (["2024-03-01", "2024-02-01", "2024-01-15"], ["'%Y-%m-%d'"]),
        (["2024-03-01 10:30", "2024-02-01 09:00"], ["'%Y-%m-%d %H:%M'"]),
        (["13/03/2024", "02/03/2024"], ["'%d/%m/%Y'"]),
        (["03/13/2024", "03/02/2024"], ["'%m/%d/%Y'"]),
        (["01/03/2024", "02/03/2024"], ["'%d/%m/%Y'", "'%m/%d/%Y'", "more than one format"]),
        (["1-Mar-2024", "15-Feb-2024"], ["'%d-%b-%Y'"]),
        (["01.03.2024", "15.02.2024"], ["'%d.%m.%Y'"]),
        (["20240301", "20240215"], ["'%Y%m%d'"]),
        (["01032024", "15022024"], ["'%d%m%Y'"]),
        (["2024-03-01T10:00:00Z", "2024-03-02T10:00:00+01:00"], ["'ISO8601', utc=True"]),
    ],
)
def test_dates_as_text_are_an_error_with_the_format(labels, formats):
    raw = pd.DataFrame({"patient": 1, "session": labels, "score": 10.0})
    message = _raises_unmutated(
        exc.ColumnTypeError,
        raw,
        _rc,
        r"Column 'session' \(given as time=\)",
        "dates stored as text",
        re.escape(repr(labels[0])),
        r"pd\.to_datetime\(data\['session'\], format=",
        r"index 0",
    )
    for expected in formats:
        assert expected in message
    with pytest.raises(TypeError) as info:  # catchable as the built-in too
        _rc(raw)
    assert isinstance(info.value, exc.IatrogenicError)


def test_dates_as_text_with_unknown_format_still_refused():
    raw = pd.DataFrame({"patient": 1, "session": ["2024-13-45", "2024-02-01"], "score": 10.0})
    _raises_unmutated(exc.ColumnTypeError, raw, _rc, r"format='\.\.\.'")


def test_parsed_dates_order_themselves():
    raw = pd.DataFrame({"patient": 1, "session": ["2024-03-01", "2024-01-01"], "score": [8, 20]})
    raw["session"] = pd.to_datetime(raw["session"], format="%Y-%m-%d")
    assert _rc(raw).loc[0, ["pre", "post"]].tolist() == [20.0, 8.0]


@pytest.mark.parametrize(
    ("values", "what"),
    [
        (pd.to_datetime(["2024-01-01", "2024-02-01"]), "dates or durations"),
        (pd.to_datetime(["2024-01-01", "2024-02-01"]).tz_localize("UTC"), "dates or durations"),
        (pd.to_timedelta([1, 2], unit="D"), "dates or durations"),
        (pd.period_range("2024-01", periods=2, freq="M"), "dates or durations"),
        (np.array([10 + 1j, 12 + 0j]), "complex numbers"),
        (np.array([True, False]), "booleans"),
    ],
)
def test_scores_that_are_not_numbers_are_refused(values, what):
    raw = pd.DataFrame({"patient": [1, 1], "session": [1, 2], "score": values})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy ComplexWarning on the way
        _raises_unmutated(
            exc.ColumnTypeError,
            raw,
            _rc,
            r"Column 'score' \(given as score=\) passed to reliable_change\(\)",
            what,
            r"2 rows, first: index 0",
            "Suggestion",
        )


def test_datetime_scores_are_refused_by_every_dataframe_function():
    raw = pd.DataFrame(
        {"patient": [1, 1, 1], "session": [1, 2, 3], "score": pd.date_range("2024", periods=3)}
    )
    for call in (
        _rc,
        lambda d: ia.sudden_changes(d, cutoff=7),
        lambda d: ia.screen(d, instrument="phq9"),
        lambda d: ia.percentage_change(d, improvement=0.5),
    ):
        _raises_unmutated(exc.ColumnTypeError, raw, call, "'score'", "dates")


# --- numbers and dates order themselves --------------------------------------------------------


@pytest.mark.parametrize(
    "sessions",
    [
        [3, 1, 2],
        [3.5, 1.0, 2.25],
        pd.to_datetime(["2024-03-01", "2024-01-01", "2024-02-01"]),
        pd.to_datetime(["2024-03-01", "2024-01-01", "2024-02-01"]).tz_localize("Europe/London"),
        pd.to_timedelta([21, 0, 7], unit="D"),
        pd.PeriodIndex(["2024-03", "2024-01", "2024-02"], freq="M"),
        pd.array([3, 1, 2], dtype="Int64"),
        pd.Series([3, 1, 2], dtype=object),
        pd.Series([dt.date(2024, 3, 1), dt.date(2024, 1, 1), dt.date(2024, 2, 1)], dtype=object),
        pd.Categorical([3, 1, 2]),
        pd.Categorical(pd.to_datetime(["2024-03-01", "2024-01-01", "2024-02-01"])),
    ],
)
def test_numbers_and_dates_order_themselves(sessions):
    raw = pd.DataFrame({"patient": 1, "session": sessions, "score": [5.0, 20.0, 12.0]})
    assert _prepare(raw).frame["score"].tolist() == [20.0, 12.0, 5.0]


def test_complex_mixed_and_infinite_sessions_are_refused():
    complex_time = pd.DataFrame({"patient": 1, "session": [1 + 0j, 2 + 0j], "score": 1.0})
    _raises_unmutated(exc.ColumnTypeError, complex_time, _rc, "'session'", "complex")
    mixed = pd.DataFrame({"patient": 1, "session": pd.Series([1, "2"], dtype=object)})
    mixed["score"] = 1.0
    _raises_unmutated(
        exc.ColumnTypeError, mixed, _rc, "'session'", "'int', 'str'", r"index 1", "pd.to_numeric"
    )
    infinite = pd.DataFrame({"patient": 1, "session": [1.0, np.inf], "score": 1.0})
    _raises_unmutated(exc.InvalidValueError, infinite, _rc, "'session'", "infinite", "index 1")


# --- text occasions: numbered labels -----------------------------------------------------------


@pytest.mark.parametrize(
    "labels",
    [
        ["1", "2", "10", "12"],
        ["-1", "0", "1.5", "3"],
        ["week 0", "week 4", "Week 8", "WEEK 12"],
        ["s1", "S2", "s10", "s12"],
        ["Session 1", "session 2", "Session 10"],
        ["session_1", "session-2", "session 10"],
        ["1st session", "2nd session", "3rd session", "10th session"],
        ["t0", "t1", "t2", "T10"],
        ["week -2", "week 0", "week 3"],
        ["visit1", "visit2", "visit11"],
    ],
)
def test_labels_ordered_by_their_number(labels):
    assert _order_of(labels[::-1]) == labels
    assert _order_of(labels) == labels


@pytest.mark.parametrize(
    ("labels", "why"),
    [
        (["week 4", "month 2"], "different texts"),
        (["s1", "session 2"], "different texts"),
        (["1", "week 2"], "different texts"),
        (["baseline", "week 4", "week 8"], "words .* mixed with numbered labels"),
        (["pre", "s2", "post"], "words .* mixed with numbered labels"),
        (["week 4 visit 2", "week 8 visit 3"], "several numbers"),
        (["intro", "middle", "end"], "'intro', 'middle' are neither known words"),
        (["a", "b"], "neither known words"),
    ],
)
def test_text_occasions_of_unknown_order_are_an_error(labels, why):
    raw = pd.DataFrame({"patient": 7, "session": labels, "score": 10.0})
    message = _raises_unmutated(
        exc.InvalidValueError,
        raw,
        _rc,
        r"Column 'session' \(given as time=\) passed to reliable_change\(\)",
        why,
        "Labels: " + ", ".join(re.escape(repr(v)) for v in sorted(labels)[:3]),
        r"rows: \d+ rows?, first: index \d \(patient=7, session=",
        r"pd\.Categorical\(data\['session'\], categories=\[.*\], ordered=True\)",
        "never guesses",
    )
    assert "docs/input-data.md" in message


def test_error_lists_few_labels_and_counts_them():
    labels = [f"visit {c}" for c in "abcdefghijkl"]
    raw = pd.DataFrame({"patient": 1, "session": labels, "score": 10.0})
    message = _raises_unmutated(exc.InvalidValueError, raw, _rc, r"\(12 labels in all\)")
    assert "'visit k'" not in message.split("rows:")[0]


def test_error_message_does_not_depend_on_row_order():
    raw = pd.DataFrame({"patient": [1, 1, 2], "session": ["b", "a", "c"], "score": 1.0})
    first = _raises_unmutated(exc.InvalidValueError, raw, _rc)
    second = _raises_unmutated(exc.InvalidValueError, raw.iloc[::-1], _rc)
    assert first.split("rows:")[0] == second.split("rows:")[0]


# --- text occasions: documented words ----------------------------------------------------------


@pytest.mark.parametrize(
    "labels",
    [
        ["pre", "post"],
        ["Pre", "Mid", "Post"],
        ["pre-treatment", "mid-treatment", "post-treatment"],
        ["baseline", "follow-up"],
        ["Baseline", "end", "Follow up"],
        ["baseline", "end of treatment", "FU"],
        ["intake", "discharge"],
        ["intake", "midpoint", "end"],
        ["before", "after"],
        ["first", "last"],
        ["start", "interim", "final"],
    ],
)
def test_documented_words_order_themselves(labels):
    assert _order_of(labels[::-1]) == labels
    shuffled = [labels[k] for k in np.random.default_rng(3).permutation(len(labels))]
    assert _order_of(shuffled) == labels


def test_words_of_one_rank_name_the_same_occasion():
    raw = pd.DataFrame({"patient": [1, 1, 2, 2], "session": ["pre", "post", "baseline", "post"]})
    raw["score"] = [20, 8, 15, 9]
    result = _rc(raw)
    assert result["pre"].tolist() == [20.0, 15.0]
    both = pd.DataFrame({"patient": 1, "session": ["pre", "baseline", "post"], "score": 1.0})
    _raises_unmutated(exc.DuplicateRowsError, both, _rc, "more than once")


def test_word_list_is_documented():
    page = (DOCS / "input-data.md").read_text(encoding="utf-8")
    for word in OCCASION_WORDS:
        assert f"`{word}`" in page, word
    assert OCCASION_WORDS["pre"] < OCCASION_WORDS["mid"] < OCCASION_WORDS["post"]
    assert OCCASION_WORDS["post"] < OCCASION_WORDS["followup"]


def test_pre_and_post_keywords_with_words():
    raw = pd.DataFrame(
        {"patient": [1, 1, 1], "session": ["follow-up", "post", "pre"], "score": [5, 8, 20]}
    )
    result = _rc(raw, pre="pre", post="post")
    assert result.loc[0, ["pre", "post"]].tolist() == [20.0, 8.0]
    assert _rc(raw).loc[0, ["pre", "post"]].tolist() == [20.0, 5.0]


# --- categoricals ------------------------------------------------------------------------------


def test_ordered_categorical_gives_any_order():
    labels = ["screening", "week 4", "booster"]
    raw = pd.DataFrame(
        {
            "patient": 1,
            "session": pd.Categorical(labels[::-1], categories=labels, ordered=True),
            "score": [3.0, 2.0, 1.0],
        }
    )
    long = _prepare(raw)
    assert long.frame["time"].astype(str).tolist() == labels
    assert long.frame["score"].tolist() == [1.0, 2.0, 3.0]


def test_unordered_text_categorical_follows_the_text_rule():
    # Unordered categories are sorted as text ("post" < "pre"): that is not a time order.
    raw = pd.DataFrame(
        {"patient": [1, 1], "session": pd.Categorical(["post", "pre"]), "score": [8, 20]}
    )
    assert raw["session"].cat.categories.tolist() == ["post", "pre"]
    assert _rc(raw).loc[0, ["pre", "post"]].tolist() == [20.0, 8.0]
    unknown = raw.assign(session=pd.Categorical(["b", "a"]))
    _raises_unmutated(exc.InvalidValueError, unknown, _rc, "'session'", "'a', 'b'")


def test_string_dtypes_follow_the_text_rule():
    for dtype in (object, "string", "str"):
        raw = pd.DataFrame(
            {"patient": [1, 1], "session": pd.Series(["s10", "s2"], dtype=dtype), "score": [8, 20]}
        )
        assert _rc(raw).loc[0, ["pre", "post"]].tolist() == [20.0, 8.0], dtype


# --- the order of rows never matters -----------------------------------------------------------

LABEL_SETS = [
    ["pre", "mid", "post", "follow-up"],
    ["1", "2", "3", "10", "11"],
    ["week 0", "week 2", "week 4", "week 12"],
    ["baseline", "end", "follow-up"],
]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.sampled_from(LABEL_SETS), st.integers(2, 6), st.randoms(use_true_random=False))
def test_shuffling_rows_never_changes_results(labels, n_patients, rnd):
    rng = np.random.default_rng(rnd.randint(0, 2**31))
    frame = pd.DataFrame(
        {
            "patient": np.repeat([f"P{k}" for k in range(n_patients)], len(labels)),
            "session": np.tile(labels, n_patients),
            "score": rng.integers(0, 28, n_patients * len(labels)).astype(float),
        }
    )
    frame["session"] = frame["session"].astype(object)
    shuffled = frame.iloc[rng.permutation(len(frame))]
    reversed_ = frame.iloc[::-1]
    for other in (shuffled, reversed_):
        pd.testing.assert_frame_equal(_prepare(frame).frame, _prepare(other).frame)
        pd.testing.assert_frame_equal(_rc(frame), _rc(other))
        pd.testing.assert_frame_equal(
            ia.sudden_changes(frame, cutoff=4, relative=None, criterion3=False),
            ia.sudden_changes(other, cutoff=4, relative=None, criterion3=False),
        )
    # and the patients' rows are in time order, whatever the input order
    out = _prepare(shuffled).frame
    assert out.groupby("patient")["time"].apply(list).map(lambda v: v == labels).all()


# --- numeric strings, single scores, fractional totals -----------------------------------------


def test_numeric_strings_refused_alike_by_dataframe_functions_and_monitor():
    raw = pd.DataFrame({"patient": [1, 1, 1], "session": [1, 2, 3], "score": ["20", "12", "8"]})
    for call in (
        _rc,
        lambda d: ia.sudden_changes(d, cutoff=7),
        lambda d: ia.screen(d, instrument="phq9"),
        lambda d: ia.percentage_change(d, improvement=0.5),
    ):
        _raises_unmutated(
            exc.ColumnTypeError,
            raw,
            call,
            "'score'",
            "numbers stored as text",
            r"3 rows, first: index 0 \(score='20'\)",
            re.escape("data['score'] = pd.to_numeric(data['score'])"),
        )
    monitor = ia.Monitor(ia.load_reference_model())
    with pytest.raises(exc.IatrogenicError) as info:
        monitor.update("A", 1, "20")
    assert isinstance(info.value, TypeError)


def test_numbers_in_object_columns_are_accepted():
    raw = pd.DataFrame(
        {"patient": [1, 1], "session": [1, 2], "score": pd.Series([20, None], dtype=object)}
    )
    assert _prepare(raw).frame["score"].tolist()[0] == 20.0


def test_text_among_scores_shows_the_bad_rows_first():
    raw = pd.DataFrame(
        {"patient": 1, "session": [1, 2, 3, 4], "score": pd.Series([20, "12", "n/a", 8])}
    )
    _raises_unmutated(
        exc.ColumnTypeError,
        raw,
        _rc,
        r"1 row, first: index 2 \(score='n/a'\)",
        "1 more rows hold numbers stored as text",
        "errors='coerce'",
    )


def test_numeric_categorical_scores_are_accepted():
    raw = pd.DataFrame({"patient": 1, "session": [1, 2], "score": pd.Categorical([20, 8])})
    assert _rc(raw).loc[0, ["pre", "post"]].tolist() == [20.0, 8.0]


def test_fractional_totals_are_accepted_as_given():
    # Prorated totals (a missing item replaced by the mean of the others) are fractional.
    raw = pd.DataFrame({"patient": 1, "session": [1, 2], "score": [20.25, 8.5]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = _rc(raw)
    assert result.loc[0, ["pre", "post"]].tolist() == [20.25, 8.5]


def test_sudden_changes_and_screen_alike_for_all_single_and_some_single():
    all_single = pd.DataFrame({"patient": [1, 2], "session": [1, 1], "score": [10.0, 12.0]})
    some_single = pd.DataFrame(
        {"patient": [1, 2, 2], "session": [1, 1, 2], "score": [10.0, 12.0, 13.0]}
    )
    for frame in (all_single, some_single):
        assert ia.sudden_changes(frame, cutoff=7).empty
        assert ia.screen(frame, detectors=["reliable_deterioration"], instrument="phq9").empty


def test_reliable_change_some_single_keeps_every_patient_with_a_reason():
    some_single = pd.DataFrame(
        {"patient": [1, 2, 2], "session": [1, 1, 2], "score": [10.0, 12.0, 13.0]}
    )
    result = _rc(some_single)
    assert result["patient"].tolist() == [1, 2]
    assert result.loc[0, "reason"] == "only one observed score"


def test_reliable_change_all_single_keeps_every_patient_with_a_reason():
    all_single = pd.DataFrame({"patient": [1, 2], "session": [1, 1], "score": [10.0, 12.0]})
    result = _rc(all_single)
    assert result["reason"].tolist() == ["only one observed score"] * 2


# --- models of time ----------------------------------------------------------------------------


def test_numeric_time_explains_labels():
    raw = pd.DataFrame({"patient": 1, "session": ["week 0", "week 4"], "score": [20.0, 8.0]})
    long = _prepare(raw)
    with pytest.raises(exc.ColumnTypeError, match=r"str\.extract"):
        numeric_time(long, caller="fit_growth")


def test_column_in_the_index_is_pointed_out():
    raw = pd.DataFrame({"patient": [1, 1], "session": [1, 2], "score": [20.0, 8.0]})
    indexed = raw.set_index("patient")
    _raises_unmutated(
        exc.ColumnNotFoundError, indexed, _rc, r"'patient' is the index; pass data\.reset_index\(\)"
    )
