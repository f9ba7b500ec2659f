"""A real HTTP receiver for the webhook sink: an aiohttp server on 127.0.0.1 that verifies every request's
Standard Webhooks signature with the `standardwebhooks` package, as a customer's receiver would."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Self

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cellstream.streamer.sinks.base import SinkSettings
from tests.e2e.conftest import free_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class WebhookReceiver:
    """Records what arrived; answers 401 to a request whose signature does not verify. `answers` lets a
    test script the next statuses (popped one per request)."""

    def __init__(self, secrets: tuple[str, ...] = (SECRET,)) -> None:
        self.verifiers = [Webhook(s) for s in secrets]
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.records: list[dict[str, Any]] = []
        self.answers: list[int] = []
        self.arrived = asyncio.Event()
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        if self.answers:
            return web.Response(status=self.answers.pop(0), headers={"Retry-After": "1"})
        if not any(self._verifies(v, body, headers) for v in self.verifiers):
            return web.Response(status=401, text="bad signature")
        self.requests.append((headers, body))
        data = json.loads(body)
        self.records.extend(data if isinstance(data, list) else [data])
        self.arrived.set()
        return web.Response(status=204)

    @staticmethod
    def _verifies(verifier: Webhook, body: bytes, headers: dict[str, str]) -> bool:
        try:
            verifier.verify(body, headers, json_parse=False)
        except WebhookVerificationError:
            return False
        return True

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(self.records) < count and loop.time() < deadline:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                break
        return self.records


class Harness:
    connection_type = "RestAPI"
    settings = SinkSettings(allow_private_destinations=True)

    def __init__(self) -> None:
        self.receiver = WebhookReceiver()

    async def __aenter__(self) -> Self:
        await self.receiver.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.receiver.stop()

    def credentials(self) -> dict[str, Any]:
        return {"url": self.receiver.url, "size": 100, "signing_secret": SECRET}

    def broken_credentials(self) -> dict[str, Any]:
        return {"url": f"http://127.0.0.1:{free_port()}/nothing-listens", "size": 100, "timeout_ms": 2000}

    async def received_ids(self, expected: int, timeout_s: float = 10.0) -> list[int]:
        return [int(r["id"]) for r in await self.receiver.wait_for(expected, timeout_s)]
