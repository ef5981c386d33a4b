"""Benchmark of CompositionGraph on GPT-2 small's 144 heads: Q-, K- and V-composition of all
9,504 head pairs, the random baseline, and the view drawn in JupyterLab.

Run from the repository root (one TransformerLens venv at a time; the browser part needs
Debian's Chromium and the built JavaScript, like the browser tests; ``--no-browser`` skips it)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_composition_graph.py

On the GPT-2-small-shaped random-weight model of ``benchmarks/common.py``. In this process,
each measurement paired with a bare ``run_with_cache`` forward pass on a 256-token text right
before it (``benchmarks.common.Paired``; ratio = median of the paired ratios):

* ``analysis.head_composition`` with the baseline's cache cleared (what the first view of a
  model shape pays) and with it cached (every later view, or another model of the same shape);
* the same scores by the previous method (each pair's ``d_head x d_head`` product of
  QR-reduced factors, one kind at a time), kept here as the reference the speed-up is
  measured against, and checked to give the same numbers;
* ``CompositionGraph(adapter)``: the numbers and everything sent to the browser.

In the browser (JupyterLab, the kernel's 2 torch threads): each repeat one cell runs a bare
forward on the same 256-token text (the ratio's baseline, in the same kernel and minute), then
``w = cw.CompositionGraph(adapter); w``; "drawn" is from the constructor call (kernel wall
clock) until the graph is on the page (the view's ``data-ready-at``, browser wall clock; same
machine), with the baseline's cache cleared first, reported in seconds, as a ratio to that
forward, with the load average, and with the browser's own share (the view's
``data-draw-ms``: decoding, pruning and drawing). Target (issue 21): drawn in under 2 s.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Paired, machine, markdown_table, paired_setup  # noqa: E402
from circuitwidgets import analysis  # noqa: E402
from circuitwidgets.model import transformer_lens_version  # noqa: E402


def previous_method(adapter) -> "torch.Tensor":  # noqa: F821
    """The scores as circuitwidgets computed them before the Gram-matrix form: per kind, every
    pair's ``‖R(W_V) W_O · X R(Y)ᵀ‖_F``, one batched product per writing layer."""
    import torch

    from circuitwidgets.analysis.composition import _factors, _ratio

    w = adapter.weights
    n_layers, n_heads = w.W_Q.shape[:2]
    out = torch.zeros(3, n_layers, n_heads, n_layers, n_heads)
    with torch.inference_mode():
        for k, kind in enumerate(analysis.COMPOSITION_KINDS):
            writer, reader = _factors(w.W_Q, w.W_K, w.W_V, w.W_O, kind)
            writer_norm, reader_norm = writer.flatten(-2).norm(dim=-1), reader.flatten(-2).norm(dim=-1)
            for l1 in range(n_layers - 1):
                products = torch.einsum("adm,lbme->albde", writer[l1], reader[l1 + 1 :])
                denominator = writer_norm[l1][:, None, None] * reader_norm[l1 + 1 :][None]
                out[k, l1, :, l1 + 1 :] = _ratio(products.flatten(-2).norm(dim=-1), denominator)
    return out


def fresh(fn):
    """``fn`` with the baseline's per-process cache cleared first (a first view of this shape)."""

    def run():
        analysis.composition_baseline.cache_clear()
        return fn()

    return run


