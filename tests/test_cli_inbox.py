"""`billsync inbox` and `billsync sync` reading the PDF inbox, as a person runs them."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from tests.fakes import invoice_pdfs
from tests.test_cli import billsync


def test_billsync_inbox_reads_the_folder_and_rejects_what_is_not_a_pdf(tmp_path: Path) -> None:
    home = tmp_path / "h"
    empty = billsync(home, ["inbox"])
    assert empty.returncode == 0 and "Nothing in the inbox" in empty.stdout

    invoice_pdfs.write(home / "inbox", "eu", "facture.pdf")
    (home / "inbox" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a pdf")
    result = billsync(home, ["inbox"])

    assert result.returncode == 0, result.stderr
    assert (
        "inbox: Inbox: 1 new" in result.stdout and "rejected photo.jpg: not a PDF" in result.stdout
    )
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
    assert "inbox: Inbox: 1 new" in result.stdout and not (home / "inbox" / "a.pdf").exists()

    nothing = billsync(home, ["sync"])
    assert nothing.returncode != 0 and "nothing to sync" in nothing.stderr.lower()
