"""The notebook widgets: anywidget views with their state in traitlets and their arrays
sent as binary buffers.

* :class:`TokenView` — tokens coloured by the model's next-token probability.
* :class:`AttentionExplorer` — every head's attention pattern: overview, heatmap, token view.
* :class:`OVBrowser` — what every head writes: copying map, OV eigenvalues, token maps.
* :class:`LogitLens` — the logit lens: layer slider, grid, target chart, who wrote it.
* :class:`InductionScores` — induction, previous-token and duplicate-token head scores.
* :class:`CompositionGraph` — which heads read what earlier heads write (Q/K/V composition).
* :class:`FlowGraph` — one prediction as a graph of what wrote it (VISIT's flow graph).
* :class:`PatchingExplorer` — activation patching grids of a prompt pair, exact and estimated.
* :class:`PathExplorer` — one logit as a waterfall of paths through the heads, attention frozen.
* :class:`CircuitExplorer` — the four views above (and optional panels) in one layout on one selection.
* :class:`Selection` — the shared selection (layer, head, query ...) that links views.
* :func:`attention_heads`, :func:`colored_tokens` — those views from plain arrays, no model
  (CircuitsVis's names and shapes).
* :func:`link` — make views displayed separately share one selection.
* :func:`save_html` — any views as one self-contained, offline HTML file
  (:func:`export_sizes` says where its bytes go).
"""

from ._base import CircuitWidget
from ._export import export_sizes, save_html
from .attention_explorer import AttentionExplorer
from .circuit_explorer import CircuitExplorer
from .composition_graph import CompositionGraph
from .flow_graph import FlowGraph
from .from_arrays import attention_heads, colored_tokens
from .induction_scores import InductionScores
from .logit_lens import LogitLens
from .ov_browser import OVBrowser
from .patching_explorer import PatchingExplorer
from .path_explorer import PathExplorer
from .selection import Selection, link
from .token_view import TokenView

__all__ = [
    "AttentionExplorer", "attention_heads", "CircuitExplorer", "CircuitWidget", "colored_tokens", "CompositionGraph",
    "export_sizes", "FlowGraph",
    "InductionScores", "link", "LogitLens", "OVBrowser", "PatchingExplorer", "PathExplorer", "save_html", "Selection",
    "TokenView",
]
