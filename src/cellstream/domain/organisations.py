"""The caller's own organisation (facts §H.5): its details, `PATCH`ed → event 31 "Organisation updated",
and its billing configuration, `PATCH`ed → event 32 "Billing configuration updated" (facts §A.2 rows 31,
32; §A.3).

Each change is one account-store transaction with its event: the organisation is read, the change and its
event decided from what was read, and the store applies both only if the organisation is still what was
read (otherwise it is read and decided again), so `old` in event 31 is always the value replaced.
Subscribers are woken after the commit. Nothing changes (and no event is stored) when the request sets
every field to the value it has.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from cellstream.clock import Clock
from cellstream.domain.actor import Actor, actor_of
from cellstream.domain.domain_events import domain_event
from cellstream.domain.principal import Principal
from cellstream.errors import NotFound, Unprocessable
from cellstream.events.model import Event
from cellstream.events.timefmt import format_timestamp
from cellstream.ingest.notifier import Notifier
from cellstream.network.operators import Country, countries
from cellstream.store.protocols import AccountStore, Organisation, StaleOrganisation

ORGANISATION_UPDATED, BILLING_CONFIG_UPDATED = 31, 32
UPDATED_TEXT = "Organisation data updated."
BILLING_TEXT = "Billing config has been updated."
ATTEMPTS = 5  # reads and decisions of one change when others keep changing the organisation meanwhile
MAX_TEXT = 255
MAX_ID = 2**31 - 1

STATUSES = {0: "Enabled", 1: "Suspended", 2: "Deleted"}  # fixture organisation-status-lookup.json
TYPES = {4: "Enterprise"}  # the only type documented (organisation-my.json)
CURRENCIES = {1: ("EUR", "€"), 2: ("USD", "$")}  # GET /api/v1/currency examples
# Only id 3 is named anywhere (organisation-my.json); other ids are kept and shown without a name.
VERIFICATION_TYPES = {3: "ID Card"}
ORGANISATION_CLASS = {"id": 0, "description": "Commercial"}  # Cellstream has no other organisation class
# Event 31 lists the changed fields in this order, under these names (facts §A.2 row 31).
DETAIL_FIELDS = ("name", "country_id", "verification_type_id", "verification")
BILLING_FIELDS = ("charging_model_id", "payment_term_id", "vatin")
_COUNTRIES: dict[int, Country] = {c.id: c for c in countries()}
EventOf = Callable[[int, Actor, Organisation, Organisation], Event]  # (now, actor, old, new) → event


def _text(value: Any) -> str:
    """A value as event 31 writes it: a string, null as "null"."""
    return "null" if value is None else str(value)


def _lookup_id(body: Mapping[str, Any], field: str, *, nullable: bool) -> int | None:
    """`{field: {"id": n}}` → n (the request models have checked the shape)."""
    value = body[field]
    if value is None:
        if not nullable:
            raise Unprocessable.of(f"{field}.id", "must not be null")
        return None
    ident = value.get("id") if isinstance(value, Mapping) else None
    if isinstance(ident, bool) or not isinstance(ident, int) or not 0 <= ident <= MAX_ID:
        raise Unprocessable.of(f"{field}.id", f"must be an integer from 0 to {MAX_ID}")
    return ident


def _optional_text(body: Mapping[str, Any], field: str) -> str | None:
    value = body[field]
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise Unprocessable.of(field, f"must be a string of at most {MAX_TEXT} characters, or null")
    return value.strip() or None


def organisation_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """The store fields a `PATCH /api/v1/organisation/my` body sets: `name`, `country` {id},
    `verification_type` {id} (null clears), `verification` (null clears). Other keys are ignored."""
    changes: dict[str, Any] = {}
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_TEXT:
            raise Unprocessable.of("name", f"must be a non-empty string of at most {MAX_TEXT} characters")
        changes["name"] = name.strip()
    if "country" in body:
        country = _lookup_id(body, "country", nullable=True)
        if country is not None and country not in _COUNTRIES:
            raise Unprocessable.of("country.id", f"Country with id '{country}' not found.")
        changes["country_id"] = country
    if "verification_type" in body:
        changes["verification_type_id"] = _lookup_id(body, "verification_type", nullable=True)
    if "verification" in body:
        changes["verification"] = _optional_text(body, "verification")
    if not changes:
        raise Unprocessable.of("body", "give at least one of name, country, verification_type, verification")
    return changes


def billing_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """The store fields a billing configuration `PATCH` sets: `charging_model` {id}, `payment_term` {id},
    `vatin` (null clears)."""
    changes: dict[str, Any] = {}
    if "charging_model" in body:
        changes["charging_model_id"] = _lookup_id(body, "charging_model", nullable=False)
    if "payment_term" in body:
        changes["payment_term_id"] = _lookup_id(body, "payment_term", nullable=False)
    if "vatin" in body:
        changes["vatin"] = _optional_text(body, "vatin")
    if not changes:
        raise Unprocessable.of("body", "give at least one of charging_model, payment_term, vatin")
    return changes


def changed_data(old: Organisation, new: Organisation) -> list[dict[str, dict[str, str]]]:
    """Event 31's `detail.changed_data`: one one-key object per changed field."""
    return [{field: {"old": _text(getattr(old, field)), "new": _text(getattr(new, field))}}
            for field in DETAIL_FIELDS if getattr(old, field) != getattr(new, field)]


