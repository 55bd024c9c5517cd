"""The instrument registry: typed records of published psychometric constants, each with its source.

A value that could not be confirmed from a published source is ``None``: the library never guesses a
reliability, an SD or a cut-off. Users add their own instruments with :func:`register`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import pandas as pd

from ..exceptions import ParameterError, ParameterTypeError, UnknownNameError

__all__ = [
    "Caseness",
    "FixedRule",
    "Instrument",
    "RiskItem",
    "SeverityBand",
    "get",
    "list",
    "names",
    "register",
    "unregister",
    "with_overrides",
]

Better = Literal["lower", "higher"]
Comparison = Literal[">=", ">", "<=", "<"]


@dataclass(frozen=True)
class Caseness:
    """A clinical cut-off: a score is in the clinical range when ``score <clinical_if> threshold``.

    ``clinical_if=">="`` with ``threshold=10`` reads "PHQ-9 of 10 or more is a case".
    """

    threshold: float
    clinical_if: Comparison
    source: str
    population: str | None = None

    def is_clinical(self, score: Any) -> Any:
        """Vectorised test: True where a score is in the clinical range (NaN gives False)."""
        if self.clinical_if == ">=":
            return score >= self.threshold
        if self.clinical_if == ">":
            return score > self.threshold
        if self.clinical_if == "<=":
            return score <= self.threshold
        return score < self.threshold


@dataclass(frozen=True)
class FixedRule:
    """A published fixed reliable-change threshold: a change of at least ``points`` is reliable.

    ``confidence`` is the confidence level the rule was derived at (0.90 or 0.95), None when the
    source does not say.
    """

    points: float
    confidence: float | None
    source: str


@dataclass(frozen=True)
class SeverityBand:
    """A named score band ``[low, high]`` (both ends inclusive)."""

    label: str
    low: float
    high: float


@dataclass(frozen=True)
class RiskItem:
    """The instrument's self-harm / suicidality item."""

    item: int
    column: str
    low: float
    high: float
    wording: str
    source: str


