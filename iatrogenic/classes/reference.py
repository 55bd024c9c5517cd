"""The bundled reference trajectory-class model (PHQ-9, simulated), for the ``worsening_class``
detector.

It is made by :func:`_write_reference_classes` (run by ``tests/refs/scripts/
make_reference_classes.py``): :data:`REFERENCE_CLASSES_ARGS` fitted on
``simulate(**REFERENCE_COHORT)``, stored as JSON in ``iatrogenic/datasets/data/``.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any

from .lcga import TrajectoryClassModel, fit_trajectory_classes

__all__ = [
    "REFERENCE_CLASSES_ARGS",
    "REFERENCE_CLASSES_FILE",
    "REFERENCE_COHORT",
    "load_reference_classes",
]

#: File of the bundled model (``iatrogenic/datasets/data``).
REFERENCE_CLASSES_FILE = "reference_classes.json"
#: The simulated reference cohort: ``iatrogenic.datasets.simulate(**REFERENCE_COHORT)``, every
#: other argument at its default (8% injected deterioration, 4% sudden worsening, ...).
REFERENCE_COHORT: dict[str, Any] = {"n_patients": 5000, "n_therapists": 100, "seed": 20261203}
#: The fit: a growth mixture model on log session, one to six classes, chosen by BIC.
REFERENCE_CLASSES_ARGS: dict[str, Any] = {
    "score": "phq9",
    "instrument": "phq9",
    "n_classes": range(1, 7),
    "time_transform": "log",
    "random": "intercept",
    "n_init": 20,
    "seed": 20261203,
}


@functools.lru_cache(maxsize=1)
def _reference_classes() -> TrajectoryClassModel:
    resource = files("iatrogenic.datasets").joinpath("data", REFERENCE_CLASSES_FILE)
    return TrajectoryClassModel.from_json(resource.read_text(encoding="utf-8"))


def load_reference_classes() -> TrajectoryClassModel:
    """The bundled PHQ-9 trajectory-class model (a growth mixture model on simulated courses).

    Fitted by ``fit_trajectory_classes(simulate(n_patients=5000, n_therapists=100,
    seed=20261203)[0], score="phq9", instrument="phq9", n_classes=range(1, 7),
    time_transform="log", random="intercept", n_init=20, seed=20261203)``.

    **Limits.** It comes from *simulated* data (weekly sessions counted from 1 at intake,
    log-shaped recovery, injected harms), not from a real service. Its classes are only as
    right for your patients as that simulation is like your service: PHQ-9 only, sessions one
    per week from intake, no covariates. For real decisions fit your own model on your own
    service's past patients with :func:`~iatrogenic.fit_trajectory_classes`.

    Returns
    -------
    TrajectoryClassModel
        A shared, cached instance: do not modify it.

    Examples
    --------
    >>> from iatrogenic.classes.reference import load_reference_classes
    >>> model = load_reference_classes()
    >>> model.instrument_, model.random_, model.n_classes_
    ('phq9', 'intercept', 6)
    >>> model.class_changes_["worsening"].tolist()
    [False, False, False, False, True, True]
    """
    return _reference_classes()


def _write_reference_classes() -> TrajectoryClassModel:  # pragma: no cover - maintenance helper
    """Refit the bundled model from the simulated reference cohort and write it."""
    from pathlib import Path

    from ..datasets import simulate

    data, _ = simulate(**REFERENCE_COHORT)
    model = fit_trajectory_classes(data, **REFERENCE_CLASSES_ARGS)
    path = Path(str(files("iatrogenic.datasets").joinpath("data", REFERENCE_CLASSES_FILE)))
    path.write_text(model.to_json(), encoding="utf-8")
    _reference_classes.cache_clear()
    return model
