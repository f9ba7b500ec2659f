"""The one contract every sink passes, each against its real server (tests/contracts/sink_harnesses/)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cellstream.streamer.destinations import parse_credentials
from cellstream.streamer.sinks import MODULES, open_sink
from cellstream.streamer.sinks.base import DeliveryFailed, Sink
from tests.contracts.sink_harnesses.base import SinkHarness, event_batch


@pytest.fixture(params=sorted(MODULES))
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[SinkHarness]:
    module = importlib.import_module(f"tests.contracts.sink_harnesses.{MODULES[request.param]}")
    async with module.Harness() as prepared:
        yield prepared


def opened(harness: SinkHarness, credentials: dict[str, Any]) -> Sink:
    return open_sink(harness.connection_type, parse_credentials(harness.connection_type, credentials),
                     harness.settings)


async def test_a_batch_arrives_whole_and_in_order(harness: SinkHarness) -> None:
    sink = opened(harness, harness.credentials())
    try:
        batch = event_batch(1, min(25, sink.max_batch))
        await sink.deliver(batch)
        assert await harness.received_ids(len(batch.records)) == list(range(1, len(batch.records) + 1))
    finally:
        await sink.close()


async def test_batches_arrive_in_the_order_delivered(harness: SinkHarness) -> None:
    sink = opened(harness, harness.credentials())
    try:
        size = min(10, sink.max_batch)
        for first in range(1, 3 * size + 1, size):
            await sink.deliver(event_batch(first, size))
        assert await harness.received_ids(3 * size) == list(range(1, 3 * size + 1))
    finally:
        await sink.close()


async def test_an_unreachable_destination_raises_delivery_failed(harness: SinkHarness) -> None:
    sink = opened(harness, harness.broken_credentials())
    try:
        with pytest.raises(DeliveryFailed):
            await sink.deliver(event_batch(1, 3))
    finally:
        await sink.close()
