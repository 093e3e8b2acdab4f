"""The workbook's Summary tab (values and a stacked column chart), its Clients tab, and the
Client/Billable cells the allocation rules set on Line Items rows.

The chart is a DrawingML chart part (ECMA-376 Part 1, 21.2 "DrawingML - Charts") anchored in
a drawing part beside the tables; its series are references to the Summary's own cells, so
Excel and LibreOffice draw it from the values next to it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from api.core.allocation import CLIENT_COLUMNS
from api.core.model import ALLOCATION_COLUMNS, LINE_KEY_COLUMN
from api.core.summary import Placed, Table, place
from api.core.text import column_letter
from api.ledger.workbook.cells import encoder, money_style
from api.ledger.workbook.tabs import CHART_TYPES, TabEdit
from api.ledger.workbook.xlsx_package import BookWriter, quote_sheet
from api.ledger.workbook.xlsx_raw import RawRow
from api.ledger.workbook.xlsx_read import column_index
from api.ledger.workbook.xlsx_write import (
    NS_REL,
    PERCENT,
    XML_HEAD,
    Encoder,
    SheetWriter,
    any_cell,
    number_cell,
    rels_xml,
    text_cell,
)

SUMMARY_TAB = "Summary"
CLIENTS_TAB = "Clients"
DRAWING, CHART = tuple(CHART_TYPES)
NS_CHART = "http://schemas.openxmlformats.org/drawingml/2006/chart"
NS_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
NS_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
Allocations = Mapping[str, tuple[str, bool]]  # Line Key -> (Client, Billable)


class SummarySheet:
    """`Generated` writer of the Summary tab: the tables stacked, the chart to their right."""

    replace = True

    def __init__(self, tables: Sequence[Table]) -> None:
        self.placed = place(tables)
        self.chart = next((p for p in self.placed if p.table.chart and p.table.rows), None)
        self.parts: tuple[str, ...] = (DRAWING, CHART) if self.chart else ()
        self.width = max((len(p.table.header) for p in self.placed), default=1)

    def write(self, book: BookWriter) -> None:
        sheet = book.sheet(widths=[14] * self.width)
        for placed in self.placed:
            table = placed.table
            sheet.header([table.title])
            sheet.header(list(table.header))
            encoders = [_MONEY if name in table.money else _percent if name in table.percent
                        else any_cell for name in table.header]  # fmt: skip
            for row in table.rows:
                sheet.money_style = money_style(table.row_currency(row))  # its minor unit
                sheet.row(list(row), encoders)
            sheet.row([], [])
        if self.chart is not None:
            sheet.drawing = DRAWING
        book.end_sheet(SUMMARY_TAB, sheet)
        if self.chart is not None:
            book.write_part(DRAWING, drawing_xml(self.width + 1, self.chart))
            folder, name = DRAWING.rsplit("/", 1)
            chart_rel = ("rId1", f"{NS_REL}/chart", f"/{CHART}", False)
            book.write_part(f"{folder}/_rels/{name}.rels", rels_xml([chart_rel]))
            book.write_part(CHART, chart_xml(self.chart))


_MONEY: Encoder = encoder("Amount")


def _percent(sheet: SheetWriter, ref: str, value: Any) -> str:
    """A ratio (0.125) as a number cell shown as a percent ("12.5%")."""
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        return number_cell(ref, value, PERCENT)
    return any_cell(sheet, ref, value)


class ClientsSheet:
    """`Generated` writer of an empty Clients tab (its header only), when there is none."""

    replace = False
    parts: tuple[str, ...] = ()

    def write(self, book: BookWriter) -> None:
        sheet = book.sheet(widths=[36, 24, 10, 10], frozen=True)
        sheet.header(list(CLIENT_COLUMNS))
        book.end_sheet(CLIENTS_TAB, sheet, filter_columns=len(CLIENT_COLUMNS))


def allocation_edit(allocations: Allocations) -> TabEdit:
    """A Line Items edit that sets Client and Billable on the rows named by Line Key (adding
    the two columns at the end if missing); every other row is copied as it is."""

    def edit(header: list[str], rows: Iterator[Any]) -> Iterator[Any]:
        header.extend(name for name in ALLOCATION_COLUMNS if name not in header)
        key_at = header.index(LINE_KEY_COLUMN)
        client_at, billable_at = (header.index(name) for name in ALLOCATION_COLUMNS)
        return _edited(rows, allocations, len(header), key_at, client_at, billable_at)

    return edit


def _edited(
    rows: Iterator[Any], allocations: Allocations, width: int, key: int, client: int, billable: int
) -> Iterator[Any]:
    letters = (column_letter(client), column_letter(billable))
    for row in rows:
        change = allocations.get(row[key])
        if change is None:
            yield row
            continue
        if isinstance(row, RawRow) and billable == client + 1:
            patched = _patched(row, letters, client, change)
            if patched is not None:
                yield patched
                continue
        values = list(row.values() if isinstance(row, RawRow) else row)
        values += [None] * (width - len(values))
        values[client], values[billable] = change
        yield values


def _patched(
    row: RawRow, letters: tuple[str, str], client: int, change: tuple[str, bool]
) -> RawRow | None:
    """The row's XML with its Client and Billable cells replaced, without parsing the row
    (a first refresh sets them on every line). None when another cell follows them."""
    number = row.number
    body = row.xml[: -len(b"</row>")]
    for letter in letters:
        at = body.find(f'<c r="{letter}{number}"'.encode())
        if at >= 0:  # every cell we write ends with </c>; text inside is escaped
            body = body[:at] + body[body.index(b"</c>", at) + 4 :]
    last = body.rfind(b'<c r="')
    if last >= 0 and column_index(_letters(body[last + 6 : last + 10])) >= client:
        return None
    name, billable = change
    cells = text_cell(f"{letters[0]}{number}", name) if name else ""
    cells += f'<c r="{letters[1]}{number}" t="b"><v>{int(billable)}</v></c>'
    return RawRow(body + cells.encode() + b"</row>", number, row._sheet)


def _letters(ref: bytes) -> str:
    return "".join(chr(b) for b in ref if 65 <= b <= 90)


def drawing_xml(column: int, chart: Placed) -> bytes:
    """A drawing holding one chart frame, 10 columns wide and 20 rows tall, at `column`."""
    top = chart.top
    return (
        f'{XML_HEAD}<xdr:wsDr xmlns:xdr="{NS_XDR}" xmlns:a="{NS_A}"><xdr:twoCellAnchor>'
        f"<xdr:from><xdr:col>{column}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{top}</xdr:row>"
        "<xdr:rowOff>0</xdr:rowOff></xdr:from>"
        f"<xdr:to><xdr:col>{column + 10}</xdr:col><xdr:colOff>0</xdr:colOff>"
        f"<xdr:row>{top + 20}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
        '<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr>'
        '<xdr:cNvPr id="2" name="Monthly spend by category"/><xdr:cNvGraphicFramePr/>'
        '</xdr:nvGraphicFramePr><xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>'
        f'<a:graphic><a:graphicData uri="{NS_CHART}"><c:chart xmlns:c="{NS_CHART}" '
        f'xmlns:r="{NS_REL}" r:id="rId1"/></a:graphicData></a:graphic></xdr:graphicFrame>'
        "<xdr:clientData/></xdr:twoCellAnchor></xdr:wsDr>"
    ).encode()


# Each series gets its own fill: without one LibreOffice draws the bars empty (Google's chart
# palette, so the workbook and the Sheet's chart look alike).
_PALETTE = ("4285F4", "EA4335", "FBBC04", "34A853", "FF6D01", "46BDC6", "7BAAF7", "F07B72",
            "FCD04F", "71C287")  # fmt: skip


def chart_xml(chart: Placed) -> bytes:
    """A stacked column chart: months on the category axis, one series per category."""
    table = chart.table
    sheet = quote_sheet(SUMMARY_TAB)
    first, last = chart.first_row + 1, chart.end_row  # 1-based row numbers
    categories = f"{sheet}!$A${first}:$A${last}"
    series = []
    for order, name in enumerate(table.series):
        col = column_letter(table.header.index(name))
        series.append(
            f'<c:ser><c:idx val="{order}"/><c:order val="{order}"/>'
            f"<c:tx><c:strRef><c:f>{escape(sheet)}!${col}${chart.header_row + 1}</c:f></c:strRef>"
            f'</c:tx><c:spPr><a:solidFill><a:srgbClr val="{_PALETTE[order % len(_PALETTE)]}"/>'
            f"</a:solidFill></c:spPr><c:cat><c:strRef><c:f>{escape(categories)}</c:f></c:strRef>"
            "</c:cat>"
            f"<c:val><c:numRef><c:f>{escape(sheet)}!${col}${first}:${col}${last}</c:f>"
            "</c:numRef></c:val></c:ser>"
        )
    return (
        f'{XML_HEAD}<c:chartSpace xmlns:c="{NS_CHART}" xmlns:a="{NS_A}" xmlns:r="{NS_REL}">'
        f"<c:chart><c:title><c:tx><c:rich><a:bodyPr/><a:p><a:r><a:t>{escape(table.title)}"
        '</a:t></a:r></a:p></c:rich></c:tx><c:overlay val="0"/></c:title>'
        '<c:autoTitleDeleted val="0"/><c:plotArea><c:layout/><c:barChart><c:barDir val="col"/>'
        '<c:grouping val="stacked"/><c:varyColors val="0"/>'
        + "".join(series)
        + '<c:gapWidth val="50"/><c:overlap val="100"/><c:axId val="1001"/><c:axId val="1002"/>'
        '</c:barChart><c:catAx><c:axId val="1001"/><c:scaling><c:orientation val="minMax"/>'
        '</c:scaling><c:delete val="0"/><c:axPos val="b"/><c:tickLblPos val="nextTo"/>'
        '<c:crossAx val="1002"/><c:crosses val="autoZero"/><c:auto val="1"/>'
        '<c:lblAlgn val="ctr"/><c:lblOffset val="100"/></c:catAx><c:valAx><c:axId val="1002"/>'
        '<c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
        '<c:axPos val="l"/><c:majorGridlines/><c:numFmt formatCode="#,##0" sourceLinked="0"/>'
        '<c:tickLblPos val="nextTo"/><c:crossAx val="1001"/><c:crosses val="autoZero"/>'
        '<c:crossBetween val="between"/></c:valAx></c:plotArea><c:legend>'
        '<c:legendPos val="r"/><c:overlay val="0"/></c:legend><c:plotVisOnly val="1"/>'
        "</c:chart></c:chartSpace>"
    ).encode()
