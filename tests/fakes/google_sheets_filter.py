"""Fake Sheets getByDataFilter: ranges selected by DataFilters, GridData of those ranges only,
developer metadata that lives on rows and columns, and a coarse `fields` mask.

What Google does, and the fake too: a sheet no matched range touches is left out of `sheets`;
each matched range is one GridData block (`startRow`/`startColumn` omitted when 0, `rowData`
trimmed after the last non-empty row and absent when empty, row/column metadata sized to the
block); a metadata lookup selects the range its metadata is located on (a row or column span,
a whole sheet, or the whole spreadsheet). Metadata on rows or columns moves with them when
rows or columns are inserted or deleted before it, and is deleted with them.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.google_sheets_state import (
    GridRange,
    Spreadsheet,
    bad_request,
    parse_range,
)

Mask = dict[str, Any]  # field name -> sub-mask (None: the whole field)


def located_sheet(item: dict[str, Any]) -> int | None:
    """The sheetId a metadata item lives on (None: the spreadsheet itself)."""
    location = item["location"]
    if "dimensionRange" in location:
        return int(location["dimensionRange"].get("sheetId", 0))
    return int(location["sheetId"]) if "sheetId" in location else None


def metadata_matches(item: dict[str, Any], lookup: dict[str, Any]) -> bool:
    for name in ("metadataKey", "metadataValue", "metadataId", "visibility"):
        if name in lookup and item.get(name) != lookup[name]:
            return False
    location = lookup.get("metadataLocation", {})
    if "sheetId" in location and located_sheet(item) != location["sheetId"]:
        return False
    return (
        "locationType" not in lookup or item["location"]["locationType"] == lookup["locationType"]
    )


def matched_ranges(book: Spreadsheet, filters: list[dict[str, Any]]) -> list[GridRange]:
    found: list[GridRange] = []
    for data_filter in filters:
        if "developerMetadataLookup" in data_filter:
            lookup = data_filter["developerMetadataLookup"]
            for item in book.metadata.values():
                if metadata_matches(item, lookup):
                    found += _ranges_of(book, item)
        elif "a1Range" in data_filter:
            found.append(parse_range(book, data_filter["a1Range"]))
        elif "gridRange" in data_filter:
            span = data_filter["gridRange"]
            tab = book.tab_by_id(span.get("sheetId", 0))
            rows = min(int(span.get("endRowIndex", tab.row_count)), tab.row_count)
            columns = min(int(span.get("endColumnIndex", tab.column_count)), tab.column_count)
            found.append(GridRange(tab, int(span.get("startRowIndex", 0)), rows,
                                   int(span.get("startColumnIndex", 0)), columns))  # fmt: skip
        else:
            raise bad_request("A DataFilter needs developerMetadataLookup, a1Range or gridRange")
    unique: list[GridRange] = []
    for grid in found:
        if grid not in unique:
            unique.append(grid)
    return unique


def _ranges_of(book: Spreadsheet, item: dict[str, Any]) -> list[GridRange]:
    location = item["location"]
    kind = location["locationType"]
    if kind == "SPREADSHEET":
        return [GridRange(tab, 0, tab.row_count, 0, tab.column_count) for tab in book.tabs]
    tab = book.tab_by_id(located_sheet(item))
    if kind == "SHEET":
        return [GridRange(tab, 0, tab.row_count, 0, tab.column_count)]
    span = location["dimensionRange"]
    start, end = int(span["startIndex"]), int(span["endIndex"])
    if kind == "ROW":
        return [GridRange(tab, start, end, 0, tab.column_count)]
    return [GridRange(tab, 0, tab.row_count, start, end)]


def filtered_resource(
    book: Spreadsheet, base: dict[str, Any], filters: list[dict[str, Any]], grid_data: bool
) -> dict[str, Any]:
    """`base` (the spreadsheets.get resource) cut down to the sheets the filters touch, each with
    one GridData block per matched range when `grid_data`."""
    ranges = matched_ranges(book, filters) if filters else [
        GridRange(tab, 0, tab.row_count, 0, tab.column_count) for tab in book.tabs]  # fmt: skip
    touched = {grid.tab.sheet_id for grid in ranges}
    sheets = []
    for sheet in base["sheets"]:
        sheet_id = sheet["properties"]["sheetId"]
        if sheet_id not in touched:
            continue
        if grid_data:
            sheet = {**sheet, "data": [_grid_data(book, grid) for grid in ranges
                                       if grid.tab.sheet_id == sheet_id]}  # fmt: skip
        sheets.append(sheet)
    return {**base, "sheets": sheets}


def _grid_data(book: Spreadsheet, grid: GridRange) -> dict[str, Any]:
    rows = []
    for row in range(grid.row_start, grid.row_end):
        values = [_cell_data(grid.tab.cell(row, column))
                  for column in range(grid.col_start, grid.col_end)]  # fmt: skip
        while values and not values[-1]:
            values.pop()
        rows.append({"values": values} if values else {})
    while rows and not rows[-1]:
        rows.pop()
    block: dict[str, Any] = {}
    if grid.row_start:
        block["startRow"] = grid.row_start
    if grid.col_start:
        block["startColumn"] = grid.col_start
    if rows:
        block["rowData"] = rows
    block["rowMetadata"] = [_dimension(book, grid.tab.sheet_id, "ROWS", row, 21)
                            for row in range(grid.row_start, grid.row_end)]  # fmt: skip
    block["columnMetadata"] = [
        _dimension(book, grid.tab.sheet_id, "COLUMNS", column,
                   grid.tab.column_widths.get(column, 100))
        for column in range(grid.col_start, grid.col_end)]  # fmt: skip
    return block


def _dimension(book: Spreadsheet, sheet_id: int, dimension: str, at: int, size: int) -> Any:
    found = [item for item in book.metadata.values()
             if (span := item["location"].get("dimensionRange"))
             and span.get("sheetId", 0) == sheet_id and span["dimension"] == dimension
             and span["startIndex"] <= at < span["endIndex"]]  # fmt: skip
    props: dict[str, Any] = {"pixelSize": size}
    if found:
        props["developerMetadata"] = found
    return props


def _cell_data(cell: dict[str, Any]) -> dict[str, Any]:
    if not cell:
        return {}
    data = dict(cell)
    value = cell.get("userEnteredValue")
    if value and "formulaValue" in value:  # the fake never evaluates a formula
        data["effectiveValue"] = {"errorValue": {"type": "ERROR", "message": "not evaluated"}}
    elif value:
        data["effectiveValue"] = dict(value)
    return data


# -- field masks ----------------------------------------------------------------------------


def parse_mask(text: str) -> Mask:
    """'a,b(c,d.e),f.g' -> {'a': None, 'b': {'c': None, 'd': {'e': None}}, 'f': {'g': None}}."""
    mask, rest = _fields(text.replace(" ", ""), 0)
    if rest != len(text.replace(" ", "")):
        raise bad_request(f"Invalid field selection {text}")
    return mask


def _fields(text: str, at: int) -> tuple[Mask, int]:
    mask: Mask = {}
    while at < len(text) and text[at] != ")":
        end = at
        while end < len(text) and text[end] not in ",()":
            end += 1
        path = [part for part in text[at:end].split(".") if part]
        if not path:
            raise bad_request(f"Invalid field selection {text}")
        sub: Mask | None = None
        if end < len(text) and text[end] == "(":
            sub, end = _fields(text, end + 1)
            if end >= len(text) or text[end] != ")":
                raise bad_request(f"Invalid field selection {text}")
            end += 1
        target = mask
        for part in path[:-1]:
            if target.get(part, {}) is None:
                break  # already the whole field
            target = target.setdefault(part, {})
        else:
            target[path[-1]] = _union(target.get(path[-1], {}), sub)
        at = end + 1 if end < len(text) and text[end] == "," else end
    return mask, at


def _union(old: Mask | None, new: Mask | None) -> Mask | None:
    if old is None or new is None:
        return None
    return {**old, **new} if old else new


def masked(value: Any, mask: Mask | None) -> Any:
    """`value` with only the masked fields (lists: each element)."""
    if mask is None:
        return value
    if isinstance(value, list):
        return [masked(item, mask) for item in value]
    if isinstance(value, dict):
        return {key: masked(item, mask[key]) for key, item in value.items() if key in mask}
    return value
