"""WEBHOOK: POST the event that fired an automation to a URL, so that anything with an HTTP endpoint can act
on it. The destination is configured either as a plain `url` or as an `api_callback_id` (facts §F), so an
organisation that keeps its webhook URLs as API callbacks changes them in one place; an `api_secret_id`
makes the request signed.

Body: `{"automation": {"id", "name"}, "execution_number", "event"}`, the event being its stored canonical
JSON spliced in unchanged, so a receiver sees exactly what the Event API answers.

Signing: see cellstream.domain.callback_signing (Standard Webhooks headers and a Bearer HS256 JWT).
`webhook-id` is `<automation uuid>-<execution number>`: stable across retries, so receivers deduplicate.

Outcomes: 2xx succeeds; 408, 429 and 5xx, timeouts and connection errors are retried (honouring
Retry-After); any other status, a redirect included (never followed), fails for good, as does a
destination that is private or loopback unless private destinations are allowed (server-side request
forgery: automations are configured by customers; see cellstream.streamer.addresses).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import aiohttp
import msgspec

from cellstream.automations.actions.base import ActionContext, ActionFailed
from cellstream.domain.callback_http import PublicResolver, private_literal, refusal, shown
from cellstream.domain.callback_signing import JWT_LIFETIME_S as JWT_LIFETIME_S  # re-exported: tests, callers
from cellstream.domain.callback_signing import signed_headers
from cellstream.domain.callbacks import Callbacks, check_url
from cellstream.errors import NotFound, RetryableError, Unprocessable
from cellstream.store.resources import ResourceStore
from cellstream.streamer.sinks import http_outcome

ACTION_ID = "4b1c6a8d-2d6a-4ab2-9d91-c30fa754f4f4"
TIMEOUT_S = 10.0
USER_AGENT = "Cellstream-Automation/1"
ERROR_SNIPPET_CHARS = 200
PROPERTIES = ("url", "api_callback_id", "api_secret_id")
MAX_ID = 2**63 - 1


def request_body(context: ActionContext) -> bytes:
    head = msgspec.json.encode({"automation": {"id": context.automation_uuid,
                                               "name": context.automation_name},
                                "execution_number": context.execution_number})
    # Spliced, not re-encoded: the receiver gets the event byte for byte as stored.
    return head[:-1] + b',"event":' + context.event_body + b"}"


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
            if not self._allow_private and (host := private_literal(url)) is not None:
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
        headers = signed_headers(message_id, body, datetime.now(UTC), secret)
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
        if not self._allow_private and (host := private_literal(url)) is not None:
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
            refusal_text = refusal(exc)
            if refusal_text is not None:
                raise ActionFailed(f"{where}: {refusal_text}", permanent=True) from None
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
