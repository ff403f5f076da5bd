"""The OpenAPI 3 document of the REST API (``/rest/openapi.json``), tested against the server by schemathesis."""

from __future__ import annotations

from flask import jsonify

from vipkb import __version__
from vipkb.executions import VIP_STATUS
from webapp.auth import API_KEY_HEADER
from webapp.rest import route

_JSON = "application/json"
_ERROR = {"$ref": "#/components/schemas/Error"}
_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_VALUE = {"oneOf": [_STR, {"type": "number"}, _BOOL]}
_STATUSES = sorted(set(VIP_STATUS.values()) | {"Unknown"})


def _obj(required: list[str], nullable: tuple[str, ...] = (), **props) -> dict:
    for name in nullable:
        props[name] = {**props[name], "nullable": True}
    out = {"type": "object", "properties": props}
    if required:  # OpenAPI 3.0: a present "required" lists at least one name
        out["required"] = required
    return out


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    text = {400: "malformed request or input value", 401: "missing, invalid or revoked API key",
            403: "not allowed for this account", 404: "no such resource", 409: "conflicts with what is there",
            413: "request body too large", 422: "cannot be done in this state", 429: "too many failed sign-ins"}
    return {str(s): _json(_ERROR, text[s]) for s in statuses}


def _op(summary: str, responses: dict, *, public: bool = False, params: list | None = None,
        body: dict | None = None) -> dict:
    op = {"summary": summary, "responses": responses}
    if public:
        op["security"] = []
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    return op


def _query(name: str, schema: dict, *, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema}


_PATH = {"name": "sub", "in": "path", "required": True, "description": "the path after /rest/path, e.g. "
         "vip/Home/API/session/INPUTS/model.zip", "schema": {"type": "string", "pattern": "^vip(/[^/]+)*$"}}
_EXEC = {"name": "execution_id", "in": "path", "required": True, "schema": _STR}
_PLATFORM = _obj(["platformName", "supportedAPIVersion"], platformName=_STR, platformDescription=_STR,
                 supportedAPIVersion=_STR, supportedModules={"type": "array", "items": _STR},
                 maxSizeDirectTransfer=_INT, studiesSupport=_BOOL, isKillExecutionSupported=_BOOL)
_DELETE_FILES = _query("deleteFiles", {"type": "string", "enum": ["true", "false"]})


