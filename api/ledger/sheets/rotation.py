"""Keep a ledger spreadsheet under Google's cell limit by moving whole years of Line Items out.

The rule: a line belongs to its invoice's period year (`Period` "2024-12" -> 2024, whatever its
Start date), so an invoice's lines always live together. When a write would bring the ledger
to ROTATE_AT of its limit, the oldest complete years move to per-year archive spreadsheets
(sheets_archive), in this order:

1. check, with the exact plan, that the write fits after the move (else SinkError, nothing sent);
2. copy each year's rows into its archive, upserted by Line Key (a rerun never duplicates);
3. in one atomic batchUpdate of the ledger: delete those rows (deleteDimension shrinks the grid,
   which is what frees cells), record `billsync.archive.<year>` = archive id as spreadsheet
   developer metadata, and add a Runs row naming the years and archive URLs.

A crash between 2 and 3 leaves rows in both places; the next write finds the year still due,
upserts again (no change) and deletes. Once a year is recorded, later lines of that year (an
updated DoiT invoice, a --full rerun) are routed to its archive, never back to the ledger.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from api.core.model import LINE_COLUMNS, LINE_KEY_COLUMN, LedgerBatch, LineItem
from api.core.text import column_letter, counted
from api.errors import RetriableSinkError
from api.ledger.sheets.budget import choose_years, over_limit, run_row
from api.ledger.sheets.cells import read_value, same_value, to_cell, typed
from api.ledger.sheets.layout import SheetsClient, quoted, sheet_url
from api.ledger.sheets.plan import Planner, Request, TabState
from api.ledger.sheets.year_archive import ArchiveBook, DriveArchives, LinePlanner
from api.ports import Clock

ARCHIVE_KEY = "billsync.archive."  # + year: developer metadata on the ledger, value = its id
PERIOD = "Period"
READ_PAGE_ROWS = 5_000  # rows per values.batchGet while copying a year out


def year_of(period: object) -> str:
    """'2024' for a period '2024-12'; '' when there is no year to go by (never moved)."""
    text = str(period or "")
    return text[:4] if len(text) >= 4 and text[:4].isdigit() else ""


@dataclass
class ArchivePart:
    """What one archive gets from a batch: lines, the invoices whose line sets they replace,
    and those invoices whose ledger row is unchanged (their lines are left alone if complete)."""

    lines: list[LineItem] = field(default_factory=list)
    invoices: set[str] = field(default_factory=set)
    unchanged: set[str] = field(default_factory=set)


@dataclass
class Routed:
    """A batch split into what the ledger gets and what goes to archive spreadsheets."""

    main: LedgerBatch
    archive: dict[str, ArchivePart]  # by year


def route(batch: LedgerBatch, archived: Collection[str], unchanged: Collection[str] = ()) -> Routed:
    """Invoices always stay in the ledger; the lines of an archived year go to its archive."""
    years = {invoice.key: year_of(invoice.period) for invoice in batch.invoices}
    archive: dict[str, ArchivePart] = {}
    for key, year in years.items():
        if year in archived:
            part = archive.setdefault(year, ArchivePart())
            part.invoices.add(key)
            if key in unchanged:
                part.unchanged.add(key)
    lines = []
    for line in batch.lines:
        year = years.get(line.invoice_key) or year_of(line.period)
        if year in archived:
            archive.setdefault(year, ArchivePart()).lines.append(line)
        else:
            lines.append(line)
    return Routed(dataclasses.replace(batch, lines=tuple(lines)), archive)


def unchanged_invoices(invoices: TabState, batch: LedgerBatch) -> set[str]:
    """Invoices whose ledger row already reads as the batch's row (as sheets_plan decides)."""
    at: dict[str, int] = {}
    for position, key in enumerate(invoices.keys):
        at.setdefault(key, position)
    same = set()
    for invoice in batch.invoices:
        if invoice.key not in at or invoices.rows is None:
            continue
        raw = invoices.rows[at[invoice.key]]
        if all(_reads_as(invoices.header, raw, name, value)
               for name, value in invoice.row().items()):  # fmt: skip
            same.add(invoice.key)
    return same


def _reads_as(header: list[str], raw: list[Any], name: str, value: Any) -> bool:
    column = header.index(name) if name in header else None
    read = raw[column] if column is not None and column < len(raw) else ""
    return same_value(read_value(to_cell(name, value)), read)


def plan_main(
    batch: LedgerBatch,
    archived: Collection[str],
    tabs: tuple[TabState, TabState],
    max_bytes: int,
    moving: Mapping[str, Sequence[int]] | None = None,
) -> tuple[list[list[Request]], Routed]:
    """The ledger's request groups (on copies of the read tabs), first deleting the rows of
    `moving` years; their lines and those of `archived` years are routed to archives."""
    invoices, lines = (_clone(tab) for tab in tabs)
    moving = moving or {}
    doomed = [position for positions in moving.values() for position in positions]
    groups = [LinePlanner(lines, max_bytes).delete(doomed)]
    routed = route(batch, {*archived, *moving}, unchanged_invoices(tabs[0], batch))
    groups += Planner(invoices, lines, max_bytes).plan(routed.main)
    return [group for group in groups if group], routed


def _clone(tab: TabState) -> TabState:
    return dataclasses.replace(tab, header=list(tab.header), keys=list(tab.keys),
                               rows=[list(r) for r in tab.rows] if tab.rows is not None else None,
                               added_columns=list(tab.added_columns))  # fmt: skip


