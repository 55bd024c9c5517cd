"""Not on track: the score lies beyond the band expected for patients with the same intake."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_choice
from ..core.expected_response import (
    DETERIORATION_RULES,
    SIGNALS,
    ExpectedResponseModel,
    SignalRules,
    load_reference_model,
)
from ..exceptions import ParameterTypeError
from ._sequences import patient_ids
from .base import (
    Detector,
    ScreenInput,
    bundled_model_gap,
    empty_events,
    formatted,
    label,
    labels,
    make_events,
    model_input_gaps,
)
from .registry import register_detector

__all__ = ["OffTrack", "off_track_evidence"]

#: Instrument of the bundled reference model (the default model of the detector).
REFERENCE_INSTRUMENT = "phq9"


def off_track_evidence(
    *,
    score: float,
    session: Any,
    expected: float,
    intake: float,
    tau: float,
    edge: float,
    warning_edge: float,
    signal: str,
    deteriorated: bool,
    better: str,
    level: float,
    warning_level: float,
    method: str,
    n_reference: int,
) -> str:
    """The evidence text of one off-track event (shared by the detector and the monitor).

    Examples
    --------
    >>> text = off_track_evidence(score=19, session=4, expected=11.24, intake=16, tau=3,
    ...     edge=17.8, warning_edge=15.9, signal="red", deteriorated=False, better="lower",
    ...     level=0.9, warning_level=0.8, method="hlm", n_reference=580)
    >>> text.split(": ")
    ['score 19 at session 4 (3 after intake at 16)',
     'expected 11.2, 90% band up to 17.8, 80% band up to 15.9',
     'red (hlm reference model, 580 patients)']
    """
    way = "up to" if better == "lower" else "down to"
    extra = "; reliable deterioration from intake" if deteriorated else ""
    return (
        f"score {score:g} at session {label(session)} ({tau:g} after intake at {intake:g}): "
        f"expected {expected:.1f}, {level * 100:g}% band {way} {edge:.1f}, "
        f"{warning_level * 100:g}% band {way} {warning_edge:.1f}: {signal}{extra} "
        f"({method} reference model, {n_reference} patients)"
    )


def _onsets(block: dict[str, np.ndarray], codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a block of whole patients where a scored row's signal rises: to red (an alarm,
    from yellow or below) or to yellow (a warning, from green or white), against the patient's
    previous scored row; and which of them are alarms."""
    scored = np.flatnonzero(~np.isnan(block["score"]) & (block["reason"] == 0))
    signal = block["signal"][scored]
    red, yellow = SIGNALS.index("red"), SIGNALS.index("yellow")
    level = np.select([signal == red, signal == yellow], [2, 1], 0)
    codes = codes[scored]
    first = np.r_[True, codes[1:] != codes[:-1]] if len(codes) else np.zeros(0, dtype=bool)
    previous = np.r_[0, level[:-1]] if len(level) else level
    previous[first] = 0
    alarm = (level == 2) & (previous < 2)
    warning = (level == 1) & (previous == 0)
    hit = alarm | warning
    return scored[hit], alarm[hit]