@dataclass(frozen=True)
class Instrument:
    """Everything the library needs to know about a measure, with a source for each number.

    Attributes
    ----------
    name : str
        Registry key, lower case without punctuation (``"phq9"``).
    label : str
        Display name (``"PHQ-9"``).
    construct : str
        What it measures.
    low, high : float
        Possible range of the total score.
    better : {"lower", "higher"}
        Direction of improvement.
    n_items : int or None
        Number of items.
    reliability : float or None
        The reliability used for the reliable change index.
    reliability_kind : str or None
        Which kind ("Cronbach's alpha", "test-retest"...), and the sample.
    reliability_source : str or None
    sd : float or None
        The standard deviation used for the reliable change index.
    sd_population : str or None
        The population the SD comes from (clinical sample at intake, normative sample...).
    sd_source : str or None
    fixed_rule : FixedRule or None
        Published fixed reliable-change threshold in points.
    caseness : Caseness or None
        Clinical cut-off.
    functional_norm : (mean, sd) or None
        Mean and SD of a functional (non-clinical) population, for cut-offs b and c.
    clinical_norm : (mean, sd) or None
        Mean and SD of a clinical population, for cut-offs a and c.
    norms_source : str or None
    severity_bands : tuple of SeverityBand
    severity_source : str or None
    risk_items : tuple of RiskItem
    notes : str
        Variants, caveats.
    aliases : tuple of str
        Other spellings accepted by :func:`get` (``"BDI-II"`` for ``"bdi2"``).
    variant_of : str or None
        The instrument this one is a variant of (a translation with its own norms).
    """

    name: str
    label: str
    construct: str
    low: float
    high: float
    better: Better
    n_items: int | None = None
    reliability: float | None = None
    reliability_kind: str | None = None
    reliability_source: str | None = None
    sd: float | None = None
    sd_population: str | None = None
    sd_source: str | None = None
    fixed_rule: FixedRule | None = None
    caseness: Caseness | None = None
    functional_norm: tuple[float, float] | None = None
    clinical_norm: tuple[float, float] | None = None
    norms_source: str | None = None
    severity_bands: tuple[SeverityBand, ...] = field(default_factory=tuple)
    severity_source: str | None = None
    risk_items: tuple[RiskItem, ...] = field(default_factory=tuple)
    notes: str = ""
    aliases: tuple[str, ...] = ()
    variant_of: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if not self.name or self.name != self.name.lower() or " " in self.name:
            raise ParameterError(
                "Instrument name must be lower case without spaces, e.g. 'phq9'. "
                f"Got {self.name!r}."
            )
        if self.better not in ("lower", "higher"):
            raise ParameterError(
                f"Instrument {self.name!r}: better must be 'lower' or 'higher'. "
                f"Got {self.better!r}."
            )
        if not self.low < self.high:
            raise ParameterError(
                f"Instrument {self.name!r}: low ({self.low}) must be below high ({self.high})."
            )
        if self.reliability is not None and not 0 < self.reliability < 1:
            raise ParameterError(
                f"Instrument {self.name!r}: reliability must be in (0, 1). Got {self.reliability}."
            )
        if self.sd is not None and not self.sd > 0:
            raise ParameterError(f"Instrument {self.name!r}: sd must be positive. Got {self.sd}.")
        unsourced = [
            f"{what} (set {source_field})"
            for what, value, source, source_field in (
                ("reliability", self.reliability, self.reliability_source, "reliability_source"),
                ("sd", self.sd, self.sd_source, "sd_source"),
                ("functional_norm", self.functional_norm, self.norms_source, "norms_source"),
                ("clinical_norm", self.clinical_norm, self.norms_source, "norms_source"),
                ("severity_bands", self.severity_bands, self.severity_source, "severity_source"),
                ("fixed_rule", self.fixed_rule, self.fixed_rule and self.fixed_rule.source,
                 "fixed_rule.source"),
                ("caseness", self.caseness, self.caseness and self.caseness.source,
                 "caseness.source"),
                *(("risk item", item, item.source, "RiskItem.source") for item in self.risk_items),
            )
            if value and not source
        ]
        if unsourced:
            raise ParameterError(
                f"Instrument {self.name!r}: {', '.join(unsourced)} given without a source. Every "
                "published number needs its source; leave it None if there is none."
            )

    @property
    def risk_item(self) -> RiskItem | None:
        """The first risk item, or None."""
        return self.risk_items[0] if self.risk_items else None

    def severity(self, score: float) -> str | None:
        """The severity band label of a total score (None outside every band)."""
        for band in self.severity_bands:
            if band.low <= score <= band.high:
                return band.label
        return None


_REGISTRY: dict[str, Instrument] = {}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum() or ch == "_")


def register(instrument: Instrument, *, overwrite: bool = False) -> Instrument:
    """Add an instrument to the registry and return it.

    Parameters
    ----------
    instrument : Instrument
    overwrite : bool, default False
        Replace a registered instrument of the same name.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> mine = ia.instruments.Instrument(
    ...     name="mymeasure", label="My measure", construct="distress",
    ...     low=0, high=40, better="lower", reliability=0.9,
    ...     reliability_kind="Cronbach's alpha", reliability_source="Our 2024 validation",
    ... )
    >>> ia.instruments.register(mine).label
    'My measure'
    >>> ia.instruments.unregister("mymeasure")
    """
    if not isinstance(instrument, Instrument):
        raise ParameterTypeError(
            f"register() takes an Instrument. Got {type(instrument).__name__}. "
            "Suggestion: ia.instruments.Instrument(name=..., label=..., ...)."
        )
    if instrument.name in _REGISTRY and not overwrite:
        raise ParameterError(
            f"An instrument named {instrument.name!r} is already registered. "
            "Pass overwrite=True to replace it, or choose another name."
        )
    _REGISTRY[instrument.name] = instrument
    return instrument


