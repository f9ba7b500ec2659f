"""`RestAPI`: the webhook (facts §E.2/§E.3). `size` 1 sends one JSON object per request, otherwise a JSON
array of up to `size` records, spliced from the stored canonical JSON without re-encoding.

Every request is signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`):
`webhook-id` is stable across retries of the same batch so receivers can deduplicate; while a rotated-out
secret is still valid the signature header carries one signature per secret, so a receiver verifying with
either accepts it. The `standardwebhooks` package computes the signatures, the same code receivers use
to verify them.

Outcomes: 2xx acknowledges; 408, 425, 429 and 5xx are retried (honouring Retry-After); other 3xx and 4xx are
permanent failures (the configuration is wrong: redirects are not followed, a 404 will not heal itself);
timeouts and connection errors are retried.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
from aiohttp.abc import AbstractResolver, ResolveResult
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from standardwebhooks.webhooks import Webhook

from cellstream.streamer.addresses import is_private
from cellstream.streamer.destinations import Credentials, RestApiCredentials
from cellstream.streamer.sinks import http_outcome
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, SinkSettings

# 425 Too Early: the receiver wants the same request again later, which is what a retry is.
RETRYABLE = http_outcome.RETRYABLE | {425}
USER_AGENT = "Cellstream-DataStreamer/1"


class PublicResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then refuses names that point at non-public addresses."""

    def __init__(self) -> None:
        self._inner = aiohttp.DefaultResolver()
        self.refusal: str | None = None  # aiohttp's connection error hides the reason; it is kept here

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if is_private(result["host"]):
                self.refusal = (f"{host} resolves to the non-public address {result['host']}; set "
                                "CELLSTREAM_ALLOW_PRIVATE_DESTINATIONS=true to allow it")
                raise OSError(self.refusal)
        return results

    async def close(self) -> None:
        await self._inner.close()


def _cloud_event(record: bytes, batch: Batch) -> CloudEvent:
    data: dict[str, Any] = msgspec.json.decode(record)
    if batch.kind == "events":
        kind = f"io.cellstream.event.{(data.get('event_type') or {}).get('id', 0)}"
        time = data.get("timestamp")
    else:
        kind, time = "io.cellstream.usage", data.get("end_timestamp")
    attributes: dict[str, Any] = {"id": f"{batch.kind}-{data.get('id')}", "type": kind,
                                  "source": f"/organisation/{batch.org_id}",
                                  "datacontenttype": "application/json"}
    if time:
        attributes["time"] = datetime.fromisoformat(time.replace("Z", "+00:00"))
    endpoint = data.get("endpoint")
    if isinstance(endpoint, dict) and endpoint.get("id") is not None:
        attributes["subject"] = f"endpoint/{endpoint['id']}"
    return CloudEvent(attributes, data)


class WebhookSink:
    def __init__(self, credentials: RestApiCredentials, settings: SinkSettings,
                 secrets: Sequence[str]) -> None:
        self._c = credentials
        self._private_ok = settings.allow_private_destinations
        # A stream keeps its secrets beside the credentials (rotation); a sink opened from bare
        # credentials signs with the one they carry.
        chosen = list(secrets) or ([credentials.signing_secret] if credentials.signing_secret else [])
        self._signers = [Webhook(s) for s in chosen]
        self._headers = {}
        for header in credentials.headers:
            name, _, value = header.partition(":")
            self._headers[name.strip()] = value.strip()
        self._session: aiohttp.ClientSession | None = None
        self._resolver: PublicResolver | None = None
        self._format = JSONFormat()

    @property
    def max_batch(self) -> int:
        return self._c.size

    @property
    def linger_ms(self) -> int:
        return 0

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._resolver = None if self._private_ok else PublicResolver()
            connector = aiohttp.TCPConnector(limit=4, resolver=self._resolver, ttl_dns_cache=60)
            timeout = aiohttp.ClientTimeout(total=self._c.timeout_ms / 1000)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                                  headers={"User-Agent": USER_AGENT})
        return self._session

    def body(self, batch: Batch) -> tuple[bytes, str]:
        """The request body and its content type."""
        records = batch.records
        if self._c.cloudevents == "off":
            if self._c.size == 1:
                return records[0], "application/json"
            return b"[" + b",".join(records) + b"]", "application/json"
        events = [self._format.write(_cloud_event(r, batch)) for r in records]
        if self._c.cloudevents == "structured" and self._c.size == 1:
            return events[0], "application/cloudevents+json"
        # structured mode carries one event a request; with size > 1 it sends batches like batch mode
        return b"[" + b",".join(events) + b"]", "application/cloudevents-batch+json"

    def signed_headers(self, batch: Batch, body: bytes, content_type: str) -> dict[str, str]:
        now = datetime.now(UTC)
        text = body.decode()
        msg_id = batch.delivery_id
        signature = " ".join(s.sign(msg_id, now, text) for s in self._signers)
        headers = {**self._headers, "Content-Type": content_type, "webhook-id": msg_id,
                   "webhook-timestamp": str(int(now.timestamp()))}
        if signature:
            headers["webhook-signature"] = signature
        return headers

    async def deliver(self, batch: Batch) -> None:
        if not batch.records:
            return
        if len(batch.records) > self._c.size:
            raise DeliveryFailed(f"{len(batch.records)} records exceed size {self._c.size}", permanent=True)
        body, content_type = self.body(batch)
        headers = self.signed_headers(batch, body, content_type)
        if self._resolver is not None:
            self._resolver.refusal = None
        try:
            async with self._client().request(self._c.method, self._c.url, data=body, headers=headers,
                                              allow_redirects=False) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                reason = response.reason or ""
                if status >= 300:
                    text = (await response.text(errors="replace"))[:200]
        except TimeoutError:
            raise DeliveryFailed(f"no answer from {self._c.url} within {self._c.timeout_ms} ms") from None
        except (aiohttp.ClientError, OSError) as exc:
            refusal = self._resolver.refusal if self._resolver else None
            raise DeliveryFailed(f"{self._c.method} {self._c.url} failed: {refusal or exc}",
                                 permanent=refusal is not None) from None
        except asyncio.CancelledError:
            raise
        if 200 <= status < 300:
            return
        message = f"{self._c.method} {self._c.url} answered {status} {reason}: {text}".strip()
        if http_outcome.retryable(status, RETRYABLE):
            wait = http_outcome.retry_after_s(retry_after)
            raise DeliveryFailed(message, status=status, retry_after_s=wait)
        raise DeliveryFailed(message, status=status, permanent=True)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def open_sink(credentials: Credentials, settings: SinkSettings, secrets: Sequence[str]) -> WebhookSink:
    assert isinstance(credentials, RestApiCredentials)
    return WebhookSink(credentials, settings, secrets)
