"""JSON form of :class:`~iatrogenic.classes.TrajectoryClassModel` (the library's envelope).

Uses the encoders of :mod:`iatrogenic._serialize`: exact floats, NaN as ``null``, a versioned
envelope with ``kind = "TrajectoryClassModel"``; reading checks every field it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._serialize import (
    decode_array,
    decode_scalar,
    dumps,
    encode_array,
    encode_scalar,
    loads,
    require,
)
from ..exceptions import ParameterError

if TYPE_CHECKING:
    from .lcga import TrajectoryClassModel

__all__ = ["classes_from_dict", "classes_from_json", "classes_to_dict", "classes_to_json"]

_KIND = "TrajectoryClassModel"
_ARRAYS = ("B", "s2", "logpi", "cov", "patients", "tau", "n_patient_obs", "reasons", "cov_means")
_SCALARS = (
    "columns",
    "time_transform",
    "knot",
    "covariates",
    "covariate_spec",
    "terms",
    "variance",
    "better",
    "instrument",
    "threshold",
    "rc_threshold",
    "baseline_sd",
    "loglik",
    "converged",
    "n_iter",
    "message",
    "selection",
    "t_first",
    "t_last",
    "n_obs",
    "seed",
)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def classes_to_dict(model: TrajectoryClassModel) -> dict[str, Any]:
    """Everything a fitted model is, as JSON-safe values (from its private state).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from iatrogenic.classes import fit_trajectory_classes
    >>> rng = np.random.default_rng(0)
    >>> t = np.tile(np.arange(1, 7), 60)
    >>> y = 15 + np.repeat(rng.choice([-4.0, 2.0], 60), 6) * np.log(t) + rng.normal(0, 1, 360)
    >>> data = pd.DataFrame({"patient": np.repeat(np.arange(60), 6), "session": t, "score": y})
    >>> model = fit_trajectory_classes(data, n_classes=2, seed=0)
    >>> again = classes_from_dict(classes_to_dict(model))
    >>> again.class_curves_.equals(model.class_curves_)
    True
    """
    s = model._state
    out: dict[str, Any] = {name: encode_array(getattr(s, name)) for name in _ARRAYS}
    out["columns"] = {str(k): str(v) for k, v in s.columns.items()}
    out["time_transform"] = s.time_transform
    out["knot"] = _opt_float(s.knot)
    out["covariates"] = [str(c) for c in s.covariates]
    out["covariate_spec"] = [[str(c), str(k), encode_scalar(lv)] for c, k, lv in s.covariate_spec]
    out["terms"] = [str(t) for t in s.terms]
    out["variance"] = s.variance
    out["better"] = s.better
    out["instrument"] = s.instrument
    out["threshold"] = _opt_float(s.threshold)
    out["rc_threshold"] = _opt_float(s.rc_threshold)
    out["baseline_sd"] = float(s.baseline_sd)
    out["loglik"] = float(s.loglik)
    out["converged"] = bool(s.converged)
    out["n_iter"] = int(s.n_iter)
    out["message"] = str(s.message)
    out["selection"] = {str(k): encode_array(np.asarray(v)) for k, v in s.selection.items()}
    out["t_first"] = float(s.t_first)
    out["t_last"] = float(s.t_last)
    out["n_obs"] = int(s.n_obs)
    out["seed"] = s.seed
    out["random"] = s.random
    out["t2"] = _opt_float(s.t2)
    return out


def classes_from_dict(d: dict[str, Any]) -> TrajectoryClassModel:
    """Rebuild a model from :func:`classes_to_dict`."""
    from .lcga import TrajectoryClassModel, _ClassState

    if not isinstance(d, dict):
        raise ParameterError(f"Malformed {_KIND} document: expected a JSON object.")
    require(d, _ARRAYS + _SCALARS, kind=_KIND)
    a = {name: decode_array(d[name], name=name) for name in _ARRAYS}
    if not isinstance(d["selection"], dict):
        raise ParameterError(f"Malformed {_KIND} document: 'selection' must be a JSON object.")
    selection = {k: decode_array(v, name=f"selection.{k}") for k, v in d["selection"].items()}
    state = _ClassState(
        columns=dict(d["columns"]),
        time_transform=str(d["time_transform"]),
        knot=_opt_float(d["knot"]),
        covariates=list(d["covariates"]),
        covariate_spec=[(c, k, decode_scalar(lv)) for c, k, lv in d["covariate_spec"]],
        terms=list(d["terms"]),
        variance=str(d["variance"]),
        better=str(d["better"]),
        instrument=d["instrument"],
        threshold=_opt_float(d["threshold"]),
        rc_threshold=_opt_float(d["rc_threshold"]),
        baseline_sd=float(d["baseline_sd"]),
        B=a["B"].astype(np.float64),
        s2=a["s2"].astype(np.float64),
        logpi=a["logpi"].astype(np.float64),
        cov=a["cov"].astype(np.float64),
        loglik=float(d["loglik"]),
        converged=bool(d["converged"]),
        n_iter=int(d["n_iter"]),
        message=str(d["message"]),
        selection=selection,
        patients=a["patients"],
        tau=a["tau"].astype(np.float64),
        n_patient_obs=a["n_patient_obs"].astype(np.int64),
        reasons=a["reasons"].astype(object),
        t_first=float(d["t_first"]),
        t_last=float(d["t_last"]),
        cov_means=a["cov_means"].astype(np.float64),
        n_obs=int(d["n_obs"]),
        seed=d["seed"],
        # absent from documents written before growth mixture models: LCGA
        random=d.get("random"),
        t2=_opt_float(d.get("t2")),
    )
    return TrajectoryClassModel(state)


def classes_to_json(model: TrajectoryClassModel) -> str:
    """:meth:`TrajectoryClassModel.to_json`: the model as versioned JSON text."""
    return dumps(classes_to_dict(model), kind=_KIND)


def classes_from_json(text: str) -> TrajectoryClassModel:
    """:meth:`TrajectoryClassModel.from_json`: read the text written by :func:`classes_to_json`."""
    return classes_from_dict(loads(text, kind=_KIND))
