"""SheetsLedger against the stateful fake Google: end state and the calls made."""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from api.core.model import (
    INVOICE_COLUMNS,
    LINE_COLUMNS,
    Invoice,
    LedgerBatch,
    LineItem,
    RunCounts,
    RunRecord,
)
from api.errors import RetriableSinkError, SinkError
from api.ledger.sheets.ledger import SheetsLedger
from tests.fakes.fixtures import fake_google  # noqa: F401 - the fixture
from tests.fakes.google import FakeGoogle

SHEET = "sheet-1"
SYNCED = dt.datetime(2026, 2, 2, 3, 4, 5, tzinfo=dt.UTC)
BATCH_UPDATE = "sheets.spreadsheets.batchUpdate"
BATCH_GET = "sheets.spreadsheets.values.batchGet"
SNAPSHOT = "sheets.spreadsheets.getByDataFilter"
INVOICE_HEADER = list(INVOICE_COLUMNS)
LINE_HEADER = list(LINE_COLUMNS)


def credentials(fake: FakeGoogle) -> Credentials:
    return Credentials(
        token="fake-access",
        refresh_token="fake-refresh",
        token_uri=fake.url + "/token",
        client_id="cid",
        client_secret="cs",
    )


def make_sink(fake: FakeGoogle, sleeps: list[float] | None = None, **options: Any) -> SheetsLedger:
    waits = sleeps if sleeps is not None else []
    return SheetsLedger(SHEET, credentials(fake), api_url=fake.url, sleep=waits.append, **options)


def invoice(n: int, *, status: str = "Paid", balance: str = "0", lines: int = 3,
            period: str = "2026-01") -> tuple[Invoice, tuple[LineItem, ...]]:  # fmt: skip
    key = f"doit:acme:{n}"
    items = tuple(
        LineItem(
            "doit",
            "acme",
            str(n),
            key,
            period,
            i + 1,
            "Compute Engine",
            "Compute",
            f'=HYPERLINK("http://evil") line {i}' if i == 0 else f"vm-{i}",
            Decimal("10.25"),
            "USD",
            quantity=Decimal("1.5"),
            unit_price=Decimal("0.00744"),
            start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )  # fmt: skip
        for i in range(lines)
    )
    head = Invoice("doit", "acme", str(n), key, period, status, "USD",
                   Decimal("10.25") * lines, invoice_date=dt.date(2026, 2, 1),
                   balance_due=Decimal(balance), line_count=lines, reconciled=True,
                   pdf=f"https://drive.google.com/file/d/f{n}/view", synced_at=SYNCED)  # fmt: skip
    return head, items


def batch(
    *pairs: tuple[Invoice, tuple[LineItem, ...]], removed: tuple[str, ...] = ()
) -> LedgerBatch:
    return LedgerBatch(tuple(p[0] for p in pairs), tuple(i for p in pairs for i in p[1]), removed)


def methods(fake: FakeGoogle, since: int = 0) -> list[str]:
    return [call.method_id.rsplit(".", 1)[-1] for call in fake.calls[since:]
            if call.method_id != "oauth2.token"]  # fmt: skip


def dimension_tags(fake: FakeGoogle) -> list[tuple[str, str, str, int]]:
    """(key, role, dimension, index) of each metadata on a row or column, sorted."""
    book = fake.sheets.books[SHEET]  # type: ignore[attr-defined]
    return sorted((m["metadataKey"], m["metadataValue"], span["dimension"], span["startIndex"])
                  for m in book.metadata.values()
                  if (span := m["location"].get("dimensionRange")))  # fmt: skip


@pytest.fixture
def fake(fake_google: FakeGoogle) -> FakeGoogle:  # noqa: F811
    fake_google.sheets.create(SHEET)  # type: ignore[attr-defined]
    return fake_google


