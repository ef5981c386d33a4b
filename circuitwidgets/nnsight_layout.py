"""Where each activation and weight lives in a Hugging Face module tree, per family: the
map the nnsight backend (:mod:`circuitwidgets.model_nnsight`) reads a model through.

An nnsight model shows the Hugging Face modules themselves, so the activations circuitwidgets
names by their TransformerLens hook names (:func:`~circuitwidgets.model.hook_name`) are module
inputs and outputs: ``blocks.L.hook_resid_pre`` is decoder layer ``L``'s input,
``blocks.L.attn.hook_z`` the input of its output projection reshaped to ``[batch, pos, head,
d_head]``, ``blocks.L.attn.hook_pattern`` the attention module's second output (eager attention
only). A :class:`Port` is one such module input or output and the :class:`Piece` s cut from it;
a :class:`Layout` lists a family's ports in the order the model computes them (nnsight reads
them in that order) and says where its weights are.

>>> layout = layout_for("llama")
>>> [port.path for port in layout.block_ports(0)][:3]
['model.layers.0', 'model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.k_proj']
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

__all__ = ["Piece", "Port", "Layout", "layout_for", "FAMILIES"]


@dataclass(frozen=True)
class Piece:
    """One activation cut from a port's value: element ``index`` of a tuple (``None``: the
    value itself), the last dimension's slice ``[start, stop)`` (``None``: all of it), split
    into ``heads`` heads (``0``: not split). ``kind`` is its :func:`hook_name` kind."""

    kind: str
    index: int | None = None
    start: int | None = None
    stop: int | None = None
    heads: int = 0

    def cut(self, value: Any) -> torch.Tensor:
        """This piece of the port's value, shaped as TransformerLens shapes it."""
        t = value[self.index] if self.index is not None else value
        if self.start is not None:
            t = t[..., self.start : self.stop]
        return t.unflatten(-1, (self.heads, -1)) if self.heads else t

    def paste(self, value: Any, new: torch.Tensor) -> Any:
        """The port's value with this piece replaced by ``new`` (shaped as :meth:`cut` gives)."""
        whole = value[self.index] if self.index is not None else value
        flat = new.flatten(-2) if self.heads else new
        if self.start is not None:
            whole = whole.clone()
            whole[..., self.start : self.stop] = flat.to(whole.dtype)
        else:
            whole = flat.to(whole.dtype)
        if self.index is None:
            return whole
        return (*value[: self.index], whole, *value[self.index + 1 :])


@dataclass(frozen=True)
class Port:
    """A module's ``input`` (first positional argument) or ``output``, at ``path`` in the
    module tree, and the pieces read from it."""

    path: str
    io: str
    pieces: tuple[Piece, ...]
    layer: int | None = None

    def kinds(self) -> tuple[str, ...]:
        return tuple(piece.kind for piece in self.pieces)


