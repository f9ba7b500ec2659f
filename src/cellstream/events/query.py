"""The one query grammar: emnify's `q` and `sort` parameters parsed into a filter model.

`q` is `field:value` pairs separated by commas (`type:3|5,from:…,until:…`); `sort` is a comma-separated
list of fields, `-` for descending. Both compile to SQL in the stores and to a predicate here, used by the
in-memory store, data-stream filters, automations and the portal, so they all agree on what matches.

Text filters (description, organisation, user, endpoint, tags, network, country) match a case-insensitive
(ASCII) substring. `iccid` matches as a prefix when 19 characters or shorter, exactly when longer, as
documented. Numeric lookups, ip_address, imei and imsi match exactly. `from` and `until` are inclusive and
only valid together; `timestamp` selects one UTC day. NULL sorts after every value ascending.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from cellstream.errors import BadParameter, Unprocessable
from cellstream.events.columns import EventColumns
from cellstream.events.timefmt import parse_timestamp

Op = Literal["in", "contains", "iccid", "between", "text_or_id"]
MAX_VALUES = 6
DAY_MS = 86_400_000
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only: the case folding SQL LIKE applies, so every store agrees."""
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class Condition:
    op: Op
    column: str
    values: tuple[Any, ...]
    id_column: str = ""  # text_or_id: an all-digit value may also be this column's id

    def matches(self, row: EventColumns) -> bool:
        value = getattr(row, self.column)
        if self.op == "in":
            return value in self.values
        if self.op == "between":
            return value is not None and self.values[0] <= value <= self.values[1]
        if self.op == "iccid":
            return value is not None and any(
                value == v if len(v) > 19 else value.startswith(v) for v in self.values)
        text = ascii_lower(value) if isinstance(value, str) else None
        hit = text is not None and any(ascii_lower(v) in text for v in self.values)
        if self.op == "contains" or hit:
            return hit
        ident = getattr(row, self.id_column)
        return ident is not None and any(v.isascii() and v.isdigit() and int(v) == ident for v in self.values)


@dataclass(frozen=True)
class EventFilter:
    """All conditions must hold. `text` is the `q` it was parsed from, normalised."""

    conditions: tuple[Condition, ...] = ()
    text: str = ""

    def matches(self, row: EventColumns) -> bool:
        return all(c.matches(row) for c in self.conditions)


@dataclass(frozen=True)
class SortKey:
    field: str  # the public name, e.g. "timestamp"
    column: str  # the EventColumns field
    descending: bool = False


SORT_COLUMNS: dict[str, str] = {
    "id": "id", "timestamp": "ts_ms", "source": "source_id", "severity": "severity_id", "alert": "alert",
    "organisation": "org_name", "user": "user_id", "endpoint": "endpoint_name", "tags": "tags",
    "ip_address": "ip_address", "iccid": "iccid", "imsi": "imsi", "type": "type_id",
}
DEFAULT_SORT: tuple[SortKey, ...] = (SortKey("id", "id"),)


@dataclass(frozen=True)
class EventQuery:
    """One organisation's events, optionally narrowed to one endpoint, SIM or user, filtered and sorted."""

    org_id: int
    filter: EventFilter = field(default_factory=EventFilter)
    sort: tuple[SortKey, ...] = DEFAULT_SORT
    scope: tuple[Literal["endpoint_id", "sim_id", "user_id"], int] | None = None

    def matches(self, row: EventColumns) -> bool:
        if row.org_id != self.org_id:
            return False
        if self.scope is not None and getattr(row, self.scope[0]) != self.scope[1]:
            return False
        return self.filter.matches(row)

    @functools.cached_property
    def fingerprint(self) -> str:
        """Names what the query selects and how it orders it (not the page): cache and cursor key."""
        sort = ",".join(("-" if k.descending else "") + k.field for k in self.sort)
        text = f"{self.org_id}|{self.scope}|{self.filter.text}|{sort}"
        return hashlib.blake2s(text.encode(), digest_size=12).hexdigest()


# ---------- q ----------

def _bad(problem: str) -> Unprocessable:
    return Unprocessable.of("q", problem)


def _ints(name: str, values: list[str]) -> tuple[int, ...]:
    out = []
    for v in values:
        if not (v.isascii() and v.isdigit()):
            raise _bad(f"{name} takes numeric ids, not {v!r}")
        out.append(int(v))
    return tuple(out)


