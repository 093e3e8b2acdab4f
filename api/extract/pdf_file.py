"""Checking an incoming file is a readable PDF, counting its pages, splitting it (pypdf)."""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError

from api.errors import RejectedDocument

MAGIC = b"%PDF-"


def open_pdf(path: Path) -> PdfReader:
    """A reader of a PDF that opens without a password.

    Raises RejectedDocument ("not a PDF", "encrypted", "damaged") with the reason as its message.
    """
    with path.open("rb") as handle:
        head = handle.read(1024)
    if MAGIC not in head:
        raise RejectedDocument("not a PDF")
    try:
        reader = PdfReader(path)
        # Owner-password-only PDFs (print/copy restrictions) open with an empty password.
        if reader.is_encrypted and not reader.decrypt(""):
            raise RejectedDocument("encrypted (it needs a password)")
        if len(reader.pages) == 0:
            raise RejectedDocument("a PDF without pages")
    except RejectedDocument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise RejectedDocument(f"damaged ({type(exc).__name__})") from None
    return reader


def page_count(path: Path) -> int:
    return len(open_pdf(path).pages)


def split(path: Path, pages_per_part: int) -> list[bytes]:
    """The PDF cut into parts of at most `pages_per_part` pages, each a complete PDF."""
    reader = open_pdf(path)
    parts: list[bytes] = []
    for start in range(0, len(reader.pages), pages_per_part):
        writer = PdfWriter()
        for page in reader.pages[start : start + pages_per_part]:
            writer.add_page(page)
        out = io.BytesIO()
        writer.write(out)
        parts.append(out.getvalue())
    return parts
