"""Random events and random queries: every store answers exactly as the in-memory reference.

The strongest check that the SQL compiler matches the predicate in cellstream.events.query: each example
stores random events of two organisations in fresh stores, then asks both random `q`/sort/scope/paging
questions (of either organisation, or of one with no events) and compares pages, cursors and counts.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cellstream.clock import ManualClock
from cellstream.errors import Conflict
from cellstream.events.model import Event
from cellstream.events.query import (
    MAX_VALUES,
    Q_FIELD_NAMES,
    Q_FIELDS,
    SORT_COLUMNS,
    EventQuery,
    decode_cursor,
    encode_cursor,
    parse_q,
    parse_sort,
)
from cellstream.events.timefmt import format_timestamp
from cellstream.store.memory import MemoryEventStore
from cellstream.store.protocols import EventStore
from cellstream.store.sql.sqlite import migrate, open_sqlite_stores

from .factory import BASE_MS, DAY, event, network_detail, settings_for

World = tuple[asyncio.Runner, Path]
Check = tuple[EventQuery, int, int]  # a query, a page size, an offset
FILES = itertools.count()

# Values chosen to collide: LIKE wildcards next to text they would wrongly match ("a_b" / "axb", "100%" /
# "1000", "back\\slash" / "backslash"), ASCII and non-ASCII case pairs, digits that are also ids.
WORDS = ["Tracker", "tracker-1", "ÄRGER", "ärger", "100%", "1000", "a_b", "axb", "back\\slash", "backslash",
         "Fleet Cold", "x", "Ünïcode", "2001:db8::1", "10.0.0.1", "Telekom", "Vodafone DE", "Germany", "47"]
TRICKY = ["_", "%", "\\", "a_b", "100%", "back\\slash", "ä", "Ä", "47", "1", "١", "²"]  # non-ASCII digits
# 19, 20 and 21 digits, each a prefix of the next (exact vs prefix matching at the 19/20 edge), and others
ICCIDS = ["8988303000000000001", "89883030000000000019", "898830300000000000195", "8988303000000000099",
          "98883030000000000012"]
IMSIS = ["901430000000001", "901430000000002", "262011234567890"]
TIMES = [0, 1, 999, 1000, DAY - 1, DAY, DAY + 5, 2 * DAY]

text = st.sampled_from(WORDS)
opt_text = st.none() | text


@st.composite
def events(draw: st.DrawFn, org: int) -> Event:
    endpoint = draw(st.none() | st.fixed_dictionaries(
        {"id": st.integers(1, 4)}, optional={"name": text, "tags": text, "ip_address": text,
                                             "imei": st.sampled_from(["356938035643809", "1"])}))
    user = draw(st.none() | st.fixed_dictionaries(
        {"id": st.sampled_from([1, 7, 47, 1000])}, optional={"name": text, "username": text}))
    sim = draw(st.none() | st.fixed_dictionaries({"id": st.integers(1, 3)},
                                                 optional={"iccid": st.sampled_from(ICCIDS)}))
    detail = draw(st.none() | st.builds(network_detail, text, text, st.none() | st.integers(1, 6)))
    given_id = st.one_of(st.none(), st.none(), st.integers(1, 200))  # rarely the same id twice
    return event(org, id=draw(given_id), type=draw(st.sampled_from([1, 3, 5, 6, 8, 11])),
                 ts=draw(st.sampled_from(TIMES)), alert=draw(st.none() | st.booleans()),
                 description=draw(opt_text), org_name=draw(opt_text), user=user, endpoint=endpoint, sim=sim,
                 imsi=draw(st.none() | st.sampled_from(IMSIS)), detail=detail)


@st.composite
def fragments(draw: st.DrawFn, words: list[str]) -> str:
    """A piece of a known value (so filters hit), its ASCII letters' case flipped at random."""
    word = draw(st.sampled_from(words))
    start = draw(st.integers(0, len(word) - 1))
    piece = word[start:draw(st.integers(start + 1, len(word)))]
    flips = draw(st.lists(st.booleans(), min_size=len(piece), max_size=len(piece)))
    return "".join(c.swapcase() if f and c.isascii() else c for c, f in zip(piece, flips, strict=True))


def q_values(field: str, org: int) -> st.SearchStrategy[str]:
    """The value part of `field:value` in a `q`, drawn to hit the events above."""
    texts = fragments(WORDS).map(str.strip).filter(bool) | st.sampled_from(TRICKY)
    one_of = {
        "type": ["1", "3", "5", "6", "8", "11"], "source": ["0", "1", "2"], "severity": ["0", "1", "2"],
        "alert": ["true", "false", "TRUE"], "ip_address": ["10.0.0.1", "2001:db8::1"],
        "imei": ["356938035643809", "1"], "iccid_with_luhn": [*ICCIDS, "89883030000000000013"],
        "imsi": IMSIS, "rat": ["1", "5", "6"],
    }
    special = {
        "organisation": texts | st.sampled_from([str(org), "1", "2", "999"]),
        "user": texts | st.sampled_from(["1", "7", "47", "1000"]),
        "iccid": st.one_of(st.sampled_from(ICCIDS), st.sampled_from(ICCIDS), fragments(ICCIDS)),
    }
    if field == "from":
        times = st.lists(st.sampled_from(TIMES), min_size=2, max_size=2).map(sorted)
        return times.map(lambda t: f"{_iso(t[0])},until:{_iso(t[1])}")
    if field == "timestamp":
        return st.sampled_from(TIMES).map(_iso)
    values = st.sampled_from(one_of[field]) if field in one_of else special.get(field, texts)
    most = MAX_VALUES if Q_FIELDS[field].multi else 1
    return st.lists(values, min_size=1, max_size=min(most, 3)).map("|".join)


