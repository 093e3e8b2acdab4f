"""Where a connection's ledger and archive live: the local workbook + folder, or a Sheet + Drive.

A connection's options choose: `sheet` (spreadsheet id) and/or `drive_folder` (folder id),
reached with `google_credentials` = "user" (the grant from `billsync google login`), "adc"
(Application Default Credentials) or a service-account key file path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from api.core.model import Connection
from api.engine import Destination
from api.errors import ConfigError, SecretError
from api.ports import SecretStore, StateStore
from api.settings import Settings

SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"
FOLDER_MIME = "application/vnd.google-apps.folder"
_ID = re.compile(r"^[A-Za-z0-9_-]{10,}$")
_SHEET_URL = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_FOLDER_URL = re.compile(r"(?:/folders/|[?&]id=)([A-Za-z0-9_-]+)")
LOGIN_FILE = "google-login.json"


def sheet_id(text: str) -> str:
    """A spreadsheet id from an id or any docs.google.com/spreadsheets/d/<id>/… URL."""
    return _google_id(text, _SHEET_URL, "spreadsheet", "--sheet")


def folder_id(text: str) -> str:
    """A folder id from an id or a drive.google.com/drive/folders/<id> URL."""
    return _google_id(text, _FOLDER_URL, "Drive folder", "--drive-folder")


def _google_id(text: str, pattern: re.Pattern[str], what: str, flag: str) -> str:
    text = text.strip()
    match = pattern.search(text)
    candidate = match.group(1) if match else text
    if not _ID.match(candidate):
        raise ConfigError(
            f"'{text}' is not a {what} id or link.",
            action=f"Pass {flag} the id or the address you see in the browser.",
        )
    return candidate


def uses_google(options: Mapping[str, Any]) -> bool:
    return bool(options.get("sheet") or options.get("drive_folder"))


def google_credentials(settings: Settings, secrets: SecretStore, options: Mapping[str, Any]) -> Any:
    """Credentials for a connection's Sheet and Drive folder; a dead grant fails clearly here."""
    from api.google import credentials as gc

    mode = str(options.get("google_credentials") or "user")
    if mode == "adc":
        return gc.default_credentials()
    if mode != "user":
        return gc.service_account_credentials(mode, token_uri=settings.google_oauth_token_uri)
    ref = options.get("google_ref") or login_ref(settings)
    if not ref:
        raise ConfigError(
            "This connection writes to Google, but no Google account is signed in.",
            action="Run `billsync google login` first.",
        )
    try:
        return gc.load_user_credentials(
            secrets, str(ref), token_uri=settings.google_oauth_token_uri
        )
    except (ConfigError, SecretError):
        if options.get("granted_in") != "sidebar":
            raise
        # A grant given in the sidebar is renewed there, not with the command line.
        raise ConfigError(
            "Google access was revoked or has expired.",
            action="Reconnect Google from the billsync sidebar in your spreadsheet.",
        ) from None


def login_ref(settings: Settings) -> str | None:
    """The secret ref of the last `billsync google login` on this machine (not a secret)."""
    path = settings.home / LOGIN_FILE
    try:
        return str(json.loads(path.read_text())["ref"])
    except (OSError, ValueError, KeyError):
        return None


def remember_login(settings: Settings, ref: str) -> None:
    path = settings.home / LOGIN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"ref": ref}))
    tmp.replace(path)


def destination_for(
    settings: Settings,
    state: StateStore,
    secrets: SecretStore,
    connection: Connection,
    local: Destination,
) -> Destination:
    """A fresh destination per run (Drive caches its folder look-ups for one run)."""
    options = connection.options
    if not uses_google(options):
        return local
    from api.archive.drive import DriveStore
    from api.ledger.sheets.ledger import SheetsLedger

    credentials = google_credentials(settings, secrets, options)
    sink = local.sink
    files = local.files
    if options.get("sheet"):
        sink = SheetsLedger(
            str(options["sheet"]),
            credentials,
            api_url=settings.google_sheets_api_url,
            drive_api_url=settings.google_drive_api_url,
            cell_limit=settings.google_sheets_cell_limit,
            # a trashed ledger Sheet was replaced: later runs write to the new one
            on_replaced=lambda new_id: state.update_options(connection.id, {"sheet": new_id}),
        )
    if options.get("drive_folder"):
        files = DriveStore(
            str(options["drive_folder"]), credentials, api_url=settings.google_drive_api_url,
            state=state, connection=connection.id,
            shared_drive=bool(options.get("shared_drive", False)),
        )  # fmt: skip
    return Destination(sink, files)


def create_google_file(
    settings: Settings, credentials: Any, *, name: str, mime: str, parent: str | None
) -> str:
    """Create a spreadsheet or folder the app may use (drive.file scope); returns its id."""
    from api.archive.drive_api import DriveApi

    api = DriveApi(credentials, api_url=settings.google_drive_api_url)
    body: dict[str, Any] = {"name": name, "mimeType": mime}
    if parent:
        body["parents"] = [parent]
    created = api.call(
        lambda: api.files.create(body=body, fields="id", supportsAllDrives=True),
        f"creating the {'spreadsheet' if mime == SPREADSHEET_MIME else 'folder'} '{name}'",
    )
    return str(created["id"])


def check_access(
    settings: Settings, credentials: Any, *, sheet: str | None, folder: str | None
) -> None:
    """Open the given Sheet and Drive folder once, so a wrong id or a missing share fails at
    connect time, with what to do, instead of at the first sync. Read-only: nothing changes."""
    from urllib.parse import quote

    from api.archive.drive_api import DriveApi
    from api.google.session import GoogleHttp, sheets_error_for

    if sheet:
        http = GoogleHttp(credentials, error_for=sheets_error_for(sheet))
        base = settings.google_sheets_api_url.rstrip("/")
        http.call("get", f"{base}/v4/spreadsheets/{quote(sheet, safe='')}",
                  params={"fields": "spreadsheetId"})  # fmt: skip
    if folder:
        api = DriveApi(credentials, api_url=settings.google_drive_api_url)
        found = api.call(
            lambda: api.files.get(fileId=folder, fields="id,mimeType", supportsAllDrives=True),
            f"opening the Drive folder {folder}",
        )
        if found.get("mimeType") != FOLDER_MIME:
            raise ConfigError(f"Drive item {folder} is a file, not a folder.",
                              action="Pass --drive-folder the address of a folder.")  # fmt: skip


def service_account_path(value: str) -> str:
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"No service-account key file at {path}.",
            action="Pass --google-credentials user, adc, or a key file path.",
        )
    return str(path.resolve())
