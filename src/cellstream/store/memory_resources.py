"""In-memory ResourceStore: the reference for the SQLite one (the contract suite runs both).

Records are kept encoded, as the SQL store keeps them, so a caller can never mutate stored state through a
returned object. A transaction writes through and keeps an undo log; a failure (in the work or in the
event append) restores every touched entry.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import msgspec

from cellstream.clock import Clock
from cellstream.errors import Conflict
from cellstream.events.model import Event
from cellstream.store.memory import MemoryEventStore
from cellstream.store.resources import Committed, ReadOnly, Record, StoredUsage, encode_usage, has_keys

R = TypeVar("R", bound=Record)
T = TypeVar("T")
Slot = tuple[str, Any]  # ("doc", (kind, id)) | ("key", (kind, name, value)) | ("seq", kind)


class MemoryResourceStore:
    def __init__(self, events: MemoryEventStore, clock: Clock) -> None:
        self._events = events
        self._clock = clock
        self._docs: dict[tuple[str, int], bytes] = {}
        self._ids_of_kind: dict[str, set[int]] = {}  # so a scan does not walk every record of every kind
        self._keys: dict[tuple[str, str, str], int] = {}
        self._seq: dict[str, int] = {}
        self._usage: list[StoredUsage] = []
        self._lock = asyncio.Lock()

    async def transact(self, work: Callable[[MemoryTx], T]) -> Committed[T]:
        async with self._lock:
            tx = MemoryTx(self, self._clock.now_ms(), writable=True)
            try:
                value = work(tx)
                appended = await self._events.append(tx.events)
            except BaseException:
                tx.undo()
                raise
            start = self._usage[-1].position if self._usage else 0
            usage = [StoredUsage(start + n, org, encode_usage(start + n, record), self._clock.now_ms())
                     for n, (org, record) in enumerate(tx.usage, start=1)]
            self._usage.extend(usage)
            return Committed(value, appended, usage)

    async def view(self, work: Callable[[MemoryTx], T]) -> T:
        async with self._lock:
            return work(MemoryTx(self, self._clock.now_ms(), writable=False))

    async def usage_after(self, position: int, limit: int, *, org_id: int | None = None) -> list[StoredUsage]:
        start = bisect.bisect_right(self._usage, position, key=lambda u: u.position)
        found = (u for u in self._usage[start:] if org_id is None or u.org_id == org_id)
        return list(itertools.islice(found, limit))

    async def usage_last_position(self) -> int:
        return self._usage[-1].position if self._usage else 0

    async def usage_position_before(self, stored_ms: int) -> int:
        index = bisect.bisect_left(self._usage, stored_ms, key=lambda u: u.stored_ms)
        if index < len(self._usage):
            return self._usage[index].position - 1
        return self._usage[-1].position if self._usage else 0

    async def usage_count_after(self, position: int, *, org_id: int) -> int:
        start = bisect.bisect_right(self._usage, position, key=lambda u: u.position)
        return sum(1 for u in self._usage[start:] if u.org_id == org_id)


class MemoryTx:
    def __init__(self, store: MemoryResourceStore, now_ms: int, *, writable: bool) -> None:
        self._store = store
        self._now_ms = now_ms
        self._writable = writable
        self._undo: dict[Slot, Any] = {}
        self.events: list[Event] = []
        self.usage: list[tuple[int, Mapping[str, Any]]] = []

    @property
    def now_ms(self) -> int:
        return self._now_ms

    def get(self, cls: type[R], record_id: int) -> R | None:
        doc = self._store._docs.get((cls.KIND, record_id))
        return None if doc is None else msgspec.json.decode(doc, type=cls)

    def find(self, cls: type[R], key: str, value: str) -> R | None:
        record_id = self._store._keys.get((cls.KIND, key, value))
        return None if record_id is None else self.get(cls, record_id)

    def scan(self, cls: type[R], org_id: int | None) -> list[R]:
        docs = self._store._docs
        found = (msgspec.json.decode(docs[(cls.KIND, i)], type=cls)
                 for i in sorted(self._store._ids_of_kind.get(cls.KIND, ())))
        return [r for r in found if r.org_id == org_id]

    def preload(self, cls: type[R], ids: Iterable[int]) -> None:
        return None  # every record is at hand already

    def preload_keys(self, cls: type[R], key: str, values: Iterable[str]) -> None:
        return None

    def put(self, record: Record) -> None:
        self._check_writable()
        kind = record.KIND
        if has_keys(type(record)):  # a kind without unique_keys never holds any: nothing to check or move
            old = self.get(type(record), record.id)
            for name, value in record.unique_keys().items():
                holder = self._store._keys.get((kind, name, value))
                if holder is not None and holder != record.id:
                    raise Conflict(f"{kind} {name} {value} is already in use")
            if old is not None:
                for name, value in old.unique_keys().items():
                    self._set(("key", (kind, name, value)), None)
            for name, value in record.unique_keys().items():
                self._set(("key", (kind, name, value)), record.id)
        self._set(("doc", (kind, record.id)), msgspec.json.encode(record))
        if record.id > self._store._seq.get(kind, 0):
            self._set(("seq", kind), record.id)

    def delete(self, cls: type[Record], record_id: int) -> None:
        self._check_writable()
        if (cls.KIND, record_id) not in self._store._docs:
            return
        if has_keys(cls):
            old = self.get(cls, record_id)
            for name, value in old.unique_keys().items() if old is not None else ():
                self._set(("key", (cls.KIND, name, value)), None)
        self._set(("doc", (cls.KIND, record_id)), None)

    def next_id(self, cls: type[Record]) -> int:
        self._check_writable()
        value = self._store._seq.get(cls.KIND, 0) + 1
        self._set(("seq", cls.KIND), value)
        return value

    def emit(self, event: Event) -> None:
        self._check_writable()
        self.events.append(event)

    def record_usage(self, org_id: int, record: Mapping[str, Any]) -> None:
        self._check_writable()
        self.usage.append((org_id, record))

    def undo(self) -> None:
        for slot, value in self._undo.items():
            self._write(slot, value)

    def _check_writable(self) -> None:
        if not self._writable:
            raise ReadOnly("a view cannot change resources")

    def _table(self, area: str) -> dict[Any, Any]:
        tables: dict[str, dict[Any, Any]] = {"doc": self._store._docs, "key": self._store._keys,
                                             "seq": self._store._seq}
        return tables[area]

    def _set(self, slot: Slot, value: Any) -> None:
        if slot not in self._undo:
            self._undo[slot] = self._table(slot[0]).get(slot[1])
        self._write(slot, value)

    def _write(self, slot: Slot, value: Any) -> None:
        table = self._table(slot[0])
        if value is None:
            table.pop(slot[1], None)
        else:
            table[slot[1]] = value
        if slot[0] == "doc":
            kind, record_id = slot[1]
            ids = self._store._ids_of_kind.setdefault(kind, set())
            if value is None:
                ids.discard(record_id)
            else:
                ids.add(record_id)
