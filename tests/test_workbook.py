"""The workbook ledger's own promises: typed cells, no formulas, kept user edits, atomic saves."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import time
import warnings
import zipfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest

from api.core.model import INVOICE_COLUMNS, LINE_COLUMNS, RUN_COLUMNS, LedgerBatch
from api.core.text import column_letter
from api.errors import SinkError
from api.ledger.workbook.cells import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    MONEY_FORMAT,
    UNIT_PRICE_FORMAT,
)
from api.ledger.workbook.ledger import WorkbookLedger
from tests.contract.samples import SYNCED, batch, expected, invoice, lines, project, run

LAST_INVOICE_COLUMN = column_letter(len(INVOICE_COLUMNS) - 1)

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
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:{LAST_INVOICE_COLUMN}3"
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

    assert str(sink.path) in str(raised.value) and "move it away" in str(raised.value)
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
    # periods 2026-01 .. 2026-15 (a made-up calendar): the preview comes after all of them
    preview = invoice(16, key="digitalocean:preview:2027-01", status="Preview", period="2027-01")
    sink.write(batch(preview, line_count=50))

    read = sink.rows("Line Items")
    assert len(read) == 15 * 200 + 50
    assert read[-1] == expected(lines(preview, 50)[-1])
    assert read[0] == expected(lines(invoices[0], 200)[0])


# -- the file itself: what Excel, LibreOffice and openpyxl see ------------------------------


def parts(path: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None  # every entry's CRC checks out
        return {info.filename: info for info in package.infolist()}


def test_the_package_opens_cleanly_with_every_part_well_formed(sink: WorkbookLedger) -> None:
    sink.write(batch(invoice(1), invoice(2)))
    sink.append_run(run(1))

    names = list(parts(sink.path))
    assert names[0] == "[Content_Types].xml"  # where file-type sniffers look
    with zipfile.ZipFile(sink.path) as package:
        for name in names:
            ElementTree.fromstring(package.read(name))  # raises on malformed XML
        workbook = package.read("xl/workbook.xml").decode()
    assert "'Line Items'!$A$1:$U$7</definedName>" in workbook  # LibreOffice needs the name
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # openpyxl warns about anything it does not understand
        book = openpyxl.load_workbook(sink.path)
    assert book.sheetnames == ["Invoices", "Line Items", "Runs"]
    assert book["Runs"].auto_filter.ref == "A1:J2" and book["Runs"].freeze_panes == "A2"


def test_formula_like_text_is_a_quoted_string_cell(sink: WorkbookLedger) -> None:
    inv = invoice(1)
    items = tuple(
        replace(line, description=text)
        for line, text in zip(lines(inv, 6), [*HOSTILE, "plain"], strict=True)
    )
    sink.write(LedgerBatch(invoices=(inv,), lines=items))

    sheet = openpyxl.load_workbook(sink.path)["Line Items"]
    at = column(sheet, "Description")
    cells = [sheet.cell(row=r, column=at) for r in range(2, 8)]
    # a string cell, and "quote prefix" so that editing it in Excel does not make it a formula
    assert [(c.value, c.data_type, c.quotePrefix) for c in cells] == [
        *[(text, "s", True) for text in HOSTILE], ("plain", "s", False),
    ]  # fmt: skip


def test_number_formats_and_values_read_back_with_openpyxl(sink: WorkbookLedger) -> None:
    inv = invoice(1, total=Decimal("-1234567.89"))
    paris = dt.timezone(dt.timedelta(hours=2))
    item = replace(lines(inv, 1)[0], unit_price=Decimal("0.000123"), quantity=Decimal("0.5"),
                   start=dt.datetime(2026, 1, 1, 3, 4, 5, 999_999, tzinfo=paris))  # fmt: skip
    sink.write(LedgerBatch(invoices=(inv,), lines=(item,)))

    book = openpyxl.load_workbook(sink.path)
    sheet, items = book["Invoices"], book["Line Items"]
    total = sheet.cell(row=2, column=column(sheet, "Total"))
    assert (total.value, total.number_format) == (-1234567.89, MONEY_FORMAT)
    price = items.cell(row=2, column=column(items, "Unit Price"))
    assert (price.value, price.number_format) == (0.000123, UNIT_PRICE_FORMAT)
    quantity = items.cell(row=2, column=column(items, "Quantity"))
    assert (quantity.value, quantity.number_format) == (0.5, "General")
    start = items.cell(row=2, column=column(items, "Start"))
    assert start.value == dt.datetime(2026, 1, 1, 1, 4, 5)  # UTC, to the second
    assert start.number_format == DATETIME_FORMAT
    assert sink.rows("Line Items")[0]["Start"] == dt.datetime(2026, 1, 1, 1, 4, 5, tzinfo=dt.UTC)


def test_characters_xml_cannot_hold_are_dropped_and_the_rest_round_trips(
    sink: WorkbookLedger,
) -> None:
    texts = ["bell\x07 and nul\x00", "lone \ud800 surrogate", "line\r\nbreak\ttab",
             "  padded  ", '27" monitor & <b>bold</b>', "\x1f"]  # fmt: skip
    inv = invoice(1, account="tab\there")
    items = tuple(
        replace(line, description=text) for line, text in zip(lines(inv, 6), texts, strict=True)
    )
    sink.write(LedgerBatch(invoices=(inv,), lines=items))

    read = [r["Description"] for r in sink.rows("Line Items")]
    assert read == ["bell and nul", "lone  surrogate", "line\r\nbreak\ttab", "  padded  ",
                    '27" monitor & <b>bold</b>', ""]  # fmt: skip
    sheet = openpyxl.load_workbook(sink.path)["Line Items"]
    at = column(sheet, "Description")
    assert [sheet.cell(row=r, column=at).value for r in range(2, 7)] == read[:5]
    assert sink.rows("Invoices")[0]["Account"] == "tab\there"


# -- rewrites of a file billsync wrote: rows copied as XML, renumbered ----------------------


def test_rows_that_move_keep_their_cells_and_hyperlinks(sink: WorkbookLedger) -> None:
    """Removing the first invoice moves every later row up: references, links follow."""
    invoices = [invoice(n) for n in range(1, 6)]
    items = [replace(line, description=f'{n * 4 + i}" screen, row {n * 4 + i}"')
             for n, inv in enumerate(invoices)
             for i, line in enumerate(lines(inv, 4), 2)]  # fmt: skip
    sink.write(LedgerBatch(invoices=tuple(invoices), lines=tuple(items)))
    sink.write(LedgerBatch(removed=(invoices[0].key,)))

    assert project(sink.rows("Invoices"), INVOICE_COLUMNS) == [expected(i) for i in invoices[1:]]
    assert project(sink.rows("Line Items"), LINE_COLUMNS) == [expected(i) for i in items[4:]]
    book = openpyxl.load_workbook(sink.path)
    sheet = book["Invoices"]
    pdf = column(sheet, "PDF")
    assert [sheet.cell(row=r, column=pdf).hyperlink.target for r in range(2, 6)] == [
        i.pdf for i in invoices[1:]
    ]
    assert sheet.auto_filter.ref == f"A1:{LAST_INVOICE_COLUMN}5"
    assert book["Line Items"].auto_filter.ref == f"A1:{column_letter(len(LINE_COLUMNS) - 1)}17"
    line_sheet = book["Line Items"]
    refs = [(c.coordinate, c.row) for row in line_sheet.iter_rows() for c in row]
    assert all(coordinate.endswith(str(row)) for coordinate, row in refs)


def test_append_run_copies_the_other_sheets_without_reencoding_them(
    sink: WorkbookLedger,
) -> None:
    sink.write(batch(invoice(1), invoice(2), line_count=50))
    before = parts(sink.path)
    with zipfile.ZipFile(sink.path) as package:
        old_xml = package.read("xl/worksheets/sheet2.xml")
    sink.append_run(run(1))
    sink.append_run(run(2))

    after = parts(sink.path)
    for name in ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"):
        assert (after[name].CRC, after[name].compress_size) == (
            before[name].CRC, before[name].compress_size,
        )  # fmt: skip
    with zipfile.ZipFile(sink.path) as package:
        assert package.read("xl/worksheets/sheet2.xml") == old_xml
    assert [r["Connection"] for r in sink.rows("Runs")] == ["acme", "acme"]
    book = openpyxl.load_workbook(sink.path)
    assert book["Invoices"]["S2"].hyperlink.target == invoice(1).pdf
    assert book["Runs"].auto_filter.ref == "A1:J3"


def test_user_columns_survive_rewrites_of_a_file_billsync_wrote(sink: WorkbookLedger) -> None:
    one, two, three = invoice(1), invoice(2), invoice(3)
    sink.write(batch(one, two, three))
    book = openpyxl.load_workbook(sink.path)  # the user adds columns and a link in Excel
    sheet, items = book["Invoices"], book["Line Items"]
    sheet.cell(row=1, column=23, value="Approved by")
    sheet.cell(row=3, column=23, value="Sam").hyperlink = "https://wiki.example/approvals/2"
    sheet.cell(row=4, column=23, value="Dana").hyperlink = "https://wiki.example/approvals/3"
    items.cell(row=1, column=22, value="Client")
    items.cell(row=5, column=22, value="Globex")  # invoice two, line 1
    items.cell(row=6, column=22, value=42)  # invoice two, line 2
    book.save(sink.path)
    sink.write(batch(two))  # the first sync after the user's save reads it cell by cell
    assert zipfile.ZipFile(sink.path).read("docProps/app.xml").count(b"billsync") == 1

    paid = replace(two, status="Refunded")
    sink.write(LedgerBatch(invoices=(paid,), lines=lines(paid, 2), removed=(one.key,)))

    rows = sink.rows("Invoices")
    assert [(r["Invoice Key"], r["Status"], r["Approved by"]) for r in rows] == [
        (two.key, "Refunded", "Sam"), (three.key, "Paid", "Dana"),
    ]  # fmt: skip
    assert [(r["Line Key"], r["Client"]) for r in sink.rows("Line Items")] == [
        (f"{two.key}#1", "Globex"), (f"{two.key}#2", Decimal(42)),
        *[(line.key, None) for line in lines(three)],
    ]  # fmt: skip
    after = openpyxl.load_workbook(sink.path)["Invoices"]
    assert [(c.value, c.hyperlink.target) for c in (after["W2"], after["W3"])] == [
        ("Sam", "https://wiki.example/approvals/2"),  # carried over to the replaced row
        ("Dana", "https://wiki.example/approvals/3"),  # moved up with its row
    ]
    assert after["S2"].hyperlink.target == two.pdf and after["S3"].hyperlink.target == three.pdf


def test_a_full_disk_mid_save_leaves_the_old_ledger_intact(tmp_path: Path) -> None:
    """The OS refuses to let the file grow (as on a full disk) while the new ledger is written."""
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(batch(invoice(1)))
    before = sink.path.read_bytes()
    script = f"""
