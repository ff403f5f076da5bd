"""``vipkb serve``: the platform under waitress, a production WSGI server."""

from __future__ import annotations

import click

from vipkb.cli import guarded

__all__ = ["serve"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=5000, show_default=True)
@click.option("--threads", type=int, default=8, show_default=True, help="Requests served at once.")
@guarded
def serve(host: str, port: int, threads: int) -> None:
    """Serve the web platform (catalog, previews, files) on the knowledge base the environment names."""
    from waitress import serve as waitress_serve

    from webapp import create_app

    app = create_app()
    click.echo(f"VIPKB is serving on http://{host}:{port}/ (Ctrl-C stops it)")
    waitress_serve(app, host=host, port=port, threads=threads, ident="vipkb")
