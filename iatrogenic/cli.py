"""Command line: ``iatrogenic screen --example``, ``iatrogenic screen FILE --instrument phq9``.

The command takes a clinic export as it comes: CSV in any common encoding (UTF-8 with or without
BOM, Windows-1252, Latin-1), ``,`` ``;`` or tab separators, decimal commas, Excel (``.xlsx``) and
parquet files, dates as text in the session or date column, attendance coded in the service's
own words, and wide files with one column per session. Everything is converted here, before the
Python API is called, so that no guess is ever made silently: dates are parsed ISO first, other
formats only when unambiguous or given (``--date-format``, ``--dayfirst``); attendance codes must
all be mapped; an unreadable value is an error naming the column, the lines and the flag to use.

Errors in the user's file or options end in a one-line message on stderr and exit status 2, never
a traceback; they name the command line's flags (``--patient``), not the Python keywords.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import json
import os
import re
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from . import __version__
from .exceptions import (
    ColumnNotFoundError,
    DuplicateRowsError,
    EmptyDataError,
    IatrogenicError,
    IatrogenicWarning,
    InvalidValueError,
    ParameterError,
)

__all__ = ["main"]

#: Column keywords of ``ia.screen`` that the command line takes as ``--keyword COLUMN``.
COLUMN_OPTIONS = ("risk_item", "alliance", "attendance", "date", "therapist", "age", "ending")

#: Python keyword of the API -> flag of the command line, for error messages.
FLAGS: dict[str, str] = {
    "patient": "--patient",
    "time": "--time",
    "score": "--score",
    "instrument": "--instrument",
    "better": "--better",
    "items": "--items",
    "secondary": "--secondary",
    "medications": "--medications",
    "detectors": "--detectors",
    "reliability": "--reliability",
    "sd": "--sd",
    "cutoff": "--cutoff",
    "model": "--reference-model",
    **{keyword: "--" + keyword.replace("_", "-") for keyword in COLUMN_OPTIONS},
}

#: Cells read as missing (besides empty ones) in every column but the patient id.
NA_TOKENS = frozenset(
    {"", "na", "n/a", "nan", "null", "none", "#n/a", "#na", "missing", "-nan", "<na>", "nat"}
)

#: How many offending rows an error shows.
MAX_SHOWN = 5

_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_NUMERIC_DATE = re.compile(
    r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{2}|\d{4})(?:[T ](\d{1,2}:\d{2}(?::\d{2})?))?$"
)
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_COMMA_NUMBER = re.compile(r"^[+-]?\d*,\d+$")


# ------------------------------------------------------------------------------------------------
# The parser
# ------------------------------------------------------------------------------------------------

SCREEN_DESCRIPTION = """\
Screen a long-format file (one row per patient and session) for harm; write events.csv,
patients.csv, reliable_change.csv, report.txt and report.html (one self-contained page with
figures, for a browser; needs pip install 'iatrogenic[report]') to --out, and print a short
summary. With --therapist COLUMN, also therapists.csv (reliable deterioration per therapist
against its case mix, counts below 5 suppressed) and provider_events.csv (funnel outliers and
risk-adjusted CUSUM signals per therapist).

Input: CSV (encoding detected: UTF-8 with or without BOM, else Windows-1252/Latin-1; separator
',', ';' or tab; decimal commas detected with ';'), Excel .xlsx (pip install 'iatrogenic[excel]')
or parquet (pip install 'iatrogenic[parquet]'); a wide file (one column per session) with --wide.

Dates: a --time or --date column holding text dates is parsed: ISO (2024-01-31, with or without
a time) automatically; 31/01/2024 or 01/31/2024 when the column reads only one way; otherwise
pass --dayfirst or --date-format (strftime, e.g. '%d.%m.%Y'). Ambiguous or unreadable dates are
an error naming the lines.

Date-only exports: when --time holds dates, sessions are numbered from the dates: each
patient's attended sessions in date order are 1, 2, 3...; a missed or cancelled appointment
between sessions k and k+1 is numbered in between (k.5; k.33 and k.67 for two), so every
detector that needs session numbers (off_track, sudden_loss...) runs. The dates themselves
feed --date (gaps between sessions), and events.csv gets a 'date' column. Two rows of a patient
on the same date are an error.

Attendance: --attendance COLUMN with the service's codes mapped by --attended, --missed and
--cancelled (case-insensitive, trimmed); an unmapped code is an error listing it.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iatrogenic",
        description="Find harm in longitudinal mental-health outcome data.",
    )
    parser.add_argument("--version", action="version", version=f"iatrogenic {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    screen = commands.add_parser(
        "screen",
        help="screen a long-format CSV, Excel or parquet file for harm",
        description=SCREEN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = screen.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "file", nargs="?", type=Path, help="CSV, .xlsx or .parquet file (default: none)"
    )
    source.add_argument(
        "--example", action="store_true", help="use the bundled example data (default: off)"
    )

    columns = screen.add_argument_group("columns")
    columns.add_argument(
        "--instrument",
        help="instrument of the score column, e.g. phq9, gad7, ors (default: none; then pass "
        "--reliability or rely on the detectors that need none)",
    )
    columns.add_argument(
        "--patient", default="patient", help="patient id column (default: patient)"
    )
    columns.add_argument(
        "--time",
        default="session",
        help="session column: numbers, or dates (sessions then numbered from the dates) "
        "(default: session)",
    )
    columns.add_argument("--score", default=None, help="total score column (default: score)")
    columns.add_argument(
        "--better",
        choices=["lower", "higher"],
        help="direction of improvement (default: the instrument's, else lower)",
    )
    for keyword in COLUMN_OPTIONS:
        what = {
            "risk_item": "the self-harm item (default: the instrument's risk item column if "
            "present, e.g. phq9_item9)",
            "alliance": "an alliance score such as the SRS (default: none)",
            "attendance": "attendance status, codes mapped by --attended/--missed/--cancelled "
            "(default: none)",
            "date": "session dates (default: the --time column when it holds dates, else none)",
            "therapist": "the therapist id; also writes therapists.csv and "
            "provider_events.csv (default: none)",
            "age": "age in years (default: none)",
            "ending": "how a course ended, 'planned' or 'unplanned' on its last row "
            "(default: none)",
        }[keyword]
        columns.add_argument(
            f"--{keyword.replace('_', '-')}",
            dest=keyword,
            metavar="COLUMN",
            help=f"column of {what}",
        )
    columns.add_argument(
        "--items", help="comma-separated item score columns, for symptom emergence (default: none)"
    )
    columns.add_argument(
        "--secondary",
        help="secondary measures as column=instrument pairs, e.g. gad7=gad7,bhs= (default: none)",
    )
    columns.add_argument(
        "--wide",
        metavar="PATTERN",
        help="wide file: regular expression of the score columns, one per session, whose group "
        r"is the session number, e.g. 'phq9_s(\d+)' (default: off, long format)",
    )

    reading = screen.add_argument_group("reading the file")
    reading.add_argument(
        "--encoding",
        help="text encoding of a CSV (default: detected: UTF-8 with or without BOM, else "
        "Windows-1252, else Latin-1)",
    )
    reading.add_argument(
        "--separator",
        help="CSV field separator (default: detected from the header: ',', ';' or tab)",
    )
    reading.add_argument(
        "--decimal",
        choices=[".", ","],
        help="decimal mark of numbers (default: detected: ',' when the separator is ';' and "
        "numbers are written 12,5; else '.')",
    )
    reading.add_argument("--sheet", help="Excel sheet name (default: the first sheet)")
    reading.add_argument(
        "--date-format",
        metavar="FORMAT",
        help="strftime format of the dates, e.g. '%%d/%%m/%%Y' (default: ISO detected; other "
        "formats only when unambiguous)",
    )
    reading.add_argument(
        "--dayfirst",
        action="store_true",
        help="read dates such as 01/02/2024 day first, as 1 February (default: off: dates "
        "that read both ways are an error)",
    )
    reading.add_argument(
        "--attended",
        default="attended",
        help="comma-separated attendance codes meaning attended (default: attended)",
    )
    reading.add_argument(
        "--missed",
        default="dna",
        help="comma-separated attendance codes meaning did not attend (default: dna)",
    )
    reading.add_argument(
        "--cancelled",
        default="cancelled",
        help="comma-separated attendance codes meaning cancelled (default: cancelled)",
    )

    method = screen.add_argument_group("method")
    method.add_argument(
        "--reliability",
        type=float,
        help="reliability of the score, for reliable change in every detector (default: the "
        "instrument's)",
    )
    method.add_argument(
        "--sd",
        type=float,
        help="standard deviation of intake scores for reliable change (default: the instrument's)",
    )
    method.add_argument(
        "--cutoff",
        type=float,
        help="clinical cut-off of the reliable-change report (default: the instrument's "
        "caseness cut-off, if any)",
    )
    method.add_argument(
        "--reference-model",
        metavar="FILE.json",
        type=Path,
        help="expected-response model for off_track, written by model.to_json() (default: the "
        "bundled PHQ-9 model, used with --instrument phq9 only)",
    )
    method.add_argument(
        "--medications",
        type=Path,
        help="medication table (patient, start, stop, drug...), CSV or .xlsx (default: none)",
    )
    method.add_argument(
        "--detectors", default="all", help="comma-separated detector names (default: all)"
    )
    screen.add_argument(
        "--out",
        type=Path,
        default=Path("iatrogenic-out"),
        help="output folder, created if needed (default: iatrogenic-out)",
    )
    screen.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar over the detectors on stderr (pip install 'iatrogenic[progress]') "
        "(default: on when stderr is a terminal)",
    )
    screen.add_argument(
        "--output-format",
        choices=["csv", "parquet"],
        default="csv",
        help="format of the output tables (events, patients, reliable_change, therapists, "
        "provider_events); parquet needs pyarrow: pip install 'iatrogenic[parquet]' "
        "(default: csv)",
    )
    screen.add_argument(
        "--max-patients",
        type=int,
        default=20,
        metavar="N",
        help="patients given a card (events and course plot) in report.html (default: 20)",
    )
    engine = screen.add_argument_group("data larger than memory")
    engine.add_argument(
        "--engine",
        choices=["pandas", "dask"],
        default="pandas",
        help="dask: FILE is a parquet file, a directory or a quoted glob such as "
        "\"visits/*.parquet\", read lazily and screened partition by partition into "
        "OUT/events/ (parquet) and OUT/summary.txt (pip install 'iatrogenic[dask]') "
        "(default: pandas)",
    )
    engine.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --engine dask: a dask.distributed scheduler, e.g. tcp://host:8786 "
        "(default: the threads of this process)",
    )
    return parser


