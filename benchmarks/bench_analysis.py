"""Benchmark of the analysis core on a GPT-2-small-shaped random-weight model.

Run from the repository root (one TransformerLens venv at a time)::

    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_analysis.py

Every measurement is reported as time and peak memory, and as a ratio to the bare forward
pass on the same 512-token text in the same run: ``model.run_with_cache(tokens)`` with
TransformerLens's defaults (every hook cached) under ``torch.inference_mode()``.
Targets (issue 4): copying scores for all heads under 1 s; logit lens + attribution under
1.5x the bare forward pass; never a vocab x vocab or (positions x d_vocab x layers) tensor.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    Row,
    gpt2_small_shaped_model,
    machine,
    markdown_table,
    measure,
    steady_malloc,
    text_of_tokens,
)
from circuitwidgets import analysis  # noqa: E402
from circuitwidgets.model import ModelAdapter, transformer_lens_version  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512, help="text length in tokens (BOS included)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median time)")
    args = parser.parse_args()

    steady_malloc()
    started = time.perf_counter()
    model = gpt2_small_shaped_model(n_ctx=1024)
    adapter = ModelAdapter(model)
    text = text_of_tokens(adapter.tokenizer, args.tokens)
    tokens = adapter.to_tokens(text)
    assert tokens.shape[1] == args.tokens
    print(f"model built in {time.perf_counter() - started:.1f} s: {adapter!r}", flush=True)

    def bare_forward():
        with torch.inference_mode():
            return model.run_with_cache(tokens)

    measure(bare_forward, repeats=1)  # warm-up: first-call allocations and lazy inits
    base_s, base_mem, _ = measure(bare_forward, args.repeats)

    def row(name: str, fn, note: str = "", repeats: int = args.repeats) -> Row:
        seconds, peak, _ = measure(fn, repeats)
        print(f"  {name}: {seconds:.3f} s, {peak / 2**20:.0f} MiB", flush=True)
        return Row(name, seconds, peak, base_s, base_mem, note)

    def lens_and_attribution():
        run = analysis.run_text(adapter, text, needs=("logit_lens", "attribution"))
        return analysis.logit_lens(adapter, run), analysis.logit_attribution(adapter, run, position=-1)

    run = analysis.run_text(adapter, text, needs=("logit_lens", "attribution"))
    sources = torch.arange(1000, 1100)
    rows = [
        Row(f"bare run_with_cache forward, {args.tokens} tokens (baseline)", base_s, base_mem, base_s, base_mem),
        row("copying scores, all 144 heads (full OV)", lambda: analysis.copying_scores(adapter), "< 1 s"),
        row("copying scores, cold (weights read from the model first)",
            lambda: analysis.copying_scores(ModelAdapter(model)), "< 1 s"),
        row("full-OV top-10 map, one head x 100 sources",
            lambda: analysis.ov_token_map(adapter, 5, 3, sources, k=10)),
        row("reverse OV map (sources for one target), one head",
            lambda: analysis.ov_sources_for(adapter, 5, 3, 262, k=10)),
        row(f"logit lens + attribution, {args.tokens} tokens (incl. its forward)", lens_and_attribution,
            "< 1.5x forward"),
        row("  of which: forward keeping lens + attribution hooks",
            lambda: analysis.run_text(adapter, text, needs=("logit_lens", "attribution"))),
        row("  of which: logit lens, all positions", lambda: analysis.logit_lens(adapter, run)),
        row("  of which: attribution, one position", lambda: analysis.logit_attribution(adapter, run, -1)),
        row("logit lens, last 32 positions only (given the run)",
            lambda: analysis.logit_lens(adapter, run, positions=range(-32, 0))),
        row(f"attention patterns, {args.tokens} tokens (incl. forward)", lambda: analysis.attention_patterns(adapter, text)),
        row("head scores, all 3 kinds, default experiment (4 x 101 tokens)",
            lambda: analysis.all_head_scores(adapter)),
        row("composition scores, Q", lambda: analysis.composition_scores(adapter, "Q")),
    ]

    tl = ".".join(map(str, transformer_lens_version()))
    print()
    print(f"TransformerLens {tl}, model class {adapter.kind}; {machine()}")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
