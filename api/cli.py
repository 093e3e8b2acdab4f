"""The `billsync` command line: connect, sync, list, disconnect, demo, serve, inbox, summary,
export."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click

from api import connections, destinations, exports, logs, reports
from api.core.bill_formats import DATE_FORMATS
from api.core.model import DEMO_OPTION, RunRecord
from api.core.text import counted
from api.errors import BillsyncError, ConfigError
from api.factory import Services, build
from api.settings import Settings

TOKEN_ENV = {"digitalocean": "DIGITALOCEAN_TOKEN", "doit": "DOIT_API_KEY"}
TOKEN_LABEL = {"digitalocean": "DigitalOcean read-only API token", "doit": "DoiT API key"}
QUIET = logging.CRITICAL + 1  # above every level: no log line at all


class _Context:
    def __init__(self, home: str | None, verbose: bool) -> None:
        self.home = home
        self.verbose = verbose
        self._services: Services | None = None

    def settings(self) -> Settings:
        env = dict(os.environ)
        if self.home:
            env["BILLSYNC_HOME"] = self.home
        return Settings.from_env(env)

    def services(self, settings: Settings | None = None) -> Services:
        if self._services is None:
            self._services = build(settings or self.settings())
        return self._services


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="BILLSYNC_HOME", help="Data folder (default ./billsync-data).")
@click.option("-v", "--verbose", is_flag=True, help="Log every API call (JSON lines, stderr).")
@click.version_option(package_name="billsync")
@click.pass_context
def cli(ctx: click.Context, home: str | None, verbose: bool) -> None:
    """billsync: cloud invoices into your ledger and archive."""
    # Without -v nothing is logged: every failure reaches the person as one human line.
    logs.configure(logging.DEBUG if verbose else QUIET, stream=sys.stderr)
    # Libraries' own warnings (pypdf on a damaged inbox file, …) never reach the terminal raw.
    logging.getLogger().addHandler(logging.NullHandler())
    ctx.obj = _Context(home, verbose)


@cli.command()
@click.argument("provider", type=click.Choice(connections.PROVIDERS))
@click.option("--name", required=True, help="A short name for this connection.")
@click.option("--tenant", default=None, help="DoiT tenant id (multi-tenant API keys).")
@click.option("--preview/--no-preview", default=True, help="Keep the month-to-date preview row.")
@click.option(
    "--window-days",
    type=click.IntRange(1, 3650),
    default=120,
    show_default=True,
    help="DoiT: how far back each sync re-reads invoices that may have changed.",
)
@click.option("--sheet", default=None, help="Google Sheet id or URL to write the ledger to.")
@click.option("--drive-folder", default=None, help="Drive folder id or URL for the archive.")
@click.option("--create-sheet", is_flag=True, help="Create a new Google Sheet for the ledger.")
@click.option("--create-folder", is_flag=True, help="Create a new Drive folder for the archive.")
@click.option(
    "--google-credentials",
    default="user",
    show_default=True,
    help="'user' (billsync google login), 'adc', or a service-account key file.",
)
@click.option("--shared-drive", is_flag=True, help="The Drive folder is in a Shared Drive.")
@click.option(
    "--extract-pdf",
    is_flag=True,
    help="Read each invoice PDF and reconcile its total (costs money with Document AI).",
)
@click.pass_obj
def connect(
    obj: _Context,
    provider: str,
    name: str,
    tenant: str | None,
    preview: bool,
    window_days: int,
    sheet: str | None,
    drive_folder: str | None,
    create_sheet: bool,
    create_folder: bool,
    google_credentials: str,
    shared_drive: bool,
    extract_pdf: bool,
) -> None:
    """Connect a provider account with a read-only token (validated, stored encrypted)."""
    services = obj.services()
    options: dict[str, Any] = {"include_preview": preview}
    if provider == "doit":
        options = {"tenant": tenant, "window_days": window_days}
    google = _google_options(
        services,
        name,
        sheet,
        drive_folder,
        create_sheet,
        create_folder,
        google_credentials,
        shared_drive,
    )
    options.update(google)
    if extract_pdf:
        options["extract_pdf"] = True
    token = _read_token(provider)
    connection = connections.connect(
        state=services.state, secrets=services.secrets, providers=services.provider,
        provider=provider, name=name, token=token, options=options,
    )  # fmt: skip
    click.echo(
        f"Connected '{connection.name}' to {connection.account} (token {connection.fingerprint})."
    )
    if google.get("sheet"):
        click.echo(f"Ledger: https://docs.google.com/spreadsheets/d/{google['sheet']}/edit")
    if google.get("drive_folder"):
        click.echo(f"Archive: https://drive.google.com/drive/folders/{google['drive_folder']}")
    click.echo(f"Next: billsync sync {_quoted(connection.name)}")


@cli.group()
def google() -> None:
    """Google account for writing to Sheets and Drive."""


@google.command()
@click.option(
    "--client-secrets",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The OAuth client JSON (type 'Desktop app') from the Google Cloud console.",
)
@click.option("--no-browser", is_flag=True, help="Print the sign-in address instead of opening it.")
@click.pass_obj
def login(obj: _Context, client_secrets: str, no_browser: bool) -> None:
    """Sign in once; billsync keeps an offline grant (spreadsheets + drive.file) encrypted."""
    from api.google.credentials import login_installed_app

    services = obj.services()
    ref = login_installed_app(
        client_secrets,
        services.secrets,
        token_uri=services.settings.google_oauth_token_uri,
        open_browser=not no_browser,
    )
    destinations.remember_login(services.settings, ref)
    click.echo(
        "Signed in to Google. Connect with --sheet/--drive-folder (or --create-sheet/"
        "--create-folder) to write the ledger there."
    )


@cli.command("connections")
@click.pass_obj
def list_connections(obj: _Context) -> None:
    """List connections (tokens are shown only as fingerprints)."""
    services = obj.services()
    rows = []
    for connection in services.state.list_connections():
        last = services.state.list_runs(connection.name, limit=1)
        rows.append([
            connection.name, connection.provider, connection.account, connection.fingerprint,
            _when(last[0]) + " " + last[0].status if last else "never synced",
        ])  # fmt: skip
    if not rows:
        click.echo("No connections yet. Start with: billsync connect digitalocean --name NAME")
        return
    _table(["NAME", "PROVIDER", "ACCOUNT", "TOKEN", "LAST SYNC"], rows)


@cli.command()
@click.argument("name", required=False)
@click.option("--full", is_flag=True, help="Fetch every invoice again (still no duplicates).")
@click.pass_obj
def sync(obj: _Context, name: str | None, full: bool) -> None:
    """Sync one connection, or all of them."""
    services = obj.services()
    names = [name] if name else [c.name for c in services.state.list_connections()]
    with _DemoAware(services) as pick:
        synced = [_sync_one(pick(n), n, full) for n in names]
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
def inbox(obj: _Context) -> None:
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
def usage(obj: _Context, when: dt.datetime | None) -> None:
    """Document AI pages and estimated cost per connection for a month (the budget)."""
    from api.state.extraction import SqlExtractionBook

    settings = obj.settings()
    month = f"{when or dt.datetime.now(dt.UTC):%Y-%m}"
    rows = SqlExtractionBook(settings.database_url).usage(month)
    if not rows:
        click.echo(f"No Document AI pages in {month}.")
        return
    cap = settings.extract_page_cap
    table = [[name, pages, f"{pages / cap:.0%}", f"{cost:.2f}"] for name, pages, cost in rows]
    _table(["CONNECTION", "PAGES", f"OF CAP ({cap})", "EST. COST (USD)"], table)


def _inboxes(services: Services) -> list[RunRecord]:
    from api.extractors import build_extractor
    from api.inboxes import google_inboxes, local_inbox

    extractor = build_extractor(services.settings)
    runs: list[RunRecord] = []
    for pdf_inbox in [local_inbox(services, extractor), *google_inboxes(services, extractor)]:
        run = pdf_inbox.run("cli")
        if run is None:
            continue
        runs.append(run)
        _say_outcome(run.connection, run)  # partial: a file was rejected or left in the inbox
    return runs


@cli.command()
@click.option("--connection", "name", default=None, help="Only this connection's runs.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_obj
def runs(obj: _Context, name: str | None, limit: int) -> None:
    """Show recent runs."""
    records = obj.services().state.list_runs(name, limit=limit)
    if not records:
        click.echo("No runs yet.")
        return
    _table(
        ["RUN", "CONNECTION", "TRIGGER", "STARTED", "STATUS", "NEW", "UPD", "SAME", "LINES",
         "MESSAGE"],
        [[r.id, r.connection_name or r.connection, r.trigger, _when(r), r.status, r.counts.new,
          r.counts.updated, r.counts.unchanged, r.counts.line_items, r.message] for r in records],
    )  # fmt: skip


@cli.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def disconnect(obj: _Context, name: str, yes: bool) -> None:
    """Forget a connection and destroy its stored token (ledger rows stay)."""
    services = obj.services()
    services.state.get_connection(name)
    if not yes:
        if not sys.stdin.isatty():
            raise ConfigError(
                f"Not disconnecting '{name}': there is no terminal to confirm on.",
                action=f"Add --yes to destroy its stored token: billsync disconnect {_quoted(name)}"
                " --yes",
            )
        click.confirm(f"Disconnect '{name}' and destroy its stored token?", abort=True)
    connection = connections.disconnect(state=services.state, secrets=services.secrets, name=name)
    click.echo(
        f"Disconnected '{connection.name}'; its token ({connection.fingerprint}) was destroyed."
    )


@cli.command()
@click.option("--months", type=click.IntRange(1, 240), default=24, show_default=True)
@click.option(
    "--items",
    type=click.IntRange(3, 2000),
    default=40,
    show_default=True,
    help="Average line items per DigitalOcean invoice.",
)
@click.pass_obj
def demo(obj: _Context, months: int, items: int) -> None:
    """Sync simulated DigitalOcean and DoiT accounts into the local ledger, twice."""
    from api.demo import demo_shape, demo_tokens, simulated, unmarked_demo

    shape = demo_shape(months, items)
    with simulated(obj.settings(), shape) as settings:
        services = obj.services(settings)
        tokens = demo_tokens()
        demos: list[tuple[str, str, dict[str, Any]]] = [
            ("demo-digitalocean", "digitalocean", {"include_preview": True}),
            ("demo-doit", "doit", {"window_days": 120}),
        ]
        known = {c.name: c for c in services.state.list_connections()}
        for name, provider, options in demos:
            if name in known:
                if unmarked_demo(known[name]):  # made before demos were marked
                    services.state.update_options(name, {DEMO_OPTION: shape})
                continue
            connection = connections.connect(
                state=services.state, secrets=services.secrets, providers=services.provider,
                provider=provider, name=name, token=tokens[provider],
                options={**options, DEMO_OPTION: shape},
            )  # fmt: skip
            click.echo(
                f"Connected '{name}' to the simulated account '{connection.account}' "
                f"(token {connection.fingerprint})."
            )
        runs: list[RunRecord] = []
        synced_before = any(services.state.list_runs(name, limit=1) for name, *_ in demos)
        first = (
            "Sync (only what is new or changed):"
            if synced_before
            else ("First sync (full history):")
        )
        for title in (first, "Second sync (should find nothing new):"):
            click.echo(title)
            runs += [_sync_one(services, name, full=False) for name, *_ in demos]
    click.echo("")
    click.echo(f"Ledger workbook: {services.sink.location()}")
    click.echo(f"Archived PDFs and CSVs: {services.files.location()}")
    if any(run.status != "succeeded" for run in runs):
        raise click.exceptions.Exit(1)


@cli.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")  # fmt: skip
@click.pass_obj
def serve(obj: _Context, port: int) -> None:
    """Run the service API on this machine (127.0.0.1 only, a key per data folder)."""
    from werkzeug.serving import make_server

    from api.web import create_app
    from api.web.config import WebSettings

    web = WebSettings.from_env()
    if web.auth != "local":
        raise ConfigError(
            "`billsync serve` runs with local authentication only.",
            action="Unset BILLSYNC_AUTH, or run the service under gunicorn for Google sign-in.",
        )
    logs.configure(logging.DEBUG if obj.verbose else logging.INFO, stream=sys.stderr)
    app = create_app(obj.settings(), web)
    server = make_server("127.0.0.1", port, app, threaded=True)
    key = app.extensions["billsync"].local_key
    base = f"http://127.0.0.1:{server.server_port}"
    click.echo(f"billsync is serving {obj.settings().home} on {base} (Ctrl-C stops it).")
    click.echo(f"Open the sidebar preview: {base}/addon/?key={key}")
    click.echo(f"API calls take the header 'Authorization: Bearer {key}'; see {base}/openapi.json")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
    finally:
        server.server_close()


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
    obj: _Context, fmt: str, period: str, name: str | None, out: str | None, date_format: str | None
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
def summary(obj: _Context, name: str | None) -> None:
    """Rebuild the Summary tab and re-apply the Clients rules now (after editing them)."""
    services = obj.services()
    connection = services.state.get_connection(name) if name else None
    sink = services.engine.destinations(connection).sink if connection else services.sink
    for problem in reports.refresh(sink, force=True):
        click.echo(f"warning: {problem}", err=True)
    click.echo(f"Summary rebuilt: {sink.location()}")


# -- helpers -----------------------------------------------------------------------------------


def _sync_one(services: Services, name: str, full: bool) -> RunRecord:
    window = _reread_window(services, name, full)
    with _progress(name) as on_progress:
        run = services.engine.sync(name, trigger="cli", full=full, on_progress=on_progress)
    _say_outcome(name, run)
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


def _say_outcome(name: str, run: RunRecord) -> None:
    """One line per run: stdout when it succeeded, else stderr ("partial:" names each invoice
    and document still missing, and that the next sync retries them)."""
    if run.status == "succeeded":
        click.echo(f"  {name}: {run.message}")
    else:
        click.echo(f"{'partial' if run.status == 'partial' else 'error'}: {name}: {run.message}",
                   err=True)  # fmt: skip


class _ProgressBar:
    """A progress bar on stderr while invoices are fetched (a plain line when not a terminal)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.bar: Any = None
        self.shown = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != "fetching" or total == 0:
            return
        if self.bar is None:
            self.bar = click.progressbar(
                length=total,
                label=f"  {self.name}: fetching invoices",
                file=sys.stderr,
                show_pos=True,
            )
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@contextmanager
def _progress(name: str) -> Iterator[Callable[[str, int, int], None]]:
    bar = _ProgressBar(name)
    try:
        yield bar
    finally:
        bar.close()


