"""Runs Policy Control's periodic work (quota expiry, daily refills: cellstream.policy.expiry.sweep) in the
background, one transaction per sweep; subscribers are woken for the events it stored."""

from __future__ import annotations

import asyncio
import logging

from cellstream.clock import Clock
from cellstream.errors import StoreError
from cellstream.ingest.notifier import Notifier
from cellstream.policy.expiry import sweep
from cellstream.store.resources import ResourceStore

log = logging.getLogger(__name__)


async def sweep_once(resources: ResourceStore, notifier: Notifier, clock: Clock) -> int:
    committed = await resources.transact(lambda tx: sweep(tx, clock.now_ms()))
    if committed.appended.stored:
        await notifier.committed(committed.appended.stored)
    return committed.value


async def run_sweeps(resources: ResourceStore, notifier: Notifier, clock: Clock, every_s: float) -> None:
    """Sweep now and then every `every_s` seconds until cancelled; store errors are logged and retried."""
    while True:
        try:
            changed = await sweep_once(resources, notifier, clock)
            if changed:
                log.info("policy sweep changed %d quotas", changed)
        except StoreError as exc:
            log.warning("policy sweep failed, will retry: %s", exc)
        await asyncio.sleep(every_s)
