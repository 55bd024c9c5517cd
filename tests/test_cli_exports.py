"""The command line on clinic exports as they come: dates as text, attendance codes, encodings,
decimal commas, Excel, parquet and wide files, the reliable-change options, errors in flags.

The fixtures in ``tests/data/cli/`` hold 60 simulated patients of the bundled example
(``make_fixtures.py`` there writes them).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic.cli import _parser, main

DATA = Path(__file__).parent / "data" / "cli"

PHQ = ["--instrument", "phq9"]
ISO_ARGS = [*PHQ, "--patient", "client_id", "--time", "appointment_date", "--score",
            "phq9_total"]
ATTENDANCE = ["--attendance", "attended", "--attended", "yes", "--missed", "no", "--cancelled",
              "cancelled"]

#: Every CLI fixture and the arguments it is screened with.
FIXTURES: dict[str, list[str]] = {
    "clinic_iso.csv": [*ISO_ARGS, *ATTENDANCE, "--therapist", "clinician"],
    "clinic_eu.csv": [*ISO_ARGS, *ATTENDANCE, "--alliance", "srs"],
    "clinic_numeric.csv": [*PHQ, "--score", "phq9", "--attendance", "attendance", "--date",
                           "date"],
    "clinic_wide.csv": [*PHQ, "--patient", "client", "--score", "phq9", "--wide",
                        r"phq9_s(\d+)"],
}


def run(path: Path, args: list[str], out: Path, capsys) -> tuple[int, str, str]:
    # two patient cards keep report.html cheap; tests/test_html_report.py checks the page
    status = main(["screen", str(path), *args, "--out", str(out), "--max-patients", "2"])
    captured = capsys.readouterr()
    return status, captured.out, captured.err.strip()


def screen_ok(path: Path, args: list[str], out: Path, capsys) -> str:
    """Screen a fixture and return the text report (the terminal gets a short summary)."""
    status, printed, err = run(path, args, out, capsys)
    assert status == 0, err
    assert f"Report: {out / 'report.html'}" in printed
    return (out / "report.txt").read_text(encoding="utf-8")


def error_of(path: Path, args: list[str], tmp_path: Path, capsys) -> str:
    status, _, err = run(path, args, tmp_path / "out", capsys)
    assert status == 2
    assert err.startswith("iatrogenic: error:") and "\n" not in err and "Traceback" not in err
    return err


def harmed(printed: str) -> str:
    return re.search(r"harmed\s+(\d+)\s+([\d.]+)%", printed).group(2)


def example_numeric_report(tmp_path, capsys) -> str:
    """The ISO fixture's screen with session numbers instead of dates (the truth to match)."""
    return screen_ok(DATA / "clinic_numeric.csv", FIXTURES["clinic_numeric.csv"],
                     tmp_path / "numeric", capsys)


# ------------------------------------------------------------------------------------------------
# Dates
# ------------------------------------------------------------------------------------------------


def test_text_dates_newest_first_give_the_same_change_as_session_numbers(tmp_path, capsys):
    """The regression of issue 10: dates as text, newest first, were ordered by appearance."""
    truth = example_numeric_report(tmp_path, capsys)
    printed = screen_ok(DATA / "clinic_iso.csv", ISO_ARGS, tmp_path / "iso", capsys)
    assert harmed(printed) == harmed(truth)
    rc = pd.read_csv(tmp_path / "iso" / "reliable_change.csv")
    rc_truth = pd.read_csv(tmp_path / "numeric" / "reliable_change.csv")
    assert (rc["category"].value_counts().sort_index()
            == rc_truth["category"].value_counts().sort_index()).all()
    # --date naming the same column changes nothing
    again = screen_ok(DATA / "clinic_iso.csv", [*ISO_ARGS, "--date", "appointment_date"],
                      tmp_path / "iso2", capsys)
    assert harmed(again) == harmed(printed)


def test_date_only_export_gets_every_detector(tmp_path, capsys):
    screen_ok(DATA / "clinic_iso.csv", FIXTURES["clinic_iso.csv"], tmp_path / "o", capsys)
    report = (tmp_path / "o" / "report.txt").read_text()
    assert "off_track" in report.split("Events by detector:")[1]
    assert "Sessions numbered from the dates" in report
    skipped = report.split("Skipped detectors:")[1] if "Skipped" in report else ""
    for detector in ("off_track", "sudden_loss", "disengagement", "dependency",
                     "worsening_trajectory"):
        assert detector not in skipped
    events = pd.read_csv(tmp_path / "o" / "events.csv")
    assert "date" in events.columns and events["date"].notna().all()
    assert events["date"].str.match(r"^\d{4}-\d{2}-\d{2}$").all()


