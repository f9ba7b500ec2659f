"""The JWTs `POST /api/v1/authenticate` hands out: HS256, signed with the server's key.

Claims carry what is needed to rebuild the caller (organisation, user or application token, roles) and the
token's type, so a refresh token is never accepted where an auth token is expected. Time is checked
against the injected clock, not the wall clock, so tests and the simulator can expire tokens.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from jwt.types import Options

from cellstream.clock import Clock
from cellstream.domain.principal import Principal
from cellstream.errors import AuthenticationFailed

TokenType = Literal["auth", "refresh"]
ALGORITHM = "HS256"
# The clock is checked by hand below; pyjwt would check exp/iat/nbf against the wall clock.
_OPTIONS: Options = {"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                   "require": ["exp", "typ", "org"]}


@dataclass(frozen=True)
class Claims:
    token_type: TokenType
    principal: Principal
    expires_ms: int


class JwtIssuer:
    def __init__(self, key: str, clock: Clock) -> None:
        self._key = key
        self._clock = clock

    def issue(self, principal: Principal, token_type: TokenType, lifetime_s: int) -> str:
        now_s = self._clock.now_ms() // 1000
        claims: dict[str, Any] = {
            "typ": token_type, "org": principal.org_id, "roles": list(principal.roles),
            "iat": now_s, "exp": now_s + lifetime_s,
            # Two tokens issued in the same second for the same caller still differ.
            "jti": secrets.token_urlsafe(9),
        }
        if principal.user_id is not None:
            claims["uid"] = principal.user_id
            claims["sub"] = f"user:{principal.user_id}"
        if principal.app_token_id is not None:
            claims["tid"] = principal.app_token_id
            claims["sub"] = f"application_token:{principal.app_token_id}"
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def read(self, token: str, token_type: TokenType) -> Claims:
        """Verify signature, type and expiry. Raises AuthenticationFailed without saying which failed."""
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM], options=_OPTIONS)
        except jwt.InvalidTokenError:
            raise AuthenticationFailed("the token is not valid") from None
        expires_ms = _int(claims.get("exp")) * 1000
        if claims.get("typ") != token_type:
            raise AuthenticationFailed(f"not an {token_type} token" if token_type == "auth"
                                       else f"not a {token_type} token")
        if expires_ms <= self._clock.now_ms():
            raise AuthenticationFailed("the token has expired")
        user_id, app_token_id = claims.get("uid"), claims.get("tid")
        roles = claims.get("roles") or []
        if (user_id is None) == (app_token_id is None) or not isinstance(roles, list):
            raise AuthenticationFailed("the token is not valid")
        principal = Principal(_int(claims["org"]), None if user_id is None else _int(user_id),
                              None if app_token_id is None else _int(app_token_id),
                              tuple(_int(r) for r in roles))
        return Claims(token_type, principal, expires_ms)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AuthenticationFailed("the token is not valid")
    return value
