"""Models with hand-set weights whose analysis results are known exactly.

Built with ``circuitwidgets.build_model`` (a HookedTransformer on TransformerLens 3.x, a
TransformerBridge on 4.x) from TransformerLens-format state dicts.
"""

from __future__ import annotations

import torch

from circuitwidgets.model import build_model

#: Attention logit for a match: after the 1/sqrt(d_head) scaling still ~500, so softmax puts
#: all of a row's attention (to float32 precision) on the matching key.
BIG = 1e4


def _attn_state(n_layers: int, n_heads: int, d_model: int, d_head: int) -> dict[str, torch.Tensor]:
    """Zero attention weights and biases for every layer, to be filled in."""
    state = {}
    for layer in range(n_layers):
        prefix = f"blocks.{layer}.attn."
        for name in ("W_Q", "W_K", "W_V"):
            state[prefix + name] = torch.zeros(n_heads, d_model, d_head)
        state[prefix + "W_O"] = torch.zeros(n_heads, d_head, d_model)
        for name in ("b_Q", "b_K", "b_V"):
            state[prefix + name] = torch.zeros(n_heads, d_head)
        state[prefix + "b_O"] = torch.zeros(d_model)
    return state


def induction_circuit_model(tokenizer):
    """Two layers, one head each, no norms, no MLPs: L0H0 is an exact previous-token head and
    L1H0 an exact induction head.

    The residual stream has three one-hot blocks: the token (``A``, d_vocab dims), the position
    (``B``, n_ctx dims) and the previous token (``C``, d_vocab dims), which L0H0 writes:

    * L0H0: query at position i reads ``B_i``, key at j reads ``B_j`` as slot ``j + 1``, so the
      only large score is key ``j = i - 1``; its value copies the token block into ``C``.
    * L1H0: query reads the token ``A``, key reads the previous token ``C``: it attends to the
      key whose *previous* token equals the current token -- the induction target.
    """
    V, C = tokenizer.vocab_size, 64
    A, B, P = 0, V, V + C  # block offsets
    d_model, d_head = 2 * V + C, V
    state = _attn_state(2, 1, d_model, d_head)
    W_E = torch.zeros(V, d_model)
    W_E[:, A : A + V] = torch.eye(V)
    W_pos = torch.zeros(C, d_model)
    W_pos[:, B : B + C] = torch.eye(C)
    # Layer 0: previous-token head copying the token block into block C.
    state["blocks.0.attn.W_Q"][0, B : B + C, :C] = BIG * torch.eye(C)
    state["blocks.0.attn.W_K"][0, B : B + C - 1, 1:C] = torch.eye(C - 1)
    state["blocks.0.attn.W_V"][0, A : A + V] = torch.eye(V)
    state["blocks.0.attn.W_O"][0, :, P : P + V] = torch.eye(V)
    # Layer 1: induction head (current token against the previous token of each key).
    state["blocks.1.attn.W_Q"][0, A : A + V] = BIG * torch.eye(V)
    state["blocks.1.attn.W_K"][0, P : P + V] = torch.eye(V)
    state["blocks.1.attn.W_V"][0, A : A + V] = torch.eye(V)
    state["blocks.1.attn.W_O"][0] = torch.randn(V, d_model, generator=torch.Generator().manual_seed(1)) * 0.01
    state["embed.W_E"] = W_E
    state["pos_embed.W_pos"] = W_pos
    state["unembed.W_U"] = torch.randn(d_model, V, generator=torch.Generator().manual_seed(2))
    state["unembed.b_U"] = torch.zeros(V)
    cfg = dict(
        n_layers=2, n_heads=1, d_model=d_model, d_head=d_head, n_ctx=C, d_vocab=V,
        act_fn="gelu_new", attn_only=True, normalization_type=None, seed=0,
    )
    return build_model(cfg, state, tokenizer, model_name="induction-circuit")


def identity_ov_model(tokenizer):
    """One layer, two heads, tied embeddings (``W_U = W_Eᵀ``): head 0's OV is +identity on its
    16-dimensional subspace, head 1's is -identity.

    Then head 0's full OV circuit ``W_E P W_Eᵀ`` is positive semi-definite (copying score 1)
    and head 1's is negative semi-definite (-1); on the plain W_V·W_O the nonzero eigenvalues
    are all +1 and all -1.
    """
    V, d_model, d_head = tokenizer.vocab_size, 64, 16
    generator = torch.Generator().manual_seed(3)
    state = _attn_state(1, 2, d_model, d_head)
    W_E = torch.randn(V, d_model, generator=generator) / d_model**0.5
    eye = torch.eye(d_head)
    for head, sign in ((0, 1.0), (1, -1.0)):
        state["blocks.0.attn.W_V"][head, :d_head] = eye
        state["blocks.0.attn.W_O"][head, :, :d_head] = sign * eye
        state["blocks.0.attn.W_Q"][head] = torch.randn(d_model, d_head, generator=generator)
        state["blocks.0.attn.W_K"][head] = torch.randn(d_model, d_head, generator=generator)
    state["embed.W_E"] = W_E
    state["pos_embed.W_pos"] = torch.randn(64, d_model, generator=generator) * 0.1
    state["unembed.W_U"] = W_E.T.clone()
    state["unembed.b_U"] = torch.zeros(V)
    cfg = dict(
        n_layers=1, n_heads=2, d_model=d_model, d_head=d_head, n_ctx=64, d_vocab=V,
        act_fn="gelu_new", attn_only=True, normalization_type=None, seed=0,
    )
    return build_model(cfg, state, tokenizer, model_name="identity-ov")
