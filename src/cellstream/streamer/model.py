"""A data stream and its delivery state, as records in the resource store (facts §E.2, §E.4).

Two records per stream, so the hot path never rewrites the configuration: `DataStream` (what the API
shows and changes) and `StreamCursor` (where delivery stands: the position of the last record the
destination acknowledged, and the counters `GET …/stats` reports). The engine advances the cursor only
after the destination acknowledged, in the same transaction as the counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from cellstream.store.resources import Record

RUNNING, PAUSED, ERROR, PENDING = 1, 2, 3, 4
STATUSES = {RUNNING: "Running", PAUSED: "Paused", ERROR: "Error", PENDING: "Pending"}
USAGE, EVENTS = 1, 2
STREAM_TYPES = {USAGE: "Usage", EVENTS: "Events"}
RELATION_RESOLUTIONS = {1: "Own", 2: "Children", 3: "Both"}
FILTER_FIELD_TYPES = [
    {"id": "event_type_id", "description": "Filtering Events for specific Event Type IDs"},
    {"id": "alert", "description": "Filtering Events for alerts"},
]


class SigningSecret(msgspec.Struct, frozen=True):
    secret: str  # whsec_…
    valid_until_ms: int | None = None  # None: the current secret; else a rotated-out one, until then


class DataStream(Record, kw_only=True):
    KIND: ClassVar[str] = "data_stream"
    stream_id: str  # the public id: 8 hex digits
    name: str = ""
    type_id: int = EVENTS
    connection_type: str
    format: str = "Json"
    credentials: dict[str, Any]  # validated (cellstream.streamer.destinations), secrets included
    filters: list[Any] = msgspec.field(default_factory=list)  # as given; compiled by streamer.filters
    relation_resolution_id: int = 1
    status_id: int = PENDING
    created_ms: int = 0
    signing_secrets: list[SigningSecret] = msgspec.field(default_factory=list)

    def unique_keys(self) -> Mapping[str, str]:
        return {"data_stream_id": self.stream_id}

    def secrets_at(self, now_ms: int) -> list[str]:
        """The signing secrets valid now, newest first."""
        return [s.secret for s in self.signing_secrets
                if s.valid_until_ms is None or s.valid_until_ms > now_ms]


class StreamCursor(Record, kw_only=True):
    """Delivery state of the stream whose record id is `id`."""

    KIND: ClassVar[str] = "data_stream_cursor"
    position: int = 0  # the last position acknowledged (or skipped by the filter) in the stream's log
    delivered: int = 0  # records acknowledged
    batches: int = 0
    failed_attempts: int = 0
    failing_since_ms: int | None = None  # first failure of the current run of failures
    last_error: str | None = None
    last_error_status: int | None = None
    last_error_ms: int | None = None
    last_delivery_ms: int | None = None
    last_latency_ms: int | None = None  # stored → acknowledged, of the batch's newest record
    dropped: int = 0  # backlog dropped because it outlived the stream retention
    dropped_ms: int | None = None


def lookup(table: Mapping[int, str], ident: int) -> dict[str, Any]:
    return {"id": ident, "description": table.get(ident, "Unknown")}
