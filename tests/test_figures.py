"""Every figure, built from real analysis results of the pocket models and of random-weight
models of every kind: what it draws is the result's numbers, in the widgets' colours, and it is
labelled for print."""

from __future__ import annotations

import ast
import functools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from bokeh.core.validation import check_integrity
from bokeh.models import ColorBar, ColumnDataSource, GlyphRenderer, Legend, Plot

import circuitwidgets as cw
from circuitwidgets import analysis, figures
from circuitwidgets.figures import _style, palettes
from circuitwidgets.figures.report import pool_patterns, quantize

PACKAGE = Path(cw.__file__).parent
TEXT = "When Mary and John went to the store, John gave a drink to Mary"


class Results:
    """Every analysis result the figures draw, for one model and one text."""

    def __init__(self, model, text=TEXT):
        run = analysis.run_text(model, text)
        self.model = model
        self.attention = analysis.attention_patterns(model, run)
        self.lens = analysis.logit_lens(model, run)
        self.attribution = analysis.logit_attribution(model, run, position=-1)
        self.scores = analysis.all_head_scores(model, half=10, batch=2)
        self.text_scores = analysis.text_head_scores(model, run, "duplicate_token")
        self.spectrum = analysis.ov_spectrum(model)
        self.paths = analysis.path_expansion(model, text, position=5)
        self.flow = analysis.flow(model, text)

    def figures(self):
        """Every figure function applied to these results, by name."""
        n_layers, n_heads = self.spectrum.copying.shape
        layer, head = n_layers - 1, n_heads - 1
        out = {
            "attention_pattern": figures.attention_pattern(self.attention, layer, head),
            "copying_grid": figures.copying_grid(self.spectrum),
            "ov_spectrum_plot": figures.ov_spectrum_plot(self.spectrum, layer, head),
            "logit_lens_grid": figures.logit_lens_grid(self.lens),
            "logit_lens_grid_target": figures.logit_lens_grid(self.lens, color="target_prob"),
            "target_rank_plot": figures.target_rank_plot(self.lens, position=3),
            "attribution_bars": figures.attribution_bars(self.attribution),
            "attribution_heads": figures.attribution_bars(self.attribution, heads_only=True),
            "text_scores": figures.head_score_grid(self.text_scores),
            "path_waterfall": figures.path_waterfall(self.paths),
            "flow_graph": figures.flow_graph(self.flow),
            "path_waterfall_uniform": analysis.path_expansion(self.model, TEXT, position=5, attention="uniform").plot(bars=6),
        }
        for kind, scores in self.scores.items():
            out[f"head_score_grid_{kind}"] = figures.head_score_grid(scores)
        return out


@functools.lru_cache(maxsize=None)
def pocket(name: str) -> Results:
    return Results(cw.load_pocket_model(name))


@pytest.fixture(scope="module", params=["attn-only-2l", "small-4l"])
def pocket_results(request):
    return pocket(request.param)


@pytest.fixture(scope="module")
def random_results(random_model):
    return Results(random_model)


def _source(fig) -> dict:
    """The data of the figure's glyph renderer with the most columns (its main data)."""
    sources = [r.data_source for r in fig.renderers if isinstance(r, GlyphRenderer)]
    return max((s for s in sources if isinstance(s, ColumnDataSource)), key=lambda s: len(s.data)).data


def _check_print_ready(name, fig):
    issues = check_integrity([fig.references()])
    assert not issues.error and not issues.warning, (name, issues)
    assert isinstance(fig, Plot)
    assert fig.title.text.strip(), name
    for axis in (*fig.xaxis, *fig.yaxis):
        assert axis.axis_label and axis.axis_label.strip(), (name, axis)
    keyed = [m for m in fig.references() if isinstance(m, (ColorBar, Legend))]
    assert keyed, f"{name} has neither a colour bar nor a legend"
    assert fig.width >= 300 and fig.height >= 200


def test_every_figure_of_the_pocket_models_is_print_ready(pocket_results):
    for name, fig in pocket_results.figures().items():
        _check_print_ready(name, fig)


def test_every_figure_of_random_models_is_print_ready(random_results):
    for name, fig in random_results.figures().items():
        _check_print_ready(name, fig)


