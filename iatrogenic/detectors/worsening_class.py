"""Membership of a worsening trajectory class, from the patient's scores so far."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import LongData, check_fraction, check_number, numeric_time
from ..classes import _engine as eng
from ..classes.lcga import TrajectoryClassModel
from ..classes.reference import load_reference_classes
from ..exceptions import ParameterError, ParameterTypeError
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

__all__ = ["WorseningClass"]

#: Instrument of the bundled reference model (the default model of the detector).
REFERENCE_INSTRUMENT = "phq9"


def _class_text(model: TrajectoryClassModel) -> str:
    """The worsening classes in words, e.g. ``class 5 (mean 9.1 -> 20.8, 6% of patients)``."""
    changes = model.class_changes_[model.class_changes_["worsening"]]
    prior = model.class_sizes_.set_index("class")["prior"]
    parts = [
        f"class {int(row['class'])} (mean {row['start']:.1f} -> {row['end']:.1f}, "
        f"{prior[row['class']] * 100:.0f}% of patients)"
        for _, row in changes.iterrows()
    ]
    span = f"sessions {label(model._state.t_first)}-{label(model._state.t_last)}"
    return f"{' or '.join(parts)} over {span}"


def _worsening_probability(
    model: TrajectoryClassModel, long: LongData, worsening: np.ndarray, min_sessions: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows with at least ``min_sessions`` scores so far, the probability of a ``worsening``
    class at them, and the number of scores up to each row.

    The same numbers as the model's ``_running_posterior`` summed over the worsening classes,
    computed over blocks of patients without its (rows x classes) table.
    """
    s = model._state
    frame = long.frame
    t = numeric_time(long, caller="WorseningClass.detect")
    y = frame["score"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        X, _ = model._spec().design(frame, t)
    usable = ~np.isnan(y) & np.isfinite(X).all(axis=1)
    return eng.running_probability(
        X, y, usable, long.starts, eng.Params(s.B, s.s2, s.logpi, s.t2), worsening, min_sessions
    )


@register_detector
class WorseningClass(Detector):
    """Flag patients whose course so far most likely belongs to a worsening trajectory class.

    A trajectory-class model (:func:`~iatrogenic.fit_trajectory_classes`, fitted on *other*
    patients) gives each class a mean curve; the classes whose curve worsens by more than the
    model's threshold from the typical first to the typical last session are the worsening
    classes (``model.class_changes_.worsening``; ``deteriorating_class_`` is the worst). At each
    scored session the patient's posterior class probabilities are computed from their own
    scores up to that session only, with the model fixed; the **value** is the probability of
    belonging to a worsening class (the sum over the worsening classes: when the model splits
    worsening into a fast and a slower curve, as the bundled model does, membership of either is
    the signal). From ``min_sessions`` scores on, a probability at or above ``threshold`` gives
    an **alarm** and one at or above ``warning_threshold`` a **warning**, each at the first
    session of a spell (an alarm when the level reaches ``threshold``, a warning when it reaches
    ``warning_threshold`` from below), as the ``off_track`` detector does. ``threshold`` is the
    crossed threshold.

    The probabilities use the rows up to the session only, so the detector is causal. All
    patients are done at once: running per-patient sums of the model's sufficient statistics
    (one row position at a time over all patients) and one matrix product per class.

    Default thresholds, chosen on simulated data (``tests/refs/scripts/
    make_reference_classes.py``, a cohort of 5000 simulated patients independent of the one the
    bundled model was fitted on, minimum 3 scores): ``threshold = 0.8`` flags 86% of patients
    with an injected deterioration, a median of 2 sessions after its onset; 97% of the flagged
    patients had an injected sustained worsening (deterioration or sudden worsening) and 0.3% of
    patients without one were flagged. ``warning_threshold = 0.5`` (more likely than not):
    90% of deteriorations, positive predictive value 87%, 1.7% of unharmed patients flagged.
    These figures hold for the simulation, not for your service.

    Parameters
    ----------
    model : TrajectoryClassModel, optional
        The reference model. Default: the bundled PHQ-9 growth mixture model
        (:func:`~iatrogenic.classes.reference.load_reference_classes`), used only when the
        screen's instrument is PHQ-9 and the sessions are numbered from 1 at intake; read its
        limits before relying on it. A model without a worsening class is rejected.
    threshold : float, default 0.8
        Probability of a worsening class that raises an alarm.
    warning_threshold : float, default 0.5
        Probability that raises a warning; at most ``threshold``.
    min_sessions : int, default 3
        Scores a patient needs (up to the current one) before being judged: with one or two
        scores a course has no shape yet.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> data, _ = ia.datasets.simulate(n_patients=300, n_therapists=10, seed=20261203)
    >>> events = ia.screen(data, score="phq9", instrument="phq9", detectors=["worsening_class"])
    >>> events["harm"].unique().tolist()
    ['worsening_course']
    >>> bool((events["value"] >= events["threshold"]).all())
    True
    """

    name = "worsening_class"
    harm = "worsening_course"
    needs = ("score",)
    description = (
        "Posterior probability of a worsening trajectory class (a growth mixture model fitted "
        "on other patients; the bundled one is PHQ-9), from the scores so far: 0.5 gives a "
        "warning, 0.8 an alarm."
    )
    _invalid_params = (
        {"threshold": 1.5},
        {"threshold": 0.0},
        {"warning_threshold": 0.9},
        {"min_sessions": 0},
        {"min_sessions": 2.5},
        {"model": "bundled"},
    )

    def __init__(
        self,
        *,
        model: TrajectoryClassModel | None = None,
        threshold: float = 0.8,
        warning_threshold: float = 0.5,
        min_sessions: int = 3,
    ) -> None:
        caller = "WorseningClass"
        if model is not None and not isinstance(model, TrajectoryClassModel):
            raise ParameterTypeError(
                f"The 'model' parameter of {caller}() must be a fitted TrajectoryClassModel "
                f"(ia.fit_trajectory_classes(...)) or None. Got {type(model).__name__} instead."
            )
        if model is not None and model.deteriorating_class_ is None:
            raise ParameterError(
                f"The 'model' passed to {caller}() has no worsening class (no class curve "
                "worsens by more than its threshold; see model.class_changes_). Suggestion: fit "
                "more classes, lower fit_trajectory_classes(deterioration=...), or use the "
                "bundled model (model=None) for PHQ-9."
            )
        self.threshold = check_fraction(threshold, name="threshold", caller=caller)
        self.warning_threshold = check_fraction(
            warning_threshold, name="warning_threshold", caller=caller
        )
        if self.warning_threshold > self.threshold:
            raise ParameterError(
                f"The 'warning_threshold' parameter of {caller}() must be at most threshold="
                f"{self.threshold:g}. Got {self.warning_threshold:g} instead."
            )
        self.min_sessions = check_number(
            min_sessions, name="min_sessions", caller=caller, low=1, integer=True
        )
        self.model = model

    def resolved_model(self) -> TrajectoryClassModel:
        """The model in use: the one given, else the bundled reference model."""
        return self.model if self.model is not None else load_reference_classes()

    def missing_inputs(self, data: ScreenInput) -> list[str]:
        missing = super().missing_inputs(data)
        gap = bundled_model_gap(
            data, given=self.model is not None, reference_instrument=REFERENCE_INSTRUMENT,
            what="a trajectory-class model",
            fit_hint="WorseningClass(model=ia.fit_trajectory_classes(reference, ...))",
        )
        if gap:
            return missing + gap
        model = self.resolved_model()
        return missing + model_input_gaps(
            data, covariates=model._state.covariates, model_better=model.better_,
            predict_call="model.predict_proba()",
            sessions_for="the class curves are functions of session",
        )

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        model = self.resolved_model()
        long = data.long
        worsening = model.class_changes_["worsening"].to_numpy(dtype=bool)
        judged, probability, n_scores = _worsening_probability(
            model, long, worsening, self.min_sessions
        )
        if len(judged) == 0:
            return empty_events()
        codes = long.codes[judged]
        level = np.select(
            [probability >= self.threshold, probability >= self.warning_threshold], [2, 1], 0
        )
        first = np.r_[True, codes[1:] != codes[:-1]]
        previous = np.r_[0, level[:-1]]
        previous[first] = 0
        alarm = (level == 2) & (previous < 2)
        warning = (level == 1) & (previous == 0)
        hit = alarm | warning
        if not hit.any():
            return empty_events()
        rows = judged[hit]
        is_alarm = alarm[hit]
        value = probability[hit]
        threshold = np.where(is_alarm, self.threshold, self.warning_threshold)
        frame = long.frame
        sessions = frame["time"].to_numpy()[rows]
        evidence = (
            "probability "
            + formatted(value, ".2f")
            + " of a worsening class after "
            + formatted(n_scores[rows], "g")
            + " scores (score "
            + formatted(frame["score"].to_numpy(dtype=np.float64)[rows], "g")
            + " at session "
            + labels(sessions)
            + f"): {_class_text(model)} of a {len(worsening)}-class reference model "
            + f"({model.n_patients_} patients); "
            + np.where(is_alarm, "alarm", "warning").astype(object)
            + " threshold "
            + formatted(threshold, "g")
        )
        return make_events(
            self,
            patient=long.patients.to_numpy()[codes[hit]],
            session=sessions,
            level=np.where(is_alarm, "alarm", "warning"),
            value=value,
            threshold=threshold,
            evidence=evidence,
        )
