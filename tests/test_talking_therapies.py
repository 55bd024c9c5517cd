"""NHS Talking Therapies paired outcomes on hand-made data covering every branch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from iatrogenic.core.talking_therapies import (
    talking_therapies_outcomes,
    talking_therapies_summary,
)
from iatrogenic.exceptions import ColumnNotFoundError, OutOfRangeError, ParameterError

# patient: (phq9 by session, gad7 by session), comment
CASES = {
    "recovered_reliably": ([16, 12, 8], [12, 9, 6]),      # case -> not case, -8 / -6
    "recovered_not_reliably": ([11, 9], [8, 7]),          # case -> not case, -2 / -1
    "improved_still_case": ([22, 15], [15, 11]),          # -7 PHQ: reliable improvement
    "mixed": ([20, 12], [5, 10]),                         # PHQ -8 better, GAD +5 worse
    "deteriorated_phq": ([8, 14], [5, 6]),                # not case at start, PHQ +6
    "deteriorated_gad": ([12, 12], [8, 12]),              # GAD +4 exactly (inclusive)
    "gad_only_case": ([5, 4], [9, 5]),                    # case by GAD-7 >= 8 only
    "below_threshold_change": ([15, 10], [10, 7]),        # -5 / -3: not reliable
    "one_session": ([18], [14]),                          # not finished
    "missing_anxiety": ([18, 9], [14, np.nan]),           # one paired session only
}


def frame() -> pd.DataFrame:
    rows = []
    for pid, (phq, gad) in CASES.items():
        for session, (p, g) in enumerate(zip(phq, gad, strict=True), start=1):
            rows.append({"patient": pid, "session": session, "phq9": p, "gad7": g})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def out() -> pd.DataFrame:
    return talking_therapies_outcomes(frame()).set_index("patient")


def flag(out: pd.DataFrame, column: str, pid: str):
    value = out.loc[pid, column]
    return None if pd.isna(value) else bool(value)


def test_caseness_and_finished(out) -> None:
    assert flag(out, "caseness_pre", "gad_only_case") is True  # GAD-7 8 or more
    assert flag(out, "caseness_pre", "deteriorated_phq") is False  # PHQ 8 < 10, GAD 5 < 8
    assert flag(out, "caseness_post", "improved_still_case") is True
    assert not out.loc["one_session", "finished"]
    assert not out.loc["missing_anxiety", "finished"]
    assert out.loc["missing_anxiety", "n_sessions"] == 1
    assert out.loc["one_session", "reason"].startswith("fewer than 2 sessions")
    assert out["reason"].notna().sum() == 2


@pytest.mark.parametrize(
    ("pid", "recovered", "improvement", "deterioration", "reliable_recovery"),
    [
        ("recovered_reliably", True, True, False, True),
        ("recovered_not_reliably", True, False, False, False),
        ("improved_still_case", False, True, False, False),
        ("mixed", False, False, True, False),          # deterioration on one blocks improvement
        ("deteriorated_phq", None, False, True, None),  # not a case: out of recovery
        ("deteriorated_gad", False, False, True, False),
        ("gad_only_case", True, True, False, True),     # GAD 9 -> 5: -4 reliable
        ("below_threshold_change", False, False, False, False),
        ("one_session", None, None, None, None),
    ],
)
def test_branches(out, pid, recovered, improvement, deterioration, reliable_recovery) -> None:
    assert flag(out, "recovered", pid) is recovered
    assert flag(out, "reliable_improvement", pid) is improvement
    assert flag(out, "reliable_deterioration", pid) is deterioration
    assert flag(out, "reliable_recovery", pid) is reliable_recovery


def test_service_summary_denominators(out) -> None:
    summary = talking_therapies_summary(out.reset_index()).set_index("measure")
    finished, not_case = 8, 1
    assert summary.attrs == {"finished": finished, "not_at_caseness": not_case}
    assert summary.loc["recovery", "denominator"] == finished - not_case
    assert summary.loc["recovery", "numerator"] == 3
    assert summary.loc["reliable_improvement", "denominator"] == finished
    assert summary.loc["reliable_improvement", "numerator"] == 3
    assert summary.loc["reliable_deterioration", "numerator"] == 3
    assert summary.loc["reliable_recovery", "numerator"] == 2
    assert summary.loc["recovery", "rate"] == pytest.approx(3 / 7)


def test_thresholds_and_options() -> None:
    data = frame()
    strict = talking_therapies_outcomes(data, anxiety_points=5).set_index("patient")
    assert flag(strict, "reliable_deterioration", "deteriorated_gad") is False
    three = talking_therapies_outcomes(data, min_sessions=3).set_index("patient")
    assert three["finished"].sum() == 1
    assert talking_therapies_outcomes(data).attrs["depression_points"] == 6


def test_errors() -> None:
    data = frame()
    with pytest.raises(ColumnNotFoundError, match="'gad'"):
        talking_therapies_outcomes(data, anxiety="gad")
    with pytest.raises(OutOfRangeError, match="'gad7'"):
        talking_therapies_outcomes(data.assign(gad7=data["gad7"] + 30))
    with pytest.raises(ParameterError, match="'min_sessions'"):
        talking_therapies_outcomes(data, min_sessions=0)
    with pytest.raises(ParameterError, match="talking_therapies_outcomes"):
        talking_therapies_summary(data)
