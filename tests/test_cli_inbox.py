"""`billsync inbox` and `billsync sync` reading the PDF inbox, as a person runs them."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from tests.fakes import invoice_pdfs
from tests.test_cli import billsync


def test_billsync_inbox_reads_the_folder_and_rejects_what_is_not_a_pdf(tmp_path: Path) -> None:
    home = tmp_path / "h"
    empty = billsync(home, ["inbox"])
    assert empty.returncode == 0 and "Nothing in the inbox" in empty.stdout

    invoice_pdfs.write(home / "inbox", "eu", "facture.pdf")
    (home / "inbox" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a pdf")
    result = billsync(home, ["inbox"])

    # A rejected file makes the run partial: exit status 1, the line on stderr names the file.
    assert result.returncode == 1, result.stderr
    assert "partial: inbox: 1 new, " in result.stderr and "Inbox:" not in result.stderr
    assert "rejected photo.jpg: not a PDF" in result.stderr
    book = openpyxl.load_workbook(home / "ledger.xlsx", read_only=True)
    header, *rows = list(book["Invoices"].iter_rows(values_only=True))
    (row,) = [dict(zip(header, r, strict=False)) for r in rows]
    assert (row["Provider"], row["Account"], row["Invoice ID"]) == (
        "PDF", "Hébergement Dupont SARL", "F-2024-031",
    )  # fmt: skip
    assert (home / "inbox" / "rejected" / "photo.jpg").exists()
    assert (home / "archive" / "PDF" / "Hébergement Dupont SARL" / "2024").is_dir()


def test_billsync_sync_reads_the_inbox_too(tmp_path: Path) -> None:
    home = tmp_path / "h"
    invoice_pdfs.write(home / "inbox", "ruled", "a.pdf")

    result = billsync(home, ["sync"])  # no API connection: the inbox alone

    assert result.returncode == 0, result.stderr
    assert "  inbox: 1 new, " in result.stdout and not (home / "inbox" / "a.pdf").exists()

    (home / "inbox" / "notes.txt").write_bytes(b"hello")
    rejected = billsync(home, ["sync"])
    assert rejected.returncode == 1 and "rejected notes.txt: not a PDF" in rejected.stderr

    nothing = billsync(home, ["sync"])
    assert nothing.returncode != 0 and "nothing to sync" in nothing.stderr.lower()


def test_billsync_usage_shows_the_months_document_ai_pages(tmp_path: Path) -> None:
    from api.core.document import ExtractedDocument
    from api.state.extraction import SqlExtractionBook

    home = tmp_path / "h"
    none = billsync(home, ["usage", "--month", "2026-11"])
    assert none.returncode == 0 and "No Document AI pages in 2026-11." in none.stdout

    book = SqlExtractionBook(f"sqlite:///{home / 'state.db'}")
    book.record("acme", "2026-11", "a" * 64, ExtractedDocument((), 40, "documentai"), 0.40)
    book.record("inbox", "2026-11", "b" * 64, ExtractedDocument((), 2, "documentai"), 0.02)
    shown = billsync(
        home, ["usage", "--month", "2026-11"], env={"BILLSYNC_EXTRACT_PAGE_CAP": "200"}
    )

    assert shown.returncode == 0, shown.stderr
    lines = [line.split() for line in shown.stdout.splitlines()[1:]]
    assert lines == [["acme", "40", "20%", "0.40"], ["inbox", "2", "1%", "0.02"]]


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "november"])
def test_billsync_usage_refuses_a_month_that_is_not_one(tmp_path: Path, month: str) -> None:
    refused = billsync(tmp_path / "h", ["usage", "--month", month])

    assert refused.returncode == 2 and "'--month'" in refused.stderr
    assert f"'{month}'" in refused.stderr and "%Y-%m" in refused.stderr
