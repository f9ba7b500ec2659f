"""Short messages of an endpoint (`/api/v1/endpoint/{id}/sms`): mobile-terminated ones sent through the API
and mobile-originated ones the network reports. Delivery is decided at once, in the transaction that
records the message: an attached subscriber whom Policy Control admits gets it (DELIVERED, with its usage
record); otherwise it FAILED, with the reason kept."""

from __future__ import annotations

from typing import Any

from cellstream.events.timefmt import format_timestamp
from cellstream.store.resources import Record

MT, MO = 1, 2
SMS_TYPES = {MT: "MT", MO: "MO"}
DELIVERED, FAILED = 4, 5  # emnify: 4 DELIVERED, 5 FAILED, 6 EXPIRED (facts §F)
STATUS_NAMES = {DELIVERED: "DELIVERED", FAILED: "FAILED"}
NATIONAL, INTERNATIONAL, ALPHANUMERIC = 161, 145, 208
ADDRESS_TYPES = {NATIONAL: "National", INTERNATIONAL: "International", ALPHANUMERIC: "Alphanumeric"}
MAX_PAYLOAD = 160
MAX_ALPHANUMERIC = 11


class SmsMessage(Record, kw_only=True):
    KIND = "sms"
    endpoint_id: int
    sim_id: int | None
    sms_type: int
    payload: str
    source_address: str | None = None
    source_address_type: int = NATIONAL
    dest_address: str | None = None
    udh: str = ""
    status_id: int
    failure: str | None = None
    submit_ms: int
    final_ms: int
    msc: str | None = None


def sms_json(message: SmsMessage, *, endpoint_name: str, iccid: str | None, msisdn: str | None,
             imsi: str | None) -> dict[str, Any]:
    delivered = message.status_id == DELIVERED
    final = format_timestamp(message.final_ms)
    return {
        "id": message.id, "submit_date": format_timestamp(message.submit_ms),
        "delivery_date": final if delivered else None, "final_date": final,
        "expiry_date": format_timestamp(message.submit_ms + 86_400_000), "retry_date": None,
        "last_delivery_attempt": final, "retry_count": 0,
        "gsm_map_error": None if delivered else message.failure, "dcs": 0, "pid": 0,
        "source_address": message.source_address, "dest_address": message.dest_address,
        "endpoint": {"id": message.endpoint_id, "name": endpoint_name}, "sim_id": message.sim_id,
        "iccid": iccid, "msisdn": msisdn, "imsi": imsi, "msc": message.msc, "udh": message.udh,
        "payload": message.payload,
        "status": {"description": STATUS_NAMES[message.status_id], "id": message.status_id},
        "sms_type": {"description": SMS_TYPES[message.sms_type], "id": message.sms_type},
        "source_address_type": {"description": ADDRESS_TYPES.get(message.source_address_type, "National"),
                                "id": message.source_address_type},
    }
