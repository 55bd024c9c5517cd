"""Sudden gains and losses against suddengains 0.7.2 (R 4.2.2), on the package's ``sgdata``.

Reference outputs: ``tests/refs/suddengains`` (``sg_calls.csv`` lists every exact call;
``tests/refs/README.md`` describes them). The wide data are made long with ``patient = id`` and
``session`` = the number in the column name (``bdi_s1`` .. ``bdi_s12``: 1..12; with ``bdi_s0``:
0..12), keeping rows with missing scores (a missed session is a row with a missing score). R names
an interval by the positions (or, with ``identify_sg_1to2 = TRUE``, by the positions minus one) of
``sg_var_list``; both coincide with our ``session_pre``/``session_post`` here.

The only expected difference is the documented loss criterion 2 (see ``docs/sudden-changes.md``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from iatrogenic.core.sudden_changes import (
    count_sudden_change_intervals,
    sudden_change_cutoff,
    sudden_change_intervals,
    sudden_changes,
    sudden_changes_by_person,
)

SG_VARS = [f"bdi_s{i}" for i in range(1, 13)]
SG_VARS0 = [f"bdi_s{i}" for i in range(0, 13)]
BAD_VARS = ["bdi1", "wk2bdi", "bdi.S3", "bdis4", "bdi_session5", "bdi_weekSix",
            "beck.dep.inv_sess7", "weeeek8bdi", "bdi_nine", "bdii10", "bDi11", "bdi_s12_end"]


@pytest.fixture(scope="module")
def refs(refs_dir: Path) -> Path:
    return refs_dir / "suddengains"


@pytest.fixture(scope="module")
def sgdata(refs_dir: Path) -> pd.DataFrame:
    return pd.read_csv(refs_dir / "datasets" / "suddengains__sgdata.csv")


def to_long(wide: pd.DataFrame, columns: list[str], first_session: int = 1) -> pd.DataFrame:
    sessions = dict(zip(columns, range(first_session, first_session + len(columns)), strict=True))
    long = wide.melt(id_vars="id", value_vars=columns, var_name="column", value_name="score")
    long["session"] = long["column"].map(sessions)
    return long.rename(columns={"id": "patient"})[["patient", "session", "score"]]


@pytest.fixture(scope="module")
def long12(sgdata: pd.DataFrame) -> pd.DataFrame:
    return to_long(sgdata, SG_VARS)


def r_flags(ref: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """R's wide ``<prefix>_<a>to<b>`` columns as long (patient, session_pre, value)."""
    cols = [c for c in ref.columns if re.fullmatch(rf"{prefix}_\d+to\d+", c)]
    out = ref.melt(id_vars="id", value_vars=cols, var_name="column", value_name="value")
    out["session_pre"] = out["column"].str.extract(r"_(\d+)to").astype(int)
    return out.rename(columns={"id": "patient"}).sort_values(["patient", "session_pre"])


def ours_flag(intervals: pd.DataFrame, column: str) -> pd.DataFrame:
    return intervals[["patient", "session_pre", column]].sort_values(["patient", "session_pre"])


def assert_flags_equal(ref: pd.DataFrame, prefix: str, ours: pd.DataFrame, column: str) -> None:
    expected = r_flags(ref, prefix)
    got = ours_flag(ours, column)
    assert_array_equal(got["patient"].to_numpy(), expected["patient"].to_numpy())
    assert_array_equal(got["session_pre"].to_numpy(), expected["session_pre"].to_numpy())
    values = expected["value"]
    expected_na = values.isna().to_numpy()
    got_na = got[column].isna().to_numpy()
    assert_array_equal(got_na, expected_na, err_msg=f"NA pattern of {column} vs {prefix}")
    ok = ~expected_na
    assert_array_equal(
        got[column].to_numpy(dtype=float, na_value=np.nan)[ok],
        values.astype(float).to_numpy()[ok],
        err_msg=f"{column} vs {prefix}",
    )


# --------------------------------------------------------------------------------------------
# identify_sg / identify_sl with crit123_details = TRUE: every flag, every NA
# --------------------------------------------------------------------------------------------

