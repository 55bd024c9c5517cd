"""The simulator, the bundled example (regenerated from its call, so it never goes stale) and the
data set catalogue."""

from __future__ import annotations

import re
import time
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

from iatrogenic import exceptions as exc
from iatrogenic.datasets import list_datasets, load_example, load_example_truth, simulate
from iatrogenic.datasets.example import EXAMPLE_ARGS
from iatrogenic.datasets.simulate import HARMS_SIMULATED, TRUTH_COLUMNS

SEED = 1234567890

DATA_DTYPES = {
    "patient": "category",
    "therapist": "category",
    "session": "int64",
    "date": "datetime64[ns]",
    "attendance": "category",
    "phq9": "float64",
    "gad7": "float64",
    "phq9_item9": "float64",
    "age": "int64",
}
TRUTH_DTYPES = {"patient": "category", "harm": "str", "onset": "int64", "magnitude": "float64"}

# Jacobson & Truax band for PHQ-9 with the registry's reliability (0.89) and an intake SD of 5:
# 1.96 * 5 * sqrt(2 * (1 - 0.89)).
JT_BAND = 1.96 * 5.0 * np.sqrt(2 * (1 - 0.89))


@pytest.fixture(scope="module")
def sim() -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulate(n_patients=3000, n_therapists=40, seed=SEED)


def _wide(data: pd.DataFrame, column: str) -> pd.DataFrame:
    return data.pivot(index="patient", columns="session", values=column)


def _pre_post(data: pd.DataFrame) -> pd.DataFrame:
    observed = data.dropna(subset=["phq9"]).groupby("patient", observed=True)["phq9"]
    return pd.DataFrame({"pre": observed.first(), "post": observed.last(), "n": observed.size()})


# --- shape of the output ----------------------------------------------------------------------


def test_columns_and_dtypes(sim):
    data, truth = sim
    assert {c: str(t) for c, t in data.dtypes.items()} == DATA_DTYPES
    assert {c: str(t) for c, t in truth.dtypes.items()} == TRUTH_DTYPES
    assert list(truth.columns) == list(TRUTH_COLUMNS)
    assert list(data["attendance"].cat.categories) == ["attended", "cancelled", "dna"]
    assert data.index.equals(pd.RangeIndex(len(data)))
    assert truth.index.equals(pd.RangeIndex(len(truth)))


def test_docstring_documents_every_column(sim):
    data, truth = sim
    doc = simulate.__doc__ or ""
    returns = doc[doc.index("Returns\n") : doc.index("Raises\n")]
    data_part, truth_part = returns.split("truth : DataFrame")
    assert re.findall(r"- ``(\w+)`` \(", data_part) == list(data.columns)
    assert re.findall(r"- ``(\w+)`` \(", truth_part) == list(truth.columns)


def test_ids_and_order(sim):
    data, _ = sim
    patients = data["patient"].cat.categories
    assert list(patients[:2]) == ["P00001", "P00002"] and len(patients) == 3000
    assert list(data["therapist"].cat.categories) == [f"T{i:02d}" for i in range(1, 41)]
    assert set(data["therapist"]) == set(data["therapist"].cat.categories)
    assert data["patient"].nunique() == 3000
    # Sorted by patient then session; sessions run 1..last without gaps.
    codes = data["patient"].cat.codes.to_numpy()
    assert np.all(np.diff(codes) >= 0)
    expected = data.groupby("patient", observed=True).cumcount().to_numpy() + 1
    np.testing.assert_array_equal(data["session"].to_numpy(), expected)
    assert data["session"].max() == 12


def test_id_width_grows_with_n():
    data, _ = simulate(n_patients=5, n_therapists=120, n_sessions=2, seed=1)
    assert data["patient"].iloc[0] == "P00001"
    assert data["therapist"].cat.categories[0] == "T001"


