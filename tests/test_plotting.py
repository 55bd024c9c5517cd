"""The Jacobson plot, on the Agg backend, from hand-made ``reliable_change`` results."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex

from iatrogenic import exceptions as exc
from iatrogenic.core.expected_response import load_reference_model
from iatrogenic.core.sudden_changes import sudden_changes
from iatrogenic.plotting import (
    CATEGORY_COLORS,
    CATEGORY_MARKERS,
    INSTALL_HINT,
    SIGNAL_COLORS,
    SIGNAL_MARKERS,
    plot_change,
    plot_course,
    plot_expected,
)

CRITICAL, S_DIFF = 1.959964, 2.345208  # JT for PHQ-9: SD 5, reliability 0.89


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _result(*, cutoff: float | None = 10.0, **attrs) -> pd.DataFrame:
    """A ``reliable_change`` output with every category, and one patient without a post score."""
    frame = pd.DataFrame(
        {
            "patient": ["a", "b", "c", "d", "e", "f", "g", "h"],
            "pre": [20.0, 18.0, 15.0, 16.0, 14.0, 6.0, 12.0, 17.0],
            "post": [6.0, 11.0, 14.0, 15.0, 22.0, 16.0, np.nan, 9.0],
            "change": [-14.0, -7.0, -1.0, -1.0, 8.0, 10.0, np.nan, -8.0],
            "rci": [-3.0, -1.5, -0.2, -0.2, 1.7, 2.1, np.nan, -1.7],
            "category": pd.Categorical(
                ["recovered", "improved", "unchanged", "unchanged", "deteriorated", "harmed",
                 None, "recovered"],
                categories=["recovered", "improved", "unchanged", "deteriorated", "harmed"],
                ordered=True,
            ),
            "reason": [None] * 6 + ["only one observed score", None],
        }
    )
    frame.attrs.update(method="JT", rule="statistical", better="lower", critical_value=CRITICAL,
                       s_diff=S_DIFF)
    if cutoff is not None:
        frame.attrs["cutoff"] = cutoff
    frame.attrs.update(attrs)
    return frame


def _lines(ax: Axes) -> dict[str, object]:
    return {line.get_gid(): line for line in ax.get_lines()}


def _points(ax: Axes) -> dict[str, np.ndarray]:
    return {
        c.get_gid().removeprefix("category:"): c.get_offsets()
        for c in ax.collections
        if (c.get_gid() or "").startswith("category:")
    }


def test_returns_axes_with_points_per_category():
    ax = plot_change(_result())
    assert isinstance(ax, Axes)
    points = _points(ax)
    assert list(points) == ["recovered", "improved", "unchanged", "deteriorated", "harmed"]
    assert {k: len(v) for k, v in points.items()} == {
        "recovered": 2, "improved": 1, "unchanged": 2, "deteriorated": 1, "harmed": 1,
    }
    assert sum(len(v) for v in points.values()) == 7  # the patient without a post is not drawn
    np.testing.assert_array_equal(points["harmed"], [[6.0, 16.0]])


def test_colours_follow_the_fixed_map():
    ax = plot_change(_result())
    for collection in ax.collections:
        name = collection.get_gid().removeprefix("category:")
        assert to_hex(collection.get_facecolor()[0]).lower() == CATEGORY_COLORS[name].lower()


def _shape(marker: str) -> np.ndarray:
    from matplotlib.markers import MarkerStyle

    style = MarkerStyle(marker)
    return style.get_path().transformed(style.get_transform()).vertices


def test_categories_differ_by_shape_not_only_by_colour():
    # Okabe-Ito colours, and a different marker for every category: a reader who cannot tell
    # the colours apart still tells deteriorated and harmed from improved and recovered
    assert len(set(CATEGORY_MARKERS.values())) == len(CATEGORY_MARKERS)
    assert not {"#1a9850", "#d73027"} & {c.lower() for c in CATEGORY_COLORS.values()}
    ax = plot_change(_result())
    for collection in ax.collections:
        name = collection.get_gid().removeprefix("category:")
        np.testing.assert_allclose(collection.get_paths()[0].vertices,
                                   _shape(CATEGORY_MARKERS[name]))


def test_diagonal_band_and_cutoff_lines():
    ax = plot_change(_result())
    lines = _lines(ax)
    assert set(lines) == {"no_change", "band_upper", "band_lower", "cutoff_pre", "cutoff_post"}
    x, y = lines["no_change"].get_data()
    np.testing.assert_allclose(y, x)
    band = CRITICAL * S_DIFF  # 4.5966 points
    x, y = lines["band_upper"].get_data()
    np.testing.assert_allclose(np.asarray(y) - np.asarray(x), band)
    x, y = lines["band_lower"].get_data()
    np.testing.assert_allclose(np.asarray(y) - np.asarray(x), -band)
    assert lines["cutoff_pre"].get_xdata()[0] == 10.0
    assert lines["cutoff_post"].get_ydata()[0] == 10.0


def test_no_cutoff_no_cutoff_lines():
    ax = plot_change(_result(cutoff=None))
    assert set(_lines(ax)) == {"no_change", "band_upper", "band_lower"}


def test_fixed_rule_band_is_its_points():
    result = _result(rule="fixed", points=6.0)
    del result.attrs["s_diff"]
    result.attrs["critical_value"] = 1.0
    x, y = _lines(plot_change(result))["band_upper"].get_data()
    np.testing.assert_allclose(np.asarray(y) - np.asarray(x), 6.0)


def test_keywords_override_attrs():
    ax = plot_change(_result(), band=3.0, cutoff=8.0)
    lines = _lines(ax)
    x, y = lines["band_upper"].get_data()
    np.testing.assert_allclose(np.asarray(y) - np.asarray(x), 3.0)
    assert lines["cutoff_pre"].get_xdata()[0] == 8.0


def test_missing_or_odd_attrs_are_tolerated():
    result = _result()
    result.attrs.clear()
    result.attrs.update(s_diff="n/a", cutoff=float("nan"), better="sideways")
    ax = plot_change(result)
    assert set(_lines(ax)) == {"no_change"}
    assert ax.get_title() == ""


def test_uses_the_given_axes():
    _fig, (left, right) = plt.subplots(1, 2)
    before = plt.get_fignums()
    ax = plot_change(_result(), ax=right)
    assert ax is right
    assert plt.get_fignums() == before
    assert len(left.collections) == 0 and len(right.collections) == 5


def test_labels_title_and_limits():
    ax = plot_change(_result(), label="PHQ-9", limits=(0, 27))
    assert ax.get_xlabel() == "PHQ-9 (pre)" and ax.get_ylabel() == "PHQ-9 (post)"
    assert ax.get_title() == "Reliable change (JT)"
    assert ax.get_xlim() == (0.0, 27.0) and ax.get_ylim() == (0.0, 27.0)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "deteriorated (n=1)" in texts and "recovered (n=2)" in texts


def test_better_higher_puts_better_on_top():
    ax = plot_change(_result(better="higher"))
    position = {t.get_text(): t.get_position()[1] for t in ax.texts}
    assert position["better"] > position["worse"]
    ax = plot_change(_result())
    position = {t.get_text(): t.get_position()[1] for t in ax.texts}
    assert position["better"] < position["worse"]


def test_jitter_is_reproducible_and_bounded():
    first = _points(plot_change(_result(), jitter=0.3))["recovered"]
    second = _points(plot_change(_result(), jitter=0.3))["recovered"]
    np.testing.assert_array_equal(first, second)
    assert np.abs(first - np.array([[20.0, 6.0], [17.0, 9.0]])).max() <= 0.3


def test_unknown_categories_are_still_drawn():
    result = _result()
    result["category"] = result["category"].astype(object).replace({"harmed": "other"})
    points = _points(plot_change(result))
    assert "other" in points and len(points["other"]) == 1


def test_no_legend():
    assert plot_change(_result(), legend=False).get_legend() is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"band": -1.0}, exc.ParameterError, "band"),
        ({"better": "up"}, exc.ParameterError, "better"),
        ({"jitter": -0.1}, exc.ParameterError, "jitter"),
        ({"limits": (27, 0)}, exc.ParameterError, "limits"),
        ({"limits": 27}, exc.ParameterTypeError, "limits"),
        ({"ax": "not an axes"}, exc.ParameterTypeError, "ax"),
    ],
)
def test_bad_keywords(kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_change(_result(), **kwargs)


def test_bad_result():
    with pytest.raises(exc.ParameterTypeError, match="result"):
        plot_change([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(exc.ColumnNotFoundError, match="post"):
        plot_change(_result().drop(columns="post"))


def test_install_hint_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'iatrogenic\[plot\]'"):
        plot_change(_result())
    assert INSTALL_HINT == "pip install 'iatrogenic[plot]'"


def test_import_does_not_import_matplotlib():
    code = "import sys, iatrogenic.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- plot_course ---------------------------------------------------------------------------

_COURSE = pd.DataFrame({
    "patient": [1] * 9 + [2] * 9,
    "session": list(range(1, 10)) * 2,
    "score": [30, 31, 29, 18, 17, 16, 25, 26, 15, 10, 9, 10, 20, 21, 20, 21, 20, 21],
})


def test_plot_course_marks_gains_and_losses():
    events = pd.concat([sudden_changes(_COURSE, cutoff=7),
                        sudden_changes(_COURSE, kind="loss", cutoff=7)], ignore_index=True)
    ax = plot_course(_COURSE, 1, events=events)
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["score", "sudden gain"]
    assert ax.get_title() == "Patient 1"
    assert len(ax.collections) == 1  # the gain at 3 -> 4 is reversed (25 at session 7)
    ax2 = plot_course(_COURSE, 2, events=events)
    assert [line.get_label() for line in ax2.lines] == ["score", "sudden loss"]
    plt.close("all")


def test_plot_course_on_given_axes_without_events():
    fig, ax = plt.subplots()
    out = plot_course(_COURSE, 2, ax=ax, title="x")
    assert out is ax and len(ax.lines) == 1 and ax.get_title() == "x"
    plt.close(fig)


def test_plot_course_unknown_patient_and_bad_ax():
    with pytest.raises(exc.ParameterError, match="patient_id"):
        plot_course(_COURSE, 99)
    with pytest.raises(exc.ParameterTypeError, match="'ax'"):
        plot_course(_COURSE, 1, ax="axes")


# --- plot_expected ---------------------------------------------------------------------------

_EXPECTED_DATA = pd.DataFrame(
    {"patient": 1, "session": range(1, 8), "phq9": [16, 14, 17, 19, 24, np.nan, 15]}
)


def test_draws_course_bands_and_signal_colours():
    import matplotlib.pyplot as plt

    ax = plot_expected(load_reference_model(), _EXPECTED_DATA, 1)
    assert len(ax.collections) == 3  # alarm band, warning band, markers
    markers = ax.collections[2]
    colours = [matplotlib.colors.to_hex(c) for c in markers.get_facecolors()]
    expected = ["green", "green", "yellow", "red", "red", "green"]
    assert colours == [SIGNAL_COLORS[s].lower() for s in expected]
    # the signal is in the marker's shape too: circle, diamond, up-triangle
    shapes = [path.vertices for path in markers.get_paths()]
    assert len(shapes) == len(expected)
    for vertices, signal in zip(shapes, expected, strict=True):
        np.testing.assert_allclose(vertices, _shape(SIGNAL_MARKERS[signal]))
    assert ax.get_title() == "Patient 1"
    # as track(): the expected course starts at the intake score; the bands after intake
    line = next(line for line in ax.get_lines() if line.get_label() == "expected")
    x, y = line.get_data()
    assert x[0] == 1 and y[0] == 16
    track = load_reference_model().track(_EXPECTED_DATA, score="phq9")
    later = track[track["session"] == 2]
    assert np.interp(2, x, y) == pytest.approx(float(later["expected"].iloc[0]), rel=1e-6)
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 0].min() > 1
    plt.close("all")


def test_uses_given_axes_and_rejects_bad_input():
    import matplotlib.pyplot as plt

    _fig, ax = plt.subplots()
    assert plot_expected(load_reference_model(), _EXPECTED_DATA, 1, ax=ax) is ax
    with pytest.raises(exc.ParameterError, match="patient_id"):
        plot_expected(load_reference_model(), _EXPECTED_DATA, 99)
    with pytest.raises(exc.ParameterTypeError, match="model"):
        plot_expected("model", _EXPECTED_DATA, 1)
    with pytest.raises(exc.ParameterTypeError, match="ax"):
        plot_expected(load_reference_model(), _EXPECTED_DATA, 1, ax="axes")
    plt.close("all")
