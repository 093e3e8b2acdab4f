"""The embedded Extractor: pdfplumber text and tables, read with labelled rules. No network."""

from __future__ import annotations

from pathlib import Path

import pdfplumber

from api.core.document import ExtractedDocument
from api.errors import RejectedDocument
from api.extract.pdf_file import open_pdf
from api.extract.rules import field_entities
from api.extract.tables import table_lines, text_lines

NO_TEXT = "no text layer (a scanned image): nothing was read; check the PDF by hand"


class LocalExtractor:
    """`Extractor` over the PDF's own text layer. A scan (no text) yields no fields and a note;
    nothing is inferred from layout or position, so an empty field means "not printed with a
    label we know", never a guess."""

    name = "local"

    def extract(self, pdf: Path, *, sha256: str = "", connection: str = "") -> ExtractedDocument:
        """Raises RejectedDocument when the file is not a readable PDF."""
        open_pdf(pdf)
        try:
            with pdfplumber.open(pdf) as document:
                pages = len(document.pages)
                texts: list[str] = []
                tables: list[list[list[str | None]]] = []
                for page in document.pages:
                    texts.append(page.extract_text() or "")
                    tables.extend(page.extract_tables())
        except Exception as exc:  # pdfminer raises many types on malformed content
            raise RejectedDocument(f"damaged ({type(exc).__name__})") from None
        text = "\n".join(texts)
        if not text.strip():
            return ExtractedDocument((), pages, self.name, notes=(NO_TEXT,))
        lines = text.splitlines()
        entities = field_entities(lines)
        items = table_lines(tables) or text_lines(lines)
        return ExtractedDocument(tuple(entities + items), pages, self.name, text=text)
