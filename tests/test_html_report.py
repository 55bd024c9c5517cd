"""The HTML report: rendered in a real browser (headless Chromium), its structure, small cells.

The browser test drives Chromium through the DevTools protocol over a pipe (``--remote-debugging-
pipe``, standard library only): it loads ``report.html`` of the example, takes a screenshot and
collects every console message, uncaught exception and failed resource load. Without Chromium
it is skipped, unless ``IATROGENIC_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic.cli import main
from iatrogenic.report import html_report
from iatrogenic.report.figures import mask_legend_counts
from iatrogenic.report.html import suppressed_cells

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SUPPRESS = 5


def _chromium() -> str:
    found = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if found is None:
        reason = ("Chromium is not installed (Debian: apt-get install -y chromium); the report "
                  "is not checked in a browser")
        if os.environ.get("IATROGENIC_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + ", but IATROGENIC_REQUIRE_BROWSER=1 requires it")
        pytest.skip(reason)
    return found


class _Pipe:
    """A DevTools-protocol session with a headless Chromium over ``--remote-debugging-pipe``:
    Chromium reads commands on its fd 3 and writes replies and events on its fd 4, each a JSON
    message ending in a NUL byte."""

    def __init__(self, executable: str, timeout: float = 90.0) -> None:
        self.profile = tempfile.mkdtemp(prefix="iatrogenic-chromium-")
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def plumb() -> None:  # in the child: the pipe ends become fds 3 and 4
            read_end, write_end = os.dup(commands_read), os.dup(replies_write)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
             "--remote-debugging-pipe", "about:blank"],
            preexec_fn=plumb, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(replies_write)
        self.deadline = time.monotonic() + timeout
        self.events: list[dict] = []
        self._buffer = b""
        self._id = 0

    def _read_until(self, done) -> dict:
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if done(message):
                    return message
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._replies], [], [], left)
            if ready:
                chunk = os.read(self._replies, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buffer += chunk

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        message: dict = {"id": self._id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        number = self._id
        reply = self._read_until(lambda m: m.get("id") == number)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def wait_for(self, method: str) -> dict:
        return self._read_until(lambda m: m.get("method") == method)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._commands, self._replies):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


def render_in_chromium(path: Path, *, width: int = 1280, height: int = 4000
                       ) -> tuple[bytes, list[str]]:
    """Load ``path`` in headless Chromium: the PNG screenshot (``width`` x ``height``) and the
    console errors, uncaught exceptions and failed loads of the page."""
    browser = _Pipe(_chromium())
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.call(f"{domain}.enable", session=session)
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                     session=session)
        browser.call("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired")
        shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=session)
    finally:
        browser.close()
    problems = []
    for event in browser.events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            texts = [str(a.get("value", a.get("description", ""))) for a in params["args"]]
            problems.append(f"console.{params['type']}: {' '.join(texts)}")
        elif method == "Runtime.exceptionThrown":
            problems.append("uncaught: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            problems.append(f"{entry['source']}: {entry['text']} {entry.get('url', '')}")
    return base64.b64decode(shot["data"]), problems


def looks_blank(png: bytes) -> bool:
    """A screenshot with almost no variation or very few colours is blank (or a bare error)."""
    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(png))[..., :3]
    colours = np.unique((pixels.reshape(-1, 3) * 255).round().astype(np.uint8), axis=0)
    return bool(pixels.std() < 0.05 or len(colours) < 64)


@pytest.fixture(scope="module")
def example_report(tmp_path_factory) -> Path:
    """``iatrogenic screen --example --therapist therapist``: the report as users get it."""
    out = tmp_path_factory.mktemp("html")
    started = time.perf_counter()
    assert main(["screen", "--example", "--therapist", "therapist", "--out", str(out)]) == 0
    assert time.perf_counter() - started < 60  # the whole screen and report: seconds
    return out / "report.html"


# ------------------------------------------------------------------------------------------------
# In a browser
# ------------------------------------------------------------------------------------------------


def test_report_renders_in_chromium_without_errors(example_report) -> None:
    png, problems = render_in_chromium(example_report)
    assert problems == []
    assert not looks_blank(png)


def test_the_browser_check_catches_errors_and_blank_pages(tmp_path) -> None:
    """The check above can fail: a page with a script error, a missing image and an external
    image is caught, and its near-empty screenshot counts as blank."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html lang="en"><title>x</title><p>x</p>'
                    '<img src="missing.png" alt="x"><script>console.error("boom")</script>'
                    '<img src="https://example.invalid/a.png" alt="y"></html>')
    png, problems = render_in_chromium(page, width=400, height=300)
    assert any("boom" in p for p in problems)
    assert any("missing.png" in p for p in problems)
    assert any("example.invalid" in p for p in problems)
    assert looks_blank(png)


