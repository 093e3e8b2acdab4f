"""Three-way reconciliation of API invoices: summary, lines and the total printed on the PDF."""

from __future__ import annotations

from decimal import Decimal

import pytest

from api import connections
from api.core.model import Invoice
from api.core.reconcile import reconcile_pdf
from api.factory import Services
from api.simulators.digitalocean import DEMO_TOKEN


def invoice(total: str, lines_total: str | None, currency: str = "USD") -> Invoice:
    return Invoice(
        provider="DigitalOcean", account="Acme", invoice_id="INV-1", key="digitalocean:1",
        period="2026-10", status="Issued", currency=currency, total=Decimal(total),
        lines_total=None if lines_total is None else Decimal(lines_total),
        reconciled=lines_total is not None and Decimal(lines_total) == Decimal(total),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("summary", "lines", "pdf", "pdf_currency", "ok", "review"),
    [
        ("100.00", "100.00", "100.00", "USD", True, ""),
        ("100.00", "100.00", "100.01", "USD", True, ""),  # within one minor unit
        ("100.00", "100.00", "101.50", "USD", False, "PDF 101.50 ≠ summary 100.00 (+1.50)"),
        ("100.00", "99.00", "100.00", "USD", False, "lines 99.00 ≠ summary 100.00 (-1.00)"),
        ("100.00", "98.00", "97.00", "", False,
         "lines 98.00 ≠ summary 100.00 (-2.00); PDF 97.00 ≠ summary 100.00 (-3.00)"),
        ("100.00", "100.00", "100.00", "EUR", False, "PDF is in EUR, the invoice in USD"),
        ("100.00", "100.00", None, "", None, "PDF total not found"),
    ],
)  # fmt: skip
def test_each_disagreeing_source_is_named_with_its_difference(
    summary: str,
    lines: str,
    pdf: str | None,
    pdf_currency: str,
    ok: bool | None,
    review: str,
) -> None:
    before = invoice(summary, lines)

    after = reconcile_pdf(before, None if pdf is None else Decimal(pdf), pdf_currency)

    assert after.review == review
    assert after.reconciled is (before.reconciled if ok is None else ok)
    assert after.pdf_total == (None if pdf is None else Decimal(pdf))


def connect(services: Services, **options: object) -> None:
    connections.connect(
        state=services.state, secrets=services.secrets, providers=services.provider,
        provider="digitalocean", name="acme", token=DEMO_TOKEN,
        options={"include_preview": False, **options},
    )  # fmt: skip


def test_a_connection_that_opts_in_gets_each_pdf_total_reconciled(services: Services) -> None:
    connect(services, extract_pdf=True)

    run = services.engine.sync("acme")

    assert run.status == "succeeded", run.message
    rows = services.sink.rows("Invoices")
    assert rows and all(row["PDF Total"] == row["Total"] for row in rows)
    assert all(row["Reconciled"] is True and row["Review"] == "" for row in rows)


def test_without_the_option_no_pdf_is_read(services: Services) -> None:
    connect(services)

    services.engine.sync("acme")

    rows = services.sink.rows("Invoices")
    assert rows and all(row["PDF Total"] is None for row in rows)
