"""Answering one event-list request: parameters, count, one page, paging headers.

The list parameters are parsed here by hand rather than declared as FastAPI parameters: FastAPI's
per-parameter dependency solving measured about half of the time of a whole list request, and this route
must serve thousands of requests a second on one worker. The OpenAPI description of the same parameters
is written out below (`parameter_docs`) and must stay in step with the parsing (a test compares them).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from cellstream.api.paging import PageInfo
from cellstream.domain.principal import Principal
from cellstream.errors import BadParameter
from cellstream.events.query import EventQuery, decode_cursor, encode_cursor, parse_q, parse_sort
from cellstream.store.protocols import EventPage, EventStore

MAX_ID = 2**63 - 1  # no store holds an id beyond a signed 64-bit integer
MAX_PAGE = 10**9
Scope = tuple[Literal["endpoint_id", "sim_id", "user_id"], int] | None

# The same few q and sort strings arrive again and again; their parsed forms are immutable.
_parse_q = functools.lru_cache(maxsize=1024)(parse_q)
_parse_sort = functools.lru_cache(maxsize=256)(parse_sort)


@dataclass(frozen=True, slots=True)
class ListParams:
    page: int
    per_page: int
    q: str | None
    sort: str | None
    cursor: str | None


def _number(raw: str, name: str, low: int, high: int) -> int:
    text = raw.strip()
    # Length first: int() of a huge digit string is slow, and refused past 4,300 digits.
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or not low <= int(text) <= high:
        raise BadParameter.of(name, f"must be an integer from {low} to {high}, not {raw[:40]!r}")
    return int(text)


def _optional_number(params: dict[str, str], name: str, default: int, high: int) -> int:
    raw = params.get(name)
    return default if not raw else _number(raw, name, 1, high)


def list_params(request: Request, max_per_page: int, default_per_page: int) -> ListParams:
    # What Starlette's request.query_params does (the last of repeated names wins), at a third of the cost.
    params = dict(parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True))
    return ListParams(
        _optional_number(params, "page", 1, MAX_PAGE),
        _optional_number(params, "per_page", default_per_page, max_per_page),
        params.get("q"), params.get("sort"), params.get("cursor") or None,
    )


def path_id(request: Request, name: str) -> int:
    return _number(request.path_params[name], name, 0, MAX_ID)


def path_user(request: Request) -> int | Literal["my"]:
    raw = request.path_params["user_id"]
    return "my" if raw == "my" else _number(raw, "user_id", 0, MAX_ID)


def _list_url(request: Request) -> str:
    """The absolute URL of the list, for Link (request.url builds a whole URL object: slower)."""
    scope = request.scope
    host = request.headers.get("host") or "{}:{}".format(*scope.get("server") or ("localhost", 80))
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{scope['path']}"


def _array(bodies: list[bytes]) -> bytes:
    return b"[" + b",".join(bodies) + b"]"


class EventLister:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    async def respond(self, request: Request, principal: Principal, scope: Scope, params: ListParams, *,
                      empty: bool = False) -> Response:
        """`empty`: the list is known to be empty (an application token's own user events)."""
        page, per_page = params.page, params.per_page
        query = EventQuery(principal.org_id, _parse_q(params.q), _parse_sort(params.sort), scope)
        after = decode_cursor(query, params.cursor) if params.cursor else None
        if after is not None and page != 1:
            raise BadParameter.of("page", "must be left out (or 1) when a cursor is given")
        offset = 0 if after is not None else (page - 1) * per_page
        if empty:
            result = EventPage([], None, False, 0)
        else:  # one trip to the store: the count and the page from one snapshot
            result = await self._store.page(query, limit=per_page, offset=offset, after=after,
                                            with_total=True)
        total = result.total or 0
        next_cursor = encode_cursor(query, result.last_key) if result.more and result.last_key else None
        info = PageInfo(_list_url(request), page, per_page, total, params.q, params.sort, next_cursor,
                        after is not None)
        return Response(_array(result.bodies), media_type="application/json", headers=info.headers())


Q_HELP = ("emnify filter: field:value pairs separated by commas, several values of one field with | "
          "(type:3|5,from:2026-01-01T00:00:00Z,until:2026-01-02T00:00:00Z). Fields: type, source, severity, "
          "alert, description, organisation, user, endpoint, tags, ip_address, imei, iccid, iccid_with_luhn, "
          "imsi, network, rat, country, timestamp, from and until (only together). Invalid: 422.")
SORT_HELP = ("comma-separated fields, '-' for descending (default id): id, timestamp, source, severity, "
             "alert, organisation, user, endpoint, tags, ip_address, iccid, imsi, type. Invalid: 400.")
CURSOR_HELP = ("Cellstream extension: the X-Next-Cursor of the previous page; continues right after it "
               "(page must then be absent or 1). Bound to the list, q and sort that made it.")


def parameter_docs(max_per_page: int, default_per_page: int) -> list[dict[str, Any]]:
    def query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    return [
        query("page", "page number, from 1", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                                              "default": 1}),
        query("per_page", f"events per page, 1..{max_per_page}",
              {"type": "integer", "minimum": 1, "maximum": max_per_page, "default": default_per_page}),
        query("sort", SORT_HELP, {"type": "string"}),
        query("q", Q_HELP, {"type": "string"}),
        query("cursor", CURSOR_HELP, {"type": "string"}),
    ]


def path_doc(name: str, *, or_my: bool = False) -> dict[str, Any]:
    number = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
    schema = {"anyOf": [number, {"type": "string", "enum": ["my"]}]} if or_my else number
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": "numeric id" + (", or my for the caller's own" if or_my else "")}
