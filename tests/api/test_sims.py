"""/api/v1/sim and /api/v1/sim_batch: the documented shapes, status codes and events, tenant isolation."""

from __future__ import annotations

import pytest

from cellstream.domain import sims

from .conftest import Api


async def provision(api: Api, bic: str = "BATCH0001", count: int = 3, org: int | None = None) -> None:
    await api.services.connectivity.provision_sims(count=count, bic=bic, org_id=org)


async def test_a_batch_is_validated_then_registered_once(api: Api) -> None:
    headers = await api.bearer(1, "Acme")
    await provision(api)
    checked = await api.get("/api/v1/sim_batch/bic/BATCH0001", headers)
    assert checked.status_code == 200
    assert checked.json()["quantity"] == "3"
    registered = await api.client.patch("/api/v1/sim_batch/bic/BATCH0001", headers=headers,
                                        json={"sim_status": {"id": 1}})
    assert registered.status_code == 200, registered.text
    assert len(registered.json()["sim"]) == 3
    again = await api.client.patch("/api/v1/sim_batch/bic/BATCH0001", headers=headers,
                                   json={"sim_status": {"id": 1}})
    assert again.status_code == 422
    assert (await api.get("/api/v1/sim_batch/bic/BATCH0001", headers)).status_code == 422
    assert (await api.get("/api/v1/sim_batch/bic/NOSUCHBIC", headers)).status_code == 422
    events = (await api.get("/api/v1/event", headers)).json()
    assert [e["event_type"]["id"] for e in events] == [48]


async def test_sims_are_listed_with_paging_headers_and_only_to_their_owner(api: Api) -> None:
    acme, other = await api.bearer(1, "Acme"), await api.bearer(2, "Other")
    await provision(api, org=1, count=5)
    response = await api.get("/api/v1/sim", acme, per_page=2, page=3, sort="-id")
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "5"
    assert response.headers["X-Total-Pages"] == "3"
    assert len(response.json()) == 1
    every = await api.walk("/api/v1/sim", acme, per_page=2)
    assert [s["id"] for s in every] == sorted(s["id"] for s in every)
    sim = every[0]
    assert sim["status"] == {"id": 1, "description": "Activated"}
    assert sim["iccid_with_luhn"].startswith(sim["iccid"])
    assert len(sim["iccid_with_luhn"]) == 20
    assert (await api.get("/api/v1/sim", other)).json() == []
    assert (await api.get(f"/api/v1/sim/{sim['id']}", other)).status_code == 404
    assert (await api.get(f"/api/v1/sim/{sim['id']}", acme)).json() == sim
    assert (await api.get("/api/v1/sim", acme, sort="colour")).status_code == 400
    assert (await api.get("/api/v1/sim", acme, q="colour:red")).status_code == 422


async def test_status_changes_and_deletion_store_their_events(api: Api) -> None:
    headers = await api.bearer(1, "Acme")
    await provision(api, org=1, count=1)
    sim_id = (await api.get("/api/v1/sim", headers)).json()[0]["id"]
    path = f"/api/v1/sim/{sim_id}"
    assert (await api.client.patch(path, headers=headers, json={"status": {"id": 2}})).status_code == 204
    refused = await api.client.patch(path, headers=headers, json={"status": {"id": 4}})
    assert refused.status_code == 422
    assert "status.id" in refused.text
    assert (await api.client.delete(path, headers=headers)).status_code == 204
    assert (await api.get(path, headers)).json()["status"] == {"id": 3, "description": "Deleted"}
    assert (await api.client.delete(path, headers=headers)).status_code == 404
    events = (await api.get(f"/api/v1/sim/{sim_id}/event", headers, sort="id")).json()
    assert [e["event_type"]["id"] for e in events] == [48, 9, 10]  # 48 names the batch's first SIM
    assert events[1]["description"] == "Status of SIM changed from 'Activated' to 'Suspended'"


@pytest.mark.parametrize("body", [{}, {"status": {}}, {"status": {"id": "x"}},
                                  {"status": {"id": 2}, "customer_org": {"id": 3}}])
async def test_bad_patch_bodies_are_422_and_change_nothing(api: Api, body: dict[str, object]) -> None:
    headers = await api.bearer(1, "Acme")
    await provision(api, org=1, count=1)
    sim_id = (await api.get("/api/v1/sim", headers)).json()[0]["id"]
    response = await api.client.patch(f"/api/v1/sim/{sim_id}", headers=headers, json=body)
    assert response.status_code == 422
    assert (await api.get(f"/api/v1/sim/{sim_id}", headers)).json()["status"]["id"] == sims.ACTIVATED


async def test_the_status_lookup_lists_every_sim_status(api: Api) -> None:
    headers = await api.bearer(1)
    response = await api.get("/api/v1/sim/status", headers)
    assert response.json() == [{"id": 0, "description": "Issued"}, {"id": 1, "description": "Activated"},
                               {"id": 2, "description": "Suspended"}, {"id": 3, "description": "Deleted"},
                               {"id": 4, "description": "Factory Test"}]


async def test_sim_lists_filter_and_sort_the_way_the_official_sdk_asks(api: Api) -> None:
    headers = await api.bearer(1, "Acme")
    await provision(api, org=1, count=4)
    every = (await api.get("/api/v1/sim", headers)).json()
    first = every[0]
    await api.client.patch(f"/api/v1/sim/{first['id']}", headers=headers, json={"status": {"id": 2}})
    suspended = (await api.get("/api/v1/sim", headers, q="status:2")).json()
    assert [s["id"] for s in suspended] == [first["id"]]
    assert (await api.get("/api/v1/sim", headers, q="status:2")).headers["X-Filter"] == "status:2"
    by_iccid = (await api.get("/api/v1/sim", headers, q=f"iccid:{first['iccid'][:-1]}")).json()
    assert first["id"] in [s["id"] for s in by_iccid]
    assert len((await api.get("/api/v1/sim", headers, q="endpoint:null")).json()) == 4
    # the SDK glues endpoint:null to its other conditions without a comma
    assert [s["id"] for s in (await api.get("/api/v1/sim", headers, q="status:2endpoint:null")).json()] == \
        [first["id"]]
    assert (await api.get("/api/v1/sim", headers, q="status:1|2")).headers["X-Total-Count"] == "4"
    descending = (await api.get("/api/v1/sim", headers, sort="-ICCID")).json()
    assert [s["iccid"] for s in descending] == sorted((s["iccid"] for s in every), reverse=True)
    assert (await api.get("/api/v1/sim", headers, sort="CUSTOMER_PRG")).status_code == 200


async def test_a_batch_registers_with_the_status_object_itself_as_the_python_sdk_sends_it(api: Api) -> None:
    headers = await api.bearer(1, "Acme")
    await provision(api)
    response = await api.client.patch("/api/v1/sim_batch/bic/BATCH0001", headers=headers,
                                      json={"id": 1, "description": "Activated"})
    assert response.status_code == 200, response.text
    assert len(response.json()["sim"]) == 3
    missing = await api.client.patch("/api/v1/sim_batch/bic/BATCH0001", headers=headers, json={})
    assert missing.status_code == 422
