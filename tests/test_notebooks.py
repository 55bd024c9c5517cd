"""The notebooks run from top to bottom without error (so they never go stale), and the copies in
the repository are stored executed, with their outputs.

The replication notebooks (``02-clinicalsignificance-replication``, ``03-suddengains-replication``)
compare every table with the stored R references in ``tests/refs/`` and end with assertions, so
a replication that breaks fails here. The evaluation notebooks end with assertions too:
``04-growth-and-expected-response`` (sleepstudy against lme4, band calibration on held-out
patients, the deteriorating trajectory class) and ``05-harm-screen-evaluation`` (each detector's
sensitivity, PPV and lead time on a simulated cohort, the therapist funnel).
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
    "04-growth-and-expected-response.ipynb",
    "05-harm-screen-evaluation.ipynb",
}
REPLICATIONS = {"02-clinicalsignificance-replication.ipynb", "03-suddengains-replication.ipynb"}
# notebook -> a line its last cell must hold (the checks that make the test fail when results
# break), and the number of figures it stores
CHECKED = {
    "04-growth-and-expected-response.ipynb": ("assert max_vc_diff < 1e-4", 3),
    "05-harm-screen-evaluation.ipynb": ('assert by.loc["off_track", "sensitivity_low"] > 0.85', 3),
}


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
    if path.name in CHECKED:
        line, n_figures = CHECKED[path.name]
        assert sum("image/png" in o.get("data", {}) for o in outputs) >= n_figures
        assert line in code[-1].source
