"""One forward pass per text, keeping only the activations the analyses ask for.

Every analysis of a text (``attention_patterns``, ``logit_lens``, ``logit_attribution``, ...)
accepts either the text itself or a :class:`TextRun` made by :func:`run_text`. Pass a run when
you want several analyses of the same text from a single forward pass::

    run = run_text(model, "When Mary and John went to the store", needs=("logit_lens", "attribution"))
    lens = logit_lens(model, run)
    attr = logit_attribution(model, run, position=-1)

This module is the one place that knows which hooks each analysis reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Union

import torch

from ..model import ModelAdapter, as_adapter, hook_name

#: The analyses a :class:`TextRun` can serve, by name.
NEEDS = ("attention", "logit_lens", "attribution", "paths", "flow")
#: What :func:`run_text` caches when not told: everything but the flow graph's extra
#: activations (every value vector and MLP neuron), which only :func:`flow` reads.
DEFAULT_NEEDS = ("attention", "logit_lens", "attribution", "paths")


def readout_hooks(n_layers: int) -> list[str]:
    """The logit lens's readouts: the residual stream before each layer, then after the last."""
    return [hook_name("resid_pre", layer) for layer in range(n_layers)] + [
        hook_name("resid_post", n_layers - 1)
    ]


def written_hooks(adapter: ModelAdapter) -> list[str]:
    """What writes to the residual stream besides the heads: the embeddings (read as layer 0's
    input, which is what the model adds to the stream whatever its family does to the token
    embedding -- Gemma's scale, BLOOM's embedding norm), the positions, and each MLP."""
    names = [hook_name("resid_pre", 0)]
    if adapter.weights.W_pos is not None:
        names.append(hook_name("pos_embed"))
    if not adapter.attn_only:
        names += [hook_name("mlp_out", layer) for layer in range(adapter.n_layers)]
    return names


def hooks_for(adapter: ModelAdapter, need: str, seq: int | None = None) -> list[str]:
    """The hook names the analysis ``need`` (one of :data:`NEEDS`) reads on a ``seq``-token
    text (``seq`` matters to ``"flow"`` only: see :func:`attention_row_hooks`)."""
    layers = range(adapter.n_layers)
    last = adapter.n_layers - 1
    if need == "attention":
        return [hook_name("pattern", layer) for layer in layers]
    if need == "logit_lens":
        return readout_hooks(adapter.n_layers)
    if need == "attribution":
        return [hook_name("resid_post", last)] + [hook_name("z", layer) for layer in layers] + written_hooks(adapter)
    if need == "paths":
        # The path expansion freezes the patterns and each layer's input-norm scale (read off
        # resid_pre), and takes the embeddings, MLP outputs and final stream as they were.
        return hooks_for(adapter, "attention") + readout_hooks(adapter.n_layers) + written_hooks(adapter)
    if need == "flow":
        names = hooks_for(adapter, "attribution") + [hook_name("resid_pre", layer) for layer in layers]
        names += [hook_name(kind, layer) for layer in layers for kind in ("v", "resid_post")]
        names += attention_row_hooks(adapter, seq)
        if not adapter.attn_only:
            names += [hook_name("mlp_post", layer) for layer in layers]
            if not adapter.parallel_attn_mlp:
                names += [hook_name("resid_mid", layer) for layer in layers]
        return sorted(set(names))
    raise ValueError(f"unknown analysis {need!r}; a text run can serve {list(NEEDS)}")


def attention_row_hooks(adapter: ModelAdapter, seq: int | None) -> list[str]:
    """What gives :func:`~circuitwidgets.analysis.flow` one query's attention row of every
    head: each layer's queries and keys (after the rotation, on rotary models), from which
    :attr:`~circuitwidgets.model.ModelAdapter.qk_recipe` rebuilds the row -- ``seq x d_head``
    numbers per head, so a long text does not keep every head's ``seq x seq`` pattern; or,
    where the recipe cannot rebuild patterns (ALiBi, a window longer than its probe), the
    patterns themselves."""
    recipe = adapter.qk_recipe
    kinds = ("pattern",) if recipe.why_not(seq or 0) else (recipe.q_kind, recipe.k_kind)
    return [hook_name(kind, layer) for layer in range(adapter.n_layers) for kind in kinds]


