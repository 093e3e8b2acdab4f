"""Rows of the state database <-> domain values (connections, runs, documents)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from api.core.model import DONE, Connection, DocumentLink, RunCounts, RunRecord
from api.core.schedule import Schedule
from api.state.schema import ACTIVE

Row = dict[str, Any]


def new_run_id(now: dt.datetime) -> str:
    """Sortable by creation second, unique by a random suffix: `20261121T190102Z-3f9a1c`."""
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def new_connection_id() -> str:
    """Stable and url-safe, never a valid connection name by accident: `cn_3f9a1c0b5e7d2a41`."""
    return f"cn_{secrets.token_hex(8)}"


def document_row(connection: str, key: str, link: DocumentLink, now: dt.datetime) -> Row:
    return {
        "connection": connection,
        "key": key,
        "kind": link.kind,
        "url": link.url,
        "sha256": link.sha256,
        "recorded": now,
    }


def counts_row(counts: RunCounts) -> dict[str, int]:
    return {
        "new": counts.new,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "removed": counts.removed,
        "line_items": counts.line_items,
    }


def run_row(run: RunRecord, heartbeat: dt.datetime, owner: str | None) -> Row:
    return {
        "id": run.id,
        "connection": run.connection,
        "connection_name": run.connection_name,
        "trigger": run.trigger,
        "status": run.status,
        "queued_at": run.queued_at,
        "started": run.started,
        "finished": run.finished,
        "heartbeat": heartbeat,
        "owner": owner,
        "phase": run.phase,
        "done": run.done,
        "total": run.total,
        "message": run.message,
        **counts_row(run.counts),
    }


def run_record(row: Any) -> RunRecord:
    counts = RunCounts(row.new, row.updated, row.unchanged, row.removed, row.line_items)
    return RunRecord(
        id=row.id,
        connection=row.connection,
        trigger=row.trigger,
        status=row.status,
        started=row.started,
        finished=row.finished,
        counts=counts,
        message=row.message,
        # Runs finished before every finish wrote DONE kept their last working phase.
        phase=row.phase if row.status in ACTIVE else DONE,
        done=row.done,
        total=row.total,
        queued_at=row.queued_at,
        connection_name=row.connection_name,
    )


def schedule_row(schedule: Schedule) -> Row:
    return {
        "schedule_frequency": schedule.frequency,
        "schedule_hour": schedule.hour,
        "schedule_weekday": schedule.weekday,
        "schedule_day": schedule.day,
        "schedule_time_zone": schedule.time_zone,
    }


def connection_row(connection: Connection, created: dt.datetime) -> Row:
    return {
        "id": connection.id,
        "spreadsheet_id": connection.spreadsheet_id,
        "name": connection.name,
        "provider": connection.provider,
        "account": connection.account,
        "secret_ref": connection.secret_ref,
        "fingerprint": connection.fingerprint,
        "options": dict(connection.options),
        "created": created,
        **schedule_row(connection.schedule),
        "schedule_since": connection.schedule_since,
        "schedule_failures": connection.schedule_failures,
        "schedule_paused": connection.schedule_paused,
    }


def connection_record(row: Any) -> Connection:
    schedule = Schedule(
        frequency=row.schedule_frequency,
        hour=row.schedule_hour,
        weekday=row.schedule_weekday,
        day=row.schedule_day,
        time_zone=row.schedule_time_zone,
    )
    return Connection(
        name=row.name,
        provider=row.provider,
        account=row.account,
        secret_ref=row.secret_ref,
        fingerprint=row.fingerprint,
        options=dict(row.options),
        created=row.created,
        id=row.id,
        spreadsheet_id=row.spreadsheet_id,
        schedule=schedule,
        schedule_since=row.schedule_since,
        schedule_failures=row.schedule_failures,
        schedule_paused=bool(row.schedule_paused),
    )
