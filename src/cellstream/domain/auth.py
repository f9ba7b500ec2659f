"""Authentication: organisations, users and tokens, emnify's `POST /api/v1/authenticate`, and turning a
bearer token back into the caller (`Principal`) on every API request.

Three ways in, as emnify documents them (facts §D): an application token → auth token; username and
SHA-1 hex password → auth and refresh token; refresh token → auth token. Failed logins leave events 6 and
7 in the log (see `auth_events`), so data streams and automations see them like any other event.
"""

from __future__ import annotations

import math
from typing import Any

from argon2 import PasswordHasher

from cellstream.clock import Clock
from cellstream.domain import auth_events
from cellstream.domain.app_tokens import (
    ACTIVATED,
    InvalidFormat,
    check_description,
    check_ip,
    ip_allowed,
    parse_expiry,
    parse_status,
    token_view,
)
from cellstream.domain.credentials import (
    APPLICATION,
    SERVICE,
    SecretHasher,
    default_hasher,
    format_token,
    new_secret,
    parse_token,
    sha1_hex,
)
from cellstream.domain.jwt_tokens import JwtIssuer
from cellstream.domain.principal import ADMINISTRATOR, OBSERVER, USER, Principal
from cellstream.domain.ttl_cache import TtlCache
from cellstream.errors import (
    AuthenticationFailed,
    BadParameter,
    Conflict,
    Forbidden,
    NotFound,
    TooManyFailures,
    Unprocessable,
)
from cellstream.events.model import Event
from cellstream.ingest.service import Ingestor
from cellstream.settings import Settings
from cellstream.store.protocols import AccountStore, ApplicationToken, Organisation, ServiceToken, User

ACTIVE = 1  # user status; 0 Activation Pending, 2 Suspended and 3 Deleted may not log in
BAD_CREDENTIALS = "username or password is not valid"
BAD_APP_TOKEN = "the application token is not valid"


