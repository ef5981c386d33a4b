"""The shared selection: one small widget model that every view reads and writes.

A :class:`Selection` holds *what the user is looking at* — a layer, a head, a query and a key
position, a vocabulary token, a logit-lens layer, a position — and nothing else: it knows no
model, so any views can share it. Every view has a ``selection`` trait; views that share one
follow each other. In the browser each view listens to the selection model directly
(``js/src/kit/selection.ts``), so a click in one view moves the others with no round trip to
the kernel, and this also works in a static HTML export, where there is no kernel.

Python side, a view keeps its own plain traits (``w.layer``, ``w.head`` ...) equal to the
selection's, so ``w.head``, ``w.head = 3`` and ``w.observe(callback, "head")`` all work. The
view checks the values against *its* model ("head 12 is out of range; this model has heads
0..11"). A value set on the shared selection that a view's model does not have (a head that
only a bigger model has) is ignored by that view, which keeps showing what it showed.

A selection can also hold a *pair* of heads (``pair``: writer layer, writer head, reader layer,
reader head), e.g. an edge of the composition graph or a path through two heads: the reading
head is then the selected ``layer``/``head`` and every view that shows heads marks the writing
head too (AttentionExplorer draws both patterns side by side). The pair lasts while the
reading head is selected: selecting any other head clears it, here and in the browser
(``js/src/kit/selection.ts`` applies the same rule).
"""

from __future__ import annotations

from typing import Any, ClassVar

import traitlets
from ipywidgets import widget_serialization

import anywidget

from ..checks import check_pair
from ._base import CircuitWidget, ClosesItsLayout, InvalidType, InvalidValue
from ._bundles import read_bundle

__all__ = ["Selection", "LinkedView", "SELECTION_FIELDS", "PAIR_FIELD", "PairTrait", "link"]

#: Every one-number field of a selection, in the order the browser and the docs list them.
SELECTION_FIELDS = ("layer", "head", "query", "key", "token", "lens_layer", "position")
#: The field holding a pair of heads (``[]`` or four ints), beside :data:`SELECTION_FIELDS`.
PAIR_FIELD = "pair"


class PairTrait(traitlets.Any):
    """A pair of heads: ``[]`` or four ints, checked by the owner's ``@validate("pair")``
    (:func:`~circuitwidgets.checks.check_pair`); unlike a plain ``Any`` it refuses ``None``
    through that check too, with the same message."""

    allow_none = False


def _field(help: str) -> traitlets.Int:
    return traitlets.Int(None, allow_none=True, min=0, help=help).tag(sync=True)


