"""The docs stay true to the code: every public trait, method and name is on its page, and
every Python example in docs/ runs offline with the pocket model."""

from __future__ import annotations

import re
from pathlib import Path

import anywidget
import pytest

import circuitwidgets as cw
from circuitwidgets import analysis
from view_registry import VIEWS

DOCS = Path(__file__).parent.parent / "docs"

#: Each public view and the page that documents it (from the registry, js/views.json).
VIEW_PAGES = {view["class"]: view["docs"] for view in VIEWS}
MODULE_PAGES = {"analysis.md": "circuitwidgets.analysis", "figures.md": "circuitwidgets.figures"}

_WIDGET_BASE = set(anywidget.AnyWidget.class_trait_names())


def public_traits(cls) -> list[str]:
    """The traits a user reads or sets: not private, not anywidget's/ipywidgets' own."""
    return sorted(n for n in cls.class_trait_names() if not n.startswith("_") and n not in _WIDGET_BASE)


def public_members(cls) -> list[str]:
    """Methods and properties the view class itself (or its circuitwidgets bases) defines."""
    names = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("circuitwidgets"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in names:
                continue
            if callable(value) or isinstance(value, property):
                if not hasattr(value, "class_init"):      # traitlets' TraitType instances
                    names.add(name)
    return sorted(names)


def mentioned(page: str, name: str) -> bool:
    """``name`` appears in code font on the page (alone, or as ``name(...)``/``a, name``)."""
    return re.search(rf"`[^`]*\b{re.escape(name)}\b[^`]*`", page) is not None


@pytest.mark.parametrize("view", sorted(VIEW_PAGES))
def test_every_trait_and_method_of_a_view_is_on_its_page(view):
    cls = getattr(cw, view)
    page = (DOCS / VIEW_PAGES[view]).read_text()
    missing = [n for n in public_traits(cls) + public_members(cls) if not mentioned(page, n)]
    assert not missing, f"{VIEW_PAGES[view]} does not mention {missing}"
    for section in ("## Traits", "## Example", "## Keyboard"):
        assert section in page, f"{VIEW_PAGES[view]} has no '{section}' section"


def test_every_public_view_has_a_page():
    views = {n for n in cw.__all__ if isinstance(getattr(cw, n), type) and issubclass(getattr(cw, n), anywidget.AnyWidget)}
    assert views <= set(VIEW_PAGES), f"no docs page for {sorted(views - set(VIEW_PAGES))}"


@pytest.mark.parametrize("page", sorted(MODULE_PAGES))
def test_every_public_name_of_a_module_is_on_its_page(page):
    import importlib

    module = importlib.import_module(MODULE_PAGES[page])
    text = (DOCS / page).read_text()
    missing = [n for n in module.__all__ if not mentioned(text, n)]
    assert not missing, f"{page} does not mention {missing}"


def test_index_links_every_page():
    index = (DOCS / "index.md").read_text()
    for page in list(VIEW_PAGES.values()) + list(MODULE_PAGES):
        assert f"]({page})" in index, f"index.md does not link {page}"


#: Blocks that cannot run here, and why: Colab's own module, or a model from the Hugging Face
#: Hub (no network in CI; the pocket models stand in for them everywhere else).
NOT_RUN = {
    "# Colab only": "google.colab exists only on Colab",
    'boot_transformers("gpt2")': "needs the network",
    'AutoModelForCausalLM.from_pretrained("': "needs the network (tests/test_hugging_face.py runs it offline)",
    'nnsight.LanguageModel("': "needs the network (tests/test_nnsight.py runs it offline on tiny checkpoints)",
}


def _examples() -> list[tuple[str, str]]:
    found = []
    for page in [*sorted(DOCS.glob("*.md")), DOCS.parent / "README.md"]:
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S)):
            if not any(marker in block for marker in NOT_RUN):
                found.append((f"{page.stem}-{i}", block))
    return found


