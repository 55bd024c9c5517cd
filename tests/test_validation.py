"""The one input-validation module: every bad input gets a clear error, nothing is mutated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iatrogenic import exceptions as exc
from iatrogenic._validation import (
    check_choice,
    check_number,
    check_pair,
    describe_rows,
    prepare_long,
)


def _long(**overrides):
    frame = pd.DataFrame(
        {
            "id": ["b", "a", "a", "b", "a"],
            "week": [2, 3, 1, 1, 2],
            "phq": [10.0, 7.0, 15.0, 12.0, np.nan],
        }
    )
    return frame.assign(**overrides)


def _prepare(frame, **kwargs):
    options = {"patient": "id", "time": "week", "score": "phq", "caller": "test"}
    options.update(kwargs)
    return prepare_long(frame, **options)


def test_sorted_copy_with_canonical_names():
    raw = _long()
    before = raw.copy(deep=True)
    long = _prepare(raw)
    pd.testing.assert_frame_equal(raw, before)  # caller's frame untouched
    assert list(long.frame.columns) == ["patient", "time", "score"]
    assert long.frame["patient"].tolist() == ["a", "a", "a", "b", "b"]
    assert long.frame["time"].tolist() == [1, 2, 3, 1, 2]
    np.testing.assert_array_equal(long.frame["score"], [15.0, np.nan, 7.0, 12.0, 10.0])
    assert list(long.patients) == ["a", "b"]
    np.testing.assert_array_equal(long.starts, [0, 3, 5])
    np.testing.assert_array_equal(long.codes, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(long.sizes, [3, 2])


def test_missing_score_is_kept_not_dropped():
    long = _prepare(_long())
    assert len(long.frame) == 5
    assert long.frame["score"].isna().sum() == 1


def test_text_occasions_never_follow_row_order():
    # Issue 10: this test used to require that text occasions follow each patient's row order
    # (a guess). Words mixed with numbered labels have no known order: an error...
    raw = pd.DataFrame(
        {
            "id": ["A", "A", "B", "B", "B"],
            "t": ["baseline", "week8", "baseline", "week4", "week8"],
            "s": [20, 10, 18, 12, 25],
        }
    )
    with pytest.raises(exc.InvalidValueError, match=r"'t'.*not known.*ordered=True"):
        prepare_long(raw, patient="id", time="t", score="s", caller="test")
    # ... while numbered labels alone order by their number, whatever the rows say.
    numbered = raw.assign(t=["week0", "week8", "week0", "week4", "week8"]).iloc[::-1]
    long = prepare_long(numbered, patient="id", time="t", score="s", caller="test")
    assert long.frame["time"].tolist() == ["week0", "week8", "week0", "week4", "week8"]
    assert long.frame["score"].tolist() == [20.0, 10.0, 18.0, 12.0, 25.0]


def test_known_words_order_themselves_whatever_the_rows_say():
    # Issue 10: this used to be an error (patients disagreeing on the row order of pre/post).
    raw = pd.DataFrame({"id": [1, 1, 2, 2], "t": ["pre", "post", "post", "pre"], "s": [1, 2, 3, 4]})
    long = prepare_long(raw, patient="id", time="t", score="s", caller="test")
    assert long.frame["time"].tolist() == ["pre", "post", "pre", "post"]
    assert long.frame["score"].tolist() == [1.0, 2.0, 4.0, 3.0]


def test_unordered_numeric_categories_order_by_value():
    times = pd.Categorical([3, 1, 2, 1, 2, 3])
    raw = pd.DataFrame({"id": [1, 1, 1, 2, 2, 2], "t": times, "s": [5, 20, 15, 20, 15, 5]})
    long = prepare_long(raw, patient="id", time="t", score="s", caller="test")
    assert long.frame["score"].tolist() == [20.0, 15.0, 5.0, 20.0, 15.0, 5.0]


def test_ordered_categorical_occasions_follow_categories():
    times = pd.Categorical(
        ["end", "start", "mid"], categories=["start", "mid", "end"], ordered=True
    )
    raw = pd.DataFrame({"id": [1, 1, 1], "t": times, "s": [3, 1, 2]})
    long = prepare_long(raw, patient="id", time="t", score="s", caller="test")
    assert long.frame["time"].astype(str).tolist() == ["start", "mid", "end"]


def test_empty_input():
    with pytest.raises(exc.EmptyDataError, match="no rows"):
        _prepare(_long().iloc[:0])


def test_not_a_dataframe():
    with pytest.raises(exc.ParameterTypeError, match="pandas DataFrame"):
        _prepare({"id": [1]})


def test_missing_column_names_keyword_and_suggests():
    with pytest.raises(exc.ColumnNotFoundError) as info:
        _prepare(_long(), score="phq9")
    message = str(info.value)
    assert "'phq9'" in message and "score=" in message and "Did you mean 'phq'" in message
    assert isinstance(info.value, ValueError)


def test_non_numeric_scores_show_rows():
    raw = _long(phq=["10", "seven", 15, 12, "x"])
    with pytest.raises(exc.ColumnTypeError) as info:
        _prepare(raw)
    message = str(info.value)
    assert "'phq'" in message and "2 rows" in message and "'seven'" in message
    assert "pd.to_numeric" in message
    assert isinstance(info.value, TypeError)


def test_numeric_text_scores_are_refused():
    # Issue 10: numbers stored as text are refused, as Monitor.update refuses them.
    raw = _long(phq=["10", "7", "15", "12", None])
    with pytest.raises(
        exc.ColumnTypeError, match=r"numbers stored as text; 4 rows.*pd\.to_numeric"
    ):
        _prepare(raw)
    long = _prepare(raw.assign(phq=pd.to_numeric(raw["phq"])))
    assert long.frame["score"].dtype == np.float64


def test_infinite_scores():
    with pytest.raises(exc.InvalidValueError, match=r"infinite values; 1 row, first: index 3"):
        _prepare(_long(phq=[1.0, 2.0, 3.0, np.inf, 4.0]))


def test_duplicate_patient_time_rows():
    raw = _long(week=[2, 3, 1, 2, 2])  # patient b has week 2 twice
    with pytest.raises(exc.DuplicateRowsError) as info:
        _prepare(raw)
    message = str(info.value)
    assert "2 rows" in message and "index 0" in message and "index 3" in message
    assert "drop_duplicates" in message


def test_out_of_range_scores_name_the_source():
    with pytest.raises(exc.OutOfRangeError) as info:
        _prepare(
            _long(phq=[10, 30, 15, -1, 2]), score_range=(0, 27), range_source="instrument 'phq9'"
        )
    message = str(info.value)
    assert "instrument 'phq9'" in message and "2 rows" in message and "[0, 27]" in message


def test_missing_patient_or_time():
    with pytest.raises(exc.InvalidValueError, match=r"'id'.*missing"):
        _prepare(_long(id=["a", None, "a", "b", "b"]))
    with pytest.raises(exc.InvalidValueError, match=r"'week'.*missing"):
        _prepare(_long(week=[1, 2, np.nan, 3, 4]))


def test_check_choice_message():
    assert check_choice("ha", ["JT", "HA"], name="method", caller="f") == "HA"
    with pytest.raises(exc.ParameterError) as info:
        check_choice("JTT", ["JT", "HA"], name="method", caller="reliable_change")
    message = str(info.value)
    assert message.startswith("The 'method' parameter of reliable_change() must be one of")
    assert "Got 'JTT' instead" in message and "Did you mean 'JT'" in message


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (None, exc.ParameterTypeError),
        ("0.8", exc.ParameterTypeError),
        (True, exc.ParameterTypeError),
        (1.5, exc.ParameterError),
        (0.0, exc.ParameterError),
        (float("nan"), exc.ParameterError),
    ],
)
def test_check_number_rejects(value, error):
    with pytest.raises(error, match=r"'reliability' parameter of f\(\)"):
        check_number(value, name="reliability", caller="f", low=0, high=1, low_inclusive=False)


def test_check_pair():
    assert check_pair([8, 4], name="functional", caller="f") == (8.0, 4.0)
    with pytest.raises(exc.ParameterTypeError, match=r"\(mean, sd\) pair"):
        check_pair(8, name="functional", caller="f")
    with pytest.raises(exc.ParameterError, match="sd"):
        check_pair((8, 0), name="functional", caller="f")


def test_describe_rows_truncates():
    frame = pd.DataFrame({"x": range(10)})
    text = describe_rows(frame, np.arange(10), ["x"])
    assert text.startswith("10 rows") and text.endswith("; ...") and "index 5" not in text


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.permutations(range(12)))
def test_row_order_does_not_matter(permutation):
    rng = np.random.default_rng(7)
    raw = pd.DataFrame(
        {
            "id": np.repeat([3, 1, 2], 4),
            "week": np.tile([1, 2, 3, 4], 3),
            "phq": rng.integers(0, 27, 12).astype(float),
        }
    )
    reference = _prepare(raw).frame
    shuffled = _prepare(raw.iloc[list(permutation)]).frame
    pd.testing.assert_frame_equal(reference, shuffled)
