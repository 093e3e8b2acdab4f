"""Users' Google grants (which stored secret holds whose refresh token) and OAuth `state`s.

Two small tables in the service's database, next to the StateStore's: a grant row maps the
ID token's `sub` to a SecretStore reference (never the token); a consent `state` is single-use
(taken with one DELETE ... RETURNING, so two callbacks with one state cannot both win),
expires, and remembers the user it was issued to and the PKCE code verifier.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from api.ports import utcnow
from api.state.schema import UtcDateTime, create_engine, migrate, writer

metadata = sa.MetaData()

google_grants = sa.Table(
    "web_google_grants",
    metadata,
    sa.Column("subject", sa.String(255), primary_key=True),  # the ID token's `sub`
    sa.Column("secret_ref", sa.Text, nullable=False),  # a SecretStore reference
    sa.Column("connected_at", UtcDateTime, nullable=False),
)

oauth_states = sa.Table(
    "web_oauth_states",
    metadata,
    sa.Column("state", sa.String(100), primary_key=True),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("code_verifier", sa.String(200), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class PendingConsent:
    subject: str
    code_verifier: str
    expires_at: dt.datetime


class AccountStore:
    """Grants and consent states on SQLite (default) or PostgreSQL (`database_url`)."""

    def __init__(self, database_url: str, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._engine = create_engine(database_url)
        self._sqlite = self._engine.dialect.name == "sqlite"
        self._lock = threading.Lock()  # SQLite allows one writer; queue ours
        self._clock = clock
        migrate(self._engine)  # the tables are migration 0003's

    def close(self) -> None:
        self._engine.dispose()

    def grant_ref(self, subject: str) -> str | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(google_grants.c.secret_ref).where(google_grants.c.subject == subject)
            ).first()
        return str(row[0]) if row else None

    def set_grant(self, subject: str, secret_ref: str) -> str | None:
        """Remember `subject`'s grant; returns the reference it replaces (to destroy), if any."""
        with self._write() as conn:
            old = conn.execute(
                sa.select(google_grants.c.secret_ref).where(google_grants.c.subject == subject)
            ).first()
            conn.execute(sa.delete(google_grants).where(google_grants.c.subject == subject))
            conn.execute(
                sa.insert(google_grants).values(
                    subject=subject, secret_ref=secret_ref, connected_at=self._clock()
                )
            )
        return str(old[0]) if old and old[0] != secret_ref else None

    def save_state(self, state: str, pending: PendingConsent) -> None:
        with self._write() as conn:
            now = self._clock()
            conn.execute(sa.delete(oauth_states).where(oauth_states.c.expires_at < now))
            conn.execute(
                sa.insert(oauth_states).values(
                    state=state,
                    subject=pending.subject,
                    code_verifier=pending.code_verifier,
                    expires_at=pending.expires_at,
                )
            )

    def take_state(self, state: str) -> PendingConsent | None:
        """The pending consent of `state`, removed in the same statement (single use)."""
        statement = (
            sa.delete(oauth_states)
            .where(oauth_states.c.state == state)
            .returning(
                oauth_states.c.subject, oauth_states.c.code_verifier, oauth_states.c.expires_at
            )
        )
        with self._write() as conn:
            row = conn.execute(statement).first()
        return PendingConsent(str(row[0]), str(row[1]), row[2]) if row else None

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        if self._sqlite:
            with self._lock, writer(self._engine).begin() as conn:
                yield conn
        else:
            with writer(self._engine).begin() as conn:
                yield conn