def test_session_numbers_from_dates_count_attended_sessions(tmp_path, capsys):
    path = tmp_path / "few.csv"
    path.write_text(
        "id,when,status,phq\n"
        "A,2024-02-05,attended,18\n"
        "A,2024-01-29,DNA,\n"
        "A,2024-01-15,attended,10\n"
        "A,2024-01-22,attended,12\n"
        "A,2024-02-12, Attended ,22\n"
        "A,2024-02-01,cancelled,\n"
    )
    args = [*PHQ, "--patient", "id", "--time", "when", "--score", "phq",
            "--attendance", "status", "--detectors", "reliable_deterioration,disengagement"]
    screen_ok(path, args, tmp_path / "o", capsys)
    events = pd.read_csv(tmp_path / "o" / "events.csv")
    deterioration = events[events["detector"] == "reliable_deterioration"]
    # 10 -> 18 is reliable at the fifth row in date order, the third attended session
    assert deterioration["session"].tolist() == [3]
    assert deterioration["date"].tolist() == ["2024-02-05"]
    # the missed and cancelled appointments between sessions 2 and 3 are 2.33 and 2.67
    missed = events[events["detector"] == "disengagement"]
    assert set(missed["session"]) <= {2.33, 2.67, 3, 4}
    assert 2.67 in set(missed["session"])