@register_detector
class OffTrack(Detector):
    """Flag patients whose score leaves the course expected for patients like them.

    Each patient's score is compared with the expected treatment response of an
    :class:`~iatrogenic.core.expected_response.ExpectedResponseModel` (fitted on *other*
    patients): the course expected from the patient's intake score and the bands around it
    (see :meth:`~iatrogenic.core.expected_response.ExpectedResponseModel.track`). Yellow
    (beyond the ``warning_level`` band on the harmful side) gives a **warning** and red (beyond
    the ``level`` band) an **alarm**, each at the first session of a spell: an alarm when the
    signal turns red, a warning when it turns yellow from green or white. Sessions without a
    score do not end a spell. ``value`` is the score and ``threshold`` the band edge it crossed.

    The expectation uses only the intake score (and the model's covariates) and the band only
    the current score, so the detector is causal; the model is fitted on other patients.

    Parameters
    ----------
    model : ExpectedResponseModel, optional
        The reference model. Default: the bundled PHQ-9 model
        (:func:`~iatrogenic.core.expected_response.load_reference_model`), used only when the
        screen's instrument is PHQ-9; read its limits before relying on it.
    level, warning_level : float, default 0.90 and 0.80
        Band levels: ``1 - level`` of on-course patients lie beyond the alarm band's harmful
        edge.
    deterioration : {"none", "auto", "fixed", "statistical"}, default "none"
        Whether reliable deterioration from intake also makes the signal red (see
        :class:`~iatrogenic.core.expected_response.SignalRules`). Off by default: the
        ``reliable_deterioration`` detector reports it.

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> data = pd.DataFrame({"patient": 1, "session": [1, 2, 3, 4, 5, 6],
    ...                      "phq9": [16, 14, 17, 19, 24, 15]})
    >>> events = ia.screen(data, score="phq9", instrument="phq9", detectors=["off_track"])
    >>> events[["session", "level", "value"]]
      session    level  value
    0       3  warning   17.0
    1       4    alarm   19.0
    """

    name = "off_track"
    harm = "off_track"
    needs = ("score",)
    description = (
        "Score beyond the expected-treatment-response band of patients with the same intake "
        "(a reference model fitted on other patients; the bundled one is PHQ-9): yellow gives a "
        "warning, red an alarm."
    )
    _invalid_params = (
        {"level": 1.5},
        {"warning_level": 0.95},
        {"deterioration": "maybe"},
        {"model": "bundled"},
    )

    def __init__(
        self,
        *,
        model: ExpectedResponseModel | None = None,
        level: float = 0.90,
        warning_level: float = 0.80,
        deterioration: str = "none",
    ) -> None:
        caller = "OffTrack"
        if model is not None and not isinstance(model, ExpectedResponseModel):
            raise ParameterTypeError(
                f"The 'model' parameter of {caller}() must be a fitted ExpectedResponseModel "
                f"(ia.fit_expected_response(...)) or None. Got {type(model).__name__} instead."
            )
        deterioration = check_choice(
            deterioration, DETERIORATION_RULES, name="deterioration", caller=caller
        )
        self.rules = SignalRules(
            level=level, warning_level=warning_level, deterioration=deterioration
        )
        self.model = model
        self.level = self.rules.level
        self.warning_level = self.rules.warning_level
        self.deterioration = self.rules.deterioration

    def resolved_model(self, data: ScreenInput | None = None) -> ExpectedResponseModel:
        """The model in use: the one given, else the bundled reference model."""
        return self.model if self.model is not None else load_reference_model()

    def missing_inputs(self, data: ScreenInput) -> list[str]:
        missing = super().missing_inputs(data)
        gap = bundled_model_gap(
            data, given=self.model is not None, reference_instrument=REFERENCE_INSTRUMENT,
            what="a reference model",
            fit_hint="OffTrack(model=ia.fit_expected_response(reference, ...))",
        )
        if gap:
            return missing + gap
        model = self.resolved_model()
        return missing + model_input_gaps(
            data, covariates=model.covariates_, model_better=model.better_,
            predict_call="model.track()", sessions_for="time since intake is needed",
        )

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        model = self.resolved_model()
        lower_better = model.better_ == "lower"
        needed = {
            "score": "score", "time_since_intake": "time_since_intake", "intake": "intake",
            "expected": "expected", "signal": "signal", "deteriorated": "deteriorated",
            "edge": "upper" if lower_better else "lower",
            "wedge": "warning_upper" if lower_better else "warning_lower",
        }
        # The columns are read block by block (whole patients), at the events' rows only.
        found: list[dict[str, np.ndarray]] = []
        for begin, block in model._track_blocks(data.long, self.rules, "OffTrack.detect"):
            hit, is_alarm = _onsets(block, data.long.codes[begin : begin + len(block["score"])])
            found.append(
                {"row": hit + begin, "is_alarm": is_alarm}
                | {name: block[column][hit] for name, column in needed.items()}
            )
        tracked = {name: np.concatenate([part[name] for part in found]) for name in found[0]}
        rows = tracked["row"]
        if len(rows) == 0:
            return empty_events()
        is_alarm, y, signal = tracked["is_alarm"], tracked["score"], tracked["signal"]
        edge, wedge = tracked["edge"], tracked["wedge"]
        threshold = np.where(is_alarm, edge, wedge)
        sessions = data.long.frame["time"].to_numpy()[rows]
        # As off_track_evidence, column-wise: the monitor formats one event at a time.
        way = "up to" if model.better_ == "lower" else "down to"
        deteriorated = tracked["deteriorated"] == 1
        evidence = (
            "score " + formatted(y, "g") + " at session " + labels(sessions) + " ("
            + formatted(tracked["time_since_intake"], "g") + " after intake at "
            + formatted(tracked["intake"], "g") + "): expected "
            + formatted(tracked["expected"], ".1f")
            + f", {self.level * 100:g}% band {way} " + formatted(edge, ".1f")
            + f", {self.warning_level * 100:g}% band {way} " + formatted(wedge, ".1f") + ": "
            + np.array(SIGNALS, dtype=object)[signal]
            + np.where(deteriorated, "; reliable deterioration from intake", "").astype(object)
            + f" ({model.method_} reference model, {model.n_patients_} patients)"
        )
        return make_events(
            self,
            patient=patient_ids(data, rows),
            session=sessions,
            level=np.where(is_alarm, "alarm", "warning"),
            value=y,
            threshold=threshold,
            evidence=evidence,
        )
