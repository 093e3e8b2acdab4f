"""`billsync sync` then `billsync export` against a Google Sheet and Drive folder, as a person
runs them (real processes, the DigitalOcean simulator and the fake Google over loopback)."""

from __future__ import annotations

from decimal import Decimal

from tests.export_rules import validate_xero
from tests.fakes.google import FakeGoogle
from tests.test_cli_google import billsync, env, ok, records, signed_in, sim  # noqa: F401

SHEET = "1LedgerSheetForExports"


def test_sync_builds_the_sheet_summary_and_export_lands_in_drive(
    signed_in: dict[str, str],  # noqa: F811
    fake_google: FakeGoogle,
) -> None:
    fake_google.sheets.create(SHEET)  # type: ignore[attr-defined]
    folder = fake_google.drive.add_folder("Bookkeeping")  # type: ignore[attr-defined]
    ok(billsync(signed_in, "connect", "digitalocean", "--name", "acme", "--sheet", SHEET,
                "--drive-folder", folder))  # fmt: skip
    ok(billsync(signed_in, "sync", "acme"))
    summary = fake_google.sheets.tab(SHEET, "Summary")  # type: ignore[attr-defined]
    assert len(summary.charts) == 1 and fake_google.sheets.tab(SHEET, "Clients")  # type: ignore[attr-defined]
    invoices = [r for r in records(fake_google, SHEET, "Invoices") if r["Status"] != "Preview"]
    period = invoices[-1]["Period"]

    out = ok(billsync(signed_in, "export", "xero", "--period", period, "--connection", "acme"))

    (exported,) = [f for f in fake_google.drive.files.values()  # type: ignore[attr-defined]
                   if f["name"] == f"{period} acme xero.csv"]  # fmt: skip
    parent = fake_google.drive.files[exported["parents"][0]]  # type: ignore[attr-defined]
    assert parent["name"] == "Exports" and parent["parents"] == [folder]
    assert exported["webViewLink"] in out
    content = fake_google.drive.content[exported["id"]][-1].decode("utf-8")  # type: ignore[attr-defined]
    totals = {r["Invoice ID"]: ("USD", Decimal(str(r["Total"]))) for r in invoices
              if r["Period"] == period}  # fmt: skip
    assert validate_xero(content) == totals
    runs = records(fake_google, SHEET, "Runs")
    assert exported["webViewLink"] in runs[-1]["Message"]
