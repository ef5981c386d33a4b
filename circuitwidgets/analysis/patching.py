"""Activation patching: run the corrupted prompt, put back one piece of the clean run's
activations, and measure how much of the clean behaviour returns.

The grids are TransformerLens's (``transformer_lens.patching.get_act_patch_*``), cell for cell,
with the same numbers (tested):

==========================  =========================  ==============================================
``at=``                     axes                       what one cell patches (TransformerLens name)
==========================  =========================  ==============================================
``"resid_pre"``             layer × pos                the residual stream entering the layer at one
                                                       position (``get_act_patch_resid_pre``)
``"attn_out"``              layer × pos                the attention layer's output (``_attn_out``)
``"mlp_out"``               layer × pos                the MLP's output (``_mlp_out``)
``"heads"``                 layer × head               one head's output ``z`` at every position
                                                       (``_attn_head_out_all_pos``)
``"heads_by_pos"``          layer × head × pos         one head's ``z`` at one position
                                                       (``_attn_head_out_by_pos``, there layer × pos
                                                       × head)
``"head_v"``                layer × head               one head's values (K/V heads on a
                                                       grouped-query model; ``_attn_head_v_all_pos``)
``"head_v_by_pos"``         layer × head × pos         one head's values at one position
``"head_pattern"``          layer × head               one head's attention pattern
                                                       (``_attn_head_pattern_all_pos``)
``"head_pattern_by_pos"``   layer × head × dest_pos    one row of a head's pattern (``_by_pos``)
==========================  =========================  ==============================================

Each value is the metric (see :mod:`._metric`: ``"logit_diff"``, ``"prob"``, ``"logit"``,
``"kl"`` or a callable) on the patched run, normalized so the clean run is 1 and the corrupted
run 0.

Where TransformerLens runs one forward pass per cell, :func:`patching` puts many patched runs
in one batch (as many as ``memory_budget`` allows) and lets each join the batch only at the layer
it patches (:meth:`~circuitwidgets.ModelAdapter.run_branching`): nothing below that layer can
change, so it is computed once for all of them. With a named metric the pass stops at the last
residual stream and unembeds only the position the metric reads.

The head pattern grids put back a clean attention pattern, tokens² numbers per head, which only
a forward pass makes (a pattern rebuilt from queries and keys, as the views show them, would not
be the model's own to the last bit). :func:`patching` holds those of the layers one batch
patches and no others, each read in a clean pass that stops at the batch's last layer, so no
moment holds every layer's patterns. :func:`~circuitwidgets.analysis.attribution_patching`
holds every layer's for its pattern grids (its backward pass needs them all anyway).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence, Union

import torch

from ..model import ModelAdapter, as_adapter, hook_name
from ..checks import TokenLike, check_int
from ._metric import Metric, MetricLike, build_metric, prompt_pair

#: The default bound on the memory one batched forward pass may use, in bytes.
DEFAULT_MEMORY_BUDGET = 2**30


@dataclass(frozen=True)
class Grid:
    """One kind of patching grid: the hook it patches, its axes after ``layer``, and which
    dimension of the activation (batch dropped) each of those axes indexes."""

    name: str
    kind: str
    axes: tuple[str, ...]
    dims: tuple[int, ...]

    def index(self, cell: Sequence[int], ndim: int) -> tuple:
        """The index into one run's activation that cell ``(layer, *rest)`` patches."""
        idx: list[Any] = [slice(None)] * ndim
        for dim, value in zip(self.dims, cell[1:]):
            idx[dim] = value
        return tuple(idx)


#: Each grid :func:`patching` and :func:`attribution_patching` compute, by name.
GRID_SPECS: dict[str, Grid] = {
    grid.name: grid
    for grid in (
        Grid("resid_pre", "resid_pre", ("layer", "pos"), (0,)),
        Grid("attn_out", "attn_out", ("layer", "pos"), (0,)),
        Grid("mlp_out", "mlp_out", ("layer", "pos"), (0,)),
        Grid("heads", "z", ("layer", "head"), (1,)),
        Grid("heads_by_pos", "z", ("layer", "head", "pos"), (1, 0)),
        Grid("head_v", "v", ("layer", "head"), (1,)),
        Grid("head_v_by_pos", "v", ("layer", "head", "pos"), (1, 0)),
        Grid("head_pattern", "pattern", ("layer", "head"), (0,)),
        Grid("head_pattern_by_pos", "pattern", ("layer", "head", "dest_pos"), (0, 1)),
    )
}
#: The names of the grids (``at=``).
GRIDS = tuple(GRID_SPECS)


