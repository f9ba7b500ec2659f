"""The ResourceStore contract: records by id, unique key and organisation; a change and its events are one
transaction; nothing of a failed transaction remains."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

import msgspec
import pytest

from cellstream.clock import ManualClock
from cellstream.errors import Conflict
from cellstream.events.query import EventQuery
from cellstream.store.protocols import EventStore
from cellstream.store.resources import ReadOnly, Record, ResourceStore, ResourceTx
from cellstream.store.sql.sqlite import open_sqlite_stores
from cellstream.store.sql.sqlite_resources import ENTRY_BYTES, RecordCache, SqliteResourceStore

from .factory import event, settings_for

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


async def test_usage_log_positions_by_time_and_counts(resource_store: Stores, clock: ManualClock) -> None:
    store, _ = resource_store
    start = clock.now_ms()
    assert await store.usage_position_before(start) == 0
    for _ in range(3):
        await store.transact(lambda tx: (tx.record_usage(1, {"cost": 1}), tx.record_usage(2, {"cost": 2})))
        clock.advance(1000)
    assert await store.usage_position_before(start) == 0
    assert await store.usage_position_before(start + 1000) == 2
    assert await store.usage_position_before(start + 10_000) == 6
    assert await store.usage_count_after(0, org_id=1) == 3
    assert await store.usage_count_after(3, org_id=2) == 2


# A transaction sees its own changes at once; what it commits is each record's last state -------------

async def test_a_transaction_reads_its_own_writes_and_stores_the_last_state(resource_store: Stores) -> None:
    store, _ = resource_store
    await store.transact(put_cards(Card(id=1, org_id=1, number="a"), Card(id=2, org_id=1, number="b")))

    def work(tx: ResourceTx) -> list[object]:
        seen: list[object] = []
        for n in range(20):  # the same record, many times in one transaction
            tx.put(Card(id=1, org_id=1, number="a", label=f"v{n}"))
            seen.append(tx.get(Card, 1))
        tx.delete(Card, 2)
        seen += [tx.get(Card, 2), tx.find(Card, "number", "b")]
        tx.put(Card(id=2, org_id=1, number="b", label="back"))
        seen.append(tx.find(Card, "number", "b"))
        tx.put(Card(id=3, org_id=1, number="c"))
        tx.delete(Card, 3)
        seen.append(tx.get(Card, 3))
        return seen

    seen = (await store.transact(work)).value
    assert seen[:20] == [Card(id=1, org_id=1, number="a", label=f"v{n}") for n in range(20)]
    assert seen[20:] == [None, None, Card(id=2, org_id=1, number="b", label="back"), None]

    def read(tx: ResourceTx) -> tuple[object, ...]:
        return tx.get(Card, 1), tx.get(Card, 2), tx.get(Card, 3), tx.find(Card, "number", "c")

    expected = (Card(id=1, org_id=1, number="a", label="v19"), Card(id=2, org_id=1, number="b", label="back"),
                None, None)
    assert await store.view(read) == expected
    assert (await store.transact(read)).value == expected  # the writer's view agrees with a reader's


async def test_a_scan_sees_the_transactions_own_changes(resource_store: Stores) -> None:
    store, _ = resource_store
    await store.transact(put_cards(Card(id=1, org_id=1, number="a"), Card(id=2, org_id=1, number="b")))

    def work(tx: ResourceTx) -> tuple[list[int], list[int], list[str]]:
        tx.put(Card(id=3, org_id=1, number="c"))
        tx.put(Card(id=1, org_id=2, number="a"))  # moves to another organisation
        tx.delete(Card, 2)
        tx.put(Card(id=3, org_id=1, number="c", label="after"))
        return ([c.id for c in tx.scan(Card, 1)], [c.id for c in tx.scan(Card, 2)],
                [c.label for c in tx.scan(Card, 1)])

    assert (await store.transact(work)).value == ([3], [1], ["after"])
    assert await store.view(lambda tx: ([c.id for c in tx.scan(Card, 1)], [c.id for c in tx.scan(Card, 2)])) \
        == ([3], [1])


async def test_a_key_conflict_is_raised_by_the_put_and_changes_nothing(resource_store: Stores) -> None:
    store, _ = resource_store
    await store.transact(put_cards(Card(id=1, org_id=1, number="a")))

    def work(tx: ResourceTx) -> list[str]:
        raised = []
        tx.put(Card(id=2, org_id=1, number="b", label="first"))
        for attempt in (Card(id=3, number="a"), Card(id=3, number="b"), Card(id=2, number="a")):
            try:
                tx.put(attempt)
            except Conflict as exc:
                raised.append(str(exc))
        tx.put(Card(id=1, org_id=1, number="z"))  # renumbering frees "a" within the transaction …
        tx.put(Card(id=4, org_id=1, number="a"))  # … for another record
        return raised

    assert (await store.transact(work)).value == ["card number a is already in use",
                                                   "card number b is already in use",
                                                   "card number a is already in use"]

    def read(tx: ResourceTx) -> tuple[object, ...]:
        return (tx.get(Card, 2), tx.get(Card, 3), tx.find(Card, "number", "a"), tx.find(Card, "number", "z"),
                tx.find(Card, "number", "b"))

    expected = (Card(id=2, org_id=1, number="b", label="first"), None, Card(id=4, org_id=1, number="a"),
                Card(id=1, org_id=1, number="z"), Card(id=2, org_id=1, number="b", label="first"))
    assert await store.view(read) == expected
    assert (await store.transact(read)).value == expected


async def test_ids_put_in_a_transaction_move_its_next_id_on(resource_store: Stores) -> None:
    store, _ = resource_store

    def work(tx: ResourceTx) -> tuple[int, int]:
        tx.put(Card(id=70, number="x"))
        first = tx.next_id(Card)
        tx.put(Card(id=first + 10, number="y"))
        return first, tx.next_id(Card)

    assert (await store.transact(work)).value == (71, 82)
    assert (await store.transact(lambda tx: tx.next_id(Card))).value == 83


async def test_records_read_are_fresh_objects(resource_store: Stores) -> None:
    store, _ = resource_store
    await store.transact(put_cards(Card(id=1, org_id=1, number="a", label="kept")))

    def work(tx: ResourceTx) -> tuple[object, object]:
        card = tx.get(Card, 1)
        assert card is not None
        card.label = "changed without a put"
        put = Card(id=2, org_id=1, number="b", label="as put")
        tx.put(put)
        put.label = "changed after the put"
        return tx.get(Card, 1), tx.get(Card, 2)

    assert (await store.transact(work)).value == (Card(id=1, org_id=1, number="a", label="kept"),
                                                   Card(id=2, org_id=1, number="b", label="as put"))
    assert await store.view(lambda tx: tx.get(Card, 2)) == Card(id=2, org_id=1, number="b", label="as put")


async def test_preloading_is_only_a_hint(resource_store: Stores) -> None:
    store, _ = resource_store
    await store.transact(put_cards(Card(id=1, org_id=1, number="a"), Card(id=2, org_id=1, number="b")))

    def work(tx: ResourceTx) -> tuple[object, ...]:
        tx.put(Card(id=1, org_id=1, number="a", label="mine"))
        tx.delete(Card, 2)
        tx.preload(Card, [1, 2, 3, 1])
        tx.preload_keys(Card, "number", ["a", "b", "nobody", "a"])
        tx.preload(Card, [])
        return (tx.get(Card, 1), tx.get(Card, 2), tx.get(Card, 3), tx.find(Card, "number", "a"),
                tx.find(Card, "number", "b"), tx.find(Card, "number", "nobody"))

    assert (await store.transact(work)).value == (Card(id=1, org_id=1, number="a", label="mine"), None, None,
                                                   Card(id=1, org_id=1, number="a", label="mine"), None, None)

    def read(tx: ResourceTx) -> tuple[object, ...]:
        tx.preload_keys(Card, "number", iter(["a", "b"]))
        tx.preload(Card, iter([1, 2]))
        return tx.find(Card, "number", "a"), tx.get(Card, 2)

    assert await store.view(read) == (Card(id=1, org_id=1, number="a", label="mine"), None)


async def test_a_failed_transaction_leaves_the_writer_nothing_either(resource_store: Stores) -> None:
    store, _ = resource_store
    await store.transact(put_cards(Card(id=1, org_id=1, number="a", label="old")))
    assert (await store.transact(lambda tx: tx.get(Card, 1))).value is not None  # read once by the writer

    def failing(tx: ResourceTx) -> None:
        tx.put(Card(id=1, org_id=1, number="renumbered", label="new"))
        tx.put(Card(id=2, org_id=1, number="b"))
        tx.scan(Card, 1)  # written to the table mid-transaction, still rolled back
        tx.put(Card(id=3, org_id=1, number="c"))
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await store.transact(failing)

    def read(tx: ResourceTx) -> tuple[object, ...]:
        return (tx.get(Card, 1), tx.get(Card, 2), tx.get(Card, 3), tx.find(Card, "number", "a"),
                tx.find(Card, "number", "renumbered"), tx.find(Card, "number", "c"))

    expected = (Card(id=1, org_id=1, number="a", label="old"), None, None,
                Card(id=1, org_id=1, number="a", label="old"), None, None)
    assert (await store.transact(read)).value == expected
    assert await store.view(read) == expected


async def test_the_writer_follows_committed_key_changes(resource_store: Stores) -> None:
    store, _ = resource_store
    await store.transact(put_cards(Card(id=1, org_id=1, number="a"), Card(id=2, org_id=1, number="b")))

    def look(tx: ResourceTx) -> tuple[object, ...]:
        return tuple(None if (c := tx.find(Card, "number", n)) is None else c.id for n in "abz")

    assert (await store.transact(look)).value == (1, 2, None)
    await store.transact(put_cards(Card(id=1, org_id=1, number="z")))
    assert (await store.transact(look)).value == (None, 2, 1)
    await store.transact(lambda tx: tx.delete(Card, 2))
    assert (await store.transact(look)).value == (None, None, 1)
    await store.transact(put_cards(Card(id=5, org_id=1, number="a")))
    assert (await store.transact(look)).value == (5, None, 1)


# SQLite: the writer's record cache -------------------------------------------------------------------

async def test_the_sqlite_writer_sees_what_other_connections_commit(sqlite_url: str,
                                                                   clock: ManualClock) -> None:
    events, _ = await open_sqlite_stores(sqlite_url, settings_for(sqlite_url), clock)
    try:
        store = SqliteResourceStore(events, clock)
        await store.transact(put_cards(Card(id=1, org_id=1, number="a", label="ours")))

        def read(tx: ResourceTx) -> tuple[object, ...]:
            return (tx.get(Card, 1), tx.find(Card, "number", "a"), tx.find(Card, "number", "q"),
                    tx.get(Card, 9))

        assert (await store.transact(read)).value == (Card(id=1, org_id=1, number="a", label="ours"),
                                                      Card(id=1, org_id=1, number="a", label="ours"), None,
                                                      None)
        other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        try:  # another process changes the records behind the writer's back
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE resources SET doc = ? WHERE kind = 'card' AND id = 1",
                          (msgspec.json.encode(Card(id=1, org_id=1, number="q", label="theirs")),))
            other.execute("UPDATE resource_keys SET value = 'q' WHERE kind = 'card' AND id = 1")
            other.execute("INSERT INTO resources (kind, id, org_id, doc) VALUES ('card', 9, 1, ?)",
                          (msgspec.json.encode(Card(id=9, org_id=1, number="n")),))
            other.execute("COMMIT")
        finally:
            other.close()
        assert (await store.transact(read)).value == (Card(id=1, org_id=1, number="q", label="theirs"), None,
                                                      Card(id=1, org_id=1, number="q", label="theirs"),
                                                      Card(id=9, org_id=1, number="n"))
    finally:
        await events.close()


async def test_a_tiny_sqlite_record_cache_changes_nothing(sqlite_url: str, clock: ManualClock) -> None:
    events, _ = await open_sqlite_stores(sqlite_url, settings_for(sqlite_url), clock)
    try:
        store = SqliteResourceStore(events, clock, cache_bytes=1)  # starts afresh at every transaction
        await store.transact(put_cards(*(Card(id=i, org_id=1, number=str(i)) for i in range(1, 6))))
        def read(tx: ResourceTx) -> tuple[object, ...]:
            return tx.get(Card, 2), tx.find(Card, "number", "3")

        for n in range(3):
            await store.transact(put_cards(Card(id=2, org_id=1, number="2", label=str(n))))
            assert (await store.transact(read)).value == (Card(id=2, org_id=1, number="2", label=str(n)),
                                                          Card(id=3, org_id=1, number="3"))
    finally:
        await events.close()


async def test_stores_sharing_a_sqlite_writer_share_what_it_knows(sqlite_url: str,
                                                                   clock: ManualClock) -> None:
    events, _ = await open_sqlite_stores(sqlite_url, settings_for(sqlite_url), clock)
    try:
        one, two = SqliteResourceStore(events, clock), SqliteResourceStore(events, clock)
        await one.transact(put_cards(Card(id=1, org_id=1, number="a")))
        assert (await two.transact(lambda tx: tx.get(Card, 1))).value == Card(id=1, org_id=1, number="a")
        await one.transact(put_cards(Card(id=1, org_id=1, number="a", label="again")))
        assert (await two.transact(lambda tx: tx.get(Card, 1))).value == Card(id=1, org_id=1, number="a",
                                                                              label="again")
    finally:
        await events.close()


def test_the_record_cache_starts_afresh_when_the_database_moved_or_it_grew_too_big() -> None:
    cache = RecordCache(max_bytes=1000)
    cache.validate(7)
    cache.remember(("card", 1), (1, b"{}"))
    cache.keys[("card", "number", "a")] = 1
    cache.validate(7)  # nothing changed: kept
    assert ("card", 1) in cache.docs
    assert cache.keys
    cache.validate(8)  # another connection committed
    assert not cache.docs
    assert not cache.keys
    assert cache.bytes == 0
    for size in (100, 300, 200, 0):  # a record rewritten is counted once, at its latest size
        cache.remember(("card", 2), (1, b"x" * size))
    cache.remember(("card", 3), None)
    assert cache.bytes == 2 * ENTRY_BYTES
    cache.remember(("card", 2), (1, b"x" * 2000))
    cache.validate(8)
    assert not cache.docs
