"""Per-year archive spreadsheets of Line Items: found or created in Drive, written like the ledger.

An archive is a Google Sheet "<ledger title> — Line Items <YYYY>" created with Drive files.create
beside the ledger (the drive.file scope allows files the app creates) and tagged with
appProperties {billsync.archive_of, billsync.year}, so a rerun finds it instead of making a
second one. Drive cannot pre-allocate ids for Google Sheets files, so a create whose answer was
lost is never repeated blindly: the tags are searched first. These Drive calls go through
GoogleHttp (requests), not the httplib2 client: httplib2 silently re-sends a POST whose
connection dropped, which here would be a second spreadsheet. The archive's one tab holds the
ledger's Line Items header and typing (sheets_cells), upserted by Line Key.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import quote as url_quote

from api.archive.drive import quote
from api.core.model import LINE_COLUMNS, LINE_KEY_COLUMN
from api.core.text import column_letter
from api.errors import BillsyncError, ConfigError, RetriableSinkError, SinkError
from api.google.credentials import REVOKED_MESSAGE
from api.google.session import RETRIABLE_STATUS, GoogleError, GoogleHttp, Sleep
from api.ledger.sheets.cells import typed
from api.ledger.sheets.layout import (
    SheetsClient,
    Tab,
    quoted,
    role_of,
    sheet_url,
    tab_of,
    tab_setup,
)
from api.ledger.sheets.plan import Planner, Request, TabState, chunk, line_invoice_key

SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"
ARCHIVE_OF = "billsync.archive_of"
REPLACES = "billsync.replaces"  # on a ledger Sheet made because the old one was trashed
ARCHIVE_YEAR = "billsync.year"
CREATE_ATTEMPTS = 3
REPLANS = 3
ROLE = "line_items"
TITLE = "Line Items"


class LinePlanner(Planner):
    """Upsert rows of one Line Items tab by Line Key (the ledger's planner, lines only)."""

    def __init__(self, lines: TabState, max_request_bytes: int) -> None:
        super().__init__(lines, lines, max_request_bytes)

    def upsert(
        self,
        rows: Sequence[Mapping[str, Any]],
        replace: Collection[str] = (),
        keep: Collection[str] = (),
    ) -> list[Request]:
        """Update rows in place, append new ones; an invoice in `replace` keeps only its `rows`.

        An invoice in `keep` (its ledger row is unchanged) whose rows are all here, once each,
        is left as it is, like the ledger's planner does. A duplicated key keeps its first row.
        """
        wanted = {str(row[LINE_KEY_COLUMN]): row for row in rows}
        settled = _settled(self.lines.keys, wanted, keep)
        wanted = {key: row for key, row in wanted.items() if line_invoice_key(key) not in settled}
        replace = set(replace) - settled
        names = list(dict.fromkeys(name for row in rows for name in row))
        requests = self._fix_headers(self.lines, names) if rows else []
        seen: set[str] = set()
        doomed = []
        for position, key in enumerate(self.lines.keys):
            stale = key and key not in wanted and line_invoice_key(key) in replace
            if stale or (key and key in seen):
                doomed.append(position)
            seen.add(key)
        requests += self.delete(doomed)
        at = {key: i for i, key in enumerate(self.lines.keys) if key in wanted}
        changed = {at[key]: row for key, row in wanted.items() if key in at}
        requests += self._update(self.lines, changed)
        new = [key for key in wanted if key not in at]
        requests += self._append(self.lines, [wanted[key] for key in new], new)
        return requests

    def delete(self, positions: Collection[int]) -> list[Request]:
        """deleteDimension requests (bottom-up) that remove these rows and shrink the grid."""
        return self._delete(self.lines, positions)


def _settled(present: list[str], wanted: Collection[str], keep: Collection[str]) -> set[str]:
    """Invoices of `keep` whose rows are exactly the wanted keys, each once."""
    have: dict[str, list[str]] = defaultdict(list)
    want: dict[str, list[str]] = defaultdict(list)
    for key in present:
        if key and line_invoice_key(key) in keep:
            have[line_invoice_key(key)].append(key)
    for key in wanted:
        want[line_invoice_key(key)].append(key)
    return {invoice for invoice in keep if sorted(have[invoice]) == sorted(want[invoice])}


class ArchiveBook:
    """The Line Items tab of one archive spreadsheet."""

    def __init__(self, client: SheetsClient, max_batch_bytes: int) -> None:
        self._client = client
        self._max_batch = max_batch_bytes
        self._tab: Tab | None = None

    @property
    def url(self) -> str:
        return sheet_url(self._client.spreadsheet_id)

    def upsert(
        self,
        header: list[str],
        rows: Sequence[Mapping[str, Any]],
        replace: Collection[str] = (),
        *,
        keep: Collection[str] = (),
    ) -> None:
        """Write `rows` (dicts by column name) by Line Key (see LinePlanner.upsert); after an
        ambiguous failure it re-reads the keys and plans again, so an applied body becomes
        nothing to do."""
        for attempt in range(REPLANS + 1):
            planner = LinePlanner(self._read(header), self._max_batch)
            requests = planner.upsert(rows, replace, keep)
            try:
                for body in chunk([requests], self._max_batch):
                    self._client.batch_update(body)
                return
            except RetriableSinkError:
                if attempt == REPLANS:
                    raise
                self._tab = None

    def rows(self) -> list[dict[str, Any]]:
        """The tab's rows typed like LedgerSink.rows (header names as keys)."""
        tab = self._line_tab(list(LINE_COLUMNS))
        (values,), _ = self._client.values([quoted(tab.title)])
        return typed_records(values, frozenset(LINE_COLUMNS))

    def _read(self, header: list[str]) -> TabState:
        tab = self._line_tab(header)
        guess = column_letter(header.index(LINE_KEY_COLUMN))
        title = quoted(tab.title)
        (first, keys), grids = self._client.values([f"{title}!1:1", f"{title}!{guess}:{guess}"])
        found = [str(value) for value in (first[0] if first else [])]
        if LINE_KEY_COLUMN not in found:
            keys = []
        elif found.index(LINE_KEY_COLUMN) != header.index(LINE_KEY_COLUMN):  # a moved column
            column = column_letter(found.index(LINE_KEY_COLUMN))
            (keys,), _ = self._client.values([f"{title}!{column}:{column}"])
        key_values = [str(row[0]) if row else "" for row in keys[1:]]
        return TabState(tab.sheet_id, tab.title, grids[1][0], grids[0][1], found, key_values,
                        None, 1)  # fmt: skip

    def _line_tab(self, header: list[str]) -> Tab:
        for _ in range(REPLANS):
            if self._tab is not None:
                return self._tab
            sheets = self._client.spreadsheet("sheets(properties,developerMetadata)")
            found = [tab_of(s) for s in sheets.get("sheets", []) if role_of(s) == ROLE]
            if found:
                self._tab = found[0]
                continue
            try:
                self._client.batch_update(_setup(sheets.get("sheets", []), header))
            except RetriableSinkError:
                continue  # it may have been applied: look again
        if self._tab is not None:
            return self._tab
        raise RetriableSinkError("Could not set up an archive spreadsheet; the next run retries.")


def typed_records(
    values: list[list[Any]], known: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """Rows below the header as dicts typed like the model (`known` columns; all of them when
    None); blank rows are skipped."""
    if not values:
        return []
    header = [str(name) for name in values[0]]
    names = frozenset(header) if known is None else known
    return [typed(header, raw, names) for raw in values[1:] if any(v != "" for v in raw)]


def _setup(sheets: list[dict[str, Any]], header: list[str]) -> list[Request]:
    """Turn a new spreadsheet's lone default tab into Line Items (so its 26,000 empty cells do
    not count), adopt a tab titled Line Items, or add one."""
    tabs = [tab_of(sheet) for sheet in sheets]
    same = next((tab for tab in tabs if tab.title == TITLE), None)
    grid = {"rowCount": 2, "columnCount": len(header)}
    requests: list[Request] = []
    if same is not None:
        sheet_id = same.sheet_id
    elif len(tabs) == 1 and tabs[0].title == "Sheet1":
        sheet_id = tabs[0].sheet_id
        requests.append({"updateSheetProperties": {
            "properties": {"sheetId": sheet_id, "title": TITLE, "gridProperties": grid},
            "fields": "title,gridProperties.rowCount,gridProperties.columnCount"}})  # fmt: skip
    else:
        sheet_id = max((tab.sheet_id for tab in tabs), default=0) + 1
        requests.append({"addSheet": {"properties": {"sheetId": sheet_id, "title": TITLE,
                                                     "gridProperties": grid}}})  # fmt: skip
    return requests + tab_setup(sheet_id, ROLE, header)


def drive_error(error: GoogleError) -> BillsyncError:
    """Drive's answer while finding or creating an archive -> our error tree."""
    where = "Google Drive, while finding or creating a Line Items archive spreadsheet"
    if error.code == 401:
        return ConfigError(REVOKED_MESSAGE)
    if error.code in RETRIABLE_STATUS or error.reason in ("rateLimitExceeded",
                                                         "userRateLimitExceeded"):  # fmt: skip
        return RetriableSinkError(f"{where}, was busy ({error.code}); the next run retries.")
    if error.reason == "storageQuotaExceeded":
        return SinkError(f"{where}, refused: storage quota exceeded.",
                         action="Free Drive storage, or run `billsync google login` so billsync "
                         "acts as you rather than a service account.")  # fmt: skip
    return SinkError(f"{where}, refused ({error.code} {error.reason or error.status}).",
                     action="Run `billsync google login` again so billsync may create files in "
                     "your Drive, or connect a new spreadsheet for the coming years.")  # fmt: skip


class DriveArchives:
    """Find or create the archive spreadsheet of one ledger and year, beside the ledger."""

    def __init__(
        self,
        ledger_id: str,
        credentials: Any,
        *,
        api_url: str,
        sleep: Sleep = time.sleep,
        max_attempts: int = 5,
    ) -> None:
        self._ledger_id = ledger_id
        self._files = f"{api_url.rstrip('/')}/drive/v3/files"
        self._http = GoogleHttp(credentials, error_for=drive_error, sleep=sleep,
                                max_attempts=max_attempts)  # fmt: skip
        self._sleep = sleep
        self._place: tuple[list[str], str | None] | None = None
        self._trashed = False
        self._name = "billsync ledger"  # the ledger's name in Drive, once read

    def find(self, year: str) -> str | None:
        """The archive spreadsheet of `year` (the oldest, should two ever exist), or None."""
        return self._find({ARCHIVE_OF: self._ledger_id, ARCHIVE_YEAR: year})

    def find_or_create(self, year: str, title: str) -> str:
        found = self.find(year)
        if found:
            return found
        parents, _ = self._where()
        body: dict[str, Any] = {"name": title, "mimeType": SPREADSHEET_MIME,
                                "appProperties": {ARCHIVE_OF: self._ledger_id,
                                                  ARCHIVE_YEAR: year}}  # fmt: skip
        if parents:
            body["parents"] = parents
        for attempt in range(CREATE_ATTEMPTS):
            try:
                created = self._http.call(
                    "post", self._files, body=body, idempotent=False,
                    params={"fields": "id", "supportsAllDrives": "true"})  # fmt: skip
                return str(created["id"])
            except RetriableSinkError:
                found = self.find(year)  # Drive may have made it before the answer was lost
                if found:
                    return found
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
                self._sleep(2.0**attempt)
        raise AssertionError("unreachable")

    def trashed(self) -> bool:
        """Whether the ledger Sheet is in the Drive trash (the Sheets API still serves it until
        Drive deletes it for good). False when Drive hides it from the drive.file scope."""
        self._where()
        return self._trashed

    def replacement(self) -> str:
        """A new Sheet beside the trashed ledger, made once: a retry after a lost answer, or the
        next run, finds the one made before by its `billsync.replaces` property."""
        found = self._find({REPLACES: self._ledger_id})
        if found:
            return found
        parents, _ = self._where()
        body: dict[str, Any] = {"name": self._name, "mimeType": SPREADSHEET_MIME,
                                "appProperties": {REPLACES: self._ledger_id}}  # fmt: skip
        if parents:
            body["parents"] = parents
        try:
            created = self._http.call(
                "post",
                self._files,
                body=body,
                idempotent=False,
                params={"fields": "id", "supportsAllDrives": "true"},
            )
        except RetriableSinkError:
            found = self._find({REPLACES: self._ledger_id})  # made before the answer was lost?
            if found:
                return found
            raise
        return str(created["id"])

    def _find(self, properties: Mapping[str, str]) -> str | None:
        _, drive_id = self._where()
        scope = {"corpora": "drive", "driveId": drive_id} if drive_id else {}
        q = (
            " and ".join(
                f"appProperties has {{ key={quote(k)} and value={quote(v)} }}"
                for k, v in properties.items()
            )
            + f" and mimeType = '{SPREADSHEET_MIME}' and trashed = false"
        )
        answer = self._http.call("get", self._files, params={
            "q": q, "fields": "files(id,createdTime)", "pageSize": "10",
            "supportsAllDrives": "true", "includeItemsFromAllDrives": "true", **scope})  # fmt: skip
        found = sorted(answer.get("files", []), key=lambda f: (f.get("createdTime", ""), f["id"]))
        return str(found[0]["id"]) if found else None

    def _where(self) -> tuple[list[str], str | None]:
        """The ledger's folders (and Shared Drive). Drive hides a ledger the app did not create
        under the drive.file scope (404): the archives then go to the root of My Drive."""
        if self._place is None:
            try:
                url = f"{self._files}/{url_quote(self._ledger_id, safe='')}"
                raw = self._http.call("get", url, params={
                    "fields": "id,name,parents,driveId,trashed",
                    "supportsAllDrives": "true"})  # fmt: skip
            except SinkError as exc:
                if exc.retryable:
                    raise
                raw = {}
            self._place = (list(raw.get("parents") or []), raw.get("driveId") or None)
            self._trashed = bool(raw.get("trashed"))
            self._name = str(raw.get("name") or self._name)
        return self._place