def billing_config(org: Organisation) -> dict[str, Any]:
    """The billing configuration as `GET` shows it and event 32's `detail.billing_config` carries it."""
    return {"charging_model": {"id": org.charging_model_id}, "payment_term": {"id": org.payment_term_id},
            "vatin": org.vatin}


def organisation_updated(now_ms: int, actor: Actor, old: Organisation, new: Organisation) -> Event:
    """Event 31. Its `organisation` is the actor's, named as before the change (as in emnify's example)."""
    return domain_event(now_ms, actor, ORGANISATION_UPDATED, UPDATED_TEXT,
                        detail={"changed_data": changed_data(old, new)})


def billing_config_updated(now_ms: int, actor: Actor, old: Organisation, new: Organisation) -> Event:
    """Event 32: the whole configuration after the change."""
    return domain_event(now_ms, actor, BILLING_CONFIG_UPDATED, BILLING_TEXT,
                        detail={"billing_config": billing_config(new)})


def organisation_json(org: Organisation) -> dict[str, Any]:
    """`GET /api/v1/organisation/my` (facts §H.5, fixture organisation-my.json)."""
    country = _COUNTRIES.get(org.country_id) if org.country_id is not None else None
    currency = CURRENCIES.get(org.currency_id)
    verification_type: dict[str, Any] | None = None
    if org.verification_type_id is not None:
        verification_type = {"id": org.verification_type_id}
        if org.verification_type_id in VERIFICATION_TYPES:
            verification_type["description"] = VERIFICATION_TYPES[org.verification_type_id]
    return {
        "id": org.id,
        "name": org.name,
        "ext_reference": None,
        "type": {"id": org.type_id, "description": TYPES.get(org.type_id, "")},
        "class": dict(ORGANISATION_CLASS),
        "country": country.as_json() if country is not None else None,
        "status": {"id": org.status_id, "description": STATUSES.get(org.status_id, "")},
        "relation": None,
        "monthly_cost_limit": org.monthly_cost_limit,
        "currency": {"id": org.currency_id, "code": currency[0] if currency else "",
                     "symbol": currency[1] if currency else ""},
        "created": format_timestamp(org.created_ms),
        "verification_type": verification_type,
        "verification": org.verification,
    }


class Organisations:
    def __init__(self, accounts: AccountStore, notifier: Notifier, clock: Clock) -> None:
        self.accounts = accounts
        self.notifier = notifier
        self.clock = clock

    async def get(self, principal: Principal) -> Organisation:
        org = await self.accounts.get_organisation(principal.org_id)
        if org is None:
            raise NotFound(f"Organisation with Id '{principal.org_id}' not found.")
        return org

    async def update(self, principal: Principal, body: Mapping[str, Any]) -> Organisation:
        """`PATCH /api/v1/organisation/my` → event 31 when something changed."""
        principal.require_administrator("may change the organisation")
        changes = organisation_changes(body)
        return await self._change(principal, changes, organisation_updated)

    async def update_billing(self, principal: Principal, body: Mapping[str, Any]) -> Organisation:
        """`PATCH /api/v1/organisation/my/billing_config` → event 32 when something changed."""
        principal.require_administrator("may change the billing configuration")
        changes = billing_changes(body)
        return await self._change(principal, changes, billing_config_updated)

    async def _change(self, principal: Principal, changes: dict[str, Any], event_of: EventOf) -> Organisation:
        actor = await actor_of(self.accounts, principal)
        for attempt in range(ATTEMPTS):
            old = await self.get(principal)
            new = dataclasses.replace(old, **changes)
            if new == old:
                return old
            # The organisation as read, named as before this change (as in emnify's example of 31).
            acting = Actor({"id": old.id, "name": old.name}, actor.user)
            event = event_of(self.clock.now_ms(), acting, old, new)
            try:
                result = await self.accounts.update_organisation(old.id, changes, events=[event],
                                                                 expected=old)
            except StaleOrganisation:
                if attempt == ATTEMPTS - 1:
                    raise
                continue
            await self.notifier.committed(result.stored)
            return new
        raise AssertionError("unreachable")  # pragma: no cover
