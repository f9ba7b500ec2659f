"""The API under test: memory stores, a manual clock, cheap argon2, httpx talking ASGI in-process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from cellstream.api.app import create_app
from cellstream.clock import ManualClock
from cellstream.domain.auth import AuthService
from cellstream.domain.credentials import sha1_hex
from cellstream.runtime import open_services
from cellstream.services import Services
from cellstream.settings import Settings

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
SIGNING_KEY = "test-signing-key-" + "k" * 40  # HS256 wants at least 32 bytes


class Api:
    """An httpx client on the app plus the shortcuts tests keep needing."""

    def __init__(self, services: Services, client: httpx.AsyncClient, clock: ManualClock) -> None:
        self.services = services
        self.client = client
        self.clock = clock
        self._service_token = ""

    async def app_token(self, org_id: int, name: str | None = None, **kwargs: Any) -> str:
        """A fresh application token of `org_id` (the organisation is created when missing)."""
        await self.services.auth.ensure_organisation(org_id, name)
        _, token = await self.services.auth.create_application_token(org_id, **kwargs)
        return token

    async def bearer(self, org_id: int, name: str | None = None) -> dict[str, str]:
        """Authorization headers of an auth token for `org_id`, got through POST /api/v1/authenticate."""
        token = await self.app_token(org_id, name)
        response = await self.client.post("/api/v1/authenticate", json={"application_token": token})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['auth_token']}"}

    async def user_login(self, username: str, password: str) -> httpx.Response:
        return await self.client.post(
            "/api/v1/authenticate", json={"username": username, "password": sha1_hex(password)}
        )

    async def service_headers(self) -> dict[str, str]:
        if not self._service_token:
            _, self._service_token = await self.services.auth.create_service_token("tests")
        return {"Authorization": f"Bearer {self._service_token}"}

    async def ingest(self, docs: Sequence[dict[str, Any]] | bytes) -> httpx.Response:
        body = docs if isinstance(docs, bytes) else json.dumps(list(docs)).encode()
        headers = await self.service_headers()
        return await self.client.post("/internal/v1/events", content=body, headers=headers)

    async def signalling(self, records: Sequence[Any]) -> httpx.Response:
        """POST /internal/v1/signalling with records (cellstream.network.signalling structs)."""
        return await self.client.post("/internal/v1/signalling", content=msgspec.json.encode(list(records)),
                                      headers=await self.service_headers())

    async def get(self, path: str, headers: dict[str, str], **params: Any) -> httpx.Response:
        return await self.client.get(
            path, headers=headers, params={k: v for k, v in params.items() if v is not None}
        )

    async def walk(
        self, path: str, headers: dict[str, str], per_page: int = 100, **params: Any
    ) -> list[dict[str, Any]]:
        """Every page of a list, by page number."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await self.get(path, headers, page=page, per_page=per_page, **params)
            assert response.status_code == 200, response.text
            out.extend(response.json())
            if page >= int(response.headers["X-Total-Pages"]):
                return out
            page += 1


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(database_url="memory://", data_dir=tmp_path, jwt_secret=SIGNING_KEY, **overrides)


async def open_test_services(settings: Settings, clock: ManualClock) -> Services:
    services = await open_services(settings, clock)
    services.auth = AuthService(
        services.accounts, services.ingestor, clock, settings, SIGNING_KEY, hasher=FAST_HASHER
    )
    return services


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def services(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Services]:
    opened = await open_test_services(settings_for(tmp_path), clock)
    yield opened
    await opened.close()


@pytest.fixture
def app(services: Services) -> FastAPI:
    return create_app(services)


@pytest.fixture
async def api(services: Services, app: FastAPI, clock: ManualClock) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://cellstream.test") as client:
        yield Api(services, client, clock)


def event(event_id: int, org_id: int = 100, **fields: Any) -> dict[str, Any]:
    """A minimal valid event in emnify's input form; `fields` override or add keys."""
    doc: dict[str, Any] = {
        "id": event_id,
        "timestamp": "2026-01-01T00:00:00.000Z",
        "alert": False,
        "description": f"event {event_id}",
        "event_type": {"id": 1, "description": "Update location"},
        "event_source": {"id": 0, "description": "Network"},
        "event_severity": {"id": 0, "description": "Info"},
        "organisation": {"id": org_id, "name": f"Org {org_id}"},
    }
    doc.update(fields)
    return doc
