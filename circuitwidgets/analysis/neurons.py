"""Neurons that fire on almost every token: VISIT's "regularization neurons".

Katz & Belinkov (VISIT, §5.3) find a few MLP neurons that are among their layer's most
activated on nearly every token, whatever the text, with high-norm value vectors whose
projection to the vocabulary is nearly uniform (high entropy): they act on the residual stream
as a whole rather than promoting particular tokens. :func:`always_on_neurons` counts, over a set
of texts, how often each neuron is among its layer's ``top`` activations and keeps those above
a ``share`` of the tokens, with each one's value-vector norm, projection entropy and top tokens.

The activations are read with the adapter's ``run_with_hooks`` one window of text at a time
and reduced at once (a count per neuron), so memory does not grow with the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

import torch

from ..checks import check_int, check_k, check_position
from ..model import as_adapter, hook_name

#: Tokens read by default from the corpus (the held-out Python standard library files the
#: pocket models were not trained on).
DEFAULT_TOKENS = 20_000


@dataclass(frozen=True, eq=False)
class AlwaysOnNeurons:
    """Neurons among their layer's top activations on at least ``share`` of the tokens.

    Attributes
    ----------
    shares:
        ``[n_layers, d_mlp]``: the share of tokens on which each neuron was among its layer's
        ``top`` most activated (all neurons, not only the ones kept).
    layers, neurons:
        ``LongTensor[n]``: the neurons kept, most often on first.
    norms:
        ``[n]``: the norm of each kept neuron's value vector ``W_out[layer, neuron]``.
    entropies:
        ``[n]``: the entropy (nats) of the value vector's projection to the vocabulary (final
        norm, then unembedding); ``log(d_vocab)`` would be uniform.
    top_ids:
        ``[n, k]``: the tokens each value vector promotes most.
    n_tokens, top, share:
        The tokens read and the two thresholds.
    token_strs:
        Display string of every id in ``top_ids``.

    Examples
    --------
    >>> small = cw.load_pocket_model("small-4l")
    >>> found = analysis.always_on_neurons(small, ["def f(x):\\n    return x + 1\\n"] * 3, top=50, share=0.9)
    >>> found.n_tokens, found.shares.shape
    (36, torch.Size([4, 512]))
    >>> bool((found.shares[found.layers, found.neurons] >= 0.9).all())
    True
    """

    shares: torch.Tensor
    layers: torch.Tensor
    neurons: torch.Tensor
    norms: torch.Tensor
    entropies: torch.Tensor
    top_ids: torch.Tensor
    n_tokens: int
    top: int
    share: float
    token_strs: dict[int, str]


def _default_texts() -> list[str]:
    """The held-out files of the pocket models' corpus (the Python standard library)."""
    from ..pocket.corpus import is_held_out, stdlib_documents

    return [text for path, text in stdlib_documents() if is_held_out(path)]


def _windows(adapter, texts: Iterable[str], max_tokens: int):
    """Token windows ``[1, <= n_ctx]`` of the texts, in order, ``max_tokens`` in all."""
    left = max_tokens
    for text in texts:
        tokens = adapter.to_tokens(text, check_length=False)[0]
        for start in range(0, len(tokens), adapter.n_ctx):
            if left <= 0:
                return
            window = tokens[start : start + min(adapter.n_ctx, left)]
            left -= len(window)
            yield window[None]


