"""Benchmark of the growth engine (``fit_growth``) against statsmodels MixedLM and lme4.

Run: ``python benchmarks/bench_growth.py`` (about 1 minute on a 2-core machine).

1. The lme4 reference data set (20,000 patients x 12 sessions, random intercept and slope on
   log1p(session); ``tests/refs/lme4/lme4_growth_data.csv.gz``, regenerated with the same
   generator in numpy when absent): our engine and statsmodels MixedLM in the same run, their
   times, ratio and REML criterion next to lme4's 1443231.30322959; lme4 itself is timed in the
   same run when ``Rscript`` with lme4 is installed (else its stored 2.7-4.1 s are shown).
   statsmodels takes ~40 s on the full set; ``--sm-patients N`` times it on the first N
   patients instead (compared with our fit of that same subset; the table says so).
2. One million patients x 12 sessions, our engine alone: seconds and peak memory of the fit.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import subprocess
import sys
import tempfile
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


REFS = Path(__file__).resolve().parents[1] / "tests" / "refs"


def reference_data() -> tuple[pd.DataFrame, str]:
    path = REFS / "lme4" / "lme4_growth_data.csv.gz"
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


LME4_SCRIPT = """
suppressPackageStartupMessages(library(lme4))
d <- read.csv(commandArgs(TRUE)[1])
elapsed <- system.time(fit <- lmer(score ~ log1p(session) + (1 + log1p(session) | id),
                                   data = d, REML = TRUE))[["elapsed"]]
cat(sprintf("%.3f %.10f %s\\n", elapsed, REMLcrit(fit), packageVersion("lme4")))
"""


def lme4_fit(path: Path) -> tuple[float, float, str] | None:
    """lme4 on the same file in the same run, when R and lme4 are installed (else None)."""
    rscript = shutil.which("Rscript")
    if rscript is None or not path.exists():
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as handle:
        handle.write(LME4_SCRIPT)
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "data.csv"
        pd.read_csv(path).to_csv(plain, index=False)
        done = subprocess.run([rscript, handle.name, str(plain)], capture_output=True, text=True,
                              check=False)
    Path(handle.name).unlink()
    if done.returncode != 0:
        return None
    seconds, crit, version = done.stdout.split()
    return float(seconds), float(crit), version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sm-patients", type=int, default=0,
                        help="patients in the statsmodels comparison (0: all 20,000)")
    parser.add_argument("--big", type=int, default=1_000_000, help="patients in the big run")
    parser.add_argument("--no-r", action="store_true",
                        help="do not run lme4 in R (use its stored timing)")
    args = parser.parse_args()

    data, source = reference_data()
    print(f"Data: {data['id'].nunique():,} patients x 12 sessions ({source})")
    fit_growth(data.head(120), patient="id", time="session", time_transform="log1p")  # warm-up
    t_ours, crit_ours = ours(data)
    print("\n| engine | patients | seconds | REML criterion | minus lme4's |")
    print("|---|---|---|---|---|")
    print(f"| iatrogenic | 20,000 | {t_ours:.3f} | {crit_ours:.8f} | "
          f"{crit_ours - LME4_REML:+.2e} |")
    lme4 = lme4_fit(REFS / "lme4" / "lme4_growth_data.csv.gz") if not args.no_r else None
    if lme4 is not None:
        lme4_seconds = (lme4[0], lme4[0])
        print(f"| lme4 {lme4[2]} (R, this run) | 20,000 | {lme4[0]:.3f} | {lme4[1]:.8f} | "
              f"{lme4[1] - LME4_REML:+.2e} |")
    else:
        lme4_seconds = LME4_SECONDS
        print(f"| lme4 1.1.31 (R, stored timing: R not found) | 20,000 | "
              f"{LME4_SECONDS[0]:.1f}-{LME4_SECONDS[1]:.1f} | {LME4_REML:.8f} | 0 |")
    n_sm = args.sm_patients or 20_000
    subset = data[data["id"] <= n_sm] if n_sm < 20_000 else data
    t_ours_sub, crit_ours_sub = ours(subset)
    t_sm, crit_sm = statsmodels_fit(subset)
    label = "20,000" if n_sm >= 20_000 else f"{n_sm:,} (subset)"
    print(f"| iatrogenic | {label} | {t_ours_sub:.3f} | {crit_ours_sub:.8f} | |")
    print(f"| statsmodels MixedLM | {label} | {t_sm:.3f} | {crit_sm:.8f} | |")
    print(f"\nstatsmodels / iatrogenic time on {label} patients: {t_sm / t_ours_sub:.0f}x; "
          f"REML criteria differ by {crit_sm - crit_ours_sub:+.2e}")
    print(f"lme4 / iatrogenic time on 20,000 patients: {lme4_seconds[0] / t_ours:.0f}-"
          f"{lme4_seconds[1] / t_ours:.0f}x")

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
