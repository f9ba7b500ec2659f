"""Endpoints (devices): create, change, delete, and the SIM that sits in one (facts §H.1, §A.4).

Events: status Enabled/Disabled → 42/43; a SIM put into an endpoint → 51 "SIM Assigned" (detail: the
endpoint's IMEI), taken out → 50 "SIM Released"; a SIM status given with the assignment moves the SIM too
(8 or 45). Creating or deleting an endpoint stores no event, as on emnify.

Addresses: unless one is given, an endpoint gets 10.a.b.c from its id in its organisation's default
address space, so two endpoints never share one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from msgspec.structs import replace

from cellstream.domain import profiles, sims
from cellstream.domain.actor import Actor
from cellstream.domain.domain_events import domain_event
from cellstream.domain.endpoint_model import DISABLED, ENABLED, STATUS_NAMES, Endpoint
from cellstream.domain.sims import Sim
from cellstream.errors import Conflict, NotFound, Unprocessable
from cellstream.store.resources import ResourceTx

ENDPOINT_ENABLED, ENDPOINT_DISABLED, SIM_RELEASED, SIM_ASSIGNED = 42, 43, 50, 51
UNSET: Any = object()  # a field the request did not mention (None means "set to nothing")
MAX_NAME = 255


@dataclass(frozen=True)
class SimChoice:
    """`sim` of a create or update request: the SIM to put in, and optionally its new status."""

    sim_id: int
    status_id: int | None = None


@dataclass(frozen=True)
class EndpointChanges:
    """What a create or update asks for; UNSET fields stay as they are (or take their default)."""

    name: Any = UNSET
    tags: Any = UNSET
    status_id: Any = UNSET
    service_profile_id: Any = UNSET
    tariff_profile_id: Any = UNSET
    ip_address: Any = UNSET
    imei: Any = UNSET
    imei_lock: Any = UNSET
    sim: Any = UNSET  # SimChoice, or None to take the SIM out
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EndpointDetails:
    """An endpoint with the records its API representation names."""

    endpoint: Endpoint
    service_profile: profiles.ServiceProfile | None
    tariff_profile: profiles.TariffProfile | None
    sim: Sim | None


def details(tx: ResourceTx, endpoint: Endpoint) -> EndpointDetails:
    return EndpointDetails(endpoint, tx.get(profiles.ServiceProfile, endpoint.service_profile_id),
                           tx.get(profiles.TariffProfile, endpoint.tariff_profile_id),
                           None if endpoint.sim_id is None else tx.get(Sim, endpoint.sim_id))


def organisation_endpoint(tx: ResourceTx, org_id: int, endpoint_id: int) -> Endpoint:
    endpoint = tx.get(Endpoint, endpoint_id)
    if endpoint is None or endpoint.org_id != org_id:
        raise NotFound(f"endpoint {endpoint_id} not found")
    return endpoint


def create_endpoint(tx: ResourceTx, actor: Actor, changes: EndpointChanges) -> Endpoint:
    profiles.ensure_defaults(tx, actor.org_id)
    for name in ("service_profile_id", "tariff_profile_id", "status_id"):
        if getattr(changes, name) is UNSET:
            raise Unprocessable.of(name.removesuffix("_id") + ".id", "is required")
    endpoint_id = tx.next_id(Endpoint)
    endpoint = Endpoint(id=endpoint_id, org_id=actor.org_id, name="", service_profile_id=0,
                        tariff_profile_id=0, ip_address=_default_address(endpoint_id), created_ms=tx.now_ms,
                        last_updated_ms=tx.now_ms)
    endpoint = _apply(tx, actor, endpoint, changes)
    tx.put(endpoint)
    if isinstance(changes.sim, SimChoice):
        _assign(tx, actor, endpoint, changes.sim)
    return endpoint


def update_endpoint(tx: ResourceTx, actor: Actor, endpoint_id: int, changes: EndpointChanges) -> Endpoint:
    before = organisation_endpoint(tx, actor.org_id, endpoint_id)
    endpoint = replace(_apply(tx, actor, before, changes), last_updated_ms=tx.now_ms)
    if changes.sim is None and before.sim_id is not None:
        _release(tx, actor, endpoint)
        endpoint = replace(endpoint, sim_id=None)
    elif isinstance(changes.sim, SimChoice) and changes.sim.sim_id != before.sim_id:
        if before.sim_id is not None:
            _release(tx, actor, endpoint)
        endpoint = replace(endpoint, sim_id=None)
    tx.put(endpoint)
    if isinstance(changes.sim, SimChoice):
        if changes.sim.sim_id != before.sim_id:
            endpoint = _assign(tx, actor, endpoint, changes.sim)
        elif changes.sim.status_id is not None:
            sims.change_status(tx, actor, changes.sim.sim_id, changes.sim.status_id)
    if endpoint.status_id != before.status_id:
        _status_event(tx, actor, endpoint)
    return endpoint


def delete_endpoint(tx: ResourceTx, actor: Actor, endpoint_id: int) -> None:
    endpoint = organisation_endpoint(tx, actor.org_id, endpoint_id)
    if endpoint.sim_id is not None:
        raise Conflict(f"endpoint {endpoint_id} still holds SIM {endpoint.sim_id}; release it first")
    tx.delete(Endpoint, endpoint_id)


def _apply(tx: ResourceTx, actor: Actor, endpoint: Endpoint, changes: EndpointChanges) -> Endpoint:
    """The endpoint with the request's plain fields applied, each checked."""
    updates: dict[str, Any] = {}
    if changes.extra:
        raise Unprocessable.of(sorted(changes.extra)[0], "is not a field of an endpoint")
    if changes.name is not UNSET:
        name = str(changes.name or "").strip()
        if len(name) > MAX_NAME:
            raise Unprocessable.of("name", f"must be at most {MAX_NAME} characters")
        updates["name"] = name
    if changes.tags is not UNSET:
        updates["tags"] = changes.tags or None
    if changes.status_id is not UNSET:
        if changes.status_id not in STATUS_NAMES:
            raise Unprocessable.of("status.id", "must be 0 (Enabled) or 1 (Disabled)")
        updates["status_id"] = changes.status_id
    org = actor.org_id
    try:
        if changes.service_profile_id is not UNSET:
            updates["service_profile_id"] = profiles.service_profile(tx, org, changes.service_profile_id).id
        if changes.tariff_profile_id is not UNSET:
            updates["tariff_profile_id"] = profiles.tariff_profile(tx, org, changes.tariff_profile_id).id
    except NotFound as exc:  # the request names something that is not there: the body is at fault
        field_name = "service_profile.id" if "service" in exc.message else "tariff_profile.id"
        raise Unprocessable.of(field_name, exc.message) from None
    if changes.ip_address is not UNSET:
        updates["ip_address"] = _address(changes.ip_address)
    if changes.imei is not UNSET:
        updates["imei"] = _imei(changes.imei)
    if changes.imei_lock is not UNSET:
        updates["imei_lock"] = bool(changes.imei_lock)
    return replace(endpoint, **updates)


