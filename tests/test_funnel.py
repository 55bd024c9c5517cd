"""ia.funnel against FunnelPlotR 0.6.0, plus the documented differences, errors and properties.

The inputs (``refs/funnelplotr/designs/``) come from ``refs/scripts/funnel_designs.py``; the R
outputs (``refs/funnelplotr/out/``) from ``refs/scripts/funnel_refs.R``, which made one
``funnel_plot()`` call per row of ``refs/funnelplotr/calls.csv``. Each test id is the call id and
every assertion message carries the exact R call (``out/scalars.csv``, column ``r_call``).

Every number of ``source_data()``, ``phi()``, ``tau2()`` and ``limits()`` is compared to 1e-8,
except where docs/providers.md documents that FunnelPlotR is wrong; there the test checks that
FunnelPlotR's number is exactly its (wrong) formula and ours the corrected one:

- PR limits outside [0, 1] on the arcsine scale (FunnelPlotR's neighbour rule misses some rows);
- SR "CQC" limits not squared back from the square-root scale;
- RC limits built from the square-root-scale standard error 1 / (2 sqrt(n)) on the log scale;
- phi() and tau2() reported as 0 when draw_adjusted = FALSE.
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import REFS_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iatrogenic as ia
import iatrogenic.providers
from iatrogenic.exceptions import (
    ColumnNotFoundError,
    ColumnTypeError,
    EmptyDataError,
    InvalidValueError,
    ParameterError,
    ParameterTypeError,
)

F = sys.modules["iatrogenic.providers.funnel"]
REFS = REFS_DIR / "funnelplotr"
TOL = 1e-8
Z95, Z998 = 1.959964, 3.090232
UNIT_LIMITS = ("lower95", "upper95", "lower998", "upper998")
R_OD = dict(zip(UNIT_LIMITS, ("OD95LCL", "OD95UCL", "OD99LCL", "OD99UCL"), strict=False))
R_UN = dict(zip(UNIT_LIMITS, ("LCL95", "UCL95", "LCL99", "UCL99"), strict=False))
GRID_OD = dict(zip(UNIT_LIMITS, ("odll95", "odul95", "odll998", "odul998"), strict=False))
GRID_UN = dict(zip(UNIT_LIMITS, ("ll95", "ul95", "ll998", "ul998"), strict=False))


# ------------------------------------------------------------------------------------------------
# Loading the references
# ------------------------------------------------------------------------------------------------


@functools.cache
def _calls() -> pd.DataFrame:
    calls = pd.read_csv(REFS / "calls.csv")
    scalars = pd.read_csv(REFS / "out" / "scalars.csv")
    return calls.merge(scalars, on="call", validate="one_to_one").set_index("call", drop=False)


CALL_IDS = list(_calls().index)


@functools.cache
def _design(name: str) -> pd.DataFrame:
    return pd.read_csv(REFS / "designs" / f"{name}.csv", dtype={"group": str})


@functools.cache
def _run(call_id: str) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(call row, our result, FunnelPlotR source_data aligned to it, FunnelPlotR limits)."""
    call = _calls().loc[call_id]
    ours = ia.funnel(
        _design(call["design"]),
        numerator="numerator",
        denominator="denominator",
        group="group",
        data_type=call["data_type"],
        sr_method=call["sr_method"],
        limit=int(call["limit"]),
        od_adjust=bool(call["od_adjust"]),
        trim_by=float(call["trim_by"]),
    )
    source = pd.read_csv(REFS / "out" / f"{call_id}_source.csv.gz", dtype={"group": str})
    source = source.set_index("group").loc[ours["group"]].reset_index()
    limits = pd.read_csv(REFS / "out" / f"{call_id}_limits.csv.gz")
    return call, ours, source, limits


def _close(actual: Any, desired: Any, what: str, call: pd.Series) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float),
        np.asarray(desired, dtype=float),
        rtol=TOL,
        atol=1e-12,
        err_msg=f"{what}; R: {call['r_call']}",
    )