# ------------------------------------------------------------------------------------------------
# Reading a file
# ------------------------------------------------------------------------------------------------


@dataclass
class Source:
    """What was read and how: the report says it, error messages use the row word."""

    path: Path | None
    kind: str = "csv"
    encoding: str | None = None
    separator: str | None = None
    decimal: str = "."
    row_word: str = "line"
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.path is None:
            return "the bundled example data"
        return str(self.path)


def _fail(message: str) -> ParameterError:
    return ParameterError(message)


def _check_path(path: Path) -> None:
    if path.is_dir():
        raise _fail(f"{path} is a directory, not a file: pass a CSV, .xlsx or .parquet file.")
    if not path.exists():
        raise FileNotFoundError(
            f"no such file: {path}. Suggestion: check the path, or pass the export's full path "
            "(iatrogenic screen --example runs on the bundled example)."
        )
    if not path.is_file():
        raise _fail(f"{path} is not a regular file: pass a CSV, .xlsx or .parquet file.")
    if path.stat().st_size == 0:
        raise EmptyDataError(f"{path} is empty (0 bytes): pass a file with a header and rows.")


def _decode(raw: bytes, path: Path, encoding: str | None) -> tuple[str, str]:
    """The text of a CSV and the encoding used (given, or detected)."""
    if raw.startswith(b"PK\x03\x04"):
        raise _fail(
            f"{path} is a zip file (an Excel .xlsx workbook?), not a CSV: give it the .xlsx "
            "extension, or export it as CSV."
        )
    if raw.startswith(b"PAR1"):
        raise _fail(f"{path} is a parquet file: give it the .parquet extension.")
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise _fail(
                f"unknown encoding {encoding!r} given as --encoding: use e.g. utf-8, cp1252, "
                "latin-1 or utf-16."
            ) from None
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError as error:
            line = raw[: error.start].count(b"\n") + 1
            raise _fail(
                f"{path} is not valid {codec} (given as --encoding): byte "
                f"{raw[error.start : error.start + 1]!r} on line {line}. Suggestion: leave "
                "--encoding out to detect the encoding, or pass the right one."
            ) from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16"
    if b"\x00" in raw[:8192] or _looks_binary(raw[:8192]):
        raise _fail(
            f"{path} is a binary file, not a CSV text file: pass a CSV, .xlsx or .parquet file "
            "(or --encoding if it is text in a multi-byte encoding such as utf-16)."
        )
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    for codec in ("utf-8", "cp1252", "latin-1"):
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _looks_binary(head: bytes) -> bool:
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return len(head) > 0 and control / len(head) > 0.05


