"""`Mqtt`: Cellstream's own connection type. Each record becomes one MQTT message, so subscribers get the
same canonical JSON a webhook receiver gets and can route on the topic without parsing the payload.

The topic comes from the template `credentials.topic` with the placeholders {organisation_id},
{event_type_id}, {endpoint_id}, {stream_id} and {kind}; usage records have no event type, so
{event_type_id} renders as `usage`, and a value a record lacks renders as `none`. Records are decoded only
when the template needs one of their fields.

Delivery: a batch is published over one connection that stays open between batches. The messages are
handed to the client in log order and then acknowledged concurrently (up to the client's in-flight
window), because waiting for each PUBACK before sending the next message would cost one round trip per
record. MQTT keeps the order of one client's messages of one QoS on a topic, so subscribers still see log
order. With QoS 1 or 2 `deliver` returns only after the broker acknowledged every message (QoS 0 has no
acknowledgement: it returns once the messages are written to the socket).

A connection the broker closes is noticed as it closes and replaced before the next batch. When that
happens while a batch is being published on a connection that had been idle, the batch is sent once more
on a fresh connection instead of failing a delivery that would succeed a moment later. Sending again
leaves duplicates at worst, which QoS 1 allows anyway.

Failures are `DeliveryFailed`: a broker that refuses the credentials or the client id, a template that
cannot make a valid topic, a CA certificate that is not PEM and a private address that is not allowed are
permanent; refused connections, timeouts and dropped connections are retried by the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from cellstream.streamer.destinations import Credentials, MqttCredentials
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, SinkSettings
from cellstream.streamer.sinks.brokers import (
    BrokerUrl,
    Lost,
    abandon,
    checked_names,
    public_address,
    send_once_more_if_idle,
)
from cellstream.streamer.sinks.templates import Template

MAX_BATCH = 1000
TIMEOUT_S = 10.0  # connect, and each acknowledgement (plus the allowance below)
ACK_TIME_PER_RECORD_S = 0.01  # 1000 records: 20 s, enough for 50 windows of 20 messages at 400 ms each
CLOSE_TIMEOUT_S = 2.0  # a connection being dropped after a failure gets less: it is probably dead already
SCHEMES = {"mqtt": (1883, False), "mqtts": (8883, True)}

# CONNACK codes after which reconnecting with the same configuration cannot succeed. MQTT 3.1.1 codes
# (1 protocol version, 2 client id, 4 bad user name or password, 5 not authorised) arrive as the MQTT 5
# reason codes paho maps them to; both are listed. Server unavailable, busy or rate limits are transient.
REFUSED_FOR_GOOD = {1, 2, 4, 5, 129, 130, 132, 133, 134, 135, 138, 140}
LOST = {paho.MQTT_ERR_NO_CONN, paho.MQTT_ERR_CONN_LOST}
TIMED_OUT = "Operation timed out"  # aiomqtt's only way of saying so: a plain MqttError with this text


# --- topics: the template renders them (templates.py), MQTT's rules decide which are valid -------------

def _topic_problem(topic: str) -> str | None:
    if not topic:
        return "is empty"
    if "+" in topic or "#" in topic:
        return "contains a wildcard (+ or #), which only subscriptions may use"
    if "\0" in topic:
        return "contains a NUL character"
    if len(topic.encode()) > 65535:
        return "is longer than 65535 bytes"
    return None


# --- the sink ------------------------------------------------------------------------------------------


class _ClosingSSLSocket(ssl.SSLSocket):
    """paho drops the socket of a failed TLS handshake without closing it; this closes it at once instead
    of leaving it to the garbage collector (which warns about it)."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


