"""Properties of the codec over generated input: canonical output is a fixed point, and timestamps are
written exactly as datetime renders them (formatting works from a per-day cache and arithmetic)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cellstream.errors import Unprocessable
from cellstream.events import catalog
from cellstream.events.codec import IDENTIFIERS, decode_event, encode_event, event_from_body, to_wire
from cellstream.events.model import MAX_EVENT_ID
from cellstream.events.timefmt import format_timestamp, parse_timestamp

MIN_MS = int(datetime(1, 1, 1, tzinfo=UTC).timestamp()) * 1000
MAX_MS = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()) * 1000 + 999
# From two days after year 1 to two days before year 10000: a zone offset then stays within the years a
# timestamp can be written in.
MILLIS = st.integers(MIN_MS + 2 * 86_400_000, MAX_MS - 2 * 86_400_000)
TEXT = st.text(max_size=8)


def lookup(ids: list[int], names: dict[int, str]) -> st.SearchStrategy[Any]:
    return st.sampled_from(ids).flatmap(lambda i: st.sampled_from([
        {"id": i}, {"id": i, "description": names[i]}, {"id": i, "description": "any text"},
        {"id": str(i)}, {"id": i == 1}, {"description": names[i].upper()}, names[i].lower(), i,
    ]))


def reference() -> st.SearchStrategy[dict[str, Any]]:
    extra = st.dictionaries(st.sampled_from(["name", "username", "tags", "ip_address", "x"]),
                            st.one_of(st.none(), TEXT, st.integers()), max_size=3)
    identifiers = st.dictionaries(st.sampled_from(sorted(IDENTIFIERS)),
                                  st.one_of(st.integers(0, 10**19), st.text("0123456789", max_size=19)),
                                  max_size=3)
    ids = st.one_of(st.integers(-5, 2**62), st.integers(0, 10**6).map(str), st.booleans())
    return st.builds(lambda i, e, n: {"id": i, **e, **n}, ids, extra, identifiers)


def timestamp() -> st.SearchStrategy[str]:
    return MILLIS.flatmap(lambda ms: st.sampled_from([
        format_timestamp(ms),
        format_timestamp(ms).replace("Z", "+0000"),
        format_timestamp(ms).replace("T", " ").removesuffix("Z"),
        format_timestamp(ms).removesuffix("Z") + "-05:30",
    ]))


FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "id": st.one_of(st.none(), st.integers(1, MAX_EVENT_ID), st.sampled_from([0, 2**53, "12", True])),
    "timestamp": st.one_of(timestamp(), st.sampled_from(["5/8/2017 10:56:25 AM", "yesterday", 5])),
    "alert": st.sampled_from([True, False, 0, 1, "true", "FALSE", None, 2, "x"]),
    "description": st.one_of(TEXT, st.none(), st.just(5)),
    "event_type": lookup([t.id for t in catalog.EVENT_TYPES], {t.id: t.name for t in catalog.EVENT_TYPES}),
    "event_source": lookup(sorted(catalog.SOURCES), catalog.SOURCES),
    "event_severity": lookup(sorted(catalog.SEVERITIES), catalog.SEVERITIES),
    "organisation": reference(),
    "user": st.one_of(st.none(), reference()),
    "endpoint": st.one_of(st.none(), reference()),
    "sim": st.one_of(st.none(), reference()),
    "imsi": st.one_of(st.none(), reference()),
    "detail": st.one_of(st.none(), st.dictionaries(TEXT, st.integers(), max_size=2),
                        st.lists(st.integers(), max_size=2)),
}


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    return {name: draw(values) for name, values in FIELDS.items()
            if name in ("event_type", "organisation") or draw(st.booleans())}


@settings(max_examples=500)
@given(events(), st.one_of(st.none(), MILLIS), st.integers(1, MAX_EVENT_ID))
def test_canonical_output_decodes_to_the_same_event_and_bytes(raw: dict[str, Any], now_ms: int | None,
                                                              event_id: int) -> None:
    try:
        event = decode_event(raw, now_ms=now_ms)
    except Unprocessable:
        return
    event = event.with_id(event_id)
    body = encode_event(event)
    again = event_from_body(body)
    assert repr(again) == repr(event)
    assert encode_event(again) == body
    assert json.loads(body) == to_wire(event)


@settings(max_examples=500)
@given(st.integers(MIN_MS, MAX_MS))
def test_timestamps_are_written_as_datetime_renders_them_and_read_back(ms: int) -> None:
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    expected = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"  # %Y leaves years < 1000 short
    assert format_timestamp(ms) == expected
    assert parse_timestamp(expected) == ms
