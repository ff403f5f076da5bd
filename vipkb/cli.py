"""The ``vipkb`` command line: a thin layer over :class:`vipkb.kb.KnowledgeBase`.

Errors are one line on stderr and a non-zero exit status, never a traceback.
Where the store lives comes from the environment (``VIPKB_HOME``,
``VIPKB_STORE``; see :mod:`vipkb.config`).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import click
import pyoxigraph as ox
from tqdm import tqdm

from vipkb import __version__
from vipkb.catalog import list_models, list_simulators
from vipkb.config import Settings
from vipkb.documents import load_path
from vipkb.errors import NotConformingError, VipkbError
from vipkb.kb import CommitResult, KnowledgeBase
from vipkb.queries import ModelFilter
from vipkb.results import QueryResult, term_text
from vipkb.validation import compact


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn VIPKB errors into one line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NotConformingError as err:
            click.echo(err.report.text(), err=True)
            _fail(str(err))
        except VipkbError as err:
            _fail(str(err))
        except OSError as err:
            _fail(f"{err.strerror or err}: {err.filename or ''}".rstrip(": "))

    return wrapper


@contextmanager
def open_kb() -> Iterator[KnowledgeBase]:
    """Open the knowledge base named by the environment, closing it afterwards."""
    kb = KnowledgeBase.open(Settings.from_env())
    try:
        yield kb
    finally:
        kb.close()


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print rows as an aligned plain-text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _print_commit(result: CommitResult) -> None:
    for g in result.written:
        click.echo(f"wrote   <{g}>")
    for g in result.dropped:
        click.echo(f"dropped <{g}>")
    for g in result.skipped:
        click.echo(f"unchanged <{g}>")
    for model, modalities in sorted(result.ready.items()):
        click.echo(f"ready   <{model}>: {', '.join(modalities) or 'no modality'}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vipkb")
def main() -> None:
    """VIPKB: object models, simulators and simulated data as linked data.

    The knowledge base is an embedded Oxigraph store in $VIPKB_HOME
    (default ./var/kb), or any SPARQL 1.1 endpoint named by $VIPKB_STORE.
    """


@main.command()
@click.option("--no-data", is_flag=True,
              help="Load the ontology and shapes only: no bundled models, no simulator descriptions.")
@guarded
def init(no_data: bool) -> None:
    """Load the bundled ontology, shapes and models, and describe the installed simulators (idempotent)."""
    with open_kb() as kb:
        click.echo(f"knowledge base: {kb.store.describe()}")
        report = kb.init(load_data=not no_data, progress=click.echo)
        if not report.changed:
            click.echo("already up to date")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--graph", help="Target named graph (one triple document only).")
@click.option("--format", "fmt", help="RDF syntax, when the file extension does not tell it.")
@guarded
def load(files: tuple[Path, ...], graph: str | None, fmt: str | None) -> None:
    """Validate FILES and write them in one transaction (all or nothing)."""
    if graph and len(files) > 1:
        raise click.UsageError("--graph names the target of one document; give one file")
    with open_kb() as kb:
        tx = kb.transaction()
        for path in tqdm(files, desc="parsing", unit="file", disable=len(files) < 10 or None, file=sys.stderr):
            tx.put(load_path(path, max_bytes=kb.settings.max_document_bytes, format=fmt), graph=graph)
        _print_commit(tx.commit())


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", help="RDF syntax, when the file extension does not tell it.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@guarded
def validate(files: tuple[Path, ...], fmt: str | None, as_json: bool) -> None:
    """Check FILES against the shapes without writing; exit 1 on violation."""
    with open_kb() as kb:
        tx = kb.transaction()
        for path in files:
            tx.put(load_path(path, max_bytes=kb.settings.max_document_bytes, format=fmt))
        report = tx.validate()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(report.text())
    if not report.conforms:
        sys.exit(1)


def _rows_text(result: QueryResult) -> list[list[str]]:
    return [[compact(r[v]) if isinstance(r.get(v), ox.NamedNode) else term_text(r.get(v))
             for v in result.variables] for r in result.rows]


@main.command()
@click.argument("sparql", required=False)
@click.option("-f", "--file", "file", type=click.File("r"), help="Read the query from a file ('-' for stdin).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@guarded
def query(sparql: str | None, file: io.TextIOBase | None, fmt: str) -> None:
    """Run a SPARQL query; the vip:, prov:, dcat: ... prefixes are predeclared."""
    if (sparql is None) == (file is None):
        raise click.UsageError("give the query as an argument or with -f FILE, not both")
    text = sparql if sparql is not None else file.read()
    with open_kb() as kb:
        result = kb.query(text)
    if result.kind == "graph":
        rdf = {"json": ox.RdfFormat.JSON_LD}.get(fmt, ox.RdfFormat.TURTLE)
        click.echo(result.serialize(rdf).decode(), nl=False)
    elif result.kind == "ask":
        click.echo(json.dumps({"boolean": result.boolean}) if fmt == "json" else str(result.boolean).lower())
    elif fmt == "json":
        click.echo(result.serialize(ox.QueryResultsFormat.JSON).decode())
    elif fmt == "csv":
        click.echo(result.serialize(ox.QueryResultsFormat.CSV).decode(), nl=False)
    else:
        print_table(result.variables, _rows_text(result))
        click.echo(f"({len(result)} row{'s' * (len(result) != 1)})")


def _emit(records: list[dict[str, Any]], columns: list[tuple[str, str]], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(records, indent=2))
    elif fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow([key for key, _ in columns])
        w.writerows([[str(r[key]) for key, _ in columns] for r in records])
        click.echo(out.getvalue(), nl=False)
    else:
        print_table([title for _, title in columns], [[str(r[key]) for key, _ in columns] for r in records])


_FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
                       show_default=True)

_MODEL_COLUMNS = [("id", "model"), ("label", "label"), ("dynamics", "dynamics"), ("instants", "instants"),
                  ("parts", "parts"), ("layers", "layers"), ("ready", "ready for")]
_SIMULATOR_COLUMNS = [("id", "simulator"), ("label", "label"), ("modality", "modality"),
                      ("version", "version"), ("parameters", "parameters")]


@main.command()
@_FORMAT
@click.option("--region", help="Organ or region, by label ('abdominal organ') or IRI; subclasses count.")
@click.option("--layer-kind", type=click.Choice(["anatomical", "pathological", "geometrical", "foreign body",
                                                 "external agent"]), help="Has a layer of this kind.")
@click.option("--ready", "ready", help="Ready for this modality (MR, Ultrasound, CT, XRay, PET).")
@click.option("--static/--dynamic", "static", default=None, help="Static models only, or moving/longitudinal only.")
@click.option("--text", help="Words in the model's or a part's label.")
@click.option("--all-versions", is_flag=True, help="Include superseded versions.")
@guarded
def models(fmt: str, region: str | None, layer_kind: str | None, ready: str | None, static: bool | None,
           text: str | None, all_versions: bool) -> None:
    """List (and search) the object models and the modalities each is ready for."""
    criteria = ModelFilter(region=region, layer_kind=layer_kind, ready=ready,
                           dynamic=None if static is None else not static, text=text, all_versions=all_versions)
    with open_kb() as kb:
        _emit([m.as_dict() for m in list_models(kb, criteria)], _MODEL_COLUMNS, fmt)


@main.command()
@_FORMAT
@click.option("--installed", is_flag=True, help="List the installed simulator plugins instead (no store needed).")
@guarded
def simulators(fmt: str, installed: bool) -> None:
    """List the simulators described in the knowledge base (or installed here, with --installed)."""
    if installed:
        from vipkb.simulation import list_simulators as installed_simulators

        records = [{"id": name, "label": cls.label, "modality": cls.modality.rsplit("#", 1)[-1],
                    "version": cls.version, "parameters": len(cls.Parameters.specs())}
                   for name, cls in installed_simulators().items()]
        _emit(records, _SIMULATOR_COLUMNS, fmt)
        return
    with open_kb() as kb:
        _emit([s.as_dict() for s in list_simulators(kb)], _SIMULATOR_COLUMNS, fmt)


_MATCH_COLUMNS = [("model_id", "model"), ("instant_ref", "instant"), ("simulator_name", "simulator"),
                  ("modality", "modality"), ("label", "model label")]


@main.command()
@_FORMAT
@click.option("--modality", help="Only simulators of this modality (MR, Ultrasound, CT, XRay, PET).")
@click.option("--model", "model_ref", help="Only this model (id, id/vN or IRI).")
@click.option("--all-versions", is_flag=True, help="Include superseded model versions.")
@click.option("--where", help="A SPARQL filter expression over ?model ?label ?tp ?i ?simulator ?name ?modality.")
@guarded
def match(fmt: str, modality: str | None, model_ref: str | None, all_versions: bool, where: str | None) -> None:
    """List every compatible (model instant, simulator) pair, found by one SPARQL query."""
    from vipkb.matching import find_matches

    with open_kb() as kb:
        pairs = find_matches(kb, modality=modality, model=model_ref, all_versions=all_versions, where=where)
    _emit([p.as_dict() for p in pairs], _MATCH_COLUMNS, fmt)


@main.group()
def simulator() -> None:
    """Inspect installed simulators."""


@simulator.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@guarded
def simulator_show(name: str, as_json: bool) -> None:
    """Print a simulator's description and its parameters (type, default, unit, range)."""
    from vipkb.simulation import get_simulator

    cls = get_simulator(name)
    specs = cls.Parameters.specs()
    if as_json:
        click.echo(json.dumps({
            "id": cls.name, "label": cls.label, "modality": cls.modality.rsplit("#", 1)[-1], "version": cls.version,
            "description": cls.description, "requires": [k.rsplit("#", 1)[-1] for k in cls.requires],
            "parameters": [{"name": p.name, "type": p.type.__name__, "default": p.default, "unit": p.unit_symbol,
                            "minimum": p.minimum, "maximum": p.maximum, "choices": list(p.choices), "doc": p.doc}
                           for p in specs]}, indent=2))
        return
    click.echo(f"{cls.label} ({cls.name} {cls.version}), {cls.modality.rsplit('#', 1)[-1]}")
    click.echo(cls.description)
    click.echo(f"needs: {', '.join(k.rsplit('#', 1)[-1] for k in cls.requires)}\n")

    def allowed(p) -> str:
        if p.choices:
            return " | ".join(p.choices)
        if p.minimum is None and p.maximum is None:
            return "-"
        return f"{'' if p.minimum is None else p.minimum} .. {'' if p.maximum is None else p.maximum}"

    print_table(["parameter", "type", "default", "unit", "allowed", "description"],
                [[p.name, p.type.__name__, str(p.default), p.unit_symbol or "-", allowed(p), p.doc] for p in specs])


