"""Who sees what: bearer tokens, tenant isolation, the per-object lists, and every error's JSON body."""

from __future__ import annotations

import pytest

from cellstream.events.catalog import EVENT_TYPES

from .conftest import Api, event

A, B = 400, 401
LISTS = ["/api/v1/event", "/api/v1/endpoint/7/event", "/api/v1/sim/8/event", "/api/v1/user/9/event"]


def owned(event_id: int, org: int, **extra: object) -> dict[str, object]:
    return event(
        event_id,
        org,
        endpoint={"id": 7, "name": "shared-id"},
        sim={"id": 8, "iccid": "8988"},
        user={"id": 9, "name": "U", "username": "u@x"},
        **extra,
    )


@pytest.fixture
async def two_orgs(api: Api) -> dict[int, dict[str, str]]:
    docs = [
        owned(1, A),
        owned(2, A),
        event(3, A),
        owned(1, B),
        owned(4, B),
        owned(5, B),
        event(6, B, endpoint={"id": 77, "name": "b-only"}),
    ]
    assert (await api.ingest(docs)).status_code == 201
    return {A: await api.bearer(A), B: await api.bearer(B)}


@pytest.mark.parametrize("path", LISTS)
async def test_a_token_sees_only_its_organisation(
    api: Api, two_orgs: dict[int, dict[str, str]], path: str
) -> None:
    for org, expected in ((A, {1, 2}), (B, {1, 4, 5})):
        rows = await api.walk(path, two_orgs[org])
        assert {e["organisation"]["id"] for e in rows} <= {org}
        wanted = (
            expected
            | ({3} if org == A and path == "/api/v1/event" else set())
            | ({6} if org == B and path == "/api/v1/event" else set())
        )
        assert {e["id"] for e in rows} == wanted


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/endpoint/77/event",
        "/api/v1/endpoint/123456/event",
        "/api/v1/sim/999/event",
        "/api/v1/user/424242/event",
    ],
)
async def test_foreign_or_unknown_ids_give_an_empty_list(
    api: Api, two_orgs: dict[int, dict[str, str]], path: str
) -> None:
    response = await api.get(path, two_orgs[A])
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"


async def test_an_application_token_has_no_own_user_events(
    api: Api, two_orgs: dict[int, dict[str, str]]
) -> None:
    response = await api.get("/api/v1/user/my/event", two_orgs[A])
    assert response.status_code == 200
    assert response.json() == []


async def test_users_read_their_own_events_and_roles_decide_about_others(api: Api) -> None:
    auth = api.services.auth
    await auth.ensure_organisation(A, "Org A")
    admin = await auth.create_user(A, "admin@a.test", "pw-admin", "Admin", roles=(1,))
    plain = await auth.create_user(A, "user@a.test", "pw-user", "Plain", roles=(2,))
    observer = await auth.create_user(A, "observer@a.test", "pw-obs", "Obs", roles=(3,))
    docs = [
        event(10 + u.id, A, user={"id": u.id, "name": u.name, "username": u.username})
        for u in (admin, plain, observer)
    ]
    assert (await api.ingest(docs)).status_code == 201

    async def bearer(name: str, password: str) -> dict[str, str]:
        response = await api.user_login(name, password)
        return {"Authorization": f"Bearer {response.json()['auth_token']}"}

    as_plain = await bearer("user@a.test", "pw-user")
    mine = await api.get("/api/v1/user/my/event", as_plain)
    assert [e["id"] for e in mine.json()] == [10 + plain.id]
    assert (await api.get(f"/api/v1/user/{plain.id}/event", as_plain)).status_code == 200
    denied = await api.get(f"/api/v1/user/{admin.id}/event", as_plain)
    assert denied.status_code == 403
    assert denied.json()["error_token"] == "Forbidden"
    for name, password in (("admin@a.test", "pw-admin"), ("observer@a.test", "pw-obs")):
        other = await api.get(f"/api/v1/user/{plain.id}/event", await bearer(name, password))
        assert [e["id"] for e in other.json()] == [10 + plain.id]


