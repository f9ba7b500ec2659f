"""Every known event type, severity and source.

Names are the current documentation's where it has a section for the type, otherwise the name in the
event-type lookup. `status` says where the type comes from: current docs, historical docs, the MNO and
reseller page, or only the lookup. Usual source, severity and alert are the defaults the codec fills in
when an ingested event leaves them out, and what Cellstream's own producers use.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    CURRENT = "current"
    HISTORICAL = "historical"
    RESELLER = "reseller"
    LOOKUP_ONLY = "lookup-only"
    CUSTOM = "custom"  # emitted by Cellstream's custom-event templates, not by emnify


NETWORK, POLICY_CONTROL, API = 0, 1, 2
INFO, WARN, CRITICAL = 0, 1, 2

SOURCES: dict[int, str] = {NETWORK: "Network", POLICY_CONTROL: "Policy Control", API: "API"}
SEVERITIES: dict[int, str] = {INFO: "Info", WARN: "Warn", CRITICAL: "Critical"}
# Spellings seen in documented examples, accepted on input (compared case-insensitively).
SEVERITY_ALIASES: dict[str, int] = {"info": INFO, "warn": WARN, "warning": WARN, "critical": CRITICAL}
SOURCE_ALIASES: dict[str, int] = {"network": NETWORK, "policy control": POLICY_CONTROL, "api": API}


@dataclass(frozen=True)
class EventType:
    id: int
    name: str
    category: str
    status: Status
    source: int
    severity: int
    alert: bool
    lookup_name: str = ""

    @property
    def lookup(self) -> dict[str, object]:
        return {"id": self.id, "description": self.name}


def _t(id: int, name: str, category: str, status: Status, source: int, severity: int, alert: bool,
       lookup_name: str = "") -> EventType:
    return EventType(id, name, category, status, source, severity, alert, lookup_name or name)


C, H, R, L = Status.CURRENT, Status.HISTORICAL, Status.RESELLER, Status.LOOKUP_ONLY
NET_ATTACH = "Network attachment and location"
DATA_CONN = "Data connection lifecycle"
AUTH = "Application and user authentication"
DEVICE = "Device status management"
LIMITS = "Limit enforcement"
DATA_QUOTA = "Data quota management"
SMS_QUOTA = "SMS quota management"
CLOUD = "CloudConnect lifecycle"
VPN = "OpenVPN lifecycle"
ORG = "Organization and billing"
USERS = "User management"
TARIFF = "Usage tariff and tariff plan"
ORDER = "SIM order"
OTHER = "Other"
CUSTOM_EVENTS = "Custom events"

EVENT_TYPES: tuple[EventType, ...] = (
    _t(0, "Generic", "Generic events", C, POLICY_CONTROL, WARN, True),
    _t(1, "Update location", NET_ATTACH, C, NETWORK, INFO, False, "Update Location"),
    _t(2, "Update GPRS location", NET_ATTACH, C, NETWORK, INFO, False, "Update GPRS Location"),
    _t(3, "Create PDP Context", DATA_CONN, C, NETWORK, INFO, False),
    _t(4, "Update PDP Context", DATA_CONN, L, NETWORK, INFO, False),
    _t(5, "Delete PDP Context", DATA_CONN, C, NETWORK, INFO, False),
    _t(6, "User authentication failed", AUTH, C, API, WARN, False),
    _t(7, "Application authentication failed", AUTH, C, API, WARN, False),
    _t(8, "SIM activation", DEVICE, C, API, INFO, False),
    _t(9, "SIM suspension", DEVICE, C, API, INFO, False),
    _t(10, "SIM deletion", DEVICE, C, API, INFO, False),
    _t(11, "Endpoint blocked", LIMITS, C, POLICY_CONTROL, WARN, True),
    _t(12, "Organisation blocked", LIMITS, C, POLICY_CONTROL, WARN, True),
    _t(13, "Support Access", AUTH, C, API, WARN, False, "Support"),
    _t(14, "Multi-factor Authentication", AUTH, C, API, INFO, False),
    _t(15, "Purge location", NET_ATTACH, C, NETWORK, INFO, False),
    _t(16, "Purge GPRS location", NET_ATTACH, C, NETWORK, INFO, False),
    _t(17, "Self-Signup", ORG, R, API, INFO, False),
    _t(18, "Quota threshold reached", DATA_QUOTA, C, POLICY_CONTROL, WARN, True, "Threshold reached"),
    _t(19, "Quota used up", DATA_QUOTA, C, POLICY_CONTROL, WARN, True),
    _t(20, "SMS quota threshold reached", SMS_QUOTA, C, POLICY_CONTROL, WARN, True),
    _t(21, "SMS quota used up", SMS_QUOTA, C, POLICY_CONTROL, WARN, True),
    _t(22, "CloudConnect TGW Resource Share created", CLOUD, C, API, INFO, False),
    _t(23, "CloudConnect TGW available", CLOUD, C, API, INFO, False),
    _t(24, "CloudConnect VPN breakout available", CLOUD, L, API, INFO, False),
    _t(25, "CloudConnect TGW breakout terminated", CLOUD, C, API, INFO, False),
    _t(26, "CloudConnect VPN breakout terminated", CLOUD, H, API, INFO, False),
    _t(27, "CloudConnect Connection State Changed", CLOUD, H, API, INFO, False),
    _t(28, "OpenVPN connect", VPN, H, API, INFO, False),
    _t(29, "OpenVPN disconnect", VPN, H, API, INFO, False),
    _t(30, "OpenVPN authentication", VPN, C, API, INFO, False),
    _t(31, "Organisation updated", ORG, C, API, INFO, False),
    _t(32, "Billing configuration updated", ORG, C, API, WARN, False),
    _t(33, "Tariff plan updated", TARIFF, R, API, INFO, False),
    _t(34, "Usage tariff updated", TARIFF, R, API, INFO, False),
    _t(35, "Payment", ORG, L, API, INFO, False),
    _t(36, "User invited", ORG, R, API, INFO, False),
    _t(37, "Password reset requested", AUTH, R, API, INFO, False),
    _t(38, "Order submitted", ORDER, R, API, INFO, False),
    _t(39, "Order updated", ORDER, R, API, INFO, False),
    _t(40, "User verification requested", AUTH, R, API, INFO, False),
    _t(41, "User verified", USERS, C, API, INFO, False),
    _t(42, "Endpoint enabled", DEVICE, C, API, INFO, False),
    _t(43, "Endpoint disabled", DEVICE, C, API, INFO, False),
    _t(44, "SIM issued", DEVICE, H, API, INFO, False),
    _t(45, "SIM factory test", DEVICE, C, API, INFO, False),
    _t(46, "User deleted", USERS, C, API, WARN, False),
    _t(47, "User federation activated", USERS, L, API, INFO, False),
    _t(48, "SIM registration", DEVICE, C, API, INFO, False),
    _t(49, "Device offline", DATA_CONN, H, NETWORK, INFO, False),
    _t(50, "SIM Released", DEVICE, C, API, INFO, False),
    _t(51, "SIM Assigned", DEVICE, C, API, INFO, False),
    _t(52, "Data quota enabled", DATA_QUOTA, C, API, WARN, False),
    _t(53, "Data quota disabled", DATA_QUOTA, C, API, WARN, False),
    _t(54, "SMS quota enabled", SMS_QUOTA, C, API, WARN, False),
    _t(55, "SMS quota disabled", SMS_QUOTA, C, API, WARN, False),
    _t(56, "Data quota assigned", DATA_QUOTA, C, API, INFO, False),
    _t(57, "Data quota deleted", DATA_QUOTA, C, API, INFO, False),
    _t(58, "SMS quota assigned", SMS_QUOTA, C, API, INFO, False),
    _t(59, "SMS quota deleted", SMS_QUOTA, C, API, INFO, False),
    _t(60, "Data quota expired", DATA_QUOTA, C, POLICY_CONTROL, WARN, True),
    _t(61, "SMS quota expired", SMS_QUOTA, L, POLICY_CONTROL, WARN, True),
    _t(62, "Default inclusive volume updated", TARIFF, L, API, INFO, False),
    _t(63, "Monthly order limit threshold reached", ORDER, L, POLICY_CONTROL, WARN, True),
    _t(64, "Monthly order limit reached", ORDER, L, POLICY_CONTROL, WARN, True),
    _t(65, "Endpoint data traffic limit warning", LIMITS, L, POLICY_CONTROL, WARN, True),
    _t(67, "User switched workspaces", ORG, C, API, INFO, False),
    # One type per custom-event template (cellstream.automations.custom.templates); ids far above
    # emnify's so a future documented type cannot collide with them.
    _t(1001, "No data session", CUSTOM_EVENTS, Status.CUSTOM, POLICY_CONTROL, WARN, True),
    _t(1002, "Failed attaches", CUSTOM_EVENTS, Status.CUSTOM, NETWORK, WARN, True),
    _t(1003, "Daily data usage exceeded", CUSTOM_EVENTS, Status.CUSTOM, POLICY_CONTROL, WARN, True),
    _t(1004, "Geofence left", CUSTOM_EVENTS, Status.CUSTOM, NETWORK, WARN, True),
    _t(1005, "Connection flapping", CUSTOM_EVENTS, Status.CUSTOM, NETWORK, WARN, True),
)

BY_ID: dict[int, EventType] = {t.id: t for t in EVENT_TYPES}
CUSTOM_TYPE_IDS: frozenset[int] = frozenset(t.id for t in EVENT_TYPES if t.status is Status.CUSTOM)


def event_type(type_id: int) -> EventType:
    """The catalog entry for `type_id`; KeyError when the id is unknown."""
    return BY_ID[type_id]


def type_lookup() -> list[dict[str, object]]:
    """The body of GET /api/v1/event/type."""
    return [t.lookup for t in EVENT_TYPES]
