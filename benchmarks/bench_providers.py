"""Benchmark therapist_outcomes and provider_cusum on many patients and therapists.

Run with ``python benchmarks/bench_providers.py`` (about 20 s: 10,000 to 300,000 patients) or
``python benchmarks/bench_providers.py --full`` to add the headline size, 1,000,000 patients and
5,000 therapists (goal: under 5 s each), with integer and with continuous covariates (about 90 s
in all).

Per-patient tables (numpy, fixed seed): intake severity, age, a three-level categorical case-mix
column and a boolean outcome from a logistic model with overdispersed therapist effects. Each call
is timed best of 3 and includes validation, the case-mix GLM, the funnel and shrinkage
(``therapist_outcomes``), and the calibration of ``h`` by simulation to ARL 2000 plus the
vectorised recursion (``provider_cusum``; the calibration time does not depend on the number of
patients and is also shown alone). A last row times the long-data path (outcome derived by
``ia.reliable_change``) on 100,000 patients x 8 sessions.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import iatrogenic  # noqa: F401
except ImportError:  # run from a checkout without installing
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from iatrogenic.providers.cusum import cusum_limit, provider_cusum
from iatrogenic.providers.therapists import therapist_outcomes

SEED = 1234567890
SIZES = ((10_000, 50), (100_000, 500), (300_000, 1_500))
FULL = ((1_000_000, 5_000),)
REPEATS = 3


def simulate(
    n_patients: int, n_therapists: int, seed: int = SEED, continuous: bool = False
) -> pd.DataFrame:
    """One row per patient with a therapist, case mix and a harm outcome.

    Intake is a PHQ-9 total (integer) and age in years, so patients share covariate patterns;
    ``continuous=True`` makes both continuous (every patient its own pattern).
    """
    rng = np.random.default_rng(seed + n_patients)
    therapist = rng.integers(0, n_therapists, n_patients)
    effect = rng.normal(0, 0.3, n_therapists)
    intake = np.clip(rng.normal(15, 5, n_patients), 0, 27)
    age: np.ndarray = rng.uniform(18, 80, n_patients)
    if not continuous:
        intake, age = np.round(intake), np.floor(age).astype(np.int64)
    site = rng.choice(["north", "south", "east"], n_patients)
    eta = -2.5 + 0.06 * (intake - 15) + 0.01 * (age - 40) + 0.2 * (site == "east")
    harm = rng.random(n_patients) < 1 / (1 + np.exp(-(eta + effect[therapist])))
    return pd.DataFrame(
        {
            "patient": np.arange(n_patients),
            "therapist": np.char.add("T", therapist.astype(str)),
            "intake": intake,
            "age": age,
            "site": site,
            "end": rng.integers(0, 10**6, n_patients),
            "harm": harm,
        }
    )


def best_of(fn, repeats: int = REPEATS) -> float:  # type: ignore[no-untyped-def]
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return float(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="add 1M patients, 5,000 therapists")
    args = parser.parse_args()
    sizes = SIZES + (FULL if args.full else ())

    print(f"{'patients':>10} {'therapists':>10} {'outcomes s':>11} {'us/patient':>10} "
          f"{'cusum s':>8} {'us/patient':>10}")
    runs = [(n, k, False) for n, k in sizes]
    if args.full:
        runs.append((*FULL[0], True))
    for n_patients, n_therapists, continuous in runs:
        table = simulate(n_patients, n_therapists, continuous=continuous)
        common = {"therapist": "therapist", "outcome": "harm", "severity": "intake",
                  "casemix": ["age", "site"]}
        t_out = best_of(lambda: therapist_outcomes(table, **common, suppress=None))  # noqa: B023
        t_cus = best_of(
            lambda: provider_cusum(table, **common, order="end", arl=2000, seed=1)  # noqa: B023
        )
        print(f"{n_patients:>10,} {n_therapists:>10,} {t_out:>11.2f} "
              f"{1e6 * t_out / n_patients:>10.2f} {t_cus:>8.2f} {1e6 * t_cus / n_patients:>10.2f}"
              + ("  (continuous intake and age)" if continuous else ""))

    pool = np.random.default_rng(SEED).beta(2, 20, 10_000)
    t_cal = best_of(lambda: cusum_limit(pool, 2.0, 2000, seed=1))
    print(f"calibration of h alone (ARL 2000, 500 paths x 8,000 patients): {t_cal:.2f} s")

    # the long-data path: outcome from ia.reliable_change on 100,000 patients x 8 sessions
    rng = np.random.default_rng(SEED)
    n, k = 100_000, 8
    long = pd.DataFrame(
        {
            "patient": np.repeat(np.arange(n), k),
            "session": np.tile(np.arange(1, k + 1), n),
            "therapist": np.repeat(np.char.add("T", rng.integers(0, 500, n).astype(str)), k),
        }
    )
    start_score = np.repeat(rng.normal(15, 4, n), k)
    slope = np.repeat(rng.normal(-0.6, 0.6, n), k)
    long["score"] = np.clip(
        np.round(start_score + slope * (long["session"] - 1) + rng.normal(0, 2, n * k)), 0, 27
    )
    t_long = best_of(
        lambda: therapist_outcomes(long, therapist="therapist", instrument="phq9", suppress=None),
        repeats=1,
    )
    print(f"long data, reliable deterioration, {n:,} patients x {k} sessions: {t_long:.2f} s "
          f"({1e6 * t_long / n:.2f} us/patient)")


if __name__ == "__main__":
    main()
