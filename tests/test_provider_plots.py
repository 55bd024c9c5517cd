"""ia.plot_cusum: paths, limit and signal markers (Agg backend)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic.exceptions import ParameterTypeError, UnknownNameError

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(scope="module")
def result() -> ia.ProviderCusum:
    rng = np.random.default_rng(0)
    tab = pd.DataFrame({"patient": range(600), "therapist": np.repeat(["a", "b", "c"], 200),
                        "intake": rng.normal(15, 5, 600)})
    tab["harm"] = rng.random(600) < np.where(tab["therapist"] == "b", 0.35, 0.12)
    return ia.provider_cusum(tab, therapist="therapist", outcome="harm", severity="intake",
                             limit=3.0)


def test_paths_limit_and_signals(result: ia.ProviderCusum) -> None:
    fig, ax = plt.subplots()
    out = ia.plot_cusum(result, therapists=["a", "b", "c"], ax=ax)
    assert out is ax
    lines = {line.get_gid(): line for line in ax.get_lines()}
    assert set(lines) == {"cusum:a", "cusum:b", "cusum:c", "limit"}
    assert lines["limit"].get_ydata()[0] == pytest.approx(result.limit)
    path_b = result.path[result.path["therapist"] == "b"]
    np.testing.assert_allclose(lines["cusum:b"].get_xdata(), path_b["n"])
    np.testing.assert_allclose(lines["cusum:b"].get_ydata(), path_b["cusum"])
    markers = [c for c in ax.collections if c.get_gid() == "signals"]
    assert len(markers) == 1
    assert len(markers[0].get_offsets()) == int(result.path["signal"].sum()) > 0
    plt.close(fig)


def test_default_draws_signalled_therapists(result: ia.ProviderCusum) -> None:
    ax = ia.plot_cusum(result)
    gids = {line.get_gid() for line in ax.get_lines()}
    signalled = set(result.signals["therapist"])
    assert gids == {f"cusum:{t}" for t in signalled} | {"limit"}
    plt.close(ax.figure)


def test_single_therapist_and_errors(result: ia.ProviderCusum) -> None:
    ax = ia.plot_cusum(result, therapists="a")
    assert {line.get_gid() for line in ax.get_lines()} == {"cusum:a", "limit"}
    plt.close(ax.figure)
    with pytest.raises(UnknownNameError, match="therapists"):
        ia.plot_cusum(result, therapists=["zz"])
    with pytest.raises(ParameterTypeError, match="result"):
        ia.plot_cusum(result.path)  # type: ignore[arg-type]


def _therapist_table(suppress: int | None) -> pd.DataFrame:
    data, _ = ia.datasets.simulate(n_patients=1200, n_therapists=12, seed=5, harmful_therapists=2)
    return ia.therapist_outcomes(data, therapist="therapist", score="phq9", instrument="phq9",
                                 min_patients=5, suppress=suppress)


def test_plot_funnel_takes_the_therapist_table() -> None:
    table = _therapist_table(suppress=None)
    ax = ia.plot_funnel(table)
    on_funnel = table[np.isfinite(table["upper998"])]
    points = np.concatenate(
        [c.get_offsets() for c in ax.collections if c.get_gid() in {"units", "outliers"}]
    )
    # one point per therapist on the funnel, at (expected, O/E)
    assert len(points) == len(on_funnel) > 2
    expected = np.sort(on_funnel[["expected", "ratio"]].to_numpy(dtype=float), axis=0)
    np.testing.assert_allclose(np.sort(points, axis=0), expected)
    # the limit curves are the funnel's: at each therapist's expected count, its own limits
    curves = ia.funnel_limits(
        ia.funnel(on_funnel, numerator="observed", denominator="expected", group="therapist",
                  data_type="SR", sr_method=table.attrs["sr_method"]),
        on_funnel["expected"].to_numpy(dtype=float),
    )
    upper = {line.get_gid(): line for line in ax.get_lines()}["upper998"]
    at = np.interp(curves["denominator"], upper.get_xdata(), upper.get_ydata())
    np.testing.assert_allclose(at, curves["upper998"], rtol=1e-6)
    assert ax.get_xlabel() == "Expected"
    assert "not shown" not in ax.get_title()
    plt.close(ax.figure)


def test_plot_funnel_hides_suppressed_therapists_and_says_so() -> None:
    table = _therapist_table(suppress=5)
    hidden = int((table["suppressed"] & np.isfinite(table["upper998"])).sum())
    assert hidden > 0
    ax = ia.plot_funnel(table)
    points = sum(len(c.get_offsets()) for c in ax.collections
                 if c.get_gid() in {"units", "outliers"})
    assert points == int(np.isfinite(table["upper998"]).sum()) - hidden
    assert f"{hidden} with counts under the suppression threshold not shown" in ax.get_title()
    plt.close(ax.figure)


def test_plot_funnel_outliers_differ_by_marker_not_only_colour() -> None:
    table = pd.DataFrame({"unit": list("abcdefgh"), "events": [3, 10, 4, 30, 2, 80, 0, 5],
                          "patients": [40, 90, 60, 150, 30, 160, 200, 50]})
    result = ia.funnel(table, numerator="events", denominator="patients", group="unit",
                       od_adjust=False)
    assert {"high", "low"} <= set(result["outlier"].dropna())
    ax = ia.plot_funnel(result)
    outliers = [c for c in ax.collections if c.get_gid() == "outliers"]
    assert len(outliers) == 2
    shapes = {tuple(np.round(c.get_paths()[0].vertices, 6).ravel()) for c in outliers}
    assert len(shapes) == 2  # a triangle up and a triangle down
    plt.close(ax.figure)


def test_plot_funnel_refuses_other_tables() -> None:
    with pytest.raises(ParameterTypeError, match=r"ia\.therapist_outcomes"):
        ia.plot_funnel([1, 2, 3])  # type: ignore[arg-type]
