"""Path expansion: one logit as a sum over paths through the heads, attention frozen.

The Framework paper's move for small transformers: with every attention pattern fixed, a
transformer is linear in its embeddings, and the logit splits into *paths* -- the direct path
(embedding straight to the unembedding, the bigram), one term per head (embedding -> head ->
unembedding, a skip-trigram) and one per pair of heads in different layers (a *virtual head*:
head 1's output read by head 2's value, V-composition), and so on.

What is frozen, from the model's own run on the text (and nothing else):

* every head's attention pattern ``A[l, h, query, key]``;
* each layer's attention-input norm (``ln1``) *scale* at every position: ``ln1(x) =
  center(x) / σ_l[s] * w + b`` with ``σ_l[s]`` the value the run computed (``center`` subtracts
  the mean over ``d_model`` for a LayerNorm, nothing for RMSNorm);
* the final norm's scale ``σ_f`` at ``position``;
* for models with MLPs, each MLP's output at every position (it enters as one more source,
  like the embeddings; nothing is expanded *through* an MLP).

Then the residual stream is an affine function of the sources, and::

    logit = direct + Σ heads + Σ pairs + higher + Σ mlp + biases      (exactly)

``direct``, ``heads`` and ``pairs`` start at the embeddings (token + position) and go through
0, 1, 2 heads; ``higher`` is every embedding path through 3 or more heads (``order=2``; through
2 or more for ``order=1``); ``mlp[l]`` is everything that starts at MLP ``l``'s frozen output,
straight to the unembedding and through later heads; ``biases`` everything that starts at a
bias: ``b_O``, the constant part of each head's value (``b_ln1 W_V + b_V``, times ``W_O``; a
pattern's rows sum to 1), the final norm's bias and ``b_U``. For an attention-only model the
frozen quantities are exactly what the model computed, so the terms add up to the model's own
logit to float precision (tested); for a model with MLPs they also add up exactly, but the
head terms then leave out what a head does *through* the MLPs.

**Uniform attention** (``attention="uniform"``, the "weights only" reading of
:class:`~circuitwidgets.PathExplorer`): every pattern is replaced by the uniform causal one,
``A[p, s] = 1/(p+1)`` for ``s <= p``, and everything else stays as above (the norm scales and
the MLP outputs frozen from the run). A path's term is then its OV circuit -- embeddings through
each head's ``W_V W_O`` to the unembedding -- averaged evenly over the text so far: what the
weights would write with no QK circuit choosing where to read. The terms still add up exactly,
to :attr:`PathExpansion.logit`, which is then the logit of that uniform-attention computation,
*not* the model's (``model_logit`` keeps the model's).

How it is computed: ``higher`` is not a remainder of the logit. The logit's total dependence
on each source is propagated backwards layer by layer through the frozen linear maps (a
functional ``G_l`` on the stream before layer ``l``); ``⟨G_0, embeddings⟩`` minus the closed-form
``direct + heads + pairs`` is ``higher``. The pair terms of all ``~n_heads² n_layers² / 2``
pairs come from batched products of ``[n_heads, seq]``-sized factors, never one path at a time.

Example::

    paths = path_expansion(model, "def f(x): return x\\ndef f(x): return x", position=-2)
    labels, values = paths.terms()          # add up to paths.logit
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

import torch

from ..model import FinalNorm, ModelAdapter, hook_name
from ..checks import TokenLike, check_choice, check_int, check_k, check_position
from ._forward import TextRun, resolve_run
from ._topk import topk_of_product
from .attribution import display_strings, resolve_target

#: The path orders :func:`path_expansion` computes: through at most one or two heads.
ORDERS = (1, 2)
#: What the heads attend with in :func:`path_expansion`: ``"frozen"``, the patterns the model
#: computed on the text (exact); ``"uniform"``, every query spreading its attention evenly over
#: the positions up to and including it (the weights' OV paths alone, no QK; see the module docs).
ATTENTIONS = ("frozen", "uniform")


@dataclass(frozen=True, eq=False)
class PathExpansion:
    """The logit of ``target`` at ``position`` split into paths (see the module docs).

    Attributes
    ----------
    tokens, str_tokens, position, target, target_str:
        The text, the position read (non-negative) and the token whose logit is expanded.
    order:
        1 or 2: the longest path (in heads) given one term each.
    logit:
        0-d: what the terms below add up to: the model's logit for ``target`` at ``position``
        with the patterns it computed (``attention="frozen"``); with uniform attention the
        logit of that computation (see the module docs).
    model_logit:
        0-d: the model's own logit for ``target`` at ``position`` (equal to ``logit`` when frozen).
    attention:
        ``"frozen"`` or ``"uniform"`` (:data:`ATTENTIONS`): the patterns the heads used.
    direct:
        0-d: the embeddings at ``position`` straight to the unembedding.
    heads:
        ``[n_layers, n_heads]``: embeddings (every position) -> that head -> unembedding.
    pairs:
        ``[n_layers, n_heads, n_layers, n_heads]`` (``None`` for ``order=1``):
        ``pairs[l1, h1, l2, h2]`` is embeddings -> head ``l1.h1`` -> head ``l2.h2``'s value ->
        unembedding; 0 unless ``l1 < l2``.
    top_pairs:
        ``LongTensor[top, 4]`` rows ``(l1, h1, l2, h2)``: the pairs with the largest ``|term|``,
        largest first (empty for ``order=1``); ``other_pairs`` (0-d) is the sum of the rest.
    higher:
        0-d: embedding paths through more than ``order`` heads.
    mlp:
        ``[n_layers]`` (``None`` for attention-only models): all paths from each MLP's frozen
        output (directly and through later heads).
    biases:
        0-d: all paths from the biases (see the module docs).
    final_scale:
        0-d: the frozen final-norm scale at ``position``.
    direct_top_ids, head_top_ids, pair_top_ids (and ``*_top_values``):
        ``[k]``, ``[n_layers, n_heads, k]``, ``[top, k]``: the tokens each path pushes up most at
        ``position`` (what it writes, through the frozen final norm and ``W_U``) and by how much;
        ``pair_top_*`` row ``i`` belongs to ``top_pairs[i]``.
    token_strs:
        Display string of every id above and of ``target``.

    Examples
    --------
    >>> text = "def area(w, h): return w * h\\ndef area(w, h): return w * h"
    >>> paths = analysis.path_expansion(model, text, position=-3)   # the 2nd " w": next " *"
    >>> labels, values = paths.terms()
    >>> bool(torch.isclose(values.sum(), paths.logit, atol=1e-3)), paths.higher.abs() < 1e-3
    (True, tensor(True))
    >>> paths.pair_labels()[0]       # a current-token head into an induction head, not L0H1
    'L0H0 → L1H1'
    """

    tokens: torch.Tensor
    str_tokens: list[str]
    position: int
    target: int
    target_str: str
    order: int
    logit: torch.Tensor
    direct: torch.Tensor
    heads: torch.Tensor
    pairs: Optional[torch.Tensor]
    top_pairs: torch.Tensor
    other_pairs: torch.Tensor
    higher: torch.Tensor
    mlp: Optional[torch.Tensor]
    biases: torch.Tensor
    final_scale: torch.Tensor
    direct_top_ids: torch.Tensor
    direct_top_values: torch.Tensor
    head_top_ids: torch.Tensor
    head_top_values: torch.Tensor
    pair_top_ids: torch.Tensor
    pair_top_values: torch.Tensor
    token_strs: dict[int, str]
    model_logit: torch.Tensor = None  # type: ignore[assignment]  (set by path_expansion)
    attention: str = "frozen"

    def pair_labels(self) -> list[str]:
        """``"L{l1}H{h1} → L{l2}H{h2}"`` for each row of :attr:`top_pairs`.

        >>> analysis.path_expansion(model, "a b a", position=-1, order=1).pair_labels()
        []
        """
        return [f"L{a}H{b} → L{c}H{d}" for a, b, c, d in self.top_pairs.tolist()]

    def plot(self, **options):
        """Bokeh waterfall of the terms: :func:`circuitwidgets.figures.path_waterfall`.

        >>> analysis.path_expansion(model, "a b c a b", position=-1).plot(bars=5).height
        274
        """
        from ..figures import path_waterfall

        return path_waterfall(self, **options)

    def terms(self) -> tuple[list[str], torch.Tensor]:
        """Every term as one flat list: ``(labels, values)``, ``values.sum() == logit``.

        Labels: ``"direct"``, ``"L{l}H{h}"`` per head, ``"L0H1 → L1H3"`` per top pair,
        ``"other pairs"`` (order 2), ``"paths through 3+ heads"`` (``2+`` for order 1),
        ``"L{l} MLP (frozen)"`` per MLP, ``"biases"``.

        >>> labels, values = analysis.path_expansion(model, "a b a", position=-1).terms()
        >>> labels[:2], labels[-2:]
        (['direct', 'L0H0'], ['paths through 3+ heads', 'biases'])
        """
        n_layers, n_heads = self.heads.shape
        labels = ["direct"] + [f"L{l}H{h}" for l in range(n_layers) for h in range(n_heads)]
        values = [self.direct.reshape(1), self.heads.reshape(-1)]
        if self.pairs is not None:
            labels += self.pair_labels() + ["other pairs"]
            values += [self.pairs[tuple(self.top_pairs.T)], self.other_pairs.reshape(1)]
        labels.append(f"paths through {self.order + 1}+ heads")
        values.append(self.higher.reshape(1))
        if self.mlp is not None:
            labels += [f"L{l} MLP (frozen)" for l in range(n_layers)]
            values.append(self.mlp)
        labels.append("biases")
        values.append(self.biases.reshape(1))
        return labels, torch.cat(values)


@dataclass(frozen=True)
class _Frozen:
    """The run's frozen quantities, cut to the positions ``0..position`` (causality: later
    positions cannot reach it). ``value [L, H, d_model, d_head]`` is ``C diag(w_ln1) W_V``,
    the value weights seen through each layer's input norm; ``scale [L, n]`` the ``σ_l[s]``."""

    sources: torch.Tensor  # [n, d_model]: embeddings (token + position)
    patterns: torch.Tensor  # [L, H, n, n]
    scale: torch.Tensor  # [L, n]
    value: torch.Tensor  # [L, H, d_model, d_head]
    W_O: torch.Tensor  # [L, H, d_head, d_model]
    constant: torch.Tensor  # [L, d_model]: what each layer adds whatever its input
    mlp: Optional[torch.Tensor]  # [L, n, d_model]


