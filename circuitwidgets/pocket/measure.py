"""Measure a trained pocket model's head roles with :mod:`circuitwidgets.analysis`.

The training script gates on its own numbers (:mod:`.checks`, on the plain-torch network);
this module measures the *loaded TransformerLens model* with the library's analysis functions,
with the same settings (repeated random tokens: ``half``, ``batch``, ``seed`` from the
training run's ``measurements.json``), and records the result under ``"analysis"`` there::

    python -m circuitwidgets.pocket.measure attn-only-2l [--out FOLDER]

The K-composition baseline is the same score on a random-weight model of the same config.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["HEAD_KINDS", "measure", "record", "main"]

HEAD_KINDS = ("previous_token", "duplicate_token", "induction")


def measure(model, config: dict, *, half: int, batch: int, seed: int) -> dict:
    """Head scores ``[n_layers][n_heads]`` of each kind, full-OV copying scores, and the
    K-composition of the best layer-0 previous-token head into the best later induction head,
    with the random-weight baseline over all layer-0 -> later-layer head pairs."""
    import torch

    from .. import analysis
    from ..model import build_model

    scores = {
        kind: analysis.head_scores(model, kind, half=half, batch=batch, seed=seed).scores
        for kind in HEAD_KINDS
    }
    copying = analysis.copying_scores(model, circuit="full")
    comp = analysis.composition_scores(model, kind="K")            # [L, H, L, H]
    prev, ind = scores["previous_token"], scores["induction"]
    prev_head = (0, int(prev[0].argmax()))
    flat = int(ind[1:].argmax())
    ind_head = (1 + flat // ind.shape[1], flat % ind.shape[1])

    random_model = build_model(config | {"seed": seed}, None, model.tokenizer)
    base = analysis.composition_scores(random_model, kind="K")[0, :, 1:, :].reshape(-1)
    return {
        "settings": {"half": half, "batch": batch, "seed": seed},
        **{kind: torch.as_tensor(v).tolist() for kind, v in scores.items()},
        "copying_full_ov": torch.as_tensor(copying).tolist(),
        "previous_token_head": list(prev_head),
        "induction_head": list(ind_head),
        "k_composition": float(comp[prev_head + ind_head]),
        "k_composition_random": {"mean": float(base.mean()), "std": float(base.std())},
    }


def record(out: str | Path, name: str) -> dict | None:
    """Measure ``out/name`` and store the result under ``"analysis"`` in its measurements.json.

    Returns ``None`` (and says so) while ``circuitwidgets.analysis`` does not exist yet."""
    try:
        import circuitwidgets.analysis  # noqa: F401
    except ImportError:
        print("circuitwidgets.analysis is not available: measure later with "
              f"python -m circuitwidgets.pocket.measure {name} --out {out}", flush=True)
        return None
    from . import load_pocket_folder

    folder = Path(out) / name
    path = folder / "measurements.json"
    measurements = json.loads(path.read_text())
    config = json.loads((folder / "config.json").read_text())
    model = load_pocket_folder(folder)
    result = measure(model, config, **measurements["checks"]["settings"])
    measurements["analysis"] = result
    path.write_text(json.dumps(measurements, indent=2) + "\n")
    print(json.dumps(result), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    from .recipes import RECIPES
    from .train import DEFAULT_OUT

    parser = argparse.ArgumentParser(prog="python -m circuitwidgets.pocket.measure", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the training script's output folder")
    args = parser.parse_args(argv)
    return 0 if record(args.out, args.name) is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
