"""Frame times of AttentionExplorer on a 16,384-token text in JupyterLab (issue 18, point 4).

A random model of n_ctx 16384 with tiny sizes (one layer, one head, d_model 16: the forward
pass is not what is measured here) and the GPT-2 tokenizer, on English prose of exactly 16,384
tokens. Headless Chromium runs with vsync and the frame-rate limit off, so animation frames
follow each other as fast as the page can make them: the time between two frames is what
that frame cost (script, style, layout, paint). Each frame does one step of what a person does:

* **scroll**: the token strip scrolled by 40 px (a wheel notch is about 100);
* **hover (row)**: the pointer moved 1 px along a row of the zoomed-out heatmap (one query:
  its row is fetched once, the hover card and the token strip follow);
* **hover (column)**: moved 1 px down a column (a new query every few frames: rows fetched);
* **hover (zoomed)**: moved 1 px diagonally over a full-resolution block;
* **idle**: nothing (the baseline, in the same run).

Reported: the median and 95th percentile frame time per step kind (target: median < 16 ms),
and the ratio of each median to idle's. Run::

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1 .venv-tl4/bin/python benchmarks/bench_long_text.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import QUICK, machine  # noqa: E402

SETUP = """
import sys
sys.path.insert(0, {repo!r})
import circuitwidgets as cw
from benchmarks.common import gpt2_tokenizer, text_of_tokens
tok = gpt2_tokenizer()
cfg = dict(n_layers=1, d_model=16, d_head=8, n_heads=1, n_ctx={n}, d_vocab=tok.vocab_size,
           act_fn="gelu_new", d_mlp=32, normalization_type="LN", seed=0)
model = cw.build_model(cfg, None, tok)
w = cw.AttentionExplorer(model, text_of_tokens(tok, {n}))
print(w.store.seq_len)
"""

#: One measurement: `frames` animation frames, each doing `step(i)`; the intervals between them.
FRAMES_JS = """
async ([kind, frames]) => {
  const view = document.querySelector('.cw-attention-explorer');
  const scroller = view.querySelector('.cw-ae-tokens .cw-token-scroll');
  const plot = view.querySelector('.cw-ae-head .cw-heatmap-plot');
  const box = plot.getBoundingClientRect();
  const move = (x, y) => plot.dispatchEvent(new PointerEvent('pointermove', {
    bubbles: true, clientX: box.left + x, clientY: box.top + y, pointerId: 1, pointerType: 'mouse' }));
  const steps = {
    idle: () => {},
    scroll: (i) => { scroller.scrollTop += 40; },
    hover_row: (i) => move(20 + (i % 200), box.height * 0.8),
    hover_column: (i) => move(box.width * 0.2, 60 + (i % 400)),
    hover_zoomed: (i) => move(40 + (i % 300), 60 + (i % 300)),
  };
  const step = steps[kind];
  const times = [];
  await new Promise((done) => {
    let i = 0;
    const tick = (t) => {
      times.push(t);
      if (i >= frames) return done();
      step(i++);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const gaps = times.slice(1).map((t, j) => t - times[j]).slice(5);  // the first frames warm up
  return gaps;
}
"""


def stats(gaps: list[float]) -> dict:
    s = sorted(gaps)
    return {"median": s[len(s) // 2], "p95": s[int(len(s) * 0.95)], "frames": len(s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=4096 if QUICK else 16384)  # quick: still a long text
    parser.add_argument("--frames", type=int, default=60 if QUICK else 240)
    args = parser.parse_args()

    import tempfile

    from playwright.sync_api import expect, sync_playwright

    from tests.browser import server
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.browser.notebook import open_notebook

    print(machine(), flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as home, sync_playwright() as p:
        lab = server.start(Path(home))
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=[*CHROMIUM_ARGS, "--disable-gpu-vsync", "--disable-frame-rate-limit"],
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(300_000)
            nb = open_notebook(page, lab)
            repo = str(Path(__file__).resolve().parent.parent)
            assert nb.run(SETUP.format(repo=repo, n=args.tokens), timeout=900).text() == str(args.tokens)
            view = nb.run("w").output.locator(".cw-attention-explorer")
            expect(view).to_have_attribute("data-ready", "true")
            view.locator(".cw-ae-head .cw-heatmap-plot").scroll_into_view_if_needed()
            for kind in ("idle", "scroll", "hover_row", "hover_column"):
                results[kind] = stats(page.evaluate(FRAMES_JS, [kind, args.frames]))
                print(kind, results[kind], flush=True)
            # zoom in until the view is a full-resolution block, then hover over it
            heatmap = view.locator(".cw-ae-head .cw-heatmap")
            view.locator(".cw-ae-head .cw-heatmap-plot").focus()
            for _ in range(12):
                if int(heatmap.get_attribute("data-span")) < 256:
                    break
                span = heatmap.get_attribute("data-span")
                page.keyboard.press("+")
                expect(heatmap).not_to_have_attribute("data-span", span, timeout=60_000)
            expect(view.locator(".cw-ae-head")).not_to_have_attribute("data-tile", "", timeout=300_000)
            results["hover_zoomed"] = stats(page.evaluate(FRAMES_JS, ["hover_zoomed", args.frames]))
            print("hover_zoomed", results["hover_zoomed"], flush=True)
        finally:
            browser.close()
            server.stop(lab)
    idle = results["idle"]["median"]
    print("\n| step | median frame (ms) | p95 (ms) | median / idle |")
    print("|---|---|---|---|")
    for kind, r in results.items():
        print(f"| {kind} | {r['median']:.1f} | {r['p95']:.1f} | {r['median'] / idle:.2f}x |")
    print(machine())
    print(json.dumps(results))


if __name__ == "__main__":
    main()
