"""What the app holds once: the knowledge base (one store handle per app) and a persistent secret key.

Pages read the knowledge base through :func:`get_kb`, the view of the
current caller: other users' private graphs are not in it (see
:mod:`vipkb.access`).  :func:`whole_kb` is for writes and administration,
after the caller's rights have been checked.
"""

from __future__ import annotations

import atexit
import os
import secrets
from pathlib import Path

from flask import Flask, current_app, g

from vipkb.access import Reader
from vipkb.config import Settings
from vipkb.kb import KnowledgeBase
from vipkb.runs.launcher import Launcher

__all__ = ["current_reader", "get_kb", "init_app", "whole_kb"]


def _secret_key(app: Flask) -> str:
    # Sessions must survive a restart: keep a random key in the instance folder (never in the knowledge base).
    path = Path(app.instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def init_app(app: Flask, *, kb: KnowledgeBase | None = None) -> None:
    """Open the knowledge base once for the app (unless one is given), start the run launcher (resuming runs a
    previous process left behind) and make sure a secret key exists."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app)
    if kb is None:
        kb = KnowledgeBase.open(Settings.from_env())
        atexit.register(kb.close)
    app.extensions["vipkb"] = kb
    launcher = Launcher(kb, backend=str(app.config["RUN_BACKEND"]), slots=int(app.config["RUN_SLOTS"]))
    app.extensions["launcher"] = launcher
    atexit.register(launcher.close)
    if app.config.get("RUN_RECOVER"):
        launcher.recover()


def whole_kb() -> KnowledgeBase:
    """The app's whole knowledge base: for writes and administrators, once the caller's rights are checked."""
    return current_app.extensions["vipkb"]


def current_reader() -> Reader:
    """Who reads in the current request (set by :mod:`webapp.auth` before the view runs)."""
    return Reader.of(g.get("account"))


def get_kb() -> KnowledgeBase:
    """The knowledge base as the current caller may see it: other users' private graphs left out."""
    view = g.get("vipkb_view")
    if view is None:
        view = g.vipkb_view = whole_kb().for_reader(current_reader())
    return view
