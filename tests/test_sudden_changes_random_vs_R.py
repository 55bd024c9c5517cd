"""Sudden gains and losses against suddengains 0.7.2 on randomised designs (differential tests).

Reference outputs: ``tests/refs/suddengains_random`` (its ``README.md``; ``sg_calls.csv`` lists
every exact R call, made by ``tests/refs/scripts/sg_random_designs.R`` on the wide data sets of
``sg_random_designs.py``). Each call is one parametrised case, its id is the R ``call_id``
(``<design>__<call name>``) and ``R_CALLS`` below maps the call name to our arguments.

The wide data are made long with ``patient = id`` and ``session`` = the column's position in
``sg_var_list`` (``t1`` .. ``tK``: 1..K; for ``identify_sg_1to2 = TRUE``: 0..K-1), keeping the rows
with a missing score. Flags are compared exactly (with their NA pattern), numbers to 1e-8.

Expected differences, each tested explicitly here:

* loss criterion 2 (docs/sudden-changes.md): ours = R with ``sg_crit2_pct = -0.25``; R's default
  equals ours with ``relative=None`` on non-negative scores;
* ``change_proportion``: NaN where R gives ``Inf`` (treatment change 0);
* ``create_byperson(identify = "sl")`` selects by the signed ``sg_magnitude``: R's "largest" loss
  is our "smallest" and vice versa;
* R's reversal with ``identify_sg_1to2 = TRUE`` starts one occasion earlier (n + 2) than with the
  default (n + 3), which we follow;
* R's ``create_bysg``/``create_byperson`` stop when no event has an occasion n - 2 (or n + 3)
  inside the course; we return the events.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from iatrogenic.core.sudden_change_summary import describe_sudden_changes, sudden_change_cases
from iatrogenic.core.sudden_changes import (
    sudden_change_cutoff,
    sudden_change_intervals,
    sudden_changes,
    sudden_changes_by_person,
)

ROOT = Path(__file__).resolve().parent / "refs" / "suddengains_random"
TOL = 1e-8


@cache
def meta() -> dict[str, Any]:
    return json.loads((ROOT / "data" / "designs.json").read_text())


@cache
def calls() -> pd.DataFrame:
    return pd.read_csv(ROOT / "sg_calls.csv")


@cache
def table(name: str) -> pd.DataFrame:
    return pd.read_csv(ROOT / name)


@cache
def wide(design: str) -> pd.DataFrame:
    return pd.read_csv(ROOT / "data" / f"{design}.csv")


@cache
def long(design: str, first_session: int = 1) -> pd.DataFrame:
    data = wide(design)
    columns = meta()[design]["sg_var_list"]
    out = data.melt(id_vars="id", value_vars=columns, var_name="column", value_name="score")
    out["session"] = out["column"].map({c: i + first_session for i, c in enumerate(columns)})
    return out.rename(columns={"id": "patient"})[["patient", "session", "score"]]


def cutoffs(design: str) -> tuple[float, float]:
    c1, c2 = meta()[design]["cutoffs"]
    return float(c1), float(c2)


#: R call name -> (our function's options as a function of the two cut-offs, first session)
R_CALLS: dict[str, Any] = {
    # identify_sg(..., sg_crit1_cutoff = c1, crit123_details = TRUE)
    "identify_sg_default": lambda c1, c2: {"cutoff": c1},
    # identify_sg(..., sg_crit1_cutoff = c2, sg_crit2_pct = 0.2, crit123_details = TRUE)
    "identify_sg_cut2_pct020": lambda c1, c2: {"cutoff": c2, "relative": 0.2},
    # identify_sg(..., sg_crit1_cutoff = c1, sg_crit2_pct = 0.5, crit123_details = TRUE)
    "identify_sg_pct050": lambda c1, c2: {"cutoff": c1, "relative": 0.5},
    # identify_sg(..., sg_crit1_cutoff = c1, sg_crit2_pct = NULL, crit123_details = TRUE)
    "identify_sg_crit2null": lambda c1, c2: {"cutoff": c1, "relative": None},
    # identify_sg(..., sg_crit1_cutoff = c1, sg_crit3_alpha = 0.01, crit123_details = TRUE)
    "identify_sg_alpha01": lambda c1, c2: {"cutoff": c1, "alpha": 0.01},
    # identify_sg(..., sg_crit3_adjust = FALSE, sg_crit3_critical_value = 2.776, ...)
    "identify_sg_fixed2776": lambda c1, c2: {"cutoff": c1, "adjust": False,
                                             "critical_value": 2.776},
    # identify_sg(..., sg_crit3_alpha = 0.01, sg_crit3_adjust = FALSE,
    #              sg_crit3_critical_value = 3.5, ...): the fixed value wins over alpha
    "identify_sg_fixed35_alpha01": lambda c1, c2: {"cutoff": c1, "adjust": False,
                                                   "critical_value": 3.5, "alpha": 0.01},
    # identify_sg(..., sg_crit1_cutoff = c1, sg_crit3 = FALSE, crit123_details = TRUE)
    "identify_sg_crit12only": lambda c1, c2: {"cutoff": c1, "criterion3": False},
    # identify_sg(..., sg_crit1_cutoff = c1, identify_sg_1to2 = TRUE, crit123_details = TRUE):
    # only renames the intervals; sessions numbered from 0 reproduce it with the defaults
    "identify_sg_1to2": lambda c1, c2: {"cutoff": c1},
    # identify_sl(..., sg_crit1_cutoff = -c1, crit123_details = TRUE): R's criterion 2 never
    # rejects a loss, so its events are ours with relative=None (criterion 2 checked apart)
    "identify_sl_default": lambda c1, c2: {"kind": "loss", "cutoff": c1, "relative": None},
    # identify_sl(..., sg_crit1_cutoff = -c1, sg_crit2_pct = -0.25, ...) = our default
    "identify_sl_pctneg025": lambda c1, c2: {"kind": "loss", "cutoff": c1},
    # identify_sl(..., sg_crit1_cutoff = -c2, sg_crit2_pct = -0.5, sg_crit3_alpha = 0.01, ...)
    "identify_sl_cut2_pctneg050_alpha01": lambda c1, c2: {"kind": "loss", "cutoff": c2,
                                                          "relative": 0.5, "alpha": 0.01},
    # identify_sl(..., sg_crit2_pct = NULL, sg_crit3_adjust = FALSE,
    #              sg_crit3_critical_value = 2.776, ...)
    "identify_sl_crit2null_fixed2776": lambda c1, c2: {"kind": "loss", "cutoff": c1,
                                                       "relative": None, "adjust": False,
                                                       "critical_value": 2.776},
}

#: create_bysg / create_byperson call name -> (kind, our select, first session)
CREATE_CALLS: dict[str, tuple[str, str | None, int]] = {
    "bysg_sg": ("gain", None, 1),
    "bysg_sg_1to2": ("gain", None, 0),
    "bysg_sl_pctneg025": ("loss", None, 1),
    "byperson_sg_first": ("gain", "first", 1),
    "byperson_sg_last": ("gain", "last", 1),
    "byperson_sg_smallest": ("gain", "smallest", 1),
    "byperson_sg_largest": ("gain", "largest", 1),
    "byperson_sl_pctneg025_first": ("loss", "first", 1),
    # R compares signed magnitudes (negative for losses): its smallest is our largest
    "byperson_sl_pctneg025_smallest": ("loss", "largest", 1),
    "byperson_sl_pctneg025_largest": ("loss", "smallest", 1),
}


def call_ids(prefix: str, status: str = "ok") -> list[str]:
    table_ = pd.read_csv(ROOT / "sg_calls.csv")
    rows = table_[table_["call_name"].str.startswith(prefix) & (table_["status"] == status)]
    return rows["call_id"].tolist()


def call_row(call_id: str) -> pd.Series:
    rows = calls()
    return rows.loc[rows["call_id"] == call_id].iloc[0]


def _flags(values: pd.Series) -> np.ndarray:
    """TRUE/FALSE/1/0/NA -> float 1/0/NaN."""
    if values.dtype == object:
        values = values.map({"TRUE": 1.0, "FALSE": 0.0, True: 1.0, False: 0.0})
    return values.astype(float).to_numpy()


def ours_intervals(design: str, call_name: str) -> pd.DataFrame:
    c1, c2 = cutoffs(design)
    first = 0 if call_name.endswith("1to2") else 1
    return sudden_change_intervals(long(design, first), **R_CALLS[call_name](c1, c2))


def r_intervals(call_id: str) -> pd.DataFrame:
    ref = table("sg_identify.csv.gz")
    ref = ref[ref["call_id"] == call_id].copy()
    ref["session_pre"] = ref["interval"].str.extract(r"^(\d+)to")[0].astype(int)
    return ref.sort_values(["id", "session_pre"]).reset_index(drop=True)


def flag_mismatches(ref: pd.DataFrame, ours: pd.DataFrame, pairs: dict[str, str]) -> dict[str, int]:
    assert_array_equal(ours["patient"].to_numpy(), ref["id"].to_numpy())
    assert_array_equal(ours["session_pre"].to_numpy(), ref["session_pre"].to_numpy())
    out = {}
    for r_col, col in pairs.items():
        expected = _flags(ref[r_col])
        got = ours[col].to_numpy(dtype=float, na_value=np.nan)
        same = (np.isnan(expected) & np.isnan(got)) | (expected == got)
        out[col] = int((~same).sum())
    return out


# --------------------------------------------------------------------------------------------
# identify_sg / identify_sl, crit123_details = TRUE: every criterion flag and NA
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call_id", call_ids("identify_"))
def test_identify_against_R(call_id):
    row = call_row(call_id)
    ref = r_intervals(call_id)
    ours = ours_intervals(row["design"], row["call_name"])
    assert len(ours) == len(ref)
    pairs = {"crit1": "crit1", "crit2": "crit2", "crit3": "crit3", "event": "event"}
    if row["call_name"] == "identify_sl_default":
        del pairs["crit2"]  # R's unmirrored criterion 2: test_loss_criterion2_documented_difference
    assert flag_mismatches(ref, ours, pairs) == dict.fromkeys(pairs.values(), 0)
    # The numbers behind the flags: criterion 3 is decided exactly where R decides it.
    known3 = ~np.isnan(_flags(ref["crit3"]))
    if row["call_name"] not in ("identify_sg_crit12only",):
        assert_array_equal(ours["critical_value"].notna().to_numpy(), known3)


@pytest.mark.parametrize("design", sorted(meta()))
def test_loss_criterion2_documented_difference(design):
    """Ours = R with sg_crit2_pct = -0.25; R's default criterion 2 is pre - post <= 0.25 pre."""
    default_id = f"{design}__identify_sl_default"
    ref = r_intervals(default_id)
    ours = ours_intervals(design, "identify_sl_pctneg025")  # our defaults, kind="loss"
    pre = ours["score_pre"].to_numpy()
    post = ours["score_post"].to_numpy()
    known = ~np.isnan(pre - post)
    r_crit2 = _flags(ref["crit2"])
    # R's column is exactly its unmirrored rule (NA where a score is missing)...
    assert_array_equal(np.isnan(r_crit2), ~known)
    with np.errstate(invalid="ignore"):
        assert_array_equal(r_crit2[known], (pre - post <= 0.25 * pre)[known])
    # ...ours is the mirrored one,
    ours_crit2 = ours["crit2"].to_numpy(dtype=float, na_value=np.nan)
    assert_array_equal(ours_crit2[known], (post - pre >= 0.25 * pre)[known])
    # and R called with sg_crit2_pct = -0.25 gives ours, flag for flag (every criterion).
    neg = r_intervals(f"{design}__identify_sl_pctneg025")
    assert flag_mismatches(neg, ours, {c: c for c in ("crit1", "crit2", "crit3", "event")}) == {
        "crit1": 0, "crit2": 0, "crit3": 0, "event": 0}
    # R's default events are ours without criterion 2 (R's rule never rejects a loss when the
    # scores are not negative).
    off = ours_intervals(design, "identify_sl_default")
    assert flag_mismatches(ref, off, {"event": "event", "crit1": "crit1", "crit3": "crit3"}) == {
        "event": 0, "crit1": 0, "crit3": 0}


