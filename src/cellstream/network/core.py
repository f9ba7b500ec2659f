"""Signalling records → network state, events and usage records, inside one resource transaction.

Per record: resolve IMSI → SIM → endpoint → organisation, check the SIM may use the network, let Policy
Control admit or charge what needs it, update the SIM's NetworkState, store the documented events (facts
§A.2–A.3: 1, 2, 3, 5, 15, 16) and usage records (§E.5), and answer the network with a Verdict.

Refusals and their trace: an unknown IMSI (or a SIM nobody registered) has no organisation to store an
event for — it is refused and logged; a SIM that is deleted, suspended or not yet activated, an endpoint
that is disabled, and a visited network Cellstream does not know are refused with a Warn location event
("Location update rejected …", the documented variant); data sessions Policy Control refuses store its
rejected Create PDP Context event.
"""

from __future__ import annotations

import logging
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from msgspec.structs import replace

from cellstream.domain import sims
from cellstream.domain.domain_events import domain_event
from cellstream.domain.endpoint_model import ENABLED
from cellstream.domain.subscriber import (
    ACCEPTED,
    SUBSCRIBER_KINDS,
    Subscriber,
    Subscribers,
    UnknownOrganisation,
    Verdict,
)
from cellstream.errors import InvalidInput
from cellstream.events.catalog import NETWORK, WARN
from cellstream.events.codec import decode_event
from cellstream.events.model import Event
from cellstream.events.timefmt import format_timestamp
from cellstream.network import blacklist, sms, sms_notifications, usage
from cellstream.network.operators import Operator, operator_by_id, operator_by_plmn
from cellstream.network.signalling import (
    AnySignal,
    CreatePdpContext,
    DataUsage,
    DeletePdpContext,
    ExternalEvent,
    PurgeGprsLocation,
    PurgeLocation,
    Sms,
    UpdateGprsLocation,
    UpdateLocation,
)
from cellstream.network.sms import SmsMessage
from cellstream.network.state import NetworkState, Session, stored_context
from cellstream.store.resources import Record, ResourceTx

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Record)

UPDATE_LOCATION, UPDATE_GPRS_LOCATION, CREATE_PDP, DELETE_PDP = 1, 2, 3, 5
PURGE_LOCATION, PURGE_GPRS_LOCATION = 15, 16
EXTERNAL_TYPES = frozenset({22, 23, 24, 25, 26, 27, 30})  # CloudConnect and OpenVPN
CREATE_ONLY = ("operator_id", "tariff_profile_id", "ratezone_id", "tariff_id")  # not kept in the session
USABLE_SIM_STATUSES = (sims.ACTIVATED, sims.FACTORY_TEST)


class PolicyControl(Protocol):
    """What the Network source asks Policy Control (cellstream.policy), inside the same transaction."""

    def admit_data_session(self, tx: ResourceTx, sub: Subscriber, ts_ms: int) -> Verdict: ...

    def charge_data(self, tx: ResourceTx, sub: Subscriber, *, rx_bytes: int, tx_bytes: int, cost: float,
                    ts_ms: int) -> Verdict: ...

    def admit_sms(self, tx: ResourceTx, sub: Subscriber, ts_ms: int) -> Verdict: ...

    def charge_sms(self, tx: ResourceTx, sub: Subscriber, *, direction: str, cost: float,
                   ts_ms: int) -> Verdict: ...


