"""POST /api/v1/authenticate: the three ways in, token lifetimes, lockout, rate limit, and the events a
failed login leaves behind (6 and 7, facts §A.3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from cellstream.api.app import create_app
from cellstream.clock import ManualClock
from cellstream.domain.credentials import sha1_hex

from .conftest import Api, open_test_services, settings_for

ORG = 500
USER = "ann@acme.test"
PASSWORD = "correct horse"
CLIENT = "203.0.113.7"  # the peer address the test transport reports


@pytest.fixture
async def user(api: Api) -> Any:
    await api.services.auth.ensure_organisation(ORG, "Acme")
    return await api.services.auth.create_user(ORG, USER, PASSWORD, "Ann Admin")


async def auth_events(api: Api, type_id: int) -> list[dict[str, Any]]:
    response = await api.get("/api/v1/event", await api.bearer(ORG, "Acme"), q=f"type:{type_id}")
    return list(response.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_application_token_gives_an_auth_token(api: Api) -> None:
    token = await api.app_token(ORG)
    response = await api.client.post("/api/v1/authenticate", json={"application_token": token})
    assert response.status_code == 200
    assert set(response.json()) == {"auth_token"}
    assert (await api.get("/api/v1/event", bearer(response.json()["auth_token"]))).status_code == 200


async def test_user_credentials_give_auth_and_refresh_tokens(api: Api, user: Any) -> None:
    response = await api.user_login(USER.upper(), PASSWORD)  # usernames are case-insensitive
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert set(tokens) == {"auth_token", "refresh_token"}
    assert (await api.get("/api/v1/user/my/event", bearer(tokens["auth_token"]))).status_code == 200
    refreshed = await api.client.post("/api/v1/authenticate", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"auth_token"}
    assert (await api.get("/api/v1/event", bearer(refreshed.json()["auth_token"]))).status_code == 200


async def test_the_digest_may_be_upper_case(api: Api, user: Any) -> None:
    response = await api.client.post(
        "/api/v1/authenticate", json={"username": USER, "password": sha1_hex(PASSWORD).upper()}
    )
    assert response.status_code == 200


async def test_a_plain_password_is_not_accepted(api: Api, user: Any) -> None:
    response = await api.client.post("/api/v1/authenticate", json={"username": USER, "password": PASSWORD})
    assert response.status_code == 401


async def test_refresh_token_is_no_bearer_and_auth_token_no_refresh(api: Api, user: Any) -> None:
    tokens = (await api.user_login(USER, PASSWORD)).json()
    assert (await api.get("/api/v1/event", bearer(tokens["refresh_token"]))).status_code == 401
    again = await api.client.post("/api/v1/authenticate", json={"refresh_token": tokens["auth_token"]})
    assert again.status_code == 401


async def test_auth_tokens_expire_after_240_minutes(api: Api, user: Any, clock: ManualClock) -> None:
    token = (await api.user_login(USER, PASSWORD)).json()["auth_token"]
    clock.advance(240 * 60_000 - 1000)
    assert (await api.get("/api/v1/event", bearer(token))).status_code == 200
    clock.advance(1000)
    expired = await api.get("/api/v1/event", bearer(token))
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]


async def test_refresh_tokens_expire_after_the_configured_days(
    api: Api, user: Any, clock: ManualClock
) -> None:
    refresh = (await api.user_login(USER, PASSWORD)).json()["refresh_token"]
    clock.advance(api.services.settings.refresh_token_days * 86_400_000)
    response = await api.client.post("/api/v1/authenticate", json={"refresh_token": refresh})
    assert response.status_code == 401


async def test_wrong_password_is_401_and_stores_event_6(api: Api, user: Any) -> None:
    response = await api.client.post(
        "/api/v1/authenticate",
        json={"username": USER, "password": "0" * 40},
        headers={"X-Forwarded-For": "198.51.100.1, junk"},
    )
    assert response.status_code == 401
    assert response.json()["error_token"] == "Unauthorized"
    (stored,) = await auth_events(api, 6)
    assert stored["description"] == (
        f"Failed authentication request from '{USER}', Reason: Invalid password "
        f"from IP 198.51.100.1, {CLIENT}"
    )
    assert {
        k: stored[k]
        for k in ("alert", "event_type", "event_source", "event_severity", "organisation", "user")
    } == {
        "alert": False,
        "event_type": {"id": 6, "description": "User authentication failed"},
        "event_source": {"id": 2, "description": "API"},
        "event_severity": {"id": 1, "description": "Warn"},
        "organisation": {"id": ORG, "name": "Acme"},
        "user": {"id": user.id, "name": "Ann Admin", "username": USER},
    }
    assert stored["timestamp"] == "2026-01-01T00:00:00.000Z"  # the manual clock's time
    assert "endpoint" not in stored
    assert "detail" not in stored


async def fail(api: Api, password: str = "wrong") -> httpx.Response:
    return await api.user_login(USER, password)


async def test_three_failures_lock_the_account_for_five_minutes(
    api: Api, user: Any, clock: ManualClock
) -> None:
    assert [(await fail(api)).json()["error_token"] for _ in range(2)] == ["Unauthorized"] * 2
    third = await fail(api)
    assert third.status_code == 401
    assert third.json()["error_token"] == "TooManyRequests"
    assert third.json()["error_code"] == 401
    assert third.json()["message"]
    clock.advance(5 * 60_000 - 1)
    locked = await api.user_login(USER, PASSWORD)  # even the right password
    assert locked.status_code == 401
    assert locked.json()["error_token"] == "TooManyRequests"
    clock.advance(1)
    assert (await api.user_login(USER, PASSWORD)).status_code == 200
    descriptions = [e["description"] for e in await auth_events(api, 6)]
    invalid = f"Failed authentication request from '{USER}', Reason: Invalid password from IP {CLIENT}"
    too_many = (
        f"Failed authentication request from '{USER}', Reason: Invalid password. Too many failed "
        f"authentication requests from IP {CLIENT}"
    )
    assert descriptions == [invalid, invalid, too_many, too_many]


async def test_a_success_resets_the_failure_count(api: Api, user: Any) -> None:
    for _ in range(2):
        await fail(api)
    assert (await api.user_login(USER, PASSWORD)).status_code == 200
    for _ in range(2):
        assert (await fail(api)).json()["error_token"] == "Unauthorized"
    assert (await api.user_login(USER, PASSWORD)).status_code == 200


async def test_unknown_users_and_garbage_tokens_leave_no_event(api: Api, user: Any) -> None:
    assert (await api.user_login("nobody@acme.test", PASSWORD)).status_code == 401
    for garbage in ("wrong", "kNTktNTA1My00YzdhLT...", "A" * 56):
        response = await api.client.post("/api/v1/authenticate", json={"application_token": garbage})
        assert response.status_code == 401
    assert await auth_events(api, 6) == []
    assert await auth_events(api, 7) == []


async def test_a_token_with_a_wrong_secret_is_garbage(api: Api) -> None:
    token = await api.app_token(ORG, "Acme")
    forged = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]  # same id, other secret
    assert (
        await api.client.post("/api/v1/authenticate", json={"application_token": forged})
    ).status_code == 401
    assert await auth_events(api, 7) == []


async def test_expired_application_token_is_401_and_event_7(api: Api, clock: ManualClock) -> None:
    token = await api.app_token(ORG, "Acme", description="Nightly export", expiry_ms=clock.now_ms() + 60_000)
    clock.advance(60_000)
    response = await api.client.post("/api/v1/authenticate", json={"application_token": token})
    assert response.status_code == 401
    (stored,) = await auth_events(api, 7)
    assert stored["description"] == (
        f"Failed authentication request from 'Nightly export', Reason: TokenStatus Expired from IP {CLIENT}"
    )
    assert stored["event_type"] == {"id": 7, "description": "Application authentication failed"}
    assert stored["organisation"] == {"id": ORG, "name": "Acme"}
    assert "user" not in stored


async def test_ip_restricted_token(api: Api, app: Any) -> None:
    token = await api.app_token(ORG, "Acme", description="Office only", ip="10.0.0.0/8")
    spoofed = await api.client.post(
        "/api/v1/authenticate", json={"application_token": token}, headers={"X-Forwarded-For": "10.1.2.3"}
    )
    assert spoofed.status_code == 401  # a forwarded header is no proof of the address
    (stored,) = await auth_events(api, 7)
    assert stored["description"] == (
        "Failed authentication request from 'Office only', Reason: IP address not "
        f"allowed from IP 10.1.2.3, {CLIENT}"
    )
    office = httpx.ASGITransport(app=app, client=("10.1.2.3", 4000))
    async with httpx.AsyncClient(transport=office, base_url="http://cellstream.test") as client:
        response = await client.post("/api/v1/authenticate", json={"application_token": token})
    assert response.status_code == 200


MALFORMED: list[tuple[bytes, str]] = [
    (b"{", "body"),
    (b"", "body"),
    (b"[1, 2]", "body"),
    (b'"text"', "body"),
    (b"{}", "body"),
    (b'{"username": "a@b.c"}', "password"),
    (b'{"password": "abc"}', "username"),
    (b'{"username": 5, "password": "x"}', "username"),
    (b'{"application_token": 12}', "application_token"),
    (b'{"application_token": ""}', "application_token"),
    (b'{"refresh_token": null}', "refresh_token"),
]


@pytest.mark.parametrize(("body", "field"), MALFORMED, ids=[b.decode() or "empty" for b, _ in MALFORMED])
async def test_malformed_bodies_are_400_naming_the_field(api: Api, body: bytes, field: str) -> None:
    response = await api.client.post(
        "/api/v1/authenticate", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error_token"] == "BadRequest"
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_mfa_tokens_are_not_issued_here(api: Api) -> None:
    response = await api.client.post("/api/v1/authenticate", json={"mfa_token": "x", "code": "123456"})
    assert response.status_code == 401


async def test_revoking_an_application_token_ends_its_auth_tokens_at_once(api: Api) -> None:
    token = await api.app_token(ORG, "Acme")
    auth = bearer(
        (await api.client.post("/api/v1/authenticate", json={"application_token": token})).json()[
            "auth_token"
        ]
    )
    assert (await api.get("/api/v1/event", auth)).status_code == 200  # now cached as verified
    token_id = (await api.get("/api/v1/application_token", auth)).json()[0]["id"]
    revoked = await api.client.patch(
        f"/api/v1/application_token/{token_id}", json={"status": {"id": 1}}, headers=auth
    )
    assert revoked.status_code == 204
    assert (await api.get("/api/v1/event", auth)).status_code == 401


async def test_authenticate_is_rate_limited_per_address(tmp_path: Path, clock: ManualClock) -> None:
    services = await open_test_services(settings_for(tmp_path), clock)
    transport = httpx.ASGITransport(app=create_app(services), client=("192.0.2.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        statuses = [(await client.post("/api/v1/authenticate", json={})).status_code for _ in range(101)]
        assert statuses == [400] * 100 + [429]
        limited = await client.post("/api/v1/authenticate", json={})
        assert limited.json()["error_token"] == "TooManyRequests"
        assert int(limited.headers["Retry-After"]) == 300
        clock.advance(5 * 60_000)
        assert (await client.post("/api/v1/authenticate", json={})).status_code == 400
    await services.close()


async def test_rate_limit_can_be_switched_off(tmp_path: Path, clock: ManualClock) -> None:
    services = await open_test_services(settings_for(tmp_path, rate_limits="off"), clock)
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        statuses = {(await client.post("/api/v1/authenticate", json={})).status_code for _ in range(120)}
    assert statuses == {400}
    await services.close()
