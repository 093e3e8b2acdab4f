"""Streaming .xlsx reading: sheet rows as raw values, shared strings, hyperlinks, formulas."""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError, fromstring, iterparse

from openpyxl.formula.translate import Translator
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

# openpyxl's own read-only mode is ~3x slower here: it parses each sheet twice when the file has
# no <dimension> (write-only files never do) and builds a cell object per value. We only need
# values, hyperlinks and formulas, so one pass of the C XML parser does.

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_ROW, _CELL, _LINK = NS + "row", NS + "c", NS + "hyperlink"
_COORD = re.compile(r"([A-Z]+)(\d*)")
EXCEL_EPOCH = dt.datetime(1899, 12, 30)


class NotAWorkbook(Exception):
    """The file is not an .xlsx package we can read (the caller says which file and what to do)."""


@dataclass(frozen=True)
class Formula:
    """A user's formula cell: written back as a formula; `cached` is its last computed value."""

    text: str  # with the leading "="
    cached: Any = None


@dataclass
class Link:
    """A hyperlink cell: what a person sees, and where it goes."""

    text: Any
    url: str


@dataclass
class Sheet:
    title: str
    path: str
    links: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) 0-based
    filter_ref: str | None = None  # the workbook's _FilterDatabase range for the sheet, if any


def column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


def from_excel(serial: float) -> dt.datetime:
    """An Excel serial day number as a naive datetime, rounded to the millisecond."""
    value = EXCEL_EPOCH + dt.timedelta(days=serial)
    micros = round(value.microsecond / 1000) * 1000
    return value.replace(microsecond=0) + dt.timedelta(microseconds=micros)


