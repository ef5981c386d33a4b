"""What every circuitwidgets view shares: its bundled front end, the constructor preamble, one
way to set and refuse traits, an inline error, a busy line, HTML export and PNG/SVG pictures.

A view is an ``anywidget.AnyWidget`` whose ES module and CSS are the files ``npm run build``
wrote for it (``static/<view>.js``/``.css``, see :mod:`._bundles`). A subclass names its
bundle, declares its traits, and says which public ones a user may set (``_settable``; a
:class:`~.selection.LinkedView`'s ``_linked`` ones are settable too)::

    class TokenView(CircuitWidget):
        _bundle = "token_view"          # js/src/token_view/index.ts
        _settable = ("text",)
        text = traitlets.Unicode().tag(sync=True)
        tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)   # set by the view

        def __init__(self, model, text, **kwargs):
            adapter = self._prepare(model, kwargs)          # the preamble, see below
            ...
            super().__init__(**kwargs)
            self._set(tokens=[...])                         # what the view itself sets

Every settable trait is checked by a traitlets ``@validate`` that the constructor goes through
too (one path: the constructor passes its arguments to the traits), so a bad value raises
``TraitError`` naming the value and the valid range, and the view keeps its state. Every other
public trait (``tokens``, ``n_layers``, ``probs`` ...) is the view's own output: assigning it
from outside raises ``TraitError`` saying it is read-only and which traits can be set; the view
itself writes them with :meth:`CircuitWidget._set`.

Bad input the user can fix (an empty text, a text longer than the model's context) does not
raise out of a trait change: :meth:`CircuitWidget._attempt` catches the ``ValueError``, puts
its message in the ``error`` trait, which the view shows inline above its last good drawing,
and leaves the data traits untouched.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator, TypeVar

import anywidget
import torch
import traitlets

from . import _cells
from ..checks import check_int
from ..model import ModelAdapter, as_adapter, from_hugging_face
from ._bundles import read_bundle
from ._payloads import PatternBank

__all__ = ["CircuitWidget", "InvalidValue", "InvalidType", "PASS_THROUGH", "check_model_device", "MAX_K"]

T = TypeVar("T")

#: Keyword arguments every view passes on to ipywidgets, besides its own.
#: What a view says when the run for a new text was interrupted (the text is kept: edit it
#: to run again).
INTERRUPTED = "Interrupted: the view still shows the previous text's results; edit the text to run it again."

PASS_THROUGH = ("layout", "tabbable", "tooltip")
#: The largest ``k`` (top tokens per row or per hover card) any view lists: more does not fit
#: on a screen (a 100-line hover card is already taller than a laptop's).
MAX_K = 100
_WIDGET_TRAITS = frozenset(anywidget.AnyWidget.class_trait_names())


class InvalidValue(traitlets.TraitError, ValueError):
    """A value refused by a view's trait: out of range, or not one of the choices. Both a
    ``TraitError`` (what traitlets raises on assignment) and a ``ValueError`` (what a bad
    constructor argument raises), since the constructor goes through the same check."""


class InvalidType(traitlets.TraitError, TypeError):
    """A value of the wrong type refused by a view's trait (a ``TraitError`` and a ``TypeError``)."""


def check_model_device(adapter: ModelAdapter) -> ModelAdapter:
    """``adapter`` if its weights hold numbers; a model on torch's ``meta`` device (built with
    ``torch.device("meta")`` or ``init_empty_weights``, weights not loaded) raises ``ValueError``
    saying what to do, instead of torch's bare "Cannot copy out of meta tensor"."""
    if adapter.device.type == "meta":
        raise ValueError(
            f"the model {adapter.name!r} is on the 'meta' device: its weights were never loaded, "
            "so there is nothing to compute with. Load real weights (e.g. "
            "HookedTransformer.from_pretrained(...) or TransformerBridge.boot_transformers(...) "
            "without a meta device, or model.to_empty(device='cpu') and then load a state dict)"
        )
    return adapter


