"""The ``provider`` detector: therapist-level harm signals, registered beside the patient detectors.

Its events concern a therapist, not a patient, and they depend on the outcomes of many patients
and on a case-mix model fitted over the whole service. So it is registered with
``unit = "therapist"``: :func:`iatrogenic.list_detectors` shows it, :func:`iatrogenic.get_detector`
builds it with ``unit="therapist"``, and :func:`iatrogenic.screen_providers` runs it; the patient
screen (:func:`iatrogenic.screen`, :class:`iatrogenic.Monitor`) refuses it with that suggestion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, cast

import numpy as np
import pandas as pd

from .._validation import check_choice, check_number
from ..detectors.base import Detector, ScreenInput
from ..detectors.registry import register_detector
from ..exceptions import ParameterError, ParameterTypeError
from .funnel import SR_METHODS
from .therapists import DROPOUT_VALUES

__all__ = ["ProviderDetector"]


@register_detector
class ProviderDetector(Detector):
    """Therapists whose patients come to harm more often than their case mix predicts.

    Two signals, both as events with ``therapist`` in place of ``patient`` (see
    :func:`iatrogenic.screen_providers`, which runs this detector):

    - ``provider_cusum``: the risk-adjusted Bernoulli CUSUM of Steiner et al. (2000) over each
      therapist's patients in the order they finish (:func:`iatrogenic.provider_cusum`), an
      alarm each time it crosses its limit ``h``;
    - ``provider_funnel``: a high outlier on the funnel of observed against expected harm
      (:func:`iatrogenic.therapist_outcomes`): an alarm above the 99.8% limit, a warning above
      the 95% limit only.

    Parameters
    ----------
    outcome, casemix, severity, method, reliability, sd, cutoff, detector, ending, dropout, \
