"""Settings: one frozen object built once (from the environment or by a test), passed down."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from api.errors import ConfigError


@dataclass(frozen=True)
class HttpSettings:
    """Shared outbound-HTTP behaviour; every provider composes it."""

    timeout: float = 30.0  # seconds per request (connect/read)
    max_attempts: int = 6  # per request, including the first
    max_retry_delay: float = 60.0  # cap on one wait
    max_total_delay: float = 300.0  # cap on all waits of one request
    quota_window: float = 60.0  # a 429 is retried until this much was waited (quotas refill)
    concurrency: int = 8  # parallel invoice fetches per run


@dataclass(frozen=True)
class RateLimits:
    """A provider's documented limits; `time_scale` < 1 compresses time for benchmarks."""

    per_minute: int = 250
    per_hour: int = 5000
    time_scale: float = 1.0

    @property
    def minute(self) -> float:
        return 60.0 * self.time_scale

    @property
    def hour(self) -> float:
        return 3600.0 * self.time_scale


@dataclass(frozen=True)
class CloudSettings:
    """Production adapters on Google Cloud; all unset = the embedded ones (token file, threads).

    `tasks_queue` (projects/P/locations/L/queues/Q) selects Cloud Tasks, delivering to
    `service_url`/tasks/runs/{run_id} with an OIDC token of `tasks_invoker` (a service account
    email) for `tasks_audience` (default: the service URL). `secret_manager_project` selects
    Secret Manager. The endpoints are for tests (a loopback fake) and private endpoints.
    """

    tasks_queue: str | None = None
    tasks_endpoint: str | None = None
    service_url: str | None = None
    tasks_invoker: str | None = None
    tasks_audience: str | None = None
    secret_manager_project: str | None = None
    secret_manager_endpoint: str | None = None
    workers: int = 4  # in-process queue: syncs at once per process

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CloudSettings:
        cloud = cls(
            tasks_queue=env.get("BILLSYNC_TASKS_QUEUE") or None,
            tasks_endpoint=env.get("CLOUD_TASKS_ENDPOINT") or None,
            service_url=env.get("BILLSYNC_SERVICE_URL") or None,
            tasks_invoker=env.get("BILLSYNC_TASKS_INVOKER") or None,
            tasks_audience=env.get("BILLSYNC_TASKS_AUDIENCE") or None,
            secret_manager_project=env.get("BILLSYNC_SECRET_MANAGER_PROJECT") or None,
            secret_manager_endpoint=env.get("SECRET_MANAGER_ENDPOINT") or None,
            workers=_int(env, "BILLSYNC_WORKERS", cls.workers),
        )
        if cloud.tasks_queue and not (cloud.service_url and cloud.tasks_invoker):
            raise ConfigError(
                "BILLSYNC_TASKS_QUEUE needs BILLSYNC_SERVICE_URL and BILLSYNC_TASKS_INVOKER.",
                action="Set the service's https URL and the service account Cloud Tasks "
                "signs its OIDC tokens as.",
            )
        return cloud


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    secret_key: str | None = None  # Fernet key; else a 0600 key file under home
    digitalocean_api_url: str = "https://api.digitalocean.com"
    doit_api_url: str = "https://api.doit.com"
    http: HttpSettings = field(default_factory=HttpSettings)
    digitalocean_limits: RateLimits = field(default_factory=RateLimits)
    google_sheets_api_url: str = "https://sheets.googleapis.com"
    google_drive_api_url: str = "https://www.googleapis.com"
    google_oauth_token_uri: str = "https://oauth2.googleapis.com/token"
    # Google's cells-per-spreadsheet limit; old years of Line Items move out at 90 % of it.
    google_sheets_cell_limit: int = 10_000_000
    cloud: CloudSettings = field(default_factory=CloudSettings)
    # PDF extraction: "local" (pdfplumber, free) or "documentai" (needs documentai_processor).
    extractor: str = "local"
    documentai_processor: str = ""  # projects/…/locations/…/processors/…[/processorVersions/…]
    documentai_api_url: str = ""  # default: https://<location>-documentai.googleapis.com
    extract_confidence: float = 0.5  # below it a field is flagged in the Review column
    extract_page_cap: int = 1000  # Document AI pages per connection per calendar month
    extract_cost_per_page: float = 0.01  # USD, for the estimate in the budget (Invoice Parser)

    @property
    def inbox_dir(self) -> Path:
        return self.home / "inbox"

    @property
    def workbook_path(self) -> Path:
        return self.home / "ledger.xlsx"

    @property
    def download_dir(self) -> Path:
        """Where documents are downloaded before they are archived (temp files)."""
        return self.home / "tmp"

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @property
    def secrets_path(self) -> Path:
        return self.home / "secrets.json"

    @property
    def key_path(self) -> Path:
        return self.home / "secret.key"

    @classmethod
    def for_home(cls, home: Path | str, **overrides: object) -> Settings:
        """Embedded defaults rooted at `home` (what tests and the demo use)."""
        home = Path(home).resolve()
        base = cls(home=home, database_url=f"sqlite:///{home / 'state.db'}")
        return replace(base, **overrides)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("BILLSYNC_HOME", "./billsync-data")).resolve()
        settings = cls.for_home(home)
        http = HttpSettings(
            timeout=_float(env, "BILLSYNC_HTTP_TIMEOUT", settings.http.timeout),
            max_attempts=_int(env, "BILLSYNC_HTTP_MAX_ATTEMPTS", settings.http.max_attempts),
            concurrency=_int(env, "BILLSYNC_CONCURRENCY", settings.http.concurrency),
        )
        return replace(
            settings,
            database_url=env.get("DATABASE_URL") or settings.database_url,
            secret_key=env.get("BILLSYNC_SECRET_KEY") or None,
            digitalocean_api_url=env.get("DIGITALOCEAN_API_URL", settings.digitalocean_api_url),
            doit_api_url=env.get("DOIT_API_URL", settings.doit_api_url),
            http=http,
            google_sheets_api_url=env.get("GOOGLE_SHEETS_API_URL", settings.google_sheets_api_url),
            google_drive_api_url=env.get("GOOGLE_DRIVE_API_URL", settings.google_drive_api_url),
            google_oauth_token_uri=env.get(
                "GOOGLE_OAUTH_TOKEN_URI", settings.google_oauth_token_uri
            ),
            google_sheets_cell_limit=_int(
                env, "BILLSYNC_SHEETS_CELL_LIMIT", settings.google_sheets_cell_limit
            ),
            cloud=CloudSettings.from_env(env),
            extractor=env.get("BILLSYNC_EXTRACTOR") or settings.extractor,
            documentai_processor=env.get("DOCUMENTAI_PROCESSOR", ""),
            documentai_api_url=env.get("DOCUMENTAI_API_URL", ""),
            extract_confidence=_float(
                env, "BILLSYNC_EXTRACT_CONFIDENCE", settings.extract_confidence
            ),
            extract_page_cap=_int(env, "BILLSYNC_EXTRACT_PAGE_CAP", settings.extract_page_cap),
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}.")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}.") from None


