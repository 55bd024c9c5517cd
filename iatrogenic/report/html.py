"""``html_report``: the screen's findings as one self-contained HTML page.

The page is rendered from the Jinja2 template ``templates/report.html.j2`` shipped with the
package; its style sheet is inlined and its figures are PNG data URIs, so that the single file
opens from a USB stick on a laptop without network access, and reads without JavaScript.
jinja2 and matplotlib (the ``report`` extra) are imported only when a report is made.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from .. import instruments as _instruments
from .._validation import check_dataframe, check_number
from ..detectors.base import EVENT_COLUMNS, HARMS
from ..exceptions import ColumnNotFoundError, ParameterTypeError
from . import figures

__all__ = ["html_report"]

#: Shape and words of each traffic-light level: never colour alone.
LEVEL_SYMBOLS: dict[str, str] = {"alarm": "\u25b2", "warning": "\u25c6", "none": "\u25cb"}
LEVEL_WORDS: dict[str, str] = {"alarm": "Alarm", "warning": "Warning", "none": "No event"}

#: Shown in place of a suppressed count, and of the numbers that would reveal it.
SUPPRESSED = "*"

_HARM_ORDER = ("self_harm",)  # harms that put a patient first in the review list
_SMALL_OBSERVED = re.compile(r"(?<![\d.])[1-4] observed\b")


@dataclass
class Cell:
    """A table cell as displayed: its text, and a traffic-light level or a numeric alignment."""

    text: str
    level: str | None = None
    numeric: bool = False

    @property
    def symbol(self) -> str:
        return LEVEL_SYMBOLS.get(self.level or "", "")


@dataclass
class Table:
    """A table of the page: caption, column headers, rows (first cell is the row header)."""

    caption: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class InlineFigure:
    """An inlined figure: its PNG data URI, its alt text and a visible caption."""

    src: str
    alt: str
    caption: str


def _require_jinja2() -> Any:
    try:
        import jinja2
    except ImportError as error:
        raise ImportError(
            "The HTML report needs jinja2 and matplotlib. Install them with: "
            f"{figures.INSTALL_HINT}"
        ) from error
    return jinja2


# ------------------------------------------------------------------------------------------------
# Numbers as displayed, with small-cell suppression
# ------------------------------------------------------------------------------------------------


def suppressed_cells(counts: Sequence[int], threshold: int, *, total_shown: bool) -> list[bool]:
    """Which counts to hide: those from 1 to ``threshold - 1``, and, when the total of the
    counts is shown and exactly one count is hidden, the smallest other non-zero count too
    (secondary suppression: otherwise the total minus the shown counts gives the hidden one).

    Examples
    --------
    >>> suppressed_cells([160, 3, 0, 46], 5, total_shown=True)
    [False, True, False, True]
    >>> suppressed_cells([160, 3, 0, 46], 5, total_shown=False)
    [False, True, False, False]
    """
    hidden = [1 <= c < threshold for c in counts]
    if total_shown and sum(hidden) == 1:
        others = [i for i, c in enumerate(counts) if c > 0 and not hidden[i]]
        if others:
            hidden[min(others, key=lambda i: (counts[i], i))] = True
    return hidden


def _count(n: int, threshold: int) -> str:
    return SUPPRESSED if 1 <= n < threshold else f"{n:,}"


def _percent(x: float) -> str:
    return f"{100 * x:.1f}%"


def _session(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2014"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else str(value)
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def _number(value: Any, digits: int = 2) -> str:
    if value is None or value is pd.NA:
        return SUPPRESSED
    number = float(value)
    return SUPPRESSED if math.isnan(number) else f"{number:.{digits}f}"


# ------------------------------------------------------------------------------------------------
# Sections
# ------------------------------------------------------------------------------------------------


def _screened(
    data: pd.DataFrame,
    events: pd.DataFrame,
    *,
    patient: str,
    time: str,
    score: str,
    date: str | None,
    instrument: _instruments.Instrument | None,
    source: str,
    notes: Sequence[str],
) -> dict[str, Any]:
    facts: list[tuple[str, str]] = [
        ("Screened", source),
        ("Rows", f"{len(data):,}"),
        ("Patients", f"{data[patient].nunique():,}"),
        ("Score", score),
    ]
    if instrument is not None:
        facts.append(("Instrument", f"{instrument.label} ({instrument.construct})"))
    sessions = pd.to_numeric(data[time], errors="coerce")
    if sessions.notna().any():
        facts.append(("Sessions", f"{_session(sessions.min())} to {_session(sessions.max())}"))
    if date is not None and pd.api.types.is_datetime64_any_dtype(data[date].dtype):
        dates = data[date].dropna()
        if len(dates):
            facts.append(("Dates", f"{dates.min().date()} to {dates.max().date()}"))
    ran = list(events.attrs.get("detectors", []))
    skipped = Table(
        caption="Detectors skipped, and why",
        columns=["Detector", "Reason"],
        rows=[[Cell(str(s["detector"])), Cell(str(s["reason"]))]
              for s in events.attrs.get("skipped", [])],
    )
    return {"facts": facts, "ran": ran, "skipped": skipped, "notes": list(notes)}


def _change(change: pd.DataFrame | str | None, threshold: int) -> dict[str, Any]:
    """Categories with counts, percentages and Wilson intervals, and the Jacobson plot."""
    from ..core.summary import change_summary

    if change is None:
        return {"problem": "not given (pass change=ia.reliable_change(...))"}
    if isinstance(change, str):
        return {"problem": change}
    summary = change_summary(change)
    counts = [int(n) for n in summary["n"]]
    evaluated = sum(counts)
    hide_total = 1 <= evaluated < threshold
    hidden = suppressed_cells(counts, threshold, total_shown=not hide_total)
    table = Table(
        caption="Reliable change from the first to the last score",
        columns=["Category", "Patients", "Percent", "95% interval (Wilson)"],
    )
    for (category, n, percent, low, high), hide in zip(
        summary[["category", "n", "percent", "ci_low", "ci_high"]].itertuples(index=False),
        hidden,
        strict=True,
    ):
        shown = [Cell(SUPPRESSED, numeric=True)] * 3 if hide or hide_total else [
            Cell(f"{int(n):,}", numeric=True),
            Cell(_percent(percent), numeric=True),
            Cell(f"{_percent(low)} to {_percent(high)}", numeric=True),
        ]
        table.rows.append([Cell(str(category)), *shown])
    not_evaluated = [
        (str(reason), _count(int(n), threshold))
        for reason, n in change["reason"].dropna().value_counts().sort_index().items()
    ]
    method = change.attrs.get("method", "JT")
    cutoff = change.attrs.get("cutoff")
    display = {str(row[0].text): row[1].text for row in table.rows}
    figure = InlineFigure(
        src=figures.change_figure(change, suppress=threshold),
        alt=(
            "Scatter plot of each patient's first score (horizontal axis) against the last "
            "score (vertical axis). Points on the diagonal did not change; the band around it "
            "is change too small to be reliable; points above the band got reliably worse and "
            "points below it reliably better"
            + (f"; the lines at {cutoff:g} mark the clinical cut-off" if cutoff is not None
               else "")
            + ". Patients per category: "
            + ", ".join(f"{name} {count}" for name, count in display.items())
            + "."
        ),
        caption="Jacobson plot: one point per patient, first against last score.",
    )
    return {
        "problem": None,
        "table": table,
        "evaluated": _count(evaluated, threshold),
        "not_evaluated": not_evaluated,
        "method": method,
        "cutoff": None if cutoff is None else f"{cutoff:g}",
        "figure": figure,
    }


def _by_detector(events: pd.DataFrame, threshold: int) -> Table:
    from ..detectors.registry import list_detectors

    described = dict(
        list_detectors()[["name", "description"]].itertuples(index=False, name=None)
    )
    table = Table(
        caption="Events by detector and level (counts from 1 to "
        f"{threshold - 1} shown as {SUPPRESSED})",
        columns=["Detector", "Harm", "Alarms", "Warnings", "Patients with an event",
                 "What it looks for"],
    )
    detectors = sorted(set(events.attrs.get("detectors", [])) | set(events["detector"]))
    for name in detectors:
        mine = events[events["detector"] == name]
        harm = str(mine["harm"].iloc[0]) if len(mine) else ""
        table.rows.append([
            Cell(name),
            Cell(harm),
            Cell(_count(int((mine["level"] == "alarm").sum()), threshold), numeric=True),
            Cell(_count(int((mine["level"] == "warning").sum()), threshold), numeric=True),
            Cell(_count(int(mine["patient"].nunique()), threshold), numeric=True),
            Cell(str(described.get(name, ""))),
        ])
    return table


def _by_level_and_harm(patients: pd.DataFrame, threshold: int) -> tuple[Table, Table]:
    levels = patients["worst_level"].value_counts()
    counts = [int(levels.get(level, 0)) for level in ("alarm", "warning", "none")]
    hidden = suppressed_cells(counts, threshold, total_shown=True)
    by_level = Table(
        caption=f"Patients by their worst level ({len(patients):,} patients)",
        columns=["Worst level", "Patients", "Percent"],
    )
    for level, n, hide in zip(("alarm", "warning", "none"), counts, hidden, strict=True):
        by_level.rows.append([
            Cell(LEVEL_WORDS[level], level=level),
            Cell(SUPPRESSED if hide else f"{n:,}", numeric=True),
            Cell(SUPPRESSED if hide else _percent(n / max(len(patients), 1)), numeric=True),
        ])
    harms = (
        patients.loc[patients["harms"] != "", "harms"].str.split(", ").explode().value_counts()
    )
    harms = harms.sort_index().sort_values(ascending=False, kind="stable")
    by_harm = Table(
        caption="Patients by harm seen (a patient can show several)",
        columns=["Harm", "Patients", "What it means"],
        rows=[
            [Cell(str(harm)), Cell(_count(int(n), threshold), numeric=True),
             Cell(HARMS.get(str(harm), ""))]
            for harm, n in harms.items()
        ],
    )
    return by_level, by_harm


def _review_order(patients: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Flagged patients, most urgent first: alarms before warnings, a self-harm signal first,
    then more alarms, then the earliest first alarm (the longest-standing problem)."""
    flagged = patients[patients["worst_level"] != "none"]
    self_harm = set(events.loc[events["harm"].isin(_HARM_ORDER), "patient"])
    first = pd.to_numeric(flagged["first_alarm_session"], errors="coerce")
    keys = pd.DataFrame(
        {
            "level": (flagged["worst_level"] != "alarm").astype(int).to_numpy(),
            "self_harm": (~flagged["patient"].isin(self_harm)).astype(int).to_numpy(),
            "alarms": -flagged["n_alarms"].to_numpy(),
            "warnings": -flagged["n_warnings"].to_numpy(),
            "first": first.fillna(np.inf).to_numpy(),
            "position": np.arange(len(flagged)),
        }
    )
    order = keys.sort_values(list(keys.columns), kind="stable").index.to_numpy()
    return flagged.iloc[order]


