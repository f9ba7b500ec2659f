"""What the network knows of a SIM: where it is registered (VLR for circuit-switched, SGSN/MME for
packet-switched services) and its open data sessions with the counters not yet billed. One record per SIM,
updated in the transaction of the signalling record that changed it; `/api/v1/endpoint/{id}/connectivity`
reads it."""

from __future__ import annotations

from typing import Any

import msgspec

from cellstream.store.resources import Record

# The keys of a session's `pdp_context` as event 5 shows it, in order: Create PDP Context's own without the
# create-only tariff fields (cellstream.network.core)
PDP_CONTEXT_KEYS = (
    "pdp_context_id", "imsi", "imeisv", "apn", "region", "breakout_ip", "ue_ip_address",
    "sgsn_control_plane_ip_address", "sgsn_data_plane_ip_address", "ggsn_control_plane_ip_address",
    "ggsn_data_plane_ip_address", "tx_teid_data_plane", "tx_teid_control_plane", "rx_teid", "nsapi",
    "gtp_version", "rat_type", "mcc", "mnc", "lac", "ci", "sac", "rac", "tunnel_created",
)


class Session(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An open PDP context, kept inside its SIM's NetworkState.

    `pdp_context` is stored as the values of PDP_CONTEXT_KEYS, in that order (`context()` gives the
    object): without the key names a SIM's state with an open session stays under ~1 KB, which SQLite
    keeps within its B-tree page instead of spilling to an overflow page that every update rewrites. A
    state stored by an earlier version holds the object itself, which `context()` returns as it is."""

    session_id: str
    operator_id: int
    created_ms: int
    pdp_context: list[Any] | dict[str, Any]
    pending_rx: int = 0  # bytes not yet in a usage record
    pending_tx: int = 0
    record_from_ms: int  # start of the next usage record
    total_rx: int = 0
    total_tx: int = 0
    max_bytes_per_s: int | None = None

    def moved(self, rx: int, tx: int) -> Session:
        """The session after `rx`/`tx` more bytes: pending the next usage record and in its totals."""
        return msgspec.structs.replace(self, pending_rx=self.pending_rx + rx, pending_tx=self.pending_tx + tx,
                                       total_rx=self.total_rx + rx, total_tx=self.total_tx + tx)

    def context(self) -> dict[str, Any]:
        """The PDP context as event 5 shows it."""
        stored = self.pdp_context
        return dict(zip(PDP_CONTEXT_KEYS, stored, strict=True)) if isinstance(stored, list) else stored


def stored_context(context: dict[str, Any]) -> list[Any]:
    """What a Session keeps of `context` (which holds at least PDP_CONTEXT_KEYS)."""
    return [context[k] for k in PDP_CONTEXT_KEYS]


class NetworkState(Record, kw_only=True, omit_defaults=True):
    KIND = "network_state"
    vlr: str | None = None
    sgsn: str | None = None
    sgsn_ip: str | None = None
    cs_operator_id: int | None = None
    ps_operator_id: int | None = None
    rat_type: int | None = None
    last_seen_ms: int = 0
    sessions: list[Session] = msgspec.field(default_factory=list)

    def session(self, session_id: str) -> Session | None:
        for s in self.sessions:
            if s.session_id == session_id:
                return s
        return None

    @property
    def attached(self) -> bool:
        return self.vlr is not None or self.sgsn is not None
