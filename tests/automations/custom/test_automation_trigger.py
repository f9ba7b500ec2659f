"""An automation on a custom event fires on that deployment's custom events only."""

from __future__ import annotations

import asyncio

from cellstream.automations.model import SUCCEEDED
from tests.automations.custom.conftest import ADMIN_A, Rig
from tests.automations.test_engine import Recorder, until
from tests.automations.test_engine import Rig as EngineRig

AUSTRIA = {"id": 14, "name": "Austria"}


async def test_an_automation_fires_on_its_custom_event(rig: Rig) -> None:
    fence = await rig.deploy("geofence", allowed_countries=["germany"])
    other = await rig.deploy("geofence", allowed_countries=["austria"])
    engine = EngineRig(rig.services, rig.clock, Recorder("a"))
    await engine.engine.start()
    try:
        created = await engine.automations.create(ADMIN_A, {
            "name": "left germany", "actionable_event": {"custom_event": {"id": fence}},
            "configured_actions": [{"action": {"id": "a"}}]})
        assert created.custom_event_id == fence
        assert created.system_event_id is None
        await rig.event(1, detail={"id": 3, "name": "A1", "country": AUSTRIA})  # leaves `fence` only
        await rig.event(1, detail={"id": 4, "name": "Orange", "country": {"id": 73, "name": "France"}},
                        endpoint=8)  # leaves both
        await rig.evaluator.catch_up()
        runs = engine.recorders["a"].runs
        await until(lambda: len(runs) == 2)
        await asyncio.sleep(0.1)
        assert len(runs) == 2
        assert {c.event.type_id for c in runs} == {1004}
        assert {c.event.detail["custom_event"]["id"] for c in runs} == {fence}  # never `other`'s
        assert [s for s, _ in await engine.logs(created.uuid, 1)] == [SUCCEEDED]
        assert other != fence
    finally:
        await engine.engine.close()
