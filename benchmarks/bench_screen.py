"""Benchmark: the full screen (every detector the simulator's columns feed) is linear in the rows.

Run ``python benchmarks/bench_screen.py`` (under a minute): it simulates 10,000 and 100,000
patients x 12 sessions (with the medication table), runs ``ia.screen`` with every input of
``ia.datasets.screen_options``, and prints for each size the time per row of every detector
(``events.attrs["seconds"]``), of the screen's own work outside them and of the whole call,
the whole call's wall and CPU time (on a shared machine the wall time includes waiting for a
core), then the peak memory of the screen as a multiple of the input DataFrame's memory:
allocated (``tracemalloc``, a separate run, up to ``--traced-up-to`` patients since tracing is
slow) and resident (growth of the peak resident set, Linux). It states whether the time per row
stays flat (within 1.5x from the smallest to the largest size) and, with
``--full`` (adds 1,000,000 patients; a few minutes, a few GB), whether issue 12's goals hold: the
full screen of 1M patients under 60 s with a peak under 4x the input.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from typing import Any

import pandas as pd

import iatrogenic as ia

SEED = 20261203
FLAT = 1.5  #: largest / smallest time per row allowed
GOAL_SECONDS = 60.0  #: issue 12: 1M patients x 12 sessions under this many seconds...
GOAL_MEMORY_RATIO = 4.0  #: ... with a peak allocation under this multiple of the input.


def simulate(n_patients: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    data, _truth, medications = ia.datasets.simulate(
        n_patients, max(30, n_patients // 100), n_sessions=12, seed=SEED, return_medications=True
    )
    return data, ia.datasets.screen_options(medications)


def _status(field: str) -> int | None:
    """A field of /proc/self/status in bytes (None where there is no /proc)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak_resident() -> bool:
    """Reset the process's peak resident memory (Linux); False where it cannot be."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def run(n_patients: int, traced: bool, repeat: int) -> dict[str, Any]:
    data, options = simulate(n_patients)
    input_bytes = int(data.memory_usage(deep=True).sum())
    gc.collect()
    before = _status("VmRSS")
    reset = _reset_peak_resident()
    best: dict[str, float] = {}
    total = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        events = ia.screen(data, **options)
        total = min(total, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
        for name, seconds in events.attrs["seconds"].items():
            best[name] = min(best.get(name, float("inf")), seconds)
        del events
    hwm = _status("VmHWM")
    resident = (hwm - before) / input_bytes if reset and hwm and before else float("nan")
    traced_ratio = float("nan")
    if traced:
        gc.collect()
        tracemalloc.start()
        ia.screen(data, **options)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        traced_ratio = peak / input_bytes
    return {
        "patients": n_patients, "rows": len(data), "total": total, "cpu": cpu, "seconds": best,
        "input_mb": input_bytes / 2**20, "peak_ratio": traced_ratio, "resident": resident,
    }


#: Row of the table for the screen's own work: validation and sorting of the input, the event
#: table's concatenation and sort (the total minus the detectors' times).
OUTSIDE = "(outside detectors)"


def _seconds(result: dict[str, Any], name: str) -> float:
    if name == "total":
        return float(result["total"])
    if name == OUTSIDE:
        return float(result["total"] - sum(result["seconds"].values()))
    return float(result["seconds"].get(name, float("nan")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="add 1,000,000 patients")
    parser.add_argument("--sizes", type=int, nargs="*", help="patients (overrides the default)")
    parser.add_argument("--traced-up-to", type=int, default=10_000,
                        help="measure tracemalloc's peak up to this many patients (tracing every "
                             "allocation is slow: about 8x the screen's time)")
    args = parser.parse_args()
    sizes = args.sizes or [10_000, 100_000] + ([1_000_000] if args.full else [])
    results = []
    for n in sizes:
        print(f"screening {n:,} patients ...", flush=True)
        # Best of 3 at small sizes, where a detector takes milliseconds and noise dominates.
        results.append(run(n, traced=n <= args.traced_up_to, repeat=3 if n <= 20_000 else 1))

    names = sorted({name for r in results for name in r["seconds"]})
    header = f"{'microseconds per row':24s}" + "".join(f"{r['patients']:>12,}" for r in results)
    print()
    print(header + f"{'max/min':>10s}")
    print("-" * len(header) + "-" * 10)
    flat = True
    for name in [*names, OUTSIDE, "total"]:
        per_row = [_seconds(r, name) / r["rows"] * 1e6 for r in results]
        ratio = max(per_row) / min(per_row) if min(per_row) > 0 else float("nan")
        # Detectors under 0.1 s are dominated by fixed costs at the small size; they only count
        # against flatness when they grow.
        grows = per_row[-1] / per_row[0] if per_row[0] > 0 else float("nan")
        flat &= not grows > FLAT
        print(f"{name:24s}" + "".join(f"{v:12.2f}" for v in per_row) + f"{ratio:10.2f}")
    print(f"{'rows':24s}" + "".join(f"{r['rows']:>12,}" for r in results))
    print(f"{'total seconds':24s}" + "".join(f"{r['total']:12.2f}" for r in results))
    # on a shared machine the wall time includes waiting for a core; the CPU time does not
    print(f"{'total CPU seconds':24s}" + "".join(f"{r['cpu']:12.2f}" for r in results))
    print(f"{'outside detectors, s':24s}"
          + "".join(f"{_seconds(r, OUTSIDE):12.2f}" for r in results))
    print(f"{'input MB':24s}" + "".join(f"{r['input_mb']:12.1f}" for r in results))
    print(f"{'peak alloc / input':24s}"
          + "".join(f"{r['peak_ratio']:12.2f}" for r in results) + "  (tracemalloc)")
    print(f"{'peak resident / input':24s}"
          + "".join(f"{r['resident']:12.2f}" for r in results) + "  (VmHWM growth)")
    print()
    print(f"time per row flat within {FLAT}x (largest vs smallest size): "
          f"{'yes' if flat else 'NO'}")
    for r in results:
        if r["patients"] >= 1_000_000:
            memory = r["peak_ratio"] if r["peak_ratio"] == r["peak_ratio"] else r["resident"]
            print(f"goal at {r['patients']:,} patients: {r['total']:.1f} s "
                  f"({'met' if r['total'] < GOAL_SECONDS else 'NOT met'}, < {GOAL_SECONDS:.0f} s), "
                  f"peak {memory:.2f}x input "
                  f"({'met' if memory < GOAL_MEMORY_RATIO else 'NOT met'}, "
                  f"< {GOAL_MEMORY_RATIO:.0f}x)")


if __name__ == "__main__":
    main()