@dataclass(frozen=True, eq=False)
class TextRun:
    """The activations of one forward pass over one text.

    Attributes
    ----------
    model:
        The model that ran (an analysis given a run checks it is asked about the same model).
    text:
        The text as given.
    tokens:
        ``LongTensor[seq]``, with the model's BOS convention.
    str_tokens:
        One display string per token.
    needs:
        The analyses this run can serve (a subset of :data:`NEEDS`).
    cache:
        Hook name -> float32 CPU activation with the batch dimension dropped, e.g.
        ``cache["blocks.0.attn.hook_pattern"]`` is ``[n_heads, seq, seq]``.

    Examples
    --------
    >>> run = analysis.run_text(model, "a b c a b c", needs=("attention",))
    >>> run.str_tokens[:3], run.seq_len, sorted(run.needs)
    (['<|endoftext|>', 'a', ' b'], 7, ['attention'])
    """

    model: Any
    text: str
    tokens: torch.Tensor
    str_tokens: list[str]
    needs: frozenset[str]
    cache: Mapping[str, torch.Tensor]

    @property
    def seq_len(self) -> int:
        return int(self.tokens.shape[0])

    def __repr__(self) -> str:
        return f"TextRun({self.seq_len} tokens, serves {sorted(self.needs)})"


def run_text(model: Any, text: str, needs: Iterable[str] = DEFAULT_NEEDS) -> TextRun:
    """Run ``model`` once on ``text``, caching what the analyses in ``needs`` read.

    ``needs`` is any of ``"attention"`` (all attention patterns), ``"logit_lens"`` (the residual
    stream before each layer and after the last), ``"attribution"`` (embeddings, each head's
    ``z``, each MLP's output, the final residual stream) and ``"paths"`` (what
    :func:`path_expansion` freezes: patterns, the stream before each layer, embeddings, MLP
    outputs, the final stream); ``"flow"`` (what :func:`flow` reads: the attribution's
    activations plus every layer's residual streams, queries and keys (the attention patterns
    themselves where they cannot be rebuilt from them: :func:`attention_row_hooks`), value
    vectors and MLP neurons) only when asked for. Raises ``ValueError`` for an empty
    text or one longer than the model's context.

    Examples
    --------
    >>> run = analysis.run_text(model, "a b c d a b c")     # one forward pass ...
    >>> att = analysis.attention_patterns(model, run)       # ... shared by three analyses
    >>> lens = analysis.logit_lens(model, run)
    >>> attr = analysis.logit_attribution(model, run, target=" d")
    >>> att.patterns.shape[-1] == lens.tokens.shape[0] == 8
    True
    """
    adapter = as_adapter(model)
    wanted = frozenset(needs)
    for need in wanted:
        if need not in NEEDS:
            raise ValueError(f"unknown analysis {need!r}; a text run can serve {list(NEEDS)}")
    tokens = adapter.to_tokens(text)
    names = sorted({name for need in wanted for name in hooks_for(adapter, need, int(tokens.shape[-1]))})
    try:
        _, cache = adapter.run_with_cache(tokens, names)
    except (ValueError, IndexError) as error:  # raised inside the model's own code by a hook
        raise NotImplementedError(
            f"this model cannot run with the hooks {'/'.join(sorted(wanted))} needs "
            f"({type(error).__name__} inside the model: {error}); TransformerLens cannot hook "
            "this architecture that way, so circuitwidgets cannot split its blocks for it"
        ) from error
    return TextRun(
        model=adapter.model,
        text=text,
        tokens=tokens[0],
        str_tokens=adapter.to_str_tokens(tokens[0]),
        needs=wanted,
        cache={name: act[0] for name, act in cache.items()},
    )


def resolve_run(model: Any, text: Union[str, TextRun], need: str) -> tuple[ModelAdapter, TextRun]:
    """The adapter and a run that serves ``need``: ``text``'s own run, or a fresh one."""
    adapter = as_adapter(model)
    if isinstance(text, TextRun):
        if text.model is not adapter.model:
            raise ValueError("this TextRun was made with a different model; run the text again")
        if need not in text.needs:
            raise ValueError(
                f"this TextRun serves {sorted(text.needs)}, not {need!r}; make it with "
                f"run_text(model, text, needs=[..., {need!r}])"
            )
        return adapter, text
    return adapter, run_text(adapter, text, needs=(need,))
