"""One error handler: VIPKB errors become a page or JSON with the error's HTTP status."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from vipkb.errors import VipkbError

__all__ = ["REST_PREFIX", "error_json", "init_app", "wants_json"]

#: Where the VIP/CARMIN REST API lives.
REST_PREFIX = "/rest/"


def wants_json() -> bool:
    """Whether the client prefers JSON to HTML."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or request.path.startswith(REST_PREFIX)


def error_json(status: int, message: str):
    """The JSON error of the platform: ``{"errorCode", "errorMessage"}``, exactly these keys, in this order.

    Under ``/rest/`` the code is VIP's five-digit form (status x 100 + 1: 40101 for a bad API key, which the
    VIP client recognises); elsewhere it is the HTTP status.
    """
    code = status * 100 + 1 if request.path.startswith(REST_PREFIX) else status
    return jsonify({"errorCode": code, "errorMessage": message}), status


def _answer(status: int, message: str):
    if wants_json():
        return error_json(status, message)
    return render_template("error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(VipkbError)
    def vipkb_error(err: VipkbError):
        return _answer(err.http_status, str(err))

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        return _answer(err.code or 500, err.description or err.name)
