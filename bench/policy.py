"""policy_quota_event_p99_ms: a data usage report whose usage record uses up the endpoint's quota, from
submitting it to the Network source until "Quota used up" (19) is stored and the session refused.

Set-up (not timed): a SQLite store (the embedded default) with one organisation, 1,000 devices in
endpoints under a quota-managed service profile, each with a 0.1 MB data quota (Block) and an open data
session. Timed, one device at a time while a background producer keeps submitting ordinary signalling of
other devices (batches of 200 records): `NetworkService.submit([DataUsage(...)])` — it returns after the
transaction that stored the usage record, event 19 and the session's end has committed.
Baseline, same run: one row INSERT + COMMIT with plain sqlite3 in WAL mode (synchronous=NORMAL) on the same
disk, the floor any committed write pays.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench.figures import Figure
from cellstream.domain import quotas
from cellstream.domain.endpoints import EndpointChanges, SimChoice
from cellstream.domain.principal import Principal
from cellstream.domain.quotas import QuotaRequest
from cellstream.events.query import EventQuery, parse_q
from cellstream.network.signalling import (
    AnySignal,
    CreatePdpContext,
    DataUsage,
    UpdateGprsLocation,
    UpdateLocation,
)
from cellstream.runtime import open_services
from cellstream.services import Services
from cellstream.settings import Settings

DEVICES = 1_000
BACKGROUND_DEVICES = 200
ORG = 1
ADMIN = Principal(ORG, None, 1)


def _attach(imsi: str, ts: int, session: str) -> list[AnySignal]:
    return [UpdateLocation(imsi=imsi, ts_ms=ts, vlr="491720000095", mcc="262", mnc="02"),
            UpdateGprsLocation(imsi=imsi, ts_ms=ts, sgsn="491720000096", sgsn_ip="10.1.1.1", mcc="262",
                               mnc="02"),
            CreatePdpContext(imsi=imsi, ts_ms=ts, session_id=session, mcc="262", mnc="02",
                             sgsn_control_plane_ip_address="10.0.0.1", sgsn_data_plane_ip_address="10.0.0.2",
                             ggsn_control_plane_ip_address="10.0.0.3", ggsn_data_plane_ip_address="10.0.0.4")]


async def _setup(services: Services, t0: int) -> tuple[list[str], list[str]]:
    await services.auth.ensure_organisation(ORG, "Bench Org")
    sims = await services.connectivity.provision_sims(count=DEVICES + BACKGROUND_DEVICES, bic="BENCHPOLICY01",
                                                      org_id=ORG)
    profiles = await services.connectivity.service_profiles(ADMIN)
    tariffs = await services.connectivity.tariff_profiles(ADMIN)
    await services.connectivity.update_service_profile(ADMIN, profiles[0].id, {"apply_data_quota": True})
    for n, sim in enumerate(sims):
        endpoint = await services.connectivity.create_endpoint(ADMIN, EndpointChanges(
            name=f"bench-{n}", status_id=0, service_profile_id=profiles[0].id,
            tariff_profile_id=tariffs[0].id, sim=SimChoice(sim.id)))
        await services.connectivity.assign_quota(ADMIN, "data", endpoint.id, QuotaRequest(
            status_id=quotas.ACTIVE, volume=0.1 if n < DEVICES else 100_000.0,
            expiry_ms=t0 + 30 * 86_400_000, auto_refill=False, threshold_percentage=20,
            action_id=quotas.BLOCK, peak_throughput=None))
    imsis = [s.imsi for s in sims]
    for start in range(0, len(imsis), 100):
        await services.network.submit([r for i, imsi in enumerate(imsis[start:start + 100], start=start)
                                       for r in _attach(imsi, t0, f"s-{i}")])
    return imsis[:DEVICES], imsis[DEVICES:]


async def _background(services: Services, imsis: list[str], t0: int, stop: asyncio.Event) -> int:
    sent, tick = 0, 0
    while not stop.is_set():
        tick += 1
        batch: list[AnySignal] = [DataUsage(imsi=imsi, ts_ms=t0 + tick * 100, session_id=f"s-{DEVICES + i}",
                                            rx_bytes=500, tx_bytes=200) for i, imsi in enumerate(imsis)]
        await services.network.submit(batch)
        sent += len(batch)
        await asyncio.sleep(0)
    return sent


async def _measure(folder: Path) -> tuple[list[float], int, int]:
    settings = Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'policy.db'}")
    services = await open_services(settings)
    try:
        t0 = services.clock.now_ms()
        devices, others = await _setup(services, t0)
        stop = asyncio.Event()
        background = asyncio.create_task(_background(services, others, t0, stop))
        latencies: list[float] = []
        for i, imsi in enumerate(devices):
            record = DataUsage(imsi=imsi, ts_ms=t0 + 46_000, session_id=f"s-{i}", rx_bytes=150_000,
                               tx_bytes=50_000)
            started = time.perf_counter()
            verdict = (await services.network.submit([record]))[0]
            latencies.append((time.perf_counter() - started) * 1000)
            if verdict.accepted:
                raise AssertionError(f"device {i}: the quota was not used up")
        stop.set()
        sent = await background
        used_up = await services.events.count(EventQuery(ORG, parse_q("type:19")))
        return latencies, used_up, sent
    finally:
        await services.close()


def _baseline_ms(folder: Path, rounds: int = 1_000) -> list[float]:
    con = sqlite3.connect(folder / "baseline.db", isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
        body = b"x" * 900
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT INTO t (body) VALUES (?)", (body,))
            con.execute("COMMIT")
            times.append((time.perf_counter() - started) * 1000)
        return times
    finally:
        con.close()


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="cellstream-bench-policy-") as name:
        folder = Path(name)
        latencies, used_up, sent = asyncio.run(_measure(folder))
        baseline = _baseline_ms(folder)
    if used_up != DEVICES:
        raise AssertionError(f"{used_up} Quota used up events stored for {DEVICES} devices")
    print(f"policy: {DEVICES:,} quota crossings, p50 {statistics.median(latencies):.2f} ms, "
          f"p99 {_p99(latencies):.2f} ms, max {max(latencies):.2f} ms; {sent:,} background records "
          "meanwhile; "
          f"plain INSERT+COMMIT p99 {_p99(baseline):.3f} ms")
    return [Figure("policy_quota_event_p99_ms", _p99(latencies), "ms", _p99(baseline), better="lower",
                   goal=100)]
