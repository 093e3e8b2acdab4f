"""Extraction budget and cache tables, beside the state store's (same database, own tables)."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from api.core.document import ExtractedDocument, document_from_dict, document_to_dict
from api.ports import Clock, utcnow
from api.state.schema import UtcDateTime, create_engine, migrate, writer

metadata = sa.MetaData()

extractions = sa.Table(
    "extractions",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("connection", sa.String(200), nullable=False),  # who paid for it
    sa.Column("month", sa.String(7), nullable=False),  # YYYY-MM, UTC
    sa.Column("pages", sa.Integer, nullable=False),
    sa.Column("cost", sa.Float, nullable=False),  # estimated, USD
    sa.Column("extractor", sa.String(40), nullable=False),
    sa.Column("document", sa.Text, nullable=False),  # document_to_dict as JSON
    sa.Column("created", UtcDateTime, nullable=False),
    sa.Index("ix_extractions_connection_month", "connection", "month"),
)


class SqlExtractionBook:
    """`ExtractionBook` on SQLite or PostgreSQL (the state store's URL). One row per content
    hash: it is both the cache and the ledger of pages spent, so they never disagree."""

    def __init__(self, url: str, *, clock: Clock = utcnow) -> None:
        self._engine = create_engine(url)
        self._clock = clock
        migrate(self._engine)  # the table is migration 0003's

    def cached(self, sha256: str) -> ExtractedDocument | None:
        with self._engine.connect() as conn:
            text = conn.execute(
                sa.select(extractions.c.document).where(extractions.c.sha256 == sha256)
            ).scalar()
        return None if text is None else document_from_dict(json.loads(text))

    def pages_used(self, connection: str, month: str) -> int:
        query = sa.select(sa.func.coalesce(sa.func.sum(extractions.c.pages), 0)).where(
            extractions.c.connection == connection, extractions.c.month == month
        )
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def record(
        self, connection: str, month: str, sha256: str, document: ExtractedDocument, cost: float
    ) -> None:
        row = {"sha256": sha256, "connection": connection, "month": month,
               "pages": document.pages, "cost": cost, "extractor": document.extractor,
               "document": json.dumps(document_to_dict(document)),
               "created": self._clock()}  # fmt: skip
        with writer(self._engine).begin() as conn:  # read, then insert: one write lock
            exists = conn.execute(
                sa.select(extractions.c.sha256).where(extractions.c.sha256 == sha256)
            ).first()
            if exists is None:
                conn.execute(extractions.insert().values(**row))

    def usage(self, month: str) -> list[tuple[str, int, float]]:
        query = (
            sa.select(
                extractions.c.connection,
                sa.func.sum(extractions.c.pages),
                sa.func.sum(extractions.c.cost),
            )  # fmt: skip
            .where(extractions.c.month == month)
            .group_by(extractions.c.connection)
            .order_by(extractions.c.connection)
        )
        with self._engine.connect() as conn:
            return [(str(c), int(p), float(x)) for c, p, x in conn.execute(query)]


def month_of(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m}"
