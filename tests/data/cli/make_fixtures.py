"""Write the clinic-export fixtures of ``tests/test_cli_exports.py`` (run from the repo root).

Each file holds the same 60 simulated patients of the bundled example (no real patient), written
as a clinic system might export them:

- ``clinic_iso.csv``: string ids ``C-00012``, ISO appointment dates as text, rows sorted newest
  first, attendance coded Yes/No/Cancelled, a clinician column, UTF-8.
- ``clinic_eu.csv``: the same, ``;`` separators, decimal commas, dates day first (31/01/2024),
  Windows-1252 text (``Dr. Müller``), an SRS alliance column.
- ``clinic_numeric.csv``: session numbers and ISO dates, attendance as the API's own words.
- ``clinic_wide.csv``: one row per patient, one PHQ-9 column per session (``phq9_s1``...).

Run ``python tests/data/cli/make_fixtures.py`` to rewrite them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import iatrogenic as ia

HERE = Path(__file__).parent
N_PATIENTS = 60


def _example() -> pd.DataFrame:
    data = ia.datasets.load_example()
    keep = data["patient"].cat.categories[:N_PATIENTS]
    return data[data["patient"].isin(keep)].reset_index(drop=True)


def main() -> None:
    data = _example()
    codes = {"attended": "Yes", "dna": "No", "cancelled": "Cancelled"}
    export = pd.DataFrame(
        {
            "client_id": "C-" + data["patient"].astype(str).str[1:],
            "clinician": data["therapist"].astype(str),
            "appointment_date": data["date"].dt.strftime("%Y-%m-%d"),
            "attended": data["attendance"].astype(str).map(codes),
            "phq9_total": data["phq9"],
            "phq9_item9": data["phq9_item9"],
        }
    )
    newest_first = export.sort_values(
        ["appointment_date", "client_id"], ascending=False, kind="stable"
    )
    newest_first.to_csv(HERE / "clinic_iso.csv", index=False, float_format="%g")

    eu = newest_first.assign(
        appointment_date=pd.to_datetime(newest_first["appointment_date"]).dt.strftime("%d/%m/%Y"),
        clinician="Dr. Müller",
        srs=data["srs"].reindex(newest_first.index).map(
            lambda v: "" if pd.isna(v) else f"{v:.1f}".replace(".", ",")
        ),
    )
    eu.to_csv(HERE / "clinic_eu.csv", index=False, sep=";", encoding="cp1252", float_format="%g")

    numeric = pd.DataFrame(
        {
            "patient": data["patient"].astype(str),
            "session": data["session"],
            "date": data["date"].dt.strftime("%Y-%m-%d"),
            "attendance": data["attendance"].astype(str),
            "phq9": data["phq9"],
            "phq9_item9": data["phq9_item9"],
        }
    )
    numeric.to_csv(HERE / "clinic_numeric.csv", index=False, float_format="%g")

    wide = data.pivot(index="patient", columns="session", values="phq9")
    wide.columns = [f"phq9_s{s}" for s in wide.columns]
    wide = wide.reset_index().rename(columns={"patient": "client"})
    wide["client"] = wide["client"].astype(str)
    wide.to_csv(HERE / "clinic_wide.csv", index=False, float_format="%g")


if __name__ == "__main__":
    main()
