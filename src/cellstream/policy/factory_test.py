"""Factory Test mode (facts §H.2, §I): a SIM registered in Factory Test may use the network for free up to
the factory-test volume — 100 KB of data (rx + tx, decimal: 100,000 bytes) or 10 SMS (either direction,
the 10th activates) — and then activates itself.

Self-activation is Policy Control's doing, not a user's: the SIM record moves to Activated (activation date
= the usage's time) and one event 8 is stored — source Policy Control, "SIM activated after factory test
volume reached.", `detail.transition` FACTORY TEST → ACTIVATED with its reason, exactly as documented — in
place of the API's "Status of SIM changed …" event that cellstream.domain.sims.change_status would store.
Usage is counted only while the SIM is in Factory Test; the count is dropped once it activates.
"""

from __future__ import annotations

from msgspec.structs import replace

from cellstream.domain import sims
from cellstream.domain.sims import Sim
from cellstream.domain.subscriber import Subscriber
from cellstream.policy import events
from cellstream.policy.records import FACTORY_TEST_BYTES, FACTORY_TEST_SMS, FactoryTestUsage
from cellstream.store.resources import ResourceTx


def count_data(tx: ResourceTx, sub: Subscriber, octets: int, ts_ms: int) -> Sim | None:
    """Count data of a SIM in Factory Test; the activated SIM when this usage reached the volume."""
    return _count(tx, sub, ts_ms, octets=octets, sms=0)


def count_sms(tx: ResourceTx, sub: Subscriber, ts_ms: int) -> Sim | None:
    """Count one SMS of a SIM in Factory Test; the activated SIM when it was the 10th."""
    return _count(tx, sub, ts_ms, octets=0, sms=1)


def _count(tx: ResourceTx, sub: Subscriber, ts_ms: int, *, octets: int, sms: int) -> Sim | None:
    sim = tx.get(Sim, sub.sim.id)  # the stored state: the subscriber may have been resolved before a change
    if sim is None or sim.status_id != sims.FACTORY_TEST or (octets <= 0 and sms <= 0):
        return None
    used = tx.get(FactoryTestUsage, sim.id) or FactoryTestUsage(id=sim.id, org_id=sim.org_id)
    used = replace(used, data_bytes=used.data_bytes + octets, sms=used.sms + sms)
    if used.data_bytes < FACTORY_TEST_BYTES and used.sms < FACTORY_TEST_SMS:
        tx.put(used)
        return None
    return _activate(tx, sub, sim, ts_ms)


def _activate(tx: ResourceTx, sub: Subscriber, sim: Sim, ts_ms: int) -> Sim:
    assert sims.ACTIVATED in sims.TRANSITIONS[sims.FACTORY_TEST]
    activated = replace(sim, status_id=sims.ACTIVATED, activation_ms=ts_ms)
    tx.put(activated)
    tx.delete(FactoryTestUsage, sim.id)
    tx.emit(events.factory_test_activation(sub, ts_ms, activated))
    return activated
