"""Event ids the platform generates: unique, increasing in the order events are stored, below 2^53.

An id is the store time in milliseconds times 1000 plus a counter, so ids sort like time and a reader can
tell roughly when an event was stored from its id (2026 gives 16-digit ids, like emnify's). The store calls
`next_ids` under its write lock and persists the last id, so ids keep increasing across restarts even if
the clock steps back.
"""

from __future__ import annotations

from cellstream.clock import Clock
from cellstream.events.model import MAX_EVENT_ID


class EventIdGenerator:
    def __init__(self, clock: Clock, last: int = 0) -> None:
        self._clock = clock
        self.last = last

    def next_ids(self, count: int) -> list[int]:
        first = max(self._clock.now_ms() * 1000, self.last + 1)
        if first + count - 1 > MAX_EVENT_ID:
            raise OverflowError("event ids would pass 2^53")
        self.last = first + count - 1
        return list(range(first, first + count))
