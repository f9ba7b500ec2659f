"""The Data Streamer's figures, each next to a bare aiohttp client doing the same against the same receiver
(bench/receiver.py, its own process) in the same run.

- stream_webhook_batched_events_per_s: a paused webhook stream (`size` 100) with a backlog of BACKLOG stored
  events is resumed; events acknowledged per second until the cursor reaches the end. Baseline: the same
  batches (the stored JSON, pre-spliced) posted by a bare aiohttp client with 8 requests in flight.
- stream_webhook_single_events_per_s: the same with `size` 1 (in order, one request in flight). Baseline:
  a sequential bare aiohttp client posting the same objects.
- stream_latency_p50_ms / p99_ms: events ingested at 1,000/s (10 every 10 ms) into a running stream
  (`size` 100); stored → arrived at the receiver. Baseline: a minimal pipeline in the same process (plain
  sqlite3 INSERT + COMMIT in WAL mode, an asyncio.Queue, an aiohttp POST of what is queued).
- stream_fanout_100_events_per_s: 100 webhook streams (`size` 100) on one organisation resumed over a
  backlog of FANOUT_BACKLOG events; deliveries per second summed over the streams. Baseline: the batched
  baseline's figure (one client, 8 in flight).

Everything runs on the embedded default (SQLite in a temporary directory, in-process workers).
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.figures import Figure
from bench.server import free_port
from cellstream.domain.principal import Principal
from cellstream.events.codec import decode_event
from cellstream.runtime import open_services
from cellstream.services import Services
from cellstream.settings import Settings
from cellstream.streamer.model import PAUSED, RUNNING

BACKLOG = 200_000
SINGLE_BACKLOG = 20_000
FANOUT_BACKLOG = 5_000
FANOUT_STREAMS = 100
LATENCY_SECONDS = 10
ORG = 1
ADMIN = Principal(ORG, None, 1)


class ReceiverProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc = subprocess.Popen([sys.executable, "-m", "bench.receiver", str(self.port)])

    async def ready(self, session: aiohttp.ClientSession) -> None:
        for _ in range(200):
            try:
                await self.reset(session)
                return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        raise RuntimeError("the receiver did not start")

    async def reset(self, session: aiohttp.ClientSession, track: bool = False) -> None:
        async with session.post(f"{self.url}/reset", params={"track": "1" if track else "0"}):
            pass

    async def records(self, session: aiohttp.ClientSession) -> int:
        async with session.get(f"{self.url}/stats") as response:
            return int((await response.json())["records"])

    async def arrivals(self, session: aiohttp.ClientSession) -> list[tuple[int, float]]:
        async with session.get(f"{self.url}/arrivals") as response:
            return [(int(i), float(t)) for i, t in await response.json()]

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(10)


def _doc(n: int) -> dict[str, Any]:
    return {"timestamp": "2026-11-27T10:00:00.000Z", "event_type": {"id": 1 + n % 5},
            "organisation": {"id": ORG, "name": "Bench Org"}, "description": f"bench event {n}",
            "endpoint": {"id": 1000 + n % 500, "name": f"device {n % 500}"},
            "imsi": {"id": n, "imsi": "2" * 15}}


async def _ingest(services: Services, count: int) -> None:
    for start in range(0, count, 10_000):
        docs = range(start, min(count, start + 10_000))
        await services.ingestor.ingest([decode_event(_doc(n)) for n in docs])


def _hook(url: str, size: int, name: str = "bench") -> dict[str, Any]:
    return {"name": name, "data_stream_type": {"id": 2}, "destination": {
        "connection_type": "RestAPI", "credentials": {"url": f"{url}/hook", "size": size}}}


async def _deliver_backlog(services: Services, receiver: ReceiverProcess, session: aiohttp.ClientSession,
                           size: int, backlog: int, streams: int = 1) -> float:
    """Create `streams` paused streams, store `backlog` events, resume them all; deliveries per second."""
    created = [await services.streams.create(ADMIN, _hook(receiver.url, size, f"s{n}"))
               for n in range(streams)]
    for stream in created:
        await services.streams.patch(ADMIN, stream.stream_id, {"status": {"id": PAUSED}})
    await _ingest(services, backlog)
    await receiver.reset(session)
    started = time.perf_counter()
    for stream in created:
        await services.streams.patch(ADMIN, stream.stream_id, {"status": {"id": RUNNING}})
    while await receiver.records(session) < backlog * streams:  # noqa: ASYNC110 - another process counts
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    for stream in created:
        await services.streams.delete(ADMIN, stream.stream_id)
    return backlog * streams / elapsed


async def _bare_batched(url: str, bodies: list[bytes], in_flight: int = 8) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Content-Type": "application/json"}

    async def sender(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            async with session.post(f"{url}/hook", data=body, headers=headers) as response:
                assert response.status == 204

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(sender(session) for _ in range(in_flight)))
        return time.perf_counter() - started


async def _stored_bodies(services: Services, count: int) -> list[bytes]:
    rows = await services.events.read_after(0, count, org_id=ORG)
    return [r.body for r in rows]


async def _latency(services: Services, receiver: ReceiverProcess,
                   session: aiohttp.ClientSession) -> list[float]:
    stream = await services.streams.create(ADMIN, _hook(receiver.url, 100, "latency"))
    await asyncio.sleep(0.5)
    await receiver.reset(session, track=True)
    first = (await services.events.last_position())
    n = 10_000_000
    deadline = time.perf_counter() + LATENCY_SECONDS
    tick = time.perf_counter()
    while time.perf_counter() < deadline:
        await services.ingestor.ingest([decode_event(_doc(n + i)) for i in range(10)])
        n += 10
        tick += 0.01
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
    await asyncio.sleep(1.0)
    stored = {r.event.id: r.stored_ms for r in await services.events.read_after(first, 10**6, org_id=ORG)}
    arrivals = await receiver.arrivals(session)
    await services.streams.delete(ADMIN, stream.stream_id)
    return sorted(t - stored[i] for i, t in arrivals if i in stored)


async def _baseline_latency(directory: Path, url: str) -> list[float]:
    """ingest → commit → queue → aiohttp POST, the least a stream can do, at the same rate."""
    conn = sqlite3.connect(directory / "baseline.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE events (position INTEGER PRIMARY KEY, stored_ms INTEGER, body BLOB)")
    queue: asyncio.Queue[list[tuple[float, bytes]]] = asyncio.Queue()
    latencies: list[float] = []

    async def sender(session: aiohttp.ClientSession) -> None:
        while True:
            batch = await queue.get()
            while not queue.empty() and len(batch) < 100:
                batch.extend(queue.get_nowait())
            body = b"[" + b",".join(b for _, b in batch) + b"]"
            async with session.post(f"{url}/hook", data=body,
                                    headers={"Content-Type": "application/json"}) as response:
                assert response.status == 204
            now = time.time() * 1000
            latencies.extend(now - stored for stored, _ in batch)

    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(sender(session))
        deadline = time.perf_counter() + LATENCY_SECONDS
        tick, n = time.perf_counter(), 0
        while time.perf_counter() < deadline:
            stored = time.time() * 1000
            rows = [(stored, b'{"id":%d}' % (n + i)) for i in range(10)]
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO events (stored_ms, body) VALUES (?, ?)", rows)
            conn.execute("COMMIT")
            queue.put_nowait(rows)
            n += 10
            tick += 0.01
            await asyncio.sleep(max(0.0, tick - time.perf_counter()))
        await asyncio.sleep(1.0)
        task.cancel()
    conn.close()
    return sorted(latencies)


def _pct(ordered: list[float], pct: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


async def _run() -> list[Figure]:
    receiver = ReceiverProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="cellstream-bench-stream-") as tmp:
            settings = Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db",
                                allow_private_destinations=True, jwt_secret="bench-" + "k" * 40)
            services = await open_services(settings)
            try:
                await services.auth.ensure_organisation(ORG, "Bench Org")
                async with aiohttp.ClientSession() as session:
                    await receiver.ready(session)
                    batched = await _deliver_backlog(services, receiver, session, 100, BACKLOG)
                    bodies = await _stored_bodies(services, BACKLOG)
                    chunks = [b"[" + b",".join(bodies[i:i + 100]) + b"]" for i in range(0, len(bodies), 100)]
                    await receiver.reset(session)
                    bare_batched = len(bodies) / await _bare_batched(receiver.url, chunks)
                    single = await _deliver_backlog(services, receiver, session, 1, SINGLE_BACKLOG)
                    await receiver.reset(session)
                    singles = bodies[:SINGLE_BACKLOG]
                    bare_single = SINGLE_BACKLOG / await _bare_batched(receiver.url, singles, 1)
                    latencies = await _latency(services, receiver, session)
                    baseline_latencies = await _baseline_latency(Path(tmp), receiver.url)
                    fanout = await _deliver_backlog(services, receiver, session, 100, FANOUT_BACKLOG,
                                                    streams=FANOUT_STREAMS)
            finally:
                await services.close()
    finally:
        receiver.stop()
    print(f"  latency samples {len(latencies):,}; baseline {len(baseline_latencies):,}; "
          f"mean {statistics.fmean(latencies):.1f} ms", flush=True)
    return [
        Figure("stream_webhook_batched_events_per_s", batched, "events/s", bare_batched, goal=100_000,
               min_ratio=0.12),
        Figure("stream_webhook_single_events_per_s", single, "events/s", bare_single, goal=2_000,
               min_ratio=0.4),
        Figure("stream_latency_p50_ms", _pct(latencies, 50), "ms", _pct(baseline_latencies, 50),
               better="lower", goal=10),
        Figure("stream_latency_p99_ms", _pct(latencies, 99), "ms", _pct(baseline_latencies, 99),
               better="lower", goal=100),
        Figure("stream_fanout_100_events_per_s", fanout, "events/s", bare_batched, goal=20_000),
    ]


def run() -> list[Figure]:
    return asyncio.run(_run())
