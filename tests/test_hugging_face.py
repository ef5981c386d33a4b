"""A plain Hugging Face causal LM goes straight into every view and analysis.

On TransformerLens 4 it is wrapped once in a ``TransformerBridge`` (attention switched to eager)
and gives the same numbers as the bridge a user boots from the same folder; on 3.x the error
names the two ways to load it there.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import architectures as arch
import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.model import as_adapter, from_hugging_face, transformer_lens_version

TEXT = "def add(a, b):\n    return a + b\ndef add(a, b):"
TL4 = transformer_lens_version() >= (4,)
FAMILIES = ("gpt2", "llama", "qwen2", "gemma2", "phi3")


def _hf(name: str, **options):
    """Family ``name``'s checkpoint as a user loads it with ``transformers`` (by default with
    SDPA attention: the wrapping must switch it to eager)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(arch.checkpoint(name), **options).eval()


def _quiet(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make()


@pytest.mark.skipif(not TL4, reason="TransformerLens 4 wraps a Hugging Face model; 3.x refuses (tested below)")
@pytest.mark.parametrize("name", FAMILIES)
def test_hugging_face_model_gives_the_bridges_numbers(name):
    hf = _hf(name)
    tok = arch.tokenizer()
    with pytest.warns(UserWarning, match="wrapped the Hugging Face model"):
        view = cw.AttentionExplorer(hf, TEXT, tokenizer=tok)
    assert hf.config._attn_implementation == "eager"
    # the numbers are the model's own: transformers' attention weights and logits
    mine = analysis.attention_patterns(hf, TEXT)
    tokens = as_adapter(hf).to_tokens(TEXT)
    with torch.no_grad():   # a second copy of the same weights, untouched by the wrapping
        out = _hf(name, attn_implementation="eager")(tokens, output_attentions=True)
    expected = torch.stack([a[0] for a in out.attentions])        # [layers, heads, q, k]
    torch.testing.assert_close(mine.patterns.float(), expected.float(), atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        got = as_adapter(hf).model(tokens)
    torch.testing.assert_close(got, out.logits, atol=1e-4, rtol=1e-4)
    lens = _quiet(lambda: cw.LogitLens(hf, TEXT, tokenizer=tok))
    assert lens.attribution().heads.shape == (as_adapter(hf).n_layers, as_adapter(hf).n_heads)
    for v in (view, lens):
        v.close()


@pytest.mark.skipif(not TL4, reason="TransformerLens 4 wraps a Hugging Face model")
def test_wrapped_once_and_shared_by_every_view():
    hf = _hf("gpt2")
    tok = arch.tokenizer()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        views = [cw.AttentionExplorer(hf, TEXT, tokenizer=tok), cw.OVBrowser(hf, TEXT), cw.CircuitExplorer(hf, TEXT)]
    said = [w for w in caught if "wrapped the Hugging Face model" in str(w.message)]
    assert len(said) == 1, [str(w.message) for w in said]
    assert len({id(v._adapter.model) for v in views}) == 1
    assert from_hugging_face(hf) is views[0]._adapter.model
    for v in views:
        v.close()


@pytest.mark.skipif(not TL4, reason="TransformerLens 4 wraps a Hugging Face model")
def test_tokenizer_from_the_models_folder_or_a_clear_error():
    import transformers

    hf = _hf("llama")   # loaded from a folder that holds its tokenizer: found there
    adapter = _quiet(lambda: as_adapter(hf))
    assert adapter.has_tokenizer and adapter.tokenizer.get_vocab() == arch.tokenizer().get_vocab()
    bare = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_layer=1, n_head=2, n_embd=16, n_positions=32, vocab_size=len(arch.tokenizer())))
    with pytest.raises(ValueError, match=r"needs its tokenizer: pass tokenizer=\.\.\."):
        cw.AttentionExplorer(bare, TEXT)
    # analysis without text still needs the bridge, and says the same
    with pytest.raises(ValueError, match="tokenizer="):
        analysis.copying_scores(bare)


def test_tokenizer_for_a_transformerlens_model_is_refused():
    model = cw.load_pocket_model()
    with pytest.raises(TypeError, match="tokenizer= is for a plain Hugging Face model"):
        cw.AttentionExplorer(model, TEXT, tokenizer=model.tokenizer)


def test_the_keyword_is_listed_for_a_misspelling():
    with pytest.raises(TypeError, match="did you mean 'tokenizer'"):
        cw.TokenView(cw.load_pocket_model(), TEXT, tokeniser=None)


@pytest.mark.skipif(TL4, reason="TransformerLens 3.x: the error names the two ways to load it")
def test_transformerlens_3_names_the_two_ways():
    hf = _hf("gpt2")
    with pytest.raises(TypeError) as info:
        cw.AttentionExplorer(hf, TEXT, tokenizer=arch.tokenizer())
    message = str(info.value)
    assert "HookedTransformer.from_pretrained(" in message and "hf_model=hf_model" in message
    assert "TransformerBridge.boot_transformers(" in message


@pytest.mark.skipif(not TL4, reason="TransformerLens 4 wraps a Hugging Face model")
def test_a_different_tokenizer_for_a_wrapped_model_is_refused():
    from transformers import AutoTokenizer, PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models

    hf = _hf("gpt2")
    _quiet(lambda: cw.TokenView(hf, TEXT, tokenizer=arch.tokenizer()))
    again = AutoTokenizer.from_pretrained(str(arch.TOKENIZER_DIR))   # the same vocabulary: fine
    cw.TokenView(hf, TEXT, tokenizer=again).close()
    other = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]")))
    with pytest.raises(ValueError, match="already wrapped with a tokenizer of"):
        cw.TokenView(hf, TEXT, tokenizer=other)
