"""Datadog: every record becomes one log in Datadog Logs, sent through the Logs intake API v2
(`POST https://http-intake.logs.<site>/api/v2/logs`, authenticated by the `DD-API-KEY` header).

Why logs: Datadog's log pipeline indexes arbitrary JSON, so an event or usage record stays searchable field
by field without a schema on our side. The record's canonical JSON is the log's `message` verbatim (Datadog
parses a JSON message into attributes); beside it each log carries `ddsource`, `service`, `ddtags` and a few
attributes (event type, organisation, stream) so facets work even where message parsing is switched off.

The intake's documented limits (docs.datadoghq.com/api/latest/logs/send-logs): at most 1000 logs per request,
5 MB uncompressed per request, 1 MB per log. A batch is cut into as many requests as these need and they are
sent one after another, in order. A log over 1 MB would be accepted but truncated by Datadog, so such a record
fails the delivery permanently instead of arriving cut short. `max_batch` is 1000 so that a batch of ordinary
records is one request: if a later request of a split batch fails, the engine's retry sends the earlier ones
again (at-least-once, as everywhere else).

We do not set a log timestamp: Datadog drops logs dated more than 18 hours back, and a stream catching up on
older events must still arrive, so a log is dated when Datadog takes it; the event's own time is in `message`.

Bodies are gzip-compressed (Datadog recommends it; the 5 MB limit counts the uncompressed body).
"""

from __future__ import annotations

import asyncio
import gzip
import io
from collections.abc import Sequence
from typing import Any

import aiohttp
import msgspec

from cellstream.streamer.destinations import Credentials, DatadogCredentials
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, Sink, SinkSettings
from cellstream.streamer.sinks.http_outcome import in_part, reaching, refusal

SITES = {  # region -> Datadog site; the intake host is http-intake.logs.<site>
    "US": "datadoghq.com",
    "US3": "us3.datadoghq.com",
    "US5": "us5.datadoghq.com",
    "EU": "datadoghq.eu",
    "AP1": "ap1.datadoghq.com",
    "US1FED": "ddog-gov.com",
}
MAX_LOGS_PER_REQUEST = 1000
# Decimal megabytes: "5MB" / "1MB" in Datadog's docs may mean MiB, and erring small only costs a request.
MAX_PAYLOAD_BYTES = 5_000_000
MAX_LOG_BYTES = 1_000_000
SOURCE = "cellstream"
SERVICE = "cellstream-data-streamer"
USER_AGENT = "cellstream-data-streamer"
TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
# Compressing a few hundred kilobytes takes milliseconds; beyond that the event loop should not wait on it.
GZIP_IN_THREAD_BYTES = 256 * 1024


def intake_url(region: str, settings: SinkSettings) -> str:
    """The logs endpoint for `region`, or under `settings.datadog_url` when the platform replaces it."""
    base = settings.datadog_url or f"https://http-intake.logs.{SITES[region]}"
    return f"{base.rstrip('/')}/api/v2/logs"


def log_entry(batch: Batch, record: bytes) -> bytes:
    """One record as one Datadog log (JSON object bytes)."""
    entry: dict[str, Any] = {
        "ddsource": SOURCE,
        "service": SERVICE,
        "ddtags": f"data_stream:{batch.stream_id},record_kind:{batch.kind},organisation:{batch.org_id}",
        "message": record.decode("utf-8", errors="replace"),
        "data_stream_id": batch.stream_id,
        "record_kind": batch.kind,
        "organisation_id": batch.org_id,
    }
    entry.update(_attributes(batch, record))
    return msgspec.json.encode(entry)


def _attributes(batch: Batch, record: bytes) -> dict[str, Any]:
    """The facets worth having without message parsing: what happened (event type or traffic type)."""
    try:
        fields = msgspec.json.decode(record)
    except msgspec.DecodeError:
        return {}  # the message still carries the text; the attributes are a convenience
    if not isinstance(fields, dict):
        return {}
    out: dict[str, Any] = {}
    type_key, id_key = ("event_type", "event_id") if batch.kind == "events" else ("traffic_type", "usage_id")
    if fields.get("id") is not None:
        out[id_key] = fields["id"]
    kind = fields.get(type_key)
    if isinstance(kind, dict):
        if kind.get("id") is not None:
            out[f"{type_key}_id"] = kind["id"]
        if isinstance(kind.get("description"), str):
            out[type_key] = kind["description"]
    return out


def chunks(sizes: Sequence[int], max_count: int, max_bytes: int) -> list[tuple[int, int]]:
    """Consecutive [start, end) ranges of items whose JSON array (brackets, commas, items) stays within
    `max_count` items and `max_bytes` bytes; an item too big alone gets a range of its own."""
    out: list[tuple[int, int]] = []
    start, used = 0, 2  # the brackets
    for i, size in enumerate(sizes):
        extra = size + (1 if i > start else 0)  # a comma before every item but the first
        if i > start and (i - start >= max_count or used + extra > max_bytes):
            out.append((start, i))
            start, used, extra = i, 2, size
        used += extra
    if start < len(sizes):
        out.append((start, len(sizes)))
    return out


class DatadogSink:
    def __init__(self, credentials: DatadogCredentials, settings: SinkSettings, *,
                 timeout_s: float = TIMEOUT_S) -> None:
        self._api_key = credentials.api_key
        self.url = intake_url(credentials.region, settings)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
        self._session: aiohttp.ClientSession | None = None

    @property
    def max_batch(self) -> int:
        return MAX_LOGS_PER_REQUEST

    @property
    def linger_ms(self) -> int:
        return 0

    async def deliver(self, batch: Batch) -> None:
        entries = [log_entry(batch, record) for record in batch.records]
        for n, entry in enumerate(entries):
            if len(entry) > MAX_LOG_BYTES:
                raise DeliveryFailed(f"record {n} of batch {batch.delivery_id} is {len(entry)} bytes as a "
                                     f"log; Datadog truncates logs over {MAX_LOG_BYTES} bytes",
                                     permanent=True)
        ranges = chunks([len(e) for e in entries], MAX_LOGS_PER_REQUEST, MAX_PAYLOAD_BYTES)
        for start, end in ranges:
            try:
                await self._post(b"[" + b",".join(entries[start:end]) + b"]")
            except DeliveryFailed as exc:
                if len(ranges) == 1:
                    raise
                raise in_part(exc, start, end, len(entries), "accepted") from None

    async def _post(self, body: bytes) -> None:
        compressed = (await asyncio.to_thread(gzip.compress, body, 6, mtime=0)
                      if len(body) > GZIP_IN_THREAD_BYTES else gzip.compress(body, 6, mtime=0))
        headers = {"DD-API-KEY": self._api_key, "Content-Type": "application/json",
                   "Content-Encoding": "gzip", "Accept": "application/json"}
        # A BytesIO, not bytes: aiohttp writes a multi-megabyte body in pieces, yielding in between.
        with reaching("Datadog", self.url, self._timeout.total):
            async with self._client().post(self.url, data=io.BytesIO(compressed), headers=headers,
                                           allow_redirects=False) as response:
                if 200 <= response.status < 300:
                    await response.read()  # so the connection goes back to the pool
                    return
                failure = refusal("Datadog", response.status, response.headers,
                                  await response.text(errors="replace"))
        raise failure

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers={"User-Agent": USER_AGENT})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def open_sink(credentials: Credentials, settings: SinkSettings, secrets: Sequence[str]) -> Sink:
    if not isinstance(credentials, DatadogCredentials):
        raise TypeError(f"a Datadog sink needs DatadogCredentials, not {type(credentials).__name__}")
    return DatadogSink(credentials, settings)
