"""A small organisation built through the real domain functions, and Policy Control driven against it the
way the Network source drives it: resolve the IMSI inside a transaction, then call the policy function."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from cellstream.clock import ManualClock
from cellstream.domain import endpoints, profiles, quotas, sims
from cellstream.domain.actor import Actor
from cellstream.domain.endpoint_model import Endpoint
from cellstream.domain.endpoints import EndpointChanges, SimChoice
from cellstream.domain.quotas import BLOCK, Kind, Quota, QuotaRequest
from cellstream.domain.sims import Sim
from cellstream.domain.subscriber import Subscriber, resolve
from cellstream.store.memory import MemoryEventStore
from cellstream.store.memory_resources import MemoryResourceStore
from cellstream.store.resources import Record, ResourceTx
from tests.conftest import need_fixtures

T = TypeVar("T")
R = TypeVar("R", bound=Record)

ORG_ID = 1
ACME = Actor({"id": ORG_ID, "name": "Acme"}, {"id": 7, "name": "Ada", "username": "ada@acme.example"})
NAMES = {ORG_ID: "Acme"}
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, ManualClock's default
MB = 1_000_000


class World:
    """One organisation, its default profiles, SIMs and endpoints; an event cursor for "what is new"."""

    def __init__(self) -> None:
        self.clock = ManualClock(START_MS + 10 * HOUR_MS)  # 2026-01-01T10:00Z
        self.events = MemoryEventStore(self.clock)
        self.store = MemoryResourceStore(self.events, self.clock)
        self.seen = 0
        self.batches = 0

    @property
    def now(self) -> int:
        return self.clock.now_ms()

    async def tx(self, work: Callable[[ResourceTx], T]) -> T:
        return (await self.store.transact(work)).value

    async def get(self, cls: type[R], record_id: int) -> R | None:
        return await self.store.view(lambda tx: tx.get(cls, record_id))

    async def register_sims(self, count: int = 1, status: int = sims.ACTIVATED) -> list[Sim]:
        self.batches += 1
        bic = f"BATCH{self.batches:04d}"
        await self.tx(lambda tx: sims.provision_batch(tx, count=count, bic=bic))
        return await self.tx(lambda tx: sims.register_batch(tx, ACME, bic, status))

    async def device(self, *, sim_status: int = sims.ACTIVATED, endpoint_status: int = 0,
                     **service: Any) -> tuple[Sim, Endpoint]:
        """A SIM in a new endpoint of the default profiles; `service` changes the default service profile."""
        sim = (await self.register_sims(1, sim_status))[0]

        def work(tx: ResourceTx) -> Endpoint:
            service_profile, tariff = profiles.ensure_defaults(tx, ORG_ID)
            if service:
                profiles.update_service_profile(tx, ACME, service_profile.id, service)
            return endpoints.create_endpoint(tx, ACME, EndpointChanges(
                name=f"Device {sim.id}", status_id=endpoint_status, service_profile_id=service_profile.id,
                tariff_profile_id=tariff.id, imei="3579230000000011", sim=SimChoice(sim.id)))

        endpoint = await self.tx(work)
        await self.mark()
        return sim, endpoint

    async def service(self, **changes: Any) -> None:
        def work(tx: ResourceTx) -> None:
            service_profile, _ = profiles.ensure_defaults(tx, ORG_ID)
            profiles.update_service_profile(tx, ACME, service_profile.id, changes)

        await self.tx(work)
        await self.mark()

    async def quota(self, endpoint_id: int, kind: Kind = "data", *, volume: float = 1.0,
                    threshold: float | None = 80, action: int = BLOCK, peak: int | None = None,
                    expiry_ms: int | None = None, auto_refill: bool = False) -> Quota:
        request = QuotaRequest(status_id=quotas.ACTIVE, volume=volume,
                               expiry_ms=expiry_ms if expiry_ms is not None else self.now + 30 * DAY_MS,
                               auto_refill=auto_refill, threshold_percentage=threshold, action_id=action,
                               peak_throughput=peak)
        quota = await self.tx(lambda tx: quotas.assign_quota(tx, ACME, kind, endpoint_id, request))
        await self.mark()
        return quota

    async def stored_quota(self, endpoint_id: int, kind: Kind = "data") -> Quota | None:
        return await self.store.view(lambda tx: quotas.quota_of(tx, kind, endpoint_id))

    async def policy(self, sim: Sim, call: Callable[[ResourceTx, Subscriber], T]) -> T:
        """Run a policy function for the SIM's subscriber as the Network source would."""

        def work(tx: ResourceTx) -> T:
            sub = resolve(tx, sim.imsi, NAMES)
            assert sub is not None
            return call(tx, sub)

        return await self.tx(work)

    async def all_events(self) -> list[dict[str, Any]]:
        stored = await self.events.read_after(0, 100_000)
        return [msgspec.json.decode(s.body) for s in stored]

    async def new_events(self) -> list[dict[str, Any]]:
        """Events stored since the last call (or mark), as the Event API shows them."""
        stored = await self.events.read_after(self.seen, 100_000)
        if stored:
            self.seen = stored[-1].position
        return [msgspec.json.decode(s.body) for s in stored]

    async def mark(self) -> None:
        self.seen = await self.events.last_position()


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((need_fixtures() / name).read_text())
    return body


def _shape(value: Any) -> Any:
    """The JSON shape of a value: object keys (recursively) and value types, numbers as one type."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_like(event: dict[str, Any], name: str, *, description: bool = True) -> None:
    """The event matches the documented example `name`: type, source, severity (by id), alert, the same
    top-level objects, the same `detail` shape, and (unless told otherwise) the same description."""
    example = fixture(name)
    for key in ("event_type", "event_source", "event_severity"):
        assert event[key]["id"] == example[key]["id"], key
    assert event["event_type"]["description"] in (example["event_type"]["description"],)
    assert event["event_source"]["description"].lower() == (
        example["event_source"].get("description") or example["event_source"]["name"]).lower()
    assert event["event_severity"]["description"].lower() == example["event_severity"]["description"].lower()
    assert event["alert"] is bool(example["alert"])
    assert {k for k, v in event.items() if v is not None} == {k for k, v in example.items() if v is not None}
    for key in ("endpoint", "sim", "imsi", "organisation"):
        if example.get(key) is not None:
            assert set(event[key]) == set(example[key]), key
    assert _shape(event.get("detail")) == _shape(example.get("detail"))
    if description:
        assert event["description"] == example["description"]
