"""What each head writes (OV circuit) and where it looks (QK circuit), in token space.

A head's **OV circuit** says what it adds to the residual stream for a token it attends to.
Read from token to token it is the ``d_vocab x d_vocab`` matrix (TransformerLens's row-vector
convention, as in the Framework paper and TransformerLens's Main_Demo)::

    full OV  =  W_E · W_V · W_O · W_U          (source token -> destination-token logits)

Row ``s`` holds the logits the head adds, for every destination token, when it attends to
source token ``s``. A **copying** head raises the logit of the very token it attends to; then
the matrix has large positive eigenvalues. The copying score summarises the spectrum::

    copying  =  Re(Σ λ) / Σ |λ|      in [-1, 1]

(1 = all eigenvalues positive real: pure copying; -1 = pure anti-copying / suppression.)

The full matrix is never built. Its nonzero eigenvalues are those of the ``d_head x d_head``
matrix ``W_O · (W_U · W_E) · W_V`` (cyclic permutation of a product does not change the
nonzero spectrum), and the token maps below compute only the rows or columns asked for, a
block of the vocabulary at a time.

Layer norms, positional embeddings and biases are left out, as in the Framework paper: these
are the direct token-to-token paths through one head. The weights are the adapter's effective
ones (:class:`~circuitwidgets.model.Weights`): shared K/V heads (grouped-query, multi-query)
repeated for each query head, the embedding as the model adds it to the stream (Gemma's
``sqrt(d_model)``), Granite's multipliers folded in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..model import ModelAdapter, as_adapter
from ..checks import TokenLike, check_choice, check_k, token_ids
from ._topk import topk_of_product

#: The circuits :func:`ov_spectrum` knows: ``"full"`` = W_E·W_V·W_O·W_U (token space),
#: ``"ov"`` = W_V·W_O (residual-stream space, no embedding or unembedding).
CIRCUITS = ("full", "ov")


@dataclass(frozen=True, eq=False)
class OVSpectrum:
    """Eigenvalues and copying scores of every head's OV circuit.

    Attributes
    ----------
    circuit:
        ``"full"`` (W_E·W_V·W_O·W_U) or ``"ov"`` (W_V·W_O).
    eigenvalues:
        ``complex64 [n_layers, n_heads, d_head]``: the circuit's nonzero-rank eigenvalues,
        sorted by decreasing magnitude (all others are exactly zero: the rank is at most
        ``d_head``).
    copying:
        ``float32 [n_layers, n_heads]``: ``Re(Σλ) / Σ|λ|`` in [-1, 1]; 0 for a head whose
        circuit is zero.
    positive_mass:
        ``float32 [n_layers, n_heads]``: the share of the eigenvalue mass on the positive real
        half-plane, ``Σ_{Re λ > 0} |λ| / Σ|λ|`` in [0, 1] (0 for a zero circuit). Unlike the
        copying score it ignores how far the eigenvalues turn from the real axis: 1 means
        every eigenvalue at least leans towards copying.

    Examples
    --------
    >>> spec = analysis.ov_spectrum(model)
    >>> spec.eigenvalues.shape, spec.copying.shape      # [n_layers, n_heads, d_head], [n_layers, n_heads]
    (torch.Size([2, 4, 32]), torch.Size([2, 4]))
    """

    circuit: str
    eigenvalues: torch.Tensor
    copying: torch.Tensor
    positive_mass: torch.Tensor

    def plot(self, layer: int, head: int, **options):
        """Bokeh figure of head ``layer.head``'s eigenvalues: :func:`circuitwidgets.figures.ov_spectrum_plot`
        (the copying scores of every head: :func:`circuitwidgets.figures.copying_grid`)."""
        from ..figures import ov_spectrum_plot

        return ov_spectrum_plot(self, layer, head, **options)


@dataclass(frozen=True, eq=False)
class TokenMap:
    """For each given token, the top-k tokens of one head's circuit row (or column).

    Attributes
    ----------
    kind:
        ``"ov"`` (given = source tokens attended to, top = destination tokens promoted),
        ``"ov_sources"`` (given = a destination token, top = the source tokens that promote
        it most) or ``"qk"`` (given = query tokens, top = the key tokens most attended to).
    layer, head:
        The head.
    given:
        ``LongTensor[n]``: the given token ids; ``given_strs`` their display strings.
    top_ids:
        ``LongTensor[n, k]``: the top tokens for each given token, best first;
        ``top_strs`` their display strings.
    top_values:
        ``float32 [n, k]``: their entries in the circuit matrix (logit added for ``"ov"`` and
        ``"ov_sources"``, unscaled attention score for ``"qk"``).

    Examples
    --------
    >>> m = analysis.ov_token_map(model, 1, 3, [" return", " def"], k=1)
    >>> m.given_strs, m.top_strs                # each given token, the token the head then writes
    ([' return', ' def'], [[' return'], [' def']])
    """

    kind: str
    layer: int
    head: int
    given: torch.Tensor
    given_strs: list[str]
    top_ids: torch.Tensor
    top_values: torch.Tensor
    top_strs: list[list[str]]


# --------------------------------------------------------------------------------------------
# Spectrum
# --------------------------------------------------------------------------------------------


def _small_factor(adapter: ModelAdapter, circuit: str) -> torch.Tensor:
    """``[n_layers, n_heads, d_head, d_head]`` with the circuit's nonzero eigenvalues."""
    w = adapter.weights
    if circuit == "ov":
        return w.W_O @ w.W_V  # eig(W_O W_V) = nonzero eig(W_V W_O)
    core = adapter.unembed_embed  # [d_model, d_model]: the only product over the vocabulary
    return w.W_O @ (core @ w.W_V)  # eig = nonzero eig(W_E W_V W_O W_U)