def _fpr_normal_limits(x: np.ndarray, attrs: dict[str, Any], tau2: float) -> dict[str, Any]:
    """FunnelPlotR 0.6.0's ``calculate_limits(draw_adjusted = TRUE)`` formulas, pointwise.

    For PR this is the value before FunnelPlotR's neighbour rule (which sets some rows to 0 or 1).
    """
    out: dict[str, Any] = {}
    target = attrs["target"]
    for name, q in (("95", Z95), ("998", Z998)):
        if attrs["data_type"] == "SR" and attrs["sr_method"] == "SHMI":
            half = q * np.sqrt(1 / x + tau2)
            out["lower" + name], out["upper" + name] = np.exp(-half), np.exp(half)
            continue
        half = q * np.sqrt((1 / (2 * np.sqrt(x))) ** 2 + tau2)
        if attrs["data_type"] == "SR":
            out["lower" + name], out["upper" + name] = 1 - half, 1 + half
        elif attrs["data_type"] == "RC":
            out["lower" + name] = np.exp(math.log(target) - half)
            out["upper" + name] = np.exp(math.log(target) + half)
        else:
            centre = math.asin(math.sqrt(target))
            out["lower" + name] = np.clip(np.sin(centre - half) ** 2, 0, None)
            out["upper" + name] = np.clip(np.sin(centre + half) ** 2, None, 1)
            out["arc_lower" + name], out["arc_upper" + name] = centre - half, centre + half
    return out


def _pr_outside(x: np.ndarray, attrs: dict[str, Any], tau2: float, key: str) -> np.ndarray:
    """Rows where the PR limit ``key`` leaves [0, pi / 2] on the arcsine scale."""
    arcs = _fpr_normal_limits(x, attrs, tau2)
    level = key.replace("lower", "").replace("upper", "")
    if key.startswith("lower"):
        return np.asarray(arcs["arc_lower" + level] < 0)
    return np.asarray(arcs["arc_upper" + level] > math.pi / 2)


def _documented(call: pd.Series, adjusted_limits: bool) -> str | None:
    """Which documented difference applies to these limits, if any."""
    if call["data_type"] == "RC":
        return "RC"
    if call["data_type"] == "SR" and call["sr_method"] == "CQC" and adjusted_limits:
        return "CQC"
    if call["data_type"] == "PR":
        return "PR"
    return None


# ------------------------------------------------------------------------------------------------
# Exactness against FunnelPlotR
# ------------------------------------------------------------------------------------------------


def test_reference_inventory():
    calls = _calls()
    assert len(calls) == 100
    assert set(calls["data_type"]) == {"PR", "SR", "RC"}
    assert set(calls.loc[calls["data_type"] == "SR", "sr_method"]) == {"SHMI", "CQC"}
    assert set(calls["trim_by"]) == {0.1, 0.05} and set(calls["od_adjust"]) == {True, False}
    sizes = {len(_design(d)["group"].unique()) for d in calls["design"]}
    assert min(sizes) == 5 and max(sizes) == 5000
    # adjusted and not adjusted (phi <= 1) among the draw_adjusted = TRUE calls
    assert set(calls.loc[calls["od_adjust"], "draw_adjusted"]) == {True, False}


@pytest.mark.parametrize("call_id", CALL_IDS)
def test_source_data_against_FunnelPlotR(call_id):
    call, ours, src, _ = _run(call_id)
    assert list(ours["group"]) == sorted(src["group"])
    # R: source_data(fp)$numerator, $denominator (SHMI: rounded to 2 decimals), $rr
    _close(ours["numerator"], src["numerator"], "numerator", call)
    _close(ours["denominator"], src["denominator"], "denominator", call)
    _close(ours["ratio"], src["rr"], "rr", call)
    # R: source_data(fp)$Uzscore (unadjusted z) and $Wuzscore (Winsorised / truncated z)
    _close(ours["z"], src["Uzscore"], "Uzscore", call)
    _close(ours["z_winsorised"], src["Wuzscore"], "Wuzscore", call)
    # R: fp$draw_adjusted (after FunnelPlotR's phi <= 1 rule)
    assert ours.attrs["adjusted"] == bool(call["draw_adjusted"]), call["r_call"]


@pytest.mark.parametrize("call_id", CALL_IDS)
def test_phi_tau2_against_FunnelPlotR(call_id):
    call, ours, _, _ = _run(call_id)
    if call["od_adjust"]:
        # R: phi(fp), tau2(fp)
        _close(ours.attrs["phi"], call["phi"], "phi(fp)", call)
        _close(ours.attrs["tau2"], call["tau2"], "tau2(fp)", call)
    else:
        # Documented difference: FunnelPlotR returns phi = tau2 = 0 with draw_adjusted = FALSE;
        # we report the estimates, which equal those of the same design's adjusted call.
        assert call["phi"] == 0 and call["tau2"] == 0
        twin = call_id.replace("__noadj__", "__od__")
        if twin in _calls().index:
            _close(ours.attrs["phi"], _calls().loc[twin, "phi"], "phi(fp) adjusted twin", call)
            _close(ours.attrs["tau2"], _calls().loc[twin, "tau2"], "tau2(fp) adjusted twin", call)