class Selection(ClosesItsLayout, anywidget.AnyWidget):
    """What the user is looking at, shared by any number of views.

    Every field is a non-negative ``int`` or ``None`` (nothing selected). The views that use
    a field check its upper bound against their own model or text.

    Traits
    ------
    layer, head : int or None
        The selected attention head (AttentionExplorer, OV browser, induction scores).
    query, key : int or None
        A locked query / key position in the text (None: not locked).
    token : int or None
        A vocabulary token id (OV token map, logit-lens target).
    lens_layer : int or None
        The logit lens's layer (``0`` = embeddings ... ``n_layers`` = final).
    position : int or None
        A position in the text that is not a query/key (the logit lens's column).
    pair : list of int
        ``[]`` (no pair) or ``[writer layer, writer head, reader layer, reader head]``, the
        writer in an earlier layer: two heads selected together (an edge of the composition
        graph, a two-head path). Setting it selects the reading head (``layer``, ``head``);
        selecting another head clears it. A bad pair raises ``TraitError`` naming it.

    Displayed on its own it shows a one-line summary, handy when debugging a layout.

    Examples
    --------
    >>> sel = cw.Selection()
    >>> a = cw.AttentionExplorer(model, "a b c a b c", selection=sel)
    >>> b = cw.InductionScores(model, selection=sel)
    >>> a.layer, a.head = 1, 3              # b follows, in Python and in the browser
    >>> sel.layer, sel.head, b.layer, b.head
    (1, 3, 1, 3)
    >>> sel.head = 0                        # or move the selection itself
    >>> a.head, b.head
    (0, 0)
    >>> sel.pair = [0, 1, 1, 3]             # two heads: the reading one is selected
    >>> sel.layer, sel.head, a.pair
    (1, 3, [0, 1, 1, 3])
    >>> sel.head = 2                        # another head: the pair is cleared
    >>> sel.pair
    []
    """

    layer = _field("The selected layer.")
    head = _field("The selected head (of the selected layer).")
    query = _field("Locked query position, or None.")
    key = _field("Locked key position, or None.")
    token = _field("Selected vocabulary token id, or None.")
    lens_layer = _field("The logit lens's layer (0 = embeddings), or None.")
    position = _field("Selected text position (logit lens), or None.")
    pair = PairTrait([], help="[] or [writer layer, writer head, reader layer, reader head].").tag(sync=True)

    def __init__(self, **kwargs: Any):
        self._esm, self._css = read_bundle("selection")
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in (*SELECTION_FIELDS, PAIR_FIELD))
        return f"Selection({fields})"

    @traitlets.validate("pair")
    def _valid_pair(self, proposal):
        try:
            return check_pair(proposal["value"])
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None
        except TypeError as exc:
            raise InvalidType(str(exc)) from None

    @traitlets.observe("pair")
    def _pair_selected(self, change: dict[str, Any]) -> None:
        pair = change["new"]
        if pair and (self.layer, self.head) != (pair[2], pair[3]):
            with self.hold_trait_notifications(), self.hold_sync():  # never the new layer with the old head
                self.layer, self.head = pair[2], pair[3]

    @traitlets.observe("layer", "head")
    def _head_selected(self, change: dict[str, Any]) -> None:
        if self.pair and (self.layer, self.head) != (self.pair[2], self.pair[3]):
            self.pair = []  # another head was chosen: the pair no longer holds