def test_attention_pattern_draws_the_heads_pattern(random_results):
    att = random_results.attention
    fig = att.plot(1, 2)
    image = _source(fig)["image"][0]
    np.testing.assert_array_equal(image, att.patterns[1, 2].numpy())
    assert fig.title.text == "Attention pattern of L1H2"
    assert fig.yaxis[0].major_label_overrides[0] == _style.display_token(att.str_tokens[0])
    assert fig.y_range.start > fig.y_range.end  # query 0 at the top


def test_grids_draw_the_scores_in_the_widgets_colours(pocket_results):
    scores = pocket_results.scores["induction"]
    data = _source(scores.plot())
    np.testing.assert_array_equal(data["induction"], scores.scores.reshape(-1).numpy())
    n_heads = scores.scores.shape[1]
    for i, value in enumerate(data["induction"]):
        assert data["induction_fill"][i] == palettes.SEQUENTIAL[palettes.level(float(value), 0, 1)]
        assert data["name"][i] == f"L{i // n_heads}H{i % n_heads}"
    copying = _source(figures.copying_grid(pocket_results.spectrum))
    for value, fill in zip(copying["copying"], copying["copying_fill"]):
        assert fill == palettes.DIVERGING[palettes.level(float(value), -1, 1)]


def test_colour_mappers_pick_the_widgets_level_for_every_value():
    rng = np.random.default_rng(0)
    for scale, low, high in (("sequential", 0.0, 1.0), ("diverging", -1.0, 1.0), ("sequential", 0.0, 7.5)):
        mapper = _style.color_mapper(scale, low, high)
        values = np.concatenate([rng.uniform(low, high, 2000), np.linspace(low, high, palettes.LEVELS)])
        for v in values:
            # Bokeh's LinearColorMapper: floor((v - low) / (high - low) * N), clamped.
            u = (v - mapper.low) / (mapper.high - mapper.low)
            bokeh_index = min(len(mapper.palette) - 1, max(0, math.floor(u * len(mapper.palette))))
            assert bokeh_index == palettes.level(float(v), low, high), (scale, v)


def test_spectrum_is_normalized_into_the_unit_disc(random_results):
    spec = random_results.spectrum
    data = _source(spec.plot(0, 1))
    eig = spec.eigenvalues[0, 1].numpy()
    np.testing.assert_allclose(data["re"], eig.real)
    radius = np.hypot(data["x"], data["y"])
    assert radius.max() == pytest.approx(1.0, abs=1e-6) and (radius <= 1 + 1e-6).all()
    assert data["color"] == [palettes.HIGH if r >= 0 else palettes.LOW for r in eig.real]
    assert f"{float(spec.copying[0, 1]):+.2f}" in spec.plot(0, 1).title.text


def test_spectrum_of_a_zero_head_sits_at_the_origin():
    from circuitwidgets.figures.ov import spectrum_columns

    data = spectrum_columns(np.zeros(4, dtype=np.complex64))
    assert list(data["x"]) == [0.0] * 4 and list(data["y"]) == [0.0] * 4


def test_logit_lens_grid_names_the_top_prediction_of_every_cell(pocket_results):
    lens = pocket_results.lens
    data = _source(lens.plot())
    n_readouts, n_positions = lens.target_probs.shape
    assert len(data["x"]) == n_readouts * n_positions
    np.testing.assert_array_equal(data["top_prob"], lens.top_probs[..., 0].reshape(-1).numpy())
    assert data["top"] == [lens.token_strs[int(t)] for t in lens.top_ids[..., 0].reshape(-1)]
    assert data["fill"][0] == palettes.SEQUENTIAL[palettes.level(float(data["top_prob"][0]), 0, 1)]
    target_fig = figures.logit_lens_grid(lens, color="target_prob")
    assert _source(target_fig)["fill"][0] == palettes.SEQUENTIAL[palettes.level(float(data["target_prob"][0]), 0, 1)]


def test_target_rank_follows_the_lens(pocket_results):
    lens = pocket_results.lens
    fig = figures.target_rank_plot(lens, position=-2)
    data = _source(fig)
    np.testing.assert_array_equal(data["rank"], lens.target_ranks[:, -2].numpy())
    assert fig.y_range.start > fig.y_range.end  # rank 1 at the top
    assert str(len(lens.str_tokens) - 2) in fig.title.text