@pytest.mark.parametrize("call_id", CALL_IDS)
def test_unit_limits_and_outliers_against_FunnelPlotR(call_id):
    call, ours, src, _ = _run(call_id)
    adjusted = bool(call["draw_adjusted"])
    columns = R_OD if adjusted else R_UN
    documented = _documented(call, adjusted)
    x = ours["denominator"].to_numpy()
    agree = np.ones(len(ours), dtype=bool)
    for key, r_col in columns.items():
        if documented in ("CQC", "RC"):
            continue  # tested in test_cqc_... and test_rc_...
        keep = np.ones(len(ours), dtype=bool)
        if documented == "PR":
            keep = ~_pr_outside(x, ours.attrs, ours.attrs["tau2"] if adjusted else 0.0, key)
            agree &= keep
            # outside [0, 1] on the arcsine scale we give 0 (1); FunnelPlotR 0 (1) or sin^2
            assert np.all(ours[key].to_numpy()[~keep] == (0.0 if "lower" in key else 1.0))
        # R: source_data(fp)$OD95LCL ... (adjusted) or $LCL95 ... (unadjusted)
        _close(ours[key].to_numpy()[keep], src[r_col].to_numpy()[keep], r_col, call)
    if documented not in ("CQC", "RC"):
        # R: source_data(fp)$outlier (1 outside the chosen limits)
        flagged = ours["outlier"].notna().to_numpy()
        np.testing.assert_array_equal(
            flagged[agree], src["outlier"].to_numpy()[agree] == 1, err_msg=call["r_call"]
        )


@pytest.mark.parametrize("call_id", CALL_IDS)
def test_limits_lookup_against_FunnelPlotR(call_id):
    call, ours, _, lim = _run(call_id)
    # R: limits(fp)$number_seq (thinned; see the README) lies on our default grid
    grid = ia.funnel_limits(ours)["denominator"].to_numpy()
    x = lim["number_seq"].to_numpy()
    right = np.searchsorted(grid, x).clip(1, len(grid) - 1)
    left = right - 1
    nearest = np.where(np.abs(grid[left] - x) <= np.abs(grid[right] - x), grid[left], grid[right])
    _close(nearest, x, "limits(fp)$number_seq", call)
    curves = ia.funnel_limits(ours, x)
    attrs = ours.attrs
    pairs = [("_unadjusted", GRID_UN, 0.0, _documented(call, False))]
    if call["od_adjust"]:
        pairs.append(("_adjusted", GRID_OD, attrs["tau2"], _documented(call, True)))
    for suffix, columns, tau2, documented in pairs:
        for key, r_col in columns.items():
            ours_col = curves[key + suffix].to_numpy()
            if documented in ("CQC", "RC"):
                # FunnelPlotR's number is its own formula; ours is tested below
                _close(_fpr_normal_limits(x, attrs, tau2)[key], lim[r_col], r_col, call)
                continue
            keep = np.ones(len(x), dtype=bool)
            if documented == "PR":
                keep = ~_pr_outside(x, attrs, tau2, key)
                assert np.all(ours_col[~keep] == (0.0 if "lower" in key else 1.0))
                # FunnelPlotR: 0 (1) where its neighbour rule caught the row, else sin^2(arc)
                raw = _fpr_normal_limits(x, attrs, tau2)[key][~keep]
                r_out = lim[r_col].to_numpy()[~keep]
                bound = 0.0 if "lower" in key else 1.0
                assert np.all(
                    np.isclose(r_out, bound, atol=1e-12)
                    | np.isclose(r_out, raw, rtol=TOL, atol=1e-12)
                ), call["r_call"]
            # R: limits(fp)$odll95 ... / $ll95 ...
            _close(ours_col[keep], lim[r_col].to_numpy()[keep], r_col, call)


# ------------------------------------------------------------------------------------------------
# Documented differences, tested explicitly
# ------------------------------------------------------------------------------------------------


