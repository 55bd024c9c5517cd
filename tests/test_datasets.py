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
from iatrogenic.datasets import (
    list_datasets,
    load_example,
    load_example_medications,
    load_example_truth,
    simulate,
)
from iatrogenic.datasets.example import EXAMPLE_ARGS
from iatrogenic.datasets.simulate import (
    DRUGS,
    HARMS_SIMULATED,
    ITEM_COLUMNS,
    MEDICATION_COLUMNS,
    MEDICATION_PROBLEMS,
    TRUTH_COLUMNS,
)

SEED = 1234567890
N = 3000

DATA_DTYPES = {
    "patient": "category",
    "therapist": "category",
    "session": "int64",
    "date": "datetime64[ns]",
    "attendance": "category",
    "phq9": "float64",
    "gad7": "float64",
    **{column: "float64" for column in ITEM_COLUMNS},
    "srs": "float64",
    "bhs": "float64",
    "age": "int64",
    "end_reason": "category",
}
TRUTH_DTYPES = {"patient": "category", "harm": "str", "onset": "int64", "magnitude": "float64"}
MEDICATION_DTYPES = {
    "patient": "category",
    "start": "datetime64[ns]",
    "stop": "datetime64[ns]",
    "drug": "str",
    "atc": "str",
    "dose": "float64",
}
SCORES = ["phq9", "gad7", *ITEM_COLUMNS, "srs", "bhs"]
RATE_OF = {
    "deterioration": "deterioration_rate",
    "sudden_worsening": "sudden_loss_rate",
    "self_harm": "risk_rate",
    "disengagement": "disengagement_rate",
    "alliance_rupture": "alliance_rupture_rate",
    "dependency": "dependency_rate",
    "symptom_emergence": "symptom_emergence_rate",
    "secondary_worsening": "secondary_worsening_rate",
    "medication": "medication_rate",
}
NO_HARM = {rate: 0.0 for rate in RATE_OF.values()}
DEFAULT_RATES = {
    "deterioration": 0.08, "sudden_worsening": 0.04, "self_harm": 0.04, "disengagement": 0.04,
    "alliance_rupture": 0.04, "dependency": 0.04, "symptom_emergence": 0.04,
    "secondary_worsening": 0.04, "medication": 0.05,
}

# Jacobson & Truax band for PHQ-9 with the registry's reliability (0.89) and an intake SD of 5:
# 1.96 * 5 * sqrt(2 * (1 - 0.89)).
JT_BAND = 1.96 * 5.0 * np.sqrt(2 * (1 - 0.89))


@pytest.fixture(scope="module")
def sim_all() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return simulate(n_patients=N, n_therapists=40, seed=SEED, return_medications=True)


@pytest.fixture(scope="module")
def sim(sim_all) -> tuple[pd.DataFrame, pd.DataFrame]:
    return sim_all[0], sim_all[1]


@pytest.fixture(scope="module")
def meds(sim_all) -> pd.DataFrame:
    return sim_all[2]


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
    truth_part, meds_part = truth_part.split("medications : DataFrame")
    named = re.findall(r"- ``(\w+)``(?: to ``(\w+)``)? \(", data_part)
    documented = []
    for first, last in named:
        if last:  # "phq9_item1`` to ``phq9_item8"
            stem = first.rstrip("0123456789")
            low, high = int(first[len(stem) :]), int(last[len(stem) :])
            documented += [f"{stem}{i}" for i in range(low, high + 1)]
        else:
            documented.append(first)
    assert documented == list(data.columns)
    assert re.findall(r"- ``(\w+)`` \(", truth_part) == list(truth.columns)
    assert re.findall(r"- ``(\w+)`` \(", meds_part) == list(MEDICATION_COLUMNS)


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
    # Planned courses are 6-16 sessions; only dependency courses run longer (20-30).
    lengths = data.groupby("patient", observed=True)["session"].max()
    assert lengths.max() <= 30 and lengths.max() >= 20


def test_id_width_grows_with_n():
    data, _ = simulate(n_patients=5, n_therapists=120, n_sessions=2, seed=1, **NO_HARM)
    assert data["patient"].iloc[0] == "P00001"
    assert data["therapist"].cat.categories[0] == "T001"


