"""The static HTML export, read as a file (tests/browser opens it in Chromium)."""

from __future__ import annotations

import base64
import json
import re

import anywidget
import ipywidgets
import numpy as np
import pytest

import circuitwidgets as cw
from circuitwidgets.widgets import _export
from circuitwidgets.widgets._bundles import read_bundle, read_vendor

HOSTILE = 'a </script><script>alert(1)</script> <!-- b'


@pytest.fixture(scope="module")
def exported(random_model, tmp_path_factory):
    w = cw.TokenView(random_model, HOSTILE)
    path = w.save_html(tmp_path_factory.mktemp("export") / "view.html")
    return w, path.read_text(encoding="utf-8")


def _scripts(page, kind):
    return re.findall(rf'<script type="{re.escape(kind)}">(.*?)</script>', page, flags=re.S)


def test_state_is_embedded_with_everything_the_view_needs(exported):
    w, page = exported
    (state_json,) = _scripts(page, "application/vnd.jupyter.widget-state+json")
    state = json.loads(state_json)
    model = state["state"][w.model_id]
    assert model["state"]["_esm"] == read_bundle("token_view")[0]
    assert model["state"]["text"] == HOSTILE and model["state"]["tokens"] == w.tokens
    assert model["state"]["_static"] is True and w._static is False  # only the copy is marked
    buffers = {tuple(b["path"]): b for b in model["buffers"]}
    probs = np.frombuffer(base64.b64decode(buffers[("probs", "buffer")]["data"]), "<f4")
    np.testing.assert_array_equal(probs[1:], w.result.probs[1:].numpy())
    (view_json,) = _scripts(page, "application/vnd.jupyter.widget-view+json")
    assert json.loads(view_json)["model_id"] == w.model_id


def test_page_is_self_contained(exported):
    _, page = exported
    assert page.count('define("anywidget", [') == 1
    assert read_vendor("require.js")[:200] in page
    assert 'define("@jupyter-widgets/html-manager"' in page
    assert not re.search(r'<(script|link)[^>]+(src|href)=', page)  # nothing loaded by URL


def test_user_text_cannot_end_a_script_element(exported):
    _, page = exported
    # Every </script> in the page closes one of the scripts we wrote: 3 vendor, state, view.
    assert page.count("</script>") == 5
    assert "<script>alert(1)" not in page and "<!-- b" not in page


def test_several_widgets_in_one_file(random_model, tmp_path):
    a, b = cw.TokenView(random_model, "one"), cw.TokenView(random_model, "two")
    page = cw.save_html([a, b], tmp_path / "two.html", title="Two <views>").read_text()
    specs = [json.loads(s)["model_id"] for s in _scripts(page, "application/vnd.jupyter.widget-view+json")]
    assert specs == [a.model_id, b.model_id]
    assert "<title>Two &lt;views&gt;</title>" in page


def test_bad_arguments(random_model, tmp_path):
    with pytest.raises(ValueError, match="at least one widget"):
        cw.save_html([], tmp_path / "x.html")
    with pytest.raises(TypeError, match="got int"):
        cw.save_html([cw.TokenView(random_model, "x"), 3], tmp_path / "x.html")
    with pytest.raises(TypeError, match="got Widget"):
        cw.save_html(ipywidgets.Widget(), tmp_path / "x.html")


@pytest.mark.parametrize("source, found", [("var x = 1;", 0), ('define(["a"], f);\ndefine( [ "b"], g);', 2)])
def test_unknown_anywidget_build_is_refused(tmp_path, monkeypatch, source, found):
    (tmp_path / "nbextension").mkdir()
    (tmp_path / "nbextension" / "index.js").write_text(source)
    monkeypatch.setattr(anywidget, "__file__", str(tmp_path / "__init__.py"))
    with pytest.raises(RuntimeError, match=f"exactly one anonymous `define\\(\\[...\\]\\)`.*found {found}"):
        _export.anywidget_amd_module()
