"""The logit lens: what the model would predict if it stopped after each layer.

The residual stream is read out ``n_layers + 1`` times -- before each layer (``"0_pre"`` is the
embeddings) and after the last (``"final_post"``) -- exactly the stack TransformerLens's
``ActivationCache.accumulated_resid(apply_ln=True)`` returns: each readout goes through the
model's final norm *with its scale recomputed from that readout*, then the unembedding
``W_U, b_U``. The last readout is the model's own output distribution.

For every (readout, position) we keep the top-k tokens with their probabilities, the
probability, logit and rank of a target token, and the KL divergence to the final distribution.
The full ``positions x d_vocab`` logits exist for one block of positions and one readout at a
time, so memory does not grow with the number of layers.

Example::

    lens = logit_lens(model, "The Eiffel Tower is in the city of")
    lens.labels                       # ['0_pre', '1_pre', ..., 'final_post']
    lens.token_strs[int(lens.top_ids[-1, -1, 0])]   # the model's top next-token guess
    lens.target_ranks[:, 3]           # rank of the true 5th token, readout by readout
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional, Sequence, Union

import torch

from ..model import ModelAdapter
from ..checks import TokenLike, check_choice, check_int, check_k, check_position, token_ids
from ._forward import TextRun, readout_hooks, resolve_run

#: Positions unembedded together: bounds the working memory at ~3 x chunk x d_vocab floats.
DEFAULT_POSITION_CHUNK = 128

#: What ``target=None`` means: the token that actually comes next, or the model's own final
#: top-1 prediction at each position.
DEFAULT_TARGETS = ("next", "final")


@dataclass(frozen=True, eq=False)
class LogitLensResult:
    """The logit lens of one text. ``R = n_layers + 1`` readouts, ``P`` positions read.

    Attributes
    ----------
    tokens, str_tokens:
        The whole text's tokens ``LongTensor[seq]`` and their display strings.
    labels:
        ``R`` readout names as TransformerLens's ``accumulated_resid`` labels them:
        ``"0_pre" .. f"{n_layers-1}_pre", "final_post"``.
    positions:
        ``LongTensor[P]``: the positions read (all by default).
    top_ids, top_probs:
        ``[R, P, k]``: the ``k`` most likely next tokens at each readout and position, best
        first, and their probabilities.
    targets:
        ``LongTensor[P]``: the target token at each position -- by default the actual next
        token, and at the last position of the text (which has none) the model's final top-1
        prediction; with ``default_target="final"`` the final top-1 prediction everywhere.
    target_probs, target_logits:
        ``[R, P]``: the target's probability and logit.
    target_ranks:
        ``LongTensor[R, P]``: the target's rank, 1 = the most likely token (1 + the number of
        tokens with a strictly larger logit).
    kl_to_final:
        ``[R, P]``: ``KL(p_final || p_readout) = Σ p_final (log p_final - log p_readout)`` in
        nats; 0 at the final readout.
    token_strs:
        Display string of every token id in ``top_ids`` and ``targets``.

    Examples
    --------
    >>> lens = analysis.logit_lens(model, "a b c d a b c", k=3)
    >>> lens.labels                             # the readouts: before each layer, then the output
    ['0_pre', '1_pre', 'final_post']
    >>> lens.top_ids.shape                      # [readouts, positions, k]
    torch.Size([3, 8, 3])
    """

    tokens: torch.Tensor
    str_tokens: list[str]
    labels: list[str]
    positions: torch.Tensor
    top_ids: torch.Tensor
    top_probs: torch.Tensor
    targets: torch.Tensor
    target_probs: torch.Tensor
    target_logits: torch.Tensor
    target_ranks: torch.Tensor
    kl_to_final: torch.Tensor
    token_strs: dict[int, str]

    def plot(self, **options):
        """Bokeh grid of the top predictions: :func:`circuitwidgets.figures.logit_lens_grid`
        (one target's rank: :func:`circuitwidgets.figures.target_rank_plot`)."""
        from ..figures import logit_lens_grid

        return logit_lens_grid(self, **options)


def readout_labels(n_layers: int) -> list[str]:
    """``["0_pre", ..., f"{n_layers-1}_pre", "final_post"]``, TransformerLens's labels
    (in the order of :func:`~circuitwidgets.analysis._forward.readout_hooks`)."""
    return [f"{layer}_pre" for layer in range(n_layers)] + ["final_post"]


def readout_logits(adapter: ModelAdapter, resid: torch.Tensor) -> torch.Tensor:
    """Logits ``[..., d_vocab]`` of residual vectors: final norm (scale recomputed from these
    vectors), then ``W_U`` and ``b_U``."""
    return adapter.unembed(adapter.apply_final_norm(resid))


def _readouts_logits(
    adapter: ModelAdapter, run: TextRun, hooks: list[str], rows: range, where: torch.Tensor, final: torch.Tensor
) -> list[torch.Tensor]:
    """Logits ``[len(where), d_vocab]`` of each readout in ``rows`` at positions ``where``, from
    one matmul over all of them (the final readout, already computed, is reused)."""
    fresh = [r for r in rows if r != len(hooks) - 1]
    stacked = readout_logits(adapter, torch.stack([run.cache[hooks[r]][where] for r in fresh])) if fresh else None
    by_row = dict(zip(fresh, stacked if stacked is not None else []))
    return [by_row[r] if r in by_row else final for r in rows]


def _resolve_targets(
    adapter: ModelAdapter, run: TextRun, positions: torch.Tensor, target: Optional[TokenLike], default: str
) -> torch.Tensor:
    """``LongTensor[P]`` of target ids; -1 marks "the final top-1" (where ``default`` asks for
    it, and at the last position, which has no next token)."""
    if target is None and default == "final":
        return positions.new_full((len(positions),), -1)
    if target is None:
        after = torch.cat([run.tokens[1:], run.tokens.new_full((1,), -1)])
        return after[positions]
    ids = token_ids(adapter, target, "target token")
    if len(ids) == 1:
        return ids.expand(len(positions)).clone()
    if len(ids) != len(positions):
        raise ValueError(
            f"target has {len(ids)} tokens but {len(positions)} positions are read; give one "
            "target token, one per position, or None for the actual next token"
        )
    return ids


def logit_lens(
    model: Any,
    text: Union[str, TextRun],
    k: int = 10,
    target: Optional[TokenLike] = None,
    *,
    positions: Optional[Sequence[int]] = None,
    chunk: int = DEFAULT_POSITION_CHUNK,
    default_target: Literal["next", "final"] = "next",
) -> LogitLensResult:
    """The logit lens of ``model`` on ``text`` (see the module docs).

    Parameters
    ----------
    text:
        The text, or a :class:`~circuitwidgets.analysis.TextRun` with ``"logit_lens"`` in its
        needs (to share one forward pass with e.g. :func:`logit_attribution`).
    k:
        How many top tokens to keep per (readout, position).
    target:
        ``None`` (the actual next token at each position), one token for every position (a
        string that is exactly one token, or an id), or one token per position read.
    positions:
        Only read these positions (negative counts from the end); all by default. The cost
        is proportional: ``n_layers + 1`` unembeddings of ``len(positions)`` vectors.
    chunk:
        Positions unembedded at once (memory ~ ``3 * chunk * d_vocab`` floats).
    default_target:
        What ``target=None`` means: ``"next"`` (the actual next token; the final top-1 at the
        last position) or ``"final"`` (the model's final top-1 prediction at every position:
        "when does the model's answer appear?", read from the same pass).

    Examples
    --------
    >>> lens = analysis.logit_lens(model, "a b c d a b c", target=" d", positions=[-1])
    >>> lens.target_ranks[:, 0].tolist()        # " d"'s rank at each readout: only the output has it
    [284, 76, 1]
    """
    adapter, run = resolve_run(model, text, "logit_lens")
    k = check_k(k, adapter.d_vocab)
    chunk = check_int(chunk, "chunk", 1)
    check_choice(default_target, "default_target", DEFAULT_TARGETS)
    if positions is None:
        pos = torch.arange(run.seq_len)
    else:
        pos = torch.tensor([check_position(p, run.seq_len) for p in positions], dtype=torch.long)
        if len(pos) == 0:
            raise ValueError("positions is empty; give at least one position, or None for all")
    hooks = readout_hooks(adapter.n_layers)
    n_read, n_pos = len(hooks), len(pos)

    top_ids = torch.empty(n_read, n_pos, k, dtype=torch.long)
    top_probs = torch.empty(n_read, n_pos, k)
    target_logits = torch.empty(n_read, n_pos)
    target_probs = torch.empty(n_read, n_pos)
    target_ranks = torch.empty(n_read, n_pos, dtype=torch.long)
    kl = torch.empty(n_read, n_pos)
    targets = _resolve_targets(adapter, run, pos, target, default_target)

    with torch.inference_mode():
        for start in range(0, n_pos, chunk):
            block = slice(start, start + chunk)
            where = pos[block]
            # The final readout first: the KL reference, and the default last-position target.
            final = readout_logits(adapter, run.cache[hooks[-1]][where])
            final_lse = final.logsumexp(dim=-1)
            final_probs = (final - final_lse[:, None]).exp()
            # Σ p log p of the final distribution; KL = that - Σ p_final · log p_readout.
            final_neg_entropy = torch.linalg.vecdot(final_probs, final) - final_lse
            goal = targets[block]
            goal = torch.where(goal >= 0, goal, final.argmax(dim=-1))
            targets[block] = goal
            goal = goal[:, None]
            # Readouts unembedded together so each matmul has about `chunk` rows: a few
            # positions read W_U once per group, not once per readout.
            group = max(1, chunk // len(where))
            for first in range(0, n_read, group):
                rows = range(first, min(first + group, n_read))
                for r, logits in zip(rows, _readouts_logits(adapter, run, hooks, rows, where, final)):
                    lse = logits.logsumexp(dim=-1)
                    values, ids = logits.topk(k, dim=-1)
                    top_ids[r, block] = ids
                    top_probs[r, block] = (values - lse[:, None]).exp()
                    goal_logit = logits.gather(-1, goal)
                    target_logits[r, block] = goal_logit[:, 0]
                    target_probs[r, block] = (goal_logit[:, 0] - lse).exp()
                    target_ranks[r, block] = (logits > goal_logit).sum(dim=-1) + 1
                    readout_kl = final_neg_entropy - (torch.linalg.vecdot(final_probs, logits) - lse)
                    kl[r, block] = readout_kl.clamp(min=0.0)  # >= 0; clamps float rounding only
            kl[-1, block] = 0.0  # exactly, rather than a rounding residue

    ids_seen = torch.cat([top_ids.reshape(-1), targets]).unique()
    return LogitLensResult(
        tokens=run.tokens,
        str_tokens=list(run.str_tokens),
        labels=readout_labels(adapter.n_layers),
        positions=pos,
        top_ids=top_ids,
        top_probs=top_probs,
        targets=targets,
        target_probs=target_probs,
        target_logits=target_logits,
        target_ranks=target_ranks,
        kl_to_final=kl,
        token_strs=dict(zip(ids_seen.tolist(), adapter.to_str_tokens(ids_seen))),
    )


def join_lens(parts: Sequence[LogitLensResult]) -> LogitLensResult:
    """One :class:`LogitLensResult` from lenses of the same text at different positions, in
    the order given -- e.g. the pages a view computed one at a time.

    Every position is read independently, so joining ``logit_lens(..., positions=a)`` and
    ``logit_lens(..., positions=b)`` gives ``logit_lens(..., positions=a + b)`` (to float
    rounding: the matmuls see different batch shapes).

    >>> run = analysis.run_text(model, "a b c d a b c")
    >>> head = logit_lens(model, run, positions=range(0, 4))
    >>> tail = logit_lens(model, run, positions=range(4, run.seq_len))
    >>> whole = join_lens([head, tail])
    >>> whole.top_ids.shape                 # [readouts, positions, k]
    torch.Size([3, 8, 10])
    >>> torch.equal(whole.top_ids, logit_lens(model, run).top_ids)
    True
    """
    if not parts:
        raise ValueError("parts is empty; give at least one LogitLensResult")
    first = parts[0]
    for part in parts[1:]:
        if part.labels != first.labels or not torch.equal(part.tokens, first.tokens) or part.top_ids.shape[-1] != first.top_ids.shape[-1]:
            raise ValueError("can only join lenses of the same text, readouts and k")
    token_strs: dict[int, str] = {}
    for part in parts:
        token_strs.update(part.token_strs)

    def cat(name: str, dim: int) -> torch.Tensor:
        return torch.cat([getattr(part, name) for part in parts], dim=dim)

    return LogitLensResult(
        tokens=first.tokens,
        str_tokens=first.str_tokens,
        labels=first.labels,
        positions=cat("positions", 0),
        top_ids=cat("top_ids", 1),
        top_probs=cat("top_probs", 1),
        targets=cat("targets", 0),
        target_probs=cat("target_probs", 1),
        target_logits=cat("target_logits", 1),
        target_ranks=cat("target_ranks", 1),
        kl_to_final=cat("kl_to_final", 1),
        token_strs=token_strs,
    )
