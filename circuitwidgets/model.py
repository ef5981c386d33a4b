"""One adapter over the TransformerLens model kinds circuitwidgets supports.

TransformerLens has two generations of model class:

* ``HookedTransformer`` (TransformerLens 2.x and 3.x), and
* ``TransformerBridge`` (TransformerLens 3.x under ``transformer_lens.model_bridge``, and the
  only model class in 4.x), with or without ``enable_compatibility_mode()``.

Everything else in circuitwidgets talks to a :class:`ModelAdapter` and never asks which one it
has: this module is the only place that branches on the TransformerLens version or model class.

>>> from circuitwidgets import ModelAdapter, load_pocket_model
>>> m = ModelAdapter(load_pocket_model())
>>> m.n_layers, m.n_heads
(2, 4)
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import warnings
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping, Sequence

import torch

__all__ = [
    "FinalNorm",
    "QKRecipe",
    "ModelAdapter",
    "as_adapter",
    "build_model",
    "from_hugging_face",
    "hook_name",
    "soft_cap",
    "transformer_lens_version",
]


# --------------------------------------------------------------------------------------------
# Which TransformerLens is installed
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def transformer_lens_version() -> tuple[int, ...]:
    """The installed TransformerLens version as a tuple of ints, e.g. ``(4, 3, 0)``."""
    from importlib.metadata import version

    parts = []
    for piece in version("transformer-lens").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


@functools.lru_cache(maxsize=None)
@functools.cache
def _byte_level_alphabet() -> dict[str, int]:
    """Byte-level BPE (GPT-2 and most of its descendants) writes each byte of a token as one
    printable character: bytes that are printable Latin-1 stand for themselves, the other 68
    are given the characters from U+0100 on, in byte order. This is that table, reversed."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {chr(b): b for b in printable}
    others = [b for b in range(256) if b not in set(printable)]
    table.update({chr(256 + n): b for n, b in enumerate(others)})
    return table


def _token_bytes(piece: str) -> bytes | None:
    """The raw bytes of a tokenizer's vocabulary entry, when it spells them out: byte-level BPE
    (``"âĢ"``) or SentencePiece byte fallback (``"<0xE2>"``); ``None`` for anything else."""
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        try:
            return bytes([int(piece[3:5], 16)])
        except ValueError:
            return None
    alphabet = _byte_level_alphabet()
    if piece and all(ch in alphabet for ch in piece):
        return bytes(alphabet[ch] for ch in piece)
    return None


def _hooked_transformer_class() -> type | None:
    """``HookedTransformer`` where the installed TransformerLens still has it (2.x, 3.x)."""
    if transformer_lens_version() >= (4,):
        return None
    try:
        from transformer_lens import HookedTransformer
    except ImportError:  # pragma: no cover - depends on the installed version
        return None
    return HookedTransformer


@functools.lru_cache(maxsize=None)
def _bridge_class() -> type | None:
    """``TransformerBridge`` where the installed TransformerLens has it (3.x, 4.x)."""
    try:
        from transformer_lens.model_bridge import TransformerBridge
    except ImportError:  # pragma: no cover - depends on the installed version
        return None
    return TransformerBridge


def _loading_hint(name: str) -> str:
    """The two lines that turn a Hugging Face model name into a supported model."""
    if _hooked_transformer_class() is not None:
        return (
            "    from transformer_lens import HookedTransformer\n"
            f"    model = HookedTransformer.from_pretrained({name!r})"
        )
    return (
        "    from transformer_lens import TransformerBridge\n"
        f"    model = TransformerBridge.boot_transformers({name!r})"
    )


def _unsupported(model: Any) -> TypeError:
    kind = type(model)
    what = "None" if model is None else f"{kind.__module__}.{kind.__qualname__}"
    if isinstance(model, str):
        name = model
        what = f"the string {model!r}"
    else:
        name = getattr(getattr(model, "config", None), "_name_or_path", None) or getattr(
            model, "name_or_path", None
        )
        name = name if isinstance(name, str) and name else "gpt2"
    accepted = "a TransformerLens model (HookedTransformer or TransformerBridge)"
    if transformer_lens_version() >= (4,):
        accepted += " or a Hugging Face causal LM (with tokenizer=)"
    accepted += " or an nnsight LanguageModel"
    return TypeError(
        f"circuitwidgets needs {accepted}, "
        f"but got {what}.\n"
        "To turn a Hugging Face model name into a supported model:\n"
        f"{_loading_hint(name)}\n"
        "or, offline, use the built-in model: circuitwidgets.load_pocket_model()"
    )


# --------------------------------------------------------------------------------------------
# Hook names (TransformerLens's canonical names, which both model kinds expose)
# --------------------------------------------------------------------------------------------

_HOOK_FORMATS = {
    "embed": "hook_embed",
    "pos_embed": "hook_pos_embed",
    "resid_pre": "blocks.{layer}.hook_resid_pre",
    "resid_mid": "blocks.{layer}.hook_resid_mid",
    "resid_post": "blocks.{layer}.hook_resid_post",
    "attn_out": "blocks.{layer}.hook_attn_out",
    "mlp_out": "blocks.{layer}.hook_mlp_out",
    "mlp_post": "blocks.{layer}.mlp.hook_post",
    "pattern": "blocks.{layer}.attn.hook_pattern",
    "attn_scores": "blocks.{layer}.attn.hook_attn_scores",
    "z": "blocks.{layer}.attn.hook_z",
    "v": "blocks.{layer}.attn.hook_v",
    "q": "blocks.{layer}.attn.hook_q",
    "k": "blocks.{layer}.attn.hook_k",
    "rot_q": "blocks.{layer}.attn.hook_rot_q",
    "rot_k": "blocks.{layer}.attn.hook_rot_k",
    "ln_final_scale": "ln_final.hook_scale",
}


def hook_name(kind: str, layer: int | None = None) -> str:
    """The TransformerLens hook name for an activation, e.g. ``hook_name("pattern", 1)``.

    ``kind`` is one of ``embed, pos_embed, resid_pre, resid_mid, resid_post, attn_out,
    mlp_out, mlp_post, pattern, attn_scores, z, v, q, k, rot_q, rot_k, ln_final_scale``
    (``rot_q``/``rot_k``: queries and keys after the rotary rotation, on rotary models).
    """
    try:
        fmt = _HOOK_FORMATS[kind]
    except KeyError:
        raise ValueError(
            f"unknown activation kind {kind!r}; expected one of {sorted(_HOOK_FORMATS)}"
        ) from None
    if "{layer}" in fmt:
        if layer is None:
            raise ValueError(f"hook {kind!r} needs a layer")
        return fmt.format(layer=layer)
    return fmt


# --------------------------------------------------------------------------------------------
# The adapter
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Weights:
    """The weights the circuit analyses need, float32 on the CPU, one K/V per query head.

    Shapes: ``W_E [d_vocab, d_model]``, ``W_pos [n_ctx, d_model]`` (``None`` for models without
    learned absolute positions), ``W_Q/W_K/W_V [n_layers, n_heads, d_model, d_head]``,
    ``W_O [n_layers, n_heads, d_head, d_model]``, ``b_O [n_layers, d_model]``,
    ``W_U [d_model, d_vocab]``, ``b_U [d_vocab]``.

    These are the *effective* weights: what each part actually writes to or reads from the
    residual stream, whatever the family stores. A bias the model does not have is zeros
    (Llama, Qwen, Gemma ... have no ``b_O``); grouped-query and multi-query K/V heads are
    repeated for the query heads that share them; ``W_E`` is each token's embedding as the
    model adds it to the stream (with Gemma's ``sqrt(d_model)``, Granite's
    ``embedding_multiplier``, BLOOM's embedding LayerNorm on the bridge); a residual
    multiplier (Granite) is in ``W_O`` and ``b_O``; a linear logit scale (Granite's
    ``1 / logits_scaling``) is in ``W_U`` and ``b_U``. A final-logit soft cap is not linear
    and stays out: see :attr:`ModelAdapter.logit_soft_cap`.
    """

    W_E: torch.Tensor
    W_pos: torch.Tensor | None
    W_Q: torch.Tensor
    W_K: torch.Tensor
    W_V: torch.Tensor
    W_O: torch.Tensor
    b_O: torch.Tensor
    W_U: torch.Tensor
    b_U: torch.Tensor


