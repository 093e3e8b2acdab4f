"""The workbook ledger's own promises: typed cells, no formulas, kept user edits, atomic saves."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from api.adapters.workbook import WorkbookLedger
from api.adapters.workbook_cells import DATE_FORMAT, DATETIME_FORMAT, MONEY_FORMAT
from api.core.model import INVOICE_COLUMNS, LINE_COLUMNS, LedgerBatch
from api.errors import SinkError
from tests.contract.samples import batch, expected, invoice, lines, project, run

HOSTILE = ["=1+2", '=HYPERLINK("https://evil.example","click")', "+1", "-1", "@SUM(A1)"]


@pytest.fixture
def sink(tmp_path: Path) -> WorkbookLedger:
    return WorkbookLedger(tmp_path / "ledger.xlsx")


def column(sheet: openpyxl.worksheet.worksheet.Worksheet, name: str) -> int:
    return next(cell.column for cell in sheet[1] if cell.value == name)


def test_provider_text_is_never_a_formula_in_the_file(sink: WorkbookLedger) -> None:
    inv = invoice(1, invoice_id="=HYPERLINK(1)", account="+team")
    pairs = zip(lines(inv, 5), HOSTILE, strict=True)
    items = tuple(replace(line, description=text) for line, text in pairs)
    sink.write(LedgerBatch(invoices=(inv,), lines=items))
    sink.append_run(run(1, message="=1/0"))

    with zipfile.ZipFile(sink.path) as package:
        sheets = [n for n in package.namelist() if n.startswith("xl/worksheets/sheet")]
        xml = b"".join(package.read(name) for name in sheets)
    assert len(sheets) == 3
    assert b"<f>" not in xml and b"<f " not in xml
    book = openpyxl.load_workbook(sink.path)
    described = book["Line Items"]
    cells = [row[column(described, "Description") - 1] for row in described.iter_rows(min_row=2)]
    assert [(c.value, c.data_type) for c in cells] == [(text, "s") for text in HOSTILE]
    assert [r["Description"] for r in sink.rows("Line Items")] == HOSTILE


def test_cells_are_typed_and_formatted(sink: WorkbookLedger) -> None:
    one, two = invoice(1), invoice(2, reconciled=False)
    sink.write(batch(one, two))

    book = openpyxl.load_workbook(sink.path)
    assert book.sheetnames == ["Invoices", "Line Items", "Runs"]
    sheet = book["Invoices"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:V3"
    assert [c.value for c in sheet[1]] == list(INVOICE_COLUMNS) and sheet["A1"].font.b
    row = {name: sheet.cell(row=2, column=column(sheet, name)) for name in INVOICE_COLUMNS}
    assert (row["Total"].value, row["Total"].number_format) == (123.45, MONEY_FORMAT)
    assert row["Invoice Date"].is_date and row["Invoice Date"].number_format == DATE_FORMAT
    assert row["Synced At"].number_format == DATETIME_FORMAT
    assert row["Synced At"].value == one.synced_at.replace(tzinfo=None)  # naive UTC in the file
    assert (row["Period"].value, row["Period"].data_type) == ("2026-01", "s")
    assert row["Reconciled"].data_type == "b" and row["Reconciled"].value is True
    assert row["PDF"].value == "2026-01 INV-1001.pdf" and row["PDF"].hyperlink.target == one.pdf
    assert row["CSV"].value is None and row["Line Items"].value == 3
    assert sheet.column_dimensions["H"].width >= 10

    lines_sheet = book["Line Items"]
    line = {name: lines_sheet.cell(row=2, column=column(lines_sheet, name))
            for name in LINE_COLUMNS}  # fmt: skip
    assert line["Quantity"].number_format == "General" and line["Quantity"].value == 744
    assert line["Amount"].number_format == MONEY_FORMAT and line["Start"].is_date
    assert lines_sheet.freeze_panes == "A2" and lines_sheet.auto_filter.ref == "A1:U7"
    assert sink.rows("Invoices")[1]["Reconciled"] is False


def test_user_columns_rows_and_tabs_survive_a_sync(sink: WorkbookLedger) -> None:
    one, two = invoice(1), invoice(2)
    sink.write(batch(one, two))
    book = openpyxl.load_workbook(sink.path)
    sheet = book["Invoices"]
    sheet.cell(row=1, column=23, value="Approved by")
    sheet.cell(row=3, column=23, value="Dana")  # invoice two
    lines_sheet = book["Line Items"]
    lines_sheet.cell(row=1, column=22, value="Client")
    lines_sheet.cell(row=5, column=22, value="Globex")  # invoice two, line 1
    budget = book.create_sheet("Budget")
    budget.append(["Month", "Budget"])
    budget.append(["2026-01", 150])
    budget.append(["Total", "=SUM(B2:B2)"])
    book.save(sink.path)

    paid = replace(two, status="Refunded", total=Decimal("0.00"))
    sink.write(LedgerBatch(invoices=(paid, invoice(3)), lines=lines(paid) + lines(invoice(3))))

    rows = sink.rows("Invoices")
    assert [(r["Invoice Key"], r["Status"], r["Approved by"]) for r in rows] == [
        (one.key, "Paid", None), (two.key, "Refunded", "Dana"), (invoice(3).key, "Paid", None),
    ]  # fmt: skip
    clients = [(r["Line Key"], r["Client"]) for r in sink.rows("Line Items") if r["Client"]]
    assert clients == [(f"{two.key}#1", "Globex")]
    after = openpyxl.load_workbook(sink.path)
    assert after.sheetnames == ["Invoices", "Line Items", "Runs", "Budget"]
    assert [[c.value for c in r] for r in after["Budget"].iter_rows()] == [
        ["Month", "Budget"], ["2026-01", 150], ["Total", "=SUM(B2:B2)"],
    ]  # fmt: skip
    assert after["Invoices"]["W3"].value == "Dana"


def test_a_failed_write_leaves_the_old_ledger_intact(sink: WorkbookLedger) -> None:
    sink.write(batch(invoice(1)))
    before = sink.path.read_bytes()
    broken = lines(invoice(2), 300)
    broken = broken[:-1] + (replace(broken[-1], amount=complex(1, 2)),)  # the very last cell

    with pytest.raises(TypeError):
        sink.write(LedgerBatch(invoices=(invoice(2),), lines=broken))

    assert sink.path.read_bytes() == before
    left = sorted(p.name for p in sink.path.parent.iterdir())
    assert left == [".ledger.xlsx.lock", "ledger.xlsx"]  # no half-written temp file
    assert project(sink.rows("Invoices"), INVOICE_COLUMNS) == [expected(invoice(1))]


def test_a_file_that_is_not_a_workbook_is_never_overwritten(sink: WorkbookLedger) -> None:
    sink.path.write_bytes(b"my own notes, saved under the wrong name")

    with pytest.raises(SinkError) as raised:
        sink.write(batch(invoice(1)))

    assert str(sink.path) in str(raised.value) and "Move or rename" in str(raised.value)
    assert sink.path.read_bytes() == b"my own notes, saved under the wrong name"
    with pytest.raises(SinkError):
        sink.rows("Invoices")


def test_a_run_on_a_new_ledger_creates_all_tabs(sink: WorkbookLedger) -> None:
    sink.append_run(run(1))

    assert openpyxl.load_workbook(sink.path).sheetnames == ["Invoices", "Line Items", "Runs"]
    assert sink.rows("Invoices") == [] and len(sink.rows("Runs")) == 1
    assert sink.rows("No such tab") == []


def test_a_few_thousand_lines_round_trip(sink: WorkbookLedger) -> None:
    invoices = [invoice(n, key=f"digitalocean:{n}") for n in range(1, 16)]
    sink.write(batch(*invoices, line_count=200))
    preview = invoice(16, key="digitalocean:preview:2026-11", status="Preview", period="2026-11")
    sink.write(batch(preview, line_count=50))

    read = sink.rows("Line Items")
    assert len(read) == 15 * 200 + 50
    assert read[-1] == expected(lines(preview, 50)[-1])
    assert read[0] == expected(lines(invoices[0], 200)[0])


@pytest.mark.skipif(not os.environ.get("BILLSYNC_SLOW_TESTS"), reason="set BILLSYNC_SLOW_TESTS=1")
def test_48k_lines_write_and_rewrite_in_bounded_memory(tmp_path: Path) -> None:
    """The benchmark's ledger: 120 invoices x 400 lines, written, then rewritten by a sync."""
    script = f"""
import resource, time
from tests.contract.samples import batch, invoice, run
from api.adapters.workbook import WorkbookLedger
sink = WorkbookLedger(__import__("pathlib").Path({str(tmp_path / "ledger.xlsx")!r}))
invoices = [invoice(n, key=f"digitalocean:{{n}}") for n in range(1, 121)]
start = time.perf_counter(); sink.write(batch(*invoices, line_count=400))
written = time.perf_counter(); sink.write(batch(invoices[-1], line_count=401))
rewritten = time.perf_counter(); sink.append_run(run(1))
appended = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(f"write {{written - start:.1f}} s, rewrite {{rewritten - written:.1f}} s, "
      f"append_run {{appended - rewritten:.1f}} s, peak RSS {{rss}} MB")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=Path(__file__).parent.parent, timeout=600, check=True)  # fmt: skip
    print(result.stdout)
    rss = int(result.stdout.rsplit("peak RSS ", 1)[1].split()[0])
    assert rss < 200
    rows = openpyxl.load_workbook(tmp_path / "ledger.xlsx", read_only=True)["Line Items"]
    assert sum(1 for _ in rows.iter_rows(values_only=True)) == 1 + 119 * 400 + 401