def unregister(name: str) -> None:
    """Remove a registered instrument."""
    _REGISTRY.pop(get(name).name)


def names() -> tuple[str, ...]:
    """Names of every registered instrument, sorted."""
    return tuple(sorted(_REGISTRY))


def get(name: str | Instrument) -> Instrument:
    """Look up an instrument by name (case and punctuation insensitive: ``"PHQ-9"`` works).

    Examples
    --------
    >>> import iatrogenic as ia
    >>> ia.instruments.get("PHQ-9").high
    27.0
    """
    if isinstance(name, Instrument):
        return name
    if not isinstance(name, str):
        raise ParameterTypeError(
            f"The 'instrument' parameter must be an instrument's name (str) or an Instrument. "
            f"Got {name!r} of type {type(name).__name__}. Suggestion: pass instrument='phq9' "
            "(ia.instruments.list() shows the names)."
        )
    key = _key(name)
    if key in _REGISTRY:
        return _REGISTRY[key]
    for instrument in _REGISTRY.values():
        if key in {_key(alias) for alias in instrument.aliases}:
            return instrument
    raise UnknownNameError(
        f"Unknown instrument {name!r}. Valid values are: {', '.join(names())}. "
        "Suggestion: register your own with ia.instruments.register(Instrument(...)), or pass "
        "reliability=, sd= and better= explicitly."
    )


def with_overrides(instrument: Instrument, **changes: Any) -> Instrument:
    """A copy of ``instrument`` with some fields replaced (e.g. a local reliability)."""
    return replace(instrument, **changes)


def list() -> pd.DataFrame:  # shadows the builtin on purpose: API.md names ia.instruments.list()
    """One row per registered instrument with its main constants and their sources.

    Returns
    -------
    DataFrame
        Columns: ``name``, ``label``, ``construct``, ``low``, ``high``, ``better``, ``n_items``,
        ``reliability``, ``reliability_kind``, ``sd``, ``sd_population``, ``rc_points`` (fixed
        reliable-change threshold), ``rc_confidence``, ``caseness`` (e.g. ``">= 10"``),
        ``risk_item`` (e.g. ``"phq9_item9 (0-3)"``), ``sources`` (every source, ``"; "``-joined).

    Examples
    --------
    >>> import iatrogenic as ia
    >>> table = ia.instruments.list()
    >>> table.set_index("name").loc["phq9", "caseness"]
    '>= 10'
    """
    rows = []
    for name in names():
        inst = _REGISTRY[name]
        record = asdict(inst)
        sources = [
            s
            for s in (
                inst.reliability_source,
                inst.sd_source,
                inst.fixed_rule.source if inst.fixed_rule else None,
                inst.caseness.source if inst.caseness else None,
                inst.norms_source,
                inst.severity_source,
                *(item.source for item in inst.risk_items),
            )
            if s
        ]
        rows.append(
            {
                "name": inst.name,
                "label": inst.label,
                "construct": inst.construct,
                "low": inst.low,
                "high": inst.high,
                "better": inst.better,
                "n_items": record["n_items"],
                "reliability": inst.reliability,
                "reliability_kind": inst.reliability_kind,
                "sd": inst.sd,
                "sd_population": inst.sd_population,
                "rc_points": inst.fixed_rule.points if inst.fixed_rule else None,
                "rc_confidence": inst.fixed_rule.confidence if inst.fixed_rule else None,
                "caseness": (
                    f"{inst.caseness.clinical_if} {inst.caseness.threshold:g}"
                    if inst.caseness
                    else None
                ),
                "risk_item": (
                    f"{inst.risk_item.column} ({inst.risk_item.low:g}-{inst.risk_item.high:g})"
                    if inst.risk_item
                    else None
                ),
                "sources": "; ".join(dict.fromkeys(sources)),
            }
        )
    return pd.DataFrame(rows)