def test_pr_limit_beyond_zero_is_zero_not_FunnelPlotR_sin_squared():
    # R: funnel_plot(d, ..., data_type = "PR", limit = 99, trim_by = 0.1, draw_adjusted = TRUE)
    # on design pr_lowp (proportion 1%, strongly overdispersed; largest unit 0 / 25000 events)
    call, ours, src, lim = _run("pr_lowp__PR__t0.1__od__l99")
    last = ours["denominator"].idxmax()
    assert ours.loc[last, "numerator"] == 0 and ours.loc[last, "denominator"] == 25_000
    arc = math.asin(math.sqrt(ours.attrs["target"])) - Z998 * math.sqrt(
        1 / (4 * 25_000) + ours.attrs["tau2"]
    )
    assert arc < 0  # the 99.8% lower limit is below 0 on the arcsine scale
    # FunnelPlotR keeps sin^2(arc) > 0 at its largest denominator and flags 0 events as low
    _close(src.loc[last, "OD99LCL"], math.sin(arc) ** 2, "OD99LCL at the largest unit", call)
    assert src.loc[last, "outlier"] == 1
    # ours: limit 0, and 0 events is not below it
    assert ours.loc[last, "lower998"] == 0.0 and pd.isna(ours.loc[last, "outlier"])
    # the same row of limits(fp): positive; every smaller grid denominator: 0
    assert lim["odll998"].iloc[-1] > 0 and (lim["odll998"].iloc[:-1] == 0).all()


def test_pr_transition_rows_missed_by_FunnelPlotR():
    # Where the lower limit crosses 0, FunnelPlotR compares each grid row with the next one and
    # keeps sin^2(arc) > 0 for a row whose arc is still negative; we give 0.
    missed = 0
    for call_id in CALL_IDS:
        call, ours, _, lim = _run(call_id)
        if call["data_type"] != "PR":
            continue
        x = lim["number_seq"].to_numpy()
        outside = _pr_outside(x, ours.attrs, 0.0, "lower95")
        missed += int(np.sum(outside & (lim["ll95"].to_numpy() > 0)))
        assert np.all(ia.funnel_limits(ours, x)["lower95_unadjusted"].to_numpy()[outside] == 0)
    assert missed > 0


# (unadjusted SR limits are the exact Poisson ones, identical in both: compared above)
@pytest.mark.parametrize(
    "call_id", [c for c in CALL_IDS if "SR_CQC" in c and _calls().loc[c, "draw_adjusted"]]
)
def test_cqc_limits_are_squared_back_unlike_FunnelPlotR(call_id):
    call, ours, src, _lim = _run(call_id)
    x, tau2 = ours["denominator"].to_numpy(), ours.attrs["tau2"]
    for key, r_col in R_OD.items():
        # R: source_data(fp)$OD95LCL ... = 1 -/+ q sqrt(1 / (4E) + tau2), on the ratio scale
        _close(_fpr_normal_limits(x, ours.attrs, tau2)[key], src[r_col], r_col, call)
        # ours: the same bound on the square-root scale, squared back (0 below 0)
        r_value = src[r_col].to_numpy()
        expected = np.where(r_value < 0, 0.0, r_value**2)
        _close(ours[key], expected, f"{r_col} squared", call)
    # ours agree with the z-scores: outside the 99.8% limits exactly when |z_adjusted| > 3.090232
    flagged = ours["outlier"].notna().to_numpy()
    bound = Z998 if call["limit"] == 99 else Z95
    np.testing.assert_array_equal(flagged, np.abs(ours["z_adjusted"].to_numpy()) > bound)
    # FunnelPlotR's limits are half as wide on the ratio scale and flag more units
    assert src["outlier"].sum() > flagged.sum()


@pytest.mark.parametrize("call_id", [c for c in CALL_IDS if "__RC__" in c])
def test_rc_limits_use_the_log_scale_error_unlike_FunnelPlotR(call_id):
    call, ours, src, _ = _run(call_id)
    adjusted = bool(call["draw_adjusted"])
    x, target = ours["denominator"].to_numpy(), ours.attrs["target"]
    tau2 = ours.attrs["tau2"] if adjusted else 0.0
    columns = R_OD if adjusted else R_UN
    expected_n = target * x
    s2 = expected_n / (expected_n + 0.5) ** 2 + x / (x + 0.5) ** 2
    for (key, r_col), q in zip(columns.items(), (Z95, Z95, Z998, Z998), strict=False):
        # R: source_data(fp)$...: exp(log(target) -/+ q sqrt(1 / (4n) + tau2))
        _close(_fpr_normal_limits(x, ours.attrs, tau2)[key], src[r_col], r_col, call)
        # ours: the z-score's own standard error, evaluated at the target ratio
        sign = -1 if key.startswith("lower") else 1
        _close(ours[key], np.exp(math.log(target) + sign * q * np.sqrt(s2 + tau2)), key, call)
    # FunnelPlotR's narrower limits flag at least as many units as ours
    assert src["outlier"].sum() >= ours["outlier"].notna().sum()


