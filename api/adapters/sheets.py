"""Google Sheets LedgerSink: tabs found by developer metadata, one key read, atomic batch upserts.

A write reads the key columns once (values.batchGet), plans typed CellData requests
(sheets_plan), and sends them as batchUpdate bodies of at most ~2 MB. batchUpdate is atomic,
so after a failure nothing of that body was applied or all of it was; the sink never repeats a
body blindly: it re-reads the keys and re-plans, which turns an already-applied body into
nothing to do.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from api import logs
from api.adapters.google_http import GoogleHttp, sheets_error_for
from api.adapters.sheets_budget import CellBudget, fit
from api.adapters.sheets_cells import CELL_FIELDS, header_cell, read_value, to_cell, typed
from api.adapters.sheets_plan import Planner, Request, TabState, chunk
from api.core.model import (
    INVOICE_COLUMNS,
    INVOICE_KEY_COLUMN,
    LINE_COLUMNS,
    LINE_KEY_COLUMN,
    RUN_COLUMNS,
    LedgerBatch,
    RunRecord,
)
from api.errors import RetriableSinkError
from api.ports import Clock, utcnow

log = logs.get("sheets")

METADATA_KEY = "billsync.tab"
ROLES = {"invoices": ("Invoices", INVOICE_COLUMNS), "line_items": ("Line Items", LINE_COLUMNS),
         "runs": ("Runs", RUN_COLUMNS)}  # fmt: skip
TITLE_ROLES = {title: role for role, (title, _) in ROLES.items()}
WIDTHS = {"Description": 320, "Invoice Key": 260, "Line Key": 280, "Message": 360, "PDF": 220,
          "CSV": 220, "Source URL": 220, "Product": 200, "Resource ID": 180}  # fmt: skip
REPLANS = 3  # fresh read + plan after an ambiguous failure, at most this many times


@dataclass
class Tab:
    sheet_id: int
    title: str
    row_count: int
    column_count: int
    frozen: int


class SheetsLedger:
    """The ledger in a Google Sheet the user owns or was shared."""

    def __init__(
        self,
        spreadsheet_id: str,
        credentials: Any,
        *,
        api_url: str,
        cell_limit: int = 10_000_000,
        max_batch_bytes: int = 2_000_000,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utcnow,
        account: str = "your Google account",
        max_attempts: int = 5,
    ) -> None:
        self.spreadsheet_id = spreadsheet_id
        self._base = f"{api_url.rstrip('/')}/v4/spreadsheets/{quote(spreadsheet_id, safe='')}"
        self._http = GoogleHttp(
            credentials,
            error_for=sheets_error_for(spreadsheet_id, account),
            sleep=sleep,
            max_attempts=max_attempts,
        )
        self._cell_limit = cell_limit
        self._max_batch = max_batch_bytes
        self._clock = clock
        self._tabs: dict[str, Tab] | None = None  # role -> tab, from developer metadata
        self._others: dict[int, int] = {}  # sheetId -> cells of tabs that are not ours
        self._headers: dict[str, list[str]] = {}

    # -- LedgerSink --------------------------------------------------------------------------

    def location(self) -> str:
        return f"https://docs.google.com/spreadsheets/d/{self.spreadsheet_id}/edit"

    def write(self, batch: LedgerBatch) -> None:
        if batch.empty:
            return
        for attempt in range(REPLANS + 1):
            invoices, lines = self._read_keys()
            planner = Planner(invoices, lines, self._max_batch)
            groups = planner.plan(batch)
            groups = self._within_limit(groups, invoices, lines)
            try:
                for body in chunk(groups, self._max_batch):
                    self._batch_update(body)
                return
            except RetriableSinkError:
                if attempt == REPLANS:
                    raise
                log.info("Sheets write interrupted; re-reading keys before trying again")
                self._tabs = None  # the layout may have moved too

    def append_run(self, run: RunRecord) -> None:
        for attempt in range(REPLANS + 1):
            tab = self._layout()["runs"]
            header = self._header("runs")
            row = run.row()
            if attempt and self._run_present(tab, header, row):
                return
            cells = [to_cell(name, row.get(name)) if name in row else {} for name in header]
            request = {"appendCells": {"sheetId": tab.sheet_id, "rows": [{"values": cells}],
                                       "fields": CELL_FIELDS}}  # fmt: skip
            try:
                self._batch_update([request])
                return
            except RetriableSinkError:
                if attempt == REPLANS:
                    raise
                self._tabs = None

    def rows(self, tab: str) -> list[dict[str, Any]]:
        layout = self._layout()
        role = TITLE_ROLES.get(tab)
        target = (
            layout[role] if role else next((t for t in self._all_tabs() if t.title == tab), None)
        )
        if target is None:
            return []
        (values,) = self._values([_whole(target.title)])
        if not values:
            return []
        header = [str(name) for name in values[0]]
        known = frozenset(ROLES[role][1]) if role else frozenset(header)
        return [
            typed(header, raw, known) for raw in values[1:] if any(value != "" for value in raw)
        ]

    # -- reading ----------------------------------------------------------------------------

    def _read_keys(self) -> tuple[TabState, TabState]:
        layout = self._layout()
        inv, lines, runs = layout["invoices"], layout["line_items"], layout["runs"]
        guess = self._headers.get("line_items") or list(LINE_COLUMNS)
        key_letter = _letter(guess.index(LINE_KEY_COLUMN) if LINE_KEY_COLUMN in guess else 0)
        ranges = [
            _whole(inv.title),
            f"{_quoted(lines.title)}!1:1",
            f"{_quoted(lines.title)}!{key_letter}:{key_letter}",
            f"{_quoted(runs.title)}!1:1",
        ]
        (inv_values, line_header, line_keys, run_header), grids = self._values(ranges, grids=True)
        header = [str(v) for v in (line_header[0] if line_header else [])]
        self._headers["runs"] = [str(v) for v in (run_header[0] if run_header else [])]
        self._headers["line_items"] = header
        if LINE_KEY_COLUMN in header and header.index(LINE_KEY_COLUMN) != guess.index(
            LINE_KEY_COLUMN
        ):
            letter = _letter(header.index(LINE_KEY_COLUMN))  # the user moved the key column
            (line_keys,) = self._values([f"{_quoted(lines.title)}!{letter}:{letter}"])
        elif LINE_KEY_COLUMN not in header:
            line_keys = []
        inv_header = [str(v) for v in (inv_values[0] if inv_values else [])]
        key_at = inv_header.index(INVOICE_KEY_COLUMN) if INVOICE_KEY_COLUMN in inv_header else None
        inv_rows = [list(r) for r in inv_values[1:]]
        inv_keys = [
            str(r[key_at]) if key_at is not None and key_at < len(r) else "" for r in inv_rows
        ]
        line_key_values = [str(r[0]) if r else "" for r in line_keys[1:]]
        invoices = TabState(inv.sheet_id, inv.title, grids[0][0], grids[0][1], inv_header,
                            inv_keys, inv_rows, max(inv.frozen, 1))  # fmt: skip
        line_state = TabState(lines.sheet_id, lines.title, grids[2][0], grids[1][1], header,
                              line_key_values, None, max(lines.frozen, 1))  # fmt: skip
        return invoices, line_state

    def _values(self, ranges: list[str], *, grids: bool = False) -> Any:
        answer = self._http.call(
            "get",
            f"{self._base}/values:batchGet",
            params={"ranges": ranges, "valueRenderOption": "UNFORMATTED_VALUE",
                    "dateTimeRenderOption": "SERIAL_NUMBER", "majorDimension": "ROWS"},
        )  # fmt: skip
        value_ranges = answer.get("valueRanges", [])
        values = [item.get("values", []) for item in value_ranges]
        if not grids:
            return values
        # The answered range is clipped to the grid: it tells the grid's size for free.
        return values, [_grid_size(item.get("range", "")) for item in value_ranges]

    def _header(self, role: str) -> list[str]:
        if role not in self._headers:
            tab = self._layout()[role]
            (values,) = self._values([f"{_quoted(tab.title)}!1:1"])
            self._headers[role] = [str(v) for v in (values[0] if values else [])]
        return self._headers[role] or list(ROLES[role][1])

    def _run_present(self, tab: Tab, header: list[str], row: dict[str, Any]) -> bool:
        (values,) = self._values([_whole(tab.title)])
        wanted = [read_value(to_cell(name, row.get(name))) for name in ("Started", "Connection")]
        at = [header.index(name) for name in ("Started", "Connection") if name in header]
        if len(at) != 2:
            return False
        return any([r[i] if i < len(r) else "" for i in at] == wanted for r in values[1:])

    # -- layout: our tabs, found by developer metadata ---------------------------------------

    def _layout(self) -> dict[str, Tab]:
        if self._tabs is None:
            self._tabs = self._find_or_create_tabs()
        return self._tabs

    def _all_tabs(self) -> list[Tab]:
        return [_tab(sheet) for sheet in self._spreadsheet().get("sheets", [])]

    def _spreadsheet(self) -> dict[str, Any]:
        return self._http.call(
            "get", self._base,
            params={"includeGridData": "false",
                    "fields": "spreadsheetId,sheets(properties,developerMetadata)"},
        )  # fmt: skip

    def _find_or_create_tabs(self) -> dict[str, Tab]:
        for attempt in range(REPLANS + 1):
            sheets = self._spreadsheet().get("sheets", [])
            found: dict[str, Tab] = {}
            self._others = {}
            for sheet in sheets:
                role = _role(sheet)
                if role in ROLES and role not in found:
                    found[role] = _tab(sheet)
                else:
                    tab = _tab(sheet)
                    self._others[tab.sheet_id] = tab.row_count * tab.column_count
            missing = [role for role in ROLES if role not in found]
            if not missing:
                return found
            if attempt == REPLANS:
                break
            titles = {_tab(sheet).title: sheet for sheet in sheets}
            try:
                self._batch_update(_setup_requests(missing, titles))
            except RetriableSinkError:
                continue  # it may have been applied: look again before anything else
        raise RetriableSinkError("Could not set up the ledger tabs; the next run will retry.")

    def _within_limit(
        self, groups: list[list[Request]], invoices: TabState, lines: TabState
    ) -> list[list[Request]]:
        runs = self._layout()["runs"]
        used = sum(self._others.values()) + runs.row_count * runs.column_count
        used += invoices.row_count * invoices.column_count + lines.row_count * lines.column_count
        stamp = {"Started": self._clock(), "Finished": self._clock(), "Trigger": "sheets"}
        header = self._header("runs")
        return fit(CellBudget(self._cell_limit, used), groups, (invoices, lines),
                   (runs.sheet_id, header), stamp)  # fmt: skip

    def _batch_update(self, requests: list[Request]) -> dict[str, Any]:
        return self._http.call(
            "post", f"{self._base}:batchUpdate", body={"requests": requests}, idempotent=False
        )


def _setup_requests(missing: list[str], titles: dict[str, Any]) -> list[Request]:
    """Adopt a same-titled tab without metadata, or add the tab; header, filter, widths."""
    requests: list[Request] = []
    for role in missing:
        title, columns = ROLES[role]
        existing = titles.get(title)
        if existing is not None:
            sheet_id = existing["properties"]["sheetId"]
        else:
            sheet_id = zlib.crc32(role.encode()) % 1_000_000_000 + 1
            requests.append(
                {
                    "addSheet": {
                        "properties": {
                            "sheetId": sheet_id,
                            "title": title,
                            "gridProperties": {
                                "rowCount": 2,
                                "columnCount": len(columns),
                                "frozenRowCount": 1,
                            },
                        }
                    }
                }
            )
        requests.append(
            {
                "updateCells": {
                    "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
                    "rows": [{"values": [header_cell(name) for name in columns]}],
                    "fields": "userEnteredValue,userEnteredFormat.textFormat.bold",
                }
            }
        )
        requests.append(
            {
                "updateSheetProperties": {
                    "properties": {"sheetId": sheet_id, "gridProperties": {"frozenRowCount": 1}},
                    "fields": "gridProperties.frozenRowCount",
                }
            }
        )
        requests.append({"setBasicFilter": {"filter": {"range": {"sheetId": sheet_id}}}})
        for index, name in enumerate(columns):
            requests.append(
                {
                    "updateDimensionProperties": {
                        "range": {
                            "sheetId": sheet_id,
                            "dimension": "COLUMNS",
                            "startIndex": index,
                            "endIndex": index + 1,
                        },
                        "properties": {"pixelSize": WIDTHS.get(name, 120)},
                        "fields": "pixelSize",
                    }
                }
            )
        requests.append(
            {
                "createDeveloperMetadata": {
                    "developerMetadata": {
                        "metadataKey": METADATA_KEY,
                        "metadataValue": role,
                        "location": {"sheetId": sheet_id},
                        "visibility": "DOCUMENT",
                    }
                }
            }
        )
    return requests  # fmt: skip


def _role(sheet: dict[str, Any]) -> str | None:
    for item in sheet.get("developerMetadata", []):
        if item.get("metadataKey") == METADATA_KEY:
            return str(item.get("metadataValue"))
    return None


def _tab(sheet: dict[str, Any]) -> Tab:
    props = sheet["properties"]
    grid = props.get("gridProperties", {})
    return Tab(int(props["sheetId"]), str(props["title"]), int(grid.get("rowCount", 0)),
               int(grid.get("columnCount", 0)), int(grid.get("frozenRowCount", 0)))  # fmt: skip


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _whole(title: str) -> str:
    return _quoted(title)


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _grid_size(a1: str) -> tuple[int, int]:
    """(rows, columns) from an answered range such as 'Line Items'!A1:U48001."""
    cells = a1.rpartition("!")[2]
    end = cells.split(":")[-1]
    letters = "".join(ch for ch in end if ch.isalpha())
    digits = "".join(ch for ch in end if ch.isdigit())
    column = 0
    for ch in letters.upper():
        column = column * 26 + ord(ch) - 64
    return int(digits or 0), column
