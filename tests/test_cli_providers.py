"""The command line's --therapist outputs: therapists.csv, provider_events.csv, the report."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic.cli import main

EVENT_COLUMNS = ["therapist", "detector", "harm", "session", "level", "value", "threshold",
                 "evidence"]


@pytest.fixture(scope="module")
def example_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("providers")
    status = main(["screen", "--example", "--therapist", "therapist", "--out", str(out),
                   "--max-patients", "2"])
    assert status == 0
    return out


def test_outputs_exist_with_their_columns(example_out) -> None:
    therapists = pd.read_csv(example_out / "therapists.csv")
    events = pd.read_csv(example_out / "provider_events.csv")
    assert events.columns.tolist() == EVENT_COLUMNS
    expected = ia.therapist_outcomes(ia.datasets.load_example(), therapist="therapist",
                                     score="phq9", instrument="phq9")
    assert therapists.columns.tolist() == expected.columns.tolist()
    assert therapists["therapist"].tolist() == expected["therapist"].tolist()
    report = (example_out / "report.txt").read_text()
    assert "Therapists (--therapist therapist)" in report
    assert "30 therapists" in report and "CUSUM signals:" in report
    assert "funnel outliers at 99.8%" in report
    page = (example_out / "report.html").read_text()
    assert '<h2 id="therapists">Therapists</h2>' in page
    suppressed = int(therapists["suppressed"].sum())
    assert re.search(rf"{suppressed} of\s+30 therapists have suppressed counts", page)


def test_small_counts_are_suppressed(example_out) -> None:
    therapists = pd.read_csv(example_out / "therapists.csv")
    full = ia.therapist_outcomes(ia.datasets.load_example(), therapist="therapist",
                                 score="phq9", instrument="phq9", suppress=None)
    observed = full["observed"].astype(float)
    rest = full["n_scored"].astype(float) - observed
    small = ((observed >= 1) & (observed < 5)) | ((rest >= 1) & (rest < 5))
    assert small.any()
    assert therapists["suppressed"].tolist() == small.tolist()
    assert therapists.loc[small.to_numpy(), ["observed", "ratio", "rate", "z"]].isna().all().all()
    shown = therapists.loc[~small.to_numpy(), "observed"]
    assert ((shown == 0) | (shown >= 5)).all()
    assert therapists["expected"].notna().all()  # expected counts are not suppressed


def test_without_therapist_no_provider_outputs(tmp_path) -> None:
    assert main(["screen", "--example", "--out", str(tmp_path), "--max-patients", "1"]) == 0
    assert not (tmp_path / "therapists.csv").exists()
    assert not (tmp_path / "provider_events.csv").exists()
    assert "Therapists (--therapist" not in (tmp_path / "report.txt").read_text()
    assert 'id="therapists"' not in (tmp_path / "report.html").read_text()


def _file_with_harmful_therapist(path) -> None:
    """Long CSV: 12 therapists x 60 patients, dated sessions; T03's patients deteriorate."""
    rng = np.random.default_rng(4)
    rows = []
    for t in range(12):
        for k in range(60):
            pid = f"P{t:02d}{k:03d}"
            start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(7 * k + rng.integers(7)))
            intake = int(rng.integers(10, 22))
            worse = rng.random() < (0.45 if t == 3 else 0.08)
            last = intake + (8 if worse else -int(rng.integers(0, 8)))
            for s, score in enumerate(np.linspace(intake, last, 4).round()):
                rows.append((pid, f"T{t:02d}", (start + pd.Timedelta(weeks=s)).date().isoformat(),
                             s + 1, int(min(max(score, 0), 27))))
    pd.DataFrame(rows, columns=["id", "clinician", "when", "visit", "phq"]).to_csv(path,
                                                                                  index=False)


def test_user_file_flags_the_harmful_therapist(tmp_path, capsys) -> None:
    path = tmp_path / "export.csv"
    _file_with_harmful_therapist(path)
    out = tmp_path / "out"
    status = main(["screen", str(path), "--patient", "id", "--time", "visit", "--score", "phq",
                   "--instrument", "phq9", "--date", "when", "--therapist", "clinician",
                   "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    events = pd.read_csv(out / "provider_events.csv")
    assert "T03" in set(events.loc[events["level"] == "alarm", "therapist"])
    assert set(events["harm"]) == {"provider"}
    cusum = events[events["detector"] == "provider_cusum"]
    # ordered by the --date column: the session of a CUSUM signal is a date
    assert cusum["session"].astype(str).str.match(r"^\d{4}-\d{2}-\d{2}$").all()
    report = (out / "report.txt").read_text()
    assert "therapists with alarms: " in report and "T03" in report
    therapists = pd.read_csv(out / "therapists.csv")
    assert len(therapists) == 12
    page = (out / "report.html").read_text()
    t03 = re.search(r'<th scope="row">T03</th>(.*?)</tr>', page, re.S)
    assert t03 is not None and "Above the 99.8% limit" in t03.group(1)
    assert "Funnel plot of " in page and "provider_cusum" in page


def test_provider_part_that_cannot_run_does_not_stop_the_screen(tmp_path, capsys) -> None:
    path = tmp_path / "export.csv"
    _file_with_harmful_therapist(path)
    out = tmp_path / "out"
    # no instrument, no --reliability: reliable deterioration cannot be computed
    status = main(["screen", str(path), "--patient", "id", "--time", "visit", "--score", "phq",
                   "--therapist", "clinician", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    report = (out / "report.txt").read_text()
    assert "Therapists (--therapist clinician)" in report and "not computed (" in report
    section = report.split("Therapists (--therapist")[1]
    assert "--reliability <r>" in section and "reliability=" not in section
    assert not (out / "therapists.csv").exists()


def test_missing_therapist_column_is_a_one_line_error(tmp_path, capsys) -> None:
    status = main(["screen", "--example", "--therapist", "clinician", "--out", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("iatrogenic: error:") and "--therapist" in err
