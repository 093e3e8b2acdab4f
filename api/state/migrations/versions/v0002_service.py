"""The service: connection ids, spreadsheets and schedules; queued runs with one active run per
connection held by a partial unique index (replaces run_locks); schedule slots.

Existing connections keep their names, get an id and belong to spreadsheet "local"; the ledger
index, documents and runs move from the connection's name to its id.

Revision ID: 0002
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from alembic import op

from api.state.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INTERRUPTED = "Interrupted: the process running it stopped before billsync was upgraded."
_ACTIVE_WHERE = "status IN ('queued', 'running')"


def upgrade() -> None:
    bind = op.get_bind()
    ids = {name: f"cn_{secrets.token_hex(8)}" for name in _names(bind)}
    _connections(bind, ids)
    _runs(bind, ids)
    for table in ("ledger_index", "documents"):
        for name, new_id in ids.items():
            bind.execute(
                sa.text(f"UPDATE {table} SET connection = :id WHERE connection = :name"),
                {"id": new_id, "name": name},
            )
    op.drop_table("run_locks")
    op.create_table(
        "schedule_slots",
        sa.Column("connection", sa.String(40), primary_key=True),
        sa.Column("slot", sa.String(60), primary_key=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None if bind.dialect.name == "sqlite" else dt.UTC)
    bind.execute(sa.text("DELETE FROM schema_version"))
    bind.execute(
        sa.text("INSERT INTO schema_version (id, version, created) VALUES (1, 2, :now)"),
        {"now": now},
    )


def _names(bind: sa.Connection) -> list[str]:
    return [row[0] for row in bind.execute(sa.text("SELECT name FROM connections"))]


def _connections(bind: sa.Connection, ids: dict[str, str]) -> None:
    op.create_table(
        "connections_v2",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("spreadsheet_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("secret_ref", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(100), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("schedule_frequency", sa.String(10), nullable=False),
        sa.Column("schedule_hour", sa.Integer, nullable=False),
        sa.Column("schedule_weekday", sa.Integer),
        sa.Column("schedule_day", sa.Integer),
        sa.Column("schedule_time_zone", sa.String(64), nullable=False),
        sa.Column("schedule_since", UtcDateTime),
        sa.Column("schedule_failures", sa.Integer, nullable=False),
        sa.Column("schedule_paused", sa.Boolean, nullable=False),
        sa.UniqueConstraint("spreadsheet_id", "name", name="uq_connections_sheet_name"),
    )
    columns = "name, provider, account, secret_ref, fingerprint, options, created"
    for name, new_id in ids.items():
        bind.execute(
            sa.text(
                f"INSERT INTO connections_v2 (id, spreadsheet_id, {columns}, schedule_frequency,"
                " schedule_hour, schedule_time_zone, schedule_failures, schedule_paused)"
                f" SELECT :id, 'local', {columns}, 'off', 6, 'UTC', 0, :false"
                " FROM connections WHERE name = :name"
            ),
            {"id": new_id, "name": name, "false": False},
        )
    op.drop_table("connections")
    op.rename_table("connections_v2", "connections")


def _runs(bind: sa.Connection, ids: dict[str, str]) -> None:
    # v1 kept "one running run per connection" in run_locks: a running run without its lock
    # was left by a dead process and would break the new unique index.
    bind.execute(
        sa.text(
            "UPDATE runs SET status = 'failed', finished = heartbeat, message = :message"
            " WHERE status = 'running' AND id NOT IN (SELECT run_id FROM run_locks)"
        ),
        {"message": _INTERRUPTED},
    )
    op.create_table(
        "runs_v2",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("connection", sa.String(40), nullable=False),
        sa.Column("connection_name", sa.String(100), nullable=False),
        sa.Column("trigger", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("queued_at", UtcDateTime),
        sa.Column("started", UtcDateTime, nullable=False),
        sa.Column("finished", UtcDateTime),
        sa.Column("heartbeat", UtcDateTime, nullable=False),
        sa.Column("owner", sa.String(300)),
        sa.Column("phase", sa.String(40), nullable=False),
        *[sa.Column(n, sa.Integer, nullable=False) for n in _COUNTS],
        sa.Column("message", sa.Text, nullable=False),
    )
    kept = "id, trigger, status, started, finished, heartbeat, phase, message, " + ", ".join(
        _COUNTS
    )
    bind.execute(
        sa.text(
            f"INSERT INTO runs_v2 (connection, connection_name, owner, {kept})"
            f" SELECT connection, connection, (SELECT owner FROM run_locks l"
            f" WHERE l.run_id = runs.id), {kept} FROM runs"
        )
    )
    for name, new_id in ids.items():
        bind.execute(
            sa.text("UPDATE runs_v2 SET connection = :id WHERE connection = :name"),
            {"id": new_id, "name": name},
        )
    op.drop_index("ix_runs_connection_started", "runs")
    op.drop_index("ix_runs_started", "runs")
    op.drop_table("runs")
    op.rename_table("runs_v2", "runs")
    op.create_index("ix_runs_connection_started", "runs", ["connection", "started"])
    op.create_index("ix_runs_started", "runs", ["started"])
    op.create_index(
        "ux_runs_active",
        "runs",
        ["connection"],
        unique=True,
        sqlite_where=sa.text(_ACTIVE_WHERE),
        postgresql_where=sa.text(_ACTIVE_WHERE),
    )


_COUNTS = ("done", "total", "new", "updated", "unchanged", "removed", "line_items")
