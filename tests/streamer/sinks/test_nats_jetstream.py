"""The NATS JetStream sink beyond the shared contract: subject templates, deduplication by message id,
refusals and reconnecting.

Most tests use the shared server on 127.0.0.1:4222 with a stream of their own (the harness). What that
server is not set up for (passwords, tokens, permissions, being restarted) runs against a nats-server of
the test's own on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest

from cellstream.streamer.destinations import parse_credentials
from cellstream.streamer.sinks import open_sink
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, SinkSettings
from cellstream.streamer.sinks.nats_jetstream import NatsSink
from tests.conftest import IN_CI
from tests.contracts.sink_harnesses.base import event_batch
from tests.contracts.sink_harnesses.nats_jetstream import HOST, Harness, unused_port

PRIVATE_OK = SinkSettings(allow_private_destinations=True)


def nats_sink(*, settings: SinkSettings = PRIVATE_OK, **credentials: Any) -> NatsSink:
    sink = open_sink("Nats", parse_credentials("Nats", credentials), settings)
    assert isinstance(sink, NatsSink)
    return sink


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with Harness() as prepared:
        yield prepared


def usage_batch(first_id: int, endpoints: Sequence[int | None], *, org: int = 7) -> Batch:
    records = [msgspec.json.encode({
        "id": first_id + n, "cost": 0.01, "traffic_type": {"id": 5, "description": "Data"},
        "organisation": {"id": org, "name": "Acme"},
        "endpoint": None if endpoint is None else {"id": endpoint, "name": f"device-{endpoint}"},
    }) for n, endpoint in enumerate(endpoints)]
    return Batch("0ddba11a", org, "usage", records, first_id, first_id + len(records) - 1)


# --- subjects ---------------------------------------------------------------------------------------------

async def test_an_event_subject_has_every_placeholder_filled(harness: Harness) -> None:
    subject = (f"{harness.subject}.{{organisation_id}}.{{event_type_id}}.{{endpoint_id}}.{{stream_id}}"
               ".{kind}")
    sink = nats_sink(url="nats://127.0.0.1:4222", subject=subject)
    try:
        await sink.deliver(event_batch(1, 6))
    finally:
        await sink.close()
    stored = await harness.wait_for(6)
    # event_batch: event n has type 1 + n % 5 and endpoint 100 + n % 3, organisation 7
    assert [m.subject for m in stored] == [f"{harness.subject}.7.{1 + n % 5}.{100 + n % 3}.c0ffee01.events"
                                           for n in range(6)]


async def test_a_usage_subject_says_usage_for_the_event_type_and_none_for_a_missing_endpoint(
        harness: Harness) -> None:
    sink = nats_sink(url="nats://127.0.0.1:4222",
                     subject=f"{harness.subject}.{{organisation_id}}.{{event_type_id}}.{{endpoint_id}}.{{kind}}")
    try:
        await sink.deliver(usage_batch(40, [100, None]))
    finally:
        await sink.close()
    stored = await harness.wait_for(2)
    assert [m.subject for m in stored] == [f"{harness.subject}.7.usage.100.usage",
                                           f"{harness.subject}.7.usage.none.usage"]


async def test_a_subject_without_record_fields_never_decodes_the_records(harness: Harness) -> None:
    batch = Batch("c0ffee01", 7, "usage", [b"not json", b"[1, 2"], 1, 2)
    sink = nats_sink(url="nats://127.0.0.1:4222",
                     subject=f"{harness.subject}.{{stream_id}}.{{kind}}.{{event_type_id}}")
    try:
        await sink.deliver(batch)
    finally:
        await sink.close()
    stored = await harness.wait_for(2)
    assert [(m.subject, m.data) for m in stored] == [(f"{harness.subject}.c0ffee01.usage.usage", b"not json"),
                                                     (f"{harness.subject}.c0ffee01.usage.usage", b"[1, 2")]


@pytest.mark.parametrize(("subject", "says"), [
    ("cellstream.{organisation}", "unknown placeholder(s) {organisation}"),
    ("cellstream.*.{kind}", "wildcard"),
    ("cellstream.>", "wildcard"),
    ("cellstream..{kind}", "empty token"),
    ("cellstream.{kind}.", "empty token"),
    ("cell stream.{kind}", "white space"),
])
async def test_a_subject_template_that_cannot_work_fails_for_good(subject: str, says: str) -> None:
    sink = nats_sink(url="nats://127.0.0.1:4222", subject=subject)
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(1, 2))
    finally:
        await sink.close()
    assert failed.value.permanent
    assert says in failed.value.message


async def test_a_thousand_records_are_stored_in_order_from_one_batch(harness: Harness) -> None:
    sink = nats_sink(**harness.credentials())
    assert sink.max_batch == 1000
    assert sink.linger_ms == 0
    try:
        await sink.deliver(event_batch(1, 1000))
    finally:
        await sink.close()
    assert await harness.received_ids(1000) == list(range(1, 1001))


# --- deduplication ----------------------------------------------------------------------------------------

async def test_each_message_carries_the_batch_delivery_id_and_its_index(harness: Harness) -> None:
    batch = event_batch(11, 3)
    sink = nats_sink(**harness.credentials())
    try:
        await sink.deliver(batch)
    finally:
        await sink.close()
    stored = await harness.wait_for(3)
    assert [(m.headers or {}).get("Nats-Msg-Id") for m in stored] == [
        f"{batch.delivery_id}-{n}" for n in range(3)]
    assert batch.delivery_id == "c0ffee01-e11-13"


async def test_a_batch_delivered_twice_is_stored_once(harness: Harness) -> None:
    sink = nats_sink(**harness.credentials())
    try:
        await sink.deliver(event_batch(1, 5))
        await sink.deliver(event_batch(1, 5))  # the engine retrying after a lost acknowledgement
        await sink.deliver(event_batch(6, 2))
    finally:
        await sink.close()
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
    sink = nats_sink(url="nats://127.0.0.1:4222", subject=f"{subject}.{{kind}}")
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(1, 3))
    finally:
        await sink.close()
    assert failed.value.permanent
    assert f"no JetStream stream covers subject '{subject}.events'" in failed.value.message


async def test_nothing_listening_is_a_failure_worth_retrying() -> None:
    sink = nats_sink(url=f"nats://{HOST}:{unused_port()}")
    started = time.monotonic()
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(1, 1))
    finally:
        await sink.close()
    assert not failed.value.permanent
    assert "cannot connect to the NATS server" in failed.value.message
    assert "connect call failed" in failed.value.message.lower()
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("url", ["nats://127.0.0.1:4222", "nats://localhost:4222"])
async def test_a_private_server_is_refused_unless_allowed(url: str) -> None:
    sink = nats_sink(settings=SinkSettings(), url=url)
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(1, 1))
    finally:
        await sink.close()
    assert failed.value.permanent
    assert "non-public address" in failed.value.message


async def test_a_closed_sink_connects_again_when_asked_to_deliver(harness: Harness) -> None:
    sink = nats_sink(**harness.credentials())
    try:
        await sink.deliver(event_batch(1, 2))
        await sink.close()
        await sink.deliver(event_batch(3, 2))
    finally:
        await sink.close()
    assert await harness.received_ids(4) == [1, 2, 3, 4]


# --- a server of the test's own -------------------------------------------------------------------------

def need_binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        if IN_CI:
            pytest.fail(f"{name} is required under CI but not installed")
        pytest.skip(f"{name} not installed")
    return found


class NatsServer:
    """A JetStream server of one test on a free port; `stop` and `start` restart it there, keeping its
    streams (they live in the test's directory)."""

    def __init__(self, directory: Path, config: str) -> None:
        self.port = unused_port()
        self.log = directory / "nats-server.log"
        self.conf = directory / "nats-server.conf"
        self.conf.write_text(f'listen: "{HOST}:{self.port}"\n'
                             f'jetstream {{ store_dir: "{directory / "jetstream"}" }}\n{config}\n')
        self._binary = need_binary("nats-server")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self._process = subprocess.Popen([self._binary, "-c", str(self.conf)], stdout=out,
                                             stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"nats-server exited: {self.log.read_text(errors='replace')}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise AssertionError(f"nats-server did not listen: {self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None

    async def add_stream(self, name: str, subjects: list[str], **auth: str) -> None:
        nc = await nats.connect(self.url, **auth)
        try:
            await nc.jetstream().add_stream(name=name, subjects=subjects)
        finally:
            await nc.close()

    async def stored(self, name: str, **auth: str) -> list[int]:
        """The ids of the records stream `name` holds, in stream order."""
        nc = await nats.connect(self.url, **auth)
        try:
            js = nc.jetstream()
            last = (await js.stream_info(name)).state.last_seq
            return [int(msgspec.json.decode((await js.get_msg(name, seq)).data or b"")["id"])
                    for seq in range(1, last + 1)]
        finally:
            await nc.close()


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[Callable[[str], NatsServer]]:
    started: list[NatsServer] = []

    def start(config: str = "") -> NatsServer:
        directory = tmp_path / f"server{len(started)}"
        directory.mkdir()
        server = NatsServer(directory, config)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


async def test_a_server_restart_fails_one_delivery_and_the_next_succeeds(
        own_nats: Callable[[str], NatsServer]) -> None:
    server = own_nats("")
    await server.add_stream("RESTART", ["restart.>"])
    sink = nats_sink(url=server.url, subject="restart.{kind}")
    try:
        await sink.deliver(event_batch(1, 3))
        server.stop()
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(4, 3))
        assert not failed.value.permanent
        server.start()
        await sink.deliver(event_batch(4, 3))
    finally:
        await sink.close()
    assert await server.stored("RESTART") == [1, 2, 3, 4, 5, 6]


async def test_a_restart_the_sink_has_not_noticed_yet_costs_no_failed_delivery(
        own_nats: Callable[[str], NatsServer]) -> None:
    server = own_nats("")
    await server.add_stream("RESTART", ["restart.>"])
    sink = nats_sink(url=server.url, subject="restart.{kind}")
    try:
        await sink.deliver(event_batch(1, 3))
        # Stopped and started without yielding to the event loop: the sink still holds the old connection
        # and finds out only while publishing on it, then sends the batch again on a new one.
        server.stop()
        server.start()
        await asyncio.wait_for(sink.deliver(event_batch(4, 3)), 5)
    finally:
        await sink.close()
    assert await server.stored("RESTART") == [1, 2, 3, 4, 5, 6]


USERS = '''authorization {
  users = [
    {user: "writer", password: "secret", permissions: {publish: {deny: ["forbidden.>"]}}}
  ]
}'''


@pytest.mark.parametrize("auth", [{"user": "writer", "password": "wrong"}, {"user": "nobody"}, {}])
async def test_refused_credentials_fail_for_good(own_nats: Callable[[str], NatsServer],
                                                 auth: dict[str, str]) -> None:
    server = own_nats(USERS)
    credentials: dict[str, Any] = {"url": server.url, **auth}
    sink = nats_sink(**credentials)
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(1, 1))
    finally:
        await sink.close()
    assert failed.value.permanent
    assert "authorization violation" in failed.value.message.lower()


async def test_the_right_user_and_password_are_let_in(own_nats: Callable[[str], NatsServer]) -> None:
    server = own_nats(USERS)
    await server.add_stream("USERS", ["users.>"], user="writer", password="secret")
    sink = nats_sink(url=server.url, subject="users.{kind}", user="writer", password="secret")
    try:
        await sink.deliver(event_batch(1, 3))
    finally:
        await sink.close()
    assert await server.stored("USERS", user="writer", password="secret") == [1, 2, 3]


async def test_a_publish_the_permissions_deny_fails_for_good_at_once(
        own_nats: Callable[[str], NatsServer]) -> None:
    server = own_nats(USERS)
    await server.add_stream("FORBIDDEN", ["forbidden.>"], user="writer", password="secret")
    sink = nats_sink(url=server.url, subject="forbidden.{kind}", user="writer", password="secret")
    started = time.monotonic()
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(event_batch(1, 3))
    finally:
        await sink.close()
    assert failed.value.permanent
    assert "permissions violation" in failed.value.message.lower()
    assert time.monotonic() - started < 5, "waited for acknowledgements that never come"


@pytest.mark.parametrize(("token", "lets_in"), [("s3cret-token", True), ("other-token", False)])
async def test_a_token_is_checked(own_nats: Callable[[str], NatsServer], token: str, lets_in: bool) -> None:
    server = own_nats('authorization { token: "s3cret-token" }')
    if lets_in:
        await server.add_stream("TOKEN", ["token.>"], token=token)
    sink = nats_sink(url=server.url, subject="token.{kind}", token=token)
    try:
        if lets_in:
            await sink.deliver(event_batch(1, 2))
            assert await server.stored("TOKEN", token=token) == [1, 2]
        else:
            with pytest.raises(DeliveryFailed) as failed:
                await sink.deliver(event_batch(1, 2))
            assert failed.value.permanent
    finally:
        await sink.close()
