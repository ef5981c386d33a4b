"""Benchmark: AttentionExplorer on long texts against one bare forward pass, in one run.

Run from the repository root (TransformerLens 4 venv)::

    OMP_NUM_THREADS=2 PYTHONPATH=. .venv-tl4/bin/python benchmarks/bench_long_context.py --tokens 1024
    OMP_NUM_THREADS=2 PYTHONPATH=. .venv-tl4/bin/python benchmarks/bench_long_context.py --tokens 4096 --no-kept

(``--no-kept`` skips the float16-kept comparison, 4.8 GB at 4,096 tokens.)

The Llama-3.2-1B-shaped curve (bfloat16, TransformerLens 4; ``--llama-layers`` of its 16)::

    OMP_NUM_THREADS=2 PYTHONPATH=. .venv-tl4/bin/python benchmarks/bench_long_context.py --llama-layers 2 --tokens 1024 4096 16384

For each length, in one process: the bare one-pass forward ``model(tokens)`` where its eager
attention fits in memory (one layer's scores are ``32 x seq^2`` float32: 32 GiB a copy at
16,384 tokens, so not there); ``AttentionExplorer(model, text)``; a head switch (what the
browser asks for another head: up to 2,048 tokens its whole pattern, the ``"pattern"`` request;
on a longer text the view draws the head's thumbnail at once and asks ``"block"`` for the
hovered query's row and the 512 x 512 region on screen), beside one whole pattern computed
from q and k; the process's resident memory after the build against the model's weights and
one layer's activations.

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

from benchmarks.common import QUICK, _status_kib, gpt2_small_shaped_model, machine, measure, steady_malloc, text_of_tokens, timed  # noqa: E402

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


#: Llama-3.2-1B's shape (its config on the Hub), random weights.
LLAMA_1B = dict(
    hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
    num_key_value_heads=8, head_dim=64, vocab_size=128256, max_position_embeddings=131072,
    rope_theta=500000.0, tie_word_embeddings=True, rms_norm_eps=1e-5,
)


#: The one-pass forward runs where this many float32 copies of a layer's scores fit in ...
ONE_PASS_COPIES = 4
#: ... this much memory (a 24 GiB machine shared with others).
ONE_PASS_LIMIT = 12 * GIB


def llama_1b_shaped(n_layers: int):
    """A random-weight bfloat16 Llama-3.2-1B-shaped model with ``n_layers`` of its 16 layers,
    as a bridge, and the bytes of its weights."""
    import torch
    import transformers

    import circuitwidgets as cw
    from benchmarks.common import gpt2_tokenizer

    config = transformers.LlamaConfig(**dict(LLAMA_1B, num_hidden_layers=n_layers))
    torch.manual_seed(0)
    hf = transformers.LlamaForCausalLM(config).to(torch.bfloat16).eval()
    weights = sum(p.numel() * p.element_size() for p in hf.parameters())
    return cw.from_hugging_face(hf, tokenizer=gpt2_tokenizer()), weights


def llama_weights_bytes(n_layers: int) -> int:
    """The bfloat16 weights of a Llama-3.2-1B shape with ``n_layers`` layers (tied embedding)."""
    c = LLAMA_1B
    d, kv = c["hidden_size"], c["num_key_value_heads"] * c["head_dim"]
    layer = d * d * 2 + d * kv * 2 + 3 * d * c["intermediate_size"] + 2 * d
    return 2 * (c["vocab_size"] * d + n_layers * layer + d)


def run_llama_length(model, weights: int, n_tokens: int) -> dict:
    import torch

    import circuitwidgets as cw
    from circuitwidgets.analysis.on_demand import rows_per_pass

    adapter = cw.ModelAdapter(model)
    text = text_of_tokens(model.tokenizer, n_tokens)
    tokens = adapter.to_tokens(text)
    assert tokens.shape[-1] == n_tokens
    row = dict(tokens=n_tokens, rows=rows_per_pass(adapter.n_heads, n_tokens))
    one_layer_scores = adapter.n_heads * n_tokens**2 * 4
    if one_layer_scores * ONE_PASS_COPIES <= ONE_PASS_LIMIT:  # else it cannot fit on this machine
        def forward():
            with torch.inference_mode():
                return model(tokens, return_type="logits")

        f, pf, _, logits = _held(forward)
        del logits
        row.update(forward_s=f, forward_peak=pf)
    gc.collect()
    rss_before = _status_kib("VmRSS") * 1024
    e, pe, he, widget = _held(lambda: cw.AttentionExplorer(model, text))
    rss_after = _status_kib("VmRSS") * 1024
    request = {"layer": adapter.n_layers - 1, "head": 5, "run": widget.run_id}
    if widget._long_text:
        # A long text's view draws the new head's thumbnail at once (the browser has it) and asks
        # the kernel for what the pointer and the zoom need: the hovered query's row at full
        # resolution and the region on screen (a 512 x 512 block at the end of the text).
        box = min(n_tokens, 512)
        row_ask = {**request, "rows": [n_tokens - 1, n_tokens], "cols": [0, n_tokens], "side": n_tokens}
        block_ask = {**request, "rows": [n_tokens - box, n_tokens], "cols": [n_tokens - box, n_tokens], "side": box}
        switch, _ = timed(lambda: (widget._block_request(row_ask), widget._block_request(block_ask)), repeats=3)
        switch_kind = f"row + {box}² block"
    else:
        switch, _ = timed(lambda: widget._pattern_request(request), repeats=3)
        switch_kind = "whole pattern"
    compute, _ = timed(lambda: widget.store.patterns.pattern(adapter.n_layers - 1, 7), repeats=3)
    row.update(
        explorer_s=e, explorer_peak=pe, explorer_held=he, rss_before=rss_before, rss_after=rss_after,
        store_bytes=widget.store.patterns.nbytes, switch_s=switch, switch_kind=switch_kind, pattern_s=compute,
        one_layer_scores=one_layer_scores, weights=weights, passes_reason=adapter.passes_reason,
    )
    widget.close()
    del widget
    print(
        f"  {n_tokens} tokens ({row['rows']} rows a pass): "
        + (f"forward {row['forward_s']:.1f} s (peak +{row['forward_peak'] / GIB:.2f} GiB), " if "forward_s" in row else "no one-pass forward, ")
        + f"explorer {e:.1f} s (peak +{pe / GIB:.2f} GiB, held {he / GIB:.2f} GiB, store {row['store_bytes'] / 2**20:.0f} MiB), "
        f"RSS after {rss_after / GIB:.2f} GiB, head switch {switch:.3f} s ({switch_kind}; whole pattern alone {compute:.3f} s) "
        f"{row['passes_reason']}",
        flush=True,
    )
    return row


def llama_table(rows: list[dict]) -> str:
    head = ["tokens", "rows a pass", "one-pass forward", "explorer", "explorer / forward", "forward peak",
            "explorer peak", "store (q, k, normalizers)", "held after build", "process RSS after build",
            "head switch (requests)", "a whole pattern"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        has = "forward_s" in r
        lines.append("| " + " | ".join([
            str(r["tokens"]), str(r["rows"] or "one pass"),
            f"{r['forward_s']:.1f} s" if has else f"— ({r['one_layer_scores'] / GIB:.0f} GiB a copy)",
            f"{r['explorer_s']:.1f} s", f"**{r['explorer_s'] / r['forward_s']:.2f}×**" if has else "—",
            f"+{r['forward_peak'] / GIB:.2f} GiB" if has else "—", f"+{r['explorer_peak'] / GIB:.2f} GiB",
            f"{r['store_bytes'] / 2**20:.0f} MiB", f"{r['explorer_held'] / GIB:.2f} GiB",
            f"{r['rss_after'] / GIB:.2f} GiB", f"{r['switch_s']:.3f} s ({r['switch_kind']})", f"{r['pattern_s']:.3f} s",
        ]) + " |")
    return "\n".join(lines)


def main_llama(n_layers: int, tokens: list[int]) -> None:
    steady_malloc()
    model, weights = llama_1b_shaped(n_layers)
    assert weights == llama_weights_bytes(n_layers), (weights, llama_weights_bytes(n_layers))
    import circuitwidgets as cw

    cw.AttentionExplorer(model, text_of_tokens(model.tokenizer, 32)).close()  # warm-up: first-call costs
    print(machine(), flush=True)
    print(f"Llama-3.2-1B shape, {n_layers} of 16 layers, bfloat16: weights {weights / GIB:.2f} GiB "
          f"(all 16 layers: {llama_weights_bytes(16) / GIB:.2f} GiB)", flush=True)
    rows = [run_llama_length(model, weights, n) for n in tokens]
    print(llama_table(rows))
    print(machine())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--no-kept", action="store_true", help="skip the float16-kept comparison")
    parser.add_argument("--llama-layers", type=int, default=0, help="the Llama-3.2-1B-shaped curve, with this many layers")
    args = parser.parse_args()
    if args.llama_layers:
        main_llama(args.llama_layers, sorted({min(n, 256) for n in args.tokens}) if QUICK else args.tokens)
        return
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
