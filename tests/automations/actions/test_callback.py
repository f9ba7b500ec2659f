"""The WEBHOOK action against a real HTTP server on 127.0.0.1: the body (the stored event spliced in), both
signatures verified the way a receiver would (the `standardwebhooks` package keyed with the secret's
bytes; pyjwt with the secret, and the JWT's body digest), unsigned requests without a secret, how answers,
timeouts and unreachable hosts become outcomes, and private destinations refused unless allowed."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import AsyncIterator, Mapping
from typing import Any

import jwt
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cellstream.automations.actions.base import ActionContext, ActionFailed, describe
from cellstream.automations.actions.callback import ACTION_ID, JWT_LIFETIME_S, CallbackAction
from cellstream.clock import ManualClock
from cellstream.domain.callbacks import Callbacks
from cellstream.domain.principal import Principal
from cellstream.errors import Unprocessable
from cellstream.events.codec import encode_event
from cellstream.store.memory import MemoryEventStore
from cellstream.store.memory_resources import MemoryResourceStore
from cellstream.store.resources import ResourceStore
from tests.automations.receiver import Receiver
from tests.contracts.factory import event
from tests.e2e.conftest import free_port

ORG, OTHER_ORG = 1, 2
UUID = "0b6f1c2e-8a43-4d1e-9a57-5d2a3c4b5e6f"
SHORT_SECRET = "P9MM^Y$n83jgx5z"  # emnify's documented example: shorter than HS256's recommended key
LONG_SECRET = "a-long-enough-secret-for-hs256-" + "x" * 16


@pytest.fixture
def resources() -> ResourceStore:
    clock = ManualClock()
    return MemoryResourceStore(MemoryEventStore(clock), clock)


@pytest.fixture
async def action(resources: ResourceStore) -> AsyncIterator[CallbackAction]:
    opened = CallbackAction(resources, allow_private=True, timeout_s=2.0)
    yield opened
    await opened.close()


@pytest.fixture
async def refusing(resources: ResourceStore) -> AsyncIterator[CallbackAction]:
    opened = CallbackAction(resources, allow_private=False, timeout_s=2.0)
    yield opened
    await opened.close()


async def secret_id(resources: ResourceStore, secret: str, org: int = ORG) -> str:
    created = await Callbacks(resources).create_secret(Principal(org, None, 1), secret)
    return str(created.id)


async def callback_id(resources: ResourceStore, url: str, org: int = ORG) -> str:
    created = await Callbacks(resources).create_callback(Principal(org, None, 1), url)
    return str(created.id)


def context(number: int = 3, **properties: str) -> ActionContext:
    fired = event(ORG, id=4711, type=3, endpoint={"id": 7, "name": "pump"}, detail={"ü": [1, None]})
    return ActionContext(principal=Principal.of_automation(ORG, UUID, "Pump alarm"), automation_uuid=UUID,
                         automation_name="Pump alarm", execution_number=number, event=fired,
                         event_body=encode_event(fired), properties={k: [v] for k, v in properties.items()})


def verify_jwt(token: str, secret: str) -> dict[str, Any]:
    with warnings.catch_warnings():  # pyjwt warns receivers about short keys too; emnify allows them
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        claims: dict[str, Any] = jwt.decode(token, secret, algorithms=["HS256"], issuer="cellstream",
                                            options={"require": ["iat", "exp", "jti"]})
    return claims


# what is sent ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [SHORT_SECRET, LONG_SECRET])
async def test_a_signed_post_verifies_with_standard_webhooks_and_as_a_jwt(
        action: CallbackAction, receiver: Receiver, resources: ResourceStore, secret: str) -> None:
    ctx = context(url=receiver.url(), api_secret_id=await secret_id(resources, secret))
    message = await action.run(ctx)
    assert message == f"POST {receiver.url()} answered 204"

    [(headers, body)] = receiver.requests
    sent = json.loads(body)
    assert sent == {"automation": {"id": UUID, "name": "Pump alarm"}, "execution_number": 3,
                    "event": json.loads(ctx.event_body)}
    assert body.endswith(b',"event":' + ctx.event_body + b"}")  # the stored bytes, not re-encoded
    assert headers["Content-Type"] == "application/json"
    assert headers["webhook-id"] == f"{UUID}-3"

    Webhook(secret.encode()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(b"some other secret").verify(body, headers)
    with pytest.raises(WebhookVerificationError):  # the signature covers the body
        Webhook(secret.encode()).verify(body.replace(b"Pump", b"Pomp"), headers)

    scheme, _, token = headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    claims = verify_jwt(token, secret)
    assert claims["jti"] == headers["webhook-id"]
    assert claims["exp"] - claims["iat"] == JWT_LIFETIME_S
    assert claims["iat"] == int(headers["webhook-timestamp"])
    assert claims["body_sha256"] == hashlib.sha256(body).hexdigest()
    with pytest.raises(jwt.InvalidSignatureError):
        verify_jwt(token, secret + "!")


async def test_without_a_secret_the_request_is_unsigned(action: CallbackAction, receiver: Receiver) -> None:
    await action.run(context(number=1, url=receiver.url()))
    [(headers, body)] = receiver.requests
    assert "webhook-signature" not in headers
    assert "Authorization" not in headers
    assert headers["webhook-id"] == f"{UUID}-1"  # still there, for deduplication
    assert json.loads(body)["execution_number"] == 1


async def test_an_api_callback_names_the_destination(action: CallbackAction, receiver: Receiver,
                                                     resources: ResourceStore) -> None:
    ctx = context(api_callback_id=await callback_id(resources, receiver.url()),
                  api_secret_id=await secret_id(resources, LONG_SECRET))
    assert await action.run(ctx) == f"POST {receiver.url()} answered 204"
    [(headers, body)] = receiver.requests
    Webhook(LONG_SECRET.encode()).verify(body, headers)


async def test_a_retry_sends_the_same_webhook_id(action: CallbackAction, receiver: Receiver,
                                                 resources: ResourceStore) -> None:
    receiver.answers = [(503, {"Retry-After": "2"})]
    ctx = context(number=9, url=receiver.url(), api_secret_id=await secret_id(resources, LONG_SECRET))
    with pytest.raises(ActionFailed) as failed:
        await action.run(ctx)
    assert (failed.value.permanent, failed.value.retry_after_s) == (False, 2.0)
    await action.run(ctx)
    assert [h["webhook-id"] for h, _ in receiver.requests] == [f"{UUID}-9", f"{UUID}-9"]
    for headers, body in receiver.requests:
        Webhook(LONG_SECRET.encode()).verify(body, headers)


# outcomes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "headers", "retry_after"), [
    (408, {}, None), (429, {"Retry-After": "7"}, 7.0), (500, {}, None), (502, {"Retry-After": "0"}, 0.0),
    (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0), (504, {"Retry-After": "soon"}, None),
])
async def test_retryable_answers(action: CallbackAction, receiver: Receiver, status: int,
                                 headers: dict[str, str], retry_after: float | None) -> None:
    receiver.answers = [(status, headers)]
    with pytest.raises(ActionFailed) as failed:
        await action.run(context(url=receiver.url()))
    assert failed.value.permanent is False
    assert failed.value.retry_after_s == retry_after
    assert f"answered {status}" in failed.value.message


@pytest.mark.parametrize("status", [301, 302, 400, 401, 403, 404, 410, 422])
async def test_other_answers_fail_for_good(action: CallbackAction, receiver: Receiver, status: int) -> None:
    receiver.answers = [(status, {"Location": receiver.url(), "Retry-After": "5"})]
    with pytest.raises(ActionFailed) as failed:
        await action.run(context(url=receiver.url()))
    assert failed.value.permanent is True
    assert failed.value.retry_after_s is None
    assert failed.value.message.startswith(f"POST {receiver.url()} answered {status}")
    assert len(receiver.requests) == 1  # a redirect is not followed


async def test_2xx_answers_succeed(action: CallbackAction, receiver: Receiver) -> None:
    receiver.answers = [(200, {}), (202, {})]
    assert (await action.run(context(url=receiver.url()))).endswith("answered 200")
    assert (await action.run(context(url=receiver.url()))).endswith("answered 202")


async def test_a_timeout_is_retried(resources: ResourceStore, receiver: Receiver) -> None:
    quick = CallbackAction(resources, allow_private=True, timeout_s=0.3)
    receiver.hold = True
    try:
        with pytest.raises(ActionFailed) as failed:
            await quick.run(context(url=receiver.url()))
    finally:
        await quick.close()
    assert failed.value.permanent is False
    assert "no answer within 0.3 s" in failed.value.message


async def test_an_unreachable_host_is_retried(action: CallbackAction) -> None:
    with pytest.raises(ActionFailed) as failed:
        await action.run(context(url=f"http://127.0.0.1:{free_port()}/nothing-listens"))
    assert failed.value.permanent is False
    assert "failed" in failed.value.message


async def test_user_and_password_stay_out_of_messages(action: CallbackAction, receiver: Receiver) -> None:
    url = f"http://me:hunter2@127.0.0.1:{receiver.port}/hook"
    assert await action.run(context(url=url)) == f"POST {receiver.url()} answered 204"
    assert receiver.requests[0][0]["Authorization"].startswith("Basic ")  # … but are used


async def test_the_session_is_closed_and_reopened(action: CallbackAction, receiver: Receiver) -> None:
    await action.run(context(url=receiver.url()))
    await action.close()
    await action.close()  # twice is harmless
    await action.run(context(url=receiver.url()))
    assert len(receiver.requests) == 2


# private destinations and what the organisation owns ------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_private_destinations_are_refused_unless_allowed(refusing: CallbackAction, receiver: Receiver,
                                                               resources: ResourceStore, host: str) -> None:
    url = receiver.url(host)
    for ctx in (context(url=url), context(api_callback_id=await callback_id(resources, url))):
        with pytest.raises(ActionFailed) as failed:
            await refusing.run(ctx)
        assert failed.value.permanent is True
        assert "CELLSTREAM_ALLOW_PRIVATE_DESTINATIONS" in failed.value.message
    assert receiver.requests == []


def test_a_private_address_is_refused_when_configured(refusing: CallbackAction,
                                                      action: CallbackAction) -> None:
    for url in ("http://127.0.0.1/hook", "http://[::1]:8080/", "http://10.1.2.3/", "http://169.254.169.254/"):
        with pytest.raises(Unprocessable) as raised:
            refusing.check({"url": [url]}, [])
        assert raised.value.problems[0].field == "url"
        action.check({"url": [url]}, [])  # allowed
    refusing.check({"url": ["https://localhost/"]}, [])  # names are checked when connecting


@pytest.mark.parametrize("which", ["api_callback_id", "api_secret_id"])
async def test_deleted_or_foreign_resources_fail_for_good(action: CallbackAction, receiver: Receiver,
                                                          resources: ResourceStore, which: str) -> None:
    foreign = {"api_callback_id": await callback_id(resources, receiver.url(), OTHER_ORG),
               "api_secret_id": await secret_id(resources, LONG_SECRET, OTHER_ORG)}[which]
    props = {"url": receiver.url()} if which == "api_secret_id" else {}
    for missing in (foreign, "999"):
        with pytest.raises(ActionFailed) as failed:
            await action.run(context(**props, **{which: missing}))
        assert failed.value.permanent is True
        assert f"{which.removesuffix('_id')} {missing} not found" in failed.value.message
    assert receiver.requests == []


# configuration -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("properties", "recipients", "field"), [
    ({}, [], "url"),
    ({"api_secret_id": ["1"]}, [], "url"),
    ({"url": ["https://example.com/"], "api_callback_id": ["1"]}, [], "api_callback_id"),
    ({"url": ["ftp://example.com/"]}, [], "url"),
    ({"url": ["https://"]}, [], "url"),
    ({"url": ["https://a.example/", "https://b.example/"]}, [], "url"),
    ({"api_callback_id": ["one"]}, [], "api_callback_id"),
    ({"api_callback_id": ["0"]}, [], "api_callback_id"),
    ({"url": ["https://example.com/"], "api_secret_id": ["-1"]}, [], "api_secret_id"),
    ({"url": ["https://example.com/"], "api_secret": ["1"]}, [], "api_secret"),
    ({"url": ["https://example.com/"]}, ["ops@example.com"], "recipients"),
])
def test_bad_configurations_name_the_property(action: CallbackAction, properties: Mapping[str, list[str]],
                                              recipients: list[str], field: str) -> None:
    with pytest.raises(Unprocessable) as raised:
        action.check(properties, recipients)
    assert [p.field for p in raised.value.problems] == [field]


def test_good_configurations(action: CallbackAction) -> None:
    action.check({"url": ["https://example.com/hook"]}, [])
    action.check({"url": ["https://example.com/hook"], "api_secret_id": ["3"]}, [])
    action.check({"api_callback_id": ["2"], "api_secret_id": ["3"]}, [])
    action.check({"api_callback_id": ["2"], "url": []}, [])  # an empty property is no property


async def test_a_misconfiguration_at_run_time_fails_for_good(action: CallbackAction) -> None:
    with pytest.raises(ActionFailed) as failed:
        await action.run(context())
    assert failed.value.permanent is True
    assert "url" in failed.value.message


def test_the_action_describes_itself(action: CallbackAction) -> None:
    described = describe(action)
    assert described["id"] == ACTION_ID
    assert (described["type"], described["name"]) == ("WEBHOOK", "Call a webhook")
    assert described["configurationProperties"] == ["url", "api_callback_id", "api_secret_id"]
    assert described["requiredEventOutputParameters"] == []
