"""The sync engine: the one place that orders I/O — list, diff, fetch and archive (collector.py),
write, record."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from api import logs
from api.collector import Collected, Collector, ProgressCallback
from api.core.counts import run_counts
from api.core.diff import SyncPlan, plan_sync
from api.core.model import Connection, LedgerBatch, RunRecord
from api.core.outcome import RunOutcome
from api.errors import BillsyncError, SinkError
from api.ports import (
    FileStore,
    IndexEntry,
    LedgerSink,
    PdfChecker,
    Provider,
    SecretStore,
    StateStore,
    utcnow,
)

log = logs.get("engine")

ProviderFactory = Callable[[Connection, str], Provider]


@dataclass(frozen=True)
class Destination:
    """Where one connection's rows and documents go (the workbook + folder, or a Sheet + Drive)."""

    sink: LedgerSink
    files: FileStore


DestinationFactory = Callable[[Connection], Destination]

# A connection option: the next executed run fetches every invoice again (then it is removed).
FULL_REQUESTED = "full_sync_requested"


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
        pdf_checker: PdfChecker | None = None,
        after_change: Callable[[LedgerSink], Sequence[str]] | None = None,
    ) -> None:
        self.state = state
        self.secrets = secrets
        self.destinations = destinations
        self.providers = providers
        self.progress_interval = progress_interval
        self.collector = Collector(
            state=state, workdir=workdir, concurrency=concurrency, clock=clock,
            pdf_checker=pdf_checker,
        )  # fmt: skip
        # Called once after every run that did not fail (the Summary and Clients refresh, which
        # skips when nothing it reads changed); its messages end the run's message.
        self.after_change = after_change

    def sync(
        self,
        name: str,
        *,
        trigger: str = "cli",
        full: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> RunRecord:
        """Run one sync of connection `name`; returns the finished run: succeeded, partial
        (some invoice or document is missing, everything else was written) or failed.

        Raises only before a run exists (unknown connection, RunInProgress).
        """
        connection = self.state.get_connection(name)
        run = self.state.start_run(connection.id, trigger)
        return self._run(connection, run, full, on_progress)

    def execute(
        self, run_id: str, *, full: bool = False, on_progress: ProgressCallback | None = None
    ) -> RunRecord:
        """Run a queued run (from the job queue); returns it finished. A run that finished
        already is returned as it is, so a redelivered task never syncs twice.

        A connection whose options hold FULL_REQUESTED (Sync now with `full`) fetches every
        invoice again; the request is removed once a run that took it has not failed.

        Raises only before the run starts (unknown run or connection, RunInProgress while
        another process runs it).
        """
        queued = self.state.get_run(run_id)
        connection = self.state.get_connection(queued.connection)
        run, claimed = self.state.claim_run(run_id)
        if not claimed:
            return run
        requested = bool(connection.options.get(FULL_REQUESTED))  # Sync now with `full`
        finished = self._run(connection, run, full or requested, on_progress)
        if requested and finished.status != "failed":
            # Taken only once done: a run killed midway (the process died, the task is
            # redelivered) fetches everything again instead of finding "nothing new".
            options = self.state.get_connection(connection.id).options
            rest = {k: v for k, v in options.items() if k != FULL_REQUESTED}
            self.state.update_connection(connection.id, options=rest)
        return finished

    def _run(
        self,
        connection: Connection,
        run: RunRecord,
        full: bool,
        on_progress: ProgressCallback | None,
    ) -> RunRecord:
        name = connection.name
        reporter = _Reporter(self.state, run.id, on_progress, self.progress_interval)
        outcome = RunOutcome()
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
        out: RunOutcome,
    ) -> None:
        index = self.state.index(connection.id)
        lost, held = self._lost(destination.sink, index, out)
        versions = {key: entry.version for key, entry in index.items() if key not in lost}
        token = self.secrets.get(connection.secret_ref)
        provider = self.providers(connection, token)
        del token
        try:
            report("listing", 0, 0)
            # Rows gone from the ledger may be older than a provider's recent window.
            refs = provider.list_invoices(first_sync=full or not versions or bool(lost))
            plan = plan_sync(
                refs,
                versions,
                full=full,
                include_preview=connection.include_preview,
            )
            gathered = self.collector.collect(
                provider, connection, destination.files, plan, full, report
            )
        finally:
            provider.close()
        out.shortfalls = gathered.shortfalls
        out.written = len(gathered.collected) + len(plan.remove)
        out.restored = sum(1 for item in gathered.collected if item.entry.key in lost)
        listed = {ref.key for ref in refs}
        out.forgotten = {key for key in lost if key not in listed}
        counted = _Counted(versions, held)
        self._write(connection, destination.sink, plan, gathered.collected, report, out, counted)
        if gathered.stopped is not None:
            raise gathered.stopped

    def _lost(
        self, sink: LedgerSink, index: dict[str, IndexEntry], out: RunOutcome
    ) -> tuple[set[str], frozenset[str] | None]:
        """Keys the index holds whose rows are not in the ledger: all of them when the ledger
        itself is gone (file deleted, tab deleted, Sheet trashed). A damaged ledger raises
        SinkError here, on every sync, before anything is fetched. Also returns the keys the
        ledger held (None: no ledger), for the run's counts."""
        where = sink.location()
        try:
            held = sink.invoice_keys()
        except SinkError:
            out.ledger_unusable = True
            raise
        if held is None:
            if index:
                out.rebuilt, out.moved_to = where, sink.location()
            return set(index), None
        return {key for key in index if key not in held}, frozenset(held)

    def _write(
        self,
        connection: Connection,
        sink: LedgerSink,
        plan: SyncPlan,
        collected: Sequence[Collected],
        report: _Reporter,
        out: RunOutcome,
        counted: _Counted,
    ) -> None:
        batch = LedgerBatch(
            invoices=tuple(item.fetched.invoice for item in collected),
            lines=tuple(line for item in collected for line in item.fetched.lines),
            removed=plan.remove,
        )
        report("writing", 0, len(batch.invoices))
        if not batch.empty:
            sink.write(batch)
        forgotten = tuple(sorted(out.forgotten))
        entries = [item.entry for item in collected]
        self.state.record_index(connection.id, entries, plan.remove + forgotten)
        out.counts = run_counts(
            plan, [(item.entry.key, item.entry.version) for item in collected],
            counted.versions, counted.held,
            lines={item.entry.key: len(item.fetched.lines) for item in collected},
        )  # fmt: skip
        report("writing", len(batch.invoices), len(batch.invoices))

    def _finish(self, run: RunRecord, sink: LedgerSink | None, outcome: RunOutcome) -> RunRecord:
        status = outcome.status()
        message = outcome.message()
        # The Summary and Clients follow every run, even one that wrote nothing (the Clients
        # rules were edited since): the refresh itself skips when neither Line Items nor the
        # rules changed since it last ran, and then says nothing (no Runs row on idle ticks).
        notes: Sequence[str] = ()
        if sink is not None and not outcome.ledger_unusable and status in ("succeeded", "partial"):
            notes = self._after_change(sink)
            message = " ".join([message, *notes])
        record = self.state.finish_run(run.id, status, outcome.counts, message)
        # A run that changed nothing is kept in the StateStore only: an hourly schedule would
        # otherwise spend a Sheets write (60/min quota) and a Runs row on every idle tick.
        # A ledger that cannot be read cannot take a Runs row either.
        if sink is None or outcome.ledger_unusable:
            return record
        if status == "succeeded" and not outcome.changed and not notes:  # notes: say them
            return record
        try:
            sink.append_run(record)
        except BillsyncError as exc:  # the run itself is recorded in the state store
            log.warning("could not append run %s to the ledger: %s", run.id, exc)
        return record

    def _after_change(self, sink: LedgerSink) -> Sequence[str]:
        return after_change_notes(self.after_change, sink)


def after_change_notes(
    after_change: Callable[[LedgerSink], Sequence[str]] | None, sink: LedgerSink
) -> Sequence[str]:
    """The messages of a run's last step (the Summary and Clients refresh) for its message;
    a failure there becomes a sentence, never the run's failure: its rows are written."""
    if after_change is None:
        return ()
    try:
        return after_change(sink)
    except BillsyncError as exc:
        return (f"The Summary tab was not rebuilt: {exc}",)
    except Exception as exc:  # a bug: logged with its trace, said without internals
        log.exception("rebuilding the Summary tab crashed")
        return (f"The Summary tab was not rebuilt (internal error {type(exc).__name__}).",)


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


@dataclass(frozen=True)
class _Counted:
    """What a run's counts are judged against: the index versions and the ledger's keys at the
    start (FAULTS-B, issue 9 section 5: a --full rerun or a reconnect is not new/updated)."""

    versions: Mapping[str, str]
    held: frozenset[str] | None