class BatchTx:
    """A batch's view of its transaction: everything goes through to `tx`; `subscribers` resolves the
    batch's IMSIs once each, and forgets them when the batch itself changes a SIM, an endpoint or a profile
    (Policy Control activating a SIM in Factory Test), so each record sees what a fresh `resolve` would."""

    def __init__(self, tx: ResourceTx, organisation_names: Mapping[int, str | None]) -> None:
        self.tx = tx
        self.subscribers = Subscribers(tx, organisation_names)

    @property
    def now_ms(self) -> int:
        return self.tx.now_ms

    def get(self, cls: type[R], record_id: int) -> R | None:
        return self.tx.get(cls, record_id)

    def find(self, cls: type[R], key: str, value: str) -> R | None:
        return self.tx.find(cls, key, value)

    def scan(self, cls: type[R], org_id: int | None) -> list[R]:
        return self.tx.scan(cls, org_id)

    def preload(self, cls: type[R], ids: Iterable[int]) -> None:
        self.tx.preload(cls, ids)

    def preload_keys(self, cls: type[R], key: str, values: Iterable[str]) -> None:
        self.tx.preload_keys(cls, key, values)

    def put(self, record: Record) -> None:
        self.tx.put(record)
        if record.KIND in SUBSCRIBER_KINDS:
            self.subscribers.forget()

    def delete(self, cls: type[Record], record_id: int) -> None:
        self.tx.delete(cls, record_id)
        if cls.KIND in SUBSCRIBER_KINDS:
            self.subscribers.forget()

    def next_id(self, cls: type[Record]) -> int:
        return self.tx.next_id(cls)

    def emit(self, event: Event) -> None:
        self.tx.emit(event)

    def record_usage(self, org_id: int, record: Mapping[str, Any]) -> None:
        self.tx.record_usage(org_id, record)


