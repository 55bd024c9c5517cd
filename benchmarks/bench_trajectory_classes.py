"""Benchmark of ``fit_trajectory_classes`` (latent-class growth analysis) against flexmix.

Run: ``python benchmarks/bench_trajectory_classes.py`` (about a minute on a 2-core machine).

1. Simulated data with four known classes (45/30/20/5%, the last deteriorating) on log(session),
   residual SD 3: K = 1..5 with ``n_init=20``, ``variance="equal"``; seconds, the chosen K,
   recovery (adjusted Rand index of the modal classes against the truth, largest error of the
   class curves at sessions 1 and 12). Default 20,000 patients x 12 sessions; ``--full`` runs
   100,000 x 12 (the goal of issue 14: under 30 s for K = 1..5).
2. flexmix 2.3.18 in the same run when ``Rscript`` with flexmix is installed, on the first
   ``--flexmix-patients`` (default 5,000) patients: ``stepFlexmix(score ~ x | patient,
   k = 1:5, nrep = R, model = FLXMRglm())`` (flexmix's default control) against our
   ``variance="class"`` fit with ``n_init=R`` on the same patients; seconds, ratio and
   maximised log-likelihoods. ``R`` is ``--nrep`` (default 2, so the default run stays under a
   minute; flexmix's time grows about linearly with it; ``--nrep 20`` is the issue's call).
3. The growth mixture model (``random="intercept"``) on the data of part 1 plus a random
   intercept of SD 3 within classes: K = 1..5, ``n_init=20``; seconds, the chosen K, the
   convergence check (Newton decrement), recovery as in part 1 and the random-intercept
   variance against the true 9. (R's lcmm is not installed here: no peer timing.)
4. The ``worsening_class`` detector's running posteriors (the bundled 6-class model) on all
   rows of part 3's data: seconds and microseconds per row.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from iatrogenic.classes import fit_trajectory_classes

CURVES = np.array([[19.0, -5.0], [18.0, -2.5], [15.0, -0.5], [16.0, 2.5]])
SHARES = [0.45, 0.30, 0.20, 0.05]


def simulate(n: int, sessions: int = 12, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    cls = rng.choice(len(SHARES), n, p=SHARES)
    t = np.tile(np.arange(1, sessions + 1), n).astype(float)
    c = np.repeat(cls, sessions)
    y = CURVES[c, 0] + CURVES[c, 1] * np.log(t) + rng.normal(0, 3.0, n * sessions)
    data = pd.DataFrame(
        {"patient": np.repeat(np.arange(1, n + 1), sessions), "session": t,
         "score": np.round(y, 4)}
    )
    return data, cls


def recovery(data: pd.DataFrame, truth: np.ndarray, random: str | None = None) -> None:
    from sklearn.metrics import adjusted_rand_score

    t0 = time.perf_counter()
    model = fit_trajectory_classes(data, n_classes=range(1, 6), seed=1, random=random)
    secs = time.perf_counter() - t0
    n = data["patient"].nunique()
    part = "1." if random is None else "3. random='intercept' (true SD 3):"
    print(f"\n{part} {n:,} patients x 12 sessions, K = 1..5, n_init = 20: {secs:.1f} s")
    columns = ["n_classes", "loglik", "bic", "entropy", "smallest_class_share", "converged",
               "n_iter"]
    print(model.selection_[columns].to_string(index=False))
    if random is not None:
        print("\n".join(f"K = {k}: {m}" for k, m in
                        zip(model.selection_["n_classes"], model.selection_["message"],
                            strict=True)))
        print(f"random-intercept variance {model.random_intercept_variance_:.3f} (true 9), "
              f"residual variance {model.residual_variance_.iloc[0]:.3f} (true 9)")
    print(f"chosen K = {model.n_classes_} (true 4); deteriorating class = "
          f"{model.deteriorating_class_}")
    if model.n_classes_ == len(SHARES):
        ari = adjusted_rand_score(truth, model.posterior_["modal_class"].to_numpy(int))
        means = model.class_means([1.0, 12.0])["mean"].to_numpy().reshape(-1, 2)
        true = CURVES[:, 0:1] + CURVES[:, 1:2] * np.log([1.0, 12.0])
        err = max(np.abs(means[i] - true).max(axis=1).min() for i in range(len(means)))
        print(f"adjusted Rand index {ari:.4f}; largest class-mean error at sessions 1 and 12: "
              f"{err:.3f} points")


_R = r"""
suppressPackageStartupMessages(library(flexmix))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); nrep <- as.integer(args[2])
d$x <- log(d$session)
set.seed(1)
t0 <- proc.time()[["elapsed"]]
fits <- suppressWarnings(stepFlexmix(score ~ x | patient, data = d, k = 1:5, nrep = nrep,
                                     model = FLXMRglm(), verbose = FALSE))
