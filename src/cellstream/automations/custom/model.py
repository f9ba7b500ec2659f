"""Custom-event configurations, the evaluator's cursors and its per-(configuration, subject) windows, as
records in the resource store: a window lives in the store, not in memory, so a restart continues it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from cellstream.automations.model import Prop
from cellstream.store.resources import Record


class CustomEventConfiguration(Record, kw_only=True):
    """A deployed template (facts §G.3 CustomEvent)."""

    KIND: ClassVar[str] = "custom_event_configuration"
    uuid: str  # the public id
    template_id: int
    name: str
    configuration_properties: list[Prop] = msgspec.field(default_factory=list)
    created_ms: int = 0

    def unique_keys(self) -> Mapping[str, str]:
        return {"custom_event_uuid": self.uuid}


class ConfigurationIndex(Record, kw_only=True):
    """Every configuration record id (id 1, platform-wide), so the evaluator loads them without the list
    of organisations."""

    KIND: ClassVar[str] = "custom_event_index"
    ids: list[int] = msgspec.field(default_factory=list)


class CustomCursor(Record, kw_only=True):
    """Where the evaluator stands in the event log and in the usage log (id 1, platform-wide)."""

    KIND: ClassVar[str] = "custom_event_cursor"
    event_position: int = 0
    usage_position: int = 0


class Window(Record, kw_only=True):
    """What one configuration remembers about one subject (an endpoint, or an IMSI when the event names
    no endpoint). Each template uses the fields it needs."""

    KIND: ClassVar[str] = "custom_event_window"
    configuration_id: int  # CustomEventConfiguration record id
    subject: str  # "endpoint:<id>" or "imsi:<imsi>"
    organisation: dict[str, Any] = msgspec.field(default_factory=dict)
    endpoint: dict[str, Any] | None = None
    sim: dict[str, Any] | None = None
    imsi: dict[str, Any] | None = None
    times_ms: list[int] = msgspec.field(default_factory=list)  # rate templates: occurrences in the window
    last_ms: int = 0  # no-data-session: when the endpoint last had (or was first seen without) a session
    in_session: bool = False
    attached: bool = False  # flapping: an attach not yet followed by a detach
    fired: bool = False  # no-data-session: this silence was reported
    day: str = ""  # daily-data-usage: the UTC day `total_mb` counts
    total_mb: float = 0.0
    fired_day: str = ""
    country: str = ""  # geofence: the country last reported, so one stay outside fires once

    def unique_keys(self) -> Mapping[str, str]:
        return {"custom_event_window": window_key(self.configuration_id, self.subject)}


def window_key(configuration_id: int, subject: str) -> str:
    return f"{configuration_id}/{subject}"