def always_on_neurons(
    model: Any,
    texts: Optional[Iterable[str]] = None,
    top: int = 100,
    share: float = 0.5,
    *,
    k: int = 10,
    max_tokens: int = DEFAULT_TOKENS,
) -> AlwaysOnNeurons:
    """The neurons that are among their layer's ``top`` activations on at least ``share`` of
    the tokens of ``texts`` (see the module docs).

    Parameters
    ----------
    texts:
        The texts to read (each cut into windows of the model's context); default: the held-out
        files of the pocket models' corpus, the Python standard library.
    top:
        How many of a layer's most activated neurons (by signed activation) count at a token.
    share:
        The share of tokens, in ``(0, 1]``, a neuron must be counted on to be kept.
    k:
        Top tokens kept per neuron's value vector.
    max_tokens:
        Stop after this many tokens.

    Examples
    --------
    >>> small = cw.load_pocket_model("small-4l")
    >>> found = analysis.always_on_neurons(small, max_tokens=512, top=20, share=0.8)
    >>> found.n_tokens, len(found.layers) == len(found.norms) == len(found.entropies)
    (512, True)
    """
    adapter = as_adapter(model)
    if adapter.attn_only:
        raise ValueError("this model is attention-only; it has no MLP neurons")
    W_out, _ = adapter.mlp_out_weights
    d_mlp = W_out.shape[1]
    top = check_int(top, "top", 1, d_mlp)
    k = check_k(k, adapter.d_vocab)
    max_tokens = check_int(max_tokens, "max_tokens", 1)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ValueError(f"share {share!r} is out of range; it must be in (0, 1]")
    counts = torch.zeros(adapter.n_layers, d_mlp)
    n_tokens = 0

    def counter(layer: int):
        def count(post: torch.Tensor) -> None:
            ids = post[0].topk(top, dim=-1).indices.reshape(-1)
            counts[layer].index_add_(0, ids, torch.ones(len(ids)))

        return count

    hooks = {hook_name("mlp_post", layer): counter(layer) for layer in range(adapter.n_layers)}
    for window in _windows(adapter, _default_texts() if texts is None else texts, max_tokens):
        adapter.run_with_hooks(window, hooks, stop_when_done=True)
        n_tokens += window.shape[1]
    if n_tokens == 0:
        raise ValueError("texts is empty; give at least one non-empty text")
    shares = counts / n_tokens
    layers, neurons = (shares >= share).nonzero(as_tuple=True)
    order = shares[layers, neurons].argsort(descending=True, stable=True)
    layers, neurons = layers[order], neurons[order]
    vectors = W_out[layers, neurons]
    with torch.inference_mode():
        logits = adapter.unembed(adapter.apply_final_norm(vectors))
    entropies = torch.distributions.Categorical(logits=logits).entropy() if len(vectors) else torch.zeros(0)
    top_ids = logits.topk(k, dim=-1).indices if len(vectors) else torch.zeros(0, k, dtype=torch.long)
    ids_seen = top_ids.reshape(-1).unique()
    return AlwaysOnNeurons(
        shares=shares, layers=layers, neurons=neurons, norms=vectors.norm(dim=-1), entropies=entropies,
        top_ids=top_ids, n_tokens=n_tokens, top=top, share=float(share),
        token_strs=dict(zip(ids_seen.tolist(), adapter.to_str_tokens(ids_seen))) if len(ids_seen) else {},
    )


# --------------------------------------------------------------------------------------------
# Knowledge neurons: integrated-gradients attribution of a prediction to MLP neurons
# --------------------------------------------------------------------------------------------

#: The most integration steps :func:`knowledge_neurons` takes (each is one row of a batch).
MAX_STEPS = 200


@dataclass(frozen=True, eq=False)
class KnowledgeNeurons:
    """The MLP neurons whose integrated-gradients attribution to the target is highest.

    Attributes
    ----------
    attributions:
        ``[n_layers, d_mlp]``: each neuron's attribution (Dai et al.'s ``w̄ · ∫ ∂P/∂w dα``), in
        units of the target's probability.
    activations:
        ``[n_layers, d_mlp]``: each neuron's activation ``w̄`` at the position.
    layers, neurons, scores:
        The ``top`` neurons by attribution, highest first (``LongTensor[top]`` twice, ``[top]``).
    top_ids:
        ``[top, k]``: the tokens each of those neurons' value vector promotes most (final
        norm, then unembedding).
    target, target_str, position, prob, steps:
        The token explained, the position read, the model's probability of it there and the
        number of integration steps.
    token_strs:
        Display string of every id in ``top_ids``.

    Examples
    --------
    >>> small = cw.load_pocket_model("small-4l")
    >>> kn = analysis.knowledge_neurons(small, "def add(a, b):\\n    return a +", steps=8, top=3)
    >>> kn.attributions.shape, kn.layers.shape
    (torch.Size([4, 512]), torch.Size([3]))
    >>> bool(kn.scores[0] >= kn.scores[-1])
    True
    """

    attributions: torch.Tensor
    activations: torch.Tensor
    layers: torch.Tensor
    neurons: torch.Tensor
    scores: torch.Tensor
    top_ids: torch.Tensor
    target: int
    target_str: str
    position: int
    prob: float
    steps: int
    token_strs: dict


