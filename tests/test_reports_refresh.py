"""A refresh does work in proportion to what changed: nothing changed, nothing is rewritten; a
new invoice or an edit of the Clients rules rebuilds, to the same result as a full rebuild."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from api.core.model import LedgerBatch
from api.factory import Services
from api.ledger.sheets.ledger import SheetsLedger
from api.ledger.workbook.ledger import WorkbookLedger
from api.reports import refresh
from tests.fakes.fixtures import fake_google  # noqa: F401 - the fixture
from tests.fakes.google import FakeGoogle
from tests.report_samples import RULES, check_summary, ledger_batch, summary_blocks
from tests.test_reports_sheets import BATCH_UPDATE, tab, type_rules
from tests.test_reports_workbook import summary_rows, with_rules
from tests.test_sheets_sink import SHEET, make_sink, methods

LAST = "doit:example.com:IN503"


def part(batch: LedgerBatch, *, last: bool) -> LedgerBatch:
    """The sample ledger without its last invoice, or that invoice alone."""
    return LedgerBatch(
        invoices=tuple(i for i in batch.invoices if (i.key == LAST) == last),
        lines=tuple(x for x in batch.lines if (x.invoice_key == LAST) == last),
    )


def stamp(path: Path) -> tuple[int, int, bytes]:
    found = os.stat(path)
    return found.st_ino, found.st_mtime_ns, path.read_bytes()


@pytest.fixture
def sink(tmp_path: Path) -> WorkbookLedger:
    ledger = WorkbookLedger(tmp_path / "ledger.xlsx")
    ledger.write(part(ledger_batch(), last=False))
    refresh(ledger)
    with_rules(ledger.path, RULES)
    problems = refresh(ledger)
    assert len(problems) == 1 and "unknown field 'projekt'" in problems[0]
    return ledger


def full_rebuild(sink: WorkbookLedger, tmp_path: Path) -> list[list[Any]]:
    """The Summary a forced refresh of a copy writes (what every refresh did before)."""
    copy = WorkbookLedger(tmp_path / "copy" / "ledger.xlsx")
    copy.path.parent.mkdir()
    shutil.copyfile(sink.path, copy.path)
    refresh(copy, force=True)
    assert copy.rows("Line Items") == sink.rows("Line Items")
    return summary_rows(copy.path)


def test_nothing_changed_rewrites_nothing(sink: WorkbookLedger) -> None:
    before = stamp(sink.path)
    assert refresh(sink) == []  # the bad rule was reported when the rules were applied
    assert stamp(sink.path) == before


def test_a_new_invoice_rebuilds_as_a_full_rebuild_would(
    sink: WorkbookLedger, tmp_path: Path
) -> None:
    sink.write(part(ledger_batch(), last=True))
    assert "unknown field 'projekt'" in refresh(sink)[0]
    lines = sink.rows("Line Items")
    assert LAST in {x["Invoice Key"] for x in lines}
    check_summary(lines, summary_blocks(summary_rows(sink.path)))
    assert summary_rows(sink.path) == full_rebuild(sink, tmp_path)


def test_a_rules_edit_alone_takes_effect(sink: WorkbookLedger, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(sink.path)
    book["Clients"]["B2"] = "Acme Corp"
    book.save(sink.path)
    refresh(sink)
    web = {x["Client"] for x in sink.rows("Line Items") if x["Project"] == "web-shop"}
    assert web == {"Acme Corp"}
    assert summary_rows(sink.path) == full_rebuild(sink, tmp_path)


def test_a_deleted_summary_or_a_lost_mark_means_a_rebuild(sink: WorkbookLedger) -> None:
    rows = summary_rows(sink.path)
    book = openpyxl.load_workbook(sink.path)
    del book["Summary"]
    book.save(sink.path)
    refresh(sink)
    assert summary_rows(sink.path) == rows
    (sink.path.parent / f".{sink.path.name}.summary").unlink()  # the kept mark is lost
    before = stamp(sink.path)
    refresh(sink)
    assert stamp(sink.path) != before and summary_rows(sink.path) == rows


def test_rows_read_before_a_rewrite_are_not_reused_once_the_file_changed(
    sink: WorkbookLedger,
) -> None:
    with_rules(sink.path, [])  # saved by another program: read cell by cell, the rows kept
    before = sink.rows("Line Items")
    book = openpyxl.load_workbook(sink.path)  # then edited again before the rewrite
    lines = book["Line Items"]
    at = [c.value for c in lines[1]].index("Description")
    lines.cell(row=2, column=at + 1, value="edited by hand")
    book.save(sink.path)
    sink.write_reports([], {})
    after = sink.rows("Line Items")
    assert after[0]["Description"] == "edited by hand" != before[0]["Description"]
    assert after[1:] == before[1:]


def test_a_sync_with_nothing_new_applies_edited_rules(services: Services) -> None:
    from tests.test_engine import connect

    connect(services)
    services.engine.sync("acme", trigger="cli")
    sink = services.sink
    assert isinstance(sink, WorkbookLedger)
    idle = stamp(sink.path)
    services.engine.sync("acme", trigger="cli")
    assert stamp(sink.path) == idle  # no rebuild, no Runs row
    project = next(x["Project"] for x in sink.rows("Line Items") if x["Project"])
    with_rules(sink.path, [{"Match": f"project: {project}", "Client": "Acme", "Billable": "yes",
                            "Markup %": ""}])  # fmt: skip
    run = services.engine.sync("acme", trigger="cli")
    assert run.status == "succeeded" and run.counts.new == 0
    moved = [x for x in sink.rows("Line Items") if x["Project"] == project]
    assert {x["Client"] for x in moved} == {"Acme"}
    said = f"Clients rules applied: {len(moved)} line items changed client or billable."
    assert said in run.message and sink.rows("Runs")[-1]["Message"] == run.message


@pytest.fixture
def sheet(fake_google: FakeGoogle) -> SheetsLedger:  # noqa: F811
    fake_google.sheets.create(SHEET)  # type: ignore[attr-defined]
    ledger = make_sink(fake_google)
    ledger.write(part(ledger_batch(), last=False))
    refresh(ledger)
    type_rules(fake_google, RULES)
    assert len(refresh(ledger)) == 1
    return ledger


def writes(fake: FakeGoogle, since: int) -> int:
    return sum(call.method_id == BATCH_UPDATE for call in fake.calls[since:])


def test_the_sheet_skips_until_rules_or_lines_change(
    sheet: SheetsLedger,
    fake_google: FakeGoogle,  # noqa: F811
) -> None:
    since = len(fake_google.calls)
    assert refresh(sheet) == [] and writes(fake_google, since) == 0
    again = make_sink(fake_google)  # another process, the next scheduled sync
    since = len(fake_google.calls)
    assert refresh(again) == []
    # the tabs (by their tags), every tab with its metadata (Clients, the mark), the rules
    assert methods(fake_google, since) == ["getByDataFilter", "get", "batchGet"]
    tab(fake_google, "Clients").set_row(1, {1: {"userEnteredValue": {"stringValue": "Acme Co"}}})
    assert len(refresh(again)) == 1 and writes(fake_google, since) == 1
    assert {x["Client"] for x in again.rows("Line Items") if x["Project"] == "web-shop"} == {
        "Acme Co"}  # fmt: skip
    again.write(part(ledger_batch(), last=True))
    since = len(fake_google.calls)
    assert len(refresh(again)) == 1 and writes(fake_google, since) == 1
    lines = again.rows("Line Items")
    assert LAST in {x["Invoice Key"] for x in lines}
    check_summary(lines, summary_blocks(tab(fake_google, "Summary").values()))


def test_rows_of_some_columns_equal_those_of_a_full_read(sink: WorkbookLedger) -> None:
    wanted = ("Amount", "Line Key", "Client")
    some = sink.rows("Line Items", wanted)
    assert [tuple(row) for row in some] == [wanted] * len(some)
    assert some == [{name: row[name] for name in wanted} for row in sink.rows("Line Items")]


def test_the_sheet_reads_only_the_wanted_columns_until_they_move(
    sheet: SheetsLedger,
    fake_google: FakeGoogle,  # noqa: F811
) -> None:
    full = sheet.rows("Line Items")
    since = len(fake_google.calls)
    some = sheet.rows("Line Items", ("Amount", "Line Key"))
    assert some == [{"Amount": r["Amount"], "Line Key": r["Line Key"]} for r in full]
    (read,) = [c for c in fake_google.calls[since:] if c.method_id.endswith("batchGet")]
    assert read.query["ranges"] == ["'Line Items'!1:1", "'Line Items'!S:S", "'Line Items'!U:U"]
    at = [str(v) for v in tab(fake_google, "Line Items").values()[0]].index("Amount")
    tab(fake_google, "Line Items").set_row(0, {at: {"userEnteredValue": {"stringValue": "Cost"}}})
    since = len(fake_google.calls)
    moved = sheet.rows("Line Items", ("Amount", "Line Key"))  # the cached header is stale
    assert [r["Cost"] for r in moved] == [r["Amount"] for r in full]
    reads = [
        c.query["ranges"] for c in fake_google.calls[since:] if c.method_id.endswith("batchGet")
    ]
    assert reads == [["'Line Items'!1:1", "'Line Items'!S:S", "'Line Items'!U:U"], ["'Line Items'"]]
