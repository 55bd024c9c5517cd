"""Benchmark reliable_change() (JT and HA with a cut-off) on 100k and 1M simulated patients.

Run with ``python benchmarks/bench_reliable_change.py``. Simulates 2 occasions per patient
(numpy only, fixed seed), times the full call (validation included) best of 3, measures peak
memory with tracemalloc (one extra run, as tracing slows the call down) and prints the R
reference timing of clinicalsignificance 3.0.0 (from the peers' timing table) for comparison.
"""

from __future__ import annotations

import csv
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import iatrogenic  # noqa: F401
except ImportError:  # run from a checkout without installing
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from iatrogenic.core.reliable_change import reliable_change

SEED = 20240601
REPEATS = 3
SIZES = (100_000, 1_000_000)
CALLS = {
    "JT": dict(method="JT", reliability=0.801),
    "JT + cut-off c": dict(method="JT", reliability=0.801, cutoff_type="c",
                           functional=(7.69, 7.52)),
    "HA + cut-off c": dict(method="HA", reliability=0.801, cutoff_type="c",
                           functional=(7.69, 7.52)),
}
# clinicalsignificance function matching each of ours (column "fun" of the timing table)
R_CALLS = {
    "JT": "cs_distribution_JT",
    "JT + cut-off c": "cs_combined_JT_c",
    "HA + cut-off c": "cs_combined_HA_c",
}


def simulate(n_patients: int, seed: int = SEED) -> pd.DataFrame:
    """Long data: 2 occasions per patient, BDI-like scores, ~3% missing post scores."""
    rng = np.random.default_rng(seed)
    pre = np.clip(np.round(rng.normal(35, 8, n_patients)), 0, 63)
    post = np.clip(np.round(pre - rng.normal(10, 12, n_patients)), 0, 63)
    post[rng.random(n_patients) < 0.03] = np.nan
    return pd.DataFrame({
        "patient": np.repeat(np.arange(n_patients, dtype=np.int64), 2),
        "session": np.tile(np.array([1, 2], dtype=np.int64), n_patients),
        "score": np.column_stack([pre, post]).ravel(),
    })


def r_reference() -> dict[tuple[str, int], float]:
    path = (Path(__file__).resolve().parents[1] / "tests" / "refs" / "clinicalsignificance"
            / "timings_clinicalsignificance.csv")
    if not path.exists():
        return {}
    out: dict[tuple[str, int], float] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            for label, fun in R_CALLS.items():
                if row["fun"] == fun:
                    out[(label, int(row["n_patients"]))] = float(row["elapsed_s"])
    return out


def main() -> None:
    reference = r_reference()
    print(f"{'call':<16} {'patients':>10} {'best of 3 (s)':>14} {'peak MiB':>9} "
          f"{'R clinicalsignificance (s)':>27}")
    for n in SIZES:
        data = simulate(n)
        for label, kwargs in CALLS.items():
            best = np.inf
            for _ in range(REPEATS):
                start = time.perf_counter()
                reliable_change(data, pre=1, post=2, **kwargs)
                best = min(best, time.perf_counter() - start)
            tracemalloc.start()
            reliable_change(data, pre=1, post=2, **kwargs)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            r_time = reference.get((label, n))
            r_text = f"{r_time:.3f}" if r_time is not None else "not measured"
            print(f"{label:<16} {n:>10,} {best:>14.3f} {peak:>9.0f} {r_text:>27}")


if __name__ == "__main__":
    main()