EXAMPLES = _examples()


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for _, b in EXAMPLES], ids=[i for i, _ in EXAMPLES])
def test_docs_example_runs(block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)             # examples that save files write them here
    if "report(" in block or "save_png" in block:
        pytest.importorskip("bokeh")
    exec(compile(block, "<docs example>", "exec"), {})


README = DOCS.parent / "README.md"


@pytest.mark.parametrize("view", sorted(set(VIEW_PAGES) - {"Selection"}))
def test_the_readme_table_names_every_argument_of_a_view(view):
    """The README's table of views gives each view's signature: every keyword the class takes,
    and no keyword it does not (the class's own ``__init__`` is the one source)."""
    import inspect

    row = re.search(rf"^\| `circuitwidgets\.{view}\((.*?)\)` \|", README.read_text(), re.M)
    assert row, f"README.md's table has no row for circuitwidgets.{view}(...)"
    written = [a.strip().split("=")[0] for a in row.group(1).split(",") if a.strip() not in ("*", "")]
    params = inspect.signature(getattr(cw, view).__init__).parameters.values()
    actual = [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    assert written == actual


#: How the pocket model's heads are named wherever the docs name them, from its measurements.
def pocket_heads_phrase() -> str:
    import json

    from circuitwidgets.pocket import WEIGHTS_DIR
    from circuitwidgets.pocket.card import ROLE_MIN

    checks = json.loads((WEIGHTS_DIR / "attn-only-2l" / "measurements.json").read_text())["checks"]
    name = "{}.{}".format
    induction = [name(l, h) for l, row in enumerate(checks["induction"]) for h, s in enumerate(row) if s >= ROLE_MIN]
    listed = ", ".join(induction[:-1]) + " and " + induction[-1] if len(induction) > 1 else induction[0]
    return (f"previous-token head {name(*checks['previous_token_head'])}; induction heads {listed}, "
            f"the strongest {name(*checks['induction_head'])}")


@pytest.mark.parametrize("path", ["README.md", "CHANGELOG.md", "examples/quickstart.ipynb",
                                  "examples/workshop_2_ov_circuits.ipynb"])
def test_the_pocket_models_heads_are_named_one_way(path):
    text = (DOCS.parent / path).read_text()
    if path.endswith(".ipynb"):
        import nbformat

        text = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
    assert pocket_heads_phrase() in re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("path", ["README.md", "BENCHMARKS.md", *sorted(p.name for p in DOCS.glob("*.md"))])
def test_commands_in_the_docs_name_the_virtualenvs_pytest(path):
    """A bare ``pytest`` is not on PATH after scripts/setup.sh: commands say ``.venv-tl4/bin/python -m pytest``."""
    where = DOCS.parent / path if not (DOCS / path).exists() else DOCS / path
    assert not re.findall(r"(?<!-m )(?<![\w/.-])pytest (?=tests/|-)", where.read_text())


def test_every_benchmarks_command_names_what_setup_makes():
    """BENCHMARKS.md's commands are what ``scripts/bench.sh`` runs verbatim (``--check``: all of
    them, quickly): each names a virtualenv ``scripts/setup.sh`` makes and a script in
    benchmarks/, and every benchmark script has a command."""
    blocks = re.findall(r"^```\n(.*?)^```", (DOCS.parent / "BENCHMARKS.md").read_text(), re.S | re.M)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    scripts = set()
    for command in commands:
        match = re.fullmatch(r"(?:[A-Z_]+=\S+ )*\.venv-tl[34]/bin/python (benchmarks/\w+\.py)\b.*", command)
        assert match and (DOCS.parent / match.group(1)).is_file(), command
        scripts.add(match.group(1))
    helpers = {"benchmarks/common.py"}
    assert scripts == {f"benchmarks/{p.name}" for p in (DOCS.parent / "benchmarks").glob("*.py")} - helpers
