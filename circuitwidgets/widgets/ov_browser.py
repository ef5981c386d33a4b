"""OVBrowser: what every attention head *writes*, following Elhage et al.'s Framework paper.

Three linked panels:

* **Copying map** — a layers x heads grid coloured by each head's OV copying score
  ``Re(Σλ)/Σ|λ|`` (eigenvalues ``λ`` of its full OV circuit ``W_E·W_V·W_O·W_U``) on a
  diverging scale centred on 0: copying heads one colour, anti-copying (suppressing) heads
  the other. Hover a cell for its numbers; click it, or move with the arrow keys, to select
  the head. Each cell is a button named ``layer L head H``.
* **Spectrum** — the selected head's eigenvalues in the complex plane, with reference circles
  labelled by ``|λ|`` and a log-magnitude option (eigenvalues span orders of magnitude); the
  copying score and the share of eigenvalue mass on the positive real half-plane as numbers.
* **Token map** — for source tokens you type or pick, the top-k tokens the head's full OV
  circuit promotes, with the logits it adds; a reverse tab ("which source tokens make this
  head write X?"); and a QK tab (which key tokens a query token prefers). The vocabulary-sized
  work runs in Python when the browser asks (``_token_queries``), cached per widget.

Every number comes from :mod:`circuitwidgets.analysis` (:func:`~circuitwidgets.analysis.ov_spectrum`,
:func:`~circuitwidgets.analysis.ov_token_map`, :func:`~circuitwidgets.analysis.ov_sources_for`,
:func:`~circuitwidgets.analysis.qk_token_map`).

What crosses to the browser: the copying scores, positive-mass shares and eigenvalues of
every head (float32, ``n_layers x n_heads x d_head x 2`` — 74 kB for GPT-2 small), so picking
another head redraws at once with no kernel round trip, also in a static export; token-map
answers only as asked for (ids int32 and values float32 as binary buffers).

The spectra are computed the first time the view is shown (or a number is read from Python),
layer by layer with a progress line in the view, then kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Sequence

import torch
import traitlets

from ..analysis import OVSpectrum, TokenMap, ov_spectrum
from ..analysis.ov import CIRCUITS
from ..checks import check_choice
from ..model import ModelAdapter
from ._channel import AnswersRequests, handles
from ._payloads import TokenDefaults, TokenRef
from ._token_queries import MODES, TokenQueries, payload
from ._transport import BinaryArray, Encoded
from .selection import LinkedView, Selection

__all__ = ["OVBrowser", "DEFAULT_TOKENS", "DEFAULT_TARGETS", "PICKABLE_TOKENS", "frequent_tokens"]

#: How many tokens the token map starts with (sources and QK queries) ...
DEFAULT_TOKENS = 8
#: ... and how many more it offers to pick from (the text's, or frequent ones).
PICKABLE_TOKENS = 32
#: How many of those the reverse tab starts with as targets.
DEFAULT_TARGETS = 3
#: How many of the lowest token ids :func:`frequent_tokens` looks through.
_FREQUENT_SCAN = 2048

TokenMapsToExport = Literal["selected", "all", "none"]
_TOKEN_MAP_EXPORTS = ("selected", "all", "none")


def frequent_tokens(adapter: ModelAdapter, n: int = DEFAULT_TOKENS) -> list[int]:
    """``n`` frequent whole-word tokens of the model's vocabulary, as ids.

    A byte-level BPE tokenizer (GPT-2's, the pocket models') numbers its tokens in the order
    it learned them, and it learns the most frequent pairs first; so among the first
    :data:`_FREQUENT_SCAN` ids, the tokens that are a space followed by two or more letters
    (``" the"``, ``" self"``) are frequent words. Where there are fewer than ``n`` of those,
    the other non-special tokens fill up the list in id order.
    """
    scan = min(adapter.d_vocab, _FREQUENT_SCAN)
    names = adapter.to_str_tokens(list(range(scan)))
    special = adapter.special_token_ids
    ordinary = [i for i, s in enumerate(names) if i not in special and s.strip() and "\ufffd" not in s]
    words = [i for i in ordinary if names[i].startswith(" ") and len(names[i]) >= 3 and names[i][1:].isalpha()]
    rest = [i for i in ordinary if i not in set(words)]
    return (words + rest)[:n]


class OVBrowser(AnswersRequests, LinkedView):
    """Every head's OV circuit: copying map, eigenvalue spectrum and token maps.

    Parameters
    ----------
    model:
        {MODELS}.
    text:
        Optional text whose tokens the token map starts with (e.g. ``explorer.text`` of an
        AttentionExplorer on screen); without it, frequent tokens (:func:`frequent_tokens`).
    tokens:
        Token ids instead of ``text`` (e.g. ``tokens=[0, 17, 5]``), for a model without a
        tokenizer; the text box then shows them as ``"#0 #17 #5"``
        (:meth:`~circuitwidgets.ModelAdapter.view_text`).
    selection:
        A :class:`~circuitwidgets.Selection` to share with other views (default: a new one).
    layer, head:
        The head to show first (default: the selection's, else 0, 0).
    circuit:
        ``"full"`` (default): eigenvalues of ``W_E·W_V·W_O·W_U``, the Framework paper's copying
        score; ``"ov"``: of ``W_V·W_O`` (residual-stream space). The token maps always use
        the full (token-to-token) circuits.
    k:
        How many top tokens the token map lists per token (1 .. 100, ``MAX_K``).

    Traits
    ------
    layer, head : int
        The selected head, checked against the model; kept equal to the selection's.
    token : int or None
        A selected vocabulary token (the selection's ``token``); the reverse tab asks which
        sources make the head write it.
    k : int
        Top tokens per row of the token map.
    text : str
        The text whose tokens are the token map's defaults ('' for frequent tokens).
    circuit : str
        ``"full"`` or ``"ov"``: which circuit's eigenvalues the map and spectrum show.
    error : str
        Why the last ``text`` could not be used ('' when it could).
    copying, positive_mass, eigenvalues : tensors or None
        What the map and the spectrum draw, read-only (None until computed): each head's
        copying score and positive-mass share ``[n_layers, n_heads]``, and its eigenvalues
        as (real, imaginary) pairs ``[n_layers, n_heads, d_head, 2]``, sent as float32.
    defaults : TokenDefaults
        Read-only: the token map's starting tokens (``defaults.tokens``, ``.targets``,
        ``.choices``: ``TokenRef`` ``id``/``text`` pairs; ``defaults.kind`` "text" or
        "frequent").
    model_name, n_layers, n_heads, d_head, d_vocab, busy
        Read-only: the model's sizes, the progress line.

    Examples
    --------
    >>> w = cw.OVBrowser(model)             # in a notebook, `w` on its own draws it
    >>> w.layer, w.head = 1, 3              # the induction head copies what it reads
    >>> round(w.spectrum.copying[1, 3].item(), 1)
    1.0
    >>> w.token_map("ov", " return").top_strs[0][0]   # reading " return", it writes " return"
    ' return'
    >>> w.save_html("ov.html")              # offline copy (spectra of every head embedded)
    PosixPath('ov.html')
    """

    _bundle = "ov_browser"
    _linked = ("layer", "head", "token")
    _settable = ("circuit", "k", "text")

    # ---- Python-side selection (mirrored into `selection`) ----------------------------------
    layer = traitlets.Int(0, help="The selected layer.")
    head = traitlets.Int(0, help="The selected head.")
    token = traitlets.Int(None, allow_none=True, help="The selected vocabulary token id, or None.")

    # ---- synced to the browser ---------------------------------------------------------------
    model_name = traitlets.Unicode().tag(sync=True)
    n_layers = traitlets.Int().tag(sync=True)
    n_heads = traitlets.Int().tag(sync=True)
    d_head = traitlets.Int().tag(sync=True)
    d_vocab = traitlets.Int().tag(sync=True)
    circuit = traitlets.Unicode("full", help="'full' (W_E·W_V·W_O·W_U) or 'ov' (W_V·W_O).").tag(sync=True)
    k = traitlets.Int(10, help="Top tokens per row of the token map.").tag(sync=True)
    text = traitlets.Unicode("", help="Text whose tokens are the token map's defaults.").tag(sync=True)
    #: {"kind": "text" | "frequent", "choices": [{"id", "text"}...] (to pick from), "tokens":
    #: the first DEFAULT_TOKENS of them (sources, QK queries), "targets": the first DEFAULT_TARGETS}
    defaults = Encoded(TokenDefaults).tag(sync=True)
    #: float32 [n_layers, n_heads]: Re(Σλ)/Σ|λ| (None until computed).
    copying = BinaryArray("float32").tag(sync=True)
    #: float32 [n_layers, n_heads]: Σ_{Re λ>0}|λ| / Σ|λ|.
    positive_mass = BinaryArray("float32").tag(sync=True)
    #: float32 [n_layers, n_heads, d_head, 2]: (real, imaginary), largest |λ| first.
    eigenvalues = BinaryArray("float32").tag(sync=True)
    #: '' when idle, else what the kernel is computing (shown as a progress line).
    busy = traitlets.Unicode("").tag(sync=True)
    #: Token-map answers the page has without asking (a static export's): TokenMaps, each
    #: sent as its `payload`.
    _answers = Encoded(TokenMap, encode=payload, many=True, mirror="Payload").tag(sync=True)

    def __init__(
        self,
        model: Any,
        text: str | None = None,
        *,
        tokens: Any = None,
        selection: Selection | None = None,
        layer: int | None = None,
        head: int | None = None,
        circuit: str = "full",
        k: int = 10,
        **kwargs: Any,
    ):
        self._prepare(model, kwargs, selection=selection)
        text = self._adapter.view_text(text, tokens, required=False)
        self._queries = TokenQueries(self._adapter)
        self._spectra: dict[str, OVSpectrum] = {}
        self._validated(circuit=circuit, k=k)  # as an assignment would
        defaults = self._defaults_for(text or "")  # a bad text raises here
        a = self._adapter
        super().__init__(
            model_name=a.name,
            n_layers=a.n_layers,
            n_heads=a.n_heads,
            d_head=a.d_head,
            d_vocab=a.d_vocab,
            circuit=circuit,
            k=k,
            text=text or "",
            defaults=defaults,
            **kwargs,
        )
        self._start_linking(layer=layer, head=head)
        self._answer_requests()

    # ---- public -------------------------------------------------------------------------------

    @property
    def adapter(self) -> ModelAdapter:
        """The :class:`~circuitwidgets.ModelAdapter` the numbers come from (pass it to other
        views to share the weights it has read).

        Examples
        --------
        >>> w = cw.OVBrowser(model)
        >>> w.adapter.n_layers, w.adapter.n_heads
        (2, 4)
        """
        return self._adapter

    @property
    def spectrum(self) -> OVSpectrum:
        """The :class:`~circuitwidgets.analysis.OVSpectrum` the view shows (of ``circuit``),
        computed on first use and kept.

        Examples
        --------
        >>> w = cw.OVBrowser(model, circuit="full")
        >>> w.spectrum.eigenvalues.shape[:2]    # [n_layers, n_heads, d_head]
        torch.Size([2, 4])
        """
        return self._ensure_spectrum()

    def token_map(
        self,
        mode: str = "ov",
        tokens: int | str | Sequence[int | str] | None = None,
        *,
        layer: int | None = None,
        head: int | None = None,
        k: int | None = None,
    ) -> TokenMap:
        """The token map the view shows, as a :class:`~circuitwidgets.analysis.TokenMap`.

        ``mode``: ``"ov"`` (top destination tokens for each source token), ``"ov_sources"``
        (top source tokens for each target token) or ``"qk"`` (top key tokens for each query
        token). ``tokens``: strings that are one token each, or ids (default: the view's
        defaults for that mode). ``layer``/``head``/``k`` default to the view's.

        Examples
        --------
        >>> w = cw.OVBrowser(model, layer=1, head=3)
        >>> m = w.token_map("qk", " return", k=3)   # the keys a " return" query prefers
        >>> len(m.top_strs[0]), m.top_values.shape
        (3, torch.Size([1, 3]))
        """
        self._queries.check_mode(mode)
        if tokens is None:
            tokens = [t.id for t in self._default_list(mode)]
        elif isinstance(tokens, (int, str)):
            tokens = [tokens]
        elif isinstance(tokens, torch.Tensor):
            tokens = tokens.reshape(-1).tolist()
        elif not isinstance(tokens, (list, tuple)):
            raise TypeError(
                f"tokens must be a token (a string that is one token, or an id) or a list of them, "
                f"got {type(tokens).__name__} {tokens!r:.60}"
            )
        ids = [self._queries.resolve(t) for t in tokens]
        return self._queries.answer(
            mode,
            self.layer if layer is None else layer,
            self.head if head is None else head,
            ids,
            self.k if k is None else self._check_k(k),
        )


    def save_html(
        self, path: str | Path, *, title: str | None = None, token_maps: TokenMapsToExport = "selected"
    ) -> Path:
        """Write this view as one offline HTML file (see :func:`circuitwidgets.save_html`).

        The copying map and every head's spectrum always go in (they are small). Token maps
        need Python to answer new questions, so the file holds the answers to the default
        questions (the default tokens of each tab, at the current ``k``) for ``token_maps``:
        ``"selected"`` (the head on screen), ``"all"`` (every head) or ``"none"``. The page
        says so for the heads whose answers it lacks.

        Examples
        --------
        >>> cw.OVBrowser(model).save_html("ov.html", token_maps="selected")
        PosixPath('ov.html')
        """
        from ._export import write_html

        check_choice(token_maps, "token_maps", _TOKEN_MAP_EXPORTS)
        return write_html(self, path, title=title, options={"token_maps": token_maps})

    # ---- validation ------------------------------------------------------------------------------

    @traitlets.validate("token")
    def _valid_token(self, proposal):
        value = proposal["value"]
        return None if value is None else self._trait_check(self._adapter.to_single_token, value)

    @traitlets.validate("k")
    def _valid_k(self, proposal):
        return self._trait_check(self._check_k, proposal["value"])

    @traitlets.validate("circuit")
    def _valid_circuit(self, proposal):
        return self._trait_check(lambda c: check_choice(c, "circuit", CIRCUITS), proposal["value"])

    # ---- defaults ---------------------------------------------------------------------------------

    def _defaults_for(self, text: str) -> TokenDefaults:
        """The tokens the token map starts with and offers to pick from: the text's distinct
        ordinary tokens, or frequent tokens when there is no text. Raises ``ValueError`` for a
        text that cannot be read."""
        a = self._adapter
        if text:
            ids = a.to_tokens(text, check_length=False)[0].tolist()
            special = a.special_token_ids
            ids = [t for t in dict.fromkeys(ids) if t not in special][:PICKABLE_TOKENS]
            if not ids:
                raise ValueError(f"the text {text!r} has no ordinary tokens to start the token map with")
            kind = "text"
        else:
            ids, kind = frequent_tokens(a, PICKABLE_TOKENS), "frequent"
        choices = tuple(TokenRef(int(t), s) for t, s in zip(ids, a.to_str_tokens(ids)))
        return TokenDefaults(kind, choices, choices[:DEFAULT_TOKENS], choices[:DEFAULT_TARGETS])

    def _default_list(self, mode: str) -> list[TokenRef]:
        """The tokens a tab starts with: targets for the reverse tab (the selected token
        first, if any), tokens for the others."""
        if mode != "ov_sources":
            return list(self.defaults.tokens)
        targets = list(self.defaults.targets)
        if self.token is not None and all(t.id != self.token for t in targets):
            targets.insert(0, TokenRef(self.token, self._adapter.token_str(self.token)))
        return targets

    @traitlets.observe("text")
    def _text_changed(self, change: dict[str, Any]) -> None:
        defaults = self._attempt(lambda: self._defaults_for(change["new"]))
        if defaults is not None:
            self._set(defaults=defaults, error="")

    # ---- spectra --------------------------------------------------------------------------------

    def _ensure_spectrum(self) -> OVSpectrum:
        circuit = self.circuit
        if circuit in self._spectra:
            return self._spectra[circuit]
        n_layers = self._adapter.n_layers
        what = "W_E·W_V·W_O·W_U" if circuit == "full" else "W_V·W_O"
        with self._busy(f"Computing the eigenvalues of every head's {what}…") as show:
            progress = lambda layer: show(f"Computing OV eigenvalues: layer {layer + 1} of {n_layers} done")  # noqa: E731
            spectrum = ov_spectrum(self._adapter, circuit, progress=progress)
        self._spectra[circuit] = spectrum
        self._show_spectrum(spectrum)
        return spectrum

    def _spectrum_state(self, spectrum: OVSpectrum) -> dict[str, Any]:
        return {
            "copying": spectrum.copying,
            "positive_mass": spectrum.positive_mass,
            "eigenvalues": torch.view_as_real(spectrum.eigenvalues.resolve_conj()),
        }

    def _show_spectrum(self, spectrum: OVSpectrum) -> None:
        self._set(**self._spectrum_state(spectrum))

    @traitlets.observe("circuit")
    def _circuit_changed(self, change: dict[str, Any]) -> None:
        if change["new"] in self._spectra:
            self._show_spectrum(self._spectra[change["new"]])
        else:
            self._set(copying=None, positive_mass=None, eigenvalues=None)
            if getattr(self, "_linking", False):  # not during __init__: the view asks then
                self._ensure_spectrum()

    # ---- the browser asks -------------------------------------------------------------------------

    @handles("spectrum")
    def _spectrum_request(self, _payload: dict[str, Any]) -> dict[str, Any]:
        """``{}`` → compute the spectra of the circuit shown (with progress in ``busy``) if
        not done yet; they arrive as traits, so the answer is empty."""
        self._ensure_spectrum()
        return {}

    @handles("query")
    def _query_request(self, content: dict[str, Any]) -> dict[str, Any]:
        """``{"mode", "layer", "head", "k", "tokens"}`` → a :func:`~._token_queries.payload`
        (ids and values as binary arrays); a token that cannot be used is refused with
        ``detail = {"entry", "pieces"}`` naming it and the pieces it splits into."""
        tokens = content.get("tokens")
        if not isinstance(tokens, list):
            raise ValueError("tokens must be a list of token strings or ids")
        answer = self.token_map(
            content.get("mode"),
            tokens,
            layer=content.get("layer"),
            head=content.get("head"),
            k=content.get("k"),
        )
        return payload(answer)

    # ---- static export -------------------------------------------------------------------------

    def _page_state(self) -> dict[str, Any]:
        """Every head's spectrum and the selected head's default token maps, if not on the
        page yet (a live view asks for them; a converted notebook cannot)."""
        values: dict[str, Any] = {}
        if self.eigenvalues is None:
            values.update(self._spectrum_state(self._ensure_spectrum()))
        held = {(a.kind, a.layer, a.head, tuple(a.given.tolist()), a.top_ids.shape[-1]) for a in self._answers}
        wanted = [
            m for m in MODES
            if (m, self.layer, self.head, tuple(t.id for t in self._default_list(m)), self.k) not in held
        ]
        if wanted:
            values["_answers"] = list(self._answers) + [self.token_map(m) for m in wanted]
        return values

    def _static_state(self, options: dict[str, Any]) -> dict[str, Any]:
        """Every head's spectrum, and the default token maps of ``options["token_maps"]``
        (``"selected"`` by default)."""
        which = options.get("token_maps", "selected")
        heads: list[tuple[int, int]] = []
        if which == "selected":
            heads = [(self.layer, self.head)]
        elif which == "all":
            heads = [(l, h) for l in range(self._adapter.n_layers) for h in range(self._adapter.n_heads)]
        answers = [self.token_map(mode, layer=l, head=h) for l, h in heads for mode in MODES]
        return {**self._spectrum_state(self._ensure_spectrum()), "_answers": answers}