GAIN_DETAILS = [
    # R: identify_sg(data = sgdata, id_var_name = "id", sg_var_list = sg_vars,
    #                sg_crit1_cutoff = 7, crit123_details = TRUE)
    ("sg_identify_sg_default_details.csv", {}),
    # R: identify_sg(..., sg_crit1_cutoff = 7, sg_crit3_adjust = FALSE,
    #                sg_crit3_critical_value = 2.776, crit123_details = TRUE)
    ("sg_identify_sg_fixed2776_details.csv", {"adjust": False, "critical_value": 2.776}),
    # R: identify_sg(..., sg_crit1_cutoff = 7, sg_crit3_alpha = 0.01, crit123_details = TRUE)
    ("sg_identify_sg_alpha01_details.csv", {"alpha": 0.01}),
    # R: identify_sg(..., sg_crit1_cutoff = 7, sg_crit2_pct = 0.25, sg_crit3 = FALSE,
    #                crit123_details = TRUE)
    ("sg_identify_sg_crit12only_details.csv", {"criterion3": False}),
]


@pytest.mark.parametrize(("file", "options"), GAIN_DETAILS)
def test_identify_sg_details_against_R(refs, long12, file, options):
    ref = pd.read_csv(refs / file)
    ours = sudden_change_intervals(long12, cutoff=7, **options)
    assert len(ours) == 43 * 9
    for k in (1, 2, 3):
        assert_flags_equal(ref, f"sg_crit{k}", ours, f"crit{k}")
    assert_flags_equal(ref, "sg", ours, "event")


def test_identify_sg_1to2_details_against_R(refs, sgdata):
    # R: identify_sg(data = sgdata, id_var_name = "id", sg_var_list = sg_vars0,
    #                sg_crit1_cutoff = 7, identify_sg_1to2 = TRUE, crit123_details = TRUE)
    # R names the interval bdi_s1 -> bdi_s2 "1to2"; in long data with sessions 0..12 it is
    # session_pre = 1 without any option (identify_sg_1to2 only renames).
    ref = pd.read_csv(refs / "sg_identify_sg_1to2_details.csv")
    ours = sudden_change_intervals(to_long(sgdata, SG_VARS0, first_session=0), cutoff=7)
    assert len(ours) == 43 * 10
    for k in (1, 2, 3):
        assert_flags_equal(ref, f"sg_crit{k}", ours, f"crit{k}")
    assert_flags_equal(ref, "sg", ours, "event")


def test_identify_sg_and_sgdata_bad_against_R(refs, sgdata, refs_dir, long12):
    # R: identify_sg(data = sgdata, id_var_name = "id", sg_var_list = sg_vars, sg_crit1_cutoff = 7)
    ref = pd.read_csv(refs / "sg_identify_sg_default.csv")
    ours = sudden_change_intervals(long12, cutoff=7)
    assert_flags_equal(ref, "sg", ours, "event")
    # R: identify_sg(data = sgdata_bad, id_var_name = "id", sg_var_list = bad_vars,
    #                sg_crit1_cutoff = 7)
    bad_ref = pd.read_csv(refs / "sg_identify_sg_sgdata_bad.csv")
    bad = pd.read_csv(refs_dir / "datasets" / "suddengains__sgdata_bad.csv")
    ours_bad = sudden_change_intervals(to_long(bad, BAD_VARS), cutoff=7)
    assert_flags_equal(bad_ref, "sg", ours_bad, "event")
    pd.testing.assert_frame_equal(ours_bad, ours)


def test_identify_sl_against_R(refs, long12):
    # R: identify_sl(data = sgdata, id_var_name = "id", sg_var_list = sg_vars,
    #                sg_crit1_cutoff = -7)
    ref = pd.read_csv(refs / "sg_identify_sl_default.csv")
    ours = sudden_change_intervals(long12, kind="loss", cutoff=7)
    assert_flags_equal(ref, "sl", ours, "event")
    assert int(ours["event"].sum()) == 3


SL_DETAILS = [
    # R: identify_sl(data = sgdata, id_var_name = "id", sg_var_list = sg_vars,
    #                sg_crit1_cutoff = -7, crit123_details = TRUE)
    ("sg_identify_sl_default_details.csv", {}),
    # R: identify_sl(..., sg_crit1_cutoff = -7, sg_crit3_adjust = FALSE,
    #                sg_crit3_critical_value = 2.776, crit123_details = TRUE)
    ("sg_identify_sl_fixed2776_details.csv", {"adjust": False, "critical_value": 2.776}),
]


@pytest.mark.parametrize(("file", "options"), SL_DETAILS)
def test_identify_sl_details_against_R(refs, long12, file, options):
    ref = pd.read_csv(refs / file)
    ours = sudden_change_intervals(long12, kind="loss", cutoff=7, **options)
    assert_flags_equal(ref, "sl_crit1", ours, "crit1")
    assert_flags_equal(ref, "sl_crit3", ours, "crit3")
    # Criteria 1 and 3 decide the same three losses with both criterion-2 rules on sgdata.
    assert_flags_equal(ref, "sl", ours, "event")


