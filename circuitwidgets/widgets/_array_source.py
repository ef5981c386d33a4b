"""What a view made from arrays has instead of a model (``cw.attention_heads``,
``cw.colored_tokens``): the heads' sizes, or one value per token.

A view asks its model adapter for a name, ``n_layers``, ``n_heads`` and the checks of a layer or
head index (the shared :class:`~.selection.Selection`, the request channel and the export all
check a head through them). :class:`ArrayHeads` answers exactly those from the shape of the
arrays, and nothing else: what needs a model (running a new text, ablation, the repeated-random-
tokens scores) is refused by the view itself, with :data:`NO_MODEL` saying why.

>>> heads = ArrayHeads(n_layers=1, n_heads=12)
>>> heads.check_head(12)
Traceback (most recent call last):
...
ValueError: head 12 is out of range; these patterns have heads 0..11
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch

from ._base import InvalidValue


__all__ = ["ARRAYS_NAME", "NO_MODEL", "ArrayHeads", "TokenValues", "refuse_new_text", "token_values"]

#: What a view made from arrays shows where a model's name would be.
ARRAYS_NAME = "from arrays"
#: Why a view made from arrays has no text box, ablation or model-run scores.
NO_MODEL = (
    "Made from arrays: there is no model behind this view, so it cannot run a new text, ablate a head, "
    "or score heads on repeated random tokens (previous-token, induction, duplicate-token). "
    "Entropy and BOS share come from the patterns themselves."
)


def refuse_new_text(model_free: bool, text: str, shown: str, maker: str) -> str:
    """``text`` for a view's ``text`` trait; a view made from arrays by ``maker`` has no model to
    run another one, so anything but the text it shows raises ``InvalidValue`` saying so."""
    if model_free and text != shown:
        raise InvalidValue(f"text {text!r:.40} is refused: this view was made from arrays ({maker}), with no model "
                           f"to run a new text; call {maker} again with the new arrays")
    return text


@dataclass(frozen=True)
class ArrayHeads:
    """The sizes a view reads from its model adapter, here from the arrays' shape."""

    n_layers: int
    n_heads: int
    name: str = ARRAYS_NAME

    def _check(self, value: int, name: str, what: str, count: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if not 0 <= value < count:
            raise ValueError(f"{name} {value} is out of range; these patterns have {what} 0..{count - 1}")
        return value

    def check_layer(self, layer: int, *, name: str = "layer") -> int:
        return self._check(layer, name, "layers", self.n_layers)

    def check_head(self, head: int, *, name: str = "head") -> int:
        return self._check(head, name, "heads", self.n_heads)


@dataclass(frozen=True, eq=False)
class TokenValues:
    """One value per token, as ``cw.colored_tokens`` draws them.

    Attributes
    ----------
    text:
        The tokens joined.
    str_tokens:
        The tokens as given.
    values:
        float32 ``[seq]``.
    domain:
        ``(low, high)``: the values at the two ends of the colour scale.
    """

    text: str
    str_tokens: list[str]
    values: torch.Tensor
    domain: tuple[float, float]


def _finite(value: Optional[float], name: str) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number or None, got {value!r}")
    return float(value)


def token_values(
    tokens: Sequence[str], values: Any, min_value: Optional[float] = None, max_value: Optional[float] = None
) -> TokenValues:
    """``tokens`` and ``values`` (``[seq]``: list, numpy or torch) checked, with the colour
    domain: ``min_value`` (default ``min(0, min(values))``) to ``max_value`` (default
    ``max(values)``, at least ``min_value`` + a little).

    >>> token_values(["a", "b"], [0.5, 2.0]).domain
    (0.0, 2.0)
    >>> token_values(["a", "b"], [0.5])
    Traceback (most recent call last):
    ...
    ValueError: tokens has 2 entries but values has shape (1,); give one value per token
    """
    if isinstance(tokens, str) or not isinstance(tokens, Sequence) or not all(isinstance(t, str) for t in tokens):
        raise TypeError(f"tokens must be a list of strings, got {tokens!r:.80}")
    if isinstance(values, torch.Tensor):
        v = values.detach().cpu().double()  # float64 while checking: the domain is the values' own
    else:
        array = np.asarray(values)
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"values must be numbers, got an array of {array.dtype}")
        v = torch.as_tensor(array, dtype=torch.float64)
    if v.dim() != 1 or v.shape[0] != len(tokens):
        raise ValueError(f"tokens has {len(tokens)} entries but values has shape {tuple(v.shape)}; give one value per token")
    if not tokens:
        raise ValueError("tokens is empty; give at least one token and its value")
    bad = ~torch.isfinite(v)
    if bad.any():
        i = int(bad.nonzero()[0])
        raise ValueError(f"values[{i}] is {v[i].item()} (token {tokens[i]!r}); every value must be a finite number")
    low = _finite(min_value, "min_value")
    high = _finite(max_value, "max_value")
    low = min(0.0, float(v.min())) if low is None else low
    high = float(v.max()) if high is None else high
    if not high > low:
        if max_value is not None and min_value is not None:
            raise ValueError(f"max_value {high} must be greater than min_value {low}")
        high = low + 1.0
    return TokenValues(text="".join(tokens), str_tokens=list(tokens), values=v.float(), domain=(low, high))
