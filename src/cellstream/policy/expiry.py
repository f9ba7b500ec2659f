"""Quotas over time: expiry (event 60 for data) and the daily auto-refill (facts §H.4, §I), applied by the
periodic `sweep` and, so that nothing depends on when the sweep last ran, to any quota Policy Control is
about to use (`current_quota`, at every admission and charge).

Expiry: a quota whose `expiry_ms` has come (now ≥ expiry) becomes EXPIRED, whatever its volume; a data
quota's expiry stores 60 "Data quota expired." (an SMS quota's stores nothing: no event type for it is
documented beyond the lookup entry 61). An expired quota is as good as none: with quota management on,
its endpoint is refused ("endpoint has no quota") until a new quota is assigned.

Daily refill (`auto_refill`): at each UTC midnight before the quota's expiry, the quota is reset — not
topped up — to `last_volume_added`, status ACTIVE (an EXHAUSTED quota becomes usable again, its status
change dated at that midnight), threshold event re-armed. A refill is due when neither the last refill
nor the quota's last status change (its assignment, or its exhaustion) happened at or after today's
midnight; a quota assigned during the day is first refilled at the next midnight. A sweep that runs late
(or after a pause of several days) refills once, dated at the latest midnight. The midnight of the last
refill is kept in QuotaRefills, so a second sweep finds nothing left to do.

New quotas need no hook: `assign_quota` writes an ACTIVE quota, which the next admission or charge uses.
"""

from __future__ import annotations

from collections.abc import Mapping

from msgspec.structs import replace

from cellstream.domain import quotas
from cellstream.domain.actor import Actor
from cellstream.domain.endpoint_model import Endpoint
from cellstream.domain.quotas import ACTIVE, EXPIRED, DataQuota, Kind, Quota, SmsQuota
from cellstream.domain.sims import Sim
from cellstream.domain.subscriber import Subscriber
from cellstream.policy import events
from cellstream.policy.organisations import watched
from cellstream.policy.records import QuotaRefills, day_start
from cellstream.store.resources import ResourceTx


def current_quota(tx: ResourceTx, sub: Subscriber, kind: Kind, ts_ms: int) -> Quota | None:
    """The endpoint's quota of `kind` as it stands at `ts_ms` (expired or refilled if due), or None."""
    if sub.endpoint is None:
        return None
    quota = quotas.quota_of(tx, kind, sub.endpoint.id)
    return None if quota is None else settle(tx, quota, ts_ms, sub.actor)[0]


def settle(tx: ResourceTx, quota: Quota, now_ms: int, actor: Actor) -> tuple[Quota, bool]:
    """Expire or refill the quota if that is due at `now_ms`: (the quota now, whether it changed)."""
    if quota.status_id == EXPIRED:
        return quota, False
    if now_ms >= quota.expiry_ms:
        expired = replace(quota, status_id=EXPIRED, last_status_change_ms=now_ms)
        tx.put(expired)
        if isinstance(quota, DataQuota):
            endpoint = tx.get(Endpoint, quota.id)
            sim_id = endpoint.sim_id if endpoint is not None else None
            sim = tx.get(Sim, sim_id) if sim_id is not None else None
            tx.emit(events.endpoint_event(actor, endpoint, sim, now_ms, events.DATA_QUOTA_EXPIRED,
                                          events.DATA_EXPIRED))
        return expired, True
    if not quota.auto_refill:
        return quota, False
    return _refill(tx, quota, now_ms)


def _refill(tx: ResourceTx, quota: Quota, now_ms: int) -> tuple[Quota, bool]:
    midnight = day_start(now_ms)
    is_data = isinstance(quota, DataQuota)
    marks = tx.get(QuotaRefills, quota.id) or QuotaRefills(id=quota.id, org_id=quota.org_id)
    last = marks.data_ms if is_data else marks.sms_ms
    if max(last, quota.last_status_change_ms) >= midnight:
        return quota, False
    tx.put(replace(marks, data_ms=midnight) if is_data else replace(marks, sms_ms=midnight))
    refilled = replace(quota, volume=quota.last_volume_added, status_id=ACTIVE, threshold_reported=False,
                       last_status_change_ms=(quota.last_status_change_ms if quota.status_id == ACTIVE
                                              else midnight))
    if refilled == quota:  # still full: only the refill mark moves
        return quota, False
    tx.put(refilled)
    return refilled, True


def sweep(tx: ResourceTx, now_ms: int, organisations: Mapping[int, str] | None = None) -> int:
    """Expire and refill every quota that is due, of every organisation Policy Control has met and of
    `organisations` ({id: name}, e.g. all the account store holds); how many quotas changed.

    Idempotent: a second run at the same time (or any time before the next expiry or midnight) changes
    nothing."""
    names: dict[int, str | None] = dict(watched(tx))
    names.update(organisations or {})
    changed = 0
    for org_id in sorted(names):
        actor = Actor(events.organisation_ref(org_id, names[org_id]), None)
        for cls in (DataQuota, SmsQuota):
            for quota in tx.scan(cls, org_id):
                changed += settle(tx, quota, now_ms, actor)[1]
    return changed
