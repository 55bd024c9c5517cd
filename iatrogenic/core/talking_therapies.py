"""NHS Talking Therapies (formerly IAPT) paired outcomes: recovery, reliable improvement,
reliable deterioration and reliable recovery, per patient and per service.

Definitions (NHS England, *NHS Talking Therapies for anxiety and depression manual*, v7 2024,
"Measuring outcomes" and the NHS Talking Therapies data handbook; the same as the IAPT manual
and NHS Digital's IAPT glossary):

- **caseness**: a score at or above the clinical cut-off on the depression measure (PHQ-9 >= 10)
  *or* on the anxiety measure (GAD-7 >= 8, or the cut-off of the anxiety disorder-specific
  measure); thresholds come from the instrument registry (``Instrument.caseness``);
- **finished a course of treatment**: at least two treatment sessions (here: two occasions with
  both scores, so that first and last scores are paired);
- **recovery**: at caseness at the first scored session and not at caseness at the last;
  recovery rate = recovered / (finished treatment - not at caseness at the start);
- **reliable improvement**: a reliable decrease on at least one measure and no reliable increase
  on either (PHQ-9: 6 points; GAD-7: 4 points; other measures: ``Instrument.fixed_rule``);
  rate = reliably improved / finished treatment;
- **reliable deterioration**: a reliable increase on either measure (whatever the other measure
  did); rate = reliably deteriorated / finished treatment. (The wording of this definition could
  not be re-checked against the current manual text when this was written; confirm it against
  your edition of the data handbook.)
- **reliable recovery**: recovered and reliably improved; rate over the same denominator as
  recovery.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_number, describe_rows, prepare_long
from ..dask import dispatch, is_dask_frame
from ..exceptions import OutOfRangeError, ParameterError
from ..instruments import registry

__all__ = ["talking_therapies_outcomes", "talking_therapies_summary"]

_CALLER = "talking_therapies_outcomes"


def _instrument_rules(name: str | registry.Instrument, keyword: str,
                      points: float | None) -> tuple[registry.Instrument, float]:
    inst = registry.get(name)
    if inst.caseness is None:
        raise ParameterError(
            f"The instrument {inst.name!r} (given as {keyword}=) has no caseness cut-off in the "
            "registry. Register one (Instrument(caseness=Caseness(...))) or choose another."
        )
    if points is None:
        if inst.fixed_rule is None:
            raise ParameterError(
                f"The instrument {inst.name!r} (given as {keyword}=) has no published reliable "
                f"change threshold in the registry. Pass {keyword.replace('instrument', 'points')}"
                "=<points>."
            )
        points = float(inst.fixed_rule.points)
    return inst, points


def talking_therapies_outcomes(
    data: pd.DataFrame,
    *,
    patient: str = "patient",
    time: str = "session",
    depression: str = "phq9",
    anxiety: str = "gad7",
    anxiety_instrument: str | registry.Instrument = "gad7",
    depression_instrument: str | registry.Instrument = "phq9",
    min_sessions: int = 2,
    depression_points: float | None = None,
    anxiety_points: float | None = None,
) -> pd.DataFrame:
    """NHS Talking Therapies paired outcomes of every patient.

    The first and last sessions at which both the depression and the anxiety score are present
    are compared (NHS Talking Therapies pair first and last scores).

    Parameters
    ----------
    data : DataFrame
        Long format: one row per patient and session, with a depression and an anxiety column.
        A ``dask.dataframe.DataFrame`` gives a lazy Dask DataFrame of the same rows (see
        ``docs/dask.md``).
    patient, time : str
        Columns of the patient id and the session (any orderable occasion).
    depression, anxiety : str
        Columns of the PHQ-9 total and of the anxiety measure total.
    anxiety_instrument, depression_instrument : str or Instrument
        Registry instruments giving range, direction, caseness cut-off and reliable change
        threshold (GAD-7 >= 8 and 4 points; PHQ-9 >= 10 and 6 points by default).
    min_sessions : int, default 2
        Sessions with both scores needed to count as a finished course of treatment (NHS: 2).
    depression_points, anxiety_points : float, optional
        Override the reliable change thresholds (points, inclusive).

    Returns
    -------
    DataFrame
        One row per patient: ``patient``, ``n_sessions`` (sessions with both scores),
        ``<depression>_pre``, ``<depression>_post``, ``<anxiety>_pre``, ``<anxiety>_post``,
        ``caseness_pre``, ``caseness_post``, ``finished`` (bool), ``recovered``,
        ``reliable_improvement``, ``reliable_deterioration``, ``reliable_recovery`` (nullable
        booleans: missing when the patient did not finish treatment; ``recovered`` and
        ``reliable_recovery`` also missing when not at caseness at the start, as NHS Talking
        Therapies leave them out of the recovery denominator), ``reason`` (why a patient is not
        evaluated, else missing).

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> data = pd.DataFrame({"patient": [1, 1, 2, 2], "session": [1, 2, 1, 2],
    ...                      "phq9": [15, 6, 12, 19], "gad7": [12, 5, 9, 10]})
    >>> out = ia.talking_therapies_outcomes(data)
    >>> out[["patient", "recovered", "reliable_improvement", "reliable_deterioration"]]
       patient  recovered  reliable_improvement  reliable_deterioration
    0        1       True                  True                   False
    1        2      False                 False                    True
    """
    if is_dask_frame(data):
        return dispatch("talking_therapies_outcomes", locals())
    dep_inst, dep_points = _instrument_rules(depression_instrument, "depression_instrument",
                                             depression_points)
    anx_inst, anx_points = _instrument_rules(anxiety_instrument, "anxiety_instrument",
                                             anxiety_points)
    if depression_points is not None:
        dep_points = check_number(depression_points, name="depression_points", caller=_CALLER,
                                  low=0, low_inclusive=False)
    if anxiety_points is not None:
        anx_points = check_number(anxiety_points, name="anxiety_points", caller=_CALLER, low=0,
                                  low_inclusive=False)
    min_sessions = check_number(min_sessions, name="min_sessions", caller=_CALLER, low=1,
                                integer=True)
    long = prepare_long(
        data, patient=patient, time=time, score=depression, caller=_CALLER,
        score_range=(dep_inst.low, dep_inst.high), range_source=f"instrument {dep_inst.name!r}",
        extra={"anxiety": anxiety}, numeric_extra=["anxiety"],
    )
    frame = long.frame
    dep = frame["score"].to_numpy(dtype=np.float64)
    anx_column = "score" if anxiety == depression else anxiety
    anx = frame[anx_column].to_numpy(dtype=np.float64)
    outside = np.flatnonzero((anx < anx_inst.low) | (anx > anx_inst.high))
    if len(outside):
        raise OutOfRangeError(
            f"Column {anxiety!r} (given as anxiety=) passed to {_CALLER}() has scores outside "
            f"the range of instrument {anx_inst.name!r}, [{anx_inst.low:g}, {anx_inst.high:g}]; "
            f"{describe_rows(frame, outside, ['patient', 'time', anx_column])}. Suggestion: "
            "check anxiety_instrument= and that the scores are totals."
        )
    both = ~np.isnan(dep) & ~np.isnan(anx)
    n_rows, starts = len(frame), long.starts
    index = np.arange(n_rows)
    first = np.minimum.reduceat(np.where(both, index, n_rows), starts[:-1])
    last = np.maximum.reduceat(np.where(both, index, -1), starts[:-1])
    n_scored = np.add.reduceat(both.astype(np.int64), starts[:-1])
    finished = n_scored >= min_sessions
    safe_first, safe_last = np.minimum(first, n_rows - 1), np.maximum(last, 0)

    def pick(values: np.ndarray, rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
        return np.where(ok, values[rows], np.nan)

    has_any = n_scored > 0
    dep_pre, dep_post = pick(dep, safe_first, has_any), pick(dep, safe_last, has_any)
    anx_pre, anx_post = pick(anx, safe_first, has_any), pick(anx, safe_last, has_any)
    dep_case, anx_case = dep_inst.caseness, anx_inst.caseness
    if dep_case is None or anx_case is None:  # checked by _instrument_rules
        raise ParameterError("both instruments need a caseness cut-off")
    case_pre = np.asarray(dep_case.is_clinical(dep_pre)) | np.asarray(anx_case.is_clinical(anx_pre))
    case_post = np.asarray(dep_case.is_clinical(dep_post)) | np.asarray(
        anx_case.is_clinical(anx_post)
    )

    def reliable(pre: np.ndarray, post: np.ndarray, inst: registry.Instrument,
                 points: float) -> tuple[np.ndarray, np.ndarray]:
        worse = (post - pre) * (1 if inst.better == "lower" else -1)
        return worse <= -points, worse >= points

    dep_better, dep_worse = reliable(dep_pre, dep_post, dep_inst, dep_points)
    anx_better, anx_worse = reliable(anx_pre, anx_post, anx_inst, anx_points)
    improvement = (dep_better | anx_better) & ~(dep_worse | anx_worse)
    deterioration = dep_worse | anx_worse
    recovered = case_pre & ~case_post
    not_case = ~case_pre

    def flags(values: np.ndarray, missing: np.ndarray) -> pd.arrays.BooleanArray:
        return pd.arrays.BooleanArray(values.astype(bool), missing)

    reason = np.full(len(n_scored), None, dtype=object)
    reason[n_scored < min_sessions] = (
        f"fewer than {min_sessions} sessions with both {depression} and {anxiety} scores"
    )
    unfinished = ~finished
    out = pd.DataFrame({
        "patient": long.patients.to_numpy(),
        "n_sessions": n_scored,
        f"{depression}_pre": dep_pre,
        f"{depression}_post": np.where(finished, dep_post, np.nan),
        f"{anxiety}_pre": anx_pre,
        f"{anxiety}_post": np.where(finished, anx_post, np.nan),
        "caseness_pre": flags(case_pre, ~has_any),
        "caseness_post": flags(case_post, unfinished),
        "finished": finished,
        "recovered": flags(recovered, unfinished | not_case),
        "reliable_improvement": flags(improvement, unfinished),
        "reliable_deterioration": flags(deterioration, unfinished),
        "reliable_recovery": flags(recovered & improvement, unfinished | not_case),
        "reason": reason,
    })
    out.attrs.update(depression_points=dep_points, anxiety_points=anx_points,
                     depression_caseness=float(dep_case.threshold),
                     anxiety_caseness=float(anx_case.threshold),
                     min_sessions=min_sessions)
    return out


def talking_therapies_summary(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Service-level NHS Talking Therapies rates with their numerators and denominators.

    Parameters
    ----------
    outcomes : DataFrame
        Output of :func:`talking_therapies_outcomes`.

    Returns
    -------
    DataFrame
        One row per measure (``recovery``, ``reliable_improvement``, ``reliable_deterioration``,
        ``reliable_recovery``) with ``numerator``, ``denominator`` and ``rate``. Recovery and
        reliable recovery: over finished treatment minus not at caseness at the start; reliable
        improvement and deterioration: over finished treatment. ``attrs`` holds ``finished``
        and ``not_at_caseness``.

    Examples
    --------
    >>> import pandas as pd
    >>> import iatrogenic as ia
    >>> from iatrogenic.core.talking_therapies import talking_therapies_summary
    >>> data = pd.DataFrame({"patient": [1, 1, 2, 2], "session": [1, 2, 1, 2],
    ...                      "phq9": [15, 6, 12, 19], "gad7": [12, 5, 9, 10]})
    >>> talking_therapies_summary(ia.talking_therapies_outcomes(data))
                      measure  numerator  denominator  rate
    0                recovery          1            2   0.5
    1    reliable_improvement          1            2   0.5
    2  reliable_deterioration          1            2   0.5
    3       reliable_recovery          1            2   0.5
    """
    needed = ["finished", "caseness_pre", "recovered", "reliable_improvement",
              "reliable_deterioration", "reliable_recovery"]
    missing = [c for c in needed if c not in getattr(outcomes, "columns", [])]
    if missing:
        raise ParameterError(
            "The 'outcomes' parameter of talking_therapies_summary() must be the table returned "
            f"by talking_therapies_outcomes(); columns {missing} are missing."
        )
    finished = outcomes["finished"].to_numpy(dtype=bool)
    not_case = finished & ~outcomes["caseness_pre"].fillna(False).to_numpy(dtype=bool)
    n_finished, n_not_case = int(finished.sum()), int(not_case.sum())

    def count(column: str) -> int:
        return int(outcomes[column].fillna(False).to_numpy(dtype=bool)[finished].sum())

    rows: list[dict[str, Any]] = []
    for measure, denominator in (
        ("recovery", n_finished - n_not_case),
        ("reliable_improvement", n_finished),
        ("reliable_deterioration", n_finished),
        ("reliable_recovery", n_finished - n_not_case),
    ):
        column = "recovered" if measure == "recovery" else measure
        numerator = count(column)
        rows.append({"measure": measure, "numerator": numerator, "denominator": denominator,
                     "rate": numerator / denominator if denominator else float("nan")})
    out = pd.DataFrame(rows)
    out.attrs.update(finished=n_finished, not_at_caseness=n_not_case)
    return out