def _google_options(
    services: Services,
    name: str,
    sheet: str | None,
    drive_folder: str | None,
    create_sheet: bool,
    create_folder: bool,
    credentials_mode: str,
    shared_drive: bool,
) -> dict[str, Any]:
    """Resolve the Google destination flags to ids, creating the Sheet/folder when asked."""
    if sheet and create_sheet or drive_folder and create_folder:
        raise ConfigError(
            "Give either --sheet or --create-sheet (and either --drive-folder or "
            "--create-folder), not both."
        )
    wanted = sheet or drive_folder or create_sheet or create_folder
    if not wanted:
        return {}
    mode = credentials_mode
    if mode not in ("user", "adc"):
        mode = destinations.service_account_path(mode)
    options: dict[str, Any] = {"google_credentials": mode, "shared_drive": shared_drive}
    if mode == "user":
        ref = destinations.login_ref(services.settings)
        if not ref:
            raise ConfigError(
                "No Google account is signed in.",
                action="Run `billsync google login --client-secrets FILE` first.",
            )
        options["google_ref"] = ref
    options["sheet"] = destinations.sheet_id(sheet) if sheet else None
    options["drive_folder"] = destinations.folder_id(drive_folder) if drive_folder else None
    creds = destinations.google_credentials(services.settings, services.secrets, options)
    destinations.check_access(services.settings, creds, sheet=options["sheet"],
                              folder=options["drive_folder"])  # fmt: skip
    if create_sheet or create_folder:
        if create_folder:
            options["drive_folder"] = destinations.create_google_file(
                services.settings,
                creds,
                name=f"billsync archive ({name})",
                mime=destinations.FOLDER_MIME,
                parent=None,
            )
        if create_sheet:
            options["sheet"] = destinations.create_google_file(
                services.settings,
                creds,
                name=f"billsync ledger ({name})",
                mime=destinations.SPREADSHEET_MIME,
                parent=options["drive_folder"],
            )
    return {k: v for k, v in options.items() if v is not None}


