"""The automation engine with memory stores: what fires, in what order actions run, retries, the loop and
rate guards, durability of pending executions, and that a stuck action holds nothing else back.

The actions here are small recorders (the engine's collaborator); the real actions have their own tests
against real servers in tests/automations/actions/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from cellstream.automations.actions.base import ActionContext, ActionFailed
from cellstream.automations.engine import AutomationEngine
from cellstream.automations.model import FAILED, PENDING, SKIPPED, SUCCEEDED
from cellstream.automations.service import Automations
from cellstream.clock import ManualClock
from cellstream.domain.principal import Principal
from cellstream.events.codec import decode_event
from cellstream.services import Services
from tests.api.conftest import event

ADMIN = Principal(100, None, 1)


class Recorder:
    """An action that records each run; `script` lists outcomes to play first (an exception or None)."""

    type = "RECORD"
    description = "records the firing"
    configuration_properties = ("note",)
    required_event_output_parameters = ()

    def __init__(self, ident: str, script: list[ActionFailed | None] | None = None,
                 block: asyncio.Event | None = None) -> None:
        self.id = ident
        self.name = f"recorder {ident}"
        self.script = list(script or [])
        self.block = block
        self.runs: list[ActionContext] = []

    def check(self, properties: Mapping[str, list[str]], recipients: list[str]) -> None:
        return None

    async def run(self, context: ActionContext) -> str:
        self.runs.append(context)
        if self.block is not None:
            await self.block.wait()
        if self.script:
            failure = self.script.pop(0)
            if failure is not None:
                raise failure
        return f"recorded event {context.event.id}"


class Rig:
    def __init__(self, services: Services, clock: ManualClock, *recorders: Recorder,
                 max_runs: int = 60) -> None:
        self.services, self.clock = services, clock
        self.recorders = {r.id: r for r in recorders}

        async def sleep(seconds: float) -> None:  # injected: retries move the manual clock, not ours
            clock.advance(int(seconds * 1000))
            await asyncio.sleep(0)

        self.engine = AutomationEngine(services.events, services.connectivity.resources, services.notifier,
                                       clock, self.recorders, max_runs_per_endpoint_per_hour=max_runs,
                                       sleep=sleep)
        self.automations = Automations(services.connectivity.resources, self.engine)

    async def automation(self, type_id: int, *actions: str, targeting: list[dict[str, Any]] | None = None,
                         **props: Any) -> str:
        created = await self.automations.create(ADMIN, {
            "name": f"on {type_id}", "status": "ACTIVE",
            "actionable_event": {"system_event": {"id": str(type_id)}},
            "targeting_properties": targeting or [],
            "configured_actions": [{"action": {"id": a}, "properties": [
                {"property": k, "value": v} for k, v in props.items()]} for a in actions]})
        return created.uuid

    async def ingest(self, *docs: dict[str, Any]) -> None:
        await self.services.ingestor.ingest([decode_event(d) for d in docs])

    async def logs(self, uuid: str, number: int) -> list[tuple[str, str]]:
        return [(e.status, e.message) for e in await self.automations.logs(ADMIN, uuid, number)]


@pytest.fixture
async def rig(services: Services, clock: ManualClock) -> AsyncIterator[Rig]:
    await services.auth.ensure_organisation(100, "Org 100")
    made = Rig(services, clock, Recorder("a"), Recorder("b"))
    await made.engine.start()
    yield made
    await made.engine.close()


async def until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def device(event_id: int, type_id: int = 1, endpoint: int = 7, **fields: Any) -> dict[str, Any]:
    return event(event_id, 100, event_type={"id": type_id},
                 endpoint={"id": endpoint, "name": f"dev {endpoint}"}, **fields)


async def test_an_event_of_the_trigger_type_runs_the_actions_in_order(rig: Rig) -> None:
    uuid = await rig.automation(1, "a", "b")
    await rig.ingest(device(1, type_id=2), device(2, type_id=1))
    await until(lambda: len(rig.recorders["b"].runs) == 1)
    a, b = rig.recorders["a"].runs, rig.recorders["b"].runs
    assert [c.event.id for c in a] == [2]
    assert [c.event.id for c in b] == [2]
    assert a[0].principal.automation == (uuid, "on 1")
    assert a[0].principal.may_administer
    logs = await rig.logs(uuid, 1)
    assert [s for s, _ in logs] == [SUCCEEDED, SUCCEEDED]
    got = await rig.automations.get(ADMIN, uuid)
    assert got.number_of_executions == 1
    assert got.last_execution_ms is not None


async def test_targeting_properties_narrow_the_firing(rig: Rig) -> None:
    await rig.automation(1, "a", targeting=[{"property": "tags", "value": "fleet-a"},
                                            {"property": "severity", "value_array": ["1", "2"]}])
    await rig.ingest(device(1, endpoint=7, event_severity={"id": 1}),
                     device(2, endpoint=8, event_severity={"id": 1}) | {"endpoint": {"id": 8, "name": "x",
                                                                                      "tags": "fleet-a"}},
                     device(3, endpoint=9, event_severity={"id": 0}) | {"endpoint": {"id": 9, "name": "y",
                                                                                      "tags": "fleet-a"}})
    await until(lambda: len(rig.recorders["a"].runs) >= 1)
    await asyncio.sleep(0.1)
    assert [c.event.id for c in rig.recorders["a"].runs] == [2]


async def test_a_retryable_failure_is_retried_and_a_permanent_one_stops_the_execution(
        services: Services, clock: ManualClock) -> None:
    await services.auth.ensure_organisation(100, "Org 100")
    flaky = Recorder("flaky", [ActionFailed("busy"), ActionFailed("busy"), None])
    broken = Recorder("broken", [ActionFailed("no such device", permanent=True)])
    after = Recorder("after")
    rig = Rig(services, clock, flaky, broken, after)
    await rig.engine.start()
    try:
        first = await rig.automation(1, "flaky", "after")
        second = await rig.automation(2, "broken", "after")
        await rig.ingest(device(1, type_id=1), device(2, type_id=2))
        await until(lambda: len(after.runs) == 1 and len(broken.runs) == 1)
        await asyncio.sleep(0.1)
        assert [s for s, _ in await rig.logs(first, 1)] == [PENDING, PENDING, SUCCEEDED, SUCCEEDED]
        assert [c.event.id for c in after.runs] == [1]  # not after the permanent failure
        assert await rig.logs(second, 1) == [(FAILED, "no such device")]
    finally:
        await rig.engine.close()


async def test_an_event_caused_by_the_automation_itself_does_not_fire_it_again(rig: Rig) -> None:
    uuid = await rig.automation(1, "a")
    await rig.ingest(device(1, user={"id": 0, "name": "Automation on 1", "username": f"automation:{uuid}"}),
                     device(2))
    await until(lambda: len(rig.recorders["a"].runs) == 1)
    await asyncio.sleep(0.1)
    assert [c.event.id for c in rig.recorders["a"].runs] == [2]
    skipped = await rig.logs(uuid, 0)
    assert skipped[0][0] == SKIPPED
    assert "loop" in skipped[0][1]


async def test_the_rate_guard_bounds_an_event_storm(services: Services, clock: ManualClock) -> None:
    """10,000 matching events for 10 devices within a minute: 5 runs per device, one log line per device
    for everything the guard dropped, and the storm is ingested whole."""
    await services.auth.ensure_organisation(100, "Org 100")
    rig = Rig(services, clock, Recorder("a"), max_runs=5)
    await rig.engine.start()
    try:
        uuid = await rig.automation(1, "a")
        for start in range(1, 10_001, 500):
            await rig.ingest(*(device(n, endpoint=n % 10) for n in range(start, start + 500)))
            clock.advance(3_000)  # 20 batches over one minute of the manual clock
        await until(lambda: len(rig.recorders["a"].runs) == 50)
        await asyncio.sleep(0.2)
        runs = rig.recorders["a"].runs
        assert len(runs) == 50
        per_device = {e: sum(1 for c in runs if c.event.endpoint == {"id": e, "name": f"dev {e}"})
                      for e in range(10)}
        assert set(per_device.values()) == {5}
        skipped = await rig.logs(uuid, 0)
        assert len(skipped) == 10  # one line per device for the whole storm
        assert all("rate guard" in message for _, message in skipped)
        assert await services.events.count_after(0, org_id=100) >= 10_000  # nothing held ingestion back
        clock.advance(3_600_000)  # a new hour
        await rig.ingest(device(20_000, endpoint=7))
        await until(lambda: len(runs) == 51)
    finally:
        await rig.engine.close()


async def test_pending_executions_survive_a_restart_and_a_stuck_action_holds_nothing_back(
        services: Services, clock: ManualClock) -> None:
    await services.auth.ensure_organisation(100, "Org 100")
    never = asyncio.Event()
    stuck, quick = Recorder("stuck", block=never), Recorder("quick")
    rig = Rig(services, clock, stuck, quick)
    await rig.engine.start()
    await rig.automation(1, "stuck")
    await rig.automation(2, "quick")
    await rig.ingest(device(1, type_id=1))
    await until(lambda: len(stuck.runs) == 1)
    await rig.ingest(device(2, type_id=2))  # ingestion and another automation go on
    await until(lambda: len(quick.runs) == 1)
    await rig.engine.close()  # as if the process stopped while the stuck action ran

    again = Recorder("stuck")
    rig2 = Rig(services, clock, again, Recorder("quick"))
    await rig2.engine.start()
    try:
        await until(lambda: len(again.runs) == 1)  # the unfinished execution runs again
        assert again.runs[0].event.id == 1
    finally:
        await rig2.engine.close()


@pytest.mark.parametrize(("body", "field"), [
    ({"status": "ACTIVE", "actionable_event": {"system_event": {"id": "1"}},
      "configured_actions": [{"action": {"id": "a"}}]}, "name"),
    ({"name": "x", "actionable_event": {"system_event": {"id": "999"}},
      "configured_actions": [{"action": {"id": "a"}}]}, "actionable_event.system_event.id"),
    ({"name": "x", "actionable_event": {"custom_event": {"id": "7"}},
      "configured_actions": [{"action": {"id": "a"}}]}, "actionable_event.custom_event.id"),
    ({"name": "x", "actionable_event": {"system_event": {"id": "1"}}, "configured_actions": []},
     "configured_actions"),
    ({"name": "x", "actionable_event": {"system_event": {"id": "1"}},
      "configured_actions": [{"action": {"id": "nope"}}]}, "configured_actions.0.action.id"),
    ({"name": "x", "status": "SOMETIMES", "actionable_event": {"system_event": {"id": "1"}},
      "configured_actions": [{"action": {"id": "a"}}]}, "status"),
    ({"name": "x", "actionable_event": {"system_event": {"id": "1"}},
      "targeting_properties": [{"property": "colour", "value": "red"}],
      "configured_actions": [{"action": {"id": "a"}}]}, "targeting_properties.0.property"),
    ({"name": "x", "actionable_event": {"system_event": {"id": "1"}},
      "targeting_properties": [{"property": "severity", "value": "loud"}],
      "configured_actions": [{"action": {"id": "a"}}]}, "targeting_properties"),
])
async def test_invalid_automations_name_the_field(rig: Rig, body: dict[str, Any], field: str) -> None:
    from cellstream.errors import Unprocessable

    with pytest.raises(Unprocessable) as caught:
        await rig.automations.create(ADMIN, body)
    assert [p.field for p in caught.value.problems] == [field]
    assert await rig.automations.all(ADMIN) == []
