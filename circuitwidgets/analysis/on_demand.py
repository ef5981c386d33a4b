"""Attention patterns computed when asked, from each layer's queries and keys: memory linear in
the text's length.

A head's pattern is ``softmax(scale * q·kᵀ, masked)`` (soft-capped on Gemma 2: see
:class:`~circuitwidgets.model.QKRecipe`) of its queries and keys after the positional
rotation, which are ``seq x d_head`` each. :func:`patterns_on_demand` runs the model once,
keeps every layer's q and k (grouped-query K heads unexpanded) and each query's softmax
normalizer, and computes the per-head summaries (entropy, BOS share, a max-pooled overview)
block by block of rows from the layer's pattern as the model computes it (its own eager
attention makes it anyway; it is read, not kept). No head's full ``seq x seq`` pattern is held longer than one block of
rows (:data:`BLOCK_ELEMENTS` weights). A text whose layer of scores would pass
:data:`PASS_ELEMENTS` goes through the model in passes of :func:`rows_per_pass` query rows over
its own key-value cache (:meth:`~circuitwidgets.model.ModelAdapter.run_with_qk`), so the
model's eager attention never holds all of a layer's ``n_heads x seq x seq`` scores either. Afterwards :class:`OnDemandPatterns` gives a head's full
pattern, a block of it, a row (one query) or a column (one key), equal to the model's
``hook_pattern`` to float tolerance.

Kept: ``n_layers x (n_heads + n_kv_heads) x seq x d_head`` numbers in the model's dtype plus
``n_layers x n_heads x seq`` float32 normalizers: 302 MB for GPT-2 small at 4096 tokens,
where every pattern as float16 takes 4.8 GB.

A model whose patterns do not follow from q and k that way (ALiBi's distance penalty, hooks
the model lacks, a text longer than a declared sliding window the probe could not check)
falls back to keeping every ``hook_pattern`` as float16 (quadratic memory), and says why in
:attr:`OnDemandPatterns.reason`.

>>> att = analysis.patterns_on_demand(model, "a b c a b c")
>>> att.reason, att.shape                       # '' : rebuilt from q and k
('', (2, 4, 7, 7))
>>> att.row(0, 1, 3).argmax().item()            # L0H1 from query 3 reads key 2
2
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import torch

from ..model import as_adapter, hook_name

__all__ = ["BLOCK_ELEMENTS", "PASS_ELEMENTS", "OnDemandPatterns", "patterns_on_demand", "rows_per_pass"]

#: The most attention weights (all heads of one layer, some query rows) our own summaries
#: read or compute at once.
BLOCK_ELEMENTS = 2**23
#: The most attention scores (all heads of one layer, some query rows) the model's own eager
#: attention is let hold at once: longer texts go through it in passes of query rows
#: (:func:`rows_per_pass`). Its softmax keeps a few float32 copies of them: see BENCHMARKS.md.
PASS_ELEMENTS = 2**25


def _rows_per_block(n_heads: int, seq: int) -> int:
    return max(1, BLOCK_ELEMENTS // (n_heads * seq))


def rows_per_pass(n_heads: int, seq: int) -> int | None:
    """Query rows per pass of the model over a ``seq``-token text so that a layer's
    ``n_heads x rows x seq`` scores stay within :data:`PASS_ELEMENTS` (``None``: the whole
    text fits in one pass).

    >>> analysis.on_demand.rows_per_pass(12, 1024), analysis.on_demand.rows_per_pass(32, 16384)
    (None, 64)
    """
    if n_heads * seq * seq <= PASS_ELEMENTS:
        return None
    return max(1, PASS_ELEMENTS // (n_heads * seq))


def _positions(index: Any, seq: int, name: str) -> range:
    """An int or a step-1 slice of positions as a range (checked against ``seq``)."""
    if isinstance(index, slice):
        picked = range(seq)[index]
        if picked.step != 1:
            raise ValueError(f"{name} slice {index} must have step 1")
        return picked
    position = int(index)
    if not -seq <= position < seq:
        raise IndexError(f"{name} {position} is out of range; this text has positions 0..{seq - 1}")
    position %= seq
    return range(position, position + 1)


class _Summaries:
    """Entropy, BOS share and the column-pooled overview, summed block by block of rows."""

    def __init__(self, n_layers: int, n_heads: int, seq: int, pooled_size: Optional[int]):
        self.seq = seq
        self.entropy = torch.zeros(n_layers, n_heads, dtype=torch.float64)
        self.bos = torch.zeros(n_layers, n_heads, dtype=torch.float64)
        self.side = None if pooled_size is None else min(seq, pooled_size)
        self.columns = None if pooled_size is None else torch.zeros(n_layers, n_heads, seq, self.side)

    def add(self, layer: int, start: int, p: torch.Tensor) -> None:
        """Rows ``start .. start + R - 1`` of every head of ``layer``: weights ``p``
        ``[n_heads, R, keys]`` (keys from 0; any later ones are 0)."""
        rows = p[:, 1:] if self.seq > 1 and start == 0 else p  # query 0 is left out (see AttentionResult)
        self.entropy[layer] -= torch.special.xlogy(rows, rows).sum(dim=(-1, -2)).double()
        self.bos[layer] += rows[..., 0].sum(dim=-1).double()
        if self.columns is None:
            return
        # Keys past the block's last query weigh 0: pad them back, and pool every row's
        # ``seq`` keys into the same ``side`` bins in one call (one kernel, not a slice per bin).
        n_heads, n_rows, keys = p.shape
        full = p if keys == self.seq else torch.nn.functional.pad(p, (0, self.seq - keys))
        pooled = torch.nn.functional.adaptive_max_pool1d(full.reshape(n_heads * n_rows, 1, self.seq), self.side)
        self.columns[layer, :, start : start + n_rows] = pooled.reshape(n_heads, n_rows, self.side)

    def finish(self) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        n = max(self.seq - 1, 1)
        pooled = None
        if self.columns is not None:
            n_layers, n_heads = self.columns.shape[:2]
            by_rows = self.columns.transpose(-1, -2).reshape(n_layers * n_heads, self.side, self.seq)
            pooled = torch.nn.functional.adaptive_max_pool1d(by_rows, self.side)
            pooled = pooled.reshape(n_layers, n_heads, self.side, self.side).transpose(-1, -2).contiguous()
        return (self.entropy / n).float(), (self.bos / n).float(), pooled


def layer_summary(pattern: torch.Tensor, pooled_size: Optional[int]) -> tuple[torch.Tensor, ...]:
    """One layer's summaries from its ``hook_pattern`` ``[1, n_heads, seq, seq]``: entropy and
    BOS share ``[n_heads]`` and the pooled overview ``[n_heads, T, T]`` (or an empty tensor
    without ``pooled_size``), float32 -- what a view draws of the layer, a few kilobytes where
    the pattern is ``n_heads x seq²`` (a remote run computes them on the server)."""
    p = pattern[0].float()
    summaries = _Summaries(1, p.shape[0], p.shape[-1], pooled_size)
    summaries.add(0, 0, p)
    entropy, bos, pooled = summaries.finish()
    return entropy[0], bos[0], torch.empty(0) if pooled is None else pooled[0]


def head_pattern(pattern: torch.Tensor, head: int) -> torch.Tensor:
    """Head ``head``'s pattern ``[seq, seq]`` from a layer's ``hook_pattern`` ``[1, n_heads, seq, seq]``."""
    return pattern[0, head]


def _reread(adapter: Any, tokens: torch.Tensor, layer: int, head: int) -> torch.Tensor:
    """One head's pattern, read again by one pass that stops at its layer and keeps only it."""
    name = hook_name("pattern", layer)
    reducer = functools.partial(head_pattern, head=head)
    return adapter.run_reduced(tokens, {name: reducer}, stop_when_done=True)[name].float()


