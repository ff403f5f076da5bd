"""Web fixtures: the app on a private copy of the seeded knowledge base, with one finished run."""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import waitress
from playwright.sync_api import Browser, sync_playwright

from vipkb import KnowledgeBase, Settings
from vipkb.accounts import AccountStore
from vipkb.runs import execute_run, plan_run
from vipkb.stores.oxigraph_ import EmbeddedStore
from webapp import create_app

#: Password of the web tests' accounts.
PASSWORD = "a long enough passphrase"
# The network here is closed: these flags stop Chromium calling home (refused connections, QUIC probes).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def kb_copy(seeded_kb: KnowledgeBase, root: Path, **settings) -> KnowledgeBase:
    """A private in-memory copy of the seeded knowledge base, with its cache, runs and users' file spaces under
    ``root`` and the seeded file store (unless ``settings`` say otherwise)."""
    store = EmbeddedStore(None)
    store.oxigraph.extend(seeded_kb.store.oxigraph)
    defaults = {"files_url": seeded_kb.settings.files_url, "cache_dir": root / "cache", "runs_dir": root / "runs",
                "homes_url": str(root / "homes")}
    return KnowledgeBase(store, settings=Settings(**{**defaults, **settings}))


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """``files`` (name -> bytes) as the bytes of a zip archive."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


@contextmanager
def chromium() -> Iterator[Browser]:
    """The system Chromium under Playwright (never a download); a missing one fails the test, never skips it."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("no `chromium` on PATH: install the Debian package (apt-get install -y chromium), as .ci/run does")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def web_kb(seeded_kb, tmp_path_factory) -> KnowledgeBase:
    kb = kb_copy(seeded_kb, tmp_path_factory.mktemp("web"))
    spec = plan_run(kb, "contrast-detail", "mri", {"matrix_readout": 32, "matrix_phase": 32}, seed=1)
    assert execute_run(kb, spec, backend="inline", agent="carol").status == "succeeded"
    return kb


@pytest.fixture(scope="module")
def web_accounts(tmp_path_factory) -> AccountStore:
    """Accounts of the web tests (never the working directory's): one user, ``rosa``."""
    store = AccountStore(tmp_path_factory.mktemp("web-accounts") / "accounts.sqlite")
    store.create_user("rosa", "user", PASSWORD)
    return store


@pytest.fixture(scope="module")
def app(web_kb, web_accounts):
    return create_app({"TESTING": True, "SECRET_KEY": "test", "ACCOUNTS": web_accounts}, kb=web_kb)


@pytest.fixture
def client(app):
    return app.test_client()


@contextmanager
def served(app) -> Iterator[str]:
    """The app under a real WSGI server (waitress) on a free loopback port, in a daemon thread; yields its URL."""
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # Let clients' keep-alive connections close before stopping, so no socket is left to warn at collection.
        deadline = time.monotonic() + 5
        while server.active_channels and time.monotonic() < deadline:
            time.sleep(0.05)
        server.close()
        server.task_dispatcher.shutdown()
        thread.join(timeout=5)


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of the form on ``path`` (as a browser would read it)."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, name: str, password: str = PASSWORD, *, ip: str = "127.0.0.1", next: str | None = None):
    """Sign ``client`` in through the login form, CSRF token included."""
    data = {"name": name, "password": password, "csrf_token": csrf_token(client)}
    if next is not None:
        data["next"] = next
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": ip})


@dataclass
class ServedProcess:
    """A `vipkb serve` child process: its URL, and what it printed (once stopped)."""

    url: str
    process: subprocess.Popen
    output: str = ""


@contextmanager
def serve_process(cwd, *, timeout: float = 90) -> Iterator[ServedProcess]:
    """``vipkb serve`` in a child process on a free loopback port (environment as the caller set it), yielded
    once it answers; stopped afterwards, its output kept."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "vipkb"), "serve", "--port", str(port)],
                              env=dict(os.environ), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    url = f"http://127.0.0.1:{port}"
    served = ServedProcess(url, server)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/rest/platform", timeout=5) as response:
                    response.read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    raise AssertionError(f"vipkb serve did not start: {server.communicate()[0]}") from None
                time.sleep(0.2)
        yield served
    finally:
        if server.poll() is None:
            server.terminate()
        served.output = server.communicate(timeout=30)[0]
