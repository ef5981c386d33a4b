"""Composition scores: how much a later head reads what an earlier head writes.

From the Framework paper (and TransformerLens's ``all_composition_scores``): head 1 in layer
``l1`` writes through its OV circuit ``W_OV¹ = W_V¹ W_O¹`` (``d_model x d_model``, row-vector
convention); head 2 in a later layer ``l2`` can read that output with its query, key or value::

    Q-composition:  ‖W_OV¹ · W_Q² W_K²ᵀ‖_F / (‖W_OV¹‖_F ‖W_Q² W_K²ᵀ‖_F)
    K-composition:  ‖W_OV¹ · W_K² W_Q²ᵀ‖_F / (‖W_OV¹‖_F ‖W_K² W_Q²ᵀ‖_F)
    V-composition:  ‖W_OV¹ · W_V² W_O²‖_F  / (‖W_OV¹‖_F ‖W_V² W_O²‖_F)

Each score is in ``[0, 1]`` (1 when the reading matrix sits entirely in what head 1 writes).
Pairs where head 2 is not in a later layer are 0, as in TransformerLens; so are pairs with an
all-zero head (where TransformerLens gives NaN).

How it is computed: every pair's ``‖A B‖_F²`` is ``tr(AᵀA · B Bᵀ) = ⟨AᵀA, B Bᵀ⟩``, the inner
product of two Gram matrices, one per head: the writer's ``W_Oᵀ (W_VᵀW_V) W_O`` and the
reader's ``W_Q (W_KᵀW_K) W_Qᵀ`` (Q), ``W_K (W_QᵀW_Q) W_Kᵀ`` (K) or ``W_V (W_O W_Oᵀ) W_Vᵀ`` (V),
each built from ``d_head``-sized factors. Every head's Gram matrix costs ``d_model² d_head``
once, and every pair ``d_model²`` (against ``d_model d_head²`` for the ``d_head x d_head``
product of the two heads' factors: 5x less work on GPT-2 small's 9,504 pairs); all pairs are
one matrix product, done block by block over the symmetric Gram matrices' upper triangle
(:data:`GRAM_BLOCKS`), so no more than one block of every head's Gram matrix is held at once.
The norms in the denominators are ``⟨W_VᵀW_V, W_O W_Oᵀ⟩`` and the like, ``d_head x d_head``.

How big is big? Random matrices already compose a little: for Gaussian factors of the
same shapes (``d_model x d_head`` times ``d_head x d_model``, the same for all three kinds) the
score is about ``sqrt(d_head / d_model)``-ish, not 0. :func:`composition_baseline` computes that
baseline by drawing such random heads (mean and spread of a single pair's score), and
:func:`head_composition` returns all three kinds with the baseline subtracted, as the Framework
paper plots them.

Rotary models: the query-key product there is ``q_i R_{i-j} k_jᵀ``, a rotation by the distance
between the positions; Q- and K-composition here use the positionless ``W_Q W_Kᵀ``, which is an
approximation, and :attr:`HeadComposition.approximation` says so for the view to show.

Example::

    scores = composition_scores(model, "K")
    scores[0, 3, 1, 6]     # how much L1H6's keys read from L0H3's output
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple, Optional

import torch

from ..model import as_adapter
from ..checks import check_choice, check_int

#: The composition kinds: which input of the later head reads the earlier head's output.
COMPOSITION_KINDS = ("Q", "K", "V")
#: What :meth:`HeadComposition.edges` takes as ``kind``: one kind, or ``"all"`` three.
EDGE_KINDS = COMPOSITION_KINDS + ("all",)


class CompositionEdge(NamedTuple):
    """One head pair that composes: the earlier (writing) head, the later (reading) head, the
    kind of composition and its score minus the random baseline.

    >>> edge = analysis.head_composition(model).edges("K")[0]
    >>> edge.kind, f"L{edge.writer_layer}H{edge.writer_head} -> L{edge.reader_layer}H{edge.reader_head}"
    ('K', 'L0H1 -> L1H3')
    """

    writer_layer: int
    writer_head: int
    reader_layer: int
    reader_head: int
    kind: str
    excess: float


def composition_scores(model: Any, kind: str = "Q") -> torch.Tensor:
    """``[n_layers, n_heads, n_layers, n_heads]`` composition scores (see the module docs).

    ``scores[l1, h1, l2, h2]`` is how strongly head ``l2.h2``'s ``kind`` input (``"Q"``,
    ``"K"`` or ``"V"``) reads the output of head ``l1.h1``; 0 unless ``l1 < l2``.

    Examples
    --------
    >>> k = analysis.composition_scores(model, "K")
    >>> k.shape                             # [layer, head, later layer, later head]
    torch.Size([2, 4, 2, 4])
    """
    check_choice(kind, "kind", COMPOSITION_KINDS)
    adapter = as_adapter(model)
    w = adapter.weights
    with torch.inference_mode():
        return _scores(w.W_Q, w.W_K, w.W_V, w.W_O, (kind,))[0]


def _r(x: torch.Tensor) -> torch.Tensor:
    """The ``R`` of a reduced QR decomposition of each ``[d_model, d_head]`` matrix."""
    return torch.linalg.qr(x, mode="r").R


def _factors(W_Q, W_K, W_V, W_O, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(writer [..., d_head, d_model], reader [..., d_model, d_head])``: small factors whose
    products have the Frobenius norms of head 1's ``W_V W_O`` times head 2's ``kind`` matrix
    (with reduced QRs ``X = Q R``: ``‖A · X Y‖_F = ‖A · X R_Yᵀ‖_F`` for ``Yᵀ = Q_Y R_Y``); the
    random baseline scores its independent pairs with them."""
    # Writer (head 1): W_V W_O has the same Frobenius products as R(W_V) W_O.
    writer = _r(W_V) @ W_O
    # Reader (head 2): X Y with Yᵀ = Q R  ->  X Rᵀ.
    if kind == "Q":
        reader = W_Q @ _r(W_K).transpose(-1, -2)
    elif kind == "K":
        reader = W_K @ _r(W_Q).transpose(-1, -2)
    else:
        reader = W_V @ _r(W_O.transpose(-1, -2)).transpose(-1, -2)
    return writer, reader