def _patients_to_review(
    data: pd.DataFrame,
    events: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    patient: str,
    time: str,
    score: str,
    score_label: str,
    model: Any,
    max_patients: int,
    max_events: int = 6,
) -> dict[str, Any]:
    ordered = _review_order(patients, events)
    shown = ordered.head(max_patients)
    ids = pd.Index(shown["patient"])
    rows_of = data[data[patient].isin(ids)]
    cards = []
    records: list[Any] = list(shown.itertuples(index=False))
    for record in records:
        pid = record.patient
        mine = events[events["patient"] == pid]
        rows = rows_of[rows_of[patient] == pid]
        alarms = pd.to_numeric(mine.loc[mine["level"] == "alarm", "session"], errors="coerce")
        warnings = pd.to_numeric(mine.loc[mine["level"] == "warning", "session"], errors="coerce")
        src, banded = figures.course_figure(
            rows, pid, patient=patient, time=time, score=score, model=model,
            alarms=alarms.dropna().tolist(), warnings=warnings.dropna().tolist(),
            score_label=score_label,
        )
        evidence = mine.assign(_alarm=(mine["level"] != "alarm").astype(int))
        evidence = evidence.sort_values("_alarm", kind="stable").head(max_events)
        listed = Table(
            caption=f"Events of patient {pid} (alarms first)",
            columns=["Session", "Level", "Detector", "Evidence"],
            rows=[
                [Cell(_session(s)), Cell(LEVEL_WORDS[str(level)], level=str(level)),
                 Cell(str(detector)), Cell(str(text))]
                for s, level, detector, text in evidence[
                    ["session", "level", "detector", "evidence"]
                ].itertuples(index=False)
            ],
        )
        scored = rows[rows[score].notna()].sort_values(time, kind="stable")
        alt = _course_alt(pid, scored[time], scored[score], score_label, banded,
                          alarms.dropna(), warnings.dropna())
        cards.append(
            {
                "id": str(pid),
                "anchor": "patient-" + re.sub(r"[^A-Za-z0-9_-]", "-", str(pid)),
                "level": str(record.worst_level),
                "harms": str(record.harms),
                "n_alarms": int(record.n_alarms),
                "n_warnings": int(record.n_warnings),
                "first_alarm": (None if int(record.n_alarms) == 0
                                else _session(record.first_alarm_session)),
                "events": listed,
                "more": max(len(mine) - max_events, 0),
                "figure": InlineFigure(
                    src=src,
                    alt=alt,
                    caption=(
                        f"Patient {pid}: scores by session"
                        + (", with the expected course and its 80% and 90% bands"
                           if banded else "")
                        + "; filled triangles mark alarms, open triangles warnings."
                    ),
                ),
            }
        )
    return {
        "cards": cards,
        "n_flagged": len(ordered),
        "n_alarm": int((ordered["worst_level"] == "alarm").sum()),
    }


