"""API callbacks and API secrets (facts §F): an organisation's webhook URLs and the secrets that sign
what is posted to them. emnify binds them to service profiles for SMS delivery; here automations name them
too (the WEBHOOK action posts to an `api_callback` and signs with an `api_secret`), so a URL or secret is
configured once and rotated in one place instead of being copied into every automation.

A secret is write-only: it is kept in the clear because signing needs it, but nothing the API answers
carries it, and its record hides it from `repr` so it cannot end up in a log line by accident.

Every member of the organisation may read the lists; creating and deleting needs an Administrator or an
application token. Another organisation's id is answered as if it did not exist (404).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from cellstream.domain.principal import Principal
from cellstream.errors import NotFound, Unprocessable
from cellstream.store.resources import Record, ResourceStore, ResourceTx

MAX_PURPOSE = 200
MAX_SECRET = 1024
MAX_URL = 2048
SCHEMES = ("http", "https")


class ApiCallback(Record, kw_only=True):
    KIND: ClassVar[str] = "api_callback"
    url: str
    purpose: str | None = None
    created_ms: int = 0


class ApiSecret(Record, kw_only=True):
    KIND: ClassVar[str] = "api_secret"
    purpose: str | None = None
    secret: str

    def __repr__(self) -> str:
        return f"ApiSecret(id={self.id}, org_id={self.org_id}, purpose={self.purpose!r}, secret=<hidden>)"


C = TypeVar("C", ApiCallback, ApiSecret)


def check_url(value: Any, field: str = "url") -> str:
    """`value` as a callback URL: an absolute http(s) URL with a host; Unprocessable naming `field`."""
    if not isinstance(value, str) or not value.strip():
        raise Unprocessable.of(field, "must be an http or https URL")
    url = value.strip()
    if len(url) > MAX_URL:
        raise Unprocessable.of(field, f"must be at most {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise Unprocessable.of(field, "must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise Unprocessable.of(field, "must be an http or https URL")
    if not parts.hostname:
        raise Unprocessable.of(field, "has no host")
    try:
        parts.port  # noqa: B018 - reading it is the check: urlsplit parses ports lazily
    except ValueError:
        raise Unprocessable.of(field, "has an invalid port") from None
    return url


def _purpose(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unprocessable.of("purpose", "must be text")
    if len(value) > MAX_PURPOSE:
        raise Unprocessable.of("purpose", f"must be at most {MAX_PURPOSE} characters")
    return value


def _secret(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Unprocessable.of("secret", "must be a non-empty text")
    if len(value) > MAX_SECRET:
        raise Unprocessable.of("secret", f"must be at most {MAX_SECRET} characters")
    return value


def _owned(tx: ResourceTx, cls: type[C], org_id: int, record_id: int, what: str) -> C:
    record = tx.get(cls, record_id)
    if record is None or record.org_id != org_id:
        raise NotFound(f"{what} {record_id} not found")
    return record


class Callbacks:
    """The organisation's API callbacks and secrets, for the REST API and for the WEBHOOK action."""

    def __init__(self, resources: ResourceStore) -> None:
        self.resources = resources

    # callbacks ----------------------------------------------------------------------------------------

    async def list_callbacks(self, principal: Principal) -> list[ApiCallback]:
        return await self.resources.view(lambda tx: tx.scan(ApiCallback, principal.org_id))

    async def get_callback(self, principal: Principal, callback_id: int) -> ApiCallback:
        return await self.resources.view(
            lambda tx: _owned(tx, ApiCallback, principal.org_id, callback_id, "api_callback"))

    async def create_callback(self, principal: Principal, url: Any, purpose: Any = None) -> ApiCallback:
        principal.require_administrator("may manage API callbacks and secrets")
        checked_url, checked_purpose = check_url(url), _purpose(purpose)

        def work(tx: ResourceTx) -> ApiCallback:
            record = ApiCallback(id=tx.next_id(ApiCallback), org_id=principal.org_id, url=checked_url,
                                 purpose=checked_purpose, created_ms=tx.now_ms)
            tx.put(record)
            return record

        return (await self.resources.transact(work)).value

    async def delete_callback(self, principal: Principal, callback_id: int) -> None:
        principal.require_administrator("may manage API callbacks and secrets")

        def work(tx: ResourceTx) -> None:
            _owned(tx, ApiCallback, principal.org_id, callback_id, "api_callback")
            tx.delete(ApiCallback, callback_id)

        await self.resources.transact(work)

    # secrets ------------------------------------------------------------------------------------------

    async def list_secrets(self, principal: Principal) -> list[ApiSecret]:
        return await self.resources.view(lambda tx: tx.scan(ApiSecret, principal.org_id))

    async def get_secret(self, principal: Principal, secret_id: int) -> ApiSecret:
        """The record, secret included: for signing. The API answers with its id and purpose only."""
        return await self.resources.view(
            lambda tx: _owned(tx, ApiSecret, principal.org_id, secret_id, "api_secret"))

    async def create_secret(self, principal: Principal, secret: Any, purpose: Any = None) -> ApiSecret:
        principal.require_administrator("may manage API callbacks and secrets")
        checked_secret, checked_purpose = _secret(secret), _purpose(purpose)

        def work(tx: ResourceTx) -> ApiSecret:
            record = ApiSecret(id=tx.next_id(ApiSecret), org_id=principal.org_id, purpose=checked_purpose,
                               secret=checked_secret)
            tx.put(record)
            return record

        return (await self.resources.transact(work)).value

    async def delete_secret(self, principal: Principal, secret_id: int) -> None:
        principal.require_administrator("may manage API callbacks and secrets")

        def work(tx: ResourceTx) -> None:
            _owned(tx, ApiSecret, principal.org_id, secret_id, "api_secret")
            tx.delete(ApiSecret, secret_id)

        await self.resources.transact(work)
