"""Command line: ``iatrogenic screen --example``, ``iatrogenic screen FILE.csv --instrument phq9``.

Errors in the user's file or options end in a one-line message on stderr and exit status 2, never
a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from . import __version__
from .exceptions import IatrogenicError

__all__ = ["main"]

#: Column keywords of ``ia.screen`` that the command line takes as ``--keyword COLUMN``.
COLUMN_OPTIONS = ("risk_item", "alliance", "attendance", "date", "therapist", "age", "ending")

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iatrogenic",
        description="Find harm in longitudinal mental-health outcome data.",
    )
    parser.add_argument("--version", action="version", version=f"iatrogenic {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    screen = commands.add_parser(
        "screen",
        help="screen a long-format CSV (one row per patient and session) for harm",
        description="Screen a long-format CSV for harm and write the events table and a report.",
    )
    source = screen.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", type=Path, help="CSV file in long format")
    source.add_argument("--example", action="store_true", help="use the bundled example data")
    screen.add_argument("--instrument", help="instrument of the score column, e.g. phq9")
    screen.add_argument("--patient", default="patient", help="patient id column")
    screen.add_argument("--time", default="session", help="session (occasion) column")
    screen.add_argument("--score", default=None, help="score column (default 'score')")
    screen.add_argument("--better", choices=["lower", "higher"], help="direction of improvement")
    for keyword in COLUMN_OPTIONS:
        screen.add_argument(
            f"--{keyword.replace('_', '-')}",
            dest=keyword,
            metavar="COLUMN",
            help=f"column for {keyword}= of ia.screen",
        )
    screen.add_argument("--items", help="comma-separated item score columns")
    screen.add_argument(
        "--secondary", help="secondary measures as column=instrument pairs, e.g. gad7=gad7,bhs="
    )
    screen.add_argument("--medications", type=Path, help="CSV medication table")
    screen.add_argument(
        "--detectors", default="all", help="comma-separated detector names (default: all)"
    )
    screen.add_argument(
        "--out", type=Path, default=Path("iatrogenic-out"), help="output folder (created)"
    )
    return parser


def _read_csv(path: Path, *, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV; ids stay text (``00012`` is not ``12``); ``;`` or tab separators are found."""
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with path.open(encoding="utf-8-sig") as handle:
            header = handle.readline()
        separator = max([",", ";", "\t"], key=header.count)
        return pd.read_csv(
            path, sep=separator, dtype={c: str for c in text_columns}, encoding="utf-8-sig"
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise ValueError(f"could not read {path} as CSV: {first_line}") from error


def _secondary(text: str) -> dict[str, str | None]:
    pairs: dict[str, str | None] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        column, _, instrument = part.partition("=")
        pairs[column.strip()] = instrument.strip() or None
    return pairs


def _load(
    args: argparse.Namespace,
) -> tuple[pd.DataFrame, pd.DataFrame | None, dict[str, Any]]:
    """The data, the medication table and the keyword arguments of the screen."""
    from . import datasets

    options: dict[str, Any] = {}
    medications = None
    if args.example:
        data = datasets.load_example()
        medications = datasets.load_example_medications()
        options.update(datasets.screen_options())
    else:
        data = _read_csv(args.file, text_columns=(args.patient,))
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
        medications = _read_csv(args.medications, text_columns=("patient",))
    return data, medications, options


def _change_section(change: pd.DataFrame | str) -> list[str]:
    """The reliable-change part of the report (or why it could not be computed)."""
    from .core.summary import change_summary

    if isinstance(change, str):
        return ["", f"Reliable change from first to last score: not computed ({change})"]
    evaluated = int(change["reason"].isna().sum())
    lines = [f"  {evaluated} patients with a pre and a post score"]
    for reason, count in change["reason"].dropna().value_counts().items():
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


def _report(
    data: pd.DataFrame,
    change: pd.DataFrame | str,
    events: pd.DataFrame,
    patients: pd.DataFrame,
    source: str,
) -> str:
    lines = [f"iatrogenic {__version__} screen of {source}"]
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
            f"  {patient!s:<12}{n_alarms!s:>7}  {first!s:>11}  {harms}"
            for patient, n_alarms, first, harms in shown[columns].itertuples(index=False)
        )
    skipped = events.attrs.get("skipped", [])
    if skipped:
        lines.append("")
        lines.append("Skipped detectors:")
        lines.extend(f"  {s['detector']:<24}{s['reason']}" for s in skipped)
    return "\n".join(lines)


def _screen(args: argparse.Namespace) -> int:
    from . import instruments
    from .core.reliable_change import reliable_change
    from .screen import screen

    data, medications, options = _load(args)
    instrument = options.get("instrument")
    common: dict[str, Any] = {
        "patient": args.patient,
        "time": args.time,
        "score": options.pop("score"),
        "instrument": options.pop("instrument", None),
        "better": args.better,
    }
    detectors = (
        [name.strip() for name in args.detectors.split(",") if name.strip()]
        if args.detectors != "all"
        else "all"
    )
    events, patients = screen(
        data, detectors=detectors, medications=medications, summary=True, **common, **options
    )
    inst = instruments.get(instrument) if instrument else None
    cutoff: Literal["caseness"] | None = (
        "caseness" if inst is not None and inst.caseness is not None else None
    )
    try:
        change: pd.DataFrame | str = reliable_change(data, **common, cutoff=cutoff)
    except IatrogenicError as error:  # the screen ran; say why this section could not
        change = " ".join(str(error).split())

    source = "the bundled example data" if args.example else str(args.file)
    report = _report(data, change, events, patients, source)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    outputs = {"events.csv": events, "patients.csv": patients}
    if isinstance(change, pd.DataFrame):
        outputs["reliable_change.csv"] = change
    for name, table in outputs.items():
        table.to_csv(out / name, index=False)
    (out / "report.txt").write_text(report + "\n", encoding="utf-8")
    print(report)
    print("\nWrote " + ", ".join(str(out / name) for name in [*outputs, "report.txt"]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``iatrogenic`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "screen":
            return _screen(args)
    except (IatrogenicError, FileNotFoundError, ValueError, OSError) as error:
        message = " ".join(str(error).split())
        print(f"iatrogenic: error: {message}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
