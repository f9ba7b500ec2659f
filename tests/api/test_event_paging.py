"""Paging, the paging headers, Link, and the keyset cursor of the event lists."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import Api, event

ORG = 300
COUNT = 23


@pytest.fixture
async def headers(api: Api) -> dict[str, str]:
    docs = [
        event(100 + i, ORG, timestamp=f"2026-01-01T00:{i // 3:02d}:00.000Z", event_type={"id": (1, 3)[i % 2]})
        for i in range(COUNT)
    ]
    assert (await api.ingest(docs)).status_code == 201
    return await api.bearer(ORG)


def links(response: Any) -> dict[str, dict[str, list[str]]]:
    out = {}
    for url, rel in re.findall(r'<([^>]*)>; rel="([a-z]+)"', response.headers["Link"]):
        parts = urlsplit(url)
        assert parts.scheme == "http"
        assert parts.netloc == "cellstream.test"
        assert parts.path == "/api/v1/event"
        out[rel] = parse_qs(parts.query)
    return out


async def test_headers_of_a_middle_page(api: Api, headers: dict[str, str]) -> None:
    response = await api.get("/api/v1/event", headers, page=2, per_page=5, q="type:1|3", sort="-timestamp")
    assert response.status_code == 200
    assert len(response.json()) == 5
    assert response.headers["content-type"] == "application/json"
    assert {
        k: response.headers[k]
        for k in (
            "X-Count-Per-Page",
            "X-Current-Page",
            "X-Total-Pages",
            "X-Total-Count",
            "X-Filter",
            "X-Sort",
        )
    } == {
        "X-Count-Per-Page": "5",
        "X-Current-Page": "2",
        "X-Total-Pages": "5",
        "X-Total-Count": str(COUNT),
        "X-Filter": "type:1|3",
        "X-Sort": "-timestamp",
    }
    rels = links(response)
    assert list(rels) == ["first", "prev", "next", "last"]
    assert [rels[r]["page"] for r in ("first", "prev", "next", "last")] == [["1"], ["1"], ["3"], ["5"]]
    for params in rels.values():  # q, sort and per_page are carried over
        assert params["q"] == ["type:1|3"]
        assert params["sort"] == ["-timestamp"]
        assert params["per_page"] == ["5"]


async def test_first_and_last_pages(api: Api, headers: dict[str, str]) -> None:
    first = await api.get("/api/v1/event", headers, per_page=5)
    assert list(links(first)) == ["first", "next", "last"]
    assert "X-Next-Cursor" in first.headers
    last = await api.get("/api/v1/event", headers, per_page=5, page=5)
    assert [e["id"] for e in last.json()] == [120, 121, 122]  # the partial last page
    assert list(links(last)) == ["first", "prev", "last"]
    assert "X-Next-Cursor" not in last.headers


async def test_page_past_the_end_is_an_empty_list(api: Api, headers: dict[str, str]) -> None:
    response = await api.get("/api/v1/event", headers, per_page=5, page=6)
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == str(COUNT)
    assert response.headers["X-Current-Page"] == "6"
    assert links(response)["prev"]["page"] == ["5"]
    far = await api.get("/api/v1/event", headers, per_page=5, page=10**9)
    assert far.status_code == 200
    assert far.json() == []


async def test_an_empty_list_has_zero_pages(api: Api, headers: dict[str, str]) -> None:
    response = await api.get("/api/v1/event", headers, q="type:61")
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"
    assert response.headers["X-Total-Pages"] == "0"
    assert links(response)["last"]["page"] == ["1"]


@pytest.mark.parametrize("per_page", [1, 7, 22, 23, 1000])
async def test_walking_pages_yields_every_event_once(
    api: Api, headers: dict[str, str], per_page: int
) -> None:
    response = await api.get("/api/v1/event", headers, per_page=per_page)
    assert response.headers["X-Total-Pages"] == str(math.ceil(COUNT / per_page))
    rows = await api.walk("/api/v1/event", headers, per_page=per_page)
    assert [e["id"] for e in rows] == list(range(100, 100 + COUNT))


async def test_per_page_maximum_is_a_setting(api: Api, headers: dict[str, str]) -> None:
    top = api.services.settings.events_max_per_page
    assert (await api.get("/api/v1/event", headers, per_page=top)).status_code == 200
    response = await api.get("/api/v1/event", headers, per_page=top + 1)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "per_page"


async def cursor_walk(api: Api, headers: dict[str, str], per_page: int, **params: Any) -> list[int]:
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        response = await api.get("/api/v1/event", headers, per_page=per_page, cursor=cursor, **params)
        assert response.status_code == 200, response.text
        assert response.headers["X-Current-Page"] == "1"
        seen.extend(e["id"] for e in response.json())
        by_cursor, cursor = cursor is not None, response.headers.get("X-Next-Cursor")
        if cursor is None:
            return seen
        # From a cursor page, rel="next" continues by cursor; from page 1, by page number.
        assert links(response)["next"].get("cursor" if by_cursor else "page") == [
            cursor if by_cursor else "2"
        ]
    raise AssertionError("the cursor walk did not end")


@pytest.mark.parametrize("sort", [None, "-id", "timestamp", "-timestamp,-id", "type,-timestamp", "-alert"])
@pytest.mark.parametrize("per_page", [1, 4, 23])
async def test_cursor_walk_equals_page_walk(
    api: Api, headers: dict[str, str], sort: str | None, per_page: int
) -> None:
    by_page = [e["id"] for e in await api.walk("/api/v1/event", headers, per_page=per_page, sort=sort)]
    assert await cursor_walk(api, headers, per_page, sort=sort) == by_page


async def test_cursor_pages_link_to_the_next_cursor(api: Api, headers: dict[str, str]) -> None:
    first = await api.get("/api/v1/event", headers, per_page=10, q="type:1")
    second = await api.get(
        "/api/v1/event", headers, per_page=10, q="type:1", cursor=first.headers["X-Next-Cursor"]
    )
    assert [e["id"] for e in second.json()] == [120, 122]
    assert "X-Next-Cursor" not in second.headers
    assert "prev" not in links(second)
    assert second.headers["X-Total-Count"] == "12"


async def test_cursor_survives_new_events_at_the_end(api: Api, headers: dict[str, str]) -> None:
    first = await api.get("/api/v1/event", headers, per_page=20)
    await api.ingest([event(50 + i, ORG) for i in range(5)])  # lower ids: offset paging would shift
    rest = await api.get("/api/v1/event", headers, per_page=20, cursor=first.headers["X-Next-Cursor"])
    assert [e["id"] for e in rest.json()] == [120, 121, 122]


@pytest.mark.parametrize("other", [{"sort": "-id"}, {"q": "type:1"}, {"path": "/api/v1/endpoint/1/event"}])
async def test_a_cursor_from_another_query_is_a_400(
    api: Api, headers: dict[str, str], other: dict[str, str]
) -> None:
    cursor = (await api.get("/api/v1/event", headers, per_page=5)).headers["X-Next-Cursor"]
    path = other.pop("path", "/api/v1/event")
    response = await api.get(path, headers, per_page=5, cursor=cursor, **other)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"


async def test_a_cursor_from_another_organisation_is_a_400(api: Api, headers: dict[str, str]) -> None:
    cursor = (await api.get("/api/v1/event", headers, per_page=5)).headers["X-Next-Cursor"]
    response = await api.get("/api/v1/event", await api.bearer(ORG + 1), per_page=5, cursor=cursor)
    assert response.status_code == 400


async def test_cursor_with_a_page_other_than_1_is_a_400(api: Api, headers: dict[str, str]) -> None:
    cursor = (await api.get("/api/v1/event", headers, per_page=5)).headers["X-Next-Cursor"]
    assert (await api.get("/api/v1/event", headers, per_page=5, cursor=cursor, page=1)).status_code == 200
    response = await api.get("/api/v1/event", headers, per_page=5, cursor=cursor, page=2)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "page", "message": response.json()["errors"][0]["message"]}
    ]


async def test_x_filter_echo_survives_characters_headers_cannot_carry(
    api: Api, headers: dict[str, str]
) -> None:
    response = await api.get("/api/v1/event", headers, q="description:Grüße\nzwei")
    assert response.status_code == 200
    assert response.headers["X-Filter"] == "description:Gr%C3%BC%C3%9Fe%0Azwei"
