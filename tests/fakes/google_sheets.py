"""Fake Sheets v4 routes: spreadsheets.get/create/getByDataFilter, values.batchGet, batchUpdate,
metadata search.

Wire shapes follow the recorded traffic in shared/reference/sheets/gspread_cassettes; the state
lives in google_sheets_state. batchUpdate is atomic: all requests apply, or none.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import flask

from tests.fakes.google import FakeGoogle, google_error
from tests.fakes.google_sheets_filter import (
    filtered_resource,
    located_sheet,
    masked,
    metadata_matches,
    parse_mask,
)
from tests.fakes.google_sheets_state import (
    GridRange,
    SheetsError,
    SheetsState,
    Spreadsheet,
    Tab,
    a1,
    bad_request,
    column_letter,
    parse_range,
    quote_title,
    rendered,
)


def register(fake: FakeGoogle) -> None:
    state = SheetsState()
    fake.sheets = state  # type: ignore[attr-defined]

    # Sharing: a spreadsheet listed here opens only for these Google accounts (`sub`s).
    readers: dict[str, set[str]] = {}
    fake.sheet_readers = readers  # type: ignore[attr-defined]

    def guarded(handler: Callable[..., Any]) -> Callable[..., Any]:
        def run(**params: str) -> Any:
            allowed = readers.get(params.get("spreadsheetId", ""))
            if allowed is not None and _caller(fake) not in allowed:
                return google_error(403, "The caller does not have permission")
            try:
                return handler(**params)
            except SheetsError as exc:
                return google_error(exc.code, exc.message, exc.status)

        run.__name__ = handler.__name__
        return run

    @fake.api_route("sheets.spreadsheets.get")
    @guarded
    def get_spreadsheet(spreadsheetId: str) -> Any:  # noqa: N803 - Google's names
        return spreadsheet_resource(state.book(spreadsheetId))

    @fake.api_route("sheets.spreadsheets.getByDataFilter")
    @guarded
    def get_by_data_filter(spreadsheetId: str) -> Any:  # noqa: N803
        book = state.book(spreadsheetId)
        body = flask.request.get_json(silent=True) or {}
        fields = flask.request.args.get("fields")
        grid_data = bool(fields) or bool(body.get("includeGridData"))  # a mask wins
        resource = filtered_resource(book, spreadsheet_resource(book), body.get("dataFilters", []),
                                     grid_data)  # fmt: skip
        return masked(resource, parse_mask(fields)) if fields else resource

    @fake.api_route("sheets.spreadsheets.create")
    @guarded
    def create_spreadsheet() -> Any:
        body = flask.request.get_json(silent=True) or {}
        book = state.create(title=body.get("properties", {}).get("title", "Untitled spreadsheet"))
        for position, sheet in enumerate(body.get("sheets", [])):
            props = sheet.get("properties", {})
            if position == 0:
                book.tabs.clear()
            _add_tab(state, book, props)
        return spreadsheet_resource(book)

    @fake.api_route("sheets.spreadsheets.values.batchGet")
    @guarded
    def batch_get(spreadsheetId: str) -> Any:  # noqa: N803
        book = state.book(spreadsheetId)
        args = flask.request.args
        value_render = args.get("valueRenderOption", "FORMATTED_VALUE")
        date_render = args.get("dateTimeRenderOption", "SERIAL_NUMBER")
        if args.get("majorDimension", "ROWS") != "ROWS":
            raise bad_request("majorDimension COLUMNS is not supported by the fake")
        ranges = [parse_range(book, text) for text in args.getlist("ranges")]
        return {
            "spreadsheetId": book.id,
            "valueRanges": [_value_range(grid, value_render, date_render) for grid in ranges],
        }

    @fake.api_route("sheets.spreadsheets.developerMetadata.search")
    @guarded
    def search_metadata(spreadsheetId: str) -> Any:  # noqa: N803
        book = state.book(spreadsheetId)
        matched = []
        for data_filter in (flask.request.get_json(silent=True) or {}).get("dataFilters", []):
            lookup = data_filter.get("developerMetadataLookup")
            if lookup is None:
                raise bad_request("The fake only supports developerMetadataLookup filters")
            for item in book.metadata.values():
                if metadata_matches(item, lookup):
                    matched.append({"developerMetadata": item, "dataFilters": [data_filter]})
        return {"matchedDeveloperMetadata": matched} if matched else {}

    @fake.api_route("sheets.spreadsheets.batchUpdate")
    @guarded
    def batch_update(spreadsheetId: str) -> Any:  # noqa: N803
        book = state.book(spreadsheetId)
        body = flask.request.get_json(silent=True) or {}
        if body.get("responseIncludeGridData") or body.get("responseRanges"):
            raise bad_request("The fake answers the spreadsheet without grid data only")
        draft = Spreadsheet(book.id, book.title, [tab.clone() for tab in book.tabs],
                            dict(book.metadata))  # fmt: skip
        replies = []
        for position, request in enumerate(body.get("requests", [])):
            (kind, args), *others = request.items()
            if others:
                raise bad_request(f"Invalid requests[{position}]: one kind of request each")
            apply = _REQUESTS.get(kind)
            if apply is None:
                raise bad_request(f"Invalid requests[{position}]: {kind} is not in the fake")
            before = draft.cell_total()
            try:
                replies.append(apply(state, draft, args))
                _check_cells(state, draft, before)
            except SheetsError as exc:
                raise bad_request(f"Invalid requests[{position}].{kind}: {exc.message}") from None
        book.tabs, book.metadata = draft.tabs, draft.metadata
        answer: dict[str, Any] = {"spreadsheetId": book.id, "replies": replies}
        if body.get("includeSpreadsheetInResponse"):
            answer["updatedSpreadsheet"] = spreadsheet_resource(book)
        return answer


def _caller(fake: FakeGoogle) -> str:
    scheme, _, token = flask.request.headers.get("Authorization", "").partition(" ")
    subject_of = getattr(fake, "subject_of", None)
    return str(subject_of(token.strip())) if subject_of and scheme.lower() == "bearer" else ""


def _check_cells(state: SheetsState, book: Spreadsheet, before: int) -> None:
    """Google refuses, request by request, to grow a spreadsheet past its cell limit (rows x
    columns of every tab, empty or not); shrinking one that is over it is allowed."""
    after = book.cell_total()
    if after > state.cell_limit and after > before:
        raise SheetsError(
            400,
            "This action would increase the number of cells in the workbook above the limit "
            f"of {state.cell_limit} cells.",
        )


def spreadsheet_resource(book: Spreadsheet) -> dict[str, Any]:
    sheets = []
    for tab in sorted(book.tabs, key=lambda each: each.index):
        sheet: dict[str, Any] = {"properties": tab.properties()}
        located = [
            m for m in book.metadata.values() if m["location"].get("sheetId") == tab.sheet_id
        ]
        if located:
            sheet["developerMetadata"] = located
        if tab.basic_filter:
            sheet["basicFilter"] = tab.basic_filter
        if tab.charts:
            sheet["charts"] = copy.deepcopy(tab.charts)
        sheets.append(sheet)
    resource: dict[str, Any] = {
        "spreadsheetId": book.id,
        "properties": {"title": book.title, "locale": "en_US", "autoRecalc": "ON_CHANGE",
                       "timeZone": "Etc/GMT"},
        "sheets": sheets,
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.id}/edit",
    }  # fmt: skip
    top = [m for m in book.metadata.values() if m["location"].get("spreadsheet")]
    if top:
        resource["developerMetadata"] = top
    return resource


def _value_range(grid: GridRange, value_render: str, date_render: str) -> dict[str, Any]:
    rows: list[list[Any]] = []
    for row in range(grid.row_start, grid.row_end):
        values = [
            rendered(grid.tab.cell(row, column), value_render, date_render)
            for column in range(grid.col_start, grid.col_end)
        ]
        while values and values[-1] == "":
            values.pop()
        rows.append(values)
    while rows and not rows[-1]:
        rows.pop()
    result: dict[str, Any] = {"range": a1(grid), "majorDimension": "ROWS"}
    if rows:
        result["values"] = rows
    return result


# -- batchUpdate requests -------------------------------------------------------------------

Reply = dict[str, Any]


def _add_tab(state: SheetsState, book: Spreadsheet, props: dict[str, Any]) -> Tab:
    title = props.get("title") or f"Sheet{len(book.tabs) + 1}"
    if book.tab_by_title(title) is not None:
        raise bad_request(
            f'A sheet with the name "{title}" already exists. Please enter another name.'
        )
    grid = props.get("gridProperties", {})
    tab = Tab(
        int(props.get("sheetId", state.next_id())),
        title,
        int(props.get("index", len(book.tabs))),
        row_count=int(grid.get("rowCount", 1000)),
        column_count=int(grid.get("columnCount", 26)),
        frozen_rows=int(grid.get("frozenRowCount", 0)),
        frozen_columns=int(grid.get("frozenColumnCount", 0)),
    )
    for other in book.tabs:
        if other.index >= tab.index:
            other.index += 1
    book.tabs.append(tab)
    book.reindex()
    return tab


def _add_sheet(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    tab = _add_tab(state, book, args.get("properties", {}))
    return {"addSheet": {"properties": tab.properties()}}


def _delete_sheet(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    tab = book.tab_by_id(args["sheetId"])
    book.tabs.remove(tab)
    book.metadata = {key: m for key, m in book.metadata.items() if located_sheet(m) != tab.sheet_id}
    book.reindex()
    return {}


def _update_sheet_properties(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    props = args["properties"]
    tab = book.tab_by_id(props.get("sheetId", 0))
    grid = props.get("gridProperties", {})
    for name in _mask(args.get("fields", "")):
        if name == "title":
            other = book.tab_by_title(props["title"])
            if other is not None and other is not tab:
                raise bad_request(f'A sheet with the name "{props["title"]}" already exists.')
            tab.title = props["title"]
        elif name == "index":
            book.tabs.remove(tab)
            book.tabs.insert(min(int(props["index"]), len(book.tabs)), tab)
            for position, each in enumerate(book.tabs):
                each.index = position
        elif name == "gridProperties.frozenRowCount":
            tab.frozen_rows = int(grid.get("frozenRowCount", 0))
        elif name == "gridProperties.frozenColumnCount":
            tab.frozen_columns = int(grid.get("frozenColumnCount", 0))
        elif name == "gridProperties.rowCount":
            tab.row_count = int(grid["rowCount"])
        elif name == "gridProperties.columnCount":
            tab.column_count = int(grid["columnCount"])
        else:
            raise bad_request(f"The fake does not update the field {name}")
    return {}


def _mask(fields: str) -> list[str]:
    return [name.strip().replace("/", ".") for name in fields.split(",") if name.strip()]


def _merged(old: dict[str, Any], new: dict[str, Any], fields: str) -> dict[str, Any]:
    """The cell after writing `new` under the field mask (a masked field absent from `new` is
    cleared, as Google does)."""
    if fields.strip() == "*":
        return dict(new)
    cell = copy_cell(old)
    for path in _mask(fields):
        parts = path.split(".")
        source: Any = new
        for part in parts:
            source = source.get(part) if isinstance(source, dict) else None
        target = cell
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        if source is None:
            target.pop(parts[-1], None)
        else:
            target[parts[-1]] = source
    return cell


def copy_cell(cell: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(cell) if cell else {}


def _write_rows(tab: Tab, row: int, column: int, rows: list[dict[str, Any]], fields: str) -> None:
    for offset, row_data in enumerate(rows):
        values = row_data.get("values", [])
        if row + offset >= tab.row_count or column + len(values) > tab.column_count:
            raise SheetsError(
                400,
                f"Range ({quote_title(tab.title)}!{column_letter(column + len(values) - 1)}"
                f"{row + offset + 1}) exceeds grid limits. Max rows: {tab.row_count}, "
                f"max columns: {tab.column_count}",
            )
        tab.set_row(
            row + offset,
            {
                column + index: _merged(tab.cell(row + offset, column + index), value, fields)
                for index, value in enumerate(values)
            },
        )


def _update_cells(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    fields = args.get("fields") or ""
    if not fields:
        raise bad_request("At least one field must be updated, but none were specified.")
    where = args.get("start") or args.get("range")
    if where is None:
        raise bad_request("Must specify either start or range.")
    tab = book.tab_by_id(where.get("sheetId", 0))
    row = int(where.get("rowIndex", where.get("startRowIndex", 0)))
    column = int(where.get("columnIndex", where.get("startColumnIndex", 0)))
    _write_rows(tab, row, column, args.get("rows", []), fields)
    return {}


def _append_cells(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    fields = args.get("fields") or ""
    if not fields:
        raise bad_request("At least one field must be updated, but none were specified.")
    tab = book.tab_by_id(args.get("sheetId", 0))
    rows = args.get("rows", [])
    start = tab.last_data_row()
    tab.row_count = max(tab.row_count, start + len(rows))
    _write_rows(tab, start, 0, rows, fields)
    return {}


def _dimension(book: Spreadsheet, span: dict[str, Any]) -> tuple[Tab, bool, int, int]:
    tab = book.tab_by_id(span.get("sheetId", 0))
    rows = span.get("dimension") == "ROWS"
    limit = tab.row_count if rows else tab.column_count
    start, end = int(span.get("startIndex", 0)), int(span.get("endIndex", limit))
    if not 0 <= start < end <= limit:
        raise bad_request(f"Invalid dimension range {start}..{end} (grid has {limit})")
    return tab, rows, start, end


def _delete_dimension(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    tab, rows, start, end = _dimension(book, args["range"])
    if rows:
        if tab.row_count - (end - start) <= tab.frozen_rows:
            raise bad_request("Sorry, it is not possible to delete all non-frozen rows.")
        del tab.cells[start:end]
        tab.row_count -= end - start
        book.shift_metadata(tab.sheet_id, "ROWS", start, start - end)
    else:
        if tab.column_count - (end - start) <= tab.frozen_columns:
            raise bad_request("Sorry, it is not possible to delete all non-frozen columns.")
        tab.cells = [row[:start] + row[end:] for row in tab.cells]
        tab.column_count -= end - start
        book.shift_metadata(tab.sheet_id, "COLUMNS", start, start - end)
    return {}


def _insert_dimension(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    span = args["range"]
    tab = book.tab_by_id(span.get("sheetId", 0))
    rows = span.get("dimension") == "ROWS"
    start, end = int(span.get("startIndex", 0)), int(span.get("endIndex", 0))
    if not 0 <= start < end or start > (tab.row_count if rows else tab.column_count):
        raise bad_request(f"Invalid dimension range {start}..{end}")
    if rows:
        tab.cells = tab.cells[:start] + [[] for _ in range(end - start)] + tab.cells[start:]
        tab.row_count += end - start
    else:
        tab.cells = [row[:start] + [{} for _ in range(end - start)] + row[start:]
                     if len(row) > start else row for row in tab.cells]  # fmt: skip
        tab.column_count += end - start
    book.shift_metadata(tab.sheet_id, "ROWS" if rows else "COLUMNS", start, end - start)
    return {}


def _append_dimension(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    tab = book.tab_by_id(args.get("sheetId", 0))
    if args.get("dimension") == "ROWS":
        tab.row_count += int(args["length"])
    else:
        tab.column_count += int(args["length"])
    return {}


def _repeat_cell(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    span = args["range"]
    tab = book.tab_by_id(span.get("sheetId", 0))
    rows = range(int(span.get("startRowIndex", 0)), int(span.get("endRowIndex", tab.row_count)))
    columns = range(
        int(span.get("startColumnIndex", 0)), int(span.get("endColumnIndex", tab.column_count))
    )
    fields = args.get("fields") or "*"
    for row in rows:
        tab.set_row(
            row, {c: _merged(tab.cell(row, c), args.get("cell", {}), fields) for c in columns}
        )
    return {}


def _set_basic_filter(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    spec = args["filter"]
    book.tab_by_id(spec["range"].get("sheetId", 0)).basic_filter = spec
    return {}


def _update_dimension_properties(
    state: SheetsState, book: Spreadsheet, args: dict[str, Any]
) -> Reply:
    tab, rows, start, end = _dimension(book, args["range"])
    if not rows and "pixelSize" in _mask(args.get("fields", "")):
        for column in range(start, end):
            tab.column_widths[column] = int(args["properties"]["pixelSize"])
    return {}


def _create_metadata(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    item = dict(args["developerMetadata"])
    location = dict(item.get("location", {}))
    if "dimensionRange" in location:
        span = dict(location["dimensionRange"])
        tab, _, start, end = _dimension(book, span)  # the span must lie inside the grid
        span.update(sheetId=tab.sheet_id, startIndex=start, endIndex=end)
        location = {
            "dimensionRange": span,
            "locationType": "ROW" if span.get("dimension") == "ROWS" else "COLUMN",
        }
    elif "sheetId" in location:
        book.tab_by_id(location["sheetId"])
        location["locationType"] = "SHEET"
    elif location.get("spreadsheet"):
        location["locationType"] = "SPREADSHEET"
    else:
        raise bad_request("A metadata location needs a dimensionRange, sheetId or spreadsheet")
    item["location"] = location
    item["metadataId"] = int(item.get("metadataId") or state.next_id())
    item.setdefault("visibility", "DOCUMENT")
    if item["metadataId"] in book.metadata:
        raise bad_request(f"Metadata with id {item['metadataId']} already exists.")
    book.metadata[item["metadataId"]] = item
    return {"createDeveloperMetadata": {"developerMetadata": item}}


def _delete_metadata(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    lookup = args["dataFilter"].get("developerMetadataLookup")
    if lookup is None:
        raise bad_request("The fake deletes metadata by developerMetadataLookup only")
    doomed = [item for item in book.metadata.values() if metadata_matches(item, lookup)]
    for item in doomed:
        del book.metadata[item["metadataId"]]
    return {"deleteDeveloperMetadata": {"deletedDeveloperMetadata": doomed}}


def _add_chart(state: SheetsState, book: Spreadsheet, args: dict[str, Any]) -> Reply:
    """An embedded chart anchored on a tab; every source range must lie in an existing grid."""
    chart = copy.deepcopy(args["chart"])
    anchor = chart.get("position", {}).get("overlayPosition", {}).get("anchorCell")
    if anchor is None:
        raise bad_request("The fake only supports charts with an overlayPosition anchorCell")
    tab = book.tab_by_id(anchor.get("sheetId", 0))
    if (
        anchor.get("rowIndex", 0) >= tab.row_count
        or anchor.get("columnIndex", 0) >= tab.column_count
    ):
        raise bad_request("The chart's anchor cell is outside the sheet's grid")
    basic = chart.get("spec", {}).get("basicChart")
    if not basic or not basic.get("series") or not basic.get("domains"):
        raise bad_request("The fake only supports basic charts with a domain and series")
    parts = [d["domain"] for d in basic["domains"]] + [s["series"] for s in basic["series"]]
    for part in parts:
        for grid in part["sourceRange"]["sources"]:
            source = book.tab_by_id(grid.get("sheetId", 0))
            if (
                grid["endRowIndex"] > source.row_count
                or grid["endColumnIndex"] > source.column_count
            ):
                raise bad_request("A chart source range exceeds grid limits")
            if grid["endColumnIndex"] - grid["startColumnIndex"] != 1:
                raise bad_request("A chart series must be one column")
    chart["chartId"] = state.next_id()
    tab.charts.append(chart)
    return {"addChart": {"chart": chart}}


_REQUESTS: dict[str, Callable[[SheetsState, Spreadsheet, dict[str, Any]], Reply]] = {
    "addChart": _add_chart,
    "addSheet": _add_sheet,
    "deleteSheet": _delete_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "updateCells": _update_cells,
    "appendCells": _append_cells,
    "deleteDimension": _delete_dimension,
    "appendDimension": _append_dimension,
    "repeatCell": _repeat_cell,
    "setBasicFilter": _set_basic_filter,
    "updateDimensionProperties": _update_dimension_properties,
    "createDeveloperMetadata": _create_metadata,
    "deleteDeveloperMetadata": _delete_metadata,
    "insertDimension": _insert_dimension,
}
