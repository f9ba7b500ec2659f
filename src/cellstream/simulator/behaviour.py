"""What a device does, one action at a time, and how it takes the platform's answers.

Actions run on simulated time from the engine's queue and emit the signalling records a core would send
for them:

- ATTACH: register in the first network of the device's candidate list — Update Location (CS, to the VLR)
  and, a moment later, Update GPRS Location (PS, to the SGSN/MME) — and plan the device's life there
  (sessions, moves, messages, the next border).
- SESSION_START → CreatePdpContext; USAGE → DataUsage every report interval; the last one is
  SESSION_END → DeletePdpContext with the bytes since the last report.
- MOVE: a new location area / cell → Update GPRS Location (and Update Location when the device lands on
  another VLR/MME node); now and then the device changes to another network of the country.
- SMS: a short message from (MO) or to (MT) the device. SLEEP: the device powers down for long, so the
  network purges it (Purge GPRS Location, Purge Location) and it attaches again when it wakes.
- BORDER: a travelling device enters the next country of its itinerary and registers in a visited network.

Reactions (`react`): a refused registration leaves the device detached and it retries later, backing off,
with the next network of its list (a blacklisted or unsupported network is thus avoided); a refused
or torn-down data session backs off before the next one; a throttled session caps the bytes reported to
the throughput the platform allows. Plans that a reaction makes void are dropped by bumping `Device.gen`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cellstream.domain.subscriber import Verdict
from cellstream.network.signalling import (
    AnySignal,
    CreatePdpContext,
    DataUsage,
    DeletePdpContext,
    PurgeGprsLocation,
    PurgeLocation,
    Sms,
    UpdateGprsLocation,
    UpdateLocation,
)
from cellstream.simulator import identities as ids
from cellstream.simulator.fleet import Device, OpenSession, Span

ATTACH, SESSION_START, USAGE, SESSION_END, MOVE, SMS, SLEEP, BORDER = range(8)
Schedule = Callable[[int, Device, int, Any], None]  # (time ms, device, action, argument)
SECOND = 1000
NOT_REGISTERED = "not registered"  # the start of the network's reason when it has no registration


def ms(rng_value: float) -> int:
    return int(rng_value * SECOND)


class Behaviour:
    """Turns actions into records (collected in `out` with their device and attempt) and verdicts into
    the device's next plans."""

    def __init__(self, schedule: Schedule, *, switch_chance: float = 0.03) -> None:
        self.schedule = schedule
        self.switch_chance = switch_chance  # per move: the device changes to another network
        self.out: list[tuple[AnySignal, int, int]] = []

    def _emit(self, d: Device, record: AnySignal) -> None:
        self.out.append((record, d.index, d.attempt))

    def _draw(self, d: Device, span: Span) -> float:
        return d.rng.uniform(*span)

    # actions ------------------------------------------------------------------------------------------

    def act(self, d: Device, action: int, arg: Any, t: int) -> None:
        if action == ATTACH:
            self.attach(d, t)
        elif action == SESSION_START:
            self._session_start(d, t)
        elif action == USAGE:
            self._usage(d, arg, t)
        elif action == MOVE:
            self._move(d, t)
        elif action == SMS:
            self._sms(d, t)
        elif action == SLEEP:
            self._sleep(d, t)
        elif action == BORDER:
            self._border(d, t)

    def attach(self, d: Device, t: int) -> None:
        d.gen += 1  # a new registration: whatever was planned for the old one is void
        d.attempt += 1
        rng, op = d.rng, d.candidates[0]
        d.operator, d.session, d.throttle = op, None, None
        d.node = rng.randrange(ids.NODES_PER_OPERATOR)
        d.lac, d.ci = ids.cell(rng)
        mnc = op.mncs[0]
        self._emit(d, UpdateLocation(imsi=d.imsi, ts_ms=t, vlr=ids.global_title(op, d.node, 0),
                                     mcc=op.country.mcc, mnc=mnc, imei=d.imei))
        rat = d.profile.rat_type
        self._emit(d, UpdateGprsLocation(imsi=d.imsi, ts_ms=t + rng.randint(50, 500),
                                         sgsn=ids.sgsn_name(op, d.node, rat), sgsn_ip=ids.node_ip(op, d.node),
                                         mcc=op.country.mcc, mnc=mnc, rat_type=rat, imei=d.imei))
        p = d.profile
        if d.endpoint_id is None:
            return  # an IMSI nobody issued only ever tries to register
        # A device reports soon after it registers (first session within two minutes), whatever its gap
        self.schedule(t + ms(rng.uniform(3, min(p.session_gap[1], 120))), d, SESSION_START, None)
        if p.move_every is not None:
            self.schedule(t + ms(self._draw(d, p.move_every)), d, MOVE, None)
        if p.sms_every is not None:
            self.schedule(t + ms(rng.uniform(5, p.sms_every[0])), d, SMS, None)
        if d.leg + 1 < len(d.itinerary):
            self.schedule(max(d.leg_ends_ms, t + 5 * SECOND), d, BORDER, None)

    def _session_start(self, d: Device, t: int) -> None:
        if d.operator is None or d.session is not None:
            return
        rng, op, p = d.rng, d.operator, d.profile
        session = OpenSession(ids.session_uuid(rng), t + ms(self._draw(d, p.session_length)), t, d.lac, d.ci)
        d.session, d.throttle = session, None
        ggsn_cp, ggsn_dp = ids.ggsn_ips(rng)
        lte = p.rat_type in (6, 8)
        self._emit(d, CreatePdpContext(
            imsi=d.imsi, ts_ms=t, session_id=session.session_id, mcc=op.country.mcc, mnc=op.mncs[0],
            rat_type=p.rat_type, imeisv=d.imeisv, lac=d.lac, ci=d.ci,
            sgsn_control_plane_ip_address=ids.node_ip(op, d.node),
            sgsn_data_plane_ip_address=ids.node_ip(op, d.node, 1),
            ggsn_control_plane_ip_address=ggsn_cp, ggsn_data_plane_ip_address=ggsn_dp,
            tx_teid_data_plane=ids.teid(rng), tx_teid_control_plane=ids.teid(rng), rx_teid=ids.teid(rng),
            gtp_version=2 if lte else 1))
        self.schedule(t + ms(self._draw(d, p.report_every)), d, USAGE, session.session_id)

    def _volume(self, d: Device, elapsed_ms: int) -> tuple[int, int]:
        p, rng = d.profile, d.rng
        rx, tx = int(self._draw(d, p.rx_per_report)), int(self._draw(d, p.tx_per_report))
        if d.throttle is not None:  # the platform allows this many bytes per second: the device obeys
            cap = d.throttle * elapsed_ms // SECOND
            if rx + tx > cap:
                share = rng.uniform(0.8, 1.0) * cap / (rx + tx)
                rx, tx = int(rx * share), int(tx * share)
        return rx, tx

    def _usage(self, d: Device, session_id: str, t: int) -> None:
        s = d.session
        if s is None or s.session_id != session_id:
            return  # the session ended meanwhile (refused, purged, torn down)
        rx, tx = self._volume(d, t - s.last_report_ms)
        s.last_report_ms = t
        if t >= s.ends_ms:
            self._emit(d, DeletePdpContext(imsi=d.imsi, ts_ms=t, session_id=session_id, rx_bytes=rx,
                                           tx_bytes=tx))
            d.session = None
            self._after_session(d, t)
            return
        self._emit(d, DataUsage(imsi=d.imsi, ts_ms=t, session_id=session_id, rx_bytes=rx, tx_bytes=tx))
        self.schedule(min(t + ms(self._draw(d, d.profile.report_every)), s.ends_ms), d, USAGE, session_id)

    def _after_session(self, d: Device, t: int) -> None:
        p = d.profile
        if p.sleep_chance and d.rng.random() < p.sleep_chance:
            self.schedule(t + ms(d.rng.uniform(30, 300)), d, SLEEP, None)
        else:
            self.schedule(t + ms(self._draw(d, p.session_gap)), d, SESSION_START, None)

    def close_session(self, d: Device, t: int) -> None:
        """The device ends its session itself (before leaving the network)."""
        s = d.session
        if s is not None:
            rx, tx = self._volume(d, t - s.last_report_ms)
            self._emit(d, DeletePdpContext(imsi=d.imsi, ts_ms=t, session_id=s.session_id, rx_bytes=rx,
                                           tx_bytes=tx))
            d.session = None

    def _move(self, d: Device, t: int) -> None:
        op, rng, p = d.operator, d.rng, d.profile
        if op is None or p.move_every is None:
            return
        if not d.itinerary and len(d.candidates) > 1 and rng.random() < self.switch_chance:
            self.close_session(d, t)  # coverage is better in another network of the country
            d.candidates.append(d.candidates.pop(0))
            self.attach(d, t + ms(rng.uniform(1, 5)))
            return
        d.lac, d.ci = ids.cell(rng)
        if rng.random() < 0.3:  # the new area is served by another VLR/MME of the network
            d.node = (d.node + 1 + rng.randrange(ids.NODES_PER_OPERATOR - 1)) % ids.NODES_PER_OPERATOR
            self._emit(d, UpdateLocation(imsi=d.imsi, ts_ms=t, vlr=ids.global_title(op, d.node, 0),
                                         mcc=op.country.mcc, mnc=op.mncs[0], imei=d.imei))
        self._emit(d, UpdateGprsLocation(imsi=d.imsi, ts_ms=t + rng.randint(20, 300),
                                         sgsn=ids.sgsn_name(op, d.node, p.rat_type),
                                         sgsn_ip=ids.node_ip(op, d.node), mcc=op.country.mcc,
                                         mnc=op.mncs[0], rat_type=p.rat_type, imei=d.imei))
        self.schedule(t + ms(self._draw(d, p.move_every)), d, MOVE, None)

    def _sms(self, d: Device, t: int) -> None:
        if d.operator is None or d.profile.sms_every is None:
            return
        rng = d.rng
        self._emit(d, Sms(imsi=d.imsi, ts_ms=t, direction="MO" if rng.random() < 0.6 else "MT",
                          peer=ids.peer_number(rng)))
        self.schedule(t + ms(self._draw(d, d.profile.sms_every)), d, SMS, None)

    def _sleep(self, d: Device, t: int) -> None:
        if d.operator is None:
            return
        self.purge(d, t)
        self.schedule(t + ms(self._draw(d, d.profile.sleep_for)), d, ATTACH, None)

    def purge(self, d: Device, t: int) -> None:
        """The network drops the device's registrations (and with them its session)."""
        d.gen += 1
        self._emit(d, PurgeGprsLocation(imsi=d.imsi, ts_ms=t))
        self._emit(d, PurgeLocation(imsi=d.imsi, ts_ms=t + d.rng.randint(10, 1000)))
        d.operator, d.session, d.throttle = None, None, None

    def _border(self, d: Device, t: int) -> None:
        if d.leg + 1 >= len(d.itinerary):
            return
        self.close_session(d, t)
        d.leg += 1
        d.candidates = list(d.itinerary[d.leg])
        d.country = d.candidates[0].country.iso_code
        d.leg_ends_ms = t + d.leg_ms
        self.attach(d, t + ms(d.rng.uniform(2, 20)))  # the modem scans for a network after the border

    # reactions ----------------------------------------------------------------------------------------

    def react(self, d: Device, record: AnySignal, verdict: Verdict, attempt: int, t: int) -> None:
        """`t` is when the answer arrives (the end of the tick the record was sent in)."""
        if isinstance(record, UpdateLocation | UpdateGprsLocation):
            if attempt != d.attempt or d.operator is None:
                return  # an answer to an earlier registration, or its refusal is already handled
            if verdict.accepted:
                d.failures = 0
            else:
                self._registration_refused(d, t)
        elif isinstance(record, CreatePdpContext | DataUsage):
            s = d.session
            if s is None or s.session_id != record.session_id:
                return
            if verdict.accepted:
                d.session_failures = 0
                d.throttle = verdict.max_bytes_per_s
            elif (verdict.reason or "").startswith(NOT_REGISTERED):
                d.session = None
                self.schedule(t + ms(d.rng.uniform(1, 10)), d, ATTACH, None)
            else:  # refused or torn down by Policy Control: back off before the next session
                d.session = None
                d.session_failures += 1
                self.schedule(t + self._backoff(d, d.session_failures, 60, 1800), d, SESSION_START, None)

    def _registration_refused(self, d: Device, t: int) -> None:
        d.gen += 1
        refused = d.candidates.pop(0)  # try the next network of the list next time
        d.candidates.append(refused)
        d.operator, d.session, d.throttle = None, None, None
        d.failures += 1
        delay = ms(d.rng.uniform(10, 30)) if d.aggressive else self._backoff(d, d.failures, 15, 600)
        self.schedule(t + delay, d, ATTACH, None)

    @staticmethod
    def _backoff(d: Device, failures: int, base_s: float, cap_s: float) -> int:
        """Exponential back-off with jitter, so refused devices do not come back in lock-step."""
        return ms(min(cap_s, base_s * 2 ** min(failures - 1, 16)) * d.rng.uniform(0.5, 1.5))

    def outage(self, devices: list[Device], t: int, offline_ms: int, window_ms: int) -> None:
        """The core loses every registration at once; devices come back within `window_ms` after it."""
        for d in devices:
            if d.operator is not None:
                self.purge(d, t + d.rng.randint(0, 2 * SECOND))
            else:
                d.gen += 1  # a pending retry or wake-up is overtaken by the mass re-attach
            d.failures = 0
            self.schedule(t + offline_ms + d.rng.randint(0, window_ms), d, ATTACH, None)
