"""What each template does with one input (an event, a usage record or a sweep tick) and its window:
plain functions that change the window and answer a firing (description and measured values) or None.

Which network event types mean what (docs/event-sources.md):
- attach: an accepted Update location (1) or Update GPRS location (2), severity Info;
- failed attach: a rejected 1 or 2, which the network stores with severity Warn (unknown network, SIM
  deleted or suspended, endpoint disabled, blacklisted operator);
- detach: Purge location (15) or Purge GPRS location (16);
- data session: Create PDP Context (3) accepted (source Network; a refusal is Policy Control, Warn) opens
  one, Delete PDP Context (5) ends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cellstream.automations.custom.model import Window
from cellstream.automations.custom.templates import Settings
from cellstream.events.catalog import INFO, NETWORK, WARN
from cellstream.events.model import Event
from cellstream.events.timefmt import format_timestamp

UPDATE_LOCATION, UPDATE_GPRS_LOCATION, CREATE_PDP, DELETE_PDP = 1, 2, 3, 5
PURGE_LOCATION, PURGE_GPRS_LOCATION = 15, 16
LOCATION_UPDATES = (UPDATE_LOCATION, UPDATE_GPRS_LOCATION)
DETACHES = (PURGE_LOCATION, PURGE_GPRS_LOCATION)
DATA = 5  # usage traffic type
MINUTE_MS, HOUR_MS = 60_000, 3_600_000


@dataclass(frozen=True)
class Firing:
    description: str
    measured: dict[str, Any]


def _int(settings: Settings, key: str) -> int:
    value = settings[key]
    assert isinstance(value, int | float)
    return int(value)


def _number(settings: Settings, key: str) -> float:
    value = settings[key]
    assert isinstance(value, int | float)
    return float(value)


def _strings(settings: Settings, key: str) -> list[str]:
    value = settings[key]
    assert isinstance(value, list)
    return value


def is_attach(event: Event) -> bool:
    return event.type_id in LOCATION_UPDATES and event.severity_id == INFO


def is_failed_attach(event: Event) -> bool:
    return event.type_id in LOCATION_UPDATES and event.severity_id >= WARN


def _count_within(window: Window, at_ms: int, minutes: int) -> int:
    window.times_ms = [t for t in window.times_ms if t > at_ms - minutes * MINUTE_MS] + [at_ms]
    return len(window.times_ms)


# ---------- no-data-session ----------

def no_data_session_event(window: Window, event: Event) -> None:
    """Session starts and ends move the silence's start; a new session ends a reported silence."""
    if event.type_id == CREATE_PDP and event.source_id == NETWORK and event.severity_id == INFO:
        window.in_session, window.last_ms, window.fired = True, event.timestamp_ms, False
    elif event.type_id == DELETE_PDP:
        window.in_session, window.last_ms, window.fired = False, event.timestamp_ms, False


def no_data_session_sweep(window: Window, settings: Settings, now_ms: int) -> Firing | None:
    hours = _int(settings, "hours")
    if window.in_session or window.fired or now_ms - window.last_ms < hours * HOUR_MS:
        return None
    window.fired = True
    return Firing(f"No data session for {hours} h",
                  {"hours": hours, "silent_since": format_timestamp(window.last_ms),
                   "silent_hours": round((now_ms - window.last_ms) / HOUR_MS, 2)})


# ---------- failed-attaches ----------

def failed_attaches(window: Window, settings: Settings, event: Event) -> Firing | None:
    if not is_failed_attach(event):
        return None
    count, minutes = _int(settings, "count"), _int(settings, "minutes")
    seen = _count_within(window, event.timestamp_ms, minutes)
    if seen <= count:
        return None
    window.times_ms = []  # the next report needs another `count` + 1 failures, not one more
    return Firing(f"{seen} failed attaches within {minutes} min (more than {count})",
                  {"failed_attaches": seen, "minutes": minutes, "threshold": count})


# ---------- daily-data-usage ----------

def daily_data_usage(window: Window, settings: Settings, record: dict[str, Any], day: str) -> Firing | None:
    traffic = record.get("traffic_type")
    volume = record.get("volume")
    if not isinstance(traffic, dict) or traffic.get("id") != DATA or not isinstance(volume, dict):
        return None
    total = volume.get("total")
    if isinstance(total, bool) or not isinstance(total, int | float):
        return None
    if window.day != day:
        window.day, window.total_mb = day, 0.0
    window.total_mb = round(window.total_mb + float(total), 6)
    limit = _number(settings, "megabytes")
    if window.total_mb <= limit or window.fired_day == day:
        return None
    window.fired_day = day
    return Firing(f"Data usage of {window.total_mb:g} MB on {day} above {limit:g} MB",
                  {"date": day, "usage_mb": window.total_mb, "threshold_mb": limit})


# ---------- geofence ----------

def _country(event: Event) -> dict[str, Any] | None:
    detail = event.detail
    country = detail.get("country") if isinstance(detail, dict) else None
    return country if isinstance(country, dict) and ("id" in country or "name" in country) else None


def geofence(window: Window, settings: Settings, event: Event) -> Firing | None:
    if event.type_id not in LOCATION_UPDATES:
        return None
    country = _country(event)
    if country is None:
        return None
    allowed = {a.casefold() for a in _strings(settings, "allowed_countries")}
    name, ident = str(country.get("name") or ""), str(country.get("id") or "")
    key = ident or name
    if name.casefold() in allowed or ident in allowed:
        window.country = key
        return None
    if window.country == key:  # still in the country already reported
        return None
    window.country = key
    return Firing(f"Seen in {name or ident}, outside the allowed countries",
                  {"country": country, "allowed_countries": _strings(settings, "allowed_countries")})


# ---------- flapping ----------

def flapping(window: Window, settings: Settings, event: Event) -> Firing | None:
    if is_attach(event):
        window.attached = True
        return None
    if event.type_id not in DETACHES or not window.attached:
        return None
    window.attached = False
    cycles, minutes = _int(settings, "cycles"), _int(settings, "minutes")
    seen = _count_within(window, event.timestamp_ms, minutes)
    if seen <= cycles:
        return None
    window.times_ms = []
    return Firing(f"{seen} attach/detach cycles within {minutes} min (more than {cycles})",
                  {"cycles": seen, "minutes": minutes, "threshold": cycles})
