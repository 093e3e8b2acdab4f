"""What an export says of each file it archived (bills, CSV lines, total per currency), checked
against what the import validators of tests/export_rules.py read back from that very file."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from api.archive.folder import FolderStore
from api.core.model import Connection, Invoice, LedgerBatch, LineItem
from api.exports import ExportFile, export_month
from api.ledger.workbook.ledger import WorkbookLedger
from tests.export_rules import validate_qbo, validate_xero
from tests.report_samples import SPARSE, ledger_batch

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
    assert "IN503" not in qbo_bills and qbo_file.bills == 3 and qbo.bills == 3
    assert ": 3 bills in " in qbo.message(), qbo.message()  # the file's bills, not the invoices
    assert qbo.date_format == "iso" and xero.date_format == "dmy"


def test_past_500_bills_each_xero_file_describes_its_own_bills(tmp_path: Path) -> None:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(many_invoices(501))
    store = FolderStore(tmp_path / "archive")

    made = export_month(sink, store, "xero", "2026-03", workdir=tmp_path / "tmp")

    assert [f.name for f in made.files] == ["2026-03 xero 1 of 2.csv", "2026-03 xero 2 of 2.csv"]
    for file in made.files:
        path = tmp_path / "archive" / "Exports" / file.name
        assert figures(file) == described(path, validate_xero(path.read_text("utf-8")))
    assert [f.bills for f in made.files] == [500, 1] and made.bills == 501


def many_invoices(count: int, account: str = "acme") -> LedgerBatch:
    invoices, lines = [], []
    for n in range(count):
        key = f"doit:{account}:B{n:04d}"
        amount = Decimal(n % 97) + Decimal("0.25")
        invoice = Invoice(
            provider="doit", account=account, invoice_id=f"B{n:04d}", key=key, period="2026-03",
            status="Paid", currency="USD", total=amount, invoice_date=dt.date(2026, 3, 31),
            due_date=dt.date(2026, 4, 14), line_count=1, lines_total=amount,
        )  # fmt: skip
        invoices.append(invoice)
        lines.append(LineItem(
            provider="doit", account=account, invoice_id=invoice.invoice_id, invoice_key=key,
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


def csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


def with_tab(path: Path, name: str, rows: list[list[Any]]) -> None:
    """The bookkeeper adds a tab in a spreadsheet app (openpyxl stands in)."""
    book = openpyxl.load_workbook(path)
    sheet = book[name] if name in book.sheetnames else book.create_sheet(name)
    for row in rows:
        sheet.append(row)
    book.save(path)


def test_a_later_export_never_passes_for_part_of_an_earlier_one(tmp_path: Path) -> None:
    """The whole ledger (two files), then one connection's 6 bills: three names, and the first
    export's files are left as they were."""
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(many_invoices(495))
    sink.write(many_invoices(6, "globex"))
    store = FolderStore(tmp_path / "archive")
    exports = tmp_path / "archive" / "Exports"
    globex = Connection("globex-doit", "doit", "globex", secret_ref="", fingerprint="")

    whole = export_month(sink, store, "xero", "2026-03", workdir=tmp_path / "tmp")
    before = {f.name: (exports / f.name).read_bytes() for f in whole.files}
    one = export_month(sink, store, "xero", "2026-03", connection=globex, workdir=tmp_path / "t")

    assert list(before) == ["2026-03 xero 1 of 2.csv", "2026-03 xero 2 of 2.csv"]
    assert [(f.name, f.bills) for f in one.files] == [("2026-03 globex-doit xero.csv", 6)]
    assert {f.name: (exports / f.name).read_bytes() for f in whole.files} == before
    assert sorted(p.name for p in exports.iterdir()) == sorted([*before, one.files[0].name])


