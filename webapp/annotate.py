"""``/annotate``: annotators paste or upload Turtle or JSON-LD, read the SHACL report in plain words, and commit.

``GET`` shows the form.  ``POST`` with ``action=validate`` (the default)
reports per focus node what would be refused; ``action=commit`` writes the
document in one transaction if, and only if, it conforms (else 422 and the
report, nothing written).  Malformed RDF is a 400 with the parser's line and
column, an oversized document a 413, a reserved or private target graph a
403 (the app's error handler answers those).  JSON clients (``Accept:
application/json``, or an API key) get the report as JSON.  The work is done
by :mod:`vipkb.annotation`.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from vipkb.annotation import FORMATS, AnnotationResult, read_submission, submit
from vipkb.errors import DocumentError, VipkbError
from webapp.auth import API_KEY_HEADER, require_role
from webapp.errors import error_json, wants_json
from webapp.extensions import whole_kb

__all__ = ["bp"]

bp = Blueprint("annotate", __name__)

_ACTIONS = ("validate", "commit")


def _form_page(*, text: str = "", format: str = "auto", graph: str = "", result: AnnotationResult | None = None,
               error: str | None = None, status: int = 200):
    page = render_template("annotate/page.html", formats=FORMATS, text=text, format=format, graph=graph,
                           result=result, error=error, max_bytes=whole_kb().settings.max_document_bytes)
    return page, status


def _input() -> tuple[bytes | str, str | None]:
    """The document (an uploaded file wins over pasted text, a raw body for programs) and its file name."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        # One byte past the limit is enough for the parser to refuse it with a 413.  Closed at once: a large
        # upload is spooled to a temporary file.
        with upload.stream as stream:
            return stream.read(whole_kb().settings.max_document_bytes + 1), upload.filename
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.get("text", ""), None
    return request.get_data(), None


def _json_client() -> bool:
    return wants_json() or API_KEY_HEADER in request.headers


@bp.route("/annotate", methods=["GET", "POST"])
@require_role("annotator")
def annotate():
    """The annotation form; on ``POST`` the report, and the commit when asked for and conforming."""
    if request.method == "GET":
        return _form_page()
    action = request.values.get("action", "validate")
    fmt = request.values.get("format") or "auto"
    graph = (request.values.get("graph") or "").strip() or None
    data, filename = _input()
    text = data if isinstance(data, str) else ""
    try:
        if action not in _ACTIONS:
            raise DocumentError(f"unknown action {action!r}; use validate or commit", source="form")
        document = read_submission(whole_kb(), data, format=fmt, filename=filename)
        result = submit(whole_kb(), document, graph=graph, commit=action == "commit")
    except VipkbError as err:
        if _json_client():
            return error_json(err.http_status, str(err))
        # The form comes back with the annotator's text, so that the mistake can be fixed in place.
        return _form_page(text=text, format=fmt, graph=graph or "", error=str(err), status=err.http_status)
    # Refusing to commit is a 422, like any non-conforming write; a mere validation answers 200 either way.
    status = 422 if action == "commit" and not result.conforms else 200
    if _json_client():
        return jsonify(result.as_dict()), status
    return _form_page(text=text, format=fmt, graph=graph or "", result=result, status=status)
