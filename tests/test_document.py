"""Reading invoices: printed numbers and dates, the Document -> fields mapping, the local rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from api.core import printed
from api.core.document import (
    Entity,
    ExtractedDocument,
    PdfInvoice,
    PdfLine,
    document_from_dict,
    document_to_dict,
    read_invoice,
)
from api.core.pdf_ledger import pdf_rows
from api.extract.local import LocalExtractor
from tests.fakes import documentai as fake_docai
from tests.fakes import invoice_pdfs


@pytest.mark.parametrize(
    ("text", "separator", "expected"),
    [
        ("34,24", None, "34.24"),
        ("1.234,56", None, "1234.56"),
        ("1 234,56 €", None, "1234.56"),
        ("$2,140.00", None, "2140.00"),
        ("1,000", ",", "1.000"),
        ("1,000", ".", "1000"),
        ("-12.50", None, "-12.50"),
        ("(12.00)", None, "-12.00"),
        ("12.50-", None, "-12.50"),
        ("EUR 0,0974", None, "0.0974"),
        ("n/a", None, None),
    ],
)
def test_printed_amounts_in_any_locale(text: str, separator: str | None, expected: str) -> None:
    found = printed.amount(text, decimal_separator=separator)
    assert found == (None if expected is None else Decimal(expected))


@pytest.mark.parametrize(
    ("text", "day_first", "expected"),
    [
        ("2020/01/01", False, dt.date(2020, 1, 1)),
        ("11/12/2022", True, dt.date(2022, 12, 11)),
        ("11/12/2022", False, dt.date(2022, 11, 12)),
        ("11 décembre 2022", True, dt.date(2022, 12, 11)),
        ("5. März 2024", True, dt.date(2024, 3, 5)),
        ("February 29, 2024", False, dt.date(2024, 2, 29)),
        ("31/02/2024", True, None),
        ("December", True, None),
    ],
)
def test_printed_dates(text: str, day_first: bool, expected: dt.date | None) -> None:
    assert printed.date(text, day_first=day_first) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [("1 234,56 €", "EUR"), ("USD 12", "USD"), ("£4.00", "GBP"), ("12.00", ""), ("CHF 3", "CHF")],
)
def test_currencies_from_codes_and_symbols(text: str, code: str) -> None:
    assert printed.currency(text) == code


def entity(kind: str, mention: str, confidence: float = 0.9, **extra: object) -> Entity:
    return Entity(type=kind, mention_text=mention, confidence=confidence, **extra)  # type: ignore[arg-type]


def test_normalized_values_win_over_the_mention_text() -> None:
    document = ExtractedDocument(
        (
            entity("total_amount", "1.234,56", amount=Decimal("1234.56"), currency_code="EUR"),
            entity("invoice_date", "11/12/2022", date_value=dt.date(2022, 12, 11)),
            entity("net_amount", "garbled", normalized_text="1000.00"),
        ),
        pages=1,
        extractor="documentai",
    )

    invoice = read_invoice(document)

    assert (invoice.total, invoice.net, invoice.currency) == (
        Decimal("1234.56"), Decimal("1000.00"), "EUR",
    )  # fmt: skip
    assert invoice.invoice_date == dt.date(2022, 12, 11)


def test_a_mention_with_a_decimal_comma_and_the_suppliers_currency() -> None:
    document = ExtractedDocument(
        (entity("total_amount", "1.234,56"), entity("tax", "x"), entity("supplier_name", "OVH")),
        pages=1,
        extractor="local",
    )

    invoice = read_invoice(document, supplier_currency="EUR")

    assert invoice.total == Decimal("1234.56") and invoice.currency == "EUR"
    assert "currency not found" not in invoice.review
    assert "currency taken from the supplier's other invoices (EUR)" in invoice.review
    assert "invoice number not found" in invoice.review and "tax not found" in invoice.review


def test_an_unreadable_value_is_flagged_and_left_empty() -> None:
    document = ExtractedDocument(
        (entity("total_amount", "see attached"), entity("invoice_date", "soon")),
        pages=1,
        extractor="local",
    )

    invoice = read_invoice(document)

    assert invoice.total is None and invoice.invoice_date is None
    assert "total unreadable ('see attached')" in invoice.review
    assert "invoice date unreadable ('soon')" in invoice.review


def test_totals_that_do_not_add_up_are_flagged() -> None:
    line = Entity(
        "line_item", "x", 1.0,
        properties=(entity("line_item/description", "Hosting"),
                    entity("line_item/amount", "90.00")),
    )  # fmt: skip
    document = ExtractedDocument(
        (entity("net_amount", "100.00"), entity("total_tax_amount", "20.00"),
         entity("total_amount", "125.00"), line),
        pages=1, extractor="local",
    )  # fmt: skip

    review = read_invoice(document).review

    assert "net 100.00 + tax 20.00 ≠ total 125.00" in review
    assert "lines sum 90.00 ≠ net 100.00" in review


def test_an_extraction_survives_its_stored_form() -> None:
    line = Entity("line_item", "a", 1.0, properties=(entity("line_item/amount", "1,50"),))
    document = ExtractedDocument(
        (entity("total_amount", "1,50", 0.4, amount=Decimal("1.5"), currency_code="EUR"),
         entity("invoice_date", "1/2/2024", date_value=dt.date(2024, 2, 1)), line),
        pages=3, extractor="documentai", notes=("a note",),
    )  # fmt: skip

    assert document_from_dict(document_to_dict(document)) == document


@pytest.mark.parametrize("layout", ["ruled", "eu", "multipage", "credit"])
def test_the_local_extractor_reads_generated_layouts_exactly(tmp_path: Path, layout: str) -> None:
    path, truth = invoice_pdfs.write(tmp_path, layout)

    invoice = read_invoice(LocalExtractor().extract(path))

    assert invoice.review == ()
    assert (invoice.invoice_id, invoice.supplier, invoice.currency) == (
        truth.invoice_id, truth.supplier, truth.currency,
    )  # fmt: skip
    assert (invoice.invoice_date, invoice.due_date) == (truth.invoice_date, truth.due_date)
    assert (invoice.net, invoice.tax, invoice.total) == (
        truth.signed(truth.net), truth.signed(truth.tax), truth.signed(truth.total),
    )  # fmt: skip
    assert [line.amount for line in invoice.lines] == [truth.signed(a) for a in truth.amounts()]
    assert [line.description for line in invoice.lines] == [d for d, _, _ in truth.lines]
    assert invoice.credit_note is truth.credit


def test_an_unlabelled_supplier_is_not_guessed_from_the_letterhead(tmp_path: Path) -> None:
    path, truth = invoice_pdfs.write(tmp_path, "unlabelled")

    invoice = read_invoice(LocalExtractor().extract(path))

    assert invoice.supplier == "" and invoice.review == ("supplier not found",)
    assert invoice.total == truth.total


def test_lines_without_a_printed_net_are_checked_against_total_less_tax(tmp_path: Path) -> None:
    path, truth = invoice_pdfs.write(tmp_path, "gross")  # no supplier label, no subtotal

    invoice = read_invoice(LocalExtractor().extract(path))
    row, lines = pdf_rows(invoice, sha256="0" * 64)

    assert invoice.net is None and (invoice.tax, invoice.total) == (truth.tax, truth.total)
    assert invoice.review == ("supplier not found", "net not found"), "lines = total - tax"
    assert row.reconciled is True and sum(line.amount for line in lines[:-1]) == truth.net
    assert (lines[-1].category, lines[-1].amount) == ("Tax", truth.tax)
    assert row.lines_total == truth.total
    assert row.account == "" and row.review.startswith("supplier not found")


def test_lines_that_miss_total_less_tax_are_named_against_it() -> None:
    line = Entity(
        "line_item",
        "x",
        1.0,
        properties=(
            entity("line_item/description", "Hosting"),
            entity("line_item/amount", "60.00"),
        ),
    )
    fields = (entity("total_amount", "77.40"), entity("currency", "USD"),
              entity("total_tax_amount", "12.90"))  # fmt: skip
    document = ExtractedDocument((*fields, line), 1, "local")

    invoice = read_invoice(document)

    assert "lines sum 60.00 ≠ total 77.40 − tax 12.90 = 64.50" in invoice.review
    assert pdf_rows(invoice, sha256="1" * 64)[0].reconciled is False


def test_a_scan_yields_nothing_and_says_why(tmp_path: Path) -> None:
    path, _ = invoice_pdfs.write(tmp_path, "scan")

    document = LocalExtractor().extract(path)
    invoice = read_invoice(document)

    assert document.entities == () and document.pages == 1
    assert invoice.review[0].startswith("no text layer")
    assert invoice.total is None and invoice.invoice_id == "" and invoice.lines == ()


@pytest.mark.skipif(not fake_docai.have_reference(), reason="../shared/reference is absent")
@pytest.mark.parametrize("name", ["google_invoice.pdf", "energy_invoice_stained.pdf"])
def test_the_reference_scans_come_out_empty_and_flagged_locally(name: str) -> None:
    """Both reference PDFs are scanned images: the local extractor must not invent a value."""
    invoice = read_invoice(LocalExtractor().extract(fake_docai.reference_path(name)))

    assert (invoice.invoice_id, invoice.supplier, invoice.total, invoice.lines) == (
        "",
        "",
        None,
        (),
    )
    assert invoice.review[0].startswith("no text layer") and "total not found" in invoice.review


D = Decimal


@pytest.mark.parametrize(("net", "tax", "grand", "amounts", "added"), [
    # lines before tax (they match the net): the printed tax becomes a Tax line
    (D("100.00"), D("20.00"), D("120.00"), ["60.00", "40.00"], [("Tax", D("20.00"))]),
    # no net printed, lines match total less tax: the same
    (None, D("20.00"), D("120.00"), ["100.00"], [("Tax", D("20.00"))]),
    # the tax is billed as a line already (lines match the total): nothing added
    (D("100.00"), D("20.00"), D("120.00"), ["100.00", "20.00"], []),
    # no tax printed, or a zero tax: nothing added
    (None, None, D("100.00"), ["100.00"], []),
    (D("100.00"), D("0.00"), D("100.00"), ["100.00"], []),
    # lines that match no printed amount: Review names them, no made-up difference
    (D("100.00"), D("20.00"), D("120.00"), ["90.00"], []),
    # no line read: one "not itemised" row for the net, then the tax
    (D("100.00"), D("20.00"), D("120.00"), [],
     [("Other", D("100.00")), ("Tax", D("20.00"))]),
    (None, D("20.00"), D("120.00"), [], [("Other", D("100.00")), ("Tax", D("20.00"))]),
    (None, None, D("75.00"), [], [("Other", D("75.00"))]),
    (None, None, None, [], []),
    # a credit note: its negative tax is a negative Tax line
    (D("-50.00"), D("-10.00"), D("-60.00"), ["-50.00"], [("Tax", D("-10.00"))]),
])  # fmt: skip
def test_inbox_lines_add_up_to_the_printed_total_as_a_providers_do(
    net: Decimal | None, tax: Decimal | None, grand: Decimal | None,
    amounts: list[str], added: list[tuple[str, Decimal]],
) -> None:  # fmt: skip
    pdf = PdfInvoice(
        invoice_id="INV-9", supplier="Acme", currency="EUR", net=net, tax=tax, total=grand,
        lines=tuple(PdfLine(f"item {n}", D(a)) for n, a in enumerate(amounts, 1)),
    )  # fmt: skip

    invoice, lines = pdf_rows(pdf, sha256="2" * 64)

    extra = lines[len(amounts) :]
    assert [(line.category, line.amount) for line in extra] == added
    assert [line.position for line in lines] == list(range(1, len(lines) + 1))
    if added and grand is not None:
        assert invoice.lines_total == grand, "Line Items now sum to the invoice total"


@pytest.mark.parametrize(("line", "net"), [
    ("Net: 42.81", "42.81"),
    ("Netto: 42,81 €", "42,81 €"),
    ("Net value: $42.81", "$42.81"),
    ("Subtotal: 42.81", "42.81"),
    ("Payment terms: Net 30", None),
    ("Network transfer 42.81", None),
])  # fmt: skip
def test_the_net_is_found_by_its_label_and_not_in_payment_terms(line: str, net: str | None) -> None:
    from api.extract.rules import field_entities

    found = {e.type: e.mention_text for e in field_entities([line])}

    assert found.get("net_amount") == net, found
