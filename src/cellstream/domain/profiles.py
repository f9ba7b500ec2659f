"""Service profiles (what a device may do: RATs, data and SMS service, quota management, traffic limit) and
tariff profiles (the coverage policy and what usage costs), facts §H.3.

Every organisation has a default of each, made the first time the organisation's profiles are needed, as
emnify workspaces come with them. Switching quota management on or off in a service profile stores events
52–55 (facts §A.4; the field-to-event mapping is inferred there and followed here).

A service profile may bind one of the organisation's API callbacks and API secrets (facts §F): mobile-
originated SMS and SMS delivery notifications of its devices are posted there, signed with the secret.
Only ids are kept, so a callback's URL changed or a secret rotated applies at once to every profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgspec.structs import replace

from cellstream.domain.actor import Actor
from cellstream.domain.callbacks import ApiCallback, ApiSecret
from cellstream.domain.domain_events import domain_event
from cellstream.errors import NotFound, Unprocessable
from cellstream.events.model import Event
from cellstream.store.resources import Record, ResourceTx

DATA_QUOTA_ENABLED, DATA_QUOTA_DISABLED, SMS_QUOTA_ENABLED, SMS_QUOTA_DISABLED = 52, 53, 54, 55
DEFAULT_NAME = "Default"


class ServiceProfile(Record, kw_only=True):
    KIND = "service_profile"
    name: str
    description: str | None = None
    allowed_3g: bool = True
    allowed_4g: bool = True
    allowed_nb_iot: bool = False
    data_service: bool = True  # off: every PDP context request is rejected
    sms_service: bool = True
    apply_data_quota: bool = False
    apply_sms_quota: bool = False
    sms_p2p_int: bool = True
    sms_p2p_ext: bool = True
    traffic_limit_mb: float | None = None  # per endpoint and calendar month; None: unlimited (event 11)
    api_callback_id: int | None = None  # where the devices' MO SMS and delivery notifications are posted
    api_secret_id: int | None = None  # signs those requests
    moc_callback_id: int | None = None  # kept and shown only: emnify documents no use for it (facts §K.29)


class TariffProfile(Record, kw_only=True):
    KIND = "tariff_profile"
    name: str
    description: str | None = None
    currency: str = "EUR"
    data_rate_per_mb: float = 0.01  # at home (zone 1)
    roaming_data_rate_per_mb: float = 0.05  # elsewhere
    sms_mo_rate: float = 0.05
    sms_mt_rate: float = 0.0
    home_countries: tuple[str, ...] = ("de",)  # ISO codes charged at the home rate


EDITABLE_SERVICE_FIELDS: Mapping[str, type] = {
    "name": str, "description": str, "allowed_3g": bool, "allowed_4g": bool, "allowed_nb_iot": bool,
    "data_service": bool, "sms_service": bool, "apply_data_quota": bool, "apply_sms_quota": bool,
    "sms_p2p_int": bool, "sms_p2p_ext": bool, "traffic_limit_mb": float,
    "api_callback_id": int, "api_secret_id": int, "moc_callback_id": int,
}
# the binding fields, the kind of record each names, and the API field a 422 names
BINDINGS: Mapping[str, tuple[type[ApiCallback] | type[ApiSecret], str]] = {
    "api_callback_id": (ApiCallback, "api_callback"), "api_secret_id": (ApiSecret, "api_secret"),
    "moc_callback_id": (ApiCallback, "moc_callback"),
}
NULLABLE_SERVICE_FIELDS = frozenset({"description", "traffic_limit_mb", *BINDINGS})


def ensure_defaults(tx: ResourceTx, org_id: int) -> tuple[ServiceProfile, TariffProfile]:
    """The organisation's default profiles, created now if it has none of a kind."""
    services = tx.scan(ServiceProfile, org_id)
    tariffs = tx.scan(TariffProfile, org_id)
    if not services:
        services = [ServiceProfile(id=tx.next_id(ServiceProfile), org_id=org_id, name=DEFAULT_NAME,
                                   description="Data and SMS, no quota management")]
        tx.put(services[0])
    if not tariffs:
        tariffs = [TariffProfile(id=tx.next_id(TariffProfile), org_id=org_id, name=DEFAULT_NAME,
                                 description="Home rate in Germany, roaming rate elsewhere")]
        tx.put(tariffs[0])
    return services[0], tariffs[0]


def service_profile(tx: ResourceTx, org_id: int, profile_id: int) -> ServiceProfile:
    profile = tx.get(ServiceProfile, profile_id)
    if profile is None or profile.org_id != org_id:
        raise NotFound(f"service profile {profile_id} not found")
    return profile


def tariff_profile(tx: ResourceTx, org_id: int, profile_id: int) -> TariffProfile:
    profile = tx.get(TariffProfile, profile_id)
    if profile is None or profile.org_id != org_id:
        raise NotFound(f"tariff profile {profile_id} not found")
    return profile


def update_service_profile(tx: ResourceTx, actor: Actor, profile_id: int,
                           changes: Mapping[str, Any]) -> ServiceProfile:
    """Apply `changes` (already type-checked fields of EDITABLE_SERVICE_FIELDS); quota switches that
    change store their events."""
    ensure_defaults(tx, actor.org_id)
    profile = service_profile(tx, actor.org_id, profile_id)
    unknown = set(changes) - set(EDITABLE_SERVICE_FIELDS)
    if unknown:
        raise Unprocessable.of(sorted(unknown)[0], "is not a field a service profile update can change")
    for name, value in changes.items():
        if value is None and name not in NULLABLE_SERVICE_FIELDS:
            raise Unprocessable.of(name, "must not be null")
    if "name" in changes and not str(changes["name"]).strip():
        raise Unprocessable.of("name", "must not be empty")
    limit = changes.get("traffic_limit_mb")
    if limit is not None and limit <= 0:
        raise Unprocessable.of("traffic_limit_mb", "must be a positive number of MB, or null for no limit")
    for name, (cls, field) in BINDINGS.items():
        bound = changes.get(name)
        if bound is None:
            continue
        record = tx.get(cls, bound) if isinstance(bound, int) and not isinstance(bound, bool) else None
        if record is None or record.org_id != actor.org_id:
            raise Unprocessable.of(field, f"must name one of the organisation's {cls.KIND}s by id")
    updated = replace(profile, **changes)
    tx.put(updated)
    switches = (
        (profile.apply_data_quota, updated.apply_data_quota, DATA_QUOTA_ENABLED, DATA_QUOTA_DISABLED, "Data"),
        (profile.apply_sms_quota, updated.apply_sms_quota, SMS_QUOTA_ENABLED, SMS_QUOTA_DISABLED, "SMS"),
    )
    for before, after, enabled, disabled, what in switches:
        if before != after:
            tx.emit(_quota_switch_event(tx, actor, updated, enabled if after else disabled, what, after))
    return updated


def _quota_switch_event(tx: ResourceTx, actor: Actor, profile: ServiceProfile, type_id: int, what: str,
                        on: bool) -> Event:
    subject = f"service profile (id = {profile.id} - {profile.name})"
    if not on:
        description = f"{what} quota management disabled for {subject}."
    elif what == "Data":
        description = (f"Data quota management enabled for {subject}, endpoints of this service profile "
                       "without an active data quota will be throttled or blocked from data service.")
    else:
        description = (f"SMS quota management enabled for {subject}, endpoints of this service profile "
                       "without an active SMS quota will be blocked from SMS service.")
    return domain_event(tx.now_ms, actor, type_id, description)
