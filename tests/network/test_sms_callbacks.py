"""SMS callbacks of service profiles (facts §F) against a real HTTP server on 127.0.0.1: the network core
writes the outbox with the message, the dispatcher posts MO SMS and delivery notifications with the
documented fields, signed so that a receiver verifies them (standardwebhooks keyed with the secret's
bytes; pyjwt with the secret and the body digest), retries what may succeed later, gives up in the end,
and refuses private destinations unless they are allowed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import warnings
from typing import Any

import jwt
import pytest
from standardwebhooks.webhooks import Webhook

from cellstream.domain import profiles
from cellstream.domain.callbacks import Callbacks
from cellstream.domain.principal import Principal
from cellstream.network import sms_notifications
from cellstream.network.signalling import Sms, UpdateLocation
from cellstream.network.sms_callbacks import SmsCallbackDispatcher
from cellstream.network.sms_notifications import SmsNotification, multi_part_info
from cellstream.store.resources import ResourceTx
from tests.automations.receiver import Receiver, receiver

from .conftest import ACME, World, make_world, only

ADMIN = Principal(1, None, app_token_id=0)
__all__ = ["receiver"]  # the shared local callback receiver fixture
SECRET = "P9MM^Y$n83jgx5z"  # emnify's documented example: short, free text
DATE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


@pytest.fixture
async def world() -> World:
    return await make_world()


async def bind(world: World, url: str, *, secret: str | None = SECRET) -> None:
    callbacks = Callbacks(world.resources)
    callback = await callbacks.create_callback(ADMIN, url, "SMS")
    changes: dict[str, Any] = {"api_callback_id": callback.id}
    if secret is not None:
        changes["api_secret_id"] = (await callbacks.create_secret(ADMIN, secret, "signing")).id

    def work(tx: ResourceTx) -> None:
        service, _ = profiles.ensure_defaults(tx, 1)
        profiles.update_service_profile(tx, ACME, service.id, changes)

    await world.change(work)


async def attached(world: World, device: int = 0) -> str:
    imsi = world.imsis[device]
    ts = world.clock.now_ms()
    assert (await world.send(UpdateLocation(imsi=imsi, ts_ms=ts, vlr="491720000095", mcc="262",
                                            mnc="02")))[0].accepted
    return imsi


def dispatcher(world: World, *, allow_private: bool = True, max_attempts: int = 8) -> SmsCallbackDispatcher:
    return SmsCallbackDispatcher(world.resources, world.clock, allow_private=allow_private,
                                 max_attempts=max_attempts, timeout_s=5.0)


async def outbox(world: World) -> list[SmsNotification]:
    def work(tx: ResourceTx) -> list[SmsNotification]:
        return [n for i in sms_notifications.pending_ids(tx) if (n := tx.get(SmsNotification, i)) is not None]

    return await world.resources.view(work)


async def deliver(world: World, sender: SmsCallbackDispatcher) -> None:
    try:
        await sender.deliver_due()
    finally:
        await sender.close()


def verified(headers: dict[str, str], body: bytes, secret: str = SECRET) -> dict[str, Any]:
    """The body as a receiver checks it: both signatures, then the JSON."""
    lowered = {k.lower(): v for k, v in headers.items()}
    Webhook(secret.encode()).verify(body, lowered)
    token = lowered["authorization"].removeprefix("Bearer ")
    with warnings.catch_warnings():  # pyjwt warns receivers about short keys too; emnify allows them
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer="cellstream")
    assert claims["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert claims["jti"] == lowered["webhook-id"]
    decoded: dict[str, Any] = json.loads(body)
    return decoded


async def test_a_mobile_originated_sms_is_posted_signed_with_the_documented_fields(
        world: World, receiver: Receiver) -> None:
    await bind(world, receiver.url())
    imsi = await attached(world)
    assert (await world.send(Sms(imsi=imsi, ts_ms=world.clock.now_ms(), direction="MO", peer="12345",
                                 payload="hello app")))[0].accepted
    notification = only(await outbox(world))
    assert notification.kind == "mo"
    await deliver(world, dispatcher(world))
    headers, body = only(receiver.requests)
    payload = verified(headers, body)
    assert set(payload) == {"id", "pid", "dcs", "source_address", "dest_address", "payload", "endpoint",
                            "organisation", "submit_date"}
    assert payload["dest_address"] == "12345"
    assert payload["payload"] == "hello app"
    assert payload["endpoint"] == {"id": world.endpoint_ids[0], "name": "device-0"}
    assert payload["organisation"] == {"id": 1}
    assert payload["source_address"]  # the device's MSISDN
    assert DATE.match(payload["submit_date"])
    assert headers["webhook-id"] == f"sms-{payload['id']}-mo"
    assert await outbox(world) == []  # delivered ones are deleted


async def test_delivery_notifications_say_delivered_or_failed(world: World, receiver: Receiver) -> None:
    await bind(world, receiver.url())
    await attached(world, 0)
    delivered = await world.network.send_sms(ADMIN, world.endpoint_ids[0], payload="hi", source="1234",
                                             source_type=161, udh="")
    failed = await world.network.send_sms(ADMIN, world.endpoint_ids[1], payload="hi", source="1234",
                                          source_type=161, udh="")  # device 1 is not attached
    await deliver(world, dispatcher(world))
    got = {p["id"]: p for p in (verified(h, b) for h, b in receiver.requests)}
    assert set(got) == {delivered.id, failed.id}
    assert got[delivered.id]["status"] == {"status": "DELIVERED", "id": 4}
    assert got[failed.id]["status"] == {"status": "FAILED", "id": 5}
    assert got[failed.id]["endpoint"] == {"id": world.endpoint_ids[1], "name": "device-1"}
    assert set(got[delivered.id]) == {"id", "status", "endpoint", "organisation", "submit_date", "final_date"}
    assert DATE.match(got[delivered.id]["final_date"])


async def test_without_a_secret_requests_are_unsigned(world: World, receiver: Receiver) -> None:
    await bind(world, receiver.url(), secret=None)
    await attached(world)
    await world.network.send_sms(ADMIN, world.endpoint_ids[0], payload="hi", source="1234", source_type=161,
                                 udh="")
    await deliver(world, dispatcher(world))
    headers, _ = only(receiver.requests)
    assert "Authorization" not in headers
    assert "webhook-signature" not in headers
    assert headers["webhook-id"].startswith("sms-")


async def test_without_a_profile_callback_nothing_is_written_or_sent(world: World,
                                                                     receiver: Receiver) -> None:
    imsi = await attached(world)
    await world.send(Sms(imsi=imsi, ts_ms=world.clock.now_ms(), direction="MO", peer="12345", payload="x"))
    await world.network.send_sms(ADMIN, world.endpoint_ids[0], payload="hi", source="1234", source_type=161,
                                 udh="")
    assert await outbox(world) == []
    await deliver(world, dispatcher(world))
    assert receiver.requests == []


async def test_a_refused_mo_sms_is_not_posted(world: World, receiver: Receiver) -> None:
    await bind(world, receiver.url())
    verdict = await world.send(Sms(imsi=world.imsis[0], ts_ms=world.clock.now_ms(), direction="MO",
                                   peer="12345", payload="x"))  # not attached: refused
    assert not verdict[0].accepted
    assert await outbox(world) == []


async def test_a_503_is_retried_later_with_the_same_id(world: World, receiver: Receiver) -> None:
    await bind(world, receiver.url())
    await attached(world)
    await world.network.send_sms(ADMIN, world.endpoint_ids[0], payload="hi", source="1234", source_type=161,
                                 udh="")
    receiver.answers = [(503, {"Retry-After": "2"})]
    sender = dispatcher(world)
    try:
        next_due = await sender.deliver_due()
        assert len(receiver.requests) == 1
        waiting = only(await outbox(world))
        assert waiting.attempt == 1
        assert next_due == waiting.not_before_ms >= world.clock.now_ms() + 2000  # honours Retry-After
        await sender.deliver_due()  # not due yet
        assert len(receiver.requests) == 1
        world.clock.advance(waiting.not_before_ms - world.clock.now_ms())
        await sender.deliver_due()
    finally:
        await sender.close()
    assert len(receiver.requests) == 2
    first, second = (h["webhook-id"] for h, _ in receiver.requests)
    assert first == second
    assert receiver.requests[0][1] == receiver.requests[1][1]
    assert await outbox(world) == []


async def test_it_gives_up_after_the_last_attempt(world: World, receiver: Receiver,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    await bind(world, receiver.url())
    await attached(world)
    await world.network.send_sms(ADMIN, world.endpoint_ids[0], payload="hi", source="1234", source_type=161,
                                 udh="")
    receiver.answers = [(503, {}), (500, {})]
    sender = dispatcher(world, max_attempts=2)
    try:
        await sender.deliver_due()
        world.clock.advance(3_600_000)
        with caplog.at_level(logging.WARNING, logger="cellstream.network.sms_callbacks"):
            await sender.deliver_due()
    finally:
        await sender.close()
    assert len(receiver.requests) == 2
    assert await outbox(world) == []
    assert "gave up after 2 attempts" in caplog.text


async def test_a_client_error_drops_the_notification_at_once(world: World, receiver: Receiver) -> None:
    await bind(world, receiver.url())
    await attached(world)
    await world.network.send_sms(ADMIN, world.endpoint_ids[0], payload="hi", source="1234", source_type=161,
                                 udh="")
    receiver.answers = [(400, {})]
    await deliver(world, dispatcher(world))
    assert len(receiver.requests) == 1
    assert await outbox(world) == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_private_destinations_are_refused_unless_allowed(world: World, receiver: Receiver, host: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    await bind(world, receiver.url(host))
    await attached(world)
    await world.network.send_sms(ADMIN, world.endpoint_ids[0], payload="hi", source="1234", source_type=161,
                                 udh="")
    with caplog.at_level(logging.WARNING, logger="cellstream.network.sms_callbacks"):
        await deliver(world, dispatcher(world, allow_private=False))
    assert receiver.requests == []
    assert await outbox(world) == []
    assert "CELLSTREAM_ALLOW_PRIVATE_DESTINATIONS" in caplog.text


async def test_the_running_dispatcher_delivers_by_itself(world: World, receiver: Receiver) -> None:
    await bind(world, receiver.url())
    imsi = await attached(world)
    sender = SmsCallbackDispatcher(world.resources, world.clock, allow_private=True, poll_s=0.05)
    await sender.start()
    try:
        await world.send(Sms(imsi=imsi, ts_ms=world.clock.now_ms(), direction="MO", peer="12345",
                             payload="x"))
        sender.wake()
        for _ in range(200):
            if receiver.requests:
                break
            await asyncio.sleep(0.01)
    finally:
        await sender.close()
    assert len(receiver.requests) == 1


def test_multi_part_info_is_read_from_the_concatenation_header() -> None:
    assert multi_part_info("050003A70302") == {"partno": 2, "total": 3, "identifier": 0xA7}
    assert multi_part_info("0608040102020" + "1") == {"partno": 1, "total": 2, "identifier": 0x0102}
    assert multi_part_info("") is None
    assert multi_part_info("zz") is None
