"""The `cellstream` command."""

from __future__ import annotations

import typer

from cellstream.cli import admin, ingest, serve, simulate

app = typer.Typer(
    name="cellstream",
    help="Cellstream: events platform for IoT cellular connectivity (emnify-compatible Event API).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("run")(serve.run)
app.command("ingest")(ingest.ingest)
app.command("migrate")(serve.migrate)
app.command("simulate")(simulate.simulate)
app.add_typer(admin.app, name="admin")


def main() -> None:
    app()
