"""A flow graph (:func:`circuitwidgets.analysis.flow`) as a Bokeh figure for papers: the same
picture the FlowGraph view draws, static -- layers left to right, the residual stream on one
row with the norms on it, the heads, memory values and neurons below it, every node coloured by
the target's rank in its projection (log scale, darkest at rank 1), every edge as wide as its
score among edges of its kind. Example::

    graph = analysis.flow(model, text, target=" Mary", layers=(8, 12))
    flow_graph(graph)          # or graph.plot()
"""

from __future__ import annotations

import math
from typing import Optional

from bokeh.core.properties import value
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, Range1d

from ..analysis import FlowResult
from ..analysis.flow import FlowNode
from . import _style
from .palettes import MUTED

#: Pixels per column and per row of nodes, the most pixels wide, and the margins.
COLUMN, ROW, MAX_WIDTH, MARGIN_X, MARGIN_Y = 56, 34, 2400, 120, 110
#: Edge widths (px) from the smallest to the largest score of a kind.
THINNEST, THICKEST = 0.8, 5.0

#: A node's slot inside its layer, left to right (as the view's state.ts ``SLOT``).
SLOT = {"embed": -2, "resid_pre": -1, "ln": -0.5, "memory": 0, "head": 1, "attn_bias": 2, "attn_out": 2.2,
        "resid_mid": 3, "neuron": 4, "mlp_bias": 5, "mlp_out": 5.2, "resid_post": 6, "output": 0}
#: Kinds drawn on the stream's row.
SPINE = {"embed", "resid_pre", "ln", "resid_mid", "resid_post", "output", "attn_out", "mlp_out"}
MARKERS = {"ln": "diamond", "resid_pre": "square", "resid_mid": "square", "resid_post": "square", "output": "square"}


def _column_key(n: FlowNode, layers: range) -> float:
    if n.kind == "output":
        return layers.stop * 10
    if n.kind == "ln" and n.layer is None:  # the final norm, before the output
        return layers.stop * 10 - 1
    slot = 3.5 if n.kind == "ln" and n.norm == "ln2" else SLOT[n.kind]
    return (layers.start if n.layer is None else n.layer) * 10 + slot + 2


def _places(graph: FlowResult) -> dict[str, tuple[int, int]]:
    """``(column, row)`` of every node: columns in forward order, the stream's nodes on row 0,
    the others below it (memory values by head and source, neurons by index)."""
    keys = sorted({_column_key(n, graph.layers) for n in graph.nodes})
    column = {k: i for i, k in enumerate(keys)}
    rows: dict[int, int] = {}
    out = {}
    order = sorted(graph.nodes, key=lambda n: (n.head if n.head is not None else -1, n.source or -1, n.neuron or -1))
    for n in order:
        c = column[_column_key(n, graph.layers)]
        if n.kind in SPINE:
            out[n.id] = (c, 0)
        else:
            rows[c] = rows.get(c, 0) + 1
            out[n.id] = (c, rows[c])
    return out


def rank_value(rank: int, d_vocab: int) -> float:
    """0..1 for colouring by the target's rank, as the view does: 1 at rank 1, 0 at the last,
    on a log scale.

    >>> rank_value(1, 50257), round(rank_value(50257, 50257), 6)
    (1.0, 0.0)
    """
    return 1 - math.log(min(max(rank, 1), d_vocab)) / math.log(d_vocab)


def _short(n: FlowNode, graph: FlowResult) -> str:
    names = {"head": f"H{n.head}", "neuron": f"N{n.neuron}", "attn_out": "attn", "mlp_out": "MLP",
             "attn_bias": "bias", "mlp_bias": "bias", "resid_mid": "mid", "embed": "embed", "output": "output",
             "ln": "final norm" if n.norm == "ln_final" else str(n.norm)}
    if n.kind == "memory":
        return f"@{n.source} {_style.quoted(graph.str_tokens[n.source])}"
    return names.get(n.kind, "resid")


