"""Run lifecycle statements of the SQL StateStore, each inside the caller's write transaction.

"One active (queued or running) run per connection" is the partial unique index ux_runs_active:
two writers inserting at once, in any process, cannot both succeed; the loser sees an
IntegrityError, looks again and finds the winner's run.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

import sqlalchemy as sa

from api.core.model import DONE, Connection, RunCounts, RunRecord
from api.core.schedule import PAUSE_AFTER_FAILURES
from api.errors import NotFoundError, RunInProgress
from api.state.rows import counts_row, new_run_id, run_record, run_row
from api.state.schema import ACTIVE, connections, runs

INTERRUPTED = "Interrupted: the process running it stopped; this run replaced it."
PAUSED = (
    f" The schedule is paused after {PAUSE_AFTER_FAILURES} failed scheduled runs in a row;"
    " set the schedule again to resume it."
)
OWNER = f"{socket.gethostname()}:{os.getpid()}"


def active_run(conn: sa.Connection, connection_id: str) -> Any:
    return conn.execute(
        runs.select().where(runs.c.connection == connection_id, runs.c.status.in_(ACTIVE))
    ).first()


def is_orphan(row: Any, now: dt.datetime, stale_after: dt.timedelta) -> bool:
    """A running run nobody is running any more: its heartbeat is old, or its owner is a
    process on this machine that no longer exists."""
    if row.status != "running":
        return False
    return now - row.heartbeat >= stale_after or not alive(row.owner)


def insert_run(
    conn: sa.Connection,
    connection: Connection,
    trigger: str,
    status: str,
    now: dt.datetime,
    stale_after: dt.timedelta,
) -> tuple[RunRecord, bool]:
    """A new run (status "queued" or "running"), or the active one and False.

    An orphaned running run is failed first and replaced. May raise IntegrityError when another
    writer inserted an active run meanwhile: the caller retries.
    """
    held = active_run(conn, connection.id)
    if held is not None and not is_orphan(held, now, stale_after):
        return run_record(held), False
    if held is not None:
        fail_orphan(conn, held.id, now)
    queued_at = now if status == "queued" else None
    run = RunRecord(
        new_run_id(now),
        connection.id,
        trigger,
        status,
        now,
        queued_at=queued_at,
        connection_name=connection.name,
    )
    conn.execute(runs.insert().values(run_row(run, now, OWNER if status == "running" else None)))
    return run, True


def fail_orphan(conn: sa.Connection, run_id: str, now: dt.datetime) -> None:
    conn.execute(
        runs.update()
        .where(runs.c.id == run_id, runs.c.status == "running")
        .values(status="failed", finished=now, phase=DONE, message=INTERRUPTED)
    )


def claim(
    conn: sa.Connection, run_id: str, now: dt.datetime, stale_after: dt.timedelta
) -> tuple[RunRecord, bool]:
    """Make a queued run running here, or take over an orphaned running one (a redelivered
    task after its instance died); (run, False) when it already finished."""
    row = conn.execute(runs.select().where(runs.c.id == run_id)).first()
    if row is None:
        raise unknown_run(run_id)
    if row.status not in ACTIVE:
        return run_record(row), False
    if row.status == "running" and not is_orphan(row, now, stale_after):
        raise RunInProgress(row.connection_name or row.connection, row.id)
    values: dict[str, Any] = {"status": "running", "heartbeat": now, "owner": OWNER}
    if row.status == "queued":
        values["started"] = now
    moved = conn.execute(
        runs.update()
        .where(runs.c.id == run_id, runs.c.status == row.status, runs.c.heartbeat == row.heartbeat)
        .values(**values)
    )
    if moved.rowcount != 1:  # another worker claimed it between our read and write
        raise RunInProgress(row.connection_name or row.connection, row.id)
    return run_record(conn.execute(runs.select().where(runs.c.id == run_id)).one()), True


def finish(
    conn: sa.Connection, run_id: str, status: str, counts: RunCounts, message: str, now: dt.datetime
) -> RunRecord:
    """Record the outcome; a scheduled run also counts toward (or resets) the pause."""
    row = conn.execute(runs.select().where(runs.c.id == run_id)).first()
    if row is None:
        raise unknown_run(run_id)
    if row.status not in ACTIVE:
        # Finished already: failed as interrupted when another process took it over while
        # this one was stalled. Its late outcome must not overwrite that record.
        return run_record(row)
    if row.trigger == "schedule":
        message += _count_scheduled(conn, row.connection, failed=status == "failed")
    conn.execute(
        runs.update()
        .where(runs.c.id == run_id)
        .values(status=status, finished=now, heartbeat=now, phase=DONE, message=message)
        .values(counts_row(counts))
    )
    return run_record(conn.execute(runs.select().where(runs.c.id == run_id)).one())


def _count_scheduled(conn: sa.Connection, connection_id: str, *, failed: bool) -> str:
    """Update the connection's failures in a row; the sentence to add when this one pauses it."""
    row = conn.execute(
        sa.select(connections.c.schedule_failures, connections.c.schedule_paused).where(
            connections.c.id == connection_id
        )
    ).first()
    if row is None:
        return ""
    failures = row.schedule_failures + 1 if failed else 0
    pause = failures >= PAUSE_AFTER_FAILURES
    conn.execute(
        connections.update()
        .where(connections.c.id == connection_id)
        .values(schedule_failures=failures, schedule_paused=bool(row.schedule_paused) or pause)
    )
    return PAUSED if pause and not row.schedule_paused else ""


def alive(owner: str | None) -> bool:
    """False only when the holder is a process on this machine that no longer exists.

    A CLI run killed with SIGKILL never finishes its run; waiting `stale_after` for it would
    block the next `billsync sync` for no reason. Holders on other hosts (Cloud Run instances)
    are judged by their heartbeat alone.
    """
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def unknown_run(run_id: str) -> NotFoundError:
    return NotFoundError(f"There is no run with id '{run_id}'.")
