"""Running: pacing by --speed, cancelling a run that has no end (as `cellstream run` does on shutdown)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from cellstream.domain.principal import Principal
from cellstream.domain.sims import ACTIVATED
from cellstream.services import Services
from cellstream.simulator import Simulation

from .conftest import ORG, of_type, open_platform, stored

ADMIN = Principal(ORG, None, app_token_id=0)


async def test_speed_paces_simulated_time_against_real_time(tmp_path: Path) -> None:
    histories = []
    for speed in (None, 300.0):  # 60 simulated seconds: at once, then in 0.2 real seconds
        services = await open_platform(tmp_path / str(speed))
        try:
            began = time.monotonic()
            counters = await Simulation.in_process(services, org_id=ORG, devices=5, speed=speed, seed=3,
                                                   duration_s=60).run()
            took = time.monotonic() - began
            histories.append([{k: v for k, v in e.items() if k != "id"} for e in await stored(services)])
        finally:
            await services.close()
        assert counters.sim_ms == 60_000
    assert took >= 0.18  # the paced run kept to 300× real time
    assert histories[0] == histories[1]  # and did exactly what the unpaced one did


async def test_cancelling_an_endless_run_stops_it_and_undoes_the_scenario(platform: Services) -> None:
    simulation = Simulation.in_process(platform, org_id=ORG, devices=10, speed=None, seed=2,
                                       scenario="auth-storm")
    task = asyncio.create_task(simulation.run())
    for _ in range(1000):  # let it run ten simulated minutes
        if simulation.counters.sim_ms >= 600_000:
            break
        await asyncio.sleep(0.01)
    assert simulation.counters.sim_ms >= 600_000
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    events = await stored(platform)
    assert len(of_type(events, 9)) == 2  # two SIMs suspended for the storm …
    assert len(of_type(events, 8)) == 2  # … and activated again on the way out
    assert all(s.status_id == ACTIVATED for s in await platform.connectivity.list_sims(ADMIN))
    sent = simulation.counters.records
    await asyncio.sleep(0.05)
    assert simulation.counters.records == sent  # nothing runs on after the cancel
