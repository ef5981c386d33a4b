"""PatchingExplorer's heads-by-position grid at GPT-2 small's size, in JupyterLab: drawing it
and answering a click, a hover and the arrow keys.

    .venv-tl4/bin/python benchmarks/bench_patching_grid.py [--tokens 64] [--repeats 7]

In the browser tests' JupyterLab (Debian headless Chromium), a ``PatchingExplorer`` of a
``--tokens``-token prompt pair on the GPT-2-small-shaped random model (12 layers x 12 heads:
144 rows, one column per position; 9,216 cells at 64 tokens). Every grid's attribution
estimate is already in the page when it opens, so opening the "Heads by position" tab is
drawing only: it is timed in the page from the tab's click until the grid is drawn and laid
out (after the microtasks the view's updates run in; layout forced), and until two animation
frames later (painted). The "Heads" tab (144 cells) is drawn the same way as the baseline. On
the drawn grid, each of ``--repeats`` times: a click on a cell (until it is marked selected), the
pointer onto a cell (until its hover card shows), and ArrowRight on the selected cell (until the
next one is focused and selected), each with layout forced. The page side works on either way
the grid is drawn (a button per cell, or one canvas: canvas_grid.ts), so the same script
measures the view before and after it drew large grids on a canvas. Medians and maxima in
milliseconds; the targets are under 100 ms to draw and under 50 ms a click.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import kernel_setup, lab_notebook, machine  # noqa: E402
from circuitwidgets.model import transformer_lens_version  # noqa: E402

#: After kernel_setup: the prompt pair (bench_patching.py's) and the view.
SETUP = """
import json
from benchmarks.bench_patching import prompt_pair
clean, corrupted = prompt_pair(model, {tokens})
"""

#: In the page: helpers on the view's root that work on either way the grid is drawn (one
#: button per cell, or one canvas): the grid shown, a cell's centre, whether a cell is marked
#: selected and where the keyboard's cursor is.
HELPERS = """
const grid = (root) => [...root.querySelectorAll('.cw-pe-grid')].find(g => !g.hidden);
const canvasOf = (root) => grid(root).querySelector('canvas');
const button = (root, row, col) => grid(root).querySelector(`.cw-pe-cell[data-row="${row}"][data-col="${col}"]`);
const centre = (root, row, col) => {
  const c = canvasOf(root);
  const el = c || button(root, row, col);
  const r = el.getBoundingClientRect();
  if (!c) return {el, x: r.left + r.width / 2, y: r.top + r.height / 2};
  return {el, x: r.left + (col + 0.5) * r.width / Number(c.dataset.cols), y: r.top + (row + 0.5) * r.height / Number(c.dataset.rows)};
};
const marked = (root, row, col) => {
  const c = canvasOf(root);
  if (!c) return button(root, row, col).getAttribute('aria-pressed') === 'true';
  const m = grid(root).querySelector('.cw-pe-marked');
  return !m.hidden && m.dataset.row === String(row) && m.dataset.col === String(col);
};
const until = async (root, t0, done) => {
  await Promise.resolve(); await Promise.resolve();  // the shared selection updates in a microtask
  while (!done()) {
    if (performance.now() - t0 > 5000) return null;
    await new Promise(r => requestAnimationFrame(r));
  }
  grid(root).getBoundingClientRect();
  return performance.now() - t0;
};
"""

#: Click tab `name`; time until the grid is drawn and laid out, and until two animation
#: frames later (painted); returns [drawn ms, painted ms, cells].
DRAW = """async (root, name) => {""" + HELPERS + """
  const tab = [...root.querySelectorAll('[role="tab"]')].find(t => t.textContent.trim() === name);
  const t0 = performance.now();
  tab.click();
  await Promise.resolve(); await Promise.resolve();
  grid(root).getBoundingClientRect();
  const drawn = performance.now() - t0;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const c = canvasOf(root);
  const cells = c ? Number(c.dataset.rows) * Number(c.dataset.cols) : grid(root).querySelectorAll('.cw-pe-cell').length;
  return [drawn, performance.now() - t0, cells, Boolean(c)];
}"""

#: Click cell (row, col); time until it is marked selected, layout forced.
CLICK = """async (root, [row, col]) => {""" + HELPERS + """
  const {el, x, y} = centre(root, row, col);
  const t0 = performance.now();
  el.dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: x, clientY: y}));
  return until(root, t0, () => marked(root, row, col));
}"""

#: The pointer onto cell (row, col); time until the hover card shows `label`, layout forced.
HOVER = """async (root, [row, col, label]) => {""" + HELPERS + """
  const {el, x, y} = centre(root, row, col);
  const t0 = performance.now();
  el.dispatchEvent(new PointerEvent(canvasOf(root) ? 'pointermove' : 'pointerover', {bubbles: true, clientX: x, clientY: y}));
  return until(root, t0, () => [...document.querySelectorAll('.cw-tooltip')].some(t => !t.hidden && t.textContent.includes(label)));
}"""

#: ArrowRight with cell (row, col) selected and focused; time until (row, col + 1) is.
KEY = """async (root, [row, col]) => {""" + HELPERS + """
  const {el} = centre(root, row, col);
  el.focus();
  const t0 = performance.now();
  el.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
  const next = canvasOf(root) ? canvasOf(root) : button(root, row, col + 1);
  return until(root, t0, () => marked(root, row, col + 1) && document.activeElement === next);
}"""


def summary(times: list[float]) -> str:
    return f"{statistics.median(times):.1f} ms (max {max(times):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="prompt length (BOS included)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import expect

    with lab_notebook(timeout_ms=300_000) as nb:
        assert nb.run(kernel_setup(SETUP.format(tokens=args.tokens)), timeout=600).text() == "ready"
        out = nb.run("w = cw.PatchingExplorer(model, clean, corrupted)\nw", timeout=600).output
        view = out.locator(".cw-patching-explorer")
        expect(view).to_have_attribute("data-ready", "true", timeout=300_000)
        n_layers, n_heads, seq = json.loads(nb.run("print(json.dumps([w.n_layers, w.n_heads, len(w.clean_tokens)]))").text())
        draws = {"Heads": [], "Heads by position": []}
        for _ in range(args.repeats):
            for name in draws:
                draws[name].append(view.evaluate(DRAW, name))
        cells = draws["Heads by position"][0][2]
        assert cells == n_layers * n_heads * seq, cells
        clicks, hovers, keys = [], [], []
        for i in range(args.repeats):
            layer, head, pos = (5 * i) % n_layers, (7 * i + 1) % n_heads, (11 * i + 3) % (seq - 1)
            row = layer * n_heads + head
            clicks.append(view.evaluate(CLICK, [row, pos]))
            hovers.append(view.evaluate(HOVER, [row, pos, f"layer {layer} head {head} position {pos}"]))
            keys.append(view.evaluate(KEY, [row, pos]))
        assert None not in clicks + hovers + keys, (clicks, hovers, keys)
        view.screenshot(path=str(Path(tempfile.gettempdir()) / "bench_patching_grid.png"))
    print(f"\nTransformerLens {'.'.join(map(str, transformer_lens_version()))}; {machine()}\n")
    drawn_as = "one canvas" if draws["Heads by position"][0][3] else "one button per cell"
    print(f"GPT-2-small-shaped, {seq} tokens: heads by position = {n_layers * n_heads} x {seq} = {cells} cells, drawn as {drawn_as}\n")
    print("| what | median (max), ms |")
    print("|---|---|")
    for name, rows in draws.items():
        print(f"| open the {name!r} tab ({rows[0][2]} cells): drawn, layout done | {summary([r[0] for r in rows])} |")
        print(f"| open the {name!r} tab: next frame painted | {summary([r[1] for r in rows])} |")
    print(f"| click a cell: selection marked | {summary(clicks)} |")
    print(f"| pointer over a cell: tooltip shown | {summary(hovers)} |")
    print(f"| ArrowRight: next cell focused and selected | {summary(keys)} |")


if __name__ == "__main__":
    main()
