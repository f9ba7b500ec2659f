"""A small time-bounded cache on the injected clock, for verified bearer tokens.

Verifying a token costs a JWT decode and a store look-up; the Event API is called thousands of times a
second with the same few tokens, so a verified answer is reused for a few seconds. The bound keeps a flood
of distinct tokens from growing it without limit (it is simply emptied: refilling costs one verify each).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from cellstream.clock import Clock

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(self, clock: Clock, ttl_ms: int, max_entries: int = 50_000) -> None:
        self._clock = clock
        self._ttl_ms = ttl_ms
        self._max = max_entries
        self._items: dict[str, tuple[V, int]] = {}

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[1] <= self._clock.now_ms():
            self._items.pop(key, None)
            return None
        return item[0]

    def put(self, key: str, value: V, *, not_after_ms: int | None = None) -> None:
        """Keep `value` for the TTL, but never past `not_after_ms` (e.g. the token's own expiry)."""
        if self._ttl_ms <= 0:
            return
        until = self._clock.now_ms() + self._ttl_ms
        if not_after_ms is not None:
            until = min(until, not_after_ms)
        if len(self._items) >= self._max:
            self._items.clear()
        self._items[key] = (value, until)

    def drop_where(self, predicate: Callable[[V], bool]) -> None:
        for key in [k for k, (v, _) in self._items.items() if predicate(v)]:
            del self._items[key]

    def clear(self) -> None:
        self._items.clear()
