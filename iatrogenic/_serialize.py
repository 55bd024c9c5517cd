"""JSON serialisation of fitted objects: plain ``json``, exact floats, no pickle.

Every document written here is a JSON object::

    {"format": "iatrogenic", "kind": "<class>", "format_version": 1,
     "library_version": "0.1.0", "payload": {...}}

Floats are written by Python's ``repr`` (shortest string that reads back to the same double), so
a fitted model read back predicts bit for bit what the original predicts. Non-finite numbers are
not valid JSON: arrays are written as ``{"dtype", "shape", "data"}`` with ``NaN`` as ``null``
and infinities as the strings ``"inf"`` / ``"-inf"``. Reading checks the envelope and every
field it needs, and fails with :class:`~iatrogenic.exceptions.ParameterError` naming what is
wrong, never with a bare ``KeyError``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .exceptions import ParameterError, ParameterTypeError

if TYPE_CHECKING:
    from .core.growth import GrowthModel

__all__ = [
    "FORMAT_VERSION",
    "check_envelope",
    "decode_array",
    "decode_scalar",
    "dumps",
    "encode_array",
    "encode_scalar",
    "growth_from_dict",
    "growth_from_json",
    "growth_to_dict",
    "growth_to_json",
    "loads",
    "require",
]

#: Version of the JSON layout; bumped when a reader of an older version could misread a file.
FORMAT_VERSION = 1
_FORMAT = "iatrogenic"


def _library_version() -> str:
    from . import __version__

    return __version__


# ------------------------------------------------------------------------------------------------
# Scalars and arrays
# ------------------------------------------------------------------------------------------------


def encode_scalar(value: Any) -> Any:
    """A JSON-safe form of a scalar (ids, levels, sessions): numbers, str, bool, None, dates.

    Non-finite floats become ``{"float": "nan"}`` (or ``"inf"``, ``"-inf"``); dates and
    timestamps ``{"datetime": "<ISO 8601>"}`` (read back as ``pd.Timestamp``).

    Examples
    --------
    >>> encode_scalar(np.int64(3)), encode_scalar("P1"), encode_scalar(float("nan"))
    (3, 'P1', {'float': 'nan'})
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (_dt.datetime, _dt.date, np.datetime64)):
        stamp = pd.Timestamp(value)
        return None if pd.isna(stamp) else {"datetime": stamp.isoformat()}
    raise ParameterTypeError(
        f"Cannot write a value of type {type(value).__name__} ({value!r}) to JSON: patient ids, "
        "sessions and covariate levels must be numbers, strings, booleans or None. Suggestion: "
        "convert the column, e.g. data['patient'].astype(str)."
    )


def decode_scalar(value: Any) -> Any:
    """Inverse of :func:`encode_scalar`.

    Examples
    --------
    >>> decode_scalar({"float": "nan"})
    nan
    """
    if isinstance(value, dict) and "datetime" in value:
        return pd.Timestamp(value["datetime"])
    if isinstance(value, dict):
        text = value.get("float")
        if text not in ("nan", "inf", "-inf"):
            raise ParameterError(f"Malformed non-finite number in JSON: {value!r}.")
        return float(text)
    return value


def encode_array(values: Any) -> dict[str, Any]:
    """A numpy array as ``{"dtype", "shape", "data"}`` (``data`` flat, row-major).

    float64 arrays keep every bit (``repr``); NaN is ``null``, infinities are strings. int64 and
    bool arrays are stored as numbers; object arrays element by element (:func:`encode_scalar`).

    Examples
    --------
    >>> encode_array(np.array([[1.5, np.nan]]))
    {'dtype': 'float64', 'shape': [1, 2], 'data': [1.5, None]}
    """
    array = np.asarray(values)
    shape = list(array.shape)
    flat = array.reshape(-1)
    if array.dtype.kind == "f":
        data: list[Any] = []
        for x in flat.astype(np.float64).tolist():
            if math.isfinite(x):
                data.append(x)
            elif math.isnan(x):
                data.append(None)
            else:
                data.append("inf" if x > 0 else "-inf")
        return {"dtype": "float64", "shape": shape, "data": data}
    if array.dtype.kind in "iu":
        return {"dtype": "int64", "shape": shape, "data": flat.astype(np.int64).tolist()}
    if array.dtype.kind == "b":
        return {"dtype": "bool", "shape": shape, "data": flat.tolist()}
    return {"dtype": "object", "shape": shape, "data": [encode_scalar(v) for v in flat.tolist()]}


