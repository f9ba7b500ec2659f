"""The searchable and sortable fields of an event, extracted once at ingest.

Every store keeps these next to the canonical JSON; the query grammar's filters and sort keys are defined
over them, so the SQL stores and the in-memory predicate (streams, automations, the portal's live tail)
answer a query the same way.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from cellstream.events.model import Event


class EventColumns(NamedTuple):
    id: int
    org_id: int
    ts_ms: int
    type_id: int
    source_id: int
    severity_id: int
    alert: bool
    description: str
    org_name: str | None
    user_id: int | None
    user_text: str | None  # name and username, for the `user` filter
    endpoint_id: int | None
    endpoint_name: str | None
    tags: str | None
    ip_address: str | None
    imei: str | None
    sim_id: int | None
    iccid: str | None
    imsi: str | None
    network: str | None
    country: str | None
    rat: int | None


COLUMN_NAMES: tuple[str, ...] = EventColumns._fields


def _text(ref: dict[str, Any], key: str) -> str | None:
    value = ref.get(key)
    return value if type(value) is str or value is None else str(value)  # most are str already


def _user_text(user: dict[str, Any]) -> str | None:
    """Name and username, for the `user` filter (spelled out: a generator and join cost ~0.5 µs)."""
    name, username = user.get("name"), user.get("username")
    if name and username:
        return f"{name!s} {username!s}"
    if name or username:
        return str(name or username) or None
    return None


def _network(detail: Any) -> tuple[str | None, str | None, int | None]:
    """Operator name, country name and RAT type of network events (their detail names the operator)."""
    if not isinstance(detail, dict):
        return None, None, None
    country = detail.get("country")
    country_name = country.get("name") if isinstance(country, dict) else None
    network = detail.get("name") if isinstance(country, dict) or "mnc" in detail else None
    pdp = detail.get("pdp_context")
    rat = pdp.get("rat_type") if isinstance(pdp, dict) else None
    return (
        network if isinstance(network, str) else None,
        country_name if isinstance(country_name, str) else None,
        rat if isinstance(rat, int) and not isinstance(rat, bool) else None,
    )


def columns_of(event: Event) -> EventColumns:
    if event.id is None:
        raise ValueError("columns are taken from events that have an id")
    # A reference is tested by truth: an empty one has no columns either. Arguments are positional, in
    # field order, because keywords cost ~0.4 µs more an event (mypy still checks each one's type).
    org, user, endpoint, sim, imsi = event.organisation, event.user, event.endpoint, event.sim, event.imsi
    return EventColumns(
        event.id, event.org_id, event.timestamp_ms, event.type_id, event.source_id, event.severity_id,
        event.alert, event.description,
        _text(org, "name") if org else None,
        int(user["id"]) if user else None, _user_text(user) if user else None,
        int(endpoint["id"]) if endpoint else None, _text(endpoint, "name") if endpoint else None,
        _text(endpoint, "tags") if endpoint else None, _text(endpoint, "ip_address") if endpoint else None,
        _text(endpoint, "imei") if endpoint else None,
        int(sim["id"]) if sim else None, _text(sim, "iccid") if sim else None,
        _text(imsi, "imsi") if imsi else None,
        *_network(event.detail),
    )
