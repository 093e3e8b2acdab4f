"""Reconciliation: does an invoice's stated total equal the sum of its lines?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from api.core.model import Invoice, LineItem
from api.core.money import minor_unit, total


def reconcile(invoice: Invoice, lines: Sequence[LineItem]) -> Invoice:
    """Return the invoice with its line count, lines total and Reconciled flag filled in.

    Reconciled means the lines in the invoice's currency add up to its total within one
    minor unit (0.01 for USD). Lines in another currency are never summed into it: an
    invoice with such lines is reconciled only if those are absent or zero.
    """
    same = [line.amount for line in lines if line.currency == invoice.currency]
    foreign = [line.amount for line in lines if line.currency != invoice.currency]
    lines_total = total(same)
    tolerance = max(minor_unit(invoice.currency), Decimal("0.01"))
    ok = abs(lines_total - invoice.total) <= tolerance and not any(foreign)
    return replace(invoice, line_count=len(lines), lines_total=lines_total, reconciled=ok)


def reconcile_pdf(invoice: Invoice, pdf_total: Decimal | None, pdf_currency: str) -> Invoice:
    """Three-way reconciliation of an API invoice: its summary total, the sum of its lines
    (already set by `reconcile`) and the total printed on its PDF, within one minor unit.

    Returns the invoice with `pdf_total` set, `reconciled` True only if every source that is
    known agrees, and each disagreement named in `review` ("PDF 2150.00 ≠ summary 2140.00
    (+10.00)"). A PDF in another currency is never compared; it is named instead.
    """
    notes = [invoice.review] if invoice.review else []
    if pdf_total is None:
        notes.append("PDF total not found")
        return replace(invoice, review="; ".join(notes))
    if pdf_currency and pdf_currency != invoice.currency:
        notes.append(f"PDF is in {pdf_currency}, the invoice in {invoice.currency}")
        return replace(invoice, pdf_total=pdf_total, reconciled=False, review="; ".join(notes))
    tolerance = max(minor_unit(invoice.currency), Decimal("0.01"))
    sources = {"summary": invoice.total, "lines": invoice.lines_total, "PDF": pdf_total}
    known = {name: value for name, value in sources.items() if value is not None}
    disagreements = [
        f"{name} {value} ≠ summary {invoice.total} ({value - invoice.total:+})"
        for name, value in known.items()
        if name != "summary" and abs(value - invoice.total) > tolerance
    ]
    ok = not disagreements and invoice.reconciled is not False
    return replace(
        invoice, pdf_total=pdf_total, reconciled=ok, review="; ".join(notes + disagreements)
    )
