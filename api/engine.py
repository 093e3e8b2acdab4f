"""The sync engine: the one place that orders I/O — list, diff, fetch, archive, write, record."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import hashlib
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, cast

from api import logs
from api.core.diff import SyncPlan, plan_sync
from api.core.model import (
    Connection,
    DocumentLink,
    FetchedInvoice,
    InvoiceRef,
    LedgerBatch,
    RunCounts,
    RunRecord,
)
from api.errors import AuthError, BillsyncError, PermissionError_
from api.ports import FileStore, IndexEntry, LedgerSink, Provider, SecretStore, StateStore, utcnow

log = logs.get("engine")

ProviderFactory = Callable[[Connection, str], Provider]


@dataclass(frozen=True)
class Destination:
    """Where one connection's rows and documents go (the workbook + folder, or a Sheet + Drive)."""

    sink: LedgerSink
    files: FileStore


DestinationFactory = Callable[[Connection], Destination]
ProgressCallback = Callable[[str, int, int], None]

# Errors after which fetching the other invoices is pointless: every call would fail the same way.
_STOP_ALL = (AuthError, PermissionError_)


@dataclass(frozen=True)
class Collected:
    """One invoice ready to write: its row (with archive links), its lines, its index entry."""

    fetched: FetchedInvoice
    entry: IndexEntry


class SyncEngine:
    def __init__(
        self,
        *,
        state: StateStore,
        secrets: SecretStore,
        destinations: DestinationFactory,
        providers: ProviderFactory,
        workdir: Path,
        concurrency: int = 8,
        clock: Callable[[], dt.datetime] = utcnow,
        progress_interval: float = 0.5,
        after_change: Callable[[LedgerSink], Sequence[str]] | None = None,
    ) -> None:
        self.state = state
        self.secrets = secrets
        self.destinations = destinations
        self.providers = providers
        self.workdir = workdir
        self.concurrency = concurrency
        self.clock = clock
        self.progress_interval = progress_interval
        # Called once after a run that changed the ledger (the Summary and Clients rebuild);
        # its messages end the run's message.
        self.after_change = after_change

    def sync(
        self,
        name: str,
        *,
        trigger: str = "cli",
        full: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> RunRecord:
        """Run one sync of connection `name`; returns the finished run (succeeded or failed).

        Raises only before a run exists (unknown connection, RunInProgress).
        """
        connection = self.state.get_connection(name)
        run = self.state.start_run(name, trigger)
        reporter = _Reporter(self.state, run.id, on_progress, self.progress_interval)
        outcome = _Outcome()
        destination: Destination | None = None
        try:
            destination = self.destinations(connection)
            self._sync(connection, destination, full, reporter, outcome)
        except BillsyncError as exc:
            outcome.fail(str(exc))
        except Exception as exc:  # a bug: record it, keep the ledger, never leak internals
            log.exception("sync of %s crashed", name)
            outcome.fail(
                f"Internal error ({type(exc).__name__}); nothing already written was lost."
            )
        return self._finish(run, destination.sink if destination else None, outcome)

    # -- steps -----------------------------------------------------------------------------

    def _sync(
        self,
        connection: Connection,
        destination: Destination,
        full: bool,
        report: _Reporter,
        out: _Outcome,
    ) -> None:
        token = self.secrets.get(connection.secret_ref)
        provider = self.providers(connection, token)
        del token
        try:
            index = self.state.index(connection.name)
            report("listing", 0, 0)
            refs = provider.list_invoices(first_sync=full or not index)
            plan = plan_sync(
                refs,
                {key: entry.version for key, entry in index.items()},
                full=full,
                include_preview=bool(connection.options.get("include_preview", True)),
            )
            out.plan = plan
            collected, error = self._collect(provider, connection, destination, plan, full, report)
        finally:
            provider.close()
        self._write(connection, destination.sink, plan, collected, report, out)
        if error is not None:
            raise error

    def _collect(
        self,
        provider: Provider,
        connection: Connection,
        destination: Destination,
        plan: SyncPlan,
        full: bool,
        report: _Reporter,
    ) -> tuple[list[Collected], BillsyncError | None]:
        """Fetch and archive every invoice to add or update, in parallel.

        Returns the longest chronological prefix that succeeded, and the first error: writing
        a prefix keeps the ledger in the same order a clean run would give it, and the next run
        completes it.
        """
        todo = sorted(plan.fetch, key=_chronological)
        total = len(todo)
        report("fetching", 0, total)
        results: dict[str, Collected] = {}
        errors: dict[str, BillsyncError] = {}
        stop = threading.Event()

        def work(ref: InvoiceRef) -> Collected | None:
            if stop.is_set():
                return None
            return self._collect_one(provider, connection, destination.files, ref, full)

        pool = cf.ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="fetch")
        with pool:
            futures = {pool.submit(work, ref): ref for ref in todo}
            for future in cf.as_completed(futures):
                ref = futures[future]
                try:
                    item = future.result()
                except BillsyncError as exc:
                    errors[ref.key] = exc
                    if isinstance(exc, _STOP_ALL):
                        stop.set()
                    continue
                if item is not None:
                    results[ref.key] = item
                report("fetching", len(results), total)

        prefix: list[Collected] = []
        for ref in todo:
            if ref.key not in results:
                break
            prefix.append(results[ref.key])
        first_error = next((errors[ref.key] for ref in todo if ref.key in errors), None)
        if first_error is None and len(prefix) < total:
            first_error = BillsyncError("The sync stopped before every invoice was fetched.")
        return prefix, first_error

    def _collect_one(
        self,
        provider: Provider,
        connection: Connection,
        files: FileStore,
        ref: InvoiceRef,
        full: bool,
    ) -> Collected:
        fetched = provider.fetch_invoice(ref, connection.account)
        recorded = self.state.documents(connection.name, ref.key)
        links: dict[str, DocumentLink] = {}
        for kind in fetched.documents:
            # A document archived by an earlier (perhaps interrupted) run is reused, so a rerun
            # downloads nothing twice; --full downloads again and the FileStore keeps one copy.
            if kind in recorded and not full:
                links[kind] = recorded[kind]
                continue
            links[kind] = self._archive(provider, connection, files, ref, fetched, kind)
        invoice = replace(
            fetched.invoice,
            pdf=links["pdf"].url if "pdf" in links else "",
            csv=links["csv"].url if "csv" in links else "",
            synced_at=self.clock(),
        )
        entry = IndexEntry(
            key=ref.key,
            version=ref.version,
            invoice_id=invoice.invoice_id,
            period=invoice.period,
            line_count=len(fetched.lines),
            documents=links,
        )
        return Collected(replace(fetched, invoice=invoice), entry)

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
            digest = _sha256(Path(tmp.name))
            link = files.put(fetched.invoice, kind, Path(tmp.name), digest)
        self.state.record_document(connection.name, ref.key, link)
        return link

    def _write(
        self,
        connection: Connection,
        sink: LedgerSink,
        plan: SyncPlan,
        collected: Sequence[Collected],
        report: _Reporter,
        out: _Outcome,
    ) -> None:
        batch = LedgerBatch(
            invoices=tuple(item.fetched.invoice for item in collected),
            lines=tuple(line for item in collected for line in item.fetched.lines),
            removed=plan.remove,
        )
        report("writing", 0, len(batch.invoices))
        if not batch.empty:
            sink.write(batch)
        self.state.record_index(connection.name, [item.entry for item in collected], plan.remove)
        added = {ref.key for ref in plan.add}
        new = sum(1 for item in collected if item.entry.key in added)
        out.counts = RunCounts(
            new=new,
            updated=len(collected) - new,
            unchanged=len(plan.unchanged),
            removed=len(plan.remove),
            line_items=len(batch.lines),
        )
        report("writing", len(batch.invoices), len(batch.invoices))

    def _finish(self, run: RunRecord, sink: LedgerSink | None, outcome: _Outcome) -> RunRecord:
        status = "failed" if outcome.error else "succeeded"
        message = outcome.error or outcome.summary()
        if sink is not None and status == "succeeded" and outcome.changed:
            message = " ".join([message, *self._after_change(sink)])
        record = self.state.finish_run(run.id, status, outcome.counts, message)
        # A run that changed nothing is kept in the StateStore only: an hourly schedule would
        # otherwise spend a Sheets write (60/min quota) and a Runs row on every idle tick.
        if sink is None or (status == "succeeded" and not outcome.changed):
            return record
        try:
            sink.append_run(record)
        except BillsyncError as exc:  # the run itself is recorded in the state store
            log.warning("could not append run %s to the ledger: %s", run.id, exc)
        return record

    def _after_change(self, sink: LedgerSink) -> Sequence[str]:
        if self.after_change is None:
            return ()
        try:
            return self.after_change(sink)
        except BillsyncError as exc:  # the sync itself succeeded: say so, keep its rows
            return (f"The Summary tab was not rebuilt: {exc}",)
        except Exception as exc:
            log.exception("rebuilding the Summary tab crashed")
            return (f"The Summary tab was not rebuilt (internal error {type(exc).__name__}).",)