# A download in progress writes its temp file every chunk and waits at most minutes between
# retries, and the archive reads it right after: a file untouched this long was left behind.
STALE_DOWNLOAD_AGE = 3600.0  # seconds


def prepare_home(settings: Settings) -> None:
    """Create the data folder and check it can be written (ConfigError, one line saying what
    to do, otherwise); remove download temp files killed syncs left there."""
    home = settings.home
    try:
        home.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=home).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"The data folder {home} cannot be written ({reason}).",
            action="Point BILLSYNC_HOME (or --home) at a folder you can write, or give "
            "yourself write access to this one.",
        ) from None
    remove_stale_downloads(settings.download_dir)


def remove_stale_downloads(
    folder: Path, *, now: float | None = None, older_than: float = STALE_DOWNLOAD_AGE
) -> int:
    """Delete the download temp files (tmp*.pdf, tmp*.csv) of syncs killed mid-download,
    only those untouched for `older_than` seconds, so another sync's download in progress is
    never pulled from under it; returns how many went."""
    moment = time.time() if now is None else now
    removed = 0
    for pattern in ("tmp*.pdf", "tmp*.csv"):
        for path in folder.glob(pattern):
            with contextlib.suppress(OSError):  # gone already, or not ours to delete
                if path.is_file() and moment - path.stat().st_mtime >= older_than:
                    path.unlink()
                    removed += 1
    return removed
