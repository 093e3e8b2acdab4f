"""A PDF's extracted fields as ledger rows: Provider `PDF`, Account = supplier (empty when no
label names it: never a placeholder a filter or a bill export would take for a supplier)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from api.core.categories import categorize
from api.core.document import PdfInvoice, PdfLine, line_targets, lines_agree
from api.core.model import Invoice, LineItem
from api.core.money import total

PROVIDER = "PDF"
UNKNOWN_SUPPLIER = "Unknown supplier"  # archive folder and bill supplier of a PDF with no supplier
STATUS = "Received"
CREDIT_STATUS = "Credit note"
TAX = "Tax"
TAX_DESCRIPTION = "Tax, as printed on the invoice"
NOT_ITEMISED = "Not itemised"


def pdf_key(sha256: str) -> str:
    return f"pdf:{sha256}"


def pdf_rows(
    pdf: PdfInvoice, *, sha256: str, synced_at: dt.datetime | None = None
) -> tuple[Invoice, tuple[LineItem, ...]]:
    """The Invoices row and Line Items rows of one inbox PDF (pure).

    A total the PDF did not state stays empty (the `missing` columns), and the Review column
    lists every field to check. Period is the invoice date's `YYYY-MM` ('' when undated).
    """
    key = pdf_key(sha256)
    account = pdf.supplier  # empty when no label named it; Review says "supplier not found"
    period = f"{pdf.invoice_date:%Y-%m}" if pdf.invoice_date else ""
    currency = pdf.currency

    def line(n: int, item: PdfLine, product: str = "", category: str = "") -> LineItem:
        negative = item.amount < 0
        return LineItem(
            provider=PROVIDER, account=account, invoice_id=pdf.invoice_id, invoice_key=key,
            period=period, position=n, product=product or item.description[:80],
            category=category or categorize(item.description, amount_negative=negative),
            description=item.description, amount=item.amount, currency=currency,
            quantity=item.quantity, unit_price=item.unit_price,
        )  # fmt: skip

    read = [line(n, item) for n, item in enumerate(pdf.lines, start=1)]
    read_total = total(item.amount for item in read) if read else None
    targets = line_targets(pdf.net, pdf.tax, pdf.total)
    reconciled = None
    if read_total is not None and targets:
        reconciled = lines_agree(read_total, targets, currency)
    added = [line(len(read) + n, PdfLine(description, amount), product, category)
             for n, (product, category, description, amount)
             in enumerate(balancing_lines(pdf, read_total), start=1)]  # fmt: skip
    lines = tuple(read + added)
    lines_total = total(item.amount for item in lines) if lines else None
    invoice = Invoice(
        provider=PROVIDER, account=account, invoice_id=pdf.invoice_id, key=key, period=period,
        status=CREDIT_STATUS if pdf.credit_note else STATUS, currency=currency,
        total=pdf.total if pdf.total is not None else Decimal(0),
        invoice_date=pdf.invoice_date, due_date=pdf.due_date, product_charges=pdf.net,
        taxes=pdf.tax, line_count=len(lines), lines_total=lines_total, reconciled=reconciled,
        synced_at=synced_at, pdf_total=pdf.total, review="; ".join(pdf.review),
        missing=frozenset({"Total"} if pdf.total is None else ()),
    )  # fmt: skip
    return invoice, lines


def balancing_lines(
    pdf: PdfInvoice, read_total: Decimal | None
) -> list[tuple[str, str, str, Decimal]]:
    """Line Items rows (product, category, description, amount) that make an inbox invoice's
    lines add up to its printed total, as a provider's lines do (DigitalOcean and DoiT bill tax
    as a line): the printed tax when the lines read are before tax, and one "not itemised" row
    when no line could be read. Lines that match no printed amount get nothing: Review names
    them, and a made-up difference would hide the fault."""
    tax = pdf.tax if pdf.tax else None  # None or 0: no tax line
    if pdf.net is not None:
        before_tax: Decimal | None = pdf.net
    else:
        before_tax = pdf.total - (tax or 0) if pdf.total is not None else None
    if read_total is None:
        if before_tax is None:
            return []
        rows = [(NOT_ITEMISED, "", f"{NOT_ITEMISED}: no line item could be read from the PDF",
                 before_tax)]  # fmt: skip
        return rows + ([(TAX, TAX, TAX_DESCRIPTION, tax)] if tax is not None else [])
    if tax is None or before_tax is None:
        return []
    if lines_agree(read_total, [(before_tax, "before tax")], pdf.currency):
        return [(TAX, TAX, TAX_DESCRIPTION, tax)]
    return []
