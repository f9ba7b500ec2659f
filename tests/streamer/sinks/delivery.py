"""How the sink tests open sinks and deliver: from raw credentials as the API takes them, batches that must
arrive or must fail, closing the sink afterwards either way as the engine does, and batches of big records
for the services' size limits. Written once because nearly every sink test does this."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import pytest

from cellstream.streamer.destinations import parse_credentials
from cellstream.streamer.sinks import open_sink
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, Sink, SinkSettings

PRIVATE_OK = SinkSettings(allow_private_destinations=True)  # the test servers listen on 127.0.0.1

S = TypeVar("S")


def opened(kind: type[S], connection_type: str, *, settings: SinkSettings = PRIVATE_OK,
           **credentials: Any) -> S:
    """The sink `open_sink` makes of `credentials` (raw, as a client sends them), checked to be a `kind`."""
    sink = open_sink(connection_type, parse_credentials(connection_type, credentials), settings)
    assert isinstance(sink, kind)
    return sink


async def delivered(sink: Sink, *batches: Batch) -> None:
    """Deliver `batches` in order, then close `sink`."""
    try:
        for batch in batches:
            await sink.deliver(batch)
    finally:
        await sink.close()


async def failure(sink: Sink, batch: Batch, *, then_close: bool = True) -> DeliveryFailed:
    """What delivering `batch` fails with (the test fails if it does not); `sink` is closed afterwards
    unless the test goes on with it."""
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(batch)
    finally:
        if then_close:
            await sink.close()
    return failed.value


def padded_batch(count: int, pad: int) -> Batch:
    """Records of about `pad` bytes each, with ids 1…count."""
    records = [msgspec.json.encode({"id": n, "pad": "x" * pad}) for n in range(1, count + 1)]
    return Batch("c0ffee01", 7, "events", records, 1, count)
