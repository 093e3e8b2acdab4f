"""Google Sheets LedgerSink: tabs found by developer metadata, one read, atomic batch upserts.

A write reads the ledger once (getByDataFilter: tabs, the Invoices rows, the header rows and
the Line Key column, each found by developer metadata, see sheets_snapshot; a ledger whose tags
are missing is read by header name and tagged again), plans typed CellData requests
(sheets_plan), and sends them as batchUpdate bodies of at most ~2 MB. batchUpdate is atomic,
so after a failure nothing of that body was applied or all of it was; the sink never repeats a
body blindly: it re-reads the keys and re-plans, which turns an already-applied body into
nothing to do. Near Google's cell limit, old years of Line Items move to archive spreadsheets
(sheets_rotation); rows("Line Items") is the ledger's own tab, rows("Line Items 2024") an archive.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from api import logs
from api.core.model import (
    ALLOCATION_COLUMNS,
    INVOICE_COLUMNS,
    INVOICE_KEY_COLUMN,
    LINE_COLUMNS,
    LINE_KEY_COLUMN,
    RUN_COLUMNS,
    LedgerBatch,
    RunRecord,
)
from api.core.summary import Table
from api.core.text import column_letter
from api.errors import RetriableSinkError, SinkError
from api.ledger.damage import missing_key_column
from api.ledger.sheets.budget import RESERVED_RUN_ROWS, CellBudget, fit
from api.ledger.sheets.cells import CELL_FIELDS, read_value, to_cell
from api.ledger.sheets.layout import (
    SheetsClient,
    Tab,
    quoted,
    role_of,
    sheet_url,
    tab_of,
    tab_setup,
)
from api.ledger.sheets.plan import Request, TabState, chunk
from api.ledger.sheets.rotation import Rotation, Routed, archived_years, plan_main
from api.ledger.sheets.snapshot import FIELDS, FILTERS, Snapshot, parse, read_tags
from api.ledger.sheets.summary import SUMMARY_TAB, report_requests
from api.ledger.sheets.year_archive import ArchiveBook, DriveArchives, typed_records
from api.ports import Allocations, Clock, utcnow

log = logs.get("sheets")

ROLES = {"invoices": ("Invoices", INVOICE_COLUMNS), "line_items": ("Line Items", LINE_COLUMNS),
         "runs": ("Runs", RUN_COLUMNS)}  # fmt: skip
TITLE_ROLES = {title: role for role, (title, _) in ROLES.items()}
ARCHIVE_TAB = re.compile(r"Line Items (\d{4})")
REPLANS = 3  # fresh read + plan after an ambiguous failure, at most this many times
MARK_KEY = "billsync.summary.mark"  # on the Summary tab: what its tables were built with
LAYOUT_FIELDS = (
    "spreadsheetId,properties.title,sheets(properties,developerMetadata),developerMetadata"
)


@dataclass
class Draft:
    """One write planned against what was read: the ledger's groups and the cell budget."""

    tabs: tuple[TabState, TabState]
    groups: list[list[Request]]
    routed: Routed
    budget: CellBudget
    sizes: dict[int, tuple[int, int]]

    @property
    def projected(self) -> int:
        return self.budget.projected(self.groups, self.sizes)


