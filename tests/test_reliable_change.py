"""reliable_change(): documented differences from clinicalsignificance, rules, reasons, errors
and properties (hypothesis, derandomised)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iatrogenic.core.rci import critical_difference, critical_value, rci_jt
from iatrogenic.core.reliable_change import reliable_change
from iatrogenic.exceptions import (
    ColumnNotFoundError,
    ColumnTypeError,
    EmptyDataError,
    InvalidValueError,
    OutOfRangeError,
    ParameterError,
    UnknownNameError,
)

PROPERTY = settings(max_examples=40, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def long(pre: list[float], post: list[float]) -> pd.DataFrame:
    n = len(pre)
    return pd.DataFrame({
        "patient": np.repeat(np.arange(1, n + 1), 2),
        "session": np.tile([1, 2], n),
        "score": np.ravel(np.column_stack([pre, post])),
    })


# --- documented differences from clinicalsignificance -------------------------------------

def test_cutoff_b_uses_functional_sd_by_default(refs_dir) -> None:
    claus = pd.read_csv(refs_dir / "datasets" / "clinicalsignificance__claus_2020.csv")
    common = dict(patient="id", time="time", score="bdi", pre=1, post=4, method=None,
                  cutoff_type="b", functional=(7.69, 7.52))
    ours = reliable_change(claus, **common)
    r_like = reliable_change(claus, **common, cutoff_sd="clinical")
    # Jacobson & Truax (1991): b = M_functional + 2 SD_functional (lower is better)
    assert ours.attrs["cutoff"] == pytest.approx(7.69 + 2 * 7.52, abs=1e-12)
    # clinicalsignificance 3.0.0 (stat_claus_bdi_JT_b): M_functional + 2 SD_clinical
    scalars = pd.read_csv(refs_dir / "clinicalsignificance" / "cs_scalars.csv", dtype=str)
    r_value = float(scalars.query("call_id == 'stat_claus_bdi_JT_b' and "
                                  "name == 'cutoff_results.info.value'")["value"].iloc[0])
    assert r_like.attrs["cutoff"] == pytest.approx(r_value, abs=1e-12)
    assert r_like.attrs["cutoff"] == pytest.approx(7.69 + 2 * r_like.attrs["sd_clinical"])
    assert abs(ours.attrs["cutoff"] - r_like.attrs["cutoff"]) > 1.0


def test_ha_cutoff_b_also_switches_sd() -> None:
    rng = np.random.default_rng(3)
    pre = rng.normal(30, 6, 60).round()
    data = long(list(pre), list((pre - rng.normal(8, 6, 60)).round()))
    common = dict(method="HA", reliability=0.85, cutoff_type="b", functional=(8.0, 4.0))
    ours = reliable_change(data, **common)
    r_like = reliable_change(data, **common, cutoff_sd="clinical")
    a = ours.attrs
    se = a["se_measurement_cutoff"]
    r_func = (4.0**2 - se**2) / 4.0**2
    assert a["cutoff"] == pytest.approx(8.0 + 2 * 4.0 * math.sqrt(r_func))
    assert r_like.attrs["cutoff"] == pytest.approx(
        8.0 + 2 * a["sd_clinical"] * math.sqrt(a["reliability_clinical"]))


def test_ha_harmed_is_flagged() -> None:
    # clinicalsignificance's per-patient HA output sets harmed = FALSE for everybody; a patient
    # who starts in the functional range and reliably ends in the clinical range while reliably
    # deteriorating is "harmed" here (it would be "deteriorated" in R).
    rng = np.random.default_rng(7)
    pre = [*list(rng.normal(30, 5, 40).round()), 5.0]
    post = [*list((np.array(pre[:-1]) - rng.normal(10, 6, 40)).round()), 45.0]
    out = reliable_change(long(pre, post), method="HA", reliability=0.9, cutoff_type="a")
    last = out.iloc[-1]
    assert not last["clinical_pre"] and last["clinical_post"] and last["harmed"]
    assert last["category"] == "harmed" and not last["deteriorated"]


def test_nk_reliability_post_defaults_to_reliability() -> None:
    data = long([20, 18, 25, 30, 12], [10, 19, 15, 29, 20])
    a = reliable_change(data, method="NK", reliability=0.8)
    b = reliable_change(data, method="NK", reliability=0.8, reliability_post=0.8)
    pd.testing.assert_frame_equal(a, b)


# --- formulas ------------------------------------------------------------------------------

def test_critical_difference_matches_jt() -> None:
    sd, r = 6.0, 0.84
    diff = critical_difference(sd, r)
    assert diff == pytest.approx(1.959963984540054 * sd * math.sqrt(2 * (1 - r)))
    rci, _consts = rci_jt(np.array([20.0, 20.0]), np.array([20 - diff * 1.0001,
                                                           20 - diff * 0.9999]), sd=sd,
                         reliability=r)
    assert abs(rci[0]) > critical_value() > abs(rci[1])
    assert critical_difference(sd, r, alpha=0.1) < diff


def test_fixed_rule_is_inclusive_phq9() -> None:
    data = long([20, 20, 10, 10, 15], [14, 15, 16, 15, 15])
    out = reliable_change(data, instrument="phq9", rule="fixed")
    assert out["category"].tolist() == ["improved", "unchanged", "deteriorated", "unchanged",
                                        "unchanged"]
    np.testing.assert_allclose(out["rci"], np.array([-6, -5, 6, 5, 0]) / 6)
    assert out.attrs["points"] == 6
    with pytest.raises(ParameterError, match="fixed_points"):
        reliable_change(data, rule="fixed")
    assert reliable_change(data, rule="fixed", fixed_points=5)["category"].iloc[1] == "improved"


def test_boundary_applies_to_cutoff() -> None:
    data = long([10, 20], [2, 10])
    strict = reliable_change(data, reliability=0.8, sd=5.0, cutoff=10)
    inclusive = reliable_change(data, reliability=0.8, sd=5.0, cutoff=10, boundary="inclusive")
    assert strict["clinical_pre"].tolist() == [False, True]
    assert strict["functional_post"].tolist() == [True, False]
    assert inclusive["clinical_pre"].tolist() == [True, True]
    assert inclusive["functional_post"].tolist() == [True, True]
    assert inclusive["category"].tolist() == ["recovered", "recovered"]
    assert strict["category"].tolist() == ["improved", "improved"]


def test_caseness_cutoff_from_instrument() -> None:
    data = long([10, 9, 15], [9, 3, 10])
    out = reliable_change(data, instrument="phq9", sd=5.0, cutoff="caseness")
    assert out["clinical_pre"].tolist() == [True, False, True]  # PHQ-9 >= 10 is a case
    assert out["functional_post"].tolist() == [True, True, False]
    assert out.attrs["cutoff"] == 10


def test_instrument_supplies_reliability_and_explicit_overrides() -> None:
    data = long([20, 18, 25], [10, 19, 15])
    assert reliable_change(data, instrument="phq9").attrs["reliability"] == 0.89
    assert reliable_change(data, instrument="phq9", reliability=0.7).attrs["reliability"] == 0.7
    higher = reliable_change(data, instrument="phq9", better="higher")
    assert higher["category"].iloc[0] == "deteriorated"


def test_hlm_needs_three_scores_per_patient() -> None:
    # HLM (clinicalsignificance) uses only patients with at least 3 observations.
    with pytest.raises(EmptyDataError, match="3"):
        reliable_change(long([1, 2], [3, 4]), method="HLM")


# --- every patient keeps a row ---------------------------------------------------------------

def test_reasons_for_patients_not_evaluable() -> None:
    data = pd.DataFrame({
        "patient": ["a", "a", "a", "b", "b", "c", "d", "d", "d"],
        "session": [1, 2, 4, 1, 4, 2, 1, 2, 4],
        "score": [20, 15, 10, np.nan, 12, 9, 18, 17, np.nan],
    })
    out = reliable_change(data, reliability=0.8, sd=5, pre=1, post=4)
    assert out["patient"].tolist() == ["a", "b", "c", "d"]
    assert pd.isna(out["reason"].iloc[0])
    assert out["reason"].tolist()[1:] == ["no score at pre occasion 1",
                                          "no score at pre occasion 1 nor at post occasion 4",
                                          "no score at post occasion 4"]
    assert out["category"].isna().tolist() == [False, True, True, True]
    assert out["improved"].isna().tolist() == [False, True, True, True]
    assert out.attrs["n_original"] == 4 and out.attrs["n_used"] == 1
    default = reliable_change(data, reliability=0.8, sd=5)
    assert default["reason"].astype(object).where(default["reason"].notna(), None).tolist() == [
        None, "only one observed score", "only one observed score", None]
    assert default.loc[3, "post"] == 17
    only_pre = reliable_change(data, reliability=0.8, sd=5, pre=2)
    assert only_pre.loc[0, "post"] == 10 and only_pre.loc[0, "pre"] == 15
    assert only_pre.loc[2, "reason"] == "no observed score after pre occasion 2"
    only_post = reliable_change(data, reliability=0.8, sd=5, post=2)
    assert only_post.loc[3, "pre"] == 18 and only_post.loc[0, "pre"] == 20


def test_text_occasions_and_group(refs_dir) -> None:
    jac = pd.read_csv(refs_dir / "datasets" / "clinicalsignificance__jacobson_1989.csv")
    out = reliable_change(jac, patient="subject", time="time", score="gds", pre="pre",
                          post="post", reliability=0.85)
    assert len(out) == 30 and out["reason"].notna().sum() == 4
    claus = pd.read_csv(refs_dir / "datasets" / "clinicalsignificance__claus_2020.csv")
    grouped = reliable_change(claus, patient="id", time="time", score="bdi", pre=1, post=4,
                              reliability=0.801, group="treatment")
    assert set(grouped["group"]) == {"TAU", "PA"}


# --- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(), ParameterError, "reliability"),
        (dict(reliability=0.8, method="XX"), ParameterError, "'method'"),
        (dict(reliability=1.2), ParameterError, "'reliability'"),
        (dict(reliability=0.8, pre=9), ParameterError, "'pre'"),
        (dict(reliability=0.8, pre=1, post=1), ParameterError, "same occasion"),
        (dict(reliability=0.8, score="phq"), ColumnNotFoundError, "'phq'"),
        (dict(method=None), ParameterError, "cut-off"),
        (dict(reliability=0.8, cutoff_type="c"), ParameterError, "functional"),
        (dict(reliability=0.8, functional=(5, 5)), ParameterError, "'functional'"),
        (dict(reliability=0.8, cutoff="case"), ParameterError, "'cutoff'"),
        (dict(reliability=0.8, cutoff="caseness"), ParameterError, "caseness"),
        (dict(reliability=0.8, alpha=1.5), ParameterError, "'alpha'"),
        (dict(reliability=0.8, better="up"), ParameterError, "'better'"),
        (dict(reliability=0.8, boundary="loose"), ParameterError, "'boundary'"),
        (dict(reliability=0.8, cutoff_sd="x"), ParameterError, "'cutoff_sd'"),
        (dict(instrument="nope"), UnknownNameError, "nope"),
        (dict(reliability=0.8, functional=(5, -1), cutoff_type="c"), ParameterError, "sd"),
    ],
)
def test_errors(kwargs, error, match) -> None:
    data = long([20, 18, 25], [10, 19, 15])
    with pytest.raises(error, match=match):
        reliable_change(data, **kwargs)


def test_data_errors() -> None:
    data = long([20, 18, 25], [10, 19, 15])
    bad = data.assign(score=data["score"].astype(object))
    bad.loc[0, "score"] = "x"
    with pytest.raises(ColumnTypeError, match="'score'"):
        reliable_change(bad, reliability=0.8)
    with pytest.raises(OutOfRangeError, match="phq9"):
        reliable_change(long([20, 40], [10, 2]), instrument="phq9")
    # no patient with both scores: every patient keeps a row and a reason (issue 10)
    none_paired = reliable_change(long([20, np.nan], [np.nan, 3]), reliability=0.8, sd=5)
    assert none_paired["category"].isna().all() and none_paired["reason"].notna().all()
    assert none_paired.attrs["not_evaluated"] == "no patient has both a pre and a post score"
    with pytest.raises(InvalidValueError, match="SD"):
        reliable_change(long([20], [10]), reliability=0.8)
    grouped = data.assign(arm=["a", "b", "a", "a", "b", "b"])
    with pytest.raises(InvalidValueError, match="'arm'"):
        reliable_change(grouped, reliability=0.8, group="arm")


# --- properties ------------------------------------------------------------------------------

scores = st.lists(st.integers(0, 27), min_size=8, max_size=30)


def frame_from(values: list[int]) -> pd.DataFrame:
    n = len(values) // 2
    return long([float(v) for v in values[:n]], [float(v) for v in values[n:2 * n]])


def usable(data: pd.DataFrame) -> bool:
    pre = data.loc[data["session"] == 1, "score"]
    return pre.std() > 0


@PROPERTY
@given(values=scores, seed=st.integers(0, 1000), method=st.sampled_from(["JT", "HA", "GLN"]))
def test_row_order_and_relabelling_invariance(values, seed, method) -> None:
    data = frame_from(values)
    if not usable(data):
        return
    kwargs = dict(reliability=0.8, method=method, cutoff_type="a")
    try:
        base = reliable_change(data, **kwargs)
    except InvalidValueError:
        return
    before = data.copy()
    shuffled = data.sample(frac=1.0, random_state=seed)
    pd.testing.assert_frame_equal(reliable_change(shuffled, **kwargs), base)
    pd.testing.assert_frame_equal(data, before)  # input not mutated
    relabelled = data.assign(patient="p" + (data["patient"] * 7).astype(str).str.zfill(4))
    other = reliable_change(relabelled, **kwargs)
    order = np.argsort(relabelled.drop_duplicates("patient")["patient"].to_numpy())
    np.testing.assert_allclose(other["rci"], base["rci"].to_numpy()[order], equal_nan=True)
    assert other["category"].tolist() == base["category"].iloc[order].tolist()


@PROPERTY
@given(values=scores, method=st.sampled_from(["JT", "GLN", "HLL", "EN", "NK", "HA"]))
def test_direction_symmetry(values, method) -> None:
    data = frame_from(values)
    if not usable(data):
        return
    try:
        lower = reliable_change(data, reliability=0.8, method=method, cutoff_type="a")
    except InvalidValueError:
        return
    higher = reliable_change(data.assign(score=-data["score"]), reliability=0.8, method=method,
                             cutoff_type="a", better="higher")
    assert higher["category"].tolist() == lower["category"].tolist()
    np.testing.assert_allclose(higher["rci"], -lower["rci"], rtol=1e-9, atol=1e-9)
    assert higher.attrs["cutoff"] == pytest.approx(-lower.attrs["cutoff"])


def test_pre_after_post_is_an_error() -> None:
    data = pd.DataFrame({"patient": [1, 1, 2, 2], "session": [1, 2, 1, 2],
                         "score": [10.0, 12.0, 14.0, 20.0]})
    with pytest.raises(ParameterError, match="comes after"):
        reliable_change(data, pre=2, post=1, reliability=0.9, sd=5.0)