def _integrated_gradients(adapter, tokens: torch.Tensor, layer: int, position: int, target: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(attribution [d_mlp], activation [d_mlp])`` of layer ``layer``'s neurons at
    ``position``: the layer's activation there scaled by ``α = 1/steps, 2/steps, ..., 1`` (one
    batch row each, every other layer as the model computes it), the gradient of the target's
    probability at each, and their mean times the activation (a right Riemann sum)."""
    name = hook_name("mlp_post", layer)
    alphas = torch.arange(1, steps + 1, dtype=torch.float32) / steps

    def scale(post: torch.Tensor) -> torch.Tensor:
        post = post.clone()
        post[:, position] = post[:, position] * alphas.to(post.device, post.dtype)[:, None]
        return post

    def prob(logits: torch.Tensor) -> torch.Tensor:
        return logits[:, position].softmax(-1)[:, target].sum()

    batch = tokens.expand(steps, -1)
    _, acts, grads = adapter.run_with_gradients(batch, [name], prob, edits={name: scale})
    activation = acts[name][-1, position]  # α = 1: the activation itself
    return activation * grads[name][:, position].mean(0), activation


def knowledge_neurons(
    model: Any,
    text: str,
    target: Any = None,
    *,
    position: int = -1,
    steps: int = 20,
    top: int = 10,
    k: int = 5,
    on_layer: Optional[Callable[[int], None]] = None,
) -> KnowledgeNeurons:
    """Dai et al.'s knowledge attribution: which MLP neurons, scaled from zero to their value,
    raise the probability of ``target`` at ``position`` most.

    For each layer, the layer's neuron activations ``w̄`` at ``position`` are scaled by ``α``
    from ``1/steps`` to 1 (the rest of the run as the model computes it) and the gradient of
    the target's probability is averaged over the steps: the attribution of neuron ``i`` is
    ``w̄_i · mean_α ∂P(α w̄)/∂w_i`` (integrated gradients, a Riemann sum of ``steps`` terms).
    One batched forward and backward pass per layer.

    Parameters
    ----------
    target:
        The token explained (a one-token string or an id); default: the model's top prediction
        at ``position``.
    position:
        The position read (negative counts from the end).
    steps:
        Integration steps, 1 to :data:`MAX_STEPS` (20, as in the paper).
    top, k:
        How many neurons to rank, and how many top tokens of each one's value vector.
    on_layer:
        Called with each layer's index as its pass is done (for progress).

    Raises ``ValueError`` for an attention-only model, a bad position, a target that is not one
    token or out-of-range numbers, and ``NotImplementedError`` for MLPs with no single output
    matrix (a mixture of experts).

    Examples
    --------
    >>> small = cw.load_pocket_model("small-4l")
    >>> kn = analysis.knowledge_neurons(small, "for i in range(10):\\n    print(", steps=8, top=2)
    >>> [f"L{l}N{n}" for l, n in zip(kn.layers.tolist(), kn.neurons.tolist())]   # doctest: +ELLIPSIS
    ['L...N...', 'L...N...']
    """
    adapter = as_adapter(model)
    if adapter.attn_only:
        raise ValueError("this model is attention-only; it has no MLP neurons")
    try:
        W_out, _ = adapter.mlp_out_weights
    except AttributeError as missing:
        raise NotImplementedError(
            f"knowledge_neurons needs each MLP's one output matrix W_out; this model has none (a mixture of experts?): {missing}"
        ) from None
    steps = check_int(steps, "steps", 1, MAX_STEPS)
    top = check_int(top, "top", 1, adapter.n_layers * W_out.shape[1])
    k = check_k(k, adapter.d_vocab)
    tokens = adapter.to_tokens(text)
    position = check_position(position, tokens.shape[-1])
    with torch.inference_mode():
        logits = adapter.forward_logits(tokens)[0, position].float()
    target = int(logits.argmax()) if target is None else adapter.to_single_token(target)
    parts = []
    for layer in range(adapter.n_layers):
        parts.append(_integrated_gradients(adapter, tokens, layer, position, target, steps))
        if on_layer is not None:
            on_layer(layer)
    attributions = torch.stack([a for a, _ in parts])
    activations = torch.stack([w for _, w in parts])
    scores, flat = attributions.reshape(-1).topk(top)
    layers, neurons = flat // attributions.shape[1], flat % attributions.shape[1]
    with torch.inference_mode():
        promoted = adapter.unembed(adapter.apply_final_norm(W_out[layers, neurons]))
    top_ids = promoted.topk(k, dim=-1).indices
    seen = torch.cat([top_ids.reshape(-1), torch.tensor([target])]).unique()
    return KnowledgeNeurons(
        attributions=attributions, activations=activations, layers=layers, neurons=neurons, scores=scores,
        top_ids=top_ids, target=target, target_str=adapter.to_str_tokens([target])[0], position=position,
        prob=float(logits.softmax(-1)[target]), steps=steps,
        token_strs=dict(zip(seen.tolist(), adapter.to_str_tokens(seen))),
    )
