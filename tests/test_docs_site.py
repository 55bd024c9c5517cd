"""The documentation site builds with ``mkdocs build --strict``, and has the pages it should.

Strict mode turns every warning into a failure: a broken link or anchor between pages, a page
missing from the navigation or a navigation entry without its file, a docstring that griffe
cannot parse (bad numpydoc section) and a cross-reference to a name that does not exist. The
build renders the notebooks from their stored outputs (no execution), so it takes seconds.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")
pytest.importorskip("mkdocs_jupyter")
pytest.importorskip("material")

import iatrogenic as ia

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"mkdocs build --strict failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    # warnings are fatal in strict mode; none should even be printed
    assert not re.search(r"^WARNING\s+-", result.stderr, flags=re.M), result.stderr
    return site_dir


def page(site: Path, path: str) -> str:
    file = site / path / "index.html"
    assert file.is_file(), f"missing page {path}"
    return file.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("api/screen", "screen"),
        ("api/screen", "list_detectors"),
        ("api/reliable-change", "reliable_change"),
        ("api/sudden-changes", "sudden_changes"),
        ("api/providers", "funnel"),
        ("api/providers", "provider_cusum"),
        ("api/classes", "fit_trajectory_classes"),
        ("api/growth", "fit_growth"),
        ("api/monitor", "Monitor"),
        ("api/datasets", "simulate"),
        ("api/evaluation", "evaluate"),
        ("api/io", "from_wide"),
        ("api/exceptions", "ParameterError"),
        ("api/detectors", "ReliableDeterioration"),
    ],
)
def test_api_page_documents(site, path, name):
    html = page(site, path)
    # mkdocstrings gives each documented object an anchor with its full path
    assert re.search(rf'id="iatrogenic\.(?:[a-z_]+\.)*{re.escape(name)}"', html), name


PUBLIC_MODULES = [
    "classes",
    "datasets",
    "detectors",
    "evaluation",
    "exceptions",
    "instruments",
    "io",
    "monitor",
    "plotting",
    "providers",
    "report",
]


def test_api_reference_covers_every_public_name(site):
    api = "".join(p.read_text(encoding="utf-8") for p in (site / "api").rglob("index.html"))
    anchors = set(re.findall(r'id="(iatrogenic\.[A-Za-z0-9_.]+)"', api))
    documented = {anchor.rsplit(".", 1)[-1] for anchor in anchors}
    missing = [f"ia.{name}" for name in ia.__all__ if name != "__version__"]
    for module in PUBLIC_MODULES:
        names = importlib.import_module(f"iatrogenic.{module}").__all__
        missing += [f"iatrogenic.{module}.{name}" for name in names]
    missing = [name for name in missing if name.rsplit(".", 1)[-1] not in documented]
    assert not missing, f"not in the API reference (docs/api/): {missing}"


def test_spliced_docstrings_are_complete(site):
    # sudden_changes' shared parameters are spliced in at import; the page shows them
    html = page(site, "api/sudden-changes")
    assert "{common}" not in html
    section = html.split('id="iatrogenic.sudden_changes"', 1)[1]
    assert "relative" in section[:20_000]


def test_shared_parameter_entries_keep_their_own_defaults(site):
    # "patient, time, score : str" documents three parameters; each shows its own default
    html = page(site, "api/reliable-change")
    section = html.split('id="iatrogenic.reliable_change"', 1)[1]
    rows = re.findall(
        r"<code>(patient|time|score)</code>.*?<code>&#39;(\w+)&#39;</code>", section, flags=re.S
    )
    assert rows[:3] == [("patient", "patient"), ("time", "session"), ("score", "score")]


def test_notebooks_rendered_with_stored_outputs(site):
    for name in NOTEBOOKS:
        html = page(site, f"notebooks/{name}")
        assert "jp-OutputArea" in html or "output_area" in html, name
    # figures are stored in the notebooks and rendered inline, without execution
    assert "data:image/png;base64" in page(site, "notebooks/05-harm-screen-evaluation")


def test_harm_pages_and_guides(site):
    harms = page(site, "harms")
    for harm in ia.detectors.HARMS:
        slug = harm.replace("_", "-")
        assert f'href="{slug}/"' in harms, harm
        # every harm page quotes its measured sensitivity and PPV from harms/metrics.md
        assert "sensitivity (95% CI)" in page(site, f"harms/{slug}"), harm
    metrics = page(site, "harms/metrics")
    assert "seed=5" in metrics
    for path in ("which-method", "glossary", "reliable-change", "input-data", "report"):
        page(site, path)


def test_measured_metrics_cover_every_patient_detector():
    """docs/harms/metrics.md was regenerated after the last detector was registered."""
    metrics = (ROOT / "docs" / "harms" / "metrics.md").read_text(encoding="utf-8")
    registry = ia.list_detectors()
    if "unit" in registry:
        registry = registry[registry["unit"] == "patient"]
    missing = [name for name in registry["name"] if f"[start:{name}]" not in metrics]
    assert not missing, f"run python docs/scripts/harm_metrics.py (missing: {missing})"
    assert "[start:provider]" in metrics


def test_docstring_references_are_links(site):
    # the Sphinx roles of the docstrings become checked cross-references (an unresolved one
    # fails the strict build): ia.evaluate's docstring links to the screen and the simulator
    html = page(site, "api/evaluation")
    assert 'href="../screen/#iatrogenic.screen"' in html
    assert 'href="../datasets/#iatrogenic.datasets.simulate"' in html
    assert ":func:`" not in html


def test_sphinx_roles_rewritten_as_cross_references():
    spec = importlib.util.spec_from_file_location(
        "griffe_sphinx_roles", ROOT / "docs" / "scripts" / "griffe_sphinx_roles.py"
    )
    assert spec is not None and spec.loader is not None
    roles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roles)

    def rewrite(text: str) -> str:
        return roles.ROLE.sub(roles._link, text)

    assert rewrite("see :func:`screen`.") == "see [`screen`][screen]."
    assert rewrite(":class:`~iatrogenic.core.growth.GrowthModel`") == (
        "[`GrowthModel`][iatrogenic.core.growth.GrowthModel]"
    )
    assert rewrite(":func:`ia.screen`") == "[`ia.screen`][iatrogenic.screen]"
    assert rewrite(":meth:`track()`") == "[`track`][track]"
    # private helpers are not in the reference: named as code, not linked
    assert rewrite(":func:`_refit_schedule`") == "`_refit_schedule`"
    assert rewrite("``plain code``") == "``plain code``"