def test_first_sync_creates_typed_tabs_with_one_read_and_one_write(fake: FakeGoogle) -> None:
    sink = make_sink(fake)
    sink.write(batch(invoice(1), invoice(2)))

    # the one read finds no tab of ours; the setup answers with every tab; the ledger write
    assert methods(fake) == ["getByDataFilter", "batchUpdate", "batchUpdate"]
    book = fake.sheets.books[SHEET]  # type: ignore[attr-defined]
    roles = {m["metadataValue"]: m["location"]["sheetId"] for m in book.metadata.values()
             if m["metadataKey"] == "billsync.tab"}  # fmt: skip
    assert set(roles) == {"invoices", "line_items", "runs"}
    assert dimension_tags(fake) == [("billsync.header", "line_items", "ROWS", 0),
                                    ("billsync.header", "runs", "ROWS", 0),
                                    ("billsync.key", "line_items", "COLUMNS", 20)]  # fmt: skip
    lines = fake.sheets.tab(SHEET, "Line Items")  # type: ignore[attr-defined]
    assert lines.frozen_rows == 1 and lines.basic_filter is not None
    assert [r["Line Key"] for r in lines.records()] == [f"doit:acme:{n}#{i}" for n in (1, 2)
                                                        for i in (1, 2, 3)]  # fmt: skip
    description = lines.cells[1][LINE_HEADER.index("Description")]
    assert description["userEnteredValue"] == {"stringValue": '=HYPERLINK("http://evil") line 0'}
    amount = lines.cells[1][LINE_HEADER.index("Amount")]
    assert amount["userEnteredValue"] == {"numberValue": 10.25}
    assert amount["userEnteredFormat"]["numberFormat"]["type"] == "NUMBER"
    invoices = fake.sheets.tab(SHEET, "Invoices")  # type: ignore[attr-defined]
    pdf = invoices.cells[1][INVOICE_HEADER.index("PDF")]
    assert "formulaValue" not in pdf["userEnteredValue"]
    assert pdf["userEnteredFormat"]["textFormat"]["link"]["uri"].endswith("/f1/view")
    date = invoices.cells[1][INVOICE_HEADER.index("Invoice Date")]
    assert date["userEnteredValue"] == {"numberValue": 46054}  # 2026-02-01 as a serial day
    assert date["userEnteredFormat"]["numberFormat"]["type"] == "DATE"
    rows = sink.rows("Invoices")
    assert rows[0] == invoice(1)[0].row()


def test_rerun_makes_one_read_and_no_write(fake: FakeGoogle) -> None:
    make_sink(fake).write(batch(invoice(1), invoice(2)))
    sink = make_sink(fake)
    sink.rows("Runs")  # layout lookups happen once per sink
    before = len(fake.calls)

    sink.write(batch(invoice(1), invoice(2)))

    assert methods(fake, before) == ["getByDataFilter"]
    assert fake.calls.writes()[-1].method_id == BATCH_UPDATE and len(fake.calls.writes()) == 2


def test_updated_doit_invoice_is_rewritten_in_place(fake: FakeGoogle) -> None:
    sink = make_sink(fake)
    sink.write(batch(invoice(1, status="Unpaid", balance="30.75"), invoice(2)))
    before = len(fake.calls)

    sink.write(batch(invoice(1, status="Paid", balance="0", lines=2)))

    assert methods(fake, before) == ["getByDataFilter", "batchUpdate"]
    rows = sink.rows("Invoices")
    assert [(r["Invoice Key"], r["Status"], r["Balance Due"]) for r in rows] == [
        ("doit:acme:1", "Paid", Decimal("0.00")),
        ("doit:acme:2", "Paid", Decimal("0.00")),
    ]
    keys = [r["Line Key"] for r in sink.rows("Line Items")]
    assert keys == ["doit:acme:1#1", "doit:acme:1#2", "doit:acme:2#1", "doit:acme:2#2",
                    "doit:acme:2#3"]  # fmt: skip


def test_preview_is_replaced_by_the_final_invoice(fake: FakeGoogle) -> None:
    sink = make_sink(fake)
    preview = invoice(9, status="Preview", lines=4)
    preview = (preview[0], preview[1])
    sink.write(batch(preview))

    sink.write(batch(invoice(1, lines=2), removed=("doit:acme:9",)))

    assert [r["Invoice Key"] for r in sink.rows("Invoices")] == ["doit:acme:1"]
    assert [r["Line Key"] for r in sink.rows("Line Items")] == ["doit:acme:1#1", "doit:acme:1#2"]


