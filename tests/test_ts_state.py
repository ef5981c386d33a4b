"""Each view's synced traits in Python against its TypeScript state type, so the two cannot
drift (issue #16, point 4).

A view's state type is the one its ``render`` function takes (``RenderProps<State>``), found in
the TypeScript files that belong to the view: ``js/src/<view>.ts`` or any file under a
``js/src/<view>/`` folder (searched recursively, so the views can move into folders). Its
top-level keys must be exactly the view's synced traits (less anywidget's own), and where the
Python trait is a plain string, number, boolean, binary array or widget reference, the
TypeScript type must say so.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import anywidget
import pytest
import traitlets

import circuitwidgets as cw
from circuitwidgets.widgets._transport import BinaryArray
from circuitwidgets.widgets.selection import SELECTION_FIELDS

SRC = Path(__file__).resolve().parent.parent / "js" / "src"
WIDGET_TRAITS = set(anywidget.AnyWidget.class_trait_names())
VIEWS = (cw.TokenView, cw.AttentionExplorer, cw.OVBrowser, cw.LogitLens, cw.InductionScores, cw.CircuitExplorer, cw.CompositionGraph)

#: Synced traits a view's own script does not read, and why (they are not in its state type).
NOT_READ = {
    ("CircuitExplorer", "selection"): "each panel reads its own view's selection; the dashboard draws none",
}


def view_sources(bundle: str) -> list[Path]:
    """The TypeScript files of one view: ``<bundle>.ts`` anywhere under js/src, or any file in
    a folder named ``<bundle>``."""
    return sorted(
        p for p in SRC.rglob("*.ts")
        if p.stem == bundle or bundle in p.parent.relative_to(SRC).parts
    )


def _body(text: str, name: str) -> str:
    """The ``{ ... }`` of ``interface name`` or ``type name =`` in ``text``."""
    found = re.search(rf"(?:\binterface\s+{name}\b[^{{]*|\btype\s+{name}\s*=\s*)\{{", text)
    assert found, f"no interface or type named {name}"
    start = end = found.end()
    depth = 1
    while depth:
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        end += 1
    return text[start:end - 1]


def state_type(bundle: str) -> dict[str, str]:
    """The top-level keys of the view's state type and their TypeScript types."""
    sources = view_sources(bundle)
    assert sources, f"no TypeScript source for the {bundle!r} view under {SRC}"
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    render = re.search(r"\}\s*:\s*RenderProps<(\w+)>", text)
    assert render, f"no render({{...}}: RenderProps<State>) in {[str(p) for p in sources]}"
    keys, depth = {}, 0
    for line in _body(text, render.group(1)).splitlines():
        field = re.match(r"\s*(\w+)\??\s*:\s*(.*?);?\s*$", line)
        if depth == 0 and field:
            keys[field.group(1)] = field.group(2)
        depth += line.count("{") - line.count("}")
    return keys


def synced(cls) -> dict[str, traitlets.TraitType]:
    return {n: t for n, t in cls.class_traits(sync=True).items() if n not in WIDGET_TRAITS}


def expected_ts(trait: traitlets.TraitType) -> str | None:
    """A regex the TypeScript type of ``trait`` must match, or None for structured values."""
    if isinstance(trait, BinaryArray):
        return r"WireArray \| null"
    if isinstance(trait, traitlets.Instance) and issubclass(trait.klass, anywidget.AnyWidget):
        return r"string"  # a widget reference: "IPY_MODEL_<id>"
    if isinstance(trait, traitlets.Enum):
        return r"\w+"  # a union type named in the script
    if isinstance(trait, traitlets.Bool):
        return r"boolean"
    if isinstance(trait, traitlets.Int):
        return r"number \| null" if trait.allow_none else r"number"
    if isinstance(trait, traitlets.Unicode):
        return r"string"
    return None


@pytest.mark.parametrize("cls", VIEWS, ids=lambda c: c.__name__)
def test_synced_traits_are_the_state_type(cls):
    ts = state_type(cls._bundle)
    py = {n for n in synced(cls) if (cls.__name__, n) not in NOT_READ}
    assert sorted(py - set(ts)) == [], f"{cls.__name__}: synced in Python, missing from its TypeScript state type"
    assert sorted(set(ts) - py) == [], f"{cls.__name__}: in its TypeScript state type, not a synced trait"
    for name, trait in synced(cls).items():
        pattern = expected_ts(trait)
        if name in ts and pattern is not None:
            assert re.fullmatch(pattern, ts[name]), f"{cls.__name__}.{name}: Python {type(trait).__name__}, TypeScript {ts[name]!r}"


def test_the_exceptions_are_still_synced_and_unread():
    for (view, name), why in NOT_READ.items():
        cls = getattr(cw, view)
        assert name in synced(cls), f"{view}.{name} is no longer synced: drop it from NOT_READ"
        assert name not in state_type(cls._bundle), f"{view}'s script now reads {name}: drop it from NOT_READ ({why})"


def test_selection_fields_are_the_scripts():
    text = "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.ts"))
    found = re.search(r"export const SELECTION_FIELDS = \[([^\]]*)\]", text)
    assert found, "no SELECTION_FIELDS in js/src"
    assert tuple(re.findall(r'"(\w+)"', found.group(1))) == SELECTION_FIELDS
    assert set(synced(cw.Selection)) == set(SELECTION_FIELDS)
    assert all(expected_ts(t) == r"number \| null" for t in synced(cw.Selection).values())


def test_a_drifted_state_type_is_caught(tmp_path, monkeypatch):
    """The parser sees a renamed key (so the comparison above can fail)."""
    view = tmp_path / "token_view"
    view.mkdir()
    source = (SRC / "token_view.ts") if (SRC / "token_view.ts").exists() else next(iter(view_sources("token_view")))
    (view / "index.ts").write_text(source.read_text(encoding="utf-8").replace("token_ids:", "tokenIds:"), encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    keys = state_type("token_view")
    assert "tokenIds" in keys and "token_ids" not in keys
