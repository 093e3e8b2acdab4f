"""Pure planning of one Sheets upsert: what was read + a LedgerBatch -> batchUpdate requests.

Requests come in groups, one per invoice: its old line rows deleted bottom-up, its lines
updated in place or appended, and its invoice row written last. The invoice row is the commit
mark: a crash between any two requests (sheets_batches may cut a group, even a request, across
bodies) leaves that invoice's row absent or stale, so the next plan rewrites its lines (in
place, by Line Key: never a duplicate) and then the row. Row positions are tracked as the plan
deletes rows, so every request addresses the grid as it will be when Google applies it.

Appended line rows carry values only; their number formats are set once per column range
(repeatCell), which is what makes up most of the payload otherwise. Invoice rows and in-place
updates keep a format in every cell, so a repaired prefix is always fully formatted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from api.core.model import INVOICE_KEY_COLUMN, LINE_KEY_COLUMN, LedgerBatch, LineItem
from api.ledger.sheets.batches import Request, chunk, size
from api.ledger.sheets.cells import (
    CELL_FIELDS,
    FORMAT_FIELDS,
    HEADER_FIELDS,
    VALUE_FIELDS,
    column_format,
    header_cell,
    lean_cell,
    read_value,
    row_cells,
    same_value,
    to_cell,
)

__all__ = ["Planner", "Request", "TabState", "chunk", "line_invoice_key", "size"]


@dataclass
class TabState:
    """One ledger tab as read: grid size, header, and the key of each row below the header."""

    sheet_id: int
    title: str
    row_count: int
    column_count: int
    header: list[str]
    keys: list[str]  # keys[i] is grid row i + 1
    rows: list[list[Any]] | None = None  # full raw rows (the Invoices tab), aligned with keys
    frozen: int = 1
    added_columns: list[str] = field(default_factory=list)

    def column(self, name: str) -> int:
        return self.header.index(name)


def line_invoice_key(line_key: str) -> str:
    return line_key.rsplit("#", 1)[0]


class Planner:
    def __init__(self, invoices: TabState, lines: TabState, max_request_bytes: int) -> None:
        self.inv = invoices
        self.lines = lines
        self.max_request_bytes = max_request_bytes
        self.ranks = _ranks(invoices)

    def plan(self, batch: LedgerBatch) -> list[list[Request]]:
        groups = [self._fix_headers(self.inv, _invoice_columns(batch)),
                  self._fix_headers(self.lines, _line_columns(batch))]  # fmt: skip
        lines_by_invoice: dict[str, list[LineItem]] = defaultdict(list)
        for line in batch.lines:
            lines_by_invoice[line.invoice_key].append(line)
        for key in batch.removed:
            groups.append(self._remove(key))
        for invoice in batch.invoices:
            groups.append(self._upsert(invoice.key, invoice.row(), lines_by_invoice[invoice.key]))
        return [group for group in groups if group]

    # -- groups -----------------------------------------------------------------------------

    def _remove(self, key: str) -> list[Request]:
        requests = self._delete(self.lines, self._line_positions(key))
        requests += self._delete(self.inv, [i for i, k in enumerate(self.inv.keys) if k == key])
        return requests

    def _upsert(self, key: str, row: Mapping[str, Any], lines: Sequence[LineItem]) -> list[Request]:
        positions = [i for i, k in enumerate(self.inv.keys) if k == key]
        wanted_lines = {line.key: line for line in lines}
        existing_lines = self._line_positions(key)
        existing_keys = {self.lines.keys[i] for i in existing_lines}
        unchanged = bool(positions) and self._same_row(positions[0], row)
        if (
            unchanged
            and existing_keys == set(wanted_lines)
            and len(existing_lines) == len(wanted_lines)
        ):
            return []
        requests: list[Request] = []
        # Lines of this invoice that are gone, or duplicated, are deleted first (bottom-up);
        # the invoice row comes last, so it is current only once every line is.
        kept: dict[str, int] = {}
        doomed = []
        for position in existing_lines:
            line_key = self.lines.keys[position]
            if line_key in wanted_lines and line_key not in kept:
                kept[line_key] = position
            else:
                doomed.append(position)
        requests += self._delete(self.lines, doomed)
        kept = {k: i for i, k in enumerate(self.lines.keys) if k in kept}
        requests += self._update(self.lines, {kept[k]: wanted_lines[k].row() for k in kept})
        new = [line for line in lines if line.key not in kept]
        rank = _rank_of(row)
        line_at = None if kept or positions else self._place(self.lines, rank, line_invoice_key)
        if line_at is not None:  # a late invoice: before the lines of the next one, as in order
            requests += self._insert(self.lines, line_at, [n.row() for n in new],
                                     [n.key for n in new])  # fmt: skip
        else:
            requests += self._append(self.lines, [line.row() for line in new],
                                     [n.key for n in new], lean=True)  # fmt: skip
        requests += self._delete(self.inv, positions[1:])  # a duplicated invoice row
        if positions and not unchanged:
            requests += self._update(self.inv, {positions[0]: row})
        elif not positions:
            at = self._place(self.inv, rank, str)
            if at is None:
                requests += self._append(self.inv, [row], [key])
            else:
                requests += self._insert(self.inv, at, [row], [key])
            if rank is not None:
                self.ranks[key] = rank
        return requests

    def _place(self, tab: TabState, rank: Ranked | None, invoice_of: Any) -> int | None:
        """The position of the first row of a later invoice of the same account, if any."""
        if rank is None:
            return None
        for position, row_key in enumerate(tab.keys):
            other = self.ranks.get(invoice_of(row_key)) if row_key else None
            if other is not None and other[0] == rank[0] and other[1] > rank[1]:
                return position
        return None

    def _line_positions(self, invoice_key: str) -> list[int]:
        return [
            i for i, k in enumerate(self.lines.keys) if k and line_invoice_key(k) == invoice_key
        ]

    def _same_row(self, position: int, row: Mapping[str, Any]) -> bool:
        raw = (self.inv.rows or [])[position] if self.inv.rows else []
        for name, value in row.items():
            column = self.inv.header.index(name) if name in self.inv.header else None
            read = raw[column] if column is not None and column < len(raw) else ""
            if not same_value(read_value(to_cell(name, value)), read):
                return False
        return True

    # -- requests ---------------------------------------------------------------------------

    def _fix_headers(self, tab: TabState, columns: Iterable[str]) -> list[Request]:
        missing = [name for name in columns if name not in tab.header]
        if not missing:
            return []
        start = len(tab.header)
        requests: list[Request] = []
        grow = start + len(missing) - tab.column_count
        if grow > 0:
            requests.append({"appendDimension": {"sheetId": tab.sheet_id, "dimension": "COLUMNS",
                                                 "length": grow}})  # fmt: skip
            tab.column_count += grow
        requests.append({"updateCells": {
            "start": {"sheetId": tab.sheet_id, "rowIndex": 0, "columnIndex": start},
            "rows": [{"values": [header_cell(name) for name in missing]}],
            "fields": HEADER_FIELDS}})  # fmt: skip
        tab.header = tab.header + missing
        tab.added_columns += missing
        return requests

    def _delete(self, tab: TabState, positions: Iterable[int]) -> list[Request]:
        doomed = sorted(set(positions), reverse=True)
        if not doomed:
            return []
        requests: list[Request] = []
        if tab.row_count - len(doomed) <= tab.frozen:
            # Google refuses to delete every non-frozen row: keep one spare row first.
            requests.append({"appendDimension": {"sheetId": tab.sheet_id, "dimension": "ROWS",
                                                 "length": 1}})  # fmt: skip
            tab.row_count += 1
        for end, start in _runs(doomed):
            requests.append({"deleteDimension": {"range": {
                "sheetId": tab.sheet_id, "dimension": "ROWS",
                "startIndex": start + 1, "endIndex": end + 2}}})  # fmt: skip
        for position in doomed:
            del tab.keys[position]
            if tab.rows is not None and position < len(tab.rows):
                del tab.rows[position]
        tab.row_count -= len(doomed)
        return requests

    def _update(self, tab: TabState, rows: Mapping[int, Mapping[str, Any]]) -> list[Request]:
        requests: list[Request] = []
        ours = sorted(tab.header.index(name) for name in _names(rows) if name in tab.header)
        for first, block in _blocks(sorted(rows)):
            for column_start, columns in _column_runs(ours):
                cells = [
                    {"values": [to_cell(tab.header[c], rows[p].get(tab.header[c]),
                                        _currency(tab, p, rows[p])) for c in columns]}
                    for p in block
                ]  # fmt: skip
                requests.append({"updateCells": {
                    "start": {"sheetId": tab.sheet_id, "rowIndex": first + 1,
                              "columnIndex": column_start},
                    "rows": cells, "fields": CELL_FIELDS}})  # fmt: skip
        return requests

    def _insert(
        self, tab: TabState, at: int, rows: Sequence[Mapping[str, Any]], keys: list[str]
    ) -> list[Request]:
        """Rows inserted before data row `at`, each cell with its value and format."""
        if not rows:
            return []
        cells = [{"values": row_cells(tab.header, row)} for row in rows]
        tab.keys[at:at] = keys
        if tab.rows is not None:
            tab.rows[at:at] = [[read_value(c) for c in r["values"]] for r in cells]
        tab.row_count += len(rows)
        span = {"sheetId": tab.sheet_id, "dimension": "ROWS", "startIndex": at + 1,
                "endIndex": at + 1 + len(rows)}  # fmt: skip
        return [
            {"insertDimension": {"range": span, "inheritFromBefore": False}},
            {"updateCells": {"start": {"sheetId": tab.sheet_id, "rowIndex": at + 1,
                                       "columnIndex": 0},
                             "rows": cells, "fields": CELL_FIELDS}},
        ]  # fmt: skip

    def _append(
        self,
        tab: TabState,
        rows: Sequence[Mapping[str, Any]],
        keys: list[str],
        *,
        lean: bool = False,
    ) -> list[Request]:
        """appendCells for `rows`; `lean`: values only, number formats by column range."""
        if not rows:
            return []
        cells = [{"values": row_cells(tab.header, row)} for row in rows]
        first = len(tab.keys) + 1  # the grid row the first appended row lands on
        tab.keys.extend(keys)
        if tab.rows is not None:
            tab.rows.extend([read_value(c) for c in r["values"]] for r in cells)
        tab.row_count = max(tab.row_count, len(tab.keys) + 1)
        values = _lean_rows(tab.header, cells) if lean else None
        if values is None:
            return [{"appendCells": {"sheetId": tab.sheet_id, "rows": cells,
                                     "fields": CELL_FIELDS}}]  # fmt: skip
        append = {"appendCells": {"sheetId": tab.sheet_id, "rows": values, "fields": VALUE_FIELDS}}
        return [append, *_column_formats(tab, first, len(rows))]


Ranked = tuple[tuple[str, str], tuple[str, bool, str]]  # (Provider, Account), (Period, ...)
RANK_COLUMNS = ("Provider", "Account", "Period", "Invoice ID", INVOICE_KEY_COLUMN)


def _rank_of(row: Mapping[str, Any]) -> Ranked | None:
    """Where an invoice sorts within its account: (period, is a preview, invoice id)."""
    if any(name not in row for name in RANK_COLUMNS):
        return None
    key = str(row[INVOICE_KEY_COLUMN])
    return (str(row["Provider"]), str(row["Account"])), (
        str(row["Period"]), ":preview:" in key, str(row["Invoice ID"]))  # fmt: skip


def _ranks(tab: TabState) -> dict[str, Ranked]:
    """invoice key -> rank, for every row of the Invoices tab as read."""
    if tab.rows is None or any(name not in tab.header for name in RANK_COLUMNS):
        return {}
    ranks: dict[str, Ranked] = {}
    for raw in tab.rows:
        row = {name: raw[tab.column(name)] if tab.column(name) < len(raw) else ""
               for name in RANK_COLUMNS}  # fmt: skip
        rank = _rank_of(row)
        if rank is not None and row[INVOICE_KEY_COLUMN]:
            ranks[str(row[INVOICE_KEY_COLUMN])] = rank
    return ranks


def _lean_rows(header: list[str], cells: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Rows without the number formats their columns carry; None if a cell needs its own."""
    lean = []
    for row in cells:
        values = [lean_cell(name, cell) for name, cell in zip(header, row["values"], strict=True)]
        if any(value is None for value in values):
            return None
        lean.append({"values": values})
    return lean