def test_renamed_moved_tab_and_reordered_columns_keep_working(fake: FakeGoogle) -> None:
    make_sink(fake).write(batch(invoice(1)))
    fake.sheets.rename(SHEET, "Invoices", "Bills 2026")  # type: ignore[attr-defined]
    fake.sheets.move(SHEET, "Bills 2026", 0)  # type: ignore[attr-defined]
    order = ["Line Key", "Amount", "Description"]
    fake.sheets.reorder_columns(SHEET, "Line Items", order)  # type: ignore[attr-defined]
    before = len(fake.calls)

    sink = make_sink(fake)
    sink.write(batch(invoice(1, status="Refunded"), invoice(2)))

    assert methods(fake, before) == ["getByDataFilter", "batchUpdate"]  # still one read
    titles = [tab.title for tab in fake.sheets.books[SHEET].tabs]  # type: ignore[attr-defined]
    assert titles.count("Invoices") == 0 and "Bills 2026" in titles
    assert [r["Status"] for r in sink.rows("Invoices")] == ["Refunded", "Paid"]
    lines = fake.sheets.tab(SHEET, "Line Items")  # type: ignore[attr-defined]
    assert lines.values()[0][:3] == order
    assert [r["Line Key"] for r in sink.rows("Line Items")][-1] == "doit:acme:2#3"
    assert sink.rows("Line Items")[-1]["Amount"] == Decimal("10.25")


@pytest.mark.parametrize("kind", ["drop_after_apply", "500", "429"])
@pytest.mark.parametrize("target", [0, 1, 2, 3])  # setup write, first read, read, ledger write
def test_faults_at_every_call_leave_no_duplicates(fake: FakeGoogle, kind: str, target: int) -> None:
    sleeps: list[float] = []
    sink = make_sink(fake, sleeps)
    paths = [(r":batchUpdate$", "POST"), (r":getByDataFilter$", "POST"),
             (r":getByDataFilter$", "POST"), (r":batchUpdate$", "POST")]  # fmt: skip
    regex, verb = paths[target]
    if target >= 2:
        sink.rows("Runs")  # the setup write is done: the fault hits the ledger write
    fake.faults.add(kind, method=verb, path_regex=regex)

    sink.write(batch(invoice(1), invoice(2)))
    sink.write(batch(invoice(1), invoice(2)))  # and a rerun on top

    assert fake.faults.fired and not fake.faults.pending
    assert [r["Invoice Key"] for r in sink.rows("Invoices")] == ["doit:acme:1", "doit:acme:2"]
    assert len(sink.rows("Line Items")) == 6
    tabs = [tab.title for tab in fake.sheets.books[SHEET].tabs]  # type: ignore[attr-defined]
    assert sorted(tabs) == ["Invoices", "Line Items", "Runs", "Sheet1"]
    if kind == "429":
        assert sleeps == [1.0]  # Google's Retry-After, honoured once


def test_append_run_after_a_dropped_answer_is_not_duplicated(fake: FakeGoogle) -> None:
    sink = make_sink(fake)
    sink.rows("Runs")
    fake.faults.add("drop_after_apply", method="POST", path_regex=r":batchUpdate$")
    run = RunRecord("r1", "acme", "cli", "succeeded", SYNCED, SYNCED, RunCounts(1, 0, 0, 0, 3),
                    "1 new")  # fmt: skip

    sink.append_run(run)

    assert [(r["Connection"], r["Message"], r["New"]) for r in sink.rows("Runs")] == [
        ("acme", "1 new", 1)
    ]
    assert [c.dropped for c in fake.calls.of(BATCH_UPDATE)][-1] is True


def test_persistent_5xx_gives_up_with_a_retriable_error(fake: FakeGoogle) -> None:
    sink = make_sink(fake, max_attempts=2)
    sink.rows("Runs")
    reads = len(fake.calls.of(SNAPSHOT))
    fake.faults.add("500", path_regex=r":getByDataFilter$", times=10)

    with pytest.raises(RetriableSinkError) as caught:
        sink.write(batch(invoice(1)))

    assert len(fake.calls.of(SNAPSHOT)) - reads == 2 and "next run" in str(caught.value)
    assert len(fake.calls.writes()) == 1  # only the tab setup


