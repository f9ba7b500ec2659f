"""/api/v1/organisation/my and its billing configuration: shapes, roles, validation, events 31 and 32."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api
from .fixture_events import assert_like_fixture, fixture, shape


async def user_headers(api: Api, org: int, username: str, roles: tuple[int, ...] = (1,)) -> dict[str, str]:
    await api.services.auth.ensure_organisation(org, f"Org {org}")
    await api.services.auth.create_user(org, username, "pw", "Some One", roles)
    response = await api.user_login(username, "pw")
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['auth_token']}"}


async def events_of(api: Api, headers: dict[str, str], type_id: int) -> list[dict[str, Any]]:
    response = await api.get("/api/v1/event", headers, q=f"type:{type_id}", sort="id")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def test_my_organisation_has_the_documented_shape(api: Api) -> None:
    headers = await api.bearer(7, "Sample Corp")
    response = await api.get("/api/v1/organisation/my", headers)
    assert response.status_code == 200, response.text
    body = response.json()
    documented = fixture("organisation-my.json")
    assert set(body) == set(documented)
    assert body["id"] == 7
    assert body["name"] == "Sample Corp"
    for key in ("type", "class", "status", "currency"):
        assert shape(body[key]) == shape(documented[key]), key
    assert body["status"] == {"id": 0, "description": "Enabled"}
    assert body["currency"] == {"id": 1, "code": "EUR", "symbol": "€"}
    assert body["created"] == "2026-01-01T00:00:00.000Z"
    assert (body["country"], body["verification_type"], body["verification"]) == (None, None, None)
    alias = await api.get("/api/v1/organisation/my_organisation", headers)
    assert alias.json() == body


async def test_a_patch_changes_the_organisation_and_stores_event_31(api: Api) -> None:
    token = await api.bearer(58465, "Sample Corp")
    response = await api.client.patch("/api/v1/organisation/my", headers=token, json={
        "name": "Sample Corp Ltd.", "verification_type": {"id": 1}, "verification": "DE123456789",
        "country": {"id": 74}, "id": 5, "status": {"id": 2}})  # unknown and read-only fields: ignored
    assert response.status_code == 204, response.text
    assert response.content == b""
    body = (await api.get("/api/v1/organisation/my", token)).json()
    assert body["name"] == "Sample Corp Ltd."
    assert body["id"] == 58465
    assert body["status"]["id"] == 0
    assert body["country"] == {"id": 74, "name": "Germany", "country_code": "49", "mcc": "262",
                               "iso_code": "de"}
    assert body["verification_type"] == {"id": 1}
    assert body["verification"] == "DE123456789"
    [stored] = await events_of(api, token, 31)
    assert_like_fixture(stored, "event-31-organisation-updated-1.json", r"Organisation data updated\.")
    assert stored["organisation"] == {"id": 58465, "name": "Sample Corp"}  # named as before the change
    assert stored["detail"] == {"changed_data": [
        {"name": {"old": "Sample Corp", "new": "Sample Corp Ltd."}},
        {"country_id": {"old": "null", "new": "74"}},
        {"verification_type_id": {"old": "null", "new": "1"}},
        {"verification": {"old": "null", "new": "DE123456789"}},
    ]}
    # The same values again: nothing changes, no event.
    again = await api.client.patch("/api/v1/organisation/my", headers=token,
                                   json={"name": "Sample Corp Ltd.", "verification": "DE123456789"})
    assert again.status_code == 204
    cleared = await api.client.patch("/api/v1/organisation/my", headers=token,
                                     json={"verification": None, "verification_type": None})
    assert cleared.status_code == 204
    later = await events_of(api, token, 31)
    assert len(later) == 2
    assert later[1]["detail"]["changed_data"] == [
        {"verification_type_id": {"old": "1", "new": "null"}},
        {"verification": {"old": "DE123456789", "new": "null"}}]
    assert later[1]["organisation"]["name"] == "Sample Corp Ltd."


async def test_an_administrator_user_is_the_acting_user_of_event_31(api: Api) -> None:
    headers = await user_headers(api, 3, "admin@sample.com")
    response = await api.client.patch("/api/v1/organisation/my", headers=headers, json={"name": "New"})
    assert response.status_code == 204, response.text
    [stored] = await events_of(api, headers, 31)
    assert_like_fixture(stored, "event-31-organisation-updated-1.json", r"Organisation data updated\.",
                        extra_keys=frozenset({"user"}))
    assert stored["user"]["username"] == "admin@sample.com"


@pytest.mark.parametrize("roles", [(2,), (3,)])
async def test_only_administrators_change_the_organisation(api: Api, roles: tuple[int, ...]) -> None:
    headers = await user_headers(api, 3, "user@sample.com", roles)
    assert (await api.get("/api/v1/organisation/my", headers)).status_code == 200
    for path, body in (("/api/v1/organisation/my", {"name": "New"}),
                       ("/api/v1/organisation/my/billing_config", {"vatin": "X"})):
        response = await api.client.patch(path, headers=headers, json=body)
        assert response.status_code == 403, response.text
    assert (await api.get("/api/v1/organisation/my", headers)).json()["name"] == "Org 3"
    assert (await api.get("/api/v1/event", headers)).json() == []


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"), ({"unknown": 1}, "body"), ({"name": ""}, "name"), ({"name": "  "}, "name"),
    ({"name": None}, "name"), ({"name": 5}, "name"), ({"name": "x" * 256}, "name"),
    ({"country": {"id": 99999}}, "country.id"), ({"country": {}}, "country.id"),
    ({"country": {"id": "de"}}, "country.id"), ({"verification_type": {"id": -1}}, "verification_type.id"),
    ({"verification": 12}, "verification"), ({"name": "ok", "country": {"id": 1}}, "country.id"),
    ({"country": {"id": True}}, "country.id"),
])
async def test_bad_organisation_patches_are_422_naming_the_field_and_change_nothing(
        api: Api, body: dict[str, Any], field: str) -> None:
    headers = await api.bearer(3, "Acme")
    before = (await api.get("/api/v1/organisation/my", headers)).json()
    response = await api.client.patch("/api/v1/organisation/my", headers=headers, json=body)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json().get("errors", [])}, response.text
    assert (await api.get("/api/v1/organisation/my", headers)).json() == before
    assert (await api.get("/api/v1/event", headers)).json() == []


async def test_a_patch_without_a_json_object_is_refused(api: Api) -> None:
    headers = await api.bearer(3, "Acme")
    for content in (b"[]", b"nonsense", b'"name"'):
        response = await api.client.patch("/api/v1/organisation/my", headers=headers, content=content)
        assert response.status_code == 422, response.text


async def test_the_billing_configuration_is_read_and_changed_with_event_32(api: Api) -> None:
    headers = await user_headers(api, 627328, "user@sample.com")
    assert (await api.get("/api/v1/organisation/my/billing_config", headers)).json() == {
        "charging_model": {"id": 0}, "payment_term": {"id": 0}, "vatin": None}
    response = await api.client.patch("/api/v1/organisation/my/billing_config", headers=headers,
                                      json={"vatin": "DE123456789", "payment_term": {"id": 2}})
    assert response.status_code == 204, response.text
    config = (await api.get("/api/v1/organisation/my/billing_config", headers)).json()
    assert config == {"charging_model": {"id": 0}, "payment_term": {"id": 2}, "vatin": "DE123456789"}
    [stored] = await events_of(api, headers, 32)
    assert_like_fixture(stored, "event-32-billing-configuration-updated-1.json",
                        r"Billing config has been updated\.")
    assert stored["detail"] == {"billing_config": config}
    assert stored["user"]["username"] == "user@sample.com"
    unchanged = await api.client.patch("/api/v1/organisation/my/billing_config", headers=headers,
                                       json={"vatin": "DE123456789"})
    assert unchanged.status_code == 204
    assert len(await events_of(api, headers, 32)) == 1
    assert await events_of(api, headers, 31) == []


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"), ({"charging_model": None}, "charging_model.id"), ({"payment_term": {}}, "payment_term.id"),
    ({"payment_term": {"id": 2**40}}, "payment_term.id"), ({"vatin": ["x"]}, "vatin"),
])
async def test_bad_billing_patches_are_422(api: Api, body: dict[str, Any], field: str) -> None:
    headers = await api.bearer(3, "Acme")
    response = await api.client.patch("/api/v1/organisation/my/billing_config", headers=headers, json=body)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json().get("errors", [])}, response.text
    assert (await api.get("/api/v1/event", headers)).json() == []


async def test_organisations_stay_apart_and_need_a_token(api: Api) -> None:
    acme, other = await api.bearer(1, "Acme"), await api.bearer(2, "Other")
    await api.client.patch("/api/v1/organisation/my", headers=acme, json={"name": "Acme 2"})
    assert (await api.get("/api/v1/organisation/my", other)).json()["name"] == "Other"
    assert (await api.get("/api/v1/event", other)).json() == []
    assert (await api.client.get("/api/v1/organisation/my")).status_code == 401
    assert (await api.client.patch("/api/v1/organisation/my", json={"name": "x"})).status_code == 401


async def test_subscribers_are_woken_after_the_commit(api: Api) -> None:
    seen: list[int] = []

    async def subscriber(batch: Any) -> None:
        seen.extend(s.event.type_id for s in batch)

    api.services.notifier.subscribe(subscriber)
    headers = await api.bearer(1, "Acme")
    await api.client.patch("/api/v1/organisation/my", headers=headers, json={"name": "Acme 2"})
    await api.client.patch("/api/v1/organisation/my/billing_config", headers=headers, json={"vatin": "V"})
    assert seen == [31, 32]