def test_same_seed_same_output_and_different_seed_differs():
    first = simulate(n_patients=200, n_therapists=10, seed=SEED)
    second = simulate(n_patients=200, n_therapists=10, seed=SEED)
    other = simulate(n_patients=200, n_therapists=10, seed=SEED + 1)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])
    assert not first[0]["phq9"].equals(other[0]["phq9"])


def test_harm_streams_are_independent():
    """Changing one harm's rate leaves the patients and onsets of the others untouched."""
    base = simulate(n_patients=500, n_therapists=10, seed=SEED)[1]
    more_risk = simulate(n_patients=500, n_therapists=10, risk_rate=0.2, seed=SEED)[1]
    for harm in ("deterioration", "sudden_worsening", "disengagement"):
        pd.testing.assert_frame_equal(
            base[base["harm"] == harm].reset_index(drop=True),
            more_risk[more_risk["harm"] == harm].reset_index(drop=True),
        )


# --- values -----------------------------------------------------------------------------------


def test_score_ranges_and_item_consistency(sim):
    data, _ = sim
    for column, high in (("phq9", 27), ("gad7", 21), ("phq9_item9", 3)):
        values = data[column].dropna().to_numpy()
        assert values.min() >= 0 and values.max() <= high, column
        np.testing.assert_array_equal(values, np.round(values))
    observed = data.dropna(subset=["phq9"])
    assert (observed["phq9_item9"] <= observed["phq9"]).all()
    assert (observed["phq9"] - observed["phq9_item9"] <= 24).all()


def test_missed_sessions_have_no_scores(sim):
    data, _ = sim
    attended = (data["attendance"] == "attended").to_numpy()
    for column in ("phq9", "gad7", "phq9_item9"):
        np.testing.assert_array_equal(data[column].notna().to_numpy(), attended)
    assert (data.loc[data["session"] == 1, "attendance"] == "attended").all()
    share = data.loc[data["session"] > 1, "attendance"].value_counts(normalize=True)
    assert 0.05 < share["dna"] < 0.14 and 0.02 < share["cancelled"] < 0.09


def test_dates_weekly_and_increasing(sim):
    data, _ = sim
    gaps = data.groupby("patient", observed=True)["date"].diff().dropna().dt.days
    assert gaps.min() >= 4
    assert 6.5 < gaps.median() < 7.5
    intake = data.loc[data["session"] == 1, "date"]
    assert intake.min() >= pd.Timestamp("2024-01-08")
    assert intake.max() < pd.Timestamp("2025-01-08")


def test_age_constant_within_patient(sim):
    data, _ = sim
    assert (data.groupby("patient", observed=True)["age"].nunique() == 1).all()
    assert data["age"].between(18, 80).all()


def test_intake_severity_is_realistic():
    data, _ = simulate(
        n_patients=20000, n_therapists=100, n_sessions=2, deterioration_rate=0,
        sudden_loss_rate=0, risk_rate=0, disengagement_rate=0, seed=SEED,
    )
    intake = data[data["session"] == 1]
    assert 14.8 < intake["phq9"].mean() < 16.2
    assert 4.4 < intake["phq9"].std() < 5.6
    assert 12.3 < intake["gad7"].mean() < 13.7
    assert 3.9 < intake["gad7"].std() < 5.0
    assert intake["phq9"].corr(intake["gad7"]) > 0.5
    assert 0.25 < (intake["phq9_item9"] > 0).mean() < 0.45


def test_courses_improve_on_average(sim):
    data, truth = sim
    change = _pre_post(data)
    complete = change[change["n"] >= 2]
    harmed = complete.index.isin(truth["patient"])
    delta = (complete["post"] - complete["pre"])[~harmed]
    assert -8.0 < delta.mean() < -4.0
    # NHS Talking Therapies report roughly two thirds reliably improved.
    assert 0.45 < (delta <= -JT_BAND).mean() < 0.8


