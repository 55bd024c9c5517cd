"""Score the provider detectors (risk-adjusted CUSUM against the funnel) on simulated therapists.

Run with ``python benchmarks/bench_provider_detection.py`` (about 15 s). For each seed,
``ia.datasets.simulate`` draws a service of ``--patients`` patients and ``--therapists``
therapists, a tenth of whom have their patients' odds of an injected deterioration multiplied by
``--odds-ratio`` from their first patient, and another tenth from the middle of their caseload
(in finishing order). ``ia.screen_providers`` (outcome: reliable deterioration on PHQ-9, case mix:
intake severity and age, CUSUM tuned to odds ratio 2 with in-control ARL 2000 patients, patients
ordered by their last date) gives the events, and ``ia.evaluate_providers`` scores them against
``truth.attrs["therapists"]``. Counts are pooled over the seeds; Wilson intervals are recomputed
on the pooled counts. Pass ``--levels alarm warning`` to count the funnel's 95% outliers too,
``--no-od-adjust`` for funnel limits without the overdispersion adjustment.
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

import iatrogenic as ia
from iatrogenic.core.summary import wilson_interval


def run(args: argparse.Namespace) -> pd.DataFrame:
    tables: list[pd.DataFrame] = []
    timed: dict[str, list[int]] = {"provider_cusum": [], "provider_funnel": []}
    k = max(1, args.therapists // 10)
    for seed in range(args.seeds):
        start = time.perf_counter()
        data, truth = ia.datasets.simulate(
            n_patients=args.patients, n_therapists=args.therapists, seed=seed,
            harmful_therapists=k, harmful_from_halfway=k, harmful_odds_ratio=args.odds_ratio,
        )
        events = ia.screen_providers(
            data, therapist="therapist", score="phq9", instrument="phq9", casemix="age",
            order="date", od_adjust=not args.no_od_adjust,
        )
        assert isinstance(events, pd.DataFrame)
        table = ia.evaluate_providers(
            events, truth.attrs["therapists"], data=data, levels=tuple(args.levels)
        )
        print(f"seed {seed}: {time.perf_counter() - start:.1f} s")
        tables.append(table)
        for detector, counts in table.attrs["patients_to_detection"].items():
            timed[detector] += counts
    pooled = pd.concat(tables).groupby("detector", sort=False).sum(numeric_only=True)
    out = pd.DataFrame(index=pooled.index)
    out["harmful"] = pooled["n_harmful"]
    out["detected"] = pooled["detected"]
    out["sensitivity"] = pooled["detected"] / pooled["n_harmful"]
    low, high = wilson_interval(pooled["detected"], pooled["n_harmful"])
    out["sens_95ci"] = [f"{a:.2f}-{b:.2f}" for a, b in zip(low, high, strict=True)]
    out["start"] = [f"{a}/{b}" for a, b in zip(pooled["detected_start"], pooled["n_start"],
                                                strict=True)]
    out["halfway"] = [f"{a}/{b}" for a, b in zip(pooled["detected_halfway"],
                                                  pooled["n_halfway"], strict=True)]
    out["before_onset"] = pooled["flagged_before_onset"]
    out["false_flags"] = [f"{a}/{b}" for a, b in zip(pooled["false_flags"],
                                                      pooled["n_ordinary"], strict=True)]
    low, high = wilson_interval(pooled["false_flags"], pooled["n_ordinary"])
    out["ff_rate"] = pooled["false_flags"] / pooled["n_ordinary"]
    out["ff_95ci"] = [f"{a:.3f}-{b:.3f}" for a, b in zip(low, high, strict=True)]
    # Patients from the onset to the first flag at or after it, pooled over the seeds.
    out["median_patients"] = [
        float(np.median(timed[d])) if timed[d] else np.nan for d in out.index
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--therapists", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--odds-ratio", type=float, default=4.0)
    parser.add_argument("--levels", nargs="+", default=["alarm"])
    parser.add_argument("--no-od-adjust", action="store_true",
                        help="funnel limits without the overdispersion adjustment")
    args = parser.parse_args()
    start = time.perf_counter()
    table = run(args)
    print(
        f"\n{args.seeds} seeds x {args.patients:,} patients, {args.therapists} therapists "
        f"({max(1, args.therapists // 10)} harmful from the start, as many from halfway; "
        f"odds ratio {args.odds_ratio:g}; levels {', '.join(args.levels)}; funnel "
        f"{'without' if args.no_od_adjust else 'with'} overdispersion adjustment):\n"
    )
    with pd.option_context("display.width", 200, "display.precision", 3):
        print(table.to_string())
    print(f"\ntotal {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
