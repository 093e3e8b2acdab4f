"""The ports: small Protocols the engine talks to; each has an embedded and a cloud adapter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

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

    def rows(self, tab: str) -> list[dict[str, Any]]:
        """Read a tab back as dicts keyed by header, typed like the model's row() values:
        Decimal money, date / aware-UTC datetime, int, bool, str ('' for an empty text
        cell is returned as ''), None for an empty typed cell."""
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

    def write_reports(self, tables: Sequence[Table], allocations: Allocations) -> None:
        """Replace the Summary tab with `tables` (and its chart), add an empty Clients tab if
        there is none, and set Client/Billable on the Line Items rows whose Line Key is in
        `allocations` (and only those)."""
        ...


@runtime_checkable
class ExportStore(Protocol):
    """A FileStore that also keeps export files (both archives do)."""

    def put_export(self, name: str, source: Path, sha256: str) -> DocumentLink:
        """Archive `source` as `Exports/<name>`, replacing an older export of that name."""
        ...


class SecretStore(Protocol):
    def put(self, name: str, value: str) -> str:
        """Store a secret; return the reference to keep (never the value)."""
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
    """Connections, runs and the ledger index (SQLite by default, PostgreSQL in production)."""

    def add_connection(self, connection: Connection) -> None: ...

    def get_connection(self, name: str) -> Connection: ...

    def list_connections(self) -> list[Connection]: ...

    def remove_connection(self, name: str) -> Connection: ...

    def start_run(self, connection: str, trigger: str) -> RunRecord:
        """Create a running run; RunInProgress (with its id) if one is already running."""
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


Allocations = Mapping[str, tuple[str, bool]]  # Line Key -> (Client, Billable)
Clock = Any  # a zero-argument callable returning an aware UTC datetime


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
