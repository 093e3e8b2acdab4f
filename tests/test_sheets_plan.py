"""Sheets write plan and batching: full bodies, row slices, and crashes between bodies.

The pure part (chunk) is checked on plain requests; what a cut between bodies does to the
ledger is checked through SheetsLedger against the stateful fake Google, failing one chosen
batchUpdate body.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from api.core.model import LINE_COLUMNS, Invoice, LedgerBatch, LineItem
from api.errors import SinkError
from api.ledger.sheets.batches import body_size, chunk
from api.ledger.sheets.ledger import SheetsLedger
from tests.fakes.fixtures import fake_google  # noqa: F401 - the fixture
from tests.fakes.google import FakeGoogle, Fault, Faults

SHEET = "sheet-plan"
SYNCED = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def rows(n: int, width: int = 40, first: int = 0) -> list[dict[str, Any]]:
    return [{"values": [{"userEnteredValue": {"stringValue": f"{first + i:06d}" + "x" * width}}]}
            for i in range(n)]  # fmt: skip


def append(n: int, first: int = 0, sheet: int = 7) -> dict[str, Any]:
    return {"appendCells": {"sheetId": sheet, "rows": rows(n, first=first),
                            "fields": "userEnteredValue"}}  # fmt: skip


def update(n: int, row_index: int) -> dict[str, Any]:
    return {"updateCells": {"start": {"sheetId": 7, "rowIndex": row_index, "columnIndex": 2},
                            "rows": rows(n), "fields": "userEnteredValue"}}  # fmt: skip


DELETE = {"deleteDimension": {"range": {"sheetId": 7, "dimension": "ROWS", "startIndex": 3,
                                        "endIndex": 5}}}  # fmt: skip


def sliced_rows(bodies: list[list[dict[str, Any]]], kind: str) -> list[Any]:
    return [row for body in bodies for r in body if kind in r for row in r[kind]["rows"]]


# -- chunk: pure --------------------------------------------------------------------------------


def test_long_appends_are_cut_so_every_body_but_the_last_is_full() -> None:
    groups = [[append(300, first=0)], [append(500, first=300)], [append(200, first=800)]]
    total = sum(len(json.dumps(r, separators=(",", ":"))) for g in groups for r in g)

    bodies = chunk(groups, 10_000)

    sizes = [body_size(body) for body in bodies]
    assert max(sizes) <= 10_000
    row_bytes = len(json.dumps(rows(1)[0])) + 1
    assert all(s > 10_000 - row_bytes - 200 for s in sizes[:-1])  # closed only when full
    assert len(bodies) == math.ceil(total / 10_000)  # slicing costs ~100 B per body, no more
    assert sliced_rows(bodies, "appendCells") == rows(1000)  # every row once, in order


def test_a_cut_update_keeps_addressing_the_same_grid_rows() -> None:
    bodies = chunk([[update(120, row_index=40)]], 3_000)

    assert len(bodies) > 2
    slices = [r["updateCells"] for body in bodies for r in body]
    starts = [s["start"]["rowIndex"] for s in slices]
    counts = [len(s["rows"]) for s in slices]
    assert starts == [40 + sum(counts[:i]) for i in range(len(slices))]
    assert all(s["start"]["columnIndex"] == 2 and s["start"]["sheetId"] == 7 for s in slices)
    assert sliced_rows(bodies, "updateCells") == rows(120)


def test_requests_keep_their_order_and_others_are_never_cut() -> None:
    groups = [[append(30)], [DELETE, update(30, row_index=3)], [append(30, first=30)]]

    bodies = chunk(groups, 2_500)

    flat = [(next(iter(r)), len(next(iter(r.values())).get("rows", []))) for b in bodies
            for r in b]  # fmt: skip
    kinds = [kind for kind, _ in flat]
    collapsed = [k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]]
    assert collapsed == ["appendCells", "deleteDimension", "updateCells", "appendCells"]
    assert [r for b in bodies for r in b if "deleteDimension" in r] == [DELETE]
    assert sum(n for kind, n in flat if kind == "appendCells") == 60


def test_a_row_larger_than_a_body_goes_alone_and_small_requests_stay_whole() -> None:
    huge = {"appendCells": {"sheetId": 7, "rows": rows(1, width=5_000), "fields": "*"}}
    small = append(2)

    bodies = chunk([[small], [huge], [small]], 1_000)

    assert [len(body) for body in bodies] == [1, 1, 1]
    assert bodies[1] == [huge] and bodies[0] == bodies[2] == [small]
    assert chunk([[small], [small]], 10_000) == [[small, small]]
    assert chunk([], 10_000) == []


# -- through the sink: formats, and crashes between bodies ------------------------------------


class FailNthWrite(Faults):
    """The fake answers the nth batchUpdate (counted from when it is installed) with `kind`."""

    def __init__(self, kind: str, nth: int) -> None:
        super().__init__()
        self.kind, self.nth, self.seen = kind, nth, 0

    def take(self, method: str, path: str) -> Fault | None:
        if method == "POST" and path.endswith(":batchUpdate"):
            self.seen += 1
            if self.seen == self.nth:
                self.fired.append((self.kind, method, path))
                return Fault(self.kind, None, ".*", 0)
        return None


def ledger(fake: FakeGoogle, max_batch_bytes: int = 6_000) -> SheetsLedger:
    credentials = Credentials(
        token="fake-access",
        refresh_token="fake-refresh",
        token_uri=fake.url + "/token",
        client_id="c",
        client_secret="s",
    )
    return SheetsLedger(SHEET, credentials, api_url=fake.url, max_batch_bytes=max_batch_bytes,
                        sleep=lambda seconds: None)  # fmt: skip


def account(n: int, amount: str, status: str = "Paid", lines: int = 30) -> LedgerBatch:
    """Invoice n with `lines` lines of `amount` each (the same Line Keys whatever the amount)."""
    key = f"doit:acme:{n}"
    items = tuple(
        LineItem(
            "doit",
            "acme",
            str(n),
            key,
            "2026-02",
            i + 1,
            "Compute Engine",
            "Compute",
            f"vm-{i}",
            Decimal(amount),
            "USD",
            quantity=Decimal("2.5"),
            unit_price=Decimal("0.0125"),
            start=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
            end=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        )  # fmt: skip
        for i in range(lines)
    )
    head = Invoice("doit", "acme", str(n), key, "2026-02", status, "USD",
                   Decimal(amount) * lines, invoice_date=dt.date(2026, 3, 1), line_count=lines,
                   synced_at=SYNCED)  # fmt: skip
    return LedgerBatch((head,), items)


def both(*batches: LedgerBatch) -> LedgerBatch:
    return LedgerBatch(tuple(i for b in batches for i in b.invoices),
                       tuple(line for b in batches for line in b.lines))  # fmt: skip


@pytest.fixture
def fake(fake_google: FakeGoogle) -> FakeGoogle:  # noqa: F811
    fake_google.sheets.create(SHEET)  # type: ignore[attr-defined]
    return fake_google


def line_state(sink: SheetsLedger) -> list[tuple[str, Decimal]]:
    return [(r["Line Key"], r["Amount"]) for r in sink.rows("Line Items")]


def assert_formatted(fake: FakeGoogle) -> None:
    """Every line row holds Google number formats in its date and number columns."""
    tab = fake.sheets.tab(SHEET, "Line Items")  # type: ignore[attr-defined]
    stamp = ("DATE_TIME", 'yyyy-mm-dd hh:mm:ss "UTC"')  # labelled UTC (issue 9)
    want = {"Start": stamp, "End": stamp, "Quantity": ("NUMBER", "#,##0.######"),
            "Unit Price": ("NUMBER", "#,##0.00######"),
            "Amount": ("NUMBER", "#,##0.00")}  # fmt: skip
    for row in tab.cells[1 : len(tab.records()) + 1]:
        for name, (kind, pattern) in want.items():
            found = row[LINE_COLUMNS.index(name)].get("userEnteredFormat", {}).get("numberFormat")
            assert found == {"type": kind, "pattern": pattern}, name


def test_appended_lines_carry_values_only_and_get_formats_per_column(fake: FakeGoogle) -> None:
    sink = ledger(fake, 2_000_000)
    sink.rows("Runs")
    before = len(fake.calls.writes())

    sink.write(both(account(1, "1.25"), account(2, "2.50")))

    (body,) = [call.body["requests"] for call in fake.calls.writes()[before:]]
    appended = [r["appendCells"] for r in body if "appendCells" in r]
    line_cells = [cell for a in appended if len(a["rows"]) == 30 for row in a["rows"]
                  for cell in row["values"]]  # fmt: skip
    assert len(line_cells) == 2 * 30 * len(LINE_COLUMNS)
    assert not any("numberFormat" in cell.get("userEnteredFormat", {}) for cell in line_cells)
    assert all("numberFormat" not in a["fields"] for a in appended if len(a["rows"]) == 30)
    assert_formatted(fake)
    assert line_state(sink)[-1] == ("doit:acme:2#30", Decimal("2.5"))
    assert sink.rows("Line Items")[0]["Start"] == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("nth", [2, 3, 4])
def test_a_failed_body_mid_update_is_replanned_without_stale_lines(
    fake: FakeGoogle, nth: int
) -> None:
    sink = ledger(fake)
    sink.write(both(account(1, "1.25", "Unpaid"), account(2, "2.50")))
    fake.faults = FailNthWrite("500", nth)  # type: ignore[misc]

    sink.write(both(account(1, "9.75", "Paid"), account(2, "2.50")))  # same keys, new amounts

    assert fake.faults.fired  # a body did fail, and the same write re-planned the rest
    assert line_state(sink) == [(f"doit:acme:1#{i}", Decimal("9.75")) for i in range(1, 31)] + [
        (f"doit:acme:2#{i}", Decimal("2.5")) for i in range(1, 31)
    ]
    assert [r["Status"] for r in sink.rows("Invoices")] == ["Paid", "Paid"]
    assert_formatted(fake)


@pytest.mark.parametrize("nth", [2, 3, 5])
@pytest.mark.parametrize("changed", [False, True])
def test_a_crash_between_bodies_is_completed_by_the_rerun(
    fake: FakeGoogle, nth: int, changed: bool
) -> None:
    sink = ledger(fake)
    sink.write(account(1, "1.25", "Unpaid"))
    wanted = both(account(1, "9.75" if changed else "1.25", "Paid" if changed else "Unpaid"),
                  account(2, "2.50"), account(3, "3.75"))  # fmt: skip
    fake.faults = FailNthWrite("403_permission", nth)  # type: ignore[misc]

    with pytest.raises(SinkError):  # fatal: this process stops here, bodies before it applied
        sink.write(wanted)
    partial = ledger(fake).rows("Invoices")
    fake.faults = Faults()  # type: ignore[misc]
    ledger(fake).write(wanted)  # the next run, a fresh process

    assert len(partial) < 3  # the crash did leave the ledger half written
    amount = "9.75" if changed else "1.25"
    expected = [(f"doit:acme:{n}#{i}", Decimal(a)) for n, a in ((1, amount), (2, "2.5"),
                                                                 (3, "3.75"))
                for i in range(1, 31)]  # fmt: skip
    assert line_state(sink) == expected
    invoices = sink.rows("Invoices")
    assert [r["Invoice Key"] for r in invoices] == ["doit:acme:1", "doit:acme:2", "doit:acme:3"]
    assert invoices[0]["Total"] == Decimal(amount) * 30
    assert_formatted(fake)
