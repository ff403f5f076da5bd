"""``executions``: launch a pipeline, follow it, read its logs and results, kill or delete it."""

from __future__ import annotations

from flask import Response, jsonify, request

from vipkb.admin import plain_reason
from vipkb.errors import ParameterError
from vipkb.executions import (
    Execution,
    count_executions,
    delete_execution,
    get_execution,
    kill_execution,
    list_executions,
    start_execution,
    write_results,
)
from vipkb.pipelines import get_pipeline, parse_inputs
from vipkb.runs.workdir import RunDirectory
from webapp.extensions import get_kb, whole_kb
from webapp.rest import caller, files_of, launcher, reader, route


def _fresh(execution: Execution) -> Execution:
    """The execution with its results written to its owner's file space if its run has succeeded."""
    return write_results(whole_kb(), execution, files_of(execution.owner))


def _execution(execution_id: str) -> Execution:
    caller()
    return _fresh(get_execution(get_kb(), execution_id))


def _flag(name: str) -> bool:
    value = request.args.get(name, "false").lower()
    if value not in ("true", "false"):
        raise ParameterError(f"{name}={value!r}: use true or false")
    return value == "true"


def _page() -> tuple[int, int | None]:
    try:
        offset = int(request.args.get("offset", 0))
        limit = int(request.args["limit"]) if "limit" in request.args else None
    except ValueError:
        raise ParameterError("offset and limit are non-negative integers") from None
    if offset < 0 or (limit is not None and limit < 0):
        raise ParameterError("offset and limit are non-negative integers")
    return offset, limit


@route("/executions", methods=["GET"])
def executions():
    """The caller's own executions, newest first (``offset``, ``limit``); as in VIP, an administrator's list holds
    only the administrator's own (other users' executions are reachable by id)."""
    account = caller()
    offset, limit = _page()
    items = list_executions(get_kb(), owner=account.name)[offset:]
    return jsonify([_fresh(e).as_dict() for e in (items if limit is None else items[:limit])])


@route("/executions/count", methods=["GET"])
def count():
    """How many executions the caller has (plain text)."""
    return Response(str(count_executions(get_kb(), owner=caller().name)), mimetype="text/plain")


@route("/executions", methods=["POST"])
def create():
    """Launch: ``{name, pipelineIdentifier, inputValues, resultsLocation}``; the execution exists at once."""
    account = caller()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ParameterError("send the execution as a JSON object: {name, pipelineIdentifier, inputValues, "
                             "resultsLocation}")
    name, ident = body.get("name"), body.get("pipelineIdentifier")
    inputs, location = body.get("inputValues", {}), body.get("resultsLocation", "/vip/Home")
    if not isinstance(name, str) or not isinstance(ident, str) or not isinstance(inputs, dict) \
            or not isinstance(location, str):
        raise ParameterError("name, pipelineIdentifier and resultsLocation are strings, inputValues an object")
    try:
        pipeline = get_pipeline(get_kb(), ident)
    except LookupError as err:
        raise ParameterError(f"pipelineIdentifier: {err}") from None
    execution = start_execution(whole_kb(), launcher(), reader=reader(), pipeline=pipeline,
                                launch=parse_inputs(pipeline, inputs), name=name, results_location=location,
                                files=files_of(account.name))
    return jsonify(execution.as_dict())


@route("/executions/<execution_id>", methods=["GET"])
def execution(execution_id: str):
    """One execution: status, inputs, and ``returnedFiles`` once finished."""
    return jsonify(_execution(execution_id).as_dict())


@route("/executions/<execution_id>/results", methods=["GET"])
def results(execution_id: str):
    """The files the execution returned, as path objects (``exists`` false once deleted)."""
    e = _execution(execution_id)
    files = files_of(e.owner)
    out = []
    for path in e.returned:
        entry = files.info(path).as_dict() if files.exists(path) else \
            {"path": path, "platformPath": path, "isDirectory": False, "size": 0, "exists": False}
        out.append({**entry, "executionId": e.id})
    return jsonify(out)


@route("/executions/<execution_id>/stdout", methods=["GET"])
def stdout(execution_id: str):
    """The run's log (plain text)."""
    e = _execution(execution_id)
    return Response(RunDirectory(whole_kb().settings.runs_dir, e.run_id).log_text(), mimetype="text/plain")


@route("/executions/<execution_id>/stderr", methods=["GET"])
def stderr(execution_id: str):
    """Why the execution failed or was killed, in plain words ("" otherwise)."""
    e = _execution(execution_id)
    return Response(plain_reason(e.error) + ("\n" if e.error else ""), mimetype="text/plain")


@route("/executions/<execution_id>/kill", methods=["PUT"])
def kill(execution_id: str):
    """Stop the execution (``deleteFiles=true`` also deletes its results folder)."""
    e = _execution(execution_id)
    kill_execution(whole_kb(), e, reader=reader(), files=files_of(e.owner), delete_files=_flag("deleteFiles"))
    return "", 204


@route("/executions/<execution_id>", methods=["DELETE"])
def delete(execution_id: str):
    """Kill the execution if it runs and forget it (``deleteFiles=true``: its results folder too)."""
    e = _execution(execution_id)
    delete_execution(whole_kb(), e, reader=reader(), files=files_of(e.owner), delete_files=_flag("deleteFiles"))
    return "", 204
