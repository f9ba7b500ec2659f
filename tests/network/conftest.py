"""A small world for the Network source: one organisation with registered SIMs in endpoints, memory
stores on a manual clock, and the NetworkService in front of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from cellstream.clock import ManualClock
from cellstream.domain import endpoints, profiles, sims
from cellstream.domain.actor import Actor
from cellstream.domain.endpoints import EndpointChanges, SimChoice
from cellstream.domain.subscriber import ACCEPTED, Subscriber, Verdict
from cellstream.events.query import EventQuery
from cellstream.ingest.notifier import Notifier
from cellstream.network.service import NetworkService
from cellstream.network.signalling import AnySignal
from cellstream.store.memory import MemoryAccountStore, MemoryEventStore
from cellstream.store.memory_resources import MemoryResourceStore
from cellstream.store.resources import ResourceTx

ACME = Actor({"id": 1, "name": "Acme"}, None)


class Permissive:
    """Policy Control that admits everything (for tests of the network's own behaviour)."""

    def admit_data_session(self, tx: ResourceTx, sub: Subscriber, ts_ms: int) -> Verdict:
        return ACCEPTED

    def charge_data(self, tx: ResourceTx, sub: Subscriber, *, rx_bytes: int, tx_bytes: int, cost: float,
                    ts_ms: int) -> Verdict:
        return ACCEPTED

    def admit_sms(self, tx: ResourceTx, sub: Subscriber, ts_ms: int) -> Verdict:
        return ACCEPTED

    def charge_sms(self, tx: ResourceTx, sub: Subscriber, *, direction: str, cost: float,
                   ts_ms: int) -> Verdict:
        return ACCEPTED


@dataclass
class World:
    clock: ManualClock
    events: MemoryEventStore
    resources: MemoryResourceStore
    network: NetworkService
    imsis: list[str]
    endpoint_ids: list[int]

    async def send(self, *records: AnySignal) -> list[Verdict]:
        return await self.network.submit(list(records))

    async def stored(self) -> list[dict[str, Any]]:
        page = await self.events.page(EventQuery(1), limit=1000)
        return [msgspec.json.decode(b) for b in page.bodies]

    async def stored_network(self) -> list[dict[str, Any]]:
        """Events stored since the world was built (its SIM and endpoint set-up stored 48 and 51s)."""
        return [e for e in await self.stored() if e["event_type"]["id"] not in (48, 51)]

    async def usage(self) -> list[dict[str, Any]]:
        return [msgspec.json.decode(u.body) for u in await self.resources.usage_after(0, 1000)]

    async def change(self, work: Any) -> Any:
        return (await self.resources.transact(work)).value


async def make_world(policy: Any = None, devices: int = 2) -> World:
    clock = ManualClock()
    events = MemoryEventStore(clock)
    resources = MemoryResourceStore(events, clock)
    accounts = MemoryAccountStore()
    await accounts.create_organisation("Acme", org_id=1, now_ms=clock.now_ms())
    await resources.transact(lambda tx: sims.provision_batch(tx, count=devices + 1, bic="NETWORK01"))
    registered = (await resources.transact(
        lambda tx: sims.register_batch(tx, ACME, "NETWORK01", sims.ACTIVATED))).value

    def fleet(tx: ResourceTx) -> list[int]:
        service, tariff = profiles.ensure_defaults(tx, 1)
        return [endpoints.create_endpoint(tx, ACME, EndpointChanges(
            name=f"device-{n}", status_id=0, service_profile_id=service.id, tariff_profile_id=tariff.id,
            sim=SimChoice(sim.id))).id for n, sim in enumerate(registered[:devices])]

    endpoint_ids = (await resources.transact(fleet)).value
    network = NetworkService(resources, accounts, Notifier(), policy or Permissive(), clock)
    return World(clock, events, resources, network, [s.imsi for s in registered], endpoint_ids)


@pytest.fixture
async def world() -> World:
    return await make_world()


def only(items: Sequence[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]
