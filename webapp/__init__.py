"""The Flask web platform: a thin layer over :mod:`vipkb`.

``create_app`` is the application factory: defaults, then the instance
configuration (or the test configuration), then ``VIPKB_*`` environment
variables (``VIPKB_SECRET_KEY`` ...).  One blueprint per surface; views call
the core (:mod:`vipkb.catalog`, :mod:`vipkb.models.repository`,
:mod:`vipkb.runs` ...) and never hold SPARQL or physics themselves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from vipkb.kb import KnowledgeBase

__all__ = ["create_app"]


def create_app(test_config: Mapping[str, Any] | None = None, *, kb: KnowledgeBase | None = None) -> Flask:
    """Build the web application.

    Parameters
    ----------
    test_config
        Configuration replacing the instance configuration (tests).
    kb
        An open knowledge base to serve; by default the one the environment names is opened once.
    """
    # The instance folder (session secret, optional config.py) lives with the other state, under var/.
    instance = os.path.abspath(os.environ.get("VIPKB_INSTANCE") or "var/instance")
    app = Flask(__name__, instance_path=instance, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=None,  # set by init_app from the instance folder when not configured
        PREVIEW_MAX_SIZE=384,
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SPARQL_TIMEOUT=10.0,
        SPARQL_MAX_RESULTS=10_000,
        SPARQL_SLOTS=max(2, os.cpu_count() or 2),
        RUN_BACKEND="local",  # where launched runs execute: inline, local, dask or tcp://scheduler:port
        RUN_SLOTS=1,  # runs executed at the same time
        RUN_RECOVER=True,  # resume the runs a previous server process left queued or running
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    app.config.from_prefixed_env("VIPKB")

    from webapp import admin, annotate, auth, catalog, errors, extensions, linked, rest, runs, simulate, sparql, upload

    extensions.init_app(app, kb=kb)
    errors.init_app(app)
    auth.init_app(app)
    app.register_blueprint(catalog.bp)
    app.register_blueprint(linked.bp)
    app.register_blueprint(annotate.bp)
    app.register_blueprint(simulate.bp)
    app.register_blueprint(runs.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(upload.bp)
    sparql.init_app(app)
    rest.init_app(app)
    return app
