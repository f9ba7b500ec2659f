"""What an HTTP answer means for a delivery (cellstream.streamer.sinks.http_outcome): Retry-After, and the
statuses, timeouts and connection errors the Datadog and Keen sinks sort the same way, each against its local
stand-in for the service (receivers.py). The webhook's outcomes, which differ, are in test_webhook.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from cellstream.streamer.destinations import DatadogCredentials, KeenIoCredentials
from cellstream.streamer.sinks.base import Sink, SinkSettings
from cellstream.streamer.sinks.datadog import DatadogSink
from cellstream.streamer.sinks.http_outcome import retry_after_s
from cellstream.streamer.sinks.keenio import KeenIoSink
from tests.contracts.sink_harnesses.base import event_batch
from tests.e2e.conftest import free_port
from tests.streamer.sinks.delivery import failure
from tests.streamer.sinks.receivers import DatadogReceiver, KeenReceiver, Receiver

DATADOG_KEY = "a" * 32
KEEN_PROJECT, KEEN_KEY, KEEN_COLLECTION = "5f0c0ffee0c0ffee0c0ffee0", "the-write-key", "sim_events"


@dataclass(frozen=True)
class Service:
    name: str  # as the sink's messages call it
    receiver: Callable[[], Receiver]
    sink: Callable[..., Sink]  # (base url, **options of the sink such as timeout_s)
    stored_ids: Callable[[Any], list[int]]  # the ids of the records the receiver took
    max_batch: int


DATADOG = Service(
    "Datadog", lambda: DatadogReceiver(DATADOG_KEY),
    lambda url, **options: DatadogSink(DatadogCredentials(api_key=DATADOG_KEY), SinkSettings(datadog_url=url),
                                       **options),
    lambda receiver: [m["id"] for m in receiver.messages()], 1000)
KEEN = Service(
    "Keen", lambda: KeenReceiver(KEEN_PROJECT, KEEN_KEY),
    lambda url, **options: KeenIoSink(
        KeenIoCredentials(project_id=KEEN_PROJECT, write_key=KEEN_KEY, collection_name=KEEN_COLLECTION),
        SinkSettings(keenio_url=url), **options),
    lambda receiver: [e["id"] for e in receiver.events.get(KEEN_COLLECTION, [])], 3000)


def _id(value: object) -> str | None:
    return value.name.lower() if isinstance(value, Service) else None


@pytest.fixture(params=[DATADOG, KEEN], ids=_id)
def service(request: pytest.FixtureRequest) -> Service:
    chosen: Service = request.param
    return chosen


@pytest.fixture
async def receiver(service: Service) -> AsyncIterator[Any]:
    async with service.receiver() as running:
        yield running


@pytest.fixture
async def sink(service: Service, receiver: Receiver) -> AsyncIterator[Sink]:
    opened = service.sink(receiver.url)
    try:
        yield opened
    finally:
        await opened.close()


# --- Retry-After ------------------------------------------------------------------------------------------

def test_retry_after_parsing() -> None:
    assert retry_after_s(None) is None
    assert retry_after_s("") is None
    assert retry_after_s(" 3 ") == 3.0
    assert retry_after_s("-4") == 0.0
    assert retry_after_s("soon") is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 30) == 30.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 + 30) == 0.0


# --- statuses ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("service", "status"), [
    (DATADOG, 400), (DATADOG, 404), (DATADOG, 413), (KEEN, 400), (KEEN, 403), (KEEN, 413)], ids=_id)
async def test_other_client_errors_are_permanent(receiver: Receiver, sink: Sink, status: int) -> None:
    receiver.answer_next(status, headers={"Retry-After": "5"})
    failed = await failure(sink, event_batch(1, 2), then_close=False)
    assert (failed.status, failed.permanent, failed.retry_after_s) == (status, True, None)


@pytest.mark.parametrize(("service", "retry_after", "body", "says"), [
    pytest.param(DATADOG, "7", b"", "answered HTTP 429", id="datadog"),
    pytest.param(KEEN, "60", b'{"error_code": "TooManyRequestsError"}', "TooManyRequestsError", id="keen"),
])
async def test_429_is_retryable_after_the_given_delay(service: Service, receiver: Receiver, sink: Sink,
                                                      retry_after: str, body: bytes, says: str) -> None:
    receiver.answer_next(429, headers={"Retry-After": retry_after}, body=body)
    failed = await failure(sink, event_batch(1, 2), then_close=False)
    assert (failed.status, failed.permanent, failed.retry_after_s) == (429, False, float(retry_after))
    assert says in failed.message

    await sink.deliver(event_batch(1, 2))  # the retry goes through
    assert service.stored_ids(receiver) == [1, 2]


@pytest.mark.parametrize(("service", "status"), [
    (DATADOG, 408), (DATADOG, 500), (DATADOG, 502), (DATADOG, 503), (KEEN, 408), (KEEN, 500), (KEEN, 503),
], ids=_id)
async def test_timeouts_and_server_errors_are_retryable(receiver: Receiver, sink: Sink, status: int) -> None:
    receiver.answer_next(status, body=b"overloaded")
    failed = await failure(sink, event_batch(1, 2), then_close=False)
    assert (failed.status, failed.permanent, failed.retry_after_s) == (status, False, None)
    assert "overloaded" in failed.message


# --- no answer --------------------------------------------------------------------------------------------

async def test_a_slow_service_is_a_retryable_timeout(service: Service, receiver: Receiver) -> None:
    receiver.delay_s = 5.0
    failed = await failure(service.sink(receiver.url, timeout_s=0.2), event_batch(1, 2))
    assert not failed.permanent
    assert failed.status is None
    assert "did not answer" in failed.message


async def test_nothing_listening_is_retryable(service: Service) -> None:
    # A port that was free a moment ago: nothing listens there.
    failed = await failure(service.sink(f"http://127.0.0.1:{free_port()}"), event_batch(1, 2))
    assert not failed.permanent
    assert f"could not reach {service.name}" in failed.message


# --- the session ------------------------------------------------------------------------------------------

async def test_one_session_reused_then_closed(service: Service, receiver: Receiver) -> None:
    sink = service.sink(receiver.url)
    assert isinstance(sink, DatadogSink | KeenIoSink)
    assert sink._session is None  # nothing opened before the first delivery
    await sink.deliver(event_batch(1, 2))
    session = sink._session
    await sink.deliver(event_batch(3, 2))
    assert sink._session is session
    await sink.close()
    assert session is not None
    assert session.closed
    assert (sink.max_batch, sink.linger_ms) == (service.max_batch, 0)
    assert service.stored_ids(receiver) == [1, 2, 3, 4]
