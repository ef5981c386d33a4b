"""Benchmark of PathExplorer: its order-2 expansion of one position of a 256-token text as a
ratio to the bare forward pass, and the view's request-to-drawn time, GPT-2-small-shaped model.

Run from the repository root (one TransformerLens venv at a time; the browser part needs
Debian's Chromium and the built JavaScript, like the browser tests)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_path_explorer.py [--no-browser]

In this process, paired against the bare forward (``model.run_with_cache(tokens)`` with every
hook cached, under ``torch.inference_mode()``, right before each repeat; see
``benchmarks.common.Paired``), on a random-weight model of GPT-2 small's shape (12 x 12
heads, d_vocab 50257) and a 256-token text:

* ``PathExplorer(model, text)``: the widget, its one forward keeping the paths hooks;
* the ``"expand"`` request at the last position, as the view asks it (order-2 expansion: 144
  head terms and 9,504 pair terms, the top 20 pairs named, each path's top tokens, the ranked
  terms and the reading), its cache emptied first -- in both readings.

In JupyterLab (Chromium): the view's request-to-drawn time -- a click on a token of the strip
(the view's ``data-asked``, set when it sends the ``"expand"`` request) until the waterfall
for that position is drawn (``data-drawn-at``), both on the browser's clock; each click on a
position not asked before, so no cache answers. Target (issue 21): the expansion under 3x one
forward pass.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Paired, kernel_setup, lab_notebook, machine, markdown_table, paired_setup  # noqa: E402


def in_process(setup) -> list:
    import circuitwidgets as cw
    from tests.view_requests import ask

    adapter, text, last = setup.adapter, setup.text, setup.args.tokens - 1
    adapter.weights, adapter.attention_input_norms, adapter.final_norm, adapter.value_bias  # read once
    bench = Paired(setup.bare_forward, setup.args.repeats)
    w = cw.PathExplorer(adapter, text)

    def expand(mode: str):
        w._cache.clear()
        reply = ask(w, "expand", {"run": w.run_id, "position": last, "mode": mode, "target": None})
        assert reply["ok"], reply

    n = setup.args.tokens
    return [
        bench.baseline_row(f"bare run_with_cache forward, {n} tokens (baseline)"),
        bench.row("PathExplorer(model, text): its forward keeping the paths hooks", lambda: cw.PathExplorer(adapter, text)),
        bench.row(f"'expand' request, last of {n} tokens, frozen attention (order 2)", lambda: expand("frozen"), "< 3x forward"),
        bench.row(f"'expand' request, last of {n} tokens, weights only (order 2)", lambda: expand("weights")),
    ]


def in_browser(tokens: int, repeats: int) -> list[float]:
    from playwright.sync_api import expect

    times = []
    with lab_notebook(timeout_ms=300_000) as nb:
        extra = f"text = text_of_tokens(adapter.tokenizer, {tokens})"
        assert nb.run(kernel_setup(extra), timeout=900).text() == "ready"
        view = nb.run("w = cw.PathExplorer(adapter, text)\nw", timeout=600).output.locator(".cw-path-explorer")
        expect(view).to_have_attribute("data-ready", "true", timeout=300_000)
        for i in range(repeats):
            position = tokens - 2 - i
            view.locator(f'.cw-token[data-index="{position}"]').click()
            expect(view).to_have_attribute("data-position", str(position), timeout=300_000)
            times.append((int(view.get_attribute("data-drawn-at")) - int(view.get_attribute("data-asked"))) / 1000)
    return times


def main() -> None:
    browser = "--no-browser" not in sys.argv
    if not browser:
        sys.argv.remove("--no-browser")
    setup = paired_setup(__doc__.splitlines()[0], default_tokens=256)
    from circuitwidgets.model import transformer_lens_version

    rows = in_process(setup)
    print()
    print(f"TransformerLens {'.'.join(map(str, transformer_lens_version()))}, model class {setup.adapter.kind}; {machine()}")
    print(markdown_table(rows))
    if browser:
        times = in_browser(setup.args.tokens, setup.args.repeats)
        print(f"\nview in JupyterLab, token click -> waterfall drawn (browser clock, 2 kernel threads): "
              f"median {statistics.median(times):.3f} s of {', '.join(f'{t:.3f}' for t in times)}")


if __name__ == "__main__":
    main()
