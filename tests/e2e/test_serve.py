"""`cellstream serve` as a real process on a real port, driven over HTTP like a client would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CLI = Path(sys.executable).parent / "cellstream"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env, timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    env = dict(os.environ, CELLSTREAM_DATA_DIR=str(tmp_path / "var"), CELLSTREAM_RATE_LIMITS="off")
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([str(CLI), "serve", "--db", db, "--port", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("server did not start: " + (tmp_path / "serve.log").read_text()[-2000:])
        yield base, db, env
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def test_serve_ingest_and_query_over_http(server: tuple[str, str, dict[str, str]]) -> None:
    base, db, env = server
    app_token = cli("admin", "create-app-token", "--db", db, "--org", "12", env=env)
    service_token = cli("admin", "create-service-token", "--db", db, env=env)
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