def test_dropout_shortens_courses(sim):
    data, truth = sim
    lengths = data.groupby("patient", observed=True).size()
    disengaged = lengths.index.isin(truth.loc[truth["harm"] == "disengagement", "patient"])
    short = (lengths[~disengaged] < 12).mean()
    assert 0.15 < short < 0.35
    no_dropout, _ = simulate(n_patients=300, n_therapists=10, dropout_rate=0,
                             disengagement_rate=0, seed=SEED)
    assert (no_dropout.groupby("patient", observed=True).size() == 12).all()


# --- truth ------------------------------------------------------------------------------------


def test_truth_counts_and_names(sim):
    data, truth = sim
    assert set(truth["harm"]) == set(HARMS_SIMULATED)
    counts = truth["harm"].value_counts()
    assert counts["deterioration"] == round(0.08 * 3000)
    assert counts["sudden_worsening"] == round(0.04 * 3000)
    assert counts["disengagement"] == round(0.04 * 3000)
    # Self-harm: the injected ones plus those forced by totals of 26-27 (see simulate's Notes).
    assert counts["self_harm"] >= round(0.04 * 3000)
    assert not truth.duplicated(["patient", "harm"]).any()
    assert list(truth["patient"].cat.categories) == list(data["patient"].cat.categories)
    keys = list(zip(truth["patient"].cat.codes, truth["onset"], truth["harm"], strict=True))
    assert keys == sorted(keys)
    last = data.groupby("patient", observed=True)["session"].max()
    assert (truth["onset"].to_numpy() <= last.loc[truth["patient"]].to_numpy()).all()
    assert (truth["onset"] >= 2).all()


def test_no_harm_means_empty_truth():
    data, truth = simulate(
        n_patients=100, n_therapists=5, deterioration_rate=0, sudden_loss_rate=0, risk_rate=0,
        disengagement_rate=0, seed=SEED,
    )
    assert len(truth) == 0
    assert list(truth.columns) == list(TRUTH_COLUMNS)
    assert {c: str(t) for c, t in truth.dtypes.items()} == TRUTH_DTYPES
    # Without harm no course trends worse, and item 9 never rises from 0 to 2 or more.
    item = _wide(data, "phq9_item9").to_numpy()
    seen_zero = np.fmax.accumulate(np.where(item == 0, 1.0, np.nan), axis=1)
    assert not ((item[:, 1:] >= 2) & (seen_zero[:, :-1] == 1)).any()


def test_deterioration_is_reliable_and_rare_otherwise(sim):
    data, truth = sim
    change = _pre_post(data)
    worse = change["post"] - change["pre"] >= JT_BAND
    injected = change.index.isin(truth.loc[truth["harm"] == "deterioration", "patient"])
    assert worse[injected].mean() > 0.8
    others = ~change.index.isin(truth["patient"]) & (change["n"] >= 2)
    assert worse[others].mean() < 0.03


def test_deterioration_harms_functional_patients(sim):
    data, truth = sim
    change = _pre_post(data)
    injected = change.index.isin(truth.loc[truth["harm"] == "deterioration", "patient"])
    worse = change["post"] - change["pre"] >= JT_BAND
    harmed = (change["pre"] < 10) & (change["post"] >= 10) & worse
    assert harmed[injected].sum() >= 10


def test_sudden_worsening_is_a_persisting_jump(sim):
    data, truth = sim
    phq = _wide(data, "phq9")
    rows = truth[truth["harm"] == "sudden_worsening"]
    shift = []
    for patient, onset, jump in rows[["patient", "onset", "magnitude"]].itertuples(index=False):
        before, at = phq.at[patient, onset - 1], phq.at[patient, onset]
        assert at - before >= max(7, jump), (patient, onset)
        # Persistence as Tang & DeRubeis judge it: three sessions before against three after.
        pre = phq.loc[patient, : onset - 1].dropna().iloc[-3:]
        post = phq.loc[patient, onset:].dropna().iloc[:3]
        shift.append(post.mean() - pre.mean())
    assert min(shift) > 0
    assert np.mean(np.array(shift) > 4) > 0.9


