"""The logit lens as a grid of predictions, and one target token's rank readout by readout.

Grid: one column per position read, one row per readout (embeddings at the bottom, the model's
output at the top); each cell names the top-1 next-token prediction at that depth and is
coloured by its probability (or the target's). Example::

    lens = analysis.logit_lens(model, "The Eiffel Tower is in the city of")
    logit_lens_grid(lens)                 # or lens.plot()
    target_rank_plot(lens, position=-1)   # when does the final answer become the top guess?
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from bokeh.core.properties import value
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, Range1d

from ..analysis import LogitLensResult
from ..checks import check_choice
from . import _style, palettes

#: What the grid's colour can show.
COLORS = ("top_prob", "target_prob")
#: Column width and row height (CSS px), and the figure's margins.
CELL_W, CELL_H, MARGIN_X, MARGIN_Y = 64, 30, 190, 150
#: Cells carry the predicted token as text when at most this many positions are shown.
MAX_LABELLED_POSITIONS = 32
#: Ticks of the log rank axis (those up to the worst rank shown).
RANK_TICKS = [m * 10**e for e in range(7) for m in (1, 2, 5)]
#: The readouts' axis label (see _readout_name).
READOUT_AXIS = "residual stream before layer"
#: Predicted tokens written in cells are cut to this many characters.
CELL_CHARS = 7


def _cell_text(token: str) -> str:
    shown = _style.display_token(token)
    return shown if len(shown) <= CELL_CHARS else shown[: CELL_CHARS - 1] + "…"


def _target_str(lens: LogitLensResult, index: int) -> str:
    return lens.token_strs[int(lens.targets[index])]


def logit_lens_grid(lens: LogitLensResult, *, color: Literal["top_prob", "target_prob"] = "top_prob", width=None, height=None):
    """The top-1 prediction at every (readout, position) of ``lens``.

    Parameters
    ----------
    lens:
        From :func:`circuitwidgets.analysis.logit_lens`.
    color:
        ``"top_prob"`` (the probability of the token written in the cell) or ``"target_prob"``
        (the probability of the position's target: by default the actual next token).
    width, height:
        CSS pixels; by default 64 x 30 per cell plus margins.

    The x axis names the input token at each position (the cells predict the token after it);
    hover a cell for the top-1 token and its probability, the target's probability and rank,
    and the KL divergence to the final distribution.

    Examples
    --------
    >>> lens = analysis.logit_lens(model, "a b c d a b c", target=" d")
    >>> fig = figures.logit_lens_grid(lens, color="target_prob")
    >>> fig.title.text
    'Logit lens: top prediction after each layer'
    """
    if not isinstance(lens, LogitLensResult):
        raise TypeError(f"logit_lens_grid needs a LogitLensResult, got {type(lens).__name__}")
    check_choice(color, "color", COLORS)
    n_readouts, n_positions = lens.target_probs.shape
    readout, column = np.divmod(np.arange(n_readouts * n_positions), n_positions)
    top_ids = lens.top_ids[..., 0].reshape(-1).tolist()
    top_probs = lens.top_probs[..., 0].reshape(-1).numpy()
    target_probs = lens.target_probs.reshape(-1).numpy()
    shown = top_probs if color == "top_prob" else target_probs
    fills = [_style.fill("sequential", float(p), 0.0, 1.0) for p in shown]
    positions = lens.positions.tolist()
    source = ColumnDataSource(
        {
            "x": column,
            "y": readout,
            "readout": [lens.labels[r] for r in readout],
            "position": [positions[c] for c in column],
            "input": [lens.str_tokens[positions[c]] for c in column],
            "top": [lens.token_strs[t] for t in top_ids],
            "top_text": [_cell_text(lens.token_strs[t]) for t in top_ids],
            "top_prob": top_probs,
            "target": [_target_str(lens, c) for c in column],
            "target_prob": target_probs,
            "target_rank": lens.target_ranks.reshape(-1).numpy(),
            "kl": lens.kl_to_final.reshape(-1).numpy(),
            "fill": fills,
            "ink": [palettes.text_on(f) for f in fills],
        }
    )
    fig = _style.heatmap_figure(
        "Logit lens: top prediction after each layer",
        "input token (each cell predicts the token after it)",
        READOUT_AXIS,
        width or MARGIN_X + CELL_W * n_positions,
        height or MARGIN_Y + CELL_H * n_readouts,
        x_range=Range1d(-0.5, n_positions - 0.5),
        y_range=Range1d(-0.5, n_readouts - 0.5),
        tools="pan,wheel_zoom,reset,save",
    )
    cells = fig.rect(x="x", y="y", width=0.96, height=0.92, source=source, fill_color="fill", line_color=None)
    if n_positions <= MAX_LABELLED_POSITIONS:
        fig.text(
            x="x", y="y", text="top_text", source=source, text_color="ink", text_align="center",
            text_baseline="middle", text_font_size=_style.TICK_SIZE, text_font=value(_style.TOKEN_FONT),
        )
    _style.token_ticks(fig.xaxis[0], [lens.str_tokens[p] for p in positions])
    fig.xaxis.major_label_orientation = np.pi / 4
    fig.yaxis.ticker = FixedTicker(ticks=list(range(n_readouts)))
    fig.yaxis.major_label_overrides = {i: _readout_name(label) for i, label in enumerate(lens.labels)}
    bar_title = "P(top-1 token)" if color == "top_prob" else "P(target token)"
    mapper = _style.color_mapper("sequential", 0.0, 1.0)
    fig.add_layout(_style.color_bar(mapper, bar_title, [0, 0.5, 1]), "right")
    fig.add_tools(
        HoverTool(
            renderers=[cells],
            tooltips=[
                ("readout", "@readout"),
                ("position", "@position (input @input)"),
                ("top-1", "@top (p = @top_prob{0.000})"),
                ("target", "@target (p = @target_prob{0.000}, rank @target_rank)"),
                ("KL to final", "@kl{0.000} nats"),
            ],
        )
    )
    return fig


def _readout_name(label: str) -> str:
    """A readout's axis label from TransformerLens's: ``"0_pre"`` -> ``"L0 (embed)"`` (the
    stream before layer 0 holds the embeddings), ``"3_pre"`` -> ``"L3"``, ``"final_post"`` ->
    ``"output"``."""
    if label == "final_post":
        return "output"
    layer = label.split("_")[0]
    return f"L{layer} (embed)" if layer == "0" else f"L{layer}"


def target_rank_plot(lens: LogitLensResult, position: int = -1, *, width: int = 560, height: int = 380):
    """The rank of the target token at ``position`` at every readout of ``lens`` (log scale,
    rank 1 -- the top prediction -- at the top).

    ``position`` is a text position that ``lens`` read (negative counts from the end of the
    positions read). The target is the lens's target there: by default the actual next token,
    or at the text's last position the model's own final prediction.

    Examples
    --------
    >>> lens = analysis.logit_lens(model, "a b c d a b c", target=" d")
    >>> fig = figures.target_rank_plot(lens, position=-1)
    >>> fig.title.text
    "Rank of ' d' after ' c' (position 7)"
    """
    if not isinstance(lens, LogitLensResult):
        raise TypeError(f"target_rank_plot needs a LogitLensResult, got {type(lens).__name__}")
    index = _position_index(lens, position)
    ranks = lens.target_ranks[:, index].numpy()
    text_position = int(lens.positions[index])
    target = _style.quoted(_target_str(lens, index))
    source = ColumnDataSource(
        {
            "x": np.arange(len(ranks)),
            "rank": ranks,
            "readout": [_readout_name(label) for label in lens.labels],
            "prob": lens.target_probs[:, index].numpy(),
            "logit": lens.target_logits[:, index].numpy(),
        }
    )
    worst = max(10.0, float(ranks.max()) * 2)
    fig = _style.new_figure(
        f"Rank of {target} after {_style.quoted(lens.str_tokens[text_position])} (position {text_position})",
        READOUT_AXIS,
        "rank of target (1 = top prediction)",
        width,
        height,
        y_axis_type="log",
        y_range=Range1d(worst, 0.7),
        x_range=Range1d(-0.3, len(ranks) - 0.7),
        tools="pan,wheel_zoom,reset,save",
    )
    fig.line("x", "rank", source=source, line_color=palettes.HIGH, line_width=2, legend_label=f"target {target}")
    dots = fig.scatter("x", "rank", source=source, size=8, fill_color=palettes.HIGH, line_color=palettes.BACKGROUND)
    fig.yaxis.ticker = FixedTicker(ticks=[t for t in RANK_TICKS if t <= worst])
    fig.xaxis.ticker = FixedTicker(ticks=list(range(len(ranks))))
    fig.xaxis.major_label_overrides = {i: name for i, name in enumerate(source.data["readout"])}
    fig.legend.location = "bottom_right"
    fig.legend.label_text_font_size = _style.TICK_SIZE
    fig.add_tools(
        HoverTool(
            renderers=[dots],
            tooltips=[("readout", "@readout"), ("rank", "@rank"), ("p", "@prob{0.0000}"), ("logit", "@logit{0.00}")],
        )
    )
    return fig


def _position_index(lens: LogitLensResult, position: int) -> int:
    """The index into ``lens.positions`` of text ``position`` (negative: from the end of the
    positions read), or an error listing the positions that were read."""
    read = lens.positions.tolist()
    if isinstance(position, bool) or not isinstance(position, int):
        raise TypeError(f"position must be an int, got {type(position).__name__} {position!r}")
    if -len(read) <= position < 0:
        return len(read) + position
    if position in read:
        return read.index(position)
    raise ValueError(
        f"position {position} was not read by this logit lens; it read positions {read[:12]}"
        f"{' ...' if len(read) > 12 else ''} (or -{len(read)}..-1 from the end)"
    )
