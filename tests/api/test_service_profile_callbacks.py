"""A service profile's SMS callback binding through the API (facts §F): PATCH binds `api_callback`,
`api_secret` and `moc_callback` by id (only the organisation's own; 422 naming the field otherwise) and
clears them with {"id": null}; GET expands them, never showing the secret."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api
from .test_endpoints import setup

CALLBACKS, SECRETS = "/api/v1/api_callback", "/api/v1/api_secret"


async def created(api: Api, headers: dict[str, str], path: str, body: dict[str, Any]) -> int:
    response = await api.client.post(path, headers=headers, json=body)
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


async def test_bindings_are_set_expanded_and_cleared(api: Api) -> None:
    headers, profiles, _ = await setup(api, sims=0)
    path = f"/api/v1/service_profile/{profiles['service_profile']}"
    unbound = (await api.get(path, headers)).json()
    assert (unbound["api_callback"], unbound["api_secret"], unbound["moc_callback"]) == (None, None, None)
    callback = await created(api, headers, CALLBACKS, {"url": "https://example.com/sms", "purpose": "SMS"})
    moc = await created(api, headers, CALLBACKS, {"url": "https://example.com/moc", "purpose": None})
    secret = await created(api, headers, SECRETS, {"secret": "s3cr3t-value", "purpose": "signing"})
    response = await api.client.patch(path, headers=headers, json={
        "api_callback": {"id": callback}, "api_secret": {"id": secret}, "moc_callback": {"id": moc}})
    assert response.status_code == 201, response.text
    got = (await api.get(path, headers)).json()
    assert set(got["api_callback"]) == {"id", "url", "created", "purpose"}
    assert got["api_callback"]["id"] == callback
    assert got["api_callback"]["url"] == "https://example.com/sms"
    assert got["api_callback"]["purpose"] == "SMS"
    assert got["api_secret"] == {"id": secret, "purpose": "signing"}
    assert got["moc_callback"]["id"] == moc
    listed = (await api.get("/api/v1/service_profile", headers)).json()
    assert listed[0]["api_secret"] == {"id": secret, "purpose": "signing"}
    assert "s3cr3t-value" not in str(listed)

    response = await api.client.patch(path, headers=headers, json={"api_callback": {"id": None},
                                                                   "api_secret": None})
    assert response.status_code == 201, response.text
    got = (await api.get(path, headers)).json()
    assert (got["api_callback"], got["api_secret"], got["moc_callback"]["id"]) == (None, None, moc)


@pytest.mark.parametrize(("field", "value"), [
    ("api_callback", {"id": 999}), ("api_secret", {"id": 999}), ("moc_callback", {"id": 999}),
    ("api_callback", 5), ("api_callback", {"id": "1"}), ("api_secret", {"id": True}),
    ("api_callback", {"id": 0}), ("api_secret", {"url": "https://example.com"}),
    ("api_callback", "secret"),  # an id of the wrong kind: a secret's id is not a callback's
])
async def test_bad_bindings_are_422_naming_the_field(api: Api, field: str, value: Any) -> None:
    headers, profiles, _ = await setup(api, sims=0)
    path = f"/api/v1/service_profile/{profiles['service_profile']}"
    secret = await created(api, headers, SECRETS, {"secret": "s3cr3t-value", "purpose": None})
    if value == "secret":
        value = {"id": secret}
    response = await api.client.patch(path, headers=headers, json={field: value})
    assert response.status_code == 422, response.text
    assert field in response.text
    assert (await api.get(path, headers)).json()[field] is None


async def test_another_organisations_callback_cannot_be_bound(api: Api) -> None:
    other_headers, _, _ = await setup(api, org=2, sims=0)
    foreign = await created(api, other_headers, CALLBACKS, {"url": "https://example.com/x", "purpose": None})
    foreign_secret = await created(api, other_headers, SECRETS, {"secret": "theirs", "purpose": None})
    headers, profiles, _ = await setup(api, sims=0)
    path = f"/api/v1/service_profile/{profiles['service_profile']}"
    for field, ident in (("api_callback", foreign), ("api_secret", foreign_secret)):
        response = await api.client.patch(path, headers=headers, json={field: {"id": ident}})
        assert response.status_code == 422, response.text
        assert field in response.text


async def test_a_deleted_callback_reads_as_unset(api: Api) -> None:
    headers, profiles, _ = await setup(api, sims=0)
    path = f"/api/v1/service_profile/{profiles['service_profile']}"
    callback = await created(api, headers, CALLBACKS, {"url": "https://example.com/sms", "purpose": None})
    assert (await api.client.patch(path, headers=headers,
                                   json={"api_callback": {"id": callback}})).status_code == 201
    assert (await api.client.delete(f"{CALLBACKS}/{callback}", headers=headers)).status_code == 200
    assert (await api.get(path, headers)).json()["api_callback"] is None
