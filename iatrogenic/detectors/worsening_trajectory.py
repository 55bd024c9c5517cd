"""A patient's own growth slope credibly in the harmful direction, from a causal model refit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .._progress import check_enabled
from .._progress import progress as progress_bar
from .._threads import one_blas_thread
from .._validation import check_fraction, check_number
from ..core.growth import _fit_slopes_grouped, _grouped_stats, _patient_slopes
from ._sequences import patient_ids
from .base import Detector, ScreenInput, empty_events, formatted, labels, make_events
from .registry import register_detector

__all__ = ["WorseningTrajectory"]


def _model_time(frame: pd.DataFrame, order: np.ndarray) -> tuple[np.ndarray, str, float]:
    """Numeric time for the model, the unit slopes are reported in, and model time per unit.

    The model time is the session value, weeks (datetimes) or the rank; slopes are reported per
    session, day or occasion. ``order`` is ``LongData.order``; the model time is ``order`` itself
    or (datetimes) ``order`` in weeks, so it can be computed for the few distinct occasions
    instead of every row.
    """
    values = frame["time"]
    if pd.api.types.is_datetime64_any_dtype(values):
        # Since the earliest session, not since 1970: the slope is the same under a shift of
        # time, but epoch-sized times make the fit badly conditioned. The earliest session is
        # in every truncation of the data, so the shift keeps the rule causal. Weeks, not days:
        # the slopes are then ~7x larger relative to the noise, and the fit (whose starts have
        # theta >= 0.1) no longer lands in a singular local optimum when refits are spaced out
        # (on the example with dates, 30 instead of 36 true deteriorations were flagged). The
        # optimum is the same in any unit; slopes are reported per day.
        return (order - order.min()) / (7 * 86_400e9), "day", 1 / 7
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        # ``_time_order`` holds exactly these values (the column as float64)
        return order, "session", 1.0
    return order, "occasion", 1.0


#: Beyond the first ``max_fits`` occasions, refits per doubling of the number of occasions.
_REFITS_PER_DOUBLING = 4


def _refit_schedule(n_occasions: int, max_fits: int) -> np.ndarray:
    """Which occasions (by rank, 0-based) are scheduled refits of the population model.

    Ranks ``1..max_fits`` (1-based) and then ``ceil(max_fits * 2**(j / 4))`` for ``j = 1, 2,
    ...``: every occasion while there are at most ``max_fits``, then 4 refits per doubling of the
    number of occasions (each at most ~19% more occasions after the previous one). Whether a
    rank is scheduled depends only on the rank and ``max_fits``, never on later occasions, so the
    schedule of data truncated at ``t`` is the full schedule up to ``t`` (causal). There are at
    most ``min(n, max_fits + floor(4 * log2(n / max_fits)))`` scheduled ranks among ``n``.

    Examples
    --------
    >>> np.flatnonzero(_refit_schedule(30, 4)) + 1
    array([ 1,  2,  3,  4,  5,  6,  7,  8, 10, 12, 14, 16, 20, 23, 27])
    """
    due = np.zeros(n_occasions, dtype=bool)
    due[:max_fits] = True
    j = 1
    while (rank := math.ceil(max_fits * 2.0 ** (j / _REFITS_PER_DOUBLING))) <= n_occasions:
        due[rank - 1] = True
        j += 1
    return due


@register_detector
class WorseningTrajectory(Detector):
    """Flag patients whose own score slope is credibly in the harmful direction.

    A linear growth model ``score ~ time + (time | patient)`` is fitted by REML
    (:func:`~iatrogenic.fit_growth`'s engine) to all rows with time ``<= t``, for occasions
    ``t`` (distinct values of the time column) on a causal schedule (below). A patient scored at
    ``t`` with at least ``min_sessions`` scores so far has the slope ``beta_time + b_i`` (fixed
    plus empirical-Bayes random slope) with variance ``Var(beta_time) + condVar(b_i)``, where
    ``b_i`` and ``condVar(b_i)`` are the closed form from the patient's own rows up to ``t`` given
    the latest fit's ``theta``, ``beta`` and ``sigma^2`` (so the score of ``t`` always counts),
    and ``Var(beta_time)`` is the latest fit's. The slope is credibly harmful when its
    ``1 - alpha`` interval lies entirely above 0 (``better="lower"``) or below 0
    (``better="higher"``). An alarm is raised at the first session of each such spell; ``value``
    is the slope in the harmful direction (positive = worsening), ``threshold`` 0.

    Refit schedule: the model is refitted at every occasion while there have been at most
    ``max_fits`` distinct occasions (so session-numbered data are refitted at every session),
    then at ranks ``ceil(max_fits * 2**(j / 4))``, 4 refits per doubling of the number of
    occasions (see :func:`_refit_schedule`). A scheduled refit is made at the first occasion from
    its rank on at which some patient is judged; a refit that fails or does not converge is
    dropped and its occasion raises no event. The schedule depends only on the ranks of the
    occasions so far, so the rule is causal: a screen of data truncated at ``t`` gives exactly
    the full screen's events up to ``t``. With dates (or days since intake) as time, where every
    distinct day is an occasion, this bounds the cost: at most ``max_fits + 4 log2(n /
    max_fits)`` fits for ``n`` occasions, each warm-started from the previous fit and costing
    O(distinct patterns of occasions); between fits a judgement costs O(patients scored).
    Dates are fitted in weeks since the earliest date (better conditioned; the same optimum), and
    slopes are reported per day.

    Parameters
    ----------
    min_sessions : int, default 3
        Scores a patient needs (up to the current one) before their slope is judged.
    alpha : float, default 0.05
        The slope's two-sided ``1 - alpha`` interval must exclude 0.
    max_fits : int, default 40
        Occasions refitted one by one before refits are spaced out (see above).
    progress : bool or None, default None
        A progress bar over the occasions (and so the growth refits), on standard error (needs
        tqdm: ``pip install 'iatrogenic[progress]'``). ``None``: only when standard error is a
        terminal; ``False``: never; ``True``: whenever tqdm is installed. The events are the same
        either way.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> data, _ = ia.datasets.simulate(n_patients=120, n_therapists=6, seed=20261127)
    >>> events = ia.screen(data, score="phq9", instrument="phq9",
    ...                    detectors=["worsening_trajectory"])
    >>> events["harm"].unique().tolist()
    ['worsening_course']
    >>> bool((events["value"] > 0).all())
    True
    """

    name = "worsening_trajectory"
    harm = "worsening_course"
    needs = ("score",)
    description = (
        "Patient's own growth-model slope (fixed + empirical-Bayes random slope, from the data "
        "up to each session) credibly in the harmful direction."
    )
    _invalid_params = (
        {"min_sessions": 1},
        {"min_sessions": 2.5},
        {"alpha": 0.0},
        {"alpha": 1.5},
        {"max_fits": 0},
        {"max_fits": 2.5},
        {"progress": "yes"},
    )

    def __init__(
        self,
        *,
        min_sessions: int = 3,
        alpha: float = 0.05,
        max_fits: int = 40,
        progress: bool | None = None,
    ) -> None:
        caller = "WorseningTrajectory"
        self.progress = check_enabled(progress, caller=caller)
        self.min_sessions = check_number(
            min_sessions, name="min_sessions", caller=caller, low=2, integer=True
        )
        self.alpha = check_fraction(alpha, name="alpha", caller=caller)
        self.max_fits = check_number(max_fits, name="max_fits", caller=caller, low=1, integer=True)

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        with one_blas_thread():
            return self._detect(data)

    def _detect(self, data: ScreenInput) -> pd.DataFrame:
        long = data.long
        frame = long.frame
        scores = frame["score"].to_numpy(dtype=np.float64)
        rows = np.flatnonzero(~np.isnan(scores))
        if len(rows) < 4:
            return empty_events()
        # The occasions are the distinct model times of the scored rows. Factorise the order key
        # of those rows (a hash, no sort of the rows), then turn only the distinct values into
        # model time; ``remap`` joins values that are equal in model time (weeks for dates).
        occ, levels = pd.factorize(long.order[rows], sort=True)
        occasion_times, unit, per_unit = _model_time(frame, np.asarray(levels, np.float64))
        occasion_times, remap = np.unique(occasion_times, return_inverse=True)
        if len(occasion_times) < len(levels):
            occ = remap.reshape(-1)[occ]
        n_occasions = len(occasion_times)
        scheduled = _refit_schedule(n_occasions, self.max_fits)
        # the scored rows by occasion (stable: by row, i.e. by patient, within an occasion)
        by_occasion = rows[np.argsort(occ, kind="stable")]
        bounds = np.r_[0, np.cumsum(np.bincount(occ, minlength=n_occasions))]
        sign = 1.0 if data.better == "lower" else -1.0
        z = float(stats.norm.ppf(1 - self.alpha / 2))
        n_pat = long.n_patients
        state = np.zeros(n_pat, dtype=bool)  # flagged at the previous evaluation
        # Each patient's sufficient statistics of the rows up to the current occasion, updated
        # occasion by occasion (the rows of an occasion are a few per patient), so an occasion
        # costs O(its rows) and a fit O(patients) of bookkeeping, not a pass over all rows so
        # far. ``pattern`` numbers the sets of occasions scored so far: patients with the same
        # set have the same times, hence the same n_i, sum t, sum t^2, and are pooled by the
        # model (see ``_grouped_stats``). Only the patients scored at an occasion get new
        # numbers (never used before), so equal numbers mean equal sets.
        count = np.zeros(n_pat, dtype=np.int64)
        sum_t, sum_tt, sum_y, sum_ty = (np.zeros(n_pat) for _ in range(4))
        sum_yy = 0.0
        pattern = np.zeros(n_pat, dtype=np.int64)
        next_pattern = 1
        hits: list[np.ndarray] = []
        info: list[np.ndarray] = []
        fit = None  # the latest converged fit, with the row of its occasion (for the evidence)
        fit_row = -1
        start = None
        due = False
        for k in progress_bar(
            range(n_occasions), desc="worsening_trajectory: occasions", enabled=self.progress
        ):
            occasion = occasion_times[k]
            now = by_occasion[bounds[k] : bounds[k + 1]]
            pats = long.codes[now]
            y = scores[now]
            # np.add.at: a patient has one row per occasion, unless two datetimes fall on the
            # same floating-point day; then their rows are added in order.
            np.add.at(count, pats, 1)
            np.add.at(sum_t, pats, occasion)
            np.add.at(sum_tt, pats, occasion * occasion)
            np.add.at(sum_y, pats, y)
            np.add.at(sum_ty, pats, occasion * y)
            sum_yy += float(y @ y)
            scored, new_rows = np.unique(pats, return_counts=True)
            renumber, distinct = pd.factorize(
                pattern[scored] * (int(new_rows.max()) + 1) + new_rows
            )
            pattern[scored] = next_pattern + renumber
            next_pattern += len(distinct)
            due = due or bool(scheduled[k])
            judged = count[pats] >= self.min_sessions
            if not judged.any():
                continue
            if due:
                due = False
                present = np.flatnonzero(count > 0)
                group, n_groups = _dense(pattern[present])
                per_patient = (
                    count[present].astype(np.float64),
                    sum_t[present],
                    sum_tt[present],
                    sum_y[present],
                    sum_ty[present],
                )
                refit = _fit_slopes_grouped(
                    _grouped_stats(group, n_groups, per_patient, sum_yy), start=start
                )
                if refit is None or not refit["converged"]:
                    continue
                fit, fit_row, start = refit, int(now[0]), refit["theta"]
            if fit is None:
                continue
            who = pats[judged]
            slope, variance = _patient_slopes(
                fit,
                (count[who].astype(np.float64), sum_t[who], sum_tt[who], sum_y[who], sum_ty[who]),
            )
            sd = np.sqrt(variance)
            flagged = (sign * slope - z * sd) > 0
            onset = flagged & ~state[who]
            state[who] = flagged
            if onset.any():
                hits.append(now[judged][onset])
                info.append(
                    np.column_stack(
                        [
                            slope,
                            slope - z * sd,
                            slope + z * sd,
                            count[who],
                            np.full(len(slope), fit["fixed"]),
                            np.full(len(slope), fit_row),
                        ]
                    )[onset]
                )
        if not hits:
            return empty_events()
        hit_rows = np.concatenate(hits)
        values = np.vstack(info)
        order = np.argsort(hit_rows, kind="stable")  # patient, then session order
        hit_rows, values = hit_rows[order], values[order]
        values[:, [0, 1, 2, 4]] *= per_unit  # slopes per reported unit (day for dates)
        times = frame["time"].to_numpy()
        level = f"{100 * (1 - self.alpha):g}"
        bound, side = ("lower", ">") if sign > 0 else ("upper", "<")
        slope, low, high, n_scores, fixed, fit_rows = values.T
        evidence = (
            "slope " + formatted(slope, "+.2f") + f" points per {unit} (average "
            + formatted(fixed, "+.2f") + ", this patient " + formatted(slope - fixed, "+.2f")
            + f"); {level}% interval [" + formatted(low, ".2f") + ", " + formatted(high, ".2f")
            + f"], its {bound} bound " + formatted(low if sign > 0 else high, "+.2f")
            + f" {side} 0 (worsening); from this patient's "
            + labels(n_scores.astype(np.int64)) + f" scores up to {unit} "
            + labels(times[hit_rows]) + f" and the growth model on all data up to {unit} "
            + labels(times[fit_rows.astype(np.int64)])
        )
        return make_events(
            self,
            patient=patient_ids(data, hit_rows),
            session=times[hit_rows],
            level="alarm",
            value=sign * values[:, 0],
            threshold=0.0,
            evidence=evidence,
        )


def _dense(ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Renumber ids as 0..n-1 (a hash, no sort); return them and n."""
    codes, uniques = pd.factorize(ids)
    return codes.astype(np.int64, copy=False), len(uniques)
