"""Data and SMS quotas of an endpoint (facts §H.4): assigned (56/58) and deleted (57/59) through the API;
used up, crossing their threshold and expiring under Policy Control (cellstream.policy).

One quota of each kind per endpoint, so a quota record shares its endpoint's id. `volume` is what remains
(MB for data, messages for SMS); `last_volume_added` is what the last assignment or refill gave, which the
threshold is a percentage of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cellstream.domain.actor import Actor
from cellstream.domain.domain_events import domain_event
from cellstream.domain.endpoint_model import Endpoint
from cellstream.domain.endpoints import organisation_endpoint
from cellstream.domain.sims import Sim
from cellstream.errors import NotFound, Unprocessable
from cellstream.events.model import Event
from cellstream.events.timefmt import format_timestamp
from cellstream.store.resources import Record, ResourceTx

ACTIVE, EXHAUSTED, EXPIRED = 1, 2, 3
STATUS_NAMES = {ACTIVE: "ACTIVE", EXHAUSTED: "EXHAUSTED", EXPIRED: "EXPIRED"}
BLOCK, THROTTLE = 1, 2
ACTION_NAMES = {BLOCK: "Block", THROTTLE: "Throttle"}
PEAK_THROUGHPUTS = (64_000, 128_000, 256_000, 384_000)  # octets per second when throttled
DEFAULT_PEAK = 128_000
Kind = Literal["data", "sms"]
EVENTS = {"data": (56, 57), "sms": (58, 59)}


class Quota(Record, kw_only=True):
    status_id: int = ACTIVE
    volume: float
    last_volume_added: float
    expiry_ms: int
    auto_refill: bool = False
    threshold_percentage: float
    action_id: int = BLOCK
    peak_throughput: int = DEFAULT_PEAK
    last_status_change_ms: int
    threshold_reported: bool = False  # the threshold event was stored for the current volume

    @property
    def threshold_volume(self) -> float:
        return self.last_volume_added * self.threshold_percentage / 100


class DataQuota(Quota, kw_only=True):
    KIND = "data_quota"


class SmsQuota(Quota, kw_only=True):
    KIND = "sms_quota"


QUOTA_CLASSES: dict[Kind, type[Quota]] = {"data": DataQuota, "sms": SmsQuota}


@dataclass(frozen=True)
class QuotaRequest:
    status_id: int
    volume: float
    expiry_ms: int
    auto_refill: bool
    threshold_percentage: float | None
    action_id: int
    peak_throughput: int | None


def quota_of(tx: ResourceTx, kind: Kind, endpoint_id: int) -> Quota | None:
    return tx.get(QUOTA_CLASSES[kind], endpoint_id)


def get_quota(tx: ResourceTx, org_id: int, kind: Kind, endpoint_id: int) -> Quota:
    organisation_endpoint(tx, org_id, endpoint_id)
    quota = quota_of(tx, kind, endpoint_id)
    if quota is None:
        raise NotFound(f"endpoint {endpoint_id} has no {kind} quota")
    return quota


def assign_quota(tx: ResourceTx, actor: Actor, kind: Kind, endpoint_id: int, request: QuotaRequest) -> Quota:
    """Set a new quota, usable at once (replacing any before it), and store 56 or 58."""
    endpoint = organisation_endpoint(tx, actor.org_id, endpoint_id)
    _check(kind, request, tx.now_ms)
    threshold = request.threshold_percentage if request.threshold_percentage is not None else 0.0
    quota = QUOTA_CLASSES[kind](
        id=endpoint.id, org_id=actor.org_id, volume=request.volume, last_volume_added=request.volume,
        expiry_ms=request.expiry_ms, auto_refill=request.auto_refill, threshold_percentage=threshold,
        action_id=request.action_id, peak_throughput=request.peak_throughput or DEFAULT_PEAK,
        last_status_change_ms=tx.now_ms)
    tx.put(quota)
    tx.emit(quota_event(tx, actor, endpoint, EVENTS[kind][0], _assigned_text(kind, quota),
                        detail={"quota": quota_detail(quota)}))
    return quota


def delete_quota(tx: ResourceTx, actor: Actor, kind: Kind, endpoint_id: int) -> None:
    endpoint = organisation_endpoint(tx, actor.org_id, endpoint_id)
    if quota_of(tx, kind, endpoint_id) is None:
        raise NotFound(f"endpoint {endpoint_id} has no {kind} quota")
    tx.delete(QUOTA_CLASSES[kind], endpoint_id)
    tx.emit(quota_event(tx, actor, endpoint, EVENTS[kind][1], f"{'Data' if kind == 'data' else 'SMS'} "
                                                               "quota deleted."))


def _check(kind: Kind, request: QuotaRequest, now_ms: int) -> None:
    if request.status_id != ACTIVE:
        raise Unprocessable.of("status.id", "a new quota must be 1 (ACTIVE)")
    if not request.volume > 0:
        raise Unprocessable.of("volume", "must be a positive number")
    if kind == "sms" and request.volume != int(request.volume):
        raise Unprocessable.of("volume", "an SMS quota counts whole messages")
    if request.expiry_ms <= now_ms:
        raise Unprocessable.of("expiry_date", "must be in the future")
    percentage = request.threshold_percentage
    if percentage is None and kind == "sms":
        raise Unprocessable.of("threshold_percentage", "is required for an SMS quota")
    if percentage is not None and not 0 <= percentage <= 100:
        raise Unprocessable.of("threshold_percentage", "must be from 0 to 100")
    if request.action_id not in ACTION_NAMES:
        raise Unprocessable.of("action_on_exhaustion.id", "must be 1 (Block) or 2 (Throttle)")
    if request.peak_throughput is not None and request.peak_throughput not in PEAK_THROUGHPUTS:
        raise Unprocessable.of("action_on_exhaustion.peak_throughput", "Invalid peak throughput, acceptable "
                               "values are " + ", ".join(map(str, PEAK_THROUGHPUTS)) + ".")


def _seconds(ms: int) -> str:
    return format_timestamp(ms)[:19] + "Z"


def _assigned_text(kind: Kind, quota: Quota) -> str:
    refill = "with daily refill" if quota.auto_refill else "without daily refill"
    until = _seconds(quota.expiry_ms)
    if kind == "sms":
        return f"SMS quota assigned with volume of {int(quota.volume)} SMS {refill} until {until}."
    action = ("blocking" if quota.action_id == BLOCK
              else f"throttling to a throughput of {quota.peak_throughput // 1000} kbit/s")
    return (f"Data quota assigned with volume of {quota.volume:.6f} MB {refill} until {until} and action on "
            f"exhaustion set to {action}.")


def quota_detail(quota: Quota) -> dict[str, Any]:
    """`detail.quota` of the quota events, in emnify's camelCase."""
    return {
        "status": {"id": quota.status_id, "description": STATUS_NAMES[quota.status_id]},
        "action_on_exhaustion": {"id": quota.action_id, "description": ACTION_NAMES[quota.action_id],
                                 "peak_throughput": quota.peak_throughput},
        "volume": _number(quota.volume), "expiryDate": _seconds(quota.expiry_ms),
        "lastVolumeAdded": _number(quota.last_volume_added),
        "lastStatusChangeDate": _seconds(quota.last_status_change_ms), "autoRefill": quota.auto_refill,
        "thresholdPercentage": _number(quota.threshold_percentage),
        "thresholdVolume": _number(quota.threshold_volume),
    }


def _number(value: float) -> float | int:
    return int(value) if value == int(value) else round(value, 6)


def quota_event(tx: ResourceTx, actor: Actor, endpoint: Endpoint, type_id: int, description: str, *,
                detail: Any = None) -> Event:
    sim = tx.get(Sim, endpoint.sim_id) if endpoint.sim_id is not None else None
    return domain_event(tx.now_ms, actor, type_id, description, endpoint=endpoint.ref(),
                        sim=None if sim is None else sim.ref(), imsi=None if sim is None else sim.imsi_ref(),
                        detail=detail)
