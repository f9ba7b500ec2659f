"""The Keen sink against a local events API: request format, per-event results, limits, and the answers only
Keen gives; the statuses, timeouts and retries it shares with the Datadog sink are in test_http_outcome.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest

from cellstream.streamer.destinations import DatadogCredentials, KeenIoCredentials
from cellstream.streamer.sinks import open_sink
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, SinkSettings
from cellstream.streamer.sinks.keenio import (
    MAX_EVENT_BYTES,
    MAX_PAYLOAD_BYTES,
    KeenIoSink,
    chunks,
    events_url,
)
from tests.contracts.sink_harnesses.base import event_batch
from tests.streamer.sinks.delivery import failure, padded_batch
from tests.streamer.sinks.receivers import KeenReceiver, Refusal

PROJECT = "5f0c0ffee0c0ffee0c0ffee0"
KEY = "the-write-key"
COLLECTION = "sim_events"


def credentials(**changes: object) -> KeenIoCredentials:
    raw: dict[str, object] = {"project_id": PROJECT, "write_key": KEY, "collection_name": COLLECTION}
    raw.update(changes)
    return msgspec.convert(raw, KeenIoCredentials)


@pytest.fixture
async def receiver() -> AsyncIterator[KeenReceiver]:
    async with KeenReceiver(PROJECT, KEY) as running:
        yield running


@pytest.fixture
async def sink(receiver: KeenReceiver) -> AsyncIterator[KeenIoSink]:
    opened = KeenIoSink(credentials(), SinkSettings(keenio_url=receiver.url))
    try:
        yield opened
    finally:
        await opened.close()


def stored_ids(receiver: KeenReceiver) -> list[int]:
    return [event["id"] for event in receiver.events.get(COLLECTION, [])]


def test_the_url_names_the_project() -> None:
    assert events_url(PROJECT, SinkSettings()) == f"https://api.keen.io/3.0/projects/{PROJECT}/events"
    assert events_url("a/b c", SinkSettings(keenio_url="http://127.0.0.1:9/")) == \
        "http://127.0.0.1:9/3.0/projects/a%2Fb%20c/events"
    sink = open_sink("KeenIO", credentials(), SinkSettings())
    assert isinstance(sink, KeenIoSink)
    assert sink.url == f"https://api.keen.io/3.0/projects/{PROJECT}/events"


def test_open_sink_wants_keen_credentials() -> None:
    with pytest.raises(TypeError, match="KeenIoCredentials"):
        open_sink("KeenIO", DatadogCredentials(api_key="k"), SinkSettings())


def test_max_batch_is_the_streams_size() -> None:
    assert open_sink("KeenIO", credentials(), SinkSettings()).max_batch == 3000
    sink = open_sink("KeenIO", credentials(size=10_000), SinkSettings())
    assert (sink.max_batch, sink.linger_ms) == (10_000, 0)


async def test_a_batch_is_one_request_to_the_collection(receiver: KeenReceiver, sink: KeenIoSink) -> None:
    batch = event_batch(1, 3)
    await sink.deliver(batch)

    [arrival] = receiver.arrivals
    assert arrival.status == 200
    assert arrival.path == f"/3.0/projects/{PROJECT}/events"
    assert arrival.headers["Authorization"] == KEY  # the bare key, no scheme
    assert arrival.headers["Content-Type"] == "application/json"
    # The stored JSON spliced in as is.
    assert arrival.body == b'{"' + COLLECTION.encode() + b'":[' + b",".join(batch.records) + b"]}"
    assert stored_ids(receiver) == [1, 2, 3]


async def test_a_refused_event_fails_the_delivery_naming_it(receiver: KeenReceiver, sink: KeenIoSink) -> None:
    receiver.refuse[2] = Refusal("InvalidPropertyValueError", "a value Keen will not take")
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(event_batch(1, 3))
    assert failed.value.permanent  # the same event is refused on every retry
    assert "refused 1 of 3" in failed.value.message
    assert "record 1 (id 2): InvalidPropertyValueError a value Keen will not take" in failed.value.message
    assert stored_ids(receiver) == [1, 3]  # Keen stored the others


async def test_a_refusal_for_another_reason_is_retryable(receiver: KeenReceiver, sink: KeenIoSink) -> None:
    receiver.refuse[1] = Refusal("InternalServerError", "try again")
    receiver.refuse[3] = Refusal("InvalidPropertyNameError", "bad name")
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(event_batch(1, 3))
    assert not failed.value.permanent
    assert "refused 2 of 3" in failed.value.message
    assert "(id 1): InternalServerError" in failed.value.message
    assert "(id 3): InvalidPropertyNameError" in failed.value.message


async def test_keens_own_validation_is_reported(receiver: KeenReceiver, sink: KeenIoSink) -> None:
    record = msgspec.json.encode({"id": 9, "detail": {"a.b": 1}})
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(Batch("c0ffee01", 7, "events", [record], 9, 9))
    assert failed.value.permanent
    assert "InvalidPropertyNameError" in failed.value.message


async def test_many_refusals_are_summarised(receiver: KeenReceiver, sink: KeenIoSink) -> None:
    for n in range(1, 21):
        receiver.refuse[n] = Refusal("InvalidPropertyValueError", "no")
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(event_batch(1, 20))
    assert "refused 20 of 20" in failed.value.message
    assert "and 15 more" in failed.value.message


@pytest.mark.parametrize("body", [b"not json", b'{"other_collection": [{"success": true}]}',
                                  b'{"sim_events": [{"success": true}]}', b"[]"])
async def test_an_unreadable_answer_is_retryable(receiver: KeenReceiver, sink: KeenIoSink,
                                                 body: bytes) -> None:
    receiver.answer_next(200, body=body)
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(event_batch(1, 2))
    assert not failed.value.permanent


async def test_a_wrong_key_is_401_and_permanent(receiver: KeenReceiver) -> None:
    sink = KeenIoSink(credentials(write_key="not-the-key"), SinkSettings(keenio_url=receiver.url))
    failed = await failure(sink, event_batch(1, 2))
    assert (failed.status, failed.permanent, failed.retry_after_s) == (401, True, None)
    assert "InvalidApiKeyError" in failed.message
    assert "not-the-key" not in failed.message


async def test_an_unknown_project_is_permanent(receiver: KeenReceiver) -> None:
    sink = KeenIoSink(credentials(project_id="elsewhere"), SinkSettings(keenio_url=receiver.url))
    failed = await failure(sink, event_batch(1, 2))
    assert (failed.status, failed.permanent) == (404, True)


def test_chunks_respect_the_byte_limit() -> None:
    assert chunks([10] * 4, 34, 2) == [(0, 3), (3, 4)]
    assert chunks([10] * 4, 10**9, 2) == [(0, 4)]
    assert chunks([], 34, 2) == []


async def test_a_batch_over_10_mb_is_split_in_order(receiver: KeenReceiver, sink: KeenIoSink) -> None:
    await sink.deliver(padded_batch(25, 850_000))  # ~21 MB

    assert len(receiver.arrivals) == 3
    assert all(a.status == 200 and len(a.body) <= MAX_PAYLOAD_BYTES for a in receiver.arrivals)
    assert stored_ids(receiver) == list(range(1, 26))


async def test_a_failure_after_a_split_says_what_was_stored(receiver: KeenReceiver, sink: KeenIoSink) -> None:
    receiver.refuse[20] = Refusal("InternalServerError", "hiccup")
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(padded_batch(25, 850_000))
    assert len(receiver.arrivals) == 2  # the third request is never sent
    assert "already stored" in failed.value.message
    assert "(id 20)" in failed.value.message


async def test_a_record_over_keens_event_limit_fails_permanently_unsent(receiver: KeenReceiver,
                                                                        sink: KeenIoSink) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(padded_batch(1, MAX_EVENT_BYTES))
    assert failed.value.permanent
    assert receiver.arrivals == []

