"""Measure each detector's sensitivity, PPV and timing on a simulated cohort; write the table.

Run from the repository root::

    python docs/scripts/harm_metrics.py            # writes docs/harms/metrics.md

The cohort and the screen are those of ``tests/test_detector_accuracy.py`` (which holds lower
bounds on the same numbers): ``ia.datasets.simulate(n_patients=2000, n_therapists=40, seed=5,
return_medications=True)``, every detector with every input of ``ia.datasets.screen_options``;
secondary worsening is screened on the Beck Hopelessness Scale only, because GAD-7 rises in the
simulated cohort as a consequence of other harms. ``ia.evaluate`` scores each detector against
the truth at the patient level, alarms alone and then warnings and alarms. The provider
detectors are scored with ``ia.evaluate_providers`` on a second cohort with harmful therapists
(the settings of ``docs/providers.md``, one seed). Same seeds, same numbers: only the date line
changes between runs.
"""

from __future__ import annotations

import datetime as dt
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

import iatrogenic as ia

OUTPUT = Path(__file__).resolve().parents[1] / "harms" / "metrics.md"

SEED = 5
N_PATIENTS = 2000
N_THERAPISTS = 40

PROVIDER_SEED = 0
PROVIDER_PATIENTS = 20_000
PROVIDER_THERAPISTS = 100
HARMFUL_FROM_START = 10
HARMFUL_FROM_HALFWAY = 10


def screen_cohort() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The simulated cohort, its truth and the events of every detector."""
    data, truth, medications = ia.datasets.simulate(
        n_patients=N_PATIENTS, n_therapists=N_THERAPISTS, seed=SEED, return_medications=True
    )
    options = ia.datasets.screen_options(medications)
    del options["secondary"]
    registry = ia.list_detectors()
    if "unit" in registry:  # the provider detectors need screen_providers (scored below)
        registry = registry[registry["unit"] == "patient"]
    others = [name for name in registry["name"] if name != "secondary_worsening"]
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


def share(row: Any, count: str, total: str, measure: str, interval: str | None = None) -> str:
    """``tp/total = 0.94 (0.89-0.97)`` from a row's columns, or a dash when nothing was counted.

    ``interval`` is the prefix of the Wilson interval's columns (default ``measure``).
    """
    n, value = getattr(row, total), getattr(row, measure)
    if n == 0 or pd.isna(value):
        return "-"
    prefix = interval or measure
    low, high = getattr(row, f"{prefix}_low"), getattr(row, f"{prefix}_high")
    return f"{getattr(row, count)}/{n} = {value:.2f} ({low:.2f}-{high:.2f})"


def sessions(value: float) -> str:
    return "-" if pd.isna(value) else f"{value:g}"


def patient_cells(row: Any) -> str:
    """The measured cells of one ``ia.evaluate`` row, from ``harmed`` on."""
    return (
        f"{row.n_true} | {row.n_flagged} | {share(row, 'tp', 'n_true', 'sensitivity')} | "
        f"{share(row, 'tp', 'n_flagged', 'ppv')} | {row.specificity:.3f} | "
        f"{sessions(row.median_delay)} | {sessions(row.median_lead_to_end)} |"
    )


def patient_rows(table: pd.DataFrame) -> list[str]:
    return [
        f"| `{row.detector}` | {row.target} | {patient_cells(row)}"
        for row in table.sort_values("detector").itertuples()
    ]


def other_harms(events: pd.DataFrame, truth: pd.DataFrame, detector: str, target: str) -> str:
    """Which injected harms the detector's false alarms had instead of the target harm."""
    flagged = set(
        events.loc[(events["detector"] == detector) & (events["level"] == "alarm"), "patient"]
    )
    false = flagged - set(truth.loc[truth["harm"] == target, "patient"])
    if not false:
        return "No alarm was raised for a patient without this harm."
    others = truth[truth["patient"].isin(false) & (truth["harm"] != target)]
    counts = others.groupby("harm", observed=True)["patient"].nunique().sort_values(ascending=False)
    listed = ", ".join(f"{harm} {n}" for harm, n in counts.head(3).items())
    text = (
        f"Of the {len(false)} patients alarmed without the `{target}` truth, "
        f"{others['patient'].nunique()} had another injected harm"
    )
    return f"{text} (most often: {listed})." if listed else f"{text}."


def detector_sections(
    alarms: pd.DataFrame, both: pd.DataFrame, events: pd.DataFrame, truth: pd.DataFrame
) -> list[str]:
    """One small table per detector between snippet markers, quoted by the harm pages."""
    lines = [
        "## Per detector",
        "",
        "The harm pages quote these tables.",
        "",
    ]
    for name in sorted(alarms["detector"]):
        alarm_row = next(alarms[alarms["detector"] == name].itertuples())
        both_row = next(both[both["detector"] == name].itertuples())
        lines += [
            f"### `{name}`",
            "",
            f"<!-- --8<-- [start:{name}] -->",
            "| levels counted | harmed | flagged | sensitivity (95% CI) | PPV (95% CI) | "
            "specificity | median delay | median lead to end |",
            "|---|---|---|---|---|---|---|---|",
            f"| alarms | {patient_cells(alarm_row)}",
            f"| warnings and alarms | {patient_cells(both_row)}",
            "",
            f"Scored against the `{alarm_row.target}` truth on a simulated cohort of "
            f"{N_PATIENTS} patients (seed {SEED}); see [how it was measured](metrics.md). "
            + other_harms(events, truth, name, alarm_row.target),
            f"<!-- --8<-- [end:{name}] -->",
            "",
        ]
    return lines


