"""``/models/upload``: a signed-in user uploads a model archive (a ``.zip``) as a private model, then simulates it.

``GET`` shows the form.  ``POST`` saves the upload to a temporary file and
imports it with :func:`vipkb.models.repository.import_model` for the caller
(``owner``): the model gets the id ``<account>~<id>`` and lives in the
caller's private graphs, invisible to other users.  The browser is sent
(303) to the new model's catalog page, whose "Simulate this model" button
leads on.  Uploading the same bytes again changes nothing ("unchanged");
a changed archive with the same id becomes the next version.

A bad archive (not a zip, members escaping the root, a corrupt NIfTI, no
``model.json``, a wrong look-up table...) brings the form back with the
reason and a 400, nothing stored; an archive over the size limits is a 413.
JSON clients (``Accept: application/json``, or an API key) get
``{"model", "version", "unchanged", "ready"}``, 201 when a version was created.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request
from werkzeug.utils import secure_filename

from vipkb.errors import InconsistentError, ModelArchiveError, NotConformingError
from vipkb.models.repository import describe_model, import_model
from webapp.auth import API_KEY_HEADER, current_account, require_role
from webapp.catalog import model_url
from webapp.errors import error_json, wants_json
from webapp.extensions import whole_kb

__all__ = ["bp"]

bp = Blueprint("upload", __name__)

#: Refusals that bring the form back with the reason (their own status: 400, 413 or 422).
_REFUSED = (ModelArchiveError, NotConformingError, InconsistentError)


def _json_client() -> bool:
    return wants_json() or API_KEY_HEADER in request.headers


def _form_page(*, error: str | None = None, status: int = 200):
    page = render_template("upload/form.html", error=error, max_bytes=whole_kb().settings.max_archive_bytes)
    return page, status


@bp.get("/models/upload")
@require_role("user")
def form():
    """The upload form."""
    return _form_page()


@bp.post("/models/upload")
@require_role("user")
def submit():
    """Import the uploaded archive privately for the caller; go to the model's page (or answer JSON)."""
    upload = request.files.get("archive")
    if upload is None or not upload.filename:
        abort(400, "choose a model archive (.zip) to upload in the archive field")
    owner = current_account().name
    name = secure_filename(upload.filename) or "archive.zip"
    # The archive is read from a file of its own, removed whatever happens; messages name the upload, not it.
    with tempfile.TemporaryDirectory(prefix="vipkb-upload-") as tmp:
        path = Path(tmp) / name
        with upload.stream as stream, path.open("wb") as out:
            shutil.copyfileobj(stream, out)
        try:
            result = import_model(whole_kb(), path, owner=owner)
        except _REFUSED as err:
            message = str(err).replace(str(path), name).replace(tmp, "")
            if _json_client():
                return error_json(err.http_status, message)
            return _form_page(error=message, status=err.http_status)
    page = model_url(result.model)
    if _json_client():
        ready = result.commit.ready.get(result.model, []) if result.commit else describe_model(
            whole_kb(), result.model).ready
        answer = {"model": result.model, "version": result.version, "unchanged": result.unchanged,
                  "ready": sorted(ready)}
        return jsonify(answer), 200 if result.unchanged else 201, {"Location": page}
    if result.unchanged:
        flash(f"unchanged: this archive is already version {result.version} of the model; nothing was stored",
              "upload")
    else:
        flash(f"uploaded: version {result.version}, private to {owner}", "upload")
    return redirect(page, code=303)
