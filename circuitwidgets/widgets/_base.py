"""What every circuitwidgets view shares: its bundled front end, an inline error, HTML export,
and PNG/SVG pictures of what it shows.

A view is an ``anywidget.AnyWidget`` whose ES module and CSS are the files ``npm run build``
wrote for it (``static/<view>.js``/``.css``, see :mod:`._static`). Subclasses name their
bundle and define their own traits::

    class TokenView(CircuitWidget):
        _bundle = "token_view"          # js/src/token_view/index.ts
        text = traitlets.Unicode().tag(sync=True)

Bad input the user can fix (an empty text, a text longer than the model's context) does not
raise out of a trait change: :meth:`CircuitWidget._attempt` catches the ``ValueError``, puts
its message in the ``error`` trait, which the view shows inline above its last good drawing,
and leaves the data traits untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, ClassVar, TypeVar

import anywidget
import traitlets

from ._static import read_bundle

__all__ = ["CircuitWidget"]

T = TypeVar("T")


class CircuitWidget(anywidget.AnyWidget):
    """Base class of the circuitwidgets views (not displayed by itself)."""

    #: The view's bundle: ``js/src/<_bundle>.ts`` → ``circuitwidgets/static/<_bundle>.js``.
    _bundle: ClassVar[str]

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

    def _attempt(self, compute: Callable[[], T]) -> T | None:
        """Run ``compute``; on ``ValueError`` show its message inline and return ``None``."""
        try:
            return compute()
        except ValueError as exc:
            self.error = str(exc)
            return None

    def _static_state(self) -> dict[str, object]:
        """Trait values to put into a static HTML export instead of the live ones (e.g. data
        the live view fetches from the kernel on demand, which an export must carry). None
        by default."""
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
        from ._snapshot import save_png

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
        from ._snapshot import save_svg

        return save_svg(self, path, panel=panel, theme=theme)
