"""The raw baseline of the store benchmarks: rows inserted with plain `sqlite3.executemany`, with the PRAGMAs
the SQLite store gives its writer connection (cellstream.store.sql.sqlite_db.connect): WAL,
synchronous=NORMAL, half of the default 256 MB page cache."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WRITER_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA cache_size=-131072",
                  "PRAGMA temp_store=MEMORY", "PRAGMA foreign_keys=ON")


def insert_seconds(path: Path, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], per_transaction: int,
                   ddl: Sequence[str] = ()) -> float:
    """Seconds to insert `rows` into `events` of the file at `path` (after running `ddl`, untimed), one
    BEGIN IMMEDIATE … COMMIT per `per_transaction` rows."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in (*WRITER_PRAGMAS, *ddl):
            con.execute(statement)
        sql = f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        started = time.perf_counter()
        for start in range(0, len(rows), per_transaction):
            con.execute("BEGIN IMMEDIATE")
            con.executemany(sql, rows[start:start + per_transaction])
            con.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        con.close()
