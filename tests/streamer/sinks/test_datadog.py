"""The Datadog sink against a local logs intake: request format, regions, limits, and the answers only Datadog
gives; the statuses, timeouts and retries it shares with the Keen sink are in test_http_outcome.py."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import msgspec
import pytest

from cellstream.store.resources import encode_usage
from cellstream.streamer.destinations import DatadogCredentials, KeenIoCredentials
from cellstream.streamer.sinks import open_sink
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, SinkSettings
from cellstream.streamer.sinks.datadog import (
    MAX_LOG_BYTES,
    MAX_PAYLOAD_BYTES,
    DatadogSink,
    chunks,
    intake_url,
)
from tests.contracts.sink_harnesses.base import event_batch
from tests.streamer.sinks.delivery import failure, padded_batch
from tests.streamer.sinks.receivers import DatadogReceiver

KEY = "a" * 32


@pytest.fixture
async def receiver() -> AsyncIterator[DatadogReceiver]:
    async with DatadogReceiver(KEY) as running:
        yield running


@pytest.fixture
async def sink(receiver: DatadogReceiver) -> AsyncIterator[DatadogSink]:
    opened = DatadogSink(DatadogCredentials(api_key=KEY), SinkSettings(datadog_url=receiver.url))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.mark.parametrize(("region", "url"), [
    ("US", "https://http-intake.logs.datadoghq.com/api/v2/logs"),
    ("US3", "https://http-intake.logs.us3.datadoghq.com/api/v2/logs"),
    ("US5", "https://http-intake.logs.us5.datadoghq.com/api/v2/logs"),
    ("EU", "https://http-intake.logs.datadoghq.eu/api/v2/logs"),
    ("AP1", "https://http-intake.logs.ap1.datadoghq.com/api/v2/logs"),
    ("US1FED", "https://http-intake.logs.ddog-gov.com/api/v2/logs"),
])
def test_each_region_has_its_intake(region: str, url: str) -> None:
    assert intake_url(region, SinkSettings()) == url
    credentials = msgspec.convert({"api_key": KEY, "region": region}, DatadogCredentials)
    sink = open_sink("Datadog", credentials, SinkSettings())
    assert isinstance(sink, DatadogSink)
    assert sink.url == url


def test_the_platform_can_replace_the_intake() -> None:
    assert intake_url("EU", SinkSettings(datadog_url="http://127.0.0.1:9/")) == "http://127.0.0.1:9/api/v2/logs"


def test_open_sink_wants_datadog_credentials() -> None:
    with pytest.raises(TypeError, match="DatadogCredentials"):
        open_sink("Datadog", KeenIoCredentials(project_id="p", write_key="k", collection_name="c"),
                  SinkSettings())


async def test_a_batch_is_one_gzipped_request_of_logs(receiver: DatadogReceiver, sink: DatadogSink) -> None:
    batch = event_batch(1, 3)
    await sink.deliver(batch)

    [arrival] = receiver.arrivals
    assert arrival.status == 202
    assert arrival.path == "/api/v2/logs"
    assert arrival.headers["DD-API-KEY"] == KEY
    assert arrival.headers["Content-Type"] == "application/json"
    assert arrival.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(arrival.wire) == arrival.body
    assert len(arrival.wire) < len(arrival.body)
    logs = msgspec.json.decode(arrival.body)
    assert [log["message"].encode() for log in logs] == list(batch.records)  # the stored JSON, verbatim
    first = logs[0]
    assert first["ddsource"] == "cellstream"
    assert first["service"] == "cellstream-data-streamer"
    assert first["ddtags"] == "data_stream:c0ffee01,record_kind:events,organisation:7"
    assert first["event_id"] == 1
    assert first["event_type_id"] == 1
    assert first["event_type"] == "Update location"
    assert first["organisation_id"] == 7
    assert "timestamp" not in first  # Datadog drops logs dated more than 18 h back
    assert "date" not in first
    assert "hostname" not in first


async def test_usage_records_carry_their_traffic_type(receiver: DatadogReceiver, sink: DatadogSink) -> None:
    record = encode_usage(42, {"traffic_type": {"id": 5, "description": "Data"}, "cost": 0.1})
    await sink.deliver(Batch("c0ffee01", 7, "usage", [record], 42, 42))

    [log] = receiver.logs
    assert log["usage_id"] == 42
    assert log["traffic_type"] == "Data"
    assert log["traffic_type_id"] == 5
    assert log["ddtags"] == "data_stream:c0ffee01,record_kind:usage,organisation:7"
    assert log["message"].encode() == record


def test_chunks_respect_the_count_and_byte_limits() -> None:
    assert chunks([10] * 2500, 1000, 10**9) == [(0, 1000), (1000, 2000), (2000, 2500)]
    # 2 brackets + 3 items of 10 + 2 commas = 34 bytes fit in 34; a fourth does not.
    assert chunks([10] * 4, 1000, 34) == [(0, 3), (3, 4)]
    assert chunks([50, 10], 1000, 34) == [(0, 1), (1, 2)]  # too big alone still goes, by itself
    assert chunks([], 1000, 34) == []


async def test_big_records_are_split_into_requests_under_5_mb(receiver: DatadogReceiver,
                                                              sink: DatadogSink) -> None:
    batch = padded_batch(14, 900_000)  # ~12.6 MB of logs in all
    await sink.deliver(batch)

    assert len(receiver.arrivals) >= 3
    assert all(a.status == 202 and len(a.body) <= MAX_PAYLOAD_BYTES for a in receiver.arrivals)
    assert [m["id"] for m in receiver.messages()] == list(range(1, 15))


async def test_a_record_over_1_mb_fails_permanently_unsent(receiver: DatadogReceiver,
                                                            sink: DatadogSink) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(padded_batch(1, MAX_LOG_BYTES))
    assert failed.value.permanent
    assert "truncates" in failed.value.message
    assert receiver.arrivals == []


async def test_a_missing_key_is_401_and_permanent(receiver: DatadogReceiver, sink: DatadogSink) -> None:
    receiver.answer_next(401, body=b'{"errors":["Unauthorized"]}')
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(event_batch(1, 2))
    assert (failed.value.status, failed.value.permanent, failed.value.retry_after_s) == (401, True, None)
    assert "Unauthorized" in failed.value.message


async def test_a_wrong_key_is_403_and_permanent(receiver: DatadogReceiver) -> None:
    sink = DatadogSink(DatadogCredentials(api_key="b" * 32), SinkSettings(datadog_url=receiver.url))
    failed = await failure(sink, event_batch(1, 2))
    assert (failed.status, failed.permanent) == (403, True)
    assert "b" * 32 not in failed.message
    assert receiver.logs == []


async def test_retry_after_may_be_an_http_date(receiver: DatadogReceiver, sink: DatadogSink) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    receiver.answer_next(429, headers={"Retry-After": when})
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(event_batch(1, 2))
    assert failed.value.retry_after_s is not None
    assert 55 <= failed.value.retry_after_s <= 60


async def test_a_failure_after_a_split_says_what_was_already_accepted(receiver: DatadogReceiver,
                                                                     sink: DatadogSink) -> None:
    receiver.answer_next(202, body=b"{}")  # the split batch's first request is taken,
    receiver.answer_next(503, headers={"Retry-After": "2"})  # the second refused
    with pytest.raises(DeliveryFailed) as failed:
        await sink.deliver(padded_batch(12, 900_000))
    assert len(receiver.arrivals) == 2  # the third request is never sent
    assert not failed.value.permanent
    assert failed.value.retry_after_s == 2.0
    assert "already accepted" in failed.value.message