def _read_token(provider: str) -> str:
    env_name = TOKEN_ENV[provider]
    token = os.environ.get(env_name, "").strip()
    if token:
        return token
    if not sys.stdin.isatty():
        raise ConfigError(
            f"No {TOKEN_LABEL[provider]} given.",
            action=f"Set ${env_name}, or run this in a terminal to be asked for it.",
        )
    return str(click.prompt(TOKEN_LABEL[provider], hide_input=True)).strip()


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    widths[-1] = len(headers[-1])  # the last column is free text: never pad it
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _places(services: Services, name: str) -> tuple[str, str]:
    """Where a connection's ledger and archive are: its Sheet and Drive folder, or the local."""
    options = services.state.get_connection(name).options
    sheet, folder = options.get("sheet"), options.get("drive_folder")
    ledger = f"https://docs.google.com/spreadsheets/d/{sheet}/edit" if sheet else None
    archive = f"https://drive.google.com/drive/folders/{folder}" if folder else None
    return ledger or services.sink.location(), archive or services.files.location()


def _when(run: RunRecord) -> str:
    return run.started.strftime("%Y-%m-%d %H:%M UTC")


def _quoted(name: str) -> str:
    return f"'{name}'" if " " in name else name


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: one-line human errors on stderr, non-zero exit status."""
    try:
        # Outside standalone mode click hands back a raised Exit's code instead of exiting.
        status = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="billsync",
            standalone_mode=False,
        )
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BillsyncError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing already written was lost. Run the sync again.", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: one line for the person, the details in the log
        logs.get("cli").debug("unexpected error", exc_info=True)
        click.echo(
            f"error: unexpected {type(exc).__name__}; run again with -v for details.", err=True
        )
        sys.exit(2)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
