"""Activation patching on a GPT-2-small-shaped random model and a 64-token prompt pair.

    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_patching.py [--tokens 64] [--repeats 3]

Prints Markdown tables for BENCHMARKS.md:

(a) The exact head-output grid (12 x 12 = 144 cells; every position of one head's ``z``
    patched from the clean run) by ``analysis.patching(..., at="heads")`` against
    TransformerLens's ``get_act_patch_attn_head_out_all_pos`` (one forward pass per cell) on the
    same model, prompts and metric, measured back to back (target: at least 5x faster). The
    two grids are compared too (largest difference).
(b) Attribution patching of the per-position head grid (12 x 12 x 64 = 9,216 cells) by
    ``analysis.attribution_patching(..., at="heads_by_pos")`` against one forward pass plus one
    backward pass of the metric into the model's parameters (target: under 3x).

Each ratio is the median of paired runs (baseline, then the measured function, back to back):
by hand for (a), whose baseline takes minutes on a shared machine (``--repeats``, default 1),
through ``benchmarks.common.Paired`` (3 repeats at least) for (b).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.common import Paired, Row, gpt2_small_shaped_model, machine, markdown_table, measure, steady_malloc, text_of_tokens  # noqa: E402
from circuitwidgets import ModelAdapter, analysis  # noqa: E402
from circuitwidgets.model import transformer_lens_version  # noqa: E402


def prompt_pair(model, n_tokens: int) -> tuple[str, str]:
    """A clean text of ``n_tokens`` tokens and a corrupted copy with one word swapped for
    another single-token word near the middle (same length, checked)."""
    clean = text_of_tokens(model.tokenizer, n_tokens)
    words = clean.split(" ")
    middle = len(words) // 2
    for i in list(range(middle, len(words))) + list(range(middle)):
        if words[i] in ("the", "and", "of", "a"):
            swapped = words[:i] + [{"the": "a", "a": "the", "and": "or", "of": "in"}[words[i]]] + words[i + 1 :]
            corrupted = " ".join(swapped)
            if model.to_tokens(corrupted).shape == model.to_tokens(clean).shape:
                return clean, corrupted
    raise ValueError("could not corrupt the text without changing its length")  # pragma: no cover


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    steady_malloc()
    from transformer_lens import patching as tl_patching

    model = gpt2_small_shaped_model(n_ctx=max(128, args.tokens))
    adapter = ModelAdapter(model)
    clean, corrupted = prompt_pair(model, args.tokens)
    clean_tokens, corrupted_tokens = adapter.to_tokens(clean), adapter.to_tokens(corrupted)
    # Target and distractor: the tokens whose logits the corruption moves most, down and up, so
    # the metric's clean - corrupted gap (the normalization's denominator) is as large as this
    # random model allows; with a tiny gap, float32 noise in the logits is magnified.
    shift = adapter.forward_logits(clean_tokens)[0, -1] - adapter.forward_logits(corrupted_tokens)[0, -1]
    target, distractor = int(shift.argmax()), int(shift.argmin())
    kwargs = dict(target=target, distractor=distractor)
    grid = analysis.patching(adapter, clean, corrupted, "logit_diff", at="heads", **kwargs)  # warm-up too
    clean_value, corrupted_value = grid.clean_metric, grid.corrupted_metric

    def tl_metric(logits):
        diff = logits[0, -1, target] - logits[0, -1, distractor]
        return (diff - corrupted_value) / (clean_value - corrupted_value)

    def transformer_lens_grid():
        with torch.no_grad():
            _, clean_cache = model.run_with_cache(clean_tokens)
            return tl_patching.get_act_patch_attn_head_out_all_pos(model, corrupted_tokens, clean_cache, tl_metric)

    def ours():
        return analysis.patching(adapter, clean, corrupted, "logit_diff", at="heads", **kwargs)

    print(f"{machine()}; TransformerLens {'.'.join(map(str, transformer_lens_version()))}, {type(model).__name__}")
    print("(a) exact head-output grid, 144 cells")
    # TransformerLens's grid takes minutes on a loaded machine, so (a) pairs the runs by hand:
    # each repeat times TransformerLens, then ours; the first TransformerLens grid is compared.
    ratios, tl_times, our_times, tl_peak, our_peak, difference = [], [], [], 0, 0, None
    for _ in range(args.repeats):
        result = {}
        tl_s, tl_bytes = measure(lambda: result.update(theirs=transformer_lens_grid()))
        our_s, our_bytes = measure(lambda: result.update(ours=ours()))
        if difference is None:
            difference = float((torch.as_tensor(result["theirs"]).float() - result["ours"].values).abs().max())
        ratios.append(tl_s / our_s)
        tl_times.append(tl_s)
        our_times.append(our_s)
        tl_peak, our_peak = max(tl_peak, tl_bytes), max(our_peak, our_bytes)
        print(f"  TransformerLens {tl_s:.1f} s, ours {our_s:.1f} s: {tl_s / our_s:.2f}x faster", flush=True)
    print(f"prompt pair: {clean_tokens.shape[-1]} tokens; logit difference clean {clean_value:.4f}, corrupted "
          f"{corrupted_value:.4f}; grid passes {grid.passes}, {grid.rows_per_pass} rows per pass; largest "
          f"difference to TransformerLens {difference:.2e} (normalized), "
          f"{difference * abs(clean_value - corrupted_value):.2e} (logits)")
    tl_median = statistics.median(tl_times)
    rows_a = [
        Row("TransformerLens get_act_patch_attn_head_out_all_pos", tl_median, 1.0, tl_peak, 1.0),
        Row("analysis.patching(at='heads')", statistics.median(our_times), 1 / statistics.median(ratios),
            our_peak, our_peak / max(tl_peak, 1), f"≥ 5x faster: {statistics.median(ratios):.2f}x"),
    ]

    print("(b) attribution patching, per-position head grid")
    params = [p for p in model.parameters() if p.requires_grad]

    def forward_backward():
        logits = model(corrupted_tokens)
        (logits[0, -1, target] - logits[0, -1, distractor]).backward()
        for p in params:
            p.grad = None

    paired_b = Paired(forward_backward, repeats=max(3, args.repeats))
    rows_b = [
        paired_b.baseline_row("one forward + backward (metric into the parameters)"),
        paired_b.row(
            "analysis.attribution_patching(at='heads_by_pos')",
            lambda: analysis.attribution_patching(adapter, clean, corrupted, "logit_diff", at="heads_by_pos", **kwargs),
            "< 3x",
        ),
    ]
    print()
    print(markdown_table(rows_a).replace("time / forward", "time / TransformerLens").replace("peak / forward", "peak / TransformerLens"))
    print()
    print(markdown_table(rows_b).replace("time / forward", "time / fwd+bwd").replace("peak / forward", "peak / fwd+bwd"))


if __name__ == "__main__":
    main()
