"""The flow graph of one prediction: what wrote it, down to memory values and neurons.

VISIT (Katz & Belinkov) draws a forward pass as a graph. At one position, the residual stream
is a sum of what every component wrote (see :mod:`~circuitwidgets.analysis.attribution`), and
each component is itself a sum:

* a head's output is a sum of **memory values**, one per source position ``s``::

      z[q] · W_O  =  Σ_s  attention[q, s] · v_s · W_O

  (which earlier token's value the head recalled, and how much);
* an MLP's output is a sum of **neurons**, one per hidden unit ``n``, plus its bias::

      mlp_out  =  Σ_n  post[n] · W_out[n]  +  b_out

  (``post[n]`` is the neuron's coefficient, ``W_out[n]`` its value vector).

:func:`flow` keeps the biggest of these parts (the pruning knobs), and gives every node its
vector's projection to the vocabulary -- top tokens, the target's probability and rank, the
entropy -- and its direct contribution to the target's logit, with the final norm's scale
frozen from the run as :func:`~circuitwidgets.analysis.logit_attribution` does, so that
contributions add up exactly: memory values to their head, neurons (and the bias) to their
MLP, and every writer to the model's logit.

Each norm the prediction passes through (``ln1`` before attention, ``ln2`` before the MLP,
the final norm) is a node too, carrying its :class:`~circuitwidgets.analysis.NormFilter`:
the tokens whose logit-lens probability it raises and lowers most at this position, against
the same for random vectors (VISIT §5.2; :func:`~circuitwidgets.analysis.ln_filter`).

Two projections, on purpose:

* a **stream** node (the residual stream before/inside/after a layer, a norm's output, and
  the output) is read as the logit lens reads it: the final norm with its scale recomputed from that vector, then
  ``W_U, b_U`` -- what the model would predict if it stopped there;
* a **component** node (embedding, head, memory value, attention bias, neuron, MLP bias, MLP or
  attention output) is read as what it *adds*: ``centre(v) / scale · w_ln · W_U`` with the
  frozen scale and no biases, so its logit for the target is its contribution.

Example::

    graph = flow(model, "When Mary and John went to the store, John gave a drink to", target=" Mary")
    graph.contributors()[:3]           # the three biggest writers to " Mary"
    graph.edges_into("L9H9")           # the memory values the head recalled
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import torch

from ..checks import TokenLike, check_int, check_k, check_position
from ..model import FinalNorm, ModelAdapter, hook_name
from ._forward import TextRun, resolve_run
from .attribution import decompose, resolve_target
from .ln_filter import NormFilter, filter_ids, norm_filters, stream_before_mlp

#: Default pruning: readable on GPT-2 small's shape (12 layers x 12 heads x 3072 neurons).
HEADS, MEMORY, NEURONS, K = 3, 3, 5, 5

#: Node kinds whose projection is the logit lens of a residual stream (the rest are writers):
#: a norm node (``"ln"``) reads its output that way (the final norm's, the model's output).
STREAM_KINDS = ("resid_pre", "ln", "resid_mid", "resid_post", "output")

#: Rows projected to the vocabulary at once: bounds memory at ~2 x chunk x d_vocab floats.
PROJECTION_CHUNK = 256


@dataclass(frozen=True)
class FlowNode:
    """One node of a :class:`FlowResult`.

    ``kind`` is one of ``embed, resid_pre, ln, head, memory, attn_bias, attn_out, resid_mid,
    neuron, mlp_bias, mlp_out, resid_post, output``; ``layer``/``head``/``source`` (a memory
    value's source position)/``neuron``/``norm`` (a norm node's ``"ln1"``, ``"ln2"`` or
    ``"ln_final"``) say which. ``contribution`` is the direct contribution
    to the target's logit (``None`` for stream nodes; the output's is the logit itself).
    ``top_ids``/``top_probs`` are the projection's top tokens, ``target_prob``/``target_rank``
    (1 = top) the target's, ``entropy`` the projection's in nats.

    Examples
    --------
    >>> graph = analysis.flow(model, "a b c d a b c", target=" d")
    >>> node = graph.node("L1H1")
    >>> node.kind, node.layer, node.head, graph.token_strs[node.top_ids[0]]
    ('head', 1, 1, ' d')
    """

    id: str
    kind: str
    label: str
    contribution: Optional[float]
    top_ids: tuple[int, ...]
    top_probs: tuple[float, ...]
    target_prob: float
    target_rank: int
    entropy: float
    layer: Optional[int] = None
    head: Optional[int] = None
    source: Optional[int] = None
    neuron: Optional[int] = None
    norm: Optional[str] = None


@dataclass(frozen=True)
class FlowEdge:
    """An edge ``source -> target`` (node ids): ``kind`` is ``"attention"`` (memory value ->
    head; ``score`` = the attention weight), ``"coefficient"`` (stream -> neuron; ``score`` =
    the neuron's coefficient, signed), ``"writes"`` (a part into its sum; ``score`` = the
    norm of the part's vector) or ``"norm"`` (a stream into its norm node and the final norm
    into the output; ``score`` = the norm of the norm's output). ``contribution`` is the source's contribution to the target's
    logit where it has one.

    >>> graph = analysis.flow(model, "a b c d a b c", target=" d")
    >>> sorted({e.kind for e in graph.edges})
    ['attention', 'norm', 'writes']
    """

    source: str
    target: str
    kind: str
    score: float
    contribution: Optional[float] = None


@dataclass(frozen=True, eq=False)
class FlowResult:
    """The flow graph of one prediction (see the module docs).

    Attributes
    ----------
    tokens, str_tokens:
        The text's tokens and display strings.
    position:
        The position whose prediction is explained (non-negative).
    target, target_str:
        The token whose logit is explained.
    logit:
        The model's logit for ``target`` at ``position`` (before the final soft cap, where the
        model has one: the parts add up to this).
    final_bias:
        ``b_ln · W_U[:, t] + b_U[t]``: the part of the logit no component writes.
    scale:
        The frozen final-norm scale at this position.
    layers:
        The layers drawn (``range``); contributions add up to ``logit`` when it is all of them
        and nothing is pruned.
    nodes, edges:
        :class:`FlowNode` and :class:`FlowEdge` tuples, in forward order.
    token_strs:
        Display string of every token id in the nodes' projections, the filters and ``target``.
    d_vocab:
        The vocabulary's size (the worst rank a node can give the target).
    filters:
        Norm node id (``"L3 ln1"``, ``"L3 ln2"``, ``"ln_final"``) -> its
        :class:`~circuitwidgets.analysis.NormFilter` at this position: the tokens whose
        logit-lens probability the norm raises and lowers most, and the random-vector control
        (as :func:`~circuitwidgets.analysis.ln_filter` reports them).

    Examples
    --------
    >>> graph = analysis.flow(model, "a b c d a b c", target=" d", heads=None, memory=None)
    >>> writers = [n.contribution for n in graph.nodes if n.kind in ("embed", "head", "attn_bias")]
    >>> abs(sum(writers) + float(graph.final_bias) - float(graph.logit)) < 1e-3
    True
    >>> list(graph.filters)                        # the norm nodes, each with its filter
    ['L0 ln1', 'L1 ln1', 'ln_final']
    >>> f = graph.filters["ln_final"]              # the k tokens the final norm raises most here
    >>> f.norm, f.raised_ids.shape, bool(f.raised_deltas[0] > 0)
    ('ln_final', torch.Size([5]), True)
    """

    tokens: torch.Tensor
    str_tokens: list[str]
    position: int
    target: int
    target_str: str
    logit: torch.Tensor
    final_bias: torch.Tensor
    scale: torch.Tensor
    layers: range
    nodes: tuple[FlowNode, ...]
    edges: tuple[FlowEdge, ...]
    token_strs: dict[int, str]
    d_vocab: int
    filters: dict[str, NormFilter]

    def node(self, node_id: str) -> FlowNode:
        """The node with this id (``"L1H1"``, ``"L1H1@5"``, ``"L0N17"``, ``"L0 MLP"`` ...)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(f"no node {node_id!r} in this graph (it may have been pruned)")

    def edges_into(self, node_id: str) -> list[FlowEdge]:
        """The edges ending at ``node_id``, largest ``|score|`` first."""
        return sorted((e for e in self.edges if e.target == node_id), key=lambda e: -abs(e.score))

    def memory_values(self, head_id: str) -> list[FlowNode]:
        """The memory values kept for head ``head_id`` (``"L1H1"``), largest ``|contribution|``
        first: the earlier tokens whose values wrote the target through this head."""
        values = [n for n in self.nodes if n.kind == "memory" and n.id.startswith(head_id + "@")]
        return sorted(values, key=lambda n: -abs(n.contribution))

    def contributors(self) -> list[FlowNode]:
        """The embedding, heads, biases and MLPs, largest ``|contribution|`` first: the
        writers whose contributions (with ``final_bias``) add up to ``logit``."""
        writers = [n for n in self.nodes if n.kind in ("embed", "head", "attn_bias", "mlp_out")]
        return sorted(writers, key=lambda n: -abs(n.contribution))

    def plot(self, **options):
        """Bokeh figure of the graph for papers: :func:`circuitwidgets.figures.flow_graph`.

        >>> analysis.flow(model, "a b c d a b c", target=" d").plot().name
        'flow-graph'
        """
        from ..figures import flow_graph

        return flow_graph(self, **options)

    def nbytes(self) -> int:
        """A bound on the bytes the graph takes on the wire: 4 bytes per number (ids, scores,
        probabilities) plus the ids' and labels' text; bounded by the pruning knobs."""
        numbers = sum(8 + 2 * len(n.top_ids) for n in self.nodes) + 3 * len(self.edges)
        numbers += sum(1 + 8 * len(f.raised_ids) for f in self.filters.values())
        text = sum(len(n.id) + len(n.label) for n in self.nodes)
        text += sum(len(e.source) + len(e.target) for e in self.edges)
        return 4 * numbers + text

    def __repr__(self) -> str:
        return (
            f"FlowResult(position {self.position}, target {self.target_str!r}: "
            f"{len(self.nodes)} nodes, {len(self.edges)} edges)"
        )


