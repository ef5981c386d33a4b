"""Fixtures for the real-browser tests: one Chromium and one Jupyter server (JupyterLab and
Notebook 7) per session, and a marimo server per marimo app a test module opens.

Run them with ``pytest -m browser`` (they are also part of a plain ``pytest`` run). They need
Debian's Chromium at /usr/bin/chromium (Playwright drives it; never ``playwright install``)
and the built JavaScript (``npm run build``). Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import importlib.util

import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect

from . import server
from .notebook import Notebook, open_notebook

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}
#: Generous waits (ms): the test machine may be a busy 2-core box.
ACTION_TIMEOUT = 60_000
EXPECT_TIMEOUT = 30_000


#: Browser modules run on TransformerLens 4 only. Their JavaScript and their Python are the same
#: on both generations; what differs, the model kind, their unit tests (and the other browser
#: modules) cover on 3.x too. Run once, they keep CI under its 45-minute budget.
TL4_ONLY = {
    "test_ablation.py", "test_attention_heads.py", "test_composition_graph.py", "test_flow_graph.py", "test_patching_explorer.py",
    "test_path_explorer.py", "test_robustness.py", "test_long_text.py",
}


def pytest_collection_modifyitems(items):
    from circuitwidgets.model import transformer_lens_version

    here = Path(__file__).parent
    tl3 = transformer_lens_version() < (4,)
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
            if tl3 and Path(item.fspath).name in TL4_ONLY:
                item.add_marker(pytest.mark.skip(reason="run on TransformerLens 4 only (tests/browser/conftest.py TL4_ONLY)"))


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"the browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory, browser):
    """JupyterLab and Notebook 7 (one server); see :mod:`.server`."""
    # The widgets need the built JavaScript; pages that are not widgets (the Bokeh report) do not.
    _check_bundle_is_current()
    running = server.start(tmp_path_factory.mktemp("jupyter"))
    yield running
    server.stop(running)


def _check_bundle_is_current():
    """Fail early, naming the build command, if the JS is missing or older than its sources."""
    from circuitwidgets.widgets._bundles import STATIC_DIR, read_bundle

    read_bundle("token_view")  # raises FileNotFoundError naming `npm run build`
    sources = Path(__file__).resolve().parents[2] / "js" / "src"
    built = min(p.stat().st_mtime for p in STATIC_DIR.glob("*.js"))
    stale = [p for p in sources.rglob("*") if p.is_file() and p.stat().st_mtime > built]
    if stale:
        pytest.fail(f"the built JavaScript is older than {stale[0]}; run `npm run build`")


class DialogWatch(list):
    """Every JavaScript dialog (alert, confirm, prompt) a page opened, dismissed at once."""

    def __call__(self, dialog):
        self.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


def _new_page(context):
    """A page with generous timeouts that records its dialogs (``page.dialogs``, dismissed at
    once), console errors and uncaught exceptions (``page.errors``) from the first moment."""
    page = context.new_page()
    page.set_default_timeout(ACTION_TIMEOUT)
    page.dialogs = DialogWatch()
    page.on("dialog", page.dialogs)
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page.errors.append(f"uncaught: {e}"))
    return page


@pytest.fixture(scope="module")
def lab_page(browser, jupyter_server):
    """A Chromium page for JupyterLab (or Notebook 7: see ``notebook7``)."""
    context = browser.new_context(viewport=VIEWPORT)
    yield _new_page(context)
    context.close()


@pytest.fixture(scope="module")
def notebook(lab_page, jupyter_server) -> Notebook:
    """A new JupyterLab notebook with a running Python kernel."""
    return open_notebook(lab_page, jupyter_server)


@pytest.fixture(scope="module")
def notebook7(lab_page, jupyter_server) -> Notebook:
    """A new notebook in Notebook 7 with a running Python kernel (``notebook7.page``). It
    opens on the module's ``lab_page``, so a test module uses ``notebook`` or ``notebook7``,
    not both."""
    return open_notebook(lab_page, jupyter_server, frontend="notebook")


@pytest.fixture(scope="module")
def open_marimo_app(browser, tmp_path_factory):
    """``open_marimo_app(path)`` serves the marimo app file ``path`` with ``marimo run`` (one
    server per file, stopped after the test module) and opens it in a new page, which starts
    a marimo session that runs the app's cells. Returns the page once marimo's app is on it
    (the cells may still be running: wait for what they display). ``page.errors`` and
    ``page.dialogs`` record what went wrong on the page."""
    # Only whether it is installed: marimo runs in its own server process. Importing it here
    # would fail once nnsight is imported in this process (nnsight gives every object, dict
    # included, a ``save`` method, and marimo 0.25's config dataclass of a TypedDict then
    # sees a default before a required field); tests/test_nnsight.py imports nnsight.
    if importlib.util.find_spec("marimo") is None:
        pytest.skip("the marimo tests need marimo (the `test` extra)")
    _check_bundle_is_current()
    context = browser.new_context(viewport=VIEWPORT)
    servers: dict[Path, server.MarimoServer] = {}

    def open_(path: Path):
        path = Path(path).resolve()
        if path not in servers:
            servers[path] = server.start_marimo(tmp_path_factory.mktemp("marimo"), path)
        page = _new_page(context)
        page.goto(servers[path].app_url())
        expect(page.locator("#App")).to_be_visible()
        return page

    yield open_
    context.close()
    for running in servers.values():
        server.stop(running)


@pytest.fixture
def open_static_export(browser):
    """``open_static_export(path)`` opens an exported HTML file from ``file://`` in a page that
    cannot reach the network: every http(s) request is aborted and recorded in
    ``page.blocked`` (tests assert it stays empty); dialogs are recorded in ``page.dialogs``,
    console errors and uncaught exceptions from the first moment in ``page.errors``."""
    context = browser.new_context(viewport=VIEWPORT)
    blocked: list[str] = []

    def block(route):
        blocked.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^https?://"), block)

    def open_(path: Path):
        page = _new_page(context)
        page.blocked = blocked
        page.goto(Path(path).resolve().as_uri())
        return page

    yield open_
    context.close()


@pytest.fixture
def open_export(open_static_export):
    """``page, view, ... = open_export(nb, code, path, ".cw-view", ...)`` runs ``code`` in the
    notebook's kernel (it saves the export at ``path``), opens the file offline with
    ``open_static_export`` and waits until the first view matching each selector is drawn."""

    def open_(nb: Notebook, code: str, path: Path, *selectors: str):
        from playwright.sync_api import expect

        nb.run(code)
        page = open_static_export(path)
        views = [page.locator(s).first for s in selectors]
        for view in views:
            expect(view).to_have_attribute("data-ready", "true")
        return (page, *views)

    return open_


@pytest.fixture
def dark_theme(lab_page):
    """``with dark_theme(view): ...`` runs the block in JupyterLab Dark and switches back to
    Light after it. With a ``view``, the block starts once the view has scrolled into sight and
    redrawn in the dark palette."""

    def set_theme(name: str, light: bool) -> None:
        from playwright.sync_api import expect

        lab_page.evaluate(f"jupyterapp.commands.execute('apputils:change-theme', {{theme: '{name}'}})")
        expect(lab_page.locator("body")).to_have_attribute("data-jp-theme-light", str(light).lower())

    @contextmanager
    def dark(view=None):
        set_theme("JupyterLab Dark", light=False)
        try:
            if view is not None:
                view.scroll_into_view_if_needed()
                lab_page.wait_for_function(
                    "e => getComputedStyle(e).backgroundColor !== 'rgb(255, 255, 255)'", arg=view.element_handle()
                )
                lab_page.wait_for_timeout(400)  # canvases redraw once the palette probe sees the change
            yield
        finally:
            set_theme("JupyterLab Light", light=True)

    return dark
