"""CircuitExplorer: linked views of one model and one text, in one layout.

The dashboard holds ordinary views and shows them side by side; by default these four
(:data:`PANELS`):

* ``w.attention`` — :class:`~circuitwidgets.AttentionExplorer` (every head's pattern on the text),
* ``w.ov`` — :class:`~circuitwidgets.OVBrowser` (what every head writes),
* ``w.lens`` — :class:`~circuitwidgets.LogitLens` (what each layer would predict, who wrote it),
* ``w.induction`` — :class:`~circuitwidgets.InductionScores` (induction, previous-token and
  duplicate-token heads on repeated random tokens).

``panels=`` picks which and in what order, from :data:`ALL_PANELS`: the four, and the optional

* ``w.patching`` — :class:`~circuitwidgets.PatchingExplorer` (activation patching of the text
  against ``corrupted=``, a prompt of as many tokens; ``patching_options=`` passes its other
  arguments, e.g. ``{"target": " d", "distractor": " e", "exact": ["heads"]}``),
* ``w.flow`` — :class:`~circuitwidgets.FlowGraph` (what wrote the last position's prediction),
* ``w.composition`` — :class:`~circuitwidgets.CompositionGraph` (which heads read which),
* ``w.paths`` — :class:`~circuitwidgets.PathExplorer` (one logit as a sum of paths).

A panel is one entry of :data:`_PANEL_VIEWS` (its class and how the dashboard builds it), one
trait and one line of the script's ``PANELS``; a panel not asked for is ``None``.

All of them share one :class:`~circuitwidgets.Selection`, so clicking a head in any of them
moves the other three, in the browser with no kernel round trip, and also in an HTML export.
They are the same objects you would display alone: ``display(w.attention)`` shows the
attention view once more, still linked.

The layout is the browser's business (``js/src/circuit_explorer/index.ts``): the dashboard's model
references the four views' models (their ``IPY_MODEL_`` ids, like a view's ``selection``),
and its JavaScript asks the widget manager for them and draws each with that view's own
code. It needs no ipywidgets ``Box`` or ``jslink``, so it works the same in JupyterLab,
Notebook 7, marimo and a static export. A narrow notebook column stacks the panels; a wide
one tiles them two by two. Each panel collapses with the button in its header
(``w.collapsed`` holds which are collapsed).

Text: ``w.text = "..."`` re-runs the views that take a text — AttentionExplorer and LogitLens
each run the model once (their own passes: the attention view keeps one layer of float32
patterns alive at a time, the lens keeps the residual stream, so sharing one pass would cost
memory rather than save time), and OVBrowser takes the text's tokens as its token map's
defaults. InductionScores keeps scoring repeated random tokens unless switched to its text
mode (``w.induction.mode = "text"``), in which it scores this text too. The patching panel keeps
its prompt pair (a new text would need a new corrupted prompt of its length):
``w.patching.set_prompts(clean, corrupted)`` changes it.

>>> w = cw.CircuitExplorer(model)        # display(w) shows the four views
>>> w.layer, w.head                     # opens on the best induction head
(1, 3)
>>> w.layer, w.head = 0, 1              # every view moves to head 0.1
>>> w.ov.head, w.lens.head, w.induction.head
(1, 1, 1)
>>> w.attention.pattern().shape         # the drawn pattern of that head
torch.Size([25, 25])
>>> w.text = "def f(x):\\n    return x\\ndef f(x):\\n    return"  # re-runs the views
>>> len(w.attention.tokens)
17
>>> w.save_html("circuits.html")        # offline copy, clicks still link
PosixPath('circuits.html')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, NamedTuple

import traitlets
from ipywidgets import widget_serialization

from ..checks import check_int
from .attention_explorer import AttentionExplorer
from .induction_scores import InductionScores
from .logit_lens import LogitLens
from .ov_browser import OVBrowser
from .composition_graph import CompositionGraph
from .flow_graph import FlowGraph
from .patching_explorer import PatchingExplorer
from .path_explorer import PathExplorer
from ._base import InvalidValue
from .selection import SELECTION_FIELDS, LinkedView, Selection

__all__ = ["ALL_PANELS", "CircuitExplorer", "DEFAULT_TEXT", "PANELS"]

#: The text the dashboard starts with when given none: a few lines said twice, so the
#: induction heads of a small code model have something to copy.
DEFAULT_TEXT = "def add(a, b):\n    return a + b\ndef add(a, b):\n    return a +"

#: The default panels, in the order the layout shows them (also the attribute names of the views).
PANELS = ("attention", "ov", "lens", "induction")


class _Panel(NamedTuple):
    """One kind of panel: its view's class and how the dashboard builds it from the adapter,
    the text, the shared selection and the dashboard's panel options."""

    cls: type
    build: Callable[[Any, str, Selection, dict[str, Any]], LinkedView]


