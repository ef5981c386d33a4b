"""The notebook widgets: anywidget views with their state in traitlets and their arrays
sent as binary buffers.

* :class:`TokenView` — tokens coloured by the model's next-token probability.
* :class:`AttentionExplorer` — every head's attention pattern: overview, heatmap, token view.
* :class:`OVBrowser` — what every head writes: copying map, OV eigenvalues, token maps.
* :class:`LogitLens` — the logit lens: layer slider, grid, target chart, who wrote it.
* :class:`InductionScores` — induction, previous-token and duplicate-token head scores.
* :class:`Selection` — the shared selection (layer, head, query ...) that links views.
* :func:`save_html` — any views as one self-contained, offline HTML file.
"""

from ._base import CircuitWidget
from ._export import save_html
from .attention_explorer import AttentionExplorer
from .induction_scores import InductionScores
from .logit_lens import LogitLens
from .ov_browser import OVBrowser
from .selection import Selection
from .token_view import TokenView

__all__ = ["AttentionExplorer", "CircuitWidget", "InductionScores", "LogitLens", "OVBrowser", "save_html", "Selection", "TokenView"]
