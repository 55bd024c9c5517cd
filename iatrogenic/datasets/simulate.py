"""Simulated routine-outcome-monitoring data with known, injected harm of every type.

The simulator draws a cohort of patients treated by a group of therapists, one row per scheduled
session, with PHQ-9 (total and the nine items), GAD-7, the Session Rating Scale (alliance), the
Beck Hopelessness Scale (a secondary measure), attendance, dates and how each course ended, and
optionally a medication table. It then injects every harm of the taxonomy into a known share of
the patients and returns the ground truth, one row per injected harm, so that every detector can
be scored against what really happened (see :func:`iatrogenic.evaluate`).

Everything is vectorised over a ``(patient, session)`` grid: no Python loop runs over patients,
so a million patients take seconds. Each model component draws from its own random stream
(``numpy.random.SeedSequence`` children keyed by a fixed index), so that adding a new harm later
does not change the numbers of the components that already exist.
"""

from __future__ import annotations

import copy
import datetime as _dt
import warnings
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from .._validation import check_number
from ..exceptions import DataQualityWarning, ParameterError, ParameterTypeError

__all__ = [
    "ATTENDANCE",
    "DRUGS",
    "END_REASONS",
    "HARMS_SIMULATED",
    "ITEM_COLUMNS",
    "MEDICATION_COLUMNS",
    "MEDICATION_PROBLEMS",
    "THERAPIST_TRUTH_COLUMNS",
    "TRUTH_COLUMNS",
    "screen_options",
    "simulate",
]

_CALLER = "simulate"

#: Values of the ``attendance`` column, in category order.
ATTENDANCE: tuple[str, ...] = ("attended", "cancelled", "dna")

#: Values of the ``end_reason`` column (set on the last row of each course), in category order.
END_REASONS: tuple[str, ...] = ("planned", "unplanned")

#: The PHQ-9 item columns, in order (item 9 is the self-harm item).
ITEM_COLUMNS: tuple[str, ...] = tuple(f"phq9_item{i}" for i in range(1, 10))

#: Harms the simulator can inject (names shared with ``iatrogenic.detectors.HARMS``).
HARMS_SIMULATED: tuple[str, ...] = (
    "deterioration",
    "sudden_worsening",
    "self_harm",
    "disengagement",
    "alliance_rupture",
    "dependency",
    "symptom_emergence",
    "secondary_worsening",
    "medication",
)

#: Columns of the truth table, in order.
TRUTH_COLUMNS: tuple[str, ...] = ("patient", "harm", "onset", "magnitude")

#: Columns of the therapist truth (``truth.attrs["therapists"]``), in order.
THERAPIST_TRUTH_COLUMNS: tuple[str, ...] = (
    "therapist",
    "harmful",
    "pattern",
    "onset",
    "onset_date",
    "n_patients",
    "odds_ratio",
    "n_injected",
)

#: Columns of the medication table, in order.
MEDICATION_COLUMNS: tuple[str, ...] = ("patient", "start", "stop", "drug", "atc", "dose")

#: The medication problems, by the ``magnitude`` code of a ``medication`` truth row (1-5).
MEDICATION_PROBLEMS: dict[int, str] = {
    1: "polypharmacy",  # three or more concurrent psychotropics of different classes
    2: "duplicate_class",  # two concurrent psychotropics of the same class
    3: "long_benzodiazepine",  # benzodiazepine or Z-drug course beyond 4 weeks
    4: "abrupt_stop",  # antidepressant stopped from the full dose, without a taper
    5: "minor",  # a psychotropic in a patient under 18
}

#: Drugs of the medication table: name -> (ATC code, usual full daily dose in mg).
DRUGS: dict[str, tuple[str, float]] = {
    "sertraline": ("N06AB06", 100.0),
    "fluoxetine": ("N06AB03", 20.0),
    "citalopram": ("N06AB04", 20.0),
    "mirtazapine": ("N06AX11", 30.0),
    "venlafaxine": ("N06AX16", 150.0),
    "diazepam": ("N05BA01", 10.0),
    "lorazepam": ("N05BA06", 2.0),
    "zopiclone": ("N05CF01", 7.5),
    "zolpidem": ("N05CF02", 10.0),
    "quetiapine": ("N05AH04", 150.0),
    "olanzapine": ("N05AH03", 10.0),
    "aripiprazole": ("N05AX12", 10.0),
    "lithium": ("N05AN01", 800.0),
    "methylphenidate": ("N06BA04", 36.0),
    "lamotrigine": ("N03AX09", 200.0),
    "pregabalin": ("N03AX16", 300.0),
}
_DRUG_NAMES = np.array(list(DRUGS), dtype=object)
_DRUG_ATC = np.array([atc for atc, _ in DRUGS.values()], dtype=object)
_DRUG_DOSE = np.array([dose for _, dose in DRUGS.values()])
_DRUG_INDEX = {name: i for i, name in enumerate(DRUGS)}


def _drug_ids(*names: str) -> np.ndarray:
    return np.array([_DRUG_INDEX[name] for name in names], dtype=np.int64)


_ANTIDEPRESSANTS = _drug_ids("sertraline", "fluoxetine", "citalopram", "mirtazapine", "venlafaxine")
_SSRIS = _drug_ids("sertraline", "fluoxetine", "citalopram")
_BENZODIAZEPINES = _drug_ids("diazepam", "lorazepam")
_SEDATIVES = _drug_ids("diazepam", "lorazepam", "zopiclone", "zolpidem")
_SECOND_CLASS = _drug_ids("quetiapine", "olanzapine", "aripiprazole", "lithium", "lamotrigine")
_FOR_MINORS = _drug_ids("fluoxetine", "sertraline", "methylphenidate", "aripiprazole")
_PREGABALIN = _drug_ids("pregabalin")
_NO_STOP = np.iinfo(np.int64).min  # day offset standing for an ongoing prescription (NaT)

