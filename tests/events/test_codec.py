from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from cellstream.errors import Unprocessable
from cellstream.events.codec import decode_event, encode_event, to_wire
from cellstream.events.timefmt import format_timestamp, parse_timestamp
from tests.conftest import need_fixtures


def minimal(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": 42, "timestamp": "2026-01-02T03:04:05.678Z", "alert": False, "description": "hello",
        "event_type": {"id": 1, "description": "Update location"},
        "event_source": {"id": 0, "description": "Network"},
        "event_severity": {"id": 0, "description": "Info"},
        "organisation": {"id": 7, "name": "Org"},
    }
    doc.update(changes)
    return doc


@pytest.mark.parametrize(("text", "expected"), [
    ("2021-10-27T11:59:29.000Z", "2021-10-27T11:59:29.000Z"),
    ("2017-10-26T07:28:00.000+0000", "2017-10-26T07:28:00.000Z"),
    ("2021-10-27T15:17:23Z", "2021-10-27T15:17:23.000Z"),
    ("2021-10-06 10:42:58", "2021-10-06T10:42:58.000Z"),
    ("2026-01-05T19:00:00.000-05:00", "2026-01-06T00:00:00.000Z"),
    ("2021-10-24T12:44:09.901999Z", "2021-10-24T12:44:09.901Z"),
    ("5/8/2017 10:56:25 AM", "2017-05-08T10:56:25.000Z"),
])
def test_timestamps_in_every_documented_form_become_canonical(text: str, expected: str) -> None:
    assert format_timestamp(parse_timestamp(text)) == expected


def test_bad_timestamp_is_rejected_naming_the_field() -> None:
    with pytest.raises(Unprocessable) as info:
        decode_event(minimal(timestamp="yesterday"), "f.jsonl:3")
    assert info.value.problems[0].field == "timestamp"
    assert info.value.problems[0].where == "f.jsonl:3"


def test_documented_variants_are_canonicalised() -> None:
    event = decode_event(minimal(
        alert=1, event_source={"id": 1, "name": "Policy Control"},
        event_severity={"id": 1, "description": "WARN"},
        event_type={"id": 18, "description": "Threshold reached"},
        sim={"id": 3, "iccid": 8988303000000001234, "production_date": "2020-01-01"},
        imsi={"id": 4, "imsi": 901430000000123}, user=None, detail=None,
    ))
    wire = to_wire(event)
    assert wire["alert"] is True
    assert wire["event_source"] == {"id": 1, "description": "Policy Control"}
    assert wire["event_severity"] == {"id": 1, "description": "Warn"}
    assert wire["event_type"] == {"id": 18, "description": "Quota threshold reached"}
    assert wire["sim"]["iccid"] == "8988303000000001234"
    assert wire["imsi"]["imsi"] == "901430000000123"
    assert "user" not in wire
    assert "detail" not in wire
    assert list(wire) == ["id", "timestamp", "alert", "description", "event_type", "event_source",
                          "event_severity", "organisation", "sim", "imsi"]


def test_lookup_given_by_name_only() -> None:
    event = decode_event(minimal(event_severity={"description": "Warning"}, event_source="API"))
    assert (event.severity_id, event.source_id) == (1, 2)


def test_missing_optional_fields_take_the_catalog_defaults() -> None:
    raw = minimal(event_type={"id": 19})
    for key in ("alert", "event_source", "event_severity", "description"):
        del raw[key]
    event = decode_event(raw)
    assert (event.source_id, event.severity_id, event.alert) == (1, 1, True)
    assert event.description == "Quota used up"


@pytest.mark.parametrize(("change", "field"), [
    ({"event_type": {"id": 66}}, "event_type.id"),
    ({"event_type": {"id": 9999}}, "event_type.id"),
    ({"event_type": {"id": -1}}, "event_type.id"),
    ({"event_severity": {"id": 7}}, "event_severity.id"),
    ({"event_source": {"id": "x"}}, "event_source.id"),
    ({"event_type": {"id": True}}, "event_type.id"),
    ({"event_severity": {"id": False}}, "event_severity.id"),
    ({"sim": {"id": True}}, "sim.id"),
    ({"alert": "maybe"}, "alert"),
    ({"id": 2**53}, "id"),
    ({"id": "12"}, "id"),
    ({"organisation": None}, "organisation"),
    ({"organisation": {"name": "no id"}}, "organisation.id"),
    ({"endpoint": {"id": "abc"}}, "endpoint.id"),
    ({"endpoint": [1]}, "endpoint"),
    ({"detail": 5}, "detail"),
    ({"description": 5}, "description"),
])
def test_invalid_fields_are_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises(Unprocessable) as info:
        decode_event(minimal(**change))
    assert field in [p.field for p in info.value.problems]


def test_event_type_is_required() -> None:
    raw = minimal()
    del raw["event_type"]
    with pytest.raises(Unprocessable, match="event_type: is required"):
        decode_event(raw)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(Unprocessable) as info:
        decode_event(minimal(alert="x", timestamp="nope", event_type={"id": 66}))
    assert {p.field for p in info.value.problems} == {"alert", "timestamp", "event_type.id"}


def test_not_an_object() -> None:
    with pytest.raises(Unprocessable, match="must be a JSON object"):
        decode_event([1, 2])


def test_encoding_is_stable_and_reversible() -> None:
    event = decode_event(minimal(detail={"b": 1, "a": [1, 2]}))
    body = encode_event(event)
    again = decode_event(msgspec.json.decode(body))
    assert encode_event(again) == body


def test_every_documented_example_round_trips_in_canonical_form() -> None:
    folder = need_fixtures()
    files = sorted(folder.glob("event-*.json"))
    assert files
    for path in files:
        raw = json.loads(path.read_text())
        wire = json.loads(encode_event(decode_event(raw, path.name)))
        assert wire["id"] == raw["id"], path.name
        assert parse_timestamp(wire["timestamp"]) == parse_timestamp(raw["timestamp"]), path.name
        assert wire["alert"] is bool(raw["alert"]), path.name
        for key in ("organisation", "user", "endpoint", "sim", "imsi", "detail"):
            expected = raw.get(key)
            if expected is None:
                assert key not in wire, path.name
            elif key in ("sim", "imsi", "endpoint"):
                assert {k: str(v) if k in ("iccid", "imsi", "imei") and isinstance(v, int) else v
                        for k, v in expected.items()} == wire[key], path.name
            else:
                assert wire[key] == expected, path.name
