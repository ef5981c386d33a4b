"""analysis.flow and the FlowGraph view on a GPT-2-small-shaped random model and a 512-token
text: the forward pass (the baseline), the time from its end to the graph of one position, the
graph's size under several pruning settings, and -- with ``--browser`` -- the time from
``w.position = k`` in a JupyterLab cell (the forward pass is reused, so this is "end of the
forward pass -> drawn") until the view has drawn the new graph.

    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_flow.py [--tokens 512] [--repeats 5] [--browser]

Prints Markdown tables for BENCHMARKS.md. "bytes (JSON)" is the graph's nodes and edges as
JSON (a plain dump of the dataclasses); "bound" is ``FlowResult.nbytes()``; "sent" is what
FlowGraph actually sends (``FlowGraphState``: the JSON part plus its binary buffers). Each time
has the wall time and the CPU time this process (or the kernel) spent: on a shared machine the
wall time is mostly waiting for a core.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import gpt2_small_shaped_model, lab_notebook, machine, text_of_tokens, timed  # noqa: E402
from circuitwidgets import ModelAdapter, analysis  # noqa: E402
from circuitwidgets.model import transformer_lens_version  # noqa: E402

#: (label, pruning keywords) measured, smallest first.
SETTINGS = [
    ("defaults (3 heads, 3 values, 5 neurons)", {}),
    ("defaults without the norm nodes (`norms=False`)", dict(norms=False)),
    ("6 heads, 5 values, 20 neurons", dict(heads=6, memory=5, neurons=20)),
    ("all 12 heads, 10 values, 50 neurons", dict(heads=None, memory=10, neurons=50)),
]


def json_bytes(graph) -> int:
    return len(json.dumps({"nodes": [dataclasses.asdict(n) for n in graph.nodes],
                           "edges": [dataclasses.asdict(e) for e in graph.edges]}))


def sent_bytes(graph) -> int:
    """What FlowGraph sends for ``graph``: its payload's JSON part plus its binary buffers."""
    from circuitwidgets.widgets._payloads import FlowGraphState
    from circuitwidgets.widgets._transport import split_buffers

    message, buffers = split_buffers(FlowGraphState(graph).encode())
    return len(json.dumps(message)) + sum(b.nbytes for b in buffers)


def cpu_and_wall(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``fn()``."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


BROWSER_SETUP = """
import time
import circuitwidgets as cw
from benchmarks.common import gpt2_small_shaped_model, text_of_tokens
model = cw.ModelAdapter(gpt2_small_shaped_model())
text = text_of_tokens(model.tokenizer, {tokens})
w = cw.FlowGraph(model, text)
print("ready")
"""


def in_browser(tokens: int, repeats: int) -> list[tuple[float, float]]:
    """``(wall, kernel CPU)`` from ``w.position = k`` in a cell until the view has drawn it."""
    from playwright.sync_api import expect

    out = []
    with lab_notebook(timeout_ms=300_000) as nb:
        assert nb.run(BROWSER_SETUP.format(tokens=tokens), timeout=900).text() == "ready"
        view = nb.run("w").output.locator(".cw-flow-graph")
        expect(view).to_have_attribute("data-ready", "true", timeout=300_000)
        for i in range(repeats + 1):  # the first is a warm-up
            k = tokens - 2 - i
            t0 = float(nb.run(f"t0, c0 = time.time(), time.process_time()\nw.position = {k}\nprint(t0)").text())
            expect(view).to_have_attribute("data-position", str(k), timeout=300_000)
            wall = int(view.get_attribute("data-drawn-at")) / 1000 - t0
            cpu = float(nb.run("print(time.process_time() - c0)").text())
            if i:
                out.append((wall, cpu))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--browser", action="store_true", help="also time w.position = k -> drawn in JupyterLab")
    args = parser.parse_args()
    model = ModelAdapter(gpt2_small_shaped_model())  # one adapter: its weights are read once
    text = text_of_tokens(model.tokenizer, args.tokens)
    # The model's first graph pays what is computed once per model: the q/k recipe's probe and
    # the norms' random-vector controls (remembered on the adapter).
    first, _ = timed(lambda: analysis.flow(model, analysis.run_text(model, "warm up", needs=("flow",))), 1)
    forward, run = timed(lambda: analysis.run_text(model, text, needs=("flow",)), args.repeats)
    kept = sum(t.numel() * t.element_size() for t in run.cache.values())
    patterns = model.n_layers * model.n_heads * args.tokens**2 * 4
    print(f"TransformerLens {'.'.join(map(str, transformer_lens_version()))}, {args.tokens} tokens; {machine()}\n")
    print(f"the model's first graph (once per model: q/k probe, the norms' random controls): {first:.3f} s")
    print(f"forward pass keeping the flow's activations (baseline): {forward:.3f} s")
    print(f"activations the run keeps: {kept / 2**20:.1f} MiB (every head's float32 pattern would add {patterns / 2**20:.1f} MiB)\n")
    print("| pruning | forward end → graph (wall) | CPU | ratio to forward (wall) | nodes | edges | bytes (JSON) | bound (`nbytes()`) | sent by FlowGraph |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, options in SETTINGS:
        seconds, cpu, graph = cpu_and_wall(lambda: analysis.flow(model, run, -1, **options), args.repeats)
        print(f"| {label} | {seconds:.3f} s | {cpu:.3f} s | {seconds / forward:.2f} | {len(graph.nodes)} | {len(graph.edges)} "
              f"| {json_bytes(graph):,} | {graph.nbytes():,} | {sent_bytes(graph):,} |")
    if args.browser:
        timings = in_browser(args.tokens, args.repeats)
        wall = statistics.median(t[0] for t in timings)
        cpu = statistics.median(t[1] for t in timings)
        print("\n| FlowGraph, default pruning | wall | kernel CPU |")
        print("|---|---|---|")
        print(f"| `w.position = k` in JupyterLab → drawn (forward pass reused) | {wall:.3f} s | {cpu:.3f} s |")
        print(f"target < 1 s: wall {'met' if wall < 1 else 'NOT met'}, kernel CPU {'met' if cpu < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
