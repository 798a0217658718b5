"""The three layers, checked from the code's own imports: each layer imports only the ones below it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Layer → (where its modules are, top-level modules it must never import).
LAYERS = {
    "engine": (["quant"], {"streamlit", "plotly", "dashboard", "app"}),
    "page model and figures": (["dashboard/model"], {"streamlit", "app", "dashboard.views"}),
}


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, by its full dotted name (relative imports left out: they stay inside)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def modules_of(folders: list[str]) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_nothing_from_above_it(layer):
    folders, forbidden = LAYERS[layer]
    offences = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) if any(name == f or name.startswith(f + ".") for f in forbidden)
        )
        for path in modules_of(folders)
    }
    assert {path: names for path, names in offences.items() if names} == {}


def test_app_stays_a_short_composition():
    assert len((ROOT / "app.py").read_text().splitlines()) <= 150


def test_the_cli_lists_methods_without_loading_the_heavy_libraries():
    code = (
        "import sys, runpy; sys.argv = ['quant', '--list-methods']\n"
        "try:\n    runpy.run_module('quant', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('numba', 'scipy', 'sklearn', 'skimage', 'streamlit', 'plotly') if m in sys.modules),"
        " file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "[]"
    assert "kmeans" in done.stdout
