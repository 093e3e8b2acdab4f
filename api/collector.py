"""The fetch step of a sync: fetch every invoice to add or update and archive its documents,
in parallel, so that one failing invoice or document keeps none of the others out."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, cast

from api import logs
from api.atomic import file_sha256
from api.core.diff import INCOMPLETE, SyncPlan
from api.core.model import Connection, DocumentLink, FetchedInvoice, InvoiceRef
from api.core.outcome import Shortfall
from api.errors import AuthError, BillsyncError, PermissionError_
from api.ports import FileStore, IndexEntry, PdfChecker, Provider, StateStore

log = logs.get("engine")

ProgressCallback = Callable[[str, int, int], None]

# Errors after which fetching the other invoices is pointless: every call would fail the same way.
STOP_ALL = (AuthError, PermissionError_)


@dataclass(frozen=True)
class Collected:
    """One invoice ready to write: its row (with archive links), its lines, its index entry,
    and the documents that could not be archived this time (their cells stay empty)."""

    fetched: FetchedInvoice
    entry: IndexEntry
    missing: tuple[Shortfall, ...] = ()


@dataclass(frozen=True)
class Gathered:
    """What the fetch phase got: the invoices to write (chronological), what fell short, and
    the error that stopped it early (every further call would have failed the same way)."""

    collected: list[Collected]
    shortfalls: list[Shortfall]
    stopped: BillsyncError | None


class Collector:
    """Fetches and archives one run's invoices with `concurrency` threads; documents go
    through `workdir` (a temporary file each) into the FileStore, and are recorded in the
    StateStore as soon as they are archived, so an interrupted run downloads nothing twice."""

    def __init__(
        self,
        *,
        state: StateStore,
        workdir: Path,
        concurrency: int,
        clock: Callable[[], dt.datetime],
        pdf_checker: PdfChecker | None,
    ) -> None:
        self.state = state
        self.workdir = workdir
        self.concurrency = concurrency
        self.clock = clock
        self.pdf_checker = pdf_checker

    def collect(
        self,
        provider: Provider,
        connection: Connection,
        files: FileStore,
        plan: SyncPlan,
        full: bool,
        report: ProgressCallback,
    ) -> Gathered:
        """Fetch and archive every invoice to add or update, in parallel.

        One invoice whose line items cannot be fetched, or one document that cannot be
        archived, does not keep the others out: they are written (the sink keeps rows in
        chronological order when a late invoice arrives) and the run ends partial. Only an
        error every call would repeat (a rejected token, a missing scope) stops the fetching.
        """
        todo = sorted(plan.fetch, key=_chronological)
        total = len(todo)
        report("fetching", 0, total)
        results: dict[str, Collected] = {}
        failures: dict[str, BillsyncError] = {}
        stop = threading.Event()

        def work(ref: InvoiceRef) -> Collected | None:
            if stop.is_set():
                return None
            return self._collect_one(provider, connection, files, ref, full)

        pool = cf.ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="fetch")
        with pool:
            futures = {pool.submit(work, ref): ref for ref in todo}
            for future in cf.as_completed(futures):
                ref = futures[future]
                try:
                    item = future.result()
                except BillsyncError as exc:
                    failures[ref.key] = exc
                    if isinstance(exc, STOP_ALL):
                        stop.set()
                    continue
                if item is not None:
                    results[ref.key] = item
                report("fetching", len(results), total)

        collected = [results[ref.key] for ref in todo if ref.key in results]
        shortfalls = [s for item in collected for s in item.missing]
        shortfalls += [
            Shortfall(ref.invoice_id, ref.period, "line items", failures[ref.key].message)
            for ref in todo
            if ref.key in failures and not isinstance(failures[ref.key], STOP_ALL)
        ]
        for shortfall in shortfalls:
            log.info("not complete: %s (%s)", shortfall.describe(), shortfall.reason)
        stopped = next((e for e in failures.values() if isinstance(e, STOP_ALL)), None)
        return Gathered(collected, shortfalls, stopped)

    def _collect_one(
        self,
        provider: Provider,
        connection: Connection,
        files: FileStore,
        ref: InvoiceRef,
        full: bool,
    ) -> Collected:
        fetched = provider.fetch_invoice(ref, connection.account)
        recorded = self.state.documents(connection.id, ref.key)
        links: dict[str, DocumentLink] = {}
        missing: list[Shortfall] = []
        for kind in fetched.documents:
            # A document archived by an earlier (perhaps interrupted) run is reused, so a rerun
            # downloads nothing twice; --full downloads again and the FileStore keeps one copy.
            if kind in recorded and not full:
                links[kind] = recorded[kind]
                continue
            try:
                links[kind] = self._archive(provider, connection, files, ref, fetched, kind)
            except STOP_ALL:
                raise
            except BillsyncError as exc:
                if kind in recorded:  # --full could not fetch it again: the old copy stands
                    links[kind] = recorded[kind]
                    continue
                invoice = fetched.invoice
                missing.append(Shortfall(invoice.invoice_id, invoice.period, kind, exc.message))
        # A PDF attached from the inbox (DoiT's API has none) stays linked when the row updates.
        pdf = links.get("pdf") or recorded.get("pdf")
        invoice = replace(
            fetched.invoice,
            pdf=pdf.url if pdf else "",
            csv=links["csv"].url if "csv" in links else "",
            synced_at=self.clock(),
        )
        if pdf is not None and self.pdf_checker is not None:
            invoice = self.pdf_checker.check(connection, invoice, pdf)
        entry = IndexEntry(
            key=ref.key,
            # An incomplete row is fetched again by the next sync, which downloads only the
            # documents still missing (the others are recorded) and fills their cells.
            version=INCOMPLETE if missing else ref.version,
            invoice_id=invoice.invoice_id,
            period=invoice.period,
            line_count=len(fetched.lines),
            documents=links,
        )
        return Collected(replace(fetched, invoice=invoice), entry, tuple(missing))

    def _archive(
        self,
        provider: Provider,
        connection: Connection,
        files: FileStore,
        ref: InvoiceRef,
        fetched: FetchedInvoice,
        kind: str,
    ) -> DocumentLink:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.workdir, suffix=f".{kind}") as tmp:
            provider.download(ref, kind, cast(BinaryIO, tmp))
            tmp.flush()
            digest = file_sha256(Path(tmp.name))
            link = files.put(fetched.invoice, kind, Path(tmp.name), digest)
            if kind == "pdf" and self.pdf_checker is not None:
                self.pdf_checker.read(connection, Path(tmp.name), digest)
        self.state.record_document(connection.id, ref.key, link)
        return link


def _chronological(ref: InvoiceRef) -> tuple[str, bool, str]:
    return (ref.period, ref.is_preview, ref.invoice_id)
