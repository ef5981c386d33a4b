"""A plain-torch transformer that computes exactly what a TransformerLens ``HookedTransformer``
computes, used to train the pocket models quickly on a CPU.

Running a model through TransformerLens's hooks costs time on every step; this module is the
same architecture without them, with parameters named and shaped as ``HookedTransformer``'s, so
``state_dict()`` *is* a TransformerLens checkpoint (``embed.W_E``, ``pos_embed.W_pos``,
``blocks.0.attn.W_Q`` ``[n_heads, d_model, d_head]``, ..., ``unembed.W_U``, ``unembed.b_U``).

The architecture (GPT-2 style, pre-LayerNorm)::

    x0 = W_E[tokens] + W_pos[positions]
    for each layer:  x = x + Attn(LN1(x))          then, with MLPs:  x = x + MLP(LN2(x))
    logits = LN_final(x) @ W_U + b_U

* LayerNorm: ``(x - mean) / sqrt(var + 1e-5) * w + b`` (biased variance, eps 1e-5);
* attention: causal, scores scaled by ``1/sqrt(d_head)``, one W_Q/W_K/W_V/W_O per head;
* MLP: ``gelu_new`` (the tanh approximation of GELU), ``W_in [d_model, d_mlp]``;
* learned absolute positions; unembedding with a bias.

The tokenizer and everything about TransformerLens versions live elsewhere: the loader turns
these weights into a real TransformerLens model with ``circuitwidgets.model.build_model``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["NetConfig", "PocketTransformer"]

LN_EPS = 1e-5


@dataclass(frozen=True)
class NetConfig:
    """The shape of a pocket transformer. ``d_mlp=None`` means attention-only."""

    n_layers: int
    d_model: int
    n_heads: int
    d_head: int
    n_ctx: int
    d_vocab: int
    d_mlp: int | None = None

    @property
    def attn_only(self) -> bool:
        return self.d_mlp is None

    def tl_config(self) -> dict:
        """The ``HookedTransformerConfig`` fields that describe this architecture."""
        cfg = dict(
            n_layers=self.n_layers,
            d_model=self.d_model,
            n_heads=self.n_heads,
            d_head=self.d_head,
            n_ctx=self.n_ctx,
            d_vocab=self.d_vocab,
            act_fn="gelu_new",
            attn_only=self.attn_only,
            normalization_type="LN",
            positional_embedding_type="standard",
            eps=LN_EPS,
            default_prepend_bos=True,
        )
        if not self.attn_only:
            cfg["d_mlp"] = self.d_mlp
        return cfg

    def to_dict(self) -> dict:
        return asdict(self)


def _param(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.zeros(*shape))


class _LayerNorm(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))
        self.b = nn.Parameter(torch.zeros(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (x.shape[-1],), self.w, self.b, LN_EPS)


class _Attention(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        H, d, dh = cfg.n_heads, cfg.d_model, cfg.d_head
        self.W_Q, self.W_K, self.W_V = _param(H, d, dh), _param(H, d, dh), _param(H, d, dh)
        self.b_Q, self.b_K, self.b_V = _param(H, dh), _param(H, dh), _param(H, dh)
        self.W_O, self.b_O = _param(H, dh, d), _param(d)

    def forward(self, x: torch.Tensor, return_pattern: bool = False):
        # x [batch, pos, d_model] -> q, k, v [batch, head, pos, d_head]
        q = torch.einsum("bpd,hde->bhpe", x, self.W_Q) + self.b_Q[:, None]
        k = torch.einsum("bpd,hde->bhpe", x, self.W_K) + self.b_K[:, None]
        v = torch.einsum("bpd,hde->bhpe", x, self.W_V) + self.b_V[:, None]
        pattern = None
        if return_pattern:
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
            n = x.shape[1]
            causal = torch.ones(n, n, dtype=torch.bool, device=x.device).tril()
            pattern = scores.masked_fill(~causal, float("-inf")).softmax(-1)
            z = pattern @ v
        else:
            z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        out = torch.einsum("bhpe,hed->bpd", z, self.W_O) + self.b_O
        return out, pattern


class _MLP(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.W_in, self.b_in = _param(cfg.d_model, cfg.d_mlp), _param(cfg.d_mlp)
        self.W_out, self.b_out = _param(cfg.d_mlp, cfg.d_model), _param(cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x @ self.W_in + self.b_in, approximate="tanh") @ self.W_out + self.b_out


class _Block(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.ln1 = _LayerNorm(cfg.d_model)
        self.attn = _Attention(cfg)
        if not cfg.attn_only:
            self.ln2 = _LayerNorm(cfg.d_model)
            self.mlp = _MLP(cfg)

    def forward(self, x: torch.Tensor, return_pattern: bool = False):
        attn_out, pattern = self.attn(self.ln1(x), return_pattern)
        x = x + attn_out
        if hasattr(self, "mlp"):
            x = x + self.mlp(self.ln2(x))
        return x, pattern


class _Holder(nn.Module):
    """A module that only holds named parameters (``embed.W_E`` and friends)."""

    def __init__(self, **params: nn.Parameter):
        super().__init__()
        for name, p in params.items():
            setattr(self, name, p)


class PocketTransformer(nn.Module):
    """The pocket models' transformer; see the module docstring for the exact computation.

    ``tied=True`` reads the unembedding from the embedding (``W_U = W_E.T``), as in the first
    training phase; :meth:`untie` copies ``W_E.T`` into an independent ``W_U``.

    >>> net = PocketTransformer(NetConfig(2, 32, 2, 16, 16, 50), seed=0)
    >>> net(torch.zeros(1, 5, dtype=torch.long)).shape
    torch.Size([1, 5, 50])
    """

    def __init__(self, cfg: NetConfig, *, seed: int, tied: bool = False):
        super().__init__()
        self.cfg = cfg
        self.tied = tied
        self.embed = _Holder(W_E=_param(cfg.d_vocab, cfg.d_model))
        self.pos_embed = _Holder(W_pos=_param(cfg.n_ctx, cfg.d_model))
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layers))
        self.ln_final = _LayerNorm(cfg.d_model)
        self.unembed = _Holder(W_U=_param(cfg.d_model, cfg.d_vocab), b_U=_param(cfg.d_vocab))
        self.init_weights(seed)

    @property
    def initializer_range(self) -> float:
        """``HookedTransformer``'s default init scale, ``0.8 / sqrt(d_model)``."""
        return 0.8 / math.sqrt(self.cfg.d_model)

    def init_weights(self, seed: int) -> None:
        """Normal(0, initializer_range) for every matrix, zeros for biases, ones for LN scales."""
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if p.dim() >= 2:
                    p.copy_(torch.randn(p.shape, generator=g) * self.initializer_range)

    def untie(self) -> None:
        """Give the unembedding its own weights, starting from ``W_E.T``."""
        with torch.no_grad():
            self.unembed.W_U.copy_(self.embed.W_E.T)
        self.tied = False

    @property
    def W_U(self) -> torch.Tensor:
        return self.embed.W_E.T if self.tied else self.unembed.W_U

    def forward(self, tokens: torch.Tensor, return_patterns: bool = False):
        """Logits ``[batch, pos, d_vocab]``; with ``return_patterns`` also the attention
        patterns, one ``[batch, head, query, key]`` tensor per layer."""
        n = tokens.shape[-1]
        if n > self.cfg.n_ctx:
            raise ValueError(f"{n} tokens is longer than the context n_ctx={self.cfg.n_ctx}")
        x = self.embed.W_E[tokens] + self.pos_embed.W_pos[:n]
        patterns = []
        for block in self.blocks:
            x, pattern = block(x, return_patterns)
            patterns.append(pattern)
        logits = self.ln_final(x) @ self.W_U + self.unembed.b_U
        return (logits, patterns) if return_patterns else logits

    # ---- TransformerLens checkpoints ---------------------------------------------------------

    def tl_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights under ``HookedTransformer`` names, as independent float32 tensors."""
        if self.tied:
            raise RuntimeError("untie() the unembedding before exporting")
        return {k: v.detach().clone().float() for k, v in self.state_dict().items()}

    def load_tl_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load ``HookedTransformer``-named weights (any float dtype), strictly."""
        self.load_state_dict({k: v.float() for k, v in state_dict.items()}, strict=True)
        self.tied = False

    def grown(self, cfg: NetConfig, *, seed: int) -> "PocketTransformer":
        """A deeper (and possibly MLP-bearing) copy of this network that computes the same
        function at first: embeddings, positions and the first layers' attention are copied;
        every new sublayer gets fresh random inputs but a zero output matrix (``W_O``,
        ``W_out``), so it adds nothing until training moves it.
        """
        mine = self.cfg
        if (cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_vocab) != (
            mine.d_model, mine.n_heads, mine.d_head, mine.d_vocab
        ) or cfg.n_layers < mine.n_layers or cfg.n_ctx != mine.n_ctx:
            raise ValueError(f"cannot grow {mine} into {cfg}: only layers and MLPs may be added")
        big = PocketTransformer(cfg, seed=seed, tied=self.tied)
        with torch.no_grad():
            big.embed.W_E.copy_(self.embed.W_E)
            big.pos_embed.W_pos.copy_(self.pos_embed.W_pos)
            big.unembed.W_U.copy_(self.unembed.W_U)
            big.unembed.b_U.copy_(self.unembed.b_U)
            big.ln_final.load_state_dict(self.ln_final.state_dict())
            for i, block in enumerate(big.blocks):
                if i < mine.n_layers:
                    block.ln1.load_state_dict(self.blocks[i].ln1.state_dict())
                    block.attn.load_state_dict(self.blocks[i].attn.state_dict())
                else:
                    block.attn.W_O.zero_()
                if hasattr(block, "mlp"):
                    if hasattr(self.blocks[i] if i < mine.n_layers else None, "mlp"):
                        block.mlp.load_state_dict(self.blocks[i].mlp.state_dict())
                        block.ln2.load_state_dict(self.blocks[i].ln2.state_dict())
                    else:
                        block.mlp.W_out.zero_()
        return big