def test_same_seed_same_output_and_different_seed_differs():
    first = simulate(n_patients=200, n_therapists=10, seed=SEED)
    second = simulate(n_patients=200, n_therapists=10, seed=SEED)
    other = simulate(n_patients=200, n_therapists=10, seed=SEED + 1)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])
    assert not first[0]["phq9"].equals(other[0]["phq9"])


@pytest.mark.parametrize(
    ("changed", "unchanged"),
    [
        (
            "risk_rate",
            ["deterioration", "sudden_worsening", "disengagement", "dependency",
             "alliance_rupture", "secondary_worsening", "medication"],
        ),
        ("medication_rate", [h for h in HARMS_SIMULATED if h != "medication"]),
        (
            "secondary_worsening_rate",
            ["deterioration", "sudden_worsening", "disengagement", "dependency",
             "alliance_rupture", "symptom_emergence", "medication"],
        ),
    ],
)
def test_harm_streams_are_independent(changed, unchanged):
    """Changing one harm's rate leaves the patients and onsets of the others untouched."""
    base = simulate(n_patients=500, n_therapists=10, seed=SEED)[1]
    more = simulate(n_patients=500, n_therapists=10, seed=SEED, **{changed: 0.2})[1]
    for harm in unchanged:
        pd.testing.assert_frame_equal(
            base[base["harm"] == harm].reset_index(drop=True),
            more[more["harm"] == harm].reset_index(drop=True),
        )


def test_medication_rate_changes_nothing_else():
    base = simulate(n_patients=300, n_therapists=10, seed=SEED)[0]
    more = simulate(n_patients=300, n_therapists=10, seed=SEED, medication_rate=0.3)[0]
    pd.testing.assert_frame_equal(base, more)


# --- values -----------------------------------------------------------------------------------


def test_score_ranges_and_item_consistency(sim):
    data, _ = sim
    ranges = [("phq9", 27), ("gad7", 21), ("bhs", 20)] + [(c, 3) for c in ITEM_COLUMNS]
    for column, high in ranges:
        values = data[column].dropna().to_numpy()
        assert values.min() >= 0 and values.max() <= high, column
        np.testing.assert_array_equal(values, np.round(values))
    srs = data["srs"].dropna().to_numpy()
    assert srs.min() >= 0 and srs.max() <= 40
    np.testing.assert_allclose(srs, np.round(srs, 1))
    observed = data.dropna(subset=["phq9"])
    assert (observed["phq9_item9"] <= observed["phq9"]).all()
    assert (observed["phq9"] - observed["phq9_item9"] <= 24).all()
    np.testing.assert_array_equal(observed[list(ITEM_COLUMNS)].sum(axis=1), observed["phq9"])


def test_items_have_a_realistic_profile(sim):
    data, _ = sim
    intake = data[data["session"] == 1]
    means = intake[list(ITEM_COLUMNS)].mean()
    # Sleep / tiredness (items 3-4) above moving slowly (item 8) and self-harm (item 9).
    assert means["phq9_item4"] > means["phq9_item8"] > means["phq9_item9"] * 0.5
    assert intake[list(ITEM_COLUMNS[:8])].corrwith(intake["phq9"]).min() > 0.4


def test_alliance_and_hopelessness_are_realistic(sim):
    data, truth = sim
    clean = ~data["patient"].isin(truth["patient"])
    srs = data.loc[clean, "srs"].dropna()
    assert 38.0 < srs.mean() < 39.5 and srs.std() < 2.0
    assert (srs < 36).mean() < 0.05
    intake = data[data["session"] == 1]
    assert 6.0 < intake["bhs"].mean() < 10.0
    assert intake["bhs"].corr(intake["phq9"]) > 0.3


def test_missed_sessions_have_no_scores(sim):
    data, _ = sim
    attended = (data["attendance"] == "attended").to_numpy()
    for column in SCORES:
        np.testing.assert_array_equal(data[column].notna().to_numpy(), attended)
    assert (data.loc[data["session"] == 1, "attendance"] == "attended").all()
    share = data.loc[data["session"] > 1, "attendance"].value_counts(normalize=True)
    assert 0.05 < share["dna"] < 0.14 and 0.02 < share["cancelled"] < 0.09


