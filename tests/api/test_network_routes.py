"""The network through the API: POST /internal/v1/signalling (service token), an endpoint's connectivity
and its reset, operator blacklists, and the operator and country lookups."""

from __future__ import annotations

from typing import Any

from cellstream.network.signalling import CreatePdpContext, Sms, UpdateGprsLocation, UpdateLocation

from .conftest import Api
from .test_endpoints import body, create, event_types, setup

T0 = 1_790_000_000_000
SESSION = "6f1c7e1e-0000-4000-8000-000000000001"


async def signal(api: Api, *records: Any) -> list[dict[str, Any]]:
    response = await api.signalling(records)
    assert response.status_code == 200, response.text
    verdicts: list[dict[str, Any]] = response.json()["verdicts"]
    return verdicts


def attach(imsi: str, mnc: str = "02") -> list[Any]:
    return [UpdateLocation(imsi=imsi, ts_ms=T0, vlr="491720000095", mcc="262", mnc=mnc),
            UpdateGprsLocation(imsi=imsi, ts_ms=T0 + 1, sgsn="491720000096", sgsn_ip="213.181.60.148",
                               mcc="262", mnc=mnc)]


def session(imsi: str) -> CreatePdpContext:
    return CreatePdpContext(imsi=imsi, ts_ms=T0 + 2, session_id=SESSION, mcc="262", mnc="02",
                            sgsn_control_plane_ip_address="10.0.0.1", sgsn_data_plane_ip_address="10.0.0.2",
                            ggsn_control_plane_ip_address="10.0.0.3", ggsn_data_plane_ip_address="10.0.0.4")


async def device(api: Api) -> tuple[dict[str, str], int, str]:
    headers, profiles, (sim_id, _) = await setup(api)
    endpoint_id = await create(api, headers, body(profiles, sim={"id": sim_id}))
    imsi = (await api.get(f"/api/v1/sim/{sim_id}", headers)).json()["imsi"]
    return headers, endpoint_id, imsi


async def test_signalling_goes_in_and_connectivity_shows_it(api: Api) -> None:
    headers, endpoint_id, imsi = await device(api)
    path = f"/api/v1/endpoint/{endpoint_id}/connectivity"
    assert (await api.get(path, headers)).json()["status"] == {"description": "OFFLINE"}
    assert [v["accepted"] for v in await signal(api, *attach(imsi))] == [True, True]
    attached = (await api.get(path, headers)).json()
    assert attached["status"] == {"description": "ATTACHED"}
    assert attached["location"]["operator"]["name"] == "Vodafone"
    assert attached["location"]["sgsn_ip_address"] == "213.181.60.148"
    assert (await signal(api, session(imsi)))[0]["accepted"]
    online = (await api.get(path, headers)).json()
    assert online["status"] == {"description": "ONLINE"}
    assert online["pdp_context"]["session_id"] == SESSION
    assert (await api.client.patch(path, headers=headers, json={"pdp_context": None})).status_code == 204
    assert (await api.get(path, headers)).json()["status"] == {"description": "ATTACHED"}
    assert (await api.client.patch(path, headers=headers, json={"location": None})).status_code == 204
    assert (await api.get(path, headers)).json()["status"] == {"description": "OFFLINE"}
    assert await event_types(api, headers, endpoint_id) == [51, 1, 2, 3, 5, 16, 15]
    assert (await api.client.patch(path, headers=headers, json={"location": "x"})).status_code == 422


async def test_unknown_imsis_are_refused_and_bad_batches_rejected_whole(api: Api) -> None:
    verdicts = await signal(api, *attach("999999999999999"))
    assert verdicts == [{"accepted": False, "reason": "unknown IMSI"}] * 2
    service = await api.service_headers()
    bad = await api.client.post("/internal/v1/signalling", headers=service,
                                content=b'[{"kind": "data_usage", "imsi": "1", "ts_ms": 1}]')
    assert bad.status_code == 422
    assert "session_id" in bad.text
    assert (await api.client.post("/internal/v1/signalling", content=b"[]",
                                  headers=service)).status_code == 422
    assert (await api.client.post("/internal/v1/signalling", content=b"[]")).status_code == 401


