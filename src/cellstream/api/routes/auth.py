"""POST /api/v1/authenticate (facts §D): the only /api/ route that needs no bearer token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cellstream.api.auth import client_ips, read_body
from cellstream.api.ratelimit import SlidingWindowLimiter
from cellstream.api.schemas import AuthenticateRequest, AuthenticateResponse, Problem
from cellstream.errors import BadParameter
from cellstream.events.codec import decode_json
from cellstream.services import Services

MAX_BODY = 64 * 1024  # credentials are tiny; refuse to buffer more

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": AuthenticateResponse, "description": "auth_token (and refresh_token for user logins)"},
    400: {"model": Problem, "description": "malformed body; names the field"},
    401: {"model": Problem, "description": "credentials not valid; error_token TooManyRequests while the "
                                           "account is locked after repeated failures"},
    413: {"model": Problem, "description": "body too large"},
    429: {"model": Problem, "description": "more than 100 requests from one address in 5 minutes"},
}
_BODY_SCHEMA = AuthenticateRequest.model_json_schema()


def router(services: Services) -> APIRouter:
    limiter = SlidingWindowLimiter(services.clock) if services.settings.rate_limits == "on" else None
    api = APIRouter(tags=["Authentication"])

    @api.post("/api/v1/authenticate", responses=RESPONSES, summary="Retrieve an authentication token",
              openapi_extra={"requestBody": {"required": True,
                                             "content": {"application/json": {"schema": _BODY_SCHEMA}}}})
    async def authenticate(request: Request) -> JSONResponse:
        # The body is parsed here rather than by a model so that a malformed one is a 400 naming the
        # field, as emnify answers, instead of FastAPI's 422.
        ips = client_ips(request)
        if limiter is not None:
            limiter.check(request.client.host if request.client else "unknown")
        raw = await read_body(request, MAX_BODY)
        try:
            body = decode_json(raw) if raw.strip() else None
        except ValueError as exc:
            raise BadParameter.of("body", f"is not valid JSON: {exc}") from None
        return JSONResponse(await services.auth.authenticate(body, ips))

    return api
