"""/api/v1/event/custom/… through the API: template and CustomEvent shapes (facts §G.3), deploy 201,
delete 200, 422s naming the field, and one organisation never seeing another's custom events."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.automations.custom.conftest import Rig

BASE = "/api/v1/event/custom"
PROPS = "configuration_properties"


def body(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"organisation": {"id": 100}, "template": {"id": 2}, "name": "attach storm",
                           "configuration_properties": [{"property": "count", "value": "5"},
                                                        {"property": "minutes", "value": 15}]}
    doc.update(overrides)
    return doc


async def test_templates_have_the_documented_shape(api: Api) -> None:
    headers = await api.bearer(100)
    listed = (await api.client.get(f"{BASE}/template", headers=headers)).json()
    assert [t["translationKeyName"] for t in listed] == [
        f"custom_event.{k}.name" for k in
        ("no-data-session", "failed-attaches", "daily-data-usage", "geofence", "flapping")]
    for template in listed:
        assert set(template) >= {"id", "parent_organisation", "name", "translationKeyName", "status",
                                 "description", "translationKeyDescription", "configuration_properties",
                                 "supported_targeting_parameters"}
        for prop in template["configuration_properties"]:
            assert set(prop) == {"property", "type", "default", "required", "description", "validators"}
            assert all(set(v) == {"validator_type", "validator_value"} for v in prop["validators"])
        for parameter in template["supported_targeting_parameters"]:
            assert set(parameter) == {"parameter", "type", "description", "validators"}
    usage = (await api.client.get(f"{BASE}/template/3", headers=headers)).json()
    assert usage["id"] == "3"
    assert usage["event_type"]["id"] == 1003
    [megabytes] = usage["configuration_properties"]
    assert megabytes["required"] is True
    assert megabytes["type"] == "number"
    by_key = await api.client.get(f"{BASE}/template/geofence", headers=headers)
    assert by_key.json()["id"] == "4"
    assert (await api.client.get(f"{BASE}/template/99", headers=headers)).status_code == 404
    assert (await api.client.get(f"{BASE}/template")).status_code == 401


async def test_deploy_list_get_delete(api: Api, rig: Rig) -> None:
    headers = await api.bearer(100)
    created = await api.client.post(f"{BASE}/configuration", json=body(), headers=headers)
    assert created.status_code == 201, created.text
    custom = created.json()
    assert set(custom) >= {"id", "organisation", "template", "configuration_properties", "name",
                           "supportedTargetingParameters", "supportedActions"}
    assert custom["organisation"] == {"id": 100}
    assert custom["template"] == {"id": 2}
    minutes = {"property": "minutes", "value": "15", "value_array": None}
    assert custom["configuration_properties"][1] == minutes
    assert "endpoint" in custom["supportedTargetingParameters"]
    assert custom["supportedActions"] == ["action-1"]
    assert created.headers["Location"] == f"{BASE}/configuration/{custom['id']}"
    listed = (await api.client.get(f"{BASE}/configuration", headers=headers)).json()
    assert listed == [custom]
    assert (await api.client.get(f"{BASE}/configuration/{custom['id']}", headers=headers)).json() == custom
    # the evaluator knows it at once
    for _ in range(6):
        await rig.event(1, severity=1)
    await rig.evaluator.catch_up()
    [fired] = await rig.custom_events()
    assert fired["detail"]["custom_event"]["id"] == custom["id"]
    deleted = await api.client.delete(f"{BASE}/configuration/{custom['id']}", headers=headers)
    assert deleted.status_code == 200
    assert (await api.client.get(f"{BASE}/configuration/{custom['id']}", headers=headers)).status_code == 404
    assert (await api.client.get(f"{BASE}/configuration", headers=headers)).json() == []
    for _ in range(6):
        await rig.event(1, severity=1)
    await rig.evaluator.catch_up()
    assert len(await rig.custom_events()) == 1  # deleted: evaluates nothing more


@pytest.mark.parametrize(("change", "field"), [
    ({"template": {"id": 99}}, "template.id"),
    ({"template": None}, "template.id"),
    ({"name": ""}, "name"),
    ({"organisation": {"id": 200}}, "organisation.id"),
    ({"configuration_properties": "count=5"}, "configuration_properties"),
    ({"configuration_properties": [{"property": "count", "value": "many"}]}, f"{PROPS}.0.value"),
    ({"configuration_properties": [{"property": "count", "value": "0"}]}, f"{PROPS}.0.value"),
    ({"configuration_properties": [{"property": "hours", "value": "2"}]}, f"{PROPS}.0.property"),
    ({"template": {"id": 3}, "configuration_properties": []}, "configuration_properties"),
    ({"template": {"id": "geofence"}, "configuration_properties": [{"property": "allowed_countries",
                                                                   "value_array": []}]},
     "configuration_properties.0.value"),
])
async def test_an_invalid_body_is_422_naming_the_field(api: Api, change: dict[str, Any], field: str) -> None:
    headers = await api.bearer(100)
    response = await api.client.post(f"{BASE}/configuration", json=body(**change), headers=headers)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert (await api.client.get(f"{BASE}/configuration", headers=headers)).json() == []


async def test_another_organisations_custom_events_are_invisible(api: Api) -> None:
    a, b = await api.bearer(100), await api.bearer(200)
    created = (await api.client.post(f"{BASE}/configuration", json=body(), headers=a)).json()
    assert (await api.client.get(f"{BASE}/configuration", headers=b)).json() == []
    assert (await api.client.get(f"{BASE}/configuration/{created['id']}", headers=b)).status_code == 404
    assert (await api.client.delete(f"{BASE}/configuration/{created['id']}", headers=b)).status_code == 404
    assert (await api.client.get(f"{BASE}/configuration/{created['id']}", headers=a)).status_code == 200


async def test_custom_events_are_listed_by_the_event_api(api: Api, rig: Rig) -> None:
    headers = await api.bearer(100)
    await api.client.post(f"{BASE}/configuration", json=body(), headers=headers)
    for _ in range(6):
        await rig.event(1, severity=1)
    await rig.evaluator.catch_up()
    listed = (await api.client.get("/api/v1/event", headers=headers, params={"q": "type:1002"})).json()
    assert [e["event_type"]["id"] for e in listed] == [1002]
    assert listed[0]["alert"] is True
    assert listed[0]["event_severity"]["id"] == 1


async def test_custom_type_ids_are_valid_on_ingest(api: Api) -> None:
    doc = {"id": 5, "timestamp": "2026-01-01T00:00:00.000Z", "description": "from elsewhere",
           "event_type": {"id": 1003}, "organisation": {"id": 100}}
    response = await api.ingest([doc])
    assert response.status_code < 300, response.text
    stored = (await api.client.get("/api/v1/event", headers=await api.bearer(100))).json()
    kinds = {e["event_type"]["id"]: e for e in stored}
    assert kinds[1003]["event_type"]["description"] == "Daily data usage exceeded"
    assert kinds[1003]["alert"] is True  # the catalog's usual value fills what the document left out


async def test_an_automation_names_its_custom_event(api: Api, rig: Rig) -> None:
    headers = await api.bearer(100)
    custom = (await api.client.post(f"{BASE}/configuration", json=body(), headers=headers)).json()
    actions = (await api.client.get("/api/v1/automation/action", headers=headers)).json()
    webhook = next(a["id"] for a in actions if a["type"] == "WEBHOOK")
    created = await api.client.post("/api/v1/automation", headers=headers, json={
        "name": "on failed attaches", "actionable_event": {"custom_event": {"id": custom["id"]}},
        "configured_actions": [{"action": {"id": webhook}, "properties": [
            {"property": "url", "value": "https://example.com/hook"}]}]})
    assert created.status_code == 201, created.text
    trigger = created.json()["actionable_event"]
    assert trigger["system_event"] is None
    assert trigger["custom_event"]["id"] == custom["id"]
    theirs = await api.bearer(200)
    foreign = await api.client.post("/api/v1/automation", headers=theirs, json={
        "name": "x", "actionable_event": {"custom_event": {"id": custom["id"]}},
        "configured_actions": [{"action": {"id": webhook}, "properties": [
            {"property": "url", "value": "https://example.com/hook"}]}]})
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "actionable_event.custom_event.id"
