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

from cellstream.api.paging import PageInfo, encoded_headers
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
MEMO_SIZE = 1024  # parsed query strings and list queries kept (each memo is emptied when full)


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


_list_params: dict[tuple[bytes, int, int], ListParams] = {}


def list_params(request: Request, max_per_page: int, default_per_page: int) -> ListParams:
    # Clients repeat their query strings (polling, paging with the same filter): parsed once. Only valid
    # ones are kept, since a bad one raises before it is stored.
    key = (request.scope["query_string"], max_per_page, default_per_page)
    known = _list_params.get(key)
    if known is not None:
        return known
    # What Starlette's request.query_params does (the last of repeated names wins), at a third of the cost.
    params = dict(parse_qsl(key[0].decode("latin-1"), keep_blank_values=True))
    parsed = ListParams(
        _optional_number(params, "page", 1, MAX_PAGE),
        _optional_number(params, "per_page", default_per_page, max_per_page),
        params.get("q"), params.get("sort"), params.get("cursor") or None,
    )
    if len(_list_params) >= MEMO_SIZE:
        _list_params.clear()
    _list_params[key] = parsed
    return parsed


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


RawHeaders = tuple[tuple[bytes, bytes], ...]
ANSWERS_KEPT = 128  # lists whose last answer is kept (the oldest goes first)
ANSWER_MAX_BYTES = 512 * 1024  # a bigger answer is built afresh each time


class PageResponse(Response):
    """A 200 with a finished body and finished headers: Response's own __init__ would encode both."""

    media_type = "application/json"

    def __init__(self, body: bytes, raw_headers: RawHeaders) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = list(raw_headers)  # a copy: whoever sends it may add to it


def _answer(body: bytes, info: PageInfo) -> RawHeaders:
    # Starlette's order: the given headers, then content-length and content-type.
    return (*encoded_headers(info), (b"content-length", str(len(body)).encode("latin-1")),
            (b"content-type", b"application/json"))


class EventLister:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        # One EventQuery object per list asked for: its fingerprint (a hash, for cursors) is computed
        # once, and the store's per-query memos find it by identity before equality.
        self._queries: dict[tuple[int, str | None, str | None, Scope], EventQuery] = {}
        # A store that serves a page from its cache hands back the very same EventPage: the answer is
        # then the same body and headers as the last time the same list was asked for the same way.
        self._answers: dict[tuple[Any, ...], tuple[EventPage, bytes, RawHeaders]] = {}

    def _query(self, org_id: int, q: str | None, sort: str | None, scope: Scope) -> EventQuery:
        key = (org_id, q, sort, scope)
        query = self._queries.get(key)
        if query is None:
            query = EventQuery(org_id, _parse_q(q), _parse_sort(sort), scope)
            if len(self._queries) >= MEMO_SIZE:
                self._queries.clear()
            self._queries[key] = query
        return query

    async def respond(self, request: Request, principal: Principal, scope: Scope, params: ListParams, *,
                      empty: bool = False) -> Response:
        """`empty`: the list is known to be empty (an application token's own user events)."""
        page, per_page = params.page, params.per_page
        query = self._query(principal.org_id, params.q, params.sort, scope)
        after = decode_cursor(query, params.cursor) if params.cursor else None
        if after is not None and page != 1:
            raise BadParameter.of("page", "must be left out (or 1) when a cursor is given")
        offset = 0 if after is not None else (page - 1) * per_page
        if empty:
            result = EventPage([], None, False, 0)
        else:  # one trip to the store: the count and the page from one snapshot
            result = await self._store.page(query, limit=per_page, offset=offset, after=after,
                                            with_total=True)
        url = _list_url(request)
        key = (query, url, page, per_page, params.q, params.sort, after)
        known = self._answers.get(key)
        if known is not None and known[0] is result:
            return PageResponse(known[1], known[2])
        next_cursor = encode_cursor(query, result.last_key) if result.more and result.last_key else None
        info = PageInfo(url, page, per_page, result.total or 0, params.q, params.sort, next_cursor,
                        after is not None)
        body = _array(result.bodies)
        headers = _answer(body, info)
        self._remember(key, (result, body, headers))
        return PageResponse(body, headers)

    def _remember(self, key: tuple[Any, ...], answer: tuple[EventPage, bytes, RawHeaders]) -> None:
        answers = self._answers
        if len(answer[1]) > ANSWER_MAX_BYTES:
            answers.pop(key, None)
            return
        if key not in answers and len(answers) >= ANSWERS_KEPT:
            del answers[next(iter(answers))]
        answers[key] = answer


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
