"""The pocket models: offline loading, the same outputs on every TransformerLens generation,
the circuits they must contain, and the training script end to end.

Cross-generation check: every training run saves, next to the weights, the logits its own
plain-torch network computes for a fixed text (``reference.safetensors``). Each model kind of
the installed TransformerLens (HookedTransformer on 3.x; the bridge with and without
compatibility mode on 4.x) must reproduce those logits (log-probabilities for compatibility
mode, which centres the unembedding), so the two generations, each tested in its own venv,
agree with each other to twice that tolerance.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import circuitwidgets as cw
from circuitwidgets.model import ModelAdapter, hook_name, transformer_lens_version
from circuitwidgets.pocket import WEIGHTS_DIR, load_pocket_folder
from circuitwidgets.pocket import checks
from circuitwidgets.pocket.corpus import repeated_random_tokens, repeated_span_rows
from circuitwidgets.pocket.net import PocketTransformer, NetConfig
from circuitwidgets.pocket.recipes import RECIPES

NAMES = sorted(RECIPES)
REPO = Path(__file__).resolve().parents[1]
LOGIT_ATOL = 2e-3  # float32 logits of float16-stored weights, different kernels


def _measurements(name: str) -> dict:
    return json.loads((WEIGHTS_DIR / name / "measurements.json").read_text())


@pytest.fixture(scope="module", params=NAMES)
def pocket(request):
    return request.param, cw.load_pocket_model(request.param)


# ---- listing and loading -------------------------------------------------------------------


def test_pocket_models_lists_every_name_with_a_description():
    models = cw.pocket_models()
    assert sorted(models) == NAMES == ["attn-only-2l", "small-4l"]
    assert all(isinstance(d, str) and 20 < len(d) and "\n" not in d for d in models.values())


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"'gpt2'.*attn-only-2l.*small-4l"):
        cw.load_pocket_model("gpt2")


def test_model_card_is_rendered_from_the_measurements():
    from circuitwidgets.pocket.card import CARD_PATH, render_card

    assert CARD_PATH.read_text() == render_card(), "run python -m circuitwidgets.pocket.card"


def test_files_stay_small():
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.rglob("*") if p.is_file())
    assert total < 15 * 2**20, f"pocket files are {total / 2**20:.1f} MB"


@pytest.mark.parametrize("name", NAMES)
def test_loads_offline_in_a_fresh_process(name):
    """No network: Hugging Face offline mode and a proxy that cannot connect."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
               PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    code = (
        "import circuitwidgets as cw\n"
        f"m = cw.load_pocket_model({name!r})\n"
        "print(type(m).__name__, m.cfg.n_layers, m.tokenizer.bos_token_id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    expected_class = "TransformerBridge" if transformer_lens_version() >= (4,) else "HookedTransformer"
    assert out.stdout.split() == [expected_class, str(RECIPES[name].net.n_layers), "0"]


def test_loaded_model_has_the_recipe_shape(pocket):
    name, model = pocket
    m = ModelAdapter(model)
    net = RECIPES[name].net
    assert (m.n_layers, m.n_heads, m.d_model, m.d_head, m.n_ctx, m.d_vocab) == (
        net.n_layers, net.n_heads, net.d_model, net.d_head, net.n_ctx, net.d_vocab
    )
    assert m.attn_only == net.attn_only
    assert m.bos_token_id == 0 and m.prepends_bos
    n_params = sum(v.numel() for v in load_file(str(WEIGHTS_DIR / name / "model.safetensors")).values())
    assert n_params == _measurements(name)["parameters"]


# ---- the same numbers on every model kind --------------------------------------------------


def _kinds():
    return ["bridge", "bridge-compat"] if transformer_lens_version() >= (4,) else ["hooked"]


def _as_kind(kind: str, name: str):
    """The pocket model ``name`` as model kind ``kind`` of the installed TransformerLens."""
    model = cw.load_pocket_model(name)
    if kind == "bridge-compat":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.enable_compatibility_mode()
    return model


@pytest.mark.parametrize("kind", _kinds())
@pytest.mark.parametrize("name", NAMES)
def test_logits_match_the_training_reference(name, kind):
    ref = load_file(str(WEIGHTS_DIR / name / "reference.safetensors"))
    model = _as_kind(kind, name)
    m = ModelAdapter(model)
    text = _measurements(name)["reference_text"]
    tokens = m.to_tokens(text)
    assert torch.equal(tokens, ref["tokens"]), "the tokenizer changed since training"
    logits = m.forward_logits(tokens)
    torch.testing.assert_close(logits.log_softmax(-1), ref["logits"].log_softmax(-1), atol=LOGIT_ATOL, rtol=0)
    if kind != "bridge-compat":
        # compatibility mode centres the unembedding (each position's logits shift by a
        # constant, which leaves the probabilities alone); the other kinds keep raw logits
        torch.testing.assert_close(logits, ref["logits"], atol=LOGIT_ATOL, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_training_network_and_loaded_model_attend_alike(name):
    """The plain-torch network the training checks ran on, given the shipped weights, has the
    same attention patterns as the TransformerLens model on repeated random tokens."""
    net = _shipped_net(name)
    m = ModelAdapter(cw.load_pocket_model(name))
    tokens = repeated_random_tokens(2, 40, bos_id=0, low=1, high=net.cfg.d_vocab,
                                    generator=torch.Generator().manual_seed(5))
    names = [hook_name("pattern", layer) for layer in range(m.n_layers)]
    _, cache = m.run_with_cache(tokens, names)
    with torch.no_grad():
        _, patterns = net(tokens, return_patterns=True)
    for layer, name_ in enumerate(names):
        torch.testing.assert_close(cache[name_], patterns[layer], atol=1e-4, rtol=0)


def _shipped_net(name: str) -> PocketTransformer:
    cfg = RECIPES[name].net
    net = PocketTransformer(cfg, seed=0)
    net.load_tl_state_dict(load_file(str(WEIGHTS_DIR / name / "model.safetensors")))
    return net.eval()


# ---- the circuits --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_training_checks_reproduce_from_the_shipped_weights(name):
    """The numbers in measurements.json (and the model card) are those of the shipped file."""
    saved = _measurements(name)
    report = checks.circuit_report(_shipped_net(name), **saved["checks"]["settings"], bos_id=0, low=1)
    for key in ("previous_token", "induction", "copying_full_ov"):
        torch.testing.assert_close(torch.tensor(report[key]), torch.tensor(saved["checks"][key]), atol=1e-4, rtol=0)
    assert report["repeated_half_loss"] == pytest.approx(saved["checks"]["repeated_half_loss"], abs=1e-4)
    assert checks.failures(report, RECIPES[name].thresholds) == []


@pytest.mark.parametrize("name", NAMES)
def test_heads_measured_with_circuitwidgets_analysis(name):
    """Head roles, copying and K-composition re-measured on the loaded TransformerLens model
    with the library's own analysis functions: issue thresholds and the card's numbers."""
    analysis = pytest.importorskip("circuitwidgets.analysis", reason="circuitwidgets.analysis has not landed yet")
    needed = ("head_scores", "copying_scores", "composition_scores")
    if not all(hasattr(analysis, f) for f in needed):  # the package exists before these do
        pytest.skip(f"circuitwidgets.analysis does not offer {', '.join(needed)} yet")
    from circuitwidgets.pocket.measure import measure

    saved = _measurements(name)
    config = json.loads((WEIGHTS_DIR / name / "config.json").read_text())
    got = measure(cw.load_pocket_model(name), config, **saved["checks"]["settings"])
    t = RECIPES[name].thresholds
    li, hi = got["induction_head"]
    assert max(got["previous_token"][0]) >= t.prev_token
    assert got["induction"][li][hi] >= t.induction and li in t.induction_layers
    assert got["copying_full_ov"][li][hi] >= t.copying
    base = got["k_composition_random"]
    assert got["k_composition"] > base["mean"] + t.k_composition_sigmas * base["std"]
    for key in ("previous_token", "induction", "copying_full_ov"):  # the card's numbers
        torch.testing.assert_close(torch.tensor(got[key]), torch.tensor(saved["checks"][key]), atol=0.05, rtol=0)
    if "analysis" in saved:
        for key in ("previous_token", "duplicate_token", "induction", "copying_full_ov"):
            torch.testing.assert_close(torch.tensor(got[key]), torch.tensor(saved["analysis"][key]), atol=1e-4, rtol=0)


def test_k_composition_random_baseline_is_what_random_heads_give():
    mean, std = checks.random_k_baseline(128, 32)
    assert 0 < std < mean < 0.5
    net = PocketTransformer(NetConfig(2, 128, 4, 32, 16, 50), seed=3)
    scores = [checks.composition_k(net, (0, a), (1, b)) for a in range(4) for b in range(4)]
    assert abs(sum(scores) / len(scores) - mean) < 4 * std


# ---- data ----------------------------------------------------------------------------------


def test_repeated_span_rows_score_exactly_the_predictable_tokens():
    g = torch.Generator().manual_seed(0)
    tokens, scored = repeated_span_rows(8, 40, min_half=3, bos_id=0, low=1, high=50, generator=g)
    assert tokens.shape == scored.shape == (8, 40) and (tokens[:, 0] == 0).all()
    for row, mask in zip(tokens, scored):
        idx = mask.nonzero().flatten()
        h = len(idx) + 1                         # all of the second copy but its first token
        assert 3 <= h <= 19 and idx.tolist() == list(range(h + 2, 2 * h + 1))
        assert torch.equal(row[1 : 1 + h], row[1 + h : 1 + 2 * h])
    with pytest.raises(ValueError, match="min_half"):
        repeated_span_rows(1, 40, min_half=20, bos_id=0, low=1, high=50, generator=g)


# ---- the training script -------------------------------------------------------------------


def _train_tiny(name: str, out: Path, seed: int = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "circuitwidgets.pocket.train", name, "--tiny", "--seed", str(seed), "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_tiny_recipe_trains_end_to_end_and_deterministically(name, tmp_path):
    first, second = _train_tiny(name, tmp_path / "a"), _train_tiny(name, tmp_path / "b")
    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    folder = tmp_path / "a" / name
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "measurements.json", "model.safetensors", "reference.safetensors"
    ]
    for file in ("model.safetensors", "reference.safetensors", "../tokenizer/tokenizer.json"):
        assert (folder / file).read_bytes() == (tmp_path / "b" / name / file).read_bytes(), file
    # what the script wrote loads as a TransformerLens model and reproduces the script's logits
    model = load_pocket_folder(folder)
    ref = load_file(str(folder / "reference.safetensors"))
    torch.testing.assert_close(ModelAdapter(model).forward_logits(ref["tokens"]), ref["logits"], atol=LOGIT_ATOL, rtol=0)
    report = json.loads((folder / "measurements.json").read_text())
    assert report["recipe"]["phase1_steps"] > 0 and report["heldout_loss"] > 0


@pytest.mark.slow
def test_training_script_refuses_to_replace_a_different_tokenizer(tmp_path):
    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "tokenizer" / "tokenizer.json").write_text("{}")
    out = _train_tiny("attn-only-2l", tmp_path)
    assert out.returncode != 0 and "different tokenizer" in out.stderr
    assert not (tmp_path / "attn-only-2l").exists()


def test_loading_warns_nothing_about_the_model_class_we_chose():
    """TransformerLens 3.9 deprecates HookedTransformer, but that is the class build_model picks
    there: a user of load_pocket_model() should not be told, once per model, about our choice."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cw.load_pocket_model()
    assert not [str(w.message) for w in caught if "deprecated" in str(w.message)]
