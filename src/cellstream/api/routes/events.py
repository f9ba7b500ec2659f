"""The Event API (facts §C): the four event lists and the event type lookup.

This is the hot path. A list answer is one count (cached by the SQL stores) and one page query; the page's
stored canonical JSON bodies are spliced into an array as bytes, with no per-event Python work and no
response model on the way out (the models only document the shape for OpenAPI).

FastAPI's machinery (dependency solving, the included-router dispatch) measured more than half of a list
request, so the endpoints take only the Request, read parameters and token by hand (`api.listing`), and
`fast_routes` serves them through plain Starlette routes placed ahead of FastAPI's; GET requests for them
skip the middleware stack as well (`api.hot`). The APIRoutes stay for the OpenAPI description, and would
serve the very same endpoints if the fast routes were removed.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.routing import Route

from cellstream.api.auth import BEARER_SECURITY, bearer_token
from cellstream.api.listing import (
    EventLister,
    ListParams,
    Scope,
    list_params,
    parameter_docs,
    path_doc,
    path_id,
    path_user,
)
from cellstream.api.paging import PAGING_HEADERS
from cellstream.api.schemas import EventDoc, Lookup, Problem
from cellstream.errors import Forbidden
from cellstream.events.catalog import type_lookup
from cellstream.services import Services

_401 = {"model": Problem, "description": "missing, invalid or expired auth token"}
LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": list[EventDoc], "description": "the page of events (possibly [])",
          "headers": PAGING_HEADERS},
    400: {"model": Problem, "description": "incorrect paging or sorting parameter, cursor or path id"},
    401: _401,
    422: {"model": Problem, "description": "incorrect q parameter"},
}
USER_RESPONSES = {**LIST_RESPONSES, 403: {"model": Problem, "description": "another user's events need "
                                          "the Administrator or Observer role"}}


def router(services: Services) -> APIRouter:
    auth = services.auth
    max_per_page = services.settings.events_max_per_page
    default_per_page = min(1000, max_per_page)
    lister = EventLister(services.events)
    types_body = msgspec.json.encode(type_lookup())

    def params(request: Request) -> ListParams:
        return list_params(request, max_per_page, default_per_page)

    def documented(*path_params: dict[str, Any]) -> dict[str, Any]:
        return {"parameters": [*path_params, *parameter_docs(max_per_page, default_per_page)],
                "security": BEARER_SECURITY}

    api = APIRouter(prefix="/api/v1", tags=["Events"])

    @api.get("/event", responses=LIST_RESPONSES, summary="List the organisation's events",
             openapi_extra=documented())
    async def list_events(request: Request) -> Response:
        caller = await auth.principal(bearer_token(request))
        return await lister.respond(request, caller, None, params(request))

    @api.get("/event/type", summary="Event type lookup", openapi_extra={"security": BEARER_SECURITY},
             responses={200: {"model": list[Lookup], "description": "every known event type"}, 401: _401})
    async def event_types(request: Request) -> Response:
        await auth.principal(bearer_token(request))
        return Response(types_body, media_type="application/json")

    @api.get("/endpoint/{endpoint_id}/event", responses=LIST_RESPONSES, summary="List an endpoint's events",
             openapi_extra=documented(path_doc("endpoint_id")))
    async def endpoint_events(request: Request) -> Response:
        caller = await auth.principal(bearer_token(request))
        scope: Scope = ("endpoint_id", path_id(request, "endpoint_id"))
        return await lister.respond(request, caller, scope, params(request))

    @api.get("/sim/{sim_id}/event", responses=LIST_RESPONSES, summary="List a SIM's events",
             openapi_extra=documented(path_doc("sim_id")))
    async def sim_events(request: Request) -> Response:
        caller = await auth.principal(bearer_token(request))
        scope: Scope = ("sim_id", path_id(request, "sim_id"))
        return await lister.respond(request, caller, scope, params(request))

    @api.get("/user/{user_id}/event", responses=USER_RESPONSES, summary="List a user's events (or 'my')",
             openapi_extra=documented(path_doc("user_id", or_my=True)))
    async def user_events(request: Request) -> Response:
        caller = await auth.principal(bearer_token(request))
        user = path_user(request)
        wanted = caller.user_id if user == "my" else user
        if wanted != caller.user_id and not caller.may_read_other_users:
            raise Forbidden("reading another user's events needs the Administrator or Observer role")
        # An application token has no user of its own: its `my` list is empty.
        return await lister.respond(request, caller, ("user_id", wanted or 0), params(request),
                                    empty=wanted is None)

    return api


def fast_routes(api: APIRouter) -> list[Route]:
    """The same endpoints as plain Starlette routes, to be put in front of the app's routes."""
    return [Route(r.path, r.endpoint, methods=["GET"]) for r in api.routes if isinstance(r, APIRoute)]
