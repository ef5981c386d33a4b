"""Path expansion: the terms add up to the model's own logit, match a path-by-path brute force,
and find the circuits hand-built models contain and the pocket model really uses."""

from __future__ import annotations

import itertools

import pytest
import torch

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.model import ModelAdapter, hook_name

from conftest import make_random_model, model_kinds
from hand_built_models import COPY_LOGIT, copy_through_induction_model
from test_analysis_composition import ROTARY_GQA

TEXT = "def add(a, b):\n    return a + b\nclass Point:"

#: The models the sum test runs on: (name, overrides of conftest's random model).
FAMILIES = {
    "attn-only-2l": dict(attn_only=True),
    "attn-only-3l": dict(attn_only=True, n_layers=3),
    "attn-only-rotary-rms-gqa": dict(attn_only=True, **ROTARY_GQA),
    "mlp-2l": dict(),
}


@pytest.fixture(scope="module", params=[(kind, family) for kind in model_kinds() for family in FAMILIES], ids=str)
def family_model(request, tiny_tokenizer):
    kind, family = request.param
    torch.manual_seed(0)
    return make_random_model(kind, tiny_tokenizer, **FAMILIES[family])


def model_logit(model, text: str, position: int, target: int) -> float:
    """The model's own logit, from a plain forward pass."""
    adapter = ModelAdapter(model)
    return float(adapter.forward_logits(adapter.to_tokens(text))[0, position, target])


@pytest.mark.parametrize("position", [3, -1])
def test_terms_add_up_to_the_models_logit(family_model, position):
    paths = analysis.path_expansion(family_model, TEXT, position=position)
    labels, values = paths.terms()
    expected = model_logit(family_model, TEXT, position, paths.target)
    assert float(values.sum()) == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert float(paths.logit) == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert len(labels) == len(values) and labels[0] == "direct" and labels[-1] == "biases"
    if family_model.cfg.n_layers == 2:  # no path goes through 3 heads
        assert abs(float(paths.higher)) < 1e-4 * max(1.0, abs(expected))
    assert (paths.mlp is None) == bool(family_model.cfg.attn_only)


def test_order_one_puts_every_pair_into_the_higher_term(random_model):
    two = analysis.path_expansion(random_model, TEXT, position=-2)
    one = analysis.path_expansion(random_model, TEXT, position=-2, order=1)
    assert one.pairs is None and one.top_pairs.shape == (0, 4) and one.pair_labels() == []
    torch.testing.assert_close(one.heads, two.heads)
    torch.testing.assert_close(one.higher, two.higher + two.pairs.sum(), rtol=1e-4, atol=1e-5)
    labels, values = one.terms()
    assert "paths through 2+ heads" in labels
    assert float(values.sum()) == pytest.approx(float(one.logit), rel=1e-4, abs=1e-5)


def test_top_pairs_are_the_largest_and_the_rest_is_summed(random_model):
    paths = analysis.path_expansion(random_model, TEXT, position=-1, top=5)
    named = paths.pairs[tuple(paths.top_pairs.T)]
    assert paths.top_pairs.shape == (5, 4)
    assert (paths.top_pairs[:, 0] < paths.top_pairs[:, 2]).all()
    assert (named.abs().diff() <= 0).all()
    unnamed = paths.pairs.abs().clone()
    unnamed[tuple(paths.top_pairs.T)] = -1
    assert unnamed.max() <= named.abs().min()
    torch.testing.assert_close(paths.other_pairs + named.sum(), paths.pairs.sum())
    assert paths.pair_labels()[0] == "L{}H{} → L{}H{}".format(*paths.top_pairs[0].tolist())
    everything = analysis.path_expansion(random_model, TEXT, position=-1, top=1000)
    assert everything.top_pairs.shape == (16, 4) and float(everything.other_pairs) == 0.0


