"""The EventStore contract for queries: every `q` field, every sort field, scopes, tenants, paging.

Expected answers are worked out by hand from tests/contracts/dataset.py, not taken from any store.
"""

from __future__ import annotations

from typing import Any

import pytest

from cellstream.clock import ManualClock
from cellstream.events.codec import decode_json
from cellstream.events.columns import columns_of
from cellstream.events.query import (
    SORT_COLUMNS,
    EventQuery,
    decode_cursor,
    encode_cursor,
    parse_q,
    parse_sort,
)
from cellstream.store.protocols import EventStore

from .dataset import ALL_IDS, DATASET, org_events
from .factory import event


@pytest.fixture
async def store(event_store: EventStore) -> EventStore:
    await event_store.append(DATASET)
    return event_store


def ids_of(bodies: list[bytes]) -> list[int]:
    return [decode_json(body)["id"] for body in bodies]


async def select(store: EventStore, query: EventQuery) -> list[int]:
    return ids_of((await store.page(query, limit=1000)).bodies)


Q_CASES: list[tuple[str, set[int]]] = [
    ("type:3", {1, 6, 7}),
    ("type:3|5", {1, 2, 6, 7}),
    ("type:99", set()),
    ("source:0", {1, 2, 3, 6, 7}),
    ("source:1|2", {4, 5, 4000}),
    ("severity:1", {4, 4000}),
    ("alert:true", {3, 4000}),
    ("alert:FALSE", {1, 2, 4, 5, 6, 7}),
    ("description:pdp", {1, 2, 6}),
    ("description:failed LOGIN", {4}),
    ("description:Ärger", {7}),  # only ASCII letters fold: Ä matches Ä …
    ("description:äRGER", set()),  # … and not ä
    ("description:ümlaut", set()),
    ("description:%", set()),  # LIKE wildcards match themselves only
    ("endpoint:%_", {5, 6}),
    ("endpoint:_sure", {5, 6}),
    ("endpoint:\\", {5, 6}),
    ("endpoint:0 s", {7}),
    ("endpoint:TRACKER", {1, 2, 3, 4000}),
    ("endpoint:north|SOUTH", {1, 2, 3, 4000}),
    ("endpoint:north", {1, 3}),
    ("organisation:acme", {1, 2, 3, 4, 5, 6, 4000}),
    ("organisation:SUBSID", {4000}),
    ("organisation:1", ALL_IDS),  # digits: the organisation's id (event 7 has no organisation name)
    ("organisation:2", set()),
    ("organisation:١", set()),  # an Arabic-Indic digit one is text, not organisation 1's id
    ("user:³¹", set()),  # superscript digits: text, not user 31 (the predicate used to crash on int())
    ("user:ada", {4}),
    ("user:EXAMPLE.COM", {4, 5, 6}),
    ("user:31", {5}),  # Bob's user id
    ("user:47", {6}),  # text: "Agent 47" (whose id is 7)
    ("user:7", {6}),
    ("tags:fleet", {1, 2, 3, 4000}),
    ("tags:cold", {1, 3}),
    ("ip_address:10.0.0.1", {1, 3}),
    ("ip_address:2001:db8::1", {4000}),
    ("imei:356938035643809", {1, 3}),
    ("iccid:8988303000000000001", {1, 3}),  # 19 digits: a prefix
    ("iccid:898830300000000009", {5, 6}),  # 18 digits: a prefix
    ("iccid:8988303000000000002", {2, 7}),  # 19 digits: a prefix of the 20- and the 21-digit ICCID
    ("iccid:89883030000000000029", {2}),  # 20 digits: exact, not a prefix of event 7's 21 digits
    ("iccid:89883030000000000020", set()),
    ("iccid:8988303|98883", {1, 2, 3, 5, 6, 7}),
    ("iccid_with_luhn:89883030000000000029", {2}),
    ("iccid_with_luhn:89883030000000000013", {1, 3}),  # stored without the Luhn digit
    ("imsi:901430000000002", {2}),
    ("imsi:90143000000000", set()),
    ("network:tele", {1, 6}),
    ("network:vodafone|ORANGE", {2, 3}),
    ("country:germany", {1, 2}),
    ("country:GERMANY|austria", {1, 2, 6}),
    ("rat:6", {1, 6}),
    ("rat:5|6", {1, 2, 6}),
    ("from:2026-01-01T00:00:01Z,until:2026-01-02T00:00:00Z", {2, 3, 4, 5}),
    ("from:2026-01-01T00:00:01.001Z,until:2026-01-01T00:00:02.999Z", {3}),
    ("timestamp:2026-01-02T10:00:00Z", {5, 6}),
    ("type:3,endpoint:100", {6, 7}),
    ("type:3|5,country:germany,rat:5", {2}),
]


@pytest.mark.parametrize(("q", "expected"), Q_CASES, ids=[q for q, _ in Q_CASES])
async def test_every_q_field_selects_what_it_documents(store: EventStore, q: str, expected: set[int]) -> None:
    query = EventQuery(1, parse_q(q))
    selected = await select(store, query)
    assert set(selected) == expected
    assert len(selected) == len(expected)
    assert await store.count(query) == len(expected)


SCOPES: list[tuple[tuple[Any, int], str, set[int]]] = [
    (("endpoint_id", 10), "", {1, 3}),
    (("endpoint_id", 12), "type:3", {6}),
    (("sim_id", 20), "", {1, 3}),
    (("sim_id", 99), "", set()),
    (("user_id", 31), "", {5}),
    (("user_id", 7), "user:agent", {6}),
]


