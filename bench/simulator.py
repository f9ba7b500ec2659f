"""simulator_events_per_s: 10,000 simulated devices driven through the signalling ingest to stored events.

Set-up (not timed): a fresh SQLite store (the embedded default) in a temporary directory, one organisation,
and the simulator's own provisioning of 10,000 Activated SIMs in 10,000 endpoints (plus the 200 IMSIs
nobody issued that the scenario adds).

Timed: the simulator's run loop — `Simulation.in_process(services, devices=10_000, speed=None, …)`, the
fleet's records go tick by tick, in requests of at most 500 records (the simulator's default), to
`NetworkService.submit`, which resolves each one, asks Policy Control, updates the network state and
stores the events and usage records in one transaction per request. The figure is the events stored meanwhile
(`services.events.last_position()` after minus before) per second of that loop.

Scenario: `normal-day`, the realistic mix (trackers, meters, gateways and cameras at home, sessions with
usage reports, moves, SMS, sleeping meters purged, a few unknown IMSIs refused) — not one chosen to make
the figure look good. A normal day stores an event for registrations, session starts and ends and purges,
and none for the usage reports in between (they become usage records), so it stores fewer events per
record than e.g. `auth-storm` (every refused registration is an event) would. It runs 10 simulated
minutes: the first one is the attach wave (every device registers: 2 records and 2 events each), the rest
is the day's steady state, so both count.

Baseline, same run: the very rows the store wrote to `events` (read back afterwards, every column and the
canonical body) inserted with plain `sqlite3.executemany` into a fresh file with the same `events` table
and indexes (its DDL read from the store's file), in as many `BEGIN IMMEDIATE … COMMIT` transactions as the
simulator made requests, with the store's writer PRAGMAs: what storing those events costs SQLite alone.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import plain
from bench.figures import Figure
from cellstream.runtime import open_services
from cellstream.settings import Settings
from cellstream.simulator import Simulation

DEVICES = 10_000
DURATION_S = 600.0  # simulated seconds
SEED = 1
SCENARIO = "normal-day"
ORG = 1


@dataclass(frozen=True)
class Run:
    events: int
    records: int
    usage: int
    submits: int
    seconds: float
    provision_s: float
    first_position: int
    refused: int


async def _simulate(path: Path, folder: Path) -> Run:
    settings = Settings(data_dir=folder, database_url=f"sqlite:///{path}")
    services = await open_services(settings)
    try:
        await services.auth.ensure_organisation(ORG, "Bench Fleet")
        resources = services.connectivity.resources
        usage_before = await resources.usage_last_position()
        simulation = Simulation.in_process(services, org_id=ORG, devices=DEVICES, speed=None, seed=SEED,
                                           scenario=SCENARIO, duration_s=DURATION_S)
        started = time.perf_counter()
        counters = await simulation.run()
        total_s = time.perf_counter() - started
        if counters.events is None:
            raise AssertionError("the in-process simulation did not count stored events")
        # The loop's events are the last ones stored (provisioning's came before; normal-day has no teardown)
        first_position = await services.events.last_position() - counters.events
        return Run(events=counters.events, records=counters.records,
                   usage=await resources.usage_last_position() - usage_before, submits=counters.submits,
                   seconds=counters.real_s, provision_s=total_s - counters.real_s,
                   first_position=first_position, refused=sum(counters.refused.values()))
    finally:
        await services.close()


def _stored_rows(path: Path, after: int) -> tuple[list[str], list[tuple[Any, ...]], list[str]]:
    """The columns and rows of the events stored after position `after`, and the DDL of `events` and its
    indexes."""
    con = sqlite3.connect(path)
    try:
        cursor = con.execute("SELECT * FROM events WHERE position > ? ORDER BY position", (after,))
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        ddl = [sql for (sql,) in con.execute("SELECT sql FROM sqlite_master WHERE tbl_name = 'events' AND "
                                             "sql IS NOT NULL ORDER BY type DESC, name")]
        return columns, rows, ddl
    finally:
        con.close()


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="cellstream-bench-simulator-") as name:
        folder = Path(name)
        store_db = folder / "simulator.db"
        result = asyncio.run(_simulate(store_db, folder))
        columns, rows, ddl = _stored_rows(store_db, result.first_position)
        if len(rows) != result.events:
            raise AssertionError(f"{len(rows):,} events stored, the simulation counted {result.events:,}")
        per = max(1, -(-len(rows) // max(1, result.submits)))  # as many transactions as the run made
        plain_s = plain.insert_seconds(folder / "plain.db", columns, rows, per, ddl)
    mean_body = sum(len(r[columns.index("body")]) for r in rows) / max(1, len(rows))
    s = result.seconds
    print(f"simulator: {DEVICES:,} devices, {SCENARIO}, {DURATION_S:,.0f} simulated s in {s:.2f} s "
          f"(provisioning {result.provision_s:.1f} s, not timed): {result.records:,} records "
          f"({result.records / s:,.0f}/s, {result.refused:,} refused), {result.events:,} events "
          f"({result.events / s:,.0f}/s, mean body {mean_body:,.0f} B), {result.usage:,} usage records "
          f"({result.usage / s:,.0f}/s), {result.submits:,} requests; plain executemany of the same "
          f"events {plain_s:.2f} s ({len(rows) / plain_s:,.0f}/s)")
    return [Figure("simulator_events_per_s", result.events / s, "events/s", len(rows) / plain_s,
                   goal=20_000)]