@st.composite
def queries(draw: st.DrawFn, field: str | None = None) -> Check:
    """A query with `field` in its `q` (or 0–2 random fields), a random sort, sometimes a scope, and a
    page size and offset to page with."""
    org = draw(st.sampled_from([1, 1, 2, 3]))
    names = [field] if field else draw(st.lists(st.sampled_from(list(FIELDS)), max_size=2, unique=True))
    q = ",".join(f"{name}:{draw(q_values(name, org))}" for name in names)
    scopes = st.tuples(st.sampled_from(SCOPES), st.sampled_from([1, 2, 7]))
    scope = draw(st.one_of(st.none(), st.none(), st.none(), scopes))  # mostly none: they select little
    query = EventQuery(org, parse_q(q), parse_sort(draw(sorts)), scope)
    return query, draw(st.integers(1, 5)), draw(st.integers(0, 6))


SCOPES: list[Literal["endpoint_id", "sim_id", "user_id"]] = ["endpoint_id", "sim_id", "user_id"]
FIELDS = {name: None for name in Q_FIELD_NAMES if name != "until"}
# One query per q field in every example, so each field meets every kind of data; then a few at random.
checks = st.tuples(*(queries(name) for name in FIELDS)).flatmap(
    lambda each: st.lists(queries(), max_size=3).map(lambda more: [*each, *more]))


def _iso(offset_ms: int) -> str:
    return format_timestamp(BASE_MS + offset_ms)


sorts = st.lists(st.tuples(st.sampled_from(list(SORT_COLUMNS)), st.booleans()), max_size=3,
                 unique_by=lambda item: item[0]).map(
    lambda keys: ",".join(("-" if desc else "") + name for name, desc in keys))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """An event loop for the module and a migrated database file that each example copies."""
    folder = tmp_path_factory.mktemp("equivalence")
    template = folder / "template.db"
    migrate(f"sqlite:///{template}")
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        yield runner, template


async def _append_both(memory: EventStore, sqlite: EventStore, batch: list[Event]) -> None:
    outcomes: list[Any] = []
    for store in (memory, sqlite):
        try:
            result = await store.append(batch)
            outcomes.append([(s.position, s.body) for s in result.stored] + [result.duplicates])
        except Conflict as exc:
            outcomes.append(exc.message)
    assert outcomes[0] == outcomes[1]
    assert await memory.last_position() == await sqlite.last_position()


async def _compare(memory: EventStore, sqlite: EventStore, query: EventQuery, size: int, offset: int) -> None:
    assert await sqlite.count(query) == await memory.count(query)
    full = await memory.page(query, limit=1000)
    assert await sqlite.page(query, limit=1000) == full
    assert await sqlite.page(query, limit=size, offset=offset) == await memory.page(query, limit=size,
                                                                                   offset=offset)
    walked: list[bytes] = []
    after: tuple[Any, ...] | None = None
    while True:
        expected = await memory.page(query, limit=size, after=after)
        assert await sqlite.page(query, limit=size, after=after) == expected
        if not expected.bodies:
            break
        walked += expected.bodies
        assert expected.last_key is not None
        after = decode_cursor(query, encode_cursor(query, expected.last_key))
    assert walked == full.bodies


async def _scenario(template: Path, batches: list[list[Event]], checks: list[Check],
                    cutoff: int | None) -> None:
    """Fresh stores (so an example depends on nothing before it): append batch by batch, counting after
    each (the count cache moves forward), compare everything, apply retention, compare again."""
    path = template.with_name(f"example-{next(FILES)}.db")
    shutil.copyfile(template, path)
    clock = ManualClock()
    sqlite, _ = await open_sqlite_stores(f"sqlite:///{path}", settings_for(str(path)), clock)
    memory = MemoryEventStore(clock)
    try:
        for batch in batches:
            clock.advance(1000)  # batch k is stored at BASE_MS + 1000 k
            await _append_both(memory, sqlite, batch)
            for query, _, _ in checks:  # counts after every batch: the cache must follow appends
                assert await sqlite.count(query) == await memory.count(query)
        for check in checks:
            await _compare(memory, sqlite, *check)
        if cutoff is not None:
            assert await sqlite.delete_stored_before(cutoff) == await memory.delete_stored_before(cutoff)
            for query, _, _ in checks:
                assert await sqlite.count(query) == await memory.count(query)
                assert await sqlite.page(query, limit=1000) == await memory.page(query, limit=1000)
    finally:
        await sqlite.close()
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()


# No shrinking: each example opens a database and asks ~100 questions, so shrinking a failure takes longer
# than the test's time limit. A failure is reported as found (add Phase.shrink here to minimise it locally).
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(batches=st.lists(st.lists(st.sampled_from([1, 2]).flatmap(events), min_size=1, max_size=12),
                        min_size=1, max_size=3),
       repeat=st.booleans(), checks=checks,
       cutoff=st.none() | st.integers(0, 5).map(lambda k: BASE_MS + 1000 * k + k % 2))
def test_sqlite_answers_every_query_like_the_reference(world: World, batches: list[list[Event]], repeat: bool,
                                                       checks: list[Check], cutoff: int | None) -> None:
    runner, template = world
    if repeat:  # the first events again: identical ones are duplicates, those without an id are new
        batches = [*batches, [e for batch in batches for e in batch][:3]]
    runner.run(_scenario(template, batches, checks, cutoff))
