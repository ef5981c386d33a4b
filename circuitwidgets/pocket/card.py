"""Write the pocket models' ``MODEL_CARD.md`` from their ``measurements.json`` files.

Every number in the card comes from what the training run (and :mod:`.measure`) recorded, so
the card cannot drift from the weights: ``python -m circuitwidgets.pocket.card`` rewrites it,
and a test checks that the committed card is what this module renders.
"""

from __future__ import annotations

import json
from pathlib import Path

from .recipes import RECIPES
from .tokenizer import BOS_TOKEN

__all__ = ["CARD_PATH", "ROLE_MIN", "render_card", "main"]

CARD_PATH = Path(__file__).resolve().parent / "MODEL_CARD.md"
ROLE_MIN = 0.5  # a head is called by a role when its score for it is at least this


def _load(weights: Path) -> dict[str, dict]:
    return {
        name: json.loads((weights / name / "measurements.json").read_text())
        for name in RECIPES
        if (weights / name / "measurements.json").is_file()
    }


def _roles(m: dict) -> list[str]:
    prev, ind, cop = m["previous_token"], m["induction"], m["copying_full_ov"]
    dup = m.get("duplicate_token")
    rows = ["| head | previous-token | induction |" + (" duplicate-token |" if dup else "")
            + " full-OV copying | role |",
            "|---|---|---|" + ("---|" if dup else "") + "---|---|"]
    for layer, heads in enumerate(prev):
        for head in range(len(heads)):
            role = []
            if prev[layer][head] >= ROLE_MIN:
                role.append("previous-token")
            if ind[layer][head] >= ROLE_MIN:
                role.append("induction")
            if dup and dup[layer][head] >= ROLE_MIN:
                role.append("duplicate-token")
            rows.append(
                f"| {layer}.{head} | {prev[layer][head]:.3f} | {ind[layer][head]:.3f} |"
                + (f" {dup[layer][head]:.3f} |" if dup else "")
                + f" {cop[layer][head]:.3f} | {', '.join(role) or '-'} |"
            )
    a, b = m["previous_token_head"], m["induction_head"]
    base = m["k_composition_random"]
    rows.append("")
    rows.append(
        f"K-composition of previous-token head {a[0]}.{a[1]} into induction head {b[0]}.{b[1]}: "
        f"**{m['k_composition']:.3f}**; random weights of the same shape give "
        f"{base['mean']:.3f} ± {base['std']:.3f} (mean ± sd)."
    )
    s = m["settings"]
    rows.append("")
    rows.append(
        f"Measured on {s['batch']} sequences `[BOS, s, s]` with `s` = {s['half']} uniform random "
        f"tokens (seed {s['seed']}), queries in the second half; repeated-half loss "
        + (f"**{m['repeated_half_loss']:.3f}** nats." if "repeated_half_loss" in m else "not part of this measurement.")
    )
    return rows


def _model_section(name: str, m: dict) -> list[str]:
    r = m["recipe"]
    net = r["net"]
    lens = " → ".join(f"{x:.2f}" for x in m["logit_lens_heldout_loss"])
    arch = "attention-only" if net["d_mlp"] is None else f"with MLPs (d_mlp {net['d_mlp']}, gelu_new)"
    grown = (
        f"the network is grown to {net['n_layers']} layers (layers 0-1 and the embeddings kept, "
        "new MLPs and layers with zero output weights), then "
        if net["n_layers"] != 2 or net["d_mlp"] is not None else ""
    )
    lines = [
        f"## `{name}`",
        "",
        m["description"] + ".",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | {net['n_layers']} layers, {arch}; pre-LayerNorm (eps 1e-5), learned positions, untied unembedding with bias |",
        f"| width | d_model {net['d_model']}, {net['n_heads']} heads × d_head {net['d_head']} |",
        f"| context | {net['n_ctx']} tokens |",
        f"| parameters | {m['parameters']:,} (stored as float16: {m['parameters'] * 2 / 1e6:.2f} MB) |",
        f"| held-out loss | **{m['heldout_loss']:.3f}** nats/token on {r['heldout_windows']} windows of held-out files |",
        f"| logit lens (held-out loss read out after the embedding, then each layer) | {lens} |",
        f"| training time | {m['train_seconds'] / 60:.1f} min on {m['environment']['threads']} CPU thread "
        f"({m['environment']['machine']}, torch {m['environment']['torch']}, shared machine) |",
        "",
        "**Recipe** (seed "
        f"{m['seed']}; AdamW lr {r['lr']}, betas (0.9, 0.99), weight decay {r['weight_decay']} on matrices, "
        f"gradient clipping 1.0, batch {r['batch']} × {net['n_ctx']} tokens, {r['warmup_steps']} warm-up steps per phase). "
        f"Phase 1: the 2-layer attention-only network with tied embeddings trains {r['phase1_steps']} steps on "
        f"repeated random spans (length {r['min_half']}-{(net['n_ctx'] - 1) // 2}, scored on the second copy) "
        f"and must reach repeated-half loss < {r['phase1_max_loss']} (reached "
        f"{m['phase1']['repeated_half_loss']:.3f}). Phase 2: {grown}the unembedding is untied "
        f"(starting from W_Eᵀ) and the network trains {r['phase2_steps']} steps on text rows with "
        f"{r['phase2_repeat_fraction']:.0%} repeated-span rows, cosine decay to "
        f"{r['final_lr_fraction']} × lr.",
        "",
        "**Head roles** (training-time checks on the shipped float16 weights; role = score ≥ "
        f"{ROLE_MIN}):",
        "",
        *_roles(m["checks"]),
    ]
    if "analysis" in m:
        lines += ["", "**Re-measured with `circuitwidgets.analysis`** on the loaded TransformerLens model:", "",
                  *_roles(m["analysis"])]
    return lines + [""]