def test_self_harm_rises_from_zero_and_every_rise_is_in_truth(sim):
    data, truth = sim
    item = _wide(data, "phq9_item9")
    rows = truth[truth["harm"] == "self_harm"]
    for patient, onset in rows[["patient", "onset"]].itertuples(index=False):
        assert item.at[patient, onset] >= 2 or np.isnan(item.at[patient, onset])
        earlier = item.loc[patient, : onset - 1].dropna().to_numpy()
        # The onset is the first rise: a 0 came before it, and nothing of 2+ since that 0.
        zero = np.flatnonzero(earlier == 0)
        assert len(zero) and earlier[zero[0] :].max() <= 1, (patient, onset)
    values = item.to_numpy()
    seen_zero = np.fmax.accumulate(np.where(values == 0, 1.0, np.nan), axis=1)
    rise = ((values[:, 1:] >= 2) & (seen_zero[:, :-1] == 1)).any(axis=1)
    assert set(item.index[rise]) <= set(rows["patient"])
    injected_onsets = rows.set_index("patient")["onset"]
    observed = [p for p in rows["patient"] if not np.isnan(item.at[p, injected_onsets[p]])]
    assert len(observed) >= round(0.04 * 3000)


def test_disengagement_is_missed_sessions_then_an_end(sim):
    data, truth = sim
    attendance = _wide(data, "attendance")
    last = data.groupby("patient", observed=True)["session"].max()
    rows = truth[truth["harm"] == "disengagement"]
    for patient, onset, missed in rows[["patient", "onset", "magnitude"]].itertuples(index=False):
        run = attendance.loc[patient, onset : last[patient]]
        assert onset >= 4
        assert run.iloc[0] == "dna"
        assert (run != "attended").all() and len(run) == missed >= 1
    dates = data.set_index(["patient", "session"])["date"]
    gap = [
        (dates[p, o] - dates[p, o - 1]).days
        for p, o in rows[["patient", "onset"]].itertuples(index=False)
    ]
    assert np.median(gap) >= 11


def test_harm_sessions_are_attended(sim):
    data, truth = sim
    attendance = _wide(data, "attendance")
    for patient, onset in truth.loc[
        truth["harm"] == "sudden_worsening", ["patient", "onset"]
    ].itertuples(index=False):
        assert (attendance.loc[patient, onset - 1 : onset + 1] == "attended").all()


