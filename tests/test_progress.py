"""Progress bars (issue 13): optional tqdm bars that never change a result."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings

import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic import _progress
from iatrogenic._progress import progress
from iatrogenic.detectors.worsening_trajectory import WorseningTrajectory
from iatrogenic.exceptions import IatrogenicWarning, ParameterTypeError

DETECTORS = ["reliable_deterioration", "worsening_trajectory"]


class _Terminal(io.StringIO):
    """A standard error that says it is a terminal and keeps what is written to it."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def example() -> pd.DataFrame:
    return ia.datasets.load_example()


def _screen(data: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
    kwargs.setdefault("detectors", DETECTORS)
    return ia.screen(data, score="phq9", instrument="phq9", **kwargs)


def test_screen_draws_a_bar_with_the_detector_names(example, capsys):
    _screen(example, progress=True)
    err = capsys.readouterr().err
    assert "screen: 100%" in err
    assert "2/2" in err
    for name in DETECTORS:
        assert name in err  # the running detector is the bar's postfix


@pytest.mark.parametrize("setting", [False, None])
def test_no_bar_when_disabled_or_not_a_terminal(example, capsys, setting):
    # under pytest standard error is captured, not a terminal: the default draws nothing
    _screen(example, progress=setting)
    assert capsys.readouterr().err == ""


def test_default_draws_a_bar_on_a_terminal(example, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    _screen(example)
    assert "screen: 100%" in terminal.getvalue()


def test_results_identical_with_and_without_bars(example, capsys):
    with_bar = _screen(example, progress=True)
    without = _screen(example, progress=False)
    assert len(without) > 0
    pd.testing.assert_frame_equal(with_bar, without)
    assert with_bar.attrs["detectors"] == without.attrs["detectors"] == DETECTORS


def test_worsening_trajectory_bar_over_the_refits(example, capsys):
    quiet = _screen(example, detectors=[WorseningTrajectory(progress=False)])
    capsys.readouterr()
    shown = _screen(example, detectors=[WorseningTrajectory(progress=True)])
    err = capsys.readouterr().err
    assert "worsening_trajectory: occasions: 100%" in err
    assert len(quiet) > 0
    pd.testing.assert_frame_equal(shown, quiet)


@pytest.mark.parametrize("bad", ["yes", 1, 0.5])
def test_bad_progress_values_are_rejected_before_any_work(example, bad):
    with pytest.raises(ParameterTypeError, match=r"'progress' parameter of screen\(\)"):
        _screen(example, progress=bad)
    with pytest.raises(ParameterTypeError, match="'progress' parameter of WorseningTrajectory"):
        WorseningTrajectory(progress=bad)


def test_progress_yields_every_item_in_order(capsys):
    items = ["a", "b", "c"]
    assert list(progress(items, desc="demo", enabled=True, postfix=str.upper)) == items
    err = capsys.readouterr().err
    assert "demo: 100%" in err and "3/3" in err and "C" in err
    assert list(progress(iter(items), total=3, enabled=False)) == items
    assert capsys.readouterr().err == ""


def test_bar_closed_when_the_loop_stops_early(capsys):
    for item in progress(range(10), desc="stopped", enabled=True):
        if item == 2:
            break
    err = capsys.readouterr().err
    # closed (the final line written and ended) with the items finished so far
    assert "stopped:" in err and "2/10" in err and err.endswith("\n")


def test_true_without_tqdm_warns_once_and_runs_without_a_bar(monkeypatch, capsys):
    # a None entry in sys.modules makes ``import tqdm.auto`` raise ImportError
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    _progress._warn_tqdm_missing.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert list(progress([1, 2], enabled=True)) == [1, 2]
            assert list(progress([3], enabled=True)) == [3]
    finally:
        _progress._warn_tqdm_missing.cache_clear()
    messages = [str(w.message) for w in caught if issubclass(w.category, IatrogenicWarning)]
    assert len(messages) == 1
    assert "pip install 'iatrogenic[progress]'" in messages[0]
    assert capsys.readouterr().err == ""


def test_tqdm_imported_only_when_a_bar_is_drawn():
    code = (
        "import sys, iatrogenic as ia; "
        "data = ia.datasets.load_example(); "
        "ia.screen(data, score='phq9', instrument='phq9', detectors=['reliable_deterioration'], "
        "progress=False); "
        "print('tqdm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
