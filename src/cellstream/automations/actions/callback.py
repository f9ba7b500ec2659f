"""WEBHOOK: POST the event that fired an automation to a URL, so that anything with an HTTP endpoint can act
on it. The destination is configured either as a plain `url` or as an `api_callback_id` (facts §F), so an
organisation that keeps its webhook URLs as API callbacks changes them in one place; an `api_secret_id`
makes the request signed.

Body: `{"automation": {"id", "name"}, "execution_number", "event"}`, the event being its stored canonical
JSON spliced in unchanged, so a receiver sees exactly what the Event API answers.

Signing. emnify documents only that callback requests carry "a JWT signed with the api_secret" in
`Authorization` (algorithm, claims and prefix are not documented, facts §K.29), while the Data Streamer's
webhook signs per Standard Webhooks. A signed request carries both, so receivers written for either
verify it:
- `webhook-id` / `webhook-timestamp` / `webhook-signature` (Standard Webhooks), keyed with the secret's
  UTF-8 bytes (not a `whsec_` base64 key: emnify secrets are free text);
- `Authorization: Bearer <JWT>`, HS256 with the secret; claims iss "cellstream", iat, exp (+5 min),
  jti = the webhook-id, and `body_sha256` (hex), which binds the token to this body.
`webhook-id` is `<automation uuid>-<execution number>`: stable across retries, so receivers deduplicate.

Outcomes: 2xx succeeds; 408, 429 and 5xx, timeouts and connection errors are retried (honouring
Retry-After); any other status, a redirect included (never followed), fails for good, as does a
destination that is private or loopback unless private destinations are allowed (server-side request
forgery: automations are configured by customers; see cellstream.streamer.addresses).
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import msgspec
from aiohttp.abc import AbstractResolver, ResolveResult
from jwt.algorithms import HMACAlgorithm
from jwt.api_jws import PyJWS
from standardwebhooks.webhooks import Webhook

from cellstream.automations.actions.base import ActionContext, ActionFailed
from cellstream.domain.callbacks import Callbacks, check_url
from cellstream.errors import NotFound, RetryableError, Unprocessable
from cellstream.store.resources import ResourceStore
from cellstream.streamer.addresses import is_private
from cellstream.streamer.sinks import http_outcome

ACTION_ID = "4b1c6a8d-2d6a-4ab2-9d91-c30fa754f4f4"
TIMEOUT_S = 10.0
JWT_LIFETIME_S = 300
JWT_ISSUER = "cellstream"
USER_AGENT = "Cellstream-Automation/1"
ERROR_SNIPPET_CHARS = 200
PROPERTIES = ("url", "api_callback_id", "api_secret_id")
MAX_ID = 2**63 - 1


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


class _AnyLengthHMAC(HMACAlgorithm):
    """HS256 keyed with whatever secret the organisation chose. emnify accepts short api_secrets; pyjwt
    would warn on each of them (an error under the test suite's warning policy) and the warning could
    only be silenced through process-wide warning filters, which are not safe with other threads."""

    def check_key_length(self, key: bytes) -> str | None:
        return None


_JWS = PyJWS(algorithms=[])
_JWS.register_algorithm("HS256", _AnyLengthHMAC(HMACAlgorithm.SHA256))


def bearer_token(secret: str, jti: str, body: bytes, now_s: int) -> str:
    """The JWT of the Authorization header."""
    claims = {"iss": JWT_ISSUER, "iat": now_s, "exp": now_s + JWT_LIFETIME_S, "jti": jti,
              "body_sha256": hashlib.sha256(body).hexdigest()}
    return _JWS.encode(msgspec.json.encode(claims), secret, algorithm="HS256", headers={"typ": "JWT"})


def request_body(context: ActionContext) -> bytes:
    head = msgspec.json.encode({"automation": {"id": context.automation_uuid,
                                               "name": context.automation_name},
                                "execution_number": context.execution_number})
    # Spliced, not re-encoded: the receiver gets the event byte for byte as stored.
    return head[:-1] + b',"event":' + context.event_body + b"}"


def shown(url: str) -> str:
    """`url` for the action log: without user:password, which must not be shown to every member."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _single(properties: Mapping[str, list[str]], name: str) -> str | None:
    values = properties.get(name) or []
    if len(values) > 1:
        raise Unprocessable.of(name, "takes one value")
    return values[0] if values else None


def _record_id(value: str, name: str) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise Unprocessable.of(name, "must be the id of one of the organisation's resources")
    return int(text)


def _private_literal(url: str) -> str | None:
    """The host of `url` when it is a non-public IP address. Addresses written as such never reach a
    resolver (aiohttp connects to them directly), so they are checked here."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    return host if is_private(host) else None


class CallbackAction:
    id: str = ACTION_ID
    name: str = "Call a webhook"
    type: str = "WEBHOOK"
    description: str = ("POST the event that fired the automation as JSON to a URL or an API callback, "
                        "signed with an API secret when one is configured")
    configuration_properties: tuple[str, ...] = PROPERTIES
    required_event_output_parameters: tuple[str, ...] = ()

    def __init__(self, resources: ResourceStore, allow_private: bool, *,
                 timeout_s: float = TIMEOUT_S) -> None:
        self._callbacks = Callbacks(resources)
        self._allow_private = allow_private
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    def check(self, properties: Mapping[str, list[str]], recipients: list[str]) -> None:
        unknown = sorted(set(properties) - set(PROPERTIES))
        if unknown:  # a misspelt api_secret_id would otherwise send unsigned requests without a word
            raise Unprocessable.of(unknown[0], f"is not a property of this action ({', '.join(PROPERTIES)})")
        if recipients:
            raise Unprocessable.of("recipients", "this action sends no e-mail")
        url = _single(properties, "url")
        callback_id = _single(properties, "api_callback_id")
        secret_id = _single(properties, "api_secret_id")
        if url is None and callback_id is None:
            raise Unprocessable.of("url", "configure either url or api_callback_id")
        if url is not None and callback_id is not None:
            raise Unprocessable.of("api_callback_id", "configure either url or api_callback_id, not both")
        if url is not None:
            check_url(url, "url")
            if not self._allow_private and (host := _private_literal(url)) is not None:
                raise Unprocessable.of("url", f"{host} is a private or loopback address; set "
                                       "CELLSTREAM_ALLOW_PRIVATE_DESTINATIONS=true to allow it")
        if callback_id is not None:
            _record_id(callback_id, "api_callback_id")
        if secret_id is not None:
            _record_id(secret_id, "api_secret_id")

    async def run(self, context: ActionContext) -> str:
        url, secret = await self._destination(context)
        body = request_body(context)
        message_id = f"{context.automation_uuid}-{context.execution_number}"
        now = datetime.now(UTC)
        now_s = int(now.timestamp())
        headers = {"Content-Type": "application/json", "webhook-id": message_id,
                   "webhook-timestamp": str(now_s)}
        if secret is not None:
            headers["webhook-signature"] = Webhook(secret.encode()).sign(message_id, now, body.decode())
            headers["Authorization"] = f"Bearer {bearer_token(secret, message_id, body, now_s)}"
        return await self._post(url, body, headers)

    async def _destination(self, context: ActionContext) -> tuple[str, str | None]:
        """The URL and the signing secret, looked up in the automation's organisation."""
        try:
            self.check(context.properties, context.recipients)
            callback_id = context.one("api_callback_id")
            secret_id = context.one("api_secret_id")
            if callback_id is not None:
                url = (await self._callbacks.get_callback(context.principal,
                                                          _record_id(callback_id, "api_callback_id"))).url
            else:
                url = context.one("url") or ""
            secret = None
            if secret_id is not None:
                secret = (await self._callbacks.get_secret(context.principal,
                                                           _record_id(secret_id, "api_secret_id"))).secret
        except Unprocessable as exc:
            raise ActionFailed(f"the action is misconfigured: {exc.message}", permanent=True) from None
        except NotFound as exc:  # deleted since the automation was configured
            raise ActionFailed(exc.message, permanent=True) from None
        except RetryableError as exc:
            raise ActionFailed(exc.message) from None
        if not self._allow_private and (host := _private_literal(url)) is not None:
            raise ActionFailed(f"{shown(url)}: {host} is a private or loopback address; set "
                               "CELLSTREAM_ALLOW_PRIVATE_DESTINATIONS=true to allow it", permanent=True)
        return url, secret

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = None if self._allow_private else PublicResolver()
            connector = aiohttp.TCPConnector(limit=16, resolver=resolver, ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(connector=connector,
                                                  timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                                                  headers={"User-Agent": USER_AGENT})
        return self._session

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> str:
        where = f"POST {shown(url)}"
        text = ""
        try:
            async with self._client().post(url, data=body, headers=headers,
                                           allow_redirects=False) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                if not 200 <= status < 300:
                    text = (await response.text(errors="replace"))[:ERROR_SNIPPET_CHARS]
        except TimeoutError:
            raise ActionFailed(f"{where}: no answer within {self._timeout_s:g} s") from None
        except aiohttp.InvalidURL as exc:
            raise ActionFailed(f"{where}: not a usable URL ({exc})", permanent=True) from None
        except (aiohttp.ClientError, OSError) as exc:
            refusal = _refusal(exc)
            if refusal is not None:
                raise ActionFailed(f"{where}: {refusal}", permanent=True) from None
            raise ActionFailed(f"{where} failed: {exc or type(exc).__name__}") from None
        if 200 <= status < 300:
            return f"{where} answered {status}"
        snippet = " ".join(text.split())
        message = f"{where} answered {status}" + (f": {snippet}" if snippet else "")
        if http_outcome.retryable(status):
            raise ActionFailed(message, retry_after_s=http_outcome.retry_after_s(retry_after))
        raise ActionFailed(message, permanent=True)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _refusal(exc: BaseException) -> str | None:
    """The PrivateAddress behind a connection error, if that is what it was."""
    seen: Any = exc
    for _ in range(4):  # aiohttp wraps the resolver's error once or twice
        if seen is None:
            return None
        if isinstance(seen, PrivateAddress):
            return str(seen)
        seen = getattr(seen, "os_error", None) or seen.__cause__
    return None
