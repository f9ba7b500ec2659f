"""The MQTT sink beyond the shared contract: topic templates, acknowledgements, refusals and reconnecting.

Most tests use the shared Mosquitto on 127.0.0.1:1883. What that broker is not set up for (passwords, TLS,
being restarted) runs against a Mosquitto of the test's own on a free port; acknowledgements are checked
against a minimal broker written here, because a real one acknowledges at once and so cannot show that
`deliver` waits for the acknowledgement.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import aiomqtt
import msgspec
import pytest

from cellstream.streamer.destinations import parse_credentials
from cellstream.streamer.sinks import open_sink
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, SinkSettings
from cellstream.streamer.sinks.mqtt import MqttSink
from tests.conftest import IN_CI
from tests.contracts.sink_harnesses.base import event_batch
from tests.contracts.sink_harnesses.mqtt import HOST, Harness, unused_port

PRIVATE_OK = SinkSettings(allow_private_destinations=True)


def mqtt_sink(*, settings: SinkSettings = PRIVATE_OK, **credentials: Any) -> MqttSink:
    sink = open_sink("Mqtt", parse_credentials("Mqtt", credentials), settings)
    assert isinstance(sink, MqttSink)
    return sink


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with Harness() as prepared:
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


# --- topics -----------------------------------------------------------------------------------------------

async def test_an_event_topic_has_every_placeholder_filled(harness: Harness) -> None:
    topic = f"{harness.topic}/{{organisation_id}}/{{event_type_id}}/{{endpoint_id}}/{{stream_id}}/{{kind}}"
    sink = mqtt_sink(url="mqtt://127.0.0.1:1883", topic=topic)
    try:
        await sink.deliver(event_batch(1, 6))
    finally:
        await sink.close()
    arrived = await harness.wait_for(6)
    # event_batch: event n has type 1 + n % 5 and endpoint 100 + n % 3, organisation 7
    assert [t for t, _ in arrived] == [f"{harness.topic}/7/{1 + n % 5}/{100 + n % 3}/c0ffee01/events"
                                       for n in range(6)]
    assert ids([p for _, p in arrived]) == [1, 2, 3, 4, 5, 6]


async def test_a_usage_topic_says_usage_for_the_event_type_and_none_for_a_missing_endpoint(
        harness: Harness) -> None:
    sink = mqtt_sink(url="mqtt://127.0.0.1:1883",
                     topic=f"{harness.topic}/{{organisation_id}}/{{event_type_id}}/{{endpoint_id}}/{{kind}}")
    try:
        await sink.deliver(usage_batch(40, [100, None]))
    finally:
        await sink.close()
    arrived = await harness.wait_for(2)
    assert [t for t, _ in arrived] == [f"{harness.topic}/7/usage/100/usage",
                                       f"{harness.topic}/7/usage/none/usage"]


async def test_a_topic_without_record_fields_never_decodes_the_records(harness: Harness) -> None:
    # Records that are not JSON pass untouched: only the batch was needed for this topic.
    batch = Batch("c0ffee01", 7, "usage", [b"not json", b"[1, 2"], 1, 2)
    sink = mqtt_sink(url="mqtt://127.0.0.1:1883",
                     topic=f"{harness.topic}/{{stream_id}}/{{kind}}/{{event_type_id}}")
    try:
        await sink.deliver(batch)
    finally:
        await sink.close()
    assert await harness.wait_for(2) == [(f"{harness.topic}/c0ffee01/usage/usage", b"not json"),
                                         (f"{harness.topic}/c0ffee01/usage/usage", b"[1, 2")]


@pytest.mark.parametrize(("topic", "says"), [
    ("cellstream/{organisation}/x", "unknown placeholder(s) {organisation}"),
    ("cellstream/+/{kind}", "wildcard"),
    ("cellstream/#", "wildcard"),
])
async def test_a_topic_template_that_cannot_work_fails_for_good(topic: str, says: str) -> None:
    sink = mqtt_sink(url="mqtt://127.0.0.1:1883", topic=topic)
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(1, 2))
    finally:
        await sink.close()
    assert failed.value.permanent
    assert says in failed.value.message


async def test_a_thousand_records_arrive_in_order_in_one_batch(harness: Harness) -> None:
    sink = mqtt_sink(**harness.credentials())
    assert sink.max_batch == 1000
    assert sink.linger_ms == 0
    try:
        await sink.deliver(event_batch(1, 1000))
    finally:
        await sink.close()
    assert await harness.received_ids(1000) == list(range(1, 1001))


async def test_qos_2_is_delivered_once(harness: Harness) -> None:
    sink = mqtt_sink(**{**harness.credentials(), "qos": 2})
    try:
        await sink.deliver(event_batch(1, 5))
    finally:
        await sink.close()
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
    sink = mqtt_sink(url=f"mqtt://{HOST}:{unused_port()}")
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(1, 1))
    finally:
        await sink.close()
    assert not failed.value.permanent
    assert "cannot connect to the MQTT broker" in failed.value.message


@pytest.mark.parametrize("url", ["mqtt://127.0.0.1:1883", "mqtt://localhost:1883"])
async def test_a_private_broker_is_refused_unless_allowed(url: str) -> None:
    sink = mqtt_sink(settings=SinkSettings(), url=url)
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(1, 1))
    finally:
        await sink.close()
    assert failed.value.permanent
    assert "non-public address" in failed.value.message


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


async def test_a_closed_sink_connects_again_when_asked_to_deliver(harness: Harness) -> None:
    sink = mqtt_sink(**harness.credentials())
    try:
        await sink.deliver(event_batch(1, 2))
        await sink.close()
        await sink.deliver(event_batch(3, 2))
    finally:
        await sink.close()
    assert await harness.received_ids(4) == [1, 2, 3, 4]


# --- a broker of the test's own -------------------------------------------------------------------------

def need_binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        if IN_CI:
            pytest.fail(f"{name} is required under CI but not installed")
        pytest.skip(f"{name} not installed")
    return found


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"the server did not listen on {port}: {log.read_text(errors='replace')}")


class Mosquitto:
    """A broker of one test on a free port, configured by `lines`; `stop` and `start` restart it there."""

    def __init__(self, directory: Path, lines: Sequence[str] = ()) -> None:
        self.port = unused_port()
        self.log = directory / "mosquitto.log"
        self.conf = directory / "mosquitto.conf"
        # As root, mosquitto would switch to the `mosquitto` user, which cannot read the test's files.
        root = ["user root"] if os.geteuid() == 0 else []
        self.conf.write_text("\n".join([f"listener {self.port} {HOST}", "persistence false", *root, *lines,
                                        ""]))
        self._binary = need_binary("mosquitto")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self._process = subprocess.Popen([self._binary, "-c", str(self.conf)], stdout=out,
                                             stderr=subprocess.STDOUT)
        wait_listening(self.port, self._process, self.log)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    started: list[Mosquitto] = []

    def start(*lines: str) -> Mosquitto:
        directory = tmp_path / f"broker{len(started)}"
        directory.mkdir()
        broker = Mosquitto(directory, lines)
        started.append(broker)
        broker.start()
        return broker

    try:
        yield start
    finally:
        for broker in started:
            broker.stop()


async def test_a_broker_restart_fails_one_delivery_and_the_next_succeeds(
        own_mosquitto: Callable[..., Mosquitto]) -> None:
    broker = own_mosquitto("allow_anonymous true")
    sink = mqtt_sink(url=f"mqtt://{HOST}:{broker.port}", topic="t/{kind}")
    try:
        await sink.deliver(event_batch(1, 3))
        broker.stop()
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(4, 3))
        assert not failed.value.permanent
        broker.start()
        async with aiomqtt.Client(HOST, broker.port) as subscriber:
            await subscriber.subscribe("t/#", qos=1)
            await sink.deliver(event_batch(4, 3))
            got = []
            async with asyncio.timeout(5):
                async for message in subscriber.messages:
                    assert isinstance(message.payload, bytes)
                    got.append(message.payload)
                    if len(got) == 3:
                        break
        assert ids(got) == [4, 5, 6]
    finally:
        await sink.close()


async def test_a_restart_the_sink_has_not_noticed_yet_costs_no_failed_delivery(
        own_mosquitto: Callable[..., Mosquitto]) -> None:
    broker = own_mosquitto("allow_anonymous true")
    sink = mqtt_sink(url=f"mqtt://{HOST}:{broker.port}", topic="t/{kind}")
    try:
        await sink.deliver(event_batch(1, 3))
        # Stopped and started without yielding to the event loop: the sink still holds the old connection
        # and finds out only while publishing on it, then sends the batch again on a new one.
        broker.stop()
        broker.start()
        async with aiomqtt.Client(HOST, broker.port) as subscriber:
            await subscriber.subscribe("t/#", qos=1)
            await asyncio.wait_for(sink.deliver(event_batch(4, 3)), 5)
            got = []
            async with asyncio.timeout(5):
                async for message in subscriber.messages:
                    assert isinstance(message.payload, bytes)
                    got.append(message.payload)
                    if len(got) == 3:
                        break
        assert ids(got) == [4, 5, 6]
    finally:
        await sink.close()


@pytest.fixture
def password_broker(own_mosquitto: Callable[..., Mosquitto], tmp_path: Path) -> Mosquitto:
    """A broker that lets in alice with the password secret, and nobody else."""
    passwords = tmp_path / "passwords"
    subprocess.run([need_binary("mosquitto_passwd"), "-b", "-c", str(passwords), "alice", "secret"],
                   check=True, capture_output=True)
    return own_mosquitto("allow_anonymous false", f"password_file {passwords}")


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong"), (None, None)])
async def test_refused_credentials_fail_for_good(password_broker: Mosquitto, username: str | None,
                                                 password: str | None) -> None:
    broker = password_broker
    sink = mqtt_sink(url=f"mqtt://{HOST}:{broker.port}", username=username, password=password)
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(1, 1))
    finally:
        await sink.close()
    assert failed.value.permanent
    assert "refused the connection" in failed.value.message
    assert "authori" in failed.value.message.lower()


async def test_the_right_password_is_let_in(password_broker: Mosquitto) -> None:
    broker = password_broker
    sink = mqtt_sink(url=f"mqtt://{HOST}:{broker.port}", username="alice", password="secret")
    try:
        await sink.deliver(event_batch(1, 2))
    finally:
        await sink.close()


# --- TLS ------------------------------------------------------------------------------------------------

def make_certificates(directory: Path) -> tuple[str, Path, Path]:
    """A private CA (its PEM returned) and a server certificate it signed, for the name `localhost` only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
                    issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False), critical=True)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                                            critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("cellstream test CA", ca_key, "cellstream test CA", ca_key, ca=True)
    server = certificate("localhost", server_key, "cellstream test CA", ca_key, ca=False)
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(server_key.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                                  serialization.NoEncryption()))
    return ca.public_bytes(serialization.Encoding.PEM).decode(), cert_file, key_file


