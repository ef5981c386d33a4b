"""FlowGraph: one prediction as a graph of what wrote it, down to memory values and neurons.

The graph is :func:`circuitwidgets.analysis.flow` (VISIT, Katz & Belinkov): the residual
stream from left to right, layer by layer; in each layer the heads that wrote the target most,
each fed by the memory values it recalled (``attention · v_s · W_O`` of an earlier token
``s``), the attention output, the MLP's most active neurons and the MLP output. Every node is
coloured by the rank its vocabulary projection gives the target (the darker, the nearer the
top), every edge is as wide as its score (attention weight, neuron coefficient, or the norm of
the part written), and a node's hover card lists its top tokens and the target's probability
and rank.

In the browser: a threshold slider hides the nodes whose direct contribution to the target's
logit is under that share of the largest (no round trip to the kernel); clicking a head
selects it in the shared :class:`~circuitwidgets.Selection` (a linked AttentionExplorer shows
it), clicking a memory value selects its head with the query and key locked on the explained
position and the recalled token, clicking a token of the strip explains that position instead
(a request to the kernel, which reuses the forward pass), and a layer's title collapses it to
one node (or expands it again). Models with more than :data:`COLLAPSE_AT` layers drawn start
collapsed.

**Knowledge neurons** (Dai et al.; :func:`~circuitwidgets.analysis.knowledge_neurons`) are
computed when asked -- the view's button, or :meth:`FlowGraph.find_knowledge_neurons` -- for
the prediction drawn (``steps`` batched passes per layer), and listed ranked beside the graph:
hovering or clicking a row highlights its neuron's node, hovering a neuron node highlights its
row, and a neuron the graph's pruning left out (or the threshold or a collapsed layer hides)
is marked as such. A new position, target or text clears the list.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import traitlets

from ..analysis import AlwaysOnNeurons, FlowResult, KnowledgeNeurons, TextRun, flow, knowledge_neurons, run_text
from ..analysis.flow import HEADS, K, MEMORY, NEURONS, _check_layers
from ..checks import check_position
from ._base import InvalidValue
from ._channel import AnswersRequests, handles
from ._payloads import FlowGraphState, KnowledgeState
from ._transport import Encoded
from .selection import LinkedView, Selection

__all__ = ["FlowGraph", "COLLAPSE_AT", "KNOWLEDGE_STEPS", "KNOWLEDGE_TOP"]

#: A graph of more layers than this starts with every layer collapsed to one node.
COLLAPSE_AT = 12
#: The knowledge neurons' integration steps and list length when the browser asks.
KNOWLEDGE_STEPS, KNOWLEDGE_TOP = 20, 10


def _always_on_ids(neurons: Optional[AlwaysOnNeurons]) -> frozenset[str]:
    """The flow graph's ids (``"L3N17"``) of the always-on neurons found."""
    if neurons is None:
        return frozenset()
    if not isinstance(neurons, AlwaysOnNeurons):
        raise TypeError(f"always_on must be the result of analysis.always_on_neurons, got {type(neurons).__name__}")
    return frozenset(f"L{int(l)}N{int(n)}" for l, n in zip(neurons.layers, neurons.neurons))