def _separator(header: str, given: str | None) -> str:
    if given is not None:
        return "\t" if given in ("\\t", "tab") else given
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def _read_csv_text(text: str, path: Path, separator: str) -> pd.DataFrame:
    """All cells as text (None where empty), indexed by the line each record starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        rows = []
        lines = []
        start = 1
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as error:
        raise _fail(f"could not read {path} as CSV: {error} (line {reader.line_num})") from None
    if not rows:
        raise EmptyDataError(f"{path} has no header and no rows: pass a file with data.")
    header = [h.strip() for h in rows[0]]
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise _fail(
                f"could not read {path}: column {name!r} appears twice in the header (columns "
                f"{seen[name]} and {position}). Suggestion: rename one of them."
            )
        seen[name] = position
    body, body_lines = rows[1:], lines[1:]
    if not body:
        raise EmptyDataError(
            f"{path} has a header ({', '.join(map(repr, header[:8]))}) but no rows. "
            "Suggestion: pass the export with its data rows (was it saved before the rows were "
            "filled in?)."
        )
    width = len(header)
    long_rows = [i for i, row in enumerate(body) if len(row) > width]
    if long_rows:
        shown = ", ".join(
            f"line {body_lines[i]} ({len(body[i])} fields)" for i in long_rows[:MAX_SHOWN]
        )
        raise _fail(
            f"could not read {path} as CSV: {len(long_rows)} rows have more fields than the "
            f"{width} of the header, first: {shown}. Suggestion: check the separator "
            f"(--separator) and quoting."
        )
    padded = [row + [""] * (width - len(row)) for row in body]
    frame = pd.DataFrame(padded, columns=header, index=pd.Index(body_lines), dtype=object)
    return frame


def _import_optional(module: str, extra: str, what: str) -> None:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise _fail(
            f"reading {what} needs the optional package {module}: pip install 'iatrogenic[{extra}]'"
        ) from None


def _read_file(path: Path, args: argparse.Namespace) -> tuple[pd.DataFrame, Source]:
    _check_path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        _import_optional("openpyxl", "excel", "Excel files")
        try:
            frame = pd.read_excel(path, sheet_name=args.sheet or 0, dtype=object)
        except ValueError as error:
            if args.sheet is not None and "not found" in str(error):
                import openpyxl

                names = openpyxl.load_workbook(path, read_only=True).sheetnames
                raise _fail(
                    f"{path} has no sheet {args.sheet!r} (given as --sheet); its sheets: "
                    f"{', '.join(map(repr, names))}."
                ) from None
            raise _fail(f"could not read {path} as Excel: {error}") from None
        except Exception as error:  # zip or XML errors of a broken workbook
            raise _fail(f"could not read {path} as Excel: {error}") from None
        frame.columns = [str(c).strip() for c in frame.columns]
        frame.index = pd.RangeIndex(2, len(frame) + 2)
        frame = frame.loc[~frame.isna().all(axis=1)]
        if len(frame) == 0:
            raise EmptyDataError(f"{path} (sheet {args.sheet or 1}) has no rows.")
        return frame, Source(path, kind="excel", row_word="row")
    if suffix == ".xls":
        raise _fail(f"{path}: old .xls workbooks are not read; save it as .xlsx or CSV.")
    if suffix in (".parquet", ".pq"):
        _import_optional("pyarrow", "parquet", "parquet files")
        try:
            frame = pd.read_parquet(path)
        except Exception as error:
            raise _fail(f"could not read {path} as parquet: {error}") from None
        frame = frame.reset_index(drop=True)
        frame.index = pd.RangeIndex(1, len(frame) + 1)
        if len(frame) == 0:
            raise EmptyDataError(f"{path} has no rows.")
        return frame, Source(path, kind="parquet", row_word="row")
    raw = path.read_bytes()
    text, encoding = _decode(raw, path, args.encoding)
    header = text.split("\n", 1)[0]
    separator = _separator(header, args.separator)
    frame = _read_csv_text(text, path, separator)
    return frame, Source(path, kind="csv", encoding=encoding, separator=separator)


def _clean_text(values: pd.Series, *, keep_na_words: bool) -> pd.Series:
    """Strip text cells; empty (and, unless ``keep_na_words``, NA words) become missing."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            stripped = value.strip()
            if stripped == "" or (not keep_na_words and stripped.lower() in NA_TOKENS):
                return None
            return stripped
        return value

    return values.map(clean).astype(object)