screen_options
        The patient outcome counted as harm and the case-mix model, as in
        :func:`iatrogenic.patient_outcomes` and :func:`iatrogenic.therapist_outcomes`.
    odds_ratio, limit, arl, order, seed, n_paths
        The CUSUM, as in :func:`iatrogenic.provider_cusum` (``seed=0`` by default so that the
        same data always give the same events).
    min_patients, od_adjust, sr_method, trim_by
        The funnel, as in :func:`iatrogenic.therapist_outcomes`.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> detector = ia.get_detector("provider", unit="therapist", odds_ratio=3.0)
    >>> detector.unit, detector.harm, detector.odds_ratio
    ('therapist', 'provider', 3.0)
    >>> data, _ = ia.datasets.simulate(n_patients=600, n_therapists=12, seed=5)
    >>> events = detector.screen(data, therapist="therapist", score="phq9", instrument="phq9")
    >>> events.columns[0]
    'therapist'
    """

    name = "provider"
    harm = "provider"
    unit: ClassVar[str] = "therapist"
    needs = ("score", "therapist")
    description = (
        "Therapist-level: a risk-adjusted CUSUM over each therapist's patients and the funnel of "
        "observed against case-mix-expected harm (events name therapists; run it with "
        "ia.screen_providers)"
    )
    _invalid_params: ClassVar[tuple[dict[str, Any], ...]] = (
        {"odds_ratio": 1.0},
        {"odds_ratio": -2.0},
        {"arl": 0.5},
        {"limit": 0.0},
        {"min_patients": 0},
        {"trim_by": 0.6},
        {"sr_method": "nonsense"},
        {"od_adjust": "yes"},
        {"seed": -1},
        {"n_paths": 0},
    )

    def __init__(
        self,
        *,
        outcome: str = "reliable_deterioration",
        casemix: str | Sequence[str] | None = None,
        odds_ratio: float = 2.0,
        limit: float | None = None,
        arl: float = 2000.0,
        order: str | None = None,
        seed: int = 0,
        n_paths: int = 500,
        min_patients: int = 10,
        od_adjust: bool = True,
        sr_method: str = "CQC",
        trim_by: float = 0.1,
        severity: str | None = "first",
        method: str = "JT",
        reliability: float | None = None,
        sd: float | None = None,
        cutoff: Any = None,
        detector: str | None = None,
        ending: str | None = None,
        dropout: Sequence[Any] = DROPOUT_VALUES,
        screen_options: Mapping[str, Any] | None = None,
    ) -> None:
        caller = "ProviderDetector"
        self.outcome = outcome
        self.casemix = casemix
        self.odds_ratio = float(
            check_number(odds_ratio, name="odds_ratio", caller=caller, low=0, low_inclusive=False)
        )
        if self.odds_ratio == 1.0:
            raise ParameterError(
                f"The 'odds_ratio' parameter of {caller}() must differ from 1 (the null). Got "
                "1.0 instead. Suggestion: odds_ratio=2.0 to detect a doubling of the odds of harm."
            )
        self.limit = (
            None if limit is None
            else float(check_number(limit, name="limit", caller=caller, low=0,
                                    low_inclusive=False))
        )
        self.arl = float(check_number(arl, name="arl", caller=caller, low=1, low_inclusive=False))
        self.order = order
        self.seed = int(check_number(seed, name="seed", caller=caller, low=0, integer=True))
        self.n_paths = int(check_number(n_paths, name="n_paths", caller=caller, low=1,
                                        integer=True))
        self.min_patients = int(
            check_number(min_patients, name="min_patients", caller=caller, low=1, integer=True)
        )
        if not isinstance(od_adjust, (bool, np.bool_)):
            raise ParameterTypeError(
                f"The 'od_adjust' parameter of {caller}() must be True or False. Got "
                f"{od_adjust!r} instead."
            )
        self.od_adjust = bool(od_adjust)
        self.sr_method = check_choice(sr_method, list(SR_METHODS), name="sr_method",
                                      caller=caller)
        self.trim_by = float(
            check_number(trim_by, name="trim_by", caller=caller, low=0, high=0.5,
                         high_inclusive=False)
        )
        self.severity = severity
        self.method = method
        self.reliability = reliability
        self.sd = sd
        self.cutoff = cutoff
        self.detector = detector
        self.ending = ending
        self.dropout = dropout
        self.screen_options = screen_options

    def screen(
        self,
        data: pd.DataFrame,
        *,
        therapist: str,
        patient: str = "patient",
        time: str = "session",
        score: str = "score",
        instrument: Any = None,
        better: str | None = None,
        summary: bool = False,
    ) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
        """The provider events of ``data``: :func:`iatrogenic.screen_providers` with these settings.

        Parameters
        ----------
        data : pandas.DataFrame
            Long data, or a per-patient table when ``outcome`` names a column. Not modified.
        therapist, patient, time, score, instrument, better, summary
            As in :func:`iatrogenic.screen_providers`.

        Returns
        -------
        pandas.DataFrame or tuple of DataFrame
            As :func:`iatrogenic.screen_providers`.
        """
        from .screen import provider_events

        if not isinstance(summary, (bool, np.bool_)):
            raise ParameterTypeError(
                f"The 'summary' parameter of screen() must be True or False. Got {summary!r} "
                "instead. Suggestion: pass summary=True to get the therapist table too."
            )
        return provider_events(
            data, self, therapist=therapist, patient=patient, time=time, score=score,
            instrument=instrument, better=better, summary=bool(summary),
        )

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        """Provider events of the screen's validated input (columns: ``therapist`` first).

        Case-mix covariates must then be among the screen's own columns; with arbitrary columns,
        call :meth:`screen` (or :func:`iatrogenic.screen_providers`) on the data itself.
        """
        therapist = data.columns.get("therapist")
        if therapist is None:
            raise ParameterError(
                "The provider detector needs the therapist column. Suggestion: pass "
                "therapist='<column>' (on the command line: --therapist COLUMN)."
            )
        return cast(
            pd.DataFrame,
            self.screen(
                data.long.frame, therapist=therapist, patient="patient", time="time",
                score="score", instrument=data.instrument, better=data.better,
            ),
        )
