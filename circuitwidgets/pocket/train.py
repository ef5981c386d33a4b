"""Train a pocket model from scratch: ``python -m circuitwidgets.pocket.train NAME``.

One command does everything, deterministically from ``--seed`` (for a given Python standard
library, torch version and ``--threads``):

1. extract the corpus (:mod:`.corpus`) and train the byte-level BPE tokenizer
   (:mod:`.tokenizer`) into ``OUT/tokenizer`` (shared by all pocket models: if a different
   tokenizer is already there, the script stops rather than silently break the other models);
2. train the network in two phases (:mod:`.recipes` explains them) on the plain-torch
   transformer (:mod:`.net`);
3. round the weights to float16, check the circuits on exactly those weights (:mod:`.checks`)
   and **fail with exit status 1** if they miss the thresholds;
4. write ``OUT/NAME/``: ``model.safetensors`` (TransformerLens ``HookedTransformer`` keys),
   ``config.json`` (``HookedTransformerConfig`` fields), ``reference.safetensors`` (token ids of
   a fixed text and the logits this network computes for them, which the tests compare every
   TransformerLens generation against), and ``measurements.json`` (recipe, corpus fingerprint,
   times, losses, the checks); then re-measure with :mod:`.measure` when
   ``circuitwidgets.analysis`` is available.

Examples::

    python -m circuitwidgets.pocket.train attn-only-2l
    python -m circuitwidgets.pocket.train small-4l --seed 0 --out /tmp/pocket
    python -m circuitwidgets.pocket.train attn-only-2l --tiny --out /tmp/tiny   # seconds
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from . import checks
from .corpus import corpus_fingerprint, is_held_out, repeated_span_rows, stdlib_documents
from .net import PocketTransformer
from .recipes import RECIPES, Recipe, tiny
from .tokenizer import train_tokenizer

__all__ = ["main", "train", "REFERENCE_TEXT", "DEFAULT_OUT"]

DEFAULT_OUT = Path(__file__).resolve().parent / "weights"

# The text whose logits are saved next to the weights (reference.safetensors): code, prose and
# a repeated phrase, so both the circuits and ordinary prediction are exercised.
REFERENCE_TEXT = (
    "def greet(name):\n    return 'Hello, ' + name\n\n"
    "The cat sat on the mat. The cat sat on the mat."
)


def _log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def _token_stream(tokenizer, docs: list[tuple[str, str]]) -> torch.Tensor:
    """All documents' token ids, each preceded by BOS, as one int16 tensor."""
    bos = tokenizer.bos_token_id
    ids = tokenizer([text for _, text in docs], add_special_tokens=False)["input_ids"]
    flat = [tid for doc in ids for tid in [bos, *doc]]
    return torch.tensor(flat, dtype=torch.int16)


def _text_rows(stream: torch.Tensor, rows: int, n_ctx: int, bos: int, g: torch.Generator) -> torch.Tensor:
    """``rows`` random windows of the stream, each starting with BOS."""
    starts = torch.randint(0, len(stream) - n_ctx, (rows,), generator=g).tolist()
    body = torch.stack([stream[s : s + n_ctx - 1] for s in starts]).long() if rows else torch.zeros(0, n_ctx - 1, dtype=torch.long)
    return torch.cat([torch.full((rows, 1), bos), body], dim=1)


class _Batches:
    """The training rows of one step: a share of repeated random spans, the rest text."""

    def __init__(self, recipe: Recipe, stream: torch.Tensor, bos: int, g: torch.Generator):
        self.r, self.stream, self.bos, self.g = recipe, stream, bos, g

    def __call__(self, repeat_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
        r, n_ctx = self.r, self.r.net.n_ctx
        n_rep = round(r.batch * repeat_fraction)
        rep, rep_scored = repeated_span_rows(
            n_rep, n_ctx, min_half=r.min_half, bos_id=self.bos, low=1, high=r.net.d_vocab, generator=self.g
        )
        text = _text_rows(self.stream, r.batch - n_rep, n_ctx, self.bos, self.g)
        text_scored = torch.ones_like(text, dtype=torch.bool)
        text_scored[:, 0] = False
        return torch.cat([rep, text]), torch.cat([rep_scored, text_scored])


def _loss(net: PocketTransformer, tokens: torch.Tensor, scored: torch.Tensor) -> torch.Tensor:
    logits = net(tokens)[:, :-1]
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1), reduction="none")
    mask = scored[:, 1:].reshape(-1).float()
    return (ce * mask).sum() / mask.sum()