@pytest.mark.parametrize(("scope", "q", "expected"), SCOPES)
async def test_a_scope_narrows_to_one_endpoint_sim_or_user(store: EventStore, scope: Any, q: str,
                                                           expected: set[int]) -> None:
    query = EventQuery(1, parse_q(q), scope=scope)
    assert set(await select(store, query)) == expected
    assert await store.count(query) == len(expected)


DEVICE = {"id": 10, "name": "tracker"}


async def test_a_scope_finds_its_events_whatever_day_they_were_stored(event_store: EventStore,
                                                                    clock: ManualClock) -> None:
    """The SQLite scope indexes lead with the store day: rows from every stored day must be reached, in
    order, and counted, also after retention removed the first days."""
    day = 86_400_000
    for n in range(4):
        await event_store.append([event(id=i, ts=n, endpoint=DEVICE) for i in (10 + n, 20 + n)])
        clock.advance(day + 1 if n != 1 else 5 * day)  # a gap of days with nothing stored
    await event_store.append([event(id=5, ts=9, endpoint=DEVICE), event(id=6, ts=9)])  # 5: a smaller id, last
    query = EventQuery(1, scope=("endpoint_id", 10), sort=parse_sort("-id"))
    every = [23, 22, 21, 20, 13, 12, 11, 10, 5]
    assert await select(event_store, query) == every
    assert await event_store.count(query) == len(every)
    page = await event_store.page(query, limit=3, offset=3)
    assert ids_of(page.bodies) == every[3:6]
    assert await event_store.delete_stored_before(clock.now_ms() - 3 * day) == 4
    assert await select(event_store, query) == [23, 22, 13, 12, 5]
    assert await event_store.count(query) == 5


async def test_an_organisation_never_sees_another_ones_events(store: EventStore) -> None:
    await store.append([*org_events(3)[:2]])
    for org, expected in ((1, 8), (2, 8), (3, 2), (4, 0)):
        page = await store.page(EventQuery(org), limit=100)
        assert {decode_json(b)["organisation"]["id"] for b in page.bodies} <= {org}
        assert len(page.bodies) == expected
        assert await store.count(EventQuery(org)) == expected


def expected_order(field: str, descending: bool) -> list[int]:
    """Sorted by one field then id ascending; NULL is larger than every value."""
    column = SORT_COLUMNS[field]
    rows = [columns_of(e) for e in DATASET if e.org_id == 1]
    present = sorted((r for r in rows if getattr(r, column) is not None), key=lambda r: r.id)
    present.sort(key=lambda r: getattr(r, column), reverse=descending)
    missing = sorted((r for r in rows if getattr(r, column) is None), key=lambda r: r.id)
    ordered = missing + present if descending else present + missing
    if field == "id":
        return sorted((r.id for r in rows), reverse=descending)
    return [r.id for r in ordered]


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("field", list(SORT_COLUMNS))
async def test_every_sort_field_orders_with_null_last(store: EventStore, field: str,
                                                      descending: bool) -> None:
    query = EventQuery(1, sort=parse_sort(("-" if descending else "") + field))
    assert await select(store, query) == expected_order(field, descending)


async def test_sort_on_two_fields_then_id(store: EventStore) -> None:
    query = EventQuery(1, sort=parse_sort("-source,timestamp"))
    assert await select(store, query) == [4, 5, 4000, 1, 2, 3, 6, 7]
    query = EventQuery(1, sort=parse_sort("tags,-id"))
    assert await select(store, query) == [4000, 2, 3, 1, 7, 6, 5, 4]


async def test_offset_paging_and_past_the_end(store: EventStore) -> None:
    query = EventQuery(1, sort=parse_sort("-timestamp"))
    everything = await select(store, query)
    pages = [ids_of((await store.page(query, limit=3, offset=o)).bodies) for o in (0, 3, 6)]
    assert [i for page in pages for i in page] == everything
    beyond = await store.page(query, limit=3, offset=8)
    assert beyond.bodies == []
    assert beyond.last_key is None
    assert (await store.page(query, limit=3, offset=1000)).bodies == []


KEYSET_SORTS = ["id", "-id", "-timestamp", "timestamp,-id", "endpoint", "-endpoint,iccid", "alert,-timestamp",
                "-user,tags", "imsi,-ip_address", "-organisation", "type,-severity,source"]


@pytest.mark.parametrize("sort", KEYSET_SORTS)
@pytest.mark.parametrize("q", ["", "type:3|5|8|11", "organisation:acme"])
async def test_keyset_paging_visits_every_row_once(store: EventStore, sort: str, q: str) -> None:
    query = EventQuery(1, parse_q(q), parse_sort(sort))
    everything = await select(store, query)
    for size in (1, 3):
        walked: list[int] = []
        after: tuple[Any, ...] | None = None
        for _ in range(20):
            page = await store.page(query, limit=size, after=after)
            if not page.bodies:
                break
            walked += ids_of(page.bodies)
            assert page.last_key is not None
            after = decode_cursor(query, encode_cursor(query, page.last_key))  # through JSON and back
        assert walked == everything
    by_offset = [ids_of((await store.page(query, limit=3, offset=o)).bodies) for o in range(0, 9, 3)]
    assert [i for page in by_offset for i in page] == everything


async def test_the_last_key_holds_the_sort_values_of_the_last_row(store: EventStore) -> None:
    query = EventQuery(1, sort=parse_sort("alert,-endpoint,imsi"))
    everything = await select(store, query)
    assert everything == [4, 2, 1, 5, 6, 7, 4000, 3]
    page = await store.page(query, limit=4)
    assert ids_of(page.bodies) == [4, 2, 1, 5]
    assert page.last_key == (False, "100%_sure\\path", None, 5)
    after = await store.page(query, limit=1, offset=0, after=page.last_key)
    assert ids_of(after.bodies) == [6]
