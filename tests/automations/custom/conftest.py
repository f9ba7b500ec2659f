"""Custom events with memory stores and a manual clock: the evaluator is driven by hand (`catch_up`,
`sweep_once`) so each test decides exactly when the logs are read and when the clock has moved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from fastapi import FastAPI

from cellstream.api.app import create_app
from cellstream.automations.custom.evaluator import CustomEvaluator
from cellstream.automations.custom.service import CustomEvents
from cellstream.clock import ManualClock
from cellstream.domain.principal import Principal
from cellstream.events.model import Event
from cellstream.events.timefmt import format_timestamp
from cellstream.services import Services
from cellstream.store.resources import ResourceTx
from tests.api.conftest import api, clock, services

__all__ = ["api", "clock", "services"]

ADMIN_A = Principal(100, None, 1)
ADMIN_B = Principal(200, None, 1)


class Rig:
    """The services, a custom-event service on them and shortcuts for feeding the logs."""

    def __init__(self, services: Services, clock: ManualClock) -> None:
        self.services, self.clock = services, clock
        self.evaluator = self.new_evaluator()
        self.custom = CustomEvents(services.connectivity.resources, self.evaluator, ["action-1"])

    def new_evaluator(self) -> CustomEvaluator:
        return CustomEvaluator(self.services.events, self.services.connectivity.resources,
                               self.services.notifier, self.clock)

    async def restart(self) -> None:
        """Close the evaluator and evaluate on with a new one over the same stores."""
        await self.evaluator.close()
        self.evaluator = self.new_evaluator()
        self.custom.evaluator = self.evaluator
        await self.evaluator.prepare()

    async def deploy(self, template: str, org: Principal = ADMIN_A, **props: Any) -> str:
        created = await self.custom.create(org, {
            "template": {"id": template}, "name": f"{template} check",
            "configuration_properties": [
                {"property": k, "value_array": v} if isinstance(v, list) else {"property": k, "value": str(v)}
                for k, v in props.items()]})
        return created.uuid

    async def event(self, type_id: int, *, org: int = 100, endpoint: int | None = 7, severity: int = 0,
                    source: int = 0, detail: Any = None, imsi: str = "901430000000007") -> None:
        """One event through the ingestor, at the clock's now."""
        await self.services.ingestor.ingest([Event(
            id=None, timestamp_ms=self.clock.now_ms(), alert=False, description=f"type {type_id}",
            type_id=type_id, source_id=source, severity_id=severity,
            organisation={"id": org, "name": f"Org {org}"},
            endpoint=None if endpoint is None else {"id": endpoint, "name": f"device {endpoint}"},
            sim={"id": 70 + (endpoint or 0), "iccid": "8988303000000000070"},
            imsi={"id": 700 + (endpoint or 0), "imsi": imsi}, detail=detail)])

    async def usage(self, megabytes: float, *, org: int = 100, endpoint: int = 7) -> None:
        """One data usage record (facts §E.5 shape, the fields the evaluator reads) in the usage log."""
        now = self.clock.now_ms()
        record = {"traffic_type": {"id": 5, "description": "Data"},
                  "volume": {"total": megabytes, "rx": megabytes / 2, "tx": megabytes / 2},
                  "end_timestamp": format_timestamp(now), "imsi": "901430000000007",
                  "imsi_id": 700 + endpoint,
                  "organisation": {"id": org, "name": f"Org {org}"},
                  "endpoint": {"id": endpoint, "name": f"device {endpoint}"},
                  "sim": {"id": 70 + endpoint, "iccid": "8988303000000000070"}}

        def work(tx: ResourceTx) -> None:
            tx.record_usage(org, record)

        await self.services.connectivity.change(work)

    async def custom_events(self, org: int = 100) -> list[dict[str, Any]]:
        """The custom events stored for `org`, as the Event API's JSON bodies."""
        rows = await self.services.events.read_after(0, 10_000, org_id=org)
        return [msgspec.json.decode(r.body) for r in rows if r.event.type_id >= 1000]


@pytest.fixture
async def rig(services: Services, clock: ManualClock) -> AsyncIterator[Rig]:
    rig = Rig(services, clock)
    await rig.evaluator.prepare()
    yield rig
    await rig.evaluator.close()


@pytest.fixture
def app(services: Services, rig: Rig) -> FastAPI:
    services.custom_events = rig.custom  # the rig's service, whose evaluator the tests drive by hand
    return create_app(services)
