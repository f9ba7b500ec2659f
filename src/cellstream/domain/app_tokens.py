"""The application token resource (`/api/v1/application_token`): request checks and the list shape."""

from __future__ import annotations

import ipaddress
from typing import Any

from cellstream.errors import Unprocessable
from cellstream.events.timefmt import format_timestamp, parse_timestamp
from cellstream.store.protocols import ApplicationToken, User

ACTIVATED, REVOKED = 0, 1
STATUSES = {ACTIVATED: "Activated", REVOKED: "Revoked"}
MAX_DESCRIPTION = 1000


class InvalidFormat(Unprocessable):
    """emnify answers a malformed token request with 422 and error_token InvalidFormat."""

    token = "InvalidFormat"


def check_description(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidFormat.of("description", "must be a string")
    if len(value) > MAX_DESCRIPTION:
        raise InvalidFormat.of("description", f"must be at most {MAX_DESCRIPTION} characters")
    return value


def parse_expiry(value: Any, now_ms: int) -> int | None:
    """`expiry_date`: a date (midnight UTC) or a date-time with zone; it must lie in the future."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidFormat.of("expiry_date", "must be a date like 2027-01-31 or 2027-01-31T12:00:00Z")
    try:
        expiry_ms = parse_timestamp(value)
    except ValueError:
        raise InvalidFormat.of("expiry_date", f"{value!r} is not a date like 2027-01-31 or "
                                              "2027-01-31T12:00:00Z") from None
    if expiry_ms <= now_ms:
        raise InvalidFormat.of("expiry_date", f"{value!r} is not in the future")
    return expiry_ms


def check_ip(value: Any) -> str | None:
    """`ip`: the network the token may be used from, in CIDR notation (a bare address means /32, /128)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            ipaddress.ip_network(value.strip(), strict=False)
            return value.strip()
        except ValueError:
            pass
    raise InvalidFormat.of("ip", "has invalid format: expecting an IP address in CIDR notation, "
                                 "e.g. 10.203.23.78/32")


def ip_allowed(allowed: str | None, address: str | None) -> bool:
    if allowed is None:
        return True
    try:
        return ipaddress.ip_address(address or "") in ipaddress.ip_network(allowed, strict=False)
    except ValueError:
        return False


def parse_status(value: Any) -> int:
    """`status` as emnify documents it ({"id": 1}) or as a bare id."""
    raw = value.get("id") if isinstance(value, dict) else value
    if isinstance(raw, bool) or not isinstance(raw, int) or raw not in STATUSES:
        raise InvalidFormat.of("status", "must be {\"id\": 0} (Activated) or {\"id\": 1} (Revoked)")
    return int(raw)


def token_view(token: ApplicationToken, creator: User | None) -> dict[str, Any]:
    """One item of GET /api/v1/application_token; optional keys are left out when unset, as emnify does."""
    view: dict[str, Any] = {
        "id": token.id,
        "description": token.description,
        "created": format_timestamp(token.created_ms),
        "status": {"id": token.status, "description": STATUSES.get(token.status, str(token.status))},
    }
    if token.expiry_ms is not None:
        view["expiry_date"] = format_timestamp(token.expiry_ms)
    if token.ip is not None:
        view["ip"] = token.ip
    if creator is not None:
        view["creator"] = {"id": creator.id, "name": creator.name, "username": creator.username}
    return view
