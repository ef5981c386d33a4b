"""Benchmark: ``cw.attention_heads`` against CircuitsVis's ``attention_heads`` on the same arrays.

Run from the repository root (TransformerLens 4 venv; ``circuitsvis`` comes with the ``test``
extra; the JS built with ``npm run build``)::

    OMP_NUM_THREADS=2 PYTHONPATH=. .venv-tl4/bin/python benchmarks/bench_attention_heads.py --tokens 256 1024

For each length ``n`` one random causal pattern ``[12, n, n]`` (one layer of 12 heads,
CircuitsVis's shape; float32 softmaxes of scaled Gaussian scores) goes to both, in one run:

* **python**: the call itself — ours checks the array and computes the thumbnails and head
  scores (no copy of the array); CircuitsVis serializes every weight to JSON.
* **bytes**: ours, what a live widget sends (state JSON including its JS bundle, plus binary
  buffers: 12 thumbnails and the selected head's float16 pattern; other heads when selected)
  and its static export (``heads="selected"``); CircuitsVis, its HTML with the bundle inlined
  (``RenderedHTML.local_src``).
* **drawn**: the page opened from ``file://`` in headless Debian Chromium, from navigation
  until the overview and the full head are drawn (ours: the static export, so it includes
  booting the widget manager; CircuitsVis: its 13 canvases exist plus one frame).
* **head switch**: click another head until it is redrawn (ours: median of 3, in an export
  holding their full patterns; CircuitsVis: "Head 3", two frames).

The CircuitsVis measurements are ``benchmarks/bench_attention_explorer.py``'s (same scripts,
same ``--cv-cap`` seconds per page, its Chromium killed at the cap).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.bench_attention_explorer import ARGS, CHROMIUM, _ms, live_bytes, measure_cv, measure_ours, mib  # noqa: E402
from benchmarks.common import QUICK, machine  # noqa: E402
import circuitwidgets as cw  # noqa: E402

HEADS = 12
SWITCH = [(0, 3), (0, 7), (0, 11)]


def random_causal(n: int, seed: int = 0) -> torch.Tensor:
    """``[HEADS, n, n]`` float32 rows that are softmaxes over keys 0..query."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(n, n, dtype=torch.bool).triu(1)
    return torch.softmax((torch.randn(HEADS, n, n, generator=g) * 3).masked_fill(mask, -torch.inf), dim=-1)


def run_ours(browser, attention: torch.Tensor, tokens: list[str], out: Path) -> dict:
    n = len(tokens)
    t0 = time.perf_counter()
    w = cw.attention_heads(attention, tokens)
    python_s = time.perf_counter() - t0
    total, binary = live_bytes(w)
    several = w.save_html(out / f"ours-{n}.html", heads=SWITCH)
    w.select(0, 0)
    selected = w.save_html(out / f"ours-{n}-selected.html", heads="selected")
    drawn = measure_ours(browser, selected, several, n, SWITCH)
    w.close()
    return {"python_s": python_s, "live_bytes": total, "binary_bytes": binary,
            "export_bytes": selected.stat().st_size, **drawn}


def run_cv(attention: torch.Tensor, tokens: list[str], out: Path, cap: float) -> dict:
    import circuitsvis as cv

    t0 = time.perf_counter()
    html = cv.attention.attention_heads(attention=attention, tokens=tokens).local_src
    python_s = time.perf_counter() - t0
    path = out / f"cv-{len(tokens)}.html"
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{html}</body></html>", encoding="utf-8")
    del html
    return {"python_s": python_s, "bytes": path.stat().st_size, **measure_cv(path, cap)}


def table(rows: list[dict], cap: float) -> str:
    head = ["tokens", "python: ours / CV", "bytes to the browser: ours live (export) / CV HTML", "bytes CV / ours",
            "drawn: ours / CV", "head switch: ours / CV"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        o, c = r["ours"], r["cv"]
        cv_drawn = _ms(c["drawn_ms"]) if c.get("drawn_ms") is not None else f"not drawn in {cap:.0f} s"
        lines.append("| " + " | ".join([
            str(r["tokens"]), f"{o['python_s']:.2f} s / {c['python_s']:.2f} s",
            f"{mib(o['live_bytes'])} ({mib(o['export_bytes'])}) / {mib(c['bytes'])}",
            f"{c['bytes'] / o['live_bytes']:.0f}×", f"{_ms(o['drawn_ms'])} / {cv_drawn}",
            f"{_ms(o['switch_ms'])} / {_ms(c.get('switch_ms'))}",
        ]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--cv-cap", type=float, default=120.0, help="seconds per CircuitsVis page")
    args = parser.parse_args()
    tokens_at = [min(n, 48) for n in args.tokens] if QUICK else args.tokens  # --check: the path, not the numbers
    cap = 30.0 if QUICK else args.cv_cap

    from playwright.sync_api import sync_playwright

    out = Path(tempfile.mkdtemp(prefix="bench-attention-heads-"))
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for n in tokens_at:
            attention = random_causal(n)
            tokens = [f" w{i}" for i in range(n)]
            row = {"tokens": n, "ours": run_ours(browser, attention, tokens, out), "cv": run_cv(attention, tokens, out, cap)}
            print(json.dumps(row), flush=True)
            rows.append(row)
        browser.close()
    print()
    print(f"[{HEADS}, n, n] float32 arrays; {machine()}")
    print(table(rows, cap))


if __name__ == "__main__":
    main()
