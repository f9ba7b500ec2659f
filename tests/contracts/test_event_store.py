"""The EventStore contract: appends, duplicates, counts, the log (read_after) and retention.

Runs against every implementation (see conftest.py); queries and paging are in test_event_queries.py.
"""

from __future__ import annotations

import pytest

from cellstream.clock import ManualClock
from cellstream.errors import Conflict
from cellstream.events.codec import decode_json, encode_event
from cellstream.events.model import MAX_EVENT_ID
from cellstream.events.query import EventQuery, parse_q
from cellstream.store.protocols import EventStore

from .factory import DAY, event


async def all_ids(store: EventStore, org: int = 1) -> list[int]:
    page = await store.page(EventQuery(org), limit=10_000)
    return [decode_json(body)["id"] for body in page.bodies]


async def test_append_assigns_gap_free_positions_and_increasing_ids(event_store: EventStore) -> None:
    first = await event_store.append([event(ts=i) for i in range(3)])
    second = await event_store.append([event(org=2, ts=5), event(ts=6)])
    stored = first.stored + second.stored
    assert [s.position for s in stored] == [1, 2, 3, 4, 5]
    ids = [s.event.id or 0 for s in stored]
    assert all(0 < i <= MAX_EVENT_ID for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    assert [s.body for s in stored] == [encode_event(s.event) for s in stored]
    assert await event_store.last_position() == 5
    assert (first.duplicates, second.duplicates) == (0, 0)


async def test_generated_ids_increase_even_when_the_clock_steps_back(event_store: EventStore,
                                                                     clock: ManualClock) -> None:
    first = await event_store.append([event(), event()])
    clock.set(clock.now_ms() - 60_000)
    second = await event_store.append([event()])
    assert (second.stored[0].event.id or 0) > (first.stored[-1].event.id or 0)


async def test_given_ids_are_kept(event_store: EventStore) -> None:
    result = await event_store.append([event(id=42), event(), event(id=7)])
    assert [s.event.id for s in result.stored][::2] == [42, 7]
    assert decode_json(result.stored[0].body)["id"] == 42
    assert sorted(await all_ids(event_store)) == sorted(s.event.id or 0 for s in result.stored)


async def test_an_identical_event_is_skipped_as_a_duplicate(event_store: EventStore) -> None:
    await event_store.append([event(id=1), event(id=2)])
    result = await event_store.append([event(id=2), event(id=3), event(id=1)])
    assert [(s.position, s.event.id) for s in result.stored] == [(3, 3)]
    assert result.duplicates == 2
    assert await event_store.last_position() == 3
    again = await event_store.append([event()])
    assert again.stored[0].position == 4  # no gap left by the skipped events


async def test_the_same_event_twice_in_one_batch_is_stored_once(event_store: EventStore) -> None:
    result = await event_store.append([event(id=9), event(), event(id=9)])
    assert [s.position for s in result.stored] == [1, 2]
    assert result.duplicates == 1
    assert await event_store.count(EventQuery(1)) == 2


async def test_the_same_id_in_two_organisations_is_two_events(event_store: EventStore) -> None:
    result = await event_store.append([event(org=1, id=5), event(org=2, id=5)])
    assert len(result.stored) == 2
    assert await all_ids(event_store, 1) == [5]
    assert await all_ids(event_store, 2) == [5]


@pytest.mark.parametrize("stored_first", [True, False], ids=["stored", "same-batch"])
async def test_a_differing_event_with_a_known_id_fails_the_whole_batch(event_store: EventStore,
                                                                       stored_first: bool) -> None:
    if stored_first:
        await event_store.append([event(id=5, type=3)])
    before = await event_store.last_position()
    batch = [event(), event(id=6), event(id=5, type=3), event(id=5, type=5), event()]
    with pytest.raises(Conflict, match=r"event 3: id 5 ") as failure:
        await event_store.append(batch)
    assert "organisation 1" in failure.value.message
    assert await event_store.last_position() == before
    assert await event_store.count(EventQuery(1)) == (1 if stored_first else 0)
    after = await event_store.append([event()])
    assert after.stored[0].position == before + 1


async def test_a_generated_id_never_collides_with_a_given_one(event_store: EventStore,
                                                             clock: ManualClock) -> None:
    next_generated = clock.now_ms() * 1000  # what the generator would hand out next
    await event_store.append([event(id=next_generated), event(id=next_generated + 1)])
    result = await event_store.append([event(), event(), event(id=next_generated + 2)])
    ids = [s.event.id for s in result.stored]
    assert len(set(ids)) == 3
    assert ids[2] == next_generated + 2
    assert next_generated not in ids[:2]
    assert next_generated + 1 not in ids[:2]
    assert len(set(await all_ids(event_store))) == 5


async def test_an_empty_batch_stores_nothing(event_store: EventStore) -> None:
    result = await event_store.append([])
    assert (result.stored, result.duplicates) == ([], 0)
    assert await event_store.last_position() == 0


async def test_counts_are_exact_after_appends_and_deletions(event_store: EventStore,
                                                            clock: ManualClock) -> None:
    queries = [EventQuery(1), EventQuery(1, parse_q("type:3")), EventQuery(2),
               EventQuery(1, scope=("endpoint_id", 10)), EventQuery(1, parse_q("type:5,description:pdp"))]

    async def counts() -> list[int]:
        return [await event_store.count(q) for q in queries]

    assert await counts() == [0, 0, 0, 0, 0]
    first = [event(ts=i, type=3 if i % 2 else 5, endpoint={"id": 10} if i % 3 else None) for i in range(10)]
    await event_store.append(first[:4])
    clock.advance(10)
    await event_store.append(first[4:])
    assert await counts() == [10, 5, 0, 6, 5]
    assert await counts() == [10, 5, 0, 6, 5]  # asked again (a cache must not drift)
    await event_store.append([event(ts=100, type=3), event(org=2, ts=100)])
    assert await counts() == [11, 6, 1, 6, 5]
    assert await event_store.delete_stored_before(clock.now_ms() - 5) == 4  # the first batch
    assert await counts() == [7, 4, 1, 4, 3]
    await event_store.append([event(ts=200, type=5, endpoint={"id": 10})])
    assert await counts() == [8, 4, 1, 5, 4]


async def test_read_after_walks_the_log_in_position_order(event_store: EventStore) -> None:
    await event_store.append([event(org=1 + i % 2, ts=i) for i in range(7)])
    everything = await event_store.read_after(0, 100)
    assert [s.position for s in everything] == [1, 2, 3, 4, 5, 6, 7]
    assert [s.position for s in await event_store.read_after(2, 3)] == [3, 4, 5]
    assert [s.position for s in await event_store.read_after(0, 100, org_id=2)] == [2, 4, 6]
    assert [s.position for s in await event_store.read_after(2, 2, org_id=1)] == [3, 5]
    assert await event_store.read_after(7, 10) == []
    bodies = await event_store.bodies_after(2, 2, org_id=1)
    assert [(b.position, b.org_id, b.body, b.stored_ms) for b in bodies] == [
        (s.position, 1, s.body, s.stored_ms) for s in everything if s.position in (3, 5)]
    first = everything[0]
    assert first.body == encode_event(first.event)
    assert first.event.org_id == 1


async def test_position_before_finds_where_a_time_starts_in_the_log(event_store: EventStore,
                                                                     clock: ManualClock) -> None:
    start = clock.now_ms()
    assert await event_store.position_before(start) == 0  # an empty log
    for _ in range(5):  # positions 1..10, two a minute
        await event_store.append([event(org=1), event(org=2)])
        clock.advance(60_000)
    assert await event_store.position_before(start) == 0
    assert await event_store.position_before(start + 1) == 2
    assert await event_store.position_before(start + 120_000) == 4
    assert await event_store.position_before(start + 10**9) == 10
    assert [s.position for s in await event_store.read_after(
        await event_store.position_before(start + 60_000), 2)] == [3, 4]
    assert await event_store.count_after(0, org_id=1) == 5
    assert await event_store.count_after(4, org_id=2) == 3
    assert await event_store.count_after(10, org_id=1) == 0
    await event_store.delete_stored_before(start + 120_000)  # retention removes positions 1..4
    assert await event_store.position_before(start) == 4
    assert await event_store.position_before(start + 180_000) == 6


async def test_retention_removes_events_stored_long_ago_and_never_lowers_the_position(
        event_store: EventStore, clock: ManualClock) -> None:
    start = clock.now_ms()
    for _ in range(3):
        # the events' own timestamps are far in the past: age counts from when they were stored
        await event_store.append([event(org=org, ts=-400 * DAY) for org in (1, 2)])
        clock.advance(DAY)
    assert await event_store.delete_stored_before(start) == 0
    assert await event_store.delete_stored_before(start + DAY) == 2
    assert await event_store.delete_stored_before(start + DAY) == 0
    assert await event_store.count(EventQuery(1)) == 2
    assert await event_store.count(EventQuery(2)) == 2
    assert [s.position for s in await event_store.read_after(0, 10)] == [3, 4, 5, 6]
    assert await event_store.delete_stored_before(start + 3 * DAY) == 4
    assert await event_store.last_position() == 6
    assert (await event_store.append([event()])).stored[0].position == 7
    health = await event_store.health()
    assert health["events"] == 1
    assert health["last_position"] == 7
    assert health["backend"]


async def test_stored_times_never_go_back_even_when_the_clock_does(event_store: EventStore,
                                                                  clock: ManualClock) -> None:
    first = await event_store.append([event()])
    clock.set(clock.now_ms() - DAY)
    second = await event_store.append([event()])
    assert second.stored[0].stored_ms == first.stored[0].stored_ms
    assert [s.stored_ms for s in await event_store.read_after(0, 10)] == [first.stored[0].stored_ms] * 2


async def test_a_deleted_id_can_be_stored_again(event_store: EventStore, clock: ManualClock) -> None:
    await event_store.append([event(id=1, ts=0)])
    clock.advance(1)
    await event_store.delete_stored_before(clock.now_ms())
    result = await event_store.append([event(id=1, ts=5)])
    assert [s.event.id for s in result.stored] == [1]
    assert result.duplicates == 0