def _id_text(value: Any) -> str | None:
    """A patient id as text (``12`` from an Excel 12.0); None where missing."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _decimal(frame: pd.DataFrame, source: Source, given: str | None) -> str:
    if given is not None:
        return given
    if source.separator != ";":
        return "."
    for column in frame.columns:
        values = frame[column].dropna()
        text = values[values.map(lambda v: isinstance(v, str))]
        if len(text) and text.str.match(_COMMA_NUMBER.pattern).any():
            return ","
    return "."


def _to_numbers(values: pd.Series, decimal: str) -> pd.Series | None:
    """The column as numbers if every present cell is a number, else None."""
    present = values.dropna()
    if len(present) == 0:
        return None
    if not all(isinstance(v, str) for v in present):
        if all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in present
        ):
            return pd.to_numeric(values)
        return None
    text = present.astype(str)
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    if not text.str.match(_NUMBER.pattern).all():
        return None
    numbers = pd.to_numeric(text)
    out = pd.Series(np.nan, index=values.index, dtype=np.float64)
    out.loc[numbers.index] = numbers.to_numpy(dtype=np.float64)
    if bool((out.dropna() == np.floor(out.dropna())).all()) and out.notna().all():
        return out.astype(np.int64)
    return out


# ------------------------------------------------------------------------------------------------
# Dates
# ------------------------------------------------------------------------------------------------


def _rows_text(frame: pd.DataFrame, labels: Any, column: str, word: str) -> str:
    shown = "; ".join(
        f"{word} {label} ({column}={frame.at[label, column]!r})"
        for label in list(labels)[:MAX_SHOWN]
    )
    noun = "row" if len(labels) == 1 else "rows"
    more = "; ..." if len(labels) > MAX_SHOWN else ""
    return f"{len(labels)} {noun}, first: {shown}{more}"


def _parse_dates(
    frame: pd.DataFrame, column: str, flag: str, args: argparse.Namespace, word: str
) -> pd.Series | None:
    """The column as datetimes when it holds dates, else None (numbers, other text)."""
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            return values.dt.tz_convert("UTC").dt.tz_localize(None)
        return values
    present = values.dropna()
    if len(present) == 0:
        return None
    if not all(isinstance(v, str) for v in present):
        stamps = [v for v in present if isinstance(v, (pd.Timestamp, np.datetime64))]
        if len(stamps) == 0:
            return None
        present = present.map(lambda v: v.isoformat() if isinstance(v, pd.Timestamp) else str(v))
    text = present.astype(str)
    formats = f"; pass {flag} with --date-format (e.g. '%d/%m/%Y') or --dayfirst"
    if args.date_format:
        parsed = pd.to_datetime(text, format=args.date_format, errors="coerce")
        bad = parsed.index[parsed.isna()]
        if len(bad):
            raise InvalidValueError(
                f"Column {column!r} (given as {flag}) has values that do not match "
                f"--date-format {args.date_format!r}; {_rows_text(frame, bad, column, word)}. "
                "Suggestion: correct these values or the format."
            )
        return _reindexed(parsed, values)
    iso = text.str.match(_ISO.pattern)
    numeric = text.str.match(_NUMERIC_DATE.pattern)
    if not (iso | numeric).any():
        if _number_like(text):
            return None
        sample = pd.Series(pd.unique(text))[:200]
        guessed = pd.to_datetime(sample, errors="coerce", format="mixed")
        if guessed.notna().mean() >= 0.5 and sample.str.contains(r"\d").all():
            from pandas.tseries.api import guess_datetime_format

            example = text.iloc[0]
            found = guess_datetime_format(example)
            hint = f"--date-format {found!r}" if found else "--date-format FORMAT"
            raise InvalidValueError(
                f"Column {column!r} (given as {flag}) holds dates written like {example!r}, "
                f"which are not read without a format. Suggestion: pass {hint}."
            )
        return None
    if iso.all():
        has_zone = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True) & text.str.contains(
            r"[T ]", regex=True
        )
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=bool(has_zone.any()))
        if has_zone.any():
            parsed = parsed.dt.tz_localize(None)
        bad = parsed.index[parsed.isna()]
        if len(bad):
            raise InvalidValueError(
                f"Column {column!r} (given as {flag}) has dates that do not exist; "
                f"{_rows_text(frame, bad, column, word)}. Suggestion: correct these values."
            )
        return _reindexed(parsed, values)
    if float((iso | numeric).mean()) < 0.5:
        return None
    other = text.index[~(iso | numeric)] if not iso.any() else text.index[~iso]
    if len(other):
        what = "ISO dates (YYYY-MM-DD)" if iso.any() else "dates like 31/01/2024"
        raise InvalidValueError(
            f"Column {column!r} (given as {flag}) holds {what}, but some values are not dates "
            f"of that form; {_rows_text(frame, other, column, word)}. Suggestion: correct or "
            f"empty these values{formats} if they are dates in another format."
        )
    parts = text.str.extract(_NUMERIC_DATE.pattern)
    first, second = parts[0].astype(int), parts[2].astype(int)
    year = parts[3].astype(int)
    year = year.where(year >= 100, year + 2000)
    clock = parts[4].fillna("00:00").str.replace(r"^(\d):", r"0\1:", regex=True)
    clock = clock.where(clock.str.count(":") == 2, clock + ":00")

    def build(day: pd.Series, month: pd.Series) -> pd.Series:
        stamp = (
            year.astype(str).str.zfill(4)
            + "-"
            + month.astype(str).str.zfill(2)
            + "-"
            + day.astype(str).str.zfill(2)
            + " "
            + clock
        )
        return pd.to_datetime(stamp, format="%Y-%m-%d %H:%M:%S", errors="coerce")

    day_first = build(first, second)
    month_first = build(second, first)
    separator = parts[1].iloc[0]
    year_code = "%Y" if parts[3].str.len().iloc[0] == 4 else "%y"
    if args.dayfirst:
        bad = day_first.index[day_first.isna()]
        if len(bad):
            raise InvalidValueError(
                f"Column {column!r} (given as {flag}) has dates that are not valid day first "
                f"(--dayfirst); {_rows_text(frame, bad, column, word)}. Suggestion: correct "
                f"them, or pass --date-format '%m{separator}%d{separator}{year_code}' if the "
                "dates are month first."
            )
        return _reindexed(day_first, values)
    day_ok, month_ok = bool(day_first.notna().all()), bool(month_first.notna().all())
    if day_ok and month_ok and not bool((day_first == month_first).all()):
        ambiguous = text.index[(day_first != month_first)]
        shown_date = frame.at[ambiguous[0], column]
        raise InvalidValueError(
            f"Column {column!r} (given as {flag}) has dates that read both day first and month "
            f"first (e.g. {shown_date!r} at {word} {ambiguous[0]}; {len(ambiguous)} such rows). "
            f"Suggestion: pass --dayfirst if {shown_date!r} is day/month/year, or --date-format "
            f"'%m{separator}%d{separator}{year_code}' if it is month/day/year."
        )
    if day_ok:
        return _reindexed(day_first, values)
    if month_ok:
        return _reindexed(month_first, values)
    bad = text.index[day_first.isna() & month_first.isna()]
    if not len(bad):
        bad = text.index[day_first.isna()]
    raise InvalidValueError(
        f"Column {column!r} (given as {flag}) has dates that are neither day first nor month "
        f"first, or mixes both; {_rows_text(frame, bad, column, word)}. Suggestion: correct "
        f"these values, or pass --date-format '%d{separator}%m{separator}{year_code}' "
        "(or the right format)."
    )


def _number_like(text: pd.Series) -> bool:
    return bool(text.str.match(_NUMBER.pattern).all())


def _reindexed(parsed: pd.Series, values: pd.Series) -> pd.Series:
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    out.loc[parsed.index] = parsed.to_numpy(dtype="datetime64[ns]")
    return out


# ------------------------------------------------------------------------------------------------
# Attendance and date-derived sessions
# ------------------------------------------------------------------------------------------------


def _codes(text: str) -> list[str]:
    return [c.strip().lower() for c in text.split(",") if c.strip()]


def _map_attendance(
    frame: pd.DataFrame, column: str, args: argparse.Namespace, word: str
) -> pd.Series:
    mapping: dict[str, str] = {}
    for flag, status, given in (
        ("--attended", "attended", args.attended),
        ("--missed", "dna", args.missed),
        ("--cancelled", "cancelled", args.cancelled),
    ):
        for code in _codes(given):
            if code in mapping and mapping[code] != status:
                raise _fail(
                    f"attendance code {code!r} is given to two flags ({flag} and another); "
                    "give each code to one of --attended, --missed, --cancelled."
                )
            mapping[code] = status
    values = frame[column]
    text = values.map(
        lambda v: (
            None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip().lower()
        )
    )
    text = text.where(text != "", None)
    unknown = text.notna() & ~text.isin(list(mapping))
    if unknown.any():
        codes = pd.unique(text[unknown])
        rows = text.index[unknown]
        raise InvalidValueError(
            f"Column {column!r} (given as --attendance) has codes that are not mapped: "
            f"{', '.join(repr(c) for c in codes[:10])}{', ...' if len(codes) > 10 else ''} "
            f"({len(rows)} rows, first at {word} {', '.join(str(r) for r in rows[:MAX_SHOWN])}). "
            "Suggestion: map every code with --attended, --missed and --cancelled, e.g. "
            "--attended yes,attended --missed no,dna --cancelled cancelled (now: --attended "
            f"{args.attended!r} --missed {args.missed!r} --cancelled {args.cancelled!r})."
        )
    return text.map(lambda v: mapping.get(v) if v is not None else None).astype(object)


def _derive_sessions(
    frame: pd.DataFrame,
    patient: str,
    dates: pd.Series,
    status: pd.Series | None,
    time_column: str,
    word: str,
) -> pd.Series:
    """Session numbers from dates: attended sessions 1, 2, ...; missed ones in between."""
    missing = dates.index[dates.isna()]
    if len(missing):
        raise InvalidValueError(
            f"Column {time_column!r} (given as --time) has missing dates; "
            f"{_rows_text(frame, missing, time_column, word)}. Suggestion: fill or drop these "
            "rows."
        )
    key = pd.DataFrame(
        {"patient": frame[patient].to_numpy(dtype=object), "date": dates.to_numpy()},
        index=frame.index,
    )
    duplicated = key.duplicated(keep=False)
    if duplicated.any():
        rows = key.index[duplicated]
        shown = "; ".join(
            f"{word} {r} ({patient}={frame.at[r, patient]!r}, {time_column}="
            f"{frame.at[r, time_column]!r})"
            for r in rows[:MAX_SHOWN]
        )
        raise DuplicateRowsError(
            f"Columns {patient!r} (--patient) and {time_column!r} (--time) must identify one row "
            f"per patient and session, but {int(duplicated.sum())} rows share a patient and "
            f"date, first: {shown}. Suggestion: remove the duplicates, or give session numbers "
            "with --time and the dates with --date."
        )
    attended = (
        np.ones(len(frame), dtype=bool)
        if status is None
        else ~status.isin(["dna", "cancelled"]).to_numpy()
    )
    key["attended"] = attended
    key["_row"] = np.arange(len(frame))
    try:
        ordered = key.sort_values(["patient", "date"], kind="stable")
    except TypeError:  # ids of mixed types: order patients by text
        ordered = key.assign(_p=key["patient"].astype(str)).sort_values(["_p", "date"])
    numbers = np.full(len(frame), np.nan)
    for _, group in ordered.groupby("patient", sort=False):
        count = 0
        pending: list[int] = []
        for row, was in zip(group["_row"].to_numpy(), group["attended"].to_numpy(), strict=True):
            if was:
                _fill_between(numbers, pending, count)
                pending = []
                count += 1
                numbers[row] = count
            else:
                pending.append(int(row))
        _fill_between(numbers, pending, count)
    out = pd.Series(numbers, index=frame.index)
    if bool((out == np.floor(out)).all()):
        return out.astype(np.int64)
    return out


def _fill_between(numbers: np.ndarray, rows: list[int], count: int) -> None:
    for j, row in enumerate(rows, start=1):
        numbers[row] = round(count + j / (len(rows) + 1), 2)


# ------------------------------------------------------------------------------------------------
# Preparing the data and the options
# ------------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    data: pd.DataFrame
    medications: pd.DataFrame | None
    options: dict[str, Any]
    source: Source
    time: str
    dates: pd.Series | None = None  # the dates of date-derived sessions, by row
    date_column: str | None = None
    #: rows of the file left out before the screen, as {"rows": n, "reason": why}
    excluded: list[dict[str, Any]] = field(default_factory=list)


def _secondary(text: str) -> dict[str, str | None]:
    pairs: dict[str, str | None] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        column, _, instrument = part.partition("=")
        pairs[column.strip()] = instrument.strip() or None
    return pairs


def _check_column(frame: pd.DataFrame, column: str, flag: str, source: Source) -> None:
    if column in frame.columns:
        return
    import difflib

    available = [str(c) for c in frame.columns]
    close = difflib.get_close_matches(column, available, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    shown = ", ".join(map(repr, available[:20])) + (", ..." if len(available) > 20 else "")
    raise ColumnNotFoundError(
        f"Column {column!r} (given as {flag}) is not in {source.describe()}. Available "
        f"columns: {shown}.{hint} Suggestion: pass {flag} <your column name>."
    )


def _from_wide(
    frame: pd.DataFrame, args: argparse.Namespace, score: str
) -> tuple[pd.DataFrame, int]:
    """The long table of a wide file, and the number of empty trailing cells left out."""
    try:
        from .io.wide import from_wide  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - depends on the wide-data module being present
        raise _fail("--wide needs ia.from_wide, not in this version.") from None
    try:
        re.compile(args.wide)
    except re.error as error:
        raise _fail(f"--wide {args.wide!r} is not a regular expression: {error}.") from None
    long = from_wide(frame, patient=args.patient, pattern=args.wide, time=args.time, score=score)
    # Empty cells after a patient's last score are the width of the table, not sessions (they
    # would count as treatment received); a patient without any score keeps one row.
    scored = long[score].notna().to_numpy()
    patients = long[args.patient].to_numpy(dtype=object)
    reverse_seen = pd.Series(scored[::-1]).groupby(patients[::-1], sort=False).cummax()
    keep = reverse_seen.to_numpy()[::-1].astype(bool)
    first = ~pd.Series(patients).duplicated().to_numpy()
    no_score = ~pd.Series(scored).groupby(patients, sort=False).transform("any").to_numpy()
    kept = long.loc[keep | (first & no_score)].reset_index(drop=True)
    return kept, len(long) - len(kept)


def _load(args: argparse.Namespace) -> Prepared:
    """The data (converted), the medication table and the keyword arguments of the screen."""
    from . import datasets

    options: dict[str, Any] = {}
    medications = None
    if args.example:
        data = datasets.load_example()
        medications = datasets.load_example_medications()
        options.update(datasets.screen_options())
        source = Source(None, kind="example", row_word="row")
    else:
        data, source = _read_file(args.file, args)
        options["score"] = "score"
    if args.score:
        options["score"] = args.score
    if args.instrument:
        options["instrument"] = args.instrument
    options.update({k: getattr(args, k) for k in COLUMN_OPTIONS if getattr(args, k)})
    if args.items:
        options["items"] = [c.strip() for c in args.items.split(",") if c.strip()]
    if args.secondary:
        options["secondary"] = _secondary(args.secondary)
    if args.medications:
        medications, _ = _read_file(args.medications, args)
        medications = medications.apply(lambda c: _clean_text(c, keep_na_words=False))
        for column in medications.columns:
            if column != "patient":
                numbers = _to_numbers(medications[column], ".")
                if numbers is not None:
                    medications[column] = numbers
        medications = medications.reset_index(drop=True)
    prepared = Prepared(data, medications, options, source, time=args.time)
    if not args.example:
        _convert(prepared, args)
    return prepared


def _convert(prepared: Prepared, args: argparse.Namespace) -> None:
    """Turn the cells of a user's file into ids, numbers, dates and attendance statuses."""
    data, source, options = prepared.data, prepared.source, prepared.options
    word = source.row_word
    _check_column(data, args.patient, "--patient", source)
    data[args.patient] = pd.Series(
        [_id_text(v) for v in _clean_text(data[args.patient], keep_na_words=True)],
        index=data.index,
        dtype=object,
    )
    decimal = _decimal(data, source, args.decimal)
    source.decimal = decimal
    for column in data.columns:
        if column == args.patient:
            continue
        values = data[column]
        if values.dtype == object:
            values = _clean_text(values, keep_na_words=False)
        numbers = _to_numbers(values, decimal)
        data[column] = numbers if numbers is not None else values
    if args.wide:
        data, dropped = _from_wide(data, args, options["score"])
        if dropped:
            prepared.excluded.append({
                "rows": dropped,
                "reason": "empty score cells after a patient's last score in the wide file "
                "(the width of the table, not sessions)",
            })
        data.index = pd.RangeIndex(1, len(data) + 1)
        source.row_word = word = "row of the long table"
    _check_column(data, args.time, "--time", source)
    _check_column(data, options["score"], "--score", source)
    for column in options.get("items", []):
        _check_column(data, column, "--items", source)
    for column in options.get("secondary", {}):
        _check_column(data, column, "--secondary", source)
    for keyword in COLUMN_OPTIONS:
        if options.get(keyword) is not None:
            _check_column(data, options[keyword], FLAGS[keyword], source)
    date_column = options.get("date")
    parsed_time = _parse_dates(data, args.time, "--time", args, word)
    if date_column is not None and date_column != args.time:
        parsed_date = _parse_dates(data, date_column, "--date", args, word)
        if parsed_date is not None:
            data[date_column] = parsed_date
    status = None
    if options.get("attendance") is not None:
        status = _map_attendance(data, options["attendance"], args, word)
        data[options["attendance"]] = status
    if parsed_time is not None:
        derived = _derived_name(data)
        data[derived] = _derive_sessions(data, args.patient, parsed_time, status, args.time, word)
        data[args.time] = parsed_time
        if date_column is None or date_column == args.time:
            options["date"] = args.time
        prepared.time = derived
        prepared.dates = parsed_time
        source.notes.append(
            f"Sessions numbered from the dates in {args.time!r}: attended sessions 1, 2, ... in "
            "date order; missed or cancelled appointments in between (k.5)."
        )
    prepared.data = data


