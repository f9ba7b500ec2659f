"""The records a mobile core (or the simulator) hands to Cellstream's Network source.

Each is a tagged msgspec Struct, so a batch arrives as a JSON array of objects with a `"kind"` tag, over
HTTP (`POST /internal/v1/signalling`) or in-process (`NetworkService.submit`). Times are the core's own
(milliseconds since the epoch), so a simulator on a manual clock produces a consistent history.

- `UpdateLocation` (CS, from the VLR) and `UpdateGprsLocation` (PS, from the SGSN/MME) register the SIM in
  a visited network → events 1 and 2.
- `PurgeLocation` / `PurgeGprsLocation`: the network dropped the registration → 15 and 16.
- `CreatePdpContext` opens a data session (admitted or refused by Policy Control) → 3;
  `DataUsage` reports bytes moved in an open session (interim counters, as a GGSN/PGW reports them);
  `DeletePdpContext` closes it with its last counters → 5. Usage records follow facts §E.5.
- `Sms`: a short message from (MO) or to (MT) the device, delivered → an SMS usage record.
- `ExternalEvent`: an event of a platform outside Cellstream (CloudConnect 22–27, OpenVPN 30), stored as
  given once its organisation and type are checked.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class Signal(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    imsi: str
    ts_ms: int


class UpdateLocation(Signal, frozen=True, kw_only=True, tag="update_location"):
    vlr: str  # the VLR's global title, e.g. "491720000095"
    mcc: str
    mnc: str
    imei: str | None = None


class UpdateGprsLocation(Signal, frozen=True, kw_only=True, tag="update_gprs_location"):
    sgsn: str  # the SGSN's global title or the MME's FQDN
    sgsn_ip: str
    mcc: str
    mnc: str
    rat_type: int = 6  # 1 3G, 2 2G, 6 4G (LTE), 8 NB-IoT (emnify's /api/v1/rat_type)
    imei: str | None = None


class PurgeLocation(Signal, frozen=True, kw_only=True, tag="purge_location"):
    pass


class PurgeGprsLocation(Signal, frozen=True, kw_only=True, tag="purge_gprs_location"):
    pass


class CreatePdpContext(Signal, frozen=True, kw_only=True, tag="create_pdp_context"):
    session_id: str  # a UUID the core gives the session
    mcc: str
    mnc: str
    apn: str | None = "em"
    rat_type: int = 6
    imeisv: str | None = None
    lac: int | None = None
    ci: int | None = None
    ue_ip_address: str | None = None  # None: the endpoint's own address
    sgsn_control_plane_ip_address: str
    sgsn_data_plane_ip_address: str
    ggsn_control_plane_ip_address: str
    ggsn_data_plane_ip_address: str
    tx_teid_data_plane: int = 0
    tx_teid_control_plane: int = 0
    rx_teid: int = 0
    nsapi: int = 5
    gtp_version: int = 1
    region: str = "eu-west-1"
    breakout_ip: str | None = None


class DataUsage(Signal, frozen=True, kw_only=True, tag="data_usage"):
    session_id: str
    rx_bytes: int  # to the device, since the previous report of this session
    tx_bytes: int  # from the device


class DeletePdpContext(Signal, frozen=True, kw_only=True, tag="delete_pdp_context"):
    session_id: str
    rx_bytes: int = 0  # moved since the last DataUsage of the session
    tx_bytes: int = 0


class Sms(Signal, frozen=True, kw_only=True, tag="sms"):
    direction: Literal["MO", "MT"]
    peer: str  # the other party's number
    payload: str = ""


class ExternalEvent(Signal, frozen=True, kw_only=True, tag="external"):
    event: dict[str, Any]  # an event object as the Event API shows one; `imsi` may be ""


AnySignal = (UpdateLocation | UpdateGprsLocation | PurgeLocation | PurgeGprsLocation | CreatePdpContext
             | DataUsage | DeletePdpContext | Sms | ExternalEvent)


_batch_decoder = msgspec.json.Decoder(list[AnySignal])


def decode_signals(body: bytes) -> list[AnySignal]:
    """A JSON array of records; raises msgspec.ValidationError / DecodeError naming the problem."""
    return _batch_decoder.decode(body)
