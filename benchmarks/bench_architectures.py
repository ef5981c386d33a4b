"""Every view's open time on models of the sizes people load, as a ratio to one bare forward
pass of the same model in the same run.

Shapes (random weights, built offline from a ``transformers`` config class and booted with
``TransformerBridge.boot_transformers(folder, hf_model=...)``: only the config and the pocket
tokenizer are written to disk):

* ``llama-1b``: Llama-3.2-1B's shape -- 16 layers x 32 query heads, 8 K/V heads, d_model
  2048, d_mlp 8192, vocabulary 128,256, tied embeddings -- in bfloat16 (about 2.5 GB);
* ``gpt2-small``: GPT-2 small's shape -- 12 x 12 heads, d_model 768, vocabulary 50,257 --
  in float32.

The text is tokenized by the pocket tokenizer (2,048 tokens; the model's other ids are
labelled by what that tokenizer makes of them): the timings do not depend on the labels.

Run from the repository root, one shape at a time on a quiet machine::

    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_architectures.py --shape gpt2-small
    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_architectures.py --shape llama-1b

Each view is opened from the raw model, in the order a notebook would (so the first view pays
for reading the weights once; ``as_adapter`` shares them, and ``W_U @ W_E``, with the later
ones), then once more ("again": everything shared already read). "open" means the constructor
plus what the view computes before it can draw: OVBrowser's spectra of every head, LogitLens's
attribution at the last position.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import circuitwidgets as cw  # noqa: E402
from benchmarks.common import QUICK  # noqa: E402
from circuitwidgets.model import as_adapter, transformer_lens_version  # noqa: E402

TOKENIZER = Path(__file__).resolve().parent.parent / "circuitwidgets" / "pocket" / "weights" / "tokenizer"

SHAPES: dict[str, tuple[str, dict[str, Any], torch.dtype]] = {
    "llama-1b": (
        "LlamaConfig",
        dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
             intermediate_size=8192, vocab_size=128256, max_position_embeddings=2048, tie_word_embeddings=True),
        torch.bfloat16,
    ),
    "gpt2-small": (
        "GPT2Config", dict(n_embd=768, n_layer=12, n_head=12, n_positions=1024, vocab_size=50257), torch.float32,
    ),
}

#: ``scripts/bench.sh --check`` (``CW_BENCH_QUICK=1``): the same families at toy sizes, to show the
#: script still runs; its numbers mean nothing.
QUICK_SIZES: dict[str, dict[str, Any]] = {
    "llama-1b": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                     intermediate_size=128, vocab_size=4096),
    "gpt2-small": dict(n_embd=64, n_layer=2, n_head=4, vocab_size=4096),
}

TEXT = (
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
    "combined movable metal type, oil-based inks and a wooden screw press into a system that could "
    "produce books far faster than any scribe."
)


def step(what: str) -> Callable[[], None]:
    """Print a progress line now and its seconds when the returned function is called."""
    print(f"... {what}", flush=True)
    start = time.perf_counter()
    return lambda: print(f"    done in {time.perf_counter() - start:.1f} s", flush=True)


def build(shape: str) -> Any:
    import transformers
    from transformer_lens.model_bridge import TransformerBridge

    config_class, options, dtype = SHAPES[shape]
    if QUICK:
        options = {**options, **QUICK_SIZES[shape]}
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(TOKENIZER))
    config = getattr(transformers, config_class)(bos_token_id=0, eos_token_id=0, pad_token_id=0, **options)
    done = step(f"random {shape} weights in {dtype}")
    torch.manual_seed(0)
    with torch.device("cpu"):
        hf_model = transformers.AutoModelForCausalLM.from_config(config, dtype=dtype)
    done()
    folder = tempfile.mkdtemp(prefix=f"cw-bench-{shape}-")
    config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    done = step("TransformerBridge.boot_transformers")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = TransformerBridge.boot_transformers(folder, hf_model=hf_model, dtype=dtype, device="cpu")
    done()
    return model.eval()


def seconds(fn: Callable[[], Any], repeats: int = 1) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


#: The views CircuitExplorer builds (for the row that sums them).
DASHBOARD_VIEWS = ("AttentionExplorer", "LogitLens", "OVBrowser", "InductionScores")


def views(model: Any) -> list[tuple[str, Callable[[], Any]]]:
    def ov_browser():
        w = cw.OVBrowser(model, TEXT)
        w.spectrum
        return w

    def logit_lens():
        w = cw.LogitLens(model, TEXT)
        w.attribution()
        return w

    return [
        ("TokenView", lambda: cw.TokenView(model, TEXT)),
        ("AttentionExplorer", lambda: cw.AttentionExplorer(model, TEXT)),
        ("LogitLens (+ attribution)", logit_lens),
        ("OVBrowser (+ every spectrum)", ov_browser),
        ("InductionScores", lambda: cw.InductionScores(model)),
        ("CircuitExplorer", lambda: cw.CircuitExplorer(model, TEXT)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="gpt2-small")
    args = parser.parse_args()
    print(f"TransformerLens {'.'.join(map(str, transformer_lens_version()))}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    model = build(args.shape)
    tokens = as_adapter(model).to_tokens(TEXT)
    print(f"text: {tokens.shape[-1]} tokens", flush=True)
    with torch.inference_mode():
        model(tokens)  # warm-up
    forward = seconds(lambda: as_adapter(model).forward_logits(tokens), repeats=3)
    print(f"bare forward pass: {forward:.2f} s", flush=True)
    rows = []
    for name, open_view in views(model):
        done = step(f"open {name}")
        first = seconds(open_view)
        done()
        again = seconds(open_view)
        rows.append((name, first, again))
    print()
    print(f"| view ({args.shape}) | first open | ratio to forward | again | ratio |")
    print("|---|---|---|---|---|")
    print(f"| bare forward pass | {forward:.2f} s | 1 | | |")
    for name, first, again in rows:
        print(f"| {name} | {first:.2f} s | {first / forward:.1f} | {again:.2f} s | {again / forward:.1f} |")
    # what CircuitExplorer builds, opened one by one ("again": weights already read)
    alone = sum(again for name, _, again in rows if name.split(" ")[0] in DASHBOARD_VIEWS)
    print(f"| its four views opened alone (sum of 'again') | | | {alone:.2f} s | {alone / forward:.1f} |")


if __name__ == "__main__":
    main()