class ClosesItsLayout:
    """Mixin for a DOM widget whose ``close()`` also closes the ``Layout`` widget ipywidgets
    made for it, so a re-run cell's old widget leaves nothing behind in the kernel."""

    def close(self) -> None:
        """Close the widget and its ``Layout`` widget.

        >>> view = cw.TokenView(model, "a b c")
        >>> view.close()
        >>> view.comm is None
        True
        """
        layout = self._trait_values.get("layout")  # read without creating one
        super().close()
        if layout is not None:
            layout.close()


#: What a view's ``model`` may be, written once: a view's docstring says ``{MODELS}`` where its
#: ``model`` parameter starts (indented as a parameter's text), and the class gets this.
MODELS = (
    "A TransformerLens ``HookedTransformer`` or ``TransformerBridge``, a\n"
    "        :class:`~circuitwidgets.ModelAdapter`, an ``nnsight.LanguageModel`` loaded with eager\n"
    "        attention (docs/nnsight.md) or, on TransformerLens 4, a ``transformers`` causal LM with\n"
    "        ``tokenizer=`` (docs/models.md)"
)


class CircuitWidget(ClosesItsLayout, anywidget.AnyWidget):
    """Base class of the circuitwidgets views (not displayed by itself)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__doc__ and "{MODELS}" in cls.__doc__:
            cls.__doc__ = cls.__doc__.replace("{MODELS}", MODELS)

    #: The view's bundle: ``js/src/<_bundle>.ts`` → ``circuitwidgets/static/<_bundle>.js``.
    _bundle: ClassVar[str]
    #: Public traits a user (or the browser) may set; every other public trait is read-only.
    _settable: ClassVar[tuple[str, ...]] = ()

    error = traitlets.Unicode(
        "", help="Why the last input could not be shown ('' when it was); the view shows it inline."
    ).tag(sync=True)

    #: True only inside a static HTML export (set by :func:`save_html` in the exported state,
    #: never on a live widget): there is no kernel, so the view disables what needs one.
    _static = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs):
        bundle = getattr(type(self), "_bundle", None)
        if not bundle:
            raise TypeError(f"{type(self).__name__} must name its JavaScript bundle in `_bundle`")
        # Plain attributes before HasTraits.__init__: AnyWidget turns them into the synced
        # `_esm`/`_css` traits (raises FileNotFoundError naming `npm run build` if missing).
        self._esm, self._css = read_bundle(bundle)
        super().__init__(**kwargs)
        self._sealed = True  # from here on, read-only traits refuse outside assignment
        _cells.made(self)  # closed when the cell that made it runs again (see _cells)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # displayed: what it shows is computed after this cell, for a page without a kernel
        _cells.shown(self)
        return super()._repr_mimebundle_(**kwargs)


    # ---- the constructor preamble -----------------------------------------------------------

    def _prepare(self, model: Any, kwargs: dict[str, Any], **given: Any) -> ModelAdapter:
        """What every view's constructor does first: refuse unknown keyword arguments
        (``TypeError`` naming the valid ones), adapt ``model`` (``TypeError`` for anything
        that is not a TransformerLens model), refuse a model without weights (``meta``
        device), and put the arguments in ``given`` that are not ``None`` into ``kwargs``
        for the traits (e.g. ``selection=...``). A plain Hugging Face model is wrapped once
        (:func:`~circuitwidgets.model.from_hugging_face`) with the ``tokenizer=`` keyword every
        view takes. Sets and returns ``self._adapter``."""
        tokenizer = kwargs.pop("tokenizer", None)
        self._check_keywords(kwargs)
        if tokenizer is not None:
            model = from_hugging_face(model, tokenizer)
        self._adapter = check_model_device(as_adapter(model))
        kwargs.update({name: value for name, value in given.items() if value is not None})
        return self._adapter

    @classmethod
    def _keywords(cls) -> list[str]:
        """The keyword arguments the constructor takes: its own parameters, then ipywidgets'."""
        own = [
            name for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        ]
        return own + ["tokenizer"] + list(PASS_THROUGH)

    def _check_keywords(self, kwargs: dict[str, Any]) -> None:
        valid = self._keywords()
        for name in kwargs:
            if name in PASS_THROUGH:
                continue
            hint = ""
            if name == "selection":
                hint = (f" ({type(self).__name__} follows no Selection: it shows no layer, head or "
                        "position to share)")
            else:
                close = difflib.get_close_matches(name, valid, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(
                f"{type(self).__name__}() got an unexpected keyword argument {name!r}{hint}; "
                f"its keyword arguments are {', '.join(valid)}"
            )

    # ---- setting traits: the user's through validators, the view's own through _set ---------

    @classmethod
    def _read_only(cls) -> frozenset[str]:
        """The public traits the view sets itself (not in ``_settable``, ``_linked`` or
        ``selection``)."""
        cached = cls.__dict__.get("_read_only_cache")
        if cached is None:
            public = {n for n in cls.class_trait_names() if not n.startswith("_")} - _WIDGET_TRAITS
            settable = set(cls._settable) | set(getattr(cls, "_linked", ())) | {"selection"}
            cached = frozenset(public - settable)
            cls._read_only_cache = cached
        return cached

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_sealed", False) and name in self._read_only():
            raise InvalidValue(self._read_only_message(name, value))
        super().__setattr__(name, value)

    def _read_only_message(self, name: str, value: Any) -> str:
        """Why assigning ``value`` to the read-only trait ``name`` is refused, and what can be set."""
        settable = sorted(set(self._settable) | set(getattr(self, "_linked", ())))
        return (
            f"{name} is read-only: {type(self).__name__} sets it from its model and input "
            f"(refused {value!r:.60}); the traits you can set are {', '.join(settable)}"
        )

    def _set(self, **values: Any) -> None:
        """Set the view's own traits (read-only ones included), sent to the browser in one
        message, in the order given."""
        with self.hold_sync():
            for name, value in values.items():
                self.set_trait(name, value)

    def _assign_computed(self, changes: dict[str, Any]) -> None:
        """Assign settable traits (through their validators, in one message) that describe what
        was just computed: ``self._ready`` is False meanwhile, so the view's observers, which
        check it, do not compute the same thing again."""
        self._ready = False
        try:
            with self.hold_sync():
                for name, value in changes.items():
                    setattr(self, name, value)
        finally:
            self._ready = True

    def _validated(self, **values: Any) -> list[Any]:
        """``values`` checked by their traits' own validators (type, then ``@validate``) before
        the traits hold them: the constructor's arguments that it needs before
        ``super().__init__`` (to compute the first drawing) take the path a later assignment
        takes. Returns the validated values in order; raises as an assignment would."""
        cls = type(self)
        return [getattr(cls, name)._validate(self, value) for name, value in values.items()]

    @staticmethod
    def _trait_check(check: Callable[..., T], *args: Any) -> T:
        """Run ``check(*args)``; its ``ValueError``/``TypeError`` (which name the bad value and the
        valid range) becomes :class:`InvalidValue`/:class:`InvalidType`, ``TraitError`` s that
        are still the ``ValueError``/``TypeError`` a constructor argument raises."""
        try:
            return check(*args)
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None
        except TypeError as exc:
            raise InvalidType(str(exc)) from None

    def _attempt(self, compute: Callable[[], T]) -> T | None:
        """Run ``compute``; on ``ValueError`` show its message inline and return ``None``.
        Interrupted (the kernel's stop button, Ctrl-C), the view says so, keeps showing what it
        showed, and the interrupt goes on to stop the cell."""
        try:
            return compute()
        except ValueError as exc:
            self.set_trait("error", str(exc))
            return None
        except KeyboardInterrupt:
            self.set_trait("error", INTERRUPTED)
            raise

    @contextlib.contextmanager
    def _busy(self, line: str) -> Iterator[Callable[[str], None]]:
        """Show ``line`` as the view's progress line (its ``busy`` trait) while the block runs,
        and '' after it, however it ends. Yields a function that replaces the line (progress)."""
        show = lambda text: self.set_trait("busy", text)  # noqa: E731
        show(line)
        try:
            yield show
        finally:
            show("")

    # ---- checks the views share ----------------------------------------------------------------

    @staticmethod
    def _check_index(name: str, value: int | None, seq_len: int) -> int | None:
        """A position in a text of ``seq_len`` tokens (``None`` passes), else ``TraitError``
        naming the value and the positions there are."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidType(f"{name} must be an int, got {type(value).__name__} {value!r}")
        if not 0 <= value < seq_len:
            raise InvalidValue(
                f"{name} {value} is out of range; this text has {seq_len} tokens, so positions 0..{seq_len - 1}"
            )
        return value

    def _check_k(self, k: int, high: int = MAX_K) -> int:
        """A ``k`` in ``[1, min(high, d_vocab)]``, else an error naming it and that range."""
        return check_int(k, "k", 1, min(high, self._adapter.d_vocab))

    def _head_or_selected(self, layer: int | None, head: int | None) -> tuple[int, int]:
        """``(layer, head)`` checked against the model, each defaulting to the selected one."""
        layer = getattr(self, "layer") if layer is None else self._adapter.check_layer(layer)
        head = getattr(self, "head") if head is None else self._adapter.check_head(head)
        return layer, head

    def _bank_of(self, heads: Iterable[tuple[int, int]]) -> PatternBank:
        """The full patterns of ``heads`` (each once) for the browser, from ``_head_pattern``."""
        return PatternBank.of(getattr(self, "run_id"), heads, self._head_pattern)

    def _head_pattern(self, layer: int, head: int) -> torch.Tensor:
        """One head's pattern ``[seq, seq]`` on the text shown (views with a pattern bank)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no attention patterns")

    def _static_state(self, options: dict[str, Any]) -> dict[str, object]:
        """Trait values to put into a static HTML export instead of the live ones (e.g. data
        the live view fetches from the kernel on demand, which an export must carry); each is
        encoded by its trait, as the live value is. ``options`` are the export's (e.g.
        ``{"heads": "all"}`` from ``save_html(heads="all")``); each view reads its own keys.
        None by default."""
        return {}

    def _page_state(self) -> dict[str, object]:
        """Trait values a page without a kernel (a notebook converted with nbconvert) needs to
        draw what the view shows, which a live view would ask the kernel for; only what is
        missing (``{}`` when nothing is). Set after the cell that displayed the view (see
        :mod:`._cells`). None by default."""
        return {}

    def save_html(self, path: str | Path, *, title: str | None = None) -> Path:
        """Write this view as one self-contained HTML file that works offline from
        ``file://``; see :func:`circuitwidgets.widgets.save_html`.

        Examples
        --------
        >>> cw.InductionScores(model).save_html("heads.html")     # TokenView and LogitLens alike
        PosixPath('heads.html')
        """
        from ._export import save_html

        return save_html(self, path, title=title)

    def to_png(self, path: str | Path, *, scale: float = 2, theme: str = "light") -> Path:
        """Save what this view shows as a PNG: its CSS box x ``scale`` pixels (0.5 to 8;
        2 is sharp in print), in the ``"light"`` or ``"dark"`` theme. Returns the path.

        The same picture as the view's "Save PNG" button, made in a headless Chromium from
        this view's static export (a cell cannot wait for the notebook's browser): it needs
        Debian's ``chromium`` and ``chromium-driver`` and ``pip install
        'circuitwidgets[figures]'`` (selenium), and raises
        :class:`~circuitwidgets.figures.ExportUnavailable` naming what is missing.

        >>> cw.TokenView(model, "a b c a b c").to_png("view.png")
        PosixPath('view.png')
        """
        from ._pictures import save_png

        return save_png(self, path, scale=scale, theme=theme)

    def to_svg(self, path: str | Path, *, panel: str | None = None, theme: str = "light") -> Path:
        """Save one heatmap or grid of this view as a standalone vector SVG (cells as rects,
        labels and title as text), the same file as its "Save SVG" button. Returns the path.

        ``panel`` picks which (``None``: the first): AttentionExplorer ``"heads"`` (thumbnails)
        or ``"head"`` (the selected pattern, as zoomed); InductionScores ``"scores"`` or
        ``"pattern"``; LogitLens ``"grid"``; OVBrowser ``"copying"``; CircuitExplorer any of
        those. A view without one (TokenView) raises ``ValueError``. Needs the same browser as
        :meth:`to_png`.

        >>> cw.AttentionExplorer(model, "a b c a b c").to_svg("pattern.svg", panel="head")
        PosixPath('pattern.svg')
        """
        from ._pictures import save_svg

        return save_svg(self, path, panel=panel, theme=theme)
