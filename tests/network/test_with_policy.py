"""The Network source with the real Policy Control: quotas refuse, end and throttle sessions through the
signalling path, and a new quota lifts the block."""

from __future__ import annotations

from typing import Any

from cellstream import policy
from cellstream.domain import profiles, quotas
from cellstream.domain.quotas import QuotaRequest
from cellstream.network.signalling import CreatePdpContext, DataUsage, DeletePdpContext
from cellstream.store.resources import ResourceTx

from .conftest import ACME, World, make_world
from .test_core import SESSION, T0, attach, create

DAY_MS = 86_400_000


async def quota_managed(world: World, volume_mb: float | None, action: int = quotas.BLOCK) -> None:
    def work(tx: ResourceTx) -> None:
        service, _ = profiles.ensure_defaults(tx, 1)
        if not service.apply_data_quota:
            profiles.update_service_profile(tx, ACME, service.id, {"apply_data_quota": True})
        if volume_mb is not None:
            quotas.assign_quota(tx, ACME, "data", world.endpoint_ids[0], QuotaRequest(
                status_id=quotas.ACTIVE, volume=volume_mb, expiry_ms=T0 + 30 * DAY_MS, auto_refill=False,
                threshold_percentage=50, action_id=action, peak_throughput=64_000))
    await world.change(work)


def usage_for(imsi: str, seconds: int, session: str = SESSION, start: int = T0 + 10) -> list[Any]:
    """40 KB a second."""
    return [DataUsage(imsi=imsi, ts_ms=start + s * 1000, session_id=session, rx_bytes=30_000, tx_bytes=10_000)
            for s in range(1, seconds + 1)]


async def test_no_quota_refuses_the_session_with_the_documented_event() -> None:
    world = await make_world(policy)
    imsi = world.imsis[0]
    await quota_managed(world, None)
    await world.send(*attach(imsi))
    verdict = (await world.send(create(imsi, T0 + 10)))[0]
    assert not verdict.accepted
    rejected = (await world.stored_network())[-1]
    assert rejected["event_type"]["id"] == 3
    assert rejected["event_source"] == {"id": 1, "description": "Policy Control"}
    assert rejected["description"] == "PDP Context Request rejected, because endpoint has no quota."


async def test_a_used_up_quota_ends_the_session_and_refuses_the_next_until_a_new_quota() -> None:
    world = await make_world(policy)
    imsi = world.imsis[0]
    await quota_managed(world, 1.0)
    await world.send(*attach(imsi), create(imsi, T0 + 10))
    verdicts = await world.send(*usage_for(imsi, 50))
    assert all(v.accepted for v in verdicts[:44])
    assert not verdicts[44].accepted  # the 45 s usage record (1.8 MB) used up the 1 MB quota
    assert not any(v.accepted for v in verdicts[45:])  # the session is gone
    types = [e["event_type"]["id"] for e in await world.stored_network()]
    assert types[-3:] == [18, 19, 5]
    assert not (await world.send(create(imsi, T0 + 100_000, "second")))[0].accepted
    await quota_managed(world, 5.0)
    assert (await world.send(create(imsi, T0 + 200_000, "third")))[0].accepted


async def test_a_throttle_quota_keeps_the_session_at_its_peak_throughput() -> None:
    world = await make_world(policy)
    imsi = world.imsis[0]
    await quota_managed(world, 1.0, quotas.THROTTLE)
    await world.send(*attach(imsi), create(imsi, T0 + 10))
    verdicts = await world.send(*usage_for(imsi, 50))
    assert all(v.accepted for v in verdicts)
    assert verdicts[44].max_bytes_per_s == 64_000
    generic = [e for e in await world.stored_network() if e["event_type"]["id"] == 0]
    assert generic[0]["description"] == "Disconnecting data access for endpoint to apply throttling action."
    closed = await world.send(DeletePdpContext(imsi=imsi, ts_ms=T0 + 100_000, session_id=SESSION))
    assert closed[0].accepted
    assert (await world.send(CreatePdpContext(**{**_create_fields(imsi), "session_id": "again"})))[0] \
        .max_bytes_per_s == 64_000


def _create_fields(imsi: str) -> dict[str, Any]:
    base = create(imsi, T0 + 200_000)
    return {f: getattr(base, f) for f in base.__struct_fields__}
