"""Benchmark of the circuits between heads: composition of all head pairs and the order-2 path
expansion, on a GPT-2-small-shaped random-weight model.

Run from the repository root (one TransformerLens venv at a time)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_paths.py

Every measurement is reported as time and peak memory, and as a ratio to the bare forward
pass on the same 256-token text in the same run: ``model.run_with_cache(tokens)`` with
TransformerLens's defaults (every hook cached) under ``torch.inference_mode()``, run right
before each repeat of the measurement (see ``benchmarks.common.Paired``).
Targets (issue 21): the composition graph's numbers for all 144 heads and all three kinds well
under 2 s (the view must draw in under 2 s); the order-2 path expansion at one position
(144 head terms and 9,504 pair terms) under 3x one forward pass, its own forward included.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Paired, machine, markdown_table, paired_setup  # noqa: E402
from circuitwidgets import analysis  # noqa: E402
from circuitwidgets.model import transformer_lens_version  # noqa: E402


def main() -> None:
    setup = paired_setup(__doc__.splitlines()[0], default_tokens=256)
    args, adapter, text = setup.args, setup.adapter, setup.text
    adapter.weights, adapter.attention_input_norms, adapter.final_norm, adapter.value_bias  # read once

    bench = Paired(setup.bare_forward, args.repeats)
    run = analysis.run_text(adapter, text, needs=("paths",))
    n, last = args.tokens, args.tokens - 1
    paths = analysis.path_expansion(adapter, run, position=last)
    rows = [
        bench.baseline_row(f"bare run_with_cache forward, {n} tokens (baseline)"),
        bench.row("composition: Q, K and V for all 144 heads + random baseline (first call)",
                  lambda: (analysis.composition_baseline.cache_clear(), analysis.head_composition(adapter)),
                  "well < 2 s"),
        bench.row("  of which: composition scores, one kind", lambda: analysis.composition_scores(adapter, "K")),
        bench.row("  of which: random baseline (128 draws), first call",
                  lambda: analysis.composition_baseline.__wrapped__(adapter.d_model, adapter.d_head)),
        bench.row(f"path expansion, order 2, last of {n} tokens (incl. its forward)",
                  lambda: analysis.path_expansion(adapter, text, position=last), "< 3x forward"),
        bench.row("  of which: forward keeping the paths hooks",
                  lambda: analysis.run_text(adapter, text, needs=("paths",))),
        bench.row("  of which: path expansion, order 2, given the run",
                  lambda: analysis.path_expansion(adapter, run, position=last)),
        bench.row("  of which: path expansion, order 1, given the run",
                  lambda: analysis.path_expansion(adapter, run, position=last, order=1)),
        bench.row(f"path expansion, order 2, position {n // 2} (given the run)",
                  lambda: analysis.path_expansion(adapter, run, position=n // 2)),
    ]

    tl = ".".join(map(str, transformer_lens_version()))
    print()
    print(f"TransformerLens {tl}, model class {adapter.kind}; {machine()}")
    print(markdown_table(rows))
    labels, values = paths.terms()
    print(
        f"\nOrder-2 expansion at position {last}: {int((paths.pairs != 0).sum())} pair terms, "
        f"{len(labels)} named terms; they add up to {float(values.sum()):.5f}, the model's logit "
        f"is {float(paths.logit):.5f}."
    )


if __name__ == "__main__":
    main()