class FlowGraph(AnswersRequests, LinkedView):
    """The flow graph of ``model``'s prediction at ``position`` of ``text`` (see the module docs).

    Parameters
    ----------
    model:
        {MODELS}. Models flow cannot split (mixtures of experts,
        norms after the MLP) raise ``NotImplementedError`` naming what is missing.
    text:
        The text. An empty text or one longer than the model's context raises ``ValueError``.
    position:
        The position whose next-token prediction is explained (negative counts from the end).
    target:
        A string that is exactly one token, or an id; ``None`` (default) explains the actual
        next token, or at the last position the model's top prediction.
    layers:
        Draw only these layers (VISIT's ``layers_to_check``): a ``(start, stop)`` pair or a
        ``range``, half-open, within the model's.
    heads, memory, neurons, k:
        The pruning of :func:`~circuitwidgets.analysis.flow`: heads per layer, memory values
        per head, neurons per MLP, top tokens per node.
    threshold:
        Hide nodes whose ``|contribution|`` is under this share (0..1) of the largest.
    always_on:
        An :func:`~circuitwidgets.analysis.always_on_neurons` result: those neurons are marked.
    selection, layer, head:
        The shared :class:`~circuitwidgets.Selection` and the head to select first.

    Traits
    ------
    text : str
        Setting it re-runs the model and explains its last position.
    position : int
        The position explained (0..seq-1); setting it redraws from the same forward pass.
    target : str, int or None
        The token explained (one-token string or id), or None for the default.
    layers : list[int]
        ``[start, stop]``: the layers drawn.
    threshold : float
        The browser's pruning slider (0..1), shared both ways.
    layer, head : int
        The selected head, kept equal to ``selection.layer`` / ``selection.head``.
    error : str
        Why the last input is not shown ('' when it is); the last good graph stays (and the
        last knowledge neurons).
    tokens, model_name, n_layers, n_heads, d_vocab, collapse_at, busy
        Read-only: the text's display strings, the model's name and sizes, how many layers
        start collapsed, the progress line.

    Examples
    --------
    >>> w = cw.FlowGraph(model, "a b c d a b c", target=" d")   # in a notebook, `w` draws it
    >>> w.result.contributors()[0].id                            # the induction head wrote " d"
    'L1H1'
    >>> w.position = 3                                           # the same target, at position 3
    >>> w.result.position, w.result.target_str
    (3, ' d')
    >>> small = cw.FlowGraph(cw.load_pocket_model("small-4l"), "def f(x):\\n    return x")
    >>> kn = small.find_knowledge_neurons(steps=4, top=3)       # listed beside the graph
    >>> len(kn.layers), small.knowledge is kn
    (3, True)
    """

    _bundle = "flow_graph"
    _linked = ("layer", "head")
    _settable = ("text", "position", "target", "layers", "threshold")

    layer = traitlets.Int(0, help="The selected layer.")
    head = traitlets.Int(0, help="The selected head.")

    text = traitlets.Unicode(help="The input text; setting it re-runs the model.").tag(sync=True)
    position = traitlets.Int(0, help="The position whose prediction is explained.").tag(sync=True)
    target = traitlets.Union(
        [traitlets.Int(), traitlets.Unicode()], allow_none=True, default_value=None,
        help="The target token (one-token string or id), or None for the default.",
    ).tag(sync=True)
    layers = traitlets.List(traitlets.Int(), help="[start, stop): the layers drawn.").tag(sync=True)
    threshold = traitlets.Float(0.0, help="Hide nodes under this share of the largest contribution.").tag(sync=True)

    model_name = traitlets.Unicode().tag(sync=True)
    n_layers = traitlets.Int().tag(sync=True)
    n_heads = traitlets.Int().tag(sync=True)
    d_vocab = traitlets.Int().tag(sync=True)
    collapse_at = traitlets.Int(COLLAPSE_AT).tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode(), help="Display strings of the text's tokens.").tag(sync=True)
    #: The graph drawn (a FlowGraphState: the FlowResult and the always-on neurons' ids).
    _graph = Encoded(FlowGraphState).tag(sync=True)
    #: The knowledge neurons listed (a KnowledgeState), or None before they are asked for.
    _knowledge = Encoded(KnowledgeState).tag(sync=True)
    busy = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        model: Any,
        text: str,
        *,
        position: int = -1,
        target: Union[str, int, None] = None,
        layers: Optional[Union[range, Sequence[int]]] = None,
        heads: Optional[int] = HEADS,
        memory: Optional[int] = MEMORY,
        neurons: Optional[int] = NEURONS,
        k: int = K,
        threshold: float = 0.0,
        always_on: Optional[AlwaysOnNeurons] = None,
        selection: Selection | None = None,
        layer: int | None = None,
        head: int | None = None,
        **kwargs: Any,
    ):
        adapter = self._prepare(model, kwargs, selection=selection)
        self._pruning = dict(heads=heads, memory=memory, neurons=neurons, k=k)
        self._marked = _always_on_ids(always_on)
        self._ready = False
        self._knowledge_of: Optional[tuple] = None
        layers = _check_layers(layers, adapter.n_layers)
        (threshold,) = self._validated(threshold=threshold)
        run = run_text(adapter, text, needs=("flow",))  # a bad text raises here
        graph = self._compute(run, position, target, layers)  # bad position/target/pruning too
        super().__init__(
            text=text, position=graph.position, target=target, layers=[layers.start, layers.stop],
            threshold=threshold, model_name=adapter.name, n_layers=adapter.n_layers, n_heads=adapter.n_heads,
            d_vocab=adapter.d_vocab,
            tokens=list(run.str_tokens), **kwargs,
        )
        self._run = run
        self._start_linking(layer=layer, head=head)
        self._show(graph)
        self._ready = True
        self._answer_requests()

    @property
    def result(self) -> FlowResult:
        """The :class:`~circuitwidgets.analysis.FlowResult` drawn (the last good one).

        Examples
        --------
        >>> w = cw.FlowGraph(model, "a b c d a b c", target=" d")
        >>> top = w.result.memory_values("L1H1")[0]   # the value the induction head recalled
        >>> top.source, w.tokens[top.source]
        (4, ' d')
        """
        return self._graph.graph

    @property
    def _target_id(self) -> Optional[int]:
        """The picked target's id, or None for the default (as LogitLens's)."""
        return None if self.target is None else self._adapter.to_single_token(self.target)

    # ---- validation -----------------------------------------------------------------------------

    @traitlets.validate("position")
    def _valid_position(self, proposal):
        return self._check_index("position", proposal["value"], len(self.tokens) or 1 << 30)

    @traitlets.validate("target")
    def _valid_target(self, proposal):
        if proposal["value"] is not None:
            self._trait_check(self._adapter.to_single_token, proposal["value"])
        return proposal["value"]

    @traitlets.validate("layers")
    def _valid_layers(self, proposal):
        value = list(proposal["value"])
        try:
            checked = _check_layers(value, self._adapter.n_layers)
        except (TypeError, ValueError) as exc:
            raise InvalidValue(f"layers {value!r}: {exc}") from None
        return [checked.start, checked.stop]

    @traitlets.validate("threshold")
    def _valid_threshold(self, proposal):
        value = proposal["value"]
        if not 0.0 <= value <= 1.0:
            raise InvalidValue(f"threshold {value!r} is out of range; give a share from 0 to 1")
        return value

    # ---- computing and showing -----------------------------------------------------------------

    def _compute(self, run: TextRun, position: int, target: Any, layers: range) -> FlowResult:
        return flow(self._adapter, run, position, target, layers=layers, **self._pruning)

    def _show(self, graph: FlowResult) -> None:
        listed = self._knowledge
        # The knowledge neurons stay only while they explain the same prediction.
        if listed is not None and self._knowledge_of != (self._run, graph.position, graph.target):
            listed = None
        self._set(_graph=FlowGraphState(graph, self._marked), _knowledge=listed, error="")

    @property
    def knowledge(self) -> Optional[KnowledgeNeurons]:
        """The :class:`~circuitwidgets.analysis.KnowledgeNeurons` listed (None until asked for,
        and again after the graph moves to another prediction).

        >>> w = cw.FlowGraph(cw.load_pocket_model("small-4l"), "x = 1")
        >>> w.knowledge is None
        True
        """
        return None if self._knowledge is None else self._knowledge.neurons

    def find_knowledge_neurons(self, steps: int = KNOWLEDGE_STEPS, top: int = KNOWLEDGE_TOP) -> KnowledgeNeurons:
        """Rank the MLP neurons by their integrated-gradients attribution to the prediction
        drawn (:func:`~circuitwidgets.analysis.knowledge_neurons` at the graph's position and
        target: ``steps`` batched passes per layer), list them in the view and return them.
        Bad ``steps``/``top`` and an attention-only model raise ``ValueError``; what was listed
        stays.

        >>> w = cw.FlowGraph(cw.load_pocket_model("small-4l"), "for i in range(3):")
        >>> kn = w.find_knowledge_neurons(steps=2, top=4)
        >>> kn.position == w.result.position and kn.target == w.result.target
        True
        """
        graph, n_layers = self.result, self._adapter.n_layers
        with self._busy(f"Knowledge neurons: {steps} steps × {n_layers} layers…") as show:
            found = knowledge_neurons(
                self._adapter, self._run.text, graph.target, position=graph.position, steps=steps, top=top,
                on_layer=lambda layer: show(f"Knowledge neurons: layer {layer + 1} of {n_layers} done ({steps} steps each)…"),
            )
        self._knowledge_of = (self._run, graph.position, graph.target)
        self._set(_knowledge=KnowledgeState(found))
        return found

    def _redraw(self, **changes: Any) -> bool:
        """Explain the graph with ``changes`` (``run``, ``position``, ``target``, ``layers``)
        applied; on a ``ValueError`` show it in ``error`` and keep the last good graph."""
        now = dict(run=self._run, position=self.position, target=self.target, layers=range(*self.layers))
        now.update(changes)
        with self._busy("Computing the flow graph…"):
            graph = self._attempt(lambda: self._compute(**now))
        if graph is None:
            return False
        self._run = now["run"]
        self._ready = False  # the traits below describe what is now drawn: no second graph
        try:
            self._set(tokens=list(now["run"].str_tokens), position=graph.position)
        finally:
            self._ready = True
        self._show(graph)
        return True

    @traitlets.observe("text", "position", "target", "layers")
    def _setting_changed(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        name, new = change["name"], change["new"]
        if name == "text":
            with self._busy("Running the model…"):
                run = self._attempt(lambda: run_text(self._adapter, new, needs=("flow",)))
            if run is not None:
                self._redraw(run=run, position=run.seq_len - 1)
        elif name == "layers":
            self._redraw(layers=range(*new))
        else:
            self._redraw(**{name: new})

    # ---- the browser asks ------------------------------------------------------------------------

    @handles("knowledge")
    def _knowledge_request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``{}``: the view's button -- find the knowledge neurons of the prediction drawn
        (:data:`KNOWLEDGE_STEPS` steps, :data:`KNOWLEDGE_TOP` neurons); they arrive in
        ``_knowledge``. A refusal (an attention-only model) goes back as the answer's error."""
        self.find_knowledge_neurons()
        return {}

    @handles("position")
    def _position_request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``{"position"}``: explain that position (a click on the token strip). An index
        outside the text shows in ``error``; the graph drawn stays."""
        position = payload.get("position")
        try:
            position = check_position(position, self._run.seq_len)
        except (TypeError, ValueError) as exc:
            self._set(error=str(exc))
            return {}
        self._ready = False
        try:
            self.position = position
        finally:
            self._ready = True
        self._redraw(position=position)
        return {}