def _check_layers(layers: Optional[Union[range, Sequence[int]]], n_layers: int) -> range:
    """``layers`` (a ``range`` or a ``(start, stop)`` pair, half-open) as a checked range."""
    if layers is None:
        return range(n_layers)
    if not isinstance(layers, range):
        if len(layers) != 2:
            raise ValueError(f"layers must be a range or a (start, stop) pair, got {layers!r}")
        layers = range(check_int(layers[0], "layers start", 0), check_int(layers[1], "layers stop", 0))
    if layers.step != 1 or not 0 <= layers.start < layers.stop <= n_layers:
        raise ValueError(
            f"layers {layers} is outside this model's layers; give a non-empty range within "
            f"range(0, {n_layers}) (layers 0..{n_layers - 1})"
        )
    return layers


def _block_norms(adapter: ModelAdapter) -> tuple[tuple[Optional[FinalNorm], ...], tuple[Optional[FinalNorm], ...]]:
    """Each block's ``(ln1, ln2)`` formulas; none for blocks whose norms the formula does not
    reproduce (they get no norm node: the rest of the graph does not need them)."""
    try:
        return adapter.attention_input_norms, adapter.mlp_input_norms
    except NotImplementedError:
        return ((None,) * adapter.n_layers,) * 2


def _check_norms(norms: Any) -> bool:
    if not isinstance(norms, bool):
        raise TypeError(f"norms must be True or False, got {norms!r}")
    return norms