def _through_norm(norm: FinalNorm, W: torch.Tensor) -> torch.Tensor:
    """``C diag(w) W`` for weights ``W [..., d_model, d]``: what ``(center(x) * w) @ W`` is
    as one matrix applied to ``x`` (centering is symmetric, so it moves onto ``W``)."""
    W = norm.weight[:, None] * W
    return W - W.mean(dim=-2, keepdim=True) if norm.centers else W


def uniform_patterns(n_layers: int, n_heads: int, n: int) -> torch.Tensor:
    """``[n_layers, n_heads, n, n]``: every query ``p`` attending ``1/(p+1)`` to each key ``<= p``.

    >>> uniform_patterns(1, 1, 3)[0, 0]
    tensor([[1.0000, 0.0000, 0.0000],
            [0.5000, 0.5000, 0.0000],
            [0.3333, 0.3333, 0.3333]])
    """
    causal = torch.ones(n, n).tril()
    return (causal / causal.sum(-1, keepdim=True)).expand(n_layers, n_heads, n, n).clone()


def _freeze(adapter: ModelAdapter, cache: dict, n: int, attention: str = "frozen") -> _Frozen:
    w, norms = adapter.weights, adapter.attention_input_norms
    layers = range(adapter.n_layers)
    # Token + position as the model adds them to the stream (layer 0's input).
    sources = cache[hook_name("resid_pre", 0)][:n]
    scale = torch.stack([norms[l].scale(cache[hook_name("resid_pre", l)][:n])[:, 0] for l in layers])
    value = torch.stack([_through_norm(norms[l], w.W_V[l]) for l in layers])
    ln_bias = torch.stack([norm.bias for norm in norms])  # [L, d_model]
    head_constant = torch.einsum("lm,lhme->lhe", ln_bias, w.W_V) + adapter.value_bias
    constant = torch.einsum("lhe,lhem->lm", head_constant, w.W_O) + w.b_O
    mlp = None
    if not adapter.attn_only:
        mlp = torch.stack([cache[hook_name("mlp_out", l)][:n] for l in layers])
    if attention == "uniform":
        patterns = uniform_patterns(adapter.n_layers, adapter.n_heads, n)
    else:
        patterns = torch.stack([cache[hook_name("pattern", l)][:, :n, :n] for l in layers])
    return _Frozen(
        sources=sources,
        patterns=patterns,
        scale=scale,
        value=value,
        W_O=w.W_O,
        constant=constant,
        mlp=mlp,
    )


