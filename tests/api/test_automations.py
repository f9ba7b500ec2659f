"""/api/v1/automation and /api/v1/event/system/configuration through the API, with the real engine and the
real callback action posting to a local receiver."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from cellstream.automations.actions.callback import ACTION_ID as CALLBACK
from tests.api.conftest import Api, event
from tests.automations.receiver import Receiver, receiver
from tests.streamer.conftest import clock, services

__all__ = ["clock", "receiver", "services"]  # fixtures: private destinations allowed, a callback receiver
BASE = "/api/v1/automation"


@pytest.fixture
async def running(api: Api) -> Api:
    await api.services.automations.engine.start()  # closed with the services
    return api


def on_type(type_id: int, url: str, **extra: Any) -> dict[str, Any]:
    return {"name": f"call on {type_id}", "description": "tell the ERP", "status": "ACTIVE",
            "actionable_event": {"system_event": {"id": str(type_id)}},
            "configured_actions": [{"action": {"id": CALLBACK},
                                    "properties": [{"property": "url", "value": url}]}],
            **extra}


async def arrived(receiver: Receiver, count: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(receiver.requests) < count and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    return [json.loads(body) for _, body in receiver.requests]


async def test_an_automation_calls_back_on_its_event(running: Api, receiver: Receiver) -> None:
    api = running
    headers = await api.bearer(100)
    trucks = [{"property": "endpoint", "value_array": ["truck"]}]
    created = await api.client.post(BASE, headers=headers,
                                    json=on_type(19, receiver.url(), targeting_properties=trucks))
    assert created.status_code == 201, created.text
    automation = created.json()
    assert created.headers["Location"] == f"{BASE}/{automation['id']}"
    assert automation["status"] == "ACTIVE"
    assert automation["actionable_event"]["system_event"]["eventType"] == {"id": 19}
    assert automation["configured_actions"][0]["action"] == {"id": CALLBACK}
    assert automation["organisation"] == {"id": 100}

    assert (await api.ingest([event(1, 100, event_type={"id": 19}, endpoint={"id": 5, "name": "Truck 5"}),
                              event(2, 100, event_type={"id": 19}, endpoint={"id": 6, "name": "Van 6"}),
                              event(3, 100, event_type={"id": 1}, endpoint={"id": 5, "name": "Truck 5"})]
                             )).status_code == 201
    bodies = await arrived(receiver, 1)
    await asyncio.sleep(0.1)
    assert len(bodies) == 1
    assert bodies[0]["event"]["id"] == 1
    assert bodies[0]["automation"] == {"id": automation["id"], "name": "call on 19"}

    got = (await api.client.get(f"{BASE}/{automation['id']}", headers=headers)).json()
    assert got["number_of_executions"] == 1
    assert got["last_execution"] is not None
    logs = await api.client.get(f"{BASE}/log", headers=headers,
                                params={"automationId": automation["id"], "automationExecutionNumber": 1})
    assert logs.status_code == 200
    [entry] = logs.json()
    assert entry["status"] == "SUCCEEDED"
    assert entry["event"] == {"id": 1}
    assert entry["action"] == {"id": CALLBACK}
    assert entry["automation_execution_number"] == 1


async def test_inactive_and_deleted_automations_do_not_fire(running: Api, receiver: Receiver) -> None:
    api = running
    headers = await api.bearer(100)
    automation = (await api.client.post(BASE, headers=headers, json=on_type(1, receiver.url()))).json()
    paused = await api.client.patch(f"{BASE}/{automation['id']}", headers=headers,
                                    json={"status": "INACTIVE"})
    assert paused.status_code == 200
    assert paused.json()["status"] == "INACTIVE"
    await api.ingest([event(1, 100)])
    await asyncio.sleep(0.2)
    assert receiver.requests == []
    await api.client.patch(f"{BASE}/{automation['id']}", headers=headers, json={"status": "ACTIVE"})
    await api.ingest([event(2, 100)])
    assert [b["event"]["id"] for b in await arrived(receiver, 1)] == [2]
    assert (await api.client.delete(f"{BASE}/{automation['id']}", headers=headers)).status_code == 204
    assert (await api.client.get(f"{BASE}/{automation['id']}", headers=headers)).status_code == 404
    await api.ingest([event(3, 100)])
    await asyncio.sleep(0.2)
    assert len(receiver.requests) == 1


async def test_automations_belong_to_their_organisation(running: Api, receiver: Receiver) -> None:
    api = running
    mine, theirs = await api.bearer(100), await api.bearer(200)
    automation = (await api.client.post(BASE, headers=mine, json=on_type(1, receiver.url()))).json()
    assert (await api.client.get(f"{BASE}/{automation['id']}", headers=theirs)).status_code == 404
    assert (await api.client.get(BASE, headers=theirs)).json() == []
    assert (await api.client.delete(f"{BASE}/{automation['id']}", headers=theirs)).status_code == 404
    logs = await api.client.get(f"{BASE}/log", headers=theirs,
                                params={"automationId": automation["id"], "automationExecutionNumber": 1})
    assert logs.status_code == 404
    await api.ingest([event(1, 200)])  # another organisation's event fires nothing here
    await asyncio.sleep(0.2)
    assert receiver.requests == []


async def test_actions_and_system_events(api: Api) -> None:
    headers = await api.bearer(100)
    actions = (await api.client.get(f"{BASE}/action", headers=headers)).json()
    by_type = {a["type"]: a for a in actions}
    wanted = {"WEBHOOK", "EMAIL", "DISABLE_ENDPOINT", "SUSPEND_SIM", "SEND_SMS", "ASSIGN_DATA_QUOTA"}
    assert wanted <= set(by_type)
    webhook = by_type["WEBHOOK"]
    assert "url" in webhook["configurationProperties"]
    assert set(webhook) >= {"id", "status", "type", "configurationProperties", "name", "translationKeyName",
                            "description", "translationKeyDescription", "requiredEventOutputParameters"}
    one = await api.client.get(f"{BASE}/action/{webhook['id']}", headers=headers)
    assert one.json() == webhook
    assert (await api.client.get(f"{BASE}/action/nope", headers=headers)).status_code == 404

    system = (await api.client.get("/api/v1/event/system/configuration", headers=headers)).json()
    quota = next(s for s in system if s["eventType"] == {"id": 19})
    assert quota["id"] == "19"
    assert quota["parentOrg"] == {"id": 100}
    assert "tags" in quota["supportedTargetingParameters"]
    assert webhook["id"] in quota["supportedActions"]
    single = await api.client.get("/api/v1/event/system/configuration/19", headers=headers)
    assert single.json() == quota
    missing = await api.client.get("/api/v1/event/system/configuration/999", headers=headers)
    assert missing.status_code == 404


@pytest.mark.parametrize(("change", "field"), [
    ({"name": ""}, "name"),
    ({"actionable_event": {"system_event": {"id": "999"}}}, "actionable_event.system_event.id"),
    ({"configured_actions": [{"action": {"id": CALLBACK}, "properties": []}]}, "configured_actions.0.url"),
    ({"configured_actions": [{"action": {"id": CALLBACK}, "properties": [
        {"property": "url", "value": "ftp://x"}]}]}, "configured_actions.0.url"),
    ({"targeting_properties": [{"property": "colour", "value": "red"}]}, "targeting_properties.0.property"),
])
async def test_invalid_automations_are_422_naming_the_field(api: Api, change: dict[str, Any],
                                                            field: str) -> None:
    headers = await api.bearer(100)
    response = await api.client.post(BASE, headers=headers, json=on_type(1, "http://127.0.0.1:9/x") | change)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await api.client.get(BASE, headers=headers)).json() == []


async def test_the_log_needs_both_parameters(api: Api) -> None:
    headers = await api.bearer(100)
    response = await api.client.get(f"{BASE}/log", headers=headers, params={"automationId": "x"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "automationExecutionNumber"
