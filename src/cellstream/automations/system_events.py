"""System events (facts §G.2): one per event type, the trigger an automation points to with
`actionable_event.system_event.id`. Their id is the event type id as a string, so `"19"` fires on "Quota
used up"; the catalogue is read-only and the same for every organisation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cellstream.automations.actions.base import Action
from cellstream.automations.targeting import TARGETING_PARAMETERS
from cellstream.events.catalog import BY_ID, CUSTOM_TYPE_IDS, EVENT_TYPES, EventType

OUTPUT_PARAMETERS = [
    {"parameter": "id", "type": "number", "description": "the event id"},
    {"parameter": "timestamp", "type": "string", "description": "when it happened (UTC)"},
    {"parameter": "event_type.id", "type": "number", "description": "the event type"},
    {"parameter": "event_severity.id", "type": "number", "description": "0 Info, 1 Warn, 2 Critical"},
    {"parameter": "alert", "type": "boolean", "description": "whether the event is an alert"},
    {"parameter": "description", "type": "string", "description": "what happened"},
    {"parameter": "organisation.id", "type": "number", "description": "the organisation"},
    {"parameter": "endpoint.id", "type": "number", "description": "the device, when the event names one"},
    {"parameter": "sim.id", "type": "number", "description": "the SIM, when the event names one"},
    {"parameter": "imsi.imsi", "type": "string", "description": "the IMSI, when the event names one"},
    {"parameter": "detail", "type": "object", "description": "type-specific details"},
]


def system_event(event_type: EventType, org_id: int, actions: Iterable[Action]) -> dict[str, Any]:
    key = event_type.name.lower().replace(" ", "_")
    return {"id": str(event_type.id), "parentOrg": {"id": org_id}, "eventType": {"id": event_type.id},
            "name": event_type.name, "translationKeyName": f"system_event.{key}.name",
            "description": f"{event_type.name} ({event_type.category})",
            "translationKeyDescription": f"system_event.{key}.description",
            "supportedTargetingParameters": list(TARGETING_PARAMETERS),
            "eventOutputParameters": OUTPUT_PARAMETERS,
            "supportedActions": [a.id for a in actions]}


def system_events(org_id: int, actions: Iterable[Action]) -> list[dict[str, Any]]:
    listed = list(actions)
    return [system_event(t, org_id, listed) for t in EVENT_TYPES if t.id not in CUSTOM_TYPE_IDS]


def find_system_event(system_event_id: str) -> EventType | None:
    # Custom types are triggered through their configuration (actionable_event.custom_event), never as a
    # system event: one type is shared by every configuration of a template.
    if not system_event_id.isdigit() or int(system_event_id) in CUSTOM_TYPE_IDS:
        return None
    return BY_ID.get(int(system_event_id))
