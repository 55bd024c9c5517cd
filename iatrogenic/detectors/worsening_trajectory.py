"""A patient's own growth slope credibly in the harmful direction, from a causal model refit."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import check_fraction, check_number
from ..core.growth import _fit_slopes
from .base import Detector, ScreenInput, empty_events, label, make_events
from .registry import register_detector

__all__ = ["WorseningTrajectory"]


def _model_time(frame: pd.DataFrame, order: np.ndarray) -> tuple[np.ndarray, str]:
    """Numeric time for the model and its unit: the session value, days, or the rank."""
    values = frame["time"]
    if pd.api.types.is_datetime64_any_dtype(values):
        return order / 86_400e9, "day"
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.float64), "session"
    return order.astype(np.float64), "occasion"


@register_detector
class WorseningTrajectory(Detector):
    """Flag patients whose own score slope is credibly in the harmful direction.

    At every occasion ``t`` (each distinct value of the time column, in order) a linear growth
    model ``score ~ time + (time | patient)`` is fitted by REML (:func:`~iatrogenic.fit_growth`'s
    engine) to all rows with time ``<= t``. A patient scored at ``t`` with at least
    ``min_sessions`` scores so far has the slope ``beta_time + b_i`` (fixed plus empirical-Bayes
    random slope) with variance ``Var(beta_time) + condVar(b_i)``; the slope is credibly harmful
    when the ``1 - alpha`` interval lies entirely above 0 (``better="lower"``) or below 0
    (``better="higher"``). An alarm is raised at the first session of each such spell.

    The rule is causal: the model used at ``t`` sees only rows with time ``<= t`` (of every
    patient), so a screen of data truncated at ``t`` gives exactly the full screen's events up
    to ``t``. The cost is one fit per distinct occasion, each on the data so far (warm-started
    from the previous fit): about ``T`` fits of O(patients) work, e.g. 12 fits in 0.1 s for 120
    patients, ~1 s per 12 occasions for 20,000 patients. Fits that do not converge are skipped
    (no event is raised from them).

    Parameters
    ----------
    min_sessions : int, default 3
        Scores a patient needs (up to the current one) before their slope is judged.
    alpha : float, default 0.05
        The slope's two-sided ``1 - alpha`` interval must exclude 0.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> data, _ = ia.datasets.simulate(n_patients=120, n_therapists=6, seed=20261127)
    >>> events = ia.screen(data, score="phq9", instrument="phq9",
    ...                    detectors=["worsening_trajectory"])
    >>> events["harm"].unique().tolist()
    ['worsening_course']
    """

    name = "worsening_trajectory"
    harm = "worsening_course"
    needs = ("score",)
    description = (
        "Patient's own growth-model slope (fixed + empirical-Bayes random slope, refitted on the "
        "data up to each session) credibly in the harmful direction."
    )
    _invalid_params = (
        {"min_sessions": 1},
        {"min_sessions": 2.5},
        {"alpha": 0.0},
        {"alpha": 1.5},
    )

    def __init__(self, *, min_sessions: int = 3, alpha: float = 0.05) -> None:
        caller = "WorseningTrajectory"
        self.min_sessions = check_number(
            min_sessions, name="min_sessions", caller=caller, low=2, integer=True
        )
        self.alpha = check_fraction(alpha, name="alpha", caller=caller)

    def detect(self, data: ScreenInput) -> pd.DataFrame:
        long = data.long
        frame = long.frame
        scores = frame["score"].to_numpy(dtype=np.float64)
        scored = ~np.isnan(scores)
        if scored.sum() < 4:
            return empty_events()
        t_all, unit = _model_time(frame, long.order)
        rows = np.flatnonzero(scored)
        codes, t, y = long.codes[rows], t_all[rows], scores[rows]
        # running count of each patient's scores (rows are sorted by patient, then time)
        first = np.r_[True, codes[1:] != codes[:-1]]
        seg = np.cumsum(first) - 1
        count = np.arange(len(rows)) - np.flatnonzero(first)[seg] + 1
        sign = 1.0 if data.better == "lower" else -1.0
        z = float(stats.norm.ppf(1 - self.alpha / 2))
        state = np.zeros(long.n_patients, dtype=bool)  # flagged at the previous evaluation
        hits: list[np.ndarray] = []
        info: list[np.ndarray] = []
        start = None
        for occasion in np.unique(t):
            now = t == occasion
            judged = now & (count >= self.min_sessions)
            if not judged.any():
                continue
            upto = t <= occasion
            fit = _fit_slopes(codes[upto], t[upto], y[upto], start=start)
            if fit is None or not fit["converged"]:
                continue
            start = fit["theta"]
            where = np.searchsorted(fit["patients"], codes[judged])
            slope = fit["slope"][where]
            sd = np.sqrt(fit["variance"][where])
            lower, upper = slope - z * sd, slope + z * sd
            flagged = (sign * slope - z * sd) > 0
            pats = codes[judged]
            onset = flagged & ~state[pats]
            state[pats] = flagged
            if onset.any():
                judged_rows = rows[judged]
                hits.append(judged_rows[onset])
                info.append(
                    np.column_stack(
                        [slope, lower, upper, count[judged], np.full(len(slope), fit["fixed"])]
                    )[onset]
                )
        if not hits:
            return empty_events()
        hit_rows = np.concatenate(hits)
        values = np.vstack(info)
        order = np.argsort(hit_rows, kind="stable")  # patient, then session order
        hit_rows, values = hit_rows[order], values[order]
        times = frame["time"].to_numpy()
        level = f"{100 * (1 - self.alpha):g}"
        evidence = [
            f"slope {v[0]:+.2f} points per {unit} (average {v[4]:+.2f}, this patient "
            f"{v[0] - v[4]:+.2f}); {level}% interval [{v[1]:.2f}, {v[2]:.2f}] excludes 0 on "
            f"the harmful side; growth model on all data up to {unit} {label(times[r])}, "
            f"{int(v[3])} scores of this patient"
            for r, v in zip(hit_rows, values, strict=True)
        ]
        return make_events(
            self,
            patient=frame["patient"].to_numpy()[hit_rows],
            session=times[hit_rows],
            level="alarm",
            value=values[:, 0],
            threshold=0.0,
            evidence=evidence,
        )
