"""``import iatrogenic`` stays light: no plotting or distributed libraries at start-up."""

from __future__ import annotations

import subprocess
import sys

import iatrogenic as ia


def test_import_does_not_load_optional_extras():
    code = (
        "import sys, iatrogenic; "
        "print(','.join(m for m in ('matplotlib', 'dask', 'tqdm', 'IPython') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_surface_is_explicit():
    for name in ia.__all__:
        assert hasattr(ia, name), name
    for name in ("reliable_change", "screen", "list_detectors", "datasets", "instruments"):
        assert name in ia.__all__