@dataclass(frozen=True)
class Layout:
    """One family's module tree as the nnsight backend reads it (paths relative to the
    model, ``{layer}`` standing for the layer's index)."""

    family: str
    layers: str
    embed: str
    pos_embed: str | None
    final_norm: str
    ln1: str
    ln2: str
    attn: str
    qkv: tuple[str, ...]
    o_proj: str
    mlp: str
    mlp_out_proj: str
    norm_kind: str
    #: Gemma 2's sandwich norms: the norms between the attention / MLP and the residual
    #: stream (their outputs are hook_attn_out / hook_mlp_out), or None.
    attn_post_norm: str | None = None
    mlp_post_norm: str | None = None
    #: Whether texts start with the BOS token (TransformerLens's default for the family:
    #: Qwen's tokenizers have none, so TransformerLens adds none there).
    prepend_bos: bool = True
    unembed: str = "lm_head"

    def block(self, layer: int) -> str:
        return f"{self.layers}.{layer}"

    def global_ports(self) -> tuple[Port, ...]:
        """The embeddings, computed before layer 0."""
        ports = [Port(self.embed, "output", (Piece("embed"),))]
        if self.pos_embed is not None:
            ports.append(Port(self.pos_embed, "output", (Piece("pos_embed"),)))
        return tuple(ports)

    def block_ports(self, layer: int, n_heads: int = 1, n_kv_heads: int = 1, d_head: int = 1) -> tuple[Port, ...]:
        """Layer ``layer``'s ports in the order the model computes them."""
        b = self.block(layer)
        if len(self.qkv) == 1:  # one fused projection (GPT-2's c_attn): q, k, v side by side
            width = n_heads * d_head
            fused = tuple(
                Piece(kind, start=i * width, stop=(i + 1) * width, heads=n_heads) for i, kind in enumerate("qkv")
            )
            qkv = (Port(f"{b}.{self.qkv[0]}", "output", fused, layer),)
        else:
            heads = (n_heads, n_kv_heads, n_kv_heads)
            qkv = tuple(
                Port(f"{b}.{path}", "output", (Piece(kind, heads=h),), layer)
                for path, kind, h in zip(self.qkv, "qkv", heads)
            )
        if self.attn_post_norm is None:
            attn = (Port(f"{b}.{self.attn}", "output", (Piece("attn_out", index=0), Piece("pattern", index=1)), layer),)
        else:
            attn = (
                Port(f"{b}.{self.attn}", "output", (Piece("pattern", index=1),), layer),
                Port(f"{b}.{self.attn_post_norm}", "output", (Piece("attn_out"),), layer),
            )
        mlp = self.mlp if self.mlp_post_norm is None else self.mlp_post_norm
        return (
            Port(b, "input", (Piece("resid_pre"),), layer),
            *qkv,
            Port(f"{b}.{self.o_proj}", "input", (Piece("z", heads=n_heads),), layer),
            *attn,
            Port(f"{b}.{self.ln2}", "input", (Piece("resid_mid"),), layer),
            Port(f"{b}.{self.mlp_out_proj}", "input", (Piece("mlp_post"),), layer),
            Port(f"{b}.{mlp}", "output", (Piece("mlp_out"),), layer),
            Port(b, "output", (Piece("resid_post"),), layer),
        )


_GPT2 = Layout(
    family="gpt2", layers="transformer.h", embed="transformer.wte", pos_embed="transformer.wpe",
    final_norm="transformer.ln_f", ln1="ln_1", ln2="ln_2", attn="attn", qkv=("attn.c_attn",),
    o_proj="attn.c_proj", mlp="mlp", mlp_out_proj="mlp.c_proj", norm_kind="LN",
)
_LLAMA = Layout(
    family="llama", layers="model.layers", embed="model.embed_tokens", pos_embed=None,
    final_norm="model.norm", ln1="input_layernorm", ln2="post_attention_layernorm", attn="self_attn",
    qkv=("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"), o_proj="self_attn.o_proj",
    mlp="mlp", mlp_out_proj="mlp.down_proj", norm_kind="RMS",
)

#: Hugging Face ``model_type`` -> layout: the families the nnsight backend reads (Mistral and
#: Qwen2 are Llama's module tree; Qwen2 adds q/k/v biases, which the weights carry; Gemma 2
#: adds a norm after the attention and one after the MLP).
FAMILIES: dict[str, Layout] = {
    "gpt2": _GPT2,
    "llama": _LLAMA,
    "mistral": _LLAMA,
    "qwen2": replace(_LLAMA, family="qwen2", prepend_bos=False),
    "gemma2": replace(
        _LLAMA, family="gemma2", ln2="pre_feedforward_layernorm", attn_post_norm="post_attention_layernorm",
        mlp_post_norm="post_feedforward_layernorm",
    ),
}


def layout_for(model_type: str) -> Layout:
    """The layout of the Hugging Face ``model_type``, or ``NotImplementedError`` naming the
    families the nnsight backend reads."""
    try:
        return FAMILIES[model_type]
    except KeyError:
        raise NotImplementedError(
            f"the nnsight backend does not know the module layout of {model_type!r} models; it reads "
            f"{sorted(FAMILIES)}. Load the model through TransformerLens instead "
            "(TransformerBridge.boot_transformers(name), or pass the Hugging Face model itself)"
        ) from None