class _Outcome:
    def __init__(self) -> None:
        self.plan: SyncPlan | None = None
        self.counts = RunCounts()
        self.error: str | None = None

    def fail(self, message: str) -> None:
        self.error = message

    @property
    def changed(self) -> bool:
        c = self.counts
        return bool(c.new or c.updated or c.removed)

    def summary(self) -> str:
        c = self.counts
        if not (c.new or c.updated or c.removed):
            return f"Nothing new ({c.unchanged} invoices unchanged)."
        parts = [f"{c.new} new", f"{c.updated} updated", f"{c.unchanged} unchanged"]
        if c.removed:
            parts.append(f"{c.removed} removed")
        return ", ".join(parts) + f"; {c.line_items} line items written."


class _Reporter:
    """Progress to the caller on every step, to the StateStore at most every `interval` s."""

    def __init__(
        self,
        state: StateStore,
        run_id: str,
        callback: ProgressCallback | None,
        interval: float,
    ) -> None:
        self._state = state
        self._run_id = run_id
        self._callback = callback
        self._interval = interval
        self._last: tuple[str, float] = ("", 0.0)
        self._lock = threading.Lock()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self._callback is not None:
            self._callback(phase, done, total)
        now = time.monotonic()
        with self._lock:
            last_phase, last_time = self._last
            due = phase != last_phase or done == total or now - last_time >= self._interval
            if not due:
                return
            self._last = (phase, now)
        self._state.progress(self._run_id, phase, done, total)


def _chronological(ref: InvoiceRef) -> tuple[str, bool, str]:
    return (ref.period, ref.is_preview, ref.invoice_id)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
