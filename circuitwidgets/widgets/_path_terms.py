"""PathExplorer's payload: a :class:`~circuitwidgets.analysis.PathExpansion` as the ranked
terms its waterfall draws, and the one sentence that reads it.

Pure (no widget state): :func:`ranked_terms` turns a result into JSON-ready rows, largest
``|value|`` first, each with its kind, the heads it runs through and the tokens it pushes up
most; :func:`reading` is the sentence the view shows above the bars. The values are the
result's own numbers (``PathExpansion.terms()``), as Python floats.
"""

from __future__ import annotations

from typing import Any

from ..analysis import PathExpansion

__all__ = ["MODES", "ATTENTION_OF", "ranked_terms", "reading", "expansion_payload", "HOVER_K"]

#: The view's two readings and the ``attention`` of :func:`~circuitwidgets.analysis.path_expansion`
#: each one computes with.
ATTENTION_OF = {"frozen": "frozen", "weights": "uniform"}
MODES = tuple(ATTENTION_OF)
#: Top promoted tokens listed on a bar's hover card.
HOVER_K = 5


def _kinds(paths: PathExpansion) -> list[dict[str, Any]]:
    """One ``{"kind", ...}`` per entry of ``paths.terms()``, in its order: which path it is."""
    n_layers, n_heads = paths.heads.shape
    rows: list[dict[str, Any]] = [{"kind": "direct"}]
    rows += [{"kind": "head", "layer": l, "head": h} for l in range(n_layers) for h in range(n_heads)]
    if paths.pairs is not None:
        rows += [{"kind": "pair", "pair": p} for p in paths.top_pairs.tolist()]
        rows.append({"kind": "other_pairs", "count": int(paths.pairs.ne(0).sum()) - len(paths.top_pairs)})
    rows.append({"kind": "higher"})
    if paths.mlp is not None:
        rows += [{"kind": "mlp", "layer": l} for l in range(n_layers)]
    rows.append({"kind": "biases"})
    return rows


def _top(paths: PathExpansion, row: dict[str, Any], pair_index: dict[tuple, int], k: int) -> list[list[Any]]:
    """``[[token string, value], ...]``: what the path writes at the position, pushed up most."""
    if row["kind"] == "direct":
        ids, values = paths.direct_top_ids, paths.direct_top_values
    elif row["kind"] == "head":
        ids, values = paths.head_top_ids[row["layer"], row["head"]], paths.head_top_values[row["layer"], row["head"]]
    elif row["kind"] == "pair":
        i = pair_index[tuple(row["pair"])]
        ids, values = paths.pair_top_ids[i], paths.pair_top_values[i]
    else:
        return []  # a sum of many paths (or a frozen MLP output): no single readout
    return [[paths.token_strs[int(t)], float(v)] for t, v in zip(ids[:k], values[:k])]


def ranked_terms(paths: PathExpansion, k: int = HOVER_K) -> list[dict[str, Any]]:
    """Every term of ``paths`` as ``{"label", "kind", "value", "top", ...}``, largest ``|value|``
    first (ties in ``terms()`` order); the values add up to ``paths.logit``.

    ``kind`` is ``"direct"``, ``"head"`` (with ``layer``, ``head``), ``"pair"`` (with ``pair``:
    ``[l1, h1, l2, h2]``), ``"other_pairs"`` (with ``count``), ``"higher"``, ``"mlp"`` (with
    ``layer``) or ``"biases"``.

    >>> paths = analysis.path_expansion(model, "a b c a b", position=-1)
    >>> rows = ranked_terms(paths)
    >>> abs(sum(r["value"] for r in rows) - float(paths.logit)) < 1e-3
    True
    >>> sorted({r["kind"] for r in rows})
    ['biases', 'direct', 'head', 'higher', 'other_pairs', 'pair']
    """
    labels, values = paths.terms()
    pair_index = {tuple(p): i for i, p in enumerate(paths.top_pairs.tolist())}
    rows = []
    for label, value, row in zip(labels, values.tolist(), _kinds(paths)):
        rows.append({"label": label, "value": float(value), **row, "top": _top(paths, row, pair_index, k)})
    order = sorted(range(len(rows)), key=lambda i: -abs(rows[i]["value"]))
    return [rows[i] for i in order]


def _quoted(token: str) -> str:
    return repr(token)


def reading(paths: PathExpansion, rows: list[dict[str, Any]]) -> str:
    """The one sentence the view shows: what the bars add up to, and the largest of them.

    >>> paths = analysis.path_expansion(model, "a b c a b", position=-1)
    >>> reading(paths, ranked_terms(paths)).startswith("With attention frozen")
    True
    """
    at = f"after {_quoted(paths.str_tokens[paths.position])} (position {paths.position})"
    top = rows[0]
    largest = f"the largest is {top['label']} ({top['value']:+.2f})"
    pairs = sum(r["value"] for r in rows if r["kind"] in ("pair", "other_pairs"))
    if paths.attention == "frozen":
        return (
            f"With attention frozen as the model computed it on this text, the logit of "
            f"{_quoted(paths.target_str)} {at} is {float(paths.logit):.2f}, exactly the sum of these "
            f"terms; {largest}, and all head pairs together add {pairs:+.2f}."
        )
    return (
        f"Weights only: with every head attending evenly to the text so far (no QK circuit), "
        f"these OV paths give {_quoted(paths.target_str)} {at} a logit of {float(paths.logit):.2f} "
        f"(the model's own is {float(paths.model_logit):.2f}); {largest}."
    )


def expansion_payload(paths: PathExpansion, mode: str, run: int) -> dict[str, Any]:
    """What the view draws for one (position, target, mode): JSON only.

    >>> paths = analysis.path_expansion(model, "a b c a b", position=-1)
    >>> sorted(expansion_payload(paths, "frozen", 1))[:4]
    ['logit', 'mode', 'model_logit', 'next']
    """
    rows = ranked_terms(paths)
    following = paths.position + 1
    return {
        "run": run,
        "mode": mode,
        "position": paths.position,
        "target": paths.target,
        "target_str": paths.target_str,
        "token": paths.str_tokens[paths.position],
        "next": paths.str_tokens[following] if following < len(paths.str_tokens) else None,
        "logit": float(paths.logit),
        "model_logit": float(paths.model_logit),
        "terms": rows,
        "reading": reading(paths, rows),
    }
