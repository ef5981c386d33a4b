"""Views from plain arrays, with CircuitsVis's names: patterns and values from anywhere (JAX,
nnsight, your own code, a file), no model needed.

* :func:`attention_heads` -- ``attention`` ``[heads, q, k]`` or ``[layers, heads, q, k]`` and
  ``tokens`` as an :class:`~circuitwidgets.AttentionExplorer` in its model-free mode: the
  overview of thumbnails, the selected head's full pattern (asked for through the request
  channel, as with a model), hover, keys, the shared Selection and ``save_html``; entropy and
  BOS share are computed from the patterns; the text box, ablation and the repeated-random-
  tokens scores, which need a model, are replaced by a line saying so.
* :func:`colored_tokens` -- ``tokens`` and one value each as a :class:`~circuitwidgets.TokenView`
  in its model-free mode.

The arguments are CircuitsVis's (``circuitsvis.attention.attention_heads``,
``circuitsvis.tokens.colored_tokens``), so ``cv.`` can become ``cw.``; those of them that
these views cannot honour raise a ``ValueError`` saying what they do instead (see each
function), rather than being ignored.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ..analysis.array_patterns import array_patterns
from ._array_source import token_values
from ._attention_store import THUMBNAIL_SIZE
from .attention_explorer import AttentionExplorer
from .selection import Selection
from .token_view import TokenView

__all__ = ["attention_heads", "colored_tokens"]


def _refuse_colours(negative_color: Optional[str], positive_color: Optional[str]) -> None:
    for name, value in (("negative_color", negative_color), ("positive_color", positive_color)):
        if value is not None:
            raise ValueError(
                f"{name}={value!r} is not taken: circuitwidgets draws with its theme's palette (light, dark and "
                "colour-blind-safe, read from the notebook's theme); leave it out"
            )


def attention_heads(
    attention: Any,
    tokens: Sequence[str],
    attention_head_names: Optional[Sequence[str]] = None,
    max_value: Optional[float] = None,
    min_value: Optional[float] = None,
    negative_color: Optional[str] = None,
    positive_color: Optional[str] = None,
    mask_upper_tri: Optional[bool] = None,
    *,
    selection: Optional[Selection] = None,
    layer: Optional[int] = None,
    head: Optional[int] = None,
) -> AttentionExplorer:
    """Attention patterns from an array, drawn by :class:`~circuitwidgets.AttentionExplorer`
    with no model (CircuitsVis's ``attention_heads``, for every layer at once and long texts).

    Parameters
    ----------
    attention:
        ``[heads, query, key]`` (one layer, as CircuitsVis takes) or ``[layers, heads, query,
        key]``: a torch tensor (any device), a numpy array or nested lists. Kept as given (no
        copy; lists become one float16 tensor). Every row must be a causal attention
        distribution: finite weights in [0, 1], 0 after the query, summing to 1 within
        :func:`~circuitwidgets.analysis.row_sum_tolerance` (0.001 for float32); otherwise a
        ``ValueError`` names the entry and its value.
    tokens:
        One display string per position.
    attention_head_names:
        Not taken (a ``ValueError``): heads are named ``layer.head`` so that the shared
        Selection means the same head in every view.
    max_value, min_value:
        Only ``1`` and ``0`` (the range of attention weights, what the colours span), else a
        ``ValueError``.
    negative_color, positive_color:
        Not taken (a ``ValueError``): the colours follow the theme.
    mask_upper_tri:
        ``None`` or ``True``: keys after the query are masked. ``False`` (bidirectional
        attention) is a ``ValueError``: these views draw causal patterns.
    selection, layer, head:
        As :class:`~circuitwidgets.AttentionExplorer` takes them: a Selection to share with
        other views, and the head shown first.

    Examples
    --------
    >>> mask = torch.ones(6, 6).triu(1).bool()
    >>> attention = torch.softmax(torch.randn(4, 6, 6).masked_fill(mask, -torch.inf), dim=-1)
    >>> w = cw.attention_heads(attention, ["<bos>", "a", " b", " c", " a", " b"])
    >>> w.n_layers, w.n_heads, w.model_name
    (1, 4, 'from arrays')
    >>> w.head = 3                          # in a notebook `w` draws it; the selection follows
    >>> bool((w.pattern() - attention[3]).abs().max() < 1e-3)     # drawn from float16
    True
    """
    if attention_head_names is not None:
        raise ValueError(
            "attention_head_names is not taken: heads are named layer.head (the shared Selection's layer and head), "
            "as every view names them; leave it out"
        )
    if max_value not in (None, 1) or min_value not in (None, 0):
        raise ValueError(
            f"max_value={max_value!r}, min_value={min_value!r}: attention weights are drawn on their own range, "
            "0 to 1; leave them out (or pass 1 and 0)"
        )
    _refuse_colours(negative_color, positive_color)
    if mask_upper_tri not in (None, True):
        raise ValueError(
            f"mask_upper_tri={mask_upper_tri!r}: these views draw causal attention (keys after the query masked); "
            "bidirectional patterns are not drawn"
        )
    patterns = array_patterns(attention, tokens, pooled_size=THUMBNAIL_SIZE)
    return AttentionExplorer(patterns, selection=selection, layer=layer, head=head)


def colored_tokens(
    tokens: Sequence[str],
    values: Any,
    min_value: Optional[float] = None,
    max_value: Optional[float] = None,
    negative_color: Optional[str] = None,
    positive_color: Optional[str] = None,
) -> TokenView:
    """``tokens`` coloured by one value each, drawn by :class:`~circuitwidgets.TokenView` with
    no model (CircuitsVis's ``colored_tokens``).

    Parameters
    ----------
    tokens:
        One display string per token.
    values:
        ``[len(tokens)]`` finite numbers (list, numpy or torch); anything else is a
        ``ValueError`` naming the shape or the entry.
    min_value, max_value:
        The values at the two ends of the colour scale (default: ``min(0, min(values))`` and
        ``max(values)``). A domain that spans 0 is drawn diverging (the theme's low colour
        below 0, its high colour above), else sequential.
    negative_color, positive_color:
        Not taken (a ``ValueError``): the colours follow the theme.

    Examples
    --------
    >>> v = cw.colored_tokens(["The", " cat", " sat"], [0.1, -0.4, 0.9])
    >>> v.tokens, v.result.domain           # spans 0: drawn diverging
    (['The', ' cat', ' sat'], (-0.4, 0.9))
    >>> v.probs                             # the values as drawn (float32)
    tensor([ 0.1000, -0.4000,  0.9000])
    """
    _refuse_colours(negative_color, positive_color)
    return TokenView(token_values(tokens, values, min_value, max_value))
