"""Authentication: organisations, users and tokens, emnify's `POST /api/v1/authenticate`, and turning a
bearer token back into the caller (`Principal`) on every API request.

Three ways in, as emnify documents them (facts §D): an application token → auth token; username and
SHA-1 hex password → auth and refresh token; refresh token → auth token. Failed logins leave events 6 and
7 in the log (see `auth_events`), so data streams and automations see them like any other event.

Two more ways to get an auth token, each leaving its event (facts §A.2, §A.3): switching to another
workspace the user belongs to (`POST /api/v1/authenticate/workspace` → 67 "User switched workspaces"),
and an Administrator creating a support token for another user of the organisation
(`POST /api/v2/user/{id}/support_token` → 13 "Support Access"). A user's auth token names the
organisation it acts in: its own, or a workspace it is a member of (roles from the membership). A support
token carries the `sup` claim (the support user's id); its roles are the ones chosen when it was made.
"""

from __future__ import annotations

import math
from typing import Any

import jwt
from argon2 import PasswordHasher

from cellstream.clock import Clock
from cellstream.domain import auth_events
from cellstream.domain.actor import Actor
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
from cellstream.domain.domain_events import domain_event
from cellstream.domain.jwt_tokens import ALGORITHM, JwtIssuer
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
SUPPORT_ACCESS, USER_SWITCHED_WORKSPACES = 13, 67
SUPPORT_CLAIM = "sup"  # in a support token: the id of the user who made it
SUPPORT_ROLES = (ADMINISTRATOR, OBSERVER)  # what a support token may be limited to (emnify's OpenAPI)
MAX_ID = 2**63 - 1


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
        self._signing_key = signing_key
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

    async def hash_password_digest(self, digest: str) -> str:
        """What is kept of a password that arrives as its SHA-1 hex digest (user activation)."""
        return await self._secrets.hash(digest.lower())

    async def verify_password_digest(self, user: User, digest: str) -> bool:
        return await self._secrets.verify(user.password_hash or None, digest.lower())

    def forget_user(self, user_id: int) -> None:
        """Stop trusting cached auth tokens of the user at once (it was deleted or changed)."""
        self._principals.drop_where(lambda p: p.user_id == user_id)

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
        principal.require_administrator("may manage application tokens")

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

    # ---------- POST /api/v1/authenticate/workspace and support tokens ----------

    async def switch_workspace(self, principal: Principal, body: Any) -> dict[str, str]:
        """`{"target_organisation": {"id"}}` → `{"auth_token"}` acting in that workspace, and event 67 in
        it. Only for users (an application token belongs to one workspace: 403); the target must be the
        user's own organisation or one it is a member of (otherwise 404, as for any foreign id)."""
        target_id = _target_organisation(body)
        if principal.user_id is None:
            raise Forbidden("switching workspaces needs user credentials, not an application token")
        user = await self.accounts.get_user(principal.user_id)
        if user is None or user.status != ACTIVE:
            raise AuthenticationFailed("the user of this auth token cannot log in")
        roles = user.roles if target_id == user.org_id else \
            await self.accounts.get_membership(user.id, target_id)
        target = await self.accounts.get_organisation(target_id)
        if roles is None or target is None:
            raise NotFound(f"Workspace with id '{target_id}' not found.")
        actor = Actor({"id": target.id, "name": target.name},
                      {"id": user.id, "name": user.name, "username": user.username})
        await self._record(domain_event(
            self._clock.now_ms(), actor, USER_SWITCHED_WORKSPACES,
            f"User with id: '{user.id}', switched to workspace: {target.id}"))
        return {"auth_token": self._auth_token(Principal(target.id, user.id, None, roles))}

    async def support_token(self, principal: Principal, user_id: int, body: Any) -> str:
        """An auth token acting as user `user_id` of the caller's organisation, optionally limited to
        one role (`role`: 1 Administrator or 3 Observer), and event 13 in that organisation. Only an
        Administrator user may make one (the event names the support user; application tokens: 403), not
        for itself (403); the target must be an active user of the organisation (404 otherwise)."""
        if principal.user_id is None or ADMINISTRATOR not in principal.roles:
            raise Forbidden("only Administrator users may create support tokens")
        if principal.user_id == user_id:
            raise Forbidden("a support token is for another user, not for oneself")
        role = _support_role(body)
        support = await self.accounts.get_user(principal.user_id)
        target = await self.accounts.get_user(user_id)
        if target is None or target.status != ACTIVE or target.org_id != principal.org_id:
            raise NotFound(f"User with id '{user_id}' not found")
        if support is None:
            raise AuthenticationFailed("the user of this auth token cannot log in")
        support_org = await self.accounts.get_organisation(principal.org_id)
        target_org = await self.accounts.get_organisation(target.org_id)
        if support_org is None or target_org is None:
            raise NotFound(f"Organisation with Id '{target.org_id}' not found.")
        actor = Actor({"id": target_org.id, "name": target_org.name},
                      {"id": target.id, "name": target.name, "username": target.username})
        description = (f"Support user {support.username} of organisation {support_org.name} generated a "
                       f"support token for user {target.username} of organisation {target_org.name}")
        detail = {"support_username": support.username,
                  "support_user_org": {"id": support_org.id, "name": support_org.name},
                  "target_username": target.username}
        await self._record(domain_event(self._clock.now_ms(), actor, SUPPORT_ACCESS, description,
                                        detail=detail))
        roles = target.roles if role is None else (role,)
        token = self._auth_token(Principal(target.org_id, target.id, None, roles))
        claims = jwt.decode(token, options={"verify_signature": False})
        claims[SUPPORT_CLAIM] = support.id
        return jwt.encode(claims, self._signing_key, algorithm=ALGORITHM)

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
            roles: tuple[int, ...] | None = None
            if user is not None and user.status == ACTIVE:
                roles = user.roles if user.org_id == claimed.org_id else \
                    await self.accounts.get_membership(user.id, claimed.org_id)  # another workspace
            if user is None or roles is None:
                raise AuthenticationFailed("the user of this auth token cannot log in")
            if _is_support_token(bearer_token):
                roles = claimed.roles  # chosen when the support token was made
            current = Principal(claimed.org_id, user.id, None, roles)  # otherwise roles as they are now
        self._principals.put(bearer_token, current, not_after_ms=not_after)
        return current


def _is_support_token(token: str) -> bool:
    """Whether a token already verified by JwtIssuer.read carries the support claim."""
    return SUPPORT_CLAIM in jwt.decode(token, options={"verify_signature": False})


def _target_organisation(body: Any) -> int:
    target = body.get("target_organisation") if isinstance(body, dict) else None
    if not isinstance(target, dict):
        raise Unprocessable.of("target_organisation", "must be an object with the workspace's id")
    ident = target.get("id")
    if isinstance(ident, bool) or not isinstance(ident, int) or not 1 <= ident <= MAX_ID:
        raise Unprocessable.of("target_organisation.id", f"must be an integer from 1 to {MAX_ID}")
    return ident


def _support_role(body: Any) -> int | None:
    if body is None:
        return None
    if not isinstance(body, dict):
        raise Unprocessable.of("body", "must be a JSON object")
    role = body.get("role")
    if role is None:
        return None
    if isinstance(role, str) and role.isascii() and role.isdigit() and len(role) < 3:
        role = int(role)
    if isinstance(role, bool) or role not in SUPPORT_ROLES:
        raise Unprocessable.of("role", "must be 1 (Administrator) or 3 (Observer)")
    return int(role)
