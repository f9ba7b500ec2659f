"""One data stream's delivery loop: cursor → read → filter → batch → deliver → advance the cursor.

At-least-once, in log order: the cursor moves only in the transaction that follows the destination's
acknowledgement, so a crash between delivery and that commit redelivers at most the one batch in flight
(the `webhook-id` of a batch stays the same, so receivers can drop the repeat). Records the filter skips
move the cursor too, with the next acknowledged batch or, when nothing matches for a while, on their own.

Failures: each failed attempt is counted and retried after `retry_delay_s` (exponential, jittered,
honouring Retry-After). A stream failing for longer than the failure budget, or failing permanently (a
misconfiguration such as a 404), goes to status Error and keeps probing every `probe_interval_s`; the first
success puts it back to Running. Time and sleep are injected, so tests drive hours of failure in
milliseconds.

Backlog older than the stream retention (7 days by default) is dropped when the stream reaches it, and
counted in `dropped`, which `GET …/stats` shows.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cellstream.clock import Clock
from cellstream.events.columns import columns_of
from cellstream.ingest.notifier import Notifier
from cellstream.store.protocols import EventStore, LogEntry
from cellstream.store.resources import ResourceStore, ResourceTx
from cellstream.streamer.backoff import retry_delay_s
from cellstream.streamer.filters import compile_filters
from cellstream.streamer.model import ERROR, EVENTS, PENDING, RUNNING, DataStream, StreamCursor
from cellstream.streamer.sinks.base import Batch, DeliveryFailed, Sink, SinkSettings

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]
OpenSink = Callable[[DataStream, SinkSettings, list[str]], Sink]
READ_CHUNK = 1000
IDLE_WAIT_S = 1.0  # longest wait for news before looking again (usage records, missed wake-ups)
SKIP_SAVE_EVERY = 10_000  # rows skipped by the filter before the cursor moves on its own


@dataclass
class EngineConfig:
    retention_ms: int = 7 * 86_400_000
    failure_budget_ms: int = 300_000
    probe_interval_s: float = 60.0
    backoff_max_s: float = 30.0
    sink_settings: SinkSettings = field(default_factory=SinkSettings)


class StreamWorker:
    def __init__(self, stream: DataStream, *, events: EventStore, resources: ResourceStore,
                 notifier: Notifier, clock: Clock, open_sink: OpenSink, config: EngineConfig,
                 sleep: Sleep = asyncio.sleep, rng: random.Random | None = None) -> None:
        self.stream = stream
        self._events, self._resources, self._notifier = events, resources, notifier
        self._clock, self._sleep, self._rng = clock, sleep, rng or random.Random()
        self._open_sink, self._config = open_sink, config
        self._predicate = compile_filters(stream.filters, stream.type_id)
        self._pending: list[LogEntry] = []
        self._read_position = 0  # the last position read from the log
        self._attempt = 0  # consecutive failed attempts of the current batch

    async def run(self) -> None:
        sink = self._open_sink(self.stream, self._config.sink_settings,
                               self.stream.secrets_at(self._clock.now_ms()))
        try:
            cursor = await self._start()
            self._read_position = cursor.position
            await self._loop(sink)
        finally:
            await sink.close()

    async def _start(self) -> StreamCursor:
        stream_id = self.stream.id

        def work(tx: ResourceTx) -> StreamCursor:
            stream = tx.get(DataStream, stream_id)
            if stream is not None and stream.status_id == PENDING:
                stream.status_id = RUNNING
                tx.put(stream)
            return tx.get(StreamCursor, stream_id) or StreamCursor(id=stream_id, org_id=self.stream.org_id)

        return (await self._resources.transact(work)).value

    async def _loop(self, sink: Sink) -> None:
        skipped_since_save = 0
        while True:
            generation = self._notifier.generation
            before = self._read_position
            if len(self._pending) < sink.max_batch:
                await self._fill()
            if not self._pending:
                skipped_since_save += self._read_position - before
                if skipped_since_save >= SKIP_SAVE_EVERY:
                    await self._save_skip(self._read_position)
                    skipped_since_save = 0
                if self._read_position == before:
                    await self._notifier.wait_for_news(generation, IDLE_WAIT_S)
                continue
            if sink.linger_ms and len(self._pending) < sink.max_batch:
                waited = self._clock.now_ms() - self._pending[0].stored_ms
                if waited < sink.linger_ms:  # hold the partial batch until it fills or its oldest is due
                    await self._notifier.wait_for_news(generation, (sink.linger_ms - waited) / 1000)
                    continue
            await self._deliver_one(sink)
            skipped_since_save = 0

    async def _fill(self) -> None:
        """Read the next chunk of the organisation's log after the read position into `pending`."""
        org, after = self.stream.org_id, self._read_position
        assert org is not None
        predicate = self._predicate
        if self.stream.type_id == EVENTS and predicate is not None:
            rows = await self._events.read_after(after, READ_CHUNK, org_id=org)
            new = [LogEntry(r.position, org, r.body, r.stored_ms) for r in rows
                   if predicate(columns_of(r.event))]
            last = rows[-1].position if rows else after
        elif self.stream.type_id == EVENTS:  # nothing to filter: the stored JSON is passed on undecoded
            new = await self._events.bodies_after(after, READ_CHUNK, org_id=org)
            last = new[-1].position if new else after
        else:
            usage = await self._resources.usage_after(after, READ_CHUNK, org_id=org)
            new = [LogEntry(u.position, u.org_id, u.body, u.stored_ms) for u in usage]
            last = usage[-1].position if usage else after
        horizon = self._clock.now_ms() - self._config.retention_ms
        if new and new[0].stored_ms < horizon:
            kept = [p for p in new if p.stored_ms >= horizon]
            await self._drop(len(new) - len(kept), (kept[0].position - 1) if kept else last)
            new = kept
        self._pending.extend(new)
        self._read_position = last

    async def _drop(self, count: int, position: int) -> None:
        log.warning("data stream %s: dropped %d records older than the stream retention",
                    self.stream.stream_id, count)

        def work(cursor: StreamCursor, now_ms: int) -> None:
            cursor.dropped += count
            cursor.dropped_ms = now_ms
            cursor.position = max(cursor.position, position)

        await self._update(work)

    async def _save_skip(self, position: int) -> None:
        def work(cursor: StreamCursor, now_ms: int) -> None:
            cursor.position = max(cursor.position, position)

        await self._update(work)

    async def _deliver_one(self, sink: Sink) -> None:
        chunk = self._pending[:sink.max_batch]
        batch = Batch(self.stream.stream_id, self.stream.org_id or 0,
                      "events" if self.stream.type_id == EVENTS else "usage",
                      [p.body for p in chunk], chunk[0].position, chunk[-1].position)
        try:
            await sink.deliver(batch)
        except DeliveryFailed as failure:
            await self._failed(failure)
            return
        rest = self._pending[len(chunk):]
        position = rest[0].position - 1 if rest else self._read_position
        newest = chunk[-1].stored_ms

        def work(cursor: StreamCursor, now_ms: int) -> None:
            cursor.position = max(cursor.position, position)
            cursor.delivered += len(chunk)
            cursor.batches += 1
            cursor.failing_since_ms = None
            cursor.last_delivery_ms = now_ms
            cursor.last_latency_ms = max(0, now_ms - newest)

        await self._update(work, status=RUNNING)
        self._pending = rest
        self._attempt = 0

    async def _failed(self, failure: DeliveryFailed) -> None:
        self._attempt += 1
        budget = self._config.failure_budget_ms
        went_error = False

        def work(cursor: StreamCursor, now_ms: int) -> None:
            nonlocal went_error
            cursor.failed_attempts += 1
            cursor.failing_since_ms = cursor.failing_since_ms or now_ms
            cursor.last_error, cursor.last_error_status = failure.message, failure.status
            cursor.last_error_ms = now_ms
            went_error = failure.permanent or now_ms - cursor.failing_since_ms >= budget

        await self._update(work)
        if went_error:
            await self._update(lambda cursor, now_ms: None, status=ERROR)
        log.info("data stream %s: attempt %d failed: %s", self.stream.stream_id, self._attempt,
                 failure.message)
        if went_error:
            delay = max(self._config.probe_interval_s, failure.retry_after_s or 0.0)
        else:
            delay = retry_delay_s(self._attempt, cap_s=self._config.backoff_max_s,
                                  retry_after_s=failure.retry_after_s, rng=self._rng)
        await self._sleep(delay)

    async def _update(self, change: Callable[[StreamCursor, int], None], status: int | None = None) -> None:
        """Change the cursor (and, when given, move the stream from Running/Error to `status`) in one
        transaction; a stream deleted meanwhile is left alone (its worker is being stopped)."""
        stream_id, org = self.stream.id, self.stream.org_id

        def work(tx: ResourceTx) -> None:
            stream = tx.get(DataStream, stream_id)
            if stream is None:
                return
            cursor = tx.get(StreamCursor, stream_id) or StreamCursor(id=stream_id, org_id=org)
            change(cursor, tx.now_ms)
            tx.put(cursor)
            if status is not None and stream.status_id in (RUNNING, ERROR) and stream.status_id != status:
                stream.status_id = status
                tx.put(stream)

        await self._resources.transact(work)