def _required(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise BadParameter.of(field, "must be a non-empty string")
    return value


class AuthService:
    def __init__(self, accounts: AccountStore, ingestor: Ingestor, clock: Clock, settings: Settings,
                 signing_key: str, *, hasher: PasswordHasher | None = None, cache_ms: int = 5000) -> None:
        """`hasher` lets tests use cheap argon2 parameters; `cache_ms` is how long a verified bearer
        token is trusted without looking at the store again (revocation clears it at once in-process)."""
        self.accounts = accounts
        self._ingestor = ingestor
        self._clock = clock
        self._settings = settings
        self._secrets = SecretHasher(hasher or default_hasher())
        self._jwt = JwtIssuer(signing_key, clock)
        self._principals: TtlCache[Principal] = TtlCache(clock, cache_ms)
        self._service_tokens: TtlCache[ServiceToken] = TtlCache(clock, cache_ms)

    # ---------- organisations and users ----------

    async def create_organisation(self, name: str, org_id: int | None = None) -> Organisation:
        return await self.accounts.create_organisation(name, org_id=org_id, now_ms=self._clock.now_ms())

    async def ensure_organisation(self, org_id: int, name: str | None = None) -> Organisation:
        org = await self.accounts.get_organisation(org_id)
        if org is not None:
            return org
        try:
            return await self.create_organisation(name or f"Organisation {org_id}", org_id)
        except Conflict:  # created meanwhile by someone else: theirs is as good
            org = await self.accounts.get_organisation(org_id)
            if org is None:
                raise
            return org

    async def create_user(self, org_id: int, username: str, password: str, name: str = "",
                          roles: tuple[int, ...] = (ADMINISTRATOR,)) -> User:
        """`password` is the plain password; what is kept is argon2 of its SHA-1 hex digest."""
        if not username.strip():
            raise Unprocessable.of("username", "must not be empty")
        if not roles or any(r not in (ADMINISTRATOR, USER, OBSERVER) for r in roles):
            raise Unprocessable.of("roles", "each role is 1 (Administrator), 2 (User) or 3 (Observer)")
        password_hash = await self._secrets.hash(sha1_hex(password))
        return await self.accounts.create_user(org_id, username.strip(), name, password_hash, tuple(roles),
                                               now_ms=self._clock.now_ms())

    async def verify_plain_password(self, user: User, plain: str) -> bool:
        """For logins that see the plain password (the portal); the API receives the digest instead."""
        return await self._secrets.verify(user.password_hash, sha1_hex(plain))

    # ---------- application and service tokens ----------

    async def create_application_token(self, org_id: int, description: str = "", expiry_ms: int | None = None,
                                       ip: str | None = None,
                                       creator_user_id: int | None = None) -> tuple[ApplicationToken, str]:
        """Returns the stored token and the token string, which is shown once and never stored."""
        description, ip = check_description(description), check_ip(ip)
        if expiry_ms is not None and expiry_ms <= self._clock.now_ms():
            raise InvalidFormat.of("expiry_date", "is not in the future")
        secret = new_secret()
        token = await self.accounts.create_application_token(
            org_id, description, await self._secrets.hash(secret), now_ms=self._clock.now_ms(),
            expiry_ms=expiry_ms, ip=ip, creator_user_id=creator_user_id)
        return token, format_token(APPLICATION, token.id, secret)

    async def create_service_token(self, description: str) -> tuple[ServiceToken, str]:
        """A token for trusted producers (POST /internal/v1/events); not tied to an organisation."""
        secret = new_secret()
        token = await self.accounts.create_service_token(description, await self._secrets.hash(secret),
                                                         now_ms=self._clock.now_ms())
        return token, format_token(SERVICE, token.id, secret)

    async def verify_service_token(self, token: str) -> ServiceToken:
        known = self._service_tokens.get(token)
        if known is not None:
            return known
        parsed = parse_token(SERVICE, token)
        stored = await self.accounts.get_service_token(parsed[0]) if parsed else None
        if parsed is None or stored is None or stored.revoked or not await self._secrets.verify(
                stored.secret_hash, parsed[1]):
            raise AuthenticationFailed("not a valid service token")
        self._service_tokens.put(token, stored)
        return stored

    async def list_application_tokens(self, principal: Principal) -> list[dict[str, Any]]:
        tokens = sorted(await self.accounts.list_application_tokens(principal.org_id), key=lambda t: t.id)
        creators: dict[int, User | None] = {}
        for user_id in {t.creator_user_id for t in tokens if t.creator_user_id is not None}:
            creators[user_id] = await self.accounts.get_user(user_id)
        return [token_view(t, creators.get(t.creator_user_id) if t.creator_user_id else None) for t in tokens]

    async def issue_application_token(self, principal: Principal, body: dict[str, Any]) -> str:
        """POST /api/v1/application_token: `description`, `expiry_date`, `ip` (CIDR), all optional."""
        self._require_admin(principal)
        description = check_description(body.get("description") or "")
        expiry_ms = parse_expiry(body.get("expiry_date"), self._clock.now_ms())
        _, text = await self.create_application_token(principal.org_id, description, expiry_ms,
                                                      check_ip(body.get("ip")), principal.user_id)
        return text

    async def update_application_token(self, principal: Principal, token_id: int,
                                       body: dict[str, Any]) -> None:
        """PATCH /api/v1/application_token/{id}: `description` and/or `status` (1 revokes)."""
        self._require_admin(principal)
        description = None if body.get("description") is None else check_description(body["description"])
        status = None if body.get("status") is None else parse_status(body["status"])
        updated = await self.accounts.update_application_token(principal.org_id, token_id,
                                                               description=description, status=status)
        if updated is None:
            raise NotFound(f"Application Token with Id '{token_id}' not found.")
        # Auth tokens issued from it stop working now, not when the cache entry would have expired.
        self._principals.drop_where(lambda p: p.app_token_id == token_id)

    @staticmethod
    def _require_admin(principal: Principal) -> None:
        if not principal.may_administer:
            raise Forbidden("only Administrators and application tokens may manage application tokens")

    # ---------- POST /api/v1/authenticate ----------

    async def authenticate(self, body: Any, client_ips: list[str]) -> dict[str, str]:
        """`client_ips`: X-Forwarded-For entries, then the address the server saw last. The last one is
        what an application token's IP restriction is checked against (it cannot be forged by a header;
        behind a proxy, let uvicorn resolve it from trusted proxy headers)."""
        if not isinstance(body, dict):
            raise BadParameter.of("body", "must be a JSON object")
        if "application_token" in body:
            return {"auth_token": await self._login_app(_required(body, "application_token"), client_ips)}
        if "refresh_token" in body:
            return {"auth_token": await self._refresh(_required(body, "refresh_token"))}
        if "mfa_token" in body:
            raise AuthenticationFailed("multi-factor authentication is not enabled on this server")
        if "username" in body or "password" in body:
            user = await self._login_user(_required(body, "username"), _required(body, "password"),
                                          client_ips)
            principal = Principal(user.org_id, user.id, None, user.roles)
            refresh = self._jwt.issue(principal, "refresh", self._settings.refresh_token_days * 86_400)
            return {"auth_token": self._auth_token(principal), "refresh_token": refresh}
        raise BadParameter.of("body", "give application_token, username and password, or refresh_token")

    def _auth_token(self, principal: Principal) -> str:
        return self._jwt.issue(principal, "auth", self._settings.auth_token_minutes * 60)

    async def _login_user(self, username: str, digest: str, ips: list[str]) -> User:
        now = self._clock.now_ms()
        user = await self.accounts.find_user(username)
        if user is None or user.status != ACTIVE:
            await self._secrets.verify(None, digest)  # answer as slowly as for a wrong password
            raise AuthenticationFailed(BAD_CREDENTIALS)
        if user.locked_until_ms > now:
            await self._record(auth_events.user_auth_failed(
                now, user, await self.accounts.get_organisation(user.org_id), auth_events.LOCKED, ips))
            raise TooManyFailures(self._locked_message())
        if await self._secrets.verify(user.password_hash, digest.lower()):
            if user.failed_logins or user.locked_until_ms:
                await self.accounts.update_login_state(user.id, 0, 0)
            return user
        failures = user.failed_logins + 1
        locked = failures >= self._settings.lockout_failures
        if locked:
            await self.accounts.update_login_state(user.id, 0, now + self._settings.lockout_minutes * 60_000)
        else:
            await self.accounts.update_login_state(user.id, failures, 0)
        reason = auth_events.LOCKED if locked else auth_events.INVALID_PASSWORD
        await self._record(auth_events.user_auth_failed(
            now, user, await self.accounts.get_organisation(user.org_id), reason, ips))
        raise TooManyFailures(self._locked_message()) if locked else AuthenticationFailed(BAD_CREDENTIALS)

    def _locked_message(self) -> str:
        return (f"too many failed authentication requests: the account is locked for "
                f"{self._settings.lockout_minutes} minutes")

    async def _login_app(self, text: str, ips: list[str]) -> str:
        parsed = parse_token(APPLICATION, text)
        token = await self.accounts.get_application_token(parsed[0]) if parsed else None
        # A token whose secret does not match is treated as garbage: it names no organisation reliably.
        if parsed is None or token is None or not await self._secrets.verify(token.secret_hash, parsed[1]):
            raise AuthenticationFailed(BAD_APP_TOKEN)
        now = self._clock.now_ms()
        reason = ""
        if token.status != ACTIVATED:
            reason = auth_events.TOKEN_REVOKED
        elif token.expiry_ms is not None and token.expiry_ms <= now:
            reason = auth_events.TOKEN_EXPIRED
        elif not ip_allowed(token.ip, ips[-1] if ips else None):
            reason = auth_events.IP_NOT_ALLOWED
        if reason:
            org = await self.accounts.get_organisation(token.org_id)
            await self._record(auth_events.app_auth_failed(now, token, org, reason, ips))
            raise AuthenticationFailed(f"{BAD_APP_TOKEN}: {reason}")
        return self._auth_token(Principal(token.org_id, None, token.id, ()))

    async def _refresh(self, text: str) -> str:
        claims = self._jwt.read(text, "refresh")
        user_id = claims.principal.user_id
        user = await self.accounts.get_user(user_id) if user_id is not None else None
        if user is None or user.status != ACTIVE or user.org_id != claims.principal.org_id:
            raise AuthenticationFailed("the user of this refresh token cannot log in")
        return self._auth_token(Principal(user.org_id, user.id, None, user.roles))

    async def _record(self, event: Event) -> None:
        await self._ingestor.ingest([event])

    # ---------- every request ----------

    async def principal(self, bearer_token: str) -> Principal:
        """The caller behind an auth token; AuthenticationFailed when it is invalid, expired, a refresh
        token, or its application token / user is revoked, deleted or no longer active."""
        known = self._principals.get(bearer_token)
        if known is not None:
            return known
        claims = self._jwt.read(bearer_token, "auth")
        claimed = claims.principal
        not_after = claims.expires_ms
        if claimed.app_token_id is not None:
            token = await self.accounts.get_application_token(claimed.app_token_id)
            expiry = math.inf if token is None or token.expiry_ms is None else token.expiry_ms
            if token is None or token.org_id != claimed.org_id or token.status != ACTIVATED or \
                    expiry <= self._clock.now_ms():
                raise AuthenticationFailed("the application token of this auth token is revoked or expired")
            current = claimed
            not_after = int(min(not_after, expiry))
        else:
            user = await self.accounts.get_user(claimed.user_id or 0)
            if user is None or user.status != ACTIVE or user.org_id != claimed.org_id:
                raise AuthenticationFailed("the user of this auth token cannot log in")
            current = Principal(user.org_id, user.id, None, user.roles)  # roles as they are now
        self._principals.put(bearer_token, current, not_after_ms=not_after)
        return current
