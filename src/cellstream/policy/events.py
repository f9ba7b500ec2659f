"""The events Policy Control stores and their exact texts and `detail` shapes (facts §A.1–A.3, the
documented examples event-0, -3 (rejected), -8 (auto-activation), -11, -12, -18 … -21, -60).

Severity and alert come from the catalog (all Warn and alerting, except 8: Info, no alert); the source is
Policy Control, which the catalog gives as the usual source of every type here but 3 (Network when
accepted) and 8 (API when changed by hand), so those two name it explicitly. A rejected Create PDP Context
is Warn and alerting, unlike the accepted one the Network source stores.
"""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from cellstream.domain.actor import Actor
from cellstream.domain.domain_events import domain_event
from cellstream.domain.endpoint_model import Endpoint
from cellstream.domain.quotas import Quota
from cellstream.domain.sims import Sim
from cellstream.domain.subscriber import Subscriber
from cellstream.events.catalog import POLICY_CONTROL, WARN
from cellstream.events.model import Event, Ref

GENERIC, CREATE_PDP, SIM_ACTIVATION, ENDPOINT_BLOCKED, ORGANISATION_BLOCKED = 0, 3, 8, 11, 12
QUOTA_THRESHOLD, QUOTA_USED_UP, SMS_QUOTA_THRESHOLD, SMS_QUOTA_USED_UP = 18, 19, 20, 21
DATA_QUOTA_EXPIRED = 60

THROTTLING = "Disconnecting data access for endpoint to apply throttling action."
FACTORY_TEST_ACTIVATION = "SIM activated after factory test volume reached."
FACTORY_TEST_REASON = "SIM reached factory test volume."
TRAFFIC_LIMIT_BLOCK = "Blocking data access for endpoint, traffic limit exceeded."
COST_LIMIT_BLOCK = "Blocking services for organisation, because monthly cost limit exceeded."
DATA_USED_UP = "Quota volume is completely used up and data access denied for endpoint."
SMS_USED_UP = "SMS quota volume is completely used up and SMS access denied for endpoint."
DATA_EXPIRED = "Data quota expired."
SMS_TRAFFIC_TYPE = {"id": 6, "description": "SMS"}


def number(value: float) -> int | float:
    """A JSON number as the examples write them: whole values without a fraction, else to 6 decimals."""
    rounded = round(value, 6)
    return int(rounded) if rounded == int(rounded) else rounded


def subscriber_event(sub: Subscriber, ts_ms: int, type_id: int, description: str, *, sim: Sim | None = None,
                     detail: Any = None) -> Event:
    """An event about the subscriber's endpoint, SIM (`sim`: its state after the change) and IMSI."""
    current = sim if sim is not None else sub.sim
    return domain_event(ts_ms, sub.actor, type_id, description,
                        endpoint=None if sub.endpoint is None else sub.endpoint.ref(), sim=current.ref(),
                        imsi=current.imsi_ref(), detail=detail, source_id=POLICY_CONTROL)


def endpoint_event(actor: Actor, endpoint: Endpoint | None, sim: Sim | None, ts_ms: int, type_id: int,
                   description: str) -> Event:
    """An event about an endpoint found by id (the sweep has no subscriber at hand)."""
    return domain_event(ts_ms, actor, type_id, description,
                        endpoint=None if endpoint is None else endpoint.ref(),
                        sim=None if sim is None else sim.ref(), imsi=None if sim is None else sim.imsi_ref(),
                        source_id=POLICY_CONTROL)


def rejected_pdp_context(sub: Subscriber, ts_ms: int, because: str) -> Event:
    event = subscriber_event(sub, ts_ms, CREATE_PDP, f"PDP Context Request rejected, because {because}.")
    return replace(event, severity_id=WARN, alert=True)


def factory_test_activation(sub: Subscriber, ts_ms: int, activated: Sim) -> Event:
    detail = {"transition": {
        "sim": {"status": {"from": {"id": 4, "description": "FACTORY TEST"},
                           "to": {"id": 1, "description": "ACTIVATED"}}},
        "reason": FACTORY_TEST_REASON}}
    return subscriber_event(sub, ts_ms, SIM_ACTIVATION, FACTORY_TEST_ACTIVATION, sim=activated, detail=detail)


def organisation_blocked(actor: Actor, ts_ms: int) -> Event:
    """Event 12: the organisation alone (no endpoint, SIM or IMSI, as documented)."""
    return domain_event(ts_ms, actor, ORGANISATION_BLOCKED, COST_LIMIT_BLOCK, source_id=POLICY_CONTROL)


def _percent(quota: Quota) -> str:
    return str(number(quota.threshold_percentage))


def data_threshold(sub: Subscriber, ts_ms: int, quota: Quota, remaining: float) -> Event:
    """18: `volume` is what remains after the usage that crossed the threshold (negative when that usage
    overshot the quota, as in the documented example)."""
    detail = {"quota": {"threshold_percentage": number(quota.threshold_percentage),
                        "threshold_volume": number(quota.threshold_volume), "volume": number(remaining)}}
    return subscriber_event(sub, ts_ms, QUOTA_THRESHOLD,
                            f"Endpoint quota threshold reached, volume is below {_percent(quota)}%.",
                            detail=detail)


def data_used_up(sub: Subscriber, ts_ms: int, quota: Quota) -> Event:
    """19: `volume` is the volume that was used up (the last one added), as a 6-decimal string like the
    documented example, whose threshold_volume is threshold_percentage of it."""
    detail = {"quota": {"threshold_percentage": number(quota.threshold_percentage),
                        "threshold_volume": number(quota.threshold_volume),
                        "volume": f"{quota.last_volume_added:.6f}"}}
    return subscriber_event(sub, ts_ms, QUOTA_USED_UP, DATA_USED_UP, detail=detail)


def sms_threshold(sub: Subscriber, ts_ms: int, quota: Quota, remaining: float) -> Event:
    detail = {"quota": {"volume": number(remaining),
                        "threshold_percentage": number(quota.threshold_percentage),
                        "threshold_volume": number(quota.threshold_volume), "traffic_type": SMS_TRAFFIC_TYPE}}
    description = f"SMS quota threshold reached, volume is below {_percent(quota)}%."
    return subscriber_event(sub, ts_ms, SMS_QUOTA_THRESHOLD, description, detail=detail)


def sms_used_up(sub: Subscriber, ts_ms: int, quota: Quota) -> Event:
    detail = {"quota": {"volume": f"{quota.last_volume_added:.6f}",
                        "threshold_percentage": number(quota.threshold_percentage),
                        "threshold_volume": number(quota.threshold_volume), "traffic_type": SMS_TRAFFIC_TYPE}}
    return subscriber_event(sub, ts_ms, SMS_QUOTA_USED_UP, SMS_USED_UP, detail=detail)


def organisation_ref(org_id: int, name: str | None) -> Ref:
    return {"id": org_id} if name is None else {"id": org_id, "name": name}
