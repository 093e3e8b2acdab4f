"""The workbook as LibreOffice reads it: converted to flat ODS by soffice, cell types inspected.

openpyxl is lenient; LibreOffice is the stricter reader a bookkeeper may open the ledger with.
Skipped where soffice is not installed (.ci/run installs it).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from api.core.model import LedgerBatch
from api.ledger.workbook.ledger import WorkbookLedger
from tests.contract.samples import invoice, lines, run

SOFFICE = shutil.which("soffice")
pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")

NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}
HOSTILE = ("=1+1", "@SUM(A1:A3)", "+49 30 1234", "-5", "Überweisung ☁ — naïve")


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _cells(row: ET.Element) -> list[dict[str, str | None]]:
    """One dict per cell (repeats expanded): LibreOffice's type, value, formula and text."""
    found = []
    for cell in row.findall("table:table-cell", NS):
        repeat = int(cell.get(_q("table", "number-columns-repeated"), "1"))
        kind = cell.get(_q("office", "value-type"))
        info = {
            "type": kind,
            "value": cell.get(_q("office", "date-value"))
            if kind == "date"
            else cell.get(_q("office", "value")),
            "formula": cell.get(_q("table", "formula")),
            "text": "\n".join("".join(p.itertext()) for p in cell.findall("text:p", NS)),
        }
        found += [info] * min(repeat, 64)  # trailing empty cells repeat ~16k times
    return found


def _as_libreoffice_sees(path: Path, out: Path) -> dict[str, list[dict[str, dict]]]:
    profile = out / "profile"  # its own profile: no clash with another soffice on the machine
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
         "fods", "--outdir", str(out), str(path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    tree = ET.parse(out / f"{path.stem}.fods")
    sheets = {}
    for table in tree.iter(_q("table", "table")):
        rows = [_cells(row) for row in table.iter(_q("table", "table-row"))]
        header = [cell["text"] for cell in rows[0] if cell["text"]]
        sheets[table.get(_q("table", "name"))] = [
            dict(zip(header, cells, strict=False))
            for cells in rows[1:]
            if any(c["type"] for c in cells)
        ]
    return sheets


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, dict]]]:
    """A ledger written, then rewritten (the raw-row copy path) and given a Runs row."""
    folder = tmp_path_factory.mktemp("libreoffice")
    sink = WorkbookLedger(folder / "ledger.xlsx")
    first, second = invoice(1), invoice(2, total=Decimal("-7.50"))
    hostile = tuple(
        replace(line, description=text)
        for line, text in zip(lines(second, len(HOSTILE)), HOSTILE, strict=True)
    )
    sink.write(
        LedgerBatch(invoices=(first, second), lines=(*lines(first, 2), *hostile), removed=())
    )
    sink.write(LedgerBatch(invoices=(replace(first, status="Refunded"),), lines=lines(first, 3),
                           removed=()))  # fmt: skip
    sink.append_run(run(1))
    return _as_libreoffice_sees(folder / "ledger.xlsx", folder)


def test_three_tabs_with_every_row(seen: dict[str, list[dict[str, dict]]]) -> None:
    assert list(seen) == ["Invoices", "Line Items", "Runs"]
    assert len(seen["Invoices"]) == 2
    assert len(seen["Line Items"]) == 3 + len(HOSTILE)
    assert len(seen["Runs"]) == 1


def test_formula_like_provider_text_stays_text(seen: dict[str, list[dict[str, dict]]]) -> None:
    descriptions = [row["Description"] for row in seen["Line Items"]]
    hostile = [cell for cell in descriptions if cell["text"] in HOSTILE]
    assert [cell["text"] for cell in hostile] == list(HOSTILE)
    for cell in hostile:
        assert cell["type"] == "string" and cell["formula"] is None


def test_money_and_dates_are_typed(seen: dict[str, list[dict[str, dict]]]) -> None:
    refunded, second = seen["Invoices"]
    assert refunded["Status"]["text"] == "Refunded"  # the rewrite landed
    assert refunded["Total"]["type"] in {"float", "currency"}
    assert Decimal(refunded["Total"]["value"]) == invoice(1).total
    assert Decimal(second["Total"]["value"]) == Decimal("-7.50")
    assert refunded["Invoice Date"]["type"] == "date"
    assert refunded["Invoice Date"]["value"] == invoice(1).invoice_date.isoformat()
    line = seen["Line Items"][0]
    assert Decimal(line["Amount"]["value"]) == lines(invoice(1))[0].amount
    assert Decimal(line["Unit Price"]["value"]) == lines(invoice(1))[0].unit_price
    assert line["Start"]["type"] == "date"
    start = dt.datetime.fromisoformat(line["Start"]["value"]).replace(tzinfo=dt.UTC)
    assert start == lines(invoice(1))[0].start
    started = seen["Runs"][0]["Started"]
    assert started["type"] == "date"
    assert dt.datetime.fromisoformat(started["value"]).replace(tzinfo=dt.UTC) == run(1).started


def test_a_file_saved_by_libreoffice_keeps_its_booleans_through_a_rewrite(tmp_path: Path) -> None:
    """LibreOffice saves TRUE/FALSE as the formulas TRUE()/FALSE() with their results; a rewrite
    of those rows (the Summary's refresh) keeps the results, so a script reading stored values
    (openpyxl data_only, pandas) still sees True/False rather than blanks."""
    import openpyxl

    from api.reports import refresh

    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    one, two = invoice(1), replace(invoice(2), reconciled=False)
    sink.write(LedgerBatch(invoices=(one, two), lines=lines(one) + lines(two)))
    saved = tmp_path / "saved"
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
         "--convert-to", "xlsx", "--outdir", str(saved), str(sink.path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    shutil.copy(saved / "ledger.xlsx", sink.path)

    refresh(sink, force=True)

    book = openpyxl.load_workbook(sink.path, data_only=True)["Invoices"]
    header = [cell.value for cell in book[1]]
    column = header.index("Reconciled")
    assert [row[column] for row in book.iter_rows(2, values_only=True)] == [True, False]
