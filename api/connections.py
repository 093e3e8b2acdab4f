"""Connecting and disconnecting provider accounts: validate the token, keep it write-only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from api.core.model import PROVIDER_NAMES, Connection
from api.core.schedule import Schedule
from api.core.text import fingerprint
from api.engine import ProviderFactory
from api.errors import AuthError, BillsyncError, ConfigError, Conflict, NotFoundError
from api.http import scrub
from api.ports import SecretStore, StateStore, utcnow
from api.state.rows import new_connection_id

PROVIDERS = ("digitalocean", "doit")
# Every provider token is printable ASCII without spaces: DigitalOcean's `dop_v1_<64 hex>`,
# DoiT's API keys (a JWT). Anything else is a paste gone wrong, refused before any call.
_TOKEN_TEXT = re.compile(r"[\x21-\x7e]+")
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
    spreadsheet_id: str = "local",
    schedule: Schedule | None = None,
) -> Connection:
    """Validate `token` with one API call, store it encrypted, save the connection in the
    ledger `spreadsheet_id` ("local": the workbook and folder).

    Nothing is saved when validation fails; the token itself is never returned or logged.
    A name already used in the same spreadsheet raises Conflict (code "name_taken").
    """
    if provider not in PROVIDERS:
        raise ConfigError(
            f"Unknown provider '{provider}'.", action=f"Use one of: {', '.join(PROVIDERS)}."
        )
    check_name(name)
    token = token.strip()
    if not token:
        raise ConfigError(f"No {provider} token was given.", action="Paste a read-only API token.")
    check_token_text(provider, token)
    if any(c.name == name for c in state.list_connections(spreadsheet_id)):
        raise Conflict(
            f"A connection named '{name}' already exists.",
            code="name_taken",
            action=f"Pick another name, or disconnect '{name}' first.",
        )
    draft = replace(
        Connection(name, provider, "", "", fingerprint(token), dict(options or {}), utcnow()),
        id=new_connection_id(),
        spreadsheet_id=spreadsheet_id,
        schedule=schedule or Schedule(),
    )
    probe = providers(draft, token)
    try:
        account = probe.account_label()
    finally:
        probe.close()
    account = scrub(account, token)  # a provider that echoes the token back
    # One secret per connection: the sheet keeps two sheets' same-named connections apart.
    scope = "" if spreadsheet_id == "local" else f"{spreadsheet_id}--"
    ref = secrets.put(
        f"{provider}--{scope}{name}", token, labels={"connection": draft.id, "kind": provider}
    )
    connection = replace(draft, account=account, secret_ref=ref)
    try:
        return state.add_connection(connection)
    except BillsyncError:
        secrets.delete(ref)
        raise


def check_name(name: str) -> None:
    """ConfigError unless `name` is a usable connection name."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"'{name}' is not a usable connection name.",
            action="Use letters, digits, spaces, '.', '_' or '-' (up to 63 characters).",
        )


def disconnect(*, state: StateStore, secrets: SecretStore, name: str) -> Connection:
    """Forget a connection and destroy its secret; the ledger rows already written stay."""
    connection = state.remove_connection(name)
    try:
        secrets.delete(connection.secret_ref)
    except NotFoundError:
        pass
    return connection


def check_token_text(provider: str, token: str) -> None:
    """AuthError (never sent to the provider) for a token with spaces, line breaks, control
    characters or letters outside ASCII, which no DigitalOcean or DoiT token has."""
    if not _TOKEN_TEXT.fullmatch(token):
        label = PROVIDER_NAMES.get(provider, provider)
        raise AuthError(
            f"The {label} token contains characters no {label} token has (spaces, line "
            "breaks or letters outside ASCII).",
            provider=provider,
            action="Copy the token again from the provider's console and paste it whole.",
        )