def document() -> dict:
    """The OpenAPI document of the routes under ``/rest``."""
    auth = _errors(401)
    text = {"description": "OK", "content": {"text/plain": {"schema": _STR}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "VIPKB REST API (VIP / CARMIN)", "version": __version__,
                 "description": "The routes of the Virtual Imaging Platform's REST API that the official VIP "
                                "Python client (vip-client) uses, following CARMIN 0.3.1 where the client does "
                                "not differ. Every route needs the apikey header unless marked otherwise."},
        "servers": [{"url": "/rest"}],
        "security": [{"apikey": []}],
        "paths": {
            "/platform": {
                "get": _op("What this platform is and supports", {"200": _json(_PLATFORM)}, public=True),
                "put": _op("Check an API key (the VIP client's handshake)", {"200": _json(_PLATFORM), **auth}),
            },
            "/authenticate": {"post": _op(
                "Exchange a name and password for a new API key",
                {"200": _json(_obj(["httpHeader", "httpHeaderValue"], httpHeader=_STR, httpHeaderValue=_STR)),
                 **_errors(400, 401, 429)}, public=True,
                body={"required": True, "content": {_JSON: {"schema": _obj(
                    ["username", "password"], username=_STR, password=_STR)}}})},
            "/pipelines": {"get": _op("The pipelines (simulators)", {
                "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/Pipeline"}}), **auth})},
            "/pipelines/{identifier}": {"get": _op(
                "One pipeline with its parameters", {"200": _json({"$ref": "#/components/schemas/Pipeline"}),
                                                     **auth, **_errors(404)},
                params=[{"name": "identifier", "in": "path", "required": True, "schema": _STR,
                         "description": "name/version, sent with its slash (e.g. mri/1.0)"}])},
            "/executions": {
                "get": _op("The caller's executions, newest first", {
                    "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/Execution"}}),
                    **auth, **_errors(400)},
                    params=[_query("offset", {"type": "integer", "minimum": 0}),
                            _query("limit", {"type": "integer", "minimum": 0})]),
                "post": _op("Launch a pipeline", {
                    "200": _json({"$ref": "#/components/schemas/Execution"}), **auth, **_errors(400, 404, 409)},
                    body={"required": True, "content": {_JSON: {"schema": _obj(
                        ["name", "pipelineIdentifier", "inputValues"], name=_STR, pipelineIdentifier=_STR,
                        inputValues={"type": "object", "additionalProperties": _VALUE}, resultsLocation=_STR)}}}),
            },
            "/executions/count": {"get": _op("How many executions the caller has", {"200": text, **auth})},
            "/executions/{execution_id}": {
                "get": _op("One execution", {"200": _json({"$ref": "#/components/schemas/Execution"}),
                                             **auth, **_errors(404)}, params=[_EXEC]),
                "delete": _op("Kill if running, then forget the execution", {
                    "204": {"description": "deleted"}, **auth, **_errors(400, 403, 404, 409)},
                    params=[_EXEC, _DELETE_FILES]),
            },
            "/executions/{execution_id}/results": {"get": _op("The files the execution returned", {
                "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/Path"}}),
                **auth, **_errors(404)}, params=[_EXEC])},
            "/executions/{execution_id}/stdout": {"get": _op("The run's log", {"200": text, **auth, **_errors(404)},
                                                             params=[_EXEC])},
            "/executions/{execution_id}/stderr": {"get": _op("Why it failed", {"200": text, **auth, **_errors(404)},
                                                             params=[_EXEC])},
            "/executions/{execution_id}/kill": {"put": _op("Stop the execution", {
                "204": {"description": "killed"}, **auth, **_errors(400, 403, 404, 409)},
                params=[_EXEC, _DELETE_FILES])},
            "/path/{sub}": {
                "get": _op("exists, properties, list, content or md5 of a path", {
                    "200": {"description": "OK", "content": {
                        _JSON: {"schema": {"anyOf": [
                            _obj(["exists"], exists=_BOOL), _obj(["md5"], md5=_STR),
                            {"$ref": "#/components/schemas/Path"},
                            {"type": "array", "items": {"$ref": "#/components/schemas/Path"}}]}},
                        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                        "*/*": {"schema": {"type": "string", "format": "binary"}}}},
                    **auth, **_errors(400, 404, 409)},
                    params=[_PATH, _query("action", {"type": "string", "enum": ["exists", "properties", "list",
                                                                                 "content", "md5"]},
                                          required=True)]),
                "put": _op("Upload a file (its folder must exist), or create a folder (no body)", {
                    "201": _json({"$ref": "#/components/schemas/Path"}), **auth, **_errors(400, 404, 409, 413)},
                    params=[_PATH], body={"required": False, "content": {
                        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}),
                "delete": _op("Delete a file or folder with everything in it", {
                    "204": {"description": "deleted"}, **auth, **_errors(400, 404, 409)}, params=[_PATH]),
            },
        },
        "components": {
            "securitySchemes": {"apikey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}},
            "schemas": {
                "Error": {**_obj(["errorCode", "errorMessage"], errorCode=_INT, errorMessage=_STR),
                          "additionalProperties": False},
                "Parameter": _obj(["name", "type", "isOptional", "isReturnedValue", "defaultValue"],
                                  ("defaultValue",), name=_STR, description=_STR, isOptional=_BOOL,
                                  isReturnedValue=_BOOL, defaultValue=_VALUE,
                                  type={"type": "string", "enum": ["File", "String", "Boolean", "Int64", "Double",
                                                                   "List"]}),
                "Pipeline": _obj(["identifier", "name", "version", "description", "canExecute"], identifier=_STR,
                                 name=_STR, version=_STR, description=_STR, canExecute=_BOOL,
                                 parameters={"type": "array", "items": {"$ref": "#/components/schemas/Parameter"}}),
                "Execution": _obj(
                    ["identifier", "name", "pipelineIdentifier", "status", "startDate", "returnedFiles"],
                    ("returnedFiles",), identifier=_STR, name=_STR, pipelineIdentifier=_STR,
                    status={"type": "string", "enum": _STATUSES}, startDate=_INT, resultsLocation=_STR,
                    inputValues={"type": "object", "additionalProperties": _STR}, errorMessage=_STR,
                    returnedFiles={"type": "object", "additionalProperties": {"type": "array", "items": _STR}}),
                "Path": _obj(["path", "isDirectory", "size"], path=_STR, platformPath=_STR, isDirectory=_BOOL,
                             size=_INT, exists=_BOOL, lastModificationDate=_INT, mimeType=_STR, executionId=_STR),
            },
        },
    }


@route("/openapi.json", methods=["GET"])
def openapi():
    """This API as an OpenAPI 3 document (public)."""
    return jsonify(document())
