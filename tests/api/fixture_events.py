"""Comparing a stored event with its documented example (the fixtures beside the repository)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.conftest import need_fixtures


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((need_fixtures() / name).read_text())
    return loaded


def shape(value: Any) -> Any:
    """The structure of a JSON value: object keys with their shapes, list item shapes, scalar types."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    if value is None:
        return "null"
    return type(value).__name__


def assert_like_fixture(doc: dict[str, Any], name: str, description: str, *,
                        extra_keys: frozenset[str] = frozenset()) -> None:
    """`doc` (an event as the Event API serves it) against the documented example `name`: the same type,
    source, severity and alert, the same top-level keys (plus `extra_keys`), the same `detail` shape,
    and a description matching the regular expression `description` (the fixture's too)."""
    documented = fixture(name)
    for key in ("event_type", "event_source", "event_severity", "alert"):
        assert doc[key] == documented[key], key
    assert set(doc) == set(documented) | extra_keys
    assert shape(doc.get("detail")) == shape(documented.get("detail"))
    assert re.fullmatch(description, documented["description"]), documented["description"]
    assert re.fullmatch(description, doc["description"]), doc["description"]
    for ref in ("organisation", "user"):
        if ref in doc and ref in documented:
            assert set(doc[ref]) == set(documented[ref]), ref
