"""The 10M-cell limit of one spreadsheet: warn at 80 %, and never let a write fail on it.

Cells are counted as Google counts them, rowCount x columnCount of every tab. Moving rows
between tabs of the same spreadsheet would not lower that total, so near the limit the sink
warns in Runs, and a write that would pass it keeps the invoice rows and leaves the new line
rows out (with a Runs row saying so and what to do) instead of failing the sync.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.adapters.sheets_cells import CELL_FIELDS, to_cell
from api.adapters.sheets_plan import Request, TabState

WARN_AT = 0.8


@dataclass(frozen=True)
class CellBudget:
    limit: int
    used: int  # cells of every tab before the write

    def projected(self, groups: list[list[Request]], widths: dict[int, int]) -> int:
        total = self.used
        for group in groups:
            for request in group:
                if "appendCells" in request:
                    body = request["appendCells"]
                    total += len(body["rows"]) * widths.get(body["sheetId"], 0)
                elif "appendDimension" in request:
                    body = request["appendDimension"]
                    total += body["length"] * widths.get(body["sheetId"], 0)
                elif "deleteDimension" in request:
                    span = request["deleteDimension"]["range"]
                    rows = span["endIndex"] - span["startIndex"]
                    total -= rows * widths.get(span["sheetId"], 0)
        return total


def fit(
    budget: CellBudget,
    groups: list[list[Request]],
    tabs: tuple[TabState, TabState],
    runs: tuple[int, list[str]],
    message_time: dict[str, object],
) -> list[list[Request]]:
    """The groups to send, plus a Runs warning when the spreadsheet nears or passes the limit."""
    invoices, lines = tabs
    widths = {invoices.sheet_id: invoices.column_count, lines.sheet_id: lines.column_count}
    projected = budget.projected(groups, widths)
    note = ""
    if projected > budget.limit:
        groups = [[r for r in group if not _line_append(r, lines.sheet_id)] for group in groups]
        projected = budget.projected(groups, widths)
        note = (f"Line items were not written: the spreadsheet would pass its limit of "
                f"{budget.limit:,} cells. Connect a new spreadsheet "
                "(billsync connect ... --create-sheet) for the coming years.")  # fmt: skip
    elif projected >= WARN_AT * budget.limit:
        share = projected / budget.limit
        note = (f"The spreadsheet uses {projected:,} of {budget.limit:,} cells ({share:.0%}); "
                "plan a new spreadsheet for the coming years.")  # fmt: skip
    if note:
        groups = [*groups, [_warning(runs, note, message_time)]]
    return [group for group in groups if group]


def _line_append(request: Request, sheet_id: int) -> bool:
    return "appendCells" in request and request["appendCells"]["sheetId"] == sheet_id


def _warning(runs: tuple[int, list[str]], note: str, stamp: dict[str, object]) -> Request:
    sheet_id, header = runs
    row = {**stamp, "Status": "warning", "Message": note}
    cells = [to_cell(name, row.get(name)) if name in row else {} for name in header]
    return {"appendCells": {"sheetId": sheet_id, "rows": [{"values": cells}],
                            "fields": CELL_FIELDS}}  # fmt: skip
