"""The extraction budget's table on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from api.core.document import Entity, ExtractedDocument
from api.state.extraction import SqlExtractionBook
from tests.test_state_store import database_url  # noqa: F401 - the two-database fixture

NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def document(pages: int) -> ExtractedDocument:
    total = Entity("total_amount", "12,50 €", 0.8, amount=Decimal("12.5"), currency_code="EUR")
    return ExtractedDocument((total,), pages, "documentai")


def test_pages_and_cost_are_counted_per_connection_and_month_once_per_content(
    database_url: str,  # noqa: F811
) -> None:
    book = SqlExtractionBook(database_url, clock=lambda: NOW)
    book.record("acme", "2026-11", "a" * 64, document(3), 0.03)
    book.record("acme", "2026-11", "a" * 64, document(3), 0.03)  # a retried record: no double
    book.record("acme", "2026-10", "b" * 64, document(5), 0.05)
    book.record("inbox", "2026-11", "c" * 64, document(1), 0.01)

    again = SqlExtractionBook(database_url)  # another process sees the same
    assert again.pages_used("acme", "2026-11") == 3 and again.pages_used("acme", "2026-09") == 0
    assert again.usage("2026-11") == [("acme", 3, 0.03), ("inbox", 1, 0.01)]
    assert again.cached("a" * 64) == document(3) and again.cached("d" * 64) is None
