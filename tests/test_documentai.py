"""The Document AI extractor (google-cloud-documentai, REST) against the fake endpoint replaying
the real Invoice Parser responses, and the core mapping of those responses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fpdf import FPDF
from google.auth.credentials import AnonymousCredentials

from api.core.document import read_invoice
from api.errors import ConfigError, ExtractionError, RejectedDocument
from api.extract.documentai import DocumentAiExtractor, endpoint_for, retry_policy
from tests.fakes import documentai as fake_docai
from tests.fakes.documentai import PROCESSOR, FakeDocumentAi

pytestmark = pytest.mark.skipif(
    not fake_docai.have_reference(), reason="../shared/reference is not beside this checkout"
)


@pytest.fixture
def fake() -> Iterator[FakeDocumentAi]:
    with FakeDocumentAi() as server:
        yield server


@pytest.fixture
def extractor(fake: FakeDocumentAi) -> DocumentAiExtractor:
    return DocumentAiExtractor(
        PROCESSOR, api_url=fake.url, credentials=AnonymousCredentials(),
        retry=retry_policy(deadline=0.5, initial=0.01, maximum=0.05),
    )  # fmt: skip


def blank_pdf(path: Path, pages: int) -> Path:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for n in range(pages):
        pdf.add_page()
        pdf.cell(text=f"page {n + 1}")
    pdf.output(str(path))
    return path


def test_the_google_invoice_maps_to_its_printed_fields(
    fake: FakeDocumentAi, extractor: DocumentAiExtractor
) -> None:
    document = extractor.extract(fake_docai.reference_path("google_invoice.pdf"))
    invoice = read_invoice(document, threshold=0.5)

    assert (invoice.invoice_id, invoice.supplier, invoice.currency) == (
        "1001", "Google Singapore", "USD",
    )  # fmt: skip
    assert (invoice.invoice_date, invoice.due_date) == (dt.date(2020, 1, 1), dt.date(2020, 12, 1))
    assert (invoice.net, invoice.tax, invoice.total) == (
        Decimal(2000), Decimal(140), Decimal(2140),
    )  # fmt: skip
    assert [(line.description, line.quantity, line.amount) for line in invoice.lines] == [
        ("Tool A", Decimal(500), Decimal(500)),
        ("Service B", Decimal(1), Decimal(900)),
        ("Resource C", Decimal(50), Decimal(600)),
    ]
    assert invoice.review == ()  # supplier_name is 0.60 and currency 0.598: above 0.5
    assert [(c.pages, c.imageless, c.status) for c in fake.calls] == [(1, False, 200)]


def test_a_threshold_above_a_fields_confidence_flags_it_without_dropping_it(
    extractor: DocumentAiExtractor,
) -> None:
    document = extractor.extract(fake_docai.reference_path("google_invoice.pdf"))

    invoice = read_invoice(document, threshold=0.7)

    assert invoice.supplier == "Google Singapore"
    assert "supplier low confidence (0.60)" in invoice.review
    assert "currency low confidence (0.60)" in invoice.review
    assert "total low confidence (0.76)" not in invoice.review


def test_the_french_energy_bill_reads_decimal_commas_and_day_first_dates(
    extractor: DocumentAiExtractor,
) -> None:
    document = extractor.extract(fake_docai.reference_path("energy_invoice_stained.pdf"))
    invoice = read_invoice(document, threshold=0.5)

    assert (invoice.currency, invoice.total, invoice.net, invoice.tax) == (
        "EUR", Decimal("62.86"), Decimal("54.87"), Decimal("7.99"),
    )  # fmt: skip
    assert invoice.invoice_date == dt.date(2022, 12, 11) and invoice.invoice_id == "12345678901"
    assert "supplier low confidence (0.44)" in invoice.review  # EDF at 0.44: kept, flagged
    assert invoice.supplier == "EDF"
    assert any(r.startswith("lines sum") for r in invoice.review)  # its lines do not add up


def test_money_without_a_currency_code_takes_the_currency_entity(
    fake: FakeDocumentAi, extractor: DocumentAiExtractor
) -> None:
    pdf = fake_docai.reference_path("google_invoice.pdf")
    fake.answer(pdf.read_bytes(), fake_docai.without_currency_codes(fake_docai.google_invoice()))

    invoice = read_invoice(extractor.extract(pdf))

    assert invoice.currency == "USD" and invoice.total == Decimal(2140)


def test_a_low_confidence_total_is_kept_and_flagged(
    fake: FakeDocumentAi, extractor: DocumentAiExtractor
) -> None:
    pdf = fake_docai.reference_path("google_invoice.pdf")
    unsure = fake_docai.with_confidence(fake_docai.google_invoice(), "total_amount", 0.12)
    fake.answer(pdf.read_bytes(), unsure)

    invoice = read_invoice(extractor.extract(pdf), threshold=0.5)

    assert invoice.total == Decimal(2140) and "total low confidence (0.12)" in invoice.review


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (429, "Quota exceeded for quota metric 'Online process requests'", "quota is exhausted"),
        (403, "Permission 'documentai.processors.processOnline' denied", "refused the credentials"),
        (400, "Document pages exceed the limit: 15 got 16.", "refused the PDF (400"),
        (503, "The service is currently unavailable.", "Document AI failed"),
    ],
)
def test_a_refusal_becomes_a_clear_extraction_error(
    fake: FakeDocumentAi, extractor: DocumentAiExtractor, status: int, message: str, expected: str
) -> None:
    for _ in range(200):  # 503 is retried (briefly, in tests) until the deadline
        fake.fail_next(status, message)

    with pytest.raises(ExtractionError) as caught:
        extractor.extract(fake_docai.reference_path("google_invoice.pdf"))

    assert expected in str(caught.value) and "inbox" in str(caught.value)
    assert not isinstance(caught.value, RejectedDocument)
    assert fake.calls and all(call.status == status for call in fake.calls)
    assert len(fake.calls) == 1 or status == 503  # only 503 is retried


@pytest.mark.parametrize(
    ("pages", "calls"),
    [(15, [(15, False)]), (16, [(16, True)]), (30, [(30, True)]),
     (61, [(30, True), (30, True), (1, True)])],
)  # fmt: skip
def test_long_pdfs_go_imageless_then_split_and_the_answers_merge(
    fake: FakeDocumentAi,
    extractor: DocumentAiExtractor,
    tmp_path: Path,
    pages: int,
    calls: list[tuple[int, bool]],
) -> None:
    document = extractor.extract(blank_pdf(tmp_path / "long.pdf", pages))

    assert [(c.pages, c.imageless) for c in fake.calls] == calls
    assert all(c.status == 200 for c in fake.calls)
    assert document.pages == pages
    assert len([e for e in document.entities if e.type == "line_item"]) == pages


def test_the_fake_refuses_too_many_pages_like_the_service(fake: FakeDocumentAi) -> None:
    import base64

    import httpx

    pdf = FPDF()
    for _ in range(16):
        pdf.add_page()
    body = {"rawDocument": {"content": base64.b64encode(bytes(pdf.output())).decode(),
                            "mimeType": "application/pdf"}}  # fmt: skip
    answer = httpx.post(f"{fake.url}/v1/{PROCESSOR}:process", json=body)

    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "exceed the limit: 15 got 16" in answer.json()["error"]["message"]


def test_the_endpoint_follows_the_processor_location_unless_set() -> None:
    assert endpoint_for(PROCESSOR) == "eu-documentai.googleapis.com"
    us = "projects/p/locations/us/processors/abc/processorVersions/pretrained-invoice-v2.0"
    assert endpoint_for(us) == "us-documentai.googleapis.com"
    assert endpoint_for(us, "http://127.0.0.1:9/") == "http://127.0.0.1:9"
    with pytest.raises(ConfigError, match="DOCUMENTAI_PROCESSOR must look like"):
        endpoint_for("processors/abc")
