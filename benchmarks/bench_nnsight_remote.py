"""Bytes a remote (NDIF) run sends back per AttentionExplorer action, against a naive
``.save()`` of the activations the action needs: computed from shapes on a Llama-3-8B-shaped
model, and checked against what a real trace saved on a tiny local model.

No 8B weights and no network: the 8B model is ``nnsight.LanguageModel`` over a folder that
holds only Llama-3-8B's config (so its weights are on the meta device, as a remote user's are);
its adapter gives the trace plan (which module outputs each action reads), and the reducers
the trace runs on the server (``analysis.on_demand.layer_summary`` and ``head_pattern``) are
run here on a pattern of the shape the server would hand them (``[1, n_heads, seq, seq]``,
bfloat16), which gives the bytes of what they return.

Run from the repository root::

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1 PYTHONPATH=. .venv-tl4/bin/python benchmarks/bench_nnsight_remote.py

``CW_BENCH_QUICK=1`` uses 128 tokens instead of 1024.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from circuitwidgets.analysis.on_demand import head_pattern, layer_summary  # noqa: E402
from circuitwidgets.model import ModelAdapter, hook_name  # noqa: E402
from circuitwidgets.model_nnsight import _nbytes  # noqa: E402
from circuitwidgets.widgets._attention_store import THUMBNAIL_SIZE  # noqa: E402

SEQ = 128 if os.environ.get("CW_BENCH_QUICK") else 1024
#: Llama-3-8B's shape (meta-llama/Meta-Llama-3-8B's config.json).
LLAMA3_8B = dict(
    hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
    intermediate_size=14336, vocab_size=128256, max_position_embeddings=8192, rope_theta=500000.0,
)


def meta_model(folder: str):
    """``nnsight.LanguageModel`` of Llama-3-8B's config alone: weights on the meta device."""
    import nnsight
    import transformers

    config = transformers.LlamaConfig(**LLAMA3_8B)
    config.save_pretrained(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(ROOT / "circuitwidgets/pocket/weights/tokenizer"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nnsight.LanguageModel(folder, tokenizer=tokenizer, attn_implementation="eager", dtype=torch.bfloat16)


def action_bytes(adapter: ModelAdapter, seq: int, dtype: torch.dtype) -> dict[str, tuple[int, int]]:
    """``{action: (bytes saved, bytes of a naive save)}`` for AttentionExplorer's two actions,
    from the trace plan the adapter makes and the reducers' results on a pattern of the shape
    the server gives them."""
    names = [hook_name("pattern", layer) for layer in range(adapter.n_layers)]
    plan = adapter._plan(names)  # the ports the trace reads: one attention output per layer
    assert [n for _, ns in plan for n in ns if n is not None] == names
    pattern = torch.softmax(torch.randn(1, adapter.n_heads, seq, seq), dim=-1).to(dtype)
    per_layer_summary = _nbytes(layer_summary(pattern, pooled_size=THUMBNAIL_SIZE))
    per_layer_naive = _nbytes(pattern)
    head = _nbytes(head_pattern(pattern, 0))
    summaries = len(plan) * per_layer_summary
    return {
        "text (every layer's summaries and thumbnails)": (summaries, len(plan) * per_layer_naive),
        "text as the view runs it (that trace, then the selected head's)": (summaries + head, len(plan) * per_layer_naive),
        "head click (one head's pattern)": (head, per_layer_naive),
    }


def tiny_check() -> tuple[int, int]:
    """On the tiny local Llama: the bytes a real trace saved for a text vs the computed ones."""
    import architectures as arch
    import nnsight

    from circuitwidgets.widgets._attention_store import AttentionStore

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lm = nnsight.LanguageModel(arch.checkpoint("llama"), attn_implementation="eager", dispatch=True)
    adapter = ModelAdapter(lm)
    text = "def add(a, b):\n    return a + b\ndef add(a, b):"
    AttentionStore.build(adapter, text)
    seq = adapter.to_tokens(text).shape[-1]
    computed = action_bytes(adapter, seq, torch.float32)["text (every layer's summaries and thumbnails)"][0]
    return adapter.saved_bytes[0], computed


def main() -> None:
    measured, computed = tiny_check()
    print(f"tiny Llama (2 layers x 4 heads), text action: a real trace saved {measured} bytes, computed {computed}")
    assert measured == computed
    with tempfile.TemporaryDirectory() as folder:
        adapter = ModelAdapter(meta_model(folder))
        print(f"{adapter!r}; weights on {next(adapter.hf.parameters()).device}; {SEQ} tokens, bfloat16 patterns")
        print(f"| action | saved | naive .save() | fewer |\n|---|---|---|---|")
        for action, (saved, naive) in action_bytes(adapter, SEQ, torch.bfloat16).items():
            print(f"| {action} | {saved / 2**20:.2f} MiB | {naive / 2**20:.1f} MiB | {naive / saved:.0f}x |")


if __name__ == "__main__":
    main()
