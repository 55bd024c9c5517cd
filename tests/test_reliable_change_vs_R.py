"""reliable_change() and change_summary() against clinicalsignificance 3.0.0 (R) reference output.

Every call of ``refs/clinicalsignificance/cs_calls.csv`` except HLM (growth engine), the
percentage-change (``pct_*``) and anchor calls is replayed: per-patient RCI (and HA ``cs_indiv``)
to 1e-8, categories exactly, the individual-level summary exactly (R rounds ``percent`` to 4
decimals), the HA group-level summary, and the scalars of the R result object to 1e-8. The R call
text is the parameter id's source: it is shown in each failure message.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import REFS_DIR

from iatrogenic.core.reliable_change import reliable_change
from iatrogenic.core.summary import change_summary, ha_group_summary

TOL = 1e-8
REFS = "clinicalsignificance"
# R result scalar name (last component) -> our result.attrs key
SCALARS = {
    "s_diff": "s_diff", "se_measurement": "se_measurement", "se_prediction": "se_prediction",
    "r_dd": "r_dd", "critical_value": "critical_value", "reliability": "reliability",
    "n_original": "n_original", "n_used": "n_used", "direction": "direction", "value": "cutoff",
    "m_clinical": "m_clinical", "sd_clinical": "sd_clinical", "m_functional": "m_functional",
    "sd_functional": "sd_functional", "reliability_clinical": "reliability_clinical",
    "reliability_functional": "reliability_functional", "m_post": "m_post",
    "sd_post": "sd_post",
}


def _call_ids() -> list[str]:
    calls = pd.read_csv(REFS_DIR / REFS / "cs_calls.csv", keep_default_na=False)
    keep = ~calls["call_id"].str.contains("HLM") & ~calls["call_id"].str.startswith(
        ("pct_", "anchor_")
    )
    return calls.loc[keep, "call_id"].tolist()


CALL_IDS = _call_ids()


def parse_r_call(call: str) -> tuple[str, list[str], dict[str, Any]]:
    """Split ``fn(data, id, time, outcome, key = value, ...)`` into its parts."""
    name, rest = call.split("(", 1)
    positional: list[str] = []
    named: dict[str, Any] = {}
    for part in rest.rstrip(")").split(","):
        part = part.strip()
        if "=" in part:
            key, value = (x.strip() for x in part.split("=", 1))
            is_literal = value[0] in '"0123456789.-'
            named[key] = ast.literal_eval(value) if is_literal else value
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
def refs(refs_dir: Path) -> dict[str, pd.DataFrame]:
    ref = refs_dir / REFS
    data = refs_dir / "datasets"
    claus = pd.read_csv(data / "clinicalsignificance__claus_2020.csv")
    # Factor levels as in the R data set (MANIFEST.csv): R orders grouped summaries by them.
    manifest = pd.read_csv(data / "MANIFEST.csv", keep_default_na=False)
    levels = manifest.loc[manifest["file"].str.contains("claus_2020"), "factor_levels"].iloc[0]
    treatment = re.search(r"treatment=\[([^\]]*)\]", levels).group(1).split("|")  # type: ignore[union-attr]
    claus["treatment"] = pd.Categorical(claus["treatment"], categories=treatment)
    return {
        "calls": pd.read_csv(ref / "cs_calls.csv", keep_default_na=False),
        "patients": pd.read_csv(
            ref / "cs_patient_results.csv", dtype={"id": str, "category": str, "group": str},
            keep_default_na=False, na_values=[""],
        ),
        "summary": pd.read_csv(ref / "cs_summary.csv", keep_default_na=False, na_values=[""]),
        "scalars": pd.read_csv(ref / "cs_scalars.csv", dtype=str, keep_default_na=False),
        "claus_2020": claus,
        "jacobson_1989": pd.read_csv(data / "clinicalsignificance__jacobson_1989.csv"),
    }


def test_every_comparable_call_is_covered() -> None:
    # 83 calls: 6 HLM and 3 percentage-change calls are out of scope.
    assert len(CALL_IDS) == 74


@pytest.mark.parametrize("call_id", CALL_IDS)
def test_matches_clinicalsignificance(call_id: str, refs: dict[str, pd.DataFrame]) -> None:
    call = refs["calls"].set_index("call_id").loc[call_id, "call"]
    dataset, kwargs = python_kwargs(call)
    data = refs[dataset]
    before = data.copy()
    ours = reliable_change(data, **kwargs)
    pd.testing.assert_frame_equal(data, before)  # input untouched

    # --- per patient (R drops patients without pre or post; we keep them with a reason)
    r = refs["patients"].query("call_id == @call_id").set_index("id")
    ours_by_id = ours.set_index(ours["patient"].astype(str))
    used = ours_by_id.loc[r.index]
    extra = ours_by_id.drop(index=r.index)
    assert extra["reason"].notna().all(), call
    assert used["reason"].isna().all(), call
    assert len(ours) == int(refs["scalars"].query(
        "call_id == @call_id and name == 'n_obs.n_original'")["value"].iloc[0])
    np.testing.assert_allclose(used["pre"], r["pre"], rtol=0, atol=0, err_msg=call)
    np.testing.assert_allclose(used["post"], r["post"], rtol=0, atol=0, err_msg=call)
    if r["rci"].notna().any():
        np.testing.assert_allclose(used["rci"], r["rci"], rtol=TOL, atol=TOL, err_msg=call)
    if r["cs_indiv"].notna().any():
        np.testing.assert_allclose(used["cs_indiv"], r["cs_indiv"], rtol=TOL, atol=TOL,
                                   err_msg=call)
    assert used["category"].astype(str).tolist() == r["category"].str.lower().tolist(), call
    for flag in ("improved", "deteriorated", "unchanged", "recovered", "harmed",
                 "clinical_pre", "functional_post", "clinical_post"):
        if flag in r and r[flag].notna().any():
            expected = r[flag].astype(str).str.upper().eq("TRUE").tolist()
            assert used[flag].astype(bool).tolist() == expected, (call, flag)
    if kwargs.get("group"):
        assert used["group"].astype(str).tolist() == r["group"].tolist(), call

    # --- individual-level summary: counts and R's 4-decimal percents, exactly
    s = refs["summary"].query("call_id == @call_id and level == 'individual_level_summary'")
    summary = change_summary(ours, digits=4)
    assert summary["category"].astype(str).tolist() == s["category"].str.lower().tolist()
    assert summary["n"].tolist() == s["n"].astype(int).tolist(), call
    assert summary["percent"].tolist() == s["percent"].tolist(), call
    if s["group"].notna().any():
        assert summary["group"].astype(str).tolist() == s["group"].tolist(), call
        assert summary["percent_by_group"].tolist() == s["percent_by_group"].tolist(), call

    # --- HA group-level summary (cs_combined with rci_method = "HA")
    g = refs["summary"].query("call_id == @call_id and level == 'group_level_summary'")
    if len(g):
        ha = ha_group_summary(ours)
        assert ha["category"].tolist() == g["category"].str.lower().tolist()
        np.testing.assert_allclose(ha["percent"], g["percent"], rtol=TOL, atol=TOL, err_msg=call)

    # --- scalars of the R result object
    for name, value in refs["scalars"].query("call_id == @call_id")[["name", "value"]].values:
        key = name.split(".")[-1]
        if name == "cutoff_results.reliability_post":
            key = "reliability_post_ha"
        elif name == "rci_results.reliability_post":
            key = "reliability_post"
        elif key not in SCALARS:
            continue
        else:
            key = SCALARS[key]
        assert ours.attrs.get(key) is not None, (call, name)
        assert ours.attrs[key] == pytest.approx(float(value), rel=TOL, abs=TOL), (call, name)