def test_dates_weekly_and_increasing(sim):
    data, _ = sim
    gaps = data.groupby("patient", observed=True)["date"].diff().dropna().dt.days
    assert gaps.min() >= 2
    assert 6.5 < gaps.median() < 7.5
    intake = data.loc[data["session"] == 1, "date"]
    assert intake.min() >= pd.Timestamp("2024-01-08")
    assert intake.max() < pd.Timestamp("2025-01-08")


def test_age_constant_within_patient(sim):
    data, _ = sim
    assert (data.groupby("patient", observed=True)["age"].nunique() == 1).all()
    assert data["age"].between(14, 80).all()
    ages = data.drop_duplicates("patient")["age"]
    assert (ages < 18).sum() == round(0.05 * N)


def test_end_reason_on_the_last_row_only(sim):
    data, truth = sim
    last = data.groupby("patient", observed=True)["session"].transform("max") == data["session"]
    assert data.loc[last, "end_reason"].notna().all()
    assert data.loc[~last, "end_reason"].isna().all()
    ending = data.loc[last].set_index("patient")["end_reason"]
    disengaged = truth.loc[truth["harm"] == "disengagement", "patient"]
    assert (ending.loc[disengaged] == "unplanned").all()
    dependent = truth.loc[truth["harm"] == "dependency", "patient"]
    assert (ending.loc[dependent] == "planned").all()
    others = ~ending.index.isin(disengaged)
    assert 0.18 < (ending[others] == "unplanned").mean() < 0.32  # dropout_rate 0.25


def test_intake_severity_is_realistic():
    data, _ = simulate(n_patients=20000, n_therapists=100, n_sessions=2, seed=SEED, **NO_HARM)
    intake = data[data["session"] == 1]
    assert 14.8 < intake["phq9"].mean() < 16.2
    assert 4.4 < intake["phq9"].std() < 5.6
    assert 12.3 < intake["gad7"].mean() < 13.7
    assert 3.9 < intake["gad7"].std() < 5.0
    assert intake["phq9"].corr(intake["gad7"]) > 0.5
    # Item 9: a minority endorse it at intake (an assumption of 10-25%), and up to 10% score 2+
    # (Simon et al. 2013).
    assert 0.12 < (intake["phq9_item9"] > 0).mean() < 0.25
    assert 0.03 < (intake["phq9_item9"] >= 2).mean() < 0.10


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
    special = lengths.index.isin(
        truth.loc[truth["harm"].isin(["disengagement", "dependency"]), "patient"]
    )
    assert lengths[~special].max() == 16
    assert (lengths[~special] < 6).mean() > 0.05  # only dropouts end before 6 sessions
    no_dropout, _ = simulate(n_patients=300, n_therapists=10, dropout_rate=0,
                             disengagement_rate=0, dependency_rate=0, seed=SEED)
    course = no_dropout.groupby("patient", observed=True).size()
    assert course.between(6, 16).all() and course.nunique() == 11
    assert (no_dropout["end_reason"].dropna() == "planned").all()


# --- truth ------------------------------------------------------------------------------------


def test_truth_counts_and_names(sim):
    data, truth = sim
    assert set(truth["harm"]) == set(HARMS_SIMULATED)
    counts = truth["harm"].value_counts()
    for harm, rate in DEFAULT_RATES.items():
        assert counts[harm] == round(rate * N), harm
    assert not truth.duplicated(["patient", "harm"]).any()
    assert list(truth["patient"].cat.categories) == list(data["patient"].cat.categories)
    keys = list(zip(truth["patient"].cat.codes, truth["onset"], truth["harm"], strict=True))
    assert keys == sorted(keys)
    last = data.groupby("patient", observed=True)["session"].max()
    assert (truth["onset"].to_numpy() <= last.loc[truth["patient"]].to_numpy()).all()
    assert (truth.loc[truth["harm"] != "medication", "onset"] >= 2).all()
    assert (truth["onset"] >= 1).all()