async def test_event_type_lookup_lists_the_catalog(api: Api, two_orgs: dict[int, dict[str, str]]) -> None:
    response = await api.get("/api/v1/event/type", two_orgs[A])
    assert response.status_code == 200
    assert response.json() == [{"id": t.id, "description": t.name} for t in EVENT_TYPES]
    ids = [t["id"] for t in response.json()]
    assert len(ids) == 67 + 5  # the documented types and the custom-event templates' types
    assert set(ids) >= set(range(66)) | {67, 1001, 1002, 1003, 1004, 1005}
    assert (await api.client.get("/api/v1/event/type")).status_code == 401


BAD_PARAMETERS = [
    ("/api/v1/event", {"page": "0"}, 400, "page"),
    ("/api/v1/event", {"page": "-1"}, 400, "page"),
    ("/api/v1/event", {"page": "abc"}, 400, "page"),
    ("/api/v1/event", {"page": "1.5"}, 400, "page"),
    ("/api/v1/event", {"page": "9" * 40}, 400, "page"),
    ("/api/v1/event", {"per_page": "0"}, 400, "per_page"),
    ("/api/v1/event", {"per_page": "abc"}, 400, "per_page"),
    ("/api/v1/event", {"sort": "no_such_field"}, 400, "sort"),
    ("/api/v1/event", {"sort": "id,id"}, 400, "sort"),
    ("/api/v1/event", {"cursor": "not-a-cursor"}, 400, "cursor"),
    ("/api/v1/event", {"q": "from:2026-01-01T00:00:00Z"}, 422, "q"),
    ("/api/v1/event", {"q": "until:2026-01-01T00:00:00Z"}, 422, "q"),
    ("/api/v1/event", {"q": "no_such_field:1"}, 422, "q"),
    ("/api/v1/event", {"q": "type:abc"}, 422, "q"),
    ("/api/v1/event", {"q": "from:yesterday,until:today"}, 422, "q"),
    ("/api/v1/event", {"q": "alert:maybe"}, 422, "q"),
    ("/api/v1/event", {"q": "ip_address:300.1.1.1"}, 422, "q"),
    ("/api/v1/event", {"q": "type:1|2|3|4|5|6|7"}, 422, "q"),
    ("/api/v1/event", {"q": "severity"}, 422, "q"),
    ("/api/v1/endpoint/abc/event", {}, 400, "endpoint_id"),
    ("/api/v1/endpoint/-3/event", {}, 400, "endpoint_id"),
    ("/api/v1/endpoint/99999999999999999999/event", {}, 400, "endpoint_id"),
    ("/api/v1/sim/1e3/event", {}, 400, "sim_id"),
    ("/api/v1/user/me/event", {}, 400, "user_id"),
    ("/api/v1/user/my/event", {"per_page": "-5"}, 400, "per_page"),
    ("/api/v1/sim/1/event", {"q": "type:"}, 422, "q"),
]


@pytest.mark.parametrize(
    ("path", "params", "status", "field"), BAD_PARAMETERS, ids=[f"{p} {q}" for p, q, _, _ in BAD_PARAMETERS]
)
async def test_bad_parameters_answer_json_naming_the_parameter(
    api: Api, two_orgs: dict[int, dict[str, str]], path: str, params: dict[str, str], status: int, field: str
) -> None:
    response = await api.client.get(path, params=params, headers=two_orgs[A])
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == status
    assert body["error_token"] == ("BadRequest" if status == 400 else "UnprocessableEntity")
    assert [e["field"] for e in body["errors"]] == [field]
    assert body["message"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwdw==",
        "Bearer garbage",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
    ],
)
@pytest.mark.parametrize("path", [*LISTS, "/api/v1/user/my/event", "/api/v1/application_token"])
async def test_missing_or_invalid_tokens_are_401(api: Api, path: str, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await api.client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error_token"] == "Unauthorized"


async def test_authentication_comes_before_parameter_checks(api: Api) -> None:
    response = await api.client.get("/api/v1/endpoint/abc/event", params={"page": "0"})
    assert response.status_code == 401
