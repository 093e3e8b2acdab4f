"""The one retry policy of every outbound call (ARCHITECTURE §6), on tenacity.

Bounded twice — attempts and the sum of all waits — and honest: a server's Retry-After is
waited as given (capped), otherwise a jittered doubling wait that never drops below half its
cap, so waits still grow. A quota error (a 429: the quota refills per window, Google documents
a minute for Sheets and Drive) is retried past the attempt bound until `patience` seconds were
waited, each wait at least its doubling, so one short Retry-After cannot end the call before
the quota refills. Which failures are worth another attempt stays with each client.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import tenacity

Sleep = Callable[[float], None]
Clock = Callable[[], float]


def retry_after_hint(exc: BaseException | None) -> float | None:
    """The server's Retry-After, as our retriable errors carry it (`retry_after`), else None."""
    hinted = getattr(exc, "retry_after", None)
    return None if hinted is None else float(hinted)


def never(exc: BaseException | None) -> bool:
    return False


def parse_retry_after(raw: str | None, now: Clock = time.time) -> float | None:
    """Seconds to wait from a Retry-After header, else None (absent or unreadable).

    Both forms of RFC 9110 §10.2.3: delta-seconds (fractions accepted) and an HTTP-date
    (IMF-fixdate, or the obsolete RFC 850 / asctime forms, read by `email.utils`), the latter
    counted from `now()` (unix seconds) and never negative: a date already past means 0.
    """
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # asctime carries no zone; HTTP dates are always GMT
            when = when.replace(tzinfo=UTC)
        value = max(0.0, when.timestamp() - now())
    return value if value >= 0 and math.isfinite(value) else None


@dataclass(frozen=True)
class Backoff:
    max_attempts: int  # including the first
    max_delay: float  # cap on one wait, hinted or not
    max_total_delay: float = math.inf  # cap on all waits of one call
    initial: float = 1.0  # the first unhinted wait's cap; doubles each attempt
    ceiling: float | None = None  # cap of the doubling (default: max_delay)
    hint: Callable[[BaseException | None], float | None] = retry_after_hint
    quota: Callable[[BaseException | None], bool] = never  # is this failure a quota error?
    patience: float = 0.0  # seconds: quota errors are retried until this much was waited
    rng: random.Random = field(default_factory=random.Random)

    def retrying(self, retry: Any, sleep: Sleep) -> tenacity.Retrying:
        return tenacity.Retrying(
            retry=retry, stop=self._stop, wait=self._wait, sleep=sleep, reraise=True
        )

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        # tenacity computes the wait first (upcoming_sleep), so the bound judges the real wait.
        if state.idle_for + state.upcoming_sleep > self.max_total_delay:
            return True
        if state.attempt_number < self.max_attempts:
            return False
        return not (self.quota(_failure(state)) and state.idle_for < self.patience)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        failure = _failure(state)
        hinted = self.hint(failure)
        cap = min(
            self.initial * 2.0 ** min(state.attempt_number - 1, 60), self.ceiling or self.max_delay
        )
        doubling = cap / 2 + self.rng.random() * cap / 2
        if hinted is None:
            return doubling
        if self.quota(failure):  # a hint shorter than the doubling would spend the patience
            return min(max(hinted, doubling), self.max_delay)
        return min(hinted, self.max_delay)


def _failure(state: tenacity.RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome else None
