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
import torch
import traitlets

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.widgets import _payloads
from circuitwidgets.analysis import TokenMap
from circuitwidgets.widgets._transport import BinaryArray, Encoded
from circuitwidgets.widgets.selection import PAIR_FIELD, SELECTION_FIELDS

SRC = Path(__file__).resolve().parent.parent / "js" / "src"
WIDGET_TRAITS = set(anywidget.AnyWidget.class_trait_names())
VIEWS = (cw.TokenView, cw.AttentionExplorer, cw.OVBrowser, cw.LogitLens, cw.InductionScores, cw.PatchingExplorer, cw.CircuitExplorer, cw.FlowGraph, cw.CompositionGraph, cw.PathExplorer)

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
    pair = re.search(r'export const PAIR_FIELD = "(\w+)"', text)
    assert pair and pair.group(1) == PAIR_FIELD, "kit/selection.ts names the pair field as Python does"
    assert set(synced(cw.Selection)) == {*SELECTION_FIELDS, PAIR_FIELD}
    assert all(expected_ts(t) == r"number \| null" for n, t in synced(cw.Selection).items() if n != PAIR_FIELD)
    state = _body(text, "SelectionState")  # the pair is a list of ints in TypeScript too
    assert re.search(rf"\b{PAIR_FIELD}: number\[\]", state), state


def test_a_drifted_state_type_is_caught(tmp_path, monkeypatch):
    """The parser sees a renamed key (so the comparison above can fail)."""
    view = tmp_path / "token_view"
    view.mkdir()
    source = (SRC / "token_view.ts") if (SRC / "token_view.ts").exists() else next(iter(view_sources("token_view")))
    (view / "index.ts").write_text(source.read_text(encoding="utf-8").replace("token_ids:", "tokenIds:"), encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    keys = state_type("token_view")
    assert "tokenIds" in keys and "token_ids" not in keys


def payload_traits():
    return [(cls, n, t) for cls in VIEWS for n, t in synced(cls).items() if isinstance(t, Encoded)]


def ts_interface(name: str) -> set[str]:
    """The top-level keys of ``interface name`` anywhere under js/src."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.ts"))
    keys, depth = set(), 0
    for line in _body(text, name).splitlines():
        field = re.match(r"\s*(\w+)\??\s*:", line)
        if depth == 0 and field:
            keys.add(field.group(1))
        depth += line.count("{") - line.count("}")
    return keys


@pytest.mark.parametrize("cls, name, trait", payload_traits(), ids=lambda v: getattr(v, "__name__", v if isinstance(v, str) else ""))
def test_a_payload_trait_is_typed_as_its_mirror(cls, name, trait):
    """A payload trait's TypeScript type is its dataclass's mirror (``TS_TYPE``): ``X | null``,
    or ``X[]`` for a list of them."""
    ts = state_type(cls._bundle)[name]
    mirror = trait.mirror
    assert mirror is not None, f"{cls.__name__}.{name}: {trait.klass.__name__} names no TypeScript mirror (TS_TYPE or mirror=)"
    assert trait.klass in PAYLOADS, f"{trait.klass.__name__} has no example in PAYLOADS below"
    assert re.fullmatch(rf"{mirror}\[\]" if trait.many else rf"{mirror} \| null", ts), f"{cls.__name__}.{name}: TypeScript {ts!r}"


def _lens_payloads(model):
    lens = cw.LogitLens(model, "a b c a b", page_size=4)
    lens.target = " a"
    target = lens._target_payload([0])
    return {
        _payloads.LensPages: lens._lens_payload([0]),
        _payloads.LensPage: lens._lens_page_payload(0),
        _payloads.TargetPages: target,
        _payloads.TargetPage: target.pages[0],
        _payloads.AttributionState: lens._attribution_payload(1, None),
    }


def _scores_payloads(model):
    w = cw.InductionScores(model, half=4, batch=2, ablation="zero")
    return {
        _payloads.KindScores: w._scores, _payloads.TopHeads: w._top, _payloads.TargetRuns: w._targets,
        _payloads.ScoresShown: w._shown, _payloads.AblatedScores: w._ablated,
    }


def _token_map(model):
    return analysis.ov_token_map(model, 0, 1, [1, 2], k=3)


PAYLOADS = {
    TokenMap: _token_map,
    _payloads.TokenRef: lambda _: _payloads.TokenRef(1, "a"),
    _payloads.ShownExpansion: lambda m: _payloads.ShownExpansion(analysis.path_expansion(m, "a b c a b", position=-1), "weights", 2),
    _payloads.TokenDefaults: lambda m: cw.OVBrowser(m, text="a b c").defaults,
    _payloads.PatchingGrids: lambda _: _payloads.PatchingGrids({"heads": torch.zeros(2, 4)}),
    _payloads.PatternBank: lambda _: _payloads.PatternBank.of(1, [(0, 1)], lambda l, h: torch.eye(3)),
    _payloads.HeadScore: lambda _: _payloads.HeadScore("entropy", "entropy", "help", torch.zeros(2, 4)),
    _payloads.Readout: lambda _: _payloads.Readout("embed", "the embeddings"),
    _payloads.FlowGraphState: lambda m: _payloads.FlowGraphState(analysis.flow(m, "a b c d a b c", target=" d")),
    _payloads.KnowledgeState: lambda m: _payloads.KnowledgeState(analysis.knowledge_neurons(m, "a b c", steps=2, top=3)),
    **{klass: (lambda m, klass=klass: _scores_payloads(m)[klass]) for klass in (
        _payloads.KindScores, _payloads.TopHeads, _payloads.TargetRuns, _payloads.ScoresShown, _payloads.AblatedScores,
    )},
    **{klass: (lambda m, klass=klass: _lens_payloads(m)[klass]) for klass in (
        _payloads.LensPages, _payloads.LensPage, _payloads.TargetPages, _payloads.TargetPage, _payloads.AttributionState,
    )},
}


def test_every_payload_class_has_an_example():
    mirrored = {c for c in vars(_payloads).values() if isinstance(c, type) and hasattr(c, "TS_TYPE")}
    held = {t.klass for _, _, t in payload_traits()}
    assert mirrored | held == set(PAYLOADS)


#: Each payload class and how it is sent: its own ``encode()`` and ``TS_TYPE``, or the encoder
#: and mirror a view's trait names for it (a class of the analysis, which knows no TypeScript).
ENCODERS = {
    **{klass: (lambda p: p.encode(), klass.TS_TYPE) for klass in PAYLOADS if hasattr(klass, "TS_TYPE")},
    **{t.klass: (t.encoder, t.mirror) for _, _, t in payload_traits() if not hasattr(t.klass, "TS_TYPE")},
}


@pytest.mark.parametrize("klass", list(PAYLOADS), ids=lambda c: c.__name__)
def test_a_payload_encodes_to_its_mirror_keys(klass, plain_model):
    """What a payload's encoder sends has exactly the keys of the TypeScript interface that reads it."""
    payload = PAYLOADS[klass](plain_model)
    assert isinstance(payload, klass)
    encode, mirror = ENCODERS[klass]
    assert sorted(encode(payload)) == sorted(ts_interface(mirror)), f"{klass.__name__} vs interface {mirror}"


def test_no_view_syncs_an_untyped_structure():
    """A synced structure is a payload class with a TypeScript mirror, not a bare dict (a list
    trait holds plain values: strings, numbers, [layer, head] pairs)."""
    bare = [(cls.__name__, n) for cls in VIEWS for n, t in synced(cls).items() if isinstance(t, traitlets.Dict)]
    assert bare == []
