"""Harmful therapists in the simulator and ``ia.evaluate_providers``."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic.datasets import simulate
from iatrogenic.datasets.simulate import THERAPIST_TRUTH_COLUMNS
from iatrogenic.exceptions import ColumnNotFoundError, InvalidValueError, ParameterError
from iatrogenic.providers.evaluation import PROVIDER_EVALUATION_COLUMNS

# Hashes of simulate() outputs computed before the harmful-therapist option existed: the default
# output must not change for any seed.
BEFORE = {
    (300, 10, 3): "fe97a0ed3e4cb9f5b5f3dd4189d75816dcf7d8e291541bafc3560546ebbbf4c8",
    (200, 5, 11): "a3a2a2459a91e1411ad79f2d49e7b882e7c889e24fd20c3b7657bb9639e192fe",
}


def _hash(*frames: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        digest.update(str(list(frame.columns)).encode())
        digest.update(str(list(frame.dtypes)).encode())
    return digest.hexdigest()


def test_defaults_unchanged() -> None:
    data, truth = simulate(n_patients=300, n_therapists=10, seed=3)
    assert _hash(data, truth) == BEFORE[(300, 10, 3)]
    data, truth = simulate(n_patients=200, n_therapists=5, seed=11, deterioration_rate=0.2)
    assert _hash(data, truth) == BEFORE[(200, 5, 11)]
    assert "therapists" not in truth.attrs
    again, truth2 = simulate(
        n_patients=200, n_therapists=5, seed=11, deterioration_rate=0.2,
        harmful_therapists=0, harmful_from_halfway=0,
    )
    assert again.equals(data) and truth2.equals(truth)


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    data, truth = simulate(
        n_patients=4000, n_therapists=40, seed=3, harmful_therapists=4, harmful_from_halfway=4
    )
    events = ia.screen_providers(
        data, therapist="therapist", score="phq9", instrument="phq9", order="date"
    )
    assert isinstance(events, pd.DataFrame)
    return data, truth, events


def test_therapist_truth(cohort: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    data, truth, _ = cohort
    tt = truth.attrs["therapists"]
    assert tt.columns.tolist() == list(THERAPIST_TRUTH_COLUMNS)
    assert len(tt) == 40 and tt["therapist"].dtype == data["therapist"].dtype
    assert tt["pattern"].value_counts().to_dict() == {"none": 32, "start": 4, "halfway": 4}
    assert (tt["harmful"] == (tt["pattern"] != "none")).all()
    caseload = data.groupby("therapist", observed=False)["patient"].nunique()
    assert (tt.set_index("therapist")["n_patients"] == caseload).all()
    start, half, none = (tt[tt["pattern"] == k] for k in ("start", "halfway", "none"))
    assert (start["onset"] == 1).all()
    assert (half["onset"] == half["n_patients"] // 2 + 1).all()
    assert (none["onset"] == 0).all() and none["onset_date"].isna().all()
    assert (none["n_injected"] == 0).all() and tt.loc[tt["harmful"], "n_injected"].sum() > 20
    # The onset date is the finishing date of the onset patient (its position in date order).
    last = data.groupby("patient", observed=True).agg(t=("therapist", "first"), d=("date", "max"))
    for row in half.itertuples():
        finish = np.sort(last.loc[last["t"] == row.therapist, "d"].to_numpy())
        assert finish[row.onset - 1] == row.onset_date
    # The extra harm is ordinary injected deterioration: the other harms do not move.
    _, plain = simulate(n_patients=4000, n_therapists=40, seed=3)
    other = truth[truth["harm"] != "deterioration"].reset_index(drop=True)
    assert other.equals(plain[plain["harm"] != "deterioration"].reset_index(drop=True))
    extra = (truth["harm"] == "deterioration").sum() - (plain["harm"] == "deterioration").sum()
    assert extra == tt["n_injected"].sum()


def test_simulator_checks() -> None:
    with pytest.raises(ParameterError, match="harmful therapists"):
        simulate(n_patients=50, n_therapists=3, harmful_therapists=2, harmful_from_halfway=2)
    with pytest.raises(ParameterError):
        simulate(n_patients=50, n_therapists=3, harmful_therapists=1, harmful_odds_ratio=0.5)


def test_cusum_beats_funnel(cohort: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    data, truth, events = cohort
    table = ia.evaluate_providers(events, truth.attrs["therapists"], data=data)
    assert table.columns.tolist() == list(PROVIDER_EVALUATION_COLUMNS)
    cusum, funnel = (table.set_index("detector").loc[k] for k in ia.providers.evaluation
                     .PROVIDER_DETECTORS)
    assert cusum["n_harmful"] == 8 and cusum["n_ordinary"] == 32
    assert cusum["sensitivity"] >= 0.5
    assert cusum["sensitivity"] >= funnel["sensitivity"]
    assert cusum["false_flags"] <= 3 and funnel["false_flags"] <= 3
    assert cusum["sensitivity_low"] <= cusum["sensitivity"] <= cusum["sensitivity_high"]
    assert 1 <= cusum["median_patients_to_detection"] <= 100
    assert cusum["n_timed"] == cusum["detected"]


def _tiny() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    day = pd.Timestamp("2024-01-01")
    truth = pd.DataFrame(
        {
            "therapist": ["A", "B", "C", "D", "E"],
            "harmful": [True, True, True, False, False],
            "pattern": ["start", "halfway", "halfway", "none", "none"],
            "onset": [1, 3, 2, 0, 0],
            "onset_date": [day, day + pd.Timedelta(days=30), day + pd.Timedelta(days=10),
                           pd.NaT, pd.NaT],
        }
    )
    # Patients finish on days 0, 10, 20, 30, 40 (A, B), 0, 10 (C), 0 (D, E); two rows each.
    rows = []
    for t, n in (("A", 5), ("B", 5), ("C", 2), ("D", 1), ("E", 1)):
        for k in range(n):
            for extra in (-7, 0):
                rows.append({"therapist": t, "patient": f"{t}{k}",
                             "date": day + pd.Timedelta(days=10 * k + extra)})
    data = pd.DataFrame(rows)
    at = lambda d: day + pd.Timedelta(days=d)  # noqa: E731
    events = pd.DataFrame(
        {
            "therapist": ["A", "B", "B", "D", "A", "E"],
            "detector": ["provider_cusum"] * 4 + ["provider_funnel"] * 2,
            "session": [at(20), at(10), at(40), at(0), at(40), at(0)],
            "level": ["alarm", "alarm", "alarm", "alarm", "alarm", "warning"],
        }
    )
    return events, truth, data


def test_exact_tiny() -> None:
    events, truth, data = _tiny()
    table = ia.evaluate_providers(events, truth, data=data).set_index("detector")
    cusum = table.loc["provider_cusum"]
    # A detected from the start at its 3rd patient; B flagged before its onset (patient 3, day
    # 30), then detected at patient 5: 3 patients from the onset; C never flagged; D a false flag.
    assert cusum["detected"] == 2 and cusum["n_harmful"] == 3
    assert cusum["sensitivity"] == pytest.approx(2 / 3)
    assert (cusum["detected_start"], cusum["n_start"]) == (1, 1)
    assert (cusum["detected_halfway"], cusum["n_halfway"]) == (1, 2)
    assert cusum["flagged_before_onset"] == 1
    assert cusum["false_flags"] == 1 and cusum["false_flag_rate"] == 0.5
    assert cusum["median_patients_to_detection"] == 3.0 and cusum["n_timed"] == 2
    low, high = ia.core.summary.wilson_interval(2, 3)
    assert cusum["sensitivity_low"] == pytest.approx(float(low))
    assert cusum["sensitivity_high"] == pytest.approx(float(high))
    funnel = table.loc["provider_funnel"]
    # Only alarms count by default: E's warning is not a flag.
    assert funnel["detected"] == 1 and funnel["false_flags"] == 0
    assert funnel["median_patients_to_detection"] == 5.0
    with_warnings = ia.evaluate_providers(
        events, truth, levels=("alarm", "warning")
    ).set_index("detector")
    assert with_warnings.loc["provider_funnel", "false_flags"] == 1
    assert with_warnings["median_patients_to_detection"].isna().all()  # no data: untimed


def test_no_events_and_errors() -> None:
    events, truth, data = _tiny()
    empty = ia.evaluate_providers(events.iloc[:0], truth)
    assert empty["detected"].tolist() == [0, 0] and empty["false_flags"].tolist() == [0, 0]
    with pytest.raises(ColumnNotFoundError):
        ia.evaluate_providers(events.drop(columns="level"), truth)
    with pytest.raises(ColumnNotFoundError):
        ia.evaluate_providers(events, truth.drop(columns="pattern"))
    with pytest.raises(InvalidValueError, match="missing from"):
        ia.evaluate_providers(events, truth[truth["therapist"] != "D"])
    with pytest.raises(ParameterError):
        ia.evaluate_providers(events, truth, levels=("loud",))
    with pytest.raises(ColumnNotFoundError):
        ia.evaluate_providers(events, truth, data=data, order="finished")
