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


def _readouts(adapter: ModelAdapter, norm: FinalNorm, final: bool, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(P_before, P_after)`` ``[n, d_vocab]`` for input rows ``x [n, d_model]`` of ``norm``."""
    if final:
        bare = norm.center(x) / norm.scale(x)
        before, after = adapter.unembed(bare), adapter.unembed(_apply(norm, x))
    else:
        before = adapter.unembed(adapter.apply_final_norm(x))
        after = adapter.unembed(adapter.apply_final_norm(_apply(norm, x)))
    return before.softmax(dim=-1), after.softmax(dim=-1)


def _extremes(delta: torch.Tensor, k: int) -> tuple[torch.Tensor, ...]:
    up, up_ids = delta.topk(k)
    down, down_ids = (-delta).topk(k)
    return up_ids, up, down_ids, -down


def _control(adapter: ModelAdapter, name: str, layer: Optional[int], norm: FinalNorm, n_random: int,
             seed: int) -> torch.Tensor:
    """``[d_vocab]``: the norm's ``P_after - P_before`` averaged over ``n_random`` Gaussian
    vectors drawn with ``seed``. It depends on the weights alone, so it is computed once per
    model, norm and draw (:meth:`~circuitwidgets.model.ModelAdapter.remembered`)."""

    def compute() -> torch.Tensor:
        noise = torch.randn(n_random, adapter.d_model, generator=torch.Generator().manual_seed(seed))
        before, after = _readouts(adapter, norm, name == "ln_final", noise)
        return (after - before).mean(dim=0)

    with torch.inference_mode():
        return adapter.remembered(("ln_filter control", name, layer, n_random, seed), compute)


def norm_filter(adapter: ModelAdapter, name: str, layer: Optional[int], norm: FinalNorm, x: torch.Tensor,
                k: int, n_random: int = N_RANDOM, seed: int = 0) -> NormFilter:
    """The :class:`NormFilter` of ``norm`` (``name`` ``"ln1"``, ``"ln2"`` or ``"ln_final"``, of
    ``layer``) on its input ``x [d_model]``: what :func:`ln_filter` (and each of
    :func:`~circuitwidgets.analysis.flow`'s norm nodes) reports, arguments unchecked."""
    final = name == "ln_final"
    with torch.inference_mode():
        before, after = _readouts(adapter, norm, final, x[None].float())
        delta = (after - before)[0]
        control = _control(adapter, name, layer, norm, n_random, seed)
    raised, raised_d, lowered, lowered_d = _extremes(delta, k)
    c_raised, c_raised_d, c_lowered, c_lowered_d = _extremes(control, k)
    overlap = len(set(raised.tolist()) & set(c_raised.tolist())) / k
    return NormFilter(
        norm=name, layer=layer, raised_ids=raised, raised_deltas=raised_d, lowered_ids=lowered,
        lowered_deltas=lowered_d, control_raised_ids=c_raised, control_raised_deltas=c_raised_d,
        control_lowered_ids=c_lowered, control_lowered_deltas=c_lowered_d, overlap=overlap,
        before=before[0], after=after[0],
    )


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
    cache, draw = run.cache, dict(n_random=n_random, seed=seed)
    resid_pre = cache[hook_name("resid_pre", layer)][position]
    filters = [norm_filter(adapter, "ln1", layer, adapter.attention_input_norms[layer], resid_pre, k, **draw)]
    ln2 = adapter.mlp_input_norms[layer]
    if ln2 is not None:
        mid = stream_before_mlp(adapter, run, layer, position)
        filters.append(norm_filter(adapter, "ln2", layer, ln2, mid, k, **draw))
    final = cache[hook_name("resid_post", adapter.n_layers - 1)][position]
    filters.append(norm_filter(adapter, "ln_final", None, adapter.final_norm, final, k, **draw))
    ids = filter_ids(filters)
    return LNFilterResult(
        position=position, layer=layer, str_tokens=list(run.str_tokens), filters=tuple(filters),
        n_random=n_random, seed=seed, token_strs=dict(zip(ids.tolist(), adapter.to_str_tokens(ids))),
    )


def stream_before_mlp(adapter: ModelAdapter, run: TextRun, layer: int, position: int) -> torch.Tensor:
    """The stream the MLP's norm reads: ``resid_mid`` (the stream before the layer, for a
    parallel block)."""
    return run.cache[hook_name("resid_pre" if adapter.parallel_attn_mlp else "resid_mid", layer)][position].float()
