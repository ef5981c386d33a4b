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

import functools
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch

__all__ = [
    "FinalNorm",
    "ModelAdapter",
    "as_adapter",
    "build_model",
    "hook_name",
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
    return TypeError(
        "circuitwidgets needs a TransformerLens model (HookedTransformer or TransformerBridge), "
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
    "ln_final_scale": "ln_final.hook_scale",
}


def hook_name(kind: str, layer: int | None = None) -> str:
    """The TransformerLens hook name for an activation, e.g. ``hook_name("pattern", 1)``.

    ``kind`` is one of ``embed, pos_embed, resid_pre, resid_mid, resid_post, attn_out,
    mlp_out, mlp_post, pattern, attn_scores, z, v, q, k, ln_final_scale``.
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
        self.attn_only: bool = bool(getattr(cfg, "attn_only", False))
        #: Attention and MLP both read ``resid_pre`` and write ``resid_post`` (GPT-J, NeoX).
        self.parallel_attn_mlp: bool = bool(getattr(cfg, "parallel_attn_mlp", False))
        kv = getattr(cfg, "n_key_value_heads", None)
        self.n_kv_heads: int = int(kv) if kv else self.n_heads
        if self.tokenizer is None:
            raise ValueError(
                "this model has no tokenizer; pass tokenizer=... when you build it "
                "(circuitwidgets shows text, so it needs one)"
            )

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

    def to_tokens(self, text: str, *, check_length: bool = True) -> torch.Tensor:
        """Token ids ``[1, seq]`` for ``text``, with the model's BOS convention.

        Raises ``ValueError`` for an empty text and for a text longer than the model's context.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if text == "":
            raise ValueError("text is empty; type at least one character")
        tokens = self.model.to_tokens(text, prepend_bos=self.prepends_bos, truncate=False)
        tokens = tokens.to("cpu")
        if check_length and tokens.shape[-1] > self.n_ctx:
            raise ValueError(
                f"text is {tokens.shape[-1]} tokens long, but this model's context is "
                f"{self.n_ctx} tokens (n_ctx); shorten it to at most {self.n_ctx} tokens"
            )
        return tokens

    def to_str_tokens(self, tokens: torch.Tensor | Sequence[int]) -> list[str]:
        """One display string per token id: the model's own ``to_str_tokens``, except that a
        token holding part of a multi-byte character (which decodes to ``"\ufffd"``, the
        same "�" for every such token) shows its bytes instead: ``"\\xe2\\x80"``."""
        if isinstance(tokens, torch.Tensor):
            tokens = tokens.reshape(-1)
        ids = list(map(int, tokens))
        out = [str(s) for s in self.model.to_str_tokens(torch.as_tensor(ids, dtype=torch.long))]
        partial = [i for i, s in enumerate(out) if "\ufffd" in s]
        if partial and self.tokenizer is not None and hasattr(self.tokenizer, "convert_ids_to_tokens"):
            pieces = self.tokenizer.convert_ids_to_tokens([ids[i] for i in partial])
            for i, piece in zip(partial, pieces):
                raw = _token_bytes(piece) if isinstance(piece, str) else None
                if raw is not None:
                    out[i] = raw.decode("utf-8", errors="backslashreplace")
        return out

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
        ids = self.tokenizer.encode(token, add_special_tokens=False)
        if len(ids) != 1:
            pieces = [self.token_str(i) for i in ids]
            raise ValueError(
                f"{token!r} is {len(ids)} tokens {pieces}, not a single token; "
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
                self.model.run_with_hooks(tokens.to(self.device), fwd_hooks=fwd_hooks, return_type=None)
            except _EnoughSeen:
                pass  # every hook fired; TransformerLens removed them on the way out
        missing = set(hooks) - fired
        if missing:
            raise KeyError(f"the model produced no activation for hooks {sorted(missing)}")

    def forward_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, seq, d_vocab]`` (float32, CPU) without caching anything."""
        with torch.inference_mode():
            logits = self.model(tokens.to(self.device), return_type="logits")
        return logits.detach().to("cpu", torch.float32)

    def apply_final_norm(self, resid: torch.Tensor) -> torch.Tensor:
        """Apply the model's final normalization to residual-stream vectors ``[..., d_model]``,
        recomputing its scale from the vectors given (as ``accumulated_resid(apply_ln=True)``).
        """
        ln = getattr(self.model, "ln_final", None)
        if ln is None:
            return resid
        with torch.inference_mode():
            out = ln(resid.to(self.device, self._dtype))
        return out.detach().to("cpu", torch.float32)

    def unembed(self, normalized: torch.Tensor) -> torch.Tensor:
        """Logits for normalized residual vectors: ``x @ W_U + b_U``."""
        W_U, b_U = self.unembedding
        return normalized @ W_U + b_U

    @functools.cached_property
    def unembedding(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W_U [d_model, d_vocab], b_U [d_vocab])``, float32 on the CPU, read once (zeros
        for a model without an unembedding bias). The logit lens needs only these: reading
        them does not read the attention weights (:attr:`weights` shares them)."""
        m = self.model
        with torch.inference_mode():
            W_U = m.W_U.detach().to("cpu", torch.float32)
            try:
                b_U = m.b_U.detach().to("cpu", torch.float32)
            except AttributeError:
                b_U = torch.zeros(W_U.shape[-1])
        return W_U, b_U

    @functools.cached_property
    def final_norm(self) -> FinalNorm:
        """The final normalization as a :class:`FinalNorm` formula (read once, then cached).

        Checked against the model's own ``ln_final`` on random vectors; a final norm that the
        formula does not reproduce (e.g. a weight offset, as in Gemma) raises
        ``NotImplementedError`` here rather than giving attributions that silently do not sum
        to the logit.
        """
        cfg = self.model.cfg
        ln = getattr(self.model, "ln_final", None)
        norm_type = getattr(cfg, "normalization_type", None)
        kind = {"LN": "LN", "LNPre": "LN", "RMS": "RMS", "RMSPre": "RMS"}.get(norm_type, "none")
        if ln is None:
            kind = "none"

        def param(name: str, default: float) -> torch.Tensor:
            value = getattr(ln, name, None) if kind != "none" else None
            if value is None:
                return torch.full((self.d_model,), default)
            return value.detach().to("cpu", torch.float32).reshape(self.d_model)

        norm = FinalNorm(
            kind=kind, weight=param("w", 1.0), bias=param("b", 0.0), eps=float(getattr(cfg, "eps", 1e-5))
        )
        probe = torch.randn(4, self.d_model, generator=torch.Generator().manual_seed(0)) * 3 + 1
        expected = norm.center(probe) / norm.scale(probe) * norm.weight + norm.bias
        got = self.apply_final_norm(probe)
        if not torch.allclose(got, expected, rtol=1e-4, atol=1e-4):
            raise NotImplementedError(
                f"this model's final norm ({type(ln).__name__}, normalization_type={norm_type!r}) "
                "is not of the form centre(x)/scale*weight + bias that circuitwidgets knows; "
                "direct logit attribution would not add up to the logit"
            )
        return norm

    # ---- weights --------------------------------------------------------------------------

    @property
    def _dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @functools.cached_property
    def weights(self) -> Weights:
        """The model's weights as :class:`Weights` (read once, then cached)."""
        m = self.model

        def grab(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to("cpu", torch.float32)

        with torch.inference_mode():
            W_pos = None
            if getattr(m.cfg, "positional_embedding_type", "standard") == "standard":
                # HookedTransformer and the 4.x bridge have model.W_pos; the 3.x bridge only
                # has it on its pos_embed component.
                for owner in (m, getattr(m, "pos_embed", None)):
                    try:
                        W_pos = grab(owner.W_pos)
                        break
                    except (AttributeError, NotImplementedError):
                        continue
            W_U, b_U = self.unembedding
            return Weights(
                W_E=grab(m.W_E),
                W_pos=W_pos,
                W_Q=grab(m.W_Q),
                W_K=self._expand_kv(grab(m.W_K)),
                W_V=self._expand_kv(grab(m.W_V)),
                W_O=grab(m.W_O),
                b_O=grab(m.b_O),
                W_U=W_U,
                b_U=b_U,
            )

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


def as_adapter(model: Any) -> ModelAdapter:
    """``model`` as a :class:`ModelAdapter` (returns an adapter unchanged)."""
    return model if isinstance(model, ModelAdapter) else ModelAdapter(model)


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
