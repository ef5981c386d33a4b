"""What activation patching measures: a prompt pair of equal length and a metric of the logits
normalized so that the clean run scores 1 and the corrupted run 0.

Named metrics read the logits at one ``position`` (default: the last):

* ``"logit_diff"`` -- ``logit[target] - logit[distractor]``: the "direction of interest"
* ``"prob"`` -- the target's probability
* ``"logit"`` -- the target's logit
* ``"kl"`` -- ``KL(clean || patched)`` of the next-token distributions (0 on the clean run)

A callable gets float32 logits ``[1, seq, d_vocab]`` of one run (TransformerLens's
convention, so a TransformerLens patching metric works unchanged) and returns a scalar.
Normalized value: ``(m - m_corrupted) / (m_clean - m_corrupted)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import torch

from ..model import ModelAdapter
from ..checks import TokenLike, check_position, token_ids

#: The named metrics.
METRICS = ("logit_diff", "prob", "logit", "kl")

MetricLike = Union[str, Callable[[torch.Tensor], Any]]


def prompt_pair(adapter: ModelAdapter, clean: str, corrupted: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``[1, seq]`` of both prompts; a ``ValueError`` naming both lengths and showing
    both tokenizations when they differ (patching swaps activations position by position)."""
    a, b = adapter.to_tokens(clean), adapter.to_tokens(corrupted)
    if a.shape != b.shape:
        raise ValueError(
            f"the clean and corrupted prompts must have the same number of tokens (activation "
            f"patching swaps them position by position), but the clean prompt is {a.shape[-1]} "
            f"tokens {adapter.to_str_tokens(a[0])} and the corrupted prompt is {b.shape[-1]} "
            f"tokens {adapter.to_str_tokens(b[0])}"
        )
    return a, b


def _one_token(adapter: ModelAdapter, token: TokenLike, name: str) -> int:
    ids = token_ids(adapter, token, name)
    if len(ids) != 1:
        raise ValueError(f"{name} must be one token, got {len(ids)}: {token!r}")
    return int(ids[0])


@dataclass(frozen=True, eq=False)
class Metric:
    """A metric fixed for one prompt pair: which logits it reads, its raw function, and the
    clean and corrupted values that normalize it."""

    name: str
    position: Optional[int]  # None: a callable, which reads every position
    target: Optional[int]
    distractor: Optional[int]
    raw: Callable[[torch.Tensor], torch.Tensor]  # logits [B, n, d_vocab] -> [B]
    clean_value: float
    corrupted_value: float
    normalize: bool

    @property
    def positions(self) -> Optional[list[int]]:
        """The positions whose logits the metric reads (``None``: all of them)."""
        return None if self.position is None else [self.position]

    def normalized(self, values: torch.Tensor) -> torch.Tensor:
        """Raw values -> clean 1, corrupted 0 (unchanged when ``normalize`` is off)."""
        if not self.normalize:
            return values
        return (values - self.corrupted_value) / (self.clean_value - self.corrupted_value)

    def scaled(self, logits: torch.Tensor) -> torch.Tensor:
        """The (normalized) metric of one run's full logits ``[1, seq, d_vocab]``, as a 0-d
        tensor that autograd can differentiate."""
        read = logits if self.position is None else logits[:, [self.position]]
        return self.normalized(self.raw(read)).reshape(())


def _callable_raw(fn: Callable[[torch.Tensor], Any]) -> Callable[[torch.Tensor], torch.Tensor]:
    def raw(logits: torch.Tensor) -> torch.Tensor:
        values = []
        for row in range(logits.shape[0]):
            out = fn(logits[row : row + 1])
            value = out if isinstance(out, torch.Tensor) else torch.as_tensor(out, dtype=torch.float32)
            if value.numel() != 1:
                raise ValueError(
                    f"the metric must return a scalar (one number per run), but it returned a "
                    f"tensor of shape {tuple(value.shape)}"
                )
            values.append(value.reshape(()).float())
        return torch.stack(values)

    return raw


def build_metric(
    adapter: ModelAdapter,
    metric: MetricLike,
    clean_logits: torch.Tensor,
    corrupted_logits: torch.Tensor,
    *,
    target: Optional[TokenLike] = None,
    distractor: Optional[TokenLike] = None,
    position: int = -1,
    normalize: bool = True,
) -> Metric:
    """The :class:`Metric` for a prompt pair, from both runs' float32 logits ``[1, seq, d_vocab]``.

    ``target`` defaults to the clean run's top prediction at ``position``; ``distractor``
    (``"logit_diff"`` only) to the corrupted run's top prediction there.
    """
    seq = clean_logits.shape[1]
    if callable(metric):
        raw, name, pos, target_id, distractor_id = _callable_raw(metric), getattr(metric, "__name__", "metric"), None, None, None
    elif isinstance(metric, str) and metric in METRICS:
        name, pos = metric, check_position(position, seq)
        target_id = int(clean_logits[0, pos].argmax()) if target is None else _one_token(adapter, target, "target")
        distractor_id = None
        if metric == "logit_diff":
            if distractor is None:
                distractor_id = int(corrupted_logits[0, pos].argmax())
                if distractor_id == target_id:
                    raise ValueError(
                        f"the corrupted prompt's top prediction is the target {adapter.token_str(target_id)!r} "
                        "too; pass distractor=... (a different token) for the logit difference"
                    )
            else:
                distractor_id = _one_token(adapter, distractor, "distractor")
                if distractor_id == target_id:
                    raise ValueError(
                        f"distractor {distractor!r} is the target token {adapter.token_str(target_id)!r}; "
                        "the logit difference needs two different tokens"
                    )
        raw = _named_raw(metric, target_id, distractor_id, clean_logits[:, pos].log_softmax(-1))
    else:
        raise ValueError(f"metric {metric!r} is not one of {list(METRICS)} or a callable of the logits")
    probe = Metric(name, pos, target_id, distractor_id, raw, 1.0, 0.0, False)
    with torch.no_grad():
        clean_value = float(probe.scaled(clean_logits))
        corrupted_value = float(probe.scaled(corrupted_logits))
    if normalize and abs(clean_value - corrupted_value) <= 1e-6 * max(1.0, abs(clean_value)):
        raise ValueError(
            f"the metric {name!r} is {clean_value:.6g} on both the clean and the corrupted prompt, so "
            "it cannot be normalized (clean = 1, corrupted = 0); pick prompts or tokens that it tells "
            "apart, or pass normalize=False"
        )
    return Metric(name, pos, target_id, distractor_id, raw, clean_value, corrupted_value, normalize)


def _named_raw(
    name: str, target: int, distractor: Optional[int], clean_log_probs: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The raw named metric of logits ``[B, 1, d_vocab]`` -> ``[B]``."""

    def raw(logits: torch.Tensor) -> torch.Tensor:
        logits = logits[:, 0].float()
        if name == "logit_diff":
            return logits[:, target] - logits[:, distractor]
        if name == "logit":
            return logits[:, target]
        log_probs = logits.log_softmax(-1)
        if name == "prob":
            return log_probs[:, target].exp()
        ref = clean_log_probs.to(log_probs.device)
        return (ref.exp() * (ref - log_probs)).sum(-1)

    return raw
