"""Streaming .xlsx writing: rows as SpreadsheetML text straight into a zip entry, raw rows copied.

One fixed styles.xml serves every file billsync writes (the style ids below), strings are inline
(`t="inlineStr"`), so a row of a file we wrote stands on its own and can be copied byte for byte
into the next version of the file (only its row number changes).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from urllib.request import url2pathname
from xml.sax.saxutils import escape, quoteattr

from api.core.text import column_letter
from api.ledger.workbook.xlsx_read import Formula, Link
from api.ledger.workbook.xlsx_zip import EntryStream

HEADER, DATE, DATETIME, MONEY, UNIT_PRICE, LINK, QUOTED = 1, 2, 3, 4, 5, 6, 7  # cellXfs ids
# Appended, so older ids keep their meaning. A data cell's style id is one digit (row copying
# and the raw-row reader rely on it); HEADER_RIGHT is only ever in row 1.
MONEY_0, MONEY_3, HEADER_RIGHT = 8, 9, 10
PERCENT = 11  # a ratio shown as 12.5 %; only in the Summary, which is never read as raw rows
MONEY_FORMAT = "#,##0.00"  # built-in format 4
# Money shows its currency's minor unit (ISO 4217): JPY 0 decimals, USD 2, KWD 3; the two
# 4-digit units (CLF, UYW) take the unit-price format (2 to 8 decimals, as many as needed).
MONEY_STYLES = {0: MONEY_0, 2: MONEY, 3: MONEY_3, 4: UNIT_PRICE}
DATE_FORMAT, DATETIME_FORMAT = "yyyy-mm-dd", 'yyyy-mm-dd hh:mm:ss "UTC"'
UNIT_PRICE_FORMAT = "#,##0.00######"  # unit prices go down to fractions of a cent
FORMATS = {164: DATE_FORMAT, 165: DATETIME_FORMAT, 166: UNIT_PRICE_FORMAT, 167: "#,##0.000",
           168: "0.0%"}  # fmt: skip
_XF = '<xf numFmtId="{}" fontId="{}" fillId="0" borderId="0" xfId="0"{}/>'
_NUMBER = ' applyNumberFormat="1"'
_CELL_XFS = [
    _XF.format(0, 0, ""), _XF.format(0, 1, ' applyFont="1"'), _XF.format(164, 0, _NUMBER),
    _XF.format(165, 0, _NUMBER), _XF.format(4, 0, _NUMBER), _XF.format(166, 0, _NUMBER),
    _XF.format(0, 2, ' applyFont="1"'), _XF.format(0, 0, ' quotePrefix="1"'),
    _XF.format(3, 0, _NUMBER), _XF.format(167, 0, _NUMBER),
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" '
    'applyAlignment="1"><alignment horizontal="right"/></xf>',
    _XF.format(168, 0, _NUMBER),
]  # fmt: skip
APPLICATION = "billsync"  # docProps/app.xml; with STYLES it marks a file in our own dialect
STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    f'<numFmts count="{len(FORMATS)}">'
    + "".join(f'<numFmt numFmtId="{i}" formatCode={quoteattr(c)}/>' for i, c in FORMATS.items())
    + "</numFmts>"
    '<fonts count="3"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><u/><sz val="11"/><color rgb="FF0563C1"/><name val="Calibri"/><family val="2"/></font>'
    "</fonts>"
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    f'<cellXfs count="{len(_CELL_XFS)}">' + "".join(_CELL_XFS) + "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
).encode()
DATE_STYLES = frozenset({DATE, DATETIME})
NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_EXT = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_EPOCH_ORDINAL = dt.date(1899, 12, 30).toordinal()
# Characters XML 1.0 cannot hold (control characters, lone surrogates) are dropped; &, <, >, "
# and a carriage return (which XML parsers would turn into \n) are escaped; edge blanks kept.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPECIAL = re.compile('[&<>"\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|^\\s|\\s$')
_ENTITIES = {'"': "&quot;", "\r": "&#13;"}
_CELL_REF = re.compile(rb'(<c r="[A-Z]{1,3})\d+"')
_FLUSH = 1 << 20
# Ledger text repeats (provider, account, product, period...): each distinct string is escaped
# once. Bounded so a ledger of unique descriptions costs a few MB at most.
_TAILS: dict[str, str] = {}
_TAILS_MAX = 20_000

# An encoder turns (sheet, cell reference, value) into one <c> element ("" for an empty cell).
Encoder = Callable[["SheetWriter", str, Any], str]


def clean_text(text: str) -> str:
    return _ILLEGAL.sub("", text)


def text_cell(ref: str, text: str, style: int = 0) -> str:
    """A string cell; text that a spreadsheet could take for a formula is marked as text."""
    tail = _TAILS.get(text) if not style else None
    if tail is None:
        tail = _text_tail(text, style)
        if not style:
            if len(_TAILS) >= _TAILS_MAX:
                _TAILS.clear()
            _TAILS[text] = tail
    return f'<c r="{ref}"{tail}'


def _text_tail(text: str, style: int) -> str:
    space = ""
    if _SPECIAL.search(text):
        text = escape(_ILLEGAL.sub("", text), _ENTITIES)
        space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    if not style and text[:1] in ("=", "+", "-", "@"):
        style = QUOTED
    kind = f' s="{style}" t="inlineStr">' if style else ' t="inlineStr">'
    return f"{kind}<is><t{space}>{text}</t></is></c>"


def number_cell(ref: str, value: int | float | Decimal, style: int = 0) -> str:
    text = repr(value) if isinstance(value, float) else str(value)
    if text[-1] in "nNyf":  # nan, NaN, inf, Infinity: not numbers a spreadsheet stores
        return text_cell(ref, text)
    return (
        f'<c r="{ref}" s="{style}"><v>{text}</v></c>'
        if style
        else f'<c r="{ref}"><v>{text}</v></c>'
    )


def date_cell(ref: str, day: dt.date) -> str:
    return f'<c r="{ref}" s="{DATE}"><v>{day.toordinal() - _EPOCH_ORDINAL}</v></c>'


def datetime_cell(ref: str, moment: dt.datetime, *, seconds: bool = False) -> str:
    """A datetime as an Excel serial day number: UTC (xlsx has no time zones), to the second
    if `seconds`."""
    if moment.tzinfo is not None and moment.utcoffset():
        moment = moment.astimezone(dt.UTC)
    days = moment.toordinal() - _EPOCH_ORDINAL
    clock = moment.hour * 3600 + moment.minute * 60 + moment.second
    if moment.microsecond and not seconds:
        serial = repr(days + (clock + moment.microsecond / 1e6) / 86400)
    else:
        serial = repr(days + clock / 86400) if clock else str(days)
    return f'<c r="{ref}" s="{DATETIME}"><v>{serial}</v></c>'


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """xlsx has no time zones: an aware datetime is stored as naive UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def any_cell(sheet: SheetWriter, ref: str, value: Any) -> str:
    """Any value as its natural cell: text, number, boolean, date, link or formula."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return text_cell(ref, value)
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float | Decimal):
        return number_cell(ref, value)
    if isinstance(value, dt.datetime):
        return datetime_cell(ref, value)
    if isinstance(value, dt.date):
        return date_cell(ref, value)
    if isinstance(value, Link):
        return sheet.link_cell(ref, value)
    if isinstance(value, Formula):
        return formula_cell(ref, value)
    raise TypeError(f"a cell cannot hold a {type(value).__name__}")


def text_column(sheet: SheetWriter, ref: str, value: Any) -> str:
    """The encoder of a text column: a string as text, anything else as what it is."""
    if type(value) is str:
        return text_cell(ref, value) if value else ""
    return any_cell(sheet, ref, value)


def formula_cell(ref: str, formula: Formula) -> str:
    """A user's formula, with its last value when that is plain (the app recalculates it)."""
    body = f"<f>{escape(clean_text(formula.text[1:]), _ENTITIES)}</f>"
    cached = formula.cached
    if isinstance(cached, bool):  # LibreOffice saves TRUE/FALSE as the formulas TRUE()/FALSE()
        return f'<c r="{ref}" t="b">{body}<v>{int(cached)}</v></c>'
    if isinstance(cached, int | float | Decimal):
        inner = number_cell(ref, cached)
        if "<v>" in inner:
            return inner.replace("<v>", body + "<v>", 1)
    if isinstance(cached, str) and cached:
        return f'<c r="{ref}" t="str">{body}<v>{escape(clean_text(cached), _ENTITIES)}</v></c>'
    return f'<c r="{ref}">{body}</c>'


