"""The instrument registry and its built-in table: every number has a source, ranges and bands are
coherent, lookups are forgiving, and the headline published values are what the sources say."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest

from iatrogenic import instruments
from iatrogenic.exceptions import ParameterError, ParameterTypeError, UnknownNameError
from iatrogenic.instruments import (
    Caseness,
    FixedRule,
    Instrument,
    RiskItem,
    SeverityBand,
)
from iatrogenic.instruments._builtin import BUILTIN_INSTRUMENTS

BUILTIN_NAMES = [inst.name for inst in BUILTIN_INSTRUMENTS]

EXPECTED_NAMES = {
    "phq9",
    "gad7",
    "oq45",
    "oq45_nl",
    "core10",
    "coreom",
    "bdi2",
    "k10",
    "ors",
    "srs",
    "pcl5",
    "epds",
    "hamd17",
    "wsas",
    "bhs",
}

LIST_COLUMNS = [
    "name",
    "label",
    "construct",
    "low",
    "high",
    "better",
    "n_items",
    "reliability",
    "reliability_kind",
    "sd",
    "sd_population",
    "rc_points",
    "rc_confidence",
    "caseness",
    "risk_item",
    "sources",
]


@pytest.fixture(params=BUILTIN_INSTRUMENTS, ids=BUILTIN_NAMES)
def inst(request: pytest.FixtureRequest) -> Instrument:
    return request.param


def _has_text(value: str | None) -> bool:
    return isinstance(value, str) and len(value.strip()) >= 10


# ------------------------------------------------------------------------------------------------
# The built-in table
# ------------------------------------------------------------------------------------------------


def test_builtin_set_is_complete_and_registered() -> None:
    assert set(BUILTIN_NAMES) == EXPECTED_NAMES
    assert len(BUILTIN_NAMES) == len(set(BUILTIN_NAMES))
    assert set(instruments.names()) >= EXPECTED_NAMES
    for inst in BUILTIN_INSTRUMENTS:
        assert instruments.get(inst.name) is inst


def test_every_number_has_a_source(inst: Instrument) -> None:
    if inst.reliability is not None:
        assert _has_text(inst.reliability_source)
        assert _has_text(inst.reliability_kind)
    if inst.sd is not None:
        assert _has_text(inst.sd_source)
        assert _has_text(inst.sd_population)
    if inst.fixed_rule is not None:
        assert _has_text(inst.fixed_rule.source)
    if inst.caseness is not None:
        assert _has_text(inst.caseness.source)
    if inst.functional_norm is not None or inst.clinical_norm is not None:
        assert _has_text(inst.norms_source)
    if inst.severity_bands:
        assert _has_text(inst.severity_source)
    for item in inst.risk_items:
        assert _has_text(item.source)


def test_sources_are_not_attached_to_missing_numbers(inst: Instrument) -> None:
    # A source without its number would suggest a value was found and then dropped.
    if inst.reliability is None:
        assert inst.reliability_source is None
        assert inst.reliability_kind is None
    if inst.sd is None:
        assert inst.sd_source is None
        assert inst.sd_population is None
    if inst.functional_norm is None and inst.clinical_norm is None:
        assert inst.norms_source is None
    if not inst.severity_bands:
        assert inst.severity_source is None


def test_ranges_and_basic_fields(inst: Instrument) -> None:
    assert inst.name == inst.name.lower()
    assert inst.name.replace("_", "").isalnum()
    assert inst.label and inst.construct
    assert inst.low < inst.high
    assert inst.better in ("lower", "higher")
    assert inst.n_items is None or inst.n_items > 0
    assert inst.reliability is None or 0 < inst.reliability < 1
    assert inst.sd is None or inst.sd > 0


def test_values_lie_inside_the_score_range(inst: Instrument) -> None:
    if inst.caseness is not None:
        assert inst.low < inst.caseness.threshold < inst.high
        assert inst.caseness.clinical_if in (">=", ">", "<=", "<")
    if inst.fixed_rule is not None:
        assert 0 < inst.fixed_rule.points < inst.high - inst.low
        assert inst.fixed_rule.confidence in (None, 0.90, 0.95)
    for norm in (inst.functional_norm, inst.clinical_norm):
        if norm is not None:
            mean, sd = norm
            assert inst.low <= mean <= inst.high
            assert sd > 0


def test_caseness_direction_follows_better(inst: Instrument) -> None:
    if inst.caseness is None:
        return
    if inst.better == "lower":
        assert inst.caseness.clinical_if in (">=", ">")
    else:
        assert inst.caseness.clinical_if in ("<=", "<")


def test_directions() -> None:
    assert instruments.get("ors").better == "higher"
    assert instruments.get("srs").better == "higher"
    higher = {inst.name for inst in BUILTIN_INSTRUMENTS if inst.better == "higher"}
    assert higher == {"ors", "srs"}


def test_severity_bands_tile_the_range(inst: Instrument) -> None:
    bands = inst.severity_bands
    if not bands:
        return
    assert all(isinstance(b, SeverityBand) for b in bands)
    ordered = sorted(bands, key=lambda b: b.low)
    assert list(ordered) == list(bands), "bands are listed from low to high"
    assert ordered[0].low == inst.low
    assert ordered[-1].high == inst.high
    for band in ordered:
        assert band.low <= band.high
        assert float(band.low).is_integer() and float(band.high).is_integer()
    for prev, nxt in itertools.pairwise(ordered):
        assert nxt.low == prev.high + 1, f"gap or overlap between {prev} and {nxt}"
    labels = [b.label for b in bands]
    assert len(labels) == len(set(labels))
    # every integer score falls in exactly one band
    for score in range(int(inst.low), int(inst.high) + 1):
        assert sum(b.low <= score <= b.high for b in bands) == 1
        assert inst.severity(score) is not None


def test_risk_items_are_coherent(inst: Instrument) -> None:
    for item in inst.risk_items:
        assert isinstance(item, RiskItem)
        assert item.low < item.high
        assert item.low >= 0
        if inst.n_items is not None:
            assert 1 <= item.item <= inst.n_items
        assert item.column.endswith(f"_item{item.item}")
        assert item.wording
    items = [item.item for item in inst.risk_items]
    assert len(items) == len(set(items))
    if inst.risk_items:
        assert inst.risk_item is inst.risk_items[0]
    else:
        assert inst.risk_item is None


@pytest.mark.parametrize(
    ("name", "column", "low", "high"),
    [
        ("phq9", "phq9_item9", 0, 3),
        ("bdi2", "bdi2_item9", 0, 3),
        ("core10", "core10_item6", 0, 4),
        ("oq45", "oq45_item8", 0, 4),
        ("oq45_nl", "oq45_item8", 0, 4),
        ("epds", "epds_item10", 0, 3),
        ("hamd17", "hamd17_item3", 0, 4),
        ("coreom", "coreom_item9", 0, 4),
    ],
)
def test_default_risk_item_columns(name: str, column: str, low: float, high: float) -> None:
    item = instruments.get(name).risk_item
    assert item is not None
    assert (item.column, item.low, item.high) == (column, low, high)


def test_coreom_risk_to_self_items() -> None:
    assert [i.item for i in instruments.get("coreom").risk_items] == [9, 16, 24, 34]


def test_instruments_without_a_self_harm_item() -> None:
    for name in ("gad7", "k10", "ors", "srs", "pcl5", "wsas", "bhs"):
        assert instruments.get(name).risk_item is None


# ------------------------------------------------------------------------------------------------
# Headline published values
# ------------------------------------------------------------------------------------------------


def test_phq9_headline_values() -> None:
    phq9 = instruments.get("PHQ-9")
    assert (phq9.low, phq9.high, phq9.n_items) == (0, 27, 9)
    assert phq9.reliability == 0.89
    assert phq9.fixed_rule is not None and phq9.fixed_rule.points == 6
    assert phq9.caseness is not None
    assert (phq9.caseness.threshold, phq9.caseness.clinical_if) == (10, ">=")
    assert phq9.severity(9) == "mild" and phq9.severity(10) == "moderate"


def test_gad7_headline_values() -> None:
    gad7 = instruments.get("GAD-7")
    assert gad7.fixed_rule is not None and gad7.fixed_rule.points == 4
    assert gad7.caseness is not None and gad7.caseness.threshold == 8
    assert gad7.reliability == 0.92


def test_oq45_headline_values() -> None:
    oq = instruments.get("OQ-45")
    assert oq.name == "oq45"
    assert (oq.low, oq.high, oq.n_items) == (0, 180, 45)
    assert oq.fixed_rule is not None and oq.fixed_rule.points == 14
    assert oq.caseness is not None
    assert (oq.caseness.threshold, oq.caseness.clinical_if) == (64, ">=")
    assert not oq.caseness.is_clinical(63) and oq.caseness.is_clinical(64)
    assert oq.reliability == 0.93


def test_dutch_oq45_headline_values() -> None:
    nl = instruments.get("oq45_nl")
    assert nl.fixed_rule is not None and nl.fixed_rule.points == 18
    assert nl.caseness is not None and nl.caseness.threshold == 56
    assert "Timman" in nl.fixed_rule.source and "Timman" in nl.caseness.source
    assert (nl.low, nl.high) == (instruments.get("oq45").low, instruments.get("oq45").high)


def test_core10_headline_values() -> None:
    core = instruments.get("CORE-10")
    assert core.fixed_rule is not None
    assert core.fixed_rule.points == 6
    assert core.fixed_rule.confidence == 0.90
    assert core.caseness is not None and core.caseness.threshold == 11
    assert core.reliability == 0.90
    assert core.functional_norm == (4.7, 4.8) and core.clinical_norm == (19.7, 7.7)


def test_core10_rci_is_consistent_with_its_sd_and_reliability() -> None:
    core = instruments.get("core10")
    assert core.sd is not None and core.reliability is not None
    z90 = 1.6448536269514722
    rci = z90 * math.sqrt(2) * core.sd * math.sqrt(1 - core.reliability)
    assert core.fixed_rule is not None
    assert math.ceil(rci) == core.fixed_rule.points


def test_coreom_uses_the_clinical_score() -> None:
    core = instruments.get("CORE-OM")
    assert (core.low, core.high, core.n_items) == (0, 40, 34)
    assert core.caseness is not None and core.caseness.threshold == 10
    assert core.fixed_rule is not None and core.fixed_rule.points == 5
    assert "x 10" in core.notes


def test_ors_and_srs_headline_values() -> None:
    ors = instruments.get("ORS")
    assert ors.caseness is not None
    assert (ors.caseness.threshold, ors.caseness.clinical_if) == (25, "<")
    assert ors.caseness.is_clinical(24) and not ors.caseness.is_clinical(26)
    assert ors.fixed_rule is not None and ors.fixed_rule.points == 5
    srs = instruments.get("SRS")
    assert srs.caseness is not None
    assert (srs.caseness.threshold, srs.caseness.clinical_if) == (36, "<")
    assert srs.caseness.is_clinical(35) and not srs.caseness.is_clinical(36)


def test_other_headline_values() -> None:
    bdi = instruments.get("bdi2")
    assert (bdi.high, bdi.reliability, bdi.severity(13), bdi.severity(29)) == (
        63,
        0.92,
        "minimal",
        "severe",
    )
    k10 = instruments.get("K10")
    assert (k10.low, k10.high, k10.severity(30)) == (10, 50, "very high")
    pcl5 = instruments.get("PCL-5")
    assert pcl5.caseness is not None and 31 <= pcl5.caseness.threshold <= 33
    assert pcl5.fixed_rule is None  # 10 points is "clinically meaningful", not reliable change
    epds = instruments.get("EPDS")
    assert (epds.high, epds.caseness.threshold if epds.caseness else None) == (30, 13)
    hamd = instruments.get("HAMD-17")
    assert (hamd.high, hamd.severity(17), hamd.severity(24)) == (52, "moderate", "severe")
    wsas = instruments.get("WSAS")
    assert (wsas.severity(9), wsas.severity(10), wsas.severity(21)) == (
        "subclinical",
        "significant impairment, less severe symptoms",
        "moderately severe or worse",
    )


def test_bhs_headline_values() -> None:
    bhs = instruments.get("Beck Hopelessness Scale")
    assert bhs is instruments.get("BHS") and bhs.name == "bhs"
    assert (bhs.low, bhs.high, bhs.n_items, bhs.better) == (0, 20, 20, "lower")
    assert bhs.reliability == 0.93
    assert bhs.reliability_kind is not None and "KR-20" in bhs.reliability_kind
    assert bhs.reliability_source is not None
    assert "Beck AT, Weissman A, Lester D, Trexler L (1974)" in bhs.reliability_source
    assert "42(6):861-865" in bhs.reliability_source


def test_bhs_makes_secondary_worsening_screen() -> None:
    import pandas as pd

    import iatrogenic as ia

    data = pd.DataFrame(
        {
            "patient": [1, 1, 1, 2, 2, 2, 3, 3],
            "session": [1, 2, 3, 1, 2, 3, 1, 2],
            "phq9": [14, 12, 11, 15, 13, 12, 9, 8],
            "bhs": [6.0, 9.0, 13.0, 10.0, 8.0, 9.0, 3.0, 2.0],
        }
    )
    events = ia.screen(
        data, score="phq9", instrument="phq9", secondary={"bhs": "bhs"},
        detectors=["secondary_worsening"],
    )
    assert events["patient"].tolist() == [1]
    assert events["session"].tolist() == [2]  # +3 > 1.96 * 3.51 * sqrt(2 * 0.07) = 2.57
    assert "reliability 0.93" in events.loc[0, "evidence"]


def test_unconfirmed_values_stay_none() -> None:
    # These could not be confirmed from a published source: they must not be filled in by guess.
    assert instruments.get("oq45").sd is None
    assert instruments.get("oq45").functional_norm is None
    assert instruments.get("oq45_nl").reliability is None
    assert instruments.get("coreom").reliability is None
    assert instruments.get("coreom").severity_bands == ()
    assert instruments.get("srs").reliability is None
    assert instruments.get("k10").caseness is None
    assert instruments.get("hamd17").reliability is None
    bhs = instruments.get("bhs")
    assert bhs.sd is None and bhs.caseness is None and bhs.fixed_rule is None
    assert bhs.severity_bands == () and bhs.clinical_norm is None
    for name in ("phq9", "gad7", "oq45", "oq45_nl", "coreom", "ors"):
        rule = instruments.get(name).fixed_rule
        assert rule is not None and rule.confidence is None


# ------------------------------------------------------------------------------------------------
# list() and lookups
# ------------------------------------------------------------------------------------------------


def test_list_returns_one_row_per_instrument_with_documented_columns() -> None:
    table = instruments.list()
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == LIST_COLUMNS
    assert len(table) == len(instruments.names())
    assert table["name"].is_unique
    assert list(table["name"]) == sorted(table["name"])
    indexed = table.set_index("name")
    assert indexed.loc["phq9", "caseness"] == ">= 10"
    assert indexed.loc["ors", "caseness"] == "< 25"
    assert indexed.loc["core10", "rc_points"] == 6
    assert indexed.loc["core10", "rc_confidence"] == 0.90
    assert indexed.loc["core10", "risk_item"] == "core10_item6 (0-4)"
    assert indexed.loc["oq45", "better"] == "lower"
    for name in EXPECTED_NAMES:
        assert indexed.loc[name, "sources"]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("PHQ-9", "phq9"),
        ("phq9", "phq9"),
        ("Phq 9", "phq9"),
        ("GAD-7", "gad7"),
        ("oq-45", "oq45"),
        ("OQ45", "oq45"),
        ("oq45_nl", "oq45_nl"),
        ("OQ45_NL", "oq45_nl"),
        ("CORE-10", "core10"),
        ("core-om", "coreom"),
        ("BDI2", "bdi2"),
        ("K-10", "k10"),
        ("ORS", "ors"),
        ("srs", "srs"),
        ("PCL-5", "pcl5"),
        ("EPDS", "epds"),
        ("HAMD-17", "hamd17"),
        ("W.S.A.S.", "wsas"),
    ],
)
def test_get_normalises_names(query: str, name: str) -> None:
    assert instruments.get(query).name == name


def test_get_passes_an_instrument_through() -> None:
    phq9 = instruments.get("phq9")
    assert instruments.get(phq9) is phq9


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        instruments.get("not-a-measure")
    message = str(info.value)
    for name in EXPECTED_NAMES:
        assert name in message
    assert isinstance(info.value, ValueError)


def test_get_rejects_non_strings() -> None:
    with pytest.raises(ParameterTypeError):
        instruments.get(9)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# User instruments
# ------------------------------------------------------------------------------------------------


def _user_instrument(**changes: object) -> Instrument:
    fields: dict[str, object] = {
        "name": "mymeasure_test",
        "label": "My measure",
        "construct": "distress",
        "low": 0,
        "high": 40,
        "better": "lower",
        "reliability": 0.9,
        "reliability_kind": "Cronbach's alpha, local clinic sample",
        "reliability_source": "Our 2024 validation study",
        "fixed_rule": FixedRule(points=7, confidence=0.95, source="Our 2024 validation study"),
        "caseness": Caseness(threshold=15, clinical_if=">=", source="Our 2024 validation study"),
    }
    fields.update(changes)
    return Instrument(**fields)  # type: ignore[arg-type]


def test_register_and_unregister_a_user_instrument() -> None:
    mine = _user_instrument()
    try:
        assert instruments.register(mine) is mine
        assert instruments.get("MyMeasure_Test") is mine
        assert "mymeasure_test" in instruments.names()
        assert "mymeasure_test" in set(instruments.list()["name"])
        with pytest.raises(ParameterError, match="already registered"):
            instruments.register(mine)
        replacement = instruments.with_overrides(mine, reliability=0.8)
        instruments.register(replacement, overwrite=True)
        assert instruments.get("mymeasure_test").reliability == 0.8
    finally:
        instruments.unregister("mymeasure_test")
    assert "mymeasure_test" not in instruments.names()
    with pytest.raises(UnknownNameError):
        instruments.get("mymeasure_test")


def test_register_rejects_non_instruments() -> None:
    with pytest.raises(ParameterTypeError):
        instruments.register({"name": "x"})  # type: ignore[arg-type]


def test_unregister_unknown_name_raises() -> None:
    with pytest.raises(UnknownNameError):
        instruments.unregister("no-such-instrument")


def test_with_overrides_keeps_the_registered_instrument() -> None:
    phq9 = instruments.get("phq9")
    local = instruments.with_overrides(
        phq9, reliability=0.85, reliability_source="Local service audit 2023"
    )
    assert local.reliability == 0.85
    assert instruments.get("phq9").reliability == 0.89


def test_reliability_without_source_raises() -> None:
    with pytest.raises(ParameterError, match="reliability_source"):
        _user_instrument(reliability_source=None)


def test_sd_without_source_raises() -> None:
    with pytest.raises(ParameterError, match="sd_source"):
        _user_instrument(sd=5.0)


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "My Measure"},
        {"name": ""},
        {"better": "up"},
        {"low": 40, "high": 0},
        {"reliability": 1.2},
        {"sd": -1.0, "sd_source": "x"},
    ],
)
def test_invalid_instruments_raise(changes: dict[str, object]) -> None:
    with pytest.raises(ParameterError):
        _user_instrument(**changes)


def test_caseness_is_vectorised() -> None:
    rule = instruments.get("phq9").caseness
    assert rule is not None
    scores = pd.Series([9.0, 10.0, float("nan")])
    assert rule.is_clinical(scores).tolist() == [False, True, False]