def test_each_paths_top_token_is_its_term_for_that_token(random_model):
    """The per-path readout (top tokens promoted) and the terms are the same numbers: asking
    for a path's top token as the target gives that path's top value as its term."""
    paths = analysis.path_expansion(random_model, TEXT, position=5, k=3)
    pair = tuple(paths.top_pairs[0].tolist())
    for term, token, value in [
        (lambda p: p.direct, paths.direct_top_ids[0], paths.direct_top_values[0]),
        (lambda p: p.heads[1, 2], paths.head_top_ids[1, 2, 0], paths.head_top_values[1, 2, 0]),
        (lambda p: p.pairs[pair], paths.pair_top_ids[0, 0], paths.pair_top_values[0, 0]),
    ]:
        again = analysis.path_expansion(random_model, TEXT, position=5, target=int(token))
        assert float(term(again)) == pytest.approx(float(value), rel=1e-4, abs=1e-5)
    assert (paths.head_top_values.diff(dim=-1) <= 0).all()
    assert all(int(i) in paths.token_strs for i in paths.pair_top_ids.reshape(-1))


# ---- a brute-force reference: every path as explicit matrix products ----------------------


def brute_force(model, text: str, position: int, target: int) -> dict:
    """Every path of ``model`` at ``position``, each as an explicit product of per-head maps on
    the whole flattened stream ``[n·d_model]``, from TransformerLens's own cache (patterns and
    the norms' ``hook_scale``) and weights; enumerated one path at a time."""
    a = ModelAdapter(model)
    w, L, H, d = a.weights, a.n_layers, a.n_heads, a.d_model
    n = position + 1
    tokens = a.to_tokens(text)[:, :n]
    names = {hook_name("embed"), hook_name("pos_embed"), "ln_final.hook_scale"}
    names |= {f"blocks.{l}.ln1.hook_scale" for l in range(L)} | {hook_name("pattern", l) for l in range(L)}
    names |= {hook_name("mlp_out", l) for l in range(L)}
    _, cache = model.run_with_cache(tokens, names_filter=lambda name: name in names)
    cache = {k: v[0].detach().double() for k, v in cache.items()}
    centre = torch.eye(d, dtype=torch.float64) - 1.0 / d

    def maps(l, h):
        ln = model.blocks[l].ln1
        core = centre @ torch.diag(ln.w.detach().double()) @ w.W_V[l, h].double() @ w.W_O[l, h].double()
        A, scale = cache[hook_name("pattern", l)][h], cache[f"blocks.{l}.ln1.hook_scale"].reshape(n)
        M = torch.zeros(n * d, n * d, dtype=torch.float64)
        for p, s in itertools.product(range(n), repeat=2):  # y[p] = Σ_s x[s] · M[s, p]
            M[s * d : (s + 1) * d, p * d : (p + 1) * d] = A[p, s] / scale[s] * core
        return M

    M = {(l, h): maps(l, h) for l in range(L) for h in range(H)}
    ln_f = model.ln_final
    readout = torch.zeros(n * d, dtype=torch.float64)
    final_scale = cache["ln_final.hook_scale"].reshape(n)[-1]
    readout[-d:] = centre @ (ln_f.w.detach().double() * w.W_U[:, target].double()) / final_scale

    def paths_from(vec, first_layer, route=()):
        """``{route: term}`` for every path from ``vec`` through heads of layers >= first_layer."""
        out = {route: float(vec @ readout)}
        for l in range(first_layer, L):
            for h in range(H):
                out.update(paths_from(vec @ M[(l, h)], l + 1, route + ((l, h),)))
        return out

    embeddings = (cache[hook_name("embed")] + cache[hook_name("pos_embed")]).reshape(-1)
    embedded = paths_from(embeddings, 0)
    biases = float(ln_f.b.detach().double() @ w.W_U[:, target].double() + w.b_U[target])
    mlp = []
    for l in range(L):
        ln = model.blocks[l].ln1
        head_constant = (ln.b.detach().double() @ w.W_V[l].double() + model.b_V[l].detach().double())
        constant = torch.einsum("he,hem->m", head_constant, w.W_O[l].double()) + w.b_O[l].double()
        biases += sum(paths_from(constant.repeat(n), l + 1).values())
        mlp.append(sum(paths_from(cache[hook_name("mlp_out", l)].reshape(-1), l + 1).values()))
    return {"embedded": embedded, "biases": biases, "mlp": mlp}