def _ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator``, 0 where the denominator is 0 (an all-zero head)."""
    return torch.where(
        denominator > 0, numerator / denominator.clamp(min=torch.finfo(torch.float32).tiny), 0.0
    )


#: How many blocks each side of a ``d_model x d_model`` Gram matrix is cut into: the pairs'
#: inner products are summed over the ``GRAM_BLOCKS * (GRAM_BLOCKS + 1) / 2`` blocks on and
#: above the diagonal (the ones below are their transposes), 56% of the full product's work.
GRAM_BLOCKS = 8


def _gram_factors(W_Q, W_K, W_V, W_O, kind: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(Y, Z, norm²)`` of every head's reading matrix ``M`` of ``kind``: ``M Mᵀ = Y Zᵀ``
    (``[..., d_model, d_head]`` each) and ``‖M‖_F²``; ``kind="writer"`` is the writing
    matrix's ``MᵀM`` (``M = W_V W_O``)."""
    gram = lambda x: x.transpose(-1, -2) @ x  # noqa: E731  (d_head x d_head)
    if kind == "writer":
        g_v, g_o = gram(W_V), W_O @ W_O.transpose(-1, -2)
        return W_O.transpose(-1, -2) @ g_v, W_O.transpose(-1, -2), (g_v * g_o).sum((-2, -1))
    if kind == "V":
        g_v, g_o = gram(W_V), W_O @ W_O.transpose(-1, -2)
        return W_V @ g_o, W_V, (g_v * g_o).sum((-2, -1))
    x, y = (W_Q, W_K) if kind == "Q" else (W_K, W_Q)  # M = X Yᵀ, M Mᵀ = X (YᵀY) Xᵀ
    g_x, g_y = gram(x), gram(y)
    return x @ g_y, x, (g_x * g_y).sum((-2, -1))