def _digits(name: str, values: list[str]) -> tuple[str, ...]:
    for v in values:
        if not (v.isascii() and v.isdigit()):
            raise _bad(f"{name} takes digits only, not {v!r}")
    return tuple(values)


def _bool(name: str, values: list[str]) -> tuple[bool, ...]:
    out = []
    for v in values:
        if v.lower() not in ("true", "false"):
            raise _bad(f"{name} takes true or false, not {v!r}")
        out.append(v.lower() == "true")
    return tuple(out)


def _ip(name: str, values: list[str]) -> tuple[str, ...]:
    for v in values:
        try:
            ipaddress.ip_address(v)
        except ValueError:
            raise _bad(f"{name} takes an IPv4 or IPv6 address, not {v!r}") from None
    return tuple(values)


def _luhn_stems(name: str, values: list[str]) -> tuple[str, ...]:
    # An ICCID with its Luhn digit matches events that carry it with or without that digit.
    out: list[str] = []
    for v in _digits(name, values):
        out.extend((v, v[:-1]) if len(v) > 1 else (v,))
    return tuple(out)


def _ts(name: str, value: str) -> int:
    try:
        return parse_timestamp(value)
    except ValueError:
        raise _bad(f"{name} takes a date like 2026-01-31T00:00:00Z, not {value!r}") from None


@dataclass(frozen=True)
class _Field:
    op: Op
    column: str
    convert: Callable[[str, list[str]], tuple[Any, ...]]
    multi: bool = False
    id_column: str = ""


def _text(name: str, values: list[str]) -> tuple[str, ...]:
    return tuple(values)


Q_FIELDS: dict[str, _Field] = {
    "type": _Field("in", "type_id", _ints, multi=True),
    "source": _Field("in", "source_id", _ints, multi=True),
    "severity": _Field("in", "severity_id", _ints, multi=True),
    "alert": _Field("in", "alert", _bool),
    "description": _Field("contains", "description", _text),
    "organisation": _Field("text_or_id", "org_name", _text, id_column="org_id"),
    "user": _Field("text_or_id", "user_text", _text, id_column="user_id"),
    "endpoint": _Field("contains", "endpoint_name", _text, multi=True),
    "tags": _Field("contains", "tags", _text),
    "ip_address": _Field("in", "ip_address", _ip),
    "imei": _Field("in", "imei", _digits),
    "iccid": _Field("iccid", "iccid", _digits, multi=True),
    "iccid_with_luhn": _Field("in", "iccid", _luhn_stems, multi=True),
    "imsi": _Field("in", "imsi", _digits),
    "network": _Field("contains", "network", _text, multi=True),
    "rat": _Field("in", "rat", _ints, multi=True),
    "country": _Field("contains", "country", _text, multi=True),
}
TIME_FIELDS = ("from", "until", "timestamp")
Q_FIELD_NAMES: tuple[str, ...] = (*Q_FIELDS, *TIME_FIELDS)


def split_q(q: str, fields: Sequence[str], multi: Callable[[str], bool],
            splits: Callable[[str], bool] = lambda name: True) -> dict[str, list[str]]:
    """emnify's `q` syntax, `field:value,field:a|b`, split into values per field: the one tokenizer of
    every `q` (event lists here, the SIM and endpoint lists in the API). Raises Unprocessable (HTTP 422)
    naming the problem: an unknown or repeated field, an empty value, several values where `multi` says
    the field takes one, more than MAX_VALUES. `splits` says whether `|` separates values of a field at
    all (not in a timestamp, say)."""
    seen: dict[str, list[str]] = {}
    for part in q.split(","):
        name, sep, raw = part.partition(":")
        name = name.strip()
        if not sep:
            raise _bad(f"{part!r} is not field:value")
        if name not in fields:
            raise _bad(f"unknown field {name!r}; known fields: {', '.join(fields)}")
        if name in seen:
            raise _bad(f"{name} is given twice; give several values as {name}:a|b")
        values = [v.strip() for v in raw.split("|")] if splits(name) else [raw.strip()]
        if any(not v for v in values):
            raise _bad(f"{name} has an empty value")
        if len(values) > 1 and not multi(name):
            raise _bad(f"{name} takes one value")
        if len(values) > MAX_VALUES:
            raise _bad(f"{name} takes at most {MAX_VALUES} values separated by |")
        seen[name] = values
    return seen


