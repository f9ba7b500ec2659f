"""Timestamps: parsed leniently (every rendering seen in the documentation), written one way."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta

_US_STYLE = re.compile(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d\d:\d\d [AP]M")
# Zero-padded renderings by table: a `:02d` format spec costs more than the rest of the formatting.
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(60))
_THREE_DIGITS = tuple(f"{n:03d}" for n in range(1000))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def parse_timestamp(text: str) -> int:
    """Milliseconds since the epoch for an ISO-8601-like timestamp; no zone means UTC.

    Accepts 'Z', '+00:00' and '+0000' offsets, a space instead of 'T', no fraction or any fraction
    (truncated to milliseconds), and the 'M/D/YYYY h:mm:ss AM' form of one documented example.
    Raises ValueError with a readable message otherwise.
    """
    value = text.strip()
    try:
        # ISO first, with no pattern match before it: it is what nearly every producer sends, and no
        # US-style date parses as ISO.
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = _us_style(value)
        except ValueError:
            raise ValueError(f"{text!r} is not a timestamp like 2026-01-31T12:00:00.000Z") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # Whole seconds since the epoch by integer arithmetic: int(timestamp()) truncates towards zero, which
    # put every instant before 1970 with a fraction a second late.
    whole = (parsed - _EPOCH) // _SECOND
    return whole * 1000 + parsed.microsecond // 1000


def _us_style(value: str) -> datetime:
    if not _US_STYLE.fullmatch(value):
        raise ValueError(value)
    return datetime.strptime(value, "%m/%d/%Y %I:%M:%S %p")


def format_timestamp(ms: int) -> str:
    """The canonical rendering: UTC, YYYY-MM-DDTHH:mm:ss.SSSZ."""
    seconds, millis = divmod(ms, 1000)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return (f"{_date(days)}T{_TWO_DIGITS[hours]}:{_TWO_DIGITS[minutes]}:{_TWO_DIGITS[seconds]}."
            f"{_THREE_DIGITS[millis]}Z")


def format_optional(ms: int | None) -> str | None:
    """`format_timestamp`, passing a missing time through as None (JSON null)."""
    return None if ms is None else format_timestamp(ms)


@functools.lru_cache(maxsize=4096)
def _date(days: int) -> str:
    # Formatting through datetime costs ~3 µs; events of one day share the date, and UTC days have no
    # leap seconds, so the time of day is plain arithmetic.
    day = _EPOCH + timedelta(days=days)
    return f"{day.year:04d}-{_TWO_DIGITS[day.month]}-{_TWO_DIGITS[day.day]}"  # %Y does not pad years < 1000
