"""One standalone HTML report of every figure for a model and a text, linked in the browser.

``report(model, text, path)`` runs the analyses (one forward pass over the text, one over
repeated random tokens for the head scores, the weights for the OV spectra), lays out every
figure, and writes one HTML file with BokehJS inlined: it opens from ``file://`` with no
network and no Python behind it.

The link: the four head grids share one selection. Tapping a head in any of them redraws the
attention-pattern and OV-spectrum panels for that head, in BokehJS, from data embedded in the
page. What is embedded, and its bound:

* every head's attention pattern on the text, each quantized to 8 bits (error <= 1/510) and,
  for texts longer than :data:`MAX_PATTERN_TOKENS` tokens, pooled to that many blocks of
  positions per axis (cell = mean over the block's queries of the attention summed over the
  block's keys, so rows still sum to 1): at most ``n_layers * n_heads * 64 * 64`` bytes
  (590 kB for GPT-2 small's 144 heads, before base64);
* every head's OV eigenvalues (``n_layers * n_heads * d_head`` complex numbers);
* the logit lens of the last :data:`MAX_LENS_POSITIONS` positions;
* every pair of heads' K-composition (``(n_layers * n_heads)**2`` numbers), the last
  position's largest path-expansion terms (:func:`~circuitwidgets.figures.path_waterfall`)
  and its flow graph (:func:`~circuitwidgets.figures.flow_graph`, default pruning: bounded by
  the pruning knobs, not the text).

Example::

    import circuitwidgets as cw
    cw.report(cw.load_pocket_model(), "def add(a, b): return a + b; add(1, 2)", "report.html")
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import numpy as np
from bokeh.embed import file_html
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, CustomJS, Div
from bokeh.resources import INLINE

from .. import analysis
from ..model import as_adapter
from . import _style, palettes
from .attention import pattern_figure, pattern_source
from .attribution import attribution_bars
from .composition import composition_matrix
from .heads import grid_figure, grid_source
from .logit_lens import logit_lens_grid, target_rank_plot
from .ov import spectrum_columns, spectrum_figure, spectrum_title
from .patching import patching_grid
from .flow import flow_graph
from .paths import path_waterfall

#: Embedded attention patterns have at most this many rows and columns (longer texts pooled).
MAX_PATTERN_TOKENS = 64
#: The logit-lens panel shows at most this many positions (the last ones of the text).
MAX_LENS_POSITIONS = 24
#: Levels of the embedded 8-bit patterns (value = byte / QUANT).
QUANT = 255
#: Page width (CSS px) of the text blocks.
PAGE_WIDTH = 1100

# Runs in the browser whenever the grids' shared selection changes: draw the selected head's
# pattern (decoded from the embedded bytes) and spectrum, and title both panels.
_ON_SELECT = """
const selected = grid.selected.indices;
if (selected.length === 0) {          // a tap on empty space: keep the head on show
  grid.selected.indices = [pattern_fig.tags[0]];
  return;
}
const i = selected[selected.length - 1];
if (selected.length > 1) { grid.selected.indices = [i]; return; }
pattern_fig.tags = [i];
const name = grid.data.name[i];
// The shown image is a flat [size, size] array: overwrite it in place, then redraw.
const image = pattern_src.data.image[0], cells = size * size, bytes = patterns.data.bytes;
for (let k = 0; k < cells; k++) image[k] = bytes[i * cells + k] / quant;
pattern_src.change.emit();
pattern_fig.title.text = "Attention pattern of " + name;
const d = spectra.data, lo = i * d_head, hi = lo + d_head, out = {};
for (const key of Object.keys(d)) out[key] = Array.from(d[key].slice(lo, hi));
spectrum_src.data = out;
const c = grid.data.copying[i];
spectrum_fig.title.text = "OV eigenvalues of " + name + " (copying score " + (c >= 0 ? "+" : "\\u2212") + Math.abs(c).toFixed(2) + ")";
"""


def pool_patterns(patterns: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pool ``[..., seq, seq]`` attention to ``[..., m, m]`` with ``m = min(seq, size)``.

    Positions are split into ``m`` contiguous blocks (``edges``, length ``m + 1``); a cell is
    the mean over its query block of the attention summed over its key block, so each row still
    sums to 1. Returns ``(pooled, edges)``; with ``seq <= size`` the patterns come back as they
    are.
    """
    seq = patterns.shape[-1]
    m = min(seq, size)
    edges = np.floor(np.linspace(0, seq, m + 1)).astype(int)
    if m == seq:
        return patterns, edges
    keys = np.add.reduceat(patterns, edges[:-1], axis=-1)
    queries = np.add.reduceat(keys, edges[:-1], axis=-2)
    return queries / np.diff(edges)[:, None], edges


