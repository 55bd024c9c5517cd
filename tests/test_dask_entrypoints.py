"""The per-patient entry points on Dask DataFrames equal the pandas results (threaded scheduler).

Every test compares the Dask result, computed, with the pandas function on the same data:
partitions already split by patient (with an empty partition and a partition of one patient)
and partitions that cut patients in two (shuffled by patient first).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic.exceptions import (
    DuplicateRowsError,
    IatrogenicWarning,
    OutOfRangeError,
    ParameterError,
)

dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

from iatrogenic import dask as ia_dask  # noqa: E402
from iatrogenic.dask._partition import SuspectRule, first_pass  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def threaded_scheduler():
    with dask.config.set(scheduler="threads"):
        yield


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    frame, _ = ia.datasets.simulate(seed=11)
    return frame


def by_patient(data: pd.DataFrame) -> dd.DataFrame:
    """Partitions split by patient: four groups of patients, an empty one and a single patient."""
    patients = data["patient"].drop_duplicates().to_numpy()
    groups = np.array_split(patients[1:], 4)
    pieces = [data[data["patient"] == patients[0]], data.iloc[:0]]
    pieces += [data[data["patient"].isin(group)] for group in groups]
    return dd.concat([dd.from_pandas(piece, npartitions=1) for piece in pieces])


def split(data: pd.DataFrame) -> dd.DataFrame:
    """Seven partitions of consecutive rows: some patients start in one and end in the next."""
    return dd.from_pandas(data, npartitions=7, sort=False)


LAYOUTS = {"by_patient": by_patient, "split": split}


def assert_same(expected: pd.DataFrame, result: dd.DataFrame, keys: list[str]) -> None:
    """Same rows (after sorting by ``keys``), values and dtypes; the meta has the dtypes too."""
    assert isinstance(result, dd.DataFrame)
    computed = result.compute()
    assert list(computed.columns) == list(expected.columns)
    for frame in (computed, result._meta):
        for name, dtype in expected.dtypes.items():
            if isinstance(dtype, pd.CategoricalDtype):
                assert isinstance(frame[name].dtype, pd.CategoricalDtype), name
            else:
                assert frame[name].dtype == dtype, name
    left = expected.sort_values(keys, kind="stable").reset_index(drop=True)
    right = computed.sort_values(keys, kind="stable").reset_index(drop=True)
    for name in left.columns:
        if isinstance(left[name].dtype, pd.CategoricalDtype):
            left[name] = left[name].astype(object)
            right[name] = right[name].astype(object)
    pd.testing.assert_frame_equal(left, right, check_exact=True)


def test_partitions_already_by_patient_are_not_shuffled(data):
    rule = SuspectRule("patient", "session")
    kept = first_pass(by_patient(data), patient="patient", caller="t", inspect=len, rule=rule)
    cut = first_pass(split(data), patient="patient", caller="t", inspect=len, rule=rule)
    assert not kept.shuffled
    assert cut.shuffled
    assert sum(kept.results) == sum(cut.results) == len(data)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "options",
    [
        {"instrument": "phq9"},
        {"reliability": 0.85},  # SD of the pre scores from the data
        {"instrument": "phq9", "method": "HA", "cutoff_type": "a"},
        {"reliability": 0.85, "method": "GLN", "cutoff": "caseness", "instrument": "phq9",
         "sd": None, "group": "therapist"},
    ],
)
def test_reliable_change_equals_pandas(data, layout, options):
    expected = ia.reliable_change(data, score="phq9", **options)
    result = ia.reliable_change(LAYOUTS[layout](data), score="phq9", **options)
    assert_same(expected, result, ["patient"])


def test_sample_sd_does_not_depend_on_the_partitions(data):
    """The RCI's SD is the whole sample's, whatever the partitions: 1 and 7 give the same."""
    one = ia.reliable_change(dd.from_pandas(data, npartitions=1), score="phq9", reliability=0.8)
    seven = ia.reliable_change(split(data), score="phq9", reliability=0.8)
    left = one.compute().sort_values("patient").reset_index(drop=True)
    right = seven.compute().sort_values("patient").reset_index(drop=True)
    pd.testing.assert_series_equal(left["rci"], right["rci"], check_exact=True)
    # what a per-partition SD would have given instead: a different RCI
    patients = data["patient"].drop_duplicates().to_numpy()
    half = data[data["patient"].isin(patients[: len(patients) // 7])]
    naive = ia.reliable_change(half, score="phq9", reliability=0.8).set_index("patient")["rci"]
    whole = left.set_index("patient")["rci"].reindex(naive.index)
    assert not np.allclose(naive.to_numpy(), whole.to_numpy(), equal_nan=True)


def test_reliable_change_hlm_equals_pandas(data):
    """HLM: one growth model of every partition's patients (the Dask growth engine)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same fit warns the same on both paths
        expected = ia.reliable_change(data, score="phq9", method="HLM")
        result = ia.reliable_change(split(data), score="phq9", method="HLM")
        assert_same(expected, result, ["patient"])
    assert expected["rci"].notna().sum() > 100


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "options",
    [
        {"instrument": "phq9", "kind": "loss"},
        {"reliability": 0.9},  # criterion 1 from the SD of the intake scores
        {"instrument": "phq9", "select": "first"},
    ],
)
def test_sudden_changes_equals_pandas(data, layout, options):
    expected = ia.sudden_changes(data, score="phq9", **options)
    result = ia.sudden_changes(LAYOUTS[layout](data), score="phq9", **options)
    keys = ["patient"] if "select" in options else ["patient", "session_pre"]
    assert_same(expected, result, keys)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_talking_therapies_equals_pandas(data, layout):
    expected = ia.talking_therapies_outcomes(data)
    assert_same(expected, ia.talking_therapies_outcomes(LAYOUTS[layout](data)), ["patient"])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_track_equals_pandas(data, layout):
    model = ia.load_reference_model()
    expected = model.track(data, score="phq9")
    assert_same(expected, model.track(LAYOUTS[layout](data), score="phq9"),
                ["patient", "session"])


