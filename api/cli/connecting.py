"""Commands that set billsync up: connect a provider (and a Google Sheet/Drive destination),
sign in to Google, list and remove connections."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from api import connections, destinations
from api.cli.app import Context, cli
from api.cli.output import print_table, shell_quoted, started
from api.errors import ConfigError
from api.factory import Services

TOKEN_ENV = {"digitalocean": "DIGITALOCEAN_TOKEN", "doit": "DOIT_API_KEY"}
TOKEN_LABEL = {"digitalocean": "DigitalOcean read-only API token", "doit": "DoiT API key"}


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
    obj: Context,
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
    click.echo(f"Next: billsync sync {shell_quoted(connection.name)}")


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
def login(obj: Context, client_secrets: str, no_browser: bool) -> None:
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
def list_connections(obj: Context) -> None:
    """List connections (tokens are shown only as fingerprints)."""
    services = obj.services()
    rows = []
    for connection in services.state.list_connections():
        last = services.state.list_runs(connection.name, limit=1)
        rows.append([
            connection.name, connection.provider, connection.account, connection.fingerprint,
            started(last[0]) + " " + last[0].status if last else "never synced",
        ])  # fmt: skip
    if not rows:
        click.echo("No connections yet. Start with: billsync connect digitalocean --name NAME")
        return
    print_table(["NAME", "PROVIDER", "ACCOUNT", "TOKEN", "LAST SYNC"], rows)


@cli.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def disconnect(obj: Context, name: str, yes: bool) -> None:
    """Forget a connection and destroy its stored token (ledger rows stay)."""
    services = obj.services()
    services.state.get_connection(name)
    if not yes:
        if not sys.stdin.isatty():
            raise ConfigError(
                f"Not disconnecting '{name}': there is no terminal to confirm on.",
                action="Add --yes to destroy its stored token: billsync disconnect "
                f"{shell_quoted(name)} --yes",
            )
        click.confirm(f"Disconnect '{name}' and destroy its stored token?", abort=True)
    connection = connections.disconnect(state=services.state, secrets=services.secrets, name=name)
    click.echo(
        f"Disconnected '{connection.name}'; its token ({connection.fingerprint}) was destroyed."
    )


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
