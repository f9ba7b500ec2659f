"""The Event: the documented emnify event object, held in one canonical form.

Lookups (type, source, severity) are kept as ids; their descriptions come from the catalog when the event
is written out. The reference objects (organisation, user, endpoint, sim, imsi) keep every key they came
with, since producers attach more than the documented minimum; the codec guarantees each has an integer
`id` and that identifier-like values (iccid, imsi, msisdn, imei) are strings.
"""

from __future__ import annotations

from typing import Any

import msgspec

Ref = dict[str, Any]

# The 2^53 limit keeps every id exact in JavaScript clients.
MAX_EVENT_ID = 2**53 - 1


class Event(msgspec.Struct, frozen=True, kw_only=True):
    id: int | None
    timestamp_ms: int
    alert: bool
    description: str
    type_id: int
    source_id: int
    severity_id: int
    organisation: Ref
    user: Ref | None = None
    endpoint: Ref | None = None
    sim: Ref | None = None
    imsi: Ref | None = None
    detail: Any = None

    @property
    def org_id(self) -> int:
        return int(self.organisation["id"])

    def with_id(self, event_id: int) -> Event:
        return msgspec.structs.replace(self, id=event_id)


class StoredEvent(msgspec.Struct, frozen=True):
    """An event as the store holds it: its place in the log, when it was stored, its canonical JSON."""

    position: int
    event: Event
    body: bytes
    stored_ms: int
