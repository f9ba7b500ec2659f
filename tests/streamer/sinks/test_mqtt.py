"""The MQTT sink beyond the shared contract and what it shares with the NATS sink (test_brokers.py): QoS,
acknowledgements, refusals, TLS and reconnecting.

Most tests use the shared Mosquitto on 127.0.0.1:1883. What that broker is not set up for (passwords, TLS,
being restarted) runs against a Mosquitto of the test's own on a free port (servers.py); acknowledgements
are checked against a minimal broker written here, because a real one acknowledges at once and so cannot
show that `deliver` waits for the acknowledgement.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path

import aiomqtt
import msgspec
import pytest

from cellstream.streamer.sinks.base import DeliveryFailed
from cellstream.streamer.sinks.mqtt import MqttSink
from tests.certificates import make_certificates
from tests.contracts.sink_harnesses.base import event_batch
from tests.contracts.sink_harnesses.mqtt import Harness
from tests.e2e.conftest import free_port
from tests.streamer.sinks.delivery import delivered, failure, opened
from tests.streamer.sinks.servers import HOST, Mosquitto, Servers, need_binary

mqtt_sink = partial(opened, MqttSink, "Mqtt")  # mqtt_sink(url=…, settings=…, other credentials)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with Harness() as prepared:
        yield prepared


def ids(payloads: Sequence[bytes]) -> list[int]:
    return [int(msgspec.json.decode(p)["id"]) for p in payloads]


# --- QoS ------------------------------------------------------------------------------------------------

async def test_qos_2_is_delivered_once(harness: Harness) -> None:
    await delivered(mqtt_sink(**{**harness.credentials(), "qos": 2}), event_batch(1, 5))
    assert await harness.received_ids(5) == [1, 2, 3, 4, 5]


# --- acknowledgements: a broker that acknowledges only when told ------------------------------------------

class HoldingBroker:
    """Accepts a connection and PUBLISH packets, and sends PUBACK only when `acknowledge` is called."""

    def __init__(self) -> None:
        self.publishes: list[tuple[int, bytes]] = []  # (QoS, packet id)
        self._writer: asyncio.StreamWriter | None = None
        self.arrived = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        try:
            while True:
                header = (await reader.readexactly(1))[0]
                length, shift = 0, 0
                while True:  # MQTT's variable-length "remaining length"
                    byte = (await reader.readexactly(1))[0]
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                body = await reader.readexactly(length)
                kind = header >> 4
                if kind == 1:  # CONNECT
                    writer.write(b"\x20\x02\x00\x00")  # CONNACK: accepted
                elif kind == 3:  # PUBLISH
                    qos = (header >> 1) & 3
                    end = 2 + int.from_bytes(body[:2], "big")
                    self.publishes.append((qos, body[end:end + 2] if qos else b""))
                    self.arrived.set()
                elif kind == 12:  # PINGREQ
                    writer.write(b"\xd0\x00")
                elif kind == 14:  # DISCONNECT
                    break
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def acknowledge(self) -> None:
        assert self._writer is not None
        for _, packet_id in self.publishes:
            self._writer.write(b"\x40\x02" + packet_id)  # PUBACK

    async def wait_for(self, count: int) -> None:
        while len(self.publishes) < count:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 5)


@pytest.fixture
async def holding_broker() -> AsyncIterator[tuple[HoldingBroker, int]]:
    broker = HoldingBroker()
    server = await asyncio.start_server(broker.handle, HOST, 0)
    try:
        yield broker, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_qos_1_deliver_returns_only_once_the_broker_acknowledged(
        holding_broker: tuple[HoldingBroker, int]) -> None:
    broker, port = holding_broker
    sink = mqtt_sink(url=f"mqtt://{HOST}:{port}", topic="t/{kind}", qos=1)
    try:
        delivery = asyncio.create_task(sink.deliver(event_batch(1, 3)))
        await broker.wait_for(3)
        await asyncio.sleep(0.2)
        assert not delivery.done(), "deliver returned before any PUBACK"
        assert [qos for qos, _ in broker.publishes] == [1, 1, 1]
        broker.acknowledge()
        await asyncio.wait_for(delivery, 5)
    finally:
        await sink.close()


async def test_qos_0_deliver_needs_no_acknowledgement(holding_broker: tuple[HoldingBroker, int]) -> None:
    broker, port = holding_broker
    sink = mqtt_sink(url=f"mqtt://{HOST}:{port}", topic="t/{kind}", qos=0)
    try:
        await asyncio.wait_for(sink.deliver(event_batch(1, 3)), 5)
        await broker.wait_for(3)
        assert [qos for qos, _ in broker.publishes] == [0, 0, 0]
    finally:
        await sink.close()


# --- failures ---------------------------------------------------------------------------------------------

async def test_nothing_listening_is_a_failure_worth_retrying() -> None:
    failed = await failure(mqtt_sink(url=f"mqtt://{HOST}:{free_port()}"), event_batch(1, 1))
    assert not failed.permanent
    assert "cannot connect to the MQTT broker" in failed.message


async def test_a_connection_dropped_by_the_broker_is_replaced_for_the_next_batch(harness: Harness) -> None:
    client_id = f"cellstream-test-{uuid.uuid4().hex[:12]}"
    sink = mqtt_sink(**harness.credentials(), client_id=client_id)
    try:
        await sink.deliver(event_batch(1, 5))
        # A second client with the same id makes the broker close the sink's connection.
        async with aiomqtt.Client(HOST, 1883, identifier=client_id):
            await asyncio.sleep(0.1)
        await sink.deliver(event_batch(6, 5))
    finally:
        await sink.close()
    assert await harness.received_ids(10) == list(range(1, 11))


# --- a broker of the test's own -------------------------------------------------------------------------

@pytest.fixture
async def restarting(servers: Servers) -> AsyncIterator[tuple[Mosquitto, MqttSink]]:
    """A broker of the test's own and a sink that has delivered a first batch (ids 1-3) to it."""
    broker = servers.start(Mosquitto, "allow_anonymous true")
    sink = mqtt_sink(url=f"mqtt://{HOST}:{broker.port}", topic="t/{kind}")
    try:
        await sink.deliver(event_batch(1, 3))
        yield broker, sink
    finally:
        await sink.close()


