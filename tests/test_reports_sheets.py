"""Summary and Clients tabs in the Google Sheet (the fake Sheets API speaking the real wire)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from api.archive.folder import FolderStore
from api.exports import export_month
from api.ledger.sheets.ledger import SheetsLedger
from api.reports import refresh
from tests.export_rules import validate_xero
from tests.fakes.fixtures import fake_google  # noqa: F401 - the fixture
from tests.fakes.google import FakeGoogle
from tests.report_samples import (
    RULES,
    SPARSE,
    check_formats,
    check_summary,
    invoice_totals,
    ledger_batch,
    summary_blocks,
)
from tests.test_sheets_sink import SHEET, make_sink, methods

BATCH_UPDATE = "sheets.spreadsheets.batchUpdate"


@pytest.fixture
def fake(fake_google: FakeGoogle) -> FakeGoogle:  # noqa: F811
    fake_google.sheets.create(SHEET)  # type: ignore[attr-defined]
    return fake_google


def tab(fake: FakeGoogle, title: str) -> Any:
    return fake.sheets.tab(SHEET, title)  # type: ignore[attr-defined]


def type_rules(fake: FakeGoogle, rules: list[dict[str, Any]], first_row: int = 1) -> None:
    """The bookkeeper types rules into the Clients tab."""
    clients = tab(fake, "Clients")
    for offset, rule in enumerate(rules):
        values = [rule["Match"], rule["Client"], rule["Billable"], rule["Markup %"]]
        clients.set_row(first_row + offset, {
            column: {"userEnteredValue": {"stringValue": str(value)}}
            for column, value in enumerate(values) if value not in (None, "")
        })  # fmt: skip


@pytest.fixture
def sink(fake: FakeGoogle) -> SheetsLedger:
    ledger = make_sink(fake)
    ledger.write(ledger_batch())
    assert refresh(ledger) == []
    type_rules(fake, RULES)
    return ledger


def test_summary_equals_line_items_sums_with_a_native_chart(
    sink: SheetsLedger, fake: FakeGoogle
) -> None:
    problems = refresh(sink)
    assert len(problems) == 1 and "unknown field 'projekt'" in problems[0]
    summary = tab(fake, "Summary")
    blocks = summary_blocks(summary.values())
    check_summary(sink.rows("Line Items"), blocks)
    (chart,) = summary.charts
    basic = chart["spec"]["basicChart"]
    assert (basic["chartType"], basic["stackedType"]) == ("COLUMN", "STACKED")
    header, rows = blocks["Monthly spend by category (USD)"]
    columns = [s["series"]["sourceRange"]["sources"][0]["startColumnIndex"]
               for s in basic["series"]]  # fmt: skip
    assert [header[c] for c in columns] == ["Compute", "Databases", "Storage", "Tax", "Credit"]
    domain = basic["domains"][0]["domain"]["sourceRange"]["sources"][0]
    assert (domain["startRowIndex"], domain["endRowIndex"]) == (1, 2 + len(rows))  # header + months
    assert domain["sheetId"] == summary.sheet_id
    # A live pivot table over the whole Line Items tab: currency, then month, by category.
    (pivot,) = [c["pivotTable"] for row in summary.cells for c in row if "pivotTable" in c]
    lines_tab = tab(fake, "Line Items")
    names = lines_tab.values()[0]
    assert pivot["source"]["sheetId"] == lines_tab.sheet_id and "endRowIndex" not in pivot["source"]
    assert [names[g["sourceColumnOffset"]] for g in pivot["rows"]] == ["Currency", "Period"]
    assert [names[g["sourceColumnOffset"]] for g in pivot["columns"]] == ["Category"]
    assert [(names[v["sourceColumnOffset"]], v["summarizeFunction"]) for v in pivot["values"]] == [
        ("Amount", "SUM")]  # fmt: skip
    assert pivot["rows"][0]["showTotals"] is False  # never a total across currencies


def number_formats(summary: Any) -> list[list[Any]]:
    """The number format pattern the fake stored for each Summary cell, row by row."""
    return [[(c.get("userEnteredFormat") or {}).get("numberFormat", {}).get("pattern")
             for c in row] for row in summary.cells]  # fmt: skip


def test_summary_money_has_each_currencys_minor_unit_and_change_is_a_percent(
    fake: FakeGoogle,
) -> None:
    ledger = make_sink(fake)
    ledger.write(ledger_batch(SPARSE))
    refresh(ledger)
    type_rules(fake, [{"Match": "bi", "Client": "Hooli", "Billable": "yes", "Markup %": "10"}])
    refresh(ledger)  # with a pass-through table: a Currency per row
    summary = tab(fake, "Summary")
    values = summary.values()
    blocks = summary_blocks(values)
    assert "Pass-through by client (cost, markup, amount to re-bill)" in blocks
    assert check_formats(values, number_formats(summary)) > 40
    kinds = {c["userEnteredFormat"]["numberFormat"]["type"]
             for row in summary.cells for c in row if "userEnteredFormat" in c
             and "numberFormat" in c["userEnteredFormat"]}  # fmt: skip
    assert kinds == {"NUMBER", "PERCENT"}
    check_summary(ledger.rows("Line Items"), blocks)
    header, rows = blocks["Monthly spend by category (JPY)"]
    april = dict(zip(header, rows[1], strict=True))
    assert april["Compared with"] == "2026-02"  # JPY is billed every other month
    assert april["Change %"] == pytest.approx((217800 - 198000) / 198000)


def test_a_second_refresh_replaces_the_summary_and_its_chart(
    sink: SheetsLedger, fake: FakeGoogle
) -> None:
    refresh(sink)
    refresh(sink, force=True)  # unforced, nothing changed: skipped (test_reports_refresh)
    book = fake.sheets.books[SHEET]  # type: ignore[attr-defined]
    titles = [t.title for t in sorted(book.tabs, key=lambda t: t.index)]
    assert titles.count("Summary") == 1 and titles.count("Clients") == 1
    assert len(tab(fake, "Summary").charts) == 1


def test_clients_rules_set_client_and_only_changed_rows_are_rewritten(
    sink: SheetsLedger, fake: FakeGoogle
) -> None:
    refresh(sink)
    lines = {x["Description"]: x for x in sink.rows("Line Items")}
    assert (lines["web-01"]["Client"], lines["web-01"]["Billable"]) == ("Acme", True)
    assert lines["db backup nightly"]["Client"] == "Globex"
    assert lines["VAT 19%"]["Client"] == "Shared"
    assert lines["assets"]["Client"] == "Unallocated"

    tab(fake, "Clients").set_row(1, {1: {"userEnteredValue": {"stringValue": "Acme Corp"}}})
    since = len(fake.calls)
    refresh(sink)
    (write,) = [c for c in fake.calls[since:] if c.method_id == BATCH_UPDATE]
    line_tab = tab(fake, "Line Items").sheet_id
    touched = sorted(
        (r["updateCells"]["start"]["rowIndex"], len(r["updateCells"]["rows"]))
        for r in write.body["requests"]
        if "updateCells" in r and r["updateCells"]["start"]["sheetId"] == line_tab
    )
    rows = tab(fake, "Line Items").records()
    web = [n for n, row in enumerate(rows, 1) if row["Project"] == "web-shop"]
    # Client and Billable of each block of web-shop rows, and nothing else.
    assert sorted({start for start, _ in touched}) == [web[0], web[2]]
    assert sum(count for _, count in touched) == 2 * len(web)
    assert {row["Client"] for row in rows if row["Project"] == "web-shop"} == {"Acme Corp"}
    assert "batchUpdate" in methods(fake, since)


def test_xero_export_from_the_sheet_sums_to_invoice_totals(
    sink: SheetsLedger, tmp_path: Any
) -> None:
    store = FolderStore(tmp_path / "archive")
    export_month(sink, store, "xero", "2026-02", workdir=tmp_path / "tmp")
    text = (tmp_path / "archive" / "Exports" / "2026-02 xero.csv").read_text("utf-8")
    bills = validate_xero(text)
    assert bills == {n: t for n, t in invoice_totals().items() if n in bills}
    assert bills["IN502"] == ("GBP", Decimal("119.99"))
    assert "2026-02%20xero.csv" in sink.rows("Runs")[-1]["Message"]


def test_exports_land_in_drive_under_exports_and_a_second_export_is_a_new_revision(
    sink: SheetsLedger, fake: FakeGoogle, tmp_path: Any
) -> None:
    from tests.test_drive_store import Harness

    drive = Harness(fake, tmp_path)
    store = drive.store()
    first = export_month(sink, store, "qbo", "2026-02", workdir=tmp_path / "tmp")
    type_rules(fake, [{"Match": "bi", "Client": "Hooli", "Billable": "yes", "Markup %": ""}], 5)
    second = export_month(sink, store, "qbo", "2026-02", workdir=tmp_path / "tmp")
    [file] = drive.uploaded()
    assert file["name"] == "2026-02 qbo.csv" and file["mimeType"] == "text/csv"
    assert drive.fake.drive.files[file["parents"][0]]["name"] == "Exports"  # type: ignore[attr-defined]
    assert first.files[0].link.url == second.files[0].link.url == file["webViewLink"]
    revisions = drive.fake.drive.content[file["id"]]  # type: ignore[attr-defined]
    assert len(revisions) == 2 and b"Hooli" in revisions[-1] and b"Hooli" not in revisions[0]
    runs = sink.rows("Runs")
    assert runs[-1]["Message"].count(file["webViewLink"]) == 1