def test_attribution_bars_add_up_to_the_logit(pocket_results):
    attr = pocket_results.attribution
    data = _source(attr.plot())
    labels, values = attr.components()
    assert list(data["component"]) == labels
    assert float(np.sum(data["value"])) == pytest.approx(float(attr.logit), abs=1e-3)
    assert data["color"] == [palettes.HIGH if v >= 0 else palettes.LOW for v in values.tolist()]
    heads = _source(figures.attribution_bars(attr, heads_only=True))
    np.testing.assert_array_equal(heads["value"], attr.heads.reshape(-1).numpy())


def test_path_waterfall_runs_through_the_terms_to_the_logit(pocket_results):
    paths = pocket_results.paths
    data = _source(paths.plot(bars=6))
    labels, values = paths.terms()
    ranked = sorted(zip(labels, values.tolist()), key=lambda lv: -abs(lv[1]))
    assert list(data["term"]) == [l for l, _ in ranked[:6]] + [f"the other {len(ranked) - 6} terms", "logit"]
    steps = [v for _, v in ranked[:6]] + [sum(v for _, v in ranked[6:])]
    np.testing.assert_allclose(data["value"][:-1], steps, rtol=1e-6, atol=1e-9)
    ends = np.cumsum(steps)
    np.testing.assert_allclose(np.maximum(data["left"], data["right"])[:-1], np.maximum(ends - steps, ends), rtol=1e-6, atol=1e-9)
    assert data["value"][-1] == pytest.approx(float(paths.logit), rel=1e-4, abs=1e-5)
    assert data["color"][:-1] == [palettes.HIGH if v >= 0 else palettes.LOW for v in steps]
    assert data["color"][-1] == palettes.MUTED
    everything = _source(figures.path_waterfall(paths, bars=1000))
    assert "the other" not in " ".join(everything["term"]) and len(everything["term"]) == len(labels) + 1
    with pytest.raises(ValueError, match="bars 0 is out of range"):
        figures.path_waterfall(paths, bars=0)
    with pytest.raises(TypeError, match="needs a PathExpansion, got Attribution"):
        figures.path_waterfall(pocket_results.attribution)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda r: figures.attention_pattern(r.attention, 9, 0), ValueError, r"layer 9 is out of range; it must be in \[0, 1\]"),
        (lambda r: r.attention.plot(0, -1), ValueError, r"head -1 is out of range; it must be in \[0, 3\]"),
        (lambda r: r.spectrum.plot(0, 1.5), TypeError, "head must be an int, got float 1.5"),
        (lambda r: figures.ov_spectrum_plot(r.attention, 0, 0), TypeError, "needs an OVSpectrum, got AttentionResult"),
        (lambda r: figures.logit_lens_grid(r.lens, color="kl"), ValueError, r"color 'kl' is not one of \['top_prob', 'target_prob'\]"),
        (lambda r: figures.target_rank_plot(r.lens, position=999), ValueError, "position 999 was not read by this logit lens"),
        (lambda r: figures.head_score_grid(r.spectrum), TypeError, "needs a HeadScores, got OVSpectrum"),
    ],
)
def test_bad_arguments_name_the_value_and_the_range(call, error, message):
    with pytest.raises(error, match=message):
        call(pocket("attn-only-2l"))  # 2 layers x 4 heads


def test_display_token_escapes_and_cuts():
    assert _style.display_token("a\nb\t") == "a\\nb\\t"
    long = "x" * 40
    assert len(_style.display_token(long)) == _style.MAX_TOKEN_CHARS and _style.display_token(long).endswith("…")


def test_token_axes_thin_out_long_texts():
    from bokeh.plotting import figure

    fig = figure()
    labels = [f"t{i}" for i in range(200)]
    _style.token_ticks(fig.xaxis[0], labels)
    ticks = fig.xaxis[0].ticker.ticks
    assert len(ticks) <= _style.MAX_TOKEN_TICKS and ticks[0] == 0
    assert fig.xaxis[0].major_label_overrides[ticks[1]] == labels[ticks[1]]


# --------------------------------------------------------------------------------------------
# The report's embedded data
# --------------------------------------------------------------------------------------------


def test_pooled_patterns_keep_rows_summing_to_one():
    rng = np.random.default_rng(0)
    raw = np.tril(rng.random((2, 3, 100, 100)))
    patterns = raw / raw.sum(-1, keepdims=True)
    pooled, edges = pool_patterns(patterns, 16)
    assert pooled.shape == (2, 3, 16, 16) and edges[0] == 0 and edges[-1] == 100
    np.testing.assert_allclose(pooled.sum(-1), 1.0, rtol=1e-6)
    # Brute force one cell: mean over the query block of the sum over the key block.
    q0, q1, k0, k1 = edges[5], edges[6], edges[2], edges[3]
    assert pooled[1, 2, 5, 2] == pytest.approx(patterns[1, 2, q0:q1, k0:k1].sum(-1).mean())
    same, _ = pool_patterns(patterns[..., :10, :10], 16)
    assert same is not None and same.shape[-1] == 10


