"""CompositionGraph: which heads read what earlier heads write (Q-, K- and V-composition).

Every head is a node, the layers are columns; an edge joins a head in layer ``i`` to a head in
a later layer ``j`` when the later head's queries, keys or values read the earlier head's
output more than random heads would: its composition score (the Framework paper's
``‖W_OV¹ W²‖_F / (‖W_OV¹‖_F ‖W²‖_F)``) minus the score random heads of the same shapes give,
which the view computes (:func:`~circuitwidgets.analysis.composition_baseline`) and states.
All numbers come from :func:`~circuitwidgets.analysis.head_composition`.

Two tabs:

* **Graph** -- the nodes and the edges above the threshold (the slider prunes them in the
  browser, with no kernel round trip; at most :data:`MAX_EDGES`, the strongest), their width
  the excess, their colour the kind (Q, K, V; ``"all"`` draws every kind). Click a head to
  select it; click an edge (or one in the list of strongest pairs) to select the pair.
* **Matrix** -- the same numbers as a heads x heads heatmap: rows read, columns write; for
  ``"all"`` each cell is the largest excess of the three kinds.

The selected head is the shared :class:`~circuitwidgets.Selection`'s ``layer``/``head``, the
selected pair its ``pair`` (writer layer, writer head, reader layer, reader head): a click on
an edge puts both heads into the selection, so every linked view marks both (the reading head
is the selected one; a linked AttentionExplorer draws the writer's and the reader's patterns
side by side); a click on a head selects that head alone and clears the pair.

Rotary models: Q- and K-composition use the positionless ``W_Q W_Kᵀ``; the view says it is an
approximation (``approximation``).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import traitlets

from ..analysis import head_composition
from ..analysis.composition import EDGE_KINDS, CompositionEdge, HeadComposition, check_threshold
from ..checks import check_choice
from ._transport import BinaryArray
from .selection import LinkedView, PairTrait, Selection

__all__ = ["CompositionGraph", "MAX_EDGES", "default_threshold"]

#: The most edges the graph draws (the strongest); more would hide each other.
MAX_EDGES = 300
#: The default threshold is this many standard deviations of random heads' score.
DEFAULT_SIGMAS = 3.0


def default_threshold(comp: HeadComposition) -> float:
    """Where the graph's threshold starts: :data:`DEFAULT_SIGMAS` standard deviations of the
    random heads' score (so only pairs that compose clearly beyond chance are drawn), rounded
    up to the slider's 0.005 steps.

    >>> comp = analysis.head_composition(model)
    >>> default_threshold(comp)
    0.01
    """
    step = 0.005
    return round(step * -(-DEFAULT_SIGMAS * comp.baseline_std // step), 3)


class CompositionGraph(LinkedView):
    """Every head pair's Q-, K- or V-composition beyond chance, as a graph and a matrix.

    Parameters
    ----------
    model:
        {MODELS}. Only its weights are read.
    kind:
        ``"K"`` (default), ``"Q"``, ``"V"`` or ``"all"``: which composition the edges show.
    threshold:
        Edges are drawn for pairs whose score minus the baseline is above it (in [-1, 1];
        default :func:`default_threshold`).
    selection:
        A :class:`~circuitwidgets.Selection` to share with other views (default: a new one).
    layer, head:
        The head to select first (default: the selection's, else 0, 0).
    pair:
        A pair to select first: ``(writer layer, writer head, reader layer, reader head)``.

    Traits
    ------
    kind : str
        ``"Q"``, ``"K"``, ``"V"`` or ``"all"``; the kind switch.
    threshold : float
        The slider; a bad value raises ``TraitError`` naming it and [-1, 1], and nothing changes.
    pair : list of int
        ``[]`` or ``[writer layer, writer head, reader layer, reader head]`` (the writer in an
        earlier layer): the selected edge, kept equal to ``selection.pair`` (setting it selects
        the reading head; selecting another head clears it).
    layer, head : int
        The selected head, kept equal to ``selection.layer`` / ``selection.head``.
    excess : tensor
        Read-only: ``[3, n_layers, n_heads, n_layers, n_heads]``, score minus baseline for
        Q, K, V (0 where the writer is not earlier), sent as float32.
    baseline, baseline_std, draws, approximation
        Read-only: the random heads' mean score and its spread, how many pairs were drawn,
        and '' or the sentence saying the scores are approximate (rotary models).
    model_name, n_layers, n_heads, max_edges
        Read-only: the model's name and sizes, the most edges drawn.

    Examples
    --------
    >>> w = cw.CompositionGraph(model)           # in a notebook, `w` on its own draws it
    >>> w.edges()[0]                             # the strongest K-composition
    CompositionEdge(writer_layer=0, writer_head=1, reader_layer=1, reader_head=3, kind='K', excess=0.071...)
    >>> w.threshold = 0.065; len(w.edges())      # what the slider does in the browser
    2
    >>> w.select_pair(0, 1, 1, 3)                # as a click on that edge does
    >>> w.selection.pair, (w.selection.layer, w.selection.head)
    ([0, 1, 1, 3], (1, 3))
    """

    _bundle = "composition_graph"
    _linked = ("layer", "head", "pair")
    _settable = ("kind", "threshold")

    layer = traitlets.Int(0, help="The selected layer.")
    head = traitlets.Int(0, help="The selected head.")

    kind = traitlets.Unicode("K", help="'Q', 'K', 'V' or 'all': which composition the edges show.").tag(sync=True)
    threshold = traitlets.Float(0.0, help="Edges are pairs whose score minus the baseline is above this.").tag(sync=True)
    pair = PairTrait([], help="[] or [writer layer, writer head, reader layer, reader head].")

    model_name = traitlets.Unicode().tag(sync=True)
    n_layers = traitlets.Int().tag(sync=True)
    n_heads = traitlets.Int().tag(sync=True)
    max_edges = traitlets.Int(MAX_EDGES).tag(sync=True)
    #: float32 [3, n_layers, n_heads, n_layers, n_heads]: Q, K, V score minus baseline.
    excess = BinaryArray("float32").tag(sync=True)
    baseline = traitlets.Float().tag(sync=True)
    baseline_std = traitlets.Float().tag(sync=True)
    draws = traitlets.Int().tag(sync=True)
    approximation = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        model: Any,
        *,
        kind: str = "K",
        threshold: Optional[float] = None,
        selection: Selection | None = None,
        layer: int | None = None,
        head: int | None = None,
        pair: Optional[Sequence[int]] = None,
        **kwargs: Any,
    ):
        adapter = self._prepare(model, kwargs, selection=selection)
        (kind,) = self._validated(kind=kind)
        if threshold is not None:
            self._validated(threshold=threshold)
        result = head_composition(adapter)
        self._result = result
        super().__init__(
            kind=kind,
            threshold=default_threshold(result) if threshold is None else threshold,
            model_name=adapter.name,
            n_layers=adapter.n_layers,
            n_heads=adapter.n_heads,
            excess=result.excess,
            baseline=result.baseline,
            baseline_std=result.baseline_std,
            draws=result.draws,
            approximation=result.approximation or "",
            **kwargs,
        )
        self._start_linking(layer=layer, head=head, pair=pair)

    # ---- public -------------------------------------------------------------------------------

    @property
    def result(self) -> HeadComposition:
        """The :class:`~circuitwidgets.analysis.HeadComposition` on screen (every kind).

        Examples
        --------
        >>> w = cw.CompositionGraph(model)
        >>> w.result.of("K").shape
        torch.Size([2, 4, 2, 4])
        """
        return self._result

    def edges(self, kind: Optional[str] = None, threshold: Optional[float] = None) -> list[CompositionEdge]:
        """The edges the graph draws (default: for its ``kind`` and ``threshold``), strongest
        first, at most :data:`MAX_EDGES` (:meth:`HeadComposition.edges`).

        Examples
        --------
        >>> w = cw.CompositionGraph(model, kind="all")
        >>> sorted({e.kind for e in w.edges(threshold=-1.0)})   # every scored pair
        ['K', 'Q', 'V']
        """
        kind = self.kind if kind is None else kind
        threshold = self.threshold if threshold is None else threshold
        return self._result.edges(kind, threshold, limit=MAX_EDGES)

    def select_pair(self, writer_layer: int, writer_head: int, reader_layer: int, reader_head: int) -> None:
        """Select the pair (as a click on its edge does): the shared selection's ``pair`` holds
        both heads, its ``layer``/``head`` the reading one.

        >>> w = cw.CompositionGraph(model)
        >>> w.select_pair(0, 1, 1, 3)
        >>> w.pair, w.layer, w.head, w.selection.pair
        ([0, 1, 1, 3], 1, 3, [0, 1, 1, 3])
        """
        self.pair = [writer_layer, writer_head, reader_layer, reader_head]

    # ---- checks -------------------------------------------------------------------------------

    @traitlets.validate("kind")
    def _valid_kind(self, proposal):
        return self._trait_check(lambda k: check_choice(k, "kind", EDGE_KINDS), proposal["value"])

    @traitlets.validate("threshold")
    def _valid_threshold(self, proposal):
        return self._trait_check(check_threshold, proposal["value"])
