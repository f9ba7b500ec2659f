"""Wakes readers after a commit. It carries the committed batch to in-process subscribers (Data
Streamer, automations) and lets any reader wait for the log to pass a position; readers still read
from the store, so a missed wake-up delays but never loses an event."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from cellstream.events.model import StoredEvent
from cellstream.store.resources import StoredUsage

Subscriber = Callable[[Sequence[StoredEvent]], Awaitable[None]]
log = logging.getLogger(__name__)


class Notifier:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._position = 0
        self._generation = 0  # grows with every commit of events or usage records
        self._changed = asyncio.Condition()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber` with every committed batch; returns a function that unsubscribes."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    async def committed(self, batch: Sequence[StoredEvent]) -> None:
        if not batch:
            return
        async with self._changed:
            self._position = max(self._position, batch[-1].position)
            self._generation += 1
            self._changed.notify_all()
        for subscriber in list(self._subscribers):
            try:
                await subscriber(batch)
            except Exception:  # a subscriber's failure must not undo or block the commit
                log.exception("event subscriber %r failed", subscriber)

    async def usage_committed(self, records: Sequence[StoredUsage]) -> None:
        """Usage records were committed (they carry no subscribers: streams read them from the store)."""
        if not records:
            return
        async with self._changed:
            self._generation += 1
            self._changed.notify_all()

    @property
    def generation(self) -> int:
        return self._generation

    async def wait_for_news(self, generation: int, seconds: float) -> int:
        """Wait until anything commits after `generation` was read, or `seconds` pass; the generation."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._generation != generation), seconds)
            return self._generation

    async def wait_beyond(self, position: int, seconds: float) -> int:
        """Wait until a commit passes `position` or `seconds` pass; returns the last known position."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self._position > position), seconds)
            return self._position
