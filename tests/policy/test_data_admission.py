"""Admitting data sessions: every refusal stores the documented rejected Create PDP Context event (Policy
Control, Warn, alert, no detail); an admission stores nothing."""

from __future__ import annotations

import pytest

from cellstream import policy
from cellstream.domain import endpoints, sims
from cellstream.domain.endpoint_model import DISABLED
from cellstream.domain.endpoints import EndpointChanges
from cellstream.domain.quotas import THROTTLE
from cellstream.domain.subscriber import ACCEPTED, Verdict
from tests.policy.world import ACME, MB, World, assert_like

REJECTED = "PDP Context Request rejected, because "


def admit(world: World, sim: sims.Sim) -> object:
    return world.policy(sim, lambda tx, sub: policy.admit_data_session(tx, sub, world.now))


def assert_rejected(event: dict[str, object], because: str) -> None:
    assert event["description"] == REJECTED + because
    assert event["event_type"] == {"id": 3, "description": "Create PDP Context"}
    assert event["event_source"] == {"id": 1, "description": "Policy Control"}
    assert event["event_severity"] == {"id": 1, "description": "Warn"}
    assert event["alert"] is True
    assert "detail" not in event
    assert event["organisation"] == {"id": 1, "name": "Acme"}


async def test_an_activated_sim_in_an_enabled_endpoint_is_admitted_and_nothing_is_stored() -> None:
    world = World()
    sim, _ = await world.device()
    assert await admit(world, sim) == ACCEPTED
    assert await world.new_events() == []


async def test_a_factory_test_sim_is_admitted() -> None:
    world = World()
    sim, _ = await world.device(sim_status=sims.FACTORY_TEST)
    assert await admit(world, sim) == ACCEPTED
    assert await world.new_events() == []


async def test_a_sim_that_is_not_activated_is_rejected() -> None:
    world = World()
    sim, endpoint = await world.device()
    await world.tx(lambda tx: sims.change_status(tx, ACME, sim.id, sims.SUSPENDED))
    await world.mark()
    assert await admit(world, sim) == Verdict(False, "SIM is not activated")
    [event] = await world.new_events()
    assert_rejected(event, "SIM is not activated.")
    assert event["endpoint"]["id"] == endpoint.id  # type: ignore[index]
    assert event["sim"]["id"] == sim.id  # type: ignore[index]
    assert event["imsi"]["imsi"] == sim.imsi  # type: ignore[index]
    assert_like(event, "event-3-create-pdp-context-5.json")


async def test_a_sim_in_no_endpoint_is_rejected_without_an_endpoint_object() -> None:
    world = World()
    [sim] = await world.register_sims()
    await world.mark()
    assert await admit(world, sim) == Verdict(False, "SIM is not assigned to an endpoint")
    [event] = await world.new_events()
    assert_rejected(event, "SIM is not assigned to an endpoint.")
    assert "endpoint" not in event
    assert event["sim"]["id"] == sim.id  # type: ignore[index]


async def test_a_disabled_endpoint_is_rejected() -> None:
    world = World()
    sim, endpoint = await world.device(endpoint_status=DISABLED)
    assert await admit(world, sim) == Verdict(False, "endpoint is disabled")
    [event] = await world.new_events()
    assert_rejected(event, "endpoint is disabled.")
    # Enabled again: admitted.
    await world.tx(lambda tx: endpoints.update_endpoint(tx, ACME, endpoint.id, EndpointChanges(status_id=0)))
    await world.mark()
    assert await admit(world, sim) == ACCEPTED
    assert await world.new_events() == []


async def test_data_service_off_in_the_service_profile_is_rejected() -> None:
    world = World()
    sim, _ = await world.device(data_service=False)
    assert await admit(world, sim) == Verdict(False, "data service disabled in service profile")
    [event] = await world.new_events()
    assert_rejected(event, "data service disabled in service profile.")
    assert_like(event, "event-3-create-pdp-context-2.json")


async def test_quota_management_without_a_quota_is_rejected_and_a_new_quota_admits() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    assert await admit(world, sim) == Verdict(False, "endpoint has no quota")
    [event] = await world.new_events()
    assert_rejected(event, "endpoint has no quota.")
    assert_like(event, "event-3-create-pdp-context-3.json")
    await world.quota(endpoint.id)
    assert await admit(world, sim) == ACCEPTED
    assert await world.new_events() == []


async def test_without_quota_management_a_quota_is_not_needed() -> None:
    world = World()
    sim, _ = await world.device(apply_data_quota=False)
    assert await admit(world, sim) == ACCEPTED


async def test_an_exhausted_quota_with_block_action_is_rejected_until_a_new_quota() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0)
    used = await world.policy(sim, lambda tx, sub: policy.charge_data(
        tx, sub, rx_bytes=MB, tx_bytes=0, cost=0.0, ts_ms=world.now))
    assert used == Verdict(False, "quota exhausted")
    await world.mark()
    expected = "quota volume of endpoint is exhausted and defined action is to block data traffic"
    assert await admit(world, sim) == Verdict(False, expected)
    [event] = await world.new_events()
    assert_rejected(event, expected + ".")
    assert_like(event, "event-3-create-pdp-context-4.json")
    await world.quota(endpoint.id, volume=5.0)  # a new assignment lifts the block
    assert await admit(world, sim) == ACCEPTED
    assert await world.new_events() == []


async def test_an_exhausted_quota_with_throttle_action_admits_throttled() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0, action=THROTTLE, peak=256_000)
    await world.policy(sim, lambda tx, sub: policy.charge_data(tx, sub, rx_bytes=MB, tx_bytes=0, cost=0.0,
                                                               ts_ms=world.now))
    await world.mark()
    assert await admit(world, sim) == Verdict(True, max_bytes_per_s=256_000)
    assert await world.new_events() == []


@pytest.mark.parametrize("first", ["sim", "endpoint", "service"])
async def test_the_checks_run_in_the_documented_order(first: str) -> None:
    """SIM status, then the endpoint, then the service profile, then quotas: the first failing check is
    the one reported, with one event."""
    world = World()
    sim, _ = await world.device(data_service=False, apply_data_quota=True,
                                endpoint_status=0 if first == "service" else DISABLED)
    if first == "sim":
        await world.tx(lambda tx: sims.change_status(tx, ACME, sim.id, sims.SUSPENDED))
        await world.mark()
    verdict = await admit(world, sim)
    assert isinstance(verdict, Verdict)
    expected = {"sim": "SIM is not activated", "endpoint": "endpoint is disabled",
                "service": "data service disabled in service profile"}[first]
    assert verdict.reason == expected
    assert [e["description"] for e in await world.new_events()] == [REJECTED + expected + "."]