def ov_spectrum(
    model: Any, circuit: str = "full", progress: Callable[[int], None] | None = None
) -> OVSpectrum:
    """Eigenvalues and copying score of every head's OV circuit, all heads at once.

    ``circuit="full"`` uses the token-space circuit W_E·W_V·W_O·W_U (the Framework paper's
    copying score); ``circuit="ov"`` the plain W_V·W_O. Cost: one ``d_model x d_vocab x
    d_model`` product plus ``n_layers * n_heads`` eigendecompositions of ``d_head x d_head``.
    ``progress``, if given, is called with each layer's index once that layer is done (for a
    progress line in a view; the numbers do not depend on it).

    Example::

        spec = ov_spectrum(model)
        spec.copying[1, 4]            # near 1: L1H4 copies the tokens it attends to
        spec.eigenvalues[1, 4, :3]    # its three largest eigenvalues
        spec.positive_mass[1, 4]      # share of |λ| with Re λ > 0

    Examples
    --------
    >>> spec = analysis.ov_spectrum(model)
    >>> round(spec.copying[1, 3].item(), 1)
    1.0
    """
    check_choice(circuit, "circuit", CIRCUITS)
    adapter = as_adapter(model)
    with torch.inference_mode():
        factor = _small_factor(adapter, circuit).double()
        per_layer = []
        for layer in range(adapter.n_layers):
            # float64 for the small eigenproblems: more accurate, and no slower (float32
            # batched eig was up to 50x slower with 2 threads on a busy machine).
            per_layer.append(torch.linalg.eigvals(factor[layer]))
            if progress is not None:
                progress(layer)
        eigenvalues = torch.stack(per_layer)
        order = eigenvalues.abs().argsort(dim=-1, descending=True)
        eigenvalues = eigenvalues.gather(-1, order)
        magnitude = eigenvalues.abs()
        total = magnitude.sum(dim=-1)
        positive = torch.where(eigenvalues.real > 0, magnitude, torch.zeros_like(magnitude)).sum(dim=-1)
        nonzero = total > 0
        copying = torch.where(nonzero, eigenvalues.sum(dim=-1).real / total, torch.zeros_like(total))
        positive_mass = torch.where(nonzero, positive / total, torch.zeros_like(total))
    return OVSpectrum(
        circuit=circuit,
        eigenvalues=eigenvalues.to(torch.complex64),
        copying=copying.float(),
        positive_mass=positive_mass.float(),
    )


def copying_scores(model: Any, circuit: str = "full") -> torch.Tensor:
    """``[n_layers, n_heads]`` copying scores ``Re(Σλ)/Σ|λ|`` (see :func:`ov_spectrum`).

    Examples
    --------
    >>> c = analysis.copying_scores(model)
    >>> bool((c[1] > 0.9).all())                # every layer-1 head copies
    True
    """
    return ov_spectrum(model, circuit).copying


# --------------------------------------------------------------------------------------------
# Token maps
# --------------------------------------------------------------------------------------------


def _token_map(
    adapter: ModelAdapter,
    kind: str,
    layer: int,
    head: int,
    given: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    k: int,
    chunk: int | None,
) -> TokenMap:
    with torch.inference_mode():
        values, ids = topk_of_product(rows, cols, check_k(k, adapter.d_vocab), chunk)
    names = adapter.to_str_tokens(torch.cat([given, ids.reshape(-1)]))
    given_strs, flat = names[: len(given)], names[len(given) :]
    width = ids.shape[1]
    return TokenMap(
        kind=kind,
        layer=layer,
        head=head,
        given=given,
        given_strs=given_strs,
        top_ids=ids,
        top_values=values,
        top_strs=[flat[i * width : (i + 1) * width] for i in range(len(given))],
    )


