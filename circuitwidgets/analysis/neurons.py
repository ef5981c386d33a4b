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
from typing import Any, Iterable, Optional

import torch

from ..checks import check_int, check_k
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
