"""A workbook a bookkeeper can read and print (issue 9 §4): fitted widths, per-currency money
formats, header alignment, landscape fit-to-width pages with the header repeated, times labelled
UTC, archive links relative to the workbook. Read back with openpyxl, and printed to PDF by
LibreOffice where it is installed."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from api.core.model import LedgerBatch
from api.ledger.workbook.ledger import WorkbookLedger
from api.ledger.workbook.tabs import MAX_WIDTH
from tests.contract.samples import invoice, lines, run

KEY_50 = "digitalocean:" + "9c93234b-5921-467b-ba7a-c1c84dad03a3" + "x"  # 50 characters


def written(tmp_path: Path, *invoices, line_count: int = 3) -> openpyxl.Workbook:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    items = tuple(item for inv in invoices for item in lines(inv, line_count))
    sink.write(LedgerBatch(invoices=invoices, lines=items, removed=()))
    sink.append_run(run(1))
    return openpyxl.load_workbook(sink.path)


def cell(sheet, name: str, row: int = 2):
    column = next(c.column for c in sheet[1] if c.value == name)
    return sheet.cell(row=row, column=column)


def width(sheet, name: str) -> float:
    return sheet.column_dimensions[cell(sheet, name, 1).column_letter].width


def test_columns_fit_their_content_within_bounds(tmp_path: Path) -> None:
    one = invoice(1, account="Acme Analytics", key=KEY_50, credits=Decimal("-1234567.89"))
    book = written(tmp_path, one)
    sheet = book["Invoices"]

    assert len(KEY_50) == 50
    assert width(sheet, "Invoice Key") >= 50  # was cut at 40
    assert width(sheet, "Account") >= len("Acme Analytics")
    for name in ("Product Charges", "Credits & Adjustments", "Line Items Total"):
        assert width(sheet, name) >= len(name) + 2, name  # the header and its filter button
    assert width(sheet, "Credits & Adjustments") >= len("-1,234,567.89")
    assert all(8 <= dim.width <= MAX_WIDTH for dim in sheet.column_dimensions.values())


def test_a_very_long_description_is_capped(tmp_path: Path) -> None:
    one = invoice(1)
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    long = tuple(replace(item, description="x" * 300) for item in lines(one, 2))
    sink.write(LedgerBatch(invoices=(one,), lines=long, removed=()))

    sheet = openpyxl.load_workbook(sink.path)["Line Items"]
    assert width(sheet, "Description") == MAX_WIDTH


@pytest.mark.parametrize(
    ("currency", "number_format"),
    [("JPY", "#,##0"), ("USD", "#,##0.00"), ("EUR", "#,##0.00"), ("KWD", "#,##0.000")],
)
def test_money_shows_its_currencys_minor_unit(tmp_path: Path, currency, number_format) -> None:
    one = invoice(1, currency=currency, total=Decimal("370950"))
    book = written(tmp_path, one)

    for name in ("Total", "Product Charges", "Credits & Adjustments", "Line Items Total"):
        assert cell(book["Invoices"], name).number_format == number_format, name
    assert cell(book["Line Items"], "Amount").number_format == number_format


def test_a_jpy_row_next_to_a_usd_row_keeps_each_format(tmp_path: Path) -> None:
    book = written(tmp_path, invoice(1, currency="JPY"), invoice(2, currency="USD"))
    sheet = book["Invoices"]
    assert cell(sheet, "Total", 2).number_format == "#,##0"
    assert cell(sheet, "Total", 3).number_format == "#,##0.00"


def test_headers_align_like_their_columns(tmp_path: Path) -> None:
    book = written(tmp_path, invoice(1))
    invoices, runs = book["Invoices"], book["Runs"]
    for name in ("Total", "Product Charges", "Invoice Date", "Line Items"):
        assert cell(invoices, name, 1).alignment.horizontal == "right", name
    for name in ("Provider", "Account", "Invoice Key", "Status"):
        assert cell(invoices, name, 1).alignment.horizontal in (None, "general", "left"), name
    assert cell(runs, "Started", 1).alignment.horizontal == "right"
    assert all(c.font.b for c in invoices[1])


def test_every_ledger_tab_prints_landscape_one_page_wide_with_its_header(tmp_path: Path) -> None:
    book = written(tmp_path, invoice(1))
    for title in ("Invoices", "Line Items", "Runs"):
        sheet = book[title]
        assert sheet.page_setup.orientation == "landscape", title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, title
        assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0), title
        assert sheet.print_title_rows.replace("$", "") == "1:1", title


def test_times_are_labelled_utc(tmp_path: Path) -> None:
    book = written(tmp_path, invoice(1))
    for sheet, name in ((book["Runs"], "Started"), (book["Runs"], "Finished"),
                        (book["Invoices"], "Synced At")):  # fmt: skip
        assert cell(sheet, name).is_date
        assert cell(sheet, name).number_format.endswith('"UTC"'), name


def links(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as package:
        rels = [package.read(n).decode() for n in package.namelist() if n.endswith(".xml.rels")]
    return [part.split('"')[0] for text in rels for part in text.split('Target="')[1:]
            if "hyperlink" in text]  # fmt: skip


def test_archive_links_are_relative_to_the_workbook(tmp_path: Path) -> None:
    inside = (tmp_path / "archive" / "DigitalOcean" / "2026-01 INV-1001.pdf").as_uri()
    outside = "file:///srv/elsewhere/2026-02 INV-1002.pdf"
    book_path = tmp_path / "ledger.xlsx"
    sink = WorkbookLedger(book_path)
    one, two = invoice(1, pdf=inside), invoice(2, pdf=outside)
    sink.write(LedgerBatch(invoices=(one, two), lines=(), removed=()))

    sheet = openpyxl.load_workbook(book_path)["Invoices"]
    targets = [cell(sheet, "PDF", row).hyperlink.target for row in (2, 3)]
    assert "archive/DigitalOcean/2026-01%20INV-1001.pdf" in targets
    assert outside in targets  # not under the workbook's folder: a relative link would break
    assert not any(t.startswith("file:") and "INV-1001" in t for t in links(book_path))
    assert [r["PDF"] for r in sink.rows("Invoices")] == ["2026-01 INV-1001.pdf",
                                                         "2026-02 INV-1002.pdf"]  # fmt: skip


def test_rewriting_keeps_relative_links_and_formats(tmp_path: Path) -> None:
    inside = (tmp_path / "archive" / "2026-01 INV-1001.pdf").as_uri()
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    one = invoice(1, pdf=inside, currency="JPY", total=Decimal("500"))
    sink.write(LedgerBatch(invoices=(one,), lines=lines(one, 2), removed=()))
    sink.write(LedgerBatch(invoices=(invoice(2),), lines=(), removed=()))  # rows copied raw

    sheet = openpyxl.load_workbook(sink.path)["Invoices"]
    assert cell(sheet, "PDF").hyperlink.target == "archive/2026-01%20INV-1001.pdf"
    assert cell(sheet, "Total").number_format == "#,##0"
    assert sheet.print_title_rows.replace("$", "") == "1:1"


# -- printed by LibreOffice ------------------------------------------------------------------

SOFFICE = shutil.which("soffice")
PDF_TOOLS = shutil.which("pdfinfo") and shutil.which("pdftotext")


@pytest.mark.skipif(not (SOFFICE and PDF_TOOLS), reason="LibreOffice or poppler-utils missing")
def test_libreoffice_prints_landscape_pages_with_the_header_on_each(tmp_path: Path) -> None:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    invoices = tuple(invoice(n, account="Acme Analytics", currency="JPY" if n % 2 else "USD",
                             total=Decimal("370950")) for n in range(1, 121))  # fmt: skip
    sink.write(LedgerBatch(invoices=invoices, lines=(), removed=()))
    profile = tmp_path / "profile"
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(sink.path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    pdf = tmp_path / "ledger.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages")))
    size = next(line for line in info.splitlines() if line.startswith("Page size")).split()
    assert float(size[2]) > float(size[4])  # wider than tall: landscape
    assert 2 <= pages <= 6  # 120 invoices, every column on each page (was ~300 pages)
    for page in range(1, pages + 1):
        text = subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if "INV-" in text:
            assert "Invoice Key" in text and "Credits & Adjustments" in text, page
    first = subprocess.run(["pdftotext", "-l", "1", "-layout", str(pdf), "-"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "370,950 " in first or "370,950\n" in first  # JPY: no decimals
    assert "370,950.00" in first  # USD: two
    assert "Acme Analytics" in first and "Acme Analytic " not in first
