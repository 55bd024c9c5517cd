"""Generate the randomised designs for the clinicalsignificance differential references.

Deterministic (fixed seeds): running it again rewrites identical files. Writes one long CSV per
design (``patient, time, score`` and, where the design has one, ``group``; missing score = empty
field) to ``tests/refs/clinicalsignificance_random/data/`` plus ``designs.json``, the parameters
that ``cs_random_designs.R`` turns into clinicalsignificance calls.

    python tests/refs/scripts/cs_random_designs.py
    R_LIBS=<library with clinicalsignificance 3.0.0> Rscript tests/refs/scripts/cs_random_designs.R

Designs vary the number of patients (10 to 2,000), the scale (integer questionnaire totals,
an item mean in steps of 0.25, a continuous T score), the direction (lower or higher is better),
the coding of the occasions (1/2, 0/1, "pre"/"post", two of five waves), missing pre or post
scores (as missing values and, in two designs, as absent rows), groups, ties, scores of 0 at
baseline (percentage change) and patients exactly at the cut-offs: in the ``exact_*`` designs the
pre scores are drawn until their mean and SD (n - 1) are integers, so clinicalsignificance's
cut-offs a, b and c are exact integers, and some post scores are set to exactly those values.
Three multi-wave designs serve the HLM method.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "clinicalsignificance_random" / "data"

#: name -> (min, max, step) of a scale
SCALES: dict[str, tuple[float, float, float]] = {
    "phq9": (0, 27, 1), "gad7": (0, 21, 1), "wemwbs": (14, 70, 1), "bdi": (0, 63, 1),
    "core10": (0, 40, 1), "item_mean": (0, 4, 0.25), "tscore": (20, 90, 0.1), "sdq": (0, 40, 1),
}


def _on_scale(x: np.ndarray, scale: str) -> np.ndarray:
    low, high, step = SCALES[scale]
    out = np.clip(np.round(x / step) * step, low, high)
    return np.round(out, 2) if step < 1 else out


def _pre_post(rng: np.random.Generator, n: int, scale: str, better: str, m_pre: float,
              sd_pre: float, effect: float, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Pre scores around ``m_pre``; post = pre improved by ``effect`` SDs on average, with noise."""
    sign = -1 if better == "lower" else 1
    pre = rng.normal(m_pre, sd_pre, n)
    post = pre + sign * effect * sd_pre * rng.gamma(2.0, 0.5, n) + rng.normal(0, noise * sd_pre, n)
    return _on_scale(pre, scale), _on_scale(post, scale)


def _long(pre: np.ndarray, post: np.ndarray, times: tuple[Any, Any],
          group: np.ndarray | None = None) -> pd.DataFrame:
    n = len(pre)
    frame = pd.DataFrame({
        "patient": np.repeat(np.arange(1, n + 1), 2),
        "time": np.tile(np.array(times, dtype=object), n),
        "score": np.column_stack([pre, post]).ravel(),
    })
    if group is not None:
        frame["group"] = np.repeat(group, 2)
    return frame


def _blank(rng: np.random.Generator, frame: pd.DataFrame, share_pre: float,
           share_post: float, times: tuple[Any, Any]) -> pd.DataFrame:
    """Set a share of pre and of post scores to missing (never both of one patient)."""
    frame = frame.copy()
    patients = frame["patient"].unique()
    k_pre = round(share_pre * len(patients))
    k_post = round(share_post * len(patients))
    chosen = rng.choice(patients, size=k_pre + k_post, replace=False)
    for ids, t in ((chosen[:k_pre], times[0]), (chosen[k_pre:], times[1])):
        frame.loc[frame["patient"].isin(ids) & (frame["time"] == t), "score"] = np.nan
    return frame


def _exact_pre(rng: np.random.Generator, n: int, scale: str, m: float, s: float) -> np.ndarray:
    """Integer pre scores whose mean and SD (n - 1) are integers (exact cut-offs)."""
    low, high, _ = SCALES[scale]
    for _ in range(200_000):
        x = np.clip(np.round(rng.normal(m, s, n)), low + 1, high - 1)
        excess = int(x.sum()) % n  # make the sum divisible by n
        x[np.argsort(-x)[:excess]] -= 1
        mean = x.sum() / n
        ss = float(((x - mean) ** 2).sum())
        if ss % (n - 1):
            continue
        var = ss / (n - 1)
        root = math.isqrt(int(var))
        if root * root == var and root > 0:
            return x
    raise RuntimeError("no exact design found")


