"""Adapter choice, made once from Settings: the engine never knows which adapters it got."""

from __future__ import annotations

from dataclasses import dataclass

from api.core.model import Connection
from api.destinations import destination_for
from api.engine import Destination, SyncEngine
from api.errors import ConfigError
from api.ports import FileStore, LedgerSink, Provider, SecretStore, StateStore
from api.reports import refresh
from api.settings import Settings


@dataclass
class Services:
    settings: Settings
    state: StateStore
    secrets: SecretStore
    sink: LedgerSink
    files: FileStore
    engine: SyncEngine

    def provider(self, connection: Connection, token: str) -> Provider:
        return build_provider(self.settings, connection, token)


def build_provider(settings: Settings, connection: Connection, token: str) -> Provider:
    options = connection.options
    if connection.provider == "digitalocean":
        from api.providers.digitalocean import DigitalOceanProvider

        return DigitalOceanProvider(
            token,
            base_url=settings.digitalocean_api_url,
            http=settings.http,
            limits=settings.digitalocean_limits,
            include_preview=bool(options.get("include_preview", True)),
        )
    if connection.provider == "doit":
        from api.providers.doit import DoitProvider

        return DoitProvider(
            token,
            base_url=settings.doit_api_url,
            http=settings.http,
            tenant_id=options.get("tenant") or None,
            window_days=int(options.get("window_days", 120)),
            account=connection.account or None,
        )
    raise ConfigError(
        f"Connection '{connection.name}' has an unknown provider '{connection.provider}'."
    )


def build(settings: Settings) -> Services:
    """SQLite (or DATABASE_URL), the encrypted token file, the workbook and the folder."""
    from api.archive.folder import FolderStore
    from api.ledger.workbook.ledger import WorkbookLedger
    from api.secrets.encrypted_file import FernetSecretStore
    from api.state.sql import SqlStateStore

    settings.home.mkdir(parents=True, exist_ok=True)
    state = SqlStateStore(settings.database_url)
    secrets = FernetSecretStore(settings.secrets_path, settings.secret_key, settings.key_path)
    sink: LedgerSink = WorkbookLedger(settings.workbook_path)
    files: FileStore = FolderStore(settings.archive_dir)
    local = Destination(sink, files)
    engine = SyncEngine(
        state=state,
        secrets=secrets,
        # The workbook and folder by default; a connection may name its own Sheet and Drive folder.
        destinations=lambda conn: destination_for(settings, state, secrets, conn, local),
        providers=lambda connection, token: build_provider(settings, connection, token),
        workdir=settings.home / "tmp",
        concurrency=settings.http.concurrency,
        after_change=refresh,
    )
    return Services(settings, state, secrets, sink, files, engine)