def _derived_name(data: pd.DataFrame) -> str:
    name = "session"
    while name in data.columns:
        name = "_" + name
    return name


def _detectors(args: argparse.Namespace) -> list[Any]:
    import inspect

    from .core.expected_response import ExpectedResponseModel
    from .detectors.registry import get_detector, registered_names

    names = (
        list(registered_names())
        if args.detectors.strip() == "all"
        else [n.strip() for n in args.detectors.split(",") if n.strip()]
    )
    model = None
    if args.reference_model is not None:
        path: Path = args.reference_model
        _check_path(path)
        try:
            model = ExpectedResponseModel.from_json(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, IatrogenicError) as error:
            raise _fail(
                f"{path} (given as --reference-model) is not a model written by "
                f"model.to_json(): {error}"
            ) from None
    detectors = []
    for name in names:
        if name not in registered_names():
            detectors.append(get_detector(name))  # the library's error, with the known names
            continue
        detector = get_detector(name)
        accepted = inspect.signature(type(detector).__init__).parameters
        params: dict[str, Any] = {}
        if args.reliability is not None and "reliability" in accepted:
            params["reliability"] = args.reliability
        if args.sd is not None and "sd" in accepted:
            params["sd"] = args.sd
        if model is not None and "model" in accepted:
            params["model"] = model
        detectors.append(get_detector(name, **params) if params else detector)
    return detectors


# ------------------------------------------------------------------------------------------------
# The report
# ------------------------------------------------------------------------------------------------