def test_loss_criterion2_differs_somewhere():
    """The two loss rules really differ on these data (else the test above proves little)."""
    differ = 0
    for design in meta():
        ref = r_intervals(f"{design}__identify_sl_default")
        neg = r_intervals(f"{design}__identify_sl_pctneg025")
        a, b = _flags(ref["crit2"]), _flags(neg["crit2"])
        differ += int(np.sum((a != b) & ~np.isnan(a)))
    assert differ > 500


# --------------------------------------------------------------------------------------------
# create_bysg / create_byperson: every column
# --------------------------------------------------------------------------------------------

#: R column -> our column
SCORE_COLUMNS = {
    "sg_x_2n": "score_minus2", "sg_x_1n": "score_minus1", "sg_x_n": "score_pre",
    "sg_x_n1": "score_post", "sg_x_n2": "score_plus2", "sg_x_n3": "score_plus3",
    "sg_x_tx_change": "tx_change", "sg_reversal_value": "reversal_value",
}


def ours_create(design: str, call_name: str) -> pd.DataFrame:
    kind, select, first = CREATE_CALLS[call_name]
    c1, _ = cutoffs(design)
    data = long(design, first)
    if select is None:
        return sudden_changes(data, kind=kind, cutoff=c1)
    return sudden_changes_by_person(data, kind=kind, cutoff=c1, select=select)


