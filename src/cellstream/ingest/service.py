"""The ingest path shared by the CLI, the internal HTTP endpoint and Cellstream's own producers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cellstream.clock import Clock
from cellstream.errors import FieldProblem, InvalidInput, Unprocessable
from cellstream.events.codec import decode_event
from cellstream.events.model import Event
from cellstream.ingest.notifier import Notifier
from cellstream.store.protocols import AppendResult, EventStore

MAX_REPORTED_PROBLEMS = 20


def decode_all(documents: Iterable[tuple[str, Any]], *, now_ms: int) -> list[Event]:
    """Validate every document; if any is invalid raise one Unprocessable listing (up to 20) problems."""
    events: list[Event] = []
    problems: list[FieldProblem] = []
    for where, raw in documents:
        try:
            events.append(decode_event(raw, where, now_ms=now_ms))
        except InvalidInput as exc:
            problems.extend(exc.problems)
            if len(problems) >= MAX_REPORTED_PROBLEMS:
                break
    if problems:
        raise Unprocessable(problems[:MAX_REPORTED_PROBLEMS])
    return events


class Ingestor:
    """Append a validated batch atomically, then hand it to subscribers."""

    def __init__(self, store: EventStore, notifier: Notifier, clock: Clock) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock

    async def ingest(self, events: Sequence[Event]) -> AppendResult:
        result = await self.store.append(events)
        await self.notifier.committed(result.stored)
        return result

    async def ingest_documents(self, documents: Iterable[tuple[str, Any]]) -> AppendResult:
        return await self.ingest(decode_all(documents, now_ms=self.clock.now_ms()))