def _change_section(change: pd.DataFrame | str) -> list[str]:
    """The reliable-change part of the report (or why it could not be computed)."""
    from .core.summary import change_summary

    if isinstance(change, str):
        return ["", f"Reliable change from first to last score: not computed ({change})"]
    evaluated = int(change["reason"].isna().sum())
    lines = [f"  {evaluated} patients with a pre and a post score"]
    for reason, count in change["reason"].dropna().value_counts().sort_index().items():
        lines.append(f"  not evaluated: {count} patients ({reason})")
    method = change.attrs.get("method", "")
    cutoff = change.attrs.get("cutoff")
    with_cutoff = f", clinical cut-off {cutoff:g}" if cutoff is not None else ""
    lines.append("")
    lines.append(f"Reliable change from first to last score ({method}{with_cutoff}):")
    summary = change_summary(change)
    for category, n, percent in summary[["category", "n", "percent"]].itertuples(index=False):
        lines.append(f"  {category!s:<14}{int(n):>7}  {100 * float(percent):5.1f}%")
    return lines


#: Counts from 1 to SUPPRESS - 1 are blanked in therapists.csv (see ia.suppress_counts).
SUPPRESS = 5


@dataclass
class Providers:
    """The therapist outputs of ``--therapist`` (or why they could not be computed)."""

    column: str
    table: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    problem: str | None = None


def _providers(
    data: pd.DataFrame, column: str, common: dict[str, Any], args: argparse.Namespace,
    order: str | None,
) -> Providers:
    """``ia.therapist_outcomes`` (suppressed) and ``ia.screen_providers`` for the report."""
    from .providers.screen import screen_providers
    from .providers.therapists import suppress_counts

    options: dict[str, Any] = {"therapist": column, **common}
    if args.reliability is not None:
        options["reliability"] = args.reliability
    if args.sd is not None:
        options["sd"] = args.sd
    try:
        result = screen_providers(data, order=order, summary=True, **options)
        events, table = cast("tuple[pd.DataFrame, pd.DataFrame]", result)
    except IatrogenicError as error:  # the patient screen ran; say why this part could not
        return Providers(column, problem=_translate(" ".join(str(error).split())))
    extra = ["worst_level", "n_alarms", "n_warnings", "cusum_signals"]
    published = suppress_counts(table.drop(columns=extra), threshold=SUPPRESS)
    published.attrs.update(table.attrs)
    return Providers(column, table=published, events=events)


def _provider_section(providers: Providers) -> list[str]:
    """The therapist part of the report: numbers of therapists, outliers and CUSUM signals."""
    lines = ["", f"Therapists (--therapist {providers.column}), reliable deterioration against "
             "case mix (intake severity):"]
    if providers.table is None or providers.events is None:
        return [*lines, f"  not computed ({providers.problem})"]
    table, events = providers.table, providers.events
    on_funnel = int(table["reason"].isna().sum())
    lines.append(
        f"  {len(table)} therapists, {on_funnel} on the funnel (at least "
        f"{table.attrs.get('min_patients')} scored patients)"
    )
    outlier = table["outlier"].value_counts()
    funnel = events[events["detector"] == "provider_funnel"]
    warnings = int((funnel["level"] == "warning").sum())
    lines.append(
        f"  funnel outliers at 99.8%: {int(outlier.get('high', 0))} high, "
        f"{int(outlier.get('low', 0))} low; above the 95% limit only: {warnings}"
    )
    cusum = events[events["detector"] == "provider_cusum"]
    arl = events.attrs.get("arl")
    tuned = f", in-control ARL {arl:g} patients" if arl is not None else ""
    lines.append(
        f"  CUSUM signals: {len(cusum)} ({cusum['therapist'].nunique()} therapists; odds ratio "
        f"{events.attrs.get('odds_ratio'):g} against 1, h = {events.attrs.get('cusum_limit'):.2f}"
        f"{tuned})"
    )
    alarmed = pd.unique(events.loc[events["level"] == "alarm", "therapist"])
    if len(alarmed):
        lines.append("  therapists with alarms: " + ", ".join(str(t) for t in alarmed))
    lines.append(
        f"  therapists.csv: counts from 1 to {SUPPRESS - 1} suppressed "
        f"({int(table['suppressed'].sum())} therapists); events in provider_events.csv"
    )
    return lines


def _report(
    data: pd.DataFrame,
    change: pd.DataFrame | str,
    events: pd.DataFrame,
    patients: pd.DataFrame,
    source: Source,
    providers: Providers | None = None,
) -> str:
    lines = [f"iatrogenic {__version__} screen of {source.describe()}"]
    if source.kind == "csv":
        separator = {"\t": "tab"}.get(source.separator or ",", source.separator)
        lines.append(
            f"read as CSV: encoding {source.encoding}, separator {separator!r}, decimal "
            f"{source.decimal!r}"
        )
    lines.extend(source.notes)
    lines.append(f"{len(data)} rows, {len(patients)} patients")
    lines.extend(_change_section(change))
    lines.append("")
    lines.append("Events by detector:")
    if len(events):
        counts = events.groupby(["detector", "level"]).size().unstack(fill_value=0)
        for detector, per_level in counts.iterrows():
            parts = ", ".join(f"{int(n)} {level}" for level, n in per_level.items() if n)
            n_flagged = events.loc[events["detector"] == detector, "patient"].nunique()
            lines.append(f"  {detector:<24}{parts} ({n_flagged} patients)")
    else:
        lines.append("  none")
    lines.append("")
    lines.append("Patients by worst level:")
    levels = patients["worst_level"].value_counts()
    for level in ("alarm", "warning", "none"):
        lines.append(f"  {level:<14}{int(levels.get(level, 0)):>7}")
    flagged = patients[patients["worst_level"] != "none"]
    if len(flagged):
        harms = flagged["harms"].str.split(", ").explode().value_counts()
        harms = harms.sort_index().sort_values(ascending=False, kind="stable")
        lines.append("Patients by harm seen:")
        lines.extend(f"  {harm:<24}{int(n):>7}" for harm, n in harms.items())
    alarmed = patients[patients["worst_level"] == "alarm"]
    if len(alarmed):
        shown = alarmed.sort_values("n_alarms", ascending=False, kind="stable").head(10)
        lines.append("")
        lines.append(
            f"Patients with the most alarms (first 10 of {len(alarmed)}; all in patients.csv):"
        )
        lines.append(f"  {'patient':<12}{'alarms':>7}  {'first alarm':>11}  harms")
        columns = ["patient", "n_alarms", "first_alarm_session", "harms"]
        lines.extend(
            f"  {patient!s:<12}{n_alarms!s:>7}  {_session_text(first):>11}  {harms}"
            for patient, n_alarms, first, harms in shown[columns].itertuples(index=False)
        )
    if providers is not None:
        lines.extend(_provider_section(providers))
    skipped = events.attrs.get("skipped", [])
    if skipped:
        lines.append("")
        lines.append("Skipped detectors:")
        lines.extend(f"  {s['detector']:<24}{_translate(s['reason'])}" for s in skipped)
    return "\n".join(lines)


