"""The ResourceStore contract: records by id, unique key and organisation; a change and its events are one
transaction; nothing of a failed transaction remains."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import pytest

from cellstream.errors import Conflict
from cellstream.events.query import EventQuery
from cellstream.store.protocols import EventStore
from cellstream.store.resources import ReadOnly, Record, ResourceStore, ResourceTx

from .factory import event

Stores = tuple[ResourceStore, EventStore]


class Card(Record):
    KIND = "card"
    number: str
    label: str = ""

    def unique_keys(self) -> Mapping[str, str]:
        return {"number": self.number}


class Other(Record):
    KIND = "other"
    number: str

    def unique_keys(self) -> Mapping[str, str]:
        return {"number": self.number}


def put_cards(*cards: Card) -> object:
    def work(tx: ResourceTx) -> None:
        for card in cards:
            tx.put(card)
    return work


async def test_records_are_found_by_id_unique_key_and_organisation(resource_store: Stores) -> None:
    store, _ = resource_store
    await store.transact(put_cards(Card(id=2, org_id=1, number="a"), Card(id=1, org_id=1, number="b"),
                                   Card(id=3, org_id=None, number="c")))
    await store.transact(lambda tx: tx.put(Other(id=1, number="a")))  # keys are per kind

    def read(tx: ResourceTx) -> tuple[object, ...]:
        return (tx.get(Card, 2), tx.find(Card, "number", "b"), tx.find(Card, "number", "z"),
                [c.id for c in tx.scan(Card, 1)], [c.id for c in tx.scan(Card, None)], tx.get(Card, 9),
                tx.find(Other, "number", "a"))

    got = await store.view(read)
    assert got == (Card(id=2, org_id=1, number="a"), Card(id=1, org_id=1, number="b"), None, [1, 2], [3],
                   None, Other(id=1, number="a"))


async def test_a_change_and_its_events_commit_together(resource_store: Stores) -> None:
    store, events = resource_store

    def work(tx: ResourceTx) -> int:
        tx.put(Card(id=tx.next_id(Card), org_id=1, number="a"))
        tx.emit(event(type=8))
        tx.emit(event(type=51))
        return 7

    committed = await store.transact(work)
    assert committed.value == 7
    assert [s.position for s in committed.appended.stored] == [1, 2]
    assert [s.event.type_id for s in committed.appended.stored] == [8, 51]
    assert await events.count(EventQuery(1)) == 2
    assert await store.view(lambda tx: tx.find(Card, "number", "a")) == Card(id=1, org_id=1, number="a")


async def test_a_failed_transaction_leaves_nothing(resource_store: Stores) -> None:
    store, events = resource_store
    await store.transact(put_cards(Card(id=1, org_id=1, number="a", label="old")))

    def failing(tx: ResourceTx) -> None:
        tx.put(Card(id=1, org_id=1, number="renumbered", label="new"))
        tx.put(Card(id=2, org_id=1, number="b"))
        tx.delete(Card, 1)
        tx.emit(event(type=8))
        raise ValueError("the operation changed its mind")

    with pytest.raises(ValueError, match="changed its mind"):
        await store.transact(failing)
    assert await events.last_position() == 0

    def read(tx: ResourceTx) -> tuple[object, ...]:
        return (tx.get(Card, 1), tx.get(Card, 2), tx.find(Card, "number", "a"),
                tx.find(Card, "number", "renumbered"), tx.find(Card, "number", "b"))

    assert await store.view(read) == (Card(id=1, org_id=1, number="a", label="old"), None,
                                      Card(id=1, org_id=1, number="a", label="old"), None, None)


async def test_an_event_that_cannot_be_stored_undoes_the_change(resource_store: Stores) -> None:
    store, events = resource_store
    await events.append([event(id=5, type=3)])

    def work(tx: ResourceTx) -> None:
        tx.put(Card(id=1, org_id=1, number="a"))
        tx.emit(event(id=5, type=9))  # the id is taken by a different event: Conflict

    with pytest.raises(Conflict):
        await store.transact(work)
    assert await store.view(lambda tx: tx.get(Card, 1)) is None
    assert await events.last_position() == 1


async def test_unique_keys_belong_to_one_record_of_a_kind(resource_store: Stores) -> None:
    store, _ = resource_store
    await store.transact(put_cards(Card(id=1, org_id=1, number="a")))
    with pytest.raises(Conflict, match="number a is already in use"):
        await store.transact(put_cards(Card(id=2, org_id=2, number="a")))
    await store.transact(put_cards(Card(id=1, org_id=1, number="b")))  # renumbering frees "a"
    await store.transact(put_cards(Card(id=2, org_id=2, number="a")))
    await store.transact(lambda tx: tx.delete(Card, 2))
    await store.transact(lambda tx: tx.delete(Card, 42))  # deleting nothing is no error
    assert await store.view(lambda tx: (tx.find(Card, "number", "a"), tx.get(Card, 2))) == (None, None)
    await store.transact(put_cards(Card(id=3, org_id=1, number="a")))


async def test_ids_only_grow(resource_store: Stores) -> None:
    store, _ = resource_store
    first = (await store.transact(lambda tx: tx.next_id(Card))).value
    await store.transact(put_cards(Card(id=40, number="x")))
    assert first == 1
    assert (await store.transact(lambda tx: (tx.next_id(Card), tx.next_id(Card), tx.next_id(Other)))).value \
        == (41, 42, 1)


async def test_a_view_cannot_change_anything(resource_store: Stores) -> None:
    store, _ = resource_store
    with pytest.raises(ReadOnly):
        await store.view(lambda tx: tx.put(Card(id=1, number="a")))
    with pytest.raises(ReadOnly):
        await store.view(lambda tx: tx.emit(event()))
    assert await store.view(lambda tx: tx.get(Card, 1)) is None


async def test_usage_records_commit_with_the_change_in_log_order(resource_store: Stores) -> None:
    store, _ = resource_store

    def work(tx: ResourceTx) -> None:
        tx.put(Card(id=1, org_id=1, number="a"))
        tx.record_usage(1, {"traffic_type": {"id": 5, "description": "Data"}, "cost": 0.5})
        tx.record_usage(2, {"traffic_type": {"id": 6, "description": "SMS"}, "id": 999})

    committed = await store.transact(work)
    assert [(u.position, u.org_id) for u in committed.usage] == [(1, 1), (2, 2)]
    assert msgspec.json.decode(committed.usage[0].body) == {
        "id": 1, "traffic_type": {"id": 5, "description": "Data"}, "cost": 0.5}
    assert msgspec.json.decode(committed.usage[1].body)["id"] == 2  # the log assigns ids

    def failing(tx: ResourceTx) -> None:
        tx.record_usage(1, {"cost": 1})
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await store.transact(failing)
    await store.transact(lambda tx: tx.record_usage(1, {"cost": 2}))
    assert await store.usage_last_position() == 3
    assert [u.position for u in await store.usage_after(0, 10)] == [1, 2, 3]
    assert [u.position for u in await store.usage_after(1, 10, org_id=1)] == [3]
    assert [u.position for u in await store.usage_after(0, 1)] == [1]
    assert committed.usage == (await store.usage_after(0, 2))
    with pytest.raises(ReadOnly):
        await store.view(lambda tx: tx.record_usage(1, {}))