def _course_alt(
    pid: Any,
    sessions: pd.Series,
    scores: pd.Series,
    label: str,
    banded: bool,
    alarms: pd.Series,
    warnings: pd.Series,
) -> str:
    def listing(values: pd.Series) -> str:
        unique = sorted(set(values.tolist()))
        return ", ".join(_session(v) for v in unique[:8]) + (" and more" if len(unique) > 8
                                                             else "")

    parts = [f"Line chart of patient {pid}'s {label} scores by session"]
    if len(scores):
        parts.append(
            f": {_session(scores.iloc[0])} at session {_session(sessions.iloc[0])}, "
            f"{_session(scores.iloc[-1])} at session {_session(sessions.iloc[-1])}, highest "
            f"{_session(scores.max())}, lowest {_session(scores.min())}"
        )
    if banded:
        parts.append("; the expected course for the intake score is drawn with its bands")
    if len(alarms):
        parts.append(f"; alarms at session {listing(alarms)}")
    if len(warnings):
        parts.append(f"; warnings at session {listing(warnings)}")
    return "".join(parts) + "."


def _therapists(
    table: pd.DataFrame | None,
    provider_events: pd.DataFrame | None,
    problem: str | None,
    threshold: int,
) -> dict[str, Any] | None:
    """Therapist table (suppressed), its funnel without suppressed points, provider events."""
    from ..providers.therapists import suppress_counts

    if table is None and provider_events is None and problem is None:
        return None
    if table is None:
        return {"problem": problem or "not given", "table": None}
    published = table if "suppressed" in table.columns else suppress_counts(
        table, threshold=threshold)
    hidden = published["suppressed"].astype(bool).to_numpy()
    rows = []
    records: list[Any] = list(published.itertuples(index=False))
    for record, hide in zip(records, hidden, strict=True):
        outlier = record.outlier if isinstance(record.outlier, str) else None
        reason = record.reason if isinstance(record.reason, str) else None
        funnel = {"high": "Above the 99.8% limit", "low": "Below the 99.8% limit"}.get(
            outlier or "", reason or "within limits")
        rows.append([
            Cell(str(record.therapist)),
            Cell(_integer(record.n_patients), numeric=True),
            Cell(_integer(record.observed), numeric=True),
            Cell(f"{float(record.expected):.1f}", numeric=True),
            Cell(_number(record.ratio), numeric=True),
            Cell(
                SUPPRESSED if hide else f"{_number(record.shrunken_ratio)} "
                f"({_number(record.shrunken_lower)} to {_number(record.shrunken_upper)})",
                numeric=True,
            ),
            Cell(funnel, level="alarm" if outlier == "high" else None),
        ])
    outcome = Table(
        caption=(
            "Reliable deterioration per therapist against the case mix (O/E: observed / "
            f"expected; {SUPPRESSED}: suppressed, a count from 1 to {threshold - 1} or one "
            "that would reveal it)"
        ),
        columns=["Therapist", "Patients", "Observed", "Expected", "O/E", "Shrunken O/E (95%)",
                 "Funnel"],
        rows=rows,
    )
    on_funnel = published["reason"].isna().to_numpy() & np.isfinite(
        pd.to_numeric(published["expected"], errors="coerce").to_numpy(dtype=float))
    figure: InlineFigure | None = None
    attrs = published.attrs
    if on_funnel.sum() >= 2 and "tau2" in attrs:
        result = pd.DataFrame(
            {
                "group": published["therapist"].astype(str).to_numpy()[on_funnel],
                "denominator": pd.to_numeric(published["expected"]).to_numpy(dtype=float)[
                    on_funnel],
                # a suppressed therapist's point would give its count (ratio x expected)
                "ratio": pd.to_numeric(published["ratio"], errors="coerce").to_numpy(
                    dtype=float)[on_funnel],
                "outlier": published["outlier"].to_numpy(dtype=object)[on_funnel],
            }
        )
        result.attrs.update({
            "data_type": "SR", "sr_method": attrs.get("sr_method", "CQC"), "target": 1.0,
            "tau2": attrs["tau2"], "adjusted": attrs.get("adjusted", False),
            "phi": attrs.get("phi", float("nan")),
        })
        drawn = int(np.isfinite(result["ratio"]).sum())
        n_high = int((result["outlier"] == "high").sum())
        n_low = int((result["outlier"] == "low").sum())
        figure = InlineFigure(
            src=figures.funnel_figure(result, top=float(np.nanmax(pd.to_numeric(
                published["upper998"], errors="coerce").to_numpy(dtype=float)[on_funnel]))),
            alt=(
                f"Funnel plot of {drawn} therapists' observed / expected reliable "
                "deterioration against their expected count, with the target 1 and the 95% "
                f"(dashed) and 99.8% (solid) control limits. {n_high} therapists lie above and "
                f"{n_low} below the 99.8% limits. {int(on_funnel.sum()) - drawn} therapists "
                "whose counts are suppressed are not drawn."
            ),
            caption=(
                "Funnel plot: each point a therapist; points outside the solid lines are "
                "outliers. Therapists whose counts are suppressed are not drawn (their count "
                "could be read off the plot); their funnel result is in the table."
            ),
        )
    events_table = None
    if provider_events is not None:
        suppressed_ids = set(published.loc[hidden, "therapist"].astype(str))
        events_table = Table(
            caption="Therapist-level events (CUSUM signals and funnel outliers)",
            columns=["Therapist", "Detector", "Level", "When", "Evidence"],
            rows=[
                [Cell(str(t)), Cell(str(d)), Cell(LEVEL_WORDS[str(level)], level=str(level)),
                 Cell(_session(s)),
                 Cell("details suppressed (small counts)"
                      if str(t) in suppressed_ids or _SMALL_OBSERVED.search(str(text))
                      else str(text))]
                for t, d, level, s, text in provider_events[
                    ["therapist", "detector", "level", "session", "evidence"]
                ].itertuples(index=False)
            ],
        )
    return {
        "table": outcome,
        "figure": figure,
        "events": events_table,
        "n_therapists": len(published),
        "n_suppressed": int(hidden.sum()),
        "problem": problem,
    }


