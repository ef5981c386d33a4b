"""The built view bundles are self-contained ES modules that any notebook page can import.

Pages in the classic-notebook tradition (Notebook 6, VS Code's widget renderer, a static export
that loads RequireJS) put an AMD ``define`` on ``window``. UMD code bundled into a view would
then register itself with that loader instead of running, and the view would not draw. The
build maps ``define.amd`` to ``false`` (js/build.mjs), so such code takes its plain branch and
esbuild drops the AMD one: no ``define`` may be left in any bundle. The browser counterpart is
tests/browser/test_notebook7.py, which renders views under a recording ``define``.
"""

from __future__ import annotations

import re

import pytest

from circuitwidgets.widgets._bundles import STATIC_DIR, read_bundle

BUNDLES = sorted(p.stem for p in STATIC_DIR.glob("*.js"))


def test_every_view_is_built():
    assert {"attention_explorer", "induction_scores", "selection", "token_view"} <= set(BUNDLES)


@pytest.mark.parametrize("name", BUNDLES)
def test_bundle_is_an_es_module_with_no_amd_define(name):
    js, _ = read_bundle(name)
    assert re.search(r"export\s*\{\s*[\w$]+ as default\s*\}\s*;?\s*$", js), f"{name}.js has no default export"
    amd = [js[max(0, m.start() - 40): m.end() + 40] for m in re.finditer(r"\bdefine\b", js)]
    assert amd == [], f"{name}.js refers to an AMD define: {amd[:3]}"
