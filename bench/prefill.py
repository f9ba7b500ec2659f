"""A SQLite database already holding 1,000,000 generated events, built once through the store's own
`append` and cached under bench/.cache/, keyed by the generator version, the layout below and the schema
the store creates (so any of them changing rebuilds it). Benchmarks work on copies, never on the cache.

The events are stored over the 30 days before the build (a store in steady state under the default
retention holds 30 days), on a manual clock; `continuing_clock` carries store time on from the last of
them, so a benchmark appends to "today" as a store that has been running would.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from bench import data
from cellstream.clock import Clock, ManualClock, SystemClock
from cellstream.events.codec import decode_event
from cellstream.settings import Settings
from cellstream.store.protocols import AccountStore, EventStore

PREFILL_EVENTS = 1_000_000
PREFILL_BATCH = 20_000
PREFILL_DAYS = 30
LAYOUT_VERSION = 2  # bump when how the prefill is stored changes (not the events: GENERATOR_VERSION)
DAY_MS = 86_400_000
CACHE = Path(__file__).parent / ".cache"


def database_url(path: Path) -> str:
    return f"sqlite:///{path}"


def settings_for(path: Path) -> Settings:
    return Settings(data_dir=path.parent, database_url=database_url(path))


class ContinuingClock:
    """Real elapsed time added to a fixed start: store time that carries on from the prefill's last."""

    def __init__(self, start_ms: int) -> None:
        self._start_ms = start_ms
        self._started = time.monotonic()

    def now_ms(self) -> int:
        return self._start_ms + int((time.monotonic() - self._started) * 1000)


def last_stored_ms(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        # Store times only grow along positions: the last row holds the latest (max() would scan 1M rows).
        return int(con.execute("SELECT stored_ms FROM events ORDER BY position DESC LIMIT 1").fetchone()[0])
    finally:
        con.close()


def continuing_clock(path: Path) -> Clock:
    return ContinuingClock(last_stored_ms(path) + 1)


async def open_store(path: Path, clock: Clock | None = None) -> tuple[EventStore, AccountStore]:
    from cellstream.store.sql.sqlite import open_sqlite_stores

    settings = settings_for(path)
    return await open_sqlite_stores(settings.resolved_database_url(), settings, clock or SystemClock())


def schema_ddl(path: Path, tables: tuple[str, ...] | None = None) -> list[str]:
    """The CREATE statements of every table and index (or those of `tables`), as SQLite keeps them."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                           "ORDER BY type, name")
        return [sql for table, sql in rows.fetchall() if tables is None or table in tables]
    finally:
        con.close()


def checkpoint(path: Path) -> None:
    """Fold the WAL into the main file so a plain file copy is the whole database."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


async def _schema_key() -> str:
    with tempfile.TemporaryDirectory(prefix="cellstream-bench-") as tmp:
        path = Path(tmp) / "schema.db"
        events, _ = await open_store(path)
        await events.close()
        # Only what the prefill fills: new tables of other parts of the store are added to a copy by the
        # migration the store runs when it opens it, before anything is timed.
        ddl = "\n".join(schema_ddl(path, ("events", "meta", "organisations")))
    return hashlib.blake2s(ddl.encode(), digest_size=6).hexdigest()


async def _fill(path: Path, count: int) -> None:
    now = SystemClock().now_ms()
    first = now - PREFILL_DAYS * DAY_MS
    clock = ManualClock(first)
    events, accounts = await open_store(path, clock)
    try:
        for org in data.ORGS:
            await accounts.create_organisation(org.name, org_id=org.id, now_ms=first)
        started = time.perf_counter()
        for start in range(0, count, PREFILL_BATCH):
            stop = min(start + PREFILL_BATCH, count)
            clock.set(first + (now - first) * stop // count)
            await events.append([decode_event(doc) for doc in data.events(start, stop)])
            if stop % 100_000 == 0:
                rate = stop / (time.perf_counter() - started)
                print(f"  prefill: {stop:,} events ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    finally:
        await events.close()
    checkpoint(path)


@functools.cache
def prefilled_db(count: int = PREFILL_EVENTS) -> Path:
    """The cached database with `count` events (built now if missing: ~3 minutes for 1M on 2 cores)."""
    key = asyncio.run(_schema_key())
    path = CACHE / f"prefill-g{data.GENERATOR_VERSION}-l{LAYOUT_VERSION}-s{key}-{count}.db"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CACHE.glob(f"prefill-*-{count}.db*"):
        stale.unlink()
    print(f"building {path.name} (once; cached in {CACHE})", file=sys.stderr, flush=True)
    started = time.perf_counter()
    building = path.with_suffix(".building")
    for leftover in CACHE.glob(building.name + "*"):
        leftover.unlink()
    asyncio.run(_fill(building, count))
    building.rename(path)
    print(f"  prefill took {time.perf_counter() - started:,.0f} s", file=sys.stderr, flush=True)
    return path


def copy_prefilled(dest: Path, count: int = PREFILL_EVENTS) -> Path:
    """A private copy of the prefilled database at `dest` (a file path)."""
    shutil.copyfile(prefilled_db(count), dest)
    return dest