def provider_rows() -> list[str]:
    data, truth = ia.datasets.simulate(
        n_patients=PROVIDER_PATIENTS,
        n_therapists=PROVIDER_THERAPISTS,
        seed=PROVIDER_SEED,
        harmful_therapists=HARMFUL_FROM_START,
        harmful_from_halfway=HARMFUL_FROM_HALFWAY,
    )
    events = ia.screen_providers(
        data, therapist="therapist", score="phq9", instrument="phq9", casemix="age", order="date"
    )
    therapists = truth.attrs["therapists"]
    rows = []
    for levels in (("alarm",), ("warning", "alarm")):
        table = ia.evaluate_providers(events, therapists, data=data, levels=levels)
        for row in table.itertuples():
            rows.append(
                f"| `{row.detector}` | {' and '.join(levels)} | "
                f"{share(row, 'detected', 'n_harmful', 'sensitivity')} | "
                f"{row.detected_start}/{row.n_start} | {row.detected_halfway}/{row.n_halfway} | "
                f"{share(row, 'false_flags', 'n_ordinary', 'false_flag_rate', 'false_flag')} | "
                f"{sessions(row.median_patients_to_detection)} |"
            )
    return rows


def main() -> None:
    data, truth, events = screen_cohort()
    alarms = ia.evaluate(events, truth, data=data)
    both = ia.evaluate(events, truth, data=data, levels=("warning", "alarm"))
    header = (
        "| detector | scored against (truth harm) | harmed | flagged | sensitivity (95% CI) | "
        "PPV (95% CI) | specificity | median delay (sessions) | median lead to end (sessions) |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    lines = [
        "<!-- Written by docs/scripts/harm_metrics.py; do not edit by hand, run the script. -->",
        "",
        "# Measured sensitivity and PPV on the simulator",
        "",
        f"Written by `python docs/scripts/harm_metrics.py` on {dt.date.today().isoformat()} "
        f"(iatrogenic {ia.__version__}, Python {sys.version_info.major}."
        f"{sys.version_info.minor}, pandas {pd.__version__}).",
        "",
        f"**Cohort**: `ia.datasets.simulate(n_patients={N_PATIENTS}, n_therapists={N_THERAPISTS}, "
        f"seed={SEED}, return_medications=True)`: {data['patient'].nunique()} patients, "
        f"{len(data)} rows, {len(truth)} injected harms (truth rows). Every detector runs with "
        "every input of `ia.datasets.screen_options`; secondary worsening on the Beck "
        "Hopelessness Scale only (GAD-7 rises as a consequence of other harms in this cohort). "
        "`ia.evaluate` scores each detector at the patient level: a patient is flagged when the "
        "detector raised at least one event at the counted levels, harmed when the truth has the "
        "target harm for that patient; every other patient is a negative. Intervals are Wilson "
        "95% intervals. The delay is first flag minus onset (negative: flagged before the "
        "recorded onset); the lead to end is last session minus first flag, how much earlier than "
        "a pre/post classification the flag came. `worsening_trajectory` and `off_track` are "
        "scored against the injected deterioration (`iatrogenic.evaluation.DEFAULT_TARGETS`). "
        "`tests/test_detector_accuracy.py` holds lower bounds on these numbers, so a change that "
        "makes a detector worse fails the tests.",
        "",
        "These are numbers on simulated data, whose harms were injected to be findable: they "
        "show what each detector can find and what it costs in false flags, not how common harm "
        "is in a real service or how well a detector does on real records.",
        "",
        "## Alarms only",
        "",
        header,
        *patient_rows(alarms),
        "",
        "## Warnings and alarms",
        "",
        header,
        *patient_rows(both),
        "",
        "## Provider detectors",
        "",
        f"**Cohort**: `ia.datasets.simulate(n_patients={PROVIDER_PATIENTS}, "
        f"n_therapists={PROVIDER_THERAPISTS}, seed={PROVIDER_SEED}, "
        f"harmful_therapists={HARMFUL_FROM_START}, harmful_from_halfway={HARMFUL_FROM_HALFWAY})` "
        "(odds ratio of an injected deterioration 4 for the harmful therapists' patients), "
        'screened with `ia.screen_providers(data, therapist="therapist", score="phq9", '
        'instrument="phq9", casemix="age", order="date")` and scored with '
        '`ia.evaluate_providers(events, truth.attrs["therapists"], data=data)`. One seed; the '
        "[providers guide](../providers.md#scoring-provider-detection-on-simulated-data) pools "
        "ten.",
        "",
        "<!-- --8<-- [start:provider] -->",
        "| detector | levels | sensitivity (95% CI) | from the start | from halfway | "
        "false flags among ordinary therapists (95% CI) | median patients to detection |",
        "|---|---|---|---|---|---|---|",
        *provider_rows(),
        "<!-- --8<-- [end:provider] -->",
        "",
        *detector_sections(alarms, both, events, truth),
    ]
    OUTPUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
