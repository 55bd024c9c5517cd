"""Benchmark: ``Monitor.update`` per call, mean, median and p99, against the goal of issue 10.

Run ``python benchmarks/bench_monitor.py`` (two to three minutes). Goal: with its default detectors
(``off_track``), ``Monitor.update`` averages < 100 us per call over 100,000 updates of a few
thousand patients fed in session order (all patients' session 1, then session 2, ...). The
mean is the goal, not the median: a stream is as slow as its total, and a few expensive calls
(building an event table, running a detector on a patient's history) move the mean far above
the median.

Rows: the bundled reference model (hlm) and a neighbours model, with the default detectors and
(at the smaller sizes) with every fast detector (``off_track``, ``reliable_deterioration``,
``risk_item``, the last two with the PHQ-9 item 9 passed as ``phq9_item9=``; these run the
detector on the patient's history when their cheap test passes, milliseconds per call), at two
or three sizes. Also timed: a
``to_json`` / ``from_json`` round trip of the final state (the validation on load). The data
are simulated (``ia.datasets.simulate``, all harms at their default rates); simulating and
fitting are not timed.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np
import pandas as pd

import iatrogenic as ia
from iatrogenic.core.expected_response import fit_expected_response, load_reference_model
from iatrogenic.monitor import FAST_DETECTORS, Monitor


def _stream(n_updates: int, seed: int) -> pd.DataFrame:
    """``n_updates`` rows of whole courses, in session order (about 9 sessions a patient)."""
    n_patients = max(n_updates // 9 + 50, 10)
    data, _ = ia.datasets.simulate(n_patients=n_patients, n_therapists=100, seed=seed)
    data = data.sort_values(["patient", "session"], kind="stable")
    patients = data["patient"].drop_duplicates()
    sizes = data.groupby("patient", sort=False).size().reindex(patients).to_numpy()
    keep = int(np.searchsorted(np.cumsum(sizes), n_updates)) + 1
    data = data[data["patient"].isin(set(patients.iloc[:keep]))].iloc[:n_updates]
    return data.sort_values(["session", "patient"], kind="stable")


def _time(monitor: Monitor, rows: pd.DataFrame, item: bool) -> tuple[np.ndarray, int]:
    patients = rows["patient"].astype(str).tolist()
    sessions = rows["session"].astype(int).tolist()
    scores = [None if math.isnan(y) else float(y) for y in rows["phq9"]]
    items = [None if math.isnan(v) else float(v) for v in rows["phq9_item9"]]
    timings = np.empty(len(rows))
    n_events = 0
    clock = time.perf_counter_ns
    update = monitor.update
    if item:
        for i, (p, s, y, v) in enumerate(zip(patients, sessions, scores, items, strict=True)):
            started = clock()
            events = update(p, s, y, phq9_item9=v)
            timings[i] = clock() - started
            n_events += len(events)
    else:
        for i, (p, s, y) in enumerate(zip(patients, sessions, scores, strict=True)):
            started = clock()
            events = update(p, s, y)
            timings[i] = clock() - started
            n_events += len(events)
    return timings / 1e3, n_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000], help="updates per run"
    )
    parser.add_argument("--no-neighbors", action="store_true", help="skip the neighbours model")
    parser.add_argument(
        "--fast-limit",
        type=int,
        default=20_000,
        help="run the fast-detector rows only up to this many updates (they take ms per event)",
    )
    args = parser.parse_args()

    models: dict[str, Any] = {"reference (hlm)": load_reference_model()}
    if not args.no_neighbors:
        reference, _ = ia.datasets.simulate(n_patients=2_000, seed=6)
        models["neighbors"] = fit_expected_response(
            reference, score="phq9", instrument="phq9", method="neighbors"
        )
    configs: list[tuple[str, tuple[str, ...], bool]] = [
        ("default (off_track)", ("off_track",), False),
        ("fast detectors", FAST_DETECTORS, True),
    ]
    header = (
        f"{'model':<16} {'detectors':<20} {'updates':>8} {'patients':>8} {'events':>7} "
        f"{'mean us':>8} {'median':>7} {'p99':>7} {'max':>8}  goal"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        rows = _stream(size, seed=2)
        n_patients = rows["patient"].nunique()
        for label, model in models.items():
            for name, detectors, item in configs:
                if detectors != ("off_track",) and size > args.fast_limit:
                    continue
                monitor = Monitor(model, list(detectors))
                timings, n_events = _time(monitor, rows, item)
                mean = float(timings.mean())
                goal = "" if name != configs[0][0] else ("ok" if mean < 100 else "NO (< 100)")
                print(
                    f"{label:<16} {name:<20} {len(rows):>8,} {n_patients:>8,} {n_events:>7,} "
                    f"{mean:>8.1f} {np.median(timings):>7.1f} "
                    f"{np.percentile(timings, 99):>7.1f} {timings.max():>8.0f}  {goal}"
                )
        monitor = Monitor(models["reference (hlm)"])
        _time(monitor, rows, False)
        started = time.perf_counter()
        text = monitor.to_json()
        written = time.perf_counter() - started
        started = time.perf_counter()
        Monitor.from_json(text)
        read = time.perf_counter() - started
        print(
            f"  state of {n_patients:,} patients: {len(text) / 1e6:.1f} MB, to_json "
            f"{written * 1e3:.0f} ms, from_json (validated) {read * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    main()
