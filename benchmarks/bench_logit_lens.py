"""LogitLens on a GPT-2-small-shaped random model and a 512-token text: the forward pass, the
time from its end to the first complete draw of the page of positions on screen, the time to
fill a page scrolled to, and the bytes that reach the browser.

    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_logit_lens.py [--tokens 512] [--k 10] [--full] [--no-browser | --browser-only]

Prints a Markdown table for BENCHMARKS.md. Two parts:

* In process: the forward pass, one page of the lens (``page_size`` positions, the view's
  default), one attribution, and the bytes of the widget's state and of one page's answer.
  ``--full`` also times the whole lens (every readout x position; tens of seconds), which a
  static export computes and which the view no longer waits for.
* In JupyterLab (the browser tests' harness: a private JupyterLab and Debian's headless
  Chromium through Playwright), a kernel on 2 threads: the widget is built and displayed in
  one cell; "forward end → page drawn" is the view's ``data-page-drawn-at`` (``Date.now()``
  when the page shown was first drawn with every number) minus the wall-clock time at which
  ``analysis.run_text`` returned in the kernel (both clocks are this machine's). Then, with
  the kernel idle, a jump to the first page (not computed yet) until it is drawn complete, and
  a step to a page fetched in the background.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ipywidgets.widgets.widget import _remove_buffers  # noqa: E402

from benchmarks.common import gpt2_small_shaped_model, kernel_setup, machine, text_of_tokens  # noqa: E402
from circuitwidgets.model import transformer_lens_version  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def state_bytes(widget) -> tuple[int, int]:
    """(JSON bytes, binary bytes) of everything the widget syncs when displayed, minus its
    JavaScript/CSS bundle (sent once per widget, the same for any text)."""
    state = widget.get_state()
    for name in ("_esm", "_css"):
        state.pop(name, None)
    plain, _paths, buffers = _remove_buffers(state)
    return len(json.dumps(plain)), sum(memoryview(b).nbytes for b in buffers)


def message_bytes(widget, content: dict) -> tuple[int, int]:
    """(JSON bytes, binary bytes) of the widget's answer to one request of its view
    (``content["type"]`` names it; the rest is the payload)."""
    from circuitwidgets.widgets._channel import REQUEST

    sent = []
    send, widget.send = widget.send, lambda msg, buffers=None: sent.append((msg, buffers or []))
    name, payload = content["type"], {k: v for k, v in content.items() if k != "type"}
    try:
        widget._on_request(widget, {"kind": REQUEST, "id": 1, "name": name, "payload": {"run": widget.run_id, **payload}}, [])
    finally:
        widget.send = send
    ((msg, buffers),) = sent
    return len(json.dumps(msg)), sum(memoryview(b).nbytes for b in buffers)


def in_process(model, text: str, k: int, full: bool) -> list[tuple[str, str]]:
    import circuitwidgets as cw
    from circuitwidgets import analysis
    from circuitwidgets.widgets.logit_lens import PAGE_SIZE

    tokens = len(model.to_str_tokens(text))
    forward, run = timed(lambda: analysis.run_text(model, text, needs=("logit_lens", "attribution")))
    forward2, run = timed(lambda: analysis.run_text(model, text, needs=("logit_lens", "attribution")))
    page = list(range(tokens - PAGE_SIZE, tokens))
    page_s = statistics.median(
        timed(lambda: analysis.logit_lens(model, run, k=k, default_target="final", positions=page))[0] for _ in range(3)
    )
    attr_s, _ = timed(lambda: analysis.logit_attribution(model, run, position=-1, k=8))
    build_s, widget = timed(lambda: cw.LogitLens(model, text, k=k))
    json_b, binary_b = state_bytes(widget)
    page_json, page_binary = message_bytes(widget, {"type": "page", "page": 0, "lens": True, "target": None})
    attr_json, attr_binary = message_bytes(widget, {"type": "attribution", "position": 100, "target": widget._target_at(100)})
    n_pages = -(-tokens // PAGE_SIZE)
    logits = tokens * model.cfg.d_vocab * 4
    rows = [
        ("forward pass (`run_text`, lens + attribution hooks; first / second)", f"{forward:.2f} s / {forward2:.2f} s"),
        (f"one page of the lens ({model.cfg.n_layers + 1} readouts x {PAGE_SIZE} positions x {model.cfg.d_vocab} vocab; median of 3)", f"{page_s:.2f} s"),
        ("`logit_attribution` at one position (incl. every head's top tokens)", f"{attr_s:.2f} s"),
        ("`LogitLens(model, text)`: forward pass + the selected position's page + payload", f"{build_s:.2f} s"),
        ("bytes at display: widget state (text, tokens, the first page)", f"{json_b / 1024:.0f} KiB JSON + {binary_b / 1024:.0f} KiB binary"),
        ("bytes per further page (custom message answer)", f"{page_json / 1024:.1f} KiB JSON + {page_binary / 1024:.0f} KiB binary"),
        ("bytes per attribution (custom message answer)", f"{attr_json / 1024:.1f} KiB JSON + {attr_binary / 1024:.0f} KiB binary"),
        (f"all {n_pages} pages, if the user visits every one", f"{(json_b + binary_b + (n_pages - 1) * (page_json + page_binary)) / 2**20:.2f} MiB"),
        ("for comparison: positions x vocab float32 logits, one readout", f"{logits / 2**20:.0f} MiB"),
    ]
    if full:
        full_s, _ = timed(lambda: analysis.logit_lens(model, run, k=k, default_target="final"))
        rows.append((f"the whole lens ({tokens} positions; what a static export computes)", f"{full_s:.1f} s"))
    return rows


#: After kernel_setup: the text, and the wall-clock time each forward pass ends.
SETUP = """
from circuitwidgets import analysis
text = text_of_tokens(model.tokenizer, {tokens})
forward_ends = []
_run_text = analysis.run_text
def run_text(*args, **kwargs):  # the widget's forward pass, with the wall-clock time it ended
    out = _run_text(*args, **kwargs)
    forward_ends.append(time.time())
    return out
