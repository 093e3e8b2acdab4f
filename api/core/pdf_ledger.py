"""A PDF's extracted fields as ledger rows: Provider `PDF`, Account = supplier (empty when no
label names it: never a placeholder a filter or a bill export would take for a supplier)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from api.core.categories import categorize
from api.core.document import PdfInvoice, line_targets, lines_agree
from api.core.model import Invoice, LineItem
from api.core.money import total

PROVIDER = "PDF"
UNKNOWN_SUPPLIER = "Unknown supplier"  # archive folder and bill supplier of a PDF with no supplier
STATUS = "Received"
CREDIT_STATUS = "Credit note"


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
    lines = tuple(
        LineItem(
            provider=PROVIDER,
            account=account,
            invoice_id=pdf.invoice_id,
            invoice_key=key,
            period=period,
            position=n,
            product=line.description[:80],
            category=categorize(line.description, amount_negative=line.amount < 0),
            description=line.description,
            amount=line.amount,
            currency=currency,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )  # fmt: skip
        for n, line in enumerate(pdf.lines, start=1)
    )
    lines_total = total(line.amount for line in lines) if lines else None
    targets = line_targets(pdf.net, pdf.tax, pdf.total)
    reconciled = None
    if lines_total is not None and targets:
        reconciled = lines_agree(lines_total, targets, currency)
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
