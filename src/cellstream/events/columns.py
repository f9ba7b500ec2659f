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


def _text(ref: dict[str, Any] | None, key: str) -> str | None:
    if not ref:
        return None
    value = ref.get(key)
    return None if value is None else str(value)


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
    user = event.user
    user_text = " ".join(str(user[k]) for k in ("name", "username") if user and user.get(k)) or None
    network, country, rat = _network(event.detail)
    return EventColumns(
        id=event.id,
        org_id=event.org_id,
        ts_ms=event.timestamp_ms,
        type_id=event.type_id,
        source_id=event.source_id,
        severity_id=event.severity_id,
        alert=event.alert,
        description=event.description,
        org_name=_text(event.organisation, "name"),
        user_id=int(user["id"]) if user else None,
        user_text=user_text,
        endpoint_id=int(event.endpoint["id"]) if event.endpoint else None,
        endpoint_name=_text(event.endpoint, "name"),
        tags=_text(event.endpoint, "tags"),
        ip_address=_text(event.endpoint, "ip_address"),
        imei=_text(event.endpoint, "imei"),
        sim_id=int(event.sim["id"]) if event.sim else None,
        iccid=_text(event.sim, "iccid"),
        imsi=_text(event.imsi, "imsi"),
        network=network,
        country=country,
        rat=rat,
    )