class MqttSink:
    def __init__(self, credentials: MqttCredentials, settings: SinkSettings) -> None:
        self._c = credentials
        self._private_ok = settings.allow_private_destinations
        self._template = Template(credentials.topic, "topic", _topic_problem)
        self._client: aiomqtt.Client | None = None
        self._watch: asyncio.Task[None] | None = None  # ends when the client's connection does
        url = BrokerUrl.parse(credentials.url, SCHEMES)
        self._host, self._port, self._tls = url.host, url.port, url.tls
        self._problem = url.problem or self._template.problem

    @property
    def max_batch(self) -> int:
        return MAX_BATCH

    @property
    def linger_ms(self) -> int:
        return 0

    @property
    def _where(self) -> str:
        return f"MQTT broker {self._host}:{self._port}"

    async def deliver(self, batch: Batch) -> None:
        if not batch.records:
            return
        topics = checked_names(batch, self._template, self._problem, MAX_BATCH)
        reused = self._client is not None and self._watch is not None and not self._watch.done()
        # Sending again leaves duplicates at worst, which QoS 1 allows anyway.
        await send_once_more_if_idle(lambda: self._publish(topics, batch.records), reused=reused)

    async def _publish(self, topics: Sequence[str], records: Sequence[bytes]) -> None:
        client = await self._connected()
        assert self._watch is not None
        qos = self._c.qos
        # paho keeps at most 20 messages unacknowledged and queues the rest, so the last message of a big
        # batch waits for many round trips before it is even sent: its time to be acknowledged grows with it.
        timeout = TIMEOUT_S + len(records) * ACK_TIME_PER_RECORD_S
        # gather starts the publishes in order and each hands its message to paho before its first await,
        # so the messages go out in log order while their acknowledgements are awaited together.
        publishing = asyncio.gather(
            *(client.publish(topic, record, qos=qos, timeout=timeout) for topic, record in zip(
                topics, records, strict=True)),
            return_exceptions=True)
        # aiomqtt leaves a publish waiting for its acknowledgement until the timeout even after the
        # connection is gone; racing the watch turns a lost connection into an immediate failure.
        either: set[asyncio.Future[Any]] = {publishing, self._watch}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost = not publishing.done()
            await abandon(publishing)  # a no-op when every publish finished
        if lost:
            await self._drop()
            raise Lost(DeliveryFailed(f"the connection to the {self._where} was lost while publishing"))
        results = publishing.result()
        failures = [r for r in results if isinstance(r, BaseException)]
        if not failures:
            return
        await self._drop()
        first = failures[0]
        acked = len(results) - len(failures)
        if isinstance(first, aiomqtt.MqttCodeError) and first.rc in LOST:
            raise Lost(DeliveryFailed(f"the connection to the {self._where} was lost "
                                      f"({acked} of {len(records)} messages acknowledged): {first}"))
        if isinstance(first, aiomqtt.MqttError):
            raise DeliveryFailed(f"publishing to the {self._where} failed ({acked} of {len(records)} "
                                 f"messages acknowledged): {first}") from None
        if isinstance(first, ValueError):  # paho's own check of a topic or payload
            raise DeliveryFailed(f"the {self._where} cannot take the message: {first}", permanent=True)
        raise DeliveryFailed(f"publishing to the {self._where} failed: {first!r}") from None

    async def _connected(self) -> aiomqtt.Client:
        if self._client is not None and self._watch is not None and not self._watch.done():
            return self._client
        await self._drop()  # gone since the last batch, if there was one
        host = await self._address()
        try:
            client = aiomqtt.Client(
                host, self._port, username=self._c.username, password=self._c.password,
                identifier=self._c.client_id, tls_context=self._tls_context() if self._tls else None,
                # paho checks the broker's name itself unless told the context does (or nobody should).
                tls_insecure=self._c.tls_insecure if self._tls else None, timeout=TIMEOUT_S)
        except ValueError as exc:
            raise DeliveryFailed(f"cannot configure the MQTT client: {exc}", permanent=True) from None
        # aiomqtt logs a warning for every publish beyond 10 pending; a whole batch pending is the plan.
        client.pending_calls_threshold = MAX_BATCH + 1
        try:
            await client.__aenter__()
        except aiomqtt.MqttCodeError as exc:  # only a negative CONNACK carries a code here
            code = exc.rc.value if isinstance(exc.rc, ReasonCode) else exc.rc
            raise DeliveryFailed(f"the {self._where} refused the connection: {exc}",
                                 permanent=code in REFUSED_FOR_GOOD) from None
        except aiomqtt.MqttError as exc:
            if str(exc) == TIMED_OUT:
                # The socket is open but the broker never answered: close it rather than leak it.
                await self._discard(client)
            raise DeliveryFailed(f"cannot connect to the {self._where}: {exc}") from None
        except OSError as exc:  # TLS set-up problems paho raises outside connect()
            raise DeliveryFailed(f"cannot connect to the {self._where}: {exc}") from None
        self._client = client
        self._watch = asyncio.create_task(_until_lost(client))
        return client

    async def _address(self) -> str:
        """The host to connect to: checked to be public unless private destinations are allowed."""
        if self._private_ok:
            return self._host
        address = await public_address(self._host, self._port, "MQTT")
        # TLS needs the name for certificate verification, so there the check and the connection resolve
        # separately.
        return self._host if self._tls else address

    def _tls_context(self) -> ssl.SSLContext:
        try:
            # A private CA replaces the public ones: a broker with a private CA has no public certificate.
            context = ssl.create_default_context(cadata=self._c.ca_certificate or None)
        except ssl.SSLError as exc:
            raise DeliveryFailed(f"ca_certificate is not a PEM certificate: {exc}", permanent=True) from None
        if self._c.tls_insecure:
            # As mosquitto_pub --insecure: the broker's name is not checked, its certificate chain still is.
            context.check_hostname = False
        context.sslsocket_class = _ClosingSSLSocket
        return context

    async def _drop(self) -> None:
        client, self._client = self._client, None
        watch, self._watch = self._watch, None
        if watch is not None:
            await abandon(watch)
        if client is not None:
            await self._discard(client)

    @staticmethod
    async def _discard(client: aiomqtt.Client) -> None:
        client.timeout = CLOSE_TIMEOUT_S
        # The connection is being abandoned: how its goodbye goes changes nothing for the caller.
        with contextlib.suppress(aiomqtt.MqttError, OSError):
            await client.__aexit__(None, None, None)

    async def close(self) -> None:
        await self._drop()


async def _until_lost(client: aiomqtt.Client) -> None:
    """Returns when the connection ends: the sink subscribes to nothing, so aiomqtt's message iterator
    yields nothing and only raises, when the connection is gone (its public way of saying so)."""
    with contextlib.suppress(aiomqtt.MqttError):
        async for _ in client.messages:
            pass


def open_sink(credentials: Credentials, settings: SinkSettings, secrets: Sequence[str]) -> MqttSink:
    assert isinstance(credentials, MqttCredentials)
    return MqttSink(credentials, settings)
