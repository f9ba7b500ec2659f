"""How a device takes the platform's answers (unit level: one device, a recording scheduler)."""

from __future__ import annotations

from typing import Any

from cellstream.domain.subscriber import Verdict
from cellstream.network.signalling import CreatePdpContext, DataUsage, UpdateGprsLocation, UpdateLocation
from cellstream.simulator.behaviour import ATTACH, SESSION_START, USAGE, Behaviour
from cellstream.simulator.fleet import HEAVY, Device, new_device

T0 = 1_767_225_600_000


class Recorder:
    def __init__(self) -> None:
        self.planned: list[tuple[int, int, int, Any]] = []

    def __call__(self, t: int, d: Device, action: int, arg: Any) -> None:
        self.planned.append((t, d.index, action, arg))

    def of(self, action: int) -> list[int]:
        return [t for t, _, a, _ in self.planned if a == action]


def device(aggressive: bool = False) -> Device:
    d = new_device(0, 1, ((HEAVY, 1.0),), imsi="901430000000001", endpoint_id=1, sim_id=1,
                   service_profile_id=1, imei=None)
    d.aggressive = aggressive
    return d


def attached() -> tuple[Behaviour, Recorder, Device]:
    plans = Recorder()
    behaviour = Behaviour(plans)
    d = device()
    behaviour.attach(d, T0)
    return behaviour, plans, d


def test_attach_registers_in_cs_and_ps_and_plans_a_session() -> None:
    behaviour, plans, d = attached()
    (ul, _, attempt), (ugl, _, _) = behaviour.out
    assert isinstance(ul, UpdateLocation)
    assert isinstance(ugl, UpdateGprsLocation)
    assert (ul.mcc, ul.mnc) == (d.home.country.mcc, d.home.mncs[0])
    assert ugl.ts_ms > ul.ts_ms
    assert attempt == d.attempt == 1
    assert plans.of(SESSION_START)


def test_a_refused_registration_backs_off_and_tries_the_next_network() -> None:
    behaviour, plans, d = attached()
    first = d.candidates[0]
    ul = behaviour.out[0][0]
    behaviour.react(d, ul, Verdict(False, "Registration refused"), 1, T0 + 1000)
    assert d.operator is None
    assert d.candidates[0] != first
    assert d.candidates[-1] == first
    retries = plans.of(ATTACH)
    assert len(retries) == 1
    assert 7_500 <= retries[0] - (T0 + 1000) <= 22_500  # 15 s ± 50 %
    behaviour.react(d, behaviour.out[1][0], Verdict(False, "Registration refused"), 1, T0 + 1000)
    assert len(plans.of(ATTACH)) == 1  # the PS refusal of the same attempt changes nothing more


def test_a_misbehaving_module_retries_without_backing_off() -> None:
    plans = Recorder()
    behaviour = Behaviour(plans)
    d = device(aggressive=True)
    for n in range(1, 6):
        behaviour.out = []
        behaviour.attach(d, T0)
        behaviour.react(d, behaviour.out[0][0], Verdict(False, "unknown IMSI"), n, T0)
    assert all(10_000 <= t - T0 <= 30_000 for t in plans.of(ATTACH))


def test_a_refused_session_backs_off_and_a_throttled_one_is_capped() -> None:
    behaviour, plans, d = attached()
    behaviour.out = []
    behaviour.act(d, SESSION_START, None, T0 + 5000)
    create = behaviour.out[0][0]
    assert isinstance(create, CreatePdpContext)
    behaviour.react(d, create, Verdict(True, max_bytes_per_s=8_000), 0, T0 + 6000)
    assert d.throttle == 8_000
    assert d.session is not None
    behaviour.act(d, USAGE, create.session_id, T0 + 25_000)
    report = behaviour.out[-1][0]
    assert isinstance(report, DataUsage)
    assert report.rx_bytes + report.tx_bytes <= 8_000 * 20  # 20 s at the allowed rate
    behaviour.react(d, report, Verdict(False, "quota exhausted"), 0, T0 + 26_000)
    assert d.session is None
    retry = plans.of(SESSION_START)[-1] - (T0 + 26_000)
    assert 30_000 <= retry <= 90_000  # a minute ± 50 %