@dataclass(frozen=True, eq=False)
class PatchingResult:
    """One patching grid, exact (:func:`patching`) or estimated (:func:`attribution_patching`).

    Attributes
    ----------
    grid, axes:
        The grid's name (one of :data:`GRIDS`) and the names of the axes of ``values``.
    method:
        ``"exact"`` or ``"attribution"``.
    values:
        The metric of each patched run (normalized: clean 1, corrupted 0); ``NaN`` for cells
        not computed (``cells=``).
    clean_str_tokens, corrupted_str_tokens:
        Both prompts' tokens.
    metric, position, target, distractor, target_str, distractor_str:
        What was measured (``position``/``target`` are ``None`` for a callable metric).
    clean_metric, corrupted_metric:
        The raw metric on the clean and on the corrupted run.
    passes, rows_per_pass:
        Forward passes run and the most patched runs batched into one (exact).

    Examples
    --------
    >>> grid = analysis.patching(model, "a b c d a b c", "a b c e a b c", "logit_diff",
    ...                          at="resid_pre", target=" d", distractor=" e")
    >>> grid.values.shape                   # [layer, pos]
    torch.Size([2, 8])
    >>> grid.clean_str_tokens[grid.peak()[1]]       # where patching layer 0 matters most
    ' d'
    """

    grid: str
    method: str
    axes: tuple[str, ...]
    values: torch.Tensor
    clean_str_tokens: list[str]
    corrupted_str_tokens: list[str]
    metric: str
    position: Optional[int]
    target: Optional[int]
    distractor: Optional[int]
    target_str: Optional[str]
    distractor_str: Optional[str]
    clean_metric: float
    corrupted_metric: float
    passes: int
    rows_per_pass: int
    request: "_Request" = field(repr=False)

    def plot(self, **options):
        """Bokeh heatmap of the grid: :func:`circuitwidgets.figures.patching_grid`.

        >>> analysis.patching(model, "a b c d a b c", "a b c e a b c", "prob", at="resid_pre").plot().name
        'patching-resid_pre'
        """
        from ..figures import patching_grid

        return patching_grid(self, **options)

    def peak(self) -> tuple[int, ...]:
        """The cell with the largest value (ignoring cells not computed)."""
        flat = torch.nan_to_num(self.values, nan=-float("inf")).argmax()
        return tuple(int(i) for i in torch.unravel_index(flat, self.values.shape))

    def exact(self, *cell: int) -> float:
        """The exact patched (normalized) metric of one cell, computed now with one patched
        run: compare it with an attribution-patching estimate."""
        result = patching(
            self.request.model, self.request.clean, self.request.corrupted, self.request.metric,
            at=self.grid, target=self.target, distractor=self.distractor, position=self.request.position,
            normalize=self.request.normalize, cells=[tuple(cell)],
        )
        return float(result.values[tuple(cell)])


@dataclass(frozen=True)
class _Request:
    """What a result needs to recompute one of its cells."""

    model: Any
    clean: str
    corrupted: str
    metric: MetricLike
    position: int
    normalize: bool


def check_grids(adapter: ModelAdapter, at: Union[str, Iterable[str]]) -> list[Grid]:
    """The grids named by ``at`` (one name or several), or a ``ValueError``."""
    names = [at] if isinstance(at, str) else list(at)
    if not names:
        raise ValueError(f"no grid given; at= takes one or more of {list(GRIDS)}")
    grids = []
    for name in names:
        if name not in GRID_SPECS:
            raise ValueError(f"unknown patching grid {name!r}; at= takes one or more of {list(GRIDS)}")
        if GRID_SPECS[name].kind == "mlp_out" and adapter.attn_only:
            raise ValueError("this model is attention-only: it has no MLP output to patch (at='mlp_out')")
        if not adapter.can_replace(GRID_SPECS[name].kind):
            raise NotImplementedError(
                f"on this model ({adapter.kind}) replacing {hook_name(GRID_SPECS[name].kind, 0)} does not change "
                f"the output (the hook only reports it), so the {name!r} grid cannot be patched here"
            )
        grids.append(GRID_SPECS[name])
    return grids


#: Activation kinds with tokens² numbers per head: exact patching holds their clean values layer
#: by layer, never every layer's at once.
SQUARE_KINDS = frozenset({"pattern"})