@dataclass(frozen=True)
class FinalNorm:
    """The model's final normalization (``ln_final``) written out as a formula.

    For a residual vector ``x [d_model]``::

        c     = x - x.mean()   if centers (LayerNorm)   else x   (RMSNorm, or no norm)
        scale = sqrt(mean(c**2) + eps)                    (1.0 when kind == "none")
        ln_final(x) = c / scale * weight + bias

    Once ``scale`` is frozen (taken from the whole residual stream), this is linear in ``x``,
    which is what direct logit attribution needs: the contribution of one component ``v`` of
    the stream is ``center(v) / scale * weight``. ``weight``/``bias`` are float32 CPU tensors
    ``[d_model]`` (ones/zeros where the norm has none).
    """

    kind: str  # "LN", "RMS" or "none"
    weight: torch.Tensor
    bias: torch.Tensor
    eps: float

    @property
    def centers(self) -> bool:
        """Whether the norm subtracts the mean over ``d_model`` (LayerNorm) first."""
        return self.kind == "LN"

    def center(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` minus its mean over the last dimension for LayerNorm; ``x`` otherwise."""
        return x - x.mean(dim=-1, keepdim=True) if self.centers else x

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """The norm's scale for residual vectors ``x [..., d_model]``, shape ``[..., 1]``."""
        if self.kind == "none":
            return torch.ones(*x.shape[:-1], 1, dtype=x.dtype)
        return (self.center(x).pow(2).mean(dim=-1, keepdim=True) + self.eps).sqrt()


#: See :attr:`ModelAdapter.tolerance`.
#: Tokens in the probe that measures how a model scores attention (:attr:`ModelAdapter.qk_recipe`):
#: longer than the small sliding windows of the test models, so their masks show.
QK_PROBE_TOKENS = 40
@dataclass(frozen=True)
class QKRecipe:
    """How a model turns each layer's queries and keys into its attention patterns, as
    measured by :attr:`ModelAdapter.qk_recipe`.

    Head ``h`` of layer ``l`` scores key ``j`` from query ``i`` as ``s = scales[l] * q_i·k_j``,
    soft-capped to ``soft_cap * tanh(s / soft_cap)`` where ``soft_cap`` is set (Gemma 2),
    masks keys after the query (causal) and, where ``windows[l]`` is set, keys ``j <= i -
    windows[l]`` (a sliding window), and takes the softmax over keys. ``q_kind`` and
    ``k_kind`` are the :func:`hook_name` kinds that give q and k (after the rotation, on
    rotary models); grouped-query K heads are shared by ``n_heads / n_kv_heads`` query heads
    each. ``reason`` says why this model's patterns cannot be rebuilt that way (``''`` when
    they can); ``longest`` is the longest text they can be rebuilt for where the model
    declares a sliding window longer than the probe could show (``None``: any length).

    >>> recipe = ModelAdapter(model).qk_recipe
    >>> recipe.reason, recipe.q_kind, len(recipe.scales)
    ('', 'q', 2)
    """

    q_kind: str
    k_kind: str
    scales: tuple[float, ...]
    soft_cap: float | None
    windows: tuple[int | None, ...]
    longest: int | None
    reason: str = ""

    def why_not(self, seq: int) -> str:
        """Why a ``seq``-token text's patterns cannot be rebuilt from q and k ('' if they can)."""
        if self.reason:
            return self.reason
        if self.longest is not None and seq > self.longest:
            return (
                f"this model declares a sliding attention window of {self.longest} tokens, longer "
                f"than the probe could check, and this text has {seq} tokens"
            )
        return ""

    def scores(
        self,
        layer: int,
        q: torch.Tensor,
        k: torch.Tensor,
        queries: range | None = None,
        keys: range | None = None,
    ) -> torch.Tensor:
        """float32 ``[n_heads, len(queries), len(keys)]``: layer ``layer``'s scores of the
        query positions ``queries`` (default: all) against the key positions ``keys``
        (default: ``0 .. queries.stop - 1``; later keys are all masked), masked keys
        ``-inf``. ``q`` is ``[n_heads, seq, d_head]``, ``k`` ``[n_kv_heads, seq, d_head]``:
        K heads unexpanded, each shared by ``n_heads / n_kv_heads`` consecutive query heads."""
        queries = range(q.shape[1]) if queries is None else queries
        keys = range(queries.stop) if keys is None else keys
        n_heads, n_kv = q.shape[0], k.shape[0]
        rows = q[:, queries.start : queries.stop].float() * self.scales[layer]
        columns = k[:, keys.start : keys.stop].float().transpose(1, 2)
        s = (rows.reshape(n_kv, -1, q.shape[-1]) @ columns).reshape(n_heads, len(queries), len(keys))
        if self.soft_cap is not None:
            s = torch.tanh(s.div_(self.soft_cap)).mul_(self.soft_cap)
        window = self.windows[layer]
        # Only keys after the first query can be causally masked: mask just those columns
        # (all of them under a sliding window).
        first = keys.start if window is not None else min(max(queries.start + 1, keys.start), keys.stop)
        query = torch.arange(queries.start, queries.stop)[:, None]
        key = torch.arange(first, keys.stop)[None, :]
        hidden = key > query
        if window is not None:
            hidden |= key <= query - window
        s[..., first - keys.start :].masked_fill_(hidden, float("-inf"))
        return s


    def scores_at(self, layer: int, q: torch.Tensor, k: torch.Tensor, start: int, keys: torch.Tensor) -> torch.Tensor:
        """float32 ``[n_heads, R]``: the (unmasked) score of query ``start + r`` against key
        ``keys[h, r]`` for each head ``h`` -- one key per query, linear in the text's length."""
        n_heads, n_kv = q.shape[0], k.shape[0]
        rows = q[:, start : start + keys.shape[1]].float() * self.scales[layer]
        shared = torch.arange(n_heads) // (n_heads // n_kv)
        picked = k[shared[:, None], keys].float()  # [n_heads, R, d]
        s = (rows * picked).sum(dim=-1)
        if self.soft_cap is not None:
            s = torch.tanh(s / self.soft_cap) * self.soft_cap
        return s


_TOLERANCE = {torch.float32: 1e-3, torch.float16: 1e-2, torch.bfloat16: 5e-2}


class _EnoughSeen(Exception):
    """Raised from inside a hook to end a forward pass whose remaining layers nobody needs."""


class ModelAdapter:
    """A TransformerLens model seen through one small, stable interface.

    Parameters
    ----------
    model:
        A ``HookedTransformer`` or a ``TransformerBridge`` (an existing adapter is accepted
        and unwrapped). Anything else raises ``TypeError`` with the two lines that load a
        Hugging Face model by name.

    Example
    -------
    >>> import circuitwidgets as cw
    >>> m = cw.ModelAdapter(cw.load_pocket_model())
    >>> tokens = m.to_tokens("def f(x):")
    >>> logits, cache = m.run_with_cache(tokens, [cw.model.hook_name("pattern", 0)])
    >>> tuple(cache["blocks.0.attn.hook_pattern"].shape[:2]) == (1, m.n_heads)
    True
    """

    def __new__(cls, model: Any = None):
        # An nnsight model has its own backend (circuitwidgets.model_nnsight), behind this
        # same interface: ModelAdapter(nnsight_model) is one.
        inner = model.model if isinstance(model, ModelAdapter) else model
        if cls is ModelAdapter and _is_nnsight_model(inner):
            from .model_nnsight import NNsightAdapter

            return super().__new__(NNsightAdapter)
        return super().__new__(cls)

    def __init__(self, model: Any):
        if isinstance(model, ModelAdapter):
            model = model.model
        hooked, bridge = _hooked_transformer_class(), _bridge_class()
        if hooked is not None and isinstance(model, hooked):
            self.kind = "HookedTransformer"
        elif bridge is not None and isinstance(model, bridge):
            self.kind = "TransformerBridge"
        else:
            raise _unsupported(model)
        self.model = model
        cfg = model.cfg
        self.n_layers: int = int(cfg.n_layers)
        self.n_heads: int = int(cfg.n_heads)
        self.d_model: int = int(cfg.d_model)
        self.d_head: int = int(cfg.d_head)
        self.d_vocab: int = int(cfg.d_vocab_out if getattr(cfg, "d_vocab_out", -1) > 0 else cfg.d_vocab)
        self.n_ctx: int = int(cfg.n_ctx)
        #: The MLP's hidden width (``4 * d_model`` where the config does not say).
        self.d_mlp: int = int(getattr(cfg, "d_mlp", None) or 4 * self.d_model)
        self.attn_only: bool = bool(getattr(cfg, "attn_only", False))
        #: Attention and MLP both read ``resid_pre`` and write ``resid_post`` (GPT-J, NeoX).
        self.parallel_attn_mlp: bool = bool(getattr(cfg, "parallel_attn_mlp", False))
        kv = getattr(cfg, "n_key_value_heads", None)
        self.n_kv_heads: int = int(kv) if kv else self.n_heads
        # What the first intervention pass finds out about the model, checked inside that pass
        # (None: not yet known): whether final norm + unembedding of the last residual stream
        # reproduces its own logits (not where it does more, e.g. logit soft-capping), and
        # whether rows can join the batch mid-pass with the right result.
        self._final_readout_is_exact: bool | None = None
        self._batch_can_grow: bool | None = None

    # ---- identity -------------------------------------------------------------------------

    def __repr__(self) -> str:
        name = getattr(self.model.cfg, "model_name", None) or "model"
        return (
            f"ModelAdapter({self.kind} {name!r}: {self.n_layers} layers x {self.n_heads} heads, "
            f"d_model={self.d_model}, d_vocab={self.d_vocab}, n_ctx={self.n_ctx})"
        )

    @property
    def name(self) -> str:
        """The model's name as TransformerLens records it."""
        return str(getattr(self.model.cfg, "model_name", None) or "model")

    @property
    def tokenizer(self) -> Any:
        return getattr(self.model, "tokenizer", None)

    @property
    def has_tokenizer(self) -> bool:
        """Whether the model has a tokenizer (a toy ``HookedTransformer(cfg)`` may have none)."""
        return self.tokenizer is not None

    @property
    def device(self) -> torch.device:
        try:
            return next(self.model.parameters()).device
        except StopIteration:  # pragma: no cover - a model always has parameters
            return torch.device("cpu")

    @property
    def prepends_bos(self) -> bool:
        """Whether :meth:`to_tokens` puts a beginning-of-sequence token first (the model's
        own default, ``cfg.default_prepend_bos``)."""
        return bool(getattr(self.model.cfg, "default_prepend_bos", True))

    @property
    def bos_token_id(self) -> int | None:
        tid = getattr(self.tokenizer, "bos_token_id", None)
        return int(tid) if tid is not None else None

    @property
    def special_token_ids(self) -> frozenset[int]:
        """Ids of the tokenizer's special tokens (BOS, EOS, padding ...)."""
        return frozenset(int(i) for i in getattr(self.tokenizer, "all_special_ids", []) or [])

    # ---- tokens ---------------------------------------------------------------------------

    def to_tokens(self, text: str | Sequence[int] | torch.Tensor, *, check_length: bool = True) -> torch.Tensor:
        """Token ids ``[1, seq]`` for ``text``, with the model's BOS convention.

        ``text`` may also be token ids (a list or tensor of ints, used as given: no BOS is
        added), and for a model without a tokenizer, the text ``"#12 #5 #7"`` (the ids as
        :meth:`to_str_tokens` labels them, which is what a view's text box shows for such a
        model). Raises ``ValueError`` for an empty text, for a text longer than the model's
        context, and for plain text when the model has no tokenizer (saying how to pass ids).

        >>> m = ModelAdapter(model)
        >>> m.to_tokens([0, 17, 5]).tolist()
        [[0, 17, 5]]
        """
        if not isinstance(text, str):
            return self._checked_ids(text, check_length)
        if text == "":
            raise ValueError("text is empty; type at least one character")
        if not self.has_tokenizer:
            return self._checked_ids(_parse_id_labels(text), check_length)
        tokens = self._encode(text)
        if check_length and tokens.shape[-1] > self.n_ctx:
            raise ValueError(
                f"text is {tokens.shape[-1]} tokens long, but this model's context is "
                f"{self.n_ctx} tokens (n_ctx); shorten it to at most {self.n_ctx} tokens"
            )
        return tokens

    def _encode(self, text: str) -> torch.Tensor:
        """``LongTensor[1, seq]`` on the CPU: the model's own tokenization of a non-empty text."""
        return self.model.to_tokens(text, prepend_bos=self.prepends_bos, truncate=False).to("cpu")

    def _checked_ids(self, ids: Any, check_length: bool) -> torch.Tensor:
        """Token ids given by the caller as ``LongTensor[1, seq]``, or a ``ValueError``/``TypeError``
        naming what is wrong."""
        if isinstance(ids, torch.Tensor):
            if ids.dtype.is_floating_point or ids.dtype == torch.bool or ids.ndim > 2 or (ids.ndim == 2 and ids.shape[0] != 1):
                raise TypeError(f"token ids must be integers of shape [seq] or [1, seq], got {ids.dtype} {tuple(ids.shape)}")
            ids = ids.reshape(-1).tolist()
        try:
            ids = [int(i) for i in ids if not isinstance(i, bool) and int(i) == i]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise TypeError(f"tokens must be a str or a list of int token ids, got {type(ids).__name__}") from None
        if not ids:
            raise ValueError("tokens is empty; give at least one token id")
        bad = [i for i in ids if not 0 <= i < self.d_vocab]
        if bad:
            raise ValueError(f"token id {bad[0]} is out of range [0, {self.d_vocab}) (this model's vocabulary)")
        if check_length and len(ids) > self.n_ctx:
            raise ValueError(
                f"{len(ids)} tokens are more than this model's context of {self.n_ctx} tokens (n_ctx); "
                f"give at most {self.n_ctx}"
            )
        return torch.tensor([ids], dtype=torch.long)

    def text_of(self, tokens: Sequence[int] | torch.Tensor) -> str:
        """The text a view shows for token ids passed as ``tokens=``: for a model without a
        tokenizer the ids' labels (``"#12 #5 #7"``, which :meth:`to_tokens` reads back); with a
        tokenizer the decoded text, which must tokenize back to the same ids."""
        ids = self._checked_ids(tokens, check_length=True)[0].tolist()
        if not self.has_tokenizer:
            return " ".join(f"#{i}" for i in ids)
        text = self.tokenizer.decode(ids)
        if self.to_tokens(text, check_length=False)[0].tolist() != ids:
            raise ValueError(
                "these token ids do not come back from their own text with this model's tokenizer "
                "(and its BOS convention); pass the text instead"
            )
        return text

    def view_text(self, text: str | None, tokens: Sequence[int] | torch.Tensor | None, *, required: bool = True) -> str | None:
        """The text a view opens on, from its ``text=`` or its ``tokens=`` argument (token ids,
        turned into text by :meth:`text_of`); one of the two, or neither where not ``required``."""
        if tokens is None:
            if text is None and required:
                raise TypeError("give the text (a str) or tokens=... (a list of token ids)")
            return text
        if text is not None:
            raise ValueError("give the text or tokens=..., not both")
        return self.text_of(tokens)

    def to_str_tokens(self, tokens: torch.Tensor | Sequence[int]) -> list[str]:
        """One display string per token id: the model's own ``to_str_tokens``, except that a
        token holding part of a multi-byte character (which decodes to ``"\ufffd"``, the
        same "�" for every such token) shows its bytes instead: ``"\\xe2\\x80"``. A model
        without a tokenizer labels each token by its id: ``"#17"``."""
        if isinstance(tokens, torch.Tensor):
            tokens = tokens.reshape(-1)
        ids = list(map(int, tokens))
        if not self.has_tokenizer:
            return [f"#{i}" for i in ids]
        out = self._decode_each(ids)
        partial = [i for i, s in enumerate(out) if "\ufffd" in s]
        if partial and hasattr(self.tokenizer, "convert_ids_to_tokens"):
            pieces = self.tokenizer.convert_ids_to_tokens([ids[i] for i in partial])
            for i, piece in zip(partial, pieces):
                raw = _token_bytes(piece) if isinstance(piece, str) else None
                if raw is not None:
                    out[i] = raw.decode("utf-8", errors="backslashreplace")
        return out

    def _decode_each(self, ids: list[int]) -> list[str]:
        """Each token id decoded on its own, by the model's own ``to_str_tokens``."""
        return [str(s) for s in self.model.to_str_tokens(torch.as_tensor(ids, dtype=torch.long))]

    def token_str(self, token_id: int) -> str:
        """The display string of one token id."""
        return self.to_str_tokens([int(token_id)])[0]

    def to_single_token(self, token: str | int) -> int:
        """The id of a string that is exactly one token (or a valid id), else ``ValueError``."""
        if isinstance(token, (int,)) and not isinstance(token, bool):
            if not 0 <= token < self.d_vocab:
                raise ValueError(f"token id {token} is out of range [0, {self.d_vocab})")
            return int(token)
        if not isinstance(token, str) or token == "":
            raise ValueError(f"target token must be a non-empty string or an id, got {token!r}")
        if not self.has_tokenizer:
            ids = _parse_id_labels(token)
            if len(ids) != 1:
                raise ValueError(
                    f"{_clipped(token)} is {len(ids)} tokens, not a single token; give one id, e.g. 17 or '#17'"
                )
            return self.to_single_token(ids[0])
        ids = self.tokenizer.encode(token, add_special_tokens=False)
        if len(ids) != 1:
            pieces = _listed([self.token_str(i) for i in ids[:_LISTED + 1]], len(ids))
            raise ValueError(
                f"{_clipped(token)} is {len(ids)} tokens {pieces}, not a single token; "
                "pick one of those pieces"
            )
        return int(ids[0])

    # ---- running --------------------------------------------------------------------------

    def run_with_cache(
        self,
        tokens: torch.Tensor,
        names: Iterable[str] | Callable[[str], bool],
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One forward pass that keeps only the named activations.

        Returns ``(logits, cache)``: float32 CPU tensors, logits ``[batch, seq, d_vocab]``, the
        cache a plain ``dict`` from hook name to activation (batch dimension kept).
        """
        if callable(names):
            names_filter = names
        else:
            wanted = set(names)
            names_filter = wanted.__contains__
        tokens = tokens.to(self.device)
        with torch.inference_mode():
            logits, cache = self.model.run_with_cache(tokens, names_filter=names_filter)
            # Keep only what was asked for: a bridge in compatibility mode also caches the
            # aliased hooks under their native names.
            out = {
                k: v.detach().to("cpu", torch.float32)
                for k, v in cache.items()
                if callable(names) or k in wanted
            }
            logits = logits.detach().to("cpu", torch.float32)
        if not callable(names):
            missing = wanted - set(out)
            if missing:
                raise KeyError(f"the model produced no activation for hooks {sorted(missing)}")
        return logits, out

    def run_with_hooks(
        self,
        tokens: torch.Tensor,
        hooks: Mapping[str, Callable[[torch.Tensor], None]],
        *,
        stop_when_done: bool = False,
    ) -> None:
        """One forward pass that hands activations to callbacks as they are computed and
        keeps none of them.

        ``hooks`` maps hook names to callbacks; each is called once with that activation as a
        float32 CPU tensor (batch dimension kept). Use this instead of :meth:`run_with_cache`
        when all the activations together would not fit in memory, e.g. every attention
        pattern of a 4096-token text (``n_layers x n_heads x 4096² x 4 bytes``): a callback can
        reduce each one (summarize, quantize) while only one is alive. Raises ``KeyError`` if a
        named hook never fired.

        With ``stop_when_done`` the pass stops as soon as every named hook has fired, skipping
        the rest of the network: reading attention patterns then costs no last MLP and no
        unembedding (on GPT-2 small at 400 tokens the unembedding alone is a third of the
        pass). The model's hooks are removed either way.

        >>> m, seen = ModelAdapter(model), {}
        >>> tokens = m.to_tokens("a b c")
        >>> m.run_with_hooks(tokens, {hook_name("pattern", 0): lambda p: seen.update(p0=p.shape)})
        >>> seen["p0"]                          # [batch, head, query, key]
        torch.Size([1, 4, 4, 4])
        """
        self._run_hooked(tokens, hooks, stop_when_done, {})

    def _run_hooked(
        self,
        tokens: torch.Tensor,
        hooks: Mapping[str, Callable[[torch.Tensor], None]],
        stop_when_done: bool,
        forward_kwargs: dict[str, Any],
    ) -> None:
        """:meth:`run_with_hooks` with keyword arguments for the model's forward (a cache)."""
        fired: set[str] = set()

        def make(name: str, callback: Callable[[torch.Tensor], None]):
            def hook(activation: torch.Tensor, hook: Any) -> None:
                fired.add(name)
                callback(activation.detach().to("cpu", torch.float32))
                if stop_when_done and len(fired) == len(hooks):
                    raise _EnoughSeen

            return hook

        fwd_hooks = [(name, make(name, cb)) for name, cb in hooks.items()]
        with torch.inference_mode():
            try:
                self.model.run_with_hooks(tokens.to(self.device), fwd_hooks=fwd_hooks, return_type=None, **forward_kwargs)
            except _EnoughSeen:
                pass  # every hook fired; TransformerLens removed them on the way out
        missing = set(hooks) - fired
        if missing:
            raise KeyError(f"the model produced no activation for hooks {sorted(missing)}")

    #: Whether a head's pattern is better read again (one more pass) than kept: ``True`` where
    #: the model may run elsewhere (the nnsight backend), so every pattern never comes back.
    rereads_patterns: bool = False

    def run_reduced(
        self,
        tokens: torch.Tensor,
        reducers: Mapping[str, Callable[[torch.Tensor], Any]],
        *,
        stop_when_done: bool = False,
    ) -> dict[str, Any]:
        """One forward pass that applies ``reducers[name]`` to each named activation where it
        is computed and keeps only what they return: ``{name: reducer(activation)}``. Here the
        reducers see float32 CPU activations (batch kept), as :meth:`run_with_hooks`'s
        callbacks do; on the nnsight backend they run inside the trace (on the server, for a
        remote model), so only their small results travel. ``stop_when_done`` as in
        :meth:`run_with_hooks`.

        >>> m = ModelAdapter(model)
        >>> m.run_reduced(m.to_tokens("a b c"), {hook_name("pattern", 1): lambda p: p[0, 2].shape})
        {'blocks.1.attn.hook_pattern': torch.Size([4, 4])}
        """
        out: dict[str, Any] = {}
        self.run_with_hooks(
            tokens,
            {name: (lambda act, name=name, f=f: out.__setitem__(name, f(act))) for name, f in reducers.items()},
            stop_when_done=stop_when_done,
        )
        return out

    @contextlib.contextmanager
    def _key_value_cache(self) -> Iterator[Callable[[int], dict[str, Any]]]:
        """``kwargs(n)``: the forward keywords for a pass of ``n`` tokens that carry one fresh
        key-value cache of the model's own kind from pass to pass.

        On a ``HookedTransformer``, TransformerLens's cache, with an explicit mask of ones (a
        cached forward otherwise masks a pass's trailing tokens that equal the pad token as
        padding: BOS, where BOS is the pad token). On a bridge, Hugging Face's
        ``DynamicCache`` (every layer keeping all its keys); Hugging Face 5 hands it to each
        attention as ``cache``, where the bridge's attention reads ``past_key_values`` (else
        every pass would see only its own keys), so for the duration each block's attention
        is handed it under both names."""
        if self.kind == "HookedTransformer":
            from transformer_lens import TransformerLensKeyValueCache

            cache = TransformerLensKeyValueCache.init_cache(self.model.cfg, self.device, 1)
            yield lambda n: {"past_kv_cache": cache, "attention_mask": torch.ones(1, n, dtype=torch.long, device=self.device)}
            return
        from transformers import DynamicCache

        def both_names(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            if "cache" in kwargs and "past_key_values" not in kwargs:
                kwargs = dict(kwargs, past_key_values=kwargs["cache"])
            return args, kwargs

        hf_forward = inspect.signature(self.model.original_model.forward).parameters
        name = "cache" if "cache" in hf_forward else "past_key_values"  # Hugging Face 5's name, else the older one
        forward = {name: DynamicCache(), "use_cache": True}
        handles = [block.attn.register_forward_pre_hook(both_names, with_kwargs=True) for block in self.model.blocks]
        try:
            yield lambda n: forward
        finally:
            for handle in handles:
                handle.remove()

    @functools.cached_property
    def passes_reason(self) -> str:
        """Why this model cannot take a text in passes of query rows through its own
        key-value cache (``''`` when it can), measured once: a probe of
        :data:`QK_PROBE_TOKENS` tokens in three passes must give the logits of one pass, to
        :attr:`tolerance`. Where it cannot, :meth:`run_with_qk` runs one pass whatever
        ``rows`` asks.

        >>> ModelAdapter(model).passes_reason
        ''
        """
        if self.kind not in ("HookedTransformer", "TransformerBridge"):
            return f"the {self.kind} backend runs a text in one pass"
        n = min(self.n_ctx, QK_PROBE_TOKENS)
        tokens = torch.tensor([[self.bos_token_id or 0] + [(5 * i + 2) % self.d_vocab for i in range(1, n)]])
        whole = self.forward_logits(tokens)
        try:
            split = self._logits_in_passes(tokens, -(-n // 3))
        except Exception as error:  # the family's attention takes no cache this way
            return f"a pass through the key-value cache fails: {type(error).__name__}: {error}"
        error = float((split - whole).abs().max())
        bound = self.tolerance * max(float(whole.abs().max()), 1.0)
        if not error <= bound:
            return f"passes through the key-value cache change the logits by {error:.3g} (more than {bound:.3g}) on a probe of {n} tokens"
        return ""

    def passes(self, seq: int, rows: int | None) -> list[range]:
        """The query positions of each pass when a ``seq``-token text goes through the model
        ``rows`` queries at a time (``None``: one pass), as even as that allows.

        >>> ModelAdapter(model).passes(10, 4)
        [range(0, 3), range(3, 6), range(6, 10)]
        """
        if rows is not None and rows < 1:
            raise ValueError(f"rows must be at least 1 (or None for one pass), got {rows}")
        count = 1 if rows is None else -(-seq // rows)
        return [range(i * seq // count, (i + 1) * seq // count) for i in range(count)]

    def forward_logits(self, tokens: torch.Tensor, *, rows: int | None = None) -> torch.Tensor:
        """Logits ``[batch, seq, d_vocab]`` (float32, CPU) without caching anything. With
        ``rows`` (one sequence only) the text goes through ``rows`` queries at a time, each
        pass reading the earlier keys and values from the model's own key-value cache (see
        :meth:`run_with_qk`): the same logits to float tolerance, with attention scores for
        ``rows`` queries alive at a time instead of all of them (one pass all the same where
        :attr:`passes_reason` says the model cannot).

        >>> m = ModelAdapter(model)
        >>> tokens = m.to_tokens("a b c a b c")
        >>> torch.allclose(m.forward_logits(tokens, rows=3), m.forward_logits(tokens), atol=1e-4)
        True
        """
        if rows is not None:  # a bad ``rows`` is refused either way
            self.passes(int(tokens.shape[-1]), rows)
            if tokens.shape[0] != 1:
                raise ValueError(f"forward_logits in passes of rows takes one sequence, got a batch of {tokens.shape[0]}")
        if rows is None or self.passes_reason:
            with torch.inference_mode():
                logits = self.model(tokens.to(self.device), return_type="logits")
            return logits.detach().to("cpu", torch.float32)
        return self._logits_in_passes(tokens, rows)

    def _logits_in_passes(self, tokens: torch.Tensor, rows: int) -> torch.Tensor:
        out = []
        with self._key_value_cache() as cache, torch.inference_mode():
            for span in self.passes(int(tokens.shape[-1]), rows):
                chunk = tokens[:, span.start : span.stop].to(self.device)
                logits = self.model(chunk, return_type="logits", **cache(len(span)))
                out.append(logits.detach().to("cpu", torch.float32))
        return torch.cat(out, dim=1)

    def apply_final_norm(self, resid: torch.Tensor) -> torch.Tensor:
        """Apply the model's final normalization to residual-stream vectors ``[..., d_model]``,
        recomputing its scale from the vectors given (as ``accumulated_resid(apply_ln=True)``).

        Computed in float32 from :attr:`final_norm` (whatever the model's own dtype), so a
        float16 or bfloat16 model is read out at float32 precision.
        """
        norm = self.final_norm
        resid = resid.to("cpu", torch.float32)
        return norm.center(resid) / norm.scale(resid) * norm.weight + norm.bias

    def unembed(self, normalized: torch.Tensor) -> torch.Tensor:
        """Logits for normalized residual vectors, exactly as the model computes its output:
        ``x @ W_U + b_U`` (effective weights, see :class:`Weights`), then the final-logit soft
        cap ``cap * tanh(logits / cap)`` where the model has one (Gemma 2)."""
        W_U, b_U = self.unembedding
        return soft_cap(normalized @ W_U + b_U, self.logit_soft_cap)

    @functools.cached_property
    def logit_soft_cap(self) -> float | None:
        """The final-logit soft cap ``c`` of ``c * tanh(logits / c)`` (Gemma 2's 30.0), or
        ``None``. It is not linear: a direct logit attribution adds up to the logit *before* it
        (:class:`~circuitwidgets.analysis.Attribution` says so), while the logit lens applies it,
        so the lens's last readout is the model's own output."""
        cap = getattr(self.model.cfg, "output_logits_soft_cap", None)
        return float(cap) if cap is not None and float(cap) > 0 else None

    def _output_transform(self, logits: torch.Tensor) -> torch.Tensor:
        """What the model does to ``hidden @ W_U + b_U`` before returning it (the bridge's own
        ``apply_output_logits_transform``: Granite's scaling, Gemma 2's soft cap)."""
        transform = getattr(getattr(self.model, "adapter", None), "apply_output_logits_transform", None)
        if callable(transform):
            return transform(logits)
        return soft_cap(logits, self.logit_soft_cap)

    @functools.cached_property
    def unembedding(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W_U [d_model, d_vocab], b_U [d_vocab])``, float32 on the CPU, read once (zeros
        for a model without an unembedding bias), with a linear logit scale folded in (see
        :class:`Weights`). The logit lens needs only these: reading them does not read the
        attention weights (:attr:`weights` shares them)."""
        with torch.inference_mode():
            W_U, b_U = self._stored_unembedding()
            if W_U.shape[0] != self.d_model:
                # OPT-350m: the stream (d_model) goes through project_out before the unembedding
                W_U = self._projection("project_out", (self.d_model, W_U.shape[0])) @ W_U
        # The linear part of the model's output transform, measured where a soft cap is
        # still the identity to 1e-10, then checked over the range logits take.
        tiny = torch.tensor([1e-5], dtype=torch.float64)
        factor = float(self._output_transform(tiny)[0] / tiny[0])
        if abs(factor - 1.0) < 1e-6:
            factor = 1.0
        probe = torch.linspace(-200, 200, 101, dtype=torch.float64)
        if not torch.allclose(self._output_transform(probe), soft_cap(probe * factor, self.logit_soft_cap)):
            raise NotImplementedError(
                "this model transforms its output logits in a way that is neither a scale nor a "
                "soft cap; circuitwidgets cannot read its logits out of the residual stream"
            )
        return W_U * factor, b_U * factor

    def _stored_unembedding(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W_U, b_U)`` as the model stores them, float32 on the CPU (zeros for no bias)."""
        W_U = _as_float(self.model.W_U)
        return W_U, _optional_bias(self.model, "b_U", (W_U.shape[-1],))

    @functools.cached_property
    def final_norm(self) -> FinalNorm:
        """The final normalization as a :class:`FinalNorm` formula (read once, then cached).

        The weight and bias are measured from the model's own ``ln_final`` (run in float32
        on a copy for a half-precision model), so whatever the family stores -- Gemma's
        ``1 + w``, a folded ``LNPre`` -- the formula is what the module computes; it is then
        checked on random vectors. A final norm that the formula does not reproduce raises
        ``NotImplementedError`` here rather than giving attributions that silently do not
        sum to the logit.
        """
        cfg = self.model.cfg
        ln = getattr(self.model, "ln_final", None)
        norm_type = getattr(cfg, "normalization_type", None)
        return _measured_norm(ln, norm_type, float(getattr(cfg, "eps", 1e-5)), self.d_model, "final norm")

    @functools.cached_property
    def attn_output_norms(self) -> tuple[FinalNorm | None, ...]:
        """Per layer, the norm applied to the attention output before it joins the residual
        stream (Gemma 2 and 3's sandwich norm, OLMo 2's post-norm) as a
        :class:`FinalNorm` formula, or ``None`` where the layer has none. With its scale
        frozen (taken from the sum of the heads), each head's share of the layer's write is
        ``center(z_h W_O[h]) / scale * weight``: direct logit attribution uses this."""
        cfg = self.model.cfg
        norm_type = getattr(cfg, "normalization_type", None)
        eps = float(getattr(cfg, "eps", 1e-5))
        out = []
        for layer in range(self.n_layers):
            module = _attn_output_norm(self.model.blocks[layer])
            out.append(
                None if module is None else _measured_norm(module, norm_type, eps, self.d_model, f"layer {layer}'s post-attention norm")
            )
        return tuple(out)

    @property
    def position_kind(self) -> str:
        """How the model knows positions: ``"learned"`` (a ``W_pos`` table), ``"rotary"``
        (rotations of queries and keys), ``"alibi"`` (a distance penalty on attention scores)
        or the TransformerLens name of another scheme. With rotary and ALiBi positions the
        token-to-token QK circuit has no positional term at all: it is the content part of
        the attention score only."""
        kind = str(getattr(self.model.cfg, "positional_embedding_type", "standard"))
        return {"standard": "learned", "shortformer": "learned"}.get(kind, kind)

    @functools.cached_property
    def qk_recipe(self) -> QKRecipe:
        """How this model's attention patterns follow from its queries and keys
        (:class:`QKRecipe`), measured once on a probe of :data:`QK_PROBE_TOKENS` tokens: each
        layer's mask is read off the keys ``hook_pattern`` gives no weight (causal, and a
        sliding window where one shows), its scale fitted to ``hook_attn_scores`` (or to the log
        of the pattern), and the patterns rebuilt that way must equal ``hook_pattern`` on the
        probe, else ``reason`` says where they differ. ALiBi models are refused up front (their
        distance penalty is in neither q nor k)."""
        rotary = self.position_kind == "rotary"
        q_kind, k_kind = ("rot_q", "rot_k") if rotary else ("q", "k")
        declared = self._declared_window

        def refuse(reason: str) -> QKRecipe:
            return QKRecipe(q_kind, k_kind, (), None, (), None, reason)

        if self.position_kind == "alibi":
            return refuse("ALiBi adds a distance penalty to the scores that neither queries nor keys carry")
        n = min(self.n_ctx, QK_PROBE_TOKENS)
        ids = [self.bos_token_id or 0] + [(7 * i + 3) % self.d_vocab for i in range(1, n)]
        kinds = (q_kind, k_kind, "attn_scores", "pattern")
        names = [hook_name(kind, layer) for layer in range(self.n_layers) for kind in kinds]
        try:
            _, cache = self.run_with_cache(torch.tensor([ids]), names)
        except KeyError as error:
            return refuse(f"{error.args[0]} (on a probe of {n} tokens)")
        cap = self._attn_soft_cap
        tol = 1e-4 if self._dtype == torch.float32 else self.tolerance
        scales: list[float] = []
        windows: list[int | None] = []
        for layer in range(self.n_layers):
            q, k = (_heads_first(cache[hook_name(kind, layer)][0]) for kind in (q_kind, k_kind))
            if q.shape[0] != self.n_heads or k.shape[0] == 0 or self.n_heads % k.shape[0]:
                return refuse(f"layer {layer}'s {q_kind}/{k_kind} hooks have {q.shape[0]}/{k.shape[0]} heads")
            pattern = cache[hook_name("pattern", layer)][0]
            window = _qk_mask_window(pattern)
            if isinstance(window, str):
                return refuse(f"layer {layer}: {window}")
            unscaled = QKRecipe(q_kind, k_kind, (1.0,), None, (window,), None)
            raw = unscaled.scores(0, q, k)
            errors = []
            for scale in _qk_scales(raw, cache[hook_name("attn_scores", layer)][0], pattern, cap, q.shape[-1]):
                trial = QKRecipe(q_kind, k_kind, (scale,), cap, (window,), None)
                errors.append(float((torch.softmax(trial.scores(0, q, k), dim=-1) - pattern).abs().max()))
                if errors[-1] <= tol:
                    break
            if not errors[-1] <= tol:
                return refuse(
                    f"layer {layer}'s pattern rebuilt from {q_kind}/{k_kind} differs from hook_pattern by "
                    f"{min(errors):.2g} on a probe of {n} tokens"
                )
            scales.append(scale)
            windows.append(window)
        longest = None if declared is None or declared < n else declared
        return QKRecipe(q_kind, k_kind, tuple(scales), cap, tuple(windows), longest)

    def run_with_qk(
        self,
        tokens: torch.Tensor,
        on_rows: Callable[..., None],
        *,
        patterns: bool = False,
        rows: int | None = None,
    ) -> None:
        """A forward pass over ``tokens`` (one sequence) that calls ``on_rows(layer, start, q,
        k)`` as each layer's queries and keys are computed: ``q`` ``[n_heads, R, d_head]`` of
        query positions ``start .. start + R - 1`` and ``k`` ``[n_kv_heads, R, d_head]`` the
        keys at those positions (grouped-query K heads unexpanded), from the hooks
        :attr:`qk_recipe` names, in the model's own dtype on the CPU. With ``patterns`` it
        calls ``on_rows(layer, start, q, k, pattern)`` with the model's own ``hook_pattern``
        of those queries (float32 ``[n_heads, R, start + R]``, which the model computes either
        way; only read it, it goes when the callback returns).

        Without ``rows`` it is one pass (``start`` 0, ``R`` the whole text), whose attention
        holds ``n_heads x seq x seq`` scores of a layer at once (TransformerLens computes
        attention eagerly). With ``rows`` the text goes through the model ``rows`` queries at
        a time (:meth:`passes`), each pass reading the earlier keys and values from the
        model's own key-value cache, so its attention holds at most ``n_heads x rows x seq``
        (one pass all the same where :attr:`passes_reason` says the model cannot). Every
        pass stops after the last layer's attention (no last MLP, no unembedding).

        >>> m, seen = ModelAdapter(model), {}
        >>> m.run_with_qk(m.to_tokens("a b c"), lambda layer, start, q, k: seen.update({layer: (q.shape, k.shape)}))
        >>> seen[1]
        (torch.Size([4, 4, 32]), torch.Size([4, 4, 32]))
        """
        recipe = self.qk_recipe
        dtype = self._dtype if self._dtype.is_floating_point else torch.float32
        kinds = (recipe.q_kind, recipe.k_kind) + (("pattern",) if patterns else ())
        spans = self.passes(int(tokens.shape[-1]), None if self.passes_reason else rows)
        with self._key_value_cache() if len(spans) > 1 else contextlib.nullcontext(lambda n: {}) as cache:
            for span in spans:
                self._qk_pass(tokens, span, kinds, dtype, cache, on_rows)

    def _qk_pass(
        self, tokens: torch.Tensor, span: range, kinds: tuple[str, ...], dtype: torch.dtype,
        cache: Callable[[int], dict[str, Any]], on_rows: Callable[..., None],
    ) -> None:
        """One pass of :meth:`run_with_qk` over the queries at ``span``."""
        got: dict[int, dict[int, torch.Tensor]] = {}

        def keep(layer: int, which: int):
            def callback(activation: torch.Tensor) -> None:
                seen = got.setdefault(layer, {})
                if which == 2:
                    seen[which] = activation[0]
                else:  # keys: the new ones only (a rotated-key hook may see the cached ones too)
                    seen[which] = _heads_first(activation[0])[:, -len(span) :].to(dtype)
                if len(seen) == len(kinds):
                    del got[layer]
                    on_rows(layer, span.start, *(seen[i] for i in range(len(kinds))))

            return callback

        hooks = {
            hook_name(kind, layer): keep(layer, which)
            for layer in range(self.n_layers)
            for which, kind in enumerate(kinds)
        }
        forward = cache(len(span))
        if forward:
            self._run_hooked(tokens[:, span.start : span.stop], hooks, True, forward)
        else:  # one pass: as any backend runs hooks
            self.run_with_hooks(tokens[:, span.start : span.stop], hooks, stop_when_done=True)

    @property
    def _attn_soft_cap(self) -> float | None:
        cap = getattr(self.model.cfg, "attn_scores_soft_cap", None)
        return float(cap) if cap is not None and cap > 0 else None

    @property
    def _declared_window(self) -> int | None:
        """The sliding attention window the model's config declares (TransformerLens's
        ``window_size``, Hugging Face's ``sliding_window``), or None."""
        hf = getattr(getattr(self.model, "original_model", None), "config", None)
        for value in (getattr(self.model.cfg, "window_size", None), getattr(hf, "sliding_window", None)):
            if isinstance(value, int) and value > 0:
                return value
        return None

    # ---- weights --------------------------------------------------------------------------

    @property
    def _dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def tolerance(self) -> float:
        """The relative error that checks against this model's own activations allow: the
        model computes in its own dtype, so a float16 or bfloat16 model's activations agree
        with exact sums only to about its precision (1e-3 for float32 models, 1e-2 for
        float16, 5e-2 for bfloat16)."""
        return _TOLERANCE.get(self._dtype, 1e-3)

    @functools.cached_property
    def embedding_scale(self) -> float | None:
        """The factor between ``W_E`` as stored and what the model adds to the residual stream
        for a token (layer 0's input less positions): ``sqrt(d_model)`` for Gemma, ``embedding_multiplier`` for
        Granite, 1.0 for most families; ``None`` where the embedding is not a multiple of
        ``W_E`` at all (BLOOM normalizes it first), and :attr:`weights` then runs
        every token through the embedding instead. Measured on a few tokens, not looked up."""
        ids = torch.arange(1, min(9, self.d_vocab))
        written = self._embedded(ids).double()
        with torch.inference_mode():
            stored = self._stored_embedding()[ids].double()
        if stored.shape[-1] != written.shape[-1]:
            return None  # OPT-350m: W_E is projected up to d_model (project_in) first
        denominator = float((stored * stored).sum())
        if denominator == 0:
            return 1.0
        factor = float((written * stored).sum()) / denominator
        tol = 1e-4 if self._dtype == torch.float32 else self.tolerance
        if not torch.allclose(written, stored * factor, rtol=tol, atol=tol * float(written.abs().max())):
            return None
        return 1.0 if abs(factor - 1.0) < tol else factor

    def _projection(self, name: str, shape: tuple[int, int]) -> torch.Tensor:
        """The bias-free linear map ``[in, out]`` of the model's ``name`` module (OPT's
        ``project_in``/``project_out`` between its embedding width and ``d_model``)."""
        module = getattr(self.model, name, None)
        weight = getattr(getattr(module, "original_component", module), "weight", None)
        bias = getattr(getattr(module, "original_component", module), "bias", None)
        if weight is None or tuple(weight.shape) != shape[::-1] or (bias is not None and bool(bias.any())):
            raise NotImplementedError(
                f"this model's unembedding reads {shape[1]} dimensions but its residual stream has "
                f"{shape[0]}, and no bias-free {name} of shape {shape[1]}x{shape[0]} maps between them"
            )
        return _as_float(weight).T

    def _embedded(self, ids: torch.Tensor) -> torch.Tensor:
        """What the model adds to the residual stream for each token id alone (layer 0's
        input minus the position's embedding): ``[len(ids), d_model]`` float32 (CPU)."""
        parts: list[torch.Tensor] = []
        learned = self.position_kind == "learned"
        for start in range(0, len(ids), 4096):
            chunk = ids[start : start + 4096, None]
            seen: dict[str, torch.Tensor] = {}
            hooks = {hook_name("resid_pre", 0): lambda r: seen.update(resid=r[:, 0])}
            if learned:
                hooks[hook_name("pos_embed")] = lambda p: seen.update(pos=p[:, 0])
            self.run_with_hooks(chunk, hooks, stop_when_done=True)
            parts.append(seen["resid"] - seen["pos"] if learned else seen["resid"])
        return torch.cat(parts)

    def _effective_embedding(self) -> torch.Tensor:
        scale = self.embedding_scale
        if scale is None:
            return self._embedded(torch.arange(self.d_vocab))
        with torch.inference_mode():
            return self._stored_embedding() * scale

    def _stored_embedding(self) -> torch.Tensor:
        """``W_E [d_vocab, d_embed]`` as the model stores it, float32 on the CPU."""
        return _as_float(self.model.W_E)

    @property
    def residual_multiplier(self) -> float:
        """The factor every attention and MLP output is multiplied by before it joins the
        residual stream (Granite's ``residual_multiplier``; 1.0 for most families)."""
        value = getattr(self.model.cfg, "residual_multiplier", None)
        return float(value) if value is not None else 1.0

    @functools.cached_property
    def weights(self) -> Weights:
        """The model's effective weights as :class:`Weights` (read once, then cached)."""
        with torch.inference_mode():
            W_pos, W_Q, W_K, W_V, W_O, b_O = self._stored_attention()
            W_U, b_U = self.unembedding
            residual = self.residual_multiplier
            return Weights(
                W_E=self._effective_embedding(),
                W_pos=W_pos,
                W_Q=W_Q,
                W_K=self._expand_kv(W_K),
                W_V=self._expand_kv(W_V),
                W_O=W_O * residual,
                b_O=b_O * residual,
                W_U=W_U,
                b_U=b_U,
            )

    def _stored_attention(self) -> tuple[torch.Tensor | None, ...]:
        """``(W_pos, W_Q, W_K, W_V, W_O, b_O)`` as the model stores them (float32, CPU; K/V
        with the model's own K/V head count, ``b_O`` zeros where there is none, ``W_pos``
        ``None`` without learned positions): what :attr:`weights` is made of."""
        m = self.model
        W_pos = None
        if getattr(m.cfg, "positional_embedding_type", "standard") == "standard":
            # HookedTransformer and the 4.x bridge have model.W_pos; the 3.x bridge only
            # has it on its pos_embed component.
            for owner in (m, getattr(m, "pos_embed", None)):
                try:
                    W_pos = _as_float(owner.W_pos)
                    break
                except (AttributeError, NotImplementedError):
                    continue
        b_O = _optional_bias(m, "b_O", (self.n_layers, self.d_model))
        return W_pos, _as_float(m.W_Q), _as_float(m.W_K), _as_float(m.W_V), _as_float(m.W_O), b_O

    @functools.cached_property
    def unembed_embed(self) -> torch.Tensor:
        """``W_U @ W_E`` ``[d_model, d_model]`` (effective weights): the one product over the
        vocabulary that every head's full OV circuit shares, computed once per adapter (and
        :func:`as_adapter` gives one adapter per model) in blocks of 8192 tokens."""
        w = self.weights
        with torch.inference_mode():
            out = torch.zeros(self.d_model, self.d_model)
            for start in range(0, self.d_vocab, 8192):
                out += w.W_U[:, start : start + 8192] @ w.W_E[start : start + 8192]
        return out

    def remembered(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()``, computed once per adapter and ``key`` and then kept: for results
        that depend on the weights alone (not on a text), which several views of one model
        would otherwise compute each, e.g. the head scores on repeated random tokens that
        AttentionExplorer and InductionScores both show. :func:`as_adapter` gives a new
        adapter when the weights change, so nothing stale is kept for a model passed as it is.

        >>> adapter = as_adapter(model)
        >>> adapter.remembered("answer", lambda: 42), adapter.remembered("answer", lambda: 0)
        (42, 42)
        """
        memo = self.__dict__.setdefault("_remembered", {})
        if key not in memo:
            memo[key] = compute()
        return memo[key]

    @functools.cached_property
    def mlp_out_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W_out [n_layers, d_mlp, d_model], b_out [n_layers, d_model])``, float32 on the
        CPU (zeros for a bias-free MLP): each MLP's output is ``post @ W_out + b_out``, where
        ``post`` is its ``mlp_post`` activation. ``ValueError`` for an attention-only model."""
        if self.attn_only:
            raise ValueError("this model is attention-only; it has no MLP weights")
        m = self.model
        with torch.inference_mode():
            W_out = m.W_out.detach().to("cpu", torch.float32)
            try:
                b_out = m.b_out
            except (AttributeError, TypeError):  # a bias-free bridge raises (4.x) or fails to
                b_out = None  # stack its None biases (3.x) instead of giving zeros
            b_out = torch.zeros(W_out.shape[0], W_out.shape[-1]) if b_out is None else b_out.detach().to("cpu", torch.float32)
        return W_out, b_out

    def _expand_kv(self, w: torch.Tensor) -> torch.Tensor:
        """Grouped-query attention: repeat each K/V head for the query heads that share it."""
        if w.shape[1] == self.n_heads:
            return w
        if self.n_heads % w.shape[1]:
            raise ValueError(f"cannot share {w.shape[1]} K/V heads among {self.n_heads} heads")
        return w.repeat_interleave(self.n_heads // w.shape[1], dim=1)

    # ---- checks shared by every analysis --------------------------------------------------

    def check_layer(self, layer: int, *, name: str = "layer") -> int:
        if isinstance(layer, bool) or not isinstance(layer, int):
            raise TypeError(f"{name} must be an int, got {type(layer).__name__}")
        if not 0 <= layer < self.n_layers:
            raise ValueError(f"{name} {layer} is out of range; this model has layers 0..{self.n_layers - 1}")
        return layer

    def check_head(self, head: int, *, name: str = "head") -> int:
        if isinstance(head, bool) or not isinstance(head, int):
            raise TypeError(f"{name} must be an int, got {type(head).__name__}")
        if not 0 <= head < self.n_heads:
            raise ValueError(f"{name} {head} is out of range; this model has heads 0..{self.n_heads - 1}")
        return head

    # ---- what the path expansion needs besides the weights --------------------------------

    @functools.cached_property
    def value_bias(self) -> torch.Tensor:
        """``b_V [n_layers, n_heads, d_head]``, float32 on the CPU, one per query head
        (grouped-query K/V heads repeated); zeros for a model without value biases.

        >>> ModelAdapter(model).value_bias.shape
        torch.Size([2, 4, 32])
        """
        with torch.inference_mode():
            b_V = self._stored_value_bias()
            if b_V is None:
                return torch.zeros(self.n_layers, self.n_heads, self.d_head)
            return self._expand_kv(_as_float(b_V))

    def _stored_value_bias(self) -> torch.Tensor | None:
        """``b_V [n_layers, n_kv_heads, d_head]`` as the model stores it, or ``None``."""
        try:
            return self.model.b_V
        except (AttributeError, NotImplementedError, TypeError):  # bias-free bridges
            return None

    @functools.cached_property
    def attention_input_norms(self) -> tuple[FinalNorm, ...]:
        """Each layer's normalization of its attention input (``blocks[l].ln1``) as a
        :class:`FinalNorm` formula, one per layer (read once, then cached).

        Measured from the model's own module and checked on random vectors, like :attr:`final_norm`;
        a norm the formula does not reproduce raises ``NotImplementedError``.

        >>> norms = ModelAdapter(model).attention_input_norms
        >>> len(norms), norms[0].kind
        (2, 'LN')
        """
        return self._block_norms("ln1")

    @functools.cached_property
    def mlp_input_norms(self) -> tuple[FinalNorm | None, ...]:
        """Each layer's normalization of its MLP input (``blocks[l].ln2``) as a
        :class:`FinalNorm` formula; ``None`` for a layer without one (attention-only models,
        and parallel blocks whose MLP reads ``ln1``'s output).

        >>> ModelAdapter(cw.load_pocket_model("small-4l")).mlp_input_norms[0].kind
        'LN'
        """
        if self.attn_only:
            return (None,) * self.n_layers
        return tuple(None if getattr(block, "ln2", None) is None else norm
                     for block, norm in zip(self.model.blocks, self._block_norms("ln2")))

    def _block_norms(self, name: str) -> tuple[FinalNorm, ...]:
        """Every block's norm ``name`` (``ln1``/``ln2``) as measured formulas (see :attr:`attention_input_norms`)."""
        norm_type = getattr(self.model.cfg, "normalization_type", None)
        eps = float(getattr(self.model.cfg, "eps", 1e-5))
        out = []
        for layer, block in enumerate(self.model.blocks):
            ln = getattr(block, name, None)
            ln = None if isinstance(ln, torch.nn.Identity) else ln
            out.append(_measured_norm(ln, norm_type, eps, self.d_model, f"blocks.{layer}.{name}"))
        return tuple(out)

    # ---- interventions: runs whose hooks replace activations ------------------------------

    def run_with_replacing_hooks(
        self,
        tokens: torch.Tensor,
        hooks: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
        *,
        positions: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """One forward pass in which each hook may replace its activation; returns the logits.

        ``hooks`` maps hook names to functions that take the activation (the model's dtype and
        device, batch dimension kept) and return what the model should use instead (same
        shape). Returns float32 CPU logits ``[batch, seq, d_vocab]``, or with ``positions``
        only those positions, ``[batch, len(positions), d_vocab]``: the pass then stops at the
        last layer's residual stream and unembeds just those positions (checked once per
        model against its own logits; where that shortcut is not exact, the full logits are
        computed and indexed).

        >>> m = ModelAdapter(model)
        >>> tokens = m.to_tokens("a b c a b")
        >>> def zero_head_3(z):                       # z: [batch, pos, head, d_head]
        ...     z = z.clone(); z[:, :, 3] = 0; return z
        >>> logits = m.run_with_replacing_hooks(tokens, {hook_name("z", 1): zero_head_3}, positions=[-1])
        >>> logits.shape == (1, 1, m.d_vocab)
        True
        """
        return self._run_editing(tokens, hooks, positions)

    def run_branching(
        self,
        tokens: torch.Tensor,
        branch_layers: Sequence[int],
        hooks: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
        *,
        positions: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """One forward pass of one text that many edited copies branch off, as one batch.

        Row 0 is the text's own run. Row ``1 + i`` starts as a copy of row 0 at the residual
        stream entering layer ``branch_layers[i]`` (the list must not decrease), so ``hooks``
        (as in :meth:`run_with_replacing_hooks`) can edit it from that layer on. Where the
        model allows it, rows join the batch only at their layer, so layers below it are
        computed once for all of them (activation patching at layer ``L`` cannot change
        anything before ``L``); otherwise every row runs from the start, with the same
        result. A hook at layer ``L`` sees at least every row whose branch layer is ``<= L``,
        at its index. Returns float32 CPU logits ``[1 + len(branch_layers), seq or
        len(positions), d_vocab]``.

        >>> m = ModelAdapter(model)
        >>> tokens = m.to_tokens("a b c a b")
        >>> def patch_row_1(z):
        ...     z = z.clone(); z[1, :, 3] = 0; return z
        >>> logits = m.run_branching(tokens, [1], {hook_name("z", 1): patch_row_1}, positions=[-1])
        >>> logits.shape[0], torch.allclose(logits[:1], m.run_with_replacing_hooks(tokens, {}, positions=[-1]), atol=1e-4)
        (2, True)
        """
        layers = [self.check_layer(int(layer), name="branch layer") for layer in branch_layers]
        if any(b < a for a, b in zip(layers, layers[1:])):
            raise ValueError(f"branch_layers must not decrease, got {layers}")
        counts: dict[int, int] = {}
        for layer in layers:
            counts[layer] = counts.get(layer, 0) + 1
        if self._batch_can_grow is False:
            return self._run_editing(tokens.repeat(1 + len(layers), 1), hooks, positions)
        if self._batch_can_grow:
            return self._run_editing(tokens, _growing(counts, hooks, check=False), positions)
        return self._branching_and_checking(tokens, layers, counts, hooks, positions)

    def _branching_and_checking(
        self,
        tokens: torch.Tensor,
        layers: list[int],
        counts: dict[int, int],
        hooks: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
        positions: Sequence[int] | None,
    ) -> torch.Tensor:
        """:meth:`run_branching`'s first pass on this model: the batch grows with one more row,
        an unedited copy of row 0 from the first branch layer on, hidden from ``hooks``; growing
        is right where that row's logits are row 0's. Where they are not, or the pass fails,
        every row runs from the start instead (and does from then on)."""
        try:
            logits = self._run_editing(tokens, _growing(counts, hooks, check=True), positions)
        except Exception:
            # where this pass fails too, the hooks themselves do: it raises, nothing learnt
            logits = self._run_editing(tokens.repeat(1 + len(layers), 1), hooks, positions)
            self._batch_can_grow = False
            return logits
        self._batch_can_grow = tuple(logits.shape[:1]) == (2 + len(layers),) and bool(
            torch.allclose(logits[1], logits[0], rtol=1e-4, atol=1e-5)
        )
        if not self._batch_can_grow:
            return self._run_editing(tokens.repeat(1 + len(layers), 1), hooks, positions)
        return torch.cat([logits[:1], logits[2:]])

    def run_with_gradients(
        self,
        tokens: torch.Tensor,
        names: Iterable[str],
        metric: Callable[[torch.Tensor], torch.Tensor],
        *,
        edits: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """One forward and one backward pass: the named activations and the gradient of a
        scalar ``metric`` of the logits with respect to each.

        ``edits`` maps some of ``names`` to functions that replace the activation first (same
        shape, e.g. scaled); the model then runs on, and the gradient is taken, at the edited
        activation.

        ``metric`` gets the float32 logits ``[batch, seq, d_vocab]`` (on the model's device,
        with autograd on) and returns a 0-d tensor. Returns ``(value, activations,
        gradients)``: the metric's value (0-d), and float32 CPU dicts from hook name to
        activation and to its gradient (zeros where the metric does not depend on it). The
        model's parameters get no ``.grad``.

        >>> m = ModelAdapter(model)
        >>> tokens = m.to_tokens("a b c a b")
        >>> value, acts, grads = m.run_with_gradients(
        ...     tokens, [hook_name("z", 1)], lambda logits: logits[0, -1].log_softmax(-1)[0])
        >>> acts["blocks.1.attn.hook_z"].shape == grads["blocks.1.attn.hook_z"].shape
        True
        """
        wanted = list(dict.fromkeys(names))
        edits = dict(edits or {})
        unknown = set(edits) - set(wanted)
        if unknown:
            raise ValueError(f"edits name hooks that are not in names: {sorted(unknown)}")
        seen: dict[str, torch.Tensor] = {}

        def make(name: str):
            def hook(activation: torch.Tensor, hook: Any) -> torch.Tensor:
                if name in edits:  # the edited activation is where the gradient is taken
                    activation = edits[name](activation.detach()).detach().requires_grad_(True)
                elif not activation.requires_grad:
                    # Upstream of every tracked input (e.g. the model's parameters are frozen):
                    # start tracking here.
                    activation = activation.detach().requires_grad_(True)
                seen[name] = activation
                return activation

            return hook

        with torch.enable_grad():
            logits = self.model.run_with_hooks(
                tokens.to(self.device), fwd_hooks=[(name, make(name)) for name in wanted]
            )
            value = torch.as_tensor(metric(logits.float()))
            if value.numel() != 1:
                raise ValueError(f"the metric must return a scalar, got a tensor of shape {tuple(value.shape)}")
            value = value.reshape(())
            missing = [name for name in wanted if name not in seen]
            if missing:
                raise KeyError(f"the model produced no activation for hooks {missing}")
            acts = [seen[name] for name in wanted]
            grads = torch.autograd.grad(value, acts, allow_unused=True) if value.requires_grad else [None] * len(acts)
        cpu = {name: act.detach().to("cpu", torch.float32) for name, act in zip(wanted, acts)}
        return (
            value.detach().to("cpu", torch.float32),
            cpu,
            {
                name: torch.zeros_like(cpu[name]) if g is None else g.detach().to("cpu", torch.float32)
                for name, g in zip(wanted, grads)
            },
        )

    def _run_editing(
        self,
        tokens: torch.Tensor,
        hooks: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
        positions: Sequence[int] | None,
    ) -> torch.Tensor:
        """The forward pass behind :meth:`run_with_replacing_hooks` and :meth:`run_branching`.
        With ``positions``, it stops at the last residual stream and unembeds those positions
        itself; on the model's first such pass it lets the model finish on row 0 alone (Hugging
        Face models reshape by the sequence length, not by the batch) and keeps the shortcut
        only if its readout matches the model's logits there."""
        fwd_hooks = [(name, lambda act, hook, fn=fn: fn(act)) for name, fn in hooks.items()]
        tokens = tokens.to(self.device)
        exact = self._final_readout_is_exact
        with torch.inference_mode():
            if positions is None or exact is False:
                logits = self.model.run_with_hooks(tokens, fwd_hooks=fwd_hooks)
                if positions is not None:
                    logits = logits[:, list(positions)]
                return logits.detach().to("cpu", torch.float32)
            last = hook_name("resid_post", self.n_layers - 1)
            then = hooks.get(last)
            kept: list[torch.Tensor] = []

            def read(act: torch.Tensor, hook: Any) -> torch.Tensor:
                act = act if then is None else then(act)
                kept.append(act[:, list(positions)])
                if exact is None:  # the model's own head on row 0, to check against
                    return act[:1]
                raise _EnoughSeen

            fwd_hooks = [h for h in fwd_hooks if h[0] != last] + [(last, read)]
            try:
                theirs = self.model.run_with_hooks(tokens, fwd_hooks=fwd_hooks)
            except _EnoughSeen:
                return self._readout(kept[0])
            except Exception:
                if not kept:
                    raise
                theirs = None  # the model's head refuses a smaller batch: ask it the long way
        mine = self._readout(kept[0])
        if theirs is None:  # every row's logits
            theirs = self._run_editing(tokens, hooks, None)[:, list(positions)]
        else:  # row 0's
            theirs = theirs[:, list(positions)].detach().to("cpu", torch.float32)
        self._final_readout_is_exact = bool(
            torch.allclose(mine[:1], theirs[:1], rtol=1e-4, atol=1e-4 * float(theirs.abs().max()) + 1e-5)
        )
        if self._final_readout_is_exact:
            return mine
        if theirs.shape[0] == mine.shape[0]:
            return theirs
        return self._run_editing(tokens, hooks, positions)  # every row's own logits, the long way

    def _readout(self, resid: torch.Tensor) -> torch.Tensor:
        """Logits for final residual-stream vectors as the model computes them: its own final
        norm module (in its dtype, not the float32 formula of :meth:`apply_final_norm`, so a
        patched run's logits match an unpatched forward pass bit for bit where they can),
        then the unembedding."""
        ln = getattr(self.model, "ln_final", None)
        if ln is not None:
            with torch.inference_mode():
                resid = ln(resid.to(self.device, self._dtype)).detach().to("cpu", torch.float32)
        return self.unembed(resid)

    def can_replace(self, kind: str) -> bool:
        """Whether replacing the activation ``kind`` (a :func:`hook_name` kind) through a hook
        changes what the model computes. Some model kinds only *report* an activation through
        its hook: TransformerLens 3's ``TransformerBridge`` computes attention inside the
        Hugging Face module and shows ``hook_pattern`` without reading it back, so a patched
        pattern would silently change nothing. Probed once per kind (zeros at layer 0).

        >>> ModelAdapter(model).can_replace("pattern")
        True
        """
        if kind not in self._replaceable:
            tokens = self._probe_tokens
            plain = self.run_with_replacing_hooks(tokens, {})
            zeroed = self.run_with_replacing_hooks(tokens, {hook_name(kind, 0): torch.zeros_like})
            self._replaceable[kind] = not torch.allclose(plain, zeroed, rtol=0, atol=1e-6)
        return self._replaceable[kind]

    @functools.cached_property
    def _replaceable(self) -> dict[str, bool]:
        return {}

    @functools.cached_property
    def _probe_tokens(self) -> torch.Tensor:
        """A short fixed token sequence for :meth:`can_replace`'s one-time probe."""
        ids = [self.bos_token_id or 0] + [(7 * i + 3) % self.d_vocab for i in range(1, 6)]
        return torch.tensor([ids], dtype=torch.long)


#: What a model without a tokenizer says when asked to read plain text.
_NO_TOKENIZER = (
    "this model has no tokenizer, so it cannot turn the text {text!r} into tokens. Pass token "
    "ids instead -- e.g. AttentionExplorer(model, tokens=[0, 17, 5]), "
    "analysis.run_text(model, [0, 17, 5]), or the text '#0 #17 #5' -- or attach a tokenizer "
    "(HookedTransformer: model.set_tokenizer(tokenizer); TransformerBridge: model.tokenizer = tokenizer)"
)


#: How many characters of a refused entry, and how many of its pieces, an error message shows
#: (a pasted paragraph would otherwise make a message thousands of characters long).
_CLIPPED, _LISTED = 60, 8


def _clipped(value: str) -> str:
    """``repr(value)``, its middle cut to at most ``_CLIPPED`` characters with the length said.

    >>> _clipped("ab" * 100)
    "'ababababababababababababababab…ababababababababababababababab' (200 characters)"
    """
    if len(value) <= _CLIPPED:
        return repr(value)
    half = _CLIPPED // 2
    return f"{value[:half]!r}"[:-1] + "…" + f"{value[-half:]!r}"[1:] + f" ({len(value)} characters)"


def _listed(items: list[str], total: int) -> str:
    """The first ``_LISTED`` of ``total`` items as a list, then how many more there are.

    >>> _listed(["a", "b"], 2), _listed([str(i) for i in range(9)], 500)
    ("['a', 'b']", "['0', '1', '2', '3', '4', '5', '6', '7', … and 492 more]")
    """
    if total <= _LISTED:
        return repr(items)
    return repr(items[:_LISTED])[:-1] + f", … and {total - _LISTED} more]"


def _parse_id_labels(text: str) -> list[int]:
    """``"#12 #5 #7"`` -> ``[12, 5, 7]`` (ids as a model without a tokenizer labels them);
    anything else raises the ``ValueError`` that says how to pass ids."""
    pieces = text.split()
    if not pieces or not all(p.startswith("#") and p[1:].isdigit() for p in pieces):
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ValueError(_NO_TOKENIZER.format(text=shown))
    return [int(p[1:]) for p in pieces]


def _growing(
    counts: Mapping[int, int], hooks: Mapping[str, Callable[[torch.Tensor], torch.Tensor]], *, check: bool
) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """``hooks`` plus, at each branch layer's ``resid_pre``, ``counts[layer]`` copies of row 0
    joining the batch. With ``check``, one more copy joins first, as row 1, and ``hooks`` never
    see it: it gets only the edits they make to row 0 (so it stays row 0's twin where growing
    the batch is right)."""

    def hidden(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        def hook(act: torch.Tensor) -> torch.Tensor:
            if act.shape[0] == 1:  # before the first branch layer: no twin yet
                return fn(act)
            seen = torch.cat([act[:1], act[2:]])
            out = fn(seen)
            return torch.cat([out[:1], act[1:2] + (out[:1] - seen[:1]), out[1:]])

        return hook

    out = {name: hidden(fn) if check else fn for name, fn in hooks.items()}
    for i, (layer, count) in enumerate(counts.items()):
        name = hook_name("resid_pre", layer)
        then = out.get(name)
        extra = int(check and i == 0)

        def grow(act: torch.Tensor, count: int = count + extra, then: Any = then) -> torch.Tensor:
            act = torch.cat([act, act[:1].expand(count, *act.shape[1:])])
            return act if then is None else then(act)

        out[name] = grow
    return out


def soft_cap(x: torch.Tensor, cap: float | None) -> torch.Tensor:
    """``cap * tanh(x / cap)``, the soft cap Gemma 2 puts on its logits; ``x`` if ``cap`` is None."""
    return x if cap is None else cap * torch.tanh(x / cap)


def _heads_first(activation: torch.Tensor) -> torch.Tensor:
    """A q/k/rot_q/rot_k activation ``[pos, heads, d_head]`` (batch dropped) as ``[heads, pos, d_head]``."""
    return activation.transpose(0, 1).contiguous()


def _qk_mask_window(pattern: torch.Tensor) -> int | None | str:
    """The sliding window a layer's mask shows on ``pattern`` ``[heads, n, n]`` (masked keys
    get exactly zero weight): None for causal only, or why the mask is neither."""
    n = pattern.shape[-1]
    masked = pattern == 0
    query, key = torch.arange(n)[:, None], torch.arange(n)[None, :]
    if not masked[:, (key > query).expand(n, n)].all():
        return "it attends to later keys (not causal)"
    lower = masked & (key <= query)
    if not lower.any():
        return None
    window = int((query - key).expand(n, n)[lower.any(0)].min())
    if not torch.equal(lower, (key <= query - window).expand_as(lower)):
        return "its mask is neither causal nor a sliding window"
    return window


def _qk_scales(raw: torch.Tensor, scores: torch.Tensor, pattern: torch.Tensor, cap: float | None, d_head: int) -> list[float]:
    """Candidate factors from one layer's unscaled ``raw = q·k`` (masked ``-inf``) to its
    scores, best guess first: least squares against ``hook_attn_scores`` (soft cap undone),
    then against the centred log-pattern (which the softmax leaves ``scale * raw`` up to a
    constant per query; without a soft cap only), then ``1 / sqrt(d_head)``."""
    seen = torch.isfinite(raw) & (pattern > 0)
    x, out = raw.double(), []
    target = scores.double()
    if cap is not None:
        target = torch.atanh((target / cap).clamp(-0.9, 0.9)) * cap
        seen &= (scores.double() / cap).abs() < 0.9
    fits = [(x.masked_fill(~seen, 0), target.masked_fill(~seen, 0))]
    if cap is None:
        counts = seen.sum(-1, keepdim=True).clamp(min=1)

        def centred(t: torch.Tensor) -> torch.Tensor:
            t = t.masked_fill(~seen, 0)
            return (t - t.sum(-1, keepdim=True) / counts).masked_fill(~seen, 0)

        fits.append((centred(x), centred(pattern.double().clamp(min=1e-30).log())))
    for a, b in fits:
        denominator = float((a * a).sum())
        if denominator > 0:
            out.append(float((a * b).sum()) / denominator)
    return out + [d_head**-0.5]


def _as_float(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", torch.float32)


def _optional_bias(owner: Any, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    """``owner.<name>`` as float32 on the CPU, or zeros of ``shape`` where the model has no such
    bias (a bridge over a bias-free model raises ``AttributeError`` or returns ``None``; the
    3.x bridge raises ``TypeError`` stacking the layers' ``None`` biases)."""
    try:
        value = getattr(owner, name)
    except (AttributeError, NotImplementedError, TypeError):
        value = None
    return torch.zeros(shape) if value is None else _as_float(value).reshape(shape)


def _attn_output_norm(block: Any) -> Any:
    """The norm module between a block's attention and the residual stream, or ``None``:
    ``ln1_post`` (HookedTransformer, the 4.x bridge), or whichever module a bridge block's
    ``hook_attn_out`` is an alias of (the 3.x bridge calls OLMo 2's post-norm ``ln1``)."""
    alias = (getattr(block, "hook_aliases", None) or {}).get("hook_attn_out")
    if isinstance(alias, str) and alias.endswith(".hook_out") and alias.count(".") == 1:
        owner = alias.split(".")[0]
        if owner != "attn":
            return getattr(block, owner, None)
    return getattr(block, "ln1_post", None)


def _measured_norm(module: Any, norm_type: str | None, eps: float, d_model: int, what: str) -> FinalNorm:
    """A norm module as a :class:`FinalNorm`: its kind from TransformerLens's
    ``normalization_type``, its weight and bias measured by running it (in float32) on
    ``x`` and ``-x`` for a vector ``x`` of ±1, then checked on random vectors."""
    kind = {"LN": "LN", "LNPre": "LN", "RMS": "RMS", "RMSPre": "RMS"}.get(norm_type, "none")
    ones, zeros = torch.ones(d_model), torch.zeros(d_model)
    if module is None or kind == "none":
        return FinalNorm(kind="none", weight=ones, bias=zeros, eps=eps)
    params = list(module.parameters())
    device = params[0].device if params else torch.device("cpu")
    if params and params[0].dtype != torch.float32:
        module = copy.deepcopy(module).float()
        # HookedTransformer's norms cast their output to cfg.dtype: the copy's own cfg says float32
        if hasattr(getattr(module, "cfg", None), "dtype"):
            module.cfg.dtype = torch.float32

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return module(x.to(device)).detach().to("cpu", torch.float32)

    # The configured kind first; then the other one (TransformerLens 3's final_rms gives an
    # LN model a final RMSNorm).
    for candidate in dict.fromkeys([kind, "RMS" if kind == "LN" else "LN"]):
        norm = _fit_norm(run, candidate, eps, d_model)
        probe = torch.randn(4, d_model, generator=torch.Generator().manual_seed(0)) * 3 + 1
        expected = norm.center(probe) / norm.scale(probe) * norm.weight + norm.bias
        if torch.allclose(run(probe), expected, rtol=1e-4, atol=1e-4):
            return norm
    raise NotImplementedError(
        f"this model's {what} ({type(module).__name__}, normalization_type={norm_type!r}) "
        "is not of the form centre(x)/scale*weight + bias that circuitwidgets knows; "
        "direct logit attribution would not add up to the logit"
    )


def _fit_norm(run: Callable[[torch.Tensor], torch.Tensor], kind: str, eps: float, d_model: int) -> FinalNorm:
    """The weight and bias of a norm of ``kind``, from its outputs for ``x`` and ``-x``."""
    ones, zeros = torch.ones(d_model), torch.zeros(d_model)
    shape = FinalNorm(kind=kind, weight=ones, bias=zeros, eps=eps)
    x = torch.where(torch.arange(d_model) % 2 == 0, 1.0, -1.0)
    plus, minus = run(x[None])[0], run(-x[None])[0]
    unit = shape.center(x) / shape.scale(x)
    weight, bias = (plus - minus) / (2 * unit), (plus + minus) / 2
    return FinalNorm(kind=kind, weight=weight, bias=zeros if bias.abs().max() < 1e-6 else bias, eps=eps)

#: The attribute of a model under which :func:`as_adapter` keeps its adapter.
_ADAPTER_ATTRIBUTE = "_circuitwidgets_adapter"


def _weights_version(model: Any) -> tuple[tuple[int, int], ...]:
    """Changes whenever a parameter is written in place (torch counts writes per tensor) or
    replaced (moved, cast): each parameter's storage address and write count."""
    return tuple((p.data_ptr(), p._version) for p in model.parameters())


# --------------------------------------------------------------------------------------------
# A plain Hugging Face model, wrapped once
# --------------------------------------------------------------------------------------------

_BRIDGE_ATTRIBUTE = "_circuitwidgets_bridge"


def _is_hugging_face_model(model: Any) -> bool:
    """Whether ``model`` is a ``transformers`` model (and not already a TransformerLens one)."""
    try:
        from transformers import PreTrainedModel
    except ImportError:  # pragma: no cover - transformers comes with TransformerLens
        return False
    return isinstance(model, PreTrainedModel)


def _is_nnsight_model(model: Any) -> bool:
    """Whether ``model`` is an nnsight model of a ``transformers`` model (``nnsight.LanguageModel``,
    ``nnsight.TransformersModel``); nnsight is not imported for this (a model of it means it is
    loaded)."""
    import sys

    kind = getattr(sys.modules.get("nnsight.modeling.transformers"), "TransformersModel", None)
    return isinstance(kind, type) and isinstance(model, kind)


def _hugging_face_name(model: Any) -> str:
    name = getattr(model.config, "_name_or_path", None) or getattr(model, "name_or_path", None)
    return name if isinstance(name, str) and name else type(model).__name__


def _local_tokenizer(name: str) -> Any:
    """The tokenizer saved beside a model loaded from a local folder, else ``None`` (never
    the network: a Hub name is not looked up)."""
    import os

    if not os.path.isdir(name):
        return None
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError):
        return None


def _check_same_tokenizer(name: str, wrapped: Any, given: Any) -> None:
    """A second ``tokenizer=`` for an already wrapped model must be the same vocabulary
    (a fresh ``AutoTokenizer`` each time a cell re-runs is fine; another tokenizer is not)."""
    if given is None or given is wrapped or wrapped is None:
        return
    if given.get_vocab() != wrapped.get_vocab():
        raise ValueError(
            f"the Hugging Face model {name!r} is already wrapped with a tokenizer of "
            f"{len(wrapped)} tokens, and tokenizer= now gives a different one of {len(given)} "
            "tokens; its views and analyses share one tokenizer (load the model again to use another)"
        )


def from_hugging_face(model: Any, tokenizer: Any = None) -> Any:
    """A plain Hugging Face causal LM as a TransformerLens ``TransformerBridge``.

    The bridge wraps ``model`` itself (no copy of the weights, no download) with
    ``TransformerBridge.boot_transformers(..., hf_model=model)``, which switches the model's
    attention to the eager implementation so that attention patterns exist. It is made once
    per model and kept on it, so every view and analysis of the same model shares it; making
    it says so once (a ``UserWarning``). ``tokenizer`` is the model's tokenizer; without one,
    the tokenizer saved in the folder the model was loaded from is used (a Hub name is never
    looked up). Every view and analysis accepts a Hugging Face model directly and calls this;
    the views also take ``tokenizer=``.

    On TransformerLens 3.x this raises ``TypeError`` naming the two ways to load the model
    there. A TransformerLens model is returned unchanged.

    >>> import transformers
    >>> hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(
    ...     n_layer=1, n_head=2, n_embd=16, n_positions=32, vocab_size=len(model.tokenizer)))
    >>> if transformer_lens_version() >= (4,):   # on 3.x: a TypeError naming the two ways
    ...     bridge = from_hugging_face(hf, tokenizer=model.tokenizer)
    ...     assert as_adapter(hf).model is bridge and as_adapter(hf).n_heads == 2
    >>> from_hugging_face(model) is model        # a TransformerLens model comes back unchanged
    True
    """
    if not _is_hugging_face_model(model):
        if tokenizer is not None:
            raise TypeError(
                f"tokenizer= is for a plain Hugging Face model; {type(model).__name__} is a "
                "TransformerLens model and uses its own tokenizer (model.tokenizer)"
            )
        return model.model if isinstance(model, ModelAdapter) else model
    owned = model.__dict__
    bridge = owned.get(_BRIDGE_ATTRIBUTE)
    name = _hugging_face_name(model)
    if bridge is not None:  # booting twice would prepare the same modules twice
        _check_same_tokenizer(name, bridge.tokenizer, tokenizer)
        return bridge
    if transformer_lens_version() < (4,):
        raise TypeError(
            f"circuitwidgets wraps a plain Hugging Face model ({type(model).__name__} {name!r}) "
            "only on TransformerLens 4. On the installed TransformerLens "
            f"{'.'.join(map(str, transformer_lens_version()))}, load it in one of two ways:\n"
            "    from transformer_lens import HookedTransformer\n"
            f"    model = HookedTransformer.from_pretrained({name!r}, hf_model=hf_model, tokenizer=tokenizer)\n"
            "or\n"
            "    from transformer_lens.model_bridge import TransformerBridge\n"
            f"    model = TransformerBridge.boot_transformers({name!r}, hf_model=hf_model, tokenizer=tokenizer)"
        )
    tokenizer = tokenizer if tokenizer is not None else _local_tokenizer(name)
    if tokenizer is None:
        raise ValueError(
            f"the Hugging Face model {name!r} needs its tokenizer: pass tokenizer=... (e.g. "
            f"AutoTokenizer.from_pretrained({name!r})) to the view, or to "
            "circuitwidgets.from_hugging_face(model, tokenizer)"
        )
    from transformer_lens.model_bridge import TransformerBridge

    # Boot on the device and dtype the model is on: the bridge wraps it and must not move it.
    parameter = next(model.parameters())
    bridge = TransformerBridge.boot_transformers(
        name, hf_model=model, tokenizer=tokenizer, device=parameter.device, dtype=parameter.dtype
    )
    owned[_BRIDGE_ATTRIBUTE] = bridge
    warnings.warn(
        f"circuitwidgets wrapped the Hugging Face model {name!r} in a TransformerLens "
        "TransformerBridge (attention switched to eager, so patterns exist); views and analyses "
        "of this model share it. To do it yourself: circuitwidgets.from_hugging_face(model, tokenizer).",
        UserWarning,
        stacklevel=3,
    )
    return bridge


#: nnsight model -> {_ADAPTER_ATTRIBUTE: (weights version, adapter)}, dropped with the model.
_NNSIGHT_ADAPTERS: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def as_adapter(model: Any) -> ModelAdapter:
    """``model`` as a :class:`ModelAdapter` (returns an adapter unchanged).

    One adapter per model, reused while the model's weights are unchanged: the views and
    analyses of one model share its weights as read once, and the products over the
    vocabulary computed from them (:attr:`ModelAdapter.unembed_embed`). Writing to a
    parameter in place (ablating, fine-tuning) or moving the model makes the next call read
    the weights again. The adapter is kept on the model itself, so it goes when the model goes.

    >>> as_adapter(model) is as_adapter(model)
    True
    """
    if isinstance(model, ModelAdapter):
        return model
    if _is_hugging_face_model(model):
        model = from_hugging_face(model)
    owned = getattr(model, "__dict__", None)
    if _is_nnsight_model(model):
        # Kept beside the model, not on it: a remote request ships the model object's state.
        owned = _NNSIGHT_ADAPTERS.setdefault(model, {})
    if owned is None:
        return ModelAdapter(model)
    version = _weights_version(model) if hasattr(model, "parameters") else None
    cached = owned.get(_ADAPTER_ATTRIBUTE)
    if cached is not None and cached[0] == version and cached[1].model is model:
        return cached[1]
    adapter = ModelAdapter(model)
    owned[_ADAPTER_ATTRIBUTE] = (version, adapter)
    return adapter


# --------------------------------------------------------------------------------------------
# Building a model of the installed kind from TransformerLens-format weights
# --------------------------------------------------------------------------------------------


def build_model(
    config: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor] | None,
    tokenizer: Any,
    *,
    model_name: str = "circuitwidgets-model",
) -> Any:
    """A model of the kind the installed TransformerLens provides.

    ``config`` holds ``HookedTransformerConfig`` field names (n_layers, d_model, ...);
    ``state_dict`` uses ``HookedTransformer`` keys (``embed.W_E``, ``blocks.0.attn.W_Q`` ...),
    or ``None`` for random weights (seeded by ``config["seed"]``). Returns a
    ``HookedTransformer`` where the installed TransformerLens has one (2.x, 3.x), else a
    ``TransformerBridge`` built with ``boot_native`` (4.x). ``tokenizer`` must be a Hugging
    Face tokenizer.

    Examples
    --------
    >>> m = cw.ModelAdapter(model)
    >>> config = {"n_layers": 1, "d_model": 16, "d_head": 4, "n_heads": 4, "n_ctx": 32,
    ...           "d_vocab": m.d_vocab, "attn_only": True, "normalization_type": None}
    >>> tiny = cw.build_model(config, None, m.tokenizer)   # None: random weights
    >>> cw.ModelAdapter(tiny).n_layers, type(tiny) is type(model)
    (1, True)
    """
    config = dict(config)
    config.setdefault("model_name", model_name)
    config.setdefault("default_prepend_bos", True)
    hooked = _hooked_transformer_class()
    if hooked is not None:
        from transformer_lens import HookedTransformerConfig

        # We chose the class (TL 3.9 has no other native one), so its "HookedTransformer is
        # deprecated" warning would only tell the user about our choice, once per model built.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "HookedTransformer is deprecated", DeprecationWarning)
            model = hooked(HookedTransformerConfig(**config), tokenizer=tokenizer)
        if state_dict is not None:
            missing, unexpected = model.load_state_dict(dict(state_dict), strict=False)
            real_missing = [k for k in missing if not k.endswith((".mask", ".IGNORE"))]
            if real_missing or unexpected:
                raise ValueError(
                    f"weights do not fit the config: missing {real_missing}, unexpected {unexpected}"
                )
    else:
        from transformer_lens.config import TransformerBridgeConfig
        from transformer_lens.model_bridge import TransformerBridge
        from transformer_lens.utilities.tl_checkpoint_conversion import convert_tl_checkpoint

        cfg = TransformerBridgeConfig(**config)
        model = TransformerBridge.boot_native(cfg, tokenizer=tokenizer, model_name=config["model_name"])
        if state_dict is not None:
            converted = convert_tl_checkpoint(dict(state_dict), model.cfg)
            result = model.load_state_dict(converted, strict=True)
            if result.missing_keys or result.unexpected_keys:  # pragma: no cover - strict raises
                raise ValueError(f"weights do not fit the config: {result}")
    model.eval()
    return model
