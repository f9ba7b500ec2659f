"""Where the simulator's signalling goes: the same two doors a real mobile core uses.

`InProcessSink` hands batches to the NetworkService of a running platform (`cellstream run`, tests);
`HttpSink` posts them to `POST /internal/v1/signalling` of a server, with a service token. Both answer
one Verdict per record, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from cellstream.domain.subscriber import Verdict
from cellstream.errors import CellstreamError
from cellstream.network.service import NetworkService
from cellstream.network.signalling import AnySignal


class SimulatorError(CellstreamError):
    """The platform refused what the simulator asked (an HTTP error, a malformed answer)."""


class SignallingSink(Protocol):
    async def submit(self, records: Sequence[AnySignal]) -> list[Verdict]: ...

    async def close(self) -> None: ...


class InProcessSink:
    def __init__(self, network: NetworkService) -> None:
        self.network = network

    async def submit(self, records: Sequence[AnySignal]) -> list[Verdict]:
        return await self.network.submit(records)

    async def close(self) -> None:
        return None  # the network belongs to the platform, which closes it


class _Answer(msgspec.Struct):
    verdicts: list[Verdict]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Answer)


def problem_text(status: int, body: bytes) -> str:
    """The `message` of an error answer in the platform's problem shape, else the start of the body."""
    try:
        message = msgspec.json.decode(body).get("message")
    except (msgspec.DecodeError, AttributeError):
        message = None
    return f"{status}: {message or body[:200].decode(errors='replace')}"


class HttpSink:
    """Posts batches to a Cellstream server; one aiohttp session (keep-alive) for the whole run."""

    PATH = "/internal/v1/signalling"

    def __init__(self, base_url: str, service_token: str, *, timeout_s: float = 60.0) -> None:
        import aiohttp  # only the --target mode needs it

        self.url = base_url.rstrip("/") + self.PATH
        self._headers = {"Authorization": f"Bearer {service_token}", "Content-Type": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def submit(self, records: Sequence[AnySignal]) -> list[Verdict]:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self.url, data=_encoder.encode(list(records)),
                                          headers=self._headers) as response:
                body = await response.read()
                status = response.status
        except aiohttp.ClientError as exc:
            raise SimulatorError(f"POST {self.url} failed: {exc}") from exc
        if status != 200:
            raise SimulatorError(f"POST {self.url} answered {problem_text(status, body)}")
        try:
            verdicts = _decoder.decode(body).verdicts
        except msgspec.MsgspecError as exc:
            raise SimulatorError(f"POST {self.url} answered something that is not verdicts: {exc}") from exc
        if len(verdicts) != len(records):
            raise SimulatorError(f"POST {self.url} answered {len(verdicts)} verdicts for "
                                 f"{len(records)} records")
        return verdicts

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
