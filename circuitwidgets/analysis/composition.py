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

All matrices are products ``X · Y`` of a ``d_model x d_head`` and a ``d_head x d_model`` factor,
so no ``d_model x d_model`` matrix is built: with reduced QR decompositions ``X = Q_X R_X`` and
``Yᵀ = Q_Y R_Y`` (orthonormal ``Q``), ``‖A · X Y‖_F = ‖A · X R_Yᵀ‖_F`` and
``‖X Y · B‖_F = ‖R_X Y · B‖_F``, which leaves ``d_head``-sized products only.

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
from typing import Any, Optional

import torch

from ..model import as_adapter
from ..checks import check_choice, check_int

#: The composition kinds: which input of the later head reads the earlier head's output.
COMPOSITION_KINDS = ("Q", "K", "V")


def _r(x: torch.Tensor) -> torch.Tensor:
    """The ``R`` of a reduced QR decomposition of each ``[d_model, d_head]`` matrix."""
    return torch.linalg.qr(x, mode="r").R


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
        return _scores(w.W_Q, w.W_K, w.W_V, w.W_O, kind)


def _factors(W_Q, W_K, W_V, W_O, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(writer [..., d_head, d_model], reader [..., d_model, d_head])``: small factors whose
    products have the Frobenius norms of head 1's ``W_V W_O`` times head 2's ``kind`` matrix."""
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


def _scores(W_Q: torch.Tensor, W_K: torch.Tensor, W_V: torch.Tensor, W_O: torch.Tensor, kind: str) -> torch.Tensor:
    """The scores of the module docs for stacked weights ``[n_layers, n_heads, ...]``."""
    n_layers, n_heads = W_Q.shape[:2]
    writer, reader = _factors(W_Q, W_K, W_V, W_O, kind)
    writer_norm = writer.flatten(-2).norm(dim=-1)  # [n_layers, n_heads]
    reader_norm = reader.flatten(-2).norm(dim=-1)
    scores = torch.zeros(n_layers, n_heads, n_layers, n_heads)
    for l1 in range(n_layers - 1):
        later = reader[l1 + 1 :]  # [n_later, n_heads, d_model, d_head]
        # ‖writer[l1, h1] @ reader[l2, h2]‖_F for every h1 and every later (l2, h2)
        products = torch.einsum("adm,lbme->albde", writer[l1], later)
        numerator = products.flatten(-2).norm(dim=-1)  # [h1, n_later, h2]
        denominator = writer_norm[l1][:, None, None] * reader_norm[l1 + 1 :][None]
        scores[l1, :, l1 + 1 :] = _ratio(numerator, denominator)
    return scores


#: How many random head pairs :func:`composition_baseline` draws by default.
BASELINE_DRAWS = 128


@functools.lru_cache(maxsize=32)
def composition_baseline(d_model: int, d_head: int, *, draws: int = BASELINE_DRAWS, seed: int = 0) -> tuple[float, float]:
    """The composition score of random heads: ``(mean, std)`` over ``draws`` pairs.

    Each pair is two heads with independent standard Gaussian ``W_Q, W_K, W_V
    [d_model, d_head]`` and ``W_O [d_head, d_model]`` (the score does not depend on their
    scale), scored by the same code as :func:`composition_scores`; ``std`` is the spread of
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
    scores = torch.stack([composition_scores(adapter, kind) for kind in COMPOSITION_KINDS])
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
