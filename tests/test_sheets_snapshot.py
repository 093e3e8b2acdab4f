"""One getByDataFilter read per write: tags that follow columns, fallback and re-tagging."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.fixtures import fake_google  # noqa: F401 - the fixture
from tests.fakes.google import FakeGoogle
from tests.test_sheets_sink import SHEET, batch, dimension_tags, invoice, make_sink, methods

TAB_TAGS = 3  # billsync.tab on each of our tabs


@pytest.fixture
def fake(fake_google: FakeGoogle) -> FakeGoogle:  # noqa: F811
    fake_google.sheets.create(SHEET)  # type: ignore[attr-defined]
    return fake_google


def sheets(fake: FakeGoogle) -> Any:
    return fake.sheets  # type: ignore[attr-defined]


def line_keys(fake: FakeGoogle) -> list[Any]:
    return [r.get("Line Key") for r in sheets(fake).tab(SHEET, "Line Items").records()]


def created_tags(fake: FakeGoogle, since: int) -> list[dict[str, Any]]:
    return [r["createDeveloperMetadata"]["developerMetadata"] for c in fake.calls.writes()[since:]
            for r in c.body["requests"] if "createDeveloperMetadata" in r]  # fmt: skip


def test_a_changed_invoice_is_one_read_and_one_write(fake: FakeGoogle) -> None:
    make_sink(fake).write(batch(invoice(1), invoice(2)))
    before = len(fake.calls)

    make_sink(fake).write(batch(invoice(2, status="Refunded", lines=4)))

    assert methods(fake, before) == ["getByDataFilter", "batchUpdate"]
    assert line_keys(fake) == [f"doit:acme:1#{i}" for i in (1, 2, 3)] + [
        f"doit:acme:2#{i}" for i in (1, 2, 3, 4)
    ]


def test_a_column_inserted_before_the_key_column_still_reads_the_keys(fake: FakeGoogle) -> None:
    make_sink(fake).write(batch(invoice(1), invoice(2)))
    sheets(fake).insert_columns(SHEET, "Line Items", 0)
    tab = sheets(fake).tab(SHEET, "Line Items")
    tab.set_row(1, {0: {"userEnteredValue": {"stringValue": "my note"}}})
    before = len(fake.calls)

    make_sink(fake).write(batch(invoice(1, status="Refunded", lines=2), invoice(2)))

    assert methods(fake, before) == ["getByDataFilter", "batchUpdate"]
    assert ("billsync.key", "line_items", "COLUMNS", 21) in dimension_tags(fake)
    assert line_keys(fake) == ["doit:acme:1#1", "doit:acme:1#2"] + [
        f"doit:acme:2#{i}" for i in (1, 2, 3)
    ]  # in place by key: no duplicate, the extra line deleted
    assert tab.values()[1][0] == "my note" and tab.values()[0][0] is None


def test_a_deleted_key_column_falls_back_to_reading_by_name_then_tags_again(
    fake: FakeGoogle,
) -> None:
    make_sink(fake).write(batch(invoice(1)))
    sheets(fake).delete_columns(SHEET, "Line Items", 20)  # Line Key, and its tag with it
    assert ("billsync.key", "line_items", "COLUMNS", 20) not in dimension_tags(fake)
    before = len(fake.calls)

    make_sink(fake).write(batch(invoice(1, status="Refunded")))

    assert methods(fake, before) == ["getByDataFilter", "get", "batchGet", "batchUpdate"]
    header = sheets(fake).tab(SHEET, "Line Items").values()[0]
    assert header[20] == "Line Key"  # added back at the end, by header name
    rows = sheets(fake).tab(SHEET, "Line Items").records()
    keys = [r.get("Line Key") for r in rows]
    assert keys == [None] * 3 + [f"doit:acme:1#{i}" for i in (1, 2, 3)]  # old rows kept as is
    assert all(r["Amount"] == 10.25 for r in rows)  # nothing written into a wrong column

    before = len(fake.calls.writes())
    make_sink(fake).write(batch(invoice(1, status="Paid")))  # reads by name, tags the column
    assert [(t["metadataKey"], t["location"]["dimensionRange"]["startIndex"])
            for t in created_tags(fake, before)] == [("billsync.key", 20)]  # fmt: skip
    calls = len(fake.calls)
    make_sink(fake).write(batch(invoice(1, status="Refunded")))
    assert methods(fake, calls) == ["getByDataFilter", "batchUpdate"]


def test_an_old_ledger_without_column_tags_is_tagged_once(fake: FakeGoogle) -> None:
    make_sink(fake).write(batch(invoice(1), invoice(2)))
    book = sheets(fake).books[SHEET]
    tagged = dimension_tags(fake)
    book.metadata = {
        i: m for i, m in book.metadata.items() if "dimensionRange" not in m["location"]
    }  # as an older billsync left it
    before, writes = len(fake.calls), len(fake.calls.writes())

    make_sink(fake).write(batch(invoice(2, status="Refunded")))

    assert methods(fake, before) == ["getByDataFilter", "get", "batchGet", "batchUpdate"]
    assert len(created_tags(fake, writes)) == 3  # with the ledger write: no extra write
    assert dimension_tags(fake) == tagged
    for status in ("Paid", "Refunded"):
        before = len(fake.calls)
        make_sink(fake).write(batch(invoice(2, status=status)))
        assert methods(fake, before) == ["getByDataFilter", "batchUpdate"]
    assert len(book.metadata) == TAB_TAGS + 3


def test_the_fake_answers_only_the_tabs_and_ranges_the_filters_touch(fake: FakeGoogle) -> None:
    make_sink(fake).write(batch(invoice(1)))
    sheets(fake).delete_columns(SHEET, "Line Items", 0, 2)  # before the tagged column
    sink = make_sink(fake)
    from api.ledger.sheets.snapshot import FIELDS, FILTERS

    answer = sink._client.snapshot(FILTERS, FIELDS)

    titles = [s["properties"]["title"] for s in answer["sheets"]]
    assert titles == ["Invoices", "Line Items", "Runs"]  # Sheet1 is not touched: left out
    lines = answer["sheets"][1]
    assert set(lines) == {"properties", "developerMetadata", "data"}  # the mask
    header, key = lines["data"]
    assert "startRow" not in header and len(header["rowData"]) == 1
    assert key["startColumn"] == 18 and len(key["columnMetadata"]) == 1
    assert [row["values"][0]["effectiveValue"]["stringValue"] for row in key["rowData"]] == [
        "Line Key", "doit:acme:1#1", "doit:acme:1#2", "doit:acme:1#3"]  # fmt: skip
    assert set(key["rowData"][0]["values"][0]) == {"effectiveValue"}