def test_two_rows_of_a_patient_on_one_date_are_an_error(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    path.write_text("patient,date,score\n1,2024-01-01,10\n1,2024-01-08,12\n1,2024-01-08,13\n")
    err = error_of(path, [*PHQ, "--time", "date"], tmp_path, capsys)
    assert "share a patient and date" in err and "line 3" in err and "line 4" in err


def test_day_first_dates_that_read_one_way_only_are_parsed(tmp_path, capsys):
    """31/01/2024 cannot be month first: the column is read day first without a flag."""
    iso = screen_ok(DATA / "clinic_iso.csv", ISO_ARGS, tmp_path / "iso", capsys)
    eu = screen_ok(DATA / "clinic_eu.csv", ISO_ARGS, tmp_path / "eu", capsys)
    assert harmed(eu) == harmed(iso)
    again = screen_ok(DATA / "clinic_eu.csv", [*ISO_ARGS, "--dayfirst"], tmp_path / "eu2", capsys)
    assert harmed(again) == harmed(iso)
    fmt = screen_ok(DATA / "clinic_eu.csv", [*ISO_ARGS, "--date-format", "%d/%m/%Y"],
                    tmp_path / "eu3", capsys)
    assert harmed(fmt) == harmed(iso)
    events = {name: pd.read_csv(tmp_path / name / "events.csv") for name in ("iso", "eu", "eu3")}
    pd.testing.assert_frame_equal(events["iso"], events["eu"])
    pd.testing.assert_frame_equal(events["iso"], events["eu3"])


def ambiguous_file(tmp_path: Path) -> Path:
    path = tmp_path / "ambiguous.csv"
    path.write_text("patient,visit,score\n1,01/02/2024,10\n1,03/02/2024,12\n1,05/02/2024,20\n")
    return path


def test_ambiguous_dates_are_refused_with_the_flag_to_pass(tmp_path, capsys):
    err = error_of(ambiguous_file(tmp_path), [*PHQ, "--time", "visit"], tmp_path, capsys)
    assert "'visit'" in err and "--time" in err
    assert "both day first and month first" in err
    assert "--dayfirst" in err and "--date-format '%m/%d/%Y'" in err


def test_ambiguous_dates_with_dayfirst_or_a_format(tmp_path, capsys):
    path = ambiguous_file(tmp_path)
    for extra, expected in (
        (["--dayfirst"], ["2024-02-05"]),
        (["--date-format", "%m/%d/%Y"], ["2024-05-02"]),
    ):
        out = tmp_path / extra[0].strip("-")
        screen_ok(path, [*PHQ, "--time", "visit", "--detectors", "reliable_deterioration",
                         *extra], out, capsys)
        events = pd.read_csv(out / "events.csv")
        assert events["date"].tolist() == expected


def test_unparseable_dates_name_column_rows_and_flag(tmp_path, capsys):
    path = tmp_path / "bad_dates.csv"
    path.write_text(
        "patient,visit,score\n1,2024-01-01,10\n1,2024-01-08,12\n1,soon,13\n2,2024-01-01,9\n"
        "2,2024-13-45,9\n"
    )
    err = error_of(path, [*PHQ, "--time", "visit"], tmp_path, capsys)
    assert "'visit'" in err and "--time" in err
    assert "line 4" in err and "'soon'" in err and "1 row" in err and "--date-format" in err
    path.write_text("patient,visit,score\n1,2024-01-01,10\n1,2024-02-30,12\n")
    err = error_of(path, [*PHQ, "--time", "visit"], tmp_path, capsys)
    assert "do not exist" in err and "line 3" in err


def test_date_format_mismatch(tmp_path, capsys):
    path = tmp_path / "dots.csv"
    path.write_text("patient,visit,score\n1,01.02.2024,10\n1,08.02.2024,12\n1,15/02/2024,13\n")
    err = error_of(path, [*PHQ, "--time", "visit", "--date-format", "%d.%m.%Y"], tmp_path,
                   capsys)
    assert "--date-format '%d.%m.%Y'" in err and "line 4" in err and "1 row" in err
    path.write_text("patient,visit,score\n1,01.02.2024,10\n1,08.02.2024,12\n1,15.02.2024,20\n")
    screen_ok(path, [*PHQ, "--time", "visit", "--date-format", "%d.%m.%Y"], tmp_path / "o",
              capsys)


def test_dates_in_words_ask_for_a_format(tmp_path, capsys):
    path = tmp_path / "words.csv"
    path.write_text("patient,visit,score\n1,3 Jan 2024,10\n1,10 Jan 2024,12\n")
    err = error_of(path, [*PHQ, "--time", "visit"], tmp_path, capsys)
    assert "--date-format '%d %b %Y'" in err


def test_dates_with_times_and_date_column_with_session_numbers(tmp_path, capsys):
    path = tmp_path / "times.csv"
    path.write_text(
        "patient,session,seen,score\n1,1,2024-01-01 09:00,10\n1,2,2024-01-08T09:30:00,12\n"
        "1,3,2024-01-15 10:00:00,20\n"
    )
    screen_ok(path, [*PHQ, "--date", "seen"], tmp_path / "o", capsys)
    screen_ok(path, [*PHQ, "--time", "seen"], tmp_path / "o2", capsys)
    events = pd.read_csv(tmp_path / "o2" / "events.csv")
    assert "2024-01-15 10:00:00" in events["date"].tolist()


# ------------------------------------------------------------------------------------------------
# Attendance
# ------------------------------------------------------------------------------------------------


def test_attendance_codes_mapped_by_flags(tmp_path, capsys):
    numeric = screen_ok(DATA / "clinic_numeric.csv", FIXTURES["clinic_numeric.csv"],
                        tmp_path / "n", capsys)
    coded = screen_ok(
        DATA / "clinic_iso.csv",
        [*ISO_ARGS, "--attendance", "attended", "--attended", " YES ,attended",
         "--missed", "no,dna", "--cancelled", "CANCELLED"],
        tmp_path / "c",
        capsys,
    )
    assert "disengagement" in coded.split("Events by detector:")[1]
    assert harmed(coded) == harmed(numeric)


def test_unknown_attendance_codes_are_listed_with_the_flags(tmp_path, capsys):
    err = error_of(DATA / "clinic_iso.csv", [*ISO_ARGS, "--attendance", "attended",
                                             "--attended", "yes"], tmp_path, capsys)
    assert "'no'" in err and "'cancelled'" in err and "'yes'" not in err.split("Suggestion")[0]
    assert "--attended" in err and "--missed" in err and "--cancelled" in err
    assert re.search(r"first at line \d+", err)


def test_an_attendance_code_given_to_two_flags(tmp_path, capsys):
    err = error_of(DATA / "clinic_iso.csv", [*ISO_ARGS, "--attendance", "attended",
                                             "--attended", "yes,no", "--missed", "no"],
                   tmp_path, capsys)
    assert "'no'" in err and "two flags" in err


# ------------------------------------------------------------------------------------------------
# Encodings, separators, decimal commas
# ------------------------------------------------------------------------------------------------


def small_rows() -> list[tuple[str, str, str]]:
    return [("Zoë", "1", "10"), ("Zoë", "2", "22"), ("Åsa", "1", "12"), ("Åsa", "2", "8")]


@pytest.mark.parametrize(
    ("encoding", "given", "detected"),
    [
        ("utf-8", None, "utf-8"),
        ("utf-8-sig", None, "utf-8-sig"),
        ("cp1252", None, "cp1252"),
        ("latin-1", "latin-1", "iso8859-1"),
        ("utf-16", None, "utf-16"),
    ],
)
def test_encodings(tmp_path, capsys, encoding, given, detected):
    path = tmp_path / "enc.csv"
    text = "name,session,score\n" + "".join(",".join(r) + "\n" for r in small_rows())
    path.write_bytes(text.encode(encoding))
    args = [*PHQ, "--patient", "name", "--detectors", "reliable_deterioration"]
    if given:
        args += ["--encoding", given]
    printed = screen_ok(path, args, tmp_path / "o", capsys)
    assert f"encoding {detected}" in printed
    events = pd.read_csv(tmp_path / "o" / "events.csv")
    assert events["patient"].tolist() == ["Zoë"]


def test_wrong_and_unknown_encodings(tmp_path, capsys):
    path = tmp_path / "enc.csv"
    path.write_bytes("name,session,score\nZoë,1,10\nZoë,2,22\n".encode("cp1252"))
    err = error_of(path, [*PHQ, "--patient", "name", "--encoding", "utf-8"], tmp_path, capsys)
    assert "not valid utf-8" in err and "line 2" in err and "--encoding" in err
    err = error_of(path, [*PHQ, "--encoding", "klingon"], tmp_path, capsys)
    assert "unknown encoding 'klingon'" in err and "--encoding" in err


def test_decimal_commas_detected_with_semicolons_and_given(tmp_path, capsys):
    path = tmp_path / "eu.csv"
    path.write_text("patient;session;score\n1;1;10,5\n1;2;22,0\n2;1;12\n2;2;8,5\n")
    printed = screen_ok(path, ["--better", "lower", "--reliability", "0.8", "--sd", "5",
                               "--detectors", "reliable_deterioration"], tmp_path / "o", capsys)
    assert "decimal ','" in printed
    events = pd.read_csv(tmp_path / "o" / "events.csv")
    assert events["value"].tolist() == [11.5]
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('patient,session,score\n1,1,"10,5"\n1,2,"22,0"\n')
    screen_ok(quoted, ["--reliability", "0.8", "--sd", "5", "--decimal", ",",
                       "--detectors", "reliable_deterioration"], tmp_path / "q", capsys)
    assert pd.read_csv(tmp_path / "q" / "events.csv")["value"].tolist() == [11.5]


def test_the_eu_export_reads_its_alliance_column_as_numbers(tmp_path, capsys):
    printed = screen_ok(DATA / "clinic_eu.csv", FIXTURES["clinic_eu.csv"], tmp_path / "o",
                        capsys)
    assert "encoding cp1252, separator ';', decimal ','" in printed
    assert "alliance_rupture" in printed.split("Events by detector:")[1]


# ------------------------------------------------------------------------------------------------
# Excel, parquet, wide
# ------------------------------------------------------------------------------------------------


def test_excel_with_sheet(tmp_path, capsys):
    pytest.importorskip("openpyxl")
    data = pd.read_csv(DATA / "clinic_iso.csv", dtype={"appointment_date": str})
    path = tmp_path / "export.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["cover sheet"]}).to_excel(writer, sheet_name="About", index=False)
        data.to_excel(writer, sheet_name="Visits", index=False)
    iso = screen_ok(DATA / "clinic_iso.csv", ISO_ARGS, tmp_path / "csv", capsys)
    xlsx = screen_ok(path, [*ISO_ARGS, "--sheet", "Visits"], tmp_path / "xlsx", capsys)
    assert harmed(xlsx) == harmed(iso)
    err = error_of(path, [*ISO_ARGS, "--sheet", "Nope"], tmp_path, capsys)
    assert "no sheet 'Nope'" in err and "'Visits'" in err
    # real Excel dates (not text) work too
    typed = data.assign(appointment_date=pd.to_datetime(data["appointment_date"]))
    typed_path = tmp_path / "typed.xlsx"
    typed.to_excel(typed_path, index=False)
    again = screen_ok(typed_path, ISO_ARGS, tmp_path / "typed", capsys)
    assert harmed(again) == harmed(iso)


def test_parquet(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    data = pd.read_csv(DATA / "clinic_iso.csv")
    path = tmp_path / "export.parquet"
    data.to_parquet(path)
    iso = screen_ok(DATA / "clinic_iso.csv", ISO_ARGS, tmp_path / "csv", capsys)
    assert harmed(screen_ok(path, ISO_ARGS, tmp_path / "pq", capsys)) == harmed(iso)


@pytest.mark.parametrize(("suffix", "module", "extra"),
                         [(".xlsx", "openpyxl", "excel"), (".parquet", "pyarrow", "parquet")])
def test_missing_optional_package_gives_install_hint(tmp_path, capsys, monkeypatch, suffix,
                                                     module, extra):
    path = tmp_path / f"export{suffix}"
    path.write_bytes(b"PK\x03\x04 not really")
    monkeypatch.setitem(sys.modules, module, None)
    err = error_of(path, PHQ, tmp_path, capsys)
    assert f"pip install 'iatrogenic[{extra}]'" in err


def test_import_stays_light():
    import subprocess

    code = ("import sys, pandas; before = set(sys.modules); import iatrogenic, iatrogenic.cli; "
            "new = set(sys.modules) - before; "
            "print(any(m.split('.')[0] in ('openpyxl', 'pyarrow') for m in new))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_wide_file(tmp_path, capsys):
    printed = screen_ok(DATA / "clinic_wide.csv", FIXTURES["clinic_wide.csv"], tmp_path / "w",
                        capsys)
    assert "60 patients" in printed
    events = pd.read_csv(tmp_path / "w" / "events.csv")
    assert "reliable_deterioration" in set(events["detector"])
    # the empty cells after each patient's last score are not sessions: the report says so
    wide = pd.read_csv(DATA / "clinic_wide.csv")
    scores = wide.filter(regex=r"^phq9_s\d+$").notna().to_numpy()
    trailing = int((~np.maximum.accumulate(scores[:, ::-1], axis=1)).sum())
    assert trailing > 0
    page = (tmp_path / "w" / "report.html").read_text(encoding="utf-8")
    assert f"{trailing} rows: empty score cells after a patient&#39;s last score" in page
    err = error_of(DATA / "clinic_wide.csv", [*PHQ, "--patient", "client", "--wide", "gad_(\\d+)"],
                   tmp_path, capsys)
    assert "gad_" in err


# ------------------------------------------------------------------------------------------------
# Reliability, SD, cut-off, reference model: other instruments get every detector
# ------------------------------------------------------------------------------------------------


def ors_file(tmp_path: Path) -> Path:
    data = pd.read_csv(DATA / "clinic_numeric.csv")
    data["ors"] = 40 - data["phq9"] * 40 / 27
    path = tmp_path / "ors.csv"
    data.drop(columns=["phq9", "phq9_item9"]).to_csv(path, index=False)
    return path


def test_reliability_sd_cutoff_for_an_unregistered_score(tmp_path, capsys):
    path = ors_file(tmp_path)
    base = ["--score", "ors", "--better", "higher", "--attendance", "attendance"]
    printed = screen_ok(path, base, tmp_path / "a", capsys)
    skipped = printed.split("Skipped detectors:")[1]
    assert "reliable_deterioration" in skipped
    printed = screen_ok(path, [*base, "--reliability", "0.93", "--sd", "7", "--cutoff", "25"],
                        tmp_path / "b", capsys)
    assert "clinical cut-off 25" in printed
    ran = printed.split("Events by detector:")[1].split("Patients by worst level")[0]
    assert "reliable_deterioration" in ran
    assert "reliable_deterioration" not in printed.split("Skipped detectors:")[-1]


def test_reference_model_drives_off_track(tmp_path, capsys):
    data = pd.read_csv(DATA / "clinic_numeric.csv")
    model = ia.fit_expected_response(ia.datasets.load_example(), score="phq9", method="hlm",
                                     better="lower", time_transform="log")
    model_path = tmp_path / "model.json"
    model_path.write_text(model.to_json())
    path = tmp_path / "plain.csv"
    data.rename(columns={"phq9": "total"}).to_csv(path, index=False)
    base = ["--score", "total", "--detectors", "off_track"]
    printed = screen_ok(path, base, tmp_path / "a", capsys)
    assert "off_track" in printed.split("Skipped detectors:")[1]
    printed = screen_ok(path, [*base, "--reference-model", str(model_path)], tmp_path / "b",
                        capsys)
    assert "Skipped detectors" not in printed
    assert len(pd.read_csv(tmp_path / "b" / "events.csv")) > 0
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    err = error_of(path, [*base, "--reference-model", str(bad)], tmp_path, capsys)
    assert "--reference-model" in err


def test_bad_reliability_speaks_flags(tmp_path, capsys):
    err = error_of(ors_file(tmp_path), ["--score", "ors", "--reliability", "1.5"], tmp_path,
                   capsys)
    assert "--reliability" in err and "reliability=" not in err


# ------------------------------------------------------------------------------------------------
# Errors in the command line's words
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "args", "fragments"),
    [
        ("id,visit,phq\n1,1,3\n", ["--patient", "client_id"],
         ["Column 'client_id' (given as --patient)", "pass --patient <your column name>"]),
        ("id,visit,phq\n1,1,3\n", ["--patient", "id", "--time", "visti"],
         ["(given as --time)", "Did you mean 'visit'"]),
        ("id,visit,phq\nA,1,3\nA,2,40\n", [*PHQ, "--patient", "id", "--time", "visit",
                                          "--score", "phq"],
         ["(given as --score)", "line 3", "id='A'"]),
        ("id,visit,phq\nA,1,3\nA,1,4\n", ["--patient", "id", "--time", "visit", "--score", "phq"],
         ["more than once", "line 2", "line 3"]),
        ("id,visit,phq\nA,1,3\n,2,4\n", ["--patient", "id", "--time", "visit", "--score", "phq"],
         ["(given as --patient)", "line 3"]),
        ("id,visit,phq\nA,1,3\nA,2,x\n", ["--patient", "id", "--time", "visit", "--score", "phq"],
         ["(given as --score)", "line 3", "'x'"]),
        ("id,visit,phq\nA,1,3\n", ["--patient", "id", "--time", "visit", "--score", "phq",
                                   "--secondary", "gad=gad7"], ["(given as --secondary)"]),
        ("id,visit,phq\nA,1,3\n", ["--patient", "id", "--time", "visit", "--score", "phq",
                                   "--items", "i1,i2"], ["(given as --items)"]),
        ("id,visit,phq\nA,1,3\n", ["--patient", "id", "--time", "visit", "--score", "phq",
                                   "--detectors", "sudden_los"], ["sudden_los"]),
    ],
)
def test_errors_name_flags_not_keywords(tmp_path, capsys, content, args, fragments):
    path = tmp_path / "f.csv"
    path.write_text(content)
    err = error_of(path, args, tmp_path, capsys)
    for fragment in fragments:
        assert fragment in err, err
    assert not re.search(r"\b(patient|time|score|items|ending|attendance)=\)", err)
    assert "passed to screen()" not in err and "index " not in err


def test_help_shows_every_default():
    screen = next(
        action for action in _parser()._actions if hasattr(action, "choices") and action.choices
    ).choices["screen"]
    for action in screen._actions:
        if action.dest in ("help",):
            continue
        assert action.help and "default" in action.help, action.dest
    text = screen.format_help()
    for flag in ("--date-format", "--dayfirst", "--attended", "--missed", "--cancelled",
                 "--encoding", "--decimal", "--sheet", "--reliability", "--sd", "--cutoff",
                 "--reference-model", "--wide", "--separator"):
        assert flag in text


# ------------------------------------------------------------------------------------------------
# Files that are not tables
# ------------------------------------------------------------------------------------------------


def test_directory_empty_binary_and_other_non_tables(tmp_path, capsys):
    err = error_of(tmp_path, PHQ, tmp_path, capsys)
    assert "is a directory" in err
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "is empty" in error_of(empty, PHQ, tmp_path, capsys)
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n  \n")
    assert "no header" in error_of(blank, PHQ, tmp_path, capsys)
    header = tmp_path / "header.csv"
    header.write_text("patient,session,score\n")
    assert "no rows" in error_of(header, PHQ, tmp_path, capsys)
    binary = tmp_path / "data.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    assert "binary file" in error_of(binary, PHQ, tmp_path, capsys)
    zipped = tmp_path / "book.csv"
    zipped.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    assert ".xlsx" in error_of(zipped, PHQ, tmp_path, capsys)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("patient,session,score\n1,1,3\n1,2,4,5,6\n")
    err = error_of(ragged, PHQ, tmp_path, capsys)
    assert "line 3" in err and "--separator" in err
    twice = tmp_path / "twice.csv"
    twice.write_text("patient,session,score,score\n1,1,3,4\n")
    assert "appears twice" in error_of(twice, PHQ, tmp_path, capsys)
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    assert ".xlsx" in error_of(old, PHQ, tmp_path, capsys)


# ------------------------------------------------------------------------------------------------
# Row order never matters
# ------------------------------------------------------------------------------------------------


def reversed_copy(path: Path, tmp_path: Path) -> Path:
    raw = path.read_bytes()
    lines = raw.splitlines(keepends=True)
    body = [line if line.endswith(b"\n") else line + b"\n" for line in lines[1:]]
    out = tmp_path / f"reversed_{path.name}"
    out.write_bytes(lines[0] + b"".join(reversed(body)))
    return out


def report_without_variable_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines[1:] if "second" not in line]


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_reversed_rows_give_identical_outputs(tmp_path, capsys, name):
    path = DATA / name
    screen_ok(path, FIXTURES[name], tmp_path / "forward", capsys)
    backward_path = reversed_copy(path, tmp_path)
    screen_ok(backward_path, FIXTURES[name], tmp_path / "backward", capsys)
    for table in ("events.csv", "patients.csv", "reliable_change.csv"):
        forward = (tmp_path / "forward" / table).read_bytes()
        assert forward == (tmp_path / "backward" / table).read_bytes(), table
    assert report_without_variable_lines(tmp_path / "forward" / "report.txt") == (
        report_without_variable_lines(tmp_path / "backward" / "report.txt")
    )
    forward = (tmp_path / "forward" / "report.html").read_text(encoding="utf-8")
    backward = (tmp_path / "backward" / "report.html").read_text(encoding="utf-8")
    assert forward.replace(str(path), "FILE") == backward.replace(str(backward_path), "FILE")


