"""Monthly limits: an endpoint's data traffic limit (its service profile's `traffic_limit_mb`, event 11)
and an organisation's monthly cost limit (event 12), facts §A.4, §H.3, §H.5.

Counting: every data charge adds its MB to the endpoint's month and its cost to the organisation's month,
every SMS charge its cost; months are UTC calendar months (cellstream.policy.records).

Blocking: an endpoint is blocked while its month's data exceeds (is strictly above) the limit, an
organisation while its month's cost exceeds its limit. The comparison is made at every charge and every
admission, with the limit as it is then, so:
- the block begins with the charge that goes over the limit, or with the first admission after the limit
  was lowered below what the month already used; event 11/12 is stored once per block;
- it ends with the month (the counter starts again from zero), or when the limit is raised above the month's
  use or removed; a later block in the same month stores its event again.
A blocked endpoint gets no data sessions (its open ones are refused at their next charge); a blocked
organisation gets neither data sessions nor SMS on any of its endpoints.
"""

from __future__ import annotations

from msgspec.structs import replace

from cellstream.domain.endpoint_model import Endpoint
from cellstream.domain.subscriber import Subscriber
from cellstream.errors import Unprocessable
from cellstream.policy import events
from cellstream.policy.organisations import watch_organisation
from cellstream.policy.records import EndpointUsage, OrganisationLimits, OrganisationUsage, month_key
from cellstream.store.resources import ResourceTx

# Why a session or message is refused (the end of the rejected Create PDP Context description).
TRAFFIC_LIMIT_EXCEEDED = "endpoint is blocked, traffic limit exceeded"
COST_LIMIT_EXCEEDED = "organisation is blocked, monthly cost limit exceeded"


def set_monthly_cost_limit(tx: ResourceTx, org_id: int, limit: float | None) -> OrganisationLimits:
    """Set (or with None remove) the organisation's monthly cost limit, in its tariff's currency.

    Takes effect at the organisation's next admission or charge (which stores event 12 if the month's cost
    is already above the new limit)."""
    if limit is not None and not limit >= 0:
        raise Unprocessable.of("monthly_cost_limit", "must be a non-negative amount, or null for no limit")
    limits = OrganisationLimits(id=org_id, org_id=org_id, monthly_cost_limit=limit)
    tx.put(limits)
    watch_organisation(tx, org_id, None)
    return limits


def monthly_cost_limit(tx: ResourceTx, org_id: int) -> float | None:
    limits = tx.get(OrganisationLimits, org_id)
    return None if limits is None else limits.monthly_cost_limit


# Endpoint traffic limit ------------------------------------------------------------------------------

def _endpoint_month(tx: ResourceTx, endpoint: Endpoint, ts_ms: int) -> tuple[EndpointUsage, bool]:
    """The endpoint's current month (a new one starts empty) and whether usage at `ts_ms` counts into it."""
    month = month_key(ts_ms)
    stored = tx.get(EndpointUsage, endpoint.id)
    if stored is None:
        return EndpointUsage(id=endpoint.id, org_id=endpoint.org_id, month=month), True
    if stored.month < month:
        return replace(stored, month=month, data_mb=0.0), True
    return stored, stored.month == month  # a late report for a month already closed is not counted


def _enforce_traffic_limit(tx: ResourceTx, sub: Subscriber, usage: EndpointUsage, ts_ms: int, *,
                           dirty: bool) -> bool:
    """Compare the month's data with the limit, store 11 when a block begins, write what changed."""
    limit = sub.service.traffic_limit_mb if sub.service is not None else None
    over = limit is not None and usage.data_mb > limit
    announced = usage.blocked_month == usage.month
    if over and not announced:
        usage, dirty = replace(usage, blocked_month=usage.month), True
        tx.emit(events.subscriber_event(sub, ts_ms, events.ENDPOINT_BLOCKED, events.TRAFFIC_LIMIT_BLOCK))
    elif not over and announced:
        usage, dirty = replace(usage, blocked_month=None), True
    if dirty:
        tx.put(usage)
    return over


def endpoint_blocked(tx: ResourceTx, sub: Subscriber, ts_ms: int) -> bool:
    """Whether the subscriber's endpoint is over its traffic limit this month (admission)."""
    if sub.endpoint is None:
        return False
    usage, _ = _endpoint_month(tx, sub.endpoint, ts_ms)
    return _enforce_traffic_limit(tx, sub, usage, ts_ms, dirty=False)


def count_data(tx: ResourceTx, sub: Subscriber, mb: float, ts_ms: int) -> bool:
    """Add `mb` to the endpoint's month; whether the endpoint is now over its traffic limit."""
    if sub.endpoint is None:
        return False
    usage, counts = _endpoint_month(tx, sub.endpoint, ts_ms)
    counted = counts and mb > 0
    if counted:
        usage = replace(usage, data_mb=round(usage.data_mb + mb, 6))
    return _enforce_traffic_limit(tx, sub, usage, ts_ms, dirty=counted)


# Organisation cost limit -----------------------------------------------------------------------------

def _organisation_month(tx: ResourceTx, org_id: int, ts_ms: int) -> tuple[OrganisationUsage, bool]:
    month = month_key(ts_ms)
    stored = tx.get(OrganisationUsage, org_id)
    if stored is None:
        return OrganisationUsage(id=org_id, org_id=org_id, month=month), True
    if stored.month < month:
        return replace(stored, month=month, cost=0.0), True
    return stored, stored.month == month


def _enforce_cost_limit(tx: ResourceTx, sub: Subscriber, usage: OrganisationUsage, ts_ms: int, *,
                        dirty: bool) -> bool:
    """Compare the month's cost with the limit, store 12 when a block begins, write what changed."""
    limit = monthly_cost_limit(tx, sub.org_id)
    over = limit is not None and usage.cost > limit
    announced = usage.blocked_month == usage.month
    if over and not announced:
        usage, dirty = replace(usage, blocked_month=usage.month), True
        tx.emit(events.organisation_blocked(sub.actor, ts_ms))
    elif not over and announced:
        usage, dirty = replace(usage, blocked_month=None), True
    if dirty:
        tx.put(usage)
    return over


def organisation_blocked(tx: ResourceTx, sub: Subscriber, ts_ms: int) -> bool:
    """Whether the subscriber's organisation is over its monthly cost limit (admission)."""
    usage, _ = _organisation_month(tx, sub.org_id, ts_ms)
    return _enforce_cost_limit(tx, sub, usage, ts_ms, dirty=False)


def count_cost(tx: ResourceTx, sub: Subscriber, cost: float, ts_ms: int) -> bool:
    """Add `cost` to the organisation's month; whether the organisation is now over its limit."""
    usage, counts = _organisation_month(tx, sub.org_id, ts_ms)
    counted = counts and cost > 0
    if counted:
        usage = replace(usage, cost=round(usage.cost + cost, 8))
    return _enforce_cost_limit(tx, sub, usage, ts_ms, dirty=counted)
