"""analysis.flow on a GPT-2-small-shaped random model and a 512-token text: the forward pass
(the baseline), the time from its end to the graph of one position, and the graph's size
under several pruning settings.

    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_flow.py [--tokens 512] [--repeats 5]

Prints a Markdown table for BENCHMARKS.md. "bytes (JSON)" is the graph's nodes and edges as
JSON (what a view would be sent today, before any binary packing); "bound" is
``FlowResult.nbytes()``.
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

from benchmarks.common import gpt2_small_shaped_model, machine, text_of_tokens  # noqa: E402
from circuitwidgets import ModelAdapter, analysis  # noqa: E402
from circuitwidgets.model import transformer_lens_version  # noqa: E402

#: (label, pruning keywords) measured, smallest first.
SETTINGS = [
    ("defaults (3 heads, 3 values, 5 neurons)", {}),
    ("6 heads, 5 values, 20 neurons", dict(heads=6, memory=5, neurons=20)),
    ("all 12 heads, 10 values, 50 neurons", dict(heads=None, memory=10, neurons=50)),
]


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def json_bytes(graph) -> int:
    return len(json.dumps({"nodes": [dataclasses.asdict(n) for n in graph.nodes],
                           "edges": [dataclasses.asdict(e) for e in graph.edges]}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model = ModelAdapter(gpt2_small_shaped_model())  # one adapter: its weights are read once
    text = text_of_tokens(model.tokenizer, args.tokens)
    analysis.flow(model, analysis.run_text(model, "warm up", needs=("flow",)))
    forward, run = median_time(lambda: analysis.run_text(model, text, needs=("flow",)), args.repeats)
    print(f"TransformerLens {'.'.join(map(str, transformer_lens_version()))}, {args.tokens} tokens; {machine()}\n")
    print(f"forward pass keeping the flow's activations (baseline): {forward:.3f} s\n")
    print("| pruning | forward end → graph | ratio to forward | nodes | edges | bytes (JSON) | bound (`nbytes()`) |")
    print("|---|---|---|---|---|---|---|")
    for label, options in SETTINGS:
        seconds, graph = median_time(lambda: analysis.flow(model, run, -1, **options), args.repeats)
        print(f"| {label} | {seconds:.3f} s | {seconds / forward:.2f} | {len(graph.nodes)} | {len(graph.edges)} "
              f"| {json_bytes(graph):,} | {graph.nbytes():,} |")


if __name__ == "__main__":
    main()
