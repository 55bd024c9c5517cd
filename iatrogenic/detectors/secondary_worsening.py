"""Reliable worsening from intake on a secondary measure (hopelessness, stigma, self-esteem...)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import instruments as _instruments
from .._validation import check_choice, check_fraction, check_positive
from ..core.rci import critical_difference
from ..exceptions import DataQualityWarning, ParameterTypeError
from ._sequences import patient_ids
from .base import Detector, ScreenInput, empty_events, formatted, labels, make_events
from .registry import register_detector

__all__ = ["SecondaryWorsening"]

_CALLER = "SecondaryWorsening"


def _check_mapping(value: Any, *, name: str, check: Any) -> dict[str, Any]:
    """Validate a ``{column: value}`` parameter, each value with ``check``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParameterTypeError(
            f"The {name!r} parameter of {_CALLER}() must be a dict mapping a secondary column to "
            f"a value, e.g. {name}={{'bhs': ...}}. Got {value!r} instead."
        )
    out = {}
    for column, item in value.items():
        if not isinstance(column, str):
            raise ParameterTypeError(
                f"The {name!r} parameter of {_CALLER}() must have column names (str) as keys. "
                f"Got {column!r}."
            )
        out[column] = check(item, f"{name}[{column!r}]")
    return out


@dataclass(frozen=True)
class _Rule:
    """How one secondary column is judged (resolved from parameters, registry and data)."""

    column: str
    label: str
    sign: float
    threshold: float
    inclusive: bool
    text: str


