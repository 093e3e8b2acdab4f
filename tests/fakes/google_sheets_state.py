"""State of the fake Sheets: spreadsheets, tabs (grids of CellData), developer metadata, A1 ranges.

Rows are replaced, never edited in place, so a batchUpdate can work on a cheap copy of the
tabs and be swapped in only when every request of the batch succeeded (atomic, like Google).
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any

CELL_LIMIT = 10_000_000
EPOCH = dt.datetime(1899, 12, 30)


class SheetsError(Exception):
    """A request Google answers with an error: (code, message, status)."""

    def __init__(self, code: int, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def bad_request(message: str) -> SheetsError:
    return SheetsError(400, message, "INVALID_ARGUMENT")


@dataclass
class Tab:
    sheet_id: int
    title: str
    index: int
    row_count: int = 1000
    column_count: int = 26
    frozen_rows: int = 0
    frozen_columns: int = 0
    cells: list[list[dict[str, Any]]] = field(default_factory=list)  # sparse: short rows OK
    basic_filter: dict[str, Any] | None = None
    column_widths: dict[int, int] = field(default_factory=dict)
    charts: list[dict[str, Any]] = field(default_factory=list)  # EmbeddedChart resources

    def clone(self) -> Tab:
        twin = copy.copy(self)
        twin.cells = list(self.cells)
        twin.column_widths = dict(self.column_widths)
        twin.charts = list(self.charts)
        return twin

    def cell(self, row: int, column: int) -> dict[str, Any]:
        if row < len(self.cells) and column < len(self.cells[row]):
            return self.cells[row][column]
        return {}

    def set_row(self, row: int, values: dict[int, dict[str, Any]]) -> None:
        """Replace cells of one row (by column) with new dicts."""
        while len(self.cells) <= row:
            self.cells.append([])
        current = list(self.cells[row])
        width = max([len(current), *(column + 1 for column in values)])
        current.extend({} for _ in range(width - len(current)))
        for column, value in values.items():
            current[column] = value
        self.cells[row] = current

    def last_data_row(self) -> int:
        """Index after the last row holding a value (appendCells writes there)."""
        for row in range(min(len(self.cells), self.row_count) - 1, -1, -1):
            if any("userEnteredValue" in cell for cell in self.cells[row]):
                return row + 1
        return 0

    def properties(self) -> dict[str, Any]:
        grid: dict[str, Any] = {"rowCount": self.row_count, "columnCount": self.column_count}
        if self.frozen_rows:
            grid["frozenRowCount"] = self.frozen_rows
        if self.frozen_columns:
            grid["frozenColumnCount"] = self.frozen_columns
        return {"sheetId": self.sheet_id, "title": self.title, "index": self.index,
                "sheetType": "GRID", "gridProperties": grid}  # fmt: skip

    # -- helpers for tests --------------------------------------------------------------

    def values(self) -> list[list[Any]]:
        """Effective values, row by row (None for an empty cell)."""
        rows = [[effective(cell) for cell in row] for row in self.cells[: self.row_count]]
        width = max((len(row) for row in rows), default=0)
        return [row + [None] * (width - len(row)) for row in rows]

    def records(self) -> list[dict[str, Any]]:
        """Rows below the header as dicts keyed by the header's text."""
        rows = self.values()
        if not rows:
            return []
        header = rows[0]
        return [
            {str(name): value for name, value in zip(header, row, strict=False) if name}
            for row in rows[1:]
            if any(value not in (None, "") for value in row)
        ]


@dataclass
class Spreadsheet:
    id: str
    title: str
    tabs: list[Tab] = field(default_factory=list)
    metadata: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> DeveloperMetadata
    kind: str = "sheet"  # "sheet" | "xlsx" (an Office file opened in Drive)
    shared: bool = True

    def tab_by_id(self, sheet_id: Any) -> Tab:
        for tab in self.tabs:
            if tab.sheet_id == int(sheet_id):
                return tab
        raise bad_request(f"No grid with id: {sheet_id}")

    def tab_by_title(self, title: str) -> Tab | None:
        for tab in self.tabs:
            if tab.title == title:
                return tab
        return None

    def cell_total(self) -> int:
        return sum(tab.row_count * tab.column_count for tab in self.tabs)

    def shift_metadata(self, sheet_id: int, dimension: str, at: int, count: int) -> None:
        """Rows or columns inserted at `at` (count > 0) or deleted from `at` (count < 0): metadata
        on that dimension moves with its rows/columns, grows around an insertion inside it,
        and goes when all of its rows/columns are deleted. Items are replaced, never edited
        (a batchUpdate works on a shallow copy)."""

        def deleted(x: int) -> int:
            return x if x <= at else max(at, x + count)

        for key, item in list(self.metadata.items()):
            span = item["location"].get("dimensionRange")
            if not span or span.get("sheetId", 0) != sheet_id or span["dimension"] != dimension:
                continue
            start, end = int(span["startIndex"]), int(span["endIndex"])
            if count > 0:
                start, end = start + (count if start >= at else 0), end + (count if end > at else 0)
            else:
                start, end = deleted(start), deleted(end)
            if start >= end:
                del self.metadata[key]
                continue
            moved = {**span, "startIndex": start, "endIndex": end}
            self.metadata[key] = {**item, "location": {**item["location"], "dimensionRange": moved}}

    def reindex(self) -> None:
        self.tabs.sort(key=lambda tab: tab.index)
        for position, tab in enumerate(self.tabs):
            tab.index = position