def _patching_panel(adapter: Any, text: str, selection: Selection, options: dict[str, Any]) -> LinkedView:
    return PatchingExplorer(adapter, text, options["corrupted"], selection=selection, **options["patching_options"])


#: Every panel a dashboard can show, by name, in the order ``panels=`` lists them by default.
_PANEL_VIEWS: dict[str, _Panel] = {
    "attention": _Panel(AttentionExplorer, lambda a, text, sel, _: AttentionExplorer(a, text, selection=sel)),
    "ov": _Panel(OVBrowser, lambda a, text, sel, _: OVBrowser(a, text, selection=sel)),
    "lens": _Panel(LogitLens, lambda a, text, sel, _: LogitLens(a, text, selection=sel)),
    "induction": _Panel(InductionScores, lambda a, text, sel, _: InductionScores(a, selection=sel)),
    "patching": _Panel(PatchingExplorer, _patching_panel),
    "flow": _Panel(FlowGraph, lambda a, text, sel, _: FlowGraph(a, text, selection=sel)),
    "composition": _Panel(CompositionGraph, lambda a, text, sel, _: CompositionGraph(a, selection=sel)),
    "paths": _Panel(PathExplorer, lambda a, text, sel, _: PathExplorer(a, text, selection=sel)),
}
#: Every panel name ``panels=`` takes: the defaults, then the optional ones.
ALL_PANELS = tuple(_PANEL_VIEWS)

#: The views that take the dashboard's text (OVBrowser: as its token map's defaults).
_TEXT_VIEWS = ("attention", "lens", "ov", "flow", "paths")


def _view_trait(cls: type, help: str) -> traitlets.Instance:
    return traitlets.Instance(cls, allow_none=True, help=help).tag(sync=True, **widget_serialization)


def _field(help: str) -> traitlets.Int:
    return traitlets.Int(None, allow_none=True, help=help)