def render_card(weights: Path | None = None) -> str:
    """The model card's Markdown for the measurements under ``weights`` (default: the package's)."""
    from .train import DEFAULT_OUT

    all_m = _load(DEFAULT_OUT if weights is None else Path(weights))
    if not all_m:
        raise FileNotFoundError("no trained pocket model found: run python -m circuitwidgets.pocket.train NAME")
    any_m = next(iter(all_m.values()))
    c = any_m["corpus"]
    vocab = any_m["recipe"]["vocab_size"]
    lines = [
        "# Pocket models: model card",
        "",
        "Small transformer language models trained by this project and shipped inside the package, "
        "so the widgets have real circuits to show offline. Load one with "
        "`circuitwidgets.load_pocket_model(name)`; list them with `circuitwidgets.pocket_models()`.",
        "This file is generated by `python -m circuitwidgets.pocket.card` from each model's "
        "`weights/NAME/measurements.json`; edit the generator, not this file.",
        "",
        "**Intended use:** teaching and testing interpretability tools (attention patterns, induction, "
        "OV copying, the logit lens). They are tiny and trained on code: not useful language models.",
        "",
        "## Data",
        "",
        f"- **Corpus:** the source files (code, comments, docstrings) of the Python {c['python']} standard "
        f"library, {c['files']} files, {c['characters']:,} characters (tests, `site-packages` and the "
        f"codec tables in `encodings/` left out; sha256 `{c['sha256'][:16]}…`). Licence: the Python Software "
        "Foundation License (the `LICENSE.txt` of any Python installation). "
        f"{c['heldout_files']} files (one in 50, chosen by a hash of the path) are held out for the held-out loss; "
        f"the other {c['train_files']} give {c['train_tokens']:,} training tokens.",
        "- **Repeated random spans:** `[BOS, s, s]` rows with `s` uniform over the ordinary vocabulary; "
        "only the second copy is scored, so only looking back (induction) helps.",
        f"- **Tokenizer** (`weights/tokenizer/`, shared by all pocket models): byte-level BPE with {vocab} tokens "
        f"trained on the training files with the `tokenizers` library; `{BOS_TOKEN}` (id 0) is the BOS, "
        "end-of-text and padding token; TransformerLens prepends it. Load it with "
        "`transformers.AutoTokenizer.from_pretrained(folder)`.",
        "",
        "## Reproduce",
        "",
        "```",
        *[f"python -m circuitwidgets.pocket.train {name} --seed {m['seed']} --threads {m['environment']['threads']}"
          for name, m in all_m.items()],
        "python -m circuitwidgets.pocket.card",
        "```",
        "",
        "Training is deterministic for a given seed, Python standard library, torch version and thread "
        "count; each run checks its own circuits and exits with an error instead of writing a model that "
        "lacks them. `reference.safetensors` holds the logits the training network computes for a fixed text; "
        "the tests require every TransformerLens model kind to reproduce them.",
        "",
    ]
    for name, m in all_m.items():
        lines += _model_section(name, m)
    return "\n".join(lines)


def main() -> int:
    CARD_PATH.write_text(render_card())
    print(f"wrote {CARD_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