class LinkedView(CircuitWidget):
    """A view whose plain traits named in ``_linked`` follow its ``selection``.

    Subclasses declare each linked name as an ordinary (not synced) trait with a
    ``@validate`` that checks it against their model, and list it in ``_linked``::

        class MyView(LinkedView):
            _linked = ("layer", "head")
            layer = traitlets.Int(0)
            head = traitlets.Int(0)

    Setting ``view.head`` validates and writes the shared selection; a change of the
    selection (from Python, another view, or a click in the browser) sets ``view.head`` when
    the value is valid here and is ignored otherwise. Replacing ``view.selection`` links the
    view to the new selection and adopts its values (where valid here); fields the new
    selection leaves at ``None`` (or ``[]``) are filled from this view.

    A view that shows pairs of heads lists ``"pair"`` in ``_linked`` too (a ``PairTrait([])``
    checked against its model here); a pair its model lacks makes it show none (``[]``), and
    the shared selection keeps the pair for the views that can show it.
    """

    _linked: ClassVar[tuple[str, ...]] = ()

    selection = traitlets.Instance(Selection, help="The shared selection this view follows.").tag(
        sync=True, **widget_serialization
    )

    @traitlets.default("selection")
    def _default_selection(self) -> Selection:
        return Selection()

    # ---- checks every linked view shares (each view has a model adapter in ``_adapter``) ----

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        value = proposal["value"]
        return value if value is None else self._trait_check(self._adapter.check_layer, value)

    @traitlets.validate("head")
    def _valid_head(self, proposal):
        value = proposal["value"]
        return value if value is None else self._trait_check(self._adapter.check_head, value)

    @traitlets.validate("pair")
    def _valid_pair(self, proposal):
        adapter = self._adapter
        return self._trait_check(lambda p: check_pair(p, adapter.n_layers, adapter.n_heads), proposal["value"])

    def select(self, layer: int, head: int) -> None:
        """Select head ``layer.head``, sending layer and head to the browser in one message
        (never the new layer with the old head, which that layer may not have).

        >>> w = cw.InductionScores(model)
        >>> w.select(0, 1)
        >>> w.layer, w.head, w.selection.head
        (0, 1, 1)
        """
        self._adapter.check_layer(layer)
        self._adapter.check_head(head)
        with self.selection.hold_sync():
            self.layer, self.head = layer, head

    def _link_selection(self, selection: Selection, previous: Selection | None = None) -> None:
        """Follow ``selection`` (and stop following ``previous``); adopt its valid values."""
        if previous is not None:
            previous.unobserve(self._from_selection, names=list(self._linked))
        for name in self._linked:
            value = getattr(selection, name)
            if name == PAIR_FIELD and value != []:
                self._from_selection({"name": name, "new": value})  # a pair this view lacks: it shows none
            elif value is None or value == [] or not self._adopt(name, value):
                self._to_selection({"name": name, "new": getattr(self, name)})  # filled from this view
        selection.observe(self._from_selection, names=list(self._linked))

    def _adopt(self, name: str, value: Any) -> bool:
        try:
            setattr(self, name, value)
            return True
        except (traitlets.TraitError, ValueError, TypeError):
            return False  # not valid for this view's model: keep what it shows

    def _from_selection(self, change: dict[str, Any]) -> None:
        name = change["name"]
        if self._adopt(name, change["new"]) or name != PAIR_FIELD or getattr(self, name) == []:
            return
        # A pair this model lacks (its heads exist only in a bigger model): show none, and
        # leave the shared selection's pair to the views that can show it.
        self._following = True
        try:
            setattr(self, name, [])
        finally:
            self._following = False

    def _to_selection(self, change: dict[str, Any]) -> None:
        name = change["name"]
        if getattr(self, "_following", False):
            return
        if name in self._linked and getattr(self.selection, name) != change["new"]:
            setattr(self.selection, name, change["new"])

    @traitlets.observe("selection")
    def _selection_replaced(self, change: dict[str, Any]) -> None:
        if not getattr(self, "_linking", False):
            return  # still in __init__: _start_linking links the final selection
        self._link_selection(change["new"], change["old"] if isinstance(change["old"], Selection) else None)

    def _start_linking(self, **first: Any) -> None:
        """Call once at the end of the subclass's ``__init__``: links to the selection given
        (or the default one), from then on mirrors every linked trait into it, and selects
        the values in ``first`` that are not None (e.g. the constructor's ``layer=``,
        ``head=``), checked by their traits and sent to the browser in one message."""
        self._link_selection(self.selection)
        self.observe(self._to_selection, names=list(self._linked))
        self._linking = True
        with self.selection.hold_sync():
            for name, value in first.items():
                if value is not None:
                    setattr(self, name, value)


def link(*views: LinkedView, selection: Selection | None = None) -> Selection:
    """Make ``views`` share one selection, wherever and whenever they are displayed.

    Each view's ``selection`` is replaced by ``selection`` (default: the first view's), so
    the views follow each other from then on: a click in one moves the others in the
    browser (no kernel round trip; views already on screen switch over at once), and setting
    ``view.head`` in Python moves them all. Each view adopts the selection's values that are
    valid for its own model and text. Returns the shared selection.

    Views of different models can share a selection: a value one model lacks (head 11 of a
    4-head model) is ignored by that view.

    >>> attention = cw.AttentionExplorer(model, "a b c d a b c d")
    >>> scores = cw.InductionScores(model)
    >>> sel = cw.link(attention, scores)    # display them in any cells
    >>> scores.layer, scores.head = 1, 3    # attention shows head 1.3 too
    >>> (attention.layer, attention.head, sel.head)
    (1, 3, 3)
    """
    if not views:
        raise TypeError("link() needs at least one view, e.g. link(explorer, scores)")
    for position, view in enumerate(views):
        if not isinstance(view, LinkedView):
            raise TypeError(
                f"link() links circuitwidgets views (AttentionExplorer, OVBrowser, LogitLens, "
                f"InductionScores, CircuitExplorer); argument {position} is {type(view).__name__} {view!r:.60}"
            )
    if selection is None:
        selection = views[0].selection
    elif not isinstance(selection, Selection):
        raise TypeError(f"selection must be a circuitwidgets.Selection, got {type(selection).__name__}")
    for view in views:
        view.selection = selection
    return selection