import resource, signal, sys
from pathlib import Path
from api.ledger.workbook.ledger import WorkbookLedger
from api.errors import SinkError
from tests.contract.samples import batch, invoice
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) * 3}, {len(before) * 3}))
try:
    WorkbookLedger(Path({str(sink.path)!r})).write(batch(*[invoice(n) for n in range(2, 60)],
                                                         line_count=100))
except SinkError as exc:
    print(exc)
    sys.exit(3)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=Path(__file__).parent.parent, timeout=120, check=False)  # fmt: skip

    assert result.returncode == 3, result.stderr
    assert "could not be saved" in result.stdout and "left as it was" in result.stdout
    assert sink.path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ledger.xlsx.lock", "ledger.xlsx"]
    assert project(sink.rows("Invoices"), INVOICE_COLUMNS) == [expected(invoice(1))]


def test_a_writer_killed_mid_save_leaves_the_old_ledger_and_the_next_write_cleans_up(
    tmp_path: Path,
) -> None:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(batch(invoice(1)))
    before = sink.path.read_bytes()
    script = f"""
from pathlib import Path
from api.ledger.workbook.ledger import WorkbookLedger
from tests.contract.samples import batch, invoice
WorkbookLedger(Path({str(sink.path)!r})).write(batch(*[invoice(n) for n in range(2, 80)],
                                                     line_count=400))
"""
    writer = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parent.parent)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".ledger.xlsx.*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.002)
    finally:
        writer.kill()  # SIGKILL: no cleanup of any kind runs
        writer.wait()

    assert sink.path.read_bytes() == before
    assert len(list(tmp_path.glob(".ledger.xlsx.*.tmp"))) == 1  # what the killed writer left
    sink.append_run(run(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ledger.xlsx.lock", "ledger.xlsx"]
    assert project(sink.rows("Invoices"), INVOICE_COLUMNS) == [expected(invoice(1))]


def test_a_damaged_sheet_is_reported_and_the_file_left_alone(sink: WorkbookLedger) -> None:
    sink.write(batch(invoice(1), line_count=200))
    data = bytearray(sink.path.read_bytes())
    with zipfile.ZipFile(sink.path) as package:
        info = package.getinfo("xl/worksheets/sheet2.xml")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle] ^= 0xFF  # one flipped byte in the Line Items sheet's compressed data
    sink.path.write_bytes(bytes(data))

    for action in (lambda: sink.rows("Line Items"), lambda: sink.write(batch(invoice(2)))):
        with pytest.raises(SinkError) as raised:
            action()
        assert "damaged" in str(raised.value) and str(sink.path) in str(raised.value)
    assert sink.path.read_bytes() == bytes(data)


# -- files saved by older billsync versions, Excel or LibreOffice ----------------------------


FIXTURES = Path(__file__).parent / "fixtures"


def test_a_ledger_written_by_the_openpyxl_version_is_read_and_rewritten(
    sink: WorkbookLedger,
) -> None:
    """ledger_openpyxl_v1.xlsx: batch(invoice(1), invoice(2)) and run(1), as billsync wrote
    them with openpyxl before it had its own writer."""
    shutil.copy(FIXTURES / "ledger_openpyxl_v1.xlsx", sink.path)
    one, two = invoice(1), invoice(2)
    v1 = INVOICE_COLUMNS[: INVOICE_COLUMNS.index("Synced At") + 1]  # columns added later: absent
    assert project(sink.rows("Invoices"), v1) == [
        {name: expected(one)[name] for name in v1},
        {name: expected(two)[name] for name in v1},
    ]
    assert project(sink.rows("Line Items"), LINE_COLUMNS) == [
        expected(line) for line in lines(one) + lines(two)
    ]
    assert project(sink.rows("Runs"), RUN_COLUMNS) == [expected(run(1))]

    paid = replace(one, status="Refunded")
    sink.write(LedgerBatch(invoices=(paid, invoice(3)), lines=lines(paid, 2) + lines(invoice(3))))
    sink.write(LedgerBatch(removed=(two.key,)))  # the second rewrite copies rows as XML
    sink.append_run(run(2))

    assert project(sink.rows("Invoices"), INVOICE_COLUMNS) == [expected(paid), expected(invoice(3))]
    assert project(sink.rows("Line Items"), LINE_COLUMNS) == [
        expected(line) for line in lines(paid, 2) + lines(invoice(3))
    ]
    assert project(sink.rows("Runs"), RUN_COLUMNS) == [expected(run(1)), expected(run(2))]
    sheet = openpyxl.load_workbook(sink.path)["Invoices"]
    assert [sheet["S2"].hyperlink.target, sheet["S3"].hyperlink.target] == [one.pdf, invoice(3).pdf]


def test_a_workbook_saved_by_openpyxl_keeps_its_tabs_and_formulas(sink: WorkbookLedger) -> None:
    """What a user's script does: openpyxl's own styles, date formats, a tab with a formula."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    sheets = {"Invoices": INVOICE_COLUMNS, "Line Items": LINE_COLUMNS, "Runs": RUN_COLUMNS}
    for title, columns in sheets.items():
        book.create_sheet(title).append(list(columns))
    one = invoice(1)
    row = expected(one) | {"Synced At": SYNCED.replace(tzinfo=None)}
    book["Invoices"].append([row[name] for name in INVOICE_COLUMNS])
    book["Invoices"]["S2"].hyperlink = one.pdf
    for cell in book["Invoices"][2][5:7]:
        cell.number_format = "d-mmm-yy"  # a date format of the user's choosing
    book["Invoices"]["V2"].number_format = "yyyy-mm-dd h:mm"
    book.create_sheet("Notes").append(["Total", "=SUM(1,2)", dt.date(2026, 5, 1)])
    book.save(sink.path)
    assert project(sink.rows("Invoices"), INVOICE_COLUMNS) == [expected(one)]

    sink.write(batch(invoice(2)))

    assert project(sink.rows("Invoices"), INVOICE_COLUMNS) == [expected(one), expected(invoice(2))]
    after = openpyxl.load_workbook(sink.path)
    assert after.sheetnames == ["Invoices", "Line Items", "Runs", "Notes"]
    assert after["Invoices"]["S2"].hyperlink.target == one.pdf
    assert [c.value for c in after["Notes"][1]] == ["Total", "=SUM(1,2)", dt.datetime(2026, 5, 1)]


EXCEL_SHEET = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"
 xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"
 xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">
<dimension ref="A1:D3"/><sheetData>
<row r="1" spans="1:4" x14ac:dyDescent="0.25"><c r="A1" t="s"><v>0</v></c>
<c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row>
<row r="3" spans="1:4"><c r="A3" t="s"><v>4</v></c><c r="B3" s="2"><v>46023</v></c>
<c r="C3"><v>0.30000000000000004</v></c><c r="D3" t="str"><f>"x"&amp;"y"</f><v>xy</v></c></row>
</sheetData></worksheet>"""
EXCEL_STRINGS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="5" uniqueCount="5">
<si><t>Month</t></si><si><t>Day</t></si><si><t>Amount</t></si><si><t>Label</t></si>
<si><r><rPr><b/></rPr><t>Jan</t></r><r><t xml:space="preserve">uary </t></r>
<rPh sb="0" eb="1"><t>ignored</t></rPh></si></sst>"""


def test_a_tab_saved_by_excel_is_kept_through_a_sync(sink: WorkbookLedger) -> None:
    """Shared strings with rich-text runs, a date by its style, a formula with its result."""
    sink.write(batch(invoice(1)))
    with zipfile.ZipFile(sink.path) as package:
        entries = {name: package.read(name) for name in package.namelist()}
    entries["xl/worksheets/sheet4.xml"] = EXCEL_SHEET.encode()
    entries["xl/sharedStrings.xml"] = EXCEL_STRINGS.encode()
    entries["xl/workbook.xml"] = entries["xl/workbook.xml"].replace(
        b"</sheets>", b'<sheet name="Budget" sheetId="4" r:id="rId9"/></sheets>'
    )
    entries["xl/_rels/workbook.xml.rels"] = entries["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/worksheet" Target="worksheets/sheet4.xml"/><Relationship Id="rId10" '
        b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    entries["[Content_Types].xml"] = entries["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/worksheets/sheet4.xml" ContentType="application/vnd.'
        b'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    )
    with zipfile.ZipFile(sink.path, "w") as package:
        for name, data in entries.items():
            package.writestr(name, data)
    budget = [{"Month": "January ", "Day": dt.datetime(2026, 1, 1),
               "Amount": Decimal("0.30000000000000004"), "Label": "xy"}]  # fmt: skip
    assert sink.rows("Budget") == budget

    sink.write(batch(invoice(2)))

    assert sink.rows("Budget") == budget
    assert [r["Invoice Key"] for r in sink.rows("Invoices")] == [invoice(1).key, invoice(2).key]
    sheet = openpyxl.load_workbook(sink.path)["Budget"]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["Month", "Day", "Amount", "Label"],
        ["January ", dt.datetime(2026, 1, 1), 0.30000000000000004, '="x"&"y"'],
    ]
