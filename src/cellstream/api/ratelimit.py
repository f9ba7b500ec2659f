"""emnify's documented limit on `POST /api/v1/authenticate`: 100 requests per IP in 5 minutes.

A sliding window per client address, in process memory: each worker counts on its own, which is enough to
slow password guessing (the account lockout does the rest). Switched off with CELLSTREAM_RATE_LIMITS=off.
"""

from __future__ import annotations

from collections import deque

from cellstream.clock import Clock
from cellstream.errors import CellstreamError


class RateLimited(CellstreamError):
    status = 429
    token = "TooManyRequests"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SlidingWindowLimiter:
    def __init__(self, clock: Clock, limit: int = 100, window_ms: int = 300_000,
                 max_clients: int = 100_000) -> None:
        self._clock = clock
        self._limit = limit
        self._window_ms = window_ms
        self._max_clients = max_clients
        self._hits: dict[str, deque[int]] = {}

    def check(self, client: str) -> None:
        """Count one request from `client`; raises RateLimited when it is over the limit."""
        now = self._clock.now_ms()
        hits = self._hits.get(client)
        if hits is None:
            if len(self._hits) >= self._max_clients:
                self._forget_idle(now)
            hits = self._hits[client] = deque()
        while hits and hits[0] <= now - self._window_ms:
            hits.popleft()
        if len(hits) >= self._limit:
            retry_after = max(1, (hits[0] + self._window_ms - now + 999) // 1000)
            raise RateLimited(f"at most {self._limit} requests per {self._window_ms // 60_000} minutes "
                              f"from one address", retry_after)
        hits.append(now)

    def _forget_idle(self, now: int) -> None:
        idle = [k for k, v in self._hits.items() if not v or v[-1] <= now - self._window_ms]
        for key in idle:
            del self._hits[key]
        if len(self._hits) >= self._max_clients:  # a flood of distinct addresses: start afresh
            self._hits.clear()
