"""``path/...``: the caller's file space (``/vip/Home``): exists, properties, list, content, md5, upload,
folders, recursive delete."""

from __future__ import annotations

import hashlib

from flask import Response, jsonify, request

from vipkb.errors import ParameterError
from webapp.rest import caller, files_of, route

ACTIONS = ("exists", "properties", "list", "content", "md5")


def _path(sub: str) -> str:
    return "/" + sub


@route("/path/<path:sub>", methods=["GET"])
def get_path(sub: str):
    """``?action=exists|properties|list|content|md5`` on the path."""
    files = files_of(caller().name)
    path, action = _path(sub), request.args.get("action", "")
    if action not in ACTIONS:
        raise ParameterError(f"action={action!r}: give one of {', '.join(ACTIONS)}")
    if action == "exists":
        return jsonify({"exists": files.exists(path)})
    if action == "properties":
        return jsonify(files.info(path).as_dict())
    if action == "list":
        return jsonify([i.as_dict() for i in files.list(path)])
    data = files.read(path)
    if action == "md5":
        return jsonify({"md5": hashlib.md5(data, usedforsecurity=False).hexdigest()})
    info = files.info(path)
    name = info.path.rsplit("/", 1)[-1]
    return Response(data, mimetype=info.mime_type or "application/octet-stream",
                    headers={"Content-Disposition": f"attachment; filename=\"{name}\""})


@route("/path/<path:sub>", methods=["PUT"])
def put_path(sub: str):
    """Upload the body as a file (its folder must exist), or create a folder: a path ending in ``/`` or a bare
    ``PUT`` without body and content type."""
    files = files_of(caller().name)
    data = request.get_data(cache=False)
    folder = request.path.endswith("/") or (not data and not request.content_type)
    if folder:
        if data:
            raise ParameterError(f"{_path(sub)}: a path ending in / names a folder; send no body to create it")
        return jsonify(files.mkdir(_path(sub)).as_dict()), 201
    return jsonify(files.write(_path(sub), data).as_dict()), 201


@route("/path/<path:sub>", methods=["DELETE"])
def delete_path(sub: str):
    """Delete the file or folder, with everything inside."""
    files_of(caller().name).delete(_path(sub))
    return "", 204
