"""Reading event documents: one JSON object, a JSON array of objects, or JSON Lines.

Each document comes with where it was found (`file.jsonl:12` for a line, `file.json[3]` for an array item)
so every error can point at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cellstream.errors import FieldProblem, Unprocessable
from cellstream.events.codec import decode_json


def read_documents(data: bytes, name: str) -> Iterator[tuple[str, Any]]:
    """Yield (where, parsed JSON value) for each event document in `data`."""
    text = data.lstrip()
    if not text:
        return
    if text[:1] == b"[":
        try:
            items = decode_json(data)
        except ValueError as exc:
            raise Unprocessable(FieldProblem("json", str(exc), name)) from None
        for index, item in enumerate(items):
            yield f"{name}[{index}]", item
        return
    if text[:1] == b"{" and b"\n" not in text.rstrip():
        try:
            yield name, decode_json(data)
            return
        except ValueError as exc:
            raise Unprocessable(FieldProblem("json", str(exc), name)) from None
    yield from read_lines(data, name)


def read_lines(data: bytes, name: str) -> Iterator[tuple[str, Any]]:
    """JSON Lines; a pretty-printed single object spread over lines is recognised too."""
    lines = data.split(b"\n")
    if not lines[0].strip().endswith(b"}") and lines[0].strip().startswith(b"{"):
        try:
            yield name, decode_json(data)
            return
        except ValueError:
            pass  # not one object: fall through and report the first bad line
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield f"{name}:{number}", decode_json(line)
        except ValueError as exc:
            raise Unprocessable(FieldProblem("json", str(exc), f"{name}:{number}")) from None
