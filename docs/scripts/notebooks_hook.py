"""MkDocs hook: render the notebooks stored in ``notebooks/`` as pages under ``notebooks/``.

The notebooks live at the repository root (the test suite executes them there, and the README
links to them), outside ``docs/``. This hook adds each one to the site's files before
mkdocs-jupyter sees them, so that the site renders the stored, executed copies without a second
copy or a symbolic link in the repository. Pages link to the notebooks where they are in the
repository (``../notebooks/01-quickstart.ipynb`` from ``docs/index.md``), so that the links work
on GitHub and in the sdist too; the hook points those links at the rendered pages.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"

# the target of a Markdown link or image to a notebook: ](path.ipynb) or ](path.ipynb#anchor)
NOTEBOOK_LINK = re.compile(r"\]\(([^)\s]+\.ipynb)((?:#[^)\s]*)?)\)")


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns .ipynb files into pages
def on_files(files: Files, config: MkDocsConfig) -> Files:
    for notebook in sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        # a File read from the repository root (not File.generated: mkdocs-jupyter's wrapper reads
        # the path back from src_dir, which a generated file does not have)
        files.append(
            File(
                f"notebooks/{notebook.name}",
                src_dir=str(NOTEBOOK_DIR.parent),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    return files


def on_page_markdown(markdown: str, page: Page, **kwargs: object) -> str:
    """Point links to ``<repository>/notebooks/X.ipynb`` at the rendered ``notebooks/X.ipynb``."""
    folder = posixpath.dirname(f"docs/{page.file.src_uri}")

    def rewrite(match: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(folder, match.group(1)))
        if not target.startswith("notebooks/"):
            return match.group(0)
        within_docs = posixpath.relpath(f"docs/{target}", folder)
        return f"]({within_docs}{match.group(2)})"

    return NOTEBOOK_LINK.sub(rewrite, markdown)
