"""Google's token-signing certificates, fetched from a settings URL and cached per Cache-Control.

google-auth's `id_token.verify_token` fetches the certificates on every call; this keeps them
for the `max-age` Google sends (about 6 hours), refetching early when a token names a key id
we have not seen (Google rotated its keys). Source: the `Cache-Control` header of
https://www.googleapis.com/oauth2/v1/certs (PEM form: `{"<kid>": "-----BEGIN CERTIFICATE..."}`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import httpx
from werkzeug.http import parse_cache_control_header

from api.errors import RetriableError

DEFAULT_MAX_AGE = 300.0  # seconds, when the answer says nothing about caching
MIN_REFETCH_GAP = 30.0  # an unknown kid refetches at most this often (no fetch storm)


class CertCache:
    """`get()` -> {kid: PEM certificate}; thread-safe; `fetches` counts network fetches."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._clock = clock
        self._lock = threading.Lock()
        self._certs: Mapping[str, str] = {}
        self._expires = 0.0
        self._fetched = -MIN_REFETCH_GAP
        self.fetches = 0

    def get(self, kid: str | None = None) -> Mapping[str, str]:
        """The current certificates; refetched when expired or when `kid` is unknown."""
        with self._lock:
            now = self._clock()
            stale = now >= self._expires
            unknown = kid is not None and kid not in self._certs
            if stale or (unknown and now - self._fetched >= MIN_REFETCH_GAP):
                self._fetch(now)
            return self._certs

    def _fetch(self, now: float) -> None:
        try:
            response = self._client.get(self.url)
            response.raise_for_status()
            certs = response.json()
        except (httpx.HTTPError, ValueError):
            if self._certs:  # keep verifying with what we have; try again shortly
                self._expires = now + MIN_REFETCH_GAP
                return
            raise RetriableError(
                "Google's token-signing certificates could not be fetched.",
                provider="google",
                action="Try again in a minute.",
            ) from None
        if not isinstance(certs, dict) or not all(isinstance(v, str) for v in certs.values()):
            raise RetriableError(
                "Google's token-signing certificates are not in the expected PEM form.",
                provider="google",
            )
        self.fetches += 1
        self._certs = certs
        self._fetched = now
        self._expires = now + _max_age(response.headers.get("Cache-Control"))

    def close(self) -> None:
        self._client.close()


def _max_age(header: str | None) -> float:
    control = parse_cache_control_header(header)
    if control.no_store or control.no_cache:
        return 0.0
    return float(control.max_age) if control.max_age is not None else DEFAULT_MAX_AGE
