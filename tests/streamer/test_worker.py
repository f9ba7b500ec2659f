"""The delivery engine on an injected clock: hours of failure run in milliseconds, nothing sleeps for real
except while waiting for a real receiver's answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from cellstream.clock import ManualClock
from cellstream.domain.principal import Principal
from cellstream.runtime import data_streams
from cellstream.services import Services
from cellstream.streamer.model import ERROR, PAUSED, RUNNING, DataStream
from cellstream.streamer.service import DataStreams
from tests.api.conftest import event
from tests.contracts.sink_harnesses.webhook import SECRET, WebhookReceiver

ADMIN = Principal(100, None, 1)
MINUTE = 60_000


class Timeline:
    """An injected sleep that moves the manual clock instead of waiting, noting the stream's status."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.statuses: list[int] = []
        self.streams: DataStreams | None = None

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(int(seconds * 1000))
        if self.streams is not None:
            listed = await self.streams.list(ADMIN)
            self.statuses.extend(s.status_id for s in listed)
        await asyncio.sleep(0)


@asynccontextmanager
async def running(services: Services, timeline: Timeline, *receivers: WebhookReceiver
                  ) -> AsyncIterator[DataStreams]:
    """The delivery engine of organisation 100's streams, sleeping on `timeline`, with `receivers` started;
    the engine and the receivers are stopped afterwards."""
    await services.auth.ensure_organisation(100, "Org 100")
    streams = data_streams(services.settings, services.clock, services.events,
                           services.connectivity.resources, services.notifier, sleep=timeline.sleep)
    timeline.streams = streams
    for receiver in receivers:
        await receiver.start()
    try:
        yield streams
    finally:
        await streams.supervisor.close()
        for receiver in receivers:
            await receiver.stop()


def hook(url: str, size: int = 10) -> dict[str, Any]:
    return {"data_stream_type": {"id": 2}, "destination": {"connection_type": "RestAPI", "credentials": {
        "url": url, "size": size, "signing_secret": SECRET}}}


async def ingest(services: Services, first: int, count: int) -> None:
    from cellstream.events.codec import decode_event

    await services.ingestor.ingest([decode_event(event(n, 100)) for n in range(first, first + count)])


async def until(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_ten_minutes_of_failure_then_recovery_loses_nothing(services: Services,
                                                                  clock: ManualClock) -> None:
    timeline = Timeline(clock)
    receiver = WebhookReceiver()
    start = clock.now_ms()
    real_hook = receiver._hook

    async def failing_for_ten_minutes(request: web.Request) -> web.Response:
        if clock.now_ms() < start + 10 * MINUTE:
            return web.Response(status=503)
        return await real_hook(request)

    receiver._hook = failing_for_ten_minutes  # type: ignore[method-assign]
    async with running(services, timeline, receiver) as streams:
        stream = await streams.create(ADMIN, hook(receiver.url, size=7))
        await ingest(services, 1, 50)
        got = await receiver.wait_for(50, timeout_s=20)
        assert [r["id"] for r in got] == list(range(1, 51))  # in order, nothing lost, no duplicates
        assert ERROR in timeline.statuses  # the failure budget (5 minutes) ran out before recovery
        await until(lambda: _status(streams, stream.stream_id, RUNNING))
        stats = await streams.stats(ADMIN, stream.stream_id)
        assert stats["failed_attempts"] >= 5
        assert stats["last_error"]["status"] == 503
        assert stats["delivered"] == 50
        assert stats["failing_since"] is None
        assert clock.now_ms() - start >= 10 * MINUTE  # it took ten minutes of manual time, not of ours


async def _status(streams: DataStreams, stream_id: str, status: int) -> bool:
    return (await streams.get(ADMIN, stream_id)).status_id == status


async def test_paused_streams_keep_their_backlog_and_drop_what_outlived_retention(
        services: Services, clock: ManualClock) -> None:
    receiver = WebhookReceiver()
    async with running(services, Timeline(clock), receiver) as streams:
        stream = await streams.create(ADMIN, hook(receiver.url))
        await streams.patch(ADMIN, stream.stream_id, {"status": {"id": PAUSED}})
        await ingest(services, 1, 10)
        clock.advance(8 * 24 * 60 * MINUTE)  # older than the 7-day stream retention
        await ingest(services, 11, 5)
        await asyncio.sleep(0.2)
        assert receiver.records == []  # paused: nothing sent
        await streams.patch(ADMIN, stream.stream_id, {"status": {"id": RUNNING}})
        got = await receiver.wait_for(5)
        assert [r["id"] for r in got] == list(range(11, 16))
        stats = await streams.stats(ADMIN, stream.stream_id)
        assert stats["dropped"] == 10
        assert stats["dropped_at"] is not None


async def test_one_stuck_destination_does_not_delay_another(services: Services, clock: ManualClock) -> None:
    stuck, healthy = WebhookReceiver(), WebhookReceiver()
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response(status=204)

    stuck._hook = hang  # type: ignore[method-assign]
    async with running(services, Timeline(clock), stuck, healthy) as streams:
        try:
            await streams.create(ADMIN, hook(stuck.url) | {"name": "stuck"})
            await streams.create(ADMIN, hook(healthy.url))
            await ingest(services, 1, 20)
            got = await healthy.wait_for(20, timeout_s=5)
            assert [r["id"] for r in got] == list(range(1, 21))
        finally:
            never.set()


async def test_a_deleted_stream_stops_delivering(services: Services, clock: ManualClock) -> None:
    receiver = WebhookReceiver()
    async with running(services, Timeline(clock), receiver) as streams:
        stream = await streams.create(ADMIN, hook(receiver.url))
        await ingest(services, 1, 3)
        await receiver.wait_for(3)
        await streams.delete(ADMIN, stream.stream_id)
        assert streams.supervisor.running() == []
        await ingest(services, 4, 3)
        await asyncio.sleep(0.2)
        assert [r["id"] for r in receiver.records] == [1, 2, 3]
        assert await services.connectivity.resources.view(lambda tx: tx.get(DataStream, stream.id)) is None
