"""Charging data usage to a quota: the threshold event once per volume, used up → 19 and EXHAUSTED, then a
block (the session is refused) or a throttle (event 0, peak throughput); a new quota lifts both."""

from __future__ import annotations

from cellstream import policy
from cellstream.domain import quotas
from cellstream.domain.quotas import THROTTLE, delete_quota
from cellstream.domain.sims import Sim
from cellstream.domain.subscriber import ACCEPTED, Verdict
from tests.policy.world import ACME, MB, World, assert_like


def charge(world: World, sim: Sim, octets: int, *, rx_share: float = 1.0, cost: float = 0.0) -> object:
    rx = int(octets * rx_share)
    return world.policy(sim, lambda tx, sub: policy.charge_data(
        tx, sub, rx_bytes=rx, tx_bytes=octets - rx, cost=cost, ts_ms=world.now))


async def test_usage_is_deducted_in_decimal_megabytes_from_the_quota() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=10.0)
    assert await charge(world, sim, 1_500_000, rx_share=0.5) == ACCEPTED
    quota = await world.stored_quota(endpoint.id)
    assert quota is not None
    assert quota.volume == 8.5
    assert quota.status_id == quotas.ACTIVE
    assert await world.new_events() == []


async def test_the_threshold_event_fires_once_per_volume() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0, threshold=80)
    assert await charge(world, sim, 150_000) == ACCEPTED  # 0.85 MB left: above 80 %
    assert await world.new_events() == []
    assert await charge(world, sim, 100_000) == ACCEPTED  # 0.75 MB left: below 80 %
    [event] = await world.new_events()
    assert event["description"] == "Endpoint quota threshold reached, volume is below 80%."
    assert event["event_type"] == {"id": 18, "description": "Quota threshold reached"}
    assert event["event_source"] == {"id": 1, "description": "Policy Control"}
    assert event["event_severity"] == {"id": 1, "description": "Warn"}
    assert event["alert"] is True
    assert event["endpoint"]["id"] == endpoint.id
    assert event["detail"] == {"quota": {"threshold_percentage": 80, "threshold_volume": 0.8, "volume": 0.75}}
    assert_like(event, "event-18-quota-threshold-reached-1.json")
    assert await charge(world, sim, 100_000) == ACCEPTED  # further below: no second event
    assert await world.new_events() == []
    quota = await world.stored_quota(endpoint.id)
    assert quota is not None
    assert quota.threshold_reported
    assert quota.volume == 0.65
    # A new quota re-arms the threshold.
    await world.quota(endpoint.id, volume=1.0, threshold=50)
    await charge(world, sim, 600_000)
    assert [e["description"] for e in await world.new_events()] == [
        "Endpoint quota threshold reached, volume is below 50%."]


async def test_a_threshold_of_zero_never_fires() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0, threshold=None)
    await charge(world, sim, 999_999)
    assert await world.new_events() == []


async def test_used_up_with_block_stores_19_and_refuses_the_session() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0, threshold=80)
    await charge(world, sim, 500_000)
    await world.new_events()  # the threshold event
    assert await charge(world, sim, 500_000) == Verdict(False, "quota exhausted")
    [event] = await world.new_events()
    assert event["description"] == "Quota volume is completely used up and data access denied for endpoint."
    assert event["event_type"] == {"id": 19, "description": "Quota used up"}
    assert event["event_source"] == {"id": 1, "description": "Policy Control"}
    assert event["event_severity"] == {"id": 1, "description": "Warn"}
    assert event["alert"] is True
    assert event["detail"] == {"quota": {"threshold_percentage": 80, "threshold_volume": 0.8,
                                         "volume": "1.000000"}}
    assert_like(event, "event-19-quota-used-up-1.json")
    quota = await world.stored_quota(endpoint.id)
    assert quota is not None
    assert quota.status_id == quotas.EXHAUSTED
    assert quota.volume == 0
    assert quota.last_status_change_ms == world.now
    # Later reports of a session still open are refused with no new event.
    assert await charge(world, sim, 10) == Verdict(False, "quota exhausted")
    assert await world.new_events() == []


async def test_one_report_can_cross_the_threshold_and_use_the_quota_up() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0, threshold=80)
    assert await charge(world, sim, 1_001_200) == Verdict(False, "quota exhausted")
    threshold, used_up = await world.new_events()
    assert threshold["event_type"]["id"] == 18
    assert used_up["event_type"]["id"] == 19
    assert threshold["detail"]["quota"]["volume"] == -0.0012  # the overshoot, as in the documented example
    quota = await world.stored_quota(endpoint.id)
    assert quota is not None
    assert quota.volume == 0


async def test_used_up_with_throttle_stores_19_and_0_and_throttles() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0, threshold=None, action=THROTTLE, peak=64_000)
    assert await charge(world, sim, MB) == Verdict(True, max_bytes_per_s=64_000)
    used_up, generic = await world.new_events()
    assert used_up["event_type"]["id"] == 19
    assert generic["description"] == "Disconnecting data access for endpoint to apply throttling action."
    assert generic["event_type"] == {"id": 0, "description": "Generic"}
    assert generic["event_source"] == {"id": 1, "description": "Policy Control"}
    assert generic["event_severity"] == {"id": 1, "description": "Warn"}
    assert generic["alert"] is True
    assert "detail" not in generic
    assert_like(generic, "event-0-generic-1.json")
    # The throttled session goes on, throttled, with nothing more stored …
    assert await charge(world, sim, 5 * MB) == Verdict(True, max_bytes_per_s=64_000)
    assert await world.new_events() == []
    # … until a new quota is assigned: the next charge lifts the throttle.
    await world.quota(endpoint.id, volume=10.0)
    assert await charge(world, sim, MB) == ACCEPTED
    quota = await world.stored_quota(endpoint.id)
    assert quota is not None
    assert quota.volume == 9.0


async def test_the_default_peak_throughput_applies_when_none_was_given() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0, action=THROTTLE)
    assert await charge(world, sim, MB) == Verdict(True, max_bytes_per_s=quotas.DEFAULT_PEAK)


async def test_without_quota_management_nothing_is_deducted() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=False)
    await world.quota(endpoint.id, volume=1.0)
    assert await charge(world, sim, 5 * MB) == ACCEPTED
    quota = await world.stored_quota(endpoint.id)
    assert quota is not None
    assert quota.volume == 1.0
    assert await world.new_events() == []


async def test_a_quota_deleted_during_a_session_refuses_it_without_an_event() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    await world.quota(endpoint.id, volume=1.0)
    await world.tx(lambda tx: delete_quota(tx, ACME, "data", endpoint.id))
    await world.mark()
    assert await charge(world, sim, 1000) == Verdict(False, "endpoint has no quota")
    assert await world.new_events() == []


async def test_a_report_of_no_bytes_changes_nothing() -> None:
    world = World()
    sim, endpoint = await world.device(apply_data_quota=True)
    before = await world.quota(endpoint.id, volume=1.0)
    assert await charge(world, sim, 0) == ACCEPTED
    assert await world.stored_quota(endpoint.id) == before
    assert await world.new_events() == []