def test_small_batches_split_into_atomic_bodies(fake: FakeGoogle) -> None:
    sink = make_sink(fake, max_batch_bytes=20_000)
    sink.rows("Runs")
    before, reads = len(fake.calls.writes()), len(fake.calls.reads())

    sink.write(batch(*(invoice(n, lines=20) for n in range(1, 7))))

    bodies = fake.calls.writes()[before:]
    assert len(bodies) > 1
    assert all(len(json.dumps(c.body, separators=(",", ":"))) < 30_000 for c in bodies)
    assert len(fake.calls.reads()) - reads == 1  # one read for the whole write
    assert len(sink.rows("Line Items")) == 120


@pytest.mark.parametrize(("setup", "message"), [
    (lambda s: None, "Spreadsheet missing-1 not found: check the --sheet id/URL."),
    (lambda s: setattr(s.create("missing-1"), "shared", False), "is not shared with"),
    (lambda s: s.add_xlsx("missing-1"), "File > Save as Google Sheets"),
])  # fmt: skip
def test_sheet_errors_say_what_to_do(fake: FakeGoogle, setup: Any, message: str) -> None:
    setup(fake.sheets)  # type: ignore[attr-defined]
    sink = SheetsLedger("missing-1", credentials(fake), api_url=fake.url, sleep=lambda s: None)

    with pytest.raises(SinkError) as caught:
        sink.write(batch(invoice(1)))

    assert message in str(caught.value) and not caught.value.retryable
    assert len(fake.calls.of(SNAPSHOT)) == 1  # no retry of a fatal answer
    assert len(fake.calls) == 1


def test_google_refusing_a_write_past_its_limit_says_what_to_do(fake: FakeGoogle) -> None:
    # Our own budget is told a large limit (as if a user's tab went uncounted); Google's is not.
    sink = make_sink(fake, cell_limit=10_000_000)
    sink.write(batch(invoice(1)))
    fake.sheets.cell_limit = fake.sheets.books[SHEET].cell_total() + 50  # type: ignore[attr-defined]
    before = (sink.rows("Invoices"), sink.rows("Line Items"))

    with pytest.raises(SinkError) as caught:
        sink.write(batch(*(invoice(n, lines=3) for n in range(2, 6))))

    assert "is full" in str(caught.value) and "--create-sheet" in str(caught.value)
    assert not caught.value.retryable
    assert (sink.rows("Invoices"), sink.rows("Line Items")) == before


def test_cell_limit_warns_then_refuses_a_write_that_cannot_fit(fake: FakeGoogle) -> None:
    # Sheet1 alone holds 26,000 cells; Invoices rows never move out, so 40 more cannot fit.
    sink = make_sink(fake, cell_limit=26_000 + 700, clock=lambda: SYNCED)
    sink.write(batch(invoice(1)))
    warnings = [r["Message"] for r in sink.rows("Runs") if r["Status"] == "warning"]
    assert len(warnings) == 1 and "of 26,700 cells" in warnings[0]
    before = (sink.rows("Invoices"), sink.rows("Line Items"), sink.rows("Runs"))
    writes = len(fake.calls.writes())

    with pytest.raises(SinkError) as caught:
        sink.write(batch(*(invoice(n, lines=0) for n in range(2, 42))))

    assert "limit of 26,700 cells" in str(caught.value) and "nothing was written" in str(
        caught.value
    )
    assert "--create-sheet" in str(caught.value) and not caught.value.retryable
    assert len(fake.calls.writes()) == writes  # refused before sending anything
    assert (sink.rows("Invoices"), sink.rows("Line Items"), sink.rows("Runs")) == before
    assert fake.calls.of("drive.files.create") == []


def test_token_is_never_in_a_cell_a_call_or_a_log(fake: FakeGoogle, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    sink = make_sink(fake)
    fake.faults.add("429", path_regex="batchGet")
    sink.write(batch(invoice(1)))
    sink.append_run(RunRecord("r", "c", "cli", "succeeded", SYNCED, SYNCED))

    cells = json.dumps([t.values() for t in fake.sheets.books[SHEET].tabs], default=str)  # type: ignore[attr-defined]
    calls = json.dumps([(c.path, c.query, c.body) for c in fake.calls], default=str)
    for secret in ("fake-access", "fake-refresh", "ya29."):
        assert secret not in cells and secret not in calls and secret not in caplog.text