def quantize(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] as bytes ``round(v * QUANT)`` (decoded in the page as ``byte / QUANT``)."""
    return np.rint(np.clip(values, 0.0, 1.0) * QUANT).astype(np.uint8)


def _block_labels(str_tokens: list[str], edges: np.ndarray) -> list[str]:
    if len(edges) - 1 == len(str_tokens):
        return list(str_tokens)
    return [f"{a}–{b - 1}" if b - 1 > a else f"{a}" for a, b in zip(edges[:-1], edges[1:])]


def _header(adapter, text: str, seq: int, pooled: bool, lens_positions: int, scores) -> Div:
    half = scores["induction"].half
    batch = scores["induction"].tokens.shape[0]
    notes = [
        f"<b>model</b> {html.escape(adapter.name)} ({adapter.n_layers} layers × {adapter.n_heads} heads)",
        f"<b>text</b> ({seq} tokens) <code>{html.escape(text)}</code>",
        f"Head scores on {batch} sequences of {half} random tokens repeated once; copying scores "
        "from the full OV circuit W_E·W_V·W_O·W_U. <b>Tap a head in any grid</b> to show its "
        "attention pattern and OV eigenvalues below.",
    ]
    if pooled:
        notes.append(
            f"The text is longer than {MAX_PATTERN_TOKENS} tokens: attention patterns are pooled "
            f"to {MAX_PATTERN_TOKENS} blocks of positions per axis."
        )
    if lens_positions < seq:
        notes.append(f"The logit lens shows the last {lens_positions} positions.")
    body = "".join(f"<p style='margin:4px 0'>{n}</p>" for n in notes)
    return Div(
        text=f"<h1 style='margin:0 0 6px 0;font-size:22px'>circuitwidgets report</h1>{body}",
        width=PAGE_WIDTH,
        styles={"font-family": _style.FONT, "color": palettes.TEXT, "font-size": "14px"},
        name="report-header",
    )


def report_layout(model: Any, text: str):
    """The report's Bokeh layout for ``model`` on ``text`` (what :func:`report` writes)."""
    adapter = as_adapter(model)
    run = analysis.run_text(adapter, text)
    attention = analysis.attention_patterns(adapter, run)
    seq = run.seq_len
    lens = analysis.logit_lens(adapter, run, positions=list(range(max(0, seq - MAX_LENS_POSITIONS), seq)))
    attribution = analysis.logit_attribution(adapter, run, position=-1)
    scores = analysis.all_head_scores(adapter)
    spectrum = analysis.ov_spectrum(adapter)
    n_layers, n_heads = adapter.n_layers, adapter.n_heads

    grids = grid_source({kind: scores[kind].scores for kind in analysis.KINDS} | {"copying": spectrum.copying})
    first = int(scores["induction"].scores.argmax())  # start on the strongest induction head
    grids.selected.indices = [first]
    grid_figs = [
        grid_figure(grids, kind, n_layers, n_heads) for kind in (*analysis.KINDS, "copying")
    ]

    pooled, edges = pool_patterns(attention.patterns.numpy(), MAX_PATTERN_TOKENS)
    size = pooled.shape[-1]
    patterns = ColumnDataSource({"bytes": quantize(pooled).reshape(-1)}, name="report-patterns")
    layer, head = divmod(first, n_heads)
    pattern_src = pattern_source(quantize(pooled[layer, head]) / QUANT)
    pattern_fig = pattern_figure(
        pattern_src,
        _block_labels(attention.str_tokens, edges),
        f"Attention pattern of L{layer}H{head}",
        axis_unit="token" if size == seq else "position",
    )
    pattern_fig.name, pattern_fig.tags = "report-pattern", [first]

    eigen = spectrum.eigenvalues.numpy()
    d_head = eigen.shape[-1]
    per_head = [spectrum_columns(eigen[l, h]) for l in range(n_layers) for h in range(n_heads)]
    spectra = ColumnDataSource(
        {key: np.concatenate([np.asarray(c[key]) for c in per_head]) for key in per_head[0]},
        name="report-spectra",
    )
    spectrum_src = ColumnDataSource(per_head[first])
    spectrum_fig = spectrum_figure(spectrum_src, spectrum_title(layer, head, float(spectrum.copying[layer, head])))
    spectrum_fig.name = "report-spectrum"

    grids.selected.js_on_change(
        "indices",
        CustomJS(
            args=dict(
                grid=grids, patterns=patterns, pattern_src=pattern_src, pattern_fig=pattern_fig,
                spectra=spectra, spectrum_src=spectrum_src, spectrum_fig=spectrum_fig,
                size=size, d_head=d_head, quant=QUANT,
            ),
            code=_ON_SELECT,
        ),
    )
    lens_fig = logit_lens_grid(lens)
    lens_fig.name = "report-logit-lens"
    rank_fig = target_rank_plot(lens, position=-1, width=480)
    rank_fig.name = "report-target-rank"
    bars_fig = attribution_bars(attribution)
    bars_fig.name = "report-attribution"
    header = _header(adapter, text, seq, size < seq, len(lens.positions), scores)
    return column(
        header,
        row(*grid_figs[:2]),
        row(*grid_figs[2:]),
        row(pattern_fig, spectrum_fig),
        lens_fig,
        row(rank_fig, bars_fig),
        *_circuit_figures(adapter, run),
        name="report",
    )