SCREEN = {
    "score": "phq9",
    "instrument": "phq9",
    "attendance": "attendance",
    "date": "date",
    "alliance": "srs",
    "items": [f"phq9_item{i}" for i in range(1, 10)],
}
SCREEN_KEYS = ["patient", "session", "detector", "level", "value", "evidence"]


def pandas_screen_without_sample_wide(data: pd.DataFrame, **options) -> pd.DataFrame:
    events = ia.screen(data, **options)
    return events[events["detector"] != "worsening_trajectory"].reset_index(drop=True)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_screen_equals_pandas(data, layout):
    expected = pandas_screen_without_sample_wide(data, **SCREEN)
    with pytest.warns(IatrogenicWarning, match="worsening_trajectory"):
        result = ia_dask.screen(LAYOUTS[layout](data), **SCREEN)
    assert_same(expected, result, SCREEN_KEYS)


def test_screen_sample_sd_does_not_depend_on_the_partitions(data):
    """Reliable deterioration with the SD of every patient's intake (no SD in the options)."""
    detector = ia.get_detector("reliable_deterioration").__class__(reliability=0.85,
                                                                     rule="statistical")
    options = {"score": "phq9", "detectors": [detector]}
    expected = ia.screen(data, **options)
    one = ia_dask.screen(dd.from_pandas(data, npartitions=1), **options).compute()
    seven = ia_dask.screen(split(data), **options).compute()
    assert len(expected) and len(one) == len(seven) == len(expected)
    assert set(one["threshold"]) == set(seven["threshold"]) == set(expected["threshold"])
    assert_same(expected[["patient", "session", "value", "threshold"]],
                ia_dask.screen(split(data), **options)[["patient", "session", "value",
                                                        "threshold"]],
                ["patient", "session"])