def test_loss_criterion2_documented_difference(refs, long12):
    """suddengains 0.7.2 tests (pre - post) <= 0.25 pre for losses; we test the mirrored rule."""
    # R: identify_sl(data = sgdata, id_var_name = "id", sg_var_list = sg_vars,
    #                sg_crit1_cutoff = -7, crit123_details = TRUE)
    ref = pd.read_csv(refs / "sg_identify_sl_default_details.csv")
    ours = sudden_change_intervals(long12, kind="loss", cutoff=7)
    r_crit2 = r_flags(ref, "sl_crit2")
    pre = ours["score_pre"].to_numpy()
    post = ours["score_post"].to_numpy()
    with np.errstate(invalid="ignore"):
        r_rule = pre - post <= 0.25 * pre
    known = ~np.isnan(pre - post)
    # What R does: its column is exactly the unmirrored rule...
    assert_array_equal(r_crit2["value"].isna().to_numpy(), ~known)
    assert_array_equal(r_crit2["value"].to_numpy()[known].astype(bool), r_rule[known])
    # ...which any increase satisfies (it never rejects a loss), unlike ours:
    ours_crit2 = ours["crit2"].to_numpy(dtype=float, na_value=np.nan)
    differ = known & (ours_crit2 != r_rule)
    assert differ.sum() > 50
    assert_array_equal(ours_crit2[known].astype(bool), (post - pre >= 0.25 * pre)[known])

    # R: identify_sl(..., sg_crit1_cutoff = -7, sg_crit2_pct = -0.25, crit123_details = TRUE)
    # R with a negative percentage is our mirrored rule, flag for flag.
    neg = pd.read_csv(refs / "sg_identify_sl_crit2neg025_details.csv")
    for k in (1, 2, 3):
        assert_flags_equal(neg, f"sl_crit{k}", ours, f"crit{k}")
    assert_flags_equal(neg, "sl", ours, "event")

    # R: identify_sl(..., sg_crit1_cutoff = -7, sg_crit2_pct = NULL, crit123_details = TRUE)
    # Criterion 2 switched off: relative=None.
    null = pd.read_csv(refs / "sg_identify_sl_crit2null_details.csv")
    off = sudden_change_intervals(long12, kind="loss", cutoff=7, relative=None)
    for k in (1, 2, 3):
        assert_flags_equal(null, f"sl_crit{k}", off, f"crit{k}")
    assert_flags_equal(null, "sl", off, "event")
    # On sgdata R's default equals criterion 2 switched off (its rule never rejects a loss).
    assert_flags_equal(ref, "sl", off, "event")


# --------------------------------------------------------------------------------------------
# create_bysg: every event column
# --------------------------------------------------------------------------------------------

BYSG = [
    # R: create_bysg(data = sgdata, sg_crit1_cutoff = 7, id_var_name = "id",
    #                tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12",
    #                sg_var_list = sg_vars, sg_measure_name = "bdi", identify = "sg")
    ("sg_bysg_sg.csv", "gain", 24),
    # R: create_bysg(data = sgdata, sg_crit1_cutoff = -7, ..., identify = "sl")
    ("sg_bysg_sl.csv", "loss", 3),
]

#: R column -> our column (R's magnitude is score_pre - score_post = -change).
SCORE_COLUMNS = {
    "sg_bdi_2n": "score_minus2",
    "sg_bdi_1n": "score_minus1",
    "sg_bdi_n": "score_pre",
    "sg_bdi_n1": "score_post",
    "sg_bdi_n2": "score_plus2",
    "sg_bdi_n3": "score_plus3",
    "sg_bdi_tx_change": "tx_change",
    "sg_change_proportion": "change_proportion",
    "sg_reversal_value": "reversal_value",
}


