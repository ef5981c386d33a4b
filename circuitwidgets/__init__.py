"""circuitwidgets: see how a transformer language model computes, live, in a notebook.

The public API lives here and nowhere else.

>>> import circuitwidgets as cw
>>> model = cw.load_pocket_model()      # a 2-layer model shipped in the package; no network
>>> w = cw.AttentionExplorer(model, "a b c a b c")
>>> w.layer, w.head = 1, 3              # the induction head; in a notebook, `w` draws the view

The examples in the docstrings assume these four lines (the test suite runs every one of them
on both TransformerLens generations, offline)::

    import circuitwidgets as cw
    from circuitwidgets import analysis, figures
    import torch
    model = cw.load_pocket_model()
"""

import importlib

from . import analysis
from ._version import __version__
from .model import ModelAdapter, build_model, from_hugging_face
from .pocket import load_pocket_model, pocket_models
from .widgets import (
    AttentionExplorer, attention_heads, CircuitExplorer, colored_tokens, CompositionGraph, FlowGraph, InductionScores, link, LogitLens, OVBrowser,
    PatchingExplorer, PathExplorer, save_html, Selection, TokenView,
)

__all__ = [
    "analysis",
    "AttentionExplorer",
    "attention_heads",
    "build_model",
    "CircuitExplorer",
    "colored_tokens",
    "CompositionGraph",
    "figures",
    "from_hugging_face",
    "FlowGraph",
    "InductionScores",
    "link",
    "load_pocket_model",
    "LogitLens",
    "ModelAdapter",
    "OVBrowser",
    "PatchingExplorer",
    "PathExplorer",
    "pocket_models",
    "report",
    "save_html",
    "Selection",
    "TokenView",
    "__version__",
]


def __getattr__(name: str):
    # figures (and report) load Bokeh on first use, so `import circuitwidgets` stays as fast
    # as before for widget users and the analysis never pulls Bokeh in.
    if name in ("figures", "report"):
        figures = importlib.import_module(".figures", __name__)
        return figures if name == "figures" else figures.report
    raise AttributeError(f"module 'circuitwidgets' has no attribute {name!r}")