def _parse_settings(pairs: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--set")
        values[key.strip()] = value
    return values


@main.command()
@click.argument("model")
@click.argument("simulator_name", metavar="SIMULATOR")
@click.option("-s", "--set", "pairs", multiple=True, metavar="NAME=VALUE",
              help="A simulator parameter (repeatable); `vipkb simulator show SIMULATOR` lists them.")
@click.option("--instant", default="0/0", show_default=True, help="Time point and instant, as TP/I.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for image.nii.gz, raw data (.npy), preview.png and metadata.json.")
@click.option("--backend", help="Run on an execution backend (inline, local, dask, or tcp://host:port of a Dask "
              "scheduler) instead of in this process; Monte-Carlo batches are spread over its workers.")
@guarded
def simulate(model: str, simulator_name: str, pairs: tuple[str, ...], instant: str, seed: int, output: Path,
             backend: str | None) -> None:
    """Simulate one instant of MODEL (id, id/vN or IRI) with SIMULATOR, here and now.

    The outputs are written to a temporary directory and moved into place
    only when the simulation succeeded, so OUTPUT is never half-written.
    """
    from vipkb.simulation.runner import load_instant, run_simulator

    tp, sep, i = instant.partition("/")
    if not (sep and tp.isdigit() and i.isdigit()):
        raise click.BadParameter(f"{instant!r} is not TP/I, e.g. 0/3", param_hint="--instant")
    if output.exists() and any(output.iterdir()):
        raise click.BadParameter(f"{output} exists and is not empty", param_hint="--output")
    values = _parse_settings(pairs)
    with open_kb() as kb:
        data = load_instant(kb, model, time_point=int(tp), instant=int(i))
    if backend is not None:
        from vipkb.simulation.runner import run_on_backend

        result, execution = run_on_backend(backend, simulator_name, data, values, seed=seed)
        click.echo("ran on " + ", ".join(f"{k} {v}" for k, v in execution.items()))
    else:
        with tqdm(total=100, desc=simulator_name, unit="%", disable=None,
                  bar_format="{l_bar}{bar}| {elapsed}") as bar:
            def progress(fraction: float, message: str) -> None:
                bar.set_postfix_str(message)
                bar.update(round(100 * fraction) - bar.n)

            result = run_simulator(simulator_name, data, values, seed=seed, progress=progress)
    partial = output.with_name(output.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)  # left over by an interrupted earlier run
    result.write(partial)
    if output.exists():
        output.rmdir()
    partial.replace(output)
    for name in sorted(p.name for p in output.iterdir()):
        click.echo(f"wrote {output / name}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--graphs", is_flag=True, help="Also count named graphs and quads per owner (public or private).")
@guarded
def stats(as_json: bool, graphs: bool) -> None:
    """Count models, simulators, runs, graphs and quads."""
    from vipkb.admin import kb_statistics

    with open_kb() as kb:
        found = kb_statistics(kb) if graphs else None
        counts = found.counts if found else kb.stats()
        where = kb.store.describe()
    if as_json:
        click.echo(json.dumps(found.as_dict() if found else counts, indent=2))
        return
    click.echo(where)
    print_table(["what", "count"], [[k, str(v)] for k, v in counts.items()])
    if found:
        click.echo()
        print_table(["owner", "named graphs", "quads"],
                    [[f"private to {g.owner}" if g.owner else "public", str(g.graphs), str(g.quads)]
                     for g in found.graphs])


@main.command()
@guarded
def summary() -> None:
    """Print the catalog: models, simulators and counts."""
    with open_kb() as kb:
        models_ = [m.as_dict() for m in list_models(kb)]
        sims = [s.as_dict() for s in list_simulators(kb)]
        counts = kb.stats()
        where = kb.store.describe()
    click.echo(f"VIPKB catalog ({where})\n")
    click.echo(f"Models ({len(models_)})")
    _emit(models_, _MODEL_COLUMNS, "table")
    click.echo(f"\nSimulators ({len(sims)})")
    if sims:
        _emit(sims, _SIMULATOR_COLUMNS, "table")
    else:
        click.echo("none registered yet")
    click.echo("\n" + ", ".join(f"{v} {k}" for k, v in counts.items()))


@main.command()
@click.option("--format", "fmt", type=click.Choice(["trig", "nquads"]), default="trig", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not stdout.")
@guarded
def export(fmt: str, output: Path | None) -> None:
    """Write every named graph as TriG or N-Quads."""
    rdf = ox.RdfFormat.TRIG if fmt == "trig" else ox.RdfFormat.N_QUADS
    with open_kb() as kb:
        if output is None:
            kb.export(sys.stdout.buffer, rdf)
            return
        partial = output.with_name(output.name + ".partial")
        with partial.open("wb") as fh:
            kb.export(fh, rdf)
        partial.replace(output)  # never leave a half-written export under the real name
    click.echo(f"exported to {output}")


@main.command()
@click.argument("sparql", required=False)
@click.option("-f", "--file", "file", type=click.File("r"), help="Read the update from a file ('-' for stdin).")
@guarded
def update(sparql: str | None, file: io.TextIOBase | None) -> None:
    """Apply a SPARQL update as a guarded write (SHACL, reasoner, one commit).

    The update must name the graphs it reads and writes (GRAPH <iri>, WITH,
    USING); the changed graphs are validated before anything is written.
    """
    if (sparql is None) == (file is None):
        raise click.UsageError("give the update as an argument or with -f FILE, not both")
    with open_kb() as kb:
        _print_commit(kb.update(sparql if sparql is not None else file.read()))


@main.command()
@click.argument("graph")
@guarded
def drop(graph: str) -> None:
    """Remove one data graph and the inferences about its models."""
    with open_kb() as kb:
        _print_commit(kb.drop(graph))


@main.group()
def model() -> None:
    """Import, export and inspect object models (archives of NIfTI + CSV + model.json)."""


@model.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--private-to", "private_to", metavar="USER",
              help="Import privately for this account: the model becomes USER~<id>, seen and simulated only by "
                   "it and administrators.")
@guarded
def model_import(path: Path, private_to: str | None) -> None:
    """Import a model archive (zip or folder): check, annotate, store, commit."""
    from vipkb.cli_runs import private_owner
    from vipkb.models.repository import import_model

    owner = private_owner(private_to)
    with open_kb() as kb:
        result = import_model(kb, path, owner=owner)
    if result.unchanged:
        click.echo(f"unchanged <{result.model}> (version {result.version}): same archive already imported")
        return
    click.echo(f"imported <{result.model}> (version {result.version}, {result.files_stored} new file(s))")
    if result.commit:
        _print_commit(result.commit)


@model.command("export")
@click.argument("ref")
@click.argument("target", type=click.Path(path_type=Path))
@guarded
def model_export(ref: str, target: Path) -> None:
    """Write model REF (id, id/vN or IRI) as an archive: a folder, or a zip if TARGET ends in .zip."""
    from vipkb.models.repository import export_model

    with open_kb() as kb:
        written = export_model(kb, ref, target)
    click.echo(f"exported to {written}")


@model.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@guarded
def model_show(ref: str, as_json: bool) -> None:
    """Print a model's layers, instants, tissues with parameters, and readiness."""
    from vipkb.models.repository import describe_model

    with open_kb() as kb:
        d = describe_model(kb, ref)
    if as_json:
        click.echo(json.dumps(d.as_dict(), indent=2))
        return
    click.echo(f"{d.label}  <{d.iri}>")
    click.echo(f"version {d.version or '-'}, {d.dynamics}, voxels {d.voxel_size or '-'}")
    if d.private_to:
        click.echo(f"private to: {d.private_to}")
    click.echo(f"ready for: {', '.join(d.ready) or 'no modality'}\n")
    click.echo(f"Instants ({len(d.instants)})")
    print_table(["time point", "instant", "time (s)"], [[str(a), str(b), c or "-"] for a, b, c in d.instants])
    click.echo(f"\nLayers ({len(d.layers)})")
    print_table(["layer", "kind", "parts"], [[n, k, str(p)] for n, k, p in d.layers])
    click.echo(f"\nTissues ({len(d.tissues)})")
    print_table(["label", "tissue", "layer", "parameters"],
                [[str(lab), t, layer, "; ".join(p) or "-"] for lab, t, layer, p in d.tissues])


def _register_commands() -> None:
    # Defined in their own modules (which import the helpers above), attached here.
    from vipkb.cli_accounts import key, user
    from vipkb.cli_admin import backend  # also adds `files health`
    from vipkb.cli_runs import campaign, files, run, runs
    from webapp.serve import serve

    for command in (run, runs, campaign, files, user, key, backend, serve):
        main.add_command(command)


_register_commands()
