"""change_summary(), wilson_interval() and ha_group_summary()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from iatrogenic.core.reliable_change import reliable_change
from iatrogenic.core.summary import change_summary, ha_group_summary, wilson_interval
from iatrogenic.exceptions import ColumnNotFoundError, ParameterError, ParameterTypeError


def data() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 60
    pre = rng.normal(25, 6, n).round()
    post = (pre - rng.normal(6, 7, n)).round()
    return pd.DataFrame({
        "patient": np.repeat(np.arange(n), 2),
        "session": np.tile([0, 1], n),
        "score": np.ravel(np.column_stack([pre, post])),
        "arm": np.repeat(np.where(np.arange(n) % 3 == 0, "b", "a"), 2),
    })


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
@pytest.mark.parametrize(("count", "total"), [(0, 10), (3, 10), (10, 10), (18, 40), (1, 1)])
def test_wilson_matches_statsmodels(count: int, total: int, confidence: float) -> None:
    low, high = wilson_interval(count, total, confidence=confidence)
    ref = proportion_confint(count, total, alpha=1 - confidence, method="wilson")
    assert float(low) == pytest.approx(ref[0], abs=1e-12)
    assert float(high) == pytest.approx(ref[1], abs=1e-12)


def test_summary_counts_and_intervals() -> None:
    result = reliable_change(data(), reliability=0.8, cutoff_type="a")
    summary = change_summary(result)
    assert summary["category"].tolist() == ["recovered", "improved", "unchanged",
                                            "deteriorated", "harmed"]
    counts = result["category"].value_counts()
    assert summary["n"].tolist() == [int(counts.get(c, 0)) for c in summary["category"]]
    assert summary["percent"].sum() == pytest.approx(1.0)
    ref = proportion_confint(summary["n"], summary["n"].sum(), method="wilson")
    np.testing.assert_allclose(summary["ci_low"], ref[0], atol=1e-12)
    np.testing.assert_allclose(summary["ci_high"], ref[1], atol=1e-12)
    assert change_summary(result, digits=2)["percent"].tolist() == list(
        np.round(summary["percent"], 2))


def test_grouped_summary_and_zero_counts() -> None:
    result = reliable_change(data(), reliability=0.8, group="arm")
    summary = change_summary(result)
    assert summary["group"].tolist() == ["a"] * 3 + ["b"] * 3
    assert summary["n"].sum() == 60
    by_group = summary.groupby("group")["percent_by_group"].sum()
    np.testing.assert_allclose(by_group, 1.0)
    assert summary["percent"].sum() == pytest.approx(1.0)
    # a category nobody is in still has its row
    single = reliable_change(data().query("patient < 2"), reliability=0.8, sd=6)
    assert len(change_summary(single)) == 3


def test_not_evaluable_patients_are_left_out() -> None:
    frame = data()
    frame.loc[frame.index[-1], "score"] = np.nan
    result = reliable_change(frame, reliability=0.8)
    summary = change_summary(result)
    assert summary["n"].sum() == 59
    assert summary.attrs["n_not_evaluable"] == 1


def test_ha_group_summary_formula() -> None:
    result = reliable_change(data(), reliability=0.8, method="HA", cutoff_type="a")
    ha = ha_group_summary(result)
    assert ha["category"].tolist() == ["changed", "functional"]
    assert ((ha["percent"] > 0) & (ha["percent"] < 1)).all()
    grouped = ha_group_summary(reliable_change(data(), reliability=0.8, method="HA",
                                               cutoff_type="a", group="arm"))
    assert grouped["group"].tolist() == ["a", "a", "b", "b"]


def test_summary_errors() -> None:
    result = reliable_change(data(), reliability=0.8)
    with pytest.raises(ParameterTypeError, match="'result'"):
        change_summary(data())
    with pytest.raises(ColumnNotFoundError, match="'nope'"):
        change_summary(result, by="nope")
    with pytest.raises(ParameterError, match="'confidence'"):
        change_summary(result, confidence=1.5)
    with pytest.raises(ParameterError, match="method='HA'"):
        ha_group_summary(result)


def test_wilson_bounds_are_exact_at_zero_and_all():
    # count 0 and count = total: the Wilson bounds are exactly 0 and 1 (rounding gave -6.9e-18)
    low, high = wilson_interval([0, 40, 5, 0], [40, 40, 40, 0])
    assert low[0] == 0.0 and high[1] == 1.0
    assert 0 < low[2] < high[2] < 1
    assert np.isnan(low[3]) and np.isnan(high[3])
