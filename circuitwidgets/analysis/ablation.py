"""Ablation: switch parts of the model off and see how its prediction moves.

A component is named as in :meth:`~circuitwidgets.analysis.Attribution.components`:

* ``"L1H3"`` (or ``(1, 3)``, or an attribution :class:`~circuitwidgets.analysis.Component`) --
  one attention head: its output ``z`` (``blocks.1.attn.hook_z[:, :, 3]``)
* ``"L1 attn"`` -- the whole attention layer's output (``blocks.1.hook_attn_out``)
* ``"L1 MLP"`` -- the MLP's output (``blocks.1.hook_mlp_out``)
* ``"L1 resid@5"`` -- the residual stream entering layer 1, at position 5 only

and ``mode`` says what replaces it:

* ``"zero"`` -- zeros;
* ``"mean"`` -- its mean over the text's positions, or, with ``reference=`` (one text or a list),
  over every position of those texts;
* ``"resample"`` -- its value on ``reference`` (one text with as many tokens) at the same position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence, Union

import torch

from ..model import ModelAdapter, as_adapter, hook_name
from ..checks import TokenLike, check_choice, check_k, check_position, token_ids

#: What can replace an ablated component.
MODES = ("zero", "mean", "resample")

_PATTERNS = (
    (re.compile(r"^L(\d+)H(\d+)$"), "head"),
    (re.compile(r"^L(\d+) ?attn$", re.I), "attn"),
    (re.compile(r"^L(\d+) ?mlp$", re.I), "mlp"),
    (re.compile(r"^L(\d+) ?resid@(\d+)$"), "resid"),
)
_HOOK = {"head": "z", "attn": "attn_out", "mlp": "mlp_out", "resid": "resid_pre"}


@dataclass(frozen=True)
class Site:
    """One ablated component: ``kind`` (``"head"``, ``"attn"``, ``"mlp"``, ``"resid"``), its
    layer, and the head or position for heads and residual positions."""

    kind: str
    layer: int
    index: Optional[int] = None

    @property
    def label(self) -> str:
        return {
            "head": f"L{self.layer}H{self.index}",
            "attn": f"L{self.layer} attn",
            "mlp": f"L{self.layer} MLP",
            "resid": f"L{self.layer} resid@{self.index}",
        }[self.kind]

    @property
    def hook(self) -> str:
        return hook_name(_HOOK[self.kind], self.layer)

    def where(self) -> tuple:
        """The index of this component in its activation ``[batch, ...]``."""
        if self.kind == "head":
            return (slice(None), slice(None), self.index)
        if self.kind == "resid":
            return (slice(None), self.index)
        return (slice(None),)


def parse_component(adapter: ModelAdapter, component: Any, seq: int) -> Site:
    """A :class:`Site` from a label, a ``(layer, head)`` pair or an attribution ``Component``."""
    if isinstance(component, tuple) and len(component) == 2:
        site = Site("head", int(component[0]), int(component[1]))
    elif hasattr(component, "kind") and hasattr(component, "layer") and component.kind in ("head", "mlp"):
        site = Site(component.kind, int(component.layer), component.head)
    elif isinstance(component, str):
        for pattern, kind in _PATTERNS:
            match = pattern.match(component.strip())
            if match:
                numbers = [int(g) for g in match.groups()]
                site = Site(kind, numbers[0], numbers[1] if len(numbers) > 1 else None)
                break
        else:
            raise ValueError(
                f"unknown component {component!r}; name a head 'L1H3', an attention layer 'L1 attn', "
                "an MLP 'L1 MLP' or a residual position 'L1 resid@5'"
            )
    else:
        raise ValueError(f"unknown component {component!r}; give a label such as 'L1H3' or a (layer, head) pair")
    adapter.check_layer(site.layer, name=f"layer of {site.label}")
    if site.kind == "head":
        adapter.check_head(site.index, name=f"head of {site.label}")
    if site.kind == "resid":
        check_position(site.index, seq)
    if site.kind == "mlp" and adapter.attn_only:
        raise ValueError(f"this model is attention-only: it has no MLP to ablate ({site.label})")
    return site


@dataclass(frozen=True, eq=False)
class Ablation:
    """The model's prediction before and after an ablation, at the chosen positions.

    Attributes
    ----------
    tokens, str_tokens:
        The text's tokens.
    components, mode:
        The labels of what was ablated, and how (``"zero"``, ``"mean"``, ``"resample"``).
    positions, targets, target_strs:
        ``LongTensor[n]``: the positions read and the token read at each.
    logits_before, logits_after, probs_before, probs_after:
        ``[n]``: the target's logit and probability without and with the ablation.
    ranks_before, ranks_after:
        ``LongTensor[n]``: the target's rank without and with it (1 = the top prediction).
    top_ids_before, top_probs_before, top_ids_after, top_probs_after:
        ``[n, k]``: the model's top predictions at each position without and with it.
    token_strs:
        Display string of every id above.

    Examples
    --------
    >>> text = "a b c d e f a b c d e f"
    >>> abl = analysis.ablate(model, text, ["L1H3"], "mean", positions=range(7, 12))
    >>> bool((abl.probs_after < abl.probs_before).all())   # the induction head was doing the work
    True
    """

    tokens: torch.Tensor
    str_tokens: list[str]
    components: tuple[str, ...]
    mode: str
    positions: torch.Tensor
    targets: torch.Tensor
    target_strs: list[str]
    logits_before: torch.Tensor
    logits_after: torch.Tensor
    probs_before: torch.Tensor
    probs_after: torch.Tensor
    ranks_before: torch.Tensor
    ranks_after: torch.Tensor
    top_ids_before: torch.Tensor
    top_probs_before: torch.Tensor
    top_ids_after: torch.Tensor
    top_probs_after: torch.Tensor
    token_strs: dict[int, str]

    @property
    def prob_drop(self) -> torch.Tensor:
        """``probs_before - probs_after`` per position."""
        return self.probs_before - self.probs_after


def _source_value(mode: str, acts: torch.Tensor, site: Site) -> torch.Tensor:
    """What replaces ``site`` from ``acts`` (every position of the source texts, ``[1, n, ...]``):
    broadcastable to ``activation[site.where()]``."""
    if mode == "resample":
        return acts[site.where()]
    mean = acts.mean(dim=1, keepdim=True)
    return mean[:, 0] if site.kind == "resid" else mean[site.where()]


class Ablator:
    """One text, ablated many ways: its clean prediction and the activations an ablation
    replaces are computed once, so each further :meth:`ablate` costs one forward pass.

    ``reference`` is as in :func:`ablate` (texts to average over for ``"mean"``, the text to
    resample from for ``"resample"``). :func:`ablate` is ``Ablator(model, text).ablate(...)``;
    a view that ablates head after head on one text keeps one ``Ablator``.

    Examples
    --------
    >>> ab = analysis.Ablator(model, "a b c d a b c")
    >>> before = ab.ablate(["L1H3"], "zero", positions=-1, target=" d")
    >>> after = ab.ablate(["L1H3", "L1H2"], "mean", positions=-1, target=" d")   # one more pass
    >>> bool(before.probs_before[0] == after.probs_before[0])
    True
    """

    #: Clean predictions kept (one row of ``d_vocab`` logits per position).
    KEEP_POSITIONS = 64

    def __init__(self, model: Any, text: str, *, reference: Union[str, Sequence[str], None] = None):
        self.adapter = as_adapter(model)
        self.tokens = self.adapter.to_tokens(text)
        self.seq = self.tokens.shape[-1]
        self.str_tokens = self.adapter.to_str_tokens(self.tokens[0])
        self._reference = reference
        self._reference_tokens: Optional[list[torch.Tensor]] = None
        self._clean: dict[int, torch.Tensor] = {}  # position -> clean logits [d_vocab]
        self._sources: dict[tuple[str, str], torch.Tensor] = {}  # (mode, hook) -> [1, n, ...]

    # ---- the clean run, once ------------------------------------------------------------------

    def _texts(self, mode: str) -> Optional[list[torch.Tensor]]:
        """The reference texts' tokens (None: the text itself), checked for ``mode``."""
        reference = self._reference
        if reference is None:
            if mode == "resample":
                raise ValueError("mode='resample' needs reference=..., a second text with as many tokens")
            return None
        if self._reference_tokens is None:
            texts = [reference] if isinstance(reference, str) else list(reference)
            if not texts:
                raise ValueError("reference= is empty; pass a text or a list of texts")
            self._reference_tokens = [self.adapter.to_tokens(text) for text in texts]
        tokens = self._reference_tokens
        if mode == "resample":
            if len(tokens) != 1:
                raise ValueError(f"mode='resample' takes one reference text, got {len(tokens)}")
            if tokens[0].shape[-1] != self.seq:
                raise ValueError(
                    f"the reference text is {tokens[0].shape[-1]} tokens {self.adapter.to_str_tokens(tokens[0][0])}, "
                    f"but the text is {self.seq}; resampling swaps position by position, so they must be equal"
                )
        return tokens

    def _reference_sources(self, sites: list[Site], mode: str, texts: list[torch.Tensor]) -> None:
        """The reference texts' activations of ``sites``' hooks (for a hook first needed, every
        layer's, so the next head costs no extra pass)."""
        if all((mode, site.hook) in self._sources for site in sites):
            return
        names = sorted(
            {hook_name(_HOOK[site.kind], layer) for site in sites for layer in range(self.adapter.n_layers)}
            - {name for (m, name) in self._sources if m == mode}
        )
        caches = [self.adapter.run_with_cache(tokens, names)[1] for tokens in texts]
        for name in names:
            self._sources[(mode, name)] = torch.cat([cache[name] for cache in caches], dim=1)  # every position

    def _run(self, sites: list[Site], mode: str, where: list[int], own: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The clean and the ablated logits ``[n, d_vocab]`` at ``where``. With the clean prediction there and
        every replacement known, one pass of the ablated text; otherwise one pass of two rows
        (:meth:`~circuitwidgets.ModelAdapter.run_branching`): row 0 the clean text, kept (with,
        for ``own`` means, the activations the ablation replaces), row 1 the ablated one, joining
        at the first ablated layer."""
        branch = any(p not in self._clean for p in where) or (own and any((mode, s.hook) not in self._sources for s in sites))

        def hook_for(name: str):
            here = [site for site in sites if site.hook == name]

            def hook(act: torch.Tensor) -> torch.Tensor:
                if own and (mode, name) not in self._sources:  # row 0 is the clean run, unedited
                    self._sources[(mode, name)] = act[:1].detach().to("cpu", torch.float32).clone()
                act = act.clone()
                edited = act[1:] if branch else act
                for site in here:
                    value = torch.zeros(()) if mode == "zero" else _source_value(mode, self._sources[(mode, name)], site)
                    edited[site.where()] = value.to(act.device, act.dtype)
                return act

            return hook

        hooks = {name: hook_for(name) for name in sorted({site.hook for site in sites})}
        if not branch:
            after = self.adapter.run_with_replacing_hooks(self.tokens, hooks, positions=where)[0]
            return torch.stack([self._clean[p] for p in where]), after
        first = min(site.layer for site in sites)
        logits = self.adapter.run_branching(self.tokens, [first], hooks, positions=where)
        self._keep_clean({p: logits[0, i] for i, p in enumerate(where)})
        return logits[0], logits[1]

    def _keep_clean(self, rows: dict[int, torch.Tensor]) -> None:
        for position, row in rows.items():
            if len(self._clean) >= self.KEEP_POSITIONS:
                self._clean.pop(next(iter(self._clean)))
            self._clean[position] = row.clone()

    # ---- one ablation -------------------------------------------------------------------------

    def _sites(self, components: Iterable[Any]) -> list[Site]:
        """``components`` parsed and checked (see :func:`ablate`), each once."""
        items = [components] if isinstance(components, str) else list(components)
        if not items:
            raise ValueError("no components given; name at least one, e.g. ['L1H3']")
        return list(dict.fromkeys(parse_component(self.adapter, c, self.seq) for c in items))

    def _positions(self, positions: Union[int, Iterable[int], None]) -> list[int]:
        """``positions`` checked against the text (None: every position)."""
        if positions is None:
            return list(range(self.seq))
        where = [positions] if isinstance(positions, int) else list(positions)
        if not where:
            raise ValueError("positions is empty; give at least one position, or leave it out for all")
        return [check_position(int(p), self.seq) for p in where]

    def ablate(
        self,
        components: Iterable[Any],
        mode: str = "zero",
        *,
        positions: Union[int, Iterable[int], None] = None,
        target: Optional[TokenLike] = None,
        k: int = 10,
    ) -> Ablation:
        """:func:`ablate` on this text (the same arguments, less ``model``, ``text``,
        ``reference``)."""
        adapter = self.adapter
        check_choice(mode, "mode", MODES)
        k = check_k(k, adapter.d_vocab)
        sites = self._sites(components)
        where = self._positions(positions)
        texts = self._texts(mode) if mode != "zero" else None
        if texts is not None:
            self._reference_sources(sites, mode, texts)
        before, after = self._run(sites, mode, where, own=mode != "zero" and texts is None)
        return _comparison(adapter, self, sites, mode, where, before, after, target, k)


def _rank(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 + how many tokens score above each row's target (1 = the top prediction)."""
    goal = logits[torch.arange(len(targets)), targets]
    return (logits > goal[:, None]).sum(dim=-1) + 1


def _comparison(
    adapter: ModelAdapter, ablator: Ablator, sites: list[Site], mode: str, where: list[int],
    before: torch.Tensor, after: torch.Tensor, target: Any, k: int,
) -> Ablation:
    """The :class:`Ablation` from the clean and ablated logits ``[n, d_vocab]`` at ``where``."""
    targets = _targets(adapter, ablator.tokens[0], where, before, target)
    rows = torch.arange(len(where))
    probs_before, probs_after = before.softmax(-1), after.softmax(-1)
    top_before, top_after = probs_before.topk(k, dim=-1), probs_after.topk(k, dim=-1)
    ids = torch.cat([top_before.indices.reshape(-1), top_after.indices.reshape(-1), targets]).unique()
    token_strs = dict(zip(ids.tolist(), adapter.to_str_tokens(ids)))
    return Ablation(
        tokens=ablator.tokens[0],
        str_tokens=list(ablator.str_tokens),
        components=tuple(site.label for site in sites),
        mode=mode,
        positions=torch.tensor(where),
        targets=targets,
        target_strs=[token_strs[int(t)] for t in targets],
        logits_before=before[rows, targets],
        logits_after=after[rows, targets],
        probs_before=probs_before[rows, targets],
        probs_after=probs_after[rows, targets],
        ranks_before=_rank(before, targets),
        ranks_after=_rank(after, targets),
        top_ids_before=top_before.indices,
        top_probs_before=top_before.values,
        top_ids_after=top_after.indices,
        top_probs_after=top_after.values,
        token_strs=token_strs,
    )


def ablate(
    model: Any,
    text: str,
    components: Iterable[Any],
    mode: str = "zero",
    *,
    reference: Union[str, Sequence[str], None] = None,
    positions: Union[int, Iterable[int], None] = None,
    target: Optional[TokenLike] = None,
    k: int = 10,
) -> Ablation:
    """Run ``text`` with ``components`` ablated (see the module docs) and compare the prediction.

    Parameters
    ----------
    components:
        Labels (``"L1H3"``, ``"L1 attn"``, ``"L1 MLP"``, ``"L1 resid@5"``), ``(layer, head)``
        pairs or attribution components; at least one.
    mode:
        ``"zero"``, ``"mean"`` or ``"resample"``.
    reference:
        For ``"mean"``: texts to average over (default: the text itself); for ``"resample"``:
        the text whose activations are used.
    positions:
        Where to read the prediction (default: every position).
    target:
        The token read at every position; default: the next token of the text, and at the last
        position the model's own top prediction before the ablation.

    To ablate one text many ways, keep an :class:`Ablator`: its clean run is computed once.

    Examples
    --------
    >>> abl = analysis.ablate(model, "a b c d a b c", ["L1H3"], "zero", positions=-1, target=" d")
    >>> abl.components, abl.target_strs
    (('L1H3',), [' d'])
    """
    check_choice(mode, "mode", MODES)
    return Ablator(model, text, reference=reference).ablate(components, mode, positions=positions, target=target, k=k)


def _targets(
    adapter: ModelAdapter, tokens: torch.Tensor, where: list[int], before: torch.Tensor, target: Any
) -> torch.Tensor:
    """The token read at each position (see :func:`ablate`)."""
    if target is not None:
        ids = token_ids(adapter, target, "target token")
        if len(ids) != 1:
            raise ValueError(f"target must be one token, got {len(ids)}: {target!r}")
        return ids.expand(len(where)).clone()
    seq = tokens.shape[0]
    return torch.tensor(
        [int(tokens[p + 1]) if p + 1 < seq else int(before[i].argmax()) for i, p in enumerate(where)]
    )
