"""Generate the randomised designs for the suddengains differential references.

Deterministic (fixed seeds): running it again rewrites identical files. Writes one *wide* CSV
per design (``id`` and the session columns ``t1`` .. ``tK``, one row per person, missing score =
empty field, rows in random order) to ``tests/refs/suddengains_random/data/`` plus
``designs.json``, the parameters that ``sg_random_designs.R`` turns into suddengains calls.

    python tests/refs/scripts/sg_random_designs.py
    R_LIBS=<library with suddengains 0.7.2> Rscript tests/refs/scripts/sg_random_designs.R

Designs vary the number of persons (10 to 500), of sessions (4 to 16), the scale (integer totals
0-27, 0-63, 0-100; one decimal 0-40; steps of 0.25 on 0-4; three decimals on 0-10) and the
missingness (random cells, whole runs of sessions, late starts and early drop-outs, persons with
almost nothing). Planted events: sudden drops and rises, some of exactly the criterion-1 cut-off
(``pre - post == cutoff``), some exactly at criterion 2 (a drop of exactly 25 % of the pre
score, and a rise of exactly 25 %), flat plateaus around a change (pooled SD 0 in criterion 3)
ties between several equal changes of one person (for ``multiple_sg_select``) and persons whose
last score equals the first (treatment change 0). Scores are
never negative (suddengains' criterion 2 uses the signed pre score; see docs/sudden-changes.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "suddengains_random" / "data"

#: scale -> (min, max, step); step 0 = continuous, rounded to 3 decimals
SCALES: dict[str, tuple[float, float, float]] = {
    "int27": (0, 27, 1), "int63": (0, 63, 1), "int100": (0, 100, 1),
    "dec1": (0, 40, 0.1), "quarter": (0, 4, 0.25), "cont": (0, 10, 0.0),
}

#: name -> persons, sessions, scale, missingness patterns, cut-offs (criterion 1, two values),
#: reliability for define_crit1_cutoff
DESIGNS: dict[str, dict[str, Any]] = {
    "d01_int63_cells": dict(n=40, k=12, scale="int63", missing=["cells"], cutoffs=[7, 5],
                            reliability=0.9),
    "d02_int27_tiny": dict(n=10, k=4, scale="int27", missing=["cells"], cutoffs=[6, 4],
                           reliability=0.85),
    "d03_int27_n500": dict(n=500, k=4, scale="int27", missing=["cells", "sparse"],
                           cutoffs=[6, 4], reliability=0.85),
    "d04_dec1_runs": dict(n=30, k=16, scale="dec1", missing=["runs"], cutoffs=[5.5, 7.3],
                          reliability=0.88),
    "d05_quarter_edges": dict(n=60, k=8, scale="quarter", missing=["edges"],
                              cutoffs=[0.75, 1.0], reliability=0.9),
    "d06_int63_sparse_ties": dict(n=50, k=10, scale="int63", missing=["sparse", "cells"],
                                  cutoffs=[7, 8], reliability=0.93),
    "d07_int63_boundaries": dict(n=30, k=6, scale="int63", missing=["cells"], cutoffs=[7, 6],
                                 reliability=0.9),
    "d08_int100_runs": dict(n=25, k=14, scale="int100", missing=["runs", "edges"],
                            cutoffs=[15, 10], reliability=0.8),
    "d09_cont_cells": dict(n=40, k=9, scale="cont", missing=["cells"], cutoffs=[2.0, 1.5],
                           reliability=0.75),
    "d10_int27_edges": dict(n=120, k=5, scale="int27", missing=["edges", "cells"],
                            cutoffs=[6, 5], reliability=0.85),
    "d11_quarter_mixed": dict(n=15, k=13, scale="quarter", missing=["runs", "sparse", "edges"],
                              cutoffs=[1.0, 0.5], reliability=0.9),
    "d12_int63_ties": dict(n=80, k=7, scale="int63", missing=["cells", "edges"],
                           cutoffs=[7, 9], reliability=0.9),
}


def _on_scale(x: np.ndarray, scale: str) -> np.ndarray:
    low, high, step = SCALES[scale]
    x = np.clip(x, low, high)
    if step == 0:
        return np.round(x, 3)
    if step == 0.1:
        return np.round(np.round(x * 10) / 10, 1)  # shortest decimal text, e.g. 12.3
    return np.round(x / step) * step


def _trajectories(rng: np.random.Generator, n: int, k: int, scale: str) -> np.ndarray:
    low, high, _ = SCALES[scale]
    span = high - low
    start = rng.uniform(low + 0.35 * span, high - 0.05 * span, n)
    slope = rng.normal(-0.02 * span, 0.02 * span, n)
    noise = rng.normal(0, 0.05 * span, (n, k))
    x = start[:, None] + slope[:, None] * np.arange(k)[None, :] + noise
    # Planted sudden drops (gains) and rises (losses) of 0.15 - 0.4 of the range.
    for i in range(n):
        for _ in range(rng.integers(0, 3)):
            j = int(rng.integers(1, k))
            size = rng.uniform(0.15, 0.4) * span * (1 if rng.random() < 0.65 else -1)
            x[i, j:] -= size
            if rng.random() < 0.3 and j + 2 < k:  # partial reversal
                x[i, j + 2:] += abs(size) * rng.uniform(0.4, 1.2) * np.sign(size)
    return _on_scale(x, scale)


def _plant_boundaries(rng: np.random.Generator, x: np.ndarray, cutoff: float, scale: str) -> None:
    """Exact criterion boundaries and plateaus in about a third of the persons."""
    low, high, step = SCALES[scale]
    n, k = x.shape
    if k < 4:
        return
    for i in range(n):
        if rng.random() > 0.35:
            continue
        j = int(rng.integers(1, k - 1))  # change from column j - 1 to j
        kind = rng.integers(0, 6)
        if kind == 0:  # drop of exactly the cut-off
            pre = float(rng.uniform(low + cutoff, high))
            pre = float(_on_scale(np.array([pre]), scale)[0])
            x[i, j - 1], x[i, j] = pre, pre - cutoff
        elif kind == 1:  # rise of exactly the cut-off
            pre = float(_on_scale(np.array([rng.uniform(low, high - cutoff)]), scale)[0])
            x[i, j - 1], x[i, j] = pre, pre + cutoff
        elif kind == 2:  # drop of exactly 25 % of the pre score (a multiple of 4 steps)
            unit = step if step > 0 else 0.25
            pre = unit * 4 * int(rng.integers(1, max(2, int((high - low) / (4 * unit)))))
            x[i, j - 1], x[i, j] = pre, pre - pre / 4
        elif kind == 3:  # rise of exactly 25 %
            unit = step if step > 0 else 0.25
            pre = unit * 4 * int(rng.integers(1, max(2, int((high - low) / (5 * unit)))))
            x[i, j - 1], x[i, j] = pre, pre + pre / 4
        elif kind == 4:  # plateaus: pooled SD 0 around a drop of 2 cut-offs, or no change
            level = float(_on_scale(np.array([rng.uniform(low + 2 * cutoff, high)]), scale)[0])
            after = level - 2 * cutoff if rng.random() < 0.7 else level
            x[i, max(0, j - 3):j] = level
            x[i, j:min(k, j + 3)] = after
        else:  # two equal drops (ties for largest/smallest)
            pre = float(_on_scale(np.array([rng.uniform(low + 3 * cutoff, high)]), scale)[0])
            x[i, :] = pre
            x[i, j:] = pre - 1.5 * cutoff
            if j + 3 < k:
                x[i, j + 3:] = pre - 3 * cutoff
    x[:] = _on_scale(x, scale)  # back on the scale's grid (exact boundaries already are)


def _missing(rng: np.random.Generator, x: np.ndarray, patterns: list[str]) -> None:
    n, k = x.shape
    if "cells" in patterns:
        x[rng.random((n, k)) < 0.12] = np.nan
    if "runs" in patterns:
        for i in np.flatnonzero(rng.random(n) < 0.5):
            length = int(rng.integers(2, min(5, k)))
            start = int(rng.integers(0, k - length + 1))
            x[i, start:start + length] = np.nan
    if "edges" in patterns:
        for i in np.flatnonzero(rng.random(n) < 0.4):
            if rng.random() < 0.5:
                x[i, :int(rng.integers(1, max(2, k // 2)))] = np.nan  # late start
            else:
                x[i, k - int(rng.integers(1, max(2, k // 2))):] = np.nan  # drop-out
    if "sparse" in patterns:
        for i in np.flatnonzero(rng.random(n) < 0.15):
            keep = rng.choice(k, size=int(rng.integers(0, 3)), replace=False)
            row = np.full(k, np.nan)
            row[keep] = x[i, keep]
            x[i] = row


def make(name: str, spec: dict[str, Any], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, k, scale = spec["n"], spec["k"], spec["scale"]
    x = _trajectories(rng, n, k, scale)
    _plant_boundaries(rng, x, float(spec["cutoffs"][0]), scale)
    # Last score = first score (treatment change 0, suddengains' change proportion Inf) in about
    # 8 % of the persons; a separate stream leaves the draws above and below unchanged.
    same = np.random.default_rng(seed + 1000).random(n) < 0.08
    x[same, -1] = x[same, 0]
    _missing(rng, x, spec["missing"])
    ids = rng.choice(np.arange(1, 10 * n + 1), size=n, replace=False)
    wide = pd.DataFrame(x, columns=[f"t{j}" for j in range(1, k + 1)])
    if SCALES[scale][2] == 1:
        wide = wide.astype("Int64")  # integer scales written without ".0"
    wide.insert(0, "id", ids)
    return wide.iloc[rng.permutation(n)].reset_index(drop=True)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {}
    for seed, (name, spec) in enumerate(DESIGNS.items(), start=20260):
        wide = make(name, spec, seed)
        wide.to_csv(OUT / f"{name}.csv", index=False, na_rep="", float_format=None)
        meta[name] = {
            "seed": seed, "n_persons": spec["n"], "n_sessions": spec["k"],
            "scale": spec["scale"], "missing": spec["missing"], "cutoffs": spec["cutoffs"],
            "reliability": spec["reliability"],
            "sg_var_list": [f"t{j}" for j in range(1, spec["k"] + 1)],
        }
    (OUT / "designs.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
