"""Shared fixtures: where the R peers' data sets and reference results live.

They are part of the repository, in ``tests/refs/`` (its ``README.md`` lists every file with its
source, licence and the exact R call that made it). The tests only read these files; they never
need R. A missing file is an error, never a skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REFS_DIR = Path(__file__).resolve().parent / "refs"


@pytest.fixture(scope="session")
def refs_dir() -> Path:
    """``tests/refs``: ``datasets/`` (the peer data sets) and one folder of reference output per
    R package (``clinicalsignificance/``, ``suddengains/``, ``lme4/``)."""
    assert REFS_DIR.is_dir(), f"reference data folder missing: {REFS_DIR}"
    return REFS_DIR