def flow_graph(graph: FlowResult, *, labels: bool = True, width: Optional[int] = None, height: Optional[int] = None):
    """``graph`` (a :class:`~circuitwidgets.analysis.FlowResult`) as a Bokeh figure: nodes
    coloured by the target's rank in their projection (colour bar: log rank), squares for the
    residual stream, diamonds for the norms, circles for what writes to it; edges as wide as
    their score among edges of their kind (attention weight, neuron coefficient, norm written);
    each node labelled with its short name and top token (``labels=False`` leaves them out),
    the hover tool giving the rest. For a big model draw a few layers (``flow(...,
    layers=(start, stop))``): every column is :data:`COLUMN` px wide, up to :data:`MAX_WIDTH`.

    Examples
    --------
    >>> graph = analysis.flow(model, "a b c d a b c", target=" d")
    >>> fig = figures.flow_graph(graph)
    >>> fig.title.text
    "Flow graph: position 7 → ' d' (logit 8.08), layers 0–1"
    """
    if not isinstance(graph, FlowResult):
        raise TypeError(f"flow_graph needs a FlowResult (analysis.flow), got {type(graph).__name__}")
    at = _places(graph)
    n_columns = 1 + max(c for c, _ in at.values())
    n_rows = 1 + max(r for _, r in at.values())
    levels = [rank_value(n.target_rank, graph.d_vocab) for n in graph.nodes]
    fills = [_style.fill("sequential", v, 0.0, 1.0) for v in levels]
    strs = graph.token_strs
    nodes = ColumnDataSource({
        "x": [at[n.id][0] for n in graph.nodes], "y": [at[n.id][1] for n in graph.nodes],
        "fill": fills, "marker": [MARKERS.get(n.kind, "circle") for n in graph.nodes],
        "name": [n.label for n in graph.nodes], "kind": [n.kind for n in graph.nodes],
        "short": [_short(n, graph) for n in graph.nodes],
        "top": [_style.quoted(strs[n.top_ids[0]]) if n.top_ids else "" for n in graph.nodes],
        "rank": [n.target_rank for n in graph.nodes], "prob": [n.target_prob for n in graph.nodes],
        "contribution": [math.nan if n.contribution is None else n.contribution for n in graph.nodes],
    })
    largest: dict[str, float] = {}
    for e in graph.edges:
        largest[e.kind] = max(largest.get(e.kind, 0.0), abs(e.score))
    edges = ColumnDataSource({
        "xs": [[at[e.source][0], at[e.target][0]] for e in graph.edges],
        "ys": [[at[e.source][1], at[e.target][1]] for e in graph.edges],
        "width": [THINNEST + (THICKEST - THINNEST) * (abs(e.score) / largest[e.kind] if largest[e.kind] > 0 else 0)
                  for e in graph.edges],
        "dash": ["dashed" if e.kind == "coefficient" and e.score < 0 else "solid" for e in graph.edges],
    })
    first, last = graph.layers.start, graph.layers.stop - 1
    title = (f"Flow graph: position {graph.position} → {_style.quoted(graph.target_str)} "
             f"(logit {float(graph.logit):.2f}), layers {first}–{last}")
    fig = _style.heatmap_figure(
        title, "layer →", "the parts below the stream",
        width or min(MAX_WIDTH, MARGIN_X + COLUMN * n_columns),
        height or MARGIN_Y + ROW * max(n_rows, 3),
        x_range=Range1d(-0.7, n_columns - 0.3), y_range=Range1d(n_rows - 0.4, -0.8),
        tools="hover,pan,wheel_zoom,reset,save", name="flow-graph",
    )
    fig.multi_line(xs="xs", ys="ys", line_width="width", line_dash="dash", line_color=MUTED, line_alpha=0.6, source=edges)
    dots = fig.scatter(x="x", y="y", size=15, marker="marker", fill_color="fill", line_color=MUTED, source=nodes)
    if labels and (width or min(MAX_WIDTH, MARGIN_X + COLUMN * n_columns)) / n_columns >= COLUMN * 0.8:
        for field, dy, color, font in (("short", -6, _style.palettes.TEXT, _style.FONT), ("top", 6, MUTED, _style.TOKEN_FONT)):
            fig.text(x="x", y="y", text=field, source=nodes, x_offset=10, y_offset=dy, text_baseline="middle",
                     text_font_size="9px", text_font=value(font), text_color=color)
    _layer_ticks(fig, graph, at)
    fig.yaxis.ticker = FixedTicker(ticks=[0])
    fig.yaxis.major_label_overrides = {0: "stream"}
    mapper = _style.color_mapper("sequential", 0.0, 1.0)
    ticks = [0.0, 0.5, 1.0]
    bar = _style.color_bar(mapper, "rank of the target (log)", ticks)
    bar.major_label_overrides = {t: str(round(graph.d_vocab ** (1 - t))) for t in ticks}
    fig.add_layout(bar, "right")
    hover = fig.select_one(HoverTool)
    hover.renderers = [dots]
    hover.tooltips = [("node", "@name"), ("kind", "@kind"), ("top token", "@top"), ("rank of target", "@rank"),
                      ("P(target)", "@prob{0.0000}"), ("contribution", "@contribution{0.000} logits")]
    return fig


def _layer_ticks(fig, graph: FlowResult, at: dict[str, tuple[int, int]]) -> None:
    """One x tick per layer, ``L3``, under the middle of its columns."""
    spans: dict[int, list[int]] = {}
    for n in graph.nodes:
        if n.layer is not None and n.kind != "resid_pre":
            spans.setdefault(n.layer, []).append(at[n.id][0])
    ticks = {(min(c) + max(c)) / 2: f"L{layer}" for layer, c in spans.items()}
    fig.xaxis.ticker = FixedTicker(ticks=sorted(ticks))
    fig.xaxis.major_label_overrides = ticks