def _panel_names(value: Any, panels: tuple[str, ...] | list[str] = PANELS, name: str = "collapsed") -> list[str]:
    """``value`` as a list of names from ``panels``, each once: one name (``"ov"``) or a list
    of them; anything else raises ``TraitError`` (a ``ValueError``) naming it and the panels."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise InvalidValue(
            f"{name} must be a panel name or a list of them, got {type(value).__name__} {value!r:.60}; "
            f"the panels are {list(panels)}"
        )
    bad = [n for n in names if n not in panels]
    if bad:
        raise InvalidValue(f"{name} names unknown panels {bad}; the panels are {list(panels)}")
    return list(dict.fromkeys(names))


def _check_panels(panels: Any, corrupted: Any) -> list[str]:
    """``panels=`` checked: names from :data:`ALL_PANELS`, at least one; the patching panel
    with a ``corrupted`` prompt and ``corrupted`` only with it."""
    names = _panel_names(panels, ALL_PANELS, "panels")
    if not names:
        raise ValueError(f"panels is empty; give at least one of {list(ALL_PANELS)}")
    if "patching" in names and corrupted is None:
        raise ValueError(
            "the 'patching' panel needs corrupted=..., a prompt with as many tokens as the text, "
            "to patch the text's activations into"
        )
    if "patching" not in names and corrupted is not None:
        raise ValueError("corrupted= is the patching panel's prompt; add 'patching' to panels= to show it")
    return names


class CircuitExplorer(LinkedView):
    """AttentionExplorer, OVBrowser, LogitLens and InductionScores (and optional panels) on one
    shared selection.

    Parameters
    ----------
    model:
        {MODELS}; the four views share one adapter.
    text:
        The text (default :data:`DEFAULT_TEXT`). Empty, or longer than the model's context:
        ``ValueError`` here; set later through :attr:`text`, the problem shows inline and the
        last good views stay.
    tokens:
        Token ids instead of ``text`` (e.g. ``tokens=[0, 17, 5]``), for a model without a
        tokenizer; the text box then shows them as ``"#0 #17 #5"``
        (:meth:`~circuitwidgets.ModelAdapter.view_text`).
    selection:
        A :class:`~circuitwidgets.Selection` to share with other views (default: a new one).
    collapsed:
        Panels to start collapsed: a name from ``panels`` or a list of them.
    panels:
        The panels to show, in order: names from :data:`ALL_PANELS` (default :data:`PANELS`,
        the four; add ``"patching"`` for a :class:`~circuitwidgets.PatchingExplorer`).
    corrupted:
        The patching panel's corrupted prompt (as many tokens as ``text``); needed with it.
    patching_options:
        The patching panel's other keyword arguments (``target``, ``distractor``, ``metric``,
        ``grid``, ``method``, ``exact``, ``memory_budget``).

    Traits
    ------
    text : str
        Setting it re-runs the views that take a text (see the module docs).
    layer, head, lens_layer, position : int
        The selected head, the logit lens's readout and position: the dashboard always shows
        one of each, so ``None`` is refused (it would leave a panel drawing a default while
        Python and the other panels stay put).
    query, key, token : int or None
        The shared selection's other fields. All are kept equal to ``selection``'s; each is
        checked against the model and the text ("head 7 is out of range; this model has
        heads 0..3").
    selection : Selection
        The shared selection; setting a new one links all four views to it.
    attention, ov, lens, induction, patching
        The panels' views (read-only; ``None`` for a panel not shown).
    panels : list of str
        The panels shown, in layout order (read-only).
    collapsed : list of str
        The collapsed panels (a name, or a list of names; stored as a list).
    error : str
        Why the current ``text`` is not shown ('' when it is).
    model_name, n_layers, n_heads
        The model's name and sizes (read-only).

    Examples
    --------
    >>> w = cw.CircuitExplorer(model, "a b c d a b c d", collapsed=["ov"])
    >>> w.collapsed
    ['ov']
    >>> try:
    ...     w.head = 9                   # refused: a TraitError (and a ValueError)
    ... except traitlets.TraitError as error:
    ...     print(error)
    head 9 is out of range; this model has heads 0..3
    >>> w.head                           # nothing changed
    3
    """

    _bundle = "circuit_explorer"
    _linked = SELECTION_FIELDS
    _settable = ("text", "collapsed")

    # ---- Python-side selection (mirrored into `selection`) ----------------------------------
    layer = traitlets.Int(0, help="The selected layer.")
    head = traitlets.Int(0, help="The selected head.")
    query = _field("Locked query position, or None.")
    key = _field("Locked key position, or None.")
    token = _field("Selected vocabulary token id, or None.")
    lens_layer = traitlets.Int(0, help="The logit lens's readout (0 = embeddings ... n_layers = final).")
    position = traitlets.Int(0, help="The logit lens's position.")

    # ---- synced to the browser ---------------------------------------------------------------
    text = traitlets.Unicode(help="The input text; setting it re-runs the views that take one.").tag(sync=True)
    model_name = traitlets.Unicode().tag(sync=True)
    n_layers = traitlets.Int().tag(sync=True)
    n_heads = traitlets.Int().tag(sync=True)
    collapsed = traitlets.Any([], help="Collapsed panels (names from panels), as a list.").tag(sync=True)
    panels = traitlets.List(traitlets.Unicode(), help="The panels shown, in layout order.").tag(sync=True)
    attention = _view_trait(AttentionExplorer, "The attention view.")
    ov = _view_trait(OVBrowser, "The OV-circuit view.")
    lens = _view_trait(LogitLens, "The logit-lens view.")
    induction = _view_trait(InductionScores, "The head-scores view.")
    patching = _view_trait(PatchingExplorer, "The activation-patching view (panels=[..., 'patching']).")
    flow = _view_trait(FlowGraph, "The flow graph of the last position (panels=[..., 'flow']).")
    composition = _view_trait(CompositionGraph, "The composition graph (panels=[..., 'composition']).")
    paths = _view_trait(PathExplorer, "The path expansion of one logit (panels=[..., 'paths']).")

    def __init__(
        self,
        model: Any,
        text: str | None = None,
        *,
        tokens: Any = None,
        selection: Selection | None = None,
        collapsed: str | tuple[str, ...] | list[str] = (),
        panels: tuple[str, ...] | list[str] = PANELS,
        corrupted: str | None = None,
        patching_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        self._prepare(model, kwargs)
        self._panels = _check_panels(panels, corrupted)
        text = self._adapter.view_text(text, tokens, required=False)
        text = DEFAULT_TEXT if text is None else text
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        # close() closes what the dashboard made, never a selection passed in
        self._made_selection = Selection() if selection is None else None
        selection = self._made_selection or selection
        self._seq_len = self._adapter.to_tokens(text).shape[-1]  # a bad text raises here
        options = dict(corrupted=corrupted, patching_options=dict(patching_options or {}))
        # InductionScores first: on an empty selection it selects the best induction head, so
        # the dashboard opens on a head with a story.
        order = sorted(self._panels, key=lambda name: name != "induction")
        views = {name: _PANEL_VIEWS[name].build(self._adapter, text, selection, options) for name in order}
        super().__init__(
            text=text,
            model_name=self._adapter.name,
            n_layers=self._adapter.n_layers,
            n_heads=self._adapter.n_heads,
            selection=selection,
            panels=self._panels,
            collapsed=collapsed,
            **views,
            **kwargs,
        )
        self._start_linking()
        for name in ("attention", "lens", "flow", "paths"):  # typing in a view's own text box moves them all
            if name in self._panels:
                getattr(self, name).observe(self._view_text_changed, names="text")

    # ---- public -------------------------------------------------------------------------------

    @property
    def views(self) -> dict[str, LinkedView]:
        """The views by panel name, in layout order (:attr:`panels`).

        >>> list(cw.CircuitExplorer(model).views)
        ['attention', 'ov', 'lens', 'induction']
        >>> w = cw.CircuitExplorer(model, "a b c d a b c", panels=["attention", "patching"],
        ...                        corrupted="a b c e a b c", patching_options={"target": " d", "distractor": " e"})
        >>> list(w.views), w.patching.differing
        (['attention', 'patching'], [4])
        """
        return {name: getattr(self, name) for name in self._panels}

    def close(self) -> None:
        """Close the dashboard and what it made: its views and, unless you passed one
        in, its selection. A selection you passed stays open for your other views.

        >>> w = cw.CircuitExplorer(model)
        >>> w.close()
        >>> w.attention.comm is None
        True
        """
        for name in ALL_PANELS:  # (a dashboard whose constructor failed has fewer)
            view = self._trait_values.get(name)  # (reading an unset view trait would raise)
            if view is not None:
                view.close()
        if getattr(self, "_made_selection", None) is not None:
            self._made_selection.close()
        super().close()

    def save_html(self, path: str | Path, *, title: str | None = None, full_resolution: bool = False) -> Path:
        """Write the dashboard as one offline HTML file; returns ``path``.

        The file works from ``file://`` with no network and no kernel: every view draws,
        clicking links them; editing the text is disabled (the page says so). Its size is
        ``path.stat().st_size``; :func:`circuitwidgets.widgets.export_sizes` breaks it down.

        By default the file is bounded by what is on screen, as each view's own export is:
        the attention thumbnails of every head, full patterns of every head only while they
        take at most 8 MiB (``AUTO_EXPORT_BYTES``; else the selected head, others drawn from
        their thumbnail as a preview), InductionScores likewise (else the selected and the
        listed top heads), every head's OV spectrum (small), the token-map answers and the
        logit-lens attribution of what is selected. About 3.8 MB of it is the widget manager
        and loader, the same for every export.

        ``full_resolution=True`` embeds the full pattern of every head in both attention
        views whatever the size: ``2 x n_layers x n_heads x seq² x 2`` bytes before base64
        (which adds a third) — for GPT-2 small at 512 tokens about 100 MB more, see
        BENCHMARKS.md. Token maps and attributions stay as they are (they need the kernel to
        answer new questions at any resolution).

        >>> w = cw.CircuitExplorer(model)
        >>> w.save_html("all-heads.html", full_resolution=True)
        PosixPath('all-heads.html')
        """
        from ._export import write_html

        if not isinstance(full_resolution, bool):
            raise TypeError(f"full_resolution must be True or False, got {full_resolution!r}")
        options = {"heads": "all" if full_resolution else "auto", "every_head": full_resolution}
        return write_html(self, path, title=title, options=options)

    # ---- validation ------------------------------------------------------------------------------

    def _check_position(self, name: str, value: int | None) -> int | None:
        if value is None:
            return None
        seq = self._seq_len
        return self._trait_check(
            lambda v: check_int(v, name, 0, seq - 1, f" (this text has {seq} tokens)"), value
        )

    @traitlets.validate("query", "key", "position")
    def _valid_position(self, proposal):
        return self._check_position(proposal["trait"].name, proposal["value"])

    @traitlets.validate("lens_layer")
    def _valid_lens_layer(self, proposal):
        value = proposal["value"]
        n = self._adapter.n_layers
        return None if value is None else self._trait_check(lambda v: check_int(v, "lens_layer", 0, n), value)

    @traitlets.validate("token")
    def _valid_token(self, proposal):
        value = proposal["value"]
        return None if value is None else self._trait_check(self._adapter.to_single_token, value)

    @traitlets.validate("collapsed")
    def _valid_collapsed(self, proposal):
        return _panel_names(proposal["value"], self._panels)

    # ---- text and selection go to every view ----------------------------------------------------

    @traitlets.observe("text")
    def _text_changed(self, change: dict[str, Any]) -> None:
        if not getattr(self, "_linking", False):
            return  # __init__: the views were built with this text
        # A text the model cannot read (empty, past its context) goes to no view: the OV
        # panel (which would take a long text's tokens) stays on the text the others show.
        tokens = self._attempt(lambda: self._adapter.to_tokens(change["new"]))
        if tokens is None:
            return
        self._seq_len = tokens.shape[-1]
        shown = [name for name in _TEXT_VIEWS if name in self._panels]
        for name in shown:
            getattr(self, name).text = change["new"]
        if "induction" in self._panels:
            self.induction.text = change["new"]  # scored only in its text mode
        self._set(error=next((getattr(self, n).error for n in shown if getattr(self, n).error), ""))

    def _view_text_changed(self, change: dict[str, Any]) -> None:
        self.text = change["new"]

    @traitlets.observe("selection")
    def _relink_views(self, change: dict[str, Any]) -> None:
        if not getattr(self, "_linking", False):
            return
        for view in self.views.values():
            view.selection = change["new"]

    def _read_only_message(self, name: str, value: Any) -> str:
        if name in ALL_PANELS:
            return f"{name} is one of the dashboard's own views and cannot be replaced"
        return super()._read_only_message(name, value)

    @traitlets.validate(*ALL_PANELS)
    def _views_fixed(self, proposal):
        if getattr(self, "_linking", False):  # set_trait (the browser's path) comes here
            raise traitlets.TraitError(self._read_only_message(proposal["trait"].name, proposal["value"]))
        return proposal["value"]
