"""`cellstream serve` as a real process on a real port, driven over HTTP like a client would."""

from __future__ import annotations

import json

import httpx

from .conftest import Server


def test_serve_ingest_and_query_over_http(server: Server) -> None:
    base = server.base
    app_token = server.cli("admin", "create-app-token", "--org", "12")
    service_token = server.cli("admin", "create-service-token")
    health = httpx.get(f"{base}/healthz").json()
    assert health["status"] == "ok"

    lines = "\n".join(json.dumps({
        "timestamp": f"2026-01-0{day}T00:00:00Z", "event_type": {"id": 3}, "description": f"day {day}",
        "organisation": {"id": 12, "name": "Twelve"}, "endpoint": {"id": 4, "name": "Pump"},
    }) for day in range(1, 6))
    stored = httpx.post(f"{base}/internal/v1/events", content=lines,
                        headers={"Authorization": f"Bearer {service_token}",
                                 "Content-Type": "application/x-ndjson"})
    assert stored.status_code == 201, stored.text
    assert stored.json()["stored"] == 5

    auth = httpx.post(f"{base}/api/v1/authenticate", json={"application_token": app_token})
    assert auth.status_code == 200, auth.text
    headers = {"Authorization": f"Bearer {auth.json()['auth_token']}"}
    page = httpx.get(f"{base}/api/v1/endpoint/4/event", params={"per_page": 2, "sort": "-timestamp"},
                     headers=headers)
    assert page.status_code == 200
    assert [e["description"] for e in page.json()] == ["day 5", "day 4"]
    assert page.headers["X-Total-Count"] == "5"
    assert page.headers["X-Total-Pages"] == "3"
    assert httpx.get(f"{base}/api/v1/event", headers={"Authorization": "Bearer nope"}).status_code == 401
