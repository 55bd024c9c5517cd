"""Simulated routine-outcome-monitoring data with known, injected harm.

The simulator draws a cohort of patients treated by a group of therapists, one row per scheduled
session, with PHQ-9 and GAD-7 totals, the PHQ-9 risk item, attendance and dates, and then injects
harm into a known share of the courses. It returns the data and the ground truth, one row per
injected harm, so that every detector can be scored against what really happened.

Everything is vectorised over a ``(patient, session)`` grid: no Python loop runs over patients,
so a million patients take seconds. Each model component draws from its own random stream
(``numpy.random.SeedSequence`` children keyed by a fixed index), so that adding a new harm later
does not change the numbers of the components that already exist.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_number
from ..exceptions import DataQualityWarning, ParameterError, ParameterTypeError

__all__ = ["ATTENDANCE", "HARMS_SIMULATED", "TRUTH_COLUMNS", "simulate"]

_CALLER = "simulate"

#: Values of the ``attendance`` column, in category order.
ATTENDANCE: tuple[str, ...] = ("attended", "cancelled", "dna")

#: Harms the simulator can inject (names shared with ``iatrogenic.detectors.HARMS``).
HARMS_SIMULATED: tuple[str, ...] = (
    "deterioration",
    "sudden_worsening",
    "self_harm",
    "disengagement",
)

#: Columns of the truth table, in order.
TRUTH_COLUMNS: tuple[str, ...] = ("patient", "harm", "onset", "magnitude")

# Random streams: one per model component, keyed by a fixed index. Never renumber: the bundled
# example data are regenerated from these streams. New components take new indices.
_STREAMS: dict[str, int] = {
    "patients": 0,
    "therapists": 1,
    "schedule": 2,
    "noise": 3,
    "risk_item": 4,
    "dates": 5,
    "disengagement": 10,
    "deterioration": 11,
    "sudden_worsening": 12,
    "self_harm": 13,
}

# Intake severity and course shape. Intake PHQ-9 in NHS Talking Therapies averages about 15-16
# (SD about 5-6) and GAD-7 about 13 (SD about 4.5); the latent values below are a little narrower
# because measurement noise is added on top. Slopes are per unit of log(session): a mean of -3.0
# takes a PHQ-9 of 15.5 to about 8 by session 12; with dropout and noise about 60% of patients
# improve reliably and 40% recover, a little below the rates the service reports (about two thirds
# and one half), which leaves room for the harms to show.
# Order: PHQ-9 intake, GAD-7 intake, PHQ-9 slope, GAD-7 slope.
_LATENT_MEAN = np.array([15.5, 13.0, -3.0, -2.5])
_LATENT_SD = np.array([4.6, 4.1, 1.5, 1.3])
_LATENT_CORR = np.array(
    [
        [1.00, 0.70, -0.35, -0.25],
        [0.70, 1.00, -0.25, -0.35],
        [-0.35, -0.25, 1.00, 0.70],
        [-0.25, -0.35, 0.70, 1.00],
    ]
)
_GAD_NOISE_RATIO = 0.85  # GAD-7 noise SD relative to PHQ-9's (shorter scale)
_GAD_THERAPIST_RATIO = 0.8  # GAD-7 slope shares most of the therapist effect
_GAD_DETERIORATION_RATIO = 0.5  # anxiety worsens along with depression, but less
_PHQ_HIGH, _GAD_HIGH, _ITEM_HIGH = 27, 21, 3
_INTAKE_WINDOW_DAYS = 365  # referrals arrive over a year from start_date


@dataclass
class _Cohort:
    """The simulation state on the ``(patient, session)`` grid, shared by the harm helpers.

    Arrays of shape ``(n, S)`` are indexed by patient and ``session - 1``.
    """

    n: int
    n_sessions: int
    log_t: np.ndarray  # (S,) log(session)
    intake_phq: np.ndarray  # (n,) latent intake
    slope_phq: np.ndarray  # (n,)
    intake_gad: np.ndarray
    slope_gad: np.ndarray
    mu_phq: np.ndarray  # (n, S) expected course
    mu_gad: np.ndarray
    last: np.ndarray  # (n,) last scheduled session (course length)
    visible_end: np.ndarray  # (n,) last session at which a score can still be observed
    attendance: np.ndarray  # (n, S) int8 codes into ATTENDANCE
    extra_gap: np.ndarray  # (n, S) extra days added before a session
    truth: list[pd.DataFrame]
    jumps: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # sudden losses: (who, onset, jump)
    risk: list[tuple[np.ndarray, np.ndarray]]  # self-harm: (who, item 9 values (k, S))


def _streams(seed: int | None) -> dict[str, np.random.Generator]:
    root = np.random.SeedSequence(seed)
    return {
        name: np.random.default_rng(
            np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, index))
        )
        for name, index in _STREAMS.items()
    }


def _ids(prefix: str, n: int, min_width: int) -> pd.Index:
    """Zero-padded ids ``prefix + 1..n``; numpy string ops make a million in a fraction of a
    second, where a Python loop takes several times longer."""
    width = max(min_width, len(str(n)))
    return pd.Index(np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)))


def _choose(
    rng: np.random.Generator, eligible: np.ndarray, rate: float, n: int, harm: str
) -> np.ndarray:
    """Choose exactly ``round(rate * n)`` patients among the eligible ones (sorted positions)."""
    wanted = round(rate * n)
    pool = np.flatnonzero(eligible)
    if wanted > len(pool):
        warnings.warn(
            f"simulate(): {harm} was requested for {wanted} patients, but only {len(pool)} "
            "courses are long enough to show it, so only those get it. Suggestion: raise "
            "n_sessions or lower dropout_rate.",
            DataQualityWarning,
            stacklevel=4,
        )
        wanted = len(pool)
    if wanted == 0:
        return np.empty(0, dtype=np.int64)
    return np.sort(rng.choice(pool, size=wanted, replace=False)).astype(np.int64)


def _onsets(rng: np.random.Generator, low: int, high: np.ndarray) -> np.ndarray:
    """One onset per patient, uniform on ``low..high`` (``high`` per patient, inclusive)."""
    return rng.integers(low, high + 1).astype(np.int64) if len(high) else high.astype(np.int64)


def _truth_rows(
    who: np.ndarray, harm: str, onset: np.ndarray, magnitude: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient": who,
            "harm": harm,
            "onset": onset.astype(np.int64),
            "magnitude": np.asarray(magnitude, dtype=np.float64),
        }
    )


# --------------------------------------------------------------------------------------------
# Harm helpers: one per harm. Each chooses its patients among those whose course is long enough
# to show it, changes the cohort in place and appends its truth rows. They run in the order of
# ``simulate`` because disengagement shortens courses and the others must fit in what is left.
# --------------------------------------------------------------------------------------------


def _inject_disengagement(c: _Cohort, rng: np.random.Generator, rate: float) -> None:
    """Missed sessions accumulate, gaps lengthen, then the course ends unplanned.

    From the onset session (4 or later, so that the patient attended a few sessions first) the
    patient misses two or three sessions in a row, the first a DNA, with rebooking gaps of about
    two weeks, and the course ends there. ``magnitude`` is the number of missed sessions.
    """
    # Needs a few attended sessions before the onset and two sessions to miss.
    eligible = np.full(c.n, c.n_sessions >= 5)
    who = _choose(rng, eligible, rate, c.n, "disengagement")
    onset = _onsets(rng, 4, np.full(len(who), c.n_sessions - 1))
    missed = rng.integers(2, 4, size=len(who))
    last = np.minimum(onset + missed - 1, c.n_sessions)
    missed = last - onset + 1
    sessions = np.arange(1, c.n_sessions + 1)
    in_run = (sessions >= onset[:, None]) & (sessions <= last[:, None])
    # The first missed session is a DNA; later ones are DNAs or patient cancellations.
    kind = np.where(rng.random((len(who), c.n_sessions)) < 0.7, 2, 1).astype(np.int8)
    kind[sessions == onset[:, None]] = 2
    c.attendance[who] = np.where(in_run, kind, c.attendance[who])
    c.extra_gap[who] += np.where(in_run, rng.integers(5, 11, size=in_run.shape), 0)
    c.last[who] = last
    c.visible_end[who] = onset - 1
    c.truth.append(_truth_rows(who, "disengagement", onset, missed))


def _inject_deterioration(c: _Cohort, rng: np.random.Generator, rate: float) -> None:
    """From the onset the course turns worse and climbs, over three sessions, to a plateau.

    The plateau lies ``magnitude`` points (uniform 7-12 on PHQ-9, one decimal) above the intake
    level, so the change from intake to the last score is typically a reliable deterioration (it
    may be smaller for patients near the ceiling of the scale). The onset lies at least two
    sessions before the last observable session, which is always attended, so the plateau is
    seen.
    """
    end = c.visible_end
    who = _choose(rng, end >= 4, rate, c.n, "deterioration")
    onset = _onsets(rng, 2, end[who] - 2)
    rise = np.round(rng.uniform(7.0, 12.0, size=len(who)), 1)
    before = c.intake_phq[who] + c.slope_phq[who] * c.log_t[onset - 2]
    target = c.intake_phq[who] + rise
    sessions = np.arange(1, c.n_sessions + 1)
    ramp = np.clip((sessions - onset[:, None] + 1) / 3.0, 0.0, 1.0)
    new_phq = before[:, None] + (target - before)[:, None] * ramp
    delta = np.where(ramp > 0, new_phq - c.mu_phq[who], 0.0)
    c.mu_phq[who] += delta
    c.mu_gad[who] += _GAD_DETERIORATION_RATIO * delta
    c.attendance[who, end[who] - 1] = 0
    c.truth.append(_truth_rows(who, "deterioration", onset, rise))


def _inject_sudden_worsening(c: _Cohort, rng: np.random.Generator, rate: float) -> None:
    """A jump of 7-10 PHQ-9 points between two adjacent sessions that persists.

    The onset is the session after the jump (3 or later, at least two sessions before the last
    observable one); the sessions before, at and after it are attended. From the onset the
    expected course stays flat at the jumped level, and the jump is fixed exactly in the observed
    scores afterwards (see ``_apply_jumps``). ``magnitude`` is the jump in points.
    """
    end = c.visible_end
    who = _choose(rng, end >= 5, rate, c.n, "sudden_worsening")
    onset = _onsets(rng, 3, end[who] - 2)
    jump = rng.integers(7, 11, size=len(who)).astype(np.float64)
    sessions = np.arange(1, c.n_sessions + 1)
    # Recovery stalls at the new level: without this the log-shaped improvement would carry on
    # and wear the jump away within a few sessions.
    level = c.mu_phq[who, onset - 1] + jump
    c.mu_phq[who] = np.where(sessions >= onset[:, None], level[:, None], c.mu_phq[who])
    for offset in (-1, 0, 1):
        c.attendance[who, onset - 1 + offset] = 0
    c.jumps.append((who, onset, jump))
    c.truth.append(_truth_rows(who, "sudden_worsening", onset, jump))


def _inject_self_harm(c: _Cohort, rng: np.random.Generator, rate: float) -> None:
    """PHQ-9 item 9 is 0 before the onset, 2 or 3 at it (attended), then stays endorsed (1-3).

    ``magnitude`` is the item score at the onset.
    """
    end = c.visible_end
    who = _choose(rng, end >= 2, rate, c.n, "self_harm")
    onset = _onsets(rng, 2, end[who])
    at_onset = np.where(rng.random(len(who)) < 0.7, 2.0, 3.0)
    later = rng.choice(np.array([1.0, 2.0, 3.0]), p=[0.3, 0.5, 0.2], size=(len(who), c.n_sessions))
    sessions = np.arange(1, c.n_sessions + 1)
    items = np.where(
        sessions < onset[:, None],
        0.0,
        np.where(sessions == onset[:, None], at_onset[:, None], later),
    )
    c.attendance[who, onset - 1] = 0
    c.risk.append((who, items))
    c.truth.append(_truth_rows(who, "self_harm", onset, at_onset))


def _apply_jumps(c: _Cohort, phq: np.ndarray) -> None:
    """Make each injected sudden loss exactly ``jump`` points or more in the observed scores.

    Noise could shrink a simulated jump below 7 points, and the ceiling could swallow it; the
    score before the jump is lowered where needed so that the score after it stays at most 24
    (consistent with any item-9 value, see ``_risk_item``).
    """
    for who, onset, jump in c.jumps:
        pre = np.minimum(phq[who, onset - 2], 24.0 - jump)
        phq[who, onset - 2] = pre
        phq[who, onset - 1] = np.maximum(phq[who, onset - 1], pre + jump)


def _risk_item(
    c: _Cohort, rng: np.random.Generator, phq: np.ndarray, intake_latent: np.ndarray
) -> np.ndarray:
    """PHQ-9 item 9, consistent with the total (item <= total, total - item <= 24).

    Without injected self-harm the item starts at a level that depends on intake severity (about
    35% endorse it at intake, 12% score 2 or more) and does not rise: it follows the total down as
    the patient improves. (The caller raises it where the total exceeds 24, which the scale
    requires.)
    """
    z = 0.6 * (intake_latent - _LATENT_MEAN[0]) / _LATENT_SD[0] + 0.8 * rng.standard_normal(c.n)
    baseline = (z > 0.385).astype(np.float64) + (z > 1.175) + (z > 1.75)
    baseline = np.minimum(baseline, phq[:, 0])
    ratio = phq / np.maximum(phq[:, :1], 1.0)
    item = np.minimum(baseline[:, None], np.rint(baseline[:, None] * ratio))
    item = np.minimum.accumulate(item, axis=1)
    for who, values in c.risk:
        item[who] = values
    return item


def _record_forced_risk(c: _Cohort, item: np.ndarray, patient_last: np.ndarray) -> None:
    """Add a self-harm truth row wherever item 9 rose from 0 to 2+ because the total rose.

    A PHQ-9 total of 26 or 27 needs item 9 at 2 or more, so a deteriorating patient who climbs
    that high after scoring 0 on the item does report self-harm ideation. The truth must say so,
    so that "every rise of item 9 from 0 to 2 or more has a truth row" holds. ``magnitude`` is
    the item score at the onset.
    """
    injected = np.zeros(c.n, dtype=bool)
    for who, _values in c.risk:
        injected[who] = True
    sessions = np.arange(1, c.n_sessions + 1)
    visible = sessions <= patient_last[:, None]
    zero_before = np.zeros_like(visible)
    zero_before[:, 1:] = np.minimum.accumulate(item, axis=1)[:, :-1] == 0
    rise = (item >= 2) & zero_before & visible & ~injected[:, None]
    who = np.flatnonzero(rise.any(axis=1))
    onset = rise[who].argmax(axis=1) + 1
    if len(who):
        c.truth.append(_truth_rows(who, "self_harm", onset, item[who, onset - 1]))


def _check_rate(value: Any, name: str) -> float:
    return float(check_number(value, name=name, caller=_CALLER, low=0.0, high=1.0))


def _check_start(start_date: Any) -> np.datetime64:
    if not isinstance(start_date, (str, _dt.date, np.datetime64, pd.Timestamp)):
        raise ParameterTypeError(
            f"The 'start_date' parameter of {_CALLER}() must be a date or an ISO date string "
            f"such as '2024-01-08'. Got {start_date!r} of type {type(start_date).__name__} instead."
        )
    try:
        stamp = pd.Timestamp(start_date)
    except (ValueError, TypeError) as error:
        raise ParameterError(
            f"The 'start_date' parameter of {_CALLER}() must be a date or an ISO date string "
            f"such as '2024-01-08'. Got {start_date!r} instead."
        ) from error
    if stamp is pd.NaT:
        raise ParameterError(
            f"The 'start_date' parameter of {_CALLER}() must be a date. Got {start_date!r}."
        )
    return np.datetime64(stamp.date(), "D")


def simulate(
    n_patients: int = 600,
    n_therapists: int = 30,
    *,
    n_sessions: int = 12,
    deterioration_rate: float = 0.08,
    sudden_loss_rate: float = 0.04,
    risk_rate: float = 0.04,
    disengagement_rate: float = 0.04,
    dropout_rate: float = 0.25,
    dna_rate: float = 0.08,
    cancel_rate: float = 0.05,
    noise_sd: float = 2.0,
    therapist_sd: float = 0.4,
    start_date: str | _dt.date | np.datetime64 = "2024-01-08",
    seed: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate routine outcome monitoring in a psychological therapy service, with known harm.

    Each patient has a log-shaped recovery course ``intake + slope * log(session)`` on PHQ-9 and
    GAD-7 (correlated random intercepts and slopes, a therapist random effect on the slope,
    measurement noise, rounding and clipping to the instrument range). Courses may end early
    (dropout) and sessions may be missed. A known share of patients then gets each harm, and the
    truth table says who, which harm and from which session.

    Parameters
    ----------
    n_patients : int, default 600
        Number of patients (at least 1).
    n_therapists : int, default 30
        Number of therapists (at least 1). Caseloads vary (Dirichlet weights); when
        ``n_patients >= n_therapists`` every therapist has at least one patient.
    n_sessions : int, default 12
        Scheduled sessions per course (2 to 200), including the intake session 1.
    deterioration_rate : float, default 0.08
        Share of patients whose course turns worse from an onset session and climbs to 7-12
        PHQ-9 points above intake (reliable deterioration; "harmed" when they start below the
        clinical cut-off and end above it).
    sudden_loss_rate : float, default 0.04
        Share of patients with a sudden worsening: a jump of 7-10 PHQ-9 points between adjacent
        attended sessions that persists.
    risk_rate : float, default 0.04
        Share of patients whose PHQ-9 item 9 rises from 0 to 2 or 3 (self-harm ideation).
    disengagement_rate : float, default 0.04
        Share of patients who disengage: two or three missed sessions in a row with lengthening
        gaps, then an unplanned ending.
    dropout_rate : float, default 0.25
        Share of patients (besides the disengaging ones) whose course ends before ``n_sessions``
        at a uniformly drawn session; not a harm, and it leaves no pattern of missed sessions.
    dna_rate, cancel_rate : float, default 0.08 and 0.05
        Probability that a session after the intake is a DNA (did not attend) or cancelled.
        Their sum must be below 1.
    noise_sd : float, default 2.0
        SD of measurement noise on PHQ-9 (GAD-7 gets 0.85 of it), in points.
    therapist_sd : float, default 0.4
        SD of the therapist random effect on the PHQ-9 slope, in points per unit of
        log(session).
    start_date : str or date, default "2024-01-08"
        Earliest intake date; intakes are spread uniformly over the following year.
    seed : int, optional
        Seed of the random streams (non-negative). The same seed gives identical output.

    Returns
    -------
    data : DataFrame
        Long format, one row per patient and scheduled session up to the end of the course
        (sessions after dropout do not exist), sorted by patient and session:

        - ``patient`` (category of str): patient id, ``"P00001"``, ``"P00002"``..., zero-padded
          to the width of ``n_patients`` (at least 5 digits); categories in id order.
        - ``therapist`` (category of str): therapist id, ``"T01"``..., zero-padded (at least 2
          digits); categories are all ``n_therapists`` ids.
        - ``session`` (int64): scheduled session number, 1 (intake) to the course's last.
        - ``date`` (datetime64[ns]): session date; weekly with a jitter of up to 3 days, gaps of
          about two weeks while a patient disengages.
        - ``attendance`` (category): ``"attended"``, ``"cancelled"`` or ``"dna"``; the intake is
          always attended.
        - ``phq9`` (float64): PHQ-9 total, whole numbers 0-27; NaN when the session was missed.
        - ``gad7`` (float64): GAD-7 total, whole numbers 0-21; NaN when missed.
        - ``phq9_item9`` (float64): PHQ-9 item 9 (thoughts of self-harm), whole numbers 0-3,
          with ``phq9_item9 <= phq9`` and ``phq9 - phq9_item9 <= 24``; NaN when missed.
        - ``age`` (int64): age at intake in years (18-80), constant within a patient.
    truth : DataFrame
        One row per injected harm, sorted by patient, onset and harm. Patients without injected
        harm have no row; a patient may have several harms.

        - ``patient`` (category): as in ``data``, same categories.
        - ``harm`` (str): ``"deterioration"``, ``"sudden_worsening"``, ``"self_harm"`` or
          ``"disengagement"``.
        - ``onset`` (int64): session at which the harm begins: the first session of the worse
          course, the session after the jump, the first session with item 9 of 2 or more, the
          first missed session of the disengagement.
        - ``magnitude`` (float64): size of the harm: the planned rise above intake in PHQ-9 points
          (deterioration), the jump in points (sudden worsening), item 9 at the onset
          (self-harm), the number of missed sessions before the ending (disengagement).

    Raises
    ------
    ParameterError, ParameterTypeError
        For a parameter out of range or of the wrong type.

    Warns
    -----
    DataQualityWarning
        When fewer courses are long enough to show a harm than its rate asks for.

    See Also
    --------
    iatrogenic.datasets.load_example : the bundled example made by this function.

    Notes
    -----
    Without injected harm a course never trends worse (the slope is capped at 0) and item 9 does
    not rise, so the truth is clean by construction. One exception is kept and recorded: the
    scale needs item 9 of 2 or more for a total of 26-27, so a patient (usually a deteriorating
    one) who climbs that high after scoring 0 on the item gets a ``self_harm`` row too; every
    rise of item 9 from 0 to 2 or more in the data has a truth row. Measurement noise alone
    still makes a few patients look reliably worse or show a noisy jump: those are the false
    positives a detector has to live with, and they have no truth row.

    A harm is only given to a patient whose course is long enough to show it, and the sessions
    that show it are attended. Patients are chosen for each harm independently, so harms can
    co-occur. Rates are shares: ``round(rate * n_patients)`` patients get each harm (the
    ``self_harm`` rows may be more, see above). Each component draws from its own random
    stream, so changing one harm's rate does not change who gets the others.

    Examples
    --------
    >>> from iatrogenic.datasets import simulate
    >>> data, truth = simulate(n_patients=40, n_therapists=4, seed=7)
    >>> data.columns.tolist()
    ['patient', 'therapist', 'session', 'date', 'attendance', 'phq9', 'gad7', 'phq9_item9', 'age']
    >>> int(data["session"].max())
    12
    >>> truth.columns.tolist()
    ['patient', 'harm', 'onset', 'magnitude']
    >>> data2, truth2 = simulate(n_patients=40, n_therapists=4, seed=7)
    >>> data.equals(data2) and truth.equals(truth2)
    True
    """
    n = int(check_number(n_patients, name="n_patients", caller=_CALLER, low=1, integer=True))
    n_t = int(check_number(n_therapists, name="n_therapists", caller=_CALLER, low=1, integer=True))
    S = int(
        check_number(n_sessions, name="n_sessions", caller=_CALLER, low=2, high=200, integer=True)
    )
    rates = {
        name: _check_rate(value, name)
        for name, value in {
            "deterioration_rate": deterioration_rate,
            "sudden_loss_rate": sudden_loss_rate,
            "risk_rate": risk_rate,
            "disengagement_rate": disengagement_rate,
            "dropout_rate": dropout_rate,
            "dna_rate": dna_rate,
            "cancel_rate": cancel_rate,
        }.items()
    }
    if rates["dna_rate"] + rates["cancel_rate"] >= 1.0:
        raise ParameterError(
            f"The 'dna_rate' and 'cancel_rate' parameters of {_CALLER}() must sum to less than 1. "
            f"Got {dna_rate!r} + {cancel_rate!r}. Suggestion: typical services see 0.05-0.15 each."
        )
    noise = float(check_number(noise_sd, name="noise_sd", caller=_CALLER, low=0.0))
    t_sd = float(check_number(therapist_sd, name="therapist_sd", caller=_CALLER, low=0.0))
    start = _check_start(start_date)
    seed = check_number(seed, name="seed", caller=_CALLER, low=0, integer=True, allow_none=True)
    rng = _streams(seed)

    # Patients: correlated latent intake and slope on both measures, age.
    g = rng["patients"]
    chol = np.linalg.cholesky(_LATENT_CORR)
    latent = _LATENT_MEAN + (g.standard_normal((n, 4)) @ chol.T) * _LATENT_SD
    age = np.clip(np.rint(g.normal(38.0, 13.0, size=n)), 18, 80).astype(np.int64)

    # Therapists: unequal caseloads, a random effect on the slope.
    g = rng["therapists"]
    weights = g.dirichlet(np.full(n_t, 4.0))
    therapist = g.choice(n_t, size=n, p=weights)
    if n >= n_t:
        therapist[g.choice(n, size=n_t, replace=False)] = np.arange(n_t)
    effect = g.normal(0.0, t_sd, size=n_t)
    slope_phq = np.minimum(latent[:, 2] + effect[therapist], 0.0)
    slope_gad = np.minimum(latent[:, 3] + _GAD_THERAPIST_RATIO * effect[therapist], 0.0)

    # Schedule: dropout, missed sessions (the intake is always attended).
    g = rng["schedule"]
    drops = g.random(n) < rates["dropout_rate"]
    last = np.where(drops, g.integers(1, S, size=n), S).astype(np.int64)
    u = g.random((n, S))
    attendance = np.where(
        u < rates["dna_rate"], 2, np.where(u < rates["dna_rate"] + rates["cancel_rate"], 1, 0)
    ).astype(np.int8)
    attendance[:, 0] = 0

    sessions = np.arange(1, S + 1)
    log_t = np.log(sessions.astype(np.float64))
    cohort = _Cohort(
        n=n,
        n_sessions=S,
        log_t=log_t,
        intake_phq=latent[:, 0],
        slope_phq=slope_phq,
        intake_gad=latent[:, 1],
        slope_gad=slope_gad,
        mu_phq=latent[:, :1] + slope_phq[:, None] * log_t,
        mu_gad=latent[:, 1:2] + slope_gad[:, None] * log_t,
        last=last,
        visible_end=last.copy(),
        attendance=attendance,
        extra_gap=np.zeros((n, S), dtype=np.int64),
        truth=[],
        jumps=[],
        risk=[],
    )

    # Harms. Disengagement goes first: it decides where some courses end.
    _inject_disengagement(cohort, rng["disengagement"], rates["disengagement_rate"])
    _inject_deterioration(cohort, rng["deterioration"], rates["deterioration_rate"])
    _inject_sudden_worsening(cohort, rng["sudden_worsening"], rates["sudden_loss_rate"])
    _inject_self_harm(cohort, rng["self_harm"], rates["risk_rate"])

    # Observed scores: noise, rounding, clipping; then item 9 and the constraints that tie it to
    # the total; then the exact sudden jumps (which keep those constraints, see _apply_jumps).
    g = rng["noise"]
    phq = np.clip(np.rint(cohort.mu_phq + noise * g.standard_normal((n, S))), 0, _PHQ_HIGH)
    gad = np.clip(
        np.rint(cohort.mu_gad + _GAD_NOISE_RATIO * noise * g.standard_normal((n, S))), 0, _GAD_HIGH
    )
    item9 = _risk_item(cohort, rng["risk_item"], phq, latent[:, 0])
    # A total above 24 is only possible with item 9 endorsed. Where self-harm was injected the
    # item is fixed and the total gives way (so the item rises at the onset, not before);
    # elsewhere the item follows such a total up (the one way it can rise without injected
    # self-harm, recorded in the truth below). A total below the item is raised.
    fixed_item = np.zeros(n, dtype=bool)
    for who, _values in cohort.risk:
        fixed_item[who] = True
    ceiling = _PHQ_HIGH - _ITEM_HIGH
    phq[fixed_item] = np.minimum(phq[fixed_item], item9[fixed_item] + ceiling)
    item9 = np.maximum(item9, phq - ceiling)
    phq = np.maximum(phq, item9)
    _record_forced_risk(cohort, item9, patient_last=cohort.visible_end)
    _apply_jumps(cohort, phq)

    # Dates: intake spread over a year, then weekly with jitter (and the disengagement gaps).
    g = rng["dates"]
    intake_day = g.integers(0, _INTAKE_WINDOW_DAYS, size=n)
    gaps = 7 + np.clip(np.rint(g.normal(0.0, 1.2, size=(n, S))), -3, 3).astype(np.int64)
    gaps += cohort.extra_gap
    gaps[:, 0] = intake_day
    days = np.cumsum(gaps, axis=1)

    missed = cohort.attendance != 0
    for scores in (phq, gad, item9):
        scores[missed] = np.nan

    exists = sessions <= cohort.last[:, None]
    rows = exists.sum(axis=1)
    patient_codes = np.repeat(np.arange(n), rows)
    patient_dtype = pd.CategoricalDtype(_ids("P", n, 5))
    therapist_dtype = pd.CategoricalDtype(_ids("T", n_t, 2))
    data = pd.DataFrame(
        {
            "patient": pd.Categorical.from_codes(patient_codes, dtype=patient_dtype),
            "therapist": pd.Categorical.from_codes(therapist[patient_codes], dtype=therapist_dtype),
            "session": np.broadcast_to(sessions, (n, S))[exists].astype(np.int64),
            "date": (start + days[exists].astype("timedelta64[D]")).astype("datetime64[ns]"),
            "attendance": pd.Categorical.from_codes(
                cohort.attendance[exists], dtype=pd.CategoricalDtype(list(ATTENDANCE))
            ),
            "phq9": phq[exists],
            "gad7": gad[exists],
            "phq9_item9": item9[exists],
            "age": age[patient_codes],
        },
        copy=False,  # every column is a fresh array; copying 10M rows would double the time
    )

    truth = (
        pd.concat(cohort.truth, ignore_index=True)
        if cohort.truth
        else _truth_rows(np.empty(0, dtype=np.int64), "", np.empty(0), np.empty(0))
    )
    truth = truth.sort_values(["patient", "onset", "harm"], kind="stable", ignore_index=True)
    truth["patient"] = pd.Categorical.from_codes(truth["patient"].to_numpy(), dtype=patient_dtype)
    truth["harm"] = truth["harm"].astype(str)
    return data, truth.loc[:, list(TRUTH_COLUMNS)]
