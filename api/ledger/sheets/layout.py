"""What the ledger and its archive spreadsheets share: one client, tab roles, A1 helpers.

Our tabs are found by developer metadata (`billsync.tab` = role), never by title or position,
so a person may rename, move or reorder them. Reads are values.batchGet with UNFORMATTED_VALUE
and serial dates; the answered range of a whole column tells the grid's size for free.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from api.google.session import GoogleHttp, sheets_error_for
from api.ledger.sheets.cells import HEADER_FIELDS, header_cell
from api.ledger.sheets.plan import Request

METADATA_KEY = "billsync.tab"
WIDTHS = {"Description": 320, "Invoice Key": 260, "Line Key": 280, "Message": 360, "PDF": 220,
          "CSV": 220, "Source URL": 220, "Product": 200, "Resource ID": 180}  # fmt: skip


@dataclass
class Tab:
    sheet_id: int
    title: str
    row_count: int
    column_count: int
    frozen: int


def sheet_url(spreadsheet_id: str) -> str:
    return f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit"


class SheetsClient:
    """JSON calls to one spreadsheet with the user's credentials."""

    def __init__(
        self,
        spreadsheet_id: str,
        credentials: Any,
        *,
        api_url: str,
        account: str = "your Google account",
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 5,
    ) -> None:
        self.spreadsheet_id = spreadsheet_id
        self._base = f"{api_url.rstrip('/')}/v4/spreadsheets/{quote(spreadsheet_id, safe='')}"
        self._http = GoogleHttp(credentials, error_for=sheets_error_for(spreadsheet_id, account),
                                sleep=sleep, max_attempts=max_attempts)  # fmt: skip

    def spreadsheet(self, fields: str) -> dict[str, Any]:
        return self._http.call("get", self._base,
                               params={"includeGridData": "false", "fields": fields})  # fmt: skip

    def snapshot(self, filters: list[dict[str, Any]], fields: str) -> dict[str, Any]:
        """spreadsheets.getByDataFilter: the tabs the filters touch, with their ranges' data."""
        return self._http.call("post", f"{self._base}:getByDataFilter", params={"fields": fields},
                               body={"dataFilters": filters, "includeGridData": True})  # fmt: skip

    def values(self, ranges: list[str]) -> tuple[list[list[list[Any]]], list[tuple[int, int]]]:
        """Raw values of each range, and the (rows, columns) of each answered (clipped) range."""
        answer = self._http.call(
            "get",
            f"{self._base}/values:batchGet",
            params={"ranges": ranges, "valueRenderOption": "UNFORMATTED_VALUE",
                    "dateTimeRenderOption": "SERIAL_NUMBER", "majorDimension": "ROWS"},
        )  # fmt: skip
        value_ranges = answer.get("valueRanges", [])
        values = [item.get("values", []) for item in value_ranges]
        return values, [grid_size(item.get("range", "")) for item in value_ranges]

    def batch_update(
        self, requests: list[Request], *, with_spreadsheet: bool = False
    ) -> dict[str, Any]:
        """One atomic batchUpdate, never repeated blindly (an applied body may lose its answer);
        `with_spreadsheet`: the answer holds the spreadsheet after it (no grid data)."""
        body: dict[str, Any] = {"requests": requests}
        if with_spreadsheet:
            body.update(includeSpreadsheetInResponse=True, responseIncludeGridData=False)
        return self._http.call("post", f"{self._base}:batchUpdate", body=body,
                               idempotent=False)  # fmt: skip


def tab_setup(sheet_id: int, role: str, columns: list[str]) -> list[Request]:
    """Header (bold), frozen header row, filter, column widths and the role's metadata."""
    requests: list[Request] = [
        {"updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
            "rows": [{"values": [header_cell(name) for name in columns]}],
            "fields": HEADER_FIELDS}},
        {"updateSheetProperties": {
            "properties": {"sheetId": sheet_id, "gridProperties": {"frozenRowCount": 1}},
            "fields": "gridProperties.frozenRowCount"}},
        {"setBasicFilter": {"filter": {"range": {"sheetId": sheet_id}}}},
    ]  # fmt: skip
    for index, name in enumerate(columns):
        requests.append({"updateDimensionProperties": {
            "range": {"sheetId": sheet_id, "dimension": "COLUMNS", "startIndex": index,
                      "endIndex": index + 1},
            "properties": {"pixelSize": WIDTHS.get(name, 120)},
            "fields": "pixelSize"}})  # fmt: skip
    requests.append({"createDeveloperMetadata": {"developerMetadata": {
        "metadataKey": METADATA_KEY, "metadataValue": role, "location": {"sheetId": sheet_id},
        "visibility": "DOCUMENT"}}})  # fmt: skip
    return requests


def role_of(sheet: dict[str, Any]) -> str | None:
    for item in sheet.get("developerMetadata", []):
        if item.get("metadataKey") == METADATA_KEY:
            return str(item.get("metadataValue"))
    return None


def tab_of(sheet: dict[str, Any]) -> Tab:
    props = sheet["properties"]
    grid = props.get("gridProperties", {})
    return Tab(int(props["sheetId"]), str(props["title"]), int(grid.get("rowCount", 0)),
               int(grid.get("columnCount", 0)), int(grid.get("frozenRowCount", 0)))  # fmt: skip


def quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def grid_size(a1: str) -> tuple[int, int]:
    """(rows, columns) from an answered range such as 'Line Items'!A1:U48001."""
    cells = a1.rpartition("!")[2]
    end = cells.split(":")[-1]
    letters = "".join(ch for ch in end if ch.isalpha())
    digits = "".join(ch for ch in end if ch.isdigit())
    column = 0
    for ch in letters.upper():
        column = column * 26 + ord(ch) - 64
    return int(digits or 0), column