@pytest.mark.parametrize("harm", HARMS_SIMULATED)
def test_each_harm_at_its_rate(harm):
    _, truth = simulate(n_patients=1000, n_therapists=10, seed=SEED, **{RATE_OF[harm]: 0.1})
    assert (truth["harm"] == harm).sum() == 100
    _, none = simulate(n_patients=1000, n_therapists=10, seed=SEED, **{RATE_OF[harm]: 0.0})
    assert (none["harm"] == harm).sum() == 0


def test_no_harm_means_empty_truth():
    data, truth = simulate(n_patients=100, n_therapists=5, seed=SEED, **NO_HARM)
    assert len(truth) == 0
    assert list(truth.columns) == list(TRUTH_COLUMNS)
    assert {c: str(t) for c, t in truth.dtypes.items()} == TRUTH_DTYPES
    # Without harm no course trends worse, and item 9 never rises.
    item = _wide(data, "phq9_item9").to_numpy()
    assert not (np.diff(np.fmax.accumulate(-item, axis=1), axis=1) < 0).any()
    assert not _rises(item).any()


def _rises(values: np.ndarray) -> np.ndarray:
    """(patients, sessions - 1): the observed value is above the previous observed one."""
    previous = pd.DataFrame(values).T.ffill().T.to_numpy()
    return values[:, 1:] > previous[:, :-1]


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
        assert item.at[patient, onset] >= 2  # the onset is attended
        earlier = item.loc[patient, : onset - 1].dropna().to_numpy()
        assert len(earlier) and (earlier == 0).all(), (patient, onset)
        # Then it stays endorsed at a steady level.
        assert item.loc[patient, onset + 1 :].dropna().nunique() <= 1
    # Item 9 rises (from any value) only for the injected patients.
    rise = _rises(item.to_numpy()).any(axis=1)
    assert set(item.index[rise]) == set(rows["patient"])
    assert len(rows) == round(0.04 * N)


def test_items_follow_a_stable_profile(sim):
    data, truth = sim
    harmed = truth["patient"].unique()
    clean = data[~data["patient"].isin(harmed)].dropna(subset=["phq9"])
    items = clean[list(ITEM_COLUMNS[:8])]
    # Each patient's item ranking is stable: items correlate within patient across sessions
    # with their intake values far more than with other patients' (a profile, not a re-split).
    intake = clean.groupby("patient", observed=True)[list(ITEM_COLUMNS[:8])].transform("first")
    centred = items.to_numpy() - items.to_numpy().mean(axis=1, keepdims=True)
    centred_intake = intake.to_numpy() - intake.to_numpy().mean(axis=1, keepdims=True)
    agreement = (centred * centred_intake).sum(axis=1) / np.sqrt(
        (centred**2).sum(axis=1) * (centred_intake**2).sum(axis=1) + 1e-12
    )
    assert np.nanmedian(agreement) > 0.6
    # Without injected harm an item low at intake (0-1) rarely reaches 2+ at two consecutive
    # observed sessions: measurement noise moves items within the 0-1 and 2-3 bands first.
    emerged = 0
    for column in ITEM_COLUMNS[:8]:
        wide = _wide(clean, column)
        low = wide.iloc[:, 0] <= 1
        high = wide.ge(2).astype(float).where(wide.notna())
        values = high.to_numpy()
        pairs = np.zeros(len(wide), dtype=bool)
        for i in range(len(wide)):
            seen = values[i][~np.isnan(values[i])]
            pairs[i] = bool(np.any(seen[1:] * seen[:-1] > 0)) if len(seen) > 2 else False
        emerged += int((pairs & low.to_numpy()).sum())
    assert emerged / clean["patient"].nunique() < 0.05
    # Item 9 is 0 for most patients throughout.
    assert (clean.groupby("patient", observed=True)["phq9_item9"].max() == 0).mean() > 0.75


