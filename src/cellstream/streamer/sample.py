"""The record `POST /api/v2/data_stream/{id}/test` delivers: the organisation's newest record of the
stream's kind when there is one (so the receiver sees real data), otherwise a clearly marked sample built
through the same codec as every stored event."""

from __future__ import annotations

from typing import Any

import msgspec

from cellstream.clock import Clock
from cellstream.events.codec import decode_event, encode_event
from cellstream.events.query import EventQuery
from cellstream.events.timefmt import format_timestamp
from cellstream.store.protocols import EventStore
from cellstream.store.resources import ResourceStore
from cellstream.streamer.model import EVENTS, DataStream

SAMPLE_DESCRIPTION = "Cellstream data stream test delivery"


async def sample_record(stream: DataStream, events: EventStore, resources: ResourceStore,
                        clock: Clock) -> bytes:
    org = stream.org_id or 0
    now = format_timestamp(clock.now_ms())
    if stream.type_id == EVENTS:
        page = await events.page(EventQuery(org), limit=1)
        if page.bodies:
            return page.bodies[0]
        return encode_event(decode_event({
            "id": 0, "timestamp": now, "event_type": {"id": 2}, "event_source": {"id": 0},
            "event_severity": {"id": 0}, "alert": False, "description": SAMPLE_DESCRIPTION,
            "organisation": {"id": org}}))
    last = await resources.usage_last_position()
    usage = await resources.usage_after(max(0, last - 1000), 1000, org_id=org)
    if usage:
        return usage[-1].body
    record: dict[str, Any] = {
        "id": 0, "cost": 0.0, "currency": {"id": 1, "code": "EUR", "symbol": "€"},
        "traffic_type": {"id": 5, "description": "Data"}, "volume": {"total": 0.0, "rx": 0.0, "tx": 0.0},
        "start_timestamp": now, "end_timestamp": now, "organisation": {"id": org},
        "description": SAMPLE_DESCRIPTION}
    return msgspec.json.encode(record)
