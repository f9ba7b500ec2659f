"""/api/v1/application_token: create (shown once), list, update and revoke, and who may do it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import need_fixtures

from .conftest import Api

ORG = 600


async def login(api: Api, username: str, roles: tuple[int, ...]) -> dict[str, str]:
    await api.services.auth.ensure_organisation(ORG, "Tokens Inc")
    await api.services.auth.create_user(ORG, username, "pw", username.split("@")[0].title(), roles=roles)
    response = await api.user_login(username, "pw")
    return {"Authorization": f"Bearer {response.json()['auth_token']}"}


@pytest.fixture
async def admin(api: Api) -> dict[str, str]:
    return await login(api, "admin@tokens.test", (1,))


async def create(api: Api, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return await api.client.post("/api/v1/application_token", json=body, headers=headers)


async def test_create_list_and_use_a_token(api: Api, admin: dict[str, str]) -> None:
    created = await create(
        api,
        admin,
        {"description": "My Application Token", "expiry_date": "2027-05-29T13:04:49.000Z", "ip": "0.0.0.0/0"},
    )
    assert created.status_code == 200
    assert set(created.json()) == {"application_token"}
    listed = (await api.get("/api/v1/application_token", admin)).json()
    assert listed == [
        {
            "id": listed[0]["id"],
            "description": "My Application Token",
            "created": "2026-01-01T00:00:00.000Z",
            "status": {"id": 0, "description": "Activated"},
            "expiry_date": "2027-05-29T13:04:49.000Z",
            "ip": "0.0.0.0/0",
            "creator": {"id": 1, "name": "Admin", "username": "admin@tokens.test"},
        }
    ]
    login_with_it = await api.client.post("/api/v1/authenticate", json=created.json())
    assert login_with_it.status_code == 200


@pytest.mark.parametrize(
    "name", ["application-token-create-request-2.json", "application-token-create-request-3.json"]
)
async def test_documented_request_examples_are_accepted(api: Api, admin: dict[str, str], name: str) -> None:
    body = json.loads((need_fixtures() / name).read_text())
    assert (await create(api, admin, body)).status_code == 200


async def test_a_date_only_expiry_means_midnight_utc(api: Api, admin: dict[str, str]) -> None:
    assert (await create(api, admin, {"expiry_date": "2027-10-29"})).status_code == 200
    (token,) = (await api.get("/api/v1/application_token", admin)).json()
    assert token["expiry_date"] == "2027-10-29T00:00:00.000Z"
    assert token["description"] == ""
    assert "ip" not in token


async def test_an_empty_body_creates_a_token(api: Api, admin: dict[str, str]) -> None:
    response = await api.client.post("/api/v1/application_token", headers=admin)
    assert response.status_code == 200


INVALID = [
    ({"expiry_date": "2021-10-29"}, "expiry_date"),  # the documented example lies in the past now
    ({"expiry_date": "tomorrow"}, "expiry_date"),
    ({"ip": "10.203.23.78/33"}, "ip"),
    ({"ip": "not an address"}, "ip"),
    ({"description": "x" * 1001}, "description"),
]


@pytest.mark.parametrize(("body", "field"), INVALID, ids=[f for _, f in INVALID])
async def test_invalid_fields_are_422_invalid_format(
    api: Api, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = await create(api, admin, body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["error_code"] == 422
    assert problem["error_token"] == "InvalidFormat"
    assert [e["field"] for e in problem["errors"]] == [field]
    assert (await api.get("/api/v1/application_token", admin)).json() == []


async def test_wrongly_typed_fields_are_422(api: Api, admin: dict[str, str]) -> None:
    response = await create(api, admin, {"description": ["a"]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "description"
    broken = await api.client.post(
        "/api/v1/application_token", content=b"{", headers={**admin, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422


async def test_revoke_with_the_documented_patch_and_event_7(api: Api, admin: dict[str, str]) -> None:
    token = (await create(api, admin, {"description": "Old integration"})).json()["application_token"]
    token_id = (await api.get("/api/v1/application_token", admin)).json()[0]["id"]
    patch = json.loads((need_fixtures() / "application-token-patch-request-1.json").read_text())
    response = await api.client.patch(f"/api/v1/application_token/{token_id}", json=patch, headers=admin)
    assert response.status_code == 204
    assert response.content == b""
    (listed,) = (await api.get("/api/v1/application_token", admin)).json()
    assert listed["status"] == {"id": 1, "description": "Revoked"}
    assert listed["description"] == "new use for the token"
    refused = await api.client.post("/api/v1/authenticate", json={"application_token": token})
    assert refused.status_code == 401
    (stored,) = (await api.get("/api/v1/event", admin, q="type:7")).json()
    assert stored["description"] == (
        "Failed authentication request from 'new use for the token', Reason: "
        "TokenStatus Revoked from IP 203.0.113.7"
    )
    assert (stored["event_source"]["id"], stored["event_severity"]["id"], stored["alert"]) == (2, 1, False)


async def test_status_as_a_bare_id_and_reactivation(api: Api, admin: dict[str, str]) -> None:
    token = (await create(api, admin, {})).json()["application_token"]
    token_id = (await api.get("/api/v1/application_token", admin)).json()[0]["id"]
    for status, code in ((1, 401), (0, 200)):
        patched = await api.client.patch(
            f"/api/v1/application_token/{token_id}", json={"status": status}, headers=admin
        )
        assert patched.status_code == 204
        response = await api.client.post("/api/v1/authenticate", json={"application_token": token})
        assert response.status_code == code


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/api/v1/application_token/999", {"status": 1}, 404, None),
        ("/api/v1/application_token/abc", {"status": 1}, 400, "app_token_id"),
        ("/api/v1/application_token/1", {"status": {"id": 7}}, 422, "status"),
        ("/api/v1/application_token/1", {"status": "revoked"}, 422, "status"),
    ],
)
async def test_patch_errors(
    api: Api, admin: dict[str, str], path: str, body: dict[str, Any], status: int, field: str | None
) -> None:
    await create(api, admin, {})
    response = await api.client.patch(path, json=body, headers=admin)
    assert response.status_code == status, response.text
    if field:
        assert response.json()["errors"][0]["field"].startswith(field)


async def test_observers_and_plain_users_may_not_manage_tokens(api: Api, admin: dict[str, str]) -> None:
    await create(api, admin, {})
    for username, roles in (("observer@tokens.test", (3,)), ("user@tokens.test", (2,))):
        headers = await login(api, username, roles)
        response = await create(api, headers, {"description": "sneaky"})
        assert response.status_code == 403
        assert response.json()["error_token"] == "Forbidden"
        patched = await api.client.patch("/api/v1/application_token/1", json={"status": 1}, headers=headers)
        assert patched.status_code == 403
        assert len((await api.get("/api/v1/application_token", headers)).json()) == 1  # reading is allowed


async def test_an_application_token_may_manage_tokens(api: Api) -> None:
    headers = await api.bearer(ORG)
    assert (await create(api, headers, {"description": "made by a token"})).status_code == 200
    tokens = (await api.get("/api/v1/application_token", headers)).json()
    assert [t["description"] for t in tokens] == ["", "made by a token"]
    assert all("creator" not in t for t in tokens)


async def test_tokens_of_another_organisation_are_invisible(api: Api, admin: dict[str, str]) -> None:
    await create(api, admin, {})
    other = await api.bearer(ORG + 1)
    assert len((await api.get("/api/v1/application_token", other)).json()) == 1  # its own only
    response = await api.client.patch("/api/v1/application_token/1", json={"status": 1}, headers=other)
    assert response.status_code == 404
