"""The outbox of SMS callbacks (facts §F): when a device's service profile binds an API callback, the
mobile-originated SMS it sends and the delivery notifications of the SMS sent to it are posted there.

The network core only writes an `SmsNotification` here, in the transaction that keeps the message, so a
crash can neither lose a notification of a stored SMS nor send one of an SMS that was rolled back; the
HTTP delivery (cellstream.network.sms_callbacks) reads the outbox later and never holds up signalling.

Payloads follow the fields emnify shows (facts §F; JSON types are not documented, ids are numbers here).
Dates are UTC "YYYY-MM-DD HH:MM:SS", as in emnify's examples. An MO SMS the network refused never reached
an application, so only accepted ones are posted; an MT SMS is notified whether DELIVERED or FAILED.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from cellstream.domain.subscriber import Subscriber
from cellstream.events.timefmt import format_timestamp
from cellstream.network import sms
from cellstream.network.sms import SmsMessage
from cellstream.store.resources import Record, ResourceTx

# The status object of a delivery notification, by the message's stored status (facts §F numbers them
# DELIVERED 4, FAILED 5).
NOTIFIED_STATUS = {sms.DELIVERED: {"status": "DELIVERED", "id": 4}, sms.FAILED: {"status": "FAILED", "id": 5}}
MO_KIND, DELIVERY_KIND = "mo", "delivery"


class SmsNotification(Record, kw_only=True):
    """One pending callback request; deleted once delivered or given up."""

    KIND: ClassVar[str] = "sms_notification"
    kind: str  # MO_KIND or DELIVERY_KIND
    sms_id: int
    api_callback_id: int
    api_secret_id: int | None = None
    body: str  # the JSON posted, fixed when the SMS was kept so retries post the same bytes
    created_ms: int
    attempt: int = 0  # failed attempts so far
    not_before_ms: int = 0

    @property
    def message_id(self) -> str:
        """The `webhook-id`: stable across retries, so receivers deduplicate."""
        return f"sms-{self.sms_id}-{self.kind}"


class SmsOutbox(Record, kw_only=True):
    """The ids of pending notifications (id 1, platform-wide): the dispatcher finds them without the list
    of organisations, also after a restart."""

    KIND: ClassVar[str] = "sms_notification_outbox"
    ids: list[int] = msgspec.field(default_factory=list)


def callback_date(ms: int) -> str:
    """"2021-10-29 07:13:34": the date format of emnify's callback examples (UTC, seconds)."""
    return format_timestamp(ms)[:19].replace("T", " ")


def multi_part_info(udh: str) -> dict[str, int] | None:
    """{partno, total, identifier} from a concatenation header (IEI 00: 8-bit reference, 08: 16-bit) in
    the user data header `udh` (hex); None when the message is not one part of several."""
    try:
        data = bytes.fromhex(udh)
    except ValueError:
        return None
    if not data or data[0] + 1 > len(data):
        return None
    at, end = 1, data[0] + 1
    while at + 2 <= end:
        iei, length = data[at], data[at + 1]
        value = data[at + 2:at + 2 + length]
        if len(value) != length:
            return None
        if iei == 0x00 and length == 3:
            return {"partno": value[2], "total": value[1], "identifier": value[0]}
        if iei == 0x08 and length == 4:
            return {"partno": value[3], "total": value[2], "identifier": value[0] << 8 | value[1]}
        at += 2 + length
    return None


def mo_payload(message: SmsMessage, endpoint_name: str, org_id: int) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": message.id, "pid": 0, "dcs": 0, "source_address": message.source_address,
        "dest_address": message.dest_address, "payload": message.payload,
        "endpoint": {"id": message.endpoint_id, "name": endpoint_name}, "organisation": {"id": org_id},
    }
    parts = multi_part_info(message.udh)
    if parts is not None:  # emnify shows the object only for concatenated messages
        payload["multi_part_info"] = parts
    payload["submit_date"] = callback_date(message.submit_ms)
    return payload


def delivery_payload(message: SmsMessage, endpoint_name: str, org_id: int) -> dict[str, Any]:
    return {"id": message.id, "status": NOTIFIED_STATUS[message.status_id],
            "endpoint": {"id": message.endpoint_id, "name": endpoint_name}, "organisation": {"id": org_id},
            "submit_date": callback_date(message.submit_ms), "final_date": callback_date(message.final_ms)}


def notify(tx: ResourceTx, sub: Subscriber, message: SmsMessage) -> SmsNotification | None:
    """Write the outbox record for `message` if the subscriber's service profile binds an API callback."""
    service, endpoint = sub.service, sub.endpoint
    if service is None or endpoint is None or service.api_callback_id is None:
        return None
    if message.sms_type == sms.MO:
        if message.status_id != sms.DELIVERED:
            return None
        kind, body = MO_KIND, mo_payload(message, endpoint.name, sub.org_id)
    else:
        kind, body = DELIVERY_KIND, delivery_payload(message, endpoint.name, sub.org_id)
    record = SmsNotification(id=tx.next_id(SmsNotification), org_id=sub.org_id, kind=kind, sms_id=message.id,
                             api_callback_id=service.api_callback_id, api_secret_id=service.api_secret_id,
                             body=msgspec.json.encode(body).decode(), created_ms=tx.now_ms)
    tx.put(record)
    outbox = tx.get(SmsOutbox, 1) or SmsOutbox(id=1)
    outbox.ids.append(record.id)
    tx.put(outbox)
    return record


def pending_ids(tx: ResourceTx) -> list[int]:
    return list((tx.get(SmsOutbox, 1) or SmsOutbox(id=1)).ids)


def finish(tx: ResourceTx, notification_id: int) -> None:
    """Remove a notification from the outbox (delivered or given up)."""
    if tx.get(SmsNotification, notification_id) is not None:
        tx.delete(SmsNotification, notification_id)
    outbox = tx.get(SmsOutbox, 1) or SmsOutbox(id=1)
    if notification_id in outbox.ids:
        outbox.ids.remove(notification_id)
        tx.put(outbox)
