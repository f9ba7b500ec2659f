"""Paging headers of the event lists (facts §C.3) and the keyset-cursor extension.

emnify sends `X-Count-Per-Page`, `X-Current-Page`, `X-Total-Pages`, `X-Total-Count`, `X-Filter`, `X-Sort`
and `Link`. Cellstream adds `X-Next-Cursor` when more rows follow: passing it back as `cursor` continues
right after the last row, which stays correct while events are being added (offset paging shifts).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from urllib.parse import quote, urlencode

_SAFE = "".join(chr(c) for c in range(0x20, 0x7F))


def header_text(value: str) -> str:
    """Echo a parameter in a header: printable ASCII as given, anything else percent-encoded (headers
    are Latin-1 without control characters; a raw newline would break the response)."""
    if value.isascii() and value.isprintable():
        return value
    return quote(value, safe=_SAFE.replace("%", ""))


@functools.lru_cache(maxsize=1024)
def _kept_params(per_page: int, q: str | None, sort: str | None) -> str:
    """What every Link carries over. Cached: encoding is the costly part, and clients repeat themselves."""
    kept: dict[str, str | int] = {"per_page": per_page}
    if q:
        kept["q"] = q
    if sort:
        kept["sort"] = sort
    return urlencode(kept)


@dataclass(frozen=True, slots=True)
class PageInfo:
    url: str  # the list's absolute URL without query
    page: int
    per_page: int
    total: int
    q: str | None
    sort: str | None
    next_cursor: str | None  # set when rows follow this page
    by_cursor: bool  # this page was reached with `cursor`

    def _links(self, pages: int) -> str:
        tail = _kept_params(self.per_page, self.q, self.sort)

        def link(rel: str, target: str) -> str:
            return f'<{self.url}?{target}&{tail}>; rel="{rel}"'

        links = [link("first", "page=1")]
        if self.page > 1 and not self.by_cursor:
            links.append(link("prev", f"page={min(self.page - 1, max(pages, 1))}"))
        if self.next_cursor is not None:
            links.append(link("next", urlencode({"cursor": self.next_cursor}) if self.by_cursor
                              else f"page={self.page + 1}"))
        links.append(link("last", f"page={max(pages, 1)}"))
        return ", ".join(links)

    def headers(self) -> dict[str, str]:
        pages = math.ceil(self.total / self.per_page)
        out = {
            "X-Count-Per-Page": str(self.per_page),
            "X-Current-Page": str(self.page),
            "X-Total-Pages": str(pages),
            "X-Total-Count": str(self.total),
            "X-Filter": header_text(self.q or ""),
            "X-Sort": header_text(self.sort or ""),
            "Link": self._links(pages),
        }
        if self.next_cursor is not None:
            out["X-Next-Cursor"] = self.next_cursor
        return out


@functools.lru_cache(maxsize=1024)
def encoded_headers(info: PageInfo) -> tuple[tuple[bytes, bytes], ...]:
    """`info.headers()` as ASGI wants them, the way Starlette encodes them. Cached: a client polling a
    list, or many clients reading the same page, get the very same headers."""
    return tuple((name.lower().encode("latin-1"), value.encode("latin-1"))
                 for name, value in info.headers().items())


PAGING_HEADERS: dict[str, dict[str, object]] = {
    "X-Count-Per-Page": {"description": "the requested per_page", "schema": {"type": "integer"}},
    "X-Current-Page": {"description": "the page number (1 on a page reached by cursor)",
                       "schema": {"type": "integer"}},
    "X-Total-Pages": {"description": "ceil(X-Total-Count / per_page)", "schema": {"type": "integer"}},
    "X-Total-Count": {"description": "events the filter selects", "schema": {"type": "integer"}},
    "X-Filter": {"description": "q as given (non-printable or non-ASCII characters percent-encoded)",
                 "schema": {"type": "string"}},
    "X-Sort": {"description": "sort as given", "schema": {"type": "string"}},
    "Link": {"description": 'RFC 8288 links: rel="first", "prev", "next", "last"',
             "schema": {"type": "string"}},
    "X-Next-Cursor": {"description": "present when more events follow: pass as `cursor` to continue "
                                     "after this page (Cellstream extension)",
                      "schema": {"type": "string"}},
}
