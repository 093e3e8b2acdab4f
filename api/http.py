"""Shared outbound HTTP plumbing: bounded jittered retries, rate-limit pacing, call logging.

Providers compose an `ApiClient`; their own module supplies the base URL, the auth header
and one function that turns an error response into a `ProviderError`.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, urlsplit

import httpx
import tenacity

from api import logs
from api.errors import MalformedResponse, ProviderError, RateLimited, RetriableError
from api.retry import Backoff, Clock, Sleep, parse_retry_after
from api.settings import HttpSettings, RateLimits

log = logs.get("http")

ErrorFor = Callable[[httpx.Response], ProviderError]

RETRIABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


class SlidingWindowLimiter:
    """Client-side pacing: at most `limit` requests in any `window` seconds, per window.

    DigitalOcean counts each request for a full window from when it arrives (a sliding log,
    not a fixed bucket), so we keep the same log and wait for the oldest entry to expire.
    A request holds its slot from the moment it is sent (`acquire`), but its entry is dated
    when its answer arrives (`settle`): DigitalOcean has counted it by then, so our window
    never starts before theirs, however long the request travelled or queued. Dating it at
    sending would need a guessed allowance for that delay, which a time-compressed benchmark
    makes far too small and real time far too large.
    """

    def __init__(
        self,
        limits: RateLimits,
        *,
        margin: float = 0.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        """Each window is paced `margin` (a fraction) longer than stated."""
        stated = [(limits.per_minute, limits.minute), (limits.per_hour, limits.hour)]
        self._windows = [(limit, window * (1 + margin)) for limit, window in stated]
        # Sorted: every entry is a reading of the monotonic clock no later than the last one.
        self._logs: list[list[float]] = [[] for _ in self._windows]
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self.waited = 0.0

    def acquire(self) -> float:
        """Wait for a slot in every window and hold it; returns the reservation for `settle`."""
        while True:
            with self._lock:
                now = self._clock()
                delay = max(0.0, self._paused_until - now)
                for (limit, window), entries in zip(self._windows, self._logs, strict=True):
                    del entries[: bisect.bisect_right(entries, now - window)]
                    if len(entries) >= limit:
                        delay = max(delay, entries[len(entries) - limit] + window - now)
                if delay <= 0:
                    for entries in self._logs:
                        entries.append(now)
                    return now
            self.waited += delay
            self._sleep(delay)

    def settle(self, reservation: float) -> None:
        """The answer (or the failure) came back: date the request's entry now."""
        with self._lock:
            now = self._clock()
            for entries in self._logs:
                index = bisect.bisect_left(entries, reservation)
                if index < len(entries) and entries[index] == reservation:
                    del entries[index]
                entries.append(now)  # expired already (a very slow answer): counted again

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` (a Retry-After, or a server saying we are at zero)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)


@dataclass(frozen=True)
class RateHeaders:
    limit: int | None
    remaining: int | None
    reset: float | None  # unix epoch seconds

    @classmethod
    def parse(cls, headers: httpx.Headers) -> RateHeaders:
        # httpx.Headers is case-insensitive: 'RateLimit-Reset' and 'ratelimit-reset' both match.
        return cls(
            _number(headers.get("ratelimit-limit"), int),
            _number(headers.get("ratelimit-remaining"), int),
            _number(headers.get("ratelimit-reset"), float),
        )


def retry_after(headers: httpx.Headers, now: Clock = time.time) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date after `now()`), else None."""
    return parse_retry_after(headers.get("retry-after"), now)


def _number(raw: str | None, kind: type) -> Any:
    if raw is None:
        return None
    try:
        value = kind(raw.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


class ApiClient:
    """An httpx client with the retry, pacing and logging rules of ARCHITECTURE.md §6."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        error_for: ErrorFor,
        secret: str = "",
        display_name: str = "",
        http: HttpSettings,
        limiter: SlidingWindowLimiter | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float | None = None,
        sleep: Sleep = time.sleep,
        wall_clock: Clock = time.time,
        transport: httpx.BaseTransport | None = None,
        low_watermark: int = 10,
    ) -> None:
        self.provider = provider  # the id errors carry
        self.display_name = display_name or provider  # how messages name it
        self.calls = 0
        self._error_for = error_for
        self._secret = secret  # the credential in `headers`: no error text may carry it back
        self._http = http
        self._limiter = limiter
        self._sleep = sleep
        self._wall = wall_clock
        self._backoff = Backoff(
            max_attempts=http.max_attempts,
            max_delay=http.max_retry_delay,
            max_total_delay=http.max_total_delay,
            initial=backoff_initial,
            ceiling=backoff_max,
            quota=lambda exc: isinstance(exc, RateLimited),
            patience=http.quota_window,
        )
        self._low_watermark = low_watermark
        self._calls_lock = threading.Lock()
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=dict(headers),
            timeout=httpx.Timeout(http.timeout),
            transport=transport,
            follow_redirects=True,
            # One kept-alive connection per worker (and two spare): a pool smaller than the
            # workers makes them queue, a larger one only costs httpcore more bookkeeping.
            limits=httpx.Limits(
                max_connections=http.concurrency + 2,
                max_keepalive_connections=http.concurrency + 2,
            ),
        )

    def close(self) -> None:
        self._client.close()

    def get_json(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        parse_float: Callable[[str], Any] | None = None,
    ) -> Any:
        """GET a JSON document, retried; a body that is not JSON is a MalformedResponse.

        `parse_float=Decimal` reads JSON numbers exactly (no binary float noise in money).
        """

        def once() -> Any:
            with self._send("GET", url, params) as response:
                response.read()
            try:
                if parse_float is not None:
                    return response.json(parse_float=parse_float)
                return response.json()
            except ValueError:
                # The request's URL, not `url`: that may be a path relative to the base URL.
                where = redact(str(response.request.url))
                raise MalformedResponse(
                    f"{self.display_name} answered {where} with a body that is not JSON.",
                    provider=self.provider,
                    status=response.status_code,
                    action="This is usually temporary; run the sync again.",
                ) from None

        return self._retrying(once)

    def download(self, url: str, out: BinaryIO, params: Mapping[str, Any] | None = None) -> int:
        """Stream a binary body into `out` (rewound on each retry); returns bytes written."""

        def once() -> int:
            out.seek(0)
            out.truncate()
            written = 0
            with self._send("GET", url, params) as response:
                for chunk in response.iter_bytes(64 * 1024):
                    out.write(chunk)
                    written += len(chunk)
            return written

        return self._retrying(once)

    # -- internals ---------------------------------------------------------------------------

    def _retrying(self, once: Callable[[], Any]) -> Any:
        retry = tenacity.retry_if_exception_type(RetriableError)
        return self._backoff.retrying(retry, self._sleep)(once)

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None) -> Any:
        reservation = self._limiter.acquire() if self._limiter is not None else None
        started = time.perf_counter()
        request = self._client.build_request(method, url, params=params)
        with self._calls_lock:
            self.calls += 1
        try:
            response = self._client.send(request, stream=True)
        except httpx.TimeoutException:
            self._log(request, None, started)
            raise RetriableError(
                f"{self.display_name} did not answer {redact(str(request.url))} in time.",
                provider=self.provider,
                action="Run the sync again later.",
            ) from None
        except httpx.TransportError as exc:
            self._log(request, None, started)
            raise RetriableError(
                f"Could not reach {self.display_name} at {redact(str(request.url))} "
                f"({type(exc).__name__}).",
                provider=self.provider,
                action="Check the network and the API URL setting, then try again.",
            ) from None
        finally:
            if reservation is not None:
                self._limiter.settle(reservation)  # type: ignore[union-attr]
        self._log(request, response, started)
        self._observe(response)
        if response.status_code >= 400:
            response.read()
            response.close()
            raise self._classify(response)
        return _Closing(response)

    def _observe(self, response: httpx.Response) -> None:
        if self._limiter is None:
            return
        wait = retry_after(response.headers, self._wall) if response.status_code == 429 else None
        rate = RateHeaders.parse(response.headers)
        if wait is None and rate.remaining is not None and rate.reset is not None:
            until_reset = max(0.0, rate.reset - self._wall())
            if rate.remaining == 0:
                wait = until_reset
            elif rate.remaining < self._low_watermark:
                wait = until_reset / (rate.remaining + 1)  # spread what is left until reset
        if wait:
            self._limiter.pause(min(wait, self._http.max_retry_delay))

    def _classify(self, response: httpx.Response) -> ProviderError:
        error = without_secret(self._error_for(response), self._secret)
        if response.status_code in RETRIABLE_STATUS and not isinstance(error, RetriableError):
            error = (RateLimited if response.status_code == 429 else RetriableError)(
                error.message, provider=self.provider, status=response.status_code,
                request_id=error.request_id, action=error.action,
            )  # fmt: skip
        if response.status_code == 429:
            error.retry_after = retry_after(response.headers, self._wall)  # type: ignore[attr-defined]
        return error

    def _log(self, request: httpx.Request, response: httpx.Response | None, started: float) -> None:
        if not log.isEnabledFor(logging.DEBUG):  # redacting the URL twice per call adds up
            return
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        status = response.status_code if response is not None else "no answer"
        url = redact(str(request.url), names=True)
        log.debug(
            "%s %s -> %s in %d ms", request.method, url, status, elapsed_ms,
            extra={"fields": {"httpRequest": {
                "requestMethod": request.method, "requestUrl": url,
                "status": response.status_code if response is not None else 0,
                "latency": f"{elapsed_ms / 1000:.3f}s"}}},
        )  # fmt: skip


MIN_SECRET = 8  # shorter strings are not searched for in provider text (they would shred it)


def scrub(text: str, secret: str) -> str:
    """`text` with `secret` replaced by "[redacted]" (a secret shorter than MIN_SECRET is left
    alone: replacing it would shred ordinary text)."""
    return text.replace(secret, "[redacted]") if len(secret) >= MIN_SECRET else text


def without_secret(error: ProviderError, secret: str) -> ProviderError:
    """`error`, or a copy of it whose message and action have `secret` replaced by
    "[redacted]": a last check that a provider's error body never carries the caller's token
    back into a message. Secrets shorter than 8 characters are left alone (replacing them would
    shred ordinary text)."""
    action = error.action or ""
    message = scrub(error.message, secret)
    if message == error.message and scrub(action, secret) == action:
        return error
    clean = type(error)(
        message, provider=error.provider, status=error.status,
        action=scrub(action, secret) or None,
    )  # fmt: skip
    clean.request_id = error.request_id
    return clean


class _Closing:
    """Context manager that closes a streamed response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    def __enter__(self) -> httpx.Response:
        return self.response

    def __exit__(self, *exc: object) -> None:
        self.response.close()


def redact(url: str, *, names: bool = False) -> str:
    """The URL as messages and logs show it: scheme, host, port and path, never credentials,
    a fragment or a query value (ids, dates, filters, page cursors can all sit there).

    Messages show no query at all; `names=True` (log lines) keeps the parameter names, each
    value replaced by '…', so a log still tells one page request from another kind of call.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    shown = f"{parts.scheme}://{host}{parts.path}"
    if not names or not parts.query:
        return shown
    return shown + "?" + "&".join(f"{name}=…" for name, _ in parse_qsl(parts.query, True))
