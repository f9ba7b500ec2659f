from __future__ import annotations

from typing import Any

import pytest

from cellstream.errors import BadParameter, Unprocessable
from cellstream.events.codec import decode_event
from cellstream.events.columns import EventColumns, columns_of
from cellstream.events.query import EventQuery, decode_cursor, encode_cursor, parse_q, parse_sort


def row(**changes: Any) -> EventColumns:
    doc: dict[str, Any] = {
        "id": 1, "timestamp": "2026-01-02T03:04:05.000Z", "alert": True,
        "description": "PDP Context deleted.",
        "event_type": {"id": 5}, "organisation": {"id": 7, "name": "Acme Fleet"},
        "user": {"id": 9, "name": "Ops", "username": "ops@example.com"},
        "endpoint": {"id": 11, "name": "Truck 12", "tags": "eu,cold", "ip_address": "10.0.0.1",
                     "imei": "3566200000000012"},
        "sim": {"id": 21, "iccid": "8988303000000001234"}, "imsi": {"id": 31, "imsi": "901430000000123"},
        "detail": {"name": "Telekom", "country": {"name": "Germany"}, "pdp_context": {"rat_type": 6}},
    }
    doc.update(changes)
    return columns_of(decode_event(doc))


@pytest.mark.parametrize(("q", "hit"), [
    ("type:5", True), ("type:1|5", True), ("type:1", False),
    ("source:0", True), ("severity:0", True), ("alert:true", True), ("alert:FALSE", False),
    ("description:context DELETED", True), ("description:created", False),
    ("organisation:acme", True), ("organisation:7", True), ("organisation:8", False),
    ("user:ops@", True), ("user:9", True), ("user:nobody", False),
    ("endpoint:truck|bus", True), ("endpoint:bus", False),
    ("tags:cold", True), ("ip_address:10.0.0.1", True), ("ip_address:10.0.0.2", False),
    ("imei:3566200000000012", True), ("imsi:901430000000123", True), ("imsi:90143", False),
    ("iccid:8988303", True), ("iccid:8988303000000001234", True), ("iccid:89883030000000012345", False),
    ("iccid_with_luhn:89883030000000012345", True),
    ("network:telekom", True), ("rat:6", True), ("rat:2", False), ("country:germ|fra", True),
    ("from:2026-01-02T03:04:05Z,until:2026-01-02T03:04:05Z", True),
    ("from:2026-01-01T00:00:00Z,until:2026-01-02T03:04:04Z", False),
    ("timestamp:2026-01-02T00:00:00Z", True), ("timestamp:2026-01-03T00:00:00Z", False),
    ("type:5,alert:true,endpoint:truck", True), ("type:5,alert:false", False),
])
def test_each_field_matches_as_documented(q: str, hit: bool) -> None:
    assert parse_q(q).matches(row()) is hit


def test_iccid_longer_than_19_digits_matches_exactly() -> None:
    long = row(sim={"id": 1, "iccid": "89883030000000012345"})
    assert parse_q("iccid:8988303000000001234").matches(long)
    assert parse_q("iccid:89883030000000012345").matches(long)
    assert not parse_q("iccid:89883030000000012346").matches(long)


def test_events_without_the_field_do_not_match() -> None:
    bare = row(endpoint=None, sim=None, imsi=None, user=None, detail=None)
    for q in ("endpoint:x", "iccid:89", "imsi:9", "user:ops", "network:t", "rat:6", "ip_address:10.0.0.1"):
        assert not parse_q(q).matches(bare), q


@pytest.mark.parametrize("q", [
    "from:2026-01-01T00:00:00Z", "until:2026-01-01T00:00:00Z", "nope:1", "type:abc", "type:",
    "from:yesterday,until:today", "type:1,type:2", "alert:maybe", "type:1|2|3|4|5|6|7",
    "description:a|b", "ip_address:999.1.1.1", "imsi:12ab", "justtext",
    "from:2026-02-01T00:00:00Z,until:2026-01-01T00:00:00Z",
])
def test_bad_q_is_unprocessable_naming_q(q: str) -> None:
    with pytest.raises(Unprocessable) as info:
        parse_q(q)
    assert info.value.problems[0].field == "q"


def test_empty_q_matches_everything() -> None:
    assert parse_q("").matches(row())
    assert parse_q(None).conditions == ()


def test_sort_parsing() -> None:
    keys = parse_sort("-timestamp,type")
    assert [(k.field, k.descending) for k in keys] == [("timestamp", True), ("type", False), ("id", False)]
    assert [k.field for k in parse_sort("-id")] == ["id"]
    for bad in ("nope", "id,id", "-", "timestamp,,id"):
        with pytest.raises(BadParameter):
            parse_sort(bad)


def test_cursor_is_bound_to_its_query() -> None:
    query = EventQuery(org_id=1, filter=parse_q("type:1"), sort=parse_sort("-timestamp"))
    token = encode_cursor(query, [1700000000000, 5])
    assert decode_cursor(query, token) == (1700000000000, 5)
    other = EventQuery(org_id=1, filter=parse_q("type:2"), sort=parse_sort("-timestamp"))
    with pytest.raises(BadParameter):
        decode_cursor(other, token)
    with pytest.raises(BadParameter):
        decode_cursor(query, "garbage!")