def _currency(tab: TabState, position: int, row: Mapping[str, Any]) -> Any:
    """The Currency of a row being updated: from the update, else as the tab holds it."""
    if "Currency" in row or tab.rows is None or "Currency" not in tab.header:
        return row.get("Currency")
    raw = tab.rows[position] if position < len(tab.rows) else []
    column = tab.header.index("Currency")
    return raw[column] if column < len(raw) else None


def _column_formats(tab: TabState, first: int, count: int) -> list[Request]:
    """One repeatCell per run of adjacent columns sharing a number format, over the new rows."""
    requests: list[Request] = []
    formats = [column_format(name) for name in tab.header]
    start = 0
    while start < len(formats):
        end = start + 1
        while end < len(formats) and formats[end] == formats[start]:
            end += 1
        if formats[start] is not None:
            requests.append({"repeatCell": {
                "range": {"sheetId": tab.sheet_id, "startRowIndex": first,
                          "endRowIndex": first + count, "startColumnIndex": start,
                          "endColumnIndex": end},
                "cell": {"userEnteredFormat": {"numberFormat": formats[start]}},
                "fields": FORMAT_FIELDS}})  # fmt: skip
        start = end
    return requests


def _invoice_columns(batch: LedgerBatch) -> list[str]:
    from api.core.model import INVOICE_COLUMNS

    return list(INVOICE_COLUMNS) if batch.invoices else [INVOICE_KEY_COLUMN]


def _line_columns(batch: LedgerBatch) -> list[str]:
    from api.core.model import LINE_COLUMNS

    return list(LINE_COLUMNS) if batch.lines else [LINE_KEY_COLUMN]


def _names(rows: Mapping[int, Mapping[str, Any]]) -> set[str]:
    return {name for row in rows.values() for name in row}


def _runs(descending: list[int]) -> Iterable[tuple[int, int]]:
    """(last, first) of each run of consecutive positions, bottom-up."""
    end = start = descending[0]
    for position in descending[1:]:
        if position == start - 1:
            start = position
            continue
        yield end, start
        end = start = position
    yield end, start


def _blocks(ascending: list[int]) -> Iterable[tuple[int, list[int]]]:
    block: list[int] = []
    for position in ascending:
        if block and position != block[-1] + 1:
            yield block[0], block
            block = []
        block.append(position)
    if block:
        yield block[0], block


def _column_runs(columns: list[int]) -> Iterable[tuple[int, list[int]]]:
    return _blocks(columns)
