"""Each template fires on what it measures, once, with the documented detail; windows survive a restart;
the evaluator's own events never feed it; one organisation's inputs never fire another's configuration."""

from __future__ import annotations

import asyncio

from cellstream.automations.custom.model import CustomCursor
from cellstream.clock import ManualClock
from tests.automations.custom.conftest import ADMIN_B, Rig

HOUR, MINUTE = 3_600_000, 60_000
GERMANY = {"id": 74, "name": "Germany"}
FRANCE = {"id": 73, "name": "France"}
ACCEPTED, REJECTED = 0, 1  # severity of a location update: Info accepted, Warn refused


async def test_no_data_session_fires_once_per_silence(rig: Rig, clock: ManualClock) -> None:
    config = await rig.deploy("no-data-session", hours=6)
    await rig.event(3)  # a session opens …
    clock.advance(HOUR)
    await rig.event(5)  # … and ends: the silence starts here
    await rig.evaluator.catch_up()
    clock.advance(6 * HOUR - 1)
    assert await rig.evaluator.sweep_once() == 0
    clock.advance(1)
    assert await rig.evaluator.sweep_once() == 1
    clock.advance(10 * HOUR)
    assert await rig.evaluator.sweep_once() == 0  # one event per silence
    [fired] = await rig.custom_events()
    assert fired["event_type"] == {"id": 1001, "description": "No data session"}
    assert fired["description"] == "No data session for 6 h"
    assert fired["organisation"]["id"] == 100
    assert fired["endpoint"]["id"] == 7
    assert fired["imsi"]["imsi"] == "901430000000007"
    assert fired["detail"]["custom_event"] == {"id": config, "name": "no-data-session check",
                                               "template": {"id": 1, "key": "no-data-session"}}
    assert fired["detail"]["hours"] == 6
    # a new session ends the silence; the next one is reported again
    await rig.event(3)
    await rig.event(5)
    await rig.evaluator.catch_up()
    clock.advance(6 * HOUR)
    assert await rig.evaluator.sweep_once() == 1


async def test_an_open_session_is_no_silence(rig: Rig, clock: ManualClock) -> None:
    await rig.deploy("no-data-session", hours=1)
    await rig.event(3)
    await rig.evaluator.catch_up()
    clock.advance(5 * HOUR)
    assert await rig.evaluator.sweep_once() == 0


async def test_failed_attaches_fire_above_the_count_within_the_window(rig: Rig, clock: ManualClock) -> None:
    config = await rig.deploy("failed-attaches", count=3, minutes=10)
    for _ in range(3):
        await rig.event(1, severity=REJECTED)
        clock.advance(MINUTE)
    await rig.event(1, severity=ACCEPTED)  # an accepted attach is no failure
    await rig.evaluator.catch_up()
    assert await rig.custom_events() == []
    clock.advance(20 * MINUTE)  # the first three fall out of the window
    for _ in range(3):
        await rig.event(2, severity=REJECTED, endpoint=None)  # no endpoint: counted per IMSI
    await rig.evaluator.catch_up()
    assert await rig.custom_events() == []
    await rig.event(2, severity=REJECTED, endpoint=None)
    await rig.evaluator.catch_up()
    [fired] = await rig.custom_events()
    assert fired["event_type"]["id"] == 1002
    assert fired["detail"]["custom_event"]["id"] == config
    assert fired["detail"]["failed_attaches"] == 4
    assert fired["description"] == "4 failed attaches within 10 min (more than 3)"
    assert fired["imsi"]["imsi"] == "901430000000007"


async def test_daily_data_usage_fires_once_per_endpoint_and_day(rig: Rig, clock: ManualClock) -> None:
    await rig.deploy("daily-data-usage", megabytes=10)
    await rig.usage(6)
    await rig.usage(4)  # exactly 10 MB: not above
    await rig.evaluator.catch_up()
    assert await rig.custom_events() == []
    await rig.usage(0.5)
    await rig.usage(30)
    await rig.evaluator.catch_up()
    [fired] = await rig.custom_events()
    assert fired["event_type"]["id"] == 1003
    assert fired["detail"]["usage_mb"] == 10.5
    assert fired["detail"]["date"] == "2026-01-01"
    assert fired["endpoint"]["id"] == 7
    assert fired["sim"]["id"] == 77
    clock.advance(24 * HOUR)  # a new UTC day counts from zero
    await rig.usage(11)
    await rig.evaluator.catch_up()
    assert [e["detail"]["date"] for e in await rig.custom_events()] == ["2026-01-01", "2026-01-02"]


async def test_geofence_fires_on_entering_a_country_outside_the_allow_list(rig: Rig) -> None:
    await rig.deploy("geofence", allowed_countries=["germany", "73"])  # a name and an id
    await rig.event(1, detail={"id": 1, "name": "Telekom", "country": GERMANY})
    await rig.event(2, detail={"id": 2, "name": "Orange", "country": FRANCE})
    await rig.evaluator.catch_up()
    assert await rig.custom_events() == []
    austria = {"id": 14, "name": "Austria"}
    await rig.event(1, detail={"id": 3, "name": "A1", "country": austria})
    await rig.event(2, detail={"id": 3, "name": "A1", "country": austria})  # still there: no new event
    await rig.evaluator.catch_up()
    [fired] = await rig.custom_events()
    assert fired["event_type"]["id"] == 1004
    assert fired["detail"]["country"] == austria
    assert fired["description"] == "Seen in Austria, outside the allowed countries"
    await rig.event(1, detail={"id": 1, "name": "Telekom", "country": GERMANY})
    await rig.event(1, detail={"id": 3, "name": "A1", "country": austria})  # left again
    await rig.evaluator.catch_up()
    assert len(await rig.custom_events()) == 2


