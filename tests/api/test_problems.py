"""Error bodies everywhere have one shape; failures inside never leak out; /healthz; the OpenAPI text."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cellstream.api.app import create_app
from cellstream.errors import StoreCorrupt, StoreUnavailable
from cellstream.services import Services

from .conftest import Api


class FailingStore:
    """Delegates to the real store, except for the calls told to fail."""

    def __init__(self, inner: Any, error: Exception) -> None:
        self._inner = inner
        self._error = error

    async def count(self, query: Any) -> int:
        raise self._error

    async def page(self, query: Any, **kwargs: Any) -> Any:
        raise self._error

    async def health(self) -> dict[str, Any]:
        raise self._error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def failing_client(services: Services, error: Exception) -> httpx.AsyncClient:
    services.events = FailingStore(services.events, error)
    # raise_app_exceptions=False: Starlette re-raises after answering 500, as servers expect.
    transport = httpx.ASGITransport(app=create_app(services), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


@pytest.mark.parametrize(
    ("error", "status", "token"),
    [
        (RuntimeError("secret internals /var/db"), 500, "InternalError"),
        (StoreCorrupt("schema 7 expected /var/db"), 500, "StoreError"),
        (StoreUnavailable("database is locked at /var/db"), 503, "StoreError"),
    ],
)
async def test_failures_inside_answer_json_without_internals(
    api: Api, services: Services, error: Exception, status: int, token: str
) -> None:
    headers = await api.bearer(1)
    async with await failing_client(services, error) as client:
        response = await client.get("/api/v1/event", headers=headers)
    assert response.status_code == status
    body = response.json()
    assert body["error_code"] == status
    assert body["error_token"] == token
    assert "/var/db" not in response.text
    assert "Traceback" not in response.text
    assert ("Retry-After" in response.headers) == (status == 503)


async def test_healthz(api: Api, services: Services) -> None:
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "store": {"backend": "memory", "events": 0, "last_position": 0},
    }
    for error in (StoreUnavailable("gone"), RuntimeError("boom")):
        async with await failing_client(services, error) as client:
            down = await client.get("/healthz")
        assert down.status_code == 503
        assert down.json()["status"] == "unavailable"


async def test_unknown_paths_and_methods_answer_json(api: Api) -> None:
    missing = await api.client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error_code": 404, "error_token": "NotFound", "message": "Not Found"}
    wrong = await api.client.delete("/api/v1/event")
    assert wrong.status_code == 405
    assert wrong.json()["error_token"] == "MethodNotAllowed"
    assert "GET" in wrong.headers["Allow"]


def operation(app: FastAPI, path: str, method: str = "get") -> dict[str, Any]:
    return dict(app.openapi()["paths"][path][method])


def test_openapi_describes_the_hand_parsed_list_parameters(app: FastAPI, services: Services) -> None:
    spec = app.openapi()
    assert spec["info"] == {
        "title": "Cellstream",
        "version": "0.1.0",
        "description": spec["info"]["description"],
    }
    assert set(spec["components"]["securitySchemes"]) == {"AuthToken", "ServiceToken"}
    for path in (
        "/api/v1/event",
        "/api/v1/endpoint/{endpoint_id}/event",
        "/api/v1/sim/{sim_id}/event",
        "/api/v1/user/{user_id}/event",
    ):
        op = operation(app, path)
        params = {p["name"]: p for p in op["parameters"]}
        assert {"page", "per_page", "sort", "q", "cursor"} <= set(params)
        assert params["per_page"]["schema"]["maximum"] == services.settings.events_max_per_page
        assert op["security"] == [{"AuthToken": []}]
        assert {"200", "400", "401", "422"} <= set(op["responses"])
        assert "X-Next-Cursor" in op["responses"]["200"]["headers"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # our 400/422 bodies are Problems
    assert operation(app, "/api/v1/authenticate", "post").get("security") is None
