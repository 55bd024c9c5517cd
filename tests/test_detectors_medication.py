"""medication_burden and the ATC table on small hand-made data with known events."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic import exceptions as exc
from iatrogenic.detectors import EVENT_COLUMNS
from iatrogenic.detectors.medication_burden import MedicationBurden, prepare_medications
from iatrogenic.instruments import atc

# Weekly sessions from Monday 2024-01-01 (sessions 1..10).
DATES = pd.date_range("2024-01-01", periods=10, freq="7D")


def _data(patients=("a",), n=10, age=None) -> pd.DataFrame:
    frames = []
    for pid in patients:
        frame = pd.DataFrame(
            {"patient": pid, "session": range(1, n + 1), "date": DATES[:n], "score": 12.0}
        )
        if age is not None:
            frame["age"] = age[pid] if isinstance(age, dict) else age
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _meds(*rows: tuple) -> pd.DataFrame:
    """Rows (patient, drug, start, stop[, dose])."""
    records = []
    for row in rows:
        record = {"patient": row[0], "drug": row[1], "start": row[2], "stop": row[3]}
        if len(row) > 4:
            record["dose"] = row[4]
        records.append(record)
    return pd.DataFrame(records)


def _screen(data, meds, rules=None, **params) -> pd.DataFrame:
    if rules is not None:
        params["rules"] = rules
    kwargs = {"date": "date"}
    if "age" in data.columns:
        kwargs["age"] = "age"
    return ia.screen(
        data,
        detectors=[MedicationBurden(**params)],
        medications=meds,
        instrument="phq9",
        **kwargs,
    )


def _rows(events: pd.DataFrame) -> list[tuple]:
    return [
        (p, int(s), lvl, v)
        for p, s, lvl, v in events[["patient", "session", "level", "value"]].itertuples(index=False)
    ]


# --------------------------------------------------------------------------------------------------
# The ATC table
# --------------------------------------------------------------------------------------------------


def test_atc_lookup_covers_the_listed_drugs():
    expected = {
        "sertraline": "N06AB06",
        "fluoxetine": "N06AB03",
        "citalopram": "N06AB04",
        "escitalopram": "N06AB10",
        "paroxetine": "N06AB05",
        "mirtazapine": "N06AX11",
        "venlafaxine": "N06AX16",
        "duloxetine": "N06AX21",
        "amitriptyline": "N06AA09",
        "diazepam": "N05BA01",
        "lorazepam": "N05BA06",
        "alprazolam": "N05BA12",
        "clonazepam": "N03AE01",
        "temazepam": "N05CD07",
        "zopiclone": "N05CF01",
        "zolpidem": "N05CF02",
        "quetiapine": "N05AH04",
        "olanzapine": "N05AH03",
        "risperidone": "N05AX08",
        "aripiprazole": "N05AX12",
        "haloperidol": "N05AD01",
        "lithium": "N05AN01",
        "methylphenidate": "N06BA04",
        "atomoxetine": "N06BA09",
        "lamotrigine": "N03AX09",
        "valproate": "N03AG01",
        "pregabalin": "N03AX16",
    }
    assert {d: atc.atc_for_drug(d.upper()) for d in expected} == expected


@pytest.mark.parametrize(
    ("code", "drug_class"),
    [
        ("N06AB06", "antidepressant"),
        ("N05AH04", "antipsychotic"),
        ("N05AN01", "lithium"),
        ("N05BA01", "benzodiazepine"),
        ("N05CD07", "benzodiazepine"),
        ("N03AE01", "benzodiazepine"),
        ("N05CF02", "z_drug"),
        ("N05BE01", "anxiolytic"),
        ("N05CH01", "hypnotic"),
        ("N06BA04", "psychostimulant"),
        ("N03AX09", "antiepileptic"),
        ("C10AA05", None),
        ("N02BE01", None),
    ],
)
def test_atc_classes_by_longest_prefix(code, drug_class):
    assert atc.classify(code) == drug_class


def test_atc_tables_have_sources_and_classes():
    classes = atc.list_atc_classes()
    assert list(classes.columns) == ["prefix", "who_name", "drug_class", "note", "source"]
    assert set(classes["drug_class"]) == set(atc.CLASS_LABELS)
    assert classes["source"].str.contains("WHO").all()
    drugs = atc.list_drugs()
    assert drugs["drug_class"].notna().all()
    assert drugs["atc"].map(atc.is_valid_atc).all()


# --------------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------------


def test_polypharmacy_three_concurrent_psychotropics_is_an_alarm():
    meds = _meds(
        ("a", "sertraline", "2023-12-01", None),
        ("a", "quetiapine", "2024-01-10", None),
        ("a", "Lorazepam", "2024-01-16", "2024-01-20"),  # third drug from Tue of week 3
        ("a", "lorazepam", "2024-01-18", "2024-01-25"),  # same drug again: counted once
    )
    events = _screen(_data(), meds, rules=["polypharmacy"])
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert _rows(events) == [("a", 4, "alarm", 3.0)]  # first session on/after 2024-01-16
    assert events["threshold"][0] == 3.0 and events["harm"][0] == "medication"
    assert events["evidence"][0].startswith("3 psychotropics taken on 2024-01-16: sertraline")
    assert "reported at session 4 (2024-01-22)" in events["evidence"][0]


def test_polypharmacy_not_when_one_drug_stopped_before_the_third_starts():
    meds = _meds(
        ("a", "sertraline", "2024-01-01", "2024-01-09"),
        ("a", "quetiapine", "2024-01-05", None),
        ("a", "diazepam", "2024-01-10", "2024-01-20"),
        ("a", "aspirin", "2024-01-05", None),  # not psychotropic (unknown name: warned)
    )
    with pytest.warns(exc.DataQualityWarning, match="aspirin"):
        events = _screen(_data(), meds, rules=["polypharmacy"])
    assert len(events) == 0
    # Stop is inclusive: a third drug starting on the stop day overlaps that day.
    meds.loc[2, "start"] = "2024-01-09"
    with pytest.warns(exc.DataQualityWarning):
        assert _rows(_screen(_data(), meds, rules=["polypharmacy"])) == [("a", 3, "alarm", 3.0)]


def test_same_class_warning_and_pooled_benzodiazepine_z_drug():
    meds = _meds(
        ("a", "sertraline", "2024-01-01", "2024-02-01"),
        ("a", "mirtazapine", "2024-01-20", "2024-02-20"),  # second antidepressant
        ("b", "diazepam", "2024-01-01", "2024-01-10"),
        ("b", "zopiclone", "2024-01-08", "2024-01-12"),  # benzodiazepine + Z-drug
        ("c", "sertraline", "2024-01-01", None),
        ("c", "quetiapine", "2024-01-01", None),  # different classes: no warning
    )
    events = _screen(_data(("a", "b", "c")), meds, rules=["same_class"])
    assert _rows(events) == [("a", 4, "warning", 2.0), ("b", 2, "warning", 2.0)]
    assert "2 drugs of one class (antidepressant) taken on 2024-01-20" in events["evidence"][0]
    assert "(benzodiazepine or Z-drug)" in events["evidence"][1]


def test_long_benzodiazepine_course_boundary():
    meds = _meds(
        ("a", "diazepam", "2024-01-01", "2024-01-28"),  # 28 days: within 4 weeks
        ("b", "diazepam", "2024-01-01", "2024-01-29"),  # 29 days: over
        ("c", "temazepam", "2024-01-01", None),  # ongoing
        ("d", "diazepam", "2024-01-01", "2024-01-20"),  # switch to a Z-drug the next day
        ("d", "zopiclone", "2024-01-21", "2024-02-10"),
    )
    events = _screen(_data(("a", "b", "c", "d")), meds, rules=["long_benzodiazepine"])
    # Over 28 days on 2024-01-29 = session 5's date; value = days of use by that session.
    assert _rows(events) == [
        ("b", 5, "warning", 29.0),
        ("c", 5, "warning", 29.0),
        ("d", 5, "warning", 29.0),
    ]
    assert "diazepam from 2024-01-01, zopiclone from 2024-01-21" in events["evidence"][2]
    later = _screen(
        _data(("c",)), meds[meds["patient"] == "c"], rules=["long_benzodiazepine"], max_days=30
    )
    assert _rows(later) == [("c", 6, "warning", 36.0)]  # over 30 days on 01-31, session 02-05


def test_abrupt_stop_alarm_and_taper():
    meds = _meds(
        # a: 50 mg for 60 days, stopped: abrupt
        ("a", "sertraline", "2023-12-01", "2024-01-29", 50.0),
        # b: 50 mg then 25 mg for 2 weeks before the stop: a taper
        ("b", "sertraline", "2023-12-01", "2024-01-15", 50.0),
        ("b", "sertraline", "2024-01-16", "2024-01-29", 25.0),
        # c: reduced long before the stop (outside 56 days): abrupt
        ("c", "sertraline", "2023-09-01", "2023-10-01", 100.0),
        ("c", "sertraline", "2023-10-02", "2024-01-29", 50.0),
    )
    events = _screen(_data(("a", "b", "c")), meds, rules=["abrupt_stop"])
    # Stopped after 2024-01-29; certain 7 days later (2024-02-05) = session 6.
    assert _rows(events) == [("a", 6, "alarm", 60.0), ("c", 6, "alarm", 151.0)]
    assert (events["threshold"] == 28.0).all()
    assert "ended with sertraline at dose 50" in events["evidence"][0]
    assert "no dose reduction recorded in the 56 days" in events["evidence"][0]


def test_abrupt_stop_without_doses_is_a_warning():
    meds = _meds(("a", "lorazepam", "2024-01-01", "2024-02-05"))
    events = _screen(_data(), meds, rules=["abrupt_stop"])
    assert _rows(events) == [("a", 7, "warning", 36.0)]  # certain on 02-12 = session 7
    assert "taper cannot be checked" in events["evidence"][0]


def test_abrupt_stop_not_for_short_courses_restarts_or_switches():
    meds = _meds(
        ("a", "sertraline", "2024-01-01", "2024-01-20", 50.0),  # 20 days < 28
        ("b", "sertraline", "2024-01-01", "2024-01-20", 50.0),
        ("b", "sertraline", "2024-01-25", None, 50.0),  # restarted within 7 days
        ("c", "citalopram", "2024-01-01", "2024-01-31", 20.0),
        ("c", "sertraline", "2024-02-01", None, 50.0),  # direct switch within the class
        ("d", "quetiapine", "2024-01-01", "2024-01-31", 50.0),  # not a stop class
    )
    events = _screen(_data(("a", "b", "c", "d")), meds, rules=["abrupt_stop"])
    assert len(events) == 0
    short = _screen(
        _data(("a",)), meds[meds["patient"] == "a"], rules=["abrupt_stop"], min_course_days=14
    )
    assert _rows(short) == [("a", 5, "alarm", 20.0)]  # certain on 01-27, session 5 (01-29)


def test_minor_with_age_in_data_or_medication_table():
    meds = _meds(("a", "fluoxetine", "2024-01-10", None), ("b", "fluoxetine", "2024-01-10", None))
    events = _screen(_data(("a", "b"), age={"a": 16, "b": 30}), meds, rules=["minor"])
    assert _rows(events) == [("a", 3, "warning", 16.0)]
    assert events["threshold"][0] == 18.0
    assert (
        "fluoxetine (antidepressant) started 2024-01-10; age 16 (under 18)"
        in (events["evidence"][0])
    )
    # The medication table's age (at the start) takes precedence; no age anywhere: no rule.
    meds["age"] = [17.5, 17.9]
    events = _screen(_data(("a", "b"), age={"a": 16, "b": 30}), meds, rules=["minor"])
    assert _rows(events) == [("a", 3, "warning", 17.5), ("b", 3, "warning", 17.9)]
    assert len(_screen(_data(("a", "b")), meds.drop(columns="age"), rules=["minor"])) == 0


def test_atc_column_classifies_unknown_names():
    meds = _meds(
        ("a", "Zoloft", "2024-01-01", None),
        ("a", "Seroquel", "2024-01-01", None),
        ("a", "Ativan", "2024-01-03", None),
    )
    meds["atc"] = ["N06AB06", "N05AH04", "N05BA06"]
    events = _screen(_data(), meds, rules=["polypharmacy"])
    assert _rows(events) == [("a", 2, "alarm", 3.0)]
    assert "Ativan (benzodiazepine, from 2024-01-03)" in events["evidence"][0]


# --------------------------------------------------------------------------------------------------
# Dates -> sessions, causality, reporting
# --------------------------------------------------------------------------------------------------


def test_date_to_session_mapping():
    data = _data(n=4)
    data.loc[1, "date"] = pd.NaT  # session 2 has no date: never chosen
    meds = _meds(
        ("a", "fluoxetine", "2023-06-01", None),
        ("a", "quetiapine", "2023-07-01", None),
        ("a", "lithium", "2024-01-02", None),  # third drug between sessions 1 and 2
    )
    events = _screen(data, meds, rules=["polypharmacy"])
    assert _rows(events) == [("a", 3, "alarm", 3.0)]
    # On a session date: that session. Already running at intake: the first session.
    meds.loc[2, "start"] = "2024-01-01"
    assert _rows(_screen(data, meds, rules=["polypharmacy"])) == [("a", 1, "alarm", 3.0)]
    # After the last session: not reported (yet).
    meds.loc[2, "start"] = "2024-01-23"
    assert len(_screen(data, meds, rules=["polypharmacy"])) == 0


def test_medication_burden_is_causal():
    rng = np.random.default_rng(11)
    drugs = list(atc.DRUG_ATC)
    rows = []
    for pid in "abcdefgh":
        for _ in range(5):
            start = DATES[0] + pd.Timedelta(days=int(rng.integers(-40, 70)))
            stop = start + pd.Timedelta(days=int(rng.integers(5, 60)))
            rows.append(
                (
                    pid,
                    drugs[rng.integers(len(drugs))],
                    start,
                    stop if rng.random() < 0.8 else None,
                    float(rng.integers(1, 4)),
                )
            )
    meds = _meds(*rows)
    data = _data(tuple("abcdefgh"), age={p: 15 + 3 * i for i, p in enumerate("abcdefgh")})
    full = _screen(data, meds)
    assert len(full) > 10 and set(full["level"]) == {"warning", "alarm"}
    for t in range(1, 11):
        truncated = _screen(data[data["session"] <= t], meds)
        expected = full[full["session"].astype(int) <= t].reset_index(drop=True)
        pd.testing.assert_frame_equal(truncated, expected)


def test_patients_not_in_data_are_reported():
    meds = _meds(("a", "sertraline", "2024-01-01", None), ("zz", "sertraline", "2024-01-01", None))
    with pytest.warns(exc.DataQualityWarning, match=r"1 patient\(s\).*'zz'"):
        _screen(_data(), meds)


def test_skipped_with_reason_without_medications_or_dates():
    data = _data()
    events = ia.screen(data, detectors=["medication_burden"], date="date")
    assert events.attrs["skipped"] == [
        {"detector": "medication_burden", "reason": "needs medications"}
    ]
    meds = _meds(("a", "sertraline", "2024-01-01", None))
    events = ia.screen(data, detectors=["medication_burden"], medications=meds)
    assert events.attrs["skipped"][0]["reason"] == "needs date"


def test_rules_can_be_selected_and_non_psychotropic_rows_are_quiet():
    meds = _meds(("a", "sertraline", "2024-01-01", None))
    meds["atc"] = ["N06AB06"]
    other = pd.DataFrame(
        {
            "patient": ["a"],
            "drug": ["atorvastatin"],
            "atc": ["C10AA05"],
            "start": ["2024-01-01"],
            "stop": [None],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a classified non-psychotropic is not warned about
        events = _screen(_data(), pd.concat([meds, other], ignore_index=True))
    assert len(events) == 0


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def _valid() -> pd.DataFrame:
    return _meds(
        ("a", "sertraline", "2024-01-01", "2024-02-01", 50.0),
        ("a", "diazepam", "2024-01-05", None, 5.0),
    )


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda m: m.drop(columns="stop"), exc.ColumnNotFoundError, "'stop'"),
        (lambda m: m.drop(columns="drug"), exc.ColumnNotFoundError, r"'drug \(or atc\)'"),
        (lambda m: m.rename(columns={"start": "session"}), exc.ColumnNotFoundError, "session"),
        (
            lambda m: m.assign(start=["2024-01-01", "not a date"]),
            exc.InvalidValueError,
            "'start'.*not dates.*index 1",
        ),
        (
            lambda m: m.assign(stop=["2023-12-01", None]),
            exc.InvalidValueError,
            "'stop'.*before 'start'.*index 0",
        ),
        (lambda m: m.assign(start=[1, 2]), exc.ColumnTypeError, "'start'.*must hold dates"),
        (lambda m: m.assign(start=[None, "2024-01-01"]), exc.InvalidValueError, "'start'.*missing"),
        (lambda m: m.assign(patient=[None, "a"]), exc.InvalidValueError, "'patient'"),
        (lambda m: m.assign(atc=["N06AB06", "diazepam"]), exc.InvalidValueError, "'atc'"),
        (lambda m: m.assign(dose=["50 mg", 5.0]), exc.ColumnTypeError, "'dose'"),
        (lambda m: m.assign(dose=[-5.0, 5.0]), exc.InvalidValueError, "'dose'"),
        (lambda m: m.assign(drug=[None, "diazepam"]), exc.InvalidValueError, "neither"),
    ],
)
def test_bad_medication_tables_raise_clear_errors(change, error, match):
    with pytest.raises(error, match=match):
        prepare_medications(change(_valid()))
    with pytest.raises(error, match=match):
        _screen(_data(), change(_valid()))


def test_bad_session_dates_raise():
    data = _data().astype({"date": object})
    data.loc[2, "date"] = "soon"
    with pytest.raises(exc.InvalidValueError, match=r"'date'.*not dates"):
        _screen(data, _valid())


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"rules": ["polypharmacy", "astrology"]}, "rules"),
        ({"rules": []}, "rules"),
        ({"n_concurrent": 1}, "n_concurrent"),
        ({"max_days": 0}, "max_days"),
        ({"min_course_days": 2.5}, "min_course_days"),
        ({"taper_days": "8 weeks"}, "taper_days"),
        ({"restart_days": 0}, "restart_days"),
        ({"adult_age": -1}, "adult_age"),
        ({"psychotropic": ["vitamins"]}, "psychotropic"),
        ({"stop_classes": ("antidepressant", "nonsense")}, "stop_classes"),
    ],
)
def test_medication_burden_bad_parameters(params, name):
    with pytest.raises((exc.ParameterError, exc.ParameterTypeError), match=name):
        MedicationBurden(**params)
