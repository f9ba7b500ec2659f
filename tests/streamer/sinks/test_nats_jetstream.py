"""The NATS JetStream sink beyond the shared contract and what it shares with the MQTT sink
(test_brokers.py): deduplication by message id, refusals and reconnecting.

Most tests use the shared server on 127.0.0.1:4222 with a stream of their own (the harness). What that
server is not set up for (passwords, tokens, permissions, being restarted) runs against a nats-server of
the test's own on a free port (servers.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest

from cellstream.streamer.sinks.nats_jetstream import NatsSink
from tests.contracts.sink_harnesses.base import event_batch
from tests.contracts.sink_harnesses.nats_jetstream import Harness
from tests.e2e.conftest import free_port
from tests.streamer.sinks.delivery import delivered, failure, opened
from tests.streamer.sinks.servers import HOST, NatsServer, Servers

nats_sink = partial(opened, NatsSink, "Nats")  # nats_sink(url=…, settings=…, other credentials)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with Harness() as prepared:
        yield prepared


# --- deduplication ----------------------------------------------------------------------------------------

async def test_each_message_carries_the_batch_delivery_id_and_its_index(harness: Harness) -> None:
    batch = event_batch(11, 3)
    await delivered(nats_sink(**harness.credentials()), batch)
    stored = await harness.wait_for(3)
    assert [(m.headers or {}).get("Nats-Msg-Id") for m in stored] == [
        f"{batch.delivery_id}-{n}" for n in range(3)]
    assert batch.delivery_id == "c0ffee01-e11-13"


async def test_a_batch_delivered_twice_is_stored_once(harness: Harness) -> None:
    sink = nats_sink(**harness.credentials())
    # The second batch is the engine retrying after a lost acknowledgement.
    await delivered(sink, event_batch(1, 5), event_batch(1, 5), event_batch(6, 2))
    assert await harness.stored() == 7
    assert await harness.received_ids(7) == [1, 2, 3, 4, 5, 6, 7]


async def test_a_second_sink_redelivering_the_batch_is_deduplicated_too(harness: Harness) -> None:
    # The duplicate window belongs to the stream, so a restarted streamer (a new sink) is covered as well.
    first, second = nats_sink(**harness.credentials()), nats_sink(**harness.credentials())
    try:
        await first.deliver(event_batch(1, 4))
        await second.deliver(event_batch(1, 4))
    finally:
        await first.close()
        await second.close()
    assert await harness.stored() == 4


# --- failures ---------------------------------------------------------------------------------------------

async def test_no_stream_for_the_subject_fails_for_good() -> None:
    subject = f"cellstream-nostream.{uuid.uuid4().hex}"
    failed = await failure(nats_sink(url="nats://127.0.0.1:4222", subject=f"{subject}.{{kind}}"),
                           event_batch(1, 3))
    assert failed.permanent
    assert f"no JetStream stream covers subject '{subject}.events'" in failed.message


async def test_nothing_listening_is_a_failure_worth_retrying() -> None:
    sink = nats_sink(url=f"nats://{HOST}:{free_port()}")
    started = time.monotonic()
    failed = await failure(sink, event_batch(1, 1))
    assert not failed.permanent
    assert "cannot connect to the NATS server" in failed.message
    assert "connect call failed" in failed.message.lower()
    assert time.monotonic() - started < 3


# --- a server of the test's own -------------------------------------------------------------------------

@pytest.fixture
async def restarting(servers: Servers) -> AsyncIterator[tuple[NatsServer, NatsSink]]:
    """A server of the test's own and a sink that has delivered a first batch (ids 1-3) to it."""
    server = servers.start(NatsServer)
    await server.add_stream("RESTART", ["restart.>"])
    sink = nats_sink(url=server.url, subject="restart.{kind}")
    try:
        await sink.deliver(event_batch(1, 3))
        yield server, sink
    finally:
        await sink.close()


async def test_a_server_restart_fails_one_delivery_and_the_next_succeeds(
        restarting: tuple[NatsServer, NatsSink]) -> None:
    server, sink = restarting
    server.stop()
    failed = await failure(sink, event_batch(4, 3), then_close=False)
    assert not failed.permanent
    server.start()
    await sink.deliver(event_batch(4, 3))
    assert await server.stored("RESTART") == [1, 2, 3, 4, 5, 6]


async def test_a_restart_the_sink_has_not_noticed_yet_costs_no_failed_delivery(
        restarting: tuple[NatsServer, NatsSink]) -> None:
    server, sink = restarting
    # Stopped and started without yielding to the event loop: the sink still holds the old connection
    # and finds out only while publishing on it, then sends the batch again on a new one.
    server.stop()
    server.start()
    await asyncio.wait_for(sink.deliver(event_batch(4, 3)), 5)
    assert await server.stored("RESTART") == [1, 2, 3, 4, 5, 6]


USERS = '''authorization {
  users = [
    {user: "writer", password: "secret", permissions: {publish: {deny: ["forbidden.>"]}}}
  ]
}'''


@pytest.mark.parametrize("auth", [{"user": "writer", "password": "wrong"}, {"user": "nobody"}, {}])
async def test_refused_credentials_fail_for_good(servers: Servers, auth: dict[str, str]) -> None:
    server = servers.start(NatsServer, USERS)
    credentials: dict[str, Any] = {"url": server.url, **auth}
    failed = await failure(nats_sink(**credentials), event_batch(1, 1))
    assert failed.permanent
    assert "authorization violation" in failed.message.lower()


async def test_the_right_user_and_password_are_let_in(servers: Servers) -> None:
    server = servers.start(NatsServer, USERS)
    await server.add_stream("USERS", ["users.>"], user="writer", password="secret")
    await delivered(nats_sink(url=server.url, subject="users.{kind}", user="writer", password="secret"),
                    event_batch(1, 3))
    assert await server.stored("USERS", user="writer", password="secret") == [1, 2, 3]


async def test_a_publish_the_permissions_deny_fails_for_good_at_once(servers: Servers) -> None:
    server = servers.start(NatsServer, USERS)
    await server.add_stream("FORBIDDEN", ["forbidden.>"], user="writer", password="secret")
    sink = nats_sink(url=server.url, subject="forbidden.{kind}", user="writer", password="secret")
    started = time.monotonic()
    failed = await failure(sink, event_batch(1, 3))
    assert failed.permanent
    assert "permissions violation" in failed.message.lower()
    assert time.monotonic() - started < 5, "waited for acknowledgements that never come"


@pytest.mark.parametrize(("token", "lets_in"), [("s3cret-token", True), ("other-token", False)])
async def test_a_token_is_checked(servers: Servers, token: str, lets_in: bool) -> None:
    server = servers.start(NatsServer, 'authorization { token: "s3cret-token" }')
    if lets_in:
        await server.add_stream("TOKEN", ["token.>"], token=token)
    sink = nats_sink(url=server.url, subject="token.{kind}", token=token)
    if lets_in:
        await delivered(sink, event_batch(1, 2))
        assert await server.stored("TOKEN", token=token) == [1, 2]
    else:
        assert (await failure(sink, event_batch(1, 2))).permanent
