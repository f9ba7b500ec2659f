"""`Nats`: Cellstream's own connection type. Each record is published to JetStream as one message, so it is
stored in a stream the customer owns and consumers replay it at their own pace.

The subject comes from the template `credentials.subject` with the placeholders {organisation_id},
{event_type_id}, {endpoint_id}, {stream_id} and {kind}; usage records have no event type, so
{event_type_id} renders as `usage`, and a value a record lacks renders as `none`. Records are decoded only
when the template needs one of their fields.

Delivery: every message carries `Nats-Msg-Id: <delivery_id>-<index>`, so a batch delivered again (the
engine retries after a lost acknowledgement) is stored once as long as the retry falls within the stream's
duplicate window. `deliver` returns only after JetStream acknowledged every message.

Ordering: the messages of a batch are published one after another on one connection without waiting for
their acknowledgements (`publish_async`), then all acknowledgements are awaited together. A NATS server
processes one connection's messages in the order they arrive, so the stream stores them in log order while
a batch costs one round trip instead of one per record. Two things would break that order and are avoided:
publishing from concurrent tasks (nats-py gives no ordering between tasks), and nats-py's automatic
reconnect, which replays its unsent buffer on the new connection after the messages lost with the old one.
So the client never reconnects by itself; a connection that is gone is replaced before the next batch, and
a batch that lost its connection half-way is sent again whole, the message ids making the repeat harmless.

Failures are `DeliveryFailed`: no JetStream stream covering the subject, refused credentials, a publish the
server's permissions deny, a template that cannot make a valid subject and a private address that is not
allowed are permanent; refused connections, timeouts and dropped connections are retried by the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck

from cellstream.streamer.destinations import Credentials, NatsCredentials
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
CONNECT_TIMEOUT_S = 5
ACK_TIMEOUT_S = 10.0  # for all acknowledgements of a batch, counted from the last publish
SCHEMES = {"nats": (4222, False), "tls": (4222, True)}
MESSAGE_TOO_LARGE = 10054  # JetStream's error code: the stream's max_msg_size is below the record's size
REFUSED_FOR_GOOD = ("authorization violation", "authentication expired")  # compared in lower case


# --- subjects: the template renders them (templates.py), NATS's rules decide which are valid -----------

def _subject_problem(subject: str) -> str | None:
    if any(c.isspace() for c in subject):
        return "contains white space"
    tokens = subject.split(".")
    if not all(tokens):
        return "has an empty token (a leading, trailing or doubled '.')"
    if "*" in tokens or ">" in tokens:
        return "contains a wildcard token (* or >), which only subscriptions may use"
    return None


# --- the sink ------------------------------------------------------------------------------------------


class NatsSink:
    def __init__(self, credentials: NatsCredentials, settings: SinkSettings) -> None:
        self._c = credentials
        self._private_ok = settings.allow_private_destinations
        self._template = Template(credentials.subject, "subject", _subject_problem)
        url = BrokerUrl.parse(credentials.url, SCHEMES)
        self._host, self._port, self._tls = url.host, url.port, url.tls
        self._problem = url.problem or self._template.problem
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        # Set by the client's callbacks: the connection closed, or the server refused something.
        self._trouble = asyncio.Event()
        self._refusal: str | None = None  # the server's permissions error, if that was the trouble
        self._last_error: BaseException | None = None

    @property
    def max_batch(self) -> int:
        return MAX_BATCH

    @property
    def linger_ms(self) -> int:
        return 0

    @property
    def _where(self) -> str:
        return f"NATS server {self._host}:{self._port}"

    async def deliver(self, batch: Batch) -> None:
        if not batch.records:
            return
        subjects = checked_names(batch, self._template, self._problem, MAX_BATCH)
        reused = self._nc is not None and self._nc.is_connected
        # The message ids make sending the whole batch again safe.
        await send_once_more_if_idle(lambda: self._publish(batch, subjects), reused=reused)

    async def _publish(self, batch: Batch, subjects: Sequence[str]) -> None:
        js = await self._connected()
        self._trouble.clear()
        self._refusal = None
        pending: list[asyncio.Future[PubAck]] = []
        try:
            for n, (subject, record) in enumerate(zip(subjects, batch.records, strict=True)):
                # Awaiting each publish_async before the next keeps the messages in order on the wire.
                pending.append(await js.publish_async(
                    subject, record, headers={"Nats-Msg-Id": f"{batch.delivery_id}-{n}"}))
            results = await self._acks(pending)
        except nats.errors.MaxPayloadError:
            raise DeliveryFailed(f"a record is larger than the {self._where} accepts (max_payload)",
                                 permanent=True) from None
        except (nats.errors.ConnectionClosedError, nats.errors.OutboundBufferLimitError) as exc:
            await self._drop()
            raise Lost(DeliveryFailed(f"the connection to the {self._where} was lost: {exc}")) from None
        finally:
            _settle(pending)
        failed = next(((n, r) for n, r in enumerate(results) if isinstance(r, BaseException)), None)
        if failed is None:
            return
        n, error = failed
        acked = sum(1 for r in results if not isinstance(r, BaseException))
        progress = f"{acked} of {len(results)} messages acknowledged"
        if isinstance(error, nats.js.errors.NoStreamResponseError):
            raise await self._no_stream(subjects[n], progress)
        if isinstance(error, nats.js.errors.APIError):
            raise DeliveryFailed(f"JetStream refused the message on subject {subjects[n]!r} ({progress}): "
                                 f"{error.description} (code {error.code}, error code {error.err_code})",
                                 permanent=error.err_code == MESSAGE_TOO_LARGE)
        raise DeliveryFailed(f"publishing to subject {subjects[n]!r} failed ({progress}): {error!r}")

    async def _acks(self, pending: Sequence[asyncio.Future[PubAck]]) -> list[PubAck | BaseException]:
        """Every acknowledgement, or the reason they will not all come."""
        acks = asyncio.gather(*pending, return_exceptions=True)
        trouble = asyncio.ensure_future(self._trouble.wait())
        either: set[asyncio.Future[Any]] = {acks, trouble}
        try:
            done, _ = await asyncio.wait(either, timeout=ACK_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await abandon(trouble)
            await abandon(acks)  # a no-op when they all came; else stops waiting for the rest
        if acks in done:
            return acks.result()
        acked = sum(1 for f in pending if f.done() and not f.cancelled() and f.exception() is None)
        progress = f"{acked} of {len(pending)} messages acknowledged"
        if self._refusal is not None:
            raise DeliveryFailed(f"the {self._where} refused: {self._refusal} ({progress})", permanent=True)
        if trouble in done:
            await self._drop()
            raise Lost(DeliveryFailed(f"the connection to the {self._where} was lost ({progress}): "
                                      f"{self._last_error or 'closed'}"))
        raise DeliveryFailed(f"JetStream did not acknowledge within {ACK_TIMEOUT_S:g} s ({progress})")

    async def _no_stream(self, subject: str, progress: str) -> DeliveryFailed:
        """No responders: usually no stream covers the subject, but ask JetStream to be sure, because a
        stream that exists but has lost its leader answers the same way for a moment."""
        assert self._js is not None
        try:
            stream = await self._js.find_stream_name_by_subject(subject)
        except nats.js.errors.NotFoundError:
            return DeliveryFailed(f"no JetStream stream covers subject {subject!r} on the {self._where}; "
                                  f"create one whose subjects include it", permanent=True)
        except nats.js.errors.ServiceUnavailableError:
            return DeliveryFailed(f"JetStream is not enabled on the {self._where}, so no stream covers "
                                  f"subject {subject!r}", permanent=True)
        except (nats.errors.Error, TimeoutError) as exc:
            return DeliveryFailed(f"JetStream did not store subject {subject!r} ({progress}) and could not "
                                  f"say why: {exc!r}")
        return DeliveryFailed(f"JetStream stream {stream!r} covers subject {subject!r} but did not answer "
                              f"({progress})")

    async def _connected(self) -> JetStreamContext:
        if self._nc is not None and self._js is not None and self._nc.is_connected:
            return self._js
        await self._drop()
        server, tls_hostname = await self._server()
        nc = NatsClient()
        self._last_error = None

        # Callbacks of a connection this sink has since dropped must not disturb the current one.
        async def on_error(error: Exception) -> None:
            self._last_error = error
            if self._nc is nc and "permissions violation" in str(error).lower():
                # The server drops a denied publish without an answer: its ack would only time out.
                self._refusal = str(error)
                self._trouble.set()

        async def on_closed() -> None:
            if self._nc is nc:
                self._trouble.set()

        try:
            await nc.connect(
                servers=[server], user=self._c.user, password=self._c.password, token=self._c.token,
                name="cellstream-data-streamer", tls_hostname=tls_hostname,
                # The client must not reconnect by itself: see the module docstring. One attempt is the
                # least nats-py makes with reconnecting off (it tries twice); the wait between is short.
                allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0,
                connect_timeout=CONNECT_TIMEOUT_S,
                error_cb=on_error, disconnected_cb=on_closed, closed_cb=on_closed)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            # A failed connect leaves its transport open; closing the client releases it.
            await nc.close()
            cause = self._last_error if isinstance(exc, nats.errors.NoServersError) else exc
            refused = any(r in str(cause).lower() for r in REFUSED_FOR_GOOD)
            raise DeliveryFailed(f"cannot connect to the {self._where}: {cause or exc}",
                                 permanent=refused) from None
        self._nc, self._js = nc, nc.jetstream()
        return self._js

    async def _server(self) -> tuple[str, str | None]:
        """The server URL to connect to and the name TLS verifies: the host is checked to be public unless
        private destinations are allowed, and then the checked address is the one connected to (a second
        lookup could point elsewhere), TLS still verifying the certificate against the name."""
        scheme = "tls" if self._tls else "nats"
        if self._private_ok:
            return f"{scheme}://{_netloc(self._host, self._port)}", None
        address = await public_address(self._host, self._port, "NATS")
        return f"{scheme}://{_netloc(address, self._port)}", self._host if self._tls else None

    async def _drop(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            await nc.close()

    async def close(self) -> None:
        await self._drop()


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _settle(futures: Sequence[asyncio.Future[PubAck]]) -> None:
    """Stop waiting for the acknowledgements still open, and mark the failed ones seen, so asyncio does not
    report them as never retrieved."""
    for future in futures:
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()


def open_sink(credentials: Credentials, settings: SinkSettings, secrets: Sequence[str]) -> NatsSink:
    assert isinstance(credentials, NatsCredentials)
    return NatsSink(credentials, settings)