def _head(adapter: ModelAdapter, layer: int, head: int) -> tuple[int, int]:
    return adapter.check_layer(layer), adapter.check_head(head)


def ov_token_map(
    model: Any, layer: int, head: int, sources: TokenLike, k: int = 10, chunk: int | None = None
) -> TokenMap:
    """For each source token, the ``k`` destination tokens head ``layer.head`` promotes most.

    Row ``s`` of the full OV circuit, ``W_E[s] · W_V · W_O · W_U``, is computed for the given
    sources only, ``chunk`` vocabulary columns at a time (default: as many as fit 16 MiB, see
    ``_topk``). ``sources`` is a token string
    (exactly one token), an id, or a list of them.

    Example::

        m = ov_token_map(model, 1, 4, [" cat", " dog"], k=5)
        m.top_strs[0]      # a copying head puts " cat" (or a variant) near the top

    Examples
    --------
    >>> m = analysis.ov_token_map(model, 1, 3, " return", k=3)
    >>> m.top_strs[0][0]
    ' return'
    """
    adapter = as_adapter(model)
    layer, head = _head(adapter, layer, head)
    w = adapter.weights
    source_ids = token_ids(adapter, sources, "source token")
    rows = w.W_E[source_ids] @ w.W_V[layer, head] @ w.W_O[layer, head]
    return _token_map(adapter, "ov", layer, head, source_ids, rows, w.W_U, k, chunk)


def ov_sources_for(
    model: Any, layer: int, head: int, target: TokenLike, k: int = 10, chunk: int | None = None
) -> TokenMap:
    """The ``k`` source tokens that, when attended to, make head ``layer.head`` raise the logit
    of ``target`` most: the largest entries of column ``target`` of the full OV circuit.

    The column is ``W_E · (W_V · W_O · W_U[:, target])``: one ``d_model`` vector, then the
    embedding ``chunk`` rows at a time (default: as many as fit 16 MiB), so memory stays
    ``O(chunk x d_model)``.

    Examples
    --------
    >>> m = analysis.ov_sources_for(model, 1, 3, " return", k=3)
    >>> m.top_strs[0][0]                        # the source that writes " return" most is " return"
    ' return'
    """
    adapter = as_adapter(model)
    layer, head = _head(adapter, layer, head)
    w = adapter.weights
    target_ids = token_ids(adapter, target, "target token")
    rows = (w.W_V[layer, head] @ (w.W_O[layer, head] @ w.W_U[:, target_ids])).T  # [n, d_model]
    return _token_map(adapter, "ov_sources", layer, head, target_ids, rows, w.W_E.T, k, chunk)


def qk_token_map(
    model: Any, layer: int, head: int, query: TokenLike, k: int = 10, chunk: int | None = None
) -> TokenMap:
    """For each query token, the ``k`` key tokens head ``layer.head`` attends to most.

    Row ``q`` of the full QK circuit ``W_E · W_Q · W_Kᵀ · W_Eᵀ`` (unscaled, like
    TransformerLens's ``model.QK``: divide by ``sqrt(d_head)`` for the attention score),
    computed for the given queries only, ``chunk`` key tokens at a time. Positions and layer
    norms are left out: this is the token-content part of the attention score. With rotary
    positions (Llama, Pythia, Gemma ...; ``ModelAdapter.position_kind == "rotary"``) or ALiBi
    (BLOOM) there is no positional term to add: this is the score at zero distance, which the
    rotation or the distance penalty then changes as the key moves away. QK-norm (Qwen 3,
    OLMo 2, Gemma 3) and attention soft caps (Gemma 2) act on the scores and are left out too.

    Examples
    --------
    >>> m = analysis.qk_token_map(model, 1, 3, " return", k=3)
    >>> m.kind, m.top_ids.shape
    ('qk', torch.Size([1, 3]))
    """
    adapter = as_adapter(model)
    layer, head = _head(adapter, layer, head)
    w = adapter.weights
    query_ids = token_ids(adapter, query, "query token")
    rows = w.W_E[query_ids] @ w.W_Q[layer, head] @ w.W_K[layer, head].T
    return _token_map(adapter, "qk", layer, head, query_ids, rows, w.W_E.T, k, chunk)
