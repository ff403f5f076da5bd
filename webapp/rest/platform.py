"""``platform``, ``authenticate`` and ``pipelines``: what the platform is and what it can run."""

from __future__ import annotations

from flask import current_app, jsonify, request

from vipkb import __version__
from vipkb.errors import ParameterError
from vipkb.pipelines import get_pipeline, list_pipelines
from webapp.auth import API_KEY_HEADER, check_credentials, get_accounts
from webapp.extensions import get_kb
from webapp.rest import caller, route

#: The CARMIN API version the routes follow.
CARMIN_VERSION = "0.3.1"
ERROR_CODES = [(40001, "malformed request or input value"), (40101, "missing, invalid or revoked API key"),
               (40301, "not allowed for this account"), (40401, "no such resource"),
               (40501, "method not allowed on this resource"), (40901, "conflicts with what is there"),
               (41301, "request body too large"), (42201, "cannot be done in this state"),
               (42901, "too many failed sign-ins, retry later"), (50301, "service unavailable, retry later")]


def platform_properties() -> dict:
    """The CARMIN ``PlatformProperties`` of this server."""
    return {
        "platformName": "VIPKB", "platformDescription": "Virtual Imaging Platform knowledge base: medical image "
        f"simulators on object models, with provenance as linked data (vipkb {__version__}).",
        "APIErrorCodesAndMessages": [{"errorCode": c, "errorMessage": m} for c, m in ERROR_CODES],
        "supportedModules": ["Processing", "Data"], "defaultLimitListExecutions": 500,
        "supportedTransferProtocols": ["http", "https"], "supportedDataAccessProtocols": [],
        "supportedAPIVersion": CARMIN_VERSION, "unsupportedMethods": [], "studiesSupport": False,
        "defaultExecutionTimeout": 0, "maxExecutionTimeout": 0,
        "maxSizeDirectTransfer": int(current_app.config.get("MAX_CONTENT_LENGTH") or 0),
        "isKillExecutionSupported": True,
    }


@route("/platform", methods=["GET"])
def platform():
    """What this platform is and supports (public)."""
    return jsonify(platform_properties())


@route("/platform", methods=["PUT"])
def check_key():
    """The VIP client's key check: 200 with a valid ``apikey``, 401 (40101) otherwise."""
    caller()
    return jsonify(platform_properties())


@route("/authenticate", methods=["POST"])
def authenticate():
    """Exchange a name and password for a new API key (labelled as such; revocable with ``vipkb key revoke``)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("username"), str) \
            or not isinstance(body.get("password"), str):
        raise ParameterError('send {"username": ..., "password": ...} as JSON')
    account = check_credentials(body["username"].strip().lower(), body["password"])
    _, key = get_accounts().issue_key(account.name, "REST authenticate")
    return jsonify({"httpHeader": API_KEY_HEADER, "httpHeaderValue": key})


@route("/pipelines", methods=["GET"])
def pipelines():
    """Every pipeline (simulator) the caller can execute."""
    can = caller().can("user")
    return jsonify([p.as_dict(can_execute=can) for p in list_pipelines(get_kb())])


@route("/pipelines/<path:identifier>", methods=["GET"])
def pipeline(identifier: str):
    """One pipeline with its parameters; the identifier ``name/version`` is sent with its slash."""
    can = caller().can("user")
    return jsonify(get_pipeline(get_kb(), identifier).as_dict(can_execute=can, full=True))