def test_every_fixture_has_a_reversal_test():
    assert sorted(FIXTURES) == sorted(p.name for p in DATA.glob("*.csv"))


# ------------------------------------------------------------------------------------------------
# Packaging
# ------------------------------------------------------------------------------------------------


def test_packaging_metadata():
    from importlib.resources import files

    import tomllib

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"  # SPDX expression, not the deprecated table
    extras = project["project"]["optional-dependencies"]
    assert any(r.startswith("openpyxl") for r in extras["excel"])
    assert any(r.startswith("pyarrow") for r in extras["parquet"])
    data = project["tool"]["setuptools"]["package-data"]
    assert "py.typed" in data["iatrogenic"] and "data/README.md" in data["iatrogenic.datasets"]
    assert files("iatrogenic").joinpath("py.typed").is_file()
    # the HTML report's template and style sheet ship with the package
    assert data["iatrogenic.report"] == ["templates/*"]
    templates = files("iatrogenic.report").joinpath("templates")
    assert templates.joinpath("report.html.j2").is_file()
    assert templates.joinpath("report.css").is_file()
    assert any(r.startswith("jinja2") for r in extras["report"])
    manifest = (root / "MANIFEST.in").read_text(encoding="utf-8")
    assert "graft docs" in manifest and "graft notebooks" in manifest


def test_the_example_as_a_csv_file_equals_the_example(tmp_path, capsys):
    """Reading the bundled example's CSV through every conversion changes nothing."""
    from importlib.resources import files

    source = files("iatrogenic.datasets").joinpath("data")
    data_path, meds_path = tmp_path / "example.csv", tmp_path / "meds.csv"
    data_path.write_bytes(source.joinpath("example.csv").read_bytes())
    meds_path.write_bytes(source.joinpath("example_medications.csv").read_bytes())
    items = ",".join(f"phq9_item{i}" for i in range(1, 9))
    screen_ok(data_path, [*PHQ, "--score", "phq9", "--attendance", "attendance", "--date", "date",
                          "--alliance", "srs", "--therapist", "therapist", "--age", "age",
                          "--ending", "end_reason", "--items", items, "--secondary",
                          "bhs=bhs,gad7=gad7", "--medications", str(meds_path)],
              tmp_path / "file", capsys)
    assert main(["screen", "--example", "--out", str(tmp_path / "example"),
                 "--max-patients", "2"]) == 0
    for table in ("events.csv", "patients.csv", "reliable_change.csv"):
        assert (tmp_path / "file" / table).read_bytes() == (
            tmp_path / "example" / table
        ).read_bytes(), table
