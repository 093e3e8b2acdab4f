"""The Summary tab's chart as LibreOffice reads it (soffice converts the workbook to flat ODS):
a stacked column chart whose series are the category columns of the first currency."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from api.core.model import RunRecord
from api.ledger.workbook.ledger import WorkbookLedger
from api.reports import refresh
from tests.report_samples import SPARSE, ledger_batch, summary_blocks

SOFFICE = shutil.which("soffice")
pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
CHART = "urn:oasis:names:tc:opendocument:xmlns:chart:1.0"
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


def as_fods(path: Path, folder: Path) -> ET.ElementTree:
    """The workbook as LibreOffice reads it (flat ODS: values and the text it shows)."""
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{folder / 'profile'}", "--headless",
         "--convert-to", "fods", "--outdir", str(folder), str(path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    return ET.parse(folder / path.with_suffix(".fods").name)


def shown(tree: ET.ElementTree, title: str) -> list[list[str]]:
    """The text LibreOffice shows in each cell of a sheet, row by row (repeats expanded)."""
    (sheet,) = [t for t in tree.iter(f"{{{TABLE}}}table") if t.get(f"{{{TABLE}}}name") == title]
    rows = []
    for row in sheet.findall(f"{{{TABLE}}}table-row"):  # not the chart's own data table
        cells: list[str] = []
        for cell in row.findall(f"{{{TABLE}}}table-cell"):
            text = "\n".join("".join(p.itertext()) for p in cell.iter(f"{{{TEXT}}}p"))
            cells += [text] * min(int(cell.get(f"{{{TABLE}}}number-columns-repeated", "1")), 64)
        rows.append(cells)
    return rows


def test_libreoffice_draws_the_summary_chart(tmp_path: Path) -> None:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(ledger_batch())
    refresh(sink)
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    sink.append_run(RunRecord("r1", "demo", "cli", "succeeded", now, now))  # a plain rewrite
    tree = as_fods(sink.path, tmp_path)
    charts = list(tree.iter(f"{{{CHART}}}chart"))
    assert [c.get(f"{{{CHART}}}class") for c in charts] == ["chart:bar"]
    plot = next(tree.iter(f"{{{CHART}}}plot-area"))
    assert plot is not None
    ranges = [
        s.get(f"{{{CHART}}}values-cell-range-address") for s in tree.iter(f"{{{CHART}}}series")
    ]
    # USD has the most lines: Compute, Databases, Storage, Tax, Credit for Jan and Feb.
    assert ranges == [f"Summary.{c}3:Summary.{c}4" for c in "BCDEF"]
    styles = [s for s in tree.iter() if s.get(f"{{{CHART}}}stacked") == "true"]
    assert styles


def test_libreoffice_shows_each_currencys_minor_unit_and_percents(tmp_path: Path) -> None:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(ledger_batch(SPARSE))
    refresh(sink)
    blocks = summary_blocks(shown(as_fods(sink.path, tmp_path), "Summary"))
    header, rows = blocks["Monthly spend by category (JPY)"]
    april = dict(zip(header, rows[1], strict=True))
    # 217,800 yen against February's 198,000 (JPY is billed every other month): +10 %.
    assert (april["Total"], april["Compared with"], april["Change"], april["Change %"]) == (
        "217,800", "2026-02", "19,800", "10.0%")  # fmt: skip
    header, rows = blocks["Monthly spend by provider and account"]
    amounts = {(r[1], r[3]): r[4] for r in rows}
    assert amounts[("kuwait.example.com", "2026-03")] == "12.345"
    assert amounts[("team", "2026-02")] == "50.00"
    header, rows = blocks["Monthly spend by category (USD)"]
    assert [dict(zip(header, r, strict=True))["Change %"] for r in rows] == ["", "600.0%", "-9.0%"]