def reversal_from(design: str, events: pd.DataFrame, offset: int) -> np.ndarray:
    """Reversal looking from occasion pre + ``offset`` on (R's rule has offset 3, or 2 with
    identify_sg_1to2 = TRUE)."""
    scores = wide(design).set_index("id")[meta()[design]["sg_var_list"]]
    out = []
    for patient, pre, value, kind in zip(events["patient"], events["occasion_pre"],
                                         events["reversal_value"], events["kind"], strict=True):
        later = scores.loc[patient].to_numpy(dtype=float)[int(pre) - 1 + offset:]
        later = later[~np.isnan(later)]
        out.append(bool(np.any(later > value) if kind == "gain" else np.any(later < value)))
    return np.array(out)


def assert_event_columns(ref: pd.DataFrame, ours: pd.DataFrame, *, session_shift: int,
                         design: str) -> None:
    assert_array_equal(ours["patient"].to_numpy(), ref["id"].to_numpy())
    has = ref["sg_crit123"].to_numpy() == 1
    occasion = ours["occasion_pre"].to_numpy(dtype=float, na_value=np.nan)
    assert_allclose(occasion[has] - session_shift, ref["sg_session_n"].to_numpy(float)[has])
    assert np.isnan(occasion[~has]).all() and ref["sg_session_n"][~has].isna().all()
    n_events = ours["n_events"].to_numpy()
    assert_array_equal(n_events, ref["sg_freq_byperson"].to_numpy())
    for r_col, col in SCORE_COLUMNS.items():
        assert_allclose(ours[col].to_numpy(dtype=float), ref[r_col].to_numpy(dtype=float),
                        rtol=0, atol=TOL, equal_nan=True, err_msg=col)
    # R's sg_magnitude is pre - post (negative for losses) = -change.
    assert_allclose(-ours["change"].to_numpy(float), ref["sg_magnitude"].to_numpy(float),
                    rtol=0, atol=TOL, equal_nan=True)
    # change_proportion: R gives Inf where the treatment change is 0, we NaN.
    r_prop = ref["sg_change_proportion"].to_numpy(float)
    r_prop = np.where(np.isinf(r_prop), np.nan, r_prop)
    assert_allclose(ours["change_proportion"].to_numpy(float), r_prop, rtol=0, atol=TOL,
                    equal_nan=True)


