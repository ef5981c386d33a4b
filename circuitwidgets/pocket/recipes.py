"""The pocket models' names, shapes and training recipes: the one place these numbers live.

The loader reads names and descriptions from here, the training script everything else.
A recipe trains in two phases (the schedule is counted in optimizer steps, never in time):

1. **Induction first.** A 2-layer attention-only network with tied embeddings
   (``W_U = W_E.T``) trains on 100% repeated random spans, scored only on the second copies,
   until it predicts them (checked: repeated-half loss below ``phase1_max_loss``). On mixed text
   from the start, induction did not form in a comparable budget.
2. **Language.** The unembedding is untied (``W_U`` starts as a copy of ``W_E.T``); for
   ``small-4l`` the network is first *grown* (:meth:`.net.PocketTransformer.grown`: layers 0-1
   and the embeddings kept, MLPs and layers 2-3 added with zero output weights). It then trains
   on text rows mixed with a share of repeated-span rows, with a cosine learning-rate decay.

The context is 128 tokens. A 256-token attempt (with several repeated spans packed per row)
formed no induction in its first 500 steps, and the time budget allowed no second try; the
numbers here are the ones that trained, see ``MODEL_CARD.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from .checks import Thresholds
from .net import NetConfig

__all__ = ["Recipe", "RECIPES", "tiny"]


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a pocket model, given the corpus and a seed."""

    name: str
    description: str
    net: NetConfig                   # the shipped architecture
    vocab_size: int = 2048
    batch: int = 16                  # rows of n_ctx tokens per step
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    phase1_steps: int = 1500
    phase1_max_loss: float = 1.0     # repeated-half loss the induction phase must reach
    phase2_steps: int = 2000
    phase2_repeat_fraction: float = 0.2
    final_lr_fraction: float = 0.1   # cosine decay ends at lr * this
    min_half: int = 16               # shortest repeated span in training rows
    eval_half: int = 60              # [BOS, s, s] with |s| = eval_half for the checks
    eval_batch: int = 64
    heldout_windows: int = 64        # held-out text windows of n_ctx tokens
    max_corpus_files: int | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def phase1_net(self) -> NetConfig:
        """The network of phase 1: 2 attention-only layers of the shipped width."""
        return replace(self.net, n_layers=2, d_mlp=None)

    def to_dict(self) -> dict:
        return asdict(self)


_WIDTH = dict(d_model=128, n_heads=4, d_head=32, n_ctx=128)

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe(
            name="attn-only-2l",
            description=(
                "2-layer attention-only transformer (d_model 128, 4 heads, 128-token context): "
                "a previous-token head in layer 0 and induction heads in layer 1"
            ),
            net=NetConfig(n_layers=2, d_vocab=2048, **_WIDTH),
        ),
        Recipe(
            name="small-4l",
            description=(
                "4-layer transformer with MLPs (d_model 128, d_mlp 512, 128-token context), "
                "grown from attn-only-2l's first phase: induction heads plus depth for the logit lens"
            ),
            net=NetConfig(n_layers=4, d_vocab=2048, d_mlp=512, **_WIDTH),
            phase2_steps=3000,
            thresholds=Thresholds(induction_layers=(1, 2, 3)),
        ),
    ]
}


def tiny(recipe: Recipe) -> Recipe:
    """A seconds-long version of ``recipe`` that exercises every step of the script (a small
    tokenizer, network and corpus slice, a handful of steps). It proves the plumbing, not
    quality: its circuit checks are recorded but not enforced."""
    net = replace(recipe.net, d_model=32, n_heads=2, d_head=16, n_ctx=32, d_vocab=300,
                  d_mlp=None if recipe.net.d_mlp is None else 64)
    return replace(
        recipe,
        net=net,
        vocab_size=300,
        batch=4,
        warmup_steps=2,
        phase1_steps=8,
        phase1_max_loss=float("inf"),
        phase2_steps=8,
        min_half=4,
        eval_half=8,
        eval_batch=4,
        heldout_windows=2,
        max_corpus_files=12,
        thresholds=Thresholds(None, None, None, None, None, recipe.thresholds.induction_layers),
    )