def assert_event_columns(ref: pd.DataFrame, ours: pd.DataFrame) -> None:
    assert_array_equal(ours["patient"].to_numpy(), ref["id"].to_numpy())
    assert_array_equal(ours["occasion_pre"].to_numpy(), ref["sg_session_n"].to_numpy())
    ids = ours["patient"].astype(str) + "_sg_" + ours["occasion_pre"].astype(str)
    assert_array_equal(ids.to_numpy(), ref["id_sg"].to_numpy())
    assert_array_equal(ours["n_events"].to_numpy(), ref["sg_freq_byperson"].to_numpy())
    for r_col, col in SCORE_COLUMNS.items():
        # exact: the references are written with round-trip precision
        assert_allclose(ours[col].to_numpy(dtype=float), ref[r_col].to_numpy(dtype=float),
                        rtol=1e-14, atol=0, equal_nan=True, err_msg=col)
    assert_allclose(-ours["change"].to_numpy(float), ref["sg_magnitude"].to_numpy(float))
    assert_allclose(ours["magnitude"].to_numpy(float), ref["sg_magnitude"].abs().to_numpy(float))
    assert_array_equal(ours["reversal"].to_numpy(dtype=float), ref["sg_reversal"].to_numpy())


@pytest.mark.parametrize(("file", "kind", "n"), BYSG)
def test_bysg_against_R(refs, long12, file, kind, n):
    ref = pd.read_csv(refs / file)
    ours = sudden_changes(long12, kind=kind, cutoff=7)
    assert len(ours) == len(ref) == n
    assert_event_columns(ref, ours)


# --------------------------------------------------------------------------------------------
# create_byperson: one selected event per patient, every patient kept
# --------------------------------------------------------------------------------------------

BYPERSON = [
    # R: create_byperson(data = sgdata, sg_crit1_cutoff = 7, id_var_name = "id",
    #                    tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12",
    #                    sg_var_list = sg_vars, sg_measure_name = "bdi", identify_sg_1to2 = FALSE,
    #                    multiple_sg_select = "first", identify = "sg")
    ("sg_byperson_sg_first.csv", "gain", "first"),
    # R: create_byperson(..., multiple_sg_select = "last", identify = "sg")
    ("sg_byperson_sg_last.csv", "gain", "last"),
    # R: create_byperson(..., multiple_sg_select = "smallest", identify = "sg")
    ("sg_byperson_sg_smallest.csv", "gain", "smallest"),
    # R: create_byperson(..., multiple_sg_select = "largest", identify = "sg")
    ("sg_byperson_sg_largest.csv", "gain", "largest"),
    # R: create_byperson(data = sgdata, sg_crit1_cutoff = -7, ..., multiple_sg_select = "first",
    #                    identify = "sl")
    ("sg_byperson_sl_first.csv", "loss", "first"),
    # R: create_byperson(..., sg_crit1_cutoff = -7, ..., multiple_sg_select = "largest",
    #                    identify = "sl")
    ("sg_byperson_sl_largest.csv", "loss", "largest"),
]


@pytest.mark.parametrize(("file", "kind", "select"), BYPERSON)
def test_byperson_against_R(refs, long12, file, kind, select):
    ref = pd.read_csv(refs / file)
    ours = sudden_changes_by_person(long12, kind=kind, cutoff=7, select=select)
    assert len(ours) == len(ref) == 43
    assert_array_equal(ours["patient"].to_numpy(), ref["id"].to_numpy())
    assert_array_equal(ours["has_event"].to_numpy(dtype=int), ref["sg_crit123"].to_numpy())
    assert_array_equal(ours["n_events"].to_numpy(), ref["sg_freq_byperson"].to_numpy())
    assert_allclose(ours["occasion_pre"].to_numpy(dtype=float, na_value=np.nan),
                    ref["sg_session_n"].to_numpy(dtype=float), equal_nan=True)
    for r_col, col in SCORE_COLUMNS.items():
        assert_allclose(ours[col].to_numpy(dtype=float), ref[r_col].to_numpy(dtype=float),
                        rtol=1e-14, atol=0, equal_nan=True, err_msg=col)
    assert_allclose(-ours["change"].to_numpy(float), ref["sg_magnitude"].to_numpy(float),
                    equal_nan=True)
    assert_allclose(ours["reversal"].to_numpy(dtype=float, na_value=np.nan),
                    ref["sg_reversal"].to_numpy(dtype=float), equal_nan=True)
    # Every patient is kept; those without any decidable interval say why.
    assert ours.loc[ours["n_intervals"] == 0, "reason"].notna().all()
    assert ours.loc[ours["n_intervals"] > 0, "reason"].isna().all()


def test_select_via_sudden_changes_equals_by_person(long12):
    pd.testing.assert_frame_equal(
        sudden_changes(long12, cutoff=7, select="largest"),
        sudden_changes_by_person(long12, cutoff=7, select="largest"),
    )


# --------------------------------------------------------------------------------------------
# Scalars: define_crit1_cutoff, count_intervals, describe_sg
# --------------------------------------------------------------------------------------------