class SheetsLedger:
    """The ledger in a Google Sheet the user owns or was shared."""

    def __init__(
        self,
        spreadsheet_id: str,
        credentials: Any,
        *,
        api_url: str,
        drive_api_url: str = "https://www.googleapis.com",
        cell_limit: int = 10_000_000,
        max_batch_bytes: int = 2_000_000,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utcnow,
        account: str = "your Google account",
        max_attempts: int = 5,
        on_replaced: Callable[[str], object] | None = None,
    ) -> None:
        """`on_replaced(new_id)` is told when a trashed ledger Sheet was replaced by a new one
        (the connection then keeps the new id)."""
        self.spreadsheet_id = spreadsheet_id
        sheets = partial(SheetsClient, credentials=credentials, api_url=api_url,
                         account=account, sleep=sleep, max_attempts=max_attempts)  # fmt: skip
        self._sheets_client = sheets
        self._client = sheets(spreadsheet_id)
        self._book = lambda archive_id: ArchiveBook(sheets(archive_id), max_batch_bytes)
        self._drive = partial(DriveArchives, credentials=credentials, api_url=drive_api_url,
                              sleep=sleep, max_attempts=max_attempts)  # fmt: skip
        self._archives = self._drive(spreadsheet_id)
        self._on_replaced = on_replaced
        self._cell_limit = cell_limit
        self._max_batch = max_batch_bytes
        self._clock = clock
        self._tabs: dict[str, Tab] | None = None  # role -> tab, from developer metadata
        self._others: dict[int, int] = {}  # sheetId -> cells of tabs that are not ours
        self._archived: dict[str, str] = {}  # year -> archive spreadsheet id
        self._title = "Ledger"
        self._headers: dict[str, list[str]] = {}
        self._fresh = False  # the last layout look-up added every tab (each holds its header)
        self._states: tuple[TabState, TabState] | None = None  # what the last snapshot read
        self._missed: Snapshot | None = None  # a snapshot that fell short: what to re-tag
        self._existing: set[str] = set()  # roles the last full look-up found already tagged
        self._retag: list[Request] = []  # tags to send with the next ledger write
        self._created: frozenset[str] = frozenset()  # roles the last look-up had to add
        self._wrote = False  # this sink wrote Line Items since the last write_reports
        self._seen: list[dict[str, Any]] | None = None  # every tab, as _all_tabs last read them

    # -- LedgerSink --------------------------------------------------------------------------

    def location(self) -> str:
        return sheet_url(self.spreadsheet_id)

    def write(self, batch: LedgerBatch) -> None:
        if batch.empty:
            return
        self._wrote = True  # the Summary no longer matches Line Items (see report_mark)
        for attempt in range(REPLANS + 1):
            draft = self._draft(batch)  # reads are retried inside; a failed read ends here
            try:
                self._send(batch, draft)
                return
            except RetriableSinkError:
                if attempt == REPLANS:
                    raise
                log.info("Sheets write interrupted; re-reading keys before trying again")
                self._tabs = None  # the layout may have moved too

    def append_run(self, run: RunRecord) -> None:
        for attempt in range(REPLANS + 1):
            tab = self._layout()["runs"]
            header = self._header("runs")
            row = run.row()
            if attempt and self._run_present(tab, header, row):
                return
            cells = [to_cell(name, row.get(name)) if name in row else {} for name in header]
            request = {"appendCells": {"sheetId": tab.sheet_id, "rows": [{"values": cells}],
                                       "fields": CELL_FIELDS}}  # fmt: skip
            try:
                self._client.batch_update([request])
                return
            except RetriableSinkError:
                if attempt == REPLANS:
                    raise
                self._tabs = None

    def invoice_keys(self) -> frozenset[str] | None:
        """The Invoice Keys of the Invoices tab (one read); None when the Invoices or Line
        Items tab had to be added again (deleted by someone), or when the Sheet is in the Drive
        trash: a new Sheet beside it becomes the ledger, and the engine rebuilds either."""
        if self._archives.trashed():
            self._replace_trashed()
            return None
        invoices, _ = self._read_keys()
        self._states = None
        if self._created & {"invoices", "line_items"}:
            return None
        if invoices.keys and INVOICE_KEY_COLUMN not in invoices.header:
            raise missing_key_column(self.location())
        return frozenset(key for key in invoices.keys if key)

    def rows(self, tab: str, columns: Collection[str] | None = None) -> list[dict[str, Any]]:
        """A tab's rows; "Line Items <YYYY>" reads that year's archive spreadsheet, if any.
        With `columns`, a ledger tab whose header is known reads only the column ranges that
        hold them (one values.batchGet either way)."""
        layout = self._layout()
        role = TITLE_ROLES.get(tab)
        target = (
            layout[role] if role else next((t for t in self._all_tabs() if t.title == tab), None)
        )
        archive = ARCHIVE_TAB.fullmatch(tab)
        if target is None and archive and archive.group(1) in self._archived:
            return self._book(self._archived[archive.group(1)]).rows()
        if target is None:
            return []
        known = frozenset(ROLES[role][1]) if role else None
        spans = column_spans(self._headers.get(role or "", []), columns)
        if role and spans:  # the header row comes along: it tells whether the spans still hold
            title = quoted(target.title)
            ranges = [f"{title}!1:1"]
            ranges += [f"{title}!{column_letter(a)}:{column_letter(b - 1)}" for a, b in spans]
            (first, *parts), _ = self._client.values(ranges)
            header = [str(name) for name in (first[0] if first else [])]
            if column_spans(header, columns) == spans:
                return typed_records(side_by_side(parts, [b - a for a, b in spans]), known)
            self._headers[role] = header  # columns were added or moved since it was read
        (values,), _ = self._client.values([quoted(target.title)])
        return typed_records(values, known)

    def archive_tabs(self) -> list[str]:
        """The names rows() reads archived years of Line Items by ("Line Items 2019"), oldest
        first; [] when no year has moved to an archive spreadsheet."""
        self._layout()
        return [f"Line Items {year}" for year in sorted(self._archived)]

    def _replace_trashed(self) -> None:
        old = self.spreadsheet_id
        new = self._archives.replacement()
        log.info("ledger Sheet %s is in the Drive trash; writing to a new Sheet %s", old, new)
        self.spreadsheet_id = new
        self._client = self._sheets_client(new)
        self._archives = self._drive(new)
        self._tabs, self._states, self._missed, self._headers = None, None, None, {}
        if self._on_replaced is not None:
            self._on_replaced(new)

    def write_reports(
        self, tables: Sequence[Table], allocations: Allocations, mark: str = ""
    ) -> None:
        """The Summary tab rebuilt (tables and chart), a Clients tab if missing, and the
        changed Client/Billable cells of Line Items (see sheets.summary); `mark` is kept as
        developer metadata on the new Summary tab, in the last body (see report_mark)."""
        lines = self._layout()["line_items"]
        header = self._header("line_items")
        requests = report_requests(
            self._client, lines, header, tables, allocations, sorted(self._archived)
        )
        added = [r["addSheet"]["properties"] for r in requests if "addSheet" in r]
        summary = next(props["sheetId"] for props in added if props["title"] == SUMMARY_TAB)
        requests.append({"createDeveloperMetadata": {"developerMetadata": {
            "metadataKey": MARK_KEY, "metadataValue": mark, "visibility": "DOCUMENT",
            "location": {"sheetId": summary}}}})  # fmt: skip
        for body in chunk([requests], self._max_batch):
            self._client.batch_update(body)
        self._wrote = False
        if allocations:  # Client and Billable now follow the last header (sheets.summary)
            added = [name for name in ALLOCATION_COLUMNS if name not in header]
            self._headers["line_items"] = [*header, *added]

    def report_mark(self) -> str | None:
        """The mark the last write_reports left on the Summary tab (from the tabs' metadata
        the Clients read just fetched, else one spreadsheets.get); None without one, or when
        this sink has written Line Items since.

        The Sheet offers no cheap fingerprint of a tab, so edits a person makes by hand in
        Line Items go unseen until the next sync that writes rows (`billsync summary`
        rebuilds regardless). The old Summary's metadata goes with the deleted tab.
        """
        seen, self._seen = self._seen, None  # a refresh has just looked (reading Clients)
        if self._wrote:
            return None
        if seen is None:
            book = self._client.spreadsheet("sheets(properties(title),developerMetadata)")
            seen = book.get("sheets", [])
        for sheet in seen:
            if sheet.get("properties", {}).get("title") != SUMMARY_TAB:
                continue
            for item in sheet.get("developerMetadata", []):
                if item.get("metadataKey") == MARK_KEY:
                    return str(item.get("metadataValue", ""))
        return None

    # -- writing -----------------------------------------------------------------------------

    def _send(self, batch: LedgerBatch, draft: Draft) -> None:
        """Make room if needed, copy archived years' lines, then write the ledger's groups."""
        note = ""
        if draft.budget.needs_rotation(draft.projected):
            try:
                moved = self._rotation().make_room(
                    draft.tabs[1], batch, self._archived, draft.projected,
                    lambda moving: self._draft(batch, draft.tabs, moving).projected,
                    self._runs())  # fmt: skip
            except RetriableSinkError:
                raise  # the ledger may have changed: read and plan again
            except SinkError as exc:  # nothing was deleted: write if it still fits
                if draft.projected > self._cell_limit:
                    raise
                moved, note = {}, f"Old years of Line Items could not be moved out: {exc}"
                log.warning("%s", note)
            if moved:
                self._tabs = None  # rows went away and the archive years are recorded
                draft = self._draft(batch)
        stamp = {"Started": self._clock(), "Finished": self._clock(), "Trigger": "sheets"}
        groups = fit(draft.budget, draft.groups, draft.sizes, self._runs(), stamp, note)
        for year, part in sorted(draft.routed.archive.items()):
            rows = [line.row() for line in part.lines]
            book = self._book(self._archived[year])
            book.upsert(list(LINE_COLUMNS), rows, part.invoices, keep=part.unchanged)
        if self._retag:  # ranges that lost their tags: tagged again with the first body
            groups = [self._retag, *groups]
        for body in chunk(groups, self._max_batch):
            self._client.batch_update(body)
        self._retag = []

    def _draft(
        self,
        batch: LedgerBatch,
        tabs: tuple[TabState, TabState] | None = None,
        moving: Mapping[str, Sequence[int]] | None = None,
    ) -> Draft:
        tabs = tabs or self._read_keys()
        groups, routed = plan_main(batch, self._archived, tabs, self._max_batch, moving)
        runs = self._layout()["runs"]
        sizes = {tab.sheet_id: (tab.row_count, tab.column_count) for tab in tabs}
        sizes[runs.sheet_id] = (runs.row_count, runs.column_count)
        used = sum(self._others.values()) + RESERVED_RUN_ROWS * runs.column_count
        used += sum(rows * columns for rows, columns in sizes.values())
        return Draft(tabs, groups, routed, CellBudget(self._cell_limit, used), sizes)

    def _rotation(self) -> Rotation:
        return Rotation(self._client, self._archives, self._book, ledger_title=self._title,
                        limit=self._cell_limit, clock=self._clock)  # fmt: skip

    def _runs(self) -> tuple[int, list[str]]:
        return self._layout()["runs"].sheet_id, self._header("runs")

    # -- reading ----------------------------------------------------------------------------

    def _read_keys(self) -> tuple[TabState, TabState]:
        """Every write reads afresh: one snapshot, or (tags missing) a read by header name."""
        self._tabs, self._states, self._retag = None, None, []
        layout = self._layout()
        if self._states is not None:
            states, self._states = self._states, None
            return states
        inv, lines, runs = layout["invoices"], layout["line_items"], layout["runs"]
        if self._fresh:  # this call added the tabs: no key to read yet
            self._headers.update({role: list(ROLES[role][1]) for role in ROLES})
            return (TabState(inv.sheet_id, inv.title, inv.row_count, inv.column_count,
                             list(INVOICE_COLUMNS), [], [], 1),
                    TabState(lines.sheet_id, lines.title, lines.row_count, lines.column_count,
                             list(LINE_COLUMNS), [], None, 1))  # fmt: skip
        states = self._read_by_name(inv, lines, runs)
        if self._missed is not None:
            tagged = {role: tab for role, tab in layout.items() if role in self._existing}
            self._retag = self._missed.missing_tags(tagged, self._headers)
        return states

    def _read_by_name(self, inv: Tab, lines: Tab, runs: Tab) -> tuple[TabState, TabState]:
        guess = self._headers.get("line_items") or list(LINE_COLUMNS)
        key_letter = column_letter(guess.index(LINE_KEY_COLUMN) if LINE_KEY_COLUMN in guess else 0)
        ranges = [
            quoted(inv.title),
            f"{quoted(lines.title)}!1:1",
            f"{quoted(lines.title)}!{key_letter}:{key_letter}",
            f"{quoted(runs.title)}!1:1",
        ]
        (inv_values, line_header, line_keys, run_header), grids = self._client.values(ranges)
        header = [str(v) for v in (line_header[0] if line_header else [])]
        self._headers["runs"] = [str(v) for v in (run_header[0] if run_header else [])]
        self._headers["line_items"] = header
        if LINE_KEY_COLUMN in header and column_letter(header.index(LINE_KEY_COLUMN)) != key_letter:
            column = column_letter(header.index(LINE_KEY_COLUMN))  # the user moved the key column
            (line_keys,), _ = self._client.values([f"{quoted(lines.title)}!{column}:{column}"])
        elif LINE_KEY_COLUMN not in header:
            line_keys = []
        inv_header = [str(v) for v in (inv_values[0] if inv_values else [])]
        key_at = inv_header.index(INVOICE_KEY_COLUMN) if INVOICE_KEY_COLUMN in inv_header else None
        inv_rows = [list(r) for r in inv_values[1:]]
        inv_keys = [
            str(r[key_at]) if key_at is not None and key_at < len(r) else "" for r in inv_rows
        ]
        line_key_values = [str(r[0]) if r else "" for r in line_keys[1:]]
        invoices = TabState(inv.sheet_id, inv.title, grids[0][0], grids[0][1], inv_header,
                            inv_keys, inv_rows, max(inv.frozen, 1))  # fmt: skip
        line_state = TabState(lines.sheet_id, lines.title, grids[2][0], grids[1][1], header,
                              line_key_values, None, max(lines.frozen, 1))  # fmt: skip
        return invoices, line_state

    def _header(self, role: str) -> list[str]:
        if role not in self._headers:
            tab = self._layout()[role]
            (values,), _ = self._client.values([f"{quoted(tab.title)}!1:1"])
            self._headers[role] = [str(v) for v in (values[0] if values else [])]
        return self._headers[role] or list(ROLES[role][1])

    def _run_present(self, tab: Tab, header: list[str], row: dict[str, Any]) -> bool:
        (values,), _ = self._client.values([quoted(tab.title)])
        wanted = [read_value(to_cell(name, row.get(name))) for name in ("Started", "Connection")]
        at = [header.index(name) for name in ("Started", "Connection") if name in header]
        if len(at) != 2:
            return False
        return any([r[i] if i < len(r) else "" for i in at] == wanted for r in values[1:])

    # -- layout: our tabs, found by developer metadata ---------------------------------------

    def _layout(self) -> dict[str, Tab]:
        if self._tabs is None:
            self._tabs = self._load()
        return self._tabs

    def _load(self) -> dict[str, Tab]:
        """The one read; a full look-up (and setup) only when it does not find every range."""
        snapshot = parse(self._client.snapshot(FILTERS, FIELDS))
        states = snapshot.states()
        self._created = frozenset()
        if states is None and not snapshot.tabs and not snapshot.metadata:
            self._missed = None  # a new ledger (or its setup was lost): nothing to re-tag
            return self._set_up_new() or self._find_or_create_tabs()
        if states is None:
            self._missed = snapshot
            return self._find_or_create_tabs()
        self._missed, self._fresh = None, False
        self._title = snapshot.title
        self._archived = archived_years({"developerMetadata": snapshot.metadata})
        invoices, lines, self._headers["runs"] = states
        self._headers["line_items"] = list(lines.header)
        self._states = (invoices, lines)
        return snapshot.tabs

    def _all_tabs(self) -> list[Tab]:
        self._seen = self._client.spreadsheet(LAYOUT_FIELDS)["sheets"]
        return [tab_of(sheet) for sheet in self._seen]

    def _survey(self, book: Mapping[str, Any]) -> dict[str, Tab]:
        """Our tabs by role in a spreadsheet resource; title, archives and other tabs' cells."""
        self._title = str(book.get("properties", {}).get("title") or self._title)
        self._archived = archived_years(book)
        found: dict[str, Tab] = {}
        self._others = {}
        for sheet in book.get("sheets", []):
            role, tab = role_of(sheet), tab_of(sheet)
            if role in ROLES and role not in found:
                found[role] = tab
            else:
                self._others[tab.sheet_id] = tab.row_count * tab.column_count
        return found

    def _set_up_new(self) -> dict[str, Tab] | None:
        """None of our tabs exists: add them at once, the answer lists every tab (no look-up
        first). None when Google refuses (a same-titled tab to adopt) or the answer is lost."""
        try:
            answer = self._client.batch_update(_setup_requests(list(ROLES), {}),
                                               with_spreadsheet=True)  # fmt: skip
        except SinkError:
            return None
        found = self._survey(answer.get("updatedSpreadsheet") or {})
        if set(found) != set(ROLES):
            return None
        self._existing, self._fresh = set(), True
        self._created = frozenset(ROLES)
        return found

    def _find_or_create_tabs(self) -> dict[str, Tab]:
        self._fresh = False
        for attempt in range(REPLANS + 1):
            book = self._client.spreadsheet(LAYOUT_FIELDS)
            sheets = book.get("sheets", [])
            found = self._survey(book)
            missing = [role for role in ROLES if role not in found]
            self._existing = set(found)
            if not missing:
                return found
            if attempt == REPLANS:
                break
            titles = {tab_of(sheet).title: sheet for sheet in sheets}
            try:
                answer = self._client.batch_update(_setup_requests(missing, titles))
            except RetriableSinkError:
                continue  # it may have been applied: look again before anything else
            added = _added_tabs(answer)
            adopted = {role: tab_of(titles[ROLES[role][0]]) for role in missing
                       if role not in added and ROLES[role][0] in titles}  # fmt: skip
            if len(added) + len(adopted) < len(missing):
                continue  # an answer we cannot read: look again
            for tab in adopted.values():
                self._others.pop(tab.sheet_id, None)
            self._fresh = len(added) == len(ROLES)
            self._created = frozenset(added)
            return {**found, **added, **adopted}  # no second look: we know what we made
        raise RetriableSinkError("Could not set up the ledger tabs; the next run will retry.")


