"""Shared fixtures: where the R peers' data and reference results live.

The peer folder (``shared/data/peers`` beside the repository) is found through the
``IATROGENIC_PEER_DATA`` variable or by walking up from this file. Tests that need it skip with a
reason when it is absent; ``.ci/run`` sets ``IATROGENIC_REQUIRE_PEER_DATA=1`` so that in CI its
absence is a failure, never a silent skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _find_peer_dir() -> Path | None:
    env = os.environ.get("IATROGENIC_PEER_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "data" / "peers"
        if candidate.is_dir():
            return candidate
    return None


PEER_DIR = _find_peer_dir()


@pytest.fixture(scope="session")
def peer_dir() -> Path:
    """Folder with the peer data sets; ``refs/`` inside holds the R reference outputs."""
    if PEER_DIR is None or not (PEER_DIR / "refs").is_dir():
        message = (
            "peer data not found: set IATROGENIC_PEER_DATA to the shared/data/peers folder"
        )
        if os.environ.get("IATROGENIC_REQUIRE_PEER_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return PEER_DIR
