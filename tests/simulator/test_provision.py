"""Provisioning: N SIMs in N endpoints named sim-device-NNNNN, reused by the next run."""

from __future__ import annotations

import pytest

from cellstream.domain.principal import Principal
from cellstream.domain.sims import ACTIVATED, SUSPENDED
from cellstream.errors import NotFound
from cellstream.services import Services
from cellstream.simulator.identities import imei
from cellstream.simulator.provision import InProcessPlatform, batch_code, ensure_fleet

from .conftest import ORG, of_type, simulate, stored

ADMIN = Principal(ORG, None, app_token_id=0)


def platform_of(services: Services, org_id: int = ORG) -> InProcessPlatform:
    return InProcessPlatform(services.connectivity, services.network, org_id)


async def test_a_fleet_is_made_once_and_reused(platform: Services) -> None:
    made = await ensure_fleet(platform_of(platform), 5, seed=3)
    assert [d.index for d in made] == [0, 1, 2, 3, 4]
    endpoints = {d.endpoint.id: d for d in await platform.connectivity.list_endpoints(ADMIN)}
    assert sorted(d.endpoint.name for d in endpoints.values()) == [f"sim-device-0000{i}" for i in range(1, 6)]
    for device in made:
        details = endpoints[device.endpoint_id]
        assert details.sim is not None
        assert details.sim.imsi == device.imsi
        assert details.sim.status_id == ACTIVATED
        assert details.endpoint.imei == imei(3, device.index)
    assert len(await ensure_fleet(platform_of(platform), 5, seed=3)) == 5  # same again: nothing new
    bigger = await ensure_fleet(platform_of(platform), 7, seed=3)  # two more, in a batch of their own
    assert bigger[:5] == made
    assert len(await platform.connectivity.list_endpoints(ADMIN)) == 7
    assert len(of_type(await stored(platform), 48)) == 2


async def test_a_taken_batch_code_moves_on_to_the_next(platform: Services) -> None:
    await platform.connectivity.provision_sims(count=1, bic=batch_code(ORG, 0, 0))
    made = await ensure_fleet(platform_of(platform), 2, seed=0)
    assert len(made) == 2


async def test_a_sim_left_suspended_is_activated_again(platform: Services) -> None:
    made = await ensure_fleet(platform_of(platform), 2, seed=0)
    await platform.connectivity.change_sim_status(ADMIN, made[1].sim_id, SUSPENDED)
    await ensure_fleet(platform_of(platform), 2, seed=0)
    assert (await platform.connectivity.get_sim(ADMIN, made[1].sim_id)).status_id == ACTIVATED


async def test_a_second_run_drives_the_same_devices(platform: Services) -> None:
    await simulate(platform, "normal-day", devices=4, duration_s=60)
    await simulate(platform, "normal-day", devices=4, duration_s=60)
    events = await stored(platform)
    assert len(of_type(events, 51)) == 4
    assert {e["endpoint"]["id"] for e in of_type(events, 1)} == {
        d.endpoint.id for d in await platform.connectivity.list_endpoints(ADMIN)}


async def test_an_unknown_organisation_is_an_error(platform: Services) -> None:
    with pytest.raises(NotFound, match="organisation 999 not found"):
        await simulate_in(platform, 999)


async def simulate_in(services: Services, org_id: int) -> None:
    from cellstream.simulator import Simulation

    await Simulation.in_process(services, org_id=org_id, devices=1, speed=None, duration_s=10).run()
