"""Administration, for administrators only: users and keys, runs of every user, backend, storage, statistics.

Each page is a thin layer over :mod:`vipkb.admin` (and :mod:`vipkb.accounts`,
:func:`vipkb.backends.backend_status`), the same functions the CLI prints,
and answers JSON to a client that asks for it.  Actions are form ``POST`` s
with the CSRF token (or API-key requests).  A refused action shows the page
again with the reason and the error's status, having changed nothing.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for

from vipkb.accounts import ROLES
from vipkb.admin import check_self_change, kb_statistics, run_overview, storage_health, storage_summary
from vipkb.backends import BackendStatus, backend_status
from vipkb.errors import ParameterError, VipkbError
from vipkb.runs.launcher import Launcher
from webapp.auth import API_KEY_HEADER, current_account, get_accounts, require_role
from webapp.errors import wants_json
from webapp.extensions import whole_kb

__all__ = ["bp"]

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: Run statuses offered as filters, failures first.
STATUSES = ("failed", "killed", "running", "queued", "succeeded")
#: Statuses of a run that can still be killed.
LIVE = ("queued", "running")
#: Seconds to wait for a Dask scheduler's answer before calling it unreachable (``VIPKB_BACKEND_STATUS_TIMEOUT``).
STATUS_TIMEOUT = 3.0
#: Files verified at most per request (``VIPKB_ADMIN_VERIFY_MAX_FILES``): verifying reads every copy.
VERIFY_MAX_FILES = 2000

admin_only = require_role("administrator")


def _for_program() -> bool:
    return wants_json() or API_KEY_HEADER in request.headers


def _page(template: str, data: dict[str, Any], status: int = 200, **context: Any):
    """``data`` as JSON for programs, else ``template`` rendered with ``data`` and ``context``."""
    if wants_json():
        return jsonify(data), status
    return render_template(template, **data, **context), status


def _backend() -> tuple[Launcher, BackendStatus | None, str]:
    """The launcher, the status of its backend and, if the backend is misconfigured, why."""
    launcher: Launcher = current_app.extensions["launcher"]
    timeout = float(current_app.config.get("BACKEND_STATUS_TIMEOUT", STATUS_TIMEOUT))
    try:
        return launcher, backend_status(launcher.backend, timeout=timeout), ""
    except VipkbError as err:  # an unknown RUN_BACKEND: the page says so instead of failing
        return launcher, None, str(err)


@bp.get("/")
@admin_only
def overview():
    """Headline numbers linking to each section: failing and live runs, replica problems, workers."""
    kb = whole_kb()
    counts = Counter(r.summary.status for r in run_overview(kb))
    storage = storage_summary(kb)
    launcher, status, problem = _backend()
    data = {"runs": {s: counts.get(s, 0) for s in STATUSES}, "files": storage.files,
            "under_replicated": len(storage.under_replicated), "accounts": len(get_accounts().list()),
            "backend": launcher.backend, "active": launcher.active(), "problem": problem,
            "status": status.as_dict() if status else None}
    return _page("admin/overview.html", data)


# -- users and keys ---------------------------------------------------------------------------------------------------


def _users_data() -> dict[str, Any]:
    accounts = get_accounts()
    keys: dict[str, list] = {}
    for info in accounts.list_keys():
        keys.setdefault(info.account, []).append(info.as_dict())
    return {"accounts": [{**a.as_dict(), "keys": keys.get(a.name, []),
                          "last_key_use": max((k["last_used"] for k in keys.get(a.name, []) if k["last_used"]),
                                              default=None)}
                         for a in accounts.list()],
            "roles": list(ROLES)}


def _users_page(status: int = 200, *, message: str = "", new_key: str = "", form: dict | None = None):
    return _page("admin/users.html", _users_data(), status, message=message, new_key=new_key, form=form or {},
                 me=current_account().name)


def _refused(err: VipkbError):
    """A refused account change: the page again with the reason (programs get the usual JSON error)."""
    if _for_program():
        raise err
    return _users_page(err.http_status, message=str(err), form=request.form)


def _done(message: str, payload: dict):
    if _for_program():
        return jsonify(payload)
    flash(message)
    return redirect(url_for("admin.users"), code=303)


@bp.get("/users")
@admin_only
def users():
    """Accounts with role, state, creation, key use and API keys; forms for every change."""
    return _users_page()


@bp.post("/users")
@admin_only
def create_user():
    """Create an account (``name``, ``role``, optional ``password``: without one it uses API keys only)."""
    name = request.form.get("name", "").strip().lower()
    password = request.form.get("password") or None
    try:
        account = get_accounts().create_user(name, request.form.get("role", "user"), password)
    except VipkbError as err:
        return _refused(err)
    return _done(f"created {account.name} ({account.role})", account.as_dict())


@bp.post("/users/<name>/role")
@admin_only
def set_role(name: str):
    """Give an account another role; an administrator cannot demote themselves."""
    role = request.form.get("role", "")
    try:
        check_self_change(current_account(), name, role=role)
        account = get_accounts().set_role(name, role)
    except VipkbError as err:
        return _refused(err)
    return _done(f"{account.name} is now {account.role}", account.as_dict())


@bp.post("/users/<name>/<any(disable, enable):action>")
@admin_only
def switch_user(name: str, action: str):
    """Disable an account (its password and keys stop working at once) or enable it again; never one's own."""
    accounts = get_accounts()
    try:
        if action == "disable":
            check_self_change(current_account(), name, disable=True)
            account = accounts.disable(name)
        else:
            account = accounts.enable(name)
    except VipkbError as err:
        return _refused(err)
    return _done(f"{account.name} is {'disabled' if account.disabled else 'enabled'}", account.as_dict())


