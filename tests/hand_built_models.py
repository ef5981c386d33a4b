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


def _one_hot_embeddings(state: dict, V: int, C: int, d_model: int) -> None:
    """Token ``t`` -> one-hot in block ``[0, V)``, position ``i`` -> one-hot in ``[V, V + C)``."""
    state["embed.W_E"] = torch.zeros(V, d_model)
    state["embed.W_E"][:, :V] = torch.eye(V)
    state["pos_embed.W_pos"] = torch.zeros(C, d_model)
    state["pos_embed.W_pos"][:, V : V + C] = torch.eye(C)


def _positional_head(state: dict, layer: int, head: int, V: int, C: int, shift: int, out: int) -> None:
    """A head that attends from position ``i`` to ``i - shift`` (by the position block) and
    copies the token block into block ``[out, out + V)``."""
    prefix = f"blocks.{layer}.attn."
    B = V
    state[prefix + "W_Q"][head, B : B + C, :C] = BIG * torch.eye(C)
    state[prefix + "W_K"][head, B : B + C - shift, shift:C] = torch.eye(C - shift)
    state[prefix + "W_V"][head, :V] = torch.eye(V)
    state[prefix + "W_O"][head, :, out : out + V] = torch.eye(V)


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
    A, P = 0, V + C  # block offsets (the positions are [V, V + C))
    d_model, d_head = 2 * V + C, V
    state = _attn_state(2, 1, d_model, d_head)
    _one_hot_embeddings(state, V, C, d_model)
    # Layer 0: previous-token head copying the token block into block C.
    _positional_head(state, 0, 0, V, C, shift=1, out=P)
    # Layer 1: induction head (current token against the previous token of each key).
    state["blocks.1.attn.W_Q"][0, A : A + V] = BIG * torch.eye(V)
    state["blocks.1.attn.W_K"][0, P : P + V] = torch.eye(V)
    state["blocks.1.attn.W_V"][0, A : A + V] = torch.eye(V)
    state["blocks.1.attn.W_O"][0] = torch.randn(V, d_model, generator=torch.Generator().manual_seed(1)) * 0.01
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


def copy_through_induction_model(tokenizer):
    """Two layers, two heads each, no norms, no MLPs: an induction circuit whose prediction
    travels through a *virtual head* (V-composition), so that with attention frozen the logit
    is one known pair term.

    Blocks of the residual stream: token ``A``, position ``B``, previous token ``P``,
    current-token copy ``D`` and output ``O`` (one-hot each).

    * L0H0: previous-token head (as in :func:`induction_circuit_model`), writes ``P``.
    * L0H1: attends to its own position and copies the token into ``D``.
    * L1H0: induction head (query: token ``A``; key: previous token ``P``), whose value reads
      ``D`` (what L0H1 wrote at the attended position: the token to predict) and writes it into
      ``O``; the unembedding reads ``O`` with weight :data:`COPY_LOGIT`.
    * L1H1: all zeros.

    At a repeated token, the path embedding -> L0H1 -> L1H0 -> unembedding carries
    ``COPY_LOGIT`` to the induction target; L1H0 alone reads nothing from the embeddings and
    the previous-token head's pair into L1H0 is exactly 0 (it writes ``P``, which no value reads).
    """
    V, C = tokenizer.vocab_size, 64
    A, P, D, O = 0, V + C, 2 * V + C, 3 * V + C  # blocks; B = [V, V + C)
    d_model, d_head = 4 * V + C, V
    state = _attn_state(2, 2, d_model, d_head)
    _one_hot_embeddings(state, V, C, d_model)
    attn1 = "blocks.1.attn."
    _positional_head(state, 0, 0, V, C, shift=1, out=P)  # L0H0: previous token -> P
    _positional_head(state, 0, 1, V, C, shift=0, out=D)  # L0H1: current token -> D
    # L1H0: induction head reading D, writing O.
    state[attn1 + "W_Q"][0, A : A + V] = BIG * torch.eye(V)
    state[attn1 + "W_K"][0, P : P + V] = torch.eye(V)
    state[attn1 + "W_V"][0, D : D + V] = torch.eye(V)
    state[attn1 + "W_O"][0, :, O : O + V] = torch.eye(V)
    W_U = torch.randn(d_model, V, generator=torch.Generator().manual_seed(4)) * 0.1
    W_U[O : O + V] = COPY_LOGIT * torch.eye(V)
    state["unembed.W_U"] = W_U
    state["unembed.b_U"] = torch.zeros(V)
    cfg = dict(
        n_layers=2, n_heads=2, d_model=d_model, d_head=d_head, n_ctx=C, d_vocab=V,
        act_fn="gelu_new", attn_only=True, normalization_type=None, seed=0,
    )
    return build_model(cfg, state, tokenizer, model_name="copy-through-induction")


#: The logit :func:`copy_through_induction_model`'s unembedding gives the copied token.
COPY_LOGIT = 10.0
