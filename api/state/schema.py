"""The state database: tables, aware-UTC datetimes, a tuned engine, migrations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine, make_url

from api.errors import ConfigError

SCHEMA_VERSION = 2  # the schema_version row written by the newest migration
WRITE_OPTION = "billsync_write"  # execution option: this transaction will write
BUSY_TIMEOUT_MS = 30_000  # a CLI run and a web worker wait for each other, not fail
_SCHEMA_LOCK = 74_651_001  # PostgreSQL advisory lock id held while migrating

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
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("spreadsheet_id", sa.String(200), nullable=False),  # "local": workbook + folder
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("account", sa.Text, nullable=False),
    sa.Column("secret_ref", sa.Text, nullable=False),  # a reference, never the secret
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

ACTIVE = ("queued", "running")  # the statuses of which a connection has at most one run

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("connection", sa.String(40), nullable=False),  # its id; no FK: history outlives it
    sa.Column("connection_name", sa.String(100), nullable=False),
    sa.Column("trigger", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("queued_at", UtcDateTime),
    sa.Column("started", UtcDateTime, nullable=False),
    sa.Column("finished", UtcDateTime),
    sa.Column("heartbeat", UtcDateTime, nullable=False),
    # "<host>:<pid>" of the process running it: a dead local holder frees the connection at once.
    sa.Column("owner", sa.String(300)),
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
    # One active run per connection, held by the database itself: a second INSERT of a queued
    # or running run for the same connection fails, whichever process or thread tries.
    sa.Index(
        "ux_runs_active",
        "connection",
        unique=True,
        sqlite_where=sa.text("status IN ('queued', 'running')"),
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    ),
)

# One row per schedule slot that was enqueued: the primary key makes a repeated or overlapping
# tick enqueue nothing twice.
schedule_slots = sa.Table(
    "schedule_slots",
    metadata,
    sa.Column("connection", sa.String(40), primary_key=True),
    sa.Column("slot", sa.String(60), primary_key=True),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("created", UtcDateTime, nullable=False),
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


def writer(engine: Engine) -> Engine:
    """`engine` for transactions that will write: on SQLite they begin IMMEDIATE (see
    _sqlite_begin); elsewhere it is the same engine."""
    return engine.execution_options(**{WRITE_OPTION: True})


def _sqlite_begin(connection: sa.Connection) -> None:
    # A writer takes the write lock up front (waiting up to the busy timeout), so two writers
    # are serialized instead of one failing with "database is locked" halfway through.
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def migrate(writer: Engine) -> None:
    """Bring the database to the newest schema with Alembic, in one transaction.

    A database made before migrations (tables and schema_version, no alembic_version) is
    stamped as revision 0001 first. Raises ConfigError for a database written by a newer
    billsync (a revision this one does not know).
    """
    config = Config()
    config.set_main_option("script_location", "api.state:migrations")
    scripts = ScriptDirectory.from_config(config)
    with writer.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting together would otherwise race on the DDL.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SCHEMA_LOCK})
        tables = set(sa.inspect(conn).get_table_names())
        config.attributes["connection"] = conn
        if "schema_version" in tables and "alembic_version" not in tables:
            command.stamp(config, "0001")
        current = MigrationContext.configure(conn).get_current_revision()
        if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
            raise ConfigError(
                f"The state database is at schema revision {current}, which this billsync "
                "does not know: a newer billsync wrote it.",
                action="Upgrade billsync.",
            )
        command.upgrade(config, "head")


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
