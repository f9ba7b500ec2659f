"""Removes events stored longer ago than the retention period (documented: 30 days) in the background."""

from __future__ import annotations

import asyncio
import logging

from cellstream.clock import Clock
from cellstream.errors import StoreError
from cellstream.store.protocols import EventStore

DAY_MS = 86_400_000
log = logging.getLogger(__name__)


async def apply_retention(store: EventStore, clock: Clock, days: int) -> int:
    removed = await store.delete_stored_before(clock.now_ms() - days * DAY_MS)
    if removed:
        log.info("retention removed %d events stored more than %d days ago", removed, days)
    return removed


async def run_retention(store: EventStore, clock: Clock, days: int, every_s: float) -> None:
    """Apply retention now and then every `every_s` seconds until cancelled; store errors are logged
    and retried at the next interval rather than ending the task."""
    while True:
        try:
            await apply_retention(store, clock, days)
        except StoreError as exc:
            log.warning("retention failed, will retry: %s", exc)
        await asyncio.sleep(every_s)
