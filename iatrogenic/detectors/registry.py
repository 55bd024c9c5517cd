"""The explicit detector registry: a decorator registers, :func:`get_detector` looks up."""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

import pandas as pd

from ..exceptions import ParameterError, ParameterTypeError, UnknownNameError
from .base import HARMS, Detector

__all__ = ["UNITS", "get_detector", "list_detectors", "register_detector", "registered_names"]

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


#: What a detector's events concern: a patient at a session (the screen's detectors) or a
#: therapist (the ``provider`` detector, run by ``ia.screen_providers``).
UNITS = ("patient", "therapist")


def _unit(cls: type[Detector]) -> str:
    return str(getattr(cls, "unit", "patient"))


def registered_names(unit: str | None = "patient") -> tuple[str, ...]:
    """Names of the registered detectors of ``unit`` (all with ``None``), in registration order.

    Examples
    --------
    >>> from iatrogenic.detectors.registry import registered_names
    >>> "provider" in registered_names(), "provider" in registered_names("therapist")
    (False, True)
    """
    if unit is not None and unit not in UNITS:
        raise UnknownNameError(
            f"Unknown detector unit {unit!r}. Valid values are: "
            f"{', '.join(map(repr, UNITS))}, or None for every detector."
        )
    return tuple(name for name, cls in _DETECTORS.items() if unit is None or _unit(cls) == unit)


def _wrong_unit(detector: Detector | type[Detector], unit: str) -> ParameterError:
    cls = detector if isinstance(detector, type) else type(detector)
    if _unit(cls) == "therapist":
        return ParameterError(
            f"The detector {cls.name!r} concerns therapists, not patients: its events rest on "
            "many patients' outcomes and a case-mix model of the whole service, so the patient "
            "screen (ia.screen, ia.Monitor) cannot run it. Suggestion: "
            "ia.screen_providers(data, therapist='<column>') (on the command line: "
            "--therapist COLUMN), or get_detector(..., unit='therapist') for the detector."
        )
    return ParameterError(
        f"The detector {cls.name!r} concerns {_unit(cls)}s, not {unit}s. Suggestion: use a "
        f"detector of unit {unit!r} (see ia.list_detectors()), or pass unit=None."
    )


def get_detector(
    detector: str | Detector, *, unit: str | None = "patient", **params: Any
) -> Detector:
    """Return a detector instance from its name (with ``params``) or pass an instance through.

    ``unit`` is what the caller will do with its events: ``"patient"`` (the default: the patient
    screen and the monitor) refuses the therapist-level ``provider`` detector with a pointer to
    :func:`iatrogenic.screen_providers`; ``"therapist"`` asks for it; ``None`` takes any.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> ia.get_detector("reliable_deterioration", alpha=0.1).alpha
    0.1
    >>> ia.get_detector("nonsense")
    Traceback (most recent call last):
    ...
    iatrogenic.exceptions.UnknownNameError: Unknown detector 'nonsense'. Valid values are: ...
    >>> ia.get_detector("provider")
    Traceback (most recent call last):
    ...
    iatrogenic.exceptions.ParameterError: The detector 'provider' concerns therapists, ...
    """
    if unit is not None and unit not in UNITS:
        raise UnknownNameError(
            f"Unknown detector unit {unit!r}. Valid values are: "
            f"{', '.join(map(repr, UNITS))}, or None for every detector."
        )
    if isinstance(detector, Detector):
        if params:
            raise ParameterError(
                "Parameters are given to a detector instance's constructor, not to "
                f"get_detector(). Got {sorted(params)} with {detector!r}."
            )
        if unit is not None and _unit(type(detector)) != unit:
            raise _wrong_unit(detector, unit)
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
    cls = _DETECTORS[detector]
    if unit is not None and _unit(cls) != unit:
        raise _wrong_unit(cls, unit)
    return cls(**params)


def list_detectors() -> pd.DataFrame:
    """One row per registered detector.

    Returns
    -------
    DataFrame
        Columns: ``name`` (pass it to :func:`ia.screen`), ``harm`` (key of the harm taxonomy),
        ``unit`` (``"patient"``: events about a patient at a session, run by :func:`ia.screen`;
        ``"therapist"``: events about a therapist, run by :func:`ia.screen_providers`),
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
                "unit": _unit(cls),
                "needs": ", ".join(cls.needs),
                "description": cls.description,
            }
            for cls in _DETECTORS.values()
        ],
        columns=["name", "harm", "unit", "needs", "description"],
    )
