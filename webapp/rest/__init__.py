"""The REST API of the VIP platform (``/rest/``), as the official VIP Python client speaks it.

It follows the CARMIN API where the VIP client does not differ from it:
``platform`` and ``authenticate`` (:mod:`.platform`), ``pipelines`` (each
simulator is one, :mod:`vipkb.pipelines`), ``executions`` (:mod:`.executions`,
:mod:`vipkb.executions`) and ``path/...`` (the caller's file space,
:mod:`.paths`, :mod:`vipkb.storage.homes`).  The OpenAPI document is
``/rest/openapi.json`` (:mod:`.openapi`).

Every route except ``GET platform``, ``POST authenticate`` and the OpenAPI
document needs the ``apikey`` header: a session cookie is never enough, so
the API needs no CSRF token.  Errors are JSON ``{"errorCode",
"errorMessage"}`` with the right 4xx status (:func:`webapp.errors.error_json`);
a client error is never answered with a 5xx, which the client would retry.
"""

from __future__ import annotations

import functools

from flask import Blueprint, Flask, abort, current_app, g, request
from werkzeug.exceptions import HTTPException

from vipkb.access import Reader
from vipkb.accounts import Account
from vipkb.errors import VipkbError
from vipkb.executions import write_run_results
from vipkb.storage.homes import FileSpace
from webapp.auth import API_KEY_HEADER, csrf_exempt
from webapp.errors import error_json
from webapp.extensions import whole_kb

__all__ = ["bp", "caller", "files_of", "init_app", "launcher", "reader", "route"]

bp = Blueprint("rest", __name__, url_prefix="/rest")


def route(rule: str, **options):
    """``bp.route`` for API views: no CSRF token (the API key is the credential, never a cookie)."""
    def decorate(view):
        return bp.route(rule, **options)(csrf_exempt(view))
    return decorate


@bp.before_request
def _api_key_only():
    # A browser session must not reach the API: only the apikey header authenticates here.
    if API_KEY_HEADER not in request.headers:
        g.account = None


@bp.errorhandler(VipkbError)
def _vipkb_error(err: VipkbError):
    status = err.http_status if err.http_status < 500 or err.http_status == 503 else 500
    return error_json(status, str(err))


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException):
    return error_json(err.code or 500, err.description or err.name)


def caller() -> Account:
    """The account of the API key sent, or a 401 (VIP code 40101) without one."""
    account = g.get("account")
    if account is None:
        abort(401, "send your API key in the apikey header (POST /rest/authenticate gives one)")
    return account


def reader() -> Reader:
    """What the caller may read and change."""
    return Reader.of(caller())


def files_of(name: str) -> FileSpace:
    """The file space of account ``name``."""
    return FileSpace(whole_kb().settings.homes_url, name)


def init_app(app: Flask) -> None:
    """Register the API's routes."""
    from webapp.rest import executions, openapi, paths, platform  # noqa: F401 - they register their routes

    app.register_blueprint(bp)
    # Results reach the users' file spaces as soon as a run ends, not only when a client next asks.
    app.extensions["launcher"].add_listener(functools.partial(write_run_results, app.extensions["vipkb"]))


def launcher():
    """The app's run launcher."""
    return current_app.extensions["launcher"]
