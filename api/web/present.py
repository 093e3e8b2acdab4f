"""Connection, Run and Export as the contract's JSON; times RFC 3339 UTC, no secret fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.core.model import Connection, RunRecord
from api.core.schedule import Schedule
from api.exports import Export

LOCAL = "local"


def when(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ledger_url(spreadsheet_id: str, local_location: str) -> str:
    if spreadsheet_id == LOCAL:
        return local_location
    return f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit"


def schedule(value: Schedule) -> dict[str, Any]:
    out: dict[str, Any] = {"frequency": value.frequency, "hour": value.hour}
    if value.frequency == "weekly":
        out["weekday"] = value.weekday
    if value.frequency == "monthly":
        out["day"] = value.day
    out["time_zone"] = value.time_zone
    return out


def run(record: RunRecord, ledger: str | None) -> dict[str, Any]:
    queued = record.status == "queued"
    return {
        "id": record.id,
        "connection_id": record.connection,
        "trigger": record.trigger,
        "status": record.status,
        "phase": record.phase,
        "done": record.done,
        "total": record.total,
        "counts": {
            "new": record.counts.new,
            "updated": record.counts.updated,
            "unchanged": record.counts.unchanged,
            "line_items": record.counts.line_items,
        },
        "message": record.message,
        "queued_at": when(record.queued_at or (record.started if queued else None)),
        "started_at": None if queued else when(record.started),
        "finished_at": when(record.finished),
        "ledger_url": ledger,
    }


def connection(
    value: Connection, last_run: RunRecord | None, local_location: str
) -> dict[str, Any]:
    ledger = ledger_url(value.spreadsheet_id, local_location)
    return {
        "id": value.id,
        "spreadsheet_id": value.spreadsheet_id,
        "name": value.name,
        "provider": value.provider,
        "account": value.account,
        "fingerprint": value.fingerprint,
        "include_preview": value.include_preview,
        "drive_folder_id": value.options.get("drive_folder") or None,
        "schedule": schedule(value.schedule),
        "schedule_paused": value.schedule_paused,
        "last_run": run(last_run, ledger) if last_run else None,
    }


def export(made: Export) -> dict[str, Any]:
    """An Export as the contract's JSON; money as exact decimal strings."""
    return {
        "format": made.format,
        "period": made.period,
        "date_format": made.date_format,
        "bills": made.bills,
        "files": [
            {"name": f.name, "url": f.link.url, "bills": f.bills, "lines": f.lines,
             "totals": {currency: format(amount, "f") for currency, amount in f.totals.items()}}
            for f in made.files
        ],
        "notes": list(made.notes),
        "message": made.summary(),  # the notes are said once, in "notes"
    }  # fmt: skip
