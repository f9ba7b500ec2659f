"""Local stand-ins for Datadog's logs intake and Keen's events API, so the sinks are tested over real HTTP.

Each receiver checks what the real service checks on the calls our sinks make (path, authentication header,
content type and encoding, body shape, documented size limits) and answers as the service documents (Datadog:
202, 401 without a key, 403 with a wrong one, 400, 413; Keen: 200 with a result per event, 401 for a bad
key, 404 for an unknown project, 413 for too large). What arrived is recorded in arrival order. Tests script
failures on top: `answer_next` replays fixed answers (429 with Retry-After, 503 …), `delay_s` holds answers
back to provoke timeouts, and Keen's `refuse` makes chosen events fail inside a 200 answer.

Deliberately narrower than the services: only JSON bodies are accepted (Datadog also takes text/plain and
logplex lines, which the sink never sends), and error bodies carry the shape, not the exact wording.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import msgspec
from aiohttp import web

DATADOG_MAX_PAYLOAD = 5_000_000
DATADOG_MAX_ENTRIES = 1000
KEEN_MAX_PAYLOAD = 10_000_000
KEEN_MAX_EVENT = 900_000


@dataclass
class Arrival:
    """One request as it reached the receiver, and the status it was answered."""

    path: str
    headers: dict[str, str]
    wire: bytes  # the body as sent
    body: bytes = b""  # decompressed, once the receiver got that far
    status: int = 0


@dataclass
class Scripted:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class Receiver:
    """An aiohttp app on 127.0.0.1 at a free port; subclasses add the service's routes."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.delay_s = 0.0
        self._scripted: deque[Scripted] = deque()
        self._released = asyncio.Event()
        self._answered = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer_next(self, status: int, *, headers: dict[str, str] | None = None, body: bytes = b"",
                    times: int = 1) -> None:
        """The next `times` requests are answered so, after being recorded but before any checking."""
        self._scripted.extend(Scripted(status, headers or {}, body) for _ in range(times))

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def wait_until(self, ready: Callable[[], bool], timeout_s: float) -> None:
        """Return once `ready()` holds (checked after every answer) or `timeout_s` has passed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while not ready():
                    self._answered.clear()
                    await self._answered.wait()

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self.routes(app)
        # Bodies are decompressed here, not by aiohttp, so the receiver sees what the sink put on the wire.
        self._runner = web.AppRunner(app, auto_decompress=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._released.set()  # handlers held back by delay_s finish now instead of outliving the test
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _arrive(self, request: web.Request) -> tuple[Arrival, web.Response | None]:
        """Record the request; the scripted or delayed answer if one is due, else None (check it)."""
        wire = await request.read()
        arrival = Arrival(request.path, dict(request.headers), wire, wire)
        self.arrivals.append(arrival)
        if self.delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), self.delay_s)
        if self._scripted:
            s = self._scripted.popleft()
            return arrival, self._answer(arrival, s.status, s.body, s.headers)
        return arrival, None

    def _answer(self, arrival: Arrival, status: int, body: bytes | Any, headers: dict[str, str] | None = None,
                ) -> web.Response:
        arrival.status = status
        self._answered.set()
        data = body if isinstance(body, bytes) else msgspec.json.encode(body)
        return web.Response(status=status, body=data, headers=headers,
                            content_type="application/json" if data else None)


class DatadogReceiver(Receiver):
    """`POST /api/v2/logs`: logs whose `message` is taken as the delivered record."""

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.logs: list[dict[str, Any]] = []  # every accepted log entry, in arrival order

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v2/logs", self._logs)

    def messages(self) -> list[Any]:
        """Each accepted log's message parsed as JSON (the records as delivered)."""
        return [msgspec.json.decode(entry["message"]) for entry in self.logs]

    async def _logs(self, request: web.Request) -> web.Response:
        arrival, scripted = await self._arrive(request)
        if scripted is not None:
            return scripted
        key = request.headers.get("DD-API-KEY")
        if not key:
            return self._answer(arrival, 401, {"errors": ["Unauthorized"]})
        if key != self.api_key:
            return self._answer(arrival, 403, {"errors": ["Forbidden"]})
        encoding = request.headers.get("Content-Encoding", "identity").lower()
        try:
            if encoding == "gzip":
                arrival.body = gzip.decompress(arrival.wire)
            elif encoding == "deflate":
                arrival.body = zlib.decompress(arrival.wire)
            elif encoding != "identity":
                return self._answer(arrival, 400, {"errors": [f"unsupported Content-Encoding {encoding}"]})
        except (OSError, EOFError, zlib.error):
            return self._answer(arrival, 400, {"errors": ["body does not decompress"]})
        if len(arrival.body) > DATADOG_MAX_PAYLOAD:
            return self._answer(arrival, 413, {"errors": ["Payload too large"]})
        if request.content_type != "application/json":
            return self._answer(arrival, 400, {"errors": [f"unexpected Content-Type {request.content_type}"]})
        try:
            payload = msgspec.json.decode(arrival.body)
        except msgspec.DecodeError:
            return self._answer(arrival, 400, {"errors": ["Bad request: body is not JSON"]})
        entries = payload if isinstance(payload, list) else [payload]
        if len(entries) > DATADOG_MAX_ENTRIES:
            return self._answer(arrival, 413, {"errors": ["Too many logs in one request"]})
        if not all(isinstance(e, dict) and isinstance(e.get("message", ""), str) for e in entries):
            return self._answer(arrival, 400, {"errors": ["Bad request: logs must be objects"]})
        self.logs.extend(entries)
        return self._answer(arrival, 202, {})


