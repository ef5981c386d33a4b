"""circuitwidgets: see how a transformer language model computes, live, in a notebook.

The public API lives here and nowhere else.
"""

from . import analysis
from ._version import __version__
from .model import ModelAdapter, build_model
from .pocket import load_pocket_model, pocket_models
from .widgets import AttentionExplorer, InductionScores, Selection, TokenView, save_html

__all__ = [
    "AttentionExplorer",
    "InductionScores",
    "ModelAdapter",
    "Selection",
    "TokenView",
    "analysis",
    "build_model",
    "load_pocket_model",
    "pocket_models",
    "save_html",
    "__version__",
]
