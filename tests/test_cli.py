"""The command line: the main job on the example data, a user's file, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic.cli import _use_color, main


def test_screen_example_writes_events_and_report(tmp_path, capsys):
    status = main(["screen", "--example", "--out", str(tmp_path), "--max-patients", "3"])
    assert status == 0
    printed = capsys.readouterr().out
    report = (tmp_path / "report.txt").read_text()
    assert "Reliable change" in report and "Events by detector" in report
    assert "reliable_deterioration" in report
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert f"Report: {tmp_path / 'report.html'}" in printed
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
        [sys.executable, "-m", "iatrogenic.cli", "screen", "--example", "--out", str(tmp_path),
         "--max-patients", "1"],
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
    capsys.readouterr()
    assert "Reliable change from first to last score: not computed" in (
        out / "report.txt").read_text()
    assert "was not computed" in (out / "report.html").read_text()
    assert (out / "events.csv").exists() and not (out / "reliable_change.csv").exists()


def test_summary_counts_patients_and_harms_without_colour_off_a_terminal(tmp_path, capsys):
    assert main(["screen", "--example", "--out", str(tmp_path), "--max-patients", "0"]) == 0
    printed = capsys.readouterr().out
    patients = pd.read_csv(tmp_path / "patients.csv")
    n_alarm = int((patients["worst_level"] == "alarm").sum())
    n_warning = int((patients["worst_level"] == "warning").sum())
    assert f"ALARM   {n_alarm} patients with an alarm" in printed
    assert f"WARNING {n_warning} patients with warnings only" in printed
    events = pd.read_csv(tmp_path / "events.csv")
    self_harm = events.loc[events["harm"] == "self_harm", "patient"].nunique()
    assert f"self_harm {self_harm}" in printed
    assert "\033[" not in printed  # capsys is not a terminal
    assert len(printed.splitlines()) <= 10  # a summary, not the whole report


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert _use_color(_Terminal())
    assert not _use_color(object())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not _use_color(_Terminal())


def test_without_the_report_extra_the_other_outputs_are_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 now fails
    assert main(["screen", "--example", "--out", str(tmp_path), "--max-patients", "0"]) == 0
    printed = capsys.readouterr().out
    assert "report.html not written" in printed and "pip install 'iatrogenic[report]'" in printed
    assert not (tmp_path / "report.html").exists()
    assert (tmp_path / "events.csv").exists() and (tmp_path / "report.txt").exists()


def test_negative_max_patients_is_a_one_line_error(tmp_path, capsys):
    assert main(["screen", "--example", "--out", str(tmp_path), "--max-patients", "-1"]) == 2
    assert "--max-patients must be 0 or more" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_data_quality_warnings_reach_stderr_and_the_report(tmp_path, capsys):
    data = ia.datasets.load_example()
    data = data[data["patient"].isin(data["patient"].unique()[:30])].copy()
    data["attendance"] = data["attendance"].astype(str)
    missed = data.index[data["attendance"] == "dna"][:2]
    data.loc[missed, "phq9"] = 12.0  # a score on a missed session
    path = tmp_path / "visits.csv"
    data.to_csv(path, index=False)
    out = tmp_path / "out"
    status = main(["screen", str(path), "--instrument", "phq9", "--score", "phq9",
                   "--attendance", "attendance", "--out", str(out), "--max-patients", "1"])
    assert status == 0
    err = capsys.readouterr().err
    assert err.startswith("iatrogenic: warning:") and "--attendance" in err
    page = (out / "report.html").read_text()
    assert "score on a missed session" in page and "2 rows" in page


def test_progress_bar_on_request_and_off_by_default_off_a_terminal(tmp_path, capsys):
    pytest.importorskip("tqdm")
    args = ["screen", "--example", "--out", str(tmp_path), "--max-patients", "0",
            "--detectors", "reliable_deterioration,risk_item"]
    assert main([*args, "--progress"]) == 0
    assert "2/2" in capsys.readouterr().err  # the bar over the two detectors
    assert main(args) == 0  # default: a bar only when stderr is a terminal (capsys is not)
    assert capsys.readouterr().err == ""
    assert main([*args, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_output_format_parquet_writes_the_same_tables(tmp_path):
    pytest.importorskip("pyarrow")
    common = ["screen", "--example", "--therapist", "therapist", "--max-patients", "0"]
    assert main([*common, "--out", str(tmp_path / "csv")]) == 0
    assert main([*common, "--out", str(tmp_path / "pq"), "--output-format", "parquet"]) == 0
    for name in ("events", "patients", "reliable_change", "therapists", "provider_events"):
        assert not (tmp_path / "pq" / f"{name}.csv").exists()
        from_parquet = pd.read_parquet(tmp_path / "pq" / f"{name}.parquet")
        from_csv = pd.read_csv(tmp_path / "csv" / f"{name}.csv")
        assert from_parquet.columns.tolist() == from_csv.columns.tolist()
        assert len(from_parquet) == len(from_csv)
        assert len(from_csv) > 0 or name == "provider_events"  # the example's therapists: none
    events = pd.read_parquet(tmp_path / "pq" / "events.parquet")
    csv_events = pd.read_csv(tmp_path / "csv" / "events.csv", dtype={"session": str})
    assert events["evidence"].tolist() == csv_events["evidence"].tolist()
    assert events["session"].astype(str).tolist() == csv_events["session"].tolist()
    pd.testing.assert_series_equal(events["value"], csv_events["value"], check_dtype=False)
