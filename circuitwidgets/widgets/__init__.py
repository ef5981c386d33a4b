"""The notebook widgets: anywidget views with their state in traitlets and their arrays
sent as binary buffers.

* :class:`TokenView` — tokens coloured by the model's next-token probability.
* :class:`AttentionExplorer` — every head's attention pattern: overview, heatmap, token view.
* :class:`InductionScores` — induction / previous-token / duplicate-token score of every head.
* :class:`Selection` — the shared selection (layer, head, query ...) that links views.
* :func:`save_html` — any views as one self-contained, offline HTML file.
"""

from ._base import CircuitWidget
from ._export import save_html
from .attention_explorer import AttentionExplorer
from .induction_scores import InductionScores
from .selection import Selection
from .token_view import TokenView

__all__ = ["AttentionExplorer", "CircuitWidget", "InductionScores", "Selection", "TokenView", "save_html"]
