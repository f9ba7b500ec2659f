"""The event lists' fast lane (cellstream.api.hot) answers exactly what the regular middleware stack
answers: the same app with the lane switched off is the reference."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cellstream.api.app import create_app
from cellstream.api.hot import CellstreamApp
from cellstream.clock import ManualClock
from cellstream.services import Services

from .conftest import Api, event, open_test_services, settings_for

ORG = 410


@pytest.fixture
def regular_app(services: Services) -> FastAPI:
    app = create_app(services)
    assert isinstance(app, CellstreamApp)
    app.lane = None
    return app


@pytest.fixture
async def regular(regular_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=regular_app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://cellstream.test") as client:
        yield client


@pytest.fixture
async def headers(api: Api) -> dict[str, str]:
    docs = [event(500 + i, ORG, event_type={"id": (1, 3)[i % 2]}, endpoint={"id": 7, "name": "pump"},
                  sim={"id": 9, "iccid": "8988303000000000001"}) for i in range(12)]
    assert (await api.ingest(docs)).status_code == 201
    return await api.bearer(ORG)


def same(fast: httpx.Response, slow: httpx.Response) -> None:
    assert fast.status_code == slow.status_code
    assert fast.headers.multi_items() == slow.headers.multi_items()
    assert fast.content == slow.content


@pytest.mark.parametrize("target", [
    "/api/v1/event",
    "/api/v1/event?per_page=5&q=type:3&sort=-id",
    "/api/v1/event?page=2&per_page=5",
    "/api/v1/event?page=99&per_page=5",
    "/api/v1/event?per_page=0",
    "/api/v1/event?page=x",
    "/api/v1/event?q=nonsense:1",
    "/api/v1/event?sort=nonsense",
    "/api/v1/event?cursor=garbage",
    "/api/v1/event?q=type%3A3%0A",
    "/api/v1/event/type",
    "/api/v1/endpoint/7/event?per_page=3",
    "/api/v1/endpoint/x/event",
    "/api/v1/sim/9/event",
    "/api/v1/user/my/event",
    "/api/v1/user/5/event",
    "/api/v1/event/",
])
async def test_the_lane_answers_like_the_middleware_stack(
        api: Api, regular: httpx.AsyncClient, headers: dict[str, str], target: str) -> None:
    for sent in (headers, {}, {"Authorization": "Bearer not-a-token"}):
        same(await api.client.get(target, headers=sent), await regular.get(target, headers=sent))


async def test_cursor_pages_and_head_requests_match(
        api: Api, regular: httpx.AsyncClient, headers: dict[str, str]) -> None:
    first = await api.client.get("/api/v1/event?per_page=5", headers=headers)
    cursor = first.headers["X-Next-Cursor"]
    for target in (f"/api/v1/event?per_page=5&cursor={cursor}", f"/api/v1/event?page=2&cursor={cursor}"):
        same(await api.client.get(target, headers=headers), await regular.get(target, headers=headers))
    same(await api.client.head("/api/v1/event", headers=headers),
         await regular.head("/api/v1/event", headers=headers))


async def test_an_unexpected_error_is_a_500_problem_and_raised_on(
        api: Api, regular: httpx.AsyncClient, headers: dict[str, str], services: Services, app: FastAPI,
        regular_app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(services.events, "page", broken)
    for client in (api.client, regular):
        with pytest.raises(RuntimeError, match="caught fire"):
            await client.get("/api/v1/event", headers=headers)
    answers = []
    for served in (app, regular_app):
        quiet = httpx.ASGITransport(app=served, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=quiet, base_url="http://cellstream.test") as client:
            answers.append(await client.get("/api/v1/event", headers=headers))
    same(*answers)
    assert answers[0].status_code == 500
    assert answers[0].json()["message"] == "internal error"


async def test_the_lane_serves_the_lists_and_the_openapi_still_describes_them(
        api: Api, app: FastAPI, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(app, CellstreamApp)
    assert app.lane is not None
    stack_used: list[str] = []
    real_call = CellstreamApp.__mro__[1].__call__

    async def counting(self: Any, scope: Any, receive: Any, send: Any) -> None:
        stack_used.append(scope["path"])
        await real_call(self, scope, receive, send)

    monkeypatch.setattr(CellstreamApp.__mro__[1], "__call__", counting)
    assert (await api.client.get("/api/v1/endpoint/7/event", headers=headers)).status_code == 200
    assert (await api.client.get("/api/v1/event", headers=headers)).status_code == 200
    assert stack_used == []
    spec = (await api.client.get("/openapi.json")).json()
    assert stack_used == ["/openapi.json"]
    described = {p["name"] for p in spec["paths"]["/api/v1/event"]["get"]["parameters"]}
    assert described == {"page", "per_page", "q", "sort", "cursor"}


async def test_repeated_pages_from_a_sqlite_store_follow_every_change(
        tmp_path: Path, clock: ManualClock) -> None:
    """SQLite hands back the very same cached page while nothing the list selects changed; the answer
    reused for it must change as soon as the page does."""
    settings = settings_for(tmp_path).model_copy(update={"database_url": f"sqlite:///{tmp_path / 'api.db'}"})
    services = await open_test_services(settings, clock)
    try:
        transport = httpx.ASGITransport(app=create_app(services), client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://cellstream.test") as client:
            api = Api(services, client, clock)
            typed = [event(700 + i, ORG, event_type={"id": 3}) for i in range(6)]
            assert (await api.ingest(typed)).is_success
            headers = await api.bearer(ORG)
            target = "/api/v1/event?per_page=4&q=type:3&sort=-id"
            first = await client.get(target, headers=headers)
            again = await client.get(target, headers=headers)
            assert (first.headers["X-Total-Count"], first.content) == ("6", again.content)
            assert again.headers == first.headers
            assert (await api.ingest([event(800, ORG, event_type={"id": 5})])).is_success
            unchanged = await client.get(target, headers=headers)
            assert (unchanged.headers, unchanged.content) == (first.headers, first.content)
            assert (await api.ingest([event(801, ORG, event_type={"id": 3})])).is_success
            newer = await client.get(target, headers=headers)
            assert newer.headers["X-Total-Count"] == "7"
            assert [e["id"] for e in newer.json()] == [801, 705, 704, 703]
            assert newer.headers["X-Next-Cursor"] != first.headers["X-Next-Cursor"]  # after 703, not 702
    finally:
        await services.close()
