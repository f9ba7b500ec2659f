"""The Keen sink's contract harness: a local events API (tests.streamer.sinks.receivers) that checks the write
key and answers per event as Keen does, since Keen offers no server to run locally."""

from __future__ import annotations

from typing import Any, Self

from cellstream.streamer.sinks.base import SinkSettings
from tests.streamer.sinks.receivers import KeenReceiver

PROJECT_ID = "5f0c0ffee0c0ffee0c0ffee0"
WRITE_KEY = "write-key-for-the-contract-suite"
COLLECTION = "cellstream_events"


class Harness:
    connection_type = "KeenIO"

    def __init__(self) -> None:
        self.receiver = KeenReceiver(PROJECT_ID, WRITE_KEY)
        self.settings = SinkSettings()

    async def __aenter__(self) -> Self:
        await self.receiver.__aenter__()
        self.settings = SinkSettings(keenio_url=self.receiver.url, allow_private_destinations=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.receiver.__aexit__(*exc)

    def credentials(self) -> dict[str, Any]:
        return {"project_id": PROJECT_ID, "write_key": WRITE_KEY, "collection_name": COLLECTION}

    def broken_credentials(self) -> dict[str, Any]:
        return {"project_id": PROJECT_ID, "write_key": "not-the-write-key", "collection_name": COLLECTION}

    async def received_ids(self, expected: int, timeout_s: float = 10.0) -> list[int]:
        await self.receiver.wait_until(lambda: len(self._stored()) >= expected, timeout_s)
        return [event["id"] for event in self._stored()]

    def _stored(self) -> list[dict[str, Any]]:
        return self.receiver.events.get(COLLECTION, [])
