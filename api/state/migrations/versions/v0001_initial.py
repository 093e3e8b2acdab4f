"""The first schema (what `create_all` made before migrations): version 1.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.state.schema import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schema_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
    )
    op.create_table(
        "connections",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("secret_ref", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(100), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("connection", sa.String(100), nullable=False),
        sa.Column("trigger", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started", UtcDateTime, nullable=False),
        sa.Column("finished", UtcDateTime),
        sa.Column("heartbeat", UtcDateTime, nullable=False),
        sa.Column("phase", sa.String(40), nullable=False),
        *[sa.Column(n, sa.Integer, nullable=False) for n in _COUNTS],
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_runs_connection_started", "runs", ["connection", "started"])
    op.create_index("ix_runs_started", "runs", ["started"])
    op.create_table(
        "run_locks",
        sa.Column("connection", sa.String(100), primary_key=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("acquired", UtcDateTime, nullable=False),
        sa.Column("owner", sa.String(300), nullable=True),
    )
    op.create_table(
        "ledger_index",
        sa.Column("connection", sa.String(100), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("invoice_id", sa.Text, nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("line_count", sa.Integer, nullable=False),
        sa.Column("recorded", UtcDateTime, nullable=False),
        sa.CheckConstraint("line_count >= 0", name="ck_ledger_index_line_count"),
    )
    op.create_table(
        "documents",
        sa.Column("connection", sa.String(100), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("recorded", UtcDateTime, nullable=False),
    )


_COUNTS = ("done", "total", "new", "updated", "unchanged", "removed", "line_items")
