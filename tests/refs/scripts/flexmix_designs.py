"""Generate the data sets of the flexmix references for tests/test_trajectory_classes.py.

Deterministic (fixed seed): running it again rewrites identical files. Writes one CSV per design
to ``tests/refs/flexmix/data/<design>.csv`` with columns ``patient``, ``session`` (raw time),
``score``, ``cls`` (the true class, 1-based) and the transformed time term(s) ``x1`` (and ``x2``)
that flexmix's formula uses, and ``tests/refs/flexmix/designs.csv`` (one row per design:
``design``, ``time_transform``, ``n_patients``, ``true_classes``, ``k_max``, ``balanced``).
Then run ``Rscript tests/refs/scripts/flexmix_refs.R`` from the repository root.

Designs: balanced and unbalanced (random number of sessions per patient, 2 to 12, and random
missed sessions), 2 to 5 true classes, 100 to 1000 patients, time transforms log, log1p, linear
and quadratic, well separated and overlapping classes, and a small deteriorating class (5%).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "flexmix"
SEED = 1234567890

# name, transform, patients, sessions, balanced, class shares, class curves (intercept, slope[,
# curvature]), residual SDs per class
DESIGNS: list[dict] = [
    dict(name="d1_bal_k2_log", transform="log", n=200, s=8, balanced=True,
         shares=[0.7, 0.3], curves=[(18, -4.0), (17, 0.5)], sd=[2.0, 2.0]),
    dict(name="d2_unbal_k3_log", transform="log", n=500, s=12, balanced=False,
         shares=[0.5, 0.35, 0.15], curves=[(19, -5.0), (18, -1.5), (16, 2.5)], sd=[2.5, 2.0, 3.0]),
    dict(name="d3_bal_k4_linear", transform="linear", n=1000, s=6, balanced=True,
         shares=[0.4, 0.3, 0.2, 0.1], curves=[(20, -2.0), (15, -0.5), (10, 0.0), (12, 1.5)],
         sd=[2.0, 2.0, 2.0, 2.0]),
    dict(name="d4_unbal_k5_log", transform="log", n=800, s=10, balanced=False,
         shares=[0.35, 0.25, 0.2, 0.15, 0.05],
         curves=[(20, -6.0), (18, -3.0), (14, -1.0), (10, 0.0), (15, 3.0)],
         sd=[2.0, 2.5, 2.0, 1.5, 2.0]),
    dict(name="d5_unbal_k3_quadratic", transform="quadratic", n=300, s=10, balanced=False,
         shares=[0.5, 0.3, 0.2], curves=[(18, -2.0, 0.1), (16, -0.2, 0.0), (14, 1.0, -0.05)],
         sd=[2.0, 2.0, 2.0]),
    dict(name="d6_bal_k2_log1p_overlap", transform="log1p", n=100, s=6, balanced=True,
         shares=[0.6, 0.4], curves=[(15, -2.0), (15, -0.8)], sd=[2.0, 2.5]),
]


def _terms(t: np.ndarray, transform: str) -> list[np.ndarray]:
    if transform == "log":
        return [np.log(t)]
    if transform == "log1p":
        return [np.log1p(t)]
    if transform == "quadratic":
        return [t, t * t]
    return [t]


def make(design: dict, rng: np.random.Generator) -> pd.DataFrame:
    n, s = design["n"], design["s"]
    cls = rng.choice(len(design["shares"]), n, p=design["shares"])
    first = 0 if design["transform"] == "log1p" else 1
    sessions = np.arange(first, first + s)
    pat = np.repeat(np.arange(1, n + 1), s)
    t = np.tile(sessions, n).astype(float)
    keep = np.ones(n * s, dtype=bool)
    if not design["balanced"]:
        last = rng.integers(2, s + 1, n)  # number of sessions attended before dropping out
        keep = np.tile(np.arange(s), n) < np.repeat(last, s)
        keep &= rng.random(n * s) > 0.15  # missed sessions
        keep |= np.tile(np.arange(s), n) == 0  # everyone has the first session
    c = np.repeat(cls, s)
    terms = _terms(t, design["transform"])
    coefs = np.array([list(cv) + [0.0] * (3 - len(cv)) for cv in design["curves"]])
    mean = coefs[c, 0] + sum(coefs[c, j + 1] * terms[j] for j in range(len(terms)))
    y = mean + rng.normal(0, 1, n * s) * np.array(design["sd"])[c]
    out = pd.DataFrame({"patient": pat, "session": t, "score": np.round(y, 6), "cls": c + 1})
    for j, term in enumerate(terms):
        out[f"x{j + 1}"] = term
    return out[keep].reset_index(drop=True)


def main() -> None:
    rng = np.random.default_rng(SEED)
    (OUT / "data").mkdir(parents=True, exist_ok=True)
    rows = []
    for design in DESIGNS:
        frame = make(design, rng)
        frame.to_csv(OUT / "data" / f"{design['name']}.csv", index=False, float_format="%.17g")
        k_true = len(design["shares"])
        rows.append(
            {
                "design": design["name"],
                "time_transform": design["transform"],
                "n_patients": design["n"],
                "n_rows": len(frame),
                "true_classes": k_true,
                "k_max": min(k_true + 1, 5),
                "balanced": design["balanced"],
            }
        )
    pd.DataFrame(rows).to_csv(OUT / "designs.csv", index=False)


if __name__ == "__main__":
    main()
