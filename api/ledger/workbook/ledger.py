"""The embedded ledger: an .xlsx workbook rewritten atomically, read and written by header name."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import itertools
import json
import os
import threading
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from api.atomic import replacing
from api.core.model import (
    INVOICE_KEY_COLUMN,
    LINE_KEY_COLUMN,
    LINK_COLUMNS,
    Invoice,
    LedgerBatch,
    LineItem,
    RunRecord,
)
from api.core.summary import Table
from api.errors import SinkError
from api.ledger.damage import missing_key_column
from api.ledger.workbook.cells import model_value, row_typer
from api.ledger.workbook.order import Placement, Rank, Scope, invoice_rank
from api.ledger.workbook.summary import (
    CLIENTS_TAB,
    SUMMARY_TAB,
    Allocations,
    ClientsSheet,
    SummarySheet,
    allocation_edit,
)
from api.ledger.workbook.tabs import TABS, Generated, TabEdit, fill_book, filled, header_names
from api.ledger.workbook.xlsx_package import BookWriter
from api.ledger.workbook.xlsx_raw import RawRow, RawSheet, is_ours
from api.ledger.workbook.xlsx_read import NotAWorkbook, XlsxReader
from api.ports import Clock, utcnow

ROW_KEYS = {"Invoices": INVOICE_KEY_COLUMN, "Line Items": LINE_KEY_COLUMN}


class WorkbookLedger:
    """`LedgerSink` on a local .xlsx file (the stand-in for the Google Sheet).

    Every change streams the old file into a new one beside it, fsyncs it and renames it over
    the old one: a crash leaves either the old or the new ledger, never half of one. Users' own
    columns, tabs and row order are kept; their cell styles are not.

    When the old file is one billsync wrote (and nobody saved since), unchanged rows are copied
    as their XML and untouched sheets as their compressed bytes; only new rows are serialized.
    A file saved by Excel, LibreOffice or openpyxl is read cell by cell once and rewritten.
    """

    def __init__(self, path: Path, *, clock: Clock = utcnow) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        self._read: tuple[tuple[int, ...], list[list[Any]]] | None = None

    def location(self) -> str:
        return str(self.path)

    def write(self, batch: LedgerBatch) -> None:
        if batch.empty:
            return
        invoices: dict[str, list[Invoice | LineItem]] = {inv.key: [inv] for inv in batch.invoices}
        lines: dict[str, list[Invoice | LineItem]] = {key: [] for key in invoices}
        for line in batch.lines:
            lines.setdefault(line.invoice_key, []).append(line)
        removed = frozenset(batch.removed) - invoices.keys()

        def edits(reader: XlsxReader | None) -> dict[str, TabEdit]:
            held = _held_keys(reader, self.path) or frozenset()
            new = {inv.key: invoice_rank(inv) for inv in batch.invoices if inv.key not in held}
            return {
                "Invoices": _replace_groups(invoices, removed, "Invoices", new),
                "Line Items": _replace_groups(lines, removed, "Line Items", new),
            }

        self._rewrite(edits)

    def invoice_keys(self) -> frozenset[str] | None:
        """The Invoice Keys of the Invoices tab; None without the file or one of its ledger
        tabs; SinkError (move it away, or restore a backup) when the file is damaged."""
        with self._lock, self._open() as reader:
            return _held_keys(reader, self.path)

    def append_run(self, run: RunRecord) -> None:
        row = run.row()

        def append(header: list[str], rows: Iterator[Any]) -> Iterator[Any]:
            yield from rows
            yield [model_value(name, row.get(name)) for name in header]

        self._rewrite(lambda reader: {"Runs": append})

    def rows(self, tab: str, columns: Collection[str] | None = None) -> list[dict[str, Any]]:
        """See LedgerSink.rows; with `columns`, the other columns are left out (and in a file
        billsync wrote, their cells are not even decoded)."""
        with self._lock, self._open() as reader:
            keep = self._remember(reader) if reader and tab == "Line Items" else None
            return _tab_rows(reader, tab, keep, columns) or []

    # -- the rewrite ------------------------------------------------------------------------

    def write_reports(
        self, tables: Sequence[Table], allocations: Allocations, mark: str = ""
    ) -> None:
        """Replace the Summary tab (tables and chart), add a Clients tab if there is none, and
        set Client/Billable on the Line Items rows named in `allocations`; one rewrite. `mark`
        is kept beside the file with what the rewrite left (see report_mark)."""
        edits = {"Line Items": allocation_edit(allocations)} if allocations else {}
        self._rewrite(
            lambda _reader: edits,
            {SUMMARY_TAB: SummarySheet(tables), CLIENTS_TAB: ClientsSheet()},
            then=lambda: self._keep_mark(mark),
        )

    def report_mark(self) -> str | None:
        """The `mark` of the last write_reports while the Line Items, Clients and Summary
        sheets are byte for byte as it left them (each part's CRC-32 and size, from the zip
        directory: nothing is decompressed); None after any change to them, or none kept."""
        try:
            kept = json.loads(self._mark_path.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        with self._lock, self._open() as reader:
            if reader is None or not isinstance(kept, dict):
                return None
            return str(kept.get("mark")) if kept.get("parts") == _report_parts(reader) else None

    @property
    def _mark_path(self) -> Path:
        return self.path.parent / f".{self.path.name}.summary"

    def _keep_mark(self, mark: str) -> None:
        """Without it (a full disk) the next refresh rebuilds: the file is saved already."""
        with self._open() as reader:
            parts = _report_parts(reader) if reader else {}
        with contextlib.suppress(OSError), replacing(self._mark_path, sync_dir=False) as file:
            file.write(json.dumps({"mark": mark, "parts": parts}).encode())

    def _rewrite(
        self,
        edits: Callable[[XlsxReader | None], dict[str, TabEdit]],
        generated: Mapping[str, Generated] | None = None,
        then: Callable[[], None] | None = None,
    ) -> None:
        with self._lock, self._file_lock(), self._open() as reader:
            self._remove_stale_temps()
            planned = edits(reader)
            read = self._recalled(reader)
            self._save(lambda book: fill_book(book, reader, planned, generated, read))
            if then is not None:
                then()

    # -- rows read once ----------------------------------------------------------------------

    def _remember(self, reader: XlsxReader) -> Callable[[list[list[Any]]], None]:
        """Keep the Line Items cell values just read from a file someone else saved, so the
        rewrite that follows (a refresh) does not parse its XML a second time."""
        identity = _identity(reader)

        def keep(rows: list[list[Any]]) -> None:
            self._read = (identity, rows)

        return keep

    def _recalled(self, reader: XlsxReader | None) -> Callable[[Any], Iterator[list[Any]]] | None:
        """The rows `rows()` kept, if the file open now is the one they were read from."""
        read, self._read = self._read, None
        if reader is None or read is None or read[0] != _identity(reader):
            return None
        rows = read[1]

        def recall(sheet: Any) -> Iterator[list[Any]]:
            return iter(rows) if sheet.title == "Line Items" else reader.rows(sheet)

        return recall

    def _remove_stale_temps(self) -> None:
        """Temp files of writers that died (killed, power cut) before renaming: only a holder of
        the file lock writes one, and we hold it now."""
        for stale in self.path.parent.glob(f".{glob.escape(self.path.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()

    @contextlib.contextmanager
    def _open(self) -> Iterator[XlsxReader | None]:
        if not self.path.exists():
            yield None
            return
        try:
            reader = XlsxReader(self.path)
        except NotAWorkbook:
            raise SinkError(
                f"The ledger file {self.path} is not a valid .xlsx workbook, so billsync will not "
                "touch it.",
                action="Restore it from a backup, or move it away: the next sync then rebuilds "
                "the ledger there from the providers.",
            ) from None
        with reader:
            try:
                yield reader
            except (NotAWorkbook, zipfile.BadZipFile):
                raise SinkError(
                    f"The ledger file {self.path} is damaged (a sheet cannot be read); it was "
                    "left unchanged.",
                    action="Restore it from a backup, or move it away: the next sync then "
                    "rebuilds the ledger there from the providers.",
                ) from None

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """One writer at a time across processes too (the CLI and the service may share it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.parent / f".{self.path.name}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _save(self, fill: Callable[[BookWriter], None]) -> None:
        try:
            with replacing(self.path) as file:
                book = BookWriter(file, self.clock(), base=self.path.parent)
                fill(book)
                book.close()
        except OSError as exc:
            raise SinkError(
                f"The ledger {self.path} could not be saved ({exc.strerror or exc}); it was left "
                "as it was.",
                action="Check the disk space and that the folder is writable, then sync again.",
            ) from None


def _tab_rows(
    reader: XlsxReader | None,
    tab: str,
    keep: Callable[[list[list[Any]]], None] | None = None,
    columns: Collection[str] | None = None,
) -> list[dict[str, Any]] | None:
    """A tab's rows typed by header name; None when the file or the tab does not exist.
    `keep` is given the raw rows of a file someone else saved (header first); `columns`
    limits the typing (and, in a file billsync wrote, the decoding) to those columns."""
    sheet = next((s for s in reader.sheets if s.title == tab), None) if reader else None
    if reader is None or sheet is None:
        return None
    rows: Iterator[list[Any]]
    if is_ours(reader):
        raw = RawSheet(reader, sheet)
        stream = raw.rows()
        first = next(stream, None)
        names = header_names(first.values() if first else [])
        if columns is not None:  # after the header: its cells are all needed
            raw.skip(i for i, name in enumerate(names) if name not in columns)
        whole = itertools.chain([first] if first else [], stream)
        rows = (row for row in map(RawRow.values, whole) if filled(row))
    elif keep is not None:
        every = list(reader.rows(sheet))
        keep(every)
        rows = iter(every)
    else:
        rows = reader.rows(sheet)
    header = header_names(next(rows, []))
    if columns is not None:
        header = [name if name in columns else "" for name in header]
    typed = row_typer(tuple(header), frozenset(TABS.get(tab, ())))
    return [typed(values) for values in rows]


def _report_parts(reader: XlsxReader) -> dict[str, list[int]]:
    """Sheet title -> [CRC-32, size] of the sheets a Summary is built from and written to."""
    return {
        sheet.title: [reader.info(sheet.path).CRC, reader.info(sheet.path).file_size]
        for sheet in reader.sheets
        if sheet.title in ("Line Items", CLIENTS_TAB, SUMMARY_TAB)
    }


def _identity(reader: XlsxReader) -> tuple[int, ...]:
    """Which file `reader` has open: every save renames a new file (a new inode) over it."""
    found = os.fstat(reader.fileno())
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


def _held_keys(reader: XlsxReader | None, path: Path) -> frozenset[str] | None:
    if reader is None or not {"Invoices", "Line Items"} <= {s.title for s in reader.sheets}:
        return None
    rows = _tab_rows(reader, "Invoices") or []
    if rows and INVOICE_KEY_COLUMN not in rows[0]:
        raise missing_key_column(str(path))
    return frozenset(str(row[INVOICE_KEY_COLUMN]) for row in rows if row.get(INVOICE_KEY_COLUMN))


def _replace_groups(
    groups: dict[str, list[Invoice | LineItem]],
    removed: frozenset[str],
    tab: str,
    new: Mapping[str, tuple[Scope, Rank]],
) -> TabEdit:
    """Replace each invoice's rows (found by Invoice Key) with its new rows, in place.

    The new rows take the place of the first old row of the invoice; an invoice with no row
    yet goes before the first later invoice of its account (see order.Placement), else to the
    end; removed invoices disappear; everything else keeps its order. A user's own columns
    on a replaced row are carried over by the row's key (Invoice Key / Line Key).
    """
    own = frozenset(TABS[tab])

    def edit(header: list[str], rows: Iterator[Any]) -> Iterator[Any]:
        group_at, row_key = header.index(INVOICE_KEY_COLUMN), header.index(ROW_KEYS[tab])
        extra = [i for i, name in enumerate(header) if name not in own]
        pending = dict(groups)
        placement = Placement(header, {key: rank for key, rank in new.items() if key in groups})
        current: str | None = None
        kept: dict[Any, list[Any]] = {}
        for row in rows:
            key = row[group_at]
            if current is not None and key != current:
                yield from _fill(pending.pop(current), header, kept, row_key, extra)
                current, kept = None, {}
            if key in removed:
                continue
            if key != current:
                for due in placement.due(row):  # one whose old rows came first was placed there
                    yield from _fill(pending.pop(due, []), header, {}, row_key, extra)
            if key in pending:  # the first old row of a replaced invoice: collect its run
                current = key
            if key in groups:  # an old row of a replaced invoice: only its user columns live on
                if key == current:
                    kept[row[row_key]] = [row[i] for i in extra]
                continue
            yield row
        if current is not None:
            yield from _fill(pending.pop(current), header, kept, row_key, extra)
        for due in placement.rest():
            yield from _fill(pending.pop(due, []), header, {}, row_key, extra)
        for rows_of_invoice in pending.values():
            yield from _fill(rows_of_invoice, header, {}, row_key, extra)

    return edit


def _fill(
    new: list[Invoice | LineItem],
    header: list[str],
    kept: dict[Any, list[Any]],
    row_key: int,
    extra: list[int],
) -> Iterator[list[Any]]:
    links = [(i, name) for i, name in enumerate(header) if name in LINK_COLUMNS]
    for value in new:
        model_row = value.row()
        row = [model_row.get(name) for name in header]
        for index, name in links:
            row[index] = model_value(name, row[index])
        if kept:
            for index, old in zip(extra, kept.get(row[row_key], ()), strict=False):
                row[index] = old
        yield row
