"""SIM provisioning, registration and lifecycle: each documented transition stores its event, every other
one is refused with nothing stored."""

from __future__ import annotations

import msgspec
import pytest

from cellstream.clock import ManualClock
from cellstream.domain import sims
from cellstream.domain.actor import Actor
from cellstream.domain.sims import Sim, luhn_digit
from cellstream.errors import Conflict, NotFound, Unprocessable
from cellstream.events.codec import encode_event
from cellstream.events.query import EventQuery
from cellstream.store.memory import MemoryEventStore
from cellstream.store.memory_resources import MemoryResourceStore
from cellstream.store.resources import ResourceTx

ACME = Actor({"id": 1, "name": "Acme"}, {"id": 7, "name": "Ada", "username": "ada@acme.example"})
OTHER = Actor({"id": 2, "name": "Other"}, None)


@pytest.fixture
def stores() -> tuple[MemoryResourceStore, MemoryEventStore]:
    clock = ManualClock()
    events = MemoryEventStore(clock)
    return MemoryResourceStore(events, clock), events


async def registered(store: MemoryResourceStore, count: int = 2, status: int = sims.ACTIVATED) -> list[Sim]:
    await store.transact(lambda tx: sims.provision_batch(tx, count=count, bic="BATCH0001"))
    return (await store.transact(lambda tx: sims.register_batch(tx, ACME, "BATCH0001", status))).value


def test_the_luhn_digit_completes_a_valid_number() -> None:
    assert luhn_digit("7992739871") == "3"
    for body in ("8988303000000000001", "8988303000000583545", "4539578763621486"):
        digits = [int(c) for c in body + luhn_digit(body)]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                    for i, d in enumerate(reversed(digits)))
        assert total % 10 == 0


async def test_provisioned_sims_are_issued_unowned_and_uniquely_numbered(
        stores: tuple[MemoryResourceStore, MemoryEventStore]) -> None:
    store, events = stores
    batch = (await store.transact(lambda tx: sims.provision_batch(tx, count=3, bic="BATCH0001"))).value
    held = await store.view(lambda tx: [tx.get(Sim, i) for i in batch.sim_ids])
    assert all(s is not None and s.org_id is None and s.status_id == sims.ISSUED for s in held)
    numbers = [(s.iccid, s.imsi, s.msisdn) for s in held if s is not None]
    assert all(len(i) == 19 and len(m) == 15 for i, m, _ in numbers)
    assert len({n for triple in numbers for n in triple}) == 9
    assert await events.last_position() == 0  # nobody owns them yet: no event
    with pytest.raises(Conflict):
        await store.transact(lambda tx: sims.provision_batch(tx, count=1, bic="BATCH0001"))
    for count, bic in ((0, "BATCH0002"), (10_001, "BATCH0002"), (1, "lower-case"), (1, "SHORT")):
        def provision(tx: ResourceTx, count: int = count, bic: str = bic) -> sims.SimBatch:
            return sims.provision_batch(tx, count=count, bic=bic)

        with pytest.raises(Unprocessable):
            await store.transact(provision)


async def test_registering_a_batch_stores_one_event_48(stores: tuple[MemoryResourceStore,
                                                                     MemoryEventStore]) -> None:
    store, events = stores
    got = await registered(store, count=3)
    assert [s.org_id for s in got] == [1, 1, 1]
    assert [s.status_id for s in got] == [sims.ACTIVATED] * 3
    page = await events.page(EventQuery(1), limit=10)
    assert len(page.bodies) == 1
    event = msgspec.json.decode(page.bodies[0])
    assert event["event_type"] == {"id": 48, "description": "SIM registration"}
    assert event["description"] == "Batch of 3 SIM(s) registered."
    assert event["user"] == ACME.user
    assert event["detail"]["sim_batch"]["batch_size"] == 3
    assert event["detail"]["sim_batch"]["first_iccid"] == got[0].iccid
    assert event["detail"]["sim_batch"]["last_iccid"] == got[-1].iccid
    for bic, status in (("BATCH0001", sims.ACTIVATED), ("NOSUCHBATCH", sims.ACTIVATED)):
        def register(tx: ResourceTx, bic: str = bic, status: int = status) -> list[Sim]:
            return sims.register_batch(tx, OTHER, bic, status)

        with pytest.raises(Unprocessable):  # already registered / unknown
            await store.transact(register)
    await store.transact(lambda tx: sims.provision_batch(tx, count=1, bic="BATCH0002"))
    with pytest.raises(Unprocessable, match=r"sim_status.id"):
        await store.transact(lambda tx: sims.register_batch(tx, OTHER, "BATCH0002", sims.SUSPENDED))


@pytest.mark.parametrize(("start", "path", "types"), [
    (sims.ACTIVATED, [sims.SUSPENDED, sims.ACTIVATED], [9, 8]),
    (sims.FACTORY_TEST, [sims.ACTIVATED, sims.SUSPENDED], [8, 9]),
])
async def test_each_documented_transition_stores_its_event(
        stores: tuple[MemoryResourceStore, MemoryEventStore], start: int, path: list[int],
        types: list[int]) -> None:
    store, events = stores
    sim = (await registered(store, 1, start))[0]
    before = await events.last_position()
    previous = start
    for status in path:
        def change(tx: ResourceTx, status: int = status) -> Sim:
            return sims.change_status(tx, ACME, sim.id, status)

        changed = (await store.transact(change)).value
        assert changed.status_id == status
        stored = (await events.read_after(await events.last_position() - 1, 1))[0]
        assert stored.event.description == (f"Status of SIM changed from '{sims.STATUS_NAMES[previous]}' "
                                            f"to '{sims.STATUS_NAMES[status]}'")
        assert stored.event.sim == sim.ref()
        assert stored.event.imsi == sim.imsi_ref()
        previous = status
    types_stored = [s.event.type_id for s in await events.read_after(before, 10)]
    assert types_stored == types