def _assign(tx: ResourceTx, actor: Actor, endpoint: Endpoint, choice: SimChoice) -> Endpoint:
    try:
        sim = sims.organisation_sim(tx, actor.org_id, choice.sim_id)
    except NotFound as exc:
        raise Unprocessable.of("sim.id", exc.message) from None
    if sim.status_id == sims.DELETED:
        raise Unprocessable.of("sim.id", f"SIM {sim.id} is deleted")
    if sim.endpoint_id is not None and sim.endpoint_id != endpoint.id:
        raise Conflict(f"SIM {sim.id} is already assigned to endpoint {sim.endpoint_id}")
    endpoint = replace(endpoint, sim_id=sim.id)
    tx.put(endpoint)
    sim = replace(sim, endpoint_id=endpoint.id)
    tx.put(sim)
    tx.emit(domain_event(tx.now_ms, actor, SIM_ASSIGNED, f"SIM {sim.id} assigned to endpoint {endpoint.id}",
                         endpoint=endpoint.ref(), sim=sim.ref(), imsi=sim.imsi_ref(),
                         detail={"imei": endpoint.imei} if endpoint.imei else None))
    if choice.status_id is not None:
        sims.change_status(tx, actor, sim.id, choice.status_id)
    return endpoint


def _release(tx: ResourceTx, actor: Actor, endpoint: Endpoint) -> None:
    sim = tx.get(Sim, endpoint.sim_id) if endpoint.sim_id is not None else None
    if sim is None:
        return
    tx.put(replace(sim, endpoint_id=None))
    tx.emit(domain_event(tx.now_ms, actor, SIM_RELEASED, f"SIM {sim.id} released from endpoint {endpoint.id}",
                         endpoint=endpoint.ref(), sim=sim.ref(), imsi=sim.imsi_ref()))


def _status_event(tx: ResourceTx, actor: Actor, endpoint: Endpoint) -> None:
    sim = tx.get(Sim, endpoint.sim_id) if endpoint.sim_id is not None else None
    type_id = ENDPOINT_ENABLED if endpoint.status_id == ENABLED else ENDPOINT_DISABLED
    tx.emit(domain_event(tx.now_ms, actor, type_id,
                         f"Status of Endpoint {endpoint.id} changed to {STATUS_NAMES[endpoint.status_id]}",
                         endpoint=endpoint.ref(), sim=None if sim is None else sim.ref(),
                         imsi=None if sim is None else sim.imsi_ref()))


def _default_address(endpoint_id: int) -> str:
    return str(ipaddress.IPv4Address((10 << 24) | (endpoint_id % (1 << 24))))


def _address(value: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise Unprocessable.of("ip_address", f"{value!r} is not an IPv4 address") from None


def _imei(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) in (15, 16)):
        raise Unprocessable.of("imei", "must be 15 digits (IMEI) or 16 (IMEISV)")
    return text


__all__ = ["DISABLED", "ENABLED", "EndpointChanges", "SimChoice", "create_endpoint", "delete_endpoint",
           "organisation_endpoint", "update_endpoint"]
