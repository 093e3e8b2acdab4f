"""The StateStore on SQLAlchemy Core: SQLite by default, PostgreSQL (psycopg 3) in production."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

import sqlalchemy as sa

from api.core.model import DONE, Connection, DocumentLink, RunCounts, RunRecord
from api.core.schedule import Schedule
from api.errors import BillsyncError, ConfigError, NotFoundError, RunInProgress
from api.ports import Clock, IndexEntry, utcnow
from api.state import runs as lifecycle
from api.state.rows import (
    connection_record,
    connection_row,
    document_row,
    new_connection_id,
    run_record,
    schedule_row,
)
from api.state.schema import (
    ACTIVE,
    connections,
    create_engine,
    documents,
    engine_url,
    ledger_index,
    migrate,
    runs,
    schedule_slots,
    upsert,
    writer,
)

INTERRUPTED = lifecycle.INTERRUPTED
_CHUNK = 500  # keys per IN (...) list: far below SQLite's and PostgreSQL's parameter limits
_ATTEMPTS = 5  # tries of a write that lost a race on a unique key
T = TypeVar("T")


class SqlStateStore:
    """Connections, runs, the ledger index and archived documents in one SQL database."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = utcnow,
        stale_after: dt.timedelta = dt.timedelta(minutes=15),
    ) -> None:
        # Shown in messages: no password, no query (sslpassword, options, … may sit there).
        self.url = engine_url(url).set(query={}).render_as_string(hide_password=True)
        self._clock = clock
        self._stale_after = stale_after
        self._engine = create_engine(url)
        self._writer = writer(self._engine)
        # One snapshot for multi-query reads (index + its documents) on PostgreSQL; SQLite's
        # deferred BEGIN already reads one WAL snapshot.
        postgres = self._engine.dialect.name == "postgresql"
        self._reader = (
            self._engine.execution_options(isolation_level="REPEATABLE READ")
            if postgres
            else self._engine
        )
        self._ready = False
        self._ready_lock = threading.Lock()
        # SQLite has one writer at a time and makes the others poll with growing sleeps (up to
        # 100 ms each); our own threads queue on a lock instead and go the moment it is free.
        # Other processes still meet the busy timeout. PostgreSQL locks rows, not the database.
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            contextlib.nullcontext() if postgres else threading.Lock()
        )

    def __repr__(self) -> str:
        return f"SqlStateStore({self.url!r})"

    def close(self) -> None:
        self._engine.dispose()

    def _now(self) -> dt.datetime:
        return self._clock().astimezone(dt.UTC)

    # -- connections -----------------------------------------------------------------------

    def add_connection(self, connection: Connection) -> Connection:
        """Save a connection; give it an id when it has none. ConfigError when its name is
        taken in its spreadsheet."""
        now = self._now()
        saved = replace(
            connection,
            id=connection.id or new_connection_id(),
            created=connection.created or now,
            schedule_since=connection.schedule_since or now,
        )
        try:
            with self._write() as conn:
                conn.execute(
                    connections.insert().values(**connection_row(saved, saved.created or now))
                )
        except sa.exc.IntegrityError:
            raise _name_taken(connection.name) from None
        return saved

    def get_connection(self, ref: str) -> Connection:
        """By id, or by name among the "local" spreadsheet's connections (the CLI's way)."""
        with self._read() as conn:
            return connection_record(_connection_row(conn, ref))

    def list_connections(self, spreadsheet_id: str | None = None) -> list[Connection]:
        """All connections, or one spreadsheet's, by name."""
        query = connections.select().order_by(connections.c.name, connections.c.id)
        if spreadsheet_id is not None:
            query = query.where(connections.c.spreadsheet_id == spreadsheet_id)
        with self._read() as conn:
            return [connection_record(row) for row in conn.execute(query)]

    def update_options(self, ref: str, changes: Mapping[str, Any]) -> Connection:
        """Merge `changes` into a connection's options (e.g. the Sheet that replaced a trashed
        one) in one transaction; NotFoundError for an unknown connection."""
        with self._write() as conn:
            row = _connection_row(conn, ref)
            options = {**(row.options or {}), **changes}
            where = connections.c.id == row.id
            conn.execute(connections.update().where(where).values(options=options))
            return connection_record(conn.execute(connections.select().where(where)).one())

    def update_connection(
        self,
        ref: str,
        *,
        name: str | None = None,
        schedule: Schedule | None = None,
        options: dict[str, Any] | None = None,
    ) -> Connection:
        """Change the name, the schedule (which also resumes a paused one) or the options
        (replaced whole). ConfigError when the new name is taken in the spreadsheet."""
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if options is not None:
            values["options"] = dict(options)
        if schedule is not None:
            values.update(schedule_row(schedule), schedule_since=self._now())
            values.update(schedule_failures=0, schedule_paused=False)
        try:
            with self._write() as conn:
                row = _connection_row(conn, ref)
                if values:
                    where = connections.c.id == row.id
                    conn.execute(connections.update().where(where).values(**values))
                return connection_record(
                    conn.execute(connections.select().where(connections.c.id == row.id)).one()
                )
        except sa.exc.IntegrityError:
            raise _name_taken(name or ref) from None

    def remove_connection(self, ref: str) -> Connection:
        """Forget a connection, its index, documents and schedule slots; its run history stays.
        A run still queued for it is failed (nothing would ever run it)."""
        with self._write() as conn:
            row = _connection_row(conn, ref)
            for table in (documents, ledger_index, schedule_slots):
                conn.execute(table.delete().where(table.c.connection == row.id))
            conn.execute(
                runs.update()
                .where(runs.c.connection == row.id, runs.c.status == "queued")
                .values(
                    status="failed",
                    finished=self._now(),
                    phase=DONE,
                    message="The connection was removed.",
                )
            )
            conn.execute(connections.delete().where(connections.c.id == row.id))
        return connection_record(row)

    def scheduled_connections(self) -> list[Connection]:
        """Connections with a schedule that is not off and not paused."""
        query = connections.select().where(
            connections.c.schedule_frequency != "off", connections.c.schedule_paused.is_(False)
        )
        with self._read() as conn:
            return [
                connection_record(row) for row in conn.execute(query.order_by(connections.c.id))
            ]

    # -- runs ------------------------------------------------------------------------------

    def start_run(self, connection: str, trigger: str) -> RunRecord:
        """Create a running run here (the CLI's way); RunInProgress (with its id) when the
        connection has a queued or running run. A running run whose process died (its heartbeat
        is older than `stale_after`, or its local process is gone) is failed and replaced."""

        def attempt(conn: sa.Connection) -> RunRecord:
            found = connection_record(_connection_row(conn, connection))
            run, created = lifecycle.insert_run(
                conn, found, trigger, "running", self._now(), self._stale_after
            )
            if not created:
                raise RunInProgress(found.name, run.id)
            return run

        return self._retrying(attempt, connection)

    def enqueue_run(self, connection: str, trigger: str) -> tuple[RunRecord, bool]:
        """A new queued run and True, or the connection's active (queued or running) run and
        False: "Sync now" twice, or twenty times at once, makes one run."""

        def attempt(conn: sa.Connection) -> tuple[RunRecord, bool]:
            found = connection_record(_connection_row(conn, connection))
            return lifecycle.insert_run(
                conn, found, trigger, "queued", self._now(), self._stale_after
            )

        return self._retrying(attempt, connection)

    def claim_run(self, run_id: str) -> tuple[RunRecord, bool]:
        """Start a queued run in this process: (running run, True). A running run whose
        process died is taken over (same id: a redelivered task resumes it, never a second
        run). (run, False) when it already finished; RunInProgress while it runs elsewhere."""
        with self._write() as conn:
            return lifecycle.claim(conn, run_id, self._now(), self._stale_after)

    def orphan_runs(self, queued_before: dt.datetime) -> list[RunRecord]:
        """Runs nobody will finish unless enqueued again: queued before `queued_before`, or
        running in a process that died. Oldest first."""
        now = self._now()
        query = runs.select().where(runs.c.status.in_(ACTIVE)).order_by(runs.c.started)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [
            run_record(row)
            for row in rows
            if (row.status == "queued" and row.queued_at <= queued_before)
            or lifecycle.is_orphan(row, now, self._stale_after)
        ]

    def claim_slot(self, connection: str, slot: str) -> RunRecord | None:
        """Take schedule slot `slot` of a connection and queue its run: the new run, or None
        when the slot was taken already (a repeated tick) or a run is already active (it
        covers the slot)."""

        def attempt(conn: sa.Connection) -> RunRecord | None:
            found = connection_record(_connection_row(conn, connection))
            now = self._now()
            taken = conn.execute(
                sa.select(schedule_slots.c.run_id).where(
                    schedule_slots.c.connection == found.id, schedule_slots.c.slot == slot
                )
            ).first()
            if taken is not None:
                return None
            run, created = lifecycle.insert_run(
                conn, found, "schedule", "queued", now, self._stale_after
            )
            row = {"connection": found.id, "slot": slot, "run_id": run.id, "created": now}
            conn.execute(schedule_slots.insert().values(**row))  # a racing tick: IntegrityError
            return run if created else None

        return self._retrying(attempt, connection)

    def progress(self, run_id: str, phase: str, done: int, total: int) -> None:
        with self._write() as conn:
            result = conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(phase=phase, done=done, total=total, heartbeat=self._now())
            )
            if result.rowcount != 1:
                raise lifecycle.unknown_run(run_id)

    def finish_run(self, run_id: str, status: str, counts: RunCounts, message: str) -> RunRecord:
        """Record the outcome; it frees the connection in the same write. A failed scheduled
        run counts toward pausing the schedule (the run's message then says so)."""
        if status in ACTIVE:
            raise ValueError("finish_run needs a final status")
        with self._write() as conn:
            return lifecycle.finish(conn, run_id, status, counts, message, self._now())

    def get_run(self, run_id: str) -> RunRecord:
        with self._read() as conn:
            row = conn.execute(runs.select().where(runs.c.id == run_id)).first()
        if row is None:
            raise lifecycle.unknown_run(run_id)
        return run_record(row)

    def list_runs(self, connection: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest first; `connection` is an id (or a local name)."""
        query = runs.select().order_by(runs.c.started.desc(), runs.c.id.desc()).limit(limit)
        with self._read() as conn:
            if connection is not None:
                row = conn.execute(
                    sa.select(connections.c.id).where(connections.c.id == connection)
                ).first() or _local_by_name(conn, connection)
                query = query.where(runs.c.connection == (row.id if row else connection))
            return [run_record(row) for row in conn.execute(query)]

    # -- ledger index and documents --------------------------------------------------------

    def index(self, connection: str) -> dict[str, IndexEntry]:
        with self._read() as conn:
            links: dict[str, dict[str, DocumentLink]] = {}
            docs = conn.execute(documents.select().where(documents.c.connection == connection))
            for doc in docs:
                link = DocumentLink(doc.kind, doc.url, doc.sha256)
                links.setdefault(doc.key, {})[doc.kind] = link
            rows = conn.execute(
                ledger_index.select().where(ledger_index.c.connection == connection)
            )
            return {
                row.key: IndexEntry(
                    row.key,
                    row.version,
                    row.invoice_id,
                    row.period,
                    row.line_count,
                    links.get(row.key, {}),
                )
                for row in rows
            }

    def record_index(
        self, connection: str, entries: Sequence[IndexEntry], removed: Sequence[str]
    ) -> None:
        """Upsert entries (and their documents) and delete removed keys in one transaction."""
        now = self._now()
        index_rows = [
            {
                "connection": connection,
                "key": e.key,
                "version": e.version,
                "invoice_id": e.invoice_id,
                "period": e.period,
                "line_count": e.line_count,
                "recorded": now,
            }
            for e in entries
        ]
        doc_rows = [
            document_row(connection, e.key, link, now)
            for e in entries
            for link in e.documents.values()
        ]
        with self._write() as conn:
            for start in range(0, len(removed), _CHUNK):
                keys = list(removed[start : start + _CHUNK])
                for table in (documents, ledger_index):
                    where = (table.c.connection == connection, table.c.key.in_(keys))
                    conn.execute(table.delete().where(*where))
            if index_rows:
                conn.execute(upsert(conn, ledger_index), index_rows)
            if doc_rows:
                conn.execute(upsert(conn, documents), doc_rows)

    def record_document(self, connection: str, key: str, link: DocumentLink) -> None:
        """Remember an archived document at once: a crash before the ledger write loses nothing."""
        with self._write() as conn:
            row = document_row(connection, key, link, self._now())
            conn.execute(upsert(conn, documents), [row])

    def documents(self, connection: str, key: str) -> dict[str, DocumentLink]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(documents.c.kind, documents.c.url, documents.c.sha256).where(
                    documents.c.connection == connection, documents.c.key == key
                )
            )
            return {row.kind: DocumentLink(row.kind, row.url, row.sha256) for row in rows}

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        self._ensure_schema()
        with self._write_lock, self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        self._ensure_schema()
        with self._reader.connect() as conn:
            yield conn

    def _retrying(self, attempt: Callable[[sa.Connection], T], connection: str) -> T:
        """Run `attempt` in a write transaction again when it lost a race on a unique key:
        the next look sees the winner's row."""
        for _ in range(_ATTEMPTS):
            try:
                with self._write() as conn:
                    return attempt(conn)
            except sa.exc.IntegrityError:
                continue
        raise BillsyncError(
            f"Could not record a run for connection '{connection}': the database is too busy.",
            action="Try again in a moment.",
        )

    def _ensure_schema(self) -> None:
        """Migrate the database to the newest schema on first use (Alembic)."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            try:
                migrate(self._writer)
            except sa.exc.OperationalError:
                raise ConfigError(
                    f"Cannot open the state database {self.url}.",
                    action="Check DATABASE_URL and that the database server is running.",
                ) from None
            self._ready = True


def _local_by_name(conn: sa.Connection, name: str) -> Any:
    return conn.execute(
        connections.select().where(
            connections.c.spreadsheet_id == "local", connections.c.name == name
        )
    ).first()


def _connection_row(conn: sa.Connection, ref: str) -> sa.Row[Any]:
    """The connection with id `ref`, or the local one named `ref`; NotFoundError naming the
    local connections that do exist."""
    row = conn.execute(connections.select().where(connections.c.id == ref)).first()
    row = row or _local_by_name(conn, ref)
    if row is not None:
        return row
    known = conn.execute(
        sa.select(connections.c.name)
        .where(connections.c.spreadsheet_id == "local")
        .order_by(connections.c.name)
    ).scalars()
    listed = ", ".join(f"'{k}'" for k in known) or "none yet"
    raise NotFoundError(
        f"There is no connection named '{ref}' (known: {listed}).",
        action="Check the name with `billsync connections`, or add it with `billsync connect`.",
    )


def _name_taken(name: str) -> ConfigError:
    return ConfigError(
        f"A connection named '{name}' already exists in this spreadsheet.",
        action=f"Pick another name, or run `billsync disconnect {name}` first.",
    )
