"""reliable_change() against clinicalsignificance 3.0.0 on randomised designs.

The designs (10 to 2,000 patients, several scales, both directions, missing pre or post scores,
absent rows, ties, post scores exactly at the cut-offs, groups, multi-wave data for HLM) are made
by ``refs/scripts/cs_random_designs.py``; ``refs/scripts/cs_random_designs.R`` ran every
``cs_distribution`` / ``cs_statistical`` / ``cs_combined`` call listed in
``refs/clinicalsignificance_random/cs_calls.csv`` (see its README). Each test id is the call id and
every assertion message carries the exact R call. Per patient: RCI (and HA ``cs_indiv``) to 1e-8,
categories and flags exactly; the summary exactly (R rounds to 4 decimals); every scalar of the R
result to 1e-8. HLM compares with an iterative optimum of lme4 and uses the tolerances of
``test_hlm_vs_R.py``. The deliberate differences (docs/reliable-change.md) are tested explicitly:
cut-off b, HA harmed, NK in the combined approach, R swapping pre and post when the first patient
has no pre row, and HA with a negative r_dd.
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import REFS_DIR

from iatrogenic.core.reliable_change import reliable_change
from iatrogenic.core.summary import change_summary
from iatrogenic.exceptions import InvalidValueError

TOL = 1e-8
REFS = REFS_DIR / "clinicalsignificance_random"
SCALARS = {
    "s_diff": "s_diff", "se_measurement": "se_measurement", "se_prediction": "se_prediction",
    "r_dd": "r_dd", "critical_value": "critical_value", "reliability": "reliability",
    "n_original": "n_original", "n_used": "n_used", "direction": "direction", "value": "cutoff",
    "m_clinical": "m_clinical", "sd_clinical": "sd_clinical", "m_functional": "m_functional",
    "sd_functional": "sd_functional", "reliability_clinical": "reliability_clinical",
    "reliability_functional": "reliability_functional", "m_post": "m_post",
    "sd_post": "sd_post",
}
# R scalar -> (our attrs key, rtol, atol), as in test_hlm_vs_R.py (lme4 stops near, not at, the
# optimum: its fit is not accurate to 1e-8)
HLM_SCALARS = {
    "hlm.reml_criterion": ("hlm_reml_criterion", 1e-8, 0.0),
    "hlm.fixef.(Intercept)": ("hlm_fixef_intercept", 1e-6, 0.0),
    "hlm.fixef.time": ("hlm_fixef_time", 1e-6, 0.0),
    "hlm.vcov.id:(Intercept)": ("hlm_var_intercept", 1e-4, 5e-4),
    "hlm.vcov.id:time": ("hlm_var_time", 1e-4, 5e-4),
    "hlm.vcov.id:(Intercept):time": ("hlm_cov_intercept_time", 1e-4, 5e-4),
    "hlm.vcov.Residual": ("hlm_residual_variance", 1e-4, 0.0),
}
HLM_RCI_TOL = 1e-4
# R swaps pre and post of every patient when the first patient (in id order) has no pre row:
# tidyr::pivot_wider() orders the columns by first appearance and .prep_data() then renames
# the last two columns "pre" and "post".
SWAPPED_DESIGN = "r16_phq9_n80_first_patient_no_pre_row"


def _calls() -> pd.DataFrame:
    calls = pd.read_csv(REFS / "cs_calls.csv", keep_default_na=False)
    return calls[calls["call"].str.match(r"cs_(distribution|statistical|combined)\(")]


CALLS = _calls()
OK_IDS = CALLS.loc[CALLS["status"] == "ok", "call_id"].tolist()
ERROR_IDS = CALLS.loc[CALLS["status"] == "error", "call_id"].tolist()


def parse_r_call(call: str) -> tuple[str, list[str], dict[str, Any]]:
    """Split ``fn(data, id, time, outcome, key = value, ...)`` into its parts."""
    name, rest = call.split("(", 1)
    positional: list[str] = []
    named: dict[str, Any] = {}
    for part in rest[:-1].split(","):
        part = part.strip()
        if "=" in part:
            key, value = (x.strip() for x in part.split("=", 1))
            named[key] = ast.literal_eval(value) if value[0] in '"0123456789.-' else value
        else:
            positional.append(part)
    return name, positional, named


def python_kwargs(call: str) -> tuple[str, dict[str, Any]]:
    """Our reliable_change() arguments for an R call (cut-off b as R: cutoff_sd='clinical')."""
    function, (dataset, pid, time, outcome), r = parse_r_call(call)
    kwargs: dict[str, Any] = dict(
        patient=pid, time=time, score=outcome, pre=r.get("pre"), post=r.get("post"),
        better=r["better_is"], reliability=r.get("reliability"),
        reliability_post=r.get("reliability_post"), group=r.get("group"),
    )
    if function == "cs_distribution":
        kwargs["method"] = r["rci_method"]
    else:
        kwargs.update(cutoff_type=r["cutoff_type"], cutoff_sd="clinical")
        if "m_functional" in r:
            kwargs["functional"] = (r["m_functional"], r["sd_functional"])
        if function == "cs_statistical":
            kwargs.update(method=None, cutoff_method=r["cutoff_method"])
        else:
            kwargs["method"] = r["rci_method"]
    return dataset, kwargs


@pytest.fixture(scope="module")
def refs() -> dict[str, Any]:
    patients = pd.read_csv(
        REFS / "cs_patient_results.csv.gz",
        dtype={"id": str, "category": str, "group": str}, keep_default_na=False, na_values=[""],
    )
    keep = set(CALLS["call_id"])
    data_dir = REFS / "data"
    return {
        "calls": CALLS.set_index("call_id"),
        "patients": {k: v for k, v in patients.groupby("call_id", sort=False) if k in keep},
        "summary": {k: v for k, v in pd.read_csv(
            REFS / "cs_summary.csv", keep_default_na=False, na_values=[""]
        ).groupby("call_id", sort=False)},
        "scalars": {k: v.set_index("name")["value"] for k, v in pd.read_csv(
            REFS / "cs_scalars.csv", dtype=str, keep_default_na=False
        ).groupby("call_id", sort=False)},
        "data": {p.stem: pd.read_csv(p) for p in sorted(data_dir.glob("*.csv"))},
    }


def _swap_occasions(data: pd.DataFrame) -> pd.DataFrame:
    """The design with occasions 1 and 2 exchanged (what R effectively analyses)."""
    out = data.copy()
    out["time"] = out["time"].map({1: 2, 2: 1})
    return out


def test_reference_inventory() -> None:
    designs = CALLS["design"].unique()
    assert len(designs) == 19
    assert len(OK_IDS) == 451 and len(ERROR_IDS) == 13
    assert CALLS["call"].str.contains('rci_method = "HLM"').sum() == 9


@pytest.mark.parametrize("call_id", OK_IDS)
def test_matches_clinicalsignificance(call_id: str, refs: dict[str, Any]) -> None:
    call = refs["calls"].loc[call_id, "call"]
    dataset, kwargs = python_kwargs(call)
    data = refs["data"][dataset]
    before = data.copy()
    r = refs["patients"][call_id].set_index("id")
    scalars = refs["scalars"][call_id]
    hlm = kwargs["method"] == "HLM"
    if r["rci"].isna().all() and kwargs["method"] is not None:
        # R: HA with r_dd < 0 -> sqrt(r_dd) is NaN, every RCI NaN (R warns "NaNs produced");
        # we refuse with a clear error instead.
        assert kwargs["method"] == "HA" and float(scalars["rci_results.r_dd"]) < 0, call
        with pytest.raises(InvalidValueError, match="r_dd"):
            reliable_change(data, **kwargs)
        return
    if dataset == SWAPPED_DESIGN:
        ours_plain = reliable_change(data, **kwargs)
        plain = ours_plain.set_index(ours_plain["patient"].astype(str)).loc[r.index]
        # the documented R bug: R's pre is the post score of the data and vice versa
        np.testing.assert_array_equal(plain["pre"], r["post"], err_msg=call)
        np.testing.assert_array_equal(plain["post"], r["pre"], err_msg=call)
        data = _swap_occasions(data)
    ours = reliable_change(data, **kwargs)
    pd.testing.assert_frame_equal(refs["data"][dataset], before)  # input untouched

    # --- per patient (R drops patients without pre or post; we keep them with a reason)
    by_id = ours.set_index(ours["patient"].astype(str))
    used = by_id.loc[r.index]
    extra = by_id.drop(index=r.index)
    assert extra["reason"].notna().all(), call
    assert used["reason"].isna().all(), call
    if not hlm:
        assert len(ours) == int(scalars["n_obs.n_original"]), call
    np.testing.assert_array_equal(used["pre"], r["pre"], err_msg=call)
    np.testing.assert_array_equal(used["post"], r["post"], err_msg=call)
    tol = HLM_RCI_TOL if hlm else TOL
    if r["rci"].notna().any():
        np.testing.assert_allclose(used["rci"], r["rci"], rtol=tol, atol=tol, err_msg=call)
    if r["cs_indiv"].notna().any():
        np.testing.assert_allclose(used["cs_indiv"], r["cs_indiv"], rtol=TOL, atol=TOL,
                                   err_msg=call)
    ours_cat = used["category"].astype(str)
    r_cat = r["category"].str.lower()
    ha_combined = kwargs["method"] == "HA" and "cutoff_type" in kwargs
    if ha_combined:
        # Difference 2: R (cs_get_augmented_data = create_summary_table.cs_combined) flags
        # harmed = !clinical_pre & !functional_post & deteriorated, i.e. for HA "not clinical at
        # pre and reliably worse"; ours requires clinical_post (reliably in the clinical range at
        # post). So ours = R's harmed & clinical_post; R's other harmed are deteriorated here.
        clinical_post = used["clinical_post"].astype(bool).to_numpy()
        r_harmed = r_cat.eq("harmed").to_numpy()
        np.testing.assert_array_equal(ours_cat.eq("harmed").to_numpy(), r_harmed & clinical_post,
                                      err_msg=call)
        r_cat = r_cat.where(~(r_harmed & ~clinical_post), "deteriorated")
    assert ours_cat.tolist() == r_cat.tolist(), call
    for flag in ("improved", "deteriorated", "unchanged", "recovered", "harmed",
                 "clinical_pre", "functional_post", "clinical_post"):
        if flag in r and r[flag].notna().any():
            expected = r[flag].astype(str).str.upper().eq("TRUE").to_numpy()
            got = used[flag].astype(bool).to_numpy()
            if ha_combined and flag in ("harmed", "deteriorated"):
                expected = r_cat.eq(flag).to_numpy()
            np.testing.assert_array_equal(got, expected, err_msg=f"{call}: {flag}")
    if kwargs.get("group"):
        assert used["group"].astype(str).tolist() == r["group"].tolist(), call

    # --- individual-level summary: counts and R's 4-decimal percents, exactly
    s = refs["summary"][call_id].query("level == 'individual_level_summary'")
    if not ha_combined:
        summary = change_summary(ours, digits=4)
        key = ["group", "category"] if s["group"].notna().any() else ["category"]
        mine = summary.assign(category=summary["category"].astype(str))
        if "group" in mine:
            mine["group"] = mine["group"].astype(str)
        mine = mine.set_index(key).sort_index()
        theirs = s.assign(category=s["category"].str.lower()).set_index(key).sort_index()
        assert mine.index.tolist() == theirs.index.tolist(), call
        assert mine["n"].tolist() == theirs["n"].astype(int).tolist(), call
        assert mine["percent"].tolist() == theirs["percent"].tolist(), call
        if "percent_by_group" in theirs and theirs["percent_by_group"].notna().any():
            assert mine["percent_by_group"].tolist() == theirs["percent_by_group"].tolist()
    else:
        # R's summary counts its own per-patient categories; ours the adjusted ones
        theirs = s.set_index(s["category"].str.lower())["n"].astype(int)
        r_counts = r["category"].str.lower().value_counts()
        assert all(theirs[c] == r_counts.get(c, 0) for c in theirs.index), call
        mine = change_summary(ours).set_index("category")["n"]
        assert all(mine[c] == (r_cat == c).sum() for c in theirs.index), call

    # --- scalars of the R result object
    for name, value in scalars.items():
        if name.startswith("hlm."):
            key, rtol, atol = HLM_SCALARS[name]
            np.testing.assert_allclose(ours.attrs[key], float(value), rtol=rtol, atol=atol,
                                       err_msg=f"{call}: {name}")
            continue
        last = name.split(".")[-1]
        if name == "cutoff_results.reliability_post":
            key = "reliability_post_ha"
        elif name == "rci_results.reliability_post":
            key = "reliability_post"
        elif last not in SCALARS or (hlm and last == "n_original"):
            continue
        else:
            key = SCALARS[last]
        assert ours.attrs.get(key) is not None, (call, name)
        assert ours.attrs[key] == pytest.approx(float(value), rel=TOL, abs=TOL), (call, name)


B_IDS = [c for c in OK_IDS if c.endswith("_b") and "_HA_" not in c]


@pytest.mark.parametrize("call_id", B_IDS)
def test_cutoff_b_default_uses_functional_sd(call_id: str, refs: dict[str, Any]) -> None:
    """Difference 1: R's b is m_functional - d 2 sd_clinical; ours by default uses sd_functional."""
    call = refs["calls"].loc[call_id, "call"]
    dataset, kwargs = python_kwargs(call)
    data = refs["data"][dataset]
    if dataset == SWAPPED_DESIGN:
        data = _swap_occasions(data)
    kwargs.pop("cutoff_sd")
    ours = reliable_change(data, **kwargs)
    m_f, sd_f = kwargs["functional"]
    d = ours.attrs["direction"]
    assert ours.attrs["cutoff"] == pytest.approx(m_f - d * 2 * sd_f, rel=1e-12)
    r_cutoff = float(refs["scalars"][call_id]["cutoff_results.info.value"])
    sd_c = float(refs["scalars"][call_id]["cutoff_results.info.sd_clinical"])
    assert r_cutoff == pytest.approx(m_f - d * 2 * sd_c, rel=1e-12), call
    assert (ours.attrs["cutoff"] == pytest.approx(r_cutoff)) == (sd_f == pytest.approx(sd_c))


