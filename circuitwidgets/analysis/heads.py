"""Finding previous-token, duplicate-token and induction heads from their attention.

The experiment (as in the induction-heads paper and TransformerLens's demos): feed the model
``BOS, t_1 .. t_n, t_1 .. t_n`` -- ``n = half`` random tokens, then the same tokens again. In
the second half every token has been seen before, so a head can be caught doing one of three
things. For a query at position ``i`` in the second half (``i = half+1 .. 2*half``):

* **previous_token**: attention to key ``i - 1``, the token just before it.
* **duplicate_token**: attention to the earlier copy of the same token, key ``i - half``.
* **induction**: attention to the key right after that token's first occurrence,
  ``i - half + 1`` -- the token that came next last time, which is what an induction head
  copies.

A head's score is its attention on those keys, averaged over every second-half query of every
sequence in the batch, so it lies in ``[0, 1]`` and a head that does exactly that scores 1.

Example::

    scores = head_scores(model, "induction", half=50, batch=4, seed=0)
    layer, head = divmod(int(scores.scores.argmax()), scores.scores.shape[1])

How this differs from ``transformer_lens.head_detector.detect_head(..., error_measure="mul")``:
TransformerLens divides the same attention sum by *all* query positions, including the
first-half positions where these patterns cannot occur, so a perfect induction head scores
about ``half / (2*half + 1)`` there and 1.0 here. On the same tokens the two differ exactly by
that factor (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Union

import torch

from ..model import ModelAdapter, as_adapter, hook_name
from ..checks import check_choice, check_int
from ._forward import TextRun, resolve_run
from .on_demand import OnDemandPatterns, patterns_on_demand

#: The head kinds that :func:`head_scores` knows.
KINDS = ("previous_token", "duplicate_token", "induction")
#: Default number of random tokens per half (less where the model's context is shorter).
DEFAULT_HALF = 50
#: Default number of random sequences averaged over.
DEFAULT_BATCH = 4
#: The largest seed :func:`repeated_tokens` takes (any 32-bit unsigned int).
MAX_SEED = 2**32 - 1


@dataclass(frozen=True, eq=False)
class HeadScores:
    """How strongly every head shows one kind of attention.

    Attributes
    ----------
    kind:
        ``"previous_token"``, ``"duplicate_token"`` or ``"induction"`` (see the module docs).
    scores:
        ``[n_layers, n_heads]`` in ``[0, 1]``: mean attention from the scored queries to their
        target keys.
    tokens:
        ``LongTensor[batch, seq]``: the sequences that were run.
    str_tokens:
        Display strings of ``tokens[0]`` (for the axes of ``patterns``).
    queries:
        ``BoolTensor[batch, seq]``: the query positions averaged over.
    targets:
        ``BoolTensor[batch, seq, seq]``: ``targets[b, q, k]`` is True where attention from
        query ``q`` to key ``k`` counts (only on scored queries), e.g. the induction stripe.
    patterns:
        ``float32 [n_layers, n_heads, seq, seq]``: every head's attention on ``tokens[0]``,
        so a view can show why a head scores what it does. Scores on a text have the text's
        :class:`~circuitwidgets.analysis.OnDemandPatterns` here instead, indexed the same
        way (``patterns[layer, head]``) and computing only what is asked.
    half:
        The repeat length for repeated-token sequences; ``None`` for scores on a text.

    Examples
    --------
    >>> s = analysis.head_scores(model, "induction")
    >>> s.kind, s.scores.shape, s.half          # [n_layers, n_heads]
    ('induction', torch.Size([2, 4]), 50)
    >>> s.tokens.shape                          # batch x (BOS + 2 x half)
    torch.Size([4, 101])
    """

    kind: str
    scores: torch.Tensor
    tokens: torch.Tensor
    str_tokens: list[str]
    queries: torch.Tensor
    targets: torch.Tensor
    patterns: torch.Tensor
    half: Optional[int]

    def plot(self, **options):
        """Bokeh layer x head grid of the scores: :func:`circuitwidgets.figures.head_score_grid`."""
        from ..figures import head_score_grid

        return head_score_grid(self, **options)


# --------------------------------------------------------------------------------------------
# The sequences
# --------------------------------------------------------------------------------------------


def max_half(adapter: ModelAdapter) -> int:
    """The largest ``half`` whose sequence ``BOS + 2*half`` tokens fits the model's context."""
    return (adapter.n_ctx - 1) // 2