class SheetsState:
    """Every spreadsheet the fake knows; tests create, break and inspect them here."""

    def __init__(self) -> None:
        self.books: dict[str, Spreadsheet] = {}
        self.cell_limit = CELL_LIMIT
        self._ids = itertools.count(1_000_001)
        self._lock = threading.Lock()

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def create(self, spreadsheet_id: str | None = None, title: str = "Ledger") -> Spreadsheet:
        book = Spreadsheet(spreadsheet_id or f"fake-sheet-{self.next_id()}", title)
        book.tabs.append(Tab(0, "Sheet1", 0))
        self.books[book.id] = book
        return book

    def add_xlsx(self, spreadsheet_id: str) -> Spreadsheet:
        book = self.create(spreadsheet_id, "ledger.xlsx")
        book.kind = "xlsx"
        return book

    def book(self, spreadsheet_id: str) -> Spreadsheet:
        book = self.books.get(spreadsheet_id)
        if book is None:
            raise SheetsError(404, "Requested entity was not found.", "NOT_FOUND")
        if not book.shared:
            raise SheetsError(403, "The caller does not have permission", "PERMISSION_DENIED")
        if book.kind != "sheet":
            raise SheetsError(
                400, "This operation is not supported for this document", "FAILED_PRECONDITION"
            )
        return book

    # -- what a person does in the Sheets UI (for tests) ---------------------------------

    def tab(self, spreadsheet_id: str, title: str) -> Tab:
        found = self.books[spreadsheet_id].tab_by_title(title)
        if found is None:
            raise KeyError(title)
        return found

    def rename(self, spreadsheet_id: str, title: str, new_title: str) -> None:
        self.tab(spreadsheet_id, title).title = new_title

    def delete_tab(self, spreadsheet_id: str, title: str) -> None:
        """A person deleting a tab in the Sheets UI: its cells and its metadata go with it."""
        book = self.books[spreadsheet_id]
        tab = self.tab(spreadsheet_id, title)
        book.tabs.remove(tab)
        book.metadata = {
            key: item
            for key, item in book.metadata.items()
            if item.get("location", {}).get("sheetId",
                item.get("location", {}).get("dimensionRange", {}).get("sheetId")) != tab.sheet_id
        }  # fmt: skip
        book.reindex()

    def move(self, spreadsheet_id: str, title: str, index: int) -> None:
        book = self.books[spreadsheet_id]
        tab = self.tab(spreadsheet_id, title)
        book.tabs.remove(tab)
        book.tabs.insert(index, tab)
        for position, each in enumerate(book.tabs):
            each.index = position

    def reorder_columns(self, spreadsheet_id: str, title: str, order: list[str]) -> None:
        """Rearrange whole columns so the header reads `order` (then any others)."""
        tab = self.tab(spreadsheet_id, title)
        header = [effective(cell) for cell in (tab.cells[0] if tab.cells else [])]
        picks = [header.index(name) for name in order if name in header]
        picks += [index for index in range(len(header)) if index not in picks]
        tab.cells = [[row[i] if i < len(row) else {} for i in picks] for row in tab.cells]
        book = self.books[spreadsheet_id]
        for key, item in list(book.metadata.items()):  # column metadata moves with its column
            span = item["location"].get("dimensionRange")
            if (span and span.get("sheetId", 0) == tab.sheet_id and span["dimension"] == "COLUMNS"
                    and span["endIndex"] - span["startIndex"] == 1
                    and span["startIndex"] in picks):  # fmt: skip
                at = picks.index(span["startIndex"])
                moved = {**span, "startIndex": at, "endIndex": at + 1}
                book.metadata[key] = {**item, "location": {**item["location"],
                                                           "dimensionRange": moved}}  # fmt: skip

    def insert_columns(self, spreadsheet_id: str, title: str, at: int, count: int = 1) -> None:
        """Insert empty columns before column `at` (Insert > Column left)."""
        tab = self.tab(spreadsheet_id, title)
        tab.cells = [row[:at] + [{} for _ in range(count)] + row[at:] if len(row) > at else row
                     for row in tab.cells]  # fmt: skip
        tab.column_count += count
        self.books[spreadsheet_id].shift_metadata(tab.sheet_id, "COLUMNS", at, count)

    def delete_columns(self, spreadsheet_id: str, title: str, at: int, count: int = 1) -> None:
        """Delete columns at..at+count (Delete column); metadata on them goes with them."""
        tab = self.tab(spreadsheet_id, title)
        tab.cells = [row[:at] + row[at + count :] for row in tab.cells]
        tab.column_count -= count
        self.books[spreadsheet_id].shift_metadata(tab.sheet_id, "COLUMNS", at, -count)


