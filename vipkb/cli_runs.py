"""``vipkb run``, ``vipkb runs``, ``vipkb campaign`` and ``vipkb files``: thin layers over :mod:`vipkb.runs`
and :mod:`vipkb.storage`."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from tqdm import tqdm

from vipkb.cli import _FORMAT, _emit, _fail, _parse_settings, guarded, open_kb, print_table

__all__ = ["campaign", "files", "private_owner", "run", "runs"]


@contextmanager
def progress_reporter(label: str) -> Iterator:
    """A ``progress(done, total, phase)`` callback: a bar on a terminal, plain lines (every 10%) otherwise."""
    bars: dict[str, tqdm] = {}
    last: dict[str, int] = {}
    start = time.monotonic()

    def report(done: int, total: int, phase: str) -> None:
        if sys.stderr.isatty():
            bar = bars.get(phase)
            if bar is None:
                bar = bars[phase] = tqdm(total=total, desc=f"{label} {phase}", unit="task", file=sys.stderr)
            bar.update(done - bar.n)
            return
        step = max(1, total // 10)
        if done == total or done - last.get(phase, -step) >= step:
            last[phase] = done
            rate = done / max(time.monotonic() - start, 1e-9)
            eta = (total - done) / rate if rate > 0 else float("nan")
            click.echo(f"{label} {phase}: {done}/{total} tasks ({100 * done // max(total, 1)}%), "
                       f"{rate:.2f}/s, ETA {eta:.0f} s", err=True)

    try:
        yield report
    finally:
        for bar in bars.values():
            bar.close()


def _parse_instants(values: tuple[str, ...]) -> list[tuple[int, int]] | None:
    out = []
    for value in values:
        tp, sep, i = value.partition("/")
        if not (sep and tp.isdigit() and i.isdigit()):
            raise click.BadParameter(f"{value!r} is not TP/I, e.g. 0/3", param_hint="--instant")
        out.append((int(tp), int(i)))
    return out or None


def _report_outcome(outcome) -> None:
    line = f"run {outcome.run_id}: {outcome.status}"
    if outcome.reused:
        line += " (already done; nothing recomputed)"
    elif outcome.resumed:
        line += f" ({outcome.resumed} task(s) resumed from checkpoints)"
    click.echo(line)
    if outcome.reason:
        click.echo(f"  reason: {outcome.reason}")
    for lfn in outcome.outputs:
        click.echo(f"  {lfn}")


_BACKEND = click.option("--backend", default="local", show_default=True,
                        help="inline, local, dask, or tcp://host:port of a Dask scheduler.")
_WORKER_TIMEOUT = click.option("--worker-timeout", type=float, default=300.0, show_default=True,
                               help="Seconds without any worker after which a run fails.")
_PRIVATE_TO = click.option("--private-to", "private_to", metavar="USER",
                           help="Make the run(s) private to this account (launched on its behalf): only it and "
                                "administrators see them.")


def private_owner(name: str | None) -> str | None:
    """The account a private run or model is for (``--private-to``): it must exist (``vipkb user list``)."""
    if name is None:
        return None
    from vipkb.accounts import AccountStore
    from vipkb.config import Settings

    return AccountStore(Settings.from_env().accounts_path).get(name).name


@click.group(invoke_without_command=True)
@click.option("--model", "model_ref", help="Model id, id/vN or IRI.")
@click.option("--simulator", "simulator_name", help="Simulator name (`vipkb simulators`).")
@click.option("-p", "--param", "pairs", multiple=True, metavar="NAME=VALUE", help="A parameter (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option("--instant", "instants", multiple=True, metavar="TP/I",
              help="Only this instant (repeatable); default every compatible instant.")
@_BACKEND
@_WORKER_TIMEOUT
@_PRIVATE_TO
@click.pass_context
@guarded
def run(ctx: click.Context, model_ref: str | None, simulator_name: str | None, pairs: tuple[str, ...], seed: int,
        instants: tuple[str, ...], backend: str, worker_timeout: float, private_to: str | None) -> None:
    """Run SIMULATOR on MODEL (every instant; a time series for 3D+t models), or inspect runs.

    The same run asked again resumes from its checkpoints, or returns the
    finished result.  Outputs go to the file catalog (`vipkb files ls run/`).
    """
    if ctx.invoked_subcommand is not None:
        return
    if not model_ref or not simulator_name:
        raise click.UsageError("give --model and --simulator, or a subcommand (show, kill)")
    from vipkb.runs import execute_run, plan_run

    owner = private_owner(private_to)
    with open_kb() as kb:
        spec = plan_run(kb, model_ref, simulator_name, _parse_settings(pairs), seed=seed,
                        instants=_parse_instants(instants), owner=owner)
        click.echo(f"run {spec.id}: {len(spec.instants)} instant(s) on {backend}", err=True)
        with progress_reporter(spec.id) as report:
            outcome = execute_run(kb, spec, backend=backend, agent=owner, progress=report,
                                  worker_timeout=worker_timeout)
    _report_outcome(outcome)
    if outcome.status != "succeeded":
        sys.exit(1)


@run.command("show")
@click.argument("ref", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@guarded
def run_show(ref: str, as_json: bool) -> None:
    """Status, provenance, parameters, tasks and outputs of RUN (id or IRI)."""
    import json

    from vipkb.runs import show_run

    with open_kb() as kb:
        d = show_run(kb, ref)
    if as_json:
        click.echo(json.dumps(d.as_dict(), indent=2))
        return
    click.echo(f"{d.iri}\n  {d.label}\n  status: {d.status}" + (f" ({d.reason})" if d.reason else ""))
    click.echo(f"  simulator: {d.simulator} {d.version}   model: {d.model}   seed: {d.seed}")
    click.echo(f"  backend: {d.backend}   agent: {d.agent}   started: {d.started or '-'}   ended: {d.ended or '-'}")
    if d.private_to:
        click.echo(f"  private to: {d.private_to}")
    if d.orchestrator:
        click.echo(f"  executing: process {d.orchestrator.get('pid')} on {d.orchestrator.get('host')}")
    click.echo(f"  checkpointed tasks: {d.checkpointed}")
    click.echo("  parameters: " + ", ".join(f"{k}={v}" for k, v in d.settings.items()))
    if d.tasks:
        seconds = [t["seconds"] for t in d.tasks]
        workers = {t["worker"] for t in d.tasks}
        click.echo(f"  tasks: {len(d.tasks)} on {len(workers)} worker(s), {sum(seconds):.2f} s of work, "
                   f"longest {max(seconds):.2f} s, {sum(t['attempts'] - 1 for t in d.tasks)} extra attempt(s)")
    if d.outputs:
        print_table(["output", "kind", "logical file name"], [[o["path"], o["kind"], o["lfn"]] for o in d.outputs])


@run.command("kill")
@click.argument("ref", metavar="RUN")
@click.option("--wait", type=float, default=15.0, show_default=True, help="Seconds to wait for the run to stop.")
@guarded
def run_kill(ref: str, wait: float) -> None:
    """Stop RUN; its checkpoints stay, so running it again resumes it."""
    from vipkb.config import Settings
    from vipkb.errors import StoreError
    from vipkb.kb import KnowledgeBase
    from vipkb.runs import kill_run, stop_orchestrator

    # First through the run directory: the orchestrator may hold the embedded store until it stops.
    settings = Settings.from_env()
    if not stop_orchestrator(settings.runs_dir, ref, wait=wait):
        _fail(f"run {ref} did not stop within {wait:g} s; try again, or raise --wait")
    # It has let go of the run; it may still be recording the kill and closing the embedded store.
    deadline = time.monotonic() + wait
    while True:
        try:
            kb = KnowledgeBase.open(settings)
            break
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        status = kill_run(kb, ref, wait=0)
    finally:
        kb.close()
    click.echo(f"run {ref}: {status}")
    if status != "killed":
        sys.exit(1)


_RUN_COLUMNS = [("id", "run"), ("status", "status"), ("simulator", "simulator"), ("model", "model"),
                ("started", "started"), ("ended", "ended"), ("backend", "backend"), ("private_to", "private to"),
                ("agent", "agent"), ("cause", "cause")]


@click.command()
@_FORMAT
@click.option("--status", type=click.Choice(["queued", "running", "succeeded", "failed", "killed"]))
@click.option("--failed", is_flag=True, help="Only the failed runs (same as --status failed).")
@click.option("--private-to", "private_to", metavar="USER", help="Only the runs private to this account.")
@guarded
def runs(fmt: str, status: str | None, failed: bool, private_to: str | None) -> None:
    """List the runs of every user (the CLI administers everything): failures first with their cause, then the
    others newest first."""
    from vipkb.admin import run_overview

    if failed and status not in (None, "failed"):
        raise click.UsageError(f"--failed and --status {status} exclude each other")
    with open_kb() as kb:
        items = run_overview(kb, status="failed" if failed else status, owner=private_to)
    _emit([r.as_dict() for r in items], _RUN_COLUMNS, fmt)


@click.command()
@click.option("--where", help="SPARQL filter over the match query's variables, e.g. "
              "'CONTAINS(STR(?model), \"brain\")' (?model ?label ?tp ?i ?simulator ?name ?modality).")
@click.option("--modality", help="Only this modality (MR, Ultrasound, CT, XRay, PET).")
@click.option("--model", "model_ref", help="Only this model (id, id/vN or IRI).")
@click.option("--simulator", "simulator_name", help="Only this simulator.")
@click.option("--seed", type=int, default=0, show_default=True)
@_BACKEND
@_WORKER_TIMEOUT
@_PRIVATE_TO
@click.option("--dry-run", is_flag=True, help="List the runs the query generates without executing them.")
@guarded
def campaign(where: str | None, modality: str | None, model_ref: str | None, simulator_name: str | None, seed: int,
             backend: str, worker_timeout: float, private_to: str | None, dry_run: bool) -> None:
    """Generate and execute one run per compatible (model, simulator) pair found in the knowledge base."""
    from vipkb.runs import execute_run, plan_campaign

    failed = 0
    owner = private_owner(private_to)
    with open_kb() as kb:
        specs = plan_campaign(kb, where=where, modality=modality, model=model_ref, simulator=simulator_name, seed=seed,
                              owner=owner)
        click.echo(f"campaign: {len(specs)} run(s)", err=True)
        for spec in specs:
            if dry_run:
                click.echo(f"{spec.id}: {spec.simulator} on {spec.model} ({len(spec.instants)} instant(s))")
                continue
            with progress_reporter(spec.id) as report:
                outcome = execute_run(kb, spec, backend=backend, agent=owner, progress=report,
                                      worker_timeout=worker_timeout)
            click.echo(f"{outcome.run_id}: {outcome.status}" + (f" ({outcome.reason})" if outcome.reason else ""))
            failed += outcome.status != "succeeded"
    if failed:
        _fail(f"{failed} of {len(specs)} run(s) did not succeed")


@click.group()
def files() -> None:
    """The logical file catalog: list, fetch, replicate and verify files."""


_FILE_COLUMNS = [("lfn", "logical file name"), ("size", "bytes"), ("media_type", "type"),
                 ("replicas", "replicas"), ("sha256", "sha256")]


@files.command("ls")
@click.argument("prefix", default="")
@_FORMAT
@guarded
def files_ls(prefix: str, fmt: str) -> None:
    """List logical files whose name starts with PREFIX (model/..., run/...)."""
    from vipkb.storage import FileCatalog

    with open_kb() as kb:
        records = [r.as_dict() for r in FileCatalog(kb).records(prefix)]
    if fmt != "json":
        for r in records:
            r["replicas"] = ",".join(r["replicas"])
            r["sha256"] = r["sha256"][:16]
    _emit(records, _FILE_COLUMNS, fmt)


@files.command("get")
@click.argument("lfn")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write it (default: its base name here; '-' for stdout).")
@guarded
def files_get(lfn: str, output: Path | None) -> None:
    """Fetch LFN from the first good replica (checksum verified)."""
    from vipkb.storage import FileCatalog

    problems: list = []
    with open_kb() as kb:
        data = FileCatalog(kb).read(lfn, problems=problems)
    for p in problems:
        click.echo(f"warning: {p}; used the next replica (`vipkb files replicate` repairs it)", err=True)
    if output is not None and str(output) == "-":
        sys.stdout.buffer.write(data)
        return
    target = output or Path(lfn.rsplit("/", 1)[-1])
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)
    click.echo(f"wrote {target} ({len(data)} bytes)")


@files.command("replicate")
@click.argument("prefix", default="")
@click.option("--to", "targets", multiple=True, help="Storage element name (repeatable); default every one.")
@guarded
def files_replicate(prefix: str, targets: tuple[str, ...]) -> None:
    """Give every file under PREFIX a good copy on each storage element (repairing missing or corrupt ones)."""
    from vipkb.storage import FileCatalog

    with open_kb() as kb:
        catalog = FileCatalog(kb)
        with tqdm(desc="replicate", unit="file", disable=None, file=sys.stderr) as bar:
            done = catalog.replicate(prefix, to=list(targets) or None, progress=lambda _r: bar.update())
    copied = [d for d in done if d.state == "ok"]
    for d in done:
        click.echo(f"{'copied' if d.state == 'ok' else 'FAILED'} {d.lfn} -> {d.element}")
    click.echo(f"{len(copied)} copy(ies) made, {len(done) - len(copied)} failed")
    if len(copied) != len(done):
        sys.exit(1)


@files.command("verify")
@click.argument("prefix", default="")
@guarded
def files_verify(prefix: str) -> None:
    """Check every replica of the files under PREFIX against its checksum; exit 1 if any is bad."""
    from vipkb.storage import FileCatalog

    with open_kb() as kb:
        with tqdm(desc="verify", unit="file", disable=None, file=sys.stderr) as bar:
            states = FileCatalog(kb).verify(prefix, progress=lambda _r: bar.update())
    bad = [s for s in states if s.state not in ("ok", "absent")]
    absent = [s for s in states if s.state == "absent"]
    for s in bad + absent:
        click.echo(f"{s.state:11} {s.lfn} on {s.element}")
    n_files = len({s.lfn for s in states})
    click.echo(f"{n_files} file(s): {len(states) - len(bad) - len(absent)} good replica(s), {len(bad)} bad, "
               f"{len(absent)} not replicated")
    if bad:
        sys.exit(1)
