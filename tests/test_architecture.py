"""docs/architecture.md's worked example of a new view runs, and gets what the page says it
gets from the view base: keyword checks, validation, read-only traits, values in Python and
the wire in the browser's form, linking, inline errors, an export."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
import traitlets

import circuitwidgets as cw
from circuitwidgets.widgets import _bundles
from circuitwidgets.widgets._transport import encode_trait, from_wire

PAGE = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
TEXT = "When Mary and John went to the store, John gave a drink to Mary."


@pytest.fixture
def HeadEntropy(tmp_path, monkeypatch):
    section = PAGE.read_text(encoding="utf-8").split("## Adding a view", 1)[1]
    (source,) = re.findall(r"```py\n(.*?)```", section, flags=re.S)[:1]
    static = tmp_path / "static"
    shutil.copytree(_bundles.STATIC_DIR, static)  # the real bundles, and a stand-in script
    (static / "head_entropy.js").write_text("export default { render() {} };\n")
    monkeypatch.setattr(_bundles, "STATIC_DIR", static)
    namespace: dict = {}
    exec(compile(source, str(PAGE), "exec"), namespace)
    return namespace["HeadEntropy"]


def test_the_worked_example_gets_what_the_page_says(HeadEntropy, plain_model, tmp_path):
    with pytest.raises(TypeError, match=r"'haed' \(did you mean 'head'\?\)"):
        HeadEntropy(plain_model, TEXT, haed=1)
    w = HeadEntropy(plain_model, TEXT, layer=1, head=2)
    expected = cw.analysis.attention_patterns(plain_model, TEXT).entropy
    assert isinstance(w.entropy, torch.Tensor) and torch.equal(w.entropy, expected)
    wire = encode_trait(w, "entropy")
    assert wire["dtype"] == "float32" and from_wire(wire).tolist() == expected.tolist()
    with pytest.raises(traitlets.TraitError, match=r"head 9 is out of range; this model has heads 0\.\.3"):
        w.head = 9
    assert (w.layer, w.head) == (1, 2) == (w.selection.layer, w.selection.head)
    with pytest.raises(traitlets.TraitError, match=r"entropy is read-only.*you can set are head, layer, text"):
        w.entropy = 0
    w.text = ""
    assert "empty" in w.error and torch.equal(w.entropy, expected)  # inline; the drawing stays
    w.text = "a b c a b c"
    assert w.error == "" and not torch.equal(w.entropy, expected) and w.busy == ""
    other = cw.InductionScores(plain_model, half=8, batch=2)
    cw.link(w, other)
    other.select(0, 3)
    assert (w.layer, w.head) == (0, 3)
    page = w.save_html(tmp_path / "entropy.html").read_text(encoding="utf-8")
    assert "export default { render() {} }" in page
