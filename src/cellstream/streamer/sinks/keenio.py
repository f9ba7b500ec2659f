"""Keen: records become events of one Keen event collection, sent with Keen's batch call
(`POST {base}/3.0/projects/<project_id>/events`, body `{"<collection>": [event, …]}`, the write key as the
bare `Authorization` header; keen.io/docs/api, "Record multiple events").

Why the batch call: one request per batch instead of one per record, and the records' canonical JSON is
spliced into the body as stored. Keen answers a batch 200 even when it refuses some events: the body reports
each event (`{"<collection>": [{"success": true}, {"success": false, "error": {"name": …,
"description": …}}]}`), so the answer is read event by event and any refusal fails the delivery, naming the
refused records. Refusals of the event itself (bad collection or property name, bad value) are permanent;
any other is worth a retry. A retry sends the whole batch again, so the events Keen did take arrive twice
(at-least-once).

Limits: Keen answers 413 for an event or batch that is too large (Keen's blog, "Updating Keen's API Status
Codes"); the sizes used here (900,000 bytes an event, 10 MB a request) are those a published profile of Keen's
API lists, not found in Keen's own pages, and no count limit is documented, so `max_batch` is the stream's
`size`. A batch over 10 MB is cut into several requests sent in order; a record over 900,000 bytes fails the
delivery permanently, as Keen would refuse it on every retry.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import aiohttp
import msgspec

from cellstream.streamer.destinations import Credentials, KeenIoCredentials
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, Sink, SinkSettings
from cellstream.streamer.sinks.http_outcome import in_part, reaching, refusal

BASE_URL = "https://api.keen.io"
MAX_PAYLOAD_BYTES = 10_000_000
MAX_EVENT_BYTES = 900_000
# The event's own fault: Keen's SDKs drop such events rather than retry them.
INVALID_EVENT_ERRORS = frozenset({"InvalidCollectionNameError", "InvalidPropertyNameError",
                                  "InvalidPropertyValueError"})
USER_AGENT = "cellstream-data-streamer"
TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
REFUSALS_NAMED = 5  # enough to act on; a batch of thousands refused for one reason need not list them all


def events_url(project_id: str, settings: SinkSettings) -> str:
    base = settings.keenio_url or BASE_URL
    return f"{base.rstrip('/')}/3.0/projects/{quote(project_id, safe='')}/events"


def chunks(sizes: Sequence[int], max_bytes: int, overhead: int) -> list[tuple[int, int]]:
    """Consecutive [start, end) ranges of items whose joined size (commas included) plus `overhead` stays
    within `max_bytes`; an item too big alone gets a range of its own."""
    out: list[tuple[int, int]] = []
    start, used = 0, overhead
    for i, size in enumerate(sizes):
        extra = size + (1 if i > start else 0)
        if i > start and used + extra > max_bytes:
            out.append((start, i))
            start, used, extra = i, overhead, size
        used += extra
    if start < len(sizes):
        out.append((start, len(sizes)))
    return out


def _record_id(record: bytes) -> Any:
    try:
        fields = msgspec.json.decode(record)
    except msgspec.DecodeError:
        return None
    return fields.get("id") if isinstance(fields, dict) else None


class KeenIoSink:
    def __init__(self, credentials: KeenIoCredentials, settings: SinkSettings, *,
                 timeout_s: float = TIMEOUT_S) -> None:
        self._write_key = credentials.write_key
        self._collection = credentials.collection_name
        self._size = credentials.size
        self.url = events_url(credentials.project_id, settings)
        self._head = b"{" + msgspec.json.encode(credentials.collection_name) + b":["
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
        self._session: aiohttp.ClientSession | None = None

    @property
    def max_batch(self) -> int:
        return self._size

    @property
    def linger_ms(self) -> int:
        return 0

    async def deliver(self, batch: Batch) -> None:
        records = batch.records
        for n, record in enumerate(records):
            if len(record) > MAX_EVENT_BYTES:
                raise DeliveryFailed(f"record {n} of batch {batch.delivery_id} is {len(record)} bytes; Keen "
                                     f"refuses events over {MAX_EVENT_BYTES} bytes", permanent=True)
        overhead = len(self._head) + 2  # the closing "]}"
        ranges = chunks([len(r) for r in records], MAX_PAYLOAD_BYTES, overhead)
        for start, end in ranges:
            try:
                await self._post(records[start:end], start)
            except DeliveryFailed as exc:
                if len(ranges) == 1:
                    raise
                raise in_part(exc, start, end, len(records), "stored") from None

    async def _post(self, records: Sequence[bytes], offset: int) -> None:
        body = self._head + b",".join(records) + b"]}"
        headers = {"Authorization": self._write_key, "Content-Type": "application/json",
                   "Accept": "application/json"}
        # A BytesIO, not bytes: aiohttp writes a multi-megabyte body in pieces, yielding in between.
        with reaching("Keen", self.url, self._timeout.total):
            async with self._client().post(self.url, data=io.BytesIO(body), headers=headers,
                                           allow_redirects=False) as response:
                text = await response.text(errors="replace")
                if not 200 <= response.status < 300:
                    raise refusal("Keen", response.status, response.headers, text)
        self._check_results(text, records, offset)

    def _check_results(self, text: str, records: Sequence[bytes], offset: int) -> None:
        """Raise unless Keen's answer reports every event of the request stored."""
        try:
            answer = msgspec.json.decode(text)
        except msgspec.DecodeError:
            # Keen said 2xx, so the events may well be stored; retrying risks duplicates, not loss.
            raise DeliveryFailed("Keen answered the batch with a body that is not JSON, so which events "
                                 "it stored is unknown", status=200) from None
        results = answer.get(self._collection) if isinstance(answer, dict) else None
        if not isinstance(results, list) or len(results) != len(records):
            reported = len(results) if isinstance(results, list) else "no"
            raise DeliveryFailed(f"Keen's answer reports {reported} results for the {len(records)} events "
                                 f"sent to collection {self._collection!r}", status=200)
        refused = [(n, result) for n, result in enumerate(results)
                   if not (isinstance(result, dict) and result.get("success") is True)]
        if not refused:
            return
        names: list[str] = []
        described: list[str] = []
        for n, result in refused:
            error = result.get("error") if isinstance(result, dict) else None
            name = str(error.get("name")) if isinstance(error, dict) else "no error given"
            description = str(error.get("description", "")) if isinstance(error, dict) else ""
            names.append(name)
            if len(described) < REFUSALS_NAMED:
                record_id = _record_id(records[n])
                who = f"record {offset + n}" + (f" (id {record_id})" if record_id is not None else "")
                described.append(f"{who}: {name}" + (f" {description}" if description else ""))
        more = f"; and {len(refused) - len(described)} more" if len(refused) > len(described) else ""
        raise DeliveryFailed(
            f"Keen refused {len(refused)} of {len(records)} events: {'; '.join(described)}{more}",
            status=200, permanent=all(name in INVALID_EVENT_ERRORS for name in names))

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers={"User-Agent": USER_AGENT})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def open_sink(credentials: Credentials, settings: SinkSettings, secrets: Sequence[str]) -> Sink:
    if not isinstance(credentials, KeenIoCredentials):
        raise TypeError(f"a Keen sink needs KeenIoCredentials, not {type(credentials).__name__}")
    return KeenIoSink(credentials, settings)