async def received_while(broker: Mosquitto, delivery: Callable[[], Awaitable[None]]) -> list[int]:
    """The ids of the first three messages a subscriber to the broker gets once `delivery` ran."""
    async with aiomqtt.Client(HOST, broker.port) as subscriber:
        await subscriber.subscribe("t/#", qos=1)
        await delivery()
        got = []
        async with asyncio.timeout(5):
            async for message in subscriber.messages:
                assert isinstance(message.payload, bytes)
                got.append(message.payload)
                if len(got) == 3:
                    break
    return ids(got)


async def test_a_broker_restart_fails_one_delivery_and_the_next_succeeds(
        restarting: tuple[Mosquitto, MqttSink]) -> None:
    broker, sink = restarting
    broker.stop()
    failed = await failure(sink, event_batch(4, 3), then_close=False)
    assert not failed.permanent
    broker.start()
    assert await received_while(broker, lambda: sink.deliver(event_batch(4, 3))) == [4, 5, 6]


async def test_a_restart_the_sink_has_not_noticed_yet_costs_no_failed_delivery(
        restarting: tuple[Mosquitto, MqttSink]) -> None:
    broker, sink = restarting
    # Stopped and started without yielding to the event loop: the sink still holds the old connection
    # and finds out only while publishing on it, then sends the batch again on a new one.
    broker.stop()
    broker.start()
    assert await received_while(broker, lambda: asyncio.wait_for(sink.deliver(event_batch(4, 3)), 5)) == [
        4, 5, 6]


@pytest.fixture
def password_broker(servers: Servers, tmp_path: Path) -> Mosquitto:
    """A broker that lets in alice with the password secret, and nobody else."""
    passwords = tmp_path / "passwords"
    subprocess.run([need_binary("mosquitto_passwd"), "-b", "-c", str(passwords), "alice", "secret"],
                   check=True, capture_output=True)
    return servers.start(Mosquitto, "allow_anonymous false", f"password_file {passwords}")


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong"), (None, None)])
async def test_refused_credentials_fail_for_good(password_broker: Mosquitto, username: str | None,
                                                 password: str | None) -> None:
    failed = await failure(mqtt_sink(url=f"mqtt://{HOST}:{password_broker.port}", username=username,
                                     password=password), event_batch(1, 1))
    assert failed.permanent
    assert "refused the connection" in failed.message
    assert "authori" in failed.message.lower()


async def test_the_right_password_is_let_in(password_broker: Mosquitto) -> None:
    await delivered(mqtt_sink(url=f"mqtt://{HOST}:{password_broker.port}", username="alice",
                              password="secret"), event_batch(1, 2))


# --- TLS ------------------------------------------------------------------------------------------------

@pytest.fixture
def tls_broker(servers: Servers, tmp_path: Path) -> tuple[Mosquitto, str]:
    ca_pem, cert_file, key_file = make_certificates(tmp_path)
    broker = servers.start(Mosquitto, f"certfile {cert_file}", f"keyfile {key_file}", "allow_anonymous true")
    return broker, ca_pem


async def test_mqtts_with_the_private_ca_delivers(tls_broker: tuple[Mosquitto, str]) -> None:
    broker, ca_pem = tls_broker
    sink = mqtt_sink(url=f"mqtts://localhost:{broker.port}", topic="t/{kind}", ca_certificate=ca_pem)
    await delivered(sink, event_batch(1, 3))


async def test_mqtts_without_the_ca_is_refused(tls_broker: tuple[Mosquitto, str]) -> None:
    broker, _ = tls_broker
    sink = mqtt_sink(url=f"mqtts://localhost:{broker.port}", topic="t/{kind}")
    failed = await failure(sink, event_batch(1, 1))
    assert "certificate verify failed" in failed.message


async def test_tls_insecure_skips_only_the_name_check(tls_broker: tuple[Mosquitto, str]) -> None:
    broker, ca_pem = tls_broker
    # The certificate names localhost, not 127.0.0.1.
    url = f"mqtts://127.0.0.1:{broker.port}"
    strict = mqtt_sink(url=url, topic="t/{kind}", ca_certificate=ca_pem)
    insecure = mqtt_sink(url=url, topic="t/{kind}", ca_certificate=ca_pem, tls_insecure=True)
    unknown_ca = mqtt_sink(url=url, topic="t/{kind}", tls_insecure=True)
    try:
        with pytest.raises(DeliveryFailed):
            await strict.deliver(event_batch(1, 1))
        await insecure.deliver(event_batch(1, 1))
        with pytest.raises(DeliveryFailed):
            await unknown_ca.deliver(event_batch(1, 1))
    finally:
        for sink in (strict, insecure, unknown_ca):
            await sink.close()


async def test_a_ca_certificate_that_is_not_pem_fails_for_good(tls_broker: tuple[Mosquitto, str]) -> None:
    broker, _ = tls_broker
    failed = await failure(mqtt_sink(url=f"mqtts://localhost:{broker.port}",
                                     ca_certificate="-----BEGIN CERTIFICATE-----\nno"), event_batch(1, 1))
    assert failed.permanent
    assert "ca_certificate" in failed.message
