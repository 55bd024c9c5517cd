"""ia.Monitor state and inputs (issue 10): a validated JSON state, strict update() inputs.

Every tampering of the state raises ParameterError naming the field path, and loads nothing;
unknown update() keywords are an error with a suggestion; session numbers and scores of every
Python type either work or get the library's error, leaving the monitor unchanged.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pytest

from iatrogenic import exceptions as exc
from iatrogenic.core.expected_response import load_reference_model
from iatrogenic.detectors.base import EVENT_COLUMNS
from iatrogenic.monitor import (
    MAX_STATE_SIZE,
    SCHEMA_VERSION,
    Monitor,
    _event_frame,
    _event_frame_public,
)

_COLUMNS = {"alliance": "srs", "attendance": "att", "date": "when"}
_DETECTORS = ["off_track", "risk_item", "alliance_rupture", "disengagement"]


def _monitor() -> Monitor:
    """P1 with four sessions (one without a score), P2 with two, one id an integer."""
    monitor = Monitor(load_reference_model(), _DETECTORS, columns=_COLUMNS)
    rows = [
        ("P1", 1, 16, 0, 38, "attended", "2024-01-01"),
        ("P2", 1, 12, 0, 36, "attended", "2024-01-02"),
        ("P1", 2, None, None, None, "dna", "2024-01-08"),
        ("P2", 2, 13, 1, 35, "attended", "2024-01-09"),
        ("P1", 3, 18, 0, 37, "attended", "2024-01-15"),
        (7, 1, 20, 0, 30, "attended", "2024-01-03"),
        ("P1", 4, 22, 1, 36, "attended", "2024-01-22"),
    ]
    for p, s, y, item, srs, att, when in rows:
        monitor.update(p, s, y, phq9_item9=item, srs=srs, att=att, when=when)
    return monitor


@pytest.fixture(scope="module")
def saved() -> str:
    return _monitor().to_json()


def _patient(document: dict[str, Any], pid: Any) -> dict[str, Any]:
    for entry in document["payload"]["patients"]:
        if entry[0] == pid:
            return entry[1]  # type: ignore[no-any-return]
    raise KeyError(pid)


def _p(pid: Any) -> tuple[str, Any]:
    """A key of :func:`_set` meaning the state of patient ``pid``."""
    return ("patient", pid)


def _node(document: dict[str, Any], keys: tuple[Any, ...]) -> Any:
    node: Any = document["payload"]
    for key in keys:
        node = _patient(document, key[1]) if isinstance(key, tuple) else node[key]
    return node


def _set(*keys: Any, value: Any) -> Any:
    """A tampering that sets ``payload[keys...] = value`` (``_p(id)``: that patient's state)."""

    def tamper(document: dict[str, Any]) -> None:
        _node(document, keys[:-1])[keys[-1]] = value

    return tamper


def _delete(*keys: Any) -> Any:
    def tamper(document: dict[str, Any]) -> None:
        del _node(document, keys[:-1])[keys[-1]]

    return tamper


def _call(function: Any) -> Any:
    def tamper(document: dict[str, Any]) -> None:
        function(document)

    return tamper


def _swap_sessions(document: dict[str, Any]) -> None:
    """Sessions 1 and 3 of P1 swapped with their scores and values: a consistent reorder."""
    state = _patient(document, "P1")
    for column in [state["sessions"], state["scores"], *state["extra"].values()]:
        column[0], column[2] = column[2], column[0]


def _duplicate_patient(document: dict[str, Any]) -> None:
    patients = document["payload"]["patients"]
    patients.append(copy.deepcopy(patients[0]))


def _nest_params(document: dict[str, Any]) -> None:
    value: Any = {"value": 1}
    for _ in range(40):
        value = {"list": [value]}
    document["payload"]["detectors"][0]["params"]["level"] = value


#: (name, tampering, text to find in the message: the field path and what is wrong)
_TAMPERINGS: list[tuple[str, Any, str]] = [
    ("missing patients", _delete("patients"), "at patients: the field is missing"),
    ("missing model", _delete("model"), "at model: the field is missing"),
    ("missing better", _delete("better"), "at better: the field is missing"),
    ("unknown top field", _set("notes", value=1), "at notes: unknown field"),
    ("newer schema", _set("schema_version", value=2), "at schema_version: the state has schema"),
    ("schema as text", _set("schema_version", value="1"), "at schema_version: unknown schema"),
    ("schema as bool", _set("schema_version", value=True), "at schema_version: unknown schema"),
    ("schema zero", _set("schema_version", value=0), "at schema_version: unknown schema"),
    ("model not object", _set("model", value=[1]), "at model: must be the model's JSON object"),
    ("model tampered", _call(lambda d: d["payload"]["model"]["payload"].pop("beta")), "at model:"),
    ("detectors not list", _set("detectors", value="off_track"), "at detectors: must be a list"),
    ("detectors empty", _set("detectors", value=[]), "at detectors: the list is empty"),
    ("unknown detector", _set("detectors", 0, "name", value="off_trak"), "detectors[0].name"),
    ("detector no params", _delete("detectors", 1, "params"), "at detectors[1].params: the"),
    ("detector bad param", _set("detectors", 0, "params", "level", value={"value": 7}), "at "),
    ("param bad form", _set("detectors", 0, "params", "level", value=[0.9]), "params.level"),
    ("params nested deep", _call(_nest_params), "detectors[0].params.level"),
    ("unknown instrument", _set("instrument", value="phq10"), "at instrument:"),
    ("better sideways", _set("better", value="sideways"), "at better: must be 'lower'"),
    ("better contradicts", _set("better", value="higher"), "at better: 'higher' contradicts"),
    ("columns keyword", _set("columns", "aliance", value="x"), "at columns.aliance: unknown"),
    ("columns reserved", _set("columns", "alliance", value="score"), "at columns.alliance"),
    ("patients not list", _set("patients", value={}), "at patients: must be a list"),
    ("patient not pair", _set("patients", 0, value=["P1"]), "at patients[0]: must be a pair"),
    ("patient id float", _set("patients", 0, 0, value=1.5), "at patients[0][0]: a patient id"),
    ("patient id null", _set("patients", 0, 0, value=None), "at patients[0][0]: a patient id"),
    ("duplicate patient", _call(_duplicate_patient), "at patients[3][0]: the patient id 'P1'"),
    ("state not object", _set("patients", 0, 1, value=[]), "at patients.P1: must be a JSON"),
    (
        "missing sessions",
        _delete("patients", _p("P1"), "sessions"),
        "patients.P1.sessions: the field",
    ),
    ("missing levels", _delete("patients", _p("P1"), "levels"), "patients.P1.levels: the field"),
    (
        "unknown state field",
        _set("patients", _p("P1"), "note", value=1),
        "patients.P1.note: unknown",
    ),
    ("no sessions", _set("patients", _p(7), "sessions", value=[]), "patients.7.sessions: the list"),
    (
        "sessions reordered",
        _set("patients", _p("P1"), "sessions", value=[1, 3, 2, 4]),
        "sessions[2]",
    ),
    ("history reordered", _call(_swap_sessions), "patients.P1.sessions[1]: session 2 does not"),
    (
        "duplicate session",
        _set("patients", _p("P1"), "sessions", value=[1, 2, 2, 4]),
        "sessions[2]",
    ),
    (
        "session as text",
        _set("patients", _p("P1"), "sessions", 1, value="2"),
        "P1.sessions[1]: must",
    ),
    ("session bool", _set("patients", _p("P2"), "sessions", 0, value=True), "P2.sessions[0]: must"),
    ("session huge", _set("patients", _p("P1"), "sessions", 3, value=2**60), "P1.sessions[3]"),
    (
        "score out of range",
        _set("patients", _p("P1"), "scores", 2, value=28),
        "P1.scores[2]: score 28",
    ),
    ("score negative", _set("patients", _p("P2"), "scores", 1, value=-1), "P2.scores[1]: score -1"),
    ("score as text", _set("patients", _p("P1"), "scores", 0, value="16"), "P1.scores[0]: must be"),
    ("score bool", _set("patients", _p("P1"), "scores", 0, value=False), "P1.scores[0]: must be"),
    (
        "scores too short",
        _set("patients", _p("P1"), "scores", value=[16.0]),
        "P1.scores: has 1 values",
    ),
    (
        "extra too long",
        _set("patients", _p("P2"), "extra", "srs", value=[1, 2, 3]),
        "P2.extra.srs:",
    ),
    ("extra unknown", _set("patients", _p("P2"), "extra", "note", value=["a", "b"]), "extra.note"),
    ("extra not object", _set("patients", _p("P2"), "extra", value=[]), "patients.P2.extra: must"),
    ("risk item range", _set("patients", _p("P2"), "extra", "phq9_item9", 1, value=7), "item9[1]"),
    ("risk item text", _set("patients", _p("P2"), "extra", "phq9_item9", 1, value="1"), "item9[1]"),
    ("attendance value", _set("patients", _p("P2"), "extra", "att", 0, value="maybe"), "att[0]"),
    (
        "bad date",
        _set("patients", _p("P2"), "extra", "when", 0, value={"datetime": "x"}),
        "when[0]",
    ),
    ("bad value form", _set("patients", _p("P2"), "extra", "srs", 0, value={"x": 1}), "srs[0]"),
    (
        "intake wrong",
        _set("patients", _p("P1"), "intake", value=20.0),
        "patients.P1.intake: is 20.0",
    ),
    ("intake text", _set("patients", _p("P1"), "intake", value="16"), "patients.P1.intake: must"),
    ("intake session", _set("patients", _p("P1"), "intake_session", value=3), "P1.intake_session"),
    ("params tampered", _set("patients", _p("P2"), "params", 0, value=99.0), "P2.params[0]: 99.0"),
    ("params short", _set("patients", _p("P2"), "params", value=[1.0]), "P2.params: has 1 values"),
    ("levels short", _set("patients", _p("P1"), "levels", value=[0]), "P1.levels: has 1 values"),
    ("level five", _set("patients", _p("P1"), "levels", 0, value=5), "P1.levels[0]: must be 0, 1"),
    (
        "level of risk_item",
        _set("patients", _p("P1"), "levels", 1, value=2),
        "P1.levels[1]: must be 0",
    ),
]


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [pytest.param(t, e, id=name) for name, t, e in _TAMPERINGS],
)
def test_tampered_state_is_refused(saved, tamper, expected):
    document = json.loads(saved)
    tamper(document)
    text = json.dumps(document)
    with pytest.raises(exc.ParameterError) as raised:
        Monitor.from_json(text)
    message = str(raised.value)
    assert expected in message, message
    assert "Suggestion:" in message
    # nothing was half-loaded: the model's caches are not poisoned, the intact state loads
    assert Monitor.from_json(saved).to_json() == saved


