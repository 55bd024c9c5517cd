"""The command line: the main job on the example data, a user's file, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from iatrogenic.cli import main


def test_screen_example_writes_events_and_report(tmp_path, capsys):
    status = main(["screen", "--example", "--out", str(tmp_path)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "Reliable change" in printed and "Events by detector" in printed
    assert "reliable_deterioration" in printed
    events = pd.read_csv(tmp_path / "events.csv")
    assert list(events.columns) == [
        "patient",
        "detector",
        "harm",
        "session",
        "level",
        "value",
        "threshold",
        "evidence",
    ]
    assert len(events) > 0
    assert (tmp_path / "report.txt").read_text().startswith("iatrogenic")
    change = pd.read_csv(tmp_path / "reliable_change.csv")
    assert change["patient"].nunique() == len(change)


def test_screen_user_file(tmp_path, capsys):
    data = pd.DataFrame(
        {"id": [1, 1, 1, 2, 2], "visit": [1, 2, 3, 1, 2], "phq": [10, 14, 22, 20, 8]}
    )
    path = tmp_path / "mine.csv"
    data.to_csv(path, index=False)
    out = tmp_path / "out"
    status = main(
        [
            "screen",
            str(path),
            "--instrument",
            "phq9",
            "--patient",
            "id",
            "--time",
            "visit",
            "--score",
            "phq",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    events = pd.read_csv(out / "events.csv")
    deteriorated = events[events["detector"] == "reliable_deterioration"]
    assert deteriorated["patient"].tolist() == [1]  # 10 -> 22 is reliable; 20 -> 8 improves
    assert deteriorated["session"].tolist() == [3]


@pytest.mark.parametrize(
    ("content", "args", "fragment"),
    [
        ("patient,session,score\n1,1,3\n1,2,40\n", ["--instrument", "phq9"], "outside the range"),
        ("patient,session,score\n1,1,3\n1,1,4\n", [], "more than once"),
        ("patient,session,value\n1,1,3\n", [], "Column 'score'"),
        ("", [], "is empty"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, capsys, content, args, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    status = main(["screen", str(path), "--out", str(tmp_path / "o"), *args])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("iatrogenic: error:") and fragment in err
    assert "\n" not in err and "Traceback" not in err


def test_missing_file(tmp_path, capsys):
    assert main(["screen", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_console_script_entry_point(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "iatrogenic.cli", "screen", "--example", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "events.csv").exists()


def test_semicolon_file_zero_padded_ids_and_spaced_detector_names(tmp_path, capsys):
    path = tmp_path / "visits.csv"
    path.write_text("patient;session;score\n001;1;10\n001;2;17\n002;1;12\n002;2;20\n")
    out = tmp_path / "out"
    status = main(["screen", str(path), "--instrument", "phq9", "--out", str(out),
                   "--detectors", "reliable_deterioration, sudden_loss"])
    assert status == 0, capsys.readouterr().err
    events = pd.read_csv(out / "events.csv", dtype={"patient": str})
    assert events["patient"].tolist() == ["001", "002"]  # ids kept as written
    patients = pd.read_csv(out / "patients.csv", dtype={"patient": str})
    assert patients["patient"].tolist() == ["001", "002"]


def test_reliable_change_that_cannot_be_computed_does_not_stop_the_screen(tmp_path, capsys):
    path = tmp_path / "one.csv"
    path.write_text("patient,session,score\n1,1,10\n1,2,12\n1,3,20\n")
    out = tmp_path / "out"
    assert main(["screen", str(path), "--instrument", "phq9", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Reliable change from first to last score: not computed" in printed
    assert (out / "events.csv").exists() and not (out / "reliable_change.csv").exists()
