"""Plot of trajectory classes: class mean curves with confidence bands and sample courses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import check_fraction, check_number
from ..exceptions import ParameterTypeError
from ..plotting import _axes
from .lcga import TrajectoryClassModel

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_trajectory_classes"]

_COLORS = ("#4c72b0", "#55a868", "#8172b2", "#ccb974", "#64b5cd", "#8c8c8c", "#937860")
_HARM_COLOR = "#c44e52"


def plot_trajectory_classes(
    model: TrajectoryClassModel,
    data: pd.DataFrame | None = None,
    *,
    patient: str | None = None,
    time: str | None = None,
    score: str | None = None,
    n_patients: int = 30,
    level: float = 0.95,
    seed: int = 0,
    ax: Any = None,
    legend: bool = True,
) -> Axes:
    """Class mean curves with pointwise confidence bands, and a sample of patients' courses.

    Parameters
    ----------
    model : TrajectoryClassModel
        A fitted model (:func:`~iatrogenic.fit_trajectory_classes`).
    data : DataFrame, optional
        Long data (column names as in the fit unless given) whose courses are drawn thinly in
        the colour of each patient's modal class (:meth:`TrajectoryClassModel.predict_proba`).
    patient, time, score : str, optional
        Column names; default those of the fit.
    n_patients : int, default 30
        Number of patients drawn at random (seeded) from ``data``.
    level : float, default 0.95
        Level of the bands: ``x' b_k +- z sqrt(x' Cov(b_k) x)`` (Louis standard errors).
    seed : int, default 0
        Seed of the sample of patients.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure when None.
    legend : bool, default True

    Returns
    -------
    matplotlib.axes.Axes
        The deteriorating class (``model.deteriorating_class_``) is drawn in red.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, pandas as pd
    >>> from iatrogenic.classes import fit_trajectory_classes
    >>> rng = np.random.default_rng(0)
    >>> t = np.tile(np.arange(1, 7), 80)
    >>> y = 15 + np.repeat(rng.choice([-4.0, 3.0], 80), 6) * np.log(t) + rng.normal(0, 1, 480)
    >>> data = pd.DataFrame({"patient": np.repeat(np.arange(80), 6), "session": t, "score": y})
    >>> model = fit_trajectory_classes(data, n_classes=2, seed=0)
    >>> ax = plot_trajectory_classes(model, data, n_patients=10)
    >>> len(ax.collections)   # one band per class
    2
    """
    caller = "plot_trajectory_classes"
    if not isinstance(model, TrajectoryClassModel):
        raise ParameterTypeError(
            f"The 'model' parameter of {caller}() must be a TrajectoryClassModel (from "
            f"fit_trajectory_classes()). Got {type(model).__name__} instead."
        )
    level = check_fraction(level, name="level", caller=caller)
    n_patients = check_number(n_patients, name="n_patients", caller=caller, low=0, integer=True)
    axes = _axes(ax, figsize=(7.0, 4.5), caller=caller)
    s = model._state
    K, p = s.B.shape
    lo_t, hi_t = s.t_first, s.t_last
    courses = None
    if data is not None:
        post = model.predict_proba(data, patient=patient, time=time, score=score)
        post = post[post["modal_class"].notna()]
        rng = np.random.default_rng(seed)
        take = rng.choice(len(post), size=min(int(n_patients), len(post)), replace=False)
        chosen = post.iloc[np.sort(take)]
        pcol = patient or s.columns.get("patient", "patient")
        tcol = time or s.columns.get("time", "session")
        ycol = score or s.columns.get("score", "score")
        rows = data[data[pcol].isin(chosen["patient"])]
        courses = (rows, chosen, pcol, tcol, ycol)
        if len(rows):
            lo_t = min(lo_t, float(rows[tcol].min()))
            hi_t = max(hi_t, float(rows[tcol].max()))
    grid = np.linspace(lo_t, hi_t, 60)
    spec = model._spec()
    X = np.array([spec.point(float(v), s.cov_means) for v in grid])
    z = stats.norm.ppf(0.5 + level / 2)
    colors = [_HARM_COLOR if k + 1 == model.deteriorating_class_ else _COLORS[k % len(_COLORS)]
              for k in range(K)]
    if courses is not None:
        rows, chosen, pcol, tcol, ycol = courses
        modal = dict(zip(chosen["patient"], chosen["modal_class"].astype(int), strict=True))
        for pid, grp in rows.sort_values([pcol, tcol]).groupby(pcol, sort=False):
            axes.plot(grp[tcol], grp[ycol], color=colors[modal[pid] - 1], alpha=0.25, lw=0.8)
    shares = np.exp(s.logpi)
    for k in range(K):
        cov = s.cov[k * p : (k + 1) * p, k * p : (k + 1) * p]
        mean = X @ s.B[k]
        se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", X, cov, X), 0, None))
        label = f"class {k + 1} ({shares[k]:.0%})"
        if k + 1 == model.deteriorating_class_:
            label += ", deteriorating"
        axes.plot(grid, mean, color=colors[k], lw=2.2, label=label)
        axes.fill_between(grid, mean - z * se, mean + z * se, color=colors[k], alpha=0.2, lw=0)
    axes.set_xlabel(s.columns.get("time", "session"))
    axes.set_ylabel(s.columns.get("score", "score"))
    axes.set_title(f"{K} trajectory classes")
    if legend:
        axes.legend(frameon=False, fontsize="small")
    return axes
