"""Quotas over time: expiry (60 for data, nothing for SMS) and the daily auto-refill at UTC midnight, by
the sweep or at the next use; both idempotent."""

from __future__ import annotations

from cellstream import policy
from cellstream.domain import quotas
from cellstream.domain.sims import Sim
from cellstream.domain.subscriber import ACCEPTED, Verdict
from cellstream.policy.records import QuotaRefills, WatchedOrganisation
from tests.policy.world import DAY_MS, HOUR_MS, MB, ORG_ID, START_MS, World, assert_like

JAN_2 = START_MS + DAY_MS


def admit(world: World, sim: Sim) -> object:
    return world.policy(sim, lambda tx, sub: policy.admit_data_session(tx, sub, world.now))


def charge(world: World, sim: Sim, octets: int) -> object:
    return world.policy(sim, lambda tx, sub: policy.charge_data(tx, sub, rx_bytes=octets, tx_bytes=0,
                                                               cost=0.0, ts_ms=world.now))


async def sweep(world: World, organisations: dict[int, str] | None = None) -> int:
    return await world.tx(lambda tx: policy.sweep(tx, tx.now_ms, organisations))


async def test_a_data_quota_expires_once_with_event_60() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, expiry_ms=world.now + HOUR_MS)
    assert await admit(world, sim) == ACCEPTED  # Policy Control now knows the organisation
    world.clock.advance(HOUR_MS - 1)
    assert await sweep(world) == 0
    world.clock.advance(1)
    assert await sweep(world) == 1
    [event] = await world.new_events()
    assert event["description"] == "Data quota expired."
    assert event["event_type"] == {"id": 60, "description": "Data quota expired"}
    assert event["event_source"] == {"id": 1, "description": "Policy Control"}
    assert event["event_severity"] == {"id": 1, "description": "Warn"}
    assert event["alert"] is True
    assert event["organisation"] == {"id": ORG_ID, "name": "Acme"}
    assert event["endpoint"]["id"] == endpoint.id
    assert event["sim"]["id"] == sim.id
    assert_like(event, "event-60-data-quota-expired-1.json")
    quota = await world.stored_quota(endpoint.id)
    assert quota is not None
    assert quota.status_id == quotas.EXPIRED
    assert quota.last_status_change_ms == world.now
    assert await sweep(world) == 0  # idempotent
    world.clock.advance(DAY_MS)
    assert await sweep(world) == 0
    assert await world.new_events() == []
    # An expired quota is no quota.
    assert await admit(world, sim) == Verdict(False, "endpoint has no quota")
    assert [e["event_type"]["id"] for e in await world.new_events()] == [3]


async def test_an_sms_quota_expires_without_an_event() -> None:
    world = World()
    sim, endpoint = await world.device(apply_sms_quota=True)
    await world.quota(endpoint.id, "sms", volume=5, threshold=50, expiry_ms=world.now + HOUR_MS)
    await world.policy(sim, lambda tx, sub: policy.admit_sms(tx, sub, world.now))
    world.clock.advance(HOUR_MS)
    assert await sweep(world) == 1
    assert await sweep(world) == 0
    assert await world.new_events() == []
    quota = await world.stored_quota(endpoint.id, "sms")
    assert quota is not None
    assert quota.status_id == quotas.EXPIRED
    assert await world.policy(sim, lambda tx, sub: policy.admit_sms(tx, sub, world.now)) == Verdict(
        False, "endpoint has no SMS quota")


async def test_expiry_applies_at_the_next_admission_even_before_a_sweep() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, expiry_ms=world.now + HOUR_MS)
    world.clock.advance(2 * HOUR_MS)
    assert await admit(world, sim) == Verdict(False, "endpoint has no quota")
    assert [e["event_type"]["id"] for e in await world.new_events()] == [60, 3]
    assert await sweep(world) == 0


async def test_the_sweep_visits_the_organisations_it_is_given() -> None:
    world = World()
    _, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, expiry_ms=world.now + HOUR_MS)
    world.clock.advance(HOUR_MS)
    assert await sweep(world) == 0  # no admission or charge yet: Policy Control has not met Acme
    assert await sweep(world, {ORG_ID: "Acme"}) == 1
    [event] = await world.new_events()
    assert event["organisation"] == {"id": ORG_ID, "name": "Acme"}


