"""Invoice documents for simulators: a real multi-page PDF (fpdf2) and CSV text."""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

# Fixed so that the same invoice always renders to the same bytes (archives dedupe by sha256).
PDF_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
_LATIN1_FALLBACKS = {"—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...",
                     "€": "EUR", "•": "*", "\u00a0": " "}  # fmt: skip


@dataclass(frozen=True)
class DocumentLine:
    label: str
    amount: Decimal
    detail: str = ""  # a secondary column (group, hours, period)


@dataclass(frozen=True)
class InvoiceDocument:
    """What an invoice PDF shows, in any provider's words."""

    issuer: str
    issuer_address: tuple[str, ...]
    number: str
    period_label: str
    issued: dt.date
    bill_to: tuple[str, ...]
    sections: tuple[tuple[str, tuple[DocumentLine, ...]], ...]  # (heading, lines) summary tables
    total: Decimal
    currency: str = "USD"
    due: dt.date | None = None
    details: tuple[DocumentLine, ...] = ()  # the itemized breakdown, after the summary
    notes: tuple[str, ...] = field(default=())


def latin1(text: str) -> str:
    """Text the PDF core fonts can draw: Latin-1 kept, accents stripped, the rest replaced."""
    if text.isascii():
        return text
    out = []
    for char in text:
        if char in _LATIN1_FALLBACKS:
            out.append(_LATIN1_FALLBACKS[char])
            continue
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def money_text(amount: Decimal, symbol: str = "$") -> str:
    """'$3.11', '-$10.00', '$1,234.50'."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount):,.2f}"


def render_pdf(doc: InvoiceDocument) -> bytes:
    pdf = FPDF(format="letter")
    pdf.set_creation_date(PDF_EPOCH)
    pdf.set_title(latin1(f"{doc.issuer} Invoice {doc.number}"))
    pdf.set_author(latin1(doc.issuer))
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    _header(pdf, doc)
    for heading, lines in doc.sections:
        _table(pdf, heading, lines, doc.currency)
    pdf.ln(2)
    pdf.set_font("helvetica", "B", 12)
    pdf.cell(150, 8, "Total due", new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.cell(
        0,
        8,
        latin1(f"{money_text(doc.total)} {doc.currency}"),
        align="R",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    for note in doc.notes:
        pdf.set_font("helvetica", "", 8)
        pdf.multi_cell(0, 4, latin1(note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if doc.details:
        pdf.add_page()
        _details(pdf, doc.details)
    return bytes(pdf.output())


def _header(pdf: FPDF, doc: InvoiceDocument) -> None:
    pdf.set_font("helvetica", "B", 20)
    pdf.cell(0, 10, latin1(doc.issuer), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 9)
    for line in doc.issuer_address:
        pdf.cell(0, 4.5, latin1(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(0, 8, "Invoice", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 10)
    facts = [
        ("Invoice number", doc.number),
        ("Billing period", doc.period_label),
        ("Date of issue", doc.issued.isoformat()),
    ]
    if doc.due:
        facts.append(("Due date", doc.due.isoformat()))
    for label, value in facts:
        pdf.cell(40, 5.5, f"{label}:", new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.cell(0, 5.5, latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font("helvetica", "B", 10)
    pdf.cell(0, 5.5, "Bill to", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 10)
    for line in doc.bill_to:
        pdf.cell(0, 5, latin1(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def _table(
    pdf: FPDF, heading: str, lines: Sequence[DocumentLine], currency: str, small: bool = False
) -> None:
    size, height = (8, 4.2) if small else (10, 5.5)
    pdf.set_font("helvetica", "B", size + 1)
    pdf.cell(0, height + 1.5, latin1(heading), border="B", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", size)
    for line in lines:
        pdf.cell(110, height, latin1(line.label)[:80], new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.cell(45, height, latin1(line.detail)[:36], new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.cell(0, height, money_text(line.amount), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def _details(pdf: FPDF, lines: Sequence[DocumentLine]) -> None:
    """The itemized pages, drawn with plain text calls: ten times cheaper than cells."""
    pdf.set_font("helvetica", "B", 10)
    pdf.cell(0, 7, "Detailed usage", border="B", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 8)
    left, right, step = pdf.l_margin, pdf.w - pdf.r_margin, 4.2
    y = pdf.get_y() + step
    bottom = pdf.h - pdf.b_margin
    for line in lines:
        if y > bottom:
            pdf.add_page()
            y = pdf.t_margin + step
        pdf.text(left, y, latin1(line.label)[:80])
        pdf.text(left + 120, y, latin1(line.detail)[:30])
        amount = money_text(line.amount)
        pdf.text(right - pdf.get_string_width(amount), y, amount)
        y += step


def render_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """CSV text with \\n line ends, quoting only where needed (as DigitalOcean writes it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