def test_a_mapped_xero_tax_type_is_on_every_line_of_its_category(tmp_path: Path) -> None:
    """Accounts: Compute -> 6100 / GST on Expenses. Invoice 1001 (January) has two taxed
    Compute lines, a taxed Storage line and an untaxed credit."""
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(ledger_batch())
    with_tab(sink.path, "Accounts", [
        ["Category", "Xero Account Code", "Xero Tax Type", "QBO Account", "QBO Tax Code"],
        ["Compute", "6100", "GST on Expenses", "", ""],
        ["Credit", "", "BAS Excluded", "", ""],
    ])  # fmt: skip
    store = FolderStore(tmp_path / "archive")

    made = export_month(sink, store, "xero", "2026-01", workdir=tmp_path / "tmp")

    path = tmp_path / "archive" / "Exports" / made.files[0].name
    rows = {r["Description"]: r for r in csv_rows(path) if r["*InvoiceNumber"] == "1001"}
    got = {d: (r["*AccountCode"], r["*TaxType"], r["TaxAmount"]) for d, r in rows.items()}
    assert got["Droplets: web-01"][:2] == got["Droplets: web-02"][:2] == ("6100", "GST on Expenses")
    assert got["Droplets: web-01"][2] and got["Droplets: web-02"][2]  # both carry part of the tax
    assert got["Spaces: assets"][1:] != (
        "Tax Exempt",
        "",
    )  # unmapped and taxed: Xero's default name
    assert got["Spaces: assets"][1] == "Tax on Purchases"
    # A mapped type on a line without tax says 0, or Xero would compute tax at its rate.
    assert got["Credits: Promo credit"][1:] == ("BAS Excluded", "0.00")
    assert validate_xero(path.read_text("utf-8"))["1001"] == ("USD", Decimal("96.19"))


def test_amounts_use_the_currencys_minor_unit(tmp_path: Path) -> None:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(ledger_batch(SPARSE))  # JPY in February, KWD (3 decimals) in March
    store = FolderStore(tmp_path / "archive")
    exports = tmp_path / "archive" / "Exports"

    for period in ("2026-02", "2026-03"):
        export_month(sink, store, "xero", period, workdir=tmp_path / "tmp")
        export_month(sink, store, "qbo", period, workdir=tmp_path / "tmp")

    xero = {r["*InvoiceNumber"]: r for p in ("2026-02", "2026-03")
            for r in csv_rows(exports / f"{p} xero.csv")}  # fmt: skip
    qbo = {r["Bill no."]: r for p in ("2026-02", "2026-03")
           for r in csv_rows(exports / f"{p} qbo.csv")}  # fmt: skip
    assert (xero["JP2"]["*UnitAmount"], xero["JP2"]["TaxAmount"]) == ("180000", "18000")
    assert qbo["JP2"]["Line Amount"] in ("180000", "18000")
    assert xero["KW3"]["*UnitAmount"] == qbo["KW3"]["Line Amount"] == "12.345"
    assert xero["2002"]["*UnitAmount"] == qbo["2002"]["Line Amount"] == "50.00"


def test_the_message_gives_local_paths_and_each_out_copy(tmp_path: Path) -> None:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(many_invoices(501))
    store = FolderStore(tmp_path / "my archive")
    out = tmp_path / "not yet" / "bills.csv"  # its folder is made

    made = export_month(sink, store, "xero", "2026-03", out=out, workdir=tmp_path / "tmp")

    archived = [tmp_path / "my archive" / "Exports" / f.name for f in made.files]
    copies = [out.with_name("bills 1 of 2.csv"), out.with_name("bills 2 of 2.csv")]
    assert [a.read_bytes() for a in archived] == [c.read_bytes() for c in copies]
    text = made.message()
    assert "file:" not in text and "%20" not in text, text
    assert all(str(path) in text for path in [*archived, *copies]), text
    assert "file://" in sink.rows("Runs")[-1]["Message"]  # the Runs row keeps the links


def test_each_warning_is_said_once_per_export(tmp_path: Path) -> None:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(many_invoices(501))
    with_tab(sink.path, "Clients", [["Match", "Client", "Billable", "Markup %"],
                                    ["product: Looker", "", "yes", ""]])  # fmt: skip
    store = FolderStore(tmp_path / "archive")

    made = export_month(sink, store, "xero", "2026-03", workdir=tmp_path / "tmp")

    (note,) = made.notes
    assert "Client is empty" in note and made.message().count(note) == 1
    assert note not in made.summary() and len(made.files) == 2


