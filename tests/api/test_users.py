"""/api/v1/user, /api/v2/user and workspace switching: shapes, paging, roles, validation, tenant isolation,
and events 41, 46, 14, 13 and 67 compared with their documented examples."""

from __future__ import annotations

from typing import Any

import pytest

from cellstream.domain.credentials import sha1_hex
from cellstream.domain.users import Users

from .conftest import Api
from .fixture_events import assert_like_fixture, fixture, shape


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(api: Api, username: str, password: str = "pw") -> dict[str, str]:
    response = await api.user_login(username, password)
    assert response.status_code == 200, response.text
    return bearer(response.json()["auth_token"])


async def member(api: Api, org: int, username: str, roles: tuple[int, ...] = (1,),
                 name: str = "Some One") -> tuple[int, dict[str, str]]:
    """An active user of `org` (created when missing) and its auth headers."""
    await api.services.auth.ensure_organisation(org, f"Org {org}")
    user = await api.services.auth.create_user(org, username, "pw", name, roles)
    return user.id, await login(api, username)


async def events_of(api: Api, headers: dict[str, str], type_id: int) -> list[dict[str, Any]]:
    response = await api.get("/api/v1/event", headers, q=f"type:{type_id}", sort="id")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def create(api: Api, headers: dict[str, str], username: str, **fields: Any) -> Any:
    return await api.client.post("/api/v1/user", headers=headers,
                                 json={"username": username, "name": "New User", **fields})


# listing and reading ---------------------------------------------------------------------------------


async def test_users_are_listed_with_paging_headers_only_to_their_organisation(api: Api) -> None:
    admin_id, admin = await member(api, 10, "admin@example-iot-org.com", name="Edwin Abbott")
    for n in range(4):
        await api.services.auth.create_user(10, f"user{n}@example-iot-org.com", "pw", f"User {n}", (2,))
    await member(api, 11, "stranger@other.org")
    response = await api.get("/api/v1/user", admin, per_page=2, page=3)
    assert response.status_code == 200, response.text
    assert response.headers["X-Total-Count"] == "5"
    assert response.headers["X-Total-Pages"] == "3"
    assert 'rel="first"' in response.headers["Link"]
    assert len(response.json()) == 1
    every = await api.walk("/api/v1/user", admin, per_page=2)
    assert [u["id"] for u in every] == sorted(u["id"] for u in every)
    assert "stranger@other.org" not in {u["username"] for u in every}
    first = every[0]
    documented = fixture("user-list-1.json")[1]
    assert set(documented) <= set(first)
    assert shape({k: first[k] for k in documented}) == shape(documented)
    assert first["status"] == {"id": 1, "description": "Active"}
    assert first["organisation"] == {"id": 10, "name": "Org 10"}
    assert first["roles"] == [{"id": 1, "name": "Administrator"}]
    by_name = (await api.get("/api/v1/user", admin, sort="-name")).json()
    assert [u["name"] for u in by_name] == ["User 3", "User 2", "User 1", "User 0", "Edwin Abbott"]
    filtered = (await api.get("/api/v1/user", admin, q="username:USER1,status:1")).json()
    assert [u["username"] for u in filtered] == ["user1@example-iot-org.com"]
    assert (await api.get("/api/v1/user", admin, q=f"id:{admin_id}")).json()[0]["id"] == admin_id
    assert (await api.get("/api/v1/user", admin, q="organisation:11")).json() == []
    assert (await api.get("/api/v1/user", admin, sort="colour")).status_code == 400
    assert (await api.get("/api/v1/user", admin, q="colour:red")).status_code == 422
    assert (await api.get("/api/v1/user", admin, per_page=0)).status_code == 400


