"""Summary and Clients tabs in the workbook; Xero and QuickBooks Online exports from it."""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest
from click.testing import CliRunner

from api.archive.folder import FolderStore
from api.cli import cli
from api.errors import ConfigError
from api.exports import export_month
from api.factory import Services
from api.ledger.workbook.ledger import WorkbookLedger
from api.reports import refresh
from tests.export_rules import Rejected, validate_qbo, validate_xero
from tests.report_samples import (
    RULES,
    SPARSE,
    check_formats,
    check_summary,
    invoice_totals,
    ledger_batch,
    summary_blocks,
)

C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"


def with_rules(path: Path, rules: list[dict[str, Any]]) -> None:
    """The bookkeeper edits the Clients tab in a spreadsheet app (openpyxl stands in)."""
    book = openpyxl.load_workbook(path)
    sheet = book["Clients"]
    for rule in rules:
        sheet.append([rule["Match"], rule["Client"], rule["Billable"], rule["Markup %"]])
    book.save(path)


@pytest.fixture
def sink(tmp_path: Path) -> WorkbookLedger:
    ledger = WorkbookLedger(tmp_path / "ledger.xlsx")
    ledger.write(ledger_batch())
    assert refresh(ledger) == []  # no rules yet: an empty Clients tab appears
    with_rules(ledger.path, RULES)
    return ledger


def summary_rows(path: Path) -> list[list[Any]]:
    book = openpyxl.load_workbook(path)
    return [list(row) for row in book["Summary"].iter_rows(values_only=True)]


def test_summary_equals_line_items_sums_per_currency(sink: WorkbookLedger) -> None:
    problems = refresh(sink)
    assert len(problems) == 1 and "unknown field 'projekt'" in problems[0]
    check_summary(sink.rows("Line Items"), summary_blocks(summary_rows(sink.path)))


def test_month_over_month_change(sink: WorkbookLedger) -> None:
    refresh(sink)
    header, rows = summary_blocks(summary_rows(sink.path))["Monthly spend by category (USD)"]
    jan, feb = (dict(zip(header, row, strict=True)) for row in rows)
    assert jan["Change"] is None and Decimal(str(jan["Total"])) == Decimal("96.19")
    assert Decimal(str(feb["Change"])) == Decimal("47.33") - Decimal("96.19")
    assert feb["Compared with"] == "2026-01"
    assert feb["Change %"] == pytest.approx((47.33 - 96.19) / 96.19, abs=1e-6)
    summary = openpyxl.load_workbook(sink.path)["Summary"]
    (cell,) = [c for row in summary.iter_rows() for c in row if c.value == feb["Change %"]]
    assert cell.number_format == "0.0%"  # shown as -50.8%


def test_summary_money_has_each_currencys_minor_unit(tmp_path: Path) -> None:
    ledger = WorkbookLedger(tmp_path / "ledger.xlsx")
    ledger.write(ledger_batch(SPARSE))
    refresh(ledger)
    with_rules(ledger.path, [{"Match": "bi", "Client": "Hooli", "Billable": "yes",
                              "Markup %": "10"}])  # fmt: skip
    refresh(ledger)  # with a pass-through table: a Currency per row
    summary = openpyxl.load_workbook(ledger.path)["Summary"]
    values = [[c.value for c in row] for row in summary.iter_rows()]
    formats = [[c.number_format for c in row] for row in summary.iter_rows()]
    blocks = summary_blocks(values)
    assert "Pass-through by client (cost, markup, amount to re-bill)" in blocks
    assert {"Monthly spend by category (JPY)", "Monthly spend by project (KWD)"} <= set(blocks)
    assert check_formats(values, formats) > 40
    check_summary(ledger.rows("Line Items"), blocks)


