"""The PDF inbox end to end on the workbook + folder, with the local extractor."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from api import connections
from api.extractors import build_extractor
from api.factory import Services
from api.inbox import PdfInbox
from api.inboxes import local_inbox
from api.ports import InboxItem
from api.simulators.digitalocean import DEMO_TOKEN
from tests.fakes import invoice_pdfs


def run_inbox(services: Services) -> Any:
    return local_inbox(services, build_extractor(services.settings)).run()


def invoices(services: Services) -> dict[str, dict[str, Any]]:
    return {row["Invoice Key"]: row for row in services.sink.rows("Invoices")}


def test_a_dropped_pdf_becomes_a_row_its_lines_and_an_archived_file(services: Services) -> None:
    inbox = services.settings.inbox_dir
    path, truth = invoice_pdfs.write(inbox, "ruled", "acme.pdf")
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()

    run = run_inbox(services)

    assert run.status == "succeeded", run.message
    assert run.counts.new == 1 and run.counts.line_items == 3  # two read, one the printed tax
    row = invoices(services)[f"pdf:{digest}"]
    assert row["Provider"] == "PDF" and row["Account"] == truth.supplier
    assert row["Invoice ID"] == truth.invoice_id and row["Period"] == "2024-02"
    assert row["Invoice Date"] == truth.invoice_date and row["Due Date"] == truth.due_date
    assert (row["Total"], row["Taxes"], row["Currency"]) == (truth.total, truth.tax, "USD")
    assert row["Line Items Total"] == truth.total and row["Reconciled"] is True
    assert row["Review"] == ""
    archived = services.files.location() + "/PDF/Acme Hosting Ltd/2024/2024-02 INV-1001.pdf"
    assert Path(archived).read_bytes() == content
    assert row["PDF"] == "2024-02 INV-1001.pdf"  # a link cell reads back as its text
    lines = [r for r in services.sink.rows("Line Items") if r["Invoice Key"] == f"pdf:{digest}"]
    *read, tax = lines
    assert [(r["Description"], r["Quantity"], r["Unit Price"], r["Amount"]) for r in read] == [
        (d, q, p, a) for (d, q, p), a in zip(truth.lines, truth.amounts(), strict=True)
    ]
    assert (tax["Category"], tax["Amount"]) == ("Tax", truth.tax), "the lines add up to the total"
    assert not path.exists(), "the file leaves the inbox once its rows are written"
    runs = services.sink.rows("Runs")
    assert runs[-1]["Connection"] == "inbox" and "1 new" in runs[-1]["Message"]


def test_the_same_file_or_the_same_invoice_number_is_never_added_twice(
    services: Services,
) -> None:
    inbox = services.settings.inbox_dir
    first, _ = invoice_pdfs.write(inbox, "ruled", "a.pdf")
    content = first.read_bytes()
    assert run_inbox(services).counts.new == 1

    (inbox / "again.pdf").write_bytes(content)  # the same bytes under another name
    pdf = invoice_pdfs.render("ruled") + b"\n%% re-saved\n"  # same invoice, other bytes
    (inbox / "resaved.pdf").write_bytes(pdf)
    run = run_inbox(services)

    assert run.status == "succeeded" and run.counts.new == 0 and run.counts.unchanged == 2
    assert "INV-1001 of Acme Hosting Ltd again" in run.message
    assert len([r for r in invoices(services).values() if r["Provider"] == "PDF"]) == 1
    assert list(inbox.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("notes.txt", b"hello", "not a PDF"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj garbage", "damaged"),
    ],
)
def test_a_bad_file_moves_to_rejected_with_its_reason_and_nothing_else_changes(
    services: Services, name: str, content: bytes, reason: str
) -> None:
    inbox = services.settings.inbox_dir
    invoice_pdfs.write(inbox, "eu", "good.pdf")
    (inbox / name).write_bytes(content)

    run = run_inbox(services)

    # Partial: the good file was written, the bad one is named with its reason.
    assert run.status == "partial" and run.counts.new == 1
    assert run.phase == "done"
    assert run.message.startswith("1 new, ") and f"rejected {name}: {reason}" in run.message
    assert services.sink.rows("Runs")[-1]["Status"] == "partial"
    rejected = inbox / "rejected"
    assert (rejected / name).read_bytes() == content
    assert reason in (rejected / f"{name}.reason.txt").read_text()
    assert [p.name for p in inbox.iterdir()] == ["rejected"]


def test_an_encrypted_pdf_is_rejected(services: Services) -> None:
    from pypdf import PdfReader, PdfWriter

    inbox = services.settings.inbox_dir
    plain, _ = invoice_pdfs.write(inbox, "ruled", "plain.pdf")
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="s3cret", owner_password="owner")
    with (inbox / "locked.pdf").open("wb") as handle:
        writer.write(handle)
    plain.unlink()

    run = run_inbox(services)

    assert "rejected locked.pdf: encrypted" in run.message
    assert (inbox / "rejected" / "locked.pdf").exists() and invoices(services) == {}


def test_an_image_only_pdf_comes_out_flagged_not_invented(services: Services) -> None:
    inbox = services.settings.inbox_dir
    invoice_pdfs.write(inbox, "scan", "scan.pdf")

    run_inbox(services)

    (row,) = invoices(services).values()
    # Account stays empty (a placeholder would read as a supplier); Review flags it.
    assert row["Account"] in ("", None) and row["Invoice ID"] == ""
    assert row["Total"] is None and row["Invoice Date"] is None and row["Currency"] == ""
    assert "no text layer" in row["Review"] and "total not found" in row["Review"]
    assert "supplier not found" in row["Review"]
    assert row["Line Items"] == 0
    archived = Path(services.files.location()) / "PDF" / "Unknown supplier" / "undated"
    assert [p.suffix for p in archived.iterdir()] == [".pdf"]


def test_two_pdfs_without_a_supplier_and_with_one_number_are_both_kept(
    services: Services,
) -> None:
    inbox = services.settings.inbox_dir
    truth = invoice_pdfs.sample("gross")
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "a.pdf").write_bytes(invoice_pdfs.render("gross", truth))
    other = dataclasses.replace(truth, lines=truth.lines[:1])  # another supplier's INV-1001
    (inbox / "b.pdf").write_bytes(invoice_pdfs.render("gross", other))

    run = run_inbox(services)

    assert run.status == "succeeded" and run.counts.new == 2, run.message
    rows = list(invoices(services).values())
    assert [r["Account"] in ("", None) for r in rows] == [True, True]
    assert all(r["Reconciled"] is True and r["Review"].startswith("supplier not found")
               for r in rows)  # fmt: skip


def test_a_eu_invoice_and_a_credit_note_read_with_their_locale_and_sign(
    services: Services,
) -> None:
    inbox = services.settings.inbox_dir
    _, eu = invoice_pdfs.write(inbox, "eu", "facture.pdf")
    _, credit = invoice_pdfs.write(inbox, "credit", "credit.pdf")

    run_inbox(services)

    rows = {row["Invoice ID"]: row for row in invoices(services).values()}
    facture = rows[eu.invoice_id]
    assert (facture["Currency"], facture["Total"], facture["Invoice Date"]) == (
        "EUR", Decimal("1511.47"), dt.date(2024, 3, 5),
    )  # fmt: skip
    note = rows[credit.invoice_id]
    assert note["Status"] == "Credit note" and note["Total"] == -credit.total
    assert note["Reconciled"] is True


class CrashingSink:
    """The workbook, but the write fails as if the process died in the middle of it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def write(self, batch: Any) -> None:
        raise KeyboardInterrupt  # not a BillsyncError: nothing catches it

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_crash_before_the_write_leaves_every_file_in_the_inbox_for_the_next_run(
    services: Services,
) -> None:
    inbox = services.settings.inbox_dir
    invoice_pdfs.write(inbox, "ruled", "a.pdf")
    invoice_pdfs.write(inbox, "eu", "b.pdf")
    processor = local_inbox(services, build_extractor(services.settings))
    processor.sink = CrashingSink(services.sink)  # type: ignore[assignment]

    with pytest.raises(KeyboardInterrupt):
        processor.run()

    assert sorted(p.name for p in inbox.iterdir()) == ["a.pdf", "b.pdf"]
    run = run_inbox(services)
    assert run.counts.new == 2 and list(inbox.iterdir()) == []
    assert len(invoices(services)) == 2


