"""Request authentication: `Authorization: Bearer …` to a Principal (API routes) or to a service token
(internal routes), the client addresses a login is attributed to, and a size-capped body reader."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cellstream.domain.principal import Principal
from cellstream.errors import AuthenticationFailed, BadParameter, PayloadTooLarge
from cellstream.services import Services
from cellstream.store.protocols import ServiceToken

MAX_FORWARDED = 7  # addresses kept from X-Forwarded-For; the description of event 6/7 lists them

_auth_token = HTTPBearer(scheme_name="AuthToken", auto_error=False,
                         description="an auth_token from POST /api/v1/authenticate")
_service_token = HTTPBearer(scheme_name="ServiceToken", auto_error=False,
                            description="a service token (cellstream admin) for trusted producers")
Credentials = HTTPAuthorizationCredentials | None
# For routes that read the token by hand (the event lists); the scheme is registered by `_auth_token`.
BEARER_SECURITY: list[dict[str, list[str]]] = [{"AuthToken": []}]


def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer <token>`; AuthenticationFailed when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("send Authorization: Bearer <auth_token>")
    return token.strip()


def principal_dependency(services: Services) -> Callable[..., Awaitable[Principal]]:
    auth = services.auth

    async def current_principal(credentials: Annotated[Credentials, Depends(_auth_token)]) -> Principal:
        if credentials is None:
            raise AuthenticationFailed("send Authorization: Bearer <auth_token>")
        return await auth.principal(credentials.credentials)

    return current_principal


def service_dependency(services: Services) -> Callable[..., Awaitable[ServiceToken]]:
    auth = services.auth

    async def current_service(credentials: Annotated[Credentials, Depends(_service_token)]) -> ServiceToken:
        if credentials is None:
            raise AuthenticationFailed("send Authorization: Bearer <service token>")
        return await auth.verify_service_token(credentials.credentials)

    return current_service


def client_ips(request: Request) -> list[str]:
    """X-Forwarded-For addresses (valid ones, in order) followed by the peer, without repeats."""
    found: list[str] = []
    for header in request.headers.getlist("x-forwarded-for"):
        for part in header.split(","):
            try:
                found.append(str(ipaddress.ip_address(part.strip())))
            except ValueError:
                continue  # junk in a forwarded header must not end up in event descriptions
    found = found[:MAX_FORWARDED]
    if request.client is not None:
        found.append(request.client.host)
    return list(dict.fromkeys(found))


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes: by Content-Length before reading anything, and
    while reading for bodies sent without one (chunked)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise BadParameter.of("Content-Length", "is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(f"the body is {int(declared)} bytes; at most {limit} are accepted")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes; at most {limit} are accepted")
        chunks.append(chunk)
    return b"".join(chunks)
