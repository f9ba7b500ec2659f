"""Filtering, sorting and paging of the organisation's SIM and endpoint lists, which are held in memory per
request (cellstream.store.resources keeps records as documents; organisations have thousands of devices,
not millions of events).

`q` has the event lists' syntax and tokenizer (`cellstream.events.query.split_q`): `field:value` pairs
separated by commas, several values of one field with `|`. A value `null` matches a field that is empty
(the official SDK asks for SIMs without an endpoint with `endpoint:null`). Text fields match a
case-insensitive substring, identifiers and statuses match exactly, `iccid` a prefix, dates the day or
time given (`2026-11-27`, `2026-11-27T10`). `sort` names fields case-insensitively (the SDK sends `ICCID`),
`-` for descending; ties are broken by id.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse

from cellstream.api.listing import ListParams
from cellstream.api.paging import PAGING_HEADERS, PageInfo
from cellstream.errors import BadParameter
from cellstream.events.query import ascii_lower, split_q

T = TypeVar("T")
Match = Literal["exact", "text", "prefix", "date"]


@dataclass(frozen=True)
class ListField(Generic[T]):
    value: Callable[[T], Any]
    match: Match = "exact"


def _matches(value: Any, wanted: str, match: Match) -> bool:
    if ascii_lower(wanted) == "null":
        return value is None or value == ""
    if value is None:
        return False
    text = str(value)
    if match == "text":
        return ascii_lower(wanted) in ascii_lower(text)
    if match in ("prefix", "date"):
        return text.startswith(wanted.replace(" ", "T"))
    return text == wanted


def select(items: Sequence[T], q: str | None, fields: Mapping[str, ListField[T]]) -> list[T]:
    """The items every condition of `q` admits (any of a field's values)."""
    if q is None or not q.strip():
        return list(items)
    conditions = split_q(q, list(fields), lambda name: True)
    return [item for item in items
            if all(any(_matches(fields[name].value(item), v, fields[name].match) for v in values)
                   for name, values in conditions.items())]


def _key(value: Any) -> tuple[int, Any]:
    # None last (ascending), like the event lists; mixed kinds never meet within one field.
    return (1, "") if value is None else (0, ascii_lower(value) if isinstance(value, str) else value)


def order(items: Sequence[T], sort: str | None, keys: Mapping[str, Callable[[T], Any]],
          aliases: Mapping[str, str] | None = None) -> list[T]:
    """`items` sorted by the `sort` parameter (stable, so the lists' id order breaks ties)."""
    ordered = list(items)
    for part in reversed([p.strip() for p in (sort or "").split(",") if p.strip()]):
        name = ascii_lower(part.lstrip("-+"))
        name = (aliases or {}).get(name, name)
        if name not in keys:
            raise BadParameter.of("sort", f"cannot sort by {part.lstrip('-+')!r}; use {', '.join(keys)}")
        ordered.sort(key=_sort_key(keys[name]), reverse=part.startswith("-"))
    return ordered


def _sort_key(value: Callable[[T], Any]) -> Callable[[T], tuple[int, Any]]:
    def key(item: T) -> tuple[int, Any]:
        return _key(value(item))
    return key


def page_response(request: Request, params: ListParams, items: Sequence[T],
                  render: Callable[[T], Any]) -> JSONResponse:
    """The requested page of `items` (already filtered and sorted) with the paging headers."""
    start = (params.page - 1) * params.per_page
    info = PageInfo(str(request.url).split("?", 1)[0], params.page, params.per_page, len(items), params.q,
                    params.sort, None, False)
    return JSONResponse([render(item) for item in items[start:start + params.per_page]],
                        headers=info.headers())


LIST_HEADERS = {k: v for k, v in PAGING_HEADERS.items() if k != "X-Next-Cursor"}


@functools.lru_cache(maxsize=256)
def _glued(q: str, suffix: str) -> str:
    return q[: -len(suffix)] + "," + suffix if q.endswith(suffix) and not q.endswith("," + suffix) else q


def unglue(q: str | None, suffix: str) -> str | None:
    """The official Python SDK appends `endpoint:null` to a SIM filter without a comma
    (`status:1endpoint:null`); read that as the two conditions it means."""
    if q is None or q == suffix:
        return q
    return _glued(q, suffix)