async def test_organisations_are_noted_with_their_names() -> None:
    world = World()
    sim, _ = await world.device()
    await world.tx(lambda tx: policy.set_monthly_cost_limit(tx, ORG_ID, 10.0))
    assert await world.get(WatchedOrganisation, ORG_ID) == WatchedOrganisation(id=ORG_ID, name=None)
    await admit(world, sim)
    assert await world.get(WatchedOrganisation, ORG_ID) == WatchedOrganisation(id=ORG_ID, name="Acme")
    await world.tx(lambda tx: policy.set_monthly_cost_limit(tx, ORG_ID, 20.0))  # keeps the name
    assert await world.get(WatchedOrganisation, ORG_ID) == WatchedOrganisation(id=ORG_ID, name="Acme")


async def test_an_auto_refill_quota_is_reset_at_each_utc_midnight_once() -> None:
    world = World()  # 2026-01-01T10:00Z
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0, threshold=80, auto_refill=True,
                      expiry_ms=START_MS + 10 * DAY_MS)
    assert await charge(world, sim, 500_000) == ACCEPTED
    assert [e["event_type"]["id"] for e in await world.new_events()] == [18]
    world.clock.set(JAN_2 - 1)
    assert await sweep(world) == 0  # assigned today: first refill at the next midnight
    world.clock.set(JAN_2)
    assert await sweep(world) == 1
    quota = await world.stored_quota(endpoint.id)
    assert quota is not None
    assert (quota.volume, quota.status_id, quota.threshold_reported) == (1.0, quotas.ACTIVE, False)
    assert await world.get(QuotaRefills, endpoint.id) == QuotaRefills(id=endpoint.id, org_id=ORG_ID,
                                                                      data_ms=JAN_2)
    assert await sweep(world) == 0  # idempotent
    world.clock.advance(HOUR_MS)
    await charge(world, sim, 300_000)
    assert [e["event_type"]["id"] for e in await world.new_events()] == [18]  # re-armed by the refill
    world.clock.advance(10 * HOUR_MS)
    assert await sweep(world) == 0  # no refill during the day
    quota = await world.stored_quota(endpoint.id)
    assert quota is not None
    assert quota.volume == 0.7
    world.clock.set(JAN_2 + DAY_MS + 5 * HOUR_MS)  # a late sweep refills once, dated at midnight
    assert await sweep(world) == 1
    assert await sweep(world) == 0
    marks = await world.get(QuotaRefills, endpoint.id)
    assert marks is not None
    assert marks.data_ms == JAN_2 + DAY_MS
    assert await world.new_events() == []  # refills store no event


async def test_an_exhausted_auto_refill_quota_is_usable_again_after_midnight() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0, threshold=None, auto_refill=True)
    assert await charge(world, sim, MB) == Verdict(False, "quota exhausted")
    await world.mark()
    world.clock.set(JAN_2 + 30_000)
    # No sweep ran: the admission refills first.
    assert await admit(world, sim) == ACCEPTED
    quota = await world.stored_quota(endpoint.id)
    assert quota is not None
    assert (quota.status_id, quota.volume, quota.last_status_change_ms) == (quotas.ACTIVE, 1.0, JAN_2)
    assert await sweep(world) == 0
    assert await world.new_events() == []


async def test_an_unused_auto_refill_quota_is_not_refilled_later_that_day() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0, auto_refill=True)
    world.clock.set(JAN_2)
    assert await sweep(world, {ORG_ID: "Acme"}) == 0  # still full: nothing changes, the day is marked
    world.clock.advance(HOUR_MS)
    await charge(world, sim, 400_000)
    world.clock.advance(HOUR_MS)
    assert await sweep(world) == 0
    quota = await world.stored_quota(endpoint.id)
    assert quota is not None
    assert quota.volume == 0.6


async def test_expiry_wins_over_the_refill() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0, threshold=None, auto_refill=True, expiry_ms=JAN_2)
    await charge(world, sim, 500_000)
    world.clock.set(JAN_2)
    assert await sweep(world) == 1
    quota = await world.stored_quota(endpoint.id)
    assert quota is not None
    assert (quota.status_id, quota.volume) == (quotas.EXPIRED, 0.5)
    assert [e["event_type"]["id"] for e in await world.new_events()] == [60]
