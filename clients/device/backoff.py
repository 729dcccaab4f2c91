"""When to try a request again, and how long to wait first.

Exponential backoff with full jitter: the wait before retry n is uniform in
[0, min(cap, base * 2**n)], so a station's phones coming back into coverage together do
not hammer the server in lockstep. The random source and the sleep are injected, so
tests and simulations neither sleep nor lose reproducibility.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import httpx

# Worth retrying: the request may never have arrived, or the server could not serve it
# just now. Everything else in 4xx is an answer that a retry would only repeat.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_seconds: float = 0.5
    cap_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    def delay(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2**retry)
        wait = rng.uniform(0, ceiling)
        if retry_after is not None:
            # The server knows better when it can take us again; still never past the cap.
            wait = max(wait, min(retry_after, self.cap_seconds))
        return wait


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; the jittered backoff is good enough


Sleep = Callable[[float], None]