def column_spans(header: Sequence[str], columns: Collection[str] | None) -> list[tuple[int, int]]:
    """The [start, end) column index runs of `header` holding `columns`; [] for all of them
    (no `columns`, no header known, or every column wanted)."""
    wanted = [i for i, name in enumerate(header) if columns is not None and name in columns]
    if not wanted or len(wanted) == len(header):
        return []
    spans = [(wanted[0], wanted[0] + 1)]
    for index in wanted[1:]:
        start, end = spans[-1]
        spans[-1:] = [(start, index + 1)] if index == end else [(start, end), (index, index + 1)]
    return spans


def side_by_side(parts: Sequence[list[list[Any]]], widths: Sequence[int]) -> list[list[Any]]:
    """Column ranges read separately, joined back row by row (Sheets leaves out trailing
    empty cells and rows: they come back as '')."""
    height = max((len(part) for part in parts), default=0)
    rows: list[list[Any]] = []
    for at in range(height):
        row: list[Any] = []
        for part, width in zip(parts, widths, strict=True):
            cells = part[at] if at < len(part) else []
            row += [*cells, *[""] * (width - len(cells))]
        rows.append(row)
    return rows


def _added_tabs(answer: Mapping[str, Any]) -> dict[str, Tab]:
    """role -> tab, from the addSheet replies of the setup batchUpdate."""
    props = [reply["addSheet"]["properties"] for reply in answer.get("replies", [])
             if "addSheet" in (reply or {})]  # fmt: skip
    return {TITLE_ROLES[p["title"]]: tab_of({"properties": p}) for p in props
            if p.get("title") in TITLE_ROLES}  # fmt: skip


def _setup_requests(missing: list[str], titles: dict[str, Any]) -> list[Request]:
    """Adopt a same-titled tab without metadata, or add the tab; header, filter, widths."""
    requests: list[Request] = []
    for role in missing:
        title, columns = ROLES[role]
        existing = titles.get(title)
        if existing is not None:
            sheet_id = int(existing["properties"]["sheetId"])
        else:
            sheet_id = zlib.crc32(role.encode()) % 1_000_000_000 + 1
            grid = {"rowCount": 2, "columnCount": len(columns), "frozenRowCount": 1}
            requests.append({"addSheet": {"properties": {"sheetId": sheet_id, "title": title,
                                                         "gridProperties": grid}}})  # fmt: skip
        requests += tab_setup(sheet_id, role, list(columns))
        requests += read_tags(sheet_id, role, list(columns))
    return requests