def prepare(model: Any, clean: str, corrupted: str, at: Union[str, Iterable[str]], *, square: bool = True) -> tuple:
    """What both patching methods start from: ``(adapter, grids, clean_tokens,
    corrupted_tokens, clean_logits, clean_cache)``, the cache holding every layer's activation
    of each grid's kind on the clean prompt (with ``square=False``, not of the
    :data:`SQUARE_KINDS`)."""
    adapter = as_adapter(model)
    grids = check_grids(adapter, at)
    clean_tokens, corrupted_tokens = prompt_pair(adapter, clean, corrupted)
    names = sorted({
        hook_name(g.kind, layer) for g in grids if square or g.kind not in SQUARE_KINDS for layer in range(adapter.n_layers)
    })
    clean_logits, clean_cache = adapter.run_with_cache(clean_tokens, names)
    return adapter, grids, clean_tokens, corrupted_tokens, clean_logits, clean_cache


def _all_cells(grid: Grid, shape: Sequence[int], n_layers: int) -> list[tuple[int, ...]]:
    sizes = [n_layers] + [shape[dim] for dim in grid.dims]
    return list(itertools.product(*(range(n) for n in sizes)))


def _check_cells(grid: Grid, cells: Iterable[Sequence[int]], sizes: Sequence[int]) -> list[tuple[int, ...]]:
    out = []
    for cell in cells:
        cell = tuple(int(c) for c in cell)
        if len(cell) != len(sizes) or not all(0 <= c < n for c, n in zip(cell, sizes)):
            raise ValueError(
                f"cell {cell} is not in the {grid.name!r} grid, whose axes {grid.axes} have sizes {tuple(sizes)}"
            )
        out.append(cell)
    if not out:
        raise ValueError("cells= is empty; give at least one cell, or leave it out for the whole grid")
    return out


def bytes_per_row(adapter: ModelAdapter, seq: int, read_positions: int) -> int:
    """A generous estimate of the memory one patched run adds to a batched forward pass."""
    floats = 8 * seq * adapter.d_model + 4 * adapter.n_heads * seq * seq + 3 * seq * adapter.d_mlp
    floats += 3 * read_positions * adapter.d_vocab
    return floats * 4  # float32; a half-precision model needs less


def _activation_shape(adapter: ModelAdapter, kind: str, seq: int, cache: dict[str, torch.Tensor]) -> torch.Size:
    """One layer's activation of ``kind`` on the clean prompt, batch dropped: its shape."""
    if kind in SQUARE_KINDS:
        return torch.Size([adapter.n_heads, seq, seq])
    return cache[hook_name(kind, 0)].shape[1:]


def _hold_square(
    adapter: ModelAdapter, tokens: torch.Tensor, clean: dict[str, torch.Tensor], square: set[str], wanted: set[str]
) -> None:
    """Make ``clean`` hold, of the hooks in ``square`` (those of :data:`SQUARE_KINDS`), just
    those in ``wanted``: the others dropped, the missing ones read in one clean pass that stops
    at the last of them."""
    for name in [n for n in clean if n in square and n not in wanted]:
        del clean[name]
    missing = sorted(wanted - set(clean))
    if missing:
        keep = {name: (lambda act, name=name: clean.__setitem__(name, act[0])) for name in missing}
        adapter.run_with_hooks(tokens, keep, stop_when_done=True)


def _patcher(rows: list[tuple[int, tuple]], clean: torch.Tensor):
    def hook(act: torch.Tensor) -> torch.Tensor:
        act = act.clone()
        src = clean.to(act.device, act.dtype)
        for row, idx in rows:
            act[(row, *idx)] = src[idx]
        return act

    return hook


