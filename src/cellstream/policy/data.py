"""Data sessions: admitting a Create PDP Context and charging the usage of an open session.

Admission (`admit_data_session`, before the Network source stores its accepted event 3). Checked in this
order; the first that fails refuses the session and stores event 3 "PDP Context Request rejected, because
<reason>." (source Policy Control, Warn, alert, no detail):
1. the SIM is Activated or in Factory Test (which activates itself later) — else "SIM is not activated";
2. the SIM sits in an endpoint — else "SIM is not assigned to an endpoint" (Cellstream's wording);
3. the endpoint is Enabled — else "endpoint is disabled" (Cellstream's wording);
4. its service profile has the data service on — else "data service disabled in service profile";
5. the organisation is within its monthly cost limit — else "organisation is blocked, monthly cost limit
   exceeded" (Cellstream's wording; event 12 is stored first if the block begins now, see
   cellstream.policy.limits);
6. the endpoint is within its traffic limit this month — else "endpoint is blocked, traffic limit exceeded"
   (Cellstream's wording; event 11 first if the block begins now);
7. with `apply_data_quota` on, the endpoint has a data quota that is ACTIVE — else "endpoint has no quota"
   (none, or EXPIRED: event 60 is stored first if it expires now) or, when EXHAUSTED with action Block,
   "quota volume of endpoint is exhausted and defined action is to block data traffic". EXHAUSTED with
   action Throttle admits the session throttled to the quota's peak throughput (octets per second).

Charging (`charge_data`, for each usage record of an open session): the bytes count towards Factory Test
(event 8 at 100 KB), the endpoint's month (event 11 when the traffic limit is exceeded) and the
organisation's month cost (event 12 when the cost limit is exceeded); with `apply_data_quota` on they are
deducted in MB (1,000,000 bytes, see cellstream.policy.records) from an ACTIVE data quota:
- the first time the remaining volume falls below threshold_percentage % of the volume last added, 18
  "Endpoint quota threshold reached, volume is below <p>%." (once per volume: re-armed by a new quota or
  a refill; a threshold of 0 % never fires);
- when nothing remains (volume ≤ 0; the stored volume stops at 0), 19 "Quota volume is completely used up
  and data access denied for endpoint." and the quota becomes EXHAUSTED; then with action Block the charge
  answers Verdict(False, "quota exhausted") and the network tears the session down; with Throttle it
  stores 0 "Disconnecting data access for endpoint to apply throttling action." and answers
  Verdict(True, max_bytes_per_s=peak throughput).
Usage that happened is always counted, even when the answer refuses the session. The answer refuses when
any rule does (traffic limit, cost limit, used-up Block quota, quota gone or expired), otherwise carries the
throttle, if any. A quota assigned while a session is throttled or blocked is used from the next charge
(the throttle lifts) or the next admission.
"""

from __future__ import annotations

from msgspec.structs import replace

from cellstream.domain.quotas import ACTIVE, EXHAUSTED, THROTTLE, Quota
from cellstream.domain.subscriber import ACCEPTED, Subscriber, Verdict
from cellstream.policy import events, factory_test, limits
from cellstream.policy.access import access_refusal
from cellstream.policy.expiry import current_quota
from cellstream.policy.organisations import watch
from cellstream.policy.records import megabytes
from cellstream.store.resources import ResourceTx

DATA_SERVICE_DISABLED = "data service disabled in service profile"
NO_QUOTA = "endpoint has no quota"
QUOTA_BLOCKED = "quota volume of endpoint is exhausted and defined action is to block data traffic"
QUOTA_EXHAUSTED = "quota exhausted"  # the answer to a charge that used the quota up (action Block)


def admit_data_session(tx: ResourceTx, sub: Subscriber, ts_ms: int) -> Verdict:
    """Admit or refuse a new data session (module docstring); a refusal stores rejected event 3."""
    watch(tx, sub)
    reason = _refusal(tx, sub, ts_ms)
    if isinstance(reason, Verdict):
        return reason
    tx.emit(events.rejected_pdp_context(sub, ts_ms, reason))
    return Verdict(False, reason)


def _refusal(tx: ResourceTx, sub: Subscriber, ts_ms: int) -> str | Verdict:
    """Why the session is refused, or the admitting verdict."""
    refusal = access_refusal(sub)
    if refusal is not None:
        return refusal
    if sub.service is None or not sub.service.data_service:
        return DATA_SERVICE_DISABLED
    if limits.organisation_blocked(tx, sub, ts_ms):
        return limits.COST_LIMIT_EXCEEDED
    if limits.endpoint_blocked(tx, sub, ts_ms):
        return limits.TRAFFIC_LIMIT_EXCEEDED
    if not sub.service.apply_data_quota:
        return ACCEPTED
    quota = current_quota(tx, sub, "data", ts_ms)
    if quota is None or quota.status_id not in (ACTIVE, EXHAUSTED):
        return NO_QUOTA
    if quota.status_id == EXHAUSTED:
        return _throttled(quota) if quota.action_id == THROTTLE else QUOTA_BLOCKED
    return ACCEPTED


def _throttled(quota: Quota) -> Verdict:
    return Verdict(True, max_bytes_per_s=quota.peak_throughput)


def charge_data(tx: ResourceTx, sub: Subscriber, *, rx_bytes: int, tx_bytes: int, cost: float,
                ts_ms: int) -> Verdict:
    """Count a usage report of an open session and answer whether the session may go on (and how fast)."""
    watch(tx, sub)
    octets = max(rx_bytes, 0) + max(tx_bytes, 0)
    mb = megabytes(octets)
    factory_test.count_data(tx, sub, octets, ts_ms)
    quota_verdict = _deduct(tx, sub, mb, ts_ms)
    over_traffic = limits.count_data(tx, sub, mb, ts_ms)
    over_cost = limits.count_cost(tx, sub, cost, ts_ms)
    if over_traffic:
        return Verdict(False, limits.TRAFFIC_LIMIT_EXCEEDED)
    if over_cost:
        return Verdict(False, limits.COST_LIMIT_EXCEEDED)
    return quota_verdict


def _deduct(tx: ResourceTx, sub: Subscriber, mb: float, ts_ms: int) -> Verdict:
    """Take `mb` from the endpoint's data quota (when quota management applies); the quota's verdict."""
    if sub.endpoint is None or sub.service is None or not sub.service.apply_data_quota:
        return ACCEPTED
    quota = current_quota(tx, sub, "data", ts_ms)
    if quota is None or quota.status_id not in (ACTIVE, EXHAUSTED):
        return Verdict(False, NO_QUOTA)
    if quota.status_id == EXHAUSTED:
        return _throttled(quota) if quota.action_id == THROTTLE else Verdict(False, QUOTA_EXHAUSTED)
    if mb <= 0:
        return ACCEPTED
    remaining = round(quota.volume - mb, 6)
    changed = replace(quota, volume=max(remaining, 0.0))
    if (not quota.threshold_reported and quota.threshold_percentage > 0
            and remaining < quota.threshold_volume):
        changed = replace(changed, threshold_reported=True)
        tx.emit(events.data_threshold(sub, ts_ms, quota, remaining))
    if remaining > 0:
        tx.put(changed)
        return ACCEPTED
    tx.put(replace(changed, status_id=EXHAUSTED, last_status_change_ms=ts_ms))
    tx.emit(events.data_used_up(sub, ts_ms, quota))
    if quota.action_id == THROTTLE:
        tx.emit(events.subscriber_event(sub, ts_ms, events.GENERIC, events.THROTTLING))
        return _throttled(quota)
    return Verdict(False, QUOTA_EXHAUSTED)