def test_clients_columns_and_pass_through(sink: WorkbookLedger) -> None:
    refresh(sink)
    lines = {x["Description"]: x for x in sink.rows("Line Items")}
    assert (lines["web-01"]["Client"], lines["web-01"]["Billable"]) == ("Acme", True)
    assert lines["db backup nightly"]["Client"] == "Globex"
    assert lines["assets"]["Client"] == "Unallocated"
    assert lines["STATE SALES TAX"]["Client"] == "Shared"
    header, rows = summary_blocks(summary_rows(sink.path))[
        "Pass-through by client (cost, markup, amount to re-bill)"]  # fmt: skip
    table = {(r[0], r[1], r[2]): dict(zip(header, r, strict=True)) for r in rows}
    jan = [v for (p, _, c), v in table.items() if p == "2026-01" and c == "USD"]
    # Every invoice's parts add up to its total: the month's costs equal its lines.
    assert sum(Decimal(str(v["Cost"])) for v in jan) == Decimal("96.19")
    acme = table[("2026-01", "Acme", "USD")]
    # Shared -2.15 net split 60.01 : 33.33 : 5.00 -> -1.31 / -0.73 / -0.11 (cents exact)
    assert Decimal(str(acme["Cost"])) == Decimal("60.01") - Decimal("1.31")
    assert Decimal(str(acme["Markup"])) == Decimal("5.87")  # 58.70 x 10 %


def test_reapplying_rules_rewrites_only_changed_rows(sink: WorkbookLedger) -> None:
    refresh(sink)
    book = openpyxl.load_workbook(sink.path)
    book["Clients"]["B2"] = "Acme Corp"
    book.save(sink.path)
    before = {x["Line Key"]: x for x in sink.rows("Line Items")}
    refresh(sink)
    after = {x["Line Key"]: x for x in sink.rows("Line Items")}
    changed = {k for k in after if after[k] != before[k]}
    assert {before[k]["Project"] for k in changed} == {"web-shop"}
    assert {after[k]["Client"] for k in changed} == {"Acme Corp"}


def test_chart_part_draws_the_category_table(sink: WorkbookLedger) -> None:
    refresh(sink)
    sink.append_run(_run())  # an ordinary rewrite copies the Summary and its chart along
    with zipfile.ZipFile(sink.path) as package:
        names = package.namelist()
        chart = ElementTree.fromstring(package.read("xl/charts/chart1.xml"))
        types = package.read("[Content_Types].xml").decode()
    assert "xl/drawings/drawing1.xml" in names and "/xl/charts/chart1.xml" in types
    refs = [f.text for f in chart.iter(f"{C}f")]
    book = openpyxl.load_workbook(sink.path)
    summary = book["Summary"]
    assert summary["A1"].value == "Monthly spend by category (USD)"
    series = [r for r in refs if r and r.endswith("$3:$B$4")]
    assert series == ["'Summary'!$B$3:$B$4"]  # Compute, Jan and Feb
    assert [summary["B3"].value, summary["B4"].value] == [pytest.approx(60.01), 44]
    assert chart.find(f".//{C}grouping").get("val") == "stacked"  # type: ignore[union-attr]


def test_exports_follow_the_formats_and_sum_to_invoice_totals(
    sink: WorkbookLedger, tmp_path: Path
) -> None:
    store = FolderStore(tmp_path / "archive")
    totals = invoice_totals()
    for period in ("2026-01", "2026-02"):
        xero = export_month(sink, store, "xero", period, workdir=tmp_path / "tmp")
        text = (tmp_path / "archive" / "Exports" / f"{period} xero.csv").read_text("utf-8")
        bills = validate_xero(text, "dmy")
        assert bills == {n: t for n, t in totals.items() if n in bills}
        assert xero.bills == len(bills) and xero.files[0].link.url.startswith("file://")
        qbo = export_month(sink, store, "qbo", period, workdir=tmp_path / "tmp")
        text = (tmp_path / "archive" / "Exports" / f"{period} qbo.csv").read_text("utf-8")
        bills = validate_qbo(text, "mdy")
        assert bills == {n: t for n, t in totals.items() if n in bills and t[1] >= 0}
        assert all("supplier credit" in note for note in qbo.notes if "IN503" in note)
    # DoiT's February: one bill per invoice, each in its own currency; the credit note as a
    # negative Xero bill (Xero imports it as a credit note).
    text = (tmp_path / "archive" / "Exports" / "2026-02 xero.csv").read_text("utf-8")
    got = validate_xero(text, "dmy")
    assert got["IN501"][0] == "EUR" and got["IN502"][0] == "GBP" and got["IN503"][1] < 0
    assert "Tax on Purchases" in text and ",VAT," not in text  # tax in TaxAmount, not a line
    assert "'=cmd|" in text  # provider text never becomes a formula in a spreadsheet app
    runs = sink.rows("Runs")
    assert "Exports/2026-02%20xero.csv" in runs[-2]["Message"]
    assert "Exports/2026-02%20qbo.csv" in runs[-1]["Message"]


