"""/api/v1/endpoint/{id}/quota/data|sms: assign (201, 56/58 with the documented detail), read, delete
(204, 57/59), and every invalid request refused with nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from cellstream.events.timefmt import format_timestamp

from .conftest import Api
from .test_endpoints import body, create, event_types, setup

DAY_MS = 86_400_000


def data_quota(api: Api, **changes: Any) -> dict[str, Any]:
    quota = {"status": {"id": 1}, "volume": 10, "auto_refill": 0,
             "expiry_date": format_timestamp(api.clock.now_ms() + 30 * DAY_MS),
             "action_on_exhaustion": {"id": 1}, "threshold_percentage": 10}
    quota.update(changes)
    return quota


async def test_a_data_quota_is_assigned_read_and_deleted_with_its_events(api: Api) -> None:
    headers, profiles, (sim_id, _) = await setup(api)
    endpoint_id = await create(api, headers, body(profiles, sim={"id": sim_id}))
    path = f"/api/v1/endpoint/{endpoint_id}/quota/data"
    assert (await api.get(path, headers)).status_code == 404
    expiry = api.clock.now_ms() + 30 * DAY_MS
    posted = await api.client.post(path, headers=headers, json=data_quota(
        api, expiry_date=format_timestamp(expiry), action_on_exhaustion={"id": 2, "peak_throughput": 256000}))
    assert posted.status_code == 201, posted.text
    got = (await api.get(path, headers)).json()
    assert got["volume"] == 10
    assert got["status"] == {"description": "ACTIVE", "id": 1}
    assert got["threshold_volume"] == 1
    assert got["peak_throughput"] == 256000
    assert got["action_on_exhaustion"]["description"] == "Throttle"
    assert (await api.client.delete(path, headers=headers)).status_code == 204
    assert (await api.client.delete(path, headers=headers)).status_code == 404
    events = (await api.get(f"/api/v1/endpoint/{endpoint_id}/event", headers, sort="id")).json()
    assert [e["event_type"]["id"] for e in events] == [51, 56, 57]
    assigned = events[1]
    until = format_timestamp(expiry)[:19] + "Z"
    assert assigned["description"] == ("Data quota assigned with volume of 10.000000 MB without daily refill "
                                       f"until {until} and action on exhaustion set to throttling to a "
                                       "throughput of 256 kbit/s.")
    assert assigned["detail"]["quota"]["expiryDate"] == until
    assert assigned["detail"]["quota"]["thresholdVolume"] == 1
    assert set(assigned["detail"]["quota"]) == {"status", "action_on_exhaustion", "volume", "expiryDate",
                                                "lastVolumeAdded", "lastStatusChangeDate", "autoRefill",
                                                "thresholdPercentage", "thresholdVolume"}
    assert events[2]["description"] == "Data quota deleted."
    assert events[2]["sim"]["id"] == sim_id


async def test_an_sms_quota_counts_messages(api: Api) -> None:
    headers, profiles, _ = await setup(api, sims=0)
    endpoint_id = await create(api, headers, body(profiles))
    path = f"/api/v1/endpoint/{endpoint_id}/quota/sms"
    quota = data_quota(api, volume=10, threshold_percentage=20)
    assert (await api.client.post(path, headers=headers, json=quota)).status_code == 201
    got = (await api.get(path, headers)).json()
    assert got["auto_refill"] is False
    assert "peak_throughput" not in got
    event = (await api.get(f"/api/v1/endpoint/{endpoint_id}/event", headers)).json()[0]
    assert event["event_type"]["id"] == 58
    assert event["description"].startswith(
        "SMS quota assigned with volume of 10 SMS without daily refill until")
    assert (await api.client.post(path, headers=headers, json={**quota, "volume": 1.5})).status_code == 422
    quota.pop("threshold_percentage")
    assert (await api.client.post(path, headers=headers, json=quota)).status_code == 422


@pytest.mark.parametrize(("change", "field"), [
    ({"volume": -5}, "volume"), ({"volume": 0}, "volume"), ({"status": {"id": 2}}, "status.id"),
    ({"expiry_date": "2001-01-01T00:00:00Z"}, "expiry_date"), ({"expiry_date": "soon"}, "expiry_date"),
    ({"threshold_percentage": 150}, "threshold_percentage"),
    ({"action_on_exhaustion": {"id": 3}}, "action_on_exhaustion.id"),
    ({"action_on_exhaustion": {"id": 2, "peak_throughput": 1000}}, "peak_throughput"),
])
async def test_invalid_quotas_are_422_and_store_nothing(api: Api, change: dict[str, Any], field: str) -> None:
    headers, profiles, _ = await setup(api, sims=0)
    endpoint_id = await create(api, headers, body(profiles))
    path = f"/api/v1/endpoint/{endpoint_id}/quota/data"
    response = await api.client.post(path, headers=headers, json=data_quota(api, **change))
    assert response.status_code == 422, response.text
    assert field in response.text
    assert (await api.get(path, headers)).status_code == 404
    assert await event_types(api, headers, endpoint_id) == []


async def test_another_organisations_endpoint_has_no_quota_to_touch(api: Api) -> None:
    headers, profiles, _ = await setup(api, 1, sims=0)
    other, _, _ = await setup(api, 2, sims=0)
    endpoint_id = await create(api, headers, body(profiles))
    path = f"/api/v1/endpoint/{endpoint_id}/quota/data"
    assert (await api.client.post(path, headers=other, json=data_quota(api))).status_code == 404
    assert (await api.client.post(path, headers=headers, json=data_quota(api))).status_code == 201
    assert (await api.get(path, other)).status_code == 404
    assert (await api.client.delete(path, headers=other)).status_code == 404
