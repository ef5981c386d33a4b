"""Layer norm as a filter (VISIT, Katz & Belinkov, §5.2 and Appendix E).

A norm ``ln(x) = centre(x) / scale(x) · weight + bias`` rescales its input and then weighs each
dimension. VISIT reads the input and the output of a norm as words and finds that the norms
act as semantic filters: some tokens (often function words) lose probability through them and
others gain. :func:`ln_filter` measures this for the three norms a prediction passes through
at one layer and position -- before attention (``ln1``), before the MLP (``ln2``) and the final
norm (``ln_final``):

* ``ln1`` / ``ln2`` read their input ``x`` (the stream before attention / before the MLP) and
  their output ``ln(x)`` with the **logit lens** (the final norm with its scale recomputed,
  then ``W_U, b_U``); the lens is scale-invariant, so what changes is what the norm's
  centring, weight and bias do;
* ``ln_final`` reads the final stream ``x`` as ``centre(x) / scale(x) · W_U + b_U`` (the final
  norm without its weight and bias) and its output as the model does, ``ln_final(x) · W_U +
  b_U``.

``delta[t] = P_after(t) − P_before(t)``; the tokens with the largest and smallest ``delta`` are
what the norm raises and lowers. The **control** is the same difference averaged over random
Gaussian vectors put through the same norm: tokens that a norm raises for random input too are
raised by its weights, not by what this text wrote.

Example::

    result = ln_filter(model, "The capital of France is", layer=3)
    result.filters[0].raised_strs      # what blocks.3.ln1 raises at the last position
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import torch

from ..checks import check_int, check_k, check_position
from ..model import FinalNorm, ModelAdapter, hook_name
from ._forward import TextRun, resolve_run

#: Random vectors averaged for the control.
N_RANDOM = 64


@dataclass(frozen=True, eq=False)
class NormFilter:
    """What one norm does to the word reading (see the module docs).

    ``norm`` is ``"ln1"``, ``"ln2"`` or ``"ln_final"`` (``layer`` None for the final one);
    ``raised_ids``/``raised_deltas`` the ``k`` tokens whose probability it raises most (largest
    first), ``lowered_ids``/``lowered_deltas`` those it lowers most (most lowered first);
    ``control_*`` the same for the mean over random vectors; ``overlap`` the share of
    ``raised_ids`` that the control raises too (among its top ``k``); ``before``/``after`` the
    two probability vectors ``[d_vocab]`` at this position.

    >>> small = cw.load_pocket_model("small-4l")
    >>> f = analysis.ln_filter(small, "x = 1", layer=0, k=4).filter("ln2")
    >>> f.norm, f.layer, f.raised_ids.shape, 0 <= f.overlap <= 1
    ('ln2', 0, torch.Size([4]), True)
    """

    norm: str
    layer: Optional[int]
    raised_ids: torch.Tensor
    raised_deltas: torch.Tensor
    lowered_ids: torch.Tensor
    lowered_deltas: torch.Tensor
    control_raised_ids: torch.Tensor
    control_raised_deltas: torch.Tensor
    control_lowered_ids: torch.Tensor
    control_lowered_deltas: torch.Tensor
    overlap: float
    before: torch.Tensor
    after: torch.Tensor


@dataclass(frozen=True, eq=False)
class LNFilterResult:
    """:func:`ln_filter`'s result: ``filters`` (one :class:`NormFilter` per norm the layer has,
    in forward order, the final norm last), the ``position`` read, the text's ``str_tokens``
    and the display string of every token id in the filters (``token_strs``).

    Examples
    --------
    >>> small = cw.load_pocket_model("small-4l")
    >>> result = analysis.ln_filter(small, "def f(x):\\n    return x", layer=1, k=3)
    >>> [f.norm for f in result.filters]
    ['ln1', 'ln2', 'ln_final']
    >>> f = result.filters[0]
    >>> bool(f.raised_deltas[0] > 0 > f.lowered_deltas[0]), len(result.strs(f.raised_ids))
    (True, 3)
    """

    position: int
    layer: int
    str_tokens: list[str]
    filters: tuple[NormFilter, ...]
    n_random: int
    seed: int
    token_strs: dict[int, str]

    def strs(self, ids: torch.Tensor) -> list[str]:
        """The display strings of ``ids`` (any ids of this result's filters)."""
        return [self.token_strs[int(i)] for i in ids]

    def filter(self, norm: str) -> NormFilter:
        """The filter of ``norm`` (``"ln1"``, ``"ln2"`` or ``"ln_final"``)."""
        for f in self.filters:
            if f.norm == norm:
                return f
        raise KeyError(f"no {norm!r} here; this result has {[f.norm for f in self.filters]}")


def _apply(norm: FinalNorm, x: torch.Tensor) -> torch.Tensor:
    return norm.center(x) / norm.scale(x) * norm.weight + norm.bias


def _normalized(adapter: ModelAdapter, name: str, norm: FinalNorm, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(before, after)``: the rows ``[n, d_model]`` whose unembedding reads norm ``name``'s
    input rows ``x`` and output (see the module docs)."""
    if name == "ln_final":
        return norm.center(x) / norm.scale(x), _apply(norm, x)
    return adapter.apply_final_norm(x), adapter.apply_final_norm(_apply(norm, x))


#: Rows unembedded at once (bounds memory at ~2 x chunk x d_vocab floats).
CHUNK = 256


def _group_means(adapter: ModelAdapter, rows: torch.Tensor, group: int) -> torch.Tensor:
    """``[len(rows) / group, d_vocab]``: the mean next-token distribution of each run of
    ``group`` consecutive rows (already normalized), unembedded a chunk at a time: one pass
    over ``W_U`` per chunk, not one per row."""
    step = group * max(1, CHUNK // group)
    means = [adapter.unembed(rows[i : i + step]).softmax(dim=-1).reshape(-1, group, adapter.d_vocab).mean(dim=1)
             for i in range(0, len(rows), step)]
    return torch.cat(means)


def _model_norms(adapter: ModelAdapter) -> list[tuple[str, Optional[int], FinalNorm]]:
    """Every norm of the model: the final one, then each block's ``ln1`` and ``ln2`` (those
    the formula reproduces; none of a block's where it does not)."""
    norms: list[tuple[str, Optional[int], FinalNorm]] = [("ln_final", None, adapter.final_norm)]
    try:
        norms += [("ln1", layer, norm) for layer, norm in enumerate(adapter.attention_input_norms)]
        norms += [("ln2", layer, norm) for layer, norm in enumerate(adapter.mlp_input_norms) if norm is not None]
    except NotImplementedError:
        pass
    return norms


def _controls(adapter: ModelAdapter, n_random: int, seed: int) -> dict[tuple[str, Optional[int]], torch.Tensor]:
    """``(norm, layer) -> [d_vocab]``: every norm's ``P_after - P_before`` averaged over
    ``n_random`` Gaussian vectors drawn with ``seed``. They depend on the weights alone, so
    they are computed once per model and draw, all norms together
    (:meth:`~circuitwidgets.model.ModelAdapter.remembered`); the block norms share their
    "before" (the lens of the random vectors)."""

    def compute() -> dict:
        noise = torch.randn(n_random, adapter.d_model, generator=torch.Generator().manual_seed(seed))
        norms = _model_norms(adapter)
        final_bare, _ = _normalized(adapter, "ln_final", adapter.final_norm, noise)
        rows = [adapter.apply_final_norm(noise), final_bare]
        rows += [_normalized(adapter, name, norm, noise)[1] for name, _, norm in norms]
        means = _group_means(adapter, torch.cat(rows), n_random)
        lens, bare = means[0], means[1]
        return {(name, layer): mean - (bare if name == "ln_final" else lens)
                for (name, layer, _), mean in zip(norms, means[2:])}

    with torch.inference_mode():
        return adapter.remembered(("ln_filter controls", n_random, seed), compute)


def norm_filters(adapter: ModelAdapter, norms: Sequence[tuple[str, Optional[int], FinalNorm, torch.Tensor]],
                 k: int, n_random: int = N_RANDOM, seed: int = 0) -> list[NormFilter]:
    """The :class:`NormFilter` of each ``(name, layer, norm, x)``: norm ``name`` (``"ln1"``,
    ``"ln2"`` or ``"ln_final"``) of ``layer`` on its input ``x [d_model]`` -- what
    :func:`ln_filter` (and :func:`~circuitwidgets.analysis.flow`'s norm nodes) report, all
    unembedded together; arguments unchecked."""
    if not norms:
        return []
    with torch.inference_mode():
        rows = [r for name, _, norm, x in norms for r in _normalized(adapter, name, norm, x[None].float())]
        probs = _group_means(adapter, torch.cat(rows), 1)
        controls = _controls(adapter, n_random, seed)
    out = []
    for i, (name, layer, _, _) in enumerate(norms):
        before, after = probs[2 * i], probs[2 * i + 1]
        raised, raised_d, lowered, lowered_d = _extremes(after - before, k)
        c_raised, c_raised_d, c_lowered, c_lowered_d = _extremes(controls[(name, layer)], k)
        out.append(NormFilter(
            norm=name, layer=layer, raised_ids=raised, raised_deltas=raised_d, lowered_ids=lowered,
            lowered_deltas=lowered_d, control_raised_ids=c_raised, control_raised_deltas=c_raised_d,
            control_lowered_ids=c_lowered, control_lowered_deltas=c_lowered_d,
            overlap=len(set(raised.tolist()) & set(c_raised.tolist())) / k, before=before, after=after,
        ))
    return out


def _extremes(delta: torch.Tensor, k: int) -> tuple[torch.Tensor, ...]:
    up, up_ids = delta.topk(k)
    down, down_ids = (-delta).topk(k)
    return up_ids, up, down_ids, -down


def filter_ids(filters: Sequence[NormFilter]) -> torch.Tensor:
    """Every token id the filters list (raised, lowered, and the controls'), each once."""
    if not filters:
        return torch.zeros(0, dtype=torch.long)
    return torch.cat([t for f in filters for t in (f.raised_ids, f.lowered_ids, f.control_raised_ids,
                                                   f.control_lowered_ids)]).unique()


def ln_filter(
    model: Any,
    text: Union[str, TextRun],
    layer: int,
    position: int = -1,
    *,
    k: int = 10,
    n_random: int = N_RANDOM,
    seed: int = 0,
) -> LNFilterResult:
    """What the norms of ``layer`` (before attention, before the MLP) and the final norm do to
    the word reading at ``position`` (see the module docs).

    Parameters
    ----------
    text:
        The text, or a :class:`~circuitwidgets.analysis.TextRun` made with ``"flow"`` among
        its needs (every layer's streams).
    layer:
        The layer whose ``ln1`` and ``ln2`` are read (``0 .. n_layers - 1``).
    position:
        The position read (negative counts from the end).
    k:
        Tokens listed per direction.
    n_random, seed:
        The control: ``n_random`` standard Gaussian vectors drawn with ``seed``.

    Examples
    --------
    >>> small = cw.load_pocket_model("small-4l")
    >>> f = analysis.ln_filter(small, "for i in range(10):", layer=2).filter("ln_final")
    >>> round(float(f.after.sum()), 4), f.raised_ids.shape
    (1.0, torch.Size([10]))
    """
    adapter, run = resolve_run(model, text, "flow")
    layer = adapter.check_layer(layer)
    position = check_position(position, run.seq_len)
    k = check_k(k, adapter.d_vocab)
    n_random = check_int(n_random, "n_random", 1, 100_000)
    seed = check_int(seed, "seed", 0, 2**32 - 1)
    cache = run.cache
    norms = [("ln1", layer, adapter.attention_input_norms[layer], cache[hook_name("resid_pre", layer)][position])]
    ln2 = adapter.mlp_input_norms[layer]
    if ln2 is not None:
        norms.append(("ln2", layer, ln2, stream_before_mlp(adapter, run, layer, position)))
    final = cache[hook_name("resid_post", adapter.n_layers - 1)][position]
    norms.append(("ln_final", None, adapter.final_norm, final))
    filters = norm_filters(adapter, norms, k, n_random, seed)
    ids = filter_ids(filters)
    return LNFilterResult(
        position=position, layer=layer, str_tokens=list(run.str_tokens), filters=tuple(filters),
        n_random=n_random, seed=seed, token_strs=dict(zip(ids.tolist(), adapter.to_str_tokens(ids))),
    )


def stream_before_mlp(adapter: ModelAdapter, run: TextRun, layer: int, position: int) -> torch.Tensor:
    """The stream the MLP's norm reads: ``resid_mid`` (the stream before the layer, for a
    parallel block)."""
    return run.cache[hook_name("resid_pre" if adapter.parallel_attn_mlp else "resid_mid", layer)][position].float()
