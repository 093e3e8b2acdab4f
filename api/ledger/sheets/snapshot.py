"""The ledger as one spreadsheets.getByDataFilter read: tabs, header rows and key columns.

Every range a write plans against carries developer metadata located on it: the Invoices tab
is read whole (its `billsync.tab` sheet metadata), the header rows of Line Items and Runs carry
`billsync.header` (on the ROWS dimension), and the Line Key column carries `billsync.key` (on
the COLUMNS dimension). Metadata on a dimension moves with its row or column, so a column a
person inserts or moves never shifts what we read; it is deleted with its column, and then the
snapshot is incomplete: the sink falls back to reading by header name (spreadsheets.get +
values.batchGet) and tags the ranges again (`missing_tags`), once.
Google returns only the sheets a matched range touches, so tabs that are not ours are counted
from the last full look-up (the cell budget), never from this read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api.core.model import INVOICE_KEY_COLUMN, LINE_KEY_COLUMN
from api.ledger.sheets.layout import METADATA_KEY, Tab, role_of, tab_of
from api.ledger.sheets.plan import Request, TabState

HEADER_KEY = "billsync.header"  # on row 0 of Line Items and Runs; value = the tab's role
KEY_COLUMN_KEY = "billsync.key"  # on the Line Key column; value = the tab's role
FILTERS = [
    {"developerMetadataLookup": {"metadataKey": METADATA_KEY, "metadataValue": "invoices",
                                 "locationType": "SHEET"}},
    {"developerMetadataLookup": {"metadataKey": HEADER_KEY, "locationType": "ROW"}},
    {"developerMetadataLookup": {"metadataKey": KEY_COLUMN_KEY, "locationType": "COLUMN"}},
]  # fmt: skip
FIELDS = (
    "properties.title,developerMetadata,sheets(properties(sheetId,title,index,gridProperties),"
    "developerMetadata,data(startRow,startColumn,rowData(values(effectiveValue)),"
    "columnMetadata(developerMetadata)))"
)


@dataclass
class Block:
    """One GridData block: where it starts, its raw values, and the column metadata keys."""

    row: int
    column: int
    values: list[list[Any]]
    column_keys: list[set[str]]


@dataclass
class Snapshot:
    title: str
    metadata: list[dict[str, Any]]  # the spreadsheet's own developer metadata
    tabs: dict[str, Tab] = field(default_factory=dict)
    blocks: dict[str, list[Block]] = field(default_factory=dict)

    def states(self) -> tuple[TabState, TabState, list[str]] | None:
        """(Invoices, Line Items, Runs header) when every tagged range is where it should be."""
        if set(self.tabs) != {"invoices", "line_items", "runs"}:
            return None
        whole = self._full_width_block("invoices")
        line_header = self._header_block("line_items")
        run_header = self._header_block("runs")
        key = self._key_block()
        if whole is None or line_header is None or run_header is None or key is None:
            return None
        header = [str(v) for v in (line_header.values[0] if line_header.values else [])]
        if key.column >= len(header) or header[key.column] != LINE_KEY_COLUMN:
            return None  # a tag that no longer sits on the Line Key column: read by name
        inv, lines = self.tabs["invoices"], self.tabs["line_items"]
        inv_header = [str(v) for v in (whole.values[0] if whole.values else [])]
        key_at = inv_header.index(INVOICE_KEY_COLUMN) if INVOICE_KEY_COLUMN in inv_header else None
        inv_rows = [list(row) for row in whole.values[1:]]
        inv_keys = [str(r[key_at]) if key_at is not None and key_at < len(r) else ""
                    for r in inv_rows]  # fmt: skip
        line_keys = [str(r[0]) if r else "" for r in key.values[1:]]
        runs = [str(v) for v in (run_header.values[0] if run_header.values else [])]
        return (
            TabState(inv.sheet_id, inv.title, inv.row_count, inv.column_count, inv_header,
                     inv_keys, inv_rows, max(inv.frozen, 1)),
            TabState(lines.sheet_id, lines.title, lines.row_count, lines.column_count, header,
                     line_keys, None, max(lines.frozen, 1)),
            runs,
        )  # fmt: skip

    def missing_tags(self, tabs: dict[str, Tab], headers: dict[str, list[str]]) -> list[Request]:
        """Tags to (re)create on tabs found by a full look-up, for ranges this read missed."""
        requests: list[Request] = []
        for role in ("line_items", "runs"):
            if role in tabs and (role not in self.tabs or self._header_block(role) is None):
                requests.append(tag(tabs[role].sheet_id, HEADER_KEY, role, "ROWS", 0))
        lines = tabs.get("line_items")
        header = headers.get("line_items") or []
        key = self._key_block() if "line_items" in self.tabs else None
        if lines is not None and LINE_KEY_COLUMN in header:
            at = header.index(LINE_KEY_COLUMN)
            if key is None or key.column != at:
                if key is not None:  # on the wrong column now (its header was edited)
                    requests.append(untag(KEY_COLUMN_KEY, "line_items"))
                requests.append(tag(lines.sheet_id, KEY_COLUMN_KEY, "line_items", "COLUMNS", at))
        return requests

    def _full_width_block(self, role: str) -> Block | None:
        width = self.tabs[role].column_count
        return next((b for b in self.blocks.get(role, []) if b.row == 0 and b.column == 0
                     and len(b.column_keys) == width), None)  # fmt: skip

    def _header_block(self, role: str) -> Block | None:
        block = self._full_width_block(role)
        return block if block is not None and len(block.values) <= 1 else None

    def _key_block(self) -> Block | None:
        return next((b for b in self.blocks.get("line_items", []) if len(b.column_keys) == 1
                     and KEY_COLUMN_KEY in b.column_keys[0]), None)  # fmt: skip


def parse(answer: dict[str, Any]) -> Snapshot:
    snapshot = Snapshot(str(answer.get("properties", {}).get("title") or "Ledger"),
                        list(answer.get("developerMetadata", [])))  # fmt: skip
    for sheet in answer.get("sheets", []):
        role = role_of(sheet)
        if role is None or role in snapshot.tabs:
            continue
        snapshot.tabs[role] = tab_of(sheet)
        snapshot.blocks[role] = [_block(data) for data in sheet.get("data", [])]
    return snapshot


def _block(data: dict[str, Any]) -> Block:
    values = []
    for row in data.get("rowData", []):
        cells = [_raw(cell.get("effectiveValue")) for cell in row.get("values", [])]
        while cells and cells[-1] == "":
            cells.pop()
        values.append(cells)
    keys = [{str(m.get("metadataKey")) for m in column.get("developerMetadata", [])}
            for column in data.get("columnMetadata", [])]  # fmt: skip
    return Block(int(data.get("startRow", 0)), int(data.get("startColumn", 0)), values, keys)


def _raw(value: dict[str, Any] | None) -> Any:
    """An effective value as values.batchGet renders it (UNFORMATTED_VALUE, SERIAL_NUMBER)."""
    if not value:
        return ""
    if "numberValue" in value:
        number = value["numberValue"]
        return int(number) if float(number).is_integer() else float(number)
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "stringValue" in value:
        return str(value["stringValue"])
    return "#ERROR!"  # an error value: never a key of ours


def tag(sheet_id: int, key: str, role: str, dimension: str, at: int) -> Request:
    return {"createDeveloperMetadata": {"developerMetadata": {
        "metadataKey": key, "metadataValue": role, "visibility": "DOCUMENT",
        "location": {"dimensionRange": {"sheetId": sheet_id, "dimension": dimension,
                                        "startIndex": at, "endIndex": at + 1}}}}}  # fmt: skip


def untag(key: str, role: str) -> Request:
    return {"deleteDeveloperMetadata": {"dataFilter": {"developerMetadataLookup": {
        "metadataKey": key, "metadataValue": role}}}}  # fmt: skip


def read_tags(sheet_id: int, role: str, columns: list[str]) -> list[Request]:
    """The tags a new tab gets at setup (the Invoices tab is read whole: none)."""
    if role == "invoices":
        return []
    requests = [tag(sheet_id, HEADER_KEY, role, "ROWS", 0)]
    if LINE_KEY_COLUMN in columns and role == "line_items":
        requests.append(tag(sheet_id, KEY_COLUMN_KEY, role, "COLUMNS",
                            columns.index(LINE_KEY_COLUMN)))  # fmt: skip
    return requests
