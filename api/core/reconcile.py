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
