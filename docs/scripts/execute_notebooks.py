"""Execute the notebooks top to bottom and store them with their outputs.

Run from the repository root after a change that alters what a notebook shows::

    python docs/scripts/execute_notebooks.py                         # every notebook
    python docs/scripts/execute_notebooks.py 05-harm-screen-evaluation.ipynb

The documentation site renders the stored outputs without executing anything, and
``tests/test_notebooks.py`` checks that each stored notebook was executed in one run (execution
counts 1, 2, 3, ...), holds no error and keeps its figures; it also executes each notebook, so a
notebook whose code breaks fails there whatever its stored outputs say. The kernel runs headless
(``MPLBACKEND=Agg``) with the notebook's folder as working directory, as in the tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def execute(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    nbformat.write(notebook, path)


def main(names: list[str]) -> None:
    os.environ["MPLBACKEND"] = "Agg"
    paths = [NOTEBOOK_DIR / name for name in names] or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"no notebook {path}")
        execute(path)
        print(f"executed and stored {path.relative_to(NOTEBOOK_DIR.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])