def _backward(f: _Frozen, readout: torch.Tensor) -> list[torch.Tensor]:
    """``G_l [n, d_model]`` for ``l = 0..L``: the logit's total linear dependence on the stream
    before layer ``l`` (``G_L`` is ``readout`` at the last position), through every path."""
    n_layers, n = f.patterns.shape[0], f.sources.shape[0]
    G = torch.zeros(n, readout.shape[0])
    G[-1] = readout
    out = [G]
    for l in reversed(range(n_layers)):
        # Into each head's d_head space first (G W_Oᵀ), then Aᵀ, then back through W̃_V:
        # n·d_model·d_head + n²·d_head per head instead of n²·d_model.
        reads = torch.einsum("pm,hem->hpe", G, f.W_O[l])
        mixed = torch.einsum("hps,hpe->hse", f.patterns[l], reads)
        through = torch.einsum("hse,hde->sd", mixed, f.value[l])
        G = G + through / f.scale[l][:, None]
        out.append(G)
    return out[::-1]


def _sources_totals(f: _Frozen, G: list[torch.Tensor], final_bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """Everything each kind of source adds, through every path: ``(embeddings, biases, mlp [L]
    or None)``; with ``final_bias`` (the final norm's bias and ``b_U`` at the target) they add
    up to the logit."""
    n_layers = f.patterns.shape[0]
    embedded = (G[0] * f.sources).sum()
    biases = final_bias + sum((G[l + 1].sum(0) * f.constant[l]).sum() for l in range(n_layers))
    mlp = None if f.mlp is None else torch.stack([(G[l + 1] * f.mlp[l]).sum() for l in range(n_layers)])
    return embedded, biases, mlp


def _pairs(f: _Frozen, reader: torch.Tensor, query: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every pair term ``[L, H, L, H]`` and each pair's head-1 value vector ``Z [L, H, L, H,
    d_head]`` (what head 1 hands on, summed over positions as head 2's frozen pattern at the
    query position weighs them), in batched form.

    ``reader [L, H, d_model]``: ``C w W_V W_O u`` per head; ``query [L, H, n]``: each head's
    pattern row at the position over ``σ``; ``values [L, H, n, d_head]``: the embeddings seen
    through each head's value, over ``σ``.
    """
    n_layers, n_heads = reader.shape[:2]
    pairs = torch.zeros(n_layers, n_heads, n_layers, n_heads)
    Z = torch.zeros(n_layers, n_heads, n_layers, n_heads, values.shape[-1])
    for l1 in range(n_layers - 1):
        # P[h1, l2, h2, s1] = Σ_{s2} A1[h1, s2, s1] query[l2, h2, s2]: head 2 reads s2, whose
        # head-1 output came from s1.
        P = torch.einsum("ats,bct->abcs", f.patterns[l1], query[l1 + 1 :])
        Z[l1, :, l1 + 1 :] = torch.einsum("abcs,ase->abce", P, values[l1])
        hand_on = torch.einsum("aem,bcm->abce", f.W_O[l1], reader[l1 + 1 :])  # W_O1 · reader2
        pairs[l1, :, l1 + 1 :] = (Z[l1, :, l1 + 1 :] * hand_on).sum(-1)
    return pairs, Z


def _top_pairs(pairs: torch.Tensor, top: int) -> torch.Tensor:
    """``LongTensor[top, 4]``: the scored pairs (``l1 < l2``) with the largest ``|term|``."""
    n_layers, n_heads = pairs.shape[:2]
    layer = torch.arange(n_layers)
    valid = (layer[:, None, None, None] < layer[None, None, :, None]).expand(pairs.shape)
    magnitude = torch.where(valid, pairs.abs(), -1.0).reshape(-1)
    keep = magnitude.topk(min(top, int(valid.sum()))).indices
    return torch.stack(torch.unravel_index(keep, pairs.shape), dim=1)


def path_expansion(
    model: Any,
    text: Union[str, TextRun],
    position: int = -1,
    target: Optional[TokenLike] = None,
    order: int = 2,
    *,
    top: int = 20,
    k: int = 10,
    attention: str = "frozen",
) -> PathExpansion:
    """Split the logit of ``target`` at ``position`` into paths with attention frozen.

    Parameters
    ----------
    text:
        The text, or a :class:`~circuitwidgets.analysis.TextRun` with ``"paths"`` in its needs.
    position:
        The position whose next-token logit is expanded (negative counts from the end).
    target:
        A string that is exactly one token, or an id. Default: the actual next token, or at the
        last position the model's top prediction.
    order:
        1 (direct and single heads) or 2 (also every pair of heads in different layers).
    top:
        How many pairs to name (largest ``|term|``); the others are summed in ``other_pairs``.
    k:
        How many top tokens to keep for each path's own readout.
    attention:
        ``"frozen"`` (default: the model's own patterns on the text, exact) or ``"uniform"``
        (every head attends evenly to the text so far: the OV paths alone; see the module docs).

    Raises ``ValueError`` (naming the value and the valid range) for a position outside the
    text, a target that is not one token, an order not in :data:`ORDERS` or an attention not in
    :data:`ATTENTIONS`; and
    ``NotImplementedError`` for an architecture whose stream the terms do not reproduce.

    Examples
    --------
    >>> paths = analysis.path_expansion(model, "a b c d a b c", target=" d")
    >>> paths.heads.shape, paths.pairs.shape, paths.target_str
    (torch.Size([2, 4]), torch.Size([2, 4, 2, 4]), ' d')
    >>> uniform = analysis.path_expansion(model, "a b c d a b c", target=" d", attention="uniform")
    >>> bool(torch.isclose(uniform.terms()[1].sum(), uniform.logit, atol=1e-3)), uniform.attention
    (True, 'uniform')
    """
    adapter, run = resolve_run(model, text, "paths")
    position = check_position(position, run.seq_len)
    order = check_int(order, "order", min(ORDERS), max(ORDERS))
    top = check_int(top, "top", 1)
    k = check_k(k, adapter.d_vocab)
    attention = check_choice(attention, "attention", ATTENTIONS)
    target_id = resolve_target(adapter, run, position, target)
    w, norm = adapter.weights, adapter.final_norm
    with torch.inference_mode():
        f = _freeze(adapter, run.cache, position + 1, attention)
        resid = run.cache[hook_name("resid_post", adapter.n_layers - 1)][position]
        final_scale = norm.scale(resid)[0]
        # The logit is resid · u + final bias: center(x)·(w ⊙ W_U[:, t]) / σ_f = x · u.
        readout = _through_norm(norm, w.W_U[:, target_id : target_id + 1])[:, 0] / final_scale
        logit = adapter.unembed(adapter.apply_final_norm(resid[None]))[0, target_id]

        final_bias = norm.bias @ w.W_U[:, target_id] + w.b_U[target_id]
        G = _backward(f, readout)
        embedded_total, biases, mlp = _sources_totals(f, G, final_bias)

        direct = f.sources[-1] @ readout
        query = f.patterns[:, :, -1, :] / f.scale[:, None, :]  # [L, H, n]
        values = torch.einsum("sm,lhme->lhse", f.sources, f.value) / f.scale[:, None, :, None]
        # (Contractions in the order that keeps them d_head-sized: never W̃_V W_O, d_model².)
        out_reads = torch.einsum("lhed,d->lhe", f.W_O, readout)  # W_O u  [L, H, d_head]
        reader = torch.einsum("lhme,lhe->lhm", f.value, out_reads)
        # Each head's value vector at the position: Σ_s A[p, s] · embedding[s] W̃_V / σ[s].
        head_values = torch.einsum("lhs,lhse->lhe", f.patterns[:, :, -1, :], values)
        heads = (head_values * out_reads).sum(-1)
        higher = embedded_total - direct - heads.sum()
        pairs, top_pairs, other_pairs = None, torch.zeros(0, 4, dtype=torch.long), torch.tensor(0.0)
        pair_writes = torch.zeros(0, adapter.d_model)
        if order == 2:
            pairs, Z = _pairs(f, reader, query, values)
            higher = higher - pairs.sum()
            top_pairs = _top_pairs(pairs, top)
            rest = pairs.clone()
            rest[tuple(top_pairs.T)] = 0.0
            other_pairs = rest.sum()
            a, b, c, d = top_pairs.T
            # What each named pair writes at the position: Z · W_O1 · C w W_V2 · W_O2.
            handed = torch.einsum("pe,pem->pm", Z[a, b, c, d], f.W_O[a, b])
            pair_writes = torch.einsum("pf,pfn->pn", torch.einsum("pm,pmf->pf", handed, f.value[c, d]), f.W_O[c, d])

        total = embedded_total + biases + (0.0 if mlp is None else mlp.sum())
        model_logit = logit
        if attention == "frozen":
            _check_total(total, logit)
        else:  # first: does this architecture's stream follow the frozen expansion at all?
            frozen = _freeze(adapter, run.cache, position + 1)
            e, b, m = _sources_totals(frozen, _backward(frozen, readout), final_bias)
            _check_total(e + b + (0.0 if m is None else m.sum()), logit)
            logit = total  # the uniform computation's logit: what its terms add up to
        writes = torch.cat([f.sources[-1:], torch.einsum("lhe,lhem->lhm", head_values, f.W_O).reshape(-1, adapter.d_model), pair_writes])
        rows = norm.center(writes) / final_scale * norm.weight
        top_values, top_ids = topk_of_product(rows, w.W_U, k)

    n_heads_total = adapter.n_layers * adapter.n_heads
    kept = top_ids.shape[-1]
    token_strs = display_strings(adapter, top_ids, target_id)
    return PathExpansion(
        tokens=run.tokens,
        str_tokens=list(run.str_tokens),
        position=position,
        target=target_id,
        target_str=token_strs[target_id],
        order=order,
        logit=logit,
        direct=direct,
        heads=heads,
        pairs=pairs,
        top_pairs=top_pairs,
        other_pairs=other_pairs,
        higher=higher,
        mlp=mlp,
        biases=biases,
        final_scale=final_scale,
        direct_top_ids=top_ids[0],
        direct_top_values=top_values[0],
        head_top_ids=top_ids[1 : 1 + n_heads_total].reshape(adapter.n_layers, adapter.n_heads, kept),
        head_top_values=top_values[1 : 1 + n_heads_total].reshape(adapter.n_layers, adapter.n_heads, kept),
        pair_top_ids=top_ids[1 + n_heads_total :],
        pair_top_values=top_values[1 + n_heads_total :],
        token_strs=token_strs,
        model_logit=model_logit,
        attention=attention,
    )


def _check_total(total: torch.Tensor, logit: torch.Tensor) -> None:
    """Refuse a result whose terms do not add up to the model's logit: an architecture that
    writes to the stream, or normalizes it, in a way not frozen here."""
    error = float((total - logit).abs())
    if error > 1e-3 * max(1.0, float(logit.abs())):
        raise NotImplementedError(
            f"the path terms add up to {float(total):.6g}, not to the model's logit "
            f"{float(logit):.6g}: this architecture computes its residual stream in a way the "
            "frozen-attention expansion does not reproduce"
        )