@pytest.mark.parametrize("kind", model_kinds())
def test_batched_terms_equal_the_brute_force_path_enumeration(tiny_tokenizer, kind):
    model = make_random_model(kind, tiny_tokenizer, n_layers=3, n_heads=2, d_model=16, d_head=8, d_mlp=32)
    text, position = "def add(a, b): return", 6
    paths = analysis.path_expansion(model, text, position=position, top=100)
    reference = brute_force(model, text, position, paths.target)
    embedded = reference["embedded"]
    close = dict(rel=1e-4, abs=1e-5)
    assert float(paths.direct) == pytest.approx(embedded[()], **close)
    for (l, h), value in [(route[0], v) for route, v in embedded.items() if len(route) == 1]:
        assert float(paths.heads[l, h]) == pytest.approx(value, **close), (l, h)
    pairs = {route: v for route, v in embedded.items() if len(route) == 2}
    assert len(pairs) == 12 and int((paths.pairs != 0).sum()) <= 12
    for ((l1, h1), (l2, h2)), value in pairs.items():
        assert float(paths.pairs[l1, h1, l2, h2]) == pytest.approx(value, **close)
    longer = [v for route, v in embedded.items() if len(route) >= 3]
    assert len(longer) == 8
    assert float(paths.higher) == pytest.approx(sum(longer), **close)
    assert float(paths.biases) == pytest.approx(reference["biases"], **close)
    torch.testing.assert_close(paths.mlp.double(), torch.tensor(reference["mlp"], dtype=torch.float64), rtol=1e-4, atol=1e-5)


# ---- circuits the expansion must find ------------------------------------------------------


def test_hand_built_virtual_head_is_the_largest_term(tiny_tokenizer):
    """copy_through_induction_model: the previous-token head L0H0 sets the induction head's
    pattern (K-composition, frozen here), the current-token head L0H1 hands the token to
    predict to the induction head's value (V-composition): that pair carries the logit."""
    model = copy_through_induction_model(tiny_tokenizer)
    adapter = ModelAdapter(model)
    text = "def add(x):\ndef add"
    tokens = adapter.to_tokens(text)[0].tolist()
    position = len(tokens) - 2  # the second "def": its first copy is unique, so is what followed
    assert tokens.count(tokens[position]) == 2 and tokens.index(tokens[position]) < position
    paths = analysis.path_expansion(model, text, position=position)
    labels, values = paths.terms()
    assert labels[int(values.abs().argmax())] == "L0H1 → L1H0"
    assert float(paths.pairs[0, 1, 1, 0]) == pytest.approx(COPY_LOGIT, rel=1e-3)
    assert paths.target == tokens[tokens.index(tokens[position]) + 1] == tokens[position + 1]
    assert float(paths.pairs[0, 0, 1, 0]) == 0.0          # previous-token head: no V path
    assert float(paths.heads[1, 0]) == 0.0                # the induction head alone reads nothing
    assert paths.token_strs[int(paths.pair_top_ids[0, 0])] == paths.target_str


@pytest.fixture(scope="module")
def pocket():
    return cw.load_pocket_model("attn-only-2l")


def test_pocket_second_occurrence_top_pair_is_a_current_token_head_into_an_induction_head(pocket):
    """What the shipped attn-only-2l really does at the second copy of a repeated line.

    Issue #21 expected the previous-token head L0H1 -> induction head path on top. It is not:
    with attention frozen, L0H1's part in induction is K-composition (it sets the induction
    heads' patterns, which are frozen here), and its value path is small and of either sign.
    The top *pair* is a current-token head (L0H0 or L0H2, ~0.98 attention to their own
    position, copying OV) into an induction head of layer 1: the induction head reads, at the
    position it attends to, the token to predict once more as those heads re-wrote it."""
    half = "x = compute(alpha, beta) + gamma * delta"
    run = analysis.run_text(pocket, half + "\n" + half, needs=("paths",))
    start = run.str_tokens.index("\n") + 2
    tops = []
    for position in range(start, run.seq_len - 1):
        paths = analysis.path_expansion(pocket, run, position=position)
        flat = int(paths.pairs.reshape(-1).argmax())
        tops.append(tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), paths.pairs.shape)))
        assert paths.target == int(run.tokens[position + 1])
    assert all(l1 == 0 and l2 == 1 for l1, _, l2, _ in tops)
    current_token = sum(h1 in (0, 2) for _, h1, _, _ in tops)
    previous_token = sum(h1 == 1 for _, h1, _, _ in tops)
    assert current_token >= 0.75 * len(tops), tops
    assert previous_token <= 0.1 * len(tops), tops


