"""The .xlsx package around the sheets: workbook, relationships, content types, properties."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO
from xml.sax.saxutils import escape, quoteattr

from api.ledger.workbook.xlsx_write import (
    APPLICATION,
    NS_EXT,
    NS_MAIN,
    NS_PKG,
    NS_REL,
    STYLES,
    XML_HEAD,
    SheetWriter,
    naive_utc,
    rels_xml,
)
from api.ledger.workbook.xlsx_zip import ZipWriter

NS_CORE = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"


class BookWriter:
    """A whole package: `start(n)`, n sheets in order (streamed or copied raw), `close()`.

    [Content_Types].xml goes first (file-type sniffers look there), the workbook part last
    (it names each sheet's autofilter range, known once the sheet is written).
    """

    def __init__(self, file: BinaryIO, now: dt.datetime, base: Path | None = None) -> None:
        """`base`: the folder the workbook is saved in (file links are written relative to it)."""
        self._zip = ZipWriter(file)
        self._now = naive_utc(now).replace(microsecond=0).isoformat() + "Z"
        self._base = base
        self._sheets: list[tuple[str, str | None]] = []  # (title, autofilter range)
        self._titled: set[int] = set()  # sheets whose header row repeats on every printed page
        self._count = 0
        self._extra: list[tuple[str, str]] = []

    def start(self, count: int, *, parts: Sequence[tuple[str, str]] = ()) -> None:
        """Begin the package of `count` sheets; `parts` are extra (part path, content type)
        pairs the sheets will add with `write_part` (a drawing and its chart)."""
        self._count = count
        self._extra = list(parts)
        self._zip.write("[Content_Types].xml", self._content_types())
        self._zip.write(
            "_rels/.rels",
            rels_xml([
                ("rId1", f"{NS_REL}/officeDocument", "xl/workbook.xml", False),
                ("rId2", f"{NS_PKG}/metadata/core-properties", "docProps/core.xml", False),
                ("rId3", f"{NS_REL}/extended-properties", "docProps/app.xml", False),
            ]),
        )  # fmt: skip
        self._zip.write("docProps/app.xml", (
            f'{XML_HEAD}<Properties xmlns="{NS_EXT}"><Application>'
            f"{APPLICATION}</Application></Properties>"
        ).encode())  # fmt: skip
        self._zip.write("docProps/core.xml", self._core())
        self._zip.write("xl/styles.xml", STYLES)

    def sheet(
        self, *, widths: Sequence[float] = (), frozen: bool = False, printable: bool = False
    ) -> SheetWriter:
        """Start the next sheet; finish it with `end_sheet` before starting another."""
        entry = self._zip.stream(self._part(len(self._sheets) + 1))
        return SheetWriter(
            entry, widths=widths, frozen=frozen, printable=printable, base=self._base
        )

    def end_sheet(self, title: str, sheet: SheetWriter, *, filter_columns: int = 0,
                  print_header: bool = False) -> None:  # fmt: skip
        """`print_header`: row 1 repeats at the top of every printed page."""
        ref = sheet.close(filter_columns=filter_columns)
        self._add(title, ref, sheet.rels(), print_header)

    def copy_sheet(
        self,
        title: str,
        source: int,
        info: zipfile.ZipInfo,
        rels: bytes | None,
        ref: str | None,
        *,
        print_header: bool = False,
    ) -> None:
        """A sheet of a file in our own dialect, copied without reading its rows."""
        self._zip.copy_raw(self._part(len(self._sheets) + 1), source, info)
        self._add(title, ref, rels, print_header)

    def write_part(self, name: str, data: bytes) -> None:
        """Another package part (announced in `start`), e.g. xl/charts/chart1.xml."""
        self._zip.write(name, data)

    def close(self) -> None:
        count = len(self._sheets)
        if count != self._count:
            raise ValueError(f"{count} sheets written, {self._count} announced")
        self._zip.write("xl/workbook.xml", self._workbook())
        self._zip.write(
            "xl/_rels/workbook.xml.rels",
            rels_xml(
                [(f"rId{i}", f"{NS_REL}/worksheet", f"worksheets/sheet{i}.xml", False)
                 for i in range(1, count + 1)]
                + [(f"rId{count + 1}", f"{NS_REL}/styles", "styles.xml", False)]
            ),
        )  # fmt: skip
        self._zip.close()

    def _part(self, number: int) -> str:
        return f"xl/worksheets/sheet{number}.xml"

    def _add(
        self, title: str, ref: str | None, rels: bytes | None, print_header: bool = False
    ) -> None:
        if print_header:
            self._titled.add(len(self._sheets))
        self._sheets.append((title, ref))
        if rels is not None:
            self._zip.write(f"xl/worksheets/_rels/sheet{len(self._sheets)}.xml.rels", rels)

    def _workbook(self) -> bytes:
        sheets = "".join(f'<sheet name={quoteattr(title)} sheetId="{i}" r:id="rId{i}"/>'
                         for i, (title, _ref) in enumerate(self._sheets, 1))  # fmt: skip
        names = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
            f"{escape(quote_sheet(title))}!{absolute(ref)}</definedName>"
            for i, (title, ref) in enumerate(self._sheets) if ref
        ) + "".join(
            f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">'
            f"{escape(quote_sheet(title))}!$1:$1</definedName>"
            for i, (title, _ref) in enumerate(self._sheets) if i in self._titled
        )  # fmt: skip
        return (
            f'{XML_HEAD}<workbook xmlns="{NS_MAIN}" xmlns:r="{NS_REL}"><workbookPr/>'
            f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheets}</sheets>'
            + (f"<definedNames>{names}</definedNames>" if names else "")
            + '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
        ).encode()

    def _content_types(self) -> bytes:
        main = "application/vnd.openxmlformats-officedocument"
        package = "application/vnd.openxmlformats-package"
        overrides = [("/xl/workbook.xml", f"{main}.spreadsheetml.sheet.main+xml"),
                     ("/xl/styles.xml", f"{main}.spreadsheetml.styles+xml"),
                     ("/docProps/core.xml", f"{package}.core-properties+xml"),
                     ("/docProps/app.xml", f"{main}.extended-properties+xml")]  # fmt: skip
        overrides += [(f"/{self._part(i)}", f"{main}.spreadsheetml.worksheet+xml")
                      for i in range(1, self._count + 1)]  # fmt: skip
        overrides += [(f"/{name}", kind) for name, kind in self._extra]
        return (
            f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Default Extension="rels" ContentType="{package}.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            + "".join(
                f'<Override PartName="{name}" ContentType="{kind}"/>' for name, kind in overrides
            )
            + "</Types>"
        ).encode()

    def _core(self) -> bytes:
        return (
            f'{XML_HEAD}<cp:coreProperties xmlns:cp="{NS_CORE}" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:creator>{APPLICATION}</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{self._now}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{self._now}</dcterms:modified>'
            "</cp:coreProperties>"
        ).encode()


def quote_sheet(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def absolute(ref: str) -> str:
    """A1:V3 -> $A$1:$V$3 (a defined name's range)."""
    return ":".join(re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", part) for part in ref.split(":"))
