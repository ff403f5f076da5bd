"""One error handler: VIPKB errors become a page or JSON with the error's HTTP status."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from vipkb.errors import VipkbError

__all__ = ["init_app", "wants_json"]


def wants_json() -> bool:
    """Whether the client prefers JSON to HTML."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or request.path.startswith("/rest/")


def _answer(status: int, message: str):
    if wants_json():
        return jsonify({"errorCode": status, "errorMessage": message}), status
    return render_template("error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(VipkbError)
    def vipkb_error(err: VipkbError):
        return _answer(err.http_status, str(err))

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        return _answer(err.code or 500, err.description or err.name)
