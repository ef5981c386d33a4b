"""LogitLens on a GPT-2-small-shaped random model and a 512-token text: where the time goes,
how many bytes reach the browser, and how long the browser takes to draw them.

    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_logit_lens.py [--tokens 512] [--k 10]

Prints a Markdown table for BENCHMARKS.md. The browser part opens a static export of the
widget in Debian's Chromium (headless, through Playwright) and reads the view's own timing
(``data-draw-ms``) and the time from loading the page to ``data-ready``; it is skipped when
Chromium is missing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from ipywidgets.widgets.widget import _remove_buffers

from benchmarks.common import gpt2_small_shaped_model, machine, text_of_tokens

CHROMIUM = Path("/usr/bin/chromium")


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def state_bytes(widget) -> tuple[int, int, dict[str, int]]:
    """(JSON bytes, binary bytes, binary bytes per trait) of everything the widget syncs,
    minus its JavaScript/CSS bundle (sent once per widget, the same for any text)."""
    state = widget.get_state()
    for name in ("_esm", "_css"):
        state.pop(name, None)
    plain, paths, buffers = _remove_buffers(state)
    per_trait: dict[str, int] = {}
    for path, buf in zip(paths, buffers):
        per_trait[path[0]] = per_trait.get(path[0], 0) + memoryview(buf).nbytes
    return len(json.dumps(plain)), sum(per_trait.values()), per_trait


def browser_timing(widget) -> dict[str, float] | None:
    if not CHROMIUM.exists():
        return None
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lens.html"
        widget.save_html(path)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            start = time.perf_counter()
            page.goto(path.as_uri())
            view = page.locator(".cw-logit-lens")
            view.wait_for(state="attached", timeout=120_000)
            page.wait_for_function("() => document.querySelector('.cw-logit-lens')?.dataset.ready === 'true'", timeout=120_000)
            ready = time.perf_counter() - start
            draw_ms = float(view.get_attribute("data-draw-ms"))
            grid_ms = float(page.locator(".cw-ll-grid").get_attribute("data-draw-ms"))
            # One slider step, from the key press to the new row painted (measured in the page).
            step_ms = page.evaluate(
                """async () => {
                    const handle = document.querySelector('.cw-logit-lens [role=slider]');
                    const before = handle.getAttribute('aria-valuenow');
                    const t0 = performance.now();
                    handle.dispatchEvent(new KeyboardEvent('keydown', {key: 'Home', bubbles: true}));
                    while (handle.getAttribute('aria-valuenow') === before) await new Promise(r => setTimeout(r, 0));
                    return performance.now() - t0;
                }"""
            )
            browser.close()
    return {"page_to_ready_s": ready, "first_draw_ms": draw_ms, "grid_draw_ms": grid_ms, "slider_step_ms": step_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    import circuitwidgets as cw
    from circuitwidgets import analysis

    model = gpt2_small_shaped_model()
    text = text_of_tokens(model.tokenizer, args.tokens)
    d_vocab, n_read = model.cfg.d_vocab, model.cfg.n_layers + 1

    forward, run = timed(lambda: analysis.run_text(model, text, needs=("logit_lens", "attribution")))
    lens_s, _ = timed(lambda: analysis.logit_lens(model, run, k=args.k, default_target="final"))
    attr_s, _ = timed(lambda: analysis.logit_attribution(model, run, position=-1, k=8))
    widget = cw.LogitLens(model, text, k=args.k)  # the same forward pass and lens again, untimed
    payload_s, _ = timed(lambda: (widget._lens_payload(), widget._attribution_payload(widget.position, None)))
    state_s, (json_bytes, binary_bytes, per_trait) = timed(lambda: state_bytes(widget))
    ask_s, _ = timed(lambda: widget._attribution_payload(100, None))  # what one click on a position costs
    target_s, _ = timed(lambda: setattr(widget, "target", " the"))
    widget.target = None
    full = args.tokens * d_vocab * 4
    browser = browser_timing(widget)

    print(f"Machine: {machine()}\n")
    print(f"GPT-2-small-shaped random model ({model.cfg.n_layers} layers, d_vocab {d_vocab}), "
          f"{args.tokens}-token text, k = {args.k}\n")
    rows = [
        ("forward pass (`run_text`, lens + attribution hooks)", f"{forward:.2f} s"),
        (f"`logit_lens` ({n_read} readouts x {args.tokens} positions x {d_vocab} vocab)", f"{lens_s:.2f} s"),
        ("`logit_attribution` at one position (incl. every head's top tokens)", f"{attr_s:.2f} s"),
        ("payload: lens and attribution as wire arrays (after the analysis)", f"{payload_s * 1000:.0f} ms"),
        ("widget state serialized for the comm (`get_state`)", f"{state_s * 1000:.0f} ms"),
        ("another position's attribution (a click; custom message)", f"{ask_s:.2f} s"),
        ("a new target token (its probability and rank everywhere)", f"{target_s:.2f} s"),
        ("bytes sent: JSON", f"{json_bytes / 1024:.0f} KiB"),
        ("bytes sent: binary", f"{binary_bytes / 1024:.0f} KiB ("
         + ", ".join(f"{k} {v / 1024:.0f}" for k, v in sorted(per_trait.items())) + ")"),
        ("for comparison: positions x vocab float32 logits", f"{full / 2**20:.0f} MiB"),
    ]
    if browser:
        rows += [
            ("browser: static export loaded to drawn (page load, state decode, first draw)", f"{browser['page_to_ready_s']:.2f} s"),
            ("browser: first draw of the view (`data-draw-ms`)", f"{browser['first_draw_ms']:.0f} ms"),
            ("browser: one grid draw", f"{browser['grid_draw_ms']:.0f} ms"),
            ("browser: one slider step (key press to row repainted)", f"{browser['slider_step_ms']:.0f} ms"),
        ]
    print("| measurement | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
