"""Randomised designs for the differential test of ``fit_growth`` against lme4.

Run ``python tests/refs/scripts/growth_designs.py`` (from the repository root). It writes

* ``tests/refs/lme4_designs/designs.json``: one entry per design, with its ``id``, ``seed``, the
  model in ``fit_growth``'s keyword terms (``time_transform``, ``knot``, ``random``, ``method``,
  ``covariates``, ``time_interactions``, ``cluster``), the columns of the data file, and a
  description of the truth that generated the data;
* ``tests/refs/lme4_designs/data/<id>.csv.gz``: the data (columns ``patient``, ``session``,
  ``score``, covariate columns, ``therapist`` when the design has therapists). Scores and numeric
  covariates are rounded to 4 decimals, so R and Python read identical numbers. A missing score
  is an empty field (read as NA by R and NaN by pandas; both drop the row).

The output is deterministic: every design has its own fixed seed (numpy ``default_rng``) and the
gzip files carry no time stamp. Then run ``Rscript tests/refs/scripts/lme4_designs.R`` to fit every
design with lme4 (see ``tests/refs/lme4_designs/README.md``).

Design families (the ``family`` field): balanced schedules from 0 and from 1, dropout and
intermittent missing sessions, unbalanced schedules sampled from 1..24, all five time transforms,
0 to 3 patient-level covariates (numeric; dummy-coded categorical with 2 or 3 levels) with and
without their interactions with time, unmodelled therapist effects that inflate the intercept
variance, fitted three-level models (``cluster="therapist"``), random intercept and random slope,
REML and ML, near-singular truths (tiny slope variance, correlation near +-1) and singular truths
(zero slope, intercept or therapist variance), raw session numbers, days and weeks, 10 to 5,000
patients. The designs known to defeat the optimiser of the engine before its rewrite are included
explicitly (family ``known_failure``).
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1] / "lme4_designs"
BASE_SEED = 20261203

# Covariates: name -> how it is generated (patient level).
COVARIATES = {
    # baseline severity, raw scale (not centred): correlated with the intercept column
    "intake": {"kind": "numeric", "draw": lambda rng, n: np.round(rng.normal(15, 4, n), 4)},
    "age": {"kind": "numeric", "draw": lambda rng, n: rng.integers(18, 76, n).astype(float)},
    "female": {"kind": "numeric", "draw": lambda rng, n: rng.integers(0, 2, n).astype(float)},
    # text levels; sorted, the first ("cbt" / "north") is the reference
    "arm": {"kind": "categorical", "levels": ["control", "cbt", "medication"]},
    "site": {"kind": "categorical", "levels": ["south", "north"]},
}

# Default truth by time transform: fixed time effects and SD of the random slope (per unit of
# the transformed time term).
TIME_TRUTH = {
    "linear": {"beta": [-0.4], "sd1": 0.3},
    "log": {"beta": [-3.0], "sd1": 1.5},
    "log1p": {"beta": [-3.5], "sd1": 1.5},
    "quadratic": {"beta": [-0.9, 0.035], "sd1": 0.3},
    "piecewise": {"beta": [-1.0, 0.8], "sd1": 0.3},
}


# ------------------------------------------------------------------------------------------------
# Schedules: the observed times of every patient
# ------------------------------------------------------------------------------------------------


def schedule(rng: np.random.Generator, n: int, spec: dict) -> list[np.ndarray]:
    kind = spec["kind"]
    out: list[np.ndarray] = []
    if kind == "balanced":
        times = spec["start"] + spec.get("step", 1) * np.arange(spec["sessions"])
        out = [times.astype(float) for _ in range(n)]
    elif kind == "sample":  # n_i sessions sampled without replacement from lo..hi
        lo, hi = spec["range"]
        pool = np.arange(lo, hi + 1)
        for _ in range(n):
            k = int(rng.integers(spec["min"], spec["max"] + 1))
            out.append(np.sort(rng.choice(pool, size=k, replace=False)).astype(float))
    elif kind == "dropout":  # balanced schedule cut at a random last session (>= min kept)
        times = spec["start"] + np.arange(spec["sessions"])
        for _ in range(n):
            keep = spec["sessions"]
            if rng.random() < spec["p"]:
                keep = int(rng.integers(spec.get("min", 1), spec["sessions"] + 1))
            out.append(times[:keep].astype(float))
    elif kind == "days":  # intake day 0, then k visits on distinct days 1..max_day
        for _ in range(n):
            k = int(rng.integers(spec["min"], spec["max"] + 1))
            days = rng.choice(np.arange(1, spec["max_day"] + 1), size=k - 1, replace=False)
            out.append(np.r_[0.0, np.sort(days).astype(float)])
    elif kind == "weeks":  # weekly sessions with jitter, 2 decimals
        for _ in range(n):
            k = int(rng.integers(spec["min"], spec["max"] + 1))
            jitter = rng.uniform(-0.35, 0.35, k)
            jitter[0] = 0.0
            out.append(np.round(spec["start"] + np.arange(k) + jitter, 2))
    else:  # pragma: no cover
        raise ValueError(kind)
    return out


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------


def time_terms(t: np.ndarray, transform: str, knot: float | None) -> list[np.ndarray]:
    if transform == "linear":
        return [t]
    if transform == "log":
        return [np.log(t)]
    if transform == "log1p":
        return [np.log1p(t)]
    if transform == "quadratic":
        return [t, t * t]
    return [t, np.maximum(t - knot, 0.0)]


def simulate(design: dict) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(design["seed"])
    truth = design["truth"]
    n = design["n_patients"]
    times = schedule(rng, n, design["schedule"])
    # patient random effects
    sd0, sd1, rho = truth["sd_intercept"], truth["sd_slope"], truth["corr"]
    z = rng.standard_normal((n, 2))
    b0 = sd0 * z[:, 0]
    b1 = sd1 * (rho * z[:, 0] + np.sqrt(max(1.0 - rho * rho, 0.0)) * z[:, 1])
    # therapists (fitted as cluster= or unmodelled)
    n_ther = truth.get("n_therapists", 0)
    therapist = None
    c = np.zeros(n)
    if n_ther:
        assign = np.arange(n) % n_ther
        rng.shuffle(assign)
        effects = truth["sd_therapist"] * rng.standard_normal(n_ther)
        c = effects[assign]
        therapist = np.array([f"t{k + 1:03d}" for k in assign])
    # covariates and their effects on intercept and slope
    cov_values: dict[str, np.ndarray] = {}
    shift0 = np.zeros(n)
    shift1 = np.zeros(n)
    for name, eff in truth.get("covariate_effects", {}).items():
        gen = COVARIATES[name]
        if gen["kind"] == "numeric":
            x = gen["draw"](rng, n)
            cov_values[name] = x
            xc = x - x.mean()
            shift0 += eff["intercept"] * xc
            shift1 += eff["time"] * xc
        else:
            levels = gen["levels"][: eff.get("n_levels", len(gen["levels"]))]
            lv = rng.choice(np.array(levels), size=n)
            cov_values[name] = lv
            for j, level in enumerate(levels[1:], start=1):
                shift0 += eff["intercept"] * j * (lv == level)
                shift1 += eff["time"] * j * (lv == level)
    transform, knot = design["time_transform"], design["knot"]
    sizes = np.array([len(tt) for tt in times])
    pid = np.repeat(np.arange(n), sizes)
    t = np.concatenate(times)
    # the truth's time terms (defaults to the fitted transform)
    true_transform = truth.get("transform", transform)
    terms = time_terms(t, true_transform, truth.get("knot", knot))
    beta_t = truth["beta_time"]
    mean = truth["intercept"] + shift0[pid] + c[pid] + b0[pid]
    mean = mean + (beta_t[0] + shift1[pid] + b1[pid]) * terms[0]
    for coef, term in zip(beta_t[1:], terms[1:], strict=True):
        mean = mean + coef * term
    y = np.round(mean + truth["sigma"] * rng.standard_normal(len(t)), 4)
    # intermittent missing scores (row kept, score empty)
    p_missing = design.get("p_missing_score", 0.0)
    if p_missing:
        y[rng.random(len(y)) < p_missing] = np.nan
    patient_ids = np.arange(1, n + 1) + design.get("id_offset", 0)
    frame = pd.DataFrame({"patient": patient_ids[pid], "session": t, "score": y})
    for name, x in cov_values.items():
        frame[name] = x[pid]
    if therapist is not None:
        frame["therapist"] = therapist[pid]
    if design.get("shuffle_rows"):
        frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    summary = {
        "n_rows": len(frame),
        "n_scored": int(np.isfinite(y).sum()),
        "sessions_per_patient_min": int(sizes.min()),
        "sessions_per_patient_max": int(sizes.max()),
        "time_min": float(t.min()),
        "time_max": float(t.max()),
    }
    return frame, summary


def write_csv_gz(frame: pd.DataFrame, path: Path) -> None:
    text = frame.to_csv(index=False, na_rep="", float_format="%.10g", lineterminator="\n")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("ascii"))
    path.write_bytes(buf.getvalue())


# ------------------------------------------------------------------------------------------------
# The designs
# ------------------------------------------------------------------------------------------------


def truth_for(transform: str, **over) -> dict:
    base = TIME_TRUTH[transform]
    truth = {
        "intercept": 20.0,
        "beta_time": list(base["beta"]),
        "sd_intercept": 4.0,
        "sd_slope": base["sd1"],
        "corr": -0.3,
        "sigma": 3.0,
    }
    truth.update(over)
    return truth


def designs() -> list[dict]:
    out: list[dict] = []

    def add(family, stub, *, n, schedule, transform="linear", knot=None, random="slope",
            method="REML", covariates=(), time_interactions=True, cluster=None, truth=None,
            note="", **extra):
        truth = truth or truth_for(transform)
        covs = list(covariates)
        out.append({
            "family": family,
            "stub": stub,
            "n_patients": n,
            "schedule": schedule,
            "time_transform": transform,
            "knot": knot,
            "random": random,
            "method": method,
            "covariates": covs,
            "time_interactions": time_interactions,
            "cluster": cluster,
            "truth": truth,
            "note": note,
            **extra,
        })

    def cov_effects(*names, intercept=1.0, time=-0.1, n_levels=None):
        eff = {}
        for name in names:
            e = {"intercept": intercept, "time": time}
            if n_levels and COVARIATES[name]["kind"] == "categorical":
                e["n_levels"] = n_levels
            eff[name] = e
        return eff

    bal0 = lambda s: {"kind": "balanced", "start": 0, "sessions": s}  # noqa: E731
    bal1 = lambda s: {"kind": "balanced", "start": 1, "sessions": s}  # noqa: E731
    samp = lambda lo, hi, mn, mx: {  # noqa: E731
        "kind": "sample", "range": [lo, hi], "min": mn, "max": mx}

    # --- known failures of the engine before the optimiser rewrite ---------------------------
    # (a): the engine stopped at a singular point (slope variance 0) with a criterion ~500 too
    # high for slope SDs of this size (theta ~0.25) on most seeds
    t = truth_for("log", n_therapists=60, sd_therapist=2.5, sd_slope=0.8,
                  covariate_effects=cov_effects("intake", intercept=0.6, time=-0.08))
    add("known_failure", "a_log_unbalanced_therapist_5000", n=5000, schedule=samp(1, 24, 3, 20),
        transform="log", covariates=["intake"], truth=t,
        note="(a) unbalanced 3-20 sessions from 1..24, intake and intake:log(time), unmodelled "
             "therapist effect, log, random slope (6000 patients in the report)")
    for n in (300, 1500):
        add("known_failure", f"a_log_unbalanced_therapist_{n}", n=n,
            schedule=samp(1, 24, 3, 20), transform="log", covariates=["intake"], truth=t,
            note="(a) at a smaller size")
    t = truth_for("log", n_therapists=60, sd_therapist=2.5, sd_slope=1.5,
                  covariate_effects=cov_effects("intake", intercept=0.6, time=-0.08))
    add("known_failure", "a_log_unbalanced_therapist_5000_sd1.5", n=5000,
        schedule=samp(1, 24, 3, 20), transform="log", covariates=["intake"], truth=t,
        note="(a) with a larger slope SD")
    # (b): slope SD 1 against a residual SD 3 (theta ~0.3): the engine stopped at theta_slope = 0
    t = truth_for("linear", sd_slope=1.0, corr=-0.3)
    add("known_failure", "b_4waves_1to4_5000", n=5000,
        schedule=bal1(4), transform="linear", truth=t, p_missing_score=0.03,
        note="(b) 4 waves at times 1..4, 3% missing, linear random slope, REML (10,000 "
             "patients in the report)")
    for n in (100, 400, 1000):
        add("known_failure", f"b_4waves_1to4_{n}", n=n, schedule=bal1(4), truth=t,
            p_missing_score=0.03, note="(b) at a smaller size")
    add("known_failure", "b_4waves_1to4_1000_ML", n=1000, schedule=bal1(4), truth=t,
        method="ML", p_missing_score=0.03, note="(b), ML")
    add("known_failure", "b_4waves_1to4_5000_sd0.5", n=5000, schedule=bal1(4),
        truth=truth_for("linear", sd_slope=0.5, corr=-0.2), p_missing_score=0.03,
        note="(b) with a smaller slope SD")
    add("known_failure", "c_raw_linear_1to24_unbalanced_2000", n=2000, schedule=samp(1, 24, 2, 20),
        truth=truth_for("linear", sd_slope=0.15),
        note="(c) raw linear session numbers 1..24, unbalanced")
    for n, mn, mx in [(40, 3, 12), (150, 2, 20), (600, 3, 20)]:
        add("known_failure", f"c_raw_linear_1to24_unbalanced_{n}", n=n,
            schedule=samp(1, 24, mn, mx), truth=truth_for("linear", sd_slope=0.15),
            note="(c) at a smaller size")
    add("known_failure", "c_raw_linear_1to24_unbalanced_600_ML", n=600, schedule=samp(1, 24, 3, 20),
        truth=truth_for("linear", sd_slope=0.15), method="ML", note="(c), ML")

    # --- balanced, linear, from 0 ------------------------------------------------------------
    grid = [(10, 5, "slope", "REML"), (10, 20, "slope", "ML"), (25, 3, "slope", "REML"),
            (25, 8, "intercept", "ML"), (60, 6, "slope", "ML"), (60, 2, "intercept", "REML"),
            (150, 12, "slope", "REML"), (150, 4, "intercept", "REML"), (400, 10, "slope", "ML"),
            (1000, 6, "slope", "REML"), (30, 20, "intercept", "REML"), (80, 3, "slope", "ML")]
    for n, s, random, method in grid:
        add("balanced_linear_0", f"n{n}_s{s}_{random}_{method}", n=n, schedule=bal0(s),
            random=random, method=method)

    # --- balanced from 1, and few-wave designs -----------------------------------------------
    for n, s, random, method, pm in [
        (50, 4, "slope", "REML", 0.0), (200, 4, "slope", "ML", 0.03),
        (30, 5, "slope", "REML", 0.1), (500, 3, "slope", "REML", 0.0),
        (120, 4, "intercept", "ML", 0.03), (60, 8, "slope", "REML", 0.2),
    ]:
        add("balanced_linear_1", f"n{n}_s{s}_{random}_{method}_miss{int(pm * 100)}", n=n,
            schedule=bal1(s), random=random, method=method, p_missing_score=pm,
            truth=truth_for("linear", sd_slope=0.5, corr=-0.2))

    # --- dropout -----------------------------------------------------------------------------
    for n, s, transform, random, method in [(100, 8, "linear", "slope", "REML"),
                                            (300, 12, "log1p", "slope", "ML"),
                                            (40, 6, "linear", "intercept", "REML"),
                                            (800, 10, "quadratic", "slope", "REML"),
                                            (200, 10, "piecewise", "slope", "ML")]:
        knot = 4.0 if transform == "piecewise" else None
        add("dropout", f"{transform}_n{n}_s{s}_{random}_{method}", n=n, transform=transform,
            knot=knot, schedule={"kind": "dropout", "start": 0, "sessions": s, "p": 0.6, "min": 1},
            random=random, method=method, p_missing_score=0.05,
            truth=truth_for(transform, knot=knot) if knot else None)

    # --- unbalanced from 1..24, raw linear ---------------------------------------------------
    for n, mn, mx, random, method in [(20, 2, 6, "slope", "REML"), (75, 2, 24, "slope", "ML"),
                                      (250, 4, 10, "intercept", "REML"),
                                      (1000, 2, 8, "slope", "REML")]:
        add("unbalanced_linear", f"n{n}_k{mn}to{mx}_{random}_{method}", n=n,
            schedule=samp(1, 24, mn, mx), random=random, method=method, shuffle_rows=True,
            truth=truth_for("linear", sd_slope=0.2, corr=0.3))

    # --- log -----------------------------------------------------------------------------
    for n, sch, random, method, covs in [
        (30, bal1(6), "slope", "REML", []), (120, bal1(4), "slope", "ML", []),
        (200, samp(1, 24, 3, 20), "slope", "REML", ["age"]),
        (500, samp(1, 24, 2, 12), "slope", "ML", ["intake"]),
        (80, samp(1, 12, 2, 12), "intercept", "REML", ["arm"]),
        (2500, samp(1, 24, 3, 16), "slope", "REML", ["intake", "site"]),
        (60, bal1(12), "slope", "ML", ["female"]),
    ]:
        t = truth_for("log", covariate_effects=cov_effects(*covs, intercept=0.5, time=-0.2))
        add("log", f"n{n}_{sch['kind']}_{random}_{method}_{len(covs)}cov", n=n, schedule=sch,
            transform="log", random=random, method=method, covariates=covs, truth=t)

    # --- log1p ---------------------------------------------------------------------------
    for n, sch, random, method, covs, inter in [
        (15, bal0(10), "slope", "REML", [], True), (100, bal0(4), "slope", "ML", [], True),
        (250, samp(0, 23, 3, 15), "slope", "REML", ["intake"], False),
        (700, bal0(12), "slope", "REML", ["arm"], True),
        (50, samp(0, 23, 2, 8), "intercept", "ML", [], True),
        (3000, samp(0, 20, 4, 12), "slope", "ML", ["arm", "age"], True),
    ]:
        t = truth_for("log1p", covariate_effects=cov_effects(*covs, intercept=0.8, time=-0.3))
        add("log1p", f"n{n}_{sch['kind']}_{random}_{method}_{len(covs)}cov", n=n, schedule=sch,
            transform="log1p", random=random, method=method, covariates=covs,
            time_interactions=inter, truth=t)

    # --- quadratic -----------------------------------------------------------------------
    for n, sch, random, method, covs in [
        (20, bal0(8), "slope", "REML", []), (90, bal1(10), "slope", "ML", []),
        (300, samp(1, 24, 3, 20), "slope", "REML", []),
        (150, samp(0, 15, 4, 10), "intercept", "REML", ["intake"]),
        (600, bal0(6), "slope", "ML", ["site"]),
        (45, samp(1, 24, 5, 18), "slope", "REML", ["female", "age"]),
    ]:
        t = truth_for("quadratic", covariate_effects=cov_effects(*covs, intercept=0.4, time=-0.05))
        add("quadratic", f"n{n}_{sch['kind']}_{random}_{method}_{len(covs)}cov", n=n,
            schedule=sch, transform="quadratic", random=random, method=method, covariates=covs,
            truth=t)

    # --- piecewise -----------------------------------------------------------------------
    for n, sch, knot, random, method, covs in [
        (25, bal0(10), 4.0, "slope", "REML", []), (120, bal1(12), 6.0, "slope", "ML", []),
        (300, samp(1, 24, 4, 20), 8.5, "slope", "REML", []),
        (200, bal0(8), 3.0, "intercept", "ML", ["arm"]),
        (500, samp(0, 16, 3, 12), 5.0, "slope", "REML", ["intake"]),
        (70, bal0(6), 2.0, "slope", "REML", ["site"]),
    ]:
        t = truth_for("piecewise", knot=knot,
                      covariate_effects=cov_effects(*covs, intercept=0.5, time=-0.1))
        add("piecewise", f"n{n}_{sch['kind']}_knot{knot:g}_{random}_{method}_{len(covs)}cov",
            n=n, schedule=sch, transform="piecewise", knot=knot, random=random, method=method,
            covariates=covs, truth=t)

    # --- covariates (numeric and categorical, with and without time interactions) -----------
    specs = [
        ("linear", ["intake"], True, "slope", "REML", bal0(6), 80),
        ("linear", ["intake"], False, "slope", "ML", bal0(6), 80),
        ("linear", ["arm"], True, "slope", "REML", samp(1, 24, 3, 12), 150),
        ("linear", ["arm", "intake"], False, "intercept", "REML", bal1(5), 100),
        ("linear", ["arm", "intake", "age"], True, "slope", "ML", samp(1, 24, 3, 15), 400),
        ("log1p", ["site", "female"], True, "slope", "REML", bal0(8), 60),
        ("log", ["arm", "intake", "female"], False, "slope", "REML", samp(1, 24, 2, 20), 250),
        ("quadratic", ["arm"], True, "slope", "ML", bal0(7), 120),
        ("piecewise", ["intake", "site"], True, "slope", "REML", bal0(9), 90),
        ("linear", ["age"], True, "intercept", "ML", samp(1, 24, 2, 10), 35),
    ]
    for transform, covs, inter, random, method, sch, n in specs:
        knot = 4.0 if transform == "piecewise" else None
        n_levels = 2 if covs == ["arm"] and transform == "quadratic" else None
        t = truth_for(transform, knot=knot,
                      covariate_effects=cov_effects(*covs, intercept=1.0, time=-0.15,
                                                    n_levels=n_levels))
        add("covariates", f"{transform}_{'_'.join(covs)}_{'x' if inter else 'main'}_{random}_"
            f"{method}", n=n, schedule=sch, transform=transform, knot=knot, random=random,
            method=method, covariates=covs, time_interactions=inter, truth=t)

    # --- unmodelled therapist effects (inflate the intercept variance) ------------------------
    for n, n_ther, sd_t, transform, sch, random, method in [
        (100, 5, 3.0, "linear", bal0(6), "slope", "REML"),
        (300, 20, 2.0, "log1p", samp(0, 23, 3, 12), "slope", "ML"),
        (600, 40, 4.0, "linear", samp(1, 24, 2, 20), "slope", "REML"),
        (200, 8, 5.0, "quadratic", bal1(8), "intercept", "REML"),
        (1200, 50, 2.5, "log", samp(1, 24, 3, 20), "slope", "REML"),
        (60, 3, 6.0, "piecewise", bal0(10), "slope", "ML"),
    ]:
        knot = 5.0 if transform == "piecewise" else None
        t = truth_for(transform, knot=knot, n_therapists=n_ther, sd_therapist=sd_t)
        add("therapist_unmodelled", f"{transform}_n{n}_t{n_ther}_{random}_{method}", n=n,
            schedule=sch, transform=transform, knot=knot, random=random, method=method, truth=t)

    # --- fitted three-level models (cluster="therapist") --------------------------------------
    for n, n_ther, sd_t, transform, sch, random, method, covs in [
        (60, 4, 3.0, "linear", bal0(5), "intercept", "REML", []),
        (200, 10, 2.0, "linear", bal0(6), "slope", "REML", []),
        (400, 25, 1.5, "log1p", samp(0, 23, 2, 12), "slope", "ML", []),
        (150, 15, 0.0, "linear", bal1(4), "slope", "REML", []),  # singular cluster
        (800, 40, 2.5, "log", samp(1, 24, 3, 20), "slope", "REML", ["intake"]),
        (120, 6, 4.0, "quadratic", bal0(8), "intercept", "ML", []),
        (300, 30, 0.3, "piecewise", bal0(10), "slope", "REML", ["site"]),
        (2000, 80, 2.0, "linear", samp(1, 24, 2, 16), "slope", "REML", []),
        (90, 9, 2.0, "log1p", bal0(6), "slope", "ML", ["arm"]),
        (40, 5, 0.0, "linear", bal0(4), "intercept", "ML", []),  # singular cluster
    ]:
        knot = 5.0 if transform == "piecewise" else None
        t = truth_for(transform, knot=knot, n_therapists=n_ther, sd_therapist=sd_t,
                      covariate_effects=cov_effects(*covs, intercept=0.6, time=-0.1))
        add("three_level", f"{transform}_n{n}_t{n_ther}_sd{sd_t:g}_{random}_{method}", n=n,
            schedule=sch, transform=transform, knot=knot, random=random, method=method,
            covariates=covs, cluster="therapist", truth=t)

    # --- near-singular truths -------------------------------------------------------------
    for transform, sch, n, sd1, rho, method in [
        ("linear", bal0(6), 100, 0.01, -0.3, "REML"),   # tiny slope variance
        ("linear", samp(1, 24, 3, 15), 300, 0.005, 0.0, "ML"),
        ("log1p", bal0(8), 150, 0.05, -0.3, "REML"),
        ("log", samp(1, 24, 3, 12), 200, 0.05, 0.2, "ML"),
        ("linear", bal0(8), 120, 0.5, -0.99, "REML"),  # correlation near -1
        ("linear", bal1(6), 200, 0.5, 0.99, "ML"),      # near +1
        ("log1p", samp(0, 23, 3, 12), 400, 1.5, -0.98, "REML"),
        ("quadratic", bal0(10), 100, 0.02, -0.3, "REML"),
        ("piecewise", bal0(10), 100, 0.02, 0.5, "ML"),
        ("log", bal1(5), 80, 1.5, 0.97, "REML"),
        ("linear", samp(1, 24, 2, 8), 1000, 0.02, -0.5, "REML"),
    ]:
        knot = 4.0 if transform == "piecewise" else None
        t = truth_for(transform, knot=knot, sd_slope=sd1, corr=rho)
        add("near_singular", f"{transform}_n{n}_sd1_{sd1:g}_rho{rho:g}_{method}", n=n,
            schedule=sch, transform=transform, knot=knot, method=method, truth=t)

    # --- singular truths ---------------------------------------------------------------------
    for transform, sch, n, sd0, sd1, random, method in [
        ("linear", bal0(5), 50, 4.0, 0.0, "slope", "REML"),     # zero slope variance
        ("linear", samp(1, 24, 3, 20), 200, 4.0, 0.0, "slope", "ML"),
        ("log", bal1(6), 100, 4.0, 0.0, "slope", "REML"),
        ("log1p", samp(0, 23, 2, 10), 300, 4.0, 0.0, "slope", "REML"),
        ("quadratic", bal0(6), 80, 4.0, 0.0, "slope", "ML"),
        ("piecewise", bal0(8), 60, 4.0, 0.0, "slope", "REML"),
        ("linear", bal0(4), 40, 0.0, 0.0, "intercept", "REML"),  # zero intercept variance
        ("linear", bal0(6), 40, 0.0, 0.3, "slope", "REML"),      # zero intercept, slope varies
        ("linear", bal1(4), 1000, 4.0, 0.0, "slope", "REML"),
        ("log1p", bal0(5), 30, 0.0, 0.0, "slope", "ML"),          # no random effects at all
    ]:
        knot = 4.0 if transform == "piecewise" else None
        t = truth_for(transform, knot=knot, sd_intercept=sd0, sd_slope=sd1, corr=0.0)
        add("singular", f"{transform}_n{n}_sd0_{sd0:g}_sd1_{sd1:g}_{random}_{method}", n=n,
            schedule=sch, transform=transform, knot=knot, random=random, method=method, truth=t)

    # --- time scales: days since intake, weeks with jitter -----------------------------------
    days = lambda mn, mx, md: {"kind": "days", "min": mn, "max": mx, "max_day": md}  # noqa: E731
    weeks = lambda st, mn, mx: {"kind": "weeks", "start": st, "min": mn, "max": mx}  # noqa: E731
    for stub, sch, n, transform, random, method, truth in [
        ("days_linear", days(3, 12, 180), 200, "linear", "slope", "REML",
         truth_for("linear", beta_time=[-0.03], sd_slope=0.015)),
        ("days_linear_ML", days(3, 12, 180), 500, "linear", "slope", "ML",
         truth_for("linear", beta_time=[-0.03], sd_slope=0.015)),
        ("days_log1p", days(2, 10, 120), 300, "log1p", "slope", "REML", None),
        ("weeks_linear", weeks(0, 3, 16), 150, "linear", "slope", "REML", None),
        ("weeks_log", weeks(1, 2, 12), 250, "log", "slope", "ML", None),
        ("weeks_quadratic", weeks(0, 4, 14), 100, "quadratic", "intercept", "REML", None),
    ]:
        add("time_scale", f"{stub}_n{n}_{random}_{method}", n=n, schedule=sch,
            transform=transform, random=random, method=method, truth=truth)

    # --- small and extreme designs -------------------------------------------------------
    add("small", "n10_s2_intercept_REML", n=10, schedule=bal0(2), random="intercept")
    add("small", "n12_s3_slope_ML", n=12, schedule=bal1(3), method="ML")
    add("small", "n10_k2to3_slope_REML", n=10, schedule=samp(1, 24, 2, 3))
    add("small", "n15_k1to6_slope_REML", n=15, schedule=samp(1, 24, 1, 6),
        note="some patients with a single session")
    add("small", "n20_s20_slope_REML_big_sigma", n=20, schedule=bal0(20),
        truth=truth_for("linear", sigma=12.0))
    add("small", "n10_s4_log_intercept_ML", n=10, schedule=bal1(4), transform="log",
        random="intercept", method="ML")
    add("small", "n25_dropout_unscored_patients", n=25,
        schedule={"kind": "dropout", "start": 0, "sessions": 6, "p": 0.8, "min": 1},
        p_missing_score=0.35, note="heavy missingness: some patients have no scored row")

    # --- large designs (2,000-5,000 patients) beyond the known failures ------------------------
    add("large", "quadratic_ML_n3000", n=3000, schedule=samp(1, 24, 3, 14), transform="quadratic",
        method="ML", covariates=["site"],
        truth=truth_for("quadratic", covariate_effects=cov_effects("site", intercept=1.0,
                                                                   time=-0.05)))
    add("large", "linear_intercept_n4000", n=4000, schedule=bal0(5), random="intercept",
        p_missing_score=0.1)

    for k, d in enumerate(out):
        d["id"] = f"{k + 1:03d}_{d['family']}_{d.pop('stub')}"
        d["seed"] = BASE_SEED + k + 1
    return out


def main() -> None:
    data_dir = ROOT / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for old in data_dir.glob("*.csv.gz"):
        old.unlink()
    entries = []
    for d in designs():
        frame, summary = simulate(d)
        write_csv_gz(frame, data_dir / f"{d['id']}.csv.gz")
        entry = {
            "id": d["id"],
            "seed": d["seed"],
            "family": d["family"],
            "file": f"data/{d['id']}.csv.gz",
            "columns": list(frame.columns),
            # model, in fit_growth's keywords (patient="patient", time="session", score="score")
            "time_transform": d["time_transform"],
            "knot": d["knot"],
            "random": d["random"],
            "method": d["method"],
            "covariates": d["covariates"],
            "time_interactions": d["time_interactions"],
            "cluster": d["cluster"],
            # data
            "n_patients": d["n_patients"],
            "schedule": d["schedule"],
            "p_missing_score": d.get("p_missing_score", 0.0),
            "shuffle_rows": bool(d.get("shuffle_rows", False)),
            **summary,
            "truth": d["truth"],
            "note": d["note"],
        }
        entries.append(entry)
    (ROOT / "designs.json").write_text(json.dumps(entries, indent=1) + "\n")
    total = sum(p.stat().st_size for p in data_dir.glob("*.csv.gz"))
    print(f"{len(entries)} designs, {total / 1e6:.2f} MB of data in {data_dir}")


if __name__ == "__main__":
    main()
