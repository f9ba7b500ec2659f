"""ingest_sqlite_events_per_s: events through the real ingest path into a SQLite store holding 1M events.

Measured: `Ingestor.ingest_documents` (decode_event of each JSON dict → Ingestor.ingest → store.append) in
batches of 10,000 (a producer's batch; the CLI stores a whole file as one) into a copy of the prefilled
database.
Baseline, same run: the very rows the store wrote (every column, canonical bodies: read back afterwards, so
nothing is computed while timing) inserted with plain `sqlite3.executemany`, one transaction per 10,000,
into a second copy of the same prefilled database (same file, so the same schema and indexes).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import data, plain, prefill
from bench.figures import Figure
from cellstream.ingest.notifier import Notifier
from cellstream.ingest.service import Ingestor

NEW_EVENTS = 100_000
BATCH = 10_000


async def _ingest(path: Path, batches: list[list[tuple[str, Any]]]) -> float:
    clock = prefill.continuing_clock(path)  # today's part of the scope indexes already holds rows
    events, _ = await prefill.open_store(path, clock)
    try:
        ingestor = Ingestor(events, Notifier(), clock)
        started = time.perf_counter()
        for batch in batches:
            await ingestor.ingest_documents(batch)
        return time.perf_counter() - started
    finally:
        await events.close()


def _rows_after(path: Path, position: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    con = sqlite3.connect(path)
    try:
        cursor = con.execute("SELECT * FROM events WHERE position > ? ORDER BY position", (position,))
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()
    finally:
        con.close()


def _max_position(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()[0])
    finally:
        con.close()


def run() -> list[Figure]:
    prefill.prefilled_db()  # built (once) before anything is timed
    first = prefill.PREFILL_EVENTS
    docs = list(data.events(first, first + NEW_EVENTS))
    batches = [[(f"event {first + i + k}", doc) for k, doc in enumerate(docs[i:i + BATCH])]
               for i in range(0, NEW_EVENTS, BATCH)]
    with tempfile.TemporaryDirectory(prefix="cellstream-bench-", dir=prefill.CACHE) as tmp:
        store_db, plain_db = Path(tmp) / "store.db", Path(tmp) / "plain.db"
        prefill.copy_prefilled(store_db)
        prefill.copy_prefilled(plain_db)
        if prefill.schema_ddl(store_db) != prefill.schema_ddl(plain_db):
            raise AssertionError("the two copies of the prefilled database differ in schema")
        before = _max_position(store_db)
        os.sync()  # settle the copies' dirty pages before either side is timed
        store_s = asyncio.run(_ingest(store_db, batches))
        columns, rows = _rows_after(store_db, before)
        if len(rows) != NEW_EVENTS:
            raise AssertionError(f"the store kept {len(rows):,} of {NEW_EVENTS:,} new events")
        plain_s = plain.insert_seconds(plain_db, columns, rows, BATCH)
    mean_body = sum(len(r[columns.index("body")]) for r in rows) / len(rows)
    print(f"ingest: {NEW_EVENTS:,} events (mean body {mean_body:,.0f} B) onto {first:,}: "
          f"store {store_s:.2f} s, plain executemany {plain_s:.2f} s")
    return [Figure("ingest_sqlite_events_per_s", NEW_EVENTS / store_s, "events/s", NEW_EVENTS / plain_s,
                   goal=50_000, min_ratio=0.6)]
