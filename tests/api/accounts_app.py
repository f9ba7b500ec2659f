"""Test wiring for the organisation and user routes until the composition root takes them over.

`open_account_services` is `open_test_services` with the memory account store given the event store its
changes append their events to (what `runtime.open_stores` is to build: `MemoryAccountStore(memory)`);
`account_app` is `create_app` plus the organisation and user routers (what `api.app.create_app` is to
include). Both do nothing more once the runtime and the app do it themselves.

Also: comparing a stored event with its documented fixture.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI

from cellstream.api.app import create_app
from cellstream.api.routes import organisation, users
from cellstream.clock import ManualClock
from cellstream.domain.auth import AuthService
from cellstream.services import Services
from cellstream.settings import Settings
from cellstream.store.memory import MemoryAccountStore, MemoryEventStore
from tests.conftest import need_fixtures

from .conftest import FAST_HASHER, SIGNING_KEY, open_test_services


async def open_account_services(settings: Settings, clock: ManualClock) -> Services:
    services = await open_test_services(settings, clock)
    if isinstance(services.accounts, MemoryAccountStore) and isinstance(services.events, MemoryEventStore):
        accounts = MemoryAccountStore(services.events)
        services.accounts = accounts
        services.auth = AuthService(accounts, services.ingestor, clock, settings, SIGNING_KEY,
                                    hasher=FAST_HASHER)
        services.connectivity.accounts = accounts
        services.network.accounts = accounts
    return services


def _paths(routes: Iterable[Any]) -> set[str]:
    """Every route path, including those of included routers (FastAPI keeps them as `_IncludedRouter`
    entries, each with its `original_router`)."""
    found: set[str] = set()
    for route in routes:
        if isinstance(getattr(route, "path", None), str):
            found.add(route.path)
        router = getattr(route, "original_router", None)
        if router is not None:
            found |= _paths(router.routes)
    return found


def account_app(services: Services) -> FastAPI:
    app = create_app(services)
    paths = _paths(app.routes)
    if "/api/v1/organisation/my" not in paths:
        app.include_router(organisation.router(services))
    if "/api/v1/user/{user_id}" not in paths:
        app.include_router(users.router(services))
    return app


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((need_fixtures() / name).read_text())
    return loaded


def shape(value: Any) -> Any:
    """The structure of a JSON value: object keys with their shapes, list item shapes, scalar types."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    if value is None:
        return "null"
    return type(value).__name__


def assert_like_fixture(doc: dict[str, Any], name: str, description: str, *,
                        extra_keys: frozenset[str] = frozenset()) -> None:
    """`doc` (an event as the Event API serves it) against the documented example `name`: the same type,
    source, severity and alert, the same top-level keys (plus `extra_keys`), the same `detail` shape,
    and a description matching the regular expression `description` (the fixture's too)."""
    documented = fixture(name)
    for key in ("event_type", "event_source", "event_severity", "alert"):
        assert doc[key] == documented[key], key
    assert set(doc) == set(documented) | extra_keys
    assert shape(doc.get("detail")) == shape(documented.get("detail"))
    assert re.fullmatch(description, documented["description"]), documented["description"]
    assert re.fullmatch(description, doc["description"]), doc["description"]
    for ref in ("organisation", "user"):
        if ref in doc and ref in documented:
            assert set(doc[ref]) == set(documented[ref]), ref
