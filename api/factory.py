"""Adapter choice, made once from Settings: the engine never knows which adapters it got."""

from __future__ import annotations

import functools
import ipaddress
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from api.core.model import Connection
from api.destinations import destination_for
from api.engine import Destination, SyncEngine
from api.errors import ConfigError
from api.http import redact
from api.ports import (
    Extractor,
    FileStore,
    JobQueue,
    LedgerSink,
    Provider,
    SecretStore,
    StateStore,
)
from api.reports import run_notes
from api.settings import Settings, prepare_home

SUPPORTED_DATABASES = ("sqlite", "postgresql")
_DATABASE_ACTION = (
    "Use sqlite:///PATH (the default) or postgresql://USER@HOST/DB, or unset DATABASE_URL."
)


@dataclass
class Services:
    settings: Settings
    state: StateStore
    secrets: SecretStore
    sink: LedgerSink
    files: FileStore
    engine: SyncEngine
    # The PDF extractor, built on first use and then shared by the sync's PDF check and the
    # inbox (Document AI: one client and one extraction book a process, not one a run).
    extractor: Callable[[], Extractor]

    def provider(self, connection: Connection, token: str) -> Provider:
        return build_provider(self.settings, connection, token)


def build_provider(settings: Settings, connection: Connection, token: str) -> Provider:
    """The provider client of `connection`. Raises ConfigError for an unknown provider, and
    for a demo connection unless its API URL is a simulator on this machine (loopback): the
    real API knows neither its account nor its token."""
    options = connection.options
    if connection.is_demo:
        check_simulated(settings, connection)
    if connection.provider == "digitalocean":
        from api.providers.digitalocean import DigitalOceanProvider

        return DigitalOceanProvider(
            token,
            base_url=settings.digitalocean_api_url,
            http=settings.http,
            limits=settings.digitalocean_limits,
            include_preview=connection.include_preview,
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


def check_simulated(settings: Settings, connection: Connection) -> None:
    """ConfigError unless the API URL of a demo connection's provider is on loopback."""
    url = {"digitalocean": settings.digitalocean_api_url, "doit": settings.doit_api_url}.get(
        connection.provider, ""
    )
    if _is_loopback(urlsplit(url).hostname or ""):
        return
    name = connection.name
    quoted = shlex.quote(name)
    raise ConfigError(
        f"'{name}' is a demo connection: its account exists only in the simulator that "
        "`billsync demo` and `billsync sync` start on this machine, not at "
        f"{redact(url) if url else 'the provider'}.",
        action=f"Sync it from the command line (billsync sync {quoted}), or remove it with "
        f"billsync disconnect {quoted} --yes",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build(settings: Settings) -> Services:
    """SQLite (or DATABASE_URL), the encrypted token file, the workbook and the folder."""
    from api.archive.folder import FolderStore
    from api.extractors import ArchivedPdfChecker, build_extractor
    from api.ledger.workbook.ledger import WorkbookLedger
    from api.state.sql import SqlStateStore

    prepare_home(settings)  # a clear message for an unwritable folder or an unusable database
    check_database_url(settings.database_url)
    state = SqlStateStore(settings.database_url)
    secrets = build_secrets(settings)
    sink: LedgerSink = WorkbookLedger(settings.workbook_path)
    files: FileStore = FolderStore(settings.archive_dir)
    local = Destination(sink, files)
    extractor = functools.cache(lambda: build_extractor(settings))
    engine = SyncEngine(
        state=state,
        secrets=secrets,
        # The workbook and folder by default; a connection may name its own Sheet and Drive folder.
        destinations=lambda conn: destination_for(settings, state, secrets, conn, local),
        providers=lambda connection, token: build_provider(settings, connection, token),
        workdir=settings.download_dir,
        concurrency=settings.http.concurrency,
        pdf_checker=ArchivedPdfChecker(extractor, state, threshold=settings.extract_confidence),
        after_change=run_notes,
    )
    return Services(settings, state, secrets, sink, files, engine, extractor)


def check_database_url(url: str) -> None:
    """ConfigError unless `url` is SQLite or PostgreSQL with its driver installed."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from api.state.schema import engine_url

    try:
        parsed = engine_url(url)
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a database URL.", action=_DATABASE_ACTION) from None
    backend = parsed.get_backend_name()
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        dialect = None
    if dialect is None or backend not in SUPPORTED_DATABASES:
        raise ConfigError(
            f"DATABASE_URL names a database billsync does not support ({parsed.drivername}); "
            "it keeps its state in SQLite or PostgreSQL.",
            action=_DATABASE_ACTION,
        )
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ConfigError(
            f"The database driver for {parsed.drivername} (Python module {exc.name}) is not "
            "installed.",
            action="Install it with pip install 'billsync[postgres]' (psycopg 3), or use a "
            "sqlite:///PATH URL.",
        ) from None


def build_secrets(settings: Settings) -> SecretStore:
    """Secret Manager when BILLSYNC_SECRET_MANAGER_PROJECT is set, else the encrypted file."""
    cloud = settings.cloud
    if cloud.secret_manager_project:
        from api.secrets.secret_manager import SecretManagerStore

        return SecretManagerStore(
            cloud.secret_manager_project, endpoint=cloud.secret_manager_endpoint
        )
    from api.secrets.encrypted_file import FernetSecretStore

    return FernetSecretStore(settings.secrets_path, settings.secret_key, settings.key_path)


def build_queue(services: Services, runner: Callable[[str], object] | None = None) -> JobQueue:
    """Cloud Tasks when BILLSYNC_TASKS_QUEUE is set; else threads in this process, which first
    pick up the runs a stopped process left queued or running and execute each run id with
    `runner` (default: the engine's `execute`)."""
    cloud = services.settings.cloud
    if cloud.tasks_queue:
        from api.jobs.cloud_tasks import CloudTasksQueue

        return CloudTasksQueue(
            queue=cloud.tasks_queue,
            service_url=cloud.service_url or "",
            service_account=cloud.tasks_invoker or "",
            audience=cloud.tasks_audience,
            endpoint=cloud.tasks_endpoint,
        )
    from api.jobs.local import ThreadQueue

    queue = ThreadQueue(runner or services.engine.execute, workers=cloud.workers)
    queue.recover(services.state)
    return queue
