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

Example::

    scores = composition_scores(model, "K")
    scores[0, 3, 1, 6]     # how much L1H6's keys read from L0H3's output
"""

from __future__ import annotations

from typing import Any

import torch

from ..model import as_adapter
from ..checks import check_choice

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
    n_layers, n_heads = adapter.n_layers, adapter.n_heads
    with torch.inference_mode():
        # Writer (head 1): W_V W_O has the same Frobenius products as R(W_V) W_O  [d_head, d_model].
        writer = _r(w.W_V) @ w.W_O
        # Reader (head 2): X Y with Yᵀ = Q R  ->  X Rᵀ  [d_model, d_head].
        if kind == "Q":
            reader = w.W_Q @ _r(w.W_K).transpose(-1, -2)
        elif kind == "K":
            reader = w.W_K @ _r(w.W_Q).transpose(-1, -2)
        else:
            reader = w.W_V @ _r(w.W_O.transpose(-1, -2)).transpose(-1, -2)
        writer_norm = writer.flatten(-2).norm(dim=-1)  # [n_layers, n_heads]
        reader_norm = reader.flatten(-2).norm(dim=-1)
        scores = torch.zeros(n_layers, n_heads, n_layers, n_heads)
        for l1 in range(n_layers - 1):
            later = reader[l1 + 1 :]  # [n_later, n_heads, d_model, d_head]
            # ‖writer[l1, h1] @ reader[l2, h2]‖_F for every h1 and every later (l2, h2)
            products = torch.einsum("adm,lbme->albde", writer[l1], later)
            numerator = products.flatten(-2).norm(dim=-1)  # [h1, n_later, h2]
            denominator = writer_norm[l1][:, None, None] * reader_norm[l1 + 1 :][None]
            scores[l1, :, l1 + 1 :] = torch.where(
                denominator > 0, numerator / denominator.clamp(min=torch.finfo(torch.float32).tiny), 0.0
            )
    return scores
