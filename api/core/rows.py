"""Ledger rows read back (`LedgerSink.rows`) as model values, to rewrite an invoice in place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from api.core.model import Invoice, LineItem


def invoice_from_row(row: Mapping[str, Any]) -> Invoice:
    """An Invoices row (typed as LedgerSink.rows returns it) as an Invoice."""
    return Invoice(
        provider=_text(row, "Provider"), account=_text(row, "Account"),
        invoice_id=_text(row, "Invoice ID"), key=_text(row, "Invoice Key"),
        period=_text(row, "Period"), status=_text(row, "Status"),
        currency=_text(row, "Currency"), total=_money(row, "Total") or Decimal(0),
        invoice_date=_date(row.get("Invoice Date")), due_date=_date(row.get("Due Date")),
        product_charges=_money(row, "Product Charges"), overages=_money(row, "Overages"),
        taxes=_money(row, "Taxes"), credits=_money(row, "Credits & Adjustments"),
        balance_due=_money(row, "Balance Due"), line_count=int(row.get("Line Items") or 0),
        lines_total=_money(row, "Line Items Total"),
        reconciled=row.get("Reconciled") if isinstance(row.get("Reconciled"), bool) else None,
        pdf=_text(row, "PDF"), csv=_text(row, "CSV"), source_url=_text(row, "Source URL"),
        synced_at=row.get("Synced At"), pdf_total=_money(row, "PDF Total"),
        review=_text(row, "Review"),
        missing=frozenset({"Total"} if row.get("Total") is None else ()),
    )  # fmt: skip


def line_from_row(row: Mapping[str, Any]) -> LineItem:
    """A Line Items row as a LineItem; its position is the number after '#' in the Line Key."""
    position = int(_text(row, "Line Key").rpartition("#")[2] or 0)
    return LineItem(
        provider=_text(row, "Provider"), account=_text(row, "Account"),
        invoice_id=_text(row, "Invoice ID"), invoice_key=_text(row, "Invoice Key"),
        period=_text(row, "Period"), position=position, product=_text(row, "Product"),
        category=_text(row, "Category"), description=_text(row, "Description"),
        amount=_money(row, "Amount") or Decimal(0), currency=_text(row, "Currency"),
        group=_text(row, "Group"), project=_text(row, "Project"),
        resource_id=_text(row, "Resource ID"), resource_uuid=_text(row, "Resource UUID"),
        start=row.get("Start"), end=row.get("End"), duration=_money(row, "Duration"),
        unit=_text(row, "Unit"), quantity=_money(row, "Quantity"),
        unit_price=_money(row, "Unit Price"),
    )  # fmt: skip


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value)


def _money(row: Mapping[str, Any], name: str) -> Decimal | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def not_numbers(
    rows: Sequence[Mapping[str, Any]],
    column: str,
    tab: str,
    *,
    only: Callable[[Mapping[str, Any]], bool] = lambda row: True,
) -> list[str]:
    """A sentence per row whose `column` holds something other than a number (a person typed
    'n/a' in Amount): the sheet row number (the header is row 1) and the value, at most five
    rows named; `only` picks the rows that matter (one month's). [] when all are numbers."""
    bad = [(number, row.get(column)) for number, row in enumerate(rows, 2)
           if only(row) and row.get(column) not in (None, "")
           and not _finite(row.get(column))]  # fmt: skip
    said = [f"{tab} row {number} has {column} '{value}', not a number" for number, value in bad]
    if len(said) > 5:
        said = [*said[:5], f"and {len(said) - 5} more rows like it"]
    return said


def _finite(value: object) -> bool:
    return isinstance(value, Decimal | int | float) and not isinstance(value, bool) and (
        Decimal(str(value)).is_finite())  # fmt: skip
