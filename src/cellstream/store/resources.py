"""The port for the connectivity domain's resources (SIMs, endpoints, profiles, quotas …) and the unit of
work that changes them together with the events the change emits.

A domain operation is a plain synchronous function of a `ResourceTx`: it reads what it needs, decides,
writes records and emits events. `ResourceStore.transact` runs it inside one database transaction and
appends the emitted events in that same transaction, so a change is never stored without its event nor
an event without its change; two operations never interleave (SQLite: the writer thread; memory: a lock),
so read-decide-write needs no optimistic retries. Operations must not block or await: they run on the
writer thread (or under the memory store's lock).

Records are msgspec Structs named by a `KIND` and stored as JSON documents; `unique_keys` names the values
(ICCID, IMSI, MSISDN, batch code …) that identify a record of its kind across all organisations and can be
looked up with `ResourceTx.find`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import msgspec

from cellstream.errors import NotFound
from cellstream.events.model import Event
from cellstream.store.protocols import AppendResult


class Record(msgspec.Struct, kw_only=True):
    KIND: ClassVar[str]
    id: int
    org_id: int | None = None  # None: held by the platform operator (e.g. SIMs not yet registered)

    def unique_keys(self) -> Mapping[str, str]:
        return {}


R = TypeVar("R", bound=Record)
T = TypeVar("T")


def has_keys(cls: type[Record]) -> bool:
    """Whether records of `cls` can have unique keys at all: its class defines `unique_keys` (a kind is one
    class, so records of a kind whose class does not never hold a key)."""
    return cls.unique_keys is not Record.unique_keys


class ResourceTx(Protocol):
    """One transaction's view of the resources; writes and events become visible at commit only."""

    @property
    def now_ms(self) -> int: ...

    def get(self, cls: type[R], record_id: int) -> R | None: ...

    def find(self, cls: type[R], key: str, value: str) -> R | None:
        """The record of `cls` whose unique key `key` is `value`."""
        ...

    def scan(self, cls: type[R], org_id: int | None) -> list[R]:
        """Every record of `cls` of the organisation (None: the platform's own), in id order."""
        ...

    def preload(self, cls: type[R], ids: Iterable[int]) -> None:
        """A hint that records of `cls` with these ids are about to be read: a store may fetch them
        together (SQLite: one statement for all). Changes nothing a transaction can see or store."""
        ...

    def preload_keys(self, cls: type[R], key: str, values: Iterable[str]) -> None:
        """`preload` for the records `find(cls, key, value)` will look up, for each of `values`."""
        ...

    def put(self, record: Record) -> None:
        """Insert or replace; Conflict if a unique key belongs to another record of the kind."""
        ...

    def delete(self, cls: type[Record], record_id: int) -> None: ...

    def next_id(self, cls: type[Record]) -> int:
        """A fresh id for a record of `cls` (ids only grow; a rolled-back transaction may skip some)."""
        ...

    def emit(self, event: Event) -> None:
        """Store `event` with the transaction's changes (appended in emit order at commit)."""
        ...

    def record_usage(self, org_id: int, record: Mapping[str, Any]) -> None:
        """Append a usage record (facts §E.5) to the usage log at commit; its `id` is its position."""
        ...


class StoredUsage(msgspec.Struct, frozen=True):
    """A usage record in the usage log: position in commit order (also the record's `id`), its JSON."""

    position: int
    org_id: int
    body: bytes
    stored_ms: int


@dataclass(frozen=True)
class Committed(Generic[T]):
    value: T
    appended: AppendResult
    usage: list[StoredUsage] = field(default_factory=list)


class ResourceStore(Protocol):
    async def transact(self, work: Callable[[ResourceTx], T]) -> Committed[T]:
        """Run `work` in one transaction with its events; nothing is stored if it raises."""
        ...

    async def view(self, work: Callable[[ResourceTx], T]) -> T:
        """Run `work` on a consistent snapshot; it must not write or emit."""
        ...

    async def usage_after(self, position: int, limit: int, *, org_id: int | None = None) -> list[StoredUsage]:
        """Usage records after `position` in log order (of one organisation, or all)."""
        ...

    async def usage_last_position(self) -> int: ...

    async def usage_position_before(self, stored_ms: int) -> int:
        """As EventStore.position_before, over the usage log."""
        ...

    async def usage_count_after(self, position: int, *, org_id: int) -> int: ...


def owned(tx: ResourceTx, cls: type[R], key: str, value: str, org_id: int, what: str) -> R:
    """The record of `cls` whose unique key `key` is `value`, if it belongs to organisation `org_id`;
    NotFound naming `what` otherwise (another organisation's record is as absent as a missing one)."""
    found = tx.find(cls, key, value)
    if found is None or found.org_id != org_id:
        raise NotFound(f"{what} {value} not found")
    return found


def encode_usage(position: int, record: Mapping[str, Any]) -> bytes:
    """The stored JSON of a usage record: its `id` (= position) first, then the record as given."""
    return msgspec.json.encode({"id": position, **{k: v for k, v in record.items() if k != "id"}})


class ReadOnly(Exception):
    """A view tried to write."""
