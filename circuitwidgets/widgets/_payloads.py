"""The nested payloads of the views: small dataclasses that hold values, each with one encoder.

A view's trait that carries more than one array (a bank of attention patterns, a page of the
logit lens) holds one of these. Python code and users read plain tensors from it
(``w._bank.patterns``, ``w.lens.pages[0].lens.top_probs``); only its ``encode()`` -- called
at the boundary, by the :class:`~._transport.Encoded` trait's ``to_json`` and by
:func:`~._transport.split_buffers` for a custom message -- builds the JSON and binary buffers
the view's TypeScript state type describes. Each class names its TypeScript mirror in
``TS_TYPE`` (``PatternBank`` in ``js/src/kit/head_patterns.ts``, ``LensWire`` and its pages in
``js/src/logit_lens/data.ts``, ...); ``tests/test_ts_state.py`` checks that the trait's
TypeScript type names it and that the mirror's keys are ``encode()``'s. The browser decodes the
arrays in one with the kit's ``decodePayload`` (``js/src/kit/decode.ts``). The dtypes sent are
chosen here, once per payload.

>>> bank = PatternBank.of(3, [(1, 3), (1, 3), (0, 1)], lambda l, h: torch.eye(4))
>>> bank.heads, bank.patterns.shape                    # values, each head once
([(1, 3), (0, 1)], torch.Size([2, 4, 4]))
>>> wire = bank.encode()                               # what the browser gets
>>> wire["run"], wire["heads"], wire["patterns"]["dtype"]
(3, [[1, 3], [0, 1]], 'float16')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable, Iterator

import torch

from ..analysis import GRIDS, KINDS, Attribution, FlowResult, KnowledgeNeurons, LogitLensResult, PathExpansion
from ._path_terms import expansion_payload
from ._transport import to_wire

__all__ = [
    "PatternBank", "HeadScore", "KindScores", "AblatedScores", "TopHeads", "TargetRuns", "ScoresShown", "PatchingGrids", "TokenRef", "TokenDefaults", "ShownExpansion", "Readout", "LensPage", "LensPages", "TargetPage", "TargetPages",
    "AttributionState", "FlowGraphState", "KnowledgeState", "vocab_wire", "id_dtype",
]


def id_dtype(d_vocab: int) -> str:
    """The smallest dtype the browser decodes that holds every token id.

    >>> id_dtype(50257), id_dtype(2**17)
    ('uint16', 'int32')
    """
    return "uint16" if d_vocab <= 2**16 else "int32"


def vocab_wire(token_strs: dict[int, str]) -> dict[str, Any]:
    """Display strings for token ids, as ``{"ids": int32 wire, "strs": [...]}`` (ids sorted).

    >>> vocab_wire({7: " b", 2: " a"})["strs"]
    [' a', ' b']
    """
    ids = sorted(token_strs)
    return {"ids": to_wire(torch.tensor(ids, dtype=torch.int32)), "strs": [token_strs[i] for i in ids]}


@dataclass(frozen=True, eq=False)
class PatternBank:
    """Full attention patterns the browser has without asking: ``patterns`` float ``[n, seq,
    seq]`` of ``heads`` (``(layer, head)`` pairs, each once) on the text of run ``run``.
    Sent as float16 (see ``_attention_store`` for the error)."""

    TS_TYPE: ClassVar[str] = "PatternBank"
    run: int
    heads: list[tuple[int, int]]
    patterns: torch.Tensor

    @classmethod
    def of(cls, run: int, heads: Iterable[tuple[int, int]], pattern: Callable[[int, int], torch.Tensor]) -> "PatternBank":
        """The bank of ``heads`` (duplicates dropped, order kept), ``pattern(layer, head)`` each."""
        pairs = list(dict.fromkeys((int(l), int(h)) for l, h in heads))
        if not pairs:  # a long text's live view: every weight comes as a block on demand
            return cls(run=run, heads=[], patterns=torch.zeros(0, 0, 0, dtype=torch.float16))
        return cls(run=run, heads=pairs, patterns=torch.stack([pattern(l, h) for l, h in pairs]))

    def encode(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "heads": [list(pair) for pair in self.heads],
            "patterns": to_wire(self.patterns, dtype="float16"),
        }


@dataclass(frozen=True, eq=False)
class HeadScore:
    """One head score of AttentionExplorer's overview: its key, label and help text, and its
    ``values`` ``[n_layers, n_heads]`` (sent as float32)."""

    TS_TYPE: ClassVar[str] = "ScoreSpec"
    key: str
    label: str
    help: str
    values: torch.Tensor

    def encode(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "help": self.help, "values": to_wire(self.values, dtype="float32")}


def _per_kind(kinds: dict[str, Any], encode: Callable[[Any], Any]) -> dict[str, Any]:
    """``{kind: encode(value)}`` in :data:`~circuitwidgets.analysis.KINDS` order, every kind present."""
    missing = [k for k in KINDS if k not in kinds]
    if missing:
        raise ValueError(f"no value for the head-score kinds {missing}; every one of {list(KINDS)} is sent")
    return {kind: encode(kinds[kind]) for kind in KINDS}


@dataclass(frozen=True, eq=False)
class KindScores:
    """InductionScores' grid: every head's score of each kind (``scores[kind]`` ``[n_layers,
    n_heads]``, one per :data:`~circuitwidgets.analysis.KINDS`), sent as float32.

    >>> s = KindScores({k: torch.zeros(2, 4) for k in ("induction", "previous_token", "duplicate_token")})
    >>> s["induction"].shape, s.encode()["previous_token"]["dtype"]
    (torch.Size([2, 4]), 'float32')
    """

    TS_TYPE: ClassVar[str] = "KindScores"
    scores: dict[str, torch.Tensor]

    def __getitem__(self, kind: str) -> torch.Tensor:
        return self.scores[kind]

    def encode(self) -> dict[str, Any]:
        return _per_kind(self.scores, lambda v: to_wire(v, dtype="float32"))


@dataclass(frozen=True, eq=False)
class AblatedScores:
    """InductionScores with ``ablation`` on: every head's :class:`KindScores` on the same
    sequences with head ``layer``.``head`` switched off (``mode`` "zero" or "mean"), about
    run ``run`` (the browser drops an answer about an older run)."""

    TS_TYPE: ClassVar[str] = "AblatedWire"
    layer: int
    head: int
    mode: str
    run: int
    scores: KindScores

    def encode(self) -> dict[str, Any]:
        return {"layer": self.layer, "head": self.head, "mode": self.mode, "run": self.run, "scores": self.scores.encode()}


@dataclass(frozen=True)
class TopHeads:
    """The heads InductionScores lists beside its grid: ``heads[kind]``, ``(layer, head)``
    pairs best first.

    >>> TopHeads({"induction": [(1, 3)], "previous_token": [(0, 1)], "duplicate_token": []}).encode()["induction"]
    [[1, 3]]
    """

    TS_TYPE: ClassVar[str] = "TopHeads"
    heads: dict[str, list[tuple[int, int]]]

    def __getitem__(self, kind: str) -> list[tuple[int, int]]:
        return self.heads[kind]

    def encode(self) -> dict[str, Any]:
        return _per_kind(self.heads, lambda pairs: [[int(l), int(h)] for l, h in pairs])


@dataclass(frozen=True)
class TargetRuns:
    """The cells each head score counts on the sequence shown, per kind, as diagonal runs
    ``(row, col, length)``: cells ``(row + t, col + t)`` for ``t < length`` (see
    ``induction_scores.diagonal_runs``)."""

    TS_TYPE: ClassVar[str] = "TargetRuns"
    runs: dict[str, list[tuple[int, int, int]]]

    def encode(self) -> dict[str, Any]:
        return _per_kind(self.runs, lambda runs: [[int(r), int(c), int(n)] for r, c, n in runs])


@dataclass(frozen=True)
class ScoresShown:
    """What InductionScores' drawn data is: ``mode`` ("random" or "text") and ``seq`` (tokens
    shown); on random tokens the ``half``, ``seed`` and ``batch`` of the experiment, on a text
    ``queries`` (per kind, the positions scored). What a mode has not is ``None``.

    >>> ScoresShown("random", 11, half=5, seed=0, batch=4).encode()["queries"] is None
    True
    """

    TS_TYPE: ClassVar[str] = "Shown"
    mode: str
    seq: int
    half: int | None = None
    seed: int | None = None
    batch: int | None = None
    queries: dict[str, int] | None = None

    def encode(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "seq": self.seq, "half": self.half, "seed": self.seed, "batch": self.batch,
            "queries": None if self.queries is None else _per_kind(self.queries, int),
        }


@dataclass(frozen=True, eq=False)
class PatchingGrids(Mapping):
    """PatchingExplorer's grids by name (any of :data:`circuitwidgets.analysis.GRIDS`), read
    like a dict: ``grids["heads"]`` is that grid's values (axes as in the analysis's
    ``GRID_SPECS``). Sent as one float32 array per grid name, ``null`` for a grid not held.

    >>> g = PatchingGrids({"heads": torch.zeros(2, 4)})
    >>> sorted(g), g["heads"].shape, g.encode()["resid_pre"] is None
    (['heads'], torch.Size([2, 4]), True)
    >>> sorted(g.with_grid("resid_pre", torch.ones(3, 5)))
    ['heads', 'resid_pre']
    """

    TS_TYPE: ClassVar[str] = "PatchingGridsWire"
    grids: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [name for name in self.grids if name not in GRIDS]
        if unknown:
            raise ValueError(f"unknown patching grids {unknown}; the grids are {list(GRIDS)}")

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.grids[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.grids)

    def __len__(self) -> int:
        return len(self.grids)

    def with_grid(self, name: str, values: torch.Tensor) -> "PatchingGrids":
        """These grids and ``values`` as grid ``name`` (replacing one held)."""
        return PatchingGrids({**self.grids, name: values})

    def encode(self) -> dict[str, Any]:
        return {name: to_wire(self.grids[name], dtype="float32") if name in self.grids else None for name in GRIDS}


@dataclass(frozen=True)
class TokenRef:
    """A vocabulary token as a view lists it: its ``id`` and its display ``text``.

    >>> TokenRef(464, "The").encode()
    {'id': 464, 'text': 'The'}
    """

    TS_TYPE: ClassVar[str] = "TokenRef"
    id: int
    text: str

    def encode(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text}


@dataclass(frozen=True)
class TokenDefaults:
    """OVBrowser's starting tokens: ``kind`` ("text": the distinct ordinary tokens of the
    view's ``text``; "frequent": frequent tokens, with no text), the ``choices`` offered to
    pick from, and the first ``tokens`` (forward tabs) and ``targets`` (the reverse tab).

    >>> d = TokenDefaults("text", (TokenRef(1, "a"), TokenRef(2, "b")), (TokenRef(1, "a"),), ())
    >>> d.tokens[0].text, d.encode()["choices"][1]
    ('a', {'id': 2, 'text': 'b'})
    """

    TS_TYPE: ClassVar[str] = "Defaults"
    kind: str
    choices: tuple[TokenRef, ...]
    tokens: tuple[TokenRef, ...]
    targets: tuple[TokenRef, ...]

    def encode(self) -> dict[str, Any]:
        refs = lambda items: [t.encode() for t in items]  # noqa: E731
        return {"kind": self.kind, "choices": refs(self.choices), "tokens": refs(self.tokens), "targets": refs(self.targets)}


@dataclass(frozen=True, eq=False)
class ShownExpansion:
    """One path expansion as PathExplorer draws it: ``paths`` (a
    :class:`~circuitwidgets.analysis.PathExpansion`) read in ``mode`` ("frozen" or "weights")
    on the text of run ``run``. Sent as JSON only (``_path_terms.expansion_payload``: the
    ranked terms, their top tokens and the reading in one sentence).

    >>> e = ShownExpansion(analysis.path_expansion(model, "a b c a b", position=-1), "frozen", 1)
    >>> e.encode()["mode"], e.encode()["position"]
    ('frozen', 5)
    """

    TS_TYPE: ClassVar[str] = "Expansion"
    paths: PathExpansion
    mode: str
    run: int

    def encode(self) -> dict[str, Any]:
        return expansion_payload(self.paths, self.mode, self.run)


@dataclass(frozen=True)
class Readout:
    """One readout of the logit lens by name: ``short`` for the slider and the grid's rows,
    ``long`` for hover cards (LogitLens's ``readouts`` trait, one per ``lens_layer``).

    >>> Readout("+L0", "after layer 0").encode()
    {'short': '+L0', 'long': 'after layer 0'}
    """

    TS_TYPE: ClassVar[str] = "Readout"
    short: str
    long: str

    def encode(self) -> dict[str, Any]:
        return {"short": self.short, "long": self.long}


@dataclass(frozen=True, eq=False)
class LensPage:
    """One page of the logit lens: ``n`` positions from ``start`` of ``lens`` (a
    :class:`~circuitwidgets.analysis.LogitLensResult` with each position's final prediction
    as target). Sent as ``top_ids`` [R, n, k] and ``final_ids`` [n] in ``ids`` (see
    :func:`id_dtype`), ``top_probs``, ``target_probs`` and ``kl`` float32, ``target_ranks``
    int32, and the display strings of every id in them."""

    TS_TYPE: ClassVar[str] = "LensPageWire"
    page: int
    start: int
    lens: LogitLensResult
    ids: str

    def encode(self) -> dict[str, Any]:
        lens = self.lens
        return {
            "page": self.page,
            "start": self.start,
            "top_ids": to_wire(lens.top_ids, dtype=self.ids),
            "top_probs": to_wire(lens.top_probs, dtype="float32"),
            "final_ids": to_wire(lens.targets, dtype=self.ids),
            "target_probs": to_wire(lens.target_probs, dtype="float32"),
            "target_ranks": to_wire(lens.target_ranks, dtype="int32"),
            "kl": to_wire(lens.kl_to_final, dtype="float32"),
            "vocab": vocab_wire(lens.token_strs),
        }


@dataclass(frozen=True, eq=False)
class LensPages:
    """The text of run ``run`` (``token_ids`` [P], the display strings ``vocab``) and the
    pages of its lens computed so far: LogitLens's ``lens`` trait."""

    TS_TYPE: ClassVar[str] = "LensWire"
    run: int
    token_ids: torch.Tensor
    ids: str
    pages: list[LensPage]
    vocab: dict[int, str]

    def encode(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "token_ids": to_wire(self.token_ids, dtype=self.ids),
            "pages": [page.encode() for page in self.pages],
            "vocab": vocab_wire(self.vocab),
        }


@dataclass(frozen=True, eq=False)
class TargetPage:
    """A picked target token's ``probs`` (float32) and ``ranks`` (int32) ``[R, n]`` on one page."""

    TS_TYPE: ClassVar[str] = "TargetPageWire"
    page: int
    start: int
    id: int
    probs: torch.Tensor
    ranks: torch.Tensor

    def encode(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "start": self.start,
            "id": self.id,
            "probs": to_wire(self.probs, dtype="float32"),
            "ranks": to_wire(self.ranks, dtype="int32"),
        }


@dataclass(frozen=True, eq=False)
class TargetPages:
    """A picked target (its id and display string) on the pages computed with it:
    LogitLens's ``_target`` trait."""

    TS_TYPE: ClassVar[str] = "TargetWire"
    run: int
    id: int
    text: str
    pages: list[TargetPage]

    def encode(self) -> dict[str, Any]:
        return {"run": self.run, "id": self.id, "str": self.text, "pages": [page.encode() for page in self.pages]}


@dataclass(frozen=True, eq=False)
class AttributionState:
    """One position's :class:`~circuitwidgets.analysis.Attribution` as the "Who wrote it"
    panel draws it: the components (kind, layer, head, label; ``-1`` for none) with float32
    values summing to ``logit``, and each head's top tokens ``[L, H, k]`` in ``ids``."""

    TS_TYPE: ClassVar[str] = "AttributionWire"
    run: int
    position: int
    attribution: Attribution
    ids: str

    def encode(self) -> dict[str, Any]:
        attr = self.attribution
        parts, values = attr.parts()
        return {
            "run": self.run,
            "position": self.position,
            "target": attr.target,
            "target_str": attr.target_str,
            "logit": float(attr.logit),
            "kinds": [p.kind for p in parts],
            "labels": [p.label for p in parts],
            "layers": [-1 if p.layer is None else p.layer for p in parts],
            "heads": [-1 if p.head is None else p.head for p in parts],
            "values": to_wire(values, dtype="float32"),
            "head_top_ids": to_wire(attr.head_top_ids, dtype=self.ids),
            "head_top_values": to_wire(attr.head_top_values, dtype="float32"),
            "vocab": vocab_wire(attr.token_strs),
        }


#: The edge kinds of a flow graph, in the order their codes (uint8 ``edge_kind``) name them.
EDGE_KINDS = ("attention", "coefficient", "writes", "norm")


@dataclass(frozen=True, eq=False)
class FlowGraphState:
    """FlowGraph's graph: ``graph`` (a :class:`~circuitwidgets.analysis.FlowResult`) and which
    of its nodes are always-on neurons (``always_on``, node ids). Sent column by column (the
    ``FlowWire`` type of ``js/src/flow_graph/data.ts``): per node its id, kind and label,
    ``layer``/``head``/``source``/``neuron`` int32 (-1 where it has none), ``contribution``
    float32 (NaN for a stream node), the target's ``prob`` float32 and ``rank`` int32,
    ``entropy`` float32, ``top_ids`` ``[n, k]`` (see :func:`id_dtype`) and ``top_probs``
    float32, ``always_on`` uint8; per edge ``edge_source``/``edge_target`` (node indices)
    int32, ``edge_kind`` uint8 (an index of :data:`EDGE_KINDS`), ``score`` and
    ``edge_contribution`` float32; per norm node (``ln_node``: node indices, int32) its
    name ``ln_norm`` (``"ln1"``, ``"ln2"``, ``"ln_final"``) and its filter
    (:class:`~circuitwidgets.analysis.NormFilter`, ``k`` tokens a direction):
    ``ln_raised_ids``/``ln_lowered_ids``/``ln_control_raised_ids``/``ln_control_lowered_ids``
    ``[n_norms, k]`` and the probability changes ``ln_raised``/``ln_lowered``/
    ``ln_control_raised``/``ln_control_lowered`` float32, ``ln_overlap`` float32.

    >>> graph = analysis.flow(model, "a b c d a b c", target=" d")
    >>> wire = FlowGraphState(graph).encode()
    >>> wire["target_str"], wire["top_ids"]["shape"] == [len(graph.nodes), 5]
    (' d', True)
    """

    TS_TYPE: ClassVar[str] = "FlowWire"

    graph: FlowResult
    always_on: frozenset[str] = frozenset()

    def encode(self) -> dict[str, Any]:
        g = self.graph
        index = {n.id: i for i, n in enumerate(g.nodes)}
        where = lambda name: to_wire(  # noqa: E731
            torch.tensor([-1 if getattr(n, name) is None else getattr(n, name) for n in g.nodes], dtype=torch.int32)
        )
        floats = lambda values: to_wire(  # noqa: E731
            torch.tensor([float("nan") if v is None else v for v in values], dtype=torch.float32)
        )
        return {
            "position": g.position, "target": g.target, "target_str": g.target_str, "logit": float(g.logit),
            "layers": [g.layers.start, g.layers.stop],
            "ids": [n.id for n in g.nodes], "kinds": [n.kind for n in g.nodes], "labels": [n.label for n in g.nodes],
            "layer": where("layer"), "head": where("head"), "source": where("source"), "neuron": where("neuron"),
            "contribution": floats([n.contribution for n in g.nodes]),
            "prob": floats([n.target_prob for n in g.nodes]),
            "rank": to_wire(torch.tensor([n.target_rank for n in g.nodes], dtype=torch.int32)),
            "entropy": floats([n.entropy for n in g.nodes]),
            "top_ids": to_wire(torch.tensor([n.top_ids for n in g.nodes]), dtype=id_dtype(max(g.token_strs) + 1)),
            "top_probs": to_wire(torch.tensor([n.top_probs for n in g.nodes], dtype=torch.float32)),
            "always_on": to_wire(torch.tensor([n.id in self.always_on for n in g.nodes], dtype=torch.uint8)),
            "edge_source": to_wire(torch.tensor([index[e.source] for e in g.edges], dtype=torch.int32)),
            "edge_target": to_wire(torch.tensor([index[e.target] for e in g.edges], dtype=torch.int32)),
            "edge_kind": to_wire(torch.tensor([EDGE_KINDS.index(e.kind) for e in g.edges], dtype=torch.uint8)),
            "score": floats([e.score for e in g.edges]),
            "edge_contribution": floats([e.contribution for e in g.edges]),
            **self._filters(index, id_dtype(max(g.token_strs) + 1)),
            "vocab": vocab_wire(g.token_strs),
        }

    def _filters(self, index: dict[str, int], ids_dtype: str) -> dict[str, Any]:
        """The norm nodes' filters, one row per norm node (see the class docs)."""
        filters = list(self.graph.filters.items())
        k = len(filters[0][1].raised_ids) if filters else 0
        rows = lambda name, dtype: to_wire(  # noqa: E731
            torch.stack([getattr(f, name) for _, f in filters]) if filters else torch.zeros(0, k), dtype=dtype
        )
        out = {"ln_node": to_wire(torch.tensor([index[i] for i, _ in filters], dtype=torch.int32)),
               "ln_norm": [f.norm for _, f in filters],
               "ln_overlap": to_wire(torch.tensor([f.overlap for _, f in filters], dtype=torch.float32))}
        for name in ("raised", "lowered", "control_raised", "control_lowered"):
            out[f"ln_{name}_ids"] = rows(f"{name}_ids", ids_dtype)
            out[f"ln_{name}"] = rows(f"{name}_deltas", "float32")
        return out


@dataclass(frozen=True, eq=False)
class KnowledgeState:
    """FlowGraph's knowledge neurons: ``neurons`` (a
    :class:`~circuitwidgets.analysis.KnowledgeNeurons`) for the graph explaining ``position``
    and token ``target``. Sent as the ``KnowledgeWire`` type of ``js/src/flow_graph/data.ts``:
    ``position``, ``target``, ``target_str``, ``steps``, per neuron (highest attribution
    first) its node id (``"L3N17"``), ``layer``/``neuron`` int32, ``score`` and
    ``activation`` float32, ``top_ids`` ``[top, k]``, and ``vocab``.

    >>> small = cw.load_pocket_model("small-4l")
    >>> kn = analysis.knowledge_neurons(small, "def f(x):", steps=2, top=3)
    >>> wire = KnowledgeState(kn).encode()
    >>> len(wire["ids"]), wire["top_ids"]["shape"]
    (3, [3, 5])
    """

    TS_TYPE: ClassVar[str] = "KnowledgeWire"

    neurons: KnowledgeNeurons

    def encode(self) -> dict[str, Any]:
        kn = self.neurons
        layers, neurons = kn.layers.tolist(), kn.neurons.tolist()
        activation = kn.activations[kn.layers, kn.neurons]
        return {
            "position": kn.position, "target": kn.target, "target_str": kn.target_str, "steps": kn.steps,
            "ids": [f"L{l}N{n}" for l, n in zip(layers, neurons)],
            "layer": to_wire(kn.layers, dtype="int32"), "neuron": to_wire(kn.neurons, dtype="int32"),
            "score": to_wire(kn.scores, dtype="float32"), "activation": to_wire(activation, dtype="float32"),
            "top_ids": to_wire(kn.top_ids, dtype=id_dtype(max(kn.token_strs) + 1)),
            "vocab": vocab_wire(kn.token_strs),
        }
