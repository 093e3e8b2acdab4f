"""The one retry policy of every outbound call (ARCHITECTURE §6), on tenacity.

Bounded twice — attempts and the sum of all waits — and honest: a server's Retry-After is
waited as given (capped), otherwise a jittered doubling wait that never drops below half its
cap, so waits still grow. Which failures are worth another attempt stays with each client.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import tenacity

Sleep = Callable[[float], None]


def retry_after_hint(exc: BaseException | None) -> float | None:
    """The server's Retry-After, as our retriable errors carry it (`retry_after`), else None."""
    hinted = getattr(exc, "retry_after", None)
    return None if hinted is None else float(hinted)


def parse_retry_after(raw: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds; fractions accepted), else None."""
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if value >= 0 and math.isfinite(value) else None


@dataclass(frozen=True)
class Backoff:
    max_attempts: int  # including the first
    max_delay: float  # cap on one wait, hinted or not
    max_total_delay: float = math.inf  # cap on all waits of one call
    initial: float = 1.0  # the first unhinted wait's cap; doubles each attempt
    ceiling: float | None = None  # cap of the doubling (default: max_delay)
    hint: Callable[[BaseException | None], float | None] = retry_after_hint
    rng: random.Random = field(default_factory=random.Random)

    def retrying(self, retry: Any, sleep: Sleep) -> tenacity.Retrying:
        return tenacity.Retrying(
            retry=retry, stop=self._stop, wait=self._wait, sleep=sleep, reraise=True
        )

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        # tenacity computes the wait first (upcoming_sleep), so the bound judges the real wait.
        if state.attempt_number >= self.max_attempts:
            return True
        return state.idle_for + state.upcoming_sleep > self.max_total_delay

    def _wait(self, state: tenacity.RetryCallState) -> float:
        hinted = self.hint(state.outcome.exception() if state.outcome else None)
        if hinted is not None:
            return min(hinted, self.max_delay)
        cap = min(self.initial * 2.0 ** (state.attempt_number - 1), self.ceiling or self.max_delay)
        return cap / 2 + self.rng.random() * cap / 2