def in_browser(repeats: int) -> tuple[list[float], list[float], list[float], list[str]]:
    """Each repeat: in the kernel, a bare forward on the 256-token text (the baseline), then
    ``w = cw.CompositionGraph(adapter); w`` from the constructor call until the graph is on the
    page. Returns the drawn times (s), their ratios to the forward just before, the browser's
    share (ms) and the load average at each."""
    from playwright.sync_api import expect

    from benchmarks.common import kernel_setup, lab_notebook

    drawn, ratios, browser_ms, loads = [], [], [], []
    extra = "tokens = adapter.to_tokens(text_of_tokens(adapter.tokenizer, 256))"
    with lab_notebook() as nb:
        assert nb.run(kernel_setup(extra), timeout=600).text() == "ready"
        nb.run("with torch.inference_mode(): model.run_with_cache(tokens)", timeout=600)  # warm-up
        for _ in range(repeats):
            cell = nb.run(
                "import os\ncw.analysis.composition_baseline.cache_clear()\n"
                "f0 = time.perf_counter()\n"
                "with torch.inference_mode(): _ = model.run_with_cache(tokens)\n"
                "forward = time.perf_counter() - f0\ndel _\n"
                "t0 = time.time()\nw = cw.CompositionGraph(adapter)\n"
                "print(t0, forward, '%.2f' % os.getloadavg()[0])\nw",
                timeout=600,
            )
            view = cell.output.locator(".cw-composition-graph")
            expect(view).to_have_attribute("data-ready", "true", timeout=120_000)
            t0, forward, load = cell.text().split()
            drawn.append(int(view.get_attribute("data-ready-at")) / 1000 - float(t0))
            ratios.append(drawn[-1] / float(forward))
            browser_ms.append(float(view.get_attribute("data-draw-ms")))
            loads.append(load)
            print(f"  drawn in {drawn[-1]:.3f} s = {ratios[-1]:.2f}x the forward ({float(forward):.3f} s) just before, "
                  f"of which the browser's decoding and drawing {browser_ms[-1]:.0f} ms; load {load}", flush=True)
    return drawn, ratios, browser_ms, loads


def main() -> None:
    import torch

    from circuitwidgets import CompositionGraph

    no_browser = "--no-browser" in sys.argv
    if no_browser:
        sys.argv.remove("--no-browser")  # paired_setup parses --tokens and --repeats
    setup = paired_setup(__doc__.splitlines()[0], default_tokens=256)
    args, adapter = setup.args, setup.adapter
    adapter.weights  # read once, as a session that has the model in memory has
    torch.testing.assert_close(previous_method(adapter), analysis.head_composition(adapter).scores, rtol=1e-4, atol=1e-6)
    bench = Paired(setup.bare_forward, args.repeats)
    n = args.tokens
    rows = [
        bench.baseline_row(f"bare run_with_cache forward, {n} tokens (baseline)"),
        bench.row("head_composition: Q, K, V of 144 heads + baseline, first of its shape",
                  fresh(lambda: analysis.head_composition(adapter)), "< 2 s"),
        bench.row("head_composition, baseline cached", lambda: analysis.head_composition(adapter)),
        bench.row("  the previous method (d_head x d_head products), for reference", lambda: previous_method(adapter)),
        bench.row("  of which: random baseline (128 draws)",
                  lambda: analysis.composition_baseline.__wrapped__(adapter.d_model, adapter.d_head)),
        bench.row("CompositionGraph(adapter), first of its shape", fresh(lambda: CompositionGraph(adapter)), "< 2 s"),
    ]
    drawn, ratios, browser_ms, loads = ([], [], [], []) if no_browser else in_browser(args.repeats)

    tl = ".".join(map(str, transformer_lens_version()))
    print()
    print(f"TransformerLens {tl}, model class {adapter.kind}; {machine()}")
    print(markdown_table(rows))
    if drawn:
        wall = statistics.median(drawn)
        print(f"\nCompositionGraph drawn in JupyterLab (constructor call -> drawn, baseline not cached), "
              f"median of {len(drawn)}: {wall:.3f} s = {statistics.median(ratios):.2f}x a bare forward in the same kernel "
              f"(load {', '.join(loads)}); target < 2 s: {'met' if wall < 2 else 'NOT met'}; "
              f"of which the browser's decoding, pruning and drawing (data-draw-ms): {statistics.median(browser_ms):.0f} ms")


if __name__ == "__main__":
    main()
