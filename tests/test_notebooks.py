"""The notebooks run from top to bottom without error (so they never go stale), and the copies in
the repository are stored executed, with their outputs.

The replication notebooks (``02-clinicalsignificance-replication``, ``03-suddengains-replication``)
compare every table with the stored R references in ``tests/refs/`` and end with assertions, so
a replication that breaks fails here.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {
    "01-quickstart.ipynb",
    "02-clinicalsignificance-replication.ipynb",
    "03-suddengains-replication.ipynb",
}
REPLICATIONS = {"02-clinicalsignificance-replication.ipynb", "03-suddengains-replication.ipynb"}


def test_expected_notebooks_present():
    assert {p.name for p in NOTEBOOKS} >= EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
    # Headless, as in CI: the kernel inherits MPLBACKEND. The notebook's folder is the working
    # directory, as in Jupyter; the notebooks find the repository from there.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    assert any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_stored_with_outputs(path):
    """The file in the repository was executed top to bottom in one run and kept its outputs."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert [cell.get("execution_count") for cell in code] == list(range(1, len(code) + 1))
    outputs = [output for cell in code for output in cell.get("outputs", [])]
    assert outputs
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if path.name in REPLICATIONS:
        # tables and figures are stored, and the notebook ends with its checks
        assert any("image/png" in o.get("data", {}) for o in outputs)
        assert sum("text/html" in o.get("data", {}) for o in outputs) >= 5
        assert "assert max_diff < 1e-8" in code[-1].source
