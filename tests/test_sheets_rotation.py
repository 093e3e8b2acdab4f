"""The cell limit: warn at 80 %, move old years of Line Items to archive spreadsheets at 90 %.

A small limit is configured on both sides: the sink's setting and the fake Google, which refuses
(400, per request, like Google) any batchUpdate that would grow a spreadsheet past it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from api.core.model import Invoice, LedgerBatch, LineItem
from api.errors import RetriableSinkError, SinkError
from api.ledger.sheets.budget import choose_years
from api.ledger.sheets.ledger import SheetsLedger
from api.ledger.sheets.rotation import route, year_of
from tests.fakes.fixtures import fake_google  # noqa: F401 - the fixture
from tests.fakes.google import FakeGoogle
from tests.test_sheets_sink import credentials

SHEET = "sheet-1"
LIMIT = 2_000  # 3 years of 4 invoices x 5 lines use ~83 %; a 4th year passes the limit
NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
SPREADSHEET = "application/vnd.google-apps.spreadsheet"
LEDGER_WRITE = r"/sheet-1:batchUpdate$"
ARCHIVE_WRITE = r"/spreadsheets/1[^/]*:batchUpdate$"  # Drive-made ids start with 1
DRIVE_CREATE = r"/drive/v3/files$"


def invoice(year: int, n: int, *, lines: int = 5, status: str = "Paid"
            ) -> tuple[Invoice, tuple[LineItem, ...]]:  # fmt: skip
    key = f"doit:acme:{year}-{n}"
    period = f"{year}-{n:02d}"
    items = tuple(
        LineItem("doit", "acme", f"{year}-{n}", key, period, i + 1, "Compute Engine", "Compute",
                 '=HYPERLINK("http://evil")' if i == 0 else f"vm-{i}", Decimal("10.25"), "USD",
                 quantity=Decimal("1.5"), start=dt.datetime(year, n, 1, tzinfo=dt.UTC))
        for i in range(lines)
    )  # fmt: skip
    head = Invoice("doit", "acme", f"{year}-{n}", key, period, status, "USD",
                   Decimal("10.25") * lines, invoice_date=dt.date(year, n, 28),
                   line_count=lines, synced_at=NOW)  # fmt: skip
    return head, items


def history(*years: int, per_year: int = 4, lines: int = 5) -> list[tuple[Invoice, Any]]:
    return [invoice(year, n, lines=lines) for year in years for n in range(1, per_year + 1)]


def batch(pairs: list[tuple[Invoice, tuple[LineItem, ...]]]) -> LedgerBatch:
    return LedgerBatch(tuple(p[0] for p in pairs), tuple(i for p in pairs for i in p[1]))


def keys(pairs: list[tuple[Invoice, tuple[LineItem, ...]]]) -> list[str]:
    return [line.key for _, items in pairs for line in items]


@pytest.fixture
def fake(fake_google: FakeGoogle) -> FakeGoogle:  # noqa: F811
    book = fake_google.sheets.create(SHEET, title="Acme ledger")  # type: ignore[attr-defined]
    book.tabs[0].row_count = book.tabs[0].column_count = 1  # a 1-cell Sheet1: clean arithmetic
    fake_google.sheets.cell_limit = LIMIT  # type: ignore[attr-defined]
    return fake_google


@pytest.fixture
def folder(fake: FakeGoogle) -> str:
    """The ledger sits in a Drive folder (it was made by billsync: drive.file sees it)."""
    found = fake.drive.add_folder("Books")  # type: ignore[attr-defined]
    fake.drive.insert({"id": SHEET, "name": "Acme ledger", "mimeType": SPREADSHEET,  # type: ignore[attr-defined]
                       "parents": [found]})  # fmt: skip
    return str(found)


def make_sink(fake: FakeGoogle, limit: int = LIMIT, **options: Any) -> SheetsLedger:
    return SheetsLedger(SHEET, credentials(fake), api_url=fake.url, drive_api_url=fake.url,
                        cell_limit=limit, clock=lambda: NOW, sleep=lambda s: None,
                        **options)  # fmt: skip


def archives(fake: FakeGoogle) -> dict[str, dict[str, Any]]:
    """Archive spreadsheets in Drive by year."""
    files = [f for f in fake.drive.uploaded() if f["mimeType"] == SPREADSHEET and f["id"] != SHEET]  # type: ignore[attr-defined]
    years = [f["appProperties"]["billsync.year"] for f in files]
    assert len(years) == len(set(years)), "one archive per year"
    return {f["appProperties"]["billsync.year"]: f for f in files}


def all_line_keys(sink: SheetsLedger, years: list[str]) -> Counter[str]:
    found = Counter(r["Line Key"] for r in sink.rows("Line Items"))
    for year in years:
        found.update(r["Line Key"] for r in sink.rows(f"Line Items {year}"))
    return found


def methods(fake: FakeGoogle, since: int) -> list[str]:
    return [c.method_id for c in fake.calls[since:] if c.method_id != "oauth2.token"]


def test_a_write_between_80_and_90_percent_warns_in_runs_and_moves_nothing(
    fake: FakeGoogle,
) -> None:
    sink = make_sink(fake)
    sink.write(batch(history(2023, 2024, 2025)))  # ~83 %

    runs = sink.rows("Runs")
    assert [r["Status"] for r in runs] == ["warning"]
    assert "of 2,000 cells (8" in runs[0]["Message"] and "90%" in runs[0]["Message"]
    assert fake.calls.of("drive.files.list") == [] and archives(fake) == {}
    assert len(sink.rows("Line Items")) == 60


def test_rotation_moves_the_oldest_complete_years_and_loses_no_line(
    fake: FakeGoogle, folder: str
) -> None:
    sink = make_sink(fake)
    old = history(2023, 2024, 2025)
    sink.write(batch(old))
    assert [r["Status"] for r in sink.rows("Runs")] == ["warning"]  # past 80 %
    new = history(2026)
    before = len(fake.calls)

    sink.write(batch(new))

    made = archives(fake)
    assert sorted(made) == ["2023", "2024"]  # oldest first, until below 80 %
    assert {f["name"] for f in made.values()} == {"Acme ledger — Line Items 2023",
                                                  "Acme ledger — Line Items 2024"}  # fmt: skip
    assert all(f["parents"] == [folder] for f in made.values())
    assert all_line_keys(sink, ["2023", "2024"]) == Counter(keys(old + new))  # each exactly once
    assert {year_of(r["Period"]) for r in sink.rows("Line Items")} == {"2025", "2026"}
    moved = sink.rows("Line Items 2023")
    expected = invoice(2023, 1)[1][0].row()
    assert moved[0] == expected  # typed values survive the move (money, dates, hostile text)
    archive = fake.sheets.tab(made["2023"]["id"], "Line Items")  # type: ignore[attr-defined]
    assert archive.cells[1][7]["userEnteredValue"] == {"stringValue": '=HYPERLINK("http://evil")'}
    ledger = fake.sheets.books[SHEET]  # type: ignore[attr-defined]
    lines_tab = fake.sheets.tab(SHEET, "Line Items")  # type: ignore[attr-defined]
    assert lines_tab.row_count <= 1 + 40 + 1  # the grid shrank: 2023-24 rows were deleted
    assert ledger.cell_total() < 0.8 * LIMIT
    recorded = {m["metadataKey"]: m["metadataValue"] for m in ledger.metadata.values()}
    assert recorded["billsync.archive.2023"] == made["2023"]["id"]
    assert recorded["billsync.archive.2024"] == made["2024"]["id"]
    (rotated,) = [r for r in sink.rows("Runs") if r["Status"] == "rotated"]
    assert rotated["Line Items"] == 40
    for year in ("2023", "2024"):
        url = f"https://docs.google.com/spreadsheets/d/{made[year]['id']}/edit"
        assert f"{year} (20 rows) to {url}" in rotated["Message"]
    # Calls: find (list) or create each archive, set up and copy each; THEN one ledger delete.
    writes = [(c.method_id, c.path.rsplit("/", 1)[-1]) for c in fake.calls[before:] if c.is_write]
    a23, a24 = (made[y]["id"] for y in ("2023", "2024"))
    assert writes == [
        ("drive.files.create", "files"),
        ("drive.files.create", "files"),
        ("sheets.spreadsheets.batchUpdate", f"{a23}:batchUpdate"),  # Sheet1 -> Line Items
        ("sheets.spreadsheets.batchUpdate", f"{a23}:batchUpdate"),  # the 2023 rows
        ("sheets.spreadsheets.batchUpdate", f"{a24}:batchUpdate"),
        ("sheets.spreadsheets.batchUpdate", f"{a24}:batchUpdate"),
        ("sheets.spreadsheets.batchUpdate", f"{SHEET}:batchUpdate"),  # delete + record + Runs
        ("sheets.spreadsheets.batchUpdate", f"{SHEET}:batchUpdate"),  # the 2026 write
    ]
    delete = [c for c in fake.calls[before:] if c.path.endswith(f"{SHEET}:batchUpdate")][0]
    kinds = [next(iter(r)) for r in delete.body["requests"]]
    assert kinds == ["deleteDimension", "createDeveloperMetadata", "createDeveloperMetadata",
                     "appendCells"]  # fmt: skip
    assert len(fake.calls.of("drive.files.list")) == 2  # looked for each archive first


def test_a_rerun_after_rotation_makes_no_write(fake: FakeGoogle) -> None:
    sink = make_sink(fake)
    everything = history(2023, 2024, 2025) + history(2026)
    sink.write(batch(everything[:12]))
    sink.write(batch(everything[12:]))
    assert sorted(archives(fake)) == ["2023", "2024"]
    writes = len(fake.calls.writes())

    rerun = make_sink(fake)
    rerun.write(batch(everything))  # a --full rerun: archived years are routed, not re-added

    assert len(fake.calls.writes()) == writes
    assert all_line_keys(rerun, ["2023", "2024"]) == Counter(keys(everything))


@pytest.mark.parametrize("crash", ["archive write dropped, ledger refused", "delete dropped"])
def test_a_crash_between_copy_and_delete_then_a_rerun(fake: FakeGoogle, crash: str) -> None:
    sink = make_sink(fake)
    old, new = history(2023, 2024, 2025), history(2026)
    sink.write(batch(old))
    if crash == "delete dropped":  # the delete was applied, its answer lost: re-read, go on
        fake.faults.add("drop_after_apply", method="POST", path_regex=LEDGER_WRITE)
        sink.write(batch(new))
    else:  # the copies were applied with answers lost, then the ledger kept refusing: a crash
        fake.faults.add("drop_after_apply", method="POST", path_regex=ARCHIVE_WRITE, times=2)
        fake.faults.add("500", method="POST", path_regex=LEDGER_WRITE, times=4)
        with pytest.raises(RetriableSinkError):
            sink.write(batch(new))
        assert not fake.faults.pending
        both = all_line_keys(sink, [])  # the ledger still holds every row...
        made = archives(fake)
        copied = [r["Line Key"] for r in make_sink(fake).rows("Line Items")]
        assert both == Counter(keys(old)) and sorted(made) == ["2023", "2024"]
        assert len(fake.sheets.tab(made["2023"]["id"], "Line Items").records()) == 20  # type: ignore[attr-defined]
        assert len(copied) == 60  # ...and the 2023-24 copies: in both places, lost nowhere
        make_sink(fake).write(batch(new))  # the next run

    assert [kind for kind, *_ in fake.faults.fired][-1] in ("drop_after_apply", "500")
    assert sorted(archives(fake)) == ["2023", "2024"]
    assert all_line_keys(make_sink(fake), ["2023", "2024"]) == Counter(keys(old + new))


def test_a_lost_create_answer_finds_the_archive_instead_of_making_another(
    fake: FakeGoogle,
) -> None:
    sink = make_sink(fake)
    old = history(2023, 2024, 2025)
    sink.write(batch(old))
    fake.faults.add("drop_after_apply", method="POST", path_regex=DRIVE_CREATE)

    sink.write(batch(history(2026)))

    creates = fake.calls.of("drive.files.create")
    assert [c.dropped for c in creates] == [True, False]  # 2023 (answer lost), then 2024
    made = archives(fake)  # asserts one file per year
    assert sorted(made) == ["2023", "2024"]
    assert len(fake.sheets.books) == 3  # type: ignore[attr-defined]  # ledger + 2 archives
    found_after_drop = fake.calls.index(creates[0]) + 1
    assert fake.calls[found_after_drop].method_id == "drive.files.list"
    assert all_line_keys(sink, ["2023", "2024"]) == Counter(keys(old + history(2026)))


def test_an_archived_years_invoice_updated_later_goes_to_its_archive(fake: FakeGoogle) -> None:
    sink = make_sink(fake)
    everything = history(2023, 2024, 2025) + history(2026)
    sink.write(batch(everything[:12]))
    sink.write(batch(everything[12:]))
    files = len(fake.drive.files)  # type: ignore[attr-defined]
    updated = invoice(2023, 2, lines=3, status="Refunded")  # fewer lines, new status
    late = invoice(2023, 9, lines=2)  # an invoice of 2023 seen for the first time

    make_sink(fake).write(batch([updated, late]))

    lines_2023 = [r["Line Key"] for r in sink.rows("Line Items 2023")]
    assert [k for k in lines_2023 if k.startswith("doit:acme:2023-2#")] == [
        "doit:acme:2023-2#1", "doit:acme:2023-2#2", "doit:acme:2023-2#3"]  # fmt: skip
    assert lines_2023[-2:] == ["doit:acme:2023-9#1", "doit:acme:2023-9#2"]
    assert not [r for r in sink.rows("Line Items") if r["Period"].startswith("2023")]
    statuses = {r["Invoice Key"]: r["Status"] for r in sink.rows("Invoices")}
    assert statuses["doit:acme:2023-2"] == "Refunded" and "doit:acme:2023-9" in statuses
    assert len(fake.drive.files) == files  # type: ignore[attr-defined]  # no new archive


def test_a_first_sync_too_big_for_one_spreadsheet_lands_old_years_in_archives(
    fake: FakeGoogle,
) -> None:
    sink = make_sink(fake)
    everything = history(2022, 2023, 2024, 2025) + history(2026)

    sink.write(batch(everything))

    assert sorted(archives(fake)) == ["2022", "2023", "2024"]
    assert all_line_keys(sink, ["2022", "2023", "2024"]) == Counter(keys(everything))
    assert len(sink.rows("Invoices")) == 20  # every invoice row stays in the ledger


def test_a_year_too_big_for_any_spreadsheet_is_refused_before_anything_is_sent(
    fake: FakeGoogle,
) -> None:
    sink = make_sink(fake)
    sink.write(batch(history(2025, per_year=2)))
    writes = len(fake.calls.writes())
    rows = (sink.rows("Invoices"), sink.rows("Line Items"), sink.rows("Runs"))

    with pytest.raises(SinkError) as caught:
        sink.write(batch([invoice(2026, 1, lines=200)]))  # 200 x 21 cells > 2,000

    message = str(caught.value)
    assert "limit of 2,000 cells" in message and "nothing was written" in message
    assert "new spreadsheet" in message and not caught.value.retryable
    assert len(fake.calls.writes()) == writes and archives(fake) == {}
    assert (sink.rows("Invoices"), sink.rows("Line Items"), sink.rows("Runs")) == rows


def test_the_fake_refuses_a_write_past_its_limit_as_google_does(fake: FakeGoogle) -> None:
    sink = make_sink(fake, limit=10_000_000)  # a sink that believes it has room
    sink.rows("Runs")
    before = fake.sheets.books[SHEET].cell_total()  # type: ignore[attr-defined]

    with pytest.raises(SinkError) as caught:
        sink.write(batch(history(2026, per_year=12, lines=20)))

    assert "above the limit of 2000 cells" in str(caught.value)
    last = fake.calls.of("sheets.spreadsheets.batchUpdate")[-1]
    assert last.status == 400 and fake.sheets.books[SHEET].cell_total() == before  # type: ignore[attr-defined]


def test_without_drive_access_a_write_that_still_fits_goes_on_with_a_warning(
    fake: FakeGoogle,
) -> None:
    sink = make_sink(fake)
    sink.write(batch(history(2023, 2024, 2025)))
    fake.faults.add("403_permission", path_regex=DRIVE_CREATE)

    sink.write(batch(history(2026, per_year=2)))  # between 90 % and the limit

    warning = [r for r in sink.rows("Runs") if r["Status"] == "warning"][-1]
    assert warning["Message"].startswith("Old years of Line Items could not be moved out")
    assert len(sink.rows("Line Items")) == 70 and archives(fake) == {}


@pytest.mark.parametrize(("cells", "projected", "expected"), [
    ({"2023": 400, "2024": 400, "2026": 300}, 3_700, ["2023", "2024"]),  # down below 80 %
    ({"2023": 400, "2024": 400, "2026": 300}, 3_500, ["2023"]),
    ({"2025": 100, "2026": 2_000}, 4_500, ["2025", "2026"]),  # the running year, to fit only
    ({"2026": 3_700}, 3_800, []),  # nothing complete, and it fits: stay
])  # fmt: skip
def test_choose_years(cells: dict[str, int], projected: int, expected: list[str]) -> None:
    assert choose_years(cells, projected, 4_000, 2026) == expected


def test_route_sends_an_archived_years_lines_to_its_archive_and_keeps_the_invoice() -> None:
    pairs = [invoice(2023, 1, lines=2), invoice(2026, 1, lines=1), invoice(2023, 2, lines=0)]

    routed = route(batch(pairs), {"2023"}, unchanged={"doit:acme:2023-1", "doit:acme:2026-1"})

    assert [i.key for i in routed.main.invoices] == [p[0].key for p in pairs]
    assert [line.key for line in routed.main.lines] == ["doit:acme:2026-1#1"]
    part = routed.archive["2023"]
    assert [line.key for line in part.lines] == ["doit:acme:2023-1#1", "doit:acme:2023-1#2"]
    assert part.invoices == {"doit:acme:2023-1", "doit:acme:2023-2"}  # line-less: cleared
    assert part.unchanged == {"doit:acme:2023-1"} and list(routed.archive) == ["2023"]