# Random streams: one per model component, keyed by a fixed index. Never renumber: the bundled
# example data are regenerated from these streams. New components take new indices.
_STREAMS: dict[str, int] = {
    "patients": 0,
    "therapists": 1,
    "schedule": 2,
    "noise": 3,
    "risk_item": 4,
    "dates": 5,
    "items": 6,
    "srs": 7,
    "bhs": 8,
    "course": 9,
    "disengagement": 10,
    "deterioration": 11,
    "sudden_worsening": 12,
    "self_harm": 13,
    "alliance_rupture": 14,
    "dependency": 15,
    "symptom_emergence": 16,
    "secondary_worsening": 17,
    "medication": 18,
    "medication_table": 19,
    "minors": 20,
    "harmful_therapists": 21,
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
_PHQ_HIGH, _GAD_HIGH, _ITEM_HIGH, _SRS_HIGH, _BHS_HIGH = 27, 21, 3, 40.0, 20
_INTAKE_WINDOW_DAYS = 365  # referrals arrive over a year from start_date
_DEFAULT_MIN_SESSIONS = 6
# Dependency courses run 4 to 14 sessions past the longest planned course (20-30 with the
# default n_sessions=16); the grid is always that wide, whatever the rate, so that switching
# dependency on or off does not change the random numbers of the other components.
_DEPENDENCY_EXTRA = (4, 14)
# PHQ-9 items 1-8: mean weights of the item profile (sleep and tiredness score highest, moving
# slowly / restlessness lowest, as in primary-care samples). Each patient's profile is drawn once
# from a Dirichlet distribution with these means and concentration _ITEM_CONCENTRATION (a
# coefficient of variation of about 0.5 per item between patients).
_ITEM_WEIGHTS = np.array([1.1, 1.2, 1.3, 1.4, 1.1, 1.0, 1.0, 0.6])
_ITEM_CONCENTRATION = 30.0
# PHQ-9 item 9 at intake, without injected self-harm: thresholds on a standard normal score that
# mixes intake severity (weight 0.6) and a patient-level factor (weight 0.8): about 18% of patients
# endorse the item (score 1 or more), about 6% score 2 or more and 2% score 3. Simon et al. (2013)
# report that up to 10% of outpatients completing the PHQ-9 for depression answer item 9 "more
# than half the days" or "nearly every day"; the share endorsing it at all (10-25% of treated
# patients) is an assumption of the simulator, not a sourced figure.
_ITEM9_CUTS = (0.915, 1.555, 2.054)
# Deterioration is given to patients whose latent intake leaves room on the scale for its smallest
# rise (7 points) below a total of 24, the most a patient who does not endorse item 9 can score.
_DETERIORATION_ROOM = 24.0 - 7.0
_GAD_CASENESS = 8
_SRS_CONCERN = 36.0
_BHS_RISE = 6
_BHS_NOISE = 1.0


@dataclass
class _Cohort:
    """The simulation state on the ``(patient, session)`` grid, shared by the harm helpers.

    Arrays of shape ``(n, S)`` are indexed by patient and ``session - 1``; ``S`` is the width of
    the grid (the longest possible course), ``n_sessions`` the longest planned course.
    """

    n: int
    n_sessions: int
    width: int
    log_t: np.ndarray  # (S,) log(session)
    intake_phq: np.ndarray  # (n,) latent intake
    slope_phq: np.ndarray  # (n,)
    intake_gad: np.ndarray
    slope_gad: np.ndarray
    mu_phq: np.ndarray  # (n, S) expected course
    mu_gad: np.ndarray
    last: np.ndarray  # (n,) last scheduled session (course length)
    visible_end: np.ndarray  # (n,) last session before which a harm must fit (and show)
    unplanned: np.ndarray  # (n,) bool: the course ended unplanned (dropout, disengagement)
    attendance: np.ndarray  # (n, S) int8 codes into ATTENDANCE
    extra_gap: np.ndarray  # (n, S) days added to (or taken from) the gap before a session
    truth: list[pd.DataFrame]
    jumps: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # sudden losses: (who, onset, jump)
    risk: list[tuple[np.ndarray, np.ndarray]]  # self-harm: (who, item 9 values (k, S))
    sudden: np.ndarray  # (n,) bool: a sudden worsening was injected

    @property
    def sessions(self) -> np.ndarray:
        return np.arange(1, self.width + 1)


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
            "courses are long enough (or otherwise able) to show it, so only those get it. "
            "Suggestion: raise n_sessions or lower dropout_rate.",
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
# ``simulate``: disengagement shortens courses and dependency lengthens some, and the others
# must fit in what is left.
# --------------------------------------------------------------------------------------------


def _inject_disengagement(c: _Cohort, rng: np.random.Generator, rate: float) -> None:
    """Missed sessions accumulate, gaps lengthen, then the course ends unplanned.

    From the onset session (4 or later, so that the patient attended a few sessions first) the
    patient follows one of three patterns, each with rebooking gaps of about two weeks before
    every missed session and an unplanned ending:

    - *run* (40%): two or three missed sessions in a row, the first a DNA;
    - *rising miss rate* (30%): four to six sessions in which misses become more frequent: the
      first is a DNA, the last two are missed, those between are missed half of the time;
    - *after worsening* (30%): as *run*, but the two sessions before the onset show a worsening of
      3-4 PHQ-9 points (below the usual reliable-change threshold): the patient gets worse, then
      stops coming.

    ``magnitude`` is the number of missed sessions from the onset to the end.
    """
    eligible = c.last >= 5
    who = _choose(rng, eligible, rate, c.n, "disengagement")
    k = len(who)
    onset = _onsets(rng, 4, c.last[who] - 1)
    pattern = rng.choice(3, size=k, p=[0.4, 0.3, 0.3])
    run_length = np.where(pattern == 1, rng.integers(4, 7, size=k), rng.integers(2, 4, size=k))
    last = np.minimum(onset + run_length - 1, c.width)
    sessions = c.sessions
    in_run = (sessions >= onset[:, None]) & (sessions <= last[:, None])
    # Missed sessions: all of the run, except, with rising misses, half of those between the
    # first and the last two.
    middle = (sessions > onset[:, None]) & (sessions < last[:, None] - 1)
    attend_middle = (pattern == 1)[:, None] & middle & (rng.random((k, c.width)) < 0.5)
    missed = in_run & ~attend_middle
    # The first missed session is a DNA; later ones are DNAs or patient cancellations.
    kind = np.where(rng.random((k, c.width)) < 0.7, 2, 1).astype(np.int8)
    kind[sessions == onset[:, None]] = 2
    c.attendance[who] = np.where(missed, kind, np.where(in_run, 0, c.attendance[who]))
    c.extra_gap[who] += np.where(missed, rng.integers(5, 11, size=(k, c.width)), 0)
    # Worsening before the end: +3-4 points over the two sessions before the onset.
    worse = pattern == 2
    rise = np.where(worse, np.round(rng.uniform(3.0, 4.0, size=k), 1), 0.0)
    ramp = np.clip((sessions - (onset[:, None] - 3)) / 2.0, 0.0, 1.0)
    c.mu_phq[who] += rise[:, None] * ramp
    c.mu_gad[who] += _GAD_DETERIORATION_RATIO * rise[:, None] * ramp
    c.attendance[who[worse], onset[worse] - 2] = 0
    c.attendance[who[worse], onset[worse] - 3] = 0
    c.last[who] = last
    c.visible_end[who] = onset - 1
    c.unplanned[who] = True
    c.truth.append(_truth_rows(who, "disengagement", onset, missed.sum(axis=1)))


def _inject_dependency(c: _Cohort, rng: np.random.Generator, rate: float) -> None:
    """The course runs far past the expected dose without reliable improvement.

    Among the courses that run to their planned end, the chosen ones continue to 4-14 sessions
    beyond the longest planned course (20-30 sessions with ``n_sessions=16``) and end as planned.
    Their expected PHQ-9 and GAD-7 stay flat (a slope of 0 to -0.5 points per unit of
    log(session): at most about 1.7 points of improvement by session 30), and for half of them
    the sessions come twice a week (every 3-4 days) from the onset on. The onset is the first
    session past the expected dose, ``n_sessions + 1``; ``magnitude`` is the course length.
    """
    eligible = ~c.unplanned
    who = _choose(rng, eligible, rate, c.n, "dependency")
    k = len(who)
    low, high = _DEPENDENCY_EXTRA
    length = c.n_sessions + rng.integers(low, high + 1, size=k)
    slope = rng.uniform(-0.5, 0.0, size=k)
    c.slope_phq[who] = slope
    c.slope_gad[who] = slope * 0.8
    c.mu_phq[who] = c.intake_phq[who, None] + slope[:, None] * c.log_t
    c.mu_gad[who] = c.intake_gad[who, None] + (slope * 0.8)[:, None] * c.log_t
    onset = np.full(k, c.n_sessions + 1, dtype=np.int64)
    frequent = rng.random(k) < 0.5
    closer = np.where(c.sessions >= onset[:, None], -rng.integers(3, 5, size=(k, c.width)), 0)
    c.extra_gap[who[frequent]] += closer[frequent]
    c.last[who] = length
    c.visible_end[who] = length
    c.truth.append(_truth_rows(who, "dependency", onset, length))


def _inject_deterioration(c: _Cohort, rng: np.random.Generator, rate: float) -> np.ndarray:
    """From the onset the course turns worse and climbs, over three sessions, to a plateau.

    The plateau lies ``magnitude`` points (uniform 7-12 on PHQ-9, one decimal) above the intake
    level, so the change from intake to the last score is typically a reliable deterioration (it
    may be smaller where the plateau meets the top of the scale: 24 for a patient who does not
    endorse item 9). Only patients whose latent intake is at most 17 are chosen, so that the
    smallest rise fits below 24. The onset lies at least two sessions before the last observable
    session, which is always attended, so the plateau is seen.

    Returns the patients chosen.
    """
    who = _choose(rng, _deterioration_eligible(c), rate, c.n, "deterioration")
    _deteriorate(c, rng, who)
    return who


def _deterioration_eligible(c: _Cohort) -> np.ndarray:
    """Patients whose course can show an injected deterioration (see ``_inject_deterioration``)."""
    return (c.visible_end >= 4) & (c.intake_phq <= _DETERIORATION_ROOM)


def _deteriorate(c: _Cohort, rng: np.random.Generator, who: np.ndarray) -> None:
    """Inject a deterioration into the patients ``who`` (sorted positions): onset, rise, truth."""
    end = c.visible_end
    onset = _onsets(rng, 2, end[who] - 2)
    rise = np.round(rng.uniform(7.0, 12.0, size=len(who)), 1)
    before = c.intake_phq[who] + c.slope_phq[who] * c.log_t[onset - 2]
    target = c.intake_phq[who] + rise
    ramp = np.clip((c.sessions - onset[:, None] + 1) / 3.0, 0.0, 1.0)
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
    # Recovery stalls at the new level: without this the log-shaped improvement would carry on
    # and wear the jump away within a few sessions.
    level = c.mu_phq[who, onset - 1] + jump
    c.mu_phq[who] = np.where(c.sessions >= onset[:, None], level[:, None], c.mu_phq[who])
    for offset in (-1, 0, 1):
        c.attendance[who, onset - 1 + offset] = 0
    c.jumps.append((who, onset, jump))
    c.sudden[who] = True
    c.truth.append(_truth_rows(who, "sudden_worsening", onset, jump))


def _inject_self_harm(c: _Cohort, rng: np.random.Generator, rate: float) -> None:
    """PHQ-9 item 9 is 0 before the onset, 2 or 3 at it (attended), then stays endorsed.

    After the onset the item keeps a patient-level value (1 for 30% of the patients, 2 for 50%,
    3 for 20%): ideation that has appeared persists at a steady level rather than jumping about.
    The total does not change (items 1-8 give way). ``magnitude`` is the item score at the onset.
    """
    end = c.visible_end
    who = _choose(rng, end >= 2, rate, c.n, "self_harm")
    onset = _onsets(rng, 2, end[who])
    at_onset = np.where(rng.random(len(who)) < 0.7, 2.0, 3.0)
    later = rng.choice(np.array([1.0, 2.0, 3.0]), p=[0.3, 0.5, 0.2], size=len(who))
    items = np.where(
        c.sessions < onset[:, None],
        0.0,
        np.where(c.sessions == onset[:, None], at_onset[:, None], later[:, None]),
    )
    c.attendance[who, onset - 1] = 0
    c.risk.append((who, items))
    c.truth.append(_truth_rows(who, "self_harm", onset, at_onset))


def _session_days(g: np.random.Generator, c: _Cohort) -> np.ndarray:
    """Day offsets of every session on the grid, ``(n, S)`` int64, counted from ``start_date``.

    Intake spread over a year, then weekly with jitter (and the disengagement gaps, the closer
    sessions of some dependency courses; at least 2 days apart). Depends only on the ``dates``
    stream and ``c.extra_gap``, which no harm changes after dependency.
    """
    intake_day = g.integers(0, _INTAKE_WINDOW_DAYS, size=c.n)
    jitter = g.standard_normal((c.n, c.width), dtype=np.float32)
    jitter *= 1.2
    np.rint(jitter, out=jitter)
    np.clip(jitter, -3, 3, out=jitter)
    gaps = jitter.astype(np.int32)
    del jitter
    gaps += 7
    gaps += c.extra_gap
    np.maximum(gaps, 2, out=gaps)
    gaps[:, 0] = intake_day
    return np.cumsum(gaps, axis=1, dtype=np.int64)


def _inject_harmful_therapists(
    c: _Cohort,
    rng: np.random.Generator,
    therapist: np.ndarray,
    n_t: int,
    finish: np.ndarray,
    deteriorated: np.ndarray,
    n_start: int,
    n_halfway: int,
    odds_ratio: float,
) -> pd.DataFrame:
    """Raise the deterioration rate of some therapists' patients; return the therapist truth.

    ``n_start + n_halfway`` therapists are drawn at random. Each therapist's patients are put in
    the order they finish treatment (``finish``: the day of the last session; ties by patient
    id), the order in which :func:`iatrogenic.provider_cusum` takes them with ``order="date"``.
    The harm is raised from patient 1 for the first ``n_start`` therapists and from patient
    ``n_patients // 2 + 1`` (the first of the second half of the caseload) for the others.

    Among the exposed patients who can show a deterioration (:func:`_deterioration_eligible`) and
    were not already given one, each gets one (``_deteriorate``, the ordinary mechanism) with
    probability ``(p1 - p0) / (1 - p0)``, where ``p0`` is the share of eligible patients of the
    whole cohort given a deterioration and ``p1`` has odds ``odds_ratio`` times those of ``p0``:
    the exposed eligible patients are then deteriorated with probability ``p1``.
    """
    k = n_start + n_halfway
    chosen = rng.choice(n_t, size=k, replace=False)
    pattern = np.zeros(n_t, dtype=np.int8)  # 0 none, 1 from the start, 2 from halfway
    pattern[chosen[:n_start]] = 1
    pattern[chosen[n_start:]] = 2
    # Position of each patient within its therapist, in finishing order (1, 2, ...).
    order = np.lexsort((np.arange(c.n), finish, therapist))
    n_patients = np.bincount(therapist, minlength=n_t)
    first = np.concatenate(([0], np.cumsum(n_patients)[:-1]))
    position = np.empty(c.n, dtype=np.int64)
    position[order] = np.arange(c.n) - first[therapist[order]] + 1
    onset = np.where(pattern == 1, 1, np.where(pattern == 2, n_patients // 2 + 1, 0))
    onset_code = np.full(n_t, -1, dtype=np.int64)  # the onset patient, -1 when none
    at_onset = (pattern[therapist] > 0) & (position == onset[therapist])
    onset_code[therapist[at_onset]] = np.flatnonzero(at_onset)
    exposed = (pattern[therapist] > 0) & (position >= onset[therapist])

    eligible = _deterioration_eligible(c)
    p0 = len(deteriorated) / eligible.sum() if eligible.any() else 0.0
    p1 = odds_ratio * p0 / (1.0 - p0 + odds_ratio * p0) if p0 < 1.0 else 1.0
    extra = (p1 - p0) / (1.0 - p0) if p0 < 1.0 else 0.0
    already = np.zeros(c.n, dtype=bool)
    already[deteriorated] = True
    pool = np.flatnonzero(exposed & eligible & ~already)
    who = pool[rng.random(len(pool)) < extra]
    _deteriorate(c, rng, who)

    has_onset = onset_code >= 0
    onset_day = np.where(has_onset, finish[np.maximum(onset_code, 0)], np.nan)
    return pd.DataFrame(
        {
            "therapist": np.arange(n_t),
            "harmful": pattern > 0,
            "pattern": np.array(["none", "start", "halfway"], dtype=object)[pattern],
            "onset": onset.astype(np.int64),
            "onset_day": onset_day,
            "n_patients": n_patients.astype(np.int64),
            "odds_ratio": np.where(pattern > 0, odds_ratio, 1.0),
            "n_injected": np.bincount(therapist[who], minlength=n_t).astype(np.int64),
        }
    )


def _observe(rng: np.random.Generator, expected: np.ndarray, sd: float, high: float) -> np.ndarray:
    """Observed totals (float32 grid): expected course plus noise, rounded, clipped to 0-high."""
    score = rng.standard_normal(expected.shape, dtype=np.float32)
    score *= sd
    score += expected
    np.rint(score, out=score)
    return np.clip(score, 0, high, out=score)


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


def _risk_item(c: _Cohort, rng: np.random.Generator) -> np.ndarray:
    """PHQ-9 item 9 on the grid (float32, 0-3), before the totals are made consistent with it.

    Without injected self-harm the item is a stable patient trait: a level at intake that depends
    on intake severity (see ``_ITEM9_CUTS``: about 18% endorse it, 6% score 2 or more), which then
    follows the *expected* course down (``level * expected / expected at intake``, rounded) and
    never rises: ideation present at intake resolves as the patient improves, and noise in the
    total does not move it. Injected self-harm replaces the item of its patients.
    """
    z = 0.6 * (c.intake_phq - _LATENT_MEAN[0]) / _LATENT_SD[0] + 0.8 * rng.standard_normal(c.n)
    level = sum((z > cut).astype(np.float32) for cut in _ITEM9_CUTS)
    expected = np.clip(c.mu_phq, 0.0, _PHQ_HIGH).astype(np.float32)
    item = expected / np.maximum(expected[:, :1], 1.0)
    item *= level[:, None]
    np.rint(item, out=item)
    np.minimum(item, level[:, None], out=item)
    item = np.minimum.accumulate(item, axis=1)
    for who, values in c.risk:
        item[who] = values
    return item


# --------------------------------------------------------------------------------------------
# PHQ-9 items, symptom emergence
# --------------------------------------------------------------------------------------------


def _item_ranks(rng: np.random.Generator, n: int) -> np.ndarray:
    """Each patient's order of filling the 24 points of items 1-8: ranks of shape ``(n, 8, 3)``.

    A patient's item profile (propensities summing to 1) is drawn once from a Dirichlet
    distribution with mean ``_ITEM_WEIGHTS`` (normalised) and concentration
    ``_ITEM_CONCENTRATION``. The points are handed out in the order of Sainte-Laguë quotients
    ``(k + 0.5) / propensity`` (the k-th point of an item comes after its (k-1)-th), so that for
    any total the items are as proportional to the profile as whole numbers capped at 3 allow,
    with the same tie-breaking at every session. ``rank[p, i, k] < R`` says whether item ``i``
    gets its ``k+1``-th point when the patient's items 1-8 sum to ``R``.
    """
    alpha = _ITEM_CONCENTRATION * _ITEM_WEIGHTS / _ITEM_WEIGHTS.sum()
    profile = rng.dirichlet(alpha, size=n).astype(np.float32)
    inverse = 1.0 / np.maximum(profile, np.float32(1e-6))
    quotient = np.arange(0.5, 3.0, dtype=np.float32)[None, None, :] * inverse[:, :, None]
    order = np.argsort(quotient.reshape(n, 24), axis=1)
    return np.argsort(order, axis=1).astype(np.int8).reshape(n, 8, 3)


def _split_items(ranks: np.ndarray, rest: np.ndarray) -> list[np.ndarray]:
    """Items 1-8 (each ``(n, S)`` int8, 0-3) summing exactly to ``rest`` (0-24) in every cell.

    Monotone: when the total rises, no item falls, so items follow the course of the total.
    """
    rest = rest.astype(np.int8)
    return [
        (
            (ranks[:, i, 0, None] < rest).astype(np.int8)
            + (ranks[:, i, 1, None] < rest)
            + (ranks[:, i, 2, None] < rest)
        )
        for i in range(8)
    ]


# Order in which measurement noise moves item points, by the item's current score: a point is
# added first to an item at 0 (to 1), then at 2 (to 3), and only then at 1 (to 2); taken first
# from an item at 1 (to 0), then at 3 (to 2), and only then at 2 (to 1). Noise thus moves items
# within the "not at all / several days" and "more than half the days / nearly every day" bands
# before it moves one across the PHQ's symptom threshold of 2. Within a class, points are added to
# the patient's most prominent item first and taken from the least prominent first. The tables
# give the key of an item (lowest moves first) by ``8 * score + prominence`` (0 = the most
# prominent item); 127: the item cannot move that way.
_ADD_KEY = np.array(
    [0 * 8 + r for r in range(8)]  # score 0 -> 1
    + [16 + r for r in range(8)]  # score 1 -> 2
    + [8 + r for r in range(8)]  # score 2 -> 3
    + [127] * 8,  # score 3: full
    dtype=np.int8,
)
_TAKE_KEY = np.array(
    [127] * 8  # score 0: empty
    + [7 - r for r in range(8)]  # score 1 -> 0
    + [16 + 7 - r for r in range(8)]  # score 2 -> 1
    + [8 + 7 - r for r in range(8)],  # score 3 -> 2
    dtype=np.int8,
)


def _move_points(
    values: np.ndarray, prominence: np.ndarray, points: np.ndarray, table: np.ndarray
) -> None:
    """Add (or take) ``points`` item points, one at a time, in each row of ``values`` (in place).

    ``values`` and ``prominence`` are ``(m, 8)`` int8, ``points`` ``(m,)`` positive; ``table``
    is ``_ADD_KEY`` or ``_TAKE_KEY``.
    """
    step = np.int8(1 if table is _ADD_KEY else -1)
    rows = np.arange(len(values))
    current, left, rank = values, points.copy(), prominence
    while len(rows):
        code = current * np.int8(8)
        code += rank
        chosen = np.argmin(table[code], axis=1)
        current[np.arange(len(rows)), chosen] += step
        left -= 1
        done = left == 0
        values[rows[done]] = current[done]
        keep = ~done
        rows, current, left, rank = rows[keep], current[keep], left[keep], rank[keep]


def _items_with_noise(
    ranks: np.ndarray, smooth: np.ndarray, observed: np.ndarray, exists: np.ndarray
) -> list[np.ndarray]:
    """Items 1-8 that follow the expected course and sum exactly to the observed rest.

    ``smooth`` (the expected total minus item 9, whole numbers 0-24) is split by the patient's
    profile (:func:`_split_items`); the difference between ``observed`` (the observed total minus
    item 9) and ``smooth`` is then added or taken one point at a time in the order of
    ``_ADD_KEY`` / ``_TAKE_KEY``. The same order at every session makes the noise correlated over
    time: the same items absorb it. Only cells in ``exists`` are adjusted (the others are never
    shown).
    """
    items = _split_items(ranks, smooth)
    width = smooth.shape[1]
    residual = observed.astype(np.int16) - smooth.astype(np.int16)
    residual[~exists] = 0
    # Prominence of each item: 0 for the item that gets the patient's first point.
    prominence = np.argsort(np.argsort(ranks[:, :, 0], axis=1), axis=1).astype(np.int8)
    flat = [item.reshape(-1) for item in items]
    for sign, table in ((1, _ADD_KEY), (-1, _TAKE_KEY)):
        cells = np.flatnonzero(residual * sign > 0)
        if len(cells) == 0:
            continue
        values = np.stack([item[cells] for item in flat], axis=1)
        _move_points(values, prominence[cells // width], sign * residual.reshape(-1)[cells], table)
        for i, item in enumerate(flat):
            item[cells] = values[:, i]
    return items


def _inject_symptom_emergence(
    c: _Cohort,
    rng: np.random.Generator,
    rate: float,
    items: list[np.ndarray],
    gad: np.ndarray,
) -> np.ndarray:
    """New symptoms emerge: items low at intake become elevated and stay so.

    One or two of PHQ-9 items 1-8 that scored 0 or 1 at intake score 2 or 3 at every session from
    the onset (2 or later, at least two sessions before the end; the onset session is attended),
    and the PHQ-9 total rises by the same amount. When the patient's intake GAD-7 is below the
    caseness cut-off of 8, GAD-7 also rises into caseness (8-12) from the onset. Patients with an
    injected sudden worsening are not chosen (the exact jump would be blurred), nor patients
    whose items 1-8 all score 2 or more at intake. ``magnitude`` is the number of new symptoms:
    emerged items plus one when GAD-7 crossed into caseness.

    Returns the patients chosen (their totals must be recomputed from the items).
    """
    intake = np.stack([item[:, 0] for item in items], axis=1)  # (n, 8)
    low = intake <= 1
    eligible = (c.visible_end >= 3) & ~c.sudden & low.any(axis=1)
    who = _choose(rng, eligible, rate, c.n, "symptom_emergence")
    k = len(who)
    onset = _onsets(rng, 2, c.visible_end[who] - 1)
    priority = np.where(low[who], rng.random((k, 8)), 2.0)
    order = np.argsort(priority, axis=1)
    n_items = np.where((rng.random(k) < 0.4) & (low[who].sum(axis=1) >= 2), 2, 1)
    level = rng.choice(np.array([2, 3], dtype=np.int8), p=[0.7, 0.3], size=(k, 2))
    from_onset = c.sessions >= onset[:, None]
    for slot in range(2):
        chosen = order[:, slot]
        use = slot < n_items
        for i in range(8):
            rows = use & (chosen == i)
            if rows.any():
                target = np.where(from_onset[rows], level[rows, slot, None], 0).astype(np.int8)
                items[i][who[rows]] = np.maximum(items[i][who[rows]], target)
    # GAD-7 into caseness for those below it at intake.
    gad_low = gad[who, 0] < _GAD_CASENESS
    floor = _GAD_CASENESS + rng.integers(0, 5, size=(k, c.width))
    gad[who] = np.where(gad_low[:, None] & from_onset, np.maximum(gad[who], floor), gad[who])
    c.attendance[who, onset - 1] = 0
    c.truth.append(_truth_rows(who, "symptom_emergence", onset, n_items + gad_low.astype(np.int64)))
    return who


# --------------------------------------------------------------------------------------------
# Session Rating Scale and alliance ruptures
# --------------------------------------------------------------------------------------------


def _srs(c: _Cohort, rng: np.random.Generator) -> np.ndarray:
    """Session Rating Scale totals, 0-40 to one decimal, mostly 36-40 (ceiling effect).

    40 minus a patient-level shortfall (gamma, mean 1.4 points, shrinking by a tenth per unit of
    log(session) as the alliance grows) plus session noise (SD 0.8). About 3% of sessions score
    below the concern threshold of 36 without a rupture.
    """
    shortfall = rng.gamma(2.0, 0.7, size=c.n).astype(np.float32)
    srs = rng.standard_normal((c.n, c.width), dtype=np.float32)
    srs *= 0.8
    srs += _SRS_HIGH
    srs -= shortfall[:, None] * (1.0 - 0.1 * c.log_t).astype(np.float32)
    # Rounded to one decimal by the caller, in long format (a tenth of the work).
    return np.clip(srs, 0.0, _SRS_HIGH, out=srs)


def _inject_alliance_rupture(
    c: _Cohort, rng: np.random.Generator, rate: float, srs: np.ndarray
) -> None:
    """The SRS drops by 6-12 points below 36 at the onset and stays below 36 for 2-4 sessions.

    The onset (2 or later, at least one session before the end) and the session before it are
    attended, so the drop between consecutive sessions is seen; during the rupture the score
    recovers by at most 3 points and stays below 35.5. ``magnitude`` is the observed drop from
    the session before the onset to the onset, in SRS points.
    """
    end = c.visible_end
    who = _choose(rng, end >= 3, rate, c.n, "alliance_rupture")
    k = len(who)
    onset = _onsets(rng, 2, end[who] - 1)
    before = np.round(srs[who, onset - 2].astype(np.float64), 1)
    drop = rng.uniform(6.0, 12.0, size=k)
    at_onset = np.round(np.clip(np.minimum(before - drop, 34.0), 0.0, None), 1)
    duration = rng.integers(2, 5, size=k)
    during = (c.sessions > onset[:, None]) & (c.sessions < (onset + duration)[:, None])
    later = np.round(
        np.minimum(at_onset[:, None] + rng.uniform(0.0, 3.0, size=(k, c.width)), 35.5), 1
    )
    new = np.where(c.sessions == onset[:, None], at_onset[:, None], srs[who])
    srs[who] = np.where(during, later, new)
    c.attendance[who, onset - 2] = 0
    c.attendance[who, onset - 1] = 0
    c.truth.append(_truth_rows(who, "alliance_rupture", onset, np.round(before - at_onset, 1)))


# --------------------------------------------------------------------------------------------
# Beck Hopelessness Scale and secondary worsening
# --------------------------------------------------------------------------------------------


def _bhs(c: _Cohort, rng: np.random.Generator) -> np.ndarray:
    """Beck Hopelessness Scale totals, whole numbers 0-20, following the PHQ-9 course.

    ``0.4 * expected PHQ-9 + patient offset (mean 2, SD 3) + noise (SD 1.0)``: intake mean about
    8 (SD about 3.7), correlation with PHQ-9 about 0.45; it improves as depression improves. The
    noise is the standard error of measurement implied by the registered internal consistency
    (KR-20 .93, Beck et al. 1974) at that SD: ``3.7 * sqrt(1 - 0.93)``, about 1.0.
    """
    offset = rng.normal(2.0, 3.0, size=c.n).astype(np.float32)
    bhs = rng.standard_normal((c.n, c.width), dtype=np.float32)
    bhs *= _BHS_NOISE
    bhs += offset[:, None]
    bhs += 0.4 * c.mu_phq
    np.rint(bhs, out=bhs)
    return np.clip(bhs, 0, _BHS_HIGH, out=bhs)


def _inject_secondary_worsening(
    c: _Cohort, rng: np.random.Generator, rate: float, bhs: np.ndarray
) -> None:
    """Hopelessness worsens reliably: BHS 6-9 points above intake from the onset on.

    Chosen among patients with an intake BHS of 14 or less (room for 6 points); the onset (2 or
    later, at least one session before the end) is attended. From the onset the BHS lies
    ``magnitude`` points above the intake score plus noise, and never less than 6 above it
    (capped at 20), whatever the PHQ-9 does. ``magnitude`` is the planned rise in BHS points.
    """
    end = c.visible_end
    intake = bhs[:, 0]
    who = _choose(
        rng, (end >= 3) & (intake <= _BHS_HIGH - _BHS_RISE), rate, c.n, "secondary_worsening"
    )
    k = len(who)
    onset = _onsets(rng, 2, end[who] - 1)
    rise = np.minimum(rng.integers(_BHS_RISE, 10, size=k), _BHS_HIGH - intake[who])
    level = intake[who, None] + rise[:, None] + np.rint(rng.normal(0.0, 1.2, size=(k, c.width)))
    level = np.clip(np.maximum(level, intake[who, None] + _BHS_RISE), 0, _BHS_HIGH)
    bhs[who] = np.where(c.sessions >= onset[:, None], level, bhs[who])
    c.attendance[who, onset - 1] = 0
    c.truth.append(_truth_rows(who, "secondary_worsening", onset, rise))


# --------------------------------------------------------------------------------------------
# Medication
# --------------------------------------------------------------------------------------------


@dataclass
class _MedicationPlan:
    """Who gets which medication problem, from which day (offsets from ``start_date``)."""

    who: np.ndarray  # patients with a medication problem
    problem: np.ndarray  # codes of MEDICATION_PROBLEMS (1-5)
    day: np.ndarray  # day the problem starts
    minor: np.ndarray  # (n,) bool: under 18


def _plan_medication(
    c: _Cohort, rng: np.random.Generator, rate: float, days: np.ndarray, age: np.ndarray
) -> _MedicationPlan:
    """Choose the patients with a medication problem, the problem and its onset session.

    About a fifth of the problems (as many as there are minors allow) are psychotropics in
    minors; the others are drawn evenly from polypharmacy, a same-class duplicate, a long
    benzodiazepine or Z-drug course and an abrupt stop. The onset session is uniform over the
    course; the problem starts on a day after the session before it and no later than the
    onset session (up to 30 days before the intake for onset 1), so that the first session on or
    after the problem's day is the onset. ``magnitude`` is the problem's code (see
    :data:`MEDICATION_PROBLEMS`).
    """
    minor = age < 18
    wanted = round(rate * c.n)
    n_minor = min(round(wanted / 5), int(minor.sum()))
    minors = _choose(rng, minor, n_minor / c.n if c.n else 0.0, c.n, "medication")
    adults = _choose(rng, ~minor, (wanted - len(minors)) / c.n if c.n else 0.0, c.n, "medication")
    who = np.concatenate([minors, adults])
    problem = np.concatenate(
        [np.full(len(minors), 5), rng.integers(1, 5, size=len(adults))]
    ).astype(np.int64)
    onset = _onsets(rng, 1, c.last[who])
    at = days[who, onset - 1]
    previous = days[who, np.maximum(onset - 2, 0)]
    room = np.where(onset >= 2, np.minimum(at - previous - 1, 6), 30)
    day = at - np.floor(rng.random(len(who)) * (room + 1)).astype(np.int64)
    order = np.argsort(who, kind="stable")
    who, problem, onset, day = who[order], problem[order], onset[order], day[order]
    c.truth.append(_truth_rows(who, "medication", onset, problem))
    return _MedicationPlan(who=who, problem=problem, day=day, minor=minor)


def _medication_table(
    plan: _MedicationPlan,
    rng: np.random.Generator,
    intake_day: np.ndarray,
    start: np.datetime64,
    patient_dtype: pd.CategoricalDtype,
) -> pd.DataFrame:
    """The prescriptions: the problems of ``plan`` and appropriate drugs for everyone else.

    Every row is one prescription period at a constant daily dose, taken from ``start`` up to
    (not including) ``stop``; ``stop`` is NaT while the prescription is ongoing at the end of the
    record. A taper is a sequence of rows of the same drug with falling doses, each starting on
    the day the previous one stops.
    """
    n = len(intake_day)
    patients: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    stops: list[np.ndarray] = []
    drugs: list[np.ndarray] = []
    doses: list[np.ndarray] = []

    def add(who: np.ndarray, first: Any, last: Any, drug: np.ndarray, scale: Any = 1.0) -> None:
        patients.append(who)
        starts.append(np.broadcast_to(np.asarray(first, dtype=np.int64), who.shape))
        stops.append(np.broadcast_to(np.asarray(last, dtype=np.int64), who.shape))
        drugs.append(drug)
        doses.append(_DRUG_DOSE[drug] * scale)

    def pick(pool: np.ndarray, size: int) -> np.ndarray:
        return pool[rng.integers(0, len(pool), size=size)]

    def days_between(low: int, high: int, size: int) -> np.ndarray:
        return rng.integers(low, high + 1, size=size).astype(np.int64)

    # Everyone else: adults take 0 (45%), 1 (40%) or 2 (15%) appropriate drugs: an antidepressant
    # (ongoing, or tapered off over four weeks) and, for some, pregabalin. Minors take none.
    harmed = np.zeros(n, dtype=bool)
    harmed[plan.who] = True
    others = np.flatnonzero(~harmed & ~plan.minor)
    count = rng.choice(3, size=len(others), p=[0.45, 0.40, 0.15])
    on = others[count >= 1]
    drug = pick(_ANTIDEPRESSANTS, len(on))
    first = intake_day[on] - days_between(0, 180, len(on))
    taper = rng.random(len(on)) < 0.3
    ongoing = ~taper
    add(on[ongoing], first[ongoing], _NO_STOP, drug[ongoing])
    cut = intake_day[on[taper]] + days_between(28, 120, int(taper.sum()))
    add(on[taper], first[taper], cut, drug[taper])
    add(on[taper], cut, cut + 14, drug[taper], 0.5)
    add(on[taper], cut + 14, cut + 28, drug[taper], 0.25)
    two = others[count == 2]
    pregabalin = np.repeat(_PREGABALIN, len(two))
    add(two, intake_day[two] + days_between(0, 56, len(two)), _NO_STOP, pregabalin)

    who, problem, day = plan.who, plan.problem, plan.day
    # 1 polypharmacy: an antidepressant and a second class, then a benzodiazepine or Z-drug for
    # 2-4 weeks on top, the third concurrent psychotropic.
    sel = problem == 1
    w, d = who[sel], day[sel]
    add(w, d - days_between(30, 180, len(w)), _NO_STOP, pick(_ANTIDEPRESSANTS, len(w)))
    add(w, d - days_between(7, 29, len(w)), _NO_STOP, pick(_SECOND_CLASS, len(w)))
    add(w, d, d + days_between(14, 28, len(w)), pick(_SEDATIVES, len(w)))
    # 2 duplicate class: a second SSRI on top of an SSRI, or two benzodiazepines (short courses).
    sel = problem == 2
    w, d = who[sel], day[sel]
    ssri = rng.random(len(w)) < 0.6
    first_ssri = rng.integers(0, 3, size=len(w))
    second_ssri = (first_ssri + rng.integers(1, 3, size=len(w))) % 3
    ws, ds = w[ssri], d[ssri]
    add(ws, ds - days_between(30, 180, len(ws)), _NO_STOP, _SSRIS[first_ssri[ssri]])
    add(ws, ds, _NO_STOP, _SSRIS[second_ssri[ssri]])
    wb, db = w[~ssri], d[~ssri]
    add(wb, db - days_between(1, 10, len(wb)), db + 14, np.repeat(_BENZODIAZEPINES[:1], len(wb)))
    add(wb, db, db + 14, np.repeat(_BENZODIAZEPINES[1:], len(wb)))
    # 3 long course: a benzodiazepine or Z-drug started 4 weeks before the problem day, for 6-16
    # weeks in all.
    sel = problem == 3
    w, d = who[sel], day[sel]
    add(w, d - 28, d + days_between(14, 84, len(w)), pick(_SEDATIVES, len(w)))
    # 4 abrupt stop: an antidepressant taken for 6 weeks to a year, stopped at the full dose.
    sel = problem == 4
    w, d = who[sel], day[sel]
    add(w, d - days_between(42, 365, len(w)), d, pick(_ANTIDEPRESSANTS, len(w)))
    # 5 minor: a psychotropic started in a patient under 18.
    sel = problem == 5
    w, d = who[sel], day[sel]
    add(w, d, _NO_STOP, pick(_FOR_MINORS, len(w)))

    patient = np.concatenate(patients)
    first_day = np.concatenate(starts)
    last_day = np.concatenate(stops)
    drug_index = np.concatenate(drugs).astype(np.int64)
    order = np.lexsort((drug_index, first_day, patient))
    patient, first_day, last_day = patient[order], first_day[order], last_day[order]
    drug_index = drug_index[order]
    stop = (start + last_day.astype("timedelta64[D]")).astype("datetime64[ns]")
    stop[last_day == _NO_STOP] = np.datetime64("NaT")
    return pd.DataFrame(
        {
            "patient": pd.Categorical.from_codes(patient, dtype=patient_dtype),
            "start": (start + first_day.astype("timedelta64[D]")).astype("datetime64[ns]"),
            "stop": stop,
            "drug": pd.array(_DRUG_NAMES[drug_index], dtype="str"),
            "atc": pd.array(_DRUG_ATC[drug_index], dtype="str"),
            "dose": np.concatenate(doses)[order],
        }
    )


def _minor_ages(rng: np.random.Generator, rate: float, age: np.ndarray) -> None:
    """Make ``round(rate * n)`` patients minors (14-17), in place."""
    who = _choose(rng, np.ones(len(age), dtype=bool), rate, len(age), "minors")
    age[who] = rng.integers(14, 18, size=len(who))


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


@overload
def simulate(
    n_patients: int = ...,
    n_therapists: int = ...,
    *,
    n_sessions: int = ...,
    min_sessions: int | None = ...,
    deterioration_rate: float = ...,
    sudden_loss_rate: float = ...,
    risk_rate: float = ...,
    disengagement_rate: float = ...,
    alliance_rupture_rate: float = ...,
    dependency_rate: float = ...,
    symptom_emergence_rate: float = ...,
    secondary_worsening_rate: float = ...,
    medication_rate: float = ...,
    minor_rate: float = ...,
    dropout_rate: float = ...,
    dna_rate: float = ...,
    cancel_rate: float = ...,
    noise_sd: float = ...,
    therapist_sd: float = ...,
    harmful_therapists: int = ...,
    harmful_from_halfway: int = ...,
    harmful_odds_ratio: float = ...,
    start_date: str | _dt.date | np.datetime64 = ...,
    seed: int | None = ...,
    return_medications: Literal[False] = ...,
) -> tuple[pd.DataFrame, pd.DataFrame]: ...


@overload
def simulate(
    n_patients: int = ...,
    n_therapists: int = ...,
    *,
    n_sessions: int = ...,
    min_sessions: int | None = ...,
    deterioration_rate: float = ...,
    sudden_loss_rate: float = ...,
    risk_rate: float = ...,
    disengagement_rate: float = ...,
    alliance_rupture_rate: float = ...,
    dependency_rate: float = ...,
    symptom_emergence_rate: float = ...,
    secondary_worsening_rate: float = ...,
    medication_rate: float = ...,
    minor_rate: float = ...,
    dropout_rate: float = ...,
    dna_rate: float = ...,
    cancel_rate: float = ...,
    noise_sd: float = ...,
    therapist_sd: float = ...,
    harmful_therapists: int = ...,
    harmful_from_halfway: int = ...,
    harmful_odds_ratio: float = ...,
    start_date: str | _dt.date | np.datetime64 = ...,
    seed: int | None = ...,
    return_medications: Literal[True],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]: ...


def simulate(
    n_patients: int = 600,
    n_therapists: int = 30,
    *,
    n_sessions: int = 16,
    min_sessions: int | None = None,
    deterioration_rate: float = 0.08,
    sudden_loss_rate: float = 0.04,
    risk_rate: float = 0.04,
    disengagement_rate: float = 0.04,
    alliance_rupture_rate: float = 0.04,
    dependency_rate: float = 0.04,
    symptom_emergence_rate: float = 0.04,
    secondary_worsening_rate: float = 0.04,
    medication_rate: float = 0.05,
    minor_rate: float = 0.05,
    dropout_rate: float = 0.25,
    dna_rate: float = 0.08,
    cancel_rate: float = 0.05,
    noise_sd: float = 2.0,
    therapist_sd: float = 0.4,
    harmful_therapists: int = 0,
    harmful_from_halfway: int = 0,
    harmful_odds_ratio: float = 4.0,
    start_date: str | _dt.date | np.datetime64 = "2024-01-08",
    seed: int | None = None,
    return_medications: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame] | tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Simulate routine outcome monitoring in a psychological therapy service, with known harm.

    Each patient has a log-shaped recovery course ``intake + slope * log(session)`` on PHQ-9 and
    GAD-7 (correlated random intercepts and slopes, a therapist random effect on the slope,
    measurement noise, rounding and clipping to the instrument range), a planned course length,
    PHQ-9 item scores that sum to the total, a Session Rating Scale (alliance) and a Beck
    Hopelessness Scale (secondary measure) score at every attended session, and optionally
    prescriptions. Courses may end early (dropout) and sessions may be missed. A known share of
    patients then gets each harm of the taxonomy, and the truth table says who, which harm and
    from which session.

    Parameters
    ----------
    n_patients : int, default 600
        Number of patients (at least 1).
    n_therapists : int, default 30
        Number of therapists (at least 1). Caseloads vary (Dirichlet weights); when
        ``n_patients >= n_therapists`` every therapist has at least one patient.
    n_sessions : int, default 16
        Longest planned course (2 to 200 sessions, including the intake session 1): the
        expected dose. Planned course lengths are uniform on ``min_sessions..n_sessions``;
        dependency courses run 4-14 sessions longer.
    min_sessions : int, optional
        Shortest planned course (2 to ``n_sessions``); default ``min(6, n_sessions)``.
    deterioration_rate : float, default 0.08
        Share of patients whose course turns worse from an onset session and climbs to 7-12
        PHQ-9 points above intake (reliable deterioration; "harmed" when they start below the
        clinical cut-off and end above it); chosen among patients whose latent intake is at most
        17, so that the rise fits on the scale.
    sudden_loss_rate : float, default 0.04
        Share of patients with a sudden worsening: a jump of 7-10 PHQ-9 points between adjacent
        attended sessions that persists.
    risk_rate : float, default 0.04
        Share of patients whose PHQ-9 item 9 rises from 0 to 2 or 3 (self-harm ideation) and
        stays endorsed.
    disengagement_rate : float, default 0.04
        Share of patients who disengage: missed sessions in a row or more and more often, with
        lengthening gaps, sometimes after a worsening, then an unplanned ending.
    alliance_rupture_rate : float, default 0.04
        Share of patients whose SRS drops by 6-12 points to below 36 and stays there for 2-4
        sessions.
    dependency_rate : float, default 0.04
        Share of patients whose course runs far past the expected dose (``n_sessions + 4`` to
        ``n_sessions + 14`` sessions) without reliable improvement, for half of them with
        sessions twice a week from the onset.
    symptom_emergence_rate : float, default 0.04
        Share of patients in whom one or two PHQ-9 items low at intake (0-1) rise to 2-3 and stay
        there, and GAD-7 rises into caseness (8 or more) when it started below 8.
    secondary_worsening_rate : float, default 0.04
        Share of patients whose BHS worsens by 6-9 points from the onset on.
    medication_rate : float, default 0.05
        Share of patients with a medication problem: polypharmacy, a same-class duplicate, a
        long benzodiazepine or Z-drug course, an abrupt stop, or a psychotropic in a minor.
    minor_rate : float, default 0.05
        Share of patients aged 14-17.
    dropout_rate : float, default 0.25
        Share of patients (besides the disengaging ones) whose course ends before its planned
        length at a uniformly drawn session; the ending is unplanned but leaves no pattern of
        missed sessions. Not a harm.
    dna_rate, cancel_rate : float, default 0.08 and 0.05
        Probability that a session after the intake is a DNA (did not attend) or cancelled.
        Their sum must be below 1.
    noise_sd : float, default 2.0
        SD of measurement noise on PHQ-9 (GAD-7 gets 0.85 of it), in points.
    therapist_sd : float, default 0.4
        SD of the therapist random effect on the PHQ-9 slope, in points per unit of
        log(session).
    harmful_therapists : int, default 0
        Number of therapists (drawn at random) whose patients get an injected deterioration
        more often from their first patient, in the order the patients finish treatment.
    harmful_from_halfway : int, default 0
        Number of further therapists whose patients get it more often from the first patient of
        the second half of their caseload (patient ``n_patients // 2 + 1`` in finishing order).
        ``harmful_therapists + harmful_from_halfway`` is at most ``n_therapists``.
    harmful_odds_ratio : float, default 4.0
        Odds ratio (at least 1) of an injected deterioration for the exposed patients of those
        therapists who can show one, against the share ``p0`` of such patients given one by
        ``deterioration_rate`` (see ``_inject_harmful_therapists``). With both counts 0 (the
        default) nothing is drawn and the output is the same as without these parameters.
    start_date : str or date, default "2024-01-08"
        Earliest intake date; intakes are spread uniformly over the following year.
    seed : int, optional
        Seed of the random streams (non-negative). The same seed gives identical output.
    return_medications : bool, default False
        Also return the medication table (third element of the result).

    Returns
    -------
    data : DataFrame
        Long format, one row per patient and scheduled session up to the end of the course
        (sessions after the end do not exist), sorted by patient and session:

        - ``patient`` (category of str): patient id, ``"P00001"``, ``"P00002"``..., zero-padded
          to the width of ``n_patients`` (at least 5 digits); categories in id order.
        - ``therapist`` (category of str): therapist id, ``"T01"``..., zero-padded (at least 2
          digits); categories are all ``n_therapists`` ids.
        - ``session`` (int64): scheduled session number, 1 (intake) to the course's last.
        - ``date`` (datetime64[ns]): session date; weekly with a jitter of up to 3 days, gaps of
          about two weeks before sessions missed while a patient disengages, every 3-4 days for
          some dependency courses.
        - ``attendance`` (category): ``"attended"``, ``"cancelled"`` or ``"dna"``; the intake is
          always attended.
        - ``phq9`` (float64): PHQ-9 total, whole numbers 0-27, the sum of the nine items; NaN
          when the session was missed.
        - ``gad7`` (float64): GAD-7 total, whole numbers 0-21; NaN when missed.
        - ``phq9_item1`` to ``phq9_item8`` (float64): PHQ-9 items 1-8, whole numbers 0-3; NaN
          when missed. Each patient has a stable item profile, and items rise and fall with the
          total.
        - ``phq9_item9`` (float64): PHQ-9 item 9 (thoughts of self-harm), whole numbers 0-3,
          with ``phq9_item9 <= phq9`` and ``phq9 - phq9_item9 <= 24``; NaN when missed.
        - ``srs`` (float64): Session Rating Scale total, 0-40 to one decimal, higher is better
          (mostly 36-40); NaN when missed.
        - ``bhs`` (float64): Beck Hopelessness Scale total, whole numbers 0-20, lower is better;
          NaN when missed.
        - ``age`` (int64): age at intake in years (14-80; ``minor_rate`` of patients are 14-17),
          constant within a patient.
        - ``end_reason`` (category): on the last row of each course, ``"planned"`` (the course
          ran to its planned end, dependency courses included) or ``"unplanned"`` (dropout or
          disengagement); missing on every other row, since the ending is known only when it
          happens.
    truth : DataFrame
        One row per injected harm, sorted by patient, onset and harm. Patients without injected
        harm have no row; a patient may have several harms, but each at most once.

        - ``patient`` (category): as in ``data``, same categories.
        - ``harm`` (str): one of :data:`HARMS_SIMULATED`.
        - ``onset`` (int64): session at which the harm begins (see Notes).
        - ``magnitude`` (float64): size of the harm, in the unit of its harm (see Notes).

        When ``harmful_therapists`` or ``harmful_from_halfway`` is above 0,
        ``truth.attrs["therapists"]`` holds the therapist truth, one row per therapist
        (columns :data:`THERAPIST_TRUTH_COLUMNS`): ``therapist`` (category, as in ``data``),
        ``harmful`` (bool), ``pattern`` (``"none"``, ``"start"`` or ``"halfway"``), ``onset``
        (int64: number, in finishing order, of the first exposed patient; 0 when none),
        ``onset_date`` (datetime64[ns]: the date that patient finished; NaT when none),
        ``n_patients``, ``odds_ratio`` (1.0 for ordinary therapists) and ``n_injected`` (the
        deteriorations the raised rate added; they are ordinary ``deterioration`` rows of
        ``truth``). Score provider detectors against it with
        :func:`iatrogenic.evaluate_providers`.
    medications : DataFrame
        Only with ``return_medications=True``: one row per prescription period at a constant
        dose, sorted by patient, start and drug:

        - ``patient`` (category): as in ``data``, same categories (patients without
          prescriptions have no row).
        - ``start`` (datetime64[ns]): first day of the period.
        - ``stop`` (datetime64[ns]): the day the period ends (not taken on it); NaT when the
          prescription is ongoing at the end of the record. A taper is consecutive rows of the
          same drug with falling doses, each starting on the day the previous one stops.
        - ``drug`` (str): international non-proprietary name, a key of :data:`DRUGS`.
        - ``atc`` (str): WHO ATC code of the drug (7 characters, e.g. ``"N06AB06"``).
        - ``dose`` (float64): daily dose in mg.

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
    iatrogenic.evaluate : score detector events against the truth.

    Notes
    -----
    Onset and magnitude of each harm:

    ===================  ============================================  ========================
    harm                 onset                                         magnitude
    ===================  ============================================  ========================
    deterioration        first session of the worse course             planned rise (PHQ-9)
    sudden_worsening     session after the jump                        jump (PHQ-9 points)
    self_harm            first session with item 9 above 0 (2 or 3)    item 9 at the onset
    disengagement        first missed session of the disengagement     missed sessions
    alliance_rupture     session of the SRS drop                       drop (SRS points)
    dependency           ``n_sessions + 1``, past the expected dose    course length
    symptom_emergence    first session with the new symptoms           number of new symptoms
    secondary_worsening  first session of the worse BHS                planned rise (BHS)
    medication           first session on or after the problem's day   problem code (1-5)
    ===================  ============================================  ========================

    The medication problem codes are :data:`MEDICATION_PROBLEMS`: 1 three concurrent
    psychotropics of three classes, 2 two of the same class (two SSRIs, or two benzodiazepines),
    3 a benzodiazepine or Z-drug course beyond 4 weeks (the onset is when it passes 4 weeks), 4
    an antidepressant stopped from the full dose, 5 a psychotropic in a minor. Their truth rows
    exist whether or not the table is returned; the table's other patients take at most two
    drugs of different classes (an antidepressant, ongoing or tapered over four weeks, and
    pregabalin), and minors without a problem take none.

    PHQ-9 items: each patient has a stable item profile (Dirichlet propensities drawn once), and
    items 1-8 split the *expected* total by that profile (Sainte-Laguë order, each item capped at
    3), so they move smoothly with the course; the measurement noise of the observed total is
    then added or taken one point at a time, first within the 0-1 and 2-3 bands of an item and
    only then across the symptom threshold of 2, always in the patient's own order, so that items
    sum exactly to ``phq9``. Item 9 is endorsed at intake by about 18% of patients (6% score 2 or
    more), follows the expected course down and never rises without injected self-harm; the
    total never exceeds item 9 + 24 (the most items 1-8 can hold), so a patient who does not
    endorse item 9 scores at most 24.

    Without injected harm a course never trends worse (the slope is capped at 0), item 9 does not
    rise, the SRS stays high and the BHS follows the PHQ-9 down, so the truth is clean by
    construction: every rise of item 9 is an injected ``self_harm``. Measurement noise alone
    still makes a few patients look reliably worse, show a noisy jump or move an item across 2,
    and a harm shows in the signals of others (a deteriorating patient's items rise, their BHS
    rises by 3-5 points): those are the false positives a detector has to live with, and they
    have no truth row.

    A harm is only given to a patient whose course is long enough to show it, and the sessions
    that show it are attended. Patients are chosen for each harm independently, so harms can
    co-occur (except symptom emergence, never injected together with a sudden worsening).
    Rates are shares: ``round(rate * n_patients)`` patients get each harm. Each component draws
    from its own random stream, so changing one harm's rate does not change who gets the harms
    injected before it (in the order of the table above, with dependency second), nor the noise.

    Examples
    --------
    >>> from iatrogenic.datasets import simulate
    >>> data, truth = simulate(n_patients=40, n_therapists=4, seed=7)
    >>> data.columns.tolist()[:7]
    ['patient', 'therapist', 'session', 'date', 'attendance', 'phq9', 'gad7']
    >>> data.columns.tolist()[-5:]
    ['phq9_item9', 'srs', 'bhs', 'age', 'end_reason']
    >>> truth.columns.tolist()
    ['patient', 'harm', 'onset', 'magnitude']
    >>> data, truth, meds = simulate(n_patients=40, n_therapists=4, seed=7,
    ...                              return_medications=True)
    >>> meds.columns.tolist()
    ['patient', 'start', 'stop', 'drug', 'atc', 'dose']
    >>> data2, truth2 = simulate(n_patients=40, n_therapists=4, seed=7)
    >>> data.equals(data2) and truth.equals(truth2)
    True
    >>> _, truth = simulate(n_patients=200, n_therapists=5, seed=7, harmful_therapists=1,
    ...                     harmful_from_halfway=1)
    >>> truth.attrs["therapists"]["pattern"].value_counts().sort_index().to_dict()
    {'halfway': 1, 'none': 3, 'start': 1}
    """
    n = int(check_number(n_patients, name="n_patients", caller=_CALLER, low=1, integer=True))
    n_t = int(check_number(n_therapists, name="n_therapists", caller=_CALLER, low=1, integer=True))
    longest = int(
        check_number(n_sessions, name="n_sessions", caller=_CALLER, low=2, high=200, integer=True)
    )
    shortest = check_number(
        min_sessions,
        name="min_sessions",
        caller=_CALLER,
        low=2,
        high=longest,
        integer=True,
        allow_none=True,
    )
    shortest = min(_DEFAULT_MIN_SESSIONS, longest) if shortest is None else int(shortest)
    rates = {
        name: _check_rate(value, name)
        for name, value in {
            "deterioration_rate": deterioration_rate,
            "sudden_loss_rate": sudden_loss_rate,
            "risk_rate": risk_rate,
            "disengagement_rate": disengagement_rate,
            "alliance_rupture_rate": alliance_rupture_rate,
            "dependency_rate": dependency_rate,
            "symptom_emergence_rate": symptom_emergence_rate,
            "secondary_worsening_rate": secondary_worsening_rate,
            "medication_rate": medication_rate,
            "minor_rate": minor_rate,
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
    harmful_start = int(
        check_number(
            harmful_therapists, name="harmful_therapists", caller=_CALLER, low=0, integer=True
        )
    )
    harmful_halfway = int(
        check_number(
            harmful_from_halfway, name="harmful_from_halfway", caller=_CALLER, low=0, integer=True
        )
    )
    if harmful_start + harmful_halfway > n_t:
        raise ParameterError(
            f"{_CALLER}() was asked for {harmful_start} + {harmful_halfway} harmful therapists "
            f"(harmful_therapists + harmful_from_halfway), more than n_therapists={n_t}. "
            "Suggestion: raise n_therapists or ask for fewer harmful therapists."
        )
    odds = float(
        check_number(harmful_odds_ratio, name="harmful_odds_ratio", caller=_CALLER, low=1.0)
    )
    start = _check_start(start_date)
    seed = check_number(seed, name="seed", caller=_CALLER, low=0, integer=True, allow_none=True)
    if not isinstance(return_medications, (bool, np.bool_)):
        raise ParameterTypeError(
            f"The 'return_medications' parameter of {_CALLER}() must be True or False. "
            f"Got {return_medications!r} instead."
        )
    rng = _streams(seed)

    # Patients: correlated latent intake and slope on both measures, age (a share of minors).
    g = rng["patients"]
    chol = np.linalg.cholesky(_LATENT_CORR)
    latent = _LATENT_MEAN + (g.standard_normal((n, 4)) @ chol.T) * _LATENT_SD
    age = np.clip(np.rint(g.normal(38.0, 13.0, size=n)), 18, 80).astype(np.int64)
    _minor_ages(rng["minors"], rates["minor_rate"], age)

    # Therapists: unequal caseloads, a random effect on the slope.
    g = rng["therapists"]
    weights = g.dirichlet(np.full(n_t, 4.0))
    therapist = g.choice(n_t, size=n, p=weights)
    if n >= n_t:
        therapist[g.choice(n, size=n_t, replace=False)] = np.arange(n_t)
    effect = g.normal(0.0, t_sd, size=n_t)
    slope_phq = np.minimum(latent[:, 2] + effect[therapist], 0.0)
    slope_gad = np.minimum(latent[:, 3] + _GAD_THERAPIST_RATIO * effect[therapist], 0.0)

    # Schedule: planned length, dropout, missed sessions (the intake is always attended).
    width = longest + _DEPENDENCY_EXTRA[1]
    planned = rng["course"].integers(shortest, longest + 1, size=n).astype(np.int64)
    g = rng["schedule"]
    drops = g.random(n) < rates["dropout_rate"]
    last = np.where(drops, g.integers(1, planned), planned).astype(np.int64)
    u = g.random((n, width))
    attendance = np.where(
        u < rates["dna_rate"], 2, np.where(u < rates["dna_rate"] + rates["cancel_rate"], 1, 0)
    ).astype(np.int8)
    del u
    attendance[:, 0] = 0

    sessions = np.arange(1, width + 1)
    log_t = np.log(sessions.astype(np.float64))
    cohort = _Cohort(
        n=n,
        n_sessions=longest,
        width=width,
        log_t=log_t,
        intake_phq=latent[:, 0],
        slope_phq=slope_phq,
        intake_gad=latent[:, 1],
        slope_gad=slope_gad,
        mu_phq=latent[:, :1] + slope_phq[:, None] * log_t,
        mu_gad=latent[:, 1:2] + slope_gad[:, None] * log_t,
        last=last,
        visible_end=last.copy(),
        unplanned=drops.copy(),
        attendance=attendance,
        extra_gap=np.zeros((n, width), dtype=np.int16),
        truth=[],
        jumps=[],
        risk=[],
        sudden=np.zeros(n, dtype=bool),
    )

    # Harms on the course. Disengagement goes first (it decides where some courses end), then
    # dependency (which lengthens some), then the harms that must fit in what is left.
    _inject_disengagement(cohort, rng["disengagement"], rates["disengagement_rate"])
    _inject_dependency(cohort, rng["dependency"], rates["dependency_rate"])
    deteriorated = _inject_deterioration(cohort, rng["deterioration"], rates["deterioration_rate"])
    therapist_truth = None
    if harmful_start or harmful_halfway:
        # Only when asked for: the finishing order needs the dates (drawn here from a copy of
        # their stream, which is then drawn again below), and the raised harm draws from its own
        # stream, so that the default output does not change.
        finish = _session_days(copy.deepcopy(rng["dates"]), cohort)[
            np.arange(n), cohort.last - 1
        ]
        therapist_truth = _inject_harmful_therapists(
            cohort, rng["harmful_therapists"], therapist, n_t, finish, deteriorated,
            harmful_start, harmful_halfway, odds,
        )
    _inject_sudden_worsening(cohort, rng["sudden_worsening"], rates["sudden_loss_rate"])
    _inject_self_harm(cohort, rng["self_harm"], rates["risk_rate"])

    # Observed scores: noise, rounding, clipping; then item 9 and the constraints that tie it to
    # the total; then the exact sudden jumps (which keep those constraints, see _apply_jumps).
    g = rng["noise"]
    phq = _observe(g, cohort.mu_phq, noise, _PHQ_HIGH)
    gad = _observe(g, cohort.mu_gad, _GAD_NOISE_RATIO * noise, _GAD_HIGH)
    item9 = _risk_item(cohort, rng["risk_item"])
    # Items 1-8 hold at most 24 points, so the total lies between item 9 and item 9 + 24: the
    # total gives way to the item (which never rises without injected self-harm).
    ceiling = _PHQ_HIGH - _ITEM_HIGH
    np.clip(phq, item9, item9 + ceiling, out=phq)
    _apply_jumps(cohort, phq)
    exists = sessions <= cohort.last[:, None]

    # Items 1-8 follow the patient's profile and the expected course, and share out exactly the
    # rest of the observed total; symptom emergence raises some of them (and the total with them).
    ranks = _item_ranks(rng["items"], n)
    smooth = np.rint(np.clip(cohort.mu_phq, 0.0, _PHQ_HIGH)).astype(np.float32)
    smooth -= item9
    np.clip(smooth, 0, ceiling, out=smooth)
    items = _items_with_noise(ranks, smooth, phq - item9, exists)
    del smooth
    emerged = _inject_symptom_emergence(
        cohort, rng["symptom_emergence"], rates["symptom_emergence_rate"], items, gad
    )
    if len(emerged):
        phq[emerged] = item9[emerged] + sum(item[emerged] for item in items)

    # Alliance and hopelessness, with their harms.
    srs = _srs(cohort, rng["srs"])
    _inject_alliance_rupture(cohort, rng["alliance_rupture"], rates["alliance_rupture_rate"], srs)
    bhs = _bhs(cohort, rng["bhs"])
    _inject_secondary_worsening(
        cohort, rng["secondary_worsening"], rates["secondary_worsening_rate"], bhs
    )

    days = _session_days(rng["dates"], cohort)

    plan = _plan_medication(cohort, rng["medication"], rates["medication_rate"], days, age)

    # Long format: only the sessions that exist; scores of missed sessions are NaN.
    rows = exists.sum(axis=1)
    patient_codes = np.repeat(np.arange(n), rows)
    missed = cohort.attendance[exists] != 0

    def observed(grid: np.ndarray) -> np.ndarray:
        values = grid[exists].astype(np.float64)
        values[missed] = np.nan
        return values

    session_long = np.broadcast_to(sessions, (n, width))[exists].astype(np.int64)
    ending = np.full(len(session_long), -1, dtype=np.int8)
    is_last = session_long == cohort.last[patient_codes]
    ending[is_last] = cohort.unplanned.astype(np.int8)
    patient_dtype = pd.CategoricalDtype(_ids("P", n, 5))
    therapist_dtype = pd.CategoricalDtype(_ids("T", n_t, 2))
    columns: dict[str, Any] = {
        "patient": pd.Categorical.from_codes(patient_codes, dtype=patient_dtype),
        "therapist": pd.Categorical.from_codes(therapist[patient_codes], dtype=therapist_dtype),
        "session": session_long,
        "date": (start + days[exists].astype("timedelta64[D]")).astype("datetime64[ns]"),
        "attendance": pd.Categorical.from_codes(
            cohort.attendance[exists], dtype=pd.CategoricalDtype(list(ATTENDANCE))
        ),
        "phq9": observed(phq),
        "gad7": observed(gad),
    }
    for i, item in enumerate(items):
        columns[ITEM_COLUMNS[i]] = observed(item)
    columns["phq9_item9"] = observed(item9)
    columns["srs"] = np.round(observed(srs), 1)
    columns["bhs"] = observed(bhs)
    columns["age"] = age[patient_codes]
    columns["end_reason"] = pd.Categorical.from_codes(
        ending, dtype=pd.CategoricalDtype(list(END_REASONS))
    )
    # Every column is a fresh array; copying 10M rows would double the time.
    data = pd.DataFrame(columns, copy=False)

    truth = (
        pd.concat(cohort.truth, ignore_index=True)
        if cohort.truth
        else _truth_rows(np.empty(0, dtype=np.int64), "", np.empty(0), np.empty(0))
    )
    truth = truth.sort_values(["patient", "onset", "harm"], kind="stable", ignore_index=True)
    truth["patient"] = pd.Categorical.from_codes(truth["patient"].to_numpy(), dtype=patient_dtype)
    truth["harm"] = truth["harm"].astype(str)
    truth = truth.loc[:, list(TRUTH_COLUMNS)]
    if therapist_truth is not None:
        therapist_truth["therapist"] = pd.Categorical.from_codes(
            therapist_truth["therapist"].to_numpy(), dtype=therapist_dtype
        )
        therapist_truth["onset_date"] = (
            pd.Timestamp(start) + pd.to_timedelta(therapist_truth.pop("onset_day"), unit="D")
        ).astype("datetime64[ns]")
        truth.attrs["therapists"] = therapist_truth.loc[:, list(THERAPIST_TRUTH_COLUMNS)]
    if return_medications:
        medications = _medication_table(
            plan, rng["medication_table"], days[:, 0], start, patient_dtype
        )
        return data, truth, medications
    return data, truth


def screen_options(medications: pd.DataFrame | None = None) -> dict[str, Any]:
    """The keyword arguments of :func:`iatrogenic.screen` that match the simulator's columns.

    One place that says which simulated column feeds which input of the screen, so that every
    detector can run on simulated or example data.

    Parameters
    ----------
    medications : DataFrame, optional
        The medication table (``simulate(..., return_medications=True)`` or
        ``load_example_medications()``), passed through.

    Returns
    -------
    dict
        ``score="phq9"``, ``instrument="phq9"``, the optional columns (``therapist``,
        ``attendance``, ``date``, ``alliance="srs"``, ``age``, ``ending="end_reason"``),
        ``items`` (PHQ-9 items 1-8; item 9 is the risk item), ``secondary`` (BHS and GAD-7) and
        ``medications`` when given.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> data = ia.datasets.load_example()
    >>> events = ia.screen(data, **ia.datasets.screen_options())
    >>> "alliance_rupture" in events.attrs["detectors"]
    True
    """
    options: dict[str, Any] = {
        "score": "phq9",
        "instrument": "phq9",
        "therapist": "therapist",
        "attendance": "attendance",
        "date": "date",
        "alliance": "srs",
        "age": "age",
        "ending": "end_reason",
        "items": list(ITEM_COLUMNS[:8]),
        "secondary": {"bhs": "bhs", "gad7": "gad7"},
    }
    if medications is not None:
        options["medications"] = medications
    return options