analysis.run_text = run_text
"""

#: In the page, on the view's root: do `action` ("key" on the row of guesses, or "later"),
#: then wait until page `page` is shown drawn complete; returns milliseconds.
MOVE = """async (root, [action, page]) => {
    const t0 = Date.now();
    if (action === 'later') root.querySelector('button[aria-label="Later positions"]').click();
    else root.querySelector('.cw-ll-preds').dispatchEvent(new KeyboardEvent('keydown', {key: action, bubbles: true}));
    while (!(root.dataset.page === String(page) && root.dataset.pageState === 'ready')) {
        await new Promise(r => setTimeout(r, 5));
    }
    return Date.now() - t0;
}"""


#: In the page, on the view's root: redraw the readouts grid `n` times (switching its shading
#: mode, which redraws every cell of the page); returns the [minimum, median] of its own
#: `data-draw-ms` (the minimum: the cost on an idle core; the median also measures the load).
GRID_DRAWS = """async (root, n) => {
    const grid = root.querySelector('.cw-ll-grid');
    const modes = [...root.querySelectorAll('.cw-ll-modes button')];
    const times = [];
    for (let i = 0; i < n; i++) {
        modes[i % modes.length].click();
        await new Promise(r => requestAnimationFrame(() => r()));
        times.push(Number(grid.dataset.drawMs));
    }
    times.sort((a, b) => a - b);
    return [times[0], times[Math.floor(n / 2)]];
}"""


def in_browser(tokens: int, k: int) -> list[tuple[str, str]]:
    from playwright.sync_api import expect, sync_playwright

    from circuitwidgets.widgets.logit_lens import PAGE_SIZE
    from tests.browser import server
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT
    from tests.browser.notebook import open_notebook

    rows: list[tuple[str, str]] = []
    last_page = (tokens - 1) // PAGE_SIZE
    with tempfile.TemporaryDirectory() as home, sync_playwright() as p:
        lab = server.start(Path(home))
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            expect.set_options(timeout=300_000)
            nb = open_notebook(page, lab)
            assert nb.run(kernel_setup(SETUP.format(tokens=tokens)), timeout=600).text() == "ready"
            opens = []
            for i in range(3):
                cell = nb.run(
                    "t = time.time()\n"
                    f"w{i} = cw.LogitLens(model, text, k={k})\n"
                    "print(f'{forward_ends[-1] - t:.4f} {time.time() - forward_ends[-1]:.4f} {forward_ends[-1]:.4f}')\n"
                    f"w{i}",
                    timeout=600,
                )
                view = cell.output.locator(".cw-logit-lens")
                expect(view).to_have_attribute("data-page-drawn-at", re.compile(r"\d+"))
                forward, build_rest, forward_end = map(float, cell.text().splitlines()[0].split())
                drawn = int(view.get_attribute("data-page-drawn-at")) / 1000 - forward_end
                opens.append((forward, build_rest, drawn))
                print(f"  open {i}: forward {forward:.2f} s, then page + payload in the kernel {build_rest:.2f} s, "
                      f"forward end → page drawn {drawn:.2f} s", flush=True)
            forward, build_rest, drawn = sorted(opens, key=lambda o: o[2])[1]
            # The same page's arithmetic alone in this kernel (JupyterLab and Chromium share the CPU).
            page_in_kernel = json.loads(nb.run(
                "import json, statistics\n"
                f"pos = list(range({tokens - PAGE_SIZE}, {tokens}))\n"
                "times = []\n"
                "for _ in range(3):\n"
                "    t = time.perf_counter()\n"
                f"    analysis.logit_lens(adapter, w2.run, k={k}, default_target='final', positions=pos)\n"
                "    times.append(time.perf_counter() - t)\n"
                "print(json.dumps(statistics.median(times)))"
            ).text())
            rows += [
                ("JupyterLab: forward pass inside `LogitLens(...)` (the open with the median draw)", f"{forward:.2f} s"),
                ("JupyterLab: **forward end → first page drawn complete** (median of 3 opens)", f"**{drawn:.2f} s** (opens: "
                 + ", ".join(f"{o[2]:.2f}" for o in opens) + ")"),
                ("  of which: the page's lens and the payload in the kernel", f"{build_rest:.2f} s"),
                ("  for comparison: one page's `logit_lens` alone in the same kernel (median of 3)", f"{page_in_kernel:.2f} s"),
            ]
            # The page before is fetched in the background; once it is here, the kernel is idle.
            expect(view).to_have_attribute("data-ready-count", str(tokens - PAGE_SIZE * (last_page - 1)))
            jump = view.evaluate(MOVE, ["Home", 0])
            print(f"  jump to the first page: {jump} ms", flush=True)
            expect(view).to_have_attribute("data-ready-count", str(tokens - PAGE_SIZE * (last_page - 1) + 2 * PAGE_SIZE))
            step = view.evaluate(MOVE, ["later", 1])
            print(f"  step to the page fetched in the background: {step} ms", flush=True)
            draw_min, draw_median = view.evaluate(GRID_DRAWS, 41)
            print(f"  the grid's redraw of a page: min {draw_min:.2f} ms, median {draw_median:.2f} ms (41)", flush=True)
            rows += [
                ("JupyterLab: jump to a page not computed (Home: positions 0-31), kernel idle → drawn complete", f"{jump / 1000:.2f} s"),
                ("JupyterLab: step to a page fetched in the background (Later ▶) → drawn", f"{step} ms"),
                ("JupyterLab: the readouts grid's redraw of a page (its `data-draw-ms`; 41 mode switches)",
                 f"min {draw_min:.2f} ms, median {draw_median:.2f} ms"),
            ]
        finally:
            browser.close()
            server.stop(lab)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--full", action="store_true", help="also time the whole lens (tens of seconds)")
    parser.add_argument("--no-browser", action="store_true", help="skip the JupyterLab measurements")
    parser.add_argument("--browser-only", action="store_true", help="skip the in-process measurements (e.g. to compare two builds' drawing)")
    args = parser.parse_args()

    rows = []
    if not args.browser_only:
        model = gpt2_small_shaped_model()
        rows += in_process(model, text_of_tokens(model.tokenizer, args.tokens), args.k, args.full)
        del model
    if not args.no_browser:
        rows += in_browser(args.tokens, args.k)

    tl = ".".join(map(str, transformer_lens_version()))
    print(f"\nTransformerLens {tl}; {machine()}\n")
    print(f"GPT-2-small-shaped random model, {args.tokens}-token text, k = {args.k}\n")
    print("| measurement | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
