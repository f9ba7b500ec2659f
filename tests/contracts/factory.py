"""Building events for tests through the real codec (so they are what ingest would store)."""

from __future__ import annotations

from typing import Any

from cellstream.events.codec import decode_event
from cellstream.events.model import Event
from cellstream.events.timefmt import format_timestamp
from cellstream.settings import Settings

BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY = 86_400_000


def event(org: int = 1, *, id: int | None = None, type: int = 3, ts: int = 0, alert: bool | None = None,
          description: str | None = None, severity: int | None = None, source: int | None = None,
          org_name: str | None = "Acme", user: dict[str, Any] | None = None,
          endpoint: dict[str, Any] | None = None, sim: dict[str, Any] | None = None,
          imsi: str | None = None, detail: Any = None) -> Event:
    """An event of organisation `org`, `ts` milliseconds after 2026-01-01; None leaves a part out."""
    raw: dict[str, Any] = {
        "timestamp": format_timestamp(BASE_MS + ts),
        "event_type": {"id": type},
        "organisation": {"id": org} if org_name is None else {"id": org, "name": org_name},
    }
    optional = {"id": id, "alert": alert, "description": description, "user": user, "endpoint": endpoint,
                "sim": sim, "detail": detail,
                "event_severity": None if severity is None else {"id": severity},
                "event_source": None if source is None else {"id": source},
                "imsi": None if imsi is None else {"id": int(imsi[-6:]), "imsi": imsi}}
    raw.update({k: v for k, v in optional.items() if v is not None})
    return decode_event(raw)


def network_detail(operator: str, country: str, rat: int | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"id": 5, "name": operator, "country": {"id": 74, "name": country}}
    if rat is not None:
        detail["pdp_context"] = {"rat_type": rat}
    return detail


def settings_for(url: str) -> Settings:
    """Settings for a test database: a small page cache."""
    return Settings(database_url=url, sqlite_cache_mb=16)