@pytest.mark.parametrize("call_id", call_ids("bysg_") + call_ids("byperson_"))
def test_create_against_R(call_id):
    row = call_row(call_id)
    design, call_name = row["design"], row["call_name"]
    source = "sg_bysg.csv.gz" if call_name.startswith("bysg") else "sg_byperson.csv.gz"
    ref = table(source)
    ref = ref[ref["call_id"] == call_id].reset_index(drop=True)
    ours = ours_create(design, call_name)
    if call_name.startswith("byperson"):
        assert len(ours) == len(ref) == meta()[design]["n_persons"]
        assert_array_equal(ours["has_event"].to_numpy(int), ref["sg_crit123"].to_numpy())
        ids = np.where(ours["has_event"], ours["patient"].astype(str) + "_sg_"
                       + ours["occasion_pre"].astype(str), np.nan)
    else:
        assert len(ours) == len(ref) == row["nrow"]
        ref = ref.assign(sg_crit123=1)
        ids = (ours["patient"].astype(str) + "_sg_"
               + (ours["occasion_pre"] - (call_name == "bysg_sg_1to2")).astype(str)).to_numpy()
    shift = 1 if call_name == "bysg_sg_1to2" else 0
    assert_array_equal(pd.Series(ids).fillna("").to_numpy(), ref["id_sg"].fillna("").to_numpy())
    assert_event_columns(ref, ours, session_shift=shift, design=design)
    has = ref["sg_crit123"].to_numpy() == 1
    r_reversal = ref["sg_reversal"].to_numpy(float)[has]
    got_reversal = ours["reversal"].to_numpy(dtype=float, na_value=np.nan)[has]
    if call_name == "bysg_sg_1to2":
        # R: index = time_num - sg_session_n >= 2 with 0-based time_num, and sg_session_n is the
        # 0-based pre position here (1-based by default): the search starts at n + 2, not n + 3.
        events = ours[has]
        assert_array_equal(r_reversal, reversal_from(design, events, 2))
        assert_array_equal(got_reversal, reversal_from(design, events, 3))
    else:
        assert_array_equal(got_reversal, r_reversal)
    assert np.isnan(ours["reversal"].to_numpy(dtype=float, na_value=np.nan)[~has]).all()


