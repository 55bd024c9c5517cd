"""Benchmark: every detector on a simulated cohort with every harm, scored against the truth.

Run ``python benchmarks/bench_detectors.py`` (well under a minute). It

1. simulates a 10,000-patient cohort (fixed seed, every harm injected, with the medication
   table) and times the simulator;
2. times ``ia.screen`` with each registered detector alone (``detectors=[name]``) and with all of
   them, on the full call with every optional input;
3. prints ``ia.evaluate`` of the full screen against the truth (alarms, then alarms and
   warnings);
4. times the score-based detectors (reliable_deterioration, sudden_loss, dependency,
   worsening_trajectory: they need only the score and the instrument) on a long table of
   ``--score-patients`` patients x 12 sessions (best of ``--repeat`` runs, total and per
   detector), then measures in a separate run the peak memory that ``ia.screen`` allocates
   (``tracemalloc``) against the memory of the input DataFrame, and the growth of the process's
   peak resident memory for context. It states whether the goals of issue 5 hold: under 60 s
   and a peak under 4x the input. ``--full`` adds 1,000,000 patients x 12 sessions (12 million
   rows; about a minute in all, 1-2 GB).

Detectors are written by several people at once, so the script takes what the registry has:
a detector that is absent is not timed, one whose inputs are missing is reported as skipped, and
one that fails is reported with its error instead of stopping the run.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd

import iatrogenic as ia

try:  # ia.evaluate once exported; the module either way
    from iatrogenic import evaluate  # type: ignore[attr-defined]
except ImportError:
    from iatrogenic.evaluation import evaluate

SEED = 20261127
#: The detectors of issue 5's goal: those that need only the score (and the instrument).
SCORE_BASED = ("reliable_deterioration", "sudden_loss", "dependency", "worsening_trajectory")
#: Issue 5: 1M patients x 12 sessions screened in under this many seconds...
GOAL_SECONDS = 60.0
#: ... with a peak of allocated memory under this multiple of the input DataFrame's memory.
GOAL_MEMORY_RATIO = 4.0


def screen_options(medications: pd.DataFrame) -> dict[str, Any]:
    """The full screen call on simulated data."""
    return ia.datasets.screen_options(medications)


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def detectors_on_cohort(n_patients: int) -> None:
    (data, truth, medications), seconds = timed(
        ia.datasets.simulate,
        n_patients=n_patients,
        n_therapists=max(1, n_patients // 50),
        seed=SEED,
        return_medications=True,
    )
    print(
        f"simulate({n_patients:,}): {seconds:.2f} s, {len(data):,} rows, {len(truth):,} truth "
        f"rows, {len(medications):,} prescriptions"
    )
    print(truth["harm"].value_counts().sort_index().to_string(), end="\n\n")

    options = screen_options(medications)
    catalogue = ia.list_detectors()
    print(f"{'detector':<26} {'harm':<20} {'seconds':>8} {'events':>8}  note")
    for name, harm in catalogue[["name", "harm"]].itertuples(index=False):
        try:
            events, seconds = timed(ia.screen, data, detectors=[name], **options)
        except Exception as error:  # a detector being written may fail: report, go on
            print(f"{name:<26} {harm:<20} {'-':>8} {'-':>8}  failed: {type(error).__name__}: "
                  f"{str(error)[:80]}")
            continue
        skipped = events.attrs.get("skipped", [])
        note = f"skipped ({skipped[0]['reason']})" if skipped else ""
        print(f"{name:<26} {harm:<20} {seconds:>8.2f} {len(events):>8,}  {note}")
    try:
        events, seconds = timed(ia.screen, data, **options)
    except Exception as error:
        print(f"all detectors together failed: {type(error).__name__}: {error}")
        return
    print(f"{'all together':<26} {'':<20} {seconds:>8.2f} {len(events):>8,}\n")
    # Secondary worsening is scored on the BHS only: GAD-7 worsening in the simulated cohort is an
    # incidental consequence of other harms, not the injected hopelessness.
    hopelessness = ia.screen(
        data, detectors=["secondary_worsening"], **{**options, "secondary": {"bhs": "bhs"}}
    )
    ran = events.attrs.get("detectors", [])
    events = pd.concat(
        [events[events["detector"] != "secondary_worsening"], hopelessness], ignore_index=True
    )
    events.attrs["detectors"] = ran

    columns = [
        "detector", "target", "n_true", "n_flagged", "tp", "fp", "sensitivity", "specificity",
        "ppv", "median_delay", "median_lead_to_end",
    ]
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.float_format", "{:.2f}".format):
        for levels in (("alarm",), ("warning", "alarm")):
            table = evaluate(events, truth, data=data, levels=levels)
            print(f"evaluate(levels={levels}):")
            print(table[columns].to_string(index=False), end="\n\n")


def score_only_data(n_patients: int, n_sessions: int = 12) -> pd.DataFrame:
    """Long PHQ-9 data: a noisy log-shaped course per patient, 10% missing, whole numbers."""
    rng = np.random.default_rng(SEED)
    sessions = np.arange(1, n_sessions + 1)
    intake = rng.normal(15.5, 5.0, n_patients)
    slope = np.minimum(rng.normal(-3.0, 1.5, n_patients), 0.0)
    scores = intake[:, None] + slope[:, None] * np.log(sessions)[None, :]
    scores += rng.normal(0.0, 2.0, scores.shape)
    scores = np.clip(np.rint(scores), 0, 27)
    scores[:, 1:][rng.random((n_patients, n_sessions - 1)) < 0.10] = np.nan
    return pd.DataFrame(
        {
            "patient": np.repeat(np.arange(1, n_patients + 1), n_sessions),
            "session": np.tile(sessions, n_patients),
            "phq9": scores.ravel(),
        }
    )


def _max_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def score_only_screen(sizes: list[int], repeat: int) -> None:
    registered = set(ia.list_detectors()["name"])
    names = [name for name in SCORE_BASED if name in registered]
    print(f"score-based detectors: {', '.join(names)} (best of {repeat} runs)")
    for n in sizes:
        data = score_only_data(n)
        size = data.memory_usage(deep=True).sum() / 2**20
        print(f"\n{n:,} patients x 12 sessions: {len(data):,} rows, input {size:.0f} MB")
        try:
            best: dict[str, float] = {}
            total = float("inf")
            for _ in range(repeat):
                events, seconds = timed(
                    ia.screen, data, detectors=names, score="phq9", instrument="phq9"
                )
                total = min(total, seconds)
                for name, sec in events.attrs["seconds"].items():
                    best[name] = min(best.get(name, float("inf")), sec)
            # A separate run for memory: tracing slows allocation-heavy code down.
            rss_before = _max_rss_mb()
            tracemalloc.start()
            ia.screen(data, detectors=names, score="phq9", instrument="phq9")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rss_growth = _max_rss_mb() - rss_before
        except Exception as error:
            tracemalloc.stop()
            print(f"  failed: {type(error).__name__}: {str(error)[:100]}")
            continue
        counts = events["detector"].value_counts()
        print(f"  {'detector':<24} {'seconds':>8} {'events':>9}")
        for name in names:
            print(f"  {name:<24} {best.get(name, float('nan')):>8.2f} {counts.get(name, 0):>9,}")
        print(f"  {'screen (total)':<24} {total:>8.2f} {len(events):>9,}")
        peak_mb = peak / 2**20
        ratio = peak_mb / size
        print(f"  peak traced memory {peak_mb:.0f} MB = {ratio:.2f}x the input; peak RSS grew "
              f"{rss_growth:.0f} MB (high-water mark of the process, includes freed memory)")
        if n == 1_000_000:
            fast = total < GOAL_SECONDS
            lean = ratio < GOAL_MEMORY_RATIO
            print(f"  goal (issue 5): time {total:.1f} s < {GOAL_SECONDS:.0f} s: "
                  f"{'PASS' if fast else 'FAIL'}; memory {ratio:.2f}x < {GOAL_MEMORY_RATIO:g}x: "
                  f"{'PASS' if lean else 'FAIL'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000,
                        help="cohort size for the per-detector timings (default 10,000)")
    parser.add_argument("--score-patients", type=int, nargs="+", default=[100_000],
                        help="sizes of the score-only screen (default 100,000)")
    parser.add_argument("--full", action="store_true",
                        help="add 1,000,000 patients x 12 sessions to the score-only screen")
    parser.add_argument("--repeat", type=int, default=2,
                        help="timed runs of the score-only screen; the best is shown (default 2)")
    args = parser.parse_args()
    detectors_on_cohort(args.patients)
    sizes = list(args.score_patients)
    if args.full and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    score_only_screen(sizes, max(1, args.repeat))


if __name__ == "__main__":
    main()
