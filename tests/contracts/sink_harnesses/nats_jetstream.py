"""The NATS sink against the JetStream-enabled server on 127.0.0.1:4222: each test gets a stream of its own
on subjects of its own, deleted afterwards, and reads back what the stream stored, in stream order,
through a pull consumer created before anything is delivered."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, Self

import msgspec
import nats
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from cellstream.streamer.sinks.base import SinkSettings
from tests.conftest import need_service
from tests.e2e.conftest import free_port

HOST, PORT = "127.0.0.1", 4222


class Harness:
    connection_type = "Nats"
    settings = SinkSettings(allow_private_destinations=True)

    def __init__(self) -> None:
        token = uuid.uuid4().hex
        self.stream = f"CELLSTREAM_TEST_{token}"
        self.subject = f"cellstream-test.{token}"  # the stream holds every subject below it
        self.received: list[Msg] = []  # in stream order
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._sub: JetStreamContext.PullSubscription | None = None

    @property
    def js(self) -> JetStreamContext:
        assert self._js is not None, "use the harness inside `async with`"
        return self._js

    async def __aenter__(self) -> Self:
        need_service("NATS", HOST, PORT)
        self._nc = await nats.connect(f"nats://{HOST}:{PORT}")
        self._js = self._nc.jetstream()
        await self._js.add_stream(name=self.stream, subjects=[f"{self.subject}.>"])
        self._sub = await self._js.pull_subscribe(f"{self.subject}.>", stream=self.stream,
                                                  config=ConsumerConfig(ack_policy=AckPolicy.NONE))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._nc is None:
            return
        try:
            if self._js is not None:
                await self._js.delete_stream(self.stream)
        finally:
            await self._nc.close()

    def credentials(self) -> dict[str, Any]:
        # {organisation_id} makes the sink decode records; every test event has organisation 7.
        return {"url": f"nats://{HOST}:{PORT}", "subject": f"{self.subject}.{{organisation_id}}"}

    def broken_credentials(self) -> dict[str, Any]:
        return {**self.credentials(), "url": f"nats://{HOST}:{free_port()}"}

    async def stored(self) -> int:
        """How many messages the stream holds."""
        info = await self.js.stream_info(self.stream)
        return int(info.state.messages)

    async def wait_for(self, expected: int, timeout_s: float = 10.0) -> list[Msg]:
        """What the stream stored, once `expected` messages are there or `timeout_s` passed."""
        assert self._sub is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(self.received) < expected:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(nats.errors.TimeoutError):
                self.received += await self._sub.fetch(expected - len(self.received), timeout=remaining)
        return list(self.received)

    async def received_ids(self, expected: int, timeout_s: float = 10.0) -> list[int]:
        return [int(msgspec.json.decode(m.data)["id"]) for m in await self.wait_for(expected, timeout_s)]