class SheetWriter:
    """One worksheet entry being streamed: header, rows (new or copied), then links and filter."""

    def __init__(
        self,
        entry: EntryStream,
        *,
        widths: Sequence[float] = (),
        frozen: bool,
        printable: bool = False,
        base: Path | None = None,
    ) -> None:
        """`printable`: landscape, fitted to one page wide (the header row repeats through the
        workbook's Print_Titles); `base`: the workbook's folder, which file links are made
        relative to (so the folder can be moved or shared)."""
        self._entry = entry
        self._parts: list[bytes] = []
        self._size = 0
        self.rows = 0
        self.links: list[tuple[str, str]] = []  # (cell reference, URL)
        self.money_style = MONEY  # of the row being written (its currency's minor unit)
        self._printable = printable
        self._base = base
        self.drawing = ""  # the part path of the sheet's drawing (a chart), if any
        self._letters = [column_letter(i) for i in range(64)]
        head = [XML_HEAD, f'<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_REL}">']
        if printable:
            head.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
        head.append('<sheetViews><sheetView workbookViewId="0">')
        if frozen:
            head.append('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>')  # fmt: skip
        head.append('</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>')
        if widths:
            head.append("<cols>")
            head.extend(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                        for i, w in enumerate(widths, 1))  # fmt: skip
            head.append("</cols>")
        head.append("<sheetData>")
        self._add("".join(head).encode())

    def header(self, names: Sequence[str], right: Sequence[bool] = ()) -> None:
        """The bold header row; a name whose `right` is true is right-aligned (over numbers)."""
        number = self._next_row()
        aligned = list(right) + [False] * (len(names) - len(right))
        cells = [text_cell(f"{self._letter(i)}{number}", clean_text(name),
                           HEADER_RIGHT if aligned[i] else HEADER)
                 for i, name in enumerate(names) if name]  # fmt: skip
        self._add(f'<row r="{number}">{"".join(cells)}</row>'.encode())

    def row(self, values: Sequence[Any], encoders: Sequence[Encoder]) -> None:
        number = str(self._next_row())
        letters = (
            self._letters if len(values) <= 64 else [column_letter(i) for i in range(len(values))]
        )
        cells = [f'<row r="{number}">']
        tails = _TAILS
        for letter, encode, value in zip(letters, encoders, values, strict=False):
            if value is None:
                continue
            if encode is text_column and type(value) is str:  # most cells: inlined for speed
                tail = tails.get(value)
                if tail is not None:
                    cells.append(f'<c r="{letter}{number}"{tail}')
                    continue
            cells.append(encode(self, letter + number, value))
        for index in range(len(encoders), len(values)):
            cells.append(any_cell(self, letters[index] + number, values[index]))
        cells.append("</row>")
        self._add("".join(cells).encode())

    def copy(self, xml: bytes, number: int) -> int:
        """Copy a row of a file in our own dialect (`<row r="N">...`); returns its new number."""
        new = self._next_row()
        if new != number:
            digits = str(new).encode()
            rest = xml[xml.index(b'"', 8) :]  # from the closing quote of r="N"
            if number >= 10:
                # Every '<number>"' left in the row ends a cell reference: our text never holds
                # a '"' (written as &quot;) and style ids are single digits.
                rest = rest.replace(b'%d"' % number, digits + b'"')
            else:
                rest = _CELL_REF.sub(lambda match: match.group(1) + digits + b'"', rest)
            xml = b'<row r="' + digits + rest
        self._add(xml)
        return new

    def link_cell(self, ref: str, link: Link) -> str:
        self.links.append((ref, link.url))
        if isinstance(link.text, str):
            return text_cell(ref, link.text or link.url, LINK)
        inner = any_cell(self, ref, link.text)
        return inner.replace(f'<c r="{ref}"', f'<c r="{ref}" s="{LINK}"', 1) if inner else ""

    def close(self, *, filter_columns: int = 0) -> str | None:
        """End the sheet, with an autofilter over the first `filter_columns` columns if any
        (and the drawing named by `self.drawing`, a part path); returns the autofilter's range
        (for the workbook's defined name)."""
        tail = ["</sheetData>"]
        ref = None
        if filter_columns and self.rows:
            ref = f"A1:{self._letter(filter_columns - 1)}{self.rows}"
            tail.append(f'<autoFilter ref="{ref}"/>')
        if self.links:
            tail.append("<hyperlinks>")
            tail.extend(f'<hyperlink ref="{cell}" r:id="rId{i}"/>'
                        for i, (cell, _url) in enumerate(self.links, 1))  # fmt: skip
            tail.append("</hyperlinks>")
        tail.append('<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" '
                    'footer="0.5"/>')  # fmt: skip
        if self._printable:  # fitToHeight 0: as many pages down as the rows need
            tail.append('<pageSetup orientation="landscape" fitToWidth="1" fitToHeight="0"/>')
        if self.drawing:  # after the links' rIds: rId{len(links) + 1}
            tail.append(f'<drawing r:id="rId{len(self.links) + 1}"/>')
        tail.append("</worksheet>")
        self._add("".join(tail).encode())
        self._flush()
        self._entry.close()
        return ref

    def rels(self) -> bytes | None:
        rels = [
            (f"rId{i}", f"{NS_REL}/hyperlink", relative_link(url, self._base), True)
            for i, (_cell, url) in enumerate(self.links, 1)
        ]
        if self.drawing:
            rels.append((f"rId{len(rels) + 1}", f"{NS_REL}/drawing", f"/{self.drawing}", False))
        return rels_xml(rels) if rels else None

    def _letter(self, index: int) -> str:
        return self._letters[index] if index < 64 else column_letter(index)

    def _next_row(self) -> int:
        self.rows += 1
        return self.rows

    def _add(self, data: bytes) -> None:
        self._parts.append(data)
        self._size += len(data)
        if self._size > _FLUSH:
            self._flush()

    def _flush(self) -> None:
        self._entry.write(b"".join(self._parts))
        self._parts, self._size = [], 0


def relative_link(url: str, base: Path | None) -> str:
    """A file: URL inside `base` as a relative path ('archive/2024/2024-03%201001.pdf'), which
    spreadsheet apps resolve against the workbook's own folder, so the folder can be moved or
    shared whole; a file outside it (or any other URL) stays as it is."""
    parts = urlsplit(url)
    if base is None or parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return url
    try:
        relative = os.path.relpath(url2pathname(parts.path), base)
    except ValueError:  # another drive (Windows): only an absolute link reaches it
        return url
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return url
    return quote(relative.replace(os.sep, "/"))


def rels_xml(rels: Iterable[tuple[str, str, str, bool]]) -> bytes:
    """A relationships part from (id, type, target, external) tuples."""
    items = [XML_HEAD, f'<Relationships xmlns="{NS_PKG}">']
    for rel_id, kind, target, external in rels:
        mode = ' TargetMode="External"' if external else ""
        items.append(f'<Relationship Id="{rel_id}" Type="{kind}" '
                     f"Target={quoteattr(clean_text(target))}{mode}/>")  # fmt: skip
    items.append("</Relationships>")
    return "".join(items).encode()
