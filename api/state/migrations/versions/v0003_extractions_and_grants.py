"""Tables that began outside migrations: the extraction budget and cache (PDF extraction), and
the service's Google grants and OAuth consent states. A database where an earlier build made
them with create_all keeps them as they are.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.state.schema import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "extractions" not in existing:
        op.create_table(
            "extractions",
            sa.Column("sha256", sa.String(64), primary_key=True),
            sa.Column("connection", sa.String(200), nullable=False),
            sa.Column("month", sa.String(7), nullable=False),
            sa.Column("pages", sa.Integer, nullable=False),
            sa.Column("cost", sa.Float, nullable=False),
            sa.Column("extractor", sa.String(40), nullable=False),
            sa.Column("document", sa.Text, nullable=False),
            sa.Column("created", UtcDateTime, nullable=False),
        )
        op.create_index("ix_extractions_connection_month", "extractions", ["connection", "month"])
    if "web_google_grants" not in existing:
        op.create_table(
            "web_google_grants",
            sa.Column("subject", sa.String(255), primary_key=True),
            sa.Column("secret_ref", sa.Text, nullable=False),
            sa.Column("connected_at", UtcDateTime, nullable=False),
        )
    if "web_oauth_states" not in existing:
        op.create_table(
            "web_oauth_states",
            sa.Column("state", sa.String(100), primary_key=True),
            sa.Column("subject", sa.String(255), nullable=False),
            sa.Column("code_verifier", sa.String(200), nullable=False),
            sa.Column("expires_at", UtcDateTime, nullable=False),
        )
