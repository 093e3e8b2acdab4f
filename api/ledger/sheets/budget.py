"""The 10M-cell limit of one spreadsheet: what a write costs, when to warn, which years to move.

Cells are counted as Google counts them, rowCount x columnCount of every tab, so moving rows to
another tab of the same spreadsheet frees nothing. Near the limit the oldest years of Line Items
move to per-year archive spreadsheets (sheets_rotation); this module is the arithmetic only.
A write that would still pass the limit is refused before anything is sent: never a dropped line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from api.errors import SinkError
from api.ledger.sheets.cells import CELL_FIELDS, row_cells
from api.ledger.sheets.plan import Request

WARN_AT = 0.8  # a Runs row says the spreadsheet is filling up
ROTATE_AT = 0.9  # old years move out, down to below WARN_AT when whole years allow it
RESERVED_RUN_ROWS = 3  # a warning row, a rotation row and the engine's own run row


@dataclass(frozen=True)
class CellBudget:
    limit: int
    used: int  # cells of every tab before the write, plus the reserved Runs rows

    def projected(
        self,
        groups: list[list[Request]],
        sizes: Mapping[int, tuple[int, int]],
        *,
        peak: bool = False,
    ) -> int:
        """Cells after `groups` are applied to tabs of these (rows, columns), or the most at any
        point (`peak`: Google checks each request). An append is counted as new rows, an upper
        bound when the grid has empty rows at its bottom."""
        grid = {sheet_id: list(size) for sheet_id, size in sizes.items()}
        total = most = self.used
        for group in groups:
            for request in group:
                (kind, body), *_ = request.items()
                if kind == "appendCells":
                    total += _grow(grid, body["sheetId"], "ROWS", len(body["rows"]))
                elif kind == "appendDimension":
                    total += _grow(grid, body["sheetId"], body["dimension"], body["length"])
                elif kind == "insertDimension":
                    span = body["range"]
                    length = span["endIndex"] - span["startIndex"]
                    total += _grow(grid, span["sheetId"], span["dimension"], length)
                elif kind == "deleteDimension":
                    span = body["range"]
                    length = span["endIndex"] - span["startIndex"]
                    total += _grow(grid, span["sheetId"], span["dimension"], -length)
                most = max(most, total)
        return most if peak else total

    def needs_rotation(self, projected: int) -> bool:
        return projected >= ROTATE_AT * self.limit


def choose_years(
    year_cells: Mapping[str, int], projected: int, limit: int, current_year: int
) -> list[str]:
    """Years of Line Items to move out, oldest first.

    Complete years (before `current_year`) go until the spreadsheet is below the warning
    level; a year still running (or a later one) goes only if the write would not fit otherwise.
    """
    ordered = sorted(year_cells)
    chosen: list[str] = []
    total = projected
    for year in ordered:
        if total < WARN_AT * limit or int(year) >= current_year:
            break
        chosen.append(year)
        total -= year_cells[year]
    for year in ordered:
        if total <= limit:
            break
        if year not in chosen:
            chosen.append(year)
            total -= year_cells[year]
    return sorted(chosen)


def _grow(grid: dict[int, list[int]], sheet_id: int, dimension: str, length: int) -> int:
    """Change one tab's grid by `length` rows or columns; the cells that adds (or frees)."""
    rows, columns = grid.setdefault(sheet_id, [0, 0])
    if dimension == "ROWS":
        grid[sheet_id][0] += length
        return length * columns
    grid[sheet_id][1] += length
    return length * rows


def over_limit(projected: int, limit: int, detail: str = "") -> SinkError:
    return SinkError(
        f"The spreadsheet would pass Google's limit of {limit:,} cells ({projected:,} needed"
        f"{detail}); nothing was written.",
        action="Delete unused tabs or empty rows and columns, or connect a new spreadsheet "
        "(billsync connect ... --create-sheet).",
    )


def fit(
    budget: CellBudget,
    groups: list[list[Request]],
    sizes: Mapping[int, tuple[int, int]],
    runs: tuple[int, list[str]],
    stamp: Mapping[str, object],
    note: str = "",
) -> list[list[Request]]:
    """The groups to send, plus a Runs warning when the spreadsheet nears the limit.

    Raises SinkError (nothing sent) when the write would pass the limit.
    """
    projected = budget.projected(groups, sizes)
    if budget.projected(groups, sizes, peak=True) > budget.limit:
        raise over_limit(budget.projected(groups, sizes, peak=True), budget.limit)
    if projected >= WARN_AT * budget.limit or note:
        share = projected / budget.limit
        message = (f"The spreadsheet uses {projected:,} of {budget.limit:,} cells ({share:.0%}); "
                   "older years of Line Items move to per-year archive spreadsheets at "
                   f"{ROTATE_AT:.0%}.")  # fmt: skip
        row = {**stamp, "Status": "warning", "Message": f"{note} {message}".strip()}
        groups = [*groups, [run_row(runs, row)]]
    return [group for group in groups if group]


def run_row(runs: tuple[int, list[str]], row: Mapping[str, object]) -> Request:
    """An appendCells request for one Runs row (by the tab's header)."""
    sheet_id, header = runs
    cells = row_cells(header, row)
    return {"appendCells": {"sheetId": sheet_id, "rows": [{"values": cells}],
                            "fields": CELL_FIELDS}}  # fmt: skip
