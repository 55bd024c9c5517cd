"""Benchmark ia.funnel against FunnelPlotR 0.6.0 on the same tables, in the same run.

Run with ``python benchmarks/bench_funnel.py`` (about 30 s). Simulates one-row-per-unit tables
(numpy, fixed seed) of 100 to 50,000 units for proportions (PR) and SHMI standardised ratios
(SR), times ``ia.funnel`` (validation and aggregation included) best of 5, and, when ``Rscript``
and FunnelPlotR are available (set ``R_LIBS`` to the library that holds FunnelPlotR), times
``funnel_plot()`` on the same CSV inside one R process (best of 3, R start-up excluded; the ggplot
object is built but not drawn) and prints the ratio. The headline is the 5,000-unit table.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import iatrogenic  # noqa: F401
except ImportError:  # run from a checkout without installing
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import iatrogenic as ia

SEED = 1234567890
SIZES = (100, 1_000, 5_000, 50_000)
R_SIZES = (100, 1_000, 5_000)
KINDS = ("PR", "SR")
REPEATS = 5

R_SCRIPT = r"""
suppressPackageStartupMessages(library(FunnelPlotR))
args <- commandArgs(trailingOnly = TRUE)
for (i in seq(1, length(args), by = 2)) {
  d <- read.csv(args[i], colClasses = c("character", "numeric", "numeric"))
  best <- Inf
  for (r in 1:3) {
    t <- system.time(suppressMessages(funnel_plot(
      d, numerator = numerator, denominator = denominator, group = group,
      data_type = args[i + 1])))[["elapsed"]]
    best <- min(best, t)
  }
  cat(args[i], best, "\n")
}
"""


def simulate(units: int, kind: str, seed: int = SEED) -> pd.DataFrame:
    """One row per unit, overdispersed: PR (patients, deteriorated) or SR (expected, observed)."""
    rng = np.random.default_rng(seed + units)
    effect = rng.normal(0, 0.3, units)
    if kind == "PR":
        n = rng.integers(10, 2_000, units).astype(float)
        events = rng.binomial(n.astype(int), 1 / (1 + np.exp(-(np.log(0.1 / 0.9) + effect))))
    else:
        n = np.round(rng.uniform(2, 400, units), 4)
        events = np.maximum(rng.poisson(n * np.exp(effect)), 1)
    return pd.DataFrame(
        {
            "group": [f"u{i:06d}" for i in range(units)],
            "numerator": events.astype(float),
            "denominator": n,
        }
    )


def time_ours(table: pd.DataFrame, kind: str) -> float:
    best = np.inf
    for _ in range(REPEATS):
        start = time.perf_counter()
        ia.funnel(
            table, numerator="numerator", denominator="denominator", group="group", data_type=kind
        )
        best = min(best, time.perf_counter() - start)
    return float(best)


def time_r(paths: dict[tuple[str, int], Path]) -> dict[tuple[str, int], float] | None:
    """Best-of-3 seconds of funnel_plot() per table, or None without R / FunnelPlotR."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    check = subprocess.run(
        [rscript, "-e", "library(FunnelPlotR)"], capture_output=True, env=os.environ.copy()
    )
    if check.returncode != 0:
        return None
    args: list[str] = []
    for (kind, _), path in paths.items():
        args += [str(path), kind]
    script = next(iter(paths.values())).parent / "bench_funnel.R"
    script.write_text(R_SCRIPT)
    out = subprocess.run(
        [rscript, str(script), *args], capture_output=True, text=True, env=os.environ.copy()
    )
    if out.returncode != 0:
        raise RuntimeError(f"FunnelPlotR timing failed:\n{out.stderr}")
    seconds = {line.split()[0]: float(line.split()[1]) for line in out.stdout.splitlines()}
    return {key: seconds[str(path)] for key, path in paths.items()}


def main() -> None:
    tables = {(kind, size): simulate(size, kind) for kind in KINDS for size in SIZES}
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for (kind, size), table in tables.items():
            if size in R_SIZES:
                paths[(kind, size)] = Path(folder) / f"{kind}_{size}.csv"
                table.to_csv(paths[(kind, size)], index=False, float_format="%.17g")
        r_times = time_r(paths)
    ours = {key: time_ours(table, key[0]) for key, table in tables.items()}

    print("ia.funnel vs FunnelPlotR 0.6.0 funnel_plot() (best of 5 / best of 3, seconds)")
    if r_times is None:
        print("(Rscript or FunnelPlotR not found: R columns empty; set R_LIBS to its library)")
    header = f"{'type':<5}{'units':>8}{'ia.funnel s':>13}{'us/unit':>9}{'R s':>9}{'R/ours':>8}"
    print(header)
    print("-" * len(header))
    for (kind, size), seconds in ours.items():
        r = r_times.get((kind, size)) if r_times else None
        r_text = f"{r:9.3f}{r / seconds:8.1f}" if r is not None else f"{'':>9}{'':>8}"
        print(f"{kind:<5}{size:>8}{seconds:13.4f}{1e6 * seconds / size:9.2f}{r_text}")
    if r_times is not None:
        for kind in KINDS:
            ratio = r_times[(kind, 5_000)] / ours[(kind, 5_000)]
            print(f"5,000-unit {kind} table: ia.funnel is {ratio:.1f}x faster than FunnelPlotR")


if __name__ == "__main__":
    main()
