"""The README's quick start runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quick_start_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "README.md has no python example"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert len(namespace["change"]) == namespace["data"]["patient"].nunique()
    assert len(namespace["events"]) > 0
    assert set(namespace["new_events"]["detector"]) == {
        "off_track", "reliable_deterioration", "risk_item"
    }


def test_readme_shows_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    assert "pip install -e '.[report]' && iatrogenic screen --example" in text
    assert "pip install -e '.[test]' && python -m pytest" in text