# ------------------------------------------------------------------------------------------------
# The structure, parsed
# ------------------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """Headings, tables (caption, header cells, body cells), images and every URL of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[tuple[int, str]] = []
        self.tables: list[dict] = []
        self.images: list[dict[str, str | None]] = []
        self.svgs: list[dict[str, str | None]] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self._text: list[str] | None = None
        self._heading: int | None = None
        self._cell: dict | None = None
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append(tag)
        for name in ("src", "href", "action", "poster", "data"):
            if attributes.get(name):
                self.urls.append(str(attributes[name]))
        if re.fullmatch(r"h[1-6]", tag):
            self._heading, self._text = int(tag[1]), []
        elif tag == "table":
            self.tables.append({"caption": None, "head": [], "rows": []})
        elif tag == "caption":
            self._text = []
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("th", "td") and self.tables:
            self._cell = {"tag": tag, "scope": attributes.get("scope"), "in": list(self._in)}
            self._text = []
        elif tag == "img":
            self.images.append(attributes)
        elif tag == "svg":
            self.svgs.append(attributes)
        if tag in ("thead", "tbody"):
            self._in.append(tag)

    def handle_endtag(self, tag):
        if re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            self.headings.append((self._heading, " ".join("".join(self._text or []).split())))
            self._heading, self._text = None, None
        elif tag == "caption" and self.tables:
            self.tables[-1]["caption"] = " ".join("".join(self._text or []).split())
            self._text = None
        elif tag in ("th", "td") and self._cell is not None:
            self._cell["text"] = " ".join("".join(self._text or []).split())
            self.tables[-1]["rows"][-1].append(self._cell)
            self._cell, self._text = None, None
        elif tag in ("thead", "tbody") and self._in:
            self._in.pop()

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def page(example_report) -> _Page:
    return parse(example_report.read_text(encoding="utf-8"))


def test_headings_are_real_and_in_order(page) -> None:
    levels = [level for level, _ in page.headings]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))  # no level skipped
    titles = [text for level, text in page.headings if level == 2]
    for section in ("What was screened", "Reliable change", "Events by detector",
                    "Patients to review first", "Therapists", "Data problems and exclusions",
                    "About this report"):
        assert section in titles
    cards = [text for level, text in page.headings if level == 3 and text.startswith("Patient P")]
    assert len(cards) == 20  # the default cap


def test_tables_have_captions_and_header_cells(page) -> None:
    assert len(page.tables) >= 25
    for table in page.tables:
        assert table["caption"], table
        head, *body = table["rows"]
        assert head and all(c["tag"] == "th" and c["scope"] == "col" for c in head)
        assert all(c["in"] == ["thead"] for c in head)
        for row in body:
            assert row[0]["tag"] == "th" and row[0]["scope"] == "row"
            assert len(row) == len(head)


def test_every_figure_has_alt_text_and_is_inline(page) -> None:
    # the Jacobson plot, the funnel and one course plot per patient card
    assert len(page.images) == 22
    for image in page.images:
        assert str(image.get("src", "")).startswith("data:image/png;base64,")
        assert len(str(image.get("alt") or "")) > 40
    for svg in page.svgs:
        assert svg.get("role") == "img" and (svg.get("aria-label") or svg.get("aria-labelledby"))
    alts = [str(image["alt"]) for image in page.images]
    assert any(alt.startswith("Scatter plot of each patient's first score") for alt in alts)
    assert any(alt.startswith("Funnel plot of") for alt in alts)


def test_nothing_is_loaded_from_outside_the_file(page, example_report) -> None:
    assert all(url.startswith(("data:", "#")) for url in page.urls), [
        u for u in page.urls if not u.startswith(("data:", "#"))]
    assert "script" not in page.tags and "link" not in page.tags
    text = example_report.read_text(encoding="utf-8")
    assert "@import" not in text and "url(" not in text
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", text)


# ------------------------------------------------------------------------------------------------
# Small cells and the numbers shown
# ------------------------------------------------------------------------------------------------

#: Captions of the tables of individual records (patients' events, skipped detectors,
#: therapist-level events): every other table is an aggregate.
NOT_AGGREGATE = ("Events of patient", "Detectors skipped", "Therapist-level events")


def _integers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"(?<![\d.])\d[\d,]*(?![\d.%])", text)]