def secondary_screen(data: pd.DataFrame, layout: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GAD-7 as a secondary measure: no SD in the registry, so the SD of the intake scores."""
    options = {"score": "phq9", "instrument": "phq9", "secondary": {"gad7": "gad7"},
               "detectors": ["secondary_worsening"]}
    expected = ia.screen(data, **options)
    result = ia_dask.screen(LAYOUTS[layout](data), **options).compute()
    keys = ["patient", "session", "value"]
    return (expected.sort_values(keys).reset_index(drop=True),
            result.sort_values(keys).reset_index(drop=True))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_screen_secondary_sd_from_every_partition(data, layout):
    expected, result = secondary_screen(data, layout)
    assert len(expected) > 10
    columns = ["patient", "session", "level", "value", "threshold"]
    pd.testing.assert_frame_equal(expected[columns], result[columns], check_exact=True)


def test_screen_secondary_evidence_wording(data):
    # the whole sample's intake SD reaches every partition (ScreenInput.intake_sds), so the
    # evidence reads as the pandas screen's: "SD of intake scores in the data"
    expected, result = secondary_screen(data, "by_patient")
    pd.testing.assert_series_equal(expected["evidence"], result["evidence"])


def test_public_screen_dispatches(data):
    expected = pandas_screen_without_sample_wide(data, **SCREEN)
    with pytest.warns(IatrogenicWarning):
        result = ia.screen(by_patient(data), **SCREEN)
    assert_same(expected, result, SCREEN_KEYS)


def test_screen_refuses_the_sample_wide_detector_by_name(data):
    with pytest.raises(ParameterError, match="whole sample"):
        ia_dask.screen(by_patient(data), score="phq9", detectors=["worsening_trajectory"])


def test_fit_growth_equals_in_memory(data):
    frame = data.assign(arm=np.where(data["age"] > 40, "older", "younger"))
    for options in ({}, {"random": "intercept", "method": "ML", "time_transform": "log1p"},
                    {"covariates": ["age", "arm"]}):
        expected = ia.fit_growth(frame, score="phq9", **options)
        result = ia.fit_growth(split(frame), score="phq9", **options)
        assert isinstance(result, ia.GrowthModel)
        # the same sums in the same order: the same optimum to the last bit (1e-10 asked)
        pd.testing.assert_series_equal(result.fixed_effects_, expected.fixed_effects_,
                                       rtol=1e-10)
        pd.testing.assert_frame_equal(result.random_effects_cov_, expected.random_effects_cov_,
                                      rtol=1e-10)
        assert result.residual_variance_ == pytest.approx(expected.residual_variance_, rel=1e-10)
        pd.testing.assert_frame_equal(result.random_effects_, expected.random_effects_,
                                      rtol=1e-10)


def test_fit_expected_response_equals_in_memory(data):
    for options in ({}, {"method": "neighbors", "covariates": ["age"], "k": 30}):
        expected = ia.fit_expected_response(data, score="phq9", instrument="phq9", **options)
        result = ia.fit_expected_response(by_patient(data), score="phq9", instrument="phq9",
                                          **options)
        assert json.loads(result.to_json()) == json.loads(expected.to_json())


def duplicated_in_two_partitions(data: pd.DataFrame) -> tuple[pd.DataFrame, dd.DataFrame]:
    """Duplicated rows in two partitions: one in the first, two in the second."""
    patients = data["patient"].drop_duplicates().to_numpy()
    first = data[data["patient"].isin(patients[:10])]
    second = data[data["patient"].isin(patients[10:])]
    first = pd.concat([first, first.iloc[[3]]])
    second = pd.concat([second, second.iloc[[5, 8]]])
    whole = pd.concat([first, second])
    return whole, dd.concat([dd.from_pandas(first, npartitions=1),
                             dd.from_pandas(second, npartitions=1)])


def test_duplicates_across_partitions_reported_as_pandas(data):
    whole, parts = duplicated_in_two_partitions(data)
    # the rows as the Dask frame holds them (from_pandas sorts each partition by its index)
    whole = parts.compute()
    with pytest.raises(DuplicateRowsError) as expected:
        ia.reliable_change(whole, score="phq9", instrument="phq9")
    with pytest.raises(DuplicateRowsError) as result:
        ia.reliable_change(parts, score="phq9", instrument="phq9")
    assert str(result.value) == str(expected.value)
    assert "6 rows" in str(result.value)  # 2 + 4 rows, from both partitions


def test_out_of_range_across_partitions_reported_as_pandas(data):
    frame = data.copy()
    frame.loc[frame.index[[4, 2000]], "phq9"] = 40.0
    with pytest.raises(OutOfRangeError) as expected:
        ia.talking_therapies_outcomes(frame)
    with pytest.raises(OutOfRangeError) as result:
        ia.talking_therapies_outcomes(by_patient(frame))
    assert str(result.value) == str(expected.value)
    assert "2 rows" in str(result.value)


def test_results_are_lazy(data):
    result = ia.reliable_change(by_patient(data), score="phq9", instrument="phq9")
    assert isinstance(result, dd.DataFrame)
    assert result.npartitions == 6


def test_importing_the_dask_package_does_not_import_dask():
    code = "import sys, iatrogenic.dask; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_is_dask_frame(data):
    assert ia_dask.is_dask_frame(by_patient(data))
    assert not ia_dask.is_dask_frame(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not ia_dask.is_dask_frame(None)


def test_track_progress_bar_over_neighbourhoods(data, capsys):
    """track(progress=True) draws a bar over the neighbourhoods (tqdm writes to stderr)."""
    pytest.importorskip("tqdm")
    model = ia.fit_expected_response(data, score="phq9", instrument="phq9", method="neighbors",
                                     k=20)
    quiet = model.track(data, score="phq9", progress=False)
    assert "neighbours" not in capsys.readouterr().err
    shown = model.track(data, score="phq9", progress=True)
    assert "neighbours" in capsys.readouterr().err
    pd.testing.assert_frame_equal(quiet, shown)
    with pytest.raises(ia.exceptions.ParameterTypeError, match="progress"):
        model.track(data, score="phq9", progress="yes")


def test_named_occasions_absent_from_some_partitions(data):
    """pre=/post= occasions that some partitions lack (their patients keep a reason)."""
    first = data["patient"].iloc[0]
    frame = data[~((data["patient"] == first) & data["session"].isin([1, 4]))]
    expected = ia.reliable_change(frame, score="phq9", instrument="phq9", pre=1, post=4)
    result = ia.reliable_change(by_patient(frame), score="phq9", instrument="phq9", pre=1, post=4)
    assert_same(expected, result, ["patient"])
    assert expected["reason"].notna().any()


def test_named_occasion_absent_everywhere_reported_as_pandas(data):
    with pytest.raises(ParameterError) as expected:
        ia.reliable_change(data, score="phq9", instrument="phq9", pre=99)
    with pytest.raises(ParameterError) as result:
        ia.reliable_change(by_patient(data), score="phq9", instrument="phq9", pre=99)
    assert str(result.value) == str(expected.value)


def test_screen_with_medications_equals_pandas_and_ships_the_table_once():
    import pickle

    frame, _, medications = ia.datasets.simulate(n_patients=300, seed=12,
                                                 return_medications=True)
    options = {"score": "phq9", "instrument": "phq9", "date": "date", "age": "age",
               "medications": medications, "detectors": ["medication_burden"]}
    expected = ia.screen(frame, **options)
    assert len(expected) > 0
    result = ia_dask.screen(split(frame), **options)
    assert_same(expected, result, SCREEN_KEYS)
    # the medication table is one key of the graph, not a copy inside each of the 7 tasks
    without = ia_dask.screen(split(frame), **{**options, "medications": None})
    added = len(pickle.dumps(dict(result.__dask_graph__()))) - len(
        pickle.dumps(dict(without.__dask_graph__())))
    assert 0 < added < 2 * len(pickle.dumps(medications))
