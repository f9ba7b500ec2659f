"""User management (facts §H.5, §D): list, read, create, activate and delete users, and MFA keys.

Events (facts §A.2, §A.3; source API, severity and alert from the catalog):
- 41 "User verified" when a user is activated: the user and its organisation;
- 46 "User deleted": the acting user, the organisation, `detail.user` {id, username} of the deleted one;
- 14 "Multi-factor Authentication" when an MFA key is deleted: the key's user and the organisation.
Each is stored in the transaction of its change (the account store appends it), and subscribers are woken
after the commit.

There is no e-mail here: creating a user answers with the activation key that emnify would mail, and
`POST /api/v1/user/activation` with that key and the password's SHA-1 hex digest activates the user. MFA
keys are kept minimally: a user creates its own (status Activation Pending, secret shown once) and it can
be deleted; activating one (TOTP check) and asking for a code at login are not implemented, so MFA is never
enforced.

Only the organisation's own users are seen and changed (a foreign id answers 404). Changes need an
Administrator or an application token (403 otherwise), except the self-service ones: creating one's own
MFA key, deleting one's own MFA key, and activation (which has no caller).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cellstream.clock import Clock
from cellstream.domain.actor import Actor, actor_of
from cellstream.domain.auth import AuthService
from cellstream.domain.domain_events import domain_event
from cellstream.domain.principal import ADMINISTRATOR, OBSERVER, USER, Principal
from cellstream.errors import Forbidden, NotFound, Unprocessable
from cellstream.events.model import Event, Ref
from cellstream.ingest.notifier import Notifier
from cellstream.store.protocols import (
    USER_DELETED,
    USER_PENDING,
    AccountStore,
    AppendResult,
    MfaKey,
    User,
)

USER_VERIFIED, USER_DELETED_EVENT, MULTI_FACTOR_AUTHENTICATION = 41, 46, 14
ROLE_NAMES = {ADMINISTRATOR: "Administrator", USER: "User", OBSERVER: "Observer"}
STATUS_NAMES = {0: "Activation Pending", 1: "Active", 2: "Suspended", 3: "Deleted"}
TOTP = 0
MFA_TYPE_NAMES = {TOTP: "Time-Based One-Time Password"}
MFA_STATUS_NAMES = {0: "Activation Pending", 1: "Active"}
DEFAULT_ROLES = (USER,)  # emnify assigns "a default role" when none is given: the least one
MAX_TEXT = 255
MAX_USERNAME = 254
# An e-mail address, roughly: something@domain.tld, no spaces, no colon (deleted users' keys use it).
_EMAIL = re.compile(r"[^@\s:]+@[^@\s:]+\.[^@\s:]+")
_SHA1_HEX = re.compile(r"[0-9a-fA-F]{40}")


@dataclass(frozen=True)
class NewUser:
    user: User
    activation_key: str  # what emnify would e-mail; shown once


@dataclass(frozen=True)
class NewMfaKey:
    key: MfaKey
    otpauth: str  # the secret as an otpauth:// URI (for QR codes); shown once


def activation_digest(key: str) -> str:
    """How an activation key is kept: SHA-256 hex (the key is random, so this is enough)."""
    return hashlib.sha256(key.encode()).hexdigest()


def user_ref(user: User) -> Ref:
    return {"id": user.id, "name": user.name, "username": user.username}


def _required_text(body: Mapping[str, Any], field: str, limit: int = MAX_TEXT) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Unprocessable.of(field, f"must be a non-empty string of at most {limit} characters")
    return value.strip()


def _roles(body: Mapping[str, Any]) -> tuple[int, ...]:
    given = body.get("roles")
    if given is None:
        return DEFAULT_ROLES
    if not isinstance(given, list) or not given:
        raise Unprocessable.of("roles", "must be a non-empty list of {id} objects")
    roles: list[int] = []
    for index, item in enumerate(given):
        ident = item.get("id") if isinstance(item, Mapping) else None
        if isinstance(ident, bool) or ident not in ROLE_NAMES:
            raise Unprocessable.of(f"roles[{index}].id", f"Role with Id '{ident}' not found: use 1 "
                                                         "(Administrator), 2 (User) or 3 (Observer)")
        if ident not in roles:
            roles.append(int(ident))
    return tuple(roles)


class Users:
    def __init__(self, accounts: AccountStore, auth: AuthService, notifier: Notifier, clock: Clock) -> None:
        self.accounts = accounts
        self.auth = auth
        self.notifier = notifier
        self.clock = clock

    async def _committed(self, result: AppendResult) -> None:
        await self.notifier.committed(result.stored)

    # reading -------------------------------------------------------------------------------------------

    async def users(self, principal: Principal) -> list[User]:
        """The organisation's users that are not deleted, in id order."""
        return [u for u in await self.accounts.list_users(principal.org_id) if u.status != USER_DELETED]

    async def get(self, principal: Principal, ref: int | str) -> User:
        """By id, by username, or "my" (the caller)."""
        user: User | None
        if ref == "my":
            if principal.user_id is None:
                raise NotFound("an application token has no user")
            user = await self.accounts.get_user(principal.user_id)
        elif isinstance(ref, int):
            user = await self.accounts.get_user(ref)
        else:
            user = await self.accounts.find_user(ref)
        if user is None or user.status == USER_DELETED or user.org_id != principal.org_id:
            raise NotFound(f"User with id '{ref}' not found")
        return user

    async def mfa_keys(self, user: User) -> list[MfaKey]:
        return await self.accounts.list_mfa_keys(user.id)

    # creating and activating ---------------------------------------------------------------------------

    async def create(self, principal: Principal, body: Mapping[str, Any]) -> NewUser:
        """`POST /api/v1/user`: `username` (e-mail), `name`, optional `organisation` {id} (the caller's
        own only), optional `roles` [{id}] (default: User). Status Activation Pending, no password."""
        principal.require_administrator("may manage users")
        username = _required_text(body, "username", MAX_USERNAME)
        if not _EMAIL.fullmatch(username):
            raise Unprocessable.of("username", "must be the user's e-mail address")
        name = _required_text(body, "name")
        organisation = body.get("organisation")
        if organisation is not None:
            org_id = organisation.get("id") if isinstance(organisation, Mapping) else None
            if org_id != principal.org_id or isinstance(org_id, bool):
                raise Unprocessable.of("organisation.id", f"Organisation with id '{org_id}' not found.")
        roles = _roles(body)
        key = secrets.token_hex(16)
        user = await self.accounts.create_user(principal.org_id, username, name, "", roles,
                                               now_ms=self.clock.now_ms(), status=USER_PENDING,
                                               activation_digest=activation_digest(key))
        return NewUser(user, key)

    async def activate(self, body: Mapping[str, Any]) -> User:
        """`POST /api/v1/user/activation` {activationKey, password (SHA-1 hex digest)} → event 41."""
        key = body.get("activationKey")
        if not isinstance(key, str) or not key or len(key) > MAX_TEXT:
            raise Unprocessable.of("activationKey", "must be the activation key given when the user was made")
        password = body.get("password")
        if not isinstance(password, str) or not _SHA1_HEX.fullmatch(password):
            raise Unprocessable.of("password", "must be the SHA-1 hex digest of the new password")
        digest = activation_digest(key)
        user = await self.accounts.find_activation(digest)
        org = await self.accounts.get_organisation(user.org_id) if user is not None else None
        if user is None or user.status != USER_PENDING or org is None:
            raise Unprocessable.of("activationKey", "is not valid or was used already")
        event = domain_event(self.clock.now_ms(), Actor({"id": org.id, "name": org.name}, user_ref(user)),
                             USER_VERIFIED, f"User '{user.username}' verified successfully")
        password_hash = await self.auth.hash_password_digest(password)
        try:
            result = await self.accounts.activate_user(user.id, digest, password_hash, events=[event])
        except NotFound:  # activated (or deleted) meanwhile
            raise Unprocessable.of("activationKey", "is not valid or was used already") from None
        await self._committed(result)
        return user

    # deleting ------------------------------------------------------------------------------------------

    async def delete(self, principal: Principal, user_id: int) -> None:
        """`DELETE /api/v2/user/{id}` (and v1) → event 46. Not oneself (403)."""
        principal.require_administrator("may manage users")
        user = await self.get(principal, user_id)
        if principal.user_id == user.id:
            raise Forbidden("a user cannot delete itself")
        actor = await actor_of(self.accounts, principal)
        event = domain_event(self.clock.now_ms(), actor, USER_DELETED_EVENT,
                             f"User '{user.username}' deleted",
                             detail={"user": {"id": user.id, "username": user.username}})
        try:
            result = await self.accounts.delete_user(user.id, events=[event])
        finally:
            self.auth.forget_user(user.id)
        await self._committed(result)

    # MFA keys ------------------------------------------------------------------------------------------

    async def create_mfa_key(self, principal: Principal, body: Mapping[str, Any]) -> NewMfaKey:
        """`POST /api/v1/user/mfa` {type {id: 0}, password (SHA-1 hex)}: a key for the caller itself."""
        if principal.user_id is None:
            raise Forbidden("MFA keys belong to users: authenticate with user credentials")
        kind = body.get("type")
        type_id = kind.get("id") if isinstance(kind, Mapping) else None
        if isinstance(type_id, bool) or type_id not in MFA_TYPE_NAMES:
            raise Unprocessable.of("type.id", "must be 0 (Time-Based One-Time Password)")
        password = body.get("password")
        if not isinstance(password, str) or not password:
            raise Unprocessable.of("password", "must be the SHA-1 hex digest of the user's password")
        user = await self.get(principal, "my")
        if not await self.auth.verify_password_digest(user, password):
            raise Unprocessable.of("password", f"Wrong Password for User '{user.username}'")
        secret = base64.b32encode(secrets.token_bytes(20)).decode()
        key = await self.accounts.create_mfa_key(user.id, int(type_id), secret, now_ms=self.clock.now_ms())
        otpauth = (f"otpauth://totp/Cellstream:{quote(user.username)}?secret={secret}"
                   "&issuer=Cellstream&algorithm=SHA1&digits=6&period=30")
        return NewMfaKey(key, otpauth)

    async def delete_mfa_key(self, principal: Principal, ref: int | str, key_id: int) -> None:
        """`DELETE /api/v1/user/{id}/mfa/{key_id}` → event 14. An Administrator (or application token)
        for any user of the organisation, a user for itself."""
        user = await self.get(principal, ref)
        if principal.user_id != user.id:
            principal.require_administrator("may manage users")
        keys = {k.id: k for k in await self.accounts.list_mfa_keys(user.id)}
        key = keys.get(key_id)
        if key is None:
            raise NotFound(f"MFA Key with id '{key_id}' not found")
        actor = await actor_of(self.accounts, principal)
        event = mfa_key_deleted(self.clock.now_ms(), actor, user, key)
        result = await self.accounts.delete_mfa_key(user.id, key_id, events=[event])
        await self._committed(result)

    # workspaces ----------------------------------------------------------------------------------------

    async def assign_workspace(self, user_id: int, org_id: int,
                               roles: tuple[int, ...] = (ADMINISTRATOR,)) -> None:
        """Make a user a member of another organisation (workspace), which it can then switch to with
        `POST /api/v1/authenticate/workspace`. A platform operation (no caller): the API has no route
        for it yet."""
        if not roles or any(r not in ROLE_NAMES for r in roles):
            raise Unprocessable.of("roles", "each role is 1 (Administrator), 2 (User) or 3 (Observer)")
        await self.accounts.set_membership(user_id, org_id, tuple(roles))


def mfa_key_deleted(now_ms: int, actor: Actor, user: User, key: MfaKey) -> Event:
    """Event 14: the organisation, and as `user` the key's owner, whom the description names."""
    kind = MFA_TYPE_NAMES.get(key.type_id, str(key.type_id))
    return domain_event(now_ms, Actor(actor.organisation, user_ref(user)), MULTI_FACTOR_AUTHENTICATION,
                        f"MFA key with Id '{key.id}' of Type '{kind}' deleted for user '{user.username}'")
