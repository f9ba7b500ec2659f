"""/api/v1/api_callback and /api/v1/api_secret against emnify's documented examples (facts §F): 201 with an
empty body on create, 200 on delete, `organisation_id` as a string, the canonical `created`; tenant
isolation, roles, 422s naming the field, and a secret that no answer ever carries."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cellstream.domain.principal import OBSERVER, USER
from cellstream.events.timefmt import format_timestamp
from tests.api.fixture_events import shape
from tests.conftest import need_fixtures

from .conftest import Api

CALLBACKS, SECRETS = "/api/v1/api_callback", "/api/v1/api_secret"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SECRET = "P9MM^Y$n83jgx5z"
OTHER_SECRET = "second-secret-Zq7"


def documented(name: str) -> Any:
    return json.loads((need_fixtures() / name).read_text())


async def member(api: Api, org: int, username: str, roles: tuple[int, ...]) -> dict[str, str]:
    await api.services.auth.ensure_organisation(org, f"Org {org}")
    await api.services.auth.create_user(org, username, "pw", "Some One", roles)
    response = await api.user_login(username, "pw")
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['auth_token']}"}


def assert_empty_201(response: Any, base: str) -> int:
    assert response.status_code == 201, response.text
    assert response.content == b""
    location = response.headers["Location"]
    assert re.fullmatch(rf"{base}/\d+", location), location
    return int(location.rsplit("/", 1)[1])


async def test_callbacks_have_the_documented_shapes(api: Api) -> None:
    headers = await api.bearer(1234)
    created = await api.client.post(CALLBACKS, headers=headers,
                                    json=documented("api-callback-create-request-1.json"))
    first = assert_empty_201(created, CALLBACKS)
    api.clock.advance(1_500)
    second = assert_empty_201(await api.client.post(
        CALLBACKS, headers=headers, json={"url": "https://example.com/", "purpose": "Sending Device Data"}),
        CALLBACKS)

    listed = await api.get(CALLBACKS, headers)
    assert listed.status_code == 200
    items = listed.json()
    example = documented("api-callback-list-1.json")
    assert [shape(i) for i in items] == [shape(e) for e in example]  # same keys and JSON types
    assert items[0] == {"id": first, "organisation_id": "1234", "url": "https://my-application-server.com",
                        "created": format_timestamp(api.clock.now_ms() - 1_500),
                        "purpose": "Testing API Callback from Swagger Spec"}
    assert items[1]["id"] == second
    assert all(TIMESTAMP.fullmatch(i["created"]) for i in items)

    one = await api.get(f"{CALLBACKS}/{second}", headers)
    assert one.status_code == 200
    assert one.json() == items[1]
    assert shape(one.json()) == shape(documented("api-callback-get-1.json"))


async def test_secrets_have_the_documented_shapes_and_never_show_the_secret(api: Api) -> None:
    headers = await api.bearer(1234)
    body = documented("api-secret-create-request-1.json")
    assert body["secret"] == SECRET
    responses = [created := await api.client.post(SECRETS, headers=headers, json=body)]
    secret_id = assert_empty_201(created, SECRETS)
    responses.append(second := await api.client.post(SECRETS, headers=headers,
                                                     json={"secret": OTHER_SECRET, "purpose": "MO-SMS"}))
    assert_empty_201(second, SECRETS)

    responses.append(listed := await api.get(SECRETS, headers))
    assert listed.status_code == 200
    assert [shape(i) for i in listed.json()] == [shape(e) for e in documented("api-secret-list-1.json")]
    assert listed.json()[0] == {"id": secret_id, "organisation_id": "1234",
                                "purpose": "Testing Callback Secret from Swagger"}
    responses.append(one := await api.get(f"{SECRETS}/{secret_id}", headers))
    assert one.status_code == 200
    assert one.json() == listed.json()[0]
    assert shape(one.json()) == shape(documented("api-secret-get-1.json"))
    responses.append(await api.client.delete(f"{SECRETS}/{secret_id}", headers=headers))
    responses.append(await api.client.get("/openapi.json"))
    for response in responses:
        assert SECRET not in response.text
        assert OTHER_SECRET not in response.text
    for response in responses[:-1]:
        for item in response.json() if response.content.startswith(b"[") else []:
            assert "secret" not in item


@pytest.mark.parametrize("base", [CALLBACKS, SECRETS])
async def test_delete_answers_200_then_the_record_is_gone(api: Api, base: str) -> None:
    headers = await api.bearer(7)
    body = {"url": "https://example.com/"} if base == CALLBACKS else {"secret": "s"}
    record_id = assert_empty_201(await api.client.post(base, headers=headers, json=body), base)
    deleted = await api.client.delete(f"{base}/{record_id}", headers=headers)
    assert deleted.status_code == 200
    assert deleted.content == b""
    assert (await api.get(f"{base}/{record_id}", headers)).status_code == 404
    assert (await api.client.delete(f"{base}/{record_id}", headers=headers)).status_code == 404
    assert (await api.get(base, headers)).json() == []


@pytest.mark.parametrize("base", [CALLBACKS, SECRETS])
async def test_another_organisations_records_answer_404(api: Api, base: str) -> None:
    mine, theirs = await api.bearer(1), await api.bearer(2)
    body = {"url": "https://example.com/"} if base == CALLBACKS else {"secret": "s"}
    record_id = assert_empty_201(await api.client.post(base, headers=mine, json=body), base)
    assert (await api.get(base, theirs)).json() == []
    got = await api.get(f"{base}/{record_id}", theirs)
    assert got.status_code == 404
    assert got.json()["error_code"] == 404
    assert (await api.client.delete(f"{base}/{record_id}", headers=theirs)).status_code == 404
    assert (await api.get(f"{base}/{record_id}", mine)).status_code == 200


@pytest.mark.parametrize(("base", "body", "field"), [
    (CALLBACKS, {"url": "ftp://example.com/"}, "url"),
    (CALLBACKS, {"url": "not a url"}, "url"),
    (CALLBACKS, {"url": "https://"}, "url"),
    (CALLBACKS, {"purpose": "no url"}, "url"),
    (CALLBACKS, {"url": 5}, "url"),
    (CALLBACKS, {"url": "https://example.com/", "purpose": "p" * 201}, "purpose"),
    (SECRETS, {"secret": ""}, "secret"),
    (SECRETS, {"purpose": "no secret"}, "secret"),
    (SECRETS, {"secret": "s" * 1025}, "secret"),
    (SECRETS, {"secret": "s", "purpose": "p" * 201}, "purpose"),
])
async def test_bad_bodies_are_422_naming_the_field(api: Api, base: str, body: dict[str, Any],
                                                   field: str) -> None:
    headers = await api.bearer(3)
    response = await api.client.post(base, headers=headers, json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["error_token"] == "UnprocessableEntity"
    assert [e["field"] for e in problem["errors"]] == [field]
    assert (await api.get(base, headers)).json() == []


@pytest.mark.parametrize("base", [CALLBACKS, SECRETS])
async def test_bad_ids_are_400_and_missing_tokens_401(api: Api, base: str) -> None:
    headers = await api.bearer(3)
    assert (await api.get(f"{base}/0", headers)).status_code == 400
    assert (await api.get(f"{base}/abc", headers)).status_code == 400
    assert (await api.client.get(base)).status_code == 401
    body = {"url": "https://example.com/", "secret": "s"}
    assert (await api.client.post(base, json=body)).status_code == 401


@pytest.mark.parametrize("roles", [(OBSERVER,), (USER,)])
async def test_only_administrators_create_and_delete(api: Api, roles: tuple[int, ...]) -> None:
    admin = await api.bearer(9)
    reader = await member(api, 9, f"reader{roles[0]}@acme.test", roles)
    callback_id = assert_empty_201(await api.client.post(
        CALLBACKS, headers=admin, json={"url": "https://example.com/"}), CALLBACKS)
    secret_id = assert_empty_201(await api.client.post(SECRETS, headers=admin, json={"secret": "s"}), SECRETS)

    for base, body in ((CALLBACKS, {"url": "https://example.com/x"}), (SECRETS, {"secret": "t"})):
        refused = await api.client.post(base, headers=reader, json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error_token"] == "Forbidden"
    assert (await api.client.delete(f"{CALLBACKS}/{callback_id}", headers=reader)).status_code == 403
    assert (await api.client.delete(f"{SECRETS}/{secret_id}", headers=reader)).status_code == 403
    # … but they read what there is
    assert [c["id"] for c in (await api.get(CALLBACKS, reader)).json()] == [callback_id]
    assert (await api.get(f"{SECRETS}/{secret_id}", reader)).status_code == 200
