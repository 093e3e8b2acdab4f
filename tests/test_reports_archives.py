"""The Sheet's Summary after old years moved to archive spreadsheets: the tables still add up
to every line (archived years included), and a note says the pivot table sees the ledger only."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from api.ledger.sheets.rotation import year_of
from api.ledger.sheets.summary import PIVOT_ROW
from api.reports import refresh
from tests.fakes.fixtures import fake_google  # noqa: F401 - the fixture
from tests.fakes.google import FakeGoogle
from tests.report_samples import check_summary, summary_blocks, sums
from tests.test_sheets_rotation import archives, batch, fake, folder, history, make_sink  # noqa: F401

BATCH_GET = "sheets.spreadsheets.values.batchGet"


@pytest.fixture
def rotated(fake: FakeGoogle, folder: str) -> list[str]:  # noqa: F811
    """A ledger whose 2023 and 2024 moved to archives; then room for the Summary tab."""
    sink = make_sink(fake)
    sink.write(batch(history(2023, 2024, 2025)))
    sink.write(batch(history(2026)))
    assert sorted(archives(fake)) == ["2023", "2024"]
    fake.sheets.cell_limit = 1_000_000  # type: ignore[attr-defined]
    return ["2023", "2024"]


def test_summary_covers_archived_years_to_the_cent(
    fake: FakeGoogle,  # noqa: F811
    rotated: list[str],
) -> None:
    sink = make_sink(fake, limit=1_000_000)
    since = len(fake.calls)
    assert refresh(sink) == []
    # Each archive was read once by the refresh (its tab found, then its values).
    ids = {f["id"] for f in archives(fake).values()}
    reads = Counter(c.path.split("/")[-2] for c in fake.calls[since:] if c.method_id == BATCH_GET)
    assert {book: reads[book] for book in ids} == dict.fromkeys(ids, 1)
    ledger = sink.rows("Line Items")
    archived = [line for year in rotated for line in sink.rows(f"Line Items {year}")]
    assert {year_of(x["Period"]) for x in archived} == set(rotated)
    every = archived + ledger
    summary = fake.sheets.tab("sheet-1", "Summary")  # type: ignore[attr-defined]
    blocks = summary_blocks(summary.values())
    check_summary(every, blocks)
    header, rows = blocks["Monthly spend by category (USD)"]
    total = sum((Decimal(str(dict(zip(header, r, strict=True))["Total"])) for r in rows),
                Decimal(0))  # fmt: skip
    assert total == sums(every, "Currency")[("USD",)] and total > sums(ledger, "Currency")[("USD",)]
    (row,) = summary.values()[PIVOT_ROW - 1 : PIVOT_ROW]  # just above the pivot table
    note = [v for v in row if isinstance(v, str) and "archive" in v]
    assert len(note) == 1 and "2023, 2024" in note[0] and "Line Items tab only" in note[0]


def test_no_note_without_archives(fake: FakeGoogle) -> None:  # noqa: F811
    sink = make_sink(fake, limit=1_000_000)
    fake.sheets.cell_limit = 1_000_000  # type: ignore[attr-defined]
    sink.write(batch(history(2025)))
    refresh(sink)
    summary = fake.sheets.tab("sheet-1", "Summary")  # type: ignore[attr-defined]
    texts = [v for row in summary.values() for v in row if isinstance(v, str)]
    assert not any("archive" in text for text in texts)