def test_disengagement_is_missed_sessions_then_an_end(sim):
    data, truth = sim
    attendance = _wide(data, "attendance")
    last = data.groupby("patient", observed=True)["session"].max()
    rows = truth[truth["harm"] == "disengagement"]
    ending = data.groupby("patient", observed=True)["end_reason"].last()
    patterns = {"run": 0, "rising": 0}
    for patient, onset, missed in rows[["patient", "onset", "magnitude"]].itertuples(index=False):
        run = attendance.loc[patient, onset : last[patient]]
        assert onset >= 4
        assert run.iloc[0] == "dna"
        assert (run.iloc[-2:] != "attended").all()  # the course ends on missed sessions
        assert (run != "attended").sum() == missed >= 2
        assert ending[patient] == "unplanned"
        patterns["run" if (run != "attended").all() else "rising"] += 1
    assert min(patterns.values()) >= 10
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


def test_disengagement_after_worsening(sim):
    data, truth = sim
    phq = _wide(data, "phq9")
    rows = truth[truth["harm"] == "disengagement"]
    others = set(truth.loc[truth["harm"] != "disengagement", "patient"])
    rise = [
        phq.at[p, o - 1] - phq.loc[p, 1]
        for p, o in rows[["patient", "onset"]].itertuples(index=False)
        if p not in others
    ]
    # About a third get worse before they stop coming; others usually improve.
    assert 0.15 < np.mean(np.array(rise) > 0) < 0.6


def test_alliance_rupture_is_a_drop_below_36_that_persists(sim):
    data, truth = sim
    srs = _wide(data, "srs")
    rows = truth[truth["harm"] == "alliance_rupture"]
    for patient, onset, drop in rows[["patient", "onset", "magnitude"]].itertuples(index=False):
        before, at = srs.at[patient, onset - 1], srs.at[patient, onset]
        assert at < 36 and before - at >= 5, (patient, onset)
        assert before - at == pytest.approx(drop)
        after = srs.at[patient, onset + 1] if onset + 1 in srs.columns else np.nan
        assert np.isnan(after) or after < 36


def test_dependency_is_a_long_course_without_improvement(sim):
    data, truth = sim
    rows = truth[truth["harm"] == "dependency"].set_index("patient")
    assert (rows["onset"] == 17).all()
    lengths = data.groupby("patient", observed=True)["session"].max()
    assert (lengths.loc[rows.index] == rows["magnitude"]).all()
    assert lengths.loc[rows.index].between(20, 30).all()
    change = _pre_post(data).loc[rows.index]
    # No reliable improvement (other harms may make some worse).
    assert ((change["pre"] - change["post"]) < JT_BAND).mean() > 0.9
    gaps = data[data["patient"].isin(rows.index) & (data["session"] > 17)]
    gaps = gaps.groupby("patient", observed=True)["date"].diff().dt.days.groupby(
        gaps["patient"], observed=True).median()
    assert 0.3 < (gaps <= 4).mean() < 0.7  # half come twice a week


def test_symptom_emergence_items_and_gad(sim):
    data, truth = sim
    rows = truth[truth["harm"] == "symptom_emergence"]
    wide = {c: _wide(data, c) for c in [*ITEM_COLUMNS[:8], "gad7"]}
    with_gad = 0
    for patient, onset, count in rows[["patient", "onset", "magnitude"]].itertuples(index=False):
        emerged = 0
        for column in ITEM_COLUMNS[:8]:
            values = wide[column].loc[patient]
            later = values.loc[onset:].dropna()
            if values.loc[1] <= 1 and len(later) and (later >= 2).all():
                emerged += 1
        assert emerged >= 1, patient
        gad = wide["gad7"].loc[patient]
        if gad.loc[1] < 8:
            assert (gad.loc[onset:].dropna() >= 8).all()
            with_gad += 1
        assert count >= 1
    assert with_gad >= 3


def test_secondary_worsening_is_reliable(sim):
    data, truth = sim
    bhs = _wide(data, "bhs")
    rows = truth[truth["harm"] == "secondary_worsening"]
    for patient, onset, rise in rows[["patient", "onset", "magnitude"]].itertuples(index=False):
        later = bhs.loc[patient, onset:].dropna()
        assert (later >= bhs.at[patient, 1] + 6).all() and 6 <= rise <= 9
        assert not np.isnan(bhs.at[patient, onset])
    # Without harm hopelessness rarely worsens by 6 points.
    clean = ~bhs.index.isin(truth["patient"])
    worst = bhs.sub(bhs[1], axis=0).max(axis=1)
    assert (worst[clean] >= 6).mean() < 0.03