async def test_flapping_counts_attach_detach_cycles(rig: Rig, clock: ManualClock) -> None:
    await rig.deploy("flapping", cycles=2, minutes=30)
    for attach, detach in ((1, 15), (2, 16)):
        await rig.event(attach)
        clock.advance(MINUTE)
        await rig.event(detach)
    await rig.event(15)  # a detach without an attach before it is no cycle
    await rig.evaluator.catch_up()
    assert await rig.custom_events() == []
    await rig.event(1)
    await rig.event(15)
    await rig.evaluator.catch_up()
    [fired] = await rig.custom_events()
    assert fired["event_type"]["id"] == 1005
    assert fired["detail"]["cycles"] == 3
    assert fired["description"] == "3 attach/detach cycles within 30 min (more than 2)"


async def test_windows_survive_a_restart(rig: Rig, clock: ManualClock) -> None:
    await rig.deploy("failed-attaches", count=2, minutes=10)
    await rig.deploy("no-data-session", hours=2)
    await rig.event(1, severity=REJECTED)
    await rig.event(1, severity=REJECTED)
    await rig.evaluator.catch_up()
    await rig.restart()
    await rig.event(1, severity=REJECTED)  # the third failure, counted in the window begun before
    await rig.evaluator.catch_up()
    assert [e["event_type"]["id"] for e in await rig.custom_events()] == [1002]
    await rig.restart()
    clock.advance(2 * HOUR)
    assert await rig.evaluator.sweep_once() == 1  # the silence began before both restarts
    await rig.restart()
    await rig.evaluator.catch_up()
    assert await rig.evaluator.sweep_once() == 0
    assert [e["event_type"]["id"] for e in await rig.custom_events()] == [1002, 1001]


async def test_a_restart_reads_nothing_twice(rig: Rig) -> None:
    await rig.deploy("failed-attaches", count=1, minutes=10)
    await rig.event(1, severity=REJECTED)
    await rig.event(1, severity=REJECTED)
    await rig.evaluator.catch_up()
    await rig.restart()
    await rig.evaluator.catch_up()
    assert len(await rig.custom_events()) == 1


async def test_other_organisations_input_costs_no_transaction_and_is_not_evaluated_twice(rig: Rig) -> None:
    await rig.deploy("failed-attaches", count=1, minutes=10)
    resources = rig.services.connectivity.resources
    stored = await resources.view(lambda tx: tx.get(CustomCursor, 1))
    for _ in range(3):
        await rig.event(1, severity=REJECTED, org=200)  # nothing is deployed for organisation 200
    await rig.evaluator.catch_up()
    assert await resources.view(lambda tx: tx.get(CustomCursor, 1)) == stored  # moved in memory only
    await rig.event(1, severity=REJECTED)
    await rig.event(1, severity=REJECTED)
    await rig.evaluator.catch_up()
    await rig.restart()  # reads organisation 200's rows again: still nothing for them
    await rig.evaluator.catch_up()
    assert len(await rig.custom_events()) == 1
    assert await rig.custom_events(org=200) == []


async def test_custom_events_do_not_feed_the_evaluator(rig: Rig, clock: ManualClock) -> None:
    # Any event naming an endpoint makes no-data-session watch it: were custom events input, the failed-
    # attach event below (it names endpoint 7) or a custom event of endpoint 9 would start a silence.
    await rig.deploy("no-data-session", hours=1)
    await rig.deploy("failed-attaches", count=1, minutes=10)
    await rig.event(1, severity=REJECTED, endpoint=None)
    await rig.event(1, severity=REJECTED, endpoint=None)
    await rig.evaluator.catch_up()
    [fired] = await rig.custom_events()
    assert fired["event_type"]["id"] == 1002
    await rig.event(1005, endpoint=9, severity=1, source=0)  # a custom type arriving from outside, too
    await rig.evaluator.catch_up()
    assert await rig.evaluator.step() is False  # everything, its own event included, was read
    clock.advance(2 * HOUR)
    assert await rig.evaluator.sweep_once() == 0
    assert len(await rig.custom_events()) == 2  # the one it fired and the one ingested; nothing more


async def test_organisations_are_isolated(rig: Rig) -> None:
    await rig.deploy("failed-attaches", count=1, minutes=10)
    mine = await rig.deploy("failed-attaches", org=ADMIN_B, count=1, minutes=10)
    for _ in range(3):
        await rig.event(1, org=100, severity=REJECTED)
    await rig.evaluator.catch_up()
    assert len(await rig.custom_events(100)) == 1
    assert await rig.custom_events(200) == []
    await rig.event(1, org=200, severity=REJECTED)
    await rig.event(1, org=200, severity=REJECTED)
    await rig.evaluator.catch_up()
    [fired] = await rig.custom_events(200)
    assert fired["detail"]["custom_event"]["id"] == mine
    assert fired["organisation"]["id"] == 200


async def test_inputs_before_deployment_do_not_count(rig: Rig, clock: ManualClock) -> None:
    await rig.event(1, severity=REJECTED)
    await rig.event(1, severity=REJECTED)
    clock.advance(1)
    await rig.deploy("failed-attaches", count=1, minutes=10)
    await rig.evaluator.catch_up()
    assert await rig.custom_events() == []


async def test_the_started_evaluator_follows_the_logs_by_itself(rig: Rig) -> None:
    await rig.deploy("failed-attaches", count=1, minutes=10)
    await rig.evaluator.start()
    await rig.event(1, severity=REJECTED)
    await rig.event(1, severity=REJECTED)
    for _ in range(200):
        if await rig.custom_events():
            break
        await asyncio.sleep(0.01)
    assert len(await rig.custom_events()) == 1
    await rig.evaluator.close()
