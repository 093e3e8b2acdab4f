"""How each sheet of the old ledger file becomes a sheet of the new one, and new sheets."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from api.core.model import (
    DATE_COLUMNS,
    DATETIME_COLUMNS,
    INTEGER_COLUMNS,
    INVOICE_COLUMNS,
    LINE_COLUMNS,
    MONEY_COLUMNS,
    PLAIN_NUMBER_COLUMNS,
    RUN_COLUMNS,
)
from api.core.text import column_letter
from api.ledger.workbook.cells import encoder, money_style
from api.ledger.workbook.xlsx_package import BookWriter
from api.ledger.workbook.xlsx_raw import RawRow, RawSheet, is_ours, sheet_rels
from api.ledger.workbook.xlsx_read import Link, Sheet, XlsxReader

TABS: dict[str, tuple[str, ...]] = {
    "Invoices": INVOICE_COLUMNS, "Line Items": LINE_COLUMNS, "Runs": RUN_COLUMNS,
}  # fmt: skip
# Column widths (in characters of the default font) fit the header and the first rows' content,
# within these bounds; the header needs room for the autofilter button too.
MIN_WIDTH, MAX_WIDTH, FILTER_BUTTON = 8.0, 60.0, 3
WIDTH_SAMPLE = 500  # rows measured; the rest stream through unmeasured
RIGHT_ALIGNED = (
    DATE_COLUMNS | DATETIME_COLUMNS | MONEY_COLUMNS | INTEGER_COLUMNS | (PLAIN_NUMBER_COLUMNS)
)

# A tab edit: (header, its existing rows) -> the rows to write. Rows are lists in header order,
# or (from a file billsync wrote) RawRow: indexable the same way, and copied as they are.
TabEdit = Callable[[list[str], Iterator[Any]], Iterator[Any]]


def fill_book(
    book: BookWriter,
    reader: XlsxReader | None,
    edits: dict[str, TabEdit],
    generated: Mapping[str, Generated] | None = None,
    read: Callable[[Sheet], Iterator[list[Any]]] | None = None,
) -> None:
    """Every sheet of the old file in its order (edited where asked, or written anew by a
    `generated` writer), then missing ledger tabs, then generated sheets not there yet.
    `read` gives a sheet's rows of a file someone else saved (default: `reader.rows`; the
    ledger passes rows it has just read)."""
    ours = reader is not None and is_ours(reader)
    sheets = reader.sheets if reader else []
    present = {sheet.title for sheet in sheets}
    generated = {title: writer for title, writer in (generated or {}).items()
                 if writer.replace or title not in present}  # fmt: skip
    carried = drawing_parts(reader, sheets, generated) if ours else {}  # type: ignore[arg-type]
    new = [title for title in generated if title not in present]
    parts = [part for paths in carried.values() for part in paths if part in CHART_TYPES]
    parts += [part for writer in generated.values() for part in writer.parts]
    count = len(sheets) + sum(tab not in present for tab in TABS) + len(new)
    book.start(count, parts=[(part, CHART_TYPES[part]) for part in parts])
    for sheet in sheets:
        if sheet.title in generated:
            generated[sheet.title].write(book)
        elif ours:
            _copy_ours(book, reader, sheet, edits)  # type: ignore[arg-type]
            for part in carried.get(sheet.title, ()):
                book.write_part(part, reader.part(part) or b"")  # type: ignore[union-attr]
        else:
            _copy_sheet(book, reader, sheet, edits, read)  # type: ignore[arg-type]
    for tab in TABS:
        if tab not in present:
            edit = edits.get(tab, keep)
            write_tab(book, tab, list(TABS[tab]), edit(list(TABS[tab]), iter(())))
    for title in new:
        generated[title].write(book)


class Generated(Protocol):
    """A sheet billsync writes whole (the Summary, a new Clients tab), with the extra package
    parts it adds (CHART_TYPES paths)."""

    parts: tuple[str, ...]
    replace: bool  # False: written only when the file has no sheet of that title

    def write(self, book: BookWriter) -> None: ...


CHART_TYPES = {
    "xl/drawings/drawing1.xml": "application/vnd.openxmlformats-officedocument.drawing+xml",
    "xl/charts/chart1.xml": "application/vnd.openxmlformats-officedocument.drawingml.chart+xml",
}


def drawing_parts(
    reader: XlsxReader, sheets: list[Sheet], generated: Mapping[str, Generated]
) -> dict[str, list[str]]:
    """Per sheet of a file in our dialect, its drawing parts to copy along with it (the
    Summary's chart): the drawing, the drawing's relationships, its charts."""
    found: dict[str, list[str]] = {}
    for sheet in sheets:
        if sheet.title in TABS or sheet.title in generated:
            continue
        for kind, target in reader.rels(sheet.path).values():
            if kind != "drawing" or target not in CHART_TYPES:
                continue
            folder, name = target.rsplit("/", 1)
            paths = [target, f"{folder}/_rels/{name}.rels"]
            charts = reader.rels(target).values()
            paths += [t for k, t in charts if k == "chart" and t in CHART_TYPES]
            found[sheet.title] = [p for p in paths if reader.part(p) is not None]
    return found


def _copy_ours(
    book: BookWriter, reader: XlsxReader, sheet: Sheet, edits: dict[str, TabEdit]
) -> None:
    """A sheet of a file we wrote: copied whole when unchanged, else its rows as XML."""
    raw = RawSheet(reader, sheet)
    rows = raw.rows()
    edit = edits.get(sheet.title)
    if sheet.title in TABS:
        first = next(rows, None)
        header = header_names(first.values() if first else [])
        missing = [name for name in TABS[sheet.title] if name not in header]
        if edit is None and not missing:
            rows.close()
            info, rels = reader.info(sheet.path), sheet_rels(reader, sheet)
            book.copy_sheet(
                sheet.title, reader.fileno(), info, rels, sheet.filter_ref, print_header=True
            )
            return
        columns = header + missing
        write_tab(book, sheet.title, columns, (edit or keep)(columns, rows), raw)
        return
    rows.close()  # a user's own tab: kept as it is
    book.copy_sheet(
        sheet.title, reader.fileno(), reader.info(sheet.path), sheet_rels(reader, sheet), None
    )


def _copy_sheet(
    book: BookWriter,
    reader: XlsxReader,
    sheet: Sheet,
    edits: dict[str, TabEdit],
    read: Callable[[Sheet], Iterator[list[Any]]] | None = None,
) -> None:
    """A sheet of a file someone else saved: read cell by cell (values, links, formulas)."""
    rows = (read or reader.rows)(sheet)
    if sheet.title not in TABS:  # a user's own tab: kept as it is (values and formulas)
        write_tab(book, sheet.title, [], _with_links(list(rows), sheet), ledger=False)
        return
    if sheet.title == "Line Items":  # the big one streams; the others fit in memory
        header = header_names(next(rows, []))
    else:
        buffered = _with_links(list(rows), sheet)
        header, rows = header_names(buffered[0] if buffered else []), iter(buffered[1:])
    columns = header + [name for name in TABS[sheet.title] if name not in header]
    padded = (row + [None] * (len(columns) - len(row)) for row in rows)
    write_tab(book, sheet.title, columns, edits.get(sheet.title, keep)(columns, padded))


def keep(header: list[str], rows: Iterator[Any]) -> Iterator[Any]:
    return rows


def write_tab(
    book: BookWriter,
    title: str,
    header: list[str],
    rows: Iterable[Any],
    raw: RawSheet | None = None,
    *,
    ledger: bool = True,
) -> None:
    """One sheet: the header, then each row serialized (a list) or copied (a RawRow)."""
    known = frozenset(TABS.get(title, ())) if ledger else frozenset()
    rows = iter(rows)
    sample = list(itertools.islice(rows, WIDTH_SAMPLE)) if ledger else []
    widths = fitted_widths(header, sample) if ledger else ()
    sheet = book.sheet(widths=widths, frozen=ledger, printable=ledger)
    encoders = [encoder(name if name in known else None) for name in header]
    if header:
        sheet.header(header, [ledger and name in RIGHT_ALIGNED for name in header])
    currency = header.index("Currency") if ledger and "Currency" in header else None
    moved: dict[int, int] = {}  # old row number -> new, for the old rows' hyperlinks
    track = raw is not None and raw.has_links
    for row in itertools.chain(sample, rows):
        if type(row) is RawRow:
            new = sheet.copy(row.xml, row.number)
            if track:
                moved[row.number] = new
        else:
            if currency is not None:
                sheet.money_style = money_style(row[currency] if currency < len(row) else None)
            sheet.row(row, encoders)
    for old, links in raw.links.items() if raw else ():
        if old in moved:
            sheet.links.extend((f"{column_letter(col)}{moved[old]}", url) for col, url in links)
    book.end_sheet(title, sheet, filter_columns=len(header) if ledger else 0, print_header=ledger)


def fitted_widths(header: Sequence[str], rows: Iterable[Any]) -> list[float]:
    """Each column as wide as its header (plus the filter button) or its widest shown value,
    within MIN_WIDTH..MAX_WIDTH."""
    widths = [len(name) + FILTER_BUTTON for name in header]
    for row in rows:
        for index in range(min(len(widths), len(row))):
            widths[index] = max(widths[index], _shown_length(row[index]))
    return [max(MIN_WIDTH, min(MAX_WIDTH, float(width + 1))) for width in widths]


def _shown_length(value: Any) -> int:
    """About how many characters a spreadsheet shows for a cell value."""
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, dt.datetime):
        return len("2024-01-31 23:59:59 UTC")
    if isinstance(value, dt.date):
        return len("2024-01-31")
    if isinstance(value, Decimal | int | float):
        try:
            return len(f"{value:,.2f}")
        except (ValueError, TypeError):
            return len(str(value))
    if isinstance(value, Link):
        return _shown_length(value.text)
    text = str(value)
    return max((len(line) for line in text.splitlines()), default=0)


def header_names(row: list[Any]) -> list[str]:
    names = [value if isinstance(value, str) else "" for value in row]
    while names and not names[-1]:
        names.pop()
    return names


def filled(row: list[Any]) -> bool:
    return any(value is not None and value != "" for value in row)


def _with_links(rows: list[list[Any]], sheet: Sheet) -> list[list[Any]]:
    """Put the hyperlinks (read after the rows, at the end of the sheet) into their cells."""
    for (row, column), url in sheet.links.items():
        if row < len(rows) and column < len(rows[row]):
            rows[row][column] = Link(rows[row][column], url)
    return rows