@pytest.mark.parametrize("call_id", call_ids("bysg_", "error") + call_ids("byperson_", "error"))
def test_create_errors_of_R(call_id):
    """R stops: no event at all (we return none), or no event with occasion n - 2 in the course
    (its extract_values cannot find the column ``x_n_pre2``; we return the events)."""
    row = call_row(call_id)
    ours = ours_create(row["design"], row["call_name"])
    events = ours if "has_event" not in ours.columns else ours[ours["has_event"]]
    if row["error"].startswith("No sudden"):
        assert len(events) == 0
    else:
        assert "x_n_pre2" in row["error"]
        assert len(events) > 0
        assert (events["occasion_pre"] < 3).all()


# --------------------------------------------------------------------------------------------
# select_cases, describe_sg, define_crit1_cutoff
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call_id", call_ids("select_cases"))
def test_select_cases_against_R(call_id):
    row = call_row(call_id)
    design = row["design"]
    ref = table("sg_select_cases.csv.gz")
    ref = ref[ref["call_id"] == call_id].sort_values("id")
    if row["call_name"] == "select_cases_pattern":
        # R: select_cases(..., method = "pattern", return_id_lgl = TRUE)
        ours = sudden_change_cases(long(design))
        # The patterns are exactly "at least one interval can be decided".
        by = sudden_changes_by_person(long(design), cutoff=cutoffs(design)[0])
        assert_array_equal(ours["selected"].to_numpy(), by["n_intervals"].to_numpy() > 0)
    else:
        # R: select_cases(..., method = "min_sess", min_sess_num = k, return_id_lgl = TRUE)
        k = int(row["call_name"].removeprefix("select_cases_min_sess"))
        ours = sudden_change_cases(long(design), method="min_sessions", min_sessions=k)
    assert_array_equal(ours["patient"].to_numpy(), ref["id"].to_numpy())
    assert_array_equal(ours["selected"].to_numpy(), _flags(ref["sg_select"]).astype(bool))
    assert ours.loc[~ours["selected"], "reason"].notna().all()
    assert ours.loc[ours["selected"], "reason"].isna().all()


