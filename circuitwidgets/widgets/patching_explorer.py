"""PatchingExplorer: activation patching of a clean and a corrupted prompt, grid by grid.

Run the corrupted prompt, put back one piece of the clean run's activations, and see how much
of the clean behaviour returns (:func:`circuitwidgets.analysis.patching`; normalized: clean 1,
corrupted 0). The view shows:

* **The prompt pair** -- both tokenizations, the positions where they differ marked.
* **The metric** -- a named choice (``"logit_diff"``, ``"prob"``, ``"logit"``, ``"kl"``), its
  target (and distractor), and its raw value on the clean and on the corrupted run.
* **A tab per grid** -- the residual stream (layer x position), the attention and the MLP
  output (layer x position; no MLP tab on an attention-only model), every head's output
  (layer x head) and every head's output at each position (layer.head x position). Each cell
  is a button; the arrow keys move between cells (the grid keys of every grid of heads).
* **Exact or attribution** -- the attribution estimate (activation difference x gradient,
  :func:`~circuitwidgets.analysis.attribution_patching`) of every grid is there at once; the
  exact grid is computed on demand, in chunks of cells, each chunk one request from the
  browser, with a progress bar. *Cancel* stops asking for chunks: the chunk being computed
  finishes (at most :data:`CHUNKS`-th of the grid), then the kernel is free; the cells done
  so far are kept, and computing again goes on from there. Once both exist, a scatter plots
  exact against attribution, one dot per cell.

Clicking a cell moves the shared :class:`~circuitwidgets.Selection`: a head cell selects that
head (``layer``, ``head``), so a linked AttentionExplorer shows its pattern; a residual cell
selects that layer's readout (``lens_layer``: the residual stream entering layer ``l`` is the
logit lens's readout ``l``) and ``position``, as a linked LogitLens shows them; an attention or
MLP output cell selects the readout just after that layer (``lens_layer = l + 1``).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Optional

import torch
import traitlets

from ..analysis import attribution_patching, patching
from ..analysis._metric import METRICS
from ..analysis.patching import DEFAULT_MEMORY_BUDGET, GRID_SPECS, PatchingResult, check_grids
from ..checks import check_int
from ._channel import AnswersRequests, Stale, handles
from ._payloads import PatchingGrids
from ._transport import Encoded
from .selection import LinkedView, Selection

__all__ = ["PatchingExplorer", "TABS", "METHODS", "CHUNKS"]

#: The grids the view has a tab for, in tab order (the names of ``analysis.patching``'s ``at=``).
TABS = ("resid_pre", "attn_out", "mlp_out", "heads", "heads_by_pos")
#: Exact patching, or its attribution (gradient) estimate.
METHODS = ("attribution", "exact")
#: An exact grid is computed in about this many chunks (one request each; the progress bar's steps).
CHUNKS = 16


def _cells(shape: torch.Size) -> list[tuple[int, ...]]:
    """Every cell of a grid of ``shape``, layer-major (the order the chunks take)."""
    return list(itertools.product(*(range(n) for n in shape)))


class PatchingExplorer(AnswersRequests, LinkedView):
    """Activation patching of ``clean`` into ``corrupted`` on ``model``, every grid, linked.

    Parameters
    ----------
    model:
        {MODELS}.
    clean, corrupted:
        Two prompts with the same number of tokens. Different lengths raise ``ValueError``
        naming both lengths and showing both tokenizations.
    target, distractor:
        The token the metric reads (a one-token string or an id; default: the clean run's top
        prediction at the last position) and, for ``"logit_diff"``, the other one (default:
        the corrupted run's top prediction). A distractor equal to the target raises.
    metric:
        ``"logit_diff"`` (default), ``"prob"``, ``"logit"`` or ``"kl"``, read at the last
        position (a callable metric: use :func:`circuitwidgets.analysis.patching`).
    grid, method:
        The tab shown first (one of :data:`TABS` the model has; default ``"heads"``) and
        ``"attribution"`` (default) or ``"exact"``.
    exact:
        Grids to compute exactly now (e.g. ``exact=["heads"]``); the others on demand.
    memory_budget:
        Bytes one batched forward pass of exact patching may use (``analysis.patching``'s).
    selection:
        A :class:`~circuitwidgets.Selection` to share with other views (default: a new one).
    layer, head:
        The head to select first (default: the selection's, else the top head of the
        attribution ``heads`` grid).

    Traits
    ------
    clean, corrupted : str
        The prompt pair. Setting one recomputes the attribution grids (and drops the exact
        ones); a pair that does not fit (different lengths, empty, the metric equal on both)
        shows an inline message in ``error`` and the last good grids stay. To change both at
        once, or to have the error raised, use :meth:`set_prompts`.
    metric : str
        One of ``"logit_diff"``, ``"prob"``, ``"logit"``, ``"kl"``; setting it recomputes.
    target, distractor : str, int or None
        The metric's tokens (one-token strings or ids; ``None``: the default above). A value
        that is not one token raises ``TraitError``; a distractor equal to the target shows
        inline.
    grid : str
        The open tab.
    method : "attribution" or "exact"
        Which numbers the grids show; ``"exact"`` on a grid not computed yet shows a button
        that computes it.
    layer, head, lens_layer, position : int
        The selected head, the selected readout and position, kept equal to ``selection``'s.
    approx : PatchingGrids
        Read-only, read like a dict of str to Tensor: the attribution estimate of every grid
        in :attr:`grids`, by name (``float32``, axes as in :data:`circuitwidgets.analysis.GRIDS`).
    exact : PatchingGrids
        Read-only, likewise: the exact grids computed so far (complete ones only), by name.
    grids : list of str
        Read-only: the tabs this model has (no ``"mlp_out"`` on an attention-only model).
    clean_tokens, corrupted_tokens : list of str
        Read-only: both prompts' tokens; ``differing`` the positions where they differ.
    target_str, distractor_str, read_position, clean_value, corrupted_value
        Read-only: what the metric measures (``distractor_str`` is ``""`` unless the metric is
        ``"logit_diff"``), the position it reads, and its raw value on the clean and the
        corrupted run.
    error : str
        Why the current input is not shown ('' when it is).
    model_name, n_layers, n_heads, run_id, busy
        Read-only: the model's name and sizes, a counter bumped for every new prompt pair
        or metric, the progress line.

    Examples
    --------
    >>> w = cw.PatchingExplorer(model, "a b c d a b c", "a b c e a b c", target=" d", distractor=" e")
    >>> w.grids, w.differing                     # an attention-only model: no MLP tab
    (['resid_pre', 'attn_out', 'heads', 'heads_by_pos'], [4])
    >>> w.approx["heads"].shape                  # [layer, head], attribution estimate
    torch.Size([2, 4])
    >>> w.compute_exact("heads")                 # the exact grid, as analysis.patching's
    >>> w.exact["heads"].round(decimals=2)
    tensor([[0.4500, 0.0000, 0.2900, 0.0500],
            [0.3300, 0.4100, 0.0500, 0.1400]])
    >>> w.select(1, 1)                           # a linked AttentionExplorer shows head 1.1
    """

    _bundle = "patching_explorer"
    _linked = ("layer", "head", "lens_layer", "position")
    _settable = ("clean", "corrupted", "metric", "target", "distractor", "grid", "method")

    # ---- Python-side selection (mirrored into `selection`) ----------------------------------
    layer = traitlets.Int(0, help="The selected layer.")
    head = traitlets.Int(0, help="The selected head.")
    lens_layer = traitlets.Int(0, help="The selected readout (0 = embeddings ... n_layers = final).")
    position = traitlets.Int(0, help="The selected position.")
    target = traitlets.Union(
        [traitlets.Int(), traitlets.Unicode()], allow_none=True, default_value=None,
        help="The metric's target token (one-token string or id), or None for the clean top prediction.",
    )
    distractor = traitlets.Union(
        [traitlets.Int(), traitlets.Unicode()], allow_none=True, default_value=None,
        help="The logit difference's other token, or None for the corrupted top prediction.",
    )

    # ---- synced to the browser ---------------------------------------------------------------
    clean = traitlets.Unicode(help="The clean prompt.").tag(sync=True)
    corrupted = traitlets.Unicode(help="The corrupted prompt (as many tokens as the clean one).").tag(sync=True)
    metric = traitlets.Enum(METRICS, "logit_diff", help="The named metric.").tag(sync=True)
    grid = traitlets.Enum(TABS, "heads", help="The open tab.").tag(sync=True)
    method = traitlets.Enum(METHODS, "attribution", help="Exact patching or its attribution estimate.").tag(sync=True)
    model_name = traitlets.Unicode().tag(sync=True)
    n_layers = traitlets.Int().tag(sync=True)
    n_heads = traitlets.Int().tag(sync=True)
    grids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    clean_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    corrupted_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    differing = traitlets.List(traitlets.Int()).tag(sync=True)
    target_str = traitlets.Unicode().tag(sync=True)
    distractor_str = traitlets.Unicode().tag(sync=True)
    read_position = traitlets.Int().tag(sync=True)
    clean_value = traitlets.Float().tag(sync=True)
    corrupted_value = traitlets.Float().tag(sync=True)
    approx = Encoded(PatchingGrids).tag(sync=True)
    exact = Encoded(PatchingGrids).tag(sync=True)
    run_id = traitlets.Int(0).tag(sync=True)
    busy = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        model: Any,
        clean: str,
        corrupted: str,
        *,
        target: str | int | None = None,
        distractor: str | int | None = None,
        metric: str = "logit_diff",
        grid: str = "heads",
        method: str = "attribution",
        exact: Any = (),
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        selection: Selection | None = None,
        layer: int | None = None,
        head: int | None = None,
        **kwargs: Any,
    ):
        self._prepare(model, kwargs, selection=selection)
        self._memory_budget = check_int(memory_budget, "memory_budget", 1, why=" (bytes)")
        self._tabs = [name for name in TABS if self._has_grid(name)]
        self._ready = False
        clean, corrupted, metric, target, distractor, grid, method = self._validated(
            clean=clean, corrupted=corrupted, metric=metric, target=target, distractor=distractor, grid=grid, method=method,
        )
        results = self._compute(clean, corrupted, metric, target, distractor)  # bad input raises here
        self._seq = seq = len(results["resid_pre"].clean_str_tokens)
        super().__init__(
            clean=clean, corrupted=corrupted, metric=metric, target=target, distractor=distractor,
            grid=grid, method=method, model_name=self._adapter.name, n_layers=self._adapter.n_layers,
            n_heads=self._adapter.n_heads, grids=self._tabs,
            lens_layer=0, position=seq - 1, **kwargs,
        )
        self._show(results, dict(clean=clean, corrupted=corrupted, metric=metric))
        if layer is None and head is None and self.selection.layer is None and self.selection.head is None and "heads" in results:
            layer, head = results["heads"].peak()  # nothing selected yet: the head that matters most
        self._start_linking(layer=layer, head=head)
        self._ready = True
        for name in [exact] if isinstance(exact, str) else list(exact):
            self.compute_exact(name)
        self._answer_requests()

    # ---- public -------------------------------------------------------------------------------

    @property
    def results(self) -> dict[str, PatchingResult]:
        """The attribution results on screen, by grid (with tokens, metric and ``exact(*cell)``).

        Examples
        --------
        >>> w = cw.PatchingExplorer(model, "a b c d a b c", "a b c e a b c", target=" d", distractor=" e")
        >>> w.results["heads"].peak()
        (1, 1)
        """
        return dict(self._results)

    def values(self, grid: Optional[str] = None, method: Optional[str] = None) -> torch.Tensor:
        """The grid the view shows for ``grid`` (default: the open tab) and ``method``
        (default: the one shown); an exact grid not computed yet raises ``ValueError``.

        Examples
        --------
        >>> w = cw.PatchingExplorer(model, "a b c d a b c", "a b c e a b c", target=" d", distractor=" e")
        >>> w.values("resid_pre").shape              # [layer, position]
        torch.Size([2, 8])
        """
        grid = self._check_tab(self.grid if grid is None else grid)
        method = self.method if method is None else method
        if method not in METHODS:
            raise ValueError(f"method {method!r} is not one of {list(METHODS)}")
        if method == "attribution":
            return self.approx[grid]
        if grid not in self.exact:
            raise ValueError(f"the exact {grid!r} grid is not computed yet; call compute_exact({grid!r})")
        return self.exact[grid]

    def compute_exact(self, grid: Optional[str] = None) -> None:
        """Compute the exact grid ``grid`` (default: the open tab) now, with a progress line,
        and show it (:attr:`exact`). Equal to :func:`circuitwidgets.analysis.patching`'s.

        Examples
        --------
        >>> w = cw.PatchingExplorer(model, "a b c d a b c", "a b c e a b c", target=" d", distractor=" e")
        >>> w.compute_exact("resid_pre")
        >>> sorted(w.exact)
        ['resid_pre']
        """
        grid = self._check_tab(self.grid if grid is None else grid)
        with self._busy(f"Exact {grid} grid…") as show:
            while True:
                done, total = self._exact_step(grid)
                if done == total:
                    return
                show(f"Exact {grid} grid: {done} of {total} cells…")

    def set_prompts(
        self, clean: str, corrupted: str, *, target: Any = None, distractor: Any = None, metric: Optional[str] = None
    ) -> None:
        """Show a new prompt pair (and target, distractor, metric) with one computation;
        raises ``ValueError`` (prompts of different lengths, a distractor equal to the target
        ...) and changes nothing then.

        Examples
        --------
        >>> w = cw.PatchingExplorer(model, "a b c d a b c", "a b c e a b c", target=" d", distractor=" e")
        >>> w.set_prompts("x y z x y", "x y w x y", target=" z", distractor=" w")
        >>> w.differing
        [3]
        """
        metric = self.metric if metric is None else metric
        clean, corrupted, metric, target, distractor = self._validated(
            clean=clean, corrupted=corrupted, metric=metric, target=target, distractor=distractor
        )
        with self._busy("Patching…"):
            results = self._compute(clean, corrupted, metric, target, distractor)
        self._assign_computed(dict(clean=clean, corrupted=corrupted, metric=metric, target=target, distractor=distractor))
        self._show(results, dict(clean=clean, corrupted=corrupted, metric=metric))

    # ---- validation ------------------------------------------------------------------------------

    def _has_grid(self, name: str) -> bool:
        try:
            check_grids(self._adapter, name)
            return True
        except (ValueError, NotImplementedError):
            return False

    def _check_tab(self, grid: str) -> str:
        if grid not in self._tabs:
            raise ValueError(f"grid {grid!r} is not one of this model's grids {self._tabs}")
        return grid

    @traitlets.validate("grid")
    def _valid_grid(self, proposal):
        return self._trait_check(self._check_tab, proposal["value"])

    @traitlets.validate("target", "distractor")
    def _valid_token(self, proposal):
        if proposal["value"] is not None:  # None: the default token
            self._trait_check(self._adapter.to_single_token, proposal["value"])
        return proposal["value"]

    @traitlets.validate("lens_layer")
    def _valid_lens_layer(self, proposal):
        n = self._adapter.n_layers
        return self._trait_check(lambda v: check_int(v, "lens_layer", 0, n), proposal["value"])

    @traitlets.validate("position")
    def _valid_position(self, proposal):
        seq = self._seq
        return self._trait_check(
            lambda v: check_int(v, "position", 0, seq - 1, f" (the prompts have {seq} tokens)"), proposal["value"]
        )

    # ---- computing and showing ---------------------------------------------------------------

    def _compute(self, clean: str, corrupted: str, metric: str, target: Any, distractor: Any) -> dict[str, PatchingResult]:
        """Every tab's attribution grid: one forward and one backward pass in all."""
        return attribution_patching(
            self._adapter, clean, corrupted, metric, at=self._tabs, target=target,
            distractor=distractor if metric == "logit_diff" else None,
        )

    def _show(self, results: dict[str, PatchingResult], inputs: dict[str, str]) -> None:
        """Draw ``results``, computed from ``inputs`` (the prompts and metric, which the exact
        grids then use: a trait set since to a pair that does not fit is not what is shown)."""
        first = results["resid_pre"]  # every model has this grid
        self._results = results
        self._inputs = inputs
        self._partial: dict[str, tuple[torch.Tensor, int]] = {}  # grid -> (values so far, cells done)
        self._seq = seq = len(first.clean_str_tokens)
        clean_ids = self._adapter.to_tokens(inputs["clean"])[0]
        corrupted_ids = self._adapter.to_tokens(inputs["corrupted"])[0]
        with self.hold_sync():
            self._set(
                run_id=self.run_id + 1,
                clean_tokens=first.clean_str_tokens,
                corrupted_tokens=first.corrupted_str_tokens,
                differing=[int(i) for i in (clean_ids != corrupted_ids).nonzero().flatten()],
                target_str=first.target_str or "",
                distractor_str=first.distractor_str or "",
                read_position=int(first.position),
                clean_value=first.clean_metric,
                corrupted_value=first.corrupted_metric,
                approx=PatchingGrids({name: r.values.float() for name, r in results.items()}),
                exact=PatchingGrids(),
                error="",
            )
            if self.position >= seq:
                self.position = seq - 1

    def _exact_step(self, grid: str) -> tuple[int, int]:
        """Compute the next chunk of the exact ``grid``; returns ``(cells done, cells)``.
        The complete grid goes into :attr:`exact`."""
        if grid in self.exact:
            n = self.exact[grid].numel()
            return n, n
        shape = self.approx[grid].shape
        values, done = self._partial.get(grid, (torch.full(shape, float("nan")), 0))
        cells = _cells(shape)
        chunk = cells[done : done + max(1, math.ceil(len(cells) / CHUNKS))]
        r = self._results[grid]
        result = patching(
            self._adapter, self._inputs["clean"], self._inputs["corrupted"], self._inputs["metric"], at=grid, target=r.target,
            distractor=r.distractor, cells=chunk, memory_budget=self._memory_budget,
        )
        for cell in chunk:
            values[cell] = result.values[cell]
        done += len(chunk)
        if done < len(cells):
            self._partial[grid] = (values, done)
        else:
            self._partial.pop(grid, None)
            self._set(exact=self.exact.with_grid(grid, values))
        return done, len(cells)

    @traitlets.observe("clean", "corrupted", "metric", "target", "distractor")
    def _input_changed(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        with self._busy("Patching…"):
            results = self._attempt(
                lambda: self._compute(self.clean, self.corrupted, self.metric, self.target, self.distractor)
            )
        if results is not None:  # else `error` says why, inline, and the last grids stay
            self._show(results, dict(clean=self.clean, corrupted=self.corrupted, metric=self.metric))

    # ---- the browser asks ----------------------------------------------------------------------

    @handles("exact")
    def _exact_request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``{"grid", "run"}`` → the next chunk of that exact grid computed:
        ``{"grid", "run", "done", "total"}`` (the grid itself arrives in ``exact`` when done)."""
        if payload.get("run") != self.run_id:
            raise Stale()
        grid = payload.get("grid")
        if not isinstance(grid, str):
            raise ValueError(f"grid must be a grid name, got {grid!r}")
        done, total = self._exact_step(self._check_tab(grid))
        return {"grid": grid, "run": self.run_id, "done": done, "total": total}