def test_too_short_courses_warn():
    with pytest.warns(exc.DataQualityWarning) as record:
        _, truth = simulate(n_patients=50, n_therapists=3, n_sessions=3, seed=SEED)
    warned = " ".join(str(w.message) for w in record)
    assert "disengagement" in warned and "deterioration" in warned
    assert "disengagement" not in set(truth["harm"])
    assert "deterioration" not in set(truth["harm"])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_patients": 0}, exc.ParameterError, "n_patients"),
        ({"n_patients": 2.5}, exc.ParameterTypeError, "n_patients"),
        ({"n_patients": "600"}, exc.ParameterTypeError, "n_patients"),
        ({"n_therapists": 0}, exc.ParameterError, "n_therapists"),
        ({"n_sessions": 1}, exc.ParameterError, "n_sessions"),
        ({"deterioration_rate": 1.5}, exc.ParameterError, "deterioration_rate"),
        ({"risk_rate": -0.1}, exc.ParameterError, "risk_rate"),
        ({"dna_rate": 0.6, "cancel_rate": 0.5}, exc.ParameterError, "sum to less than 1"),
        ({"noise_sd": -1}, exc.ParameterError, "noise_sd"),
        ({"seed": -3}, exc.ParameterError, "seed"),
        ({"seed": "abc"}, exc.ParameterTypeError, "seed"),
        ({"start_date": "not a date"}, exc.ParameterError, "start_date"),
        ({"start_date": 2024}, exc.ParameterTypeError, "start_date"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        simulate(**kwargs)


def test_errors_are_value_or_type_errors():
    with pytest.raises(ValueError):
        simulate(n_patients=-1)
    with pytest.raises(TypeError):
        simulate(n_patients=None)


def test_vectorised_speed():
    start = time.perf_counter()
    data, _ = simulate(n_patients=100_000, n_therapists=200, seed=SEED)
    elapsed = time.perf_counter() - start
    assert len(data) > 1_000_000
    # About 0.3 s on a laptop; a loop over patients would take a minute.
    assert elapsed < 5.0


# --- bundled example --------------------------------------------------------------------------


def test_example_matches_its_generating_call():
    """The bundled CSVs are exactly ``simulate(**EXAMPLE_ARGS)``: they never go stale."""
    data, truth = simulate(**EXAMPLE_ARGS)
    hint = (
        "The bundled example no longer matches simulate(**EXAMPLE_ARGS). If the simulator was "
        "changed on purpose, regenerate it: python -c \"from iatrogenic.datasets.example import "
        "_write_example; _write_example()\" and update the row counts in the catalogue."
    )
    try:
        pd.testing.assert_frame_equal(load_example(), data)
        pd.testing.assert_frame_equal(load_example_truth(), truth)
    except AssertionError as error:
        raise AssertionError(f"{hint}\n{error}") from None


def test_example_file_is_small():
    folder = files("iatrogenic.datasets").joinpath("data")
    assert folder.joinpath("example.csv").read_bytes().__len__() < 1_000_000
    assert folder.joinpath("example_truth.csv").read_bytes().__len__() < 100_000


def test_example_shape_and_truth():
    data, truth = load_example(return_truth=True)
    assert data["patient"].nunique() == 600
    assert data["therapist"].nunique() == 30
    assert {c: str(t) for c, t in data.dtypes.items()} == DATA_DTYPES
    pd.testing.assert_frame_equal(truth, load_example_truth())
    assert set(truth["harm"]) == set(HARMS_SIMULATED)


def test_example_contains_the_harms_it_promises():
    data, truth = load_example(return_truth=True)
    change = _pre_post(data)
    delta = change["post"] - change["pre"]
    assert (delta >= JT_BAND).sum() >= 30  # reliable deterioration
    harmed = (change["pre"] < 10) & (change["post"] >= 10) & (delta >= 6)
    assert harmed.sum() >= 5  # functional at intake, clinical at the end, even by the 6-point rule
    assert (change["n"] == 1).sum() >= 5  # patients who cannot be evaluated
    phq = _wide(data, "phq9").to_numpy()
    assert (np.diff(phq, axis=1) >= 7).any(axis=1).sum() >= 20  # sudden losses
    item = _wide(data, "phq9_item9").to_numpy()
    seen_zero = np.fmax.accumulate(np.where(item == 0, 1.0, np.nan), axis=1)
    assert ((item[:, 1:] >= 2) & (seen_zero[:, :-1] == 1)).any(axis=1).sum() >= 20
    assert (truth["harm"] == "disengagement").sum() == 24


def test_load_example_returns_a_fresh_copy():
    first = load_example()
    first.loc[0, "phq9"] = 99
    assert load_example().loc[0, "phq9"] != 99


def test_list_datasets_catalogue():
    catalogue = list_datasets()
    assert list(catalogue.columns) == ["name", "description", "rows", "source", "licence"]
    assert catalogue["name"].tolist() == ["example", "example_truth"]
    rows = catalogue.set_index("name")["rows"]
    assert rows["example"] == len(load_example())
    assert rows["example_truth"] == len(load_example_truth())
    assert catalogue["source"].str.contains("seed=20240108").all()
    assert catalogue["licence"].str.len().gt(0).all()