def _prune_count(value: Optional[int], name: str, available: int) -> int:
    """How many of ``available`` parts to keep: ``None`` keeps all."""
    return available if value is None else min(check_int(value, name, 0), available)


def _values(adapter: ModelAdapter, cache: dict, layer: int) -> torch.Tensor:
    """``[seq, n_heads, d_head]``: each query head's value vectors (grouped-query attention's
    shared K/V heads repeated for the query heads that share them)."""
    v = cache[hook_name("v", layer)]  # [seq, n_kv_heads, d_head]
    if v.shape[1] != adapter.n_heads:
        v = v.repeat_interleave(adapter.n_heads // v.shape[1], dim=1)
    return v


def attention_row(adapter: ModelAdapter, cache: dict, layer: int, position: int) -> torch.Tensor:
    """``[n_heads, position + 1]``: every head's attention from query ``position`` to the keys
    up to it. Rebuilt from the cached queries and keys by the model's
    :attr:`~circuitwidgets.model.ModelAdapter.qk_recipe` (one row, ``n_heads x seq`` numbers:
    no head's full pattern is ever made), or read off the cached pattern where the run kept
    one (see :func:`~circuitwidgets.analysis._forward.attention_row_hooks`)."""
    pattern = cache.get(hook_name("pattern", layer))
    if pattern is not None:
        return pattern[:, position, : position + 1]
    recipe = adapter.qk_recipe
    q, k = (cache[hook_name(kind, layer)].transpose(0, 1) for kind in (recipe.q_kind, recipe.k_kind))
    return recipe.scores(layer, q, k, range(position, position + 1))[:, 0].softmax(dim=-1)


def memory_vectors(adapter: ModelAdapter, cache: dict, layer: int, position: int) -> torch.Tensor:
    """``[n_heads, position + 1, d_model]``: ``attention[q, s] · v_s · W_O[h]`` for every head
    ``h`` and source position ``s <= q``, at query ``q = position``. Summed over ``s`` it is the
    head's output (``z[q] · W_O``). (:func:`flow` builds only the vectors it keeps.)"""
    weights = attention_row(adapter, cache, layer, position)
    values = _values(adapter, cache, layer)[: position + 1]
    return torch.einsum("hs,shd,hdm->hsm", weights, values, adapter.weights.W_O[layer])


def neuron_vectors(adapter: ModelAdapter, cache: dict, layer: int, position: int) -> torch.Tensor:
    """``[d_mlp, d_model]``: ``post[n] · W_out[n]`` for every neuron ``n`` at ``position``.
    Summed over ``n``, plus ``b_out``, it is the MLP's output."""
    W_out, _ = adapter.mlp_out_weights
    return cache[hook_name("mlp_post", layer)][position][:, None] * W_out[layer]


def _d_mlp(adapter: ModelAdapter) -> int:
    """The MLPs' width, or ``NotImplementedError`` for MLPs with no single ``W_out`` to split
    into neurons (a mixture of experts)."""
    try:
        return int(adapter.mlp_out_weights[0].shape[1])
    except AttributeError as missing:
        raise NotImplementedError(
            "flow splits each MLP into neurons through its one output matrix W_out, and this "
            f"model's MLPs have none (a mixture of experts?): {missing}"
        ) from None


def _check_parts(parts: torch.Tensor, whole: torch.Tensor, what: str) -> None:
    """Refuse to draw a graph whose parts do not add up (an architecture that computes this
    sub-block in a way not decomposed here)."""
    error = float((parts - whole).abs().max())
    if error > 1e-3 * float(whole.abs().max()) + 1e-4:
        raise NotImplementedError(
            f"{what} do not add up to this model's own activation (max error {error:.3g}); this "
            "architecture computes it in a way circuitwidgets does not decompose"
        )


class _Builder:
    """Collects a graph's nodes (with the vector each projects) and edges, in forward order."""

    def __init__(self, adapter: ModelAdapter, run: TextRun, position: int, written: dict,
                 direction: torch.Tensor, min_contribution: float, k_filter: int):
        self.adapter, self.run, self.position, self.written = adapter, run, position, written
        self.direction, self.min_contribution, self.k_filter = direction, min_contribution, k_filter
        self.nodes: list[dict] = []
        self.vectors: list[torch.Tensor] = []
        self.edges: list[FlowEdge] = []
        self.filters: dict[str, NormFilter] = {}
        self.norm_inputs: dict[str, tuple] = {}
        self.block_norms = _block_norms(adapter) if k_filter else ((None,) * adapter.n_layers,) * 2

    def node(self, node_id: str, kind: str, vector: torch.Tensor, label: Optional[str] = None, **where) -> str:
        self.nodes.append(dict(id=node_id, kind=kind, label=label or node_id, **where))
        self.vectors.append(vector)
        return node_id

    def edge(self, source: str, target: str, kind: str, score: Union[float, torch.Tensor]) -> None:
        self.edges.append(FlowEdge(source, target, kind, float(score)))

    def small(self, vector: torch.Tensor) -> bool:
        """Whether ``vector``'s direct contribution is below the pruning threshold."""
        return abs(float(vector @ self.direction)) < self.min_contribution

    def stream(self, kind: str, layer: int) -> str:
        vector = self.run.cache[hook_name(kind, layer)][self.position]
        return self.node(f"L{layer} {kind}", kind, vector, layer=layer)

    def norm(self, name: str, layer: Optional[int], norm: Optional[FinalNorm], x: torch.Tensor, reads: str) -> str:
        """The node of norm ``name`` (``"ln1"``, ``"ln2"``, ``"ln_final"``) reading stream node
        ``reads`` (vector ``x``), with its filter; returns its id, or ``reads`` for no norm (a
        block without one, ``kind == "none"``, or norms not asked for)."""
        if not self.k_filter or norm is None or norm.kind == "none":
            return reads
        node_id = "ln_final" if layer is None else f"L{layer} {name}"
        out = norm.center(x) / norm.scale(x) * norm.weight + norm.bias
        # The final norm's node reads as the model's output; the others as the lens of ln(x).
        self.node(node_id, "ln", x if layer is None else out, layer=layer, norm=name)
        self.norm_inputs[node_id] = (name, layer, norm, x)  # their filters: computed together
        self.edge(reads, node_id, "norm", out.norm())
        return node_id

    def attention(self, layer: int, n_heads: int, n_memory: int) -> str:
        """A layer's top heads (by |contribution|), each with its top memory values (also by
        |contribution|: the value that wrote the target, not a high-norm attention sink),
        its output bias and its output; returns the output's id."""
        heads, q = self.written["heads"][layer], self.position
        W_O, values = self.adapter.weights.W_O[layer], _values(self.adapter, self.run.cache, layer)[: q + 1]
        weights = attention_row(self.adapter, self.run.cache, layer, q)  # [n_heads, q + 1]
        # z = Σ_s attention · v_s, checked in d_head space; the memory values' contributions
        # come from W_O · direction, so only the values kept are ever d_model vectors.
        z = self.run.cache[hook_name("z", layer)][q]
        values = values.permute(1, 0, 2)  # [n_heads, q + 1, d_head]: batched matmuls below
        _check_parts((weights[:, None, :] @ values)[:, 0], z, f"layer {layer}'s memory values")
        to_stream, direction = self._attention_output_norm(layer, z, W_O)
        memory_logits = weights * (values @ (W_O @ direction)[:, :, None])[..., 0]
        out = f"L{layer} attn"
        keep = (heads @ self.direction).abs().argsort(descending=True)[:n_heads]
        for h in sorted(int(i) for i in keep):
            if self.small(heads[h]):
                continue
            head = self.node(f"L{layer}H{h}", "head", heads[h], layer=layer, head=h)
            for s in sorted(int(i) for i in memory_logits[h].abs().argsort(descending=True)[:n_memory]):
                if abs(float(memory_logits[h, s])) < self.min_contribution:
                    continue
                label = f"L{layer}H{h}@{s} {self.run.str_tokens[s]!r}"
                vector = to_stream(weights[h, s] * values[h, s] @ W_O[h])
                value = self.node(f"L{layer}H{h}@{s}", "memory", vector, label, layer=layer, head=h, source=s)
                self.edge(value, head, "attention", weights[h, s])
            self.edge(head, out, "writes", heads[h].norm())
        bias = self.written["attn_bias"][layer]
        if bool(bias.any()):
            self.edge(self.node(f"L{layer} attn bias", "attn_bias", bias, layer=layer), out, "writes", bias.norm())
        return self.node(out, "attn_out", heads.sum(dim=0) + bias, layer=layer)

    def _attention_output_norm(self, layer: int, z: torch.Tensor, W_O: torch.Tensor):
        """``(to_stream, direction)``: how a part of layer ``layer``'s attention output enters
        the residual stream, and the target direction to score raw parts by. Identity and the
        target direction, except where the output passes through a norm first (Gemma 2/3,
        OLMo 2): that norm with its scale frozen for the whole output, as ``_written`` does for
        the heads, so the memory values still add up to their head's share."""
        post = self.adapter.attn_output_norms[layer]
        if post is None:
            return (lambda x: x), self.direction
        raw = torch.einsum("hd,hdm->m", z, W_O) + self.adapter.weights.b_O[layer]
        scale = post.scale(raw)
        return (lambda x: post.center(x) / scale * post.weight), post.center(post.weight * self.direction) / scale

    def mlp(self, layer: int, reads: str, n_neurons: int) -> str:
        """A layer's top neurons (by |coefficient|, both signs), its bias and its output."""
        coefficients = self.run.cache[hook_name("mlp_post", layer)][self.position]
        W_out, b_out = self.adapter.mlp_out_weights
        W_out, bias = W_out[layer], b_out[layer]
        # Σ_n post[n] · W_out[n] + b_out, checked as one product; only kept neurons become vectors.
        _check_parts(coefficients @ W_out + bias, self.written["mlp"][layer], f"layer {layer}'s neurons")
        neuron_logits = coefficients * (W_out @ self.direction)
        out = f"L{layer} MLP"
        for n in sorted(int(i) for i in coefficients.abs().argsort(descending=True)[:n_neurons]):
            if abs(float(neuron_logits[n])) < self.min_contribution:
                continue
            vector = coefficients[n] * W_out[n]
            neuron = self.node(f"L{layer}N{n}", "neuron", vector, layer=layer, neuron=n)
            self.edge(reads, neuron, "coefficient", coefficients[n])
            self.edge(neuron, out, "writes", vector.norm())
        if bool(bias.any()):
            self.edge(self.node(f"L{layer} MLP bias", "mlp_bias", bias, layer=layer), out, "writes", bias.norm())
        return self.node(out, "mlp_out", self.written["mlp"][layer], layer=layer)

    def layer(self, layer: int, stream: str, counts: dict) -> str:
        """One block: attention, then (unless attention-only) the MLP, each written into the
        residual stream; returns the id of the stream after the block."""
        adapter, cache, q = self.adapter, self.run.cache, self.position
        ln1 = self.norm("ln1", layer, self.block_norms[0][layer], cache[hook_name("resid_pre", layer)][q], stream)
        attn = self.attention(layer, counts["heads"], counts["memory"])
        if adapter.attn_only:
            post = self.stream("resid_post", layer)
            self.edge(attn, post, "writes", self._vector(attn).norm())
        elif adapter.parallel_attn_mlp:
            # A parallel block's MLP reads its own ln2 of the same stream, where it has one.
            ln2 = self.norm("ln2", layer, self.block_norms[1][layer], stream_before_mlp(adapter, self.run, layer, q), stream)
            mlp = self.mlp(layer, ln2 if ln2 != stream else ln1, counts["neurons"])
            post = self.stream("resid_post", layer)
            self.edge(attn, post, "writes", self._vector(attn).norm())
            self.edge(mlp, post, "writes", self._vector(mlp).norm())
        else:
            mid = self.stream("resid_mid", layer)
            self.edge(attn, mid, "writes", self._vector(attn).norm())
            self.edge(stream, mid, "writes", self._vector(stream).norm())
            ln2 = self.norm("ln2", layer, self.block_norms[1][layer], stream_before_mlp(adapter, self.run, layer, q), mid)
            mlp = self.mlp(layer, ln2, counts["neurons"])
            post = self.stream("resid_post", layer)
            self.edge(mlp, post, "writes", self._vector(mlp).norm())
            stream = mid
        self.edge(stream, post, "writes", self._vector(stream).norm())
        return post

    def _vector(self, node_id: str) -> torch.Tensor:
        for node, vector in zip(reversed(self.nodes), reversed(self.vectors)):
            if node["id"] == node_id:
                return vector
        raise KeyError(node_id)  # pragma: no cover - ids come from this builder


def _project(adapter: ModelAdapter, vectors: torch.Tensor, stream: torch.Tensor, scale: torch.Tensor,
             target: int, k: int) -> dict[str, torch.Tensor]:
    """Each vector's projection to the vocabulary (see the module docs): a stream vector's
    through the final norm (scale recomputed) and ``W_U, b_U``, a component's through the frozen
    scale and ``w_ln · W_U`` alone. Returns top ids/probs ``[n, k]``, the target's logit,
    probability and rank ``[n]`` and the entropy ``[n]``."""
    norm, (W_U, _) = adapter.final_norm, adapter.unembedding
    out: dict[str, list] = {name: [] for name in ("top_ids", "top_probs", "logit", "prob", "rank", "entropy")}
    for start in range(0, len(vectors), PROJECTION_CHUNK):
        rows, is_stream = vectors[start : start + PROJECTION_CHUNK], stream[start : start + PROJECTION_CHUNK]
        logits = (norm.center(rows) / scale * norm.weight) @ W_U
        if bool(is_stream.any()):  # the few stream rows: the model's own norm and unembedding
            logits[is_stream] = adapter.unembed(adapter.apply_final_norm(rows[is_stream]))
        lse = logits.logsumexp(dim=-1)
        values, ids = logits.topk(k, dim=-1)
        goal = logits[:, target]
        out["top_ids"].append(ids)
        out["top_probs"].append((values - lse[:, None]).exp())
        out["logit"].append(goal)
        out["prob"].append((goal - lse).exp())
        out["rank"].append((logits > goal[:, None]).sum(dim=-1) + 1)
        out["entropy"].append(lse - torch.linalg.vecdot(torch.softmax(logits, dim=-1), logits))
    return {name: torch.cat(parts) for name, parts in out.items()}


def flow(
    model: Any,
    text: Union[str, TextRun],
    position: int = -1,
    target: Optional[TokenLike] = None,
    *,
    heads: Optional[int] = HEADS,
    memory: Optional[int] = MEMORY,
    neurons: Optional[int] = NEURONS,
    min_contribution: float = 0.0,
    layers: Optional[Union[range, Sequence[int]]] = None,
    k: int = K,
    norms: bool = True,
) -> FlowResult:
    """The flow graph of the prediction at ``position`` (see the module docs).

    Parameters
    ----------
    text:
        The text, or a :class:`~circuitwidgets.analysis.TextRun` with ``"flow"`` in its needs.
    position:
        The position whose next-token prediction is explained (negative counts from the end).
    target:
        A string that is exactly one token, or an id. Default: the actual next token, or at the
        last position the model's top prediction.
    heads, memory, neurons:
        Pruning: the heads kept per layer (largest ``|contribution|``), memory values per head
        (largest ``|contribution|``) and neurons per MLP (largest ``|coefficient|``); ``None`` keeps all.
    min_contribution:
        Drop heads, memory values and neurons whose ``|contribution|`` to the target's logit
        is smaller than this (in logits).
    layers:
        Draw only these layers: a ``range`` or a ``(start, stop)`` pair within the model's.
    k:
        Top tokens kept per node (and per direction in a norm node's filter).
    norms:
        Give each norm a node (``ln1`` before attention, ``ln2`` before the MLP, the final
        ``ln_final``) with its :class:`~circuitwidgets.analysis.NormFilter` (VISIT's layer
        norm as a filter; see :func:`~circuitwidgets.analysis.ln_filter`). A block without a
        norm there (a parallel block without its own ``ln2``, whose MLP then reads ``ln1``; a
        model without norms) gets no node. The
        random-vector controls are computed once per model (``n_random = 64`` vectors, seed 0,
        as ``ln_filter``'s defaults), then remembered.

    The graph has at most ``4 + len(layers) * (heads * (1 + memory) + neurons + 8)`` nodes,
    however long the text and however wide the MLPs.

    Examples
    --------
    >>> graph = analysis.flow(model, "a b c d a b c", target=" d")
    >>> graph.contributors()[0].id                  # who wrote " d" most: the induction head
    'L1H1'
    >>> recalled = graph.memory_values("L1H1")[0]   # and the value it recalled most
    >>> recalled.source, graph.str_tokens[recalled.source]
    (4, ' d')
    """
    try:
        adapter, run = resolve_run(model, text, "flow")
    except KeyError as missing:  # e.g. a mixture of experts: no one neuron activation per MLP
        raise NotImplementedError(f"flow cannot split this model's blocks: {missing.args[0]}") from None
    position = check_position(position, run.seq_len)
    layers = _check_layers(layers, adapter.n_layers)
    k = check_k(k, adapter.d_vocab)
    if isinstance(min_contribution, bool) or not isinstance(min_contribution, (int, float)) or not min_contribution >= 0:
        raise ValueError(f"min_contribution must be a number >= 0, got {min_contribution!r}")
    counts = {
        "heads": _prune_count(heads, "heads", adapter.n_heads),
        "memory": _prune_count(memory, "memory", run.seq_len),
        "neurons": 0 if adapter.attn_only else _prune_count(neurons, "neurons", _d_mlp(adapter)),
    }
    target_id = resolve_target(adapter, run, position, target)
    norm, w = adapter.final_norm, adapter.weights
    with torch.inference_mode():
        resid, written, scale = decompose(adapter, run, position)
        # v · direction is v's direct contribution: centre(v) / scale · (w_ln ⊙ W_U[:, t]), and
        # centring is a symmetric projection, so it can move onto the other factor.
        direction = norm.center(norm.weight * w.W_U[:, target_id]) / scale
        b = _Builder(adapter, run, position, written, direction, float(min_contribution), k if _check_norms(norms) else 0)
        if layers.start == 0:
            embed = written["embed"] + (written["pos_embed"] if written["pos_embed"] is not None else 0)
            stream = b.node("embed", "embed", embed)
            b.edge(stream, b.stream("resid_pre", 0), "writes", embed.norm())
            stream = "L0 resid_pre"
        else:
            stream = b.stream("resid_pre", layers.start)
        for layer in layers:
            stream = b.layer(layer, stream, counts)
        if layers.stop == adapter.n_layers:
            final = b.norm("ln_final", None, norm, resid, stream)
            b.edge(final, b.node("output", "output", resid), "norm" if final != stream else "writes", resid.norm())
        b.filters = dict(zip(b.norm_inputs, norm_filters(adapter, list(b.norm_inputs.values()), k)))
        vectors = torch.stack(b.vectors)
        is_stream = torch.tensor([n["kind"] in STREAM_KINDS for n in b.nodes])
        proj = _project(adapter, vectors, is_stream, scale, target_id, k)
        # Before the soft cap where the model has one (Gemma 2): the parts add up to this.
        logit = (adapter.apply_final_norm(resid[None]) @ w.W_U[:, target_id] + w.b_U[target_id])[0]
        final_bias = norm.bias @ w.W_U[:, target_id] + w.b_U[target_id]
    return _result(adapter, run, position, target_id, layers, b, proj, logit, final_bias, scale)


def _result(adapter: ModelAdapter, run: TextRun, position: int, target: int, layers: range, b: _Builder,
            proj: dict, logit: torch.Tensor, final_bias: torch.Tensor, scale: torch.Tensor) -> FlowResult:
    """The :class:`FlowResult` of a built graph and its projections."""
    nodes = []
    for i, node in enumerate(b.nodes):
        stream = node["kind"] in STREAM_KINDS
        contribution = float(logit) if node["kind"] == "output" else None if stream else float(proj["logit"][i])
        nodes.append(FlowNode(
            **node, contribution=contribution, top_ids=tuple(proj["top_ids"][i].tolist()),
            top_probs=tuple(proj["top_probs"][i].tolist()), target_prob=float(proj["prob"][i]),
            target_rank=int(proj["rank"][i]), entropy=float(proj["entropy"][i]),
        ))
    by_id = {n.id: n for n in nodes}
    edges = tuple(
        FlowEdge(e.source, e.target, e.kind, e.score, by_id[e.source].contribution) for e in b.edges
    )
    ids_seen = torch.cat([proj["top_ids"].reshape(-1), torch.tensor([target]), filter_ids(list(b.filters.values()))]).unique()
    token_strs = dict(zip(ids_seen.tolist(), adapter.to_str_tokens(ids_seen)))
    return FlowResult(
        tokens=run.tokens, str_tokens=list(run.str_tokens), position=position, target=target,
        target_str=token_strs[target], logit=logit, final_bias=final_bias, scale=scale, layers=layers,
        nodes=tuple(nodes), edges=edges, token_strs=token_strs, d_vocab=adapter.d_vocab, filters=dict(b.filters),
    )
