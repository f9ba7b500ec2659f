"""Short messages: admitting one (before delivery) and charging a delivered one.

Admission (`admit_sms`) refuses, in this order, when the SIM is neither Activated nor in Factory Test, when
it sits in no endpoint or a disabled one, when the service profile has the SMS service off, when the
organisation is over its monthly cost limit (event 12 if the block begins now), and — with
`apply_sms_quota` on — when the endpoint has no ACTIVE SMS quota (none, EXPIRED, or EXHAUSTED: the
throttle action has no effect on SMS, facts §H.4). No rejected-SMS event type is documented, so these
refusals store no event: the answer's reason is the only trace.

Charging (`charge_sms`, after delivery; MO and MT alike count): the message counts towards Factory Test
(the 10th activates the SIM, event 8) and its cost towards the organisation's month (event 12 when the
limit is exceeded); with `apply_sms_quota` on one message is taken from an ACTIVE SMS quota — below the
threshold 20 "SMS quota threshold reached, volume is below <p>%." once per volume, at zero 21 "SMS quota
volume is completely used up and SMS access denied for endpoint." and the quota becomes EXHAUSTED, so the
next message is refused at admission. The charged message itself was within what was allowed and has been
delivered, so the charge answers ACCEPTED; every block it causes applies from the next admission.
"""

from __future__ import annotations

from msgspec.structs import replace

from cellstream.domain.quotas import ACTIVE, EXHAUSTED
from cellstream.domain.subscriber import ACCEPTED, Subscriber, Verdict
from cellstream.policy import events, factory_test, limits
from cellstream.policy.access import access_refusal
from cellstream.policy.expiry import current_quota
from cellstream.policy.organisations import watch
from cellstream.store.resources import ResourceTx

SMS_SERVICE_DISABLED = "SMS service disabled in service profile"
NO_SMS_QUOTA = "endpoint has no SMS quota"
SMS_QUOTA_EXHAUSTED = "SMS quota volume of endpoint is exhausted"


def admit_sms(tx: ResourceTx, sub: Subscriber, ts_ms: int) -> Verdict:
    """Admit or refuse one short message (module docstring); refusals store no event."""
    watch(tx, sub)
    refusal = access_refusal(sub)
    if refusal is not None:
        return Verdict(False, refusal)
    if sub.service is None or not sub.service.sms_service:
        return Verdict(False, SMS_SERVICE_DISABLED)
    if limits.organisation_blocked(tx, sub, ts_ms):
        return Verdict(False, limits.COST_LIMIT_EXCEEDED)
    if not sub.service.apply_sms_quota:
        return ACCEPTED
    quota = current_quota(tx, sub, "sms", ts_ms)
    if quota is None or quota.status_id not in (ACTIVE, EXHAUSTED):
        return Verdict(False, NO_SMS_QUOTA)
    if quota.status_id == EXHAUSTED:
        return Verdict(False, SMS_QUOTA_EXHAUSTED)
    return ACCEPTED


def charge_sms(tx: ResourceTx, sub: Subscriber, *, direction: str, cost: float, ts_ms: int) -> Verdict:
    """Count one delivered message (`direction` "MO" or "MT"; both count the same)."""
    watch(tx, sub)
    factory_test.count_sms(tx, sub, ts_ms)
    _deduct(tx, sub, ts_ms)
    limits.count_cost(tx, sub, cost, ts_ms)
    return ACCEPTED


def _deduct(tx: ResourceTx, sub: Subscriber, ts_ms: int) -> None:
    if sub.endpoint is None or sub.service is None or not sub.service.apply_sms_quota:
        return
    quota = current_quota(tx, sub, "sms", ts_ms)
    if quota is None or quota.status_id != ACTIVE:
        return
    remaining = quota.volume - 1
    changed = replace(quota, volume=max(remaining, 0.0))
    if (not quota.threshold_reported and quota.threshold_percentage > 0
            and remaining < quota.threshold_volume):
        changed = replace(changed, threshold_reported=True)
        tx.emit(events.sms_threshold(sub, ts_ms, quota, remaining))
    if remaining > 0:
        tx.put(changed)
        return
    tx.put(replace(changed, status_id=EXHAUSTED, last_status_change_ms=ts_ms))
    tx.emit(events.sms_used_up(sub, ts_ms, quota))
