"""Rows of a workbook billsync wrote itself, kept as XML: copied as they are, parsed on demand."""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Generator, Iterable
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import unescape

from api.core.text import column_letter
from api.ledger.workbook.xlsx_read import (
    Link,
    NotAWorkbook,
    Sheet,
    XlsxReader,
    column_index,
    from_excel,
)
from api.ledger.workbook.xlsx_write import APPLICATION, DATE_STYLES, STYLES

_CHUNK = 1 << 20
_LINK = re.compile(rb'<hyperlink ref="([A-Z]+)(\d+)" r:id="([^"]+)"/>')
# Every cell billsync writes: inline text, or a number/boolean <v> (formulas are parsed).
_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})\d+"(?: s="(\d)")?(?: t="(inlineStr|b)")?>'
    rb"(?:<is><t[^>]*>([^<]*)</t></is>|<v>([^<]*)</v>)</c>"
)
_DATES = {str(style).encode() for style in DATE_STYLES}
_APP = re.compile(rb"<Application>([^<]*)</Application>")


def is_ours(reader: XlsxReader) -> bool:
    """Written by billsync (and by nothing since): our styles, inline strings only.

    Only then do a row's style ids mean the same in the next file we write, and a row stands
    on its own. A file saved by Excel, LibreOffice or openpyxl is read cell by cell instead.
    """
    if reader.has_part("sharedStrings") or reader.part("xl/styles.xml") != STYLES:
        return False
    app = _APP.search(reader.part("docProps/app.xml") or b"")
    return app is not None and app.group(1) == APPLICATION.encode()


class RawRow:
    """One `<row>` of a sheet in our dialect: its XML and row number; `row[i]` parses lazily."""

    __slots__ = ("xml", "number", "_sheet", "_values")

    def __init__(self, xml: bytes, number: int, sheet: RawSheet) -> None:
        self.xml, self.number, self._sheet = xml, number, sheet
        self._values: list[Any] | None = None

    def __getitem__(self, index: int) -> Any:
        if self._values is None and self.number not in self._sheet.links:
            found = self._sheet.text_cell(self.xml, index)
            if found is not None:
                return found
        values = self.values()
        return values[index] if index < len(values) else None

    def values(self) -> list[Any]:
        if self._values is None:
            self._values = self._sheet.values(self.xml, self.number)
        return self._values

    def __len__(self) -> int:
        return len(self.values())


class RawSheet:
    """Streams a sheet's rows as RawRow, their hyperlinks (at the sheet's end) read first."""

    def __init__(self, reader: XlsxReader, sheet: Sheet) -> None:
        self.reader, self.sheet = reader, sheet
        self.links: dict[int, list[tuple[int, str]]] = {}  # row number -> (column, URL)
        self._patterns: dict[int, re.Pattern[bytes]] = {}
        self._columns: dict[bytes, int] = {}
        self._skipped: frozenset[int] = frozenset()
        self._rels = reader.rels(sheet.path)
        self._links_read = False

    @property
    def has_links(self) -> bool:
        return any(kind == "hyperlink" for kind, _target in self._rels.values())

    def rows(self) -> Generator[RawRow, None, None]:
        if self.has_links and not self._links_read:
            self._scan_links()
        tail = b""
        started = False
        try:
            with self.reader.open_part(self.sheet.path) as source:
                while True:
                    chunk = source.read(_CHUNK)
                    data = tail + chunk
                    if not started:
                        at = data.find(b"<sheetData>")
                        if at < 0:
                            tail = data
                            if not chunk or b"<sheetData/>" in data:
                                break
                            continue
                        data, started = data[at + len(b"<sheetData>") :], True
                    pieces = data.split(b"</row>")
                    tail = pieces.pop()
                    for piece in pieces:
                        if not piece.startswith(b'<row r="'):
                            raise NotAWorkbook(f"unexpected XML in {self.sheet.path}")
                        number = int(piece[8 : piece.index(b'"', 8)])
                        yield RawRow(piece + b"</row>", number, self)
                    if not chunk:
                        break
        except (zipfile.BadZipFile, zlib.error, ValueError) as exc:
            raise NotAWorkbook(str(exc)) from None
        self._read_links(tail)

    def skip(self, columns: Iterable[int]) -> None:
        """Leave these columns' values out (None) of the rows parsed from now on: a reader
        that needs a few columns does not pay for decoding the others (dates, numbers)."""
        self._skipped = frozenset(columns)

    def values(self, xml: bytes, number: int) -> list[Any]:
        """A row's values as XlsxReader gives them, links as Link(text, URL)."""
        row = self._cells(xml)
        for column, url in self.links.get(number, ()):
            if column >= len(row):
                row.extend([None] * (column + 1 - len(row)))
            row[column] = Link(row[column], url)
        return row

    def _cells(self, xml: bytes) -> list[Any]:
        """One regex over the cells we write; a row holding anything else (a formula) goes
        through the XML parser."""
        cells = _CELL.findall(xml)
        if len(cells) != xml.count(b"<c ") or b"<f>" in xml:
            return self.reader.parse_row(xml)
        row: list[Any] = []
        skipped = self._skipped
        for letters, style, kind, text, number in cells:
            column = self._columns.get(letters)
            if column is None:
                column = self._columns[letters] = column_index(letters.decode())
            if column > len(row):
                row.extend([None] * (column - len(row)))
            if column in skipped:
                row.append(None)
            elif kind == b"inlineStr":
                row.append(_decode(text))
            elif kind == b"b":
                row.append(number in (b"1", b"true"))
            elif style in _DATES:
                row.append(from_excel(float(number)))
            else:
                row.append(Decimal(number.decode()))
        return row

    def text_cell(self, xml: bytes, index: int) -> str | None:
        """A text cell's value straight from the row's XML; None if it is not plain text."""
        pattern = self._patterns.get(index)
        if pattern is None:
            letters = column_letter(index).encode()
            pattern = re.compile(
                rb'<c r="' + letters + rb'\d+"(?: s="\d+")? t="inlineStr"><is><t[^>]*>([^<]*)</t>'
            )
            self._patterns[index] = pattern
        match = pattern.search(xml)
        if match is None:
            return None
        return _decode(match.group(1))

    def _scan_links(self) -> None:
        """Read the sheet once up to its end, where <hyperlinks> is, without splitting rows."""
        marker = b"</sheetData>"
        tail = b""
        try:
            with self.reader.open_part(self.sheet.path) as source:
                while chunk := source.read(_CHUNK):
                    data = tail + chunk
                    at = data.find(marker)
                    tail = data[at:] if at >= 0 else data[-len(marker) :]
        except (zipfile.BadZipFile, zlib.error) as exc:
            raise NotAWorkbook(str(exc)) from None
        self._read_links(tail)

    def _read_links(self, tail: bytes) -> None:
        if self._links_read:
            return
        self._links_read = True
        for letters, row, rel_id in _LINK.findall(tail):
            rel = self._rels.get(rel_id.decode())
            if rel is not None:
                self.links.setdefault(int(row), []).append((column_index(letters.decode()), rel[1]))


def _decode(text: bytes) -> str:
    if b"&" in text:
        return unescape(text.decode(), {"&quot;": '"', "&#13;": "\r"})
    return text.decode()


def sheet_rels(reader: XlsxReader, sheet: Sheet) -> bytes | None:
    """The sheet's own relationships part (hyperlink targets), to copy along with the sheet."""
    folder, name = sheet.path.rsplit("/", 1)
    return reader.part(f"{folder}/_rels/{name}.rels")