class ForgetfulInbox:
    """An inbox whose `done` is lost (a crash right after the write)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def done(self, item: InboxItem) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_crash_after_the_write_only_takes_the_file_out_next_time(services: Services) -> None:
    inbox = services.settings.inbox_dir
    invoice_pdfs.write(inbox, "ruled", "a.pdf")
    processor: PdfInbox = local_inbox(services, build_extractor(services.settings))
    real = processor.inbox
    processor.inbox = ForgetfulInbox(real)  # type: ignore[assignment]
    assert processor.run().counts.new == 1  # type: ignore[union-attr]

    processor.inbox = real
    run = processor.run()

    assert run is not None and run.counts.new == 0 and run.counts.unchanged == 1
    assert list(inbox.iterdir()) == [] and len(invoices(services)) == 1


def test_a_pdf_whose_number_matches_an_api_invoice_is_attached_and_reconciled(
    services: Services,
) -> None:
    connections.connect(
        state=services.state, secrets=services.secrets, providers=services.provider,
        provider="digitalocean", name="acme", token=DEMO_TOKEN,
        options={"include_preview": False},
    )  # fmt: skip
    assert services.engine.sync("acme").status == "succeeded"
    target = next(r for r in services.sink.rows("Invoices") if r["Provider"] == "DigitalOcean")
    lines_before = [r for r in services.sink.rows("Line Items")
                    if r["Invoice Key"] == target["Invoice Key"]]  # fmt: skip
    truth = invoice_pdfs.Truth(
        target["Invoice ID"], target["Invoice Date"], target["Invoice Date"], "DigitalOcean",
        "USD", (("Droplets", Decimal(1), target["Total"] + Decimal("0.50")),), tax_rate=Decimal(0),
    )  # fmt: skip
    services.settings.inbox_dir.mkdir(parents=True)
    (services.settings.inbox_dir / "do.pdf").write_bytes(invoice_pdfs.render("ruled", truth))

    run = run_inbox(services)

    assert run.counts.updated == 1 and run.counts.new == 0, run.message
    row = invoices(services)[target["Invoice Key"]]
    assert row["PDF Total"] == target["Total"] + Decimal("0.50")
    assert row["Reconciled"] is False
    assert row["Review"] == f"PDF {row['PDF Total']} ≠ summary {target['Total']} (+0.50)"
    assert (row["PDF"], row["CSV"]) == (target["PDF"], target["CSV"])  # the same archive files
    lines_after = [r for r in services.sink.rows("Line Items")
                   if r["Invoice Key"] == target["Invoice Key"]]  # fmt: skip
    assert lines_after == lines_before
    assert not [r for r in invoices(services).values() if r["Provider"] == "PDF"]


def test_the_inbox_rebuilds_the_summary_and_allocates_the_new_lines(services: Services) -> None:
    """Rows from PDFs count in the Summary and get Client/Billable, as an API sync's do."""
    from tests.report_samples import check_summary, summary_blocks
    from tests.test_reports_workbook import summary_rows

    path, _ = invoice_pdfs.write(services.settings.inbox_dir, "ruled", "acme.pdf")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    run = run_inbox(services)

    assert run.status == "succeeded", run.message
    lines = services.sink.rows("Line Items")
    clients = {r["Category"]: r["Client"] for r in lines if r["Invoice Key"] == f"pdf:{digest}"}
    assert clients.pop("Tax") == "Shared" and set(clients.values()) == {"Unallocated"}
    check_summary(lines, summary_blocks(summary_rows(Path(services.sink.location()))))
