"""Benchmark: sudden gains on 100k and 1M simulated patients x 12 sessions.

Run ``python benchmarks/bench_sudden_changes.py`` (about half a minute; ``--sizes 100000`` for a
quicker run). Prints the best of ``--repeat`` wall-clock times of ``sudden_changes`` (validation,
matrix, all intervals, event table), the peak traced memory (``tracemalloc``, a separate run) and
the speed-up over suddengains 0.7.2 ``identify_sg`` (12.117 s per 1,000 patients on the project's
2-core container, ``tests/refs/suddengains/timings_suddengains.csv``).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd

from iatrogenic.core.sudden_changes import sudden_changes

#: suddengains 0.7.2 identify_sg: seconds per 1,000 patients (12 sessions), measured in R 4.2.2.
R_SECONDS_PER_1000 = 12.117
SEED = 20261127


def simulate(n_patients: int, n_sessions: int = 12, *, seed: int = SEED) -> pd.DataFrame:
    """Long data: a noisy declining course per patient, 10% missing scores, integer scores."""
    rng = np.random.default_rng(seed)
    intake = rng.normal(28, 7, n_patients)
    slope = rng.normal(-1.2, 0.8, n_patients)
    sessions = np.arange(1, n_sessions + 1)
    scores = intake[:, None] + slope[:, None] * (sessions[None, :] - 1)
    scores += rng.normal(0, 4, scores.shape)
    scores = np.clip(np.round(scores), 0, 63)
    scores[rng.random(scores.shape) < 0.10] = np.nan
    return pd.DataFrame(
        {
            "patient": np.repeat(np.arange(1, n_patients + 1), n_sessions),
            "session": np.tile(sessions, n_patients),
            "score": scores.ravel(),
        }
    )


def run(sizes: list[int], repeat: int) -> None:
    print(f"{'patients':>10} {'rows':>11} {'events':>9} {'best s':>8} {'peak MB':>8} "
          f"{'R est. s':>10} {'speed-up':>9}")
    for n in sizes:
        data = simulate(n)
        times = []
        events = None
        for _ in range(repeat):
            start = time.perf_counter()
            events = sudden_changes(data, cutoff=7)
            times.append(time.perf_counter() - start)
        tracemalloc.start()
        sudden_changes(data, cutoff=7)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        best = min(times)
        r_seconds = R_SECONDS_PER_1000 * n / 1000
        print(f"{n:>10,} {len(data):>11,} {len(events):>9,} {best:>8.2f} {peak / 2**20:>8.0f} "
              f"{r_seconds:>10,.0f} {r_seconds / best:>8,.0f}x")
    print("R est. s: suddengains 0.7.2 identify_sg at 12.117 s per 1,000 patients (linear; "
          "measured 1,730 s at 100k, i.e. slower than linear).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run(args.sizes, args.repeat)


if __name__ == "__main__":
    main()
