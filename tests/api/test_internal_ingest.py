"""POST /internal/v1/events: trusted producers push batches; all or nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cellstream.api.app import create_app
from cellstream.clock import ManualClock

from .conftest import Api, event, open_test_services, settings_for

ORG = 700
PATH = "/internal/v1/events"


async def service_headers(api: Api) -> dict[str, str]:
    _, token = await api.services.auth.create_service_token("producer")
    return {"Authorization": f"Bearer {token}"}


async def stored_ids(api: Api) -> list[int]:
    return [e["id"] for e in await api.walk("/api/v1/event", await api.bearer(ORG))]


@pytest.mark.parametrize("form", ["array", "ndjson", "object"])
async def test_accepted_forms(api: Api, form: str) -> None:
    docs = [event(1, ORG), event(2, ORG)] if form != "object" else [event(1, ORG)]
    body = {
        "array": json.dumps(docs),
        "ndjson": "\n".join(json.dumps(d) for d in docs) + "\n",
        "object": json.dumps(docs[0], indent=2),
    }[form]
    response = await api.client.post(PATH, content=body.encode(), headers=await service_headers(api))
    assert response.status_code == 201, response.text
    assert response.json() == {
        "stored": len(docs),
        "duplicates": 0,
        "first_position": 1,
        "last_position": len(docs),
    }
    assert await stored_ids(api) == [d["id"] for d in docs]


async def test_events_without_id_or_timestamp_get_them(api: Api, clock: ManualClock) -> None:
    doc = {"event_type": {"id": 42}, "organisation": {"id": ORG}, "endpoint": {"id": 3, "name": "x"}}
    response = await api.client.post(PATH, json=doc, headers=await service_headers(api))
    assert response.status_code == 201
    (stored,) = await api.walk("/api/v1/event", await api.bearer(ORG))
    assert stored["timestamp"] == "2026-01-01T00:00:00.000Z"
    assert stored["description"] == "Endpoint enabled"
    assert stored["id"] > 0


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Bearer " + "A" * 56])
async def test_a_service_token_is_required(api: Api, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await api.client.post(PATH, json=[event(1, ORG)], headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_organisation_tokens_are_not_service_tokens(api: Api) -> None:
    app_token = await api.app_token(ORG)
    auth = await api.bearer(ORG)
    for headers in ({"Authorization": f"Bearer {app_token}"}, auth):
        assert (await api.client.post(PATH, json=[event(1, ORG)], headers=headers)).status_code == 401


async def test_invalid_events_are_422_naming_each_and_nothing_is_stored(api: Api) -> None:
    docs = [
        event(1, ORG),
        event(2, ORG, event_type={"id": 9999}),
        event(3, ORG, alert="perhaps"),
        {"organisation": {"id": ORG}},
    ]
    response = await api.client.post(PATH, json=docs, headers=await service_headers(api))
    assert response.status_code == 422
    problem = response.json()
    assert problem["error_token"] == "UnprocessableEntity"
    assert [(e["where"], e["field"]) for e in problem["errors"]] == [
        ("body[1]", "event_type.id"),
        ("body[2]", "alert"),
        ("body[3]", "event_type"),
    ]
    assert await stored_ids(api) == []


async def test_ndjson_errors_name_the_line(api: Api) -> None:
    body = json.dumps(event(1, ORG)) + "\n\n" + json.dumps(event(2, ORG, timestamp="soon")) + "\n"
    response = await api.client.post(PATH, content=body.encode(), headers=await service_headers(api))
    assert response.status_code == 422
    assert [(e["where"], e["field"]) for e in response.json()["errors"]] == [("body:3", "timestamp")]
    broken = await api.client.post(PATH, content=b'{"id": 1}\n{oops\n', headers=await service_headers(api))
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["where"] == "body:2"
    assert await stored_ids(api) == []


@pytest.mark.parametrize("body", [b"", b"  \n\n", b"[]"])
async def test_a_batch_without_events_is_422(api: Api, body: bytes) -> None:
    response = await api.client.post(PATH, content=body, headers=await service_headers(api))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


async def test_a_conflicting_duplicate_fails_the_whole_batch(api: Api) -> None:
    headers = await service_headers(api)
    assert (await api.client.post(PATH, json=[event(1, ORG)], headers=headers)).status_code == 201
    clash = [event(2, ORG), event(1, ORG, description="changed")]
    response = await api.client.post(PATH, json=clash, headers=headers)
    assert response.status_code == 409
    assert response.json()["error_token"] == "Conflict"
    assert await stored_ids(api) == [1]
    same = await api.client.post(PATH, json=[event(1, ORG), event(2, ORG)], headers=headers)
    assert same.json()["stored"] == 1
    assert same.json()["duplicates"] == 1


@pytest.fixture
async def small(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Api]:
    services = await open_test_services(settings_for(tmp_path, ingest_max_body_bytes=2048), clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://t"
    ) as client:
        yield Api(services, client, clock)
    await services.close()


async def test_a_body_over_the_limit_is_413_by_content_length(small: Api) -> None:
    body = json.dumps([event(i, ORG) for i in range(20)]).encode()
    assert len(body) > 2048
    response = await small.client.post(PATH, content=body, headers=await service_headers(small))
    assert response.status_code == 413
    assert response.json()["error_token"] == "PayloadTooLarge"
    fits = json.dumps([event(1, ORG)]).encode()
    assert (
        await small.client.post(PATH, content=fits, headers=await service_headers(small))
    ).status_code == 201


async def test_a_chunked_body_over_the_limit_is_413_while_reading(small: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(20):
            yield (json.dumps(event(i, ORG)) + "\n").encode()

    response = await small.client.post(PATH, content=chunks(), headers=await service_headers(small))
    assert response.status_code == 413
    assert await stored_ids(small) == []


async def test_a_lying_content_length_is_400(api: Api) -> None:
    headers = {**await service_headers(api), "Content-Length": "ten"}
    request = api.client.build_request("POST", PATH, content=b"[]", headers=headers)
    assert (await api.client.send(request)).status_code == 400
