"""Input checks shared by the analyses, the figures and the views: each bad value gets a
``ValueError`` (or ``TypeError``) that names the value and the valid range, so a notebook user
can fix it at once.

It sits beside the model adapter, below ``analysis/``, ``figures/`` and ``widgets/`` (all three
import it; it imports only :mod:`circuitwidgets.model`), so a check and its message are
written once however many layers ask it.

>>> check_int(3, "head", 0, 3)
3
>>> check_head(1, 7, n_layers=2, n_heads=4)
Traceback (most recent call last):
...
ValueError: head 7 is out of range; it must be in [0, 3]
"""

from __future__ import annotations

from typing import Sequence, Union

import torch

from .model import ModelAdapter

TokenLike = Union[str, int, Sequence[Union[str, int]], torch.Tensor]


def check_int(value: int, name: str, low: int, high: int | None = None, why: str = "") -> int:
    """``value`` if it is an int in ``[low, high]`` (no upper bound when ``high`` is None),
    else a ``TypeError``/``ValueError`` naming the value and the range, followed by ``why``
    (e.g. ``" (1 + 2*half tokens must fit the context of 64)"``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if high is None and value < low:
        raise ValueError(f"{name} {value} is out of range; it must be at least {low}{why}")
    if high is not None and not low <= value <= high:
        raise ValueError(f"{name} {value} is out of range; it must be in [{low}, {high}]{why}")
    return value


def check_head(layer: int, head: int, n_layers: int, n_heads: int) -> tuple[int, int]:
    """``(layer, head)`` if both are ints in range, else an error naming the value and range."""
    return check_int(layer, "layer", 0, n_layers - 1), check_int(head, "head", 0, n_heads - 1)


def check_pair(pair: object, n_layers: int | None = None, n_heads: int | None = None) -> list[int]:
    """A pair of heads, ``[]`` (none) or ``[writer layer, writer head, reader layer, reader
    head]`` with the writer in an earlier layer, as a list of ints; within ``n_layers`` x
    ``n_heads`` when given. Else an error naming the pair, then the bad part.

    >>> check_pair((0, 1, 1, 3), n_layers=2, n_heads=4)
    [0, 1, 1, 3]
    >>> check_pair([1, 0, 0, 1])
    Traceback (most recent call last):
    ...
    ValueError: pair [1, 0, 0, 1]: the writing head's layer 1 must be before the reading head's 0
    """
    if not isinstance(pair, (list, tuple)) or len(pair) not in (0, 4):
        raise ValueError(f"pair {pair!r} must be [] or [writer layer, writer head, reader layer, reader head]")
    if not pair:
        return []
    names = ("writer layer", "writer head", "reader layer", "reader head")
    highs = (None, None, None, None) if n_layers is None or n_heads is None else (
        n_layers - 1, n_heads - 1, n_layers - 1, n_heads - 1)
    try:
        l1, h1, l2, h2 = (check_int(v, name, 0, high) for v, name, high in zip(pair, names, highs))
    except (TypeError, ValueError) as exc:  # the message names the whole pair, then the part
        raise type(exc)(f"pair {list(pair)!r}: {exc}") from None
    if l1 >= l2:
        raise ValueError(f"pair {list(pair)!r}: the writing head's layer {l1} must be before the reading head's {l2}")
    return [l1, h1, l2, h2]


def check_choice(value: str, name: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else a ``ValueError`` listing them."""
    if value not in choices:
        raise ValueError(f"{name} {value!r} is not one of {list(choices)}")
    return value


def check_position(position: int, seq_len: int) -> int:
    """A position in a sequence of ``seq_len`` tokens, negative counting from the end,
    returned as a non-negative index."""
    if isinstance(position, bool) or not isinstance(position, int):
        raise TypeError(f"position must be an int, got {type(position).__name__} {position!r}")
    if not -seq_len <= position < seq_len:
        raise ValueError(
            f"position {position} is out of range; this text has {seq_len} tokens, so positions "
            f"0..{seq_len - 1} (or -{seq_len}..-1 from the end)"
        )
    return position % seq_len


def token_ids(adapter: ModelAdapter, tokens: TokenLike, name: str = "token") -> torch.Tensor:
    """Token ids ``LongTensor[n]`` for one token or a list of them.

    Each entry is a string that is exactly one token (``" the"``) or an id in
    ``[0, d_vocab)``; anything else is a ``ValueError`` from the adapter naming the entry.
    """
    if isinstance(tokens, torch.Tensor):
        if tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise TypeError(f"{name} ids must be an integer tensor, got {tokens.dtype}")
        items: list = [int(t) for t in tokens.reshape(-1)]
    elif isinstance(tokens, (str, int)):
        items = [tokens]
    else:
        items = list(tokens)
    if not items:
        raise ValueError(f"no {name} given; pass at least one token (a string or an id)")
    return torch.tensor([adapter.to_single_token(t) for t in items], dtype=torch.long)


def check_k(k: int, d_vocab: int) -> int:
    """How many top tokens to keep: an int in ``[1, d_vocab]``."""
    return check_int(k, "k", 1, d_vocab)
