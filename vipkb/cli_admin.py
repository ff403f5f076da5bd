"""``vipkb backend status`` and ``vipkb files health``: the administration pages' reads, from the shell.

Thin layers over :func:`vipkb.backends.backend_status` and :mod:`vipkb.admin`,
the same functions the web platform's ``/admin`` pages show.  Users and keys
are ``vipkb user`` / ``vipkb key``, runs with their causes ``vipkb runs
--failed``, statistics ``vipkb stats --graphs``.
"""

from __future__ import annotations

import json
import os
import sys

import click

from vipkb.cli import _fail, guarded, open_kb, print_table
from vipkb.cli_runs import files

__all__ = ["backend", "files_health"]


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:g} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


@click.group()
def backend() -> None:
    """Execution backends: where runs execute and the workers there."""


@backend.command("status")
@click.option("--backend", "spec", default=lambda: os.environ.get("VIPKB_RUN_BACKEND") or "local",
              show_default="$VIPKB_RUN_BACKEND or local",
              help="inline, local, dask, or tcp://host:port of a Dask scheduler.")
@click.option("--timeout", type=float, default=5.0, show_default=True,
              help="Seconds to wait for a Dask scheduler to answer.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@guarded
def backend_status_command(spec: str, timeout: float, as_json: bool) -> None:
    """Where runs on BACKEND execute: worker slots and, for a Dask scheduler, its workers; exit 1 if unusable."""
    from vipkb.backends import backend_status

    status = backend_status(spec, timeout=timeout)
    if as_json:
        click.echo(json.dumps(status.as_dict(), indent=2))
    else:
        click.echo(f"backend {status.backend} ({status.name}: {status.description})")
        click.echo(f"  {status.message}")
        click.echo(f"  worker slots: {status.slots}   CPUs of this process: {status.cpus}")
        if status.workers:
            print_table(["worker", "name", "threads", "memory", "limit", "processing"],
                        [[w.address, w.name, str(w.threads), _size(w.memory), _size(w.memory_limit),
                          str(w.processing)] for w in status.workers])
    if not status.ok:
        sys.exit(1)


@files.command("health")
@click.argument("prefix", default="")
@click.option("--verify", is_flag=True, help="Also read every copy and check its checksum (slow: reads everything).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@guarded
def files_health(prefix: str, verify: bool, as_json: bool) -> None:
    """Copies per storage element of the files under PREFIX, files lacking one, and with --verify the good,
    missing and corrupt copies per element; exit 1 if any copy is lacking or bad."""
    from vipkb.admin import REPLICA_STATES, storage_health, storage_summary

    with open_kb() as kb:
        summary = storage_summary(kb, prefix)
        health = storage_health(kb, prefix) if verify else None
    if as_json:
        click.echo(json.dumps({**summary.as_dict(), "health": health.as_dict() if health else None}, indent=2))
    else:
        print_table(["element", "url", "copies", "size"],
                    [[e.name, e.url or "(not configured)", str(e.files), _size(e.size)] for e in summary.elements])
        click.echo(f"{summary.files} file(s), {_size(summary.size)}; {len(summary.under_replicated)} lack a copy "
                   "on some element")
        for lfn in summary.under_replicated:
            click.echo(f"  lacking a copy: {lfn}")
        if health is not None:
            click.echo()
            print_table(["element", *REPLICA_STATES],
                        [[e.name, *(str(e.counts.get(s, 0)) for s in REPLICA_STATES)] for e in health.elements])
            for lfn, element, state in health.problems:
                click.echo(f"{state:11} {lfn} on {element}")
    if summary.under_replicated or (health is not None and not health.healthy):
        if not as_json:
            _fail("some copies are lacking or bad; `vipkb files replicate PREFIX` repairs them")
        sys.exit(1)