def _patching_figures(model: Any, clean: str, corrupted: str, options: dict[str, Any]) -> list:
    """The exact heads and residual-stream patching grids of ``clean`` against ``corrupted``."""
    metric = options.pop("metric", "logit_diff")
    grids = analysis.patching(model, clean, corrupted, metric, at=["heads", "resid_pre"], **options)
    figs = [patching_grid(grids["heads"]), patching_grid(grids["resid_pre"])]
    for fig, name in zip(figs, ("report-patching-heads", "report-patching-resid")):
        fig.name = name
    return figs


def _circuit_figures(adapter: Any, run: analysis.TextRun) -> list:
    """Heads together: the K-composition matrix (weights only) and the path expansion of the
    last position's prediction (attention frozen), or a line saying why this model has none."""
    composition = composition_matrix(analysis.head_composition(adapter), "K")
    composition.name = "report-composition"
    try:
        paths = analysis.path_expansion(adapter, run, position=-1)
    except (NotImplementedError, ValueError) as why:
        return [composition, Div(text=f"<p>No path expansion for this model: {html.escape(str(why))}</p>")]
    waterfall = path_waterfall(paths)
    waterfall.name = "report-paths"
    return [composition, waterfall, _flow_figure(adapter, run.text)]


def _flow_figure(adapter: Any, text: str):
    """The flow graph of the last position's prediction (:func:`flow_graph`), or a line saying
    why this model has none."""
    try:
        graph = analysis.flow(adapter, text)
    except (NotImplementedError, ValueError) as why:
        return Div(text=f"<p>No flow graph for this model: {html.escape(str(why))}</p>")
    fig = flow_graph(graph)
    fig.name = "report-flow"
    return fig


def report(
    model: Any,
    text: str,
    path: Union[str, os.PathLike],
    *,
    title: str = "circuitwidgets report",
    corrupted: Optional[str] = None,
    patching_options: Optional[Mapping[str, Any]] = None,
) -> Path:
    """Write a standalone HTML report of ``model`` on ``text`` to ``path`` and return the path.

    The page holds every figure of :mod:`circuitwidgets.figures` -- the induction,
    previous-token, duplicate-token and copying grids, the selected head's attention pattern and
    OV spectrum (tap a head in a grid to change it), the logit lens with the rank of the model's
    final prediction, the direct logit attribution of that prediction, the heads' K-composition,
    the path expansion of that prediction and its flow graph -- with BokehJS
    inlined, so it works offline from ``file://``. See the module docs for what is embedded.

    ``model`` is any model :func:`circuitwidgets.analysis.run_text` accepts; ``text`` must fit
    the model's context (``ValueError`` otherwise).

    With ``corrupted=`` (a prompt with as many tokens as ``text``), the page also holds the
    exact activation-patching grids of ``text`` against it -- each head's output, and the
    residual stream by layer and position (:func:`~circuitwidgets.figures.patching_grid`);
    ``patching_options`` go to :func:`~circuitwidgets.analysis.patching` (``metric``, default
    ``"logit_diff"``, ``target``, ``distractor``, ``position``, ``memory_budget``).

    Examples
    --------
    >>> cw.report(model, "a b c d a b c", "report.html", title="pocket model, a b c d twice")
    PosixPath('report.html')
    >>> cw.report(model, "a b c d a b c", "patching.html", corrupted="a b c e a b c",
    ...           patching_options={"target": " d", "distractor": " e"})
    PosixPath('patching.html')
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    layout = report_layout(model, text)
    if corrupted is not None:
        layout.children.extend(_patching_figures(model, text, corrupted, dict(patching_options or {})))
    page = file_html(layout, INLINE, title=title)
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path
