"""Execution monitoring: the caller's runs, a live run page, its progress as JSON, kill.

A run page shows status, progress (tasks done, rate, workers, ETA, updated
in place by ``static/run.js`` from ``/runs/<id>/progress.json`` without
reloading), the log, task timings, the failure reason in plain words and the
results with previews and downloads.  Everything is read through the
caller's view of the knowledge base: other users' private runs are a 404.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from vipkb.admin import plain_reason
from vipkb.runs import kill_run, list_runs, show_run
from vipkb.runs.monitor import read_progress
from vipkb.runs.workdir import RunDirectory
from webapp.auth import API_KEY_HEADER, current_account, require_role
from webapp.errors import wants_json
from webapp.extensions import current_reader, get_kb, whole_kb

__all__ = ["bp", "plain_reason"]

bp = Blueprint("runs", __name__)

#: Statuses after which nothing changes any more.
FINAL = ("succeeded", "failed", "killed")


@bp.get("/runs")
def runs():
    """The runs the caller may see, newest first (``?mine=1``: the caller's own private runs)."""
    account = current_account()
    mine = bool(request.args.get("mine")) and account is not None
    items = list_runs(get_kb(), status=request.args.get("status") or None, owner=account.name if mine else None)
    return render_template("runs/list.html", runs=items, mine=mine)


def _state(run_id: str) -> dict:
    details = show_run(get_kb(), run_id)  # 404 for a run the caller may not see
    workdir = RunDirectory(whole_kb().settings.runs_dir, details.id)
    progress = read_progress(workdir)
    return {"details": details, "progress": progress, "log": workdir.log_text(),
            "can_kill": details.status not in FINAL and current_reader().may_change(details.private_to)}


@bp.get("/runs/<run_id>")
def run(run_id: str):
    """A run: live progress, log, timings, kill, results."""
    state = _state(run_id)
    return render_template("runs/run.html", run=state["details"], progress=state["progress"], log=state["log"],
                           can_kill=state["can_kill"], final=FINAL, reason=plain_reason(state["details"].reason))


@bp.get("/runs/<run_id>/progress.json")
def progress(run_id: str):
    """Status, progress and log of a run, for the page's poller and for programs."""
    state = _state(run_id)
    details, progress = state["details"], state["progress"]
    return jsonify({"id": details.id, "status": details.status, "reason": plain_reason(details.reason),
                    "progress": progress.as_dict() if progress else None, "log": state["log"],
                    "final": details.status in FINAL, "outputs": len(details.outputs)})


@bp.post("/runs/<run_id>/kill")
@require_role("user")
def kill(run_id: str):
    """Stop a queued or running run (its owner or an administrator)."""
    status = kill_run(whole_kb(), run_id, reader=current_reader(), wait=10.0,
                      reason=f"killed by {current_account().name}")
    if wants_json() or API_KEY_HEADER in request.headers:
        return jsonify({"id": run_id, "status": status})
    return redirect(url_for("runs.run", run_id=run_id), code=303)