def _integer(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return SUPPRESSED
    return f"{int(value):,}"


def _problems(
    events: pd.DataFrame,
    change: pd.DataFrame | str | None,
    excluded: Sequence[Mapping[str, Any]],
    warnings: Sequence[str],
) -> dict[str, Any]:
    found = [
        {"what": str(p.get("problem", "data problem")), "rows": p.get("rows"),
         "message": str(p.get("message", ""))}
        for p in events.attrs.get("data_problems", [])
    ]
    found += [{"what": "warning", "rows": None, "message": w} for w in warnings]
    rows = [{"rows": int(e["rows"]), "reason": str(e["reason"])} for e in excluded]
    not_evaluated = []
    if isinstance(change, pd.DataFrame):
        not_evaluated = [
            {"patients": int(n), "reason": str(r)}
            for r, n in change["reason"].dropna().value_counts().sort_index().items()
        ]
    return {"found": found, "excluded": rows, "not_evaluated": not_evaluated}


# ------------------------------------------------------------------------------------------------
# The public functions
# ------------------------------------------------------------------------------------------------


def html_report(
    events: pd.DataFrame,
    data: pd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    instrument: str | _instruments.Instrument | None = None,
    date: str | None = None,
    change: pd.DataFrame | str | None = None,
    model: Any = None,
    therapists: pd.DataFrame | None = None,
    provider_events: pd.DataFrame | None = None,
    therapist_problem: str | None = None,
    source: str = "a DataFrame",
    notes: Sequence[str] = (),
    excluded: Sequence[Mapping[str, Any]] = (),
    warnings: Sequence[str] = (),
    max_patients: int = 20,
    suppress: int = 5,
    title: str | None = None,
) -> str:
    """The screen's findings as one self-contained HTML page (``pip install 'iatrogenic[report]'``).

    The page has no external resources and needs no JavaScript: the style sheet is inlined
    and the figures are PNG images inside the file, so it can be mailed, put on a USB stick or
    opened on a laptop without network access. Counts from 1 to ``suppress - 1`` are never
    shown in its aggregate tables.

    Parameters
    ----------
    events : DataFrame
        The event table of :func:`iatrogenic.screen` (its ``attrs`` give the detectors run
        and skipped, and the data problems found).
    data : DataFrame
        The long data that was screened.
    patient, time, score : str
        Column names of the patient id, the session and the score, as given to the screen.
    instrument : str or Instrument, optional
        The instrument of the score (its name is shown).
    date : str, optional
        Column of session dates: the page then gives the date range.
    change : DataFrame or str, optional
        :func:`iatrogenic.reliable_change` of the same data (categories, intervals and the
        Jacobson plot), or a sentence saying why it could not be computed.
    model : ExpectedResponseModel, optional
        The expected-response model of the ``off_track`` detector: each patient's course is
        then drawn on its expected curve and bands (:func:`iatrogenic.plot_expected`).
    therapists : DataFrame, optional
        :func:`iatrogenic.therapist_outcomes` (suppressed or not; suppressed here if not):
        the therapist table and funnel.
    provider_events : DataFrame, optional
        :func:`iatrogenic.screen_providers` events.
    therapist_problem : str, optional
        Why the therapist part could not be computed, shown in its place.
    source : str, default "a DataFrame"
        What was screened (a file name), for the title.
    notes : sequence of str
        How the file was read (encoding, date handling...), listed under "What was screened".
    excluded : sequence of dict
        Rows left out before the screen, as ``{"rows": n, "reason": why}``.
    warnings : sequence of str
        Data-quality warnings raised while screening, listed with the data problems.
    max_patients : int, default 20
        At most this many patients get a card (events and a course plot) in "Patients to
        review first"; all of them are in the screen's tables.
    suppress : int, default 5
        Counts from 1 to ``suppress - 1`` are replaced by ``*`` in aggregate tables (with the
        percentages and intervals that would reveal them), as :func:`iatrogenic.suppress_counts`.
    title : str, optional
        Default ``"Harm screen of <source>"``.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    ImportError
        jinja2 or matplotlib is not installed (the message says how to install them).
    iatrogenic.exceptions.ColumnNotFoundError
        ``patient``, ``time``, ``score`` or ``date`` is not a column of ``data``.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> from iatrogenic.report import html_report
    >>> data = ia.datasets.load_example()
    >>> data = data[data["patient"].isin(data["patient"].unique()[:40])]
    >>> events = ia.screen(data, score="phq9", instrument="phq9", detectors=["off_track"])
    >>> page = html_report(events, data, score="phq9", instrument="phq9", max_patients=2)
    >>> page.startswith("<!DOCTYPE html>") and "http://" not in page
    True
    """
    caller = "html_report"
    if not isinstance(events, pd.DataFrame) or not set(EVENT_COLUMNS) <= set(events.columns):
        raise ParameterTypeError(
            f"The 'events' parameter of {caller}() must be the event table of ia.screen(...) "
            f"(columns {', '.join(EVENT_COLUMNS)}). Got {type(events).__name__} instead."
        )
    check_dataframe(data, caller=caller)
    for keyword, column in (("patient", patient), ("time", time), ("score", score),
                            ("date", date)):
        if column is not None and column not in data.columns:
            raise ColumnNotFoundError(
                f"Column {column!r} (given as {keyword}=) is not in the data passed to "
                f"{caller}(). Available columns: {', '.join(map(repr, data.columns[:20]))}. "
                f"Suggestion: pass the {keyword}= given to ia.screen()."
            )
    max_patients = int(check_number(max_patients, name="max_patients", caller=caller, low=0,
                                    integer=True))
    suppress = int(check_number(suppress, name="suppress", caller=caller, low=1, integer=True))
    if change is not None and not isinstance(change, (pd.DataFrame, str)):
        raise ParameterTypeError(
            f"The 'change' parameter of {caller}() must be the DataFrame of "
            f"ia.reliable_change(...), a sentence saying why it is missing, or None. Got "
            f"{type(change).__name__} instead."
        )
    jinja2 = _require_jinja2()
    figures.require_matplotlib()
    from ..screen import screen_summary

    inst = _instruments.get(instrument) if instrument is not None else None
    score_label = inst.label if inst is not None else score
    ids = pd.Index(pd.unique(data[patient].to_numpy(dtype=object)))
    with contextlib.suppress(TypeError):  # ids of mixed types keep the order of the data
        ids = ids.sort_values()  # so that the order of the rows does not change the page
    patients = screen_summary(events, ids)
    by_level, by_harm = _by_level_and_harm(patients, suppress)
    context = {
        "title": title or f"Harm screen of {source}",
        "version": __version__,
        "symbols": LEVEL_SYMBOLS,
        "words": LEVEL_WORDS,
        "suppress": suppress,
        "suppressed": SUPPRESSED,
        "screened": _screened(data, events, patient=patient, time=time, score=score, date=date,
                              instrument=inst, source=source, notes=notes),
        "change": _change(change, suppress),
        "by_detector": _by_detector(events, suppress),
        "by_level": by_level,
        "summary": [
            {"level": level, "count": row[1].text, "text": text}
            for (level, text), row in zip(
                (("alarm", "patients with an alarm"), ("warning", "with warnings only"),
                 ("none", "without events")),
                by_level.rows,
                strict=True,
            )
        ],
        "by_harm": by_harm,
        "review": _patients_to_review(data, events, patients, patient=patient, time=time,
                                      score=score, score_label=score_label, model=model,
                                      max_patients=max_patients),
        "therapists": _therapists(therapists, provider_events, therapist_problem, suppress),
        "problems": _problems(events, change, excluded, warnings),
    }
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("iatrogenic.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return str(environment.get_template("report.html.j2").render(**context))