def designs() -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, Any]]]:
    data: dict[str, pd.DataFrame] = {}
    meta: dict[str, dict[str, Any]] = {}

    def add(name: str, frame: pd.DataFrame, **params: Any) -> None:
        data[name] = frame
        meta[name] = params

    # --- two-wave designs -------------------------------------------------------------------
    specs = [
        # name, seed, n, scale, better, times, (m, sd, effect, noise), missing pre/post,
        # reliability, functional norms, groups
        ("d01_phq9_n10", 101, 10, "phq9", "lower", (1, 2), (17, 4, 0.8, 0.6), (0, 0), 0.84,
         (5, 4), None),
        ("d02_gad7_n12", 102, 12, "gad7", "lower", (0, 1), (14, 3.5, 0.7, 0.7), (1 / 12, 1 / 12),
         0.85, None, None),
        ("d03_wemwbs_n25_grp", 103, 25, "wemwbs", "higher", (1, 2), (38, 7, 0.6, 0.7),
         (0.08, 0.08), 0.89, (51, 7), ["TAU", "CBT"]),
        ("d04_bdi_n40_prepost", 104, 40, "bdi", "lower", ("pre", "post"), (30, 8, 0.9, 0.8),
         (0.05, 0.05), 0.90, (7.69, 7.52), None),
        ("d05_tscore_n60_grp3", 105, 60, "tscore", "lower", (1, 2), (65, 8, 0.5, 0.8),
         (0.05, 0.0), 0.80, (50, 10), ["A", "B", "C"]),
        ("d06_itemmean_n100_higher", 106, 100, "item_mean", "higher", (1, 2),
         (1.6, 0.6, 0.5, 0.9), (0.0, 0.06), 0.75, (2.8, 0.6), None),
        ("d08_phq9_n300_grp", 108, 300, "phq9", "lower", (1, 2), (16, 4.5, 0.7, 0.8),
         (0.1, 0.1), 0.84, (3.5, 3.5), ["waitlist", "therapy"]),
        ("d09_sdq_n500_higher_nonorms", 109, 500, "sdq", "higher", (1, 2), (18, 6, 0.3, 1.0),
         (0.03, 0.07), 0.70, None, None),
        ("d10_phq9_n2000", 110, 2000, "phq9", "lower", (1, 2), (15, 5, 0.6, 0.8),
         (0.05, 0.05), 0.84, (4, 4), None),
    ]
    for name, seed, n, scale, better, times, (m, s, eff, noise), (mp, mq), r, func, groups in specs:
        rng = np.random.default_rng(seed)
        pre, post = _pre_post(rng, n, scale, better, m, s, eff, noise)
        grp = None if groups is None else np.array(groups, dtype=object)[
            rng.integers(0, len(groups), n)]
        frame = _blank(rng, _long(pre, post, times, grp), mp, mq, times)
        add(name, frame, pre=times[0], post=times[1], better=better, reliability=r,
            functional=func, group=groups is not None, scale=scale, n=n,
            anchor_mid=_mid(scale))

    # d07: five waves in the data, pre = 2 and post = 5 compared
    rng = np.random.default_rng(107)
    n = 150
    base = rng.normal(24, 6, n)
    waves = [_on_scale(base - 2.0 * k * rng.gamma(2, 0.5, n) + rng.normal(0, 4, n), "core10")
             for k in range(5)]
    frame = pd.DataFrame({
        "patient": np.repeat(np.arange(1, n + 1), 5), "time": np.tile(np.arange(1, 6), n),
        "score": np.column_stack(waves).ravel(),
    })
    frame = _blank(rng, frame, 0.04, 0.04, (2, 5))
    add("d07_core10_n150_waves2to5", frame, pre=2, post=5, better="lower", reliability=0.9,
        functional=(5, 5), group=False, scale="core10", n=n, anchor_mid=_mid("core10"))

    # exact cut-offs (lower and higher is better)
    for name, seed, n, scale, better, m, s, r in (
        ("e11_exact_phq9_n31", 111, 31, "phq9", "lower", 16, 4, 0.84),
        ("e12_exact_wemwbs_n45_higher", 112, 45, "wemwbs", "higher", 38, 7, 0.89),
    ):
        rng = np.random.default_rng(seed)
        pre = _exact_pre(rng, n, scale, m, s)
        mc, sc = pre.mean(), pre.std(ddof=1)
        d = -1 if better == "lower" else 1
        # functional SD = clinical SD and a mean of the same parity: cut-off c is an integer
        mf = mc + d * 2 * sc + d * 2  # beyond cut-off a
        a = mc + d * 2 * sc
        b_r = mf - d * 2 * sc  # clinicalsignificance's b (clinical SD)
        c = (sc * mf + sc * mc) / (2 * sc)
        post = _on_scale(pre + d * rng.normal(0.8 * sc, 0.8 * sc, n), scale)
        at = np.array([a, a, b_r, c, c, c, a, b_r])  # some post scores exactly at a cut-off
        post[1: 1 + len(at)] = at
        post[12] = pre[12]  # no change
        frame = _long(pre, post, (1, 2))
        add(name, frame, pre=1, post=2, better=better, reliability=r,
            functional=(float(mf), float(sc)), group=False, scale=scale, n=n,
            anchor_mid=_mid(scale), cutoffs={"a": a, "b_clinical_sd": b_r, "c": c})

    # baseline scores of 0 (percentage change divides by the pre score)
    rng = np.random.default_rng(113)
    n = 50
    pre, post = _pre_post(rng, n, "phq9", "lower", 8, 5, 0.5, 0.9)
    pre[:6], post[:6] = 0, [0, 0, 3, 5, 1, 0]
    pre[6:9], post[6:9] = [4, 10, 20], [2, 12, 10]  # exactly -50 %, +20 %, -50 %
    add("z13_phq9_n50_zero_baseline", _long(pre, post, (1, 2)), pre=1, post=2, better="lower",
        reliability=0.8, functional=None, group=False, scale="phq9", n=n,
        anchor_mid=_mid("phq9"))
    rng = np.random.default_rng(114)
    pre, post = _pre_post(rng, n, "wemwbs", "higher", 35, 7, 0.5, 0.9)
    pre[:3], post[:3] = [20, 30, 40], [30, 24, 60]  # exactly +50 %, -20 %, +50 %
    add("z14_wemwbs_n50_higher_exact_pct", _long(pre, post, (1, 2)), pre=1, post=2,
        better="higher", reliability=0.89, functional=(51, 7), group=False, scale="wemwbs",
        n=n, anchor_mid=_mid("wemwbs"))

    # absent rows instead of missing values
    for name, seed, first_incomplete in (("r15_phq9_n80_rows_absent", 115, False),
                                         ("r16_phq9_n80_first_patient_no_pre_row", 116, True)):
        rng = np.random.default_rng(seed)
        pre, post = _pre_post(rng, 80, "phq9", "lower", 16, 4.5, 0.7, 0.8)
        frame = _long(pre, post, (1, 2))
        drop = rng.choice(np.arange(2, 81), size=8, replace=False)
        mask = frame["patient"].isin(drop[:4]) & (frame["time"] == 1)
        mask |= frame["patient"].isin(drop[4:]) & (frame["time"] == 2)
        if first_incomplete:
            mask |= (frame["patient"] == 1) & (frame["time"] == 1)
        add(name, frame.loc[~mask].reset_index(drop=True), pre=1, post=2, better="lower",
            reliability=0.84, functional=(4, 4), group=False, scale="phq9", n=80,
            anchor_mid=_mid("phq9"))

    # --- multi-wave designs for HLM ---------------------------------------------------------
    for name, seed, n, times, scale, better, miss, func in (
        ("h01_phq9_n120_4waves", 201, 120, (1, 2, 3, 4), "phq9", "lower", 0.03, (4, 4)),
        ("h02_wemwbs_n60_5waves_higher", 202, 60, (0, 1, 2, 3, 4), "wemwbs", "higher", 0.0,
         (51, 7)),
        ("h03_bdi_n40_uneven", 203, 40, (0, 2, 6), "bdi", "lower", 0.06, (7.69, 7.52)),
    ):
        rng = np.random.default_rng(seed)
        sign = -1 if better == "lower" else 1
        lo, hi, _ = SCALES[scale]
        centre = (lo + hi) / 2 - sign * (hi - lo) / 8
        intercept = rng.normal(centre, (hi - lo) / 10, n)
        slope = sign * rng.normal((hi - lo) / 40, (hi - lo) / 50, n)
        t = np.array(times, dtype=float)
        y = intercept[:, None] + slope[:, None] * t[None, :] + rng.normal(0, (hi - lo) / 20,
                                                                          (n, len(t)))
        frame = pd.DataFrame({
            "patient": np.repeat(np.arange(1, n + 1), len(t)),
            "time": np.tile(np.array(times), n),
            "score": _on_scale(y, scale).ravel(),
        })
        k = round(miss * len(frame))
        if k:
            frame.loc[rng.choice(len(frame), size=k, replace=False), "score"] = np.nan
        add(name, frame, better=better, functional=func, group=False, scale=scale, n=n,
            hlm=True, times=list(times))
    return data, meta


def _mid(scale: str) -> dict[str, float]:
    """Anchor-based minimal important differences (points) used for a scale."""
    return {"phq9": {"improvement": 5, "deterioration": 3}, "gad7": {"improvement": 4},
            "wemwbs": {"improvement": 3, "deterioration": 3}, "bdi": {"improvement": 6},
            "core10": {"improvement": 5, "deterioration": 2}, "item_mean": {"improvement": 0.5},
            "tscore": {"improvement": 5, "deterioration": 2.5},
            "sdq": {"improvement": 4, "deterioration": 4}}[scale]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    data, meta = designs()
    for name, frame in data.items():
        frame.to_csv(OUT / f"{name}.csv", index=False, na_rep="")
    (OUT / "designs.json").write_text(json.dumps(meta, indent=1, default=float) + "\n")
    print(f"{len(data)} designs written to {OUT}")


if __name__ == "__main__":
    main()