def test_small_counts_never_appear_in_aggregate_tables(page) -> None:
    aggregate = [t for t in page.tables if not t["caption"].startswith(NOT_AGGREGATE)]
    assert len(aggregate) == 5
    hidden = 0
    for table in aggregate:
        head, *body = table["rows"]
        counts = [i for i, c in enumerate(head)
                  if c["text"] in ("Patients", "Alarms", "Warnings", "Patients with an event",
                                   "Observed")]
        assert counts, table["caption"]
        for row in body:
            for i in counts:
                text = row[i]["text"]
                if text == "*":
                    hidden += 1
                    continue
                assert text.replace(",", "").isdigit(), (table["caption"], text)
                assert not 1 <= int(text.replace(",", "")) < SUPPRESS, (table["caption"], row)
    assert hidden > 0  # the example has small cells (e.g. 2 dependency alarms), so some hide


def test_shown_counts_match_the_screen(page, example_report) -> None:
    out = example_report.parent
    patients = pd.read_csv(out / "patients.csv")
    levels = patients["worst_level"].value_counts()
    table = next(t for t in page.tables if t["caption"].startswith("Patients by their worst"))
    shown = {row[0]["text"]: row[1]["text"] for row in table["rows"][1:]}
    assert shown["\u25b2 Alarm"] == f"{levels['alarm']:,}"
    assert shown["\u25c6 Warning"] == f"{levels['warning']:,}"
    change = pd.read_csv(out / "reliable_change.csv")
    table = next(t for t in page.tables if t["caption"].startswith("Reliable change"))
    counts = change["category"].value_counts()
    for row in table["rows"][1:]:
        n = int(counts.get(row[0]["text"], 0))
        assert row[1]["text"] == ("*" if 1 <= n < SUPPRESS else f"{n:,}")


def test_secondary_suppression_hides_a_count_the_total_would_reveal() -> None:
    assert suppressed_cells([160, 3, 0, 46], 5, total_shown=True) == [False, True, False, True]
    assert suppressed_cells([160, 3, 2, 46], 5, total_shown=True) == [False, True, True, False]
    assert suppressed_cells([0, 0, 12], 5, total_shown=True) == [False, False, False]
    assert suppressed_cells([7, 3, 9], 5, total_shown=False) == [False, True, False]


def test_jacobson_legend_hides_small_counts() -> None:
    import matplotlib

    matplotlib.use("Agg")
    data = pd.DataFrame({"patient": np.repeat(np.arange(8), 2), "session": [1, 2] * 8,
                         "score": [20, 8, 20, 9, 20, 10, 20, 7, 20, 9, 20, 30, 20, 31, 20, 20]})
    change = ia.reliable_change(data, reliability=0.89, sd=5.0)
    ax = ia.plot_change(change)
    mask_legend_counts(ax, 5)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "improved (n=5)" in labels and "deteriorated (n<5)" in labels
    assert "unchanged (n<5)" in labels


# ------------------------------------------------------------------------------------------------
# The Python function
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    data = ia.datasets.load_example()
    data = data[data["patient"].isin(data["patient"].unique()[:60])]
    events = ia.screen(data, score="phq9", instrument="phq9",
                       detectors=["reliable_deterioration", "risk_item", "off_track"])
    return data, events


def test_same_input_gives_the_same_page(small) -> None:
    data, events = small
    options = {"score": "phq9", "instrument": "phq9", "max_patients": 3,
               "change": ia.reliable_change(data, score="phq9", instrument="phq9")}
    assert html_report(events, data, **options) == html_report(events, data, **options)


def test_cap_on_patient_cards_and_no_events(small) -> None:
    data, events = small
    capped = parse(html_report(events, data, score="phq9", max_patients=2))
    assert sum(1 for level, t in capped.headings if level == 3 and t.startswith("Patient ")) == 2
    assert len(capped.images) == 2  # no change given: no Jacobson plot
    quiet = html_report(events.iloc[:0], data, score="phq9")
    assert "No patient has an event." in quiet


def test_expected_band_drawn_with_a_model(small) -> None:
    data, events = small
    text = html_report(events, data, score="phq9", max_patients=1,
                       model=ia.load_reference_model())
    assert "the expected course for the intake score is drawn with its bands" in text
    plain = html_report(events, data, score="phq9", max_patients=1)
    assert "expected course" not in plain


def test_bad_arguments_are_named(small) -> None:
    data, events = small
    with pytest.raises(ia.exceptions.ColumnNotFoundError, match="'score'"):
        html_report(events, data)  # the example's score column is phq9
    with pytest.raises(ia.exceptions.ParameterTypeError, match="events"):
        html_report(data, data, score="phq9")
    with pytest.raises(ia.exceptions.ParameterError, match="max_patients"):
        html_report(events, data, score="phq9", max_patients=-1)