def decode_array(value: Any, *, name: str = "array") -> np.ndarray:
    """Inverse of :func:`encode_array`.

    Examples
    --------
    >>> decode_array({"dtype": "float64", "shape": [2], "data": [1.5, None]})
    array([1.5, nan])
    """
    if not isinstance(value, dict) or not {"dtype", "shape", "data"} <= set(value):
        raise ParameterError(
            f"Malformed array {name!r} in JSON: expected an object with 'dtype', 'shape' and "
            f"'data'. Got {str(value)[:80]!r}."
        )
    dtype, shape, data = value["dtype"], value["shape"], value["data"]
    if not isinstance(data, list) or not isinstance(shape, list):
        raise ParameterError(f"Malformed array {name!r} in JSON: 'data' and 'shape' must be lists.")
    if dtype == "float64":
        out = np.array([np.nan if x is None else float(x) for x in data], dtype=np.float64)
    elif dtype == "int64":
        out = np.array(data, dtype=np.int64)
    elif dtype == "bool":
        out = np.array(data, dtype=bool)
    elif dtype == "object":
        out = np.empty(len(data), dtype=object)
        out[:] = [decode_scalar(x) for x in data]
    else:
        raise ParameterError(
            f"Malformed array {name!r} in JSON: unknown dtype {dtype!r} (float64, int64, bool, "
            "object)."
        )
    if int(np.prod(shape)) != len(out):
        raise ParameterError(
            f"Malformed array {name!r} in JSON: shape {shape} does not hold {len(out)} values."
        )
    return out.reshape(shape)


# ------------------------------------------------------------------------------------------------
# Envelope
# ------------------------------------------------------------------------------------------------


def dumps(payload: dict[str, Any], *, kind: str) -> str:
    """Wrap ``payload`` in the versioned envelope and write it as compact JSON.

    Examples
    --------
    >>> text = dumps({"a": 0.1}, kind="Example")
    >>> loads(text, kind="Example")
    {'a': 0.1}
    """
    document = {
        "format": _FORMAT,
        "kind": kind,
        "format_version": FORMAT_VERSION,
        "library_version": _library_version(),
        "payload": payload,
    }
    return json.dumps(document, allow_nan=False, separators=(",", ":"))


def loads(text: Any, *, kind: str) -> dict[str, Any]:
    """Read a document written by :func:`dumps` and return its payload, after checking it.

    Raises
    ------
    ParameterTypeError
        ``text`` is not a string (or bytes).
    ParameterError
        Not JSON, not an iatrogenic document, another kind of object, or a newer format.

    Examples
    --------
    >>> loads('{"format": "iatrogenic"}', kind="Monitor")
    Traceback (most recent call last):
    ...
    iatrogenic.exceptions.ParameterError: Not a Monitor document: ...
    """
    caller = f"{kind}.from_json"
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    if not isinstance(text, str):
        raise ParameterTypeError(
            f"{caller}() takes the JSON text written by to_json() (a str). Got "
            f"{type(text).__name__} instead. Suggestion: {kind}.from_json(path.read_text())."
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParameterError(
            f"{caller}() got text that is not valid JSON ({error}). Suggestion: pass the exact "
            "string returned by to_json()."
        ) from error
    return check_envelope(document, kind=kind)


def check_envelope(document: Any, *, kind: str) -> dict[str, Any]:
    """The payload of a parsed document written by :func:`dumps`, after checking its envelope.

    Raises :class:`~iatrogenic.exceptions.ParameterError` when ``document`` is not an iatrogenic
    document of this ``kind`` or has a newer format version.

    Examples
    --------
    >>> check_envelope({"format": "iatrogenic", "kind": "Monitor", "format_version": 1,
    ...                 "payload": {}}, kind="Monitor")
    {}
    """
    caller = f"{kind}.from_json"
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise ParameterError(
            f"Not a {kind} document: the JSON passed to {caller}() lacks "
            f"'format': {_FORMAT!r}. Suggestion: pass the string returned by to_json()."
        )
    if not isinstance(document.get("kind"), str):
        raise ParameterError(
            f"Not a {kind} document: the JSON passed to {caller}() names no kind of object. "
            "Suggestion: pass the string returned by to_json()."
        )
    if document.get("kind") != kind:
        raise ParameterError(
            f"{caller}() got a {document.get('kind')!r} document, not a {kind!r} one. "
            f"Suggestion: read it with {document.get('kind')}.from_json()."
        )
    version = document.get("format_version")
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or not 1 <= version <= FORMAT_VERSION
    ):
        raise ParameterError(
            f"{caller}() reads format version {FORMAT_VERSION} (and older); the document has "
            f"format_version={version!r}, written by iatrogenic "
            f"{document.get('library_version')!r}. Suggestion: upgrade iatrogenic."
        )
    payload = document.get("payload")
    if not isinstance(payload, dict):
        raise ParameterError(f"Malformed {kind} document: 'payload' must be a JSON object.")
    return payload


def require(payload: dict[str, Any], keys: list[str] | tuple[str, ...], *, kind: str) -> None:
    """Fail with the list of missing fields when ``payload`` lacks any of ``keys``."""
    missing = [k for k in keys if k not in payload]
    if missing:
        raise ParameterError(
            f"Malformed {kind} document: missing field(s) {', '.join(map(repr, missing))}. "
            "Suggestion: pass the unmodified string returned by to_json()."
        )


# ------------------------------------------------------------------------------------------------
# GrowthModel
# ------------------------------------------------------------------------------------------------