class XlsxReader:
    """One open .xlsx file; iterate a sheet's rows (0-based lists of raw values) once each."""

    def __init__(self, path: Path) -> None:
        try:
            self._file = open(path, "rb")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            raise NotAWorkbook(str(exc)) from None
        try:
            self._zip = zipfile.ZipFile(self._file)
            self.sheets = self._sheets()
            self._strings = self._shared_strings()
            self._date_styles = self._date_style_ids()
        except (zipfile.BadZipFile, KeyError, ParseError, ValueError, OSError) as exc:
            self._file.close()
            raise NotAWorkbook(str(exc)) from None

    def close(self) -> None:
        self._zip.close()
        self._file.close()

    def fileno(self) -> int:
        """The open file (the one read all along, even if the path is replaced meanwhile)."""
        return self._file.fileno()

    def __enter__(self) -> XlsxReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- package parts --------------------------------------------------------------------

    def rels(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type suffix, target path or URL) of one package part."""
        folder, name = posixpath.split(part)
        rels_path = posixpath.join(folder, "_rels", name + ".rels")
        if rels_path not in self._zip.namelist():
            return {}
        root = _parse(self._zip.read(rels_path))
        found = {}
        for rel in root.iter(PKG_REL_NS + "Relationship"):
            target = rel.get("Target", "")
            if rel.get("TargetMode") != "External":
                target = (
                    target.lstrip("/")
                    if target.startswith("/")
                    else posixpath.normpath(posixpath.join(folder, target))
                )
            found[rel.get("Id", "")] = (rel.get("Type", "").rsplit("/", 1)[-1], target)
        return found

    def _sheets(self) -> list[Sheet]:
        rels = self.rels("xl/workbook.xml")
        self._parts = {kind: target for kind, target in rels.values()}
        root = _parse(self._zip.read("xl/workbook.xml"))
        filters = {
            name.get("localSheetId"): (name.text or "").rsplit("!", 1)[-1].replace("$", "")
            for name in root.iter(NS + "definedName")
            if name.get("name") == "_xlnm._FilterDatabase"
        }
        sheets = []
        for index, sheet in enumerate(root.iter(NS + "sheet")):
            kind, target = rels[sheet.get(REL_NS + "id", "")]
            if kind == "worksheet":  # chartsheets have no rows to keep
                sheets.append(
                    Sheet(sheet.get("name", ""), target, filter_ref=filters.get(str(index)))
                )
        return sheets

    # -- for copying a file in our own dialect (see xlsx_raw) -----------------------------

    def part(self, name: str) -> bytes | None:
        """A package part's bytes (styles.xml, app.xml, ...), None if the package has none."""
        if name not in self._zip.NameToInfo:
            return None
        return self._zip.read(name)

    def info(self, name: str) -> zipfile.ZipInfo:
        return self._zip.getinfo(name)

    def has_part(self, kind: str) -> bool:
        return kind in self._parts

    def open_part(self, name: str) -> IO[bytes]:
        return self._zip.open(name)

    def parse_row(self, xml: bytes) -> list[Any]:
        """One `<row>` element of a sheet (without its namespace declaration) as raw values."""
        try:
            element = _parse(xml.replace(b"<row ", b'<row xmlns="' + NS[1:-1].encode() + b'" ', 1))
        except ParseError as exc:
            raise NotAWorkbook(str(exc)) from None
        return self._row(element, {})

    def _shared_strings(self) -> list[str]:
        part = self._parts.get("sharedStrings")
        if not part:
            return []
        root = _parse(self._zip.read(part))
        return [_text(si) for si in root.iter(NS + "si")]

    def _date_style_ids(self) -> frozenset[int]:
        """Cell styles (xf index) whose number format shows a date: their numbers are dates."""
        part = self._parts.get("styles")
        if not part:
            return frozenset()
        root = _parse(self._zip.read(part))
        formats = dict(BUILTIN_FORMATS)
        for fmt in root.iter(NS + "numFmt"):
            formats[int(fmt.get("numFmtId", "0"))] = fmt.get("formatCode", "")
        xfs = root.find(NS + "cellXfs")
        cells = [] if xfs is None else list(xfs.iter(NS + "xf"))
        return frozenset(
            i for i, xf in enumerate(cells)
            if is_date_format(formats.get(int(xf.get("numFmtId", "0")), ""))
        )  # fmt: skip

    # -- rows -----------------------------------------------------------------------------

    def rows(self, sheet: Sheet) -> Iterator[list[Any]]:
        """Non-empty rows in order; hyperlinks land in `sheet.links` once the rows are read."""
        links = self.rels(sheet.path)
        shared: dict[str, tuple[str, str]] = {}
        positions: dict[int, int] = {}  # the file's row number -> our index (empty rows dropped)
        with self._zip.open(sheet.path) as source:
            for element in _elements(source):
                if element.tag == _ROW:
                    row = self._row(element, shared)
                    number = int(element.get("r", "0")) or len(positions) + 1
                    element.clear()
                    if any(value not in (None, "") for value in row):
                        positions[number] = len(positions)
                        yield row
                    continue
                if element.tag == _LINK:
                    self._link(element, links, sheet, positions)
                    element.clear()

    def _row(self, element: Element, shared: dict[str, tuple[str, str]]) -> list[Any]:
        row: list[Any] = []
        for cell in element.iter(_CELL):
            ref = cell.get("r")
            column = column_index(_COORD.match(ref).group(1)) if ref else len(row)  # type: ignore[union-attr]
            if column > len(row):
                row.extend([None] * (column - len(row)))
            value = self._value(cell)
            formula = cell.find(NS + "f")
            if formula is not None:
                text = _formula_text(formula, ref or "", shared)
                if text:
                    value = Formula(text, value)
            row.append(value)
        return row

    def _value(self, cell: Element) -> Any:
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            found = cell.find(NS + "is")
            return "" if found is None else _text(found)
        raw = cell.findtext(NS + "v")
        if raw is None:
            return None
        if kind == "s":
            return self._strings[int(raw)]
        if kind in ("str", "e"):
            return raw
        if kind == "b":
            return raw.strip() in ("1", "true")
        if kind == "d":
            return dt.datetime.fromisoformat(raw)
        try:
            number = Decimal(raw)
        except InvalidOperation:
            return raw
        if int(cell.get("s", "0")) in self._date_styles:
            return from_excel(float(number))
        return number

    def _link(
        self,
        element: Element,
        rels: dict[str, tuple[str, str]],
        sheet: Sheet,
        positions: dict[int, int],
    ) -> None:
        rel = rels.get(element.get(REL_NS + "id", ""))
        match = _COORD.match(element.get("ref", ""))  # a range keeps its top-left cell's link
        if rel is None or not match or not match.group(2):
            return
        row = positions.get(int(match.group(2)))
        if row is not None:
            sheet.links[(row, column_index(match.group(1)))] = rel[1]


def _elements(source: IO[bytes]) -> Iterator[Element]:
    try:
        for _event, element in iterparse(source, events=("end",)):
            yield element
    except ParseError as exc:
        raise NotAWorkbook(str(exc)) from None


def _parse(data: bytes) -> Element:
    return fromstring(data)


def _text(element: Element) -> str:
    """A string item's text: plain <t>, or the runs <r><t>; phonetic hints (<rPh>) skipped."""
    parts = []
    for child in element:
        if child.tag == NS + "t":
            parts.append(child.text or "")
        elif child.tag == NS + "r":
            parts.extend(t.text or "" for t in child.iter(NS + "t"))
    return "".join(parts)


def _formula_text(formula: Element, ref: str, shared: dict[str, tuple[str, str]]) -> str:
    """The formula of a cell, translating a shared formula from its master cell."""
    text = formula.text or ""
    if formula.get("t") == "shared":
        key = formula.get("si", "")
        if text:
            shared[key] = ("=" + text, ref)
            return "=" + text
        if key in shared:
            master, origin = shared[key]
            return str(Translator(master, origin=origin).translate_formula(ref))
        return ""
    return "=" + text if text else ""
