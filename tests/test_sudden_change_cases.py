"""ia.sudden_change_cases (suddengains' select_cases) and ia.describe_sudden_changes (describe_sg).

Against suddengains 0.7.2 on its ``sgdata`` (``tests/refs/suddengains``, calls in its
``sg_calls.csv``); the randomised designs are in ``test_sudden_changes_random_vs_R.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

import iatrogenic as ia
from iatrogenic.exceptions import ColumnNotFoundError, ParameterError, ParameterTypeError

SG_VARS = [f"bdi_s{i}" for i in range(1, 13)]


@pytest.fixture(scope="module")
def refs(refs_dir: Path) -> Path:
    return refs_dir / "suddengains"


@pytest.fixture(scope="module")
def sgdata(refs_dir: Path) -> pd.DataFrame:
    return pd.read_csv(refs_dir / "datasets" / "suddengains__sgdata.csv")


@pytest.fixture(scope="module")
def long12(sgdata: pd.DataFrame) -> pd.DataFrame:
    long = sgdata.melt(id_vars="id", value_vars=SG_VARS, var_name="column", value_name="bdi")
    long["week"] = long["column"].str.removeprefix("bdi_s").astype(int)
    return long.rename(columns={"id": "pid"})[["pid", "week", "bdi"]]


def scalars(refs: Path, call_id: str) -> dict[str, float]:
    table = pd.read_csv(refs / "sg_scalars.csv")
    rows = table[table["call_id"] == call_id]
    return dict(zip(rows["name"], rows["value"].astype(float), strict=True))


COLUMNS = {"patient": "pid", "time": "week", "score": "bdi"}

# --------------------------------------------------------------------------------------------
# select_cases
# --------------------------------------------------------------------------------------------


def test_select_cases_pattern_against_R(refs, long12):
    # R: select_cases(data = sgdata, id_var_name = "id", sg_var_list = sg_vars,
    #                 method = "pattern", return_id_lgl = FALSE)
    ref = pd.read_csv(refs / "sg_select_cases_pattern.csv").sort_values("id")
    ours = ia.sudden_change_cases(long12, **COLUMNS)
    assert list(ours.columns) == ["patient", "selected", "n_occasions", "n_scores", "reason"]
    assert_array_equal(ours["patient"].to_numpy(), ref["id"].to_numpy())
    assert_array_equal(ours["selected"].to_numpy(), ref["sg_select"].to_numpy())
    assert 0 < (~ours["selected"]).sum() < len(ours)
    # The pattern rule = "at least one interval can be decided".
    by = ia.sudden_changes_by_person(long12, cutoff=7, **COLUMNS)
    assert_array_equal(ours["selected"].to_numpy(), by["n_intervals"].to_numpy() > 0)
    assert ours.loc[~ours["selected"], "reason"].str.contains("criterion 3").all()


def test_select_cases_min_sess_against_R(refs, long12):
    # R: select_cases(data = sgdata, id_var_name = "id", sg_var_list = sg_vars,
    #                 method = "min_sess", min_sess_num = 9, return_id_lgl = TRUE)
    ref = pd.read_csv(refs / "sg_select_cases_min_sess9.csv").sort_values("id")
    ours = ia.sudden_change_cases(long12, method="min_sessions", min_sessions=9, **COLUMNS)
    assert_array_equal(ours["selected"].to_numpy(), ref["sg_select"].to_numpy())
    assert 0 < (~ours["selected"]).sum() < len(ours)
    assert_array_equal(ours["n_scores"] >= 9, ours["selected"])
    assert (ours.loc[~ours["selected"], "reason"] == "fewer than 9 observed scores").all()
    # suddengains' spelling
    alias = ia.sudden_change_cases(long12, method="min_sess", min_sessions=9, **COLUMNS)
    pd.testing.assert_frame_equal(alias, ours)


def test_cases_each_pattern_and_edges():
    rows = {
        1: [1, 1, 1, 1],              # 1111
        2: [1, 1, 1, None, 1],        # 11101
        3: [1, None, 1, 1, 1],        # 10111
        4: [1, None, 1, 1, None, 1],  # 101101
        5: [1, None, 1, None, 1, None, 1],
        6: [1, 1, 1],                 # too short
        7: [None, None],
        8: [1, 1, None, 1, None, 1, 1],
    }
    data = pd.DataFrame([(p, s, v) for p, values in rows.items()
                         for s, v in enumerate(values, start=1)],
                        columns=["patient", "session", "score"])
    before = data.copy()
    out = ia.sudden_change_cases(data)
    pd.testing.assert_frame_equal(data, before)  # input not modified
    assert out["selected"].tolist() == [True, True, True, True, False, False, False, False]
    assert out.loc[6, "reason"] == "no observed score"
    assert out["n_occasions"].tolist() == [len(v) for v in rows.values()]


def test_cases_errors(long12):
    with pytest.raises(ParameterError, match="min_sessions="):
        ia.sudden_change_cases(long12, method="min_sessions", **COLUMNS)
    with pytest.raises(ParameterError, match=r"'min_sessions'.*at most 12"):
        ia.sudden_change_cases(long12, method="min_sessions", min_sessions=13, **COLUMNS)
    with pytest.raises(ParameterTypeError, match="'min_sessions'"):
        ia.sudden_change_cases(long12, method="min_sessions", min_sessions=2.5, **COLUMNS)
    with pytest.raises(ParameterError, match="only with method='min_sessions'"):
        ia.sudden_change_cases(long12, min_sessions=4, **COLUMNS)
    with pytest.raises(ParameterError, match=r"'method'.*Did you mean 'pattern'"):
        ia.sudden_change_cases(long12, method="patern", **COLUMNS)
    with pytest.raises(ColumnNotFoundError, match="score="):
        ia.sudden_change_cases(long12, patient="pid", time="week")


# --------------------------------------------------------------------------------------------
# describe_sg
# --------------------------------------------------------------------------------------------

R_NAMES = {
    "total_n": "n_rows", "sg_total_n": "n_events", "sg_n": "n_patients_with_event",
    "sg_pct": "pct_with_event", "sg_multiple_n": "n_multiple", "sg_multiple_pct": "pct_multiple",
    "sg_reversal_n": "n_reversals", "sg_reversal_pct": "pct_reversals",
    "sg_magnitude_m": "magnitude_mean", "sg_magnitude_sd": "magnitude_sd",
}


@pytest.mark.parametrize(("call_id", "kind", "select"), [
    # R: describe_sg(data = create_bysg(data = sgdata, sg_crit1_cutoff = 7, id_var_name = "id",
    #    tx_start_var_name = "bdi_s1", tx_end_var_name = "bdi_s12", sg_var_list = sg_vars,
    #    sg_measure_name = "bdi", identify = "sg"), sg_data_structure = "bysg")
    ("describe_bysg_sg", "gain", None),
    # R: describe_sg(data = create_bysg(..., sg_crit1_cutoff = -7, ..., identify = "sl"),
    #    sg_data_structure = "bysg")
    ("describe_bysg_sl", "loss", None),
    # R: describe_sg(data = create_byperson(..., sg_crit1_cutoff = 7, ...,
    #    multiple_sg_select = "first", identify = "sg"), sg_data_structure = "byperson")
    ("describe_byperson_sg_first", "gain", "first"),
])
def test_describe_against_R(refs, long12, call_id, kind, select):
    expected = scalars(refs, call_id)
    if select is None:
        table = ia.sudden_changes(long12, kind=kind, cutoff=7, **COLUMNS)
    else:
        table = ia.sudden_changes_by_person(long12, kind=kind, cutoff=7, select=select,
                                            **COLUMNS)
    before = table.copy()
    got = ia.describe_sudden_changes(table, digits=2)
    pd.testing.assert_frame_equal(table, before)
    assert len(got) == 1
    row = got.iloc[0]
    assert row["kind"] == kind
    assert row["table"] == ("events" if select is None else "persons")
    for name, value in expected.items():
        ours = float(row[R_NAMES[name]])
        if name == "sg_magnitude_m" and kind == "loss":
            ours = -ours  # R's sg_magnitude is negative for losses
        assert ours == pytest.approx(value, abs=1e-9), name
    # Straight from long data, unrounded.
    direct = ia.describe_sudden_changes(long12, kind=kind, cutoff=7, select=select, **COLUMNS)
    assert direct.iloc[0]["magnitude_sd"] == pytest.approx(row["magnitude_sd"], abs=0.005)
    assert direct.iloc[0]["n_events"] == row["n_events"]


def test_describe_vignette_numbers(long12):
    """suddengains tutorial: 24 gains, 70.83 % multiple, 4 reversals (16.67 %), M 11 SD 3.43."""
    got = ia.describe_sudden_changes(ia.sudden_changes(long12, cutoff=7, **COLUMNS)).iloc[0]
    assert (got["n_events"], got["n_reversals"]) == (24, 4)
    assert got["pct_multiple"] == pytest.approx(100 * 17 / 24)
    assert got["magnitude_mean"] == pytest.approx(11.0)
    assert round(got["magnitude_sd"], 2) == 3.43


def test_describe_empty_and_errors(long12):
    none = ia.sudden_changes(long12, cutoff=100, **COLUMNS)
    got = ia.describe_sudden_changes(none).iloc[0]
    assert got["n_rows"] == 0 and got["n_events"] == 0
    assert np.isnan(got["pct_with_event"]) and np.isnan(got["magnitude_mean"])
    by = ia.sudden_changes_by_person(long12, cutoff=100, **COLUMNS)
    got = ia.describe_sudden_changes(by).iloc[0]
    assert got["n_rows"] == 43 and got["pct_with_event"] == 0
    assert np.isnan(got["pct_reversals"]) and np.isnan(got["magnitude_sd"])
    with pytest.raises(ParameterTypeError, match="'events_or_data'"):
        ia.describe_sudden_changes([1, 2, 3])
    with pytest.raises(ParameterError, match="cutoff"):
        ia.describe_sudden_changes(none, cutoff=7)
    with pytest.raises(ParameterError, match="'digits'"):
        ia.describe_sudden_changes(none, digits=-1)
