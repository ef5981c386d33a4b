"""The notebook widgets: anywidget views with their state in traitlets and their arrays
sent as binary buffers.

* :class:`TokenView` — tokens coloured by the model's next-token probability.
* :func:`save_html` — any views as one self-contained, offline HTML file.
"""

from ._base import CircuitWidget
from ._export import save_html
from .token_view import TokenView

__all__ = ["CircuitWidget", "TokenView", "save_html"]