def check_half(adapter: ModelAdapter, half: Optional[int]) -> int:
    """``half`` checked against the model's context (``1 + 2*half <= n_ctx``); ``None`` gives
    the default (``DEFAULT_HALF``, or the most the context fits)."""
    if half is None:
        return min(DEFAULT_HALF, max_half(adapter))
    why = f" (the sequence BOS + 2*half tokens must fit the model's context of {adapter.n_ctx})"
    return check_int(half, "half", 1, max_half(adapter), why)


def check_seed(seed: int) -> int:
    """``seed`` if it is an int in ``[0, MAX_SEED]``."""
    return check_int(seed, "seed", 0, MAX_SEED)


def repeated_tokens(
    model: Any, half: Optional[int] = None, batch: int = DEFAULT_BATCH, seed: int = 0
) -> torch.Tensor:
    """``batch`` sequences ``BOS, t_1 .. t_half, t_1 .. t_half`` of random tokens.

    Returns ``LongTensor[batch, 1 + 2*half]``. The ``t_i`` of one sequence are distinct (drawn
    without replacement from the non-special tokens), so every second-half token has exactly one
    earlier copy. ``half`` defaults to ``DEFAULT_HALF`` (50), or the most the model's context
    ``n_ctx`` fits; the same ``seed`` (an int in ``[0, MAX_SEED]``) gives the same tokens.

    Examples
    --------
    >>> t = analysis.repeated_tokens(model, half=5, batch=2)
    >>> t.shape                                 # BOS + 2 x 5
    torch.Size([2, 11])
    >>> torch.equal(t[:, 1:6], t[:, 6:])
    True
    """
    adapter = as_adapter(model)
    half = check_half(adapter, half)
    batch = check_int(batch, "batch", 1)
    seed = check_seed(seed)
    # A model without a tokenizer has no BOS convention: its sequences start with token 0.
    bos = adapter.bos_token_id if adapter.has_tokenizer else 0
    if bos is None:
        raise ValueError(
            "this model's tokenizer has no BOS token; pass tokens=... (a [batch, 1 + 2*half] "
            "tensor of repeated tokens) instead"
        )
    n_tokens = min(adapter.d_vocab, len(adapter.tokenizer)) if adapter.has_tokenizer else adapter.d_vocab
    special = adapter.special_token_ids
    candidates = torch.tensor([t for t in range(n_tokens) if t not in special], dtype=torch.long)
    if len(candidates) < half:
        raise ValueError(
            f"half {half} is out of range; this vocabulary has only {len(candidates)} "
            f"ordinary tokens, so half must be in [1, {len(candidates)}]"
        )
    generator = torch.Generator().manual_seed(seed)
    first = torch.stack(
        [candidates[torch.randperm(len(candidates), generator=generator)[:half]] for _ in range(batch)]
    )
    return torch.cat([torch.full((batch, 1), bos, dtype=torch.long), first, first], dim=1)


def _check_repeated(adapter: ModelAdapter, tokens: torch.Tensor, half: Optional[int]) -> tuple[torch.Tensor, int]:
    """``tokens`` as ``[batch, 1 + 2*half]`` after checking its shape, ids and repetition."""
    if not isinstance(tokens, torch.Tensor) or tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
        raise TypeError(f"tokens must be an integer tensor [batch, 1 + 2*half], got {tokens!r:.80}")
    if tokens.ndim == 1:
        tokens = tokens[None]
    seq = tokens.shape[-1]
    if tokens.ndim != 2 or seq < 3 or seq % 2 == 0 or seq > adapter.n_ctx:
        raise ValueError(
            f"tokens has shape {tuple(tokens.shape)}; expected [batch, 1 + 2*half] with "
            f"1 <= half <= {max_half(adapter)} (an odd length from 3 to {adapter.n_ctx})"
        )
    tokens = tokens.to("cpu", torch.long)
    if tokens.min() < 0 or tokens.max() >= adapter.d_vocab:
        raise ValueError(f"tokens has ids outside [0, {adapter.d_vocab}) (this model's vocabulary)")
    found = (seq - 1) // 2
    if half is not None and half != found:
        raise ValueError(f"half {half} does not match tokens of length {seq} (half {found})")
    if not torch.equal(tokens[:, 1 : 1 + found], tokens[:, 1 + found :]):
        raise ValueError(
            "tokens must be [first token, t_1 .. t_half, t_1 .. t_half]: the second half must "
            "repeat the first (use text_head_scores for arbitrary text)"
        )
    return tokens, found