@pytest.fixture
def tls_broker(own_mosquitto: Callable[..., Mosquitto], tmp_path: Path) -> tuple[Mosquitto, str]:
    ca_pem, cert_file, key_file = make_certificates(tmp_path)
    return own_mosquitto(f"certfile {cert_file}", f"keyfile {key_file}", "allow_anonymous true"), ca_pem


async def test_mqtts_with_the_private_ca_delivers(tls_broker: tuple[Mosquitto, str]) -> None:
    broker, ca_pem = tls_broker
    sink = mqtt_sink(url=f"mqtts://localhost:{broker.port}", topic="t/{kind}", ca_certificate=ca_pem)
    try:
        await sink.deliver(event_batch(1, 3))
    finally:
        await sink.close()


async def test_mqtts_without_the_ca_is_refused(tls_broker: tuple[Mosquitto, str]) -> None:
    broker, _ = tls_broker
    sink = mqtt_sink(url=f"mqtts://localhost:{broker.port}", topic="t/{kind}")
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(1, 1))
    finally:
        await sink.close()
    assert "certificate verify failed" in failed.value.message


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
    sink = mqtt_sink(url=f"mqtts://localhost:{broker.port}", ca_certificate="-----BEGIN CERTIFICATE-----\nno")
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(1, 1))
    finally:
        await sink.close()
    assert failed.value.permanent
    assert "ca_certificate" in failed.value.message
