"""Pure planning of one Sheets upsert: what was read + a LedgerBatch -> batchUpdate requests.

Requests come in groups, one per invoice (its old line rows deleted bottom-up, its invoice row
updated in place or appended, its lines updated in place or appended), so any prefix of groups
is a consistent ledger. Row positions are tracked as the plan deletes rows, so every request
addresses the grid as it will be when Google applies it, in order.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from api.adapters.sheets_cells import CELL_FIELDS, header_cell, read_value, same_value, to_cell
from api.core.model import INVOICE_KEY_COLUMN, LINE_KEY_COLUMN, LedgerBatch, LineItem

Request = dict[str, Any]


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


def size(request: Request) -> int:
    return len(json.dumps(request, separators=(",", ":")))


class Planner:
    def __init__(self, invoices: TabState, lines: TabState, max_request_bytes: int) -> None:
        self.inv = invoices
        self.lines = lines
        self.max_request_bytes = max_request_bytes

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
        # Lines of this invoice that are gone, or duplicated, are deleted first (bottom-up).
        kept: dict[str, int] = {}
        doomed = []
        for position in existing_lines:
            line_key = self.lines.keys[position]
            if line_key in wanted_lines and line_key not in kept:
                kept[line_key] = position
            else:
                doomed.append(position)
        requests += self._delete(self.lines, doomed)
        requests += self._delete(self.inv, positions[1:])  # a duplicated invoice row
        kept = {k: i for i, k in enumerate(self.lines.keys) if k in kept}
        if positions and not unchanged:
            requests += self._update(self.inv, {positions[0]: row})
        elif not positions:
            requests += self._append(self.inv, [row], [key])
        requests += self._update(self.lines, {kept[k]: wanted_lines[k].row() for k in kept})
        new = [line for line in lines if line.key not in kept]
        requests += self._append(self.lines, [line.row() for line in new], [n.key for n in new])
        return requests

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
            "fields": "userEnteredValue,userEnteredFormat.textFormat.bold"}})  # fmt: skip
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
                    {
                        "values": [
                            to_cell(tab.header[c], rows[p].get(tab.header[c])) for c in columns
                        ]
                    }
                    for p in block
                ]
                for piece_start, piece in self._pieces(cells):
                    requests.append({"updateCells": {
                        "start": {"sheetId": tab.sheet_id, "rowIndex": first + 1 + piece_start,
                                  "columnIndex": column_start},
                        "rows": piece, "fields": CELL_FIELDS}})  # fmt: skip
        return requests

    def _append(
        self, tab: TabState, rows: Sequence[Mapping[str, Any]], keys: list[str]
    ) -> list[Request]:
        if not rows:
            return []
        cells = [
            {"values": [to_cell(name, row.get(name)) if name in row else {} for name in tab.header]}
            for row in rows
        ]
        tab.keys.extend(keys)
        if tab.rows is not None:
            tab.rows.extend([read_value(c) for c in r["values"]] for r in cells)
        tab.row_count = max(tab.row_count, len(tab.keys) + 1)
        return [
            {"appendCells": {"sheetId": tab.sheet_id, "rows": piece, "fields": CELL_FIELDS}}
            for _, piece in self._pieces(cells)
        ]

    def _pieces(self, rows: list[dict[str, Any]]) -> Iterable[tuple[int, list[dict[str, Any]]]]:
        """Split a long rows list so one request stays well under the batch size."""
        limit = max(self.max_request_bytes // 2, 1)
        start, used = 0, 0
        piece: list[dict[str, Any]] = []
        for index, row in enumerate(rows):
            cost = size(row)
            if piece and used + cost > limit:
                yield start, piece
                start, piece, used = index, [], 0
            piece.append(row)
            used += cost
        if piece:
            yield start, piece


def chunk(groups: Sequence[list[Request]], max_bytes: int) -> list[list[Request]]:
    """Pack whole groups into batchUpdate bodies of at most ~max_bytes (a larger group alone)."""
    chunks: list[list[Request]] = []
    current: list[Request] = []
    used = 0
    for group in groups:
        cost = sum(size(request) + 1 for request in group)
        if current and used + cost > max_bytes:
            chunks.append(current)
            current, used = [], 0
        if cost > max_bytes:  # one huge invoice: its requests still go in order
            for request in group:
                if current and used + size(request) > max_bytes:
                    chunks.append(current)
                    current, used = [], 0
                current.append(request)
                used += size(request) + 1
            continue
        current.extend(group)
        used += cost
    if current:
        chunks.append(current)
    return chunks


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