# --------------------------------------------------------------------------------------------
# The scores
# --------------------------------------------------------------------------------------------


def target_keys(tokens: torch.Tensor, kind: str) -> torch.Tensor:
    """``BoolTensor[batch, seq, seq]``: for each query, the keys that count for ``kind``.

    * previous_token: key ``q - 1``.
    * duplicate_token: every earlier key ``k < q`` holding the same token as ``q``.
    * induction: every key ``k + 1`` right after such an earlier copy ``k``.

    These are TransformerLens's detection patterns (``head_detector``), for every query.
    """
    return target_rows(tokens, kind, range(tokens.shape[-1]))


def target_rows(tokens: torch.Tensor, kind: str, queries: range) -> torch.Tensor:
    """``BoolTensor[batch, len(queries), queries.stop]``: the rows ``queries`` of
    :func:`target_keys` (keys after the last of them never count), for scoring block by block."""
    check_choice(kind, "kind", KINDS)
    query = torch.arange(queries.start, queries.stop)[:, None]
    key = torch.arange(queries.stop)[None, :]
    if kind == "previous_token":
        return (key == query - 1).expand(tokens.shape[0], -1, -1).clone()
    same = tokens[:, queries.start : queries.stop, None] == tokens[:, None, : queries.stop]
    duplicate = same & (key < query)
    if kind == "duplicate_token":
        return duplicate
    induction = torch.zeros_like(duplicate)
    induction[:, :, 1:] = duplicate[:, :, :-1]
    return induction


def _scores(
    adapter: ModelAdapter,
    kinds: Sequence[str],
    tokens: torch.Tensor,
    queries: torch.Tensor,
    patterns: list[torch.Tensor],
    half: Optional[int],
) -> dict[str, HeadScores]:
    """Score every head for each kind from per-layer patterns ``[batch, n_heads, seq, seq]``."""
    str_tokens = adapter.to_str_tokens(tokens[0])
    example = torch.stack([p[0] for p in patterns])
    n_queries = int(queries.sum())
    out = {}
    for kind in kinds:
        targets = target_keys(tokens, kind) & queries[:, :, None]
        weights = targets[:, None].to(torch.float32)
        scores = torch.stack([(p * weights).sum(dim=(0, 2, 3)) for p in patterns]) / n_queries
        out[kind] = HeadScores(
            kind=kind,
            scores=scores,
            tokens=tokens,
            str_tokens=str_tokens,
            queries=queries,
            targets=targets,
            patterns=example,
            half=half,
        )
    return out