def _event_multi(name: str) -> bool:
    spec = Q_FIELDS.get(name)
    return spec is not None and spec.multi


def parse_q(q: str | None) -> EventFilter:
    """Parse emnify's `q`. Raises Unprocessable (HTTP 422) naming the problem."""
    if q is None or not q.strip():
        return EventFilter()
    seen = split_q(q, Q_FIELD_NAMES, _event_multi, lambda name: name in Q_FIELDS)

    conditions: list[Condition] = []
    if ("from" in seen) != ("until" in seen):
        raise _bad("from and until are only valid together")
    if "from" in seen:
        lo, hi = _ts("from", seen["from"][0]), _ts("until", seen["until"][0])
        if lo > hi:
            raise _bad("from is after until")
        conditions.append(Condition("between", "ts_ms", (lo, hi)))
    if "timestamp" in seen:
        day = _ts("timestamp", seen["timestamp"][0]) // DAY_MS * DAY_MS
        conditions.append(Condition("between", "ts_ms", (day, day + DAY_MS - 1)))
    for name, spec in Q_FIELDS.items():
        if name in seen:
            converted = spec.convert(name, seen[name])
            conditions.append(Condition(spec.op, spec.column, converted, spec.id_column))
    text = ",".join(f"{n}:{'|'.join(seen[n])}" for n in sorted(seen))
    return EventFilter(tuple(conditions), text)


# ---------- sort ----------

def parse_sort(sort: str | None) -> tuple[SortKey, ...]:
    """Parse emnify's `sort`; `id` is appended as the final tie-breaker. Raises BadParameter (HTTP 400)."""
    if sort is None or not sort.strip():
        return DEFAULT_SORT
    keys: list[SortKey] = []
    for item in sort.split(","):
        item = item.strip()
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if name not in SORT_COLUMNS:
            raise BadParameter.of("sort", f"unknown sort field {name!r}; known: {', '.join(SORT_COLUMNS)}")
        if any(k.field == name for k in keys):
            raise BadParameter.of("sort", f"{name} is given twice")
        keys.append(SortKey(name, SORT_COLUMNS[name], descending))
    if not any(k.field == "id" for k in keys):
        keys.append(SortKey("id", "id"))
    return tuple(keys)


def _compare(a: Any, b: Any) -> int:
    if a == b:
        return 0
    if a is None:
        return 1
    if b is None:
        return -1
    return -1 if a < b else 1


def compare_keys(sort: Sequence[SortKey], a: Sequence[Any], b: Sequence[Any]) -> int:
    """Order two rows' sort-key values the way every store orders them (NULL last ascending)."""
    for key, x, y in zip(sort, a, b, strict=True):
        result = _compare(x, y)
        if result:
            return -result if key.descending else result
    return 0


def sort_values(row: EventColumns, sort: Sequence[SortKey]) -> tuple[Any, ...]:
    return tuple(getattr(row, k.column) for k in sort)


def sorted_rows(rows: Sequence[EventColumns], sort: Sequence[SortKey]) -> list[EventColumns]:
    def cmp(a: EventColumns, b: EventColumns) -> int:
        return compare_keys(sort, sort_values(a, sort), sort_values(b, sort))

    return sorted(rows, key=functools.cmp_to_key(cmp))


# ---------- cursor ----------

def encode_cursor(query: EventQuery, last: Sequence[Any]) -> str:
    """An opaque keyset cursor: the sort values of the last row, bound to the query that made it."""
    raw = msgspec.json.encode([query.fingerprint, list(last)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(query: EventQuery, cursor: str) -> tuple[Any, ...]:
    """The sort values a cursor carries. Raises BadParameter if it is malformed or from another query."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fingerprint, values = msgspec.json.decode(raw)
    except (ValueError, TypeError, msgspec.DecodeError):
        raise BadParameter.of("cursor", "is not a cursor this API issued") from None
    if fingerprint != query.fingerprint or not isinstance(values, list) or len(values) != len(query.sort):
        raise BadParameter.of("cursor", "belongs to a different q, sort or list; start again without it")
    return tuple(values)