async def test_a_blacklisted_operator_refuses_registration(api: Api) -> None:
    headers, endpoint_id, imsi = await device(api)
    path = f"/api/v1/endpoint/{endpoint_id}/operator_blacklist"
    assert (await api.client.put(f"{path}/3", headers=headers)).status_code == 204
    assert (await api.client.put(f"{path}/3", headers=headers)).status_code == 409
    assert (await api.client.put(f"{path}/99999", headers=headers)).status_code == 404
    listed = (await api.get(path, headers)).json()
    assert [o["name"] for o in listed] == ["Vodafone"]
    refused = await signal(api, attach(imsi)[0])
    assert refused[0]["accepted"] is False
    event = (await api.get(f"/api/v1/endpoint/{endpoint_id}/event", headers, sort="-id")).json()[0]
    assert event["event_severity"]["description"] == "Warn"
    assert event["description"].endswith(
        "A different IMSI or operator will be used for the network registration.")
    assert (await api.client.delete(f"{path}/3", headers=headers)).status_code == 204
    assert (await api.client.delete(f"{path}/3", headers=headers)).status_code == 404
    assert (await signal(api, attach(imsi)[0]))[0]["accepted"] is True


async def test_operators_and_countries_are_listed(api: Api) -> None:
    headers = await api.bearer(1)
    operators = (await api.get("/api/v1/operator", headers)).json()
    assert len(operators) > 40
    vodafone = next(o for o in operators if o["id"] == 3)
    assert vodafone["country"]["iso_code"] == "de"
    assert vodafone["tapcode"][0]["tapcode"] == "DEUD2"
    countries = (await api.get("/api/v1/country", headers)).json()
    assert {"id": 74, "name": "Germany", "country_code": "49", "mcc": "262", "iso_code": "de"} in countries


async def test_sms_are_sent_delivered_or_failed_and_listed(api: Api) -> None:
    headers, endpoint_id, imsi = await device(api)
    path = f"/api/v1/endpoint/{endpoint_id}/sms"
    failed = await api.client.post(path, headers=headers, json={"source_address": 12345689, "payload": "hi"})
    assert failed.status_code == 201, failed.text  # not attached yet: kept as FAILED
    await signal(api, *attach(imsi))
    sent = await api.client.post(path, headers=headers, json={
        "source_address": "Acme", "source_address_type": {"id": 208}, "payload": "hello device"})
    assert sent.status_code == 201
    assert sent.headers["Location"].endswith(f"/sms/{sent.json()['id']}")
    mo = Sms(imsi=imsi, ts_ms=T0 + 5, direction="MO", peer="4915100000000", payload="from device")
    assert (await signal(api, mo))[0]["accepted"]
    listed = (await api.get(path, headers)).json()
    assert [(m["sms_type"]["description"], m["status"]["description"], m["payload"]) for m in listed] == [
        ("MO", "DELIVERED", "from device"), ("MT", "DELIVERED", "hello device"), ("MT", "FAILED", "hi")]
    assert listed[1]["source_address"] == "Acme"
    assert listed[1]["msisdn"] == listed[0]["msisdn"]
    one = (await api.get(f"{path}/{listed[1]['id']}", headers)).json()
    assert one == listed[1]
    assert (await api.get(f"{path}/99999", headers)).status_code == 404
    for bad in ({"payload": "x" * 161, "source_address": 1}, {"payload": "x", "source_address": "abc"},
                {"payload": "x", "source_address": "TooLongSenderName", "source_address_type": {"id": 208}}):
        assert (await api.client.post(path, headers=headers, json=bad)).status_code == 422
    usage = await api.services.connectivity.resources.usage_after(0, 100)
    assert len(usage) == 2  # the two delivered messages


async def test_an_sms_without_a_sender_is_accepted(api: Api) -> None:
    headers, endpoint_id, imsi = await device(api)
    await signal(api, *attach(imsi))
    path = f"/api/v1/endpoint/{endpoint_id}/sms"
    sent = await api.client.post(path, headers=headers, json={"payload": "hi"})
    assert sent.status_code == 201, sent.text
    kept = (await api.get(f"/api/v1/endpoint/{endpoint_id}/sms", headers)).json()[0]
    assert kept["status"]["description"] == "DELIVERED"
    assert kept["source_address"] == ""
