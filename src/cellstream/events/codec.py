"""The one event codec: documented input variants in, canonical JSON out.

Input may write `alert` as 1/0, severities in any case ("INFO", "Warning"), `name` instead of
`description` in lookups, timestamps with '+0000' offsets or no zone, and identifiers (iccid, imsi,
msisdn, imei) as JSON numbers. Output is always: timestamps UTC `YYYY-MM-DDTHH:mm:ss.SSSZ`, `alert` a
boolean, lookups `{id, description}` with the catalog's names, identifiers as strings, top-level
objects that do not apply omitted, keys in the documented order.
"""

from __future__ import annotations

from typing import Any

import msgspec

from cellstream.errors import FieldProblem, Unprocessable
from cellstream.events import catalog
from cellstream.events.model import MAX_EVENT_ID, Event, Ref
from cellstream.events.timefmt import format_timestamp, parse_timestamp

REFERENCES = ("organisation", "user", "endpoint", "sim", "imsi")
IDENTIFIERS = frozenset({"iccid", "imsi", "msisdn", "imei", "iccid_with_luhn", "eid"})
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class _Problems:
    def __init__(self, where: str) -> None:
        self.where = where
        self.items: list[FieldProblem] = []

    def add(self, field: str, problem: str) -> None:
        self.items.append(FieldProblem(field, problem, self.where))


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        return int(value)
    return None


def _lookup_id(raw: Any, field: str, names: dict[int, str], aliases: dict[str, int],
               problems: _Problems) -> int | None:
    """A lookup given as {id, description|name}, as a bare id, or by its name alone."""
    if isinstance(raw, dict):
        if "id" in raw and raw["id"] is not None:
            value = _int(raw["id"])
            if value is None or value not in names:
                problems.add(f"{field}.id", f"{raw['id']!r} is not one of {sorted(names)}")
            return value
        text = raw.get("description", raw.get("name"))
    else:
        text = raw
    if isinstance(text, bool):
        text = None
    if isinstance(text, int):
        if text in names:
            return text
        problems.add(field, f"{text!r} is not one of {sorted(names)}")
        return None
    if isinstance(text, str) and text.strip().lower() in aliases:
        return aliases[text.strip().lower()]
    problems.add(field, f"{raw!r} is not a known {field.replace('event_', '')}")
    return None


def _reference(raw: Any, field: str, problems: _Problems) -> Ref | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.add(field, f"must be an object with an integer id, not {type(raw).__name__}")
        return None
    ident = _int(raw.get("id"))
    if ident is None:
        problems.add(f"{field}.id", f"must be an integer, not {raw.get('id')!r}")
        return None
    ref = dict(raw)
    ref["id"] = ident
    for key, value in raw.items():
        if key in IDENTIFIERS and isinstance(value, int) and not isinstance(value, bool):
            ref[key] = str(value)
    return ref


