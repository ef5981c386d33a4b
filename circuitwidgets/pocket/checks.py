"""The training script's own check that a pocket model contains its circuits.

These numbers are computed on the plain-torch training network (:mod:`.net`) so that training
can stop and fail loudly without building a TransformerLens model. The numbers published in
the model card and compared by the tests come from :mod:`circuitwidgets.analysis` run on the
loaded TransformerLens model (see :mod:`.measure`); the two use the same definitions.

Definitions, on ``[BOS, s, s]`` with ``s`` = ``half`` uniform random ordinary tokens, averaged
over the batch and over the *second-half queries* ``q = half+1 .. 2*half``:

* **previous-token score** of a head: attention from ``q`` to ``q-1``;
* **induction score**: attention from ``q`` to ``q-half+1``, the token that followed the
  earlier copy of the current token;
* **repeated-half loss**: cross-entropy of predicting the second copy (all but its first token,
  which cannot be predicted);
* **copying score** of a head's full OV circuit ``W_E W_V W_O W_U`` (``[d_vocab, d_vocab]``):
  ``sum(Re λ) / sum(|λ|)`` over its eigenvalues λ (Elhage et al. 2021), 1 for a pure copier;
* **K-composition** of an earlier head ``a`` into a later head ``b``:
  ``‖W_OV^a W_K^b W_Q^bᵀ‖_F / (‖W_OV^a‖_F ‖W_K^b W_Q^bᵀ‖_F)`` with ``W_OV = W_V W_O``,
  compared with the same score for Gaussian random matrices of the same shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .corpus import repeated_random_tokens
from .net import PocketTransformer

__all__ = ["Thresholds", "circuit_report", "failures", "composition_k", "random_k_baseline"]


@dataclass(frozen=True)
class Thresholds:
    """What a shipped model must reach (issue #3). ``None`` skips a check."""

    prev_token: float | None = 0.7        # best layer-0 head
    induction: float | None = 0.7         # best head in ``induction_layers``
    repeated_loss: float | None = 0.5     # nats, second copy
    copying: float | None = 0.7           # the best induction head's full OV circuit
    k_composition_sigmas: float | None = 3.0  # prev-token -> induction, above random mean
    induction_layers: tuple[int, ...] = (1,)


@torch.no_grad()
def ov_copying_scores(net: PocketTransformer) -> torch.Tensor:
    """``[n_layers, n_heads]`` eigenvalue copying score of each head's full OV circuit.

    The non-zero eigenvalues of ``(W_E W_V)(W_O W_U)`` are those of the small
    ``(W_O W_U)(W_E W_V)`` ``[d_head, d_head]``, which is what is computed.
    """
    W_E, W_U = net.embed.W_E.double(), net.W_U.double()
    rows = []
    for block in net.blocks:
        A = torch.einsum("vd,hde->hve", W_E, block.attn.W_V.double())      # [H, V, dh]
        B = torch.einsum("hed,dv->hev", block.attn.W_O.double(), W_U)      # [H, dh, V]
        lam = torch.linalg.eigvals(B @ A)                                  # [H, dh]
        rows.append(lam.real.sum(-1) / lam.abs().sum(-1))
    return torch.stack(rows).float()


def _k_comp(W_V, W_O, W_Q, W_K) -> torch.Tensor:
    ov = W_V @ W_O                      # [d, d]: what head a writes
    kq = W_K @ W_Q.transpose(-1, -2)    # [d, d]: how head b's keys read it
    return torch.linalg.matrix_norm(ov @ kq) / (torch.linalg.matrix_norm(ov) * torch.linalg.matrix_norm(kq))


@torch.no_grad()
def composition_k(net: PocketTransformer, a: tuple[int, int], b: tuple[int, int]) -> float:
    """K-composition score of head ``a = (layer, head)`` into the later head ``b``."""
    A, B = net.blocks[a[0]].attn, net.blocks[b[0]].attn
    return float(_k_comp(A.W_V[a[1]].double(), A.W_O[a[1]].double(), B.W_Q[b[1]].double(), B.W_K[b[1]].double()))


@torch.no_grad()
def random_k_baseline(d_model: int, d_head: int, *, draws: int = 200, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation of the K-composition score between Gaussian random heads
    of the same shapes (the score does not depend on their scale)."""
    g = torch.Generator().manual_seed(seed)
    mats = [torch.randn(draws, *shape, generator=g, dtype=torch.float64)
            for shape in [(d_model, d_head), (d_head, d_model), (d_model, d_head), (d_model, d_head)]]
    scores = _k_comp(*mats)
    return float(scores.mean()), float(scores.std())


@torch.no_grad()
def circuit_report(
    net: PocketTransformer, *, half: int, batch: int, seed: int, bos_id: int, low: int
) -> dict:
    """Every number the checks need, as plain Python (JSON-ready)."""
    was_training = net.training
    net.eval()
    g = torch.Generator().manual_seed(seed)
    tokens = repeated_random_tokens(batch, half, bos_id=bos_id, low=low, high=net.cfg.d_vocab, generator=g)
    logits, patterns = net(tokens, return_patterns=True)
    net.train(was_training)
    q = torch.arange(half + 1, 2 * half + 1)
    pats = torch.stack(patterns)                           # [L, batch, H, query, key]
    prev = pats[..., q, q - 1].mean(dim=(1, 3))            # [L, H]
    induction = pats[..., q, q - half + 1].mean(dim=(1, 3))
    targets = tokens[:, half + 2:]
    loss = F.cross_entropy(logits[:, half + 1:-1].reshape(-1, logits.shape[-1]), targets.reshape(-1))
    copying = ov_copying_scores(net)

    L = net.cfg.n_layers
    prev_head = (0, int(prev[0].argmax()))
    ind_flat = int(induction[1:].argmax()) if L > 1 else 0
    ind_head = (1 + ind_flat // net.cfg.n_heads, ind_flat % net.cfg.n_heads) if L > 1 else (0, 0)
    base_mean, base_std = random_k_baseline(net.cfg.d_model, net.cfg.d_head)
    k = composition_k(net, prev_head, ind_head) if L > 1 else float("nan")
    return {
        "settings": {"half": half, "batch": batch, "seed": seed},
        "repeated_half_loss": float(loss),
        "previous_token": prev.tolist(),
        "induction": induction.tolist(),
        "copying_full_ov": copying.tolist(),
        "previous_token_head": list(prev_head),
        "induction_head": list(ind_head),
        "k_composition": k,
        "k_composition_random": {"mean": base_mean, "std": base_std},
    }


def failures(report: dict, t: Thresholds) -> list[str]:
    """Human-readable reasons this report misses the thresholds (empty when all pass)."""
    out = []
    prev = report["previous_token"]
    ind = report["induction"]
    best_prev = max(prev[0])
    if t.prev_token is not None and best_prev < t.prev_token:
        out.append(f"no previous-token head in layer 0: best score {best_prev:.3f} < {t.prev_token}")
    cands = [(ind[l][h], (l, h)) for l in t.induction_layers for h in range(len(ind[l]))]
    best_ind, (li, hi) = max(cands)
    if t.induction is not None and best_ind < t.induction:
        out.append(f"no induction head in layers {t.induction_layers}: best {best_ind:.3f} < {t.induction}")
    if t.repeated_loss is not None and report["repeated_half_loss"] >= t.repeated_loss:
        out.append(f"repeated-half loss {report['repeated_half_loss']:.3f} >= {t.repeated_loss} nats")
    cop = report["copying_full_ov"][li][hi]
    if t.copying is not None and cop < t.copying:
        out.append(f"induction head {li}.{hi} full-OV copying score {cop:.3f} < {t.copying}")
    if t.k_composition_sigmas is not None:
        base = report["k_composition_random"]
        bar = base["mean"] + t.k_composition_sigmas * base["std"]
        if not report["k_composition"] > bar:
            out.append(
                f"K-composition {report['k_composition']:.3f} is not above the random baseline "
                f"{base['mean']:.3f} + {t.k_composition_sigmas} x {base['std']:.3f} = {bar:.3f}"
            )
    return out
