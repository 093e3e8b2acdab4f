"""The state database: tables, aware-UTC datetimes, a tuned engine, rows <-> domain values."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine, make_url

from api.core.model import Connection, DocumentLink, RunCounts, RunRecord
from api.errors import ConfigError

SCHEMA_VERSION = 1
WRITE_OPTION = "billsync_write"  # execution option: this transaction will write
BUSY_TIMEOUT_MS = 30_000  # a CLI run and a web worker wait for each other, not fail
_SCHEMA_LOCK = 74_651_001  # PostgreSQL advisory lock id held while creating tables

Row = dict[str, Any]


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Aware UTC in, aware UTC out, whatever the database keeps (SQLite keeps naive text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # Guessing a zone for a naive value would silently shift run times by hours.
            raise ValueError("naive datetime: the state store only accepts aware datetimes")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # always 1: a one-row table
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created", UtcDateTime, nullable=False),
)

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("account", sa.Text, nullable=False),
    sa.Column("secret_ref", sa.Text, nullable=False),  # a reference, never the secret
    sa.Column("fingerprint", sa.String(100), nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("created", UtcDateTime, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("connection", sa.String(100), nullable=False),  # no FK: history outlives it
    sa.Column("trigger", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("started", UtcDateTime, nullable=False),
    sa.Column("finished", UtcDateTime),
    sa.Column("heartbeat", UtcDateTime, nullable=False),
    sa.Column("phase", sa.String(40), nullable=False, default=""),
    sa.Column("done", sa.Integer, nullable=False, default=0),
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("new", sa.Integer, nullable=False, default=0),
    sa.Column("updated", sa.Integer, nullable=False, default=0),
    sa.Column("unchanged", sa.Integer, nullable=False, default=0),
    sa.Column("removed", sa.Integer, nullable=False, default=0),
    sa.Column("line_items", sa.Integer, nullable=False, default=0),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Index("ix_runs_connection_started", "connection", "started"),
    sa.Index("ix_runs_started", "started"),
)

# One row per connection with a running run: the primary key is what makes "one running run
# per connection" hold across processes, not a check-then-insert in Python.
run_locks = sa.Table(
    "run_locks",
    metadata,
    sa.Column("connection", sa.String(100), primary_key=True),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("acquired", UtcDateTime, nullable=False),
    # "<host>:<pid>" of the process holding the lock: a dead local holder frees it at once.
    sa.Column("owner", sa.String(300), nullable=True),
)

ledger_index = sa.Table(
    "ledger_index",
    metadata,
    sa.Column("connection", sa.String(100), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("invoice_id", sa.Text, nullable=False),
    sa.Column("period", sa.String(20), nullable=False),
    sa.Column("line_count", sa.Integer, nullable=False),
    sa.Column("recorded", UtcDateTime, nullable=False),
    sa.CheckConstraint("line_count >= 0", name="ck_ledger_index_line_count"),
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("connection", sa.String(100), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("recorded", UtcDateTime, nullable=False),
)


def engine_url(url: str) -> URL:
    """Parse `url`; plain PostgreSQL URLs (as Cloud SQL and Heroku print them) use psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine(url: str) -> Engine:
    parsed = engine_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # We issue BEGIN ourselves (below): pysqlite's implicit transactions start too late to
    # make a read-then-write atomic.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
    cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    # A writer takes the write lock up front (waiting up to the busy timeout), so two writers
    # are serialized instead of one failing with "database is locked" halfway through.
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_schema(writer: Engine, now: dt.datetime) -> int:
    """Create missing tables and the schema_version row; return the version found."""
    with writer.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting together would otherwise race on CREATE TABLE.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SCHEMA_LOCK})
        metadata.create_all(conn)
        found = conn.execute(sa.select(schema_version.c.version)).scalar()
        if found is None:
            row = {"id": 1, "version": SCHEMA_VERSION, "created": now}
            conn.execute(schema_version.insert().values(row))
            return SCHEMA_VERSION
        return int(found)


def upsert(conn: sa.Connection, table: sa.Table) -> Any:
    """INSERT .. ON CONFLICT (primary key) DO UPDATE, in the connection's dialect."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise ConfigError(f"The state store supports SQLite and PostgreSQL, not {dialect}.")
    keys = [column.name for column in table.primary_key.columns]
    values = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=values)


# -- rows <-> domain values ----------------------------------------------------------------


def new_run_id(now: dt.datetime) -> str:
    """Sortable by start second, unique by a random suffix: `20261121T190102Z-3f9a1c`."""
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


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


def run_row(run: RunRecord, heartbeat: dt.datetime) -> Row:
    return {
        "id": run.id,
        "connection": run.connection,
        "trigger": run.trigger,
        "status": run.status,
        "started": run.started,
        "finished": run.finished,
        "heartbeat": heartbeat,
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
        phase=row.phase,
        done=row.done,
        total=row.total,
    )


def connection_row(connection: Connection, created: dt.datetime) -> Row:
    return {
        "name": connection.name,
        "provider": connection.provider,
        "account": connection.account,
        "secret_ref": connection.secret_ref,
        "fingerprint": connection.fingerprint,
        "options": dict(connection.options),
        "created": created,
    }


def connection_record(row: Any) -> Connection:
    return Connection(
        name=row.name,
        provider=row.provider,
        account=row.account,
        secret_ref=row.secret_ref,
        fingerprint=row.fingerprint,
        options=dict(row.options),
        created=row.created,
    )
