"""What the MQTT and NATS sinks do alike, each against its shared server: destination names from the same
template rules (topics, subjects), order within a batch, the check for private addresses and connecting
again after `close`. What only one of them does is in test_mqtt.py and test_nats_jetstream.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from cellstream.streamer.destinations import CONNECTION_TYPES, parse_credentials
from cellstream.streamer.sinks import open_sink
from cellstream.streamer.sinks.base import Batch, Sink, SinkSettings
from tests.contracts.sink_harnesses import mqtt, nats_jetstream
from tests.contracts.sink_harnesses.base import event_batch
from tests.streamer.sinks.delivery import PRIVATE_OK, delivered, failure


async def _nats_arrivals(harness: nats_jetstream.Harness, expected: int) -> list[tuple[str, bytes]]:
    return [(m.subject, m.data) for m in await harness.wait_for(expected)]


@dataclass(frozen=True)
class Broker:
    connection_type: str
    scheme: str
    port: int  # of the shared server
    field: str  # the credential holding the template
    separator: str  # between the levels of a name
    harness: Callable[[], Any]
    prefix: Callable[[Any], str]  # the harness's own names start so
    arrivals: Callable[[Any, int], Awaitable[list[tuple[str, bytes]]]]  # (name, payload), once that many came

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}"

    def name(self, *levels: str) -> str:
        return self.separator.join(levels)

    def sink(self, settings: SinkSettings = PRIVATE_OK, **credentials: Any) -> Sink:
        return open_sink(self.connection_type, parse_credentials(self.connection_type, credentials), settings)


MQTT = Broker("Mqtt", "mqtt", 1883, "topic", "/", mqtt.Harness, lambda h: h.topic, lambda h, n: h.wait_for(n))
NATS = Broker("Nats", "nats", 4222, "subject", ".", nats_jetstream.Harness, lambda h: h.subject,
              _nats_arrivals)


@pytest.fixture(params=[MQTT, NATS], ids=["mqtt", "nats"])
def broker(request: pytest.FixtureRequest) -> Broker:
    chosen: Broker = request.param
    return chosen


@pytest.fixture
async def harness(broker: Broker) -> AsyncIterator[Any]:
    async with broker.harness() as prepared:
        yield prepared


def ids(payloads: Sequence[bytes]) -> list[int]:
    return [int(msgspec.json.decode(p)["id"]) for p in payloads]


def usage_batch(first_id: int, endpoints: Sequence[int | None], *, org: int = 7) -> Batch:
    records = [msgspec.json.encode({
        "id": first_id + n, "cost": 0.01, "traffic_type": {"id": 5, "description": "Data"},
        "organisation": {"id": org, "name": "Acme"},
        "endpoint": None if endpoint is None else {"id": endpoint, "name": f"device-{endpoint}"},
    }) for n, endpoint in enumerate(endpoints)]
    return Batch("0ddba11a", org, "usage", records, first_id, first_id + len(records) - 1)


# --- names ------------------------------------------------------------------------------------------------

async def test_an_event_name_has_every_placeholder_filled(broker: Broker, harness: Any) -> None:
    prefix = broker.prefix(harness)
    template = broker.name(prefix, "{organisation_id}", "{event_type_id}", "{endpoint_id}", "{stream_id}",
                           "{kind}")
    await delivered(broker.sink(url=broker.url(), **{broker.field: template}), event_batch(1, 6))
    arrived = await broker.arrivals(harness, 6)
    # event_batch: event n has type 1 + n % 5 and endpoint 100 + n % 3, organisation 7
    assert [name for name, _ in arrived] == [
        broker.name(prefix, "7", str(1 + n % 5), str(100 + n % 3), "c0ffee01", "events") for n in range(6)]
    assert ids([p for _, p in arrived]) == [1, 2, 3, 4, 5, 6]


async def test_a_usage_name_says_usage_for_the_event_type_and_none_for_a_missing_endpoint(
        broker: Broker, harness: Any) -> None:
    prefix = broker.prefix(harness)
    template = broker.name(prefix, "{organisation_id}", "{event_type_id}", "{endpoint_id}", "{kind}")
    await delivered(broker.sink(url=broker.url(), **{broker.field: template}), usage_batch(40, [100, None]))
    arrived = await broker.arrivals(harness, 2)
    assert [name for name, _ in arrived] == [broker.name(prefix, "7", "usage", "100", "usage"),
                                             broker.name(prefix, "7", "usage", "none", "usage")]


async def test_a_name_without_record_fields_never_decodes_the_records(broker: Broker, harness: Any) -> None:
    # Records that are not JSON pass untouched: only the batch was needed for this name.
    batch = Batch("c0ffee01", 7, "usage", [b"not json", b"[1, 2"], 1, 2)
    prefix = broker.prefix(harness)
    template = broker.name(prefix, "{stream_id}", "{kind}", "{event_type_id}")
    await delivered(broker.sink(url=broker.url(), **{broker.field: template}), batch)
    name = broker.name(prefix, "c0ffee01", "usage", "usage")
    assert await broker.arrivals(harness, 2) == [(name, b"not json"), (name, b"[1, 2")]


@pytest.mark.parametrize(("broker", "template", "says"), [
    (MQTT, "cellstream/{organisation}/x", "unknown placeholder(s) {organisation}"),
    (MQTT, "cellstream/+/{kind}", "wildcard"),
    (MQTT, "cellstream/#", "wildcard"),
    (NATS, "cellstream.{organisation}", "unknown placeholder(s) {organisation}"),
    (NATS, "cellstream.*.{kind}", "wildcard"),
    (NATS, "cellstream.>", "wildcard"),
    (NATS, "cellstream..{kind}", "empty token"),
    (NATS, "cellstream.{kind}.", "empty token"),
    (NATS, "cell stream.{kind}", "white space"),
], ids=lambda value: value.scheme if isinstance(value, Broker) else None)
async def test_a_template_that_cannot_work_fails_for_good(broker: Broker, template: str, says: str) -> None:
    """The API refuses such templates (422); a sink opened on one anyway (stored by an older version, say)
    fails permanently instead of publishing somewhere unintended."""
    unchecked = msgspec.convert({"url": broker.url(), broker.field: template},
                                CONNECTION_TYPES[broker.connection_type])
    failed = await failure(open_sink(broker.connection_type, unchecked, PRIVATE_OK), event_batch(1, 2))
    assert failed.permanent
    assert says in failed.message


# --- delivery ---------------------------------------------------------------------------------------------

async def test_a_thousand_records_arrive_in_order_in_one_batch(broker: Broker, harness: Any) -> None:
    sink = broker.sink(**harness.credentials())
    assert sink.max_batch == 1000
    assert sink.linger_ms == 0
    await delivered(sink, event_batch(1, 1000))
    assert await harness.received_ids(1000) == list(range(1, 1001))


async def test_a_closed_sink_connects_again_when_asked_to_deliver(broker: Broker, harness: Any) -> None:
    sink = broker.sink(**harness.credentials())
    await delivered(sink, event_batch(1, 2))
    await delivered(sink, event_batch(3, 2))
    assert await harness.received_ids(4) == [1, 2, 3, 4]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_private_server_is_refused_unless_allowed(broker: Broker, host: str) -> None:
    failed = await failure(broker.sink(settings=SinkSettings(), url=broker.url(host)), event_batch(1, 1))
    assert failed.permanent
    assert "non-public address" in failed.message