@pytest.mark.parametrize("call_id", ERROR_IDS)
def test_combined_nk_without_reliability_post(call_id: str, refs: dict[str, Any]) -> None:
    """Difference 5: R aborts; ours defaults reliability_post to reliability, which equals R's
    call with reliability_post given (``..._comb_NK_c``)."""
    call = refs["calls"].loc[call_id, "call"]
    assert "must be size" in refs["calls"].loc[call_id, "messages"], call
    dataset, kwargs = python_kwargs(call)
    assert kwargs["reliability_post"] is None
    data = refs["data"][dataset]
    if dataset == SWAPPED_DESIGN:
        data = _swap_occasions(data)
    ours = reliable_change(data, **kwargs)
    twin = call_id.replace("_no_relpost", "")
    r = refs["patients"][twin].set_index("id")
    used = ours.set_index(ours["patient"].astype(str)).loc[r.index]
    np.testing.assert_allclose(used["rci"], r["rci"], rtol=TOL, atol=TOL, err_msg=call)
    assert used["category"].astype(str).tolist() == r["category"].str.lower().tolist(), call
    assert ours.attrs["reliability_post"] == kwargs["reliability"]


def test_exact_cutoff_designs_hit_the_cutoffs(refs: dict[str, Any]) -> None:
    """The exact_* designs put post scores exactly on R's integer cut-offs: strict comparison."""
    for design, cut in (("e11_exact_phq9_n31", {"a": 9.0, "b": 13.0, "c": 11.0}),
                        ("e12_exact_wemwbs_n45_higher", {"a": 52.0, "b": 40.0, "c": 46.0})):
        for t, value in cut.items():
            call_id = f"{design}__comb_JT_{t}"
            assert float(refs["scalars"][call_id]["cutoff_results.info.value"]) == value
            r = refs["patients"][call_id]
            at = r[r["post"] == value]
            assert len(at) >= 1, call_id
            assert not at["functional_post"].astype(str).str.upper().eq("TRUE").any()
