"""A data stream's `filters` (facts §E.2): which events it delivers.

Items are `{"field": "event_type_id", "value": [1, 2, 3]}`, `{"field": "alert", "value": true}` or a group
`{"or": [item, …]}`. Every top-level item must hold; a group holds when any of its items does (the
documented bodies show `or` but no `and`; the choice is in docs/compatibility.md). `[]` streams
everything. As an extension, `field` may be any field of the Event API's `q` grammar (`severity`,
`endpoint`, `tags`, `country` …) with the same value syntax, so a stream, the Event API and the portal
share one parser (`cellstream.events.query.parse_q`) and one predicate.

Usage streams (type 1) take no filters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cellstream.errors import FieldProblem, InvalidInput, Unprocessable
from cellstream.events.catalog import BY_ID
from cellstream.events.columns import EventColumns
from cellstream.events.query import Q_FIELDS, parse_q

Predicate = Callable[[EventColumns], bool]
MAX_ITEMS = 50


def _problem(where: str, problem: str) -> Unprocessable:
    return Unprocessable(FieldProblem(where, problem))


def _type_ids(value: Any, where: str) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise _problem(where, "lists at least one event type id")
    ids: list[int] = []
    for v in values:
        if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, str) and v.strip().isdigit())):
            raise _problem(where, f"{v!r} is not an event type id")
        ident = int(v)
        if ident not in BY_ID:
            raise _problem(where, f"{ident} is not a known event type id (GET /api/v1/event/type)")
        ids.append(ident)
    return tuple(ids)


def _alert(value: Any, where: str) -> bool:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _problem(where, "must be true or false")


def _q_field(field: str, value: Any, where: str) -> Predicate:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
        raise _problem(where, "must be a string, a number or a list of them")
    try:
        query = parse_q(f"{field}:{'|'.join(str(v) for v in values)}")
    except InvalidInput as exc:
        raise _problem(where, exc.message) from None
    return query.matches


def _item(raw: Any, where: str, depth: int = 0) -> Predicate:
    if not isinstance(raw, dict):
        raise _problem(where, 'must be an object {"field", "value"} or {"or": [...]}')
    if "or" in raw:
        if depth or set(raw) != {"or"}:
            raise _problem(where, 'an "or" group holds only a list of {"field", "value"} items')
        group = raw["or"]
        if not isinstance(group, list) or not group:
            raise _problem(f"{where}.or", "must be a non-empty list")
        alternatives = [_item(item, f"{where}.or.{n}", depth + 1) for n, item in enumerate(group)]
        return lambda row: any(p(row) for p in alternatives)
    field, value = raw.get("field"), raw.get("value")
    if "value" not in raw:
        raise _problem(f"{where}.value", "is required")
    if field == "event_type_id":
        ids = frozenset(_type_ids(value, f"{where}.value"))
        return lambda row: row.type_id in ids
    if field == "alert":
        wanted = _alert(value, f"{where}.value")
        return lambda row: row.alert is wanted
    if isinstance(field, str) and field in Q_FIELDS:
        return _q_field(field, value, f"{where}.value")
    known = ", ".join(["event_type_id", "alert", *Q_FIELDS])
    raise _problem(f"{where}.field", f"{field!r} is not a filter field; use one of {known}")


def compile_filters(filters: Any, stream_type: int) -> Predicate | None:
    """The predicate of a stream's filters, or None when it takes every event. Raises Unprocessable
    naming `filters.<n>…` for the first bad item."""
    if filters is None or filters == []:
        return None
    if not isinstance(filters, list):
        raise _problem("filters", "must be a list")
    if stream_type != 2:
        raise _problem("filters", "only event streams (data_stream_type 2) take filters")
    if len(filters) > MAX_ITEMS:
        raise _problem("filters", f"at most {MAX_ITEMS} items")
    predicates: Sequence[Predicate] = [_item(item, f"filters.{n}") for n, item in enumerate(filters)]
    return lambda row: all(p(row) for p in predicates)
