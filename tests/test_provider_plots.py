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
