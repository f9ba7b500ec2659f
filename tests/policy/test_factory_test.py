"""Factory Test: 100 KB of data or the 10th SMS activates the SIM, with one Policy Control event 8 carrying
the documented transition — and not the API's own status-change event."""

from __future__ import annotations

from typing import Any

from cellstream import policy
from cellstream.domain import sims
from cellstream.domain.sims import Sim
from cellstream.domain.subscriber import ACCEPTED
from cellstream.policy.records import FactoryTestUsage
from tests.policy.world import World, assert_like

TRANSITION = {"transition": {"sim": {"status": {"from": {"id": 4, "description": "FACTORY TEST"},
                                                "to": {"id": 1, "description": "ACTIVATED"}}},
                             "reason": "SIM reached factory test volume."}}


def charge(world: World, sim: Sim, octets: int) -> object:
    return world.policy(sim, lambda tx, sub: policy.charge_data(tx, sub, rx_bytes=octets // 2,
                                                               tx_bytes=octets - octets // 2, cost=0.0,
                                                               ts_ms=world.now))


def sms(world: World, sim: Sim, direction: str = "MO") -> object:
    return world.policy(sim, lambda tx, sub: policy.charge_sms(tx, sub, direction=direction, cost=0.0,
                                                              ts_ms=world.now))


def assert_activation(event: dict[str, Any], sim: Sim) -> None:
    assert event["description"] == "SIM activated after factory test volume reached."
    assert event["event_type"] == {"id": 8, "description": "SIM activation"}
    assert event["event_source"] == {"id": 1, "description": "Policy Control"}
    assert event["event_severity"] == {"id": 0, "description": "Info"}
    assert event["alert"] is False
    assert event["detail"] == TRANSITION
    assert event["sim"]["id"] == sim.id
    assert "user" not in event
    assert_like(event, "event-8-sim-activation-2.json")


async def test_100_kb_of_data_activate_a_factory_test_sim() -> None:
    world = World()
    sim, _ = await world.device(sim_status=sims.FACTORY_TEST)
    assert await charge(world, sim, 60_000) == ACCEPTED
    assert await world.new_events() == []
    counted = await world.get(FactoryTestUsage, sim.id)
    assert counted == FactoryTestUsage(id=sim.id, org_id=1, data_bytes=60_000)
    assert await charge(world, sim, 40_000) == ACCEPTED
    [event] = await world.new_events()
    assert_activation(event, sim)
    stored = await world.get(Sim, sim.id)
    assert stored is not None
    assert stored.status_id == sims.ACTIVATED
    assert stored.activation_ms == world.now
    assert await world.get(FactoryTestUsage, sim.id) is None
    assert await charge(world, sim, 500_000) == ACCEPTED  # activated once only
    assert await world.new_events() == []


async def test_the_10th_sms_activates_a_factory_test_sim() -> None:
    world = World()
    sim, _ = await world.device(sim_status=sims.FACTORY_TEST)
    for n in range(9):
        assert await sms(world, sim, "MO" if n % 2 else "MT") == ACCEPTED
    assert await world.new_events() == []
    stored = await world.get(Sim, sim.id)
    assert stored is not None
    assert stored.status_id == sims.FACTORY_TEST
    assert await sms(world, sim) == ACCEPTED
    [event] = await world.new_events()
    assert_activation(event, sim)
    stored = await world.get(Sim, sim.id)
    assert stored is not None
    assert stored.status_id == sims.ACTIVATED


async def test_data_and_sms_of_an_activated_sim_leave_no_factory_test_count() -> None:
    world = World()
    sim, _ = await world.device()
    await charge(world, sim, 200_000)
    await sms(world, sim)
    assert await world.get(FactoryTestUsage, sim.id) is None
    assert await world.new_events() == []