@pytest.mark.parametrize(("start", "target"), [
    (sims.ACTIVATED, sims.FACTORY_TEST), (sims.ACTIVATED, sims.ISSUED), (sims.FACTORY_TEST, sims.SUSPENDED),
    (sims.ACTIVATED, sims.DELETED), (sims.ACTIVATED, 9),
])
async def test_other_transitions_are_refused_and_store_nothing(
        stores: tuple[MemoryResourceStore, MemoryEventStore], start: int, target: int) -> None:
    store, events = stores
    sim = (await registered(store, 1, start))[0]
    before = await events.last_position()
    with pytest.raises(Unprocessable, match=r"status.id"):
        await store.transact(lambda tx: sims.change_status(tx, ACME, sim.id, target))
    assert await events.last_position() == before
    assert await store.view(lambda tx: tx.get(Sim, sim.id)) == sim


async def test_setting_the_same_status_is_no_change(stores: tuple[MemoryResourceStore,
                                                                  MemoryEventStore]) -> None:
    store, events = stores
    sim = (await registered(store, 1))[0]
    before = await events.last_position()
    await store.transact(lambda tx: sims.change_status(tx, ACME, sim.id, sims.ACTIVATED))
    assert await events.last_position() == before


async def test_another_organisations_sim_is_not_found(stores: tuple[MemoryResourceStore,
                                                                    MemoryEventStore]) -> None:
    store, _ = stores
    sim = (await registered(store, 1))[0]
    for work in (lambda tx: sims.change_status(tx, OTHER, sim.id, sims.SUSPENDED),
                 lambda tx: sims.delete_sim(tx, OTHER, sim.id),
                 lambda tx: sims.change_status(tx, ACME, 999, sims.SUSPENDED)):
        with pytest.raises(NotFound):
            await store.transact(work)


async def test_deleting_stores_event_10_with_the_former_status(stores: tuple[MemoryResourceStore,
                                                                             MemoryEventStore]) -> None:
    store, events = stores
    sim = (await registered(store, 1))[0]
    deleted = (await store.transact(lambda tx: sims.delete_sim(tx, ACME, sim.id))).value
    assert deleted.status_id == sims.DELETED
    stored = (await events.read_after(await events.last_position() - 1, 1))[0]
    assert stored.event.type_id == 10
    assert stored.event.description == "Activated SIM got deleted"
    assert stored.event.detail == {"old_status": {"id": 1, "description": "Activated"}}
    with pytest.raises(NotFound):  # deleted for good
        await store.transact(lambda tx: sims.delete_sim(tx, ACME, sim.id))
    with pytest.raises(Unprocessable):
        await store.transact(lambda tx: sims.change_status(tx, ACME, sim.id, sims.ACTIVATED))


async def test_an_assigned_sim_cannot_be_deleted(stores: tuple[MemoryResourceStore,
                                                               MemoryEventStore]) -> None:
    store, _ = stores
    sim = (await registered(store, 1))[0]

    def assign(tx: ResourceTx) -> None:
        tx.put(msgspec.structs.replace(sim, endpoint_id=77))

    await store.transact(assign)
    with pytest.raises(Conflict, match="endpoint 77"):
        await store.transact(lambda tx: sims.delete_sim(tx, ACME, sim.id))


async def test_events_are_canonical(stores: tuple[MemoryResourceStore, MemoryEventStore]) -> None:
    store, events = stores
    await registered(store, 1)
    for stored in await events.read_after(0, 10):
        assert stored.body == encode_event(stored.event)


@pytest.mark.parametrize(("target", "event_type"), [(sims.ACTIVATED, 8), (sims.FACTORY_TEST, 45)])
async def test_sims_the_platform_assigns_wait_issued_and_leave_issued_with_their_event(
        stores: tuple[MemoryResourceStore, MemoryEventStore], target: int, event_type: int) -> None:
    store, events = stores
    await store.transact(lambda tx: sims.provision_batch(tx, count=2, bic="BATCH0009"))
    assigned = (await store.transact(lambda tx: sims.assign_batch(tx, 1, "BATCH0009"))).value
    assert [(s.org_id, s.status_id) for s in assigned] == [(1, sims.ISSUED)] * 2
    assert await events.last_position() == 0  # the platform's assignment is no registration: no 48
    changed = (await store.transact(lambda tx: sims.change_status(tx, ACME, assigned[0].id, target))).value
    assert changed.status_id == target
    stored = (await events.read_after(0, 10))[0].event
    assert stored.type_id == event_type
    assert stored.description == f"Status of SIM changed from 'Issued' to '{sims.STATUS_NAMES[target]}'"
    with pytest.raises(Unprocessable):  # never back to Issued
        await store.transact(lambda tx: sims.change_status(tx, ACME, assigned[0].id, sims.ISSUED))
