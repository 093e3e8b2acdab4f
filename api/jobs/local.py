"""The embedded JobQueue: a bounded pool of threads in this process."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import threading
from collections.abc import Callable

from api import logs
from api.errors import BillsyncError, RunInProgress
from api.ports import StateStore, utcnow

log = logs.get("jobs")

Runner = Callable[[str], object]  # executes one queued run by id (SyncEngine.execute)


class ThreadQueue:
    """Runs queued runs on at most `workers` threads; a run already waiting or running here is
    not submitted twice. `recover()` picks up what a dead process left queued or running."""

    def __init__(self, runner: Runner, *, workers: int = 4) -> None:
        self._runner = runner
        self._pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="billsync-run")
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def enqueue(self, run_id: str) -> None:
        with self._lock:
            if run_id in self._pending:
                return
            self._pending.add(run_id)
        try:
            self._pool.submit(self._run, run_id)
        except RuntimeError:  # shutting down: the run stays queued for the next start
            with self._lock:
                self._pending.discard(run_id)

    def recover(self, state: StateStore, now: dt.datetime | None = None) -> list[str]:
        """Enqueue every run queued before now or running in a process that died; their ids."""
        orphans = state.orphan_runs(queued_before=now or utcnow())
        for run in orphans:
            self.enqueue(run.id)
        return [run.id for run in orphans]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending (tests, shutdown); False on timeout (seconds)."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking runs; with `wait`, let the running ones end (gunicorn's graceful stop)."""
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def _run(self, run_id: str) -> None:
        try:
            self._runner(run_id)
        except RunInProgress:
            log.info("run %s is running in another process", run_id)
        except BillsyncError as exc:
            log.warning("run %s could not start: %s", run_id, exc)
        except Exception:  # a bug: keep the worker thread alive for the next run
            log.exception("run %s crashed", run_id)
        finally:
            with self._lock:
                self._pending.discard(run_id)
                self._idle.notify_all()