def patching(
    model: Any,
    clean: str,
    corrupted: str,
    metric: MetricLike,
    *,
    at: Union[str, Sequence[str]] = "heads",
    target: Optional[TokenLike] = None,
    distractor: Optional[TokenLike] = None,
    position: int = -1,
    normalize: bool = True,
    cells: Optional[Iterable[Sequence[int]]] = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Union[PatchingResult, dict[str, PatchingResult]]:
    """Exact activation patching grids, clean into corrupted (see the module docs).

    Parameters
    ----------
    clean, corrupted:
        Two prompts with the same number of tokens.
    metric:
        ``"logit_diff"``, ``"prob"``, ``"logit"``, ``"kl"`` or a callable of one run's logits
        ``[1, seq, d_vocab]`` returning a scalar.
    at:
        A grid name (returns a :class:`PatchingResult`) or several (returns a dict of them,
        computed in shared batches).
    target, distractor, position:
        For the named metrics: the token whose logit/probability is read (default: the clean
        run's top prediction), the other token of ``"logit_diff"`` (default: the corrupted
        run's top prediction), and the position read (default: the last).
    normalize:
        Clean = 1, corrupted = 0 (default); ``False`` gives raw metric values.
    cells:
        Only these cells (tuples of indices along the grid's axes; one grid only); the rest
        are ``NaN``.
    memory_budget:
        Bytes one batched forward pass may use (estimated); more cells take more passes.

    Examples
    --------
    >>> heads = analysis.patching(model, "a b c d a b c", "a b c e a b c", "logit_diff",
    ...                           at="heads", target=" d", distractor=" e")
    >>> heads.values.shape                  # [layer, head]
    torch.Size([2, 4])
    >>> heads.values.round(decimals=2)      # L0H0 and L1H1 each restore ~40% of the logit difference
    tensor([[0.4500, 0.0000, 0.2900, 0.0500],
            [0.3300, 0.4100, 0.0500, 0.1400]])
    """
    adapter, grids, clean_tokens, corrupted_tokens, clean_logits, clean_cache = prepare(
        model, clean, corrupted, at, square=False
    )
    corrupted_logits = adapter.forward_logits(corrupted_tokens)
    m = build_metric(
        adapter, metric, clean_logits, corrupted_logits,
        target=target, distractor=distractor, position=position, normalize=normalize,
    )
    seq = clean_tokens.shape[-1]
    jobs: list[tuple[Grid, tuple[int, ...]]] = []
    sizes, shapes = {}, {}
    for grid in grids:
        shape = shapes[grid.name] = _activation_shape(adapter, grid.kind, seq, clean_cache)
        sizes[grid.name] = [adapter.n_layers] + [shape[d] for d in grid.dims]
        if cells is None:
            wanted = _all_cells(grid, shape, adapter.n_layers)
        elif len(grids) != 1:
            raise ValueError("cells= needs exactly one grid in at=")
        else:
            wanted = _check_cells(grid, cells, sizes[grid.name])
        jobs += [(grid, cell) for cell in wanted]
    jobs.sort(key=lambda job: job[1][0])  # by layer, so rows join the batch in order

    read = 1 if m.positions is not None else seq
    check_int(memory_budget, "memory_budget", 1, why=" (bytes)")
    rows_per_pass = max(2, memory_budget // bytes_per_row(adapter, seq, read))
    clean_acts = {name: act[0] for name, act in clean_cache.items()}  # each hook casts to the model's
    square = {hook_name(g.kind, layer) for g in grids if g.kind in SQUARE_KINDS for layer in range(adapter.n_layers)}
    values = {g.name: torch.full(sizes[g.name], float("nan")) for g in grids}
    passes = 0
    for start in range(0, len(jobs), rows_per_pass - 1):
        chunk = jobs[start : start + rows_per_pass - 1]
        by_hook: dict[str, list] = {}
        for row, (grid, cell) in enumerate(chunk, start=1):
            name = hook_name(grid.kind, cell[0])
            by_hook.setdefault(name, []).append((row, grid.index(cell, len(shapes[grid.name]))))
        _hold_square(adapter, clean_tokens, clean_acts, square, set(by_hook) & square)
        hooks = {name: _patcher(rows, clean_acts[name]) for name, rows in by_hook.items()}
        logits = adapter.run_branching(
            corrupted_tokens, [cell[0] for _, cell in chunk], hooks, positions=m.positions
        )
        scores = m.normalized(m.raw(logits))
        for row, (grid, cell) in enumerate(chunk, start=1):
            values[grid.name][cell] = scores[row]
        passes += 1

    request = _Request(adapter.model, clean, corrupted, metric, position, normalize)
    results = {g.name: _result(adapter, g, "exact", values[g.name], clean_tokens, corrupted_tokens, m,
                               passes, rows_per_pass, request) for g in grids}
    return results[grids[0].name] if isinstance(at, str) else results


def _result(
    adapter: ModelAdapter, grid: Grid, method: str, values: torch.Tensor, clean_tokens: torch.Tensor,
    corrupted_tokens: torch.Tensor, m: Metric, passes: int, rows_per_pass: int, request: _Request,
) -> PatchingResult:
    """A :class:`PatchingResult` with the labels both methods share."""
    return PatchingResult(
        grid=grid.name,
        method=method,
        axes=grid.axes,
        values=values,
        clean_str_tokens=adapter.to_str_tokens(clean_tokens[0]),
        corrupted_str_tokens=adapter.to_str_tokens(corrupted_tokens[0]),
        metric=m.name,
        position=m.position,
        target=m.target,
        distractor=m.distractor,
        target_str=None if m.target is None else adapter.token_str(m.target),
        distractor_str=None if m.distractor is None else adapter.token_str(m.distractor),
        clean_metric=m.clean_value,
        corrupted_metric=m.corrupted_value,
        passes=passes,
        rows_per_pass=rows_per_pass,
        request=request,
    )