def test_no_adjustment_when_phi_at_most_one():
    # R: funnel_plot(d, ..., data_type = "PR", trim_by = 0.1, draw_adjusted = TRUE) on pr_under:
    # phi(fp) < 1, so fp$draw_adjusted is FALSE and the limits are the unadjusted ones
    call, ours, _src, _ = _run("pr_under__PR__t0.1__od__l99")
    assert ours.attrs["phi"] < 1 and not ours.attrs["adjusted"] and not call["draw_adjusted"]
    np.testing.assert_array_equal(ours["z_adjusted"], ours["z"])
    unadjusted = ia.funnel_limits(ours, ours["denominator"]).set_index("denominator")
    for key in UNIT_LIMITS:
        at_units = unadjusted.loc[ours["denominator"], key + "_unadjusted"].to_numpy()
        np.testing.assert_array_equal(ours[key].to_numpy(), at_units)


def test_tau2_positive_but_no_adjustment_when_phi_between_dl_and_one():
    # R: funnel_plot(d, ..., data_type = "PR", trim_by = 0.1, draw_adjusted = TRUE) on
    # pr_phi_near_one: (N - 1) / N < phi(fp) <= 1, so tau2(fp) > 0 (DerSimonian-Laird) but
    # fp$draw_adjusted is FALSE (FunnelPlotR's phi <= 1 rule); we follow both
    call, ours, _, _ = _run("pr_phi_near_one__PR__t0.1__od__l99")
    n = ours.attrs["n_phi"]
    assert (n - 1) / n < call["phi"] <= 1 and call["tau2"] > 0 and not call["draw_adjusted"]
    _close(ours.attrs["tau2"], call["tau2"], "tau2(fp)", call)
    assert not ours.attrs["adjusted"]
    np.testing.assert_array_equal(ours["z_adjusted"], ours["z"])


def test_sr_unadjusted_limits_are_exact_poisson():
    # qchisq(0.025, 2E) / (2E) and qchisq(0.975, 2(E + 1)) / (2E), as FunnelPlotR
    from scipy.stats import chi2

    result = ia.funnel(
        _design("sr_under"),
        numerator="numerator",
        denominator="denominator",
        group="group",
        data_type="SR",
    )
    e = result["denominator"].to_numpy()
    np.testing.assert_allclose(result["lower95"], chi2.ppf(0.025, 2 * e) / (2 * e), rtol=1e-12)
    np.testing.assert_allclose(
        result["upper998"], chi2.ppf(0.999, 2 * (e + 1)) / (2 * e), rtol=1e-12
    )


# ------------------------------------------------------------------------------------------------
# Output contract
# ------------------------------------------------------------------------------------------------


