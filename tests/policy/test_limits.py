"""Monthly limits: the endpoint traffic limit (11) and the organisation cost limit (12), counted per UTC
calendar month, stored once per block, lifted by the next month or a higher limit."""

from __future__ import annotations

import pytest

from cellstream import policy
from cellstream.domain.sims import Sim
from cellstream.domain.subscriber import ACCEPTED, Verdict
from cellstream.errors import Unprocessable
from cellstream.policy.records import EndpointUsage, OrganisationLimits, OrganisationUsage, month_key
from tests.policy.world import MB, ORG_ID, START_MS, World, assert_like

TRAFFIC = "endpoint is blocked, traffic limit exceeded"
COST = "organisation is blocked, monthly cost limit exceeded"
FEB_1 = 1_769_904_000_000  # 2026-02-01T00:00:00Z


def charge(world: World, sim: Sim, octets: int, cost: float = 0.0) -> object:
    return world.policy(sim, lambda tx, sub: policy.charge_data(tx, sub, rx_bytes=octets, tx_bytes=0,
                                                               cost=cost, ts_ms=world.now))


def admit(world: World, sim: Sim) -> object:
    return world.policy(sim, lambda tx, sub: policy.admit_data_session(tx, sub, world.now))


def sms_admission(world: World, sim: Sim) -> object:
    return world.policy(sim, lambda tx, sub: policy.admit_sms(tx, sub, world.now))


def test_month_key_names_the_utc_calendar_month() -> None:
    assert month_key(START_MS) == "2026-01"
    assert month_key(FEB_1 - 1) == "2026-01"
    assert month_key(FEB_1) == "2026-02"
    assert month_key(1_795_000_000_000) == "2026-11"
    assert month_key(0) == "1970-01"


async def test_exceeding_the_traffic_limit_blocks_the_endpoint_until_next_month() -> None:
    world = World()
    sim, endpoint = await world.device(traffic_limit_mb=1.0)
    assert await charge(world, sim, 600_000) == ACCEPTED
    assert await charge(world, sim, 400_000) == ACCEPTED  # exactly at the limit: not exceeded
    assert await world.new_events() == []
    assert await charge(world, sim, 1) == Verdict(False, TRAFFIC)
    [event] = await world.new_events()
    assert event["description"] == "Blocking data access for endpoint, traffic limit exceeded."
    assert event["event_type"] == {"id": 11, "description": "Endpoint blocked"}
    assert event["event_source"] == {"id": 1, "description": "Policy Control"}
    assert event["event_severity"] == {"id": 1, "description": "Warn"}
    assert event["alert"] is True
    assert event["endpoint"]["id"] == endpoint.id
    assert_like(event, "event-11-endpoint-blocked-1.json")
    usage = await world.get(EndpointUsage, endpoint.id)
    assert usage == EndpointUsage(id=endpoint.id, org_id=ORG_ID, month="2026-01", data_mb=1.000001,
                                  blocked_month="2026-01")
    # Refused from now on, with a rejected 3 each time and no second 11.
    assert await charge(world, sim, 1000) == Verdict(False, TRAFFIC)
    assert await admit(world, sim) == Verdict(False, TRAFFIC)
    assert [e["description"] for e in await world.new_events()] == [
        f"PDP Context Request rejected, because {TRAFFIC}."]
    # A new month lifts the block.
    world.clock.set(FEB_1)
    assert await admit(world, sim) == ACCEPTED
    assert await charge(world, sim, 900_000) == ACCEPTED
    assert await world.new_events() == []
    usage = await world.get(EndpointUsage, endpoint.id)
    assert usage is not None
    assert (usage.month, usage.data_mb) == ("2026-02", 0.9)


async def test_the_traffic_limit_counts_per_endpoint() -> None:
    world = World()
    first, _ = await world.device(traffic_limit_mb=1.0)
    second, _ = await world.device(traffic_limit_mb=1.0)
    assert await charge(world, first, 800_000) == ACCEPTED
    assert await charge(world, second, 800_000) == ACCEPTED
    assert await world.new_events() == []


async def test_raising_the_limit_lifts_the_block_and_lowering_it_blocks_at_the_next_admission() -> None:
    world = World()
    sim, _ = await world.device(traffic_limit_mb=1.0)
    await charge(world, sim, 1_500_000)
    await world.service(traffic_limit_mb=2.0)
    assert await admit(world, sim) == ACCEPTED
    assert await world.new_events() == []
    await world.service(traffic_limit_mb=1.2)  # below the 1.5 MB already used: blocked again, 11 again
    assert await admit(world, sim) == Verdict(False, TRAFFIC)
    assert [e["event_type"]["id"] for e in await world.new_events()] == [11, 3]
    await world.service(traffic_limit_mb=None)  # no limit at all
    assert await admit(world, sim) == ACCEPTED


