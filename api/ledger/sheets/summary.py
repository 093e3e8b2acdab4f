"""The Sheet's Summary tab (the tables plus a native stacked column chart, `addChart`), its
Clients tab, and the Client/Billable cells the allocation rules set on Line Items rows.

One atomic batchUpdate (Sheets API v4, spreadsheets.batchUpdate): the old Summary tab is deleted
(its chart goes with it) and written again at the same place; only the Line Items rows whose
allocation changed get an updateCells. The chart is a Sheets chart over the Summary's own
category table, so it redraws when the bookkeeper edits those numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from api.core.allocation import CLIENT_COLUMNS
from api.core.model import ALLOCATION_COLUMNS, LINE_KEY_COLUMN
from api.core.summary import Placed, Table, place
from api.core.text import column_letter
from api.ledger.sheets.cells import header_cell, money_format
from api.ledger.sheets.layout import SheetsClient, Tab, quoted
from api.ledger.sheets.plan import Request

SUMMARY_TAB = "Summary"
CLIENTS_TAB = "Clients"
FIELDS = "userEnteredValue,userEnteredFormat"
CHART_COLUMNS = 14  # room to the right of the tables for the chart and the pivot table
PIVOT_ROW = 22  # the pivot table starts below the chart (400 px, about 20 rows)
CATEGORY_TITLE = "Monthly spend by category"
PIVOT_SOURCE = ("Currency", "Period", "Category", "Amount")
# NumberFormat type PERCENT multiplies by 100 and shows the % sign (Sheets API v4, NumberFormat).
PERCENT_FORMAT = {"type": "PERCENT", "pattern": "0.0%"}


def report_requests(
    client: SheetsClient,
    lines: Tab,
    line_header: Sequence[str],
    tables: Sequence[Table],
    allocations: Mapping[str, tuple[str, bool]],
    archived: Sequence[str] = (),
) -> list[Request]:
    """Everything one refresh sends: the Summary tab rebuilt with its chart and a live pivot
    table over Line Items (with a note above it when `archived` names years moved to archive
    spreadsheets, which the pivot cannot see), a Clients tab when there is none, and the
    changed Client/Billable cells of Line Items."""
    book = client.spreadsheet("sheets(properties(sheetId,title,index))")
    sheets = {s["properties"]["title"]: s["properties"] for s in book.get("sheets", [])}
    used = {int(props["sheetId"]) for props in sheets.values()}
    requests: list[Request] = []
    if CLIENTS_TAB not in sheets:
        clients_id = _free_id(used)
        requests += _clients_tab(clients_id)
    old = sheets.get(SUMMARY_TAB)
    summary_id = _free_id(used)
    if old is not None:
        requests.append({"deleteSheet": {"sheetId": old["sheetId"]}})
    requests += summary_requests(summary_id, tables, old["index"] if old else len(sheets))
    pivot = pivot_request(summary_id, lines, line_header, tables)
    if pivot is not None:
        requests.append(pivot)
        if archived:
            requests.append(archive_note(summary_id, tables, archived))
    if allocations:
        requests += allocation_requests(client, lines, allocations)
    return requests


def summary_requests(sheet_id: int, tables: Sequence[Table], index: int) -> list[Request]:
    placed = place(tables)
    width = max((len(p.table.header) for p in placed), default=1)
    rows: list[dict[str, Any]] = []
    for item in placed:
        table = item.table
        rows.append({"values": [header_cell(table.title)]})
        rows.append({"values": [header_cell(name) for name in table.header]})
        rows += [{"values": _cells(table, row)} for row in table.rows]
        rows.append({"values": []})
    months = sum(len(p.table.rows) for p in placed if p.table.title.startswith(CATEGORY_TITLE))
    grid = {"rowCount": max(len(rows), PIVOT_ROW + months + 8) + 1,
            "columnCount": width + CHART_COLUMNS + 1}  # fmt: skip
    requests: list[Request] = [
        {"addSheet": {"properties": {"sheetId": sheet_id, "title": SUMMARY_TAB, "index": index,
                                     "gridProperties": grid}}},
        {"updateCells": {"start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
                         "rows": rows, "fields": FIELDS}},
    ]  # fmt: skip
    chart = next((p for p in placed if p.table.chart and p.table.rows), None)
    if chart is not None:
        requests.append(chart_request(sheet_id, chart, width + 1))
    return requests


def chart_request(sheet_id: int, chart: Placed, column: int) -> Request:
    """addChart: a stacked column chart, months on the domain, one series per category."""
    table = chart.table

    def source(col: int) -> dict[str, Any]:
        return {"sourceRange": {"sources": [{
            "sheetId": sheet_id, "startRowIndex": chart.header_row, "endRowIndex": chart.end_row,
            "startColumnIndex": col, "endColumnIndex": col + 1}]}}  # fmt: skip

    series = [{"series": source(table.header.index(name)), "targetAxis": "LEFT_AXIS"}
              for name in table.series]  # fmt: skip
    spec = {
        "title": table.title,
        "basicChart": {
            "chartType": "COLUMN", "stackedType": "STACKED", "legendPosition": "RIGHT_LEGEND",
            "headerCount": 1, "domains": [{"domain": source(0)}], "series": series,
            "axis": [{"position": "BOTTOM_AXIS", "title": "Month"},
                     {"position": "LEFT_AXIS", "title": table.title.rpartition("(")[2][:-1]}],
        },
    }  # fmt: skip
    anchor = {"sheetId": sheet_id, "rowIndex": chart.top, "columnIndex": column}
    position = {"overlayPosition": {"anchorCell": anchor, "widthPixels": 720,
                                    "heightPixels": 400}}  # fmt: skip
    return {"addChart": {"chart": {"spec": spec, "position": position}}}


def pivot_request(
    sheet_id: int, lines: Tab, header: Sequence[str], tables: Sequence[Table]
) -> Request | None:
    """A pivot table (Sheets computes it, live) over the whole Line Items tab: rows currency
    then month, columns category, values SUM of Amount; below the chart. None when Line Items
    lacks one of the columns it needs."""
    if any(name not in header for name in PIVOT_SOURCE):
        return None
    width = max((len(t.header) for t in tables), default=1)
    at = {name: header.index(name) for name in PIVOT_SOURCE}
    source = {
        "sheetId": lines.sheet_id,
        "startRowIndex": 0,
        "startColumnIndex": 0,
        "endColumnIndex": len(header),
    }  # no end row: rows added later are included
    pivot = {
        "source": source,
        "rows": [{"sourceColumnOffset": at["Currency"], "showTotals": False,
                  "sortOrder": "ASCENDING"},
                 {"sourceColumnOffset": at["Period"], "showTotals": True,
                  "sortOrder": "ASCENDING"}],
        "columns": [{"sourceColumnOffset": at["Category"], "showTotals": False,
                     "sortOrder": "ASCENDING"}],
        "values": [{"sourceColumnOffset": at["Amount"], "summarizeFunction": "SUM",
                    "name": "Spend"}],
        "valueLayout": "HORIZONTAL",
    }  # fmt: skip
    return {"updateCells": {
        "start": {"sheetId": sheet_id, "rowIndex": PIVOT_ROW, "columnIndex": width + 1},
        "rows": [{"values": [{"pivotTable": pivot}]}], "fields": "pivotTable"}}  # fmt: skip


def archive_note(sheet_id: int, tables: Sequence[Table], years: Sequence[str]) -> Request:
    """A text cell just above the pivot table: it sums the Line Items tab only, while the
    tables include the years in archive spreadsheets."""
    width = max((len(t.header) for t in tables), default=1)
    listed = ", ".join(sorted(years))
    text = (f"The pivot table below covers the Line Items tab only: {listed} moved to "
            "archive spreadsheets (Line Items <year>). The tables on the left include every "
            "year.")  # fmt: skip
    return {"updateCells": {
        "start": {"sheetId": sheet_id, "rowIndex": PIVOT_ROW - 1, "columnIndex": width + 1},
        "rows": [{"values": [{"userEnteredValue": {"stringValue": text}}]}],
        "fields": "userEnteredValue"}}  # fmt: skip


def allocation_requests(
    client: SheetsClient, lines: Tab, allocations: Mapping[str, tuple[str, bool]]
) -> list[Request]:
    """updateCells of Client and Billable on the rows of the changed Line Keys only (contiguous
    rows in one request); the two columns are added after the last header if missing."""
    (header_rows,), _ = client.values([f"{quoted(lines.title)}!1:1"])
    header = [str(v) for v in (header_rows[0] if header_rows else [])]
    requests: list[Request] = []
    missing = [name for name in ALLOCATION_COLUMNS if name not in header]
    if missing:
        if len(header) + len(missing) > lines.column_count:
            requests.append({"appendDimension": {"sheetId": lines.sheet_id, "dimension": "COLUMNS",
                                                 "length": len(header) + len(missing)
                                                 - lines.column_count}})  # fmt: skip
        requests.append({"updateCells": {
            "start": {"sheetId": lines.sheet_id, "rowIndex": 0, "columnIndex": len(header)},
            "rows": [{"values": [header_cell(name) for name in missing]}],
            "fields": "userEnteredValue,userEnteredFormat.textFormat.bold"}})  # fmt: skip
        header += missing
    key_at = header.index(LINE_KEY_COLUMN)
    letter = column_letter(key_at)
    (keys,), _ = client.values([f"{quoted(lines.title)}!{letter}2:{letter}"])
    at = {str(row[0]): number for number, row in enumerate(keys, 1) if row}
    client_at, billable_at = (header.index(name) for name in ALLOCATION_COLUMNS)
    rows = sorted((at[key], value) for key, value in allocations.items() if key in at)
    for start, block in _runs(rows):
        for column, pick in ((client_at, 0), (billable_at, 1)):
            requests.append({"updateCells": {
                "start": {"sheetId": lines.sheet_id, "rowIndex": start, "columnIndex": column},
                "rows": [{"values": [_plain(value[pick])]} for _, value in block],
                "fields": "userEnteredValue"}})  # fmt: skip
    return requests


def _clients_tab(sheet_id: int) -> list[Request]:
    return [
        {"addSheet": {"properties": {"sheetId": sheet_id, "title": CLIENTS_TAB,
                                     "gridProperties": {"rowCount": 200, "columnCount": 6,
                                                        "frozenRowCount": 1}}}},
        {"updateCells": {"start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
                         "rows": [{"values": [header_cell(n) for n in CLIENT_COLUMNS]}],
                         "fields": "userEnteredValue,userEnteredFormat.textFormat.bold"}},
    ]  # fmt: skip


def _runs(rows: list[tuple[int, Any]]) -> list[tuple[int, list[tuple[int, Any]]]]:
    """Sorted (row, value) pairs as blocks of consecutive rows: (first row, pairs)."""
    blocks: list[tuple[int, list[tuple[int, Any]]]] = []
    for row, value in rows:
        if blocks and blocks[-1][0] + len(blocks[-1][1]) == row:
            blocks[-1][1].append((row, value))
        else:
            blocks.append((row, [(row, value)]))
    return blocks


def _cells(table: Table, row: Sequence[Any]) -> list[dict[str, Any]]:
    """A table row's CellData: money in the row's currency's minor unit, ratios as percents."""
    money = money_format(table.row_currency(row))
    formats = [money if name in table.money else PERCENT_FORMAT if name in table.percent
               else None for name in table.header]  # fmt: skip
    return [_cell(value, number_format)
            for value, number_format in zip(row, formats, strict=True)]  # fmt: skip


def _cell(value: Any, number_format: dict[str, str] | None) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        cell: dict[str, Any] = {"userEnteredValue": {"numberValue": float(value)}}
        if number_format:
            cell["userEnteredFormat"] = {"numberFormat": number_format}
        return cell
    return {"userEnteredValue": {"stringValue": str(value)}}  # text, never a formula


def _plain(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"userEnteredValue": {"boolValue": value}}
    return {"userEnteredValue": {"stringValue": str(value)}}


def _free_id(used: set[int]) -> int:
    """A sheetId no tab has (Sheets accepts any unused non-negative 31-bit id)."""
    candidate = 0x5B_0000 + len(used)
    while candidate in used:
        candidate += 1
    used.add(candidate)
    return candidate
