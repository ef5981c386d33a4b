"""Ablating a head in JupyterLab: from the key press to the new prediction drawn.

    .venv-tl4/bin/python benchmarks/bench_ablation.py [--tokens 64] [--repeats 5]

In the browser tests' JupyterLab (Debian headless Chromium, the model already in the kernel),
an ``AttentionExplorer`` of the text is shown; a head's thumbnail is clicked and A pressed,
and the time is taken in the page from the key press until the ablation panel has drawn the new
numbers for that head (its ``data-state`` "ready" with that head in ``data-heads``, layout
forced). A again brings the head back; the next head is measured the same way. The first
ablation of the session also computes the text's clean prediction (in the same pass, as a
second row) and checks the model's shortcuts inside that pass (``ModelAdapter``: the readout at
the last residual stream, rows joining the batch mid-pass; a third row and row 0's own logits),
so it is reported apart from the median of the ``--repeats`` that follow (each a different
head). A new text's first ablation alone (``analysis.Ablator``, shortcuts known) is timed in the
kernel too.

Two models: the pocket model (target: under 0.5 s) and a GPT-2-small-shaped random model with
GPT-2's tokenizer (target: under 1.5x one forward pass). The baseline, one forward pass of the
same text (``ModelAdapter.forward_logits``, the model's own logits), is timed in the same
kernel before and after each model's clicks (the mean of the two medians); the ratio is
click / forward, for the first click and for the median of the later ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import kernel_setup, lab_notebook, machine  # noqa: E402
from circuitwidgets.model import transformer_lens_version  # noqa: E402

#: After kernel_setup: the pocket model, the text of each model, and a forward-pass timer.
SETUP = """
import json, statistics
pocket = cw.load_pocket_model()
texts = {{"pocket": " ".join("abcdefghijklmnop" * 4)[: 2 * {tokens} - 3], "gpt2": text_of_tokens(model.tokenizer, {tokens})}}
models = {{"pocket": pocket, "gpt2": model}}
def forward_ms(name, repeats):
    adapter = cw.ModelAdapter(models[name])
    tokens = adapter.to_tokens(texts[name])
    adapter.forward_logits(tokens)  # warm
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); adapter.forward_logits(tokens); times.append(1000 * (time.perf_counter() - t))
    return json.dumps(dict(ms=statistics.median(times), tokens=int(tokens.shape[-1])))
def new_text_ms(name, repeats):  # a text's first ablation in the kernel (its clean run too), probes done
    times = []
    for i in range(repeats):
        ablator = cw.analysis.Ablator(models[name], texts[name][: len(texts[name]) - 2 - i])
        t = time.perf_counter(); ablator.ablate([(0, 1)], "zero", positions=-1); times.append(1000 * (time.perf_counter() - t))
    return json.dumps(statistics.median(times))
"""

#: In the page, on the view's root: click head `label`'s thumbnail, press A, wait until the
#: ablation panel shows that head ablated; returns milliseconds from the key press.
ABLATE = """async (root, [label, heads]) => {
  const tile = [...root.querySelectorAll('.cw-ae-thumb')].find(e => e.getAttribute('aria-label') === label);
  tile.click();
  const panel = root.querySelector('.cw-ablation');
  const t0 = performance.now();
  tile.dispatchEvent(new KeyboardEvent('keydown', {key: 'a', bubbles: true}));
  while (!(panel.dataset.state === 'ready' && panel.dataset.heads === heads)) {
    await new Promise(r => requestAnimationFrame(r));
    if (performance.now() - t0 > 120000) return null;
  }
  document.body.offsetHeight;
  return performance.now() - t0;
}"""

#: Press A again on the same head: back to no ablation (no kernel request).
RESTORE = """async (root) => {
  root.querySelector('.cw-ae-thumb[aria-pressed="true"]').dispatchEvent(new KeyboardEvent('keydown', {key: 'a', bubbles: true}));
  const panel = root.querySelector('.cw-ablation');
  while (panel.dataset.state !== 'idle') await new Promise(r => requestAnimationFrame(r));
}"""


def measure(nb, name: str, repeats: int) -> dict:
    from playwright.sync_api import expect

    view = nb.run(f"w = cw.AttentionExplorer(models[{name!r}], texts[{name!r}])\nw", timeout=600).output.locator(".cw-attention-explorer")
    expect(view).to_have_attribute("data-ready", "true", timeout=300_000)
    n_layers, n_heads = json.loads(nb.run("print(json.dumps([w.n_layers, w.n_heads]))").text())
    repeats_f = max(5, repeats)
    forward_before = json.loads(nb.run(f"print(forward_ms({name!r}, {repeats_f}))").text())
    heads = [(n_layers - 1, 0)] + [((i * 5) % n_layers, (i * 7 + 1) % n_heads) for i in range(repeats)]
    clicks = []
    for layer, head in heads:
        ms = view.evaluate(ABLATE, [f"layer {layer} head {head}", f"L{layer}H{head}"])
        assert ms is not None, (name, layer, head)
        clicks.append(ms)
        view.evaluate(RESTORE)
        print(f"  {name}: L{layer}H{head} ablated and drawn in {ms:.0f} ms", flush=True)
    checked = json.loads(nb.run("w.ablated = [(0, 0)]\na = w.ablation()\nprint(json.dumps(float(a.probs_after[0])))").text())
    assert 0 <= checked <= 1
    forward_after = json.loads(nb.run(f"print(forward_ms({name!r}, {repeats_f}))").text())
    new_text = json.loads(nb.run(f"print(new_text_ms({name!r}, {repeats_f}))").text())
    nb.run("w.close(); del w")
    forward = (forward_before["ms"] + forward_after["ms"]) / 2
    return dict(first_ms=clicks[0], later_ms=statistics.median(clicks[1:]), later_max_ms=max(clicks[1:]),
                forward_ms=forward, new_text_ms=new_text, tokens=forward_before["tokens"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="text length (BOS included) on the GPT-2-shaped model")
    parser.add_argument("--repeats", type=int, default=5, help="heads ablated after the first (median)")
    args = parser.parse_args()
    results = {}
    with lab_notebook(timeout_ms=300_000) as nb:
        assert nb.run(kernel_setup(SETUP.format(tokens=args.tokens)), timeout=600).text() == "ready"
        for name in ("pocket", "gpt2"):
            results[name] = measure(nb, name, args.repeats)
    print(f"\nTransformerLens {'.'.join(map(str, transformer_lens_version()))}; {machine()}\n")
    print("| model | tokens | first ablation in the session: key press → drawn (/ forward) "
          "| later ablations: key press → drawn (median, max) "
          "| one forward pass (same kernel) | later / forward | target | a new text's first ablation, kernel only (/ forward) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, target in (("pocket", "< 500 ms"), ("gpt2", "< 1.5x forward")):
        r = results[name]
        label = "pocket (attn-only-2l)" if name == "pocket" else "GPT-2-small-shaped"
        print(f"| {label} | {r['tokens']} | {r['first_ms']:.0f} ms ({r['first_ms'] / r['forward_ms']:.2f}x) "
              f"| {r['later_ms']:.0f} ms (max {r['later_max_ms']:.0f} ms) "
              f"| {r['forward_ms']:.0f} ms | {r['later_ms'] / r['forward_ms']:.2f}x | {target} "
              f"| {r['new_text_ms']:.0f} ms ({r['new_text_ms'] / r['forward_ms']:.2f}x) |")


if __name__ == "__main__":
    main()
