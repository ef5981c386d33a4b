"""The README's two commands work in a fresh clone with fresh virtualenvs.

The commands are read from README.md's first code block, so this test follows the README.
The clone is of this checkout's HEAD: a clone sees only committed work.

1. ``scripts/quickstart.sh`` sets up ``.venv-tl4`` from nothing and starts JupyterLab on the
   quickstart notebook. It runs with flags it passes on to ``jupyter lab`` (its documented
   non-interactive use: a free port on 127.0.0.1, a known token, no browser), in a Jupyter
   home of its own whose settings start empty, as a new user's do. Chromium opens the URL,
   runs the notebook's first cells as a person would (Shift+Enter), sees the CircuitExplorer
   drawn and no "Jupyter news?" toast (the settings the setup put in the venv), and saves the
   notebook; then the server and its kernel are stopped (the process group the script's
   ``exec`` leaves JupyterLab leading), and ``git status`` is clean: ``npm ci`` left the lock
   alone and JupyterLab saved the copy in ``notebooks/``, not the tracked example.
2. ``scripts/test.sh`` then runs in the same clone: it sets up ``.venv-tl3`` too, runs the
   JavaScript typecheck and tests, and runs pytest on both TransformerLens generations -- on
   the small named subset in :data:`INNER_SUBSET`, not the whole suite: the whole suite from a
   clean clone is what CI's ``.ci/run`` already is (``exec scripts/test.sh``), and running it a
   second time inside itself would double CI's time. So this proves setup from nothing, the
   JS checks, and that the Python and browser tests can run from the fresh environments; the
   full suite's passing is proved by CI itself. ``git status`` is clean after it too.

The inner run never runs this test again (it is not in the subset, and
``CW_README_TEST_NESTED`` makes it skip). It runs once per CI run, under TransformerLens 4.x:
it builds its own virtualenvs, so running it again under the 3.x venv would prove nothing more.

pip installs ``torch==2.13.0`` (CPU) first, as setup.sh does, from pip's cache or the local
wheel mirror; npm packages come from npm's cache.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from circuitwidgets.model import transformer_lens_version

from . import server
from .conftest import VIEWPORT
from .notebook import wait_for_kernel

REPO = Path(__file__).resolve().parents[2]
NESTED = "CW_README_TEST_NESTED"
#: What the inner ``scripts/test.sh`` runs, on each TransformerLens generation: the adapter on
#: every model kind, the pocket models, and one real-browser view in JupyterLab.
INNER_SUBSET = ["tests/test_model.py", "tests/test_pocket.py", "tests/browser/test_token_view.py"]
NOTEBOOK = "notebooks/quickstart.ipynb"    # what quickstart.sh opens: the user's copy of examples/'s
SETUP_TIMEOUT_S = 900   # a fresh virtualenv: torch, TransformerLens, JupyterLab ...
TEST_TIMEOUT_S = 1500

pytestmark = pytest.mark.skipif(
    bool(os.environ.get(NESTED)), reason="inside the README test's own run of scripts/test.sh"
)
#: The two end-to-end tests: minutes each, and once per CI run.
end_to_end = pytest.mark.skipif(
    transformer_lens_version() < (4,), reason="runs once per CI run, under TransformerLens 4.x"
)


def readme_commands() -> list[str]:
    """The commands of README.md's first code block, comments stripped."""
    block = re.search(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert block, "README.md has no ```bash block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.split("#", 1)[0].strip()]


def test_the_readme_starts_with_the_two_commands():
    assert readme_commands() == ["scripts/quickstart.sh", "scripts/test.sh"]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout
    if dirty:
        print(f"note: uncommitted changes are not in the clone:\n{dirty}")
    target = tmp_path_factory.mktemp("readme") / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(target)], check=True)
    return target


def _served_path(log: Path, notebook: Path) -> str:
    """``notebook``'s path in the server's URLs: relative to the folder it says it serves
    (``jupyter lab FILE`` serves FILE's folder)."""
    served = re.search(r"Serving notebooks from local directory: (.+)", log.read_text(errors="replace"))
    assert served, "JupyterLab did not say which folder it serves"
    return notebook.relative_to(Path(served.group(1).strip())).as_posix()


def _clean_env(home: Path, *, lab_settings: bool = True) -> dict:
    """The test's environment without what would point the clone at this checkout or venv."""
    env = server.isolated_env(home, lab_settings=lab_settings)
    for name in ("PYTHONPATH", "VIRTUAL_ENV", NESTED):
        env.pop(name, None)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv_bin)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


@pytest.mark.slow
@end_to_end
def test_quickstart_command_opens_the_notebook_and_draws_a_widget(clone, tmp_path, browser):
    # The session's Chromium (the `browser` fixture): a second sync_playwright() in the same
    # process refuses to start while the first one's event loop runs.
    from playwright.sync_api import expect
    command = readme_commands()[0]
    port, token = server.free_port(), secrets.token_hex(16)
    flags = [
        "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to see the kernel's state
        "--LabApp.extension_manager=readonly",  # no PyPI queries from the extension manager
    ]
    log = tmp_path / "quickstart.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*shlex.split(command), *flags], cwd=clone, env=_clean_env(tmp_path / "home", lab_settings=False),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    lab = server.JupyterServer(url=f"http://127.0.0.1:{port}", token=token, process=process, log=log, root=clone)
    try:
        server.wait_until_up(lab, SETUP_TIMEOUT_S)
        assert (clone / ".venv-tl4" / "bin" / "python").exists()
        context = browser.new_context(viewport=VIEWPORT)
        try:
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(lab.page_url(f"lab/tree/{_served_path(log, clone / NOTEBOOK)}"))
            cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
            expect(cells.first).to_be_visible(timeout=120_000)
            wait_for_kernel(page, timeout=120)
            # Cell 0 is the title, 1 loads the model, 2 is text, 3 shows the CircuitExplorer.
            cells.nth(1).locator(".jp-InputPrompt").click()
            for _ in range(3):
                page.keyboard.press("Shift+Enter")
            view = cells.nth(3).locator(".jp-OutputArea .cw-circuit-explorer")
            expect(view).to_have_attribute("data-ready", "true", timeout=240_000)
            expect(view.get_by_role("button", name="layer 1 head 3", exact=True).first).to_be_visible()
            expect(page.get_by_text("official Jupyter news")).to_have_count(0)
            page.keyboard.press("Control+s")   # what autosave does anyway, now
            page.wait_for_function("() => !jupyterapp.shell.currentWidget.context.model.dirty")
        finally:
            context.close()
    except Exception:
        print(lab.log_tail(60))
        raise
    finally:
        server.stop(lab)
    assert process.poll() is not None
    assert _git_status(clone) == ""


def _git_status(clone: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.slow
@end_to_end
def test_test_command_sets_up_and_runs_a_named_subset(clone, tmp_path):
    command = readme_commands()[1]
    env = _clean_env(tmp_path / "home")
    env[NESTED] = "1"
    result = subprocess.run(
        [*shlex.split(command), "-q", *INNER_SUBSET], cwd=clone, env=env,
        capture_output=True, text=True, timeout=TEST_TIMEOUT_S,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert (clone / ".venv-tl3" / "bin" / "python").exists()
    runs = re.findall(r"== Python tests on TransformerLens (\d)\.x", output)
    assert runs == ["4", "3"], output[-3000:]
    summaries = re.findall(r"^(\d+) passed", output, re.M)
    assert len(summaries) == 2 and all(int(n) > 0 for n in summaries), output[-3000:]
    assert _git_status(clone) == ""