def r_scalars(call_id: str) -> dict[str, float]:
    rows = table("sg_scalars.csv")
    rows = rows[rows["call_id"] == call_id]
    return dict(zip(rows["name"], rows["value"].astype(float), strict=True))


#: describe_sg name -> our column
DESCRIBE_NAMES = {
    "total_n": "n_rows", "sg_total_n": "n_events", "sg_n": "n_patients_with_event",
    "sg_pct": "pct_with_event", "sg_multiple_n": "n_multiple", "sg_multiple_pct": "pct_multiple",
    "sg_reversal_n": "n_reversals", "sg_reversal_pct": "pct_reversals",
    "sg_magnitude_m": "magnitude_mean", "sg_magnitude_sd": "magnitude_sd",
}


@pytest.mark.parametrize("call_id", call_ids("bysg_") + call_ids("byperson_"))
def test_describe_sg_against_R(call_id):
    # R: describe_sg(data = <the create_bysg / create_byperson call>, sg_data_structure =
    #    "bysg" / "byperson"); R rounds to 2 decimals.
    row = call_row(call_id)
    expected = r_scalars(f"{call_id}__describe_sg")
    names = set(expected)
    events = ours_create(row["design"], row["call_name"])
    got = describe_sudden_changes(events, digits=2).iloc[0]
    assert got["table"] == ("events" if row["call_name"].startswith("bysg") else "persons")
    sign = -1.0 if got["kind"] == "loss" else 1.0
    if row["call_name"] == "bysg_sg_1to2":
        # R's reversal with identify_sg_1to2 = TRUE starts at n + 2 (see test_create_against_R)
        n_rev = int(reversal_from(row["design"], events, 2).sum())
        assert expected.pop("sg_reversal_n") == n_rev
        assert_allclose(expected.pop("sg_reversal_pct"), round(100 * n_rev / len(events), 2))
    for name, value in expected.items():
        ours = float(got[DESCRIBE_NAMES[name]]) * (sign if name == "sg_magnitude_m" else 1.0)
        assert_allclose(ours, value, rtol=0, atol=TOL, equal_nan=True, err_msg=name)
    if row["call_name"].startswith("bysg"):  # no *_n of multiple and persons in R's bysg
        assert names == set(DESCRIBE_NAMES) - {"sg_n", "sg_multiple_n"}
    else:
        assert names == set(DESCRIBE_NAMES)


@pytest.mark.parametrize("design", sorted(meta()))
def test_crit1_cutoff_against_R(design):
    # R: define_crit1_cutoff(data_sd = <design>$t1, reliability = <reliability>)
    expected = r_scalars(f"{design}__crit1_cutoff_data_sd")
    got = sudden_change_cutoff(scores=wide(design)["t1"], reliability=meta()[design]["reliability"])
    for name, value in expected.items():
        assert_allclose(getattr(got, name), value, rtol=TOL, atol=0, err_msg=name)


def test_every_call_is_tested():
    """Every stored R call is covered by one of the tests above."""
    known = set(R_CALLS) | set(CREATE_CALLS) | {"crit1_cutoff_data_sd", "select_cases_pattern"}
    names = set(calls()["call_name"])
    assert {n for n in names if not n.startswith("select_cases_min_sess")} <= known
    assert len(calls()) == 26 * len(meta())


def test_data_are_what_the_generator_makes():
    """The stored wide data sets are exactly those of sg_random_designs.py (seeded)."""
    import importlib.util

    path = ROOT.parent / "scripts" / "sg_random_designs.py"
    spec = importlib.util.spec_from_file_location("sg_random_designs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for design, info in meta().items():
        made = module.make(design, module.DESIGNS[design], info["seed"])
        stored = wide(design)
        assert_array_equal(made["id"].to_numpy(), stored["id"].to_numpy())
        assert_allclose(made.drop(columns="id").to_numpy(dtype=float),
                        stored.drop(columns="id").to_numpy(dtype=float), rtol=0, atol=0,
                        equal_nan=True, err_msg=design)
