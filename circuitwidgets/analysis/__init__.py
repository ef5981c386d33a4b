"""The numbers behind every view: pure torch, no widgets.

Each function takes a supported model (a TransformerLens ``HookedTransformer`` or
``TransformerBridge``, or a :class:`~circuitwidgets.ModelAdapter`) and returns a small frozen
dataclass of CPU tensors plus the labels a view needs.

On a text (one forward pass):

* :func:`run_text` -- run once, keeping what the analyses below need (a :class:`TextRun`)
* :func:`attention_patterns` -- every head's pattern, its entropy and its attention to BOS
* :func:`attention_by_layer` -- the same, streamed layer by layer for texts too long to hold
* :func:`patterns_on_demand` -- every head's pattern rebuilt when asked (full, block, row,
  column) from each layer's queries and keys: memory linear in the text's length
* :func:`array_patterns` -- the same interface (a subclass) over patterns given as arrays (CircuitsVis's
  shapes), no model: what ``cw.attention_heads`` draws
* :func:`logit_lens` -- top-k, target probability/logit/rank and KL per (layer, position)
  (:func:`join_lens` joins lenses computed a few positions at a time)
* :func:`logit_attribution` -- each head's and MLP's direct contribution to one logit
* :func:`flow` -- one prediction as a graph: heads and the memory values they recalled, MLPs
  and their neurons, each read as words, with contributions that add up to the logit
* :func:`ln_filter` -- what each layer norm raises and lowers in the word reading, against
  random vectors as the control (VISIT's "layer norm as a filter")
* :func:`text_head_scores` (:func:`all_text_head_scores` for every kind) -- previous-token /
  duplicate-token / induction scores on the text
* :func:`next_token_probabilities` -- the probability the model gave each actual next token
* :func:`path_expansion` -- one logit split into paths (direct, each head, each pair of heads)
  with the attention patterns frozen

Interventions (the model run again with parts of it changed):

* :func:`ablate` -- switch heads, attention layers, MLPs or residual positions off (zero, mean,
  resample) and compare the prediction before and after (:class:`Ablator`: one text, many ways)
* :func:`ablated_head_scores` -- head scores again with one head switched off (K-composition, causally)
* :func:`patching` -- exact activation patching grids (TransformerLens's), batched
* :func:`attribution_patching` -- the same grids estimated by activation difference × gradient

Over many texts:

* :func:`knowledge_neurons` -- the MLP neurons whose integrated-gradients attribution to a
  prediction is highest (Dai et al.'s knowledge attribution)
* :func:`always_on_neurons` -- MLP neurons among their layer's most activated on almost every
  token (VISIT's regularization neurons)

On repeated random tokens ``BOS, t_1..t_n, t_1..t_n``:

* :func:`repeated_tokens` -- the sequences
* :func:`head_scores` -- previous-token / duplicate-token / induction score of every head
* :func:`all_head_scores` -- all three kinds from one forward pass

From the weights alone:

* :func:`ov_spectrum`, :func:`copying_scores` -- OV-circuit eigenvalues and copying scores
* :func:`ov_token_map` -- the tokens a head promotes for given source tokens
* :func:`ov_sources_for` -- the source tokens that make a head promote a given token
* :func:`qk_token_map` -- the key tokens a head attends to for given query tokens
* :func:`composition_scores` -- Q-, K-, V-composition between heads of different layers
* :func:`head_composition` -- all three kinds with the random baseline (:func:`composition_baseline`)
  subtracted

Share one forward pass between analyses of the same text:

>>> from circuitwidgets import analysis
>>> run = analysis.run_text(model, "a b c d a b c", needs=("logit_lens", "attribution"))
>>> lens = analysis.logit_lens(model, run)
>>> attr = analysis.logit_attribution(model, run, position=-1)
>>> lens.str_tokens[-1], attr.target_str        # at the last " c", the model predicts " d"
(' c', ' d')
"""

from ._forward import NEEDS, TextRun, run_text
from .ablation import MODES, Ablation, Ablator, ablate
from .attention import AttentionResult, AttentionSummary, attention_by_layer, attention_patterns
from .on_demand import OnDemandPatterns, patterns_on_demand
from .array_patterns import ArrayPatterns, array_patterns, row_sum_tolerance
from .attribution import Attribution, Component, logit_attribution
from .composition import (
    COMPOSITION_KINDS, CompositionEdge, HeadComposition, composition_baseline, composition_scores, head_composition,
)
from .heads import (
    KINDS, HeadScores, ablated_head_scores, all_head_scores, all_text_head_scores, head_scores, repeated_tokens,
    text_head_scores,
)
from .logit_lens import LogitLensResult, join_lens, logit_lens
from ._metric import METRICS
from .attribution_patching import attribution_patching
from .flow import FlowEdge, FlowNode, FlowResult, flow
from .ln_filter import LNFilterResult, NormFilter, ln_filter
from .neurons import AlwaysOnNeurons, KnowledgeNeurons, always_on_neurons, knowledge_neurons
from .next_token import NextTokenProbabilities, next_token_probabilities
from .paths import ATTENTIONS, ORDERS, PathExpansion, path_expansion
from .patching import GRIDS, PatchingResult, patching
from .ov import CIRCUITS, OVSpectrum, TokenMap, copying_scores, ov_sources_for, ov_spectrum, ov_token_map, qk_token_map

__all__ = [
    "Ablation",
    "Ablator",
    "AlwaysOnNeurons",
    "AttentionResult",
    "AttentionSummary",
    "Attribution",
    "CIRCUITS",
    "COMPOSITION_KINDS",
    "Component",
    "HeadComposition",
    "GRIDS",
    "FlowEdge",
    "FlowNode",
    "FlowResult",
    "HeadScores",
    "KINDS",
    "KnowledgeNeurons",
    "LNFilterResult",
    "LogitLensResult",
    "METRICS",
    "MODES",
    "NEEDS",
    "NextTokenProbabilities",
    "NormFilter",
    "ORDERS",
    "ATTENTIONS",
    "OVSpectrum",
    "PathExpansion",
    "PatchingResult",
    "TextRun",
    "TokenMap",
    "ablate",
    "ablated_head_scores",
    "all_head_scores",
    "always_on_neurons",
    "attention_by_layer",
    "attention_patterns",
    "OnDemandPatterns",
    "patterns_on_demand",
    "ArrayPatterns",
    "array_patterns",
    "row_sum_tolerance",
    "composition_baseline",
    "CompositionEdge",
    "attribution_patching",
    "composition_scores",
    "copying_scores",
    "head_composition",
    "flow",
    "head_scores",
    "join_lens",
    "knowledge_neurons",
    "ln_filter",
    "logit_attribution",
    "logit_lens",
    "next_token_probabilities",
    "ov_sources_for",
    "ov_spectrum",
    "ov_token_map",
    "path_expansion",
    "patching",
    "qk_token_map",
    "repeated_tokens",
    "run_text",
    "text_head_scores",
    "all_text_head_scores",
]