class NetworkCore:
    """Processes a batch of records in one transaction (`process`); knows the organisations' names."""

    def __init__(self, policy: PolicyControl, organisation_names: Mapping[int, str | None]) -> None:
        self.policy = policy
        self.names = dict(organisation_names)
        self._handlers: dict[type, Callable[[ResourceTx, Any, Subscriber], Verdict]] = {
            UpdateLocation: self._update_location, UpdateGprsLocation: self._update_gprs_location,
            PurgeLocation: self._purge, PurgeGprsLocation: self._purge,
            CreatePdpContext: self._create_pdp, DataUsage: self._data_usage,
            DeletePdpContext: self._delete_pdp, Sms: self._sms,
        }

    def process(self, tx: ResourceTx, records: list[AnySignal]) -> list[Verdict]:
        batch = BatchTx(tx, self.names)
        batch.subscribers.preload(dict.fromkeys(r.imsi for r in records if not isinstance(r, ExternalEvent)),
                                  NetworkState)
        return [self._process(batch, record) for record in records]

    def process_one(self, tx: ResourceTx, record: AnySignal) -> Verdict:
        return self.process(tx, [record])[0]

    def _process(self, tx: BatchTx, record: AnySignal) -> Verdict:
        if isinstance(record, ExternalEvent):
            return self._external(tx, record)
        sub = tx.subscribers.get(record.imsi)
        if sub is None:
            log.info("refused %s for unknown IMSI %s", type(record).__name__, record.imsi)
            return Verdict(False, "unknown IMSI")
        return self._handlers[type(record)](tx, record, sub)

    # registration -------------------------------------------------------------------------------------

    def _registration_refused(self, tx: ResourceTx, sub: Subscriber, mcc: str, mnc: str,
                              operator: Operator | None) -> str | None:
        """Why a registration in (mcc, mnc) is refused, as the rejected event's last sentence; or None."""
        if operator is None:
            return f"This network ({mcc}/{mnc}) is not supported."
        barred = self._barred(sub)
        if barred is not None:
            return f"Registration refused, because {barred}."
        if sub.endpoint is not None and operator.id in blacklist.blacklisted(tx, sub.endpoint.id):
            return blacklist.NOT_SUPPORTED
        return None

    def _barred(self, sub: Subscriber) -> str | None:
        """Why the network must not serve this SIM at all, or None."""
        if sub.sim.status_id == sims.DELETED:
            return "the SIM is deleted"
        if sub.sim.status_id not in USABLE_SIM_STATUSES:
            return f"the SIM is {sims.STATUS_NAMES[sub.sim.status_id].lower()}"
        if sub.endpoint is not None and sub.endpoint.status_id != ENABLED:
            return "the endpoint is disabled"
        return None

    def _refuse_location(self, tx: ResourceTx, sub: Subscriber, ts_ms: int, type_id: int, node: str,
                         operator: Operator | None, why: str) -> Verdict:
        where = f"{node} ({operator.name})" if operator is not None else node
        description = f"Location update rejected from {where} for IMSI {sub.sim.imsi}. {why}"
        tx.emit(self._event(ts_ms, sub, type_id, description, severity_id=WARN,
                            detail=operator.event_detail() if operator is not None else None))
        return Verdict(False, why)

    def _visited(self, tx: ResourceTx, sub: Subscriber, record: UpdateLocation | UpdateGprsLocation,
                 type_id: int, node: str) -> Operator | Verdict:
        """The network a registration is admitted in, or the refusal (with its Warn event)."""
        operator = operator_by_plmn(record.mcc, record.mnc)
        why = self._registration_refused(tx, sub, record.mcc, record.mnc, operator)
        if why is not None or operator is None:
            return self._refuse_location(tx, sub, record.ts_ms, type_id, node, operator, why or "")
        return operator

    def _update_location(self, tx: ResourceTx, record: UpdateLocation, sub: Subscriber) -> Verdict:
        operator = self._visited(tx, sub, record, UPDATE_LOCATION, f"VLR {record.vlr}")
        if isinstance(operator, Verdict):
            return operator
        state = self._state(tx, sub)
        tx.put(replace(state, vlr=record.vlr, cs_operator_id=operator.id, last_seen_ms=record.ts_ms))
        description = (f"New location received from VLR for IMSI='{sub.sim.imsi}', now attached to "
                       f"VLR='{record.vlr}'.")
        tx.emit(self._event(record.ts_ms, sub, UPDATE_LOCATION, description, detail=operator.event_detail()))
        return ACCEPTED

    def _update_gprs_location(self, tx: ResourceTx, record: UpdateGprsLocation, sub: Subscriber) -> Verdict:
        operator = self._visited(tx, sub, record, UPDATE_GPRS_LOCATION, f"SGSN {record.sgsn}")
        if isinstance(operator, Verdict):
            return operator
        state = self._state(tx, sub)
        tx.put(replace(state, sgsn=record.sgsn, sgsn_ip=record.sgsn_ip, ps_operator_id=operator.id,
                       rat_type=record.rat_type, last_seen_ms=record.ts_ms))
        description = (f"New location received from SGSN for IMSI='{sub.sim.imsi}', now attached to "
                       f"SGSN='{record.sgsn}', IP='{record.sgsn_ip}'.")
        tx.emit(self._event(record.ts_ms, sub, UPDATE_GPRS_LOCATION, description,
                            detail=operator.event_detail()))
        return ACCEPTED

    def _purge(self, tx: ResourceTx, record: PurgeLocation | PurgeGprsLocation, sub: Subscriber) -> Verdict:
        state = self._state(tx, sub)
        if isinstance(record, PurgeLocation):
            if state.vlr is not None:
                tx.put(replace(state, vlr=None, cs_operator_id=None, last_seen_ms=record.ts_ms))
                tx.emit(self._event(record.ts_ms, sub, PURGE_LOCATION,
                                    f"VLR location information has been purged for IMSI='{sub.sim.imsi}'."))
            return ACCEPTED
        if state.sgsn is not None:
            for session in state.sessions:  # no packet service without a registration: sessions end
                self._close(tx, sub, session, record.ts_ms)
            tx.put(replace(self._state(tx, sub), sgsn=None, sgsn_ip=None, ps_operator_id=None,
                           last_seen_ms=record.ts_ms))
            tx.emit(self._event(record.ts_ms, sub, PURGE_GPRS_LOCATION,
                                f"SGSN location information has been purged for IMSI='{sub.sim.imsi}'."))
        return ACCEPTED

    # data sessions ------------------------------------------------------------------------------------

    def _create_pdp(self, tx: ResourceTx, record: CreatePdpContext, sub: Subscriber) -> Verdict:
        state = self._state(tx, sub)
        operator = operator_by_plmn(record.mcc, record.mnc)
        if state.sgsn is None or operator is None:
            return Verdict(False, "not registered in a packet-switched network")
        if state.session(record.session_id) is not None:
            return Verdict(False, f"session {record.session_id} is already open")
        barred = self._barred(sub)
        if barred is not None and sub.sim.status_id == sims.DELETED:
            return Verdict(False, barred)
        verdict = self.policy.admit_data_session(tx, sub, record.ts_ms)
        if not verdict.accepted:
            return verdict
        context = self._pdp_context(record, sub, operator)
        session = Session(session_id=record.session_id, operator_id=operator.id, created_ms=record.ts_ms,
                          pdp_context=stored_context(context),
                          record_from_ms=record.ts_ms, max_bytes_per_s=verdict.max_bytes_per_s)
        tx.put(replace(state, sessions=[*state.sessions, session], last_seen_ms=record.ts_ms))
        description = (f"New PDP Context successfully activated with SGSN "
                       f"CP={record.sgsn_control_plane_ip_address}, DP={record.sgsn_data_plane_ip_address}.")
        tx.emit(self._event(record.ts_ms, sub, CREATE_PDP, description, detail={
            **_operator_summary(operator), "session_id": record.session_id, "pdp_context": context}))
        return verdict

    def _data_usage(self, tx: ResourceTx, record: DataUsage, sub: Subscriber) -> Verdict:
        if record.rx_bytes < 0 or record.tx_bytes < 0:
            return Verdict(False, "byte counters cannot be negative")
        state = self._state(tx, sub)
        session = state.session(record.session_id)
        if session is None:
            return Verdict(False, f"no open session {record.session_id}")
        session = session.moved(record.rx_bytes, record.tx_bytes)
        due = (record.ts_ms - session.record_from_ms >= usage.RECORD_EVERY_MS
               and session.pending_rx + session.pending_tx >= usage.RECORD_MIN_BYTES)
        verdict = Verdict(True, max_bytes_per_s=session.max_bytes_per_s)
        if due:
            session, verdict = self._bill(tx, sub, session, record.ts_ms)
        state = _with_session(state, session, record.ts_ms)
        tx.put(state)
        if not verdict.accepted:  # Policy Control blocked the subscriber: the network drops the session
            self._close(tx, sub, session, record.ts_ms)
        return verdict

    def _delete_pdp(self, tx: ResourceTx, record: DeletePdpContext, sub: Subscriber) -> Verdict:
        state = self._state(tx, sub)
        session = state.session(record.session_id)
        if session is None:
            return Verdict(False, f"no open session {record.session_id}")
        session = session.moved(max(record.rx_bytes, 0), max(record.tx_bytes, 0))
        self._close(tx, sub, session, record.ts_ms)
        return ACCEPTED

    def _bill(self, tx: ResourceTx, sub: Subscriber, session: Session, ts_ms: int) -> tuple[Session, Verdict]:
        """Write the usage record of the session's pending bytes and charge it to Policy Control."""
        operator = _operator(session.operator_id)
        rx, tx_bytes = session.pending_rx, session.pending_tx
        cost = usage.data_cost(sub, operator, rx, tx_bytes)
        tx.record_usage(sub.org_id, usage.usage_record(
            sub, operator, traffic_type=usage.DATA, rx=usage.megabytes(rx), tx=usage.megabytes(tx_bytes),
            cost=cost, start_ms=session.record_from_ms, end_ms=ts_ms, session_id=session.session_id))
        verdict = self.policy.charge_data(tx, sub, rx_bytes=rx, tx_bytes=tx_bytes, cost=cost, ts_ms=ts_ms)
        session = replace(session, pending_rx=0, pending_tx=0, record_from_ms=ts_ms,
                          max_bytes_per_s=verdict.max_bytes_per_s)
        return session, verdict

    def _close(self, tx: ResourceTx, sub: Subscriber, session: Session, ts_ms: int) -> None:
        """The last usage record (unless the session was just billed to the byte) and event 5; the session
        leaves the state."""
        if session.pending_rx + session.pending_tx > 0 or session.record_from_ms == session.created_ms:
            session, _ = self._bill(tx, sub, session, ts_ms)
        operator = _operator(session.operator_id)
        state = self._state(tx, sub)  # _bill may have changed policy records, never the network state
        tx.put(replace(state, sessions=[s for s in state.sessions if s.session_id != session.session_id],
                       last_seen_ms=ts_ms))
        volume = {"total": usage.megabytes(session.total_rx + session.total_tx),
                  "rx": usage.megabytes(session.total_rx), "tx": usage.megabytes(session.total_tx)}
        tx.emit(self._event(ts_ms, sub, DELETE_PDP, "PDP Context deleted.", detail={
            **_operator_summary(operator), "session_id": session.session_id,
            "pdp_context": session.context(), "volume": volume}))

    def reset(self, tx: ResourceTx, sub: Subscriber, ts_ms: int, *, location: bool) -> None:
        """`PATCH /api/v1/endpoint/{id}/connectivity`: end every data session (5); with `location`, also
        cancel the registrations, which the network reports as purges (15, 16) — the device registers
        again by itself."""
        for session in self._state(tx, sub).sessions:
            self._close(tx, sub, session, ts_ms)
        if location:
            self._purge(tx, PurgeGprsLocation(imsi=sub.sim.imsi, ts_ms=ts_ms), sub)
            self._purge(tx, PurgeLocation(imsi=sub.sim.imsi, ts_ms=ts_ms), sub)

    # SMS and external events --------------------------------------------------------------------------

    def _sms(self, tx: ResourceTx, record: Sms, sub: Subscriber) -> Verdict:
        verdict = self._deliver_sms(tx, record, sub)
        if record.direction == "MO" and sub.endpoint is not None:
            self._keep_sms(tx, sub, record, verdict, source=sub.sim.msisdn, dest=record.peer,
                           payload=record.payload)
        return verdict

    def deliver_mt(self, tx: ResourceTx, sub: Subscriber, ts_ms: int, *, payload: str, source: str,
                   source_type: int, udh: str) -> SmsMessage:
        """An SMS sent to the device through the API: delivered now or failed, and kept."""
        record = Sms(imsi=sub.sim.imsi, ts_ms=ts_ms, direction="MT", peer=source)
        verdict = self._deliver_sms(tx, record, sub)
        return self._keep_sms(tx, sub, record, verdict, source=source, dest=sub.sim.msisdn, payload=payload,
                              source_type=source_type, udh=udh)

    def _keep_sms(self, tx: ResourceTx, sub: Subscriber, record: Sms, verdict: Verdict, *, source: str,
                  dest: str, payload: str = "", source_type: int = sms.NATIONAL, udh: str = "") -> SmsMessage:
        state = self._state(tx, sub)
        message = SmsMessage(
            id=tx.next_id(SmsMessage), org_id=sub.org_id, endpoint_id=sub.endpoint.id if sub.endpoint else 0,
            sim_id=sub.sim.id, sms_type=sms.MT if record.direction == "MT" else sms.MO, payload=payload,
            source_address=source, source_address_type=source_type, dest_address=dest, udh=udh,
            status_id=sms.DELIVERED if verdict.accepted else sms.FAILED,
            failure=None if verdict.accepted else verdict.reason, submit_ms=record.ts_ms,
            final_ms=record.ts_ms, msc=state.vlr)
        tx.put(message)
        sms_notifications.notify(tx, sub, message)  # with the message, or not at all (outbox)
        return message

    def _deliver_sms(self, tx: ResourceTx, record: Sms, sub: Subscriber) -> Verdict:
        state = self._state(tx, sub)
        operator_id = state.cs_operator_id or state.ps_operator_id
        if operator_id is None:
            return Verdict(False, "not registered in a network")
        verdict = self.policy.admit_sms(tx, sub, record.ts_ms)
        if not verdict.accepted:
            return verdict
        operator = _operator(operator_id)
        cost = usage.sms_cost(sub, record.direction)
        mo = record.direction == "MO"
        tx.record_usage(sub.org_id, usage.usage_record(
            sub, operator, traffic_type=usage.SMS, rx=1 if mo else 0, tx=0 if mo else 1, cost=cost,
            start_ms=record.ts_ms, end_ms=record.ts_ms, session_id=_sms_session(record)))
        return self.policy.charge_sms(tx, sub, direction=record.direction, cost=cost, ts_ms=record.ts_ms)

    def _external(self, tx: ResourceTx, record: ExternalEvent) -> Verdict:
        try:
            event = decode_event(record.event, "external event", now_ms=record.ts_ms)
        except InvalidInput as exc:
            return Verdict(False, "; ".join(str(p) for p in exc.problems))
        if event.type_id not in EXTERNAL_TYPES:
            return Verdict(False, f"event type {event.type_id} is not one an external platform reports")
        if event.org_id not in self.names:
            raise UnknownOrganisation(event.org_id)
        if self.names[event.org_id] is None:
            return Verdict(False, f"organisation {event.org_id} does not exist")
        tx.emit(event)
        return ACCEPTED

    # helpers ------------------------------------------------------------------------------------------

    def _state(self, tx: ResourceTx, sub: Subscriber) -> NetworkState:
        return tx.get(NetworkState, sub.sim.id) or NetworkState(id=sub.sim.id, org_id=sub.org_id)

    def _event(self, ts_ms: int, sub: Subscriber, type_id: int, description: str, *, detail: Any = None,
               severity_id: int | None = None) -> Event:
        event = domain_event(ts_ms, sub.actor, type_id, description, detail=detail, source_id=NETWORK,
                             **sub.refs())
        return event if severity_id is None else replace(event, severity_id=severity_id)

    def _pdp_context(self, record: CreatePdpContext, sub: Subscriber, operator: Operator) -> dict[str, Any]:
        endpoint_ip = sub.endpoint.ip_address if sub.endpoint is not None else None
        created = format_timestamp(record.ts_ms)[:19]
        return {
            "pdp_context_id": zlib.crc32(record.session_id.encode()) % 100_000_000, "imsi": sub.sim.imsi,
            "imeisv": record.imeisv, "apn": record.apn, "region": record.region,
            "breakout_ip": record.breakout_ip, "ue_ip_address": record.ue_ip_address or endpoint_ip,
            "sgsn_control_plane_ip_address": record.sgsn_control_plane_ip_address,
            "sgsn_data_plane_ip_address": record.sgsn_data_plane_ip_address,
            "ggsn_control_plane_ip_address": record.ggsn_control_plane_ip_address,
            "ggsn_data_plane_ip_address": record.ggsn_data_plane_ip_address,
            "tx_teid_data_plane": record.tx_teid_data_plane,
            "tx_teid_control_plane": record.tx_teid_control_plane,
            "rx_teid": record.rx_teid, "nsapi": record.nsapi, "gtp_version": record.gtp_version,
            "rat_type": record.rat_type, "mcc": record.mcc, "mnc": record.mnc, "lac": record.lac,
            "ci": record.ci, "sac": None, "rac": None, "tunnel_created": created,
            "operator_id": str(operator.id),
            "tariff_profile_id": str(sub.tariff.id) if sub.tariff is not None else None,
            "ratezone_id": str(usage.zone(sub, operator)[0]),
            "tariff_id": str(sub.tariff.id) if sub.tariff is not None else None,
        }


def _operator(operator_id: int) -> Operator:
    operator = operator_by_id(operator_id)
    if operator is None:  # ids come from the table itself
        raise LookupError(f"operator {operator_id} vanished from the operator table")
    return operator


def _operator_summary(operator: Operator) -> dict[str, Any]:
    return {"id": operator.id, "name": operator.name, "country": operator.country.as_json()}


def _with_session(state: NetworkState, session: Session, ts_ms: int) -> NetworkState:
    return replace(state, sessions=[session if s.session_id == session.session_id else s
                                    for s in state.sessions], last_seen_ms=ts_ms)


def _sms_session(record: Sms) -> str:
    """SMS records carry a session id too (facts §E.5): a stable UUID-shaped id of this message."""
    name = f"{record.imsi}/{record.ts_ms}/{record.direction}/{record.peer}"
    return str(uuid.uuid5(uuid.NAMESPACE_OID, name))
