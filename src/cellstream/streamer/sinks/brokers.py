"""What the two sinks that keep one connection to a message broker (MQTT, NATS JetStream) share: reading the
broker's url, what rules a batch out before anything is sent, the check that the broker is public before
connecting, sending a batch once more when the connection it went out on turns out to have died while
idle, and settling futures they stop waiting for.

Kept out of the sinks so that both behave the same and neither imports the other's client library.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cellstream.streamer.addresses import is_private, resolve
from cellstream.streamer.sinks.base import Batch, DeliveryFailed
from cellstream.streamer.sinks.templates import Template


@dataclass(frozen=True)
class BrokerUrl:
    """A broker's url as the sink connects to it; `problem` says why it cannot be used, if it cannot (a sink
    reports that on delivery, so a stream with a bad url fails like any other misconfiguration)."""

    host: str
    port: int
    tls: bool
    problem: str | None

    @classmethod
    def parse(cls, url: str, schemes: Mapping[str, tuple[int, bool]]) -> BrokerUrl:
        """`schemes`: each scheme the sink takes, with its default port and whether it means TLS."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port, tls = schemes.get(parts.scheme, (0, False))
        problem = None
        try:
            port = parts.port or port
        except ValueError:
            problem = f"url {url!r} has an invalid port"
        if parts.scheme not in schemes:
            problem = f"url {url!r} must start with {' or '.join(f'{scheme}://' for scheme in schemes)}"
        elif not host:
            problem = f"url {url!r} has no host"
        return cls(host, port, tls, problem)


def checked_names(batch: Batch, template: Template, problem: str | None, max_batch: int) -> list[str]:
    """The name (topic, subject) each record of `batch` is published under. DeliveryFailed (permanent) when
    the sink's configuration has a `problem`, the batch is over `max_batch` or a name is not valid: a retry
    would fail the same way."""
    if problem:
        raise DeliveryFailed(problem, permanent=True)
    if len(batch.records) > max_batch:
        raise DeliveryFailed(f"{len(batch.records)} records exceed the batch limit {max_batch}",
                             permanent=True)
    return template.render(batch)


class Lost(Exception):  # a signal between a sink and `send_once_more_if_idle`, never raised out of a sink
    """The connection was gone before or while the batch was published."""

    def __init__(self, failure: DeliveryFailed) -> None:
        super().__init__(failure.message)
        self.failure = failure


async def send_once_more_if_idle(publish: Callable[[], Awaitable[None]], *, reused: bool) -> None:
    """Run `publish`; when it loses the connection and that connection had been kept from an earlier batch
    (`reused`), run it once more on a fresh one, as the broker most likely closed it while it sat idle.
    A connection lost again, or lost when it was new, is the caller's DeliveryFailed."""
    try:
        await publish()
    except Lost as lost:
        if not reused:
            raise lost.failure from None
        try:
            await publish()
        except Lost as again:
            raise again.failure from None


async def public_address(host: str, port: int, url_name: str) -> str:
    """The address to connect to for `host`: its first, once every address it resolves to is public (a
    second lookup at connect time could point elsewhere). `url_name` names the url in messages ("MQTT")."""
    try:
        addresses = await resolve(host, port)
    except OSError as exc:
        raise DeliveryFailed(f"host {host!r} of the {url_name} url does not resolve: {exc}") from None
    private = [a for a in addresses if is_private(a)]
    if private or not addresses:
        raise DeliveryFailed(f"{host} resolves to the non-public address "
                             f"{private[0] if private else '(none)'}", permanent=True)
    return addresses[0]


async def abandon(future: asyncio.Future[Any]) -> None:
    """Cancel `future` if it is still running and wait until it is settled, taking its outcome so asyncio
    never reports it as unretrieved (a cancelled gather finishes with CancelledError as its exception)."""
    future.cancel()
    await asyncio.wait([future])
    if not future.cancelled():
        future.exception()
