"""Timestamps: parsed leniently (every rendering seen in the documentation), written one way."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

_US_STYLE = re.compile(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d\d:\d\d [AP]M")


def parse_timestamp(text: str) -> int:
    """Milliseconds since the epoch for an ISO-8601-like timestamp; no zone means UTC.

    Accepts 'Z', '+00:00' and '+0000' offsets, a space instead of 'T', no fraction or any fraction
    (truncated to milliseconds), and the 'M/D/YYYY h:mm:ss AM' form of one documented example.
    Raises ValueError with a readable message otherwise.
    """
    value = text.strip()
    try:
        if _US_STYLE.fullmatch(value):
            parsed = datetime.strptime(value, "%m/%d/%Y %I:%M:%S %p")
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a timestamp like 2026-01-31T12:00:00.000Z") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    seconds = int(parsed.timestamp())
    return seconds * 1000 + parsed.microsecond // 1000


def format_timestamp(ms: int) -> str:
    """The canonical rendering: UTC, YYYY-MM-DDTHH:mm:ss.SSSZ."""
    return f"{_second(ms // 1000)}.{ms % 1000:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    # Events arrive in bursts within the same second; formatting through datetime costs ~4 µs an event.
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}"
