"""Searches over a log table (`events`, `usage_records`) whose rowid is the position and whose stored_ms
never decreases along positions: a stream replays from a time by finding the position there with a binary
search over the primary key (each probe one B-tree seek), so no index on stored time is needed."""

from __future__ import annotations

import sqlite3

_TABLES = frozenset({"events", "usage_records"})


def position_before(conn: sqlite3.Connection, table: str, stored_ms: int) -> int:
    """The highest position stored before `stored_ms` (one less than the first stored at or after it)."""
    assert table in _TABLES
    bounds = f"SELECT coalesce(min(position), 1), coalesce(max(position), 0) FROM {table}"
    lo, hi = conn.execute(bounds).fetchone()
    first_after = hi + 1  # the smallest position known to be stored at or after stored_ms
    probe = f"SELECT position, stored_ms FROM {table} WHERE position >= ? ORDER BY position LIMIT 1"
    while lo <= hi:
        mid = (lo + hi) // 2
        row = conn.execute(probe, (mid,)).fetchone()
        if row is None:
            hi = mid - 1
        elif row[1] >= stored_ms:
            first_after, hi = row[0], mid - 1
        else:
            lo = row[0] + 1
    return int(first_after) - 1


def count_after(conn: sqlite3.Connection, table: str, position: int, org_id: int) -> int:
    assert table in _TABLES
    row = conn.execute(f"SELECT count(*) FROM {table} WHERE position > ? AND org_id = ?",
                       (position, org_id)).fetchone()
    return int(row[0])
