"""/api/v1/endpoint and the profiles: shapes, status codes, the events each change stores, isolation."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api


async def setup(api: Api, org: int = 1, sims: int = 2) -> tuple[dict[str, str], dict[str, int], list[int]]:
    """Headers, the default profiles' ids and the organisation's SIM ids."""
    headers = await api.bearer(org, f"Org {org}")
    if sims:
        await api.services.connectivity.provision_sims(count=sims, bic=f"BATCH{org:04d}X", org_id=org)
    service = (await api.get("/api/v1/service_profile", headers)).json()[0]["id"]
    tariff = (await api.get("/api/v1/tariff_profile", headers)).json()[0]["id"]
    sim_ids = [s["id"] for s in (await api.get("/api/v1/sim", headers)).json()]
    return headers, {"service_profile": service, "tariff_profile": tariff}, sim_ids


def body(profiles: dict[str, int], **extra: Any) -> dict[str, Any]:
    return {"name": "meter-1", "status": {"id": 0}, "service_profile": {"id": profiles["service_profile"]},
            "tariff_profile": {"id": profiles["tariff_profile"]}, **extra}


async def create(api: Api, headers: dict[str, str], payload: dict[str, Any]) -> int:
    response = await api.client.post("/api/v1/endpoint", headers=headers, json=payload)
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


async def event_types(api: Api, headers: dict[str, str], endpoint_id: int) -> list[int]:
    events = (await api.get(f"/api/v1/endpoint/{endpoint_id}/event", headers, sort="id")).json()
    return [e["event_type"]["id"] for e in events]


async def test_an_endpoint_is_created_read_listed_and_deleted(api: Api) -> None:
    headers, profiles, _ = await setup(api, sims=0)
    endpoint_id = await create(api, headers, body(profiles, tags="meter, EU", imei=8664250350704510))
    got = (await api.get(f"/api/v1/endpoint/{endpoint_id}", headers)).json()
    assert got["name"] == "meter-1"
    assert got["tags"] == "meter, EU"
    assert got["imei"] == "8664250350704510"
    assert got["status"] == {"id": 0, "description": "Enabled"}
    assert got["service_profile"] == {"id": profiles["service_profile"], "name": "Default"}
    assert got["sim"] is None
    assert got["ip_address"].startswith("10.")
    listed = await api.get("/api/v1/endpoint", headers)
    assert listed.json() == [got]
    assert listed.headers["X-Total-Count"] == "1"
    assert (await api.client.delete(f"/api/v1/endpoint/{endpoint_id}", headers=headers)).status_code == 204
    assert (await api.get(f"/api/v1/endpoint/{endpoint_id}", headers)).status_code == 404
    assert await event_types(api, headers, endpoint_id) == []  # creating and deleting store no event


@pytest.mark.parametrize(("drop", "extra", "field"), [
    ("status", {}, "status.id"), ("service_profile", {}, "service_profile.id"),
    ("tariff_profile", {}, "tariff_profile.id"),
    (None, {"service_profile": {"id": 999}}, "service_profile.id"),
    (None, {"status": {"id": 7}}, "status.id"), (None, {"ip_address": "10.1.2"}, "ip_address"),
    (None, {"imei": "12345"}, "imei"), (None, {"sim": {"id": 999}}, "sim.id"),
])
async def test_bad_creates_are_422_naming_the_field(api: Api, drop: str | None, extra: dict[str, Any],
                                                    field: str) -> None:
    headers, profiles, _ = await setup(api, sims=0)
    payload = body(profiles, **extra)
    payload.pop(drop or "", None)
    response = await api.client.post("/api/v1/endpoint", headers=headers, json=payload)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert (await api.get("/api/v1/endpoint", headers)).json() == []


async def test_status_changes_store_42_and_43(api: Api) -> None:
    headers, profiles, sim_ids = await setup(api)
    endpoint_id = await create(api, headers, body(profiles, sim={"id": sim_ids[0]}))
    path = f"/api/v1/endpoint/{endpoint_id}"
    for status in (1, 1, 0):
        assert (await api.client.patch(path, headers=headers,
                                       json={"status": {"id": status}})).status_code == 204
    events = (await api.get(f"{path}/event", headers, sort="id")).json()
    assert [e["event_type"]["id"] for e in events] == [51, 43, 42]
    disabled = events[1]
    assert disabled["description"] == f"Status of Endpoint {endpoint_id} changed to Disabled"
    assert disabled["endpoint"]["id"] == endpoint_id
    assert disabled["sim"]["id"] == sim_ids[0]
    assert disabled["event_source"] == {"id": 2, "description": "API"}


async def test_sims_are_assigned_moved_and_released_with_their_events(api: Api) -> None:
    headers, profiles, (first, second) = await setup(api)
    endpoint_id = await create(api, headers, body(profiles, imei="866425035070451",
                                                  sim={"id": first, "status": {"id": 2}}))
    path = f"/api/v1/endpoint/{endpoint_id}"
    assigned = (await api.get(f"{path}/event", headers, sort="id")).json()
    assert [e["event_type"]["id"] for e in assigned] == [51, 9]  # the status given with it moves the SIM
    assert assigned[0]["description"] == f"SIM {first} assigned to endpoint {endpoint_id}"
    assert assigned[0]["detail"] == {"imei": "866425035070451"}
    assert (await api.client.patch(path, headers=headers, json={"sim": {"id": second}})).status_code == 204
    assert (await api.get(path, headers)).json()["sim"]["id"] == second
    assert (await api.get(f"/api/v1/sim/{first}", headers)).json()["endpoint"] is None
    assert (await api.client.patch(path, headers=headers, json={"sim": None})).status_code == 204
    assert (await api.get(path, headers)).json()["sim"] is None
    assert await event_types(api, headers, endpoint_id) == [51, 9, 50, 51, 50]


async def test_a_sim_sits_in_one_endpoint_and_an_endpoint_with_a_sim_is_not_deleted(api: Api) -> None:
    headers, profiles, (sim_id, _) = await setup(api)
    holder = await create(api, headers, body(profiles, sim={"id": sim_id}))
    response = await api.client.post("/api/v1/endpoint", headers=headers,
                                     json=body(profiles, sim={"id": sim_id}))
    assert response.status_code == 409
    assert len((await api.get("/api/v1/endpoint", headers)).json()) == 1  # nothing half-created
    assert (await api.client.delete(f"/api/v1/endpoint/{holder}", headers=headers)).status_code == 409
    assert (await api.client.delete(f"/api/v1/sim/{sim_id}", headers=headers)).status_code == 409


async def test_organisations_never_see_each_others_endpoints(api: Api) -> None:
    acme, profiles, (sim_id, _) = await setup(api, 1)
    other, other_profiles, _ = await setup(api, 2)
    endpoint_id = await create(api, acme, body(profiles))
    assert (await api.get(f"/api/v1/endpoint/{endpoint_id}", other)).status_code == 404
    assert (await api.client.patch(f"/api/v1/endpoint/{endpoint_id}", headers=other,
                                   json={"status": {"id": 1}})).status_code == 404
    assert (await api.get("/api/v1/endpoint", other)).json() == []
    # another organisation's SIM and profiles cannot be used
    response = await api.client.post("/api/v1/endpoint", headers=other,
                                     json=body(other_profiles, sim={"id": sim_id}))
    assert response.status_code == 422
    response = await api.client.post("/api/v1/endpoint", headers=other, json=body(profiles))
    assert response.status_code == 422


async def test_quota_switches_of_a_service_profile_store_52_to_55(api: Api) -> None:
    headers, profiles, _ = await setup(api, sims=0)
    path = f"/api/v1/service_profile/{profiles['service_profile']}"
    for change in ({"apply_data_quota": True}, {"apply_data_quota": True}, {"apply_sms_quota": True},
                   {"apply_quota": False, "apply_sms_quota": False}):
        assert (await api.client.patch(path, headers=headers, json=change)).status_code == 201
    events = (await api.get("/api/v1/event", headers, sort="id")).json()
    assert [e["event_type"]["id"] for e in events] == [52, 54, 53, 55]
    assert events[0]["event_severity"] == {"id": 1, "description": "Warn"}
    assert events[0]["description"].startswith(
        f"Data quota management enabled for service profile (id = {profiles['service_profile']} - Default)")
    assert (await api.client.patch(path, headers=headers, json={"name": None})).status_code == 422
    assert (await api.client.patch("/api/v1/service_profile/999", headers=headers,
                                   json={"name": "x"})).status_code == 404


async def test_endpoint_lists_filter_and_sort(api: Api) -> None:
    headers, profiles, (sim_id, _) = await setup(api)
    first = await create(api, headers, body(profiles, name="Truck 12", tags="fleet, EU", sim={"id": sim_id}))
    second = await create(api, headers, body(profiles, name="meter-7", status={"id": 1}))
    assert [e["id"] for e in (await api.get("/api/v1/endpoint", headers, q="name:TRUCK")).json()] == [first]
    assert [e["id"] for e in (await api.get("/api/v1/endpoint", headers, q="status:1")).json()] == [second]
    assert [e["id"] for e in (await api.get("/api/v1/endpoint", headers, q="sim_status:1,tags:eu")).json()] \
        == [first]
    by_name = (await api.get("/api/v1/endpoint", headers, sort="-name")).json()
    assert [e["id"] for e in by_name] == [first, second]
    assert (await api.get("/api/v1/endpoint", headers, q="colour:red")).status_code == 422
    assert (await api.get("/api/v1/endpoint", headers, sort="colour")).status_code == 400


async def test_a_sim_with_a_null_id_is_taken_out_as_the_python_sdk_asks(api: Api) -> None:
    headers, profiles, (sim_id, _) = await setup(api)
    endpoint_id = await create(api, headers, body(profiles, sim={"id": sim_id}))
    path = f"/api/v1/endpoint/{endpoint_id}"
    assert (await api.client.patch(path, headers=headers, json={"sim": {"id": None}})).status_code == 204
    assert (await api.get(path, headers)).json()["sim"] is None
    assert await event_types(api, headers, endpoint_id) == [51, 50]


async def test_profiles_are_read_one_by_one_with_their_use(api: Api) -> None:
    headers, profiles, _ = await setup(api, sims=0)
    await create(api, headers, body(profiles))
    service = await api.get(f"/api/v1/service_profile/{profiles['service_profile']}", headers)
    assert service.json()["used_count"] == 1
    tariff = await api.get(f"/api/v1/tariff_profile/{profiles['tariff_profile']}", headers)
    assert tariff.json()["used_count"] == "1"
    for path in ("/api/v1/service_profile/999", "/api/v1/tariff_profile/999"):
        assert (await api.get(path, headers)).status_code == 404
    other, _, _ = await setup(api, 2, sims=0)
    assert (await api.get(f"/api/v1/service_profile/{profiles['service_profile']}", other)).status_code == 404
