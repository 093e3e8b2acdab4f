"""Small factories of ledger values for the contract suites: realistic, exact, a little hostile."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

from api.core.model import (
    BOOLEAN_COLUMNS,
    DATE_COLUMNS,
    DATETIME_COLUMNS,
    INTEGER_COLUMNS,
    LINK_COLUMNS,
    MONEY_COLUMNS,
    Invoice,
    LedgerBatch,
    LineItem,
    RunCounts,
    RunRecord,
)
from api.ledger import link_text

TYPED_COLUMNS = MONEY_COLUMNS | DATE_COLUMNS | DATETIME_COLUMNS | INTEGER_COLUMNS | BOOLEAN_COLUMNS
SYNCED = dt.datetime(2026, 11, 21, 9, 30, 15, tzinfo=dt.UTC)


def invoice(number: int = 1, **changes: Any) -> Invoice:
    period = changes.pop("period", f"2026-{number:02d}")
    base = Invoice(
        provider="digitalocean", account="Acme Team", invoice_id=f"INV-{1000 + number}",
        key=f"digitalocean:uuid-{number}", period=period, status="Paid", currency="USD",
        total=Decimal("123.45"), invoice_date=dt.date(2026, number % 12 + 1, 1),
        due_date=dt.date(2026, number % 12 + 1, 15), product_charges=Decimal("130.00"),
        overages=Decimal("0.00"), taxes=Decimal("3.45"), credits=Decimal("-10.00"),
        balance_due=Decimal("0.00"), line_count=3, lines_total=Decimal("123.45"),
        reconciled=True, pdf=f"file:///srv/archive/DigitalOcean/{period} INV-{1000 + number}.pdf",
        source_url="https://cloud.digitalocean.com/account/billing", synced_at=SYNCED,
    )  # fmt: skip
    return replace(base, **changes)


def lines(inv: Invoice, count: int = 3, **changes: Any) -> tuple[LineItem, ...]:
    return tuple(
        replace(
            LineItem(
                provider=inv.provider, account=inv.account, invoice_id=inv.invoice_id,
                invoice_key=inv.key, period=inv.period, position=position,
                product="Droplets", category="Compute", description=f"web-{position} (s-1vcpu-1gb)",
                amount=Decimal("41.15"), currency=inv.currency, group="prod", project="Shop",
                resource_id=str(4000 + position), resource_uuid=f"res-{position}",
                start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                end=dt.datetime(2026, 1, 31, 23, 59, 59, tzinfo=dt.UTC),
                duration=Decimal("744"), unit="Hours", quantity=Decimal("744"),
                unit_price=Decimal("0.05531"),
            ),
            **changes,
        )
        for position in range(1, count + 1)
    )  # fmt: skip


def batch(*invoices: Invoice, line_count: int = 3, removed: tuple[str, ...] = ()) -> LedgerBatch:
    return LedgerBatch(
        invoices=invoices,
        lines=tuple(line for inv in invoices for line in lines(inv, line_count)),
        removed=removed,
    )


def run(number: int = 1, **changes: Any) -> RunRecord:
    started = SYNCED + dt.timedelta(hours=number)
    base = RunRecord(
        id=f"run-{number}", connection="acme", trigger="cli", status="succeeded",
        started=started, finished=started + dt.timedelta(seconds=42),
        counts=RunCounts(new=2, updated=1, unchanged=5, line_items=9), message="2 new, 1 updated",
    )  # fmt: skip
    return replace(base, **changes)


def expected(value: Invoice | LineItem | RunRecord) -> dict[str, Any]:
    """What a sink's rows() returns for a value: its row(), links shown as their text, an
    empty text cell as ''."""
    row = value.row()
    for column, cell in row.items():
        if column in LINK_COLUMNS:
            row[column] = link_text(cell or "")
        elif cell is None and column not in TYPED_COLUMNS:
            row[column] = ""
    return row


def project(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """Only the ledger's own columns of each row (a user's extra columns set aside)."""
    return [{name: row.get(name) for name in columns} for row in rows]
