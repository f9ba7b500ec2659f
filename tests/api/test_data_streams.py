"""/api/v2/data_stream: emnify's shapes and status codes, validation, masking and Cellstream's extras,
with a real webhook receiver behind the streams that deliver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cellstream.clock import ManualClock
from tests.api.conftest import Api, event, open_test_services, settings_for
from tests.conftest import need_fixtures
from tests.contracts.sink_harnesses.webhook import SECRET, WebhookReceiver

# Replaces tests/api/conftest.py's `services` here: these streams deliver to a receiver on 127.0.0.1.
from tests.streamer.conftest import services  # noqa: F401

BASE = "/api/v2/data_stream"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    hook = WebhookReceiver()
    await hook.start()
    yield hook
    await hook.stop()


def webhook_stream(url: str, **credentials: Any) -> dict[str, Any]:
    return {"name": "hook", "data_stream_type": {"id": 2},
            "destination": {"connection_type": "RestAPI",
                            "credentials": {"url": url, "signing_secret": SECRET, **credentials},
                            "format": "Json"}}


async def create(api: Api, headers: dict[str, str], body: dict[str, Any]) -> str:
    response = await api.client.post(BASE, json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.content == b""
    location = response.headers["Location"]
    assert location.startswith(f"{BASE}/")
    return location.rsplit("/", 1)[1]


async def test_create_get_list_patch_delete(api: Api, receiver: WebhookReceiver) -> None:
    headers = await api.bearer(100)
    body = webhook_stream(receiver.url, headers=["Authorization:Basic c2VjcmV0"], size=1)
    stream_id = await create(api, headers, body)
    assert len(stream_id) == 8
    assert int(stream_id, 16) >= 0

    got = (await api.client.get(f"{BASE}/{stream_id}", headers=headers)).json()
    assert got["id"] == stream_id
    assert got["name"] == "hook"
    assert got["data_stream_type"] == {"id": 2, "description": "Events"}
    assert got["destination"]["connection_type"] == "RestAPI"
    assert got["destination"]["credentials"]["headers"] == ["Authorization:<masked>"]
    assert got["destination"]["credentials"]["signing_secret"] == "<masked>"
    assert got["destination"]["format"] == "Json"
    assert got["status"]["id"] in (1, 4)
    assert got["filters"] == []

    listed = (await api.client.get(BASE, headers=headers)).json()
    assert [s["id"] for s in listed] == [stream_id]

    paused = await api.client.patch(f"{BASE}/{stream_id}", json={"status": {"id": 2}}, headers=headers)
    assert paused.status_code == 202
    assert (await api.client.get(f"{BASE}/{stream_id}", headers=headers)).json()["status"] == {
        "id": 2, "description": "Paused"}

    # sending the masked values back keeps the stored ones
    patched = await api.client.patch(f"{BASE}/{stream_id}", headers=headers, json={
        "destination": got["destination"]})
    assert patched.status_code == 202, patched.text
    stored = (await api.services.streams.list(await _principal(api, 100)))[0]
    assert stored.credentials["headers"] == ["Authorization:Basic c2VjcmV0"]

    assert (await api.client.delete(f"{BASE}/{stream_id}", headers=headers)).status_code == 202
    assert (await api.client.get(f"{BASE}/{stream_id}", headers=headers)).status_code == 404


async def _principal(api: Api, org: int) -> Any:
    from cellstream.domain.principal import Principal

    return Principal(org, None, 1)


async def test_streams_are_per_organisation(api: Api, receiver: WebhookReceiver) -> None:
    mine, theirs = await api.bearer(100), await api.bearer(200)
    stream_id = await create(api, mine, webhook_stream(receiver.url))
    assert (await api.client.get(f"{BASE}/{stream_id}", headers=theirs)).status_code == 404
    assert (await api.client.get(BASE, headers=theirs)).json() == []
    assert (await api.client.delete(f"{BASE}/{stream_id}", headers=theirs)).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"data_stream_type": {"id": 2}, "destination": {"connection_type": "Carrier pigeon", "credentials": {}}},
     "destination.connection_type"),
    ({"data_stream_type": {"id": 2}, "destination": {"connection_type": "RestAPI", "credentials": {}}},
     "destination.credentials"),
    ({"data_stream_type": {"id": 2}, "destination": {"connection_type": "S3", "credentials": {
        "region": "eu-west-1", "bucket_name": "b-b-b", "role_arn": "arn:aws:iam::1:role/r",
        "flush_size": 5}}},
     "destination.credentials.flush_size"),
    ({"data_stream_type": {"id": 2}, "destination": {"connection_type": "RestAPI", "credentials": {
        "url": "http://example.com", "size": 0}}}, "destination.credentials.size"),
    ({"data_stream_type": {"id": 2}, "destination": {"connection_type": "RestAPI", "credentials": {
        "url": "ftp://example.com"}}}, "destination.credentials.url"),
    ({"data_stream_type": {"id": 9}, "destination": {"connection_type": "RestAPI", "credentials": {
        "url": "http://example.com"}}}, "data_stream_type.id"),
    ({"data_stream_type": {"id": 2}, "destination": {"connection_type": "EventHubs", "credentials": {
        "connection_string": "Endpoint=sb://x/"}}}, "destination.connection_type"),
    ({"data_stream_type": {"id": 2}, "destination": {"connection_type": "RestAPI", "credentials": {
        "url": "http://example.com"}}, "filters": [{"field": "event_type_id", "value": [999]}]},
     "filters.0.value"),
    ({"data_stream_type": {"id": 2}, "destination": {"connection_type": "RestAPI", "credentials": {
        "url": "http://example.com"}}, "filters": [{"or": [{"field": "colour", "value": "red"}]}]},
     "filters.0.or.0.field"),
    ({"data_stream_type": {"id": 1}, "destination": {"connection_type": "RestAPI", "credentials": {
        "url": "http://example.com"}}, "filters": [{"field": "alert", "value": True}]}, "filters"),
])
async def test_invalid_configuration_is_422_naming_the_field(api: Api, body: dict[str, Any],
                                                             field: str) -> None:
    headers = await api.bearer(100)
    response = await api.client.post(BASE, json=body, headers=headers)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["error_code"] == 422
    assert problem["error_token"]
    assert problem["message"]
    assert [e["field"] for e in problem["errors"]] == [field]
    assert (await api.client.get(BASE, headers=headers)).json() == []  # nothing was created


async def test_private_destinations_are_refused_unless_allowed(tmp_path: Path, clock: ManualClock) -> None:
    import httpx

    from cellstream.api.app import create_app

    strict = await open_test_services(settings_for(tmp_path), clock)
    try:
        transport = httpx.ASGITransport(app=create_app(strict))
        async with httpx.AsyncClient(transport=transport, base_url="http://cellstream.test") as client:
            api = Api(strict, client, clock)
            headers = await api.bearer(100)
            for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://[::1]/x",
                        "http://169.254.169.254/latest/meta-data", "http://localhost:8080/"):
                response = await client.post(BASE, json=webhook_stream(url), headers=headers)
                assert response.status_code == 422, (url, response.text)
                assert response.json()["errors"][0]["field"] == "destination.credentials.url"
                assert "CELLSTREAM_ALLOW_PRIVATE_DESTINATIONS" in response.json()["message"]
    finally:
        await strict.close()


async def test_lookups(api: Api) -> None:
    headers = await api.bearer(100)
    status = (await api.client.get(f"{BASE}/status", headers=headers)).json()
    assert status == [{"id": 1, "description": "Running"}, {"id": 2, "description": "Paused"},
                      {"id": 3, "description": "Error"}, {"id": 4, "description": "Pending"}]
    assert (await api.client.get(f"{BASE}/type", headers=headers)).json() == [
        {"id": 1, "description": "Usage"}, {"id": 2, "description": "Events"}]
    fields = (await api.client.get(f"{BASE}/filter_field_type", headers=headers)).json()
    assert [f["id"] for f in fields] == ["event_type_id", "alert"]
    types = {t["id"]: t["available"] for t in
             (await api.client.get(f"{BASE}/connection_type", headers=headers)).json()}
    assert types["RestAPI"]
    assert types["S3"]
    assert types["Mqtt"]
    assert not types["EventHubs"]


async def test_documented_lookups_match_the_fixtures(api: Api) -> None:
    fixtures = need_fixtures()
    headers = await api.bearer(100)
    for name, path in (("data-stream-status-lookup.json", "status"), ("data-stream-type-lookup.json", "type"),
                       ("data-stream-filter-field-type-lookup.json", "filter_field_type")):
        documented = json.loads((fixtures / name).read_text())
        assert (await api.client.get(f"{BASE}/{path}", headers=headers)).json() == documented, name


async def test_documented_create_bodies(api: Api) -> None:
    """Every documented create body is accepted, except the connection types this platform cannot offer
    (422 naming the connection type)."""
    fixtures = need_fixtures()
    headers = await api.bearer(100)
    for path in sorted(fixtures.glob("data-stream-create-*.json")):
        body = json.loads(path.read_text())
        kind = body["destination"]["connection_type"]
        if kind == "RestAPI":
            body["destination"]["credentials"]["url"] = "http://127.0.0.1:9/hook"
        response = await api.client.post(BASE, json=body, headers=headers)
        if kind in ("EventHubs", "PubSub"):
            assert response.status_code == 422, (path.name, response.text)
            assert response.json()["errors"][0]["field"] == "destination.connection_type"
        else:
            assert response.status_code == 201, (path.name, response.text)


async def test_events_flow_to_the_webhook_filtered_and_in_order(api: Api, receiver: WebhookReceiver) -> None:
    headers = await api.bearer(100)
    body = webhook_stream(receiver.url, size=10)
    either = [{"field": "alert", "value": True}, {"field": "severity", "value": "1"}]
    body["filters"] = [{"field": "event_type_id", "value": [1, 2]}, {"or": either}]
    await create(api, headers, body)
    docs = [event(n, 100, event_type={"id": 1 + n % 3}, alert=n % 2 == 0,
                  event_severity={"id": 0}) for n in range(1, 61)]
    assert (await api.ingest(docs)).status_code == 201
    wanted = [d["id"] for d in docs if d["event_type"]["id"] in (1, 2) and d["alert"]]
    got = await receiver.wait_for(len(wanted))
    assert [r["id"] for r in got] == wanted
    assert all(len(json.loads(b)) <= 10 for _, b in receiver.requests)


async def test_stats_replay_test_and_secret_rotation(api: Api, receiver: WebhookReceiver) -> None:
    headers = await api.bearer(100)
    stream_id = await create(api, headers, webhook_stream(receiver.url, size=5))
    assert (await api.ingest([event(n, 100) for n in range(1, 13)])).status_code == 201
    await receiver.wait_for(12)
    stats = (await api.client.get(f"{BASE}/{stream_id}/stats", headers=headers)).json()
    assert stats["delivered"] == 12
    assert stats["lag_events"] == 0
    assert stats["last_error"] is None

    replay = await api.client.post(f"{BASE}/{stream_id}/replay", json={"from": "2026-01-01T00:00:00Z"},
                                   headers=headers)
    assert replay.status_code == 202, replay.text
    assert [r["id"] for r in await receiver.wait_for(24)] == list(range(1, 13)) * 2
    too_old = await api.client.post(f"{BASE}/{stream_id}/replay", json={"from": "2025-01-01T00:00:00Z"},
                                    headers=headers)
    assert too_old.status_code == 422
    assert too_old.json()["errors"][0]["field"] == "from"

    tested = (await api.client.post(f"{BASE}/{stream_id}/test", headers=headers)).json()
    assert tested["delivered"] is True
    assert len(await receiver.wait_for(25)) == 25  # the sample: one of the organisation's events

    rotated = (await api.client.post(f"{BASE}/{stream_id}/rotate_secret", headers=headers)).json()
    assert rotated["signing_secret"].startswith("whsec_")
    secrets = (await api.client.get(f"{BASE}/{stream_id}/signing_secret", headers=headers)).json()
    assert secrets["signing_secret"] == rotated["signing_secret"]
    assert [p["signing_secret"] for p in secrets["previous"]] == [SECRET]
    # the receiver knows only the old secret: requests still verify, signed with both
    assert (await api.ingest([event(100, 100)])).status_code == 201
    got = await receiver.wait_for(26)
    assert got[-1]["id"] == 100
    assert len(receiver.requests[-1][0]["webhook-signature"].split(" ")) == 2


async def test_a_failing_receiver_is_reported_and_restart_retries(api: Api,
                                                                  receiver: WebhookReceiver) -> None:
    headers = await api.bearer(100)
    stream_id = await create(api, headers, webhook_stream(receiver.url, size=5))
    receiver.answers = [404]  # permanent: the stream goes to Error at once
    assert (await api.ingest([event(1, 100)])).status_code == 201
    for _ in range(200):
        stats = (await api.client.get(f"{BASE}/{stream_id}/stats", headers=headers)).json()
        if stats["status"]["id"] == 3:
            break
        import asyncio

        await asyncio.sleep(0.01)
    assert stats["status"] == {"id": 3, "description": "Error"}
    assert stats["last_error"]["status"] == 404
    assert "404" in stats["last_error"]["message"]
    assert (await api.client.post(f"{BASE}/{stream_id}/restart", headers=headers)).status_code == 202
    assert [r["id"] for r in await receiver.wait_for(1)] == [1]
    paused = await api.client.patch(f"{BASE}/{stream_id}", json={"status": {"id": 2}}, headers=headers)
    assert paused.status_code == 202
    assert (await api.client.post(f"{BASE}/{stream_id}/restart", headers=headers)).status_code == 409
