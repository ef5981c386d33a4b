"""Benchmark: AttentionExplorer on long texts against one bare forward pass, in one run.

Run from the repository root (TransformerLens 4 venv)::

    OMP_NUM_THREADS=2 PYTHONPATH=. .venv-tl4/bin/python benchmarks/bench_long_context.py --tokens 1024
    OMP_NUM_THREADS=2 PYTHONPATH=. .venv-tl4/bin/python benchmarks/bench_long_context.py --tokens 4096 --no-kept

(``--no-kept`` skips the float16-kept comparison, 4.8 GB at 4,096 tokens.)

On a GPT-2-small-shaped random-weight model (12 layers x 12 heads, ``benchmarks.common``) built
with ``n_ctx = max(1024, longest text)``, for each text length, in one process, back to back:

* **forward**: the bare forward pass users call, ``model(tokens)`` (logits included), before
  and after the view (the baseline is the mean of the two);
* **explorer**: ``AttentionExplorer(model, text)``, everything the view computes before it can
  draw (the forward pass keeping queries and keys, entropy, BOS share and thumbnails block by
  block, the repeated-random-token head scores, the selected head's full pattern);
* **kept (before)**: what the store did before patterns were computed on demand, every
  head's pattern kept as float16 (``attention_by_layer`` with a float16 copy per layer), for
  comparison.

Peak memory is the rise of the process's resident set above where it stood before each step
(``benchmarks.common.measure``: Linux's high-water mark, reset before each step, with
``steady_malloc`` so freed memory leaves the process); "held" is what stays resident after the
step while its result is alive. The targets (issue 18): explorer time <= 1.2 x forward, explorer
peak <= forward peak + 0.5 GB.
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import QUICK, _status_kib, gpt2_small_shaped_model, machine, measure, steady_malloc, text_of_tokens  # noqa: E402

GIB = 2**30


def _held(fn):
    """``(seconds, peak rise, bytes still resident afterwards, result)`` of ``fn()``."""
    box = {}
    gc.collect()
    before = _status_kib("VmRSS")
    seconds, peak = measure(lambda: box.update(result=fn()))
    held = (_status_kib("VmRSS") - before) * 1024
    return seconds, peak, held, box["result"]


def _kept_patterns(model, text):
    from circuitwidgets import analysis

    kept = {}
    analysis.attention_by_layer(model, text, lambda layer, p: kept.update({layer: p.half()}))
    return kept


def run_length(model, n_tokens: int, with_kept: bool) -> dict:
    import torch

    import circuitwidgets as cw

    text = text_of_tokens(model.tokenizer, n_tokens)
    tokens = model.to_tokens(text)
    assert tokens.shape[-1] == n_tokens

    def forward():
        with torch.inference_mode():
            return model(tokens, return_type="logits")

    f1, p1, _, logits = _held(forward)
    del logits
    e, pe, he, widget = _held(lambda: cw.AttentionExplorer(model, text))
    store_bytes, reason = widget.store.patterns.nbytes, widget.store.reason
    widget.close()
    del widget
    f2, p2, _, logits = _held(forward)
    del logits
    row = dict(
        tokens=n_tokens, forward_s=(f1 + f2) / 2, forward_peak=max(p1, p2), explorer_s=e,
        explorer_peak=pe, explorer_held=he, store_bytes=store_bytes, reason=reason,
    )
    if with_kept:
        k, pk, hk, kept = _held(lambda: _kept_patterns(model, text))
        del kept
        row.update(kept_s=k, kept_peak=pk, kept_held=hk)
    print(
        f"  {n_tokens} tokens: forward {row['forward_s']:.1f} s (peak +{row['forward_peak'] / GIB:.2f} GiB), "
        f"explorer {e:.1f} s = {e / row['forward_s']:.2f}x (peak +{pe / GIB:.2f} GiB, held {he / GIB:.2f} GiB, "
        f"store {store_bytes / 2**20:.0f} MiB){' ' + reason if reason else ''}",
        flush=True,
    )
    return row


def table(rows: list[dict]) -> str:
    head = ["tokens", "forward", "explorer", "explorer / forward", "forward peak", "explorer peak",
            "explorer peak − forward peak", "held after build", "store (q, k, normalizers)"]
    if "kept_s" in rows[0]:
        head += ["kept float16 (before): time", "peak", "held"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            str(r["tokens"]), f"{r['forward_s']:.1f} s", f"{r['explorer_s']:.1f} s",
            f"**{r['explorer_s'] / r['forward_s']:.2f}×**", f"+{r['forward_peak'] / GIB:.2f} GiB",
            f"+{r['explorer_peak'] / GIB:.2f} GiB", f"**{(r['explorer_peak'] - r['forward_peak']) / GIB:+.2f} GiB**",
            f"{r['explorer_held'] / GIB:.2f} GiB", f"{r['store_bytes'] / 2**20:.0f} MiB",
        ]
        if "kept_s" in r:
            cells += [f"{r['kept_s']:.1f} s", f"+{r['kept_peak'] / GIB:.2f} GiB", f"{r['kept_held'] / GIB:.2f} GiB"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--no-kept", action="store_true", help="skip the float16-kept comparison")
    args = parser.parse_args()
    tokens = sorted({min(n, 256) for n in args.tokens}) if QUICK else args.tokens
    steady_malloc()
    model = gpt2_small_shaped_model(n_ctx=max(1024, *tokens))
    import circuitwidgets as cw

    cw.AttentionExplorer(model, text_of_tokens(model.tokenizer, 32)).close()  # warm-up: first-call costs
    print(machine(), flush=True)
    rows = [run_length(model, n, not args.no_kept) for n in tokens]
    print(table(rows))


if __name__ == "__main__":
    main()
