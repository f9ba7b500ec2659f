"""The webhook sink against a real local HTTP receiver: bodies, signatures, headers, outcomes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from cellstream.streamer.destinations import parse_credentials
from cellstream.streamer.sinks.base import DeliveryFailed, SinkSettings
from cellstream.streamer.sinks.http_outcome import retry_after_s
from cellstream.streamer.sinks.webhook import WebhookSink
from tests.contracts.sink_harnesses.base import event_batch
from tests.contracts.sink_harnesses.webhook import SECRET, WebhookReceiver

OPEN = SinkSettings(allow_private_destinations=True)
OTHER = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    hook = WebhookReceiver(secrets=(SECRET, OTHER))
    await hook.start()
    yield hook
    await hook.stop()


def sink(url: str, secrets: tuple[str, ...] = (SECRET,), settings: SinkSettings = OPEN,
         **credentials: Any) -> WebhookSink:
    parsed = parse_credentials("RestAPI", {"url": url, **credentials})
    assert parsed.__class__.__name__ == "RestApiCredentials"
    return WebhookSink(parsed, settings, secrets)  # type: ignore[arg-type]


async def test_size_one_sends_one_object_and_batches_send_arrays(receiver: WebhookReceiver) -> None:
    single = sink(receiver.url, size=1)
    batched = sink(receiver.url, size=50, method="PUT", headers=["Authorization:Basic abc", "X-Tenant: 7"])
    try:
        await single.deliver(event_batch(1, 1))
        await batched.deliver(event_batch(2, 3))
    finally:
        await single.close()
        await batched.close()
    (h1, b1), (h2, b2) = receiver.requests
    assert json.loads(b1)["id"] == 1
    assert h1["Content-Type"] == "application/json"
    assert [e["id"] for e in json.loads(b2)] == [2, 3, 4]
    assert h2["Authorization"] == "Basic abc"
    assert h2["X-Tenant"] == "7"
    assert h2["webhook-id"] == "c0ffee01-e2-4"  # stable per batch: receivers deduplicate on it


async def test_every_valid_secret_signs(receiver: WebhookReceiver) -> None:
    both = sink(receiver.url, secrets=(OTHER, SECRET))
    try:
        await both.deliver(event_batch(1, 2))
    finally:
        await both.close()
    headers, body = receiver.requests[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, OTHER):  # a receiver that knows either secret verifies the request
        Webhook(secret).verify(body, headers, json_parse=False)


async def test_cloudevents_structured_and_batch(receiver: WebhookReceiver) -> None:
    structured = sink(receiver.url, size=1, cloudevents="structured")
    batch = sink(receiver.url, size=10, cloudevents="batch")
    try:
        await structured.deliver(event_batch(1, 1))
        await batch.deliver(event_batch(2, 2))
    finally:
        await structured.close()
        await batch.close()
    (h1, b1), (h2, b2) = receiver.requests
    assert h1["Content-Type"] == "application/cloudevents+json"
    one = json.loads(b1)
    assert one["specversion"] == "1.0"
    assert one["type"] == "io.cellstream.event.1"
    assert one["source"] == "/organisation/7"
    assert one["data"]["id"] == 1
    assert one["subject"] == "endpoint/100"
    assert h2["Content-Type"] == "application/cloudevents-batch+json"
    assert [e["data"]["id"] for e in json.loads(b2)] == [2, 3]


@pytest.mark.parametrize(("status", "permanent"), [
    (301, True), (400, True), (401, True), (404, True), (410, True),
    (408, False), (425, False), (429, False), (500, False), (502, False), (503, False)])
async def test_outcomes(receiver: WebhookReceiver, status: int, permanent: bool) -> None:
    receiver.answers = [status]
    failing = sink(receiver.url)
    try:
        with pytest.raises(DeliveryFailed) as caught:
            await failing.deliver(event_batch(1, 2))
    finally:
        await failing.close()
    assert caught.value.status == status
    assert caught.value.permanent is permanent
    assert str(status) in caught.value.message
    if not permanent:
        assert caught.value.retry_after_s == 1.0  # the receiver's Retry-After


async def test_a_receiver_that_does_not_answer_times_out() -> None:
    never = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    hook = WebhookReceiver()
    hook._hook = slow  # type: ignore[method-assign]
    await hook.start()
    slow_sink = sink(hook.url, timeout_ms=200)
    try:
        with pytest.raises(DeliveryFailed, match="no answer") as caught:
            await slow_sink.deliver(event_batch(1, 1))
        assert not caught.value.permanent
    finally:
        never.set()
        await slow_sink.close()
        await hook.stop()


async def test_names_resolving_to_private_addresses_are_refused_when_connecting() -> None:
    hook = WebhookReceiver()
    await hook.start()
    strict = sink(hook.url.replace("127.0.0.1", "localhost"), settings=SinkSettings())
    try:
        with pytest.raises(DeliveryFailed, match="non-public"):
            await strict.deliver(event_batch(1, 1))
        assert hook.requests == []
    finally:
        await strict.close()
        await hook.stop()


def test_retry_after_forms() -> None:
    assert retry_after_s("120") == 120.0
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: now
