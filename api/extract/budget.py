"""A paid Extractor behind a monthly page cap and a cache by content hash."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from api.core.document import ExtractedDocument
from api.core.text import counted
from api.errors import BudgetExceeded
from api.extract.pdf_file import page_count
from api.ports import ExtractionBook, Extractor, utcnow


class BudgetedExtractor:
    """`Extractor` that sends a PDF to `inner` only if its content was never read before and
    the connection's pages this month (UTC) stay within `page_cap`. Every call is counted
    (pages, `cost_per_page` USD estimate: Invoice Parser list price) after it succeeds."""

    def __init__(
        self,
        inner: Extractor,
        book: ExtractionBook,
        *,
        page_cap: int,
        cost_per_page: float = 0.01,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.book = book
        self.page_cap = page_cap
        self.cost_per_page = cost_per_page
        self.clock = clock

    def extract(self, pdf: Path, *, sha256: str, connection: str) -> ExtractedDocument:
        """Raises BudgetExceeded (the file waits for next month or a higher cap), and whatever
        `inner` raises."""
        cached = self.book.cached(sha256)
        if cached is not None:
            return cached
        pages = page_count(pdf)
        month = f"{self.clock().astimezone(dt.UTC):%Y-%m}"
        used = self.book.pages_used(connection, month)
        if used + pages > self.page_cap:
            raise BudgetExceeded(
                f"The extraction budget of '{connection}' for {month} is spent: {used} of "
                f"{counted(self.page_cap, 'page')} used, this PDF has {pages}.",
                action="Raise BILLSYNC_EXTRACT_PAGE_CAP or wait for next month; "
                "the PDF stays in the inbox.",
            )
        document = self.inner.extract(pdf, sha256=sha256, connection=connection)
        self.book.record(connection, month, sha256, document, pages * self.cost_per_page)
        return document
