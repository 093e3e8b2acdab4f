"""The inbox with Document AI behind the extraction budget: the real responses end to end."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Iterator
from decimal import Decimal

import pytest
from google.auth.credentials import AnonymousCredentials

from api.extract.budget import BudgetedExtractor
from api.extract.documentai import DocumentAiExtractor, retry_policy
from api.factory import Services
from api.inboxes import local_inbox
from api.state.extraction import SqlExtractionBook
from tests.fakes import documentai as fake_docai
from tests.fakes.documentai import PROCESSOR, FakeDocumentAi

pytestmark = pytest.mark.skipif(
    not fake_docai.have_reference(), reason="../shared/reference is not beside this checkout"
)
NOW = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)


@pytest.fixture
def fake() -> Iterator[FakeDocumentAi]:
    with FakeDocumentAi() as server:
        yield server


def budgeted(services: Services, fake: FakeDocumentAi, cap: int) -> BudgetedExtractor:
    remote = DocumentAiExtractor(
        PROCESSOR, api_url=fake.url, credentials=AnonymousCredentials(),
        retry=retry_policy(deadline=0.2, initial=0.01, maximum=0.02),
    )  # fmt: skip
    book = SqlExtractionBook(services.settings.database_url)
    return BudgetedExtractor(remote, book, page_cap=cap, cost_per_page=0.01, clock=lambda: NOW)


def drop(services: Services, reference: str, name: str | None = None) -> None:
    services.settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(
        fake_docai.reference_path(reference), services.settings.inbox_dir / (name or reference)
    )


def test_the_google_invoice_becomes_a_row_and_its_pages_are_counted(
    services: Services, fake: FakeDocumentAi
) -> None:
    extractor = budgeted(services, fake, cap=10)
    drop(services, "google_invoice.pdf")

    run = local_inbox(services, extractor).run()

    assert run is not None and run.counts.new == 1, run and run.message
    (row,) = services.sink.rows("Invoices")
    assert (row["Account"], row["Invoice ID"], row["Currency"]) == (
        "Google Singapore",
        "1001",
        "USD",
    )
    assert (row["Total"], row["Taxes"], row["Line Items Total"]) == (
        Decimal("2140.00"), Decimal("140.00"), Decimal("2140.00"),
    )  # fmt: skip  # the lines read (2000.00) and the printed tax as a line
    assert row["Reconciled"] is True and row["Review"] == ""
    assert extractor.book.usage("2026-11") == [("inbox", 1, 0.01)]
    assert len(fake.calls) == 1


def test_the_same_content_is_never_sent_twice(services: Services, fake: FakeDocumentAi) -> None:
    extractor = budgeted(services, fake, cap=10)
    pdf = fake_docai.reference_path("google_invoice.pdf")
    digest = hashlib.sha256(pdf.read_bytes()).hexdigest()

    first = extractor.extract(pdf, sha256=digest, connection="acme")
    again = extractor.extract(pdf, sha256=digest, connection="other")

    assert len(fake.calls) == 1 and again.entities == first.entities
    assert extractor.book.usage("2026-11") == [("acme", 1, 0.01)]


def test_the_monthly_page_cap_stops_extraction_and_leaves_the_file(
    services: Services, fake: FakeDocumentAi
) -> None:
    extractor = budgeted(services, fake, cap=2)
    drop(services, "google_invoice.pdf")  # 1 page
    drop(services, "energy_invoice_stained.pdf")  # 2 pages: 3 > 2

    run = local_inbox(services, extractor).run()

    assert run is not None and run.counts.new == 1
    assert "The extraction budget of 'inbox' for 2026-11 is spent: 1 of 2 pages used" in run.message
    assert [p.name for p in services.settings.inbox_dir.iterdir()] == ["energy_invoice_stained.pdf"]
    assert [c.pages for c in fake.calls] == [1]
    assert "is spent" in services.sink.rows("Runs")[-1]["Message"]


def test_a_quota_error_leaves_the_file_for_the_next_run(
    services: Services, fake: FakeDocumentAi
) -> None:
    extractor = budgeted(services, fake, cap=10)
    drop(services, "google_invoice.pdf")
    fake.fail_next(429, "Quota exceeded for quota metric 'Online process requests'")

    run = local_inbox(services, extractor).run()

    assert run is not None and run.status == "partial" and run.counts.new == 0
    assert "google_invoice.pdf left in the inbox: Document AI quota is exhausted" in run.message
    assert services.sink.rows("Invoices") == [] and extractor.book.usage("2026-11") == []

    again = local_inbox(services, extractor).run()
    assert again is not None and again.counts.new == 1
    assert list(services.settings.inbox_dir.iterdir()) == []


def test_the_energy_bill_is_flagged_where_document_ai_was_unsure(
    services: Services, fake: FakeDocumentAi
) -> None:
    drop(services, "energy_invoice_stained.pdf")

    local_inbox(services, budgeted(services, fake, cap=10)).run()

    (row,) = services.sink.rows("Invoices")
    assert (row["Account"], row["Currency"], row["Total"]) == ("EDF", "EUR", Decimal("62.86"))
    assert row["Period"] == "2022-12" and row["Reconciled"] is False
    assert "supplier low confidence (0.44)" in row["Review"]
    assert "due date low confidence (0.30)" in row["Review"]
    assert "lines sum" in row["Review"]
