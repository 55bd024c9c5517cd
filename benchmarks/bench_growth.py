"""Benchmark of the growth engine (``fit_growth``) against statsmodels MixedLM and lme4.

Run: ``python benchmarks/bench_growth.py`` (about 1 minute on a 2-core machine).

1. The lme4 reference data set (20,000 patients x 12 sessions, random intercept and slope on
   log1p(session); ``tests/refs/lme4/lme4_growth_data.csv.gz``, regenerated with the same
   generator in numpy when absent): our engine and statsmodels MixedLM in the same run, their
   times, ratio and REML criterion next to lme4's 1443231.30322959 (lme4 1.1.31 took 2.7-3.5 s).
   statsmodels takes ~40 s on the full set; ``--sm-patients N`` times it on the first N
   patients instead (compared with our fit of that same subset; the table says so).
2. One million patients x 12 sessions, our engine alone: seconds and peak memory of the fit.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from iatrogenic.core.growth import fit_growth

LME4_REML = 1443231.30322959
LME4_SECONDS = (2.672, 4.107)


def simulate(n: int, sessions: int = 12, seed: int = 1) -> pd.DataFrame:
    """The lme4 reference generator (tests/refs/README.md), in numpy."""
    rng = np.random.default_rng(seed)
    z1, z2 = rng.normal(size=n), rng.normal(size=n)
    b0 = 6 * z1
    b1 = 3 * (-0.3 * z1 + np.sqrt(1 - 0.3**2) * z2)
    pid = np.repeat(np.arange(1, n + 1), sessions)
    session = np.tile(np.arange(sessions), n)
    score = 25 + b0[pid - 1] + (-4 + b1[pid - 1]) * np.log1p(session)
    score = np.round(score + rng.normal(0, 4, n * sessions), 3)
    return pd.DataFrame({"id": pid, "session": session, "score": score})


def reference_data() -> tuple[pd.DataFrame, str]:
    refs = Path(__file__).resolve().parents[1] / "tests" / "refs"
    path = refs / "lme4" / "lme4_growth_data.csv.gz"
    if path.exists():
        return pd.read_csv(path), "lme4 reference data"
    return simulate(20_000), "simulated with the lme4 generator (reference file not found)"


def ours(data: pd.DataFrame) -> tuple[float, float]:
    begin = time.perf_counter()
    model = fit_growth(data, patient="id", time="session", time_transform="log1p")
    seconds = time.perf_counter() - begin
    return seconds, float(model.reml_criterion_ or np.nan)


def statsmodels_fit(data: pd.DataFrame) -> tuple[float, float]:
    import statsmodels.api as sm

    frame = data.assign(t=np.log1p(data["session"]))
    begin = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.MixedLM.from_formula("score ~ t", frame, groups="id", re_formula="~t")
        result = model.fit(reml=True, method=["lbfgs"])
    seconds = time.perf_counter() - begin
    return seconds, float(-2 * result.llf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sm-patients", type=int, default=0,
                        help="patients in the statsmodels comparison (0: all 20,000)")
    parser.add_argument("--big", type=int, default=1_000_000, help="patients in the big run")
    args = parser.parse_args()

    data, source = reference_data()
    print(f"Data: {data['id'].nunique():,} patients x 12 sessions ({source})")
    fit_growth(data.head(120), patient="id", time="session", time_transform="log1p")  # warm-up
    t_ours, crit_ours = ours(data)
    print("\n| engine | patients | seconds | REML criterion | minus lme4's |")
    print("|---|---|---|---|---|")
    print(f"| iatrogenic | 20,000 | {t_ours:.3f} | {crit_ours:.8f} | "
          f"{crit_ours - LME4_REML:+.2e} |")
    print(f"| lme4 1.1.31 (R, reference) | 20,000 | {LME4_SECONDS[0]:.1f}-{LME4_SECONDS[1]:.1f} | "
          f"{LME4_REML:.8f} | 0 |")
    n_sm = args.sm_patients or 20_000
    subset = data[data["id"] <= n_sm] if n_sm < 20_000 else data
    t_ours_sub, crit_ours_sub = ours(subset)
    t_sm, crit_sm = statsmodels_fit(subset)
    label = "20,000" if n_sm >= 20_000 else f"{n_sm:,} (subset)"
    print(f"| iatrogenic | {label} | {t_ours_sub:.3f} | {crit_ours_sub:.8f} | |")
    print(f"| statsmodels MixedLM | {label} | {t_sm:.3f} | {crit_sm:.8f} | |")
    print(f"\nstatsmodels / iatrogenic time on {label} patients: {t_sm / t_ours_sub:.0f}x; "
          f"REML criteria differ by {crit_sm - crit_ours_sub:+.2e}")
    print(f"lme4 / iatrogenic time on 20,000 patients: {LME4_SECONDS[0] / t_ours:.0f}-"
          f"{LME4_SECONDS[1] / t_ours:.0f}x")

    del data, subset
    gc.collect()
    big = simulate(args.big, seed=2)
    tracemalloc.start()
    begin = time.perf_counter()
    model = fit_growth(big, patient="id", time="session", time_transform="log1p")
    seconds = time.perf_counter() - begin
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print("\n| engine | patients | rows | seconds | peak memory of the fit (MB) | converged |")
    print("|---|---|---|---|---|---|")
    print(f"| iatrogenic | {args.big:,} | {len(big):,} | {seconds:.1f} | {peak / 2**20:,.0f} | "
          f"{model.converged_} |")
    print(f"(input table: {big.memory_usage(deep=True).sum() / 2**20:,.0f} MB)")


if __name__ == "__main__":
    main()