# ---- uniform attention ("weights only") ------------------------------------------------------


def test_uniform_attention_is_exact_on_a_model_whose_attention_is_uniform(tiny_tokenizer):
    """With W_Q = W_K = 0 every score is equal, so the model itself attends uniformly over the
    causal prefix: the "uniform" expansion must then equal the frozen one, term by term, and add
    up to the model's own logit. (On any other model it is a different computation; see below.)"""
    from hand_built_models import _attn_state

    from circuitwidgets.model import build_model

    V, d_model, d_head, g = tiny_tokenizer.vocab_size, 32, 8, torch.Generator().manual_seed(5)
    state = _attn_state(2, 2, d_model, d_head)
    for layer in range(2):
        for name in ("W_V", "W_O", "b_V"):
            key = f"blocks.{layer}.attn.{name}"
            state[key] = torch.randn(state[key].shape, generator=g) / 4
    state["embed.W_E"] = torch.randn(V, d_model, generator=g)
    state["pos_embed.W_pos"] = torch.randn(64, d_model, generator=g) / 4
    state["unembed.W_U"] = torch.randn(d_model, V, generator=g) / 4
    state["unembed.b_U"] = torch.zeros(V)
    cfg = dict(n_layers=2, n_heads=2, d_model=d_model, d_head=d_head, n_ctx=64, d_vocab=V,
               act_fn="gelu_new", attn_only=True, normalization_type=None, seed=0)
    model = build_model(cfg, state, tiny_tokenizer, model_name="uniform-attention")
    frozen = analysis.path_expansion(model, TEXT, position=7)
    uniform = analysis.path_expansion(model, TEXT, position=7, attention="uniform")
    assert uniform.attention == "uniform" and frozen.attention == "frozen"
    torch.testing.assert_close(uniform.terms()[1], frozen.terms()[1], rtol=1e-4, atol=1e-5)
    assert float(uniform.logit) == pytest.approx(model_logit(model, TEXT, 7, frozen.target), rel=1e-4, abs=1e-5)


def test_uniform_attention_on_a_real_model_adds_up_to_its_own_logit(random_model):
    uniform = analysis.path_expansion(random_model, TEXT, position=5, attention="uniform")
    frozen = analysis.path_expansion(random_model, TEXT, position=5)
    assert float(uniform.terms()[1].sum()) == pytest.approx(float(uniform.logit), rel=1e-4, abs=1e-5)
    assert float(uniform.model_logit) == pytest.approx(float(frozen.logit), rel=1e-6)
    assert float(uniform.logit) != pytest.approx(float(frozen.logit), rel=1e-3)
    torch.testing.assert_close(uniform.direct, frozen.direct)  # the direct path has no head in it


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(position=99), ValueError, r"position 99 is out of range; this text has \d+ tokens"),
        (dict(position=1.5), TypeError, "position must be an int"),
        (dict(order=3), ValueError, r"order 3 is out of range; it must be in \[1, 2\]"),
        (dict(order=0), ValueError, r"order 0 is out of range; it must be in \[1, 2\]"),
        (dict(target=" return a"), ValueError, r"' return a' is \d tokens .*not a single token"),
        (dict(target=[1, 2]), ValueError, "target must be one token, got 2"),
        (dict(target=10**6), ValueError, r"token id 1000000 is out of range \[0, \d+\)"),
        (dict(top=0), ValueError, "top 0 is out of range; it must be at least 1"),
        (dict(attention="qk"), ValueError, r"attention 'qk' is not one of \['frozen', 'uniform'\]"),
    ],
)
def test_bad_input_names_the_value_and_the_range(random_model, kwargs, error, message):
    with pytest.raises(error, match=message):
        analysis.path_expansion(random_model, TEXT, **kwargs)


def test_a_run_without_the_paths_hooks_is_refused(random_model):
    run = analysis.run_text(random_model, TEXT, needs=("attention",))
    with pytest.raises(ValueError, match=r"serves \['attention'\], not 'paths'"):
        analysis.path_expansion(random_model, run)