# Text-level tamperings: numbers JSON cannot hold as floats, nesting, size, encodings.
_TEXT_TAMPERINGS: list[tuple[str, Any, str]] = [
    ("score 1e999", lambda t: t.replace('"scores":[16.0,', '"scores":[1e999,', 1), "P1.scores[0]"),
    ("score NaN", lambda t: t.replace('"scores":[16.0,', '"scores":[NaN,', 1), "P1.scores[0]"),
    (
        "score -Infinity",
        lambda t: t.replace('"scores":[16.0,', '"scores":[-Infinity,', 1),
        "P1.scores[0]: the number -Infinity is not finite",
    ),
    (
        "session 1e999",
        lambda t: t.replace('"sessions":[1,', '"sessions":[1e999,', 1),
        "sessions[0]",
    ),
    ("param 1e400", lambda t: t.replace('"params":[', '"params":[1e400,', 1), "P1.params[0]"),
    (
        "huge int",
        lambda t: t.replace('"sessions":[1,', '"sessions":[' + "9" * 5000 + ",", 1),
        "digits",
    ),
    ("deeply nested", lambda t: "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("nested in state", lambda t: t.replace('"params":[', '"params":[' + "[" * 5000, 1), "nested"),
    ("duplicate key", lambda t: t.replace('"scores":', '"scores":[],"scores":', 1), "twice"),
    ("not JSON", lambda t: t[:-5], "not valid JSON"),
    ("JSON array", lambda t: "[1, 2]", "Not a Monitor document"),
    ("JSON null", lambda t: "null", "Not a Monitor document"),
    ("JSON number", lambda t: "42", "Not a Monitor document"),
    ("empty text", lambda t: "", "not valid JSON"),
    (
        "other kind",
        lambda t: t.replace('"kind":"Monitor"', '"kind":"GrowthModel"', 1),
        "GrowthModel",
    ),
    (
        "newer envelope",
        lambda t: t.replace('"format_version":1', '"format_version":2', 1),
        "format_version=2",
    ),
    ("bad utf-8", lambda t: t.encode() + b"\xff", "not UTF-8"),
]


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [pytest.param(t, e, id=name) for name, t, e in _TEXT_TAMPERINGS],
)
def test_tampered_text_is_refused(saved, tamper, expected):
    text = tamper(saved)
    assert text != saved
    with pytest.raises(exc.ParameterError) as raised:
        Monitor.from_json(text)
    assert expected in str(raised.value), str(raised.value)
    assert Monitor.from_json(saved).to_json() == saved


def test_the_reported_cases(saved):
    """Reordered sessions no longer load (the next event cited the wrong intake score)."""
    document = json.loads(saved)
    _swap_sessions(document)
    with pytest.raises(exc.ParameterError, match=r"patients\.P1\.sessions\[1\]"):
        Monitor.from_json(json.dumps(document))
    # a score of 1e999 loaded, and then the state could not be saved
    with pytest.raises(exc.ParameterError, match=r"patients\.P1\.scores\[0\]"):
        Monitor.from_json(saved.replace('"scores":[16.0,', '"scores":[1e999,', 1))


def test_size_limit(saved):
    assert MAX_STATE_SIZE == 100_000_000
    with pytest.raises(exc.ParameterError, match=r"over the limit max_size=100.*max_size="):
        Monitor.from_json(saved, max_size=100)
    with pytest.raises(exc.ParameterError, match="bytes long"):
        Monitor.from_json(saved.encode(), max_size=100)
    assert Monitor.from_json(saved, max_size=len(saved)).to_json() == saved
    assert Monitor.from_json(saved, max_size=None).to_json() == saved
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(exc.ParameterError, match="max_size"):
            Monitor.from_json(saved, max_size=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [None, 42, {"format": "iatrogenic"}, ["x"]])
def test_text_of_another_type(text):
    with pytest.raises(exc.ParameterTypeError, match=r"Monitor\.to_json"):
        Monitor.from_json(text)  # type: ignore[arg-type]


def test_bytes_and_versions(saved):
    assert Monitor.from_json(saved.encode()).to_json() == saved
    assert Monitor.from_json(bytearray(b"\xef\xbb\xbf" + saved.encode())).to_json() == saved
    document = json.loads(saved)
    assert document["payload"]["schema_version"] == SCHEMA_VERSION == 1
    # a state written before the schema version existed is read as version 1
    del document["payload"]["schema_version"]
    assert Monitor.from_json(json.dumps(document)).to_json() == saved


def test_restored_monitor_continues(saved):
    restored = Monitor.from_json(saved)
    reference = _monitor()
    values = {"phq9_item9": 0, "srs": 36, "att": "attended", "when": "2024-01-29"}
    pd.testing.assert_frame_equal(
        restored.update("P1", 5, 25, **values), reference.update("P1", 5, 25, **values)
    )
    assert restored.to_json() == reference.to_json()


# -- unknown update() keywords ------------------------------------------------------------------


def test_unknown_keyword_is_an_error_with_a_suggestion():
    monitor = Monitor(load_reference_model(), ["off_track", "risk_item"])
    monitor.update("A", 1, 10, phq9_item9=0)
    before = monitor.to_json()
    with pytest.raises(exc.UnknownNameError) as raised:
        monitor.update("A", 2, 14, phq9_q9=3)
    message = str(raised.value)
    assert "phq9_q9=3" in message
    assert "Did you mean phq9_item9=?" in message
    assert "read: phq9_item9= (risk_item)" in message
    assert monitor.to_json() == before
    # the screen keyword instead of the column: pointed to the column
    with pytest.raises(exc.ParameterError, match=r"Did you mean phq9_item9=\?"):
        monitor.update("A", 2, 14, risk_item=3)
    with pytest.raises(exc.ParameterError, match="unknown keyword notes="):
        monitor.update("A", 2, 14, notes="x")
    assert monitor.to_json() == before
    events = monitor.update("A", 2, 14, phq9_item9=3)
    assert "risk_item" in events["detector"].tolist()


def test_unknown_keyword_lists_columns_and_covariates():
    monitor = Monitor(load_reference_model(), _DETECTORS, columns=_COLUMNS)
    with pytest.raises(exc.UnknownNameError) as raised:
        monitor.update("A", 1, 10, alliance=30)
    message = str(raised.value)
    assert "Did you mean srs=?" in message
    for listed in ("att= (attendance)", "phq9_item9= (risk_item)", "srs= (alliance)", "when="):
        assert listed in message
    assert monitor.patients == []


# -- Python types of sessions and scores -------------------------------------------------------

_SESSIONS_OK = [
    (2, 2),
    (2.5, 2.5),
    (np.int64(2), 2),
    (np.int8(2), 2),
    (np.uint16(2), 2),
    (np.float32(2.5), 2.5),
    (np.float64(2.0), 2.0),
    (Decimal("2"), 2),
    (Decimal("2.5"), 2.5),
    (Fraction(5, 2), 2.5),
    (2**53, 2**53),
]


@pytest.mark.parametrize(("session", "stored"), _SESSIONS_OK)
def test_session_types_accepted(session, stored):
    monitor = Monitor(load_reference_model())
    monitor.update("a", 1, 16)
    monitor.update("a", session, 18)
    last = monitor._patients["a"]["sessions"][-1]
    assert last == stored and type(last) is type(stored)
    assert Monitor.from_json(monitor.to_json()).to_json() == monitor.to_json()


_SESSIONS_BAD = [
    (True, exc.ParameterTypeError, "session"),
    (np.bool_(True), exc.ParameterTypeError, "session"),
    ("2", exc.ParameterTypeError, r"not text\. Got '2'.*pass the number itself \(2"),
    ("second", exc.ParameterTypeError, "not text"),
    (None, exc.ParameterTypeError, "missing"),
    (pd.NA, exc.ParameterTypeError, "missing"),
    (math.nan, exc.ParameterError, "2\\*\\*53"),
    (np.float64("nan"), exc.ParameterError, "2\\*\\*53"),
    (math.inf, exc.ParameterError, "finite"),
    (-math.inf, exc.ParameterError, "finite"),
    (Decimal("NaN"), exc.ParameterError, "finite"),
    (Decimal("Infinity"), exc.ParameterError, "finite"),
    (2**53 + 1, exc.ParameterError, "2\\*\\*53"),
    (10**400, exc.ParameterError, "2\\*\\*53"),
    (Fraction(10**400, 3), exc.ParameterError, "2\\*\\*53"),
    (dt.datetime(2024, 1, 8), exc.ParameterTypeError, "not a date"),
    (dt.date(2024, 1, 8), exc.ParameterTypeError, "not a date"),
    (pd.Timestamp("2024-01-08"), exc.ParameterTypeError, "not a date"),
    (np.datetime64("2024-01-08"), exc.ParameterTypeError, "not a date"),
    (dt.timedelta(days=7), exc.ParameterTypeError, "duration"),
    (pd.NaT, exc.ParameterTypeError, "not a date"),
    (2 + 0j, exc.ParameterTypeError, "complex"),
    ([2], exc.ParameterTypeError, "list"),
    (np.array([2]), exc.ParameterTypeError, "ndarray"),
]


@pytest.mark.parametrize(("session", "error", "match"), _SESSIONS_BAD)
def test_session_types_refused(session, error, match):
    monitor = Monitor(load_reference_model())
    monitor.update("a", 1, 16)
    before = monitor.to_json()
    with pytest.raises(error, match=match) as raised:
        monitor.update("a", session, 18)
    assert "'session' parameter of Monitor.update()" in str(raised.value)
    assert monitor.to_json() == before
    with pytest.raises(error):
        monitor.update("new", session, 18)
    assert monitor.patients == ["a"]


_SCORES_OK = [
    (18, 18.0),
    (18.5, 18.5),
    (np.int64(18), 18.0),
    (np.uint8(18), 18.0),
    (np.float32(18.5), 18.5),
    (Decimal("18.5"), 18.5),
    (Fraction(37, 2), 18.5),
    (None, None),
    (math.nan, None),
    (np.nan, None),
    (pd.NA, None),
    (Decimal("NaN"), None),
]


@pytest.mark.parametrize(("score", "stored"), _SCORES_OK)
def test_score_types_accepted(score, stored):
    monitor = Monitor(load_reference_model())
    monitor.update("a", 1, 16)
    monitor.update("a", 2, score)
    last = monitor.history("a")["score"].iloc[-1]
    assert math.isnan(last) if stored is None else last == stored
    assert type(last) in (float, np.float64)
    assert Monitor.from_json(monitor.to_json()).to_json() == monitor.to_json()


_SCORES_BAD = [
    (True, exc.ParameterTypeError, "Booleans are not scores"),
    (np.bool_(False), exc.ParameterTypeError, "Booleans are not scores"),
    ("18", exc.ParameterTypeError, r"not text\. Got '18'.*pass the number itself \(18"),
    ("eighteen", exc.ParameterTypeError, "not text"),
    (math.inf, exc.ParameterError, "finite"),
    (-np.inf, exc.ParameterError, "finite"),
    (10**400, exc.ParameterError, "finite"),
    (Decimal("1e400"), exc.ParameterError, "finite"),
    (1e300, exc.OutOfRangeError, r"range of instrument 'phq9'"),
    (2**60, exc.OutOfRangeError, "range"),
    (28, exc.OutOfRangeError, "range"),
    (-0.5, exc.OutOfRangeError, "range"),
    (dt.datetime(2024, 1, 8), exc.ParameterTypeError, "not a date"),
    (np.datetime64("2024-01-08"), exc.ParameterTypeError, "not a date"),
    (pd.Timestamp("2024-01-08"), exc.ParameterTypeError, "not a date"),
    (18 + 0j, exc.ParameterTypeError, "complex"),
    ([18], exc.ParameterTypeError, "list"),
]


@pytest.mark.parametrize(("score", "error", "match"), _SCORES_BAD)
def test_score_types_refused(score, error, match):
    monitor = Monitor(load_reference_model())
    monitor.update("a", 1, 16)
    before = monitor.to_json()
    with pytest.raises(error, match=match) as raised:
        monitor.update("a", 2, score)
    assert "score" in str(raised.value)
    assert monitor.to_json() == before


def test_numeric_text_in_a_number_column_is_refused_with_a_hint():
    """As the DataFrame functions: numbers stored as text are not converted."""
    monitor = Monitor(load_reference_model(), ["off_track", "risk_item"])
    with pytest.raises(exc.ColumnTypeError, match=r"phq9_item9='2'.*float\('2'\)"):
        monitor.update("a", 1, 16, phq9_item9="2")
    assert monitor.patients == []
    monitor.update("a", 1, 16, phq9_item9=Decimal("0"))
    events = monitor.update("a", 2, 16, phq9_item9=Fraction(2, 1))
    assert events["detector"].tolist() == ["risk_item"]
    assert monitor.history("a")["phq9_item9"].tolist() == [0, 2]
    with pytest.raises(exc.InvalidValueError, match="finite"):
        monitor.update("a", 3, 16, phq9_item9=10**400)


def test_event_table_matches_the_public_construction():
    records = [
        {
            "patient": "p",
            "detector": "off_track",
            "harm": "off_track",
            "session": 3,
            "level": "alarm",
            "value": 17.0,
            "threshold": math.nan,
            "evidence": "e",
        },
        {
            "patient": 4,
            "detector": "risk_item",
            "harm": "self_harm",
            "session": 3.5,
            "level": "warning",
            "value": None,
            "threshold": np.float32(2.5),
            "evidence": "f",
        },
    ]
    for rows in (records[:1], records):
        fast = _event_frame(rows)
        pd.testing.assert_frame_equal(fast, _event_frame_public(rows))
        assert dict(fast.dtypes.astype(str)) == EVENT_COLUMNS
