"""The events a failed `POST /api/v1/authenticate` leaves behind, worded like emnify's (facts §A.3).

6 "User authentication failed" carries the user and the organisation; 7 "Application authentication
failed" only the organisation. Both: source API, severity Warn, no alert. The description ends with the
client's IP addresses as the server saw them (X-Forwarded-For entries, then the peer).
"""

from __future__ import annotations

from cellstream.events.catalog import API, WARN
from cellstream.events.model import Event, Ref
from cellstream.store.protocols import ApplicationToken, Organisation, User

USER_AUTH_FAILED, APP_AUTH_FAILED = 6, 7

INVALID_PASSWORD = "Invalid password"
LOCKED = "Invalid password. Too many failed authentication requests"
TOKEN_REVOKED = "TokenStatus Revoked"
TOKEN_EXPIRED = "TokenStatus Expired"
IP_NOT_ALLOWED = "IP address not allowed"


def _organisation(org_id: int, org: Organisation | None) -> Ref:
    return {"id": org_id, "name": org.name} if org is not None else {"id": org_id}


def _description(who: str, reason: str, ips: list[str]) -> str:
    return f"Failed authentication request from '{who}', Reason: {reason} from IP {', '.join(ips)}"


def user_auth_failed(now_ms: int, user: User, org: Organisation | None, reason: str,
                     ips: list[str]) -> Event:
    return Event(
        id=None, timestamp_ms=now_ms, alert=False, description=_description(user.username, reason, ips),
        type_id=USER_AUTH_FAILED, source_id=API, severity_id=WARN,
        organisation=_organisation(user.org_id, org),
        user={"id": user.id, "name": user.name, "username": user.username},
    )


def app_auth_failed(now_ms: int, token: ApplicationToken, org: Organisation | None, reason: str,
                    ips: list[str]) -> Event:
    who = token.description or f"Application Token {token.id}"
    return Event(
        id=None, timestamp_ms=now_ms, alert=False, description=_description(who, reason, ips),
        type_id=APP_AUTH_FAILED, source_id=API, severity_id=WARN,
        organisation=_organisation(token.org_id, org),
    )
