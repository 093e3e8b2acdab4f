"""The ports: small Protocols the engine talks to; each has an embedded and a cloud adapter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

from api.core.document import ExtractedDocument
from api.core.model import (
    Connection,
    DocumentLink,
    FetchedInvoice,
    Invoice,
    InvoiceRef,
    LedgerBatch,
    RunCounts,
    RunRecord,
)
from api.core.schedule import Schedule
from api.core.summary import Table


class Provider(Protocol):
    """One provider account reached with one token."""

    name: str  # "digitalocean" | "doit"

    def account_label(self) -> str:
        """Validate the token with one call and return a human account name (team name)."""
        ...

    def list_invoices(self, *, first_sync: bool) -> list[InvoiceRef]:
        """The invoices to consider (all pages). `first_sync` asks for the full history;
        otherwise a provider may list only a recent window (DoiT's overlapping window)."""
        ...

    def fetch_invoice(self, ref: InvoiceRef, account: str) -> FetchedInvoice:
        """The invoice with all its lines (all pages), reconciled."""
        ...

    def download(self, ref: InvoiceRef, kind: str, out: BinaryIO) -> None:
        """Stream one document ("pdf", "csv") into `out`, never decoding it."""
        ...

    def close(self) -> None: ...


class LedgerSink(Protocol):
    """Where rows land: the workbook or the Google Sheet."""

    def write(self, batch: LedgerBatch) -> None:
        """Upsert invoices by key, replace their line sets, delete removed keys; atomically."""
        ...

    def append_run(self, run: RunRecord) -> None: ...

    def invoice_keys(self) -> frozenset[str] | None:
        """The Invoice Keys the ledger holds; None when there is no ledger to hold them (the
        file, its Invoices or Line Items tab, or the Sheet is gone): the engine then rebuilds
        it from the provider. Raises SinkError, with what to do, when the ledger is damaged."""
        ...

    def rows(self, tab: str, columns: Collection[str] | None = None) -> list[dict[str, Any]]:
        """Read a tab back as dicts keyed by header, typed like the model's row() values:
        Decimal money, date / aware-UTC datetime, int, bool, str ('' for an empty text
        cell is returned as ''), None for an empty typed cell. With `columns`, only those
        are needed: a sink may leave the others out to read faster."""
        ...

    def location(self) -> str:
        """Where a person finds the ledger (a path or a URL)."""
        ...


class FileStore(Protocol):
    """Where documents are archived: a folder tree or Drive."""

    def put(self, invoice: Invoice, kind: str, source: Path, sha256: str) -> DocumentLink:
        """Archive `source` for `invoice`; a second put of the same content makes no copy."""
        ...

    def location(self) -> str: ...


@runtime_checkable
class ReportSink(Protocol):
    """A ledger that also keeps the Summary and Clients tabs (both sinks do)."""

    def write_reports(
        self, tables: Sequence[Table], allocations: Allocations, mark: str = ""
    ) -> None:
        """Replace the Summary tab with `tables` (and its chart), add an empty Clients tab if
        there is none, and set Client/Billable on the Line Items rows whose Line Key is in
        `allocations` (and only those). `mark` (what the tables were built with) is kept for
        `report_mark`."""
        ...

    def report_mark(self) -> str | None:
        """The `mark` of the last write_reports, as long as nothing the Summary is built
        from (Line Items, Clients) nor the Summary itself changed since, as far as the sink
        can tell cheaply; None otherwise. A refresh is skipped when this equals its mark."""
        ...


@runtime_checkable
class ArchivingSink(Protocol):
    """A ledger whose old years of Line Items may move out of it (the Sheets sink, near
    Google's cell limit); rows(tab) reads each archived year by the names it lists."""

    def archive_tabs(self) -> list[str]:
        """The tab names of the archived years ("Line Items 2019"), oldest first."""
        ...


@runtime_checkable
class ExportStore(Protocol):
    """A FileStore that also keeps export files (both archives do)."""

    def put_export(self, name: str, source: Path, sha256: str) -> DocumentLink:
        """Archive `source` as `Exports/<name>`, replacing an older export of that name."""
        ...

    def export_names(self) -> list[str]:
        """The names of the exports archived so far (as given to put_export)."""
        ...

    def remove_export(self, name: str) -> None:
        """Take `Exports/<name>` out of the archive (moved to the Drive trash, or deleted from
        the folder); nothing happens when there is none."""
        ...


class SecretStore(Protocol):
    def put(self, name: str, value: str, labels: Mapping[str, str] | None = None) -> str:
        """Store a secret (again: rotate it); return the reference to keep (never the value).
        `labels` (e.g. connection id, kind) describe it where the store can keep them."""
        ...

    def get(self, ref: str) -> str: ...

    def delete(self, ref: str) -> None: ...


@dataclass(frozen=True)
class IndexEntry:
    """What the ledger already holds for one invoice key."""

    key: str
    version: str
    invoice_id: str
    period: str
    line_count: int
    documents: Mapping[str, DocumentLink]


class StateStore(Protocol):
    """Connections, runs and the ledger index (SQLite by default, PostgreSQL in production).

    A connection is named by its id, or, for the CLI, by its name among the "local"
    spreadsheet's connections (`ref`). Runs, the index and documents are keyed by the id.
    """

    def add_connection(self, connection: Connection) -> Connection:
        """Save it (an id is given when empty); ConfigError when the name is taken in its
        spreadsheet."""
        ...

    def get_connection(self, ref: str) -> Connection: ...

    def update_options(self, ref: str, changes: Mapping[str, Any]) -> Connection:
        """Merge `changes` into the connection's options (e.g. the Sheet that replaced a trashed
        one), in one transaction; returns the updated connection."""
        ...

    def list_connections(self, spreadsheet_id: str | None = None) -> list[Connection]: ...

    def update_connection(
        self,
        ref: str,
        *,
        name: str | None = None,
        schedule: Schedule | None = None,
        options: dict[str, Any] | None = None,
    ) -> Connection:
        """Rename, set the schedule (resumes a paused one) or replace the options."""
        ...

    def remove_connection(self, ref: str) -> Connection: ...

    def scheduled_connections(self) -> list[Connection]:
        """Connections whose schedule is on and not paused."""
        ...

    def start_run(self, connection: str, trigger: str) -> RunRecord:
        """Create a running run; RunInProgress (with its id) if one is queued or running."""
        ...

    def enqueue_run(self, connection: str, trigger: str) -> tuple[RunRecord, bool]:
        """A new queued run and True, or the active (queued or running) run and False."""
        ...

    def claim_run(self, run_id: str) -> tuple[RunRecord, bool]:
        """queued -> running here (or take over a dead process's running run): (run, True);
        (run, False) when it already finished; RunInProgress while it runs elsewhere."""
        ...

    def orphan_runs(self, queued_before: dt.datetime) -> list[RunRecord]:
        """Queued before `queued_before`, or running in a process that died."""
        ...

    def claim_slot(self, connection: str, slot: str) -> RunRecord | None:
        """Take a schedule slot and queue its run; None when the slot was taken already or a
        run is already active."""
        ...

    def progress(self, run_id: str, phase: str, done: int, total: int) -> None: ...

    def finish_run(
        self, run_id: str, status: str, counts: RunCounts, message: str
    ) -> RunRecord: ...

    def get_run(self, run_id: str) -> RunRecord: ...

    def list_runs(self, connection: str | None = None, limit: int = 50) -> list[RunRecord]: ...

    def index(self, connection: str) -> dict[str, IndexEntry]: ...

    def record_index(
        self, connection: str, entries: Sequence[IndexEntry], removed: Sequence[str]
    ) -> None:
        """Upsert entries and delete removed keys in one transaction."""
        ...

    def record_document(self, connection: str, key: str, link: DocumentLink) -> None:
        """Remember an archived document before the ledger write (crash-safe archive)."""
        ...

    def documents(self, connection: str, key: str) -> dict[str, DocumentLink]: ...


class JobQueue(Protocol):
    """Runs queued runs somewhere: threads in this process, or Cloud Tasks deliveries."""

    def enqueue(self, run_id: str) -> None:
        """Ask for run `run_id` (status "queued") to be executed once; enqueueing a run that
        is already waiting is a no-op, never a second execution."""
        ...


class Extractor(Protocol):
    """PDF -> Document entities (Invoice Parser types): the local rules or Document AI."""

    name: str  # "local" | "documentai"

    def extract(self, pdf: Path, *, sha256: str, connection: str) -> ExtractedDocument:
        """Read one PDF. `sha256` is its content hash, `connection` who pays for the call.

        Raises RejectedDocument (not a PDF, encrypted, damaged: retrying cannot help),
        BudgetExceeded, or ExtractionError (quota, a refused request: try the next run).
        """
        ...


class ExtractionBook(Protocol):
    """Document AI usage per connection and calendar month, and every extraction by content
    hash (so the same PDF is never sent, nor paid for, twice)."""

    def cached(self, sha256: str) -> ExtractedDocument | None: ...

    def pages_used(self, connection: str, month: str) -> int:
        """Pages sent for `connection` in `month` ('YYYY-MM', UTC)."""
        ...

    def record(
        self, connection: str, month: str, sha256: str, document: ExtractedDocument, cost: float
    ) -> None:
        """Count one successful call (its pages and estimated USD cost) and keep its answer."""
        ...

    def usage(self, month: str) -> list[tuple[str, int, float]]:
        """(connection, pages, estimated USD cost) of `month`."""
        ...


class PdfChecker(Protocol):
    """Reads an API invoice's archived PDF (when its connection opts in with the option
    `extract_pdf`) and reconciles its total with the summary and the lines."""

    def read(self, connection: Connection, pdf: Path, sha256: str) -> None:
        """Called with each PDF just downloaded, while it is on disk (a Drive archive keeps
        no local copy to read later). Never raises."""
        ...

    def check(self, connection: Connection, invoice: Invoice, link: DocumentLink) -> Invoice:
        """The invoice with `pdf_total`, `reconciled` and `review` set; unchanged when the
        connection does not opt in. Never raises: a PDF that cannot be read is named in
        `review` and the sync goes on."""
        ...


@dataclass(frozen=True)
class InboxItem:
    """One file waiting in an inbox: `id` is the adapter's handle (a path, a Drive file id)."""

    id: str
    name: str


class Inbox(Protocol):
    """Where a person drops PDFs: `$BILLSYNC_HOME/inbox/` or a Drive folder "Inbox"."""

    def pending(self) -> list[InboxItem]:
        """Files waiting, oldest first (not those already rejected)."""
        ...

    def fetch(self, item: InboxItem, out: Path) -> None:
        """Copy the file's bytes to `out`."""
        ...

    def done(self, item: InboxItem) -> None:
        """Take the file out of the inbox (its rows are written and its PDF archived)."""
        ...

    def reject(self, item: InboxItem, reason: str) -> None:
        """Move the file to the inbox's `rejected` folder, with the reason beside it."""
        ...

    def location(self) -> str: ...


Allocations = Mapping[str, tuple[str, bool]]  # Line Key -> (Client, Billable)
Clock = Any  # a zero-argument callable returning an aware UTC datetime


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
