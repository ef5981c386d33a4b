"""TokenView: a text as the model's tokens, each coloured by how likely the model found it.

Token ``i`` is coloured by ``P(token_i | tokens before it)``, the probability the model gave
the token that actually came next (see :mod:`circuitwidgets.analysis.next_token`); the first
token has nothing before it to be predicted from and is drawn neutral. Hover a token (or focus
the strip and use the arrow keys) for its text, id and probability.
"""

from __future__ import annotations

from typing import Any

import torch
import traitlets

from ..analysis.next_token import NextTokenProbabilities, next_token_probabilities
from ._array_source import ARRAYS_NAME, TokenValues, refuse_new_text
from ._base import CircuitWidget
from ._transport import BinaryArray

__all__ = ["TokenView"]


class TokenView(CircuitWidget):
    """The model's tokens for ``text``, coloured by each one's next-token probability.

    Parameters
    ----------
    model:
        {MODELS}; anything else raises ``TypeError``.
    text:
        The text to show. An empty text, or one longer than the model's context, raises
        ``ValueError`` here; set later through :attr:`text` (from Python or the view's text
        box), it instead shows the problem inside the widget and keeps the last good tokens.
    tokens:
        Token ids instead of ``text`` (e.g. ``tokens=[0, 17, 5]``), for a model without a
        tokenizer; the text box then shows them as ``"#0 #17 #5"``
        (:meth:`~circuitwidgets.ModelAdapter.view_text`).

    Made by :func:`circuitwidgets.colored_tokens` instead, a TokenView draws any value per
    token, with no model: no text box (``text`` is refused), ``probs`` holds the values and
    :attr:`result` is their ``TokenValues``.

    A TokenView follows no :class:`~circuitwidgets.Selection` (it shows no layer, head or
    position to share): ``selection=...``, like any unknown keyword, raises ``TypeError``
    naming the keyword arguments it takes.

    Traits
    ------
    text : str
        The input text; setting it re-runs the model and redraws.
    error : str
        Why the current ``text`` is not shown ('' when it is).
    tokens : list[str]
        Display strings of the drawn tokens (read-only).
    token_ids, probs : tensors
        The token ids ``[seq]`` and ``P(token_i | tokens_<i)`` ``[seq]`` (NaN at 0), read-only;
        sent to the browser as int32 and float32 binary buffers. From
        :func:`~circuitwidgets.colored_tokens`: no ids (``[0]``) and the values.
    model_name : str
        The model's name, shown in the header (read-only).

    Examples
    --------
    >>> w = cw.TokenView(model, "def area(w, h): return w * h")
    >>> w.tokens                         # in a notebook, `w` on its own draws the view
    ['<|endoftext|>', 'def', ' are', 'a', '(', 'w', ',', ' h', '):', ' return', ' w', ' *', ' h']
    >>> line = " for item in items: total += item.price"
    >>> w.text = line + line             # the view redraws
    >>> p = w.result.probs               # P(token | tokens before it); NaN for the first
    >>> n = len(p) // 2                  # the second copy is far easier to predict
    >>> bool(p[1:n + 1].mean() < 0.1 < 0.3 < p[n + 1:].mean())
    True
    """

    _bundle = "token_view"
    _settable = ("text",)

    text = traitlets.Unicode(help="The input text; setting it re-runs the model.").tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode(), help="Display strings of the drawn tokens.").tag(sync=True)
    token_ids = BinaryArray("int32", help="Token ids [seq].").tag(sync=True)
    probs = BinaryArray("float32", help="P(token_i | tokens_<i) [seq], NaN at 0.").tag(sync=True)
    model_name = traitlets.Unicode(help="The model's name, shown in the header.").tag(sync=True)
    #: True when made from values (cw.colored_tokens): no model, no text box.
    _model_free = traitlets.Bool(False).tag(sync=True)
    #: From values: float32 [low, high], the values at the two ends of the colour scale
    #: (None: probabilities, 0 to 1).
    _domain = BinaryArray("float32").tag(sync=True)

    def __init__(self, model: Any, text: str | None = None, *, tokens: Any = None, **kwargs: Any):
        self._result: NextTokenProbabilities | TokenValues | None = None
        if isinstance(model, TokenValues):  # cw.colored_tokens: the values are the result
            self._check_keywords(kwargs)
            if text is not None or tokens is not None:
                raise TypeError("text and tokens come with the values (cw.colored_tokens(tokens, values)); pass neither")
            self._adapter = None
            result: NextTokenProbabilities | TokenValues = model
            super().__init__(model_name=ARRAYS_NAME, _model_free=True, _domain=list(model.domain), **kwargs)
        else:
            self._prepare(model, kwargs)
            result = next_token_probabilities(self._adapter, self._adapter.view_text(text, tokens))  # bad text raises here
            super().__init__(model_name=self._adapter.name, **kwargs)
        self._show(result)

    @property
    def result(self) -> NextTokenProbabilities | TokenValues:
        """The numbers the view is drawing (those of the last text that could be shown; from
        :func:`circuitwidgets.colored_tokens`, the ``TokenValues`` given).

        Examples
        --------
        >>> w = cw.TokenView(model, "a b c a b c")
        >>> r = w.result
        >>> r.str_tokens[-1], r.probs.shape
        (' c', torch.Size([7]))
        """
        assert self._result is not None
        return self._result

    @traitlets.validate("text")
    def _valid_text(self, proposal):
        return refuse_new_text(self._model_free, proposal["value"], self._result.text, "cw.colored_tokens")

    def _show(self, result: NextTokenProbabilities | TokenValues) -> None:
        self._result = result
        if isinstance(result, TokenValues):
            ids, values = torch.zeros(0, dtype=torch.int32), result.values
        else:
            ids, values = result.token_ids, result.probs
        self._set(text=result.text, tokens=list(result.str_tokens), token_ids=ids, probs=values, error="")

    @traitlets.observe("text")
    def _text_changed(self, change: dict[str, Any]) -> None:
        if self._result is not None and change["new"] == self._result.text:
            self._set(error="")  # back to the text already drawn
            return
        result = self._attempt(lambda: next_token_probabilities(self._adapter, change["new"]))
        if result is not None:
            self._show(result)
