"""The Endpoint record (the device, facts §H.1); what can be done to one is in cellstream.domain.endpoints."""

from __future__ import annotations

from collections.abc import Mapping

from cellstream.events.model import Ref
from cellstream.store.resources import Record

ENABLED, DISABLED = 0, 1
STATUS_NAMES = {ENABLED: "Enabled", DISABLED: "Disabled"}


class Endpoint(Record, kw_only=True):
    KIND = "endpoint"
    name: str
    tags: str | None = None
    status_id: int = ENABLED
    service_profile_id: int
    tariff_profile_id: int
    ip_address: str
    ip_address_space_id: int = 1
    imei: str | None = None  # IMEISV as the device reports it (16 digits) or the 15-digit IMEI
    imei_lock: bool = False
    sim_id: int | None = None
    created_ms: int
    last_updated_ms: int

    def unique_keys(self) -> Mapping[str, str]:
        # Addresses are unique within an organisation's address space, not across organisations.
        return {"ip_address": f"{self.org_id}/{self.ip_address_space_id}/{self.ip_address}"}

    def ref(self) -> Ref:
        """The `endpoint` object of an event."""
        return {"id": self.id, "imei": self.imei, "ip_address": self.ip_address, "name": self.name,
                "tags": self.tags}
