"""Benchmark: expected-response fit, track and the live monitor, against the goals of issue 6.

Run ``python benchmarks/bench_expected_response.py`` (about 30 s). Goals:

- ``fit_expected_response`` on a 100,000-patient reference: < 10 s;
- ``track`` on 1,000,000 patient-sessions: < 5 s;
- ``Monitor.update``: < 100 us per call, mean over 100,000 calls (issue 10; the median, p99 and
  more sizes: ``benchmarks/bench_monitor.py``).

The data are simulated (``ia.datasets.simulate``, all harms at their default rates); simulating
is not timed.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

import iatrogenic as ia
from iatrogenic.core.expected_response import fit_expected_response
from iatrogenic.monitor import Monitor


def _timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=100_000, help="reference patients")
    parser.add_argument("--rows", type=int, default=1_000_000, help="patient-sessions to track")
    parser.add_argument("--updates", type=int, default=100_000, help="Monitor.update calls")
    args = parser.parse_args()

    reference, _ = ia.datasets.simulate(n_patients=args.patients, n_therapists=500, seed=1)
    new, _ = ia.datasets.simulate(
        n_patients=max(args.rows // 9, 10), n_therapists=500, seed=2
    )
    while len(new) < args.rows:  # top up with renamed copies until there are enough rows
        extra = new.assign(patient=new["patient"].astype(str) + "b")
        new = pd.concat([new, extra], ignore_index=True)
    new = new.iloc[: args.rows]
    n_ref = reference["patient"].nunique()

    results = []
    hlm, seconds = _timed(fit_expected_response, reference, score="phq9", instrument="phq9")
    results.append((f"fit hlm, {n_ref:,} reference patients", seconds, 10.0, "s"))
    near, seconds = _timed(
        fit_expected_response, reference, score="phq9", instrument="phq9", method="neighbors"
    )
    results.append((f"fit neighbors (k=50), {n_ref:,} patients", seconds, 10.0, "s"))
    _, seconds = _timed(hlm.track, new)
    results.append((f"track hlm, {len(new):,} patient-sessions", seconds, 5.0, "s"))
    _, seconds = _timed(near.track, new)
    results.append((f"track neighbors, {len(new):,} patient-sessions", seconds, 5.0, "s"))

    # A realistic stream: whole courses of the first patients, session by session, so that about
    # one update in ten is an intake (where the patient's course is computed).
    first = new.iloc[: args.updates]
    rows = first.sort_values(["session", "patient"], kind="stable")
    patients = rows["patient"].astype(str).tolist()
    sessions = rows["session"].astype(int).tolist()
    scores = [None if np.isnan(y) else float(y) for y in rows["phq9"]]
    for label, model in (("hlm", hlm), ("neighbors", near)):
        monitor = Monitor(model, ["off_track"])
        timings = np.empty(len(rows))
        clock = time.perf_counter_ns
        for i, (p, s, y) in enumerate(zip(patients, sessions, scores, strict=True)):
            started = clock()
            monitor.update(p, s, y)
            timings[i] = clock() - started
        results.append(
            (
                f"Monitor.update ({label}, off_track), mean of {len(rows):,}",
                float(np.mean(timings)) / 1e3,
                100.0,
                "us",
            )
        )

    width = max(len(r[0]) for r in results)
    print(f"{'benchmark':<{width}}  {'time':>10}  {'goal':>8}  ok")
    for name, value, goal, unit in results:
        ok = "yes" if value < goal else "NO"
        print(f"{name:<{width}}  {value:>8.3g} {unit:<2}  < {goal:g} {unit:<2}  {ok}")


if __name__ == "__main__":
    main()
