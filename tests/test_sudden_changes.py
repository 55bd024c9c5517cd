"""Sudden gains and losses: edge cases, parameter errors, properties, the causal detector."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic.core import sudden_changes as sc
from iatrogenic.core.sudden_changes import (
    EVENT_COLUMNS,
    INTERVAL_COLUMNS,
    PERSON_COLUMNS,
    sudden_change_cutoff,
    sudden_change_intervals,
    sudden_changes,
    sudden_changes_by_person,
)
from iatrogenic.detectors.sudden_loss import SuddenLoss

#: one gain from session 3 to 4 (29 -> 18) with stable scores around it
GAIN = [30, 31, 29, 18, 17, 16, 17, 15]


def course(scores, sessions=None, patient=1) -> pd.DataFrame:
    sessions = list(range(1, len(scores) + 1)) if sessions is None else sessions
    return pd.DataFrame({"patient": patient, "session": sessions, "score": scores})


# --------------------------------------------------------------------------------------------
# Columns are what the docstrings say
# --------------------------------------------------------------------------------------------


def documented(func) -> list[str]:
    returns = func.__doc__.split("Returns")[1].split("See Also")[0].split("Notes")[0]
    return re.findall(r"``([a-z_0-9]+)``", returns)


def test_event_columns_documented():
    events = sudden_changes(course(GAIN), cutoff=7)
    assert tuple(events.columns) == EVENT_COLUMNS
    assert list(events.columns[:8]) == ["patient", "kind", "session_pre", "session_post",
                                        "score_pre", "score_post", "magnitude", "reversal"]
    assert set(EVENT_COLUMNS) <= set(documented(sudden_changes))


def test_interval_and_person_columns_documented():
    intervals = sudden_change_intervals(course(GAIN), cutoff=7)
    assert tuple(intervals.columns) == INTERVAL_COLUMNS
    assert set(INTERVAL_COLUMNS) <= set(documented(sudden_change_intervals))
    by = sudden_changes_by_person(course(GAIN), cutoff=7)
    assert tuple(by.columns) == PERSON_COLUMNS
    named = set(documented(sudden_changes_by_person)) | set(EVENT_COLUMNS)
    assert set(PERSON_COLUMNS) <= named


def test_no_events_gives_empty_table_with_columns():
    events = sudden_changes(course([10, 10, 11, 10, 10, 11]), cutoff=7)
    assert len(events) == 0 and tuple(events.columns) == EVENT_COLUMNS


# --------------------------------------------------------------------------------------------
# The criteria on hand-made courses
# --------------------------------------------------------------------------------------------


def test_single_gain_and_its_columns():
    (row,) = sudden_changes(course(GAIN), cutoff=7).itertuples(index=False)
    assert (row.session_pre, row.session_post, row.score_pre, row.score_post) == (3, 4, 29, 18)
    assert row.magnitude == 11 and row.change == -11 and row.occasion_pre == 3
    assert (row.score_minus2, row.score_minus1, row.score_plus2, row.score_plus3) == (
        30, 31, 17, 16)
    assert row.tx_change == 15 and row.change_proportion == pytest.approx(11 / 15)
    assert row.reversal_value == 23.5 and not row.reversal
    assert row.n_pre == 3 and row.n_post == 3 and row.detectable_at == 6
    assert row.critical_value == pytest.approx(2.7764451)


def test_criterion1_boundary_is_inclusive():
    # 27 -> 20 is exactly 7 points
    events = sudden_changes(course([28, 29, 27, 20, 19, 18, 19]), cutoff=7)
    assert len(events) == 1
    assert len(sudden_changes(course([28, 29, 27, 20, 19, 18, 19]), cutoff=7.5)) == 0


def test_criterion2_relative_and_off():
    # 60 -> 50: 10 points but only 17% of 60
    scores = [61, 62, 60, 50, 49, 50, 49]
    assert len(sudden_changes(course(scores), cutoff=7)) == 0
    assert len(sudden_changes(course(scores), cutoff=7, relative=None)) == 1
    intervals = sudden_change_intervals(course(scores), cutoff=7, relative=None)
    assert intervals["crit2"].isna().all()


def test_criterion3_off_and_fixed_critical_value():
    # noisy pre-gain scores: criterion 3 fails, criteria 1 and 2 hold
    scores = [20, 40, 30, 20, 24, 16, 22]
    assert len(sudden_changes(course(scores), cutoff=7)) == 0
    assert 3 in sudden_changes(course(scores), cutoff=7, criterion3=False)["session_pre"].tolist()
    fixed = sudden_change_intervals(course(GAIN), cutoff=7, critical_value=2.0, adjust=False)
    assert (fixed["critical_value"].dropna() == 2.0).all()


def test_critical_value_adjusted_for_missing_scores():
    # one pre-gain score missing: 2 + 3 scores, t(0.975, 3) = 3.182
    scores = [30, np.nan, 29, 18, 17, 16, 17, 15]
    (row,) = sudden_changes(course(scores), cutoff=7).itertuples(index=False)
    assert row.n_pre == 2 and row.critical_value == pytest.approx(3.1824463)
    # alpha changes it: t(0.995, 3)
    intervals = sudden_change_intervals(course(scores), cutoff=7, alpha=0.01)
    assert intervals.loc[intervals["session_pre"] == 3, "critical_value"].item() == \
        pytest.approx(5.8409093)


def test_fewer_than_two_scores_on_a_side_is_undecided():
    # pre window of the 3->4 interval has only session 3 scored
    scores = [np.nan, np.nan, 29, 18, 17, 16, 17]
    intervals = sudden_change_intervals(course(scores), cutoff=7)
    row = intervals[intervals["session_pre"] == 3].iloc[0]
    assert bool(row["crit1"]) and row["n_pre"] == 1
    assert pd.isna(row["crit3"]) and pd.isna(row["event"])
    assert len(sudden_changes(course(scores), cutoff=7)) == 0
    # post side: only session 4 scored after the change
    scores = [30, 31, 29, 18, np.nan, np.nan, 17]
    row = sudden_change_intervals(course(scores), cutoff=7).query("session_pre == 3").iloc[0]
    assert row["n_post"] == 1 and pd.isna(row["event"])


def test_missing_score_rows_are_missed_sessions():
    scores = [30, 31, 29, np.nan, 18, 17, 16, 17]
    intervals = sudden_change_intervals(course(scores), cutoff=7)
    # no interval across the missed session 4: 3->4 and 4->5 undecided
    assert intervals.set_index("session_pre").loc[[3, 4], "crit1"].isna().all()
    assert len(sudden_changes(course(scores), cutoff=7)) == 0


def test_gaps_in_session_numbers_are_not_missed_sessions():
    # sessions 1, 2, 3, 5, 6, ...: no row for 4, so session 5 directly follows session 3
    sessions = [1, 2, 3, 5, 6, 7, 8, 9]
    events = sudden_changes(course(GAIN, sessions=sessions), cutoff=7)
    assert list(events[["session_pre", "session_post"]].iloc[0]) == [3, 5]
    # a row with a missing score at session 4 makes it a missed session instead
    with_row = course([30, 31, 29, np.nan, 18, 17, 16, 17, 15],
                      sessions=[1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert len(sudden_changes(with_row, cutoff=7)) == 0


def test_first_and_last_interval():
    # a drop between the first two sessions
    scores = [30, 20, 19, 20, 19, 20]
    plain = sudden_change_intervals(course(scores), cutoff=7, criterion3=False)
    assert plain["session_pre"].tolist() == [2, 3, 4]  # 1->2 and 5->6 not tested
    first = sudden_change_intervals(course(scores), cutoff=7, criterion3=False,
                                    include_first_interval=True)
    assert first["session_pre"].tolist() == [1, 2, 3, 4]
    assert sudden_changes(course(scores), cutoff=7, criterion3=False,
                          include_first_interval=True)["session_pre"].tolist() == [1]
    # with criterion 3 the first interval is tested but undecided (one pre-change score)
    row = sudden_change_intervals(course(scores), cutoff=7, include_first_interval=True).iloc[0]
    assert row["n_pre"] == 1 and pd.isna(row["event"])


def test_loss_criterion2_is_mirrored():
    # 40 -> 48: 8 points, but 20% of 40 < 25%: not a loss (suddengains 0.7.2 would say yes)
    scores = [41, 39, 40, 48, 49, 48, 49]
    assert len(sudden_changes(course(scores), kind="loss", cutoff=7)) == 0
    assert len(sudden_changes(course(scores), kind="loss", cutoff=7, relative=None)) == 1
    assert len(sudden_changes(course(scores), kind="loss", cutoff=7, relative=0.2)) == 1


def test_loss_reversal_and_magnitude_positive():
    scores = [10, 9, 10, 20, 21, 20, 12]
    (row,) = sudden_changes(course(scores), kind="loss", cutoff=7).itertuples(index=False)
    assert row.kind == "loss" and row.magnitude == 10 and row.change == 10
    assert row.reversal_value == 15 and row.reversal  # back to 12 at session 7
    assert row.tx_change == -2  # worse at the end than at the start


def test_by_person_keeps_everyone_and_selects():
    data = pd.concat([
        course([30, 31, 29, 18, 17, 16, 8, 7, 6], patient="a"),  # gains at 3 and 6
        course([20, 19], patient="b"),
        course([20, np.nan, 21, np.nan, 19, np.nan], patient="c"),
    ])
    by = {s: sudden_changes_by_person(data, cutoff=7, select=s).set_index("patient")
          for s in ("first", "last", "largest", "smallest")}
    assert list(by["first"].index) == ["a", "b", "c"]
    assert by["first"].loc["a", "session_pre"] == 3 and by["last"].loc["a", "session_pre"] == 6
    assert by["largest"].loc["a", "magnitude"] == 11 and by["smallest"].loc["a", "magnitude"] == 8
    assert by["first"].loc["a", "n_events"] == 2
    assert by["first"].loc["b", "reason"] == "fewer than 4 occasions"
    assert by["first"].loc["c", "reason"].startswith("no interval could be decided")
    assert not by["first"].loc["c", "has_event"]


def test_cutoff_sources():
    data = course([20, 21, 19, 12, 11, 12, 11])
    # PHQ-9: no SD in the registry, so the fixed reliable-change rule (6 points)
    assert sudden_changes(data, instrument="phq9").attrs["cutoff"] == 6
    value = float(sudden_change_cutoff(sd=5.0, reliability=0.89))
    assert sudden_changes(data, sd=5.0, reliability=0.89).attrs["cutoff"] == value
    assert value == pytest.approx(1.96 * 5.0 * np.sqrt(2 * 0.11))
    with pytest.raises(exc.ParameterError, match="cutoff"):
        sudden_changes(data)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"kind": "worse"}, "kind"),
        ({"cutoff": -7}, "cutoff"),
        ({"cutoff": "7"}, "cutoff"),
        ({"relative": -0.25}, "relative"),
        ({"alpha": 1.5}, "alpha"),
        ({"critical_value": 2.776}, "critical_value"),
        ({"critical_value": 0, "adjust": False}, "critical_value"),
        ({"adjust": "no"}, "adjust"),
        ({"criterion3": 1}, "criterion3"),
        ({"include_first_interval": None}, "include_first_interval"),
        ({"better": "up"}, "better"),
        ({"select": "biggest"}, "select"),
    ],
)
def test_bad_parameters_name_the_parameter(params, name):
    options = {"cutoff": 7, **params}
    with pytest.raises((exc.ParameterError, exc.ParameterTypeError), match=repr(name)):
        sudden_changes(course(GAIN), **options)


def test_bad_columns_raise_library_errors():
    with pytest.raises(exc.ColumnNotFoundError, match="visit"):
        sudden_changes(course(GAIN), time="visit", cutoff=7)
    with pytest.raises(exc.DuplicateRowsError):
        sudden_changes(course(GAIN, sessions=[1, 1, 2, 3, 4, 5, 6, 7]), cutoff=7)
    with pytest.raises(exc.OutOfRangeError):
        sudden_changes(course([30] * 6), instrument="phq9")


# --------------------------------------------------------------------------------------------
# Properties (hypothesis, derandomized)
# --------------------------------------------------------------------------------------------

scores_strategy = st.lists(
    st.one_of(st.integers(0, 40).map(float), st.just(np.nan)), min_size=1, max_size=10
)
cohorts = st.lists(scores_strategy, min_size=1, max_size=6)


def cohort_frame(courses: list[list[float]]) -> pd.DataFrame:
    return pd.concat(
        [course(c, patient=f"p{i}") for i, c in enumerate(courses)], ignore_index=True
    )


@settings(max_examples=60, derandomize=True, deadline=None)
@given(cohorts, st.sampled_from(["gain", "loss"]))
def test_direction_symmetry(courses, kind):
    data = cohort_frame(courses)
    lower = sudden_changes(data, kind=kind, cutoff=5)
    flipped = data.assign(score=-data["score"])
    higher = sudden_changes(flipped, kind=kind, cutoff=5, better="higher")
    cols = ["patient", "session_pre", "session_post", "magnitude", "reversal", "tx_change",
            "n_events", "detectable_at", "critical_value"]
    pd.testing.assert_frame_equal(lower[cols], higher[cols])
    pd.testing.assert_series_equal(lower["score_pre"], -higher["score_pre"])


@settings(max_examples=40, derandomize=True, deadline=None)
@given(cohorts, st.randoms(use_true_random=False))
def test_row_order_and_id_relabelling(courses, random):
    data = cohort_frame(courses)
    expected = sudden_changes(data, cutoff=5, kind="loss")
    shuffled = data.sample(frac=1.0, random_state=random.randint(0, 10**6))
    pd.testing.assert_frame_equal(sudden_changes(shuffled, cutoff=5, kind="loss"), expected)
    relabel = {f"p{i}": f"q{i}" for i in range(len(courses))}
    renamed = sudden_changes(data.assign(patient=data["patient"].map(relabel)), cutoff=5,
                             kind="loss")
    pd.testing.assert_frame_equal(
        renamed.drop(columns="patient"), expected.drop(columns="patient")
    )
    assert renamed["patient"].tolist() == expected["patient"].map(relabel).tolist()


@settings(max_examples=40, derandomize=True, deadline=None)
@given(cohorts)
def test_by_person_consistent_with_events(courses):
    data = cohort_frame(courses)
    events = sudden_changes(data, cutoff=5)
    by = sudden_changes_by_person(data, cutoff=5, select="first")
    assert len(by) == len(courses)
    assert by["n_events"].sum() == len(events)
    counts = events.groupby("patient").size()
    assert by.set_index("patient").loc[counts.index, "n_events"].tolist() == counts.tolist()


# --------------------------------------------------------------------------------------------
# The causal detector
# --------------------------------------------------------------------------------------------


def screen(data: pd.DataFrame, **params) -> pd.DataFrame:
    return ia.screen(data, detectors=[SuddenLoss(cutoff=7, **params)])


def test_detector_raises_warning_then_alarm_when_confirmed():
    data = course([10, 9, 10, 20, 21, 20, 21])
    events = screen(data)
    assert events[["session", "level"]].values.tolist() == [[4, "warning"], [5, "alarm"]]
    assert "between session 3 and 4" in events["evidence"].iloc[1]
    assert "detectable at session 5" in events["evidence"].iloc[1]
    assert screen(data, early_warning=False)["session"].tolist() == [5]
    assert screen(data, criterion3=False)[["session", "level"]].values.tolist() == [
        [4, "alarm"]]


def test_detector_alarm_at_n3_when_n2_missing():
    data = course([10, 9, 10, 20, np.nan, 20, 21])
    events = screen(data, early_warning=False)
    assert events["session"].tolist() == [6]


def test_detector_is_superset_of_retrospective_losses_and_causal():
    rng = np.random.default_rng(7)
    jump_at = rng.integers(2, 12, 150)
    jump = np.where(rng.random(150) < 0.5, rng.integers(6, 14, 150), 0)
    scores = rng.normal(12, 2.5, (150, 12)) + jump[:, None] * (np.arange(12) >= jump_at[:, None])
    scores = np.clip(np.round(scores), 0, 40)
    scores[rng.random(scores.shape) < 0.1] = np.nan
    data = pd.DataFrame({"patient": np.repeat(np.arange(150), 12),
                         "session": np.tile(np.arange(1, 13), 150), "score": scores.ravel()})
    alarms = screen(data, early_warning=False)
    retrospective = sudden_changes(data, kind="loss", cutoff=7)
    assert len(retrospective) > 0
    found = set(zip(alarms["patient"], alarms["evidence"].str.extract(
        r"between session (\d+) and")[0].astype(int), strict=True))
    assert set(zip(retrospective["patient"], retrospective["session_pre"], strict=True)) <= found
    full = screen(data)
    for t in (3, 5, 8, 11):
        truncated = screen(data[data["session"] <= t])
        expected = full[full["session"].astype(float) <= t].reset_index(drop=True)
        pd.testing.assert_frame_equal(truncated, expected)


def test_detector_skips_without_cutoff_source():
    data = course([10, 9, 10, 20, 21, 20, 21])
    events = ia.screen(data, detectors=[SuddenLoss()])
    assert events.attrs["skipped"][0]["reason"].startswith("needs a cut-off")


def test_detector_bad_parameters():
    for params in SuddenLoss._invalid_params:
        with pytest.raises((exc.ParameterError, exc.ParameterTypeError)):
            SuddenLoss(**params)


def test_module_all_is_public():
    assert set(sc.__all__) >= {"sudden_changes", "sudden_changes_by_person",
                               "sudden_change_intervals", "sudden_change_cutoff",
                               "count_sudden_change_intervals"}