def test_validators_reject_what_the_products_reject(sink: WorkbookLedger, tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "archive")
    export_month(sink, store, "xero", "2026-02", workdir=tmp_path / "tmp")
    text = (tmp_path / "archive" / "Exports" / "2026-02 xero.csv").read_text("utf-8")
    lines = text.splitlines()
    gbp = next(line for line in lines if ",IN502," in line)
    with pytest.raises(Rejected, match="disagree"):  # one bill, two currencies
        validate_xero("\n".join([*lines, gbp.replace("IN502", "IN501")]))
    with pytest.raises(Rejected, match="500 at most"):
        numbered = [gbp.replace("IN502", f"B{n}") for n in range(501)]
        validate_xero("\n".join([lines[0], *numbered]))
    with pytest.raises(Rejected, match="'28/02/2026' is not a mdy date"):  # day 28 as a month
        validate_xero(text, "mdy")
    with pytest.raises(Rejected, match="missing columns"):
        validate_xero(text.replace("*TaxType", "TaxType", 1))


def test_export_command_and_regional_dates(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ledger = WorkbookLedger(home / "ledger.xlsx")
    ledger.write(ledger_batch())
    out = tmp_path / "new folder" / "bills.csv"  # a missing folder is made
    args = ["export", "qbo", "--period", "2026-01", "--date-format", "iso", "--out", str(out)]
    result = CliRunner().invoke(cli, ["--home", str(home), *args])
    assert result.exit_code == 0, result.output
    assert "QuickBooks Online bills for 2026-01: 1 bill" in result.output
    archived = (home / "archive" / "Exports" / "2026-01 qbo.csv").resolve()
    assert f"1 bill in {archived}; copied to {out}." in result.output  # paths, not file: URLs
    assert validate_qbo(out.read_text("utf-8"), "iso") == {"1001": ("USD", Decimal("96.19"))}
    bad = CliRunner().invoke(cli, ["--home", str(home), "export", "xero", "--period", "2026-13"])
    assert bad.exit_code != 0 and "YYYY-MM" in str(bad.exception)


def _run() -> Any:
    from api.core.model import RunRecord

    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    return RunRecord("r1", "demo", "cli", "succeeded", now, now, message="ok")


def test_a_sync_that_changed_the_ledger_rebuilds_the_summary(services: Services) -> None:
    from tests.test_engine import connect

    connect(services)
    first = services.engine.sync("acme", trigger="cli")
    assert first.status == "succeeded"
    sink = services.sink
    assert isinstance(sink, WorkbookLedger)
    lines = sink.rows("Line Items")
    assert {x["Client"] for x in lines} <= {"Unallocated", "Shared"}
    blocks = summary_blocks(summary_rows(sink.path))
    check_summary(lines, blocks)  # the month-to-date preview in a row of its own
    periods = [r[0] for r in blocks["Monthly spend by category (USD)"][1]]
    assert periods[-1].endswith(" (preview)") and periods[:-1] == sorted(periods[:-1])
    with_rules(sink.path, [{"Match": "projct: x", "Client": "A", "Billable": "", "Markup %": ""}])
    again = services.engine.sync("acme", trigger="cli", full=True)
    assert "Clients rule 1 (Match 'projct: x'): unknown field 'projct'" in again.message
    assert again.message in [r["Message"] for r in sink.rows("Runs")]
    idle = services.engine.sync("acme", trigger="cli")  # nothing changed: no rebuild, no Runs row
    assert "Clients rule" not in idle.message


def test_demo_month_exports_reimport_by_both_formats(tmp_path: Path) -> None:
    """The simulated DigitalOcean and DoiT accounts (DoiT bills in several currencies, with
    VAT): every month's two files pass the validators and sum back to the invoice totals."""
    home = tmp_path / "home"
    demo = CliRunner().invoke(cli, ["--home", str(home), "demo", "--months", "3", "--items", "6"])
    assert demo.exit_code == 0, demo.output
    sink = WorkbookLedger(home / "ledger.xlsx")
    assert "Summary" in openpyxl.load_workbook(sink.path, read_only=True).sheetnames
    invoices = [r for r in sink.rows("Invoices") if r["Status"] != "Preview"]
    store = FolderStore(home / "archive")
    currencies = set()
    for period in sorted({r["Period"] for r in invoices}):
        totals = {r["Invoice ID"]: (r["Currency"], r["Total"]) for r in invoices
                  if r["Period"] == period}  # fmt: skip
        export_month(sink, store, "xero", period, workdir=tmp_path / "tmp")
        export_month(sink, store, "qbo", period, workdir=tmp_path / "tmp")
        folder = home / "archive" / "Exports"
        xero = validate_xero((folder / f"{period} xero.csv").read_text("utf-8"))
        assert xero == totals
        qbo = validate_qbo((folder / f"{period} qbo.csv").read_text("utf-8"))
        assert qbo == {n: t for n, t in totals.items() if t[1] >= 0}
        currencies |= {currency for currency, _ in xero.values()}
    assert len(currencies) >= 3  # one bill per invoice, each in its own currency


def test_summary_command_reapplies_edited_rules(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ledger = WorkbookLedger(home / "ledger.xlsx")
    ledger.write(ledger_batch())
    refresh(ledger)
    with_rules(ledger.path, RULES)
    result = CliRunner().invoke(cli, ["--home", str(home), "summary"])
    assert result.exit_code == 0, result.output
    assert "Summary rebuilt" in result.output and "unknown field 'projekt'" in result.output
    assert {x["Client"] for x in ledger.rows("Line Items") if x["Project"] == "web-shop"} == {
        "Acme"}  # fmt: skip


def test_a_client_name_that_looks_like_a_formula_stays_text(sink: WorkbookLedger) -> None:
    book = openpyxl.load_workbook(sink.path)
    clients = book["Clients"]
    clients.delete_rows(2, len(RULES))
    clients.append(["project: internal", "", "no"])
    clients["B2"].value, clients["B2"].data_type = "=1+2", "s"  # typed as text
    book.save(sink.path)
    refresh(sink)
    assert {x["Client"] for x in sink.rows("Line Items") if x["Project"] == "internal"} == {"=1+2"}
    lines = openpyxl.load_workbook(sink.path)["Line Items"]
    at = [c.value for c in lines[1]].index("Client")
    (cell,) = [row[at] for row in lines.iter_rows(min_row=2) if row[at].value == "=1+2"]
    assert cell.data_type == "s"
    # A file in our own dialect: the changed row's XML is patched in place, text stays text.
    key = next(x["Line Key"] for x in sink.rows("Line Items") if x["Project"] == "internal")
    sink.write_reports([], {key: ("=HYPERLINK(1)", True)})
    (row,) = [x for x in sink.rows("Line Items") if x["Line Key"] == key]
    assert (row["Client"], row["Billable"]) == ("=HYPERLINK(1)", True)
    with zipfile.ZipFile(sink.path) as package:
        assert not any(b"<f>" in package.read(n) for n in package.namelist() if "worksheets" in n)


def test_text_in_an_amount_cell_is_named_not_a_crash(services: Services) -> None:
    from tests.test_engine import connect

    connect(services)
    services.engine.sync("acme", trigger="cli")
    sink = services.sink
    assert isinstance(sink, WorkbookLedger)
    book = openpyxl.load_workbook(sink.path)
    sheet = book["Line Items"]
    column = [c.value for c in sheet[1]].index("Amount") + 1
    sheet.cell(row=7, column=column, value="abc")
    book.save(sink.path)

    with pytest.raises(ConfigError) as refused:
        refresh(sink, force=True)
    run = services.engine.sync("acme", trigger="cli")  # nothing new: the rows stay as edited
    repaired = services.engine.sync("acme", trigger="cli", full=True)  # rewrites every row

    assert "Line Items row 7 has Amount 'abc', not a number" in str(refused.value)
    assert run.status == "succeeded", run.message
    assert "The Summary tab was not rebuilt: Line Items row 7 has Amount 'abc'" in run.message
    assert repaired.status == "succeeded" and "not rebuilt" not in repaired.message