@dataclass(frozen=True)
class Refusal:
    name: str
    description: str


class KeenReceiver(Receiver):
    """`POST /3.0/projects/<project_id>/events`: Keen's batch call, answering a result per event."""

    def __init__(self, project_id: str, write_key: str) -> None:
        super().__init__()
        self.project_id = project_id
        self.write_key = write_key
        self.events: dict[str, list[dict[str, Any]]] = {}  # collection -> stored events, in arrival order
        self.refuse: dict[int, Refusal] = {}  # event `id` -> the per-event error Keen answers for it

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/3.0/projects/{project_id}/events", self._events)

    async def _events(self, request: web.Request) -> web.Response:
        arrival, scripted = await self._arrive(request)
        if scripted is not None:
            return scripted
        if request.match_info["project_id"] != self.project_id:
            return self._answer(arrival, 404, {"message": "Project not found",
                                               "error_code": "ResourceNotFoundError"})
        # Keen takes the key as the bare Authorization header or as ?api_key=.
        key = request.headers.get("Authorization") or request.query.get("api_key")
        if key != self.write_key:
            return self._answer(arrival, 401, {"message": "The API key is invalid.",
                                               "error_code": "InvalidApiKeyError"})
        if request.headers.get("Content-Encoding", "identity").lower() != "identity":
            return self._answer(arrival, 400, {"message": "compressed bodies are not modelled",
                                               "error_code": "BadRequestError"})
        if len(arrival.body) > KEEN_MAX_PAYLOAD:
            return self._answer(arrival, 413, {"message": "Request entity too large",
                                               "error_code": "RequestEntityTooLargeError"})
        if request.content_type != "application/json":
            return self._answer(arrival, 400, {"message": "Content-Type must be application/json",
                                               "error_code": "InvalidContentTypeError"})
        try:
            payload = msgspec.json.decode(arrival.body)
        except msgspec.DecodeError:
            return self._answer(arrival, 400, {"message": "body is not JSON",
                                               "error_code": "InvalidJSONError"})
        if not isinstance(payload, dict) or not all(isinstance(v, list) for v in payload.values()):
            return self._answer(arrival, 400, {"message": "expected {collection: [events]}",
                                               "error_code": "InvalidBatchError"})
        for events in payload.values():
            if any(len(msgspec.json.encode(e)) > KEEN_MAX_EVENT for e in events):
                return self._answer(arrival, 413, {"message": "An event is too large",
                                                   "error_code": "RequestEntityTooLargeError"})
        results: dict[str, list[dict[str, Any]]] = {}
        for collection, events in payload.items():
            results[collection] = [self._take(collection, event) for event in events]
        return self._answer(arrival, 200, results)

    def _take(self, collection: str, event: Any) -> dict[str, Any]:
        problem = self._problem(collection, event)
        if problem is not None:
            return {"success": False, "error": {"name": problem.name, "description": problem.description}}
        self.events.setdefault(collection, []).append(event)
        return {"success": True}

    def _problem(self, collection: str, event: Any) -> Refusal | None:
        if not collection or collection.startswith("$") or len(collection) > 256:
            return Refusal("InvalidCollectionNameError", f"bad collection name {collection!r}")
        if not isinstance(event, dict):
            return Refusal("InvalidEventError", "an event must be an object")
        bad = _bad_property_name(event)
        if bad is not None:
            return Refusal("InvalidPropertyNameError", f"bad property name {bad!r}")
        if "keen" in event and not isinstance(event["keen"], dict):
            return Refusal("InvalidPropertyValueError", "the keen property must be an object")
        event_id = event.get("id")
        return self.refuse.get(event_id) if isinstance(event_id, int) else None


def _bad_property_name(value: Any) -> str | None:
    """Keen's property-name rules that a record could break: no dots, no leading $, at most 256 characters."""
    if isinstance(value, dict):
        for name, inner in value.items():
            if not name or "." in name or name.startswith("$") or len(name) > 256:
                return str(name)
            found = _bad_property_name(inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for inner in value:
            found = _bad_property_name(inner)
            if found is not None:
                return found
    return None
