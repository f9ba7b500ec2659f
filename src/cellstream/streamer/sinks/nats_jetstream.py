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
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck

from cellstream.streamer.addresses import is_private, resolve
from cellstream.streamer.destinations import Credentials, NatsCredentials
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, SinkSettings

MAX_BATCH = 1000
CONNECT_TIMEOUT_S = 5
ACK_TIMEOUT_S = 10.0  # for all acknowledgements of a batch, counted from the last publish
SCHEMES = {"nats": False, "tls": True}
MESSAGE_TOO_LARGE = 10054  # JetStream's error code: the stream's max_msg_size is below the record's size
REFUSED_FOR_GOOD = ("authorization violation", "authentication expired")  # compared in lower case


# --- subject templates (the MQTT sink has the same rules for its topics) ---------------------------------

PLACEHOLDERS = ("organisation_id", "event_type_id", "endpoint_id", "stream_id", "kind")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class _Ref(msgspec.Struct):
    id: int | str | None = None


class _Fields(msgspec.Struct):
    """The only parts of a record a template can use; msgspec skips everything else while decoding."""

    organisation: _Ref | None = None
    event_type: _Ref | None = None
    endpoint: _Ref | None = None


_decode_fields = msgspec.json.Decoder(_Fields).decode


def _id(ref: _Ref | None) -> str:
    return "none" if ref is None or ref.id is None else str(ref.id)


class SubjectTemplate:
    """A subject template, split once into literal text and placeholder names."""

    def __init__(self, template: str) -> None:
        self.template = template
        self._parts = _PLACEHOLDER.split(template)  # literal, name, literal, name, …, literal
        names = set(self._parts[1::2])
        unknown = sorted(names - set(PLACEHOLDERS))
        self.problem: str | None = None
        if unknown:
            self.problem = (f"subject template {template!r} has unknown placeholder(s) "
                            f"{', '.join('{' + u + '}' for u in unknown)}; use "
                            f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
        self._names = names

    def _join(self, values: dict[str, str]) -> str:
        parts = self._parts[:]
        parts[1::2] = [values[name] for name in self._parts[1::2]]
        return "".join(parts)

    def render(self, batch: Batch) -> list[str]:
        """The subject of each record of `batch`."""
        values = {"stream_id": batch.stream_id, "kind": batch.kind}
        if batch.kind == "usage":
            values["event_type_id"] = "usage"
        if self._names <= values.keys():
            return [self._join(values)] * len(batch.records)
        subjects = []
        for n, record in enumerate(batch.records):
            try:
                fields = _decode_fields(record)
            except msgspec.DecodeError as exc:
                raise DeliveryFailed(f"record {n} of batch {batch.delivery_id} is not a JSON object with the "
                                     f"fields the subject template needs: {exc}", permanent=True) from None
            values["organisation_id"] = _id(fields.organisation)
            values["endpoint_id"] = _id(fields.endpoint)
            if batch.kind == "events":
                values["event_type_id"] = _id(fields.event_type)
            subjects.append(self._join(values))
        return subjects


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


class _Lost(Exception):  # a signal inside this module, never raised out of it
    """The connection was gone while the batch was published."""

    def __init__(self, failure: DeliveryFailed) -> None:
        super().__init__(failure.message)
        self.failure = failure


class NatsSink:
    def __init__(self, credentials: NatsCredentials, settings: SinkSettings) -> None:
        self._c = credentials
        self._private_ok = settings.allow_private_destinations
        self._template = SubjectTemplate(credentials.subject)
        self._problem = self._template.problem
        parts = urlsplit(credentials.url)
        self._host = parts.hostname or ""
        self._tls = SCHEMES.get(parts.scheme, False)
        self._port = 4222
        try:
            self._port = parts.port or 4222
        except ValueError:
            self._problem = f"url {credentials.url!r} has an invalid port"
        if parts.scheme not in SCHEMES:
            self._problem = f"url {credentials.url!r} must start with nats:// or tls://"
        elif not self._host:
            self._problem = f"url {credentials.url!r} has no host"
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
        if self._problem:
            raise DeliveryFailed(self._problem, permanent=True)
        if len(batch.records) > MAX_BATCH:
            raise DeliveryFailed(f"{len(batch.records)} records exceed the batch limit {MAX_BATCH}",
                                 permanent=True)
        subjects = self._template.render(batch)
        for subject in set(subjects):
            problem = _subject_problem(subject)
            if problem:
                raise DeliveryFailed(f"subject {subject!r} (from template {self._c.subject!r}) {problem}",
                                     permanent=True)
        reused = self._nc is not None and self._nc.is_connected
        try:
            await self._publish(batch, subjects)
        except _Lost as lost:
            if not reused:
                raise lost.failure from None
            # Lost mid-batch on a connection that had been idle: the message ids make sending it all
            # again on a fresh connection safe, and it most likely works.
            try:
                await self._publish(batch, subjects)
            except _Lost as again:
                raise again.failure from None

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
            raise _Lost(DeliveryFailed(f"the connection to the {self._where} was lost: {exc}")) from None
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
            await _abandon(trouble)
            await _abandon(acks)  # a no-op when they all came; else stops waiting for the rest
        if acks in done:
            return acks.result()
        acked = sum(1 for f in pending if f.done() and not f.cancelled() and f.exception() is None)
        progress = f"{acked} of {len(pending)} messages acknowledged"
        if self._refusal is not None:
            raise DeliveryFailed(f"the {self._where} refused: {self._refusal} ({progress})", permanent=True)
        if trouble in done:
            await self._drop()
            raise _Lost(DeliveryFailed(f"the connection to the {self._where} was lost ({progress}): "
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
        try:
            addresses = await resolve(self._host, self._port)
        except OSError as exc:
            raise DeliveryFailed(f"host {self._host!r} of the NATS url does not resolve: {exc}") from None
        private = [a for a in addresses if is_private(a)]
        if private or not addresses:
            raise DeliveryFailed(f"{self._host} resolves to the non-public address "
                                 f"{private[0] if private else '(none)'}", permanent=True)
        return f"{scheme}://{_netloc(addresses[0], self._port)}", self._host if self._tls else None

    async def _drop(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            await nc.close()

    async def close(self) -> None:
        await self._drop()


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _abandon(future: asyncio.Future[Any]) -> None:
    """Cancel `future` if it is still running and wait until it is settled, taking its outcome so asyncio
    never reports it as unretrieved (a cancelled gather finishes with CancelledError as its exception)."""
    future.cancel()
    await asyncio.wait([future])
    if not future.cancelled():
        future.exception()


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
