"""Outbound destinations must be public: a data stream is configured by a customer, and without this check
it could make the platform post to its own admin ports, the cloud metadata service or the operator's
private network (server-side request forgery). Loopback, private, link-local, shared, multicast and
reserved addresses are refused unless `CELLSTREAM_ALLOW_PRIVATE_DESTINATIONS=true` (tests, `make run`).

Checked twice: when a stream is created or changed (422 naming the field) and, for HTTP, again on every
connection by the resolver (a name that resolved to a public address then can point elsewhere now).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from cellstream.errors import Unprocessable


def is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_destination(url: str, field: str, *, allow_private: bool,
                            schemes: tuple[str, ...]) -> None:
    """Unprocessable naming `field` when `url` is malformed, has another scheme, does not resolve or
    resolves to a non-public address (unless allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise Unprocessable.of(field, f"must be a URL with scheme {' or '.join(schemes)}")
    if not parts.hostname:
        raise Unprocessable.of(field, "has no host")
    try:
        port = parts.port or 0
    except ValueError:
        raise Unprocessable.of(field, "has an invalid port") from None
    if allow_private:
        return
    try:
        addresses = await resolve(parts.hostname, port)
    except OSError as exc:
        raise Unprocessable.of(field, f"host {parts.hostname!r} does not resolve: {exc}") from None
    private = [a for a in addresses if is_private(a)]
    if private:
        raise Unprocessable.of(field, f"{parts.hostname} resolves to a private or loopback address "
                               f"({private[0]}); set CELLSTREAM_ALLOW_PRIVATE_DESTINATIONS=true to allow it")
