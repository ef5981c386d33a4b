"""The nnsight backend: an ``nnsight.LanguageModel`` seen through the :class:`ModelAdapter`
interface, so every analysis and view reads it as it reads a TransformerLens model.

``ModelAdapter(model)`` (and so every view) returns an :class:`NNsightAdapter` for an nnsight
model. Each forward pass is one ``model.trace(...)`` that reads only the module inputs and
outputs the analysis asked for (:mod:`circuitwidgets.nnsight_layout` says where each lives),
cuts them to TransformerLens's shapes inside the trace and saves just those; edits (ablation,
patching) are assignments to the same places. The weights are read from the Hugging Face
modules. The trace is the same for a local model and for one run remotely (``remote=True``,
NDIF): only the flag passed to ``model.trace`` differs (:attr:`NNsightAdapter.remote`).

Attention patterns need eager attention (SDPA and flash attention compute no weights): load the
model with ``nnsight.LanguageModel(name, attn_implementation="eager")``; another
implementation is refused with that line.

>>> import nnsight, transformers
>>> config = transformers.GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=len(model.tokenizer))
>>> config._attn_implementation = "eager"       # what attn_implementation="eager" sets
>>> lm = nnsight.LanguageModel(transformers.GPT2LMHeadModel(config), tokenizer=model.tokenizer)
>>> adapter = cw.ModelAdapter(lm)
>>> type(adapter).__name__, adapter.n_layers, adapter.n_heads
('NNsightAdapter', 2, 4)
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch

from .model import ModelAdapter, FinalNorm, _measured_norm, hook_name
from .nnsight_layout import Layout, Port, layout_for

__all__ = ["NNsightAdapter", "RemoteRunError", "traced"]

#: What the nnsight backend cannot read, and why (a hook of these kinds raises ``KeyError``).
_UNREAD = {
    "hook_attn_scores": "the scores before the softmax stay inside the attention function",
    "hook_rot_q": "queries after the rotary rotation stay inside the attention module",
    "hook_rot_k": "keys after the rotary rotation stay inside the attention module",
    "hook_scale": "the final norm's scale stays inside the norm module",
}


def traced(
    model: Any,
    tokens: torch.Tensor,
    plan: Sequence[tuple[Port, tuple[str | None, ...]]],
    edits: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
    *,
    logits: bool,
    stop: bool,
    remote: bool | str = False,
    reducers: Mapping[str, Callable[[torch.Tensor], Any]] | None = None,
) -> tuple[list[Any], torch.Tensor | None]:
    """One ``model.trace`` over ``tokens``: for each ``(port, names)`` of ``plan`` (in the
    order the model computes them), the port's pieces named in ``names`` are edited (where
    ``edits`` has a function for that name) and saved (where the name is not ``None``) --
    reduced first where ``reducers`` has a function for the name, so only its result is saved;
    ``logits`` saves the output logits, ``stop`` ends the pass after the last port.
    ``remote`` goes to ``model.trace`` unchanged: the same body runs locally or on the server.
    Returns the saved values (in plan order, on the device they were computed on) and the
    logits (or ``None``)."""
    reducers = reducers or {}
    with model.trace(tokens, remote=remote) as tracer:
        saved = []
        for port, names in plan:
            envoy = model.get(port.path)
            value = envoy.output if port.io == "output" else envoy.input
            edited = False
            for piece, name in zip(port.pieces, names):
                if name is not None and name in edits:
                    value = piece.paste(value, edits[name](piece.cut(value)))
                    edited = True
            if edited:
                if port.io == "output":
                    envoy.output = value
                else:
                    envoy.input = value
            for piece, name in zip(port.pieces, names):
                if name is not None:
                    cut = piece.cut(value)
                    saved.append(reducers[name](cut) if name in reducers else cut)
        out = model.output.logits if logits else None
        saved, out = _save(saved), _save(out)
        if stop and not logits:
            tracer.stop()
    return saved, out


class RemoteRunError(ValueError):
    """A remote trace failed (the network, the server, the request): a ``ValueError``, so a
    view keeps what it showed and shows this message, as for any input it cannot use."""


def _nbytes(value: Any) -> int:
    """The bytes of every tensor in ``value`` (tensors, tuples, lists, dicts, ``None``)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    return 0