def test_quantized_patterns_are_within_half_a_level():
    values = np.linspace(0, 1, 1001)
    assert np.abs(quantize(values) / 255 - values).max() <= 0.5 / 255 + 1e-12


# --------------------------------------------------------------------------------------------
# Module boundaries
# --------------------------------------------------------------------------------------------


def _module_imports(path: Path) -> set[str]:
    """Modules imported at module level (not inside functions) by the file at ``path``."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_analysis_does_not_import_figures_or_bokeh():
    for path in (PACKAGE / "analysis").glob("*.py"):
        imports = _module_imports(path)
        assert not any("bokeh" in name or "figures" in name for name in imports), (path.name, imports)
    code = "import sys, circuitwidgets, circuitwidgets.analysis; print('bokeh' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_figures_do_not_import_widgets():
    for path in (PACKAGE / "figures").glob("*.py"):
        imports = _module_imports(path)
        assert not any("widgets" in name or "anywidget" in name for name in imports), (path.name, imports)


def test_package_exports_figures_and_report():
    assert cw.figures is figures and cw.report is figures.report
    assert {"figures", "report"} <= set(cw.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        cw.nope  # noqa: B018


def test_patching_grid_draws_each_cell_of_every_grid_shape():
    model = cw.load_pocket_model()
    grids = analysis.patching(model, "a b c d a b c", "a b c e a b c", "logit_diff",
                              at=["heads", "resid_pre", "heads_by_pos"], target=" d", distractor=" e")
    for name, result in grids.items():
        fig = figures.patching_grid(result)
        data = fig.renderers[0].data_source.data
        torch.testing.assert_close(torch.as_tensor(np.asarray(data["value"])), result.values.reshape(-1).float())
        assert fig.name == f"patching-{name}" and "(exact)" in fig.title.text
    rows = figures.patching_grid(grids["heads_by_pos"]).yaxis.major_label_overrides
    assert rows[0] == "L0H0" and rows[5] == "L1H1"
    with pytest.raises(TypeError, match="needs a PatchingResult"):
        figures.patching_grid(grids)


def test_flow_graph_draws_every_node_and_edge_coloured_by_rank():
    small = cw.load_pocket_model("small-4l")
    graph = analysis.flow(small, "def f(x):\n    return x", layers=(2, 4), neurons=3)
    fig = graph.plot()
    assert fig.name == "flow-graph" and fig.title.text.startswith(f"Flow graph: position {graph.position} → ")
    lines, dots = (r.data_source.data for r in fig.renderers[:2])
    assert len(dots["x"]) == len(graph.nodes) and len(lines["xs"]) == len(graph.edges)
    assert dots["rank"] == [n.target_rank for n in graph.nodes]
    assert dots["fill"] == [_style.fill("sequential", figures.flow.rank_value(n.target_rank, graph.d_vocab), 0.0, 1.0)
                            for n in graph.nodes]
    assert {m for m, n in zip(dots["marker"], graph.nodes) if n.kind == "ln"} == {"diamond"}
    on_spine = {n.id for n, y in zip(graph.nodes, dots["y"]) if y == 0}
    assert {"L2 resid_pre", "L2 ln1", "L3 ln2", "ln_final", "output"} <= on_spine
    xs = dict(zip((n.id for n in graph.nodes), dots["x"]))
    assert xs["L2 resid_pre"] < xs["L2 ln1"] < xs["L2 attn"] < xs["L2 resid_mid"] < xs["L2 ln2"] < xs["L3 resid_post"] < xs["ln_final"] < xs["output"]
    assert max(lines["width"]) == pytest.approx(figures.flow.THICKEST)
    assert fig.xaxis.major_label_overrides and set(fig.xaxis.major_label_overrides.values()) == {"L2", "L3"}
    assert len(graph.plot(labels=False).renderers) == len(fig.renderers) - 2
    with pytest.raises(TypeError, match="needs a FlowResult"):
        figures.flow_graph(analysis.logit_attribution(small, "x = 1"))
