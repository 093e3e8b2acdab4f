"""The schedule tick (POST /tasks/tick, hourly from Cloud Scheduler): enqueue what is due."""

from __future__ import annotations

import datetime as dt

from api import logs
from api.core.schedule import due_slot
from api.errors import BillsyncError
from api.ports import JobQueue, StateStore

log = logs.get("jobs")

# A run still queued this long after it was recorded lost its enqueue (the process stopped
# between the database commit and the queue call): the tick hands it to the queue again.
REQUEUE_AFTER = dt.timedelta(minutes=10)


def tick(
    state: StateStore,
    queue: JobQueue,
    now: dt.datetime,
    *,
    requeue_after: dt.timedelta = REQUEUE_AFTER,
) -> int:
    """Queue one run per connection whose schedule is due at `now` (aware UTC) in its own time
    zone; return how many runs were queued.

    Exactly once per slot: the slot key is unique in the database, so a retried or overlapping
    tick (another instance, Cloud Scheduler's retry) queues nothing twice. A connection whose
    run cannot be queued is logged and skipped; its run stays queued and the next tick hands it
    to the queue again (with the runs queued before `now - requeue_after`).
    """
    enqueued = 0
    for connection in state.scheduled_connections():
        slot = due_slot(connection.schedule, now, connection.schedule_since)
        if slot is None:
            continue
        try:
            run = state.claim_slot(connection.id, slot)
            if run is not None:
                queue.enqueue(run.id)
                enqueued += 1
        except BillsyncError as exc:
            log.warning("tick: connection %s slot %s: %s", connection.id, slot, exc)
    for run in state.orphan_runs(queued_before=now - requeue_after):
        try:
            queue.enqueue(run.id)
        except BillsyncError as exc:
            log.warning("tick: re-enqueue of run %s failed: %s", run.id, exc)
    return enqueued
