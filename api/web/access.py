"""Per-sheet authorization: may this user open that spreadsheet? Asked of Google, as the user.

A user touches only connections of spreadsheets their own Google account can open. The answer
comes from `spreadsheets.get` with a field mask (`fields=spreadsheetId`, a few hundred bytes)
made with the user's own consented credentials, never from the request body; a yes is kept
for `ttl` seconds per (user, sheet). Sheets' 403 / 404 -> Forbidden (the same answer for both,
so a caller learns nothing about sheets they cannot see).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from api.errors import (
    BillsyncError,
    ConfigError,
    Conflict,
    Forbidden,
    GoogleNotConnected,
    InvalidRequest,
    SecretError,
    SinkError,
)
from api.google.credentials import load_user_credentials
from api.google.session import GoogleError, GoogleHttp
from api.ports import SecretStore
from api.web.accounts import AccountStore
from api.web.config import OAuthClient

LOCAL_SHEET = "local"
_SHEET_ID = re.compile(r"^[A-Za-z0-9_-]{10,200}$")


def check_sheet_id(spreadsheet_id: str, *, local_allowed: bool) -> None:
    if spreadsheet_id == LOCAL_SHEET:
        if local_allowed:
            return
        raise Forbidden(
            "This service writes to Google Sheets only; 'local' is `billsync serve`'s workbook.",
            action="Open the sidebar from the spreadsheet you want to use.",
        )
    if not _SHEET_ID.match(spreadsheet_id):
        raise InvalidRequest(
            f"'{spreadsheet_id[:80]}' is not a spreadsheet id.",
            action="Use the id in the sheet's address: /spreadsheets/d/<id>/edit.",
        )


class SheetAccess:
    """Answers `require(subject, spreadsheet_id)`; counts Google calls in `calls`."""

    def __init__(
        self,
        *,
        accounts: AccountStore,
        secrets: SecretStore,
        sheets_api_url: str,
        client: OAuthClient | None,
        token_uri: str,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = accounts
        self._secrets = secrets
        self._base = sheets_api_url.rstrip("/")
        self._client = client
        self._token_uri = token_uri
        self._ttl = ttl
        self._clock = clock
        self._allowed: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self.calls = 0

    def credentials(self, subject: str) -> Any:
        """The user's refreshed Google credentials; GoogleNotConnected before consent."""
        ref = self._accounts.grant_ref(subject)
        if ref is None:
            raise GoogleNotConnected()
        try:
            return load_user_credentials(
                self._secrets,
                ref,
                token_uri=self._token_uri,
                client_id=self._client.client_id if self._client else None,
                client_secret=self._client.client_secret if self._client else None,
            )
        except (ConfigError, SecretError):  # a revoked or unreadable grant: consent again
            raise Conflict(
                "Google access was revoked or has expired.",
                code="google_not_connected",
                action="Connect your Google account again from the sidebar.",
            ) from None

    def require(self, subject: str, spreadsheet_id: str) -> None:
        check_sheet_id(spreadsheet_id, local_allowed=False)
        key = (subject, spreadsheet_id)
        with self._lock:
            until = self._allowed.get(key)
        if until is not None and self._clock() < until:
            return
        credentials = self.credentials(subject)
        http = GoogleHttp(credentials, error_for=_error_for(spreadsheet_id), max_attempts=2)
        self.calls += 1
        http.call(
            "get",
            f"{self._base}/v4/spreadsheets/{quote(spreadsheet_id, safe='')}",
            params={"fields": "spreadsheetId"},
        )
        with self._lock:
            self._allowed[key] = self._clock() + self._ttl


def _error_for(spreadsheet_id: str) -> Callable[[GoogleError], BillsyncError]:
    def error_for(error: GoogleError) -> BillsyncError:
        if error.code in (403, 404):
            return Forbidden(
                "Your Google account cannot open this spreadsheet.",
                action="Ask its owner to share it with you, then try again.",
            )
        if error.code == 401:
            return GoogleNotConnected()
        return SinkError(f"Google Sheets did not answer for spreadsheet {spreadsheet_id}.")

    return error_for
