"""Remake the bundled trajectory-class model and show how the detector's thresholds were chosen.

Run from the repository root::

    python tests/refs/scripts/make_reference_classes.py            # rewrite and evaluate
    python tests/refs/scripts/make_reference_classes.py --check    # evaluate the stored model

1. Fits ``iatrogenic.classes.reference.REFERENCE_CLASSES_ARGS`` on
   ``simulate(**REFERENCE_COHORT)`` and writes ``iatrogenic/datasets/data/reference_classes.json``
   (deterministic: fixed seeds).
2. Evaluates the ``worsening_class`` detector's rule on an *independent* simulated cohort
   (``simulate(n_patients=5000, n_therapists=100, seed=777)``): for each threshold, the patients
   ever flagged (probability of a worsening class >= threshold at a scored session with at least
   3 scores so far), their sensitivity for the injected deterioration, their positive predictive
   value against injected deterioration and against injected sustained worsening (deterioration
   or sudden worsening), the flag rate among patients without either, and the median lag of the
   first flag after the deterioration's onset (sessions).

The detector's defaults (warning 0.5, alarm 0.8) come from this table; see
``iatrogenic/detectors/worsening_class.py``.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

import iatrogenic as ia
from iatrogenic._validation import prepare_long
from iatrogenic.classes.reference import _write_reference_classes, load_reference_classes

EVALUATION_COHORT = {"n_patients": 5000, "n_therapists": 100, "seed": 777}
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)
MIN_SESSIONS = 3


def evaluate(model: ia.TrajectoryClassModel) -> pd.DataFrame:
    data, truth = ia.datasets.simulate(**EVALUATION_COHORT)
    long = prepare_long(data, patient="patient", time="session", score="phq9", caller="script")
    tau, n_scores, usable = model._running_posterior(long, "script")
    worsening = model.class_changes_["worsening"].to_numpy()
    p_worse = tau[:, worsening].sum(axis=1)
    patients = long.patients.to_numpy()
    onset = truth[truth["harm"] == "deterioration"].set_index("patient")["onset"]
    deteriorated = np.isin(patients, onset.index)
    sudden = np.isin(patients, truth.loc[truth["harm"] == "sudden_worsening", "patient"])
    sessions = long.frame["time"].to_numpy(dtype=np.float64)
    judged = usable & (n_scores >= MIN_SESSIONS)
    rows = []
    for threshold in THRESHOLDS:
        hit = judged & (p_worse >= threshold)
        flagged = np.bincount(long.codes[hit], minlength=len(patients)) > 0
        first = pd.Series(sessions[hit]).groupby(long.codes[hit]).min()
        caught = flagged & deteriorated
        lag = first.loc[np.flatnonzero(caught)].to_numpy() - onset.loc[patients[caught]].to_numpy()
        neither = ~deteriorated & ~sudden
        rows.append(
            {
                "threshold": threshold,
                "flagged": int(flagged.sum()),
                "sensitivity": caught.sum() / deteriorated.sum(),
                "ppv_deterioration": caught.sum() / flagged.sum(),
                "ppv_sustained_worsening": (flagged & (deteriorated | sudden)).sum()
                / flagged.sum(),
                "flag_rate_unharmed": (flagged & neither).sum() / neither.sum(),
                "median_lag": float(np.median(lag)),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    model = load_reference_classes() if "--check" in sys.argv else _write_reference_classes()
    print(model)
    print(model.selection_[["n_classes", "loglik", "bic", "entropy", "converged"]].to_string())
    print(model.class_changes_.to_string())
    print(evaluate(model).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
