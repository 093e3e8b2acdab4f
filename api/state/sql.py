"""The StateStore on SQLAlchemy Core: SQLite by default, PostgreSQL (psycopg 3) in production."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from api.core.model import Connection, DocumentLink, RunCounts, RunRecord
from api.errors import BillsyncError, ConfigError, NotFoundError, RunInProgress
from api.ports import Clock, IndexEntry, utcnow
from api.state.schema import (
    SCHEMA_VERSION,
    WRITE_OPTION,
    connection_record,
    connection_row,
    connections,
    counts_row,
    create_engine,
    create_schema,
    document_row,
    documents,
    engine_url,
    ledger_index,
    new_run_id,
    run_locks,
    run_record,
    run_row,
    runs,
    upsert,
)

INTERRUPTED = "Interrupted: the process running it stopped; this run replaced it."
_CHUNK = 500  # keys per IN (...) list: far below SQLite's and PostgreSQL's parameter limits


class _LockMoved(Exception):
    """Another process took over the same stale lock first; look again."""


class SqlStateStore:
    """Connections, runs, the ledger index and archived documents in one SQL database."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = utcnow,
        stale_after: dt.timedelta = dt.timedelta(minutes=15),
    ) -> None:
        self.url = engine_url(url).render_as_string(hide_password=True)
        self._clock = clock
        self._stale_after = stale_after
        self._engine = create_engine(url)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
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

    def add_connection(self, connection: Connection) -> None:
        row = connection_row(connection, connection.created or self._now())
        try:
            with self._write() as conn:
                conn.execute(connections.insert().values(**row))
        except sa.exc.IntegrityError:
            raise ConfigError(
                f"A connection named '{connection.name}' already exists.",
                action=f"Pick another name, or run `billsync disconnect {connection.name}` first.",
            ) from None

    def get_connection(self, name: str) -> Connection:
        with self._read() as conn:
            return connection_record(_connection_row(conn, name))

    def list_connections(self) -> list[Connection]:
        with self._read() as conn:
            rows = conn.execute(connections.select().order_by(connections.c.name)).all()
        return [connection_record(row) for row in rows]

    def update_options(self, name: str, changes: Mapping[str, Any]) -> Connection:
        """Merge `changes` into a connection's options (e.g. the Sheet that replaced a trashed
        one); NotFoundError for an unknown name."""
        with self._write() as conn:
            row = _connection_row(conn, name)
            options = {**(row.options or {}), **changes}
            conn.execute(
                connections.update().where(connections.c.name == name).values(options=options)
            )
            row = _connection_row(conn, name)
        return connection_record(row)

    def remove_connection(self, name: str) -> Connection:
        """Forget a connection, its index and documents; its run history stays."""
        with self._write() as conn:
            row = _connection_row(conn, name)
            conn.execute(documents.delete().where(documents.c.connection == name))
            conn.execute(ledger_index.delete().where(ledger_index.c.connection == name))
            conn.execute(connections.delete().where(connections.c.name == name))
        return connection_record(row)

    # -- runs ------------------------------------------------------------------------------

    def start_run(self, connection: str, trigger: str) -> RunRecord:
        """Create a running run; RunInProgress (with its id) if one is already running.

        A lock whose run has not reported progress for `stale_after` belonged to a process that
        died: that run is marked failed and the new run takes the lock over.
        """
        for _ in range(5):
            try:
                return self._try_start(connection, trigger)
            except (sa.exc.IntegrityError, _LockMoved):
                continue  # another process got there first: the next look sees its lock
        raise BillsyncError(
            f"Could not start a sync for connection '{connection}': the database is too busy.",
            action="Try again in a moment.",
        )

    def _try_start(self, connection: str, trigger: str) -> RunRecord:
        now = self._now()
        run = RunRecord(new_run_id(now), connection, trigger, "running", now)
        with self._write() as conn:
            _connection_row(conn, connection)
            held = conn.execute(
                sa.select(run_locks.c.run_id, run_locks.c.owner, runs.c.status, runs.c.heartbeat)
                .select_from(run_locks.outerjoin(runs, runs.c.id == run_locks.c.run_id))
                .where(run_locks.c.connection == connection)
            ).first()
            conn.execute(runs.insert().values(run_row(run, now)))
            if held is None:
                lock = {
                    "connection": connection,
                    "run_id": run.id,
                    "acquired": now,
                    "owner": _OWNER,
                }
                conn.execute(run_locks.insert().values(lock))
                return run
            if not self._is_stale(held.status, held.heartbeat, now) and _alive(held.owner):
                raise RunInProgress(connection, held.run_id)
            moved = conn.execute(
                run_locks.update()
                .where(run_locks.c.connection == connection, run_locks.c.run_id == held.run_id)
                .values(run_id=run.id, acquired=now, owner=_OWNER)
            )
            if moved.rowcount != 1:
                raise _LockMoved()
            conn.execute(
                runs.update()
                .where(runs.c.id == held.run_id, runs.c.status == "running")
                .values(status="failed", finished=now, message=INTERRUPTED)
            )
        return run

    def _is_stale(
        self, status: str | None, heartbeat: dt.datetime | None, now: dt.datetime
    ) -> bool:
        if status != "running" or heartbeat is None:
            return True  # a lock left behind by a run that is not running holds nothing
        return now - heartbeat >= self._stale_after

    def progress(self, run_id: str, phase: str, done: int, total: int) -> None:
        with self._write() as conn:
            result = conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(phase=phase, done=done, total=total, heartbeat=self._now())
            )
            if result.rowcount != 1:
                raise _unknown_run(run_id)

    def finish_run(self, run_id: str, status: str, counts: RunCounts, message: str) -> RunRecord:
        """Record the outcome and release the lock together, so no window shows a finished run
        still holding its connection (or a free connection with a run still "running")."""
        if status == "running":
            raise ValueError("finish_run needs a final status")
        now = self._now()
        with self._write() as conn:
            result = conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(status=status, finished=now, heartbeat=now, message=message)
                .values(counts_row(counts))
            )
            if result.rowcount != 1:
                raise _unknown_run(run_id)
            # Only our own lock: after a takeover the lock belongs to the replacing run.
            conn.execute(run_locks.delete().where(run_locks.c.run_id == run_id))
            row = conn.execute(runs.select().where(runs.c.id == run_id)).one()
        return run_record(row)

    def get_run(self, run_id: str) -> RunRecord:
        with self._read() as conn:
            row = conn.execute(runs.select().where(runs.c.id == run_id)).first()
        if row is None:
            raise _unknown_run(run_id)
        return run_record(row)

    def list_runs(self, connection: str | None = None, limit: int = 50) -> list[RunRecord]:
        query = runs.select().order_by(runs.c.started.desc(), runs.c.id.desc()).limit(limit)
        if connection is not None:
            query = query.where(runs.c.connection == connection)
        with self._read() as conn:
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

    def _ensure_schema(self) -> None:
        """Create the tables on first use; refuse a database written by a newer billsync."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            try:
                found = create_schema(self._writer, self._now())
            except sa.exc.OperationalError:
                raise ConfigError(
                    f"Cannot open the state database {self.url}.",
                    action="Check DATABASE_URL and that the database server is running.",
                ) from None
            if found > SCHEMA_VERSION:
                raise ConfigError(
                    f"The state database {self.url} has schema version {found}; this billsync "
                    f"understands up to {SCHEMA_VERSION}.",
                    action="Upgrade billsync.",
                )
            self._ready = True


def _connection_row(conn: sa.Connection, name: str) -> sa.Row[Any]:
    """The connection's row, or NotFoundError naming the connections that do exist."""
    row = conn.execute(connections.select().where(connections.c.name == name)).first()
    if row is not None:
        return row
    known = conn.execute(sa.select(connections.c.name).order_by(connections.c.name)).scalars()
    listed = ", ".join(f"'{k}'" for k in known) or "none yet"
    raise NotFoundError(
        f"There is no connection named '{name}' (known: {listed}).",
        action="Check the name with `billsync connections`, or add it with `billsync connect`.",
    )


_OWNER = f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str | None) -> bool:
    """False only when the holder is a process on this machine that no longer exists.

    A CLI run killed with SIGKILL never finishes its run; waiting `stale_after` for it would
    block the next `billsync sync` for no reason. Holders on other hosts are judged by their
    heartbeat alone.
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


def _unknown_run(run_id: str) -> NotFoundError:
    return NotFoundError(f"There is no run with id '{run_id}'.")