async def test_one_user_by_id_username_or_my(api: Api) -> None:
    user_id, headers = await member(api, 123, "eabbot@flatland.org", (2, 3), "Edwin Abbott")
    other_id, _ = await member(api, 124, "other@flatland.org")
    body = (await api.get(f"/api/v1/user/{user_id}", headers)).json()
    documented = fixture("user-get-1.json")
    assert set(body) == set(documented)
    assert body["roles"] == documented["roles"]
    assert body["mfa"] == []
    assert (await api.get("/api/v1/user/eabbot@flatland.org", headers)).json() == body
    assert (await api.get("/api/v1/user/my", headers)).json() == body
    assert (await api.get(f"/api/v1/user/{other_id}", headers)).status_code == 404
    assert (await api.get("/api/v1/user/other@flatland.org", headers)).status_code == 404
    assert (await api.get("/api/v1/user/0", headers)).status_code == 400
    assert (await api.get("/api/v1/user/my", await api.bearer(123))).status_code == 404
    assert (await api.client.get(f"/api/v1/user/{user_id}")).status_code == 401


# creating and activating -----------------------------------------------------------------------------


async def test_a_created_user_is_pending_until_activated_with_event_41(api: Api) -> None:
    token = await api.bearer(14543, "Sample Corp")
    response = await create(api, token, "user@sample.com", name="Sample User", roles=[{"id": 2}],
                            organisation={"id": 14543})
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == f"/api/v1/user/{created['id']}"
    user = (await api.get(f"/api/v1/user/{created['id']}", token)).json()
    assert user["status"] == {"id": 0, "description": "Activation Pending"}
    assert user["roles"] == [{"id": 2, "name": "User"}]
    assert (await api.user_login("user@sample.com", "secret")).status_code == 401
    bad = await api.client.post("/api/v1/user/activation",
                                json={"activationKey": created["activationKey"], "password": "plain"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "password"
    wrong = await api.client.post("/api/v1/user/activation",
                                  json={"activationKey": "nope", "password": sha1_hex("secret")})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "activationKey"
    assert await events_of(api, token, 41) == []
    activated = await api.client.post("/api/v1/user/activation", json={
        "activationKey": created["activationKey"], "password": sha1_hex("secret")})
    assert activated.status_code == 204, activated.text
    assert (await api.user_login("user@sample.com", "secret")).status_code == 200
    again = await api.client.post("/api/v1/user/activation", json={
        "activationKey": created["activationKey"], "password": sha1_hex("other")})
    assert again.status_code == 422
    [stored] = await events_of(api, token, 41)
    assert_like_fixture(stored, "event-41-user-verified-1.json", r"User '[^']+' verified successfully")
    assert stored["description"] == "User 'user@sample.com' verified successfully"
    assert stored["user"] == {"id": created["id"], "name": "Sample User", "username": "user@sample.com"}
    assert stored["organisation"] == {"id": 14543, "name": "Sample Corp"}


@pytest.mark.parametrize(("fields", "field"), [
    ({"username": "not-an-email"}, "username"), ({"username": ""}, "username"), ({"name": ""}, "name"),
    ({"name": None}, "name"), ({"roles": [{"id": 4}]}, "roles[0].id"), ({"roles": []}, "roles"),
    ({"organisation": {"id": 99}}, "organisation.id"), ({"roles": "admin"}, "roles"),
    ({"roles": [{"id": True}]}, "roles.0.id"),
])
async def test_bad_user_creations_are_422_and_create_nothing(api: Api, fields: dict[str, Any],
                                                             field: str) -> None:
    token = await api.bearer(5, "Acme")
    body = {"username": "new@acme.test", "name": "New", **fields}
    response = await api.client.post("/api/v1/user", headers=token, json=body)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}, response.text
    assert (await api.get("/api/v1/user", token)).json() == []


async def test_taken_usernames_conflict_and_only_administrators_create_users(api: Api) -> None:
    _, admin = await member(api, 5, "admin@acme.test")
    _, observer = await member(api, 5, "observer@acme.test", (3,))
    assert (await create(api, admin, "ADMIN@acme.test")).status_code == 409
    assert (await create(api, observer, "new@acme.test")).status_code == 403
    assert (await create(api, admin, "new@acme.test")).status_code == 201
    assert len((await api.get("/api/v1/user", admin)).json()) == 3


# deleting --------------------------------------------------------------------------------------------


async def test_deleting_a_user_stores_event_46_and_ends_its_logins(api: Api) -> None:
    admin_id, admin = await member(api, 53246, "admin@sample.com", name="Sample Admin")
    doomed_id, doomed = await member(api, 53246, "user@sample.com", (2,))
    assert (await api.get("/api/v1/organisation/my", doomed)).status_code == 200
    response = await api.client.delete(f"/api/v2/user/{doomed_id}", headers=admin)
    assert response.status_code == 204, response.text
    assert (await api.get("/api/v1/organisation/my", doomed)).status_code == 401  # at once
    assert (await api.user_login("user@sample.com", "pw")).status_code == 401
    assert (await api.get(f"/api/v1/user/{doomed_id}", admin)).status_code == 404
    assert [u["id"] for u in (await api.get("/api/v1/user", admin)).json()] == [admin_id]
    assert (await api.client.delete(f"/api/v2/user/{doomed_id}", headers=admin)).status_code == 404
    [stored] = await events_of(api, admin, 46)
    assert_like_fixture(stored, "event-46-user-deleted-1.json", r"User '[^']+' deleted")
    assert stored["description"] == "User 'user@sample.com' deleted"
    assert stored["user"] == {"id": admin_id, "name": "Sample Admin", "username": "admin@sample.com"}
    assert stored["detail"] == {"user": {"id": doomed_id, "username": "user@sample.com"}}
    # The username is free again.
    assert (await create(api, admin, "user@sample.com")).status_code == 201


async def test_deletion_rules(api: Api) -> None:
    admin_id, admin = await member(api, 5, "admin@acme.test")
    user_id, user = await member(api, 5, "user@acme.test", (2,))
    stranger_id, _ = await member(api, 6, "stranger@other.test")
    assert (await api.client.delete(f"/api/v2/user/{admin_id}", headers=admin)).status_code == 403
    assert (await api.client.delete(f"/api/v2/user/{admin_id}", headers=user)).status_code == 403
    assert (await api.client.delete(f"/api/v2/user/{stranger_id}", headers=admin)).status_code == 404
    assert (await api.client.delete("/api/v2/user/abc", headers=admin)).status_code == 400
    assert (await api.client.delete("/api/v2/user/999", headers=admin)).status_code == 404
    assert await events_of(api, admin, 46) == []
    token = await api.bearer(5)
    assert (await api.client.delete(f"/api/v1/user/{user_id}", headers=token)).status_code == 204
    [stored] = await events_of(api, admin, 46)
    assert "user" not in stored  # an application token acted
    assert (await api.user_login("stranger@other.test", "pw")).status_code == 200


# MFA keys --------------------------------------------------------------------------------------------


async def test_mfa_keys_are_created_for_oneself_and_deleted_with_event_14(api: Api) -> None:
    user_id, headers = await member(api, 5253, "user@test.com", (2,), "John Doe")
    wrong = await api.client.post("/api/v1/user/mfa", headers=headers,
                                  json={"type": {"id": 0}, "password": sha1_hex("nope")})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "password"
    assert (await api.client.post("/api/v1/user/mfa", headers=headers,
                                  json={"type": {"id": 1}, "password": sha1_hex("pw")})).status_code == 422
    response = await api.client.post("/api/v1/user/mfa", headers=headers,
                                     json={"type": {"id": 0}, "password": sha1_hex("pw")})
    assert response.status_code == 200, response.text
    key = response.json()
    assert key["status"] == {"id": 0, "description": "Activation Pending"}
    assert key["type"] == {"id": 0, "description": "Time-Based One-Time Password"}
    assert key["otpauth"].startswith("otpauth://totp/")
    assert key["secret_key"] in key["otpauth"]
    again = await api.client.post("/api/v1/user/mfa", headers=headers,
                                  json={"type": {"id": 0}, "password": sha1_hex("pw")})
    assert again.status_code == 409
    shown = (await api.get("/api/v1/user/my", headers)).json()["mfa"]
    assert [k["id"] for k in shown] == [key["id"]]
    assert shape(shown[0]) == shape({**fixture("user-get-1.json")["mfa"][0], "activation_date": None})
    path = f"/api/v1/user/{user_id}/mfa/{key['id']}"
    assert (await api.client.delete(f"/api/v1/user/{user_id}/mfa/999", headers=headers)).status_code == 404
    assert (await api.client.delete(path, headers=headers)).status_code == 204
    assert (await api.client.delete(path, headers=headers)).status_code == 404
    [stored] = await events_of(api, headers, 14)
    assert_like_fixture(stored, "event-14-multi-factor-authentication-1.json",
                        r"MFA key with Id '\d+' of Type 'Time-Based One-Time Password' deleted for "
                        r"user '[^']+'")
    assert stored["description"] == (f"MFA key with Id '{key['id']}' of Type 'Time-Based One-Time Password' "
                                     "deleted for user 'user@test.com'")
    assert stored["user"] == {"id": user_id, "name": "John Doe", "username": "user@test.com"}


async def test_mfa_keys_of_others_need_an_administrator_of_the_organisation(api: Api) -> None:
    owner_id, owner = await member(api, 5, "owner@acme.test", (2,))
    _, colleague = await member(api, 5, "colleague@acme.test", (2,))
    _, admin = await member(api, 5, "admin@acme.test")
    _, stranger = await member(api, 6, "admin@other.test")
    key = (await api.client.post("/api/v1/user/mfa", headers=owner,
                                 json={"type": {"id": 0}, "password": sha1_hex("pw")})).json()
    path = f"/api/v1/user/{owner_id}/mfa/{key['id']}"
    assert (await api.client.delete(path, headers=colleague)).status_code == 403
    assert (await api.client.delete(path, headers=stranger)).status_code == 404
    token = await api.bearer(5)
    assert (await api.client.post("/api/v1/user/mfa", headers=token,
                                  json={"type": {"id": 0}, "password": "x"})).status_code == 403
    assert (await api.client.delete(path, headers=admin)).status_code == 204
    [stored] = await events_of(api, admin, 14)
    assert stored["user"]["username"] == "owner@acme.test"  # the key's user, whom the description names


# support tokens --------------------------------------------------------------------------------------


async def test_a_support_token_acts_as_the_user_and_stores_event_13(api: Api) -> None:
    _, support = await member(api, 4511, "max.mustermann@emnify.com", name="Max")
    target_id, target = await member(api, 4511, "example-user@test.com", (1, 2), "John Doe")
    response = await api.client.post(f"/api/v2/user/{target_id}/support_token", headers=support,
                                     json={"role": "3"})
    assert response.status_code == 201, response.text
    as_target = bearer(response.json()["support_token"])
    assert (await api.get("/api/v1/user/my", as_target)).json()["id"] == target_id
    # Limited to Observer: no changes, although the user is an Administrator.
    refused = await api.client.patch("/api/v1/organisation/my", headers=as_target, json={"name": "x"})
    assert refused.status_code == 403
    [stored] = await events_of(api, target, 13)
    assert_like_fixture(stored, "event-13-support-access-1.json",
                        r"Support user \S+ of organisation .+ generated a support token for user \S+ of "
                        r"organisation .+")
    assert stored["description"] == ("Support user max.mustermann@emnify.com of organisation Org 4511 "
                                     "generated a support token for user example-user@test.com of "
                                     "organisation Org 4511")
    assert stored["user"] == {"id": target_id, "name": "John Doe", "username": "example-user@test.com"}
    assert stored["detail"] == {"support_username": "max.mustermann@emnify.com",
                                "support_user_org": {"id": 4511, "name": "Org 4511"},
                                "target_username": "example-user@test.com"}
    unlimited = await api.client.post(f"/api/v2/user/{target_id}/support_token", headers=support)
    assert unlimited.status_code == 201
    allowed = await api.client.patch("/api/v1/organisation/my", json={"name": "Renamed"},
                                     headers=bearer(unlimited.json()["support_token"]))
    assert allowed.status_code == 204


async def test_support_token_rules(api: Api) -> None:
    admin_id, admin = await member(api, 5, "admin@acme.test")
    user_id, user = await member(api, 5, "user@acme.test", (2,))
    stranger_id, _ = await member(api, 6, "stranger@other.test")
    token = await api.bearer(5)
    cases = [(admin, admin_id, None, 403), (user, admin_id, None, 403), (token, user_id, None, 403),
             (admin, stranger_id, None, 404), (admin, 999, None, 404), (admin, user_id, {"role": "2"}, 422)]
    for headers, target, body, status in cases:
        response = await api.client.post(f"/api/v2/user/{target}/support_token", headers=headers, json=body)
        assert response.status_code == status, (target, body, response.text)
    pending = (await create(api, admin, "pending@acme.test")).json()["id"]
    assert (await api.client.post(f"/api/v2/user/{pending}/support_token",
                                  headers=admin)).status_code == 404
    assert await events_of(api, admin, 13) == []


# workspaces ------------------------------------------------------------------------------------------


async def test_switching_to_an_assigned_workspace_stores_event_67_there(api: Api) -> None:
    user_id, headers = await member(api, 1, "cruz@example.com", name="cruz@example.com")
    await api.services.auth.ensure_organisation(44, "Example Organization")
    await Users(api.services.accounts, api.services.auth, api.services.notifier,
                api.services.clock).assign_workspace(user_id, 44, (3,))
    response = await api.client.post("/api/v1/authenticate/workspace", headers=headers,
                                     json={"target_organisation": {"id": 44}})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"auth_token"}
    there = bearer(response.json()["auth_token"])
    assert (await api.get("/api/v1/organisation/my", there)).json()["name"] == "Example Organization"
    assert (await api.client.patch("/api/v1/organisation/my", headers=there,
                                   json={"name": "x"})).status_code == 403  # Observer there
    assert (await api.get("/api/v1/organisation/my", headers)).json()["id"] == 1  # the old token still works
    [stored] = await events_of(api, there, 67)
    assert_like_fixture(stored, "event-67-user-switched-workspaces-1.json",
                        r"User with id: '\d+', switched to workspace: \d+")
    assert stored["description"] == f"User with id: '{user_id}', switched to workspace: 44"
    assert stored["organisation"] == {"id": 44, "name": "Example Organization"}
    assert stored["user"] == {"id": user_id, "name": "cruz@example.com", "username": "cruz@example.com"}
    assert await events_of(api, headers, 67) == []
    # Back home: the user's own organisation needs no membership.
    home = await api.client.post("/api/v1/authenticate/workspace", headers=there,
                                 json={"target_organisation": {"id": 1}})
    assert home.status_code == 200
    assert (await api.client.patch("/api/v1/organisation/my", json={"name": "Home"},
                                   headers=bearer(home.json()["auth_token"]))).status_code == 204


