"""The built view bundles are self-contained ES modules that any notebook page can import.

Pages in the classic-notebook tradition (Notebook 6, VS Code's widget renderer, a static export
that loads RequireJS) put an AMD ``define`` on ``window``. UMD code bundled into a view would
then register itself with that loader instead of running, and the view would not draw. The
build maps ``define.amd`` to ``false`` (js/build.mjs), so such code takes its plain branch and
esbuild drops the AMD one: no ``define`` may be left in any bundle. The browser counterpart is
tests/browser/test_notebook7.py, which renders views under a recording ``define``.
"""

from __future__ import annotations

import json
import re
import tomllib

import pytest

import circuitwidgets as cw
from circuitwidgets.widgets._bundles import STATIC_DIR, read_bundle
from view_registry import ROOT, VIEWS

BUNDLES = sorted(p.stem for p in STATIC_DIR.glob("*.js"))


def test_every_view_of_the_registry_is_built_and_nothing_else():
    registered = [v["bundle"] for v in VIEWS]
    assert sorted(registered) == BUNDLES
    manifest = json.loads((STATIC_DIR / "views.json").read_text())
    assert list(manifest) == registered  # written by js/build.mjs once all were built
    for view in VIEWS:
        assert (ROOT / view["entry"]).is_file(), view
        assert manifest[view["bundle"]]["css"] == (STATIC_DIR / f"{view['bundle']}.css").is_file()


def test_each_registered_class_loads_its_bundle():
    for view in VIEWS:
        cls = getattr(cw, view["class"])
        bundle = getattr(cls, "_bundle", "selection" if cls is cw.Selection else None)
        assert bundle == view["bundle"], (view, bundle)


def test_the_build_hook_ensures_the_registry_manifest():
    hook = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["hooks"]["jupyter-builder"]
    assert "circuitwidgets/static/views.json" in hook["ensured-targets"]
    assert "circuitwidgets/static/views.json" in hook["skip-if-exists"]


@pytest.mark.parametrize("name", BUNDLES)
def test_bundle_is_an_es_module_with_no_amd_define(name):
    js, _ = read_bundle(name)
    assert re.search(r"export\s*\{\s*[\w$]+ as default\s*\}\s*;?\s*$", js), f"{name}.js has no default export"
    amd = [js[max(0, m.start() - 40): m.end() + 40] for m in re.finditer(r"\bdefine\b", js)]
    assert amd == [], f"{name}.js refers to an AMD define: {amd[:3]}"
