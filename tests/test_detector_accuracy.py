"""Every detector's sensitivity and positive predictive value on a fixed-seed simulated cohort.

One cohort of 2,000 patients (``simulate(n_patients=2000, n_therapists=40, seed=5)``, every harm
injected, with the medication table) is screened with every input, and ``ia.evaluate`` scores
each detector against the truth at the patient level. The lower bounds below sit a little under
the values measured when they were set (recorded next to each bound), so that a change that
makes a detector miss more harm, or raise more false alarms, fails here. Each PPV bound is well
above the prevalence of its harm, so a detector that flagged everyone would fail (checked by
``test_bounds_are_meaningful``).

Secondary worsening is screened on the Beck Hopelessness Scale only (``secondary={"bhs":
"bhs"}``): GAD-7 worsening in this cohort is an incidental consequence of other harms, not the
injected hopelessness. The other detectors get ``secondary={"bhs": "bhs", "gad7": "gad7"}``
(symptom emergence reads GAD-7 caseness) and PHQ-9 items 1-8 (item 9 is the risk item's).
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic.detectors.registry import registered_names
from iatrogenic.evaluation import evaluate

N_PATIENTS = 2000

# detector: (target truth harm, sensitivity bound, PPV bound) for alarms; measured values in the
# comments (sensitivity, PPV; seed 5, 2,000 patients).
ALARM_BOUNDS: dict[str, tuple[str, float, float]] = {
    "alliance_rupture": ("alliance_rupture", 0.95, 0.95),  # 1.000, 1.000
    "reliable_deterioration": ("deterioration", 0.90, 0.55),  # 0.938, 0.667 (PHQ-9: 6-point rule)
    "disengagement": ("disengagement", 0.55, 0.38),  # 0.662, 0.469
    "dependency": ("dependency", 0.08, 0.90),  # 0.125, 1.000 (mostly warnings, see below)
    "medication_burden": ("medication", 0.38, 0.92),  # 0.460, 1.000 (mostly warnings)
    "risk_item": ("self_harm", 0.95, 0.58),  # 1.000, 0.672
    "sudden_loss": ("sudden_worsening", 0.58, 0.36),  # 0.688, 0.444
    "symptom_emergence": ("symptom_emergence", 0.90, 0.20),  # 0.975, 0.248
    "worsening_trajectory": ("deterioration", 0.80, 0.65),  # 0.875, 0.737
    "worsening_class": ("deterioration", 0.80, 0.65),  # 0.875, 0.745
    "off_track": ("deterioration", 0.90, 0.25),  # 0.988, 0.329 (bundled reference model)
    "secondary_worsening": ("secondary_worsening", 0.95, 0.20),  # 1.000, 0.253
}

# Detectors whose warnings carry most of their sensitivity: bounds with warnings and alarms.
WARNING_BOUNDS: dict[str, tuple[float, float]] = {
    "dependency": (0.60, 0.90),  # 0.700, 1.000
    "medication_burden": (0.92, 0.92),  # 0.980, 1.000
}


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    data, truth, medications = ia.datasets.simulate(
        n_patients=N_PATIENTS, n_therapists=40, seed=5, return_medications=True
    )
    options = ia.datasets.screen_options(medications)
    del options["secondary"]  # BHS only for secondary_worsening: GAD-7 rises with other harms
    others = [name for name in registered_names() if name != "secondary_worsening"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ia.exceptions.DataQualityWarning)
        main = ia.screen(
            data, detectors=others, secondary={"bhs": "bhs", "gad7": "gad7"}, **options
        )
        hopelessness = ia.screen(
            data, detectors=["secondary_worsening"], secondary={"bhs": "bhs"}, **options
        )
    events = pd.concat([main, hopelessness], ignore_index=True)
    events.attrs["detectors"] = [*main.attrs["detectors"], *hopelessness.attrs["detectors"]]
    return data, truth, events


@pytest.fixture(scope="module")
def alarms(cohort) -> pd.DataFrame:
    data, truth, events = cohort
    return evaluate(events, truth, data=data).set_index("detector")


def test_every_detector_is_scored(alarms):
    # every patient detector (the therapist-level "provider" is scored by evaluate_providers)
    assert set(alarms.index) == set(registered_names())
    # Detectors added later get a row too; those with bounds must all be there.
    assert set(ALARM_BOUNDS) <= set(alarms.index)


@pytest.mark.parametrize("detector", sorted(ALARM_BOUNDS))
def test_alarm_sensitivity_and_ppv(alarms, detector):
    target, sensitivity, ppv = ALARM_BOUNDS[detector]
    row = alarms.loc[detector]
    assert row["target"] == target
    assert row["n_true"] > 0
    assert row["sensitivity"] >= sensitivity, (detector, row["sensitivity"])
    assert row["ppv"] >= ppv, (detector, row["ppv"])


@pytest.mark.parametrize("detector", sorted(WARNING_BOUNDS))
def test_warning_and_alarm_sensitivity_and_ppv(cohort, detector):
    data, truth, events = cohort
    table = evaluate(events, truth, data=data, levels=("warning", "alarm")).set_index("detector")
    sensitivity, ppv = WARNING_BOUNDS[detector]
    assert table.loc[detector, "sensitivity"] >= sensitivity
    assert table.loc[detector, "ppv"] >= ppv


def test_bounds_are_meaningful(cohort, alarms):
    """A detector flagging every patient would have PPV = prevalence: every bound is far above."""
    data, truth, _ = cohort
    for detector, (_target, _, ppv) in ALARM_BOUNDS.items():
        prevalence = alarms.loc[detector, "n_true"] / alarms.loc[detector, "n_patients"]
        assert ppv > 2 * prevalence, detector
    # And concretely: flag everyone at session 1 for one detector's harm.
    patients = data["patient"].unique()
    everyone = pd.DataFrame(
        {
            "patient": patients,
            "detector": "symptom_emergence",
            "harm": "symptom_emergence",
            "session": 1,
            "level": "alarm",
        }
    )
    row = evaluate(everyone, truth, data=data).iloc[0]
    assert row["sensitivity"] == 1.0
    assert row["ppv"] < ALARM_BOUNDS["symptom_emergence"][2]


def test_reliable_deterioration_flags_before_the_end_of_treatment(alarms):
    # Median sessions from the first alarm to the last session (where a pre/post classification
    # would first be made): 3 when the bound was set.
    assert alarms.loc["reliable_deterioration", "median_lead_to_end"] >= 0
    assert alarms.loc["worsening_trajectory", "median_lead_to_end"] >= 0
