"""Building the events domain changes store: severity and alert from the catalog's usual values for the
type (e.g. 52 "Data quota enabled" is Warn), the acting organisation and user, and the reference objects
of the endpoint, SIM and IMSI involved."""

from __future__ import annotations

from typing import Any

from cellstream.domain.actor import Actor
from cellstream.events.catalog import event_type
from cellstream.events.model import Event, Ref


def domain_event(now_ms: int, actor: Actor, type_id: int, description: str, *, endpoint: Ref | None = None,
                 sim: Ref | None = None, imsi: Ref | None = None, detail: Any = None,
                 source_id: int | None = None) -> Event:
    usual = event_type(type_id)
    return Event(id=None, timestamp_ms=now_ms, alert=usual.alert, description=description, type_id=type_id,
                 source_id=usual.source if source_id is None else source_id, severity_id=usual.severity,
                 organisation=actor.organisation, user=actor.user, endpoint=endpoint, sim=sim, imsi=imsi,
                 detail=detail)