def test_no_text_cell_of_either_file_can_run_as_a_formula(tmp_path: Path) -> None:
    """A PDF's sender chooses its supplier and invoice number; a person types client names."""
    from api.reports import refresh
    from tests.test_reports_workbook import with_rules

    hostile = "@SUM(1+1)*cmd|' /C calc'!A0"
    batch = many_invoices(1)
    invoice = replace(batch.invoices[0], provider="PDF", account=hostile, invoice_id="-2+3")
    line = replace(batch.lines[0], provider="PDF", account=hostile, invoice_id="-2+3",
                   description="=HYPERLINK(\"http://x\")")  # fmt: skip
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(LedgerBatch(invoices=(invoice,), lines=(line,)))
    refresh(sink)  # the Clients tab
    with_rules(sink.path, [{"Match": "*", "Client": "+Acme", "Billable": "yes", "Markup %": ""}])
    store = FolderStore(tmp_path / "archive")

    for fmt in ("xero", "qbo"):
        made = export_month(sink, store, fmt, "2026-03", workdir=tmp_path / "tmp")
        (file,) = made.files
        path = tmp_path / "archive" / "Exports" / file.name
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        cells = [value for row in rows for value in row.values() if value]
        assert rows and hostile[1:] in " ".join(cells), "the text is kept, only defused"
        assert not [c for c in cells if c[0] in "=+@" or (c[0] == "-" and not _number(c))], fmt


def _number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def test_text_in_a_total_or_amount_cell_is_named_by_its_row(tmp_path: Path) -> None:
    from api.errors import ConfigError

    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(many_invoices(3))
    book = openpyxl.load_workbook(sink.path)
    for tab, column, row, value in (("Invoices", "Total", 3, "n/a"),
                                    ("Line Items", "Amount", 4, "abc")):  # fmt: skip
        sheet = book[tab]
        at = [cell.value for cell in sheet[1]].index(column) + 1
        sheet.cell(row=row, column=at, value=value)
    book.save(sink.path)
    store = FolderStore(tmp_path / "archive")

    with pytest.raises(ConfigError) as refused:
        export_month(sink, store, "xero", "2026-03", workdir=tmp_path / "tmp")

    said = str(refused.value)
    assert "Invoices row 3 has Total 'n/a', not a number" in said
    assert "Line Items row 4 has Amount 'abc', not a number" in said
    assert not (tmp_path / "archive" / "Exports").exists(), "nothing half-exported"


def test_an_export_that_changed_its_split_replaces_its_older_set(tmp_path: Path) -> None:
    """527 bills -> '1 of 2' + '2 of 2'; the month then fits one file: the two parts go, and
    the other scopes' files of that month stay."""
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(many_invoices(501))
    store = FolderStore(tmp_path / "archive")
    exports = tmp_path / "archive" / "Exports"
    export_month(sink, store, "xero", "2026-03", workdir=tmp_path / "tmp")
    other = export_month(sink, store, "qbo", "2026-03", workdir=tmp_path / "tmp")
    assert sorted(p.name for p in exports.iterdir()) == [
        "2026-03 qbo.csv", "2026-03 xero 1 of 2.csv", "2026-03 xero 2 of 2.csv"]  # fmt: skip

    sink.write(LedgerBatch(removed=tuple(i.key for i in many_invoices(501).invoices[1:])))
    made = export_month(sink, store, "xero", "2026-03", workdir=tmp_path / "tmp")

    assert [f.name for f in made.files] == ["2026-03 xero.csv"]
    assert sorted(p.name for p in exports.iterdir()) == ["2026-03 qbo.csv", "2026-03 xero.csv"]
    assert store.export_names() == ["2026-03 qbo.csv", "2026-03 xero.csv"]
    assert other.files[0].name == "2026-03 qbo.csv"

    sink.write(many_invoices(501))
    export_month(sink, store, "xero", "2026-03", workdir=tmp_path / "tmp")
    assert sorted(p.name for p in exports.iterdir()) == [
        "2026-03 qbo.csv", "2026-03 xero 1 of 2.csv", "2026-03 xero 2 of 2.csv"]  # fmt: skip