def _example(seed: int = 1234567890, units: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.integers(20, 300, units)
    return pd.DataFrame(
        {
            "unit": [f"T{i:02d}" for i in range(units)],
            "n": n,
            "events": rng.binomial(n, rng.uniform(0.05, 0.3, units)),
        }
    )


def test_columns_are_documented():
    result = ia.funnel(_example(), numerator="events", denominator="n", group="unit")
    documented = [
        "group",
        "numerator",
        "denominator",
        "ratio",
        "z",
        "z_adjusted",
        "z_winsorised",
        "trimmed",
        "lower95",
        "upper95",
        "lower998",
        "upper998",
        "outlier",
    ]
    assert list(result.columns) == documented
    doc = F.funnel.__doc__
    for column in documented:
        assert f"``{column}``" in doc
    for key in ("phi", "tau2", "data_type", "sr_method", "trim_by", "limit", "adjusted"):
        assert key in result.attrs and f"``{key}``" in doc
    assert set(result["outlier"].dropna()) <= {"high", "low"}


def test_record_level_rows_equal_aggregated():
    records = _design("records")
    per_unit = records.groupby("group", as_index=False)[["numerator", "denominator"]].sum()
    a = ia.funnel(records, numerator="numerator", denominator="denominator", group="group")
    b = ia.funnel(per_unit, numerator="numerator", denominator="denominator", group="group")
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs == b.attrs


def test_boolean_record_level_outcome_and_limit_alias():
    records = _design("records").assign(numerator=lambda d: d["numerator"] == 1)
    a = ia.funnel(records, numerator="numerator", denominator="denominator", group="group")
    b = ia.funnel(
        _design("records"),
        numerator="numerator",
        denominator="denominator",
        group="group",
        limit=99.8,
    )
    pd.testing.assert_frame_equal(a, b)
    assert b.attrs["limit"] == 99


def test_input_not_mutated():
    table = _example()
    copy = table.copy(deep=True)
    ia.funnel(table, numerator="events", denominator="n", group="unit", data_type="RC")
    pd.testing.assert_frame_equal(table, copy)


def test_funnel_limits_default_grid():
    result = ia.funnel(_example(), numerator="events", denominator="n", group="unit")
    curves = ia.funnel_limits(result)
    grid = np.linspace(3, math.ceil(result["denominator"].max()), 1000)
    assert set(grid) <= set(curves["denominator"]) and set(result["denominator"]) <= set(
        curves["denominator"]
    )
    assert curves["denominator"].is_monotonic_increasing
    small = ia.funnel_limits(result, [10, 100], n=5)
    assert list(small["denominator"]) == [10.0, 100.0]
    assert (small["lower998"] <= small["lower95"]).all()
    assert (small["upper95"] <= small["upper998"]).all()


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def _table(**columns: Any) -> pd.DataFrame:
    base = {"unit": ["a", "b", "c"], "events": [1.0, 2.0, 3.0], "n": [10.0, 20.0, 30.0]}
    base.update(columns)
    return pd.DataFrame(base)


@pytest.mark.parametrize(
    ("table", "kwargs", "error", "words"),
    [
        (_table(), {"numerator": "deaths"}, ColumnNotFoundError, ["'deaths'", "numerator="]),
        (_table(events=[1.0, -1.0, 2.0]), {}, InvalidValueError, ["negative", "index 1"]),
        (_table(events=[1.0, np.nan, 2.0]), {}, InvalidValueError, ["missing", "index 1"]),
        (_table(n=[10.0, np.inf, 3.0]), {}, InvalidValueError, ["infinite", "'n'"]),
        (_table(events=[11.0, 2.0, 3.0]), {}, InvalidValueError, ["exceeds", "'a'", "SR"]),
        (_table(n=[0.0, 2.0, 3.0]), {}, InvalidValueError, ["sums to 0", "Suggestion"]),
        (_table(unit=["a", None, "c"]), {}, InvalidValueError, ["'unit'", "missing"]),
        (_table(events=["1", "x", "2"]), {}, ColumnTypeError, ["numbers", "'x'"]),
        (_table(unit=["a", "a", "a"]), {}, EmptyDataError, ["at least 2 units"]),
        (pd.DataFrame({"unit": [], "events": [], "n": []}), {}, EmptyDataError, ["no rows"]),
        (_table(), {"data_type": "XX"}, ParameterError, ["'data_type'", "'PR'", "'XX'"]),
        (_table(), {"sr_method": "CQX"}, ParameterError, ["'sr_method'", "Did you mean"]),
        (_table(), {"limit": 90}, ParameterError, ["'limit'", "99"]),
        (_table(), {"trim_by": 0.5}, ParameterError, ["'trim_by'"]),
        (_table(), {"trim_by": 0, "data_type": "SR"}, ParameterError, ["'trim_by'"]),
        (_table(), {"od_adjust": "yes"}, ParameterTypeError, ["'od_adjust'"]),
        (_table(), {"denominator": "events"}, ParameterError, ["same column"]),
        (
            _table(events=[0.0, 2.0, 3.0]),
            {"data_type": "SR"},
            InvalidValueError,
            ["log(0)", "'a'", "CQC"],
        ),
        (_table(events=[0.0, 0.0, 0.0]), {"data_type": "RC"}, InvalidValueError, ["phi"]),
        ("not a table", {}, ParameterTypeError, ["DataFrame"]),
    ],
)
def test_errors(table, kwargs, error, words):
    options = {"numerator": "events", "denominator": "n", "group": "unit", **kwargs}
    with pytest.raises(error) as info:
        ia.funnel(table, **options)
    for word in words:
        assert word in str(info.value)


def test_funnel_limits_errors():
    result = ia.funnel(_example(), numerator="events", denominator="n", group="unit")
    with pytest.raises(ParameterError, match="denominators"):
        ia.funnel_limits(result, [0, 10])
    with pytest.raises(ParameterTypeError, match=r"ia\.funnel"):
        ia.funnel_limits(pd.DataFrame({"x": [1]}))
    bare = result.copy()
    bare.attrs = {}
    with pytest.raises(ParameterError, match="attrs"):
        ia.funnel_limits(bare)


# ------------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------------

_KINDS = st.sampled_from([("PR", "SHMI"), ("SR", "SHMI"), ("SR", "CQC"), ("RC", "SHMI")])


@st.composite
def _designs(draw: Any) -> tuple[pd.DataFrame, str, str]:
    data_type, sr_method = draw(_KINDS)
    units = draw(st.integers(3, 25))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = rng.integers(5, 400, units).astype(float)
    if data_type == "SR":
        n = np.round(rng.uniform(2, 80, units), 2)
    events = rng.poisson(n * rng.uniform(0.05, 0.6, units)).astype(float)
    if data_type == "PR":
        events = np.minimum(events, n)
    events = np.maximum(events, 1)
    table = pd.DataFrame({"unit": [f"u{i:03d}" for i in range(units)], "events": events, "n": n})
    return table, data_type, sr_method


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(design=_designs(), order_seed=st.integers(0, 10_000))
def test_row_order_and_relabelling_do_not_matter(design, order_seed):
    table, data_type, sr_method = design
    options = {
        "numerator": "events",
        "denominator": "n",
        "group": "unit",
        "data_type": data_type,
        "sr_method": sr_method,
    }
    base = ia.funnel(table, **options)
    shuffled = table.sample(frac=1, random_state=order_seed)
    pd.testing.assert_frame_equal(ia.funnel(shuffled, **options), base)
    # relabel the groups by a random bijection: the same numbers, found under the new names
    rng = np.random.default_rng(order_seed)
    names = [f"z{k}" for k in rng.permutation(len(table))]
    mapping = dict(zip(table["unit"], names, strict=False))
    relabelled = ia.funnel(table.assign(unit=table["unit"].map(mapping)), **options)
    back = relabelled.assign(group=relabelled["group"].map({v: k for k, v in mapping.items()}))
    back = back.sort_values("group").reset_index(drop=True)
    pd.testing.assert_frame_equal(back, base, check_exact=False, rtol=1e-12)
    for key in ("phi", "tau2"):
        assert math.isclose(relabelled.attrs[key], base.attrs[key], rel_tol=1e-12, abs_tol=1e-15)


@settings(max_examples=30, deadline=None)
@given(design=_designs())
def test_limits_nest_and_bracket_target(design):
    table, data_type, sr_method = design
    result = ia.funnel(
        table,
        numerator="events",
        denominator="n",
        group="unit",
        data_type=data_type,
        sr_method=sr_method,
    )
    target = result.attrs["target"]
    assert (result["lower998"] <= result["lower95"] + 1e-15).all()
    assert (result["lower95"] <= target + 1e-12).all() and (
        result["upper95"] >= target - 1e-12
    ).all()
    assert (result["upper95"] <= result["upper998"] + 1e-15).all()


# ------------------------------------------------------------------------------------------------
# Plot
# ------------------------------------------------------------------------------------------------


def test_plot_funnel_draws_limits_points_and_labels():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ours, _, _ = _run("sr_over__SR_SHMI__t0.1__od__l95")
    ax = ia.plot_funnel(ours)
    gids = {line.get_gid() for line in ax.get_lines()}
    assert gids == {"target", "lower95", "upper95", "lower998", "upper998"}
    collections = {c.get_gid() for c in ax.collections}
    assert {"units", "outliers"} <= collections
    labels = {t.get_gid() for t in ax.texts}
    flagged = ours.loc[ours["outlier"].notna(), "group"]
    assert labels == {f"label:{g}" for g in flagged}
    _fig, own = plt.subplots()
    assert ia.plot_funnel(ours, own) is own
    with pytest.raises(ParameterTypeError):
        ia.plot_funnel(ours, ax="nope")
    plt.close("all")
