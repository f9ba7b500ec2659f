"""The Datadog sink's contract harness: a local logs intake (tests.streamer.sinks.receivers) that checks the
API key and body as Datadog does, since the real intake cannot be pointed at from a test."""

from __future__ import annotations

from typing import Any, Self

from cellstream.streamer.sinks.base import SinkSettings
from tests.streamer.sinks.receivers import DatadogReceiver

API_KEY = "0123456789abcdef0123456789abcdef"


class Harness:
    connection_type = "Datadog"

    def __init__(self) -> None:
        self.receiver = DatadogReceiver(API_KEY)
        self.settings = SinkSettings()

    async def __aenter__(self) -> Self:
        await self.receiver.__aenter__()
        self.settings = SinkSettings(datadog_url=self.receiver.url, allow_private_destinations=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.receiver.__aexit__(*exc)

    def credentials(self) -> dict[str, Any]:
        return {"api_key": API_KEY, "region": "EU"}

    def broken_credentials(self) -> dict[str, Any]:
        return {"api_key": "fedcba9876543210fedcba9876543210", "region": "EU"}  # answered 403

    async def received_ids(self, expected: int, timeout_s: float = 10.0) -> list[int]:
        await self.receiver.wait_until(lambda: len(self.receiver.logs) >= expected, timeout_s)
        return [message["id"] for message in self.receiver.messages()]
