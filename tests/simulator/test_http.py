"""--target mode: a real server on a real port (uvicorn in this event loop), provisioned through the REST
API and POST /internal/v1/sim_batch, driven through POST /internal/v1/signalling by HttpSink."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from cellstream.api.app import create_app
from cellstream.api.routes import provisioning
from cellstream.domain.principal import Principal
from cellstream.network.signalling import UpdateLocation
from cellstream.services import Services
from cellstream.simulator import Simulation
from cellstream.simulator.provision_http import HttpPlatform
from cellstream.simulator.sink import HttpSink, SimulatorError

from .conftest import ORG, of_type, stored, types


def app_for(services: Services) -> FastAPI:
    app = create_app(services)
    if not any(getattr(route, "path", None) == "/internal/v1/sim_batch" for route in app.routes):
        app.include_router(provisioning.router(services))  # until create_app registers it
    return app


@dataclass
class Server:
    base: str
    service_token: str
    app_token: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def server(platform: Services) -> AsyncIterator[Server]:
    port = free_port()
    config = uvicorn.Config(app_for(platform), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", access_log=False)
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    for _ in range(200):
        if running.started:
            break
        await asyncio.sleep(0.02)
    _, service_token = await platform.auth.create_service_token("simulator tests")
    _, app_token = await platform.auth.create_application_token(ORG, "simulator tests")
    try:
        yield Server(f"http://127.0.0.1:{port}", service_token, app_token)
    finally:
        running.should_exit = True
        await task


async def test_a_fleet_over_http(platform: Services, server: Server) -> None:
    simulation = Simulation(
        sink=HttpSink(server.base, server.service_token),
        platform=HttpPlatform(server.base, ORG, service_token=server.service_token,
                              app_token=server.app_token),
        devices=3, scenario="quota-exhaustion", seed=5, speed=None, duration_s=180, batch_size=4,
        now_ms=platform.clock.now_ms)
    counters = await simulation.run()
    events = await stored(platform)
    seen = types(events)
    assert seen[(48, "Info")] == 1
    assert seen[(51, "Info")] == 3
    assert seen[(56, "Info")] == 3
    assert seen[(52, "Warn")] == 1
    assert seen[(53, "Warn")] == 1
    assert seen[(1, "Info")] >= 3
    assert seen[(3, "Info")] >= 1
    assert counters.records > 10
    assert counters.submits > 3
    assert sum(counters.accepted.values()) > 0
    endpoints = await platform.connectivity.list_endpoints(Principal(ORG, None, app_token_id=0))
    assert sorted(d.endpoint.name for d in endpoints) == ["sim-device-00001", "sim-device-00002",
                                                          "sim-device-00003"]
    assert {e["endpoint"]["id"] for e in of_type(events, 1)} == {d.endpoint.id for d in endpoints}


def over_http(server: Server, platform: Services, scenario: str, devices: int,
              org_id: int = ORG) -> Simulation:
    return Simulation(
        sink=HttpSink(server.base, server.service_token),
        platform=HttpPlatform(server.base, org_id, service_token=server.service_token,
                              app_token=server.app_token),
        devices=devices, scenario=scenario, seed=5, speed=None, duration_s=120, now_ms=platform.clock.now_ms)


async def test_auth_storm_over_http_suspends_blacklists_and_restores(platform: Services,
                                                                    server: Server) -> None:
    counters = await over_http(server, platform, "auth-storm", devices=5).run()
    events = await stored(platform)
    assert len(of_type(events, 9)) == 1  # PATCH /api/v1/sim/{id}
    assert len(of_type(events, 8)) == 1
    rejected = [e["description"] for e in events if e["event_severity"]["description"] == "Warn"
                and e["event_type"]["id"] == 1]
    assert any("suspended" in r for r in rejected)
    assert any("not supported for this IMSI" in r for r in rejected)  # PUT …/operator_blacklist/{id}
    assert counters.reasons["unknown IMSI"] > 0
    admin = Principal(ORG, None, app_token_id=0)
    for details in await platform.connectivity.list_endpoints(admin):  # DELETE …/operator_blacklist/{id}
        assert await platform.network.operator_blacklist(admin, details.endpoint.id) == []


async def test_a_token_of_another_organisation_is_refused(platform: Services, server: Server) -> None:
    await platform.auth.ensure_organisation(8, "Other Org")
    with pytest.raises(SimulatorError, match="belongs to organisation 7, not to organisation 8"):
        await over_http(server, platform, "normal-day", devices=1, org_id=8).run()


async def test_a_bad_service_token_stops_the_run(platform: Services, server: Server) -> None:
    sink = HttpSink(server.base, "not-a-token")
    try:
        with pytest.raises(SimulatorError, match="401"):
            await sink.submit([UpdateLocation(imsi="901430000000001", ts_ms=1, vlr="49", mcc="262",
                                              mnc="01")])
    finally:
        await sink.close()


async def test_the_sim_batch_route(platform: Services, server: Server) -> None:
    auth = {"Authorization": f"Bearer {server.service_token}"}
    async with httpx.AsyncClient(base_url=server.base) as client:
        made = await client.post("/internal/v1/sim_batch", headers=auth,
                                 json={"count": 2, "bic": "ROUTETEST01", "org_id": ORG})
        assert made.status_code == 201, made.text
        sims = made.json()["sim"]
        assert len(sims) == 2
        assert all(set(s) == {"id", "iccid", "imsi"} for s in sims)
        again = await client.post("/internal/v1/sim_batch", headers=auth,
                                  json={"count": 2, "bic": "ROUTETEST01", "org_id": ORG})
        assert again.status_code == 409
        bad = await client.post("/internal/v1/sim_batch", headers=auth, json={"count": 0, "bic": "x"})
        assert bad.status_code == 422
        nobody = await client.post("/internal/v1/sim_batch", headers=auth,
                                   json={"count": 1, "bic": "ROUTETEST02", "org_id": 4242})
        assert nobody.status_code == 404
        anonymous = await client.post("/internal/v1/sim_batch", json={"count": 1, "bic": "ROUTETEST03"})
        assert anonymous.status_code == 401
        user_token = await client.post("/internal/v1/sim_batch", json={"count": 1, "bic": "ROUTETEST03"},
                                       headers={"Authorization": f"Bearer {server.app_token}"})
        assert user_token.status_code == 401
