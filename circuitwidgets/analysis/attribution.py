"""Direct logit attribution: who wrote the target token's logit at one position.

The residual stream at the end of the model is a sum of what every component wrote::

    resid_final = embed + pos_embed + Σ_layers (Σ_heads z_h · W_O[h]  +  b_O)  +  Σ_layers mlp_out

and the logit of token ``t`` is ``ln_final(resid_final) · W_U[:, t] + b_U[t]``. Freezing the
final norm's scale at its value for the whole stream (as TransformerLens's
``ActivationCache.logit_attrs`` does) makes the logit a sum over components::

    logit_t = Σ_c  center(c) / scale · (w_ln ⊙ W_U[:, t])   +   (b_ln · W_U[:, t] + b_U[t])

where ``center`` subtracts the mean over ``d_model`` for a LayerNorm (not for RMSNorm) and
``w_ln, b_ln`` are the final norm's weight and bias. Each term is that component's *direct*
contribution: what it adds through the residual stream straight to the unembedding, not
through later layers.

Where we differ from TransformerLens, on purpose: ``logit_attrs`` dots with ``W_U[:, t]`` alone,
which is right only after ``fold_ln`` has moved ``w_ln`` into ``W_U`` and ``b_ln`` into ``b_U``;
on a model with an unfolded final norm its attributions do not add up to the logit. We include
``w_ln`` and report the constant ``b_ln · W_U[:, t] + b_U[t]`` as ``final_bias``, so the parts
always sum to the logit (tested). On a folded model (``w_ln = 1, b_ln = 0``) the per-component
numbers are identical to ``logit_attrs``.

Example::

    attr = logit_attribution(model, "When Mary and John went to the store, John gave a drink to",
                             position=-1, target=" Mary")
    labels, values = attr.components()
    sorted(zip(values.tolist(), labels))[-3:]     # the three biggest writers
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

import torch

from ..model import ModelAdapter, hook_name
from ..checks import TokenLike, check_k, check_position, token_ids
from ._forward import TextRun, resolve_run
from ._topk import topk_of_product


@dataclass(frozen=True, eq=False)
class Attribution:
    """Each component's direct contribution to one logit (see the module docs).

    Attributes
    ----------
    tokens, str_tokens:
        The text's tokens ``LongTensor[seq]`` and display strings.
    position:
        The position read (non-negative).
    target, target_str:
        The token whose logit is attributed.
    logit:
        The model's logit for ``target`` at ``position`` (0-d tensor); every contribution
        below adds up to it. For a model with a final-logit soft cap (Gemma 2) this is the
        logit *before* the cap: the model outputs ``soft_cap * tanh(logit / soft_cap)``,
        which is not a sum of parts (see ``soft_cap``).
    embed, pos_embed:
        0-d contributions of the token embedding and the learned positional embedding
        (``pos_embed`` is ``None`` for models without one, e.g. rotary).
    heads:
        ``[n_layers, n_heads]``: each head's output ``z_h · W_O[h]``.
    attn_bias:
        ``[n_layers]``: each attention layer's output bias ``b_O``.
    mlp:
        ``[n_layers]``: each MLP's output (``None`` for attention-only models).
    final_bias:
        0-d: ``b_ln · W_U[:, t] + b_U[t]``, the part no component writes.
    scale:
        0-d: the frozen final-norm scale at this position (1.0 without a final norm).
    head_top_ids, head_top_values:
        ``[n_layers, n_heads, k]``: the tokens each head's output pushes up most at this
        position through the same frozen norm and ``W_U`` (VISIT-style), and by how much.
    token_strs:
        Display string of every id in ``head_top_ids`` and of ``target``.
    soft_cap:
        The model's final-logit soft cap ``c`` (``c * tanh(x / c)``), or ``None``.

    Examples
    --------
    >>> attr = analysis.logit_attribution(model, "a b c d a b c", target=" d")
    >>> labels, values = attr.components()          # they add up to the logit
    >>> torch.allclose(values.sum(), attr.logit, atol=1e-3)
    True
    >>> labels[values.argmax()]                     # who wrote " d" most: an induction head
    'L1H1'
    """

    tokens: torch.Tensor
    str_tokens: list[str]
    position: int
    target: int
    target_str: str
    logit: torch.Tensor
    embed: torch.Tensor
    pos_embed: Optional[torch.Tensor]
    heads: torch.Tensor
    attn_bias: torch.Tensor
    mlp: Optional[torch.Tensor]
    final_bias: torch.Tensor
    scale: torch.Tensor
    head_top_ids: torch.Tensor
    head_top_values: torch.Tensor
    token_strs: dict[int, str]
    soft_cap: Optional[float] = None

    def parts(self) -> tuple[list["Component"], torch.Tensor]:
        """Every contribution as one flat list, each named by what wrote it:
        ``(components, values)`` with ``values.sum()`` equal to ``logit``.

        Order: embeddings, then layer by layer its heads, its attention bias and its MLP,
        then the final bias (see :class:`Component`).
        """
        n_layers, n_heads = self.heads.shape
        parts, values = [Component("embed", "embed")], [self.embed.reshape(1)]
        if self.pos_embed is not None:
            parts.append(Component("pos_embed", "pos_embed"))
            values.append(self.pos_embed.reshape(1))
        for layer in range(n_layers):
            parts += [Component(f"L{layer}H{head}", "head", layer, head) for head in range(n_heads)]
            parts.append(Component(f"L{layer} attn bias", "attn_bias", layer))
            values += [self.heads[layer], self.attn_bias[layer].reshape(1)]
            if self.mlp is not None:
                parts.append(Component(f"L{layer} MLP", "mlp", layer))
                values.append(self.mlp[layer].reshape(1))
        parts.append(Component("final bias", "final_bias"))
        values.append(self.final_bias.reshape(1))
        return parts, torch.cat(values)

    def components(self) -> tuple[list[str], torch.Tensor]:
        """Every contribution as one flat list for a bar chart: ``(labels, values)``.

        Labels: ``"embed"``, ``"pos_embed"``, ``"L{l}H{h}"``, ``"L{l} attn bias"``,
        ``"L{l} MLP"``, ``"final bias"``; ``values.sum()`` equals ``logit``.
        """
        parts, values = self.parts()
        return [part.label for part in parts], values

    def plot(self, **options):
        """Bokeh bar chart of the contributions: :func:`circuitwidgets.figures.attribution_bars`."""
        from ..figures import attribution_bars

        return attribution_bars(self, **options)


@dataclass(frozen=True)
class Component:
    """One writer to the residual stream, as :meth:`Attribution.parts` lists them.

    ``kind`` is ``"embed"``, ``"pos_embed"``, ``"head"``, ``"attn_bias"``, ``"mlp"`` or
    ``"final_bias"``; ``layer`` is set for heads, attention biases and MLPs, ``head`` for heads.

    Examples
    --------
    >>> attr = analysis.logit_attribution(model, "a b c d a b c", target=" d")
    >>> components, values = attr.parts()
    >>> c = components[values.argmax()]
    >>> c
    Component(label='L1H1', kind='head', layer=1, head=1)
    """

    label: str
    kind: str
    layer: Optional[int] = None
    head: Optional[int] = None


def _written(adapter: ModelAdapter, cache: dict, position: int) -> dict[str, Optional[torch.Tensor]]:
    """What each component wrote into the residual stream at ``position``: ``embed [d_model]``,
    ``pos_embed [d_model]`` (or None), ``heads [n_layers, n_heads, d_model]`` (each head's
    ``z · W_O``), ``attn_bias [n_layers, d_model]``, ``mlp [n_layers, d_model]`` (or None).

    A layer whose attention output passes through a norm before the residual stream (Gemma 2
    and 3, OLMo 2: ``ln1_post``) gets that norm with its scale frozen at its value for the
    whole layer's output, as the final norm is frozen: the heads' shares then add up to what
    the layer wrote. An MoE MLP is one component: ``mlp_out`` is the sum over its experts."""
    w = adapter.weights
    layers = range(adapter.n_layers)
    z = torch.stack([cache[hook_name("z", layer)][position] for layer in layers])
    heads = torch.einsum("lhd,lhdm->lhm", z, w.W_O)
    attn_bias = w.b_O.clone()
    for layer, post in enumerate(adapter.attn_output_norms):
        if post is not None:
            scale = post.scale(heads[layer].sum(dim=0) + attn_bias[layer])
            heads[layer] = post.center(heads[layer]) / scale * post.weight
            attn_bias[layer] = post.center(attn_bias[layer]) / scale * post.weight + post.bias
    # The token embedding as it enters the stream: layer 0's input minus the positions. This
    # includes what some families do to it first (Gemma's sqrt(d_model), BLOOM's LayerNorm).
    pos_embed = cache[hook_name("pos_embed")][position] if w.W_pos is not None else None
    embed = cache[hook_name("resid_pre", 0)][position]
    return {
        "embed": embed if pos_embed is None else embed - pos_embed,
        "pos_embed": pos_embed,
        "heads": heads,
        "attn_bias": attn_bias,
        "mlp": None
        if adapter.attn_only
        else torch.stack([cache[hook_name("mlp_out", layer)][position] for layer in layers]),
    }


def _check_decomposition(written: dict[str, Optional[torch.Tensor]], resid: torch.Tensor, tolerance: float) -> None:
    """Refuse to attribute if the parts do not add up to the final residual stream (an
    architecture that writes to the stream through something not decomposed here), to
    within ``tolerance`` of its size (the model's precision: :attr:`ModelAdapter.tolerance`)."""
    total = sum(v.reshape(-1, v.shape[-1]).sum(dim=0) for v in written.values() if v is not None)
    error = float((total - resid).abs().max())
    if error > tolerance * float(resid.abs().max()) + 1e-4:
        raise NotImplementedError(
            "embeddings + heads + attention biases + MLPs do not add up to this model's final "
            f"residual stream (max error {error:.3g}), so a direct logit attribution would be "
            "wrong; this architecture writes to the residual stream in a way circuitwidgets "
            "does not decompose"
        )


def decompose(adapter: ModelAdapter, run: TextRun, position: int) -> tuple[torch.Tensor, dict, torch.Tensor]:
    """``(resid, written, scale)`` at ``position``: the final residual stream, what each
    component wrote into it (checked to add up, see :func:`_written`) and the final norm's
    frozen scale."""
    resid = run.cache[hook_name("resid_post", adapter.n_layers - 1)][position]
    written = _written(adapter, run.cache, position)
    _check_decomposition(written, resid, adapter.tolerance)
    return resid, written, adapter.final_norm.scale(resid)[0]


def resolve_target(adapter: ModelAdapter, run: TextRun, position: int, target: Optional[TokenLike]) -> int:
    """The id of ``target`` (one token: a string or an id, else ``ValueError``), or by default
    the actual next token, or at the last position the model's own top prediction (``run``
    must hold the last ``resid_post``)."""
    if target is not None:
        ids = token_ids(adapter, target, "target token")
        if len(ids) != 1:
            raise ValueError(f"target must be one token, got {len(ids)}: {target!r}")
        return int(ids[0])
    if position + 1 < run.seq_len:
        return int(run.tokens[position + 1])
    resid = run.cache[hook_name("resid_post", adapter.n_layers - 1)][position]
    return int(adapter.unembed(adapter.apply_final_norm(resid[None]))[0].argmax())


def display_strings(adapter: ModelAdapter, ids: torch.Tensor, target: int) -> dict[int, str]:
    """``{id: display string}`` for every id in ``ids`` and for ``target``."""
    seen = torch.cat([ids.reshape(-1), torch.tensor([target])]).unique()
    return dict(zip(seen.tolist(), adapter.to_str_tokens(seen)))


def logit_attribution(
    model: Any,
    text: Union[str, TextRun],
    position: int = -1,
    target: Optional[TokenLike] = None,
    *,
    k: int = 10,
) -> Attribution:
    """Split the logit of ``target`` at ``position`` into each component's direct contribution.

    Parameters
    ----------
    text:
        The text, or a :class:`~circuitwidgets.analysis.TextRun` with ``"attribution"`` in its
        needs (share it with :func:`logit_lens` for one forward pass).
    position:
        The position whose next-token prediction is explained (negative counts from the end).
    target:
        A string that is exactly one token, or an id. Default: the actual next token, or at the
        last position the model's top prediction.
    k:
        How many top tokens to keep for each head's own readout.

    Examples
    --------
    >>> attr = analysis.logit_attribution(model, "a b c d a b c", position=-1, target=" d")
    >>> attr.target_str, attr.heads.shape           # [n_layers, n_heads]
    (' d', torch.Size([2, 4]))
    """
    adapter, run = resolve_run(model, text, "attribution")
    position = check_position(position, run.seq_len)
    k = check_k(k, adapter.d_vocab)
    target_id = resolve_target(adapter, run, position, target)

    w, norm = adapter.weights, adapter.final_norm
    with torch.inference_mode():
        resid, written, scale = decompose(adapter, run, position)
        direction = norm.weight * w.W_U[:, target_id]
        # Each component's direct contribution: centre(v) / scale · (w_ln ⊙ W_U[:, target]).
        attributed = {
            name: None if v is None else norm.center(v) @ direction / scale for name, v in written.items()
        }
        final_bias = norm.bias @ w.W_U[:, target_id] + w.b_U[target_id]
        # Before the soft cap (Gemma 2): the parts add up to this, the model outputs
        # soft_cap(logit, cap).
        logit = (adapter.apply_final_norm(resid[None]) @ w.W_U[:, target_id] + w.b_U[target_id])[0]
        # Each head's own readout: its output through the same frozen norm and W_U.
        head_dirs = norm.center(written["heads"]) / scale * norm.weight
        top_values, top_ids = topk_of_product(head_dirs.reshape(-1, adapter.d_model), w.W_U, k)

    shape = (adapter.n_layers, adapter.n_heads, top_ids.shape[-1])
    token_strs = display_strings(adapter, top_ids, target_id)
    return Attribution(
        tokens=run.tokens,
        str_tokens=list(run.str_tokens),
        position=position,
        target=target_id,
        target_str=token_strs[target_id],
        logit=logit,
        **attributed,
        final_bias=final_bias,
        scale=scale,
        head_top_ids=top_ids.reshape(shape),
        head_top_values=top_values.reshape(shape),
        token_strs=token_strs,
        soft_cap=adapter.logit_soft_cap,
    )
