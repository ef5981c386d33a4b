"""circuitwidgets: see how a transformer language model computes, live, in a notebook.

The public API lives here and nowhere else.
"""

from . import analysis
from ._version import __version__
from .model import ModelAdapter, build_model
from .pocket import load_pocket_model, pocket_models
from .widgets import AttentionExplorer, InductionScores, LogitLens, OVBrowser, save_html, Selection, TokenView

__all__ = [
    "analysis",
    "AttentionExplorer",
    "build_model",
    "InductionScores",
    "load_pocket_model",
    "LogitLens",
    "ModelAdapter",
    "OVBrowser",
    "pocket_models",
    "save_html",
    "Selection",
    "TokenView",
    "__version__",
]