secs <- proc.time()[["elapsed"]] - t0
ll <- sapply(1:5, function(k) logLik(getModel(fits, which = as.character(k))))
kr <- sapply(1:5, function(k) getModel(fits, which = as.character(k))@k)
cat(sprintf("%.3f", secs), sprintf("%.6f", ll), kr, "\n")
"""


def flexmix(data: pd.DataFrame, n: int, nrep: int) -> None:
    sub = data[data["patient"] <= n]
    t0 = time.perf_counter()
    ours = fit_trajectory_classes(sub, n_classes=range(1, 6), variance="class", n_init=nrep,
                                  seed=1)
    our_secs = time.perf_counter() - t0
    print(f"\n2. flexmix on {n:,} patients x 12 sessions, K = 1..5, nrep = {nrep}")
    print(f"ours (variance='class', n_init={nrep}): {our_secs:.2f} s")
    if shutil.which("Rscript") is None:
        print("Rscript not found: flexmix not timed")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        sub.to_csv(path, index=False)
        script = Path(tmp) / "fx.R"
        script.write_text(_R)
        run = subprocess.run(["Rscript", str(script), str(path), str(nrep)],
                             capture_output=True, text=True, check=False)
    if run.returncode != 0:
        print("flexmix failed:", run.stderr.strip().splitlines()[-1:])
        return
    values = [float(v) for v in run.stdout.split()]
    secs, ll, kr = values[0], values[1:6], [int(v) for v in values[6:11]]
    print(f"flexmix: {secs:.1f} s; ratio flexmix / ours = {secs / our_secs:.0f}x")
    table = pd.DataFrame({"n_classes": range(1, 6), "ours": ours.selection_["loglik"],
                          "flexmix": ll})
    table["ours - flexmix"] = table["ours"] - table["flexmix"]
    table["flexmix classes kept"] = kr
    print(table.to_string(index=False))
    print("(flexmix's default minprior = 0.05 removes classes whose prior falls below 5% "
          "during EM: 'classes kept' < n_classes)")


def with_random_intercept(data: pd.DataFrame, seed: int = 2) -> pd.DataFrame:
    """The data plus a patient-level random intercept of SD 3."""
    rng = np.random.default_rng(seed)
    codes = data["patient"].to_numpy() - 1
    shift = rng.normal(0.0, 3.0, codes.max() + 1)[codes]
    return data.assign(score=np.round(data["score"].to_numpy() + shift, 4))


def detector_speed(data: pd.DataFrame) -> None:
    from iatrogenic._validation import prepare_long
    from iatrogenic.classes.reference import load_reference_classes

    model = load_reference_classes()
    long = prepare_long(data, patient="patient", time="session", score="score", caller="bench")
    t0 = time.perf_counter()
    model._running_posterior(long, "bench", min_count=3)
    secs = time.perf_counter() - t0
    print(f"\n4. worsening_class running posteriors, {len(data):,} rows: {secs:.2f} s "
          f"({secs / len(data) * 1e6:.2f} us per row)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="100,000 patients (goal < 30 s)")
    parser.add_argument("--patients", type=int, default=None, help="patients of part 1")
    parser.add_argument("--flexmix-patients", type=int, default=5_000)
    parser.add_argument("--nrep", type=int, default=2, help="flexmix nrep (= our n_init)")
    args = parser.parse_args()
    n = args.patients or (100_000 if args.full else 20_000)
    data, truth = simulate(max(n, args.flexmix_patients))
    part1 = data[data["patient"] <= n]
    recovery(part1, truth[:n])
    flexmix(data, args.flexmix_patients, args.nrep)
    part3 = with_random_intercept(part1)
    recovery(part3, truth[:n], random="intercept")
    detector_speed(part3)


if __name__ == "__main__":
    main()
