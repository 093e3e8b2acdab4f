"""Google API calls as the user: gspread transport, bounded jittered retries, mapped errors.

gspread's own BackOffHTTPClient retries forever; here every call has a cap on attempts and on
total waiting, honours Retry-After (seconds or HTTP-date), waits out a 429 quota error until a
full quota minute has passed (Google: "quotas are refilled every minute", Sheets API usage
limits; exponential backoff up to 32–64 s per wait), and only retries what is safe: 429
(never applied) always, 5xx / dropped connections / timeouts only for idempotent calls. A
non-idempotent call (an append) raises RetriableSinkError instead, so the caller re-reads and
re-plans (ARCHITECTURE §6).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import google.auth.exceptions
import requests
import tenacity
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from api import logs
from api.errors import BillsyncError, RetriableSinkError, SinkError
from api.google.credentials import google_auth_error
from api.http import redact
from api.retry import Backoff, Clock, Sleep, parse_retry_after, retry_after_hint

log = logs.get("google")

RETRIABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
QUOTA_WINDOW = 60.0  # seconds: Sheets and Drive per-minute quotas refill each minute
QUOTA_MAX_WAIT = 64.0  # one wait, hinted or not (Google's exponential backoff: 32-64 s)
DOUBLING_CEILING = 32.0  # the unhinted doubling stops growing here


@dataclass(frozen=True)
class GoogleError:
    """One Google error body, whatever its dialect (Sheets' status, Drive's errors[].reason)."""

    code: int
    status: str
    message: str
    reason: str

    @classmethod
    def parse(cls, code: int, body: Any) -> GoogleError:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):  # an HTML page from a proxy, or an OAuth-style error
            text = error if isinstance(error, str) else ""
            return cls(code, "", text or f"HTTP {code}", "")
        reasons = [item.get("reason", "") for item in error.get("errors") or [] if item]
        for detail in error.get("details") or []:
            if isinstance(detail, dict) and detail.get("reason"):
                reasons.append(detail["reason"])
        return cls(
            int(error.get("code") or code),
            str(error.get("status") or ""),
            str(error.get("message") or f"HTTP {code}"),
            reasons[0] if reasons else "",
        )


class Retriable(Exception):
    """Internal: a failure worth another attempt; `retry_after` is Google's hint, if any."""

    def __init__(
        self, error: BillsyncError, retry_after: float | None = None, *, quota: bool = False
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after
        self.quota = quota  # a 429: the quota refills within QUOTA_WINDOW


def google_backoff(
    max_attempts: int,
    *,
    hint: Callable[[BaseException | None], float | None] | None = None,
    quota: Callable[[BaseException | None], bool] | None = None,
    max_total_delay: float = 180.0,
    rng: random.Random | None = None,
) -> Backoff:
    """Google's retry policy (Sheets and Drive): quota errors are waited out for a minute."""
    return Backoff(
        max_attempts=max_attempts,
        max_delay=QUOTA_MAX_WAIT,
        max_total_delay=max_total_delay,
        ceiling=DOUBLING_CEILING,
        hint=hint or retry_after_hint,
        quota=quota or (lambda exc: bool(getattr(exc, "quota", False))),
        patience=QUOTA_WINDOW,
        rng=rng or random.Random(),
    )


ErrorFor = Callable[[GoogleError], BillsyncError]


class GoogleHttp:
    """JSON calls to one Google API with the user's credentials."""

    def __init__(
        self,
        credentials: Any,
        *,
        error_for: ErrorFor,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
        max_attempts: int = 5,
        max_total_delay: float = 180.0,
        timeout: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        """`sleep` and `clock` (unix seconds, for Retry-After dates) are injectable for tests."""
        self._client = HTTPClient(credentials)
        self._client.set_timeout(timeout)
        self._error_for = error_for
        self._sleep = sleep
        self._clock = clock
        self._backoff = google_backoff(max_attempts, max_total_delay=max_total_delay, rng=rng)
        self.calls = 0

    def call(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            return self._once(method, url, params, body, idempotent)

        retrying = self._backoff.retrying(tenacity.retry_if_exception_type(Retriable), self._sleep)
        try:
            return retrying(once)
        except Retriable as exc:
            raise exc.error from None

    def _once(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        idempotent: bool,
    ) -> dict[str, Any]:
        self.calls += 1
        started = time.perf_counter()
        try:
            response = self._client.request(
                method, url, params=dict(params) if params else None, json=body
            )
        except APIError as exc:
            self._log(method, url, exc.response.status_code, started)
            raise self._classify(exc.response, idempotent) from None
        except google.auth.exceptions.GoogleAuthError as exc:
            raise google_auth_error(exc) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            self._log(method, url, 0, started)
            error = RetriableSinkError(
                f"Google did not answer ({type(exc).__name__}); the next run will complete it."
            )
            if idempotent:
                raise Retriable(error) from None
            raise error from None
        self._log(method, url, response.status_code, started)
        try:
            return dict(response.json()) if response.content else {}
        except ValueError:
            raise RetriableSinkError("Google answered with a body that is not JSON.") from None

    def _classify(self, response: requests.Response, idempotent: bool) -> Exception:
        try:
            body = response.json()
        except ValueError:
            body = None
        parsed = GoogleError.parse(response.status_code, body)
        error = self._error_for(parsed)
        if response.status_code in RETRIABLE_STATUS:
            if not isinstance(error, RetriableSinkError):
                error = RetriableSinkError(error.message, action=error.action)
            # A 429 was refused before doing anything: safe to repeat even an append.
            if idempotent or response.status_code == 429:
                hinted = parse_retry_after(response.headers.get("Retry-After"), self._clock)
                return Retriable(error, hinted, quota=response.status_code == 429)
        return error

    def _log(self, method: str, url: str, status: int, started: float) -> None:
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        # The URL path holds only the spreadsheet id and ranges; no query values are logged.
        log.debug("%s %s -> %s in %d ms", method.upper(), redact(url, names=True), status or
                  "no answer", elapsed_ms)  # fmt: skip


def sheets_error_for(spreadsheet_id: str, account: str = "your Google account") -> ErrorFor:
    """Status -> action table for the Sheets API (one place, see STYLE.md)."""

    def error_for(error: GoogleError) -> BillsyncError:
        if error.code == 404:
            return SinkError(f"Spreadsheet {spreadsheet_id} not found: check the --sheet id/URL.")
        if error.code == 403 and error.status == "PERMISSION_DENIED":
            return SinkError(
                f"Spreadsheet {spreadsheet_id} is not shared with {account}: "
                "share it or reconnect Google with `billsync google login`."
            )
        if error.code == 400 and "not supported for this document" in error.message:
            return SinkError(
                f"Spreadsheet {spreadsheet_id} is an .xlsx file opened in Drive; use "
                "File > Save as Google Sheets and connect the new sheet."
            )
        if error.code == 400 and "above the limit" in error.message:
            return SinkError(
                f"Spreadsheet {spreadsheet_id} is full: Google refused the write "
                f"({error.message}); nothing of it was applied.",
                action="Delete unused tabs or rows (every cell of every tab counts), or connect "
                "a new spreadsheet with `billsync connect ... --create-sheet`.",
            )
        if error.code == 401:
            return SinkError(
                "Google rejected the access token.",
                action="Reconnect Google: run `billsync google login`.",
            )
        if error.code == 429 or error.code >= 500:
            return RetriableSinkError(
                f"Google Sheets is busy ({error.code} {error.status or error.reason}); "
                "the next run will complete the ledger."
            )
        return SinkError(f"Google Sheets refused the request: {error.message}")

    return error_for
