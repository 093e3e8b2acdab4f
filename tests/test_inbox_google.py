"""The PDF inbox on the fake Sheet + Drive: the "Inbox" folder inside the connection's folder."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from api.extract.local import LocalExtractor
from api.factory import Services
from api.inboxes import google_inbox, google_inboxes
from tests.fakes import invoice_pdfs
from tests.fakes.google import FakeGoogle
from tests.test_google_sync import NAME, google_settings, services, sheet  # noqa: F401


def drive_inbox(built: Services, fake_google: FakeGoogle) -> str:
    root = built.state.get_connection(NAME).options["drive_folder"]
    return str(fake_google.drive.add_folder("Inbox", root))  # type: ignore[attr-defined]


def upload(fake_google: FakeGoogle, folder: str, name: str, data: bytes, mime: str) -> str:
    meta = {"name": name, "parents": [folder], "mimeType": mime}
    return str(fake_google.drive.insert(meta, data)["id"])  # type: ignore[attr-defined]


def files(fake_google: FakeGoogle) -> dict[str, dict[str, Any]]:
    return fake_google.drive.files  # type: ignore[attr-defined,no-any-return]


def test_a_pdf_in_the_drive_inbox_becomes_a_sheet_row_and_an_archived_drive_file(
    services: Services,  # noqa: F811 - the fixture imported above
    fake_google: FakeGoogle,
) -> None:
    inbox = drive_inbox(services, fake_google)
    pdf = invoice_pdfs.render("ruled")
    truth = invoice_pdfs.sample("ruled")
    dropped = upload(fake_google, inbox, "acme.pdf", pdf, "application/pdf")
    notes = upload(fake_google, inbox, "notes.txt", b"not a pdf", "text/plain")
    connection = services.state.get_connection(NAME)

    run = google_inbox(services, connection, LocalExtractor()).run()

    # notes.txt was rejected: the run is partial, the PDF written all the same.
    assert run is not None and run.status == "partial", run and run.message
    assert run.connection == f"inbox:{NAME}" and run.counts.new == 1
    rows = sheet(services).rows("Invoices")
    (row,) = [r for r in rows if r["Provider"] == "PDF"]
    assert (row["Account"], row["Invoice ID"], row["Total"]) == (
        truth.supplier, truth.invoice_id, truth.total,
    )  # fmt: skip
    assert row["Line Items"] == 3 and row["Reconciled"] is True  # two read, one the printed tax
    lines = [
        r for r in sheet(services).rows("Line Items") if r["Invoice Key"] == row["Invoice Key"]
    ]
    assert [r["Amount"] for r in lines] == [*truth.amounts(), truth.tax]
    archived = [f for f in files(fake_google).values() if f["name"] == "2024-02 INV-1001.pdf"]
    content = fake_google.drive.content  # type: ignore[attr-defined]
    assert len(archived) == 1 and content[archived[0]["id"]][-1] == pdf
    assert files(fake_google)[dropped]["trashed"] is True
    rejected = files(fake_google)[notes]
    folder = files(fake_google)[rejected["parents"][0]]
    assert folder["name"] == "rejected" and folder["parents"] == [inbox]
    assert rejected["description"] == "Rejected by billsync: not a PDF"
    assert "rejected notes.txt: not a PDF" in sheet(services).rows("Runs")[-1]["Message"]

    again = list(google_inboxes(services, LocalExtractor()))
    assert [box.run() for box in again] == [None]  # nothing waits: no run, no write


def test_a_sheet_connection_that_opts_in_reconciles_pdfs_archived_in_drive(
    services: Services,  # noqa: F811 - the fixture imported above
) -> None:
    connection = services.state.remove_connection(NAME)
    options = {**connection.options, "extract_pdf": True}
    services.state.add_connection(replace(connection, options=options))

    run = services.engine.sync(NAME)

    assert run.status == "succeeded", run.message
    rows = sheet(services).rows("Invoices")
    with_pdf = [row for row in rows if row["PDF"]]
    assert len(with_pdf) == len(rows) - 1  # the month-to-date preview has no PDF
    assert all(row["PDF Total"] == row["Total"] for row in with_pdf)
    assert all(row["Reconciled"] is True and row["Review"] == "" for row in with_pdf)