# --- medications ------------------------------------------------------------------------------


def _on(meds: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    return meds[(meds["start"] <= day) & (meds["stop"].isna() | (meds["stop"] > day))]


def test_medication_table_columns_and_codes(sim_all):
    data, _, meds = sim_all
    assert list(meds.columns) == list(MEDICATION_COLUMNS)
    assert {c: str(t) for c, t in meds.dtypes.items()} == MEDICATION_DTYPES
    assert list(meds["patient"].cat.categories) == list(data["patient"].cat.categories)
    assert set(meds["drug"]) <= set(DRUGS)
    assert (meds["atc"] == meds["drug"].map(lambda d: DRUGS[d][0])).all()
    assert ((meds["stop"] > meds["start"]) | meds["stop"].isna()).all()
    assert (meds["dose"] > 0).all()
    keys = list(zip(meds["patient"].cat.codes, meds["start"], meds["drug"], strict=True))
    assert keys == sorted(keys)


def test_medication_truth_matches_the_table(sim_all):
    data, truth, meds = sim_all
    rows = truth[truth["harm"] == "medication"]
    assert set(rows["magnitude"].astype(int)) == set(MEDICATION_PROBLEMS)
    dates = data.set_index(["patient", "session"])["date"]
    age = data.drop_duplicates("patient").set_index("patient")["age"]
    by_patient = dict(tuple(meds.groupby("patient", observed=True)))
    for patient, onset, code in rows[["patient", "onset", "magnitude"]].itertuples(index=False):
        own = by_patient[patient]
        problem = MEDICATION_PROBLEMS[int(code)]
        if problem == "polypharmacy":
            day = own["start"].max()
            assert len(_on(own, day)) >= 3
        elif problem == "duplicate_class":
            day = own["start"].max()
            assert _on(own, day)["atc"].str[:5].duplicated().any()
        elif problem == "long_benzodiazepine":
            assert own["atc"].str[:5].isin(["N05BA", "N05CF"]).all()
            day = own["start"].iloc[0] + pd.Timedelta(days=28)
            assert (own["stop"].iloc[0] - own["start"].iloc[0]).days > 28
        elif problem == "abrupt_stop":
            assert len(own) == 1 and own["atc"].iloc[0].startswith("N06A")
            day = own["stop"].iloc[0]
        else:
            assert age[patient] < 18
            day = own["start"].iloc[0]
        # The onset is the first session on or after the problem's day.
        sessions = dates.loc[patient]
        assert sessions[sessions >= day].index.min() == onset, (patient, problem)


def test_medication_without_problem_is_appropriate(sim_all):
    data, truth, meds = sim_all
    harmed = set(truth.loc[truth["harm"] == "medication", "patient"])
    clean = meds[~meds["patient"].isin(harmed)]
    age = data.drop_duplicates("patient").set_index("patient")["age"]
    assert (age.loc[clean["patient"].unique()] >= 18).all()  # no psychotropics in minors
    assert not clean["atc"].str[:5].isin(["N05BA", "N05CF", "N05AH", "N05AX"]).any()
    for _patient, own in clean.groupby("patient", observed=True):
        assert own["drug"].nunique() <= 2
        assert own.drop_duplicates("drug")["atc"].str[:4].is_unique
        for _drug, course in own.groupby("drug"):
            # Tapers go down step by step and end; nothing stops from the full dose.
            assert course["dose"].is_monotonic_decreasing
            if course["stop"].notna().all():
                assert len(course) == 3 and course["dose"].iloc[-1] < course["dose"].iloc[0]
    counts = clean.groupby("patient", observed=True)["drug"].nunique()
    n_adults = (age >= 18).sum() - len(harmed)
    assert 0.45 < len(counts) / n_adults < 0.65


def test_medication_truth_does_not_depend_on_the_table():
    with_table = simulate(n_patients=300, n_therapists=10, seed=SEED, return_medications=True)
    without = simulate(n_patients=300, n_therapists=10, seed=SEED)
    pd.testing.assert_frame_equal(with_table[0], without[0])
    pd.testing.assert_frame_equal(with_table[1], without[1])
    again = simulate(n_patients=300, n_therapists=10, seed=SEED, return_medications=True)
    pd.testing.assert_frame_equal(with_table[2], again[2])


def test_too_short_courses_warn():
    with pytest.warns(exc.DataQualityWarning) as record:
        _, truth = simulate(
            n_patients=50, n_therapists=3, n_sessions=3, dependency_rate=0, seed=SEED
        )
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
        ({"min_sessions": 20}, exc.ParameterError, "min_sessions"),
        ({"min_sessions": 1}, exc.ParameterError, "min_sessions"),
        ({"alliance_rupture_rate": 2}, exc.ParameterError, "alliance_rupture_rate"),
        ({"medication_rate": "high"}, exc.ParameterTypeError, "medication_rate"),
        ({"minor_rate": -0.5}, exc.ParameterError, "minor_rate"),
        ({"return_medications": "yes"}, exc.ParameterTypeError, "return_medications"),
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
    assert len(data) > 900_000
    # About 0.8 s on the project's 2-core container; a loop over patients would take minutes.
    assert elapsed < 8.0


# --- bundled example --------------------------------------------------------------------------


def test_example_matches_its_generating_call():
    """The bundled CSVs are exactly ``simulate(**EXAMPLE_ARGS)``: they never go stale."""
    data, truth, medications = simulate(**EXAMPLE_ARGS, return_medications=True)
    hint = (
        "The bundled example no longer matches simulate(**EXAMPLE_ARGS). If the simulator was "
        "changed on purpose, regenerate it: python -c \"from iatrogenic.datasets.example import "
        "_write_example; _write_example()\" and update the row counts in the catalogue."
    )
    try:
        pd.testing.assert_frame_equal(load_example(), data)
        pd.testing.assert_frame_equal(load_example_truth(), truth)
        pd.testing.assert_frame_equal(load_example_medications(), medications)
    except AssertionError as error:
        raise AssertionError(f"{hint}\n{error}") from None


def test_example_file_is_small():
    folder = files("iatrogenic.datasets").joinpath("data")
    assert folder.joinpath("example.csv").read_bytes().__len__() < 1_500_000
    assert folder.joinpath("example_truth.csv").read_bytes().__len__() < 100_000
    assert folder.joinpath("example_medications.csv").read_bytes().__len__() < 200_000


def test_example_shape_and_truth():
    data, truth = load_example(return_truth=True)
    assert data["patient"].nunique() == 600
    assert data["therapist"].nunique() == 30
    assert {c: str(t) for c, t in data.dtypes.items()} == DATA_DTYPES
    pd.testing.assert_frame_equal(truth, load_example_truth())
    assert set(truth["harm"]) == set(HARMS_SIMULATED)
    assert truth["harm"].value_counts().min() >= 10  # every harm in at least 10 patients
    meds = load_example_medications()
    assert {c: str(t) for c, t in meds.dtypes.items()} == MEDICATION_DTYPES
    problems = truth.loc[truth["harm"] == "medication", "magnitude"].astype(int)
    assert set(problems) == set(MEDICATION_PROBLEMS)
    assert (data.drop_duplicates("patient")["age"] < 18).sum() == 30


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
    assert ((item[:, 1:] >= 2) & (seen_zero[:, :-1] == 1)).any(axis=1).sum() == 24
    assert (truth["harm"] == "disengagement").sum() == 24


def test_load_example_returns_a_fresh_copy():
    first = load_example()
    first.loc[0, "phq9"] = 99
    assert load_example().loc[0, "phq9"] != 99


def test_list_datasets_catalogue():
    catalogue = list_datasets()
    assert list(catalogue.columns) == ["name", "description", "rows", "source", "licence"]
    assert catalogue["name"].tolist() == ["example", "example_truth", "example_medications"]
    rows = catalogue.set_index("name")["rows"]
    assert rows["example"] == len(load_example())
    assert rows["example_truth"] == len(load_example_truth())
    assert rows["example_medications"] == len(load_example_medications())
    assert catalogue["source"].str.contains("seed=20240108").all()
    assert catalogue["licence"].str.len().gt(0).all()
