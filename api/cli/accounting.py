"""What an accountant does next: bill import files and the Summary rebuilt on demand."""

from __future__ import annotations

from pathlib import Path

import click

from api import exports, reports
from api.cli.app import Context, cli
from api.core.bill_formats import DATE_FORMATS


@cli.command()
@click.argument("fmt", metavar="xero|qbo", type=click.Choice(exports.FORMATS))
@click.option("--period", required=True, help="The month to export, YYYY-MM.")
@click.option("--connection", "name", default=None, help="Only this connection's invoices.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write a copy here (a missing folder is made; parts as NAME 1 of 2.csv, ...).",
)
@click.option(
    "--date-format",
    type=click.Choice(sorted(DATE_FORMATS)),
    default=None,
    help="iso (2026-01-31), dmy (31/01/2026; Xero's default) or mdy (01/31/2026; QBO US).",
)
@click.pass_obj
def export(
    obj: Context, fmt: str, period: str, name: str | None, out: str | None, date_format: str | None
) -> None:
    """Bills of one month as a Xero or QuickBooks Online import file (archived in Exports/)."""
    services = obj.services()
    connection = services.state.get_connection(name) if name else None
    destination = services.engine.destinations(connection) if connection else None
    result = exports.export_month(
        destination.sink if destination else services.sink,
        destination.files if destination else services.files,
        fmt, period, connection=connection, date_format=date_format,
        out=Path(out).expanduser().absolute() if out else None,
        workdir=services.settings.home / "tmp",
    )  # fmt: skip
    click.echo(result.message())


@cli.command()
@click.option("--connection", "name", default=None, help="The ledger of this connection.")
@click.pass_obj
def summary(obj: Context, name: str | None) -> None:
    """Rebuild the Summary tab and re-apply the Clients rules now (after editing them)."""
    services = obj.services()
    connection = services.state.get_connection(name) if name else None
    sink = services.engine.destinations(connection).sink if connection else services.sink
    for problem in reports.refresh(sink, force=True):
        click.echo(f"warning: {problem}", err=True)
    click.echo(f"Summary rebuilt: {sink.location()}")