async def test_usage_reported_late_for_a_closed_month_does_not_count_into_the_new_one() -> None:
    world = World()
    sim, endpoint = await world.device(traffic_limit_mb=1.0)
    world.clock.set(FEB_1 + 1000)
    await charge(world, sim, 500_000)
    late = await world.policy(sim, lambda tx, sub: policy.charge_data(
        tx, sub, rx_bytes=900_000, tx_bytes=0, cost=0.0, ts_ms=FEB_1 - 1000))
    assert late == ACCEPTED
    usage = await world.get(EndpointUsage, endpoint.id)
    assert usage is not None
    assert (usage.month, usage.data_mb) == ("2026-02", 0.5)


async def test_exceeding_the_monthly_cost_limit_blocks_the_organisation() -> None:
    world = World()
    sim, _ = await world.device()
    other, _ = await world.device()
    limits = await world.tx(lambda tx: policy.set_monthly_cost_limit(tx, ORG_ID, 0.05))
    assert limits == OrganisationLimits(id=ORG_ID, org_id=ORG_ID, monthly_cost_limit=0.05)
    assert await charge(world, sim, MB, cost=0.03) == ACCEPTED
    assert await charge(world, other, MB, cost=0.02) == ACCEPTED  # 0.05: at the limit, not over
    assert await world.new_events() == []
    assert await charge(world, other, MB, cost=0.01) == Verdict(False, COST)
    [event] = await world.new_events()
    assert event["description"] == "Blocking services for organisation, because monthly cost limit exceeded."
    assert event["event_type"] == {"id": 12, "description": "Organisation blocked"}
    assert event["event_source"] == {"id": 1, "description": "Policy Control"}
    assert event["event_severity"] == {"id": 1, "description": "Warn"}
    assert event["alert"] is True
    assert event["organisation"] == {"id": ORG_ID, "name": "Acme"}
    assert not {"endpoint", "sim", "imsi", "user", "detail"} & set(event)
    assert_like(event, "event-12-organisation-blocked-2.json")
    # Every endpoint of the organisation is refused data and SMS; 12 is not stored again.
    assert await admit(world, sim) == Verdict(False, COST)
    assert [e["description"] for e in await world.new_events()] == [
        f"PDP Context Request rejected, because {COST}."]
    assert await sms_admission(world, sim) == Verdict(False, COST)
    assert await world.new_events() == []
    usage = await world.get(OrganisationUsage, ORG_ID)
    assert usage == OrganisationUsage(id=ORG_ID, org_id=ORG_ID, month="2026-01", cost=0.06,
                                      blocked_month="2026-01")
    # Next month, or a higher limit, lifts it.
    await world.tx(lambda tx: policy.set_monthly_cost_limit(tx, ORG_ID, 1.0))
    assert await admit(world, sim) == ACCEPTED
    await world.tx(lambda tx: policy.set_monthly_cost_limit(tx, ORG_ID, 0.01))
    assert await admit(world, sim) == Verdict(False, COST)
    assert [e["event_type"]["id"] for e in await world.new_events()] == [12, 3]
    world.clock.set(FEB_1)
    assert await admit(world, sim) == ACCEPTED
    await world.tx(lambda tx: policy.set_monthly_cost_limit(tx, ORG_ID, None))
    assert await charge(world, sim, MB, cost=100.0) == ACCEPTED


async def test_sms_cost_counts_towards_the_cost_limit() -> None:
    world = World()
    sim, _ = await world.device()
    await world.tx(lambda tx: policy.set_monthly_cost_limit(tx, ORG_ID, 0.1))
    for _ in range(2):
        assert await world.policy(sim, lambda tx, sub: policy.charge_sms(
            tx, sub, direction="MO", cost=0.05, ts_ms=world.now)) == ACCEPTED
    assert await world.new_events() == []
    await world.policy(sim, lambda tx, sub: policy.charge_sms(tx, sub, direction="MO", cost=0.05,
                                                              ts_ms=world.now))
    assert [e["event_type"]["id"] for e in await world.new_events()] == [12]
    assert await sms_admission(world, sim) == Verdict(False, COST)


@pytest.mark.parametrize("limit", [-0.01, float("nan")])
async def test_a_negative_cost_limit_is_refused(limit: float) -> None:
    world = World()
    with pytest.raises(Unprocessable):
        await world.tx(lambda tx: policy.set_monthly_cost_limit(tx, ORG_ID, limit))
    assert await world.get(OrganisationLimits, ORG_ID) is None
