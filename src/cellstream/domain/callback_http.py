"""The HTTP side of posting to a customer's callback URL, shared by the WEBHOOK automation action and the
SMS callbacks of service profiles: both are destinations customers configure, so both must refuse
private and loopback addresses unless the operator allows them (server-side request forgery; see
cellstream.streamer.addresses), and both log URLs without their credentials.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from cellstream.streamer.addresses import is_private


class PrivateAddress(OSError):
    """A destination name resolved to a non-public address (raised by the resolver, kept by aiohttp as
    the connection error's cause, so a refusal is told apart from an unreachable host per request)."""


class PublicResolver(AbstractResolver):
    """aiohttp's default resolver, refusing names that resolve to non-public addresses. aiohttp asks it on
    every new connection, so a name that pointed somewhere public when configured cannot be turned
    against the platform later (DNS rebinding)."""

    def __init__(self) -> None:
        self._inner = aiohttp.DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if is_private(result["host"]):
                raise PrivateAddress(f"{host} resolves to the non-public address {result['host']}; set "
                                     "CELLSTREAM_ALLOW_PRIVATE_DESTINATIONS=true to allow it")
        return results

    async def close(self) -> None:
        await self._inner.close()


def shown(url: str) -> str:
    """`url` for the action log: without user:password, which must not be shown to every member."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def private_literal(url: str) -> str | None:
    """The host of `url` when it is a non-public IP address. Addresses written as such never reach a
    resolver (aiohttp connects to them directly), so they are checked here."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    return host if is_private(host) else None


def refusal(exc: BaseException) -> str | None:
    """The PrivateAddress behind a connection error, if that is what it was."""
    seen: Any = exc
    for _ in range(4):  # aiohttp wraps the resolver's error once or twice
        if seen is None:
            return None
        if isinstance(seen, PrivateAddress):
            return str(seen)
        seen = getattr(seen, "os_error", None) or seen.__cause__
    return None
