"""The MQTT sink against the Mosquitto broker on 127.0.0.1:1883: each test gets a topic of its own, and a
subscriber that is listening before anything is delivered (MQTT keeps nothing for late subscribers)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, Self

import aiomqtt
import msgspec

from cellstream.streamer.sinks.base import SinkSettings
from tests.conftest import need_service
from tests.e2e.conftest import free_port

HOST, PORT = "127.0.0.1", 1883


class Harness:
    connection_type = "Mqtt"
    settings = SinkSettings(allow_private_destinations=True)

    def __init__(self) -> None:
        self.topic = f"cellstream-test/{uuid.uuid4().hex}"  # every topic of this test is below it
        self.received: list[tuple[str, bytes]] = []  # (topic, payload) in arrival order
        self._arrived = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        need_service("Mosquitto", HOST, PORT)
        self._client = aiomqtt.Client(HOST, PORT)
        await self._client.__aenter__()
        # QoS 1 so the broker may not drop what it forwards to this subscriber.
        await self._client.subscribe(f"{self.topic}/#", qos=1)
        self._reader = asyncio.create_task(self._read(self._client))
        return self

    async def _read(self, client: aiomqtt.Client) -> None:
        with contextlib.suppress(aiomqtt.MqttError):  # the end of the test closed the connection
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                self.received.append((str(message.topic), message.payload))
                self._arrived.set()

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._client is not None:
            await self._client.__aexit__(None, None, None)

    def credentials(self) -> dict[str, Any]:
        # {organisation_id} makes the sink decode records; every test event has organisation 7, so all
        # arrive on one topic, where MQTT guarantees the order the contract checks.
        return {"url": f"mqtt://{HOST}:{PORT}", "topic": f"{self.topic}/{{organisation_id}}", "qos": 1}

    def broken_credentials(self) -> dict[str, Any]:
        return {**self.credentials(), "url": f"mqtt://{HOST}:{free_port()}"}

    async def wait_for(self, expected: int, timeout_s: float = 10.0) -> list[tuple[str, bytes]]:
        """What arrived, once `expected` messages did or `timeout_s` passed."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(self.received) < expected:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        return list(self.received)

    async def received_ids(self, expected: int, timeout_s: float = 10.0) -> list[int]:
        arrived = await self.wait_for(expected, timeout_s)
        return [int(msgspec.json.decode(payload)["id"]) for _, payload in arrived]
