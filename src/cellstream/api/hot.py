"""A fast lane for the event lists, in front of FastAPI's middleware stack.

A list request that went through the stack passed ServerErrorMiddleware, FastAPI's exception telemetry,
ExceptionMiddleware, AsyncExitStackMiddleware, the router's walk over every route and Starlette's
per-route exception wrapper before reaching an endpoint that needs none of them: measured in-process,
about a third of the Python time of a whole list request. `CellstreamApp` answers GET requests for the
lane's routes itself and turns their exceptions into answers with the app's own exception handlers, the
way those layers would; every other request (and HEAD, and all requests while OpenTelemetry is set up, so
that they are traced) takes the regular path, where the same endpoints are routed as usual.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Any], Response | Awaitable[Response]]


class HotLane:
    """GET routes answered without the middleware stack: fixed paths by a dict look-up, the others by
    their path pattern. The routes must be async endpoints taking only the Request."""

    def __init__(self, routes: list[Route]) -> None:
        self._fixed: dict[str, Endpoint] = {}
        self._patterns: list[Route] = []
        for route in routes:
            if route.param_convertors:
                self._patterns.append(route)
            else:
                self._fixed[route.path] = route.endpoint

    def match(self, scope: Scope) -> Endpoint | None:
        """The endpoint for this GET request, with its path parameters added to `scope`; None if none.
        An app mounted under a root path is left to the router, which knows how to strip it."""
        if scope.get("root_path"):
            return None
        endpoint = self._fixed.get(scope["path"])
        if endpoint is not None:
            return endpoint
        for route in self._patterns:
            matched, child = route.matches(scope)
            if matched is Match.FULL:
                scope.update(child)
                return route.endpoint
        return None


def _handler_for(handlers: dict[Any, Handler], exc: Exception) -> Handler | None:
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None


class CellstreamApp(FastAPI):
    """FastAPI with the fast lane (`lane`, None for none)."""

    lane: HotLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.lane
        if lane is not None and scope["type"] == "http" and scope["method"] == "GET":
            endpoint = lane.match(scope)
            if endpoint is not None:
                await self._serve(endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _serve(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            # What ExceptionMiddleware does with a registered handler, and ServerErrorMiddleware with the
            # rest: answer with the Exception handler, then raise on for the server to log.
            handler = _handler_for(self.exception_handlers, exc)
            if handler is None:
                response = Response("Internal Server Error", status_code=500, media_type="text/plain")
            else:
                answer = handler(request, exc)
                response = await answer if inspect.isawaitable(answer) else answer
            await response(scope, receive, send)
            if handler is None or handler is self.exception_handlers.get(Exception):
                raise
            return
        await response(scope, receive, send)