def _scores(W_Q: torch.Tensor, W_K: torch.Tensor, W_V: torch.Tensor, W_O: torch.Tensor, kinds) -> torch.Tensor:
    """``[len(kinds), n_layers, n_heads, n_layers, n_heads]``: the scores of the module docs
    for stacked weights ``[n_layers, n_heads, ...]``, every pair's ``⟨AᵀA, B Bᵀ⟩`` summed
    block by block (see the module docs)."""
    n_layers, n_heads, d_model = W_Q.shape[0], W_Q.shape[1], W_Q.shape[2]
    w_y, w_z, w_norm2 = (t.flatten(0, 1) for t in _gram_factors(W_Q, W_K, W_V, W_O, "writer"))
    readers = [_gram_factors(W_Q, W_K, W_V, W_O, kind) for kind in kinds]
    r_y, r_z, r_norm2 = (torch.cat([r[i].flatten(0, 1) for r in readers]) for i in range(3))
    squares = torch.zeros(w_y.shape[0], r_y.shape[0])  # [writer heads, kinds x reader heads]
    size = -(-d_model // GRAM_BLOCKS)
    cuts = [slice(start, start + size) for start in range(0, d_model, size)]
    for i, rows in enumerate(cuts):
        for j in range(i, len(cuts)):
            writer = (w_y[:, rows] @ w_z[:, cuts[j]].transpose(-1, -2)).flatten(1)
            reader = (r_y[:, rows] @ r_z[:, cuts[j]].transpose(-1, -2)).flatten(1)
            squares.addmm_(writer, reader.T, alpha=1.0 if i == j else 2.0)
    numerator = squares.clamp(min=0).sqrt()  # rounding can leave a -0.0000001
    scores = _ratio(numerator, (w_norm2[:, None] * r_norm2[None]).sqrt())
    scores = scores.reshape(n_layers, n_heads, len(kinds), n_layers, n_heads).permute(2, 0, 1, 3, 4)
    layer = torch.arange(n_layers)
    later = layer[:, None, None, None] < layer[None, None, :, None]
    return torch.where(later, scores, 0.0)


def check_threshold(threshold: float) -> float:
    """A threshold on a composition score's excess: a real number in ``[-1, 1]``."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"threshold must be a number in [-1, 1], got {type(threshold).__name__} {threshold!r}")
    if not -1.0 <= float(threshold) <= 1.0:  # NaN fails this too
        raise ValueError(f"threshold {threshold!r} is out of range; it must be in [-1, 1]")
    return float(threshold)


#: How many random head pairs :func:`composition_baseline` draws by default.
BASELINE_DRAWS = 128


@functools.lru_cache(maxsize=32)
def composition_baseline(d_model: int, d_head: int, *, draws: int = BASELINE_DRAWS, seed: int = 0) -> tuple[float, float]:
    """The composition score of random heads: ``(mean, std)`` over ``draws`` pairs.

    Each pair is two heads with independent standard Gaussian ``W_Q, W_K, W_V
    [d_model, d_head]`` and ``W_O [d_head, d_model]`` (the score does not depend on their
    scale), scored pair by pair as the ``d_head x d_head`` product of their QR-reduced factors
    (an independent route to the same formula as :func:`composition_scores`, which the tests
    hold to TransformerLens's); ``std`` is the spread of
    one pair's score (not of the mean). The three kinds multiply factors of the same shapes, so
    their baselines have the same distribution: this is the K-composition of the draws. The
    draws are seeded, so the result depends only on the arguments and is computed once per
    process (a view that redraws, or switches kinds, does not pay for it again).

    Examples
    --------
    >>> mean, std = analysis.composition_baseline(128, 32)    # the pocket models' shapes
    >>> round(mean, 2), std < 0.01
    (0.09, True)
    """
    d_model = check_int(d_model, "d_model", 1)
    d_head = check_int(d_head, "d_head", 1)
    draws = check_int(draws, "draws", 2)
    generator = torch.Generator().manual_seed(seed)
    scores = []
    with torch.inference_mode():
        for start in range(0, draws, 64):  # 64 pairs at a time: GPT-2's shapes stay ~40 MB
            n = min(64, draws - start)
            # head 1 writes with (W_V, W_O), head 2 reads with its keys (W_Q, W_K)
            V1, Q2, K2 = (torch.randn(n, d_model, d_head, generator=generator) for _ in range(3))
            O1 = torch.randn(n, d_head, d_model, generator=generator)
            writer, reader = _factors(Q2, K2, V1, O1, "K")
            numerator = (writer @ reader).flatten(-2).norm(dim=-1)
            denominator = writer.flatten(-2).norm(dim=-1) * reader.flatten(-2).norm(dim=-1)
            scores.append(_ratio(numerator, denominator))
    scores = torch.cat(scores)
    return float(scores.mean()), float(scores.std())


#: What :attr:`HeadComposition.approximation` says for a model with rotary positions.
ROTARY_APPROXIMATION = (
    "rotary model: Q- and K-composition use the positionless W_Q W_Kᵀ; the model's own "
    "query-key product also rotates by the distance between the positions"
)


@dataclass(frozen=True, eq=False)
class HeadComposition:
    """Q-, K- and V-composition between every pair of heads, and what random heads give.

    Attributes
    ----------
    kinds:
        ``("Q", "K", "V")``: the order of the first axis below.
    scores:
        ``[3, n_layers, n_heads, n_layers, n_heads]``: ``scores[k, l1, h1, l2, h2]`` is how
        strongly head ``l2.h2``'s ``kinds[k]`` input reads head ``l1.h1``'s output
        (:func:`composition_scores`); 0 where ``l1 >= l2``.
    valid:
        ``BoolTensor[n_layers, n_heads, n_layers, n_heads]``: the scored pairs (``l1 < l2``).
    baseline, baseline_std:
        Mean and spread of the score of random heads of this model's shapes
        (:func:`composition_baseline`), and ``draws``, how many pairs it drew.
    excess:
        ``scores - baseline`` on the scored pairs, 0 elsewhere: what a head pair composes
        beyond chance (negative: less than random heads would).
    head_labels:
        ``"L{l}H{h}"`` for every head, layer by layer.
    approximation:
        ``None`` when the scores are the model's own; otherwise a sentence for the view
        (rotary models: :data:`ROTARY_APPROXIMATION`).

    Examples
    --------
    >>> comp = analysis.head_composition(model)
    >>> comp.scores.shape                        # [kind, layer, head, later layer, later head]
    torch.Size([3, 2, 4, 2, 4])
    >>> k = comp.of("K")                         # the induction heads' keys read L0H1
    >>> int(k[0, :, 1, 3].argmax()), bool(comp.excess_of("K")[0, 1, 1, 3] > 0)
    (1, True)
    """

    kinds: tuple[str, ...]
    scores: torch.Tensor
    valid: torch.Tensor
    baseline: float
    baseline_std: float
    draws: int
    excess: torch.Tensor
    head_labels: list[str]
    approximation: Optional[str]

    def of(self, kind: str) -> torch.Tensor:
        """The ``[n_layers, n_heads, n_layers, n_heads]`` scores of one kind."""
        return self.scores[self.kinds.index(check_choice(kind, "kind", self.kinds))]

    def excess_of(self, kind: str) -> torch.Tensor:
        """The scores of one kind with the random baseline subtracted (0 for unscored pairs)."""
        return self.excess[self.kinds.index(check_choice(kind, "kind", self.kinds))]

    def edges(self, kind: str = "K", threshold: float = 0.0, limit: Optional[int] = None) -> list[CompositionEdge]:
        """The head pairs whose excess (score minus baseline) is above ``threshold``, strongest
        first (ties: in kind order, then by head), at most ``limit`` of them.

        ``kind`` is ``"Q"``, ``"K"``, ``"V"`` or ``"all"`` (the pairs of every kind, each an
        edge of its own). This is the one pruning rule: CompositionGraph draws exactly these
        edges (its ``state.ts`` follows the same order).

        Examples
        --------
        >>> comp = analysis.head_composition(model)
        >>> top = comp.edges("K", threshold=0.05)[0]        # what the induction head's keys read
        >>> (top.writer_layer, top.writer_head, top.reader_layer, top.reader_head)
        (0, 1, 1, 3)
        """
        check_choice(kind, "kind", EDGE_KINDS)
        threshold = check_threshold(threshold)
        if limit is not None:
            limit = check_int(limit, "limit", 0)
        picked = self.kinds if kind == "all" else (kind,)
        n_layers, n_heads = self.valid.shape[:2]
        values = torch.stack([self.excess_of(k) for k in picked]).double()  # exact float32 values
        keep = (values > threshold) & self.valid
        index = keep.nonzero()
        found = values[keep]
        # strongest first; a stable sort keeps the index order (kind, l1, h1, l2, h2) on ties
        order = torch.sort(-found, stable=True).indices
        if limit is not None:
            order = order[:limit]
        return [
            CompositionEdge(int(l1), int(h1), int(l2), int(h2), picked[int(k)], float(found[i]))
            for i in order.tolist()
            for k, l1, h1, l2, h2 in [index[i].tolist()]
        ]

    def plot(self, kind: str = "K", **options):
        """Bokeh heads x heads heatmap of one kind's excess: :func:`circuitwidgets.figures.composition_matrix`."""
        from ..figures import composition_matrix

        return composition_matrix(self, kind, **options)


def head_composition(model: Any, *, draws: int = BASELINE_DRAWS, seed: int = 0) -> HeadComposition:
    """All three composition kinds for every head pair, with the random baseline subtracted.

    ``draws`` and ``seed`` set the random heads of the baseline (:func:`composition_baseline`).
    Grouped-query models are scored per query head (each K/V head repeated for the query heads
    that share it, as TransformerLens does).

    Examples
    --------
    >>> comp = analysis.head_composition(model)
    >>> round(comp.baseline, 2), comp.approximation is None    # learned positions: exact
    (0.09, True)
    """
    adapter = as_adapter(model)
    w = adapter.weights
    with torch.inference_mode():
        scores = _scores(w.W_Q, w.W_K, w.W_V, w.W_O, COMPOSITION_KINDS)
    layer = torch.arange(adapter.n_layers)
    valid = (layer[:, None, None, None] < layer[None, None, :, None]).expand(scores.shape[1:])
    mean, std = composition_baseline(adapter.d_model, adapter.d_head, draws=draws, seed=seed)
    return HeadComposition(
        kinds=COMPOSITION_KINDS,
        scores=scores,
        valid=valid.clone(),
        baseline=mean,
        baseline_std=std,
        draws=draws,
        excess=torch.where(valid, scores - mean, 0.0),
        head_labels=[f"L{l}H{h}" for l in range(adapter.n_layers) for h in range(adapter.n_heads)],
        approximation=ROTARY_APPROXIMATION if adapter.position_kind == "rotary" else None,
    )
