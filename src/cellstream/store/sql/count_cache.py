"""Exact counts kept up to date incrementally, so X-Total-Count stays cheap on every list request.

An entry remembers, for one (organisation, scope, filter) — not the sort, which does not change a count —
the count as of a log position and the deletion epoch it was taken under. Positions only grow and are
gap-free in commit order, so the rows a later snapshot adds are exactly those with a higher position: a hit
counts only those (a primary-key range) and moves the entry forward. Deleting rows (retention) bumps the
epoch in the same transaction, so an entry from before a deletion is never used again. Both the epoch and
the position are read in the same statement as the count, i.e. from the same snapshot, which keeps the
answer exact even when another process writes the file.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from cellstream.events.query import Condition, EventQuery

CountKey = tuple[int, tuple[str, int] | None, tuple[Condition, ...]]


@dataclass(frozen=True)
class CachedCount:
    count: int
    position: int  # the count includes every matching row with position <= this
    epoch: int  # the deletion epoch the count was taken under


def count_key(query: EventQuery) -> CountKey:
    """What the query selects, not how it orders it. The conditions themselves (hashable), not the `q`
    text, so a filter built in code without text never shares an entry with another."""
    return query.org_id, query.scope, query.filter.conditions


class CountCache:
    """A bounded LRU of CachedCount. Used from the event loop only (no locking needed)."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[CountKey, CachedCount] = OrderedDict()

    def get(self, key: CountKey) -> CachedCount | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: CountKey, entry: CachedCount) -> None:
        known = self._entries.get(key)
        if known is not None and (known.epoch, known.position) > (entry.epoch, entry.position):
            return  # a concurrent request already stored a newer count
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