@torch.no_grad()
def _heldout_losses(net: PocketTransformer, windows: torch.Tensor) -> list[float]:
    """Held-out cross-entropy read out after the embedding and after every layer (the logit
    lens: final LayerNorm and unembedding applied to the residual stream); the last entry is
    the model's own loss."""
    net.eval()
    n = windows.shape[1]
    x = net.embed.W_E[windows] + net.pos_embed.W_pos[:n]
    targets = windows[:, 1:].reshape(-1)

    def readout(resid):
        logits = (net.ln_final(resid) @ net.W_U + net.unembed.b_U)[:, :-1]
        return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets))

    out = [readout(x)]
    for block in net.blocks:
        x, _ = block(x)
        out.append(readout(x))
    net.train()
    return out


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def _run_phase(net, batches, *, steps, lr_at, repeat_fraction, name, log_every=100):
    decay = [p for p in net.parameters() if p.dim() >= 2]
    other = [p for p in net.parameters() if p.dim() < 2]
    r = batches.r
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": r.weight_decay}, {"params": other, "weight_decay": 0.0}],
        lr=r.lr, betas=(0.9, 0.99),
    )
    net.train()
    t0 = time.perf_counter()
    loss = float("nan")
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        tokens, scored = batches(repeat_fraction)
        loss_t = _loss(net, tokens, scored)
        opt.zero_grad(set_to_none=True)
        loss_t.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        loss = float(loss_t.detach())
        if not math.isfinite(loss):
            raise RuntimeError(f"{name}: loss became {loss} at step {step}")
        if step % log_every == 0 or step == steps - 1:
            _log(f"  {name} step {step:5d}/{steps}  loss {loss:.3f}  ({time.perf_counter() - t0:.0f} s)")
    return {"steps": steps, "final_batch_loss": loss, "seconds": round(time.perf_counter() - t0, 1)}


def _warmup_then(r: Recipe, after):
    return lambda step: r.lr * (step + 1) / r.warmup_steps if step < r.warmup_steps else after(step)


