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

IDENTIFIERS = frozenset({"iccid", "imsi", "msisdn", "imei", "iccid_with_luhn", "eid"})
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()
_TYPE_NAMES = {t.id: t.name for t in catalog.EVENT_TYPES}


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
    # Nearly every producer sends {"id": <known int>, ...}; take it before the lenient checks.
    if type(raw) is dict:
        value = raw.get("id")
        if type(value) is int and value in names:
            return value
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
    ident = raw.get("id")
    if type(ident) is not int:  # skips a call per reference in the common case
        ident = _int(ident)
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

    event_id = raw.get("id")
    if event_id is not None and (isinstance(event_id, bool) or not isinstance(event_id, int)
                                 or not 0 < event_id <= MAX_EVENT_ID):
        problems.add("id", f"must be an integer from 1 to 2^53-1, not {event_id!r}")

    type_id = None
    if "event_type" in raw:
        type_id = _lookup_id(raw["event_type"], "event_type", _TYPE_NAMES, {}, problems)
    else:
        problems.add("event_type", "is required")
    kind = catalog.BY_ID.get(type_id) if type_id is not None else None

    source_id = kind.source if kind else None
    source = raw.get("event_source")
    if source is not None:
        source_id = _lookup_id(source, "event_source", catalog.SOURCES, catalog.SOURCE_ALIASES, problems)
    severity_id = kind.severity if kind else None
    severity = raw.get("event_severity")
    if severity is not None:
        severity_id = _lookup_id(severity, "event_severity", catalog.SEVERITIES, catalog.SEVERITY_ALIASES,
                                 problems)

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
    timestamp = raw.get("timestamp")
    if timestamp is not None:
        if isinstance(timestamp, str):
            try:
                timestamp_ms = parse_timestamp(timestamp)
            except ValueError as exc:
                problems.add("timestamp", str(exc))
        else:
            problems.add("timestamp", f"must be a string, not {timestamp!r}")
    elif now_ms is None:
        problems.add("timestamp", "is required")

    description = raw.get("description")
    if description is None:
        description = kind.name if kind else ""
    elif not isinstance(description, str):
        problems.add("description", f"must be a string, not {type(description).__name__}")

    organisation = raw.get("organisation")
    if organisation is None:
        problems.add("organisation", "is required: an object with the integer id of the organisation")
    organisation = _reference(organisation, "organisation", problems)
    user = _reference(raw.get("user"), "user", problems)
    endpoint = _reference(raw.get("endpoint"), "endpoint", problems)
    sim = _reference(raw.get("sim"), "sim", problems)
    imsi = _reference(raw.get("imsi"), "imsi", problems)
    detail = raw.get("detail")
    if detail is not None and not isinstance(detail, (dict, list)):
        problems.add("detail", f"must be an object, not {type(detail).__name__}")

    if problems.items:
        raise Unprocessable(problems.items)
    if type_id is None or source_id is None or severity_id is None or timestamp_ms is None:
        raise AssertionError("validation passed with a required field missing")
    if organisation is None:
        raise AssertionError("validation passed without an organisation")
    return Event(
        id=event_id, timestamp_ms=timestamp_ms, alert=bool(alert), description=str(description),
        type_id=type_id, source_id=source_id, severity_id=severity_id,
        organisation=organisation, user=user, endpoint=endpoint, sim=sim, imsi=imsi, detail=detail,
    )


class _Lookup(msgspec.Struct):
    id: int
    description: str


class _Wire(msgspec.Struct, omit_defaults=True):
    """The canonical JSON shape: keys in the documented order, a reference or detail that is None left out.

    Encoding a Struct rather than a dict built per event saves ~0.8 µs of the ~4 µs an event costs to encode.
    """

    id: int
    timestamp: str
    alert: bool
    description: str
    event_type: _Lookup
    event_source: _Lookup
    event_severity: _Lookup
    organisation: Ref
    user: Ref | None = None
    endpoint: Ref | None = None
    sim: Ref | None = None
    imsi: Ref | None = None
    detail: Any = None


_TYPE_LOOKUPS = {t.id: _Lookup(t.id, t.name) for t in catalog.EVENT_TYPES}
_SOURCE_LOOKUPS = {i: _Lookup(i, n) for i, n in catalog.SOURCES.items()}
_SEVERITY_LOOKUPS = {i: _Lookup(i, n) for i, n in catalog.SEVERITIES.items()}


def _wire(event: Event) -> _Wire:
    if event.id is None:
        raise ValueError("an event is written out only after the store gave it an id")
    return _Wire(
        event.id, format_timestamp(event.timestamp_ms), event.alert, event.description,
        _TYPE_LOOKUPS[event.type_id], _SOURCE_LOOKUPS[event.source_id], _SEVERITY_LOOKUPS[event.severity_id],
        event.organisation, event.user, event.endpoint, event.sim, event.imsi, event.detail,
    )


def to_wire(event: Event) -> dict[str, Any]:
    """The canonical JSON-ready dict of an event (the id must be assigned)."""
    doc: dict[str, Any] = msgspec.to_builtins(_wire(event))
    return doc


def encode_event(event: Event) -> bytes:
    """Canonical JSON bytes: what the store keeps and every reader returns."""
    return _encoder.encode(_wire(event))


def decode_json(data: bytes | str) -> Any:
    """Parse JSON text; raises ValueError with msgspec's position information."""
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None


def event_from_body(body: bytes) -> Event:
    """Rebuild an Event from stored canonical JSON (trusted: it was validated on the way in)."""
    return decode_event(_decoder.decode(body))