@register_detector
class SecondaryWorsening(Detector):
    """Flag the session at which a secondary measure becomes reliably worse than at intake.

    For every column of the screen's ``secondary=`` (``{column: instrument name or None}``), the
    change from the patient's first observed score on that column (intake) is compared, at each
    later session, with the Jacobson & Truax (1991) critical difference
    ``z(1 - alpha/2) * sd * sqrt(2 * (1 - reliability))`` (strict: the change must exceed it), or
    with the instrument's published fixed rule (``rule="fixed"``; inclusive: "4 points or more" on
    the GAD-7). This is the rule of ``reliable_deterioration``, applied per column. An alarm is
    raised each time the patient enters the worsened state.

    Constants per column, in order of precedence: the ``reliabilities``, ``sds``, ``points`` and
    ``better`` parameters; the registry instrument named in ``secondary=``; for the SD only, the
    SD of all patients' intake scores on that column in the data. There is no default reliability:
    a column without one (e.g. ``{"bhs": None}`` without ``reliabilities={"bhs": ...}``) is not
    screened, with a :class:`~iatrogenic.exceptions.DataQualityWarning` (the detector is skipped
    when no column can be screened). Direction defaults to the instrument's, else ``"lower"``
    (higher scores are worse, as on hopelessness and stigma scales); pass ``better={"rses":
    "higher"}`` for measures such as self-esteem.

    The rule uses the intake and the current score only, so it is causal. Caveat: the fallback SD
    (of intake scores in the data) is a property of the cohort, so in a live service it moves as
    patients join; give ``sds=`` (or register the instrument) for a threshold that never changes.

    Parameters
    ----------
    reliabilities : dict, optional
        ``{column: reliability}``, overriding the instrument's. E.g. the Beck Hopelessness Scale's
        KR-20 of .93 (Beck et al. 1974): ``reliabilities={"bhs": 0.93}``.
    sds : dict, optional
        ``{column: SD}`` for the critical difference, overriding the instrument's.
    better : dict, optional
        ``{column: "lower" or "higher"}``, overriding the instrument's direction.
    alpha : float, default 0.05
        Two-sided level of the RCI (z = 1.96), as Jacobson & Truax (1991).
    rule : {"statistical", "fixed"}, default "statistical"
        ``"fixed"``: the instrument's published fixed rule or ``points``; a column without one
        falls back to the statistical rule (the evidence says which rule was used).
    points : dict, optional
        ``{column: points}``: fixed thresholds for ``rule="fixed"``.

    Notes
    -----
    ``value`` is the worsening in points (positive = worse) and ``threshold`` the critical
    difference or fixed rule of that column; the evidence names the column.

    References
    ----------
    Jacobson NS, Truax P (1991). Clinical significance: a statistical approach to defining
    meaningful change in psychotherapy research. J Consult Clin Psychol 59(1):12-19.
    Beck AT, Weissman A, Lester D, Trexler L (1974). The measurement of pessimism: the
    Hopelessness Scale. J Consult Clin Psychol 42(6):861-865.

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> from iatrogenic.detectors.secondary_worsening import SecondaryWorsening
    >>> data = pd.DataFrame({"patient": [1, 1, 1, 2, 2], "session": [1, 2, 3, 1, 2],
    ...                      "score": [14, 12, 11, 15, 13], "bhs": [6, 9, 13, 10, 8]})
    >>> detector = SecondaryWorsening(reliabilities={"bhs": 0.93}, sds={"bhs": 5.0})
    >>> events = ia.screen(data, instrument="phq9", secondary={"bhs": None},
    ...                    detectors=[detector])
    >>> events[["patient", "session", "value", "threshold"]]
      patient session  value  threshold
    0       1       3    7.0   3.666757
    """

    name = "secondary_worsening"
    harm = "secondary_worsening"
    needs = ("secondary",)
    description = (
        "A secondary measure (secondary= columns) reliably worse than at intake: Jacobson-Truax "
        "critical difference or the instrument's fixed rule, per column."
    )
    _invalid_params = (
        {"reliabilities": {"bhs": 1.5}},
        {"reliabilities": [0.93]},
        {"sds": {"bhs": -5.0}},
        {"better": {"bhs": "up"}},
        {"alpha": 0.0},
        {"rule": "magic"},
        {"points": {"bhs": 0}},
    )

    def __init__(
        self,
        *,
        reliabilities: Mapping[str, float] | None = None,
        sds: Mapping[str, float] | None = None,
        better: Mapping[str, str] | None = None,
        alpha: float = 0.05,
        rule: str = "statistical",
        points: Mapping[str, float] | None = None,
    ) -> None:
        self.reliabilities = _check_mapping(
            reliabilities,
            name="reliabilities",
            check=lambda v, n: check_fraction(v, name=n, caller=_CALLER),
        )
        self.sds = _check_mapping(
            sds, name="sds", check=lambda v, n: check_positive(v, name=n, caller=_CALLER)
        )
        self.better = _check_mapping(
            better,
            name="better",
            check=lambda v, n: check_choice(v, ["lower", "higher"], name=n, caller=_CALLER),
        )
        self.alpha = check_fraction(alpha, name="alpha", caller=_CALLER)
        self.rule = check_choice(rule, ["statistical", "fixed"], name="rule", caller=_CALLER)
        self.points = _check_mapping(
            points, name="points", check=lambda v, n: check_positive(v, name=n, caller=_CALLER)
        )

    def _unusable(self, data: ScreenInput) -> dict[str, str]:
        """Secondary columns that cannot be screened, with the reason."""
        out = {}
        for column, name in (data.options.get("secondary") or {}).items():
            inst = _instruments.get(name) if name is not None else None
            has_reliability = column in self.reliabilities or (
                inst is not None and inst.reliability is not None
            )
            has_fixed = self.rule == "fixed" and (
                column in self.points or (inst is not None and inst.fixed_rule is not None)
            )
            if not (has_reliability or has_fixed):
                out[column] = (
                    f"a reliability for secondary column {column!r} "
                    f"(pass reliabilities={{{column!r}: ...}} or a registry instrument)"
                )
        return out

    def missing_inputs(self, data: ScreenInput) -> list[str]:
        missing = super().missing_inputs(data)
        if missing:
            return missing
        secondary = data.options.get("secondary") or {}
        unusable = self._unusable(data)
        if len(unusable) == len(secondary):
            return list(unusable.values()) or ["secondary= (at least one secondary column)"]
        return []

    def _rule(
        self, data: ScreenInput, column: str, name: str | None, intake: np.ndarray
    ) -> _Rule:
        inst = _instruments.get(name) if name is not None else None
        shown = f"{inst.label} ({column})" if inst is not None else column
        better = self.better.get(column) or (inst.better if inst is not None else "lower")
        sign = 1.0 if better == "lower" else -1.0
        direction = "higher" if better == "lower" else "lower"
        if self.rule == "fixed":
            points = self.points.get(column)
            if points is None and inst is not None and inst.fixed_rule is not None:
                points = float(inst.fixed_rule.points)
            if points is not None:
                return _Rule(
                    column,
                    shown,
                    sign,
                    points,
                    True,
                    f"fixed rule: >= {points:g} points, {direction} is worse",
                )
        reliability = self.reliabilities.get(column)
        if reliability is None and inst is not None:
            reliability = inst.reliability
        sd = self.sds.get(column)
        sd_source = "sd given"
        if sd is None and inst is not None and inst.sd is not None:
            sd, sd_source = inst.sd, f"{inst.label} SD"
        if sd is None:
            sd = data.intake_sd(column, intake)
            sd_source = "SD of intake scores in the data"
        if reliability is None or not np.isfinite(sd) or sd <= 0:
            return _Rule(column, shown, sign, float("nan"), False, "")
        threshold = critical_difference(sd, reliability, alpha=self.alpha)
        fallback = "no fixed rule, so " if self.rule == "fixed" else ""
        return _Rule(
            column,
            shown,
            sign,
            threshold,
            False,
            f"{fallback}RCI critical difference {threshold:.2f} points at alpha {self.alpha:g} "
            f"(reliability {reliability:g}, {sd_source} {sd:.2f}), {direction} is worse",
        )

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        unusable = self._unusable(data)
        if unusable:
            warnings.warn(
                f"{_CALLER}: secondary column(s) {', '.join(map(repr, unusable))} not screened: "
                "no reliability. Suggestion: SecondaryWorsening(reliabilities={column: value}).",
                DataQualityWarning,
                stacklevel=2,
            )
        tables = []
        for column, name in (data.options.get("secondary") or {}).items():
            if column not in unusable:
                tables.append(self._column_events(data, column, name))
        tables = [t for t in tables if len(t)]
        return pd.concat(tables, ignore_index=True) if tables else empty_events()

    def _column_events(self, data: ScreenInput, column: str, name: str | None) -> pd.DataFrame:
        frame = data.long.frame
        values = frame[column].to_numpy(dtype=np.float64)
        rows = np.flatnonzero(~np.isnan(values))
        if len(rows) == 0:
            return empty_events()
        row_codes = data.long.codes[rows]
        first = np.r_[True, row_codes[1:] != row_codes[:-1]]
        intake_rows = rows[first][np.cumsum(first) - 1]
        rule = self._rule(data, column, name, values[rows[first]])
        if not np.isfinite(rule.threshold):
            warnings.warn(
                f"{_CALLER}: secondary column {column!r} not screened: its SD could not be "
                f"computed from the data. Suggestion: SecondaryWorsening(sds={{{column!r}: ...}}).",
                DataQualityWarning,
                stacklevel=3,
            )
            return empty_events()
        worsening = rule.sign * (values[rows] - values[intake_rows])
        worse = worsening >= rule.threshold if rule.inclusive else worsening > rule.threshold
        worse &= ~first
        onset = worse & ~(np.r_[False, worse[:-1]] & ~first)
        hits = rows[onset]
        if len(hits) == 0:
            return empty_events()
        time = frame["time"].to_numpy()
        intakes = intake_rows[onset]
        evidence = (
            f"{rule.label} " + formatted(values[hits], "g") + " at session " + labels(time[hits])
            + " vs intake " + formatted(values[intakes], "g") + " at session "
            + labels(time[intakes]) + ": " + formatted(worsening[onset], "+g")
            + f" points worse ({rule.text})"
        )
        return make_events(
            self,
            patient=patient_ids(data, hits),
            session=time[hits],
            level="alarm",
            value=worsening[onset],
            threshold=rule.threshold,
            evidence=evidence,
        )
