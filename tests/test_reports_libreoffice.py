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
from tests.report_samples import ledger_batch

SOFFICE = shutil.which("soffice")
pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
CHART = "urn:oasis:names:tc:opendocument:xmlns:chart:1.0"


def test_libreoffice_draws_the_summary_chart(tmp_path: Path) -> None:
    sink = WorkbookLedger(tmp_path / "ledger.xlsx")
    sink.write(ledger_batch())
    refresh(sink)
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    sink.append_run(RunRecord("r1", "demo", "cli", "succeeded", now, now))  # a plain rewrite
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
         "--convert-to", "fods", "--outdir", str(tmp_path), str(sink.path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    tree = ET.parse(tmp_path / "ledger.fods")
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