class Rotation:
    """Moves years of the ledger's Line Items into archive spreadsheets (see the module doc)."""

    def __init__(
        self,
        client: SheetsClient,
        archives: DriveArchives,
        open_book: Callable[[str], ArchiveBook],
        *,
        ledger_title: str,
        limit: int,
        clock: Clock,
    ) -> None:
        self._client = client
        self._archives = archives
        self._open = open_book
        self._title = ledger_title
        self._limit = limit
        self._clock = clock

    def make_room(
        self,
        lines: TabState,
        batch: LedgerBatch,
        archived: Mapping[str, str],
        projected: int,
        cost: Callable[[Mapping[str, Sequence[int]]], int],
        runs: tuple[int, list[str]],
    ) -> dict[str, str]:
        """Move years out so the write fits; returns {year: archive id} of the years moved."""
        rows = self._positions_by_year(lines)
        cells = {year: len(positions) * lines.column_count for year, positions in rows.items()}
        present = set(lines.keys)
        for line in route(batch, archived).main.lines:
            year = year_of(line.period)
            if line.key not in present and year:
                cells[year] = cells.get(year, 0) + lines.column_count
        # A year larger than a whole spreadsheet cannot move anywhere; the write is refused.
        movable = {
            year: n for year, n in cells.items() if n + 2 * lines.column_count <= self._limit
        }
        chosen = choose_years(movable, projected, self._limit, self._clock().year)
        if not chosen:
            return {}
        moving = {year: rows.get(year, []) for year in chosen}
        after = cost(moving)
        if after > self._limit:
            raise over_limit(after, self._limit, f" even after moving {', '.join(chosen)} of "
                             "Line Items to archive spreadsheets")  # fmt: skip
        ids = {year: archived.get(year) or self._archives.find_or_create(
            year, f"{self._title} — Line Items {year}") for year in chosen}  # fmt: skip
        copied = self._copy(lines, moving, ids)
        requests = LinePlanner(_clone(lines), 1).delete([p for ps in moving.values() for p in ps])
        requests += [_record(year, ids[year]) for year in chosen if year not in archived]
        moved = "; ".join(
            f"{year} ({counted(copied[year], 'row', grouped=True)}) to {sheet_url(ids[year])}"
            for year in chosen
        )
        now = self._clock()
        requests.append(run_row(runs, {
            "Started": now, "Finished": now, "Trigger": "sheets", "Status": "rotated",
            "Line Items": sum(copied.values()),
            "Message": f"Moved Line Items of {moved}. The spreadsheet now uses about "
                       f"{after:,} of {self._limit:,} cells."}))  # fmt: skip
        self._client.batch_update(requests)
        return ids

    def _positions_by_year(self, lines: TabState) -> dict[str, list[int]]:
        """Row positions (below the header) of each year's keyed rows, from the Period column."""
        if PERIOD not in lines.header or not any(lines.keys):
            return {}
        column = column_letter(lines.header.index(PERIOD))
        (periods,), _ = self._client.values([f"{quoted(lines.title)}!{column}2:{column}"])
        found: dict[str, list[int]] = defaultdict(list)
        for position, key in enumerate(lines.keys):
            raw = periods[position] if position < len(periods) else []
            year = year_of(raw[0]) if raw and key else ""
            if year:
                found[year].append(position)
        return dict(found)

    def _copy(
        self, lines: TabState, moving: Mapping[str, Sequence[int]], ids: Mapping[str, str]
    ) -> dict[str, int]:
        copied = {}
        for year, positions in moving.items():
            rows = self._read_rows(lines, positions)
            if rows:
                self._open(ids[year]).upsert(lines.header, rows)
            copied[year] = len(rows)
        return copied

    def _read_rows(self, lines: TabState, positions: Sequence[int]) -> list[dict[str, Any]]:
        """The rows at `positions`, typed, read a page at a time; refuses a moved key."""
        wanted = sorted(positions)
        known = frozenset(LINE_COLUMNS)
        rows: list[dict[str, Any]] = []
        at = 0
        while at < len(wanted):
            first = wanted[at]
            last = first + READ_PAGE_ROWS - 1
            (page,), _ = self._client.values([f"{quoted(lines.title)}!{first + 2}:{last + 2}"])
            while at < len(wanted) and wanted[at] <= last:
                offset = wanted[at] - first
                row = typed(lines.header, page[offset] if offset < len(page) else [], known)
                if row.get(LINE_KEY_COLUMN) != lines.keys[wanted[at]]:
                    raise RetriableSinkError(
                        "The Line Items tab changed while old years were being moved out; "
                        "nothing was deleted, the next run moves them."
                    )
                rows.append(row)
                at += 1
        return rows


def _record(year: str, spreadsheet_id: str) -> Request:
    return {"createDeveloperMetadata": {"developerMetadata": {
        "metadataKey": ARCHIVE_KEY + year, "metadataValue": spreadsheet_id,
        "location": {"spreadsheet": True}, "visibility": "DOCUMENT"}}}  # fmt: skip


def archived_years(spreadsheet: Mapping[str, Any]) -> dict[str, str]:
    """{year: archive id} recorded on the ledger (spreadsheets.get with developerMetadata)."""
    found: dict[str, str] = {}
    for item in spreadsheet.get("developerMetadata", []):
        key = str(item.get("metadataKey", ""))
        if key.startswith(ARCHIVE_KEY) and item.get("metadataValue"):
            found.setdefault(key.removeprefix(ARCHIVE_KEY), str(item["metadataValue"]))
    return found
