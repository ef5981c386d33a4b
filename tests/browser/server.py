"""Private notebook servers for the browser tests: JupyterLab (which also serves Notebook 7)
and marimo.

Each listens on 127.0.0.1 on a free port, requires a random token, and keeps every setting and
runtime file in a temporary home, so a test run neither reads nor changes the user's
configuration. Python code they run imports this checkout's ``circuitwidgets``
(``PYTHONPATH``), not an installed copy.

One Jupyter server serves both front ends: JupyterLab at ``/lab`` and Notebook 7 at
``/tree`` and ``/notebooks/<file>``. That is what ``jupyter notebook`` runs too (the same
``jupyter_server`` with the ``notebook`` extension); only the page it opens first differs.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]

#: The JupyterLab settings scripts/setup.sh puts in each virtualenv (overrides.d): no news or
#: update prompts over the notebook. The tests' servers write the same ones as user settings
#: (Notebook 7 reads the same settings folder), so they do not depend on how the venv was made.
LAB_OVERRIDES = REPO / "scripts" / "jupyterlab-overrides.json"


def _user_settings() -> dict[str, dict]:
    """``LAB_OVERRIDES`` as user-settings files: ``{"<package>/<plugin>.jupyterlab-settings": values}``."""
    overrides = json.loads(LAB_OVERRIDES.read_text())
    return {f"{plugin.replace(':', '/')}.jupyterlab-settings": values for plugin, values in overrides.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running server process: ``url`` (with no token), ``token``, its ``log`` file."""

    url: str
    token: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


@dataclass
class JupyterServer(Server):
    """A Jupyter server with JupyterLab and Notebook 7; ``root`` is the folder it serves."""

    root: Path

    def page_url(self, path: str = "lab") -> str:
        """``path`` (``lab/...``, ``notebooks/<file>``) with the token in the query."""
        return f"{self.url}/{path}?token={self.token}"

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> dict:
        req = urllib.request.Request(
            f"{self.url}/api/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
        return json.loads(text) if text else {}


def isolated_env(home: Path, *, lab_settings: bool = True, **extra: str) -> dict[str, str]:
    """``os.environ`` with every Jupyter and IPython setting and runtime folder under ``home``
    (with ``lab_settings``, :data:`LAB_OVERRIDES` written there first as user settings; without,
    the folder starts empty, as a new user's does), one thread per kernel, plus ``extra``.
    Nothing of this checkout is on the path: a fresh clone's own virtualenv
    (tests/browser/test_readme_commands.py) runs with this."""
    settings_dir = home / "lab-settings"
    settings_dir.mkdir(parents=True, exist_ok=True)
    for name, value in (_user_settings() if lab_settings else {}).items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _environment(home: Path, **extra: str) -> dict[str, str]:
    """:func:`isolated_env` with this checkout first on the path (the servers' kernels import
    the ``circuitwidgets`` under test, not an installed copy)."""
    env = isolated_env(home, **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _launch(server: Callable[..., Server], cmd: list[str], *, cwd: Path, env: dict[str, str],
            log: Path, ready: Callable[[Server], object], timeout: float, **fields) -> Server:
    """Run ``cmd`` (``python -m <server> ...``) in its own process group (so :func:`stop` ends
    it and its children) and wait until ``ready(server)`` stops raising connection errors."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return wait_until_up(server(process=process, log=log, **fields), timeout, ready=ready, name=cmd[2])


def wait_until_up(server: Server, timeout: float, *, ready: Callable[[Server], object] | None = None,
                  name: str = "the server") -> Server:
    """Return ``server`` once ``ready(server)`` (default: a Jupyter server's ``/api/status``)
    stops raising connection errors; stop it and raise ``RuntimeError`` with its log's tail if
    its process exits or ``timeout`` seconds pass first."""
    ready = ready or (lambda s: s.api("status"))
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"{name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            ready(server)
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                stop(server)
                raise RuntimeError(f"{name} did not answer within {timeout} s:\n{server.log_tail()}")
            time.sleep(0.5)


def _root_flag() -> list[str]:
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # CI runs as root


def start(home: Path, *, timeout: float = 180) -> JupyterServer:
    """Start a Jupyter server (JupyterLab and Notebook 7) with everything under ``home`` (a
    fresh temporary folder)."""
    root = home / "root"
    root.mkdir()
    env = _environment(home)
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # window.jupyterapp (the theme switch, the notebook model) in both front ends
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.extension_manager=readonly",  # no PyPI queries from the extension manager
        *_root_flag(),
    ]
    return _launch(
        JupyterServer, cmd, cwd=root, env=env, log=home / "jupyter.log", timeout=timeout,
        ready=lambda s: s.api("status"), url=f"http://127.0.0.1:{port}", token=token, root=root,
    )


@dataclass
class MarimoServer(Server):
    """``marimo run`` serving one app file."""

    app: Path

    def app_url(self) -> str:
        """The app's page, with the token."""
        return f"{self.url}/?access_token={self.token}"


def start_marimo(home: Path, app: Path, *, timeout: float = 120) -> MarimoServer:
    """Start ``marimo run --headless`` on the app file ``app`` (read-only; each page that
    opens it gets its own session, which runs the app's cells) with a token, everything else
    under ``home``. One file, not a folder: older marimo serves only files."""
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "marimo", "run", str(app),
        "--headless", "--host", "127.0.0.1", "--port", str(port),
        f"--token-password={token}",
    ]
    # marimo keeps its config and state under XDG folders / HOME: put them in the temp home.
    env = _environment(home, HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
                       XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"))
    url = f"http://127.0.0.1:{port}"
    return _launch(
        MarimoServer, cmd, cwd=app.parent, env=env, log=home / "marimo.log", timeout=timeout,
        ready=lambda s: urllib.request.urlopen(f"{url}/health", timeout=5).close(),
        url=url, token=token, app=app,
    )


def stop(server: Server, *, timeout: float = 30) -> None:
    """Stop the server and its kernels (the process group it leads; nothing else)."""
    if server.process.poll() is not None:
        return
    pgid = server.process.pid  # start_new_session: the server leads its own process group
    os.killpg(pgid, signal.SIGTERM)  # the servers shut their kernels down on SIGTERM
    try:
        server.process.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(pgid, signal.SIGKILL)  # whatever of that group is left (a stuck kernel)
    except ProcessLookupError:
        pass
    server.process.wait(10)
