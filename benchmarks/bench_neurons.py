"""analysis.always_on_neurons over 100,000 tokens of the pocket models' held-out corpus, on the
pocket model with MLPs (small-4l), against plain forward passes over the same windows.

    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_neurons.py [--tokens 100000] [--corpus-times 2]

Prints a Markdown table row for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine  # noqa: E402
import circuitwidgets as cw  # noqa: E402
from circuitwidgets import analysis  # noqa: E402
from circuitwidgets.analysis.neurons import _default_texts, _windows  # noqa: E402
from circuitwidgets.model import transformer_lens_version  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--corpus-times", type=int, default=1,
                        help="read the default corpus this many times over (it holds ~54,500 tokens)")
    args = parser.parse_args()
    adapter = cw.ModelAdapter(cw.load_pocket_model("small-4l"))
    texts = list(_default_texts()) * args.corpus_times
    start = time.perf_counter()
    for window in _windows(adapter, texts, args.tokens):  # the baseline: forward passes only
        adapter.forward_logits(window)
    forward = time.perf_counter() - start
    start = time.perf_counter()
    found = analysis.always_on_neurons(adapter, texts, max_tokens=args.tokens)
    seconds = time.perf_counter() - start
    print(f"TransformerLens {'.'.join(map(str, transformer_lens_version()))}; {machine()}\n")
    print("| tokens | forward passes alone | always_on_neurons | ratio | neurons kept (top 100, share 0.5) |")
    print("|---|---|---|---|---|")
    print(f"| {found.n_tokens:,} | {forward:.1f} s | {seconds:.1f} s | {seconds / forward:.2f} | {len(found.layers)} |")


if __name__ == "__main__":
    main()