def decode_event(raw: Any, where: str = "", *, now_ms: int | None = None) -> Event:
    """Validate one event given in any documented form. Raises Unprocessable naming every bad field."""
    problems = _Problems(where)
    if not isinstance(raw, dict):
        problems.add("event", f"must be a JSON object, not {type(raw).__name__}")
        raise Unprocessable(problems.items)

    event_id: int | None = None
    if raw.get("id") is not None:
        event_id = raw["id"] if isinstance(raw["id"], int) and not isinstance(raw["id"], bool) else None
        if event_id is None or not 0 < event_id <= MAX_EVENT_ID:
            problems.add("id", f"must be an integer from 1 to 2^53-1, not {raw['id']!r}")

    type_id = _lookup_id(raw.get("event_type"), "event_type", {t.id: t.name for t in catalog.EVENT_TYPES},
                         {}, problems) if "event_type" in raw else None
    if "event_type" not in raw:
        problems.add("event_type", "is required")
    kind = catalog.BY_ID.get(type_id) if type_id is not None else None

    source_id = kind.source if kind else None
    if raw.get("event_source") is not None:
        source_id = _lookup_id(raw["event_source"], "event_source", catalog.SOURCES, catalog.SOURCE_ALIASES,
                               problems)
    severity_id = kind.severity if kind else None
    if raw.get("event_severity") is not None:
        severity_id = _lookup_id(raw["event_severity"], "event_severity", catalog.SEVERITIES,
                                 catalog.SEVERITY_ALIASES, problems)

    alert = raw.get("alert")
    if alert is None:
        alert = kind.alert if kind else False
    elif not isinstance(alert, bool):
        if alert in (0, 1) and isinstance(alert, int):
            alert = bool(alert)
        elif isinstance(alert, str) and alert.lower() in ("true", "false"):
            alert = alert.lower() == "true"
        else:
            problems.add("alert", f"must be true/false (or 1/0), not {alert!r}")

    timestamp_ms = now_ms
    if raw.get("timestamp") is not None:
        if isinstance(raw["timestamp"], str):
            try:
                timestamp_ms = parse_timestamp(raw["timestamp"])
            except ValueError as exc:
                problems.add("timestamp", str(exc))
        else:
            problems.add("timestamp", f"must be a string, not {raw['timestamp']!r}")
    elif now_ms is None:
        problems.add("timestamp", "is required")

    description = raw.get("description")
    if description is None:
        description = kind.name if kind else ""
    elif not isinstance(description, str):
        problems.add("description", f"must be a string, not {type(description).__name__}")

    if raw.get("organisation") is None:
        problems.add("organisation", "is required: an object with the integer id of the organisation")
    refs = {name: _reference(raw.get(name), name, problems) for name in REFERENCES}
    detail = raw.get("detail")
    if detail is not None and not isinstance(detail, (dict, list)):
        problems.add("detail", f"must be an object, not {type(detail).__name__}")

    if problems.items:
        raise Unprocessable(problems.items)
    if type_id is None or source_id is None or severity_id is None or timestamp_ms is None:
        raise AssertionError("validation passed with a required field missing")
    if refs["organisation"] is None:
        raise AssertionError("validation passed without an organisation")
    return Event(
        id=event_id, timestamp_ms=timestamp_ms, alert=bool(alert), description=str(description),
        type_id=type_id, source_id=source_id, severity_id=severity_id,
        organisation=refs["organisation"], user=refs["user"], endpoint=refs["endpoint"], sim=refs["sim"],
        imsi=refs["imsi"], detail=detail,
    )


_TYPE_LOOKUPS = {t.id: {"id": t.id, "description": t.name} for t in catalog.EVENT_TYPES}
_SOURCE_LOOKUPS = {i: {"id": i, "description": n} for i, n in catalog.SOURCES.items()}
_SEVERITY_LOOKUPS = {i: {"id": i, "description": n} for i, n in catalog.SEVERITIES.items()}


def to_wire(event: Event) -> dict[str, Any]:
    """The canonical JSON-ready dict of an event (the id must be assigned)."""
    if event.id is None:
        raise ValueError("an event is written out only after the store gave it an id")
    doc: dict[str, Any] = {
        "id": event.id,
        "timestamp": format_timestamp(event.timestamp_ms),
        "alert": event.alert,
        "description": event.description,
        "event_type": _TYPE_LOOKUPS[event.type_id],
        "event_source": _SOURCE_LOOKUPS[event.source_id],
        "event_severity": _SEVERITY_LOOKUPS[event.severity_id],
        "organisation": event.organisation,
    }
    for name in ("user", "endpoint", "sim", "imsi"):
        value = getattr(event, name)
        if value is not None:
            doc[name] = value
    if event.detail is not None:
        doc["detail"] = event.detail
    return doc


def encode_event(event: Event) -> bytes:
    """Canonical JSON bytes: what the store keeps and every reader returns."""
    return _encoder.encode(to_wire(event))


def decode_json(data: bytes | str) -> Any:
    """Parse JSON text; raises ValueError with msgspec's position information."""
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None


def event_from_body(body: bytes) -> Event:
    """Rebuild an Event from stored canonical JSON (trusted: it was validated on the way in)."""
    return decode_event(_decoder.decode(body))
