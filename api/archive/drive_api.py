"""Drive v3 plumbing: a client rooted at a configurable URL, bounded retries, errors mapped."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
import tenacity
from googleapiclient import discovery, discovery_cache
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest

from api import logs
from api.errors import BillsyncError, ConfigError, RetriableSinkError, SinkError
from api.google.credentials import REVOKED_MESSAGE, google_auth_error
from api.google.session import google_backoff
from api.http import redact
from api.retry import Clock, Sleep, parse_retry_after

log = logs.get("drive")


# Drive answers quota trouble with 403 + one of these reasons as well as with 429.
_QUOTA_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_RATE_REASONS = _QUOTA_REASONS | {"backendError"}
_RETRIABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_CONNECTION_ERRORS = (OSError, httplib2.HttpLib2Error, http.client.HTTPException)
_STATIC_DOC_LOCK = threading.Lock()
_STATIC_DOC: dict[str, Any] = {}


def drive_document(api_url: str) -> dict[str, Any]:
    """The bundled drive.v3 discovery document, re-rooted at `api_url`.

    `client_options.api_endpoint` is not enough: it drops the service path, and media uploads
    keep the discovery's https scheme (only the host is swapped), so a fake or private endpoint
    would never see them. Re-rooting the document moves both the API and the upload URLs.
    """
    with _STATIC_DOC_LOCK:
        if not _STATIC_DOC:
            _STATIC_DOC.update(json.loads(discovery_cache.get_static_doc("drive", "v3")))
        document = json.loads(json.dumps(_STATIC_DOC))
    root = api_url.rstrip("/") + "/"
    document["rootUrl"] = root
    document["mtlsRootUrl"] = root
    document["baseUrl"] = root + document["servicePath"]
    return document


class DriveApi:
    """One Drive client per thread (httplib2 is not thread-safe), one retry policy for all calls."""

    def __init__(
        self,
        credentials: Any,
        *,
        api_url: str,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
        max_attempts: int = 5,
        timeout: float = 60.0,
    ) -> None:
        """`sleep` and `clock` (unix seconds, for Retry-After dates) are injectable for tests."""
        self._credentials = credentials
        self._document = drive_document(api_url)
        self._sleep = sleep
        self._backoff = google_backoff(
            max_attempts, hint=lambda exc: _retry_after(exc, clock), quota=_quota_error
        )
        self._timeout = timeout
        self._local = threading.local()

    @property
    def files(self) -> Any:
        """This thread's `service.files()` collection."""
        service = getattr(self._local, "service", None)
        if service is None:
            transport = httplib2.Http(timeout=self._timeout)
            # 308 is "resume incomplete" in a resumable upload, not a redirect to follow.
            transport.redirect_codes = transport.redirect_codes - {308}
            authorized = google_auth_httplib2.AuthorizedHttp(self._credentials, http=transport)
            service = discovery.build_from_document(self._document, http=authorized)
            self._local.service = service
        return service.files()

    def call(
        self, make: Callable[[], HttpRequest], what: str, *, allow: Collection[int] = ()
    ) -> Any:
        """Execute a freshly built request with bounded, jittered retries.

        A status in `allow` returns None instead of raising (a 404 that means "absent", a
        409 that means "our earlier attempt already created it").
        """
        retrying = self._backoff.retrying(tenacity.retry_if_exception(_transient), self._sleep)
        try:
            return retrying(lambda: _logged(make()))
        except HttpError as exc:
            if exc.resp.status in allow:
                return None
            raise drive_error(exc, what) from None
        except google.auth.exceptions.GoogleAuthError as exc:
            raise google_auth_error(exc) from None
        except _CONNECTION_ERRORS as exc:
            raise RetriableSinkError(
                f"Google Drive did not answer while {what} ({type(exc).__name__}); "
                "the next run will finish the archive."
            ) from None


def _logged(request: HttpRequest) -> Any:
    """Execute once, logging one line per call (the token is in a header, never logged)."""
    started = time.perf_counter()
    status: int | str = "no answer"
    try:
        answer = request.execute(num_retries=0)
        status = 200
        return answer
    except HttpError as exc:
        status = exc.resp.status
        raise
    finally:
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        url = redact(request.uri, names=True)
        log.debug("%s %s -> %s in %d ms", request.method, url, status, elapsed_ms,
                  extra={"fields": {"httpRequest": {"requestMethod": request.method,
                         "requestUrl": url, "status": status if isinstance(status, int) else 0,
                         "latency": f"{elapsed_ms / 1000:.3f}s"}}})  # fmt: skip


def reason_of(exc: HttpError) -> tuple[str, str]:
    """(first error reason, message) from Google's error body; ('', '') if it has none."""
    try:
        error = json.loads(exc.content.decode("utf-8")).get("error", {})
    except (ValueError, AttributeError, UnicodeDecodeError):
        return "", ""
    if not isinstance(error, dict):
        return "", str(error)[:200]
    details = error.get("errors") or [{}]
    reason = str(details[0].get("reason", "")) if isinstance(details[0], dict) else ""
    return reason or str(error.get("status", "")), str(error.get("message", ""))[:200]


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, HttpError):
        status = exc.resp.status
        return status in _RETRIABLE_STATUS or (status == 403 and reason_of(exc)[0] in _RATE_REASONS)
    return isinstance(exc, _CONNECTION_ERRORS)


def _retry_after(exc: BaseException | None, clock: Clock) -> float | None:
    """Drive's Retry-After (seconds or HTTP-date), read off the HttpError's response."""
    if not isinstance(exc, HttpError):
        return None
    return parse_retry_after(exc.resp.get("retry-after"), clock)


def _quota_error(exc: BaseException | None) -> bool:
    """A 429, or Drive's 403 rate-limit reasons: a per-minute quota, waited out for a minute."""
    if not isinstance(exc, HttpError):
        return False
    status = exc.resp.status
    return status == 429 or (status == 403 and reason_of(exc)[0] in _QUOTA_REASONS)


def drive_error(exc: HttpError, what: str) -> BillsyncError:
    """One table from Drive's answer to our error tree; Google's message holds no secret."""
    status = exc.resp.status
    reason, message = reason_of(exc)
    if status == 403 and reason == "storageQuotaExceeded":
        return SinkError(
            f"Google Drive refused to store a file while {what}: storage quota exceeded. "
            "A service account has no storage of its own and cannot own files in a personal "
            "My Drive (or the Drive owner's storage is full).",
            action="Run `billsync google login` so billsync acts as you, or use a folder in a "
            "Shared Drive.",
        )
    if status == 401:
        return ConfigError(REVOKED_MESSAGE)
    if status in _RETRIABLE_STATUS or (status == 403 and reason in _RATE_REASONS):
        return RetriableSinkError(
            f"Google Drive is busy (HTTP {status} {reason}) while {what}; "
            "the next run will finish the archive."
        )
    if status == 403:
        return SinkError(
            f"Google Drive denied access while {what} ({reason or 'forbidden'}).",
            action="Give the Google account billsync uses edit access to the archive folder.",
        )
    if status == 404:
        return SinkError(
            f"Google Drive found nothing while {what}: not found or not shared.",
            action="Check the folder id and that it is shared with the account billsync uses.",
        )
    return SinkError(f"Google Drive rejected the request while {what} (HTTP {status}): {message}")