def train(recipe: Recipe, out: Path, *, seed: int, threads: int, enforce: bool = True) -> dict:
    """Train ``recipe`` into ``out`` and return its measurements (see the module docstring).

    Meant to run as its own process: it sets torch's global thread count and deterministic
    mode. ``enforce=False`` (the ``--tiny`` run) records the checks without failing on them.
    """
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    t_start = time.perf_counter()
    out = Path(out)

    # 1. corpus and tokenizer -----------------------------------------------------------------
    docs = stdlib_documents()
    train_docs = [d for d in docs if not is_held_out(d[0])]
    held_docs = [d for d in docs if is_held_out(d[0])]
    if recipe.max_corpus_files is not None:
        train_docs = train_docs[: recipe.max_corpus_files]
        held_docs = held_docs[: max(1, recipe.max_corpus_files // 10)]
    tok_dir = out / "tokenizer"
    staging = out / f".tokenizer-{os.getpid()}"
    tokenizer = train_tokenizer([t for _, t in train_docs], recipe.vocab_size, staging)
    _adopt_tokenizer(staging, tok_dir)
    bos = tokenizer.bos_token_id
    stream = _token_stream(tokenizer, train_docs)
    held = _token_stream(tokenizer, held_docs)
    n_ctx = recipe.net.n_ctx
    n_win = min(recipe.heldout_windows, len(held) // n_ctx)
    if n_win < 1:
        raise RuntimeError(f"held-out text has {len(held)} tokens, fewer than one window of {n_ctx}")
    held_windows = held[: n_win * n_ctx].reshape(n_win, n_ctx).long()
    held_windows[:, 0] = bos
    _log(f"{recipe.name}: corpus {len(train_docs)} files, {len(stream):,} training tokens, "
         f"{n_win} held-out windows; tokenizer {len(tokenizer)} tokens "
         f"({time.perf_counter() - t_start:.0f} s)")

    # 2. phase 1: induction on repeated random spans, tied embeddings ------------------------
    g = torch.Generator().manual_seed(seed)
    batches = _Batches(recipe, stream, bos, g)
    net = PocketTransformer(recipe.phase1_net, seed=seed, tied=True)
    report = {}
    report["phase1"] = _run_phase(
        net, batches, steps=recipe.phase1_steps, lr_at=_warmup_then(recipe, lambda s: recipe.lr),
        repeat_fraction=1.0, name="phase 1",
    )
    eval_kw = dict(half=recipe.eval_half, batch=recipe.eval_batch, seed=seed + 1, bos_id=bos, low=1)
    p1 = checks.circuit_report(net, **eval_kw)
    report["phase1"]["repeated_half_loss"] = p1["repeated_half_loss"]
    _log(f"phase 1: repeated-half loss {p1['repeated_half_loss']:.3f} "
         f"(must be < {recipe.phase1_max_loss})")
    if enforce and not p1["repeated_half_loss"] < recipe.phase1_max_loss:
        raise SystemExit(
            f"FAILED: phase 1 did not learn to predict repeated spans (repeated-half loss "
            f"{p1['repeated_half_loss']:.3f} >= {recipe.phase1_max_loss}); no model written"
        )

    # 3. phase 2: language, untied (and grown) ------------------------------------------------
    if recipe.net != recipe.phase1_net:
        net = net.grown(recipe.net, seed=seed + 2)
    net.untie()
    steps2 = recipe.phase2_steps
    span = max(1, steps2 - recipe.warmup_steps)
    cosine = lambda s: recipe.lr * (
        recipe.final_lr_fraction
        + (1 - recipe.final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * (s - recipe.warmup_steps) / span))
    )
    report["phase2"] = _run_phase(
        net, batches, steps=steps2, lr_at=_warmup_then(recipe, cosine),
        repeat_fraction=recipe.phase2_repeat_fraction, name="phase 2",
    )

    # 4. round to float16, check, write -------------------------------------------------------
    shipped = {k: v.half() for k, v in net.tl_state_dict().items()}
    net.load_tl_state_dict(shipped)
    net.eval()
    circuits = checks.circuit_report(net, **eval_kw)
    problems = checks.failures(circuits, recipe.thresholds)
    lens = _heldout_losses(net, held_windows)
    report.update(
        name=recipe.name,
        description=recipe.description,
        seed=seed,
        recipe=recipe.to_dict(),
        corpus=corpus_fingerprint(train_docs + held_docs)
        | {"train_files": len(train_docs), "heldout_files": len(held_docs), "train_tokens": len(stream)},
        parameters=sum(v.numel() for v in shipped.values()),
        heldout_loss=lens[-1],
        logit_lens_heldout_loss=lens,
        checks=circuits,
        check_failures=problems,
        environment={"python": sys.version.split()[0], "torch": torch.__version__,
                     "threads": threads, "machine": platform.machine()},
        train_seconds=round(time.perf_counter() - t_start, 1),
    )
    _log(json.dumps({k: report[k] for k in ("heldout_loss", "logit_lens_heldout_loss", "check_failures")}))
    _log(f"checks: {json.dumps(circuits)}")
    if enforce and problems:
        raise SystemExit("FAILED: the circuits are missing:\n  - " + "\n  - ".join(problems)
                         + "\nno model written")
    _write(out / recipe.name, recipe, net, shipped, tokenizer, report)
    _log(f"wrote {out / recipe.name} in {report['train_seconds']:.0f} s total")
    return report


def _adopt_tokenizer(staging: Path, tok_dir: Path) -> None:
    """Move the freshly trained tokenizer into place, refusing to replace a different one."""
    import shutil

    new = (staging / "tokenizer.json").read_bytes()
    if tok_dir.exists():
        old = (tok_dir / "tokenizer.json").read_bytes() if (tok_dir / "tokenizer.json").exists() else b""
        shutil.rmtree(staging)
        if old != new:
            raise SystemExit(
                f"FAILED: {tok_dir} holds a different tokenizer than this corpus and recipe "
                "produce (another Python version or vocab size?). The pocket models share it; "
                "retrain all of them into a fresh --out instead."
            )
        return
    staging.rename(tok_dir)


def _write(folder: Path, recipe: Recipe, net: PocketTransformer, shipped: dict, tokenizer, report: dict) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(shipped, str(folder / "model.safetensors"))
    config = recipe.net.tl_config() | {"model_name": f"circuitwidgets/{recipe.name}"}
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    ref = torch.tensor([[tokenizer.bos_token_id, *tokenizer(REFERENCE_TEXT, add_special_tokens=False)["input_ids"]]])
    ref = ref[:, : recipe.net.n_ctx]
    with torch.no_grad():
        logits = net(ref)
    save_file({"tokens": ref.contiguous(), "logits": logits.float().contiguous()},
              str(folder / "reference.safetensors"))
    report["reference_text"] = REFERENCE_TEXT
    (folder / "measurements.json").write_text(json.dumps(report, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m circuitwidgets.pocket.train", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("name", choices=sorted(RECIPES), help="which pocket model to train")
    parser.add_argument("--seed", type=int, default=0, help="the seed everything derives from (default 0)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default: the package's {DEFAULT_OUT.name}/ folder)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (results are bit-identical only for the same count; default 1)")
    parser.add_argument("--tiny", action="store_true",
                        help="a seconds-long miniature of the recipe (tests the script; checks not enforced)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    recipe = RECIPES[args.name]
    if args.tiny:
        recipe = tiny(recipe)
    train(recipe, args.out, seed=args.seed, threads=args.threads, enforce=not args.tiny)
    if not args.tiny:
        from . import measure

        measure.record(args.out, args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
