"""Publication figures with Bokeh, built from :mod:`circuitwidgets.analysis` results.

Each function takes one analysis result and returns a Bokeh figure, titled, with axis labels,
units and a colour bar or legend, coloured with the widgets' own scales
(:mod:`~circuitwidgets.figures.palettes`). Show it with ``bokeh.plotting.show``, put it in a
layout, or save it with :func:`save_png` / :func:`save_svg`. Every result also has a
``.plot(...)`` that calls the function below.

==========================  ============================================  ==================
function                    result it draws                               ``.plot``
==========================  ============================================  ==================
:func:`attention_pattern`   ``AttentionResult`` (one head)                ``att.plot(l, h)``
:func:`head_score_grid`     ``HeadScores`` (prev-token, duplicate, ind.)   ``scores.plot()``
:func:`copying_grid`        ``OVSpectrum`` copying scores                 --
:func:`composition_matrix`  ``HeadComposition`` (heads x heads, one kind)  ``comp.plot(kind)``
:func:`ov_spectrum_plot`    ``OVSpectrum`` (one head, complex plane)      ``spec.plot(l, h)``
:func:`logit_lens_grid`     ``LogitLensResult``                           ``lens.plot()``
:func:`target_rank_plot`    ``LogitLensResult`` (one position)            --
:func:`attribution_bars`    ``Attribution``                               ``attr.plot()``
:func:`path_waterfall`      ``PathExpansion`` (one logit's path terms)    ``paths.plot()``
:func:`patching_grid`       ``PatchingResult`` (exact or attribution)     ``result.plot()``
:func:`flow_graph`          ``FlowResult`` (one prediction's flow graph)  ``graph.plot()``
==========================  ============================================  ==================

:func:`report` writes all of them for one model and text into one offline HTML file. Example:

>>> import circuitwidgets as cw
>>> from circuitwidgets import analysis, figures
>>> model = cw.load_pocket_model()
>>> att = analysis.attention_patterns(model, "a b c a b c")
>>> figures.save_png(att.plot(1, 3), "induction_head.png")
PosixPath('induction_head.png')
>>> cw.report(model, "a b c a b c", "report.html")
PosixPath('report.html')
"""

from .attention import attention_pattern
from .attribution import attribution_bars
from .composition import composition_matrix
from .export import ExportUnavailable, save_png, save_svg
from .flow import flow_graph
from .heads import copying_grid, head_score_grid
from .logit_lens import logit_lens_grid, target_rank_plot
from .ov import ov_spectrum_plot
from .patching import patching_grid
from .paths import path_waterfall
from .report import report

__all__ = [
    "ExportUnavailable",
    "attention_pattern",
    "attribution_bars",
    "composition_matrix",
    "copying_grid",
    "flow_graph",
    "head_score_grid",
    "logit_lens_grid",
    "ov_spectrum_plot",
    "patching_grid",
    "path_waterfall",
    "report",
    "save_png",
    "save_svg",
    "target_rank_plot",
]