def all_head_scores(
    model: Any,
    *,
    half: Optional[int] = None,
    batch: int = DEFAULT_BATCH,
    seed: int = 0,
    tokens: Optional[torch.Tensor] = None,
) -> dict[str, HeadScores]:
    """:func:`head_scores` for every kind in :data:`KINDS` from one forward pass.

    Examples
    --------
    >>> scores = analysis.all_head_scores(model, half=20)
    >>> {kind: divmod(s.scores.argmax().item(), 4) for kind, s in scores.items()}   # (layer, head)
    {'previous_token': (0, 1), 'duplicate_token': (1, 2), 'induction': (1, 3)}
    """
    adapter = as_adapter(model)
    if tokens is None:
        # the same random tokens give the same scores: once per model and settings
        def run() -> dict[str, HeadScores]:
            random = repeated_tokens(adapter, half=half, batch=batch, seed=seed)
            return all_head_scores(adapter, half=(random.shape[1] - 1) // 2, tokens=random)

        return adapter.remembered(("all_head_scores", check_half(adapter, half), batch, seed), run)
    tokens, half = _check_repeated(adapter, tokens, half)
    patterns: dict[int, torch.Tensor] = {}
    hooks = {
        hook_name("pattern", layer): (lambda p, layer=layer: patterns.__setitem__(layer, p))
        for layer in range(adapter.n_layers)
    }
    # Only the attention patterns count: stop after the last one (no last MLP, no unembedding).
    adapter.run_with_hooks(tokens, hooks, stop_when_done=True)
    queries = torch.zeros(tokens.shape, dtype=torch.bool)
    queries[:, 1 + half :] = True
    return _scores(adapter, KINDS, tokens, queries, [patterns[l] for l in range(adapter.n_layers)], half)


def head_scores(
    model: Any,
    kind: str,
    *,
    half: Optional[int] = None,
    batch: int = DEFAULT_BATCH,
    seed: int = 0,
    tokens: Optional[torch.Tensor] = None,
) -> HeadScores:
    """Score every head for ``kind`` on repeated random tokens (see the module docs).

    Parameters
    ----------
    kind:
        ``"previous_token"``, ``"duplicate_token"`` or ``"induction"``.
    half, batch, seed:
        Passed to :func:`repeated_tokens` (``half`` random tokens, repeated once, in ``batch``
        sequences drawn with ``seed``).
    tokens:
        Instead of drawing tokens: your own ``LongTensor[batch, 1 + 2*half]`` whose second
        half repeats the first (``batch`` and ``seed`` are then unused), so results can be
        compared across models or with other tools.

    Returns
    -------
    HeadScores
        ``scores[l, h]`` = mean over second-half queries of the attention on the target key.

    Example::

        induction = head_scores(model, "induction", seed=1)
        induction.scores.max()          # 1.0 would be a perfect induction head

    Examples
    --------
    >>> s = analysis.head_scores(model, "previous_token")
    >>> bool(s.scores[0, 1] > 0.8)              # L0H1 is the previous-token head
    True
    """
    check_choice(kind, "kind", KINDS)
    return all_head_scores(model, half=half, batch=batch, seed=seed, tokens=tokens)[kind]


#: How :func:`ablated_head_scores` switches a head off.
ABLATION_MODES = ("zero", "mean")


def ablated_head_scores(
    model: Any, scores: Mapping[str, HeadScores], head: tuple[int, int], mode: str = "zero"
) -> dict[str, HeadScores]:
    """``scores`` (from :func:`all_head_scores`, or :func:`text_head_scores` by kind) again, with
    ``head = (layer, head)`` switched off: its output ``z`` zeroed (``"zero"``) or replaced by its
    mean over each sequence's positions (``"mean"``), on the same tokens and queries, in one pass.

    Heads up to the ablated one's layer attend as before; a later head whose score falls reads
    what the ablated head wrote: an induction head's keys need the previous-token head
    (K-composition), so ablating that head shows the composition causally.

    Examples
    --------
    >>> clean = analysis.all_head_scores(model, half=20)
    >>> after = analysis.ablated_head_scores(model, clean, (0, 1))   # the previous-token head
    >>> bool(after["induction"].scores[1, 3] < 0.5 * clean["induction"].scores[1, 3])
    True
    """
    adapter = as_adapter(model)
    check_choice(mode, "mode", ABLATION_MODES)
    if not isinstance(head, (tuple, list)) or len(head) != 2:
        raise TypeError(f"head must be a (layer, head) pair, got {head!r:.40}")
    layer, h = adapter.check_layer(head[0]), adapter.check_head(head[1])
    if not scores:
        raise ValueError("scores is empty; pass the result of all_head_scores (or text_head_scores by kind)")
    tokens = next(iter(scores.values())).tokens
    patterns: dict[int, torch.Tensor] = {}

    def record(index: int):
        def hook(p: torch.Tensor) -> torch.Tensor:
            patterns[index] = p.detach().to("cpu", torch.float32)
            return p

        return hook

    def switch_off(z: torch.Tensor) -> torch.Tensor:
        z = z.clone()
        z[:, :, h] = 0 if mode == "zero" else z[:, :, h].mean(dim=1, keepdim=True)  # z is clean here
        return z

    hooks = {hook_name("pattern", l): record(l) for l in range(adapter.n_layers)}
    hooks[hook_name("z", layer)] = switch_off
    adapter.run_with_replacing_hooks(tokens, hooks, positions=[0])  # only the patterns count
    layers = [patterns[l] for l in range(adapter.n_layers)]
    return {
        kind: _scores(adapter, (kind,), tokens, s.queries, layers, s.half)[kind] for kind, s in scores.items()
    }


def _text_queries(tokens: torch.Tensor, kind: str) -> torch.Tensor:
    """``BoolTensor[1, seq]``: the positions ``kind`` is scored on in a text (see
    :func:`text_head_scores`)."""
    if kind == "previous_token":
        return torch.arange(tokens.shape[-1])[None] >= 1
    return target_keys(tokens, "duplicate_token").any(dim=-1)


def _no_queries(text: str, kind: str) -> ValueError:
    what = "it is a single token" if kind == "previous_token" else "no token in it repeats"
    return ValueError(
        f"the text {text!r:.60} has no positions to score {kind} heads on: {what}; "
        "use a text where some tokens occur twice, or head_scores() on repeated random tokens"
    )


def _on_demand_scores(adapter: ModelAdapter, att: OnDemandPatterns, kinds: Sequence[str]) -> dict[str, HeadScores]:
    """:func:`_scores` of the patterns ``att`` rebuilds, summed block by block of query rows
    (no head's full pattern is made)."""
    tokens = att.tokens[None]
    queries = {kind: _text_queries(tokens, kind) for kind in kinds}
    sums = {kind: torch.zeros(adapter.n_layers, adapter.n_heads, dtype=torch.float64) for kind in kinds}
    for layer in range(adapter.n_layers):
        for start, p in att.layer_blocks(layer):
            rows = range(start, start + p.shape[1])
            for kind in kinds:
                weights = target_rows(tokens, kind, rows)[0] & queries[kind][0, start : rows.stop, None]
                sums[kind][layer] += (p * weights).sum(dim=(1, 2)).double()
    out = {}
    for kind in kinds:
        out[kind] = HeadScores(
            kind=kind,
            scores=(sums[kind] / int(queries[kind].sum())).float(),
            tokens=tokens,
            str_tokens=list(att.str_tokens),
            queries=queries[kind],
            targets=target_keys(tokens, kind) & queries[kind][:, :, None],
            patterns=att,
            half=None,
        )
    return out


def text_head_scores(model: Any, text: Union[str, TextRun, OnDemandPatterns], kind: str) -> HeadScores:
    """Score every head for ``kind`` on the user's own text.

    The queries scored are those where ``kind`` is defined on this text:

    * previous_token: every position after the first;
    * duplicate_token and induction: every position whose token already occurred earlier
      in the text (the attention then counts on every earlier copy, or on the token right
      after every earlier copy).

    A text in which no token repeats has no such queries: that raises ``ValueError`` (saying
    so) rather than returning a score of 0 that would look like a measurement.

    ``text`` may be a :class:`~circuitwidgets.analysis.TextRun` made with ``"attention"`` in
    its needs, or the :class:`~circuitwidgets.analysis.OnDemandPatterns` of the text; a plain
    text is run through :func:`~circuitwidgets.analysis.patterns_on_demand` (memory linear in
    its length; ``patterns`` is then that object, indexed like the tensor).

    Examples
    --------
    >>> s = analysis.text_head_scores(model, "x = 1; y = 2; x = 1; y = 2", "induction")
    >>> layer, head = divmod(s.scores.argmax().item(), 4)
    >>> layer
    1
    """
    check_choice(kind, "kind", KINDS)
    return all_text_head_scores(model, text, kinds=(kind,))[kind]


def all_text_head_scores(
    model: Any, text: Union[str, TextRun, OnDemandPatterns], *, kinds: Sequence[str] = KINDS
) -> dict[str, HeadScores]:
    """:func:`text_head_scores` for each of ``kinds`` (default: all of :data:`KINDS`) from one
    forward pass; ``ValueError`` (as there) if the text has no position to score one of them on.

    Examples
    --------
    >>> scores = analysis.all_text_head_scores(model, "x = 1; y = 2; x = 1; y = 2")
    >>> sorted(scores), scores["induction"].scores.shape
    (['duplicate_token', 'induction', 'previous_token'], torch.Size([2, 4]))
    """
    for kind in kinds:
        check_choice(kind, "kind", KINDS)
    adapter = as_adapter(model)
    if isinstance(text, str):
        text = patterns_on_demand(adapter, text)
    elif isinstance(text, TextRun):
        adapter, text = resolve_run(adapter, text, "attention")
    elif isinstance(text, OnDemandPatterns) and text.shape[:2] != (adapter.n_layers, adapter.n_heads):
        raise ValueError(f"these patterns have {text.shape[:2]} layers x heads, not this model's; compute them with this model")
    tokens = text.tokens[None]
    for kind in kinds:
        if not _text_queries(tokens, kind).any():
            raise _no_queries(text.text, kind)
    if isinstance(text, OnDemandPatterns):
        return _on_demand_scores(adapter, text, kinds)
    patterns = [text.cache[hook_name("pattern", layer)][None] for layer in range(adapter.n_layers)]
    return {kind: _scores(adapter, (kind,), tokens, _text_queries(tokens, kind), patterns, None)[kind] for kind in kinds}
