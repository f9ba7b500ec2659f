"""Short messages: the service profile and the SMS quota decide; refusals store no event (none is
documented for a refused SMS); the quota stores 20 once per volume and 21 when used up."""

from __future__ import annotations

from cellstream import policy
from cellstream.domain import quotas, sims
from cellstream.domain.endpoint_model import DISABLED
from cellstream.domain.quotas import THROTTLE
from cellstream.domain.sims import Sim
from cellstream.domain.subscriber import ACCEPTED, Verdict
from tests.policy.world import ACME, World, assert_like


def admit(world: World, sim: Sim) -> object:
    return world.policy(sim, lambda tx, sub: policy.admit_sms(tx, sub, world.now))


def charge(world: World, sim: Sim, direction: str = "MO") -> object:
    return world.policy(sim, lambda tx, sub: policy.charge_sms(tx, sub, direction=direction, cost=0.05,
                                                              ts_ms=world.now))


async def test_sms_is_admitted_and_charged_without_events_when_no_rule_applies() -> None:
    world = World()
    sim, _ = await world.device()
    assert await admit(world, sim) == ACCEPTED
    assert await charge(world, sim) == ACCEPTED
    assert await world.new_events() == []


async def test_refusals_store_nothing() -> None:
    world = World()
    off, _ = await world.device(sms_service=False)
    assert await admit(world, off) == Verdict(False, "SMS service disabled in service profile")
    disabled, _ = await world.device(endpoint_status=DISABLED)
    assert await admit(world, disabled) == Verdict(False, "endpoint is disabled")
    [loose] = await world.register_sims()
    await world.mark()
    assert await admit(world, loose) == Verdict(False, "SIM is not assigned to an endpoint")
    suspended, _ = await world.device()
    await world.tx(lambda tx: sims.change_status(tx, ACME, suspended.id, sims.SUSPENDED))
    await world.mark()
    assert await admit(world, suspended) == Verdict(False, "SIM is not activated")
    assert await world.new_events() == []


async def test_quota_management_needs_an_active_sms_quota() -> None:
    world = World()
    sim, endpoint = await world.device(apply_sms_quota=True)
    assert await admit(world, sim) == Verdict(False, "endpoint has no SMS quota")
    assert await world.new_events() == []
    await world.quota(endpoint.id, "sms", volume=3, threshold=50)
    assert await admit(world, sim) == ACCEPTED


async def test_the_sms_quota_stores_20_once_and_21_when_used_up() -> None:
    world = World()
    sim, endpoint = await world.device(apply_sms_quota=True)
    await world.quota(endpoint.id, "sms", volume=4, threshold=50, action=THROTTLE)  # throttle: no effect
    assert await charge(world, sim) == ACCEPTED  # 3 left, threshold 2
    assert await charge(world, sim, "MT") == ACCEPTED  # 2 left: not below
    assert await world.new_events() == []
    assert await charge(world, sim) == ACCEPTED  # 1 left: below 50 %
    [threshold] = await world.new_events()
    assert threshold["description"] == "SMS quota threshold reached, volume is below 50%."
    assert threshold["event_type"] == {"id": 20, "description": "SMS quota threshold reached"}
    assert threshold["event_source"] == {"id": 1, "description": "Policy Control"}
    assert threshold["event_severity"] == {"id": 1, "description": "Warn"}
    assert threshold["alert"] is True
    assert threshold["detail"] == {"quota": {"volume": 1, "threshold_percentage": 50, "threshold_volume": 2,
                                             "traffic_type": {"id": 6, "description": "SMS"}}}
    assert list(threshold["detail"]["quota"]) == ["volume", "threshold_percentage", "threshold_volume",
                                                  "traffic_type"]
    assert_like(threshold, "event-20-sms-quota-threshold-reached-1.json")
    assert await admit(world, sim) == ACCEPTED
    assert await charge(world, sim) == ACCEPTED  # the last one: delivered, then used up
    [used_up] = await world.new_events()
    assert used_up["description"] == ("SMS quota volume is completely used up and SMS access denied for "
                                      "endpoint.")
    assert used_up["event_type"] == {"id": 21, "description": "SMS quota used up"}
    assert used_up["alert"] is True
    assert used_up["detail"] == {"quota": {"volume": "4.000000", "threshold_percentage": 50,
                                           "threshold_volume": 2,
                                           "traffic_type": {"id": 6, "description": "SMS"}}}
    assert_like(used_up, "event-21-sms-quota-used-up-1.json")
    quota = await world.stored_quota(endpoint.id, "sms")
    assert quota is not None
    assert quota.status_id == quotas.EXHAUSTED
    assert quota.volume == 0
    # Exhausted: refused (throttling has no effect on SMS), silently; a new quota lifts it.
    assert await admit(world, sim) == Verdict(False, "SMS quota volume of endpoint is exhausted")
    assert await world.new_events() == []
    await world.quota(endpoint.id, "sms", volume=10, threshold=50)
    assert await admit(world, sim) == ACCEPTED


async def test_the_data_quota_does_not_count_sms() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True, apply_sms_quota=False)
    await world.quota(endpoint.id, "data", volume=1.0)
    await charge(world, sim)
    quota = await world.stored_quota(endpoint.id, "data")
    assert quota is not None
    assert quota.volume == 1.0
