"""The explicit detector registry: a decorator registers, :func:`get_detector` looks up."""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

import pandas as pd

from ..exceptions import ParameterError, ParameterTypeError, UnknownNameError
from .base import HARMS, Detector

__all__ = ["get_detector", "list_detectors", "register_detector", "registered_names"]

_DETECTORS: dict[str, type[Detector]] = {}

D = TypeVar("D", bound=type[Detector])


def register_detector(cls: D) -> D:
    """Class decorator: add a :class:`Detector` subclass to the registry under ``cls.name``."""
    if not (isinstance(cls, type) and issubclass(cls, Detector)):
        raise ParameterTypeError(f"register_detector takes a Detector subclass. Got {cls!r}.")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ParameterError(f"{cls.__name__} needs a non-empty string class attribute 'name'.")
    if cls.harm not in HARMS:
        raise ParameterError(
            f"{cls.__name__}.harm must be one of {', '.join(map(repr, HARMS))}. "
            f"Got {cls.harm!r} instead."
        )
    if name in _DETECTORS and _DETECTORS[name] is not cls:
        raise ParameterError(f"A detector named {name!r} is already registered.")
    _DETECTORS[name] = cls
    return cls


def registered_names() -> tuple[str, ...]:
    """Names of the registered detectors, in registration order."""
    return tuple(_DETECTORS)


def get_detector(detector: str | Detector, **params: Any) -> Detector:
    """Return a detector instance from its name (with ``params``) or pass an instance through.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> ia.get_detector("reliable_deterioration", alpha=0.1).alpha
    0.1
    >>> ia.get_detector("nonsense")
    Traceback (most recent call last):
    ...
    iatrogenic.exceptions.UnknownNameError: Unknown detector 'nonsense'. Valid values are: ...
    """
    if isinstance(detector, Detector):
        if params:
            raise ParameterError(
                "Parameters are given to a detector instance's constructor, not to "
                f"get_detector(). Got {sorted(params)} with {detector!r}."
            )
        return detector
    if not isinstance(detector, str):
        raise ParameterTypeError(
            f"A detector is given by name (str) or as a Detector instance. Got {detector!r}."
        )
    if detector not in _DETECTORS:
        close = difflib.get_close_matches(detector, list(_DETECTORS), n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(
            f"Unknown detector {detector!r}. Valid values are: "
            f"{', '.join(map(repr, _DETECTORS))}.{hint} Suggestion: pass one of these names "
            "(see ia.list_detectors()), or register your own with register_detector."
        )
    return _DETECTORS[detector](**params)


def list_detectors() -> pd.DataFrame:
    """One row per registered detector.

    Returns
    -------
    DataFrame
        Columns: ``name`` (pass it to :func:`ia.screen`), ``harm`` (key of the harm taxonomy),
        ``needs`` (inputs it requires, comma-separated) and ``description``.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> "reliable_deterioration" in set(ia.list_detectors()["name"])
    True
    """
    return pd.DataFrame(
        [
            {
                "name": cls.name,
                "harm": cls.harm,
                "needs": ", ".join(cls.needs),
                "description": cls.description,
            }
            for cls in _DETECTORS.values()
        ],
        columns=["name", "harm", "needs", "description"],
    )
