"""A callback receiver for automation tests: a real aiohttp server on 127.0.0.1 that records requests and
answers as scripted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.e2e.conftest import free_port


class Receiver:
    """Records every request; answers with the scripted (status, headers) pairs in turn, then 204. While
    `hold` is set it keeps requests waiting (until stopped) so the client times out."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.hold = False
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/hook"

    async def _hook(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        if self.hold:
            await self._release.wait()
        status, headers = self.answers.pop(0) if self.answers else (204, {})
        return web.Response(status=status, headers=headers, text=None if status == 204 else "nope")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = Receiver()
    await started.start()
    yield started
    await started.stop()
