"""Commands that fetch: sync (with the PDF inbox), inbox alone, the Document AI usage, runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import ExitStack

import click

from api.cli.app import Context, cli
from api.cli.output import print_table, progress, say_outcome, started
from api.core.model import RunRecord
from api.core.text import counted
from api.errors import ConfigError
from api.factory import Services, build


@cli.command()
@click.argument("name", required=False)
@click.option("--full", is_flag=True, help="Fetch every invoice again (still no duplicates).")
@click.pass_obj
def sync(obj: Context, name: str | None, full: bool) -> None:
    """Sync one connection, or all of them."""
    services = obj.services()
    names = [name] if name else [c.name for c in services.state.list_connections()]
    with _DemoAware(services) as pick:
        synced = [sync_one(pick(n), n, full) for n in names]
    results = synced + _inboxes(services)  # the PDF inbox, after the API invoices it may attach to
    if not results:
        raise ConfigError(
            "There is nothing to sync yet.",
            action="Connect an account first: billsync connect digitalocean --name NAME",
        )
    failed = [run for run in results if run.status != "succeeded"]
    written = [n for n, run in zip(names, synced, strict=True) if run.status != "failed"]
    for ledger, archive in dict.fromkeys(_places(services, n) for n in written):
        click.echo(f"Ledger:  {ledger}")
        click.echo(f"Archive: {archive}")
    if failed:
        raise click.exceptions.Exit(1)


@cli.command()
@click.pass_obj
def inbox(obj: Context) -> None:
    """Read the PDFs dropped in the inbox ($BILLSYNC_HOME/inbox/, each Drive "Inbox") into the
    ledger; files that are not readable PDFs move to inbox/rejected/."""
    services = obj.services()
    results = _inboxes(services)
    if not results:
        click.echo(f"Nothing in the inbox ({services.settings.inbox_dir}).")
    if any(run.status != "succeeded" for run in results):
        raise click.exceptions.Exit(1)


@cli.command()
@click.option("--month", "when", type=click.DateTime(["%Y-%m"]), default=None,
              help="YYYY-MM (UTC); default: this month.")  # fmt: skip
@click.pass_obj
def usage(obj: Context, when: dt.datetime | None) -> None:
    """Document AI pages and estimated cost per connection for a month (the budget)."""
    from api.state.extraction import SqlExtractionBook

    settings = obj.settings()
    month = f"{when or dt.datetime.now(dt.UTC):%Y-%m}"
    rows = SqlExtractionBook(settings.database_url).usage(month)
    if not rows:
        click.echo(f"No Document AI pages in {month}.")
        return
    cap = settings.extract_page_cap
    shown = [[name, pages, f"{pages / cap:.0%}", f"{cost:.2f}"] for name, pages, cost in rows]
    print_table(["CONNECTION", "PAGES", f"OF CAP ({cap})", "EST. COST (USD)"], shown)


def _inboxes(services: Services) -> list[RunRecord]:
    from api.inboxes import google_inboxes, local_inbox

    extractor = services.extractor()
    runs: list[RunRecord] = []
    for pdf_inbox in [local_inbox(services, extractor), *google_inboxes(services, extractor)]:
        run = pdf_inbox.run("cli")
        if run is None:
            continue
        runs.append(run)
        say_outcome(run.connection, run)  # partial: a file was rejected or left in the inbox
    return runs


@cli.command()
@click.option("--connection", "name", default=None, help="Only this connection's runs.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_obj
def runs(obj: Context, name: str | None, limit: int) -> None:
    """Show recent runs."""
    records = obj.services().state.list_runs(name, limit=limit)
    if not records:
        click.echo("No runs yet.")
        return
    print_table(
        ["RUN", "CONNECTION", "TRIGGER", "STARTED", "STATUS", "NEW", "UPD", "SAME", "LINES",
         "MESSAGE"],
        [[r.id, r.connection_name or r.connection, r.trigger, started(r), r.status, r.counts.new,
          r.counts.updated, r.counts.unchanged, r.counts.line_items, r.message] for r in records],
    )  # fmt: skip


def sync_one(services: Services, name: str, full: bool) -> RunRecord:
    window = _reread_window(services, name, full)
    with progress(name) as on_progress:
        run = services.engine.sync(name, trigger="cli", full=full, on_progress=on_progress)
    say_outcome(name, run)
    if window and run.status != "failed":
        click.echo(f"  {name}: {window}")
    return run


class _DemoAware:
    """Picks the services a connection syncs with: `services`, or for a demo connection
    services whose provider URLs are its simulators, started on first need and stopped on
    exit (a demo account exists only in them; the real API would refuse its token)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._simulators = ExitStack()
        self._demo: Services | None = None

    def __enter__(self) -> Callable[[str], Services]:
        return self.pick

    def __exit__(self, *exc: object) -> None:
        self._simulators.close()

    def pick(self, name: str) -> Services:
        from api.demo import shape_of, simulated, unmarked_demo

        connection = self.services.state.get_connection(name)
        if not (connection.is_demo or unmarked_demo(connection)):
            return self.services
        if self._demo is None:
            shape = shape_of(connection)
            self._demo = build(
                self._simulators.enter_context(simulated(self.services.settings, shape))
            )
        return self._demo


def _reread_window(services: Services, name: str, full: bool) -> str | None:
    """What a DoiT sync after the first re-reads (its invoices change after they are issued)."""
    connection = services.state.get_connection(name)
    if connection.provider != "doit" or full or not services.state.list_runs(name, limit=1):
        return None
    days = int(connection.options.get("window_days", 120))
    last = "day" if days == 1 else counted(days, "day")
    return f"re-read the invoices of the last {last} for changes (--window-days at connect)."


def _places(services: Services, name: str) -> tuple[str, str]:
    """Where a connection's ledger and archive are: its Sheet and Drive folder, or the local."""
    options = services.state.get_connection(name).options
    sheet, folder = options.get("sheet"), options.get("drive_folder")
    ledger = f"https://docs.google.com/spreadsheets/d/{sheet}/edit" if sheet else None
    archive = f"https://drive.google.com/drive/folders/{folder}" if folder else None
    return ledger or services.sink.location(), archive or services.files.location()