@dataclass(frozen=True, eq=False)
class OnDemandPatterns:
    """Every head's attention on one text, computed when asked (see the module docs).

    Attributes
    ----------
    text, tokens, str_tokens:
        The text, ``LongTensor[seq]`` and one display string per token.
    entropy, bos_share:
        ``[n_layers, n_heads]``, as defined on :class:`~circuitwidgets.analysis.AttentionResult`.
    pooled:
        float32 ``[n_layers, n_heads, T, T]``: each head's pattern max-pooled to ``T = min(seq,
        pooled_size)`` cells a side (``adaptive_max_pool2d``), or None when not asked for.
    reason:
        ``''`` when the patterns are rebuilt from q and k; else why they could not be, and
        every ``hook_pattern`` is kept as float16 instead.

    Indexing reads like a ``[n_layers, n_heads, seq, seq]`` tensor, computing only what is
    asked: ``att[layer, head]`` (the full pattern), ``att[layer, head, 5]`` (a row),
    ``att[layer, head, :, 0]`` (a column), ``att[layer, head, 10:20, 0:8]`` (a block).

    Examples
    --------
    >>> att = analysis.patterns_on_demand(model, "x = 1; y = 2; x = 1")
    >>> att[1, 3].shape, att[1, 3, 11].shape, att[1, 3, 4:8, :2].shape
    (torch.Size([12, 12]), torch.Size([12]), torch.Size([4, 2]))
    >>> round(att.column(1, 3, 0).sum().item(), 3) == round(att[1, 3, :, 0].sum().item(), 3)
    True
    """

    text: str
    tokens: torch.Tensor
    str_tokens: list[str]
    entropy: torch.Tensor
    bos_share: torch.Tensor
    pooled: Optional[torch.Tensor]
    reason: str
    _recipe: Any
    _q: list[torch.Tensor]
    _k: list[torch.Tensor]
    _lse: Optional[torch.Tensor]
    _kept: Optional[torch.Tensor]
    #: ``(layer, head) -> pattern``: read a head again (adapters whose ``rereads_patterns``).
    _reread: Optional[Callable[[int, int], torch.Tensor]] = None

    @property
    def seq_len(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def shape(self) -> tuple[int, int, int, int]:
        n_layers, n_heads = self.entropy.shape
        return (int(n_layers), int(n_heads), self.seq_len, self.seq_len)

    @property
    def nbytes(self) -> int:
        """Bytes kept (q, k and normalizers; or the float16 patterns of the fallback; nothing
        where each head is read again)."""
        if self._kept is not None:
            return self._kept.numel() * self._kept.element_size()
        kept = [t for t in (*self._q, *self._k, self._lse) if t is not None]
        return sum(t.numel() * t.element_size() for t in kept)

    def _head(self, layer: int, head: int) -> tuple[int, int]:
        n_layers, n_heads = self.shape[:2]
        if not 0 <= layer < n_layers:
            raise IndexError(f"layer {layer} is out of range; this model has layers 0..{n_layers - 1}")
        if not 0 <= head < n_heads:
            raise IndexError(f"head {head} is out of range; this model has heads 0..{n_heads - 1}")
        return layer, head

    def block(self, layer: int, head: int, queries: Any = slice(None), keys: Any = slice(None)) -> torch.Tensor:
        """float32 ``[len(queries), len(keys)]``: the block of head ``layer.head``'s pattern at
        query positions ``queries`` and key positions ``keys`` (step-1 slices or ints)."""
        layer, head = self._head(int(layer), int(head))
        rows, cols = _positions(queries, self.seq_len, "query"), _positions(keys, self.seq_len, "key")
        if self._kept is not None:
            return self._kept[layer, head, rows.start : rows.stop, cols.start : cols.stop].float()
        if self._reread is not None:
            return self._reread(layer, head)[rows.start : rows.stop, cols.start : cols.stop]
        q = self._q[layer][head : head + 1]
        shared = self._q[layer].shape[0] // self._k[layer].shape[0]
        k = self._k[layer][head // shared : head // shared + 1]
        scores = self._recipe.scores(layer, q, k, rows, cols)[0]
        return scores.sub_(self._lse[layer, head, rows.start : rows.stop, None]).exp_()  # in place: one seq x seq buffer

    def pattern(self, layer: int, head: int) -> torch.Tensor:
        """float32 ``[seq, seq]``: head ``layer.head``'s full pattern."""
        return self.block(layer, head)

    def row(self, layer: int, head: int, query: int) -> torch.Tensor:
        """float32 ``[seq]``: the attention query ``query`` pays every key."""
        return self.block(layer, head, query)[0]

    def column(self, layer: int, head: int, key: int) -> torch.Tensor:
        """float32 ``[seq]``: the attention every query pays key ``key``."""
        return self.block(layer, head, slice(None), key)[:, 0]

    def __getitem__(self, index: Any) -> torch.Tensor:
        if not isinstance(index, tuple) or len(index) < 2 or len(index) > 4:
            raise IndexError("index as [layer, head], [layer, head, queries] or [layer, head, queries, keys]")
        layer, head, *rest = index
        queries, keys = (list(rest) + [slice(None), slice(None)])[:2]
        out = self.block(layer, head, queries, keys)
        if not isinstance(keys, slice):
            out = out[:, 0]
        if not isinstance(queries, slice):
            out = out[0]
        return out

    def layer_blocks(self, layer: int) -> Iterator[tuple[int, torch.Tensor]]:
        """``(start, p)`` for blocks of query rows of every head of ``layer``: ``p`` float32
        ``[n_heads, R, start + R]`` (keys past the block's last query are all zero, causally,
        and left out)."""
        n_heads, seq = self.shape[1], self.seq_len
        step = _rows_per_block(n_heads, seq)
        for start in range(0, seq, step):
            stop = min(seq, start + step)
            if self._kept is not None:
                yield start, self._kept[layer, :, start:stop, :stop].float()
            elif self._reread is not None:
                yield start, torch.stack([self._reread(layer, h)[start:stop, :stop] for h in range(n_heads)])
            else:
                scores = self._recipe.scores(layer, self._q[layer], self._k[layer], range(start, stop))
                yield start, scores.sub_(self._lse[layer, :, start:stop, None]).exp_()


def patterns_on_demand(
    model: Any,
    text: str,
    *,
    pooled_size: Optional[int] = None,
    on_layer: Optional[Callable[[int], None]] = None,
) -> OnDemandPatterns:
    """One forward pass over ``text`` keeping what rebuilds every attention pattern (see the
    module docs); ``pooled_size`` asks for each head's max-pooled overview as well, and
    ``on_layer(layer)`` is called as each layer is done (for progress). Raises ``ValueError``
    for an empty text or one longer than the model's context.

    Examples
    --------
    >>> att = analysis.patterns_on_demand(model, "a b c a b c", pooled_size=4)
    >>> att.pooled.shape, divmod(att.entropy.argmin().item(), 4)    # most focused head: L0H1
    (torch.Size([2, 4, 4, 4]), (0, 1))
    """
    adapter = as_adapter(model)
    tokens = adapter.to_tokens(text)
    seq = int(tokens.shape[-1])
    recipe = adapter.qk_recipe
    reason = recipe.why_not(seq)
    summaries = _Summaries(adapter.n_layers, adapter.n_heads, seq, pooled_size)
    q_of: list[torch.Tensor] = [None] * adapter.n_layers  # type: ignore[list-item]
    k_of: list[torch.Tensor] = [None] * adapter.n_layers  # type: ignore[list-item]
    lse = kept = None
    step = _rows_per_block(adapter.n_heads, seq)
    if reason and adapter.rereads_patterns:
        return _summarized(adapter, text, tokens, reason, pooled_size, on_layer)
    if reason:
        kept = torch.empty(adapter.n_layers, adapter.n_heads, seq, seq, dtype=torch.float16)

        def keep_pattern(layer: int):
            def callback(activation: torch.Tensor) -> None:
                kept[layer] = activation[0]
                for start in range(0, seq, step):
                    summaries.add(layer, start, activation[0, :, start : start + step])
                if on_layer is not None:
                    on_layer(layer)

            return callback

        adapter.run_with_hooks(
            tokens, {hook_name("pattern", l): keep_pattern(l) for l in range(adapter.n_layers)}, stop_when_done=True
        )
    else:
        lse = torch.empty(adapter.n_layers, adapter.n_heads, seq)

        def keep_qk(layer: int, at: int, q: torch.Tensor, k: torch.Tensor, pattern: torch.Tensor) -> None:
            # Queries at..at+R-1 of one pass. The summaries read the model's own pattern,
            # which it computes anyway; each query's normalizer follows from its largest
            # weight p_ij (never underflowing, at least 1/(i+1)) and the score s_ij:
            # log-normalizer = s_ij - log p_ij.
            if q_of[layer] is None:
                q_of[layer] = q.new_empty(q.shape[0], seq, q.shape[-1])
                k_of[layer] = k.new_empty(k.shape[0], seq, k.shape[-1])
            q_of[layer][:, at : at + q.shape[1]] = q
            k_of[layer][:, at : at + k.shape[1]] = k
            for start in range(0, q.shape[1], step):
                block = pattern[:, start : start + step]
                summaries.add(layer, at + start, block)
                top, keys = block.max(dim=-1)
                scores = recipe.scores_at(layer, q_of[layer], k_of[layer], at + start, keys)
                lse[layer, :, at + start : at + start + block.shape[1]] = scores - torch.log(top)
            if on_layer is not None and at + q.shape[1] == seq:
                on_layer(layer)

        adapter.run_with_qk(tokens, keep_qk, patterns=True, rows=rows_per_pass(adapter.n_heads, seq))
    entropy, bos_share, pooled = summaries.finish()
    return OnDemandPatterns(
        text=text,
        tokens=tokens[0],
        str_tokens=adapter.to_str_tokens(tokens[0]),
        entropy=entropy,
        bos_share=bos_share,
        pooled=pooled,
        reason=reason,
        _recipe=recipe,
        _q=[] if reason else q_of,
        _k=[] if reason else k_of,
        _lse=lse,
        _kept=kept,
    )


def _summarized(
    adapter: Any, text: str, tokens: torch.Tensor, reason: str, pooled_size: Optional[int],
    on_layer: Optional[Callable[[int], None]],
) -> OnDemandPatterns:
    """The summaries from one pass that reduces each layer's pattern where it is computed,
    every head's pattern read again when asked (adapters whose ``rereads_patterns``)."""
    reducer = functools.partial(layer_summary, pooled_size=pooled_size)
    names = [hook_name("pattern", layer) for layer in range(adapter.n_layers)]
    got = adapter.run_reduced(tokens, {name: reducer for name in names}, stop_when_done=True)
    per_layer = [got[name] for name in names]
    for layer in range(adapter.n_layers):
        if on_layer is not None:
            on_layer(layer)
    return OnDemandPatterns(
        text=text,
        tokens=tokens[0],
        str_tokens=adapter.to_str_tokens(tokens[0]),
        entropy=torch.stack([s[0] for s in per_layer]).float(),
        bos_share=torch.stack([s[1] for s in per_layer]).float(),
        pooled=None if pooled_size is None else torch.stack([s[2] for s in per_layer]).float(),
        reason=reason,
        _recipe=None,
        _q=[],
        _k=[],
        _lse=None,
        _kept=None,
        _reread=functools.partial(_reread, adapter, tokens),
    )