async def test_workspace_switching_rules(api: Api) -> None:
    user_id, headers = await member(api, 1, "user@acme.test")
    await api.services.auth.ensure_organisation(2, "Not assigned")
    for body, status in (({"target_organisation": {"id": 2}}, 404), ({"target_organisation": {"id": 3}}, 404),
                         ({"target_organisation": {}}, 422), ({}, 422), ({"target_organisation": 2}, 422)):
        response = await api.client.post("/api/v1/authenticate/workspace", headers=headers, json=body)
        assert response.status_code == status, (body, response.text)
    token = await api.bearer(1)
    refused = await api.client.post("/api/v1/authenticate/workspace", headers=token,
                                    json={"target_organisation": {"id": 1}})
    assert refused.status_code == 403
    assert (await api.client.post("/api/v1/authenticate/workspace",
                                  json={"target_organisation": {"id": 1}})).status_code == 401
    assert await events_of(api, headers, 67) == []
    # A deleted member's workspace tokens stop working.
    await api.services.auth.ensure_organisation(3, "Assigned")
    users = Users(api.services.accounts, api.services.auth, api.services.notifier, api.services.clock)
    await users.assign_workspace(user_id, 3)
    there = await api.client.post("/api/v1/authenticate/workspace", headers=headers,
                                  json={"target_organisation": {"id": 3}})
    assert there.status_code == 200
    assert (await api.client.delete(f"/api/v2/user/{user_id}", headers=token)).status_code == 204
    assert (await api.get("/api/v1/organisation/my", bearer(there.json()["auth_token"]))).status_code == 401
