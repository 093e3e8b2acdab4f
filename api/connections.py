"""Connecting and disconnecting provider accounts: validate the token, keep it write-only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from api.core.model import Connection
from api.core.text import fingerprint
from api.engine import ProviderFactory
from api.errors import BillsyncError, ConfigError, NotFoundError
from api.ports import SecretStore, StateStore, utcnow

PROVIDERS = ("digitalocean", "doit")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$")


def connect(
    *,
    state: StateStore,
    secrets: SecretStore,
    providers: ProviderFactory,
    provider: str,
    name: str,
    token: str,
    options: Mapping[str, Any] | None = None,
) -> Connection:
    """Validate `token` with one API call, store it encrypted, save the connection.

    Nothing is saved when validation fails; the token itself is never returned or logged.
    """
    if provider not in PROVIDERS:
        raise ConfigError(
            f"Unknown provider '{provider}'.", action=f"Use one of: {', '.join(PROVIDERS)}."
        )
    if not _NAME.match(name):
        raise ConfigError(
            f"'{name}' is not a usable connection name.",
            action="Use letters, digits, spaces, '.', '_' or '-' (up to 63 characters).",
        )
    token = token.strip()
    if not token:
        raise ConfigError(f"No {provider} token was given.", action="Paste a read-only API token.")
    if any(c.name == name for c in state.list_connections()):
        raise ConfigError(
            f"A connection named '{name}' already exists.",
            action=f"Pick another name, or run `billsync disconnect {name}` first.",
        )
    draft = Connection(name, provider, "", "", fingerprint(token), dict(options or {}), utcnow())
    probe = providers(draft, token)
    try:
        account = probe.account_label()
    finally:
        probe.close()
    ref = secrets.put(f"{provider}--{name}", token)
    connection = Connection(
        name, provider, account, ref, draft.fingerprint, draft.options, draft.created
    )
    try:
        state.add_connection(connection)
    except BillsyncError:
        secrets.delete(ref)
        raise
    return connection


def disconnect(*, state: StateStore, secrets: SecretStore, name: str) -> Connection:
    """Forget a connection and destroy its secret; the ledger rows already written stay."""
    connection = state.remove_connection(name)
    try:
        secrets.delete(connection.secret_ref)
    except NotFoundError:
        pass
    return connection
