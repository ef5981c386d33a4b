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
    top_ids_before: torch.Tensor
    top_probs_before: torch.Tensor
    top_ids_after: torch.Tensor
    top_probs_after: torch.Tensor
    token_strs: dict[int, str]

    @property
    def prob_drop(self) -> torch.Tensor:
        """``probs_before - probs_after`` per position."""
        return self.probs_before - self.probs_after


def _replacements(
    adapter: ModelAdapter, sites: list[Site], cache: dict, mode: str, reference: Any, seq: int
) -> dict[Site, torch.Tensor]:
    """What replaces each site, broadcastable to ``activation[site.where()]``."""
    if mode == "zero":
        return {site: torch.zeros(()) for site in sites}
    names = sorted({site.hook for site in sites})
    if reference is None:
        if mode == "resample":
            raise ValueError("mode='resample' needs reference=..., a second text with as many tokens")
        sources = [cache]
    else:
        texts = [reference] if isinstance(reference, str) else list(reference)
        if not texts:
            raise ValueError("reference= is empty; pass a text or a list of texts")
        if mode == "resample" and len(texts) != 1:
            raise ValueError(f"mode='resample' takes one reference text, got {len(texts)}")
        sources = []
        for text in texts:
            tokens = adapter.to_tokens(text)
            if mode == "resample" and tokens.shape[-1] != seq:
                raise ValueError(
                    f"the reference text is {tokens.shape[-1]} tokens {adapter.to_str_tokens(tokens[0])}, but "
                    f"the text is {seq}; resampling swaps position by position, so they must be equal"
                )
            sources.append(adapter.run_with_cache(tokens, names)[1])
    out = {}
    for site in sites:
        acts = torch.cat([source[site.hook] for source in sources], dim=1)  # every position of every text
        if mode == "resample":
            out[site] = acts[site.where()]
        elif site.kind == "resid":
            out[site] = acts.mean(dim=1)[0]
        else:
            out[site] = acts.mean(dim=1, keepdim=True)[site.where()]
    return out


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

    Examples
    --------
    >>> abl = analysis.ablate(model, "a b c d a b c", ["L1H3"], "zero", positions=-1, target=" d")
    >>> abl.components, abl.target_strs
    (('L1H3',), [' d'])
    """
    adapter = as_adapter(model)
    check_choice(mode, "mode", MODES)
    k = check_k(k, adapter.d_vocab)
    tokens = adapter.to_tokens(text)
    seq = tokens.shape[-1]
    items = [components] if isinstance(components, str) else list(components)
    if not items:
        raise ValueError("no components given; name at least one, e.g. ['L1H3']")
    sites = list(dict.fromkeys(parse_component(adapter, c, seq) for c in items))
    if positions is None:
        where = list(range(seq))
    else:
        where = [positions] if isinstance(positions, int) else list(positions)
        if not where:
            raise ValueError("positions is empty; give at least one position, or leave it out for all")
    where = [check_position(int(p), seq) for p in where]
    names = sorted({site.hook for site in sites})
    before, cache = adapter.run_with_cache(tokens, names)
    values = _replacements(adapter, sites, cache, mode, reference, seq)

    def hook_for(name: str):
        here = [site for site in sites if site.hook == name]

        def hook(act: torch.Tensor) -> torch.Tensor:
            act = act.clone()
            for site in here:
                act[site.where()] = values[site].to(act.device, act.dtype)
            return act

        return hook

    after = adapter.run_with_replacing_hooks(tokens, {name: hook_for(name) for name in names})
    before, after = before[0, where], after[0, where]
    targets = _targets(adapter, tokens[0], where, before, target)
    rows = torch.arange(len(where))
    probs_before, probs_after = before.softmax(-1), after.softmax(-1)
    top_before, top_after = probs_before.topk(k, dim=-1), probs_after.topk(k, dim=-1)
    ids = torch.cat([top_before.indices.reshape(-1), top_after.indices.reshape(-1), targets]).unique()
    token_strs = dict(zip(ids.tolist(), adapter.to_str_tokens(ids)))
    return Ablation(
        tokens=tokens[0],
        str_tokens=adapter.to_str_tokens(tokens[0]),
        components=tuple(site.label for site in sites),
        mode=mode,
        positions=torch.tensor(where),
        targets=targets,
        target_strs=[token_strs[int(t)] for t in targets],
        logits_before=before[rows, targets],
        logits_after=after[rows, targets],
        probs_before=probs_before[rows, targets],
        probs_after=probs_after[rows, targets],
        top_ids_before=top_before.indices,
        top_probs_before=top_before.values,
        top_ids_after=top_after.indices,
        top_probs_after=top_after.values,
        token_strs=token_strs,
    )


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
