"""Simulation definition: a model, the simulators the knowledge base finds compatible, a generated form.

``/simulate?model=M`` offers only the simulators the match query pairs with
the model (and which of its instants); ``/simulate?model=M&simulator=S``
shows the form generated from the simulator's RDF description; posting it
checks the values with the simulator's own rules (those of the CLI), plans
the run as a private run of the caller and hands it to the launcher.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from vipkb.errors import ParameterError, SimulationError
from vipkb.matching import find_matches
from vipkb.models.repository import describe_model
from vipkb.runs import plan_run
from vipkb.simulation.forms import check_form, form_fields
from webapp.auth import current_account, require_role
from webapp.extensions import get_kb

__all__ = ["bp"]

bp = Blueprint("simulate", __name__)


def _pairs(model_iri: str) -> dict[str, list[tuple[int, int]]]:
    """Compatible simulators of a model version and the instants each can simulate."""
    pairs: dict[str, list[tuple[int, int]]] = {}
    for m in find_matches(get_kb(), model=model_iri):
        pairs.setdefault(m.simulator_name, []).append((m.time_point, m.instant))
    return {name: sorted(instants) for name, instants in sorted(pairs.items())}


def _render_form(model_ref: str, simulator: str, *, errors: dict[str, str] | None = None, status: int = 200):
    kb = get_kb()
    model = describe_model(kb, model_ref)
    pairs = _pairs(model.iri)
    if simulator not in pairs:
        abort(404, f"{simulator!r} is not a simulator the knowledge base finds compatible with {model.iri}; "
                   f"compatible: {', '.join(pairs) or 'none'}")
    page = render_template("simulate/form.html", model=model, ref=model.iri.rsplit("/model/", 1)[1],
                           simulator=simulator, fields=form_fields(kb, simulator), instants=pairs[simulator],
                           errors=errors or {}, form=request.form if request.method == "POST" else {})
    return page, status


@bp.get("/simulate")
@require_role("user")
def choose():
    """Pick a simulator for a model (only compatible ones), then fill its form."""
    model_ref = request.args.get("model") or abort(400, "give the model to simulate (?model=...)")
    simulator = request.args.get("simulator")
    if simulator:
        return _render_form(model_ref, simulator)
    model = describe_model(get_kb(), model_ref)
    return render_template("simulate/choose.html", model=model, ref=model.iri.rsplit("/model/", 1)[1],
                           pairs=_pairs(model.iri))


@bp.post("/simulate")
@require_role("user")
def launch():
    """Check the form, plan the caller's private run and queue it; go to its page."""
    model_ref = request.form.get("model") or abort(400, "the form names no model")
    simulator = request.form.get("simulator") or abort(400, "the form names no simulator")
    checked = check_form(simulator, request.form)
    errors = dict(checked.errors)
    try:
        seed = int(request.form.get("seed") or 0)
    except ValueError:
        errors["seed"] = f"seed = {request.form.get('seed')!r} is not an integer"
        seed = 0
    instant = request.form.get("instant") or "all"
    instants = None
    if instant != "all":
        tp, _, i = instant.partition("/")
        if not (tp.isdigit() and i.isdigit()):
            errors["instant"] = f"instant {instant!r} is not TP/I"
        else:
            instants = [(int(tp), int(i))]
    if errors:
        return _render_form(model_ref, simulator, errors=errors, status=400)
    account = current_account()
    try:
        spec = plan_run(get_kb(), model_ref, simulator, checked.values, seed=seed, instants=instants,
                        owner=account.name)
    except (ParameterError, SimulationError) as err:
        return _render_form(model_ref, simulator, errors={"": str(err)}, status=400)
    run_id = current_app.extensions["launcher"].submit(spec, agent=account.name)
    return redirect(url_for("runs.run", run_id=run_id), code=303)