@bp.post("/users/<name>/keys")
@admin_only
def issue_key(name: str):
    """Issue an API key to an account: the key is shown this once and cannot be recovered."""
    try:
        info, key = get_accounts().issue_key(name, request.form.get("label", ""))
    except VipkbError as err:
        return _refused(err)
    if _for_program():
        return jsonify({**info.as_dict(), "key": key})
    return _users_page(message=f"issued key {info.key_id} to {name}", new_key=key)


@bp.post("/keys/<key_id>/revoke")
@admin_only
def revoke_key(key_id: str):
    """Revoke an API key by its id (revoking twice is harmless)."""
    try:
        info = get_accounts().revoke_key(key_id)
    except VipkbError as err:
        return _refused(err)
    return _done(f"revoked key {info.key_id} of {info.account}", info.as_dict())


# -- runs, backend, storage, knowledge base ---------------------------------------------------------------------------


@bp.get("/runs")
@admin_only
def runs():
    """Runs of every user, public and private, failures first with their cause; kill buttons for live runs."""
    status = request.args.get("status") or None
    owner = request.args.get("owner") or None
    items = run_overview(whole_kb(), status=status, owner=owner)
    return _page("admin/runs.html", {"runs": [r.as_dict() for r in items], "status": status, "owner": owner},
                 statuses=STATUSES, live=LIVE)


@bp.get("/backend")
@admin_only
def backend():
    """The run launcher (backend, slots, active runs) and the workers of its backend."""
    launcher, status, problem = _backend()
    data = {"backend": launcher.backend, "slots": launcher.slots, "active": launcher.active(), "problem": problem,
            "status": status.as_dict() if status else None}
    return _page("admin/backend.html", data)


def _storage_page(prefix: str, health: dict | None = None, status: int = 200, message: str = ""):
    summary = storage_summary(whole_kb())
    return _page("admin/storage.html", {**summary.as_dict(), "prefix": prefix, "health": health}, status,
                 message=message)


@bp.get("/storage")
@admin_only
def storage():
    """Storage elements with their catalogued files, files lacking a copy, and a form to verify replicas."""
    return _storage_page(request.args.get("prefix", ""))


@bp.post("/storage/verify")
@admin_only
def verify():
    """Read every replica of the files under ``prefix`` and check its checksum: good, missing or corrupt."""
    prefix = request.form.get("prefix", "").strip()
    kb = whole_kb()
    limit = int(current_app.config.get("ADMIN_VERIFY_MAX_FILES", VERIFY_MAX_FILES))
    try:
        found = storage_summary(kb, prefix).files
        if found > limit:
            raise ParameterError(f"{found} files start with {prefix!r}, more than the {limit} verified at once here; "
                                 "give a longer prefix (model/<id>/, run/<id>/), or run "
                                 f"`vipkb files health {prefix}` on the server")
    except VipkbError as err:
        if _for_program():
            raise
        return _storage_page(prefix, status=err.http_status, message=str(err))
    return _storage_page(prefix, storage_health(kb, prefix).as_dict())


@bp.get("/kb")
@admin_only
def kb():
    """What ``vipkb stats`` counts, and named graphs and quads per owner (public or private)."""
    return _page("admin/kb.html", kb_statistics(whole_kb()).as_dict())