def _session_text(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else str(value)
    return str(value)


def _session_column(values: pd.Series) -> pd.Series:
    """Sessions as they read in the CSV outputs: 3 not 3.0, 2024-01-08 not a timestamp."""
    return values.map(
        lambda v: v if v is None or (isinstance(v, float) and np.isnan(v)) else _session_text(v)
    ).astype(object)


# ------------------------------------------------------------------------------------------------
# The command
# ------------------------------------------------------------------------------------------------


def _screen_dask(args: argparse.Namespace) -> int:
    from .dask.cli import screen_parquet

    if args.file is None:
        raise _fail(
            "--engine dask screens a parquet data set: pass FILE (a parquet file, a directory "
            "or a quoted glob such as \"visits/*.parquet\") instead of --example."
        )
    if args.wide or args.medications:
        flag = "--wide" if args.wide else "--medications"
        raise _fail(f"{flag} is not available with --engine dask; leave it out, or use "
                    "--engine pandas.")
    options: dict[str, Any] = {
        "patient": args.patient, "time": args.time, "score": args.score or "score",
    }
    if args.instrument:
        options["instrument"] = args.instrument
    if args.better:
        options["better"] = args.better
    options.update({key: getattr(args, key) for key in COLUMN_OPTIONS if getattr(args, key)})
    if args.items:
        options["items"] = [column.strip() for column in args.items.split(",") if column.strip()]
    if args.secondary:
        options["secondary"] = _secondary(args.secondary)
    if args.detectors != "all":
        options["detectors"] = [name.strip() for name in args.detectors.split(",")
                                if name.strip()]
    result = screen_parquet(str(args.file), out=args.out, scheduler=args.scheduler,
                            progress=args.progress, **options)
    print(result.summary, end="")
    return 0


def _screen(args: argparse.Namespace) -> int:
    from . import instruments
    from .core.reliable_change import reliable_change
    from .screen import screen

    if args.engine == "dask":
        return _screen_dask(args)
    if args.output_format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise _fail(
                "--output-format parquet needs the optional package pyarrow: pip install "
                "'iatrogenic[parquet]' (or leave the flag out for CSV)."
            ) from None
    if args.scheduler is not None:
        raise _fail("--scheduler needs --engine dask.")
    if args.max_patients < 0:
        raise _fail(f"--max-patients must be 0 or more; got {args.max_patients}.")
    prepared = _load(args)
    data, medications, options = prepared.data, prepared.medications, prepared.options
    instrument = options.get("instrument")
    common: dict[str, Any] = {
        "patient": args.patient,
        "time": prepared.time,
        "score": options.pop("score"),
        "instrument": options.pop("instrument", None),
        "better": args.better,
    }
    if not args.example:
        _remember_rows(data, args.patient, prepared.time)
    detectors = _detectors(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IatrogenicWarning)
        events, patients = screen(
            data,
            detectors=detectors,
            medications=medications,
            summary=True,
            progress=args.progress,
            **common,
            **options,
        )
    screen_warnings = _show_warnings(caught)
    inst = instruments.get(instrument) if instrument else None
    cutoff: float | Literal["caseness"] | None = (
        "caseness" if inst is not None and inst.caseness is not None else None
    )
    if args.cutoff is not None:
        cutoff = args.cutoff
    change_options: dict[str, Any] = {"cutoff": cutoff}
    if args.reliability is not None:
        change_options["reliability"] = args.reliability
    if args.sd is not None:
        change_options["sd"] = args.sd
    try:
        change: pd.DataFrame | str = reliable_change(data, **common, **change_options)
    except IatrogenicError as error:  # the screen ran; say why this section could not
        change = _translate(" ".join(str(error).split()))

    providers = None
    if args.therapist is not None:
        date = options.get("date")
        dated = date is not None and pd.api.types.is_datetime64_any_dtype(data[date].dtype)
        providers = _providers(data, args.therapist, common, args, date if dated else None)

    report = _report(data, change, events, patients, prepared.source, providers)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    screened = events  # sessions as the screen gives them, for the HTML report's plots
    events = events.assign(session=_session_column(events["session"]))
    if prepared.dates is not None:
        events = _with_dates(events, data, args.patient, prepared.time, prepared.dates)
    patients = patients.assign(
        first_alarm_session=_session_column(patients["first_alarm_session"]),
        first_event_session=_session_column(patients["first_event_session"]),
    )
    suffix = "." + args.output_format
    outputs = {"events" + suffix: events, "patients" + suffix: patients}
    if isinstance(change, pd.DataFrame):
        outputs["reliable_change" + suffix] = change
    if providers is not None and providers.table is not None and providers.events is not None:
        outputs["therapists" + suffix] = providers.table
        outputs["provider_events" + suffix] = providers.events.assign(
            session=_session_column(providers.events["session"])
        )
    for name, table in outputs.items():
        if args.output_format == "parquet":
            table.to_parquet(out / name, index=False)
        else:
            table.to_csv(out / name, index=False)
    (out / "report.txt").write_text(report + "\n", encoding="utf-8")
    # last, so that the tables are written even if the page cannot be
    html_problem = _write_html(
        out / "report.html", args, prepared, screened, change, providers, screen_warnings,
        model=_reference_model(detectors, screened), common=common, date=options.get("date"),
    )
    written = [*outputs, "report.txt"]
    print(_summary(data, patients, events, prepared.source, providers, out, written,
                   html_problem, color=_use_color(sys.stdout)))
    return 0


def _show_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Print the library's warnings as one line each, in the command line's words; return
    them for the report's data problems."""
    messages = []
    for warning in caught:
        if issubclass(warning.category, IatrogenicWarning):
            message = _translate(" ".join(str(warning.message).split()))
            if message not in messages:
                messages.append(message)
                print(f"iatrogenic: warning: {message}", file=sys.stderr)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename,
                                 warning.lineno)
    return messages


def _reference_model(detectors: list[Any], events: pd.DataFrame) -> Any:
    """The expected-response model off_track used, for the course plots of the report."""
    from .detectors.off_track import OffTrack

    for detector in detectors:
        if isinstance(detector, OffTrack) and detector.name in events.attrs.get("detectors", []):
            return detector.resolved_model()
    return None


def _write_html(
    path: Path,
    args: argparse.Namespace,
    prepared: Prepared,
    events: pd.DataFrame,
    change: pd.DataFrame | str,
    providers: Providers | None,
    screen_warnings: list[str],
    *,
    model: Any,
    common: dict[str, Any],
    date: str | None,
) -> str | None:
    """Write report.html; return None, or why it could not be written (a missing extra)."""
    try:
        import matplotlib

        from .report import html_report
    except ImportError:
        return "needs the report extra: pip install 'iatrogenic[report]'"
    matplotlib.use("Agg")  # the command draws into files only, never on screen
    problems = {p["message"] for p in events.attrs.get("data_problems", [])}
    try:
        page = html_report(
            events,
            prepared.data,
            patient=common["patient"],
            time=common["time"],
            score=common["score"],
            instrument=common["instrument"],
            date=date,
            change=change,
            model=model,
            therapists=None if providers is None else providers.table,
            provider_events=None if providers is None else providers.events,
            therapist_problem=None if providers is None else providers.problem,
            source=prepared.source.describe(),
            notes=_read_notes(prepared.source),
            excluded=prepared.excluded,
            warnings=[w for w in screen_warnings if w not in problems],
            max_patients=args.max_patients,
        )
    except ImportError as error:
        return f"needs the report extra ({error})"
    path.write_text(page, encoding="utf-8")
    return None


def _read_notes(source: Source) -> list[str]:
    notes = []
    if source.kind == "csv":
        separator = {"\t": "tab"}.get(source.separator or ",", source.separator)
        notes.append(
            f"Read as CSV: encoding {source.encoding}, separator {separator!r}, decimal "
            f"{source.decimal!r}."
        )
    return [*notes, *source.notes]


#: ANSI styles of the summary, used only on a terminal without NO_COLOR.
_STYLES = {"alarm": "\033[1;31m", "warning": "\033[1;33m", "bold": "\033[1m", "path": "\033[4m"}
_RESET = "\033[0m"


