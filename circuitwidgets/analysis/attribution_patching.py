"""Attribution patching: the first-order (gradient) estimate of every activation-patching cell
at once, from one clean forward pass and one corrupted forward + backward pass.

For a cell that patches the piece ``a`` of an activation, patching changes the metric by about
``(a_clean - a_corrupted) · ∂metric/∂a`` (the gradient taken on the corrupted run), so with the
metric normalized (clean 1, corrupted 0) the estimate of the patched value is that dot product,
summed over whatever the cell patches (e.g. ``d_head`` and every position for ``"heads"``).
The grids are :func:`~circuitwidgets.analysis.patching`'s; the estimate is exact for linear
pieces of the network and only approximate through attention and non-linearities, so check the
cells that matter with ``result.exact(*cell)``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import torch

from ..model import hook_name
from ..checks import TokenLike
from ._metric import Metric, MetricLike, build_metric
from .patching import Grid, PatchingResult, _Request, _result, prepare


def _reduce(grid: Grid, contribution: torch.Tensor) -> torch.Tensor:
    """``contribution [n_layers, *activation]`` summed over what each cell patches, in the
    order of the grid's axes."""
    ndim = contribution.ndim - 1
    others = [d for d in range(ndim) if d not in grid.dims]
    order = [0] + [d + 1 for d in grid.dims] + [d + 1 for d in others]
    out = contribution.permute(*order)
    return out.sum(dim=tuple(range(1 + len(grid.dims), contribution.ndim))) if others else out


def attribution_patching(
    model: Any,
    clean: str,
    corrupted: str,
    metric: MetricLike,
    *,
    at: Union[str, Sequence[str]] = "heads_by_pos",
    target: Optional[TokenLike] = None,
    distractor: Optional[TokenLike] = None,
    position: int = -1,
    normalize: bool = True,
) -> Union[PatchingResult, dict[str, PatchingResult]]:
    """Estimate patching grids by activation difference × gradient (see the module docs).

    Takes :func:`~circuitwidgets.analysis.patching`'s arguments and returns the same
    :class:`~circuitwidgets.analysis.PatchingResult` (``method == "attribution"``), however
    many grids: two forward passes and one backward pass in all.

    Examples
    --------
    >>> est = analysis.attribution_patching(model, "a b c d a b c", "a b c e a b c", "logit_diff",
    ...                                     at="heads", target=" d", distractor=" e")
    >>> est.peak(), round(float(est.values[1, 1]), 2)     # the estimate for head L1H1 ...
    ((1, 1), 0.4)
    >>> round(est.exact(1, 1), 2)                         # ... and the exact value, computed now
    0.41
    """
    adapter, grids, clean_tokens, corrupted_tokens, clean_logits, clean_cache = prepare(model, clean, corrupted, at)
    names = sorted(clean_cache)
    built: list[Metric] = []

    def scaled(logits: torch.Tensor) -> torch.Tensor:
        # The corrupted run's own logits fix the default distractor and the normalization.
        built.append(build_metric(
            adapter, metric, clean_logits, logits.detach().to("cpu", torch.float32),
            target=target, distractor=distractor, position=position, normalize=normalize,
        ))
        return built[0].scaled(logits)

    _, acts, grads = adapter.run_with_gradients(corrupted_tokens, names, scaled)
    m = built[0]
    request = _Request(adapter.model, clean, corrupted, metric, position, normalize)
    results = {}
    for grid in grids:
        layers = range(adapter.n_layers)
        delta = torch.stack([clean_cache[hook_name(grid.kind, l)][0] - acts[hook_name(grid.kind, l)][0] for l in layers])
        grad = torch.stack([grads[hook_name(grid.kind, l)][0] for l in layers])
        results[grid.name] = _result(adapter, grid, "attribution", _reduce(grid, delta * grad), clean_tokens,
                                     corrupted_tokens, m, 1, 1, request)
    return results[grids[0].name] if isinstance(at, str) else results