def _to_cpu(value: Any) -> Any:
    """``value`` with every tensor in it float32 on the CPU (floating ones; ids stay ints)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float32 if value.is_floating_point() else value.dtype)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


@functools.lru_cache(maxsize=None)
def _ship_by_value() -> None:
    """Send circuitwidgets' own code (the trace body's reducers and pieces) with remote
    requests, once: the server has nnsight and torch, not circuitwidgets."""
    from nnsight.ndif import register

    register("circuitwidgets")


def _save(value: Any) -> Any:
    import nnsight

    return nnsight.save(value)


class NNsightAdapter(ModelAdapter):
    """A :class:`ModelAdapter` over an ``nnsight.LanguageModel`` (made by ``ModelAdapter(lm)``).

    ``remote`` (default ``False``) is passed to every ``model.trace``; set it to ``True`` to
    run on NDIF (see docs/nnsight.md), or to ``"local"`` for nnsight's local rehearsal of a
    remote request (serialized and run in this process).

    What it cannot do says so: ``attn_scores``, ``rot_q``, ``rot_k`` and ``ln_final_scale``
    are not read (a ``KeyError`` says why; long texts' patterns are then read whole, not rebuilt
    from q and k), and :meth:`run_with_gradients` (attribution patching, knowledge neurons)
    runs on a local model only.

    >>> import nnsight, transformers
    >>> config = transformers.LlamaConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
    ...     num_key_value_heads=2, intermediate_size=64, vocab_size=len(model.tokenizer))
    >>> config._attn_implementation = "eager"
    >>> lm = nnsight.LanguageModel(transformers.LlamaForCausalLM(config), tokenizer=model.tokenizer)
    >>> adapter = ModelAdapter(lm)
    >>> adapter.to_str_tokens(adapter.to_tokens("a b")), adapter.n_kv_heads
    (['<|endoftext|>', 'a', ' b'], 2)
    """

    def __init__(self, model: Any):
        if isinstance(model, ModelAdapter):
            model = model.model
        self.kind = "nnsight"
        self.model = model
        self.remote: bool | str = False
        #: Bytes each trace saved so far, in order (what a remote run sends back): a view's
        #: action shows here as the entries it added.
        self.saved_bytes: list[int] = []
        self.hf = model._module
        config = self.hf.config
        self.config = config
        self.layout: Layout = layout_for(config.model_type)
        implementation = getattr(config, "_attn_implementation", None)
        if implementation != "eager":
            name = getattr(config, "_name_or_path", "") or "name"
            raise ValueError(
                f"this nnsight model computes attention with {implementation!r}, which gives no "
                "attention patterns; load it with eager attention:\n"
                f"    nnsight.LanguageModel({name!r}, attn_implementation=\"eager\")"
            )
        self.n_layers = int(config.num_hidden_layers)
        self.n_heads = int(config.num_attention_heads)
        self.d_model = int(config.hidden_size)
        self.d_head = int(getattr(config, "head_dim", None) or self.d_model // self.n_heads)
        self.d_vocab = int(self.hf.get_output_embeddings().weight.shape[0])
        self.n_ctx = int(getattr(config, "n_positions", None) or config.max_position_embeddings)
        self.d_mlp = int(getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None) or 4 * self.d_model)
        self.attn_only = False
        self.parallel_attn_mlp = False
        self.n_kv_heads = int(getattr(config, "num_key_value_heads", None) or self.n_heads)

    # ---- identity and tokens --------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(getattr(self.config, "_name_or_path", None) or self.config.model_type)

    def __repr__(self) -> str:
        return (
            f"NNsightAdapter({self.config.model_type} {self.name!r}: {self.n_layers} layers x "
            f"{self.n_heads} heads, d_model={self.d_model}, d_vocab={self.d_vocab}, remote={self.remote!r})"
        )

    @property
    def tokenizer(self) -> Any:
        return getattr(self.model, "tokenizer", None)

    @property
    def device(self) -> torch.device:
        """Where inputs go: the model's device, or the CPU for a remote run (the request
        carries them; a remote model's local weights are on the meta device)."""
        return torch.device("cpu") if self.remote else next(self.hf.parameters()).device

    @property
    def _dtype(self) -> torch.dtype:
        return next(self.hf.parameters()).dtype

    @property
    def prepends_bos(self) -> bool:
        """Whether a BOS token goes first: TransformerLens's default for the family, where the
        tokenizer has one (so both backends read a text as the same tokens)."""
        return self.layout.prepend_bos and self.bos_token_id is not None

    def _encode(self, text: str) -> torch.Tensor:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return torch.tensor([[self.bos_token_id] * self.prepends_bos + list(ids)], dtype=torch.long)

    def _decode_each(self, ids: list[int]) -> list[str]:
        return list(self.tokenizer.batch_decode([[i] for i in ids], clean_up_tokenization_spaces=False))

    # ---- where the activations are --------------------------------------------------------

    @functools.cached_property
    def _ports(self) -> tuple[Port, ...]:
        ports = list(self.layout.global_ports())
        for layer in range(self.n_layers):
            ports += self.layout.block_ports(layer, self.n_heads, self.n_kv_heads, self.d_head)
        return tuple(ports)

    def _name(self, port: Port, kind: str) -> str:
        return hook_name(kind, port.layer)

    @functools.cached_property
    def hook_names(self) -> tuple[str, ...]:
        """Every hook name this backend reads, in the order the model computes them."""
        return tuple(self._name(port, kind) for port in self._ports for kind in port.kinds())

    def _plan(self, names: Iterable[str]) -> list[tuple[Port, tuple[str | None, ...]]]:
        wanted = set(names)
        unknown = wanted - set(self.hook_names)
        if unknown:
            raise KeyError(f"the model produced no activation for hooks {sorted(unknown)} ({self._why(unknown)})")
        plan = []
        for port in self._ports:
            names_here = tuple(n if n in wanted else None for n in (self._name(port, k) for k in port.kinds()))
            if any(n is not None for n in names_here):
                plan.append((port, names_here))
        return plan

    def _why(self, names: Iterable[str]) -> str:
        reasons = []
        for name in sorted(names):
            why = _UNREAD.get(name.rsplit(".", 1)[-1], f"not a hook of this {self.config.model_type} model")
            reasons.append(f"{name}: {why}")
        return "nnsight backend: " + "; ".join(reasons)

    def _run(
        self,
        tokens: torch.Tensor,
        names: Iterable[str],
        edits: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
        *,
        logits: bool,
        stop: bool = False,
        reducers: Mapping[str, Callable[[torch.Tensor], Any]] | None = None,
    ) -> tuple[dict[str, Any], torch.Tensor | None]:
        """One trace: ``names`` read (float32 CPU; ``reducers``' results for theirs),
        ``edits`` applied, the logits if asked; what it saved is added to :attr:`saved_bytes`."""
        edits = dict(edits or {})
        reducers = dict(reducers or {})
        plan = self._plan(set(names) | set(edits) | set(reducers))
        if self.remote:
            _ship_by_value()
        with torch.inference_mode():
            try:
                saved, out = traced(
                    self.model, tokens.to(self.device), plan, edits, logits=logits, stop=stop,
                    remote=self.remote, reducers=reducers,
                )
            except Exception as error:
                if not self.remote:
                    raise
                raise RemoteRunError(f"the remote run failed ({type(error).__name__}: {error})") from error
        self.saved_bytes.append(_nbytes(saved) + _nbytes(out))
        order = [n for _, names_here in plan for n in names_here if n is not None]
        cache = {n: _to_cpu(v) for n, v in zip(order, saved)}
        return cache, None if out is None else _to_cpu(out)

    # ---- running --------------------------------------------------------------------------

    def run_with_cache(self, tokens, names):
        if callable(names):
            names = [n for n in self.hook_names if names(n)]
        wanted = list(names)
        cache, logits = self._run(tokens, wanted, logits=True)
        return logits, {n: cache[n] for n in wanted}

    def run_with_hooks(self, tokens, hooks, *, stop_when_done=False):
        """As :meth:`ModelAdapter.run_with_hooks`, except that the activations are all saved
        by the trace and handed to the callbacks after it (in the order the model computed
        them): a callback cannot keep memory low here, it only sees each one."""
        cache, _ = self._run(tokens, list(hooks), logits=False, stop=stop_when_done)
        for name in self.hook_names:
            if name in hooks:
                hooks[name](cache[name])

    rereads_patterns = True

    def run_reduced(self, tokens, reducers, *, stop_when_done=False):
        """As :meth:`ModelAdapter.run_reduced`, the reducers running inside the trace (on the
        server when :attr:`remote`) on the activation as the model computed it (its dtype and
        device, batch kept); only their results are saved."""
        cache, _ = self._run(tokens, [], logits=False, stop=stop_when_done, reducers=reducers)
        return {name: cache[name] for name in reducers}

    def forward_logits(self, tokens):
        return self._run(tokens, [], logits=True)[1]

    def _run_editing(self, tokens, hooks, positions):
        logits = self._run(tokens, [], hooks, logits=True)[1]
        return logits if positions is None else logits[:, list(positions)]

    @functools.cached_property
    def _batch_can_grow(self) -> bool:
        return False  # every branch runs from the start (the same numbers, one batch)

    def run_with_gradients(self, tokens, names, metric, *, edits=None):
        """As :meth:`ModelAdapter.run_with_gradients`: each named activation is handed on inside
        the trace as a tensor autograd tracks (edited first where ``edits`` says), and the metric
        of the traced logits is differentiated with respect to those tensors after it.
        Local models only: the graph stays where the forward pass ran."""
        wanted = list(dict.fromkeys(names))
        edits = dict(edits or {})
        unknown = set(edits) - set(wanted)
        if unknown:
            raise ValueError(f"edits name hooks that are not in names: {sorted(unknown)}")
        if self.remote:
            raise NotImplementedError("gradients need the forward pass's graph, which a remote run does not send back")
        leaves: dict[str, torch.Tensor] = {}

        def track(name: str):
            def swap(activation: torch.Tensor) -> torch.Tensor:
                if name in edits:  # the edited activation is where the gradient is taken
                    activation = edits[name](activation.detach()).detach().requires_grad_(True)
                elif not activation.requires_grad:  # upstream of every tracked input: start here
                    activation = activation.detach().requires_grad_(True)
                leaves[name] = activation  # passed on as it is, so the gradient flows through it
                return activation

            return swap

        with torch.enable_grad():
            plan = self._plan(wanted)
            _, logits = traced(self.model, tokens.to(self.device), plan, {n: track(n) for n in wanted}, logits=True, stop=False)
            value = torch.as_tensor(metric(logits.float()))
            if value.numel() != 1:
                raise ValueError(f"the metric must return a scalar, got a tensor of shape {tuple(value.shape)}")
            value = value.reshape(())
            acts = [leaves[n] for n in wanted]
            grads = torch.autograd.grad(value, acts, allow_unused=True) if value.requires_grad else [None] * len(acts)
        cpu = {n: a.detach().to("cpu", torch.float32) for n, a in zip(wanted, acts)}
        return value.detach().to("cpu", torch.float32), cpu, {
            n: torch.zeros_like(cpu[n]) if g is None else g.detach().to("cpu", torch.float32) for n, g in zip(wanted, grads)
        }

    # ---- weights --------------------------------------------------------------------------

    def _module(self, path: str) -> torch.nn.Module:
        module = self.hf.get_submodule(path)
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.Tensor) and weight.is_meta:
            raise NotImplementedError(
                f"the weights of this model ({path}) are not on this machine (a remote model's stay on "
                "the server); the analyses that read weights (OV and QK circuits, the logit lens, "
                "attribution, composition) are not served remotely: AttentionExplorer is"
            )
        return module

    def _matrix(self, path: str) -> torch.Tensor:
        """A linear module's weight as ``[in, out]`` float32 (GPT-2's Conv1D stores it so)."""
        module = self._module(path)
        w = module.weight.detach().to("cpu", torch.float32)
        return w if type(module).__name__ == "Conv1D" else w.T

    def _bias(self, path: str, size: int) -> torch.Tensor:
        b = getattr(self._module(path), "bias", None)
        return torch.zeros(size) if b is None else b.detach().to("cpu", torch.float32)

    def _stored_unembedding(self):
        W_U = self._matrix(self.layout.unembed)
        return W_U, self._bias(self.layout.unembed, W_U.shape[-1])

    def _stored_embedding(self):
        return self._module(self.layout.embed).weight.detach().to("cpu", torch.float32)

    def _qkv(self, layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Layer ``layer``'s ``W_Q [h, d, d_head]``, ``W_K``/``W_V [kv, d, d_head]``, ``b_V [kv, d_head]``."""
        block, layout = self.layout.block(layer), self.layout
        counts = (self.n_heads, self.n_kv_heads, self.n_kv_heads)
        if len(layout.qkv) == 1:
            w = self._matrix(f"{block}.{layout.qkv[0]}")
            b = self._bias(f"{block}.{layout.qkv[0]}", w.shape[-1])
            width = self.n_heads * self.d_head
            parts = [(w[:, i * width : (i + 1) * width], b[i * width : (i + 1) * width]) for i in range(3)]
        else:
            parts = [(self._matrix(f"{block}.{p}"), None) for p in layout.qkv]
            parts = [(w, self._bias(f"{block}.{p}", w.shape[-1])) for (w, _), p in zip(parts, layout.qkv)]
        W_Q, W_K, W_V = (w.reshape(self.d_model, n, self.d_head).transpose(0, 1) for (w, _), n in zip(parts, counts))
        return W_Q, W_K, W_V, parts[2][1].reshape(self.n_kv_heads, self.d_head)

    def _stored_attention(self):
        layout = self.layout
        W_pos = None if layout.pos_embed is None else self._module(layout.pos_embed).weight.detach().to("cpu", torch.float32)
        per_layer = [self._qkv(layer) for layer in range(self.n_layers)]
        W_Q, W_K, W_V = (torch.stack([p[i] for p in per_layer]) for i in range(3))
        o = [f"{layout.block(layer)}.{layout.o_proj}" for layer in range(self.n_layers)]
        W_O = torch.stack([self._matrix(p).reshape(self.n_heads, self.d_head, self.d_model) for p in o])
        b_O = torch.stack([self._bias(p, self.d_model) for p in o])
        return W_pos, W_Q, W_K, W_V, W_O, b_O

    def _stored_value_bias(self):
        return torch.stack([self._qkv(layer)[3] for layer in range(self.n_layers)])

    @functools.cached_property
    def mlp_out_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.layout.mlp_post_norm is not None:
            raise NotImplementedError(
                f"{self.config.model_type}'s MLP output goes through {self.layout.mlp_post_norm} before the "
                "residual stream, so it is not post @ W_out + b_out; the nnsight backend does not split "
                "it into neurons (the flow graph and neuron analyses need that): use TransformerLens"
            )
        paths = [f"{self.layout.block(layer)}.{self.layout.mlp_out_proj}" for layer in range(self.n_layers)]
        return torch.stack([self._matrix(p) for p in paths]), torch.stack([self._bias(p, self.d_model) for p in paths])

    # ---- norms, positions, the output -----------------------------------------------------

    @property
    def _eps(self) -> float:
        return float(getattr(self.config, "rms_norm_eps", None) or getattr(self.config, "layer_norm_epsilon", 1e-5))

    @functools.cached_property
    def final_norm(self) -> FinalNorm:
        return _measured_norm(self._module(self.layout.final_norm), self.layout.norm_kind, self._eps, self.d_model, "final norm")

    def _block_norms(self, name: str) -> tuple[FinalNorm, ...]:
        path = getattr(self.layout, name)
        return tuple(
            _measured_norm(self._module(f"{self.layout.block(layer)}.{path}"), self.layout.norm_kind, self._eps, self.d_model, f"layer {layer}'s {path}")
            for layer in range(self.n_layers)
        )

    @functools.cached_property
    def mlp_input_norms(self) -> tuple[FinalNorm | None, ...]:
        return self._block_norms("ln2")

    @functools.cached_property
    def attn_output_norms(self) -> tuple[FinalNorm | None, ...]:
        if self.layout.attn_post_norm is None:
            return (None,) * self.n_layers
        return self._block_norms("attn_post_norm")

    @property
    def position_kind(self) -> str:
        return "learned" if self.layout.pos_embed is not None else "rotary"

    @functools.cached_property
    def logit_soft_cap(self) -> float | None:
        cap = getattr(self.config, "final_logit_softcapping", None)
        return float(cap) if cap else None

    @property
    def _attn_soft_cap(self) -> float | None:
        cap = getattr(self.config, "attn_logit_softcapping", None)
        return float(cap) if cap else None

    @property
    def _declared_window(self) -> int | None:
        window = getattr(self.config, "sliding_window", None)
        return window if isinstance(window, int) and window > 0 else None

    @property
    def residual_multiplier(self) -> float:
        return 1.0

    def _output_transform(self, logits: torch.Tensor) -> torch.Tensor:
        from .model import soft_cap

        return soft_cap(logits, self.logit_soft_cap)