_GROWTH_KIND = "GrowthModel"
_GROWTH_ARRAYS = (
    "beta",
    "beta_cov",
    "theta",
    "patients",
    "effects",
    "effects_cov",
    "n_patient_obs",
    "reasons",
)
_GROWTH_OPTIONAL_ARRAYS = (
    "clusters",
    "cluster_effects",
    "cluster_effects_var",
    "patient_cluster",
)
_GROWTH_SCALARS = (
    "method",
    "time_transform",
    "random",
    "knot",
    "covariates",
    "covariate_spec",
    "time_interactions",
    "terms",
    "sigma2",
    "criterion",
    "n_obs",
    "converged",
    "n_iter",
    "n_eval",
    "message",
    "cluster",
    "columns",
)


def growth_to_dict(model: GrowthModel) -> dict[str, Any]:
    """Everything a fitted :class:`~iatrogenic.core.growth.GrowthModel` is, as JSON-safe values.

    Reads the model's private state (``model._state``: plain arrays and values), so that the
    model read back by :func:`growth_from_dict` is identical: same attributes, same predictions.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> data = ia.datasets.load_example()
    >>> model = ia.fit_growth(data[data["phq9"].notna()], score="phq9")
    >>> again = growth_from_dict(growth_to_dict(model))
    >>> again.fixed_effects_.equals(model.fixed_effects_)
    True
    """
    s = model._state
    out: dict[str, Any] = {}
    for name in _GROWTH_ARRAYS:
        out[name] = encode_array(getattr(s, name))
    for name in _GROWTH_OPTIONAL_ARRAYS:
        value = getattr(s, name)
        out[name] = None if value is None else encode_array(value)
    out["method"] = s.method
    out["time_transform"] = s.time_transform
    out["random"] = s.random
    out["knot"] = None if s.knot is None else float(s.knot)
    out["covariates"] = [str(c) for c in s.covariates]
    out["covariate_spec"] = [
        [str(column), str(kind), encode_scalar(level)] for column, kind, level in s.covariate_spec
    ]
    out["time_interactions"] = bool(s.time_interactions)
    out["terms"] = [str(t) for t in s.terms]
    out["sigma2"] = float(s.sigma2)
    out["criterion"] = float(s.criterion)
    out["n_obs"] = int(s.n_obs)
    out["converged"] = bool(s.converged)
    out["n_iter"] = int(s.n_iter)
    out["n_eval"] = int(s.n_eval)
    out["message"] = str(s.message)
    out["cluster"] = s.cluster
    out["columns"] = {str(k): str(v) for k, v in s.columns.items()}
    return out


def growth_from_dict(d: dict[str, Any]) -> GrowthModel:
    """Rebuild a :class:`~iatrogenic.core.growth.GrowthModel` from :func:`growth_to_dict`."""
    from .core.growth import GrowthModel, _State

    if not isinstance(d, dict):
        raise ParameterError(f"Malformed {_GROWTH_KIND} document: expected a JSON object.")
    require(d, _GROWTH_ARRAYS + _GROWTH_OPTIONAL_ARRAYS + _GROWTH_SCALARS, kind=_GROWTH_KIND)
    arrays = {name: decode_array(d[name], name=name) for name in _GROWTH_ARRAYS}
    optional = {
        name: None if d[name] is None else decode_array(d[name], name=name)
        for name in _GROWTH_OPTIONAL_ARRAYS
    }
    patients = arrays["patients"]
    reasons = arrays["reasons"].astype(object)
    state = _State(
        method=str(d["method"]),
        time_transform=str(d["time_transform"]),
        random=str(d["random"]),
        knot=None if d["knot"] is None else float(d["knot"]),
        covariates=list(d["covariates"]),
        covariate_spec=[(c, k, decode_scalar(lv)) for c, k, lv in d["covariate_spec"]],
        time_interactions=bool(d["time_interactions"]),
        terms=list(d["terms"]),
        beta=arrays["beta"].astype(np.float64),
        beta_cov=arrays["beta_cov"].astype(np.float64),
        theta=arrays["theta"].astype(np.float64),
        sigma2=float(d["sigma2"]),
        criterion=float(d["criterion"]),
        n_obs=int(d["n_obs"]),
        converged=bool(d["converged"]),
        n_iter=int(d["n_iter"]),
        n_eval=int(d["n_eval"]),
        message=str(d["message"]),
        patients=patients,
        effects=arrays["effects"].astype(np.float64),
        effects_cov=arrays["effects_cov"].astype(np.float64),
        n_patient_obs=arrays["n_patient_obs"].astype(np.int64),
        reasons=reasons,
        cluster=d["cluster"],
        clusters=optional["clusters"],
        cluster_effects=optional["cluster_effects"],
        cluster_effects_var=optional["cluster_effects_var"],
        patient_cluster=optional["patient_cluster"],
        columns=dict(d["columns"]),
    )
    return GrowthModel(state)


def growth_to_json(model: GrowthModel) -> str:
    """:meth:`GrowthModel.to_json`: the model as versioned JSON text."""
    return dumps(growth_to_dict(model), kind=_GROWTH_KIND)


def growth_from_json(text: str) -> GrowthModel:
    """:meth:`GrowthModel.from_json`: read the text written by :func:`growth_to_json`."""
    return growth_from_dict(loads(text, kind=_GROWTH_KIND))
