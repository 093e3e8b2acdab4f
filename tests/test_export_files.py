"""What an export says of each file it archived (bills, CSV lines, total per currency), checked
against what the import validators of tests/export_rules.py read back from that very file."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from api.archive.folder import FolderStore
from api.core.model import Invoice, LedgerBatch, LineItem
from api.exports import ExportFile, export_month
from api.ledger.workbook.ledger import WorkbookLedger
from tests.export_rules import validate_qbo, validate_xero
from tests.report_samples import ledger_batch

Figures = tuple[int, int, dict[str, Decimal]]


def described(path: Path, bills: dict[str, tuple[str, Decimal]]) -> Figures:
    """(bills, CSV lines, currency -> total) of a file, from the validator's reading of it."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in bills.values():
        totals[currency] += amount
    lines = len(path.read_text("utf-8").splitlines()) - 1
    return len(bills), lines, dict(totals)


def figures(file: ExportFile) -> Figures:
    return file.bills, file.lines, dict(file.totals)


def test_each_currency_is_totalled_apart_and_a_left_out_credit_is_not_counted(
    tmp_path: Path,
) -> None:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(ledger_batch())  # February: USD, EUR and GBP invoices, one a GBP credit note
    store = FolderStore(tmp_path / "archive")
    exports = tmp_path / "archive" / "Exports"

    xero = export_month(sink, store, "xero", "2026-02", workdir=tmp_path / "tmp")
    qbo = export_month(sink, store, "qbo", "2026-02", date_format="iso", workdir=tmp_path / "tmp")

    (xero_file,) = xero.files
    xero_bills = validate_xero((exports / "2026-02 xero.csv").read_text("utf-8"))
    assert figures(xero_file) == described(exports / "2026-02 xero.csv", xero_bills)
    assert set(xero_file.totals) == {"USD", "EUR", "GBP"} and xero.bills == 4
    (qbo_file,) = qbo.files
    qbo_bills = validate_qbo((exports / "2026-02 qbo.csv").read_text("utf-8"), "iso")
    assert figures(qbo_file) == described(exports / "2026-02 qbo.csv", qbo_bills)
    assert "IN503" not in qbo_bills and qbo_file.bills == 3 and qbo.bills == 4
    assert qbo.date_format == "iso" and xero.date_format == "dmy"


def test_past_500_bills_each_xero_file_describes_its_own_bills(tmp_path: Path) -> None:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(many_invoices(501))
    store = FolderStore(tmp_path / "archive")

    made = export_month(sink, store, "xero", "2026-03", workdir=tmp_path / "tmp")

    assert [f.name for f in made.files] == ["2026-03 xero.csv", "2026-03 xero 2.csv"]
    for file in made.files:
        path = tmp_path / "archive" / "Exports" / file.name
        assert figures(file) == described(path, validate_xero(path.read_text("utf-8")))
    assert [f.bills for f in made.files] == [500, 1] and made.bills == 501


def many_invoices(count: int) -> LedgerBatch:
    invoices, lines = [], []
    for n in range(count):
        key = f"doit:acme:B{n:04d}"
        amount = Decimal(n % 97) + Decimal("0.25")
        invoice = Invoice(
            provider="doit", account="acme", invoice_id=f"B{n:04d}", key=key, period="2026-03",
            status="Paid", currency="USD", total=amount, invoice_date=dt.date(2026, 3, 31),
            due_date=dt.date(2026, 4, 14), line_count=1, lines_total=amount,
        )  # fmt: skip
        invoices.append(invoice)
        lines.append(LineItem(
            provider="doit", account="acme", invoice_id=invoice.invoice_id, invoice_key=key,
            period="2026-03", position=1, product="Looker", category="Platform",
            description="seats", amount=amount, currency="USD",
        ))  # fmt: skip
    return LedgerBatch(invoices=tuple(invoices), lines=tuple(lines))


def test_the_message_counts_bills_in_words(tmp_path: Path) -> None:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(many_invoices(1))
    store = FolderStore(tmp_path / "archive")

    made = export_month(sink, store, "qbo", "2026-03", workdir=tmp_path / "tmp")

    assert "2026-03: 1 bill in " in made.message(), made.message()
