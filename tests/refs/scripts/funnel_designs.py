"""Generate the input tables and the call list for the FunnelPlotR 0.6.0 references.

Deterministic (fixed seed): running it again rewrites identical files. Writes one CSV per design
(columns ``group``, ``numerator``, ``denominator``; record-level designs have several rows per
group) to ``tests/refs/funnelplotr/designs/`` and ``tests/refs/funnelplotr/calls.csv``, one row
per FunnelPlotR call that ``funnel_refs.R`` makes. Then:

    python tests/refs/scripts/funnel_designs.py
    R_LIBS=<library with FunnelPlotR 0.6.0> Rscript tests/refs/scripts/funnel_refs.R

Named designs cover each data type (PR, SR with SHMI and CQC, RC) with and without the
overdispersion adjustment, two trim values (0.1 and 0.05), both limits, a design whose phi stays
below 1 (no adjustment), record-level rows, and a low-proportion overdispersed design where
FunnelPlotR's proportion limits go wrong (see docs/providers.md). Random designs vary the number
of units (5 to 5,000), the denominators (small: 5 to 60; large: 100 to 20,000) and the dispersion
(overdispersed: unit effects with SD 0.3 on the logit or log scale; underdispersed: counts close
to their expectation).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "funnelplotr"
SEED = 1234567890
KINDS = ("PR", "SR_SHMI", "SR_CQC", "RC")


def _units(n: int) -> list[str]:
    return [f"u{i:04d}" for i in range(1, n + 1)]


def _design(
    rng: np.random.Generator, kind: str, n: int, dens: str, disp: str, base: float, sd: float = 0.3
) -> pd.DataFrame:
    """One table: ``n`` units of data type ``kind``."""
    lo, hi = (5, 60) if dens == "small" else (100, 20_000)
    effect = rng.normal(0, sd, n) if disp == "over" else np.zeros(n)
    if kind == "PR":
        size = rng.integers(lo, hi + 1, n)
        p = 1 / (1 + np.exp(-(np.log(base / (1 - base)) + effect)))
        events = rng.binomial(size, p) if disp == "over" else np.round(size * p)
        den: np.ndarray = size.astype(float)
    elif kind.startswith("SR"):
        den = np.round(rng.uniform(lo / 4, hi / 4, n), 6)
        mean = den * np.exp(effect)
        events = rng.poisson(mean) if disp == "over" else np.round(mean)
        events = np.maximum(events, 1)  # log(0 / E) is -Inf under SHMI
    else:  # RC
        size = rng.integers(lo, hi + 1, n)
        events = (
            rng.poisson(base * 4 * size * np.exp(effect))
            if disp == "over"
            else np.round(base * 4 * size)
        )
        den = size.astype(float)
    return pd.DataFrame({"group": _units(n), "numerator": events.astype(float), "denominator": den})


def _pr_phi(table: pd.DataFrame, trim: float = 0.1) -> float:
    """FunnelPlotR's phi for a PR table (Winsorised arcsine z-scores), to search for a design."""
    o, n = table["numerator"].to_numpy(), table["denominator"].to_numpy()
    z = (np.arcsin(np.sqrt(o / n)) - np.arcsin(np.sqrt(o.sum() / n.sum()))) * 2 * np.sqrt(n)
    w = np.clip(z, np.quantile(z, trim), np.quantile(z, 1 - trim))
    return float(np.mean(w**2))


def _phi_near_one(rng: np.random.Generator) -> pd.DataFrame:
    """A PR design with (N - 1) / N <= phi <= 1: tau2 > 0, yet no adjustment (phi <= 1)."""
    while True:
        table = _design(rng, "PR", 30, "small", "over", 0.2, sd=0.0)
        if 29 / 30 + 0.002 < _pr_phi(table) < 0.998:
            return table


def _record_level(rng: np.random.Generator) -> pd.DataFrame:
    """Patient-level 0/1 outcomes for 25 therapists (summed by group in both packages)."""
    sizes = rng.integers(3, 80, 25)
    rates = 1 / (1 + np.exp(-(np.log(0.1 / 0.9) + rng.normal(0, 0.5, 25))))
    rows = [
        pd.DataFrame(
            {"group": f"t{j:02d}", "numerator": rng.binomial(1, rates[j], size), "denominator": 1.0}
        )
        for j, size in enumerate(sizes)
    ]
    table = pd.concat(rows, ignore_index=True)
    return table.sample(frac=1, random_state=7).reset_index(drop=True)


