"""Automation figures, on the embedded default (SQLite, in-process engine), against the receiver process of
bench/receiver.py.

- automation_trigger_p50_ms / p99_ms: an automation on "Update location" (1) whose action calls back to the
  receiver; events ingested at 200/s (2 every 10 ms, each for another device so the rate guard stays out
  of the way) for LATENCY_SECONDS; stored → callback received. Baseline: the minimal ingest → commit →
  queue → aiohttp POST pipeline of bench/streamer.py at the same rate.
- automation_storm_ingest_p50_ms: a storm of STORM matching events in STORM_SECONDS (10 every 60 ms) for
  20 devices while the automation is active — its rate guard lets 60 an hour through per device (1,200
  callbacks), the rest are counted and dropped; the median time one `Ingestor.ingest` of 10 events takes.
  Baseline: the same storm with no automation. The target ratio 0.9 is "ingestion slowed by at most 10%".
- automation_storm_burst_events_per_s: the same STORM events ingested as fast as they go (batches of 100)
  with the automation active, against the same without it: what the engine costs when the machine is
  saturated (recorded, no target).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.figures import Figure
from bench.streamer import LATENCY_SECONDS, ReceiverProcess, _baseline_latency, _pct
from cellstream.automations.actions.callback import ACTION_ID as CALLBACK
from cellstream.domain.principal import Principal
from cellstream.events.codec import decode_event
from cellstream.runtime import open_services
from cellstream.services import Services
from cellstream.settings import Settings

ORG = 1
ADMIN = Principal(ORG, None, 1)
STORM = 10_000
STORM_SECONDS = 60.0


def _doc(n: int, device: int) -> dict[str, Any]:
    return {"timestamp": "2026-11-27T10:00:00.000Z", "event_type": {"id": 1},
            "organisation": {"id": ORG, "name": "Bench Org"}, "description": f"bench event {n}",
            "endpoint": {"id": device, "name": f"device {device}"}}


async def _automation(services: Services, url: str) -> str:
    created = await services.automations.create(ADMIN, {
        "name": "bench", "status": "ACTIVE", "actionable_event": {"system_event": {"id": "1"}},
        "configured_actions": [{"action": {"id": CALLBACK}, "properties": [{"property": "url",
                                                                            "value": f"{url}/hook"}]}]})
    return created.uuid


async def _latencies(services: Services, receiver: ReceiverProcess,
                     session: aiohttp.ClientSession) -> list[float]:
    uuid = await _automation(services, receiver.url)
    await receiver.reset(session, track=True)
    first = await services.events.last_position()
    n, tick = 0, time.perf_counter()
    deadline = tick + LATENCY_SECONDS
    while time.perf_counter() < deadline:
        await services.ingestor.ingest([decode_event(_doc(n + i, 10_000 + n + i)) for i in range(2)])
        n += 2
        tick += 0.01
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
    await asyncio.sleep(1.5)
    stored = {r.event.id: r.stored_ms for r in await services.events.read_after(first, 10**6, org_id=ORG)}
    arrivals = await receiver.arrivals(session)
    await services.automations.delete(ADMIN, uuid)
    return sorted(t - stored[i] for i, t in arrivals if i in stored)


async def _paced_storm(services: Services, first: int) -> list[float]:
    """STORM events at the storm's pace; the duration of every ingest call, in ms."""
    durations: list[float] = []
    batches = STORM // 10
    interval = STORM_SECONDS / batches
    tick = time.perf_counter()
    for b in range(batches):
        docs = [_doc(first + b * 10 + i, (b * 10 + i) % 20) for i in range(10)]
        started = time.perf_counter()
        await services.ingestor.ingest([decode_event(d) for d in docs])
        durations.append((time.perf_counter() - started) * 1000)
        tick += interval
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
    return sorted(durations)


async def _storm(services: Services) -> float:
    started = time.perf_counter()
    for start in range(0, STORM, 100):
        await services.ingestor.ingest([decode_event(_doc(n, n % 20)) for n in range(start, start + 100)])
    return STORM / (time.perf_counter() - started)


async def _run() -> list[Figure]:
    receiver = ReceiverProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="cellstream-bench-automation-") as tmp:
            settings = Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db",
                                allow_private_destinations=True, jwt_secret="bench-" + "k" * 40)
            services = await open_services(settings)
            try:
                await services.auth.ensure_organisation(ORG, "Bench Org")
                await services.automations.engine.start()
                async with aiohttp.ClientSession() as session:
                    await receiver.ready(session)
                    latencies = await _latencies(services, receiver, session)
                    baseline_latencies = await _baseline_latency(Path(tmp), receiver.url)
                    quiet_paced = await _paced_storm(services, 1_000_000)
                    quiet = await _storm(services)
                    uuid = await _automation(services, receiver.url)
                    stormy_paced = await _paced_storm(services, 2_000_000)
                    await asyncio.sleep(1.0)
                    fired = (await services.automations.get(ADMIN, uuid)).number_of_executions
                    await services.automations.delete(ADMIN, uuid)
                    uuid = await _automation(services, receiver.url)
                    stormy = await _storm(services)
            finally:
                await services.close()
    finally:
        receiver.stop()
    print(f"  trigger samples {len(latencies):,} (mean {statistics.fmean(latencies):.1f} ms); storm: "
          f"{fired:,} executions for {STORM:,} matching events", flush=True)
    return [
        Figure("automation_trigger_p50_ms", _pct(latencies, 50), "ms", _pct(baseline_latencies, 50),
               better="lower", goal=50),
        Figure("automation_trigger_p99_ms", _pct(latencies, 99), "ms", _pct(baseline_latencies, 99),
               better="lower", goal=200),
        Figure("automation_storm_ingest_p50_ms", _pct(stormy_paced, 50), "ms", _pct(quiet_paced, 50),
               better="lower", min_ratio=0.9),
        Figure("automation_storm_burst_events_per_s", stormy, "events/s", quiet),
    ]


def run() -> list[Figure]:
    return asyncio.run(_run())
