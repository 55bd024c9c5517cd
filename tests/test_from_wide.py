"""ia.from_wide: one row per patient and one column per session, to the long format."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic.io import from_wide


def _wide():
    return pd.DataFrame(
        {
            "client_id": ["C-0012", "C-0003", "C-0040"],
            "phq9_s1": [18.0, 20.0, np.nan],
            "phq9_s2": [15.0, np.nan, np.nan],
            "phq9_s10": [9.0, 24.0, np.nan],
            "phq9_q9_s1": [0, 1, 0],
            "phq9_q9_s10": [0, 2, 0],
            "att_s1": ["attended", "attended", "dna"],
            "att_s2": ["attended", "dna", "dna"],
            "att_s10": ["attended", "attended", "dna"],
            "therapist": ["T1", "T2", "T1"],
            "age": [34, 51, 27],
        }
    )


def _call(frame, **kwargs):
    before = frame.copy(deep=True)
    out = from_wide(frame, **kwargs)
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is untouched
    return out


def _raises(error, frame, *patterns, **kwargs):
    before = frame.copy(deep=True)
    with pytest.raises(error) as info:
        from_wide(frame, **kwargs)
    pd.testing.assert_frame_equal(frame, before)
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))
    return str(info.value)


def test_exported():
    assert ia.from_wide is from_wide
    assert "from_wide" in ia.__all__


def test_pattern_gives_long_format_with_carried_and_patient_level_columns():
    long = _call(
        _wide(),
        patient="client_id",
        pattern=r"phq9_s(\d+)",
        carry={"phq9_item9": r"phq9_q9_s(\d+)", "attendance": r"att_s(\d+)"},
    )
    assert list(long.columns) == [
        "client_id",
        "session",
        "score",
        "phq9_item9",
        "attendance",
        "therapist",
        "age",
    ]
    assert len(long) == 9 and isinstance(long.index, pd.RangeIndex)
    # patients in the order of the input, sessions by number (10 after 2, unlike text)
    assert long["client_id"].tolist() == ["C-0012"] * 3 + ["C-0003"] * 3 + ["C-0040"] * 3
    assert long["session"].tolist() == [1, 2, 10] * 3
    assert pd.api.types.is_integer_dtype(long["session"])
    np.testing.assert_array_equal(long["score"], [18, 15, 9, 20, np.nan, 24] + [np.nan] * 3)
    np.testing.assert_array_equal(long["phq9_item9"], [0, np.nan, 0, 1, np.nan, 2, 0, np.nan, 0])
    assert long["attendance"].tolist()[:3] == ["attended"] * 3
    assert long["therapist"].tolist() == ["T1"] * 3 + ["T2"] * 3 + ["T1"] * 3
    assert long["age"].tolist() == [34] * 3 + [51] * 3 + [27] * 3


def test_output_columns_are_those_documented():
    doc = from_wide.__doc__
    for documented in ("``<patient>``", "``<time>``", "``<score>``", "``carry``"):
        assert documented in doc


def test_patient_without_any_score_is_kept_and_reported():
    long = _call(_wide(), patient="client_id", pattern=r"phq9_s(\d+)")
    result = ia.reliable_change(long, patient="client_id", instrument="phq9")
    assert result["patient"].tolist() == ["C-0003", "C-0012", "C-0040"]
    assert result.set_index("patient").loc["C-0040", "reason"] == "no observed score"


def test_result_feeds_the_screen():
    long = _call(
        _wide(),
        patient="client_id",
        pattern=r"phq9_s(\d+)",
        carry={"phq9_item9": r"phq9_q9_s(\d+)"},
    )
    events = ia.screen(long, patient="client_id", instrument="phq9", detectors=["risk_item"])
    assert set(events["patient"]) == {"C-0003"}


def test_columns_list_gives_sessions_in_list_order():
    long = _call(_wide(), patient="client_id", columns=["phq9_s1", "phq9_s2", "phq9_s10"])
    assert long["session"].tolist() == [1, 2, 3] * 3
    assert long["score"].tolist()[:3] == [18.0, 15.0, 9.0]
    # other sessions' score columns are then patient-level columns, kept as they are
    assert "phq9_q9_s1" in long.columns


def test_columns_dict_with_numbers_orders_by_value():
    wide = pd.DataFrame({"id": [1, 2], "post": [8, 9], "pre": [20, 21]})
    long = _call(wide, patient="id", columns={"post": 12, "pre": 0}, time="week")
    assert long["week"].tolist() == [0, 12, 0, 12]
    assert long["score"].tolist() == [20, 8, 21, 9]


def test_columns_dict_with_labels_gives_an_ordered_categorical():
    wide = pd.DataFrame({"id": [1], "a": [20.0], "b": [14.0], "c": [8.0]})
    long = _call(wide, patient="id", columns={"a": "screening", "b": "week 4", "c": "booster"})
    assert isinstance(long["session"].dtype, pd.CategoricalDtype) and long["session"].cat.ordered
    assert list(long["session"].cat.categories) == ["screening", "week 4", "booster"]
    result = ia.reliable_change(long, patient="id", instrument="phq9", sd=5)
    assert result.loc[0, ["pre", "post"]].tolist() == [20.0, 8.0]


def test_carry_as_list_and_dict():
    wide = pd.DataFrame(
        {"id": [1, 2], "s1": [10, 11], "s2": [12, 13], "a1": ["x", "y"], "a2": ["z", "w"]}
    )
    by_list = _call(wide, patient="id", pattern=r"s(\d)", carry={"att": ["a1", "a2"]})
    by_dict = _call(wide, patient="id", pattern=r"s(\d)", carry={"att": {"a2": 2, "a1": 1}})
    pd.testing.assert_frame_equal(by_list, by_dict)
    assert by_list["att"].tolist() == ["x", "z", "y", "w"]


def test_fractional_session_numbers():
    wide = pd.DataFrame({"id": [1], "w0.5": [20.0], "w1.5": [10.0], "w10": [5.0]})
    long = _call(wide, patient="id", pattern=r"w(\d+(?:\.\d+)?)")
    assert long["session"].tolist() == [0.5, 1.5, 10.0]


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    st.integers(1, 6),
    st.lists(st.integers(1, 30), min_size=1, max_size=6, unique=True),
    st.integers(0, 2**16),
)
def test_round_trip_with_pivot(n_patients, sessions, seed):
    rng = np.random.default_rng(seed)
    long = pd.DataFrame(
        {
            "patient": np.repeat(np.arange(n_patients) + 100, len(sessions)),
            "session": np.tile(sorted(sessions), n_patients),
            "score": rng.integers(0, 28, n_patients * len(sessions)).astype(float),
        }
    )
    long.loc[rng.random(len(long)) < 0.2, "score"] = np.nan
    wide = long.pivot(index="patient", columns="session", values="score")
    wide.columns = [f"phq_{s}" for s in wide.columns]
    wide = wide.reset_index().sample(frac=1.0, random_state=seed)  # any row order
    back = _call(wide, patient="patient", pattern=r"phq_(\d+)")
    back = back.sort_values(["patient", "session"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(back, long, check_dtype=False)


def test_large_table_is_vectorised():
    n, k = 20_000, 20
    rng = np.random.default_rng(1)
    wide = pd.DataFrame(
        rng.integers(0, 28, (n, k)).astype(float), columns=[f"s{j}" for j in range(1, k + 1)]
    )
    wide.insert(0, "id", np.arange(n))
    long = _call(wide, patient="id", pattern=r"s(\d+)")
    assert len(long) == n * k
    np.testing.assert_array_equal(long["score"].to_numpy().reshape(n, k), wide.iloc[:, 1:])


# --- errors --------------------------------------------------------------------------------------


def test_columns_and_pattern_exactly_one():
    _raises(
        exc.ParameterError, _wide(), "exactly one of columns=", "Got neither", patient="client_id"
    )
    _raises(
        exc.ParameterError,
        _wide(),
        "Got both",
        patient="client_id",
        columns=["phq9_s1"],
        pattern=r"phq9_s(\d+)",
    )


@pytest.mark.parametrize(
    ("pattern", "error", "message"),
    [
        (r"phq9_s\d+", exc.ParameterError, "exactly one group .* 0 groups"),
        (r"(phq9)_s(\d+)", exc.ParameterError, "2 groups.*non-capturing"),
        (r"phq9_s(\d+", exc.ParameterError, "regular expression"),
        (r"gad7_s(\d+)", exc.ColumnNotFoundError, "No column .* matches .*Available columns"),
        (r"phq9_(s\d+)", exc.ParameterError, "column 'phq9_s1' it captures 's1'.*columns="),
    ],
)
def test_bad_patterns(pattern, error, message):
    _raises(error, _wide(), message, patient="client_id", pattern=pattern)


def test_missing_columns_are_named():
    _raises(
        exc.ColumnNotFoundError,
        _wide(),
        r"Column 'phq9_s3' \(given as columns\['phq9_s3'\]=\)",
        patient="client_id",
        columns=["phq9_s1", "phq9_s3"],
    )
    _raises(
        exc.ColumnNotFoundError,
        _wide(),
        r"'id' \(given as patient=\).*'client_id'",
        patient="id",
        pattern=r"phq9_s(\d+)",
    )
    _raises(
        exc.ColumnNotFoundError,
        _wide(),
        r"carry\['x'\]",
        patient="client_id",
        pattern=r"phq9_s(\d+)",
        carry={"x": r"nope_(\d+)"},
    )


def test_one_session_twice():
    wide = pd.DataFrame({"id": [1], "s1": [1.0], "s01": [2.0]})
    _raises(
        exc.ParameterError,
        wide,
        "'s1' and 's01' .* both session 1",
        patient="id",
        pattern=r"s(\d+)",
    )
    _raises(exc.ParameterError, wide, "more than once", patient="id", columns=["s1", "s1"])


def test_carry_session_without_score_column():
    wide = pd.DataFrame({"id": [1], "s1": [1.0], "a1": ["x"], "a2": ["y"]})
    _raises(
        exc.ParameterError,
        wide,
        r"carry\['att'\] .*session\(s\) 2, which have no score",
        patient="id",
        pattern=r"s(\d+)",
        carry={"att": r"a(\d+)"},
    )
    _raises(
        exc.ParameterError,
        wide,
        "lists 2 columns for 1 sessions",
        patient="id",
        pattern=r"s(\d+)",
        carry={"att": ["a1", "a2"]},
    )


def test_patient_ids_missing_or_repeated():
    wide = pd.DataFrame({"id": [1, None, 3], "s1": [1.0, 2.0, 3.0]})
    _raises(
        exc.InvalidValueError,
        wide,
        r"'id' .*missing values; 1 row, first: index 1",
        patient="id",
        pattern=r"s(\d+)",
    )
    wide = pd.DataFrame({"id": [1, 2, 1], "s1": [1.0, 2.0, 3.0]})
    _raises(
        exc.DuplicateRowsError,
        wide,
        r"one row per patient.*2 rows, first: index 0",
        patient="id",
        pattern=r"s(\d+)",
    )


def test_name_clashes():
    wide = pd.DataFrame({"id": [1], "s1": [1.0], "score": ["x"]})
    _raises(exc.ParameterError, wide, "two columns named 'score'", patient="id", pattern=r"s(\d+)")
    assert "score" in _call(wide, patient="id", pattern=r"s(\d+)", score="phq9").columns


def test_not_a_table():
    with pytest.raises(exc.ParameterTypeError, match="wide format"):
        from_wide({"id": [1]}, patient="id", pattern=r"s(\d+)")
    with pytest.raises(exc.EmptyDataError):
        from_wide(pd.DataFrame({"id": [], "s1": []}), patient="id", pattern=r"s(\d+)")
    wide = pd.DataFrame([[1, 2.0, 3.0]], columns=["id", "s1", "s1"])
    _raises(
        exc.InvalidValueError, wide, "repeated column names .*'s1'", patient="id", pattern=r"s(\d+)"
    )
    _raises(
        exc.ParameterTypeError,
        _wide(),
        "pass pattern=",
        patient="client_id",
        columns=r"phq9_s(\d+)",
    )
    _raises(
        exc.ParameterTypeError,
        _wide(),
        "mix numbers and text",
        patient="client_id",
        columns={"phq9_s1": 1, "phq9_s2": "two"},
    )


def test_column_not_found_hints_at_from_wide_when_the_table_looks_wide():
    wide = _wide()
    before = wide.copy(deep=True)
    with pytest.raises(exc.ColumnNotFoundError) as info:
        ia.reliable_change(wide, patient="client_id", instrument="phq9")
    pd.testing.assert_frame_equal(wide, before)
    message = str(info.value)
    assert "ia.from_wide(data, patient=..., pattern=r'phq9_s(\\d+)')" in message
    assert "'phq9_s1', 'phq9_s2', 'phq9_s10'" in message
    # the pattern in the hint works
    long = from_wide(wide, patient="client_id", pattern=r"phq9_s(\d+)")
    assert len(ia.reliable_change(long, patient="client_id", instrument="phq9")) == 3


def test_no_wide_hint_for_a_long_table():
    long = pd.DataFrame({"patient": [1], "session": [1], "phq9": [3.0]})
    with pytest.raises(exc.ColumnNotFoundError) as info:
        ia.reliable_change(long, instrument="phq9")
    assert "from_wide" not in str(info.value) and "pass score=" in str(info.value)
