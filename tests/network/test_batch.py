"""A batch resolves each IMSI once and fetches its records together, without changing what any record sees;
a session keeps its PDP context compactly and still shows it whole."""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from cellstream.domain import sims
from cellstream.domain.endpoint_model import Endpoint
from cellstream.domain.principal import Principal
from cellstream.domain.sims import Sim
from cellstream.domain.subscriber import ACCEPTED, Subscriber, Verdict, resolve
from cellstream.network.core import CREATE_ONLY, BatchTx
from cellstream.network.signalling import DataUsage, DeletePdpContext, UpdateLocation
from cellstream.network.state import PDP_CONTEXT_KEYS, NetworkState, Session
from cellstream.store.resources import ResourceTx

from .conftest import Permissive, World, make_world
from .test_core import SESSION, T0, attach, create

ADMIN = Principal(1, None, app_token_id=0)


async def test_a_batch_resolves_each_imsi_once_until_it_changes_a_subscriber_record(world: World) -> None:
    imsi, other = world.imsis[0], world.imsis[1]
    names = {1: "Acme"}

    def work(tx: ResourceTx) -> None:
        batch = BatchTx(tx, names)
        batch.subscribers.preload([imsi, other, "001010000000000"], NetworkState)
        first = batch.subscribers.get(imsi)
        assert first is not None
        assert batch.subscribers.get(imsi) is first  # resolved once
        assert batch.subscribers.get("001010000000000") is None
        batch.put(NetworkState(id=first.sim.id, org_id=1, vlr="x"))  # not part of a subscriber: kept
        assert batch.subscribers.get(imsi) is first
        other_sub = batch.subscribers.get(other)
        assert other_sub is not None
        assert other_sub.service is first.service  # profiles decoded once for the batch
        for change in (replace(first.sim, status_id=sims.SUSPENDED),
                       replace(tx.get(Endpoint, first.sim.endpoint_id or 0), name="renamed"),
                       replace(first.service, data_service=False)):
            assert change is not None
            batch.put(change)
            again = batch.subscribers.get(imsi)
            assert again is not first
            assert again == resolve(tx, imsi, names)  # exactly what a fresh resolution gives
            first = again
        assert first.sim.status_id == sims.SUSPENDED
        assert first.endpoint is not None
        assert first.endpoint.name == "renamed"
        assert first.service is not None
        assert not first.service.data_service
        batch.delete(Sim, first.sim.id)
        assert batch.subscribers.get(imsi) is None

    await world.change(work)


class SuspendsOnAdmission(Permissive):
    """Policy Control that suspends the SIM while admitting its session (as self-activation changes one)."""

    def admit_data_session(self, tx: ResourceTx, sub: Subscriber, ts_ms: int) -> Verdict:
        tx.put(replace(sub.sim, status_id=sims.SUSPENDED))
        return ACCEPTED


async def test_records_of_a_batch_see_the_changes_earlier_records_made() -> None:
    world = await make_world(SuspendsOnAdmission())
    imsi = world.imsis[0]
    verdicts = await world.send(*attach(imsi), create(imsi, T0 + 1000),
                                UpdateLocation(imsi=imsi, ts_ms=T0 + 2000, vlr="491720000097", mcc="262",
                                               mnc="02"))
    assert [v.accepted for v in verdicts] == [True, True, True, False]
    assert verdicts[3].reason == "Registration refused, because the SIM is suspended."


async def test_a_session_keeps_its_pdp_context_compactly_and_shows_it_whole(world: World) -> None:
    imsi = world.imsis[0]
    await world.send(*attach(imsi), create(imsi, T0 + 1000))
    stored = await world.change(lambda tx: tx.find(Sim, "imsi", imsi))
    state = await world.change(lambda tx: tx.get(NetworkState, stored.id))
    session = state.sessions[0]
    assert isinstance(session.pdp_context, list)
    created = next(e for e in await world.stored_network() if e["event_type"]["id"] == 3)
    context = created["detail"]["pdp_context"]
    assert list(session.context()) == list(PDP_CONTEXT_KEYS)
    assert session.context() == {k: v for k, v in context.items() if k not in CREATE_ONLY}
    connectivity = await world.network.connectivity(ADMIN, world.endpoint_ids[0])
    assert {k: connectivity["pdp_context"][k] for k in PDP_CONTEXT_KEYS} == session.context()
    await world.send(DeletePdpContext(imsi=imsi, ts_ms=T0 + 2000, session_id=SESSION, rx_bytes=10,
                                      tx_bytes=20))
    deleted = next(e for e in await world.stored_network() if e["event_type"]["id"] == 5)
    assert list(deleted["detail"]["pdp_context"].items()) == list(session.context().items())


async def test_a_session_stored_with_its_context_as_an_object_still_works(world: World) -> None:
    imsi = world.imsis[0]
    await world.send(*attach(imsi))
    context: dict[str, Any] = {"pdp_context_id": 7, "imsi": imsi, "apn": "em", "old": True}
    sim = await world.change(lambda tx: tx.find(Sim, "imsi", imsi))

    def open_old_style(tx: ResourceTx) -> None:
        state = tx.get(NetworkState, sim.id)
        assert state is not None
        tx.put(replace(state, sessions=[Session(session_id=SESSION, operator_id=state.ps_operator_id or 0,
                                                created_ms=T0, pdp_context=context, record_from_ms=T0)]))

    await world.change(open_old_style)
    connectivity = await world.network.connectivity(ADMIN, world.endpoint_ids[0])
    assert connectivity["pdp_context"]["old"] is True
    await world.send(DataUsage(imsi=imsi, ts_ms=T0 + 50_000, session_id=SESSION, rx_bytes=200_000,
                               tx_bytes=1),
                     DeletePdpContext(imsi=imsi, ts_ms=T0 + 60_000, session_id=SESSION, rx_bytes=1,
                                      tx_bytes=1))
    deleted = next(e for e in await world.stored_network() if e["event_type"]["id"] == 5)
    assert deleted["detail"]["pdp_context"] == context