def scalars(refs: Path, call_id: str) -> dict[str, float]:
    table = pd.read_csv(refs / "sg_scalars.csv")
    rows = table[table["call_id"] == call_id]
    return dict(zip(rows["name"], rows["value"].astype(float), strict=True))


def test_crit1_cutoff_against_R(refs, sgdata):
    # R: define_crit1_cutoff(sd = 10.5, reliability = 0.931)
    expected = scalars(refs, "crit1_cutoff_sd10.5_rel0.931")
    got = sudden_change_cutoff(sd=10.5, reliability=0.931)
    for name in ("sd", "reliability", "standard_error_measurement",
                 "standard_error_difference", "reliable_change_value"):
        assert_allclose(getattr(got, name), expected[name], rtol=1e-8, err_msg=name)
    # R: define_crit1_cutoff(data_sd = sgdata$bdi_s0, reliability = 0.931)
    expected = scalars(refs, "crit1_cutoff_sdbdi_s0_rel0.931")
    got = sudden_change_cutoff(scores=sgdata["bdi_s0"], reliability=0.931)
    for name in ("sd", "standard_error_measurement", "standard_error_difference",
                 "reliable_change_value"):
        assert_allclose(getattr(got, name), expected[name], rtol=1e-8, err_msg=name)


def test_count_intervals_against_R(refs, long12):
    # R: count_intervals(data = sgdata, id_var_name = "id", sg_var_list = sg_vars,
    #                    identify_sg_1to2 = FALSE)
    expected = scalars(refs, "count_intervals_sgdata")
    got = count_sudden_change_intervals(long12)
    assert got["total_between_sess_intervals"] == expected["total_between_sess_intervals"]
    assert got["total_between_sess_intervals_sg"] == expected["total_between_sess_intervals_sg"]
    assert (got["available_between_sess_intervals_sg"]
            == expected["available_between_sess_intervals_sg"])
    assert (got["not_available_between_sess_intervals_sg"]
            == expected["not_available_between_sess_intervals_sg"])


def describe_events(events: pd.DataFrame) -> dict[str, float]:
    multiple = events["n_events"] > 1
    return {
        "total_n": len(events),
        "sg_multiple_pct": round(100 * multiple.mean(), 2),
        "sg_reversal_n": int(events["reversal"].sum()),
        "sg_reversal_pct": round(100 * events["reversal"].mean(), 2),
        "sg_magnitude_m": round(float((-events["change"]).mean()), 2),
        "sg_magnitude_sd": round(float((-events["change"]).std(ddof=1)), 2),
    }


@pytest.mark.parametrize(("call_id", "kind"), [("describe_bysg_sg", "gain"),
                                                ("describe_bysg_sl", "loss")])
def test_describe_bysg_against_R(refs, long12, call_id, kind):
    # R: describe_sg(data = create_bysg(data = sgdata, sg_crit1_cutoff = 7 (or -7), ...,
    #                identify = "sg" (or "sl")), sg_data_structure = "bysg")
    expected = scalars(refs, call_id)
    got = describe_events(sudden_changes(long12, kind=kind, cutoff=7))
    for name, value in got.items():
        assert value == pytest.approx(expected[name], abs=1e-9), name


def test_describe_byperson_against_R(refs, long12):
    # R: describe_sg(data = create_byperson(data = sgdata, sg_crit1_cutoff = 7, ...,
    #                multiple_sg_select = "first", identify = "sg"), sg_data_structure = "byperson")
    expected = scalars(refs, "describe_byperson_sg_first")
    by = sudden_changes_by_person(long12, cutoff=7, select="first")
    with_gain = by[by["has_event"]]
    magnitude = -with_gain["change"]
    got = {
        "total_n": len(by),
        "sg_total_n": int(by["n_events"].sum()),
        "sg_n": len(with_gain),
        "sg_pct": round(100 * len(with_gain) / len(by), 2),
        "sg_multiple_n": int((by["n_events"] > 1).sum()),
        "sg_multiple_pct": round(100 * (by["n_events"] > 1).mean(), 2),
        "sg_reversal_n": int(with_gain["reversal"].sum()),
        "sg_reversal_pct": round(100 * with_gain["reversal"].mean(), 2),
        "sg_magnitude_m": round(float(magnitude.mean()), 2),
        "sg_magnitude_sd": round(float(magnitude.std(ddof=1)), 2),
    }
    for name, value in got.items():
        assert value == pytest.approx(expected[name], abs=1e-9), name