def main() -> None:
    rng = np.random.default_rng(SEED)
    designs: dict[str, pd.DataFrame] = {}
    calls: list[dict[str, object]] = []

    def add(
        design: str,
        data_type: str,
        sr_method: str = "SHMI",
        *,
        trims=(0.1,),
        adjust=(True, False),
        limits=(99,),
    ) -> None:
        for trim in trims:
            for od in adjust:
                for limit in limits:
                    call = (
                        f"{design}__{data_type}{'_' + sr_method if data_type == 'SR' else ''}"
                        f"__t{trim:g}__{'od' if od else 'noadj'}__l{limit}"
                    )
                    calls.append(
                        dict(
                            call=call,
                            design=design,
                            data_type=data_type,
                            sr_method=sr_method,
                            od_adjust=od,
                            trim_by=trim,
                            limit=limit,
                        )
                    )

    # Named designs
    designs["pr_over"] = _design(rng, "PR", 60, "small", "over", 0.2)
    add("pr_over", "PR", trims=(0.1, 0.05), limits=(99, 95))
    designs["pr_under"] = _design(rng, "PR", 40, "large", "under", 0.15)
    add("pr_under", "PR", trims=(0.1, 0.05))
    designs["pr_lowp"] = _design(rng, "PR", 80, "large", "over", 0.01, sd=1.0)
    designs["pr_lowp"].loc[designs["pr_lowp"].index[-1], ["numerator", "denominator"]] = (0, 25_000)
    add("pr_lowp", "PR", limits=(99, 95))
    designs["sr_over"] = _design(rng, "SR_SHMI", 120, "large", "over", 0.1)
    add("sr_over", "SR", "SHMI", trims=(0.1, 0.05), limits=(99, 95))
    add("sr_over", "SR", "CQC", trims=(0.1, 0.05), limits=(99, 95))
    designs["sr_under"] = _design(rng, "SR_SHMI", 50, "small", "under", 0.1)
    add("sr_under", "SR", "SHMI")
    add("sr_under", "SR", "CQC")
    designs["rc_over"] = _design(rng, "RC", 70, "small", "over", 0.25)
    add("rc_over", "RC", trims=(0.1, 0.05), limits=(99, 95))
    designs["rc_under"] = _design(rng, "RC", 30, "large", "under", 0.3)
    add("rc_under", "RC")
    designs["pr_phi_near_one"] = _phi_near_one(np.random.default_rng(SEED + 1))
    add("pr_phi_near_one", "PR")
    designs["records"] = _record_level(rng)
    add("records", "PR", limits=(99, 95))
    add("records", "RC")

    # Random designs
    number = 0
    for size in (5, 12, 30, 100, 400, 1500, 5000):
        for dens in ("small", "large"):
            for disp in ("over", "under"):
                if size == 5000 and disp == "under":
                    continue
                number += 1
                kind = KINDS[(number + number // 4) % 4]  # rotate over the 4 cells of each size
                base = float(rng.uniform(0.03, 0.4))
                name = f"r{number:02d}_{kind.lower()}_n{size}_{dens}_{disp}"
                designs[name] = _design(rng, kind, size, dens, disp, base)
                data_type, _, method = kind.partition("_")
                trim = (0.1, 0.05)[number % 2]
                limit = (99, 95)[(number // 2) % 2]
                adjust = (True,) if size >= 1500 else (True, False)  # keeps the files small
                add(
                    name, data_type, method or "SHMI", trims=(trim,), limits=(limit,), adjust=adjust
                )

    folder = OUT / "designs"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.csv"):  # designs of an earlier run
        old.unlink()
    for name, table in designs.items():
        table.to_csv(folder / f"{name}.csv", index=False, float_format="%.17g")
    pd.DataFrame(calls).to_csv(OUT / "calls.csv", index=False)
    print(f"{len(designs)} designs, {len(calls)} calls -> {OUT}")


if __name__ == "__main__":
    main()