# -- cell values ------------------------------------------------------------------------------


def effective(cell: dict[str, Any]) -> Any:
    value = cell.get("userEnteredValue")
    if not value:
        return None
    if "formulaValue" in value:
        return "#FORMULA-NOT-EVALUATED"  # the fake never evaluates: nobody should write these
    for kind in ("stringValue", "numberValue", "boolValue"):
        if kind in value:
            return float(value[kind]) if kind == "numberValue" else value[kind]
    return None


def rendered(cell: dict[str, Any], value_render: str, date_render: str) -> Any:
    """A cell as values.batchGet renders it ('' for an empty cell)."""
    user = cell.get("userEnteredValue") or {}
    if value_render == "FORMULA" and "formulaValue" in user:
        return user["formulaValue"]
    value = effective(cell)
    if value is None:
        return ""
    number_format = (cell.get("userEnteredFormat") or {}).get("numberFormat") or {}
    kind = number_format.get("type", "")
    if isinstance(value, bool):
        return value if value_render != "FORMATTED_VALUE" else str(value).upper()
    if isinstance(value, float):
        is_date = kind in ("DATE", "DATE_TIME", "TIME")
        if value_render == "FORMATTED_VALUE" or (is_date and date_render == "FORMATTED_STRING"):
            return _formatted(value, kind)
        return int(value) if value.is_integer() else value
    return value


def _formatted(value: float, kind: str) -> str:
    if kind == "DATE":
        return (EPOCH + dt.timedelta(days=value)).strftime("%Y-%m-%d")
    if kind in ("DATE_TIME", "TIME"):
        return (EPOCH + dt.timedelta(days=value)).strftime("%Y-%m-%d %H:%M:%S")
    if kind in ("CURRENCY", "NUMBER"):
        return f"{value:,.2f}"
    return f"{value:g}" if abs(value) < 1e15 else repr(value)


# -- A1 notation ------------------------------------------------------------------------------

_CELL = re.compile(r"^([A-Za-z]*)(\d*)$")


@dataclass(frozen=True)
class GridRange:
    tab: Tab
    row_start: int
    row_end: int  # exclusive, clipped to the grid
    col_start: int
    col_end: int


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _column_index(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number - 1


def quote_title(title: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_]+", title) and not _CELL.match(title).group(2):  # type: ignore[union-attr]
        return title
    return "'" + title.replace("'", "''") + "'"


def a1(grid: GridRange) -> str:
    start = f"{column_letter(grid.col_start)}{grid.row_start + 1}"
    end = f"{column_letter(max(grid.col_end - 1, grid.col_start))}{max(grid.row_end, 1)}"
    return f"{quote_title(grid.tab.title)}!{start}:{end}"


def parse_range(book: Spreadsheet, text: str) -> GridRange:
    title, cells = _split_title(book, text)
    tab = book.tab_by_title(title) if title is not None else book.tabs[0]
    if tab is None:
        raise bad_request(f"Unable to parse range: {text}")
    if not cells:
        return GridRange(tab, 0, tab.row_count, 0, tab.column_count)
    parts = cells.split(":")
    if len(parts) > 2:
        raise bad_request(f"Unable to parse range: {text}")
    start = _CELL.match(parts[0])
    end = _CELL.match(parts[-1])
    if not start or not end or not (parts[0] and parts[-1]):
        raise bad_request(f"Unable to parse range: {text}")
    col_start = _column_index(start.group(1)) if start.group(1) else 0
    row_start = int(start.group(2)) - 1 if start.group(2) else 0
    col_end = _column_index(end.group(1)) + 1 if end.group(1) else tab.column_count
    row_end = int(end.group(2)) if end.group(2) else tab.row_count
    if len(parts) == 2 and not end.group(2) and start.group(2) and not end.group(1):
        raise bad_request(f"Unable to parse range: {text}")
    return GridRange(
        tab,
        row_start,
        min(row_end, tab.row_count),
        col_start,
        min(col_end, tab.column_count),
    )


def _split_title(book: Spreadsheet, text: str) -> tuple[str | None, str]:
    if text.startswith("'"):
        match = re.match(r"^'((?:[^']|'')*)'(?:!(.*))?$", text)
        if not match:
            raise bad_request(f"Unable to parse range: {text}")
        return match.group(1).replace("''", "'"), match.group(2) or ""
    if "!" in text:
        title, _, cells = text.rpartition("!")
        return title, cells
    if book.tab_by_title(text) is not None:
        return text, ""
    return None, text
