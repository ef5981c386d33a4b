"""Benchmark of the analysis core on a GPT-2-small-shaped random-weight model.

Run from the repository root (one TransformerLens venv at a time)::

    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_analysis.py

Every measurement is reported as time and peak memory, and as a ratio to the bare forward
pass on the same 512-token text in the same run: ``model.run_with_cache(tokens)`` with
TransformerLens's defaults (every hook cached) under ``torch.inference_mode()``, run right
before each repeat of the measurement (see ``benchmarks.common.Paired``).
Targets (issue 4): copying scores for all heads under 1 s; logit lens + attribution under
1.5x the bare forward pass; never a vocab x vocab or (positions x d_vocab x layers) tensor.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import GPT2_SMALL, Paired, machine, markdown_table, paired_setup  # noqa: E402
from circuitwidgets import analysis  # noqa: E402
from circuitwidgets.model import ModelAdapter, transformer_lens_version  # noqa: E402


def main() -> None:
    setup = paired_setup(__doc__.splitlines()[0], default_tokens=512)
    args, model, adapter, text = setup.args, setup.model, setup.adapter, setup.text

    def lens_and_attribution():
        run = analysis.run_text(adapter, text, needs=("logit_lens", "attribution"))
        return analysis.logit_lens(adapter, run), analysis.logit_attribution(adapter, run, position=-1)

    bench = Paired(setup.bare_forward, args.repeats)
    run = analysis.run_text(adapter, text, needs=("logit_lens", "attribution"))
    sources = torch.arange(1000, 1100)
    n = args.tokens
    rows = [
        bench.baseline_row(f"bare run_with_cache forward, {n} tokens (baseline)"),
        bench.row("copying scores, all 144 heads (full OV)", lambda: analysis.copying_scores(adapter), "< 1 s"),
        bench.row("copying scores, cold (weights read from the model first)",
                  lambda: analysis.copying_scores(ModelAdapter(model)), "< 1 s"),
        bench.row("full-OV top-10 map, one head x 100 sources",
                  lambda: analysis.ov_token_map(adapter, 5, 3, sources, k=10)),
        bench.row("reverse OV map (sources for one target), one head",
                  lambda: analysis.ov_sources_for(adapter, 5, 3, 262, k=10)),
        bench.row(f"logit lens + attribution, {n} tokens (incl. its forward)", lens_and_attribution,
                  "< 1.5x forward"),
        bench.row("  of which: forward keeping lens + attribution hooks",
                  lambda: analysis.run_text(adapter, text, needs=("logit_lens", "attribution"))),
        bench.row("  of which: logit lens, all positions", lambda: analysis.logit_lens(adapter, run)),
        bench.row("  of which: attribution, one position", lambda: analysis.logit_attribution(adapter, run, -1)),
        bench.row("logit lens, last 32 positions only (given the run)",
                  lambda: analysis.logit_lens(adapter, run, positions=range(-32, 0))),
        bench.row(f"attention patterns, {n} tokens (incl. forward)", lambda: analysis.attention_patterns(adapter, text)),
        bench.row("head scores, all 3 kinds, default experiment (4 x 101 tokens)",
                  lambda: analysis.all_head_scores(adapter)),
        bench.row("composition scores, Q", lambda: analysis.composition_scores(adapter, "Q")),
    ]

    tl = ".".join(map(str, transformer_lens_version()))
    forward, lens = forward_macs(n), lens_macs(n)
    print()
    print(f"TransformerLens {tl}, model class {adapter.kind}; {machine()}")
    print(markdown_table(rows))
    print(
        f"\nMatrix-multiply work at {n} tokens: forward {forward / 1e9:.1f} G multiply-adds, logit lens "
        f"{lens / 1e9:.1f} G ({lens / forward:.2f}x the forward), so lens + its forward >= "
        f"{1 + lens / forward:.2f}x a bare forward on any machine."
    )


def forward_macs(seq: int) -> int:
    """Multiply-adds of one forward pass of the benchmark model over ``seq`` tokens: per token
    the Q/K/V/O projections, the MLP and the unembedding, plus the seq x seq attention."""
    c = GPT2_SMALL
    width = c["n_heads"] * c["d_head"]
    per_token = c["n_layers"] * (4 * c["d_model"] * width + 2 * c["d_model"] * c["d_mlp"])
    per_token += c["d_model"] * c["d_vocab"] + c["n_layers"] * 2 * seq * width
    return per_token * seq


def lens_macs(seq: int) -> int:
    """Multiply-adds of the logit lens: n_layers + 1 unembeddings of seq residual vectors."""
    c = GPT2_SMALL
    return (c["n_layers"] + 1) * seq * c["d_model"] * c["d_vocab"]


if __name__ == "__main__":
    main()
