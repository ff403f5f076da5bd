"""What the app holds once: the knowledge base (one store handle per app) and a persistent secret key."""

from __future__ import annotations

import atexit
import os
import secrets
from pathlib import Path

from flask import Flask, current_app

from vipkb.config import Settings
from vipkb.kb import KnowledgeBase

__all__ = ["get_kb", "init_app"]


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
    """Open the knowledge base once for the app (unless one is given) and make sure a secret key exists."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app)
    if kb is None:
        kb = KnowledgeBase.open(Settings.from_env())
        atexit.register(kb.close)
    app.extensions["vipkb"] = kb


def get_kb() -> KnowledgeBase:
    """The knowledge base of the current app."""
    return current_app.extensions["vipkb"]