def _wrapped(label: str, items: list[str], width: int = 100) -> list[str]:
    """``label`` and the comma-separated items on lines of at most ``width`` characters,
    never splitting an item."""
    lines = ["  " + label]
    for k, item in enumerate(items):
        text = item + ("," if k < len(items) - 1 else "")
        if len(lines[-1]) + 1 + len(text) > width and lines[-1].strip() != label.strip():
            lines.append("    " + text)
        else:
            lines[-1] += ("" if lines[-1].endswith(" ") else " ") + text
    return lines


def _use_color(stream: Any) -> bool:
    """Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def _summary(
    data: pd.DataFrame,
    patients: pd.DataFrame,
    events: pd.DataFrame,
    source: Source,
    providers: Providers | None,
    out: Path,
    written: list[str],
    html_problem: str | None,
    *,
    color: bool,
) -> str:
    """The few lines printed at the end: patients flagged, harms, where the report is."""

    def style(text: str, name: str) -> str:
        return f"{_STYLES[name]}{text}{_RESET}" if color else text

    levels = patients["worst_level"].value_counts()
    n_alarm, n_warning = int(levels.get("alarm", 0)), int(levels.get("warning", 0))
    lines = [
        style(f"iatrogenic {__version__} screen of {source.describe()}", "bold")
        + f": {len(patients)} patients, {len(data)} rows",
        "  " + style(f"ALARM   {n_alarm} patients", "alarm") + " with an alarm",
        "  " + style(f"WARNING {n_warning} patients", "warning") + " with warnings only",
        f"  none    {len(patients) - n_alarm - n_warning} patients without events",
    ]
    if len(events):
        harms = events.groupby("harm")["patient"].nunique()
        harms = harms.sort_index().sort_values(ascending=False, kind="stable")
        lines.extend(_wrapped("patients by harm: ", [f"{h} {n}" for h, n in harms.items()]))
    skipped = events.attrs.get("skipped", [])
    if skipped:
        lines.extend(_wrapped(f"{len(skipped)} detectors skipped (why: report.txt): ",
                              [s["detector"] for s in skipped]))
    if providers is not None and providers.events is not None:
        alarmed = pd.unique(providers.events.loc[providers.events["level"] == "alarm",
                                                 "therapist"])
        lines.append(f"  therapists with alarms: {len(alarmed)}"
                     + (" (" + ", ".join(map(str, alarmed)) + ")" if len(alarmed) else ""))
    if html_problem is None:
        lines.append("Report: " + style(str(out / "report.html"), "path"))
    else:
        lines.append(f"report.html not written: it {html_problem}")
    lines.append("Also wrote: " + ", ".join(str(out / name) for name in written))
    return "\n".join(lines)


def _with_dates(
    events: pd.DataFrame, data: pd.DataFrame, patient: str, time: str, dates: pd.Series
) -> pd.DataFrame:
    """Add the date of each event's (date-derived) session to the events table."""
    lookup = pd.DataFrame(
        {
            "patient": data[patient].to_numpy(dtype=object),
            "session": _session_column(data[time]).to_numpy(dtype=object),
            "date": _session_column(dates.astype(object)).to_numpy(dtype=object),
        }
    )
    merged = events.merge(lookup, on=["patient", "session"], how="left")
    return merged


_KEYWORD = "|".join(sorted(map(re.escape, FLAGS), key=len, reverse=True))
_TRANSLATIONS: list[tuple[re.Pattern[str], Any]] = [
    # "(given as patient=)" -> "(given as --patient)"; items[0]= and secondary['x']= too
    (re.compile(rf"\bgiven as ({_KEYWORD})(?:\[[^\]]*\])?="), lambda m: f"given as {FLAGS[m[1]]}"),
    # "pass patient='<your column name>'" -> "pass --patient <your column name>"
    (
        re.compile(rf"\bpass ({_KEYWORD})='([^']*)'"),
        lambda m: f"pass {FLAGS[m[1]]} {m[2]}",
    ),
    (re.compile(rf"\(pass ({_KEYWORD})=\)"), lambda m: f"(pass {FLAGS[m[1]]})"),
    (
        re.compile(rf"\bpass ({_KEYWORD})= or ({_KEYWORD})="),
        lambda m: f"pass {FLAGS[m[1]]} or {FLAGS[m[2]]}",
    ),
    # "reliability=<r>" -> "--reliability <r>"; "reliability=0.85" -> "--reliability 0.85"
    (re.compile(rf"\b({_KEYWORD})=(<[^>]*>|\d+(?:\.\d+)?)"), lambda m: f"{FLAGS[m[1]]} {m[2]}"),
    (re.compile(rf"\b({_KEYWORD})=(?=[\s,;)])"), lambda m: FLAGS[m[1]]),
    (
        re.compile(rf"The '({_KEYWORD})' parameter of \w+(?:\.\w+)?\(\)"),
        lambda m: f"The value of {FLAGS[m[1]]}",
    ),
    (
        re.compile(
            r" passed to (?:screen|reliable_change|therapist_outcomes|provider_cusum|"
            r"screen_providers)\(\)"
        ),
        lambda m: "",
    ),
    (re.compile(r"\bindex (-?\d+) \((patient=(.+?), session=(.+?)[,)])?"), lambda m: _row_ref(m)),
    (re.compile(r"Timestamp\('(\d{4}-\d{2}-\d{2}) 00:00:00'\)"), lambda m: m[1]),
    (re.compile(r"Timestamp\('([^']*)'\)"), lambda m: m[1]),
]
#: The word for a row in the current input ("line" of a CSV, "row" of a sheet).
_ROW_WORD = ["line"]
#: (repr of patient, repr of session) -> the row's label in the file, for detector messages,
#: which show rows of the sorted data by position.
_ROWS: dict[tuple[str, str], Any] = {}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _remember_rows(data: pd.DataFrame, patient: str, time: str) -> None:
    _ROWS.clear()
    if len(data) > 2_000_000:  # pragma: no cover - messages then show positions
        return
    ids, times = data[patient].to_numpy(), data[time].to_numpy()
    for label, p, t in zip(data.index, ids, times, strict=True):
        key = (repr(_plain(p)), repr(_plain(t)))
        # a repeated (patient, session) names no single line: the message's own index then does
        _ROWS[key] = None if key in _ROWS else label


def _row_ref(match: re.Match[str]) -> str:
    """``index N (patient=.., session=..`` of an API message as the row's line in the file."""
    rest = match[0][len(f"index {match[1]} (") :]
    if match[2] is not None:
        label = _ROWS.get((match[3], match[4]))
        if label is not None:
            return f"{_ROW_WORD[0]} {label} ({rest}"
    return f"{_ROW_WORD[0]} {match[1]} ({rest}"


def _translate(message: str) -> str:
    """An API message in the command line's words: flags, not keywords; lines, not indexes."""
    for pattern, replacement in _TRANSLATIONS:
        message = pattern.sub(replacement, message)
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``iatrogenic`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    _ROW_WORD[0] = "line"
    _ROWS.clear()
    if args.command == "screen" and args.file is not None:
        suffix = args.file.suffix.lower()
        _ROW_WORD[0] = "row" if suffix in (".xlsx", ".xlsm", ".parquet", ".pq") else "line"
        if args.wide:
            _ROW_WORD[0] = "row of the long table"
    try:
        if args.command == "screen":
            return _screen(args)
    except (IatrogenicError, FileNotFoundError, ValueError, OSError, TypeError) as error:
        message = _translate(" ".join(str(error).split()))
        print(f"iatrogenic: error: {message}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
